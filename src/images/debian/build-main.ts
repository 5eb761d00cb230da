/**
 * CLI: build (or reuse) the built-in `debian-12` image.
 *
 *   node dist/images/debian/build-main.js [--cache-dir DIR] [--force]
 *
 * Progress goes to stderr; the manifest path is printed on stdout.
 * Default cache dir: $HANGAR_CACHE_DIR or /var/cache/hangar.
 */
import { defaultCacheDir } from '../tiny/build.js';
import { buildDebianImage, debianManifestPath } from './build.js';

const USAGE = `usage: build-main [--cache-dir DIR] [--force]

Builds Hangar's built-in image "debian-12" (Debian 12 with systemd, cloud-init,
qemu-guest-agent and openssh-server on a BIOS-bootable qcow2 disk) into
DIR/images/debian-12, or reuses it if already built. DIR defaults to $HANGAR_CACHE_DIR or
/var/cache/hangar. Runs as root; needs debootstrap, e2fsprogs, grub-common, grub-pc-bin
and qemu-utils, and the Debian mirror the host's apt uses (override it with
HANGAR_DEBIAN_MIRROR=http://...). The first build takes minutes; downloaded packages are
kept in DIR/debootstrap for rebuilds.
`;

function parseArgs(argv: string[]): { cacheDir: string; force: boolean; help: boolean } {
  let cacheDir = defaultCacheDir();
  let force = false;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--force' || a === '-f') force = true;
    else if (a === '--help' || a === '-h') help = true;
    else if (a === '--cache-dir') {
      const v = argv[++i];
      if (v === undefined || v === '') throw new Error('--cache-dir needs a value');
      cacheDir = v;
    } else if (a.startsWith('--cache-dir=')) {
      cacheDir = a.slice('--cache-dir='.length);
      if (cacheDir === '') throw new Error('--cache-dir needs a value');
    } else throw new Error(`unknown argument: ${a}`);
  }
  return { cacheDir, force, help };
}

async function main(): Promise<number> {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const started = Date.now();
  const manifest = await buildDebianImage(args.cacheDir, {
    force: args.force,
    onProgress: (msg) => process.stderr.write(`debian-12: ${msg}\n`),
  });
  process.stderr.write(
    `debian-12: kernel ${manifest.kernelVersion}, ${(manifest.fileSizeBytes / 2 ** 20).toFixed(0)} MiB qcow2 ` +
      `(${(manifest.virtualSizeBytes / 2 ** 30).toFixed(1)} GiB virtual), built ${manifest.builtAt} ` +
      `(${((Date.now() - started) / 1000).toFixed(1)} s)\n`,
  );
  process.stdout.write(`${debianManifestPath(args.cacheDir)}\n`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`debian-12: build failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
