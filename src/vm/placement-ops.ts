/**
 * The VM service's side of memory and CPU placement: turning create/set inputs into spec
 * fields, the host checks before a start (hugepages free, CPUs online, IOMMU groups),
 * thread discovery and pinning while QEMU waits paused, and what `vm show` says about it.
 * Kept apart from service.ts so the lifecycle code only calls in at a few points.
 */
import { HangarError } from '../errors/errors.js';
import { checkHostdevs, checkHostPlacement, checkHugepages, defaultHugepageKiB, onlineCpus, type HostRoots } from '../host/placement.js';
import { applyPinning, effectiveAffinity, queryThreads, type AffinitySetter, type EffectiveAffinity, type QemuThreads } from '../resources/pinning.js';
import type { QmpClient } from '../qmp/index.js';
import type { VmRecord } from '../store/store.js';
import {
  diskIothread, formatCpuList, formatPageSize, mergePin, normalizeHostdevs, normalizeHugepages, normalizeNuma, validateIothreadCount,
  validatePlacement, type HugepagesInput, type NumaNodeInput, type PinInput, type PlacementSnapshot,
} from '../model/placement.js';
import type { VmSpec } from '../model/spec.js';
import { parseMemoryMiB, validateCpus } from '../model/validate.js';

/** Placement fields of `vm create` (API body and CLI flags). */
export interface PlacementInput {
  /** true (the host's default page size), "2M", "1G" or {sizeKiB}. */
  hugepages?: HugepagesInput;
  numa?: NumaNodeInput[];
  pin?: PinInput;
  iothreads?: number;
  hostdevs?: Array<string | { address: string }>;
}

/** Placement fields of `vm set`; null clears one. All but `pin` apply at the next start. */
export interface PlacementSettings {
  hugepages?: HugepagesInput;
  numa?: NumaNodeInput[] | null;
  pin?: PinInput;
  iothreads?: number | null;
  hostdevs?: Array<string | { address: string }> | null;
}

export interface PlacementOptions {
  roots?: HostRoots;
  /** Sets thread affinity (default: taskset). */
  setter?: AffinitySetter;
}

export interface PlacementView {
  /** Hugepage size, e.g. 2M. */
  hugepages?: string;
  numa?: { node: number; cpus: string; memory: number; hostNodes?: string }[];
  iothreads?: number;
  pin?: { vcpus?: Record<string, string>; emulator?: string; iothreads?: string };
  hostdevs?: string[];
  /** While QEMU runs: the host CPUs each thread may use now, read from /proc/PID/task/TID/status. */
  effective?: EffectiveAffinity;
}

const memory = (v: string | number) => parseMemoryMiB(v);

/** Fills the placement fields of a new VM's spec, then checks them against it and the host. */
export async function applyPlacementInput(spec: VmSpec, input: PlacementInput, opts: PlacementOptions = {}): Promise<void> {
  if (input.hugepages !== undefined) {
    const hp = normalizeHugepages(input.hugepages, await defaultHugepageKiB(opts.roots));
    if (hp) spec.hugepages = hp;
  }
  if (input.numa?.length) spec.numa = normalizeNuma(input.numa, memory);
  if (input.iothreads !== undefined) {
    const n = validateIothreadCount(input.iothreads);
    if (n !== undefined) spec.iothreads = n;
  }
  if (input.pin !== undefined) {
    const pin = mergePin(undefined, input.pin);
    if (pin) spec.pin = pin;
  }
  if (input.hostdevs?.length) spec.hostdevs = normalizeHostdevs(input.hostdevs);
  await checkPlacement(spec, opts);
}

/** The spec checks plus the host ones that do not change from minute to minute. */
export async function checkPlacement(spec: VmSpec, opts: PlacementOptions = {}): Promise<void> {
  validatePlacement(spec);
  await checkHostPlacement(spec, opts.roots);
  if (spec.hostdevs?.length) await checkHostdevs(spec.hostdevs, opts.roots);
}

/**
 * The spec `vm set` would leave, for checking before anything is applied: resources as
 * set() changes them, and the placement settings. Throws INVALID_SPEC for a bad result.
 */
export async function previewSettings(
  spec: VmSpec, settings: PlacementSettings & { cpus?: number; maxCpus?: number; memory?: string | number; maxMemory?: string | number; disks?: Record<string, { iothread?: string | null }> },
  opts: PlacementOptions = {},
): Promise<VmSpec> {
  const next = structuredClone(spec);
  if (settings.maxCpus !== undefined) next.maxCpus = validateCpus(settings.maxCpus);
  if (settings.maxMemory !== undefined) next.maxMemoryMiB = parseMemoryMiB(settings.maxMemory);
  if (settings.memory !== undefined) {
    next.memoryMiB = parseMemoryMiB(settings.memory);
    if ((next.maxMemoryMiB ?? 0) < next.memoryMiB) next.maxMemoryMiB = next.memoryMiB;
  }
  if (settings.cpus !== undefined) {
    next.cpus = validateCpus(settings.cpus);
    if ((next.maxCpus ?? 0) < next.cpus) next.maxCpus = next.cpus;
  }
  if (settings.hugepages !== undefined) {
    const hp = normalizeHugepages(settings.hugepages, await defaultHugepageKiB(opts.roots));
    if (hp) next.hugepages = hp;
    else delete next.hugepages;
  }
  if (settings.numa !== undefined) {
    if (settings.numa === null || settings.numa.length === 0) delete next.numa;
    else next.numa = normalizeNuma(settings.numa, memory);
  }
  if (settings.iothreads !== undefined) {
    const n = validateIothreadCount(settings.iothreads);
    if (n === undefined) delete next.iothreads;
    else next.iothreads = n;
  }
  if (settings.pin !== undefined) {
    const pin = mergePin(next.pin, settings.pin);
    if (pin) next.pin = pin;
    else delete next.pin;
  }
  if (settings.hostdevs !== undefined) {
    if (settings.hostdevs === null || settings.hostdevs.length === 0) delete next.hostdevs;
    else next.hostdevs = normalizeHostdevs(settings.hostdevs);
  }
  for (const [key, d] of Object.entries(settings.disks ?? {})) {
    if (d.iothread === undefined) continue;
    const disk = next.disks.find((x) => x.id === key || x.volume?.name === key);
    if (!disk) continue; // set() reports the unknown disk
    if (d.iothread === null) delete disk.iothread;
    else disk.iothread = d.iothread;
  }
  const changed = (['hugepages', 'numa', 'pin', 'iothreads', 'hostdevs'] as const).some((k) => settings[k] !== undefined);
  // Resource changes must keep an existing topology valid too (NUMA memory = memory, ...).
  validatePlacement(next);
  if (changed) {
    await checkHostPlacement(next, opts.roots);
    if (settings.hostdevs && next.hostdevs?.length) await checkHostdevs(next.hostdevs, opts.roots);
  }
  return next;
}

/**
 * Before a start, with no state changed yet: enough free hugepages for the boot memory,
 * pinned CPUs online, host devices ready and not given to another running VM.
 */
export async function checkBeforeStart(rec: VmRecord, others: readonly VmRecord[], opts: PlacementOptions = {}): Promise<void> {
  const { spec } = rec;
  await checkHostPlacement(spec, opts.roots);
  if (spec.hostdevs?.length) {
    await checkHostdevs(spec.hostdevs, opts.roots);
    for (const other of others) {
      const shared = (other.spec.hostdevs ?? []).filter((d) => spec.hostdevs!.some((x) => x.address === d.address));
      if (shared.length) {
        throw new HangarError('HOSTDEV_UNAVAILABLE', `Host device ${shared.map((d) => d.address).join(', ')} is in use by running VM "${other.name}": stop it first.`, { details: { vm: other.name } });
      }
    }
  }
  if (spec.hugepages) await checkHugepages(rec.name, spec.memoryMiB, spec.hugepages.sizeKiB, opts.roots);
}

/**
 * On the paused QEMU: learns its vCPU (and I/O) thread ids and pins them, before the guest
 * runs its first instruction. Returns the thread ids to keep with the runtime.
 */
export async function placeThreads(spec: VmSpec, pid: number, qmp: QmpClient, opts: PlacementOptions = {}): Promise<QemuThreads> {
  const threads = await queryThreads(qmp, (spec.iothreads ?? 0) > 0);
  if (spec.pin) await applyPinning(pid, threads, spec.pin, await onlineCpus(opts.roots), { ...(opts.setter && { setter: opts.setter }), ...(opts.roots?.proc && { procRoot: opts.roots.proc }) });
  return threads;
}

/** The running guest's placement as `vm show` reports it. */
export function placementView(rec: Pick<VmRecord, 'spec'>): PlacementView | undefined {
  const { spec } = rec;
  const v: PlacementView = {};
  if (spec.hugepages) v.hugepages = formatPageSize(spec.hugepages.sizeKiB);
  if (spec.numa) {
    v.numa = spec.numa.map((n, i) => ({ node: i, cpus: formatCpuList(n.cpus), memory: n.memoryMiB, ...(n.hostNodes && { hostNodes: formatCpuList(n.hostNodes) }) }));
  }
  if (spec.iothreads) v.iothreads = spec.iothreads;
  if (spec.pin) {
    const pin: NonNullable<PlacementView['pin']> = {};
    if (spec.pin.vcpus) pin.vcpus = Object.fromEntries(Object.entries(spec.pin.vcpus).map(([k, c]) => [k, formatCpuList(c)]));
    if (spec.pin.emulator) pin.emulator = formatCpuList(spec.pin.emulator);
    if (spec.pin.iothreads) pin.iothreads = formatCpuList(spec.pin.iothreads);
    v.pin = pin;
  }
  if (spec.hostdevs?.length) v.hostdevs = spec.hostdevs.map((d) => d.address);
  return Object.keys(v).length ? v : undefined;
}

/** placementView plus each thread's affinity now, when QEMU runs. */
export async function placementViewLive(rec: VmRecord, procRoot?: string): Promise<PlacementView | undefined> {
  const view = placementView(rec);
  const rt = rec.runtime;
  if (!rt?.threads || (rec.state !== 'running' && rec.state !== 'paused')) return view;
  return { ...view, effective: await effectiveAffinity(rt.pid, rt.threads, procRoot) };
}

/** Placement settings that differ between the spec and what the run started with. */
export function pendingPlacement(spec: VmSpec, started: PlacementSnapshot | undefined): string[] {
  if (!started) return [];
  const now: PlacementSnapshot = { hugepages: spec.hugepages ?? null, numa: spec.numa ?? null, iothreads: spec.iothreads ?? null, hostdevs: spec.hostdevs ?? null };
  return (Object.keys(now) as Array<keyof PlacementSnapshot>).filter((k) => JSON.stringify(now[k]) !== JSON.stringify(started[k]));
}

/** The I/O thread a disk hot-plugged as the VM's `index`th disk gets in this run. */
export function hotplugIothread(started: PlacementSnapshot | undefined, disk: { iothread?: string }, index: number): string | undefined {
  const count = started?.iothreads ?? 0;
  if (!count) return undefined;
  const wanted = diskIothread({ iothreads: count }, disk, index);
  // A disk's own choice may name a thread this run does not have (iothreads changed since the start).
  return wanted !== undefined && Number(/\d+$/.exec(wanted)?.[0]) < count ? wanted : diskIothread({ iothreads: count }, {}, index);
}
