/**
 * A node's membership: its record (`nodes/NAME`: address, capacity, labels) and its lease
 * (`node-leases/NAME`, bound to an etcd lease the node keeps alive). A node is online while
 * its lease key exists. The node keeps its own lease deadline (last acknowledged keep-alive
 * plus the TTL) instead of trusting the client to report a lost lease in time.
 */
import type { EtcdClient } from '../etcd/client.js';
import { errorText } from '../errors/errors.js';
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
  private timer?: NodeJS.Timeout;
  private lease?: string;
  private lastAck = 0;
  private stopped = false;
  private lostLogged = false;

  constructor(
    private readonly client: EtcdClient,
    private readonly store: Store,
    private readonly o: { prefix: string; ttlSeconds: number; self: Omit<NodeRecord, 'joinedAt' | 'labels'>; log: (m: string) => void },
  ) {}

  get name(): string {
    return this.o.self.name;
  }

  /** When this node's lease expires unless renewed (ms since the epoch; 0 before the first grant). */
  deadline(): number {
    return this.lastAck === 0 ? 0 : this.lastAck + this.o.ttlSeconds * 1000;
  }

  async start(): Promise<void> {
    const nodes = this.store.collection<NodeRecord>('nodes');
    const old = await nodes.get(this.name);
    const record: NodeRecord = { ...this.o.self, labels: old?.labels ?? {}, joinedAt: old?.joinedAt ?? new Date().toISOString() };
    if (!old) await nodes.create(this.name, record);
    else if (JSON.stringify(old) !== JSON.stringify(record)) await nodes.update(this.name, record);
    await this.grant();
    this.timer = setInterval(() => void this.renew(), Math.max(200, (this.o.ttlSeconds * 1000) / 3));
    this.timer.unref();
  }

  private async grant(): Promise<void> {
    const sent = Date.now();
    const { id } = await this.client.leaseGrant(this.o.ttlSeconds);
    this.lease = id;
    this.lastAck = sent;
    const value: NodeLeaseRecord = { lease: id, ttlSeconds: this.o.ttlSeconds, since: new Date(sent).toISOString(), pid: process.pid };
    await this.client.put(`${this.o.prefix}c/node-leases/${this.name}`, JSON.stringify(value), { lease: id });
  }

  private async renew(): Promise<void> {
    if (this.stopped || !this.lease) return;
    const sent = Date.now();
    try {
      const ttl = await this.client.leaseKeepAlive(this.lease, Math.max(200, (this.o.ttlSeconds * 1000) / 3));
      if (ttl > 0) {
        this.lastAck = sent;
        this.lostLogged = false;
        return;
      }
      this.o.log(`Node ${this.name}'s lease ${this.lease} expired in etcd: granting a new one.`);
      await this.grant();
    } catch (e) {
      if (!this.lostLogged) this.o.log(`Renewing node ${this.name}'s lease failed (${errorText(e)}); it expires ${new Date(this.deadline()).toISOString()} unless renewed.`);
      this.lostLogged = true;
    }
  }

  /** Stops renewing (the lease then expires on its own: the node's guests run on). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
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
