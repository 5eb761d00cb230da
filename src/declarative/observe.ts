/**
 * What exists, in the declarative form: the daemon's lists (read through the API) turned into
 * resources with the same canonical field values a parsed file has, so a plan compares like
 * with like and `hangar export` writes a file that applies back as "unchanged".
 */
import type { Caller } from '../client/calls.js';
import { backupCalls, imageCalls, networkCalls, poolCalls, profileCalls, projectCalls, vmCalls, volumeCalls } from '../client/calls.js';
import type * as wire from '../contract/index.js';
import { formatEvery } from '../backup/schedules.js';
import { formatMiB } from '../model/validate.js';
import { canonProfileSettings, type Kind } from './kinds.js';

/** The daemon's state as the API lists it. */
export interface CurrentState {
  vms: wire.Vm[];
  networks: wire.Network[];
  volumes: wire.Volume[];
  projects: wire.Project[];
  profiles: wire.Profile[];
  schedules: wire.BackupSchedule[];
  pools: string[];
  images: string[];
}

export interface Observed {
  kind: Kind;
  name: string;
  /** Every field the kind shows back, canonical (as kinds.ts makes them). */
  fields: Record<string, unknown>;
  /** VMs: what the plan needs besides the fields. */
  vm?: wire.Vm;
}

export async function readState(c: Caller): Promise<CurrentState> {
  const [vms, networks, volumes, projects, profiles, schedules, pools, images] = await Promise.all([
    vmCalls(c).list(), networkCalls(c).list(), volumeCalls(c).list(), projectCalls(c).list(), profileCalls(c).list(), backupCalls(c).schedules(), poolCalls(c).list(), imageCalls(c).list(),
  ]);
  return { vms, networks, volumes, projects, profiles, schedules, pools: pools.map((p) => p.name), images: images.map((i) => i.name) };
}

/** The states in which a VM's QEMU runs (changes can be live). */
export function isRunning(vm: wire.Vm): boolean {
  return ['running', 'paused', 'starting'].includes(vm.state);
}

/** A volume's key, as VM `volumes` lists it canonically. */
export const volumeKey = (pool: string, name: string) => `${pool}/${name}`;

/** Data volumes: those not made for one VM (its root disk, NVRAM…) and not a frozen base. */
export function isDataVolume(v: wire.Volume): boolean {
  return v.ownedBy === undefined && !v.frozen;
}

export function observe(state: CurrentState): Observed[] {
  const out: Observed[] = [];
  for (const p of state.projects) {
    out.push({
      kind: 'Project', name: p.name,
      fields: {
        description: p.description ?? null, maxVms: p.quotas.vms ?? null, maxCpus: p.quotas.cpus ?? null,
        maxMemory: p.quotas.memoryMiB ?? null, maxDisk: p.quotas.diskBytes ?? null,
      },
    });
  }
  for (const n of state.networks) {
    out.push({
      kind: 'Network', name: n.name,
      fields: {
        subnet: n.subnet, nat: n.nat, isolated: n.isolated, parent: n.parent ?? null,
        tftpRoot: n.tftpRoot ?? null, bootFile: n.bootFile ?? null, bootServer: n.bootServer ?? null,
      },
    });
  }
  for (const v of state.volumes.filter(isDataVolume)) {
    out.push({ kind: 'Volume', name: v.name, fields: { pool: v.pool, size: v.sizeBytes, format: v.format } });
  }
  for (const p of state.profiles) {
    out.push({ kind: 'Profile', name: p.name, fields: { description: p.description ?? null, settings: canonProfileSettings(p.settings) } });
  }
  const data = new Set(state.volumes.filter(isDataVolume).map((v) => volumeKey(v.pool, v.name)));
  for (const vm of state.vms) out.push({ kind: 'VM', name: vm.name, fields: vmFields(vm, data), vm });
  for (const b of state.schedules) {
    out.push({
      kind: 'BackupSchedule', name: b.vm,
      fields: { every: b.everySeconds, at: b.at ?? null, repo: b.repo, keepLast: b.keepLast ?? null, keepDaily: b.keepDaily ?? null, keepWeekly: b.keepWeekly ?? null, keepMonthly: b.keepMonthly ?? null },
    });
  }
  return out;
}

function vmFields(vm: wire.Vm, dataVolumes: Set<string>): Record<string, unknown> {
  const cloudInit = vm.cloudInit && {
    format: vm.cloudInit.format, ...(vm.cloudInit.hostname !== undefined && { hostname: vm.cloudInit.hostname }), ...(vm.cloudInit.user !== undefined && { user: vm.cloudInit.user }),
  };
  return {
    project: vm.project,
    profiles: vm.profiles ?? [],
    image: vm.image ?? null,
    machine: vm.machine,
    vnc: vm.vnc,
    cpus: vm.cpus,
    memory: vm.memory,
    maxCpus: vm.maxCpus,
    maxMemory: vm.maxMemory,
    cpuLimit: vm.cpuLimit ?? null,
    cpuWeight: vm.cpuWeight ?? null,
    networks: vm.nics.filter((n) => n.kind === 'network' && n.network !== undefined).map((n) => n.network!).sort(),
    volumes: vm.disks.filter((d) => d.pool !== undefined && d.volume !== undefined && dataVolumes.has(volumeKey(d.pool, d.volume))).map((d) => volumeKey(d.pool!, d.volume!)).sort(),
    labels: Object.fromEntries(Object.entries(vm.labels ?? {}).sort(([a], [b]) => a.localeCompare(b))),
    description: vm.description ?? null,
    autostart: vm.autostart !== undefined,
    autostartOrder: vm.autostart?.order ?? 0,
    autostartDelay: vm.autostart?.delaySeconds ?? 0,
    restart: vm.restart.mode,
    restartMax: vm.restart.maxRestarts,
    restartWindow: vm.restart.windowSeconds,
    cloudInit: cloudInit ?? null,
    state: isRunning(vm) ? 'running' : 'stopped',
  };
}

/** Bytes as a size a file would say (exact: 64M, 2G), or the number of bytes. */
export function sizeText(bytes: number): string | number {
  for (const [unit, factor] of [['T', 2 ** 40], ['G', 2 ** 30], ['M', 2 ** 20]] as const) if (bytes % factor === 0) return `${bytes / factor}${unit}`;
  return bytes;
}

/**
 * A resource as a file declares it (for `hangar export`): the fields that say something
 * (defaults and empty lists left out), sizes as text. Parsed back it gives `fields` again.
 */
export function toDeclaration(o: Observed): Record<string, unknown> {
  const f = o.fields;
  const doc: Record<string, unknown> = { apiVersion: 'hangar/v1', kind: o.kind, name: o.name };
  // A VM with profiles: the settings they give are theirs (written in the Profile), not the VM's.
  const fromProfiles = o.kind === 'VM' && (f.profiles as string[]).length > 0 ? profileGiven(o.vm?.ownSettings ?? []) : new Set<string>();
  const put = (key: string, value: unknown, when = value !== null && value !== undefined) => {
    if (when && !fromProfiles.has(key)) doc[key] = value;
  };
  switch (o.kind) {
    case 'Project':
      put('description', f.description);
      put('maxVms', f.maxVms);
      put('maxCpus', f.maxCpus);
      put('maxMemory', f.maxMemory === null ? null : formatMiB(f.maxMemory as number));
      put('maxDisk', f.maxDisk === null ? null : sizeText(f.maxDisk as number));
      break;
    case 'Network':
      for (const k of ['subnet', 'nat', 'isolated', 'parent', 'tftpRoot', 'bootFile', 'bootServer']) put(k, f[k]);
      break;
    case 'Volume':
      put('pool', f.pool);
      put('size', sizeText(f.size as number));
      put('format', f.format);
      break;
    case 'BackupSchedule':
      put('every', formatEvery(f.every as number));
      for (const k of ['at', 'repo', 'keepLast', 'keepDaily', 'keepWeekly', 'keepMonthly']) put(k, f[k]);
      break;
    case 'Profile':
      put('description', f.description);
      put('settings', profileSettingsText(f.settings as Record<string, unknown>));
      break;
    case 'VM': {
      put('project', f.project);
      put('profiles', f.profiles, (f.profiles as string[]).length > 0);
      put('image', f.image);
      put('machine', f.machine);
      put('vnc', f.vnc, f.vnc !== (f.machine !== 'microvm'));
      put('cpus', f.cpus);
      put('memory', formatMiB(f.memory as number));
      put('maxCpus', f.maxCpus, f.maxCpus !== f.cpus);
      put('maxMemory', formatMiB(f.maxMemory as number), f.maxMemory !== f.memory);
      put('cpuLimit', f.cpuLimit);
      put('cpuWeight', f.cpuWeight);
      put('networks', f.networks, (f.networks as string[]).length > 0);
      put('volumes', (f.volumes as string[]).map((v) => v.replace(/^default\//, '')), (f.volumes as string[]).length > 0);
      put('labels', f.labels, Object.keys(f.labels as object).length > 0);
      put('description', f.description);
      if (f.autostart) {
        put('autostart', true);
        put('autostartOrder', f.autostartOrder);
        put('autostartDelay', f.autostartDelay);
      }
      if (f.restart !== 'no' || f.restartMax !== 3 || f.restartWindow !== 600) {
        put('restart', f.restart);
        put('restartMax', f.restartMax);
        put('restartWindow', f.restartWindow);
      }
      put('cloudInit', f.cloudInit);
      put('state', f.state);
      break;
    }
  }
  return doc;
}

/** The VM fields that come from its profiles unless it has them of its own (`ownSettings`, by `vm set` names). */
function profileGiven(own: string[]): Set<string> {
  const groups: Record<string, string[]> = {
    cpus: ['cpus'], memory: ['memory'], maxCpus: ['maxCpus'], maxMemory: ['maxMemory'], cpuLimit: ['cpuLimit'], cpuWeight: ['cpuWeight'],
    labels: ['labels'], autostart: ['autostart', 'autostartOrder', 'autostartDelay'], restart: ['restart', 'restartMax', 'restartWindow'],
  };
  return new Set(Object.entries(groups).filter(([setting]) => !own.includes(setting)).flatMap(([, fields]) => fields));
}

/** A profile's settings as a file writes them: memory sizes as text. */
function profileSettingsText(settings: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(settings)) out[k] = (k === 'memory' || k === 'maxMemory') && typeof v === 'number' ? formatMiB(v) : v;
  return out;
}
