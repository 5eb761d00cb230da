/**
 * A node's membership: its record (`nodes/NAME`: address, capacity, labels) and its lease
 * (`node-leases/NAME`, bound to an etcd lease that the node's fencer keeps alive: see
 * fencer/fencer.ts). A node is online while its lease key exists. The fencer keeps its own
 * lease deadline (last acknowledged keep-alive plus the TTL) instead of trusting etcd's
 * client to report a lost lease in time.
 */
import type { EtcdClient } from '../etcd/client.js';
import type { Store, VmRecord } from '../store/store.js';

export interface NodeRecord {
  name: string;
  /** The API's TLS address other nodes and clients reach it at (host:port), when it listens. */
  address?: string;
  /** SHA-256 fingerprint of its TLS certificate: what other nodes pin when they call it. */
  fingerprint?: string;
  cpus: number;
  memoryMiB: number;
  cpuOvercommit: number;
  memoryOvercommit: number;
  labels: Record<string, string>;
  joinedAt: string;
  version: string;
  /** `node evacuate` ran (or runs): placement skips the node until `node restore`. */
  evacuation?: NodeEvacuation;
}

export interface NodeEvacuation {
  state: 'evacuating' | 'evacuated';
  since: string;
}

export interface NodeLeaseRecord {
  lease: string;
  ttlSeconds: number;
  /** When this lease was granted (the daemon's start, or a lease lost and granted again). */
  since: string;
  pid: number;
}

export interface NodeView extends NodeRecord {
  state: 'online' | 'offline';
  /** Seconds since the lease was last renewed, as etcd counts it (granted TTL minus TTL left). */
  leaseAgeSeconds?: number;
  leaseTtlSeconds?: number;
  allocation: { vms: number; running: number; cpus: number; memoryMiB: number };
}

export class Membership {
  constructor(
    private readonly client: EtcdClient,
    private readonly store: Store,
    private readonly o: { self: Omit<NodeRecord, 'joinedAt' | 'labels'>; deadline: () => number },
  ) {}

  get name(): string {
    return this.o.self.name;
  }

  /** When this node's lease expires unless renewed (ms since the epoch; 0 before the first grant): the fencer's. */
  deadline(): number {
    return this.o.deadline();
  }

  /** Writes the node's record (its lease is the fencer's: fencer/fencer.ts). */
  async start(): Promise<void> {
    const nodes = this.store.collection<NodeRecord>('nodes');
    const old = await nodes.get(this.name);
    const record: NodeRecord = { ...this.o.self, labels: old?.labels ?? {}, joinedAt: old?.joinedAt ?? new Date().toISOString(), ...(old?.evacuation && { evacuation: old.evacuation }) };
    if (!old) await nodes.create(this.name, record);
    else if (JSON.stringify(old) !== JSON.stringify(record)) await nodes.update(this.name, record);
  }

  /** Every node with its state, lease age and what its VMs use. */
  async list(): Promise<NodeView[]> {
    const [nodes, leases, vms] = await Promise.all([
      this.store.collection<NodeRecord>('nodes').list(),
      this.store.collection<NodeLeaseRecord>('node-leases').entries(),
      this.store.listVms(),
    ]);
    const leaseOf = new Map(leases.map((l) => [l.key, l.record]));
    return Promise.all(nodes.map(async (n): Promise<NodeView> => {
      const lease = leaseOf.get(n.name);
      let leaseAgeSeconds: number | undefined;
      if (lease) {
        const left = await this.client.leaseTimeToLive(lease.lease).catch(() => undefined);
        if (left !== undefined && left >= 0) leaseAgeSeconds = Math.max(0, lease.ttlSeconds - left);
      }
      return {
        ...n, state: lease ? 'online' : 'offline',
        ...(lease && { leaseTtlSeconds: lease.ttlSeconds }), ...(leaseAgeSeconds !== undefined && { leaseAgeSeconds }),
        allocation: allocation(vms.filter((v) => nodeOf(v, this.name) === n.name)),
      };
    }));
  }
}

/** The node a VM belongs to (until VMs carry one, every VM is the first node's). */
export function nodeOf(vm: VmRecord, fallback: string): string {
  return (vm as VmRecord & { node?: string }).node ?? fallback;
}

function allocation(vms: VmRecord[]): NodeView['allocation'] {
  const running = vms.filter((v) => v.state === 'running' || v.state === 'paused' || v.state === 'starting');
  return {
    vms: vms.length,
    running: running.length,
    cpus: running.reduce((s, v) => s + v.spec.cpus, 0),
    memoryMiB: running.reduce((s, v) => s + v.spec.memoryMiB, 0),
  };
}
