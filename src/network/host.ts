/**
 * HostNetworks: the host side of Hangar's managed networks, with no knowledge of VMs.
 *
 * Per network it owns a Linux bridge (tagged with an ifalias), the bridge's gateway address, a
 * dnsmasq for DHCP and DNS, and one nftables table; per guest NIC a persistent tap enslaved to
 * the bridge. Everything is found again by tag (ifalias `hangar:<prefix>:…`, table
 * `hangar_<prefix>_<net>`, dnsmasq pid file + start time + command line), so ensure() is
 * idempotent and is what the daemon calls at create *and* at start: it creates what is
 * missing, adopts what is there and right, repairs what is there and wrong, never duplicates.
 *
 * Host commands are spawned with argv arrays (`ip`, `nft`, `dnsmasq`), never through a shell.
 * IPv4 only. Needs root (CAP_NET_ADMIN).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { basename, join } from 'node:path';
import { KeyedMutex } from '../util/mutex.js';
import { describeExit, findProgram, run, succeeded } from '../util/run.js';
import { contains, formatCidr, maskOf, overlaps, parseIPv4, parseSubnet, planSubnet, type Cidr, type SubnetPlan } from './addr.js';
import { dnsmasqArgs, dnsmasqFiles, isDnsmasqFor, isDnsmasqUnder, parseLeases, type DnsmasqFiles, type Lease } from './dnsmasq.js';
import { HangarError } from '../errors/errors.js';
import { checkNetbootHost, checkNetbootShape, type NetbootSpec } from './netboot.js';
import { deleteScript, matchesInstalled, parseTableJson, parseTablesJson, renderTable, replaceScript, type NetworkMode } from './firewall.js';
import {
  DEFAULT_PREFIX,
  bridgeMac,
  bridgeName,
  ifaceTag,
  networkOfTable,
  parseIfaceTag,
  tableName,
  validateIfname,
  validateNetworkName,
  validatePrefix,
} from './names.js';
import { findProcesses, isAlive, isSameLiveProcess, readProc, stopProcess } from '../util/proc.js';

export interface NetworkSpec extends NetbootSpec {
  name: string;
  /** IPv4 CIDR, prefix /16../29. For a --parent network: the LAN's subnet (for overlap checks only). */
  subnet: string;
  nat: boolean;
  isolated: boolean;
  /** Host interface to enslave to the bridge: guests then sit on that LAN (no DHCP, NAT or rules of ours). */
  parent?: string;
  /** DNS domain served by dnsmasq; default `<name>.hangar.internal`. */
  domain?: string;
}

export interface NetworkState {
  bridge: string;
  mode: NetworkMode | 'bridged';
  /** The bridge's address (managed networks only). */
  gateway?: string;
  dhcpRange?: [string, string];
  dnsmasqPid?: number;
  dnsmasqStartTime?: string;
  /** The nftables table (family inet) holding this network's rules (managed networks only). */
  table?: string;
  /** What this call did: objects created or replaced; empty when everything was adopted as is. */
  changed: string[];
}

export interface HostInterfaceNet {
  iface: string;
  cidr: Cidr;
  kind: 'address' | 'route';
}

export interface HostNetworksOptions {
  /** Per-network dnsmasq files live in <stateDir>/<network>/. */
  stateDir: string;
  log?: (m: string) => void;
  /** Interface-name and tag prefix (1..5 of a-z0-9), default 'hg'. Tests use their own. */
  prefix?: string;
  /** Where dnsmasq forwards queries outside the network's domain: the host's resolvers (default) or nowhere. */
  dnsUpstream?: 'host' | 'none';
  /** Override host address/route discovery (unit tests). */
  hostNets?: () => HostInterfaceNet[];
}

export interface TapInfo {
  name: string;
  network: string;
  /** The bridge it is enslaved to, if any. */
  master?: string;
  up: boolean;
  /** Carrier is up: a process (QEMU) has the tap open. A network with attached taps is in use. */
  attached: boolean;
}

export interface Orphans {
  /** Networks with something of ours on the host (bridge, table, dnsmasq, state dir) but not in `known`. */
  networks: string[];
  bridges: string[];
  taps: TapInfo[];
  tables: string[];
  dnsmasq: Array<{ pid: number; network: string }>;
  stateDirs: string[];
}

interface LinkJson {
  ifname: string;
  ifalias?: string;
  master?: string;
  address?: string;
  flags?: string[];
  linkinfo?: { info_kind?: string; info_data?: { type?: string } };
}

interface AddrJson {
  ifname?: string;
  addr_info?: Array<{ family?: string; local?: string; prefixlen?: number }>;
}

interface DnsmasqRecord {
  pid: number;
  startTime: string;
}

function modeOf(spec: NetworkSpec): NetworkMode | 'bridged' {
  if (spec.parent !== undefined) return 'bridged';
  if (spec.isolated) return 'isolated';
  return spec.nat ? 'nat' : 'routed';
}

/** Addresses and routes of the host's interfaces (main table), read without spawning anything. */
export function readHostNets(): HostInterfaceNet[] {
  const out: HostInterfaceNet[] = [];
  for (const [iface, addrs] of Object.entries(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family !== 'IPv4') continue;
      const addr = parseIPv4(a.address);
      const prefix = a.cidr ? Number(a.cidr.split('/')[1]) : undefined;
      if (addr === undefined || prefix === undefined || Number.isNaN(prefix)) continue;
      out.push({ iface, kind: 'address', cidr: { network: (addr & maskOf(prefix)) >>> 0, prefix } });
    }
  }
  let routes = '';
  try {
    routes = readFileSync('/proc/net/route', 'utf8');
  } catch {
    return out;
  }
  out.push(...parseProcNetRoute(routes));
  return out;
}

/** Routes (other than default routes) from /proc/net/route text. */
export function parseProcNetRoute(text: string): HostInterfaceNet[] {
  const out: HostInterfaceNet[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const dest = leHex(f[1]!);
    const mask = leHex(f[7]!);
    if (dest === undefined || mask === undefined || mask === 0) continue; // a default route overlaps everything
    const prefix = maskToPrefix(mask);
    if (prefix === undefined) continue;
    out.push({ iface: f[0]!, kind: 'route', cidr: { network: (dest & mask) >>> 0, prefix } });
  }
  return out;
}

function maskToPrefix(mask: number): number | undefined {
  for (let p = 0; p <= 32; p++) if (maskOf(p) === mask) return p;
  return undefined;
}

function leHex(h: string): number | undefined {
  if (!/^[0-9A-Fa-f]{8}$/.test(h)) return undefined;
  const n = parseInt(h, 16);
  // /proc/net/route prints the in-memory (network order) u32 in host (little-endian) order.
  return (((n & 0xff) << 24) | ((n & 0xff00) << 8) | ((n >>> 8) & 0xff00) | (n >>> 24)) >>> 0;
}

/**
 * The first conflict of `spec`'s subnet with another Hangar network or the host, or undefined.
 * Pure: `existing` are the other networks, `host` the host's addresses and routes.
 */
export function findOverlap(
  spec: NetworkSpec,
  cidr: Cidr,
  existing: NetworkSpec[],
  host: HostInterfaceNet[],
  ownBridge: string,
): { what: string; with: string } | undefined {
  for (const e of existing) {
    if (e.name === spec.name) continue;
    let other: Cidr;
    try {
      other = parseSubnet(e.subnet);
    } catch {
      continue;
    }
    if (overlaps(cidr, other)) return { what: `network "${e.name}" (${e.subnet})`, with: e.name };
  }
  // A bridged (parent) network's subnet is the LAN the host may well sit on: only Hangar networks count.
  if (spec.parent !== undefined) return undefined;
  for (const h of host) {
    if (h.iface === ownBridge) continue;
    if (overlaps(cidr, h.cidr)) {
      return { what: `the host's ${h.kind === 'address' ? 'address' : 'route'} ${formatCidr(h.cidr)} on ${h.iface}`, with: h.iface };
    }
  }
  return undefined;
}

export class HostNetworks {
  readonly stateDir: string;
  readonly prefix: string;
  private readonly log: (m: string) => void;
  private readonly dnsUpstream: 'host' | 'none';
  private readonly hostNets: () => HostInterfaceNet[];
  private readonly lock = new KeyedMutex();
  private tools?: { ip: string; nft?: string; dnsmasq?: string };

  constructor(opts: HostNetworksOptions) {
    this.prefix = opts.prefix ?? DEFAULT_PREFIX;
    validatePrefix(this.prefix);
    this.stateDir = opts.stateDir.replace(/\/+$/, '');
    this.log = opts.log ?? (() => {});
    this.dnsUpstream = opts.dnsUpstream ?? 'host';
    this.hostNets = opts.hostNets ?? readHostNets;
  }

  // ---------------------------------------------------------------- validation

  /** Shape checks that need no host access: name, CIDR, option combinations. */
  static checkSpec(spec: NetworkSpec): SubnetPlan {
    validateNetworkName(spec.name);
    const plan = planSubnet(spec.subnet);
    if (spec.nat && spec.isolated) {
      throw new HangarError('INVALID_SPEC', `Network "${spec.name}": --nat and --isolated exclude each other (an isolated network forwards nothing).`, {
        details: { field: 'isolated' },
      });
    }
    if (spec.parent !== undefined) {
      validateIfname(spec.parent, 'parent interface');
      if (spec.nat || spec.isolated) {
        throw new HangarError('INVALID_SPEC', `Network "${spec.name}": a --parent network puts guests on the host's LAN; it takes neither --nat nor --isolated.`, {
          details: { field: 'parent' },
        });
      }
    }
    if (spec.domain !== undefined && !/^(?=.{1,200}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/.test(spec.domain)) {
      throw new HangarError('INVALID_SPEC', `Network "${spec.name}": "${spec.domain}" is not a valid DNS domain.`, { details: { field: 'domain' } });
    }
    checkNetbootShape(spec.name, spec);
    return plan;
  }

  /**
   * Throws (with `code`) if `spec` cannot be created next to `existing` (the other Hangar
   * networks) on this host: INVALID_SPEC, NETWORK_OVERLAP or NETWORK_PARENT. Synchronous: it
   * reads addresses, routes and /sys, and spawns nothing.
   */
  validate(spec: NetworkSpec, existing: NetworkSpec[]): void {
    const plan = HostNetworks.checkSpec(spec);
    const bridge = bridgeName(this.prefix, spec.name);
    for (const e of existing) {
      if (e.name !== spec.name && bridgeName(this.prefix, e.name) === bridge) {
        throw new HangarError('INVALID_SPEC', `Network "${spec.name}" would share bridge ${bridge} with "${e.name}": pick another name.`, {
          details: { field: 'name' },
        });
      }
    }
    const conflict = findOverlap(spec, plan.cidr, existing, this.hostNets(), bridge);
    if (conflict) {
      throw new HangarError('NETWORK_OVERLAP', `Subnet ${plan.subnet} overlaps ${conflict.what}: pick a subnet no other network or host interface uses.`, {
        details: { field: 'subnet', conflictsWith: conflict.with },
      });
    }
    if (spec.parent !== undefined) this.checkParent(spec, existing, bridge);
    checkNetbootHost(spec.name, spec);
  }

  private checkParent(spec: NetworkSpec, existing: NetworkSpec[], bridge: string): void {
    const parent = spec.parent!;
    const sys = `/sys/class/net/${parent}`;
    const fail = (why: string): never => {
      throw new HangarError('NETWORK_PARENT', `Parent interface ${parent}: ${why}`, { details: { field: 'parent', value: parent } });
    };
    if (!existsSync(sys)) fail('no such interface on this host.');
    const user = existing.find((e) => e.name !== spec.name && e.parent === parent);
    if (user) fail(`already the parent of network "${user.name}".`);
    if (parent === 'lo' || existsSync(`${sys}/bridge`)) fail('a loopback or bridge interface cannot be a parent; name a NIC (or a veth, bond or VLAN).');
    let master: string | undefined;
    try {
      master = basename(readlinkSync(`${sys}/master`));
    } catch {
      master = undefined;
    }
    if (master !== undefined && master !== bridge) fail(`already enslaved to ${master}.`);
    if (master === undefined) {
      const addrs = (networkInterfaces()[parent] ?? []).filter((a) => a.family === 'IPv4');
      if (addrs.length > 0) {
        fail(`it carries the host's address ${addrs.map((a) => a.cidr).join(', ')}; enslaving it would cut the host off that LAN. Move the address off it (or use another NIC) first.`);
      }
    }
  }

  // ---------------------------------------------------------------- ensure / remove

  /**
   * Makes the host match `spec`, creating what is missing and adopting what exists. Called
   * when a network is created and for every network when the daemon starts.
   */
  ensure(spec: NetworkSpec): Promise<NetworkState> {
    return this.lock.run('host', () => this.ensureLocked(spec));
  }

  private async ensureLocked(spec: NetworkSpec): Promise<NetworkState> {
    const plan = HostNetworks.checkSpec(spec);
    const tools = this.getTools();
    const mode = modeOf(spec);
    const bridge = bridgeName(this.prefix, spec.name);
    const tag = ifaceTag(this.prefix, 'net', spec.name);
    const changed: string[] = [];

    // 1. The bridge.
    let link = (await this.links()).find((l) => l.ifname === bridge);
    if (link) {
      if (link.linkinfo?.info_kind !== 'bridge') {
        throw new HangarError('NETWORK_FAILED', `Interface ${bridge} exists and is not a bridge: remove it, or rename the network.`);
      }
      const owner = parseIfaceTag(link.ifalias);
      if (owner && (owner.prefix !== this.prefix || owner.kind !== 'net' || owner.network !== spec.name)) {
        throw new HangarError('NETWORK_FAILED', `Bridge ${bridge} belongs to ${link.ifalias}, not to network "${spec.name}".`);
      }
      if (!owner && link.ifalias) {
        throw new HangarError('NETWORK_FAILED', `Bridge ${bridge} exists and is not Hangar's (alias "${link.ifalias}").`);
      }
    } else {
      await this.ip(['link', 'add', 'name', bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
      changed.push(`bridge ${bridge}`);
      this.log(`network ${spec.name}: created bridge ${bridge}`);
    }
    if (link?.ifalias !== tag) await this.ip(['link', 'set', 'dev', bridge, 'alias', tag]);
    const mac = bridgeMac(this.prefix, spec.name);
    if (link?.address !== mac) await this.ip(['link', 'set', 'dev', bridge, 'address', mac]);
    link = (await this.links()).find((l) => l.ifname === bridge);

    // 2. The gateway address (managed) or the parent port (bridged).
    if (mode !== 'bridged') {
      const want = `${plan.gateway}/${plan.cidr.prefix}`;
      const have = await this.ipv4Addrs(bridge);
      for (const a of have) {
        if (a !== want) {
          await this.ip(['addr', 'del', a, 'dev', bridge]);
          changed.push(`removed stale address ${a}`);
        }
      }
      if (!have.includes(want)) {
        await this.ip(['addr', 'add', want, 'broadcast', plan.broadcast, 'dev', bridge]);
        changed.push(`address ${want}`);
      }
    } else {
      const parent = spec.parent!;
      const p = (await this.links()).find((l) => l.ifname === parent);
      if (!p) throw new HangarError('NETWORK_PARENT', `Parent interface ${parent}: no such interface on this host.`, { details: { field: 'parent' } });
      if (p.master !== undefined && p.master !== bridge) {
        throw new HangarError('NETWORK_PARENT', `Parent interface ${parent}: already enslaved to ${p.master}.`, { details: { field: 'parent' } });
      }
      if (p.master !== bridge) {
        await this.ip(['link', 'set', 'dev', parent, 'master', bridge]);
        changed.push(`parent ${parent}`);
      }
      if (!p.flags?.includes('UP')) await this.ip(['link', 'set', 'dev', parent, 'up']);
      // A bridged network has no address of ours: drop any left from a managed past.
      for (const a of await this.ipv4Addrs(bridge)) await this.ip(['addr', 'del', a, 'dev', bridge]);
    }
    if (!link?.flags?.includes('UP')) await this.ip(['link', 'set', 'dev', bridge, 'up']);

    // 3. Rules.
    const table = tableName(this.prefix, spec.name);
    if (mode !== 'bridged') {
      if (!tools.nft) throw new HangarError('NETWORK_FAILED', 'nft is not installed (Debian package nftables): managed networks need it for their rules.');
      const rendered = renderTable({ table, bridge, subnet: plan.subnet, gateway: plan.gateway, mode, note: `Hangar network ${spec.name} (${mode}, prefix ${this.prefix})` });
      const installed = await this.nftTable(table);
      if (!installed || !matchesInstalled(rendered, installed)) {
        await this.nft(replaceScript(rendered));
        changed.push(`nft table ${table}`);
        this.log(`network ${spec.name}: ${installed ? 'replaced' : 'installed'} nft table inet ${table} (${mode})`);
      }
      if (mode === 'nat' || mode === 'routed') this.enableForwarding(spec.name);
    } else if (tools.nft && (await this.nftTable(table))) {
      await this.nft(deleteScript(table));
      changed.push(`removed nft table ${table}`);
    }

    // 4. dnsmasq.
    const state: NetworkState = { bridge, mode, changed };
    const files = dnsmasqFiles(join(this.stateDir, spec.name));
    if (mode !== 'bridged') {
      state.gateway = plan.gateway;
      state.dhcpRange = plan.dhcpRange;
      state.table = table;
      const restart = changed.some((c) => c.startsWith('bridge ') || c.startsWith('address '));
      const d = await this.ensureDnsmasq(spec, bridge, plan, files, restart, changed);
      state.dnsmasqPid = d.pid;
      state.dnsmasqStartTime = d.startTime;
    } else {
      await this.stopDnsmasq(files.pidFile);
    }
    this.log(`network ${spec.name}: ${changed.length === 0 ? 'adopted as it was' : `ensured (${changed.join(', ')})`}`);
    return state;
  }

  /** Removes everything of network `name` from the host. Idempotent; the parent NIC is released, not removed. */
  remove(spec: NetworkSpec | string): Promise<void> {
    const name = typeof spec === 'string' ? spec : spec.name;
    return this.lock.run('host', () => this.removeLocked(name));
  }

  private async removeLocked(name: string): Promise<void> {
    validateNetworkName(name);
    const tools = this.getTools();
    const dir = join(this.stateDir, name);
    await this.stopDnsmasq(dnsmasqFiles(dir).pidFile);
    if (tools.nft) await this.nft(deleteScript(tableName(this.prefix, name)));
    const bridge = bridgeName(this.prefix, name);
    for (const l of await this.links()) {
      const tag = parseIfaceTag(l.ifalias);
      if (!tag || tag.prefix !== this.prefix || tag.network !== name) continue;
      if (tag.kind === 'tap') {
        await this.ip(['link', 'del', 'dev', l.ifname]);
        this.log(`network ${name}: deleted tap ${l.ifname}`);
      }
    }
    const br = (await this.links()).find((l) => l.ifname === bridge);
    if (br) {
      const tag = parseIfaceTag(br.ifalias);
      if (tag && tag.prefix === this.prefix && tag.kind === 'net' && tag.network === name) {
        await this.ip(['link', 'del', 'dev', bridge]);
        this.log(`network ${name}: deleted bridge ${bridge}`);
      } else {
        this.log(`network ${name}: left ${bridge} alone (not tagged as this network's bridge)`);
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }

  // ---------------------------------------------------------------- taps

  /**
   * Creates (or adopts) the persistent tap `tap`, enslaved to network `network`'s bridge and up.
   * `owner` lets an unprivileged QEMU open it.
   */
  createTap(network: string, tap: string, owner: { uid?: number; gid?: number; multiQueue?: boolean } = {}): Promise<void> {
    return this.lock.run('host', async () => {
      validateNetworkName(network);
      validateIfname(tap, 'tap');
      const bridge = bridgeName(this.prefix, network);
      const links = await this.links();
      const br = links.find((l) => l.ifname === bridge);
      const brTag = parseIfaceTag(br?.ifalias);
      if (!br || !brTag || brTag.prefix !== this.prefix || brTag.network !== network) {
        throw new HangarError('NETWORK_FAILED', `Network "${network}" is not set up on this host (no bridge ${bridge}): ensure it first.`);
      }
      const tag = ifaceTag(this.prefix, 'tap', network);
      const t = links.find((l) => l.ifname === tap);
      if (t) {
        const owned = parseIfaceTag(t.ifalias);
        if (t.linkinfo?.info_kind !== 'tun' || !owned || owned.prefix !== this.prefix || owned.kind !== 'tap') {
          throw new HangarError('NETWORK_FAILED', `Interface ${tap} exists and is not a Hangar tap.`);
        }
      } else {
        const args = ['tuntap', 'add', 'dev', tap, 'mode', 'tap'];
        if (owner.uid !== undefined) args.push('user', String(owner.uid));
        if (owner.gid !== undefined) args.push('group', String(owner.gid));
        // virtio multiqueue: QEMU opens one queue per pair on the same tap.
        if (owner.multiQueue) args.push('multi_queue');
        await this.ip(args);
        this.log(`network ${network}: created tap ${tap}`);
      }
      if (t?.ifalias !== tag) await this.ip(['link', 'set', 'dev', tap, 'alias', tag]);
      if (t?.master !== bridge) await this.ip(['link', 'set', 'dev', tap, 'master', bridge]);
      if (!t?.flags?.includes('UP')) await this.ip(['link', 'set', 'dev', tap, 'up']);
    });
  }

  /** Deletes tap `tap` if it exists (and is Hangar's, with this prefix). */
  deleteTap(tap: string): Promise<void> {
    return this.lock.run('host', async () => {
      validateIfname(tap, 'tap');
      const t = (await this.links()).find((l) => l.ifname === tap);
      if (!t) return;
      const owned = parseIfaceTag(t.ifalias);
      if (!owned || owned.prefix !== this.prefix || owned.kind !== 'tap') {
        throw new HangarError('NETWORK_FAILED', `Interface ${tap} is not a Hangar tap: left alone.`);
      }
      await this.ip(['link', 'del', 'dev', tap]);
      this.log(`network ${owned.network}: deleted tap ${tap}`);
    });
  }

  /** Hangar's taps on this host (this prefix), optionally of one network. */
  async taps(network?: string): Promise<TapInfo[]> {
    const out: TapInfo[] = [];
    for (const l of await this.links()) {
      const tag = parseIfaceTag(l.ifalias);
      if (!tag || tag.prefix !== this.prefix || tag.kind !== 'tap') continue;
      if (network !== undefined && tag.network !== network) continue;
      out.push(tapInfo(l, tag.network));
    }
    return out;
  }

  // ---------------------------------------------------------------- leases, orphans

  /** The DHCP leases dnsmasq has handed out on network `network` (empty for bridged networks). */
  async leases(network: string): Promise<Lease[]> {
    validateNetworkName(network);
    try {
      return parseLeases(await readFile(dnsmasqFiles(join(this.stateDir, network)).leaseFile, 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  /** What of ours (this prefix and state dir) is on the host for networks not in `known`. */
  async orphans(known: Array<NetworkSpec | string>): Promise<Orphans> {
    const names = new Set(known.map((k) => (typeof k === 'string' ? k : k.name)));
    const o: Orphans = { networks: [], bridges: [], taps: [], tables: [], dnsmasq: [], stateDirs: [] };
    const nets = new Set<string>();
    for (const l of await this.links()) {
      const tag = parseIfaceTag(l.ifalias);
      if (!tag || tag.prefix !== this.prefix || names.has(tag.network)) continue;
      nets.add(tag.network);
      if (tag.kind === 'net') o.bridges.push(l.ifname);
      else o.taps.push(tapInfo(l, tag.network));
    }
    const nft = this.getTools().nft;
    if (nft) {
      const r = await run(nft, ['-j', 'list', 'tables', 'inet']);
      if (succeeded(r)) {
        for (const t of parseTablesJson(r.stdout)) {
          const n = networkOfTable(this.prefix, t);
          if (n !== undefined && !names.has(n)) {
            o.tables.push(t);
            nets.add(n);
          }
        }
      }
    }
    for (const p of findProcesses((argv) => isDnsmasqUnder(argv, this.stateDir) !== undefined)) {
      const n = isDnsmasqUnder(p.argv, this.stateDir)!;
      if (!names.has(n)) {
        o.dnsmasq.push({ pid: p.pid, network: n });
        nets.add(n);
      }
    }
    if (existsSync(this.stateDir)) {
      for (const d of readdirSync(this.stateDir, { withFileTypes: true })) {
        if (d.isDirectory() && !names.has(d.name) && /^[a-z0-9-]+$/.test(d.name)) {
          o.stateDirs.push(d.name);
          nets.add(d.name);
        }
      }
    }
    o.networks = [...nets].sort();
    return o;
  }

  /** Removes every orphan network found by orphans(known); returns their names. */
  async removeOrphans(known: Array<NetworkSpec | string>): Promise<string[]> {
    const o = await this.orphans(known);
    for (const n of o.networks) {
      try {
        validateNetworkName(n);
      } catch {
        continue;
      }
      await this.remove(n);
    }
    return o.networks;
  }

  // ---------------------------------------------------------------- dnsmasq

  private async ensureDnsmasq(
    spec: NetworkSpec,
    bridge: string,
    plan: SubnetPlan,
    files: DnsmasqFiles,
    forceRestart: boolean,
    changed: string[],
  ): Promise<DnsmasqRecord> {
    const bin = this.getTools().dnsmasq;
    if (!bin) throw new HangarError('NETWORK_FAILED', 'dnsmasq is not installed (Debian package dnsmasq-base): managed networks need it for DHCP and DNS.');
    const args = dnsmasqArgs({ bridge, plan, domain: spec.domain ?? `${spec.name}.hangar.internal`, files, upstream: this.dnsUpstream, netboot: spec });
    mkdirSync(files.dir, { recursive: true, mode: 0o755 });

    // Every dnsmasq with our pid file is this network's: adopt the one that matches exactly.
    const running = findProcesses((argv) => isDnsmasqFor(argv, files.pidFile));
    const recorded = this.readRecord(files);
    const matches = (argv: string[]): boolean => argv.length === args.length + 1 && args.every((a, i) => argv[i + 1] === a);
    let adopt: DnsmasqRecord | undefined;
    if (!forceRestart) {
      const pidFromFile = readPidFile(files.pidFile);
      const exact = running.filter((p) => matches(p.argv));
      // Prefer the one the pid file and our record name (pid + start time), then any exact match.
      const best =
        exact.find((p) => p.pid === recorded?.pid && p.startTime === recorded.startTime) ??
        exact.find((p) => p.pid === pidFromFile) ??
        exact[0];
      if (best) adopt = { pid: best.pid, startTime: best.startTime };
    }
    for (const p of running) {
      if (adopt && p.pid === adopt.pid) continue;
      this.log(`network ${spec.name}: stopping dnsmasq ${p.pid} (${forceRestart ? 'bridge re-created' : 'stale or duplicate'})`);
      await stopProcess(p.pid, p.startTime);
    }
    if (adopt) {
      if (recorded?.pid !== adopt.pid || recorded.startTime !== adopt.startTime) this.writeRecord(files, adopt);
      if (readPidFile(files.pidFile) !== adopt.pid) writeFileSync(files.pidFile, `${adopt.pid}\n`);
      return adopt;
    }

    rmSync(files.pidFile, { force: true });
    const out = openSync(files.launchLog, 'w', 0o644);
    let code: number | null;
    try {
      // dnsmasq daemonises: the launcher exits once the daemon is set up, with its error code.
      code = await new Promise<number | null>((resolve, reject) => {
        const child = spawn(bin, args, { stdio: ['ignore', out, out], detached: true });
        child.on('error', reject);
        child.on('exit', (c) => resolve(c));
      });
    } finally {
      closeSync(out);
    }
    if (code !== 0) {
      const why = safeRead(files.launchLog).trim() || `exit status ${code}`;
      throw new HangarError('NETWORK_FAILED', `dnsmasq for network "${spec.name}" did not start: ${why}`);
    }
    let rec: DnsmasqRecord | undefined;
    for (let i = 0; i < 100 && !rec; i++) {
      const pid = readPidFile(files.pidFile);
      const p = pid === undefined ? undefined : readProc(pid);
      if (isAlive(p) && isDnsmasqFor(p.argv, files.pidFile)) rec = { pid: p.pid, startTime: p.startTime };
      else await new Promise((r) => setTimeout(r, 20));
    }
    if (!rec) throw new HangarError('NETWORK_FAILED', `dnsmasq for network "${spec.name}" started but wrote no usable pid file (${files.pidFile}).`);
    this.writeRecord(files, rec);
    changed.push(`dnsmasq ${rec.pid}`);
    this.log(`network ${spec.name}: started dnsmasq ${rec.pid} on ${bridge}`);
    return rec;
  }

  private async stopDnsmasq(pidFile: string): Promise<void> {
    for (const p of findProcesses((argv) => isDnsmasqFor(argv, pidFile))) {
      await stopProcess(p.pid, p.startTime);
      this.log(`stopped dnsmasq ${p.pid}`);
    }
  }

  private readRecord(files: DnsmasqFiles): DnsmasqRecord | undefined {
    try {
      const r = JSON.parse(readFileSync(files.stateFile, 'utf8')) as Partial<DnsmasqRecord>;
      return typeof r.pid === 'number' && typeof r.startTime === 'string' ? { pid: r.pid, startTime: r.startTime } : undefined;
    } catch {
      return undefined;
    }
  }

  private writeRecord(files: DnsmasqFiles, rec: DnsmasqRecord): void {
    writeFileSync(files.stateFile, `${JSON.stringify(rec)}\n`);
  }

  /** True while the dnsmasq of `state` is still that process (pid + start time). */
  static dnsmasqAlive(state: Pick<NetworkState, 'dnsmasqPid' | 'dnsmasqStartTime'>): boolean {
    return state.dnsmasqPid !== undefined && state.dnsmasqStartTime !== undefined && isSameLiveProcess(state.dnsmasqPid, state.dnsmasqStartTime);
  }

  // ---------------------------------------------------------------- host plumbing

  private enableForwarding(network: string): void {
    const f = '/proc/sys/net/ipv4/ip_forward';
    if (safeRead(f).trim() === '1') return;
    writeFileSync(f, '1\n');
    this.log(`network ${network}: enabled net.ipv4.ip_forward (needed to route and NAT guest traffic; Hangar never turns it off again)`);
  }

  private getTools(): { ip: string; nft?: string; dnsmasq?: string } {
    if (!this.tools) {
      const ip = findProgram('ip');
      if (!ip) throw new HangarError('NETWORK_FAILED', 'ip is not installed (Debian package iproute2).');
      this.tools = { ip, nft: findProgram('nft'), dnsmasq: findProgram('dnsmasq') };
    }
    return this.tools;
  }

  private async ip(args: string[]): Promise<string> {
    const r = await run(this.getTools().ip, args);
    if (!succeeded(r)) {
      throw new HangarError('NETWORK_FAILED', `ip ${args.join(' ')} failed: ${r.stderr.trim() || describeExit(r)}`);
    }
    return r.stdout;
  }

  private async nft(script: string): Promise<void> {
    const r = await run(this.getTools().nft!, ['-f', '-'], { input: script });
    if (!succeeded(r)) throw new HangarError('NETWORK_FAILED', `nft failed: ${r.stderr.trim() || describeExit(r)}`);
  }

  private async nftTable(table: string): Promise<ReturnType<typeof parseTableJson> | undefined> {
    const r = await run(this.getTools().nft!, ['-j', 'list', 'table', 'inet', table]);
    if (!succeeded(r)) return undefined;
    return parseTableJson(r.stdout);
  }

  private async links(): Promise<LinkJson[]> {
    return JSON.parse((await this.ip(['-j', '-d', 'link', 'show'])) || '[]') as LinkJson[];
  }

  private async ipv4Addrs(dev: string): Promise<string[]> {
    const j = JSON.parse((await this.ip(['-j', '-4', 'addr', 'show', 'dev', dev])) || '[]') as AddrJson[];
    return j.flatMap((i) => (i.addr_info ?? []).filter((a) => a.local !== undefined).map((a) => `${a.local}/${a.prefixlen}`));
  }
}

function tapInfo(l: LinkJson, network: string): TapInfo {
  return { name: l.ifname, network, master: l.master, up: l.flags?.includes('UP') ?? false, attached: l.flags?.includes('LOWER_UP') ?? false };
}

function readPidFile(path: string): number | undefined {
  const t = safeRead(path).trim();
  return /^\d+$/.test(t) ? Number(t) : undefined;
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** True if `address` (dotted quad) lies in `subnet` (CIDR). */
export function inSubnet(address: string, subnet: string): boolean {
  const a = parseIPv4(address);
  return a !== undefined && contains(parseSubnet(subnet), a);
}
