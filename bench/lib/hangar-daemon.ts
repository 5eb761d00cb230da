/**
 * A Hangar daemon for the libvirt comparisons: the built `bin/hangar daemon` with
 * `--accel tcg --cpu-overcommit 50` on a data dir under the run's temp dir. Unlike
 * BenchDaemon it can be stopped *without* touching its guests and started again on the
 * same data dir (re-adoption), and its guests can be counted on while it is down.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiClient } from '../../src/client/index.js';
import type { VmView } from '../../src/vm/service.js';
import { killLeftovers, sleep } from './proc.js';

export class HangarDaemon {
  readonly socket: string;
  readonly api: ApiClient;
  private child?: ChildProcess;
  private exited: Promise<void> = Promise.resolve();

  constructor(readonly root: string, readonly dir: string, private readonly extraArgs: readonly string[] = ['--cpu-overcommit', '50']) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.socket = join(dir, 'h.sock');
    this.api = new ApiClient(this.socket);
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Spawns the daemon; returns performance.now() just before spawn. Does not wait for it. */
  spawn(): number {
    const args = [join(this.root, 'bin', 'hangar'), 'daemon', '--socket', this.socket, '--data-dir', this.dir, '--accel', 'tcg', '--no-build-images', ...this.extraArgs];
    const logFd = openSync(join(this.dir, 'daemon.log'), 'a');
    const t0 = performance.now();
    let child: ChildProcess;
    try {
      // bin/hangar itself (its #! line gives Node the daemon's heap flags), as a user runs it.
      child = spawn(args[0]!, args.slice(1), { stdio: ['ignore', logFd, logFd] });
    } finally {
      closeSync(logFd);
    }
    this.child = child;
    this.exited = new Promise((r) => child.once('exit', () => r()));
    return t0;
  }

  /** Spawns it and waits until the API answers. */
  async start(timeoutMs = 30_000): Promise<void> {
    this.spawn();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.api.call('GET', '/v1/host');
        return;
      } catch {
        if (!this.running || Date.now() > deadline) throw new Error(`the Hangar daemon did not come up:\n${this.log().slice(-3000)}`);
        await sleep(10);
      }
    }
  }

  log(): string {
    try {
      return readFileSync(join(this.dir, 'daemon.log'), 'utf8');
    } catch {
      return '';
    }
  }

  list(): Promise<VmView[]> {
    return this.api.call<VmView[]>('GET', '/v1/vms');
  }

  /** SIGTERM by pid (guests keep running); resolves once the daemon has exited. */
  async shutdown(): Promise<void> {
    if (!this.child || !this.running) return;
    this.child.kill('SIGTERM');
    const done = await Promise.race([this.exited.then(() => true), sleep(15_000).then(() => false)]);
    if (!done) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  /** Force-deletes every VM (a few at a time), stops the daemon, kills anything left that mentions its dir. */
  async stop(): Promise<void> {
    if (this.running) {
      const vms = await this.list().catch(() => [] as VmView[]);
      for (let i = 0; i < vms.length; i += 25) {
        await Promise.all(vms.slice(i, i + 25).map((v) => this.api.call('DELETE', `/v1/vms/${encodeURIComponent(v.name)}?force=true`).catch(() => undefined)));
      }
      await this.shutdown();
    }
    await killLeftovers(`${this.dir}/`);
  }
}

/** utime + stime of a process in clock ticks (USER_HZ = 100 on Linux); NaN if it is gone. */
export function cpuTicks(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return Number.NaN;
  }
}

/** CPU use of a set of processes over `ms`, in percent of one CPU. */
export async function cpuPercent(pids: readonly number[], ms: number): Promise<number> {
  const sum = () => pids.reduce((s, p) => s + cpuTicks(p), 0);
  const a = sum();
  const t = performance.now();
  await sleep(ms);
  const b = sum();
  return ((b - a) * 10 * 100) / (performance.now() - t);
}
