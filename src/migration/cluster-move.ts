/**
 * Moving a VM between two nodes of one cluster. Both nodes see ONE record (in etcd): the
 * destination makes no record of its own; it runs an arriving QEMU on the side (a supervisor
 * of its own whose writes stay in memory), and the hand-over is ONE compare-and-swap write of
 * the record (its `node`, state, runtime and `lastMove`), so exactly one node owns and
 * supervises the VM at any time.
 *
 *   source (owner)                                   destination
 *   marker {cluster: from, to} and state migrating
 *   POST /v1/cluster/moves/incoming ───────────────▶ checks the marker and the disks' paths,
 *                                                    QEMU -incoming (side supervisor), a note
 *                                                 ◀─ { uri }              in its run dir
 *   migrate uri; progress; completed (paused)
 *   POST …/incoming/:id/finish ────────────────────▶ loaded? CAS: node := destination, unless
 *                                                    the marker was revoked; `cont`; the daemon's
 *                                                    own supervisor adopts the QEMU
 *   QEMU quits, nothing written (the record is the destination's now)
 *
 * Who runs the guest is what the store says. A source that failed (or restarted) takes the
 * guest back only after a CAS write marking the marker `revoked`: it succeeds only while the
 * record is still the source's, and a destination never hands over a revoked move, so the two
 * writes exclude each other. A cold move (VM stopped) is one CAS write of `node`, once the
 * destination confirmed the disks' paths exist there.
 *
 * Daemon death (`recover`, after re-adoption):
 * - source, record still its own: revoke, then resume its QEMU (a completed stream is simply
 *   not handed over); the destination is asked to drop its QEMU (it also ends it itself when
 *   no `finish` comes).
 * - source, record moved meanwhile: the source's QEMU (pid kept in `lastMove`) is ended.
 * - destination, before the hand-over: the note in its run dir names the arriving QEMU, which
 *   is ended unless the record names it.
 * - destination, after the hand-over but before `cont`: its re-adoption finds the guest paused;
 *   the `incoming` marker says it ran: it is resumed.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { errorText, HangarError, isHangarError, type ErrorCode } from '../errors/errors.js';
import type { EventBus } from '../events/bus.js';
import { assertOperationAllowed } from '../model/states.js';
import type { OperationContext } from '../operations/service.js';
import { isSameLiveProcess, signalProcess, waitForProcessExit } from '../qemu/process.js';
import type { QmpClient } from '../qmp/index.js';
import { checkReach } from '../store/node-lists.js';
import type { MigrationMarker, Store, VmRecord } from '../store/store.js';
import type { NodeMove, NodeMoveReason } from '../model/vm-record.js';
import type { NodeRecord } from '../cluster/membership.js';
import type { VmHandle, VmService } from '../vm/service.js';
import type { QemuSupervisor } from '../vm/supervisor.js';
import { applyMigrationParams, LIVE_MIGRATION_DEFAULTS, migrationParams, type MigrationParams } from './params.js';
import { cancelActiveMigration, migrationProgress, watchMigration, type MigrationInfo } from './watch.js';

/** What the cluster gives: this node's name and a way to call another node's API. */
export interface NodeCaller {
  readonly nodeName: string | undefined;
  forward(node: string, method: string, url: string, body: unknown, actor: string): Promise<{ status: number; body: unknown }>;
}

export type MoveReason = NodeMoveReason;

export interface NodeMoveInput {
  node: string;
  reason?: MoveReason;
  maxBandwidth?: number;
  downtimeLimitMs?: number;
  timeoutSeconds?: number;
}

export interface NodeMoveResult {
  vm: string;
  id: string;
  from: string;
  to: string;
  kind: 'live' | 'cold';
  totalMs: number;
  /** live: guest-visible pause (QEMU's downtime, then until the destination resumed it). */
  downtimeMs?: number;
  qemuDowntimeMs?: number;
  transferredBytes?: number;
}

/** The source's request to the destination. */
export interface NodeIncomingRequest {
  id: string;
  vm: string;
  vmId: string;
  from: string;
  paused: boolean;
  params: MigrationParams;
}

interface Arrival {
  req: NodeIncomingRequest;
  supervisor: QemuSupervisor;
  shadow: ShadowRecords;
  qmp?: QmpClient;
  /** Set once `finish` began: its outcome (repeated `finish` calls share it). */
  finishing?: Promise<{ resumeMs: number }>;
  aborted?: string;
  timer?: NodeJS.Timeout;
}

const DEFAULT_TIMEOUT_S = 600;
/** A destination drops an arrival whose source never said `finish` after this long past the source's timeout. */
const ARRIVAL_GRACE_MS = 120_000;

export class ClusterMoveService {
  private readonly arrivals = new Map<string, Arrival>();
  private readonly outcomes = new Map<string, 'running' | 'failed'>();

  constructor(private readonly deps: {
    vms: VmService;
    store: Store;
    events: EventBus;
    cluster: NodeCaller;
    /** Where arrivals leave their note (the daemon's run dir). */
    runDir: string;
    log?: (msg: string) => void;
  }) {}

  private log(msg: string): void {
    this.deps.log?.(msg);
  }

  private self(): string {
    const n = this.deps.cluster.nodeName;
    if (!n) throw new HangarError('NOT_IN_CLUSTER', 'This node is not in a cluster: `vm migrate --node` moves VMs between the nodes of one (use --to PEER for another daemon).');
    return n;
  }

  /** Calls another node's API; its error answer is thrown as the error it was. */
  async call<T>(node: string, method: string, url: string, body?: unknown): Promise<T> {
    const out = await this.deps.cluster.forward(node, method, url, body, `node:${this.self()}`);
    if (out.status >= 400) {
      const e = (out.body ?? {}) as { code?: ErrorCode; message?: string; details?: Record<string, unknown> };
      throw new HangarError(e.code ?? 'INTERNAL', `Node "${node}": ${e.message ?? `HTTP ${out.status}`}`, { ...(e.details && { details: e.details }) });
    }
    return out.body as T;
  }

  /** What can be checked before an operation is started for a move. */
  async precheck(name: string, input: NodeMoveInput): Promise<void> {
    const self = this.self();
    if (typeof input.node !== 'string' || !input.node) throw new HangarError('INVALID_SPEC', 'Name the node to move the VM to.', { details: { field: 'node' } });
    const rec = await this.deps.vms.record(name);
    if (rec.node !== undefined && rec.node !== self) throw new HangarError('VM_ON_OTHER_NODE', `VM "${name}" is on node "${rec.node}".`, { details: { node: rec.node } });
    if (input.node === self) throw new HangarError('INVALID_SPEC', `VM "${name}" is on node "${self}" already.`, { details: { field: 'node' } });
    const target = await this.deps.store.collection<NodeRecord>('nodes').get(input.node);
    if (!target) throw new HangarError('NOT_FOUND', `There is no node "${input.node}" in the cluster.`, { details: { field: 'node' } });
    if (target.evacuation && input.reason !== 'restore') throw new HangarError('NODE_EVACUATED', `Node "${input.node}" is ${target.evacuation.state} (node evacuate): it takes no VMs until \`hangar node restore ${input.node}\`.`, { details: { node: input.node } });
    if (!(await this.deps.store.collection('node-leases').get(input.node))) throw new HangarError('NODE_UNREACHABLE', `Node "${input.node}" is offline.`, { details: { node: input.node } });
    // A pool of its disks or a network of its NICs that the target does not have: refused up front.
    await checkReach(this.deps.store, input.node, rec);
    this.paramsOf(input);
    this.assertMovable(rec);
  }

  private assertMovable(rec: VmRecord): void {
    if (rec.state === 'stopped' || rec.state === 'crashed') return;
    assertOperationAllowed(rec.name, rec.state, 'migrate');
    const blocker = this.deps.vms.migrationBlocker(rec);
    if (blocker) throw new HangarError('VM_STATE', `VM "${rec.name}" cannot be migrated: ${blocker}.`);
    if (rec.spec.tpm) throw new HangarError('VM_STATE', `VM "${rec.name}" has a TPM, whose state is kept per node: stop it, then move it (cold).`);
  }

  private paramsOf(input: NodeMoveInput): MigrationParams {
    try {
      const { maxBandwidth, downtimeLimitMs } = input;
      return migrationParams(LIVE_MIGRATION_DEFAULTS, { maxBandwidth, downtimeLimitMs });
    } catch (e) {
      throw new HangarError('INVALID_SPEC', errorText(e));
    }
  }

  // ---- source ----------------------------------------------------------------

  /** Moves VM `name` (this node's) to `input.node`: live when it runs or is paused, cold when stopped. */
  async move(name: string, input: NodeMoveInput, ctx?: OperationContext): Promise<NodeMoveResult> {
    await this.precheck(name, input);
    const params = this.paramsOf(input);
    return this.deps.vms.operate(name, 'migrate', async (h) => {
      const rec = await h.record();
      this.assertMovable(rec);
      if (rec.state === 'stopped' || rec.state === 'crashed') return this.moveCold(rec, input);
      return this.moveLive(h, rec, input, params, ctx);
    });
  }

  private async moveCold(rec: VmRecord, input: NodeMoveInput): Promise<NodeMoveResult> {
    const t0 = Date.now();
    const from = this.self();
    const to = input.node;
    const id = randomBytes(8).toString('hex');
    await this.call(to, 'POST', '/v1/cluster/moves/check', { vm: rec.name, paths: diskPaths(rec) });
    const lastMove: NodeMove = { id, from, to, at: new Date().toISOString(), kind: 'cold', reason: input.reason ?? 'migrate' };
    // One write: the VM is the other node's from here on.
    await this.deps.store.updateVm({ ...rec, node: to, lastMove }, { expectRevision: rec.revision, moveNode: true });
    const result: NodeMoveResult = { vm: rec.name, id, from, to, kind: 'cold', totalMs: Date.now() - t0 };
    await this.deps.events.publish('vm.moved', rec.name, { id, from, to, kind: 'cold', reason: lastMove.reason, totalMs: result.totalMs });
    return result;
  }

  private async moveLive(h: VmHandle, rec: VmRecord, input: NodeMoveInput, params: MigrationParams, ctx?: OperationContext): Promise<NodeMoveResult> {
    const t0 = Date.now();
    const from = this.self();
    const to = input.node;
    const id = randomBytes(8).toString('hex');
    const reason = input.reason ?? 'migrate';
    const qmp = await h.qmp();
    const wasRunning = rec.state === 'running';
    const marker: MigrationMarker = { id, role: 'outgoing', peer: `node ${to}`, startedAt: new Date().toISOString(), wasRunning, cluster: { from, to, reason } };
    await h.update((r) => ({ ...r, migration: marker }));
    await h.setState('migrating');
    await this.deps.events.publish('vm.migration-started', rec.name, { to: `node ${to}`, id, storage: 'shared' });
    const req: NodeIncomingRequest = { id, vm: rec.name, vmId: rec.id, from, paused: !wasRunning, params: { ...params, pauseBeforeSwitchover: false } };
    let info: MigrationInfo | undefined;
    let finishSent = false;
    let completedAt: number | undefined;
    let resumeMs = 0;
    let finishSentAt = 0;
    try {
      ctx?.progress({ phase: `preparing node ${to}`, percent: 0 });
      const [ready] = await Promise.all([
        this.call<{ uri: string }>(to, 'POST', '/v1/cluster/moves/incoming', req),
        applyMigrationParams(qmp, req.params),
      ]);
      await qmp.execute('migrate', { uri: ready.uri });
      info = await watchMigration(qmp, (p) => ctx?.progress(migrationProgress('copying memory', p)), {
        ...(ctx && { signal: ctx.signal }), intervalMs: 50, what: `move of "${rec.name}" to node ${to}`,
        timeoutMs: (input.timeoutSeconds ?? DEFAULT_TIMEOUT_S) * 1000,
      });
      completedAt = Date.now();
      finishSent = true;
      finishSentAt = Date.now();
      resumeMs = (await this.call<{ resumeMs: number }>(to, 'POST', `/v1/cluster/moves/incoming/${id}/finish`)).resumeMs;
    } catch (e) {
      const err = isHangarError(e) ? e : new HangarError('MIGRATION_FAILED', errorText(e), { cause: e });
      // The store says who has the guest: take it back unless the destination did.
      const owner = await this.takeBack(rec.name, id, finishSent).catch((x: unknown) => {
        this.log(`${rec.name}: taking move ${id} back failed: ${errorText(x)}`);
        return finishSent ? ('unknown' as const) : ('here' as const);
      });
      if (owner === 'unknown') {
        const why = `The move of "${rec.name}" to node ${to} completed, but the store could not be asked who runs it (${err.message}). It stays paused here.`;
        await this.deps.events.publish('vm.move-failed', rec.name, { id, from, to, error: why }).catch(() => undefined);
        throw new HangarError('MIGRATION_FAILED', why, { cause: e });
      }
      if (owner === 'here') {
        await this.rollback(h, qmp, wasRunning);
        await this.call(to, 'DELETE', `/v1/cluster/moves/incoming/${id}`).catch((x: unknown) => this.log(`${rec.name}: asking node ${to} to drop move ${id}: ${errorText(x)}`));
        await this.deps.events.publish('vm.move-failed', rec.name, { id, from, to, error: err.message });
        throw new HangarError(err.code === 'VM_STATE' || err.code === 'NODE_UNREACHABLE' || err.code === 'HOST_CAPACITY' ? err.code : 'MIGRATION_FAILED',
          `The move of "${rec.name}" to node ${to} failed: ${err.message} The guest goes on running on node ${from}.`, { cause: e });
      }
      this.log(`${rec.name}: node ${to} took the guest over (the store says so) after: ${err.message}`);
    }
    // The record is the destination's now: this QEMU ends, nothing is written.
    await this.deps.vms.releaseMoved(rec);
    const qemuDowntimeMs = info?.downtime ?? 0;
    const result: NodeMoveResult = {
      vm: rec.name, id, from, to, kind: 'live', totalMs: Date.now() - t0, qemuDowntimeMs,
      // The guest's pause: QEMU's, then from QEMU's `completed` until the destination resumed it.
      downtimeMs: qemuDowntimeMs + (completedAt !== undefined && finishSentAt ? finishSentAt - completedAt + resumeMs : 0), transferredBytes: info?.ram?.transferred ?? 0,
    };
    await this.deps.events.publish('vm.moved', rec.name, { id, from, to, kind: 'live', reason, totalMs: result.totalMs, downtimeMs: result.downtimeMs });
    return result;
  }

  /**
   * After a failure: 'there' when the record is another node's now; else the move is marked
   * revoked (a CAS write: it fails if the destination wrote first) and the guest is 'here'.
   */
  async takeBack(name: string, id: string, finishSent = true): Promise<'here' | 'there'> {
    const self = this.self();
    const deadline = Date.now() + 30_000;
    for (;;) {
      const rec = await this.deps.store.getVm(name);
      if (!rec) throw new HangarError('VM_NOT_FOUND', `VM "${name}" no longer exists.`);
      if (rec.node !== undefined && rec.node !== self) return 'there';
      const m = rec.migration;
      if (!m?.cluster || m.id !== id || m.cluster.revoked) return 'here';
      try {
        await this.deps.store.updateVm({ ...rec, migration: { ...m, cluster: { ...m.cluster, revoked: true } } }, { expectRevision: rec.revision });
        return 'here';
      } catch (e) {
        if (!isHangarError(e) || e.code !== 'CONFLICT') {
          // Without `finish`, the destination never takes the guest: it is here either way.
          if (!finishSent) return 'here';
          throw e;
        }
        if (Date.now() > deadline) throw e;
        await sleep(50);
      }
    }
  }

  private async rollback(h: VmHandle, qmp: QmpClient, wasRunning: boolean): Promise<void> {
    try {
      await cancelActiveMigration(qmp);
      const run = await qmp.execute<{ running: boolean }>('query-status');
      if (wasRunning && !run.running) await qmp.execute('cont');
    } catch (e) {
      this.log(`rolling back a failed move: ${errorText(e)}`);
    }
    await h.update(withoutMigration);
    await h.syncRunState().catch((e: unknown) => this.log(`after a failed move: ${errorText(e)}`));
  }

  // ---- destination -----------------------------------------------------------

  /** Cold move: the disks (and boot files) are where the record says, on this host too. */
  async checkPaths(paths: string[]): Promise<{ ok: true }> {
    const missing = paths.filter((p) => !existsSync(p));
    if (missing.length) throw new HangarError('MIGRATION_FAILED', `Not on node ${this.self()}: ${missing.join(', ')} (only VMs on storage every node reaches at the same path can move).`, { details: { missing } });
    return { ok: true };
  }

  /** Prepares an arriving guest: a QEMU with -incoming for the existing record, on the side. */
  async prepareIncoming(req: NodeIncomingRequest, localAddress: string): Promise<{ uri: string }> {
    const self = this.self();
    if (!/^[0-9a-f]{16}$/.test(req.id)) throw new HangarError('INVALID_SPEC', 'A move id is 16 hex digits.');
    if (this.arrivals.has(req.id)) throw new HangarError('VM_BUSY', `Move ${req.id} is already being received.`);
    // The source wrote its marker just before calling: this node's copy of the store may lag a little.
    let rec: VmRecord | undefined;
    for (let waited = 0; ; waited += 20) {
      rec = await this.deps.store.getVm(req.vm);
      if (rec?.migration?.id === req.id || waited > 5000) break;
      await sleep(20);
    }
    const m = rec?.migration;
    if (!rec || rec.id !== req.vmId || rec.node !== req.from || m?.id !== req.id || m.cluster?.to !== self || m.cluster.revoked) {
      throw new HangarError('MIGRATION_FAILED', `VM "${req.vm}" is not being moved from node ${req.from} to node ${self} (move ${req.id}).`);
    }
    await this.checkPaths(diskPaths(rec));
    const arriving: VmRecord = { ...rec, node: self, state: 'stopped' };
    delete arriving.runtime;
    delete arriving.migration;
    delete arriving.stateReason;
    const shadow = new ShadowRecords(arriving);
    const supervisor = this.deps.vms.shadowSupervisor(shadow);
    const a: Arrival = { req, supervisor, shadow };
    this.arrivals.set(req.id, a);
    const host = isIP(localAddress) ? localAddress : '0.0.0.0';
    let uri = '';
    try {
      await supervisor.launch(arriving, {
        incoming: true, arriving: true, incomingFailState: 'stopped', stayPaused: true,
        beforeCont: async (qmp) => {
          await applyMigrationParams(qmp, { ...req.params, pauseBeforeSwitchover: false, lateBlockActivate: true });
          await qmp.execute('migrate-incoming', { uri: `tcp:${host.includes(':') ? `[${host}]` : host}:0` });
          const listening = await qmp.execute<{ 'socket-address'?: { type: string; port?: string }[] }>('query-migrate');
          const port = listening['socket-address']?.find((x) => x.type === 'inet')?.port;
          if (!port) throw new HangarError('QEMU_FAILED', 'QEMU did not say which port it listens on for the migration.');
          uri = `tcp:${host.includes(':') ? `[${host}]` : host}:${port}`;
          a.qmp = qmp;
        },
      });
      const rt = shadow.current.runtime;
      if (rt) await this.writeNote(req.id, { id: req.id, vm: req.vm, vmId: req.vmId, pid: rt.pid, pidStartTime: rt.pidStartTime });
    } catch (e) {
      this.arrivals.delete(req.id);
      await supervisor.forceStop(shadow.current).catch(() => undefined);
      throw e;
    }
    // A source that never says finish (it died for good): the arrival is dropped.
    a.timer = setTimeout(() => void this.abortIncoming(req.id, 'the source never said finish').catch(() => undefined), DEFAULT_TIMEOUT_S * 1000 + ARRIVAL_GRACE_MS);
    a.timer.unref();
    return { uri };
  }

  /** The source's word: the stream completed; take the VM over (one CAS write) and run it. */
  async finishIncoming(id: string): Promise<{ resumeMs: number }> {
    const a = this.arrivals.get(id);
    if (!a) {
      if (this.outcomes.get(id) === 'running') return { resumeMs: 0 };
      throw new HangarError('MIGRATION_NOT_FOUND', `No arriving move ${id} here (it failed or was dropped).`);
    }
    if (a.aborted) throw new HangarError('MIGRATION_FAILED', `Move ${id} was dropped: ${a.aborted}.`);
    a.finishing ??= this.handOver(a);
    return a.finishing;
  }

  private async handOver(a: Arrival): Promise<{ resumeMs: number }> {
    const t0 = performance.now();
    const { req } = a;
    const self = this.self();
    const qmp = a.qmp!;
    try {
      for (let waited = 0; ; waited += 5) {
        const s = await qmp.execute<MigrationInfo>('query-migrate');
        if (s.status === 'completed') break;
        if (s.status === 'failed' || waited > 30_000) throw new HangarError('MIGRATION_FAILED', `The source said finish, but the arriving stream is ${s.status ?? 'not started'}${s['error-desc'] ? `: ${s['error-desc']}` : ''}.`);
        await sleep(5);
      }
      const runtime = a.shadow.current.runtime;
      if (!runtime) throw new HangarError('MIGRATION_FAILED', 'The arriving QEMU has ended.');
      const at = new Date().toISOString();
      for (;;) {
        const rec = await this.deps.store.getVm(req.vm);
        const m = rec?.migration;
        if (!rec || rec.id !== req.vmId || rec.node !== req.from || m?.id !== req.id || !m.cluster || m.cluster.revoked) {
          throw new HangarError('MIGRATION_FAILED', `Node ${req.from} took VM "${req.vm}" back (move ${req.id}): it is not taken over here.`);
        }
        const lastMove: NodeMove = {
          id: req.id, from: req.from, to: self, at, kind: 'live', reason: m.cluster.reason,
          ...(rec.runtime && { sourcePid: rec.runtime.pid, sourcePidStartTime: rec.runtime.pidStartTime }),
        };
        const next: VmRecord = {
          ...rec, node: self, state: req.paused ? 'paused' : 'running', runtime, lastMove,
          migration: { id: req.id, role: 'incoming', peer: `node ${req.from}`, startedAt: m.startedAt, wasRunning: !req.paused, cluster: m.cluster },
        };
        delete next.stateReason;
        try {
          // THE hand-over: from this write on, the VM is this node's.
          await this.deps.store.updateVm(next, { expectRevision: rec.revision, moveNode: true });
          break;
        } catch (e) {
          if (!isHangarError(e) || e.code !== 'CONFLICT') throw e;
          await sleep(20);
        }
      }
    } catch (e) {
      await this.dropArrival(a, errorText(e));
      throw isHangarError(e) ? e : new HangarError('MIGRATION_FAILED', errorText(e), { cause: e });
    }
    if (!req.paused) await qmp.execute('cont').catch((e: unknown) => this.log(`${req.vm}: resuming the arrived guest failed: ${errorText(e)}`));
    const resumeMs = Math.round(performance.now() - t0);
    clearTimeout(a.timer);
    this.arrivals.delete(req.id);
    this.outcomes.set(req.id, 'running');
    // The daemon's own supervisor takes the QEMU over, as after a restart.
    await a.supervisor.detachAll();
    await this.deps.vms.adoptMoved(req.vm).catch((e: unknown) => this.log(`${req.vm}: adopting the arrived guest failed: ${errorText(e)}`));
    // Its shared disks' owner keys become this node's (bound to its lease; the export names stay).
    await this.deps.vms.takeOverDisks(req.vm).catch((e: unknown) => this.log(`${req.vm}: taking over its disks' owner keys failed: ${errorText(e)}`));
    await this.deps.vms.operate(req.vm, 'migrate-in', (h) => h.update(withoutMigration)).catch((e: unknown) => this.log(`${req.vm}: clearing the move marker failed: ${errorText(e)}`));
    await this.removeNote(req.id);
    return { resumeMs };
  }

  /** The source gave up (or never came back): the arriving QEMU ends. Refused once the VM was taken over. */
  async abortIncoming(id: string, why = 'dropped by the source'): Promise<void> {
    const a = this.arrivals.get(id);
    if (!a) {
      if (this.outcomes.get(id) === 'running') throw new HangarError('VM_STATE', `Move ${id} finished: the guest runs here now.`);
      return;
    }
    if (a.finishing) {
      const ran = await a.finishing.then(() => true, () => false);
      if (ran) throw new HangarError('VM_STATE', `Move ${id} finished: the guest runs here now.`);
      return;
    }
    await this.dropArrival(a, why);
  }

  private async dropArrival(a: Arrival, why: string): Promise<void> {
    a.aborted ??= why;
    clearTimeout(a.timer);
    this.arrivals.delete(a.req.id);
    this.outcomes.set(a.req.id, 'failed');
    if (this.outcomes.size > 1000) this.outcomes.delete(this.outcomes.keys().next().value!);
    await a.supervisor.forceStop(a.shadow.current).catch((e: unknown) => this.log(`${a.req.vm}: ending the arriving QEMU failed: ${errorText(e)}`));
    await this.removeNote(a.req.id);
    this.log(`${a.req.vm}: arriving move ${a.req.id} dropped: ${why}`);
  }

  private noteDir(): string {
    return join(this.deps.runDir, 'cluster-moves');
  }

  private async writeNote(id: string, note: ArrivalNote): Promise<void> {
    await mkdir(this.noteDir(), { recursive: true, mode: 0o700 });
    await writeFile(join(this.noteDir(), `${id}.json`), JSON.stringify(note), { mode: 0o600 });
  }

  private async removeNote(id: string): Promise<void> {
    await rm(join(this.noteDir(), `${id}.json`), { force: true });
  }

  // ---- after a daemon restart ------------------------------------------------

  /** Run once guests are re-adopted (see the module comment). */
  async recover(): Promise<void> {
    const self = this.deps.cluster.nodeName;
    if (!self) return;
    await this.recoverNotes(self);
    for (const rec of await this.deps.store.listVms()) {
      try {
        const m = rec.migration;
        if (rec.node === self && m?.cluster && m.role === 'outgoing') await this.recoverOutgoing(rec.name, m);
        else if (rec.node === self && m?.cluster && m.role === 'incoming') await this.recoverArrived(rec.name, m);
        else if (rec.node !== self && rec.lastMove?.from === self && rec.lastMove.sourcePid !== undefined && rec.lastMove.sourcePidStartTime !== undefined) {
          const { sourcePid: pid, sourcePidStartTime: start } = rec.lastMove;
          if (isSameLiveProcess(pid, start)) {
            signalProcess(pid, start, 'SIGKILL');
            await waitForProcessExit(pid, start, 5000);
            this.log(`${rec.name}: ended this node's old QEMU (pid ${pid}): the guest moved to node ${rec.node} while the daemon was down`);
          }
        }
      } catch (e) {
        this.log(`${rec.name}: recovering an interrupted move failed: ${errorText(e)}`);
      }
    }
  }

  private async recoverOutgoing(name: string, m: MigrationMarker): Promise<void> {
    const owner = await this.takeBack(name, m.id);
    if (owner === 'there') return;
    await this.deps.vms.operate(name, 'migrate', async (h) => {
      const rec = await h.record();
      if (rec.state === 'stopped' || rec.state === 'crashed' || !rec.runtime) return void (await h.update(withoutMigration));
      await this.rollback(h, await h.qmp(), m.wasRunning !== false);
    });
    await this.call(m.cluster!.to, 'DELETE', `/v1/cluster/moves/incoming/${m.id}`).catch(() => undefined);
    this.log(`${name}: move ${m.id} to node ${m.cluster!.to} was interrupted by a daemon restart; the guest goes on here`);
  }

  private async recoverArrived(name: string, m: MigrationMarker): Promise<void> {
    await this.deps.vms.operate(name, 'migrate-in', async (h) => {
      const rec = await h.record();
      if (m.wasRunning && rec.state === 'paused') {
        await (await h.qmp()).execute('cont');
        await h.syncRunState();
      }
      await h.update(withoutMigration);
    });
    this.log(`${name}: move ${m.id} had been handed over before the restart: the guest runs here`);
  }

  /** Arriving QEMUs a killed daemon left: ended unless the record names them (then they were taken over). */
  private async recoverNotes(self: string): Promise<void> {
    const files = await readdir(this.noteDir()).catch(() => [] as string[]);
    for (const f of files.filter((x) => x.endsWith('.json'))) {
      const path = join(this.noteDir(), f);
      try {
        const note = JSON.parse(await readFile(path, 'utf8')) as ArrivalNote;
        const rec = await this.deps.store.getVm(note.vm);
        const ours = rec?.id === note.vmId && rec.node === self && rec.runtime?.pid === note.pid;
        if (!ours && isSameLiveProcess(note.pid, note.pidStartTime)) {
          signalProcess(note.pid, note.pidStartTime, 'SIGKILL');
          await waitForProcessExit(note.pid, note.pidStartTime, 5000);
          this.log(`${note.vm}: ended the QEMU of move ${note.id}, which a daemon restart interrupted before the hand-over`);
        }
      } catch (e) {
        this.log(`reading ${path}: ${errorText(e)}`);
      }
      await rm(path, { force: true });
    }
  }
}

interface ArrivalNote {
  id: string;
  vm: string;
  vmId: string;
  pid: number;
  pidStartTime: string;
}

/** The record of an arriving guest as its side supervisor sees it: in memory only. */
export class ShadowRecords {
  constructor(public current: VmRecord) {}

  async get(): Promise<VmRecord> {
    return this.current;
  }

  async find(): Promise<VmRecord | undefined> {
    return this.current;
  }

  async update(_name: string, fn: (r: VmRecord) => VmRecord): Promise<VmRecord> {
    this.current = fn(this.current);
    return this.current;
  }

  async setState(_name: string, state: VmRecord['state'], extra: Partial<VmRecord> = {}): Promise<VmRecord> {
    const next = { ...this.current, ...extra, state };
    if ('stateReason' in extra && extra.stateReason === undefined) delete next.stateReason;
    this.current = next;
    return next;
  }
}

/** Every file the VM's QEMU opens from the host's storage. */
export function diskPaths(rec: VmRecord): string[] {
  const s = rec.spec;
  return [
    ...s.disks.map((d) => d.path),
    ...(s.firmware?.nvram ? [s.firmware.nvram.path] : []),
    ...(s.boot.kind === 'kernel' ? [s.boot.kernel, s.boot.initrd].filter((p): p is string => typeof p === 'string') : []),
  ];
}

function withoutMigration(r: VmRecord): VmRecord {
  const next = { ...r };
  delete next.migration;
  return next;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
