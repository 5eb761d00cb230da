/**
 * Memory and CPU placement in a VmSpec: hugepage backing, guest NUMA nodes, host pinning,
 * I/O threads and VFIO host devices. Pure functions: what users write (CLI flags, API
 * bodies) becomes normalized spec data here, and `validatePlacement` checks a whole spec.
 * What the host has (free hugepages, online CPUs, IOMMU groups) is checked in
 * host/placement.ts at create and start.
 */
import { HangarError } from '../errors/errors.js';
import type { HostdevSpec, HugepagesSpec, NumaNodeSpec, PinSpec, VmSpec } from './spec.js';

/** x86 hugepage sizes (KiB). */
export const HUGEPAGE_SIZES_KIB = [2048, 1024 * 1024] as const;
/** QEMU 7.2's MAX_NODES is 128; more than 64 guest nodes is a typo, not a plan. */
export const MAX_NUMA_NODES = 64;
export const MAX_IOTHREADS = 64;
export const MAX_HOSTDEVS = 16;
/** Linux's NR_CPUS on Debian kernels is 8192; host CPU numbers beyond are typos. */
const MAX_HOST_CPU = 8191;
const MAX_HOST_NODE = 1023;
/** DOMAIN:BUS:DEVICE.FUNCTION, as in /sys/bus/pci/devices (device 00-1f, function 0-7). */
export const PCI_ADDRESS = /^[0-9a-f]{4}:[0-9a-f]{2}:[01][0-9a-f]\.[0-7]$/;
/** Linux onlines hot-plugged memory in 128 MiB blocks. */
const DIMM_BLOCK_MIB = 128;

export type CpuListInput = string | number | number[];

export interface NumaNodeInput {
  cpus?: CpuListInput;
  /** MiB as a number, or a size such as "512M". */
  memory: string | number;
  hostNodes?: CpuListInput;
}

export interface PinInput {
  vcpus?: Record<string, CpuListInput | null>;
  emulator?: CpuListInput | null;
  iothreads?: CpuListInput | null;
}

export type HugepagesInput = boolean | string | number | { sizeKiB: number } | null;

function invalid(message: string, field: string): HangarError {
  return new HangarError('INVALID_SPEC', message, { details: { field } });
}

// ---- CPU lists ---------------------------------------------------------------------------------

/**
 * `0-3,6` (the kernel's cpulist format), a number, or an array of numbers → sorted, unique
 * numbers. Overlaps and descending ranges are refused rather than guessed at.
 */
export function parseCpuList(value: CpuListInput, field: string, max = MAX_HOST_CPU): number[] {
  const out: number[] = [];
  const bad = () => invalid(`${field} "${Array.isArray(value) ? value.join(',') : String(value)}" is not a CPU list: use numbers and ranges such as 0-3,6.`, field);
  if (typeof value === 'number' || Array.isArray(value)) {
    for (const n of typeof value === 'number' ? [value] : value) {
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw bad();
      out.push(n);
    }
  } else if (typeof value === 'string') {
    if (value.trim() === '') throw bad();
    for (const part of value.split(',')) {
      const m = /^\s*(\d{1,5})(?:\s*-\s*(\d{1,5}))?\s*$/.exec(part);
      if (!m) throw bad();
      const lo = Number(m[1]);
      const hi = m[2] === undefined ? lo : Number(m[2]);
      if (hi < lo) throw bad();
      for (let i = lo; i <= hi; i++) out.push(i);
    }
  } else {
    throw bad();
  }
  const sorted = [...out].sort((a, b) => a - b);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] === sorted[i - 1]) throw invalid(`${field} names ${sorted[i]} twice.`, field);
  }
  if (sorted.length === 0) throw bad();
  if (sorted.at(-1)! > max) throw invalid(`${field}: ${sorted.at(-1)} is beyond ${max}.`, field);
  return sorted;
}

/** Sorted numbers → `0-3,6`. */
/** The kernel's cpulist format (`0-3,6`) → numbers; empty text → []. */
export function parseKernelList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(',')) {
    if (!part) continue;
    const [lo, hi] = part.split('-').map(Number);
    if (lo === undefined || !Number.isInteger(lo)) continue;
    for (let i = lo; i <= (hi ?? lo); i++) out.push(i);
  }
  return out;
}

export function formatCpuList(list: readonly number[]): string {
  const sorted = [...list].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** Sorted numbers → contiguous [lo, hi] ranges. */
export function cpuRanges(list: readonly number[]): Array<[number, number]> {
  return formatCpuList(list).split(',').filter(Boolean).map((r) => {
    const [lo, hi] = r.split('-').map(Number);
    return [lo!, hi ?? lo!];
  });
}

// ---- hugepages ---------------------------------------------------------------------------------

/** true → the host's default size; "2M" / "1G" / {sizeKiB}; false/null → none. */
export function normalizeHugepages(input: HugepagesInput | undefined, defaultKiB: number): HugepagesSpec | undefined {
  if (input === undefined || input === null || input === false || input === 'false' || input === 'none') return undefined;
  let kib: number | undefined;
  if (input === true || input === 'true') kib = defaultKiB;
  else if (typeof input === 'number') kib = input;
  else if (typeof input === 'object') kib = input.sizeKiB;
  else {
    const m = /^\s*(\d+)\s*([KMG])(?:i?B)?\s*$/i.exec(input);
    if (m) kib = Number(m[1]) * ({ K: 1, M: 1024, G: 1024 * 1024 } as Record<string, number>)[m[2]!.toUpperCase()]!;
  }
  if (kib === undefined || !(HUGEPAGE_SIZES_KIB as readonly number[]).includes(kib)) {
    throw invalid(`hugepages "${typeof input === 'object' ? JSON.stringify(input) : String(input)}" is not a hugepage size: use true (the host's default), 2M or 1G.`, 'hugepages');
  }
  return { sizeKiB: kib };
}

export function formatPageSize(sizeKiB: number): string {
  return sizeKiB >= 1024 * 1024 ? `${sizeKiB / 1024 / 1024}G` : sizeKiB >= 1024 ? `${sizeKiB / 1024}M` : `${sizeKiB}K`;
}

/** Hot-plugged DIMMs: 128 MiB blocks, or whole pages where pages are larger. */
export function dimmAlignMiB(spec: Pick<VmSpec, 'hugepages'>): number {
  return Math.max(DIMM_BLOCK_MIB, (spec.hugepages?.sizeKiB ?? 0) / 1024);
}

/** QOM properties of a memory backend for this VM's RAM (guest memory, NUMA nodes, DIMMs). */
export function memoryBackendProps(spec: Pick<VmSpec, 'hugepages' | 'shares'>): { 'qom-type': string; hugetlb?: boolean; hugetlbsize?: number; share?: boolean } {
  // virtiofs: virtiofsd maps guest RAM, so it must be a shared memfd.
  if (spec.shares?.length && !spec.hugepages) return { 'qom-type': 'memory-backend-memfd', share: true };
  if (!spec.hugepages) return { 'qom-type': 'memory-backend-ram' };
  if (spec.shares?.length) return { 'qom-type': 'memory-backend-memfd', hugetlb: true, hugetlbsize: spec.hugepages.sizeKiB * 1024, share: true };
  // memfd: hugetlb pages without a hugetlbfs mount to manage; QEMU maps it shared, so the
  // kernel reserves every page at start (a short host fails there, not later with SIGBUS).
  return { 'qom-type': 'memory-backend-memfd', hugetlb: true, hugetlbsize: spec.hugepages.sizeKiB * 1024 };
}

// ---- NUMA --------------------------------------------------------------------------------------

/** `cpus=0-1,memory=512M,host-nodes=0` (a CPU list may carry commas: `cpus=0,2,memory=1G`). */
export function parseNumaText(text: string): NumaNodeInput {
  const fields: Record<string, string> = {};
  let last: string | undefined;
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) {
      if (last === 'cpus' || last === 'host-nodes') {
        fields[last] += `,${part}`;
        continue;
      }
      throw invalid(`NUMA node "${text}" is not cpus=LIST,memory=SIZE[,host-nodes=LIST] (e.g. cpus=0-1,memory=512M).`, 'numa');
    }
    const key = part.slice(0, eq).trim();
    if (!['cpus', 'memory', 'mem', 'host-nodes', 'hostnodes'].includes(key) || key in fields) {
      throw invalid(`NUMA node "${text}": unknown or repeated key "${key}" (use cpus, memory, host-nodes).`, 'numa');
    }
    const canonical = key === 'mem' ? 'memory' : key === 'hostnodes' ? 'host-nodes' : key;
    fields[canonical] = part.slice(eq + 1);
    last = canonical;
  }
  if (fields.memory === undefined) throw invalid(`NUMA node "${text}" needs memory=SIZE (e.g. memory=512M).`, 'numa');
  const out: NumaNodeInput = { memory: /^\d+$/.test(fields.memory) ? Number(fields.memory) : fields.memory };
  if (fields.cpus !== undefined) out.cpus = fields.cpus;
  if (fields['host-nodes'] !== undefined) out.hostNodes = fields['host-nodes'];
  return out;
}

/**
 * NUMA node inputs → spec nodes. `parseMemory` is the daemon's memory parser (MiB); the
 * whole topology is checked against the VM by validatePlacement.
 */
export function normalizeNuma(input: readonly NumaNodeInput[], parseMemory: (v: string | number) => number): NumaNodeSpec[] {
  if (!Array.isArray(input)) throw invalid('numa must be a list of nodes, each {cpus, memory, hostNodes?}.', 'numa');
  return input.map((n, i) => {
    if (typeof n !== 'object' || n === null) throw invalid(`NUMA node ${i} must be {cpus, memory, hostNodes?}.`, 'numa');
    const node: NumaNodeSpec = { cpus: n.cpus === undefined ? [] : parseCpuList(n.cpus, `numa node ${i} cpus`, 1023), memoryMiB: parseMemory(n.memory) };
    if (n.hostNodes !== undefined) node.hostNodes = parseCpuList(n.hostNodes, `numa node ${i} host-nodes`, MAX_HOST_NODE);
    return node;
  });
}

// ---- pinning -----------------------------------------------------------------------------------

/** Merges a pin input into the current pins (null removes one); undefined when nothing is left. */
export function mergePin(current: PinSpec | undefined, input: PinInput): PinSpec | undefined {
  const next: PinSpec = structuredClone(current ?? {});
  if (input.vcpus !== undefined) {
    if (typeof input.vcpus !== 'object' || input.vcpus === null) throw invalid('pin.vcpus must map vCPU indexes to host CPU lists, e.g. {"0": "2"}.', 'pin.vcpus');
    const vcpus = { ...next.vcpus };
    for (const [key, value] of Object.entries(input.vcpus)) {
      if (!/^\d{1,4}$/.test(key)) throw invalid(`pin.vcpus key "${key}" is not a vCPU index (0, 1, …).`, 'pin.vcpus');
      const index = String(Number(key));
      if (value === null) delete vcpus[index];
      else vcpus[index] = parseCpuList(value, `pin.vcpus.${index}`);
    }
    if (Object.keys(vcpus).length) next.vcpus = vcpus;
    else delete next.vcpus;
  }
  for (const key of ['emulator', 'iothreads'] as const) {
    const value = input[key];
    if (value === undefined) continue;
    if (value === null) delete next[key];
    else next[key] = parseCpuList(value, `pin.${key}`);
  }
  return Object.keys(next).length ? next : undefined;
}

/** Every host CPU a pin names. */
export function pinnedHostCpus(pin: PinSpec | undefined): number[] {
  if (!pin) return [];
  const all = new Set<number>([...(pin.emulator ?? []), ...(pin.iothreads ?? []), ...Object.values(pin.vcpus ?? {}).flat()]);
  return [...all].sort((a, b) => a - b);
}

// ---- I/O threads and host devices --------------------------------------------------------------

export function iothreadId(i: number): string {
  return `iothread${i}`;
}

/** The I/O thread of the disk at `index`: its own, else round-robin over the VM's I/O threads. */
export function diskIothread(spec: Pick<VmSpec, 'iothreads'>, disk: { iothread?: string }, index: number): string | undefined {
  if (!spec.iothreads) return undefined;
  return disk.iothread ?? iothreadId(index % spec.iothreads);
}

export function validateIothreadCount(value: unknown): number | undefined {
  if (value === null || value === 0) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_IOTHREADS) {
    throw invalid(`iothreads must be a whole number from 0 (none) to ${MAX_IOTHREADS}, not ${JSON.stringify(value)}.`, 'iothreads');
  }
  return value;
}

/** `0000:01:00.0` (any case) → lower case; anything looser is refused. */
export function normalizePciAddress(value: unknown): string {
  const text = typeof value === 'string' ? value.toLowerCase() : '';
  if (!PCI_ADDRESS.test(text)) {
    throw invalid(`Host device "${String(value)}" is not a full PCI address DOMAIN:BUS:DEVICE.FUNCTION such as 0000:01:00.0 (see lspci -D).`, 'hostdevs');
  }
  return text;
}

export function normalizeHostdevs(input: ReadonlyArray<string | { address: string }>): HostdevSpec[] {
  if (!Array.isArray(input)) throw invalid('hostdevs must be a list of {address} objects.', 'hostdevs');
  return input.map((d) => ({ address: normalizePciAddress(typeof d === 'string' ? d : d?.address) }));
}

// ---- the whole spec ----------------------------------------------------------------------------

/** Checks placement settings against the rest of the spec; throws INVALID_SPEC saying what to fix. */
export function validatePlacement(spec: VmSpec): void {
  const maxCpus = Math.max(spec.maxCpus ?? spec.cpus, spec.cpus);
  if (spec.hugepages !== undefined) {
    const kib = spec.hugepages.sizeKiB;
    if (!(HUGEPAGE_SIZES_KIB as readonly number[]).includes(kib)) throw invalid(`hugepages size ${kib} KiB is not one of 2048 (2M), 1048576 (1G).`, 'hugepages');
    if ((spec.memoryMiB * 1024) % kib !== 0) {
      throw invalid(`memory ${spec.memoryMiB} MiB is not a whole number of ${formatPageSize(kib)} hugepages: round it to a multiple of ${kib / 1024} MiB.`, 'memory');
    }
    const extra = (spec.maxMemoryMiB ?? spec.memoryMiB) - spec.memoryMiB;
    if (extra > 0 && extra < dimmAlignMiB(spec)) {
      throw invalid(`max-memory leaves ${extra} MiB for hot-plug, less than one ${dimmAlignMiB(spec)} MiB DIMM of ${formatPageSize(kib)} pages.`, 'maxMemory');
    }
  }

  if (spec.numa !== undefined) {
    const nodes = spec.numa;
    if (spec.machine === 'microvm') throw invalid('A microvm has no NUMA topology: leave numa unset or use machine q35.', 'numa');
    if (nodes.length < 1 || nodes.length > MAX_NUMA_NODES) throw invalid(`numa needs 1 to ${MAX_NUMA_NODES} nodes, got ${nodes.length}.`, 'numa');
    const owner = new Map<number, number>();
    let total = 0;
    nodes.forEach((node, i) => {
      if (!Number.isSafeInteger(node.memoryMiB) || node.memoryMiB < 1) throw invalid(`NUMA node ${i} memory must be a whole number of MiB of at least 1, got ${node.memoryMiB}.`, 'numa');
      if (spec.hugepages && (node.memoryMiB * 1024) % spec.hugepages.sizeKiB !== 0) {
        throw invalid(`NUMA node ${i} memory ${node.memoryMiB} MiB is not a whole number of ${formatPageSize(spec.hugepages.sizeKiB)} hugepages.`, 'numa');
      }
      total += node.memoryMiB;
      for (const cpu of node.cpus) {
        if (!Number.isSafeInteger(cpu) || cpu < 0) throw invalid(`NUMA node ${i} names vCPU ${cpu}, which is not a vCPU index.`, 'numa');
        if (cpu >= maxCpus) throw invalid(`NUMA node ${i} names vCPU ${cpu}, but the VM has vCPUs 0-${maxCpus - 1} (max-cpus ${maxCpus}).`, 'numa');
        const prev = owner.get(cpu);
        if (prev !== undefined) throw invalid(`vCPU ${cpu} is in NUMA nodes ${prev} and ${i}: give each vCPU exactly one node.`, 'numa');
        owner.set(cpu, i);
      }
      for (const h of node.hostNodes ?? []) {
        if (!Number.isSafeInteger(h) || h < 0 || h > MAX_HOST_NODE) throw invalid(`NUMA node ${i} host node ${h} is not a host NUMA node number.`, 'numa');
      }
    });
    const missing = Array.from({ length: maxCpus }, (_, c) => c).filter((c) => !owner.has(c));
    if (missing.length) {
      throw invalid(`vCPU(s) ${formatCpuList(missing)} are in no NUMA node: the nodes' cpus must cover 0-${maxCpus - 1} (every vCPU up to max-cpus) exactly once.`, 'numa');
    }
    if (total !== spec.memoryMiB) {
      throw invalid(`The NUMA nodes' memory adds up to ${total} MiB, but the VM has ${spec.memoryMiB} MiB: make them equal (set numa and memory together).`, 'numa');
    }
  }

  if (spec.iothreads !== undefined) validateIothreadCount(spec.iothreads);
  spec.disks.forEach((disk) => {
    if (disk.iothread === undefined) return;
    const m = /^iothread(\d+)$/.exec(disk.iothread);
    if (!m || !spec.iothreads || Number(m[1]) >= spec.iothreads) {
      throw invalid(`Disk ${disk.id} asks for I/O thread "${disk.iothread}", but the VM has ${spec.iothreads ? `iothread0-iothread${spec.iothreads - 1}` : 'no I/O threads (set iothreads)'}.`, 'iothread');
    }
  });

  if (spec.pin !== undefined) {
    for (const [key, cpus] of Object.entries(spec.pin.vcpus ?? {})) {
      const index = Number(key);
      if (!/^\d+$/.test(key) || index >= maxCpus) throw invalid(`pin.vcpus names vCPU ${key}, but the VM has vCPUs 0-${maxCpus - 1}.`, 'pin.vcpus');
      checkHostCpuList(cpus, `pin.vcpus.${key}`);
    }
    if (spec.pin.emulator) checkHostCpuList(spec.pin.emulator, 'pin.emulator');
    if (spec.pin.iothreads) {
      if (!spec.iothreads) throw invalid('pin.iothreads needs I/O threads: set iothreads as well.', 'pin.iothreads');
      checkHostCpuList(spec.pin.iothreads, 'pin.iothreads');
    }
  }

  if (spec.hostdevs !== undefined) {
    if (spec.hostdevs.length && spec.machine === 'microvm') throw invalid('A microvm has no PCI bus for host devices: use machine q35.', 'hostdevs');
    if (spec.hostdevs.length > MAX_HOSTDEVS) throw invalid(`At most ${MAX_HOSTDEVS} host devices per VM.`, 'hostdevs');
    const seen = new Set<string>();
    for (const d of spec.hostdevs) {
      if (!PCI_ADDRESS.test(d.address)) normalizePciAddress(d.address);
      if (seen.has(d.address)) throw invalid(`Host device ${d.address} is given twice.`, 'hostdevs');
      seen.add(d.address);
    }
  }
}

function checkHostCpuList(cpus: unknown, field: string): void {
  if (!Array.isArray(cpus) || cpus.length === 0 || cpus.some((c) => !Number.isSafeInteger(c) || (c as number) < 0 || (c as number) > MAX_HOST_CPU)) {
    throw invalid(`${field} must be a non-empty list of host CPU numbers.`, field);
  }
}

/** What of the placement a run was started with; `vm show` lists differences as pending. */
export interface PlacementSnapshot {
  hugepages: HugepagesSpec | null;
  numa: NumaNodeSpec[] | null;
  iothreads: number | null;
  hostdevs: HostdevSpec[] | null;
}

export function placementOf(spec: VmSpec): PlacementSnapshot {
  return {
    hugepages: spec.hugepages ?? null,
    numa: spec.numa ?? null,
    iothreads: spec.iothreads ?? null,
    hostdevs: spec.hostdevs ?? null,
  };
}
