import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import { applyPinning, effectiveAffinity, planPinning, queryThreads, readAffinity, type QemuThreads } from './pinning.js';
import type { QmpClient } from '../qmp/index.js';

const PID = 100;
let proc: string;
/** tid → affinity list, as the fake kernel holds it. */
let affinity: Map<number, string>;

function writeTask(tid: number): void {
  mkdirSync(join(proc, String(PID), 'task', String(tid)), { recursive: true });
  writeFileSync(join(proc, String(PID), 'task', String(tid), 'status'), `Name:\tqemu\nPid:\t${tid}\nCpus_allowed:\tf\nCpus_allowed_list:\t${affinity.get(tid)}\nMems_allowed_list:\t0\n`);
}

/** Records each call and updates the fake /proc like the kernel would. */
function fakeSetter(calls: Array<[number, string]>) {
  return async (tid: number, cpus: string) => {
    calls.push([tid, cpus]);
    affinity.set(tid, cpus);
    writeTask(tid);
  };
}

// Threads: 100 main, 101 RCU, 102 vCPU 0, 103 vCPU 1, 104 iothread0, 105 a worker.
const threads: QemuThreads = { vcpus: { 0: 102, 1: 103 }, iothreads: { iothread0: 104 } };

beforeEach(() => {
  proc = mkdtempSync(join(tmpdir(), 'hg-proc-'));
  affinity = new Map([100, 101, 102, 103, 104, 105].map((t) => [t, '0-3']));
  for (const tid of affinity.keys()) writeTask(tid);
});

afterEach(() => {
  rmSync(proc, { recursive: true, force: true });
});

describe('pinning QEMU threads', () => {
  it('pins vCPUs, I/O threads and every other thread (the emulator), main thread first', async () => {
    const calls: Array<[number, string]> = [];
    const steps = await applyPinning(PID, threads, { vcpus: { 0: [2], 1: [3] }, emulator: [0], iothreads: [1] }, [0, 1, 2, 3], { setter: fakeSetter(calls), procRoot: proc });
    expect(calls[0]).toEqual([100, '0']);
    expect(new Map(calls)).toEqual(new Map([[100, '0'], [101, '0'], [102, '2'], [103, '3'], [104, '1'], [105, '0']]));
    expect(steps.find((s) => s.tid === 102)?.what).toBe('vCPU 0');
    expect(await effectiveAffinity(PID, threads, proc)).toEqual({ vcpus: { 0: '2', 1: '3' }, emulator: '0', iothreads: { iothread0: '1' } });
  });

  it('leaves unpinned threads on all online CPUs and changes only what differs', async () => {
    affinity.set(103, '0'); // e.g. a hot-plugged vCPU born on the emulator's CPUs
    writeTask(103);
    const calls: Array<[number, string]> = [];
    await applyPinning(PID, threads, { vcpus: { 0: [1, 2] } }, [0, 1, 2, 3], { setter: fakeSetter(calls), procRoot: proc });
    expect(calls).toEqual([[102, '1-2'], [103, '0-3']]);
    // Applying again changes nothing.
    expect(await planPinning(PID, threads, { vcpus: { 0: [1, 2] } }, [0, 1, 2, 3], proc)).toEqual([]);
  });

  it('unpinning puts every thread back on all online CPUs', async () => {
    const calls: Array<[number, string]> = [];
    await applyPinning(PID, threads, { emulator: [0], vcpus: { 1: [3] } }, [0, 1, 2, 3], { setter: fakeSetter(calls), procRoot: proc });
    calls.length = 0;
    await applyPinning(PID, threads, undefined, [0, 1, 2, 3], { setter: fakeSetter(calls), procRoot: proc });
    expect(new Map(calls)).toEqual(new Map([[100, '0-3'], [101, '0-3'], [103, '0-3'], [105, '0-3']]));
  });

  it('refuses to pin two vCPUs that share one thread apart', async () => {
    const shared: QemuThreads = { vcpus: { 0: 102, 1: 102 }, iothreads: {} };
    const e = await planPinning(PID, shared, { vcpus: { 0: [0], 1: [1] } }, [0, 1], proc).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(HangarError);
    expect((e as HangarError).message).toMatch(/vCPU 0 and vCPU 1 run on one host thread/);
    await expect(planPinning(PID, shared, { vcpus: { 0: [1], 1: [1] } }, [0, 1, 2, 3], proc)).resolves.toEqual([{ tid: 102, what: 'vCPU 0', cpus: '1' }]);
  });

  it('reads affinity back normalized, undefined for a thread that is gone', async () => {
    affinity.set(101, '0,1,2');
    writeTask(101);
    expect(await readAffinity(PID, 101, proc)).toBe('0-2');
    expect(await readAffinity(PID, 999, proc)).toBeUndefined();
    expect((await effectiveAffinity(PID, { vcpus: { 0: 999 }, iothreads: {} }, proc)).vcpus).toEqual({ 0: '?' });
  });

  it('learns thread ids over QMP', async () => {
    const asked: string[] = [];
    const qmp = {
      execute: async (cmd: string) => {
        asked.push(cmd);
        if (cmd === 'query-cpus-fast') return [{ 'cpu-index': 0, 'thread-id': 7 }, { 'cpu-index': 1, 'thread-id': 8 }];
        return [{ id: 'iothread0', 'thread-id': 9 }];
      },
    } as unknown as QmpClient;
    expect(await queryThreads(qmp, true)).toEqual({ vcpus: { 0: 7, 1: 8 }, iothreads: { iothread0: 9 } });
    expect(await queryThreads(qmp, false)).toEqual({ vcpus: { 0: 7, 1: 8 }, iothreads: {} });
    expect(asked).toEqual(['query-cpus-fast', 'query-iothreads', 'query-cpus-fast']);
  });
});
