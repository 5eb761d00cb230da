/**
 * VmService: the lifecycle of virtual machines. It owns the live QEMU processes
 * (one QMP connection each), enforces one mutating operation per VM, and writes
 * every state change to the store and the event bus.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, rm, stat } from 'node:fs/promises';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { allocateGuestUid, allowPathTo, groupCanUse, handOver, shareReadOnly, takeBack, type GuestIdentity } from '../security/guest-identity.js';
import { errorText, HangarError } from '../errors/errors.js';
import type { EventBus } from '../events/bus.js';
import type { ImageCatalog } from '../images/catalog.js';
import { HOTPLUG_PORTS, QEMU_BINARY, buildQemuArgv, hotplugPortId } from '../qemu/argv.js';
import type { StorageService, VolumeRecord } from '../storage/service.js';
import type { NetworkService } from '../network/service.js';
import { DEFAULT_PROJECT, type ProjectService, type Usage } from '../projects/service.js';
import { macAddress } from '../network/names.js';
import type { CgroupDriver } from '../resources/cgroups.js';
import { deleteDevice, dimmGrowthMiB, setDiskThrottle, setGuestCpus, setGuestMemory, type LiveResources } from '../resources/live.js';
import { parseSizeBytes } from '../util/size.js';
import { buildSeedIso, renderConfigDrive, renderNoCloud, validateCloudInit } from '../cloudinit/index.js';
import { GuestAgent, isGuestAgentError } from '../qga/index.js';
import { createServer } from 'node:net';
import { DEFAULT_RESTART_POLICY, autostartSequence, decideRestart, type ExitOutcome, type RestartMode } from '../policy/restart.js';
import { isSameLiveProcess, launchQemu, readCmdline, readLogTail, signalProcess, waitForProcessExit, type ExitInfo } from '../qemu/process.js';
import { QmpClient, type QmpEvent } from '../qmp/index.js';
import type { Store, VmRecord, VmRuntime } from '../store/store.js';
import { KeyedMutex } from '../util/mutex.js';
import type { Accel, CloudInitSpec, DiskSpec, HostCaps, MachineType, NicSpec, PortForward, VmPaths, VmSpec } from '../model/spec.js';
import { assertOperationAllowed, assertSavedVmAllows, isActive, type VmOperation, type VmState } from '../model/states.js';
import { formatMiB, parseMemoryMiB, validateCpus, validateVmName } from '../model/validate.js';
import { diskIothread, dimmAlignMiB, memoryBackendProps, placementOf } from '../model/placement.js';
import {
  applyPlacementInput, checkBeforeStart, hotplugIothread, pendingPlacement, placementView, placementViewLive, placeThreads, previewSettings,
  type PlacementInput, type PlacementOptions, type PlacementSettings, type PlacementView,
} from './placement-ops.js';
import { checkHugepages, onlineCpus } from '../host/placement.js';
import { applyPinning, queryThreads } from '../resources/pinning.js';

export interface CreateVmInput extends PlacementInput {
  name: string;
  image?: string;
  cpus?: number;
  memory?: string | number;
  machine?: MachineType;
  accel?: Accel;
  cpuModel?: string;
  vnc?: boolean;
  /** A SPICE display (QXL) on a unix socket, proxied by the daemon; default false. */
  spice?: boolean;
  start?: boolean;
  /** Size of the root disk (disk images) or of a blank data disk (kernel images). */
  diskSize?: string | number;
  /** Copy the image instead of making a linked clone. */
  fullCopy?: boolean;
  /** Hot-plug ceilings for this VM's runs. */
  maxCpus?: number;
  maxMemory?: string | number;
  cpuLimit?: number | string;
  cpuWeight?: number;
  autostart?: boolean;
  autostartOrder?: number;
  autostartDelay?: number;
  restart?: RestartMode;
  restartMax?: number;
  restartWindow?: number;
  /** Host port forwards for the user-mode NIC: `tcp:127.0.0.1:2222:22` (protocol:address:hostPort:guestPort). */
  forwards?: string[];
  /** Managed networks to put NICs on (one NIC each); without them the VM gets one user-mode NIC. */
  networks?: string[];
  /** The project it counts against (default `default`). */
  project?: string;
  cloudInit?: Omit<CloudInitSpec, 'format'> & { format?: CloudInitSpec['format'] };
}

/** `vm set`: each key applies live where the guest allows, otherwise at the next start. */
export interface VmSettings extends PlacementSettings {
  cpus?: number;
  memory?: string | number;
  maxCpus?: number;
  maxMemory?: string | number;
  /** Percent of one host CPU ("150%" or 150); null lifts the limit. */
  cpuLimit?: number | string | null;
  cpuWeight?: number | null;
  /** Per disk (device id like disk0, or volume name): I/O limits; 0 or null lifts them. */
  disks?: Record<string, { iops?: number | null; bps?: string | number | null; iothread?: string | null }>;
  autostart?: boolean;
  autostartOrder?: number;
  autostartDelay?: number;
  restart?: RestartMode;
  restartMax?: number;
  restartWindow?: number;
}

export interface SettingResult {
  key: string;
  value: unknown;
  /** `live`: the running guest has it now; `next-start`: stored, applies at the next start. */
  applied: 'live' | 'next-start';
  note?: string;
}

export interface StopOptions {
  force?: boolean;
  /** Seconds to wait for the guest to power off after ACPI before forcing. */
  timeoutSeconds?: number;
}

/** What clients see of a VM. */
export interface VmView {
  id: string;
  name: string;
  state: VmState;
  stateReason?: string;
  pid?: number;
  cpus: number;
  /** MiB */
  memory: number;
  memoryText: string;
  machine: MachineType;
  accel?: string;
  image?: string;
  vnc: boolean;
  spice: boolean;
  maxCpus: number;
  /** MiB */
  maxMemory: number;
  cpuLimit?: number;
  cpuWeight?: number;
  /** What the running guest has now, when it differs from the configuration. */
  live?: { cpus: number; memory: number };
  /** Settings stored for the next start (the running guest does not have them yet). */
  pending?: string[];
  autostart?: { order: number; delaySeconds: number };
  restart: { mode: RestartMode; maxRestarts: number; windowSeconds: number };
  restartsInWindow: number;
  forwards: string[];
  project: string;
  nics: { id: string; kind: string; mac: string; network?: string }[];
  cloudInit?: { format: string; hostname?: string; user?: string; sshKeys: number; password: boolean; userData: boolean; networkConfig: boolean };
  disks: { id: string; pool?: string; volume?: string; path: string; format: string; readOnly: boolean; boot: boolean; iops?: number; bps?: number; iothread?: string }[];
  /** A live migration in progress (`outgoing` here, or `incoming` from another host). */
  migration?: { id: string; role: 'incoming' | 'outgoing'; peer: string; startedAt: string };
  /** State `migrated`: the peer the guest moved to. */
  migratedTo?: { peer: string; url: string; at: string };
  /** Hugepages, NUMA, pinning (with each thread's affinity while it runs), I/O threads, host devices. */
  placement?: PlacementView;
  startedAt?: string;
  lastExit?: VmRecord['lastExit'];
  createdAt: string;
  updatedAt: string;
}

export interface HostInfo {
  cpus: number;
  memoryMiB: number;
  /** vCPUs allowed per host CPU, over all running VMs. */
  cpuOvercommit: number;
  /** Guest memory allowed per byte of host memory left after `reservedMemoryMiB`. */
  memoryOvercommit: number;
  /** Host memory kept for the host itself (and QEMU's own overhead): never given to guests. */
  reservedMemoryMiB: number;
}

/** What running guests may have in all: the host's CPUs and memory (less the reserve) × overcommit. */
export function hostCapacity(host: HostInfo): { cpus: number; memoryMiB: number } {
  return { cpus: host.cpus * host.cpuOvercommit, memoryMiB: Math.floor(Math.max(0, host.memoryMiB - host.reservedMemoryMiB) * host.memoryOvercommit) };
}

export interface VmServiceDeps {
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
}

/** Where guest uids come from, and the group every guest gets (`kvm`, for /dev/kvm). */
export interface GuestUsers {
  uidBase: number;
  /** undefined: each guest gets a group of its own number (gid = uid). */
  gid?: number;
}

/** Work to do on a freshly launched, still paused QEMU before the guest runs. */
export interface StartHooks {
  beforeCont?: (qmp: QmpClient) => Promise<void>;
  /** Leave the guest paused after `beforeCont` (e.g. a snapshot taken while paused). */
  stayPaused?: boolean;
  /** Restoring a save: QEMU waits for its state (`-incoming defer`); a failure leaves the VM `saved`. */
  incoming?: boolean;
  /** With `incoming`: the state a failure leaves (default `saved`; a live migration's destination: `stopped`). */
  incomingFailState?: 'saved' | 'stopped';
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
  /** Changes the record (e.g. a migration marker); the state goes through `setState`. */
  update(fn: (r: VmRecord) => VmRecord): Promise<VmRecord>;
}

/** A QEMU process the daemon is watching. */
interface LiveVm {
  id: string;
  name: string;
  pid: number;
  pidStartTime: string;
  paths: VmPaths;
  qmp?: QmpClient;
  /** For a process this daemon spawned: resolves with its exit status once reaped. */
  exited?: Promise<ExitInfo>;
  /** Set when the daemon asked QEMU to go away, so its exit is not a crash. */
  exitRequested: boolean;
  /** The reason QEMU reported in its SHUTDOWN event, if any. */
  shutdownReason?: string;
  /** Set on a failed start: the reason to record when the process is gone. */
  failReason?: string;
  /** True until `cont` has been answered: an exit now is a failed start, not a crash. */
  starting: boolean;
  /** Resolves once the exit has been recorded in the store. */
  gone: Promise<void>;
  markGone: () => void;
  finished: boolean;
  /** True once the daemon itself closes the QMP connection (daemon shutdown). */
  detaching: boolean;
  /** A user (or the API) asked for this stop: no restart policy applies. */
  userStop?: boolean;
  /** The state its end records instead of `stopped` (a save, or a failed restore). */
  endState?: 'saved' | 'migrated';
}

const QMP_CONNECT_TIMEOUT_MS = 10_000;
const FORCE_QUIT_GRACE_MS = 3_000;
/** Linux's PCIe hot-plug waits 5 s after the attention button before it lets go. */
const DEVICE_DEL_TIMEOUT_MS = 30_000;

export class VmService {
  private readonly live = new Map<string, LiveVm>();
  private readonly busy = new Map<string, string>();
  private readonly recordLock = new KeyedMutex();
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  /** One agent client per VM: the channel serves one client at a time. */
  private readonly agents = new Map<string, GuestAgent>();
  private readonly uidAllocation = new KeyedMutex();
  private readonly listCache = new Map<string, { revision: number; validUntil: number; body: Buffer }>();
  private stopping = false;
  private readonly qemuBinary: string;
  private readonly log: (msg: string) => void;
  private savedState?: SavedStateHooks;

  constructor(private readonly deps: VmServiceDeps) {
    this.qemuBinary = deps.qemuBinary ?? QEMU_BINARY;
    this.log = deps.log ?? (() => {});
  }

  /** Installed by the save service: `start` restores a saved VM, `delete` removes its save. */
  useSavedState(hooks: SavedStateHooks): void {
    this.savedState = hooks;
  }

  // ---- queries -------------------------------------------------------------

  async list(): Promise<VmView[]> {
    return (await this.deps.store.listVms()).map(toView);
  }

  /**
   * `list()` as a JSON body, cached until a VM record changes (or a restart leaves a
   * restart policy's window, which changes `restartsInWindow`). Listing 1,000 VMs costs
   * one buffer write instead of 1,000 parses, views and serializations.
   */
  async listJson(project?: string): Promise<Buffer> {
    const revision = this.deps.store.vmRevision();
    const key = project ?? '';
    const cached = this.listCache.get(key);
    if (cached && cached.revision === revision && Date.now() < cached.validUntil) return cached.body;
    if (!cached || cached.revision !== revision) this.listCache.clear();
    const records = (await this.deps.store.listVms()).filter((r) => project === undefined || (r.spec.project ?? DEFAULT_PROJECT) === project);
    const body = Buffer.from(JSON.stringify(records.map(toView)));
    this.listCache.set(key, { revision, validUntil: restartWindowChange(records), body });
    return body;
  }

  async get(name: string): Promise<VmView> {
    const rec = await this.mustGet(name);
    const view = toView(rec);
    const placement = await placementViewLive(rec, this.deps.placement?.roots?.proc);
    if (placement) view.placement = placement;
    return view;
  }

  /** Paths of a VM's runtime files; exposed for logs and consoles. */
  pathsOf(record: Pick<VmRecord, 'id' | 'name'>): VmPaths {
    const dir = join(this.deps.runDir, 'vms', record.id);
    const logs = join(this.deps.logDir, record.id);
    return {
      qmpSocket: join(dir, 'qmp.sock'),
      serialSocket: join(dir, 'serial.sock'),
      vncSocket: join(dir, 'vnc.sock'),
      spiceSocket: join(dir, 'spice.sock'),
      pidFile: join(dir, 'qemu.pid'),
      qgaSocket: join(dir, 'qga.sock'),
      seedIso: join(dir, 'seed.iso'),
      serialLog: join(logs, 'serial.log'),
      qemuLog: join(logs, 'qemu.log'),
    };
  }

  async record(name: string): Promise<VmRecord> {
    return this.mustGet(name);
  }

  /**
   * The live QMP connection of a VM (by id), for read-only queries such as the metrics
   * sampler's; undefined while it has none. Never use it to change the VM: that is this service's job.
   */
  monitor(id: string): QmpClient | undefined {
    const qmp = this.live.get(id)?.qmp;
    return qmp && !qmp.closed ? qmp : undefined;
  }

  // ---- create / delete -----------------------------------------------------

  async create(input: CreateVmInput): Promise<VmView> {
    const name = validateVmName(input.name);
    const cpus = validateCpus(input.cpus ?? 1);
    const memoryMiB = parseMemoryMiB(input.memory ?? 256);
    const imageName = input.image ?? 'tiny';
    const machine = input.machine ?? 'q35';
    const vnc = input.vnc ?? machine !== 'microvm';
    if (machine === 'microvm' && vnc) {
      throw new HangarError('INVALID_SPEC', 'A microvm has no display: create it with vnc=false, or pick machine q35.', { details: { field: 'vnc' } });
    }
    if (machine === 'microvm' && input.spice) {
      throw new HangarError('INVALID_SPEC', 'A microvm has no display: create it without spice, or pick machine q35.', { details: { field: 'spice' } });
    }
    // A model name never starts with '-' or '.': "-object" would read like an option.
    if (input.cpuModel !== undefined && !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/.test(input.cpuModel)) {
      throw new HangarError('INVALID_SPEC', `CPU model "${input.cpuModel}" is not a QEMU CPU model name (e.g. max, host, qemu64).`, { details: { field: 'cpuModel' } });
    }
    this.checkFitsHost(name, cpus, memoryMiB);
    if (await this.deps.store.getVm(name)) {
      throw new HangarError('VM_EXISTS', `A VM named "${name}" already exists: pick another name or delete it first.`);
    }
    const image = await this.deps.images.readyImage(imageName);
    const project = input.project ?? DEFAULT_PROJECT;
    if (this.deps.projects) {
      const diskBytes = input.diskSize !== undefined ? parseSizeBytes(input.diskSize, 'diskSize') : (image.disk?.virtualSizeBytes ?? 0);
      await this.deps.projects.check(project, { vms: 1, cpus, memoryMiB, diskBytes });
    }
    const vmId = randomBytes(6).toString('hex');
    const spec: VmSpec = {
      name, machine, cpuModel: input.cpuModel ?? 'max', cpus, memoryMiB, boot: image.boot ?? { kind: 'disk' }, disks: [],
      nics: input.networks?.length ? await this.networkNics(vmId, input.networks, input.forwards) : [await this.newUserNic()],
      balloon: true, rng: true, vnc, image: imageName,
    };
    if (input.accel !== undefined) spec.accel = input.accel;
    if (input.spice) spec.spice = true;
    if (project !== DEFAULT_PROJECT) spec.project = project;
    applyResourceFields(spec, input);
    await applyPlacementInput(spec, input, this.deps.placement);
    if (input.forwards?.length) spec.nics[0]!.forwards = await this.checkForwards(input.forwards.map(parseForward), name);
    if (input.cloudInit) {
      const { format, ...rest } = input.cloudInit;
      spec.cloudInit = { format: format ?? 'nocloud', ...rest };
      // Validate now (bad YAML, keys, names) so a bad seed never gets stored.
      validateCloudInit({ instanceId: 'check', ...rest });
    }
    const created: VolumeRecord[] = [];
    try {
      if (image.disk) {
        const root = await this.deps.storage.createVolume({
          name: `${name}-root`, fromImage: { name: image.name, ...image.disk }, ownedBy: name,
          ...(input.diskSize !== undefined && { size: input.diskSize }), ...(input.fullCopy && { fullCopy: true }),
        });
        created.push(root);
        spec.disks.push(diskOf('disk0', root, 0));
      } else if (input.diskSize !== undefined) {
        const data = await this.deps.storage.createVolume({ name: `${name}-data`, size: input.diskSize, ownedBy: name });
        created.push(data);
        spec.disks.push(diskOf('disk0', data));
      }
      for (const v of created) await this.deps.storage.markAttached(v.pool, v.name, name);
      const now = new Date().toISOString();
      const record: VmRecord = { id: vmId, name, spec, state: 'stopped', createdAt: now, updatedAt: now };
      await this.deps.store.createVm(record);
    } catch (e) {
      // No half-created VM: its new disks go too.
      for (const v of created) {
        await this.deps.storage.markAttached(v.pool, v.name, undefined).catch(() => undefined);
        await this.deps.storage.deleteVolume(v.pool, v.name, { evenIfOwned: true }).catch(() => undefined);
      }
      throw e;
    }
    await this.deps.events.publish('vm.created', name, { cpus, memory: memoryMiB, image: imageName });
    const view = toView((await this.deps.store.getVm(name))!);
    if (input.start) return this.start(name);
    return view;
  }

  async delete(name: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.exclusive(name, 'delete', async (rec) => {
      this.cancelRestart(name);
      assertOperationAllowed(name, rec.state, opts.force ? 'force-delete' : 'delete');
      if (isActive(rec.state)) rec = await this.forceStopLocked(rec);
      await this.deps.store.deleteVm(rec.id);
      for (const disk of rec.spec.disks) {
        if (!disk.volume) continue;
        const { pool, name: vol } = disk.volume;
        try {
          const v = await this.deps.storage.markAttached(pool, vol, undefined);
          if (v.ownedBy === rec.name) await this.deps.storage.deleteVolume(pool, vol, { evenIfOwned: true });
        } catch (e) {
          this.log(`${name}: releasing volume ${pool}/${vol} failed: ${errorText(e)}`);
        }
      }
      await this.savedState?.discard(rec);
      await rm(join(this.deps.runDir, 'vms', rec.id), { recursive: true, force: true });
      await rm(join(this.deps.logDir, rec.id), { recursive: true, force: true });
      await this.deps.events.publish('vm.deleted', name, {});
    });
  }

  // ---- lifecycle -----------------------------------------------------------

  /** Starts a VM; a saved one is restored where it was, unless `fresh` discards its save. */
  async start(name: string, opts: { fresh?: boolean } = {}): Promise<VmView> {
    return this.exclusive(name, 'start', async (rec) => {
      this.cancelRestart(name);
      if (rec.stoppedByUser) rec = await this.updateRecord(name, (r) => ({ ...r, stoppedByUser: false }));
      if (rec.state === 'saved' && this.savedState) {
        if (!opts.fresh) return toView(await this.savedState.restore(this.handle(name)));
        await this.savedState.discard(rec);
        rec = await this.setState(name, 'stopped', { stateReason: undefined });
      }
      return toView(await this.startLocked(rec));
    });
  }

  /**
   * A live migration's destination: records a guest arriving from another host, `stopped`
   * until the migration service starts its QEMU with `-incoming defer`. What a previous
   * migration left here (a `migrated` record of the same VM) is replaced.
   */
  async createIncoming(record: VmRecord): Promise<void> {
    validateVmName(record.name);
    const existing = await this.deps.store.getVm(record.name);
    if (existing) {
      if (existing.state !== 'migrated' || existing.id !== record.id) {
        throw new HangarError('VM_EXISTS', `A VM named "${record.name}" already exists on the destination (state ${existing.state}): rename or delete it there first.`);
      }
      await this.deps.store.deleteVm(existing.id);
    }
    await this.deps.store.createVm(record);
  }

  /** Removes the record of a guest whose arrival failed (its QEMU has ended). */
  async dropIncoming(name: string, id: string): Promise<void> {
    await this.exclusive(name, 'drop-incoming', async (rec) => {
      if (rec.id !== id || rec.migration?.role !== 'incoming' || isActive(rec.state)) return;
      await this.deps.store.deleteVm(rec.id);
      this.cancelRestart(name);
    });
  }

  /** True when each guest's QEMU runs as a user of its own (a root daemon, guest users on). */
  get guestUsersOn(): boolean {
    return this.deps.guestUsers !== undefined;
  }

  /** Why this guest cannot be migrated as it runs now, or undefined. */
  migrationBlocker(rec: VmRecord): string | undefined {
    const rt = rec.runtime;
    if (rt?.hotplug && Object.keys(rt.hotplug).length > 0) return 'it has hot-plugged devices this run (the destination starts with the configured hardware): restart it first';
    const live = rt?.live;
    if (live && (live.dimms > 0 || live.cpus !== rec.spec.cpus || live.memoryMiB !== rec.spec.memoryMiB)) return 'its CPUs or memory were changed live this run: restart it first so both hosts agree on its hardware';
    if (rec.spec.hostdevs?.length) return 'it has host (VFIO) devices, which cannot be migrated';
    return undefined;
  }

  /** Deletes a saved VM's save file: it becomes `stopped` and its next start boots afresh. */
  async discardSave(name: string): Promise<VmView> {
    return this.exclusive(name, 'discard-save', async (rec) => {
      if (rec.state !== 'saved') throw new HangarError('VM_STATE', `VM "${name}" is ${rec.state}, not saved: there is no save to discard.`);
      await this.savedState?.discard(rec);
      return toView(await this.setState(name, 'stopped', { stateReason: undefined }));
    });
  }

  async stop(name: string, opts: StopOptions = {}): Promise<VmView> {
    return this.exclusive(name, 'stop', async (rec) => {
      this.cancelRestart(name);
      const stopped = await this.stopLocked(rec, opts);
      return toView(await this.updateRecord(stopped.name, (r) => ({ ...r, stoppedByUser: true })));
    });
  }

  async restart(name: string, opts: StopOptions = {}): Promise<VmView> {
    return this.exclusive(name, 'restart', async (rec) => {
      assertOperationAllowed(name, rec.state, 'restart');
      const stopped = await this.stopLocked(rec, opts);
      return toView(await this.startLocked(stopped));
    });
  }

  async pause(name: string): Promise<VmView> {
    return this.exclusive(name, 'pause', async (rec) => {
      assertOperationAllowed(name, rec.state, 'pause');
      await this.qmpOf(rec).execute('stop');
      return toView(await this.setState(rec.name, 'paused'));
    });
  }

  async resume(name: string): Promise<VmView> {
    return this.exclusive(name, 'resume', async (rec) => {
      assertOperationAllowed(name, rec.state, 'resume');
      await this.qmpOf(rec).execute('cont');
      return toView(await this.setState(rec.name, 'running'));
    });
  }

  // ---- guest agent ---------------------------------------------------------

  /** The VM's guest agent client (the guest may not run an agent: calls then fail with AGENT_UNAVAILABLE). */
  agentFor(rec: VmRecord): GuestAgent {
    let agent = this.agents.get(rec.id);
    if (!agent) {
      agent = new GuestAgent(this.pathsOf(rec).qgaSocket!, { timeoutMs: 10_000 });
      this.agents.set(rec.id, agent);
    }
    return agent;
  }

  /**
   * Whether an agent has the channel open in the guest (QEMU knows: the port's frontend is
   * open). Asked before any agent call, so a guest without an agent costs one QMP round trip,
   * not a timeout.
   */
  async agentPresent(rec: VmRecord): Promise<boolean> {
    const lv = this.live.get(rec.id);
    if (!lv?.qmp || lv.qmp.closed) return false;
    try {
      const chardevs = await lv.qmp.execute<Array<{ label: string; 'frontend-open': boolean }>>('query-chardev');
      return chardevs.some((c) => c.label === 'qga0' && c['frontend-open']);
    } catch {
      return false;
    }
  }

  /** Runs a command in the guest through its agent. */
  async exec(name: string, argv: string[], opts: { input?: string; timeoutSeconds?: number } = {}): Promise<{ exitCode: number; stdout: string; stderr: string; signal?: number }> {
    const rec = await this.mustGet(name);
    if (rec.state !== 'running') throw new HangarError('VM_STATE', `VM "${name}" is ${rec.state}: exec needs a running guest with qemu-guest-agent.`);
    if (argv.length === 0 || argv.some((a) => typeof a !== 'string' || a.includes('\0'))) {
      throw new HangarError('INVALID_SPEC', 'Give the command as a non-empty list of arguments, e.g. ["uname", "-r"].');
    }
    return agentCall(() => this.agentFor(rec).exec(argv, { ...(opts.input !== undefined && { input: opts.input }), timeoutMs: (opts.timeoutSeconds ?? 60) * 1000 }));
  }

  /** What the agent knows: OS and network interfaces (with addresses). */
  async guestInfo(name: string): Promise<{ agent: boolean; os?: unknown; interfaces?: unknown[]; ips: string[] }> {
    const rec = await this.mustGet(name);
    if (rec.state !== 'running') return { agent: false, ips: [] };
    const agent = this.agentFor(rec);
    if (!(await this.agentPresent(rec)) || !(await agent.ping(3000))) return { agent: false, ips: [] };
    const [os, interfaces] = await Promise.all([agentCall(() => agent.osInfo()), agentCall(() => agent.interfaces())]);
    const ips = interfaces
      .filter((i) => i.name !== 'lo')
      .flatMap((i) => i.addresses)
      .filter((a) => !a.ip.startsWith('fe80:') && !a.ip.startsWith('127.'))
      .map((a) => a.ip);
    return { agent: true, os, interfaces, ips };
  }

  private async writeSeed(rec: VmRecord, isoPath: string): Promise<void> {
    const { format, ...input } = rec.spec.cloudInit!;
    // The instance id is the VM's id: stable, so cloud-init runs its once-only steps once.
    const ci = { instanceId: `hangar-${rec.id}`, ...input };
    if (format === 'configdrive') await buildSeedIso(renderConfigDrive(ci), 'config-2', isoPath);
    else await buildSeedIso({ ...renderNoCloud(ci) }, 'cidata', isoPath);
  }

  /** Forwards must not collide with another VM's, nor with a port something on the host holds. */
  private async checkForwards(forwards: PortForward[], vm: string): Promise<PortForward[]> {
    const seen = new Set<string>();
    for (const f of forwards) {
      const key = `${f.protocol}:${f.hostAddress}:${f.hostPort}`;
      if (seen.has(key)) throw new HangarError('PORT_IN_USE', `Forward ${key} is given twice.`);
      seen.add(key);
    }
    for (const other of await this.deps.store.listVms()) {
      if (other.name === vm) continue;
      for (const f of other.spec.nics.flatMap((n) => n.forwards)) {
        if (seen.has(`${f.protocol}:${f.hostAddress}:${f.hostPort}`) || (f.protocol === 'tcp' && seen.has(`tcp:0.0.0.0:${f.hostPort}`))) {
          throw new HangarError('PORT_IN_USE', `Host port ${f.protocol} ${f.hostAddress}:${f.hostPort} is already forwarded to VM "${other.name}": pick another port.`);
        }
      }
    }
    await this.checkPortsFree(forwards, vm);
    return forwards;
  }

  private async checkPortsFree(forwards: PortForward[], vm: string): Promise<void> {
    for (const f of forwards) {
      if (f.protocol !== 'tcp') continue;
      const free = await new Promise<boolean>((resolve) => {
        const srv = createServer();
        srv.once('error', () => resolve(false));
        srv.listen(f.hostPort, f.hostAddress, () => srv.close(() => resolve(true)));
      });
      if (!free) throw new HangarError('PORT_IN_USE', `Host port ${f.hostAddress}:${f.hostPort} (forward of VM "${vm}") is in use on this host: pick another, or stop what holds it.`);
    }
  }

  // ---- policies ------------------------------------------------------------

  /** After a crash (or, with `always`, a guest power-off): restart with backoff, or give up at the cap. */
  private async applyRestartPolicy(name: string, outcome: ExitOutcome): Promise<void> {
    if (this.stopping) return;
    const rec = await this.deps.store.getVm(name);
    if (!rec) return;
    const decision = decideRestart(rec.spec.restart ?? DEFAULT_RESTART_POLICY, outcome, rec.restartHistory ?? [], new Date());
    if (decision.action === 'none') return;
    if (decision.action === 'give-up') {
      await this.updateRecord(name, (r) => ({ ...r, stateReason: `${r.stateReason ? `${r.stateReason}. ` : ''}Restart policy gave up: ${decision.reason}` }));
      await this.deps.events.publish('vm.restart-given-up', name, { reason: decision.reason });
      return;
    }
    await this.deps.events.publish('vm.restart-scheduled', name, { delayMs: decision.delayMs, attempt: decision.attempt, after: outcome });
    this.cancelRestart(name);
    const timer = setTimeout(() => {
      this.restartTimers.delete(name);
      void this.exclusive(name, 'auto-restart', async (r) => {
        if (r.state !== 'crashed' && r.state !== 'stopped') return;
        r = await this.updateRecord(name, (x) => ({ ...x, restartHistory: [...(x.restartHistory ?? []), new Date().toISOString()].slice(-100) }));
        await this.startLocked(r);
        await this.deps.events.publish('vm.restarted', name, { attempt: decision.attempt });
      }).catch(async (e: unknown) => {
        await this.deps.events.publish('vm.restart-failed', name, { attempt: decision.attempt, error: errorText(e) }).catch(() => undefined);
      });
    }, decision.delayMs);
    timer.unref();
    this.restartTimers.set(name, timer);
  }

  private cancelRestart(name: string): void {
    const timer = this.restartTimers.get(name);
    if (timer) clearTimeout(timer);
    this.restartTimers.delete(name);
  }

  /**
   * At daemon start: start every autostart VM that is not running and that no user
   * stopped, in order, waiting each one's delay before the next.
   */
  async autostart(): Promise<void> {
    const entries = (await this.deps.store.listVms())
      .filter((r) => r.spec.autostart && (r.state === 'stopped' || r.state === 'crashed') && !r.stoppedByUser)
      .map((r) => ({ name: r.name, order: r.spec.autostart!.order, delaySeconds: r.spec.autostart!.delaySeconds }));
    for (const e of autostartSequence(entries)) {
      if (this.stopping) return;
      try {
        await this.start(e.name);
        await this.deps.events.publish('vm.autostarted', e.name, { order: e.order });
      } catch (err) {
        await this.deps.events.publish('vm.autostart-failed', e.name, { error: errorText(err) });
      }
      if (e.delaySeconds > 0) await sleep(e.delaySeconds * 1000);
    }
  }

  /** Runs `fn` holding the VM's operation lock (a concurrent operation gets VM_BUSY). */
  async operate<T>(name: string, op: string, fn: (vm: VmHandle) => Promise<T>): Promise<T> {
    return this.exclusive(name, op, async () => fn(this.handle(name)));
  }

  private handle(name: string): VmHandle {
    return {
        record: () => this.mustGet(name),
        qmp: async () => this.qmpOf(await this.mustGet(name)),
        forceStop: async () => this.forceStopLocked(await this.mustGet(name)),
        start: async (hooks) => this.startLocked(await this.mustGet(name), hooks),
        syncRunState: async () => {
          const rec = await this.mustGet(name);
          const status = await this.qmpOf(rec).execute<{ running: boolean }>('query-status');
          const state: VmState = status.running ? 'running' : 'paused';
          return rec.state === state ? rec : this.setState(name, state);
        },
        setState: async (state, reason) => this.setState(name, state, { stateReason: reason }),
        quitSaved: async () => {
          const lv = this.mustLive(await this.mustGet(name));
          lv.endState = 'saved';
          lv.userStop = true;
          await this.terminate(lv);
          return this.mustGet(name);
        },
        quitMigrated: async (to) => {
          const lv = this.mustLive(await this.mustGet(name));
          await this.updateRecord(name, (r) => ({ ...r, migratedTo: to }));
          lv.endState = 'migrated';
          lv.userStop = true;
          await this.terminate(lv);
          return this.mustGet(name);
        },
        update: async (fn) => this.updateRecord(name, fn),
      };
  }

  // ---- disks ---------------------------------------------------------------

  /** Attaches a volume; hot-plugged (blockdev-add + device_add) into a running guest. */
  async attachVolume(name: string, pool: string, volume: string, opts: { readOnly?: boolean } = {}): Promise<VmView> {
    return this.exclusive(name, 'attach', async (rec) => {
      const vol = await this.deps.storage.getVolume(pool, volume);
      if (vol.attachedTo !== undefined) {
        throw new HangarError('VOLUME_IN_USE', `Volume "${volume}" is attached to VM "${vol.attachedTo}": detach it there first.`);
      }
      const used = new Set(rec.spec.disks.map((d) => d.id));
      let n = 0;
      while (used.has(`disk${n}`)) n++;
      const disk = diskOf(`disk${n}`, vol);
      disk.readOnly = opts.readOnly ?? false;
      if (rec.state === 'running' || rec.state === 'paused') {
        await this.hotplugDisk(rec, disk);
      } else {
        assertOperationAllowed(name, rec.state, 'start');
      }
      await this.deps.storage.markAttached(pool, volume, name);
      rec = await this.updateRecord(name, (r) => ({ ...r, spec: { ...r.spec, disks: [...r.spec.disks, disk] } }));
      await this.deps.events.publish('vm.disk-attached', name, { device: disk.id, pool, volume, live: isActive(rec.state) });
      return toView(rec);
    });
  }

  /** Detaches a volume; from a running guest it waits for the guest to release the device. */
  async detachVolume(name: string, pool: string, volume: string): Promise<VmView> {
    return this.exclusive(name, 'detach', async (rec) => {
      const disk = rec.spec.disks.find((d) => d.volume?.pool === pool && d.volume.name === volume);
      if (!disk) throw new HangarError('VOLUME_NOT_FOUND', `Volume "${volume}" is not attached to VM "${name}".`);
      const live = rec.state === 'running' || rec.state === 'paused';
      if (live) {
        if (disk.bootIndex !== undefined && rec.spec.boot.kind === 'disk') {
          throw new HangarError('VM_STATE', `"${volume}" is the boot disk of running VM "${name}": stop the VM to detach it.`);
        }
        await this.unplugDisk(rec, disk);
      } else if (isActive(rec.state)) {
        assertOperationAllowed(name, rec.state, 'start');
      }
      rec = await this.updateRecord(name, (r) => {
        const next: VmRecord = { ...r, spec: { ...r.spec, disks: r.spec.disks.filter((d) => d.id !== disk.id) } };
        if (next.runtime?.hotplug) {
          const hotplug = Object.fromEntries(Object.entries(next.runtime.hotplug).filter(([, dev]) => dev !== disk.id));
          next.runtime = { ...next.runtime, hotplug };
        }
        return next;
      });
      await this.deps.storage.markAttached(pool, volume, undefined);
      if (this.deps.guestUsers && !disk.readOnly) await takeBack(disk.path);
      await this.deps.events.publish('vm.disk-detached', name, { device: disk.id, pool, volume, live });
      return toView(rec);
    });
  }

  /** Grows a volume; if a running guest uses it, live with block_resize so the guest sees it. */
  async resizeVolume(pool: string, volume: string, size: string | number): Promise<VolumeRecord> {
    const vol = await this.deps.storage.getVolume(pool, volume);
    const vmName = vol.attachedTo;
    if (vmName === undefined) return this.deps.storage.resizeVolume(pool, volume, size);
    return this.exclusive(vmName, 'resize', async (rec) => {
      const disk = rec.spec.disks.find((d) => d.volume?.pool === pool && d.volume.name === volume);
      const live = disk !== undefined && (rec.state === 'running' || rec.state === 'paused');
      if (!live) return this.deps.storage.resizeVolume(pool, volume, size);
      const checked = await this.deps.storage.resizeVolume(pool, volume, size, { live: true, dryRun: true });
      await this.qmpOf(rec).execute('block_resize', { 'node-name': disk.id, size: checked.sizeBytes });
      return this.deps.storage.resizeVolume(pool, volume, size, { live: true });
    });
  }

  private async hotplugDisk(rec: VmRecord, disk: DiskSpec): Promise<void> {
    const qmp = this.qmpOf(rec);
    const port = this.freeHotplugPort(rec, 'disks');
    const fileNode = `file-${disk.id}`;
    const identity = await this.guestIdentity(rec);
    if (identity) await this.handOverDisk(disk, identity);
    await qmp.execute('blockdev-add', {
      driver: disk.format, 'node-name': disk.id, 'read-only': disk.readOnly,
      file: { driver: 'file', 'node-name': fileNode, filename: disk.path, 'read-only': disk.readOnly },
    });
    try {
      const iothread = hotplugIothread(rec.runtime?.placement, disk, rec.spec.disks.length);
      await qmp.execute('device_add', { driver: 'virtio-blk-pci', id: disk.id, drive: disk.id, ...(port && { bus: port }), ...(iothread && { iothread }) });
    } catch (e) {
      await qmp.execute('blockdev-del', { 'node-name': disk.id }).catch(() => undefined);
      throw e;
    }
    if (port !== undefined) await this.claimHotplugPort(rec.name, port, disk.id);
  }

  /**
   * Where a hot-plugged PCI device goes: a free PCIe root port on q35, the root bus on pc
   * (undefined), never on a microvm.
   */
  private freeHotplugPort(rec: VmRecord, what: string): string | undefined {
    if (rec.spec.machine === 'microvm') {
      throw new HangarError('VM_STATE', `A microvm cannot hot-plug ${what}: stop "${rec.name}" and add them then.`);
    }
    if (rec.spec.machine !== 'q35') return undefined;
    const taken = new Set(Object.keys(rec.runtime?.hotplug ?? {}));
    const port = Array.from({ length: HOTPLUG_PORTS }, (_, i) => hotplugPortId(i)).find((p) => !taken.has(p));
    if (!port) throw new HangarError('VM_STATE', `VM "${rec.name}" has no free hot-plug slot (${HOTPLUG_PORTS} per run): stop it to add more ${what}.`);
    return port;
  }

  private async claimHotplugPort(name: string, port: string, deviceId: string | undefined): Promise<void> {
    await this.updateRecord(name, (r) => {
      if (!r.runtime) return r;
      const hotplug = { ...r.runtime.hotplug };
      if (deviceId === undefined) delete hotplug[port];
      else hotplug[port] = deviceId;
      return { ...r, runtime: { ...r.runtime, hotplug } };
    });
  }

  // ---- NICs ----------------------------------------------------------------

  /** Adds a NIC on a managed network; hot-plugged (tap, netdev_add, device_add) into a running guest. */
  async attachNic(name: string, network: string): Promise<VmView> {
    return this.exclusive(name, 'nic-add', async (rec) => {
      const nets = this.deps.networks;
      if (!nets) throw new HangarError('INVALID_SPEC', 'This daemon has no managed networks.');
      await nets.get(network);
      const used = new Set(rec.spec.nics.map((n) => n.id));
      let i = 0;
      while (used.has(`net${i}`)) i++;
      const id = `net${i}`;
      const taken = (await this.deps.store.listVms()).flatMap((v) => v.spec.nics.map((n) => n.mac));
      const nic: NicSpec = { id, kind: 'network', network, mac: macAddress(`${rec.id}/${id}`, taken), tap: nets.tapFor(rec.id, id), forwards: [] };
      const live = rec.state === 'running' || rec.state === 'paused';
      if (live) {
        const qmp = this.qmpOf(rec);
        const port = this.freeHotplugPort(rec, 'NICs');
        await this.createGuestTap(rec, network, nic.tap!);
        try {
          await qmp.execute('netdev_add', { type: 'tap', id, ifname: nic.tap, script: 'no', downscript: 'no' });
          try {
            await qmp.execute('device_add', { driver: 'virtio-net-pci', id, netdev: id, mac: nic.mac, ...(port && { bus: port }) });
          } catch (e) {
            await qmp.execute('netdev_del', { id }).catch(() => undefined);
            throw e;
          }
        } catch (e) {
          await nets.deleteTap(nic.tap!).catch(() => undefined);
          throw e;
        }
        if (port !== undefined) await this.claimHotplugPort(name, port, id);
      } else if (isActive(rec.state)) {
        assertOperationAllowed(name, rec.state, 'start');
      }
      const next = await this.updateRecord(name, (r) => ({ ...r, spec: { ...r.spec, nics: [...r.spec.nics, nic] } }));
      await this.deps.events.publish('vm.nic-added', name, { nic: id, network, mac: nic.mac, live });
      return toView(next);
    });
  }

  /** Removes a NIC; from a running guest it waits for the guest to let go, then removes the tap. */
  async detachNic(name: string, nicId: string): Promise<VmView> {
    return this.exclusive(name, 'nic-remove', async (rec) => {
      const nic = rec.spec.nics.find((n) => n.id === nicId);
      if (!nic) throw new HangarError('INVALID_SPEC', `VM "${name}" has no NIC "${nicId}": see \`hangar vm show ${name}\`.`);
      const live = rec.state === 'running' || rec.state === 'paused';
      if (live) {
        const qmp = this.qmpOf(rec);
        await deleteDevice(qmp, nic.id, `NIC ${nic.id}`, DEVICE_DEL_TIMEOUT_MS);
        await qmp.execute('netdev_del', { id: nic.id });
        if (nic.tap) await this.deps.networks?.deleteTap(nic.tap);
        const port = Object.entries(rec.runtime?.hotplug ?? {}).find(([, dev]) => dev === nic.id)?.[0];
        if (port) await this.claimHotplugPort(name, port, undefined);
      } else if (isActive(rec.state)) {
        assertOperationAllowed(name, rec.state, 'start');
      }
      const next = await this.updateRecord(name, (r) => ({ ...r, spec: { ...r.spec, nics: r.spec.nics.filter((n) => n.id !== nicId) } }));
      await this.deps.events.publish('vm.nic-removed', name, { nic: nicId, live });
      return toView(next);
    });
  }

  private async unplugDisk(rec: VmRecord, disk: DiskSpec): Promise<void> {
    const qmp = this.qmpOf(rec);
    await deleteDevice(qmp, disk.id, `disk ${disk.id}`, DEVICE_DEL_TIMEOUT_MS);
    await qmp.execute('blockdev-del', { 'node-name': disk.id });
  }

  // ---- live resources ------------------------------------------------------

  /** Changes resources: live where the running guest allows, otherwise for the next start. */
  async set(name: string, settings: VmSettings): Promise<{ vm: VmView; changes: SettingResult[] }> {
    return this.exclusive(name, 'set', async (rec) => {
      const spec: VmSpec = structuredClone(rec.spec);
      // Placement (and resource changes that would break a NUMA topology) is checked before anything applies.
      const preview = await previewSettings(rec.spec, settings, this.deps.placement);
      const changes: SettingResult[] = [];
      const live = rec.runtime?.live && (rec.state === 'running' || rec.state === 'paused') ? { ...rec.runtime.live } : undefined;
      const qmp = live ? this.qmpOf(rec) : undefined;
      const later = (key: string, value: unknown, note?: string) => changes.push({ key, value, applied: 'next-start', ...(note && { note }) });
      if (this.deps.projects && (settings.cpus !== undefined || settings.memory !== undefined)) {
        const moreCpus = settings.cpus !== undefined ? Math.max(0, validateCpus(settings.cpus) - rec.spec.cpus) : 0;
        const moreMiB = settings.memory !== undefined ? Math.max(0, parseMemoryMiB(settings.memory) - rec.spec.memoryMiB) : 0;
        await this.deps.projects.check(rec.spec.project ?? DEFAULT_PROJECT, { vms: 0, cpus: moreCpus, memoryMiB: moreMiB, diskBytes: 0 });
      }
      const now = (key: string, value: unknown, note?: string) => changes.push({ key, value, applied: 'live', ...(note && { note }) });

      if (settings.maxCpus !== undefined) {
        spec.maxCpus = validateCpus(settings.maxCpus);
        later('maxCpus', spec.maxCpus, 'hot-plug ceilings apply from the next start');
      }
      if (settings.maxMemory !== undefined) {
        spec.maxMemoryMiB = parseMemoryMiB(settings.maxMemory);
        later('maxMemory', spec.maxMemoryMiB, 'hot-plug ceilings apply from the next start');
      }
      if (settings.memory !== undefined) {
        const mib = parseMemoryMiB(settings.memory);
        this.checkFitsHost(name, spec.cpus, mib);
        if (live && mib > live.memoryMiB) await this.checkCapacityToGrow(rec, 0, mib - live.memoryMiB);
        spec.memoryMiB = mib;
        if ((spec.maxMemoryMiB ?? 0) < mib) spec.maxMemoryMiB = mib;
        const fitsLive = live && (mib <= live.pluggedMiB || mib <= live.maxMemoryMiB);
        if (live && qmp && fitsLive) {
          // DIMMs come from the same backend as the running guest's RAM (hugepages or not).
          const running = { hugepages: rec.runtime?.placement ? (rec.runtime.placement.hugepages ?? undefined) : rec.spec.hugepages };
          const dimm = { backend: memoryBackendProps(running), alignMiB: dimmAlignMiB(running) };
          const grow = dimmGrowthMiB(live, mib, dimm.alignMiB);
          if (running.hugepages && grow > 0) await checkHugepages(name, grow, running.hugepages.sizeKiB, this.deps.placement?.roots);
          Object.assign(live, await setGuestMemory(qmp, live, mib, rec.spec.balloon, rec.runtime?.accel ?? 'tcg', dimm));
          now('memory', mib, mib > rec.spec.memoryMiB ? 'hot-plugged' : 'balloon');
        } else {
          later('memory', mib, live ? `above this run's maximum of ${live.maxMemoryMiB} MiB (set max-memory, then restart)` : undefined);
        }
      }
      // vCPUs after memory: QEMU 7.2 under TCG was seen to crash on a DIMM plugged right after a vCPU unplug.
      if (settings.cpus !== undefined) {
        const cpus = validateCpus(settings.cpus);
        this.checkFitsHost(name, cpus, spec.memoryMiB);
        if (live && cpus > rec.spec.cpus) await this.checkCapacityToGrow(rec, cpus - (live.cpus), 0);
        spec.cpus = cpus;
        if ((spec.maxCpus ?? 0) < cpus) spec.maxCpus = cpus;
        if (live && qmp && cpus <= live.maxCpus) {
          const before = live.cpus;
          live.cpus = await setGuestCpus(qmp, cpus);
          if (live.cpus < before) live.cpuUnplugged = true;
          if (live.cpus === cpus) now('cpus', cpus);
          else later('cpus', cpus, `the guest has ${live.cpus}: boot vCPUs cannot be unplugged`);
        } else {
          later('cpus', cpus, live ? `above this run's maximum of ${live.maxCpus} (set max-cpus, then restart)` : undefined);
        }
      }
      // Pins apply live (taskset); a vCPU hot-plug gets them re-applied to its new thread.
      let threads = rec.runtime?.threads;
      if (live && qmp && (settings.pin !== undefined || settings.cpus !== undefined)) {
        if (settings.pin !== undefined) {
          if (preview.pin) spec.pin = preview.pin;
          else delete spec.pin;
        }
        threads = await queryThreads(qmp, (rec.runtime?.placement?.iothreads ?? 0) > 0);
        if (spec.pin || settings.pin !== undefined) {
          await applyPinning(rec.runtime!.pid, threads, spec.pin, await onlineCpus(this.deps.placement?.roots), {
            ...(this.deps.placement?.setter && { setter: this.deps.placement.setter }), ...(this.deps.placement?.roots?.proc && { procRoot: this.deps.placement.roots.proc }),
          });
        }
        if (settings.pin !== undefined) now('pin', placementView({ ...rec, spec })?.pin ?? null, 'taskset');
      } else if (settings.pin !== undefined) {
        if (preview.pin) spec.pin = preview.pin;
        else delete spec.pin;
        later('pin', placementView({ ...rec, spec })?.pin ?? null);
      }
      for (const key of ['hugepages', 'numa', 'iothreads', 'hostdevs'] as const) {
        if (settings[key] === undefined) continue;
        if (preview[key] === undefined) delete spec[key];
        else Object.assign(spec, { [key]: preview[key] });
        later(key, preview[key] ?? null, live ? 'at the next start' : undefined);
      }
      if (settings.cpuLimit !== undefined) {
        const pct = parseCpuLimit(settings.cpuLimit);
        if (pct === undefined) delete spec.cpuLimitPercent;
        else spec.cpuLimitPercent = pct;
        await this.applyCpuControl(rec, live !== undefined, 'cpuLimit', pct, now, later);
      }
      if (settings.cpuWeight !== undefined) {
        const w = settings.cpuWeight === null ? undefined : validateWeight(settings.cpuWeight);
        if (w === undefined) delete spec.cpuWeight;
        else spec.cpuWeight = w;
        await this.applyCpuControl(rec, live !== undefined, 'cpuWeight', w, now, later);
      }
      for (const [key, limits] of Object.entries(settings.disks ?? {})) {
        const disk = spec.disks.find((d) => d.id === key || d.volume?.name === key);
        if (!disk) throw new HangarError('INVALID_SPEC', `VM "${name}" has no disk "${key}": use a device id (disk0) or a volume name.`);
        if (limits.iothread !== undefined) {
          const chosen = preview.disks.find((d) => d.id === disk.id)?.iothread;
          if (chosen === undefined) delete disk.iothread;
          else disk.iothread = chosen;
          later(`disk.${key}.iothread`, chosen ?? null, chosen === undefined ? 'assigned round-robin' : undefined);
        }
        if (limits.iops === undefined && limits.bps === undefined) continue;
        if (limits.iops !== undefined) setLimit(disk, 'iops', limits.iops === null ? 0 : validateCount(limits.iops, 'iops'));
        if (limits.bps !== undefined) setLimit(disk, 'bps', limits.bps === null || limits.bps === 0 ? 0 : parseSizeBytes(limits.bps, 'bps'));
        if (live && qmp) {
          await setDiskThrottle(qmp, disk.id, { iops: disk.iops ?? 0, bps: disk.bps ?? 0 }, spec.machine === 'microvm' ? 'mmio' : 'pci');
          now(`disk.${key}`, { iops: disk.iops ?? 0, bps: disk.bps ?? 0 });
        } else {
          later(`disk.${key}`, { iops: disk.iops ?? 0, bps: disk.bps ?? 0 });
        }
      }
      for (const key of applyPolicyFields(spec, settings)) {
        changes.push({ key, value: key === 'autostart' ? (spec.autostart ?? false) : spec.restart, applied: 'live', note: 'policy' });
      }
      const next = await this.updateRecord(name, (r) => {
        const n: VmRecord = { ...r, spec };
        if (live && n.runtime) n.runtime = { ...n.runtime, live, ...(threads && { threads }) };
        return n;
      });
      await this.deps.events.publish('vm.settings', name, { changes });
      return { vm: toView(next), changes };
    });
  }

  private async applyCpuControl(
    rec: VmRecord, running: boolean, key: 'cpuLimit' | 'cpuWeight', value: number | undefined,
    now: (k: string, v: unknown, note?: string) => void, later: (k: string, v: unknown, note?: string) => void,
  ): Promise<void> {
    const cg = this.deps.cgroups;
    if (!running) return later(key, value ?? null);
    if (!cg) return later(key, value ?? null, 'this host has no cpu cgroup controller: stored, not enforced');
    if (key === 'cpuLimit') await cg.setCpuLimit(rec.id, value);
    else await cg.setCpuWeight(rec.id, value);
    now(key, value ?? null, `cgroup v${cg.version}`);
  }

  private async checkCapacityToGrow(rec: VmRecord, moreCpus: number, moreMiB: number): Promise<void> {
    await this.checkCapacityToStart({ ...rec, spec: { ...rec.spec, cpus: rec.spec.cpus + moreCpus, memoryMiB: rec.spec.memoryMiB + moreMiB } });
  }

  // ---- daemon start / stop  // ---- daemon start / stop -------------------------------------------------

  /**
   * Re-adopts every guest the store says is active. A guest that cannot be adopted
   * is never killed: it is marked `unknown` with the reason.
   */
  async adoptAll(): Promise<void> {
    // Each adoption waits mostly on one guest's QMP socket: several at a time.
    const queue = (await this.deps.store.listVms()).filter((r) => isActive(r.state));
    const worker = async () => {
      for (let rec = queue.shift(); rec; rec = queue.shift()) {
        try {
          await this.adopt(rec);
        } catch (e) {
          this.log(`adopting ${rec.name} failed: ${errorText(e)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: ADOPT_CONCURRENCY }, worker));
  }

  /** Lets go of every guest without touching it (the daemon is shutting down). */
  async detachAll(): Promise<void> {
    for (const timer of this.restartTimers.values()) clearTimeout(timer);
    this.restartTimers.clear();
    this.stopping = true;
    for (const lv of this.live.values()) {
      lv.detaching = true;
      await lv.qmp?.close();
    }
    this.live.clear();
  }

  // ---- internals: guest users ----------------------------------------------

  /** The uid/gid this VM's QEMU runs as; allocated (once, kept in the record) on first use. */
  private async guestIdentity(rec: VmRecord): Promise<GuestIdentity | undefined> {
    const users = this.deps.guestUsers;
    if (!users) return undefined;
    let uid = rec.guestUid;
    if (uid === undefined) {
      uid = await this.uidAllocation.run('uids', async () => {
        const current = await this.deps.store.getVm(rec.name);
        if (current?.guestUid !== undefined) return current.guestUid;
        const taken = (await this.deps.store.listVms()).flatMap((v) => (v.guestUid === undefined ? [] : [v.guestUid]));
        const fresh = allocateGuestUid(taken, users.uidBase);
        await this.updateRecord(rec.name, (r) => ({ ...r, guestUid: fresh }));
        return fresh;
      });
    }
    return { uid, gid: users.gid ?? uid };
  }

  /**
   * Gives a guest's QEMU what it opens itself, and nothing else: its sockets directory, its
   * serial log, its seed image and writable disks become its own (0700/0600); kernel, initrd
   * and the base images of linked clones become readable by all guests; the directories on
   * the way become passable (o+x, never listable).
   */
  private async handOverGuestFiles(rec: VmRecord, paths: VmPaths, id: GuestIdentity, accel: 'kvm' | 'tcg'): Promise<void> {
    if (accel === 'kvm') {
      const kvm = await stat('/dev/kvm').catch(() => undefined);
      if (kvm && !groupCanUse(kvm, id)) {
        throw new HangarError('KVM_NO_ACCESS', `VM "${rec.name}" would run as uid ${id.uid}, gid ${id.gid}, which cannot open /dev/kvm (owner ${kvm.uid}:${kvm.gid}, mode ${(kvm.mode & 0o777).toString(8)}). Give /dev/kvm to a \`kvm\` group (Debian's udev does: chgrp kvm /dev/kvm; chmod 660 /dev/kvm) and restart the daemon, or run the daemon with --no-guest-users.`);
      }
    }
    const runDir = dirname(paths.qmpSocket);
    const logDir = dirname(paths.serialLog);
    const { boot } = rec.spec;
    // Independent files: handed over side by side (a start waits for all of them).
    await Promise.all([
      ...[runDir, logDir].map(async (dir) => {
        await allowPathTo(dir);
        await handOver(dir, id, 0o700);
      }),
      existsSync(paths.serialLog) ? handOver(paths.serialLog, id, 0o600) : undefined,
      rec.spec.cloudInit && paths.seedIso ? handOver(paths.seedIso, id, 0o600) : undefined,
      boot.kind === 'kernel' ? shareReadOnly(boot.kernel) : undefined,
      boot.kind === 'kernel' && boot.initrd ? shareReadOnly(boot.initrd) : undefined,
      ...rec.spec.disks.map((disk) => this.handOverDisk(disk, id)),
    ]);
  }

  /**
   * Creates a NIC's tap (at start and for a hot-plugged NIC), owned by the guest's user so
   * its unprivileged QEMU can attach. That QEMU opens /dev/net/tun: Debian's udev makes it
   * 0666, which is safe (attaching to an existing tap needs its owner or CAP_NET_ADMIN);
   * where a host left it root-only, that mode is restored.
   */
  private async createGuestTap(rec: VmRecord, network: string, tap: string): Promise<void> {
    const id = await this.guestIdentity(rec);
    if (id) {
      const tun = await stat('/dev/net/tun').catch(() => undefined);
      if (tun && !groupCanUse(tun, id)) {
        await chmod('/dev/net/tun', 0o666);
        this.log(`/dev/net/tun was mode ${(tun.mode & 0o777).toString(8)}: set to 0666 (the udev default) so guests' QEMU can open their taps`);
      }
    }
    await this.deps.networks!.createTap(network, tap, id ?? {});
  }

  private async handOverDisk(disk: DiskSpec, id: GuestIdentity): Promise<void> {
    if (disk.readOnly) {
      // Possibly shared with other guests: readable by all, owned by none of them.
      await shareReadOnly(disk.path);
    } else {
      await allowPathTo(disk.path);
      await handOver(disk.path, id, 0o600);
    }
    if (disk.volume) {
      const vol = await this.deps.storage.getVolume(disk.volume.pool, disk.volume.name).catch(() => undefined);
      if (vol?.backing) await shareReadOnly(vol.backing.path);
    }
  }

  // ---- internals: operations -----------------------------------------------

  private async startLocked(rec: VmRecord, opts: StartHooks = {}): Promise<VmRecord> {
    assertOperationAllowed(rec.name, rec.state, 'start');
    await this.checkCapacityToStart(rec);
    const others = (await this.deps.store.listVms()).filter((v) => v.id !== rec.id && isActive(v.state));
    await checkBeforeStart(rec, others, this.deps.placement);
    const paths = this.pathsOf(rec);
    const accel = resolveAccel(rec.spec.accel ?? this.deps.defaultAccel, this.deps.caps);
    // Restoring: the same guest-visible hardware as the saved guest; QEMU then waits for `migrate-incoming`.
    const argv = buildQemuArgv(rec.spec, this.deps.caps, paths, { defaultAccel: this.deps.defaultAccel, ...(opts.incoming ? { incoming: 'defer' as const } : {}) });
    if (rec.spec.boot.kind === 'kernel') this.checkBootFiles(rec);

    const runDir = join(this.deps.runDir, 'vms', rec.id);
    await mkdir(runDir, { recursive: true, mode: 0o700 });
    await mkdir(join(this.deps.logDir, rec.id), { recursive: true, mode: 0o700 });
    await Promise.all([paths.qmpSocket, paths.serialSocket, paths.vncSocket, paths.spiceSocket!, paths.pidFile, paths.qgaSocket!].map((p) => rm(p, { force: true })));

    for (const nic of rec.spec.nics) await this.checkPortsFree(nic.forwards, rec.name);
    const identity = await this.guestIdentity(rec);
    for (const nic of rec.spec.nics) {
      if (nic.kind === 'network') {
        if (!this.deps.networks) throw new HangarError('INVALID_SPEC', `NIC ${nic.id} is on network "${nic.network}", but this daemon has no managed networks.`);
        await this.createGuestTap(rec, nic.network!, nic.tap!);
      }
    }
    if (rec.spec.cloudInit) await this.writeSeed(rec, paths.seedIso!);
    if (identity) await this.handOverGuestFiles(rec, paths, identity, accel);
    rec = await this.setState(rec.name, 'starting', { stateReason: undefined });
    const launched = launchQemu(this.qemuBinary, argv, paths.qemuLog, identity);
    const runtime: VmRuntime = {
      pid: launched.pid, pidStartTime: launched.pidStartTime, qmpSocket: paths.qmpSocket, serialSocket: paths.serialSocket,
      startedAt: new Date().toISOString(), accel,
    };
    if (rec.spec.vnc) runtime.vncSocket = paths.vncSocket;
    rec = await this.updateRecord(rec.name, (r) => ({ ...r, runtime }));
    const lv = this.track(rec, paths, runtime);
    lv.starting = true;
    if (opts.incoming && opts.incomingFailState !== 'stopped') lv.endState = 'saved';
    lv.exited = launched.exited;
    void launched.exited.then((exit) => this.onQemuGone(lv, exit));

    let live: LiveResources;
    try {
      const qmp = await raceExit(
        QmpClient.connect(paths.qmpSocket, { retryUntilMs: QMP_CONNECT_TIMEOUT_MS, retryIntervalMs: 2 }),
        launched.exited,
      );
      this.attachQmp(lv, qmp);
      live = await this.applyStartResources(rec, launched.pid, qmp);
      runtime.threads = await placeThreads(rec.spec, launched.pid, qmp, this.deps.placement);
      runtime.placement = placementOf(rec.spec);
      if (opts.beforeCont) await opts.beforeCont(qmp);
      delete lv.endState;
      if (opts.stayPaused) {
        lv.starting = false;
        return this.setState(rec.name, 'paused', { runtime: { ...runtime, live } });
      }
      await qmp.execute('cont');
      lv.starting = false;
    } catch (e) {
      const tail = await readLogTail(paths.qemuLog, 2048);
      lv.failReason ??= `QEMU failed to start: ${errorText(e)}${tail ? `\n${tail.trim()}` : ''}`;
      lv.exitRequested = true;
      await this.terminate(lv);
      await lv.gone;
      throw new HangarError('QEMU_FAILED', `VM "${rec.name}" did not start: ${errorText(e)}. QEMU said: ${tail.trim().split('\n').slice(-3).join(' | ') || '(nothing)'}. See \`hangar vm logs ${rec.name} --qemu\`.`);
    }
    return this.setState(rec.name, 'running', { runtime: { ...runtime, live } });
  }

  /**
   * cgroup placement and limits, disk throttles: before the guest runs its first instruction.
   * Returns what the guest has, recorded together with the `running` state (one store write).
   */
  private async applyStartResources(rec: VmRecord, pid: number, qmp: QmpClient): Promise<LiveResources> {
    const { spec } = rec;
    const cg = this.deps.cgroups;
    if (cg) {
      const limited = spec.cpuLimitPercent !== undefined || spec.cpuWeight !== undefined;
      const place = async () => {
        // A fresh group has the defaults: only limits that are set need writing.
        if (spec.cpuLimitPercent !== undefined) await cg.setCpuLimit(rec.id, spec.cpuLimitPercent);
        if (spec.cpuWeight !== undefined) await cg.setCpuWeight(rec.id, spec.cpuWeight);
        await cg.place(rec.id, pid);
      };
      if (limited) {
        await place();
      } else {
        // Moving a process between cgroups waits for an RCU grace period (~11 ms here). With no
        // limit to enforce yet, that need not delay the guest: the move happens alongside.
        void place().catch((e: unknown) => this.log(`${rec.name}: cgroup placement failed (${errorText(e)}); it runs unconfined until a limit is set`));
      }
    }
    for (const d of spec.disks) {
      if (d.iops || d.bps) await setDiskThrottle(qmp, d.id, { iops: d.iops ?? 0, bps: d.bps ?? 0 }, spec.machine === 'microvm' ? 'mmio' : 'pci');
    }
    return {
      cpus: spec.cpus, maxCpus: spec.maxCpus ?? spec.cpus, memoryMiB: spec.memoryMiB, pluggedMiB: spec.memoryMiB,
      maxMemoryMiB: spec.maxMemoryMiB ?? spec.memoryMiB, dimms: 0,
    };
  }

  private async stopLocked(rec: VmRecord, opts: StopOptions): Promise<VmRecord> {
    if (opts.force) {
      assertOperationAllowed(rec.name, rec.state, 'force-stop');
      return this.forceStopLocked(rec);
    }
    assertOperationAllowed(rec.name, rec.state, 'stop');
    const lv = this.mustLive(rec);
    const timeoutMs = (opts.timeoutSeconds ?? 60) * 1000;
    const wasPaused = rec.state === 'paused';
    rec = await this.setState(rec.name, 'stopping');
    lv.exitRequested = true;
    lv.userStop = true;
    try {
      const qmp = this.qmpOf(rec);
      await qmp.execute('system_powerdown');
      // A paused guest cannot see the ACPI button until its vCPUs run again.
      if (wasPaused) await qmp.execute('cont');
    } catch (e) {
      this.log(`${rec.name}: ACPI powerdown failed (${errorText(e)}); forcing`);
    }
    // ACPI first; a guest that ignores it gets asked through its agent after a third of the timeout.
    let exited = await Promise.race([lv.gone.then(() => true), sleep(timeoutMs / 3).then(() => false)]);
    if (!exited) {
      const agent = this.agentFor(rec);
      if ((await this.agentPresent(rec)) && (await agent.ping(2000))) {
        await this.deps.events.publish('vm.stop-via-agent', rec.name, { after: 'ACPI was ignored' });
        await agent.shutdown('powerdown').catch(() => undefined);
      }
      exited = await Promise.race([lv.gone.then(() => true), sleep((2 * timeoutMs) / 3).then(() => false)]);
    }
    if (!exited) {
      await this.deps.events.publish('vm.stop-timeout', rec.name, { timeoutSeconds: timeoutMs / 1000, action: 'forced stop' });
      await this.terminate(lv);
    }
    await lv.gone;
    return this.mustGet(rec.name);
  }

  private async forceStopLocked(rec: VmRecord): Promise<VmRecord> {
    const lv = this.live.get(rec.id);
    if (lv) lv.userStop = true;
    if (!lv) {
      // Nothing is watching a process for it (e.g. adoption failed): act only on a verified pid.
      if (rec.runtime && isSameLiveProcess(rec.runtime.pid, rec.runtime.pidStartTime)) {
        signalProcess(rec.runtime.pid, rec.runtime.pidStartTime, 'SIGKILL');
        await waitForProcessExit(rec.runtime.pid, rec.runtime.pidStartTime, 5000);
      }
      return this.finishStopped(rec.name, { code: null, signal: 'SIGKILL' }, 'stopped');
    }
    lv.exitRequested = true;
    await this.terminate(lv);
    await lv.gone;
    return this.mustGet(rec.name);
  }

  /** Ends QEMU now: `quit` over QMP, then SIGKILL if it lingers. Returns once it is gone. */
  private async terminate(lv: LiveVm): Promise<void> {
    lv.exitRequested = true;
    if (lv.qmp && !lv.qmp.closed) {
      lv.qmp.execute('quit', undefined, { timeoutMs: FORCE_QUIT_GRACE_MS }).catch(() => undefined);
    } else {
      signalProcess(lv.pid, lv.pidStartTime, 'SIGKILL');
    }
    if (!(await waitForProcessExit(lv.pid, lv.pidStartTime, FORCE_QUIT_GRACE_MS, 2))) {
      signalProcess(lv.pid, lv.pidStartTime, 'SIGKILL');
      await waitForProcessExit(lv.pid, lv.pidStartTime, 5000, 2);
    }
    if (lv.exited) {
      // Our own child: its exit event carries the status; it comes right after the process is reaped.
      await Promise.race([lv.exited, sleep(1000)]);
    }
    // An adopted process is not our child: nothing else will tell us it has gone.
    void this.onQemuGone(lv, undefined);
    await lv.gone;
  }

  // ---- internals: QEMU processes -----------------------------------------

  private track(rec: VmRecord, paths: VmPaths, runtime: VmRuntime): LiveVm {
    let markGone!: () => void;
    const gone = new Promise<void>((r) => (markGone = r));
    const lv: LiveVm = {
      id: rec.id, name: rec.name, pid: runtime.pid, pidStartTime: runtime.pidStartTime, paths,
      exitRequested: false, gone, markGone, finished: false, detaching: false, starting: false,
    };
    this.live.set(rec.id, lv);
    return lv;
  }

  private attachQmp(lv: LiveVm, qmp: QmpClient): void {
    lv.qmp = qmp;
    qmp.onEvent((e) => this.onQmpEvent(lv, e));
    qmp.onClose(() => {
      // Our own child's exit event records the end, with its exit status.
      if (lv.detaching || lv.finished || lv.exited) return;
      // For our own child the exit handler records the end; for an adopted process this is the signal.
      void waitForProcessExit(lv.pid, lv.pidStartTime, 15_000).then((exited) => {
        if (exited) return this.onQemuGone(lv, undefined);
        return this.markUnknown(lv, 'the QMP connection closed but QEMU is still running');
      });
    });
  }

  private onQmpEvent(lv: LiveVm, e: QmpEvent): void {
    if (e.event === 'SHUTDOWN') {
      lv.shutdownReason = typeof e.data?.reason === 'string' ? e.data.reason : 'unknown';
      if (e.data?.guest === true) lv.exitRequested = true;
      return;
    }
    // Reflect pauses and resumes that did not come from us (guest I/O errors, another QMP user).
    if ((e.event === 'STOP' || e.event === 'RESUME') && !this.busy.has(lv.name)) {
      const next: VmState = e.event === 'STOP' ? 'paused' : 'running';
      void this.updateRecord(lv.name, (r) => (r.state === 'running' || r.state === 'paused' ? { ...r, state: next } : r))
        .then((r) => (r.state === next ? this.deps.events.publish('vm.state', lv.name, { state: next, cause: 'qemu' }) : undefined))
        .catch(() => undefined);
    }
  }

  /** Records the end of a QEMU process exactly once. */
  private async onQemuGone(lv: LiveVm, exit: ExitInfo | undefined): Promise<void> {
    if (lv.finished || lv.detaching) return;
    lv.finished = true;
    this.live.delete(lv.id);
    try {
      await lv.qmp?.close();
      const status = exit ?? { code: null, signal: null };
      if (lv.starting && !lv.failReason) {
        const tail = await readLogTail(lv.paths.qemuLog, 2048);
        lv.failReason = `QEMU failed to start (${describeExit(exit)})${tail.trim() ? `: ${tail.trim()}` : ''}`;
      }
      let outcome: ExitOutcome | undefined;
      if (lv.failReason) {
        await this.finishStopped(lv.name, status, lv.endState ?? 'stopped', lv.failReason);
      } else if (lv.exitRequested || lv.shutdownReason !== undefined) {
        await this.finishStopped(lv.name, status, lv.endState ?? 'stopped');
        outcome = lv.userStop ? 'requested-stop' : 'guest-shutdown';
      } else {
        const tail = await readLogTail(lv.paths.qemuLog, 2048);
        await this.finishStopped(lv.name, status, 'crashed', `QEMU ended unexpectedly (${describeExit(exit)})${tail.trim() ? `: ${tail.trim().split('\n').slice(-5).join(' | ')}` : ''}`);
        outcome = 'crashed';
      }
      if (outcome && outcome !== 'requested-stop') void this.applyRestartPolicy(lv.name, outcome);
    } catch (e) {
      this.log(`${lv.name}: recording the end of QEMU failed: ${errorText(e)}`);
    } finally {
      lv.markGone();
    }
    void this.agents.get(lv.id)?.close();
    this.agents.delete(lv.id);
    const taps = (await this.deps.store.getVm(lv.name))?.spec.nics.filter((n) => n.kind === 'network' && n.tap).map((n) => n.tap!) ?? [];
    for (const tap of taps) await this.deps.networks?.deleteTap(tap).catch((e: unknown) => this.log(`${lv.name}: removing tap ${tap} failed: ${errorText(e)}`));
    // Tidying after the caller has its answer: QEMU removes most of these itself.
    await Promise.all([
      this.deps.cgroups?.remove(lv.id),
      rm(lv.paths.qmpSocket, { force: true }), rm(lv.paths.serialSocket, { force: true }), rm(lv.paths.vncSocket, { force: true }),
      rm(lv.paths.spiceSocket!, { force: true }),
    ]).catch(() => undefined);
  }

  private async finishStopped(name: string, exit: ExitInfo, state: 'stopped' | 'crashed' | 'saved' | 'migrated', reason?: string): Promise<VmRecord> {
    const lastExit = { code: exit.code, signal: exit.signal, at: new Date().toISOString() };
    const rec = await this.updateRecord(name, (r) => {
      const next: VmRecord = { ...r, state, lastExit };
      delete next.runtime;
      if (reason === undefined) delete next.stateReason;
      else next.stateReason = reason;
      return next;
    });
    const data: Record<string, unknown> = { state, exitCode: exit.code, signal: exit.signal };
    if (reason !== undefined) data.reason = reason;
    await this.deps.events.publish(state === 'crashed' ? 'vm.crashed' : 'vm.state', name, data);
    return rec;
  }

  private async adopt(rec: VmRecord): Promise<void> {
    const paths = this.pathsOf(rec);
    let runtime = rec.runtime;
    if (!runtime) {
      // The daemon died between spawning QEMU and recording it: QEMU's own pidfile tells.
      runtime = this.runtimeFromPidfile(rec, paths);
      if (!runtime) {
        await this.finishStopped(rec.name, { code: null, signal: null }, 'stopped', 'the daemon stopped before QEMU was started');
        return;
      }
      rec = await this.updateRecord(rec.name, (r) => ({ ...r, runtime }));
    }
    if (!isSameLiveProcess(runtime.pid, runtime.pidStartTime)) {
      const was = rec.state;
      if (was === 'stopping') await this.finishStopped(rec.name, { code: null, signal: null }, 'stopped');
      else await this.finishStopped(rec.name, { code: null, signal: null }, 'crashed', 'QEMU ended while the daemon was not running (exit status unknown)');
      return;
    }
    const lv = this.track(rec, paths, runtime);
    let qmp: QmpClient;
    try {
      qmp = await QmpClient.connect(runtime.qmpSocket, { retryUntilMs: 3000, retryIntervalMs: 20 });
    } catch (e) {
      this.live.delete(rec.id);
      await this.markUnknown(lv, `could not connect to its QMP socket (${errorText(e)}); the guest was left running as pid ${runtime.pid}`);
      return;
    }
    this.attachQmp(lv, qmp);
    const status = await qmp.execute<{ status: string; running: boolean }>('query-status');
    let state: VmState;
    if (status.status === 'prelaunch' && rec.state === 'starting') {
      // The daemon died in the middle of a start: finish it, as the user asked.
      await qmp.execute('cont');
      state = 'running';
    } else if (status.status === 'shutdown') {
      lv.exitRequested = true;
      state = 'stopping';
    } else {
      state = status.running ? 'running' : 'paused';
      if (rec.state === 'stopping') lv.exitRequested = true;
    }
    await this.updateRecord(rec.name, (r) => {
      const next: VmRecord = { ...r, state };
      delete next.stateReason;
      return next;
    });
    await this.deps.events.publish('vm.adopted', rec.name, { pid: runtime.pid, state, qemuStatus: status.status });
  }

  private runtimeFromPidfile(rec: VmRecord, paths: VmPaths): VmRuntime | undefined {
    let pid: number;
    try {
      pid = Number(readFileSync(paths.pidFile, 'utf8').trim());
    } catch {
      return undefined;
    }
    const cmd = readCmdline(pid);
    if (!Number.isInteger(pid) || !cmd?.some((a) => a.includes(paths.qmpSocket))) return undefined;
    const startTime = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const pidStartTime = startTime.slice(startTime.lastIndexOf(')') + 2).split(' ')[19] ?? '';
    return {
      pid, pidStartTime, qmpSocket: paths.qmpSocket, serialSocket: paths.serialSocket,
      startedAt: new Date().toISOString(), accel: resolveAccel(rec.spec.accel ?? this.deps.defaultAccel, this.deps.caps),
    };
  }

  private async markUnknown(lv: LiveVm, reason: string): Promise<void> {
    await this.updateRecord(lv.name, (r) => ({ ...r, state: 'unknown', stateReason: reason }));
    await this.deps.events.publish('vm.adopt-failed', lv.name, { pid: lv.pid, reason });
  }

  // ---- internals: helpers --------------------------------------------------

  /** Runs one mutating operation on a VM; a second one at the same time gets VM_BUSY. */
  private async exclusive<T>(name: string, op: string, fn: (rec: VmRecord) => Promise<T>): Promise<T> {
    const current = this.busy.get(name);
    if (current !== undefined) {
      throw new HangarError('VM_BUSY', `VM "${name}" is busy with "${current}": wait for it to finish, then try again.`, { details: { operation: current } });
    }
    this.busy.set(name, op);
    try {
      const rec = await this.mustGet(name);
      assertSavedVmAllows(name, rec.state, op);
      return await fn(rec);
    } finally {
      this.busy.delete(name);
    }
  }

  private async mustGet(name: string): Promise<VmRecord> {
    const rec = await this.deps.store.getVm(name);
    if (!rec) throw new HangarError('VM_NOT_FOUND', `There is no VM named "${name}": see \`hangar vm list\`.`);
    return rec;
  }

  private mustLive(rec: VmRecord): LiveVm {
    const lv = this.live.get(rec.id);
    if (!lv) {
      throw new HangarError('VM_STATE', `VM "${rec.name}" has no QEMU process the daemon controls (${rec.stateReason ?? rec.state}): use stop --force.`);
    }
    return lv;
  }

  private qmpOf(rec: VmRecord): QmpClient {
    const qmp = this.mustLive(rec).qmp;
    if (!qmp || qmp.closed) throw new HangarError('VM_STATE', `VM "${rec.name}" has no monitor connection right now: try again, or stop --force.`);
    return qmp;
  }

  private updateRecord(name: string, fn: (r: VmRecord) => VmRecord): Promise<VmRecord> {
    return this.recordLock.run(name, async () => this.deps.store.updateVm(fn(await this.mustGet(name))));
  }

  private async setState(name: string, state: VmState, extra: Partial<VmRecord> = {}): Promise<VmRecord> {
    const rec = await this.updateRecord(name, (r) => {
      const next = { ...r, ...extra, state };
      if ('stateReason' in extra && extra.stateReason === undefined) delete next.stateReason;
      return next;
    });
    const data: Record<string, unknown> = { state };
    if (rec.runtime && isActive(state)) data.pid = rec.runtime.pid;
    await this.deps.events.publish('vm.state', name, data);
    return rec;
  }

  private checkFitsHost(name: string, cpus: number, memoryMiB: number): void {
    const { host } = this.deps;
    const capacity = hostCapacity(host);
    if (memoryMiB > capacity.memoryMiB) {
      throw new HangarError('HOST_CAPACITY', `VM "${name}" asks for ${formatMiB(memoryMiB)} of memory but guests may have ${formatMiB(capacity.memoryMiB)} on this host (${formatMiB(host.memoryMiB)} less ${formatMiB(host.reservedMemoryMiB)} reserved, × overcommit ${host.memoryOvercommit}): ask for less.`, {
        details: { requestedMiB: memoryMiB, hostMiB: host.memoryMiB, reservedMiB: host.reservedMemoryMiB, limitMiB: capacity.memoryMiB },
      });
    }
    if (cpus > host.cpus * host.cpuOvercommit) {
      throw new HangarError('HOST_CAPACITY', `VM "${name}" asks for ${cpus} vCPUs but this host allows ${host.cpus * host.cpuOvercommit} (${host.cpus} CPUs × overcommit ${host.cpuOvercommit}).`, {
        details: { requested: cpus, hostCpus: host.cpus, overcommit: host.cpuOvercommit },
      });
    }
  }

  private async checkCapacityToStart(rec: VmRecord): Promise<void> {
    const { host } = this.deps;
    const active = (await this.deps.store.listVms()).filter((v) => v.id !== rec.id && isActive(v.state));
    const memUsed = active.reduce((s, v) => s + v.spec.memoryMiB, 0);
    const cpuUsed = active.reduce((s, v) => s + v.spec.cpus, 0);
    const { memoryMiB: memLimit, cpus: cpuLimit } = hostCapacity(host);
    if (memUsed + rec.spec.memoryMiB > memLimit) {
      throw new HangarError('HOST_CAPACITY', `Starting "${rec.name}" needs ${formatMiB(rec.spec.memoryMiB)} but only ${formatMiB(Math.max(0, memLimit - memUsed))} of ${formatMiB(memLimit)} is free: stop another VM or give this one less memory.`, {
        details: { requestedMiB: rec.spec.memoryMiB, allocatedMiB: memUsed, limitMiB: memLimit },
      });
    }
    if (cpuUsed + rec.spec.cpus > cpuLimit) {
      throw new HangarError('HOST_CAPACITY', `Starting "${rec.name}" needs ${rec.spec.cpus} vCPUs but ${cpuUsed} of ${cpuLimit} are allocated: stop another VM or give this one fewer CPUs.`, {
        details: { requested: rec.spec.cpus, allocated: cpuUsed, limit: cpuLimit },
      });
    }
  }

  private checkBootFiles(rec: VmRecord): void {
    if (rec.spec.boot.kind !== 'kernel') return;
    for (const f of [rec.spec.boot.kernel, rec.spec.boot.initrd]) {
      if (f === undefined) continue;
      try {
        accessSync(f, constants.R_OK);
      } catch {
        throw new HangarError('IMAGE_NOT_FOUND', `VM "${rec.name}" boots from ${f}, which is missing: rebuild its image (\`hangar image build ${rec.spec.image ?? 'tiny'}\`).`);
      }
    }
  }

  /** One NIC per managed network, with a stable MAC and tap name derived from the VM id. */
  private async networkNics(vmId: string, networks: string[], forwards: string[] | undefined): Promise<NicSpec[]> {
    const nets = this.deps.networks;
    if (!nets) throw new HangarError('INVALID_SPEC', 'This daemon has no managed networks.');
    if (forwards?.length) throw new HangarError('INVALID_SPEC', 'Port forwards are for the user-mode NIC; a VM on managed networks is reached at its address there.', { details: { field: 'forwards' } });
    const taken = (await this.deps.store.listVms()).flatMap((v) => v.spec.nics.map((n) => n.mac));
    const nics: NicSpec[] = [];
    for (const [i, network] of networks.entries()) {
      await nets.get(network);
      const id = `net${i}`;
      const mac = macAddress(`${vmId}/${id}`, [...taken, ...nics.map((n) => n.mac)]);
      nics.push({ id, kind: 'network', network, mac, tap: nets.tapFor(vmId, id), forwards: [] });
    }
    return nics;
  }

  /** What a project's VMs are given: the numbers its quotas count. */
  async projectUsage(project: string): Promise<Usage> {
    const vms = (await this.deps.store.listVms()).filter((v) => (v.spec.project ?? DEFAULT_PROJECT) === project);
    const names = new Set(vms.map((v) => v.name));
    const volumes = (await this.deps.storage.listVolumes()).filter((v) => v.attachedTo !== undefined && names.has(v.attachedTo));
    return {
      vms: vms.length, cpus: vms.reduce((n, v) => n + v.spec.cpus, 0), memoryMiB: vms.reduce((n, v) => n + v.spec.memoryMiB, 0),
      diskBytes: volumes.reduce((n, v) => n + v.sizeBytes, 0),
    };
  }

  /** The VMs with a NIC on `network`. */
  async usersOfNetwork(network: string): Promise<string[]> {
    return (await this.deps.store.listVms()).filter((v) => v.spec.nics.some((n) => n.network === network)).map((v) => v.name);
  }

  private async newUserNic(): Promise<NicSpec> {
    const used = new Set((await this.deps.store.listVms()).flatMap((v) => v.spec.nics.map((n) => n.mac)));
    for (;;) {
      const b = randomBytes(3);
      const mac = `52:54:00:${[...b].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
      if (!used.has(mac)) return { id: 'net0', kind: 'user', mac, forwards: [] };
    }
  }
}

function applyResourceFields(spec: VmSpec, input: CreateVmInput): void {
  if (input.maxCpus !== undefined) {
    spec.maxCpus = validateCpus(input.maxCpus);
    if (spec.maxCpus < spec.cpus) throw new HangarError('INVALID_SPEC', `max-cpus (${spec.maxCpus}) must be at least cpus (${spec.cpus}).`, { details: { field: 'maxCpus' } });
  }
  if (input.maxMemory !== undefined) {
    spec.maxMemoryMiB = parseMemoryMiB(input.maxMemory);
    if (spec.maxMemoryMiB < spec.memoryMiB) throw new HangarError('INVALID_SPEC', `max-memory (${spec.maxMemoryMiB} MiB) must be at least memory (${spec.memoryMiB} MiB).`, { details: { field: 'maxMemory' } });
    if (spec.machine === 'microvm' && spec.maxMemoryMiB > spec.memoryMiB) throw new HangarError('INVALID_SPEC', 'A microvm cannot hot-plug memory: leave max-memory unset.', { details: { field: 'maxMemory' } });
  }
  const limit = input.cpuLimit === undefined ? undefined : parseCpuLimit(input.cpuLimit);
  if (limit !== undefined) spec.cpuLimitPercent = limit;
  if (input.cpuWeight !== undefined) spec.cpuWeight = validateWeight(input.cpuWeight);
  applyPolicyFields(spec, input);
}

/** autostart / restart settings, shared by create and set. */
function applyPolicyFields(spec: VmSpec, input: Pick<VmSettings, 'autostart' | 'autostartOrder' | 'autostartDelay' | 'restart' | 'restartMax' | 'restartWindow'>): string[] {
  const changed: string[] = [];
  if (input.autostart === false) {
    delete spec.autostart;
    changed.push('autostart');
  } else if (input.autostart || input.autostartOrder !== undefined || input.autostartDelay !== undefined) {
    spec.autostart = {
      order: input.autostartOrder !== undefined ? validateCount(input.autostartOrder, 'autostart.order') : (spec.autostart?.order ?? 0),
      delaySeconds: input.autostartDelay !== undefined ? validateCount(input.autostartDelay, 'autostart.delay') : (spec.autostart?.delaySeconds ?? 0),
    };
    changed.push('autostart');
  }
  if (input.restart !== undefined || input.restartMax !== undefined || input.restartWindow !== undefined) {
    const cur = spec.restart ?? DEFAULT_RESTART_POLICY;
    if (input.restart !== undefined && !['no', 'on-failure', 'always'].includes(input.restart)) {
      throw new HangarError('INVALID_SPEC', `restart must be no, on-failure or always, not "${String(input.restart)}".`, { details: { field: 'restart' } });
    }
    spec.restart = {
      mode: input.restart ?? cur.mode,
      maxRestarts: input.restartMax !== undefined ? validateCount(input.restartMax, 'restart.max') : cur.maxRestarts,
      windowSeconds: input.restartWindow !== undefined ? Math.max(1, validateCount(input.restartWindow, 'restart.window')) : cur.windowSeconds,
    };
    changed.push('restart');
  }
  return changed;
}

/** "150%", "150" or 150 → 150 (percent of one host CPU); null/"none" → undefined. */
export function parseCpuLimit(value: number | string | null): number | undefined {
  if (value === null || value === 'none' || value === 'max') return undefined;
  const n = typeof value === 'number' ? value : /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(value)?.[1];
  const pct = Number(n);
  if (n === undefined || !Number.isFinite(pct) || pct < 1 || pct > 100 * 1024) {
    throw new HangarError('INVALID_SPEC', `cpu.limit "${String(value)}" is not a limit: use a percentage of one host CPU such as 50% or 150%, or none.`, { details: { field: 'cpuLimit' } });
  }
  return Math.round(pct);
}

function validateWeight(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 10000) {
    throw new HangarError('INVALID_SPEC', `cpu.weight must be a whole number from 1 to 10000 (100 is the default share), not ${JSON.stringify(value)}.`, { details: { field: 'cpuWeight' } });
  }
  return value;
}

function validateCount(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 10_000_000) {
    throw new HangarError('INVALID_SPEC', `${field} must be a whole number from 0 (no limit) to 10000000, not ${JSON.stringify(value)}.`, { details: { field } });
  }
  return value;
}

function setLimit(disk: DiskSpec, key: 'iops' | 'bps', value: number): void {
  if (value === 0) delete disk[key];
  else disk[key] = value;
}

function diskOf(id: string, vol: VolumeRecord, bootIndex?: number): DiskSpec {
  const d: DiskSpec = { id, path: vol.path, format: vol.format, readOnly: false, volume: { pool: vol.pool, name: vol.name } };
  if (bootIndex !== undefined) d.bootIndex = bootIndex;
  return d;
}

/** Guests re-adopted at the same time when the daemon starts. */
const ADOPT_CONCURRENCY = 8;

/** The next time a recorded restart leaves its VM's restart window (Infinity if none will). */
function restartWindowChange(records: VmRecord[]): number {
  let next = Infinity;
  const now = Date.now();
  for (const r of records) {
    const windowMs = (r.spec.restart ?? DEFAULT_RESTART_POLICY).windowSeconds * 1000;
    for (const t of r.restartHistory ?? []) {
      const leaves = Date.parse(t) + windowMs;
      if (leaves > now && leaves < next) next = leaves;
    }
  }
  return next;
}

function toView(r: VmRecord): VmView {
  const v: VmView = {
    id: r.id, name: r.name, state: r.state, cpus: r.spec.cpus, memory: r.spec.memoryMiB, memoryText: formatMiB(r.spec.memoryMiB),
    machine: r.spec.machine, vnc: r.spec.vnc, spice: r.spec.spice === true, createdAt: r.createdAt, updatedAt: r.updatedAt,
    maxCpus: r.spec.maxCpus ?? r.spec.cpus, maxMemory: r.spec.maxMemoryMiB ?? r.spec.memoryMiB,
    restart: r.spec.restart ?? DEFAULT_RESTART_POLICY,
    forwards: r.spec.nics.flatMap((n) => n.forwards.map(formatForward)),
    project: r.spec.project ?? DEFAULT_PROJECT,
    nics: r.spec.nics.map((n) => ({ id: n.id, kind: n.kind, mac: n.mac, ...(n.network && { network: n.network }) })),
    restartsInWindow: (r.restartHistory ?? []).filter((t) => Date.parse(t) >= Date.now() - (r.spec.restart ?? DEFAULT_RESTART_POLICY).windowSeconds * 1000).length,
    disks: r.spec.disks.map((d, i) => {
      const iothread = r.runtime?.placement && isActive(r.state) ? hotplugIothread(r.runtime.placement, d, i) : diskIothread(r.spec, d, i);
      return {
        id: d.id, path: d.path, format: d.format, readOnly: d.readOnly, boot: d.bootIndex !== undefined && r.spec.boot.kind === 'disk',
        ...(d.volume && { pool: d.volume.pool, volume: d.volume.name }), ...(d.iops && { iops: d.iops }), ...(d.bps && { bps: d.bps }), ...(iothread && { iothread }),
      };
    }),
  };
  const placement = placementView(r);
  if (placement) v.placement = placement;
  if (r.migration) v.migration = { id: r.migration.id, role: r.migration.role, peer: r.migration.peer, startedAt: r.migration.startedAt };
  if (r.migratedTo) v.migratedTo = r.migratedTo;
  if (r.spec.autostart) v.autostart = r.spec.autostart;
  if (r.spec.cloudInit) {
    const c = r.spec.cloudInit;
    v.cloudInit = {
      format: c.format, ...(c.hostname && { hostname: c.hostname }), ...(c.user && { user: c.user }), sshKeys: c.sshKeys?.length ?? 0,
      password: c.passwordHash !== undefined, userData: c.userData !== undefined, networkConfig: c.networkConfig !== undefined,
    };
  }
  if (r.spec.cpuLimitPercent !== undefined) v.cpuLimit = r.spec.cpuLimitPercent;
  if (r.spec.cpuWeight !== undefined) v.cpuWeight = r.spec.cpuWeight;
  const live = r.runtime?.live;
  if (live && isActive(r.state)) {
    const pending: string[] = [];
    if (live.cpus !== r.spec.cpus) pending.push('cpus');
    if (live.memoryMiB !== r.spec.memoryMiB) pending.push('memory');
    if (live.maxCpus !== (r.spec.maxCpus ?? r.spec.cpus)) pending.push('maxCpus');
    if (live.maxMemoryMiB !== (r.spec.maxMemoryMiB ?? r.spec.memoryMiB)) pending.push('maxMemory');
    pending.push(...pendingPlacement(r.spec, r.runtime?.placement));
    if (pending.length) v.pending = pending;
    if (live.cpus !== r.spec.cpus || live.memoryMiB !== r.spec.memoryMiB) v.live = { cpus: live.cpus, memory: live.memoryMiB };
  }
  if (r.stateReason !== undefined) v.stateReason = r.stateReason;
  if (r.runtime) {
    v.pid = r.runtime.pid;
    v.startedAt = r.runtime.startedAt;
    v.accel = r.runtime.accel;
  } else if (r.spec.accel) {
    v.accel = r.spec.accel;
  }
  if (r.spec.image !== undefined) v.image = r.spec.image;
  if (r.lastExit) v.lastExit = r.lastExit;
  return v;
}

/** `tcp:127.0.0.1:2222:22`, `tcp:2222:22` (loopback) or `udp:0.0.0.0:5353:53`. */
export function parseForward(text: string): PortForward {
  const parts = text.split(':');
  const [proto, ...rest] = parts;
  const bad = () => new HangarError('INVALID_SPEC', `Port forward "${text}" is not protocol:[address:]hostPort:guestPort, e.g. tcp:127.0.0.1:2222:22.`, { details: { field: 'forwards' } });
  if ((proto !== 'tcp' && proto !== 'udp') || (rest.length !== 2 && rest.length !== 3)) throw bad();
  const [address, hostPort, guestPort] = rest.length === 3 ? rest : ['127.0.0.1', ...rest];
  const port = (p: string | undefined) => {
    const n = Number(p);
    if (!p || !/^\d+$/.test(p) || n < 1 || n > 65535) throw bad();
    return n;
  };
  if (!/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(address ?? '')) throw bad();
  return { protocol: proto, hostAddress: address!, hostPort: port(hostPort), guestPort: port(guestPort) };
}

function formatForward(f: PortForward): string {
  return `${f.protocol}:${f.hostAddress}:${f.hostPort}:${f.guestPort}`;
}

/** Guest agent errors become catalogue errors. */
async function agentCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isGuestAgentError(e)) {
      const code = e.code === 'AGENT_ERROR' ? 'AGENT_ERROR' : e.code === 'TIMEOUT' ? 'TIMEOUT' : 'AGENT_UNAVAILABLE';
      const hint = code === 'AGENT_UNAVAILABLE' ? ' Is qemu-guest-agent installed and running in the guest?' : '';
      throw new HangarError(code, `${e.message}${hint}`, { cause: e });
    }
    throw e;
  }
}

function describeExit(exit: ExitInfo | undefined): string {
  if (exit === undefined) return 'exit status unknown (adopted process)';
  return exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
}

function resolveAccel(accel: Accel, caps: HostCaps): 'kvm' | 'tcg' {
  return accel === 'auto' ? caps.defaultAccel : accel;
}

/** Rejects as soon as QEMU exits, so a failed start does not wait for the QMP timeout. */
async function raceExit<T>(p: Promise<T>, exited: Promise<ExitInfo>): Promise<T> {
  const early = exited.then((e): never => {
    throw new Error(`QEMU exited during start (${e.signal ? `signal ${e.signal}` : `exit code ${e.code}`})`);
  });
  const result = await Promise.race([p, early]);
  early.catch(() => undefined);
  return result;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

export type { VmOperation };
