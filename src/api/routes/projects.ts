/** Routes for projects and their quotas. */
import type { FastifyInstance } from 'fastify';
import type { QuotaInput } from '../../projects/service.js';
import type { ApiDeps } from '../server.js';
import { CreateProjectBody, ProjectParam, ProjectQuotasBody } from '../../contract/index.js';

const errors = { 400: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' }, 500: { $ref: 'Error#' } } as const;

export function registerProjectRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { projects } = deps;
  app.get('/v1/projects', { schema: { tags: ['projects'], summary: 'List projects with quotas and usage', response: { 200: { type: 'array', items: { $ref: 'Project#' } } } } }, async () => projects.list());
  app.post<{ Body: QuotaInput & { name: string; description?: string } }>(
    '/v1/projects',
    { schema: { tags: ['projects'], summary: 'Create a project with quotas', body: CreateProjectBody, response: { 201: { $ref: 'Project#' }, ...errors } } },
    async (req, reply) => {
      const { name, description, ...quotas } = req.body;
      return reply.status(201).send(await projects.create(name, quotas, description));
    },
  );
  app.get<{ Params: { name: string } }>(
    '/v1/projects/:name',
    { schema: { tags: ['projects'], summary: 'Show a project', params: ProjectParam, response: { 200: { $ref: 'Project#' }, ...errors } } },
    async (req) => projects.show(req.params.name),
  );
  app.patch<{ Params: { name: string }; Body: QuotaInput }>(
    '/v1/projects/:name',
    { schema: { tags: ['projects'], summary: 'Change quotas (refused below current use)', params: ProjectParam, body: ProjectQuotasBody, response: { 200: { $ref: 'Project#' }, ...errors } } },
    async (req) => projects.setQuotas(req.params.name, req.body),
  );
  app.delete<{ Params: { name: string } }>(
    '/v1/projects/:name',
    { schema: { tags: ['projects'], summary: 'Delete an empty project', params: ProjectParam, response: { 204: { type: 'null' }, ...errors } } },
    async (req, reply) => {
      await projects.delete(req.params.name);
      return reply.status(204).send();
    },
  );
}
