/**
 * Live restore on real guests (tiny image, TCG). The copy is slowed to 4 MiB/s (the
 * daemon's HANGAR_LIVE_RESTORE_BPS test hook), so the tests can act while it runs:
 * - the VM runs and answers on its console before the copy has ended;
 * - a daemon killed during the copy: after the restart the copy goes on and the disk ends
 *   up complete and equal to the source's at the backup;
 * - a QEMU killed during the copy: the VM is marked failed (never a silently incomplete
 *   disk), and the NBD server is gone.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backup, Operation } from '../../src/contract/index.js';
import { guestRun, TestDaemon, waitFor, waitForGuestReady } from './harness.js';

let d: TestDaemon;
let backup: Backup;
let sourceHash: string;

async function hashOf(vm: string): Promise<string> {
  const out = await guestRun(d, vm, 'sha256sum /dev/vda', 60_000);
  const m = /^([0-9a-f]{64})\s+\/dev\/vda/m.exec(out);
  if (!m) throw new Error(`no hash in ${out}`);
  return m[1]!;
}

/** `hangar backup serve` processes of this daemon. */
function servers(): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (argv.includes('serve') && argv.some((a) => a.includes(`${d.dir}/run/live-restore/`))) out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}

beforeAll(async () => {
  process.env.HANGAR_LIVE_RESTORE_BPS = String(4 * 1024 * 1024);
  try {
    d = await TestDaemon.start();
  } finally {
    delete process.env.HANGAR_LIVE_RESTORE_BPS;
  }
  let r = await d.cli(['backup-repo', 'create', 'main', '--path', `${d.dir}/repo`]);
  expect(r.code, r.stderr).toBe(0);
  r = await d.cli(['vm', 'create', 'src', '--memory', '128M', '--disk-size', '64M', '--start']);
  expect(r.code, r.stderr).toBe(0);
  await waitForGuestReady(d, 'src');
  expect(await guestRun(d, 'src', 'dd if=/dev/urandom of=/dev/vda bs=1M count=48 conv=fsync 2>/dev/null; echo FILLED-$((1+1))', 60_000)).toContain('FILLED-2');
  sourceHash = await hashOf('src');
  r = await d.cli(['backup', 'create', 'src', '--output', 'json'], undefined, 120_000);
  expect(r.code, r.stderr).toBe(0);
  backup = JSON.parse(r.stdout) as Backup;
  r = await d.cli(['vm', 'stop', 'src', '--force']);
  expect(r.code, r.stderr).toBe(0);
}, 180_000);
afterAll(async () => {
  await d?.cleanup();
});

describe('live restore', () => {
  it('the VM runs and answers before the copy has ended; a daemon killed mid-copy: the copy goes on and the disk is complete', async () => {
    const t0 = performance.now();
    const op = await d.api.backups.restore(backup.id, { as: 'live1', live: true });
    await waitFor('live1 running', async () => (await d.api.vms.list()).some((v) => v.name === 'live1' && v.state === 'running'), 60_000, 50);
    const runningMs = performance.now() - t0;
    console.log(`live restore: VM running ${Math.round(runningMs)} ms after the request`);
    await waitForGuestReady(d, 'live1');
    let vm = await d.vm('live1');
    expect(vm.liveRestore?.state).toBe('copying');
    expect((await d.api.operations.get(op.id)).state).toBe('running');
    expect(servers()).toHaveLength(1);
    await d.kill('SIGKILL');
    await d.launch();
    vm = await d.vm('live1');
    expect(vm.state).toBe('running');
    expect(vm.liveRestore?.state).toBe('copying');
    await waitFor('the copy to end', async () => (await d.vm('live1')).liveRestore === undefined, 120_000, 500);
    expect(servers()).toEqual([]);
    expect(readdirSync(`${d.dir}/run/live-restore`)).toEqual([]);
    expect(await hashOf('live1')).toBe(sourceHash);
    expect((await d.api.operations.get(op.id)).state).toBe('failed');
  }, 300_000);

  it('a QEMU killed mid-copy: the VM is marked failed, the server goes', async () => {
    const op: Operation = await d.api.backups.restore(backup.id, { as: 'live2', live: true });
    await waitFor('live2 running', async () => (await d.api.vms.list()).some((v) => v.name === 'live2' && v.state === 'running'), 60_000, 50);
    const vm = await d.vm('live2');
    expect(vm.liveRestore?.state).toBe('copying');
    process.kill(vm.pid!, 'SIGKILL');
    const done = await waitFor('the restore operation to end', async () => {
      const o = await d.api.operations.get(op.id);
      return o.state === 'running' ? undefined : o;
    }, 60_000, 100);
    expect(done.state).toBe('failed');
    expect(done.error?.message).toMatch(/incomplete/);
    const after = await d.vm('live2');
    expect(after.liveRestore?.state).toBe('failed');
    expect(after.liveRestore?.error).toMatch(/incomplete/);
    await waitFor('no NBD server', () => servers().length === 0, 10_000, 100);
  }, 180_000);
});
