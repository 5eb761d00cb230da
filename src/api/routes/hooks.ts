/** Routes of webhooks (src/hooks): /v1/hooks. */
import type { FastifyInstance } from 'fastify';
import { HookService } from '../../hooks/service.js';
import type { ApiDeps } from '../server.js';
import { CreateHookBody, Hook, HookParam } from '../../contract/index.js';

const errors = { 400: { $ref: 'Error#' }, 401: { $ref: 'Error#' }, 403: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' }, 500: { $ref: 'Error#' }, 503: { $ref: 'Error#' } } as const;

export function registerHookRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.addSchema(Hook);
  // The daemon passes the service its deliverer follows; without one (tests) the records alone.
  let service = deps.hooks;
  const hooks = (): HookService => (service ??= new HookService({ store: deps.store }));
  app.get('/v1/hooks', { schema: { tags: ['hooks'], summary: 'The webhooks, each with its last delivery (secrets are never shown)', response: { 200: { type: 'array', items: { $ref: 'Hook#' } }, ...errors } } }, async () =>
    hooks().list(),
  );
  app.post<{ Body: CreateHookBody }>(
    '/v1/hooks',
    { schema: { tags: ['hooks'], summary: 'Create a webhook: matching events are POSTed as JSON, in order, signed with the secret, retried with back-off', body: CreateHookBody, response: { 201: { $ref: 'Hook#' }, ...errors } } },
    async (req, reply) => reply.status(201).send(await hooks().create(req.body)),
  );
  app.get<{ Params: { name: string } }>(
    '/v1/hooks/:name',
    { schema: { tags: ['hooks'], summary: 'Show a webhook with its last deliveries and their outcome', params: HookParam, response: { 200: { $ref: 'Hook#' }, ...errors } } },
    async (req) => hooks().get(req.params.name),
  );
  app.delete<{ Params: { name: string } }>(
    '/v1/hooks/:name',
    { schema: { tags: ['hooks'], summary: 'Delete a webhook (deliveries not yet made are dropped)', params: HookParam, response: { 204: { type: 'null' }, ...errors } } },
    async (req, reply) => {
      await hooks().delete(req.params.name);
      return reply.status(204).send();
    },
  );
}
