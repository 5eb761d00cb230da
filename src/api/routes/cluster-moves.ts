/**
 * Routes of VM moves between the nodes of a cluster: `node evacuate` / `node restore` (long
 * work: 202 with an operation) and the node-to-node calls of a move (src/migration/cluster-move.ts).
 * `vm migrate --node` itself is `POST /v1/vms/{name}/migrate` with `node` (routes/migration.ts).
 */
import type { FastifyInstance } from 'fastify';
import { HangarError } from '../../errors/errors.js';
import type { NodeIncomingRequest } from '../../migration/cluster-move.js';
import type { ApiDeps } from '../server.js';
import { MigrationIdParam, NodeMoveCheckBody, NodeMoveFinishedReply, NodeMoveIncomingBody, NodeMoveIncomingReply, NodeParam, NodeRestoreBody } from '../../contract/index.js';

const errors = { 400: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' }, 500: { $ref: 'Error#' }, 502: { $ref: 'Error#' }, 503: { $ref: 'Error#' } } as const;

export function registerClusterMoveRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const moves = () => {
    if (!deps.moves) throw new HangarError('NOT_IN_CLUSTER', 'This daemon has no cluster support set up.');
    return deps.moves;
  };
  const evacuations = () => {
    if (!deps.evacuations || !deps.cluster?.nodeName) throw new HangarError('NOT_IN_CLUSTER', 'This node is not in a cluster: `hangar cluster init --etcd URL` makes one.');
    return deps.evacuations;
  };
  app.post<{ Params: { node: string } }>(
    '/v1/nodes/:node/evacuate',
    {
      schema: {
        tags: ['cluster'], params: NodeParam, response: { 202: { $ref: 'Operation#' }, ...errors },
        summary: "Move every VM away from a node, each as its `evacuate` setting says (live, cold or stop), to where placement puts it; the node takes no new VMs until `restore`. 202 with an operation whose result has one line per VM; one VM's failure never stops the others. An offline node's VMs are listed as stranded",
      },
    },
    async (req, reply) => {
      const e = evacuations();
      const node = req.params.node;
      await e.precheck(node);
      const op = await deps.operations.start('node.evacuate', `node/${node}`, (ctx) => e.evacuate(node, ctx));
      return reply.status(202).send(op);
    },
  );
  app.post<{ Params: { node: string }; Body: NodeRestoreBody | undefined }>(
    '/v1/nodes/:node/restore',
    {
      schema: {
        tags: ['cluster'], params: NodeParam, body: NodeRestoreBody, response: { 202: { $ref: 'Operation#' }, ...errors },
        summary: 'Re-enable an evacuated node and bring back the VMs its evacuation moved away that nobody moved since (`skip`: only re-enable it); 202 with an operation',
      },
    },
    async (req, reply) => {
      const e = evacuations();
      const node = req.params.node;
      await e.precheck(node);
      const skip = req.body?.skip === true;
      const op = await deps.operations.start('node.restore', `node/${node}`, (ctx) => e.restore(node, { skip }, ctx));
      return reply.status(202).send(op);
    },
  );
  app.post<{ Body: NodeMoveCheckBody }>(
    '/v1/cluster/moves/check',
    { schema: { tags: ['cluster'], summary: 'Node to node: the files a VM opens exist on this node (before a cold move)', body: NodeMoveCheckBody, response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } }, ...errors } } },
    async (req) => moves().checkPaths(req.body.paths),
  );
  app.post<{ Body: NodeIncomingRequest }>(
    '/v1/cluster/moves/incoming',
    { schema: { tags: ['cluster'], summary: "Node to node: prepare a QEMU with -incoming for a VM the calling node moves here (its existing record; nothing is written until the hand-over). Answers where QEMU listens", body: NodeMoveIncomingBody, response: { 200: NodeMoveIncomingReply, ...errors } } },
    async (req) => moves().prepareIncoming(req.body, req.socket.localAddress?.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1') ?? '0.0.0.0'),
  );
  app.post<{ Params: { id: string } }>(
    '/v1/cluster/moves/incoming/:id/finish',
    { schema: { tags: ['cluster'], summary: "Node to node: the stream completed; take the VM over (one write of its record's node) and run it here", params: MigrationIdParam, response: { 200: NodeMoveFinishedReply, ...errors } } },
    async (req) => moves().finishIncoming(req.params.id),
  );
  app.delete<{ Params: { id: string } }>(
    '/v1/cluster/moves/incoming/:id',
    { schema: { tags: ['cluster'], summary: 'Node to node: the source gave up; end the arriving QEMU (refused once the VM was taken over here)', params: MigrationIdParam, response: { 204: { type: 'null' }, ...errors } } },
    async (req, reply) => {
      await moves().abortIncoming(req.params.id);
      return reply.status(204).send();
    },
  );
}
