/**
 * Routes for saving a VM's memory to a file (restore is `POST /v1/vms/:name/start`), peers,
 * and live migration between daemons: the user's `migrate` on the source, and the
 * daemon-to-daemon `incoming` calls the source makes on the destination.
 */
import type { FastifyInstance } from 'fastify';
import { HangarError } from '../../errors/errors.js';
import type { IncomingRequest, MigrateInput } from '../../migration/live.js';
import type { AddPeerInput } from '../../migration/peers.js';
import type { SaveInput } from '../../migration/save.js';
import type { MoveReason } from '../../migration/cluster-move.js';
import type { ApiDeps } from '../server.js';
import { AddPeerBody, IncomingFinishedReply, IncomingMigrationBody, IncomingMigrationReply, MigrateVmBody, MigrationIdParam, PeerNameParam, SaveVmBody, VmNameParam } from '../../contract/index.js';

const errors = { 400: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' }, 500: { $ref: 'Error#' } } as const;

export function registerMigrationRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.post<{ Params: { name: string }; Body: SaveInput | undefined }>(
    '/v1/vms/:name/save',
    {
      schema: {
        tags: ['vms'],
        summary: "Save a running or paused VM's memory and device state to a file and stop QEMU (state `saved`); 202 with an operation. `start` restores it",
        params: VmNameParam, body: SaveVmBody, response: { 202: { $ref: 'Operation#' }, ...errors },
      },
    },
    async (req, reply) => {
      const vm = req.params.name;
      const saves = deps.saves;
      if (!saves) throw new HangarError('VM_STATE', 'This daemon cannot save VMs.');
      await saves.precheck(vm);
      const op = await deps.operations.start('vm.save', `vm/${vm}`, (ctx) => saves.save(vm, req.body ?? {}, ctx));
      return reply.status(202).send(op);
    },
  );
  app.post<{ Params: { name: string } }>(
    '/v1/vms/:name/discard-save',
    { schema: { tags: ['vms'], summary: 'Discard the save of a saved VM: it becomes stopped and boots afresh on its next start', params: VmNameParam, response: { 200: { $ref: 'Vm#' }, ...errors } } },
    async (req) => deps.vms.discardSave(req.params.name),
  );

  registerLiveMigrationRoutes(app, deps);
}

function registerLiveMigrationRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const peers = () => {
    if (!deps.peers) throw new HangarError('VM_STATE', 'This daemon has no peers.');
    return deps.peers;
  };
  const migrations = () => {
    if (!deps.migrations) throw new HangarError('VM_STATE', 'This daemon cannot migrate VMs.');
    return deps.migrations;
  };
  const peerErrors = { 400: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' }, 500: { $ref: 'Error#' }, 502: { $ref: 'Error#' } } as const;

  app.get('/v1/peers', { schema: { tags: ['migration'], summary: 'Peers: other Hangar daemons VMs can be migrated to (tokens are never shown)', response: { 200: { type: 'array', items: { $ref: 'Peer#' } } } } }, async () => peers().list());
  app.post<{ Body: AddPeerInput }>(
    '/v1/peers',
    { schema: { tags: ['migration'], summary: "Add a peer: its TLS address, an admin token of it, and its certificate's fingerprint (pinned; read at first contact if not given). The peer is contacted before anything is stored", body: AddPeerBody, response: { 201: { $ref: 'Peer#' }, ...peerErrors } } },
    async (req, reply) => reply.status(201).send(await peers().add(req.body)),
  );
  app.get<{ Params: { name: string }; Querystring: { check?: boolean } }>(
    '/v1/peers/:name',
    { schema: { tags: ['migration'], summary: 'One peer; with check=true, contact it and show its host name and version', params: PeerNameParam, querystring: { type: 'object', properties: { check: { type: 'boolean' } }, additionalProperties: false }, response: { 200: { $ref: 'Peer#' }, ...peerErrors } } },
    async (req) => peers().show(req.params.name, req.query.check === true),
  );
  app.delete<{ Params: { name: string } }>(
    '/v1/peers/:name',
    { schema: { tags: ['migration'], summary: 'Remove a peer', params: PeerNameParam, response: { 204: { type: 'null' }, ...peerErrors } } },
    async (req, reply) => {
      await peers().remove(req.params.name);
      return reply.status(204).send();
    },
  );
  app.post<{ Params: { name: string }; Body: MigrateInput & { node?: string; reason?: MoveReason } }>(
    '/v1/vms/:name/migrate',
    {
      schema: {
        tags: ['vms', 'migration'],
        summary: 'Live-migrate a running or paused VM to a peer (`to`), or in a cluster move it to another node (`node`: live when it runs, cold when stopped); 202 with an operation (progress: percent, bytes, remaining, dirty rate, expected downtime; DELETE the operation to cancel). Any failure leaves the guest running here',
        params: VmNameParam, body: MigrateVmBody, response: { 202: { $ref: 'Operation#' }, ...peerErrors },
      },
    },
    async (req, reply) => {
      const vm = req.params.name;
      const { node, reason, ...body } = req.body;
      if ((node === undefined) === (body.to === undefined)) throw new HangarError('INVALID_SPEC', 'Give either `to` (a peer) or `node` (a node of this cluster).', { details: { field: 'node' } });
      if (node !== undefined) {
        const moves = deps.moves;
        if (!moves) throw new HangarError('NOT_IN_CLUSTER', 'This daemon is not a node of a cluster: `node` needs one (use `to` for a peer).');
        const input = { node, ...(reason && { reason }), ...(body.maxBandwidth !== undefined && { maxBandwidth: body.maxBandwidth }), ...(body.downtimeLimitMs !== undefined && { downtimeLimitMs: body.downtimeLimitMs }), ...(body.timeoutSeconds !== undefined && { timeoutSeconds: body.timeoutSeconds }) };
        await moves.precheck(vm, input);
        const op = await deps.operations.start('vm.move', `vm/${vm}`, (ctx) => moves.move(vm, input, ctx));
        return reply.status(202).send(op);
      }
      const m = migrations();
      await m.precheck(vm, req.body);
      const op = await deps.operations.start('vm.migrate', `vm/${vm}`, (ctx) => m.migrate(vm, req.body, ctx));
      return reply.status(202).send(op);
    },
  );
  app.post<{ Body: IncomingRequest }>(
    '/v1/migrations/incoming',
    { schema: { tags: ['migration'], summary: "Daemon to daemon: prepare this host for a guest arriving from the calling daemon (QEMU with -incoming, NBD exports for copied disks). Answers where QEMU listens", body: IncomingMigrationBody, response: { 200: IncomingMigrationReply, ...peerErrors } } },
    async (req) => migrations().prepareIncoming(req.body, plainAddress(req.socket.localAddress) ?? '0.0.0.0', plainAddress(req.socket.remoteAddress) ?? 'unix socket'),
  );
  app.post<{ Params: { id: string } }>(
    '/v1/migrations/incoming/:id/finish',
    { schema: { tags: ['migration'], summary: 'Daemon to daemon: the stream completed; run the guest here. Answers the VM and how long resuming it took here', params: MigrationIdParam, response: { 200: IncomingFinishedReply, ...peerErrors } } },
    async (req) => migrations().finishIncoming(req.params.id),
  );
  app.delete<{ Params: { id: string } }>(
    '/v1/migrations/incoming/:id',
    { schema: { tags: ['migration'], summary: 'Daemon to daemon: the source gave up; end the arriving QEMU and remove what was made for it', params: MigrationIdParam, response: { 204: { type: 'null' }, ...peerErrors } } },
    async (req, reply) => {
      await migrations().abortIncoming(req.params.id);
      return reply.status(204).send();
    },
  );
}

/** `::ffff:10.0.0.2` → `10.0.0.2`: QEMU and the source want the plain IPv4 form. */
function plainAddress(a: string | undefined): string | undefined {
  return a?.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
}
