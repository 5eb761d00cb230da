/** POST /v1/import/ovf: an OVF/OVA appliance on the daemon's host becomes a stopped Hangar VM (src/interop/ovf). */
import type { FastifyInstance } from 'fastify';
import { ImportOvfBody, ImportOvfReply } from '../../contract/index.js';
import { checkOvfImport, runOvfImport, type OvfImportDeps } from '../../interop/ovf/import.js';
import type { ApiDeps } from '../server.js';

const errors = { 400: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' }, 422: { $ref: 'Error#' }, 500: { $ref: 'Error#' } } as const;

export function registerImportOvfRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const ovfDeps: OvfImportDeps = {
    vms: deps.vms, storage: deps.storage, networks: deps.networks, store: deps.store, projects: deps.projects, host: deps.host, qemuVersion: deps.caps.qemuVersion,
  };
  app.post<{ Body: ImportOvfBody }>(
    '/v1/import/ovf',
    {
      schema: {
        tags: ['vms'],
        summary: 'Make a VM (stopped) from an OVF/OVA appliance (VMware, VirtualBox) on the daemon\'s host: CPUs, memory, firmware, NICs (MACs kept) and disk buses from the descriptor, disks converted into a pool. Checked first: what cannot be carried over refuses (OVF_UNSUPPORTED, listed in details.unsupported) unless ignoreUnsupported; then 202 with an operation whose result is the import (ImportOvfReply); a dry run answers the plan (200)',
        body: ImportOvfBody, response: { 200: ImportOvfReply, 202: { $ref: 'Operation#' }, ...errors },
      },
    },
    async (req, reply) => {
      const checked = await checkOvfImport(ovfDeps, req.body);
      if (req.body.dryRun) return reply.status(200).send(await runOvfImport(ovfDeps, checked));
      const op = await deps.operations.start('vm.import-ovf', `vm/${checked.name}`, (ctx) => runOvfImport(ovfDeps, checked, ctx));
      return reply.status(202).send(op);
    },
  );
}
