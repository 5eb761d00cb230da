import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import type { VmRecord } from './store.js';
import { MIGRATIONS, SqliteStore } from './sqlite.js';

function record(name: string, id = `id-${name}`): VmRecord {
  const now = new Date().toISOString();
  return {
    id, name, state: 'stopped', createdAt: now, updatedAt: now,
    spec: { name, machine: 'q35', cpuModel: 'max', cpus: 1, memoryMiB: 256, boot: { kind: 'disk' }, disks: [], nics: [], balloon: true, rng: true, vnc: true },
  };
}

describe('SqliteStore', () => {
  let dir: string;
  let store: SqliteStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hangar-store-'));
    store = new SqliteStore(join(dir, 'hangar.db'));
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates, reads, updates and deletes VMs', async () => {
    await store.createVm(record('b'));
    await store.createVm(record('a'));
    expect((await store.listVms()).map((v) => v.name)).toEqual(['a', 'b']);
    const a = (await store.getVm('a'))!;
    const updated = await store.updateVm({ ...a, state: 'running' });
    expect(updated.state).toBe('running');
    expect((await store.getVm('a'))!.state).toBe('running');
    await store.deleteVm(a.id);
    expect(await store.getVm('a')).toBeUndefined();
  });

  it('refuses a duplicate name with VM_EXISTS', async () => {
    await store.createVm(record('a'));
    await expect(store.createVm(record('a', 'other'))).rejects.toMatchObject({ code: 'VM_EXISTS' });
    await expect(store.createVm(record('a', 'other'))).rejects.toBeInstanceOf(HangarError);
  });

  it('updating a deleted VM fails clearly', async () => {
    const r = record('gone');
    await expect(store.updateVm(r)).rejects.toMatchObject({ code: 'VM_NOT_FOUND' });
  });

  it('appends and queries events in order', async () => {
    await store.appendEvent({ type: 'vm.created', vm: 'a', data: {} });
    await store.appendEvent({ type: 'vm.state', vm: 'b', data: { state: 'running' } });
    const e3 = await store.appendEvent({ type: 'vm.state', vm: 'a', data: { state: 'running' } });
    expect((await store.listEvents()).map((e) => e.seq)).toEqual([1, 2, 3]);
    expect((await store.listEvents({ vm: 'a' })).map((e) => e.type)).toEqual(['vm.created', 'vm.state']);
    expect(await store.listEvents({ afterSeq: 2 })).toEqual([e3]);
    expect((await store.listEvents({ limit: 2 })).map((e) => e.seq)).toEqual([2, 3]);
  });

  it('appends and queries the audit log in order, by VM, after a seq', async () => {
    const base = { actor: 'unix-socket', transport: 'unix' as const, status: 200, durationMs: 1 };
    await store.appendAudit({ ...base, time: '2026-01-01T00:00:00.000Z', method: 'POST', route: '/v1/vms', target: 'vms/a', vm: 'a', body: { name: 'a' } });
    await store.appendAudit({ ...base, time: '2026-01-01T00:00:01.000Z', method: 'POST', route: '/v1/pools', target: 'pools/p' });
    const third = await store.appendAudit({ ...base, time: '2026-01-01T00:00:02.000Z', method: 'DELETE', route: '/v1/vms/:name', vm: 'a', status: 409, errorCode: 'VM_STATE' });
    expect(third.seq).toBe(3);
    expect((await store.listAudit()).map((e) => e.seq)).toEqual([1, 2, 3]);
    expect((await store.listAudit({ vm: 'a' })).map((e) => e.method)).toEqual(['POST', 'DELETE']);
    expect(await store.listAudit({ afterSeq: 2 })).toEqual([third]);
    expect((await store.listAudit({ limit: 1 }))[0]).toMatchObject({ seq: 3, errorCode: 'VM_STATE', vm: 'a' });
    expect((await store.listAudit({ afterSeq: 0, limit: 1 }))[0]).toMatchObject({ seq: 1, body: { name: 'a' } });
  });

  it('persists across reopen and applies migrations once', async () => {
    await store.createVm(record('a'));
    await store.close();
    store = new SqliteStore(join(dir, 'hangar.db'));
    expect((await store.getVm('a'))?.name).toBe('a');
    const db = new Database(join(dir, 'hangar.db'));
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    db.close();
  });

  it('keeps collections of records by kind and key', async () => {
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

  it('refuses a database newer than the code', async () => {
    await store.close();
    const db = new Database(join(dir, 'hangar.db'));
    db.pragma(`user_version = ${MIGRATIONS.length + 5}`);
    db.close();
    expect(() => new SqliteStore(join(dir, 'hangar.db'))).toThrow(/newer/);
    store = new SqliteStore(join(dir, 'other.db'));
  });

  it('gives each VM write a new store revision, and both halves of a new VM the same one', async () => {
    expect(store.revision()).toBe(0);
    const a = await store.createVm(record('a'));
    expect(a).toMatchObject({ revision: 1, desiredRevision: 1, statusRevision: 1 });
    expect(await store.getVm('a')).toMatchObject({ revision: 1, desiredRevision: 1, statusRevision: 1 });
    await store.createVm(record('b'));
    expect(store.revision()).toBe(2);
    expect((await store.getVmById('id-b'))?.name).toBe('b');
  });

  it('writes only the half whose content changed', async () => {
    const a = await store.createVm(record('a'));
    const running = await store.updateVm({ ...a, state: 'running', runtime: { pid: 1, pidStartTime: '1', qmpSocket: 'q', serialSocket: 's', startedAt: 't', accel: 'tcg' } });
    expect(running).toMatchObject({ revision: 2, desiredRevision: 1, statusRevision: 2 });
    const bigger = await store.updateVm({ ...running, spec: { ...running.spec, cpus: 2 } });
    expect(bigger).toMatchObject({ revision: 3, desiredRevision: 3, statusRevision: 2 });
    const both = await store.updateVm({ ...bigger, spec: { ...bigger.spec, cpus: 3 }, state: 'stopped', runtime: undefined });
    expect(both).toMatchObject({ revision: 4, desiredRevision: 4, statusRevision: 4 });
    expect(await store.getVm('a')).toEqual(both);
    // Nothing changed: nothing written, no new revision.
    expect(await store.updateVm(both)).toMatchObject({ revision: 4 });
    expect(store.revision()).toBe(4);
    expect((await store.changes(0)).map((c) => `${c.revision} ${c.kind} ${c.op}`)).toEqual([
      '1 vm put', '1 vm-status put', '2 vm-status put', '3 vm put', '4 vm put', '4 vm-status put',
    ]);
  });

  it("the view's updatedAt is the later of the halves'", async () => {
    const a = await store.createVm({ ...record('a'), updatedAt: '2020-01-01T00:00:00.000Z' });
    const running = await store.updateVm({ ...a, state: 'running' });
    expect(running.updatedAt > '2020-01-01T00:00:00.000Z').toBe(true);
    expect((await store.getVm('a'))?.updatedAt).toBe(running.updatedAt);
    expect((await store.getVm('a'))?.createdAt).toBe(a.createdAt);
  });

  it('compare-and-swap: succeeds on the revision read, fails on any other and changes nothing', async () => {
    const a = await store.createVm(record('a'));
    const b = await store.updateVm({ ...a, state: 'running' }, { expectRevision: a.revision });
    expect(b.revision).toBe(2);
    const stale = store.updateVm({ ...a, spec: { ...a.spec, cpus: 4 } }, { expectRevision: a.revision });
    await expect(stale).rejects.toMatchObject({ code: 'CONFLICT', details: { expectedRevision: 1, revision: 2 } });
    await expect(stale).rejects.toBeInstanceOf(HangarError);
    expect(await store.getVm('a')).toEqual(b);
    expect(store.revision()).toBe(2);
    expect((await store.changes(1)).length).toBe(1);
    await expect(store.updateVm({ ...record('gone') }, { expectRevision: 1 })).rejects.toMatchObject({ code: 'VM_NOT_FOUND' });
  });

  it('compare-and-swap per half: the API and the node each check only their own', async () => {
    const a = await store.createVm(record('a'));
    // The node writes status; the API's desired write, read before, still holds.
    const running = await store.updateVmStatus(a.id, { state: 'running' }, { expectRevision: a.statusRevision });
    const bigger = await store.updateVmDesired({ id: a.id, name: a.name, spec: { ...a.spec, cpus: 2 }, createdAt: a.createdAt }, { expectRevision: a.desiredRevision });
    expect(bigger).toMatchObject({ state: 'running', spec: { cpus: 2 }, desiredRevision: 3, statusRevision: 2, revision: 3 });
    expect(running).toMatchObject({ state: 'running', desiredRevision: 1, statusRevision: 2 });
    await expect(store.updateVmStatus(a.id, { state: 'stopped' }, { expectRevision: a.statusRevision })).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(store.updateVmDesired({ ...bigger, spec: a.spec }, { expectRevision: a.desiredRevision })).rejects.toMatchObject({ code: 'CONFLICT' });
    // The whole-record check sees either half's change.
    await expect(store.updateVm({ ...a, stoppedByUser: true }, { expectRevision: running.revision })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(await store.getVm('a')).toEqual(bigger);
  });

  it('a write is one transaction: a create that fails half-way leaves neither half', async () => {
    const db = new Database(join(dir, 'hangar.db'));
    db.exec("CREATE TRIGGER fail BEFORE INSERT ON vm_status BEGIN SELECT RAISE(ABORT, 'injected'); END");
    await expect(store.createVm(record('a'))).rejects.toThrow(/injected/);
    expect(await store.getVm('a')).toBeUndefined();
    expect(db.prepare('SELECT COUNT(*) AS n FROM vm_desired').get()).toEqual({ n: 0 });
    expect(store.revision()).toBe(0);
    expect(await store.changes(0)).toEqual([]);
    db.exec('DROP TRIGGER fail');
    db.close();
    expect(await store.createVm(record('a'))).toMatchObject({ revision: 1 });
  });

  it('renaming onto a taken name fails with VM_EXISTS and changes nothing', async () => {
    await store.createVm(record('a'));
    const b = await store.createVm(record('b'));
    await expect(store.updateVm({ ...b, name: 'a' })).rejects.toMatchObject({ code: 'VM_EXISTS' });
    expect((await store.getVm('b'))?.revision).toBe(2);
    expect(store.revision()).toBe(2);
  });

  it('vmRevision changes with VM writes only', async () => {
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
    const pools = store.collection<{ name: string; path: string }>('pools');
    await pools.create('p', { name: 'p', path: '/a' });
    expect(await pools.create('p', { name: 'p', path: '/b' })).toBe(false);
    expect(store.revision()).toBe(1);
    const e = (await pools.entry('p'))!;
    expect(e).toEqual({ key: 'p', record: { name: 'p', path: '/a' }, revision: 1 });
    expect(await pools.update('p', { name: 'p', path: '/b' }, { expectRevision: e.revision })).toBe(true);
    await expect(pools.update('p', { name: 'p', path: '/c' }, { expectRevision: e.revision })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(await pools.get('p')).toEqual({ name: 'p', path: '/b' });
    expect(await pools.update('missing', { name: 'x', path: '/' }, { expectRevision: 1 })).toBe(false);
    await pools.delete('missing');
    expect(store.revision()).toBe(2);
    await pools.create('q', { name: 'q', path: '/q' });
    expect((await pools.entries()).map((x) => `${x.key}@${x.revision}`)).toEqual(['p@2', 'q@3']);
    await pools.delete('p');
    expect(await store.changes(0)).toEqual([
      { revision: 1, kind: 'pools', key: 'p', op: 'put' },
      { revision: 2, kind: 'pools', key: 'p', op: 'put' },
      { revision: 3, kind: 'pools', key: 'q', op: 'put' },
      { revision: 4, kind: 'pools', key: 'p', op: 'delete' },
    ]);
  });

  it('keeps the revision and the compaction across a reopen', async () => {
    const a = await store.createVm(record('a'));
    await store.updateVm({ ...a, state: 'running' });
    await store.deleteVm(a.id);
    store.compact(2);
    await store.close();
    store = new SqliteStore(join(dir, 'hangar.db'));
    expect(store.revision()).toBe(3);
    expect(store.compactRevision()).toBe(2);
    expect(await store.changes(2)).toEqual([{ revision: 3, kind: 'vm-status', key: a.id, op: 'delete' }, { revision: 3, kind: 'vm', key: a.id, op: 'delete' }]);
    expect((await store.createVm(record('b'))).revision).toBe(4);
  });

  it('reads share one frozen record per version: a change gives a new one', async () => {
    await store.createVm(record('b'));
    const a = await store.createVm(record('a'));
    const listed = await store.listVms();
    expect(Object.isFrozen(listed[0])).toBe(true);
    expect(Object.isFrozen(listed[0]!.spec.disks)).toBe(true);
    expect(() => {
      (listed[0] as { state: string }).state = 'running';
    }).toThrow(TypeError);
    expect(await store.getVm('a')).toBe(listed[0]);
    // The array is the caller's: sorting it leaves the next list alone.
    listed.reverse();
    expect((await store.listVms()).map((v) => v.name)).toEqual(['a', 'b']);
    const running = await store.updateVm({ ...a, state: 'running' });
    const again = (await store.getVm('a'))!;
    expect(again).not.toBe(listed[1]);
    expect(again).toEqual(running);
    expect((await store.listVms())[0]).toBe(again);
    await store.deleteVm(a.id);
    expect((await store.listVms()).map((v) => v.name)).toEqual(['b']);
    expect(await store.getVmById(a.id)).toBeUndefined();
  });
});
