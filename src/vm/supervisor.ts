/**
 * QEMU process supervision: launching a guest's QEMU (paused, configured over QMP, then
 * `cont`), watching it through its monitor, stopping it, and recording its end exactly once.
 * Re-adopting the processes a previous daemon started is in adoption.ts.
 */
import { withShareSockets, type VmHardwareRuntime } from './virtiofs.js';
import { prepareMemoryFiles, withMemoryFile } from './memory-file.js';
import { accessSync, constants } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { errorText, HangarError, isHangarError } from '../errors/errors.js';
import type { EventBus } from '../events/bus.js';
import { resolveAccel, type Accel, type HostCaps, type VmPaths } from '../model/spec.js';
import type { VmState } from '../model/states.js';
import { placementOf } from '../model/placement.js';
import type { NetworkService } from '../network/service.js';
import type { ExitOutcome } from '../policy/restart.js';
import { buildQemuArgv, type NbdDiskTarget } from '../qemu/argv.js';
import { isSameLiveProcess, launchQemu, readLogTail, signalProcess, waitForProcessExit, type ExitInfo } from '../qemu/process.js';
import { QmpClient, type QmpEvent } from '../qmp/index.js';
import type { CgroupDriver } from '../resources/cgroups.js';
import { setDiskThrottle, type LiveResources } from '../resources/live.js';
import type { VmRecord, VmRuntime } from '../store/store.js';
import type { GuestAgents } from './agent.js';
import type { DiskAccess } from './disk-access.js';
import type { GuestFiles } from './guest-files.js';
import { placeThreads, type PlacementOptions } from './placement-ops.js';
import type { VmTpm } from './tpm.js';
import type { VmLogs } from '../logd/link.js';
import type { VmRecords } from './records.js';

export interface StopOptions {
  force?: boolean;
  /** Seconds to wait for the guest to power off after ACPI before forcing. */
  timeoutSeconds?: number;
}

/** Work to do on a freshly launched, still paused QEMU before the guest runs. */
export interface StartHooks {
  beforeCont?: (qmp: QmpClient) => Promise<void>;
  /** Leave the guest paused after `beforeCont` (e.g. a snapshot taken while paused). */
  stayPaused?: boolean;
  /** Restoring a save: QEMU waits for its state (`-incoming defer`); a failure leaves the VM `saved`. */
  incoming?: boolean;
  /** A migration's destination: the source still holds the shared disks (their owner keys are only read). */
  arriving?: boolean;
  /** With `incoming`: the state a failure leaves (default `saved`; a live migration's destination: `stopped`). */
  incomingFailState?: 'saved' | 'stopped';
  /** A warm clone's first run: guest RAM is this template memory file, mapped privately (src/templates). */
  warmMemory?: string;
}

/** Where a VM's runtime files (sockets, pidfile, seed) and logs are. */
export function vmPaths(runDir: string, logDir: string, record: Pick<VmRecord, 'id'> & { spec?: Pick<VmRecord['spec'], 'firmware'> }): VmPaths {
  const dir = join(runDir, 'vms', record.id);
  const logs = join(logDir, record.id);
  return {
    qmpSocket: join(dir, 'qmp.sock'),
    serialSocket: join(dir, 'serial.sock'),
    vncSocket: join(dir, 'vnc.sock'),
    spiceSocket: join(dir, 'spice.sock'),
    pidFile: join(dir, 'qemu.pid'),
    qgaSocket: join(dir, 'qga.sock'),
    seedIso: join(dir, 'seed.iso'),
    tpmSocket: join(dir, 'swtpm.sock'),
    serialLog: join(logs, 'serial.log'),
    qemuLog: join(logs, 'qemu.log'),
    // UEFI: the VM's NVRAM volume (in its pool, not the run dir: it outlives every run).
    ...(record.spec?.firmware?.nvram && { nvram: record.spec.firmware.nvram.path }),
  };
}

/** A QEMU process the daemon is watching. */
export interface LiveVm {
  id: string;
  name: string;
  pid: number;
  pidStartTime: string;
  paths: VmPaths;
  qmp?: QmpClient;
  /** For a process this daemon spawned: resolves with its exit status once reaped. */
  exited?: Promise<ExitInfo>;
  /** Set when the daemon asked QEMU to go away, so its exit is not a crash. */
  exitRequested: boolean;
  /** The reason QEMU reported in its SHUTDOWN event, if any. */
  shutdownReason?: string;
  /** Set on a failed start: the reason to record when the process is gone. */
  failReason?: string;
  /** True until `cont` has been answered: an exit now is a failed start, not a crash. */
  starting: boolean;
  /** Resolves once the exit has been recorded in the store. */
  gone: Promise<void>;
  markGone: () => void;
  finished: boolean;
  /** True once the daemon itself closes the QMP connection (daemon shutdown). */
  detaching: boolean;
  /** A user (or the API) asked for this stop: no restart policy applies. */
  userStop?: boolean;
  /** The state its end records instead of `stopped` (a save, or a failed restore). */
  endState?: 'saved' | 'migrated';
}

export interface SupervisorDeps {
  records: Pick<VmRecords, 'get' | 'find' | 'update' | 'setState'>;
  events: Pick<EventBus, 'publish'>;
  paths: (rec: Pick<VmRecord, 'id'>) => VmPaths;
  caps: HostCaps;
  defaultAccel: Accel;
  /** QEMU's image locking on the guest's disks (off only in tests). */
  imageLocking: boolean;
  qemuBinary: string;
  /** Absent where the host has no usable cpu cgroup controller. */
  cgroups?: CgroupDriver;
  networks?: Pick<NetworkService, 'deleteTap'>;
  placement?: PlacementOptions;
  guestFiles: Pick<GuestFiles, 'prepare'>;
  /** In a cluster: claims shared disks before QEMU starts (and how to reach export-pool ones), lets them go after. */
  disks?: Pick<DiskAccess, 'beforeLaunch' | 'afterExit'>;
  /** Host checks and virtiofsd around each QEMU (issue 15 hardware). */
  hw?: Pick<VmHardwareRuntime, 'beforeLaunch' | 'afterExit'>;
  agents: Pick<GuestAgents, 'agentFor' | 'agentPresent' | 'close'>;
  /** VMs with a TPM: their swtpm and its state (absent: such a VM cannot start). */
  tpm?: Pick<VmTpm, 'start' | 'stop' | 'removeState'>;
  /** logd: the guest's serial and QEMU logs capped (absent: QEMU writes them itself, uncapped). */
  logs?: VmLogs;
  /** Whether an operation holds the VM: its own pauses and resumes are not news from QEMU. */
  isBusy: (name: string) => boolean;
  /** QEMU ended without a user asking (a crash, or the guest powered off): the restart policy's turn. */
  onUnrequestedExit: (name: string, outcome: ExitOutcome) => void;
  log: (msg: string) => void;
  /** Where file-backed guest RAM lives (`<data-dir>/memory`); absent: such VMs cannot start. */
  memoryRoot?: string;
}

const QMP_CONNECT_TIMEOUT_MS = 10_000;
const FORCE_QUIT_GRACE_MS = 3_000;

export class QemuSupervisor {
  private readonly live = new Map<string, LiveVm>();

  constructor(private readonly deps: SupervisorDeps) {}

  /** The live QMP connection of a VM (by id); undefined while it has none. */
  monitor(id: string): QmpClient | undefined {
    const qmp = this.live.get(id)?.qmp;
    return qmp && !qmp.closed ? qmp : undefined;
  }

  mustLive(rec: VmRecord): LiveVm {
    const lv = this.live.get(rec.id);
    if (!lv) {
      throw new HangarError('VM_STATE', `VM "${rec.name}" has no QEMU process the daemon controls (${rec.stateReason ?? rec.state}): use stop --force.`);
    }
    return lv;
  }

  qmpOf(rec: VmRecord): QmpClient {
    const qmp = this.mustLive(rec).qmp;
    if (!qmp || qmp.closed) throw new HangarError('VM_STATE', `VM "${rec.name}" has no monitor connection right now: try again, or stop --force.`);
    return qmp;
  }

  /** kvm or tcg: what the VM's QEMU runs (or would run) with on this host. */
  accelOf(rec: VmRecord): 'kvm' | 'tcg' {
    return resolveAccel(rec.spec, this.deps.caps, { defaultAccel: this.deps.defaultAccel });
  }

  /**
   * Spawns QEMU paused, connects to its monitor, applies limits, placement and `hooks`, then
   * lets the guest run. The caller has checked that it may start. A failure ends QEMU and
   * throws QEMU_FAILED; the record then says why.
   */
  async launch(rec: VmRecord, opts: StartHooks = {}): Promise<VmRecord> {
    const paths = withMemoryFile(withShareSockets(this.deps.paths(rec), rec.spec), rec.spec, this.deps.memoryRoot, rec.id);
    const accel = this.accelOf(rec);
    if (rec.spec.boot.kind === 'kernel') checkBootFiles(rec);
    const diskExports = (await this.deps.disks?.beforeLaunch(rec, { incoming: opts.arriving === true })) ?? {};
    try {
      return await this.launchClaimed(rec, opts, paths, accel, diskExports);
    } catch (e) {
      // QEMU never ran (it would have let the disks go when it ended): let them go here.
      if (!this.live.has(rec.id) && !opts.arriving) await this.deps.disks?.afterExit(rec.id, rec.name);
      throw e;
    }
  }

  private async launchClaimed(rec: VmRecord, opts: StartHooks, paths: VmPaths, accel: 'kvm' | 'tcg', diskExports: Record<string, NbdDiskTarget>): Promise<VmRecord> {
    const { records } = this.deps;
    // Restoring: the same guest-visible hardware as the saved guest; QEMU then waits for `migrate-incoming`.
    const argvFor = (p: VmPaths) => buildQemuArgv(rec.spec, this.deps.caps, p, {
      defaultAccel: this.deps.defaultAccel, ...(!this.deps.imageLocking && { imageLocking: false }), ...(opts.incoming ? { incoming: 'defer' as const } : {}), diskExports,
      ...(opts.warmMemory !== undefined && { warmMemory: opts.warmMemory }),
    });
    let argv = argvFor(paths);

    await mkdir(dirname(paths.qmpSocket), { recursive: true, mode: 0o700 });
    await mkdir(dirname(paths.qemuLog), { recursive: true, mode: 0o700 });
    await Promise.all([paths.qmpSocket, paths.serialSocket, paths.vncSocket, paths.spiceSocket!, paths.pidFile, paths.qgaSocket!].map((p) => rm(p, { force: true })));

    const identity = await this.deps.guestFiles.prepare(rec, paths, accel);
    await this.deps.hw?.beforeLaunch(rec, paths, identity);
    const memoryMapped = await prepareMemoryFiles(paths, opts.warmMemory, identity);
    // The TPM first: QEMU connects to swtpm's socket as it starts (a restore's too: QEMU pushes the saved TPM state into it).
    const swtpm = rec.spec.tpm ? await this.startTpm(rec, paths, identity) : undefined;
    // Capped logs: logd reads the guest's FIFOs before QEMU opens them.
    const fifos = await this.deps.logs?.prepare(rec.id, dirname(paths.qmpSocket), { serial: paths.serialLog, qemu: paths.qemuLog }, identity);
    if (fifos) {
      paths = { ...paths, serialFifo: fifos.serial, qemuFifo: fifos.qemu };
      argv = argvFor(paths);
    }
    let launched: ReturnType<typeof launchQemu>;
    try {
      rec = await records.setState(rec.name, 'starting', { stateReason: undefined });
      launched = launchQemu(this.deps.qemuBinary, argv, paths.qemuFifo ?? paths.qemuLog, identity, { fifo: paths.qemuFifo !== undefined });
    } catch (e) {
      if (swtpm) await this.deps.tpm?.stop(swtpm, 0);
      if (fifos) await this.deps.logs?.release(rec.id);
      await memoryMapped().catch(() => undefined);
      throw e;
    }
    if (fifos) await this.deps.logs?.owned(rec.id, { pid: launched.pid, startTime: launched.pidStartTime });
    const runtime: VmRuntime = {
      pid: launched.pid, pidStartTime: launched.pidStartTime, qmpSocket: paths.qmpSocket, serialSocket: paths.serialSocket,
      startedAt: new Date().toISOString(), accel, ...(swtpm && { swtpm }),
    };
    if (rec.spec.vnc) runtime.vncSocket = paths.vncSocket;
    rec = await records.update(rec.name, (r) => ({ ...r, runtime }));
    const lv = this.track(rec, paths, runtime);
    lv.starting = true;
    if (opts.incoming && opts.incomingFailState !== 'stopped') lv.endState = 'saved';
    lv.exited = launched.exited;
    void launched.exited.then((exit) => this.onQemuGone(lv, exit));

    let live: LiveResources;
    try {
      const qmp = await raceExit(
        QmpClient.connect(paths.qmpSocket, { retryUntilMs: QMP_CONNECT_TIMEOUT_MS, retryIntervalMs: 2 }),
        launched.exited,
      );
      this.attachQmp(lv, qmp);
      await memoryMapped();
      live = await this.applyStartResources(rec, launched.pid, qmp);
      runtime.threads = await placeThreads(rec.spec, launched.pid, qmp, this.deps.placement);
      runtime.placement = placementOf(rec.spec);
      if (opts.beforeCont) await opts.beforeCont(qmp);
      delete lv.endState;
      if (opts.stayPaused) {
        lv.starting = false;
        return records.setState(rec.name, 'paused', { runtime: { ...runtime, live } });
      }
      await qmp.execute('cont');
      lv.starting = false;
    } catch (e) {
      await this.deps.logs?.flush(rec.id);
      const tail = await readLogTail(paths.qemuLog, 2048);
      lv.failReason ??= `QEMU failed to start: ${errorText(e)}${tail ? `\n${tail.trim()}` : ''}`;
      lv.exitRequested = true;
      await memoryMapped().catch(() => undefined);
      await this.terminate(lv);
      await lv.gone;
      throw new HangarError('QEMU_FAILED', `VM "${rec.name}" did not start: ${errorText(e)}. QEMU said: ${tail.trim().split('\n').slice(-3).join(' | ') || '(nothing)'}. See \`hangar vm logs ${rec.name} --qemu\`.`);
    }
    return records.setState(rec.name, 'running', { runtime: { ...runtime, live } });
  }

  private async startTpm(rec: VmRecord, paths: VmPaths, identity: Awaited<ReturnType<SupervisorDeps['guestFiles']['prepare']>>) {
    if (!this.deps.tpm) throw new HangarError('TPM_UNAVAILABLE', `VM "${rec.name}" has a TPM, but this daemon runs no swtpm.`);
    return this.deps.tpm.start(rec, paths, identity);
  }

  /**
   * cgroup placement and limits, disk throttles: before the guest runs its first instruction.
   * Returns what the guest has, recorded together with the `running` state (one store write).
   */
  private async applyStartResources(rec: VmRecord, pid: number, qmp: QmpClient): Promise<LiveResources> {
    const { spec } = rec;
    const cg = this.deps.cgroups;
    if (cg) {
      const limited = spec.cpuLimitPercent !== undefined || spec.cpuWeight !== undefined;
      const place = async () => {
        // A fresh group has the defaults: only limits that are set need writing.
        if (spec.cpuLimitPercent !== undefined) await cg.setCpuLimit(rec.id, spec.cpuLimitPercent);
        if (spec.cpuWeight !== undefined) await cg.setCpuWeight(rec.id, spec.cpuWeight);
        await cg.place(rec.id, pid);
      };
      if (limited) {
        await place();
      } else {
        // Moving a process between cgroups waits for an RCU grace period (~11 ms here). With no
        // limit to enforce yet, that need not delay the guest: the move happens alongside.
        void place().catch((e: unknown) => this.deps.log(`${rec.name}: cgroup placement failed (${errorText(e)}); it runs unconfined until a limit is set`));
      }
    }
    for (const d of spec.disks) {
      if (d.iops || d.bps) await setDiskThrottle(qmp, d.id, { iops: d.iops ?? 0, bps: d.bps ?? 0 }, spec.machine === 'microvm' ? 'mmio' : 'pci');
    }
    return {
      cpus: spec.cpus, maxCpus: spec.maxCpus ?? spec.cpus, memoryMiB: spec.memoryMiB, pluggedMiB: spec.memoryMiB,
      maxMemoryMiB: spec.maxMemoryMiB ?? spec.memoryMiB, dimms: 0,
    };
  }

  /**
   * Graceful stop: ACPI power button, then the guest agent after a third of the timeout,
   * then forced. Returns once the end is recorded. The caller has checked that it may stop.
   */
  async stop(rec: VmRecord, opts: StopOptions): Promise<VmRecord> {
    const lv = this.mustLive(rec);
    const timeoutMs = (opts.timeoutSeconds ?? 60) * 1000;
    const wasPaused = rec.state === 'paused';
    rec = await this.deps.records.setState(rec.name, 'stopping');
    lv.exitRequested = true;
    lv.userStop = true;
    try {
      const qmp = this.qmpOf(rec);
      await qmp.execute('system_powerdown');
      // A paused guest cannot see the ACPI button until its vCPUs run again.
      if (wasPaused) await qmp.execute('cont');
    } catch (e) {
      this.deps.log(`${rec.name}: ACPI powerdown failed (${errorText(e)}); forcing`);
    }
    // ACPI first; a guest that ignores it gets asked through its agent after a third of the timeout.
    let exited = await Promise.race([lv.gone.then(() => true), sleep(timeoutMs / 3).then(() => false)]);
    if (!exited) {
      const agent = this.deps.agents.agentFor(rec);
      if ((await this.deps.agents.agentPresent(rec)) && (await agent.ping(2000))) {
        await this.deps.events.publish('vm.stop-via-agent', rec.name, { after: 'ACPI was ignored' });
        await agent.shutdown('powerdown').catch(() => undefined);
      }
      exited = await Promise.race([lv.gone.then(() => true), sleep((2 * timeoutMs) / 3).then(() => false)]);
    }
    if (!exited) {
      await this.deps.events.publish('vm.stop-timeout', rec.name, { timeoutSeconds: timeoutMs / 1000, action: 'forced stop' });
      await this.terminate(lv);
    }
    await lv.gone;
    return this.deps.records.get(rec.name);
  }

  /** Ends QEMU now (or, with no process watched, a verified leftover pid) and records `stopped`. */
  async forceStop(rec: VmRecord): Promise<VmRecord> {
    const lv = this.live.get(rec.id);
    if (!lv) {
      // Nothing is watching a process for it (e.g. adoption failed): act only on a verified pid.
      if (rec.runtime && isSameLiveProcess(rec.runtime.pid, rec.runtime.pidStartTime)) {
        signalProcess(rec.runtime.pid, rec.runtime.pidStartTime, 'SIGKILL');
        await waitForProcessExit(rec.runtime.pid, rec.runtime.pidStartTime, 5000);
      }
      return this.finishStopped(rec.name, { code: null, signal: 'SIGKILL' }, 'stopped');
    }
    lv.userStop = true;
    lv.exitRequested = true;
    await this.terminate(lv);
    await lv.gone;
    return this.deps.records.get(rec.name);
  }

  /** Ends QEMU once its guest was saved (`saved`) or moved to another host (`migrated`). */
  async quit(rec: VmRecord, endState: 'saved' | 'migrated'): Promise<void> {
    const lv = this.mustLive(rec);
    lv.endState = endState;
    lv.userStop = true;
    await this.terminate(lv);
  }

  /** Ends QEMU now: `quit` over QMP, then SIGKILL if it lingers. Returns once it is gone. */
  private async terminate(lv: LiveVm): Promise<void> {
    lv.exitRequested = true;
    if (lv.qmp && !lv.qmp.closed) {
      lv.qmp.execute('quit', undefined, { timeoutMs: FORCE_QUIT_GRACE_MS }).catch(() => undefined);
    } else {
      signalProcess(lv.pid, lv.pidStartTime, 'SIGKILL');
    }
    if (!(await waitForProcessExit(lv.pid, lv.pidStartTime, FORCE_QUIT_GRACE_MS, 2))) {
      signalProcess(lv.pid, lv.pidStartTime, 'SIGKILL');
      await waitForProcessExit(lv.pid, lv.pidStartTime, 5000, 2);
    }
    if (lv.exited) {
      // Our own child: its exit event carries the status; it comes right after the process is reaped.
      await Promise.race([lv.exited, sleep(1000)]);
    }
    // An adopted process is not our child: nothing else will tell us it has gone.
    void this.onQemuGone(lv, undefined);
    await lv.gone;
  }

  /** Starts watching a QEMU process (its monitor comes with `attachQmp`). */
  track(rec: VmRecord, paths: VmPaths, runtime: VmRuntime): LiveVm {
    let markGone!: () => void;
    const gone = new Promise<void>((r) => (markGone = r));
    const lv: LiveVm = {
      id: rec.id, name: rec.name, pid: runtime.pid, pidStartTime: runtime.pidStartTime, paths,
      exitRequested: false, gone, markGone, finished: false, detaching: false, starting: false,
    };
    this.live.set(rec.id, lv);
    return lv;
  }

  /** Stops watching without recording anything (an adoption that did not get a monitor). */
  untrack(id: string): void {
    this.live.delete(id);
  }

  /** Follows QEMU's events and, for an adopted process, the monitor's end as the end of QEMU. */
  attachQmp(lv: LiveVm, qmp: QmpClient): void {
    lv.qmp = qmp;
    qmp.onEvent((e) => this.onQmpEvent(lv, e));
    qmp.onClose(() => {
      // Our own child's exit event records the end, with its exit status.
      if (lv.detaching || lv.finished || lv.exited) return;
      // For our own child the exit handler records the end; for an adopted process this is the signal.
      void waitForProcessExit(lv.pid, lv.pidStartTime, 15_000)
        .then((exited) => {
          if (exited) return this.onQemuGone(lv, undefined);
          return this.markUnknown(lv, 'the QMP connection closed but QEMU is still running');
        })
        .catch((e: unknown) => this.deps.log(`${lv.name}: after its monitor closed: ${errorText(e)}`));
    });
  }

  private onQmpEvent(lv: LiveVm, e: QmpEvent): void {
    if (e.event === 'SHUTDOWN') {
      lv.shutdownReason = typeof e.data?.reason === 'string' ? e.data.reason : 'unknown';
      if (e.data?.guest === true) lv.exitRequested = true;
      return;
    }
    // Reflect pauses and resumes that did not come from us (guest I/O errors, another QMP user).
    if ((e.event === 'STOP' || e.event === 'RESUME') && !this.deps.isBusy(lv.name)) {
      const next: VmState = e.event === 'STOP' ? 'paused' : 'running';
      void this.deps.records.update(lv.name, (r) => (r.state === 'running' || r.state === 'paused' ? { ...r, state: next } : r))
        .then((r) => (r.state === next ? this.deps.events.publish('vm.state', lv.name, { state: next, cause: 'qemu' }) : undefined))
        .catch(() => undefined);
    }
  }

  /** Records the end of a QEMU process exactly once. */
  private async onQemuGone(lv: LiveVm, exit: ExitInfo | undefined): Promise<void> {
    if (lv.finished || lv.detaching) return;
    lv.finished = true;
    this.live.delete(lv.id);
    try {
      // QEMU has ended: what it wrote is drained into its logs (read below), and logd lets its FIFOs go.
      await this.deps.logs?.release(lv.id);
      await lv.qmp?.close();
      const status = exit ?? { code: null, signal: null };
      if (lv.starting && !lv.failReason) {
        const tail = await readLogTail(lv.paths.qemuLog, 2048);
        lv.failReason = `QEMU failed to start (${describeExit(exit)})${tail.trim() ? `: ${tail.trim()}` : ''}`;
      }
      let outcome: ExitOutcome | undefined;
      if (lv.failReason) {
        await this.finishStopped(lv.name, status, lv.endState ?? 'stopped', lv.failReason);
      } else if (lv.exitRequested || lv.shutdownReason !== undefined) {
        await this.finishStopped(lv.name, status, lv.endState ?? 'stopped');
        outcome = lv.userStop ? 'requested-stop' : 'guest-shutdown';
      } else {
        const tail = await readLogTail(lv.paths.qemuLog, 2048);
        await this.finishStopped(lv.name, status, 'crashed', `QEMU ended unexpectedly (${describeExit(exit)})${tail.trim() ? `: ${tail.trim().split('\n').slice(-5).join(' | ')}` : ''}`);
        outcome = 'crashed';
      }
      if (outcome && outcome !== 'requested-stop') this.deps.onUnrequestedExit(lv.name, outcome);
    } catch (e) {
      this.deps.log(`${lv.name}: recording the end of QEMU failed: ${errorText(e)}`);
      // etcd out of reach: the end is recorded once it answers again, never forgotten.
      if (isHangarError(e) && e.code === 'CLUSTER_STORE_UNAVAILABLE') this.recordEndLater(lv.name, exit ?? { code: null, signal: null });
    } finally {
      lv.markGone();
    }
    this.deps.agents.close(lv.id);
    await this.deps.disks?.afterExit(lv.id, lv.name);
    await this.deps.hw?.afterExit(lv.id, lv.paths).catch((e: unknown) => this.deps.log(`${lv.name}: stopping virtiofsd failed: ${errorText(e)}`));
    const taps = (await this.deps.records.find(lv.name).catch(() => undefined))?.spec.nics.filter((n) => n.kind === 'network' && n.tap).map((n) => n.tap!) ?? [];
    for (const tap of taps) await this.deps.networks?.deleteTap(tap).catch((e: unknown) => this.deps.log(`${lv.name}: removing tap ${tap} failed: ${errorText(e)}`));
    // Tidying after the caller has its answer: QEMU removes most of these itself.
    await Promise.all([
      this.deps.cgroups?.remove(lv.id),
      rm(lv.paths.qmpSocket, { force: true }), rm(lv.paths.serialSocket, { force: true }), rm(lv.paths.vncSocket, { force: true }),
      rm(lv.paths.spiceSocket!, { force: true }), ...(lv.paths.memoryFile ? [rm(lv.paths.memoryFile, { force: true })] : []),
    ]).catch(() => undefined);
  }

  /** Retries recording a guest's end every 2 s until the store takes it (as `crashed` unless it was stopped meanwhile). */
  private recordEndLater(name: string, exit: ExitInfo): void {
    const timer = setTimeout(() => {
      void (async () => {
        const rec = await this.deps.records.find(name).catch(() => undefined);
        if (!rec || !(rec.state === 'running' || rec.state === 'paused' || rec.state === 'stopping') || this.live.has(rec.id)) return;
        await this.finishStopped(name, exit, 'crashed', `QEMU ended (${describeExit(exit)}) while the cluster store was out of reach`);
      })().catch((e: unknown) => {
        // Only an unreachable store is waited out: a VM that another node holds now is not this node's to record.
        if (isHangarError(e) && e.code === 'CLUSTER_STORE_UNAVAILABLE') this.recordEndLater(name, exit);
        else this.deps.log(`${name}: recording the end of QEMU failed: ${errorText(e)}`);
      });
    }, 2000);
    timer.unref();
  }

  /** Records that QEMU has ended (no runtime any more) and says so on the event bus. */
  async finishStopped(name: string, exit: ExitInfo, state: 'stopped' | 'crashed' | 'saved' | 'migrated', reason?: string): Promise<VmRecord> {
    const lastExit = { code: exit.code, signal: exit.signal, at: new Date().toISOString() };
    let swtpm: NonNullable<VmRuntime['swtpm']> | undefined;
    const rec = await this.deps.records.update(name, (r) => {
      swtpm = r.runtime?.swtpm;
      const next: VmRecord = { ...r, state, lastExit };
      delete next.runtime;
      if (reason === undefined) delete next.stateReason;
      else next.stateReason = reason;
      return next;
    });
    // QEMU has ended: so does its swtpm (it normally has already, its connection closed).
    if (swtpm) await this.deps.tpm?.stop(swtpm).catch((e: unknown) => this.deps.log(`${name}: ending swtpm pid ${swtpm!.pid} failed: ${errorText(e)}`));
    // The guest left for another host, its TPM state inside the migration stream: none stays here.
    if (state === 'migrated' && rec.spec.tpm) await this.deps.tpm?.removeState(rec).catch((e: unknown) => this.deps.log(`${name}: removing the TPM state of the departed guest failed: ${errorText(e)}`));
    const exitData = { exitCode: exit.code, signal: exit.signal, ...(reason !== undefined && { reason }) };
    if (state === 'crashed') await this.deps.events.publish('vm.crashed', name, { state, ...exitData });
    else await this.deps.events.publish('vm.state', name, { state, ...exitData });
    return rec;
  }

  /** A QEMU process the daemon cannot control: left running, its VM `unknown` with the reason. */
  async markUnknown(lv: Pick<LiveVm, 'name' | 'pid'>, reason: string): Promise<void> {
    await this.deps.records.update(lv.name, (r) => ({ ...r, state: 'unknown', stateReason: reason }));
    await this.deps.events.publish('vm.adopt-failed', lv.name, { pid: lv.pid, reason });
  }

  /**
   * The guest runs on another node now (its record is that node's): this QEMU ends without
   * anything written to the record, and what it used here is tidied.
   */
  async releaseMoved(rec: VmRecord): Promise<void> {
    const lv = this.live.get(rec.id);
    if (!lv) return;
    lv.detaching = true;
    lv.exitRequested = true;
    this.live.delete(rec.id);
    if (lv.qmp && !lv.qmp.closed) await lv.qmp.execute('quit', undefined, { timeoutMs: FORCE_QUIT_GRACE_MS }).catch(() => undefined);
    if (!(await waitForProcessExit(lv.pid, lv.pidStartTime, FORCE_QUIT_GRACE_MS, 2))) {
      signalProcess(lv.pid, lv.pidStartTime, 'SIGKILL');
      await waitForProcessExit(lv.pid, lv.pidStartTime, 5000, 2);
    }
    await lv.qmp?.close().catch(() => undefined);
    await this.deps.logs?.release(lv.id);
    lv.finished = true;
    lv.markGone();
    this.deps.agents.close(lv.id);
    await this.deps.hw?.afterExit(lv.id, lv.paths).catch(() => undefined);
    if (rec.runtime?.swtpm) await this.deps.tpm?.stop(rec.runtime.swtpm).catch(() => undefined);
    for (const tap of rec.spec.nics.filter((n) => n.kind === 'network' && n.tap).map((n) => n.tap!)) await this.deps.networks?.deleteTap(tap).catch(() => undefined);
    await Promise.all([
      this.deps.cgroups?.remove(lv.id),
      rm(lv.paths.qmpSocket, { force: true }), rm(lv.paths.serialSocket, { force: true }), rm(lv.paths.vncSocket, { force: true }),
      rm(lv.paths.spiceSocket!, { force: true }), ...(lv.paths.memoryFile ? [rm(lv.paths.memoryFile, { force: true })] : []),
    ]).catch(() => undefined);
  }

  /** Lets go of every guest without touching it (the daemon is shutting down). */
  async detachAll(): Promise<void> {
    for (const lv of this.live.values()) {
      lv.detaching = true;
      await lv.qmp?.close();
    }
    this.live.clear();
  }
}

function checkBootFiles(rec: VmRecord): void {
  if (rec.spec.boot.kind !== 'kernel') return;
  for (const f of [rec.spec.boot.kernel, rec.spec.boot.initrd]) {
    if (f === undefined) continue;
    try {
      accessSync(f, constants.R_OK);
    } catch {
      throw new HangarError('IMAGE_NOT_FOUND', `VM "${rec.name}" boots from ${f}, which is missing: rebuild its image (\`hangar image build ${rec.spec.image ?? 'tiny'}\`).`);
    }
  }
}

function describeExit(exit: ExitInfo | undefined): string {
  if (exit === undefined) return 'exit status unknown (adopted process)';
  return exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
}

/** Rejects as soon as QEMU exits, so a failed start does not wait for the QMP timeout. */
async function raceExit<T>(p: Promise<T>, exited: Promise<ExitInfo>): Promise<T> {
  const early = exited.then((e): never => {
    throw new Error(`QEMU exited during start (${e.signal ? `signal ${e.signal}` : `exit code ${e.code}`})`);
  });
  const result = await Promise.race([p, early]);
  early.catch(() => undefined);
  return result;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
