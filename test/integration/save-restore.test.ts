/**
 * Save and restore on a real guest: the guest's counter continues from where it was saved,
 * a cancelled save leaves it running with no file behind, and a truncated save file gives
 * a clear error and keeps the VM saved.
 */
import { existsSync } from 'node:fs';
import { truncate, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OperationRecord } from '../../src/operations/service.js';
import { guestRun, sleep, TestDaemon, waitFor, waitForGuestReady } from './harness.js';

let d: TestDaemon;
let saveDir: string;

beforeAll(async () => {
  d = await TestDaemon.start();
  const r = await d.cli(['vm', 'create', 'sr', '--memory', '128M', '--start']);
  expect(r.code, r.stderr).toBe(0);
  await waitForGuestReady(d, 'sr');
  saveDir = join(d.dir, 'vms', (await d.vm('sr')).id);
  await guestRun(d, 'sr', 'i=0; while true; do i=$((i+1)); echo "count=$i" > /dev/console; sleep 0.1; done &');
}, 60_000);
afterAll(async () => {
  await d?.cleanup();
});

async function counts(offset: number): Promise<{ values: number[]; next: number }> {
  const r = await d.api.call<{ data: string; nextOffset: number }>('GET', `/v1/vms/sr/logs?offset=${offset}`);
  return { values: [...r.data.matchAll(/count=(\d+)/g)].map((m) => Number(m[1])), next: r.nextOffset };
}

async function waitOp(id: string): Promise<OperationRecord> {
  return waitFor(`operation ${id} to end`, async () => {
    const op = await d.api.call<OperationRecord>('GET', `/v1/operations/${id}`);
    return op.state === 'running' ? undefined : op;
  }, 30_000, 100);
}

describe('save and restore', () => {
  it('saves, stops QEMU, and the restored guest continues its counter', async () => {
    await sleep(1500);
    const before = await counts(0);
    expect(before.values.length).toBeGreaterThan(3);
    const r = await d.cli(['vm', 'save', 'sr']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/saved: .* MB in .* s/);
    const after = await counts(before.next);
    const lastSaved = Math.max(...before.values, ...after.values);
    const vm = await d.vm('sr');
    expect(vm.state).toBe('saved');
    expect(vm.pid).toBeUndefined();
    expect(d.qemuPids()).toEqual([]);
    expect(existsSync(join(saveDir, 'saved-state.bin'))).toBe(true);
    expect(existsSync(join(saveDir, 'saved-state.bin.partial'))).toBe(false);
    expect((await d.cli(['vm', 'list'])).stdout).toMatch(/sr\s+saved/);

    // The disks must not change under the saved memory.
    const snap = await d.cli(['snapshot', 'create', 'sr', 'x']);
    expect(snap.stderr).toContain('VM_STATE');
    expect((await d.cli(['vm', 'set', 'sr', 'cpus=2'])).stderr).toContain('VM_STATE');

    await sleep(1000);
    const st = await d.cli(['vm', 'start', 'sr']);
    expect(st.code, st.stderr).toBe(0);
    expect((await d.vm('sr')).state).toBe('running');
    expect(existsSync(saveDir)).toBe(false);
    const resumed = await waitFor('the counter to continue', async () => {
      const c = (await counts(after.next)).values;
      return c.length >= 3 ? c : undefined;
    }, 15_000, 200);
    // It continues from the saved value, not from zero (the guest was paused for the save).
    expect(resumed[0]).toBeGreaterThan(lastSaved - 1);
    expect(resumed[0]).toBeLessThanOrEqual(lastSaved + 3);
    expect(resumed[1]).toBe(resumed[0]! + 1);
  }, 60_000);

  it('a cancelled save leaves the guest running and no file behind', async () => {
    const op = await d.api.call<OperationRecord>('POST', '/v1/vms/sr/save', { maxBandwidth: 1_000_000 });
    await waitFor('the save to make progress', async () => ((await d.api.call<OperationRecord>('GET', `/v1/operations/${op.id}`)).progress.bytesDone ?? 0) > 0, 10_000, 100);
    expect((await d.vm('sr')).state).toBe('migrating');
    await d.api.call('DELETE', `/v1/operations/${op.id}`);
    const done = await waitOp(op.id);
    expect(done.state).toBe('cancelled');
    expect(done.error?.message).toMatch(/cancelled/);
    expect((await d.vm('sr')).state).toBe('running');
    expect(existsSync(join(saveDir, 'saved-state.bin.partial'))).toBe(false);
    expect(existsSync(join(saveDir, 'saved-state.bin'))).toBe(false);
    const mark = (await counts(0)).next;
    await waitFor('the counter to go on', async () => (await counts(mark)).values.length >= 3, 10_000, 200);
  }, 30_000);

  it('a truncated save file fails the restore clearly and keeps the VM saved; --fresh boots', async () => {
    const r = await d.cli(['vm', 'save', 'sr']);
    expect(r.code, r.stderr).toBe(0);
    const file = join(saveDir, 'saved-state.bin');
    const size = (await stat(file)).size;
    await truncate(file, Math.floor(size / 2));
    const st = await d.cli(['vm', 'start', 'sr']);
    expect(st.code).not.toBe(0);
    expect(st.stderr).toContain('QEMU_FAILED');
    expect(st.stderr).toMatch(/migration|load/i);
    const vm = await d.vm('sr');
    expect(vm.state).toBe('saved');
    expect(existsSync(file)).toBe(true);
    expect(d.qemuPids()).toEqual([]);

    const fresh = await d.cli(['vm', 'start', 'sr', '--fresh']);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(existsSync(saveDir)).toBe(false);
    await waitForGuestReady(d, 'sr');
  }, 60_000);

  it('a daemon killed during a save: on restart the guest runs on, and no temp file is left', async () => {
    const op = await d.api.call<OperationRecord>('POST', '/v1/vms/sr/save', { maxBandwidth: 1_000_000 });
    await waitFor('the save to make progress', async () => existsSync(join(saveDir, 'saved-state.bin.partial')), 10_000, 50);
    const pid = (await d.vm('sr')).pid;
    await d.kill('SIGKILL');
    await d.launch();
    const vm = await d.vm('sr');
    expect(vm.state).toBe('running');
    expect(vm.pid).toBe(pid);
    expect(existsSync(saveDir)).toBe(false);
    expect((await d.api.call<OperationRecord>('GET', `/v1/operations/${op.id}`)).state).toBe('failed');
  }, 30_000);

  it('deleting a saved VM deletes its save', async () => {
    const saved = await d.cli(['vm', 'save', 'sr']);
    expect(saved.code, saved.stderr).toBe(0);
    expect(existsSync(join(saveDir, 'saved-state.bin'))).toBe(true);
    expect((await d.cli(['vm', 'delete', 'sr'])).code).toBe(0);
    expect(existsSync(saveDir)).toBe(false);
  }, 30_000);
});
