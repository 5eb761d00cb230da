/**
 * The daemon's side of logd (src/logd/main.ts): starts it when none runs for this run dir
 * (detached, in a session of its own, so it outlives the daemon), adopts the one a previous
 * daemon left (pid + start time in logd.json), starts it again if it died, and asks it to read
 * each guest's FIFOs before that guest's QEMU starts.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdir, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { errorText } from '../errors/errors.js';
import { isSameLiveProcess } from '../util/proc.js';
import { run } from '../util/run.js';
import { logdDir, logdFiles, vmFifos, type LogdReply, type LogdRequest, type LogdState, type LogOwner } from './files.js';
import type { LogLimits } from './rotating.js';

/** logd's script: beside the daemon's bundle (dist/bundle/logd.cjs). */
function logdScript(): string | undefined {
  for (const rel of ['logd.cjs', '../bundle/logd.cjs', '../../dist/bundle/logd.cjs']) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) return path;
  }
  return undefined;
}

/** What the QEMU supervisor asks of the guests' logs (absent: QEMU writes its logs itself, uncapped). */
export interface VmLogs {
  /** Makes the guest's FIFOs and has logd read them; undefined when logd cannot (QEMU then writes plain files). */
  prepare(id: string, vmRunDir: string, logs: { serial: string; qemu: string }, owner?: { uid: number; gid: number }): Promise<{ serial: string; qemu: string } | undefined>;
  /** The QEMU that writes into them. */
  owned(id: string, owner: LogOwner): Promise<void>;
  /** What QEMU wrote so far is in the log files. */
  flush(id: string): Promise<void>;
  /** QEMU has ended: the FIFOs are drained and removed. */
  release(id: string): Promise<void>;
}

export class LogdLink implements VmLogs {
  private timer?: NodeJS.Timeout;
  private ensuring?: Promise<void>;
  private state?: LogdState;
  /** The logd that was told this daemon's limits (one started by this daemon has them from its flags). */
  private limitsSentTo?: number;
  /** A logd runs (or ran) for this daemon: one that dies is started again. */
  private wanted = false;

  constructor(private readonly o: { runDir: string; limits: LogLimits; log: (m: string) => void; script?: string }) {}

  private get files() {
    return logdFiles(this.o.runDir);
  }

  /**
   * Adopts the logd a previous daemon left (or starts one again if it died with guests' logs
   * to read), then checks every second that it lives. With no guest to read, logd is started
   * at the first guest's start.
   */
  async start(): Promise<void> {
    const s = await this.readState();
    if ((s && isSameLiveProcess(s.pid, s.pidStartTime)) || (await this.hasWatches())) {
      this.wanted = true;
      await this.ensure();
    }
    clearInterval(this.timer);
    this.timer = setInterval(() => {
      if (this.wanted) void this.ensure().catch((e: unknown) => this.o.log(`starting logd failed: ${errorText(e)}`));
    }, 1000);
    this.timer.unref();
  }

  private async hasWatches(): Promise<boolean> {
    try {
      const parsed = JSON.parse(await readFile(this.files.watches, 'utf8')) as { watches?: unknown[] };
      return Array.isArray(parsed.watches) && parsed.watches.length > 0;
    } catch {
      return false;
    }
  }

  /** Stops following logd; logd itself runs on (the guests do). */
  stop(): void {
    clearInterval(this.timer);
  }

  /** The running logd's pid, if any. */
  pid(): number | undefined {
    return this.state && isSameLiveProcess(this.state.pid, this.state.pidStartTime) ? this.state.pid : undefined;
  }

  private async readState(): Promise<LogdState | undefined> {
    try {
      return JSON.parse(await readFile(this.files.state, 'utf8')) as LogdState;
    } catch {
      return undefined;
    }
  }

  ensure(): Promise<void> {
    return (this.ensuring ??= this.ensureOnce().finally(() => (this.ensuring = undefined)));
  }

  private async ensureOnce(): Promise<void> {
    const s = await this.readState();
    if (s && isSameLiveProcess(s.pid, s.pidStartTime)) {
      const adopted = this.state?.pid !== s.pid;
      this.state = s;
      if (adopted) this.o.log(`Adopted logd (pid ${s.pid}), which caps the guests' serial and QEMU logs.`);
      if (this.limitsSentTo !== s.pid && (s.maxSize !== this.o.limits.maxSize || s.maxBackups !== this.o.limits.maxBackups)) {
        await this.request({ op: 'limits', ...this.o.limits });
        this.o.log(`logd now caps logs at ${this.o.limits.maxSize} bytes a file, ${this.o.limits.maxBackups} kept (it had ${s.maxSize} and ${s.maxBackups}).`);
      }
      this.limitsSentTo = s.pid;
      return;
    }
    const script = this.o.script ?? logdScript();
    if (!script) throw new Error('logd (dist/bundle/logd.cjs) is not built: run `npm run build`');
    await mkdir(logdDir(this.o.runDir), { recursive: true, mode: 0o700 });
    const child = spawn(process.execPath, [script, '--run-dir', this.o.runDir, '--max-size', String(this.o.limits.maxSize), '--max-backups', String(this.o.limits.maxBackups)], { detached: true, stdio: 'ignore' });
    child.unref();
    // Its state names it once its socket listens.
    for (let i = 0; i < 250; i++) {
      await new Promise((r) => setTimeout(r, 20));
      const next = await this.readState();
      if (next && next.pid !== s?.pid && isSameLiveProcess(next.pid, next.pidStartTime)) {
        this.state = next;
        this.limitsSentTo = next.pid;
        this.o.log(`Started logd (pid ${next.pid}): it caps each guest's serial and QEMU logs at ${this.o.limits.maxSize} bytes a file, ${this.o.limits.maxBackups} kept.`);
        return;
      }
    }
    throw new Error(`logd (pid ${child.pid ?? '?'}) did not come up within 5 s: see ${this.files.log}`);
  }

  /** One request on logd's control socket. */
  async request(req: LogdRequest, timeoutMs = 3000): Promise<LogdReply> {
    return new Promise<LogdReply>((resolve, reject) => {
      const c = connect(this.files.socket);
      let text = '';
      const timer = setTimeout(() => {
        c.destroy();
        reject(new Error(`logd did not answer ${req.op} within ${timeoutMs} ms`));
      }, timeoutMs);
      c.setEncoding('utf8');
      c.on('connect', () => c.write(`${JSON.stringify(req)}\n`));
      c.on('data', (d: string) => {
        text += d;
        const nl = text.indexOf('\n');
        if (nl < 0) return;
        clearTimeout(timer);
        c.destroy();
        try {
          const reply = JSON.parse(text.slice(0, nl)) as LogdReply;
          if (reply.ok) resolve(reply);
          else reject(new Error(`logd: ${reply.error}`));
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      });
      c.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  async prepare(id: string, vmRunDir: string, logs: { serial: string; qemu: string }, owner?: { uid: number; gid: number }): Promise<{ serial: string; qemu: string } | undefined> {
    const fifos = vmFifos(vmRunDir);
    try {
      this.wanted = true;
      await this.ensure();
      for (const f of [fifos.serial, fifos.qemu]) {
        await rm(f, { force: true });
        const r = await run('mkfifo', ['-m', '0600', f], { timeoutMs: 10_000 });
        if (r.code !== 0) throw new Error(`mkfifo ${f}: ${r.stderr.trim()}`);
      }
      // The guest's QEMU opens its serial FIFO itself (as the guest's own user); its stdout is opened by the daemon.
      if (owner) await chown(fifos.serial, owner.uid, owner.gid);
      await this.request({ op: 'watch', watch: { id, streams: [{ fifo: fifos.serial, log: logs.serial }, { fifo: fifos.qemu, log: logs.qemu }] } });
      return fifos;
    } catch (e) {
      this.o.log(`logd cannot take the logs of VM ${id} (${errorText(e)}): its QEMU writes them uncapped`);
      await Promise.all([rm(fifos.serial, { force: true }), rm(fifos.qemu, { force: true })]).catch(() => undefined);
      return undefined;
    }
  }

  async owned(id: string, owner: LogOwner): Promise<void> {
    await this.request({ op: 'owner', id, owner }).catch((e: unknown) => this.o.log(`telling logd the QEMU of VM ${id} failed: ${errorText(e)}`));
  }

  async flush(id: string): Promise<void> {
    await this.request({ op: 'flush', id }, 1000).catch(() => undefined);
  }

  async release(id: string): Promise<void> {
    await this.request({ op: 'unwatch', id }, 2000).catch(() => undefined);
  }

  /** After re-adoption: logd lets go of every watch but these guests' (those whose QEMU ended while no daemon ran). */
  async keep(ids: string[]): Promise<void> {
    if (this.pid() !== undefined) await this.request({ op: 'keep', ids });
  }
}
