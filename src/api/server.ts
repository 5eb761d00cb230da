/**
 * The REST + WebSocket API. Routes are thin: they validate (schemas.ts), call a
 * service, and shape the reply. Every error leaves through one handler as
 * `{code, message}` with the catalogue's HTTP status.
 */
import type { IncomingMessage } from 'node:http';
import { open, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { Duplex } from 'node:stream';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { WebSocketServer, type WebSocket } from 'ws';
import { ERROR_CATALOGUE, HangarError, isHangarError } from '../errors/errors.js';
import type { EventBus } from '../events/bus.js';
import type { ImageCatalog, ImportImageInput } from '../images/catalog.js';
import type { HostCapsReport } from '../qemu/host-caps.js';
import type { HangarEvent, Store } from '../store/store.js';
import type { VmService, VmSettings } from '../vm/service.js';
import type { StorageService } from '../storage/service.js';
import type { OperationService } from '../operations/service.js';
import type { Accel } from '../vm/spec.js';
import { registerStorageRoutes } from './routes/storage.js';
import { registerSnapshotRoutes } from './routes/snapshots.js';
import { registerNetworkRoutes } from './routes/networks.js';
import { registerProjectRoutes } from './routes/projects.js';
import type { ProjectService } from '../projects/service.js';
import type { NetworkService } from '../network/service.js';
import type { SnapshotService } from '../snapshots/service.js';
import { isActive } from '../vm/states.js';
import { SerialHub } from '../console/serial-hub.js';
import { QmpClosedError, QmpError, QmpTimeoutError } from '../qmp/index.js';
import {
  CreateVmBody, DeleteQuery, ErrorBody, Event, EventsQuery, HostReply, Image, ImageParam, ImportImageBody, LogsQuery, LogsReply, Network, Operation, Pool, Project, Snapshot, ExecBody, ExecReply, GuestInfoReply, StopBody, Vm, VmNameParam, VmSettingsBody, VmSettingsReply, Volume,
} from './schemas.js';

export interface ApiDeps {
  vms: VmService;
  storage: StorageService;
  operations: OperationService;
  snapshots: SnapshotService;
  networks: NetworkService;
  projects: ProjectService;
  accel: Accel;
  events: EventBus;
  store: Store;
  images: ImageCatalog;
  caps: HostCapsReport;
  host: { cpus: number; memoryMiB: number };
  version: string;
  logger?: boolean;
}

const errorResponses = {
  400: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' }, 500: { $ref: 'Error#' },
} as const;

export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ?? false,
    // Strict bodies: unknown fields are refused, not silently dropped; no type coercion.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false } },
    bodyLimit: 1024 * 1024,
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Hangar API', version: deps.version, description: 'Manage virtual machines on this host. Errors: see the Error schema; `code` is stable. The serial console is a WebSocket at GET /v1/vms/{name}/console (binary frames both ways; ?replay=1 first sends recent output).' },
      tags: [{ name: 'vms' }, { name: 'storage' }, { name: 'snapshots' }, { name: 'networks' }, { name: 'projects' }, { name: 'images' }, { name: 'operations' }, { name: 'events' }, { name: 'host' }],
    },
    // Components named after their $id (Vm, Error…) rather than def-N.
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  app.addSchema(ErrorBody);
  app.addSchema(Vm);
  app.addSchema(Image);
  app.addSchema(Event);
  app.addSchema(Pool);
  app.addSchema(Volume);
  app.addSchema(Operation);
  app.addSchema(Snapshot);
  app.addSchema(Network);
  app.addSchema(Project);

  app.setErrorHandler((err: FastifyError | HangarError | Error, _req, reply) => {
    const body = toErrorBody(err);
    void reply.status(ERROR_CATALOGUE[body.code].status).send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ code: 'NOT_FOUND', message: `No route ${req.method} ${req.url}: see /v1/openapi.json.` });
  });

  app.get('/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get('/v1/host', { schema: { tags: ['host'], summary: 'Host capacity, accelerator and VM counts', response: { 200: HostReply } } }, async () => {
    const vms = await deps.vms.list();
    const counts: Record<string, number> = {};
    let cpus = 0;
    let memory = 0;
    for (const v of vms) {
      counts[v.state] = (counts[v.state] ?? 0) + 1;
      if (isActive(v.state)) {
        cpus += v.cpus;
        memory += v.memory;
      }
    }
    return {
      version: deps.version, hostname: hostname(), cpus: deps.host.cpus, memory: deps.host.memoryMiB,
      accel: deps.accel, autoAccel: deps.caps.defaultAccel, kvmUsable: deps.caps.kvmUsable, qemuVersion: deps.caps.qemuVersion,
      vms: counts, allocated: { cpus, memory },
    };
  });

  registerVmRoutes(app, deps);
  registerStorageRoutes(app, deps);
  registerSnapshotRoutes(app, deps);
  registerNetworkRoutes(app, deps);
  registerProjectRoutes(app, deps);

  app.get('/v1/images', { schema: { tags: ['images'], summary: 'List images', response: { 200: { type: 'array', items: { $ref: 'Image#' } } } } }, async () =>
    deps.images.list(),
  );
  app.get<{ Params: { name: string } }>(
    '/v1/images/:name',
    { schema: { tags: ['images'], summary: 'Show an image', params: ImageParam, response: { 200: { $ref: 'Image#' }, ...errorResponses } } },
    async (req) => deps.images.get(req.params.name),
  );
  app.post<{ Body: ImportImageInput }>(
    '/v1/images',
    {
      schema: {
        tags: ['images'], summary: 'Import an image from a URL or a host file: verified (SHA-256), converted to qcow2 (raw, qcow2, VMDK, VDI, VHDX, VPC, OVA); an operation',
        body: ImportImageBody, response: { 202: { $ref: 'Operation#' }, ...errorResponses },
      },
    },
    async (req, reply) => {
      const op = await deps.operations.start('image.import', `image/${req.body.name}`, (ctx) => deps.images.import(req.body, ctx));
      return reply.status(202).send(op);
    },
  );
  app.delete<{ Params: { name: string } }>(
    '/v1/images/:name',
    { schema: { tags: ['images'], summary: 'Delete an imported image (refused while disks are linked clones of it)', params: ImageParam, response: { 204: { type: 'null' }, ...errorResponses } } },
    async (req, reply) => {
      await deps.images.delete(req.params.name, async () => (await deps.storage.dependentsOfImage(req.params.name)).map((v) => `${v.pool}/${v.name}`));
      return reply.status(204).send();
    },
  );

  app.get<{ Querystring: { follow?: string; after?: string; vm?: string; limit?: string } }>(
    '/v1/events',
    {
      schema: {
        tags: ['events'],
        summary: 'Recent events, or a live stream (text/event-stream) with follow=true',
        querystring: EventsQuery,
        response: { 200: { type: 'array', items: { $ref: 'Event#' } } },
      },
    },
    async (req, reply) => {
      const after = req.query.after === undefined ? undefined : Number(req.query.after);
      const limit = req.query.limit === undefined ? undefined : Number(req.query.limit);
      const query = { ...(after !== undefined && { afterSeq: after }), ...(req.query.vm && { vm: req.query.vm }), ...(limit !== undefined && { limit }) };
      if (req.query.follow !== 'true') return deps.store.listEvents(query);
      streamEvents(reply.raw, deps, query, req.query.vm);
      return reply.hijack();
    },
  );

  attachConsoleWebSocket(app, deps);
  return app;
}

function registerVmRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const one = { params: VmNameParam, response: { 200: { $ref: 'Vm#' }, ...errorResponses } };
  const action = (summary: string, extra: Record<string, unknown> = {}) => ({ schema: { tags: ['vms'], summary, ...one, ...extra } });

  app.get('/v1/vms', { schema: { tags: ['vms'], summary: 'List VMs', response: { 200: { type: 'array', items: { $ref: 'Vm#' } } } } }, async () => deps.vms.list());

  app.post<{ Body: CreateVmBody }>(
    '/v1/vms',
    { schema: { tags: ['vms'], summary: 'Create a VM (and start it with start=true)', body: CreateVmBody, response: { 201: { $ref: 'Vm#' }, ...errorResponses } } },
    async (req, reply) => {
      const vm = await deps.vms.create(req.body);
      return reply.status(201).send(vm);
    },
  );

  app.get<{ Params: { name: string } }>('/v1/vms/:name', action('Show a VM'), async (req) => deps.vms.get(req.params.name));
  app.patch<{ Params: { name: string }; Body: VmSettings }>(
    '/v1/vms/:name',
    {
      schema: {
        tags: ['vms'], summary: 'Change resources: live where the running guest allows, otherwise stored for the next start (each change says which)',
        params: VmNameParam, body: VmSettingsBody, response: { 200: VmSettingsReply, ...errorResponses },
      },
    },
    async (req) => deps.vms.set(req.params.name, req.body),
  );

  app.delete<{ Params: { name: string }; Querystring: { force?: string } }>(
    '/v1/vms/:name',
    { schema: { tags: ['vms'], summary: 'Delete a VM (refused while it runs unless force=true)', params: VmNameParam, querystring: DeleteQuery, response: { 204: { type: 'null' }, ...errorResponses } } },
    async (req, reply) => {
      await deps.vms.delete(req.params.name, { force: req.query.force === 'true' });
      return reply.status(204).send();
    },
  );

  app.post<{ Params: { name: string } }>('/v1/vms/:name/start', action('Start a VM; returns when it runs'), async (req) => deps.vms.start(req.params.name));
  app.post<{ Params: { name: string }; Body: { force?: boolean; timeoutSeconds?: number } | undefined }>(
    '/v1/vms/:name/stop',
    action('Stop a VM: ACPI powerdown, forced after timeoutSeconds; or at once with force', { body: StopBody }),
    async (req) => deps.vms.stop(req.params.name, req.body ?? {}),
  );
  app.post<{ Params: { name: string }; Body: { force?: boolean; timeoutSeconds?: number } | undefined }>(
    '/v1/vms/:name/restart',
    action('Restart a VM: stop (as /stop) then start', { body: StopBody }),
    async (req) => deps.vms.restart(req.params.name, req.body ?? {}),
  );
  app.post<{ Params: { name: string }; Body: { argv: string[]; input?: string; timeoutSeconds?: number } }>(
    '/v1/vms/:name/exec',
    { schema: { tags: ['vms'], summary: 'Run a command in the guest through qemu-guest-agent; returns its output and exit code', params: VmNameParam, body: ExecBody, response: { 200: ExecReply, ...errorResponses } } },
    async (req) => deps.vms.exec(req.params.name, req.body.argv, req.body),
  );
  app.get<{ Params: { name: string } }>(
    '/v1/vms/:name/guest',
    { schema: { tags: ['vms'], summary: "What the guest agent reports: OS, interfaces, IP addresses", params: VmNameParam, response: { 200: GuestInfoReply, ...errorResponses } } },
    async (req) => deps.vms.guestInfo(req.params.name),
  );
  app.post<{ Params: { name: string } }>('/v1/vms/:name/pause', action('Pause a running VM (its vCPUs and clock stop)'), async (req) => deps.vms.pause(req.params.name));
  app.post<{ Params: { name: string } }>('/v1/vms/:name/resume', action('Resume a paused VM'), async (req) => deps.vms.resume(req.params.name));

  app.get<{ Params: { name: string }; Querystring: { source?: 'serial' | 'qemu'; offset?: string; tail?: string } }>(
    '/v1/vms/:name/logs',
    { schema: { tags: ['vms'], summary: "The guest's serial console log, or QEMU's own log", params: VmNameParam, querystring: LogsQuery, response: { 200: LogsReply, ...errorResponses } } },
    async (req) => {
      const rec = await deps.vms.record(req.params.name);
      const paths = deps.vms.pathsOf(rec);
      const file = req.query.source === 'qemu' ? paths.qemuLog : paths.serialLog;
      return readLogChunk(file, req.query.offset === undefined ? undefined : Number(req.query.offset), req.query.tail === undefined ? undefined : Number(req.query.tail));
    },
  );
}

const MAX_LOG_CHUNK = 1024 * 1024;

async function readLogChunk(file: string, offset: number | undefined, tail: number | undefined): Promise<{ data: string; offset: number; nextOffset: number }> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch {
    return { data: '', offset: 0, nextOffset: 0 };
  }
  let start = offset ?? (tail !== undefined ? Math.max(0, size - tail) : Math.max(0, size - MAX_LOG_CHUNK));
  if (start > size) start = size;
  const length = Math.min(size - start, MAX_LOG_CHUNK);
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, start);
    return { data: buf.toString('utf8'), offset: start, nextOffset: start + length };
  } finally {
    await fh.close();
  }
}

function streamEvents(res: import('node:http').ServerResponse, deps: ApiDeps, query: { afterSeq?: number; vm?: string }, vm: string | undefined): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  // Subscribe before replaying the backlog so nothing published in between is lost; seq dedupes.
  let lastSent = 0;
  let replayed = query.afterSeq === undefined;
  const queued: HangarEvent[] = [];
  const deliver = (e: HangarEvent) => {
    if (e.seq <= lastSent) return;
    lastSent = e.seq;
    res.write(`id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
  };
  const unsubscribe = deps.events.subscribe((e) => {
    if (vm !== undefined && e.vm !== vm) return;
    if (replayed) deliver(e);
    else queued.push(e);
  });
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  res.on('close', () => {
    unsubscribe();
    clearInterval(heartbeat);
  });
  res.write(': connected\n\n');
  if (!replayed) {
    void deps.store.listEvents({ ...query, limit: 10_000 }).then((backlog) => {
      backlog.forEach(deliver);
      queued.forEach(deliver);
      replayed = true;
    });
  }
}

/**
 * GET /v1/vms/:name/console upgrades to a WebSocket carrying the serial console as
 * binary frames both ways. `?replay=1` first sends recent output.
 */
function attachConsoleWebSocket(app: FastifyInstance, deps: ApiDeps): void {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const hubs = new Map<string, SerialHub>();
  const hubFor = (id: string, socketPath: string): SerialHub => {
    let hub = hubs.get(id);
    if (!hub) {
      hub = new SerialHub(socketPath);
      hubs.set(id, hub);
    }
    return hub;
  };

  const refuse = (socket: Duplex, status: number, body: { code: string; message: string }) => {
    const json = JSON.stringify(body);
    socket.end(`HTTP/1.1 ${status} Error\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(json)}\r\nconnection: close\r\n\r\n${json}`);
  };

  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://hangar');
      const m = /^\/v1\/vms\/([^/]+)\/console$/.exec(url.pathname);
      if (!m) return refuse(socket, 404, { code: 'NOT_FOUND', message: `No WebSocket endpoint at ${url.pathname}.` });
      try {
        const rec = await deps.vms.record(decodeURIComponent(m[1]!));
        if (!rec.runtime || !isActive(rec.state)) {
          throw new HangarError('VM_STATE', `VM "${rec.name}" is ${rec.state}: start it to use its console.`);
        }
        const hub = hubFor(rec.id, rec.runtime.serialSocket);
        wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
          // Keystrokes may arrive before the hub has connected to QEMU: hold them, never drop them.
          const early: Buffer[] = [];
          const holdEarly = (data: Buffer) => early.push(data);
          ws.on('message', holdEarly);
          void hub
            .attach({ onData: (d) => ws.send(d, { binary: true }), onClose: (reason) => ws.close(1000, reason.slice(0, 120)) }, { replay: url.searchParams.get('replay') === '1' })
            .then((att) => {
              ws.off('message', holdEarly);
              for (const data of early) att.write(data);
              ws.on('message', (data: Buffer) => att.write(data));
              ws.on('close', () => {
                att.detach();
                if (hub.viewerCount === 0) {
                  hub.close();
                  hubs.delete(rec.id);
                }
              });
            })
            .catch((e: unknown) => ws.close(1011, `console unavailable: ${e instanceof Error ? e.message : String(e)}`.slice(0, 120)));
        });
      } catch (e) {
        const body = toErrorBody(e);
        refuse(socket, ERROR_CATALOGUE[body.code].status, body);
      }
    })();
  });
}

/** The one place where anything thrown becomes a client-facing error. */
export function toErrorBody(err: unknown): { code: keyof typeof ERROR_CATALOGUE; message: string; details?: Record<string, unknown> } {
  if (isHangarError(err)) return err.toJSON();
  if (err instanceof QmpError) {
    return { code: 'QMP_ERROR', message: `QEMU refused ${err.command}: ${err.desc} (${err.errorClass}).`, details: { command: err.command, class: err.errorClass } };
  }
  if (err instanceof QmpTimeoutError) return { code: 'TIMEOUT', message: `QEMU did not answer in time: ${err.message}. Check the VM with \`hangar vm show\`.` };
  if (err instanceof QmpClosedError) return { code: 'VM_STATE', message: `The VM's QEMU went away during the request: ${err.message}. See \`hangar vm show\`.` };
  const fe = err as FastifyError & { validation?: unknown[]; validationContext?: string };
  if (fe && fe.validation) {
    return { code: 'INVALID_SPEC', message: `Invalid request: ${fe.message}. See /v1/openapi.json for the accepted fields.` };
  }
  if (fe && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { code: 'INVALID_SPEC', message: `Invalid request: ${fe.message}.` };
  }
  return { code: 'INTERNAL', message: `Internal error: ${err instanceof Error ? err.message : String(err)}. This is a bug in Hangar; the daemon log has details.` };
}
