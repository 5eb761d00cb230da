/**
 * The hardware part of the QEMU command line (issue 15): machine version, CPU topology and
 * flags, Hyper-V enlightenments, disk buses with cache/aio/discard, NIC models with
 * multiqueue and MTU, USB (controller, tablet, host devices), watchdog, vsock, virtiofs and
 * the RTC. Pure functions called by argv.ts. User values go to QEMU only in JSON options;
 * the keyval/-cpu values here are enums, numbers and names checked by model/hw.ts.
 */
import type { DiskSpec, NicSpec, VmSpec } from '../model/spec.js';

type JsonValue = string | number | boolean | JsonValue[] | { [key: string]: JsonValue };
export type HwJson = { [key: string]: JsonValue };
/** The same shapes as argv.ts's QemuOption (structurally), for the sections built here. */
export type HwOption =
  | { flag: string; kind: 'raw'; value: string }
  | { flag: string; kind: 'keyval'; head?: string; pairs: ReadonlyArray<readonly [string, string]> }
  | { flag: string; kind: 'json'; value: HwJson };

const json = (flag: string, value: HwJson): HwOption => ({ flag, kind: 'json', value });
const keyval = (flag: string, pairs: Array<[string, string]>): HwOption => ({ flag, kind: 'keyval', pairs });
const raw = (flag: string, value: string): HwOption => ({ flag, kind: 'raw', value });

/** Device ids the hardware sections use (reserved: a disk or NIC cannot take them). */
export const HW_DEVICE_IDS = { usb: 'usb0', tablet: 'tablet0', scsi: 'scsi0', watchdog: 'watchdog0', vsock: 'vsock0' } as const;

export function usbHostId(i: number): string {
  return `usbhost${i}`;
}

export function shareDeviceId(i: number): string {
  return `fs${i}`;
}

/** The ids of every device the hardware sections add for `spec` (what QEMU's /machine/peripheral lists). */
export function hwDeviceIds(spec: VmSpec): string[] {
  const ids: string[] = [];
  if (spec.disks.some((d) => d.bus === 'virtio-scsi')) ids.push(HW_DEVICE_IDS.scsi);
  if (needsUsb(spec)) ids.push(HW_DEVICE_IDS.usb);
  if (hasTablet(spec)) ids.push(HW_DEVICE_IDS.tablet);
  (spec.usb ?? []).forEach((_, i) => ids.push(usbHostId(i)));
  if (spec.watchdog?.model === 'i6300esb') ids.push(HW_DEVICE_IDS.watchdog);
  if (spec.vsock) ids.push(HW_DEVICE_IDS.vsock);
  (spec.shares ?? []).forEach((_, i) => ids.push(shareDeviceId(i)));
  return ids;
}

// ---- machine and CPU -------------------------------------------------------------------

/** -machine type: the pinned version, else the unversioned alias (VMs made before pinning). */
export function machineType(spec: VmSpec): string {
  return spec.machineVersion ?? spec.machine;
}

/** Hyper-V enlightenments any accelerator can give (TCG accepts these). */
const HYPERV_ANY: ReadonlyArray<readonly [string, string]> = [
  ['hv-relaxed', 'on'], ['hv-vapic', 'on'], ['hv-spinlocks', '0x1fff'], ['hv-time', 'on'], ['hv-reset', 'on'], ['hv-frequencies', 'on'], ['hv-runtime', 'on'],
];
/** Those that need KVM: QEMU refuses hv-vpindex under TCG ("kernel doesn't allow setting HyperV VP_INDEX"); the rest depend on it. */
export const HYPERV_KVM_ONLY: readonly string[] = ['hv-vpindex', 'hv-synic', 'hv-stimer', 'hv-tlbflush', 'hv-ipi'];

/** Why some of the VM's hardware is not what it asked for under this accelerator (shown to users). */
export function hwNotes(spec: VmSpec, accel: 'kvm' | 'tcg'): string[] {
  const notes: string[] = [];
  if (spec.hyperv && accel !== 'kvm') {
    notes.push(`Hyper-V enlightenments ${HYPERV_KVM_ONLY.join(', ')} are left out: they need KVM, and this VM runs with ${accel} (QEMU refuses hv-vpindex there).`);
  }
  return notes;
}

/** -cpu: the model, then the user's flags (name=on|off) and the Hyper-V enlightenments. */
export function cpuArg(spec: VmSpec, accel: 'kvm' | 'tcg'): string {
  const parts = [spec.cpuModel];
  for (const flag of spec.cpuFlags ?? []) parts.push(`${flag.slice(1)}=${flag.startsWith('+') ? 'on' : 'off'}`);
  if (spec.hyperv) {
    for (const [k, v] of HYPERV_ANY) parts.push(`${k}=${v}`);
    if (accel === 'kvm') for (const k of HYPERV_KVM_ONLY) parts.push(`${k}=on`);
  }
  return parts.join(',');
}

/** -smp with a topology: keyval pairs (cpus, maxcpus, sockets, cores, threads); undefined without one. */
export function smpPairs(spec: VmSpec): Array<[string, string]> | undefined {
  if (!spec.topology) return undefined;
  const pairs: Array<[string, string]> = [['cpus', String(spec.cpus)]];
  if (spec.maxCpus !== undefined && spec.maxCpus > spec.cpus) pairs.push(['maxcpus', String(spec.maxCpus)]);
  pairs.push(['sockets', String(spec.topology.sockets)], ['cores', String(spec.topology.cores)], ['threads', String(spec.topology.threads)]);
  return pairs;
}

// ---- disks -------------------------------------------------------------------------------

/** QEMU's (libvirt's) cache modes as block-node and device settings. */
const CACHE_MODES: Record<NonNullable<DiskSpec['cache']>, { direct: boolean; noFlush: boolean; writeCache: boolean }> = {
  none: { direct: true, noFlush: false, writeCache: true },
  writeback: { direct: false, noFlush: false, writeCache: true },
  writethrough: { direct: false, noFlush: false, writeCache: false },
  directsync: { direct: true, noFlush: false, writeCache: false },
  unsafe: { direct: false, noFlush: true, writeCache: true },
};

/** Controllers the disks need, before the disks: one virtio-scsi controller for virtio-scsi disks. */
export function diskControllersSection(spec: VmSpec): HwOption[] {
  if (!spec.disks.some((d) => d.bus === 'virtio-scsi')) return [];
  return [json('-device', { driver: 'virtio-scsi-pci', id: HW_DEVICE_IDS.scsi })];
}

/**
 * Applies a disk's bus, cache, aio, discard and detect-zeroes to its two block nodes and its
 * device (as argv.ts built them for virtio-blk). Leaves a disk without these fields unchanged.
 */
export function applyDiskHw(disk: DiskSpec, index: number, spec: VmSpec, file: HwJson, format: HwJson, device: HwJson): void {
  if (disk.cache !== undefined) {
    const mode = CACHE_MODES[disk.cache];
    for (const node of [file, format]) node.cache = { direct: mode.direct, 'no-flush': mode.noFlush };
    device['write-cache'] = mode.writeCache ? 'on' : 'off';
  }
  if (disk.aio !== undefined && file.driver === 'file') file.aio = disk.aio;
  if (disk.discard) {
    file.discard = 'unmap';
    format.discard = 'unmap';
  }
  if (disk.detectZeroes !== undefined) format['detect-zeroes'] = disk.detectZeroes;
  const bus = disk.bus ?? 'virtio-blk';
  if (bus === 'virtio-blk') return;
  // Only virtio-blk takes an I/O thread here (virtio-scsi would on its controller).
  delete device.iothread;
  if (bus === 'virtio-scsi') {
    device.driver = 'scsi-hd';
    device.bus = `${HW_DEVICE_IDS.scsi}.0`;
  } else if (bus === 'sata') {
    device.driver = 'ide-hd';
    // q35's ICH9 AHCI: one disk per port ide.0 … ide.5, in the order of the VM's SATA disks.
    device.bus = `ide.${spec.disks.slice(0, index).filter((d) => d.bus === 'sata').length}`;
  } else {
    device.driver = 'nvme';
    device.serial = disk.id;
  }
}

// ---- NICs --------------------------------------------------------------------------------

/** Applies a NIC's model, queues and MTU to its netdev and device (built for virtio-net by argv.ts). */
export function applyNicHw(nic: NicSpec, netdev: HwJson, device: HwJson): void {
  const model = nic.model ?? 'virtio';
  if (model !== 'virtio') {
    device.driver = model;
    return;
  }
  const queues = nic.queues ?? 1;
  if (queues > 1) {
    netdev.queues = queues;
    // One vector per queue of each direction, one for config, one for the control queue.
    device.mq = true;
    device.vectors = 2 * queues + 2;
  }
  if (nic.mtu !== undefined) device.host_mtu = nic.mtu;
}

// ---- devices -------------------------------------------------------------------------------

function hasTablet(spec: VmSpec): boolean {
  return spec.tablet === true && (spec.vnc || spec.spice === true);
}

function needsUsb(spec: VmSpec): boolean {
  return hasTablet(spec) || (spec.usb?.length ?? 0) > 0;
}

/** USB, watchdog, vsock, virtiofs and the RTC. */
export function hwDevicesSection(spec: VmSpec, shareSockets: readonly string[] | undefined): HwOption[] {
  const options: HwOption[] = [];
  if (needsUsb(spec)) options.push(json('-device', { driver: 'qemu-xhci', id: HW_DEVICE_IDS.usb }));
  // An absolute pointer: the VNC/SPICE cursor and the guest's stay together.
  if (hasTablet(spec)) options.push(json('-device', { driver: 'usb-tablet', id: HW_DEVICE_IDS.tablet, bus: `${HW_DEVICE_IDS.usb}.0` }));
  (spec.usb ?? []).forEach((u, i) => {
    const device: HwJson = { driver: 'usb-host', id: usbHostId(i), bus: `${HW_DEVICE_IDS.usb}.0` };
    if ('vendorId' in u) Object.assign(device, { vendorid: parseInt(u.vendorId, 16), productid: parseInt(u.productId, 16) });
    else Object.assign(device, { hostbus: u.bus, hostport: u.port });
    options.push(json('-device', device));
  });
  if (spec.watchdog) {
    // i6300esb is a PCI card; iTCO is in q35's ICH9 and only needs its no-reboot strap off.
    if (spec.watchdog.model === 'i6300esb') options.push(json('-device', { driver: 'i6300esb', id: HW_DEVICE_IDS.watchdog }));
    else options.push(raw('-global', 'ICH9-LPC.noreboot=off'));
    options.push(keyval('-action', [['watchdog', spec.watchdog.action]]));
  }
  if (spec.vsock) options.push(json('-device', { driver: 'vhost-vsock-pci', id: HW_DEVICE_IDS.vsock, 'guest-cid': spec.vsock.cid }));
  (spec.shares ?? []).forEach((share, i) => {
    const socket = shareSockets?.[i];
    if (socket === undefined) throw new Error(`share ${share.tag} has no virtiofsd socket path`);
    const chardev = `${shareDeviceId(i)}-sock`;
    options.push(
      { flag: '-chardev', kind: 'keyval', head: 'socket', pairs: [['id', chardev], ['path', socket]] },
      json('-device', { driver: 'vhost-user-fs-pci', id: shareDeviceId(i), chardev, tag: share.tag }),
    );
  });
  if (spec.rtc === 'localtime') options.push(keyval('-rtc', [['base', 'localtime']]));
  return options;
}
