/** `vm create` hardware flags (issue 15): CPU topology and flags, disk and NIC options, USB, watchdog, vsock, shares, OS profile. */
import { Option, type Command } from 'commander';
import type { CreateVmBody } from '../contract/index.js';
import { HangarError } from '../errors/errors.js';

export interface HardwareFlags {
  os?: NonNullable<CreateVmBody['os']>;
  topology?: string;
  cpuFlags?: string;
  diskBus?: NonNullable<CreateVmBody['diskBus']>;
  diskCache?: NonNullable<CreateVmBody['diskCache']>;
  diskAio?: NonNullable<CreateVmBody['diskAio']>;
  discard?: boolean;
  detectZeroes?: NonNullable<CreateVmBody['detectZeroes']>;
  nicModel?: NonNullable<CreateVmBody['nicModel']>;
  nicQueues?: number;
  mtu?: number;
  tablet?: boolean;
  usbDevice: string[];
  watchdog?: string;
  vsock?: boolean;
  share: string[];
  hyperv?: boolean;
  rtc?: NonNullable<CreateVmBody['rtc']>;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];
const int = (name: string) => (value: string): number => {
  if (!/^\d+$/.test(value)) throw new HangarError('INVALID_SPEC', `${name} must be a whole number, not "${value}".`);
  return Number(value);
};

/** Adds the hardware flags to `vm create`. */
export function addHardwareFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option('--os <os>', 'OS profile: defaults under the explicit flags (windows: SATA, e1000e, tablet, Hyper-V, local-time RTC, config-drive)').choices(['linux', 'windows', 'other']))
    .option('--topology <s,c,t>', 'vCPU topology SOCKETS,CORES,THREADS; the product must equal --max-cpus (or --cpus), e.g. 1,2,1')
    .option('--cpu-flags <flags>', 'CPU features to add/remove, e.g. +avx2,-x2apic')
    .addOption(new Option('--disk-bus <bus>', 'root disk bus (default virtio-blk)').choices(['virtio-blk', 'virtio-scsi', 'sata', 'nvme']))
    .addOption(new Option('--disk-cache <mode>', 'root disk host cache mode').choices(['none', 'writeback', 'writethrough', 'directsync', 'unsafe']))
    .addOption(new Option('--disk-aio <engine>', 'root disk I/O engine (native needs cache none/directsync)').choices(['threads', 'native', 'io_uring']))
    .option('--discard', 'pass the guest\'s TRIM down to the root disk image (qcow2 files shrink)')
    .addOption(new Option('--detect-zeroes <mode>', 'detect written zeroes (unmap needs --discard)').choices(['off', 'on', 'unmap']))
    .addOption(new Option('--nic-model <model>', 'NIC model (default virtio)').choices(['virtio', 'e1000e', 'rtl8139']))
    .option('--nic-queues <n>', 'virtio multiqueue pairs (managed networks only)', int('--nic-queues'))
    .option('--mtu <bytes>', 'MTU the virtio NIC offers the guest', int('--mtu'))
    .option('--no-tablet', 'no USB tablet (default: one on VMs with a display)')
    .option('--usb-device <id>', 'pass a host USB device through: VENDOR:PRODUCT or BUS-PORT (repeatable)', collect, [])
    .option('--watchdog <model[:action]>', 'a watchdog: i6300esb or itco, action reset (default), poweroff, pause, none, shutdown, debug')
    .option('--vsock', 'a virtio vsock (the guest CID is allocated)')
    .option('--share <tag:path[:ro]>', 'a virtiofs shared folder inside the daemon\'s --share-root (repeatable); guest: mount -t virtiofs TAG /mnt', collect, [])
    .option('--hyperv', 'Hyper-V enlightenments (Windows guests; --os windows sets it)')
    .addOption(new Option('--rtc <base>', 'guest clock base').choices(['utc', 'localtime']));
}

/** The hardware flags → the create body's fields. */
export function hardwareBody(o: HardwareFlags): Partial<CreateVmBody> {
  const body: Partial<CreateVmBody> = {};
  if (o.os) body.os = o.os;
  if (o.topology !== undefined) body.topology = o.topology;
  if (o.cpuFlags !== undefined) body.cpuFlags = o.cpuFlags;
  if (o.diskBus) body.diskBus = o.diskBus;
  if (o.diskCache) body.diskCache = o.diskCache;
  if (o.diskAio) body.diskAio = o.diskAio;
  if (o.discard) body.discard = true;
  if (o.detectZeroes) body.detectZeroes = o.detectZeroes;
  if (o.nicModel) body.nicModel = o.nicModel;
  if (o.nicQueues !== undefined) body.nicQueues = o.nicQueues;
  if (o.mtu !== undefined) body.mtu = o.mtu;
  if (o.tablet === false) body.tablet = false;
  if (o.usbDevice.length) body.usb = o.usbDevice;
  if (o.watchdog !== undefined) body.watchdog = o.watchdog;
  if (o.vsock) body.vsock = true;
  if (o.share.length) body.shares = o.share;
  if (o.hyperv) body.hyperv = true;
  if (o.rtc) body.rtc = o.rtc;
  return body;
}
