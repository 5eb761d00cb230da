/**
 * Managed networks on the real host (root): bridges, taps, dnsmasq, nftables, and three tiny
 * guests under raw QEMU (TCG). Shows that
 *  - guests A and B on a NAT network get DHCP leases from Hangar's dnsmasq and ping each other;
 *  - guest C on an isolated network gets a lease but cannot reach network A (guest or gateway);
 *  - ensure() twice, and from a second driver instance (a daemon restart), adopts instead of
 *    duplicating; a killed dnsmasq or a deleted table is put back;
 *  - a --parent network (a veth pair, the far end in a netns standing in for the LAN) carries a
 *    NIC hot-plugged into guest B (netdev_add + device_add) to the LAN and back, then unplugged;
 *  - bad input gets clear errors with codes;
 *  - after remove(), no link, nft table, dnsmasq or netns of ours is left (before/after compare).
 * Traffic goes only between these guests, the host's bridges and the test's own netns.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostNetworks, findOverlap, readHostNets, type NetworkSpec } from '../../src/network/host.js';
import { findProgram } from '../../src/util/run.js';
import { HangarError } from '../../src/errors/errors.js';
import { parseSubnet } from '../../src/network/addr.js';
import { bridgeName, macAddress, tableName, tapName } from '../../src/network/names.js';
import { findProcesses } from '../../src/util/proc.js';
import { QmpClient } from '../../src/qmp/index.js';

const PREFIX = 'hgx';
const NETNS = 'hgx-lan';
const VETH_HOST = 'hgxv0';
const VETH_LAN = 'hgxv1';
const TINY = '/var/cache/hangar/images/tiny/manifest.json';
const QEMU = 'qemu-system-x86_64';
const STATE_DIR = '/tmp/hangar-network-test-state';

const tools = { ip: findProgram('ip'), nft: findProgram('nft'), dnsmasq: findProgram('dnsmasq'), qemu: findProgram(QEMU) };
const canRun = process.getuid?.() === 0 && Object.values(tools).every(Boolean) && existsSync(TINY);

function sh(bin: string, args: string[], allowFail = false): string {
  const r = spawnSync(bin, args, { encoding: 'utf8' });
  if (r.status !== 0 && !allowFail) throw new Error(`${bin} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const ip = (args: string[], allowFail = false): string => sh(tools.ip!, args, allowFail);
const nft = (args: string[], allowFail = false): string => sh(tools.nft!, args, allowFail);

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}

interface HostSnapshot {
  links: string[];
  tables: string[];
  dnsmasq: number[];
  netns: string[];
}

function snapshot(): HostSnapshot {
  const links = (JSON.parse(ip(['-j', 'link', 'show']) || '[]') as Array<{ ifname: string }>).map((l) => l.ifname).sort();
  const tables = (JSON.parse(nft(['-j', 'list', 'tables'])) as { nftables: Array<{ table?: { family: string; name: string } }> }).nftables
    .flatMap((t) => (t.table ? [`${t.table.family} ${t.table.name}`] : []))
    .sort();
  const dnsmasq = findProcesses((argv) => (argv[0] ?? '').endsWith('dnsmasq')).map((p) => p.pid).sort();
  const netns = ip(['netns', 'list'], true).split('\n').map((l) => l.split(' ')[0]!).filter(Boolean).sort();
  return { links, tables, dnsmasq, netns };
}

/** A tiny guest under raw QEMU with its serial console on a unix socket. */
class Guest {
  readonly child: ChildProcess;
  private serial?: Socket;
  out = '';
  private seq = 0;
  qmp?: QmpClient;

  constructor(
    readonly name: string,
    readonly dir: string,
    readonly tap: string,
    readonly mac: string,
  ) {
    const m = JSON.parse(readFileSync(TINY, 'utf8')) as { kernel: string; initrd: string; cmdline: string };
    const argv = [
      '-machine', 'q35', '-accel', 'tcg', '-m', '128', '-smp', '1', '-nodefaults', '-no-user-config', '-display', 'none', '-S',
      '-kernel', m.kernel, '-initrd', m.initrd, '-append', m.cmdline,
      '-chardev', `socket,id=ser0,path=${this.path('serial')},server=on,wait=off,logfile=${this.path('console.log')}`,
      '-serial', 'chardev:ser0',
      '-chardev', `socket,id=qmp,path=${this.path('qmp')},server=on,wait=off`,
      '-mon', 'chardev=qmp,mode=control',
      '-netdev', JSON.stringify({ type: 'tap', id: 'n0', ifname: tap, script: 'no', downscript: 'no' }),
      '-device', JSON.stringify({ driver: 'virtio-net-pci', id: 'n0', netdev: 'n0', mac }),
      '-device', JSON.stringify({ driver: 'pcie-root-port', id: 'hotplug0', bus: 'pcie.0', chassis: 1 }),
    ];
    this.child = spawn(tools.qemu!, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child.stderr!.on('data', (c: Buffer) => (this.out += `[qemu] ${c.toString()}`));
  }

  path(what: string): string {
    return join(this.dir, `${this.name}.${what}`);
  }

  /** Connects serial and QMP, then lets the paused guest run (so no console output is missed). */
  async start(): Promise<void> {
    this.qmp = await QmpClient.connect(this.path('qmp'), { retryUntilMs: 10_000, retryIntervalMs: 20 });
    this.serial = await waitFor(
      `${this.name} serial socket`,
      () =>
        new Promise<Socket | undefined>((resolve) => {
          const s = createConnection(this.path('serial'));
          s.once('connect', () => resolve(s));
          s.once('error', () => resolve(undefined));
        }),
      10_000,
      20,
    );
    this.serial.on('data', (c: Buffer) => (this.out += c.toString('utf8')));
    await this.qmp.execute('cont');
  }

  async ready(timeoutMs = 60_000): Promise<void> {
    await waitFor(`${this.name} to print HANGAR-GUEST-READY`, () => this.out.includes('HANGAR-GUEST-READY'), timeoutMs, 50);
  }

  /** Runs a shell command on the serial console; resolves with its exit status and output. */
  async run(cmd: string, timeoutMs = 20_000): Promise<{ rc: number; out: string }> {
    const t0 = Date.now();
    try {
      return await this.runInner(cmd, timeoutMs);
    } finally {
      if (process.env.HG_NET_TRACE) console.log(`[${this.name}] ${cmd}: ${Date.now() - t0} ms`);
    }
  }

  private async runInner(cmd: string, timeoutMs: number): Promise<{ rc: number; out: string }> {
    const id = `${this.name}${++this.seq}`;
    const from = this.out.length;
    this.serial!.write(`${cmd}; echo "@@${id}=$?"\n`);
    const re = new RegExp(`@@${id}=(\\d+)`);
    const m = await waitFor(`${this.name}: ${cmd}`, () => re.exec(this.out.slice(from)) ?? undefined, timeoutMs, 50);
    return { rc: Number(m[1]), out: this.out.slice(from, from + m.index) };
  }

  kill(): void {
    this.serial?.destroy();
    void this.qmp?.close().catch(() => undefined);
    if (this.child.pid !== undefined && this.child.exitCode === null && this.child.signalCode === null) {
      try {
        process.kill(this.child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  exited(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((r) => this.child.once('exit', () => r()));
  }
}

/** Three free /24s in 10.213.0.0/16 (or nearby), clear of the host's addresses and routes. */
function freeSubnets(n: number): string[] {
  const host = readHostNets();
  const out: string[] = [];
  for (let third = 201; third < 255 && out.length < n; third++) {
    const subnet = `10.213.${third}.0/24`;
    const spec: NetworkSpec = { name: 'probe', subnet, nat: false, isolated: false };
    if (!findOverlap(spec, parseSubnet(subnet), [], host, '')) out.push(subnet);
  }
  if (out.length < n) throw new Error('no free test subnets in 10.213.201-254.0/24');
  return out;
}

/** Removes everything with the test prefix and state dir (known or not), and the test's veth and netns. */
async function sweep(): Promise<void> {
  try {
    const sweeper = new HostNetworks({ stateDir: STATE_DIR, prefix: PREFIX });
    await sweeper.removeOrphans([]);
    for (const t of await sweeper.taps()) await sweeper.deleteTap(t.name);
  } finally {
    if (existsSync(`/sys/class/net/${VETH_HOST}`)) ip(['link', 'del', 'dev', VETH_HOST], true);
    if (ip(['netns', 'list'], true).split('\n').some((l) => l.split(' ')[0] === NETNS)) ip(['netns', 'del', NETNS], true);
    rmSync(STATE_DIR, { recursive: true, force: true });
  }
}

function expectCode(fn: () => unknown, code: string, message?: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, `expected a ${code} error`).toBeInstanceOf(HangarError);
  expect((err as HangarError).code).toBe(code);
  if (message) expect((err as HangarError).message).toMatch(message);
}

describe.skipIf(!canRun)('managed networks on the host (root, real QEMU)', () => {
  let dir = '';
  let stateDir = '';
  let hn: HostNetworks;
  let before: HostSnapshot;
  let ipForwardBefore = '';
  const logs: string[] = [];
  const guests: Guest[] = [];
  let netA: NetworkSpec;
  let netC: NetworkSpec;
  let netL: NetworkSpec;

  beforeAll(async () => {
    // A fixed state dir, so that leftovers of a run that was killed outright are found and swept.
    stateDir = STATE_DIR;
    await sweep();
    before = snapshot();
    ipForwardBefore = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
    dir = mkdtempSync('/tmp/hgnet-');
    hn = new HostNetworks({ stateDir, prefix: PREFIX, log: (m) => logs.push(m), dnsUpstream: 'none' });
    const [a, c, l] = freeSubnets(3) as [string, string, string];
    netA = { name: 'neta', subnet: a, nat: true, isolated: false };
    netC = { name: 'netc', subnet: c, nat: false, isolated: true };
    netL = { name: 'lan', subnet: l, nat: false, isolated: false, parent: VETH_HOST };
  });

  afterAll(async () => {
    for (const g of guests) g.kill();
    await Promise.all(guests.map((g) => Promise.race([g.exited(), sleep(5000)])));
    try {
      await sweep();
    } finally {
      if (ipForwardBefore) writeFileSync('/proc/sys/net/ipv4/ip_forward', `${ipForwardBefore}\n`);
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad input with clear, coded errors', async () => {
    const ok = { name: 'x', subnet: '10.213.250.0/24', nat: false, isolated: false };
    expectCode(() => hn.validate({ ...ok, subnet: '10.213.250.0' }, []), 'INVALID_SPEC', /not an IPv4 CIDR/);
    expectCode(() => hn.validate({ ...ok, subnet: '10.213.300.0/24' }, []), 'INVALID_SPEC', /not an IPv4 CIDR/);
    expectCode(() => hn.validate({ ...ok, subnet: '10.213.250.7/24' }, []), 'INVALID_SPEC', /did you mean 10\.213\.250\.0\/24/);
    expectCode(() => hn.validate({ ...ok, subnet: '10.213.250.0/30' }, []), 'INVALID_SPEC', /between \/16 and \/29/);
    expectCode(() => hn.validate({ ...ok, subnet: '127.1.0.0/24' }, []), 'INVALID_SPEC', /loopback/);
    expectCode(() => hn.validate({ ...ok, name: 'Bad_Name' }, []), 'INVALID_SPEC', /name/);
    expectCode(() => hn.validate({ ...ok, nat: true, isolated: true }, []), 'INVALID_SPEC', /exclude each other/);
    expectCode(() => hn.validate({ ...ok, subnet: '10.213.0.0/16' }, [netA]), 'NETWORK_OVERLAP', /overlaps network "neta"/);
    expectCode(() => hn.validate({ ...ok, parent: 'hgx-nosuch' }, []), 'NETWORK_PARENT', /no such interface/);
    expectCode(() => hn.validate({ ...ok, parent: VETH_HOST, nat: true }, []), 'INVALID_SPEC', /--parent/);
    // A host address: whatever the host has (e.g. eth0's subnet) is refused as a network subnet.
    const hostNet = readHostNets().find((h) => h.kind === 'address' && !h.iface.startsWith('lo') && h.cidr.prefix >= 16 && h.cidr.prefix <= 29);
    if (hostNet) {
      const parts = [hostNet.cidr.network >>> 24, (hostNet.cidr.network >>> 16) & 255, (hostNet.cidr.network >>> 8) & 255, hostNet.cidr.network & 255];
      expectCode(() => hn.validate({ ...ok, subnet: `${parts.join('.')}/${hostNet.cidr.prefix}` }, []), 'NETWORK_OVERLAP', /the host's/);
    }
    hn.validate(netA, []);
    hn.validate(netC, [netA]);
    await expect(hn.createTap('neta', 'hgxtnope')).rejects.toMatchObject({ code: 'NETWORK_FAILED' });
  });

  it('creates a NAT and an isolated network, and re-adopts them without duplicates', async () => {
    const t0 = Date.now();
    const a1 = await hn.ensure(netA);
    const c1 = await hn.ensure(netC);
    const created = Date.now() - t0;
    expect(a1.changed.length).toBeGreaterThan(0);
    expect(a1.gateway).toBe(netA.subnet.replace(/0\/24$/, '1'));
    expect(a1.dnsmasqPid).toBeGreaterThan(0);

    // Again, and from a fresh instance (as after a daemon restart): nothing changes.
    const t1 = Date.now();
    const a2 = await hn.ensure(netA);
    const restarted = new HostNetworks({ stateDir, prefix: PREFIX, log: (m) => logs.push(m), dnsUpstream: 'none' });
    const a3 = await restarted.ensure(netA);
    const c3 = await restarted.ensure(netC);
    const adopted = Date.now() - t1;
    expect(a2.changed).toEqual([]);
    expect(a3.changed).toEqual([]);
    expect(c3.changed).toEqual([]);
    expect([a2.dnsmasqPid, a3.dnsmasqPid]).toEqual([a1.dnsmasqPid, a1.dnsmasqPid]);
    expect(a3.dnsmasqStartTime).toBe(a1.dnsmasqStartTime);
    expect(c3.dnsmasqPid).toBe(c1.dnsmasqPid);
    const ours = findProcesses((argv) => (argv[0] ?? '').endsWith('dnsmasq') && argv.some((x) => x.startsWith(`--pid-file=${stateDir}/`)));
    expect(ours.map((p) => p.pid).sort()).toEqual([a1.dnsmasqPid, c1.dnsmasqPid].sort());
    const tables = snapshot().tables.filter((t) => t.startsWith(`inet hangar_${PREFIX}_`));
    expect(tables).toEqual([`inet ${tableName(PREFIX, 'neta')}`, `inet ${tableName(PREFIX, 'netc')}`]);
    const addrs = JSON.parse(ip(['-j', '-4', 'addr', 'show', 'dev', a1.bridge])) as Array<{ addr_info: unknown[] }>;
    expect(addrs[0]!.addr_info).toHaveLength(1);
    expect(ip(['link', 'show', 'dev', a1.bridge])).toContain('UP');

    // Repair: a dnsmasq killed behind our back and a table deleted by hand come back.
    process.kill(c1.dnsmasqPid!, 'SIGKILL');
    await waitFor('dnsmasq to die', () => !HostNetworks.dnsmasqAlive(c1), 5000, 20);
    nft(['delete', 'table', 'inet', tableName(PREFIX, 'netc')]);
    const c4 = await hn.ensure(netC);
    expect(c4.dnsmasqPid).not.toBe(c1.dnsmasqPid);
    expect(c4.changed.some((c) => c.startsWith('nft table'))).toBe(true);
    expect(nft(['list', 'table', 'inet', tableName(PREFIX, 'netc')])).toContain('drop');
    console.log(`[network] ensure x2 (create): ${created} ms; ensure x3 (adopt): ${adopted} ms`);
  });

  it('guests on one network get leases and ping each other; an isolated guest cannot reach them', async () => {
    const t0 = Date.now();
    const specs = [
      { name: 'ga', net: 'neta' },
      { name: 'gb', net: 'neta' },
      { name: 'gc', net: 'netc' },
    ];
    const taken: string[] = [];
    const nics: Array<{ name: string; tap: string; mac: string }> = [];
    for (const s of specs) {
      const tap = tapName(PREFIX, `vm-${s.name}`, 'net0');
      await hn.createTap(s.net, tap);
      const mac = macAddress(`vm-${s.name}/net0`, taken);
      taken.push(mac);
      nics.push({ name: s.name, tap, mac });
    }
    expect((await hn.taps('neta')).map((t) => t.master)).toEqual([bridgeName(PREFIX, 'neta'), bridgeName(PREFIX, 'neta')]);
    // No QEMU has them open yet: no carrier.
    expect((await hn.taps('neta')).map((t) => t.attached)).toEqual([false, false]);
    for (const n of nics) guests.push(new Guest(n.name, dir, n.tap, n.mac));
    const [ga, gb, gc] = guests as [Guest, Guest, Guest];
    await Promise.all(guests.map((g) => g.start()));
    await Promise.all(guests.map((g) => g.ready()));
    const booted = Date.now() - t0;
    // With QEMU holding them, the taps have carrier: the network is in use.
    expect((await hn.taps('neta')).every((t) => t.attached && t.up)).toBe(true);

    // Leases, as Hangar sees them.
    const leaseOf = async (net: string, mac: string): Promise<string> =>
      waitFor(`a lease for ${mac} on ${net}`, async () => (await hn.leases(net)).find((l) => l.mac === mac)?.ip, 30_000);
    const ipA = await leaseOf('neta', ga.mac);
    const ipB = await leaseOf('neta', gb.mac);
    const ipC = await leaseOf('netc', gc.mac);
    expect(ipA).not.toBe(ipB);
    const leasesA = await hn.leases('neta');
    expect(leasesA.map((l) => l.mac).sort()).toEqual([ga.mac, gb.mac].sort());
    expect(leasesA[0]!.expires).toMatch(/^\d{4}-\d\d-\d\dT/);
    // The guest configures what dnsmasq acked (udhcpc may still be running its script).
    for (const [g, addr] of [[ga, ipA], [gb, ipB], [gc, ipC]] as const) {
      await waitFor(`${g.name} to configure ${addr}`, async () => (await g.run('ip -4 -o addr show dev eth0')).out.includes(`${addr}/24`), 20_000, 500);
    }

    // DNS: dnsmasq answers for the network's domain with a guest's lease (both are called "tiny").
    const dns = await ga.run('nslookup tiny.neta.hangar.internal');
    expect(dns.rc).toBe(0);
    expect(dns.out.includes(ipA) || dns.out.includes(ipB)).toBe(true);

    // A and B reach each other.
    expect((await ga.run(`ping -c 2 -w 10 ${ipB}`)).rc).toBe(0);
    expect((await gb.run(`ping -c 2 -w 10 ${ipA}`)).rc).toBe(0);

    // C reaches its own gateway (DHCP/DNS side) but neither guest A nor network A's gateway.
    const gwC = netC.subnet.replace(/0\/24$/, '1');
    const gwA = netA.subnet.replace(/0\/24$/, '1');
    expect((await gc.run(`ping -c 1 -w 10 ${gwC}`)).rc).toBe(0);
    // (busybox ping: -W is how long to wait for a reply after the last probe.)
    const [[cToA, cToGwA], aToC] = await Promise.all([
      gc.run(`ping -c 2 -W 2 ${ipA}`).then(async (r) => [r, await gc.run(`ping -c 2 -W 2 ${gwA}`)] as const),
      // And not the other way either.
      ga.run(`ping -c 2 -W 2 ${ipC}`),
    ]);
    expect(cToA.rc).not.toBe(0);
    expect(cToGwA.rc).not.toBe(0);
    expect(aToC.rc).not.toBe(0);
    // It is the isolated network's rules that dropped those packets.
    const rules = nft(['list', 'table', 'inet', tableName(PREFIX, 'netc')]);
    const dropped = [...rules.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
    expect(dropped.some((n) => n > 0)).toBe(true);
    console.log(`[network] 3 guests booted with leases in ${booted} ms; pings done at ${Date.now() - t0} ms`);
  });

  it('bridges a hot-plugged NIC onto a parent interface (veth into a netns standing in for the LAN)', async () => {
    const gb = guests[1]!;
    const lanIp = netL.subnet.replace(/0\/24$/, '1');
    const guestIp = netL.subnet.replace(/0\/24$/, '50');
    ip(['netns', 'add', NETNS]);
    ip(['link', 'add', VETH_HOST, 'type', 'veth', 'peer', 'name', VETH_LAN]);
    ip(['link', 'set', VETH_LAN, 'netns', NETNS]);
    ip(['-n', NETNS, 'addr', 'add', `${lanIp}/24`, 'dev', VETH_LAN]);
    ip(['-n', NETNS, 'link', 'set', VETH_LAN, 'up']);
    ip(['-n', NETNS, 'link', 'set', 'lo', 'up']);

    hn.validate(netL, [netA, netC]);
    const st = await hn.ensure(netL);
    expect(st.mode).toBe('bridged');
    expect(st.dnsmasqPid).toBeUndefined();
    expect(readFileSync(`/sys/class/net/${VETH_HOST}/master/uevent`, 'utf8')).toContain(`INTERFACE=${st.bridge}`);
    expect((await hn.ensure(netL)).changed).toEqual([]);
    // The parent is taken now: neither another network nor a second enslaving may have it.
    expectCode(() => hn.validate({ name: 'lan2', subnet: '10.213.253.0/24', nat: false, isolated: false, parent: VETH_HOST }, [netL]), 'NETWORK_PARENT', /already/);
    expectCode(() => hn.validate({ name: 'lan2', subnet: '10.213.253.0/24', nat: false, isolated: false, parent: VETH_HOST }, []), 'NETWORK_PARENT', /enslaved to/);

    // Hot-plug: tap, netdev_add, device_add on a free PCIe root port.
    const tap = tapName(PREFIX, 'vm-gb', 'net1');
    const mac = macAddress('vm-gb/net1', [gb.mac]);
    await hn.createTap('lan', tap);
    const qmp = gb.qmp!;
    await qmp.execute('netdev_add', { type: 'tap', id: 'net1', ifname: tap, script: 'no', downscript: 'no' });
    await qmp.execute('device_add', { driver: 'virtio-net-pci', id: 'net1', netdev: 'net1', mac, bus: 'hotplug0' });
    await waitFor('eth1 in guest B', async () => (await gb.run('test -e /sys/class/net/eth1')).rc === 0, 30_000, 500);
    expect((await gb.run(`ip link set eth1 up && ip addr add ${guestIp}/24 dev eth1`)).rc).toBe(0);
    expect((await gb.run(`ping -c 2 -w 10 ${lanIp}`)).rc).toBe(0);
    // And back from the LAN side (busybox-static's ping: the host may have no iputils-ping).
    const busybox = findProgram('busybox');
    const pingArgv = busybox ? [busybox, 'ping'] : ['ping'];
    const fromLan = spawnSync(tools.ip!, ['netns', 'exec', NETNS, ...pingArgv, '-c', '1', '-W', '5', guestIp], { encoding: 'utf8' });
    expect(fromLan.status, fromLan.stderr).toBe(0);

    // Unplug: device_del, wait for the guest to let go, then the netdev and the tap.
    const deleted = new Promise<void>((resolve) => {
      const off = qmp.onEvent((e) => {
        if (e.event === 'DEVICE_DELETED' && (e.data as { device?: string } | undefined)?.device === 'net1') {
          off();
          resolve();
        }
      });
    });
    await qmp.execute('device_del', { id: 'net1' });
    await Promise.race([deleted, sleep(30_000).then(() => Promise.reject(new Error('no DEVICE_DELETED for net1')))]);
    await qmp.execute('netdev_del', { id: 'net1' });
    await hn.deleteTap(tap);
    expect((await gb.run('test -e /sys/class/net/eth1')).rc).not.toBe(0);
    expect(await hn.taps('lan')).toEqual([]);
  });

  it('removes everything it added: no link, table, dnsmasq or netns of ours is left', async () => {
    for (const g of guests) g.kill();
    await Promise.all(guests.map((g) => g.exited()));
    const t0 = Date.now();
    for (const t of await hn.taps()) await hn.deleteTap(t.name);
    for (const n of [netA, netC, netL]) await hn.remove(n);
    await hn.remove(netA); // idempotent
    const removed = Date.now() - t0;
    // The parent is released, not deleted; the veth and netns are the test's own.
    expect(existsSync(`/sys/class/net/${VETH_HOST}/master`)).toBe(false);
    ip(['link', 'del', 'dev', VETH_HOST]);
    ip(['netns', 'del', NETNS]);
    const after = snapshot();
    // dnsmasq processes take a moment to be reaped after SIGTERM.
    await waitFor('our dnsmasq processes to go', () => snapshot().dnsmasq.join() === before.dnsmasq.join(), 5000, 50);
    expect(after.links).toEqual(before.links);
    expect(after.tables).toEqual(before.tables);
    expect(after.netns).toEqual(before.netns);
    expect(await hn.orphans([])).toEqual({ networks: [], bridges: [], taps: [], tables: [], dnsmasq: [], stateDirs: [] });
    console.log(`[network] removed 3 networks in ${removed} ms`);
  });
});
