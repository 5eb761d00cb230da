/**
 * The Hangar daemon: opens the store, re-adopts running guests, and serves the API on
 * a unix socket. Stopping the daemon never stops a guest.
 */
import type { ServerResponse } from 'node:http';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { buildApi } from '../api/server.js';
import { HangarError } from '../errors/errors.js';
import { EventBus } from '../events/bus.js';
import { ImageCatalog } from '../images/catalog.js';
import { QEMU_BINARY } from '../qemu/argv.js';
import { detectHostCaps } from '../qemu/host-caps.js';
import { isSameLiveProcess, readProcStat } from '../qemu/process.js';
import { ClusterService } from '../cluster/service.js';
import { checkReach } from '../store/node-lists.js';
import { assertSqliteSchemaKnown } from '../store/schema.js';
import { SQLITE_SCHEMA } from '../store/sqlite.js';
import { nodeSelf } from './cluster-node.js';
import { VmService } from '../vm/service.js';
import { DEFAULT_GUEST_UID_BASE, canDropPrivileges, kvmGroupId } from '../security/guest-identity.js';
import { OperationService } from '../operations/service.js';
import { StorageService } from '../storage/service.js';
import { SnapshotService } from '../snapshots/service.js';
import { BackupService } from '../backup/service.js';
import { backupScheduler } from '../backup/schedules.js';
import { LastBackups } from '../backup/last-backups.js';
import { SaveService } from '../migration/save.js';
import { HostGuestsService } from './host-guests.js';
import { TemplateService } from '../templates/service.js';
import { ClusterMoveService } from '../migration/cluster-move.js';
import { Evacuations } from '../cluster/evacuate.js';
import { offlineRecovery } from '../cluster/evacuate-offline.js';
import { LiveMigrationService } from '../migration/live.js';
import { PeerService } from '../migration/peers.js';
import { detectCgroups } from '../resources/cgroups.js';
import { NetworkService } from '../network/service.js';
import { ProjectService } from '../projects/service.js';
import { ProfileService } from '../profiles/service.js';
import type { DaemonConfig } from './config.js';
import { createLogger, networkLogFields, vmLogFields } from './logging.js';
import { MetricsSampler } from '../metrics/sampler.js';
import { PrometheusMetrics } from '../metrics/prometheus.js';
import { AuditLog } from '../audit/audit.js';
import { HookService } from '../hooks/service.js';
import { HookDeliverer } from '../hooks/deliverer.js';
import { createAuthContext, secureSocket, startTlsListeners } from '../auth/setup.js';
import { VERSION } from '../version.js';
import { LogdLink } from '../logd/link.js';

/** Housekeeping after the start begins at the latest this long after the daemon listens (see runDaemon). */
const HOUSEKEEPING_DELAY_MS = 200;

export interface RunningDaemon {
  stop(): Promise<void>;
}

export async function runDaemon(config: DaemonConfig): Promise<RunningDaemon> {
  const logger = createLogger({ format: config.logFormat, level: config.logLevel });
  // A store a newer Hangar wrote (a downgrade) is refused first: no directory made, no
  // pidfile or socket touched, nothing migrated, no guest adopted (etcd's is checked as it opens).
  if (!existsSync(join(config.dataDir, 'cluster.json'))) assertSqliteSchemaKnown(join(config.dataDir, 'hangar.db'), SQLITE_SCHEMA);
  for (const dir of [config.dataDir, config.runDir, config.logDir, join(config.runDir, 'vms')]) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  }
  const lockFile = join(config.dataDir, 'daemon.pid');
  await takeLock(lockFile);

  // `qemu-system-x86_64 --version` (when its cached answer is stale) is a process of its own: it runs while the store opens and the services start.
  const capsDetected = detectHostCaps(QEMU_BINARY, { cacheDir: config.cacheDir });
  // SQLite on a single host; etcd once the node is in a cluster (<data-dir>/cluster.json).
  const cluster = await ClusterService.open({ dataDir: config.dataDir, log: (m) => logger.warn(m), self: nodeSelf(config) }).catch(async (e: unknown) => {
    await rm(lockFile, { force: true });
    throw e;
  });
  const store = cluster.store;
  const events = new EventBus(store);
  const images = new ImageCatalog({ cacheDir: config.cacheDir, imagesDir: join(config.dataDir, 'images'), store, events, log: (msg) => logger.info(msg) });
  await images.init();
  const host = { cpus: cpus().length, memoryMiB: Math.floor(totalmem() / (1024 * 1024)), cpuOvercommit: config.cpuOvercommit, memoryOvercommit: config.memoryOvercommit, reservedMemoryMiB: config.reservedMemoryMiB };
  const storage = new StorageService(store, events, config.dataDir, () => cluster.nodeName);
  await storage.init();
  const operations = new OperationService(store, events);
  await operations.markInterrupted();
  const cgroups = detectCgroups();
  // The VM service answers which VMs use a network; it is created right below.
  const ref: { vms?: VmService } = {};
  const networks = new NetworkService(store, events, { stateDir: join(config.dataDir, 'networks'), prefix: config.netPrefix, node: () => cluster.nodeName, log: (m) => logger.info(networkLogFields(m), m) }, (n) => ref.vms!.usersOfNetwork(n));
  // Repairing the stored networks runs `ip` and `nft`: beside the rest of the start, done before the API answers.
  const networksReady = networks.init((m) => logger.warn(networkLogFields(m), m));
  networksReady.catch(() => undefined); // awaited (and thrown) below, before the API listens
  const projects = new ProjectService(store, events, (p) => ref.vms!.projectUsage(p));
  await projects.init();
  const caps = await capsDetected;
  if (config.accel === 'auto' && caps.kvmUsable) {
    // /dev/kvm opening is not enough (nested KVM here runs guests thousands of times too slowly): probe for real.
    const { probeKvm } = await import('../host/kvm-probe.js');
    const probe = await probeKvm(caps.qemuPath ?? QEMU_BINARY, 3000, { cacheDir: config.cacheDir }).catch(() => ({ usable: false, detail: 'the probe failed' }));
    if (!probe.usable) {
      caps.kvmUsable = false;
      caps.defaultAccel = 'tcg';
      logger.warn({ detail: probe.detail }, 'KVM is present but guests do not run on it: accel auto means TCG here');
    }
  }
  // One unprivileged user per guest's QEMU (only a root daemon can start processes as others).
  const guestUsers = config.guestUsers && canDropPrivileges() ? { uidBase: DEFAULT_GUEST_UID_BASE, gid: await kvmGroupId() } : undefined;
  if (!guestUsers) logger.warn("guests' QEMU runs as the daemon's own user (--no-guest-users, or the daemon is not root)");
  // logd caps the guests' serial and QEMU logs, also while no daemon runs: adopted, or started.
  const logd = new LogdLink({ runDir: config.runDir, limits: { maxSize: config.logMaxSize, maxBackups: config.logMaxBackups }, log: (m) => logger.info(m) });
  const logdStarted = logd.start().catch((e: unknown) => logger.error({ err: e }, "starting logd failed: guests' logs are not capped until it runs"));
  const vms = new VmService({
    store, node: () => cluster.nodeName, ...(!config.imageLocking && { imageLocking: false }), mayStart: async (rec) => {
      cluster.mayStart(rec);
      await checkReach(store, cluster.nodeName, rec);
    }, diskOwners: () => cluster.diskOwners(), storage, events, images, caps, host, networks, projects, ...(cgroups && { cgroups }), ...(caps.qemuPath && { qemuBinary: caps.qemuPath }), defaultAccel: config.accel, runDir: config.runDir, logDir: config.logDir,
    log: (msg) => logger.warn(vmLogFields(msg), msg),
    ...(guestUsers && { guestUsers }),
    tpm: { stateRoot: join(config.dataDir, 'tpm'), ...(config.swtpm !== undefined && { swtpmBinary: config.swtpm }) },
    shareRoots: config.shareRoots, logs: logd, memoryRoot: join(config.dataDir, 'memory'), templatesRoot: join(config.dataDir, 'templates'),
  });
  ref.vms = vms;
  // HA (in a cluster): VMs of lost nodes are started here when placement picks this node.
  cluster.useHa({ start: (name) => vms.start(name), publish: (type, vm, data) => events.publish(type, vm, data) });
  const backups = new BackupService({ store, events, vms, storage, runDir: config.runDir, tpmRoot: join(config.dataDir, 'tpm'), tapFor: (id, nic) => networks.tapFor(id, nic), log: (m) => logger.warn(m),
    // A live restore's NBD server runs as `hangar backup serve`, with this daemon's node and bin/hangar.
    ...(process.argv[1] && { hangar: [process.execPath, process.argv[1]] }), ...(config.liveRestoreBps && { liveRestoreSpeed: config.liveRestoreBps }) });
  const backupSchedules = backupScheduler({ store, backups, operations }, { minEverySeconds: config.backupScheduleMinSeconds, log: (m) => logger.warn(m) });
  const lastBackups = new LastBackups(events);
  const snapshots = new SnapshotService(store, events, vms);
  snapshots.useBackupBitmaps((rec, qmp, reason) => backups.dropBitmaps(rec, qmp, reason));
  const saves = new SaveService(vms, events, config.dataDir, (m) => logger.info(m));
  // Re-adoption mostly waits for each guest's QMP socket: it goes on while the API is built,
  // booted and answering; until a guest is adopted, lists mark it `adopting` and requests
  // about it wait (see VmService.adopted).
  const templates = new TemplateService({ store, vms, storage, events, dataDir: config.dataDir, memoryRoot: join(config.dataDir, 'memory'), tapFor: (id, nic) => networks.tapFor(id, nic), log: (m) => logger.warn(m) });
  const adopted = vms.adoptAll().then(() => saves.recover().catch((e: unknown) => logger.error({ err: e }, 'recovering interrupted saves failed')))
    // Warm clones a killed daemon was making: complete ones stay, the others go (before anyone sees them).
    .then(() => templates.recover().catch((e: unknown) => logger.error({ err: e }, 'recovering interrupted warm clones and templates failed')))
    // logd lets go of the logs of guests that ended while no daemon ran (it also notices by itself).
    .then(async () => {
      await logdStarted;
      await logd.keep((await store.listVms()).filter((r) => vms.isLocal(r) && r.runtime).map((r) => r.id)).catch((e: unknown) => logger.warn({ err: e }, 'tidying the watches of logd failed'));
    });
  adopted.catch(() => undefined); // logged below
  const peers = new PeerService(store, events);
  const migrations = new LiveMigrationService(vms, storage, peers, events, (m) => logger.info(m));
  // Moves between the nodes of a cluster, and node evacuate / restore.
  const moves = new ClusterMoveService({ vms, store, events, cluster, runDir: config.runDir, log: (m) => logger.info(m) });
  const evacuations = new Evacuations({
    store, events, cluster, log: (m) => logger.warn(m),
    // An offline node's HA VMs: HA restarts them elsewhere (the evacuation waits for it); the others are stranded.
    recoverOffline: offlineRecovery({ store, events, pool: (name) => storage.poolRecord(name), timings: () => cluster.timings }),
  });
  const auth = createAuthContext({ store, projects, storage, operations });
  // This node's guests (in a cluster the store holds every node's).
  const localVms = async () => (await store.listVms()).filter((r) => vms.isLocal(r));
  // Host shutdown and start: every guest stopped or saved, restored and autostarted (hangar-guests.service).
  const hostGuests = new HostGuestsService({ vms, saves, events, localVms, log: (m) => logger.info(m) });
  const sampler = new MetricsSampler(
    { listVms: localVms, monitor: (id) => vms.monitor(id) },
    { intervalSeconds: config.metricsInterval, historySeconds: config.metricsHistory, templatesRoot: join(config.dataDir, 'templates'), log: (f, m) => logger.warn(f, m) },
  );
  const prometheus = new PrometheusMetrics({
    listVms: localVms, sampler, host, version: VERSION, cluster,
    backups: { last: (vm) => lastBackups.get(vm), schedules: () => backupSchedules.states() },
  });
  // Webhooks: the deliverer follows the event log from each hook's stored cursor.
  const hookRef: { deliverer?: HookDeliverer } = {};
  const hooks = new HookService({ store, node: () => cluster.nodeName, changed: () => void hookRef.deliverer?.sync() });
  hookRef.deliverer = new HookDeliverer({ store, events, hooks: () => hooks.records(), userAgent: `Hangar-Hooks/${VERSION}`, log: (m) => logger.warn(m) });
  const audit = new AuditLog(store, { info: (f, m) => logger.info(f, m), error: (f, m) => logger.error(f, m) });
  const app = await buildApi({ cluster, vms, storage, operations, snapshots, backups, backupSchedules, saves, peers, migrations, moves, evacuations, hostGuests, networks, projects, profiles: new ProfileService(store, vms), templates, events, store, images, caps, host, accel: config.accel, version: VERSION, auth, metrics: { sampler, prometheus }, audit, hooks,
    onServerError: (err, route) => logger.error({ err, route }, 'API request failed with a server error'),
  });
  // Fastify's boot (plugins, the route tree) is the CPU-heavy part of building the API.
  const appReady = new Promise<void>((resolve, reject) => void app.ready((err) => (err ? reject(err) : resolve())));
  appReady.catch(() => undefined); // awaited (and thrown) below
  if (config.buildImages) void images.ensureBuilt();
  // Every event is also a log line (with `vm` when it concerns one).
  events.subscribe((e) => {
    const fields = { event: e.type, seq: e.seq, ...(e.vm !== undefined && { vm: e.vm }), data: e.data };
    if (e.type === 'operation.progress') logger.debug(fields, `event ${e.type}`);
    else logger.info(fields, `event ${e.type}`);
    // A deleted VM's backup schedule goes with it.
    if (e.type === 'vm.deleted') void backupSchedules.sweep().catch((err: unknown) => logger.error({ err }, 'removing the backup schedule of a deleted VM failed'));
  });
  // TLS listeners first: once the unix socket answers, the daemon is entirely up.
  let tls: Awaited<ReturnType<typeof startTlsListeners>> | undefined;
  try {
    await appReady;
    if (config.listen.length) {
      tls = await startTlsListeners(app, auth, { dataDir: config.dataDir, listen: config.listen, ...(config.tlsCert && { tlsCert: config.tlsCert }), ...(config.tlsKey && { tlsKey: config.tlsKey }) });
    }
  } catch (e) {
    await networksReady.catch(() => undefined);
    await adopted.catch(() => undefined);
    await app.close();
    await vms.detachAll();
    await store.close();
    await rm(lockFile, { force: true });
    throw e;
  }
  await networksReady;
  // A save the killed daemon left half done is settled (the guest resumed) before anyone can
  // see the paused guest: re-adoption and that recovery finish before the socket answers.
  await adopted.catch(() => undefined);
  await mkdir(join(config.socket, '..'), { recursive: true, mode: 0o755 });
  // The lock guarantees no other daemon owns this socket; a leftover file is stale.
  await rm(config.socket, { force: true });
  await app.listen({ path: config.socket });
  // Root and the `hangar` group only: the socket is full control of the host's VMs.
  const socketAccess = await secureSocket(config.socket, config.runDir, (m) => logger.warn(m));
  if (tls) logger.info({ listen: tls.addresses, fingerprint: tls.fingerprint, cert: tls.certFile, certificate: tls.origin }, `TLS API listening on ${tls.addresses.join(', ')}; certificate SHA-256 ${tls.fingerprint}`);
  await events.publish('daemon.started', undefined, { pid: process.pid, version: VERSION, accel: config.accel });
  const nodeApi = {
    ...(tls && { fingerprint: tls.fingerprint, certificate: tls }),
    // Nodes call each other with an admin token made once per cluster (its secret kept in etcd).
    createNodeToken: async (name: string) => (await auth.tokens.create({ name, role: 'admin' })).token,
  };
  // In a cluster: the node's record and lease. etcd may be away for a moment: retried, never fatal.
  const startMembership = (): void =>
    void cluster.start(nodeApi).catch((e: unknown) => {
      logger.warn({ err: e }, 'starting the node lease failed; retrying in 2 s');
      setTimeout(startMembership, 2000).unref();
    });
  startMembership();
  sampler.start();
  void hookRef.deliverer.start().catch((e: unknown) => logger.error({ err: e }, 'starting the webhook deliveries failed'));
  // Housekeeping starts once the daemon has answered its first request, or HOUSEKEEPING_DELAY_MS
  // after it listens: whoever waits for the daemon to come up is answered first. None of it is
  // needed to answer: a request about a VM waits for its adoption, creating a network for the
  // removal of what deleted networks left.
  let housekeepingBegun = false;
  const housekeeping = () => {
    clearTimeout(housekeepingTimer);
    if (housekeepingBegun) return;
    housekeepingBegun = true;
    prometheus.startProcessMetrics();
    // What deleted networks left on the host (`ip`, `nft`, a scan of /proc).
    void networks.removeLeftovers((m) => logger.warn(networkLogFields(m), m));
    // What needs every guest re-adopted first (it is by now).
    void adopted.then(
      () => {
        logger.info('re-adoption finished');
        // Live migrations a killed daemon was in the middle of (it may call a peer).
        void migrations.recover().catch((e: unknown) => logger.error({ err: e }, 'recovering interrupted migrations failed'));
        // Moves between nodes a killed daemon was in the middle of (the store says who has each guest).
        void moves.recover().catch((e: unknown) => logger.error({ err: e }, 'recovering interrupted moves between nodes failed'));
        // Snapshots a killed daemon was taking: finished inside QEMU but never recorded (it may wait for a save job).
        void snapshots.reconcile((m) => logger.warn(m)).catch((e: unknown) => logger.error({ err: e }, 'snapshot reconciliation failed'));
        // Backups a killed daemon was taking: fleecing nodes, exports and storage daemons go; bitmaps are folded.
        // Then the backup schedules start: a run missed while the daemon was down runs now, once.
        void backups.recover().catch((e: unknown) => logger.error({ err: e }, 'recovering interrupted backups failed'))
          .then(() => backups.resumeLiveRestores().catch((e: unknown) => logger.error({ err: e }, 'resuming live restores failed')))
          .then(() => backupSchedules.start())
          .catch((e: unknown) => logger.error({ err: e }, 'starting the backup schedules failed'));
        // Each VM's newest backup, for the metrics (later ones come as events).
        void lastBackups.load(() => backups.list()).catch((e: unknown) => logger.warn({ err: e }, 'reading the newest backups for the metrics failed'));
        // The guests `host shutdown-guests` saved are restored, then autostart (a restored guest is not started twice).
        void hostGuests.start().catch((e: unknown) => logger.error({ err: e }, 'restoring saved guests and autostart failed'));
      },
      (e: unknown) => logger.error({ err: e }, 're-adoption failed'),
    );
  };
  const housekeepingTimer = setTimeout(housekeeping, HOUSEKEEPING_DELAY_MS);
  app.server.once('request', (_req: unknown, res: ServerResponse) => res.once('close', () => setImmediate(housekeeping)));
  logger.info({ socket: config.socket, socketGroup: socketAccess.group, dataDir: config.dataDir, accel: config.accel, kvmUsable: caps.kvmUsable, qemu: caps.qemuVersion, metricsIntervalSeconds: config.metricsInterval }, 'hangar daemon ready');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // Housekeeping that has not started never does (it would find the store closed).
      clearTimeout(housekeepingTimer);
      const housekept = housekeepingBegun;
      housekeepingBegun = true;
      logger.info('daemon stopping; guests keep running');
      await events.publish('daemon.stopping', undefined, { pid: process.pid }).catch(() => undefined);
      await tls?.close();
      await backupSchedules.stop();
      await hookRef.deliverer?.stop();
      await sampler.stop();
      await app.close();
      await adopted.catch(() => undefined);
      if (housekept) await networks.leftoversRemoved;
      await vms.detachAll();
      logd.stop();
      await cluster.stop();
      await rm(lockFile, { force: true });
      await rm(config.socket, { force: true });
    })());
  return { stop };
}

/** One daemon per data dir: a pidfile checked against the live process's start time. */
async function takeLock(lockFile: string): Promise<void> {
  try {
    const [pidText, startTime] = (await readFile(lockFile, 'utf8')).trim().split(' ');
    const pid = Number(pidText);
    if (pid !== process.pid && startTime && isSameLiveProcess(pid, startTime)) {
      throw new HangarError('INVALID_SPEC', `Another Hangar daemon (pid ${pid}) is using this data dir: stop it first, or pick another --data-dir.`);
    }
  } catch (e) {
    if (e instanceof HangarError) throw e;
  }
  const me = readProcStat(process.pid);
  await writeFile(lockFile, `${process.pid} ${me?.startTime ?? ''}\n`, { mode: 0o600 });
}
