import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBus } from '../events/bus.js';
import { SqliteStore } from '../store/sqlite.js';
import type { VmRecord } from '../store/store.js';
import { evacuationAction, Evacuations, restorable, type EvacuationCluster } from './evacuate.js';
import type { NodeRecord } from './membership.js';
import { offlineRecovery, offlineVerdict } from './evacuate-offline.js';
import { HaManager } from './ha.js';

const spec = (name: string, evacuate?: string) => ({ name, machine: 'q35', cpuModel: 'max', cpus: 1, memoryMiB: 128, boot: { kind: 'disk' }, disks: [], nics: [], balloon: true, rng: true, vnc: false, ...(evacuate && { evacuate }) }) as unknown as VmRecord['spec'];
const vm = (name: string, node: string, state: VmRecord['state'], extra: Partial<VmRecord> = {}): VmRecord =>
  ({ id: `${name.padEnd(12, '0')}`.slice(0, 12), name, node, state, spec: spec(name), createdAt: 'c', updatedAt: 'u', revision: 0, ...extra });
const nodeRec = (name: string): NodeRecord => ({ name, cpus: 4, memoryMiB: 4096, cpuOvercommit: 1, memoryOvercommit: 1, labels: {}, joinedAt: 'j', version: 'v' });

describe('evacuationAction', () => {
  it('follows the setting for a running guest, moves a stopped one cold, and leaves other states', () => {
    expect(evacuationAction(vm('a', 'n1', 'running'))).toEqual({ action: 'live' });
    expect(evacuationAction({ state: 'paused', spec: spec('a', 'cold') })).toEqual({ action: 'cold' });
    expect(evacuationAction({ state: 'running', spec: spec('a', 'stop') })).toEqual({ action: 'stop' });
    expect(evacuationAction(vm('a', 'n1', 'stopped'))).toEqual({ action: 'cold' });
    expect(evacuationAction({ state: 'stopped', spec: spec('a', 'stop') }).action).toBe('none');
    expect(evacuationAction(vm('a', 'n1', 'saved'))).toMatchObject({ action: 'none', why: 'it is saved' });
    expect(evacuationAction({ state: 'running', spec: spec('a', 'sideways') })).toMatchObject({ action: 'none', why: expect.stringContaining('sideways') });
  });
});

describe('restorable', () => {
  it('is what an evacuation of that node moved, still where it put it', () => {
    const ev = (from: string, to: string) => ({ id: 'm', from, to, at: 't', kind: 'live' as const, reason: 'evacuation' as const });
    const vms = [
      vm('kept', 'n2', 'running', { lastMove: ev('n1', 'n2') }),
      vm('moved-on', 'n3', 'running', { lastMove: ev('n1', 'n2') }), // someone moved it since… without a record of its own move
      vm('by-user', 'n2', 'running', { lastMove: { ...ev('n1', 'n2'), reason: 'migrate' } }),
      vm('other-node', 'n2', 'running', { lastMove: ev('n3', 'n2') }),
      vm('never', 'n2', 'running'),
    ];
    expect(restorable(vms, 'n1').map((v) => v.name)).toEqual(['kept']);
  });
});

/**
 * A cluster of n1 (being evacuated) and n2, whose API is played here: a migrate answers an
 * operation that ends as `fail` says, and moves the record as the node would.
 */
function fakeCluster(store: SqliteStore, o: { online?: boolean; fail?: Set<string> } = {}) {
  const calls: string[] = [];
  const ops = new Map<string, { state: string; error?: { code: string; message: string }; result?: unknown }>();
  const cluster: EvacuationCluster = {
    nodeName: 'n2',
    reachable: async () => o.online ?? true,
    place: async () => ({ chosen: 'n2', lines: [] }),
    forward: async (node, method, url, body) => {
      calls.push(`${node} ${method} ${url}`);
      const m = /^\/v1\/vms\/([^/]+)\/(migrate|stop|start)$/.exec(url);
      if (m?.[2] === 'migrate') {
        const name = decodeURIComponent(m[1]!);
        const id = `op-${name}`;
        if (o.fail?.has(name)) {
          ops.set(id, { state: 'failed', error: { code: 'VM_STATE', message: `${name} cannot move` } });
        } else {
          const rec = (await store.getVm(name))!;
          const to = (body as { node: string }).node;
          await store.updateVm({ ...rec, node: to, lastMove: { id, from: rec.node!, to, at: 't', kind: 'live', reason: (body as { reason: 'evacuation' }).reason } });
          ops.set(id, { state: 'succeeded', result: { downtimeMs: 42 } });
        }
        return { status: 202, body: { id, state: 'running' } };
      }
      if (m?.[2] === 'stop') {
        const rec = (await store.getVm(decodeURIComponent(m[1]!)))!;
        await store.updateVm({ ...rec, state: 'stopped' });
        return { status: 200, body: {} };
      }
      if (m?.[2] === 'start') return { status: 200, body: {} };
      const op = /^\/v1\/operations\/([^?]+)\?wait=30$/.exec(url);
      if (op) return { status: 200, body: { id: op[1], ...ops.get(op[1]!) } };
      return { status: 404, body: { code: 'NOT_FOUND', message: url } };
    },
  };
  return { cluster, calls };
}

describe('Evacuations', () => {
  let store: SqliteStore;
  let events: EventBus;
  beforeEach(async () => {
    store = new SqliteStore(':memory:');
    events = new EventBus(store);
    for (const n of ['n1', 'n2']) await store.collection<NodeRecord>('nodes').create(n, nodeRec(n));
  });
  afterEach(async () => {
    await store.close();
  });

  it('moves each VM as it says, one failure does not stop the others, and marks the node', async () => {
    await store.createVm(vm('a', 'n1', 'running'));
    await store.createVm(vm('b', 'n1', 'running'));
    await store.createVm({ ...vm('c', 'n1', 'running'), spec: spec('c', 'cold') });
    await store.createVm({ ...vm('d', 'n1', 'running'), spec: spec('d', 'stop') });
    await store.createVm(vm('e', 'n1', 'stopped'));
    await store.createVm(vm('elsewhere', 'n2', 'running'));
    const { cluster, calls } = fakeCluster(store, { fail: new Set(['a']) });
    const progress: string[] = [];
    const r = await new Evacuations({ store, events, cluster, pollMs: 1 }).evacuate('n1', { progress: (p) => progress.push(p.phase ?? ''), signal: new AbortController().signal });
    expect(r.results.map((x) => `${x.vm}:${x.action}:${x.outcome}`)).toEqual(['a:live:failed', 'b:live:moved', 'c:cold:moved', 'd:stop:stopped', 'e:cold:moved']);
    expect(r.results[0]!.error).toContain('a cannot move');
    expect(r).toMatchObject({ moved: 3, failed: 1, stranded: 0, offline: false });
    expect((await store.getVm('b'))!).toMatchObject({ node: 'n2', lastMove: { reason: 'evacuation', from: 'n1' } });
    expect((await store.getVm('a'))!.node).toBe('n1');
    expect((await store.getVm('d'))!).toMatchObject({ node: 'n1', state: 'stopped' });
    // Cold: stopped on its node, moved, started on the new one.
    expect(calls.filter((c) => c.includes('/vms/c/'))).toEqual(['n1 POST /v1/vms/c/stop', 'n1 POST /v1/vms/c/migrate', 'n2 POST /v1/vms/c/start']);
    expect(calls.some((c) => c.includes('elsewhere'))).toBe(false);
    expect(progress).toContain('b (2 of 5)');
    expect((await store.collection<NodeRecord>('nodes').get('n1'))!.evacuation?.state).toBe('evacuated');
  });

  it('lists the VMs of an offline node as stranded, except those the recovery hook took', async () => {
    await store.createVm(vm('a', 'n1', 'running'));
    await store.createVm(vm('b', 'n1', 'running'));
    const { cluster, calls } = fakeCluster(store, { online: false });
    const r = await new Evacuations({
      store, events, cluster,
      recoverOffline: async (_node, vms) => vms.filter((v) => v.name === 'b').map((v) => ({ vm: v.name, action: 'none' as const, outcome: 'recovered' as const, to: 'n2', totalMs: 1 })),
    }).evacuate('n1');
    expect(r.results.map((x) => `${x.vm}:${x.outcome}`).sort()).toEqual(['a:stranded', 'b:recovered']);
    expect(r).toMatchObject({ offline: true, stranded: 1, moved: 1 });
    expect(calls).toEqual([]);
  });

  it('restore brings back only what the evacuation moved and re-enables the node; skip only re-enables', async () => {
    await store.createVm(vm('a', 'n1', 'running'));
    await store.createVm(vm('b', 'n1', 'running'));
    const { cluster } = fakeCluster(store);
    const e = new Evacuations({ store, events, cluster, pollMs: 1 });
    await e.evacuate('n1');
    // A user moves b on: it is not the evacuation's to bring back any more.
    const b = (await store.getVm('b'))!;
    await store.updateVm({ ...b, lastMove: { ...b.lastMove!, reason: 'migrate' } });
    const r = await e.restore('n1');
    expect(r.results.map((x) => `${x.vm}:${x.outcome}:${x.to}`)).toEqual(['a:moved:n1']);
    expect((await store.getVm('a'))!).toMatchObject({ node: 'n1', lastMove: { reason: 'restore' } });
    expect((await store.collection<NodeRecord>('nodes').get('n1'))!.evacuation).toBeUndefined();
    await e.mark('n1', { state: 'evacuated', since: 't' });
    expect((await e.restore('n1', { skip: true })).results).toEqual([]);
    expect((await store.collection<NodeRecord>('nodes').get('n1'))!.evacuation).toBeUndefined();
    await expect(e.evacuate('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

/**
 * An offline node's evacuation beside the real HA manager (on n2, the coordinator, its clock
 * driven here): the HA VM is waited for and reported where HA started it; the others are
 * stranded, each with its reason.
 */
describe('offline evacuation', () => {
  const disk = (pool: string) => ({ id: 'disk0', volume: { pool, name: `${pool}-v` } });
  const withDisks = (v: VmRecord, pool: string, ha?: number): VmRecord => ({ ...v, spec: { ...v.spec, disks: [disk(pool)], ...(ha !== undefined && { ha: { priority: ha } }) } as VmRecord['spec'] });
  const pools: Record<string, { shared?: boolean }> = { shared: { shared: true }, default: {} };
  const pool = async (name: string) => pools[name];

  let store: SqliteStore;
  let events: EventBus;
  let now: number;
  let ha: HaManager;
  let placeFails: boolean;
  beforeEach(async () => {
    store = new SqliteStore(':memory:');
    events = new EventBus(store);
    now = 1_000_000;
    placeFails = false;
    for (const n of ['n1', 'n2']) await store.collection<NodeRecord>('nodes').create(n, nodeRec(n));
    await store.collection('node-leases').create('n2', { lease: 'L2' });
    ha = new HaManager({
      store, self: 'n2', graceMs: 2000, marginMs: 1000, now: () => now,
      fencer: { state: () => ({ pid: 1, pidStartTime: '1', ttlSeconds: 6, updatedAt: now, lastAckAt: now, deadline: now + 6000 }), publishGuests: async () => undefined },
      connected: () => true,
      place: async () => (placeFails ? { why: 'n2: not enough memory' } : { node: 'n2' }),
      start: async (name) => {
        const v = (await store.getVm(name))!;
        await store.updateVm({ ...v, state: 'running', runtime: { pid: 4242, pidStartTime: '7', qmpSocket: '', serialSocket: '', startedAt: '', accel: 'tcg' } });
      },
      publish: (type, vm, data) => events.publish(type, vm, data),
      log: () => undefined,
    });
  });
  afterEach(async () => {
    await store.close();
  });

  /** Runs the evacuation of n1 while HA steps on, a second of its clock per step. */
  async function evacuateWithHa(o: { startBudgetMs?: number } = {}) {
    const { cluster, calls } = fakeCluster(store, { online: false });
    const progress: { phase?: string; message?: string }[] = [];
    const recoverOffline = offlineRecovery({ store, events, pool, timings: () => ({ ttlMs: 0, graceMs: 2000 }), pollMs: 5, startBudgetMs: o.startBudgetMs ?? 5000 });
    let finished = false;
    const run = new Evacuations({ store, events, cluster, recoverOffline }).evacuate('n1', { progress: (p) => progress.push(p), signal: new AbortController().signal })
      .finally(() => (finished = true));
    for (let i = 0; i < 200 && !finished; i++) {
      await ha.tick();
      now += 1000;
      await new Promise((r) => setTimeout(r, 10));
    }
    return { r: await run, progress, calls };
  }

  it('says why a VM of an offline node cannot be recovered', async () => {
    const base = vm('x', 'n1', 'running');
    expect(await offlineVerdict(withDisks(base, 'shared', 0), 'n1', pool)).toEqual({ ha: true });
    expect(await offlineVerdict(withDisks(base, 'shared'), 'n1', pool)).toMatchObject({ stranded: expect.stringContaining('not HA: nothing guarantees node n1 stopped it') });
    expect(await offlineVerdict(withDisks(base, 'default', 0), 'n1', pool)).toMatchObject({ stranded: expect.stringContaining('its disks are only on n1') });
    expect(await offlineVerdict({ ...base, spec: { ...base.spec, disks: [{ id: 'cd', path: '/x.iso' }] } as VmRecord['spec'] }, 'n1', pool)).toMatchObject({ stranded: expect.stringContaining('only on n1') });
    expect(await offlineVerdict(withDisks({ ...base, state: 'stopped', stoppedByUser: true }, 'shared', 0), 'n1', pool)).toMatchObject({ stranded: expect.stringContaining('it is stopped') });
  });

  it('waits for HA to restart the HA VM elsewhere, reports where, and leaves the others stranded with their reasons', async () => {
    await store.createVm(withDisks(vm('ha1', 'n1', 'running'), 'shared', 5));
    await store.createVm(withDisks(vm('plain', 'n1', 'running'), 'shared'));
    await store.createVm(withDisks(vm('local', 'n1', 'running'), 'default'));
    await store.createVm(withDisks(vm('elsewhere', 'n2', 'running'), 'shared', 1));
    const { r, progress, calls } = await evacuateWithHa();
    expect(calls).toEqual([]); // nothing carried to the offline node
    const by = Object.fromEntries(r.results.map((x) => [x.vm, x]));
    expect(Object.keys(by).sort()).toEqual(['ha1', 'local', 'plain']);
    expect(by['ha1']).toMatchObject({ outcome: 'recovered', action: 'cold', to: 'n2' });
    expect(by['ha1']!.error).toBeUndefined();
    expect(by['plain']).toMatchObject({ outcome: 'stranded', error: expect.stringContaining('not HA: nothing guarantees node n1 stopped it; mark it ha=true or bring the node back') });
    expect(by['local']).toMatchObject({ outcome: 'stranded', error: expect.stringContaining('its disks are only on n1') });
    expect(r).toMatchObject({ offline: true, moved: 1, failed: 0, stranded: 2 });
    // It showed its wait for the lease and the grace.
    expect(progress.some((p) => p.phase?.startsWith('waiting for HA (0 of 1') && p.message?.includes('ha1') && p.message.includes("grace of 2 s"))).toBe(true);
    // HA's recovery is this evacuation's move now: node restore brings it back; the others stayed.
    expect((await store.getVm('ha1'))!).toMatchObject({ node: 'n2', state: 'running', lastMove: { from: 'n1', to: 'n2', reason: 'evacuation', kind: 'cold' } });
    expect(restorable(await store.listVms(), 'n1').map((v) => v.name)).toEqual(['ha1']);
    expect((await store.getVm('plain'))!).toMatchObject({ node: 'n1', state: 'running' });
    expect((await store.getVm('elsewhere'))!.lastMove).toBeUndefined();
    expect((await store.collection<NodeRecord>('nodes').get('n1'))!.evacuation?.state).toBe('evacuated');
  });

  it('a node out of reach that still holds its lease is not lost: its HA VM is stranded at once', async () => {
    await store.collection('node-leases').create('n1', { lease: 'L1' });
    await store.createVm(withDisks(vm('ha1', 'n1', 'running'), 'shared', 0));
    const { r } = await evacuateWithHa();
    expect(r.results).toEqual([expect.objectContaining({ vm: 'ha1', outcome: 'stranded', error: expect.stringContaining('still holds its lease') })]);
    expect((await store.getVm('ha1'))!.node).toBe('n1');
  });

  it('an HA VM that HA cannot place fails with HA\'s reason once its time is up', async () => {
    placeFails = true;
    await store.createVm(withDisks(vm('ha1', 'n1', 'running'), 'shared', 0));
    const { r } = await evacuateWithHa({ startBudgetMs: 300 });
    expect(r.results).toEqual([expect.objectContaining({ vm: 'ha1', outcome: 'failed', error: expect.stringContaining('HA found no node for it: n2: not enough memory') })]);
    expect((await store.getVm('ha1'))!.node).toBe('n1');
  });
});
