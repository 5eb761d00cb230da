/**
 * One API for consoles: a console WebSocket (serial, VNC, SPICE) for a VM another node of
 * the cluster runs is carried to that node. The caller was authorized here as for any
 * console (on the TLS listener: this node's console token, which is spent); this node then
 * gets a console token of the owner's own with the cluster's node token (a carried
 * `POST /console-tokens`, naming the caller), opens the upgrade on the owner's TLS
 * listener with its pinned fingerprint and the viewer's own WebSocket key, and splices the
 * two streams byte for byte: the handshake, frames and close are the viewer's and the
 * owner's, this node only passes them on (with `x-hangar-node` on the 101). Either side
 * closing closes both. The owner offline or silent: NODE_UNREACHABLE before any 101; the
 * owner refusing (the VM stopped, no such display): its HTTP answer as it gave it.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ClusterService } from '../cluster/service.js';
import type { NodeUpgrade } from '../cluster/node-upgrade.js';
import type { ConsoleType } from '../contract/consoles.js';

/** What carrying a console needs of the cluster. */
export type ConsoleCluster = Pick<ClusterService, 'forward' | 'openUpgrade'>;

/** The viewer's headers that make its WebSocket handshake: passed on to the owner as they are. */
const HANDSHAKE_HEADERS = ['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol', 'sec-websocket-extensions'] as const;

const GRANT_TIMEOUT_MS = 15_000;
/** How long one side may stay open after the other closed. */
const LINGER_MS = 2000;

export class ConsoleForwarder {
  private readonly open = new Set<{ viewer: Duplex; owner: Duplex }>();

  constructor(private readonly cluster: ConsoleCluster) {}

  /**
   * Carries the upgrade `req` (already authorized here) for the `type` console of `vm` to
   * `node`. Throws (before anything was written) what to refuse it with here.
   */
  async carry(req: IncomingMessage, socket: Duplex, head: Buffer, target: { vm: string; type: ConsoleType; node: string }, actor: string): Promise<void> {
    const { vm, type, node } = target;
    const granted = await this.cluster.forward(node, 'POST', `/v1/vms/${encodeURIComponent(vm)}/console-tokens`, { type }, actor, { timeoutMs: GRANT_TIMEOUT_MS });
    const grant = granted.body as { path?: unknown } | undefined;
    if (granted.status !== 201 || typeof grant?.path !== 'string') {
      return answer(socket, granted.status === 201 ? 502 : granted.status, Buffer.from(JSON.stringify(granted.body ?? {})), 'application/json');
    }
    // The viewer's other parameters (`replay=1`) go along; its token was this node's and is spent.
    const params = new URL(req.url ?? '/', 'http://hangar').searchParams;
    params.delete('token');
    const rest = params.toString();
    const path = rest ? `${grant.path}&${rest}` : grant.path;
    const headers: Record<string, string> = {};
    for (const h of HANDSHAKE_HEADERS) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    const up = await this.cluster.openUpgrade(node, path, headers, actor);
    if (!up.upgraded) {
      const type = up.headers['content-type'];
      return answer(socket, up.status, up.body, typeof type === 'string' ? type : 'application/json');
    }
    // The viewer may have gone while the owner was being reached.
    if (socket.destroyed || !socket.writable) {
      up.socket.destroy();
      return;
    }
    socket.write(switchingHead(up, node));
    if (up.head.length) socket.write(up.head);
    if (head.length) up.socket.write(head);
    this.splice(socket, up.socket);
  }

  /** Ends every carried console (the daemon is stopping). */
  closeAll(): void {
    for (const t of [...this.open]) {
      t.viewer.destroy();
      t.owner.destroy();
    }
    this.open.clear();
  }

  /** Carried consoles open now. */
  get count(): number {
    return this.open.size;
  }

  private splice(viewer: Duplex, owner: Duplex): void {
    const t = { viewer, owner };
    this.open.add(t);
    // One side gone: the other is ended (what was written still goes out), and cut if it lingers.
    const after = (other: Duplex) => () => {
      this.open.delete(t);
      if (other.destroyed) return;
      other.end();
      setTimeout(() => other.destroy(), LINGER_MS).unref();
    };
    viewer.once('close', after(owner));
    owner.once('close', after(viewer));
    viewer.on('error', () => viewer.destroy());
    owner.on('error', () => owner.destroy());
    viewer.pipe(owner);
    owner.pipe(viewer);
  }
}

/** The owner's 101 as it gave it, naming the node that serves the console. */
function switchingHead(up: Extract<NodeUpgrade, { upgraded: true }>, node: string): string {
  const lines = [`HTTP/1.1 ${up.res.statusCode ?? 101} ${up.res.statusMessage ?? 'Switching Protocols'}`];
  const raw = up.res.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) lines.push(`${raw[i]}: ${raw[i + 1]}`);
  lines.push(`x-hangar-node: ${node}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** An HTTP answer instead of the upgrade (the owner's refusal, passed on). */
function answer(socket: Duplex, status: number, body: Buffer, type: string): void {
  socket.end(Buffer.concat([
    Buffer.from(`HTTP/1.1 ${status} Error\r\ncontent-type: ${type.replace(/[\r\n]/g, '')}\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`),
    body,
  ]));
}
