/**
 * A long-lived "by hand" QEMU for storage benchmarks: the argv Hangar gave QEMU, with
 * fresh run/log directories and its disks swapped for copies, driven over QMP (the
 * QmpClient of the Hangar build under test, dist/qmp) and over its serial socket.
 * Unlike RawQemu (start/stop timing) it keeps the QMP connection for snapshot commands.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { QmpClient } from '../../src/qmp/index.js';
import { rawPaths, type RawPaths } from './raw-qemu.js';
import { fileSize, READY_MARKER, waitForMarker } from './serial.js';

type QmpModule = typeof import('../../src/qmp/index.js');

/** The QMP client module of the build under test (dist/qmp/index.js under `root`). */
export async function loadQmp(root: string): Promise<QmpModule> {
  return (await import(pathToFileURL(join(root, 'dist', 'qmp', 'index.js')).href)) as QmpModule;
}

export interface RawGuestSpec {
  binary: string;
  args: string[];
  /** Plain string substitutions applied to every argument (Hangar's run dir, log dir, disk paths → ours). */
  replace: Array<[from: string, to: string]>;
  /** Nothing in the final argv may still contain this (the daemon's data dir). */
  forbidden: string;
}

export class RawGuest {
  private serial?: Socket;
  readonly exited: Promise<void>;
  private gone = false;

  private constructor(readonly child: ChildProcess, readonly paths: RawPaths, readonly qmp: QmpClient) {
    this.exited = new Promise((r) => {
      const done = () => {
        this.gone = true;
        r();
      };
      if (child.exitCode !== null || child.signalCode !== null) done();
      child.once('exit', done);
      child.once('error', done);
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get hasExited(): boolean {
    return this.gone;
  }

  /** Spawns QEMU detached (stdio to qemu.log), connects QMP and sends `cont` (Hangar starts QEMU with -S). */
  static async launch(spec: RawGuestSpec, dir: string, qmpModule: QmpModule): Promise<RawGuest> {
    const p = rawPaths(dir);
    mkdirSync(p.runDir, { recursive: true, mode: 0o700 });
    mkdirSync(p.logDir, { recursive: true, mode: 0o700 });
    const replace: Array<[string, string]> = [...spec.replace];
    const args = spec.args.map((a) => replace.reduce((s, [from, to]) => s.replaceAll(from, to), a));
    const stale = args.find((a) => a.includes(spec.forbidden));
    if (stale !== undefined) throw new Error(`raw argv still points into the daemon's dir: ${stale}`);
    const fd = openSync(p.qemuLog, 'a', 0o600);
    let child: ChildProcess;
    try {
      child = spawn(spec.binary, args, { detached: true, stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    child.unref();
    let exitedEarly = false;
    child.once('exit', () => (exitedEarly = true));
    let qmp: QmpClient;
    try {
      qmp = await qmpModule.QmpClient.connect(p.qmpSocket, { retryUntilMs: 15_000, retryIntervalMs: 2, commandTimeoutMs: 120_000 });
    } catch (e) {
      try {
        process.kill(child.pid ?? -1, 'SIGKILL');
      } catch {
        // gone
      }
      throw new Error(`raw QEMU did not offer QMP${exitedEarly ? ' (it exited)' : ''}; see ${p.qemuLog}: ${String(e)}`);
    }
    const g = new RawGuest(child, p, qmp);
    await qmp.execute('cont');
    return g;
  }

  /** Waits for HANGAR-GUEST-READY and the shell prompt after it (input sent earlier is dropped by the guest tty). */
  async ready(timeoutMs = 120_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      let text = '';
      try {
        text = readFileSync(this.paths.serialLog, 'latin1');
      } catch {
        // not there yet
      }
      const at = text.lastIndexOf(READY_MARKER);
      if (at >= 0 && text.indexOf('# ', at) > at) return;
      if (this.gone) throw new Error(`raw QEMU exited before ${READY_MARKER}; see ${this.paths.qemuLog}`);
      if (performance.now() > deadline) throw new Error(`no ${READY_MARKER} and prompt in ${this.paths.serialLog} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Types `command` on the serial console and waits until the guest printed `marker` (computed by the guest shell). */
  async run(command: string, marker: string, timeoutMs = 180_000): Promise<void> {
    if (!this.serial) {
      const s = createConnection(this.paths.runDir + '/serial.sock');
      await new Promise<void>((resolve, reject) => {
        s.once('connect', resolve);
        s.once('error', reject);
      });
      s.on('data', () => undefined); // drained; the chardev's logfile keeps what the guest says
      s.on('error', () => undefined);
      this.serial = s;
    }
    const offset = fileSize(this.paths.serialLog);
    this.serial.write(`${command}\n`);
    await waitForMarker(this.paths.serialLog, offset, { marker, timeoutMs, intervalMs: 50, abort: () => (this.gone ? 'raw QEMU exited' : undefined) });
  }

  /**
   * A QMP job run to its end as Hangar's runJob does (start, JOB_STATUS_CHANGE `concluded`,
   * query-jobs for an error, job-dismiss); returns ms from sending the command to the dismiss reply.
   */
  async job(command: string, jobId: string, args: Record<string, unknown>): Promise<number> {
    const { qmp } = this;
    const concluded = new Promise<void>((resolve) => {
      const off = qmp.onEvent((e) => {
        if (e.event === 'JOB_STATUS_CHANGE' && e.data?.id === jobId && e.data.status === 'concluded') {
          off();
          resolve();
        }
      });
    });
    const t0 = performance.now();
    await qmp.execute(command, { 'job-id': jobId, ...args });
    await concluded;
    const jobs = await qmp.execute<Array<{ id: string; error?: string }>>('query-jobs');
    const error = jobs.find((j) => j.id === jobId)?.error;
    await qmp.execute('job-dismiss', { id: jobId });
    const ms = performance.now() - t0;
    if (error) throw new Error(`raw ${command} failed: ${error}`);
    return ms;
  }

  /** QMP quit, SIGKILL if it lingers; always closes the connections. */
  async stop(): Promise<void> {
    this.serial?.destroy();
    if (!this.gone) {
      this.qmp.execute('quit').catch(() => undefined);
      const done = await Promise.race([this.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
      if (!done) {
        try {
          process.kill(this.pid, 'SIGKILL');
        } catch {
          // gone
        }
        await this.exited;
      }
    }
    await this.qmp.close().catch(() => undefined);
  }
}
