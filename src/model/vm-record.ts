/**
 * A VM as the store keeps it: what the user asked for (VmDesired) and what is true of it now
 * (VmStatus: state, the QEMU process it runs in, migration markers), and VmRecord, the two
 * side by side. Plain data, shared by every layer.
 */
import type { VmSpec } from './spec.js';
import type { VmState } from './states.js';
import type { PlacementSnapshot } from './placement.js';

/** vCPU and I/O thread ids of a running QEMU (for pinning and `vm show`). */
export interface QemuThreads {
  vcpus: Record<string, number>;
  iothreads: Record<string, number>;
}

/** Resources the running guest has now (vCPUs, memory, hot-plug ceilings). */
export interface LiveResources {
  cpus: number;
  /** Hot-plug ceiling of this run. */
  maxCpus: number;
  /** Memory the guest should have (balloon target), MiB. */
  memoryMiB: number;
  /** Boot memory plus hot-plugged DIMMs, MiB. */
  pluggedMiB: number;
  maxMemoryMiB: number;
  dimms: number;
  /** A vCPU was unplugged this run (see setGuestMemory). */
  cpuUnplugged?: boolean;
}

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
  /** The swtpm process of a VM with a TPM (pid + start time, like QEMU's), started before QEMU and ended with it. */
  swtpm?: { pid: number; pidStartTime: string };
}

/**
 * A VM is two records, written by different parties (the Kubernetes and KubeVirt split of
 * `spec` and `status`), so that a cluster store can let the API and the node that runs the
 * VM write without overwriting each other, and compare-and-swap each on its own revision:
 *
 * - {@link VmDesired}: what the user asked for. Written only in answer to a user's request
 *   (create, set, attach, start/stop); it holds nothing a host decided, so it means the same
 *   on any node and survives the VM moving to another one.
 * - {@link VmStatus}: what is true now. Written by the node that runs the VM (the supervisor,
 *   adoption, migration); it can be rebuilt from the host (the QEMU process, its sockets), and
 *   most of it means something only on that host.
 *
 * Field by field:
 * - `spec` is desired, even when a live change (hot-plug, `vm set`) edits it: the user asked
 *   for it; what the guest has right now is `runtime.live` (status).
 * - `stoppedByUser` is desired: only a user's stop or start writes it, and it is intent
 *   ("keep this VM down, autostart must not undo it") that a node taking over the VM must
 *   honour: it is KubeVirt's `spec.runStrategy`, not a fact about the process.
 * - `state`, `stateReason`, `runtime`, `lastExit`: the process as it is, status.
 * - `restartHistory`: the supervisor's own bookkeeping for the restart policy's window, status.
 * - `guestUid`: a uid allocated on this host (unique among its guests), status: another host
 *   allocates its own.
 * - `migration` (in-flight marker) and `migratedTo` (where the guest went): written by the
 *   migration on each side while the guest moves between hosts, status.
 * - `createdAt` is desired (when the user created it); each half has its own `updatedAt` (the
 *   time of its last write); the combined view's `updatedAt` is the later of the two, as it was
 *   when a VM was one record.
 *
 * A new field belongs to status only if the node that runs the VM writes it; list it in
 * `VM_STATUS_KEYS` (the compiler insists). Every other field is desired.
 */
export interface VmDesired {
  /** Stable key of both halves (the name may be reused after a delete). */
  id: string;
  name: string;
  spec: VmSpec;
  /** The placement group it is in (src/cluster/groups.ts): a user's choice, desired. */
  group?: string;
  /** A user stopped it: autostart leaves it alone until a user starts it again. */
  stoppedByUser?: boolean;
  createdAt: string;
  /** When this half was last written. */
  updatedAt: string;
  /** Store revision of this half's last write (etcd: the key's mod_revision). */
  revision: number;
}

export interface VmStatus {
  state: VmState;
  /** Why the VM is in this state (crash reason, adoption failure…). */
  stateReason?: string;
  runtime?: VmRuntime;
  /** Times of automatic restarts (the restart policy's window counts these). */
  restartHistory?: string[];
  /** The uid this VM's QEMU runs as (one per VM), allocated at its first start by a root daemon. */
  guestUid?: number;
  /** A live migration in progress: on the source `outgoing`, on the destination `incoming`. */
  migration?: MigrationMarker;
  /** On a migration's source, once it completed (state `migrated`): where the guest went. */
  migratedTo?: { peer: string; url: string; at: string };
  /** Restored from a backup while it runs (`backup restore --live`): blocks still come from the backup's server. */
  liveRestore?: LiveRestoreMarker;
  /** Saved by `host shutdown-guests` (not by hand): restored at the next daemon start (src/host/start-guests.ts). */
  restoreAtStart?: { at: string };
  /** Exit status of the last QEMU process, when known. */
  lastExit?: { code: number | null; signal: string | null; at: string };
  /** In a cluster: the node that holds the VM and runs it (absent on a single host). */
  node?: string;
  /** An HA VM that its node is to start (recovered from a lost node, or killed by this node's fencer). */
  haPending?: { reason: string; from?: string; at: string };
  /** The VM's last move between nodes: from where, to where, why and when (HA, `vm migrate --node`, `node evacuate`/`restore`). */
  lastMove?: NodeMove;
  /** In a cluster: why placement chose that node, kept at create (src/cluster/groups.ts). */
  placed?: PlacedDecision;
  /** When this half was last written. */
  updatedAt: string;
  /** Store revision of this half's last write (etcd: the key's mod_revision). */
  revision: number;
}

/** Why placement chose a VM's node: the chosen node's score and terms, and the others' (short). */
export interface PlacedDecision {
  node: string;
  at: string;
  score?: number;
  reasons: string[];
  target?: string;
  group?: string;
  others: Array<{ node: string; eligible: boolean; score?: number; reasons: string[] }>;
}

/** The desired half as a caller writes it: the store sets `updatedAt` and `revision`. */
export type VmDesiredFields = Omit<VmDesired, 'updatedAt' | 'revision'>;
/** The status half as a caller writes it: the store sets `updatedAt` and `revision`. */
export type VmStatusFields = Omit<VmStatus, 'updatedAt' | 'revision'>;

/**
 * The combined view the services work with: both halves' fields side by side. The store
 * splits it on write (a half whose content did not change is not written) and joins it on read.
 */
export interface VmRecord extends VmDesiredFields, VmStatusFields {
  /** The later of the halves' `updatedAt`. */
  updatedAt: string;
  /** The later of the halves' revisions: the store revision of the VM's last change. Set by
   * the store on every record it returns; `updateVm`'s compare-and-swap compares it. */
  revision?: number;
  /** Revision of the desired half (compare-and-swap on `updateVmDesired`). */
  desiredRevision?: number;
  /** Revision of the status half (compare-and-swap on `updateVmStatus`). */
  statusRevision?: number;
}

/** The status fields, in the order the store writes them. Typed so that a field added to
 * VmStatus without being listed here does not compile. */
const STATUS_KEYS = {
  state: true, stateReason: true, runtime: true, restartHistory: true, guestUid: true, migration: true, migratedTo: true, liveRestore: true, restoreAtStart: true, lastExit: true, node: true, haPending: true, lastMove: true, placed: true,
} as const satisfies Record<keyof VmStatusFields, true>;
export const VM_STATUS_KEYS = Object.keys(STATUS_KEYS) as (keyof VmStatusFields)[];

/** Fields of the combined view that are neither half's content (the store derives them). */
const VIEW_ONLY_KEYS = new Set<string>(['updatedAt', 'revision', 'desiredRevision', 'statusRevision']);
const STATUS_KEY_SET = new Set<string>(VM_STATUS_KEYS);

/**
 * Splits the combined view into its halves' content. Every field that is not a status field
 * goes to the desired half, so a field nobody classified is never lost.
 */
export function splitVmRecord(record: VmRecord): { desired: VmDesiredFields; status: VmStatusFields } {
  const status: Record<string, unknown> = {};
  for (const key of VM_STATUS_KEYS) {
    if (record[key] !== undefined) status[key] = record[key];
  }
  const desired: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    if (value !== undefined && !STATUS_KEY_SET.has(key) && !VIEW_ONLY_KEYS.has(key)) desired[key] = value;
  }
  return { desired: desired as unknown as VmDesiredFields, status: status as unknown as VmStatusFields };
}

/** The combined view of two stored halves. */
export function joinVmRecord(desired: VmDesired, status: VmStatus): VmRecord {
  const { updatedAt: du, revision: dr, ...d } = desired;
  const { updatedAt: su, revision: sr, ...s } = status;
  return { ...d, ...s, updatedAt: du > su ? du : su, revision: Math.max(dr, sr), desiredRevision: dr, statusRevision: sr };
}

/** A live restore: where the VM's disks still read from, and how far the copy is. */
export interface LiveRestoreMarker {
  backup: string;
  repo: string;
  state: 'copying' | 'failed';
  error?: string;
  /** The `hangar backup serve` process and its directory (socket, log). */
  dir: string;
  serverPid?: number;
  serverStartTime?: string;
  startedAt: string;
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
  /**
   * A move between two nodes of one cluster (one record, whose `node` changes at the hand-over):
   * set by the source. `revoked`: the source took the guest back; the destination must not take it over.
   */
  cluster?: { from: string; to: string; reason: NodeMoveReason; revoked?: boolean };
}

/** What asked for a move between nodes: a user's `vm migrate --node`, `node evacuate`, or `node restore`. */
export type NodeMoveReason = 'migrate' | 'evacuation' | 'restore';

/** A VM's move from one node of a cluster to another. */
export interface NodeMove {
  /** The move's id (moves by `vm migrate --node`; HA's recoveries have none). */
  id?: string;
  from: string;
  to: string;
  at: string;
  /** live or cold (moves by `vm migrate --node`, `node evacuate`, `node restore`). */
  kind?: 'live' | 'cold';
  /** A NodeMoveReason, or the HA manager's reason for a recovery. */
  reason: string;
  /** live: the source's QEMU (its node ends it if a daemon restart left it behind). */
  sourcePid?: number;
  sourcePidStartTime?: string;
}

