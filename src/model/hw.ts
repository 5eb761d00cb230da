/**
 * Guest hardware choices in a VmSpec (issue 15): CPU topology and flags, disk buses and
 * their cache/aio/discard settings, NIC models with multiqueue and MTU, the pinned machine
 * version, USB (tablet, host devices), watchdog, vsock and virtiofs shares. Pure functions:
 * what users write (CLI flags, API bodies) becomes spec data here, and `validateHardware`
 * checks a whole spec. What the host has (USB devices, /dev/vhost-vsock, allowed share
 * roots) is checked by the VM service at create and start.
 */
import { HangarError } from '../errors/errors.js';
import type { DiskBus, DiskCache, DiskSpec, MachineType, NicModel, NicSpec, ShareSpec, UsbHostSpec, VmSpec, WatchdogSpec } from './spec.js';

export const DISK_BUSES: readonly DiskBus[] = ['virtio-blk', 'virtio-scsi', 'sata', 'nvme'];
export const DISK_CACHES: readonly DiskCache[] = ['none', 'writeback', 'writethrough', 'directsync', 'unsafe'];
export const DISK_AIOS = ['threads', 'native', 'io_uring'] as const;
export const DETECT_ZEROES = ['off', 'on', 'unmap'] as const;
export const NIC_MODELS: readonly NicModel[] = ['virtio', 'e1000e', 'rtl8139'];
export const WATCHDOG_MODELS: ReadonlyArray<WatchdogSpec['model']> = ['i6300esb', 'itco'];
export const WATCHDOG_ACTIONS: ReadonlyArray<WatchdogSpec['action']> = ['reset', 'poweroff', 'pause', 'none', 'shutdown', 'debug'];
/** virtio-net's queue pairs: QEMU's VIRTIO_QUEUE_MAX / 2 is far more than a guest uses; 16 matches libvirt's usual ceiling. */
export const MAX_NIC_QUEUES = 16;
/** q35's AHCI controller has six ports (ide.0 … ide.5). */
export const SATA_PORTS = 6;
/** The vsock CIDs 0-2 are reserved (hypervisor, local, host). */
export const MIN_VSOCK_CID = 3;
const MAX_VSOCK_CID = 0xfffffffe;
/** CPU feature names as QEMU spells them (`avx2`, `hv-relaxed`, `x-foo`, `sse4.2`). */
export const CPU_FLAG_NAME = /^[a-z0-9_.-]{1,40}$/;
/** The virtiofs mount tag: at most 36 bytes in the device's config space. */
export const SHARE_TAG = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,35}$/;
/** The machine versions Hangar pins: `pc-q35-7.2`, `pc-i440fx-7.2`. */
const MACHINE_VERSION: Record<Exclude<MachineType, 'microvm'>, RegExp> = { q35: /^pc-q35-\d{1,2}\.\d{1,2}$/, pc: /^pc-i440fx-\d{1,2}\.\d{1,2}$/ };

function invalid(message: string, field: string): HangarError {
  return new HangarError('INVALID_SPEC', message, { details: { field } });
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], field: string, what: string): T {
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw invalid(`${what} ${JSON.stringify(value)} is not one of ${allowed.join(', ')}.`, field);
  }
  return value as T;
}

function wholeNumber(value: unknown, min: number, max: number, field: string, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(`${what} must be a whole number from ${min} to ${max}, not ${JSON.stringify(value)}.`, field);
  }
  return value;
}

// ---- CPU ---------------------------------------------------------------------------------------

export type TopologyInput = string | { sockets: number; cores: number; threads: number };

/** `SOCKETS,CORES,THREADS` (e.g. `1,2,1`) or an object → the topology, each part at least 1. */
export function parseTopology(input: TopologyInput): NonNullable<VmSpec['topology']> {
  let parts: unknown[];
  if (typeof input === 'string') {
    const m = /^\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*$/.exec(input);
    if (!m) throw invalid(`topology "${input}" is not SOCKETS,CORES,THREADS, e.g. 1,2,1.`, 'topology');
    parts = [Number(m[1]), Number(m[2]), Number(m[3])];
  } else if (input && typeof input === 'object') {
    parts = [input.sockets, input.cores, input.threads];
  } else {
    throw invalid('topology must be SOCKETS,CORES,THREADS or {sockets, cores, threads}.', 'topology');
  }
  const [sockets, cores, threads] = parts.map((p, i) => wholeNumber(p, 1, 288, 'topology', `topology ${['sockets', 'cores', 'threads'][i]}`)) as [number, number, number];
  return { sockets, cores, threads };
}

/** sockets × cores × threads must be the VM's vCPU ceiling (maxCpus, else cpus), as QEMU's -smp demands. */
export function checkTopology(spec: Pick<VmSpec, 'topology' | 'cpus' | 'maxCpus'>): void {
  const t = spec.topology;
  if (!t) return;
  parseTopology(t);
  const total = Math.max(spec.maxCpus ?? spec.cpus, spec.cpus);
  const product = t.sockets * t.cores * t.threads;
  if (product !== total) {
    throw invalid(`topology ${t.sockets},${t.cores},${t.threads} gives ${product} vCPUs, but the VM has ${total} (${spec.maxCpus !== undefined ? 'max-cpus' : 'cpus'}): sockets × cores × threads must equal it.`, 'topology');
  }
}

/** `+avx2,-x2apic` or a list → normalized `+name`/`-name` entries; a name twice is refused. */
export function parseCpuFlags(input: string | string[]): string[] {
  const items = (typeof input === 'string' ? input.split(',') : input).map((f) => (typeof f === 'string' ? f.trim() : f));
  const seen = new Set<string>();
  const out: string[] = [];
  for (const item of items) {
    if (typeof item !== 'string' || !/^[+-]/.test(item) || !CPU_FLAG_NAME.test(item.slice(1))) {
      throw invalid(`CPU flag ${JSON.stringify(item)} must be +name or -name, the name of lower-case letters, digits, '_', '.', '-' (e.g. +avx2, -x2apic).`, 'cpuFlags');
    }
    const name = item.slice(1);
    if (seen.has(name)) throw invalid(`CPU flag ${name} is named twice.`, 'cpuFlags');
    seen.add(name);
    out.push(item);
  }
  return out;
}

// ---- disks -------------------------------------------------------------------------------------

export interface DiskHwInput {
  bus?: string;
  cache?: string;
  aio?: string;
  discard?: boolean;
  detectZeroes?: string;
}

/** The hardware fields of one disk from user input, checked alone and against the machine. */
export function diskHwOf(input: DiskHwInput, machine: MachineType): Pick<DiskSpec, 'bus' | 'cache' | 'aio' | 'discard' | 'detectZeroes'> {
  const out: Pick<DiskSpec, 'bus' | 'cache' | 'aio' | 'discard' | 'detectZeroes'> = {};
  if (input.bus !== undefined) out.bus = oneOf(input.bus, DISK_BUSES, 'diskBus', 'Disk bus');
  if (input.cache !== undefined) out.cache = oneOf(input.cache, DISK_CACHES, 'diskCache', 'Disk cache mode');
  if (input.aio !== undefined) out.aio = oneOf(input.aio, DISK_AIOS, 'diskAio', 'Disk aio');
  if (input.discard !== undefined) {
    if (typeof input.discard !== 'boolean') throw invalid('discard must be true or false.', 'discard');
    out.discard = input.discard;
  }
  if (input.detectZeroes !== undefined) out.detectZeroes = oneOf(input.detectZeroes, DETECT_ZEROES, 'detectZeroes', 'detect-zeroes');
  checkDiskHw({ id: 'disk0', ...out }, machine);
  return out;
}

/** Rules between a disk's fields and the machine (QEMU would refuse these at start). */
export function checkDiskHw(disk: Pick<DiskSpec, 'id' | 'bus' | 'cache' | 'aio' | 'discard' | 'detectZeroes'>, machine: MachineType): void {
  const where = `Disk ${disk.id}`;
  if (disk.bus !== undefined) oneOf(disk.bus, DISK_BUSES, 'diskBus', `${where} bus`);
  if (disk.cache !== undefined) oneOf(disk.cache, DISK_CACHES, 'diskCache', `${where} cache mode`);
  if (disk.aio !== undefined) oneOf(disk.aio, DISK_AIOS, 'diskAio', `${where} aio`);
  if (disk.detectZeroes !== undefined) oneOf(disk.detectZeroes, DETECT_ZEROES, 'detectZeroes', `${where} detect-zeroes`);
  if (disk.discard !== undefined && typeof disk.discard !== 'boolean') throw invalid(`${where} discard must be true or false.`, 'discard');
  if (disk.bus === 'sata' && machine !== 'q35') throw invalid(`${where}: a SATA disk needs machine q35 (its AHCI controller); ${machine} has none.`, 'diskBus');
  if (disk.bus !== undefined && disk.bus !== 'virtio-blk' && machine === 'microvm') throw invalid(`${where}: a microvm has virtio-mmio disks only; use bus virtio-blk.`, 'diskBus');
  if (disk.aio === 'native' && disk.cache !== 'none' && disk.cache !== 'directsync') {
    throw invalid(`${where}: aio native needs cache none or directsync (O_DIRECT).`, 'diskAio');
  }
  if (disk.detectZeroes === 'unmap' && !disk.discard) throw invalid(`${where}: detect-zeroes unmap needs discard on.`, 'detectZeroes');
}

// ---- NICs --------------------------------------------------------------------------------------

export interface NicHwInput {
  model?: string;
  queues?: number;
  mtu?: number;
}

/** The hardware fields of a NIC from user input. */
export function nicHwOf(input: NicHwInput): Pick<NicSpec, 'model' | 'queues' | 'mtu'> {
  const out: Pick<NicSpec, 'model' | 'queues' | 'mtu'> = {};
  if (input.model !== undefined) out.model = oneOf(input.model, NIC_MODELS, 'nicModel', 'NIC model');
  if (input.queues !== undefined) out.queues = wholeNumber(input.queues, 1, MAX_NIC_QUEUES, 'nicQueues', 'NIC queues');
  if (input.mtu !== undefined) out.mtu = wholeNumber(input.mtu, 68, 65535, 'mtu', 'MTU');
  return out;
}

/** Rules between a NIC's fields and its kind and machine. */
export function checkNicHw(nic: Pick<NicSpec, 'id' | 'kind' | 'model' | 'queues' | 'mtu'>, machine: MachineType): void {
  const where = `NIC ${nic.id}`;
  nicHwOf(nic);
  const virtio = (nic.model ?? 'virtio') === 'virtio';
  if (!virtio && machine === 'microvm') throw invalid(`${where}: a microvm has virtio-mmio NICs only; use model virtio.`, 'nicModel');
  if ((nic.queues ?? 1) > 1) {
    if (!virtio) throw invalid(`${where}: multiqueue (queues ${nic.queues}) is for virtio NICs only, not ${nic.model}.`, 'nicQueues');
    if (nic.kind !== 'network') throw invalid(`${where}: a user-mode NIC has one queue (slirp cannot multiqueue); put the VM on a managed network (--network) for queues.`, 'nicQueues');
  }
  if (nic.mtu !== undefined && !virtio) throw invalid(`${where}: an MTU is offered to the guest by virtio NICs only (host_mtu), not ${nic.model}.`, 'mtu');
}

// ---- machine, USB, watchdog, vsock, shares -------------------------------------------------------

/** The machine version QEMU `qemuVersion` (e.g. "7.2.22") makes for `machine` (pc-q35-7.2); undefined for microvm or no version. */
export function machineVersionFor(machine: MachineType, qemuVersion: string): string | undefined {
  const m = /^(\d+)\.(\d+)/.exec(qemuVersion);
  if (!m || machine === 'microvm') return undefined;
  return `${machine === 'q35' ? 'pc-q35' : 'pc-i440fx'}-${m[1]}.${m[2]}`;
}

export function checkMachineVersion(spec: Pick<VmSpec, 'machine' | 'machineVersion'>): void {
  if (spec.machineVersion === undefined) return;
  const re = spec.machine === 'microvm' ? undefined : MACHINE_VERSION[spec.machine];
  if (!re || !re.test(spec.machineVersion)) {
    throw invalid(`Machine version ${JSON.stringify(spec.machineVersion)} does not fit machine ${spec.machine} (e.g. pc-q35-7.2 for q35, pc-i440fx-7.2 for pc; none for microvm).`, 'machineVersion');
  }
}

/** `VENDOR:PRODUCT` in hex (`046d:c52b`) or `BUS-PORT[.PORT…]` (`1-2.3`), as lsusb and sysfs show them. */
export function parseUsbHost(text: string): UsbHostSpec {
  const id = /^([0-9a-fA-F]{4}):([0-9a-fA-F]{4})$/.exec(text);
  if (id) return { vendorId: id[1]!.toLowerCase(), productId: id[2]!.toLowerCase() };
  const bp = /^(\d{1,3})-(\d{1,2}(?:\.\d{1,2}){0,6})$/.exec(text);
  if (bp) return { bus: Number(bp[1]), port: bp[2]! };
  throw invalid(`USB device "${text}" is not VENDOR:PRODUCT (hex, e.g. 046d:c52b) or BUS-PORT (e.g. 1-2.3).`, 'usb');
}

export function usbHostText(u: UsbHostSpec): string {
  return 'vendorId' in u ? `${u.vendorId}:${u.productId}` : `${u.bus}-${u.port}`;
}

/** `i6300esb[:action]` (action default reset). */
export function parseWatchdog(text: string | WatchdogSpec): WatchdogSpec {
  const [model, action = 'reset'] = typeof text === 'string' ? text.split(':') : [text.model, text.action];
  return { model: oneOf(model, WATCHDOG_MODELS, 'watchdog', 'Watchdog model'), action: oneOf(action, WATCHDOG_ACTIONS, 'watchdog', 'Watchdog action') };
}

/** `TAG:/host/path[:ro]` → a share (the path is checked against the allowed roots by the service). */
export function parseShare(text: string | ShareSpec): ShareSpec {
  let tag: string;
  let source: string;
  let readOnly = false;
  if (typeof text === 'string') {
    const colon = text.indexOf(':');
    if (colon < 0) throw invalid(`Share "${text}" is not TAG:/host/path[:ro].`, 'shares');
    tag = text.slice(0, colon);
    source = text.slice(colon + 1);
    if (source.endsWith(':ro')) {
      readOnly = true;
      source = source.slice(0, -3);
    } else if (source.endsWith(':rw')) {
      source = source.slice(0, -3);
    }
  } else {
    ({ tag, source } = text);
    readOnly = text.readOnly === true;
  }
  if (typeof tag !== 'string' || !SHARE_TAG.test(tag)) throw invalid(`Share tag ${JSON.stringify(tag)} must be 1-36 letters, digits, '_', '.', '-' (starting with a letter or digit).`, 'shares');
  // eslint-disable-next-line no-control-regex
  if (typeof source !== 'string' || !source.startsWith('/') || /[\u0000-\u001f\u007f]/.test(source)) {
    throw invalid(`Share ${tag}: the host path must be absolute and free of control characters, got ${JSON.stringify(source)}.`, 'shares');
  }
  return readOnly ? { tag, source, readOnly } : { tag, source };
}

/** Every hardware rule of a whole spec (the argv builder calls it; so does create). */
export function validateHardware(spec: VmSpec): void {
  checkTopology(spec);
  if (spec.cpuFlags !== undefined) parseCpuFlags(spec.cpuFlags);
  checkMachineVersion(spec);
  for (const disk of spec.disks) checkDiskHw(disk, spec.machine);
  const sata = spec.disks.filter((d) => d.bus === 'sata').length;
  if (sata > SATA_PORTS) throw invalid(`q35's AHCI controller has ${SATA_PORTS} ports, but ${sata} disks are on SATA.`, 'diskBus');
  for (const nic of spec.nics) checkNicHw(nic, spec.machine);
  if (spec.tablet !== undefined && typeof spec.tablet !== 'boolean') throw invalid('tablet must be true or false.', 'tablet');
  if ((spec.tablet || spec.usb?.length) && spec.machine === 'microvm') throw invalid('A microvm has no USB controller: no tablet or USB devices.', 'usb');
  for (const u of spec.usb ?? []) parseUsbHost(usbHostText(u));
  if (spec.watchdog) {
    parseWatchdog(spec.watchdog);
    if (spec.watchdog.model === 'itco' && spec.machine !== 'q35') throw invalid('The iTCO watchdog is part of q35\'s ICH9 chipset: use i6300esb on other machines.', 'watchdog');
    if (spec.machine === 'microvm') throw invalid('A microvm has no PCI bus for a watchdog.', 'watchdog');
  }
  if (spec.vsock) {
    wholeNumber(spec.vsock.cid, MIN_VSOCK_CID, MAX_VSOCK_CID, 'vsock', 'vsock guest CID');
    if (spec.machine === 'microvm') throw invalid('vsock on a microvm is not supported by Hangar: use q35.', 'vsock');
  }
  const tags = new Set<string>();
  for (const share of spec.shares ?? []) {
    parseShare(share);
    if (tags.has(share.tag)) throw invalid(`Share tag ${share.tag} is used twice.`, 'shares');
    tags.add(share.tag);
  }
  if (spec.shares?.length && spec.machine === 'microvm') throw invalid('virtiofs shares on a microvm are not supported by Hangar: use q35.', 'shares');
  if (spec.rtc !== undefined) oneOf(spec.rtc, ['utc', 'localtime'] as const, 'rtc', 'RTC base');
  if (spec.hyperv !== undefined && typeof spec.hyperv !== 'boolean') throw invalid('hyperv must be true or false.', 'hyperv');
}

/**
 * Refuses saving, live-migrating or snapshotting the memory of a VM whose devices cannot carry
 * their state: QEMU 7.2 marks vhost-user-fs (virtiofs) unmigratable, and a host USB device stays
 * on this host.
 */
export function assertStateMovable(spec: Pick<VmSpec, 'name' | 'shares' | 'usb'>, what: 'save' | 'migrate' | 'memory snapshot'): void {
  if (spec.shares?.length) {
    throw new HangarError('NOT_MIGRATABLE', `VM "${spec.name}" has virtiofs shares (${spec.shares.map((s) => s.tag).join(', ')}): QEMU cannot ${what === 'memory snapshot' ? 'snapshot the memory of' : what} a guest with a virtiofs device. Stop it first${what === 'memory snapshot' ? ', or take a disk-only snapshot' : ''}.`, { details: { devices: spec.shares.map((s) => s.tag) } });
  }
  if (spec.usb?.length && what === 'migrate') {
    throw new HangarError('NOT_MIGRATABLE', `VM "${spec.name}" has host USB devices passed through (${spec.usb.map(usbHostText).join(', ')}): they cannot move to another host.`, { details: { devices: spec.usb.map(usbHostText) } });
  }
}
