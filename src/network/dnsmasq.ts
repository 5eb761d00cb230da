/**
 * dnsmasq for one managed network: its argv (pure), its lease file, and how to recognise the
 * instance that serves a network. Each network has its own dnsmasq, bound to its bridge only
 * (--bind-interfaces), configured entirely on the command line (--conf-file=/dev/null) and
 * daemonised with a pid file in the network's state dir, so it outlives a daemon restart and
 * is re-adopted by pid + start time + exact command line.
 */
import { basename } from 'node:path';
import type { SubnetPlan } from './addr.js';
import { netbootArgs, type NetbootSpec } from './netboot.js';

export interface DnsmasqFiles {
  dir: string;
  pidFile: string;
  leaseFile: string;
  logFile: string;
  /** What the driver recorded when it started (or adopted) the instance. */
  stateFile: string;
  /** stdout/stderr of the launch (startup errors). */
  launchLog: string;
}

export function dnsmasqFiles(dir: string): DnsmasqFiles {
  return {
    dir,
    pidFile: `${dir}/dnsmasq.pid`,
    leaseFile: `${dir}/leases`,
    logFile: `${dir}/dnsmasq.log`,
    stateFile: `${dir}/dnsmasq.json`,
    launchLog: `${dir}/dnsmasq.launch.log`,
  };
}

export interface DnsmasqConfig {
  bridge: string;
  plan: SubnetPlan;
  /** DNS domain of the network; DHCP clients' hostnames resolve under it. */
  domain: string;
  files: DnsmasqFiles;
  /** 'host': forward other queries to the host's resolv.conf servers; 'none': answer locally only. */
  upstream: 'host' | 'none';
  /** DHCP lease time, e.g. '1h'. */
  leaseTime?: string;
  /** TFTP root and DHCP boot file (network boot), checked by netboot.ts. */
  netboot?: NetbootSpec;
}

/** The dnsmasq arguments (without the binary) for one network. Deterministic. */
export function dnsmasqArgs(c: DnsmasqConfig): string[] {
  const [first, last] = c.plan.dhcpRange;
  return [
    '--conf-file=/dev/null',
    `--pid-file=${c.files.pidFile}`,
    `--dhcp-leasefile=${c.files.leaseFile}`,
    `--log-facility=${c.files.logFile}`,
    '--bind-interfaces',
    `--interface=${c.bridge}`,
    '--except-interface=lo',
    `--dhcp-range=${first},${last},${c.plan.netmask},${c.leaseTime ?? '1h'}`,
    `--dhcp-option=option:router,${c.plan.gateway}`,
    `--dhcp-option=option:dns-server,${c.plan.gateway}`,
    '--dhcp-authoritative',
    '--dhcp-no-override',
    `--domain=${c.domain}`,
    `--local=/${c.domain}/`,
    '--expand-hosts',
    '--domain-needed',
    '--bogus-priv',
    '--no-hosts',
    '--strict-order',
    ...(c.upstream === 'none' ? ['--no-resolv'] : []),
    ...netbootArgs(c.netboot ?? {}),
  ];
}

/** True if `argv` (from /proc) is a dnsmasq using `pidFile`: ours, for that network. */
export function isDnsmasqFor(argv: string[], pidFile: string): boolean {
  return argv.length > 0 && basename(argv[0]!) === 'dnsmasq' && argv.includes(`--pid-file=${pidFile}`);
}

/** True if `argv` is a dnsmasq whose pid file lies under `stateDir` (any of our networks). */
export function isDnsmasqUnder(argv: string[], stateDir: string): string | undefined {
  if (argv.length === 0 || basename(argv[0]!) !== 'dnsmasq') return undefined;
  const head = `--pid-file=${stateDir.replace(/\/+$/, '')}/`;
  const arg = argv.find((a) => a.startsWith(head));
  if (!arg) return undefined;
  const rest = arg.slice(head.length).split('/');
  return rest.length === 2 && rest[1] === 'dnsmasq.pid' ? rest[0] : undefined;
}

export interface Lease {
  mac: string;
  ip: string;
  hostname?: string;
  /** ISO time the lease ends, or 'never' for an infinite lease. */
  expires: string;
  clientId?: string;
}

/** Parses dnsmasq's lease file: `<expiry epoch> <mac> <ip> <hostname|*> <client-id|*>` per line. */
export function parseLeases(text: string): Lease[] {
  const out: Lease[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || !/^\d+$/.test(f[0]!)) continue; // also skips the IPv6 "duid" line
    const [epoch, mac, ip, host, client] = f as [string, string, string, string, string | undefined];
    if (!/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(mac) || !/^\d+\.\d+\.\d+\.\d+$/.test(ip)) continue;
    const secs = Number(epoch);
    const lease: Lease = { mac: mac.toLowerCase(), ip, expires: secs === 0 ? 'never' : new Date(secs * 1000).toISOString() };
    if (host !== '*') lease.hostname = host;
    if (client !== undefined && client !== '*') lease.clientId = client;
    out.push(lease);
  }
  return out;
}
