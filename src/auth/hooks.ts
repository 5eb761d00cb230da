/**
 * Access control in the API: who is calling (the unix socket is trusted as admin; anything
 * else needs `Authorization: Bearer hgr_…`), whether their role may use the route
 * (policy.ts), and, for project tokens, confinement to their project (scope.ts).
 * Sets `request.principal` and `request.auditActor` (read by the audit log).
 */
import type { FastifyInstance } from 'fastify';
import { HangarError } from '../errors/errors.js';
import type { ConsoleTokens } from './console-tokens.js';
import { isPublicRoute, routePolicy, type Scope } from './policy.js';
import { LOCAL_PRINCIPAL, auditActorOf, roleAllows, type Principal } from './roles.js';
import { checkScope, filterReply, type ScopeLookups } from './scope.js';
import type { TokenService } from './tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who made the request, for the audit log: `unix-socket`, `token:<id>:<name>` or `anonymous`. */
    auditActor: string;
    /** Set by the auth hook before any handler runs; null only when auth is off (tests). */
    principal: Principal | null;
  }
}

export interface AuthContext {
  tokens: TokenService;
  consoleTokens: ConsoleTokens;
  lookups: ScopeLookups;
  /**
   * What `GET /v1/host` reports once the TLS listeners are up; the certificate and key (PEM)
   * also serve the SPICE ports opened for connection files requested over TLS.
   */
  tls?: { fingerprint: string; listen: string[]; certFile: string; cert?: string; key?: string };
}

const LIST_SCOPES: ReadonlySet<Scope> = new Set(['vm-list', 'volume-list', 'operation-list', 'event-list', 'project-list', 'network-list', 'network']);

const routesOf = new WeakMap<FastifyInstance, string[]>();

/** `METHOD /url` of every route registered after registerAuth (for the policy table's test). */
export function registeredRoutes(app: FastifyInstance): readonly string[] {
  return routesOf.get(app) ?? [];
}

/**
 * Adds the decorations and the route recorder always; the checks only with `auth` (the
 * daemon always passes it; the OpenAPI renderer does not).
 */
export function registerAuth(app: FastifyInstance, auth: AuthContext | undefined): void {
  if (!app.hasRequestDecorator('auditActor')) app.decorateRequest('auditActor', '');
  if (!app.hasRequestDecorator('principal')) app.decorateRequest('principal', null);
  const routes: string[] = [];
  routesOf.set(app, routes);
  app.addHook('onRoute', (r) => {
    for (const m of [r.method].flat()) routes.push(`${m} ${r.url}`);
  });
  if (!auth) return;

  // Trust is by connection: only sockets accepted by this app's own server (the unix
  // socket) are local. The TLS listener, inject() and anything else must authenticate.
  const local = new WeakSet<object>();
  app.server.on('connection', (socket: object) => local.add(socket));

  app.addHook('onRequest', async (req, reply) => {
    if (local.has(req.raw.socket)) {
      req.principal = LOCAL_PRINCIPAL;
      req.auditActor = auditActorOf(LOCAL_PRINCIPAL);
      return;
    }
    req.auditActor = auditActorOf(null);
    const url = req.routeOptions.url;
    // The web UI's static files: no token, no principal (they carry no data).
    if (url !== undefined && isPublicRoute(req.method, url)) return;
    const m = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '');
    if (!m) {
      void reply.header('www-authenticate', 'Bearer realm="hangar"');
      throw new HangarError('UNAUTHENTICATED', 'This API needs a bearer token over TCP (`Authorization: Bearer hgr_…`): pass --token or HANGAR_TOKEN; an admin makes one with `hangar token create`.');
    }
    let p: Principal;
    try {
      p = await auth.tokens.authenticate(m[1]!);
    } catch (e) {
      void reply.header('www-authenticate', 'Bearer realm="hangar", error="invalid_token"');
      throw e;
    }
    req.principal = p;
    req.auditActor = auditActorOf(p);
    if (url === undefined) return; // no such route: the 404 handler answers
    const need = routePolicy(req.method, url).role;
    if (!roleAllows(p.role, need)) {
      throw new HangarError('FORBIDDEN', `Token "${p.tokenName}" is a ${p.role}; ${req.method} ${url} needs ${need === 'admin' ? 'an' : 'a'} ${need}.`);
    }
  });

  app.addHook('preHandler', async (req) => {
    const p = req.principal;
    const url = req.routeOptions.url;
    if (!p || p.kind === 'local' || url === undefined) return;
    await checkScope(routePolicy(req.method, url).scope, p, { method: req.method, params: (req.params ?? {}) as Record<string, string>, body: req.body }, auth.lookups);
  });

  app.addHook('onSend', async (req, reply, payload) => {
    const p = req.principal;
    const url = req.routeOptions.url;
    if (p?.project === undefined || url === undefined || req.method !== 'GET' || reply.statusCode !== 200) return payload;
    const scope = routePolicy(req.method, url).scope;
    if (!LIST_SCOPES.has(scope) || (typeof payload !== 'string' && !Buffer.isBuffer(payload))) return payload;
    const filtered = await filterReply(scope, p, JSON.parse(payload.toString()), auth.lookups);
    return JSON.stringify(filtered);
  });
}
