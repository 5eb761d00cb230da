import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeClients } from './node-clients.js';

const TOKEN = 'hgr_0123456789ab_secretsecretsecret';

/** A stand-in node: TLS with its own self-signed certificate; counts TCP connections and requests. */
interface Node {
  server: Server;
  address: string;
  fingerprint: string;
  connections: number;
  requests: number;
}

let dir: string;
let a: Node;
let b: Node;

/** A self-signed EC certificate from openssl (as the daemon makes its own; src/auth is a layer above this one). */
function selfSigned(name: string): { cert: string; key: string; fingerprint: string } {
  const d = join(dir, name);
  mkdirSync(d);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', `/CN=${name}`,
    '-keyout', join(d, 'key.pem'), '-out', join(d, 'cert.pem')], { stdio: 'ignore' });
  const cert = readFileSync(join(d, 'cert.pem'), 'utf8');
  return { cert, key: readFileSync(join(d, 'key.pem'), 'utf8'), fingerprint: new X509Certificate(cert).fingerprint256 };
}

async function node(name: string): Promise<Node> {
  const tls = selfSigned(name);
  const n: Node = { server: undefined as unknown as Server, address: '', fingerprint: tls.fingerprint, connections: 0, requests: 0 };
  n.server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    n.requests++;
    if (req.url === '/file') {
      // A text answer (as a SPICE connection file is): passed on with its type and disposition.
      res.setHeader('content-type', 'application/x-virt-viewer');
      res.setHeader('content-disposition', 'attachment; filename="web1.vv"');
      res.setHeader('x-other', 'dropped');
      res.end('[virt-viewer]\ntype=spice\n');
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ node: name, auth: req.headers.authorization === `Bearer ${TOKEN}` }));
  });
  n.server.on('connection', () => n.connections++);
  await new Promise<void>((r) => n.server.listen(0, '127.0.0.1', r));
  const addr = n.server.address();
  n.address = `127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return n;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hg-nodeclients-'));
  a = await node('a');
  b = await node('b');
});

afterAll(async () => {
  for (const n of [a, b]) {
    n.server.closeAllConnections();
    await new Promise((r) => n.server.close(r));
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('node clients (carried requests)', () => {
  it('reuse one verified connection per node, and refuse a node whose certificate is not the pinned one', async () => {
    const clients = new NodeClients();
    try {
      const c = clients.get('n2', a.address, a.fingerprint, TOKEN);
      for (let i = 0; i < 5; i++) expect(await c.relay('GET', '/x', undefined, {})).toEqual({ status: 200, body: { node: 'a', auth: true } });
      expect(a.requests).toBe(5);
      expect(a.connections).toBe(1);
      expect(clients.get('n2', a.address, a.fingerprint, TOKEN)).toBe(c);

      // The record now says n2 is at b's address, but with a's fingerprint: b presents another certificate, nothing is sent.
      const wrong = clients.get('n2', b.address, a.fingerprint, TOKEN);
      expect(wrong).not.toBe(c);
      await expect(wrong.relay('POST', '/x', { a: 1 }, {})).rejects.toMatchObject({ code: 'DAEMON_UNREACHABLE', message: expect.stringContaining('not the pinned') });
      expect(b.requests).toBe(0);

      // Same address, but the fingerprint a presents is no longer the one published: refused too, over a new connection.
      const before = a.connections;
      const changed = clients.get('n2', a.address, b.fingerprint, TOKEN);
      await expect(changed.relay('GET', '/x', undefined, {})).rejects.toMatchObject({ code: 'DAEMON_UNREACHABLE' });
      expect(a.requests).toBe(5);
      expect(a.connections).toBe(before + 1);

      // The right pair again: works, on a fresh connection.
      const right = clients.get('n2', b.address, b.fingerprint, TOKEN);
      expect(await right.relay('GET', '/x', undefined, {})).toMatchObject({ status: 200, body: { node: 'b' } });
      expect(b.requests).toBe(1);
    } finally {
      clients.close();
    }
  });

  it('pass a text answer on as text, with its type and disposition', async () => {
    const clients = new NodeClients();
    try {
      const c = clients.get('n2', a.address, a.fingerprint, TOKEN);
      expect(await c.relay('GET', '/file', undefined, {})).toEqual({
        status: 200, body: '[virt-viewer]\ntype=spice\n',
        headers: { 'content-type': 'application/x-virt-viewer', 'content-disposition': 'attachment; filename="web1.vv"' },
      });
      expect(await c.relay('GET', '/x', undefined, {})).toEqual({ status: 200, body: { node: 'a', auth: true } });
    } finally {
      clients.close();
    }
  });

  it('a kept connection the node closed is replaced', async () => {
    const clients = new NodeClients();
    try {
      const c = clients.get('n1', a.address, a.fingerprint, TOKEN);
      await c.relay('GET', '/x', undefined, {});
      const before = a.connections;
      a.server.closeAllConnections();
      await new Promise((r) => setTimeout(r, 50));
      expect(await c.relay('GET', '/x', undefined, {})).toMatchObject({ status: 200 });
      expect(a.connections).toBe(before + 1);
    } finally {
      clients.close();
    }
  });
});
