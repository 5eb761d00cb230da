/** POST /v1/import/libvirt: a libvirt domain's XML becomes a stopped Hangar VM (src/interop/libvirt). */
import type { FastifyInstance } from 'fastify';
import { ImportLibvirtBody, ImportLibvirtReply } from '../../contract/index.js';
import { importLibvirt } from '../../interop/libvirt/import.js';
import type { ApiDeps } from '../server.js';

const errors = { 400: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' }, 422: { $ref: 'Error#' }, 500: { $ref: 'Error#' } } as const;

export function registerImportLibvirtRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.post<{ Body: ImportLibvirtBody }>(
    '/v1/import/libvirt',
    {
      schema: {
        tags: ['vms'],
        summary: 'Make a VM (stopped) from a libvirt domain XML (virsh dumpxml): name, UUID, MACs kept; disks copied into a pool or used in place; what cannot be carried over refused (IMPORT_UNSUPPORTED, listed in details.unsupported) unless ignoreUnsupported',
        body: ImportLibvirtBody, response: { 200: ImportLibvirtReply, 201: ImportLibvirtReply, ...errors },
      },
    },
    async (req, reply) => {
      const r = await importLibvirt({
        vms: deps.vms, storage: deps.storage, networks: deps.networks, store: deps.store,
        qemuVersion: deps.caps.qemuVersion, tpmAvailable: deps.vms.tpmAvailable(),
      }, req.body);
      return reply.status(r.dryRun ? 200 : 201).send(r);
    },
  );
}
