/**
 * Owner keys of the disks of shared pools, as etcd holds them (issue 17, storage fencing).
 *
 * `<prefix>disk-owner/<pool>/<volume>` names the node that may run QEMU on that disk, and is
 * bound to that node's lease: when the node is lost, etcd deletes its keys with the lease.
 * The key's create revision is the disk's **fencing token**: a pool served through the
 * fencing NBD export (src/storage/nbd-exporter.ts) exports the disk under the name
 * `<volume>@<token>` only while the key exists, so a QEMU of a node that lost its lease
 * (a frozen host) can no longer read or write, and the next owner's new key gives a new name
 * the stale QEMU never knew. A cooperative move (a migration) rewrites the key with the new
 * node's lease and keeps the token; only a takeover after the lease expired makes a new one.
 */
import { isIP } from 'node:net';
import { HangarError } from '../errors/errors.js';

export interface DiskOwner {
  /** The node that runs (or may start) QEMU on the disk. */
  node: string;
  /** The VM's id. */
  vm: string;
  /** The volume file's name in the pool's directory (no directory part). */
  file: string;
  /** The image format of the file (qcow2 or raw). */
  format: 'qcow2' | 'raw';
}

export const diskOwnersPrefix = (prefix: string, pool: string): string => `${prefix}disk-owner/${pool}/`;

export const diskOwnerKey = (prefix: string, pool: string, volume: string): string => `${diskOwnersPrefix(prefix, pool)}${volume}`;

/** The NBD export name of a disk while its owner key, made at revision `token`, lives. */
export const fencedExportName = (volume: string, token: number): string => `${volume}@${token}`;

/** A file name that stays in the pool's directory: no separator, not `.` or `..`. */
export function isPlainFileName(name: string): boolean {
  return name.length > 0 && name.length <= 255 && !name.includes('/') && !name.includes('\0') && name !== '.' && name !== '..';
}

/** The owner a key's value names, or undefined when it is not one. */
export function parseDiskOwner(value: string): DiskOwner | undefined {
  try {
    const v = JSON.parse(value) as Partial<DiskOwner>;
    if (typeof v.node !== 'string' || typeof v.vm !== 'string' || typeof v.file !== 'string' || !isPlainFileName(v.file)) return undefined;
    if (v.format !== 'qcow2' && v.format !== 'raw') return undefined;
    return { node: v.node, vm: v.vm, file: v.file, format: v.format };
  } catch {
    return undefined;
  }
}

/** Where a pool's fencing NBD export listens: an IP address and a port (1-65535). */
export interface ExportAddress {
  host: string;
  port: number;
}

/** `HOST:PORT` of a pool's export (an IPv4 or bracketed IPv6 literal); INVALID_SPEC otherwise. */
export function parseExportAddress(value: string): ExportAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):(\d{1,5})$/.exec(value.trim());
  const host = m?.[1] ?? m?.[2];
  const port = m ? Number(m[3]) : NaN;
  if (!m || !host || isIP(host) === 0 || (m[1] !== undefined && isIP(host) !== 6) || !(port >= 1 && port <= 65535)) {
    throw new HangarError('INVALID_SPEC', `An NBD export address is IP:PORT, e.g. 10.0.0.5:10809 or [fd00::5]:10809, not "${value}".`, { details: { field: 'export' } });
  }
  return { host, port };
}
