/**
 * The HA manager's decisions on a store it is given (SQLite here; the etcd store's guard on
 * moves is tested in src/store/etcd.test.ts): when a lost node's HA VMs are given away, in
 * which order, to whom, and what each node then starts.
 */
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/sqlite.js';
import type { VmRecord } from '../store/store.js';
import { record } from '../store/contract.js';
import type { FencerState, HaGuest } from './fencer/files.js';
import { HaManager } from './ha.js';

function setup(self: string, o: { fenced?: boolean } = {}) {
  const store = new SqliteStore(':memory:');
  let now = 1_000_000;
  const started: string[] = [];
  const events: string[] = [];
  let guests: HaGuest[] = [];
  const fencerState = (): FencerState => ({ pid: 1, pidStartTime: '1', ttlSeconds: 6, updatedAt: now, lastAckAt: now, deadline: now + 6000, ...(o.fenced && { fenced: { at: now, reason: 'test', vms: [] } }) });
  const ha = new HaManager({
    store, self, graceMs: 2000, marginMs: 1000, now: () => now,
    fencer: { state: fencerState, publishGuests: async (g) => void (guests = g) },
    connected: () => true,
    place: async () => ({ node: self }),
    start: async (name) => {
      started.push(name);
      const v = (await store.getVm(name))!;
      await store.updateVm({ ...v, state: 'running', runtime: { pid: 4242, pidStartTime: '7', qmpSocket: '', serialSocket: '', startedAt: '', accel: 'tcg' } });
    },
    publish: async (type, vm) => void events.push(`${type}:${vm ?? ''}`),
    log: () => undefined,
  });
  const nodes = store.collection<{ name: string }>('nodes');
  const leases = store.collection<{ lease: string }>('node-leases');
  const vm = (name: string, node: string, extra: Partial<VmRecord> = {}, priority?: number) =>
    store.createVm({ ...record(name), node, state: 'running', ...extra, spec: { ...record(name).spec, ...(priority !== undefined && { ha: { priority } }) } });
  return {
    store, ha, started, events, nodes, leases, vm,
    get guests() {
      return guests;
    },
    advance: (ms: number) => (now += ms),
  };
}

describe('HaManager', () => {
  it('gives the HA VMs of a node lost longer than the grace to another node, highest priority first, and starts those given to it', async () => {
    const t = setup('n2');
    for (const n of ['n1', 'n2']) await t.nodes.create(n, { name: n });
    await t.leases.create('n2', { lease: 'L2' });
    await t.vm('low', 'n1', {}, 1);
    await t.vm('high', 'n1', {}, 9);
    await t.vm('plain', 'n1');
    await t.vm('stopped-by-user', 'n1', { state: 'stopped', stoppedByUser: true }, 5);
    await t.ha.tick();
    expect(t.events).toEqual([]);
    t.advance(1500);
    await t.ha.tick();
    expect(t.events).toEqual([]);
    t.advance(600);
    await t.ha.tick();
    expect(t.events.filter((e) => e.startsWith('vm.ha-moved'))).toEqual(['vm.ha-moved:high', 'vm.ha-moved:low']);
    // Given to this node, and started in the same step (the fake start makes it run here).
    expect((await t.store.getVm('high'))!).toMatchObject({ node: 'n2', lastMove: { from: 'n1', to: 'n2' } });
    expect((await t.store.getVm('plain'))!.node).toBe('n1');
    expect((await t.store.getVm('stopped-by-user'))!.node).toBe('n1');
    // The starts run in the background; the next tick sees them done.
    await new Promise((r) => setTimeout(r, 20));
    expect(t.started.sort()).toEqual(['high', 'low']);
    expect((await t.store.getVm('high'))!.haPending).toBeUndefined();
    await t.ha.tick();
    expect(t.guests.map((g) => g.name).sort()).toEqual(['high', 'low']);
  });

  it('only the first online node by name coordinates; a node that comes back in time keeps its VMs', async () => {
    const t = setup('n3');
    for (const n of ['n1', 'n2', 'n3']) await t.nodes.create(n, { name: n });
    await t.leases.create('n2', { lease: 'L2' });
    await t.leases.create('n3', { lease: 'L3' });
    await t.vm('a', 'n1', {}, 0);
    await t.ha.tick();
    t.advance(5000);
    await t.ha.tick();
    expect(t.events).toEqual([]); // n2 coordinates, not n3
    const u = setup('n2');
    for (const n of ['n1', 'n2']) await u.nodes.create(n, { name: n });
    await u.leases.create('n2', { lease: 'L2' });
    await u.vm('a', 'n1', {}, 0);
    await u.ha.tick();
    u.advance(1000);
    await u.leases.create('n1', { lease: 'L1' });
    await u.ha.tick();
    u.advance(5000);
    await u.ha.tick();
    expect(u.events).toEqual([]);
    expect((await u.store.getVm('a'))!.node).toBe('n1');
  });

  it('a fenced node neither coordinates nor starts HA VMs', async () => {
    const t = setup('n2', { fenced: true });
    for (const n of ['n1', 'n2']) await t.nodes.create(n, { name: n });
    await t.leases.create('n2', { lease: 'L2' });
    await t.vm('a', 'n1', {}, 0);
    await t.vm('mine', 'n2', { state: 'stopped', haPending: { reason: 'r', at: 't' } }, 0);
    await t.ha.tick();
    t.advance(5000);
    await t.ha.tick();
    expect(t.events).toEqual(['node.fenced:']);
    expect(t.started).toEqual([]);
  });
});
