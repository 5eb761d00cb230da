import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { ERROR_CATALOGUE, HangarError, toHangarError } from '../errors/errors.js';
import { loadOrCreateCertificate, type TlsMaterial } from '../auth/tls.js';
import { openNodeUpgrade } from '../cluster/node-upgrade.js';
import { ConsoleForwarder, type ConsoleCluster } from './console-forward.js';

/**
 * A stand-in owner node (TLS, its own certificate) whose console WebSocket echoes what it
 * gets, and a front node (plain HTTP here) whose upgrades a ConsoleForwarder carries to it.
 */
let dir: string;
let tls: TlsMaterial;
let owner: HttpsServer;
let ownerAddress: string;
const ownerWss = new WebSocketServer({ noServer: true, perMessageDeflate: true });
const ownerSeen: { url: string; headers: IncomingMessage['headers'] }[] = [];
const ownerSockets: WebSocket[] = [];
let front: HttpServer;
let frontPort: number;
let forwarder: ConsoleForwarder;
const grants: { node: string; url: string; body: unknown; actor: string }[] = [];

const cluster: ConsoleCluster = {
  forward: async (node, _method, url, body, actor) => {
    grants.push({ node, url, body, actor });
    if (node === 'gone') throw new HangarError('NODE_UNREACHABLE', `The VM is on node "${node}", which is offline (its lease expired).`);
    if (url.includes('/flat/')) return { status: 409, body: { code: 'CONSOLE_UNAVAILABLE', message: 'VM "flat" has no VNC display.' } };
    const vm = /^\/v1\/vms\/([^/]+)\//.exec(url)![1]!;
    const kind = (body as { type: string }).type;
    return { status: 201, body: { path: `/v1/vms/${vm}/${kind === 'serial' ? 'console' : kind}?token=owner-grant` } };
  },
  openUpgrade: (node, path, headers, actor) => openNodeUpgrade(ownerAddress, tls.fingerprint, path, { ...headers, 'x-hangar-forwarded-for': actor }),
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hg-console-forward-'));
  tls = await loadOrCreateCertificate({ dir, listen: [{ host: '127.0.0.1', port: 0 }], hostname: 'owner' });
  owner = createHttpsServer({ cert: tls.cert, key: tls.key });
  owner.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    ownerSeen.push({ url: req.url ?? '', headers: req.headers });
    if (req.url?.startsWith('/v1/vms/stopped/')) {
      const json = JSON.stringify({ code: 'VM_STATE', message: 'VM "stopped" is stopped: start it to use its console.' });
      socket.end(`HTTP/1.1 409 Error\r\ncontent-type: application/json\r\ncontent-length: ${json.length}\r\nconnection: close\r\n\r\n${json}`);
      return;
    }
    ownerWss.handleUpgrade(req, socket, head, (ws) => {
      ownerSockets.push(ws);
      ws.send(Buffer.from('hello from the owner'));
      ws.on('message', (data: Buffer) => ws.send(Buffer.concat([Buffer.from('echo:'), data])));
    });
  });
  await new Promise<void>((r) => owner.listen(0, '127.0.0.1', r));
  ownerAddress = `127.0.0.1:${(owner.address() as AddressInfo).port}`;

  forwarder = new ConsoleForwarder(cluster);
  front = createHttpServer();
  front.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const m = /^\/v1\/vms\/([^/]+)\/(console|vnc)/.exec(req.url ?? '')!;
    const node = m[1] === 'far' ? 'gone' : 'n2';
    forwarder.carry(req, socket, head, { vm: m[1]!, type: m[2] === 'console' ? 'serial' : 'vnc', node }, 'token:abc:ui').catch((e: unknown) => {
      const body = toHangarError(e).toJSON();
      const json = JSON.stringify(body);
      socket.end(`HTTP/1.1 ${ERROR_CATALOGUE[body.code].status} Error\r\ncontent-type: application/json\r\ncontent-length: ${json.length}\r\nconnection: close\r\n\r\n${json}`);
    });
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  frontPort = (front.address() as AddressInfo).port;
});

afterEach(() => {
  for (const ws of ownerSockets.splice(0)) ws.terminate();
  ownerSeen.length = 0;
  grants.length = 0;
});

afterAll(async () => {
  forwarder.closeAll();
  for (const s of [front, owner]) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  ownerWss.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Opens a WebSocket through the front node; resolves with it and the 101's headers, or rejects with the HTTP answer. */
function open(path: string): Promise<{ ws: WebSocket; headers: IncomingMessage['headers']; messages: Buffer[] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${frontPort}${path}`);
    const messages: Buffer[] = [];
    let headers: IncomingMessage['headers'] = {};
    ws.on('message', (d: Buffer) => messages.push(d));
    ws.once('upgrade', (res) => (headers = res.headers));
    ws.once('open', () => resolve({ ws, headers, messages }));
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, body: JSON.parse(text) as unknown })));
    });
    ws.once('error', reject);
  });
}

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('console forwarding (a console of a VM another node runs)', () => {
  it("carries the viewer's own handshake to the owner with the owner's grant, and passes bytes both ways", async () => {
    const { ws, headers, messages } = await open('/v1/vms/web1/console?token=front-grant&replay=1');
    expect(headers['x-hangar-node']).toBe('n2');
    // The grant was made on the owner for the same VM and console, naming the caller.
    expect(grants).toEqual([{ node: 'n2', url: '/v1/vms/web1/console-tokens', body: { type: 'serial' }, actor: 'token:abc:ui' }]);
    // The front's token is spent there; the owner's goes instead; other parameters go along.
    expect(ownerSeen[0]!.url).toBe('/v1/vms/web1/console?token=owner-grant&replay=1');
    expect(ownerSeen[0]!.headers['x-hangar-forwarded-for']).toBe('token:abc:ui');
    expect(ownerSeen[0]!.headers['sec-websocket-key']).toMatch(/==$/);
    expect(ownerSeen[0]!.headers.host).toBe(ownerAddress);
    await until('the greeting', () => messages.length === 1);
    expect(messages[0]!.toString()).toBe('hello from the owner');
    // Extensions are negotiated end to end (the owner here accepts permessage-deflate): a large compressible message passes.
    expect(headers['sec-websocket-extensions']).toContain('permessage-deflate');
    const big = Buffer.alloc(300_000, 'x');
    ws.send(big);
    ws.send(Buffer.from('ls'));
    await until('both echoes', () => messages.length === 3);
    expect(messages[1]!.equals(Buffer.concat([Buffer.from('echo:'), big]))).toBe(true);
    expect(messages[2]!.toString()).toBe('echo:ls');
    expect(forwarder.count).toBe(1);

    // The owner closing (the VM stopped) closes the viewer with the owner's own code and reason.
    const closed = new Promise<[number, string]>((r) => ws.once('close', (code, reason) => r([code, reason.toString()])));
    ownerSockets[0]!.close(1000, 'the VM stopped');
    expect(await closed).toEqual([1000, 'the VM stopped']);
    await until('the tunnel gone', () => forwarder.count === 0);
  });

  it('the viewer closing closes the owner side; closeAll cuts what is left', async () => {
    const { ws } = await open('/v1/vms/web1/vnc?token=t');
    expect(ownerSeen[0]!.url).toBe('/v1/vms/web1/vnc?token=owner-grant');
    const ownerClosed = new Promise<number>((r) => ownerSockets[0]!.once('close', (code) => r(code)));
    ws.close(1000, 'bye');
    expect(await ownerClosed).toBe(1000);
    await until('the tunnel gone', () => forwarder.count === 0);

    const second = await open('/v1/vms/web1/console');
    const cut = new Promise<number>((r) => second.ws.once('close', (code) => r(code)));
    forwarder.closeAll();
    expect(await cut).toBe(1006);
    expect(forwarder.count).toBe(0);
  });

  it('refuses before any 101: the owner offline (NODE_UNREACHABLE), its grant refused, its upgrade refused, all as HTTP errors', async () => {
    await expect(open('/v1/vms/far/console')).rejects.toMatchObject({ status: 503, body: { code: 'NODE_UNREACHABLE' } });
    expect(ownerSeen).toEqual([]);
    await expect(open('/v1/vms/flat/vnc')).rejects.toMatchObject({ status: 409, body: { code: 'CONSOLE_UNAVAILABLE' } });
    expect(ownerSeen).toEqual([]);
    await expect(open('/v1/vms/stopped/console')).rejects.toMatchObject({ status: 409, body: { code: 'VM_STATE', message: expect.stringContaining('start it') } });
    expect(ownerSeen).toHaveLength(1);
    expect(forwarder.count).toBe(0);
  });

  it('sends nothing to a node whose certificate is not the pinned one', async () => {
    const wrong = `${tls.fingerprint.slice(0, -2)}${tls.fingerprint.endsWith('00') ? '11' : '00'}`;
    await expect(openNodeUpgrade(ownerAddress, wrong, '/v1/vms/web1/console?token=x', {})).rejects.toMatchObject({ message: expect.stringContaining('not the pinned') });
    await expect(openNodeUpgrade('127.0.0.1:1', tls.fingerprint, '/v1/vms/web1/console', {})).rejects.toMatchObject({ code: 'DAEMON_UNREACHABLE' });
    expect(ownerSeen).toEqual([]);
  });
});
