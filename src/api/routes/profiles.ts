/** Routes for profiles (src/profiles) and instance types. */
import type { FastifyInstance } from 'fastify';
import { HangarError } from '../../errors/errors.js';
import { INSTANCE_TYPES } from '../../profiles/settings.js';
import type { ApiDeps } from '../server.js';
import { CreateProfileBody, DeleteProfileQuery, DeleteProfileReply, InstanceType, Profile, ProfileParam, SetProfileBody, SetProfileReply } from '../../contract/index.js';

const errors = { 400: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' }, 500: { $ref: 'Error#' } } as const;

export function registerProfileRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.addSchema(Profile);
  const profiles = () => {
    if (!deps.profiles) throw new HangarError('NOT_FOUND', 'This daemon has no profiles.');
    return deps.profiles;
  };
  app.get('/v1/instance-types', { schema: { tags: ['profiles'], summary: 'List the built-in instance types (besides cN-mM)', response: { 200: { type: 'array', items: InstanceType } } } }, async () => INSTANCE_TYPES);
  app.get('/v1/profiles', { schema: { tags: ['profiles'], summary: 'List profiles and the VMs that use them', response: { 200: { type: 'array', items: { $ref: 'Profile#' } } } } }, async () => profiles().list());
  app.post<{ Body: CreateProfileBody }>(
    '/v1/profiles',
    { schema: { tags: ['profiles'], summary: 'Create a profile', body: CreateProfileBody, response: { 201: { $ref: 'Profile#' }, ...errors } } },
    async (req, reply) => reply.status(201).send(await profiles().create(req.body.name, req.body.settings ?? {}, req.body.description)),
  );
  app.get<{ Params: { name: string } }>(
    '/v1/profiles/:name',
    { schema: { tags: ['profiles'], summary: 'Show a profile and the VMs it affects', params: ProfileParam, response: { 200: { $ref: 'Profile#' }, ...errors } } },
    async (req) => profiles().show(req.params.name),
  );
  app.patch<{ Params: { name: string }; Body: SetProfileBody }>(
    '/v1/profiles/:name',
    { schema: { tags: ['profiles'], summary: 'Change a profile and re-apply it to its VMs (each says what changed live and what at its next start)', params: ProfileParam, body: SetProfileBody, response: { 200: SetProfileReply, ...errors } } },
    async (req) => profiles().set(req.params.name, req.body.settings ?? {}, req.body.description),
  );
  app.delete<{ Params: { name: string }; Querystring: { force?: string } }>(
    '/v1/profiles/:name',
    { schema: { tags: ['profiles'], summary: 'Delete a profile (refused while VMs use it unless force=true, which detaches it)', params: ProfileParam, querystring: DeleteProfileQuery, response: { 200: DeleteProfileReply, ...errors } } },
    async (req) => profiles().delete(req.params.name, req.query.force === 'true'),
  );
}
