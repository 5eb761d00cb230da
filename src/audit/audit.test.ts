import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import type { AuditEntry, AuditQuery } from '../store/store.js';
import { AuditLog, auditTarget, auditVm, registerAuditHooks, registerAuditRoutes } from './audit.js';

class MemoryAudit {
  entries: AuditEntry[] = [];
  fail = false;
  /** When set, appends wait for it (a slow etcd write). */
  gate?: Promise<void>;
  async appendAudit(e: Omit<AuditEntry, 'seq'>): Promise<AuditEntry> {
    if (this.fail) throw new Error('disk full');
    await this.gate;
    const stored = { seq: this.entries.length + 1, ...e };
    this.entries.push(stored);
    return stored;
  }
  async listAudit(q: AuditQuery = {}): Promise<AuditEntry[]> {
    return this.entries.filter((e) => e.seq > (q.afterSeq ?? 0) && (q.vm === undefined || e.vm === q.vm)).slice(-(q.limit ?? 100));
  }
}

async function app(store: MemoryAudit, actor?: string) {
  const a = Fastify();
  a.addSchema({ $id: 'Error', type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } });
  const logged: Record<string, unknown>[] = [];
  const audit = new AuditLog(store, { info: (f) => void logged.push(f), error: (f) => void logged.push({ error: true, ...f }) });
  if (actor) {
    a.decorateRequest('auditActor', '');
    a.addHook('onRequest', async (req) => {
      (req as unknown as { auditActor: string }).auditActor = actor;
    });
  }
  a.setErrorHandler((err: Error & { validation?: unknown }, _req, reply) => {
    void reply.status(err.validation ? 400 : 409).send({ code: err.validation ? 'INVALID_SPEC' : 'VM_STATE', message: err.message });
  });
  registerAuditHooks(a, audit);
  registerAuditRoutes(a, { audit });
  a.post('/v1/vms', { schema: { body: { type: 'object', properties: { name: { type: 'string' }, cpus: { type: 'integer' } }, additionalProperties: true } } }, async (_req, reply) => reply.status(201).send({ ok: true }));
  a.post('/v1/vms/:name/stop', async () => {
    throw new Error('it is stopped');
  });
  // A request this node carried to the VM's node (src/api/routes/cluster.ts) answers with the node's name.
  a.post('/v1/vms/:name/start', async (_req, reply) => reply.header('x-hangar-node', 'n2').send({ ok: true }));
  a.delete('/v1/volumes/:pool/:name', async (_req, reply) => reply.status(204).send());
  a.get('/v1/vms', async () => []);
  await a.ready();
  return { a, logged };
}

describe('audit hooks', () => {
  it('record mutating calls, accepted and refused, with target, VM, redacted body and outcome; not reads', async () => {
    const store = new MemoryAudit();
    const { a, logged } = await app(store);
    await a.inject({ method: 'POST', url: '/v1/vms', payload: { name: 'web1', cpus: 2, cloudInit: { passwordHash: '$6$a$b' } } });
    await a.inject({ method: 'POST', url: '/v1/vms', payload: { name: 'web2', cpus: 'many' } });
    await a.inject({ method: 'POST', url: '/v1/vms/web1/stop', payload: { force: true } });
    await a.inject({ method: 'DELETE', url: '/v1/volumes/default/data1?token=abc' });
    await a.inject({ method: 'POST', url: '/v1/nowhere', payload: { x: 1 } });
    await a.inject({ method: 'GET', url: '/v1/vms' });
    const [create, invalid, stop, del, unmatched, ...rest] = store.entries;
    expect(rest).toEqual([]);
    expect(create).toMatchObject({
      seq: 1, method: 'POST', route: '/v1/vms', target: 'vms/web1', vm: 'web1', status: 201, actor: 'tcp:127.0.0.1', transport: 'tcp',
      body: { name: 'web1', cpus: 2, cloudInit: { passwordHash: '[REDACTED]' } },
    });
    expect(create!.errorCode).toBeUndefined();
    expect(create!.durationMs).toBeGreaterThanOrEqual(0);
    expect(invalid).toMatchObject({ status: 400, errorCode: 'INVALID_SPEC', vm: 'web2', body: { name: 'web2', cpus: 'many' } });
    expect(stop).toMatchObject({ route: '/v1/vms/:name/stop', target: 'vms/web1/stop', vm: 'web1', params: { name: 'web1' }, status: 409, errorCode: 'VM_STATE', body: { force: true } });
    expect(del).toMatchObject({ route: '/v1/volumes/:pool/:name', target: 'volumes/default/data1', status: 204, query: { token: '[REDACTED]' } });
    expect(del!.vm).toBeUndefined();
    expect(unmatched).toMatchObject({ route: '/v1/nowhere', status: 404 });
    expect(unmatched!.target).toBeUndefined();
    expect(logged[0]).toMatchObject({ audit: 1, vm: 'web1', method: 'POST', status: 201 });
    const listed = await a.inject({ method: 'GET', url: '/v1/audit?vm=web1' });
    expect((listed.json() as AuditEntry[]).map((e) => e.seq)).toEqual([1, 3]);
  });

  it('take the actor from the auth layer when it sets one', async () => {
    const store = new MemoryAudit();
    const { a } = await app(store, 'token:t1:ci-bot');
    await a.inject({ method: 'POST', url: '/v1/vms', payload: { name: 'x' } });
    expect(store.entries[0]!.actor).toBe('token:t1:ci-bot');
  });

  it('an answer waits for its entry, except one carried to another node (recorded there first): its entry follows', async () => {
    const store = new MemoryAudit();
    let open!: () => void;
    store.gate = new Promise((r) => (open = r));
    const { a } = await app(store);
    let direct = false;
    const pending = a.inject({ method: 'POST', url: '/v1/vms', payload: { name: 'x' } }).then(() => (direct = true));
    const carried = await a.inject({ method: 'POST', url: '/v1/vms/x/start', payload: {} });
    expect(carried.statusCode).toBe(200);
    expect(direct).toBe(false);
    expect(store.entries).toEqual([]);
    open();
    await pending;
    await new Promise((r) => setImmediate(r));
    expect(store.entries.map((e) => e.route).sort()).toEqual(['/v1/vms', '/v1/vms/:name/start']);
  });

  it('a store failure is logged and the call still answers', async () => {
    const store = new MemoryAudit();
    store.fail = true;
    const { a, logged } = await app(store);
    const r = await a.inject({ method: 'POST', url: '/v1/vms', payload: { name: 'x' } });
    expect(r.statusCode).toBe(201);
    expect(logged[0]).toMatchObject({ error: true, method: 'POST', vm: 'x' });
  });
});

describe('audit targets', () => {
  it('name the object acted on', () => {
    expect(auditTarget('/v1/vms', {}, { name: 'web2' })).toBe('vms/web2');
    expect(auditTarget('/v1/vms/:name/snapshots', { name: 'web1' }, { name: 's1' })).toBe('vms/web1/snapshots/s1');
    expect(auditTarget('/v1/volumes/:pool/:name/resize', { pool: 'default', name: 'd1' }, { size: '2G' })).toBe('volumes/default/d1/resize');
    expect(auditTarget('/v1/volumes/:pool/:name/clone', { pool: 'default', name: 'd1' }, { name: 'd2' })).toBe('volumes/default/d1/clone');
    expect(auditTarget('/metrics', {}, undefined)).toBeUndefined();
    expect(auditVm('/v1/vms/:name/disks/:volume', { name: 'web1', volume: 'd' }, undefined)).toBe('web1');
    expect(auditVm('/v1/vms', {}, { name: 'web2' })).toBe('web2');
    expect(auditVm('/v1/projects/:name', { name: 'p' }, undefined)).toBeUndefined();
  });
});
