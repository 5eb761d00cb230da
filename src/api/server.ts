/**
 * The REST + WebSocket API. Routes are thin: they validate (src/contract), call a
 * service, and shape the reply. Every error leaves through one handler as
 * `{code, message}` with the catalogue's HTTP status.
 */
import type { IncomingMessage } from 'node:http';
import { readFile } from 'node:fs/promises';
import { hostname, loadavg } from 'node:os';
import type { Duplex } from 'node:stream';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import type { WebSocket } from 'ws';
import { lazyWebSocketServer } from '../util/lazy-ws.js';
import { readLogChunk } from '../logd/read.js';
import { ERROR_CATALOGUE, errorText, HangarError, toHangarError } from '../errors/errors.js';
import { validateVolumeName } from '../storage/pool.js';
import type { EventBus } from '../events/bus.js';
import type { ImageCatalog, ImportImageInput } from '../images/catalog.js';
import type { HostCapsReport } from '../qemu/host-caps.js';
import type { HangarEvent, Store } from '../store/store.js';
import { hostCapacity, type HostInfo, type VmService, type VmSettings, type VmView } from '../vm/service.js';
import type { StorageService } from '../storage/service.js';
import type { OperationService } from '../operations/service.js';
import type { Accel } from '../model/spec.js';
import { registerStorageRoutes } from './routes/storage.js';
import { registerSnapshotRoutes } from './routes/snapshots.js';
import { registerBackupRoutes } from './routes/backups.js';
import type { BackupService } from '../backup/service.js';
import type { BackupScheduler } from '../backup/schedules.js';
import { registerCloneRoutes, registerVmListRoute } from './routes/clone.js';
import { registerMediaRoutes } from './routes/media.js';
import { operationIdOf } from './operation-ids.js';
import { registerMigrationRoutes } from './routes/migration.js';
import { registerFirmwareRoutes } from './routes/firmware.js';
import type { SaveService } from '../migration/save.js';
import type { LiveMigrationService } from '../migration/live.js';
import type { ClusterMoveService } from '../migration/cluster-move.js';
import type { Evacuations } from '../cluster/evacuate.js';
import { registerClusterMoveRoutes } from './routes/cluster-moves.js';
import type { PeerService } from '../migration/peers.js';
import { registerNetworkRoutes } from './routes/networks.js';
import { registerProjectRoutes } from './routes/projects.js';
import { registerTokenRoutes } from './routes/tokens.js';
import { registerClusterRoutes, registerForwarding } from './routes/cluster.js';
import { registerGroupRoutes } from './routes/groups.js';
import { registerHookRoutes } from './routes/hooks.js';
import { registerHostGuestRoutes } from './routes/host-guests.js';
import type { HostGuests } from '../host/shutdown-guests.js';
import type { HookService } from '../hooks/service.js';
import { registerImportOvfRoutes } from './routes/import-ovf.js';
import { registerImportLibvirtRoutes } from './routes/import-libvirt.js';
import type { ClusterService } from '../cluster/service.js';
import { registerConsoleRoutes, type DisplayConsoles } from './routes/consoles.js';
import { parseConsolePath } from '../contract/consoles.js';
import { ConsoleForwarder } from './console-forward.js';
import { upgradeActor } from '../auth/transport.js';
import { registerUi } from './ui.js';
import { registerAuth, type AuthContext } from '../auth/hooks.js';
import { eventVisibility } from '../auth/scope.js';
import type { ProjectService } from '../projects/service.js';
import type { ProfileService } from '../profiles/service.js';
import { registerProfileRoutes } from './routes/profiles.js';
import { registerTemplateRoutes } from './routes/templates.js';
import type { TemplateService } from '../templates/service.js';
import type { NetworkService } from '../network/service.js';
import type { SnapshotService } from '../snapshots/service.js';
import { isActive } from '../model/states.js';
import { SerialHub } from '../console/serial-hub.js';
import { instrumentApi, registerMetricsRoutes } from './routes/metrics.js';
import type { MetricsSampler } from '../metrics/sampler.js';
import type { PrometheusMetrics } from '../metrics/prometheus.js';
import { registerAuditHooks, registerAuditRoutes, type AuditLog } from '../audit/audit.js';
import { lazyCompilersFactory } from './lazy-compilers.js';
import {
  Backup, BackupRepo, BackupSchedule, CreateVmBody, DeleteQuery, Peer, ErrorBody, Event, EventsQuery, EventType, HostReply, Image, ImageParam, ImportImageBody, LogsQuery, LogsReply, Network, Operation, Pool, Project, Snapshot, ExecBody, ExecReply, GuestInfoReply, StartVmBody, StopBody, Vm, VmNameParam, VmSettingsBody, VmSettingsReply, Volume,
} from '../contract/index.js';

export interface ApiDeps {
  vms: VmService;
  storage: StorageService;
  operations: OperationService;
  snapshots: SnapshotService;
  backups: BackupService;
  backupSchedules: BackupScheduler;
  /** Save/restore of VM memory (src/migration); absent: save answers VM_STATE. */
  saves?: SaveService;
  /** Other daemons to migrate to, and live migration (src/migration); absent: those routes answer VM_STATE. */
  peers?: PeerService;
  migrations?: LiveMigrationService;
  /** Moves between the nodes of a cluster, evacuation and restore (src/migration/cluster-move.ts, src/cluster/evacuate.ts). */
  moves?: ClusterMoveService;
  evacuations?: Evacuations;
  networks: NetworkService;
  projects: ProjectService;
  /** Profiles and instance types (src/profiles); absent: VMs are created and set without them. */
  profiles?: ProfileService;
  /** Warm templates and clones (src/templates); absent: those routes answer NOT_FOUND. */
  templates?: TemplateService;
  accel: Accel;
  events: EventBus;
  store: Store;
  images: ImageCatalog;
  caps: HostCapsReport;
  host: HostInfo;
  version: string;
  logger?: boolean;
  /** Told of every 5xx answer (the daemon logs it with the stack). */
  onServerError?: (err: unknown, route: string) => void;
  /** The metrics sampler and Prometheus registry (src/metrics); absent: /metrics answers NOT_FOUND. */
  metrics?: { sampler: MetricsSampler; prometheus: PrometheusMetrics };
  /** The audit log of mutating calls (src/audit); absent: nothing is recorded. */
  audit?: AuditLog;
  /** Tokens, roles and project scopes (src/auth); absent only when rendering the OpenAPI document. */
  auth?: AuthContext;
  /** The cluster this node is in, if any (src/cluster); absent: the cluster routes answer NOT_IN_CLUSTER. */
  cluster?: ClusterService;
  /** Webhooks (src/hooks); absent only when rendering the OpenAPI document. */
  hooks?: HookService;
  /** Host shutdown and start of every guest (src/daemon/host-guests.ts); absent: those routes answer VM_STATE. */
  hostGuests?: HostGuests;
  /** The built web UI served at / and /ui/ (default: ui/dist of this checkout). */
  uiDir?: string;
  /** Compile (and check against the JSON Schema meta-schema) every route's schemas as routes are added, not on first use: for the tests. */
  eagerSchemas?: boolean;
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
    // Validators and serializers compile on each route's first use, not at start-up.
    schemaController: { compilersFactory: lazyCompilersFactory({ eager: deps.eagerSchemas === true }) },
    // A path segment that is not valid percent-encoding, or longer than any name, is refused
    // before routing: answer in the catalogue's shape too, not with Fastify's own body.
    frameworkErrors: (err, _req, reply) => {
      const message = err.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? 'A name in the URL is longer than any valid name (at most 100 characters).'
        : 'The URL is not valid: a path segment is not correctly percent-encoded.';
      void (reply as unknown as FastifyReply).status(ERROR_CATALOGUE.INVALID_SPEC.status).send({ code: 'INVALID_SPEC', message });
    },
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Hangar API', version: deps.version, description: 'Manage virtual machines on this host. Errors: see the Error schema; `code` is stable. The serial console is a WebSocket at GET /v1/vms/{name}/console (binary frames both ways; ?replay=1 first sends recent output). The graphical consoles are WebSockets too, raw protocol bytes in binary frames, each viewer with its own connection to QEMU: GET /v1/vms/{name}/vnc (RFB, for noVNC) and GET /v1/vms/{name}/spice (SPICE, for spice-html5); CONSOLE_UNAVAILABLE when the VM has no such display. On the unix socket no credentials are needed; on the TLS (TCP) listener every request needs `Authorization: Bearer hgr_…`, and a console WebSocket needs ?token= from POST /v1/vms/{name}/console-tokens (of the console\'s type: serial, vnc or spice).' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API token (hangar token create): hgr_<id>_<secret>. Not needed on the unix socket.' } } },
      security: [{ bearer: [] }],
      tags: [{ name: 'vms' }, { name: 'migration' }, { name: 'storage' }, { name: 'snapshots' }, { name: 'backups' }, { name: 'networks' }, { name: 'projects' }, { name: 'profiles' }, { name: 'templates' }, { name: 'images' }, { name: 'operations' }, { name: 'events' }, { name: 'host' }, { name: 'tokens' }, { name: 'cluster' }, { name: 'metrics' }, { name: 'audit' }, { name: 'hooks' }],
    },
    // Components named after their $id (Vm, Error…) rather than def-N.
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  // Every documented operation gets its stable operationId (generated clients' method names)
  // and, when its schema lists no error answer, the Error body as its default answer.
  app.addHook('onRoute', (route) => {
    const schema = route.schema as { hide?: boolean; operationId?: string; response?: Record<string, unknown> } | undefined;
    const method = String(Array.isArray(route.method) ? route.method[0] : route.method);
    if (schema?.hide || method === 'HEAD') return;
    route.schema = { ...schema, operationId: operationIdOf(method, route.url) };
    const response = schema?.response;
    if (response && !Object.keys(response).some((k) => /^[45]|^default$/.test(k))) {
      route.schema.response = { ...response, default: { $ref: 'Error#' } };
    }
  });
  app.addSchema(ErrorBody);
  app.addSchema(Vm);
  app.addSchema(Image);
  app.addSchema(Event);
  app.addSchema(EventType);
  app.addSchema(Pool);
  app.addSchema(Volume);
  app.addSchema(Operation);
  app.addSchema(Snapshot);
  app.addSchema(Backup);
  app.addSchema(BackupRepo);
  app.addSchema(BackupSchedule);
  app.addSchema(Network);
  app.addSchema(Project);
  app.addSchema(Peer);
  registerAuth(app, deps.auth);
  instrumentApi(app, deps);
  registerAuditHooks(app, deps.audit);
  registerForwarding(app, deps);

  // A POST without a body (`curl -X POST …/stop`) means "no options": validate it as {}.
  app.addHook('preValidation', async (req) => {
    if (req.body === undefined && req.method !== 'GET' && req.method !== 'HEAD') req.body = {};
  });
  // Right after a daemon restart the API answers before every guest is re-adopted: a request
  // about one VM waits for that VM's adoption (lists answer at once, marking it `adopting`).
  app.addHook('preHandler', async (req) => {
    const name = (req.params as { name?: unknown } | undefined)?.name;
    if (typeof name === 'string' && req.url.startsWith('/v1/vms/')) await deps.vms.adopted(name);
  });
  app.setErrorHandler((err: FastifyError | HangarError | Error, req, reply) => {
    const body = toErrorBody(err);
    if (ERROR_CATALOGUE[body.code].status >= 500) deps.onServerError?.(err, `${req.method} ${req.routeOptions.url ?? req.url}`);
    void reply.status(ERROR_CATALOGUE[body.code].status).send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ code: 'NOT_FOUND', message: `No route ${req.method} ${req.url}: see /v1/openapi.json.` });
  });

  app.get('/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get('/v1/host', { schema: { tags: ['host'], summary: 'Host capacity, accelerator and VM counts', response: { 200: HostReply } } }, async () => {
    const vms = await deps.vms.list();
    const capacity = hostCapacity(deps.host);
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
      version: deps.version, versions: hostVersions(deps), hostname: hostname(), cpus: deps.host.cpus, memory: deps.host.memoryMiB,
      accel: deps.accel, autoAccel: deps.caps.defaultAccel, kvmUsable: deps.caps.kvmUsable, qemuVersion: deps.caps.qemuVersion || undefined,
      vms: counts, allocated: { cpus, memory },
      capacity: { cpus: capacity.cpus, memory: capacity.memoryMiB },
      policy: { cpuOvercommit: deps.host.cpuOvercommit, memoryOvercommit: deps.host.memoryOvercommit, reservedMemory: deps.host.reservedMemoryMiB },
      use: await hostUse(vms, deps),
      ...(deps.auth?.tls && { tls: { fingerprint: deps.auth.tls.fingerprint, listen: deps.auth.tls.listen } }),
    };
  });

  registerVmRoutes(app, deps);
  registerStorageRoutes(app, deps);
  registerSnapshotRoutes(app, deps);
  registerBackupRoutes(app, deps);
  registerMediaRoutes(app, deps);
  registerMigrationRoutes(app, deps);
  registerFirmwareRoutes(app, deps);
  registerNetworkRoutes(app, deps);
  registerProjectRoutes(app, deps);
  registerProfileRoutes(app, deps);
  registerTemplateRoutes(app, deps);
  registerTokenRoutes(app, deps);
  registerClusterRoutes(app, deps);
  registerGroupRoutes(app, deps);
  registerHookRoutes(app, deps);
  registerHostGuestRoutes(app, deps);
  registerImportLibvirtRoutes(app, deps);
  registerClusterMoveRoutes(app, deps);
  registerMetricsRoutes(app, deps);
  registerImportOvfRoutes(app, deps);
  registerAuditRoutes(app, deps);
  await registerUi(app, deps.uiDir);

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
      // A name that can never be valid is refused now, before an operation exists for it.
      validateVolumeName(req.body.name, 'image');
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
      streamEvents(reply.raw, deps, query, req.query.vm, deps.auth && req.principal ? eventVisibility(req.principal, deps.auth.lookups) : undefined);
      eventStreams.add(reply.raw);
      reply.raw.on('close', () => eventStreams.delete(reply.raw));
      return reply.hijack();
    },
  );
  // A stream never ends by itself: end them when the daemon stops, or close() would wait for every follower.
  const eventStreams = new Set<import('node:http').ServerResponse>();
  app.addHook('preClose', async () => {
    for (const res of eventStreams) res.end();
  });

  attachConsoleWebSocket(app, deps, registerConsoleRoutes(app, deps));
  return app;
}

function registerVmRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const one = { params: VmNameParam, response: { 200: { $ref: 'Vm#' }, ...errorResponses } };
  const action = (summary: string, extra: Record<string, unknown> = {}) => ({ schema: { tags: ['vms'], summary, ...one, ...extra } });

  registerVmListRoute(app, deps);
  registerCloneRoutes(app, deps);

  app.post<{ Body: CreateVmBody }>(
    '/v1/vms',
    { schema: { tags: ['vms'], summary: 'Create a VM (and start it with start=true)', body: CreateVmBody, response: { 201: { $ref: 'Vm#' }, ...errorResponses } } },
    async (req, reply) => {
      const vm = await (deps.profiles ? deps.profiles.createVm(req.body) : deps.vms.create(req.body));
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
    async (req) => (deps.profiles ? deps.profiles.setVm(req.params.name, req.body) : deps.vms.set(req.params.name, req.body)),
  );

  app.delete<{ Params: { name: string }; Querystring: { force?: string } }>(
    '/v1/vms/:name',
    { schema: { tags: ['vms'], summary: 'Delete a VM (refused while it runs unless force=true)', params: VmNameParam, querystring: DeleteQuery, response: { 204: { type: 'null' }, ...errorResponses } } },
    async (req, reply) => {
      await deps.vms.delete(req.params.name, { force: req.query.force === 'true' });
      return reply.status(204).send();
    },
  );

  app.post<{ Params: { name: string }; Body: { fresh?: boolean; bootOnce?: string } | undefined }>(
    '/v1/vms/:name/start',
    action('Start a VM; returns when it runs. A saved VM is restored where it was (fresh=true discards the save and boots); bootOnce boots this start from a device kind first', { body: StartVmBody }),
    async (req) => deps.vms.start(req.params.name, req.body ?? {}),
  );
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


function streamEvents(
  res: import('node:http').ServerResponse, deps: ApiDeps, query: { afterSeq?: number; vm?: string }, vm: string | undefined,
  /** For project tokens: which events they may see (checked in order, one at a time). */
  visible?: (e: HangarEvent) => Promise<boolean>,
): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  // Subscribe before replaying the backlog so nothing published in between is lost; seq dedupes.
  let lastSent = 0;
  let replayed = query.afterSeq === undefined;
  const queued: HangarEvent[] = [];
  const write = (e: HangarEvent) => {
    if (e.seq <= lastSent) return;
    lastSent = e.seq;
    res.write(`id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
  };
  let inOrder = Promise.resolve();
  const deliver = visible === undefined ? write : (e: HangarEvent) => {
    inOrder = inOrder.then(async () => {
      if (await visible(e).catch(() => false)) write(e);
    });
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
 * binary frames both ways. `?replay=1` first sends recent output. The graphical consoles
 * (/vnc, /spice) are handed to `displays` (routes/consoles.ts).
 */
function attachConsoleWebSocket(app: FastifyInstance, deps: ApiDeps, displays: DisplayConsoles): void {
  const wss = lazyWebSocketServer({ maxPayload: 64 * 1024 });
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

  const carried = deps.cluster && new ConsoleForwarder(deps.cluster);
  if (carried) app.addHook('preClose', async () => carried.closeAll());

  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://hangar');
      const display = parseConsolePath(url.pathname);
      // One API: the console of a VM another node runs is carried to that node (once).
      const self = deps.cluster?.nodeName;
      if (carried && display && self && !req.headers['x-hangar-forwarded-by']) {
        try {
          const node = (await deps.store.getVm(display.vm))?.node;
          if (node && node !== self) return await carried.carry(req, socket, head, { ...display, node }, upgradeActor(req));
        } catch (e) {
          const body = toErrorBody(e);
          return refuse(socket, ERROR_CATALOGUE[body.code].status, body);
        }
      }
      if (display && display.type !== 'serial') return displays.upgrade(req, socket, head, display.vm, display.type);
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
            .catch((e: unknown) => ws.close(1011, `console unavailable: ${errorText(e)}`.slice(0, 120)));
        });
      } catch (e) {
        const body = toErrorBody(e);
        refuse(socket, ERROR_CATALOGUE[body.code].status, body);
      }
    })();
  });
}

/** `host show`'s versions: the daemon's, Node's, QEMU's and the store's schema. */
function hostVersions(deps: ApiDeps): HostReply['versions'] {
  const store = deps.store.schema?.();
  return {
    hangar: deps.version, node: process.versions.node, ...(deps.caps.qemuVersion && { qemu: deps.caps.qemuVersion }),
    ...(store && { store: store.kind, storeSchema: store.schema, ...(store.writtenBy && { storeWrittenBy: store.writtenBy }) }),
  };
}

/** What the host uses now: memory available, load, and the guests' QEMU processes' memory (newest metrics samples). */
async function hostUse(vms: VmView[], deps: ApiDeps): Promise<{ memoryAvailable: number; load1: number; qemuRss?: number }> {
  const meminfo = await readFile('/proc/meminfo', 'utf8').catch(() => '');
  const availableKiB = Number(/^MemAvailable:\s+(\d+)/m.exec(meminfo)?.[1] ?? 0);
  const use: { memoryAvailable: number; load1: number; qemuRss?: number } = { memoryAvailable: Math.floor(availableKiB / 1024), load1: Math.round(loadavg()[0]! * 100) / 100 };
  const sampler = deps.metrics?.sampler;
  if (sampler) {
    let rss = 0;
    for (const v of vms) if (isActive(v.state)) rss += sampler.latest(v.id)?.rssBytes ?? 0;
    use.qemuRss = Math.round(rss / (1024 * 1024));
  }
  return use;
}

/** The one place where anything thrown becomes a client-facing error (the catalogue's toHangarError). */
export function toErrorBody(err: unknown): { code: keyof typeof ERROR_CATALOGUE; message: string; details?: Record<string, unknown> } {
  return toHangarError(err, [requestError]).toJSON();
}

/** Fastify's own errors about a request (schema validation, a bad body): the client's to fix. */
function requestError(err: unknown): HangarError | undefined {
  const fe = err as Partial<FastifyError> & { validation?: unknown[] };
  if (typeof fe !== 'object' || fe === null) return undefined;
  if (fe.validation) return new HangarError('INVALID_SPEC', `Invalid request: ${fe.message}. See /v1/openapi.json for the accepted fields.`, { cause: err });
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) return new HangarError('INVALID_SPEC', `Invalid request: ${fe.message}.`, { cause: err });
  return undefined;
}
