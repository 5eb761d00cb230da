/** Routes for API tokens (admin only, see src/auth/policy.ts) and console tokens. */
import type { FastifyInstance } from 'fastify';
import type { AuthContext } from '../../auth/hooks.js';
import type { ConsoleType } from '../../contract/consoles.js';
import type { CreateTokenInput } from '../../auth/tokens.js';
import { HangarError } from '../../errors/errors.js';
import type { ApiDeps } from '../server.js';
import { ConsoleTokenBody, ConsoleTokenReply, CreatedToken, CreateTokenBody, Token, TokenParam, VmNameParam } from '../../contract/index.js';

const errors = { 400: { $ref: 'Error#' }, 401: { $ref: 'Error#' }, 403: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' }, 500: { $ref: 'Error#' } } as const;

export function registerTokenRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const auth = (): AuthContext => {
    if (!deps.auth) throw new HangarError('INTERNAL', 'Access control is not set up in this daemon.');
    return deps.auth;
  };
  app.addSchema(Token);

  app.get('/v1/tokens', { schema: { tags: ['tokens'], summary: 'List API tokens (never their secrets)', response: { 200: { type: 'array', items: { $ref: 'Token#' } }, ...errors } } }, async () =>
    auth().tokens.list(),
  );
  app.post<{ Body: CreateTokenInput }>(
    '/v1/tokens',
    { schema: { tags: ['tokens'], summary: 'Create an API token; the reply holds the secret, shown only this once', body: CreateTokenBody, response: { 201: CreatedToken, ...errors } } },
    async (req, reply) => reply.status(201).send(await auth().tokens.create(req.body)),
  );
  app.delete<{ Params: { token: string } }>(
    '/v1/tokens/:token',
    { schema: { tags: ['tokens'], summary: 'Delete (revoke) a token, by name or id: it stops working at once', params: TokenParam, response: { 204: { type: 'null' }, ...errors } } },
    async (req, reply) => {
      await auth().tokens.delete(req.params.token);
      return reply.status(204).send();
    },
  );

  app.post<{ Params: { name: string }; Body: { type: ConsoleType } }>(
    '/v1/vms/:name/console-tokens',
    {
      schema: {
        tags: ['vms'],
        summary: "A console token: opens this VM's console WebSocket once, within 60 s (what browsers use over TCP, where they cannot send a bearer header)",
        params: VmNameParam, body: ConsoleTokenBody, response: { 201: ConsoleTokenReply, ...errors },
      },
    },
    async (req, reply) => {
      const rec = await deps.vms.record(req.params.name);
      const type = req.body.type;
      if (type === 'vnc' && !rec.spec.vnc) throw new HangarError('CONSOLE_UNAVAILABLE', `VM "${rec.name}" has no VNC display (it was created with --no-vnc / vnc: false).`);
      if (type === 'spice' && !rec.spec.spice) throw new HangarError('CONSOLE_UNAVAILABLE', `VM "${rec.name}" has no SPICE display: create VMs with --spice (API: spice: true) to have one.`);
      return reply.status(201).send(auth().consoleTokens.issue({ vm: rec.name, vmId: rec.id, type, actor: req.auditActor }));
    },
  );
}
