/**
 * Single-host store on SQLite (better-sqlite3, WAL). Schema changes are numbered
 * migrations applied in order inside one transaction each; `user_version` records the last.
 */
import { createRequire } from 'node:module';
import Database from 'better-sqlite3';
import { HangarError } from '../errors/errors.js';
import type { AuditEntry, AuditQuery, Collection, CollectionKind, EventQuery, HangarEvent, Store, VmRecord } from './store.js';

type Migration = (db: Database.Database) => void;

/**
 * The addon's path, handed to better-sqlite3: its own lookup (the `bindings` package) tries
 * a dozen paths on every daemon start, and cannot find the addon from inside the bundle.
 */
function nativeBinding(): { nativeBinding?: string } {
  try {
    return { nativeBinding: createRequire(import.meta.url).resolve('better-sqlite3/build/Release/better_sqlite3.node') };
  } catch {
    return {};
  }
}

export const MIGRATIONS: readonly Migration[] = [
  (db) => {
    db.exec(`
      CREATE TABLE vms (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        record TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        time TEXT NOT NULL,
        type TEXT NOT NULL,
        vm TEXT,
        data TEXT NOT NULL
      );
      CREATE INDEX events_vm ON events (vm, seq);
    `);
  },
  (db) => {
    db.exec(`
      CREATE TABLE objects (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        record TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (kind, key)
      );
    `);
  },
  (db) => {
    // The audit log: one row per mutating API call; the record is the JSON AuditEntry.
    db.exec(`
      CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        time TEXT NOT NULL,
        vm TEXT,
        record TEXT NOT NULL
      );
      CREATE INDEX audit_time ON audit (time);
      CREATE INDEX audit_vm ON audit (vm, seq);
    `);
  },
];

/** Events older than this many entries are pruned, so the table stays bounded. */
const EVENT_RETENTION = 100_000;
/** The audit log keeps this many entries, pruned like the events. */
const AUDIT_RETENTION = 100_000;

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly stmts;
  private appendsSincePrune = 0;
  private revision = 0;
  private auditsSincePrune = 0;

  constructor(path: string) {
    this.db = new Database(path, nativeBinding());
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    migrate(this.db);
    this.stmts = {
      list: this.db.prepare<[], { record: string }>('SELECT record FROM vms ORDER BY name'),
      get: this.db.prepare<[string], { record: string }>('SELECT record FROM vms WHERE name = ?'),
      insert: this.db.prepare('INSERT INTO vms (id, name, record, created_at, updated_at) VALUES (@id, @name, @record, @createdAt, @updatedAt)'),
      update: this.db.prepare('UPDATE vms SET name = @name, record = @record, updated_at = @updatedAt WHERE id = @id'),
      delete: this.db.prepare('DELETE FROM vms WHERE id = ?'),
      appendEvent: this.db.prepare('INSERT INTO events (time, type, vm, data) VALUES (?, ?, ?, ?)'),
      events: this.db.prepare<[number, string | null, string | null, number], EventRow>(
        'SELECT seq, time, type, vm, data FROM events WHERE seq > ? AND (? IS NULL OR vm = ?) ORDER BY seq LIMIT ?',
      ),
      lastEvents: this.db.prepare<[string | null, string | null, number], EventRow>(
        'SELECT * FROM (SELECT seq, time, type, vm, data FROM events WHERE (? IS NULL OR vm = ?) ORDER BY seq DESC LIMIT ?) ORDER BY seq',
      ),
      prune: this.db.prepare('DELETE FROM events WHERE seq <= (SELECT MAX(seq) FROM events) - ?'),
      appendAudit: this.db.prepare('INSERT INTO audit (time, vm, record) VALUES (?, ?, ?)'),
      audit: this.db.prepare<[number, string | null, string | null, number], { seq: number; record: string }>(
        'SELECT seq, record FROM audit WHERE seq > ? AND (? IS NULL OR vm = ?) ORDER BY seq LIMIT ?',
      ),
      lastAudit: this.db.prepare<[string | null, string | null, number], { seq: number; record: string }>(
        'SELECT * FROM (SELECT seq, record FROM audit WHERE (? IS NULL OR vm = ?) ORDER BY seq DESC LIMIT ?) ORDER BY seq',
      ),
      pruneAudit: this.db.prepare('DELETE FROM audit WHERE seq <= (SELECT MAX(seq) FROM audit) - ?'),
      objGet: this.db.prepare<[string, string], { record: string }>('SELECT record FROM objects WHERE kind = ? AND key = ?'),
      objList: this.db.prepare<[string], { record: string }>('SELECT record FROM objects WHERE kind = ? ORDER BY key'),
      objCreate: this.db.prepare('INSERT OR IGNORE INTO objects (kind, key, record, updated_at) VALUES (?, ?, ?, ?)'),
      objUpdate: this.db.prepare('UPDATE objects SET record = ?, updated_at = ? WHERE kind = ? AND key = ?'),
      objDelete: this.db.prepare('DELETE FROM objects WHERE kind = ? AND key = ?'),
    };
  }

  collection<T>(kind: CollectionKind): Collection<T> {
    const s = this.stmts;
    return {
      get: async (key) => {
        const row = s.objGet.get(kind, key);
        return row ? (JSON.parse(row.record) as T) : undefined;
      },
      list: async () => s.objList.all(kind).map((r) => JSON.parse(r.record) as T),
      create: async (key, record) => s.objCreate.run(kind, key, JSON.stringify(record), new Date().toISOString()).changes === 1,
      update: async (key, record) => s.objUpdate.run(JSON.stringify(record), new Date().toISOString(), kind, key).changes === 1,
      delete: async (key) => {
        s.objDelete.run(kind, key);
      },
    };
  }

  vmRevision(): number {
    return this.revision;
  }

  async listVms(): Promise<VmRecord[]> {
    return this.stmts.list.all().map((r) => JSON.parse(r.record) as VmRecord);
  }

  async getVm(name: string): Promise<VmRecord | undefined> {
    const row = this.stmts.get.get(name);
    return row ? (JSON.parse(row.record) as VmRecord) : undefined;
  }

  async createVm(record: VmRecord): Promise<void> {
    try {
      this.stmts.insert.run({ id: record.id, name: record.name, record: JSON.stringify(record), createdAt: record.createdAt, updatedAt: record.updatedAt });
      this.revision++;
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE' || (e as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new HangarError('VM_EXISTS', `A VM named "${record.name}" already exists: pick another name or delete it first.`);
      }
      throw e;
    }
  }

  async updateVm(record: VmRecord): Promise<VmRecord> {
    const next = { ...record, updatedAt: new Date().toISOString() };
    const res = this.stmts.update.run({ id: next.id, name: next.name, record: JSON.stringify(next), updatedAt: next.updatedAt });
    this.revision++;
    if (res.changes === 0) throw new HangarError('VM_NOT_FOUND', `VM "${record.name}" no longer exists.`);
    return next;
  }

  async deleteVm(id: string): Promise<void> {
    this.stmts.delete.run(id);
    this.revision++;
  }

  async appendEvent(event: Omit<HangarEvent, 'seq' | 'time'>): Promise<HangarEvent> {
    const time = new Date().toISOString();
    const res = this.stmts.appendEvent.run(time, event.type, event.vm ?? null, JSON.stringify(event.data));
    if (++this.appendsSincePrune >= 1000) {
      this.appendsSincePrune = 0;
      this.stmts.prune.run(EVENT_RETENTION);
    }
    return { seq: Number(res.lastInsertRowid), time, ...event };
  }

  async listEvents(query: EventQuery = {}): Promise<HangarEvent[]> {
    const limit = Math.min(Math.max(query.limit ?? 1000, 1), 10_000);
    const vm = query.vm ?? null;
    const rows = query.afterSeq === undefined ? this.stmts.lastEvents.all(vm, vm, limit) : this.stmts.events.all(query.afterSeq, vm, vm, limit);
    return rows.map(rowToEvent);
  }

  async appendAudit(entry: Omit<AuditEntry, 'seq'>): Promise<AuditEntry> {
    const res = this.stmts.appendAudit.run(entry.time, entry.vm ?? null, JSON.stringify(entry));
    if (++this.auditsSincePrune >= 1000) {
      this.auditsSincePrune = 0;
      this.stmts.pruneAudit.run(AUDIT_RETENTION);
    }
    return { seq: Number(res.lastInsertRowid), ...entry };
  }

  async listAudit(query: AuditQuery = {}): Promise<AuditEntry[]> {
    const limit = Math.min(Math.max(query.limit ?? 100, 1), 10_000);
    const vm = query.vm ?? null;
    const rows = query.afterSeq === undefined ? this.stmts.lastAudit.all(vm, vm, limit) : this.stmts.audit.all(query.afterSeq, vm, vm, limit);
    return rows.map((r) => ({ seq: r.seq, ...(JSON.parse(r.record) as Omit<AuditEntry, 'seq'>) }));
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

interface EventRow {
  seq: number;
  time: string;
  type: string;
  vm: string | null;
  data: string;
}

function rowToEvent(r: EventRow): HangarEvent {
  const e: HangarEvent = { seq: r.seq, time: r.time, type: r.type, data: JSON.parse(r.data) as Record<string, unknown> };
  if (r.vm !== null) e.vm = r.vm;
  return e;
}

export function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new HangarError('INTERNAL', `The database schema (version ${current}) is newer than this Hangar (${MIGRATIONS.length}): upgrade Hangar.`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      MIGRATIONS[v]!(db);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
