/**
 * A WebSocket upgrade opened on another node's TLS listener, for a console carried there:
 * the connection is verified against the node's pinned fingerprint before any byte is
 * sent, then one `GET … Upgrade: websocket` goes out. The answer is either the node's
 * 101 (its headers and the raw upgraded stream, to be spliced to the viewer's) or the
 * HTTP answer it refused with (status, headers, body), passed back as it came.
 */
import { request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { connectVerified, parseDaemonUrl } from '../client/tls.js';

export type NodeUpgrade =
  | { upgraded: true; res: IncomingMessage; socket: Duplex; head: Buffer }
  | { upgraded: false; status: number; headers: IncomingHttpHeaders; body: Buffer };

/** A refusal's body is an error in JSON: more than this is cut. */
const MAX_BODY = 64 * 1024;

/**
 * Opens `path` on the node at `address` (host:port) as a WebSocket upgrade, with `headers`
 * (the viewer's WebSocket key, version, protocols and extensions, so the handshake is the
 * viewer's own end to end). Rejects when the node cannot be reached, does not show
 * `fingerprint`, or does not answer within `timeoutMs`.
 */
export async function openNodeUpgrade(address: string, fingerprint: string, path: string, headers: Record<string, string>, timeoutMs = 15_000): Promise<NodeUpgrade> {
  const socket = await connectVerified(parseDaemonUrl(`https://${address}`), { kind: 'fingerprint', fingerprint });
  return new Promise((resolve, reject) => {
    const req = request({
      createConnection: () => socket,
      method: 'GET', path,
      headers: { ...headers, host: address, connection: 'Upgrade', upgrade: 'websocket' },
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer to the upgrade in ${timeoutMs / 1000} s`)), timeoutMs);
    req.once('upgrade', (res: IncomingMessage, upgraded: Duplex, head: Buffer) => {
      clearTimeout(timer);
      resolve({ upgraded: true, res, socket: upgraded, head });
    });
    req.once('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < MAX_BODY) chunks.push(c);
        size += c.length;
      });
      res.once('end', () => {
        clearTimeout(timer);
        socket.destroy();
        resolve({ upgraded: false, status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks).subarray(0, MAX_BODY) });
      });
      res.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    req.once('error', (e) => {
      clearTimeout(timer);
      socket.destroy();
      reject(e);
    });
    req.end();
  });
}
