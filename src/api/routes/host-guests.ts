/**
 * `POST /v1/host/shutdown-guests` and `POST /v1/host/start-guests`: every guest of this host
 * stopped or saved when the host goes down, and brought back (src/daemon/host-guests.ts).
 * Both are operations (202) with progress; the result lists each guest's outcome.
 */
import type { FastifyInstance } from 'fastify';
import { HangarError } from '../../errors/errors.js';
import { ShutdownGuestsBody } from '../../contract/index.js';
import { DEFAULT_SAVE_PARALLEL, DEFAULT_SHUTDOWN_TIMEOUT_SECONDS } from '../../host/shutdown-guests.js';
import type { ApiDeps } from '../server.js';

const errors = { 400: { $ref: 'Error#' }, 409: { $ref: 'Error#' }, 500: { $ref: 'Error#' } } as const;

export function registerHostGuestRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const service = () => {
    if (!deps.hostGuests) throw new HangarError('VM_STATE', 'This daemon cannot shut down or start its guests as a whole.');
    return deps.hostGuests;
  };
  app.post<{ Body: ShutdownGuestsBody | undefined }>(
    '/v1/host/shutdown-guests',
    {
      schema: {
        tags: ['host'],
        summary: "The host goes down: every running or paused guest is powered off through ACPI (forced after the timeout) or saved (restored at the daemon's next start; a guest whose save fails is shut down instead); 202 with an operation whose result lists each guest's outcome",
        body: ShutdownGuestsBody, response: { 202: { $ref: 'Operation#' }, ...errors },
      },
    },
    async (req, reply) => {
      const guests = service();
      const body = req.body ?? {};
      const opts = { mode: body.mode ?? 'stop', timeoutSeconds: body.timeoutSeconds ?? DEFAULT_SHUTDOWN_TIMEOUT_SECONDS, parallel: body.parallel ?? DEFAULT_SAVE_PARALLEL };
      const op = await deps.operations.start('host.shutdown-guests', 'host', (ctx) =>
        guests.shutdown(opts, (p) => ctx.progress({
          phase: opts.mode === 'save' ? 'saving guests' : 'stopping guests',
          percent: p.total ? (100 * p.done) / p.total : 100,
          message: `${p.done} of ${p.total} done${p.last ? `; ${p.last.vm}: ${p.last.outcome}` : ''}`,
        }), ctx.signal));
      return reply.status(202).send(op);
    },
  );
  app.post(
    '/v1/host/start-guests',
    {
      schema: {
        tags: ['host'],
        summary: 'Restores the guests shutdown-guests saved and starts the autostart VMs that are not running (the daemon does this at its start; this does what is still pending); 202 with an operation whose result lists what it did',
        response: { 202: { $ref: 'Operation#' }, ...errors },
      },
    },
    async (_req, reply) => {
      const guests = service();
      let n = 0;
      const op = await deps.operations.start('host.start-guests', 'host', (ctx) =>
        guests.start((r) => ctx.progress({ phase: 'starting guests', message: `${++n} done; ${r.vm}: ${r.outcome}` })));
      return reply.status(202).send(op);
    },
  );
}
