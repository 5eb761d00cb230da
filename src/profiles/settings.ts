/**
 * Profile settings, pure: checking them, merging several (in order, the VM's own last),
 * turning a change of the merged values into `vm set` settings (so the VM service's live
 * plan decides what is live and what waits for the next start), and instance types.
 */
import { HangarError } from '../errors/errors.js';
import { validateLabels } from '../model/identity.js';
import type { ProfileSettings } from '../model/profile-settings.js';
import { parseMemoryMiB, validateCpuModel, validateCpus } from '../model/validate.js';
import { parseCpuLimit, validateWeight, type VmSettings } from '../vm/settings-plan.js';

export type { ProfileSettings, VmProfileState } from '../model/profile-settings.js';

/** Keys `vm set` changes on an existing VM (through the live-settings plan). */
export const SETTABLE_KEYS = ['cpus', 'memory', 'maxCpus', 'maxMemory', 'cpuLimit', 'cpuWeight', 'labels', 'ha', 'haPriority', 'autostart', 'restart'] as const;
/** Keys only a new VM takes: existing VMs keep theirs. */
export const CREATE_ONLY_KEYS = ['cpuModel', 'machine', 'diskBus', 'diskCache', 'nicModel', 'networks', 'user', 'sshKeys'] as const;
export const PROFILE_KEYS: readonly (keyof ProfileSettings)[] = [...SETTABLE_KEYS, ...CREATE_ONLY_KEYS];

const NAME = /^[a-z][a-z0-9-]{0,62}$/;

export function validateProfileName(name: string): string {
  if (!NAME.test(name)) throw new HangarError('INVALID_SPEC', `Profile name "${name}" is not valid: lower-case letters, digits and hyphens, starting with a letter, at most 63.`, { details: { field: 'name' } });
  return name;
}

const oneOf = <T extends string>(key: string, value: unknown, allowed: readonly T[]): T => {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new HangarError('INVALID_SPEC', `${key} must be one of ${allowed.join(', ')}, not ${JSON.stringify(value)}.`, { details: { field: key } });
  }
  return value as T;
};
const bool = (key: string, value: unknown): boolean => {
  if (typeof value !== 'boolean') throw new HangarError('INVALID_SPEC', `${key} must be true or false, not ${JSON.stringify(value)}.`, { details: { field: key } });
  return value;
};
const count = (key: string, value: unknown, max: number): number => {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) throw new HangarError('INVALID_SPEC', `${key} must be a whole number from 0 to ${max}, not ${JSON.stringify(value)}.`, { details: { field: key } });
  return value;
};
const strings = (key: string, value: unknown): string[] => {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) throw new HangarError('INVALID_SPEC', `${key} must be a list of names.`, { details: { field: key } });
  return value as string[];
};

/** Input settings (memory as "2G" or MiB, cpu limit as "150%") checked and normalized; unknown keys refused. */
export function checkProfileSettings(input: Record<string, unknown>): ProfileSettings {
  const out: ProfileSettings = {};
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue;
    switch (key) {
      case 'cpus': out.cpus = validateCpus(value); break;
      case 'maxCpus': out.maxCpus = validateCpus(value); break;
      case 'memory': out.memory = parseMemoryMiB(value); break;
      case 'maxMemory': out.maxMemory = parseMemoryMiB(value); break;
      case 'cpuLimit': { const pct = parseCpuLimit(value as number | string); if (pct !== undefined) out.cpuLimit = pct; break; }
      case 'cpuWeight': out.cpuWeight = validateWeight(value); break;
      case 'labels': out.labels = validateLabels(value as Record<string, string>); break;
      case 'ha': out.ha = bool(key, value); break;
      case 'autostart': out.autostart = bool(key, value); break;
      case 'haPriority': out.haPriority = count(key, value, 1000); break;
      case 'restart': out.restart = oneOf(key, value, ['no', 'on-failure', 'always'] as const); break;
      case 'cpuModel': out.cpuModel = validateCpuModel(String(value)); break;
      case 'machine': out.machine = oneOf(key, value, ['q35', 'pc', 'microvm'] as const); break;
      case 'diskBus': out.diskBus = oneOf(key, value, ['virtio-blk', 'virtio-scsi', 'sata', 'nvme'] as const); break;
      case 'diskCache': out.diskCache = oneOf(key, value, ['none', 'writeback', 'writethrough', 'directsync', 'unsafe'] as const); break;
      case 'nicModel': out.nicModel = oneOf(key, value, ['virtio', 'e1000e', 'rtl8139'] as const); break;
      case 'networks': out.networks = strings(key, value); break;
      case 'sshKeys': out.sshKeys = strings(key, value); break;
      case 'user':
        if (typeof value !== 'string' || !/^[a-z_][a-z0-9_-]{0,31}$/.test(value)) throw new HangarError('INVALID_SPEC', `user must be a user name, not ${JSON.stringify(value)}.`, { details: { field: key } });
        out.user = value;
        break;
      default:
        throw new HangarError('INVALID_SPEC', `"${key}" is not a profile setting: use ${PROFILE_KEYS.join(', ')}.`, { details: { field: key } });
    }
  }
  if (out.maxCpus !== undefined && out.cpus !== undefined && out.maxCpus < out.cpus) throw new HangarError('INVALID_SPEC', `maxCpus (${out.maxCpus}) must be at least cpus (${out.cpus}).`, { details: { field: 'maxCpus' } });
  return out;
}

/** A profile's settings with a patch applied: a value sets, null removes. */
export function patchSettings(current: ProfileSettings, patch: Record<string, unknown>): ProfileSettings {
  const removed = Object.keys(patch).filter((k) => patch[k] === null);
  for (const k of removed) if (!(PROFILE_KEYS as readonly string[]).includes(k)) checkProfileSettings({ [k]: 0 });
  const set = checkProfileSettings(Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== null)));
  const next: Record<string, unknown> = { ...current, ...set };
  for (const k of removed) delete next[k];
  return next as ProfileSettings;
}

/** Several settings merged in order, later ones winning; labels merge key by key. */
export function mergeSettings(layers: ProfileSettings[]): ProfileSettings {
  const out: ProfileSettings = {};
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer)) {
      if (v === undefined) continue;
      if (k === 'labels') out.labels = { ...out.labels, ...(v as Record<string, string>) };
      else Object.assign(out, { [k]: v });
    }
  }
  return out;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * What `vm set` must change on a VM whose merged settings go from `before` to `after`:
 * the settings for the live plan, and the create-only keys that changed (not applied).
 */
export function settingsForChange(before: ProfileSettings, after: ProfileSettings): { settings: VmSettings & { labels?: string[] }; createOnly: string[] } {
  const s: VmSettings & { labels?: string[] } = {};
  // A key no layer gives any more stays as the VM has it (labels excepted: those it gave go).
  const changed = (k: keyof ProfileSettings) => !same(before[k], after[k]);
  const to = (k: keyof ProfileSettings) => changed(k) && after[k] !== undefined;
  if (to('cpus')) s.cpus = after.cpus!;
  if (to('memory')) s.memory = after.memory!;
  if (to('maxCpus')) s.maxCpus = after.maxCpus!;
  if (to('maxMemory')) s.maxMemory = after.maxMemory!;
  if (to('cpuLimit')) s.cpuLimit = after.cpuLimit!;
  if (to('cpuWeight')) s.cpuWeight = after.cpuWeight!;
  if (to('ha')) s.ha = after.ha!;
  if (to('haPriority') && (after.ha ?? before.ha)) s.haPriority = after.haPriority!;
  if (to('autostart')) s.autostart = after.autostart!;
  if (to('restart')) s.restart = after.restart!;
  if (changed('labels')) {
    const edits: string[] = [];
    for (const k of Object.keys(before.labels ?? {})) if (after.labels?.[k] === undefined) edits.push(`${k}-`);
    for (const [k, v] of Object.entries(after.labels ?? {})) if (before.labels?.[k] !== v) edits.push(`${k}=${v}`);
    if (edits.length) s.labels = edits;
  }
  return { settings: s, createOnly: CREATE_ONLY_KEYS.filter((k) => to(k)) };
}

export { recordOwn } from '../vm/profile-own.js';

// ---- instance types -----------------------------------------------------------

export interface InstanceType {
  name: string;
  cpus: number;
  /** MiB. */
  memory: number;
}

export const INSTANCE_TYPES: readonly InstanceType[] = [
  { name: 'small', cpus: 1, memory: 1024 },
  { name: 'medium', cpus: 2, memory: 2048 },
  { name: 'large', cpus: 4, memory: 8192 },
  { name: 'xlarge', cpus: 8, memory: 16384 },
];

/** A named type, or `cN-mM` (N vCPUs, M GiB); INVALID_SPEC for anything else. */
export function instanceType(name: string): InstanceType {
  const named = INSTANCE_TYPES.find((t) => t.name === name);
  if (named) return named;
  const m = /^c([1-9]\d{0,2})-m([1-9]\d{0,3})$/.exec(name);
  if (m && Number(m[1]) <= 288) return { name, cpus: Number(m[1]), memory: Number(m[2]) * 1024 };
  throw new HangarError('INVALID_SPEC', `Unknown instance type "${name}": use ${INSTANCE_TYPES.map((t) => t.name).join(', ')}, or cN-mM for N vCPUs and M GiB (e.g. c2-m4).`, { details: { field: 'type' } });
}
