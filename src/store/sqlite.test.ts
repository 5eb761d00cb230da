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
});
