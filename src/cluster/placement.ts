/**
 * Placement of a new VM on a node: filters (online, the target asked for, free vCPUs and
 * memory under the node's overcommit ratios, the node has every pool of the VM's disks and
 * every network of its NICs, a hard placement group's rule), then a score:
 * the share of CPU and memory left free after the VM lands, equally weighted (0-1), plus a
 * soft placement group's weight (-1 per member of an anti-affinity group on the node, +1 per
 * member of an affinity group: it outweighs capacity, so the rule is kept whenever it can
 * be). The highest score wins, ties by name.
 * Every node gets a line saying why it was chosen or ruled out (`vm create --dry-run --explain`).
 *
 * What a node has committed counts every VM it holds (running or not: a stopped VM may start
 * any time) plus the reservations of creates still under way, so that concurrent creates
 * cannot all pick the same nearly full node (see ClusterService.place).
 */
import { HangarError } from '../errors/errors.js';
import type { NodeRecord } from './membership.js';
import { onNode, type NodeList } from '../store/node-lists.js';

export interface PlacementRequest {
  cpus: number;
  memoryMiB: number;
  /** A node name, or `@key=value` / `@key` for any node with that label. */
  target?: string;
  /** The placement group the VM joins, with where its members are. */
  group?: GroupRule;
  /** The pools of its disks and the networks of its NICs, each with the nodes that have it (no list: every node). */
  reach?: { pools: NodeList[]; networks: NodeList[] };
}

/** A placement group as placement sees it (src/cluster/groups.ts makes it). */
export interface GroupRule {
  name: string;
  policy: 'affinity' | 'anti-affinity';
  hard: boolean;
  /** Node → the members on it, VMs and reservations of creates under way. */
  members: Record<string, string[]>;
}

/** What ruled a node out because of a group starts so (the service tells PLACEMENT_IMPOSSIBLE from HOST_CAPACITY by it). */
export const GROUP_REASON = 'group ';
/** What ruled a node out because it lacks a pool or a network starts so. */
export const STORAGE_REASON = 'storage: ';
export const NETWORK_REASON = 'network: ';

/** A reason that is a rule of the VM's (a group, storage, networks), not the node's capacity or state. */
export function isRuleReason(r: string): boolean {
  return r.startsWith(GROUP_REASON) || r.startsWith(STORAGE_REASON) || r.startsWith(NETWORK_REASON);
}

/** The storage and network filter on one node: what it lacks, or a note that it has it all. */
function reachTerm(reach: NonNullable<PlacementRequest['reach']>, node: string): { ruledOut: string[]; note?: string } {
  const ruledOut = [
    ...reach.pools.filter((p) => !onNode(p, node)).map((p) => `${STORAGE_REASON}pool ${p.name} is not on this node`),
    ...reach.networks.filter((n) => !onNode(n, node)).map((n) => `${NETWORK_REASON}${n.name} is not on this node`),
  ];
  if (ruledOut.length) return { ruledOut };
  const has = [...reach.pools.map((p) => `pool ${p.name}`), ...reach.networks.map((n) => `network ${n.name}`)];
  return { ruledOut, ...(has.length && { note: `reaches ${has.join(', ')}` }) };
}

const names = (vms: string[]) => (vms.length > 3 ? `${vms.slice(0, 3).join(', ')}…` : vms.join(', '));

/** The group's filter (a reason to rule the node out) or weight on one node. */
function groupTerm(g: GroupRule, node: string): { ruledOut?: string; weight?: number; note?: string } {
  const here = g.members[node] ?? [];
  const elsewhere = Object.entries(g.members).filter(([n, m]) => n !== node && m.length).map(([n]) => n);
  const tag = `${GROUP_REASON}${g.name} (${g.policy}, ${g.hard ? 'hard' : 'soft'})`;
  if (g.policy === 'anti-affinity') {
    if (!here.length) return { note: `${tag}: no member here`, ...(!g.hard && { weight: 0 }) };
    if (g.hard) return { ruledOut: `${tag}: holds ${names(here)}` };
    return { weight: -here.length, note: `${tag}: holds ${names(here)}, weight ${-here.length}` };
  }
  if (!here.length && !elsewhere.length) return { note: `${tag}: no members yet` };
  if (!here.length && g.hard) return { ruledOut: `${tag}: its members are on ${elsewhere.join(', ')}` };
  if (g.hard) return { note: `${tag}: holds ${names(here)}` };
  return { weight: here.length, note: here.length ? `${tag}: holds ${names(here)}, weight +${here.length}` : `${tag}: its members are on ${elsewhere.join(', ')}, weight 0` };
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
  /** The sum of the weights, higher is better; only for eligible nodes. */
  score?: number;
  weights?: { capacity: number; group?: number };
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
    const r = req.reach && reachTerm(req.reach, n.name);
    if (r) reasons.push(...r.ruledOut);
    const g = req.group && groupTerm(req.group, n.name);
    if (g?.ruledOut) reasons.push(g.ruledOut);
    if (reasons.length) return { node: n.name, eligible: false, reasons, freeCpus, freeMemoryMiB };
    const capacity = Math.round((0.5 * ((freeCpus - req.cpus) / Math.max(1, cpuCap)) + 0.5 * ((freeMemoryMiB - req.memoryMiB) / Math.max(1, memCap))) * 1000) / 1000;
    return {
      node: n.name, eligible: true, score: Math.round((capacity + (g?.weight ?? 0)) * 1000) / 1000, freeCpus, freeMemoryMiB,
      weights: { capacity, ...(g?.weight !== undefined && { group: g.weight }) },
      reasons: [`${freeCpus} of ${cpuCap} vCPUs and ${freeMemoryMiB} of ${memCap} MiB free`, ...(g?.note ? [g.note] : []), ...(r?.note ? [r.note] : [])],
    };
  });
  const best = lines.filter((l) => l.eligible).sort((a, b) => b.score! - a.score! || (a.node < b.node ? -1 : 1))[0];
  return { ...(best && { chosen: best.node }), lines: lines.sort((a, b) => (a.node < b.node ? -1 : 1)) };
}
