/** What the VM service is built from (VmServiceDeps), and what it hands other services (VmHandle, SavedStateHooks). */
import type { EventBus } from '../events/bus.js';
import type { ImageCatalog } from '../images/catalog.js';
import type { Accel, HostCaps } from '../model/spec.js';
import type { VmState } from '../model/states.js';
import type { NetworkService } from '../network/service.js';
import type { ProjectService } from '../projects/service.js';
import type { QmpClient } from '../qmp/index.js';
import type { CgroupDriver } from '../resources/cgroups.js';
import type { StorageService } from '../storage/service.js';
import type { Store, VmRecord } from '../store/store.js';
import type { HostInfo } from './capacity.js';
import type { DiskOwnerHooks } from './disk-access.js';
import type { GuestUsers } from './guest-files.js';
import type { PlacementOptions } from './placement-ops.js';
import type { StartHooks } from './supervisor.js';
import type { VmLogs } from '../logd/link.js';

export interface VmServiceDeps {
  /** In a cluster: this node's name (VMs of other nodes are not touched here); undefined on a single host. */
  node?: () => string | undefined;
  /** In a cluster: throws when this node may not start the VM now (NODE_FENCED: an HA VM while its lease is not sure; POOL_NOT_ON_NODE, NETWORK_NOT_ON_NODE). */
  mayStart?: (rec: VmRecord) => void | Promise<void>;
  /** QEMU's image locking (default on); off only for tests (config.ts). */
  imageLocking?: boolean;
  /** In a cluster: the owner keys of shared pools' disks (src/cluster/disk-owners.ts). */
  diskOwners?: () => DiskOwnerHooks | undefined;
  store: Store;
  storage: StorageService;
  /** Absent where the host has no usable cpu cgroup controller. */
  cgroups?: CgroupDriver;
  networks?: NetworkService;
  projects?: ProjectService;
  events: EventBus;
  images: ImageCatalog;
  caps: HostCaps;
  host: HostInfo;
  defaultAccel: Accel;
  runDir: string;
  logDir: string;
  qemuBinary?: string;
  log?: (msg: string) => void;
  /** sysfs/procfs roots and the affinity setter, for tests. */
  placement?: PlacementOptions;
  /** Run each guest's QEMU as a user of its own (root daemons); absent: as the daemon's user. */
  guestUsers?: GuestUsers;
  /** vTPMs: the swtpm binary (default `swtpm` in PATH) and where TPM state lives (`<data-dir>/tpm`). */
  tpm?: { swtpmBinary?: string; stateRoot: string };
  /** Host directories virtiofs shares may be in; none: shares are refused. */
  shareRoots?: string[];
  /** logd (src/logd): guests' serial and QEMU logs capped; absent: QEMU writes them uncapped. */
  logs?: VmLogs;
  /** Where file-backed guest RAM lives (`<data-dir>/memory`; spec memoryBacking `file`). */
  memoryRoot?: string;
  /** Where warm templates live (`<data-dir>/templates`): a warm clone's first run maps its template's memory file from there (its view's warmMemory). */
  templatesRoot?: string;
}

/** How `start` and `delete` treat a saved VM (the migration module's save service). */
export interface SavedStateHooks {
  /** Restores the save into a fresh QEMU (holding the VM's lock) and deletes the save file. */
  restore(vm: VmHandle): Promise<VmRecord>;
  /** Deletes the save file, if any. */
  discard(rec: Pick<VmRecord, 'id' | 'name'>): Promise<void>;
}

/**
 * What another service (snapshots, later migration) gets while it holds a VM's
 * operation lock: the record, its monitor, and the lifecycle steps it may need.
 */
export interface VmHandle {
  record(): Promise<VmRecord>;
  qmp(): Promise<QmpClient>;
  forceStop(): Promise<VmRecord>;
  start(hooks?: StartHooks): Promise<VmRecord>;
  /** Re-reads QEMU's run state (running/paused) into the record. */
  syncRunState(): Promise<VmRecord>;
  setState(state: VmState, reason?: string): Promise<VmRecord>;
  /** Ends QEMU after its state was saved: the VM becomes `saved`, not `stopped`. */
  quitSaved(): Promise<VmRecord>;
  /** Ends QEMU after the guest moved to another host: the VM becomes `migrated`. */
  quitMigrated(to: NonNullable<VmRecord['migratedTo']>): Promise<VmRecord>;
  /** Changes the record (e.g. a migration marker); a state change must be in the state machine's table. */
  update(fn: (r: VmRecord) => VmRecord): Promise<VmRecord>;
}
