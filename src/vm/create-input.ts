/**
 * What `vm create` takes, and the checks and spec fields that need nothing but the input
 * (the VM service does the rest: host, image, quota, volumes, the record).
 */
import { HangarError } from '../errors/errors.js';
import { validateCloudInit } from '../cloudinit/index.js';
import type { VmProfileState } from '../model/profile-settings.js';
import type { Accel, CloudInitSpec, MachineType, VmSpec } from '../model/spec.js';
import { parseMemoryMiB, validateCpuModel, validateCpus, validateMicrovmDisplay, validateVmName } from '../model/validate.js';
import type { FirmwareInput } from './firmware.js';
import type { PlacementInput } from './placement-ops.js';
import type { HardwareInput } from './hw-create.js';
import { applyPolicyFields, parseCpuLimit, validateWeight, type PolicyInput } from './settings-plan.js';
import type { MediaCreateInput } from './media.js';

export interface CreateVmInput extends PlacementInput, PolicyInput, FirmwareInput, MediaCreateInput, HardwareInput {
  name: string;
  image?: string;
  /** `file`: guest RAM in a shared file (a warm template's source; src/templates). */
  memoryBacking?: 'file';
  cpus?: number;
  memory?: string | number;
  machine?: MachineType;
  accel?: Accel;
  cpuModel?: string;
  vnc?: boolean;
  /** A SPICE display (QXL) on a unix socket, proxied by the daemon; default false. */
  spice?: boolean;
  start?: boolean;
  /** Size of the root disk (disk images) or of a blank data disk (kernel images). */
  diskSize?: string | number;
  /** The pool of the new disks (default: default). */
  pool?: string;
  /** Copy the image instead of making a linked clone. */
  fullCopy?: boolean;
  /** Hot-plug ceilings for this VM's runs. */
  maxCpus?: number;
  maxMemory?: string | number;
  cpuLimit?: number | string;
  cpuWeight?: number;
  /** Host port forwards for the user-mode NIC: `tcp:127.0.0.1:2222:22` (protocol:address:hostPort:guestPort). */
  forwards?: string[];
  /** Managed networks to put NICs on (one NIC each); without them the VM gets one user-mode NIC. */
  networks?: string[];
  /** The placement group it joins (src/cluster/groups.ts). */
  group?: string;
  /** The project it counts against (default `default`). */
  project?: string;
  cloudInit?: Omit<CloudInitSpec, 'format'> & { format?: CloudInitSpec['format'] };
  /** User labels (`{ env: 'prod' }`) and a description. */
  labels?: Record<string, string>;
  description?: string;
  /** A TPM 2.0 (swtpm): tpm-crb on q35, tpm-tis on pc; refused on microvm. */
  tpm?: boolean;
  /** The profiles it uses and its own values (set by src/profiles, not the API body). */
  profileState?: VmProfileState;
}

/** True if a `--boot` order names the network (`["network,disk"]`, `["disk","network"]`). */
function namesNetworkBoot(boot: string[] | undefined): boolean {
  return (boot ?? []).some((b) => b.split(',').some((k) => k.trim().toLowerCase() === 'network'));
}

/** Name, size, machine and display of a new VM, checked (INVALID_SPEC with the field). */
export function checkCreateInput(input: CreateVmInput): { name: string; cpus: number; memoryMiB: number; imageName: string | undefined; machine: MachineType; vnc: boolean } {
  const name = validateVmName(input.name);
  const cpus = validateCpus(input.cpus ?? 1);
  const memoryMiB = parseMemoryMiB(input.memory ?? 256);
  // Installing from an ISO, or booting from the network, needs no image: the VM gets a blank disk (diskSize) instead.
  const imageName = input.image ?? (input.iso !== undefined || namesNetworkBoot(input.boot) ? undefined : 'tiny');
  const machine = input.machine ?? 'q35';
  const vnc = input.vnc ?? machine !== 'microvm';
  validateMicrovmDisplay({ machine, vnc, spice: input.spice });
  if (input.cpuModel !== undefined) validateCpuModel(input.cpuModel);
  return { name, cpus, memoryMiB, imageName, machine, vnc };
}

/** maxCpus, maxMemory, cpu limit and weight, autostart and restart of a new VM's spec (`vm create`). */
export function applyResourceFields(spec: VmSpec, input: CreateVmInput): void {
  if (input.maxCpus !== undefined) {
    spec.maxCpus = validateCpus(input.maxCpus);
    if (spec.maxCpus < spec.cpus) throw new HangarError('INVALID_SPEC', `max-cpus (${spec.maxCpus}) must be at least cpus (${spec.cpus}).`, { details: { field: 'maxCpus' } });
  }
  if (input.maxMemory !== undefined) {
    spec.maxMemoryMiB = parseMemoryMiB(input.maxMemory);
    if (spec.maxMemoryMiB < spec.memoryMiB) throw new HangarError('INVALID_SPEC', `max-memory (${spec.maxMemoryMiB} MiB) must be at least memory (${spec.memoryMiB} MiB).`, { details: { field: 'maxMemory' } });
    if (spec.machine === 'microvm' && spec.maxMemoryMiB > spec.memoryMiB) throw new HangarError('INVALID_SPEC', 'A microvm cannot hot-plug memory: leave max-memory unset.', { details: { field: 'maxMemory' } });
  }
  const limit = input.cpuLimit === undefined ? undefined : parseCpuLimit(input.cpuLimit);
  if (limit !== undefined) spec.cpuLimitPercent = limit;
  if (input.cpuWeight !== undefined) spec.cpuWeight = validateWeight(input.cpuWeight);
  applyPolicyFields(spec, input);
}

/** The cloud-init spec of a new VM, validated now (bad YAML, keys, names) so a bad seed never gets stored. */
export function cloudInitOf(input: NonNullable<CreateVmInput['cloudInit']>): CloudInitSpec {
  const { format, ...rest } = input;
  validateCloudInit({ instanceId: 'check', ...rest });
  return { format: format ?? 'nocloud', ...rest };
}
