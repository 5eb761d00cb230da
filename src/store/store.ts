/**
 * The store interface: everything the services persist goes through here, so the
 * single-host SQLite store can be replaced by a cluster store (etcd) later.
 * Methods are async on purpose: a networked store will need it.
 */
import type { HangarError } from '../errors/errors.js';
import type { VmDesiredFields, VmRecord, VmStatusFields } from '../model/vm-record.js';
import type { HangarEvent } from '../model/events.js';
import type { StoreSchemaInfo } from './schema.js';

export type { MigrationMarker, PlacedDecision, VmDesired, VmDesiredFields, VmRecord, VmRuntime, VmStatus, VmStatusFields } from '../model/vm-record.js';
export type { HangarEvent } from '../model/events.js';

/**
 * One mutating API call, as the audit log keeps it: who, what, when, and how it ended.
 * Request bodies are stored with secrets redacted (src/audit/redact.ts).
 */
export interface AuditEntry {
  seq: number;
  /** When the request arrived (ISO 8601). */
  time: string;
  /** Who: the auth layer's token id once it exists; `unix-socket` for the local socket. */
  actor: string;
  transport: 'unix' | 'tcp';
  method: string;
  /** The route pattern, e.g. `/v1/vms/:name/stop`; the raw path for unmatched requests. */
  route: string;
  /** The object acted on, e.g. `vms/web1`, `volumes/default/data1`. */
  target?: string;
  /** The VM concerned, when there is one (for filtering). */
  vm?: string;
  params?: Record<string, unknown>;
  query?: Record<string, unknown>;
  body?: unknown;
  status: number;
  /** The error catalogue code when the call failed. */
  errorCode?: string;
  durationMs: number;
  requestId?: string;
}

export interface AuditQuery {
  afterSeq?: number;
  vm?: string;
  limit?: number;
}

export interface EventQuery {
  afterSeq?: number;
  vm?: string;
  limit?: number;
}

/**
 * Options of a write. `expectRevision` makes it a compare-and-swap: the write fails with
 * CONFLICT, and changes nothing, unless the stored record's revision is exactly this one.
 * Without it the write is last-writer-wins.
 */
export interface WriteOptions {
  expectRevision?: number;
  /**
   * This write may change the VM's `node` (a migration's hand-over, HA recovery, an
   * evacuation). Without it, a status write whose `node` differs from the stored one is
   * refused with VM_ON_OTHER_NODE: a node that lost a VM (it was moved while the node was
   * cut off or frozen) cannot write it back to itself from what it last saw.
   */
  moveNode?: boolean;
}

/** A record of a collection with the store revision of its last write. */
export interface CollectionEntry<T> {
  key: string;
  record: T;
  revision: number;
}

/**
 * Records of one kind (pools, volumes, images, operations, snapshots…), keyed by a
 * string. Maps onto a table in SQLite and onto a key prefix in etcd. Every write that
 * changes something takes a new store revision and appears in the change feed.
 */
export interface Collection<T> {
  get(key: string): Promise<T | undefined>;
  list(): Promise<T[]>;
  /** `get` with the revision (for compare-and-swap and for a list-then-watch). */
  entry(key: string): Promise<CollectionEntry<T> | undefined>;
  /** `list` with keys and revisions, ordered by key. */
  entries(): Promise<CollectionEntry<T>[]>;
  /** Returns false (and changes nothing) if the key exists. */
  create(key: string, record: T): Promise<boolean>;
  /** Returns false if the key does not exist; CONFLICT if `expectRevision` is given and differs. */
  update(key: string, record: T, options?: WriteOptions): Promise<boolean>;
  delete(key: string): Promise<void>;
}

export const COLLECTION_KINDS = ['pools', 'volumes', 'images', 'operations', 'snapshots', 'networks', 'projects', 'tokens', 'peers', 'backup-repos', 'backup-state', 'backup-schedules', 'nodes', 'node-leases', 'join-tokens', 'placement', 'reservations', 'placement-groups', 'hooks', 'hook-state', 'profiles', 'templates'] as const;
/** `nodes`, `node-leases`, `join-tokens`, `placement` and `reservations` exist only in a cluster (src/cluster); `placement-groups` (src/cluster/groups.ts) on a single host too; `hooks` and `hook-state` are webhooks (src/hooks); `profiles` named VM settings (src/profiles). */
export type CollectionKind = (typeof COLLECTION_KINDS)[number];

/** What a change feed entry is about: a VM's desired half (`vm`), its status half
 * (`vm-status`), both keyed by the VM's id, or a record of a collection. */
export type ChangeKind = 'vm' | 'vm-status' | CollectionKind;

/**
 * One entry of the change feed. Entries come in revision order; one write that touches
 * several keys (creating a VM writes both halves) gives them all the same revision, like
 * an etcd transaction. The entry says what changed, not to what: read the key for that.
 */
export interface StoreChange {
  revision: number;
  kind: ChangeKind;
  key: string;
  op: 'put' | 'delete';
}

export interface ChangeQuery {
  /** Only these kinds (etcd: the watched prefixes). */
  kinds?: readonly ChangeKind[];
  /** At most this many revisions (not entries: a revision is never cut in two). */
  limit?: number;
}

/** Receives a watch's changes, in order, never from inside a store call. */
export interface ChangeListener {
  change(change: StoreChange): void;
  /** The watch ended: REVISION_COMPACTED when the history from its revision is gone (list
   * again and watch from the revision read before listing). No change follows. */
  error(error: HangarError): void;
}

export interface Watch {
  close(): void;
}

export interface Store {
  collection<T>(kind: CollectionKind): Collection<T>;
  /**
   * The store revision: one store-wide counter (etcd: the header revision), increased by one
   * by each write that changes something, whatever it writes (VM halves, collection records).
   */
  revision(): number;
  /** Changes at or before this revision are pruned from the feed (etcd: the compact revision). */
  compactRevision(): number;
  /**
   * Changes after `afterRevision`, oldest first. REVISION_COMPACTED when `afterRevision` is
   * older than compactRevision(): the feed no longer says what happened since, list again.
   */
  changes(afterRevision: number, query?: ChangeQuery): Promise<StoreChange[]>;
  /**
   * Replays the changes after `afterRevision`, then delivers new ones as they are written,
   * until closed. To follow a set of records: read revision(), list them, watch from that
   * revision (a replayed change already seen in the list has a record revision ≤ the one
   * listed: skip it).
   */
  watch(afterRevision: number, listener: ChangeListener, query?: Omit<ChangeQuery, 'limit'>): Watch;
  /** VMs in name order. The records listVms, getVm and getVmById return are shared with other callers and
   * frozen: change a copy (`{ ...rec, state }`), never the record itself. */
  listVms(): Promise<VmRecord[]>;
  /** The revision of the last change to any VM (either half, or a delete): lets services
   * cache views derived from all VMs (etcd: the prefix's revision). */
  vmRevision(): number;
  getVm(name: string): Promise<VmRecord | undefined>;
  getVmById(id: string): Promise<VmRecord | undefined>;
  /** Writes both halves in one transaction (both get the same revision). Fails with VM_EXISTS
   * if the name or id is taken. */
  createVm(record: VmRecord): Promise<VmRecord>;
  /**
   * Replaces the VM with the same id: writes each half whose content differs from the stored
   * one (one transaction, one revision; nothing if neither differs) and sets its updatedAt.
   * `expectRevision` compares against the VM's `revision` (the later of its halves'), so it
   * fails with CONFLICT if anyone wrote either half since the record was read.
   */
  updateVm(record: VmRecord, options?: WriteOptions): Promise<VmRecord>;
  /** Writes the desired half alone (keyed by its id); `expectRevision` compares against `desiredRevision`. */
  updateVmDesired(desired: VmDesiredFields, options?: WriteOptions): Promise<VmRecord>;
  /** Writes the status half alone; `expectRevision` compares against `statusRevision`. */
  updateVmStatus(id: string, status: VmStatusFields, options?: WriteOptions): Promise<VmRecord>;
  deleteVm(id: string): Promise<void>;
  appendEvent(event: Omit<HangarEvent, 'seq' | 'time'>): Promise<HangarEvent>;
  listEvents(query?: EventQuery): Promise<HangarEvent[]>;
  /** Appends to the audit log (bounded: the oldest entries are pruned). */
  appendAudit(entry: Omit<AuditEntry, 'seq'>): Promise<AuditEntry>;
  /** Entries after `afterSeq` (oldest first), or the last `limit` ones. */
  listAudit(query?: AuditQuery): Promise<AuditEntry[]>;
  /**
   * Throws CLUSTER_STORE_UNAVAILABLE when a write could not be recorded now (etcd out of
   * reach). Called before acting on a guest, so that nothing is done that the store would
   * then not know of. The single-host store has nothing to check.
   */
  assertWritable?(): Promise<void>;
  /**
   * Events other writers append (the other nodes of a cluster), as they are appended; this
   * store's own appends are not repeated. The single-host store has no other writers.
   */
  followEvents?(listener: (event: HangarEvent) => void): () => void;
  /** The store's kind, schema version and last writer (`host show`). */
  schema?(): StoreSchemaInfo | undefined;
  close(): Promise<void>;
}
