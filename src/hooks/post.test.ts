import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { postJson } from './post.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function listen(server: Server, scheme = 'http'): Promise<string> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
}

const http = (handler: RequestListener) => listen(createHttpServer(handler));

describe('one webhook attempt', () => {
  it('a 2xx is a success; other statuses, redirects included, are failures', async () => {
    let got = '';
    const url = await http((req, res) => {
      req.on('data', (c: Buffer) => (got += c.toString()));
      req.on('end', () => res.writeHead(req.headers['x-answer'] ? Number(req.headers['x-answer']) : 202, req.headers['x-answer'] === '302' ? { location: '/elsewhere' } : {}).end());
    });
    expect(await postJson(url, '{"a":1}', {}, { timeoutMs: 2000 })).toMatchObject({ ok: true, status: 202 });
    expect(got).toBe('{"a":1}');
    expect(await postJson(url, '{}', { 'x-answer': '500' }, { timeoutMs: 2000 })).toMatchObject({ ok: false, status: 500, error: 'HTTP 500 Internal Server Error' });
    expect(await postJson(url, '{}', { 'x-answer': '302' }, { timeoutMs: 2000 })).toMatchObject({ ok: false, status: 302 });
  });

  it('a receiver that does not answer in time fails the attempt', async () => {
    const url = await http(() => undefined);
    const r = await postJson(url, '{}', {}, { timeoutMs: 200 });
    expect(r).toMatchObject({ ok: false, error: 'no answer within 200 ms' });
    expect(r.durationMs).toBeLessThan(2000);
  });

  it('a huge answer is not read to its end', async () => {
    const url = await http((_req, res) => {
      res.writeHead(200);
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const pump = () => {
        while (res.write(chunk));
      };
      res.on('drain', pump);
      pump();
    });
    const r = await postJson(url, '{}', {}, { timeoutMs: 5000, maxResponseBytes: 128 * 1024 });
    expect(r).toMatchObject({ ok: true, status: 200 });
    expect(r.durationMs).toBeLessThan(4000);
  });

  it('https: a certificate the system does not trust is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hook-tls-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
        '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
      let reached = false;
      const server = createHttpsServer({ cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) }, (_req, res) => {
        reached = true;
        res.writeHead(200).end();
      });
      const url = await listen(server as unknown as Server, 'https');
      const r = await postJson(url, '{}', {}, { timeoutMs: 3000 });
      expect(r.ok).toBe(false);
      expect(r.error).toMatch(/SELF_SIGNED|certificate/i);
      expect(reached).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
