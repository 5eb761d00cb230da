/**
 * The store contract: one suite that the single-host SQLite store and the etcd cluster store
 * both pass (sqlite.test.ts and etcd.test.ts run it). Revisions are counted from the store's
 * revision when the test begins, since an etcd cluster's counter does not start at 0.
 */
import { expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import type { Store, StoreChange, VmRecord } from './store.js';

export function record(name: string, id = `id-${name}`): VmRecord {
  const now = new Date().toISOString();
  return {
    id, name, state: 'stopped', createdAt: now, updatedAt: now,
    spec: { name, machine: 'q35', cpuModel: 'max', cpus: 1, memoryMiB: 256, boot: { kind: 'disk' }, disks: [], nics: [], balloon: true, rng: true, vnc: true },
  };
}

/** Five revisions: a VM created, started, a volume, the VM deleted, the volume updated. */
export async function history(store: Store): Promise<void> {
  const a = await store.createVm(record('a'));
  await store.updateVm({ ...a, state: 'running' });
  const vols = store.collection<{ size: number }>('volumes');
  await vols.create('default/d', { size: 1 });
  await store.deleteVm(a.id);
  await vols.update('default/d', { size: 2 });
}

const tick = () => new Promise((r) => setTimeout(r, 20));

/** A listener that collects what it is given. */
function collector() {
  const seen: StoreChange[] = [];
  const errors: HangarError[] = [];
  return { seen, errors, listener: { change: (c: StoreChange) => void seen.push(c), error: (e: HangarError) => void errors.push(e) } };
}

/**
 * Registers the contract's tests. `current()` is the store under test (a fresh, empty one
 * for each test: the caller's beforeEach makes it).
 */
export function storeContract(current: () => Store): void {
  /** The revision `n` writes after the test began. */
  let base = 0;
  const r = (n: number) => base + n;
  const s = () => {
    base = base || current().revision();
    return current();
  };
  const brief = (c: StoreChange) => `${c.revision - base} ${c.kind} ${c.key} ${c.op}`;
  const begin = () => {
    base = current().revision();
    return current();
  };

  it('creates, reads, updates and deletes VMs', async () => {
    const store = begin();
    await store.createVm(record('b'));
    await store.createVm(record('a'));
    expect((await store.listVms()).map((v) => v.name)).toEqual(['a', 'b']);
    const a = (await store.getVm('a'))!;
    const updated = await store.updateVm({ ...a, state: 'running' });
    expect(updated.state).toBe('running');
    expect((await store.getVm('a'))!.state).toBe('running');
    await store.deleteVm(a.id);
    expect(await store.getVm('a')).toBeUndefined();
    expect(await store.getVmById(a.id)).toBeUndefined();
  });

  it('refuses a duplicate name with VM_EXISTS, and an update of a deleted VM with VM_NOT_FOUND', async () => {
    const store = begin();
    await store.createVm(record('a'));
    await expect(store.createVm(record('a', 'other'))).rejects.toMatchObject({ code: 'VM_EXISTS' });
    await expect(store.createVm(record('a', 'other'))).rejects.toBeInstanceOf(HangarError);
    await expect(store.updateVm(record('gone'))).rejects.toMatchObject({ code: 'VM_NOT_FOUND' });
  });

  it('appends and queries events in order, by VM, after a seq, the last few', async () => {
    const store = begin();
    const e1 = await store.appendEvent({ type: 'vm.created', vm: 'a', data: {} });
    const e2 = await store.appendEvent({ type: 'vm.state', vm: 'b', data: { state: 'running' } });
    const e3 = await store.appendEvent({ type: 'vm.state', vm: 'a', data: { state: 'running' } });
    expect(e1.seq < e2.seq && e2.seq < e3.seq).toBe(true);
    expect((await store.listEvents()).map((e) => e.seq)).toEqual([e1.seq, e2.seq, e3.seq]);
    expect((await store.listEvents({ vm: 'a' })).map((e) => e.type)).toEqual(['vm.created', 'vm.state']);
    expect(await store.listEvents({ afterSeq: e2.seq })).toEqual([e3]);
    expect((await store.listEvents({ limit: 2 })).map((e) => e.seq)).toEqual([e2.seq, e3.seq]);
    expect((await store.listEvents({ vm: 'a', limit: 1 })).map((e) => e.seq)).toEqual([e3.seq]);
  });

  it('appends and queries the audit log in order, by VM, after a seq', async () => {
    const store = begin();
    const b = { actor: 'unix-socket', transport: 'unix' as const, status: 200, durationMs: 1 };
    const first = await store.appendAudit({ ...b, time: '2026-01-01T00:00:00.000Z', method: 'POST', route: '/v1/vms', target: 'vms/a', vm: 'a', body: { name: 'a' } });
    const second = await store.appendAudit({ ...b, time: '2026-01-01T00:00:01.000Z', method: 'POST', route: '/v1/pools', target: 'pools/p' });
    const third = await store.appendAudit({ ...b, time: '2026-01-01T00:00:02.000Z', method: 'DELETE', route: '/v1/vms/:name', vm: 'a', status: 409, errorCode: 'VM_STATE' });
    expect((await store.listAudit()).map((e) => e.seq)).toEqual([first.seq, second.seq, third.seq]);
    expect((await store.listAudit({ vm: 'a' })).map((e) => e.method)).toEqual(['POST', 'DELETE']);
    expect(await store.listAudit({ afterSeq: second.seq })).toEqual([third]);
    expect((await store.listAudit({ limit: 1 }))[0]).toMatchObject({ seq: third.seq, errorCode: 'VM_STATE', vm: 'a' });
    expect((await store.listAudit({ afterSeq: 0, limit: 1 }))[0]).toMatchObject({ seq: first.seq, body: { name: 'a' } });
  });

  it('keeps collections of records by kind and key', async () => {
    const store = begin();
    const vols = store.collection<{ name: string; size: number }>('volumes');
    const imgs = store.collection<{ name: string }>('images');
    expect(await vols.create('default/a', { name: 'a', size: 1 })).toBe(true);
    expect(await vols.create('default/a', { name: 'a', size: 2 })).toBe(false);
    expect(await imgs.create('default/a', { name: 'image' })).toBe(true);
    expect(await vols.get('default/a')).toEqual({ name: 'a', size: 1 });
    expect(await vols.update('default/a', { name: 'a', size: 3 })).toBe(true);
    expect(await vols.update('default/missing', { name: 'x', size: 0 })).toBe(false);
    await vols.create('default/b', { name: 'b', size: 0 });
    expect((await vols.list()).map((v) => v.name)).toEqual(['a', 'b']);
    await vols.delete('default/a');
    expect(await vols.get('default/a')).toBeUndefined();
    expect(await imgs.get('default/a')).toEqual({ name: 'image' });
  });

  it('gives each VM write a new store revision, and both halves of a new VM the same one', async () => {
    const store = begin();
    const a = await store.createVm(record('a'));
    expect(a).toMatchObject({ revision: r(1), desiredRevision: r(1), statusRevision: r(1) });
    expect(await store.getVm('a')).toMatchObject({ revision: r(1), desiredRevision: r(1), statusRevision: r(1) });
    await store.createVm(record('b'));
    expect(store.revision()).toBe(r(2));
    expect((await store.getVmById('id-b'))?.name).toBe('b');
  });

  it('writes only the half whose content changed', async () => {
    const store = begin();
    const a = await store.createVm(record('a'));
    const running = await store.updateVm({ ...a, state: 'running', runtime: { pid: 1, pidStartTime: '1', qmpSocket: 'q', serialSocket: 's', startedAt: 't', accel: 'tcg' } });
    expect(running).toMatchObject({ revision: r(2), desiredRevision: r(1), statusRevision: r(2) });
    const bigger = await store.updateVm({ ...running, spec: { ...running.spec, cpus: 2 } });
    expect(bigger).toMatchObject({ revision: r(3), desiredRevision: r(3), statusRevision: r(2) });
    const both = await store.updateVm({ ...bigger, spec: { ...bigger.spec, cpus: 3 }, state: 'stopped', runtime: undefined });
    expect(both).toMatchObject({ revision: r(4), desiredRevision: r(4), statusRevision: r(4) });
    expect(await store.getVm('a')).toEqual(both);
    // Nothing changed: nothing written, no new revision.
    expect(await store.updateVm(both)).toMatchObject({ revision: r(4) });
    expect(store.revision()).toBe(r(4));
    expect((await store.changes(base)).map(brief)).toEqual([
      '1 vm id-a put', '1 vm-status id-a put', '2 vm-status id-a put', '3 vm id-a put', '4 vm id-a put', '4 vm-status id-a put',
    ]);
  });

  it("the view's updatedAt is the later of the halves'", async () => {
    const store = begin();
    const a = await store.createVm({ ...record('a'), updatedAt: '2020-01-01T00:00:00.000Z' });
    const running = await store.updateVm({ ...a, state: 'running' });
    expect(running.updatedAt > '2020-01-01T00:00:00.000Z').toBe(true);
    expect((await store.getVm('a'))?.updatedAt).toBe(running.updatedAt);
    expect((await store.getVm('a'))?.createdAt).toBe(a.createdAt);
  });

  it('compare-and-swap: succeeds on the revision read, fails on any other and changes nothing', async () => {
    const store = begin();
    const a = await store.createVm(record('a'));
    const b = await store.updateVm({ ...a, state: 'running' }, { expectRevision: a.revision });
    expect(b.revision).toBe(r(2));
    const stale = store.updateVm({ ...a, spec: { ...a.spec, cpus: 4 } }, { expectRevision: a.revision });
    await expect(stale).rejects.toMatchObject({ code: 'CONFLICT', details: { expectedRevision: r(1), revision: r(2) } });
    await expect(stale).rejects.toBeInstanceOf(HangarError);
    expect(await store.getVm('a')).toEqual(b);
    expect(store.revision()).toBe(r(2));
    expect((await store.changes(r(1))).length).toBe(1);
    await expect(store.updateVm({ ...record('gone') }, { expectRevision: r(1) })).rejects.toMatchObject({ code: 'VM_NOT_FOUND' });
  });

  it('compare-and-swap per half: the API and the node each check only their own', async () => {
    const store = begin();
    const a = await store.createVm(record('a'));
    const running = await store.updateVmStatus(a.id, { state: 'running' }, { expectRevision: a.statusRevision });
    const bigger = await store.updateVmDesired({ id: a.id, name: a.name, spec: { ...a.spec, cpus: 2 }, createdAt: a.createdAt }, { expectRevision: a.desiredRevision });
    expect(bigger).toMatchObject({ state: 'running', spec: { cpus: 2 }, desiredRevision: r(3), statusRevision: r(2), revision: r(3) });
    expect(running).toMatchObject({ state: 'running', desiredRevision: r(1), statusRevision: r(2) });
    await expect(store.updateVmStatus(a.id, { state: 'stopped' }, { expectRevision: a.statusRevision })).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(store.updateVmDesired({ ...bigger, spec: a.spec }, { expectRevision: a.desiredRevision })).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(store.updateVm({ ...a, stoppedByUser: true }, { expectRevision: running.revision })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(await store.getVm('a')).toEqual(bigger);
  });

  it('renames; renaming onto a taken name fails with VM_EXISTS and changes nothing', async () => {
    const store = begin();
    await store.createVm(record('a'));
    const b = await store.createVm(record('b'));
    await expect(store.updateVm({ ...b, name: 'a' })).rejects.toMatchObject({ code: 'VM_EXISTS' });
    expect((await store.getVm('b'))?.revision).toBe(r(2));
    expect(store.revision()).toBe(r(2));
    const c = await store.updateVm({ ...b, name: 'c' });
    expect(c.name).toBe('c');
    expect(await store.getVm('b')).toBeUndefined();
    expect((await store.getVm('c'))?.id).toBe(b.id);
    expect((await store.createVm(record('b', 'new-b'))).name).toBe('b');
  });

  it('vmRevision changes with VM writes only', async () => {
    const store = begin();
    const r0 = store.vmRevision();
    const a = await store.createVm(record('a'));
    const r1 = store.vmRevision();
    expect(r1).not.toBe(r0);
    await store.collection('operations').create('op1', { id: 'op1' });
    expect(store.vmRevision()).toBe(r1);
    await store.updateVm({ ...a, state: 'running' });
    const r2 = store.vmRevision();
    expect(r2).toBeGreaterThan(r1);
    await store.updateVm({ ...a, state: 'running' });
    expect(store.vmRevision()).toBe(r2);
    await store.deleteVm(a.id);
    expect(store.vmRevision()).toBeGreaterThan(r2);
  });

  it('collection writes take revisions; update can compare-and-swap', async () => {
    const store = begin();
    const pools = store.collection<{ name: string; path: string }>('pools');
    await pools.create('p', { name: 'p', path: '/a' });
    expect(await pools.create('p', { name: 'p', path: '/b' })).toBe(false);
    expect(store.revision()).toBe(r(1));
    const e = (await pools.entry('p'))!;
    expect(e).toEqual({ key: 'p', record: { name: 'p', path: '/a' }, revision: r(1) });
    expect(await pools.update('p', { name: 'p', path: '/b' }, { expectRevision: e.revision })).toBe(true);
    await expect(pools.update('p', { name: 'p', path: '/c' }, { expectRevision: e.revision })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(await pools.get('p')).toEqual({ name: 'p', path: '/b' });
    expect(await pools.update('missing', { name: 'x', path: '/' }, { expectRevision: 1 })).toBe(false);
    await pools.delete('missing');
    expect(store.revision()).toBe(r(2));
    await pools.create('q', { name: 'q', path: '/q' });
    expect((await pools.entries()).map((x) => `${x.key}@${x.revision - base}`)).toEqual(['p@2', 'q@3']);
    await pools.delete('p');
    expect((await store.changes(base)).map(brief)).toEqual(['1 pools p put', '2 pools p put', '3 pools q put', '4 pools p delete']);
  });

  it('reads share one frozen record per version: a change gives a new one', async () => {
    const store = begin();
    await store.createVm(record('b'));
    const a = await store.createVm(record('a'));
    const listed = await store.listVms();
    expect(Object.isFrozen(listed[0])).toBe(true);
    expect(Object.isFrozen(listed[0]!.spec.disks)).toBe(true);
    expect(() => {
      (listed[0] as { state: string }).state = 'running';
    }).toThrow(TypeError);
    expect(await store.getVm('a')).toBe(listed[0]);
    listed.reverse();
    expect((await store.listVms()).map((v) => v.name)).toEqual(['a', 'b']);
    const running = await store.updateVm({ ...a, state: 'running' });
    const again = (await store.getVm('a'))!;
    expect(again).not.toBe(listed[1]);
    expect(again).toEqual(running);
    expect((await store.listVms())[0]).toBe(again);
    await store.deleteVm(a.id);
    expect((await store.listVms()).map((v) => v.name)).toEqual(['b']);
  });


  it('the change feed lists changes in revision order, resumes after any revision, pages and filters', async () => {
    const store = begin();
    await history(store);
    const all = await store.changes(base);
    expect(all.map(brief)).toEqual([
      '1 vm id-a put', '1 vm-status id-a put', '2 vm-status id-a put', '3 volumes default/d put',
      '4 vm-status id-a delete', '4 vm id-a delete', '5 volumes default/d put',
    ]);
    for (let n = 0; n <= 5; n++) expect(await store.changes(r(n))).toEqual(all.filter((c) => c.revision > r(n)));
    expect(await store.changes(r(99))).toEqual([]);
    expect((await store.changes(base, { limit: 1 })).map(brief)).toEqual(['1 vm id-a put', '1 vm-status id-a put']);
    expect((await store.changes(r(1), { limit: 2 })).map((c) => c.revision - base)).toEqual([2, 3]);
    expect((await store.changes(base, { kinds: ['volumes'] })).map(brief)).toEqual(['3 volumes default/d put', '5 volumes default/d put']);
  });

  it('a watch replays from its revision, then delivers live changes in order, never inside a store call', async () => {
    const store = begin();
    await history(store);
    const c = collector();
    const w = store.watch(r(3), c.listener);
    expect(c.seen).toEqual([]);
    await tick();
    expect(c.seen.map(brief)).toEqual(['4 vm-status id-a delete', '4 vm id-a delete', '5 volumes default/d put']);
    const b = await store.createVm(record('b'));
    await store.updateVm({ ...b, spec: { ...b.spec, cpus: 2 } });
    await tick();
    expect(c.seen.map(brief).slice(3)).toEqual(['6 vm id-b put', '6 vm-status id-b put', '7 vm id-b put']);
    w.close();
    await store.updateVm({ ...b, state: 'running' });
    await tick();
    expect(c.seen).toHaveLength(6);
    expect(c.errors).toEqual([]);
  });

  it('a watch from now sees only what comes next; one from a future revision waits for it; kinds filter', async () => {
    const store = begin();
    await history(store);
    const now = collector();
    const later = collector();
    const kinds = collector();
    const ws = [store.watch(store.revision(), now.listener), store.watch(r(6), later.listener), store.watch(base, kinds.listener, { kinds: ['volumes'] })];
    await store.createVm(record('b'));
    await store.createVm(record('c'));
    await tick();
    expect(now.seen.map(brief)).toEqual(['6 vm id-b put', '6 vm-status id-b put', '7 vm id-c put', '7 vm-status id-c put']);
    expect(later.seen.map(brief)).toEqual(['7 vm id-c put', '7 vm-status id-c put']);
    expect(kinds.seen.map(brief)).toEqual(['3 volumes default/d put', '5 volumes default/d put']);
    for (const w of ws) w.close();
  });

  it('a listener that throws does not stop the others or the writer', async () => {
    const store = s();
    const good = collector();
    const ws = [store.watch(store.revision(), { change: () => { throw new Error('broken'); }, error: () => {} }), store.watch(store.revision(), good.listener)];
    await store.createVm(record('a'));
    await tick();
    expect(good.seen).toHaveLength(2);
    for (const w of ws) w.close();
  });
}
