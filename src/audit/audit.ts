/**
 * The audit log: every mutating API call (POST, PUT, PATCH, DELETE), accepted or refused,
 * is recorded durably in the store before its response leaves: who, what (method, route
 * pattern, target, redacted body), when, the outcome (status, error code) and how long it took.
 *
 * Who: the auth layer sets `request.auditActor` (`token:<id>:<name>`, `unix-socket`, `anonymous`);
 * without it a request on the unix socket is `unix-socket` (Node cannot read the peer's uid: no
 * SO_PEERCRED) and one over TCP is `tcp:<address>`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AuditEntry as AuditEntrySchema, AuditListQuery as AuditQuerySchema } from '../contract/audit.js';
import type { AuditEntry, AuditQuery, Store } from '../store/store.js';
import { redact } from './redact.js';

export const AUDITED_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** GETs that hand out access (a SPICE port and its password) and are audited like changes. */
export const AUDITED_GET_ROUTES: ReadonlySet<string> = new Set(['/v1/vms/:name/spice.vv']);

function isAudited(req: FastifyRequest): boolean {
  return AUDITED_METHODS.has(req.method) || (req.method === 'GET' && AUDITED_GET_ROUTES.has(req.routeOptions.url ?? ''));
}

/** Collections whose create (POST) names the new object in the body's `name`. */
const COLLECTIONS = new Set(['vms', 'images', 'pools', 'volumes', 'networks', 'projects', 'snapshots', 'nics', 'disks', 'operations']);

export type AuditLogger = (fields: Record<string, unknown>, msg: string) => void;

export class AuditLog {
  constructor(private readonly store: Pick<Store, 'appendAudit' | 'listAudit'>, private readonly log?: { info: AuditLogger; error: AuditLogger }) {}

  /** Stores an entry; a failure is logged, never thrown (the call itself already happened). */
  async record(entry: Omit<AuditEntry, 'seq'>): Promise<AuditEntry | undefined> {
    try {
      const stored = await this.store.appendAudit(entry);
      this.log?.info({
        audit: stored.seq, actor: entry.actor, method: entry.method, route: entry.route, ...(entry.target && { target: entry.target }), ...(entry.vm && { vm: entry.vm }),
        status: entry.status, ...(entry.errorCode && { errorCode: entry.errorCode }), durationMs: entry.durationMs,
      }, 'api call');
      return stored;
    } catch (e) {
      this.log?.error({ err: e, method: entry.method, route: entry.route, ...(entry.vm && { vm: entry.vm }) }, 'writing the audit log failed');
      return undefined;
    }
  }

  list(query: AuditQuery): Promise<AuditEntry[]> {
    return this.store.listAudit(query);
  }
}

/**
 * `/v1/vms/:name/stop` with {name: web1} → `vms/web1/stop`; a POST to a collection with a
 * body name appends it (`POST /v1/vms {name: web2}` → `vms/web2`).
 */
export function auditTarget(route: string, params: Record<string, unknown>, body: unknown): string | undefined {
  if (!route.startsWith('/v1/')) return undefined;
  const parts = route.slice(4).split('/').filter(Boolean).map((p) => (p.startsWith(':') ? String(params[p.slice(1)] ?? p) : p));
  const last = route.split('/').at(-1) ?? '';
  const name = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).name : undefined;
  if (COLLECTIONS.has(last) && typeof name === 'string') parts.push(name);
  return parts.join('/') || undefined;
}

/** The VM a request concerns, if any. */
export function auditVm(route: string, params: Record<string, unknown>, body: unknown): string | undefined {
  if (route.startsWith('/v1/vms/:name') && typeof params.name === 'string') return params.name;
  if (route === '/v1/vms' && typeof body === 'object' && body !== null && typeof (body as Record<string, unknown>).name === 'string') return (body as { name: string }).name;
  return undefined;
}

/** The audit entry of a request that is being answered. */
export function auditEntry(req: FastifyRequest, status: number, errorCode: string | undefined, durationMs: number): Omit<AuditEntry, 'seq'> {
  const remote = req.raw.socket?.remoteAddress;
  const transport = remote === undefined ? 'unix' : 'tcp';
  const route = req.routeOptions.url ?? req.url.split('?')[0] ?? req.url;
  const params = (req.params ?? {}) as Record<string, unknown>;
  const body = req.body;
  const entry: Omit<AuditEntry, 'seq'> = {
    time: new Date(Date.now() - durationMs).toISOString(),
    // The auth layer (src/auth/hooks.ts) decorates the request with auditActor ('' until it knows).
    actor: (req as unknown as { auditActor?: string }).auditActor || (transport === 'unix' ? 'unix-socket' : `tcp:${remote}`),
    transport, method: req.method, route, status, durationMs: Math.round(durationMs * 1000) / 1000, requestId: req.id,
  };
  const target = req.routeOptions.url ? auditTarget(route, params, body) : undefined;
  const vm = req.routeOptions.url ? auditVm(route, params, body) : undefined;
  if (target) entry.target = target;
  if (vm) entry.vm = vm;
  if (Object.keys(params).length) entry.params = redact(params) as Record<string, unknown>;
  const query = req.query as Record<string, unknown> | undefined;
  if (query && typeof query === 'object' && Object.keys(query).length) entry.query = redact(query) as Record<string, unknown>;
  if (body !== undefined && body !== null) entry.body = redact(body);
  if (errorCode) entry.errorCode = errorCode;
  return entry;
}

const kAudited = Symbol('hangar.audited');

function errorCodeOf(reply: FastifyReply, payload: unknown): string | undefined {
  if (reply.statusCode < 400) return undefined;
  const text = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : undefined;
  if (text === undefined) return undefined;
  try {
    const code = (JSON.parse(text) as { code?: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Records mutating requests: in onSend (so the entry is stored before the client has its
 * answer), with onResponse as the fallback for a reply that skipped onSend.
 */
export function registerAuditHooks(app: FastifyInstance, audit: AuditLog | undefined): void {
  if (!audit) return;
  app.addHook('onSend', async (req, reply, payload) => {
    if (!isAudited(req)) return payload;
    (req as unknown as Record<symbol, boolean>)[kAudited] = true;
    const recorded = audit.record(auditEntry(req, reply.statusCode, errorCodeOf(reply, payload), reply.elapsedTime));
    // A request this node carried to the VM's node (src/api/routes/cluster.ts) was recorded
    // there before this answer came back: this node's entry (the caller as it came here)
    // follows without holding the answer, which would wait on a second etcd write.
    if (!reply.hasHeader('x-hangar-node')) await recorded;
    return payload;
  });
  app.addHook('onResponse', async (req, reply) => {
    if (!isAudited(req) || (req as unknown as Record<symbol, boolean>)[kAudited]) return;
    await audit.record(auditEntry(req, reply.statusCode, undefined, reply.elapsedTime));
  });
}

export function registerAuditRoutes(app: FastifyInstance, deps: { audit?: AuditLog }): void {
  app.addSchema(AuditEntrySchema);
  app.get<{ Querystring: { after?: string; limit?: string; vm?: string } }>(
    '/v1/audit',
    {
      schema: {
        tags: ['audit'], summary: 'The audit log: every mutating API call with who, what, when and the outcome (secrets redacted)',
        querystring: AuditQuerySchema, response: { 200: { type: 'array', items: { $ref: 'AuditEntry#' } }, 400: { $ref: 'Error#' } },
      },
    },
    async (req) => {
      if (!deps.audit) return [];
      const q = req.query;
      return deps.audit.list({
        ...(q.after !== undefined && { afterSeq: Number(q.after) }), ...(q.limit !== undefined && { limit: Number(q.limit) }), ...(q.vm !== undefined && { vm: q.vm }),
      });
    },
  );
}
