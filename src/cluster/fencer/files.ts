/**
 * What the daemon and its node's fencer tell each other, as files in `<data-dir>/fencer/`
 * (each written whole, by a rename, so a reader never sees half of one):
 *
 * - `fencer.json` (fencer → daemon): the node's lease, when it was last renewed, its
 *   deadline, and whether the fencer has fenced the node (killed its HA guests).
 * - `guests.json` (daemon → fencer): the HA guests that run on this node now, each with the
 *   pid and start time of its QEMU, so the fencer kills exactly those processes.
 * - `daemon.heartbeat` (daemon → fencer): its mtime, touched every 250 ms, says the daemon lives.
 * - `fencer.log`: the fencer's own log.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export interface FencerState {
  /** The fencer's pid and its /proc start time (field 22), to tell it from a reused pid. */
  pid: number;
  pidStartTime: string;
  /** The node's etcd lease (absent until the first grant). */
  lease?: string;
  ttlSeconds: number;
  /** When the last acknowledged keep-alive (or the grant) was sent, ms since the epoch. */
  lastAckAt?: number;
  /** lastAckAt + TTL: after this, etcd may have expired the lease and another node may take the HA guests. */
  deadline?: number;
  /** The fencer killed this node's HA guests (its lease could not be renewed in time). */
  fenced?: { at: number; reason: string; vms: string[] };
  updatedAt: number;
}

export interface HaGuest {
  id: string;
  name: string;
  pid: number;
  pidStartTime: string;
}

/**
 * The node may run HA guests now: its fencer holds a lease, has not fenced the node, and the
 * deadline is more than the margin (plus 500 ms for a start under way) away.
 */
export function leaseIsSure(s: FencerState | undefined, marginMs: number, now = Date.now()): boolean {
  return Boolean(s?.deadline && !s.fenced && now < s.deadline - marginMs - 500);
}

export function fencerDir(dataDir: string): string {
  return join(dataDir, 'fencer');
}

export const fencerFiles = (dataDir: string) => ({
  state: join(fencerDir(dataDir), 'fencer.json'),
  guests: join(fencerDir(dataDir), 'guests.json'),
  log: join(fencerDir(dataDir), 'fencer.log'),
  heartbeat: join(fencerDir(dataDir), 'daemon.heartbeat'),
});

/** Writes a JSON file whole: to a temporary name, then renamed over the old one. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(value), { mode: 0o600 });
  await rename(tmp, path);
}

/** A JSON file, or undefined when it is missing or unreadable. */
export async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}
