/**
 * `hangar __complete <kind> [args…]`: the names of one kind the daemon knows, one a line, for
 * the completion scripts. Quick and quiet: a daemon that is not there, refuses or does not
 * answer within the time limit gives no names and no message (a shell is waiting on it).
 * `args` are the positional arguments typed so far (`snapshot revert web1 <TAB>`: the VM).
 */
import type { ApiClient } from '../../client/index.js';
import type { NameKind } from './model.js';

/** How long a completion waits for the daemon. */
export const COMPLETE_TIMEOUT_MS = 1500;

const byName = (xs: Array<{ name: string }>) => xs.map((x) => x.name);

const SOURCES: Record<NameKind, (c: ApiClient, args: string[]) => Promise<string[]>> = {
  vms: async (c) => byName(await c.vms.list()),
  images: async (c) => byName(await c.images.list()),
  networks: async (c) => byName(await c.networks.list()),
  volumes: async (c) => byName(await c.volumes.list()),
  pools: async (c) => byName(await c.pools.list()),
  snapshots: async (c, args) => (args[0] ? byName(await c.snapshots.list(args[0])) : []),
  backups: async (c, args) => (await c.backups.list(args[0] ? { vm: args[0] } : {})).map((b) => b.id),
  'backup-repos': async (c) => byName(await c.backups.repos()),
  projects: async (c) => byName(await c.projects.list()),
  profiles: async (c) => byName(await c.profiles.list()),
  groups: async (c) => byName(await c.groups.list()),
  hooks: async (c) => byName(await c.hooks.list()),
  peers: async (c) => byName(await c.peers.list()),
  nodes: async (c) => byName(await c.cluster.nodes()),
  tokens: async (c) => byName(await c.tokens.list()),
  types: async (c) => byName(await c.profiles.instanceTypes()),
  operations: async (c) => (await c.operations.list()).map((o) => o.id),
};

export function isNameKind(kind: string): kind is NameKind {
  return Object.hasOwn(SOURCES, kind);
}

/** The names, sorted and without repeats; [] when the daemon does not answer in time (or at all). */
export async function completeNames(client: () => ApiClient, kind: string, args: string[], timeoutMs = COMPLETE_TIMEOUT_MS): Promise<string[]> {
  if (!isNameKind(kind)) return [];
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string[]>((resolve) => {
    timer = setTimeout(() => resolve([]), timeoutMs);
  });
  try {
    const names = await Promise.race([SOURCES[kind](client(), args), late]);
    return [...new Set(names)].sort();
  } catch {
    return [];
  } finally {
    clearTimeout(timer);
  }
}
