/**
 * `hangar import libvirt FILE.xml`: a libvirt domain becomes a stopped Hangar VM with the
 * same name (or --name), SMBIOS UUID and MACs.
 *
 * Order: the XML is mapped (mapping.ts) and everything it names is checked (no element left
 * unsupported unless ignoreUnsupported; the name, UUID and MACs free; the disk, CD-ROM,
 * kernel and NVRAM files there; the networks there; the hardware and placement rules of a
 * VM spec) before anything is made. Then the disks: by default each is copied (flattened,
 * qcow2) into a pool, owned by the VM; with inPlace the file's folder becomes a pool (or
 * the pool that is that folder is used) and the file is recorded as a volume where it is,
 * not owned (deleting the VM leaves it). A failure after that removes what was made.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { errorText, HangarError } from '../../errors/errors.js';
import { validateHardware } from '../../model/hw.js';
import { isSmbiosUuid } from '../../model/identity.js';
import { parseCpuList } from '../../model/placement.js';
import type { CdromSpec, DiskSpec, NicSpec, VmSpec } from '../../model/spec.js';
import { validateCpuModel, validateVmName } from '../../model/validate.js';
import type { VmRecord } from '../../model/vm-record.js';
import { isMac } from '../../network/names.js';
import type { NetworkService } from '../../network/service.js';
import { validateVolumeName } from '../../storage/pool.js';
import { imageInfo } from '../../storage/qemu-img.js';
import { DEFAULT_POOL, type StorageService, type VolumeRecord } from '../../storage/service.js';
import type { Store } from '../../store/store.js';
import { createNvram, firmwareSpecFor } from '../../vm/firmware.js';
import { checkPlacement, type PlacementOptions } from '../../vm/placement-ops.js';
import type { VmService, VmView } from '../../vm/service.js';
import { planFromXml, type LibvirtPlan, type PlannedDisk, type Unsupported } from './mapping.js';

export interface LibvirtImportInput {
  /** The domain XML (`virsh dumpxml NAME`). */
  xml: string;
  /** Leave out what cannot be carried over instead of refusing. */
  ignoreUnsupported?: boolean;
  /** Use the disk files where they are (their folders become pools) instead of copying them. */
  inPlace?: boolean;
  /** Copies: the pool they go to (default: default). In place: the name of the pool made for the files' folder. */
  pool?: string;
  /** The VM's name (default: the domain's). */
  name?: string;
  /** Only check and report what would be made and left out; nothing is made. */
  dryRun?: boolean;
}

export interface LibvirtImportResult {
  vm?: VmView;
  /** What was left out (empty unless ignoreUnsupported). */
  unsupported: Unsupported[];
  /** Each libvirt disk and CD-ROM (by target) and where it went. */
  disks: Array<{ target: string; source: string; path: string; copied: boolean; pool?: string; volume?: string }>;
  /** Pools the import made (in place). */
  poolsCreated: string[];
  dryRun: boolean;
}

export interface LibvirtImportDeps {
  vms: Pick<VmService, 'createRestored'>;
  storage: StorageService;
  networks?: Pick<NetworkService, 'list' | 'tapFor'>;
  store: Pick<Store, 'listVms'>;
  qemuVersion: string;
  /** The daemon runs swtpm (a TPM can be carried over). */
  tpmAvailable: boolean;
  placement?: PlacementOptions;
}

async function regularFile(path: string, what: string, field: string): Promise<void> {
  if (!path.startsWith('/')) throw new HangarError('INVALID_SPEC', `The ${what} ${path} is not an absolute path.`, { details: { field, path } });
  const st = await stat(path).catch(() => undefined);
  if (!st) throw new HangarError('NOT_FOUND', `The ${what} ${path} is not there on this host.`, { details: { field, path } });
  if (!st.isFile()) throw new HangarError('INVALID_SPEC', `The ${what} ${path} is not a regular file.`, { details: { field, path } });
}

/** Maps, checks and (unless dryRun) makes the VM. */
export async function importLibvirt(deps: LibvirtImportDeps, input: LibvirtImportInput): Promise<LibvirtImportResult> {
  if (typeof input.xml !== 'string' || input.xml.trim() === '') throw new HangarError('LIBVIRT_XML_INVALID', 'The libvirt domain XML is empty.');
  const plan = planFromXml(input.xml);
  const name = validateVmName(input.name ?? plan.name);
  const all = await deps.store.listVms();
  if (all.some((v) => v.name === name)) throw new HangarError('VM_EXISTS', `A VM named "${name}" already exists: import with --name NEW, or delete it first.`);
  if (plan.uuid !== undefined) {
    if (!isSmbiosUuid(plan.uuid)) throw new HangarError('LIBVIRT_XML_INVALID', `The libvirt domain XML is not valid: /domain/uuid "${plan.uuid}" is not a UUID.`, { details: { path: '/domain/uuid' } });
    const other = all.find((v) => v.spec.uuid === plan.uuid);
    if (other) throw new HangarError('VM_EXISTS', `VM "${other.name}" has the domain's UUID ${plan.uuid} already: it was imported before (delete it first).`, { details: { vm: other.name, uuid: plan.uuid } });
  }
  const vmId = randomBytes(6).toString('hex');
  // Where the host lacks something the domain has, that is listed as unsupported too.
  const nics = await resolveNics(plan, deps, all, vmId);
  if (plan.tpm && !deps.tpmAvailable) plan.unsupported.push({ path: '/domain/devices/tpm', reason: 'this daemon runs no swtpm (--swtpm)' });
  if (input.inPlace) {
    for (const d of plan.disks) if (d.hasBacking) plan.unsupported.push({ path: `/domain/devices/disk[target/@dev='${d.target}']/backingStore`, reason: 'a backing chain cannot be used in place: import without --in-place to copy the disk flattened' });
  }
  if (plan.unsupported.length > 0 && !input.ignoreUnsupported) {
    throw new HangarError('IMPORT_UNSUPPORTED',
      `Domain "${plan.name}" has ${plan.unsupported.length} element(s) Hangar cannot carry over: ${plan.unsupported.map((u) => `${u.path}: ${u.reason}`).join('; ')}. Nothing was made; import with --ignore-unsupported to leave them out.`,
      { details: { unsupported: plan.unsupported } });
  }
  if (plan.tpm && !deps.tpmAvailable) delete plan.tpm;
  const spec = await specOf(plan, name, nics, deps);
  // Every file the VM needs, checked before anything is made.
  for (const d of plan.disks) await regularFile(d.path, `disk file of ${d.target}`, 'disks');
  for (const c of plan.cdroms) if (c.path !== undefined) await regularFile(c.path, `ISO of CD-ROM ${c.target}`, 'cdroms');
  if (plan.kernel) {
    await regularFile(plan.kernel.kernel, 'kernel', 'kernel');
    if (plan.kernel.initrd) await regularFile(plan.kernel.initrd, 'initrd', 'initrd');
  }
  const sizes = new Map<PlannedDisk, number>();
  for (const d of plan.disks) {
    const info = await imageInfo(d.path, { format: d.format, shared: true });
    sizes.set(d, info.virtualSizeBytes);
  }
  const pools = await deps.storage.listPools();
  const copyPool = input.inPlace ? undefined : (input.pool ?? DEFAULT_POOL);
  if (copyPool !== undefined && !pools.some((p) => p.name === copyPool)) throw new HangarError('POOL_NOT_FOUND', `There is no storage pool "${copyPool}": see \`hangar pool list\`.`, { details: { field: 'pool' } });
  if (input.inPlace && input.pool !== undefined) validateVolumeName(input.pool, 'pool');
  const disksOut: LibvirtImportResult['disks'] = [];
  if (input.dryRun) {
    for (const d of plan.disks) disksOut.push({ target: d.target, source: d.path, path: d.path, copied: !input.inPlace });
    return { unsupported: plan.unsupported, disks: disksOut, poolsCreated: [], dryRun: true };
  }

  const created: VolumeRecord[] = [];
  const recorded: VolumeRecord[] = [];
  const poolsCreated: string[] = [];
  try {
    for (const [i, d] of plan.disks.entries()) {
      let vol: VolumeRecord;
      if (input.inPlace) {
        vol = await recordInPlace(deps.storage, d, sizes.get(d)!, name, input.pool, poolsCreated);
        recorded.push(vol);
      } else {
        vol = await deps.storage.createVolume({
          pool: copyPool!, name: `${name}-${d.target}`, fullCopy: true, ownedBy: name,
          fromImage: { name: basename(d.path), path: d.path, format: d.format, virtualSizeBytes: sizes.get(d)! },
        });
        created.push(vol);
      }
      disksOut.push({ target: d.target, source: d.path, path: vol.path, copied: !input.inPlace, pool: vol.pool, volume: vol.name });
      spec.disks.push(diskSpecOf(d, i, vol, plan));
    }
    validateHardware(spec);
    if (spec.firmware) {
      const nvram = await createNvram(deps.storage, spec);
      if (nvram) {
        created.push(nvram);
        const from = plan.firmware?.nvram;
        // The guest's own UEFI variables (boot entries…), when libvirt's file is there and fits.
        if (from !== undefined && (await stat(from).then((s) => s.isFile() && s.size === nvram.sizeBytes, () => false))) await copyFile(from, nvram.path);
      }
    }
    for (const v of [...created, ...recorded]) await deps.storage.markAttached(v.pool, v.name, name);
    const now = new Date().toISOString();
    const record: VmRecord = { id: vmId, name, spec, state: 'stopped', createdAt: now, updatedAt: now };
    const vm = await deps.vms.createRestored(record);
    return { vm, unsupported: plan.unsupported, disks: disksOut, poolsCreated, dryRun: false };
  } catch (e) {
    for (const v of created) {
      await deps.storage.markAttached(v.pool, v.name, undefined).catch(() => undefined);
      await deps.storage.deleteVolume(v.pool, v.name, { evenIfOwned: true }).catch(() => undefined);
    }
    for (const v of recorded) await deps.storage.forgetVolume(v.pool, v.name).catch(() => undefined);
    for (const p of poolsCreated) await deps.storage.forgetPool(p).catch(() => undefined);
    throw e;
  }
}

/** The disk file as a volume where it is: in the pool that is its folder, or a new one. */
async function recordInPlace(storage: StorageService, d: PlannedDisk, sizeBytes: number, vm: string, poolName: string | undefined, poolsCreated: string[]): Promise<VolumeRecord> {
  const file = await realpath(d.path);
  const dir = dirname(file);
  const pools = await storage.listPools();
  let pool = (await Promise.all(pools.map(async (p) => ((await realpath(p.path).catch(() => p.path)) === dir ? p : undefined)))).find((p) => p !== undefined);
  if (!pool) {
    const base = poolName ?? `libvirt-${basename(dir).replace(/[^a-zA-Z0-9_.-]/g, '-').replace(/^[^a-zA-Z0-9]+/, '') || 'root'}`.slice(0, 90);
    let pname = base;
    for (let n = 2; pools.some((p) => p.name === pname); n++) pname = `${base}-${n}`;
    pool = await storage.createPool(pname, dir);
    poolsCreated.push(pname);
  }
  const existing = (await storage.listVolumes(pool.name)).find((v) => v.path === file);
  if (existing) {
    if (existing.attachedTo !== undefined) throw new HangarError('VOLUME_IN_USE', `${file} is volume ${existing.pool}/${existing.name}, attached to VM "${existing.attachedTo}".`, { details: { path: file } });
    return existing;
  }
  const stem = basename(file).replace(/\.(qcow2|raw|img)$/i, '').replace(/[^a-zA-Z0-9_.-]/g, '-').replace(/^[^a-zA-Z0-9]+/, '') || `${vm}-${d.target}`;
  const taken = new Set((await storage.listVolumes(pool.name)).map((v) => v.name));
  let vname = validateVolumeName(stem.slice(0, 90).replace(/\.\.+/g, '.'));
  for (let n = 2; taken.has(vname); n++) vname = `${stem.slice(0, 90)}-${n}`;
  const rec: VolumeRecord = { pool: pool.name, name: vname, format: d.format, sizeBytes, path: file, createdAt: new Date().toISOString() };
  await storage.putVolume(rec, { create: true });
  return rec;
}

function diskSpecOf(d: PlannedDisk, i: number, vol: VolumeRecord, plan: LibvirtPlan): DiskSpec {
  const disk: DiskSpec = { id: `disk${i}`, path: vol.path, format: vol.format, readOnly: d.readOnly, volume: { pool: vol.pool, name: vol.name } };
  if (d.bus !== 'virtio-blk') disk.bus = d.bus;
  if (d.cache) disk.cache = d.cache;
  if (d.aio) disk.aio = d.aio;
  if (d.discard) disk.discard = true;
  if (d.detectZeroes) disk.detectZeroes = d.detectZeroes;
  if (d.iothread !== undefined && plan.iothreads !== undefined && d.iothread >= 1 && d.iothread <= plan.iothreads) disk.iothread = `iothread${d.iothread - 1}`;
  if (!plan.kernel && d.bootIndex !== undefined) disk.bootIndex = d.bootIndex;
  return disk;
}

/** The domain's NICs as Hangar NICs: bridges and libvirt networks are Hangar networks (by bridge or name). */
async function resolveNics(plan: LibvirtPlan, deps: LibvirtImportDeps, all: VmRecord[], vmId: string): Promise<NicSpec[]> {
  const nets = plan.nics.some((n) => n.kind !== 'user') ? ((await deps.networks?.list()) ?? []) : [];
  const taken = new Set(all.flatMap((v) => v.spec.nics.map((n) => n.mac.toLowerCase())));
  const out: NicSpec[] = [];
  for (const [i, n] of plan.nics.entries()) {
    const id = `net${i}`;
    let mac = n.mac;
    if (mac !== undefined && (!isMac(mac) || (parseInt(mac.slice(0, 2), 16) & 1) === 1)) throw new HangarError('LIBVIRT_XML_INVALID', `The libvirt domain XML is not valid: ${n.path}/mac "${mac}" is not a unicast MAC address.`, { details: { path: `${n.path}/mac` } });
    if (mac !== undefined && taken.has(mac)) throw new HangarError('INVALID_SPEC', `MAC ${mac} of ${n.path} is another VM's already on this host: MACs are kept on import, so delete that VM or change the MAC in the XML.`, { details: { field: 'mac', mac } });
    mac ??= `52:54:00:${[...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
    taken.add(mac);
    const nic: NicSpec = { id, kind: 'user', mac, forwards: [] };
    if (n.kind !== 'user') {
      const net = nets.find((x) => (n.kind === 'bridge' ? x.bridge === n.source || x.name === n.source : x.name === n.source));
      if (net) {
        nic.kind = 'network';
        nic.network = net.name;
        nic.tap = deps.networks!.tapFor(vmId, id);
      } else {
        plan.unsupported.push({ path: `${n.path}/source`, reason: `no Hangar network ${n.kind === 'bridge' ? `with bridge (or name) ${n.source ?? '?'}` : `named ${n.source ?? '?'}`}: create one first (hangar network create); left out, the NIC becomes user-mode` });
      }
    }
    if (n.model) nic.model = n.model;
    if (n.queues !== undefined && n.queues > 1 && nic.kind === 'network') nic.queues = n.queues;
    if (n.mtu !== undefined) nic.mtu = n.mtu;
    if (!plan.kernel && n.bootIndex !== undefined) nic.bootIndex = n.bootIndex;
    out.push(nic);
  }
  return out;
}

/** The VM spec (without disks), checked: hardware, placement, firmware. */
async function specOf(plan: LibvirtPlan, name: string, nics: NicSpec[], deps: LibvirtImportDeps): Promise<VmSpec> {
  validateCpuModel(plan.cpuModel);
  const spec: VmSpec = {
    name, machine: plan.machine, cpuModel: plan.cpuModel, cpus: plan.cpus, memoryMiB: plan.memoryMiB,
    boot: plan.kernel ? { kind: 'kernel', kernel: plan.kernel.kernel, ...(plan.kernel.initrd && { initrd: plan.kernel.initrd }), ...(plan.kernel.cmdline && { cmdline: plan.kernel.cmdline }) } : { kind: 'disk' },
    disks: [], nics, balloon: plan.balloon, rng: plan.rng, vnc: plan.vnc,
  };
  if (plan.uuid) spec.uuid = plan.uuid;
  if (plan.description) spec.description = plan.description.slice(0, 1024);
  if (plan.spice) spec.spice = true;
  if (plan.maxCpus !== undefined) spec.maxCpus = plan.maxCpus;
  if (plan.maxMemoryMiB !== undefined && plan.maxMemoryMiB > plan.memoryMiB) spec.maxMemoryMiB = plan.maxMemoryMiB;
  if (plan.topology) spec.topology = plan.topology;
  if (plan.cpuFlags) spec.cpuFlags = plan.cpuFlags;
  if (plan.machineVersion) spec.machineVersion = plan.machineVersion;
  if ((plan.tablet || plan.vnc || plan.spice) && plan.machine !== 'microvm') spec.tablet = true;
  if (plan.hyperv) spec.hyperv = true;
  if (plan.rtc) spec.rtc = plan.rtc;
  if (plan.watchdog) spec.watchdog = plan.watchdog;
  if (plan.tpm) spec.tpm = plan.tpm;
  if (plan.cpuLimitPercent !== undefined) spec.cpuLimitPercent = plan.cpuLimitPercent;
  const cdroms: CdromSpec[] = plan.cdroms.map((c, i) => ({ id: `cd${i}`, bus: c.bus, ...(c.path !== undefined && { path: c.path }), ...(!plan.kernel && c.bootIndex !== undefined && { bootIndex: c.bootIndex }) }));
  if (cdroms.length) spec.cdroms = cdroms;
  if (plan.hugepages) spec.hugepages = plan.hugepages;
  if (plan.numa) spec.numa = plan.numa;
  if (plan.iothreads !== undefined) spec.iothreads = plan.iothreads;
  if (plan.pin) {
    const pin: NonNullable<VmSpec['pin']> = {};
    if (plan.pin.vcpus) pin.vcpus = Object.fromEntries(Object.entries(plan.pin.vcpus).map(([k, v]) => [k, parseCpuList(v, `pin.vcpus.${k}`)]));
    if (plan.pin.emulator !== undefined) pin.emulator = parseCpuList(plan.pin.emulator, 'pin.emulator');
    if (plan.pin.iothreads !== undefined) pin.iothreads = parseCpuList(plan.pin.iothreads, 'pin.iothreads');
    spec.pin = pin;
  }
  try {
    validateHardware(spec);
    await checkPlacement(spec, deps.placement);
  } catch (e) {
    throw e instanceof HangarError ? e : new HangarError('INVALID_SPEC', errorText(e));
  }
  if (plan.firmware) {
    const fw = await firmwareSpecFor({ firmware: 'uefi', secureBoot: plan.firmware.secureBoot }, plan.machine, deps.qemuVersion);
    if (fw) spec.firmware = fw;
  }
  return spec;
}
