/**
 * A throw-away Hangar daemon for one benchmark case: the built `bin/hangar daemon`
 * (plain node, no loader) on a short temp dir under /tmp, with `--accel tcg`.
 * Stopping it force-deletes every VM, SIGTERMs the daemon by pid, and SIGKILLs any
 * process still mentioning this temp dir in its argv (only ours can).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../../src/client/index.js';
import type { VmView } from '../../src/vm/service.js';
import { killLeftovers, readRssBytes, sleep } from './proc.js';
import type { HangarEvent } from '../../src/model/events.js';
export type { HangarEvent };

export interface DaemonOptions {
  root: string;
  /** The run's scratch dir; the daemon gets a fresh dir inside it. */
  parent: string;
  /**
   * Report this many host CPUs to the daemon (bench/lib/daemon-entry.mjs), so its fixed
   * 4× CPU overcommit admits enough 1-vCPU guests. Unset: the unmodified bin/hangar.
   */
  hostCpus?: number;
  /** Run the daemon (and so its guests) in this network namespace: `ip netns exec NS node …`, which execs in place (the child's pid is the daemon's). */
  netns?: string;
  /** More daemon flags, e.g. `--listen 10.214.0.1:8443`. */
  args?: readonly string[];
}

export class BenchDaemon {
  readonly api: ApiClient;
  readonly socket: string;
  private exited: Promise<void>;

  private constructor(readonly dir: string, private readonly child: ChildProcess, readonly viaWrapper: boolean) {
    this.socket = join(dir, 'h.sock');
    this.api = new ApiClient(this.socket);
    this.exited = new Promise((r) => {
      if (child.exitCode !== null || child.signalCode !== null) r();
      else child.once('exit', () => r());
    });
  }

  static async start(opts: DaemonOptions): Promise<BenchDaemon> {
    const dir = mkdtempSync(join(opts.parent, 'd'));
    const socket = join(dir, 'h.sock');
    const args = ['daemon', '--socket', socket, '--data-dir', dir, '--accel', 'tcg', '--no-build-images', ...(opts.args ?? [])];
    const viaWrapper = opts.hostCpus !== undefined;
    const script = viaWrapper ? fileURLToPath(new URL('./daemon-entry.mjs', import.meta.url)) : join(opts.root, 'bin', 'hangar');
    const logFd = openSync(join(dir, 'daemon.log'), 'a');
    let child: ChildProcess;
    try {
      const argv = [process.execPath, script, ...args];
      const [cmd, ...rest] = opts.netns ? ['ip', 'netns', 'exec', opts.netns, ...argv] : argv;
      child = spawn(cmd!, rest, {
        stdio: ['ignore', logFd, logFd],
        env: {
          ...process.env,
          ...(viaWrapper && { HANGAR_BENCH_HOST_CPUS: String(opts.hostCpus), HANGAR_BENCH_ENTRY: join(opts.root, 'bin', 'hangar') }),
        },
      });
    } finally {
      closeSync(logFd);
    }
    const d = new BenchDaemon(dir, child, viaWrapper);
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        await d.api.call('GET', '/v1/host');
        return d;
      } catch {
        if (child.exitCode !== null || Date.now() > deadline) {
          const log = d.log();
          await d.stop();
          throw new Error(`the Hangar daemon did not come up:\n${log}`);
        }
        await sleep(20);
      }
    }
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  rss(): number {
    return readRssBytes(this.pid);
  }

  log(): string {
    try {
      return readFileSync(join(this.dir, 'daemon.log'), 'utf8');
    } catch {
      return '';
    }
  }

  vm(name: string): Promise<VmView> {
    return this.api.call<VmView>('GET', `/v1/vms/${encodeURIComponent(name)}`);
  }

  /** Where the daemon keeps a VM's serial log (logs/<id>/serial.log under the data dir). */
  serialLog(vm: Pick<VmView, 'id'>): string {
    return join(this.dir, 'logs', vm.id, 'serial.log');
  }

  async events(vm: string, afterSeq: number): Promise<HangarEvent[]> {
    return this.api.call<HangarEvent[]>('GET', `/v1/events?vm=${encodeURIComponent(vm)}&after=${afterSeq}&limit=10000`);
  }

  async lastSeq(): Promise<number> {
    const last = await this.api.call<HangarEvent[]>('GET', '/v1/events?limit=1');
    return last[0]?.seq ?? 0;
  }

  /** Force-deletes every VM (stopping running ones first). */
  async deleteAllVms(): Promise<void> {
    const vms = await this.api.call<VmView[]>('GET', '/v1/vms');
    for (const v of vms) {
      try {
        await this.api.call('DELETE', `/v1/vms/${encodeURIComponent(v.name)}?force=true`);
      } catch {
        // Cleanup goes on; leftovers are killed by pid below.
      }
    }
  }

  /** Deletes the VMs, SIGTERMs the daemon by pid, kills leftovers of this dir, removes the dir. */
  async stop(opts: { keepDir?: boolean } = {}): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      await this.deleteAllVms().catch(() => undefined);
      this.child.kill('SIGTERM');
      const done = await Promise.race([this.exited.then(() => true), sleep(10_000).then(() => false)]);
      if (!done) {
        this.child.kill('SIGKILL');
        await this.exited;
      }
    }
    await killLeftovers(`${this.dir}/`);
    if (!opts.keepDir) rmSync(this.dir, { recursive: true, force: true });
  }
}
