/**
 * Clones and templates: `vm clone` (a full copy or a linked clone, of a stopped or running
 * VM), `vm rename`, and the disk a VM template (`image create --from-vm`) is made from.
 *
 * A clone is a new VM with a new identity: a new record id (so a new cloud-init
 * instance-id, `hangar-<id>`: the guest runs its per-instance steps again), a new SMBIOS
 * UUID, a new MAC on every NIC, new tap names, and — when the source has cloud-init — the
 * clone's own name as hostname (the source's domain kept). Host port forwards are dropped
 * (they would all collide with the source's); the clone gets the ones asked for.
 *
 * Linked: each disk of the source is frozen into a read-only base (storage/freeze.ts;
 * vm/live-freeze.ts switches a running guest onto its new overlay while it is paused for a
 * few milliseconds), and the clone's disk is a qcow2 overlay of that base. Full: the clone's
 * disk is a flattened copy (of the frozen base when the source runs).
 */
import { createNvram } from './firmware.js';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, cp, rm } from 'node:fs/promises';
import { HangarError } from '../errors/errors.js';
import type { EventBus } from '../events/bus.js';
import { validateLabels, validateDescription } from '../model/identity.js';
import type { NicSpec, VmPaths, VmSpec } from '../model/spec.js';
import { isActive } from '../model/states.js';
import { validateVmName } from '../model/validate.js';
import { macAddress } from '../network/names.js';
import type { NetworkService } from '../network/service.js';
import { DEFAULT_PROJECT, type ProjectService } from '../projects/service.js';
import type { QmpClient } from '../qmp/index.js';
import { abandonFreeze, buildFreezeFiles, commitFreeze, planFreeze, prepareFreeze, type FreezePlan } from '../storage/freeze.js';
import { writeQcow2Overlay } from '../storage/qcow2-overlay.js';
import type { StorageService, VolumeRecord } from '../storage/service.js';
import type { Store, VmRecord } from '../store/store.js';
import { checkFitsHost, type HostInfo } from './capacity.js';
import { diskOf } from './devices.js';
import { checkForwards, parseForward } from './forwards.js';
import { liveFreeze, liveSnapshotNames } from './live-freeze.js';
import type { VmRecords } from './records.js';

export interface CloneVmInput {
  name: string;
  /** qcow2 overlays of the source's frozen disks instead of full copies. */
  linked?: boolean;
  start?: boolean;
  /** Host port forwards for the clone's user-mode NIC (the source's are never copied). */
  forwards?: string[];
  labels?: Record<string, string>;
  description?: string;
}

export interface CloneResult {
  record: VmRecord;
  linked: boolean;
  /** How long a running source was paused (linked or full clone of a running VM). */
  pauseMs?: number;
  durationMs: number;
  /** Where the time went (ms from the start of the clone at the end of each step). */
  steps: Record<string, number>;
}

/**
 * Per-VM state files beside the disks that a clone must copy (a UEFI VM's NVRAM, a TPM's
 * state directory), as source → destination pairs. Wired by the branches that add them
 * (VmPaths `nvram`, `tpm…`); none yet.
 */
export function stateFilesToCopy(src: { rec: VmRecord; paths: VmPaths }, dst: { rec: VmRecord; paths: VmPaths }): Array<{ from: string; to: string }> {
  void src;
  void dst;
  return [];
}

export interface CloneDeps {
  store: Pick<Store, 'getVm' | 'listVms'>;
  records: Pick<VmRecords, 'create' | 'update'>;
  storage: StorageService;
  networks?: Pick<NetworkService, 'tapFor'>;
  projects?: Pick<ProjectService, 'check'>;
  events: Pick<EventBus, 'publish'>;
  host: HostInfo;
  qmpOf: (rec: VmRecord) => QmpClient;
  paths: (rec: Pick<VmRecord, 'id' | 'name'>) => VmPaths;
  /** Hands a new disk file of a running VM to its QEMU's user (guest users on). */
  handOverFile?: (rec: VmRecord, path: string) => Promise<void>;
}

/** `web1.example.com` → `web2.example.com`; `web1` → `web2`. */
export function cloneHostname(sourceHostname: string | undefined, dst: string): string {
  const dot = sourceHostname?.indexOf('.') ?? -1;
  return dot > 0 ? `${dst}${sourceHostname!.slice(dot)}` : dst;
}

/** The clone's volume name for a source volume: the source's name prefix swapped for the clone's. */
export function cloneVolumeName(src: string, dst: string, volume: string, diskId: string): string {
  return volume.startsWith(`${src}-`) ? `${dst}-${volume.slice(src.length + 1)}` : `${dst}-${diskId}`;
}

/** The clone's spec (without disks): new UUID, MACs, taps, hostname; no forwards. */
export function cloneSpec(src: VmSpec, dst: string, newId: string, takenMacs: Iterable<string>, tapFor: ((vmId: string, nicId: string) => string) | undefined): VmSpec {
  const spec = structuredClone(src) as VmSpec;
  spec.name = dst;
  spec.uuid = randomUUID();
  spec.disks = [];
  const taken = new Set([...takenMacs].map((m) => m.toLowerCase()));
  spec.nics = src.nics.map((n): NicSpec => {
    let mac: string;
    if (n.kind === 'network') mac = macAddress(`${newId}/${n.id}`, taken);
    else {
      do mac = `52:54:00:${[...randomBytes(3)].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
      while (taken.has(mac));
    }
    taken.add(mac);
    const nic: NicSpec = { ...n, mac, forwards: [] };
    if (n.kind === 'network' && tapFor) nic.tap = tapFor(newId, n.id);
    return nic;
  });
  if (spec.cloudInit) spec.cloudInit.hostname = cloneHostname(src.cloudInit?.hostname, dst);
  return spec;
}

export class VmCloner {
  constructor(private readonly deps: CloneDeps) {}

  private handOver(rec: VmRecord): { handOver?: (path: string) => Promise<void> } {
    const h = this.deps.handOverFile;
    return h ? { handOver: (path) => h(rec, path) } : {};
  }

  /** The caller holds the source's lock and has checked the clone's name is free. */
  async clone(src: VmRecord, input: CloneVmInput): Promise<CloneResult> {
    const t0 = performance.now();
    const steps: Record<string, number> = {};
    const mark = (step: string) => (steps[step] = Math.round((performance.now() - t0) * 10) / 10);
    const { deps } = this;
    const dst = validateVmName(input.name);
    const linked = input.linked === true;
    if (!['stopped', 'running', 'paused'].includes(src.state)) {
      throw new HangarError('VM_STATE', `Cannot clone VM "${src.name}" while it is ${src.state}: clone it stopped, running or paused.`, { details: { state: src.state } });
    }
    if (await deps.store.getVm(dst)) throw new HangarError('VM_EXISTS', `A VM named "${dst}" already exists: pick another name for the clone.`);
    const live = isActive(src.state);
    for (const d of src.spec.disks) {
      if (!d.volume) throw new HangarError('INVALID_SPEC', `Disk ${d.id} of "${src.name}" is not a volume: only VMs whose disks are volumes can be cloned.`);
      const v = await deps.storage.getVolume(d.volume.pool, d.volume.name);
      if (v.ownedBy !== src.name) {
        throw new HangarError('INVALID_SPEC', `Volume "${v.name}" (disk ${d.id}) is attached to "${src.name}" but not its own: detach it before cloning (a shared volume is not copied).`, { details: { field: 'disks' } });
      }
    }
    const labels = input.labels === undefined ? src.spec.labels : validateLabels(input.labels);
    const description = input.description === undefined ? src.spec.description : validateDescription(input.description);
    checkFitsHost(deps.host, dst, src.spec.cpus, src.spec.memoryMiB);
    const project = src.spec.project ?? DEFAULT_PROJECT;
    if (deps.projects) {
      const bytes = linked ? 0 : (await Promise.all(src.spec.disks.map((d) => deps.storage.getVolume(d.volume!.pool, d.volume!.name)))).reduce((n, v) => n + v.sizeBytes, 0);
      await deps.projects.check(project, { vms: 1, cpus: src.spec.cpus, memoryMiB: src.spec.memoryMiB, diskBytes: bytes });
    }
    const all = await deps.store.listVms();
    const newId = randomBytes(6).toString('hex');
    const spec = cloneSpec(src.spec, dst, newId, all.flatMap((v) => v.spec.nics.map((n) => n.mac)), deps.networks ? (id, nic) => deps.networks!.tapFor(id, nic) : undefined);
    if (labels) spec.labels = labels;
    else delete spec.labels;
    if (description !== undefined) spec.description = description;
    if (input.forwards?.length) {
      const nic = spec.nics.find((n) => n.kind === 'user');
      if (!nic) throw new HangarError('INVALID_SPEC', 'Port forwards are for a user-mode NIC; the clone has none.', { details: { field: 'forwards' } });
      nic.forwards = await checkForwards(input.forwards.map(parseForward), dst, all);
    }

    mark('checks');
    // The point in time: frozen bases (linked, or a running source), or the stopped source's files.
    // Every file is built first, side by side (one qemu-img each); the guest pauses only for the switch.
    let pauseMs: number | undefined;
    const bases = new Map<string, VolumeRecord>();
    const linkedFiles = new Map<string, string>();
    if (linked || live) {
      const items: Array<{ disk: VmSpec['disks'][number]; plan: FreezePlan }> = [];
      // A running guest's snapshots, from its QEMU (one query instead of a qemu-img per disk).
      const liveSnaps = live ? liveSnapshotNames(deps.qmpOf(src)) : undefined;
      liveSnaps?.catch(() => undefined);
      try {
        for (const disk of src.spec.disks) items.push({ disk, plan: await planFreeze(deps.storage, disk.volume!.pool, disk.volume!.name) });
        await Promise.all(items.map(async ({ disk, plan }) => {
          const clonePath = linked ? await deps.storage.pathFor(plan.volume.pool, cloneVolumeName(src.name, dst, plan.volume.name, disk.id)) : undefined;
          if (clonePath && existsSync(clonePath)) throw new HangarError('VOLUME_EXISTS', `Pool "${plan.volume.pool}" has a file ${clonePath} already: delete the volume that holds it, or pick another name.`);
          await Promise.all([
            buildFreezeFiles(plan, { hold: live, ...(liveSnaps && { snapshots: async () => (await liveSnaps).get(disk.id) ?? [] }) }),
            clonePath ? writeQcow2Overlay(clonePath, plan.volume.sizeBytes, { path: plan.basePath, format: 'qcow2' }).then(() => linkedFiles.set(disk.id, clonePath)) : undefined,
          ]);
        }));
        mark('files');
        if (live && items.length > 0) pauseMs = (await liveFreeze(deps.qmpOf(src), items, { running: src.state === 'running', ...this.handOver(src) })).pauseMs;
      } catch (e) {
        for (const { plan } of items) await abandonFreeze(plan);
        for (const f of linkedFiles.values()) await rm(f, { force: true });
        throw e;
      }
      mark('freeze');
      for (const { disk, plan } of items) bases.set(disk.id, await commitFreeze(deps.storage, plan));
      mark('commit');
    }

    const created: VolumeRecord[] = [];
    try {
      for (const disk of src.spec.disks) {
        const { pool, name: volName } = disk.volume!;
        const newName = cloneVolumeName(src.name, dst, volName, disk.id);
        const base = bases.get(disk.id);
        let vol: VolumeRecord;
        if (linked) {
          const path = linkedFiles.get(disk.id)!;
          vol = { pool, name: newName, format: 'qcow2', sizeBytes: base!.sizeBytes, path, ownedBy: dst, base: { pool, name: base!.name }, createdAt: new Date().toISOString() };
          try {
            await deps.storage.putVolume(vol, { create: true });
          } catch (e) {
            await rm(path, { force: true });
            throw e;
          }
        } else {
          vol = await deps.storage.cloneVolume(pool, base ? base.name : volName, newName, { shared: base !== undefined });
          vol = { ...vol, ownedBy: dst };
          await deps.storage.putVolume(vol);
        }
        created.push(vol);
        const d = diskOf(disk.id, vol, disk.bootIndex);
        // The source's per-disk settings (limits, I/O thread, bus…) stay; only the file and volume are the clone's.
        spec.disks.push({ ...structuredClone(disk), path: d.path, format: d.format, volume: d.volume! });
      }
      mark('volumes');
      // UEFI: the clone gets an NVRAM volume of its own with the source's variables (boot entries, keys).
      // Its TPM, if any, starts empty: a new machine has a TPM of its own.
      const srcNvram = src.spec.firmware?.nvram;
      if (spec.firmware && srcNvram) {
        spec.firmware = { ...spec.firmware };
        delete spec.firmware.nvram;
        const nvram = await createNvram(deps.storage, spec);
        if (nvram) {
          created.push(nvram);
          await copyFile(srcNvram.path, nvram.path);
        }
      }
      for (const v of created) await deps.storage.markAttached(v.pool, v.name, dst);
      const now = new Date().toISOString();
      const record: VmRecord = { id: newId, name: dst, spec, state: 'stopped', createdAt: now, updatedAt: now };
      for (const f of stateFilesToCopy({ rec: src, paths: deps.paths(src) }, { rec: record, paths: deps.paths(record) })) await cp(f.from, f.to, { recursive: true });
      await deps.records.create(record);
      await deps.events.publish('vm.created', dst, { cpus: spec.cpus, memory: spec.memoryMiB, image: spec.image });
      mark('record');
      return { record, linked, ...(pauseMs !== undefined && { pauseMs }), durationMs: performance.now() - t0, steps };
    } catch (e) {
      for (const v of created) {
        await deps.storage.markAttached(v.pool, v.name, undefined).catch(() => undefined);
        await deps.storage.deleteVolume(v.pool, v.name, { evenIfOwned: true }).catch(() => undefined);
      }
      throw e;
    }
  }

  /**
   * Renames a stopped VM. Its volumes keep their names (and files); they now belong to the
   * new name. Runtime files are keyed by the VM's id, so nothing else moves.
   */
  async rename(rec: VmRecord, newName: string): Promise<VmRecord> {
    const { deps } = this;
    const to = validateVmName(newName);
    if (rec.state !== 'stopped') throw new HangarError('VM_STATE', `Cannot rename VM "${rec.name}" while it is ${rec.state}: stop it first (a running guest keeps the name it was started with).`, { details: { state: rec.state } });
    if (to === rec.name) return rec;
    if (await deps.store.getVm(to)) throw new HangarError('VM_EXISTS', `A VM named "${to}" already exists: pick another name.`);
    const next = await deps.records.update(rec.name, (r) => ({ ...r, name: to, spec: { ...r.spec, name: to } }));
    for (const d of rec.spec.disks) {
      if (!d.volume) continue;
      const v = await deps.storage.getVolume(d.volume.pool, d.volume.name).catch(() => undefined);
      if (!v) continue;
      const moved: VolumeRecord = { ...v };
      if (v.attachedTo === rec.name) moved.attachedTo = to;
      if (v.ownedBy === rec.name) moved.ownedBy = to;
      await deps.storage.putVolume(moved);
    }
    await deps.events.publish('vm.settings', to, { changes: [{ key: 'name', value: { from: rec.name, to }, applied: 'next-start' }] });
    return next;
  }

  /**
   * The file an image is made from: the root disk (bootIndex 0, else the first) at one
   * instant. A stopped VM's volume file as it is; a running VM's frozen base (the VM keeps
   * running on a new overlay). The caller holds the VM's lock until the copy is done.
   */
  async templateSource(rec: VmRecord): Promise<{ path: string; format: 'qcow2' | 'raw'; shared: boolean; pauseMs?: number }> {
    const disk = rec.spec.disks.find((d) => d.bootIndex === 0) ?? rec.spec.disks[0];
    if (!disk) throw new HangarError('INVALID_SPEC', `VM "${rec.name}" has no disk to make an image of.`);
    if (!['stopped', 'running', 'paused'].includes(rec.state)) {
      throw new HangarError('VM_STATE', `Cannot make an image of VM "${rec.name}" while it is ${rec.state}.`, { details: { state: rec.state } });
    }
    if (!isActive(rec.state)) return { path: disk.path, format: disk.format, shared: false };
    if (!disk.volume) throw new HangarError('INVALID_SPEC', `Disk ${disk.id} of running VM "${rec.name}" is not a volume: stop the VM to make an image of it.`);
    const snaps = await liveSnapshotNames(this.deps.qmpOf(rec));
    const plan = await prepareFreeze(this.deps.storage, disk.volume.pool, disk.volume.name, { hold: true, snapshots: async () => snaps.get(disk.id) ?? [] });
    let pauseMs: number;
    try {
      pauseMs = (await liveFreeze(this.deps.qmpOf(rec), [{ disk, plan }], { running: rec.state === 'running', ...this.handOver(rec) })).pauseMs;
    } catch (e) {
      await abandonFreeze(plan);
      throw e;
    }
    const base = await commitFreeze(this.deps.storage, plan);
    return { path: base.path, format: 'qcow2', shared: true, pauseMs };
  }
}
