/**
 * The cluster as this node sees it: whether it is in one, `cluster init` (the single-host
 * store copied into etcd, then every service switched over while the daemon runs), and
 * the node list. A daemon without `<data-dir>/cluster.json` is a single host on SQLite.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { ClusterStatus } from '../contract/cluster.js';
import { EtcdClient } from '../etcd/client.js';
import { HangarError, errorText, isHangarError } from '../errors/errors.js';
import { EtcdStore } from '../store/etcd.js';
import { SqliteStore } from '../store/sqlite.js';
import { COLLECTION_KINDS, type Store } from '../store/store.js';
import { SwitchableStore } from '../store/switchable.js';
import { checkNodeName, DEFAULT_LEASE_TTL_SECONDS, DEFAULT_PREFIX, haTimings, parseEtcdEndpoints, readClusterConfig, writeClusterConfig, type ClusterConfig } from './config.js';
import { Membership, type NodeRecord, type NodeView } from './membership.js';
import { checkTarget, isRuleReason, place, type GroupRule, type NodeLoad, type PlacementResult } from './placement.js';
import { needsOf, reachFor } from '../store/node-lists.js';
import { decisionOf, groupForCreate, groupRule, type PlacementGroupRecord, type ReservationGroupFields } from './groups.js';
import { parseMemoryMiB } from '../model/validate.js';
import { NodeClients } from './node-clients.js';
import type { RelayedAnswer } from '../client/client.js';
import { openNodeUpgrade, type NodeUpgrade } from './node-upgrade.js';
import { makeJoinToken, parseJoinToken, tokenMatches, type JoinTokenRecord } from './join-token.js';
import { FencerLink } from './fencer/link.js';
import { leaseIsSure } from './fencer/files.js';
import { adoptClusterCertificate, clusterFingerprint, publishClusterCertificate, type NodeCertificate } from './certificate.js';
import { HaManager, type HaDeps } from './ha.js';
import { DiskOwners } from './disk-owners.js';

export type { ClusterStatus };

export interface InitInput {
  etcd: string | string[];
  name?: string;
  leaseTtl?: number;
  /** Seconds between the fencer's keep-alives (default TTL/3). */
  keepalive?: number;
  /** Seconds before the lease's deadline at which a node's fencer kills its HA guests (default 1). */
  fenceMargin?: number;
  /** Seconds the other nodes wait after a lease expired before restarting its HA VMs (default 2). */
  haGrace?: number;
}

/** What the node tells the cluster about itself. */
export type NodeSelf = Omit<NodeRecord, 'joinedAt' | 'labels' | 'name'>;

interface Options {
  dataDir: string;
  self: NodeSelf;
  log: (message: string) => void;
  /** etcd request timeout (ms). */
  etcdTimeoutMs?: number;
}

/** The meta key of a cluster: its id, and whether init finished. */
interface ClusterMeta {
  id: string;
  createdAt: string;
  createdBy: string;
  state: 'initializing' | 'ready';
  /** Fencing and HA timings every node uses (`cluster init` flags); absent: the defaults. */
  timings?: Timings;
}

type Timings = Pick<ClusterConfig, 'keepaliveSeconds' | 'fenceMarginSeconds' | 'haGraceSeconds'>;

/** The timings `cluster init` was given, checked against the TTL. */
function checkTimings(input: InitInput, ttl: number): Timings {
  const out: Timings = {};
  const field = (name: 'keepalive' | 'fenceMargin' | 'haGrace', key: keyof Timings, min: number, max: number) => {
    const v = input[name];
    if (v === undefined) return;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      throw new HangarError('INVALID_SPEC', `${name} must be ${min}-${max} seconds with a lease TTL of ${ttl} s, not ${String(v)}.`, { details: { field: name } });
    }
    out[key] = v;
  };
  field('keepalive', 'keepaliveSeconds', 0.2, ttl / 2);
  field('fenceMargin', 'fenceMarginSeconds', 0.2, ttl / 2);
  field('haGrace', 'haGraceSeconds', 0, 600);
  return out;
}

/** A create's claim on a node, until its VM exists (or RESERVATION_MS pass). */
interface Reservation extends ReservationGroupFields {
  cpus: number;
  memoryMiB: number;
}

const RESERVATION_MS = 120_000;

/** What the daemon's API layer gives the cluster (set at start, used at init and join too). */
export interface NodeApi {
  fingerprint?: string;
  /** The TLS listener's certificate (with --listen): the cluster's one certificate comes from and goes to it. */
  certificate?: NodeCertificate;
  createNodeToken?: (name: string) => Promise<string>;
}

export class ClusterService {
  private api?: NodeApi;
  private nodeToken?: string;
  private config?: ClusterConfig;
  private client?: EtcdClient;
  private etcdStore?: EtcdStore;
  private membership?: Membership;
  /** The node's fencer (in a cluster): holds the lease, kills HA guests when it cannot. */
  fencer?: FencerLink;
  private ha?: HaManager;
  private haHooks?: Pick<HaDeps, 'start' | 'publish'>;
  private owners?: DiskOwners;
  /** Kept verified connections to the other nodes, for carried requests. */
  private readonly nodeClients = new NodeClients();

  private constructor(readonly store: SwitchableStore, private readonly o: Options) {}

  /**
   * Opens the store this node runs on: etcd when it is in a cluster (waiting for etcd as
   * long as it takes, saying so), else its SQLite file.
   */
  static async open(o: Options): Promise<ClusterService> {
    const config = await readClusterConfig(o.dataDir);
    if (!config) return new ClusterService(new SwitchableStore(new SqliteStore(join(o.dataDir, 'hangar.db'))), o);
    const client = new EtcdClient({ endpoints: config.etcd, timeoutMs: o.etcdTimeoutMs ?? 3000 });
    let store: EtcdStore | undefined;
    for (let attempt = 0; !store; attempt++) {
      try {
        store = await EtcdStore.open({ client, prefix: config.prefix, log: o.log });
      } catch (e) {
        if (isHangarError(e) && e.code === 'STORE_SCHEMA_TOO_NEW') throw e;
        if (attempt % 10 === 0) o.log(`The cluster store (etcd at ${config.etcd.join(', ')}) cannot be read yet (${errorText(e)}): retrying every second. Guests keep running.`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    const service = new ClusterService(new SwitchableStore(store), o);
    service.config = config;
    service.client = client;
    service.etcdStore = store;
    return service;
  }

  /**
   * Starts this node's lease (in a cluster). `api` is what the daemon's TLS listener and
   * tokens give: its certificate's fingerprint, and a way to make the admin token nodes
   * call each other with (made once, at init).
   */
  async start(api?: NodeApi): Promise<void> {
    if (api) this.api = api;
    if (!this.config || !this.client) return;
    // The lease is the fencer's: it runs beside the daemon and outlives it, as the guests do.
    this.fencer ??= new FencerLink({ dataDir: this.o.dataDir, log: this.o.log });
    await this.fencer.start();
    const fencer = this.fencer;
    this.membership = new Membership(this.client, this.store, {
      deadline: () => fencer.state()?.deadline ?? 0,
      self: { name: this.config.node, ...this.o.self, ...(this.api?.fingerprint && { fingerprint: this.api.fingerprint }) },
    });
    await this.membership.start();
    if (this.haHooks && !this.ha) {
      const t = haTimings(this.config);
      this.ha = new HaManager({
        store: this.store, self: this.config.node, graceMs: t.graceMs, marginMs: t.marginMs, fencer,
        connected: () => this.etcdStore?.connected ?? false, log: this.o.log, ...this.haHooks,
        place: async (vm) => {
          try {
            // Its placement group's rule holds for the new node too (the lost node is offline: ruled out).
            return { node: (await this.place({ cpus: vm.spec.cpus, memory: vm.spec.memoryMiB, ...(vm.group !== undefined && { group: vm.group }) }, { dryRun: true, needs: needsOf(vm.spec) })).chosen };
          } catch (e) {
            return { why: errorText(e) };
          }
        },
      });
      this.ha.start();
    }
    this.nodeToken = (await this.client.range(`${this.config.prefix}cluster-node-token`)).kvs[0]?.value;
  }

  /** The owner keys of shared pools' disks, claimed under this node's lease (undefined on a single host). */
  diskOwners(): DiskOwners | undefined {
    if (!this.config || !this.client) return undefined;
    this.owners ??= new DiskOwners({ client: this.client, prefix: this.config.prefix, node: this.config.node, lease: () => this.fencer?.state()?.lease });
    return this.owners;
  }

  /** The node is online and has a TLS listener requests can be carried to. */
  async reachable(node: string): Promise<boolean> {
    const rec = await this.store.collection<NodeRecord>('nodes').get(node);
    return Boolean(rec?.address && rec.fingerprint && this.nodeToken && (await this.store.collection('node-leases').get(node)));
  }

  /**
   * Carries an API request to the node that holds the VM, over its TLS listener (its
   * certificate pinned by the fingerprint it published), with the cluster's node token.
   * The answer comes back as the node gave it.
   */
  async forward(node: string, method: string, url: string, body: unknown, actor: string, o: { timeoutMs?: number } = {}): Promise<RelayedAnswer> {
    const to = await this.carryTo(node);
    const client = this.nodeClients.get(node, to.address, to.fingerprint, to.token);
    try {
      return await client.relay(method, url, body, { 'x-hangar-forwarded-by': to.self, 'x-hangar-forwarded-for': actor }, { timeoutMs: o.timeoutMs ?? 120_000 });
    } catch (e) {
      this.nodeClients.drop(node);
      throw new HangarError('NODE_UNREACHABLE', `Node "${node}" (${to.address}) did not answer: ${errorText(e)}`, { details: { node }, cause: e });
    }
  }

  /**
   * Opens a console WebSocket upgrade on the node that holds the VM (node-upgrade.ts), over
   * its TLS listener with its pinned fingerprint. `path` carries the console token that node
   * issued; `headers` are the viewer's WebSocket headers. NODE_UNREACHABLE as for forward.
   */
  async openUpgrade(node: string, path: string, headers: Record<string, string>, actor: string): Promise<NodeUpgrade> {
    const to = await this.carryTo(node);
    try {
      return await openNodeUpgrade(to.address, to.fingerprint, path, { ...headers, 'x-hangar-forwarded-by': to.self, 'x-hangar-forwarded-for': actor });
    } catch (e) {
      throw new HangarError('NODE_UNREACHABLE', `Node "${node}" (${to.address}) did not answer: ${errorText(e)}`, { details: { node }, cause: e });
    }
  }

  /** Where a request for `node` is carried, or why it cannot be (no TLS listener, offline). */
  private async carryTo(node: string): Promise<{ self: string; address: string; fingerprint: string; token: string }> {
    if (!this.config) throw notInCluster();
    const rec = await this.store.collection<NodeRecord>('nodes').get(node);
    const online = await this.store.collection('node-leases').get(node);
    if (!rec?.address || !rec.fingerprint || !this.nodeToken) {
      throw new HangarError('VM_ON_OTHER_NODE', `The VM is on node "${node}", which has no TLS listener (start its daemon with --listen): send the request to it directly.`, { details: { node } });
    }
    if (!online) throw new HangarError('NODE_UNREACHABLE', `The VM is on node "${node}", which is offline (its lease expired).`, { details: { node } });
    return { self: this.config.node, address: rec.address, fingerprint: rec.fingerprint, token: this.nodeToken };
  }

  /**
   * Places a new VM: picks a node (placement.ts) and, unless `dryRun`, reserves its vCPUs
   * and memory there until the VM exists. Placements are serialized by one etcd key (each
   * reservation is written only if nobody placed anything since the state it was decided
   * on), so concurrent creates never overfill a node. The node must have the create's `pool`
   * and `networks` (or, given `needs`, an existing VM's pools and networks: reach.ts).
   */
  async place(input: { cpus?: unknown; memory?: unknown; target?: unknown; group?: unknown; pool?: unknown; networks?: unknown }, o: { vm?: string; dryRun?: boolean; needs?: { pools: string[]; networks: string[] } } = {}): Promise<PlacementResult> {
    if (!this.config || !this.client || !this.etcdStore) throw notInCluster();
    const cpus = input.cpus ?? 1;
    if (typeof cpus !== 'number' || !Number.isInteger(cpus) || cpus < 1) throw new HangarError('INVALID_SPEC', `cpus must be a whole number of vCPUs, not ${String(cpus)}.`, { details: { field: 'cpus' } });
    const base = { cpus, memoryMiB: parseMemoryMiB(input.memory ?? 256), ...(input.target !== undefined && { target: checkTarget(input.target) }) };
    const group = await groupForCreate(this.store, input.group);
    const reach = await reachFor(this.store, input, o.needs);
    const prefix = this.config.prefix;
    const epochKey = `${prefix}c/placement/epoch`;
    for (let attempt = 0; attempt < 50; attempt++) {
      const epoch = await this.store.collection<{ n: number }>('placement').entry('epoch');
      const { loads, rule } = await this.loads(group);
      const req = { ...base, reach, ...(rule && { group: rule }) };
      const result = place(req, loads);
      if (!result.chosen) {
        // Some node would take it but for the group's rule or the storage and networks it needs: the rule, not capacity, refuses it.
        const byRule = result.lines.some((l) => l.reasons.length && l.reasons.every(isRuleReason));
        throw new HangarError(byRule ? 'PLACEMENT_IMPOSSIBLE' : 'HOST_CAPACITY', `No node can take a VM of ${req.cpus} vCPU(s) and ${req.memoryMiB} MiB${req.target ? ` on ${req.target}` : ''}${group ? ` in placement group ${group.name} (${group.policy}, ${group.enforcement})` : ''}: ${result.lines.map((l) => `${l.node}: ${l.reasons.join(', ')}`).join('; ')}.`, { details: { placement: result.lines } });
      }
      if (o.dryRun || !o.vm) return result;
      const decision = decisionOf(result, req);
      const reservation: Reservation = {
        node: result.chosen, cpus: req.cpus, memoryMiB: req.memoryMiB, expiresAt: new Date(Date.now() + RESERVATION_MS).toISOString(),
        ...(group && { group: group.name }), ...(decision && { decision }),
      };
      const r = await this.client.txn({
        compare: [epoch ? { key: epochKey, target: 'MOD', result: 'EQUAL', value: epoch.revision } : { key: epochKey, target: 'CREATE', result: 'EQUAL', value: 0 }],
        success: [{ put: { key: epochKey, value: JSON.stringify({ n: (epoch?.record.n ?? 0) + 1 }) } }, { put: { key: `${prefix}c/reservations/${o.vm}`, value: JSON.stringify(reservation) } }],
      });
      await this.etcdStore.caughtUp(r.revision);
      if (r.succeeded) return result;
    }
    throw new HangarError('CONFLICT', 'Placement kept losing to other creates: try again.');
  }

  /** Frees a create's reservation (its VM exists now, or the create failed). */
  async release(vm: string): Promise<void> {
    await this.store.collection('reservations').delete(vm).catch(() => undefined);
  }

  /** Each node with what it holds and has reserved, and where the members of `group` are. */
  private async loads(group?: PlacementGroupRecord): Promise<{ loads: NodeLoad[]; rule?: GroupRule }> {
    const [nodes, leases, vms, reservations] = await Promise.all([
      this.store.collection<NodeRecord>('nodes').list(),
      this.store.collection('node-leases').entries(),
      this.store.listVms(),
      this.store.collection<Reservation>('reservations').entries(),
    ]);
    const online = new Set(leases.map((l) => l.key));
    const names = new Set(vms.map((v) => v.name));
    const now = Date.now();
    const rule = group && groupRule(group, vms, reservations);
    const loads = nodes.map((node) => {
      const held = vms.filter((v) => v.node === node.name);
      const pending = reservations.filter((r) => r.record.node === node.name && !names.has(r.key) && Date.parse(r.record.expiresAt) > now).map((r) => r.record);
      return {
        node, online: online.has(node.name),
        // A create is carried to the node over its TLS listener: without one, only the node itself can place there.
        ...(node.name !== this.config?.node && !(node.address && node.fingerprint) && { unreachable: 'no TLS listener to carry the create to (start its daemon with --listen)' }),
        ...(node.evacuation && { unreachable: `${node.evacuation.state} (node evacuate): no new VMs until node restore` }),
        committed: {
          cpus: held.reduce((s, v) => s + v.spec.cpus, 0) + pending.reduce((s, r) => s + r.cpus, 0),
          memoryMiB: held.reduce((s, v) => s + v.spec.memoryMiB, 0) + pending.reduce((s, r) => s + r.memoryMiB, 0),
        },
      };
    });
    return { loads, ...(rule && { rule }) };
  }

  /** Makes the admin token nodes call each other with, once per cluster (kept in etcd). */
  private async makeNodeToken(prefix: string, client: EtcdClient, clusterId: string): Promise<void> {
    if (!this.api?.createNodeToken) return;
    const token = await this.api.createNodeToken(`cluster-nodes-${clusterId.slice(0, 8)}`);
    await client.put(`${prefix}cluster-node-token`, token);
  }

  /** This node's name in the cluster (undefined on a single host). */
  get nodeName(): string | undefined {
    return this.config?.node;
  }

  status(): ClusterStatus {
    if (!this.config) return { mode: 'single', revision: this.store.revision() };
    const deadline = this.membership?.deadline();
    const fenced = this.fencer?.state()?.fenced;
    const t = haTimings(this.config);
    return {
      mode: 'cluster', node: this.config.node, clusterId: this.config.clusterId, etcd: this.config.etcd, prefix: this.config.prefix,
      connected: this.etcdStore?.connected ?? false, revision: this.store.revision(), leaseTtlSeconds: this.config.leaseTtlSeconds,
      ...(deadline && { leaseDeadline: new Date(deadline).toISOString() }),
      ...(this.fencer?.running() && { fencerPid: this.fencer.state()!.pid }),
      ...(fenced && { fenced: { at: new Date(fenced.at).toISOString(), reason: fenced.reason, vms: fenced.vms } }),
      haGraceSeconds: t.graceMs / 1000, fenceMarginSeconds: t.marginMs / 1000,
    };
  }

  async nodes(): Promise<NodeView[]> {
    if (!this.membership) throw notInCluster();
    return this.membership.list();
  }

  /**
   * Makes this node the first of a new cluster on etcd: everything it stores is copied
   * there (writes wait meanwhile), then every service reads and writes etcd.
   */
  async init(input: InitInput): Promise<ClusterStatus> {
    if (this.config) throw new HangarError('CLUSTER_EXISTS', `This node is node "${this.config.node}" of cluster ${this.config.clusterId} already.`);
    const etcd = parseEtcdEndpoints(input.etcd);
    const node = checkNodeName(input.name);
    const ttl = input.leaseTtl ?? DEFAULT_LEASE_TTL_SECONDS;
    if (!Number.isInteger(ttl) || ttl < 2 || ttl > 300) throw new HangarError('INVALID_SPEC', `The lease TTL must be 2-300 seconds, not ${String(ttl)}.`, { details: { field: 'leaseTtl' } });
    const timings = checkTimings(input, ttl);
    const prefix = DEFAULT_PREFIX;
    const client = new EtcdClient({ endpoints: etcd, timeoutMs: this.o.etcdTimeoutMs ?? 3000 });
    try {
      await client.status();
      const meta = await this.claim(client, prefix, node);
      const config: ClusterConfig = { etcd, node, prefix, leaseTtlSeconds: ttl, clusterId: meta.id, ...timings };
      let etcdStore: EtcdStore | undefined;
      await this.store.switchWith(async (old) => {
        etcdStore = await EtcdStore.open({ client, prefix, log: this.o.log });
        try {
          await copyStore(old, etcdStore, node);
          await client.put(`${prefix}cluster`, JSON.stringify({ ...meta, state: 'ready', timings } satisfies ClusterMeta));
          await writeClusterConfig(this.o.dataDir, config);
        } catch (e) {
          await etcdStore.close();
          const cleanup = new EtcdClient({ endpoints: etcd });
          await cleanup.delete(prefix, { prefix: true }).catch(() => undefined);
          cleanup.close();
          throw e;
        }
        return etcdStore;
      });
      this.config = config;
      this.client = client;
      this.etcdStore = etcdStore;
      this.o.log(`This node is now node "${node}" of cluster ${meta.id} on etcd at ${etcd.join(', ')}.`);
      await this.makeNodeToken(prefix, client, meta.id);
      if (this.api?.certificate) this.api.fingerprint = await publishClusterCertificate(client, prefix, this.api.certificate);
      await this.start();
      return this.status();
    } catch (e) {
      if (!this.config) client.close();
      throw e;
    }
  }

  /** Sets or removes (value null) labels of a node (placement's `@label` targets). */
  async setLabels(name: string, labels: Record<string, string | null>): Promise<NodeView> {
    if (!this.membership) throw notInCluster();
    for (const [k, v] of Object.entries(labels)) {
      if (!/^[A-Za-z0-9_./-]{1,63}$/.test(k) || (v !== null && !/^[A-Za-z0-9_./-]{0,63}$/.test(v))) {
        throw new HangarError('INVALID_SPEC', `"${k}=${String(v)}" is not a label: 1-63 letters, digits, ".", "_", "/" or "-" each side.`, { details: { field: 'labels' } });
      }
    }
    const nodes = this.store.collection<NodeRecord>('nodes');
    for (let attempt = 0; attempt < 10; attempt++) {
      const e = await nodes.entry(name);
      if (!e) throw new HangarError('NOT_FOUND', `There is no node "${name}" in the cluster.`);
      const next = { ...e.record.labels };
      for (const [k, v] of Object.entries(labels)) {
        if (v === null) delete next[k];
        else next[k] = v;
      }
      try {
        await nodes.update(name, { ...e.record, labels: next }, { expectRevision: e.revision });
        return (await this.membership.list()).find((n) => n.name === name)!;
      } catch (err) {
        if (!(err instanceof HangarError && err.code === 'CONFLICT')) throw err;
      }
    }
    throw new HangarError('CONFLICT', `Node "${name}" kept changing: try again.`);
  }

  /**
   * Removes a node that is offline (its daemon stopped, or its host gone). Refused while it
   * holds VMs unless `force`: they stay listed, on a node that no longer exists (stranded).
   */
  async removeNode(name: string, force: boolean): Promise<void> {
    if (!this.membership) throw notInCluster();
    const nodes = this.store.collection<NodeRecord>('nodes');
    if (!(await nodes.get(name))) throw new HangarError('NOT_FOUND', `There is no node "${name}" in the cluster.`);
    if (await this.store.collection('node-leases').get(name)) {
      throw new HangarError('NODE_ONLINE', `Node "${name}" is online: stop its daemon first (its lease then expires), or remove it from that node's host.`);
    }
    const held = (await this.store.listVms()).filter((v) => v.node === name);
    if (held.length && !force) {
      throw new HangarError('NODE_ONLINE', `Node "${name}" holds ${held.length} VM(s) (${held.slice(0, 3).map((v) => v.name).join(', ')}${held.length > 3 ? '…' : ''}): move or delete them, or --force to remove the node anyway (they stay listed, stranded).`, { details: { vms: held.map((v) => v.name) } });
    }
    await nodes.delete(name);
    await this.store.collection('join-tokens').delete(name);
  }

  /** A single-use token for a new node of this name (`cluster add`), valid an hour. */
  async addNode(name: unknown): Promise<{ node: string; token: string; expiresAt: string }> {
    if (!this.config) throw notInCluster();
    const node = checkNodeName(name);
    const leases = this.store.collection('node-leases');
    if (await leases.get(node)) throw new HangarError('CLUSTER_EXISTS', `Node "${node}" is in the cluster and online: a new host needs another name.`);
    const fingerprint = await clusterFingerprint(this.client!, this.config.prefix);
    const t = makeJoinToken({ clusterId: this.config.clusterId, etcd: this.config.etcd, prefix: this.config.prefix, node, ...(fingerprint && { fingerprint }) });
    const tokens = this.store.collection<JoinTokenRecord>('join-tokens');
    if (!(await tokens.create(node, t.record))) await tokens.update(node, t.record);
    return { node, token: t.token, expiresAt: t.parsed.expiresAt };
  }

  /**
   * Joins the cluster a token names: the token is checked and spent in one etcd
   * transaction, then this daemon runs on etcd. Its own records are left behind (a joining
   * host has no VMs), as with Incus.
   */
  async join(input: { token: unknown; name?: unknown; etcd?: unknown }): Promise<ClusterStatus> {
    if (this.config) throw new HangarError('CLUSTER_EXISTS', `This node is node "${this.config.node}" of cluster ${this.config.clusterId} already.`);
    const t = parseJoinToken(input.token);
    if (input.name !== undefined && checkNodeName(input.name) !== t.node) {
      throw new HangarError('INVALID_SPEC', `The token is for node "${t.node}", not "${String(input.name)}".`, { details: { field: 'name' } });
    }
    const vms = await this.store.listVms();
    if (vms.length) throw new HangarError('NODE_NOT_EMPTY', `This host has ${vms.length} VM(s) (${vms.slice(0, 3).map((v) => v.name).join(', ')}${vms.length > 3 ? '…' : ''}): a joining host must have none. Export them first (hangar vm export), or delete them.`);
    // This node's own way to etcd (a local member, another address) may differ from the token's.
    const etcd = input.etcd === undefined ? t.etcd : parseEtcdEndpoints(input.etcd);
    const client = new EtcdClient({ endpoints: etcd, timeoutMs: this.o.etcdTimeoutMs ?? 3000 });
    try {
      const meta = JSON.parse((await client.range(`${t.prefix}cluster`)).kvs[0]?.value ?? '{}') as Partial<ClusterMeta>;
      if (meta.id !== t.clusterId || meta.state !== 'ready') throw new HangarError('JOIN_TOKEN_INVALID', `etcd at ${client.endpointList} does not hold cluster ${t.clusterId}.`);
      const key = `${t.prefix}c/join-tokens/${t.node}`;
      const stored = (await client.range(key)).kvs[0];
      const record = stored ? (JSON.parse(stored.value) as JoinTokenRecord) : undefined;
      if (!stored || !tokenMatches(t, record)) throw new HangarError('JOIN_TOKEN_INVALID', `The join token for node "${t.node}" is unknown, used or expired: make a new one with \`hangar cluster add ${t.node}\`.`);
      // Spent in the same step that checks it: a second join with it finds nothing.
      // The cluster's certificate must be the one the token pins, before the token is spent.
      const certificate = await clusterFingerprint(client, t.prefix);
      if (t.fingerprint !== undefined && certificate !== t.fingerprint) {
        throw new HangarError('JOIN_TOKEN_INVALID', `The cluster's certificate in etcd (${certificate ?? 'none'}) is not the one the token pins (${t.fingerprint}).`);
      }
      const spent = await client.txn({ compare: [{ key, target: 'MOD', result: 'EQUAL', value: stored.modRevision }], success: [{ delete: { key } }] });
      if (!spent.succeeded) throw new HangarError('JOIN_TOKEN_INVALID', `The join token for node "${t.node}" was used meanwhile.`);
      const config: ClusterConfig = { etcd, node: t.node, prefix: t.prefix, leaseTtlSeconds: DEFAULT_LEASE_TTL_SECONDS, clusterId: t.clusterId, ...meta.timings };
      let etcdStore: EtcdStore | undefined;
      await this.store.switchWith(async () => {
        etcdStore = await EtcdStore.open({ client, prefix: t.prefix, log: this.o.log });
        const lease = await etcdStore.collection<{ ttlSeconds: number }>('node-leases').list();
        config.leaseTtlSeconds = lease[0]?.ttlSeconds ?? DEFAULT_LEASE_TTL_SECONDS;
        try {
          await writeClusterConfig(this.o.dataDir, config);
        } catch (e) {
          await etcdStore.close();
          throw e;
        }
        return etcdStore;
      });
      this.config = config;
      this.client = client;
      this.etcdStore = etcdStore;
      this.o.log(`This node joined cluster ${t.clusterId} as node "${t.node}".`);
      // From now on it serves the cluster's one certificate (a client pins one fingerprint for every node).
      if (this.api?.certificate) this.api.fingerprint = (await adoptClusterCertificate(client, t.prefix, t.fingerprint, this.api.certificate)) ?? this.api.fingerprint;
      await this.start();
      return this.status();
    } catch (e) {
      if (!this.config) client.close();
      throw e;
    }
  }

  /** Creates the cluster's meta key; a half-done init of this same node is cleared first. */
  private async claim(client: EtcdClient, prefix: string, node: string): Promise<ClusterMeta> {
    const meta: ClusterMeta = { id: randomUUID(), createdAt: new Date().toISOString(), createdBy: node, state: 'initializing' };
    const key = `${prefix}cluster`;
    for (let attempt = 0; attempt < 2; attempt++) {
      const r = await client.txn({ compare: [{ key, target: 'CREATE', result: 'EQUAL', value: 0 }], success: [{ put: { key, value: JSON.stringify(meta) } }], failure: [{ range: { key } }] });
      if (r.succeeded) return meta;
      const existing = JSON.parse(r.ranges[0]?.kvs[0]?.value ?? '{}') as Partial<ClusterMeta>;
      if (existing.state === 'initializing' && existing.createdBy === node && attempt === 0) {
        // This node's own init was cut short (the daemon was killed): start it over.
        await client.delete(prefix, { prefix: true });
        continue;
      }
      throw new HangarError('CLUSTER_EXISTS', `etcd at ${client.endpointList} holds cluster ${existing.id ?? '(unknown)'} already${existing.createdBy ? ` (made by node "${existing.createdBy}")` : ''}: join that cluster instead, or use another etcd.`);
    }
    throw new HangarError('CLUSTER_EXISTS', 'The cluster prefix in etcd is in use.');
  }

  /**
   * NODE_FENCED when this node may not start an HA VM now: its fencer has fenced it, or the
   * lease is too close to its deadline to be sure no other node takes the VM over.
   */
  mayStart(rec: { name: string; spec: { ha?: unknown } }): void {
    if (!rec.spec.ha || !this.config) return;
    const s = this.fencer?.state();
    if (!leaseIsSure(s, haTimings(this.config).marginMs)) {
      throw new HangarError('NODE_FENCED', `Node "${this.config.node}" ${s?.fenced ? `is fenced (${s.fenced.reason})` : 'holds no sure lease now'}: HA VM "${rec.name}" may not start here until its lease is renewed.`, { details: { node: this.config.node } });
    }
  }

  /** What the HA manager needs of the daemon (VM start, events); it runs once the node is in a cluster. */
  useHa(hooks: Pick<HaDeps, 'start' | 'publish'>): void {
    this.haHooks = hooks;
  }

  /** The cluster's fencing and HA timings (undefined on a single host). */
  get timings(): ReturnType<typeof haTimings> | undefined {
    return this.config && haTimings(this.config);
  }

  async stop(): Promise<void> {
    this.nodeClients.close();
    this.fencer?.stop();
    this.ha?.stop();
    await this.store.close();
  }
}

/** Copies every VM and record of one store into another (an empty one). */
async function copyStore(from: Store, to: Store, node: string): Promise<void> {
  // Every VM of the host is this node's.
  for (const vm of await from.listVms()) await to.createVm({ ...vm, node });
  for (const kind of COLLECTION_KINDS) {
    const dest = to.collection(kind);
    for (const e of await from.collection(kind).entries()) await dest.create(e.key, e.record);
  }
}

function notInCluster(): HangarError {
  return new HangarError('NOT_IN_CLUSTER', 'This node is not in a cluster: make one with `hangar cluster init --etcd URL`.');
}
