/**
 * IPv4 addresses and CIDR subnets as the network driver needs them: strict parsing (no
 * shorthand, no leading zeros, no host bits), overlap tests, and the address plan of a
 * managed network (gateway .1, DHCP pool from .2 to the last address before broadcast).
 */
import { HangarError } from '../errors/errors.js';
import { isIPv4 } from '../model/validate.js';

/** Prefix lengths a managed network may have: /16 (65 534 hosts) down to /29 (6 hosts). */
export const MIN_PREFIX = 16;
export const MAX_PREFIX = 29;

export interface Cidr {
  /** Network address as an unsigned 32-bit number. */
  network: number;
  prefix: number;
}

export interface SubnetPlan {
  cidr: Cidr;
  /** Canonical text, e.g. 10.77.0.0/24. */
  subnet: string;
  netmask: string;
  /** The bridge's address (first usable host). */
  gateway: string;
  broadcast: string;
  /** First and last address dnsmasq hands out. */
  dhcpRange: [string, string];
}

/** Parses a dotted-quad IPv4 address strictly (the model's isIPv4); undefined if it is not one. */
export function parseIPv4(text: string): number | undefined {
  if (!isIPv4(text)) return undefined;
  return text.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses `a.b.c.d/p` without range checks on p beyond 0..32; undefined if malformed. */
export function tryParseCidr(text: string): { address: number; prefix: number } | undefined {
  const m = /^([0-9.]+)\/(0|[1-9][0-9]?)$/.exec(text);
  if (!m) return undefined;
  const address = parseIPv4(m[1]!);
  const prefix = Number(m[2]);
  if (address === undefined || prefix > 32) return undefined;
  return { address, prefix };
}

/** Special-purpose ranges a guest network must not use. */
const RESERVED: Array<{ cidr: string; why: string }> = [
  { cidr: '0.0.0.0/8', why: '"this network"' },
  { cidr: '127.0.0.0/8', why: 'loopback' },
  { cidr: '169.254.0.0/16', why: 'link-local' },
  { cidr: '224.0.0.0/4', why: 'multicast' },
  { cidr: '240.0.0.0/4', why: 'reserved (and broadcast)' },
];

/**
 * Parses and checks a managed network's subnet: IPv4 CIDR, network address (no host bits),
 * prefix /16../29, not in a special-purpose range. Throws INVALID_SPEC with a hint.
 */
export function parseSubnet(text: string): Cidr {
  const parsed = tryParseCidr(text.trim());
  if (!parsed) {
    throw new HangarError('INVALID_SPEC', `"${text}" is not an IPv4 CIDR: write it as a.b.c.d/prefix, e.g. 10.77.0.0/24.`, {
      details: { field: 'subnet', value: text },
    });
  }
  const { address, prefix } = parsed;
  if (prefix < MIN_PREFIX || prefix > MAX_PREFIX) {
    throw new HangarError('INVALID_SPEC', `Subnet ${text}: the prefix must be between /${MIN_PREFIX} and /${MAX_PREFIX} (a /${prefix} is ${prefix < MIN_PREFIX ? 'too large' : 'too small for a gateway and DHCP pool'}).`, {
      details: { field: 'subnet', value: text },
    });
  }
  const network = (address & maskOf(prefix)) >>> 0;
  if (network !== address) {
    throw new HangarError('INVALID_SPEC', `Subnet ${text} has host bits set: did you mean ${formatIPv4(network)}/${prefix}?`, {
      details: { field: 'subnet', value: text, suggestion: `${formatIPv4(network)}/${prefix}` },
    });
  }
  const cidr = { network, prefix };
  for (const r of RESERVED) {
    const reserved = tryParseCidr(r.cidr)!;
    if (overlaps(cidr, { network: reserved.address, prefix: reserved.prefix })) {
      throw new HangarError('INVALID_SPEC', `Subnet ${text} lies in ${r.cidr}, which is ${r.why}: pick a private range such as 10.77.0.0/24.`, {
        details: { field: 'subnet', value: text },
      });
    }
  }
  return cidr;
}

export function formatCidr(c: Cidr): string {
  return `${formatIPv4(c.network)}/${c.prefix}`;
}

/** True if the two subnets share at least one address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  const m = maskOf(Math.min(a.prefix, b.prefix));
  return ((a.network & m) >>> 0) === ((b.network & m) >>> 0);
}

/** True if the address lies in the subnet. */
export function contains(c: Cidr, address: number): boolean {
  const m = maskOf(c.prefix);
  return ((address & m) >>> 0) === c.network;
}

/** The address plan of a managed network on `subnet` (validated by parseSubnet). */
export function planSubnet(subnet: string): SubnetPlan {
  const cidr = parseSubnet(subnet);
  const size = 2 ** (32 - cidr.prefix);
  const broadcast = cidr.network + size - 1;
  return {
    cidr,
    subnet: formatCidr(cidr),
    netmask: formatIPv4(maskOf(cidr.prefix)),
    gateway: formatIPv4(cidr.network + 1),
    broadcast: formatIPv4(broadcast),
    dhcpRange: [formatIPv4(cidr.network + 2), formatIPv4(broadcast - 1)],
  };
}
