/**
 * The store interface: everything the services persist goes through here, so the
 * single-host SQLite store can be replaced by a cluster store (etcd) later.
 * Methods are async on purpose: a networked store will need it.
 */
import type { VmRecord } from '../model/vm-record.js';
import type { HangarEvent } from '../model/events.js';

export type { MigrationMarker, VmRecord, VmRuntime } from '../model/vm-record.js';
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
 * Records of one kind (pools, volumes, images, operations, snapshots…), keyed by a
 * string. Maps onto a table in SQLite and onto a key prefix in etcd.
 */
export interface Collection<T> {
  get(key: string): Promise<T | undefined>;
  list(): Promise<T[]>;
  /** Returns false (and changes nothing) if the key exists. */
  create(key: string, record: T): Promise<boolean>;
  /** Returns false if the key does not exist. */
  update(key: string, record: T): Promise<boolean>;
  delete(key: string): Promise<void>;
}

export type CollectionKind = 'pools' | 'volumes' | 'images' | 'operations' | 'snapshots' | 'networks' | 'projects' | 'tokens' | 'peers';

export interface Store {
  collection<T>(kind: CollectionKind): Collection<T>;
  listVms(): Promise<VmRecord[]>;
  /** A number that changes whenever any VM record is created, updated or deleted (etcd: the
   * prefix's revision). Lets services cache views derived from all VMs. */
  vmRevision(): number;
  getVm(name: string): Promise<VmRecord | undefined>;
  /** Fails with VM_EXISTS if the name is taken. */
  createVm(record: VmRecord): Promise<void>;
  /** Replaces the record with the same id; sets updatedAt. */
  updateVm(record: VmRecord): Promise<VmRecord>;
  deleteVm(id: string): Promise<void>;
  appendEvent(event: Omit<HangarEvent, 'seq' | 'time'>): Promise<HangarEvent>;
  listEvents(query?: EventQuery): Promise<HangarEvent[]>;
  /** Appends to the audit log (bounded: the oldest entries are pruned). */
  appendAudit(entry: Omit<AuditEntry, 'seq'>): Promise<AuditEntry>;
  /** Entries after `afterSeq` (oldest first), or the last `limit` ones. */
  listAudit(query?: AuditQuery): Promise<AuditEntry[]>;
  close(): Promise<void>;
}
