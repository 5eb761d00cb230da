/**
 * Host CPU pinning of a QEMU process's threads: vCPU threads (QMP query-cpus-fast),
 * I/O threads (query-iothreads), and the emulator, i.e. every other thread of the process
 * (main loop, RCU, thread-pool workers). Node has no sched_setaffinity binding, so the
 * affinity is set with util-linux `taskset -p -c LIST TID`, spawned with an argv array;
 * it is read back from /proc/PID/task/TID/status (Cpus_allowed_list).
 *
 * Threads QEMU creates later inherit the affinity of the thread that creates them: workers
 * of the main loop get the emulator CPUs, and a hot-plugged vCPU starts on them too until
 * the pins are applied again (the VM service does so after a vCPU hot-plug).
 */
import { readdir, readFile } from 'node:fs/promises';
import { HangarError } from '../errors/errors.js';
import { describeExit, notFound, run, succeeded } from '../util/run.js';
import type { QmpClient } from '../qmp/index.js';
import type { QemuThreads } from '../model/vm-record.js';
import { formatCpuList, parseKernelList } from '../model/placement.js';
import type { PinSpec } from '../model/spec.js';

/** Thread ids of a running QEMU: vCPU index → tid, I/O thread id → tid. */
export type { QemuThreads } from '../model/vm-record.js';

export interface EffectiveAffinity {
  /** vCPU index → host CPUs it may run on. */
  vcpus: Record<string, string>;
  /** The main QEMU thread (other emulator threads inherit from it). */
  emulator: string;
  iothreads: Record<string, string>;
}

/** Sets one thread's affinity; `cpus` in the kernel's list format. */
export type AffinitySetter = (tid: number, cpus: string) => Promise<void>;

export async function queryThreads(qmp: QmpClient, withIothreads: boolean): Promise<QemuThreads> {
  const cpus = await qmp.execute<Array<{ 'cpu-index': number; 'thread-id': number }>>('query-cpus-fast');
  const threads: QemuThreads = { vcpus: {}, iothreads: {} };
  for (const c of cpus) threads.vcpus[String(c['cpu-index'])] = c['thread-id'];
  if (withIothreads) {
    for (const t of await qmp.execute<Array<{ id: string; 'thread-id': number }>>('query-iothreads')) threads.iothreads[t.id] = t['thread-id'];
  }
  return threads;
}

/** util-linux taskset; it refuses CPUs that are offline or outside the caller's cpuset. */
export const tasksetSetter: AffinitySetter = async (tid, cpus) => {
  const r = await run('taskset', ['-p', '-c', cpus, String(tid)], { timeoutMs: 5000 });
  if (succeeded(r)) return;
  throw new HangarError('INTERNAL', notFound(r)
    ? 'Pinning needs taskset (Debian package util-linux), which is not on PATH.'
    : `taskset -p -c ${cpus} ${tid} failed: ${r.stderr.trim() || describeExit(r)}`);
};

/** Cpus_allowed_list of one thread, normalized (`0-1`), or undefined if it is gone. */
export async function readAffinity(pid: number, tid: number, procRoot = '/proc'): Promise<string | undefined> {
  try {
    const status = await readFile(`${procRoot}/${pid}/task/${tid}/status`, 'utf8');
    const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(status);
    return m ? formatCpuList(parseKernelList(m[1]!)) : undefined;
  } catch {
    return undefined;
  }
}

export interface PinStep {
  tid: number;
  what: string;
  cpus: string;
}

/**
 * The affinity changes that make every thread of `pid` match `pin`: pinned classes get
 * their CPUs, unpinned ones all `online` CPUs (so an unpin, or a vCPU born on the emulator
 * CPUs, is put right). Threads already right are left alone.
 */
export async function planPinning(pid: number, threads: QemuThreads, pin: PinSpec | undefined, online: readonly number[], procRoot = '/proc'): Promise<PinStep[]> {
  const all = formatCpuList(online);
  const byTid = new Map<number, { what: string; cpus: string }>();
  const want = (tid: number, what: string, cpus: string) => {
    const prev = byTid.get(tid);
    if (prev && prev.cpus !== cpus) {
      throw new HangarError('VM_STATE', `${prev.what} and ${what} run on one host thread (${tid}; single-threaded TCG?), so they cannot be pinned apart.`);
    }
    if (!prev) byTid.set(tid, { what, cpus });
  };
  for (const [index, tid] of Object.entries(threads.vcpus)) {
    const cpus = pin?.vcpus?.[index];
    want(tid, `vCPU ${index}`, cpus ? formatCpuList(cpus) : all);
  }
  for (const [id, tid] of Object.entries(threads.iothreads)) want(tid, id, pin?.iothreads ? formatCpuList(pin.iothreads) : all);
  const tasks = (await readdir(`${procRoot}/${pid}/task`).catch(() => [] as string[])).map(Number).filter((t) => Number.isInteger(t));
  for (const tid of tasks) {
    if (!byTid.has(tid)) byTid.set(tid, { what: tid === pid ? 'emulator' : `emulator thread ${tid}`, cpus: pin?.emulator ? formatCpuList(pin.emulator) : all });
  }
  const steps: PinStep[] = [];
  for (const [tid, { what, cpus }] of byTid) {
    const current = await readAffinity(pid, tid, procRoot);
    if (current !== undefined && current !== cpus) steps.push({ tid, what, cpus });
  }
  return steps;
}

/** Applies `pin` to the threads of a running QEMU; returns the changes made. */
export async function applyPinning(
  pid: number, threads: QemuThreads, pin: PinSpec | undefined, online: readonly number[],
  opts: { setter?: AffinitySetter; procRoot?: string } = {},
): Promise<PinStep[]> {
  const steps = await planPinning(pid, threads, pin, online, opts.procRoot);
  const setter = opts.setter ?? tasksetSetter;
  // The main thread first: threads it creates meanwhile then inherit the emulator CPUs.
  const main = steps.filter((s) => s.tid === pid);
  for (const s of main) await setter(s.tid, s.cpus);
  await Promise.all(steps.filter((s) => s.tid !== pid).map((s) => setter(s.tid, s.cpus)));
  return steps;
}

/** Each known thread's host CPUs right now, read from /proc. */
export async function effectiveAffinity(pid: number, threads: QemuThreads, procRoot = '/proc'): Promise<EffectiveAffinity> {
  const out: EffectiveAffinity = { vcpus: {}, emulator: (await readAffinity(pid, pid, procRoot)) ?? '?', iothreads: {} };
  for (const [index, tid] of Object.entries(threads.vcpus)) out.vcpus[index] = (await readAffinity(pid, tid, procRoot)) ?? '?';
  for (const [id, tid] of Object.entries(threads.iothreads)) out.iothreads[id] = (await readAffinity(pid, tid, procRoot)) ?? '?';
  return out;
}
