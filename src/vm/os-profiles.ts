/**
 * `--os linux|windows|other`: the defaults a user expects for a guest OS, applied to a create
 * request before its explicit fields (an explicit field always wins). Firmware, Secure Boot
 * and TPM are part of a profile's answer but are applied by their own modules (firmware,
 * TPM), so this module fills in only the hardware fields it owns.
 */
import { HangarError } from '../errors/errors.js';
import type { CloudInitSpec, DiskBus, MachineType, NicModel, OsProfile, VmSpec } from '../model/spec.js';

export const OS_PROFILES: readonly OsProfile[] = ['linux', 'windows', 'other'];

export interface OsProfileDefaults {
  machine: MachineType;
  diskBus: DiskBus;
  nicModel: NicModel;
  /** USB tablet on VMs with a display. */
  tablet: boolean;
  hyperv: boolean;
  rtc: NonNullable<VmSpec['rtc']>;
  cloudInitFormat: CloudInitSpec['format'];
  /** Applied by the firmware module, not here. */
  firmware?: 'bios' | 'uefi';
  /** Applied by the firmware module, not here. */
  secureBoot?: boolean;
  /** Applied by the TPM module, not here. */
  tpm?: boolean;
}

const PROFILES: Record<OsProfile, OsProfileDefaults> = {
  // virtio everywhere: Linux has the drivers built in.
  linux: { machine: 'q35', diskBus: 'virtio-blk', nicModel: 'virtio', tablet: true, hyperv: false, rtc: 'utc', cloudInitFormat: 'nocloud' },
  // What Windows installs on without extra drivers, and what Windows 11 asks for.
  windows: {
    machine: 'q35', diskBus: 'sata', nicModel: 'e1000e', tablet: true, hyperv: true, rtc: 'localtime', cloudInitFormat: 'configdrive',
    firmware: 'uefi', secureBoot: true, tpm: true,
  },
  // An unknown OS: emulated devices every OS has drivers for.
  other: { machine: 'q35', diskBus: 'sata', nicModel: 'e1000e', tablet: true, hyperv: false, rtc: 'utc', cloudInitFormat: 'nocloud' },
};

export function osProfile(os: OsProfile): OsProfileDefaults {
  if (!OS_PROFILES.includes(os)) {
    throw new HangarError('INVALID_SPEC', `OS profile ${JSON.stringify(os)} is not one of ${OS_PROFILES.join(', ')}.`, { details: { field: 'os' } });
  }
  return { ...PROFILES[os] };
}

/** The create fields a profile fills in (the hardware ones; firmware/TPM are left to their modules). */
export interface OsProfileInput {
  os?: OsProfile;
  machine?: MachineType;
  diskBus?: string;
  nicModel?: string;
  tablet?: boolean;
  hyperv?: boolean;
  rtc?: VmSpec['rtc'];
  cloudInit?: { format?: CloudInitSpec['format'] };
}

/** `input` with its profile's hardware defaults under it: explicit fields win. Unchanged without `os`. */
export function withOsProfile<T extends OsProfileInput>(input: T): T {
  if (input.os === undefined) return input;
  const p = osProfile(input.os);
  const out: T = { ...input };
  out.machine ??= p.machine;
  out.diskBus ??= p.diskBus;
  out.nicModel ??= p.nicModel;
  out.tablet ??= p.tablet;
  out.hyperv ??= p.hyperv;
  out.rtc ??= p.rtc;
  if (out.cloudInit) out.cloudInit = { ...out.cloudInit, format: out.cloudInit.format ?? p.cloudInitFormat };
  return out;
}
