/**
 * Names the driver gives to host objects, all deterministic and within Linux's 15-character
 * interface-name limit (IFNAMSIZ - 1), and the tags that mark host objects as Hangar's:
 *
 *   bridge   <prefix>-<network>               when it fits, else <prefix>_<network head><hash>
 *   tap      <prefix>t<hash of vm id + nic id>
 *   nft      table inet hangar_<prefix>_<network with - as _>
 *   ifalias  hangar:<prefix>:net:<network>    on bridges
 *            hangar:<prefix>:tap:<network>    on taps
 *
 * Discovery (re-adoption, orphans, clean-up) goes by the ifalias tag and the table name, never
 * by interface-name prefix, so a test prefix never touches the default prefix's objects.
 */
import { createHash } from 'node:crypto';
import { HangarError } from '../errors/errors.js';

/** Linux interface names hold at most 15 bytes. */
export const IFNAME_MAX = 15;
export const DEFAULT_PREFIX = 'hg';
/** The prefix of every MAC Hangar gives a guest NIC (QEMU's OUI). */
export const MAC_PREFIX = '52:54:00';

const NETWORK_NAME = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;
const PREFIX = /^[a-z][a-z0-9]{0,4}$/;
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** Network names: 1..32 of a-z, 0-9 and inner hyphens (they become nft and file names). */
export function validateNetworkName(name: string): void {
  if (typeof name !== 'string' || !NETWORK_NAME.test(name)) {
    throw new HangarError('INVALID_SPEC', `Network name "${String(name)}" is not valid: use 1 to 32 characters a-z, 0-9 and "-", starting and ending with a letter or digit.`, {
      details: { field: 'name', value: name },
    });
  }
}

/** Interface-name prefixes: 1..5 of a-z0-9, starting with a letter. */
export function validatePrefix(prefix: string): void {
  if (!PREFIX.test(prefix)) {
    throw new HangarError('INVALID_SPEC', `Interface prefix "${prefix}" is not valid: use 1 to 5 characters a-z, 0-9, starting with a letter.`);
  }
}

/** A name the kernel accepts for an interface (and that is safe as one argv word). */
export function validateIfname(name: string, field = 'interface'): void {
  if (!IFNAME.test(name) || name === '.' || name === '..') {
    throw new HangarError('INVALID_SPEC', `"${name}" is not a valid ${field} name: 1 to ${IFNAME_MAX} characters of A-Z, a-z, 0-9, "_", "." and "-".`, {
      details: { field, value: name },
    });
  }
}

function hash32(text: string, chars: number): string {
  const digest = createHash('sha256').update(text).digest();
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const byte of digest) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < chars) {
      out += BASE32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
    if (out.length >= chars) break;
  }
  return out;
}

/** The bridge of network `name`: readable when it fits, hashed (and still unique) when not. */
export function bridgeName(prefix: string, name: string): string {
  validatePrefix(prefix);
  validateNetworkName(name);
  const plain = `${prefix}-${name}`;
  if (plain.length <= IFNAME_MAX) return plain;
  // Network names never contain "_", so this form cannot collide with a plain one.
  const room = IFNAME_MAX - prefix.length - 1;
  const hashLen = 6;
  return `${prefix}_${name.slice(0, room - hashLen)}${hash32(name, hashLen)}`;
}

/** The tap of NIC `nicId` of VM `vmId`: `<prefix>t` and a hash, 15 characters at most. */
export function tapName(prefix: string, vmId: string, nicId: string): string {
  validatePrefix(prefix);
  if (!vmId || !nicId) throw new HangarError('INVALID_SPEC', 'A tap name needs a VM id and a NIC id.');
  const room = IFNAME_MAX - prefix.length - 1;
  return `${prefix}t${hash32(`${vmId}\0${nicId}`, room)}`;
}

/** The nftables table (family inet) that holds every rule of network `name`. */
export function tableName(prefix: string, name: string): string {
  validatePrefix(prefix);
  validateNetworkName(name);
  return `hangar_${prefix}_${name.replace(/-/g, '_')}`;
}

/** Inverse of tableName for this prefix: the network's name, or undefined if not ours. */
export function networkOfTable(prefix: string, table: string): string | undefined {
  const head = `hangar_${prefix}_`;
  if (!table.startsWith(head)) return undefined;
  const name = table.slice(head.length).replace(/_/g, '-');
  return NETWORK_NAME.test(name) ? name : undefined;
}

export type TagKind = 'net' | 'tap';

/** The ifalias that marks a bridge ('net') or tap ('tap') as belonging to a Hangar network. */
export function ifaceTag(prefix: string, kind: TagKind, network: string): string {
  return `hangar:${prefix}:${kind}:${network}`;
}

export function parseIfaceTag(alias: string | undefined): { prefix: string; kind: TagKind; network: string } | undefined {
  if (!alias) return undefined;
  const m = /^hangar:([a-z][a-z0-9]{0,4}):(net|tap):([a-z0-9-]{1,32})$/.exec(alias);
  if (!m) return undefined;
  return { prefix: m[1]!, kind: m[2] as TagKind, network: m[3]! };
}

/** The bridge's own MAC: fixed (locally administered), so it never changes as ports come and go. */
export function bridgeMac(prefix: string, name: string): string {
  const d = createHash('sha256').update(`bridge\0${prefix}\0${name}`).digest();
  return ['02', ...[...d.subarray(0, 5)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;

export function isMac(text: string): boolean {
  return MAC.test(text.toLowerCase());
}

/**
 * A stable guest MAC (52:54:00:xx:xx:xx) derived from `seed` (e.g. `<vm id>/<nic id>`); if it
 * is in `taken`, the next candidate of the same seed, so it is unique among what the caller
 * holds (the store's MACs on this host). Same seed and same `taken` give the same MAC.
 */
export function macAddress(seed: string, taken: Iterable<string> = []): string {
  const used = new Set([...taken].map((m) => m.toLowerCase()));
  for (let i = 0; i < 4096; i++) {
    const d = createHash('sha256').update(`${seed}\0${i}`).digest();
    const mac = `${MAC_PREFIX}:${[...d.subarray(0, 3)].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
    if (!used.has(mac)) return mac;
  }
  throw new HangarError('NETWORK_FAILED', 'No free MAC address found: the host has too many NICs for the 52:54:00 prefix.');
}
