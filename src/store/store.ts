/**
 * The store interface: everything the services persist goes through here, so the
 * single-host SQLite store can be replaced by a cluster store (etcd) later.
 * Methods are async on purpose: a networked store will need it.
 */
import type { VmSpec } from '../vm/spec.js';
import type { VmState } from '../vm/states.js';
import type { LiveResources } from '../resources/live.js';
import type { QemuThreads } from '../resources/pinning.js';
import type { PlacementSnapshot } from '../vm/placement.js';

/** What the daemon needs to find and re-adopt a running QEMU process. */
export interface VmRuntime {
  pid: number;
  /** Field 22 of /proc/PID/stat (clock ticks since boot): guards against pid reuse. */
  pidStartTime: string;
  qmpSocket: string;
  serialSocket: string;
  vncSocket?: string;
  startedAt: string;
  /** Accelerator actually used for this run. */
  accel: string;
  /** Hot-plug root ports in use this run: port id → device id. */
  hotplug?: Record<string, string>;
  /** Resources the running guest has now (vCPUs, memory, hot-plug ceilings). */
  live?: LiveResources;
  /** QEMU's vCPU and I/O thread ids (for pinning and `vm show`). */
  threads?: QemuThreads;
  /** Hugepages, NUMA, I/O threads and host devices this run started with (vm/placement.ts placementOf). */
  placement?: PlacementSnapshot;
}

export interface VmRecord {
  id: string;
  name: string;
  spec: VmSpec;
  state: VmState;
  /** Why the VM is in this state (crash reason, adoption failure…). */
  stateReason?: string;
  runtime?: VmRuntime;
  /** Times of automatic restarts (the restart policy's window counts these). */
  restartHistory?: string[];
  /** A user stopped it: autostart leaves it alone until a user starts it again. */
  stoppedByUser?: boolean;
  /** The uid this VM's QEMU runs as (one per VM), allocated at its first start by a root daemon. */
  guestUid?: number;
  /** A live migration in progress: on the source `outgoing`, on the destination `incoming`. */
  migration?: MigrationMarker;
  /** On a migration's source, once it completed (state `migrated`): where the guest went. */
  migratedTo?: { peer: string; url: string; at: string };
  /** Exit status of the last QEMU process, when known. */
  lastExit?: { code: number | null; signal: string | null; at: string };
  createdAt: string;
  updatedAt: string;
}

/**
 * Written before a live migration touches anything, so a daemon that restarts mid-way knows
 * what to undo: the destination removes a guest that never finished arriving (and the volumes
 * it created for it), the source resumes its guest unless the destination has it.
 */
export interface MigrationMarker {
  id: string;
  role: 'incoming' | 'outgoing';
  /** outgoing: the peer's name; incoming: the source's address as the API saw it. */
  peer: string;
  startedAt: string;
  /** incoming: volumes created here for copied disks (`pool/name`), deleted if it fails. */
  createdVolumes?: string[];
  /** outgoing: the guest ran (not paused) when the migration began; a rollback resumes it. */
  wasRunning?: boolean;
  /** outgoing: the disks are being copied (the source deletes its copies once the guest moved). */
  copyStorage?: boolean;
}

export interface HangarEvent {
  seq: number;
  time: string;
  /** e.g. `vm.created`, `vm.state`, `vm.deleted`, `vm.crashed`, `daemon.started` */
  type: string;
  vm?: string;
  data: Record<string, unknown>;
}

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
