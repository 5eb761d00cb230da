/** Guest hardware (issue 15): the create fields and what a VM shows of them. */
import { Type } from '@sinclair/typebox';
import { strict } from './common.js';

const lit = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)));

const ShareObject = Type.Object({
  tag: Type.String({ description: 'Mount tag in the guest (mount -t virtiofs TAG /mnt), 1-36 of letters, digits, _ . -.' }),
  source: Type.String({ description: 'Host directory: absolute, inside a root the admin allows (daemon --share-root), symlinks resolved.' }),
  readOnly: Type.Optional(Type.Boolean({ description: 'The guest cannot write (a read-only bind mount under virtiofsd).' })),
}, strict);
const UsbObject = Type.Union([
  Type.Object({ vendorId: Type.String({ description: '4 hex digits' }), productId: Type.String({ description: '4 hex digits' }) }, strict),
  Type.Object({ bus: Type.Integer(), port: Type.String({ description: 'e.g. 2.3' }) }, strict),
]);
const WatchdogObject = Type.Object({
  model: lit(['i6300esb', 'itco'] as const),
  action: lit(['reset', 'poweroff', 'pause', 'none', 'shutdown', 'debug'] as const),
}, strict);

/** Fields of `CreateVmBody` (spread into it). */
export const HardwareCreateFields = {
  os: Type.Optional(Type.Union([Type.Literal('linux'), Type.Literal('windows'), Type.Literal('other')], {
    description: 'OS profile: defaults applied under the explicit fields. windows: q35, SATA disk, e1000e NIC, USB tablet, Hyper-V enlightenments (those TCG cannot do are left out, see hardware.notes), RTC in local time, cloud-init as config-drive; also UEFI + Secure Boot + TPM. other: SATA and e1000e.',
  })),
  topology: Type.Optional(Type.Union([
    Type.String({ description: 'SOCKETS,CORES,THREADS, e.g. "1,2,1".' }),
    Type.Object({ sockets: Type.Integer({ minimum: 1 }), cores: Type.Integer({ minimum: 1 }), threads: Type.Integer({ minimum: 1 }) }, strict),
  ], { description: 'vCPU topology; sockets × cores × threads must equal maxCpus (or cpus).' })),
  cpuFlags: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())], { description: 'CPU features to add or remove: "+avx2,-x2apic" or a list; names of a-z 0-9 _ . -.' })),
  diskBus: Type.Optional(lit(['virtio-blk', 'virtio-scsi', 'sata', 'nvme'] as const)),
  diskCache: Type.Optional(lit(['none', 'writeback', 'writethrough', 'directsync', 'unsafe'] as const)),
  diskAio: Type.Optional(lit(['threads', 'native', 'io_uring'] as const)),
  discard: Type.Optional(Type.Boolean({ description: 'Pass TRIM/UNMAP from the guest down to the image (a qcow2 file shrinks).' })),
  detectZeroes: Type.Optional(lit(['off', 'on', 'unmap'] as const)),
  nicModel: Type.Optional(lit(['virtio', 'e1000e', 'rtl8139'] as const)),
  nicQueues: Type.Optional(Type.Integer({ minimum: 1, maximum: 16, description: 'virtio multiqueue pairs; NICs on managed networks only (user-mode NICs have one queue).' })),
  mtu: Type.Optional(Type.Integer({ minimum: 68, maximum: 65535, description: 'MTU a virtio NIC offers the guest.' })),
  tablet: Type.Optional(Type.Boolean({ description: 'USB tablet (absolute pointer); default on for VMs with a display.' })),
  usb: Type.Optional(Type.Array(Type.Union([Type.String(), UsbObject]), { description: 'Host USB devices to pass through: "VENDOR:PRODUCT" (hex) or "BUS-PORT"; refused (HOST_DEVICE_UNAVAILABLE) when not plugged in.' })),
  watchdog: Type.Optional(Type.Union([Type.String({ description: 'MODEL[:ACTION], e.g. i6300esb:poweroff' }), WatchdogObject])),
  vsock: Type.Optional(Type.Boolean({ description: 'A virtio vsock (guest CID allocated, unique on the host); needs /dev/vhost-vsock (HOST_DEVICE_UNAVAILABLE).' })),
  shares: Type.Optional(Type.Array(Type.Union([Type.String({ description: 'TAG:/host/path[:ro]' }), ShareObject]), {
    description: 'virtiofs shared folders (virtiofsd per share, started before QEMU). Outside the allowed roots: SHARE_PATH_NOT_ALLOWED. A VM with shares cannot be saved, migrated or snapshotted with memory (NOT_MIGRATABLE).',
  })),
  hyperv: Type.Optional(Type.Boolean({ description: 'Hyper-V enlightenments (Windows guests).' })),
  rtc: Type.Optional(lit(['utc', 'localtime'] as const)),
};

export const HardwareView = Type.Object({
  os: Type.Optional(Type.String()),
  machineVersion: Type.Optional(Type.String({ description: 'The machine type pinned at create, e.g. pc-q35-7.2.' })),
  topology: Type.Optional(Type.Object({ sockets: Type.Integer(), cores: Type.Integer(), threads: Type.Integer() })),
  cpuFlags: Type.Optional(Type.Array(Type.String())),
  tablet: Type.Boolean(),
  hyperv: Type.Optional(Type.Boolean()),
  rtc: Type.Optional(Type.String()),
  watchdog: Type.Optional(Type.Object({ model: Type.String(), action: Type.String() })),
  vsock: Type.Optional(Type.Object({ cid: Type.Integer() })),
  usb: Type.Optional(Type.Array(Type.String())),
  shares: Type.Optional(Type.Array(Type.Object({ tag: Type.String(), source: Type.String(), readOnly: Type.Boolean() }))),
  disks: Type.Array(Type.Object({
    id: Type.String(), bus: Type.String(), cache: Type.Optional(Type.String()), aio: Type.Optional(Type.String()), discard: Type.Boolean(), detectZeroes: Type.Optional(Type.String()),
  })),
  nics: Type.Array(Type.Object({ id: Type.String(), model: Type.String(), queues: Type.Integer(), mtu: Type.Optional(Type.Integer()) })),
  notes: Type.Array(Type.String(), { description: 'Where the VM gets less than it asked for (e.g. Hyper-V enlightenments TCG cannot give).' }),
}, { description: 'Guest hardware: topology, CPU flags, buses and models, USB, watchdog, vsock, shares, OS profile.' });
