/**
 * A node's cluster settings, `<data-dir>/cluster.json`: written by `hangar cluster init`
 * (and later `cluster join`), read at each daemon start. Without the file the daemon runs
 * alone on its SQLite store, as before.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { HangarError } from '../errors/errors.js';
import { NODE_NAME } from '../store/node-lists.js';

export interface ClusterConfig {
  /** etcd client URLs. */
  etcd: string[];
  /** This node's name in the cluster. */
  node: string;
  /** Key prefix of the cluster in etcd. */
  prefix: string;
  /** The node's lease TTL in seconds. */
  leaseTtlSeconds: number;
  /** The cluster's id (made at init). */
  clusterId: string;
  /** How often the fencer renews the lease (default: a third of the TTL). */
  keepaliveSeconds?: number;
  /** How long before the lease's deadline the fencer kills the node's HA guests (default 1 s). */
  fenceMarginSeconds?: number;
  /** How long the other nodes wait after the lease expired before restarting its HA guests (default 2 s). */
  haGraceSeconds?: number;
}

/** The fencing and HA timings of a configuration, defaults filled in, in milliseconds. */
export function haTimings(c: Pick<ClusterConfig, 'leaseTtlSeconds' | 'keepaliveSeconds' | 'fenceMarginSeconds' | 'haGraceSeconds'>): { ttlMs: number; keepaliveMs: number; marginMs: number; graceMs: number } {
  const ttlMs = c.leaseTtlSeconds * 1000;
  return {
    ttlMs,
    keepaliveMs: c.keepaliveSeconds !== undefined ? c.keepaliveSeconds * 1000 : Math.max(200, Math.floor(ttlMs / 3)),
    marginMs: (c.fenceMarginSeconds ?? 1) * 1000,
    graceMs: (c.haGraceSeconds ?? 2) * 1000,
  };
}

export const DEFAULT_LEASE_TTL_SECONDS = 10;
export const DEFAULT_PREFIX = '/hangar/';

export function configPath(dataDir: string): string {
  return join(dataDir, 'cluster.json');
}

export async function readClusterConfig(dataDir: string): Promise<ClusterConfig | undefined> {
  let text: string;
  try {
    text = await readFile(configPath(dataDir), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const c = JSON.parse(text) as ClusterConfig;
  if (!Array.isArray(c.etcd) || typeof c.node !== 'string') throw new HangarError('INVALID_SPEC', `${configPath(dataDir)} is not a cluster configuration: fix or remove it.`);
  return { ...c, prefix: c.prefix ?? DEFAULT_PREFIX, leaseTtlSeconds: c.leaseTtlSeconds ?? DEFAULT_LEASE_TTL_SECONDS };
}

export async function writeClusterConfig(dataDir: string, c: ClusterConfig): Promise<void> {
  const tmp = `${configPath(dataDir)}.tmp`;
  await writeFile(tmp, `${JSON.stringify(c, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, configPath(dataDir));
}

/** A node name: the host name by default; DNS-label rules, lower case. */
export function checkNodeName(name: unknown): string {
  const n = name === undefined ? hostname().toLowerCase().split('.')[0]! : name;
  if (typeof n !== 'string' || !NODE_NAME.test(n)) {
    throw new HangarError('INVALID_SPEC', `"${String(n)}" is not a node name: 1-63 lower-case letters, digits and "-", not starting or ending with "-".`, { details: { field: 'name' } });
  }
  return n;
}

/** etcd endpoints from a list or a comma-separated text: http(s)://HOST:PORT each. */
export function parseEtcdEndpoints(value: unknown): string[] {
  const list = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value : [];
  const out = list.map((v) => String(v).trim()).filter((v) => v !== '');
  if (out.length === 0) throw new HangarError('INVALID_SPEC', 'Name the etcd endpoints: --etcd http://HOST:2379[,http://HOST2:2379…].', { details: { field: 'etcd' } });
  for (const e of out) {
    let u: URL | undefined;
    try {
      u = new URL(e);
    } catch {
      u = undefined;
    }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || !u.port || u.pathname !== '/' || u.search || u.username) {
      throw new HangarError('INVALID_SPEC', `"${e}" is not an etcd endpoint: http://HOST:PORT or https://HOST:PORT.`, { details: { field: 'etcd' } });
    }
  }
  return out;
}
