import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { record, storeContract } from './contract.js';
import { MIGRATIONS, SqliteStore } from './sqlite.js';

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

  describe('the store contract', () => storeContract(() => store));

  it('persists across reopen and applies migrations once', async () => {
    await store.createVm(record('a'));
    await store.close();
    store = new SqliteStore(join(dir, 'hangar.db'));
    expect((await store.getVm('a'))?.name).toBe('a');
    const db = new Database(join(dir, 'hangar.db'));
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    db.close();
  });

  it('refuses a database newer than the code', async () => {
    await store.close();
    const db = new Database(join(dir, 'hangar.db'));
    db.pragma(`user_version = ${MIGRATIONS.length + 5}`);
    db.close();
    expect(() => new SqliteStore(join(dir, 'hangar.db'))).toThrow(/newer/);
    store = new SqliteStore(join(dir, 'other.db'));
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

});
