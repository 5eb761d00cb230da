/**
 * VmService: the lifecycle of virtual machines, as one facade. It enforces one mutating
 * operation per VM (VM_BUSY), answers queries, creates and deletes VMs, and hands the rest
 * to modules by concern: QEMU processes (supervisor.ts, adoption.ts), disks and NICs
 * (devices.ts), live settings (settings-plan.ts, settings-apply.ts), the guest agent
 * (agent.ts), restart and autostart (policies.ts), views (view.ts). Every record change goes
 * through records.ts, which holds state changes to the state machine's table.
 */
import { groupForCreate, placedFor } from '../cluster/groups.js';
import { randomBytes, randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { errorText, HangarError } from '../errors/errors.js';
import type { VolumeRecord } from '../storage/service.js';
import { DEFAULT_PROJECT, type Usage } from '../projects/service.js';
import { parseSizeBytes } from '../util/size.js';
import type { GuestAgent } from '../qga/index.js';
import { QEMU_BINARY } from '../qemu/argv.js';
import type { QmpClient } from '../qmp/index.js';
import type { VmRecord } from '../store/store.js';
import type { VmPaths, VmSpec } from '../model/spec.js';
import { readWarmMemory } from '../resources/smaps.js';
import { assertOperationAllowed, assertSavedVmAllows, isActive, type VmOperation, type VmState } from '../model/states.js';
import { validateVmName } from '../model/validate.js';
import { applyPlacementInput, checkBeforeStart, placementViewLive } from './placement-ops.js';
import { adopt, adoptAll } from './adoption.js';
import { applyResourceFields, checkCreateInput, cloudInitOf, type CreateVmInput } from './create-input.js';
import { applyDiskHardware, applyHardwareInput } from './hw-create.js';
import { osProfile, withOsProfile } from './os-profiles.js';
import { VmHardwareRuntime } from './virtiofs.js';
import { GuestAgents } from './agent.js';
import { applyCreateBootOrder, cdromsForCreate, changeMedia, checkBootOnce, type MediaChange } from './media.js';
import { checkCapacityToStart, checkFitsHost } from './capacity.js';
import { diskOf, VmDevices } from './devices.js';
import { createNvram, firmwareSpecFor, releaseNvram, resetNvram } from './firmware.js';
import { checkForwards, parseForward } from './forwards.js';
import { GuestFiles } from './guest-files.js';
import { VmPolicies } from './policies.js';
import { VmRecords } from './records.js';
import { applySettings } from './settings-apply.js';
import type { SettingResult, VmSettings } from './settings-plan.js';
import { QemuSupervisor, vmPaths, type StartHooks, type StopOptions, type SupervisorDeps } from './supervisor.js';
import { VmTpm } from './tpm.js';
import { toView, VmListCache, type VmView } from './view.js';
import { VmCloner, type CloneResult, type CloneVmInput } from './clone.js';
import { applyIdentityFields, applyIdentitySettings, type IdentitySettings } from './identity.js';
import { checkHaStorage } from './ha-check.js';
import type { VmProfileState } from '../model/profile-settings.js';
import { recordOwn } from './profile-own.js';
import { DiskAccess } from './disk-access.js';
import { applyMemoryBacking } from './memory-file.js';
import type { SavedStateHooks, VmHandle, VmServiceDeps } from './service-types.js';

export { hostCapacity, type HostInfo } from './capacity.js';
export type { CreateVmInput } from './create-input.js';
export type { CloneResult, CloneVmInput } from './clone.js';
export type { IdentitySettings } from './identity.js';
export { parseForward } from './forwards.js';
export type { GuestUsers } from './guest-files.js';
export { parseCpuLimit, type SettingResult, type VmSettings } from './settings-plan.js';
export type { StartHooks, StopOptions } from './supervisor.js';
export type { VmView } from './view.js';
export type { VmOperation };
export type { SavedStateHooks, VmHandle, VmServiceDeps } from './service-types.js';

export class VmService {
  /** The operation each busy VM is in (by name). */
  private readonly busy = new Map<string, string>();
  /** VMs between their capacity check and the end of their start (counted as running by the check). */
  private readonly starting = new Map<string, VmRecord>();
  /** VMs being re-adopted after a daemon restart (by name): settled when that VM's adoption has ended. */
  private readonly adoptions = new Map<string, Promise<void>>();
  private adoptionGeneration = 0;
  private readonly log: (msg: string) => void;
  private readonly records: VmRecords;
  private readonly listCache: VmListCache;
  private readonly guestFiles: GuestFiles;
  private readonly agents: GuestAgents;
  private readonly supervisor: QemuSupervisor;
  private readonly devices: VmDevices;
  private readonly policies: VmPolicies;
  private readonly cloner: VmCloner;
  private readonly tpm?: VmTpm;
  private savedState?: SavedStateHooks;
  private readonly supervisorDeps: SupervisorDeps;
  private readonly diskAccess: DiskAccess;

  constructor(private readonly deps: VmServiceDeps) {
    const { store, events } = deps;
    this.log = deps.log ?? (() => {});
    const log = this.log;
    // This node's VMs (host resources, policies); the API lists every node's.
    const listVms = async () => (await store.listVms()).filter((r) => this.isLocal(r));
    const paths = (rec: Pick<VmRecord, 'id'>) => vmPaths(deps.runDir, deps.logDir, rec);
    this.records = new VmRecords(store, events, log, () => deps.node?.());
    this.listCache = new VmListCache(store, { generation: () => this.adoptionGeneration, isAdopting: (name) => this.adoptions.has(name) });
    this.guestFiles = new GuestFiles({ records: this.records, listVms, storage: deps.storage, ...(deps.networks && { networks: deps.networks }), ...(deps.guestUsers && { guestUsers: deps.guestUsers }), log });
    if (deps.tpm) this.tpm = new VmTpm({ ...(deps.tpm.swtpmBinary !== undefined && { binary: deps.tpm.swtpmBinary }), stateRoot: deps.tpm.stateRoot, runDir: deps.runDir, log });
    this.agents = new GuestAgents({ socketOf: (rec) => paths(rec).qgaSocket!, monitor: (id) => this.supervisor.monitor(id) });
    this.policies = new VmPolicies({
      records: this.records, listVms, events,
      exclusive: (name, op, fn) => this.exclusive(name, op, fn),
      startLocked: (rec) => this.startLocked(rec),
      start: (name) => this.start(name),
    });
    this.supervisor = new QemuSupervisor(this.supervisorDeps = {
      records: this.records, events, paths, caps: deps.caps, defaultAccel: deps.defaultAccel, imageLocking: deps.imageLocking ?? true, qemuBinary: deps.qemuBinary ?? QEMU_BINARY,
      ...(deps.cgroups && { cgroups: deps.cgroups }), ...(deps.networks && { networks: deps.networks }), ...(deps.placement && { placement: deps.placement }),
      guestFiles: this.guestFiles, agents: this.agents, ...(this.tpm && { tpm: this.tpm }), ...(deps.logs && { logs: deps.logs }),
      hw: new VmHardwareRuntime({ shareRoots: deps.shareRoots ?? [], roMountDir: join(deps.runDir, 'virtiofs-ro'), log }),
      disks: this.diskAccess = new DiskAccess({ pool: (n) => deps.storage.poolRecord(n), owners: () => deps.diskOwners?.(), node: () => deps.node?.(), record: (n) => this.records.find(n), log }),
      isBusy: (name) => this.busy.has(name), ...(deps.memoryRoot !== undefined && { memoryRoot: deps.memoryRoot }),
      onUnrequestedExit: (name, outcome) => {
        void this.policies.afterExit(name, outcome).catch((e: unknown) => log(`${name}: applying the restart policy failed: ${errorText(e)}`));
      },
      log,
    });
    this.devices = new VmDevices({
      records: this.records, listVms, storage: deps.storage, ...(deps.networks && { networks: deps.networks }), events,
      qmpOf: (rec) => this.supervisor.qmpOf(rec), guestFiles: this.guestFiles,
    });
    this.cloner = new VmCloner({
      store, records: this.records, storage: deps.storage, ...(deps.networks && { networks: deps.networks }), ...(deps.projects && { projects: deps.projects }),
      events, host: deps.host, qmpOf: (rec) => this.supervisor.qmpOf(rec), paths,
      handOverFile: async (rec, path) => {
        const id = await this.guestFiles.identity(rec);
        if (id) await this.guestFiles.handOverDisk({ id: 'new', path, format: 'qcow2', readOnly: false }, id);
      },
    });
  }

  /** Gives a file Hangar made (a backup's fleecing overlay) to the VM's QEMU user, as a disk of its own. */
  async handOverFile(rec: VmRecord, path: string): Promise<void> {
    const id = await this.guestFiles.identity(rec);
    if (id) await this.guestFiles.handOverDisk({ id: 'new', path, format: 'qcow2', readOnly: false }, id);
  }

  /** The daemon can give VMs a TPM (it runs swtpm): an import keeps a libvirt domain's TPM. */
  tpmAvailable(): boolean {
    try {
      return this.tpm?.specFor(true, 'q35') !== undefined;
    } catch {
      return false;
    }
  }

  /** Installed by the save service: `start` restores a saved VM, `delete` removes its save. */
  useSavedState(hooks: SavedStateHooks): void {
    this.savedState = hooks;
  }

  // ---- queries -------------------------------------------------------------

  async list(): Promise<VmView[]> {
    return (await this.deps.store.listVms()).map((r) => (this.adoptions.has(r.name) ? { ...toView(r), adopting: true } : toView(r)));
  }

  /** Resolves once VM `name` is not being re-adopted (at once for any other). */
  async adopted(name: string): Promise<void> {
    await this.adoptions.get(name);
  }

  /**
   * `list()` as a JSON body, cached until a VM record changes (or a restart leaves a
   * restart policy's window, which changes `restartsInWindow`).
   */
  async listJson(project?: string): Promise<Buffer> {
    return this.listCache.json(project);
  }

  async get(name: string): Promise<VmView> {
    await this.adopted(name);
    const rec = await this.records.get(name);
    const view = toView(rec);
    const procRoot = this.deps.placement?.roots?.proc;
    const [placement, warm] = await Promise.all([
      placementViewLive(rec, procRoot),
      // A warm clone's first run: how much of its template's memory it still shares (/proc/PID/smaps).
      this.deps.templatesRoot !== undefined && rec.spec.template !== undefined && isActive(rec.state) ? readWarmMemory(rec, this.deps.templatesRoot, procRoot) : undefined,
    ]);
    if (placement) view.placement = placement;
    if (warm) view.warmMemory = warm;
    return view;
  }

  /** Paths of a VM's runtime files; exposed for logs and consoles. */
  pathsOf(record: Pick<VmRecord, 'id' | 'name'>): VmPaths {
    return vmPaths(this.deps.runDir, this.deps.logDir, record);
  }

  async record(name: string): Promise<VmRecord> {
    await this.adopted(name);
    return this.records.get(name);
  }

  /**
   * The live QMP connection of a VM (by id), for read-only queries such as the metrics
   * sampler's; undefined while it has none. Never use it to change the VM: that is this service's job.
   */
  monitor(id: string): QmpClient | undefined {
    return this.supervisor.monitor(id);
  }

  /** True when each guest's QEMU runs as a user of its own (a root daemon, guest users on). */
  get guestUsersOn(): boolean {
    return this.guestFiles.enabled;
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

  // ---- create / delete -----------------------------------------------------

  async create(input: CreateVmInput): Promise<VmView> {
    input = withFirmwareAndTpmDefaults(withOsProfile(input));
    const { name, cpus, memoryMiB, imageName, machine, vnc } = checkCreateInput(input);
    checkFitsHost(this.deps.host, name, cpus, memoryMiB);
    if (await this.deps.store.getVm(name)) {
      throw new HangarError('VM_EXISTS', `A VM named "${name}" already exists: pick another name or delete it first.`);
    }
    const image = imageName === undefined ? undefined : await this.deps.images.readyImage(imageName);
    const cdroms = await cdromsForCreate(input, machine, this.deps.images, input.os);
    const project = input.project ?? DEFAULT_PROJECT;
    if (this.deps.projects) {
      const diskBytes = input.diskSize !== undefined ? parseSizeBytes(input.diskSize, 'diskSize') : (image?.disk?.virtualSizeBytes ?? 0);
      await this.deps.projects.check(project, { vms: 1, cpus, memoryMiB, diskBytes });
    }
    const group = await groupForCreate(this.deps.store, input.group);
    const vmId = randomBytes(6).toString('hex');
    const spec: VmSpec = {
      name, machine, cpuModel: input.cpuModel ?? 'max', cpus, memoryMiB, boot: image?.boot ?? { kind: 'disk' }, disks: [],
      nics: input.networks?.length ? await this.devices.networkNics(vmId, input.networks, input.forwards) : [await this.devices.newUserNic()],
      balloon: true, rng: true, vnc, ...(imageName !== undefined && { image: imageName }), uuid: randomUUID(),
    };
    applyIdentityFields(spec, input);
    if (cdroms.length > 0) spec.cdroms = cdroms;
    if (input.accel !== undefined) spec.accel = input.accel;
    if (input.spice) spec.spice = true;
    if (project !== DEFAULT_PROJECT) spec.project = project;
    applyResourceFields(spec, input);
    if (input.tpm) {
      if (!this.tpm) throw new HangarError('TPM_UNAVAILABLE', 'This daemon runs no swtpm: it cannot give VMs a TPM.', { details: { field: 'tpm' } });
      spec.tpm = this.tpm.specFor(true, machine);
    }
    await applyPlacementInput(spec, input, this.deps.placement);
    await applyHardwareInput(spec, input, { caps: this.deps.caps, listVms: () => this.deps.store.listVms(), shareRoots: this.deps.shareRoots ?? [] });
    if (input.forwards?.length) spec.nics[0]!.forwards = await checkForwards(input.forwards.map(parseForward), name, await this.deps.store.listVms());
    if (input.cloudInit) spec.cloudInit = cloudInitOf(input.cloudInit);
    applyMemoryBacking(spec, input.memoryBacking);
    if (input.profileState) spec.profiles = input.profileState;
    const firmware = await firmwareSpecFor(input, machine, this.deps.caps.qemuVersion);
    if (firmware) spec.firmware = firmware;
    const created: VolumeRecord[] = [];
    try {
      const nvram = await createNvram(this.deps.storage, spec);
      if (nvram) created.push(nvram);
      if (image?.disk) {
        const root = await this.deps.storage.createVolume({
          name: `${name}-root`, fromImage: { name: image.name, ...image.disk }, ownedBy: name, ...(input.pool !== undefined && { pool: input.pool }),
          ...(input.diskSize !== undefined && { size: input.diskSize }), ...(input.fullCopy && { fullCopy: true }),
        });
        created.push(root);
        spec.disks.push(diskOf('disk0', root, 0));
      } else if (input.diskSize !== undefined) {
        // Without an image (installing from an ISO) the blank disk is the root disk, first to boot.
        const data = await this.deps.storage.createVolume({ name: `${name}-${image ? 'data' : 'root'}`, size: input.diskSize, ownedBy: name, ...(input.pool !== undefined && { pool: input.pool }) });
        created.push(data);
        spec.disks.push(diskOf('disk0', data, image ? undefined : 0));
      }
      applyCreateBootOrder(spec, input.boot);
      applyDiskHardware(spec, input);
      for (const v of created) await this.deps.storage.markAttached(v.pool, v.name, name);
      await checkHaStorage(spec, (p) => this.deps.storage.poolRecord(p));
      const now = new Date().toISOString();
      // In a cluster: the placement decision its create's reservation holds (src/cluster/groups.ts).
      const placed = await placedFor(this.deps.store, name, this.deps.node?.());
      const record: VmRecord = { id: vmId, name, spec, state: 'stopped', createdAt: now, updatedAt: now, ...(group && { group: group.name }), ...(placed && { placed }) };
      await this.records.create(record);
    } catch (e) {
      // No half-created VM: its new disks go too.
      for (const v of created) {
        await this.deps.storage.markAttached(v.pool, v.name, undefined).catch(() => undefined);
        await this.deps.storage.deleteVolume(v.pool, v.name, { evenIfOwned: true }).catch(() => undefined);
      }
      throw e;
    }
    await this.deps.events.publish('vm.created', name, { cpus, memory: memoryMiB, image: imageName ?? cdroms[0]?.image });
    const view = toView((await this.deps.store.getVm(name))!);
    if (input.start) return this.start(name);
    return view;
  }

  async delete(name: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.exclusive(name, 'delete', async (rec) => {
      this.policies.cancelRestart(name);
      assertOperationAllowed(name, rec.state, opts.force ? 'force-delete' : 'delete');
      if (isActive(rec.state)) rec = await this.supervisor.forceStop(rec);
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
      await releaseNvram(this.deps.storage, rec.spec, rec.name, this.log);
      await this.savedState?.discard(rec);
      await this.tpm?.removeState(rec);
      await rm(join(this.deps.runDir, 'vms', rec.id), { recursive: true, force: true });
      if (this.deps.memoryRoot !== undefined) await rm(join(this.deps.memoryRoot, `${rec.id}.ram`), { force: true });
      await rm(join(this.deps.logDir, rec.id), { recursive: true, force: true });
      await this.deps.events.publish('vm.deleted', name, {});
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
    await this.records.create(record);
  }

  /**
   * A VM restored from a backup: its disks (and NVRAM volume) are written already; its TPM
   * state, if any, is written here. Stopped; VM_EXISTS when the name is taken.
   */
  async createRestored(record: VmRecord, tpmFiles?: Array<{ name: string; data: Buffer }>): Promise<VmView> {
    validateVmName(record.name);
    if (await this.deps.store.getVm(record.name)) throw new HangarError('VM_EXISTS', `A VM named "${record.name}" already exists: restore with --as NEW, or delete it first.`);
    if (tpmFiles?.length) {
      if (!this.tpm) throw new HangarError('TPM_UNAVAILABLE', `The backup of "${record.name}" has a TPM, and this daemon runs no swtpm.`);
      await this.tpm.writeState(record, tpmFiles);
    }
    await this.records.create(record);
    await this.deps.events.publish('vm.created', record.name, { cpus: record.spec.cpus, memory: record.spec.memoryMiB, image: record.spec.image });
    return toView(record);
  }

  /** A stopped VM's TPM state replaced by a backup's (in-place restore); the caller holds the VM's lock. */
  async replaceTpmState(rec: VmRecord, files: Array<{ name: string; data: Buffer }>): Promise<void> {
    if (!this.tpm) throw new HangarError('TPM_UNAVAILABLE', `The backup of "${rec.name}" has a TPM, and this daemon runs no swtpm.`);
    await this.tpm.removeState(rec);
    await this.tpm.writeState(rec, files);
  }

  /** Sets or clears a VM's live-restore marker (no lock: the marker is the restore's own). */
  async setLiveRestore(name: string, marker: VmRecord['liveRestore']): Promise<VmRecord> {
    return this.records.update(name, (r) => {
      const next = { ...r };
      if (marker) next.liveRestore = marker;
      else delete next.liveRestore;
      return next;
    });
  }

  /** Removes the record of a guest whose arrival failed (its QEMU has ended). */
  async dropIncoming(name: string, id: string): Promise<void> {
    await this.exclusive(name, 'drop-incoming', async (rec) => {
      if (rec.id !== id || rec.migration?.role !== 'incoming' || isActive(rec.state)) return;
      await this.deps.store.deleteVm(rec.id);
      await this.tpm?.removeState(rec);
      this.policies.cancelRestart(name);
    });
  }

  // ---- lifecycle -----------------------------------------------------------

  /** Starts a VM; a saved one is restored where it was, unless `fresh` discards its save. */
  async start(name: string, opts: { fresh?: boolean; bootOnce?: string } = {}): Promise<VmView> {
    return this.exclusive(name, 'start', async (rec) => {
      this.policies.cancelRestart(name);
      if (opts.bootOnce !== undefined) {
        const bootOnce = checkBootOnce(rec.spec, opts.bootOnce);
        rec = await this.records.update(name, (r) => ({ ...r, spec: { ...r.spec, bootOnce } }));
      }
      if (rec.stoppedByUser) rec = await this.records.update(name, (r) => ({ ...r, stoppedByUser: false }));
      if (rec.state === 'saved' && this.savedState) {
        if (!opts.fresh) return toView(await this.savedState.restore(this.handle(name)));
        await this.savedState.discard(rec);
        rec = await this.records.setState(name, 'stopped', { stateReason: undefined });
      }
      return toView(await this.startLocked(rec));
    });
  }

  /** Deletes a saved VM's save file: it becomes `stopped` and its next start boots afresh. */
  async discardSave(name: string): Promise<VmView> {
    return this.exclusive(name, 'discard-save', async (rec) => {
      if (rec.state !== 'saved') throw new HangarError('VM_STATE', `VM "${name}" is ${rec.state}, not saved: there is no save to discard.`);
      await this.savedState?.discard(rec);
      return toView(await this.records.setState(name, 'stopped', { stateReason: undefined }));
    });
  }

  /** `vm nvram reset`: a stopped UEFI VM's NVRAM becomes a fresh copy of its vars template. */
  async resetNvram(name: string): Promise<VmView> {
    return this.exclusive(name, 'nvram-reset', async (rec) => {
      if (rec.state !== 'stopped' && rec.state !== 'crashed') {
        throw new HangarError('VM_STATE', `Cannot reset the NVRAM of VM "${name}" while it is ${rec.state}: the firmware writes it while the guest runs. Stop it first.`, { details: { state: rec.state, operation: 'nvram-reset' } });
      }
      await resetNvram(rec);
      await this.deps.events.publish('vm.nvram-reset', name, {});
      return toView(rec);
    });
  }

  /** `byHost`: the host's shutdown stops it (`host shutdown-guests`), not a user: autostart still starts it at the next daemon start. */
  async stop(name: string, opts: StopOptions = {}, by: { byHost?: boolean } = {}): Promise<VmView> {
    return this.exclusive(name, 'stop', async (rec) => {
      this.policies.cancelRestart(name);
      const stopped = await this.stopLocked(rec, opts);
      if (by.byHost) return toView(stopped);
      return toView(await this.records.update(stopped.name, (r) => ({ ...r, stoppedByUser: true })));
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
      await this.supervisor.qmpOf(rec).execute('stop');
      return toView(await this.records.setState(rec.name, 'paused'));
    });
  }

  async resume(name: string): Promise<VmView> {
    return this.exclusive(name, 'resume', async (rec) => {
      assertOperationAllowed(name, rec.state, 'resume');
      await this.supervisor.qmpOf(rec).execute('cont');
      return toView(await this.records.setState(rec.name, 'running'));
    });
  }

  /** At daemon start: starts the autostart VMs in order (policies.ts). */
  async autostart(): Promise<void> {
    await this.policies.autostart();
  }

  // ---- guest agent ---------------------------------------------------------

  /** The VM's guest agent client (the guest may not run an agent: calls then fail with AGENT_UNAVAILABLE). */
  agentFor(rec: VmRecord): GuestAgent {
    return this.agents.agentFor(rec);
  }

  /** Whether an agent has the channel open in the guest (one QMP round trip, not a timeout). */
  async agentPresent(rec: VmRecord): Promise<boolean> {
    return this.agents.agentPresent(rec);
  }

  /** Runs a command in the guest through its agent. */
  async exec(name: string, argv: string[], opts: { input?: string; timeoutSeconds?: number } = {}): Promise<{ exitCode: number; stdout: string; stderr: string; signal?: number }> {
    return this.agents.exec(await this.records.get(name), argv, opts);
  }

  /** What the agent knows: OS and network interfaces (with addresses). */
  async guestInfo(name: string): Promise<{ agent: boolean; os?: unknown; interfaces?: unknown[]; ips: string[] }> {
    return this.agents.guestInfo(await this.records.get(name));
  }

  // ---- other services' operations --------------------------------------------

  /** Runs `fn` holding the VM's operation lock (a concurrent operation gets VM_BUSY). */
  async operate<T>(name: string, op: string, fn: (vm: VmHandle) => Promise<T>): Promise<T> {
    return this.exclusive(name, op, async () => fn(this.handle(name)));
  }

  private handle(name: string): VmHandle {
    const { records, supervisor } = this;
    return {
      record: () => records.get(name),
      qmp: async () => supervisor.qmpOf(await records.get(name)),
      forceStop: async () => supervisor.forceStop(await records.get(name)),
      start: async (hooks) => this.startLocked(await records.get(name), hooks),
      syncRunState: async () => {
        const rec = await records.get(name);
        const status = await supervisor.qmpOf(rec).execute<{ running: boolean }>('query-status');
        const state: VmState = status.running ? 'running' : 'paused';
        return rec.state === state ? rec : records.setState(name, state);
      },
      setState: async (state, reason) => records.setState(name, state, { stateReason: reason }),
      quitSaved: async () => {
        await supervisor.quit(await records.get(name), 'saved');
        return records.get(name);
      },
      quitMigrated: async (to) => {
        const rec = await records.get(name);
        supervisor.mustLive(rec);
        await records.update(name, (r) => ({ ...r, migratedTo: to }));
        await supervisor.quit(rec, 'migrated');
        return records.get(name);
      },
      update: async (fn) => records.update(name, fn),
    };
  }

  // ---- disks and NICs (devices.ts) -------------------------------------------

  /** Attaches a volume; hot-plugged (blockdev-add + device_add) into a running guest. */
  async attachVolume(name: string, pool: string, volume: string, opts: { readOnly?: boolean } = {}): Promise<VmView> {
    return this.exclusive(name, 'attach', async (rec) => toView(await this.devices.attachVolume(rec, pool, volume, opts)));
  }

  /** Detaches a volume; from a running guest it waits for the guest to release the device. */
  async detachVolume(name: string, pool: string, volume: string): Promise<VmView> {
    return this.exclusive(name, 'detach', async (rec) => toView(await this.devices.detachVolume(rec, pool, volume)));
  }

  /** Grows a volume; if a running guest uses it, live with block_resize so the guest sees it. */
  async resizeVolume(pool: string, volume: string, size: string | number): Promise<VolumeRecord> {
    const vol = await this.deps.storage.getVolume(pool, volume);
    const vmName = vol.attachedTo;
    if (vmName === undefined) return this.deps.storage.resizeVolume(pool, volume, size);
    return this.exclusive(vmName, 'resize', async (rec) => this.devices.resizeVolume(rec, pool, volume, size));
  }

  /** Adds a NIC on a managed network; hot-plugged (tap, netdev_add, device_add) into a running guest. */
  async attachNic(name: string, network: string): Promise<VmView> {
    return this.exclusive(name, 'nic-add', async (rec) => toView(await this.devices.attachNic(rec, network)));
  }

  /** Removes a NIC; from a running guest it waits for the guest to let go, then removes the tap. */
  async detachNic(name: string, nicId: string): Promise<VmView> {
    return this.exclusive(name, 'nic-remove', async (rec) => toView(await this.devices.detachNic(rec, nicId)));
  }

  // ---- clones, rename, images of a VM (clone.ts) -------------------------------

  /** Clones a stopped or running VM (linked: overlays of its frozen disks). */
  async clone(name: string, input: CloneVmInput): Promise<CloneResult & { vm: VmView }> {
    const done = await this.exclusive(name, 'clone', async (rec) => this.cloner.clone(rec, input));
    this.log(`${name}: cloned to ${done.record.name} (${done.linked ? 'linked' : 'full copy'}) in ${done.durationMs.toFixed(0)} ms${done.pauseMs !== undefined ? `, source paused ${done.pauseMs.toFixed(1)} ms` : ''}`);
    const vm = input.start ? await this.start(done.record.name) : toView(done.record);
    return { ...done, vm };
  }

  /** Renames a stopped VM (its volumes keep their names and follow it). */
  async rename(name: string, newName: string): Promise<VmView> {
    return this.exclusive(name, 'rename', async (rec) => toView(await this.cloner.rename(rec, newName)));
  }

  /** Runs `fn` with the file an image of the VM's root disk is copied from, holding the VM's lock (a running VM is frozen first). */
  async withTemplateSource<T>(name: string, fn: (src: { path: string; format: 'qcow2' | 'raw'; shared: boolean; pauseMs?: number }) => Promise<T>): Promise<T> {
    return this.exclusive(name, 'image-create', async (rec) => fn(await this.cloner.templateSource(rec)));
  }

  /** Inserts an ISO into a CD-ROM drive, or ejects it: live in a running guest (the guest sees the tray), else in the spec (media.ts). */
  async changeMedia(name: string, change: MediaChange): Promise<VmView> {
    return this.exclusive(name, 'media', async (rec) => toView(await changeMedia(rec, change, {
      images: this.deps.images, qmpOf: (r) => this.supervisor.qmpOf(r), update: (fn) => this.records.update(name, fn),
    })));
  }

  // ---- live settings (settings-plan.ts, settings-apply.ts) -------------------

  /** Changes resources: live where the running guest allows, otherwise for the next start. */
  async set(name: string, all: VmSettings & IdentitySettings, via?: { profiles: VmProfileState | null }): Promise<{ vm: VmView; changes: SettingResult[] }> {
    return this.exclusive(name, 'set', async (rec) => {
      const { labels, description, ...settings } = all;
      // Profiles (src/profiles): their service passes the new state; a plain `vm set` makes what it names the VM's own.
      const profiles = via ? via.profiles : rec.spec.profiles && { ...rec.spec.profiles, own: recordOwn(rec.spec.profiles.own, all) };
      const identity = applyIdentitySettings(rec.spec, { ...(labels !== undefined && { labels }), ...(description !== undefined && { description }) });
      rec = { ...rec, spec: identity.spec };
      const done = await applySettings(rec, settings, {
        host: this.deps.host, ...(this.deps.cgroups && { cgroups: this.deps.cgroups }), ...(this.deps.placement && { placement: this.deps.placement }),
        ...(this.deps.projects && { projects: this.deps.projects }),
        qmpOf: (r) => this.supervisor.qmpOf(r), checkCapacity: (r) => this.checkCapacityToStart(r),
      });
      done.changes.push(...identity.changes);
      if (done.spec.ha && !rec.spec.ha) await checkHaStorage(done.spec, (p) => this.deps.storage.poolRecord(p));
      const next = await this.records.update(name, (r) => {
        const n: VmRecord = { ...r, spec: { ...done.spec } };
        if (profiles) n.spec.profiles = profiles;
        else delete n.spec.profiles;
        if (done.live && n.runtime) n.runtime = { ...n.runtime, live: done.live, ...(done.threads && { threads: done.threads }) };
        return n;
      });
      await this.deps.events.publish('vm.settings', name, { changes: done.changes });
      return { vm: toView(next), changes: done.changes };
    });
  }

  // ---- daemon start / stop -------------------------------------------------

  /**
   * Re-adopts every guest the store says is active. A guest that cannot be adopted
   * is never killed: it is marked `unknown` with the reason.
   */
  async adoptAll(): Promise<void> {
    // Only this node's guests: another node's run elsewhere (or on this host under that node).
    const active = (await this.deps.store.listVms()).filter((r) => isActive(r.state) && this.isLocal(r));
    // Each VM is marked as being adopted at once (the API may answer meanwhile), and unmarked when its own adoption ends.
    const done = new Map<string, () => void>();
    for (const rec of active) this.adoptions.set(rec.name, new Promise<void>((resolve) => done.set(rec.name, resolve)));
    this.adoptionGeneration++;
    await adoptAll(active, {
      supervisor: this.supervisor, records: this.records, events: this.deps.events, paths: (rec) => vmPaths(this.deps.runDir, this.deps.logDir, rec), log: this.log,
      onDone: (rec) => {
        this.adoptions.delete(rec.name);
        this.adoptionGeneration++;
        done.get(rec.name)?.();
      },
    });
    // swtpm processes no adopted guest uses (a daemon killed between starting swtpm and QEMU).
    if (this.tpm) await this.tpm.sweepOrphans((await this.deps.store.listVms()).filter((r) => isActive(r.state))).catch((e: unknown) => this.log(`ending orphan swtpm processes failed: ${errorText(e)}`));
  }

  // ---- moves between the nodes of a cluster (src/migration/cluster-move.ts) ----

  /** After a hand-over to this node: its shared disks' owner keys become this node's (tokens kept). */
  async takeOverDisks(name: string): Promise<void> {
    await this.diskAccess.takeOver(await this.records.get(name));
  }

  /**
   * A QEMU supervisor of its own for a guest arriving from another node: its writes go to
   * `records` (an in-memory copy), never to the store, until the hand-over makes the VM this
   * node's; then `adoptMoved` takes the process over. It records no pause or exit as news.
   */
  shadowSupervisor(records: SupervisorDeps['records']): QemuSupervisor {
    // Its states (starting, paused, a failed arrival's end) are not the VM's: no events of them.
    const events = { publish: async () => undefined } as unknown as SupervisorDeps['events'];
    return new QemuSupervisor({ ...this.supervisorDeps, records, events, isBusy: () => true, onUnrequestedExit: () => {} });
  }

  /** Takes over the QEMU of a VM that became this node's (its record names it and its process). */
  async adoptMoved(name: string): Promise<void> {
    const rec = await this.records.get(name);
    if (!this.isLocal(rec)) throw onOtherNode(rec);
    await adopt(rec, { supervisor: this.supervisor, records: this.records, events: this.deps.events, paths: (r) => vmPaths(this.deps.runDir, this.deps.logDir, r), log: this.log });
  }

  /** The guest runs on another node now: this node's QEMU of it ends, and nothing is written to its record. */
  async releaseMoved(rec: VmRecord): Promise<void> {
    await this.supervisor.releaseMoved(rec);
  }

  /** The VM is this node's (always, on a single host). */
  isLocal(rec: VmRecord): boolean {
    const self = this.deps.node?.();
    return rec.node === undefined || self === undefined || rec.node === self;
  }

  /** Lets go of every guest without touching it (the daemon is shutting down). */
  async detachAll(): Promise<void> {
    this.policies.stop();
    await this.supervisor.detachAll();
  }

  // ---- internals -------------------------------------------------------------

  /** Runs one mutating operation on a VM; a second one at the same time gets VM_BUSY. */
  private async exclusive<T>(name: string, op: string, fn: (rec: VmRecord) => Promise<T>): Promise<T> {
    await this.adopted(name);
    const current = this.busy.get(name);
    if (current !== undefined) {
      throw new HangarError('VM_BUSY', `VM "${name}" is busy with "${current}": wait for it to finish, then try again.`, { details: { operation: current } });
    }
    this.busy.set(name, op);
    try {
      // Nothing is done to a guest that the store could not then record (etcd out of reach).
      await this.deps.store.assertWritable?.();
      const rec = await this.records.get(name);
      if (!this.isLocal(rec)) throw onOtherNode(rec);
      assertSavedVmAllows(name, rec.state, op);
      return await fn(rec);
    } finally {
      this.busy.delete(name);
    }
  }

  /** Starts a VM whose lock the caller holds: host checks, then the supervisor launches QEMU. */
  private async startLocked(rec: VmRecord, hooks: StartHooks = {}): Promise<VmRecord> {
    assertOperationAllowed(rec.name, rec.state, 'start');
    await this.deps.mayStart?.(rec);
    // Counted as running from the check on (reserved in the same step): starts at the same time cannot all pass it.
    await this.checkCapacityToStart(rec, true);
    try {
      return await this.launchChecked(rec, hooks);
    } finally {
      this.starting.delete(rec.id);
    }
  }

  private async launchChecked(rec: VmRecord, hooks: StartHooks): Promise<VmRecord> {
    const others = (await this.deps.store.listVms()).filter((v) => v.id !== rec.id && isActive(v.state) && this.isLocal(v));
    await checkBeforeStart(rec, others, this.deps.placement);
    if (rec.spec.bootOnce === undefined) return this.supervisor.launch(rec, hooks);
    // A one-time boot device is used by this start (whatever its outcome) and then forgotten.
    const clear = (): Promise<VmRecord> => this.records.update(rec.name, (r) => ({ ...r, spec: { ...r.spec, bootOnce: undefined } }));
    try {
      await this.supervisor.launch(rec, hooks);
    } catch (e) {
      await clear().catch(() => undefined);
      throw e;
    }
    return clear();
  }

  private async stopLocked(rec: VmRecord, opts: StopOptions): Promise<VmRecord> {
    if (opts.force) {
      assertOperationAllowed(rec.name, rec.state, 'force-stop');
      return this.supervisor.forceStop(rec);
    }
    assertOperationAllowed(rec.name, rec.state, 'stop');
    return this.supervisor.stop(rec, opts);
  }

  /** HOST_CAPACITY unless `rec` fits beside the VMs that run now. */
  private async checkCapacityToStart(rec: VmRecord, reserve = false): Promise<void> {
    // This host's guests only: another node's run on another host.
    const active = (await this.deps.store.listVms()).filter((v) => v.id !== rec.id && (isActive(v.state) || this.starting.has(v.id)) && this.isLocal(v));
    // Read after the await, checked and reserved without another: one start at a time sees the others.
    checkCapacityToStart(this.deps.host, rec, active);
    if (reserve) this.starting.set(rec.id, rec);
  }
}

/**
 * The OS profile's firmware, Secure Boot and TPM defaults (Windows: UEFI with Secure Boot and a
 * TPM), each overridden by what the request says; Secure Boot only when the firmware is UEFI.
 */
function withFirmwareAndTpmDefaults(input: CreateVmInput): CreateVmInput {
  if (input.os === undefined) return input;
  const p = osProfile(input.os);
  const firmware = input.firmware ?? p.firmware;
  const secureBoot = input.secureBoot ?? (firmware === 'uefi' && input.firmware === undefined ? p.secureBoot : undefined);
  const tpm = input.tpm ?? p.tpm;
  return { ...input, ...(firmware !== undefined && { firmware }), ...(secureBoot !== undefined && { secureBoot }), ...(tpm !== undefined && { tpm }) };
}

/** A VM another node of the cluster holds: acted on there (until requests are carried to it). */
function onOtherNode(rec: VmRecord): HangarError {
  return new HangarError('VM_ON_OTHER_NODE', `VM "${rec.name}" is on node "${rec.node}": send the request to that node's API.`, { details: { node: rec.node } });
}
