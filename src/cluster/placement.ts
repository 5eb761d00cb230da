/**
 * Placement of a new VM on a node: filters (online, the target asked for, free vCPUs and
 * memory under the node's overcommit ratios), then a score (the share of CPU and memory
 * left free after the VM lands, equally weighted: the emptiest node wins, ties by name).
 * Every node gets a line saying why it was chosen or ruled out (`vm create --dry-run --explain`).
 *
 * What a node has committed counts every VM it holds (running or not: a stopped VM may start
 * any time) plus the reservations of creates still under way, so that concurrent creates
 * cannot all pick the same nearly full node (see ClusterService.place).
 */
import { HangarError } from '../errors/errors.js';
import type { NodeRecord } from './membership.js';

export interface PlacementRequest {
  cpus: number;
  memoryMiB: number;
  /** A node name, or `@key=value` / `@key` for any node with that label. */
  target?: string;
}

export interface NodeLoad {
  node: NodeRecord;
  online: boolean;
  /** Why requests cannot be carried to it, if they cannot. */
  unreachable?: string;
  /** vCPUs and memory of the VMs it holds and of reservations on it. */
  committed: { cpus: number; memoryMiB: number };
}

export interface PlacementLine {
  node: string;
  eligible: boolean;
  /** Why it was ruled out, or what it has free. */
  reasons: string[];
  /** 0–1, higher is better; only for eligible nodes. */
  score?: number;
  freeCpus: number;
  freeMemoryMiB: number;
}

export interface PlacementResult {
  chosen?: string;
  lines: PlacementLine[];
}

function targetMatches(target: string | undefined, n: NodeRecord): string | undefined {
  if (target === undefined) return undefined;
  if (!target.startsWith('@')) return target === n.name ? undefined : `not the target node ${target}`;
  const [key, value] = target.slice(1).split('=', 2) as [string, string | undefined];
  const has = n.labels[key];
  if (has === undefined) return `no label ${key}`;
  if (value !== undefined && has !== value) return `label ${key}=${has}, not ${value}`;
  return undefined;
}

export function checkTarget(target: unknown): string | undefined {
  if (target === undefined) return undefined;
  if (typeof target !== 'string' || !/^(@[A-Za-z0-9_./-]{1,63}(=[A-Za-z0-9_./-]{0,63})?|[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)$/.test(target)) {
    throw new HangarError('INVALID_SPEC', `"${String(target)}" is not a target: a node name, or @label / @label=value.`, { details: { field: 'target' } });
  }
  return target;
}

export function place(req: PlacementRequest, loads: readonly NodeLoad[]): PlacementResult {
  const lines = loads.map((l): PlacementLine => {
    const n = l.node;
    const cpuCap = Math.floor(n.cpus * n.cpuOvercommit);
    const memCap = Math.floor(n.memoryMiB * n.memoryOvercommit);
    const freeCpus = cpuCap - l.committed.cpus;
    const freeMemoryMiB = memCap - l.committed.memoryMiB;
    const reasons: string[] = [];
    if (!l.online) reasons.push('offline');
    if (l.unreachable) reasons.push(l.unreachable);
    const t = targetMatches(req.target, n);
    if (t) reasons.push(t);
    if (req.cpus > freeCpus) reasons.push(`${freeCpus} of ${cpuCap} vCPUs free, ${req.cpus} asked`);
    if (req.memoryMiB > freeMemoryMiB) reasons.push(`${freeMemoryMiB} of ${memCap} MiB free, ${req.memoryMiB} asked`);
    if (reasons.length) return { node: n.name, eligible: false, reasons, freeCpus, freeMemoryMiB };
    const score = 0.5 * ((freeCpus - req.cpus) / Math.max(1, cpuCap)) + 0.5 * ((freeMemoryMiB - req.memoryMiB) / Math.max(1, memCap));
    return {
      node: n.name, eligible: true, score: Math.round(score * 1000) / 1000, freeCpus, freeMemoryMiB,
      reasons: [`${freeCpus} of ${cpuCap} vCPUs and ${freeMemoryMiB} of ${memCap} MiB free`],
    };
  });
  const best = lines.filter((l) => l.eligible).sort((a, b) => b.score! - a.score! || (a.node < b.node ? -1 : 1))[0];
  return { ...(best && { chosen: best.node }), lines: lines.sort((a, b) => (a.node < b.node ? -1 : 1)) };
}
