/**
 * Single-host store on SQLite (better-sqlite3, WAL). Schema changes are numbered
 * migrations applied in order inside one transaction each; `user_version` records the last.
 *
 * Revisions work as in etcd: one store-wide counter, increased by each write transaction
 * that changes something; every row keeps the revision of its last write (mod_revision), and
 * the `changes` table lists what each revision touched (the feed behind changes() and
 * watch()), pruned to the last CHANGE_RETENTION revisions. This process is the only writer
 * (the daemon holds the data directory), so the counter lives in memory once read at open.
 */
import Database from 'better-sqlite3';
import { HangarError } from '../errors/errors.js';
import { splitVmRecord, type VmDesiredFields, type VmStatusFields } from '../model/vm-record.js';
import type {
  AuditEntry, AuditQuery, ChangeListener, ChangeQuery, Collection, CollectionEntry, CollectionKind, EventQuery, HangarEvent, Store, StoreChange, VmRecord, Watch, WriteOptions,
} from './store.js';
import { compactedError, enqueue, openWatch, type FeedWatcher } from './change-feed.js';
import { conflict, deepFreeze, vmExists } from './records.js';
import { assertSqliteSchemaKnown, nativeBinding, schemaTooNew, writerOf, type StoreSchemaInfo } from './schema.js';
import { VERSION } from '../version.js';

type Migration = (db: Database.Database) => void;

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
  (db) => {
    // A VM becomes two rows, its desired half and its status half (model/vm-record.ts says
    // which field goes where), each with the revision of its last write; collection records
    // get revisions too, and the change feed begins. What the database held becomes revision
    // 1 (0 when it was empty), and the feed starts after it: history before is not known.
    db.exec(`
      CREATE TABLE vm_desired (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        record TEXT NOT NULL,
        revision INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE vm_status (
        id TEXT PRIMARY KEY,
        record TEXT NOT NULL,
        revision INTEGER NOT NULL,
        updated_at TEXT NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE changes (
        revision INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        op TEXT NOT NULL,
        PRIMARY KEY (revision, idx)
      ) WITHOUT ROWID;
      CREATE TABLE store_meta (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      );
      ALTER TABLE objects ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
    `);
    const vms = db.prepare<[], { id: string; name: string; record: string; created_at: string; updated_at: string }>('SELECT id, name, record, created_at, updated_at FROM vms').all();
    const objects = (db.prepare('SELECT COUNT(*) AS n FROM objects').get() as { n: number }).n;
    const revision = vms.length + objects > 0 ? 1 : 0;
    const desired = db.prepare('INSERT INTO vm_desired (id, name, record, revision, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)');
    const status = db.prepare('INSERT INTO vm_status (id, record, revision, updated_at) VALUES (?, ?, ?, ?)');
    for (const row of vms) {
      const halves = splitVmRecord(JSON.parse(row.record) as VmRecord);
      desired.run(row.id, row.name, JSON.stringify(halves.desired), revision, row.created_at, row.updated_at);
      status.run(row.id, JSON.stringify(halves.status), revision, row.updated_at);
    }
    db.prepare('UPDATE objects SET revision = ?').run(revision);
    db.prepare("INSERT INTO store_meta (name, value) VALUES ('compact_revision', ?)").run(revision);
    db.exec('DROP TABLE vms');
  },
  (db) => {
    // Which Hangar last opened the store (name 'hangar_version'): a Hangar too old to read it
    // says so when it refuses (src/store/schema.ts); Hangar 0.1.0's stores (schema 4) had none.
    db.exec('CREATE TABLE store_info (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID');
  },
];

/** The schema this Hangar writes (and the newest it reads): the number of migrations. */
export const SQLITE_SCHEMA = MIGRATIONS.length;

/** Events older than this many entries are pruned, so the table stays bounded. */
const EVENT_RETENTION = 100_000;
/** The audit log keeps this many entries, pruned like the events. */
const AUDIT_RETENTION = 100_000;
/** The change feed keeps this many revisions (a watcher further behind lists again). */
const CHANGE_RETENTION = 100_000;

export interface SqliteStoreOptions {
  /** Revisions the change feed keeps (default 100,000); older ones are compacted. */
  changeRetention?: number;
  /** The Hangar version recorded as the store's last writer (default this one's). */
  hangarVersion?: string;
}

/** A change before its transaction has a revision. */
type PendingChange = Omit<StoreChange, 'revision'>;

/** A VM's two rows, joined. */
interface VmRow {
  id: string;
  name: string;
  d: string;
  s: string;
  drev: number;
  srev: number;
  dup: string;
  sup: string;
}

const VM_KEYS = 'SELECT d.id, d.revision, s.revision FROM vm_desired d JOIN vm_status s ON s.id = d.id';
const VM_SELECT = 'SELECT d.id AS id, d.name AS name, d.record AS d, s.record AS s, d.revision AS drev, s.revision AS srev, d.updated_at AS dup, s.updated_at AS sup FROM vm_desired d JOIN vm_status s ON s.id = d.id';


export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly stmts;
  private readonly changeRetention: number;
  private appendsSincePrune = 0;
  private auditsSincePrune = 0;
  private writesSinceCompact = 0;
  /** The store revision (the last write's). */
  private rev: number;
  /** The revision of the last write to a VM; starts at rev (the list cache is per process). */
  private vmRev: number;
  private compacted: number;
  private readonly watchers = new Set<FeedWatcher>();
  /** Parsed VMs by id, frozen (every caller gets the same object), valid while both revisions match. */
  private readonly parsed = new Map<string, VmRecord>();
  /** All VMs in name order as of a vmRev. */
  private listed?: { revision: number; vms: VmRecord[] };
  /** Runs a function in a transaction (made once: better-sqlite3 builds a wrapper per call to db.transaction). */
  private readonly transaction: <R>(fn: () => R) => R;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.changeRetention = Math.max(1, options.changeRetention ?? CHANGE_RETENTION);
    // A store a newer Hangar wrote is refused before it is opened (opening makes its -wal and -shm files).
    if (path !== ':memory:') assertSqliteSchemaKnown(path, SQLITE_SCHEMA);
    this.db = new Database(path, nativeBinding());
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    migrate(this.db, path);
    this.db.prepare("INSERT INTO store_info (name, value) VALUES ('hangar_version', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value WHERE value <> excluded.value").run(options.hangarVersion ?? VERSION);
    const tx = this.db.transaction((fn: () => unknown) => fn());
    this.transaction = <R>(fn: () => R) => tx(fn) as R;
    this.stmts = {
      vmList: this.db.prepare<[], VmRow>(`${VM_SELECT} ORDER BY d.name`),
      vmKeys: this.db.prepare<[], [string, number, number]>(`${VM_KEYS} ORDER BY d.name`).raw(),
      vmKeyByName: this.db.prepare<[string], [string, number, number]>(`${VM_KEYS} WHERE d.name = ?`).raw(),
      vmKeyById: this.db.prepare<[string], [string, number, number]>(`${VM_KEYS} WHERE d.id = ?`).raw(),
      vmById: this.db.prepare<[string], VmRow>(`${VM_SELECT} WHERE d.id = ?`),
      insertDesired: this.db.prepare('INSERT INTO vm_desired (id, name, record, revision, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)'),
      insertStatus: this.db.prepare('INSERT INTO vm_status (id, record, revision, updated_at) VALUES (?, ?, ?, ?)'),
      updateDesired: this.db.prepare('UPDATE vm_desired SET name = ?, record = ?, revision = ?, updated_at = ? WHERE id = ?'),
      updateStatus: this.db.prepare('UPDATE vm_status SET record = ?, revision = ?, updated_at = ? WHERE id = ?'),
      deleteDesired: this.db.prepare('DELETE FROM vm_desired WHERE id = ?'),
      deleteStatus: this.db.prepare('DELETE FROM vm_status WHERE id = ?'),
      addChange: this.db.prepare('INSERT INTO changes (revision, idx, kind, key, op) VALUES (?, ?, ?, ?, ?)'),
      changes: this.db.prepare<[number, number], StoreChange>('SELECT revision, kind, key, op FROM changes WHERE revision > ? AND revision <= ? ORDER BY revision, idx'),
      lastChange: this.db.prepare<[], { revision: number | null }>('SELECT MAX(revision) AS revision FROM changes'),
      compactRevision: this.db.prepare<[], { value: number }>("SELECT value FROM store_meta WHERE name = 'compact_revision'"),
      compact: this.db.prepare('DELETE FROM changes WHERE revision <= ?'),
      setCompactRevision: this.db.prepare("UPDATE store_meta SET value = ? WHERE name = 'compact_revision'"),
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
      objGet: this.db.prepare<[string, string], { record: string; revision: number }>('SELECT record, revision FROM objects WHERE kind = ? AND key = ?'),
      objList: this.db.prepare<[string], { key: string; record: string; revision: number }>('SELECT key, record, revision FROM objects WHERE kind = ? ORDER BY key'),
      objCreate: this.db.prepare('INSERT OR IGNORE INTO objects (kind, key, record, updated_at, revision) VALUES (?, ?, ?, ?, ?)'),
      objUpdate: this.db.prepare('UPDATE objects SET record = ?, updated_at = ?, revision = ? WHERE kind = ? AND key = ?'),
      objDelete: this.db.prepare('DELETE FROM objects WHERE kind = ? AND key = ?'),
    };
    this.compacted = this.stmts.compactRevision.get()!.value;
    // Every revision since the compact revision has its entries in `changes`, so the newest is the store's.
    this.rev = Math.max(this.compacted, this.stmts.lastChange.get()!.revision ?? 0);
    this.vmRev = this.rev;
  }

  /** The schema and last writer (this Hangar, once open). */
  schema(): StoreSchemaInfo {
    return { kind: 'sqlite', schema: this.db.pragma('user_version', { simple: true }) as number, ...writerOf(this.db) };
  }

  // ---- revisions and the change feed -----------------------------------------

  revision(): number {
    return this.rev;
  }

  compactRevision(): number {
    return this.compacted;
  }

  vmRevision(): number {
    return this.vmRev;
  }

  async changes(afterRevision: number, query: ChangeQuery = {}): Promise<StoreChange[]> {
    this.assertNotCompacted(afterRevision);
    const limit = query.limit === undefined ? this.rev : Math.max(1, Math.floor(query.limit));
    // Revisions are consecutive (each one has entries), so a limit in revisions is a range.
    const rows = this.stmts.changes.all(afterRevision, afterRevision + limit);
    return query.kinds ? rows.filter((c) => query.kinds!.includes(c.kind)) : rows;
  }

  watch(afterRevision: number, listener: ChangeListener, query: Omit<ChangeQuery, 'limit'> = {}): Watch {
    // Reads the history and registers in the same tick: no write can fall between the two.
    return openWatch(afterRevision, listener, query, this.compacted, () => this.stmts.changes.all(afterRevision, Math.max(afterRevision, this.rev)), this.watchers);
  }

  /**
   * Drops the feed's entries at or before `revision` (etcd: compact). Called every 1,000
   * writes to keep the last `changeRetention` revisions; tests call it directly.
   */
  compact(revision: number): void {
    const to = Math.min(revision, this.rev);
    if (to <= this.compacted) return;
    this.transaction(() => {
      this.stmts.compact.run(to);
      this.stmts.setCompactRevision.run(to);
    });
    this.compacted = to;
  }

  private assertNotCompacted(afterRevision: number): void {
    if (afterRevision < this.compacted) throw this.compactedError(afterRevision);
  }

  private compactedError(afterRevision: number): HangarError {
    return compactedError(afterRevision, this.compacted);
  }


  /**
   * Runs `fn` in one transaction as the next revision. `fn` returns the changes it made;
   * when there are none it must not have written, and the revision is not used.
   */
  private write<R>(fn: (revision: number) => { changes: PendingChange[]; result: R }): R {
    const revision = this.rev + 1;
    const out = this.transaction(() => {
      const r = fn(revision);
      r.changes.forEach((c, i) => this.stmts.addChange.run(revision, i, c.kind, c.key, c.op));
      return r;
    });
    if (out.changes.length === 0) return out.result;
    this.rev = revision;
    if (out.changes.some((c) => c.kind === 'vm' || c.kind === 'vm-status')) this.vmRev = revision;
    for (const w of this.watchers) {
      for (const c of out.changes) enqueue(w, { revision, ...c });
    }
    if (++this.writesSinceCompact >= Math.min(1000, this.changeRetention)) {
      this.writesSinceCompact = 0;
      this.compact(this.rev - this.changeRetention);
    }
    return out.result;
  }



  // ---- collections -------------------------------------------------------------

  collection<T>(kind: CollectionKind): Collection<T> {
    const s = this.stmts;
    const put = (key: string): PendingChange[] => [{ kind, key, op: 'put' }];
    return {
      get: async (key) => {
        const row = s.objGet.get(kind, key);
        return row ? (JSON.parse(row.record) as T) : undefined;
      },
      list: async () => s.objList.all(kind).map((r) => JSON.parse(r.record) as T),
      entry: async (key): Promise<CollectionEntry<T> | undefined> => {
        const row = s.objGet.get(kind, key);
        return row ? { key, record: JSON.parse(row.record) as T, revision: row.revision } : undefined;
      },
      entries: async () => s.objList.all(kind).map((r) => ({ key: r.key, record: JSON.parse(r.record) as T, revision: r.revision })),
      create: async (key, record) => {
        const json = JSON.stringify(record);
        return this.write((rev) => {
          const created = s.objCreate.run(kind, key, json, new Date().toISOString(), rev).changes === 1;
          return { changes: created ? put(key) : [], result: created };
        });
      },
      update: async (key, record, options = {}) => {
        const json = JSON.stringify(record);
        return this.write((rev) => {
          if (options.expectRevision !== undefined) {
            const row = s.objGet.get(kind, key);
            if (!row) return { changes: [], result: false };
            if (row.revision !== options.expectRevision) throw conflict(`${kind}/${key}`, options.expectRevision, row.revision);
          }
          const updated = s.objUpdate.run(json, new Date().toISOString(), rev, kind, key).changes === 1;
          return { changes: updated ? put(key) : [], result: updated };
        });
      },
      delete: async (key) => {
        this.write(() => ({ changes: s.objDelete.run(kind, key).changes === 1 ? [{ kind, key, op: 'delete' }] : [], result: undefined }));
      },
    };
  }

  // ---- VMs -----------------------------------------------------------------------

  // Reads go through a cache of parsed records keyed by the halves' revisions: listing 1,000
  // VMs after one changed parses one, not 1,000. The records are frozen because every caller
  // shares them (the Store interface says so).

  async listVms(): Promise<VmRecord[]> {
    if (this.listed?.revision !== this.vmRev) {
      const keys = this.stmts.vmKeys.all();
      const misses = keys.filter(([id, d, s]) => !this.isCached(id, d, s)).length;
      // Many misses (the first list): one query of every row beats one per VM.
      const vms = misses > 64 ? this.stmts.vmList.all().map((row) => this.cache(row)) : keys.map(([id, d, s]) => this.cachedVm(id, d, s));
      if (this.parsed.size > vms.length) {
        const ids = new Set(vms.map((v) => v.id));
        for (const id of this.parsed.keys()) if (!ids.has(id)) this.parsed.delete(id);
      }
      this.listed = { revision: this.vmRev, vms };
    }
    return this.listed.vms.slice();
  }

  async getVm(name: string): Promise<VmRecord | undefined> {
    const key = this.stmts.vmKeyByName.get(name);
    return key && this.cachedVm(...key);
  }

  async getVmById(id: string): Promise<VmRecord | undefined> {
    const key = this.stmts.vmKeyById.get(id);
    return key && this.cachedVm(...key);
  }

  private isCached(id: string, desiredRevision: number, statusRevision: number): boolean {
    const hit = this.parsed.get(id);
    return hit !== undefined && hit.desiredRevision === desiredRevision && hit.statusRevision === statusRevision;
  }

  /** The VM at these revisions (read in the same tick as them, so the row is that version). */
  private cachedVm(id: string, desiredRevision: number, statusRevision: number): VmRecord {
    return this.isCached(id, desiredRevision, statusRevision) ? this.parsed.get(id)! : this.cache(this.stmts.vmById.get(id)!);
  }

  private cache(row: VmRow): VmRecord {
    if (this.isCached(row.id, row.drev, row.srev)) return this.parsed.get(row.id)!;
    const rec = deepFreeze(rowToVm(row));
    this.parsed.set(row.id, rec);
    return rec;
  }

  async createVm(record: VmRecord): Promise<VmRecord> {
    const { desired, status } = splitVmRecord(record);
    const d = JSON.stringify(desired);
    const st = JSON.stringify(status);
    try {
      return this.write((rev) => {
        this.stmts.insertDesired.run(record.id, record.name, d, rev, record.createdAt, record.updatedAt);
        this.stmts.insertStatus.run(record.id, st, rev, record.updatedAt);
        return {
          changes: [{ kind: 'vm', key: record.id, op: 'put' }, { kind: 'vm-status', key: record.id, op: 'put' }],
          result: { ...record, revision: rev, desiredRevision: rev, statusRevision: rev },
        };
      });
    } catch (e) {
      throw uniqueToExists(e, record.name);
    }
  }

  async updateVm(record: VmRecord, options: WriteOptions = {}): Promise<VmRecord> {
    const { desired, status } = splitVmRecord(record);
    const put = this.putVm(record.id, record.name, { desired: JSON.stringify(desired), status: JSON.stringify(status) }, { expect: options.expectRevision, of: 'revision' });
    return { ...record, ...put };
  }

  async updateVmDesired(desired: VmDesiredFields, options: WriteOptions = {}): Promise<VmRecord> {
    const { desired: d } = splitVmRecord(desired as VmRecord);
    this.putVm(desired.id, desired.name, { desired: JSON.stringify(d) }, { expect: options.expectRevision, of: 'desiredRevision' });
    return (await this.getVmById(desired.id))!;
  }

  async updateVmStatus(id: string, status: VmStatusFields, options: WriteOptions = {}): Promise<VmRecord> {
    const { status: st } = splitVmRecord(status as VmRecord);
    this.putVm(id, undefined, { status: JSON.stringify(st) }, { expect: options.expectRevision, of: 'statusRevision' });
    return (await this.getVmById(id))!;
  }

  /**
   * Writes the halves given whose content differs from the stored ones, as one revision.
   * Returns the VM's updatedAt and revisions after the write.
   */
  private putVm(
    id: string,
    name: string | undefined,
    halves: { desired?: string; status?: string },
    cas: { expect: number | undefined; of: 'revision' | 'desiredRevision' | 'statusRevision' },
  ): Pick<Required<VmRecord>, 'updatedAt' | 'revision' | 'desiredRevision' | 'statusRevision'> {
    try {
      return this.write((rev) => {
        const row = this.stmts.vmById.get(id);
        if (!row) throw new HangarError('VM_NOT_FOUND', `VM "${name ?? id}" no longer exists.`);
        if (cas.expect !== undefined) {
          const stored = cas.of === 'desiredRevision' ? row.drev : cas.of === 'statusRevision' ? row.srev : Math.max(row.drev, row.srev);
          if (stored !== cas.expect) throw conflict(`VM "${row.name}"`, cas.expect, stored);
        }
        const changes: PendingChange[] = [];
        const now = new Date().toISOString();
        let { drev, srev, dup, sup } = row;
        if (halves.desired !== undefined && halves.desired !== row.d) {
          this.stmts.updateDesired.run(name ?? row.name, halves.desired, rev, now, id);
          changes.push({ kind: 'vm', key: id, op: 'put' });
          drev = rev;
          dup = now;
        }
        if (halves.status !== undefined && halves.status !== row.s) {
          this.stmts.updateStatus.run(halves.status, rev, now, id);
          changes.push({ kind: 'vm-status', key: id, op: 'put' });
          srev = rev;
          sup = now;
        }
        return { changes, result: { updatedAt: dup > sup ? dup : sup, revision: Math.max(drev, srev), desiredRevision: drev, statusRevision: srev } };
      });
    } catch (e) {
      throw uniqueToExists(e, name ?? id);
    }
  }

  async deleteVm(id: string): Promise<void> {
    this.write(() => {
      const changes: PendingChange[] = [];
      if (this.stmts.deleteStatus.run(id).changes === 1) changes.push({ kind: 'vm-status', key: id, op: 'delete' });
      if (this.stmts.deleteDesired.run(id).changes === 1) changes.push({ kind: 'vm', key: id, op: 'delete' });
      return { changes, result: undefined };
    });
  }

  // ---- events and audit -----------------------------------------------------------

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
    for (const w of this.watchers) w.closed = true;
    this.watchers.clear();
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

/**
 * The combined view of a VM's two rows. The halves hold disjoint fields, so their JSON
 * texts join into one object text: one parse, as cheap as when a VM was one row.
 */
function rowToVm(row: VmRow): VmRecord {
  const text = row.s === '{}' ? row.d : `${row.d.slice(0, -1)},${row.s.slice(1)}`;
  const rec = JSON.parse(text) as VmRecord;
  rec.updatedAt = row.dup > row.sup ? row.dup : row.sup;
  rec.revision = Math.max(row.drev, row.srev);
  rec.desiredRevision = row.drev;
  rec.statusRevision = row.srev;
  return rec;
}

/** A taken VM name or id, as the catalogue says it. */
function uniqueToExists(e: unknown, name: string): unknown {
  const code = (e as { code?: string }).code;
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return vmExists(name);
  return e;
}

function rowToEvent(r: EventRow): HangarEvent {
  const e: HangarEvent = { seq: r.seq, time: r.time, type: r.type, data: JSON.parse(r.data) as Record<string, unknown> };
  if (r.vm !== null) e.vm = r.vm;
  return e;
}

export function migrate(db: Database.Database, where = 'this database'): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) throw schemaTooNew({ kind: 'sqlite', schema: current, ...writerOf(db) }, MIGRATIONS.length, where);
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      MIGRATIONS[v]!(db);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
