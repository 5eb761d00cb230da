/** Routes of placement groups (src/cluster/groups.ts): affinity / anti-affinity rules between VMs. */
import type { FastifyInstance } from 'fastify';
import { PlacementGroups } from '../../cluster/groups.js';
import type { ApiDeps } from '../server.js';
import { CreateGroupBody, GroupDeleteQuery, GroupMemberBody, GroupMemberParam, GroupParam, PlacementGroup } from '../../contract/index.js';

const errors = { 400: { $ref: 'Error#' }, 401: { $ref: 'Error#' }, 403: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' }, 500: { $ref: 'Error#' }, 503: { $ref: 'Error#' } } as const;
const one = { 200: { $ref: 'PlacementGroup#' }, ...errors } as const;

export function registerGroupRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const groups = new PlacementGroups(deps.store);
  app.addSchema(PlacementGroup);
  app.get('/v1/groups', { schema: { tags: ['cluster'], summary: 'The placement groups, with their members and the nodes they are on', response: { 200: { type: 'array', items: { $ref: 'PlacementGroup#' } }, ...errors } } }, async () =>
    groups.list(),
  );
  app.post<{ Body: CreateGroupBody }>(
    '/v1/groups',
    { schema: { tags: ['cluster'], summary: 'Create a placement group: affinity or anti-affinity, hard (a filter) or soft (a weight); enforced in a cluster', body: CreateGroupBody, response: { 201: { $ref: 'PlacementGroup#' }, ...errors } } },
    async (req, reply) => reply.status(201).send(await groups.create(req.body)),
  );
  app.get<{ Params: { group: string } }>(
    '/v1/groups/:group',
    { schema: { tags: ['cluster'], summary: 'Show a placement group and its members', params: GroupParam, response: one } },
    async (req) => groups.get(req.params.group),
  );
  app.delete<{ Params: { group: string }; Querystring: { force?: 'true' | 'false' } }>(
    '/v1/groups/:group',
    { schema: { tags: ['cluster'], summary: 'Delete a placement group (refused while it has members; ?force=true: they leave it, no VM moves)', params: GroupParam, querystring: GroupDeleteQuery, response: { 204: { type: 'null' }, ...errors } } },
    async (req, reply) => {
      await groups.delete(req.params.group, req.query.force === 'true');
      return reply.status(204).send();
    },
  );
  app.post<{ Params: { group: string }; Body: GroupMemberBody }>(
    '/v1/groups/:group/members',
    { schema: { tags: ['cluster'], summary: 'A VM joins the group (leaving any other); in a cluster a join that breaks a hard rule where the VMs are now is refused (PLACEMENT_IMPOSSIBLE)', params: GroupParam, body: GroupMemberBody, response: one } },
    async (req) => groups.addMember(req.params.group, req.body.vm),
  );
  app.delete<{ Params: { group: string; vm: string } }>(
    '/v1/groups/:group/members/:vm',
    { schema: { tags: ['cluster'], summary: 'A VM leaves the group', params: GroupMemberParam, response: one } },
    async (req) => groups.removeMember(req.params.group, req.params.vm),
  );
}
