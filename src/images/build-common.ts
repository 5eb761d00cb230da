/**
 * What the built-in image builders (tiny/build.ts, debian/build.ts) share: how a build is
 * made safe against concurrent builders and crashes, and the `build-main` command line.
 *
 * The on-disk layout, for an image NAME in `${cacheDir}/images/`:
 *   NAME/                       the published image (only ever appears complete)
 *   NAME.lock                   the build lock (see acquireLock)
 *   NAME.lock.PID.HEX           a lock candidate being linked into place
 *   .NAME-work-PID-HEX/         a builder's scratch space
 *   .NAME-build-PID-HEX/        a builder's staging dir, renamed to NAME/ when complete
 *   .NAME-old-PID-HEX-N/        a replaced image on its way out
 * The PID in the names lets removeOrphans tell a dead builder's leftovers from a live one's.
 * These names are what caches built by earlier versions use; keep them.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { errorText } from '../errors/errors.js';

/** Default cache directory: $HANGAR_CACHE_DIR or /var/cache/hangar. */
export function defaultCacheDir(): string {
  const env = process.env['HANGAR_CACHE_DIR'];
  return env !== undefined && env !== '' ? env : '/var/cache/hangar';
}

/** Options of the builders' entry points (buildTinyImage, buildDebianImage). */
export interface BuildImageOptions {
  onProgress?: (msg: string) => void;
  /** Rebuild even if a complete image is cached. */
  force?: boolean;
}

/** The file in an image directory that describes the image; written last, read first. */
export const MANIFEST_FILE = 'manifest.json';

/** Where image `imageName` is published: `${cacheDir}/images/NAME` (absolute). */
export function imageDir(cacheDir: string, imageName: string): string {
  return path.join(path.resolve(cacheDir), 'images', imageName);
}

/** `${cacheDir}/images/NAME/manifest.json` (absolute). */
export function manifestPath(cacheDir: string, imageName: string): string {
  return path.join(imageDir(cacheDir, imageName), MANIFEST_FILE);
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The manifest in image directory `dir` as a plain object, if it says it is image
 * `imageName` made by recipe version `recipe`. Undefined if it is missing, unreadable, not
 * a JSON object, another image, or from another recipe. Checking the other fields (and the
 * image's files) is the caller's business.
 */
export async function readManifest(dir: string, imageName: string, recipe: number): Promise<Record<string, unknown> | undefined> {
  let raw: unknown;
  try {
    raw = JSON.parse(await fs.readFile(path.join(dir, MANIFEST_FILE), 'utf8'));
  } catch {
    return undefined;
  }
  if (!isObject(raw) || raw['name'] !== imageName || raw['recipe'] !== recipe) return undefined;
  return raw;
}

// ---------------------------------------------------------------------------------------
// files and processes

/** Write `file` (created or truncated, with `mode`) and fsync it before returning. */
export async function writeFileSynced(file: string, data: Buffer | string, mode = 0o644): Promise<void> {
  const fh = await fs.open(file, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * fsync a file, or a directory (which makes renames and new entries in it durable).
 * A filesystem that refuses the fsync is not an error; a missing path is.
 */
export async function syncPath(p: string): Promise<void> {
  const fh = await fs.open(p, fsConstants.O_RDONLY);
  try {
    await fh.sync();
  } catch {
    // some filesystems refuse fsync on directories; not fatal
  } finally {
    await fh.close();
  }
}

/** True if `p` is a regular file with at least one byte (false if it is missing). */
export async function nonEmptyFile(p: string): Promise<boolean> {
  try {
    const st = await fs.stat(p);
    return st.isFile() && st.size > 0;
  } catch {
    return false;
  }
}

/** True if a process `pid` exists on this host (including one we may not signal). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// ---------------------------------------------------------------------------------------
// lock

export interface Lock {
  /** Remove the lock file, unless someone has taken it over meanwhile. */
  release(): Promise<void>;
}

export interface LockOptions {
  /** Give up (reject) after waiting this long for a live holder. */
  waitMs: number;
  /** A lock older than this is taken over even if its holder seems alive. */
  staleMs: number;
  /** How often to look at the lock again while waiting. Default 500 ms. */
  pollMs?: number;
  /** Called once, when we start waiting for a live holder. */
  onWait: (holderPid: string) => void;
  /** Called each time a stale lock is removed. */
  onStale: (holderPid: string) => void;
}

/**
 * An advisory lock file holding "pid host time nonce", created atomically with its content
 * (written to a private file `FILE.PID.HEX`, then hard-linked into place, which fails if the
 * lock exists). A lock whose holder is dead (same host) or older than `staleMs` is taken
 * over; a live holder is waited for up to `waitMs`. The private file is always removed.
 *
 * The lock only saves duplicate work: two waiters may both take over a stale lock, so
 * correctness must not depend on it (publish() keeps that safe).
 */
export async function acquireLock(file: string, opts: LockOptions): Promise<Lock> {
  const token = `${process.pid} ${os.hostname()} ${Date.now()} ${randomBytes(4).toString('hex')}\n`;
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFileSynced(tmp, token);
  const deadline = Date.now() + opts.waitMs;
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
      const [pidStr = '?', host, timeStr] = content.trim().split(' ');
      const age = Date.now() - Number(timeStr);
      const deadHolder = host === os.hostname() && !pidAlive(Number(pidStr));
      if (deadHolder || !(age < opts.staleMs)) {
        opts.onStale(pidStr);
        await fs.rm(file, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${file} (held by pid ${pidStr})`);
      if (!announced) {
        opts.onWait(pidStr);
        announced = true;
      }
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 500));
    }
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

// ---------------------------------------------------------------------------------------
// staging, publishing, cleanup

/** Removes a directory tree (the default is `fs.rm -rf`; debian-12 also unmounts first). */
export type RemoveDir = (dir: string) => Promise<void>;

const rmDir: RemoveDir = (dir) => fs.rm(dir, { recursive: true, force: true });

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Where one build of an image works, and where its result goes. */
export interface BuildDirs {
  imageName: string;
  /** `PID-HEX`, unique to this build; starts with our pid so removeOrphans can judge it. */
  tag: string;
  /** `.NAME-work-TAG`: scratch space, never published. */
  work: string;
  /** `.NAME-build-TAG`: where the image's files are put; renamed to `finalDir` by publish(). */
  staging: string;
  /** `NAME`: the published image. */
  finalDir: string;
}

/** Names (does not create) the dirs of a new build of `imageName` in `imagesDir`. */
export function buildDirs(imagesDir: string, imageName: string): BuildDirs {
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  return {
    imageName,
    tag,
    work: path.join(imagesDir, `.${imageName}-work-${tag}`),
    staging: path.join(imagesDir, `.${imageName}-build-${tag}`),
    finalDir: path.join(imagesDir, imageName),
  };
}

export interface PublishOptions {
  /** Replace `finalDir` even if it holds a current image. */
  force: boolean;
  /** True if `finalDir` holds a complete image of the current recipe. */
  isCurrent: () => Promise<boolean>;
}

/**
 * Move the complete image in `staging` into place as `finalDir`. Never leaves `finalDir`
 * partially written: at any moment it is absent, the previous image, or the new one. Once
 * this returns the result is on disk (the files directly in `staging`, `staging` itself and
 * the images dir are fsynced around the rename).
 *
 * If `finalDir` exists it is replaced when it is incomplete or from an older recipe
 * (`isCurrent()` false) or when `force` is set; a current image (e.g. one a concurrent
 * builder just published) is kept, and `staging` is then left for the caller to remove.
 * A replaced image is renamed to `.NAME-old-TAG-N` and deleted. Retries a few times if
 * another builder keeps putting an image in place between our renames.
 */
export async function publish(dirs: BuildDirs, opts: PublishOptions): Promise<void> {
  for (const e of await fs.readdir(dirs.staging, { withFileTypes: true })) {
    if (e.isFile()) await syncPath(path.join(dirs.staging, e.name));
  }
  await syncPath(dirs.staging);
  await renameIntoPlace(dirs, opts);
  await syncPath(path.dirname(dirs.finalDir));
}

/** rename(2) `from` to `to`; false (instead of an error) if `to` is a directory that is in the way. */
async function renameUnlessTaken(from: string, to: string): Promise<boolean> {
  try {
    await fs.rename(from, to);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') return false;
    throw err;
  }
}

async function renameIntoPlace(dirs: BuildDirs, opts: PublishOptions): Promise<void> {
  const { imageName, tag, staging, finalDir } = dirs;
  for (let attempt = 0; attempt < 5; attempt++) {
    if (await renameUnlessTaken(staging, finalDir)) return;
    // finalDir exists: something left over (incomplete), an older recipe, or a forced rebuild.
    // A complete, current image that appeared meanwhile (a concurrent builder) is kept unless forced.
    if (!opts.force && (await opts.isCurrent())) return;
    const old = path.join(path.dirname(finalDir), `.${imageName}-old-${tag}-${attempt}`);
    try {
      await fs.rename(finalDir, old);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    try {
      if (await renameUnlessTaken(staging, finalDir)) return;
    } finally {
      await rmDir(old);
    }
  }
  throw new Error(`could not move the ${imageName} image into ${finalDir}`);
}

/**
 * Remove the work, staging and old dirs and lock candidates of `imageName` in `imagesDir`
 * whose builder process is dead. Leaves live builders' files, the image and the lock alone.
 */
export async function removeOrphans(imagesDir: string, imageName: string, removeDir: RemoveDir = rmDir): Promise<void> {
  const name = escapeRegExp(imageName);
  const re = new RegExp(`^(?:\\.${name}-(?:work|build|old)-|${name}\\.lock\\.)(\\d+)[-.]`);
  for (const n of await fs.readdir(imagesDir).catch(() => [] as string[])) {
    const m = re.exec(n);
    if (m?.[1] && !pidAlive(Number(m[1]))) await removeDir(path.join(imagesDir, n));
  }
}

/** What a builder's build step gets. */
export interface BuildContext {
  cacheDir: string;
  /** `${cacheDir}/images` (absolute): holds the image directory, the lock and the staging dirs. */
  imagesDir: string;
  progress: (msg: string) => void;
  /** Replace the image even if a current one is in place (see publish). */
  force: boolean;
}

/** How one built-in image is recognised in the cache and built. */
export interface ImageRecipe<T> {
  imageName: string;
  /** The cached image if it is complete and current, else undefined. */
  readCached: (cacheDir: string) => Promise<T | undefined>;
  /** Runs only when a build is needed, before waiting for the lock (e.g. to fail fast on a missing tool). */
  preflight?: () => Promise<void>;
  lock: {
    waitMs: number;
    staleMs: number;
    pollMs: number;
    /** Progress message for waiting on a live builder. */
    waitingMessage: (holderPid: string) => string;
    /** Progress message for taking over a stale lock. */
    staleMessage: (holderPid: string, lockFile: string) => string;
  };
  /** How orphaned dirs are removed (default `fs.rm -rf`). */
  removeDir?: RemoveDir;
  /** Does the build (under the lock, after orphans are removed), publishes the image and returns it. */
  build: (ctx: BuildContext) => Promise<T>;
}

/**
 * Return the cached image, or build it (always, if `opts.force`). Safe to call concurrently
 * from several processes: builders take `NAME.lock` in turn, and a waiter whose image was
 * built meanwhile returns that one instead of building again.
 */
export async function reuseOrBuild<T>(cacheDir: string, opts: BuildImageOptions, recipe: ImageRecipe<T>): Promise<T> {
  const { imageName } = recipe;
  const progress = opts.onProgress ?? (() => undefined);
  const force = opts.force === true;
  const imagesDir = path.dirname(imageDir(cacheDir, imageName));
  if (!force) {
    const cached = await recipe.readCached(cacheDir);
    if (cached) return cached;
  }
  await recipe.preflight?.();
  await fs.mkdir(imagesDir, { recursive: true });
  const lockFile = path.join(imagesDir, `${imageName}.lock`);
  const lock = await acquireLock(lockFile, {
    waitMs: recipe.lock.waitMs,
    staleMs: recipe.lock.staleMs,
    pollMs: recipe.lock.pollMs,
    onWait: (pid) => progress(recipe.lock.waitingMessage(pid)),
    onStale: (pid) => progress(recipe.lock.staleMessage(pid, lockFile)),
  });
  try {
    if (!force) {
      const cached = await recipe.readCached(cacheDir);
      if (cached) {
        progress(`${imageName} image was built by another process`);
        return cached;
      }
    }
    await removeOrphans(imagesDir, imageName, recipe.removeDir);
    return await recipe.build({ cacheDir, imagesDir, progress, force });
  } finally {
    await lock.release();
  }
}

// ---------------------------------------------------------------------------------------
// build-main command line

export interface BuildArgs {
  cacheDir: string;
  force: boolean;
  help: boolean;
}

/** Parse `[--cache-dir DIR | --cache-dir=DIR] [--force|-f] [--help|-h]`; throws on anything else. */
export function parseBuildArgs(argv: string[], defaultDir: string = defaultCacheDir()): BuildArgs {
  let cacheDir = defaultDir;
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

export interface BuildCliOptions<T> {
  /** Prefix of every stderr line, e.g. `tiny`. */
  imageName: string;
  usage: string;
  build: (cacheDir: string, opts: { force: boolean; onProgress: (msg: string) => void }) => Promise<T>;
  /** What to say on stderr about the result; the build time is appended. */
  summary: (manifest: T) => string;
  /** Printed on stdout after a successful build. */
  manifestPath: (cacheDir: string) => string;
}

/**
 * The whole `build-main` program: parse process.argv, build or reuse the image with
 * progress on stderr, print the manifest path on stdout. Sets process.exitCode: 0 on
 * success (and for --help), 2 for bad arguments, 1 if the build fails.
 */
export function runBuildCli<T>(cli: BuildCliOptions<T>): void {
  const main = async (): Promise<number> => {
    // A closed pipe on the progress/result streams (e.g. `| head`) must not kill a build midway.
    process.stdout.on('error', () => undefined);
    process.stderr.on('error', () => undefined);
    let args: BuildArgs;
    try {
      args = parseBuildArgs(process.argv.slice(2));
    } catch (err) {
      process.stderr.write(`${(err as Error).message}\n${cli.usage}`);
      return 2;
    }
    if (args.help) {
      process.stdout.write(cli.usage);
      return 0;
    }
    const started = Date.now();
    const manifest = await cli.build(args.cacheDir, {
      force: args.force,
      onProgress: (msg) => process.stderr.write(`${cli.imageName}: ${msg}\n`),
    });
    process.stderr.write(`${cli.imageName}: ${cli.summary(manifest)} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
    process.stdout.write(`${cli.manifestPath(args.cacheDir)}\n`);
    return 0;
  };
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${cli.imageName}: build failed: ${errorText(err)}\n`);
      process.exitCode = 1;
    },
  );
}
