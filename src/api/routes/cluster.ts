/** Routes of the cluster (src/cluster): status, init, nodes. */
import type { FastifyInstance } from 'fastify';
import { HangarError } from '../../errors/errors.js';
import type { ApiDeps } from '../server.js';
import { ClusterInitBody, ClusterJoinBody, ClusterStatus, JoinTokenBody, JoinTokenReply, Node, NodeLabelsBody, NodeParam, PlacementBody, PlacementReply, type CreateVmBody } from '../../contract/index.js';

const errors = { 400: { $ref: 'Error#' }, 401: { $ref: 'Error#' }, 403: { $ref: 'Error#' }, 409: { $ref: 'Error#' }, 500: { $ref: 'Error#' }, 503: { $ref: 'Error#' } } as const;

export function registerClusterRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const cluster = () => {
    if (!deps.cluster) throw new HangarError('NOT_IN_CLUSTER', 'This daemon has no cluster support set up.');
    return deps.cluster;
  };
  app.addSchema(ClusterStatus);
  app.addSchema(Node);
  app.get('/v1/cluster', { schema: { tags: ['cluster'], summary: "This node's view of the cluster: single host, or node of a cluster on etcd", response: { 200: { $ref: 'ClusterStatus#' }, ...errors } } }, async () =>
    cluster().status(),
  );
  app.post<{ Body: ClusterInitBody }>(
    '/v1/cluster/init',
    {
      schema: {
        tags: ['cluster'],
        summary: "Make this host the first node of a new cluster on etcd: its VMs and records are copied there (writes wait meanwhile), then it runs on etcd. Guests keep running",
        body: ClusterInitBody, response: { 200: { $ref: 'ClusterStatus#' }, ...errors },
      },
    },
    async (req) => cluster().init(req.body),
  );
  app.post<{ Body: JoinTokenBody }>(
    '/v1/cluster/join-tokens',
    { schema: { tags: ['cluster'], summary: 'A single-use join token (valid an hour) for a new node of this name (`hangar cluster add NODE`)', body: JoinTokenBody, response: { 201: JoinTokenReply, ...errors } } },
    async (req, reply) => reply.status(201).send(await cluster().addNode(req.body.node)),
  );
  app.post<{ Body: ClusterJoinBody }>(
    '/v1/cluster/join',
    {
      schema: {
        tags: ['cluster'],
        summary: 'Join the cluster a join token names (this host must have no VMs); the token is spent',
        body: ClusterJoinBody, response: { 200: { $ref: 'ClusterStatus#' }, ...errors },
      },
    },
    async (req) => cluster().join(req.body),
  );
  app.post<{ Body: PlacementBody }>(
    '/v1/cluster/placement',
    { schema: { tags: ['cluster'], summary: 'Where a VM of this size would be placed, and why each node was chosen or ruled out (nothing is reserved): `vm create --dry-run --explain`', body: PlacementBody, response: { 200: PlacementReply, ...errors } } },
    async (req) => cluster().place(req.body, { dryRun: true }),
  );
  app.patch<{ Params: { node: string }; Body: NodeLabelsBody }>(
    '/v1/nodes/:node',
    { schema: { tags: ['cluster'], summary: "Set or remove a node's labels (null removes one)", params: NodeParam, body: NodeLabelsBody, response: { 200: { $ref: 'Node#' }, ...errors } } },
    async (req) => cluster().setLabels(req.params.node, req.body.labels),
  );
  app.delete<{ Params: { node: string }; Querystring: { force?: string } }>(
    '/v1/nodes/:node',
    { schema: { tags: ['cluster'], summary: 'Remove an offline node (?force=true even when it holds VMs: they stay listed, stranded)', params: NodeParam, response: { 204: { type: 'null' }, ...errors } } },
    async (req, reply) => {
      await cluster().removeNode(req.params.node, req.query.force === 'true');
      return reply.status(204).send();
    },
  );
  app.get('/v1/nodes', { schema: { tags: ['cluster'], summary: 'The nodes of the cluster, with state, capacity, allocation, labels and lease age', response: { 200: { type: 'array', items: { $ref: 'Node#' } }, ...errors } } }, async () =>
    cluster().nodes(),
  );
}

/**
 * Routes about one VM that stay on the node asked (their answer is a stream of this host's, or
 * a token for it: a console opened with it is carried to the VM's node, console-forward.ts).
 */
const NOT_FORWARDED = new Set(['/v1/vms/:name/console-tokens']);

/**
 * One API: a request about a VM another node holds is carried to that node, and its answer
 * passed back as it came. Runs after authentication and validation here (the caller's
 * role and project are checked where it called); a request already carried is never carried again.
 */
/** How long `vm show` waits for the VM's node before answering from the last state. */
const SHOW_TIMEOUT_MS = 3000;

export function registerForwarding(app: FastifyInstance, deps: ApiDeps): void {
  app.addHook('preHandler', async (req, reply) => {
    const cluster = deps.cluster;
    const self = cluster?.nodeName;
    const url = req.routeOptions.url;
    if (!cluster || !self || req.headers['x-hangar-forwarded-by']) return;
    if (url === '/v1/vms' && req.method === 'POST') {
      // A new VM goes where placement says, its capacity reserved there until it exists.
      const body = req.body as CreateVmBody;
      const placed = await cluster.place(body, { vm: body.name });
      if (placed.chosen === self) {
        reply.raw.once('finish', () => void cluster.release(body.name));
        return;
      }
      try {
        const out = await cluster.forward(placed.chosen!, req.method, req.url, body, req.auditActor);
        return await reply.code(out.status).header('x-hangar-node', placed.chosen!).send(out.body);
      } finally {
        await cluster.release(body.name);
      }
    }
    if (!url?.startsWith('/v1/vms/:name') || NOT_FORWARDED.has(url)) return;
    const name = (req.params as { name?: unknown }).name;
    if (typeof name !== 'string') return;
    const rec = await deps.store.getVm(name);
    if (!rec?.node || rec.node === self) return;
    // A read about a VM whose node is offline or gone answers here, from the last state.
    if (req.method === 'GET' && !(await cluster.reachable(rec.node))) return;
    // `vm show` through a node that does not answer (frozen, cut off, before its lease
    // expires) answers from the last state too, after a short wait.
    if (req.method === 'GET' && url === '/v1/vms/:name') {
      const out = await cluster.forward(rec.node, req.method, req.url, req.body, req.auditActor, { timeoutMs: SHOW_TIMEOUT_MS }).catch(() => undefined);
      if (!out) return;
      return reply.code(out.status).header('x-hangar-node', rec.node).send(out.body);
    }
    const out = await cluster.forward(rec.node, req.method, req.url, req.body, req.auditActor);
    // A text answer (a SPICE connection file) keeps its type and the headers that go with it.
    if (out.headers) void reply.headers(out.headers);
    return reply.code(out.status).header('x-hangar-node', rec.node).send(out.body);
  });
}
