/** Firmware routes: reset a UEFI VM's NVRAM to its firmware's vars template. */
import type { FastifyInstance } from 'fastify';
import { VmNameParam } from '../../contract/index.js';
import type { ApiDeps } from '../server.js';

const errors = { 400: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' }, 500: { $ref: 'Error#' } } as const;

export function registerFirmwareRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.post<{ Params: { name: string } }>(
    '/v1/vms/:name/nvram/reset',
    {
      schema: {
        tags: ['vms'],
        summary: "Reset a stopped UEFI VM's NVRAM (its EFI variables: boot entries, Secure Boot state) to a fresh copy of its firmware's vars template",
        params: VmNameParam, response: { 200: { $ref: 'Vm#' }, ...errors },
      },
    },
    async (req) => deps.vms.resetNvram(req.params.name),
  );
}
