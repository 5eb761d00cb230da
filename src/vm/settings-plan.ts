/**
 * `vm set` as a plan: from the spec, the settings asked for and what the running guest has,
 * the new spec, the live actions to take on the running guest (in order), the host checks to
 * pass before any of them, and what to tell the user about each key. Pure: no I/O, and a
 * bad setting throws before anything is applied (settings-apply.ts carries the plan out).
 * The validation rules shared with `vm create` live here too.
 */
import { HangarError } from '../errors/errors.js';
import type { DiskSpec, HugepagesSpec, PinSpec, VmSpec } from '../model/spec.js';
import { dimmAlignMiB, memoryBackendProps } from '../model/placement.js';
import { parseMemoryMiB, validateCpus } from '../model/validate.js';
import { DEFAULT_RESTART_POLICY, type RestartMode } from '../policy/restart.js';
import { dimmGrowthMiB, type DimmOptions, type LiveResources } from '../resources/live.js';
import { parseSizeBytes } from '../util/size.js';
import { checkFitsHost, type HostInfo } from './capacity.js';
import { placementView, type PlacementSettings } from './placement-ops.js';

/** `vm set`: each key applies live where the guest allows, otherwise at the next start. */
/** Autostart and restart policy: the same fields in `vm create` and `vm set`. */
export interface PolicyInput {
  autostart?: boolean;
  evacuate?: 'live' | 'cold' | 'stop';
  autostartOrder?: number;
  autostartDelay?: number;
  restart?: RestartMode;
  restartMax?: number;
  restartWindow?: number;
  ha?: boolean;
  haPriority?: number;
}

export interface VmSettings extends PlacementSettings, PolicyInput {
  cpus?: number;
  memory?: string | number;
  maxCpus?: number;
  maxMemory?: string | number;
  /** Percent of one host CPU ("150%" or 150); null lifts the limit. */
  cpuLimit?: number | string | null;
  cpuWeight?: number | null;
  /** Per disk (device id like disk0, or volume name): I/O limits; 0 or null lifts them. */
  disks?: Record<string, { iops?: number | null; bps?: string | number | null; iothread?: string | null }>;
}

export interface SettingResult {
  key: string;
  value: unknown;
  /** `live`: the running guest has it now; `next-start`: stored, applies at the next start. */
  applied: 'live' | 'next-start';
  note?: string;
}

/** What the plan needs besides spec, settings and live resources, gathered by the caller. */
export interface SettingsContext {
  name: string;
  host: HostInfo;
  /** The spec `previewSettings` makes of these settings (placement normalized and checked against the host). */
  preview: VmSpec;
  /** The host's cpu cgroup version; undefined: no cpu controller (limits are stored, not enforced). */
  cgroupVersion?: number | undefined;
  /** While QEMU runs: what this run started with. */
  run?: { accel: string; hugepages?: HugepagesSpec | undefined; iothreads: number };
}

/** A check against the host or the project, passed before any live action. */
export type SettingsCheck =
  | { kind: 'quota'; cpus: number; memoryMiB: number }
  /** The VM's spec grown by this much must fit beside the other running VMs. */
  | { kind: 'capacity'; cpus: number; memoryMiB: number }
  | { kind: 'hugepages'; memoryMiB: number; sizeKiB: number };

/** One step on the running guest; `key` is the change it reports under. */
export type LiveAction =
  | { kind: 'memory'; key: 'memory'; memoryMiB: number; balloon: boolean; accel: string; dimm: DimmOptions }
  | { kind: 'cpus'; key: 'cpus'; cpus: number }
  /** Re-reads QEMU's thread ids (vCPUs come and go) and, with `applyPins`, pins them (taskset). */
  | { kind: 'threads'; withIothreads: boolean; pin: PinSpec | undefined; applyPins: boolean }
  | { kind: 'cpu-limit'; key: 'cpuLimit'; percent: number | undefined }
  | { kind: 'cpu-weight'; key: 'cpuWeight'; weight: number | undefined }
  | { kind: 'disk-throttle'; key: string; device: string; iops: number; bps: number; bus: 'pci' | 'mmio' };

export interface SettingsPlan {
  spec: VmSpec;
  checks: SettingsCheck[];
  liveActions: LiveAction[];
  /** In the order the settings are applied; live actions may still turn one into `next-start`. */
  changes: SettingResult[];
}

/**
 * Plans `settings` on a VM with `spec`; `live` is what its QEMU has now (undefined when it
 * does not run). Throws INVALID_SPEC or HOST_CAPACITY for a setting that cannot be.
 */
export function planSettings(spec: VmSpec, settings: VmSettings, live: LiveResources | undefined, ctx: SettingsContext): SettingsPlan {
  const next: VmSpec = structuredClone(spec);
  const { preview } = ctx;
  const checks: SettingsCheck[] = [];
  const liveActions: LiveAction[] = [];
  const changes: SettingResult[] = [];
  const later = (key: string, value: unknown, note?: string) => changes.push({ key, value, applied: 'next-start', ...(note && { note }) });
  const now = (key: string, value: unknown, note?: string) => changes.push({ key, value, applied: 'live', ...(note && { note }) });

  if (settings.cpus !== undefined || settings.memory !== undefined) {
    const moreCpus = settings.cpus !== undefined ? Math.max(0, validateCpus(settings.cpus) - spec.cpus) : 0;
    const moreMiB = settings.memory !== undefined ? Math.max(0, parseMemoryMiB(settings.memory) - spec.memoryMiB) : 0;
    checks.push({ kind: 'quota', cpus: moreCpus, memoryMiB: moreMiB });
  }
  if (settings.maxCpus !== undefined) {
    next.maxCpus = validateCpus(settings.maxCpus);
    later('maxCpus', next.maxCpus, 'hot-plug ceilings apply from the next start');
  }
  if (settings.maxMemory !== undefined) {
    next.maxMemoryMiB = parseMemoryMiB(settings.maxMemory);
    later('maxMemory', next.maxMemoryMiB, 'hot-plug ceilings apply from the next start');
  }
  if (settings.memory !== undefined) {
    const mib = parseMemoryMiB(settings.memory);
    checkFitsHost(ctx.host, ctx.name, next.cpus, mib);
    if (live && mib > live.memoryMiB) checks.push({ kind: 'capacity', cpus: 0, memoryMiB: mib - live.memoryMiB });
    next.memoryMiB = mib;
    if ((next.maxMemoryMiB ?? 0) < mib) next.maxMemoryMiB = mib;
    const fitsLive = live && (mib <= live.pluggedMiB || mib <= live.maxMemoryMiB);
    if (live && ctx.run && fitsLive) {
      // DIMMs come from the same backend as the running guest's RAM (hugepages or not).
      const running = { hugepages: ctx.run.hugepages };
      const dimm = { backend: memoryBackendProps(running), alignMiB: dimmAlignMiB(running) };
      const grow = dimmGrowthMiB(live, mib, dimm.alignMiB);
      if (running.hugepages && grow > 0) checks.push({ kind: 'hugepages', memoryMiB: grow, sizeKiB: running.hugepages.sizeKiB });
      liveActions.push({ kind: 'memory', key: 'memory', memoryMiB: mib, balloon: spec.balloon, accel: ctx.run.accel, dimm });
      now('memory', mib, mib > spec.memoryMiB ? 'hot-plugged' : 'balloon');
    } else {
      later('memory', mib, live ? `above this run's maximum of ${live.maxMemoryMiB} MiB (set max-memory, then restart)` : undefined);
    }
  }
  // vCPUs after memory: QEMU 7.2 under TCG was seen to crash on a DIMM plugged right after a vCPU unplug.
  if (settings.cpus !== undefined) {
    const cpus = validateCpus(settings.cpus);
    checkFitsHost(ctx.host, ctx.name, cpus, next.memoryMiB);
    if (live && cpus > spec.cpus) checks.push({ kind: 'capacity', cpus: cpus - live.cpus, memoryMiB: 0 });
    next.cpus = cpus;
    if ((next.maxCpus ?? 0) < cpus) next.maxCpus = cpus;
    if (live && ctx.run && cpus <= live.maxCpus) {
      liveActions.push({ kind: 'cpus', key: 'cpus', cpus });
      now('cpus', cpus);
    } else {
      later('cpus', cpus, live ? `above this run's maximum of ${live.maxCpus} (set max-cpus, then restart)` : undefined);
    }
  }
  if (settings.pin !== undefined) {
    if (preview.pin) next.pin = preview.pin;
    else delete next.pin;
  }
  // Pins apply live (taskset); a vCPU hot-plug gets them re-applied to its new thread.
  if (live && ctx.run && (settings.pin !== undefined || settings.cpus !== undefined)) {
    liveActions.push({ kind: 'threads', withIothreads: ctx.run.iothreads > 0, pin: next.pin, applyPins: next.pin !== undefined || settings.pin !== undefined });
    if (settings.pin !== undefined) now('pin', placementView({ spec: next })?.pin ?? null, 'taskset');
  } else if (settings.pin !== undefined) {
    later('pin', placementView({ spec: next })?.pin ?? null);
  }
  for (const key of ['hugepages', 'numa', 'iothreads', 'hostdevs'] as const) {
    if (settings[key] === undefined) continue;
    if (preview[key] === undefined) delete next[key];
    else Object.assign(next, { [key]: preview[key] });
    later(key, preview[key] ?? null, live ? 'at the next start' : undefined);
  }
  if (settings.cpuLimit !== undefined) {
    const pct = parseCpuLimit(settings.cpuLimit);
    if (pct === undefined) delete next.cpuLimitPercent;
    else next.cpuLimitPercent = pct;
    if (planCpuControl(live !== undefined, ctx, 'cpuLimit', pct, now, later)) liveActions.push({ kind: 'cpu-limit', key: 'cpuLimit', percent: pct });
  }
  if (settings.cpuWeight !== undefined) {
    const w = settings.cpuWeight === null ? undefined : validateWeight(settings.cpuWeight);
    if (w === undefined) delete next.cpuWeight;
    else next.cpuWeight = w;
    if (planCpuControl(live !== undefined, ctx, 'cpuWeight', w, now, later)) liveActions.push({ kind: 'cpu-weight', key: 'cpuWeight', weight: w });
  }
  for (const [key, limits] of Object.entries(settings.disks ?? {})) {
    const disk = next.disks.find((d) => d.id === key || d.volume?.name === key);
    if (!disk) throw new HangarError('INVALID_SPEC', `VM "${ctx.name}" has no disk "${key}": use a device id (disk0) or a volume name.`);
    if (limits.iothread !== undefined) {
      const chosen = preview.disks.find((d) => d.id === disk.id)?.iothread;
      if (chosen === undefined) delete disk.iothread;
      else disk.iothread = chosen;
      later(`disk.${key}.iothread`, chosen ?? null, chosen === undefined ? 'assigned round-robin' : undefined);
    }
    if (limits.iops === undefined && limits.bps === undefined) continue;
    if (limits.iops !== undefined) setLimit(disk, 'iops', limits.iops === null ? 0 : validateCount(limits.iops, 'iops'));
    if (limits.bps !== undefined) setLimit(disk, 'bps', limits.bps === null || limits.bps === 0 ? 0 : parseSizeBytes(limits.bps, 'bps'));
    const value = { iops: disk.iops ?? 0, bps: disk.bps ?? 0 };
    if (live && ctx.run) {
      liveActions.push({ kind: 'disk-throttle', key: `disk.${key}`, device: disk.id, ...value, bus: next.machine === 'microvm' ? 'mmio' : 'pci' });
      now(`disk.${key}`, value);
    } else {
      later(`disk.${key}`, value);
    }
  }
  for (const key of applyPolicyFields(next, settings)) {
    changes.push({ key, value: key === 'autostart' ? (next.autostart ?? false) : key === 'ha' ? (next.ha ?? false) : key === 'evacuate' ? next.evacuate : next.restart, applied: 'live', note: 'policy' });
  }
  return { spec: next, checks, liveActions, changes };
}

/** cpu limit or weight: live through the VM's cgroup when it runs and the host has one. Returns whether to act live. */
function planCpuControl(
  running: boolean, ctx: SettingsContext, key: 'cpuLimit' | 'cpuWeight', value: number | undefined,
  now: (k: string, v: unknown, note?: string) => void, later: (k: string, v: unknown, note?: string) => void,
): boolean {
  if (!running) {
    later(key, value ?? null);
    return false;
  }
  if (ctx.cgroupVersion === undefined) {
    later(key, value ?? null, 'this host has no cpu cgroup controller: stored, not enforced');
    return false;
  }
  now(key, value ?? null, `cgroup v${ctx.cgroupVersion}`);
  return true;
}

/** autostart / restart settings, shared by create and set. Returns the keys it changed. */
export function applyPolicyFields(spec: VmSpec, input: Pick<VmSettings, 'autostart' | 'autostartOrder' | 'autostartDelay' | 'restart' | 'restartMax' | 'restartWindow' | 'ha' | 'haPriority' | 'evacuate'>): string[] {
  const changed: string[] = [];
  if (input.ha === false) {
    delete spec.ha;
    changed.push('ha');
  } else if (input.ha || input.haPriority !== undefined) {
    const priority = input.haPriority !== undefined ? validateCount(input.haPriority, 'ha.priority') : (spec.ha?.priority ?? 0);
    if (priority > 1000) throw new HangarError('INVALID_SPEC', `ha.priority must be 0-1000, not ${priority}.`, { details: { field: 'haPriority' } });
    if (!spec.ha && !input.ha) throw new HangarError('INVALID_SPEC', 'ha.priority needs ha=true.', { details: { field: 'haPriority' } });
    spec.ha = { priority };
    changed.push('ha');
  }
  if (input.autostart === false) {
    delete spec.autostart;
    changed.push('autostart');
  } else if (input.autostart || input.autostartOrder !== undefined || input.autostartDelay !== undefined) {
    spec.autostart = {
      order: input.autostartOrder !== undefined ? validateCount(input.autostartOrder, 'autostart.order') : (spec.autostart?.order ?? 0),
      delaySeconds: input.autostartDelay !== undefined ? validateCount(input.autostartDelay, 'autostart.delay') : (spec.autostart?.delaySeconds ?? 0),
    };
    changed.push('autostart');
  }
  if (input.evacuate !== undefined) {
    if (!['live', 'cold', 'stop'].includes(input.evacuate)) throw new HangarError('INVALID_SPEC', `evacuate must be live, cold or stop, not "${String(input.evacuate)}".`, { details: { field: 'evacuate' } });
    spec.evacuate = input.evacuate;
    changed.push('evacuate');
  }
  if (input.restart !== undefined || input.restartMax !== undefined || input.restartWindow !== undefined) {
    const cur = spec.restart ?? DEFAULT_RESTART_POLICY;
    if (input.restart !== undefined && !['no', 'on-failure', 'always'].includes(input.restart)) {
      throw new HangarError('INVALID_SPEC', `restart must be no, on-failure or always, not "${String(input.restart)}".`, { details: { field: 'restart' } });
    }
    spec.restart = {
      mode: input.restart ?? cur.mode,
      maxRestarts: input.restartMax !== undefined ? validateCount(input.restartMax, 'restart.max') : cur.maxRestarts,
      windowSeconds: input.restartWindow !== undefined ? Math.max(1, validateCount(input.restartWindow, 'restart.window')) : cur.windowSeconds,
    };
    changed.push('restart');
  }
  return changed;
}

/** "150%", "150" or 150 → 150 (percent of one host CPU); null/"none" → undefined. */
export function parseCpuLimit(value: number | string | null): number | undefined {
  if (value === null || value === 'none' || value === 'max') return undefined;
  const n = typeof value === 'number' ? value : /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(value)?.[1];
  const pct = Number(n);
  if (n === undefined || !Number.isFinite(pct) || pct < 1 || pct > 100 * 1024) {
    throw new HangarError('INVALID_SPEC', `cpu.limit "${String(value)}" is not a limit: use a percentage of one host CPU such as 50% or 150%, or none.`, { details: { field: 'cpuLimit' } });
  }
  return Math.round(pct);
}

export function validateWeight(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 10000) {
    throw new HangarError('INVALID_SPEC', `cpu.weight must be a whole number from 1 to 10000 (100 is the default share), not ${JSON.stringify(value)}.`, { details: { field: 'cpuWeight' } });
  }
  return value;
}

function validateCount(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 10_000_000) {
    throw new HangarError('INVALID_SPEC', `${field} must be a whole number from 0 (no limit) to 10000000, not ${JSON.stringify(value)}.`, { details: { field } });
  }
  return value;
}

function setLimit(disk: DiskSpec, key: 'iops' | 'bps', value: number): void {
  if (value === 0) delete disk[key];
  else disk[key] = value;
}
