/**
 * The cluster store on etcd, behind the same Store interface as the single-host SQLite one.
 *
 * Every node keeps a mirror of the cluster's records in memory: it lists the prefix once at
 * one revision, then follows etcd's watch from the next revision. Reads answer from the
 * mirror (so they still answer, from the last state, while etcd is unreachable); writes are
 * etcd transactions, and return once the mirror has seen their revision (a node reads its
 * own writes). A write that cannot reach etcd fails with CLUSTER_STORE_UNAVAILABLE.
 *
 * Keys under the prefix (default `/hangar/`):
 * - `vm/ID`, `vm-status/ID`: a VM's desired and status halves (`UPDATED_AT\nJSON`);
 *   `vm-name/NAME` → ID holds the name, so two creates of one name cannot both win.
 * - `c/KIND/KEY`: a record of a collection (JSON).
 * - `events/TIME-RANDOM`, `audit/TIME-RANDOM`: append-only logs; an entry's seq is the
 *   revision that wrote it (cluster-wide and increasing, with gaps).
 * Revisions are etcd's: a record's revision is its key's mod_revision.
 */
import { HangarError } from '../errors/errors.js';
import type { EtcdClient, EtcdKeyValue, TxnOp, Compare } from '../etcd/client.js';
import { joinVmRecord, splitVmRecord, type VmDesired, type VmDesiredFields, type VmStatus, type VmStatusFields } from '../model/vm-record.js';
import { ChangeFeed } from './change-feed.js';
import { conflict, deepFreeze, vmExists as exists } from './records.js';
import { appendLog, listLog, logKey, pruneLog } from './etcd-log.js';
import { schemaTooNew, type StoreSchemaInfo } from './schema.js';
import type {
  AuditEntry, AuditQuery, ChangeListener, ChangeQuery, Collection, CollectionEntry, CollectionKind, EventQuery, HangarEvent, Store, StoreChange, VmRecord, Watch, WriteOptions,
} from './store.js';

export interface EtcdStoreOptions {
  client: EtcdClient;
  /** Key prefix of this cluster (default `/hangar/`). */
  prefix?: string;
  /** Revisions of history the mirror keeps for changes() and watch() (default 10,000). */
  changeRetention?: number;
  /** How long a write waits for the watch to bring its revision back (default 10 s). */
  catchUpTimeoutMs?: number;
  /** How often etcd is asked for its revision, to find a watch that went silent (default 2 s). */
  probeIntervalMs?: number;
  log?: (message: string) => void;
}

/** A mirrored key: its raw value and revisions. */
interface Entry {
  value: string;
  revision: number;
}

/** One half of a VM as stored: `UPDATED_AT\nJSON`. */
function encodeHalf(updatedAt: string, fields: object): string {
  return `${updatedAt}\n${JSON.stringify(fields)}`;
}

function fieldsOf(value: string): string {
  return value.slice(value.indexOf('\n') + 1);
}

function halfOf<T>(e: Entry): T & { updatedAt: string; revision: number } {
  const nl = e.value.indexOf('\n');
  return { ...(JSON.parse(e.value.slice(nl + 1)) as T), updatedAt: e.value.slice(0, nl), revision: e.revision };
}

/**
 * The layout's schema version. Version 1 (the layout described above) writes no key; a later
 * Hangar that changes the layout writes `store-schema` = {"schema": N, "hangar": "VERSION"}
 * under the prefix, and nodes of an older Hangar then refuse to start (STORE_SCHEMA_TOO_NEW).
 */
export const ETCD_SCHEMA = 1;
const ETCD_SCHEMA_KEY = 'store-schema';

export class EtcdStore implements Store {
  private readonly client: EtcdClient;
  readonly prefix: string;
  private readonly log: (m: string) => void;
  private readonly catchUpTimeoutMs: number;
  private readonly desired = new Map<string, Entry>();
  private readonly status = new Map<string, Entry>();
  private readonly objects = new Map<string, Map<string, Entry>>();
  private readonly names = new Map<string, string>();
  private readonly parsed = new Map<string, VmRecord>();
  private listed?: { revision: number; vms: VmRecord[] };
  private readonly feed: ChangeFeed;
  private rev = 0;
  private vmRev = 0;
  private watchHandle?: { close(): void };
  /** Keys of events this store appended (their watch echo is skipped). */
  private readonly ownEvents = new Set<string>();
  private readonly eventListeners = new Set<(event: HangarEvent) => void>();
  private waiters: { revision: number; resolve: () => void }[] = [];
  private closed = false;
  private retryTimer?: NodeJS.Timeout;
  private probeTimer?: NodeJS.Timeout;
  private probing = false;
  /** The revision etcd had at the last probe: the watch must have brought it by the next. */
  private probedRevision = 0;
  private appends = { events: 0, audit: 0 };
  /** The watch follows etcd now (false while it reconnects). */
  connected = false;

  private storedSchema: StoreSchemaInfo = { kind: 'etcd', schema: ETCD_SCHEMA };

  /** The cluster store's schema (the key's, or 1: the layout above, which has no key). */
  schema(): StoreSchemaInfo {
    return this.storedSchema;
  }

  private constructor(opts: EtcdStoreOptions) {
    this.client = opts.client;
    this.prefix = opts.prefix ?? '/hangar/';
    this.log = opts.log ?? (() => {});
    this.catchUpTimeoutMs = opts.catchUpTimeoutMs ?? 10_000;
    this.feed = new ChangeFeed(opts.changeRetention ?? 10_000);
  }

  /** Lists the cluster's records and starts following them. */
  static async open(opts: EtcdStoreOptions): Promise<EtcdStore> {
    const store = new EtcdStore(opts);
    // A cluster a newer Hangar moved to a newer schema is refused before this node reads it.
    const raw = (await store.client.range(`${store.prefix}${ETCD_SCHEMA_KEY}`)).kvs[0]?.value;
    if (raw !== undefined) {
      const found = JSON.parse(raw) as { schema?: number; hangar?: string };
      store.storedSchema = { kind: 'etcd', schema: found.schema ?? ETCD_SCHEMA, ...(found.hangar && { writtenBy: found.hangar }) };
      if (store.storedSchema.schema > ETCD_SCHEMA) throw schemaTooNew(store.storedSchema, ETCD_SCHEMA, `etcd prefix ${store.prefix}`);
    }
    await store.load();
    store.probeTimer = setInterval(() => void store.probe(), opts.probeIntervalMs ?? 2000);
    store.probeTimer.unref();
    return store;
  }

  // ---- the mirror ------------------------------------------------------------------

  private async load(): Promise<void> {
    // The records, not the logs: each part read at the first part's revision.
    const vms = await this.client.rangeAll(`${this.prefix}vm/`);
    const all = { revision: vms.revision, kvs: [...vms.kvs] };
    for (const part of ['vm-status/', 'c/']) all.kvs.push(...(await this.client.rangeAll(`${this.prefix}${part}`, { revision: all.revision })).kvs);
    this.desired.clear();
    this.status.clear();
    this.objects.clear();
    this.names.clear();
    this.parsed.clear();
    this.listed = undefined;
    for (const kv of all.kvs) this.applyKv(kv, 'PUT');
    this.rev = all.revision;
    this.vmRev = all.revision;
    this.feed.reset(all.revision);
    this.follow(all.revision);
  }

  private follow(fromRevision: number): void {
    this.watchHandle = this.client.watch(this.prefix, { prefix: true, startRevision: fromRevision + 1, progressNotify: true }, {
      created: () => {
        this.connected = true;
      },
      events: (events, revision) => {
        this.connected = true;
        this.onEvents(events.map((e) => ({ type: e.type, kv: e.kv })), revision);
      },
      compacted: (compactRevision) => {
        this.log(`etcd compacted its history past revision ${compactRevision}: listing the cluster's records again.`);
        this.feed.compactAll();
        this.retry(0, true);
      },
      failed: (error) => {
        if (this.connected) this.log(`The etcd watch broke (${error.message}); following again from revision ${this.rev}.`);
        this.connected = false;
        this.retry(500, false);
      },
    });
  }

  /**
   * A watch can go silent without failing (the link dropped packets instead of closing the
   * connection): every probe reads etcd's revision with a linearizable read. A failed read
   * means etcd is out of reach (writes refused up front, the watch opened again); a revision
   * the watch has still not brought one probe later means the watch is stuck: opened again.
   */
  private async probe(): Promise<void> {
    if (this.probing || this.closed) return;
    this.probing = true;
    try {
      const r = await this.client.range(`${this.prefix}cluster`, { limit: 1 });
      if (this.probedRevision > this.rev && this.connected) {
        this.log(`The etcd watch is behind (at revision ${this.rev}, etcd was at ${this.probedRevision}): following again.`);
        this.retry(0, false);
      }
      this.probedRevision = r.revision;
    } catch {
      if (this.connected) {
        this.log(`etcd does not answer (${this.client.endpointList}): writes are refused until it does; following again once it answers.`);
        this.connected = false;
        this.retry(500, false);
      }
      this.probedRevision = 0;
    } finally {
      this.probing = false;
    }
  }

  private retry(delayMs: number, relist: boolean): void {
    if (this.closed) return;
    this.watchHandle?.close();
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (this.closed) return;
      if (relist) {
        this.load().catch(() => this.retry(1000, true));
      } else {
        this.follow(this.rev);
      }
    }, delayMs);
  }

  private onEvents(events: { type: 'PUT' | 'DELETE'; kv: EtcdKeyValue }[], headerRevision: number): void {
    const changes: StoreChange[] = [];
    for (const e of events) {
      const change = this.applyKv(e.kv, e.type);
      if (change) changes.push(change);
    }
    if (changes.length) this.feed.append(changes);
    const top = Math.max(headerRevision, ...events.map((e) => e.kv.modRevision));
    if (top > this.rev) this.rev = top;
    this.waiters = this.waiters.filter((w) => {
      if (w.revision > this.rev) return true;
      w.resolve();
      return false;
    });
  }

  /** Applies one key's new state to the mirror; the feed entry it makes, if any. */
  private applyKv(kv: EtcdKeyValue, type: 'PUT' | 'DELETE'): StoreChange | undefined {
    const rest = kv.key.slice(this.prefix.length);
    const slash = rest.indexOf('/');
    const top = rest.slice(0, slash);
    const key = rest.slice(slash + 1);
    const op = type === 'PUT' ? 'put' as const : 'delete' as const;
    const entry = { value: kv.value, revision: kv.modRevision };
    switch (top) {
      case 'vm':
      case 'vm-status': {
        const map = top === 'vm' ? this.desired : this.status;
        if (top === 'vm') {
          const old = this.desired.get(key);
          if (old) this.names.delete((JSON.parse(fieldsOf(old.value)) as { name: string }).name);
        }
        if (op === 'put') map.set(key, entry);
        else map.delete(key);
        if (top === 'vm' && op === 'put') this.names.set((JSON.parse(fieldsOf(kv.value)) as { name: string }).name, key);
        this.vmRev = kv.modRevision;
        return { revision: kv.modRevision, kind: top, key, op };
      }
      case 'c': {
        const k = key.indexOf('/');
        const kind = key.slice(0, k) as CollectionKind;
        const objKey = key.slice(k + 1);
        let map = this.objects.get(kind);
        if (!map) this.objects.set(kind, (map = new Map()));
        if (op === 'put') map.set(objKey, entry);
        else map.delete(objKey);
        return { revision: kv.modRevision, kind, key: objKey, op };
      }
      case 'events':
        if (op === 'put' && !this.ownEvents.delete(kv.key) && this.eventListeners.size) {
          const event = { seq: kv.createRevision, ...(JSON.parse(kv.value) as Omit<HangarEvent, 'seq'>) } as HangarEvent;
          for (const l of this.eventListeners) {
            try {
              l(event);
            } catch {
              // one broken listener stops neither the others nor the mirror
            }
          }
        }
        return undefined;
      default:
        return undefined;
    }
  }

  followEvents(listener: (event: HangarEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** Waits until the mirror has seen this revision (a node reads its own writes). */
  caughtUp(revision: number): Promise<void> {
    if (revision <= this.rev || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.log(`The etcd watch has not brought revision ${revision} back within ${this.catchUpTimeoutMs} ms: reads may lag behind this write.`);
        resolve();
      }, this.catchUpTimeoutMs);
      this.waiters.push({ revision, resolve: () => { clearTimeout(timer); resolve(); } });
    });
  }

  // ---- revisions and the change feed -------------------------------------------------

  revision(): number {
    return this.rev;
  }

  compactRevision(): number {
    return this.feed.compacted;
  }

  vmRevision(): number {
    return this.vmRev;
  }

  async changes(afterRevision: number, query: ChangeQuery = {}): Promise<StoreChange[]> {
    return this.feed.changes(afterRevision, query);
  }

  watch(afterRevision: number, listener: ChangeListener, query: Omit<ChangeQuery, 'limit'> = {}): Watch {
    return this.feed.watch(afterRevision, listener, query);
  }

  // ---- collections ---------------------------------------------------------------------

  collection<T>(kind: CollectionKind): Collection<T> {
    const k = (key: string) => `${this.prefix}c/${kind}/${key}`;
    const map = () => this.objects.get(kind) ?? new Map<string, Entry>();
    const sorted = () => [...map().entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return {
      get: async (key) => {
        const e = map().get(key);
        return e ? (JSON.parse(e.value) as T) : undefined;
      },
      list: async () => sorted().map(([, e]) => JSON.parse(e.value) as T),
      entry: async (key): Promise<CollectionEntry<T> | undefined> => {
        const e = map().get(key);
        return e ? { key, record: JSON.parse(e.value) as T, revision: e.revision } : undefined;
      },
      entries: async () => sorted().map(([key, e]) => ({ key, record: JSON.parse(e.value) as T, revision: e.revision })),
      create: async (key, record) => {
        const r = await this.txn([{ key: k(key), target: 'CREATE', result: 'EQUAL', value: 0 }], [{ put: { key: k(key), value: JSON.stringify(record) } }]);
        return r.succeeded;
      },
      update: async (key, record, options = {}) => {
        const compare: Compare[] = [{ key: k(key), target: 'CREATE', result: 'GREATER', value: 0 }];
        if (options.expectRevision !== undefined) compare.push({ key: k(key), target: 'MOD', result: 'EQUAL', value: options.expectRevision });
        const r = await this.txn(compare, [{ put: { key: k(key), value: JSON.stringify(record) } }], [{ range: { key: k(key) } }]);
        if (r.succeeded) return true;
        const now = r.ranges[0]?.kvs[0];
        if (!now) return false;
        throw conflict(`${kind}/${key}`, options.expectRevision ?? 0, now.modRevision);
      },
      delete: async (key) => {
        const r = await this.txn([{ key: k(key), target: 'CREATE', result: 'GREATER', value: 0 }], [{ delete: { key: k(key) } }]);
        void r;
      },
    };
  }

  /** Runs a transaction; when it wrote, waits for the mirror to see it. */
  private async txn(compare: Compare[], success: TxnOp[], failure: TxnOp[] = []) {
    const r = await this.client.txn({ compare, success, failure });
    if (r.succeeded && success.some((o) => !('range' in o))) await this.caughtUp(r.revision);
    return r;
  }

  // ---- VMs -------------------------------------------------------------------------------

  private vmKey = (id: string) => `${this.prefix}vm/${id}`;
  private statusKey = (id: string) => `${this.prefix}vm-status/${id}`;
  private nameKey = (name: string) => `${this.prefix}vm-name/${name}`;

  private vm(id: string): VmRecord | undefined {
    const d = this.desired.get(id);
    const s = this.status.get(id);
    if (!d || !s) return undefined;
    const hit = this.parsed.get(id);
    if (hit && hit.desiredRevision === d.revision && hit.statusRevision === s.revision) return hit;
    const rec = deepFreeze(joinVmRecord(halfOf<VmDesired>(d), halfOf<VmStatus>(s)));
    this.parsed.set(id, rec);
    return rec;
  }

  async listVms(): Promise<VmRecord[]> {
    if (this.listed?.revision !== this.vmRev) {
      const names = [...this.names.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const vms = names.map((n) => this.vm(this.names.get(n)!)).filter((v): v is VmRecord => v !== undefined);
      for (const id of this.parsed.keys()) if (!this.desired.has(id)) this.parsed.delete(id);
      this.listed = { revision: this.vmRev, vms };
    }
    return this.listed.vms.slice();
  }

  async getVm(name: string): Promise<VmRecord | undefined> {
    const id = this.names.get(name);
    return id === undefined ? undefined : this.vm(id);
  }

  async getVmById(id: string): Promise<VmRecord | undefined> {
    return this.vm(id);
  }

  async createVm(record: VmRecord): Promise<VmRecord> {
    const { desired, status } = splitVmRecord(record);
    const r = await this.txn(
      [{ key: this.nameKey(record.name), target: 'CREATE', result: 'EQUAL', value: 0 }, { key: this.vmKey(record.id), target: 'CREATE', result: 'EQUAL', value: 0 }],
      [
        { put: { key: this.vmKey(record.id), value: encodeHalf(record.updatedAt, desired) } },
        { put: { key: this.statusKey(record.id), value: encodeHalf(record.updatedAt, status) } },
        { put: { key: this.nameKey(record.name), value: record.id } },
      ],
    );
    if (!r.succeeded) throw exists(record.name);
    return { ...record, revision: r.revision, desiredRevision: r.revision, statusRevision: r.revision };
  }

  async updateVm(record: VmRecord, options: WriteOptions = {}): Promise<VmRecord> {
    const { desired, status } = splitVmRecord(record);
    const put = await this.putVm(record.id, record.name, { desired, status }, { expect: options.expectRevision, of: 'revision', moveNode: options.moveNode });
    return { ...record, ...put };
  }

  async updateVmDesired(desired: VmDesiredFields, options: WriteOptions = {}): Promise<VmRecord> {
    const { desired: d } = splitVmRecord(desired as VmRecord);
    await this.putVm(desired.id, desired.name, { desired: d }, { expect: options.expectRevision, of: 'desiredRevision' });
    return this.vm(desired.id)!;
  }

  async updateVmStatus(id: string, status: VmStatusFields, options: WriteOptions = {}): Promise<VmRecord> {
    const { status: st } = splitVmRecord(status as VmRecord);
    await this.putVm(id, undefined, { status: st }, { expect: options.expectRevision, of: 'statusRevision', moveNode: options.moveNode });
    return this.vm(id)!;
  }

  /** Writes the halves whose content differs from the mirror's, guarded by the revisions read there. */
  private async putVm(
    id: string,
    name: string | undefined,
    halves: { desired?: object; status?: object },
    cas: { expect: number | undefined; of: 'revision' | 'desiredRevision' | 'statusRevision'; moveNode?: boolean | undefined },
  ): Promise<Pick<Required<VmRecord>, 'updatedAt' | 'revision' | 'desiredRevision' | 'statusRevision'>> {
    const d = this.desired.get(id);
    const s = this.status.get(id);
    if (!d || !s) throw new HangarError('VM_NOT_FOUND', `VM "${name ?? id}" no longer exists.`);
    const oldName = (JSON.parse(fieldsOf(d.value)) as { name: string }).name;
    if (cas.expect !== undefined) {
      const stored = cas.of === 'desiredRevision' ? d.revision : cas.of === 'statusRevision' ? s.revision : Math.max(d.revision, s.revision);
      if (stored !== cas.expect) throw conflict(`VM "${oldName}"`, cas.expect, stored);
    }
    if (halves.status && !cas.moveNode) {
      // The guard compares with the stored half the transaction's revision check pins.
      const stored = (JSON.parse(fieldsOf(s.value)) as { node?: string }).node;
      const next = (halves.status as { node?: string }).node;
      if (stored !== undefined && next !== stored) {
        throw new HangarError('VM_ON_OTHER_NODE', `VM "${oldName}" is on node "${stored}" now: this node's view of it is out of date.`, { details: { node: stored } });
      }
    }
    const now = new Date().toISOString();
    const ops: TxnOp[] = [];
    const compare: Compare[] = [{ key: this.vmKey(id), target: 'MOD', result: 'EQUAL', value: d.revision }, { key: this.statusKey(id), target: 'MOD', result: 'EQUAL', value: s.revision }];
    const dJson = halves.desired && JSON.stringify(halves.desired);
    const sJson = halves.status && JSON.stringify(halves.status);
    const writeDesired = dJson !== undefined && dJson !== fieldsOf(d.value);
    const writeStatus = sJson !== undefined && sJson !== fieldsOf(s.value);
    if (writeDesired) ops.push({ put: { key: this.vmKey(id), value: `${now}\n${dJson}` } });
    if (writeStatus) ops.push({ put: { key: this.statusKey(id), value: `${now}\n${sJson}` } });
    const renamed = writeDesired && name !== undefined && name !== oldName;
    if (renamed) {
      compare.push({ key: this.nameKey(name), target: 'CREATE', result: 'EQUAL', value: 0 });
      ops.push({ delete: { key: this.nameKey(oldName) } }, { put: { key: this.nameKey(name), value: id } });
    }
    const view = (drev: number, srev: number, du: string, su: string) => ({ updatedAt: du > su ? du : su, revision: Math.max(drev, srev), desiredRevision: drev, statusRevision: srev });
    const [du, su] = [d.value.slice(0, d.value.indexOf('\n')), s.value.slice(0, s.value.indexOf('\n'))];
    if (ops.length === 0) return view(d.revision, s.revision, du, su);
    const r = await this.txn(compare, ops, [{ range: { key: this.vmKey(id) } }, { range: { key: this.statusKey(id) } }, ...(renamed ? [{ range: { key: this.nameKey(name) } }] : [])]);
    if (!r.succeeded) {
      const [nowD, nowS, taken] = r.ranges.map((x) => x?.kvs[0]);
      if (!nowD || !nowS) throw new HangarError('VM_NOT_FOUND', `VM "${name ?? id}" no longer exists.`);
      if (renamed && taken && taken.value !== id) throw exists(name);
      // Someone else wrote since the mirror's read: with a revision to keep, a conflict; without, try again on the new state.
      if (cas.expect !== undefined) throw conflict(`VM "${oldName}"`, cas.expect, Math.max(nowD.modRevision, nowS.modRevision));
      await this.caughtUp(Math.max(nowD.modRevision, nowS.modRevision));
      return this.putVm(id, name, halves, cas);
    }
    return view(writeDesired ? r.revision : d.revision, writeStatus ? r.revision : s.revision, writeDesired ? now : du, writeStatus ? now : su);
  }

  async deleteVm(id: string): Promise<void> {
    const d = this.desired.get(id);
    const ops: TxnOp[] = [{ delete: { key: this.statusKey(id) } }, { delete: { key: this.vmKey(id) } }];
    if (d) {
      const name = (JSON.parse(fieldsOf(d.value)) as { name: string }).name;
      ops.push({ delete: { key: this.nameKey(name) } });
    }
    await this.txn([{ key: this.vmKey(id), target: 'CREATE', result: 'GREATER', value: 0 }], ops);
  }

  // ---- events and audit -------------------------------------------------------------------

  async appendEvent(event: Omit<HangarEvent, 'seq' | 'time'>): Promise<HangarEvent> {
    const time = new Date().toISOString();
    const key = logKey(`${this.prefix}events/`, time);
    // Its watch echo is this node's own event: not handed to followEvents' listeners again.
    this.ownEvents.add(key);
    let seq: number;
    try {
      seq = await this.client.put(key, JSON.stringify({ time, ...event }));
    } catch (e) {
      this.ownEvents.delete(key);
      throw e;
    }
    if (++this.appends.events >= 1000) {
      this.appends.events = 0;
      void pruneLog(this.client, `${this.prefix}events/`, EVENT_RETENTION).catch(() => {});
    }
    return { seq, time, ...event };
  }

  async listEvents(query: EventQuery = {}): Promise<HangarEvent[]> {
    const limit = Math.min(Math.max(query.limit ?? 1000, 1), 10_000);
    return listLog<HangarEvent>(this.client, `${this.prefix}events/`, { afterSeq: query.afterSeq, limit, filter: query.vm === undefined ? undefined : (e) => e.vm === query.vm });
  }

  async appendAudit(entry: Omit<AuditEntry, 'seq'>): Promise<AuditEntry> {
    const seq = await appendLog(this.client, `${this.prefix}audit/`, entry.time, entry);
    if (++this.appends.audit >= 1000) {
      this.appends.audit = 0;
      void pruneLog(this.client, `${this.prefix}audit/`, AUDIT_RETENTION).catch(() => {});
    }
    return { seq, ...entry };
  }

  async listAudit(query: AuditQuery = {}): Promise<AuditEntry[]> {
    const limit = Math.min(Math.max(query.limit ?? 100, 1), 10_000);
    return listLog<AuditEntry>(this.client, `${this.prefix}audit/`, { afterSeq: query.afterSeq, limit, filter: query.vm === undefined ? undefined : (e) => e.vm === query.vm });
  }

  async assertWritable(): Promise<void> {
    if (!this.connected) throw new HangarError('CLUSTER_STORE_UNAVAILABLE', `The cluster store (etcd at ${this.client.endpointList}) is out of reach: nothing was changed. Reads answer from the last state; try again when etcd is back.`);
    // The watch may not have noticed a cut yet: a round trip proves etcd answers (at most one a second).
    if (Date.now() - this.client.lastAnswerAt < 1000) return;
    await this.client.status();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.probeTimer);
    this.watchHandle?.close();
    this.feed.close();
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
    this.client.close();
  }
}

const EVENT_RETENTION = 20_000;
const AUDIT_RETENTION = 20_000;

