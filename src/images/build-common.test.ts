import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  acquireLock,
  buildDirs,
  parseBuildArgs,
  pidAlive,
  publish,
  readManifest,
  removeOrphans,
  reuseOrBuild,
  type BuildDirs,
  type ImageRecipe,
} from './build-common.js';

let tmp: string;

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'hangar-build-common-'));
});

afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  const pid = spawnSync(process.execPath, ['-e', '']).pid;
  if (pid === undefined || pidAlive(pid)) throw new Error('could not get a dead pid');
  return pid;
}

/** Lock file content as acquireLock writes it. */
function lockContent(pid: number, host = os.hostname(), time = Date.now()): string {
  return `${pid} ${host} ${time} cafe0001\n`;
}

async function writeImage(dir: string, content: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'manifest.json'), content);
  await fs.writeFile(path.join(dir, 'vmlinuz'), `kernel of ${content}`);
}

async function readImage(dir: string): Promise<string> {
  return fs.readFile(path.join(dir, 'manifest.json'), 'utf8');
}

describe('buildDirs', () => {
  it('names the staging, work and final dirs the way older caches do', () => {
    const d = buildDirs('/c/images', 'tiny');
    expect(d.tag).toMatch(new RegExp(`^${process.pid}-[0-9a-f]{8}$`));
    expect(d.work).toBe(`/c/images/.tiny-work-${d.tag}`);
    expect(d.staging).toBe(`/c/images/.tiny-build-${d.tag}`);
    expect(d.finalDir).toBe('/c/images/tiny');
    expect(buildDirs('/c/images', 'tiny').tag).not.toBe(d.tag);
  });
});

describe('publish', () => {
  let dirs: BuildDirs;

  beforeEach(async () => {
    dirs = buildDirs(tmp, 'tiny');
    await writeImage(dirs.staging, 'new');
  });

  /** Entries of the images dir other than the final image. */
  const leftovers = async (): Promise<string[]> => (await fs.readdir(tmp)).filter((n) => n !== 'tiny').sort();

  it('moves staging into place when finalDir is absent', async () => {
    const isCurrent = vi.fn(async () => true);
    await publish(dirs, { force: false, isCurrent });
    expect(await readImage(dirs.finalDir)).toBe('new');
    expect(await fs.readFile(path.join(dirs.finalDir, 'vmlinuz'), 'utf8')).toBe('kernel of new');
    expect(await leftovers()).toEqual([]);
    expect(isCurrent).not.toHaveBeenCalled();
  });

  it('keeps a present and current image, leaving staging to the caller', async () => {
    await writeImage(dirs.finalDir, 'current');
    const isCurrent = vi.fn(async () => true);
    await publish(dirs, { force: false, isCurrent });
    expect(isCurrent).toHaveBeenCalledTimes(1);
    expect(await readImage(dirs.finalDir)).toBe('current');
    expect(await leftovers()).toEqual([path.basename(dirs.staging)]);
    expect(await readImage(dirs.staging)).toBe('new');
  });

  it('replaces a present but stale (incomplete or older recipe) image', async () => {
    await writeImage(dirs.finalDir, 'stale');
    await fs.writeFile(path.join(dirs.finalDir, 'only-in-old'), 'x');
    const isCurrent = vi.fn(async () => false);
    await publish(dirs, { force: false, isCurrent });
    expect(isCurrent).toHaveBeenCalledTimes(1);
    expect(await readImage(dirs.finalDir)).toBe('new');
    expect((await fs.readdir(dirs.finalDir)).sort()).toEqual(['manifest.json', 'vmlinuz']);
    // Neither staging nor the `.tiny-old-*` dir of the replaced image is left behind.
    expect(await leftovers()).toEqual([]);
  });

  it('with force, replaces even a current image without asking', async () => {
    await writeImage(dirs.finalDir, 'current');
    const isCurrent = vi.fn(async () => true);
    await publish(dirs, { force: true, isCurrent });
    expect(isCurrent).not.toHaveBeenCalled();
    expect(await readImage(dirs.finalDir)).toBe('new');
    expect(await leftovers()).toEqual([]);
  });

  it('fails (and leaves finalDir alone) if staging is missing', async () => {
    await writeImage(dirs.finalDir, 'current');
    await fs.rm(dirs.staging, { recursive: true });
    await expect(publish(dirs, { force: true, isCurrent: async () => false })).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readImage(dirs.finalDir)).toBe('current');
  });
});

describe('acquireLock', () => {
  const noop = (): void => undefined;

  it('takes a free lock, writes "pid host time nonce" and releases it', async () => {
    const file = path.join(tmp, 'tiny.lock');
    const lock = await acquireLock(file, { waitMs: 1000, staleMs: 60_000, onWait: noop, onStale: noop });
    const [pid, host, time] = (await fs.readFile(file, 'utf8')).trim().split(' ');
    expect(pid).toBe(String(process.pid));
    expect(host).toBe(os.hostname());
    expect(Math.abs(Date.now() - Number(time))).toBeLessThan(10_000);
    expect(await fs.readdir(tmp)).toEqual(['tiny.lock']); // the candidate file is gone
    await lock.release();
    expect(await fs.readdir(tmp)).toEqual([]);
  });

  it('takes over a lock whose holder (on this host) is dead', async () => {
    const file = path.join(tmp, 'tiny.lock');
    const dead = deadPid();
    await fs.writeFile(file, lockContent(dead));
    const onStale = vi.fn();
    const onWait = vi.fn();
    const started = Date.now();
    const lock = await acquireLock(file, { waitMs: 5000, staleMs: 60_000, pollMs: 20, onWait, onStale });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(onStale).toHaveBeenCalledWith(String(dead));
    expect(onWait).not.toHaveBeenCalled();
    expect((await fs.readFile(file, 'utf8')).startsWith(`${process.pid} `)).toBe(true);
    await lock.release();
  });

  it('takes over a lock older than staleMs even if its holder is alive', async () => {
    const file = path.join(tmp, 'tiny.lock');
    await fs.writeFile(file, lockContent(process.ppid, os.hostname(), Date.now() - 120_000));
    const onStale = vi.fn();
    const lock = await acquireLock(file, { waitMs: 5000, staleMs: 60_000, pollMs: 20, onWait: noop, onStale });
    expect(onStale).toHaveBeenCalledWith(String(process.ppid));
    await lock.release();
  });

  it('waits for a live holder up to waitMs, then fails without touching its lock', async () => {
    const file = path.join(tmp, 'tiny.lock');
    const held = lockContent(process.ppid);
    await fs.writeFile(file, held);
    const onWait = vi.fn();
    const onStale = vi.fn();
    const started = Date.now();
    await expect(acquireLock(file, { waitMs: 300, staleMs: 60_000, pollMs: 20, onWait, onStale })).rejects.toThrow(
      `timed out waiting for ${file} (held by pid ${process.ppid})`,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(onWait).toHaveBeenCalledTimes(1);
    expect(onWait).toHaveBeenCalledWith(String(process.ppid));
    expect(onStale).not.toHaveBeenCalled();
    expect(await fs.readFile(file, 'utf8')).toBe(held);
    expect(await fs.readdir(tmp)).toEqual(['tiny.lock']);
  });

  it('does not judge a holder on another host by its pid', async () => {
    const file = path.join(tmp, 'tiny.lock');
    await fs.writeFile(file, lockContent(deadPid(), `not-${os.hostname()}`));
    const onStale = vi.fn();
    await expect(acquireLock(file, { waitMs: 100, staleMs: 60_000, pollMs: 20, onWait: noop, onStale })).rejects.toThrow(/timed out/);
    expect(onStale).not.toHaveBeenCalled();
  });

  it('gets the lock once a live holder releases it', async () => {
    const file = path.join(tmp, 'tiny.lock');
    await fs.writeFile(file, lockContent(process.ppid));
    const onWait = vi.fn();
    setTimeout(() => void fs.rm(file, { force: true }), 150);
    const lock = await acquireLock(file, { waitMs: 5000, staleMs: 60_000, pollMs: 20, onWait, onStale: noop });
    expect(onWait).toHaveBeenCalledTimes(1);
    expect((await fs.readFile(file, 'utf8')).startsWith(`${process.pid} `)).toBe(true);
    await lock.release();
  });

  it('release leaves a lock that someone else has taken over', async () => {
    const file = path.join(tmp, 'tiny.lock');
    const lock = await acquireLock(file, { waitMs: 1000, staleMs: 60_000, onWait: noop, onStale: noop });
    const other = lockContent(process.ppid);
    await fs.rm(file);
    await fs.writeFile(file, other);
    await lock.release();
    expect(await fs.readFile(file, 'utf8')).toBe(other);
  });
});

describe('removeOrphans', () => {
  it("removes only a dead builder's dirs and lock candidates of the named image", async () => {
    const dead = deadPid();
    const live = process.pid;
    const orphans = [`.tiny-work-${dead}-0a0b0c0d`, `.tiny-build-${dead}-0a0b0c0d`, `.tiny-old-${dead}-0a0b0c0d-0`, `tiny.lock.${dead}.0a0b0c0d`];
    const otherImage = [`.debian-12-work-${dead}-0a0b0c0d`, `debian-12.lock.${dead}.0a0b0c0d`];
    const kept = [`.tiny-work-${live}-0a0b0c0d`, `tiny.lock.${live}.0a0b0c0d`, 'tiny.lock', 'tiny', ...otherImage];
    for (const n of [...orphans, ...kept]) {
      if (n.includes('lock')) await fs.writeFile(path.join(tmp, n), 'x');
      else await fs.mkdir(path.join(tmp, n, 'sub'), { recursive: true });
    }
    await removeOrphans(tmp, 'tiny');
    expect((await fs.readdir(tmp)).sort()).toEqual([...kept].sort());
    const removed: string[] = [];
    await removeOrphans(tmp, 'debian-12', async (dir) => {
      removed.push(path.basename(dir));
      await fs.rm(dir, { recursive: true, force: true });
    });
    expect(removed.sort()).toEqual([...otherImage].sort());
  });
});

describe('readManifest', () => {
  it('returns the manifest object only for the right image and recipe', async () => {
    const dir = path.join(tmp, 'images', 'tiny');
    await fs.mkdir(dir, { recursive: true });
    const write = (v: unknown): Promise<void> => fs.writeFile(path.join(dir, 'manifest.json'), JSON.stringify(v));
    expect(await readManifest(dir, 'tiny', 1)).toBeUndefined();
    await write({ name: 'tiny', recipe: 1, kind: 'kernel' });
    expect(await readManifest(dir, 'tiny', 1)).toEqual({ name: 'tiny', recipe: 1, kind: 'kernel' });
    expect(await readManifest(dir, 'tiny', 2)).toBeUndefined();
    expect(await readManifest(dir, 'debian-12', 1)).toBeUndefined();
    await write([{ name: 'tiny', recipe: 1 }]);
    expect(await readManifest(dir, 'tiny', 1)).toBeUndefined();
    await fs.writeFile(path.join(dir, 'manifest.json'), '{"name": "tiny", ');
    expect(await readManifest(dir, 'tiny', 1)).toBeUndefined();
  });
});

describe('reuseOrBuild', () => {
  const recipe = (over: Partial<ImageRecipe<string>> = {}): ImageRecipe<string> => ({
    imageName: 'tiny',
    readCached: async () => undefined,
    lock: { waitMs: 1000, staleMs: 60_000, pollMs: 20, waitingMessage: (p) => `wait ${p}`, staleMessage: (p) => `stale ${p}` },
    build: async () => 'built',
    ...over,
  });
  const imagesDir = (): string => path.join(tmp, 'images');

  it('returns a cached image without locking, preflight or build', async () => {
    const build = vi.fn(async () => 'built');
    const preflight = vi.fn(async () => undefined);
    expect(await reuseOrBuild(tmp, {}, recipe({ readCached: async () => 'cached', build, preflight }))).toBe('cached');
    expect(build).not.toHaveBeenCalled();
    expect(preflight).not.toHaveBeenCalled();
    await expect(fs.readdir(imagesDir())).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('builds under the lock, with orphans removed first, and releases the lock', async () => {
    await fs.mkdir(imagesDir(), { recursive: true });
    const orphan = path.join(imagesDir(), `.tiny-work-${deadPid()}-0a0b0c0d`);
    await fs.mkdir(orphan);
    const progress: string[] = [];
    const result = await reuseOrBuild(
      tmp,
      { onProgress: (m) => progress.push(m) },
      recipe({
        build: async (ctx) => {
          expect(ctx).toMatchObject({ cacheDir: tmp, imagesDir: imagesDir(), force: false });
          expect(await fs.readFile(path.join(imagesDir(), 'tiny.lock'), 'utf8')).toMatch(new RegExp(`^${process.pid} `));
          await expect(fs.stat(orphan)).rejects.toMatchObject({ code: 'ENOENT' });
          ctx.progress('building');
          return 'built';
        },
      }),
    );
    expect(result).toBe('built');
    expect(progress).toEqual(['building']);
    expect(await fs.readdir(imagesDir())).toEqual([]);
  });

  it('returns the image another process built while we waited for the lock', async () => {
    let reads = 0;
    const build = vi.fn(async () => 'built');
    const progress: string[] = [];
    const result = await reuseOrBuild(
      tmp,
      { onProgress: (m) => progress.push(m) },
      recipe({ readCached: async () => (++reads > 1 ? 'theirs' : undefined), build }),
    );
    expect(result).toBe('theirs');
    expect(build).not.toHaveBeenCalled();
    expect(progress).toEqual(['tiny image was built by another process']);
  });

  it('with force, builds even if an image is cached; a failing build still releases the lock', async () => {
    const preflight = vi.fn(async () => undefined);
    expect(await reuseOrBuild(tmp, { force: true }, recipe({ readCached: async () => 'cached', preflight }))).toBe('built');
    expect(preflight).toHaveBeenCalledTimes(1);
    await expect(
      reuseOrBuild(
        tmp,
        {},
        recipe({
          build: async () => {
            throw new Error('boom');
          },
        }),
      ),
    ).rejects.toThrow('boom');
    expect(await fs.readdir(imagesDir())).toEqual([]);
  });
});

describe('parseBuildArgs', () => {
  it('reads --cache-dir, --force and --help', () => {
    expect(parseBuildArgs([], '/d')).toEqual({ cacheDir: '/d', force: false, help: false });
    expect(parseBuildArgs(['--cache-dir', '/x', '-f'], '/d')).toEqual({ cacheDir: '/x', force: true, help: false });
    expect(parseBuildArgs(['--cache-dir=/y', '--force', '-h'], '/d')).toEqual({ cacheDir: '/y', force: true, help: true });
  });

  it('rejects a missing value and unknown arguments', () => {
    expect(() => parseBuildArgs(['--cache-dir'], '/d')).toThrow('--cache-dir needs a value');
    expect(() => parseBuildArgs(['--cache-dir='], '/d')).toThrow('--cache-dir needs a value');
    expect(() => parseBuildArgs(['--bogus'], '/d')).toThrow('unknown argument: --bogus');
  });
});
