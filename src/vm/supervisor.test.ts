/**
 * The supervisor and adoption against a fake monitor on a real unix socket, with `sleep` as
 * the stand-in for a QEMU process (a real pid and start time), a real SQLite store and bus.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import { EventBus } from '../events/bus.js';
import type { VmSpec } from '../model/spec.js';
import type { VmState } from '../model/states.js';
import type { ExitOutcome } from '../policy/restart.js';
import { isSameLiveProcess, readProcStat } from '../qemu/process.js';
import { FakeMonitor, type ReceivedCommand } from '../qmp/fake-monitor.js';
import { SqliteStore } from '../store/sqlite.js';
import type { HangarEvent, VmRecord } from '../store/store.js';
import { adopt, type AdoptionDeps } from './adoption.js';
import { VmRecords } from './records.js';
import { QemuSupervisor, vmPaths } from './supervisor.js';
import { VmTpm } from './tpm.js';

let dir: string;
let store: SqliteStore;
let events: EventBus;
let records: VmRecords;
let supervisor: QemuSupervisor;
let published: HangarEvent[];
let exits: [string, ExitOutcome][];
let logs: string[];
const children: ChildProcess[] = [];
const servers: Server[] = [];
const monitors: FakeMonitor[] = [];

const paths = (rec: Pick<VmRecord, 'id'>) => vmPaths(join(dir, 'run'), join(dir, 'logs'), rec);

function makeSupervisor(qemuBinary = '/nonexistent/qemu', tpm?: VmTpm): QemuSupervisor {
  return new QemuSupervisor({
    ...(tpm && { tpm }),
    records, events, paths, caps: { defaultAccel: 'tcg', kvmUsable: false, qemuVersion: '7.2.0' }, defaultAccel: 'tcg', imageLocking: true, qemuBinary,
    guestFiles: { prepare: async () => undefined },
    agents: { agentFor: () => { throw new Error('no agent in these tests'); }, agentPresent: async () => false, close: () => {} },
    isBusy: () => false,
    onUnrequestedExit: (name, outcome) => exits.push([name, outcome]),
    log: (m) => logs.push(m),
  });
}

function adoption(): AdoptionDeps {
  return { supervisor, records, events, paths, log: (m) => logs.push(m), qmpConnectMs: 300 };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hg-sup-'));
  store = new SqliteStore(join(dir, 'hangar.db'));
  events = new EventBus(store);
  published = [];
  events.subscribe((e) => published.push(e));
  exits = [];
  logs = [];
  records = new VmRecords(store, events, (m) => logs.push(m));
  supervisor = makeSupervisor();
});

afterEach(async () => {
  await supervisor.detachAll();
  for (const m of monitors.splice(0)) m.end();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function spec(): VmSpec {
  return { name: 'g1', machine: 'q35', cpuModel: 'max', cpus: 1, memoryMiB: 128, boot: { kind: 'disk' }, nics: [], disks: [], balloon: true, rng: true, vnc: false };
}

/** A process standing in for QEMU: its pid and start time are real. */
function fakeQemu(): { child: ChildProcess; pid: number; startTime: string } {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  children.push(child);
  const pid = child.pid!;
  return { child, pid, startTime: readProcStat(pid)!.startTime };
}

/** A record in `state` whose runtime points at `pid`, as a previous daemon left it. */
async function leftRunning(state: VmState, pid: number, startTime: string): Promise<VmRecord> {
  const rec: VmRecord = { id: 'id1', name: 'g1', spec: spec(), state, createdAt: '', updatedAt: '' };
  const p = paths(rec);
  rec.runtime = { pid, pidStartTime: startTime, qmpSocket: p.qmpSocket, serialSocket: p.serialSocket, startedAt: '', accel: 'tcg' };
  await store.createVm(rec);
  return rec;
}

/** A fake monitor on the VM's QMP socket; `answer` gives each command's return value. */
async function monitorAt(socket: string, answer: (cmd: ReceivedCommand, m: FakeMonitor) => unknown): Promise<{ connected: Promise<FakeMonitor> }> {
  mkdirSync(dirname(socket), { recursive: true });
  let connected!: (m: FakeMonitor) => void;
  const p = new Promise<FakeMonitor>((r) => (connected = r));
  const server = createServer((sock) => {
    const m = new FakeMonitor({ side: sock });
    monitors.push(m);
    connected(m);
    void (async () => {
      for (;;) {
        const cmd = await m.nextCommand();
        const value = answer(cmd, m);
        if (value !== null) m.reply(cmd, value ?? {});
      }
    })();
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(socket, r));
  return { connected: p };
}

const running = (cmd: ReceivedCommand) => (cmd.execute === 'query-status' ? { status: 'running', running: true } : undefined);

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const stateOf = async () => (await records.get('g1')).state;

describe('adopting a QEMU a previous daemon started', () => {
  it('attaches to its monitor, reads its state, and follows pauses QEMU reports', async () => {
    const q = fakeQemu();
    const rec = await leftRunning('running', q.pid, q.startTime);
    const { connected } = await monitorAt(rec.runtime!.qmpSocket, running);
    await adopt(rec, adoption());
    expect(await stateOf()).toBe('running');
    expect(published.find((e) => e.type === 'vm.adopted')?.data).toMatchObject({ pid: q.pid, state: 'running', qemuStatus: 'running' });
    expect(supervisor.monitor(rec.id)).toBeDefined();

    const m = await connected;
    m.event('STOP');
    await until('paused', async () => (await stateOf()) === 'paused');
    m.event('RESUME');
    await until('running', async () => (await stateOf()) === 'running');
  });

  it('records a guest power-off as stopped, and hands the outcome to the restart policy', async () => {
    const q = fakeQemu();
    const rec = await leftRunning('running', q.pid, q.startTime);
    const { connected } = await monitorAt(rec.runtime!.qmpSocket, running);
    await adopt(rec, adoption());
    const m = await connected;
    m.event('SHUTDOWN', { guest: true, reason: 'guest-shutdown' });
    q.child.kill('SIGTERM');
    m.end();
    await until('stopped', async () => (await stateOf()) === 'stopped');
    const after = await records.get('g1');
    expect(after.runtime).toBeUndefined();
    expect(after.stateReason).toBeUndefined();
    expect(exits).toEqual([['g1', 'guest-shutdown']]);
    expect(supervisor.monitor(rec.id)).toBeUndefined();
  });

  it('records an end without SHUTDOWN as a crash', async () => {
    const q = fakeQemu();
    const rec = await leftRunning('paused', q.pid, q.startTime);
    const { connected } = await monitorAt(rec.runtime!.qmpSocket, (cmd) => (cmd.execute === 'query-status' ? { status: 'paused', running: false } : undefined));
    await adopt(rec, adoption());
    expect(await stateOf()).toBe('paused');
    const m = await connected;
    q.child.kill('SIGKILL');
    m.end();
    await until('crashed', async () => (await stateOf()) === 'crashed');
    expect((await records.get('g1')).stateReason).toMatch(/QEMU ended unexpectedly \(exit status unknown/);
    expect(published.find((e) => e.type === 'vm.crashed')).toBeDefined();
    expect(exits).toEqual([['g1', 'crashed']]);
  });

  it('leaves alone a pid that is now another process (start time differs): the guest is recorded as ended, nothing is signalled', async () => {
    const q = fakeQemu();
    const rec = await leftRunning('running', q.pid, String(Number(q.startTime) + 1));
    let asked = false;
    await monitorAt(rec.runtime!.qmpSocket, () => (asked = true));
    await adopt(rec, adoption());
    const after = await records.get('g1');
    expect(after.state).toBe('crashed');
    expect(after.stateReason).toMatch(/QEMU ended while the daemon was not running/);
    expect(isSameLiveProcess(q.pid, q.startTime)).toBe(true);
    expect(asked).toBe(false);
  });

  it('marks unknown (and leaves running) a QEMU whose monitor cannot be reached', async () => {
    const q = fakeQemu();
    await leftRunning('running', q.pid, q.startTime);
    await adopt(await records.get('g1'), adoption());
    const after = await records.get('g1');
    expect(after.state).toBe('unknown');
    expect(after.stateReason).toMatch(/could not connect to its QMP socket.*left running as pid/);
    expect(published.find((e) => e.type === 'vm.adopt-failed')?.data).toMatchObject({ pid: q.pid });
    expect(isSameLiveProcess(q.pid, q.startTime)).toBe(true);
    expect(supervisor.monitor('id1')).toBeUndefined();
  });

  it('finishes a stop the previous daemon began: a gone process is stopped, not crashed', async () => {
    const q = fakeQemu();
    q.child.kill('SIGKILL');
    await until('the process to go', async () => !isSameLiveProcess(q.pid, q.startTime));
    await adopt(await leftRunning('stopping', q.pid, q.startTime), adoption());
    expect(await stateOf()).toBe('stopped');
  });
});

describe('stopping and starting', () => {
  it('force-stops an adopted QEMU with quit, as the user asked (no restart policy)', async () => {
    const q = fakeQemu();
    const rec = await leftRunning('running', q.pid, q.startTime);
    const { connected } = await monitorAt(rec.runtime!.qmpSocket, (cmd) => {
      if (cmd.execute === 'quit') q.child.kill('SIGTERM');
      return running(cmd);
    });
    await adopt(rec, adoption());
    const stopped = await supervisor.forceStop(await records.get('g1'));
    expect(stopped.state).toBe('stopped');
    expect((await connected).commands.map((c) => c.execute)).toContain('quit');
    expect(exits).toEqual([]);
  });

  it('a QEMU that exits at once is a failed start: QEMU_FAILED, and the VM is stopped with the reason', async () => {
    supervisor = makeSupervisor('/bin/false');
    const rec: VmRecord = { id: 'id2', name: 'g1', spec: spec(), state: 'stopped', createdAt: '', updatedAt: '' };
    await records.create(rec);
    const e = await supervisor.launch(rec).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(HangarError);
    expect((e as HangarError).code).toBe('QEMU_FAILED');
    const after = await records.get('g1');
    expect(after.state).toBe('stopped');
    expect(after.stateReason).toMatch(/QEMU failed to start/);
    expect(published.filter((x) => x.type === 'vm.state').map((x) => x.data.state)).toEqual(['starting', 'stopped']);
    expect(exits).toEqual([]);
  });
});

describe('the TPM state when QEMU ends', () => {
  /**
   * A guest with a TPM whose QEMU and swtpm are `sleep` processes; its monitor's `quit` ends
   * both (swtpm's `--terminate`). Quits it to `endState`; returns its TPM state directory.
   */
  async function quitWithTpm(endState: 'saved' | 'migrated'): Promise<{ stateDir: string; swtpm: { pid: number; startTime: string } }> {
    const tpm = new VmTpm({ stateRoot: join(dir, 'tpm'), runDir: join(dir, 'run'), log: (m) => logs.push(m) });
    supervisor = makeSupervisor(undefined, tpm);
    const q = fakeQemu();
    const s = fakeQemu();
    // Paused, as a migration or a save leaves the guest before QEMU quits.
    const rec = await leftRunning('paused', q.pid, q.startTime);
    await records.update('g1', (r) => ({ ...r, spec: { ...r.spec, tpm: { model: 'crb' } }, runtime: { ...r.runtime!, swtpm: { pid: s.pid, pidStartTime: s.startTime } } }));
    const stateDir = tpm.stateDirOf(rec);
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(join(stateDir, 'tpm2-00.permall'), 'state');
    await monitorAt(rec.runtime!.qmpSocket, (cmd) => {
      if (cmd.execute === 'quit') {
        q.child.kill('SIGTERM');
        s.child.kill('SIGTERM');
      }
      return cmd.execute === 'query-status' ? { status: 'paused', running: false } : undefined;
    });
    await adopt(await records.get('g1'), adoption());
    await records.setState('g1', 'migrating');
    await supervisor.quit(await records.get('g1'), endState);
    expect(await stateOf()).toBe(endState);
    return { stateDir, swtpm: s };
  }

  it('a guest that migrated away leaves no TPM state here (it went in the migration stream), and no swtpm', async () => {
    const { stateDir, swtpm } = await quitWithTpm('migrated');
    expect(existsSync(stateDir)).toBe(false);
    expect(existsSync(join(dir, 'tpm'))).toBe(true);
    expect(isSameLiveProcess(swtpm.pid, swtpm.startTime)).toBe(false);
    expect((await records.get('g1')).runtime).toBeUndefined();
  });

  it('a saved guest keeps its TPM state (its next start uses it)', async () => {
    const { stateDir, swtpm } = await quitWithTpm('saved');
    expect(existsSync(join(stateDir, 'tpm2-00.permall'))).toBe(true);
    expect(isSameLiveProcess(swtpm.pid, swtpm.startTime)).toBe(false);
  });
});
