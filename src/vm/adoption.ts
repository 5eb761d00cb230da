/**
 * Re-adoption at daemon start: every guest the store says is active is found again by pid and
 * start time (or QEMU's pidfile), its monitor reattached, and its state read back from QEMU.
 * A guest that cannot be adopted is never killed: it is marked `unknown` with the reason.
 */
import { readFileSync } from 'node:fs';
import { errorText } from '../errors/errors.js';
import type { EventBus } from '../events/bus.js';
import type { VmPaths } from '../model/spec.js';
import type { VmState } from '../model/states.js';
import { isSameLiveProcess, readCmdline } from '../qemu/process.js';
import { QmpClient } from '../qmp/index.js';
import type { VmRecord, VmRuntime } from '../store/store.js';
import type { VmRecords } from './records.js';
import type { QemuSupervisor } from './supervisor.js';

export interface AdoptionDeps {
  supervisor: Pick<QemuSupervisor, 'track' | 'untrack' | 'attachQmp' | 'markUnknown' | 'finishStopped' | 'accelOf'>;
  records: Pick<VmRecords, 'update'>;
  events: Pick<EventBus, 'publish'>;
  paths: (rec: Pick<VmRecord, 'id'>) => VmPaths;
  log: (msg: string) => void;
  /** How long to keep trying a guest's QMP socket (default 3 s). */
  qmpConnectMs?: number;
  /** Called once per record when its adoption has ended, whatever the outcome. */
  onDone?: (rec: VmRecord) => void;
}

/**
 * Guests re-adopted at the same time when the daemon starts. Each mostly waits for its QEMU to
 * answer on QMP (three round trips, slow when the host is busy): 20 guests go in one wave.
 */
const ADOPT_CONCURRENCY = 32;

/** Adopts each of `active` (records in an active state), several at a time; a failure is logged. */
export async function adoptAll(active: readonly VmRecord[], deps: AdoptionDeps): Promise<void> {
  // Each adoption waits mostly on one guest's QMP socket: several at a time.
  const queue = [...active];
  const worker = async () => {
    for (let rec = queue.shift(); rec; rec = queue.shift()) {
      try {
        await adopt(rec, deps);
      } catch (e) {
        deps.log(`adopting ${rec.name} failed: ${errorText(e)}`);
      } finally {
        deps.onDone?.(rec);
      }
    }
  };
  await Promise.all(Array.from({ length: ADOPT_CONCURRENCY }, worker));
}

export async function adopt(rec: VmRecord, deps: AdoptionDeps): Promise<void> {
  const { supervisor, records } = deps;
  const paths = deps.paths(rec);
  let runtime = rec.runtime;
  if (!runtime) {
    // The daemon died between spawning QEMU and recording it: QEMU's own pidfile tells.
    runtime = runtimeFromPidfile(paths, supervisor.accelOf(rec));
    if (!runtime) {
      await supervisor.finishStopped(rec.name, { code: null, signal: null }, 'stopped', 'the daemon stopped before QEMU was started');
      return;
    }
    const found = runtime;
    rec = await records.update(rec.name, (r) => ({ ...r, runtime: found }));
  }
  if (!isSameLiveProcess(runtime.pid, runtime.pidStartTime)) {
    // Gone, or the pid now belongs to another process: nothing to adopt, and nothing is signalled.
    if (rec.state === 'stopping') await supervisor.finishStopped(rec.name, { code: null, signal: null }, 'stopped');
    else await supervisor.finishStopped(rec.name, { code: null, signal: null }, 'crashed', 'QEMU ended while the daemon was not running (exit status unknown)');
    return;
  }
  const lv = supervisor.track(rec, paths, runtime);
  let qmp: QmpClient;
  try {
    qmp = await QmpClient.connect(runtime.qmpSocket, { retryUntilMs: deps.qmpConnectMs ?? 3000, retryIntervalMs: 20 });
  } catch (e) {
    supervisor.untrack(rec.id);
    await supervisor.markUnknown(lv, `could not connect to its QMP socket (${errorText(e)}); the guest was left running as pid ${runtime.pid}`);
    return;
  }
  supervisor.attachQmp(lv, qmp);
  const status = await qmp.execute<{ status: string; running: boolean }>('query-status');
  let state: VmState;
  if (status.status === 'prelaunch' && rec.state === 'starting') {
    // The daemon died in the middle of a start: finish it, as the user asked.
    await qmp.execute('cont');
    state = 'running';
  } else if (status.status === 'shutdown') {
    lv.exitRequested = true;
    state = 'stopping';
  } else {
    state = status.running ? 'running' : 'paused';
    if (rec.state === 'stopping') lv.exitRequested = true;
  }
  // Most guests are found as recorded: then there is nothing to write.
  if (rec.state !== state || rec.stateReason !== undefined) {
    await records.update(rec.name, (r) => {
      const next: VmRecord = { ...r, state };
      delete next.stateReason;
      return next;
    });
  }
  await deps.events.publish('vm.adopted', rec.name, { pid: runtime.pid, state, qemuStatus: status.status });
}

/** The runtime of a QEMU found by its pidfile, if that process has this VM's QMP socket on its command line. */
function runtimeFromPidfile(paths: VmPaths, accel: 'kvm' | 'tcg'): VmRuntime | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(paths.pidFile, 'utf8').trim());
  } catch {
    return undefined;
  }
  const cmd = readCmdline(pid);
  if (!Number.isInteger(pid) || !cmd?.some((a) => a.includes(paths.qmpSocket))) return undefined;
  const startTime = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const pidStartTime = startTime.slice(startTime.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  return { pid, pidStartTime, qmpSocket: paths.qmpSocket, serialSocket: paths.serialSocket, startedAt: new Date().toISOString(), accel };
}
