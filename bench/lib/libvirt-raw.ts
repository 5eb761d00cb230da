/**
 * The raw-QEMU baseline with both stops: the very argv Hangar gave QEMU, spawned by hand
 * (as bench/lib/raw-qemu.ts does), stopped either with QMP `quit` (forced) or with QMP
 * `system_powerdown` and waiting for the guest to power off (graceful).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { QmpClient } from '../../src/qmp/index.js';
import { instantiate, rawPaths, type ArgvTemplate, type RawPaths } from './raw-qemu.js';
import { waitForMarker } from './serial.js';

export class RawBaseline {
  private qmp?: QmpClient;
  private exitedAt?: number;
  readonly exited: Promise<number>;

  private constructor(readonly child: ChildProcess, readonly paths: RawPaths, readonly t0: number) {
    this.exited = new Promise((resolve) => {
      const done = () => {
        this.exitedAt ??= performance.now();
        resolve(this.exitedAt);
      };
      child.once('exit', done);
      child.once('error', done);
    });
  }

  static launch(t: ArgvTemplate, dir: string): RawBaseline {
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
    return new RawBaseline(child, p, t0);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** QMP connect (2 ms retries, as Hangar) + `cont`; ms from spawn to the `cont` reply. */
  async run(): Promise<number> {
    const early = this.exited.then((): never => {
      throw new Error(`raw QEMU exited during start; see ${this.paths.qemuLog}`);
    });
    early.catch(() => undefined);
    this.qmp = await Promise.race([QmpClient.connect(this.paths.qmpSocket, { retryUntilMs: 10_000, retryIntervalMs: 2 }), early]);
    await this.qmp.execute('cont');
    return performance.now() - this.t0;
  }

  async ready(timeoutMs = 120_000): Promise<number> {
    const at = await waitForMarker(this.paths.serialLog, 0, { timeoutMs, abort: () => (this.exitedAt !== undefined ? 'QEMU exited' : undefined) });
    return at - this.t0;
  }

  /** Forced: QMP `quit`; ms until the process has exited. */
  async quit(): Promise<number> {
    if (!this.qmp) throw new Error('not connected');
    const t = performance.now();
    this.qmp.execute('quit').catch(() => undefined);
    const at = await this.exited;
    await this.qmp.close();
    return at - t;
  }

  /** Graceful: QMP `system_powerdown`; ms until the guest has powered off and QEMU exited. */
  async powerdown(timeoutMs = 60_000): Promise<number> {
    if (!this.qmp) throw new Error('not connected');
    const t = performance.now();
    await this.qmp.execute('system_powerdown');
    const at = await Promise.race([this.exited, new Promise<number>((_, rej) => setTimeout(() => rej(new Error('raw guest ignored ACPI powerdown')), timeoutMs).unref())]);
    await this.qmp.close();
    return at - t;
  }

  async dispose(): Promise<void> {
    if (this.exitedAt === undefined) {
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
