/** Routes for warm templates and their clones (src/templates). */
import type { FastifyInstance } from 'fastify';
import { CloneFromTemplateBody, CloneFromTemplateReply, CreateTemplateBody, Template, TemplateParam } from '../../contract/index.js';
import { HangarError } from '../../errors/errors.js';
import type { ApiDeps } from '../server.js';

const errors = { 400: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' }, 500: { $ref: 'Error#' } } as const;

export function registerTemplateRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.addSchema(Template);
  const templates = () => {
    if (!deps.templates) throw new HangarError('NOT_FOUND', 'This daemon has no warm templates.');
    return deps.templates;
  };
  app.get('/v1/templates', { schema: { tags: ['templates'], summary: 'List warm templates and the VMs cloned from each', response: { 200: { type: 'array', items: { $ref: 'Template#' } } } } }, async () => templates().list());
  app.post<{ Body: CreateTemplateBody }>(
    '/v1/templates',
    {
      schema: {
        tags: ['templates'], summary: 'Make a warm template of a running VM with file-backed memory (paused while its device state, memory file and disks are copied, then it goes on)',
        body: CreateTemplateBody, response: { 201: { $ref: 'Template#' }, ...errors },
      },
    },
    async (req, reply) => reply.status(201).send(await templates().create(req.body)),
  );
  app.get<{ Params: { name: string } }>(
    '/v1/templates/:name',
    { schema: { tags: ['templates'], summary: 'Show a warm template', params: TemplateParam, response: { 200: { $ref: 'Template#' }, ...errors } } },
    async (req) => templates().get(req.params.name),
  );
  app.delete<{ Params: { name: string } }>(
    '/v1/templates/:name',
    { schema: { tags: ['templates'], summary: 'Delete a warm template (TEMPLATE_IN_USE while clones\' disks are linked to it)', params: TemplateParam, response: { 204: { type: 'null' }, ...errors } } },
    async (req, reply) => {
      await templates().delete(req.params.name);
      return reply.status(204).send();
    },
  );
  app.post<{ Params: { name: string }; Body: CloneFromTemplateBody }>(
    '/v1/templates/:name/clones',
    {
      schema: {
        tags: ['templates'], summary: 'Warm clones (vm create --from-template): each maps the template\'s memory copy-on-write, loads its state, takes its own identity through the guest agent (MAC, hostname, machine-id, SSH host keys, RNG reseed, clock), then its links come up; answers once all are ready',
        params: TemplateParam, body: CloneFromTemplateBody, response: { 201: CloneFromTemplateReply, ...errors },
      },
    },
    async (req, reply) => reply.status(201).send(await templates().clone(req.params.name, req.body)),
  );
}
