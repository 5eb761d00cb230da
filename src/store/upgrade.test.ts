/**
 * Upgrades and downgrades of the single-host store. Every released Hangar's store is kept
 * in test/fixtures/stores/<version>/ (made by that release: see its README): today's code
 * opens a copy of each, migrates it, and reads back every record. A store with a schema
 * newer than this Hangar's is refused with STORE_SCHEMA_TOO_NEW, and nothing is changed.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import { VERSION } from '../version.js';
import { COLLECTION_KINDS } from './store.js';
import { SQLITE_SCHEMA, SqliteStore } from './sqlite.js';
import { assertSqliteSchemaKnown, readSqliteSchema } from './schema.js';

const FIXTURES = resolve(import.meta.dirname, '..', '..', 'test', 'fixtures', 'stores');
const RELEASES = readdirSync(FIXTURES).filter((v) => /^\d+\.\d+\.\d+$/.test(v));

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'hangar-upgrade-'));
  dirs.push(d);
  return d;
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** The rows of a database file, read from a copy in memory (the fixture itself is never opened). */
function rowsOf(path: string): { version: number; objects: { kind: string; key: string; record: unknown }[]; vms: { id: string; name: string }[]; events: number; audit: number } {
  const image = readFileSync(path);
  image[18] = 1; // WAL mode → rollback journal: a database in memory cannot be in WAL mode
  image[19] = 1;
  const db = new Database(image);
  try {
    return {
      version: db.pragma('user_version', { simple: true }) as number,
      objects: db.prepare<[], { kind: string; key: string; record: string }>('SELECT kind, key, record FROM objects ORDER BY kind, key').all().map((r) => ({ ...r, record: JSON.parse(r.record) as unknown })),
      vms: db.prepare<[], { id: string; name: string }>('SELECT id, name FROM vm_desired ORDER BY name').all(),
      events: (db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n,
      audit: (db.prepare('SELECT COUNT(*) AS n FROM audit').get() as { n: number }).n,
    };
  } finally {
    db.close();
  }
}

it('keeps a store fixture of every release', () => {
  expect(RELEASES).toContain('0.1.0');
  for (const v of RELEASES) expect(existsSync(join(FIXTURES, v, 'hangar.db')), v).toBe(true);
});

describe.each(RELEASES)('a store Hangar %s wrote', (release) => {
  const fixture = join(FIXTURES, release, 'hangar.db');
  const manifest = JSON.parse(readFileSync(join(FIXTURES, release, 'manifest.json'), 'utf8')) as { hangar: string; vms: string[] };

  it('is migrated to the current schema, with every record readable through the store', async () => {
    const before = rowsOf(fixture);
    expect(manifest.hangar).toBe(release);
    expect(before.version).toBeLessThanOrEqual(SQLITE_SCHEMA);
    const path = join(tmp(), 'hangar.db');
    copyFileSync(fixture, path);
    const store = new SqliteStore(path);
    try {
      expect(store.schema()).toEqual({ kind: 'sqlite', schema: SQLITE_SCHEMA, writtenBy: VERSION });
      // VMs: every one, by list, name and id, with its spec and state.
      const vms = await store.listVms();
      expect(vms.map((v) => v.name).sort()).toEqual([...manifest.vms].sort());
      expect(vms.map((v) => ({ id: v.id, name: v.name })).sort((a, b) => a.name.localeCompare(b.name))).toEqual(before.vms);
      for (const v of vms) {
        expect((await store.getVm(v.name))?.id).toBe(v.id);
        expect((await store.getVmById(v.id))?.name).toBe(v.name);
        expect(v.spec.name).toBe(v.name);
        expect(v.state).toBe('stopped');
      }
      // Collections: every record of every kind the old store held, unchanged.
      const kinds = [...new Set(before.objects.map((o) => o.kind))];
      expect(kinds.length).toBeGreaterThanOrEqual(8);
      for (const kind of kinds) expect((COLLECTION_KINDS as readonly string[]).includes(kind), kind).toBe(true);
      for (const kind of kinds) {
        const entries = await store.collection<unknown>(kind as (typeof COLLECTION_KINDS)[number]).entries();
        expect(entries.map((e) => ({ kind, key: e.key, record: e.record })), kind).toEqual(before.objects.filter((o) => o.kind === kind));
      }
      expect(await store.listEvents({ limit: 100_000 })).toHaveLength(before.events);
      expect(await store.listAudit({ limit: 100_000 })).toHaveLength(before.audit);
      // And it takes writes: a new revision, on the feed.
      const rev = store.revision();
      await store.collection('projects').create('after-upgrade', { name: 'after-upgrade' });
      expect(store.revision()).toBe(rev + 1);
      expect(await store.changes(rev)).toEqual([{ revision: rev + 1, kind: 'projects', key: 'after-upgrade', op: 'put' }]);
    } finally {
      await store.close();
    }
    // Reopened: nothing more to migrate, the records still there.
    const again = new SqliteStore(path);
    expect((await again.listVms()).length).toBe(manifest.vms.length);
    await again.close();
    expect(rowsOf(path).version).toBe(SQLITE_SCHEMA);
  });
});

describe('a store of a newer schema (a downgrade)', () => {
  /** A store as a future Hangar (schema + 1) leaves it, closed. */
  function newerStore(dir: string, writtenBy = '9.9.9'): string {
    const path = join(dir, 'hangar.db');
    new SqliteStore(path, { hangarVersion: writtenBy }).close();
    const db = new Database(path);
    db.pragma(`user_version = ${SQLITE_SCHEMA + 1}`);
    db.close();
    return path;
  }

  const listing = (dir: string) => readdirSync(dir).sort();

  it('is refused with STORE_SCHEMA_TOO_NEW, saying which Hangar wrote it, and is left as it was', () => {
    const dir = tmp();
    const path = newerStore(dir);
    const [sum, files] = [sha256(path), listing(dir)];
    expect(files).toEqual(['hangar.db']);
    let err: unknown;
    try {
      new SqliteStore(path);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HangarError);
    const e = err as HangarError;
    expect(e.code).toBe('STORE_SCHEMA_TOO_NEW');
    expect(e.message).toContain('Hangar 9.9.9');
    expect(e.message).toContain(`store schema ${SQLITE_SCHEMA + 1}`);
    expect(e.message).toContain(`this is Hangar ${VERSION}`);
    expect(e.details).toMatchObject({ store: 'sqlite', schema: SQLITE_SCHEMA + 1, supportedSchema: SQLITE_SCHEMA, writtenBy: '9.9.9' });
    // Not opened at all: no -wal or -shm made, not a byte changed.
    expect(listing(dir)).toEqual(files);
    expect(sha256(path)).toBe(sum);
  });

  it('is seen through a WAL the newer Hangar left (killed before a checkpoint)', () => {
    const dir = tmp();
    const path = join(dir, 'hangar.db');
    new SqliteStore(path).close();
    const db = new Database(path);
    db.pragma('wal_autocheckpoint = 0');
    db.pragma(`user_version = ${SQLITE_SCHEMA + 3}`);
    db.prepare("UPDATE store_info SET value = '7.0.0' WHERE name = 'hangar_version'").run();
    try {
      // The file's header still says the old schema; the WAL holds the new one.
      expect(readFileSync(path).readUInt32BE(60)).toBe(SQLITE_SCHEMA);
      expect(readSqliteSchema(path)).toEqual({ schema: SQLITE_SCHEMA + 3, writtenBy: '7.0.0' });
      expect(() => assertSqliteSchemaKnown(path, SQLITE_SCHEMA)).toThrow(/Hangar 7\.0\.0/);
    } finally {
      db.close();
    }
  });

  it('is not what a store this Hangar knows is: a missing store and an older one pass', () => {
    const dir = tmp();
    expect(readSqliteSchema(join(dir, 'hangar.db'))).toBeUndefined();
    expect(() => assertSqliteSchemaKnown(join(dir, 'hangar.db'), SQLITE_SCHEMA)).not.toThrow();
    const fixture = join(FIXTURES, '0.1.0', 'hangar.db');
    expect(readSqliteSchema(fixture)).toEqual({ schema: 4 });
    expect(() => assertSqliteSchemaKnown(fixture, SQLITE_SCHEMA)).not.toThrow();
  });
});
