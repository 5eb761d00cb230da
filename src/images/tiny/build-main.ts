/**
 * CLI: build (or reuse) the `tiny` starter image.
 *
 *   node dist/images/tiny/build-main.js [--cache-dir DIR] [--force]
 *
 * Progress goes to stderr; the manifest path is printed on stdout.
 * Default cache dir: $HANGAR_CACHE_DIR or /var/cache/hangar.
 */
import { buildTinyImage, defaultCacheDir, tinyManifestPath } from './build.js';

const USAGE = `usage: build-main [--cache-dir DIR] [--force]

Builds Hangar's starter image "tiny" (Debian cloud kernel + busybox initramfs) into
DIR/images/tiny, or reuses it if already built. DIR defaults to $HANGAR_CACHE_DIR or
/var/cache/hangar. Needs apt-get, apt-cache and dpkg-deb, and access to a Debian mirror.
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
  // A closed pipe on the progress/result streams (e.g. `| head`) must not kill a build midway.
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);
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
  const manifest = await buildTinyImage(args.cacheDir, {
    force: args.force,
    onProgress: (msg) => process.stderr.write(`tiny: ${msg}\n`),
  });
  process.stderr.write(
    `tiny: kernel ${manifest.kernelVersion}, built ${manifest.builtAt} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`,
  );
  process.stdout.write(`${tinyManifestPath(args.cacheDir)}\n`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`tiny: build failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
