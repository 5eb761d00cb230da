/**
 * One API for consoles: two TLS daemons on one etcd, a tiny guest on n2, and its consoles
 * opened through n1. `hangar console` on n1's unix socket and over n1's TLS listener (a
 * console token of n1's) runs a command in the guest; a VNC WebSocket through n1 gets the
 * guest's RFB handshake, with `x-hangar-node: n2` on the 101; n2 issued the grant it was
 * opened with (its audit log names the cluster's node token). SPICE: the WebSocket links,
 * and a connection file asked of n1 opens a port on n2. With n2's daemon gone, a
 * console through n1 is refused with NODE_UNREACHABLE before any 101.
 */
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebSocketStream, WebSocket } from 'ws';
import { spiceProbe } from '../../src/console/spice-probe.js';
import { parseVvFile } from '../../src/console/vv-file.js';
import { ApiClient, resolveTrust } from '../../src/client/index.js';
import { freePort, startEtcd, type TestEtcd } from '../../src/etcd/test-etcd.js';
import { guestRun, runCli, TestDaemon, waitFor, waitForGuestReady } from './harness.js';

let etcd: TestEtcd;
let n1: TestDaemon;
let n2: TestDaemon;
let n1Url: string;
let fingerprint: string;
let opToken: string;

const VM = 'cc-a';

/** n1's API over its TLS listener, with the operator's token. */
const n1Api = () => new ApiClient({ url: n1Url, token: opToken, trust: resolveTrust({ fingerprint, dataDir: '/nonexistent' }) });

/** Opens a console WebSocket through n1's TLS listener with a console token n1 made; the 101's headers and the first bytes. */
async function openThroughN1(type: 'serial' | 'vnc' | 'spice'): Promise<{ ws: WebSocket; headers: Record<string, unknown>; first: Promise<Buffer> }> {
  const grant = await n1Api().call<{ path: string }>('POST', `/v1/vms/${VM}/console-tokens`, { type });
  return new Promise((resolve, reject) => {
    // As the web UI n1 serves opens it: with n1's Origin (checked by n1; n2 never sees it).
    const ws = new WebSocket(`wss://${n1Url.slice('https://'.length)}${grant.path}`, { rejectUnauthorized: false, origin: n1Url });
    let headers: Record<string, unknown> = {};
    // The first 12 bytes (an RFB version line), however the messages split them.
    const first = new Promise<Buffer>((r) => {
      let got = Buffer.alloc(0);
      const take = (d: Buffer) => {
        got = Buffer.concat([got, d]);
        if (got.length < 12) return;
        ws.off('message', take);
        r(got.subarray(0, 12));
      };
      ws.on('message', take);
    });
    ws.once('upgrade', (res) => (headers = res.headers));
    ws.once('open', () => resolve({ ws, headers, first }));
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}: ${text}`), { status: res.statusCode, body: JSON.parse(text) as unknown })));
    });
    ws.once('error', reject);
  });
}

/** A GET through n1's TLS listener with the operator's token: the raw answer. */
function getThroughN1(path: string): Promise<{ status: number; body: string; type: string; disposition: string; node: string }> {
  const [host, port] = n1Url.slice('https://'.length).split(':') as [string, string];
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host, port: Number(port), path, rejectUnauthorized: false, headers: { authorization: `Bearer ${opToken}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({
        status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), type: String(res.headers['content-type']),
        disposition: String(res.headers['content-disposition']), node: String(res.headers['x-hangar-node']),
      }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  etcd = await startEtcd();
  n1 = await TestDaemon.start({ args: ['--listen', `127.0.0.1:${await freePort()}`] });
  n2 = await TestDaemon.start({ args: ['--listen', `127.0.0.1:${await freePort()}`] });
  const init = await n1.cli(['cluster', 'init', '--etcd', etcd.endpoints.join(','), '--name', 'n1', '--lease-ttl', '3']);
  expect(init.code, init.stderr).toBe(0);
  const add = await n1.cli(['cluster', 'add', 'n2']);
  expect(add.code, add.stderr).toBe(0);
  const join = await n2.cli(['cluster', 'join', add.stdout.trim()]);
  expect(join.code, join.stderr).toBe(0);
  const nodes = await waitFor('both nodes online', async () => {
    const list = JSON.parse((await n1.cli(['node', 'list', '-o', 'json'])).stdout) as { name: string; state: string; address: string; fingerprint: string }[];
    return list.map((n) => `${n.name}:${n.state}`).join(' ') === 'n1:online n2:online' && list;
  }, 15_000);
  n1Url = `https://${nodes[0]!.address}`;
  fingerprint = nodes[0]!.fingerprint;
  const tok = await n1.cli(['token', 'create', 'op', '--role', 'operator']);
  expect(tok.code, tok.stderr).toBe(0);
  opToken = tok.stdout.trim();
  const c = await n1.cli(['vm', 'create', VM, '--image', 'tiny', '--spice', '--target', 'n2', '--start']);
  expect(c.code, c.stderr).toBe(0);
  expect(await n1.vm(VM)).toMatchObject({ node: 'n2', state: 'running' });
  await waitForGuestReady(n2, VM);
});

afterAll(async () => {
  // n2 first: it uses n1's pool records (paths in n1's data dir).
  await n2?.cleanup();
  await n1?.cleanup();
  await etcd?.stop();
});

describe('consoles through any node', () => {
  it('`hangar console` on n1 (unix socket, and TLS with a console token of n1) runs a command in the guest on n2', async () => {
    const out = await guestRun(n1, VM, 'echo $((6*7))');
    expect(out).toMatch(/^42\r?$/m);
    // Over n1's TLS listener: n1 grants the console token, n1 spends it, n2 runs the console.
    const remote = await runCli(['--remote', n1Url, '--fingerprint', fingerprint, '--token', opToken, 'console', VM, '--idle', '1000', '--until', 'HG-DONE-42'], 'echo $((7*8))\necho HG-DONE-$((40+2))\n');
    expect(remote.code, remote.stderr).toBe(0);
    expect(remote.stdout).toMatch(/^56\r?$/m);
    // n2 issued the console tokens, to the cluster's node token (n1 carried them), not the callers.
    const audit = await n2.api.audit.list({ vm: VM });
    const issued = audit.filter((e) => e.method === 'POST' && e.route === '/v1/vms/:name/console-tokens');
    expect(issued.filter((e) => /^token:[^:]+:cluster-nodes-/.test(e.actor)).length).toBeGreaterThanOrEqual(2);
  });

  it('a VNC WebSocket through n1 gets the RFB handshake of the guest on n2', async () => {
    const { ws, headers, first } = await openThroughN1('vnc');
    try {
      expect(headers['x-hangar-node']).toBe('n2');
      expect((await first).toString('latin1')).toBe('RFB 003.008\n');
    } finally {
      ws.terminate();
    }
    // A console token is single-use, through n1 as anywhere: the same path again is refused by n1.
    const grant = await n1Api().call<{ path: string }>('POST', `/v1/vms/${VM}/console-tokens`, { type: 'vnc' });
    const again = async () => new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`wss://${n1Url.slice('https://'.length)}${grant.path}`, { rejectUnauthorized: false });
      ws.once('open', () => {
        ws.terminate();
        resolve(101);
      });
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('error', reject);
    });
    expect(await again()).toBe(101);
    expect(await again()).toBe(401);
  });

  it('SPICE through n1: the WebSocket links, and a connection file opens a port on n2 that checks its password', async () => {
    const { ws, headers } = await openThroughN1('spice');
    expect(headers['x-hangar-node']).toBe('n2');
    const stream = createWebSocketStream(ws);
    expect(await spiceProbe(stream, { password: 'anything' })).toMatchObject({ magic: 'REDQ', error: 0, result: 0 });
    stream.destroy();
    // The file is made by n2 (its port, on its address) and passed on by n1 as n2 gave it.
    const file = await getThroughN1(`/v1/vms/${VM}/spice.vv`);
    expect(file).toMatchObject({ status: 200, node: 'n2', type: 'application/x-virt-viewer', disposition: `attachment; filename="${VM}.vv"` });
    const vv = parseVvFile(file.body);
    expect(vv).toMatchObject({ type: 'spice', host: '127.0.0.1' });
    const s = await new Promise<Duplex>((resolve, reject) => {
      const t = tlsConnect({ host: '127.0.0.1', port: Number(vv['tls-port']), ca: vv.ca, checkServerIdentity: () => undefined }, () => resolve(t));
      t.once('error', reject);
    });
    expect(await spiceProbe(s, { password: vv.password! })).toMatchObject({ magic: 'REDQ', result: 0 });
    s.destroy();
  });

  it("a console for a VM whose node's daemon is gone is refused with NODE_UNREACHABLE before any 101", async () => {
    await n2.kill('SIGTERM');
    // At once (the lease may still run: n2 does not answer), and once n2 is offline.
    for (const phase of ['not answering', 'offline']) {
      if (phase === 'offline') {
        await waitFor('n2 offline', async () => {
          const nodes = JSON.parse((await n1.cli(['node', 'list', '-o', 'json'])).stdout) as { name: string; state: string }[];
          return nodes.find((n) => n.name === 'n2')?.state === 'offline';
        }, 15_000, 250);
      }
      const r = await n1.cli(['console', VM, '--idle', '500'], 'true\n', 20_000);
      expect(r.code, phase).not.toBe(0);
      expect(r.stderr, phase).toContain('NODE_UNREACHABLE');
      expect(r.stderr, phase).toContain('n2');
      await expect(openThroughN1('vnc'), phase).rejects.toMatchObject({ status: 503, body: { code: 'NODE_UNREACHABLE' } });
    }
  });
});
