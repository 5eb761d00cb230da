/**
 * Chaos: the daemon is SIGKILLed in the middle of a VM start, a memory snapshot, an image
 * import and a volume clone. After each restart what Hangar says agrees with reality: VM
 * states with the QEMU processes that run (adopted, same pid, none orphaned or doubled),
 * lists with the files on disk (nothing half-visible, no stray files), interrupted
 * operations say so, and the VM can be started, stopped and snapshotted again.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageInfo } from '../../src/images/catalog.js';
import type { OperationRecord } from '../../src/operations/service.js';
import type { SnapshotView } from '../../src/snapshots/service.js';
import type { PoolView, VolumeRecord } from '../../src/storage/service.js';
import type { VmView } from '../../src/vm/service.js';
import { guestRun, serialLogEnd, sleep, TestDaemon, waitFor, waitForGuestReady } from './harness.js';

const run = promisify(execFile);
const VM = 'chaos';
let d: TestDaemon;

beforeAll(async () => {
  d = await TestDaemon.start();
  const r = await d.cli(['vm', 'create', VM, '--memory', '384M', '--disk-size', '64M']);
  expect(r.code, r.stderr).toBe(0);
});
afterAll(async () => {
  await d?.cleanup();
  await killQemuImgIn(d?.dir);
});

/** qemu-img processes working on files of this data dir (left behind by a killed daemon). */
function qemuImgPids(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileArgv(entry);
      if (argv[0] && basename(argv[0]).startsWith('qemu-img') && argv.some((a) => a.startsWith(`${dir}/`))) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

function readFileArgv(pid: string): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
}

async function killQemuImgIn(dir: string | undefined): Promise<void> {
  if (!dir) return;
  for (const pid of qemuImgPids(dir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** Internal snapshot names in a qcow2 file (read-only, shared with a running QEMU). */
async function diskSnapshots(path: string): Promise<string[]> {
  const { stdout } = await run('qemu-img', ['info', '-U', '--output=json', '-f', 'qcow2', path]);
  const info = JSON.parse(stdout) as { snapshots?: { name: string }[] };
  return (info.snapshots ?? []).map((s) => s.name).sort();
}

/**
 * Everything Hangar shows agrees with the host: VM states with QEMU processes, volumes and
 * images with files, snapshots with what the disks hold, and no operation left running.
 */
async function expectConsistent(): Promise<VmView[]> {
  const vms = await d.api.call<VmView[]>('GET', '/v1/vms');
  const qemu = d.qemuPids().sort((a, b) => a - b);
  for (const v of vms) {
    expect(['running', 'paused', 'stopped', 'crashed'], `${v.name} is ${v.state}: ${v.stateReason ?? ''}`).toContain(v.state);
    if (v.state === 'running' || v.state === 'paused') {
      expect(v.pid, `${v.name} is ${v.state} without a pid`).toBeTypeOf('number');
      expect(qemu, `${v.name} says pid ${v.pid}, but that QEMU is not running`).toContain(v.pid);
    } else {
      expect(v.pid, `${v.name} is ${v.state} but names pid ${v.pid}`).toBeUndefined();
    }
  }
  // Every QEMU of this data dir belongs to exactly one VM: no orphans, no duplicates.
  const owned = vms.flatMap((v) => (v.pid === undefined ? [] : [v.pid])).sort((a, b) => a - b);
  expect(qemu).toEqual(owned);

  const ops = await d.api.call<OperationRecord[]>('GET', '/v1/operations');
  expect(ops.filter((o) => o.state === 'running').map((o) => `${o.kind} ${o.target}`)).toEqual([]);

  // Pools hold exactly the files of their volumes, and every volume file is whole.
  const pools = await d.api.call<PoolView[]>('GET', '/v1/pools');
  const vols = await d.api.call<VolumeRecord[]>('GET', '/v1/volumes');
  for (const p of pools) {
    const files = existsSync(p.path) ? readdirSync(p.path).sort() : [];
    expect(files, `files in pool ${p.name}`).toEqual(vols.filter((v) => v.pool === p.name).map((v) => basename(v.path)).sort());
  }
  for (const v of vols) {
    const { stdout } = await run('qemu-img', ['info', '-U', '--output=json', '-f', v.format, v.path]);
    expect((JSON.parse(stdout) as { 'virtual-size': number })['virtual-size'], `size of ${v.name}`).toBe(v.sizeBytes);
  }

  // Imported images: a file for each record and nothing else; staging is empty.
  const images = (await d.api.call<ImageInfo[]>('GET', '/v1/images')).filter((i) => i.origin === 'imported');
  const imagesDir = join(d.dir, 'images');
  expect(readdirSync(imagesDir).filter((f) => f !== '.staging').sort()).toEqual(images.map((i) => basename(i.disk!.path)).sort());
  expect(readdirSync(join(imagesDir, '.staging'))).toEqual([]);
  for (const i of images) {
    const { stdout } = await run('qemu-img', ['info', '-U', '--output=json', '-f', 'qcow2', i.disk!.path]);
    expect((JSON.parse(stdout) as { 'virtual-size': number })['virtual-size']).toBe(i.disk!.virtualSizeBytes);
  }

  // Snapshots: the tree and the disks hold the same names.
  for (const v of vms) {
    const snaps = await d.api.call<SnapshotView[]>('GET', `/v1/vms/${v.name}/snapshots`);
    for (const disk of v.disks.filter((x) => x.format === 'qcow2' && !x.readOnly)) {
      const listed = snaps.filter((s) => s.disks.some((sd) => sd.id === disk.id && sd.path === disk.path)).map((s) => s.name).sort();
      expect(await diskSnapshots(disk.path), `snapshots inside ${v.name}'s ${disk.id}`).toEqual(listed);
    }
  }
  return vms;
}

/** Consistency may take a moment after a restart (a save QEMU was finishing, its cleanup): retries, then asserts. */
async function expectConsistentSoon(timeoutMs = 30_000): Promise<VmView[]> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      return await expectConsistent();
    } catch {
      await sleep(200);
    }
  }
  return expectConsistent();
}

/** Restarts the daemon and waits until no VM is still in a transient state. */
async function relaunch(): Promise<void> {
  await d.launch();
  await waitFor('VM states to settle', async () => {
    const vms = await d.api.call<VmView[]>('GET', '/v1/vms');
    return vms.every((v) => !['starting', 'stopping'].includes(v.state));
  }, 20_000, 50);
}

function expectInterrupted(op: OperationRecord): void {
  expect(op.state).toBe('failed');
  expect(op.error?.code).toBe('INTERRUPTED');
  expect(op.error?.message).toMatch(/^Interrupted/);
  expect(op.finishedAt).toBeTypeOf('string');
}

async function startAndStop(): Promise<void> {
  let r = await d.cli(['vm', 'start', VM]);
  expect(r.code, r.stderr).toBe(0);
  const v = await d.vm(VM);
  expect(v.state).toBe('running');
  expect(d.qemuPids()).toEqual([v.pid]);
  r = await d.cli(['vm', 'stop', VM, '--force']);
  expect(r.code, r.stderr).toBe(0);
  expect((await d.vm(VM)).state).toBe('stopped');
  expect(d.qemuPids()).toEqual([]);
}

/** A start the kill interrupted answered nothing, or had already succeeded: never an API error. */
function expectCutShort(outcome: unknown): void {
  const code = (outcome as { code?: string } | undefined)?.code;
  if (code !== undefined && /^[A-Z_]+$/.test(code)) expect(code, String(outcome)).toBe('DAEMON_UNREACHABLE');
}

async function ensureStopped(): Promise<void> {
  if ((await d.vm(VM)).state !== 'stopped') expect((await d.cli(['vm', 'stop', VM, '--force'])).code).toBe(0);
}

describe('SIGKILL during a VM start', () => {
  const outcomes: string[] = [];
  afterAll(() => console.log(`[chaos] start outcomes: ${outcomes.join(', ')}`));

  it.each([0, 20, 60, 150])('%i ms after the start request: adopted or stopped, never orphaned', async (delay) => {
    await ensureStopped();
    const req = d.api.call('POST', `/v1/vms/${VM}/start`, {}).catch((e: unknown) => e);
    await sleep(delay);
    await d.kill('SIGKILL');
    expectCutShort(await req);
    const survivors = d.qemuPids();
    await relaunch();
    const [v] = (await expectConsistent()).filter((x) => x.name === VM);
    outcomes.push(`${delay}ms→${v!.state}`);
    if (survivors.length > 0) {
      // QEMU was already launched: the new daemon adopted that very process and let it run.
      expect(v!.state, v!.stateReason).toBe('running');
      expect(v!.pid).toBe(survivors[0]);
    } else {
      expect(v!.state, v!.stateReason).toBe('stopped');
    }
    if (v!.state === 'running') {
      // Adopted and controlled over QMP: pause and resume reach that QEMU.
      for (const action of ['pause', 'resume']) expect((await d.cli(['vm', action, VM])).code).toBe(0);
      expect(await d.vm(VM)).toMatchObject({ state: 'running', pid: v!.pid });
      const r = await d.cli(['vm', 'stop', VM, '--force']);
      expect(r.code, r.stderr).toBe(0);
    }
    await startAndStop();
  });

  it('the moment the record says starting', async () => {
    await ensureStopped();
    const req = d.api.call('POST', `/v1/vms/${VM}/start`, {}).catch((e: unknown) => e);
    await waitFor('the starting state', async () => (await d.vm(VM)).state === 'starting', 10_000, 2);
    await d.kill('SIGKILL');
    expectCutShort(await req);
    const survivors = d.qemuPids();
    await relaunch();
    const [v] = (await expectConsistent()).filter((x) => x.name === VM);
    outcomes.push(`starting→${v!.state}`);
    if (survivors.length > 0) expect(v).toMatchObject({ state: 'running', pid: survivors[0] });
    if (v!.state === 'running') expect((await d.cli(['vm', 'stop', VM, '--force'])).code).toBe(0);
    await startAndStop();
  });
});

describe('SIGKILL during a snapshot with memory', () => {
  it('the guest keeps running, no half snapshot is visible, and snapshots work again', async () => {
    await ensureStopped();
    const since = await serialLogEnd(d, VM);
    expect((await d.cli(['vm', 'start', VM])).code).toBe(0);
    await waitForGuestReady(d, VM, { since });
    // A few hundred MiB of guest memory in use (not zero pages), so the save takes a moment.
    const fill = 'head -c 8m /dev/urandom >/tmp/f; i=0; while [ $i -lt 24 ]; do cat /tmp/f >/tmp/g$i; i=$((i+1)); done';
    expect(await guestRun(d, VM, `${fill}; echo FILL-$((1+1))`, 10_000)).toContain('FILL-2');
    const pid = (await d.vm(VM)).pid!;
    const disk = (await d.vm(VM)).disks[0]!.path;

    // The save lasts about half a second here: kill as soon as the disk grows, and try
    // again (a snapshot that completed first must then be listed, and is deleted) until a
    // kill lands while it ran.
    const outcomes: string[] = [];
    for (let attempt = 0; attempt < 4 && !outcomes.includes('interrupted'); attempt++) {
      const size0 = statSync(disk).size;
      const op = await d.api.call<OperationRecord>('POST', `/v1/vms/${VM}/snapshots`, { name: 'mem1', memory: true });
      expect(op.state).toBe('running');
      // The memory goes into the first disk: it grows while QEMU saves.
      await waitFor('the save to be under way', () => statSync(disk).size > size0 + 32 * 2 ** 20, 5000, 1);
      await d.kill('SIGKILL');
      expect(d.qemuPids()).toEqual([pid]);
      await relaunch();
      // The save QEMU was doing may still be finishing: wait until the guest runs again.
      await waitFor('the guest to run again', async () => (await d.vm(VM)).state === 'running', 60_000, 100);
      await expectConsistentSoon();
      expect((await d.vm(VM)).pid).toBe(pid);
      const after = await d.api.call<OperationRecord>('GET', `/v1/operations/${op.id}`);
      const listed = (await d.api.call<SnapshotView[]>('GET', `/v1/vms/${VM}/snapshots`)).map((x) => x.name);
      if (after.state === 'succeeded') {
        outcomes.push('completed');
        expect(listed).toEqual(['mem1']);
        expect((await d.cli(['snapshot', 'delete', VM, 'mem1'])).code).toBe(0);
      } else {
        outcomes.push('interrupted');
        expectInterrupted(after);
        expect(listed).toEqual([]);
        // QEMU finished the save on its own; the new daemon removed what nobody recorded.
        const events = await d.api.call<{ type: string; data: { snapshot?: string } }[]>('GET', `/v1/events?vm=${VM}`);
        expect(events.some((e) => e.type === 'snapshot.discarded' && e.data.snapshot === 'mem1')).toBe(true);
      }
    }
    console.log(`[chaos] memory snapshot attempts: ${outcomes.join(', ')}`);
    expect(outcomes).toContain('interrupted');

    // The guest still answers, and the same snapshot can be taken again, then reverted to.
    expect(await guestRun(d, VM, 'echo still-$((40+1))')).toContain('still-41');
    const t0 = Date.now();
    let r = await d.cli(['snapshot', 'create', VM, 'mem1', '--memory']);
    expect(r.code, r.stderr).toBe(0);
    console.log(`[chaos] an uninterrupted memory snapshot took ${Date.now() - t0} ms`);
    r = await d.cli(['snapshot', 'create', VM, 'disk1']);
    expect(r.code, r.stderr).toBe(0);
    r = await d.cli(['snapshot', 'revert', VM, 'mem1']);
    expect(r.code, r.stderr).toBe(0);
    expect((await d.vm(VM)).state).toBe('running');
    await expectConsistent();
    r = await d.cli(['vm', 'stop', VM, '--force']);
    expect(r.code, r.stderr).toBe(0);
    for (const s of ['disk1', 'mem1']) expect((await d.cli(['snapshot', 'delete', VM, s])).code).toBe(0);
    await expectConsistent();
  });
});

describe('SIGKILL during long storage work', () => {
  it('an image import from a local file: no image, no file, staging clean, import works again', async () => {
    const src = join(d.dir, 'big.raw');
    await run('truncate', ['-s', '384M', src]);
    // Real data (not holes) so the copy and the conversion take a moment.
    await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x5a 0 320M', src]);

    const op = await d.api.call<OperationRecord>('POST', '/v1/images', { name: 'big', file: src });
    await waitFor('the import to make progress', async () => ((await d.api.call<OperationRecord>('GET', `/v1/operations/${op.id}`)).progress.bytesDone ?? 0) > 0, 30_000, 10);
    await d.kill('SIGKILL');
    await relaunch();
    await expectConsistent();
    expect(qemuImgPids(d.dir)).toEqual([]);
    expectInterrupted(await d.api.call<OperationRecord>('GET', `/v1/operations/${op.id}`));
    expect((await d.api.call<ImageInfo[]>('GET', '/v1/images')).map((i) => i.name)).not.toContain('big');

    const r = await d.cli(['image', 'import', 'big', '--file', src]);
    expect(r.code, r.stderr).toBe(0);
    expect(await d.api.call<ImageInfo>('GET', '/v1/images/big')).toMatchObject({ status: 'ready', disk: { virtualSizeBytes: 384 * 2 ** 20 } });
    await expectConsistent();
    expect((await d.cli(['image', 'delete', 'big'])).code).toBe(0);
  });

  it('a volume clone: no half volume, no stray file in the pool, the clone works again', async () => {
    let r = await d.cli(['volume', 'create', 'src1', '--size', '512M']);
    expect(r.code, r.stderr).toBe(0);
    const srcVol = await d.api.call<VolumeRecord>('GET', '/v1/volumes/default/src1');
    await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x33 0 400M', srcVol.path]);

    const op = await d.api.call<OperationRecord>('POST', '/v1/volumes/default/src1/clone', { name: 'copy1' });
    await waitFor('the copy to start', () => existsSync(join(d.dir, 'pools', 'default', 'copy1.qcow2.partial')), 30_000, 5);
    await sleep(100);
    await d.kill('SIGKILL');
    await relaunch();
    await expectConsistent();
    expect(qemuImgPids(d.dir)).toEqual([]);
    expectInterrupted(await d.api.call<OperationRecord>('GET', `/v1/operations/${op.id}`));
    expect((await d.api.call<VolumeRecord[]>('GET', '/v1/volumes')).map((v) => v.name)).not.toContain('copy1');

    r = await d.cli(['volume', 'clone', 'src1', 'copy1']);
    expect(r.code, r.stderr).toBe(0);
    const copy = await d.api.call<VolumeRecord>('GET', '/v1/volumes/default/copy1');
    const cmp = await run('qemu-img', ['compare', '-f', 'qcow2', '-F', 'qcow2', srcVol.path, copy.path]);
    expect(cmp.stdout).toContain('Images are identical');
    await expectConsistent();
    for (const v of ['copy1', 'src1']) expect((await d.cli(['volume', 'delete', v])).code).toBe(0);
  });
});
