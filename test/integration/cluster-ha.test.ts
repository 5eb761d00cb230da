/**
 * HA with fencing: two nodes on one etcd; node n1 reaches etcd through a proxy the test
 * cuts (its control link), while its storage (a shared directory pool) stays. Its fencer
 * kills its HA guest before the lease can expire; n2 restarts it no earlier than expiry plus
 * grace. A node frozen (SIGSTOP, daemon and fencer) past TTL + grace loses its HA guest to
 * the other node, and on SIGCONT its fencer kills the stale QEMU at once.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startEtcd, type TestEtcd } from '../../src/etcd/test-etcd.js';
import type { FencerState } from '../../src/cluster/fencer/files.js';
import { isSameLiveProcess, readProcStat } from '../../src/util/proc.js';
import { sleep, TestDaemon, waitFor, waitForGuestReady } from './harness.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

const TTL = 6;
const GRACE_MS = 2000;
const MARGIN_MS = 1000;

let etcd: TestEtcd;
let proxy: TcpProxy;
let n1: TestDaemon;
let n2: TestDaemon;
let shared: string;

const fencerState = (d: TestDaemon) => JSON.parse(readFileSync(join(d.dir, 'fencer', 'fencer.json'), 'utf8')) as FencerState;
const alive = (pid: number, start: string) => isSameLiveProcess(pid, start);

beforeAll(async () => {
  etcd = await startEtcd();
  const direct = new URL(etcd.endpoints[0]!);
  proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port) });
  shared = mkdtempSync(join(tmpdir(), 'hgt-shared-'));
  // Two nodes on one host: QEMU's image lock would keep a second QEMU off the shared disk by
  // itself. Off here, so that only the fencing keeps one writer at a time.
  process.env.HANGAR_IMAGE_LOCKING = 'off';
  try {
    n1 = await TestDaemon.start({ args: ['--listen', `127.0.0.1:${await freePort()}`, '--cpu-overcommit', '4'] });
    n2 = await TestDaemon.start({ args: ['--listen', `127.0.0.1:${await freePort()}`, '--cpu-overcommit', '4'] });
  } finally {
    delete process.env.HANGAR_IMAGE_LOCKING;
  }
  let r = await n1.cli(['cluster', 'init', '--etcd', proxy.url, '--name', 'n1', '--lease-ttl', String(TTL)]);
  expect(r.code, r.stderr).toBe(0);
  r = await n1.cli(['cluster', 'add', 'n2']);
  expect(r.code, r.stderr).toBe(0);
  r = await n2.cli(['cluster', 'join', r.stdout.trim(), '--etcd', etcd.endpoints[0]!]);
  expect(r.code, r.stderr).toBe(0);
  r = await n1.cli(['pool', 'create', 'shared', '--path', shared, '--shared']);
  expect(r.code, r.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  proxy?.restore();
  await n2?.cleanup();
  await n1?.cleanup();
  await proxy?.close();
  await etcd?.stop();
  if (shared) rmSync(shared, { recursive: true, force: true });
});

describe('HA with fencing', () => {
  it('refuses HA for a VM whose disks are not on a shared pool, and bad timings, changing nothing', async () => {
    let r = await n1.cli(['vm', 'create', 'local1', '--memory', '128M', '--disk-size', '16M', '--target', 'n1']);
    expect(r.code, r.stderr).toBe(0);
    r = await n1.cli(['vm', 'set', 'local1', 'ha=true']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('HA_NEEDS_SHARED_STORAGE');
    expect((await n1.vm('local1')).ha).toBeUndefined();
    r = await n1.cli(['vm', 'create', 'local2', '--memory', '128M', '--disk-size', '16M', '--ha']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('HA_NEEDS_SHARED_STORAGE');
    expect((await n1.api.vms.list()).map((v) => v.name)).toEqual(['local1']);
    r = await n1.cli(['vm', 'set', 'local1', 'ha.priority=5']);
    expect(r.stderr).toContain('INVALID_SPEC');
    expect((await n1.cli(['vm', 'delete', 'local1'])).code).toBe(0);
    const status = JSON.parse((await n1.cli(['cluster', 'status', '-o', 'json'])).stdout) as { fencerPid?: number; haGraceSeconds: number; fenceMarginSeconds: number };
    expect(status).toMatchObject({ haGraceSeconds: GRACE_MS / 1000, fenceMarginSeconds: MARGIN_MS / 1000 });
    expect(status.fencerPid).toBeGreaterThan(0);
  });

  it('a node cut from etcd: its fencer kills the HA guest before the lease can expire, and the other node runs it after expiry + grace', async () => {
    let r = await n1.cli(['vm', 'create', 'ha1', '--memory', '128M', '--disk-size', '16M', '--pool', 'shared', '--ha', '--target', 'n1', '--start']);
    expect(r.code, r.stderr).toBe(0);
    r = await n1.cli(['vm', 'create', 'plain1', '--memory', '128M', '--target', 'n1', '--start']);
    expect(r.code, r.stderr).toBe(0);
    await waitForGuestReady(n1, 'ha1');
    const before = await n1.vm('ha1');
    expect(before).toMatchObject({ node: 'n1', state: 'running', ha: { priority: 0 } });
    const qemu = { pid: before.pid!, start: readProcStat(before.pid!)!.startTime };
    const plain = (await n1.vm('plain1')).pid!;
    const plainStart = readProcStat(plain)!.startTime;
    // The fencer knows the guest (the daemon lists HA guests for it).
    await waitFor('the fencer to list ha1', () => JSON.parse(readFileSync(join(n1.dir, 'fencer', 'guests.json'), 'utf8')).some((g: { name: string }) => g.name === 'ha1'), 10_000);

    const cut = Date.now();
    proxy.cut();
    const killedAt = await waitFor('the fencer to kill ha1', () => (alive(qemu.pid, qemu.start) ? undefined : Date.now()), 15_000, 20);
    const lastAck = fencerState(n1).lastAckAt!;
    console.log(`fenced: last ack → kill ${killedAt - lastAck} ms (TTL ${TTL * 1000}, margin ${MARGIN_MS}); cut → kill ${killedAt - cut} ms`);
    expect(killedAt - lastAck).toBeLessThanOrEqual(TTL * 1000 - MARGIN_MS + 400);
    expect(killedAt - lastAck).toBeGreaterThanOrEqual(TTL * 1000 - MARGIN_MS - 100);
    // The fencer records what it did right after the kill.
    expect(await waitFor('the fencer to record the fence', () => fencerState(n1).fenced?.vms, 2000, 20)).toEqual(['ha1']);

    const moved = await waitFor('ha1 to run on n2', async () => {
      const v = await n2.vm('ha1');
      return v.node === 'n2' && v.state === 'running' ? v : undefined;
    }, 30_000, 100);
    const runningAt = Date.now();
    // Once it runs, the HA manager clears its pending mark.
    await waitFor('ha1 to be no longer pending', async () => (await n2.vm('ha1')).haPending === undefined, 5000);
    const startedAt = Date.parse(moved.startedAt!);
    console.log(`HA: cut → running on n2 ${runningAt - cut} ms; QEMU started ${startedAt - lastAck} ms after n1's last ack (TTL + grace = ${TTL * 1000 + GRACE_MS})`);
    expect(startedAt).toBeGreaterThanOrEqual(lastAck + TTL * 1000 + GRACE_MS - 200);
    expect(startedAt).toBeGreaterThan(killedAt);
    expect(runningAt - cut).toBeLessThan(20_000);
    expect(moved.lastMove).toMatchObject({ from: 'n1', to: 'n2' });
    await waitForGuestReady(n2, 'ha1');
    // The guest without HA ran on, untouched.
    expect(alive(plain, plainStart)).toBe(true);
    const events = await n2.api.events.list({ vm: 'ha1' });
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['vm.ha-moved', 'vm.ha-started']));

    // The link comes back: n1 is online again, fenced no more, and leaves ha1 to n2.
    proxy.restore();
    await waitFor('n1 to be online again', async () => {
      const nodes = await n2.api.cluster.nodes();
      return nodes.find((n) => n.name === 'n1')?.state === 'online';
    }, 20_000);
    await waitFor('n1 to lift its fence', () => !fencerState(n1).fenced, 10_000);
    await sleep(2000);
    expect(n1.qemuPids().filter((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(moved.id))).toEqual([]);
    expect(await n1.vm('ha1')).toMatchObject({ node: 'n2', state: 'running', pid: moved.pid });
    expect(alive(plain, plainStart)).toBe(true);
  }, 180_000);

  it('a node frozen past TTL + grace loses its HA guest; on SIGCONT its fencer kills the stale QEMU at once', async () => {
    const v = await n2.vm('ha1');
    expect(v.node).toBe('n2');
    const qemu = { pid: v.pid!, start: readProcStat(v.pid!)!.startTime };
    const fencer = fencerState(n2);
    const frozen = [n2.pid!, fencer.pid];
    for (const pid of frozen) process.kill(pid, 'SIGSTOP');
    let resumed = 0;
    try {
      const back = await waitFor('ha1 to run on n1', async () => {
        const x = await n1.vm('ha1');
        return x.node === 'n1' && x.state === 'running' ? x : undefined;
      }, 40_000, 100).catch((e: unknown) => {
        console.log(`n1 log:\n${n1.daemonLog.slice(-6000)}\nn1 fencer:\n${readFileSync(join(n1.dir, 'fencer', 'fencer.log'), 'utf8')}`);
        throw e;
      });
      expect(back.lastMove).toMatchObject({ from: 'n2', to: 'n1' });
      // The frozen node's QEMU still runs: nothing on that host could stop it.
      expect(alive(qemu.pid, qemu.start)).toBe(true);
    } finally {
      for (const pid of frozen) process.kill(pid, 'SIGCONT');
      resumed = Date.now();
    }
    const killedAt = await waitFor('the stale QEMU to die', () => (alive(qemu.pid, qemu.start) ? undefined : Date.now()), 5_000, 10);
    console.log(`stale node: SIGCONT → stale QEMU killed in ${killedAt - resumed} ms`);
    expect(killedAt - resumed).toBeLessThan(1000);
    // Its daemon cannot write the VM back to itself; the VM stays n1's, running once.
    await sleep(3000);
    const now = await n1.vm('ha1');
    expect(now).toMatchObject({ node: 'n1', state: 'running' });
    expect(n2.qemuPids().filter((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(now.id))).toEqual([]);
  }, 120_000);
});
