/** Routes for pools, volumes, VM disks and operations. */
import type { FastifyInstance } from 'fastify';
import { validateVolumeName } from '../../storage/pool.js';
import { DEFAULT_POOL } from '../../storage/service.js';
import type { ApiDeps } from '../server.js';
import {
  AttachBody, CloneBody, CreatePoolBody, CreateVolumeBody, DetachParams, DetachQuery, OperationParam, OperationQuery, PoolParam, ResizeBody,
  VmNameParam, VolumeParams, VolumesQuery,
} from '../../contract/index.js';

const errors = { 400: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' }, 500: { $ref: 'Error#' } } as const;

export function registerStorageRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { storage, vms, operations } = deps;

  app.get('/v1/pools', { schema: { tags: ['storage'], summary: 'List storage pools with capacity and use', response: { 200: { type: 'array', items: { $ref: 'Pool#' } } } } }, async () => storage.listPools());
  app.post<{ Body: { name: string; path: string; shared?: boolean; export?: string; nodes?: string[] } }>(
    '/v1/pools',
    { schema: { tags: ['storage'], summary: 'Create a directory pool', body: CreatePoolBody, response: { 201: { $ref: 'Pool#' }, ...errors } } },
    async (req, reply) => reply.status(201).send(await storage.createPool(req.body.name, req.body.path, {
      shared: req.body.shared === true, ...(req.body.export !== undefined && { export: req.body.export }), ...(req.body.nodes !== undefined && { nodes: req.body.nodes }),
    })),
  );
  app.get<{ Params: { pool: string } }>(
    '/v1/pools/:pool',
    { schema: { tags: ['storage'], summary: 'Show a pool', params: PoolParam, response: { 200: { $ref: 'Pool#' }, ...errors } } },
    async (req) => storage.showPool(req.params.pool),
  );

  app.get<{ Querystring: { pool?: string } }>(
    '/v1/volumes',
    { schema: { tags: ['storage'], summary: 'List volumes', querystring: VolumesQuery, response: { 200: { type: 'array', items: { $ref: 'Volume#' } } } } },
    async (req) => storage.listVolumes(req.query.pool),
  );
  app.post<{ Body: { name: string; pool?: string; size: string | number; format?: 'qcow2' | 'raw' } }>(
    '/v1/volumes',
    { schema: { tags: ['storage'], summary: 'Create a blank volume', body: CreateVolumeBody, response: { 201: { $ref: 'Volume#' }, ...errors } } },
    async (req, reply) => reply.status(201).send(await storage.createVolume(req.body)),
  );
  app.get<{ Params: { pool: string; name: string } }>(
    '/v1/volumes/:pool/:name',
    { schema: { tags: ['storage'], summary: 'Show a volume', params: VolumeParams, response: { 200: { $ref: 'Volume#' }, ...errors } } },
    async (req) => storage.getVolume(req.params.pool, req.params.name),
  );
  app.delete<{ Params: { pool: string; name: string } }>(
    '/v1/volumes/:pool/:name',
    { schema: { tags: ['storage'], summary: 'Delete a volume (refused while attached)', params: VolumeParams, response: { 204: { type: 'null' }, ...errors } } },
    async (req, reply) => {
      await storage.deleteVolume(req.params.pool, req.params.name);
      return reply.status(204).send();
    },
  );
  app.post<{ Params: { pool: string; name: string }; Body: { size: string | number } }>(
    '/v1/volumes/:pool/:name/resize',
    { schema: { tags: ['storage'], summary: 'Grow a volume (live, with block_resize, if a running guest uses it)', params: VolumeParams, body: ResizeBody, response: { 200: { $ref: 'Volume#' }, ...errors } } },
    async (req) => vms.resizeVolume(req.params.pool, req.params.name, req.body.size),
  );
  app.post<{ Params: { pool: string; name: string }; Body: { name: string } }>(
    '/v1/volumes/:pool/:name/clone',
    { schema: { tags: ['storage'], summary: 'Copy a volume (an operation with progress)', params: VolumeParams, body: CloneBody, response: { 202: { $ref: 'Operation#' }, ...errors } } },
    async (req, reply) => {
      const { pool, name } = req.params;
      await storage.getVolume(pool, name);
      validateVolumeName(req.body.name);
      const op = await operations.start('volume.clone', `volume/${pool}/${req.body.name}`, async (ctx) =>
        storage.cloneVolume(pool, name, req.body.name, { onProgress: (percent) => ctx.progress({ phase: 'copy', percent }) }),
      );
      return reply.status(202).send(op);
    },
  );

  app.post<{ Params: { name: string }; Body: { volume: string; pool?: string; readOnly?: boolean } }>(
    '/v1/vms/:name/disks',
    { schema: { tags: ['vms'], summary: 'Attach a volume (hot-plugged into a running guest)', params: VmNameParam, body: AttachBody, response: { 200: { $ref: 'Vm#' }, ...errors } } },
    async (req) => vms.attachVolume(req.params.name, req.body.pool ?? DEFAULT_POOL, req.body.volume, { ...(req.body.readOnly !== undefined && { readOnly: req.body.readOnly }) }),
  );
  app.delete<{ Params: { name: string; volume: string }; Querystring: { pool?: string } }>(
    '/v1/vms/:name/disks/:volume',
    { schema: { tags: ['vms'], summary: 'Detach a volume (from a running guest: waits until the guest lets go)', params: DetachParams, querystring: DetachQuery, response: { 200: { $ref: 'Vm#' }, ...errors } } },
    async (req) => vms.detachVolume(req.params.name, req.query.pool ?? DEFAULT_POOL, req.params.volume),
  );

  app.get('/v1/operations', { schema: { tags: ['operations'], summary: 'List operations', response: { 200: { type: 'array', items: { $ref: 'Operation#' } } } } }, async () => operations.list());
  app.get<{ Params: { id: string }; Querystring: { wait?: string } }>(
    '/v1/operations/:id',
    { schema: { tags: ['operations'], summary: 'Show an operation (with ?wait=N, wait up to N s for it to end)', params: OperationParam, querystring: OperationQuery, response: { 200: { $ref: 'Operation#' }, ...errors } } },
    async (req) => (req.query.wait ? operations.wait(req.params.id, Math.min(Number(req.query.wait), 60) * 1000) : operations.get(req.params.id)),
  );
  app.delete<{ Params: { id: string } }>(
    '/v1/operations/:id',
    { schema: { tags: ['operations'], summary: 'Cancel a running operation', params: OperationParam, response: { 200: { $ref: 'Operation#' }, ...errors } } },
    async (req) => operations.cancel(req.params.id),
  );
}
