/**
 * Live migration between two daemons, each in a network namespace of its own, joined by a
 * veth pair (10.213.0.1 ↔ 10.213.0.2): the daemons talk over TLS with tokens, and QEMU's
 * migration stream (and the NBD disk copy) goes between the namespaces. One tiny guest with
 * a data disk prints a counter on its serial console every 100 ms and moves back and forth:
 * copying its disk (local storage), then over shared storage, then through failures (the
 * destination's QEMU killed, the destination daemon killed), and while it dirties memory.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MigrateResult } from '../../src/migration/live.js';
import type { OperationRecord } from '../../src/operations/service.js';
import { guestRun, sleep, TestDaemon, waitFor, waitForGuestReady } from './harness.js';

const tag = String(process.pid % 100000);
const NS = { a: `hgm-a-${tag}`, b: `hgm-b-${tag}` };
const VETH = { a: `hgma${tag}`, b: `hgmb${tag}` };
const ADDR = { a: '10.213.0.1', b: '10.213.0.2' };
const PORT = 8443;
const VM = 'mig';

let a: TestDaemon;
let b: TestDaemon;

function ip(args: string[], quiet = false): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    if (quiet) return '';
    throw e;
  }
}

function removeNetwork(): void {
  for (const ns of Object.values(NS)) ip(['netns', 'del', ns], true);
  ip(['link', 'del', VETH.a], true);
}

async function token(d: TestDaemon): Promise<string> {
  const r = await d.cli(['token', 'create', `peer-${Date.now()}`, '--role', 'admin']);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

beforeAll(async () => {
  removeNetwork();
  ip(['netns', 'add', NS.a]);
  ip(['netns', 'add', NS.b]);
  ip(['link', 'add', VETH.a, 'netns', NS.a, 'type', 'veth', 'peer', 'name', VETH.b, 'netns', NS.b]);
  for (const side of ['a', 'b'] as const) {
    ip(['-n', NS[side], 'addr', 'add', `${ADDR[side]}/30`, 'dev', VETH[side]]);
    ip(['-n', NS[side], 'link', 'set', VETH[side], 'up']);
    ip(['-n', NS[side], 'link', 'set', 'lo', 'up']);
  }
  [a, b] = await Promise.all([
    TestDaemon.start({ netns: NS.a, args: ['--listen', `${ADDR.a}:${PORT}`] }),
    TestDaemon.start({ netns: NS.b, args: ['--listen', `${ADDR.b}:${PORT}`] }),
  ]);
  // Each knows the other as a peer (the fingerprint is pinned at first contact).
  const [ta, tb] = await Promise.all([token(a), token(b)]);
  let r = await a.cli(['peer', 'add', 'b', `https://${ADDR.b}:${PORT}`, '--token', tb]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/certificate SHA-256 [0-9A-F:]{95} \(pinned\)/);
  r = await b.cli(['peer', 'add', 'a', `https://${ADDR.a}:${PORT}`, '--token', ta]);
  expect(r.code, r.stderr).toBe(0);

  r = await a.cli(['vm', 'create', VM, '--memory', '256M', '--disk-size', '64M', '--start']);
  expect(r.code, r.stderr).toBe(0);
  await waitForGuestReady(a, VM);
  // A mark on the data disk, and the counter.
  await guestRun(a, VM, 'echo HANGAR-DISK-MARK-7 | dd of=/dev/vda bs=512 count=1 conv=sync 2>/dev/null; sync');
  await guestRun(a, VM, 'i=0; while true; do i=$((i+1)); echo "count=$i" > /dev/console; sleep 0.1; done &');
}, 120_000);

afterAll(async () => {
  await Promise.all([a?.cleanup(), b?.cleanup()]);
  removeNetwork();
});

/** Serial log of the VM on a daemon, polled every 20 ms: each counter value with when it was first seen. */
class CounterWatch {
  readonly seen = new Map<number, number>();
  private offset = 0;
  private stopped = false;
  readonly done: Promise<void>;

  /** `from`: the source's log offset to start at; `arriving`: watch a destination, from its new QEMU on. */
  constructor(private readonly d: TestDaemon, from: number | 'arriving') {
    if (from === 'arriving') this.waitForArrival = true;
    else this.offset = from;
    this.done = this.loop();
  }

  private waitForArrival = false;

  private async loop(): Promise<void> {
    let tail = '';
    while (!this.stopped) {
      try {
        if (this.waitForArrival) {
          // A destination's log starts with the arriving QEMU (an earlier stay's is replaced).
          const v = await this.d.vm(VM).catch(() => undefined);
          if (!v || v.state === 'migrated') {
            await sleep(20);
            continue;
          }
          this.waitForArrival = false;
          this.offset = 0;
        }
        const r = await this.d.api.call<{ data: string; nextOffset: number }>('GET', `/v1/vms/${VM}/logs?offset=${this.offset}`);
        const now = Date.now();
        const text = tail + r.data;
        const lines = text.split('\n');
        tail = lines.pop() ?? '';
        for (const l of lines) {
          const m = /count=(\d+)/.exec(l);
          if (m && !this.seen.has(Number(m[1]))) this.seen.set(Number(m[1]), now);
        }
        this.offset = r.nextOffset;
      } catch {
        // not there (yet)
      }
      await sleep(20);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  values(): number[] {
    return [...this.seen.keys()].sort((x, y) => x - y);
  }
}

async function logEnd(d: TestDaemon): Promise<number> {
  return (await d.api.call<{ nextOffset: number }>('GET', `/v1/vms/${VM}/logs?tail=0`)).nextOffset;
}

async function waitOp(d: TestDaemon, id: string, timeoutMs = 120_000): Promise<OperationRecord> {
  return waitFor(`operation ${id} to end`, async () => {
    const op = await d.api.call<OperationRecord>('GET', `/v1/operations/${id}`);
    return op.state === 'running' ? undefined : op;
  }, timeoutMs, 50);
}

/**
 * Migrates the counting guest from → to and checks the counter: it continues on the
 * destination without a reset, and the wall-clock gap between the last value seen on the
 * source and the first seen on the destination is within the reported downtime plus the
 * counter's own 100 ms period and the 20 ms polling (with slack for TCG).
 */
async function migrateCounting(from: TestDaemon, to: TestDaemon, peer: string, extra: string[] = []): Promise<MigrateResult> {
  const src = new CounterWatch(from, await logEnd(from));
  await sleep(500);
  const dst = new CounterWatch(to, 'arriving');
  const r = await from.cli(['vm', 'migrate', VM, '--to', peer, '--output', 'json', ...extra], undefined, 180_000);
  expect(r.code, `${r.stderr}\n${from.daemonLog.slice(-3000)}\n${to.daemonLog.slice(-3000)}`).toBe(0);
  const result = JSON.parse(r.stdout) as MigrateResult;
  await waitFor('the counter to go on at the destination', () => {
    const last = Math.max(...src.values());
    return dst.values().filter((v) => v > last).length >= 5;
  }, 20_000);
  await Promise.all([src.stop(), dst.stop()]);
  const before = src.values();
  // The destination may have a log of this VM from an earlier stay: only this run's values count.
  const after = dst.values().filter((v) => v >= before[0]!);
  expect(before.length).toBeGreaterThan(2);
  const last = before[before.length - 1]!;
  // No reset: the destination goes on from the source's last value (or the one after it).
  expect(after[0]).toBeGreaterThanOrEqual(last - 1);
  expect(after[0]).toBeLessThanOrEqual(last + 1);
  for (let i = 1; i < after.length; i++) expect(after[i]).toBe(after[i - 1]! + 1);
  const firstNew = after.find((v) => v > last)!;
  const gap = dst.seen.get(firstNew)! - src.seen.get(last)!;
  expect(gap, `gap ${gap} ms, reported downtime ${result.downtimeMs} ms`).toBeLessThanOrEqual(result.downtimeMs + 100 + 400);
  return result;
}

/** Starts a migration a → b capped at `bytesPerSecond` and returns once memory is being sent (and some is left). */
async function slowMigrationToB(bytesPerSecond: number): Promise<OperationRecord> {
  const op = await a.api.call<OperationRecord>('POST', `/v1/vms/${VM}/migrate`, { to: 'b', maxBandwidth: bytesPerSecond });
  await waitFor('memory copy to start', async () => {
    const o = await a.api.call<OperationRecord>('GET', `/v1/operations/${op.id}`);
    return o.progress.phase === 'copying memory' && (o.progress.bytesDone ?? 0) > 0 && (o.progress.remainingBytes ?? 0) > 0;
  }, 60_000, 50);
  return op;
}

describe('live migration between two hosts (network namespaces)', () => {
  it('copies the disk (local storage): the counter goes on, the source QEMU is gone, the record says where it went', async () => {
    const before = await a.vm(VM);
    const srcDisk = before.disks[0]!.path;
    const result = await migrateCounting(a, b, 'b', ['--copy-storage']);
    expect(result.storage).toBe('copy');
    expect(result.diskBytes).toBeGreaterThan(0);
    const gone = await a.vm(VM);
    expect(gone.state).toBe('migrated');
    expect(gone.migratedTo?.peer).toBe('b');
    expect(gone.pid).toBeUndefined();
    expect(a.qemuPids()).toEqual([]);
    expect(existsSync(srcDisk)).toBe(false);
    const there = await b.vm(VM);
    expect(there.state).toBe('running');
    expect(there.id).toBe(before.id);
    expect(there.disks[0]!.path.startsWith(b.dir)).toBe(true);
    expect(there.migration).toBeUndefined();
    expect(await guestRun(b, VM, 'dd if=/dev/vda bs=512 count=1 2>/dev/null | head -c 18; echo')).toContain('HANGAR-DISK-MARK-7');
  }, 240_000);

  it('moves back over shared storage (the same paths on both hosts)', async () => {
    const disk = (await b.vm(VM)).disks[0]!.path;
    const result = await migrateCounting(b, a, 'a');
    expect(result.storage).toBe('shared');
    expect(result.diskBytes).toBe(0);
    expect((await b.vm(VM)).state).toBe('migrated');
    const back = await a.vm(VM);
    expect(back.state).toBe('running');
    expect(back.disks[0]!.path).toBe(disk);
    expect(existsSync(disk)).toBe(true);
    expect(b.qemuPids()).toEqual([]);
    // The tombstone on b goes with `vm delete`, and leaves the disk a now uses alone.
    expect((await b.cli(['vm', 'delete', VM])).code).toBe(0);
    expect(existsSync(disk)).toBe(true);
  }, 240_000);

  it('survives the destination QEMU being killed mid-way: the guest runs on, the operation fails with a reason, a retry works', async () => {
    const pid = (await a.vm(VM)).pid;
    const op = await slowMigrationToB(4_000_000);
    // (Not by command line: a's QEMU uses a disk in b's data dir since the shared-storage move.)
    const victim = (await b.vm(VM)).pid;
    expect(victim).toBeGreaterThan(0);
    process.kill(victim!, 'SIGKILL');
    const end = await waitOp(a, op.id);
    expect(end.state).toBe('failed');
    expect(end.error?.code).toBe('MIGRATION_FAILED');
    expect(end.error?.message).toMatch(/goes on running here/);
    const v = await a.vm(VM);
    expect(v.state).toBe('running');
    expect(v.pid).toBe(pid);
    expect(v.migration).toBeUndefined();
    await waitFor('the destination to forget the guest', async () => (await b.api.call<{ name: string }[]>('GET', '/v1/vms')).length === 0, 30_000);
    expect(b.qemuPids()).toEqual([]);
    const mark = await guestRun(a, VM, 'echo alive-$((3*5))');
    expect(mark).toContain('alive-15');
  }, 240_000);

  it('is cancelled on request: the guest runs on here, nothing is left on the destination', async () => {
    const pid = (await a.vm(VM)).pid;
    const op = await slowMigrationToB(4_000_000);
    expect((await a.cli(['operation', 'cancel', op.id])).code).toBe(0);
    const end = await waitOp(a, op.id);
    expect(end.state).toBe('cancelled');
    const v = await a.vm(VM);
    expect(v.state).toBe('running');
    expect(v.pid).toBe(pid);
    await waitFor('the destination to forget the guest', async () => (await b.api.call<{ name: string }[]>('GET', '/v1/vms')).length === 0, 30_000);
    expect(b.qemuPids()).toEqual([]);
  }, 120_000);

  it('survives the destination daemon being killed mid-way; its restart removes the half-arrived guest', async () => {
    const pid = (await a.vm(VM)).pid;
    const op = await slowMigrationToB(8_000_000);
    await b.kill('SIGKILL');
    const end = await waitOp(a, op.id);
    expect(end.state).toBe('failed');
    expect(end.error?.message).toMatch(/goes on running here/);
    const v = await a.vm(VM);
    expect(v.state, a.daemonLog.slice(-5000)).toBe('running');
    expect(v.pid).toBe(pid);
    await b.launch();
    await waitFor('the restarted destination to remove the half-arrived guest', async () => (await b.api.call<{ name: string }[]>('GET', '/v1/vms')).length === 0 && b.qemuPids().length === 0, 30_000);
    // The second attempt goes through (and the guest comes back to a for the next test).
    await migrateCounting(a, b, 'b', ['--copy-storage']);
    await migrateCounting(b, a, 'a', ['--copy-storage']);
    expect((await b.cli(['vm', 'delete', VM])).code).toBe(0);
  }, 300_000);

  it('survives the source daemon being killed mid-way: the restarted daemon cancels, resumes the guest and has the destination clean up', async () => {
    const pid = (await a.vm(VM)).pid;
    await slowMigrationToB(8_000_000);
    await a.kill('SIGKILL');
    await a.launch();
    await waitFor('the restarted source to take its guest back', async () => {
      const v = await a.vm(VM);
      return v.state === 'running' && v.migration === undefined;
    }, 30_000);
    expect((await a.vm(VM)).pid).toBe(pid);
    await waitFor('the destination to forget the guest', async () => (await b.api.call<{ name: string }[]>('GET', '/v1/vms')).length === 0 && b.qemuPids().length === 0, 30_000);
    expect(await guestRun(a, VM, 'echo back-$((2*21))')).toContain('back-42');
  }, 120_000);

  it('completes for a guest dirtying memory faster than the link allows, by switching to post-copy', async () => {
    // ~60 MB rewritten in a loop; the link capped at 8 MB/s: pre-copy alone cannot converge.
    await guestRun(a, VM, 'mkdir -p /dev/shm; (while true; do yes HANGAR-DIRTY | head -c 60000000 > /dev/shm/buf; done) &');
    await sleep(1000);
    const flags = ['--copy-storage', '--bandwidth', '8M', '--postcopy', 'auto', '--no-auto-converge'];
    // Guests run as their own users: receiving post-copy needs userfaultfd for them, which the
    // destination refuses clearly while the kernel forbids it.
    const sysctl = '/proc/sys/vm/unprivileged_userfaultfd';
    const was = readFileSync(sysctl, 'utf8').trim();
    writeFileSync(sysctl, '0');
    const refused = await a.cli(['vm', 'migrate', VM, '--to', 'b', ...flags]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/vm\.unprivileged_userfaultfd/);
    expect((await a.vm(VM)).state).toBe('running');
    writeFileSync(sysctl, '1');
    try {
      const result = await migrateCounting(a, b, 'b', flags);
      expect(result.postcopy).toBe(true);
      expect((await b.vm(VM)).state).toBe('running');
    } finally {
      writeFileSync(sysctl, was);
    }
  }, 300_000);
});
