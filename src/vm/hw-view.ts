/** The `hardware` part of a VM as clients see it (contract HardwareView). */
import type { Vm } from '../contract/vms.js';
import { usbHostText } from '../model/hw.js';
import type { VmSpec } from '../model/spec.js';
import { hwNotes } from '../qemu/argv-hw.js';

export function hardwareView(spec: VmSpec): NonNullable<Vm['hardware']> {
  const v: NonNullable<Vm['hardware']> = {
    tablet: spec.tablet === true,
    disks: spec.disks.map((d) => ({
      id: d.id, bus: d.bus ?? 'virtio-blk', discard: d.discard === true,
      ...(d.cache && { cache: d.cache }), ...(d.aio && { aio: d.aio }), ...(d.detectZeroes && { detectZeroes: d.detectZeroes }),
    })),
    nics: spec.nics.map((n) => ({ id: n.id, model: n.model ?? 'virtio', queues: n.queues ?? 1, ...(n.mtu !== undefined && { mtu: n.mtu }) })),
    // Unknown accelerator (the daemon's default): say what TCG would leave out.
    notes: hwNotes(spec, spec.accel === 'kvm' ? 'kvm' : 'tcg').map((n) => (spec.accel === undefined ? `If it runs with TCG: ${n}` : n)),
  };
  if (spec.os) v.os = spec.os;
  if (spec.machineVersion) v.machineVersion = spec.machineVersion;
  if (spec.topology) v.topology = spec.topology;
  if (spec.cpuFlags?.length) v.cpuFlags = spec.cpuFlags;
  if (spec.hyperv !== undefined) v.hyperv = spec.hyperv;
  if (spec.rtc) v.rtc = spec.rtc;
  if (spec.watchdog) v.watchdog = spec.watchdog;
  if (spec.vsock) v.vsock = spec.vsock;
  if (spec.usb?.length) v.usb = spec.usb.map(usbHostText);
  if (spec.shares?.length) v.shares = spec.shares.map((s) => ({ tag: s.tag, source: s.source, readOnly: s.readOnly === true }));
  return v;
}
