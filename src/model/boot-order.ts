/**
 * Boot order as per-device boot indexes (QEMU `bootindex`, which SeaBIOS and OVMF both follow):
 * a user's order of device kinds (`cdrom,disk,network`) becomes indexes on the VM's disks,
 * CD-ROMs and NICs; a one-time boot device moves its kind to the front for one start.
 */
import { HangarError } from '../errors/errors.js';
import { BOOT_DEVICES, type BootDevice, type VmSpec } from './spec.js';

interface BootableDevice {
  id: string;
  bootIndex?: number;
}

function devicesOf(spec: Pick<VmSpec, 'disks' | 'cdroms' | 'nics'>, kind: BootDevice): BootableDevice[] {
  if (kind === 'disk') return spec.disks;
  if (kind === 'cdrom') return spec.cdroms ?? [];
  return spec.nics;
}

function invalidBoot(message: string, extra: Record<string, unknown> = {}): HangarError {
  return new HangarError('INVALID_SPEC', message, { details: { field: 'boot', ...extra } });
}

/** Checks one boot device kind (`cdrom`, `disk` or `network`). */
export function parseBootDevice(value: string, field = 'boot'): BootDevice {
  const v = value.trim().toLowerCase();
  if (!(BOOT_DEVICES as readonly string[]).includes(v)) {
    throw new HangarError('INVALID_SPEC', `"${value}" is not a boot device: use one of ${BOOT_DEVICES.join(', ')}.`, { details: { field } });
  }
  return v as BootDevice;
}

/** `["cdrom","disk"]` or `["cdrom,disk"]` → checked kinds, each once. */
export function parseBootOrder(order: readonly string[]): BootDevice[] {
  const kinds = order.flatMap((o) => o.split(',')).map((o) => o.trim()).filter((o) => o !== '').map((o) => parseBootDevice(o));
  if (kinds.length === 0) throw invalidBoot(`The boot order is empty: name one or more of ${BOOT_DEVICES.join(', ')}.`);
  const seen = new Set<BootDevice>();
  for (const k of kinds) {
    if (seen.has(k)) throw invalidBoot(`The boot order names ${k} twice: name each device kind once.`);
    seen.add(k);
  }
  return kinds;
}

/** The device a kind names, in words, for errors. */
const KIND_WORDS: Record<BootDevice, string> = { cdrom: 'CD-ROM drive', disk: 'disk', network: 'NIC' };

/** INVALID_SPEC naming the kind when the VM has no device of it. */
export function assertHasDevice(spec: Pick<VmSpec, 'name' | 'disks' | 'cdroms' | 'nics'>, kind: BootDevice): void {
  if (devicesOf(spec, kind).length === 0) {
    throw invalidBoot(`The boot order names ${kind}, but VM "${spec.name}" has no ${KIND_WORDS[kind]}: add one, or leave ${kind} out.`, { device: kind });
  }
}

/**
 * Gives the devices of each kind in `order` boot indexes 0, 1, 2… in that order (devices of
 * one kind in their own order); devices of kinds left out are not bootable. Changes `spec`.
 */
export function assignBootOrder(spec: Pick<VmSpec, 'name' | 'disks' | 'cdroms' | 'nics'>, order: readonly BootDevice[]): void {
  for (const kind of order) assertHasDevice(spec, kind);
  for (const kind of BOOT_DEVICES) for (const d of devicesOf(spec, kind)) delete d.bootIndex;
  let next = 0;
  for (const kind of order) for (const d of devicesOf(spec, kind)) d.bootIndex = next++;
}

/** The boot order of a spec as kinds, read back from its devices' indexes (for views). */
export function bootOrderOf(spec: Pick<VmSpec, 'disks' | 'cdroms' | 'nics'>): BootDevice[] {
  const firsts = BOOT_DEVICES.flatMap((kind) => {
    const idx = devicesOf(spec, kind).flatMap((d) => (d.bootIndex === undefined ? [] : [d.bootIndex]));
    return idx.length === 0 ? [] : [{ kind, first: Math.min(...idx) }];
  });
  return firsts.sort((a, b) => a.first - b.first).map((f) => f.kind);
}

/**
 * The spec one start runs with when `bootOnce` is set: the devices of that kind boot first
 * (indexes 0…), then the others in their stored order. The stored spec is not changed.
 */
export function withBootOnce(spec: VmSpec): VmSpec {
  const once = spec.bootOnce;
  if (once === undefined) return spec;
  const copy: VmSpec = {
    ...spec,
    disks: spec.disks.map((d) => ({ ...d })),
    nics: spec.nics.map((n) => ({ ...n })),
    ...(spec.cdroms && { cdroms: spec.cdroms.map((c) => ({ ...c })) }),
  };
  delete copy.bootOnce;
  const first = devicesOf(copy, once);
  const rest = BOOT_DEVICES.filter((k) => k !== once)
    .flatMap((k) => devicesOf(copy, k))
    .filter((d) => d.bootIndex !== undefined)
    .sort((a, b) => (a.bootIndex ?? 0) - (b.bootIndex ?? 0));
  for (const kind of BOOT_DEVICES) for (const d of devicesOf(copy, kind)) delete d.bootIndex;
  let next = 0;
  for (const d of [...first, ...rest]) d.bootIndex = next++;
  return copy;
}
