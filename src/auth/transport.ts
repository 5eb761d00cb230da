/**
 * The TCP listeners: always TLS, serving the very same Fastify app as the unix socket
 * (its request handler, `app.routing`), so every route, hook and schema is shared. A
 * WebSocket upgrade on TCP must be for a console, carry a fresh console token
 * (`?token=`), and pass the Origin rule (origin.ts) before the app sees it.
 */
import type { Server } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { ERROR_CATALOGUE, HangarError, toHangarError } from '../errors/errors.js';
import { parseConsolePath } from '../contract/consoles.js';
import type { AuthContext } from './hooks.js';
import { formatListen, type ListenAddress } from './listen.js';
import { checkOrigin } from './origin.js';
import { auditActorOf, LOCAL_PRINCIPAL } from './roles.js';
import type { TlsMaterial } from './tls.js';

export interface TlsListeners {
  /** The bound addresses (port 0 resolved), e.g. `127.0.0.1:8443`. */
  addresses: string[];
  /** Serves another certificate from now on (new connections; open ones keep theirs). */
  setCertificate(material: TlsMaterial): void;
  close(): Promise<void>;
}

export async function serveTls(app: FastifyInstance, o: { listen: readonly ListenAddress[]; material: TlsMaterial; auth: AuthContext }): Promise<TlsListeners> {
  const servers: Server[] = [];
  const addresses: string[] = [];
  let current = o.material;
  try {
    for (const addr of o.listen) {
      // node:https on first use: the daemon loads this module at start, few daemons listen on TLS.
      const server = process.getBuiltinModule('node:https').createServer({ cert: o.material.cert, key: o.material.key, minVersion: 'TLSv1.2' }, app.routing);
      server.keepAliveTimeout = 72_000;
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        authorizeUpgrade(req, current, o.auth).then(
          (actor) => {
            upgradeActors.set(req, actor);
            app.server.emit('upgrade', req, socket, head);
          },
          (e: unknown) => refuse(socket, e),
        );
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(addr.port, addr.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      servers.push(server);
      const bound = server.address() as AddressInfo;
      addresses.push(formatListen({ host: bound.address, port: bound.port }));
    }
  } catch (e) {
    await closeAll(servers);
    const err = e as NodeJS.ErrnoException;
    throw new HangarError('PORT_IN_USE', `Cannot listen on ${o.listen.map(formatListen).join(', ')}: ${err.code ?? err.message}. Pick another --listen address or port.`, { cause: e });
  }
  return {
    addresses,
    setCertificate: (material) => {
      current = material;
      for (const s of servers) s.setSecureContext({ cert: material.cert, key: material.key, minVersion: 'TLSv1.2' });
    },
    close: () => closeAll(servers),
  };
}

/** Who opened each upgrade the TLS listener passed on: the actor its console token was issued to. */
const upgradeActors = new WeakMap<IncomingMessage, string>();

/** Who opened a console upgrade, for the node it is carried to: its console token's actor over TLS, else the unix socket's. */
export function upgradeActor(req: IncomingMessage): string {
  return upgradeActors.get(req) ?? auditActorOf(LOCAL_PRINCIPAL);
}

/** The checks a WebSocket upgrade on TCP must pass; throws the error to answer with. Returns the actor its console token was issued to. */
export async function authorizeUpgrade(req: IncomingMessage, material: Pick<TlsMaterial, 'names'>, auth: Pick<AuthContext, 'consoleTokens' | 'lookups'>): Promise<string> {
  const url = new URL(req.url ?? '/', 'https://hangar');
  const target = parseConsolePath(url.pathname);
  if (!target) throw new HangarError('NOT_FOUND', `No WebSocket endpoint at ${url.pathname}.`);
  const verdict = checkOrigin(req.headers.origin, req.headers.host, material.names);
  if (!verdict.ok) throw new HangarError('FORBIDDEN', `WebSocket refused: ${verdict.reason}. Open consoles from a page this daemon serves, or from a client that sends no Origin.`);
  const vmId = await auth.lookups.vmId(target.vm);
  return auth.consoleTokens.consume(url.searchParams.get('token') ?? undefined, { vm: target.vm, vmId, type: target.type });
}

function refuse(socket: Duplex, e: unknown): void {
  const body = toHangarError(e).toJSON();
  const status = ERROR_CATALOGUE[body.code].status;
  const json = JSON.stringify(body);
  const extra = status === 401 ? 'www-authenticate: Bearer realm="hangar"\r\n' : '';
  socket.end(`HTTP/1.1 ${status} Error\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(json)}\r\n${extra}connection: close\r\n\r\n${json}`);
}

async function closeAll(servers: Server[]): Promise<void> {
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => {
    s.close(() => resolve());
    s.closeAllConnections();
  })));
}
