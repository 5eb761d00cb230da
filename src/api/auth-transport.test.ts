/**
 * The auth hooks, the TLS listener and the CLI's client together, on a small Fastify app
 * with the real route table (no QEMU): who gets in over which transport.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { WebSocket, WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiDeps } from './server.js';
import { registerTokenRoutes } from './routes/tokens.js';
import { ErrorBody } from '../contract/errors.js';
import { ApiClient, resolveTrust } from '../client/index.js';
import { ERROR_CATALOGUE, HangarError, toHangarError } from '../errors/errors.js';
import { SqliteStore } from '../store/sqlite.js';
import { ConsoleTokens } from '../auth/console-tokens.js';
import { registerAuth, type AuthContext } from '../auth/hooks.js';
import { loadOrCreateCertificate, type TlsMaterial } from '../auth/tls.js';
import { TokenService } from '../auth/tokens.js';
import { serveTls, type TlsListeners } from '../auth/transport.js';
import { upgradeStatus as wsUpgradeStatus } from '../auth/ws-probe.js';

const dir = mkdtempSync(join(tmpdir(), 'hangar-auth-'));
const socket = join(dir, 'api.sock');
const store = new SqliteStore(':memory:');
const vmsByName = new Map([['a1', { id: 'id-a1', name: 'a1', project: 'team-a' }], ['b1', { id: 'id-b1', name: 'b1', project: 'team-b' }]]);
const auth: AuthContext = {
  tokens: new TokenService(store),
  consoleTokens: new ConsoleTokens(),
  lookups: {
    vmProject: async (n) => vmsByName.get(n)?.project,
    vmId: async (n) => vmsByName.get(n)?.id,
    vmProjects: async () => new Map([...vmsByName.values()].map((v) => [v.name, v.project])),
    volume: async () => undefined,
    operationTarget: async () => undefined,
  },
};
let app: FastifyInstance;
let tls: TlsListeners;
let material: TlsMaterial;
let url: string;
const actors: string[] = [];
const stopped: string[] = [];
const tokens: Record<string, string> = {};

beforeAll(async () => {
  app = Fastify();
  app.addSchema(ErrorBody);
  registerAuth(app, auth);
  app.setErrorHandler((err, _req, reply) => {
    const body = toHangarError(err).toJSON();
    void reply.status(ERROR_CATALOGUE[body.code].status).send(body);
  });
  app.addHook('onResponse', async (req) => {
    actors.push(req.auditActor);
  });
  app.get('/v1/vms', async (_req, reply) => reply.type('application/json').send(JSON.stringify([...vmsByName.values()])));
  app.get<{ Params: { name: string } }>('/v1/vms/:name', async (req) => {
    const v = vmsByName.get(req.params.name);
    if (!v) throw new HangarError('VM_NOT_FOUND', `There is no VM named "${req.params.name}": see \`hangar vm list\`.`);
    return v;
  });
  app.post<{ Params: { name: string } }>('/v1/vms/:name/stop', async (req) => {
    stopped.push(req.params.name);
    return { ok: true };
  });
  const record = async (name: string) => {
    const v = vmsByName.get(name);
    if (!v) throw new HangarError('VM_NOT_FOUND', `There is no VM named "${name}".`);
    return { id: v.id, name: v.name, spec: { vnc: true } };
  };
  registerTokenRoutes(app, { auth, vms: { record } } as unknown as ApiDeps);
  // Stands in for the serial console endpoint in server.ts.
  const wss = new WebSocketServer({ noServer: true });
  app.server.on('upgrade', (req, sock, head) => wss.handleUpgrade(req, sock, head, (ws) => ws.send(`hello ${req.url?.split('?')[0]}`)));
  await app.listen({ path: socket });
  material = await loadOrCreateCertificate({ dir: join(dir, 'tls'), listen: [{ host: '127.0.0.1', port: 0 }] });
  tls = await serveTls(app, { listen: [{ host: '127.0.0.1', port: 0 }], material, auth });
  url = `https://${tls.addresses[0]}`;
  for (const [name, role, project] of [['adm', 'admin'], ['op', 'operator'], ['view', 'viewer'], ['teama', 'operator', 'team-a']] as const) {
    tokens[name] = (await auth.tokens.create({ name, role, ...(project && { project }) })).token;
  }
});

afterAll(async () => {
  await tls?.close();
  await app?.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const remote = (token?: string, trust = resolveTrust({ fingerprint: material.fingerprint, dataDir: dir })) =>
  new ApiClient({ url, trust, ...(token && { token }) });

describe('over the unix socket', () => {
  it('everything is allowed without a token, as admin', async () => {
    const local = new ApiClient(socket);
    expect(await local.call('POST', '/v1/vms/a1/stop')).toEqual({ ok: true });
    expect(await local.call('GET', '/v1/tokens')).toHaveLength(4);
    expect(actors.at(-1)).toBe('unix-socket');
  });
});

describe('over TLS', () => {
  it('needs a token: none or a wrong one is UNAUTHENTICATED, with WWW-Authenticate', async () => {
    await expect(remote().call('GET', '/v1/vms')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(remote(`hgr_000000000000_${'A'.repeat(43)}`).call('GET', '/v1/vms')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(remote('nonsense').call('GET', '/v1/nowhere')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(actors.at(-1)).toBe('anonymous');
    const res = await rawTls('/v1/vms');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it('gives each role what the table says, and records the actor', async () => {
    expect(await remote(tokens.view).call('GET', '/v1/vms')).toHaveLength(2);
    const id = (await auth.tokens.list()).find((t) => t.name === 'view')!.id;
    expect(actors.at(-1)).toBe(`token:${id}:view`);
    const before = stopped.length;
    await expect(remote(tokens.view).call('POST', '/v1/vms/a1/stop')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(stopped.length).toBe(before);
    expect(await remote(tokens.op).call('POST', '/v1/vms/a1/stop')).toEqual({ ok: true });
    await expect(remote(tokens.op).call('GET', '/v1/tokens')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await remote(tokens.adm).call('GET', '/v1/tokens')).toHaveLength(4);
    await expect(remote(tokens.adm).call('GET', '/v1/nowhere')).rejects.toMatchObject({ code: 'INTERNAL' }); // the app's 404 (no catalogue code here)
  });

  it('confines a project token to its project', async () => {
    expect(await remote(tokens.teama).call('GET', '/v1/vms')).toEqual([{ id: 'id-a1', name: 'a1', project: 'team-a' }]);
    expect(await remote(tokens.teama).call('GET', '/v1/vms/a1')).toMatchObject({ name: 'a1' });
    await expect(remote(tokens.teama).call('GET', '/v1/vms/b1')).rejects.toMatchObject({ code: 'VM_NOT_FOUND' });
    await expect(remote(tokens.teama).call('POST', '/v1/vms/b1/stop')).rejects.toMatchObject({ code: 'VM_NOT_FOUND' });
  });

  it('refuses plain HTTP on the TLS port', async () => {
    const [host, port] = tls.addresses[0]!.split(':') as [string, string];
    await expect(new Promise((resolve, reject) => {
      const req = httpRequest({ host, port: Number(port), path: '/v1/vms', timeout: 5000 }, (r) => resolve(r.statusCode));
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end();
    })).rejects.toThrow();
  });
});

describe('the CLI client\'s trust in the certificate', () => {
  it('accepts the pinned fingerprint, the cert as CA, --insecure, and the local daemon\'s cert by default', async () => {
    expect(await remote(tokens.view).call('GET', '/v1/vms')).toHaveLength(2);
    expect(await remote(tokens.view, resolveTrust({ caFile: material.certFile, dataDir: '/nonexistent' })).call('GET', '/v1/vms')).toHaveLength(2);
    expect(await remote(tokens.view, resolveTrust({ insecure: true, dataDir: '/nonexistent' })).call('GET', '/v1/vms')).toHaveLength(2);
    expect(await remote(tokens.view, resolveTrust({ dataDir: dir })).call('GET', '/v1/vms')).toHaveLength(2);
  });

  it('refuses a wrong pin and an unknown self-signed cert before sending anything, and says which fingerprint it saw', async () => {
    const wrong = resolveTrust({ fingerprint: 'AB'.repeat(32), dataDir: dir });
    await expect(remote(tokens.view, wrong).call('GET', '/v1/vms')).rejects.toThrow(/not the pinned/);
    const unknown = resolveTrust({ dataDir: '/nonexistent' });
    const err = await remote(tokens.view, unknown).call('GET', '/v1/vms').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DAEMON_UNREACHABLE' });
    expect(String((err as Error).message)).toContain(material.fingerprint);
    expect(() => resolveTrust({ fingerprint: 'AB'.repeat(32), insecure: true, dataDir: dir })).toThrow(/one of/);
  });
});

describe('console WebSockets over TLS', () => {
  it('open with a fresh console token, once', async () => {
    const ws = await remote(tokens.op).consoleWebSocket('a1');
    expect(await firstMessage(ws)).toBe('hello /v1/vms/a1/console');
    ws.close();
  });

  it('are refused without a token, with a used one, one for another VM or type, a viewer asking, or a foreign Origin', async () => {
    expect(await upgradeStatus('/v1/vms/a1/console')).toBe(401);
    const grant = await remote(tokens.op).call<{ token: string; path: string }>('POST', '/v1/vms/a1/console-tokens', { type: 'serial' });
    expect(await upgradeStatus(grant.path)).toBe(101);
    expect(await upgradeStatus(grant.path)).toBe(401);
    const other = await remote(tokens.op).call<{ token: string }>('POST', '/v1/vms/a1/console-tokens', { type: 'serial' });
    expect(await upgradeStatus(`/v1/vms/b1/console?token=${encodeURIComponent(other.token)}`)).toBe(403);
    const vnc = await remote(tokens.op).call<{ token: string }>('POST', '/v1/vms/a1/console-tokens', { type: 'vnc' });
    expect(await upgradeStatus(`/v1/vms/a1/console?token=${encodeURIComponent(vnc.token)}`)).toBe(403);
    await expect(remote(tokens.view).call('POST', '/v1/vms/a1/console-tokens', { type: 'serial' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(remote(tokens.teama).call('POST', '/v1/vms/b1/console-tokens', { type: 'serial' })).rejects.toMatchObject({ code: 'VM_NOT_FOUND' });
    const g = await remote(tokens.op).call<{ path: string }>('POST', '/v1/vms/a1/console-tokens', { type: 'serial' });
    expect(await upgradeStatus(g.path, { origin: 'https://evil.example' })).toBe(403);
    const ok = await remote(tokens.op).call<{ path: string }>('POST', '/v1/vms/a1/console-tokens', { type: 'serial' });
    expect(await upgradeStatus(ok.path, { origin: url })).toBe(101);
    expect(await upgradeStatus('/v1/events')).toBe(404);
  });
});

function rawTls(path: string): Promise<{ status: number; headers: Record<string, unknown> }> {
  return import('node:https').then(({ request }) => new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { rejectUnauthorized: false }, (r) => {
      r.resume();
      resolve({ status: r.statusCode ?? 0, headers: r.headers });
    });
    req.on('error', reject);
    req.end();
  }));
}

function upgradeStatus(path: string, headers: Record<string, string> = {}): Promise<number> {
  return wsUpgradeStatus(`wss://${tls.addresses[0]}${path}`, headers);
}

function firstMessage(ws: WebSocket): Promise<string> {
  return new Promise((resolve, reject) => {
    ws.once('message', (d: Buffer) => resolve(d.toString()));
    ws.once('error', reject);
  });
}
