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
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { gunzipSync, gzipSync, constants as zlibConstants } from 'node:zlib';
import { CpioArchive } from './cpio.js';
import { guestFiles, TINY_CMDLINE, type GuestModule } from './guest.js';
import { normalizeModuleName, orderModules, readModuleInfo } from './modinfo.js';

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

export interface BuildTinyImageOptions {
  onProgress?: (msg: string) => void;
  /** Rebuild even if a complete image is cached. */
  force?: boolean;
}

/** Bumped whenever the build recipe changes, so older cached images are rebuilt. */
const RECIPE_VERSION = 1;

const KERNEL_METAPACKAGE = 'linux-image-cloud-amd64';
const BUSYBOX_PACKAGE = 'busybox-static';
/**
 * The bzImage as shipped by Debian. (An uncompressed PVH `vmlinux` boots about 0.3 s faster
 * under TCG, but OVMF cannot start a PVH kernel, so the image keeps the bzImage.)
 */
const KERNEL_FILE = 'vmlinuz';
const INITRD_FILE = 'initrd.img';
const MANIFEST_FILE = 'manifest.json';
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
  { name: 'button', required: true }, // ACPI power button -> input event
  { name: 'evdev', required: true }, // /dev/input/event* for acpid
];

/** Default cache directory: $HANGAR_CACHE_DIR or /var/cache/hangar. */
export function defaultCacheDir(): string {
  const env = process.env['HANGAR_CACHE_DIR'];
  return env !== undefined && env !== '' ? env : '/var/cache/hangar';
}

export function tinyImageDir(cacheDir: string): string {
  return path.join(path.resolve(cacheDir), 'images', 'tiny');
}

export function tinyManifestPath(cacheDir: string): string {
  return path.join(tinyImageDir(cacheDir), MANIFEST_FILE);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

async function nonEmptyFile(p: string): Promise<boolean> {
  try {
    const st = await fs.stat(p);
    return st.isFile() && st.size > 0;
  } catch {
    return false;
  }
}

/** The cached image, or undefined if it is missing, incomplete or from an older recipe. */
export async function readTinyImage(cacheDir: string): Promise<TinyImageManifest | undefined> {
  const dir = tinyImageDir(cacheDir);
  let raw: unknown;
  try {
    raw = JSON.parse(await fs.readFile(path.join(dir, MANIFEST_FILE), 'utf8'));
  } catch {
    return undefined;
  }
  if (!isObject(raw)) return undefined;
  if (raw['name'] !== 'tiny' || raw['kind'] !== 'kernel' || raw['recipe'] !== RECIPE_VERSION) return undefined;
  const { cmdline, kernelVersion, builtAt, description } = raw;
  if (typeof cmdline !== 'string' || typeof kernelVersion !== 'string') return undefined;
  if (typeof builtAt !== 'string' || typeof description !== 'string') return undefined;
  // Paths are derived from where the image is now, so a moved cache dir still works.
  const kernel = path.join(dir, KERNEL_FILE);
  const initrd = path.join(dir, INITRD_FILE);
  if (!(await nonEmptyFile(kernel)) || !(await nonEmptyFile(initrd))) return undefined;
  return { name: 'tiny', kind: 'kernel', kernel, initrd, cmdline, kernelVersion, builtAt, description };
}

/**
 * Return the cached `tiny` image, building it first if needed (or if `force`).
 * Safe to call concurrently from several processes.
 */
export async function buildTinyImage(cacheDir: string, opts: BuildTinyImageOptions = {}): Promise<TinyImageManifest> {
  const progress = opts.onProgress ?? (() => undefined);
  if (!opts.force) {
    const cached = await readTinyImage(cacheDir);
    if (cached) return cached;
  }
  const imagesDir = path.dirname(tinyImageDir(cacheDir));
  await fs.mkdir(imagesDir, { recursive: true });
  const lock = await acquireLock(path.join(imagesDir, 'tiny.lock'), progress);
  try {
    if (!opts.force) {
      const cached = await readTinyImage(cacheDir);
      if (cached) {
        progress('tiny image was built by another process');
        return cached;
      }
    }
    await removeOrphans(imagesDir);
    return await buildLocked(cacheDir, imagesDir, progress, opts.force === true);
  } finally {
    await lock.release();
  }
}

async function buildLocked(
  cacheDir: string,
  imagesDir: string,
  progress: (msg: string) => void,
  force: boolean,
): Promise<TinyImageManifest> {
  const finalDir = tinyImageDir(cacheDir);
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const work = path.join(imagesDir, `.tiny-work-${tag}`);
  const staging = path.join(imagesDir, `.tiny-build-${tag}`);
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
    await syncFile(path.join(staging, KERNEL_FILE));
    await syncFile(staging);

    await publish(cacheDir, staging, finalDir, imagesDir, tag, force);
    await syncFile(imagesDir);
    const result = await readTinyImage(cacheDir);
    if (!result) throw new Error(`tiny image at ${finalDir} is not readable after the build`);
    progress(`tiny image ready: ${path.join(finalDir, MANIFEST_FILE)}`);
    return result;
  } finally {
    await fs.rm(work, { recursive: true, force: true });
    await fs.rm(staging, { recursive: true, force: true });
  }
}

/** Move the staging dir into place. Never leaves `finalDir` partially written. */
async function publish(
  cacheDir: string,
  staging: string,
  finalDir: string,
  imagesDir: string,
  tag: string,
  force: boolean,
): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await fs.rename(staging, finalDir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    }
    // finalDir exists: something left over (incomplete), an older recipe, or a force rebuild.
    // A complete, current image that appeared meanwhile (a concurrent builder) is kept unless forced.
    if (!force && (await readTinyImage(cacheDir))) return;
    const old = path.join(imagesDir, `.tiny-old-${tag}-${attempt}`);
    try {
      await fs.rename(finalDir, old);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    try {
      await fs.rename(staging, finalDir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    } finally {
      await fs.rm(old, { recursive: true, force: true });
    }
  }
  throw new Error(`could not move the tiny image into ${finalDir}`);
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
// processes, files, lock

interface RunResult {
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      {
        cwd: opts.cwd,
        timeout: opts.timeoutMs ?? 5 * 60_000,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' },
      },
      (err, stdout, stderr) => {
        if (err) {
          const detail = String(stderr).trim().split('\n').slice(-5).join('\n');
          reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message.split('\n')[0]}${detail ? `\n${detail}` : ''}`));
        } else {
          resolve({ stdout: String(stdout), stderr: String(stderr) });
        }
      },
    );
  });
}

function runBuffer(cmd: string, args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024, timeout: 5 * 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message.split('\n')[0]} ${stderr.toString().trim()}`));
      else resolve(stdout);
    });
  });
}

async function writeFileSynced(file: string, data: Buffer | string): Promise<void> {
  const fh = await fs.open(file, 'w', 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function syncFile(p: string): Promise<void> {
  const fh = await fs.open(p, fsConstants.O_RDONLY);
  try {
    await fh.sync();
  } catch {
    // some filesystems refuse fsync on directories; not fatal
  } finally {
    await fh.close();
  }
}

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Remove staging/work dirs left behind by builders that died. */
async function removeOrphans(imagesDir: string): Promise<void> {
  for (const n of await fs.readdir(imagesDir).catch(() => [] as string[])) {
    const m = /^(?:\.tiny-(?:work|build|old)-|tiny\.lock\.)(\d+)[-.]/.exec(n);
    if (m?.[1] && !pidAlive(Number(m[1]))) await fs.rm(path.join(imagesDir, n), { recursive: true, force: true });
  }
}

interface Lock {
  release(): Promise<void>;
}

/**
 * An advisory lock file holding "pid host time nonce", created atomically with its content
 * (written to a private file, then hard-linked into place, which fails if the lock exists).
 * A lock whose holder is dead (same host) or that is older than LOCK_STALE_MS is taken over.
 * Waits up to LOCK_WAIT_MS.
 */
async function acquireLock(file: string, progress: (msg: string) => void): Promise<Lock> {
  const token = `${process.pid} ${os.hostname()} ${Date.now()} ${randomBytes(4).toString('hex')}\n`;
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFileSynced(tmp, token);
  const deadline = Date.now() + LOCK_WAIT_MS;
  let announced = false;
  try {
    for (;;) {
      try {
        await fs.link(tmp, file);
        return {
          release: async () => {
            const now = await fs.readFile(file, 'utf8').catch(() => '');
            if (now === token) await fs.rm(file, { force: true });
          },
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const content = await fs.readFile(file, 'utf8').catch(() => undefined);
      if (content === undefined) continue; // released meanwhile
      const [pidStr, host, timeStr] = content.trim().split(' ');
      const age = Date.now() - Number(timeStr);
      const deadHolder = host === os.hostname() && !pidAlive(Number(pidStr));
      if (deadHolder || !(age < LOCK_STALE_MS)) {
        // Stale. Two waiters may both take over; the atomic publish keeps that safe.
        progress(`removing stale lock ${file} (pid ${pidStr})`);
        await fs.rm(file, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${file} (held by pid ${pidStr})`);
      if (!announced) {
        progress(`waiting for another tiny image build (pid ${pidStr})`);
        announced = true;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await fs.rm(tmp, { force: true });
  }
}
