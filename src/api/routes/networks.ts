/** Routes for managed networks. */
import type { FastifyInstance } from 'fastify';
import type { CreateNetworkInput } from '../../network/service.js';
import type { ApiDeps } from '../server.js';
import { AddNicBody, CreateNetworkBody, NetworkParam, NicParams, VmNameParam } from '../../contract/index.js';

const errors = { 400: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' }, 500: { $ref: 'Error#' } } as const;

export function registerNetworkRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { networks, vms } = deps;
  app.post<{ Params: { name: string }; Body: { network: string } }>(
    '/v1/vms/:name/nics',
    { schema: { tags: ['vms'], summary: 'Add a NIC on a managed network (hot-plugged into a running guest)', params: VmNameParam, body: AddNicBody, response: { 200: { $ref: 'Vm#' }, ...errors } } },
    async (req) => vms.attachNic(req.params.name, req.body.network),
  );
  app.delete<{ Params: { name: string; nic: string } }>(
    '/v1/vms/:name/nics/:nic',
    { schema: { tags: ['vms'], summary: 'Remove a NIC (from a running guest: waits until the guest lets go)', params: NicParams, response: { 200: { $ref: 'Vm#' }, ...errors } } },
    async (req) => vms.detachNic(req.params.name, req.params.nic),
  );
  app.get('/v1/networks', { schema: { tags: ['networks'], summary: 'List managed networks with their leases', response: { 200: { type: 'array', items: { $ref: 'Network#' } } } } }, async () => networks.list());
  app.post<{ Body: CreateNetworkInput }>(
    '/v1/networks',
    { schema: { tags: ['networks'], summary: 'Create a managed network: a bridge, dnsmasq (DHCP, DNS) and, as asked, NAT or isolation rules', body: CreateNetworkBody, response: { 201: { $ref: 'Network#' }, ...errors } } },
    async (req, reply) => reply.status(201).send(await networks.create(req.body)),
  );
  app.get<{ Params: { name: string } }>(
    '/v1/networks/:name',
    { schema: { tags: ['networks'], summary: 'Show a network, its DHCP leases and VMs', params: NetworkParam, response: { 200: { $ref: 'Network#' }, ...errors } } },
    async (req) => networks.show(req.params.name),
  );
  app.delete<{ Params: { name: string } }>(
    '/v1/networks/:name',
    { schema: { tags: ['networks'], summary: 'Delete a network (refused while VMs use it); removes everything it added to the host', params: NetworkParam, response: { 204: { type: 'null' }, ...errors } } },
    async (req, reply) => {
      await networks.delete(req.params.name);
      return reply.status(204).send();
    },
  );
}
