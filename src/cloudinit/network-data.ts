/**
 * network-config (cloud-init's YAML v1/v2) → OpenStack `network_data.json`, the format a
 * config drive carries (cloud-init's ConfigDrive source and cloudbase-init both read it).
 *
 * Only what both sides can express is converted: physical interfaces matched by MAC
 * address, each with DHCP (v4/v6), static addresses, a default gateway, routes, MTU and
 * DNS servers. Bonds, bridges, VLANs, Wi-Fi, or an interface without a MAC to match on, are
 * refused with a clear message rather than silently dropped.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { invalid } from './validate.js';

interface Link {
  id: string;
  type: 'phy';
  ethernet_mac_address: string;
  mtu?: number;
}
interface Route {
  network: string;
  netmask: string;
  gateway: string;
}
interface Network {
  id: string;
  link: string;
  network_id: string;
  type: 'ipv4' | 'ipv6' | 'ipv4_dhcp' | 'ipv6_dhcp' | 'ipv6_slaac';
  ip_address?: string;
  netmask?: string;
  routes?: Route[];
  services?: Array<{ type: 'dns'; address: string }>;
}
export interface NetworkData {
  links: Link[];
  networks: Network[];
  services: Array<{ type: 'dns'; address: string }>;
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

function obj(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function prefixToMask(prefix: number, v6: boolean): string {
  const bits = v6 ? 128 : 32;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) throw new Error(`bad prefix length ${prefix}`);
  if (!v6) {
    const m = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    return [24, 16, 8, 0].map((s) => (m >>> s) & 0xff).join('.');
  }
  const groups: string[] = [];
  for (let g = 0; g < 8; g++) {
    const n = Math.max(0, Math.min(16, prefix - g * 16));
    groups.push((n === 0 ? 0 : (0xffff << (16 - n)) & 0xffff).toString(16));
  }
  return groups.join(':');
}

function maskToPrefix(mask: string): number {
  if (/^\d+$/.test(mask)) return Number(mask);
  if (!isIPv4(mask)) throw new Error(`bad netmask ${mask}`);
  const n = mask.split('.').reduce((acc, o) => (acc << 8) | Number(o), 0) >>> 0;
  const prefix = 32 - Math.log2((~n >>> 0) + 1);
  if (!Number.isInteger(prefix)) throw new Error(`netmask ${mask} is not contiguous`);
  return prefix;
}

/** '10.0.0.5/24' → address + prefix; `netmask` for v1's separate field. */
function cidr(addr: unknown, netmask: unknown, where: string): { ip: string; prefix: number; v6: boolean } {
  if (typeof addr !== 'string') throw invalid(`${where}: address must be a string like 10.0.0.5/24`);
  const [ip = '', p] = addr.split('/');
  const v6 = isIPv6(ip);
  if (!v6 && !isIPv4(ip)) throw invalid(`${where}: '${addr}' is not an IP address`);
  let prefix: number;
  try {
    prefix = p !== undefined ? Number(p) : netmask !== undefined ? maskToPrefix(String(netmask)) : Number.NaN;
    prefixToMask(prefix, v6);
  } catch {
    throw invalid(`${where}: '${addr}' needs a valid prefix length (/24) or netmask`);
  }
  return { ip, prefix, v6 };
}

class Builder {
  readonly data: NetworkData = { links: [], networks: [], services: [] };

  link(mac: unknown, mtu: unknown, where: string): string {
    if (typeof mac !== 'string' || !MAC_RE.test(mac)) {
      throw invalid(`network-config: ${where} must be matched by MAC address (match: macaddress:) to go on a config drive`);
    }
    const id = `link${this.data.links.length}`;
    const link: Link = { id, type: 'phy', ethernet_mac_address: mac.toLowerCase() };
    if (typeof mtu === 'number') link.mtu = mtu;
    this.data.links.push(link);
    return id;
  }

  network(n: Omit<Network, 'id' | 'network_id'>): Network {
    const id = `network${this.data.networks.length}`;
    const net: Network = { id, network_id: id, ...n };
    this.data.networks.push(net);
    return net;
  }

  dns(addresses: unknown, where: string): void {
    if (addresses === undefined || addresses === null) return;
    const list = Array.isArray(addresses) ? addresses : [addresses];
    for (const a of list) {
      if (typeof a !== 'string' || !(isIPv4(a) || isIPv6(a))) throw invalid(`network-config: ${where}: DNS server '${String(a)}' is not an IP address`);
      if (!this.data.services.some((s) => s.address === a)) this.data.services.push({ type: 'dns', address: a });
    }
  }

  /** A default route on the first static network of the matching family. */
  gateway(linkId: string, gw: unknown, where: string): void {
    if (gw === undefined || gw === null) return;
    if (typeof gw !== 'string' || !(isIPv4(gw) || isIPv6(gw))) throw invalid(`network-config: ${where}: gateway '${String(gw)}' is not an IP address`);
    this.route(linkId, isIPv6(gw) ? '::/0' : '0.0.0.0/0', gw, where);
  }

  route(linkId: string, to: string, via: unknown, where: string): void {
    if (typeof via !== 'string' || !(isIPv4(via) || isIPv6(via))) throw invalid(`network-config: ${where}: route via '${String(via)}' is not an IP address`);
    const v6 = isIPv6(via);
    const dest = to === 'default' ? (v6 ? '::/0' : '0.0.0.0/0') : to;
    const { ip, prefix } = cidr(dest, undefined, `network-config: ${where}: route to`);
    const target = this.data.networks.find((n) => n.link === linkId && n.type === (v6 ? 'ipv6' : 'ipv4'));
    if (!target) throw invalid(`network-config: ${where}: a gateway or route needs a static ${v6 ? 'IPv6' : 'IPv4'} address on the same interface`);
    (target.routes ??= []).push({ network: ip, netmask: prefixToMask(prefix, v6), gateway: via });
  }
}

function fromV2(cfg: Record<string, unknown>): NetworkData {
  for (const k of ['bonds', 'bridges', 'vlans', 'wifis']) {
    if (cfg[k] !== undefined) throw invalid(`network-config: ${k} cannot be expressed on a config drive (only ethernets)`);
  }
  const b = new Builder();
  for (const [name, raw] of Object.entries(obj(cfg['ethernets']))) {
    const e = obj(raw);
    const where = `ethernets.${name}`;
    const linkId = b.link(obj(e['match'])['macaddress'] ?? e['macaddress'], e['mtu'], where);
    if (e['dhcp4'] === true) b.network({ link: linkId, type: 'ipv4_dhcp' });
    if (e['dhcp6'] === true) b.network({ link: linkId, type: 'ipv6_dhcp' });
    const addresses = e['addresses'] ?? [];
    if (!Array.isArray(addresses)) throw invalid(`network-config: ${where}.addresses must be a list`);
    for (const a of addresses) {
      const { ip, prefix, v6 } = cidr(a, undefined, `network-config: ${where}.addresses`);
      b.network({ link: linkId, type: v6 ? 'ipv6' : 'ipv4', ip_address: ip, netmask: prefixToMask(prefix, v6) });
    }
    b.gateway(linkId, e['gateway4'], where);
    b.gateway(linkId, e['gateway6'], where);
    const routes = e['routes'] ?? [];
    if (!Array.isArray(routes)) throw invalid(`network-config: ${where}.routes must be a list`);
    for (const r of routes) b.route(linkId, String(obj(r)['to'] ?? ''), obj(r)['via'], `${where}.routes`);
    b.dns(obj(e['nameservers'])['addresses'], where);
  }
  return b.data;
}

function fromV1(cfg: Record<string, unknown>): NetworkData {
  const b = new Builder();
  const items = (cfg['config'] as unknown[]).map(obj);
  for (const [i, item] of items.entries()) {
    const type = item['type'];
    const where = `config[${i}]`;
    if (type === 'nameserver') {
      b.dns(item['address'], where);
      continue;
    }
    if (type !== 'physical') throw invalid(`network-config: ${where}: type ${String(type)} cannot be expressed on a config drive (only physical and nameserver)`);
    const linkId = b.link(item['mac_address'], item['mtu'], `${where} (${String(item['name'])})`);
    const subnets = item['subnets'] ?? [];
    if (!Array.isArray(subnets)) throw invalid(`network-config: ${where}.subnets must be a list`);
    for (const [j, s] of subnets.map(obj).entries()) {
      const sw = `${where}.subnets[${j}]`;
      const st = s['type'];
      if (st === 'dhcp' || st === 'dhcp4') b.network({ link: linkId, type: 'ipv4_dhcp' });
      else if (st === 'dhcp6') b.network({ link: linkId, type: 'ipv6_dhcp' });
      else if (st === 'ipv6_slaac') b.network({ link: linkId, type: 'ipv6_slaac' });
      else if (st === 'static' || st === 'static6') {
        const { ip, prefix, v6 } = cidr(s['address'], s['netmask'], `network-config: ${sw}`);
        b.network({ link: linkId, type: v6 ? 'ipv6' : 'ipv4', ip_address: ip, netmask: prefixToMask(prefix, v6) });
        b.gateway(linkId, s['gateway'], sw);
        const routes = s['routes'] ?? [];
        if (Array.isArray(routes)) {
          for (const r of routes.map(obj)) {
            const to = r['netmask'] !== undefined ? `${String(r['network'])}/${maskToPrefix(String(r['netmask']))}` : String(r['network'] ?? '');
            b.route(linkId, to, r['gateway'], `${sw}.routes`);
          }
        }
        b.dns(s['dns_nameservers'], sw);
      } else throw invalid(`network-config: ${sw}: subnet type ${String(st)} cannot be expressed on a config drive`);
    }
  }
  return b.data;
}

/** Converts a parsed (and unwrapped) network-config; see parseNetworkConfig(). */
export function toNetworkData(cfg: Record<string, unknown>): NetworkData {
  return cfg['version'] === 1 ? fromV1(cfg) : fromV2(cfg);
}
