/**
 * What the daemon calls: the auth context from its services, the unix socket's owner and
 * mode, and the TLS listeners with their certificate.
 */
import { chmod, chown, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { OperationService } from '../operations/service.js';
import { DEFAULT_PROJECT, type ProjectService } from '../projects/service.js';
import type { StorageService } from '../storage/service.js';
import type { Store } from '../store/store.js';
import { ConsoleTokens } from './console-tokens.js';
import type { AuthContext } from './hooks.js';
import type { ListenAddress } from './listen.js';
import type { ScopeLookups } from './scope.js';
import { loadClusterCertificate, loadOrCreateCertificate, writeClusterCertificate } from './tls.js';
import { TokenService } from './tokens.js';
import { serveTls, type TlsListeners } from './transport.js';
import { errorText } from '../errors/errors.js';

export const SOCKET_GROUP = 'hangar';

export function createAuthContext(deps: { store: Store; projects: ProjectService; storage: StorageService; operations: OperationService }): AuthContext {
  const { store, projects, storage, operations } = deps;
  const lookups: ScopeLookups = {
    vmProject: async (name) => {
      const rec = await store.getVm(name);
      return rec ? (rec.spec.project ?? DEFAULT_PROJECT) : undefined;
    },
    vmId: async (name) => (await store.getVm(name))?.id,
    vmProjects: async () => new Map((await store.listVms()).map((v) => [v.name, v.spec.project ?? DEFAULT_PROJECT])),
    volume: (pool, name) => storage.getVolume(pool, name).catch(() => undefined),
    operationTarget: async (id) => (await operations.get(id).catch(() => undefined))?.target,
  };
  const tokens = new TokenService(store, { checkProject: async (p) => void (await projects.get(p)) });
  return { tokens, consoleTokens: new ConsoleTokens(), lookups };
}

/** The gid of a group in /etc/group, or undefined. */
export async function groupId(name: string, groupFile = '/etc/group'): Promise<number | undefined> {
  const text = await readFile(groupFile, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const [group, , gid] = line.split(':');
    if (group === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  return undefined;
}

/**
 * The unix socket is full control of the host's VMs: mode 0660, owned by the daemon's user
 * and the `hangar` group when it exists (scripts/setup creates it). The run dir it sits in
 * is made traversable (0711, not listable) so the group can reach it; what else lives
 * there (vms/) keeps its own 0700.
 */
export async function secureSocket(socket: string, runDir: string, warn: (msg: string) => void): Promise<{ group?: string }> {
  await chmod(socket, 0o660);
  if (dirname(socket) === runDir) await chmod(runDir, 0o711);
  const gid = await groupId(SOCKET_GROUP);
  if (gid === undefined) return {};
  try {
    await chown(socket, process.getuid?.() ?? 0, gid);
    return { group: SOCKET_GROUP };
  } catch (e) {
    warn(`could not give the API socket to group ${SOCKET_GROUP}: ${errorText(e)}`);
    return {};
  }
}

export interface TlsService extends TlsListeners {
  fingerprint: string;
  origin: string;
  certFile: string;
  /** The certificate and key served now. */
  material(): { cert: string; key: string; fingerprint: string };
  /** Makes this the node's certificate from now on and at every start (the cluster's one); its fingerprint. */
  useClusterCertificate(cert: string, key: string): Promise<string>;
}

export async function startTlsListeners(
  app: FastifyInstance, auth: AuthContext,
  o: { dataDir: string; listen: readonly ListenAddress[]; tlsCert?: string; tlsKey?: string },
): Promise<TlsService> {
  const dir = join(o.dataDir, 'tls');
  // A node of a cluster serves the cluster's one certificate (unless the operator gave one).
  let material = (o.tlsCert === undefined && (await loadClusterCertificate(dir, o.listen))) || await loadOrCreateCertificate({
    dir, listen: o.listen,
    ...(o.tlsCert !== undefined && { certFile: o.tlsCert }), ...(o.tlsKey !== undefined && { keyFile: o.tlsKey }),
  });
  const listeners = await serveTls(app, { listen: o.listen, material, auth });
  const publish = () => (auth.tls = { fingerprint: material.fingerprint, listen: listeners.addresses, certFile: material.certFile, cert: material.cert, key: material.key });
  publish();
  const service: TlsService = {
    ...listeners, fingerprint: material.fingerprint, origin: material.origin, certFile: material.certFile,
    material: () => ({ cert: material.cert, key: material.key, fingerprint: material.fingerprint }),
    useClusterCertificate: async (cert, key) => {
      if (o.tlsCert !== undefined) return material.fingerprint; // the operator's certificate stays
      await writeClusterCertificate(dir, cert, key);
      material = (await loadClusterCertificate(dir, o.listen))!;
      listeners.setCertificate(material);
      service.fingerprint = material.fingerprint;
      publish();
      return material.fingerprint;
    },
  };
  return service;
}
