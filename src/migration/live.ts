/**
 * Live migration between two Hangar daemons. The source daemon drives; the destination
 * daemon prepares a QEMU with the same guest-visible hardware and `-incoming defer`; the
 * migration stream (and, for local storage, the disk copy over NBD) goes straight from QEMU
 * to QEMU. The daemons talk over their TLS API with the peer's token.
 *
 *   source                                         destination
 *   POST /v1/migrations/incoming (spec, params) ─▶ record (state migrating, marker), volumes for
 *                                                  copied disks, QEMU -incoming defer, params,
 *                                                  NBD exports, migrate-incoming tcp:ADDR:0
 *                                               ◀─ { uri, nbd }
 *   params; blockdev-mirror → NBD (copy storage), wait until in sync
 *   migrate uri; progress; post-copy switch (on request / when pre-copy does not converge)
 *   pre-switchover: finish the mirrors; migrate-continue
 *   completed (source paused) ──────────────────▶ POST /v1/migrations/incoming/:id/finish:
 *                                                  NBD stops, `cont`: the guest runs here
 *   quit QEMU; record `migrated` (migratedTo)
 *
 * The destination never runs the guest unless the source says `finish`, so a source that
 * cannot deliver it may resume its own copy. Any failure before that resumes the guest on
 * the source and asks the destination to abort (QEMU ended, record and new volumes removed).
 * A restarted daemon finds what it was doing in the record's migration marker (`recover`).
 */
import { assertStateMovable } from '../model/hw.js';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, isIP } from 'node:net';
import { errorText, HangarError, isHangarError } from '../errors/errors.js';
import type { EventBus } from '../events/bus.js';
import type { OperationContext } from '../operations/service.js';
import type { QmpClient } from '../qmp/index.js';
import type { StorageService } from '../storage/service.js';
import type { MigrationMarker, VmRecord } from '../store/store.js';
import type { DiskSpec, VmSpec } from '../model/spec.js';
import type { VmHandle, VmService } from '../vm/service.js';
import { assertOperationAllowed } from '../model/states.js';
import { incomingMigrationCalls, type Caller } from '../client/index.js';
import type { IncomingFinishedReply, IncomingMigrationReply } from '../contract/index.js';
import { applyMigrationParams, LIVE_MIGRATION_DEFAULTS, migrationParams, type MigrationParams } from './params.js';
import { peerError, type PeerService } from './peers.js';
import { prepareIncomingNvram, releaseOutgoingNvram, withoutNvram } from './nvram-move.js';
import { cancelActiveMigration, migrationProgress, watchMigration, type MigrationInfo } from './watch.js';

export type PostcopyMode = 'off' | 'on' | 'auto';


export interface MigrateInput {
  /** The peer's name (`hangar peer add`). */
  to: string;
  /** Bytes per second (default: no cap). */
  maxBandwidth?: number;
  downtimeLimitMs?: number;
  multifdChannels?: number;
  autoConverge?: boolean;
  /** off; on: switch once the first pass is sent; auto: switch when pre-copy stops converging. */
  postcopy?: PostcopyMode;
  /** Compress the multifd streams (needs multifdChannels ≥ 2): for slow links only. */
  compression?: 'none' | 'zlib' | 'zstd';
  /** Copy the disks to the destination (local storage); default: only if the destination lacks their paths. */
  copyStorage?: boolean;
  /** Give up (and roll back) after this many seconds (default 600). */
  timeoutSeconds?: number;
}

export interface MigrateResult {
  vm: string;
  to: string;
  /** Wall time of the whole operation. */
  totalMs: number;
  /** The RAM part alone (QEMU's total-time). */
  memoryMs: number;
  /** The guest's pause as QEMU measured it on the source. */
  qemuDowntimeMs: number;
  /**
   * Guest-visible pause: QEMU's downtime, then from QEMU's `completed` until the destination
   * resumed the guest (as the destination measured its part).
   */
  downtimeMs: number;
  /** Of the hand-over: QEMU's `completed` → the `finish` request sent (source's clock). */
  finishSentAfterMs: number;
  /** Of the hand-over: `finish` arrived → the guest's vCPUs let go (destination's clock). */
  destinationResumeMs: number;
  transferredBytes: number;
  diskBytes: number;
  postcopy: boolean;
  storage: 'shared' | 'copy' | 'none';
}

/** What the source sends the destination. */
export interface IncomingRequest {
  id: string;
  vm: { id: string; name: string; spec: VmSpec; createdAt: string };
  paused: boolean;
  params: MigrationParams;
  /** Writable disks to create here and receive over NBD; every other disk must exist at its path. */
  copyDisks: { id: string; sizeBytes: number; format: 'qcow2' | 'raw'; pool?: string; volume?: string }[];
  /** UEFI with copied storage: a new NVRAM volume there (its content comes in the stream). */
  copyNvram?: boolean;
}

/** The destination's answer to `prepare`: where its QEMU listens (and its NBD server, to copy disks). */
export type IncomingReady = IncomingMigrationReply;

/** The destination's answer to `finish`: the VM, and from the request's arrival until the guest ran again here. */
export type IncomingFinished = IncomingFinishedReply;

interface IncomingSession {
  id: string;
  name: string;
  /** The source's word (the first one counts), and a wake-up for the wait on it. */
  decide: { finish: () => void; abort: (why: string) => void };
  /** The background start: resolves once the guest runs here, rejects if it failed. */
  done: Promise<VmRecord>;
  /** The source's word: `finish`, or why it aborted. The first one counts. */
  decision?: string;
  /** performance.now() once the guest's vCPUs were let go (just before `cont`). */
  resumedAt?: number;
}

const DEFAULT_TIMEOUT_S = 600;
/** How long a source keeps asking an unreachable destination whether it runs the guest. */
const VERDICT_WAIT_MS = 30_000;
/** The destination's `finish` (stop NBD, `cont`) answers in milliseconds; a silent one is dead. */
const FINISH_TIMEOUT_MS = 20_000;
/** A destination gives up on a source that has not connected after this long … */
const INCOMING_CONNECT_WAIT_MS = 120_000;
/** … or that has not decided (finish or abort) after this long. */
const INCOMING_MAX_WAIT_MS = 6 * 3_600_000;
/** Preparing creates volumes and starts QEMU: seconds, not minutes. */
const PREPARE_TIMEOUT_MS = 120_000;
/** An abort ends a QEMU and removes files. */
const ABORT_TIMEOUT_MS = 60_000;
/** Pre-copy passes without convergence before `postcopy=auto` switches. */
const AUTO_POSTCOPY_AFTER_PASSES = 5;

export class LiveMigrationService {
  private readonly incoming = new Map<string, IncomingSession>();
  private readonly outcomes = new Map<string, { outcome: 'running' | 'failed'; name: string }>();

  constructor(
    private readonly vms: VmService,
    private readonly storage: StorageService,
    private readonly peers: PeerService,
    private readonly events: EventBus,
    private readonly log: (msg: string) => void = () => {},
  ) {}

  // ---- source --------------------------------------------------------------

  /** Checks what can be checked before an operation is started for it. */
  async precheck(name: string, input: MigrateInput): Promise<void> {
    this.assertMigratable(await this.vms.record(name));
    await this.peers.get(input.to);
    this.paramsOf(input);
  }

  private assertMigratable(rec: VmRecord): void {
    assertOperationAllowed(rec.name, rec.state, 'migrate');
    const blocker = this.vms.migrationBlocker(rec);
    if (blocker) throw new HangarError('VM_STATE', `VM "${rec.name}" cannot be migrated: ${blocker}.`);
  }

  private paramsOf(input: MigrateInput): MigrationParams {
    const mode = input.postcopy ?? 'off';
    if (!['off', 'on', 'auto'].includes(mode)) throw new HangarError('INVALID_SPEC', `postcopy must be off, on or auto, not "${String(mode)}".`);
    try {
      // Overrides left undefined keep the defaults.
      const { maxBandwidth, downtimeLimitMs, multifdChannels, autoConverge, compression } = input;
      return migrationParams(LIVE_MIGRATION_DEFAULTS, { maxBandwidth, downtimeLimitMs, multifdChannels, autoConverge, compression, postcopy: mode !== 'off' });
    } catch (e) {
      throw new HangarError('INVALID_SPEC', errorText(e));
    }
  }

  async migrate(name: string, input: MigrateInput, ctx?: OperationContext): Promise<MigrateResult> {
    const params = this.paramsOf(input);
    return this.vms.operate(name, 'migrate', async (h) => {
      const rec = await h.record();
      this.assertMigratable(rec);
      assertStateMovable(rec.spec, 'migrate');
      return this.migrateLocked(h, rec, input, params, ctx);
    });
  }

  private async migrateLocked(h: VmHandle, rec: VmRecord, input: MigrateInput, params: MigrationParams, ctx?: OperationContext): Promise<MigrateResult> {
    const t0 = Date.now();
    const { peer, api } = await this.peers.client(input.to);
    const qmp = await h.qmp();
    const wasRunning = rec.state === 'running';
    const writable = rec.spec.disks.filter((d) => !d.readOnly);
    const copy = input.copyStorage ? writable : [];
    const sizes = copy.length ? await diskSizes(qmp) : new Map<string, number>();
    const id = randomBytes(8).toString('hex');
    const request: IncomingRequest = {
      id, vm: { id: rec.id, name: rec.name, spec: rec.spec, createdAt: rec.createdAt }, paused: !wasRunning,
      params: { ...params, pauseBeforeSwitchover: false },
      copyDisks: copy.map((d) => ({
        id: d.id, sizeBytes: sizes.get(d.id) ?? 0, format: d.format, ...(d.volume && { pool: d.volume.pool, volume: d.volume.name }),
      })),
      ...(input.copyStorage && rec.spec.firmware?.nvram && { copyNvram: true }),
    };
    const copied = copy.length > 0 || request.copyNvram === true;
    const sourceParams: MigrationParams = { ...params, pauseBeforeSwitchover: copy.length > 0 };
    const marker: MigrationMarker = { id, role: 'outgoing', peer: peer.name, startedAt: new Date().toISOString(), wasRunning, ...(copied && { copyStorage: true }) };
    await h.update((r) => ({ ...r, migration: marker }));
    await h.setState('migrating');
    await this.events.publish('vm.migration-started', rec.name, { to: peer.name, id, storage: copy.length ? 'copy' : 'shared' });
    let asked = false;
    let completedAt: number | undefined;
    let info: MigrationInfo | undefined;
    let diskBytes = 0;
    let postcopy = false;
    let resumedAt: number | undefined;
    let finishMaybeDelivered = false;
    let handover = { finishSentAfterMs: 0, destinationResumeMs: 0 };
    try {
      ctx?.progress({ phase: 'preparing the destination', percent: 0 });
      asked = true;
      // This QEMU's parameters are set while the destination prepares.
      const [ready] = await Promise.all([
        api.incomingMigrations.prepare(request, { timeoutMs: PREPARE_TIMEOUT_MS }).catch((e: unknown) => {
          throw peerError(peer.name, e);
        }),
        applyMigrationParams(qmp, sourceParams),
      ]);
      if (copy.length) {
        if (!ready.nbd) throw new HangarError('MIGRATION_FAILED', `Peer "${peer.name}" offered no NBD server for the disks.`);
        diskBytes = await mirrorDisks(qmp, copy, ready.nbd, ctx);
      }
      // The hand-over at the end is on the guest's downtime: its connection is made now.
      const finishLine = api.preconnect({ timeoutMs: FINISH_TIMEOUT_MS }).catch(() => api);
      await qmp.execute('migrate', { uri: ready.uri });
      const mode = input.postcopy ?? 'off';
      info = await watchMigration(qmp, (p) => {
        ctx?.progress(migrationProgress(postcopy ? 'post-copy' : 'copying memory', p));
        if (!postcopy && (mode === 'on' ? p.passes >= 2 : mode === 'auto' && p.passes >= AUTO_POSTCOPY_AFTER_PASSES)) {
          postcopy = true;
          this.log(`${rec.name}: switching the migration to post-copy after ${p.passes} passes (${mode})`);
          void qmp.execute('migrate-start-postcopy').catch((e: unknown) => this.log(`${rec.name}: migrate-start-postcopy failed: ${errorText(e)}`));
        }
      }, {
        ...(ctx && { signal: ctx.signal }), intervalMs: 50, what: `migration of "${rec.name}" to ${peer.name}`,
        timeoutMs: (input.timeoutSeconds ?? DEFAULT_TIMEOUT_S) * 1000,
        ...(copy.length && { onPreSwitchover: () => finishMirrors(qmp, copy) }),
      });
      completedAt = Date.now();
      const finished = await this.finishAtPeer(await finishLine, id, api);
      if (!finished.ok) {
        finishMaybeDelivered = finished.maybeDelivered;
        throw peerError(peer.name, finished.error);
      }
      resumedAt = finished.sentAt + finished.resumeMs;
      handover = { finishSentAfterMs: finished.sentAt - completedAt, destinationResumeMs: finished.resumeMs };
      ctx?.progress({ phase: 'started on the destination', percent: 100 });
    } catch (e) {
      const err = isHangarError(e) ? e : new HangarError('MIGRATION_FAILED', errorText(e), { cause: e });
      // Once QEMU said completed, the destination runs the guest if it heard `finish`: ask.
      const verdict = completedAt === undefined ? 'not-there' : await this.verdictAtPeer(api, id, finishMaybeDelivered);
      if (verdict === 'runs-there') {
        this.log(`${rec.name}: the destination confirmed the guest runs there after: ${err.message}`);
      } else if (verdict === 'unknown') {
        // Resuming here could run the guest twice: it stays paused until someone knows.
        await h.syncRunState().catch(() => undefined);
        const why = `Migration ${id} to ${peer.name} completed, but ${peer.name} could not be asked whether it runs the guest (${err.message}). It stays paused here: if it does not run on ${peer.name}, resume it here (\`hangar vm resume ${rec.name}\`).`;
        await h.update((r) => ({ ...r, stateReason: why }));
        await this.events.publish('vm.migration-failed', rec.name, { to: peer.name, id, error: why });
        throw new HangarError('MIGRATION_FAILED', why, { cause: e });
      } else {
        await this.rollbackSource(h, qmp, copy, wasRunning);
        if (asked && completedAt === undefined) await api.incomingMigrations.abort(id, { timeoutMs: ABORT_TIMEOUT_MS }).catch((x: unknown) => this.log(`${rec.name}: asking ${peer.name} to abort migration ${id} failed: ${errorText(x)}`));
        await this.events.publish('vm.migration-failed', rec.name, { to: peer.name, id, error: err.message });
        if (postcopy && completedAt === undefined) {
          throw new HangarError('MIGRATION_FAILED', `The migration of "${rec.name}" failed after the switch to post-copy: ${err.message}. Part of its memory was only on ${peer.name}; the guest could not be kept.`, { cause: e });
        }
        throw new HangarError(err.code === 'VM_STATE' || err.code === 'PEER_UNREACHABLE' || err.code === 'VM_EXISTS' || err.code === 'HOST_CAPACITY' ? err.code : 'MIGRATION_FAILED',
          `The migration of "${rec.name}" to ${peer.name} failed: ${err.message} The guest goes on running here.`, { cause: e });
      }
    }
    const doneAt = Date.now();
    await this.leftForPeer(h, rec, peer, copied);
    const qemuDowntimeMs = info?.downtime ?? 0;
    const result: MigrateResult = {
      vm: rec.name, to: peer.name, totalMs: doneAt - t0, memoryMs: info?.['total-time'] ?? 0, qemuDowntimeMs,
      downtimeMs: qemuDowntimeMs + (completedAt !== undefined ? (resumedAt ?? doneAt) - completedAt : 0),
      ...handover, transferredBytes: info?.ram?.transferred ?? 0, diskBytes, postcopy, storage: copy.length ? 'copy' : writable.length ? 'shared' : 'none',
    };
    await this.events.publish('vm.migrated', rec.name, { ...result });
    return result;
  }

  /**
   * The destination runs the guest once it hears `finish`; retried briefly on a lost
   * connection. `first` is a connection made in advance (used once), `api` makes new ones.
   */
  private async finishAtPeer(first: Caller, id: string, api: Caller = first): Promise<
    { ok: true; sentAt: number; resumeMs: number } | { ok: false; error: unknown; maybeDelivered: boolean }
  > {
    let last: unknown;
    let maybeDelivered = false;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const sentAt = Date.now();
        const r = await incomingMigrationCalls(attempt === 0 ? first : api).finish(id, { timeoutMs: FINISH_TIMEOUT_MS });
        return { ok: true, sentAt, resumeMs: r.resumeMs };
      } catch (e) {
        last = e;
        // A request that left before the connection broke may have been acted on.
        if (isHangarError(e) && e.details?.requestSent === true) maybeDelivered = true;
        if (isHangarError(e) && e.code !== 'DAEMON_UNREACHABLE') break;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    return { ok: false, error: last, maybeDelivered };
  }

  /**
   * After QEMU completed but `finish` failed: does the destination run the guest? Asked by
   * aborting there, which it refuses (VM_STATE) once the guest runs. If it cannot be reached:
   * `not-there` when `finish` surely never arrived (without it the destination never runs
   * the guest, and its next start removes it), else `unknown` after retrying for a while.
   */
  private async verdictAtPeer(api: Caller, id: string, finishMaybeDelivered: boolean): Promise<'runs-there' | 'not-there' | 'unknown'> {
    const deadline = Date.now() + (finishMaybeDelivered ? VERDICT_WAIT_MS : 0);
    for (;;) {
      try {
        await incomingMigrationCalls(api).abort(id, { timeoutMs: ABORT_TIMEOUT_MS });
        return 'not-there';
      } catch (e) {
        if (isHangarError(e) && e.code === 'VM_STATE') return 'runs-there';
        if (isHangarError(e) && e.code === 'MIGRATION_NOT_FOUND') return 'not-there';
        if (Date.now() >= deadline) return finishMaybeDelivered ? 'unknown' : 'not-there';
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /** After a failure: mirrors and NBD targets go, the guest runs again as it did. */
  private async rollbackSource(h: VmHandle, qmp: QmpClient, copy: DiskSpec[], wasRunning: boolean): Promise<void> {
    try {
      await cancelActiveMigration(qmp);
      await cancelMirrors(qmp, copy);
      const run = await qmp.execute<{ running: boolean; status: string }>('query-status');
      if (wasRunning && !run.running) await qmp.execute('cont');
    } catch (e) {
      this.log(`rolling back a failed migration: ${errorText(e)}`);
    }
    await h.update(withoutMigration);
    await h.syncRunState().catch((e: unknown) => this.log(`after a failed migration: ${errorText(e)}`));
  }

  /**
   * The guest runs on the peer now: this QEMU ends, the record becomes `migrated` (with where
   * it went, and no disks), and the volumes are let go.
   */
  private async leftForPeer(h: VmHandle, rec: VmRecord, peer: { name: string; url: string }, copied: boolean): Promise<void> {
    await h.quitMigrated({ peer: peer.name, url: peer.url, at: new Date().toISOString() });
    await this.releaseDisks(rec, copied);
    await releaseOutgoingNvram(this.storage, rec.spec, copied, this.log);
    await h.update((r) => withoutMigration({ ...r, spec: { ...withoutNvram(r.spec), disks: [] } }));
  }

  /**
   * The source's volumes after the guest moved: copied disks are deleted (the destination
   * has them); shared ones are forgotten here, not deleted (the destination uses them now).
   */
  private async releaseDisks(rec: VmRecord, copied: boolean): Promise<void> {
    for (const d of rec.spec.disks) {
      if (!d.volume) continue;
      const { pool, name } = d.volume;
      try {
        await this.storage.markAttached(pool, name, undefined);
        if (copied && !d.readOnly) await this.storage.deleteVolume(pool, name, { evenIfOwned: true });
        else if (!d.readOnly) await this.storage.forgetVolume(pool, name);
      } catch (e) {
        this.log(`${rec.name}: releasing volume ${pool}/${name} after the migration failed: ${errorText(e)}`);
      }
    }
  }

  // ---- destination ---------------------------------------------------------

  /**
   * Prepares this host for an arriving guest and returns where its QEMU listens. `localAddress`
   * is the address the source reached this daemon on: QEMU listens there too.
   */
  async prepareIncoming(req: IncomingRequest, localAddress: string, source: string): Promise<IncomingReady> {
    checkIncoming(req);
    if (req.params.postcopy && this.vms.guestUsersOn && (await readFile('/proc/sys/vm/unprivileged_userfaultfd', 'utf8').catch(() => '1')).trim() === '0') {
      // QEMU 7.2 receives post-copy pages through userfaultfd, which the kernel denies to
      // unprivileged users (the guest's own uid) unless this sysctl allows it.
      throw new HangarError('MIGRATION_FAILED', 'Post-copy cannot be received here: guests run as their own users and the kernel forbids them userfaultfd (sysctl vm.unprivileged_userfaultfd=0). Allow it on this host (sysctl -w vm.unprivileged_userfaultfd=1), or migrate with --postcopy off (auto-converge handles most busy guests).');
    }
    if (this.incoming.has(req.id)) throw new HangarError('VM_BUSY', `Migration ${req.id} is already being received.`);
    const spec: VmSpec = structuredClone(req.vm.spec);
    const copyIds = new Set(req.copyDisks.map((d) => d.id));
    for (const d of spec.disks) {
      if (!copyIds.has(d.id) && !existsSync(d.path)) {
        throw new HangarError('MIGRATION_FAILED', `Disk ${d.id} of "${req.vm.name}" (${d.path}) is not on this host: migrate with --copy-storage to copy it.`);
      }
    }
    const created: { pool: string; name: string }[] = [];
    const host = isIP(localAddress) ? localAddress : '0.0.0.0';
    try {
      for (const c of req.copyDisks) {
        const disk = spec.disks.find((d) => d.id === c.id);
        if (!disk) throw new HangarError('INVALID_SPEC', `Disk ${c.id} to copy is not in the VM's spec.`);
        const pools = new Set((await this.storage.listPools()).map((p) => p.name));
        const input = { ...(c.pool && pools.has(c.pool) && { pool: c.pool }), format: c.format, size: c.sizeBytes, ownedBy: req.vm.name };
        const base = c.volume ?? `${req.vm.name}-${c.id}`;
        // The source's name if it is free here, else one made unique with the migration id.
        const vol = await this.storage.createVolume({ ...input, name: base }).catch((e: unknown) => {
          if (isHangarError(e) && e.code === 'VOLUME_EXISTS') return this.storage.createVolume({ ...input, name: `${base}-${req.id.slice(0, 6)}` });
          throw e;
        });
        created.push({ pool: vol.pool, name: vol.name });
        disk.path = vol.path;
        disk.volume = { pool: vol.pool, name: vol.name };
      }
      // Shared disks: volumes of a pool this host has at the same place are recorded here too.
      for (const d of spec.disks) {
        if (copyIds.has(d.id) || !d.volume) continue;
        const adopted = await this.storage.adoptVolume(d.volume.pool, d.volume.name, d.path, d.format, req.vm.name).catch(() => undefined);
        if (!adopted) delete d.volume;
      }
      const nvram = await prepareIncomingNvram(this.storage, spec, req.id, req.copyNvram === true);
      if (nvram) created.push(nvram);
      const now = new Date().toISOString();
      const record: VmRecord = {
        id: req.vm.id, name: req.vm.name, spec, state: 'stopped', createdAt: req.vm.createdAt, updatedAt: now,
        migration: { id: req.id, role: 'incoming', peer: source, startedAt: now, createdVolumes: created.map((v) => `${v.pool}/${v.name}`) },
      };
      await this.vms.createIncoming(record);
      for (const d of spec.disks) if (d.volume) await this.storage.markAttached(d.volume.pool, d.volume.name, req.vm.name).catch(() => undefined);
    } catch (e) {
      for (const v of created) await this.storage.deleteVolume(v.pool, v.name, { evenIfOwned: true }).catch(() => undefined);
      throw e;
    }

    let ready!: (r: IncomingReady) => void;
    let notReady!: (e: unknown) => void;
    const readyP = new Promise<IncomingReady>((res, rej) => {
      ready = res;
      notReady = rej;
    });
    let wakeDecision: () => void = () => {};
    const session: IncomingSession = {
      id: req.id, name: req.vm.name,
      decide: {
        finish: () => {
          session.decision ??= 'finish';
          wakeDecision();
        },
        abort: (why) => {
          session.decision ??= why;
          wakeDecision();
        },
      },
      done: undefined as unknown as Promise<VmRecord>,
    };
    this.incoming.set(req.id, session);
    session.done = this.vms.operate(req.vm.name, 'migrate-in', (h) => h.start({
      incoming: true, arriving: true, incomingFailState: 'stopped', stayPaused: req.paused,
      beforeCont: async (qmp) => {
        await applyMigrationParams(qmp, { ...req.params, pauseBeforeSwitchover: false, lateBlockActivate: true });
        let nbd: IncomingReady['nbd'];
        if (req.copyDisks.length) {
          const port = await freePort(host);
          await qmp.execute('nbd-server-start', { addr: { type: 'inet', data: { host, port: String(port) } } });
          for (const c of req.copyDisks) {
            await qmp.execute('block-export-add', { type: 'nbd', id: `migrate-${c.id}`, 'node-name': c.id, name: c.id, writable: true });
          }
          nbd = { host, port };
        }
        await qmp.execute('migrate-incoming', { uri: `tcp:${uriHost(host)}:0` });
        const listening = await qmp.execute<{ 'socket-address'?: { type: string; host?: string; port?: string }[] }>('query-migrate');
        const port = listening['socket-address']?.find((a) => a.type === 'inet')?.port;
        if (!port) throw new HangarError('QEMU_FAILED', 'QEMU did not say which port it listens on for the migration.');
        await h.setState('migrating');
        ready({ id: req.id, uri: `tcp:${uriHost(host)}:${port}`, ...(nbd && { nbd }) });
        // Wait for the source's word, watching QEMU meanwhile: a failed stream ends it here too,
        // and so does a source that never connects or never decides (it died for good).
        const readyAt = Date.now();
        for (;;) {
          if (session.decision !== undefined) break;
          const s = await qmp.execute<MigrationInfo>('query-migrate');
          if (s.status === 'failed') throw new HangarError('MIGRATION_FAILED', `The incoming migration failed: ${s['error-desc'] ?? 'QEMU gave no reason'}.`);
          const waited = Date.now() - readyAt;
          if ((waited > INCOMING_CONNECT_WAIT_MS && (s.status === undefined || s.status === 'none' || s.status === 'setup')) || waited > INCOMING_MAX_WAIT_MS) {
            throw new HangarError('TIMEOUT', `The source did not ${s.status === 'completed' ? 'say finish' : 'send the guest'} within ${Math.round(waited / 1000)} s: the arrival is given up.`);
          }
          await new Promise<void>((r) => {
            const t = setTimeout(r, 500);
            wakeDecision = () => {
              clearTimeout(t);
              r();
            };
          });
        }
        if (session.decision !== 'finish') throw new HangarError('MIGRATION_FAILED', `The source aborted the migration: ${session.decision}.`);
        // The source's QEMU says completed once it has sent everything; this one may still be
        // loading the last of it.
        for (let waited = 0; ; waited += 5) {
          const s = await qmp.execute<MigrationInfo>('query-migrate');
          if (s.status === 'completed') break;
          if (s.status === 'failed' || waited > 30_000) throw new HangarError('MIGRATION_FAILED', `The source said finish, but the incoming migration is ${s.status ?? 'not started'}${s['error-desc'] ? `: ${s['error-desc']}` : ''}.`);
          await new Promise((r) => setTimeout(r, 5));
        }
        if (nbd) await qmp.execute('nbd-server-stop');
        session.resumedAt = performance.now();
      },
    }));
    session.done.then(
      async (rec) => {
        this.remember(req.id, 'running');
        await this.vms.operate(rec.name, 'migrate-in', (h) => h.update(withoutMigration)).catch((e: unknown) => this.log(`${rec.name}: clearing the migration marker failed: ${errorText(e)}`));
        await this.events.publish('vm.migrated-in', rec.name, { from: source, id: req.id });
      },
      async (e: unknown) => {
        notReady(e);
        await this.cleanupIncoming(req.vm.name, req.vm.id, created);
        this.remember(req.id, 'failed');
        this.incoming.delete(req.id);
        await this.events.publish('vm.migration-in-failed', req.vm.name, { from: source, id: req.id, error: errorText(e) }).catch(() => undefined);
      },
    );
    return readyP;
  }

  /** The source's word that the stream completed: run the guest here. Repeating it is harmless. */
  async finishIncoming(id: string): Promise<IncomingFinished> {
    const t0 = performance.now();
    const s = this.incoming.get(id);
    if (!s) {
      const vm = this.outcomes.get(id);
      if (vm?.outcome === 'running') return { vm: await this.vms.get(vm.name), resumeMs: 0 };
      throw new HangarError('MIGRATION_NOT_FOUND', `No incoming migration ${id} here (it failed or was aborted).`);
    }
    s.decide.finish();
    try {
      await s.done;
    } catch (e) {
      throw new HangarError('MIGRATION_FAILED', `Starting the guest here failed: ${errorText(e)}`, { cause: e });
    }
    const resumeMs = Math.round((s.resumedAt ?? performance.now()) - t0);
    this.incoming.delete(id);
    return { vm: await this.vms.get(s.name), resumeMs };
  }

  /**
   * The source gave up: end the QEMU, remove the record and the volumes created for it.
   * Refused with VM_STATE once `finish` came first: the guest runs here (the source's way to
   * learn where the guest is after a failure at the very end).
   */
  async abortIncoming(id: string, why = 'aborted by the source'): Promise<void> {
    const s = this.incoming.get(id);
    if (!s) {
      const known = this.outcomes.get(id);
      if (known?.outcome === 'running') throw new HangarError('VM_STATE', `Migration ${id} finished: the guest runs here now.`);
      if (known?.outcome === 'failed') return;
      throw new HangarError('MIGRATION_NOT_FOUND', `No incoming migration ${id} here.`);
    }
    s.decide.abort(why);
    const ran = await s.done.then(() => true, () => false);
    this.incoming.delete(id);
    if (ran) throw new HangarError('VM_STATE', `Migration ${id} finished: the guest runs here now.`);
  }

  /** How recent arrivals ended, for a source that asks again (bounded; a restart rebuilds what it finds). */
  private remember(id: string, outcome: 'running' | 'failed', name = ''): void {
    const vmName = name || (this.incoming.get(id)?.name ?? '');
    this.outcomes.set(id, { outcome, name: vmName });
    if (this.outcomes.size > 1000) this.outcomes.delete(this.outcomes.keys().next().value!);
  }

  private async cleanupIncoming(name: string, vmId: string, created: { pool: string; name: string }[]): Promise<void> {
    await this.vms.dropIncoming(name, vmId).catch((e: unknown) => this.log(`${name}: removing the record of a failed arrival: ${errorText(e)}`));
    for (const v of created) {
      await this.storage.markAttached(v.pool, v.name, undefined).catch(() => undefined);
      await this.storage.deleteVolume(v.pool, v.name, { evenIfOwned: true }).catch((e: unknown) => this.log(`${name}: removing volume ${v.pool}/${v.name}: ${errorText(e)}`));
    }
  }

  // ---- after a daemon restart ----------------------------------------------

  /**
   * Run once guests are adopted. A guest that was arriving here and never got its `finish`
   * is ended and removed (the source resumes it); a guest that was leaving is resumed
   * unless the destination runs it, in which case this copy is ended.
   */
  async recover(): Promise<void> {
    for (const v of await this.vms.list()) {
      if (!v.migration) continue;
      try {
        const rec = await this.vms.record(v.name);
        const m = rec.migration!;
        // A move between the nodes of a cluster: src/migration/cluster-move.ts recovers it.
        if (m.cluster) continue;
        if (m.role === 'incoming' && rec.state === 'running') {
          // Its QEMU runs: only `finish` lets it run, so the source had confirmed. It stays.
          await this.vms.operate(v.name, 'migrate-in', (h) => h.update(withoutMigration));
          this.remember(m.id, 'running', v.name);
          this.log(`${v.name}: migration ${m.id} had finished before the restart: the guest runs here`);
        } else if (m.role === 'incoming') {
          await this.vms.operate(v.name, 'migrate-in', async (h) => {
            if (rec.state !== 'stopped' && rec.state !== 'crashed') await h.forceStop().catch(() => undefined);
          });
          const created = (m.createdVolumes ?? []).map((k) => ({ pool: k.split('/')[0]!, name: k.split('/').slice(1).join('/') }));
          await this.cleanupIncoming(v.name, rec.id, created);
          this.remember(m.id, 'failed', v.name);
          this.log(`${v.name}: removed a guest whose arrival (migration ${m.id}) the previous daemon did not finish`);
        } else {
          await this.recoverOutgoing(rec, m);
        }
      } catch (e) {
        this.log(`${v.name}: recovering an interrupted migration failed: ${errorText(e)}`);
      }
    }
  }

  private async recoverOutgoing(rec: VmRecord, m: MigrationMarker): Promise<void> {
    await this.vms.operate(rec.name, 'migrate', async (h) => {
      if (rec.state === 'stopped' || rec.state === 'crashed') return void (await h.update(withoutMigration));
      const qmp = await h.qmp();
      const status = await qmp.execute<MigrationInfo>('query-migrate');
      const api = await this.peers.client(m.peer).then((c) => c.api, () => undefined);
      if (status.status === 'completed' && rec.state === 'running') {
        // Completed, yet running here: resumed by hand after an unknown outcome.
        return void (await h.update(withoutMigration));
      }
      if (status.status === 'completed') {
        // The previous daemon may or may not have sent `finish`: only the destination knows.
        const verdict = api ? await this.verdictAtPeer(api, m.id, true) : 'unknown';
        if (verdict === 'runs-there') {
          await this.leftForPeer(h, rec, await this.peers.get(m.peer), m.copyStorage === true);
          this.log(`${rec.name}: migration ${m.id} had completed: the guest runs on ${m.peer}`);
          return;
        }
        if (verdict === 'unknown') {
          await h.update((r) => ({ ...r, stateReason: `Migration ${m.id} to ${m.peer} completed while the daemon restarted, and ${m.peer} cannot say whether it runs the guest. It stays paused here: if it does not run on ${m.peer}, resume it here (\`hangar vm resume ${rec.name}\`).` }));
          this.log(`${rec.name}: migration ${m.id}: outcome unknown (${m.peer} unreachable); the guest stays paused`);
          return;
        }
      }
      await this.rollbackSource(h, qmp, rec.spec.disks.filter((d) => !d.readOnly), m.wasRunning !== false);
      if (api && status.status !== 'completed') await api.incomingMigrations.abort(m.id, { timeoutMs: ABORT_TIMEOUT_MS }).catch(() => undefined);
      this.log(`${rec.name}: migration ${m.id} to ${m.peer} was interrupted by a daemon restart; the guest goes on here`);
    });
  }
}

// ---- QEMU steps ------------------------------------------------------------

/** Virtual sizes of the block nodes (by node name). */
async function diskSizes(qmp: QmpClient): Promise<Map<string, number>> {
  const nodes = await qmp.execute<{ 'node-name': string; image?: { 'virtual-size'?: number } }[]>('query-named-block-nodes', { flat: true });
  return new Map(nodes.flatMap((n) => (n.image?.['virtual-size'] !== undefined ? [[n['node-name'], n.image['virtual-size']] as const] : [])));
}

function mirrorJob(d: Pick<DiskSpec, 'id'>): string {
  return `migrate-${d.id}`;
}

function nbdNode(d: Pick<DiskSpec, 'id'>): string {
  return `migrate-nbd-${d.id}`;
}

/**
 * Copies each disk to the destination's NBD export while the guest runs (writes are
 * mirrored as they happen) and returns once all are in sync, with the bytes copied.
 */
async function mirrorDisks(qmp: QmpClient, disks: DiskSpec[], nbd: { host: string; port: number }, ctx?: OperationContext): Promise<number> {
  for (const d of disks) {
    await qmp.execute('blockdev-add', { driver: 'nbd', 'node-name': nbdNode(d), server: { type: 'inet', host: nbd.host, port: String(nbd.port) }, export: d.id });
    await qmp.execute('blockdev-mirror', { 'job-id': mirrorJob(d), device: d.id, target: nbdNode(d), sync: 'full', 'auto-dismiss': false });
  }
  const ids = new Set(disks.map(mirrorJob));
  for (;;) {
    const jobs = (await qmp.execute<{ device: string; offset: number; len: number; ready: boolean; status?: string; error?: string }[]>('query-block-jobs')).filter((j) => ids.has(j.device));
    const failed = jobs.find((j) => j.status === 'concluded' || j.error);
    if (failed) throw new HangarError('MIGRATION_FAILED', `Copying disk ${failed.device.replace('migrate-', '')} failed: ${failed.error ?? 'the copy job ended early'}.`);
    if (jobs.length < ids.size) throw new HangarError('MIGRATION_FAILED', 'A disk copy job ended early.');
    const done = jobs.reduce((a, j) => a + j.offset, 0);
    const total = jobs.reduce((a, j) => a + j.len, 0);
    ctx?.progress({ phase: 'copying disks', percent: total ? Math.min(99, (100 * done) / total) : 0, bytesDone: done, bytesTotal: total });
    if (ctx?.signal.aborted) throw new HangarError('MIGRATION_FAILED', 'The migration was cancelled while copying disks.');
    if (jobs.every((j) => j.ready)) return total;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** At pre-switchover (guest paused): completes each mirror without switching to its target. */
async function finishMirrors(qmp: QmpClient, disks: DiskSpec[]): Promise<void> {
  for (const d of disks) await qmp.execute('block-job-cancel', { device: mirrorJob(d) });
  await waitJobsGone(qmp, disks, true);
  for (const d of disks) await qmp.execute('blockdev-del', { 'node-name': nbdNode(d) });
}

/** After a failure: mirrors stop at once and their NBD targets go. Missing ones are fine. */
async function cancelMirrors(qmp: QmpClient, disks: DiskSpec[]): Promise<void> {
  for (const d of disks) await qmp.execute('block-job-cancel', { device: mirrorJob(d), force: true }).catch(() => undefined);
  await waitJobsGone(qmp, disks, false).catch(() => undefined);
  for (const d of disks) await qmp.execute('blockdev-del', { 'node-name': nbdNode(d) }).catch(() => undefined);
}

async function waitJobsGone(qmp: QmpClient, disks: DiskSpec[], mustSucceed: boolean): Promise<void> {
  const ids = new Set(disks.map(mirrorJob));
  for (let i = 0; i < 600; i++) {
    const jobs = (await qmp.execute<{ device: string; status?: string; error?: string }[]>('query-block-jobs')).filter((j) => ids.has(j.device));
    for (const j of jobs) {
      if (j.status === 'concluded') {
        if (mustSucceed && j.error) throw new HangarError('MIGRATION_FAILED', `Finishing the copy of ${j.device} failed: ${j.error}.`);
        await qmp.execute('job-dismiss', { id: j.device }).catch(() => undefined);
      }
    }
    if (jobs.length === 0) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new HangarError('TIMEOUT', 'The disk copy jobs did not end.');
}

// ---- helpers ----------------------------------------------------------------

function checkIncoming(req: IncomingRequest): void {
  if (!/^[0-9a-f]{16}$/.test(req.id)) throw new HangarError('INVALID_SPEC', 'A migration id is 16 hex digits.');
  if (!/^[0-9a-f]{12}$/.test(req.vm.id)) throw new HangarError('INVALID_SPEC', 'A VM id is 12 hex digits.');
  if (req.vm.spec.name !== req.vm.name) throw new HangarError('INVALID_SPEC', 'The VM name and its spec disagree.');
  for (const c of req.copyDisks) {
    if (!Number.isSafeInteger(c.sizeBytes) || c.sizeBytes < 1) throw new HangarError('INVALID_SPEC', `Disk ${c.id} to copy needs its size in bytes.`);
  }
}

/** A free TCP port on `host` (QEMU's NBD server needs a number; nbd-server-start cannot pick one). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function uriHost(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

function withoutMigration(r: VmRecord): VmRecord {
  const next = { ...r };
  delete next.migration;
  return next;
}
