/**
 * Test harness: a real Hangar daemon (the built `bin/hangar`) in a throw-away data dir,
 * driven through its CLI and API. Cleanup force-deletes every VM, stops the daemon by pid,
 * and kills (by verified pid) any QEMU that still belongs to this data dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../../src/client/index.js';
import type { Vm } from '../../src/contract/index.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const HANGAR_BIN = join(ROOT, 'bin', 'hangar');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export class TestDaemon {
  readonly dir: string;
  readonly socket: string;
  readonly api: ApiClient;
  private child: ChildProcess | undefined;
  daemonLog = '';

  private constructor(dir: string) {
    this.dir = dir;
    this.socket = join(dir, 'h.sock');
    this.api = new ApiClient(this.socket);
  }

  /**
   * A daemon on a fresh data dir (short path: unix sockets are limited to 108 bytes). With
   * `netns`, it runs inside that network namespace (`ip netns exec`), as do its guests.
   */
  static async start(opts: { netPrefix?: string; args?: string[]; netns?: string; dir?: string; bin?: string } = {}): Promise<TestDaemon> {
    const d = new TestDaemon(opts.dir ?? mkdtempSync('/tmp/hgt-'));
    // Another `hangar` (an older release: test/fixtures/releases), for the daemon and its CLI;
    // `dir`: a data dir another daemon left (it must have stopped).
    if (opts.bin) d.bin = opts.bin;
    if (opts.netPrefix) d.extraArgs.push('--net-prefix', opts.netPrefix);
    if (opts.args) d.extraArgs.push(...opts.args);
    if (opts.netns) d.netns = opts.netns;
    await d.launch();
    return d;
  }

  /** The `hangar` entry the daemon and cli() run (bin/hangar of this checkout by default). */
  bin = HANGAR_BIN;

  /** The network namespace the daemon runs in, if any. */
  netns: string | undefined;

  /** More daemon flags (e.g. a network prefix of the test's own). */
  readonly extraArgs: string[] = ['--net-prefix', 'hgt'];

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async launch(): Promise<void> {
    const argv = [process.execPath, this.bin, 'daemon', '--socket', this.socket, '--data-dir', this.dir, '--accel', 'tcg', '--no-build-images', ...this.extraArgs];
    // `ip netns exec` execs the daemon in place: the child's pid is the daemon's.
    const [cmd, ...args] = this.netns ? ['ip', 'netns', 'exec', this.netns, ...argv] : argv;
    const child = spawn(cmd!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (c: Buffer) => (this.daemonLog += c.toString()));
    this.child = child;
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        // Up: answering, and every guest re-adopted (until then lists mark VMs `adopting`).
        const adopting = (await this.api.vms.list()).filter((v) => v.adopting).map((v) => v.name);
        if (adopting.length === 0) return;
        if (Date.now() > deadline) throw new Error(`daemon still re-adopting ${adopting.join(', ')} after 30 s:\n${this.daemonLog}`);
        await sleep(20);
      } catch (e) {
        if (e instanceof Error && e.message.startsWith('daemon still')) throw e;
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`daemon did not come up:\n${this.daemonLog}`);
        await sleep(50);
      }
    }
  }

  /** Kills the daemon (SIGKILL by default: guests must survive it). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
    this.child = undefined;
  }

  cli(args: string[], input?: string, timeoutMs = 60_000): Promise<CliResult> {
    return runCli(['--socket', this.socket, ...args], input, timeoutMs, this.bin);
  }

  async vm(name: string): Promise<Vm> {
    return this.api.vms.get(name);
  }

  /** The pid of this node's fencer while it runs (a node in a cluster has one: it outlives the daemon). */
  fencerPids(): number[] {
    return livePids((argv) => argv.some((a) => a.endsWith('fencer.cjs')) && argv.includes(this.dir));
  }

  /** The pid of this daemon's logd while it runs (it caps the guests' logs and outlives the daemon). */
  logdPids(): number[] {
    return livePids((argv) => argv.some((a) => a.endsWith('logd.cjs')) && argv.some((a) => a.startsWith(`${this.dir}/`)));
  }

  /**
   * PIDs of every live QEMU process whose command line points into this data dir (and, for
   * a daemon in a network namespace, that runs in it: another daemon's guest may use a disk here).
   */
  qemuPids(): number[] {
    const pids: number[] = [];
    const ns = this.netns ? `net:[${statSync(`/run/netns/${this.netns}`).ino}]` : undefined;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
        const state = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]?.[0];
        if (/^(\S*\/)?qemu-system/.test(cmd) && cmd.includes(this.dir) && state !== 'Z' && (!ns || readlinkSync(`/proc/${entry}/ns/net`) === ns)) pids.push(Number(entry));
      } catch {
        // the process went away while we looked
      }
    }
    return pids;
  }

  async cleanup(): Promise<void> {
    try {
      if (!this.child) await this.launch();
      const vms = await this.api.vms.list();
      await Promise.all(vms.map((v) => this.api.vms.delete(v.name, { force: true }).catch(() => undefined)));
      const nets = await this.api.networks.list();
      for (const n of nets) await this.api.networks.delete(n.name).catch(() => undefined);
    } catch {
      // fall through to the pid-based cleanup
    }
    await this.kill('SIGTERM');
    // A node's fencer and the logd outlive their daemon (as the guests do): they go by their pids too.
    for (const pid of [...this.fencerPids(), ...this.logdPids()]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const pid of this.qemuPids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (existsSync(this.dir)) rmSync(this.dir, { recursive: true, force: true });
    // A state change outside the state machine's table is a bug even when the request got an answer.
    const illegal = this.daemonLog.split('\n').filter((l) => l.includes('illegal state transition'));
    if (illegal.length) throw new Error(`the daemon refused illegal state transitions:\n${illegal.join('\n')}`);
  }
}

export function runCli(args: string[], input?: string, timeoutMs = 60_000, bin = HANGAR_BIN): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hangar ${args.join(' ')} timed out\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

/** Polls `fn` until it returns a truthy value. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Waits for the guest's READY line in `hangar vm logs`, and for the shell prompt after it:
 * input typed before the shell has opened the serial port is dropped by the guest's tty.
 */
export async function waitForGuestReady(d: TestDaemon, name: string, opts: { since?: number; timeoutMs?: number } = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 90_000;
  await waitFor(`${name} to print HANGAR-GUEST-READY and a prompt`, async () => {
    const r = await d.api.vms.logs(name, opts.since !== undefined ? { offset: opts.since } : {});
    const at = r.data.lastIndexOf('HANGAR-GUEST-READY');
    return at >= 0 && r.data.indexOf('# ', at) > at;
  }, timeoutMs, 100);
}

/** The current end of a VM's serial log: pass it as `since` to wait for a fresh boot. */
export async function serialLogEnd(d: TestDaemon, name: string): Promise<number> {
  return (await d.api.vms.logs(name, { tail: 0 })).nextOffset;
}

/** Types `command` on the guest's serial console through `hangar console` and returns what came back. */
export async function guestRun(d: TestDaemon, name: string, command: string, idleMs = 1000): Promise<string> {
  // The marker is computed by the guest's shell, so the echoed command line does not match it.
  const r = await d.cli(['console', name, '--idle', String(idleMs), '--until', 'HG-DONE-42'], `${command}\necho HG-DONE-$((40+2))\n`);
  if (r.code !== 0) throw new Error(`hangar console failed: ${r.stderr}`);
  return r.stdout;
}

/** Live (not zombie) processes whose command line `matches`. */
function livePids(matches: (argv: string[]) => boolean): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const state = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]?.[0];
      if (matches(argv) && state !== 'Z') pids.push(Number(entry));
    } catch {
      // the process went away while we looked
    }
  }
  return pids;
}
