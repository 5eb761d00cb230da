import { describe, expect, it } from 'vitest';
import { buildApi, type ApiDeps } from './server.js';
import { registeredRoutes } from '../auth/hooks.js';
import { PUBLIC_ROUTES, ROUTE_POLICY, isPublicRoute, policyKey, routePolicy } from '../auth/policy.js';
import { roleAllows } from '../auth/roles.js';

async function routes(): Promise<string[]> {
  // As in openapi.test.ts: only the route table is looked at, no handler runs.
  const app = await buildApi({ version: '0.1.0', caps: { kvmUsable: false, defaultAccel: 'tcg' }, host: { cpus: 1, memoryMiB: 1 } } as unknown as ApiDeps);
  await app.ready();
  const r = [...registeredRoutes(app)];
  await app.close();
  return r;
}

describe('the route policy table', () => {
  it('has an explicit entry for every registered route (new routes must be added to src/auth/policy.ts)', async () => {
    const registered = await routes();
    expect(registered.length).toBeGreaterThan(40);
    const missing = registered.filter((r) => {
      const [method, url] = r.split(' ') as [string, string];
      return !routePolicy(method, url).listed && !isPublicRoute(method, url);
    });
    expect(missing).toEqual([]);
  });

  it('lists no route that does not exist (typos)', async () => {
    const registered = new Set((await routes()).map((r) => {
      const [method, url] = r.split(' ') as [string, string];
      return policyKey(method, url);
    }));
    const stale = [...Object.keys(ROUTE_POLICY), ...PUBLIC_ROUTES].filter((k) => !registered.has(k));
    expect(stale).toEqual([]);
  });

  it('opens only the web UI\'s static files without a token: GETs outside /v1 and /metrics', () => {
    expect([...PUBLIC_ROUTES].sort()).toEqual(['GET /', 'GET /ui/*']);
    for (const key of PUBLIC_ROUTES) {
      expect(ROUTE_POLICY[key], key).toBeUndefined();
      expect(key).not.toMatch(/^GET \/(v1|metrics)/);
    }
    expect(isPublicRoute('HEAD', '/ui/*')).toBe(true);
    expect(isPublicRoute('POST', '/')).toBe(false);
    expect(isPublicRoute('GET', '/v1/host')).toBe(false);
  });

  it('gives viewers reads only, and keeps tokens, networks, projects, pools and images changes for admins', () => {
    for (const [key, p] of Object.entries(ROUTE_POLICY)) {
      if (p.role === 'viewer') expect(key.startsWith('GET '), key).toBe(true);
    }
    for (const key of ['GET /v1/tokens', 'POST /v1/tokens', 'DELETE /v1/tokens/:token', 'POST /v1/networks', 'DELETE /v1/networks/:name', 'POST /v1/projects', 'PATCH /v1/projects/:name', 'POST /v1/pools', 'POST /v1/images', 'DELETE /v1/images/:name']) {
      expect(ROUTE_POLICY[key], key).toEqual({ role: 'admin', scope: 'host' });
    }
    expect(ROUTE_POLICY['POST /v1/vms/:name/stop']).toEqual({ role: 'operator', scope: 'vm' });
    expect(ROUTE_POLICY['GET /v1/events']?.role).toBe('viewer');
  });

  it('defaults an unknown route to admin, host-wide; HEAD is GET', () => {
    expect(routePolicy('POST', '/v1/brand-new')).toEqual({ role: 'admin', scope: 'host', listed: false });
    expect(routePolicy('HEAD', '/v1/vms')).toMatchObject({ role: 'viewer', listed: true });
  });

  it('orders roles viewer < operator < admin', () => {
    expect(roleAllows('admin', 'operator')).toBe(true);
    expect(roleAllows('operator', 'operator')).toBe(true);
    expect(roleAllows('viewer', 'operator')).toBe(false);
    expect(roleAllows('operator', 'admin')).toBe(false);
  });
});
