/**
 * Snapshots on a real guest: data comes back on revert, deleting the middle of a chain
 * loses nothing, images stay clean, and a memory snapshot resumes where it was.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SnapshotView } from '../../src/snapshots/service.js';
import { guestRun, serialLogEnd, sleep, TestDaemon, waitFor, waitForGuestReady } from './harness.js';

let d: TestDaemon;
let disk: string;

beforeAll(async () => {
  d = await TestDaemon.start();
  const r = await d.cli(['vm', 'create', 'snap', '--memory', '256M', '--disk-size', '64M', '--start']);
  expect(r.code, r.stderr).toBe(0);
  disk = join(d.dir, 'pools', 'default', 'snap-data.qcow2');
  await waitForGuestReady(d, 'snap');
  expect(await guestRun(d, 'snap', 'mke2fs -q /dev/vda && echo formatted')).toContain('formatted');
});
afterAll(async () => {
  await d?.cleanup();
});

/**
 * `qemu-img check` on the data disk. A running QEMU keeps refcount updates in its cache, so
 * the image is checked with the guest stopped (QEMU flushes on quit), then started again.
 */
async function expectCleanImage(opts: { restart: boolean } = { restart: true }): Promise<void> {
  const wasActive = (await d.vm('snap')).state !== 'stopped';
  if (wasActive) expect((await d.cli(['vm', 'stop', 'snap', '--force'])).code).toBe(0);
  const { stdout } = await promisify(execFile)('qemu-img', ['check', '--output=json', '-f', 'qcow2', disk]).catch((e: { stdout: string }) => ({ stdout: e.stdout }));
  const r = JSON.parse(stdout) as { corruptions?: number; leaks?: number; 'check-errors': number };
  expect(r['check-errors']).toBe(0);
  expect(r.corruptions ?? 0).toBe(0);
  expect(r.leaks ?? 0).toBe(0);
  if (wasActive && opts.restart) {
    const since = await serialLogEnd(d, 'snap');
    expect((await d.cli(['vm', 'start', 'snap'])).code).toBe(0);
    await waitForGuestReady(d, 'snap', { since });
  }
}

async function writeFile(content: string): Promise<void> {
  const out = await guestRun(d, 'snap', `mkdir -p /mnt && mount -t ext2 /dev/vda /mnt && echo ${content} > /mnt/f && umount /mnt && sync && echo wrote-${content}`);
  expect(out).toContain(`wrote-${content}`);
}

async function readFile(): Promise<string> {
  const out = await guestRun(d, 'snap', 'mkdir -p /mnt && mount -t ext2 /dev/vda /mnt && echo "[$(cat /mnt/f)]" && umount /mnt');
  const m = /^\[(.*)\]\s*$/m.exec(out);
  if (!m) throw new Error(`no content in: ${out}`);
  return m[1]!;
}

async function revert(name: string): Promise<void> {
  const since = await serialLogEnd(d, 'snap');
  const r = await d.cli(['snapshot', 'revert', 'snap', name]);
  expect(r.code, r.stderr).toBe(0);
  // A disk-only revert restarts the guest from that disk state.
  await waitForGuestReady(d, 'snap', { since });
}

describe('disk snapshots', () => {
  it('revert brings back what was written; deleting the middle of a chain keeps the others whole', async () => {
    await writeFile('v1');
    expect((await d.cli(['snapshot', 'create', 'snap', 's1'])).code).toBe(0);
    await writeFile('v2');
    expect((await d.cli(['snapshot', 'create', 'snap', 's2'])).code).toBe(0);
    await writeFile('v3');
    expect((await d.cli(['snapshot', 'create', 'snap', 's3'])).code).toBe(0);
    await expectCleanImage();
    await writeFile('overwritten');
    expect(await readFile()).toBe('overwritten');

    await revert('s1');
    expect(await readFile()).toBe('v1');

    // The tree: s1 → s2 → s3.
    let list = await d.api.call<SnapshotView[]>('GET', '/v1/vms/snap/snapshots');
    expect(list.map((s) => [s.name, s.parent ?? null, s.current])).toEqual([['s1', null, true], ['s2', 's1', false], ['s3', 's2', false]]);

    const del = await d.cli(['snapshot', 'delete', 'snap', 's2']);
    expect(del.code, del.stderr).toBe(0);
    await expectCleanImage();
    list = await d.api.call<SnapshotView[]>('GET', '/v1/vms/snap/snapshots');
    expect(list.map((s) => [s.name, s.parent ?? null])).toEqual([['s1', null], ['s3', 's1']]);

    await revert('s3');
    expect(await readFile()).toBe('v3');
    await revert('s1');
    expect(await readFile()).toBe('v1');
    await expectCleanImage();
  });

  it('refuses duplicates, unknown snapshots and odd names', async () => {
    let r = await d.cli(['snapshot', 'create', 'snap', 's1']);
    expect(r.stderr).toContain('SNAPSHOT_EXISTS');
    r = await d.cli(['snapshot', 'revert', 'snap', 'nope']);
    expect(r.stderr).toContain('SNAPSHOT_NOT_FOUND');
    r = await d.cli(['snapshot', 'create', 'snap', '../x']);
    expect(r.stderr).toContain('UNSAFE_PATH');
    expect((await d.api.call<SnapshotView[]>('GET', '/v1/vms/snap/snapshots')).map((s) => s.name)).toEqual(['s1', 's3']);
  });
});

describe('memory snapshots', () => {
  async function counts(offset: number): Promise<{ values: number[]; next: number }> {
    const r = await d.api.call<{ data: string; nextOffset: number }>('GET', `/v1/vms/snap/logs?offset=${offset}`);
    return { values: [...r.data.matchAll(/count=(\d+)/g)].map((m) => Number(m[1])), next: r.nextOffset };
  }

  it('a running guest resumes from the saved counter, not from zero', async () => {
    await guestRun(d, 'snap', 'i=0; while true; do i=$((i+1)); echo "count=$i" > /dev/console; sleep 0.2; done &');
    await sleep(3000);
    let log = await counts(0);
    const beforeSnap = Math.max(...log.values);
    const r = await d.cli(['snapshot', 'create', 'snap', 'mem', '--memory']);
    expect(r.code, r.stderr).toBe(0);
    await sleep(3000);
    log = await counts(log.next);
    // The first value printed once the snapshot was taken bounds the saved value from above.
    const afterSnap = Math.min(...log.values);
    const beforeRevert = Math.max(...log.values);
    expect(beforeRevert).toBeGreaterThan(afterSnap + 5);

    const rv = await d.cli(['snapshot', 'revert', 'snap', 'mem']);
    expect(rv.code, rv.stderr).toBe(0);
    expect((await d.vm('snap')).state).toBe('running');
    // The counter drops back once, to the value it had when the snapshot was taken, and goes on.
    const resumed = await waitFor('the counter to continue after the revert', async () => {
      // The last value seen before the revert leads the list, so a drop shows even when the
      // guest printed nothing between that read and the revert.
      const c = [beforeRevert, ...(await counts(log.next)).values];
      const drop = c.findIndex((v, i) => i > 0 && v < c[i - 1]!);
      return drop > 0 && c.length >= drop + 3 ? c.slice(drop) : undefined;
    }, 20_000, 200);
    expect(resumed[0]).toBeGreaterThanOrEqual(beforeSnap);
    // Around the value the snapshot saved (a few prints may land between the request and the save).
    expect(resumed[0]).toBeLessThanOrEqual(afterSnap + 3);
    expect(resumed[0]).toBeLessThan(beforeRevert - 5);
    expect(resumed[0]).toBeGreaterThan(10);
    expect(resumed[1]).toBe(resumed[0]! + 1);
    expect(resumed[2]).toBe(resumed[0]! + 2);
    await expectCleanImage({ restart: false });
  });

  it('a memory snapshot needs a running guest', async () => {
    expect((await d.vm('snap')).state).toBe('stopped');
    const r = await d.cli(['snapshot', 'create', 'snap', 'cold', '--memory']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('VM_STATE');
    // Reverting a stopped VM to a memory snapshot starts it where the snapshot was.
    const rv = await d.cli(['snapshot', 'revert', 'snap', 'mem']);
    expect(rv.code, rv.stderr).toBe(0);
    expect((await d.vm('snap')).state).toBe('running');
  });
});
