/**
 * The kinds a declarative file (`hangar apply -f`) may hold, and their fields: each field's
 * type, how a value is brought to one canonical form (so "256M" and 256 compare equal), and
 * how a difference is carried out. Field names follow the API (`POST /v1/vms`, `PATCH
 * /v1/vms/{name}`); pure data and functions, shared by parsing, planning and export.
 */
import { HangarError } from '../errors/errors.js';
import { parseMemoryMiB, validateCpus, validateVmName } from '../model/validate.js';
import { parseSizeBytes } from '../util/size.js';
import { validateNetworkName } from '../network/names.js';
import { parseAt, parseEvery } from '../backup/schedules.js';

export const KINDS = ['Project', 'Network', 'Volume', 'Profile', 'VM', 'BackupSchedule'] as const;
export type Kind = (typeof KINDS)[number];

/** Kinds that are planned but not there yet: named so a file using them gets a clear refusal. */
export const RESERVED_KINDS: Record<string, string> = {};

/**
 * How a difference in the field is carried out:
 * - `set`: changed in place (vm set / project quotas / volume resize); live where it can be;
 * - `attach`: the VM's NICs or data volumes, hot-plugged (added and removed one by one);
 * - `state`: start or stop;
 * - `fixed`: compared, but cannot change in place (delete and re-create to change it);
 * - `create`: used when creating only, never compared (the API does not show it back).
 */
export type ChangeMode = 'set' | 'attach' | 'state' | 'fixed' | 'create';

/** A raw value from the file (already type-checked) to its canonical form; throws HangarError on a bad value. */
type Canon = (value: unknown) => unknown;

export interface FieldDef {
  type: 'string' | 'int' | 'bool' | 'number|string' | 'int|string' | 'labels' | 'strings' | 'object';
  /** `null` is accepted (it lifts a limit or clears the field). */
  nullable?: boolean;
  /** Allowed values of a string field. */
  values?: readonly string[];
  /** Fields of an object (cloudInit). */
  fields?: Record<string, FieldDef>;
  mode: ChangeMode;
  canon?: Canon;
  /** What the field is, for messages and the README. */
  help?: string;
}

const mib: Canon = (v) => (v === null ? null : parseMemoryMiB(v));
const bytes = (field: string): Canon => (v) => (v === null ? null : parseSizeBytes(v, field));
const count = (field: string, min = 0): Canon => (v) => {
  if (v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new HangarError('INVALID_SPEC', `${field} must be a whole number of at least ${min}, not ${JSON.stringify(v)}.`);
  return v;
};

/** "150%", "150" or 150 → 150 (percent of one host CPU); null → null (no limit). */
export function canonCpuLimit(v: unknown): number | null {
  if (v === null) return null;
  const n = typeof v === 'number' ? v : /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(String(v))?.[1];
  const pct = Number(n);
  if (n === undefined || !Number.isFinite(pct) || pct < 1 || pct > 100 * 1024) {
    throw new HangarError('INVALID_SPEC', `cpuLimit "${String(v)}" is not a limit: use a percentage of one host CPU such as 50% or 150%, or null.`);
  }
  return Math.round(pct);
}

/** A volume reference: `name` (pool default) or `pool/name` → `pool/name`. */
export function canonVolumeRef(ref: string): string {
  const parts = ref.split('/');
  if (parts.length > 2 || parts.some((p) => !/^[A-Za-z0-9._-]{1,100}$/.test(p) || p === '.' || p === '..')) {
    throw new HangarError('INVALID_SPEC', `"${ref}" is not a volume: use NAME or POOL/NAME.`);
  }
  return parts.length === 2 ? ref : `default/${ref}`;
}

const sortedStrings: Canon = (v) => [...(v as string[])].sort();

const LABEL_KEY = /^[a-z0-9]([a-z0-9._/-]{0,61}[a-z0-9])?$/;
const labels: Canon = (v) => {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v as Record<string, string>).sort(([a], [b]) => a.localeCompare(b))) {
    if (!LABEL_KEY.test(k)) throw new HangarError('INVALID_SPEC', `label key "${k}" is not valid: 1-63 lower-case letters, digits, ".", "_", "/", "-", starting and ending alphanumeric.`);
    out[k] = val;
  }
  return out;
};

/** vCPUs and memory and their hot-plug ceilings: a VM's fields and a profile's settings alike. */
const SIZING: Record<string, FieldDef> = {
  cpus: { type: 'int', mode: 'set', canon: (v) => validateCpus(v) },
  memory: { type: 'int|string', mode: 'set', canon: mib },
  maxCpus: { type: 'int', mode: 'set', canon: (v) => validateCpus(v) },
  maxMemory: { type: 'int|string', mode: 'set', canon: mib },
};

/** A profile's settings (the names of `hangar profile create`), each checked like the VM's field of that name. */
const PROFILE_SETTINGS: Record<string, FieldDef> = {
  ...SIZING,
  cpuLimit: { type: 'number|string', mode: 'set', canon: canonCpuLimit },
  cpuWeight: { type: 'int', mode: 'set', canon: count('cpuWeight', 1) },
  labels: { type: 'labels', mode: 'set', canon: labels },
  ha: { type: 'bool', mode: 'set' },
  haPriority: { type: 'int', mode: 'set', canon: count('haPriority') },
  autostart: { type: 'bool', mode: 'set' },
  restart: { type: 'string', values: ['no', 'on-failure', 'always'], mode: 'set' },
  cpuModel: { type: 'string', mode: 'set' },
  machine: { type: 'string', values: ['q35', 'pc', 'microvm'], mode: 'set' },
  diskBus: { type: 'string', values: ['virtio-blk', 'virtio-scsi', 'sata', 'nvme'], mode: 'set' },
  diskCache: { type: 'string', values: ['none', 'writeback', 'writethrough', 'directsync', 'unsafe'], mode: 'set' },
  nicModel: { type: 'string', values: ['virtio', 'e1000e', 'rtl8139'], mode: 'set' },
  networks: { type: 'strings', mode: 'set' },
  user: { type: 'string', mode: 'set' },
  sshKeys: { type: 'strings', mode: 'set' },
};

/** A profile's settings in canonical form (sizes in MiB, labels by key), each through its own rule. */
export function canonProfileSettings(v: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries((v ?? {}) as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) {
    const def = PROFILE_SETTINGS[k];
    out[k] = def?.canon ? def.canon(val) : val;
  }
  return out;
}

/** "HH:MM" → "HH:MM" with two-digit hours (2:00 and 02:00 are one time). */
function canonAt(v: unknown): string | null {
  if (v === null) return null;
  const minutes = parseAt(String(v));
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

export const KIND_FIELDS: Record<Kind, Record<string, FieldDef>> = {
  Project: {
    description: { type: 'string', mode: 'fixed' },
    maxVms: { type: 'int', nullable: true, mode: 'set', canon: count('maxVms') },
    maxCpus: { type: 'int', nullable: true, mode: 'set', canon: count('maxCpus') },
    maxMemory: { type: 'int|string', nullable: true, mode: 'set', canon: mib },
    maxDisk: { type: 'int|string', nullable: true, mode: 'set', canon: bytes('maxDisk') },
  },
  Network: {
    subnet: { type: 'string', mode: 'fixed', help: 'IPv4 CIDR, e.g. 10.77.0.0/24' },
    nat: { type: 'bool', mode: 'fixed' },
    isolated: { type: 'bool', mode: 'fixed' },
    parent: { type: 'string', mode: 'fixed' },
    tftpRoot: { type: 'string', mode: 'fixed' },
    bootFile: { type: 'string', mode: 'fixed' },
    bootServer: { type: 'string', mode: 'fixed' },
  },
  Volume: {
    pool: { type: 'string', mode: 'fixed' },
    size: { type: 'int|string', mode: 'set', canon: bytes('size'), help: 'grows in place (live); shrinking is refused' },
    format: { type: 'string', values: ['qcow2', 'raw'], mode: 'fixed' },
  },
  Profile: {
    description: { type: 'string', nullable: true, mode: 'set', canon: (v) => (v === '' ? null : v) },
    settings: { type: 'object', mode: 'set', fields: PROFILE_SETTINGS, canon: canonProfileSettings, help: 'the settings, as a whole (a setting left out is removed from the profile)' },
  },
  VM: {
    project: { type: 'string', mode: 'fixed' },
    profiles: { type: 'strings', mode: 'set', help: 'profiles applied in order, the VM\'s own fields last' },
    type: { type: 'string', mode: 'create', help: 'instance type at create: small, medium, large, xlarge or cN-mM' },
    image: { type: 'string', mode: 'fixed' },
    machine: { type: 'string', values: ['q35', 'pc', 'microvm'], mode: 'fixed' },
    cpuModel: { type: 'string', mode: 'create' },
    vnc: { type: 'bool', mode: 'fixed' },
    pool: { type: 'string', mode: 'create' },
    diskSize: { type: 'int|string', mode: 'create', canon: bytes('diskSize') },
    forwards: { type: 'strings', mode: 'create' },
    ...SIZING,
    cpuLimit: { type: 'number|string', nullable: true, mode: 'set', canon: canonCpuLimit },
    cpuWeight: { type: 'int', nullable: true, mode: 'set', canon: count('cpuWeight', 1) },
    networks: { type: 'strings', mode: 'attach', canon: sortedStrings, help: 'managed networks, one NIC on each' },
    volumes: { type: 'strings', mode: 'attach', canon: (v) => (v as string[]).map(canonVolumeRef).sort(), help: 'data volumes attached: NAME or POOL/NAME' },
    labels: { type: 'labels', mode: 'set', canon: labels },
    description: { type: 'string', nullable: true, mode: 'set', canon: (v) => (v === '' ? null : v) },
    autostart: { type: 'bool', mode: 'set' },
    autostartOrder: { type: 'int', mode: 'set', canon: count('autostartOrder') },
    autostartDelay: { type: 'int', mode: 'set', canon: count('autostartDelay') },
    restart: { type: 'string', values: ['no', 'on-failure', 'always'], mode: 'set' },
    restartMax: { type: 'int', mode: 'set', canon: count('restartMax') },
    restartWindow: { type: 'int', mode: 'set', canon: count('restartWindow', 1) },
    cloudInit: {
      // Compared by what the API shows back (format, hostname, user); keys, password and data are sent at create only.
      type: 'object', mode: 'fixed',
      canon: (v) => {
        const c = v as { format?: string; hostname?: string; user?: string };
        return { format: c.format ?? 'nocloud', ...(c.hostname !== undefined && { hostname: c.hostname }), ...(c.user !== undefined && { user: c.user }) };
      },
      fields: {
        format: { type: 'string', values: ['nocloud', 'configdrive'], mode: 'fixed' },
        hostname: { type: 'string', mode: 'fixed' },
        user: { type: 'string', mode: 'fixed' },
        sshKeys: { type: 'strings', mode: 'create' },
        passwordHash: { type: 'string', mode: 'create' },
        userData: { type: 'string', mode: 'create' },
        networkConfig: { type: 'string', mode: 'create' },
      },
    },
    state: { type: 'string', values: ['running', 'stopped'], mode: 'state' },
  },
  // Named after its VM (one schedule per VM); a change replaces the schedule (delete, then create).
  BackupSchedule: {
    every: { type: 'string', mode: 'set', canon: (v) => parseEvery(String(v)), help: 'a period: 30m, 6h, 1d, 7d' },
    at: { type: 'string', nullable: true, mode: 'set', canon: canonAt, help: 'HH:MM (UTC) the runs fall on' },
    repo: { type: 'string', mode: 'set', help: 'the backup repository (default: the default one)' },
    keepLast: { type: 'int', nullable: true, mode: 'set', canon: count('keepLast') },
    keepDaily: { type: 'int', nullable: true, mode: 'set', canon: count('keepDaily') },
    keepWeekly: { type: 'int', nullable: true, mode: 'set', canon: count('keepWeekly') },
    keepMonthly: { type: 'int', nullable: true, mode: 'set', canon: count('keepMonthly') },
  },
};

/** Fields that are planned but not there yet: named so a file using them gets a clear refusal. */
export const RESERVED_FIELDS: Partial<Record<Kind, Record<string, string>>> = {};

/** Checks a resource's name for its kind (the API's rules), or throws INVALID_SPEC. */
export function checkName(kind: Kind, name: string): void {
  if (kind === 'VM' || kind === 'BackupSchedule') {
    validateVmName(name);
    return;
  }
  if (kind === 'Network') {
    validateNetworkName(name);
    return;
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(name)) throw new HangarError('INVALID_SPEC', `"${name}" is not a valid ${kind} name.`);
}
