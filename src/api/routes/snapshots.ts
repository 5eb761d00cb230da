/** Routes for VM snapshots. */
import type { FastifyInstance } from 'fastify';
import { validateVolumeName } from '../../storage/pool.js';
import type { ApiDeps } from '../server.js';
import { CreateSnapshotBody, SnapshotParams, VmNameParam } from '../../contract/index.js';

const errors = { 400: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' }, 500: { $ref: 'Error#' } } as const;

export function registerSnapshotRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { snapshots, operations } = deps;
  app.get<{ Params: { name: string } }>(
    '/v1/vms/:name/snapshots',
    { schema: { tags: ['snapshots'], summary: "A VM's snapshots (a tree: each names its parent)", params: VmNameParam, response: { 200: { type: 'array', items: { $ref: 'Snapshot#' } }, ...errors } } },
    async (req) => snapshots.list(req.params.name),
  );
  app.post<{ Params: { name: string }; Body: { name: string; memory?: boolean; description?: string } }>(
    '/v1/vms/:name/snapshots',
    {
      schema: {
        tags: ['snapshots'],
        summary: 'Take a snapshot: disk-only answers 201 with the snapshot; with memory, 202 with an operation',
        params: VmNameParam, body: CreateSnapshotBody, response: { 201: { $ref: 'Snapshot#' }, 202: { $ref: 'Operation#' }, ...errors },
      },
    },
    async (req, reply) => {
      const vm = req.params.name;
      if (!req.body.memory) return reply.status(201).send(await snapshots.create(vm, req.body));
      validateVolumeName(req.body.name, 'snapshot');
      const op = await operations.start('snapshot.create', `vm/${vm}/${req.body.name}`, (ctx) => snapshots.create(vm, req.body, ctx));
      return reply.status(202).send(op);
    },
  );
  app.post<{ Params: { name: string; snapshot: string } }>(
    '/v1/vms/:name/snapshots/:snapshot/revert',
    { schema: { tags: ['snapshots'], summary: 'Revert to a snapshot (a memory snapshot resumes where it was; a disk-only one restarts a running guest)', params: SnapshotParams, response: { 200: { $ref: 'Snapshot#' }, ...errors } } },
    async (req) => snapshots.revert(req.params.name, req.params.snapshot),
  );
  app.delete<{ Params: { name: string; snapshot: string } }>(
    '/v1/vms/:name/snapshots/:snapshot',
    { schema: { tags: ['snapshots'], summary: 'Delete a snapshot (its children and the current state keep every byte)', params: SnapshotParams, response: { 204: { type: 'null' }, ...errors } } },
    async (req, reply) => {
      await snapshots.delete(req.params.name, req.params.snapshot);
      return reply.status(204).send();
    },
  );
}
