/**
 * The etcd store: the store contract against a real etcd, then what only a networked store
 * has (a mirror other writers change, reads through an outage, a compacted history).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EtcdClient } from '../etcd/client.js';
import { startEtcd, type TestEtcd } from '../etcd/test-etcd.js';
import { record, storeContract } from './contract.js';
import { EtcdStore } from './etcd.js';

let etcd: TestEtcd;
let n = 0;
beforeAll(async () => {
  etcd = await startEtcd();
}, 30_000);
afterAll(async () => {
  await etcd?.stop();
});

const open = (prefix: string, o: { timeoutMs?: number } = {}) => EtcdStore.open({ client: new EtcdClient({ endpoints: etcd.endpoints, timeoutMs: o.timeoutMs ?? 2000 }), prefix });

describe('EtcdStore', () => {
  let store: EtcdStore;
  beforeEach(async () => {
    store = await open(`/t${++n}/`);
  });
  afterEach(async () => {
    await store.close();
  });

  describe('the store contract', () => storeContract(() => store));

  it('a second node sees the first one\'s writes through its watch, and both guard the same name', async () => {
    const other = await open(`/t${n}/`);
    try {
      const a = await store.createVm(record('a'));
      await expect(other.createVm(record('a', 'elsewhere'))).rejects.toMatchObject({ code: 'VM_EXISTS' });
      await store.updateVm({ ...a, state: 'running' });
      await new Promise((r) => setTimeout(r, 100));
      expect((await other.getVm('a'))?.state).toBe('running');
      // A compare-and-swap from a stale read on the other node loses.
      const stale = (await other.getVm('a'))!;
      await store.updateVm({ ...stale, state: 'paused' });
      await expect(other.updateVm({ ...stale, state: 'stopped' }, { expectRevision: stale.revision })).rejects.toMatchObject({ code: 'CONFLICT' });
    } finally {
      await other.close();
    }
  });

  it('a node that lost a VM cannot write it back to itself: only a write that says it moves the VM changes its node', async () => {
    const other = await open(`/t${n}/`);
    try {
      const a = await store.createVm({ ...record('a'), node: 'n1', state: 'running' });
      for (let i = 0; i < 100 && !(await other.getVm('a')); i++) await new Promise((r) => setTimeout(r, 20));
      // n2 takes the VM over (HA recovery, migration hand-over): an explicit move.
      await other.updateVmStatus(a.id, { state: 'stopped', node: 'n2' }, { moveNode: true });
      await new Promise((r) => setTimeout(r, 100));
      // n1 still holds its old view and records a crash: refused, nothing written.
      await expect(store.updateVmStatus(a.id, { state: 'crashed', node: 'n1' })).rejects.toMatchObject({ code: 'VM_ON_OTHER_NODE' });
      await expect(store.updateVm({ ...a, state: 'crashed' })).rejects.toMatchObject({ code: 'VM_ON_OTHER_NODE' });
      expect(await other.getVm('a')).toMatchObject({ node: 'n2', state: 'stopped' });
      // Without a move, a node changes nothing else about the node field either.
      await expect(other.updateVmStatus(a.id, { state: 'stopped', node: 'n3' })).rejects.toMatchObject({ code: 'VM_ON_OTHER_NODE' });
      await other.updateVmStatus(a.id, { state: 'running', node: 'n2' });
      expect((await other.getVm('a'))?.state).toBe('running');
    } finally {
      await other.close();
    }
  });

  it("each node's event followers get the other nodes' events as they are appended, and not their own twice", async () => {
    const other = await open(`/t${n}/`);
    try {
      const seen: string[] = [];
      const stop = store.followEvents((e) => seen.push(`${e.type}:${e.vm ?? ''}:${e.seq > 0}`));
      await store.appendEvent({ type: 'vm.created', vm: 'mine', data: {} });
      const theirs = await other.appendEvent({ type: 'vm.deleted', vm: 'theirs', data: {} });
      await new Promise((r) => setTimeout(r, 200));
      expect(seen).toEqual(['vm.deleted:theirs:true']);
      stop();
      await other.appendEvent({ type: 'vm.deleted', vm: 'later', data: {} });
      await new Promise((r) => setTimeout(r, 200));
      expect(seen).toHaveLength(1);
      expect((await store.listEvents({ afterSeq: theirs.seq - 1 })).map((e) => e.vm)).toEqual(['theirs', 'later']);
    } finally {
      await other.close();
    }
  });

  it('loads what is stored when it opens', async () => {
    await store.createVm(record('a'));
    await store.collection('pools').create('p', { name: 'p' });
    const again = await open(`/t${n}/`);
    try {
      expect((await again.listVms()).map((v) => v.name)).toEqual(['a']);
      expect(await again.collection('pools').get('p')).toEqual({ name: 'p' });
      expect(again.revision()).toBe(store.revision());
    } finally {
      await again.close();
    }
  });
});

describe('EtcdStore while etcd is down', () => {
  it('reads answer from the last state, writes fail with CLUSTER_STORE_UNAVAILABLE, and all resumes after', async () => {
    const store = await open(`/down${++n}/`, { timeoutMs: 500 });
    try {
      await store.createVm(record('a'));
      await etcd.kill(0);
      expect((await store.getVm('a'))?.name).toBe('a');
      await expect(store.createVm(record('b'))).rejects.toMatchObject({ code: 'CLUSTER_STORE_UNAVAILABLE' });
      await expect(store.collection('pools').create('p', {})).rejects.toMatchObject({ code: 'CLUSTER_STORE_UNAVAILABLE' });
      await etcd.restart(0);
      const b = await store.createVm(record('b'));
      expect((await store.listVms()).map((v) => v.name)).toEqual(['a', 'b']);
      expect(store.revision()).toBe(b.revision);
    } finally {
      await store.close();
    }
  }, 30_000);
});
