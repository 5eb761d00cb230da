/**
 * The baseline: the very argv Hangar gave QEMU, launched and stopped "by hand" — spawned
 * detached with stdio to a log file, QMP handshake + `cont` with the same QMP client, and
 * stopped with QMP `quit` or SIGKILL — with no daemon, store or API in between.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { QmpClient } from '../../src/qmp/index.js';
import { waitForMarker } from './serial.js';

/** A QEMU command line with the VM's runtime directories marked for substitution. */
export interface ArgvTemplate {
  binary: string;
  args: string[];
  /** Directories in `args` that belong to the Hangar VM; each run gets fresh ones. */
  runDir: string;
  logDir: string;
  /** Anything that must not remain after substitution (the daemon's data dir). */
  forbidden: string;
}

/** The paths a raw run uses, mirroring Hangar's layout under its own directory. */
export interface RawPaths {
  runDir: string;
  logDir: string;
  qmpSocket: string;
  serialLog: string;
  qemuLog: string;
}

export function rawPaths(dir: string): RawPaths {
  const runDir = join(dir, 'run');
  const logDir = join(dir, 'logs');
  return { runDir, logDir, qmpSocket: join(runDir, 'qmp.sock'), serialLog: join(logDir, 'serial.log'), qemuLog: join(logDir, 'qemu.log') };
}

/** The template's argv with this run's directories in place of the Hangar VM's. */
export function instantiate(t: ArgvTemplate, p: RawPaths): string[] {
  const args = t.args.map((a) => a.replaceAll(t.runDir, p.runDir).replaceAll(t.logDir, p.logDir));
  const stale = args.find((a) => a.includes(t.forbidden));
  if (stale !== undefined) throw new Error(`raw argv still points into the daemon's dir: ${stale}`);
  return args;
}

export class RawQemu {
  private qmp?: QmpClient;
  readonly exited: Promise<number>;
  private exitedAt?: number;

  private constructor(
    readonly child: ChildProcess,
    readonly paths: RawPaths,
    /** performance.now() just before spawn(). */
    readonly t0: number,
  ) {
    this.exited = new Promise((resolve) => {
      const done = () => {
        this.exitedAt ??= performance.now();
        resolve(this.exitedAt);
      };
      child.once('exit', done);
      child.once('error', done);
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get hasExited(): boolean {
    return this.exitedAt !== undefined;
  }

  /** Spawns QEMU detached (own session, stdio to qemu.log) as Hangar's launchQemu does. Directories are made before t0. */
  static launch(t: ArgvTemplate, dir: string): RawQemu {
    const p = rawPaths(dir);
    mkdirSync(p.runDir, { recursive: true, mode: 0o700 });
    mkdirSync(p.logDir, { recursive: true, mode: 0o700 });
    const args = instantiate(t, p);
    const t0 = performance.now();
    const fd = openSync(p.qemuLog, 'a', 0o600);
    let child: ChildProcess;
    try {
      child = spawn(t.binary, args, { detached: true, stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    child.unref();
    return new RawQemu(child, p, t0);
  }

  /** QMP connect (2 ms retries, as Hangar) + handshake + `cont`; returns ms from spawn to the `cont` reply. */
  async run(): Promise<number> {
    const exitedEarly = this.exited.then((): never => {
      throw new Error(`raw QEMU exited during start; see ${this.paths.qemuLog}`);
    });
    exitedEarly.catch(() => undefined);
    this.qmp = await Promise.race([QmpClient.connect(this.paths.qmpSocket, { retryUntilMs: 10_000, retryIntervalMs: 2 }), exitedEarly]);
    await this.qmp.execute('cont');
    return performance.now() - this.t0;
  }

  /** ms from spawn until the guest printed HANGAR-GUEST-READY on its serial console. */
  async ready(timeoutMs = 60_000): Promise<number> {
    const at = await waitForMarker(this.paths.serialLog, 0, { timeoutMs, abort: () => (this.hasExited ? 'QEMU exited' : undefined) });
    return at - this.t0;
  }

  /** QMP `quit`; ms from sending it until the process has exited (and been reaped). */
  async quit(): Promise<number> {
    if (!this.qmp) throw new Error('not connected');
    const t = performance.now();
    this.qmp.execute('quit').catch(() => undefined);
    const at = await this.exited;
    await this.qmp.close();
    return at - t;
  }

  /** SIGKILL; ms from sending it until the process has exited (and been reaped). */
  async kill(): Promise<number> {
    const t = performance.now();
    process.kill(this.pid, 'SIGKILL');
    const at = await this.exited;
    await this.qmp?.close();
    return at - t;
  }

  /** Best-effort cleanup after a failure. */
  async dispose(): Promise<void> {
    if (!this.hasExited) {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        // gone
      }
      await this.exited;
    }
    await this.qmp?.close();
  }
}
