/**
 * A VM as the store keeps it: what the user asked for (the spec) and what is true of it now
 * (state, the QEMU process it runs in, migration markers). Plain data, shared by every layer.
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

