/**
 * Evacuating an offline node (issue 17, part 6): one etcd, two TLS daemons on this host, a
 * shared directory pool, QEMU's image locking on (a second guard: one host). n1's daemon is
 * SIGKILLed; its fencer stops renewing the lease and kills n1's HA guest at the deadline.
 * `node evacuate n1` through n2 then waits for HA, which restarts the HA guest on n2 (never
 * two QEMUs of it at once), and lists the non-HA guest on shared storage and the local-disk
 * guest as stranded, each with its reason, untouched. With n1's daemon back, `node restore
 * n1` brings back only the recovered guest.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startEtcd, type TestEtcd } from '../../src/etcd/test-etcd.js';
import { isSameLiveProcess, readProcStat } from '../../src/util/proc.js';
import { TestDaemon, waitFor, waitForGuestReady } from './harness.js';

const TTL = 6;
/** Long enough that the evacuation, started once n1 shows offline, begins before HA moves anything. */
const GRACE = 5;

let etcd: TestEtcd;
let n1: TestDaemon;
let n2: TestDaemon;
let shared: string;

interface Item { vm: string; action: string; outcome: string; to?: string; error?: string }
interface Result { node: string; offline: boolean; results: Item[]; moved: number; failed: number; stranded: number; totalMs: number }

/** Every live QEMU on this host whose command line names the VM id (either node's). */
function qemusOf(id: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      const state = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]?.[0];
      if (/^(\S*\/)?qemu-system/.test(cmd) && cmd.includes(id) && state !== 'Z') pids.push(Number(entry));
    } catch {
      // gone while we looked
    }
  }
  return pids;
}

const runsIn = (d: TestDaemon, pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(join(d.dir, 'run', 'vms'));
const nodeList = async (d: TestDaemon) => JSON.parse((await d.cli(['node', 'list', '-o', 'json'])).stdout) as { name: string; state: string; evacuation?: { state: string } }[];
/** n2's own list (never carried to n1). */
const listed = async (name: string) => (await n2.api.vms.list()).find((v) => v.name === name)!;

beforeAll(async () => {
  etcd = await startEtcd();
  shared = mkdtempSync(join(tmpdir(), 'hgt-shared-'));
  const start = async () => TestDaemon.start({ args: ['--listen', `127.0.0.1:${await freePort()}`, '--cpu-overcommit', '4'] });
  [n1, n2] = await Promise.all([start(), start()]);
  let r = await n1.cli(['cluster', 'init', '--etcd', etcd.endpoints.join(','), '--name', 'n1', '--lease-ttl', String(TTL), '--ha-grace', String(GRACE)]);
  expect(r.code, r.stderr).toBe(0);
  r = await n1.cli(['cluster', 'add', 'n2']);
  expect(r.code, r.stderr).toBe(0);
  r = await n2.cli(['cluster', 'join', r.stdout.trim()]);
  expect(r.code, r.stderr).toBe(0);
  r = await n1.cli(['pool', 'create', 'shared', '--path', shared, '--shared']);
  expect(r.code, r.stderr).toBe(0);
  await waitFor('both nodes online with their TLS address', async () => (await nodeList(n1)).filter((n) => n.state === 'online').length === 2, 15_000);
  // On n1: an HA guest and a plain one on the shared pool, and one on n1's own pool.
  const creates = [['off-ha', '--pool', 'shared', '--ha'], ['off-plain', '--pool', 'shared'], ['off-local']];
  await Promise.all(creates.map(async ([name, ...flags]) => {
    const c = await n1.cli(['vm', 'create', name!, '--memory', '128M', '--disk-size', '16M', '--target', 'n1', '--start', ...flags]);
    expect(c.code, c.stderr).toBe(0);
  }));
}, 90_000);

afterAll(async () => {
  await n2?.cleanup();
  await n1?.cleanup();
  await etcd?.stop();
  if (shared) rmSync(shared, { recursive: true, force: true });
});

describe('node evacuate of an offline node', () => {
  const before: Record<string, { id: string; pid: number; start: string }> = {};

  it('recovers the HA guest on n2 through HA (never two QEMUs), strands the others with their reasons, changes nothing else', async () => {
    for (const name of ['off-ha', 'off-plain', 'off-local']) {
      const v = await n1.vm(name);
      expect(v).toMatchObject({ node: 'n1', state: 'running' });
      before[name] = { id: v.id, pid: v.pid!, start: readProcStat(v.pid!)!.startTime };
    }
    const ha = before['off-ha']!;
    // The HA guest's QEMUs, every 50 ms from the kill on: at most one at any time.
    const seen: number[][] = [];
    const sampler = setInterval(() => seen.push(qemusOf(ha.id)), 50);
    try {
      await n1.kill('SIGKILL');
      const killed = Date.now();
      await waitFor('n1 to be offline (its lease expired)', async () => (await nodeList(n2)).find((n) => n.name === 'n1')?.state === 'offline', 20_000, 200);
      const offlineAt = Date.now();
      // The fencer killed the HA guest before the lease could expire.
      expect(isSameLiveProcess(ha.pid, ha.start)).toBe(false);
      const op = await n2.api.cluster.evacuate('n1');
      const messages = new Set<string>();
      const ended = await waitFor('the evacuation to end', async () => {
        const o = await n2.api.operations.get(op.id);
        if (o.progress?.message) messages.add(`${o.progress.phase}: ${o.progress.message}`);
        return o.state === 'running' ? undefined : o;
      }, 60_000, 200);
      const tookMs = Date.now() - offlineAt;
      expect(ended.state, JSON.stringify(ended.error)).toBe('succeeded');
      const res = ended.result as Result;
      const by = Object.fromEntries(res.results.map((x) => [x.vm, x]));
      expect(by['off-ha']).toMatchObject({ outcome: 'recovered', to: 'n2' });
      expect(by['off-plain']).toMatchObject({ outcome: 'stranded', error: expect.stringContaining('not HA: nothing guarantees node n1 stopped it; mark it ha=true or bring the node back') });
      expect(by['off-local']).toMatchObject({ outcome: 'stranded', error: expect.stringContaining('its disks are only on n1') });
      expect(res).toMatchObject({ offline: true, moved: 1, failed: 0, stranded: 2 });
      // It showed that it waited for HA.
      expect([...messages].some((m) => m.startsWith('waiting for HA') && m.includes('off-ha'))).toBe(true);
      console.log(`offline evacuation: killed → offline ${offlineAt - killed} ms, offline → evacuation done ${tookMs} ms; progress: ${[...messages].filter((m) => m.startsWith('waiting')).slice(-1)[0]}`);

      const now = await listed('off-ha');
      expect(now).toMatchObject({ node: 'n2', state: 'running', lastMove: { from: 'n1', to: 'n2', reason: 'evacuation', kind: 'cold' } });
      expect(runsIn(n2, now.pid!)).toBe(true);
      expect(qemusOf(ha.id)).toEqual([now.pid]);
    } finally {
      clearInterval(sampler);
    }
    // Never two at once; the old one was gone before the new one came.
    expect(Math.max(...seen.map((s) => s.length))).toBe(1);
    const firstNew = seen.findIndex((s) => s.some((p) => p !== ha.pid));
    expect(firstNew).toBeGreaterThan(0);
    expect(seen.slice(firstNew).every((s) => !s.includes(ha.pid))).toBe(true);
    // The stranded guests run on, untouched, still n1's.
    for (const name of ['off-plain', 'off-local']) {
      expect(isSameLiveProcess(before[name]!.pid, before[name]!.start)).toBe(true);
      expect(await listed(name)).toMatchObject({ node: 'n1' });
    }
    expect((await nodeList(n2)).find((n) => n.name === 'n1')?.evacuation?.state).toBe('evacuated');
    // The restarted guest boots from the shared disk on n2.
    await waitForGuestReady(n2, 'off-ha');
    expect((await n2.cli(['vm', 'show', 'off-ha'])).stdout).toMatch(/last move:\s+n1 → n2: evacuation, cold \(/);
  }, 90_000);

  it('with n1 back, it stays evacuated until node restore, which brings back only the recovered guest', async () => {
    await n1.launch();
    await waitFor('n1 online, its fence lifted', async () => (await nodeList(n2)).find((n) => n.name === 'n1')?.state === 'online' && !(await n1.api.cluster.status()).fenced, 20_000, 200);
    // Re-adopted where they ran; the recovered guest is n2's and n1 does not start it.
    for (const name of ['off-plain', 'off-local']) expect(await n1.vm(name)).toMatchObject({ node: 'n1', state: 'running', pid: before[name]!.pid });
    expect((await n1.vm('off-ha')).node).toBe('n2');
    // Evacuated: moves to n1 are refused.
    expect((await n2.cli(['vm', 'migrate', 'off-ha', '--node', 'n1'])).stderr).toContain('NODE_EVACUATED');

    const r = await n2.cli(['node', 'restore', 'n1', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout) as Result;
    expect(res.results.map((x) => `${x.vm}:${x.action}:${x.outcome}:${x.to}`)).toEqual(['off-ha:live:moved:n1']);
    const back = await n1.vm('off-ha');
    expect(back).toMatchObject({ node: 'n1', state: 'running', lastMove: { from: 'n2', to: 'n1', reason: 'restore', kind: 'live' } });
    expect(qemusOf(before['off-ha']!.id)).toEqual([back.pid]);
    expect(runsIn(n1, back.pid!)).toBe(true);
    for (const name of ['off-plain', 'off-local']) expect(isSameLiveProcess(before[name]!.pid, before[name]!.start)).toBe(true);
    expect((await nodeList(n1)).find((n) => n.name === 'n1')?.evacuation).toBeUndefined();
  }, 60_000);
});
