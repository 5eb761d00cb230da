/**
 * The web UI's static files: served without a token (everything else still needs one), with
 * the right types and caching, nothing outside ui/dist, and a clear note when it is not built.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAuth, type AuthContext } from '../auth/hooks.js';
import { ConsoleTokens } from '../auth/console-tokens.js';
import { TokenService } from '../auth/tokens.js';
import { ERROR_CATALOGUE, toHangarError } from '../errors/errors.js';
import { SqliteStore } from '../store/sqlite.js';
import { UI_NOT_BUILT, registerUi } from './ui.js';

const dir = mkdtempSync(join(tmpdir(), 'hangar-ui-'));
const dist = join(dir, 'dist');
const store = new SqliteStore(':memory:');
const auth: AuthContext = {
  tokens: new TokenService(store),
  consoleTokens: new ConsoleTokens(),
  lookups: { vmProject: async () => undefined, vmId: async () => undefined, vmProjects: async () => new Map(), volume: async () => undefined, operationTarget: async () => undefined },
};

async function appFor(uiDir: string): Promise<FastifyInstance> {
  const app = Fastify();
  registerAuth(app, auth);
  app.setErrorHandler((err, _req, reply) => {
    const body = toHangarError(err).toJSON();
    void reply.status(ERROR_CATALOGUE[body.code].status).send(body);
  });
  app.setNotFoundHandler((_req, reply) => void reply.status(404).send({ code: 'NOT_FOUND', message: 'no route' }));
  app.get('/v1/host', async () => ({ secret: true }));
  await registerUi(app, uiDir);
  await app.ready();
  return app;
}

let app: FastifyInstance;

beforeAll(async () => {
  mkdirSync(join(dist, 'assets'), { recursive: true });
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>Hangar</title><script type="module" src="/ui/assets/index-abc123.js"></script>');
  writeFileSync(join(dist, 'assets', 'index-abc123.js'), 'console.log(1)');
  writeFileSync(join(dist, 'assets', 'index-abc123.css'), 'body{}');
  writeFileSync(join(dist, 'favicon.svg'), '<svg/>');
  writeFileSync(join(dir, 'secret.txt'), 'outside the UI');
  app = await appFor(dist);
});

afterAll(async () => {
  await app.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the web UI routes', () => {
  it('serve index.html at / without a token, never cached, with a strict CSP', async () => {
    const r = await app.inject({ method: 'GET', url: '/' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.headers['cache-control']).toBe('no-cache');
    expect(r.headers['content-security-policy']).toContain("script-src 'self'");
    expect(r.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.body).toContain('<title>Hangar</title>');
  });

  it('serve hashed assets with their types, cached for a year; other files revalidated', async () => {
    const js = await app.inject({ method: 'GET', url: '/ui/assets/index-abc123.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toMatch(/^(text|application)\/javascript/);
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const css = await app.inject({ method: 'GET', url: '/ui/assets/index-abc123.css' });
    expect(css.headers['content-type']).toMatch(/^text\/css/);
    const svg = await app.inject({ method: 'GET', url: '/ui/favicon.svg' });
    expect(svg.headers['content-type']).toMatch(/^image\/svg\+xml/);
    expect(svg.headers['cache-control']).toBe('no-cache');
    const head = await app.inject({ method: 'HEAD', url: '/ui/assets/index-abc123.js' });
    expect(head.statusCode).toBe(200);
  });

  it('serve nothing outside ui/dist', async () => {
    for (const url of ['/ui/../secret.txt', '/ui/%2e%2e/secret.txt', '/ui/..%2fsecret.txt', '/ui/assets/../../secret.txt', '/ui/missing.js']) {
      const r = await app.inject({ method: 'GET', url });
      // Refused, or normalised to a path that is no route (and so needs a token).
      expect([400, 401, 403, 404], url).toContain(r.statusCode);
      expect(r.body, url).not.toContain('outside the UI');
    }
  });

  it('leave the API behind a token', async () => {
    const r = await app.inject({ method: 'GET', url: '/v1/host' });
    expect(r.statusCode).toBe(401);
    expect(r.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect((await app.inject({ method: 'POST', url: '/' })).statusCode).toBe(401);
  });

  it('say how to build the UI when ui/dist is missing', async () => {
    const bare = await appFor(join(dir, 'nowhere'));
    const r = await bare.inject({ method: 'GET', url: '/' });
    expect(r.statusCode).toBe(503);
    expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(r.body).toBe(UI_NOT_BUILT);
    expect(r.body).toContain('npm run build');
    await bare.close();
  });
});
