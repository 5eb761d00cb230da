/**
 * Which nodes reach a storage pool or a managed network. A pool or network record may name
 * the nodes that have it (`--nodes n1,n2`); without a list it is on every node, as on a single
 * host. A node left out refuses volumes in the pool and starting VMs whose disks or NICs are
 * there (POOL_NOT_ON_NODE, NETWORK_NOT_ON_NODE), and placement rules it out (cluster/placement.ts).
 * It sits with the store so that storage, networks and the cluster can all use it.
 */
import { HangarError } from '../errors/errors.js';
import type { VmSpec } from '../model/spec.js';
import type { Store } from './store.js';

/** A node's name in a cluster (cluster/config.ts checks `--name` with it too). */
export const NODE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** The part of a pool or network record placement and the start check read. */
export interface NodeList {
  name: string;
  /** The nodes that have it; absent: every node. */
  nodes?: string[];
}

/** Whether `node` has it (always on a single host, `node` undefined). */
export function onNode(rec: { nodes?: readonly string[] }, node: string | undefined): boolean {
  return !rec.nodes || node === undefined || rec.nodes.includes(node);
}

/**
 * Checks a `--nodes` list: node names, at least one, each a node of the cluster (so a typo
 * does not make a pool nobody reaches). Refused on a single host (no node names there).
 * Returns the list sorted, without duplicates.
 */
export async function checkNodeList(store: Store, self: string | undefined, nodes: unknown, what: string): Promise<string[]> {
  if (!Array.isArray(nodes) || nodes.length === 0) {
    throw new HangarError('INVALID_SPEC', `The node list of ${what} must name at least one node (leave it out for every node).`, { details: { field: 'nodes' } });
  }
  if (self === undefined) {
    throw new HangarError('NOT_IN_CLUSTER', `This host is not in a cluster: ${what} cannot name nodes (leave --nodes out; \`hangar cluster init --etcd URL\` makes a cluster).`, { details: { field: 'nodes' } });
  }
  const bad = nodes.find((n) => typeof n !== 'string' || !NODE_NAME.test(n));
  if (bad !== undefined) {
    throw new HangarError('INVALID_SPEC', `"${String(bad)}" is not a node name: 1-63 lower-case letters, digits and "-", not starting or ending with "-".`, { details: { field: 'nodes' } });
  }
  const names = [...new Set(nodes as string[])].sort();
  const known = new Set((await store.collection<{ name: string }>('nodes').list()).map((n) => n.name));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length) {
    throw new HangarError('INVALID_SPEC', `${unknown.map((n) => `"${n}"`).join(', ')} ${unknown.length > 1 ? 'are no nodes' : 'is no node'} of the cluster: see \`hangar node list\`.`, { details: { field: 'nodes' } });
  }
  return names;
}

/** The pools of a VM's volumes and the networks of its NICs (what a node must reach to run it). */
export function needsOf(spec: Pick<VmSpec, 'disks' | 'nics'>): { pools: string[]; networks: string[] } {
  const pools = new Set(spec.disks.flatMap((d) => (d.volume ? [d.volume.pool] : [])));
  const networks = new Set(spec.nics.flatMap((n) => (n.network ? [n.network] : [])));
  return { pools: [...pools].sort(), networks: [...networks].sort() };
}

/**
 * Refuses to start a VM here when a pool of its disks or a network of its NICs is not on
 * this node (the daemon's start check, beside the fencing one).
 */
export async function checkReach(store: Store, node: string | undefined, rec: { name: string; spec: Pick<VmSpec, 'disks' | 'nics'> }): Promise<void> {
  if (node === undefined) return;
  const needs = needsOf(rec.spec);
  for (const name of needs.pools) {
    const pool = await store.collection<NodeList>('pools').get(name);
    if (pool && !onNode(pool, node)) {
      throw new HangarError('POOL_NOT_ON_NODE', `VM "${rec.name}" has disks on pool "${name}", which is not on node "${node}" (only on ${pool.nodes!.join(', ')}): move it to one of those nodes.`, { details: { pool: name, node, nodes: pool.nodes } });
    }
  }
  for (const name of needs.networks) {
    const net = await store.collection<NodeList>('networks').get(name);
    if (net && !onNode(net, node)) {
      throw new HangarError('NETWORK_NOT_ON_NODE', `VM "${rec.name}" has a NIC on network "${name}", which is not on node "${node}" (only on ${net.nodes!.join(', ')}): move it to one of those nodes.`, { details: { network: name, node, nodes: net.nodes } });
    }
  }
}

/**
 * The pools and networks a new VM needs, with the nodes that have them, for placement: the
 * create's `pool` (default `default`) and `networks`, or `needs` (an existing VM's, needsOf).
 * A pool or network that does not exist is refused here, before anything is reserved.
 */
export async function reachFor(store: Store, input: { pool?: unknown; networks?: unknown }, needs?: { pools: string[]; networks: string[] }): Promise<{ pools: NodeList[]; networks: NodeList[] }> {
  const pool = input.pool ?? 'default';
  if (typeof pool !== 'string') throw new HangarError('INVALID_SPEC', 'pool must be a pool name.', { details: { field: 'pool' } });
  const nets = input.networks ?? [];
  if (!Array.isArray(nets) || nets.some((n) => typeof n !== 'string')) throw new HangarError('INVALID_SPEC', 'networks must be a list of network names.', { details: { field: 'networks' } });
  const want = needs ?? { pools: [pool], networks: [...new Set(nets as string[])] };
  const pick = ({ name, nodes }: NodeList): NodeList => ({ name, ...(nodes && { nodes }) });
  const pools = await Promise.all(want.pools.map(async (name) => {
    const rec = await store.collection<NodeList>('pools').get(name);
    if (!rec) throw new HangarError('POOL_NOT_FOUND', `There is no storage pool "${name}": see \`hangar pool list\`.`);
    return pick(rec);
  }));
  const networks = await Promise.all(want.networks.map(async (name) => {
    const rec = await store.collection<NodeList>('networks').get(name);
    if (!rec) throw new HangarError('NETWORK_NOT_FOUND', `There is no network "${name}": see \`hangar network list\`.`);
    return pick(rec);
  }));
  return { pools, networks };
}
