/**
 * The daemon's SPICE ports for connection files (`GET /v1/vms/{name}/spice.vv`): remote-viewer
 * speaks SPICE over TCP, while QEMU serves it on a unix socket only root and the guest's user
 * can open. Each connection file gets a port of its own on the address the request came in on,
 * with a password of its own, checked by the link gate (spice-link.ts) on every channel. Over
 * the TLS listener the port is TLS too, with the daemon's certificate (the file carries it).
 *
 * A port lives while it is used: it closes 60 s after it was opened or after its last
 * connection ended, when the VM stops (with its connections), after too many wrong
 * passwords, and when the daemon stops.
 */
import { connect, createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { HangarError } from '../errors/errors.js';
import { gateSpiceConnection, newSpicePassword, type SpiceKeyPair } from './spice-link.js';

export const SPICE_PORT_IDLE_MS = 60_000;
const MAX_PORTS = 64;
const MAX_CONNECTIONS_PER_PORT = 32;
const MAX_DENIED_PER_PORT = 10;

export interface SpicePortOptions {
  vm: string;
  vmId: string;
  /** QEMU's SPICE socket. */
  socketPath: string;
  /** The local address to listen on (an IP literal). */
  bind: string;
  /** TLS with this certificate and key (PEM); plain TCP without. */
  tls?: { cert: string; key: string };
}

export interface SpicePort {
  port: number;
  password: string;
  tls: boolean;
  /** When it closes unless a viewer is connected by then (ISO time). */
  idleUntil: string;
}

interface OpenPort {
  vm: string;
  server: Server;
  connections: Set<Socket>;
  denied: number;
  idle?: NodeJS.Timeout;
  closed: boolean;
}

export class SpicePorts {
  private readonly ports = new Set<OpenPort>();

  constructor(private readonly o: { idleMs?: number; key?: SpiceKeyPair; log?: (msg: string) => void } = {}) {}

  get count(): number {
    return this.ports.size;
  }

  async open(opts: SpicePortOptions): Promise<SpicePort> {
    if (this.ports.size >= MAX_PORTS) throw new HangarError('VM_BUSY', `${MAX_PORTS} SPICE ports are open already: try again in a minute.`);
    const password = newSpicePassword();
    const idleMs = this.o.idleMs ?? SPICE_PORT_IDLE_MS;
    const p: OpenPort = { vm: opts.vm, server: undefined as unknown as Server, connections: new Set(), denied: 0, closed: false };
    const armIdle = () => {
      clearTimeout(p.idle);
      p.idle = setTimeout(() => this.close(p), idleMs);
      p.idle.unref();
    };
    const onConnection = (socket: Socket) => {
      if (p.closed || p.connections.size >= MAX_CONNECTIONS_PER_PORT) {
        socket.destroy();
        return;
      }
      p.connections.add(socket);
      clearTimeout(p.idle);
      socket.on('error', () => undefined);
      socket.once('close', () => {
        p.connections.delete(socket);
        if (p.connections.size === 0 && !p.closed) armIdle();
      });
      void gateSpiceConnection(socket, {
        password,
        ...(this.o.key && { key: this.o.key }),
        upstream: () => connectUnix(opts.socketPath),
      }).then((outcome) => {
        if (outcome === 'denied' && ++p.denied >= MAX_DENIED_PER_PORT) {
          this.o.log?.(`SPICE port of ${opts.vm}: ${p.denied} wrong passwords, closed`);
          this.close(p);
        }
      });
    };
    p.server = opts.tls
      // node:tls on first use (the daemon loads this module at start, rarely serves SPICE over TLS).
      ? process.getBuiltinModule('node:tls').createServer({ cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2', handshakeTimeout: 15_000 }, onConnection)
      : createTcpServer(onConnection);
    // A TLS client that fails its handshake never reaches onConnection.
    p.server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve, reject) => {
      p.server.once('error', reject);
      p.server.listen(0, opts.bind, () => {
        p.server.off('error', reject);
        resolve();
      });
    }).catch((e: NodeJS.ErrnoException) => {
      throw new HangarError('PORT_IN_USE', `Cannot open a SPICE port on ${opts.bind}: ${e.code ?? e.message}.`);
    });
    p.server.on('error', () => this.close(p));
    this.ports.add(p);
    armIdle();
    const port = (p.server.address() as { port: number }).port;
    return { port, password, tls: opts.tls !== undefined, idleUntil: new Date(Date.now() + idleMs).toISOString() };
  }

  /** Closes a VM's ports and their connections (the VM stopped or went away). */
  closeVm(vm: string): void {
    for (const p of this.ports) if (p.vm === vm) this.close(p);
  }

  closeAll(): void {
    for (const p of this.ports) this.close(p);
  }

  private close(p: OpenPort): void {
    if (p.closed) return;
    p.closed = true;
    clearTimeout(p.idle);
    this.ports.delete(p);
    p.server.close();
    for (const s of p.connections) s.destroy();
  }
}

/** A connection to a unix socket, once it is connected. */
export function connectUnix(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}
