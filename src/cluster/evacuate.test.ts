import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBus } from '../events/bus.js';
import { SqliteStore } from '../store/sqlite.js';
import type { VmRecord } from '../store/store.js';
import { evacuationAction, Evacuations, restorable, type EvacuationCluster } from './evacuate.js';
import type { NodeRecord } from './membership.js';

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
