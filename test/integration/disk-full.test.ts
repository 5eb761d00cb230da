/**
 * Full disks: a 64 MiB tmpfs as a storage pool, and another over the data dir's images
 * folder. An image import, a volume create or clone, and a memory snapshot that do not fit
 * fail with STORAGE_FULL, leave nothing half-visible (no record, no partial file), and a
 * running guest keeps running.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statfsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageInfo } from '../../src/images/catalog.js';
import type { OperationRecord } from '../../src/operations/service.js';
import type { SnapshotView } from '../../src/snapshots/service.js';
import type { VolumeRecord } from '../../src/storage/service.js';
import { guestRun, serialLogEnd, TestDaemon, waitForGuestReady } from './harness.js';

const run = promisify(execFile);
let d: TestDaemon;
let poolDir: string;
let imagesDir: string;
const mounts: string[] = [];

async function mountTmpfs(dir: string, size: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await run('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
  mounts.push(dir);
}

beforeAll(async () => {
  d = await TestDaemon.start();
  poolDir = join(d.dir, 'small');
  await mountTmpfs(poolDir, '64m');
  // Imports land in <data-dir>/images (staging inside it): a small file system there too.
  // The daemon makes the staging folder when it starts, so it is restarted on top of it.
  imagesDir = join(d.dir, 'images');
  await d.kill('SIGTERM');
  rmSync(imagesDir, { recursive: true, force: true });
  await mountTmpfs(imagesDir, '64m');
  await d.launch();
  const r = await d.cli(['pool', 'create', 'small', '--path', poolDir]);
  expect(r.code, r.stderr).toBe(0);
});
afterAll(async () => {
  // Guests first (they hold files on the tmpfs), then the mounts, then the data dir.
  if (d) {
    const vms = await d.api.call<{ name: string }[]>('GET', '/v1/vms').catch(() => []);
    for (const v of vms) await d.api.call('DELETE', `/v1/vms/${v.name}?force=true`).catch(() => undefined);
    await d.kill('SIGTERM');
  }
  for (const m of mounts.reverse()) await run('umount', [m]).catch(() => run('umount', ['-l', m]));
  await d?.cleanup();
});

function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

async function volumes(): Promise<VolumeRecord[]> {
  return d.api.call<VolumeRecord[]>('GET', '/v1/volumes?pool=small');
}

/** The pool folder holds exactly the listed volumes' files: no `.partial`, nothing else. */
async function expectPoolClean(): Promise<void> {
  expect(readdirSync(poolDir).filter((f) => f !== 'filler').sort()).toEqual((await volumes()).map((v) => basename(v.path)).sort());
}

async function expectImagesClean(): Promise<void> {
  const imported = (await d.api.call<ImageInfo[]>('GET', '/v1/images')).filter((i) => i.origin === 'imported');
  expect(readdirSync(imagesDir).filter((f) => f !== '.staging').sort()).toEqual(imported.map((i) => basename(i.disk!.path)).sort());
  expect(readdirSync(join(imagesDir, '.staging'))).toEqual([]);
}

async function waitOp(id: string): Promise<OperationRecord> {
  return d.api.call<OperationRecord>('GET', `/v1/operations/${id}?wait=60`);
}

describe('image import into a full images folder', () => {
  it('an image larger than the free space is refused before anything is written', async () => {
    const src = join(d.dir, 'big.raw');
    await run('truncate', ['-s', '96M', src]);
    await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x11 0 96M', src]);
    const r = await d.cli(['image', 'import', 'toobig', '--file', src]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('STORAGE_FULL');
    expect((await d.api.call<ImageInfo[]>('GET', '/v1/images')).map((i) => i.name)).not.toContain('toobig');
    await expectImagesClean();
  });

  it('an image whose copy fits but whose conversion does not: STORAGE_FULL midway, cleaned up', async () => {
    // 40 MiB of data: the private copy fits in 64 MiB, the qcow2 made from it does not as well.
    const src = join(d.dir, 'mid.raw');
    await run('truncate', ['-s', '40M', src]);
    await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x22 0 40M', src]);
    const op = await d.api.call<OperationRecord>('POST', '/v1/images', { name: 'mid', file: src });
    const done = await waitOp(op.id);
    expect(done).toMatchObject({ state: 'failed', error: { code: 'STORAGE_FULL' } });
    expect((await d.api.call<ImageInfo[]>('GET', '/v1/images')).map((i) => i.name)).not.toContain('mid');
    await expectImagesClean();
    expect(freeBytes(imagesDir)).toBeGreaterThan(60 * 2 ** 20);
    // A small one still fits afterwards.
    const small = join(d.dir, 'small.raw');
    await run('truncate', ['-s', '8M', small]);
    const ok = await d.cli(['image', 'import', 'small', '--file', small]);
    expect(ok.code, ok.stderr).toBe(0);
    await expectImagesClean();
    expect((await d.cli(['image', 'delete', 'small'])).code).toBe(0);
  });
});

describe('a full storage pool', () => {
  it('volume create when the pool has no room left: STORAGE_FULL, no record, no file', async () => {
    // Leave a few KiB: not enough for a qcow2 header and tables.
    await run('fallocate', ['-l', String(freeBytes(poolDir) - 16 * 1024), join(poolDir, 'filler')]);
    try {
      const before = await volumes();
      for (const format of ['qcow2', 'raw']) {
        const r = await d.cli(['volume', 'create', `nofit-${format}`, '--size', '1G', '--pool', 'small', '--format', format]);
        if (format === 'raw') {
          // A raw volume is a sparse file: it needs no room until it is written.
          expect(r.code, r.stderr).toBe(0);
          expect((await d.cli(['volume', 'delete', `nofit-${format}`, '--pool', 'small'])).code).toBe(0);
          continue;
        }
        expect(r.code).toBe(1);
        expect(r.stderr).toContain('STORAGE_FULL');
      }
      expect(await volumes()).toEqual(before);
      await expectPoolClean();
    } finally {
      rmSync(join(poolDir, 'filler'));
    }
  });

  it('volume clone bigger than the free space: STORAGE_FULL up front', async () => {
    let r = await d.cli(['volume', 'create', 'data40', '--size', '64M', '--pool', 'small']);
    expect(r.code, r.stderr).toBe(0);
    const src = (await volumes()).find((v) => v.name === 'data40')!;
    await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x40 0 40M', src.path]);
    r = await d.cli(['volume', 'clone', 'data40', 'copy40', '--pool', 'small']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('STORAGE_FULL');
    expect((await volumes()).map((v) => v.name)).toEqual(['data40']);
    await expectPoolClean();
    expect((await d.cli(['volume', 'delete', 'data40', '--pool', 'small'])).code).toBe(0);
  });

  it('a clone that passes the estimate but runs out midway: STORAGE_FULL, the partial copy is gone', async () => {
    // A compressed qcow2 is small on disk but expands when copied: the up-front check passes.
    const r = await d.cli(['volume', 'create', 'packed', '--size', '96M', '--pool', 'small']);
    expect(r.code, r.stderr).toBe(0);
    const vol = (await volumes()).find((v) => v.name === 'packed')!;
    const plain = join(d.dir, 'plain.qcow2');
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', plain, '96M']);
    await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x77 0 90M', plain]);
    await run('qemu-img', ['convert', '-c', '-f', 'qcow2', '-O', 'qcow2', plain, vol.path]);
    const op = await d.api.call<OperationRecord>('POST', '/v1/volumes/small/packed/clone', { name: 'unpacked' });
    const done = await waitOp(op.id);
    expect(done).toMatchObject({ state: 'failed', error: { code: 'STORAGE_FULL' } });
    expect((await volumes()).map((v) => v.name)).toEqual(['packed']);
    await expectPoolClean();
    expect((await d.cli(['volume', 'delete', 'packed', '--pool', 'small'])).code).toBe(0);
  });
});

describe('a memory snapshot into a full pool', () => {
  it('fails with STORAGE_FULL, lists nothing, and the guest keeps running', async () => {
    // The VM's only disk lives in the small pool: the snapshot's memory would go there.
    let r = await d.cli(['vm', 'create', 'full', '--memory', '256M']);
    expect(r.code, r.stderr).toBe(0);
    r = await d.cli(['volume', 'create', 'fulldisk', '--size', '32M', '--pool', 'small']);
    expect(r.code, r.stderr).toBe(0);
    r = await d.cli(['volume', 'attach', 'fulldisk', 'full', '--pool', 'small']);
    expect(r.code, r.stderr).toBe(0);
    const since = await serialLogEnd(d, 'full');
    expect((await d.cli(['vm', 'start', 'full'])).code).toBe(0);
    await waitForGuestReady(d, 'full', { since });
    // About 120 MiB of guest memory that is not zero pages: more than the pool holds.
    const fill = 'head -c 8m /dev/urandom >/tmp/f; i=0; while [ $i -lt 14 ]; do cat /tmp/f >/tmp/g$i; i=$((i+1)); done';
    expect(await guestRun(d, 'full', `${fill}; echo FILL-$((1+1))`, 10_000)).toContain('FILL-2');
    const pid = (await d.vm('full')).pid;

    r = await d.cli(['snapshot', 'create', 'full', 'm1', '--memory']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('STORAGE_FULL');
    expect(await d.api.call<SnapshotView[]>('GET', '/v1/vms/full/snapshots')).toEqual([]);
    const { stdout } = await run('qemu-img', ['info', '-U', '--output=json', '-f', 'qcow2', join(poolDir, 'fulldisk.qcow2')]);
    expect((JSON.parse(stdout) as { snapshots?: unknown[] }).snapshots ?? []).toEqual([]);
    await expectPoolClean();

    // The same guest goes on: same process, running, and its console answers.
    expect(await d.vm('full')).toMatchObject({ state: 'running', pid });
    expect(await guestRun(d, 'full', 'echo still-$((40+2))')).toContain('still-42');
    // QEMU keeps the room the failed save took inside the disk file, so the pool stays full:
    // a disk-only snapshot then either fits or fails the same clean way.
    r = await d.cli(['snapshot', 'create', 'full', 'd1']);
    const listed = (await d.api.call<SnapshotView[]>('GET', '/v1/vms/full/snapshots')).map((s) => s.name);
    if (r.code === 0) expect(listed).toEqual(['d1']);
    else {
      expect(r.stderr).toContain('STORAGE_FULL');
      expect(listed).toEqual([]);
    }
    expect(await d.vm('full')).toMatchObject({ state: 'running', pid });
    // Stopped, the disk has no corruption (the aborted save may only have leaked clusters).
    expect((await d.cli(['vm', 'stop', 'full', '--force'])).code).toBe(0);
    const check = await run('qemu-img', ['check', '--output=json', '-f', 'qcow2', join(poolDir, 'fulldisk.qcow2')]).catch((e: { stdout: string }) => e);
    const result = JSON.parse(check.stdout) as { corruptions?: number; leaks?: number };
    expect(result.corruptions ?? 0).toBe(0);
    console.log(`[disk-full] after the failed memory snapshot: disk-only snapshot ${r.code === 0 ? 'fit' : 'refused (STORAGE_FULL)'}; ${result.leaks ?? 0} leaked clusters`);
    expect((await d.cli(['vm', 'delete', 'full', '--force'])).code).toBe(0);
    expect((await d.cli(['volume', 'delete', 'fulldisk', '--pool', 'small'])).code).toBe(0);
    expect(existsSync(join(poolDir, 'fulldisk.qcow2'))).toBe(false);
  });
});
