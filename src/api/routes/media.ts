/** Routes for installer media: insert an ISO into a VM's CD-ROM drive, or eject it. */
import type { FastifyInstance } from 'fastify';
import { MediaEjectBody, MediaInsertBody, VmNameParam } from '../../contract/index.js';
import type { ApiDeps } from '../server.js';

const errors = { 400: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' }, 500: { $ref: 'Error#' }, 502: { $ref: 'Error#' } } as const;

export function registerMediaRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.post<{ Params: { name: string }; Body: MediaInsertBody }>(
    '/v1/vms/:name/media/insert',
    {
      schema: {
        tags: ['vms'], summary: 'Insert an ISO image into a CD-ROM drive: live in a running guest (the tray opens and closes), else for the next start',
        params: VmNameParam, body: MediaInsertBody, response: { 200: { $ref: 'Vm#' }, ...errors },
      },
    },
    async (req) => deps.vms.changeMedia(req.params.name, req.body),
  );
  app.post<{ Params: { name: string }; Body: MediaEjectBody | undefined }>(
    '/v1/vms/:name/media/eject',
    {
      schema: {
        tags: ['vms'], summary: "Eject a CD-ROM drive's medium (the VM's only drive unless drive is given): live in a running guest, else for the next start",
        params: VmNameParam, body: MediaEjectBody, response: { 200: { $ref: 'Vm#' }, ...errors },
      },
    },
    async (req) => {
      const { drive, force } = req.body ?? {};
      return deps.vms.changeMedia(req.params.name, { ...(drive !== undefined && { drive }), ...(force !== undefined && { force }) });
    },
  );
}
