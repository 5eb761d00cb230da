/**
 * Migration 4 splits each VM row into its desired and status halves. The old database is
 * built as the code before it left it: migrations 1–3, then rows written with its SQL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { VmRecord } from './store.js';
import { MIGRATIONS, SqliteStore } from './sqlite.js';

const SPEC: Omit<VmRecord['spec'], 'name' | 'disks'> = { machine: 'q35', cpuModel: 'max', cpus: 2, memoryMiB: 512, boot: { kind: 'disk' }, nics: [], balloon: true, rng: true, vnc: true };

/** A VM as the old store kept it: every field there is, in one JSON record. */
const running: VmRecord = {
  id: 'aaaaaaaaaaaa', name: 'web', createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-03T00:00:00.000Z',
  spec: { ...SPEC, name: 'web', disks: [{ id: 'disk0', path: '/p/web.qcow2', format: 'qcow2', readOnly: false, bootIndex: 0 }], autostart: { order: 1, delaySeconds: 0 } },
  state: 'running', stateReason: 'adopted after a daemon restart',
  runtime: { pid: 4242, pidStartTime: '987654', qmpSocket: '/run/q.sock', serialSocket: '/run/s.sock', startedAt: '2026-01-03T00:00:00.000Z', accel: 'kvm', hotplug: { hotplug0: 'net1' }, live: { cpus: 2, maxCpus: 4, memoryMiB: 512, pluggedMiB: 512, maxMemoryMiB: 1024, dimms: 0 } },
  restartHistory: ['2026-01-02T00:00:00.000Z'], guestUid: 2100003, lastExit: { code: null, signal: 'SIGKILL', at: '2026-01-02T00:00:00.000Z' },
  migration: { id: 'mig1', role: 'outgoing', peer: 'b', startedAt: '2026-01-03T00:00:00.000Z', wasRunning: true },
};
const stopped: VmRecord = {
  id: 'bbbbbbbbbbbb', name: 'db', createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z',
  spec: { ...SPEC, name: 'db', disks: [] }, state: 'stopped', stoppedByUser: true,
  migratedTo: { peer: 'b', url: 'https://b:8443', at: '2026-01-01T00:00:00.000Z' },
};

/** The schema and rows of a database the code before migration 4 wrote. */
function oldDatabase(path: string, vms: VmRecord[], withObjects = true): void {
  const db = new Database(path);
  for (const m of MIGRATIONS.slice(0, 3)) m(db);
  db.pragma('user_version = 3');
  const insert = db.prepare('INSERT INTO vms (id, name, record, created_at, updated_at) VALUES (@id, @name, @record, @createdAt, @updatedAt)');
  for (const r of vms) insert.run({ id: r.id, name: r.name, record: JSON.stringify(r), createdAt: r.createdAt, updatedAt: r.updatedAt });
  if (withObjects) {
    const obj = db.prepare('INSERT OR IGNORE INTO objects (kind, key, record, updated_at) VALUES (?, ?, ?, ?)');
    obj.run('pools', 'default', JSON.stringify({ name: 'default', kind: 'dir', path: '/p' }), '2026-01-01T00:00:00.000Z');
    obj.run('volumes', 'default/web', JSON.stringify({ pool: 'default', name: 'web', sizeBytes: 1 }), '2026-01-01T00:00:00.000Z');
  }
  db.prepare('INSERT INTO events (time, type, vm, data) VALUES (?, ?, ?, ?)').run('2026-01-01T00:00:00.000Z', 'vm.created', 'web', '{}');
  db.prepare('INSERT INTO audit (time, vm, record) VALUES (?, ?, ?)').run('2026-01-01T00:00:00.000Z', 'web', JSON.stringify({ time: '2026-01-01T00:00:00.000Z', actor: 'unix-socket', transport: 'unix', method: 'POST', route: '/v1/vms', status: 201, durationMs: 3 }));
  db.close();
}

describe('migration to desired and status halves', () => {
  let dir: string;
  let path: string;
  let store: SqliteStore | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hangar-migrate-'));
    path = join(dir, 'hangar.db');
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every VM field, every collection record, the events and the audit log', async () => {
    oldDatabase(path, [running, stopped]);
    store = new SqliteStore(path);
    const meta = { revision: 1, desiredRevision: 1, statusRevision: 1 };
    expect(await store.getVm('web')).toEqual({ ...running, ...meta });
    expect(await store.getVm('db')).toEqual({ ...stopped, ...meta });
    expect((await store.listVms()).map((v) => v.name)).toEqual(['db', 'web']);
    expect(await store.collection('pools').entries()).toEqual([{ key: 'default', record: { name: 'default', kind: 'dir', path: '/p' }, revision: 1 }]);
    expect(await store.collection('volumes').get('default/web')).toEqual({ pool: 'default', name: 'web', sizeBytes: 1 });
    expect((await store.listEvents()).map((e) => e.type)).toEqual(['vm.created']);
    expect((await store.listAudit())[0]).toMatchObject({ seq: 1, route: '/v1/vms', status: 201 });

    // What was there is revision 1; the feed starts after it.
    expect(store.revision()).toBe(1);
    expect(store.compactRevision()).toBe(1);
    await expect(store.changes(0)).rejects.toMatchObject({ code: 'REVISION_COMPACTED' });
    expect(await store.changes(1)).toEqual([]);
    const next = await store.updateVm({ ...(await store.getVm('web'))!, state: 'paused' }, { expectRevision: 1 });
    expect(next).toMatchObject({ revision: 2, desiredRevision: 1, statusRevision: 2, state: 'paused', guestUid: 2100003 });
  });

  it('splits the fields by who writes them', async () => {
    oldDatabase(path, [running]);
    store = new SqliteStore(path);
    const db = new Database(path, { readonly: true });
    const d = JSON.parse((db.prepare('SELECT record FROM vm_desired').get() as { record: string }).record) as Record<string, unknown>;
    const s = JSON.parse((db.prepare('SELECT record FROM vm_status').get() as { record: string }).record) as Record<string, unknown>;
    expect(Object.keys(d).sort()).toEqual(['createdAt', 'id', 'name', 'spec']);
    expect(Object.keys(s).sort()).toEqual(['guestUid', 'lastExit', 'migration', 'restartHistory', 'runtime', 'state', 'stateReason']);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'vms'").get()).toBeUndefined();
    db.close();
  });

  it('an empty old database starts at revision 0 with the whole feed', async () => {
    oldDatabase(path, [], false);
    store = new SqliteStore(path);
    expect(store.revision()).toBe(0);
    expect(store.compactRevision()).toBe(0);
    await store.createVm(stopped);
    expect((await store.changes(0)).map((c) => c.kind)).toEqual(['vm', 'vm-status']);
  });

  it('a migration that fails leaves the old database as it was', async () => {
    oldDatabase(path, [running]);
    const db = new Database(path);
    db.prepare("UPDATE vms SET record = '{not json' WHERE id = ?").run(running.id);
    db.close();
    expect(() => new SqliteStore(path)).toThrow(SyntaxError);
    const after = new Database(path, { readonly: true });
    expect(after.pragma('user_version', { simple: true })).toBe(3);
    expect(after.prepare('SELECT COUNT(*) AS n FROM vms').get()).toEqual({ n: 1 });
    expect(after.prepare("SELECT name FROM sqlite_master WHERE name = 'vm_desired'").get()).toBeUndefined();
    after.close();
  });
});
