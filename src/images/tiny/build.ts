/**
 * Builds the built-in starter image `tiny`: Debian's cloud kernel plus a busybox initramfs
 * (see guest.ts for what runs inside). Everything comes from Debian packages fetched with
 * `apt-get download` and unpacked with `dpkg-deb -x`; nothing is installed on the host.
 *
 * The result lives in `${cacheDir}/images/tiny` (vmlinuz, initrd.img, manifest.json). It is
 * built in a private staging directory next to it and renamed into place, so a half-built
 * image is never visible. A lock file avoids two processes downloading at the same time;
 * correctness does not depend on it (the final rename is atomic and never replaces a
 * complete image with a partial one).
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { gunzipSync, gzipSync, constants as zlibConstants } from 'node:zlib';
import type { BuildContext, BuildImageOptions } from '../build-common.js';
import { buildDirs, imageDir, MANIFEST_FILE, manifestPath, nonEmptyFile, publish, readManifest, reuseOrBuild, writeFileSynced } from '../build-common.js';
import { CpioArchive } from './cpio.js';
import { guestFiles, TINY_CMDLINE, type GuestModule } from './guest.js';
import { normalizeModuleName, orderModules, readModuleInfo } from './modinfo.js';
import { runChecked, type RunResult } from '../../util/run.js';

export interface TinyImageManifest {
  name: 'tiny';
  kind: 'kernel';
  /** Absolute path of the kernel (bzImage). */
  kernel: string;
  /** Absolute path of the initramfs (gzip-compressed newc cpio). */
  initrd: string;
  cmdline: string;
  kernelVersion: string;
  /** ISO 8601 time of the build. */
  builtAt: string;
  description: string;
}

/** Bumped whenever the build recipe changes, so older cached images are rebuilt. */
const RECIPE_VERSION = 3;

const KERNEL_METAPACKAGE = 'linux-image-cloud-amd64';
const BUSYBOX_PACKAGE = 'busybox-static';
/**
 * The bzImage as shipped by Debian. (An uncompressed PVH `vmlinux` boots about 0.3 s faster
 * under TCG, but OVMF cannot start a PVH kernel, so the image keeps the bzImage.)
 */
const KERNEL_FILE = 'vmlinuz';
const INITRD_FILE = 'initrd.img';
const LOCK_WAIT_MS = 20 * 60_000;
const LOCK_STALE_MS = 30 * 60_000;

/**
 * Modules the guest loads (plus their dependencies, resolved from .modinfo).
 * `required: false` ones are skipped with a note if this kernel does not have them.
 */
const WANTED_MODULES: Array<{ name: string; required: boolean }> = [
  { name: 'virtio_pci', required: true }, // the virtio PCI transport (virtio, virtio_ring, ...)
  { name: 'virtio_net', required: true }, // NIC (+ net_failover, failover)
  { name: 'virtio_blk', required: true },
  { name: 'virtio_console', required: true },
  { name: 'virtio_rng', required: true },
  { name: 'virtio_balloon', required: true },
  { name: 'virtio_scsi', required: false },
  { name: 'sd_mod', required: false }, // disks behind virtio-scsi
  { name: 'virtio_input', required: false },
  { name: 'virtiofs', required: false }, // virtiofs shared folders (+ fuse); recipe 2
  { name: 'button', required: true }, // ACPI power button -> input event
  { name: 'evdev', required: true }, // /dev/input/event* for acpid
  { name: 'efivarfs', required: false }, // EFI variables under UEFI (/sys/firmware/efi/efivars); recipe 2
];

// Re-exported: callers have long imported it from here.
export { defaultCacheDir } from '../build-common.js';

export function tinyImageDir(cacheDir: string): string {
  return imageDir(cacheDir, 'tiny');
}

export function tinyManifestPath(cacheDir: string): string {
  return manifestPath(cacheDir, 'tiny');
}

/** The cached image, or undefined if it is missing, incomplete or from an older recipe. */
export async function readTinyImage(cacheDir: string): Promise<TinyImageManifest | undefined> {
  const dir = tinyImageDir(cacheDir);
  const raw = await readManifest(dir, 'tiny', RECIPE_VERSION);
  if (!raw || raw['kind'] !== 'kernel') return undefined;
  const { cmdline, kernelVersion, builtAt, description } = raw;
  if (typeof cmdline !== 'string' || typeof kernelVersion !== 'string') return undefined;
  if (typeof builtAt !== 'string' || typeof description !== 'string') return undefined;
  // Paths are derived from where the image is now, so a moved cache dir still works.
  const kernel = path.join(dir, KERNEL_FILE);
  const initrd = path.join(dir, INITRD_FILE);
  if (!(await nonEmptyFile(kernel)) || !(await nonEmptyFile(initrd))) return undefined;
  return { name: 'tiny', kind: 'kernel', kernel, initrd, cmdline, kernelVersion, builtAt, description };
}

export type BuildTinyImageOptions = BuildImageOptions;

/**
 * Return the cached `tiny` image, building it first if needed (or if `force`).
 * Safe to call concurrently from several processes.
 */
export async function buildTinyImage(cacheDir: string, opts: BuildTinyImageOptions = {}): Promise<TinyImageManifest> {
  return reuseOrBuild(cacheDir, opts, {
    imageName: 'tiny',
    readCached: readTinyImage,
    lock: {
      waitMs: LOCK_WAIT_MS,
      staleMs: LOCK_STALE_MS,
      pollMs: 250,
      waitingMessage: (pid) => `waiting for another tiny image build (pid ${pid})`,
      staleMessage: (pid, file) => `removing stale lock ${file} (pid ${pid})`,
    },
    build: buildLocked,
  });
}

async function buildLocked({ cacheDir, imagesDir, progress, force }: BuildContext): Promise<TinyImageManifest> {
  const dirs = buildDirs(imagesDir, 'tiny');
  const { work, staging, finalDir } = dirs;
  await fs.mkdir(work, { recursive: true });
  await fs.mkdir(staging, { recursive: true });
  try {
    const debs = path.join(work, 'debs');
    await fs.mkdir(debs);
    const kernelPkg = await fetchPackages(debs, progress);
    const kernelDeb = await findDeb(debs, kernelPkg);
    const busyboxDeb = await findDeb(debs, BUSYBOX_PACKAGE);

    const kroot = path.join(work, 'kernel');
    const broot = path.join(work, 'busybox');
    progress(`extracting ${path.basename(kernelDeb)}`);
    await run('dpkg-deb', ['-x', kernelDeb, kroot]);
    await run('dpkg-deb', ['-x', busyboxDeb, broot]);

    const kernelVersion = await findKernelVersion(kroot);
    const vmlinuz = path.join(kroot, 'boot', `vmlinuz-${kernelVersion}`);
    if (!(await nonEmptyFile(vmlinuz))) throw new Error(`${kernelPkg} has no boot/vmlinuz-${kernelVersion}`);
    const busybox = await firstExisting([path.join(broot, 'bin', 'busybox'), path.join(broot, 'usr', 'bin', 'busybox')]);
    if (!busybox) throw new Error(`${BUSYBOX_PACKAGE} has no bin/busybox`);

    progress(`resolving kernel modules for ${kernelVersion}`);
    const modules = await collectModules(kroot, kernelVersion, progress);
    progress(`modules: ${modules.map((m) => m.name).join(' ')}`);

    const initrd = await buildInitramfs({ busybox: await fs.readFile(busybox), kernelVersion, modules });
    progress(`initramfs: ${(initrd.length / 1024).toFixed(0)} KiB compressed`);

    await fs.copyFile(vmlinuz, path.join(staging, KERNEL_FILE));
    await writeFileSynced(path.join(staging, INITRD_FILE), initrd);
    const builtAt = new Date().toISOString();
    const manifest: TinyImageManifest = {
      name: 'tiny',
      kind: 'kernel',
      kernel: path.join(finalDir, KERNEL_FILE),
      initrd: path.join(finalDir, INITRD_FILE),
      cmdline: TINY_CMDLINE,
      kernelVersion,
      builtAt,
      description:
        `Tiny busybox initramfs guest on Debian's cloud kernel ${kernelVersion}: virtio drivers, ` +
        `DHCP on eth0, root shell on ttyS0, prints HANGAR-GUEST-READY when up`,
    };
    const onDisk = {
      ...manifest,
      recipe: RECIPE_VERSION,
      kernelPackage: debVersionLabel(kernelDeb),
      busyboxPackage: debVersionLabel(busyboxDeb),
      modules: modules.map((m) => m.name),
    };
    await writeFileSynced(path.join(staging, MANIFEST_FILE), `${JSON.stringify(onDisk, null, 2)}\n`);

    await publish(dirs, { force, isCurrent: async () => (await readTinyImage(cacheDir)) !== undefined });
    const result = await readTinyImage(cacheDir);
    if (!result) throw new Error(`tiny image at ${finalDir} is not readable after the build`);
    progress(`tiny image ready: ${path.join(finalDir, MANIFEST_FILE)}`);
    return result;
  } finally {
    await fs.rm(work, { recursive: true, force: true });
    await fs.rm(staging, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------
// initramfs

async function buildInitramfs(opts: { busybox: Buffer; kernelVersion: string; modules: BuiltModule[] }): Promise<Buffer> {
  const a = new CpioArchive(Math.floor(Date.now() / 1000));
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'proc', 'sys', 'dev', 'run', 'tmp', 'root', 'var/log', 'var/run', 'mnt']) {
    a.dir(d, d === 'tmp' ? 0o1777 : d === 'root' ? 0o700 : 0o755);
  }
  // The kernel opens /dev/console for PID 1 before /init can mount devtmpfs.
  a.charDevice('dev/console', 5, 1, 0o600);
  a.file('bin/busybox', opts.busybox, 0o755);
  a.symlink('bin/sh', 'busybox');

  const moddir = `lib/modules/${opts.kernelVersion}`;
  const guestModules: GuestModule[] = [];
  const depLines: string[] = [];
  for (const m of opts.modules) {
    a.file(`${moddir}/${m.relPath}`, m.data, 0o644);
    guestModules.push({ name: m.name, path: `${moddir}/${m.relPath}` });
    depLines.push(`${m.relPath}: ${m.allDeps.join(' ')}`.trimEnd());
  }
  // For busybox modprobe/modinfo inside the guest (only the modules we ship).
  a.file(`${moddir}/modules.dep`, `${depLines.join('\n')}\n`, 0o644);

  for (const f of guestFiles({ kernelVersion: opts.kernelVersion, modules: guestModules })) {
    a.file(f.path, f.content, f.mode);
  }
  return gzipSync(a.toBuffer(), { level: zlibConstants.Z_BEST_COMPRESSION });
}

interface BuiltModule {
  name: string;
  /** Path relative to lib/modules/<ver>, always ending in .ko (decompressed). */
  relPath: string;
  data: Buffer;
  /** Transitive dependencies as relPaths, nearest first (modules.dep order). */
  allDeps: string[];
}

async function collectModules(kroot: string, kernelVersion: string, progress: (msg: string) => void): Promise<BuiltModule[]> {
  const modRoot = path.join(kroot, 'lib', 'modules', kernelVersion);
  const files = new Map<string, string>(); // module name -> path relative to modRoot
  for (const rel of await walk(modRoot, 'kernel')) {
    const m = /\/([^/]+)\.ko(\.(?:xz|zst|gz))?$/.exec(rel);
    if (m?.[1]) files.set(normalizeModuleName(m[1]), rel);
  }
  const builtin = new Set<string>();
  try {
    for (const line of (await fs.readFile(path.join(modRoot, 'modules.builtin'), 'utf8')).split('\n')) {
      const m = /([^/]+)\.ko$/.exec(line.trim());
      if (m?.[1]) builtin.add(normalizeModuleName(m[1]));
    }
  } catch {
    // no modules.builtin: treat nothing as built in
  }

  const data = new Map<string, Buffer>();
  const deps = new Map<string, string[]>();
  const load = async (name: string): Promise<string[] | undefined> => {
    const cached = deps.get(name);
    if (cached) return cached;
    const rel = files.get(name);
    if (!rel) return undefined;
    const buf = await readModuleFile(path.join(modRoot, rel));
    const info = readModuleInfo(buf);
    data.set(name, buf);
    deps.set(name, info.depends.map(normalizeModuleName));
    return deps.get(name);
  };

  const wanted: string[] = [];
  for (const w of WANTED_MODULES) {
    if (builtin.has(w.name)) continue;
    if (!files.has(w.name)) {
      if (w.required) throw new Error(`kernel ${kernelVersion} has no module ${w.name} (and it is not built in)`);
      progress(`note: kernel ${kernelVersion} has no module ${w.name}; skipped`);
      continue;
    }
    wanted.push(w.name);
  }
  // Resolve the dependency graph (async reads first, then the synchronous ordering).
  const pending = [...wanted];
  while (pending.length) {
    const n = pending.pop() as string;
    if (deps.has(n)) continue;
    const d = await load(n);
    if (d) pending.push(...d);
  }
  const order = orderModules(wanted, (n) => deps.get(n));

  const relOf = (n: string): string => (files.get(n) as string).replace(/\.ko\.(?:xz|zst|gz)$/, '.ko');
  const closure = (n: string, acc: string[] = []): string[] => {
    for (const d of deps.get(n) ?? []) {
      if (!acc.includes(d)) {
        acc.push(d);
        closure(d, acc);
      }
    }
    return acc;
  };
  return order.map((name) => ({
    name,
    relPath: relOf(name),
    data: data.get(name) as Buffer,
    allDeps: closure(name).map(relOf),
  }));
}

/** Read a .ko, decompressing .ko.gz (zlib), .ko.xz (xz) or .ko.zst (zstd) as needed. */
async function readModuleFile(file: string): Promise<Buffer> {
  if (file.endsWith('.ko')) return fs.readFile(file);
  if (file.endsWith('.ko.gz')) return gunzipSync(await fs.readFile(file));
  if (file.endsWith('.ko.xz')) return runBuffer('xz', ['-dc', '--', file]);
  if (file.endsWith('.ko.zst')) return runBuffer('zstd', ['-dcq', '--', file]);
  throw new Error(`unknown module file type: ${file}`);
}

async function walk(root: string, rel: string): Promise<string[]> {
  const out: string[] = [];
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fs.readdir(path.join(root, rel), { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const r = `${rel}/${e.name}`;
    if (e.isDirectory()) out.push(...(await walk(root, r)));
    else if (e.isFile()) out.push(r);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Debian packages

/**
 * Resolve the current cloud kernel from its metapackage and download it and busybox-static
 * into `dir`. If apt does not know the packages, or the download fails (stale package lists
 * point at versions the mirror no longer has), run `apt-get update` once and retry.
 * Returns the kernel package name.
 */
async function fetchPackages(dir: string, progress: (msg: string) => void): Promise<string> {
  let updated = false;
  const update = async (why: string): Promise<void> => {
    progress(`${why}; running apt-get update`);
    await run('apt-get', ['-q', 'update'], { timeoutMs: 10 * 60_000 });
    updated = true;
  };
  let pkg = await resolveKernelPackage();
  if (!pkg) {
    await update(`apt-cache does not know ${KERNEL_METAPACKAGE}`);
    pkg = await resolveKernelPackage();
  }
  if (!pkg) throw new Error(`cannot resolve ${KERNEL_METAPACKAGE} to a kernel package (is a Debian amd64 apt source configured?)`);
  progress(`downloading ${pkg} and ${BUSYBOX_PACKAGE}`);
  try {
    await aptDownload([pkg, BUSYBOX_PACKAGE], dir);
  } catch (err) {
    if (updated) throw err;
    await update(`download failed (${(err as Error).message.split('\n')[0]})`);
    for (const n of await fs.readdir(dir)) await fs.rm(path.join(dir, n), { force: true });
    const again = await resolveKernelPackage();
    if (!again) throw new Error(`cannot resolve ${KERNEL_METAPACKAGE} to a kernel package after apt-get update`);
    pkg = again;
    progress(`downloading ${pkg} and ${BUSYBOX_PACKAGE}`);
    await aptDownload([pkg, BUSYBOX_PACKAGE], dir);
  }
  return pkg;
}

/** `apt-cache depends --important linux-image-cloud-amd64` -> linux-image-<version>-cloud-amd64. */
async function resolveKernelPackage(): Promise<string | undefined> {
  let out: string;
  try {
    out = (await run('apt-cache', ['depends', '--important', KERNEL_METAPACKAGE])).stdout;
  } catch {
    return undefined;
  }
  for (const line of out.split('\n')) {
    const m = /^\s*\|?Depends:\s*(linux-image-\S+)\s*$/.exec(line);
    if (m?.[1] && m[1] !== KERNEL_METAPACKAGE) return m[1];
  }
  return undefined;
}

async function aptDownload(pkgs: string[], dir: string): Promise<void> {
  const args: string[] = [];
  // As root, apt drops to the _apt user for downloads, which cannot write to our dir.
  if (typeof process.getuid === 'function' && process.getuid() === 0) args.push('-o', 'APT::Sandbox::User=root');
  args.push('-q', 'download', ...pkgs);
  await run('apt-get', args, { cwd: dir, timeoutMs: 10 * 60_000 });
}

async function findDeb(dir: string, pkg: string): Promise<string> {
  const names = (await fs.readdir(dir)).filter((n) => n.startsWith(`${pkg}_`) && n.endsWith('.deb'));
  if (names.length !== 1 || !names[0]) throw new Error(`expected one ${pkg}_*.deb in ${dir}, found ${names.length}`);
  return path.join(dir, names[0]);
}

/** "linux-image-6.1.0-56-cloud-amd64_6.1.192-2_amd64.deb" -> "linux-image-6.1.0-56-cloud-amd64 6.1.192-2" */
function debVersionLabel(deb: string): string {
  const [name, version] = path.basename(deb, '.deb').split('_');
  return `${name ?? ''} ${decodeURIComponent(version ?? '')}`.trim();
}

async function findKernelVersion(kroot: string): Promise<string> {
  const versions = await fs.readdir(path.join(kroot, 'lib', 'modules')).catch(() => [] as string[]);
  if (versions.length !== 1 || !versions[0]) throw new Error(`expected one lib/modules/<version> in the kernel package, found ${versions.length}`);
  return versions[0];
}

async function firstExisting(paths: string[]): Promise<string | undefined> {
  for (const p of paths) if (await nonEmptyFile(p)) return p;
  return undefined;
}

// ---------------------------------------------------------------------------------------
// processes

/** Runs a build step; rejects with the step's command line and the end of its stderr. */
async function run(cmd: string, args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return runChecked(cmd, args, {
    timeoutMs: opts.timeoutMs ?? 5 * 60_000, maxStdoutBytes: 64 * 1024 * 1024,
    env: { ...process.env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' }, ...(opts.cwd !== undefined && { cwd: opts.cwd }),
  });
}

/** A decompressed kernel module, as bytes. */
async function runBuffer(cmd: string, args: string[]): Promise<Buffer> {
  return (await runChecked(cmd, args, { encoding: 'buffer', maxStdoutBytes: 256 * 1024 * 1024, timeoutMs: 5 * 60_000 })).stdout;
}
