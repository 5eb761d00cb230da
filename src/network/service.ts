/**
 * NetworkService: managed networks as Hangar resources. It keeps their specs in the
 * store and drives the host side (HostNetworks: bridge, dnsmasq, nftables, taps).
 * VMs reference networks by name; a network in use cannot be deleted.
 */
import { errorText, HangarError } from '../errors/errors.js';
import type { EventBus } from '../events/bus.js';
import type { Collection, Store } from '../store/store.js';
import { HostNetworks, type NetworkSpec, type NetworkState } from './host.js';
import type { Lease } from './dnsmasq.js';
import { tapName } from './names.js';
import { normalTftpRoot } from './netboot.js';
import { checkNodeList, onNode } from '../store/node-lists.js';

export interface NetworkRecord extends NetworkSpec {
  /** In a cluster: the only nodes that have this network (absent: every node); elsewhere it is not set up. */
  nodes?: string[];
  createdAt: string;
}

export interface NetworkView extends NetworkRecord {
  bridge: string;
  mode: string;
  gateway?: string;
  dhcpRange?: [string, string];
  leases: Lease[];
  /** VMs with a NIC on it. */
  vms: string[];
}

export interface CreateNetworkInput {
  name: string;
  subnet: string;
  nat?: boolean;
  isolated?: boolean;
  parent?: string;
  /** Network boot: a directory the network serves over TFTP, the DHCP boot file, another TFTP server. */
  tftpRoot?: string;
  bootFile?: string;
  bootServer?: string;
  /** In a cluster: the only nodes that have it (default: every node). */
  nodes?: unknown;
}

export class NetworkService {
  private readonly records: Collection<NetworkRecord>;
  readonly host: HostNetworks;
  private readonly states = new Map<string, NetworkState>();
  /** `create` waits for it: see init and removeLeftovers. */
  private leftovers: Promise<void> = Promise.resolve();
  private releaseCreates: () => void = () => undefined;

  private readonly node: () => string | undefined;

  constructor(
    private readonly store: Store,
    private readonly events: EventBus,
    /** `node`: this node's name in a cluster (undefined on a single host). */
    opts: { stateDir: string; prefix?: string; log?: (m: string) => void; node?: () => string | undefined },
    /** Which VMs use a network: supplied by the daemon (the VM service knows the NICs). */
    private readonly usersOf: (network: string) => Promise<string[]>,
  ) {
    this.records = store.collection<NetworkRecord>('networks');
    this.node = opts.node ?? (() => undefined);
    this.host = new HostNetworks({ stateDir: opts.stateDir, ...(opts.prefix && { prefix: opts.prefix }), ...(opts.log && { log: opts.log }) });
  }

  get prefix(): string {
    return this.host.prefix;
  }

  /**
   * At daemon start: re-adopt (or repair) every stored network; nothing is duplicated. Call
   * `removeLeftovers` after it: until that is done, `create` waits.
   */
  async init(log: (m: string) => void): Promise<void> {
    let release!: () => void;
    this.leftovers = new Promise<void>((resolve) => (release = resolve));
    this.releaseCreates = release;
    const all = await this.records.list();
    for (const rec of all) {
      if (!onNode(rec, this.node())) continue;
      try {
        const state = await this.host.ensure(rec);
        this.states.set(rec.name, state);
        if (state.changed.length) log(`network ${rec.name}: repaired ${state.changed.join(', ')}`);
      } catch (e) {
        log(`network ${rec.name} could not be set up: ${errorText(e)}`);
      }
    }
  }

  /**
   * After `init`: removes what deleted networks left on the host (it lists the host's links,
   * nftables tables and processes). The daemon runs it once it answers; `create` waits for it,
   * so a new network is never taken for a leftover. Never rejects.
   */
  removeLeftovers(log: (m: string) => void): Promise<void> {
    const release = this.releaseCreates;
    this.leftovers = (async () => {
      const removed = await this.host.removeOrphans(await this.records.list()).catch(() => []);
      if (removed.length) log(`removed leftovers of deleted networks: ${removed.join(', ')}`);
    })().catch(() => undefined).finally(release);
    return this.leftovers;
  }

  /** Resolves once `removeLeftovers` is done (at once when `init` never ran; pending from `init` until then). */
  get leftoversRemoved(): Promise<void> {
    return this.leftovers;
  }

  async create(input: CreateNetworkInput): Promise<NetworkView> {
    await this.leftovers;
    const spec: NetworkRecord = {
      name: input.name, subnet: input.subnet, nat: input.nat ?? false, isolated: input.isolated ?? false, createdAt: new Date().toISOString(),
    };
    if (input.parent !== undefined) spec.parent = input.parent;
    if (input.tftpRoot !== undefined) spec.tftpRoot = normalTftpRoot(input.tftpRoot);
    if (input.bootFile !== undefined) spec.bootFile = input.bootFile;
    if (input.bootServer !== undefined) spec.bootServer = input.bootServer;
    if (input.nodes !== undefined) spec.nodes = await checkNodeList(this.store, this.node(), input.nodes, `network "${spec.name}"`);
    const existing = await this.records.list();
    if (existing.some((n) => n.name === spec.name)) throw new HangarError('NETWORK_EXISTS', `A network named "${spec.name}" exists: pick another name or delete it first.`);
    this.host.validate(spec, existing);
    if (!(await this.records.create(spec.name, spec))) throw new HangarError('NETWORK_EXISTS', `A network named "${spec.name}" was created meanwhile.`);
    // A network this node does not have is only recorded here.
    if (onNode(spec, this.node())) {
      try {
        this.states.set(spec.name, await this.host.ensure(spec));
      } catch (e) {
        await this.host.remove(spec).catch(() => undefined);
        await this.records.delete(spec.name);
        throw e;
      }
    }
    await this.events.publish('network.created', undefined, { network: spec.name, subnet: spec.subnet, nat: spec.nat, isolated: spec.isolated, ...(spec.nodes && { nodes: spec.nodes }) });
    return this.show(spec.name);
  }

  async list(): Promise<NetworkView[]> {
    return Promise.all((await this.records.list()).map((r) => this.view(r)));
  }

  async show(name: string): Promise<NetworkView> {
    return this.view(await this.get(name));
  }

  async get(name: string): Promise<NetworkRecord> {
    const rec = await this.records.get(name);
    if (!rec) throw new HangarError('NETWORK_NOT_FOUND', `There is no network "${name}": see \`hangar network list\`.`);
    return rec;
  }

  async delete(name: string): Promise<void> {
    const rec = await this.get(name);
    const users = await this.usersOf(name);
    if (users.length > 0) {
      throw new HangarError('NETWORK_IN_USE', `Network "${name}" is used by ${users.join(', ')}: remove their NICs or delete them first.`);
    }
    if ((await this.host.taps(name)).some((t) => t.attached)) {
      throw new HangarError('NETWORK_IN_USE', `A QEMU process still holds a tap on network "${name}": stop it first.`);
    }
    if (onNode(rec, this.node())) await this.host.remove(rec);
    await this.records.delete(name);
    this.states.delete(name);
    await this.events.publish('network.deleted', undefined, { network: name });
  }

  /** The tap name for a VM's NIC: deterministic, so a restarted daemon finds it again. */
  tapFor(vmId: string, nicId: string): string {
    return tapName(this.host.prefix, vmId, nicId);
  }

  /** `owner`: the uid/gid of the QEMU that will open the tap (a guest's own user). */
  async createTap(network: string, tap: string, owner: { uid?: number; gid?: number; multiQueue?: boolean } = {}): Promise<void> {
    const rec = await this.get(network);
    if (!onNode(rec, this.node())) {
      throw new HangarError('NETWORK_NOT_ON_NODE', `Network "${network}" is not on node "${this.node()}" (only on ${rec.nodes!.join(', ')}).`, { details: { network, node: this.node(), nodes: rec.nodes } });
    }
    await this.host.createTap(network, tap, owner);
  }

  async deleteTap(tap: string): Promise<void> {
    await this.host.deleteTap(tap);
  }

  private async view(rec: NetworkRecord): Promise<NetworkView> {
    const state = this.states.get(rec.name);
    const v: NetworkView = {
      ...rec, bridge: state?.bridge ?? '', mode: state?.mode ?? 'unknown',
      leases: rec.parent ? [] : await this.host.leases(rec.name).catch(() => []),
      vms: await this.usersOf(rec.name),
    };
    if (state?.gateway) v.gateway = state.gateway;
    if (state?.dhcpRange) v.dhcpRange = state.dhcpRange;
    return v;
  }
}

