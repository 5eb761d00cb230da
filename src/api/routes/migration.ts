/** Routes for saving a VM's memory to a file (restore is `POST /v1/vms/:name/start`). */
import type { FastifyInstance } from 'fastify';
import { HangarError } from '../../errors/errors.js';
import type { SaveInput } from '../../migration/save.js';
import type { ApiDeps } from '../server.js';
import { SaveVmBody, VmNameParam } from '../schemas.js';

const errors = { 400: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' }, 500: { $ref: 'Error#' } } as const;

export function registerMigrationRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.post<{ Params: { name: string }; Body: SaveInput | undefined }>(
    '/v1/vms/:name/save',
    {
      schema: {
        tags: ['vms'],
        summary: "Save a running or paused VM's memory and device state to a file and stop QEMU (state `saved`); 202 with an operation. `start` restores it",
        params: VmNameParam, body: SaveVmBody, response: { 202: { $ref: 'Operation#' }, ...errors },
      },
    },
    async (req, reply) => {
      const vm = req.params.name;
      const saves = deps.saves;
      if (!saves) throw new HangarError('VM_STATE', 'This daemon cannot save VMs.');
      await saves.precheck(vm);
      const op = await deps.operations.start('vm.save', `vm/${vm}`, (ctx) => saves.save(vm, req.body ?? {}, ctx));
      return reply.status(202).send(op);
    },
  );
  app.post<{ Params: { name: string } }>(
    '/v1/vms/:name/discard-save',
    { schema: { tags: ['vms'], summary: 'Discard the save of a saved VM: it becomes stopped and boots afresh on its next start', params: VmNameParam, response: { 200: { $ref: 'Vm#' }, ...errors } } },
    async (req) => deps.vms.discardSave(req.params.name),
  );
}
