/** Routes for clones and templates: clone, rename, an image made from a VM, and the VM list's label filter. */
import type { FastifyInstance } from 'fastify';
import { CloneVmBody, CloneVmReply, ImageFromVmBody, ListVmsQuery, RenameVmBody, VmNameParam } from '../../contract/index.js';
import { matchesLabels, parseLabelSelector } from '../../model/identity.js';
import { validateVolumeName } from '../../storage/pool.js';
import type { ApiDeps } from '../server.js';

const errors = { 400: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' }, 500: { $ref: 'Error#' } } as const;

/** GET /v1/vms: all VMs (a cached body), or those matching `?label=k=v` (repeatable). */
export function registerVmListRoute(app: FastifyInstance, deps: ApiDeps): void {
  app.get<{ Querystring: ListVmsQuery }>(
    '/v1/vms',
    { schema: { tags: ['vms'], summary: 'List VMs (with label=k=v: only those with every such label)', querystring: ListVmsQuery, response: { 200: { type: 'array', items: { $ref: 'Vm#' } }, 400: { $ref: 'Error#' } } } },
    async (req, reply) => {
      const label = req.query.label;
      if (label === undefined) {
        // Pre-serialized (and cached) by the VM service: a string/Buffer body skips the serializer.
        return reply.type('application/json; charset=utf-8').send(await deps.vms.listJson());
      }
      const selector = parseLabelSelector(Array.isArray(label) ? label : [label]);
      return (await deps.vms.list()).filter((v) => matchesLabels(v.labels, selector));
    },
  );
}

export function registerCloneRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.post<{ Params: { name: string }; Body: CloneVmBody }>(
    '/v1/vms/:name/clone',
    {
      schema: {
        tags: ['vms'], summary: 'Clone a stopped or running VM: new MACs, SMBIOS UUID, cloud-init instance id and hostname; linked (overlays of frozen bases) or a full copy',
        params: VmNameParam, body: CloneVmBody, response: { 201: CloneVmReply, ...errors },
      },
    },
    async (req, reply) => {
      const done = await deps.vms.clone(req.params.name, req.body);
      return reply.status(201).send({ vm: done.vm, source: req.params.name, linked: done.linked, ...(done.pauseMs !== undefined && { pauseMs: done.pauseMs }), durationMs: done.durationMs, steps: done.steps });
    },
  );
  app.post<{ Params: { name: string }; Body: RenameVmBody }>(
    '/v1/vms/:name/rename',
    { schema: { tags: ['vms'], summary: 'Rename a stopped VM (its volumes keep their names and follow it)', params: VmNameParam, body: RenameVmBody, response: { 200: { $ref: 'Vm#' }, ...errors } } },
    async (req) => deps.vms.rename(req.params.name, req.body.name),
  );
  app.post<{ Params: { name: string }; Body: ImageFromVmBody }>(
    '/v1/vms/:name/image',
    {
      schema: {
        tags: ['images'], summary: 'Make an image (kind disk) of a VM\'s root disk: a stopped VM as it is, a running one at one instant (paused for milliseconds); an operation',
        params: VmNameParam, body: ImageFromVmBody, response: { 202: { $ref: 'Operation#' }, ...errors },
      },
    },
    async (req, reply) => {
      validateVolumeName(req.body.image, 'image');
      const vm = req.params.name;
      await deps.vms.get(vm);
      const input = { name: req.body.image, vm, ...(req.body.description !== undefined && { description: req.body.description }) };
      const op = await deps.operations.start('image.create', `image/${req.body.image}`, (ctx) => deps.vms.withTemplateSource(vm, (src) => deps.images.createFromDisk(input, src, ctx)));
      return reply.status(202).send(op);
    },
  );
}
