/**
 * The Hangar daemon: opens the store, re-adopts running guests, and serves the API on
 * a unix socket. Stopping the daemon never stops a guest.
 */
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { destination, pino } from 'pino';
import { buildApi } from '../api/server.js';
import { HangarError } from '../errors/errors.js';
import { EventBus } from '../events/bus.js';
import { ImageCatalog } from '../images/catalog.js';
import { QEMU_BINARY } from '../qemu/argv.js';
import { detectHostCaps } from '../qemu/host-caps.js';
import { isSameLiveProcess, readProcStat } from '../qemu/process.js';
import { SqliteStore } from '../store/sqlite.js';
import { VmService } from '../vm/service.js';
import { OperationService } from '../operations/service.js';
import { StorageService } from '../storage/service.js';
import { SnapshotService } from '../snapshots/service.js';
import { detectCgroups } from '../resources/cgroups.js';
import { NetworkService } from '../network/service.js';
import { ProjectService } from '../projects/service.js';
import type { DaemonConfig } from './config.js';
import { VERSION } from '../version.js';

export interface RunningDaemon {
  stop(): Promise<void>;
}

export async function runDaemon(config: DaemonConfig): Promise<RunningDaemon> {
  const logger = pino({ base: { component: 'hangard' } }, destination(2));
  for (const dir of [config.dataDir, config.runDir, config.logDir, join(config.runDir, 'vms')]) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  }
  const lockFile = join(config.dataDir, 'daemon.pid');
  await takeLock(lockFile);

  const store = new SqliteStore(join(config.dataDir, 'hangar.db'));
  const events = new EventBus(store);
  const caps = await detectHostCaps(QEMU_BINARY);
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
  const images = new ImageCatalog({ cacheDir: config.cacheDir, imagesDir: join(config.dataDir, 'images'), store, events, log: (msg) => logger.info(msg) });
  await images.init();
  const host = { cpus: cpus().length, memoryMiB: Math.floor(totalmem() / (1024 * 1024)), cpuOvercommit: config.cpuOvercommit, memoryOvercommit: config.memoryOvercommit };
  const storage = new StorageService(store, events, config.dataDir);
  await storage.init();
  const operations = new OperationService(store, events);
  await operations.markInterrupted();
  const cgroups = detectCgroups();
  // The VM service answers which VMs use a network; it is created right below.
  const ref: { vms?: VmService } = {};
  const networks = new NetworkService(store, events, { stateDir: join(config.dataDir, 'networks'), prefix: config.netPrefix, log: (m) => logger.info(m) }, (n) => ref.vms!.usersOfNetwork(n));
  await networks.init((m) => logger.warn(m));
  const projects = new ProjectService(store, events, (p) => ref.vms!.projectUsage(p));
  await projects.init();
  const vms = new VmService({
    store, storage, events, images, caps, host, networks, projects, ...(cgroups && { cgroups }), ...(caps.qemuPath && { qemuBinary: caps.qemuPath }), defaultAccel: config.accel, runDir: config.runDir, logDir: config.logDir,
    log: (msg) => logger.warn(msg),
  });
  ref.vms = vms;
  const snapshots = new SnapshotService(store, events, vms);
  await vms.adoptAll();
  if (config.buildImages) void images.ensureBuilt();

  const app = await buildApi({ vms, storage, operations, snapshots, networks, projects, events, store, images, caps, host, accel: config.accel, version: VERSION });
  await mkdir(join(config.socket, '..'), { recursive: true, mode: 0o755 });
  // The lock guarantees no other daemon owns this socket; a leftover file is stale.
  await rm(config.socket, { force: true });
  await app.listen({ path: config.socket });
  // Root (and later the `hangar` group) only: the socket is full control of the host's VMs.
  await chmod(config.socket, 0o660);
  await events.publish('daemon.started', undefined, { pid: process.pid, version: VERSION, accel: config.accel });
  void vms.autostart().catch((e: unknown) => logger.error({ err: e }, 'autostart failed'));
  logger.info({ socket: config.socket, dataDir: config.dataDir, accel: config.accel, kvmUsable: caps.kvmUsable, qemu: caps.qemuVersion }, 'hangar daemon ready');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      logger.info('daemon stopping; guests keep running');
      await events.publish('daemon.stopping', undefined, { pid: process.pid }).catch(() => undefined);
      await app.close();
      await vms.detachAll();
      await store.close();
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
