/**
 * The hardware fields of `vm create` (issue 15) → VmSpec: topology, CPU flags, the root
 * disk's bus/cache/aio/discard/detect-zeroes, NIC model/queues/MTU, the pinned machine
 * version, tablet, host USB, watchdog, vsock (CID allocated), virtiofs shares (inside the
 * allowed roots), OS profile, Hyper-V and RTC. Everything is checked before anything is made.
 */
import { HangarError } from '../errors/errors.js';
import { checkUsbDevices, checkVirtiofsd, checkVsock, resolveShare, type HwHostOptions } from '../host/hw.js';
import {
  checkNicHw, diskHwOf, machineVersionFor, MIN_VSOCK_CID, nicHwOf, parseCpuFlags, parseShare, parseTopology, parseUsbHost, parseWatchdog,
  validateHardware, type TopologyInput,
} from '../model/hw.js';
import type { HostCaps, OsProfile, ShareSpec, UsbHostSpec, VmSpec, WatchdogSpec } from '../model/spec.js';
import type { VmRecord } from '../model/vm-record.js';
import { osProfile } from './os-profiles.js';

export interface HardwareInput {
  /** `SOCKETS,CORES,THREADS` or an object; the product must equal maxCpus (or cpus). */
  topology?: TopologyInput;
  /** `+avx2,-x2apic` or a list. */
  cpuFlags?: string | string[];
  diskBus?: string;
  diskCache?: string;
  diskAio?: string;
  discard?: boolean;
  detectZeroes?: string;
  nicModel?: string;
  nicQueues?: number;
  mtu?: number;
  /** USB tablet; default: on for VMs with a display. */
  tablet?: boolean;
  /** Host USB devices: `VENDOR:PRODUCT` or `BUS-PORT`. */
  usb?: Array<string | UsbHostSpec>;
  /** `i6300esb[:action]` or an object. */
  watchdog?: string | WatchdogSpec;
  /** A vsock device (the guest CID is allocated). */
  vsock?: boolean;
  /** virtiofs shares: `TAG:/host/path[:ro]` or objects. */
  shares?: Array<string | ShareSpec>;
  os?: OsProfile;
  hyperv?: boolean;
  rtc?: 'utc' | 'localtime';
}

export interface HwCreateDeps {
  caps: Pick<HostCaps, 'qemuVersion'>;
  /** Every VM on the host (vsock CIDs must be unique). */
  listVms(): Promise<VmRecord[]>;
  /** Directories shares may be in (the daemon's --share-root); none: shares are refused. */
  shareRoots: readonly string[];
  host?: HwHostOptions;
}

/**
 * Applies the hardware input to a new spec (the root disk is done by `applyDiskHardware`
 * once it exists). Throws, changing nothing on the host, on bad input or a missing host device.
 */
export async function applyHardwareInput(spec: VmSpec, input: HardwareInput, deps: HwCreateDeps): Promise<void> {
  if (input.os !== undefined) {
    osProfile(input.os);
    spec.os = input.os;
  }
  const machineVersion = machineVersionFor(spec.machine, deps.caps.qemuVersion);
  if (machineVersion !== undefined) spec.machineVersion = machineVersion;
  if (input.topology !== undefined) spec.topology = parseTopology(input.topology);
  if (input.cpuFlags !== undefined) {
    const flags = parseCpuFlags(input.cpuFlags);
    if (flags.length) spec.cpuFlags = flags;
  }
  // Checked now so a bad value fails before any volume is made.
  diskHwOf(diskInput(input), spec.machine);
  const nicHw = nicHwOf({ ...(input.nicModel !== undefined && { model: input.nicModel }), ...(input.nicQueues !== undefined && { queues: input.nicQueues }), ...(input.mtu !== undefined && { mtu: input.mtu }) });
  for (const nic of spec.nics) {
    Object.assign(nic, nicHw);
    checkNicHw(nic, spec.machine);
  }
  const display = spec.vnc || spec.spice === true;
  if (input.tablet === true && !display) throw new HangarError('INVALID_SPEC', 'A USB tablet needs a display (VNC or SPICE).', { details: { field: 'tablet' } });
  if (input.tablet ?? display) {
    if (spec.machine !== 'microvm') spec.tablet = true;
  } else if (input.tablet === false) {
    spec.tablet = false;
  }
  if (input.hyperv !== undefined) spec.hyperv = input.hyperv;
  if (input.rtc !== undefined) spec.rtc = input.rtc;
  if (input.watchdog !== undefined) spec.watchdog = parseWatchdog(input.watchdog);
  if (input.usb?.length) {
    spec.usb = input.usb.map((u) => parseUsbHost(typeof u === 'string' ? u : usbText(u)));
  }
  if (input.shares?.length) spec.shares = input.shares.map(parseShare);
  // The whole spec's rules (machine fits, topology product, …) before the host checks.
  validateHardware({ ...spec, disks: [] });
  if (spec.usb) await checkUsbDevices(spec.usb, deps.host);
  if (input.vsock) {
    await checkVsock(deps.host);
    spec.vsock = { cid: await freeVsockCid(deps.listVms) };
  }
  if (spec.shares) {
    await checkVirtiofsd(deps.host);
    spec.shares = await Promise.all(spec.shares.map((s) => resolveShare(s, deps.shareRoots)));
  }
}

/** The root disk's bus, cache, aio, discard and detect-zeroes (after the disks exist). */
export function applyDiskHardware(spec: VmSpec, input: HardwareInput): void {
  const disk = spec.disks[0];
  if (!disk) return;
  Object.assign(disk, diskHwOf(diskInput(input), spec.machine));
  validateHardware(spec);
}

/** Host checks again at start: the USB device may be gone, vhost-vsock unloaded, a share root revoked. */
export async function checkHardwareHost(spec: VmSpec, shareRoots: readonly string[], host?: HwHostOptions): Promise<void> {
  if (spec.usb?.length) await checkUsbDevices(spec.usb, host);
  if (spec.vsock) await checkVsock(host);
  if (spec.shares?.length) {
    await checkVirtiofsd(host);
    for (const share of spec.shares) await resolveShare(share, shareRoots);
  }
}

function diskInput(input: HardwareInput) {
  return {
    ...(input.diskBus !== undefined && { bus: input.diskBus }),
    ...(input.diskCache !== undefined && { cache: input.diskCache }),
    ...(input.diskAio !== undefined && { aio: input.diskAio }),
    ...(input.discard !== undefined && { discard: input.discard }),
    ...(input.detectZeroes !== undefined && { detectZeroes: input.detectZeroes }),
  };
}

function usbText(u: UsbHostSpec): string {
  return 'vendorId' in u ? `${u.vendorId}:${u.productId}` : `${u.bus}-${u.port}`;
}

/** The lowest guest CID from 3 up that no VM on this host has. */
export async function freeVsockCid(listVms: () => Promise<VmRecord[]>): Promise<number> {
  const used = new Set((await listVms()).map((v) => v.spec.vsock?.cid).filter((c): c is number => c !== undefined));
  let cid = MIN_VSOCK_CID;
  while (used.has(cid)) cid++;
  return cid;
}
