/**
 * A client for qemu-guest-agent (QGA) on the host end of its virtio-serial channel, i.e. the
 * unix socket of a QEMU chardev:
 *
 *   -chardev socket,id=qga0,path=…/qga.sock,server=on,wait=off
 *   -device {"driver":"virtio-serial-pci","id":"vser0"}
 *   -device {"driver":"virtserialport","chardev":"qga0","name":"org.qemu.guest_agent.0"}
 *
 * The agent speaks QMP-like JSON but without a greeting, capabilities or ids, and the
 * channel may hold stale bytes: replies to a client that timed out, half a command a client
 * left behind. So every exchange starts with a resync: the client sends 0xFF (which makes
 * the agent's JSON parser reset) and `guest-sync-delimited` with a fresh random id, then
 * ignores everything up to a 0xFF sentinel followed by `{"return": id}`. After that, the
 * next reply is the answer to the next command. The agent runs one command at a time.
 *
 * Connection model: one connection per batch. QEMU's socket chardev serves one client at a
 * time (a second one is accepted by the kernel but gets no data until the first leaves), so
 * holding a connection would lock out every other tool (and a restarted daemon). Each public
 * method therefore connects, syncs, runs its command(s), and disconnects. Within one
 * GuestAgent, batches are queued and run one at a time. `exec` uses one batch to start the
 * process and one per status poll, so other calls can interleave with a long command.
 * The cost is a sync round trip per call (milliseconds, even under TCG).
 *
 * Errors carry a `code`: AGENT_UNAVAILABLE (no socket, nobody listening, or no answer to
 * the sync in time: agent not running, or another client holds the channel), AGENT_ERROR
 * (the agent refused the command: class and desc included) and TIMEOUT (synced, but the
 * command's answer did not come in time; it may still run in the guest).
 *
 * `guest-shutdown` never answers on success: the client waits briefly for an error reply
 * and otherwise treats silence or a closed channel as success.
 */
import { randomInt } from 'node:crypto';
import * as net from 'node:net';
import { HangarError, type ConvertibleError } from '../errors/errors.js';

export type GuestAgentErrorCode = 'AGENT_UNAVAILABLE' | 'AGENT_ERROR' | 'TIMEOUT';

export class GuestAgentError extends Error implements ConvertibleError {
  override readonly name = 'GuestAgentError';
  readonly code: GuestAgentErrorCode;
  /** The guest agent command, when the error is about one. */
  readonly command?: string;
  /** For AGENT_ERROR: the agent's error class and description. */
  readonly errorClass?: string;
  readonly desc?: string;
  /** Extra facts (e.g. the guest pid of a command that timed out). */
  readonly details?: Record<string, unknown>;

  constructor(
    code: GuestAgentErrorCode,
    message: string,
    extra: { command?: string; errorClass?: string; desc?: string; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.code = code;
    this.command = extra.command;
    this.errorClass = extra.errorClass;
    this.desc = extra.desc;
    this.details = extra.details;
  }

  /** The catalogue error an API client sees (the codes are the catalogue's own). */
  toHangarError(): HangarError {
    const hint = this.code === 'AGENT_UNAVAILABLE' ? ' Is qemu-guest-agent installed and running in the guest?' : '';
    return new HangarError(this.code, `${this.message}${hint}`, { cause: this });
  }
}

export function isGuestAgentError(e: unknown, code?: GuestAgentErrorCode): e is GuestAgentError {
  return e instanceof GuestAgentError && (code === undefined || e.code === code);
}

export interface GuestAgentOptions {
  /** Per-command answer timeout, and the default for everything below. Default 10 000 ms. */
  timeoutMs?: number;
  /** How long to wait for the sync answer before AGENT_UNAVAILABLE. Default: timeoutMs. */
  syncTimeoutMs?: number;
  /** guest-fsfreeze-freeze may flush a lot of dirty data. Default max(timeoutMs, 60 000). */
  freezeTimeoutMs?: number;
  /** After guest-shutdown, how long an error reply is waited for before assuming success. Default 1 500 ms. */
  shutdownReplyWindowMs?: number;
  /** Longest reply line accepted. Default 64 MiB (guest-exec output is capped at 16 MiB, base64 on the wire). */
  maxLineBytes?: number;
  /** Default overall timeout of exec() (until the guest process has exited). Default 60 000 ms. */
  execTimeoutMs?: number;
}

export interface GuestOsInfo {
  id?: string;
  name?: string;
  prettyName?: string;
  version?: string;
  versionId?: string;
  kernelRelease?: string;
  kernelVersion?: string;
  machine?: string;
}

export interface GuestAddress {
  ip: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

export interface GuestInterface {
  name: string;
  mac?: string;
  addresses: GuestAddress[];
}

export interface ExecOptions {
  /** Written to the command's stdin (which is then closed). */
  input?: string;
  /** Overall time for the command to finish. Default: execTimeoutMs. */
  timeoutMs?: number;
  /** `NAME=value` strings. If given, they are the command's whole environment (QGA does not merge). */
  env?: string[];
}

export interface ExecResult {
  /** The exit status; 128 + signal if a signal killed it (as shells report it). */
  exitCode: number;
  stdout: string;
  stderr: string;
  /** The signal that killed the command, if one did. */
  signal?: number;
  /** The agent keeps at most 16 MiB of each stream. */
  stdoutTruncated?: boolean;
  stderrTruncated?: boolean;
}

type Json = Record<string, unknown>;
const SENTINEL = 0xff;
const NEWLINE = 0x0a;

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * One connection to the agent's socket: byte buffer, reply lines, deadlines. Used for one batch.
 * Internal; exported for tests.
 */
export class AgentConnection {
  private buf: Buffer = Buffer.alloc(0);
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private closed = false;
  private closeReason = 'the guest agent channel closed';
  private wake: (() => void) | undefined;

  private constructor(
    private readonly sock: net.Socket,
    private readonly maxLineBytes: number,
  ) {
    sock.on('data', (chunk: Buffer) => {
      // Large replies (exec output) arrive in many chunks: join them only once a chunk can
      // complete a line or start a sync answer, so a 20 MiB line costs one copy, not hundreds.
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      const actionable = chunk.includes(NEWLINE) || chunk.includes(SENTINEL);
      if (!actionable && (this.maxLineBytes <= 0 || this.buf.length + this.pendingBytes <= this.maxLineBytes)) return;
      this.buf = Buffer.concat([this.buf, ...this.pending]);
      this.pending = [];
      this.pendingBytes = 0;
      this.notify();
    });
    sock.on('error', (err) => {
      this.closeReason = `the guest agent channel failed: ${err.message}`;
    });
    sock.on('close', () => {
      this.closed = true;
      this.notify();
    });
  }

  static connect(socketPath: string, timeoutMs: number, maxLineBytes: number): Promise<AgentConnection> {
    return new Promise((resolve, reject) => {
      const sock = net.createConnection({ path: socketPath });
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new GuestAgentError('AGENT_UNAVAILABLE', `cannot connect to the guest agent socket ${socketPath}: timed out`));
      }, timeoutMs);
      sock.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const why =
          err.code === 'ENOENT'
            ? 'no such socket (is the VM running, with a guest agent channel?)'
            : err.code === 'ECONNREFUSED'
              ? 'nobody is listening (QEMU is not running)'
              : err.message;
        reject(new GuestAgentError('AGENT_UNAVAILABLE', `cannot connect to the guest agent socket ${socketPath}: ${why}`, { cause: err }));
      });
      sock.once('connect', () => {
        clearTimeout(timer);
        sock.removeAllListeners('error');
        resolve(new AgentConnection(sock, maxLineBytes));
      });
    });
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Resolves when more data arrives, the connection closes, or the deadline passes (false). */
  private waitData(deadline: number): Promise<boolean> {
    const left = deadline - Date.now();
    if (left <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve(false);
      }, left);
      this.wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }

  write(data: Buffer | string): void {
    if (!this.closed) this.sock.write(data);
  }

  destroy(): void {
    this.closed = true;
    this.sock.destroy();
    this.notify();
  }

  /** The next complete line (without '\n'), or undefined if none is buffered yet. Throws if a line is too long. */
  private takeLine(): Buffer | undefined {
    const i = this.buf.indexOf(NEWLINE);
    if (this.maxLineBytes > 0 && (i < 0 ? this.buf.length : i) > this.maxLineBytes) {
      this.destroy();
      throw new GuestAgentError('AGENT_ERROR', `the guest agent sent a line longer than ${this.maxLineBytes} bytes`);
    }
    if (i < 0) return undefined;
    const line = this.buf.subarray(0, i);
    this.buf = this.buf.subarray(i + 1);
    return line;
  }

  /**
   * Resync: 0xFF + guest-sync-delimited, then discard until a 0xFF sentinel followed by
   * `{"return": id}`. Throws AGENT_UNAVAILABLE if that does not happen by the deadline.
   */
  async sync(timeoutMs: number): Promise<void> {
    const id = randomInt(1, 2 ** 31 - 1);
    this.write(Buffer.concat([Buffer.from([SENTINEL]), Buffer.from(`${JSON.stringify({ execute: 'guest-sync-delimited', arguments: { id } })}\n`)]));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = this.buf.indexOf(SENTINEL);
      if (at < 0) {
        this.buf = Buffer.alloc(0); // stale: nothing before a sentinel matters
      } else {
        this.buf = this.buf.subarray(at);
        const nl = this.buf.indexOf(NEWLINE);
        const next = this.buf.indexOf(SENTINEL, 1);
        if (next > 0 && (nl < 0 || next < nl)) {
          this.buf = this.buf.subarray(next); // a later sentinel starts before this line ends
          continue;
        }
        if (nl >= 0) {
          const text = this.buf.subarray(1, nl).toString('utf8').trim();
          this.buf = this.buf.subarray(nl + 1);
          let msg: unknown;
          try {
            msg = JSON.parse(text);
          } catch {
            msg = undefined;
          }
          if (isObj(msg) && msg['return'] === id) return;
          continue; // a stale sync answer (or garbage after a 0xFF): keep looking
        }
        if (this.maxLineBytes > 0 && this.buf.length > this.maxLineBytes) this.buf = Buffer.alloc(0);
      }
      if (this.closed) throw new GuestAgentError('AGENT_UNAVAILABLE', `${this.closeReason} before the agent answered guest-sync-delimited`);
      if (!(await this.waitData(deadline))) {
        this.destroy();
        throw new GuestAgentError(
          'AGENT_UNAVAILABLE',
          `the guest agent did not answer guest-sync-delimited within ${timeoutMs} ms (qemu-guest-agent is not running in the guest, or another client holds the channel)`,
        );
      }
    }
  }

  /** The next reply (`{"return": …}` or `{"error": …}`), or undefined at the deadline / on close when `quiet`. */
  private async nextReply(command: string, deadline: number, timeoutMs: number, quiet: boolean): Promise<Json | undefined> {
    for (;;) {
      let line: Buffer | undefined;
      while ((line = this.takeLine()) !== undefined) {
        const j = line.lastIndexOf(SENTINEL);
        const text = (j >= 0 ? line.subarray(j + 1) : line).toString('utf8').trim();
        if (text === '') continue;
        let msg: unknown;
        try {
          msg = JSON.parse(text);
        } catch {
          continue; // garbage on the line: not a reply
        }
        if (isObj(msg) && ('return' in msg || 'error' in msg)) return msg;
      }
      if (this.closed) {
        if (quiet) return undefined;
        throw new GuestAgentError('AGENT_UNAVAILABLE', `${this.closeReason} while waiting for the answer to ${command}`, { command });
      }
      if (!(await this.waitData(deadline))) {
        if (quiet) return undefined;
        this.destroy();
        throw new GuestAgentError('TIMEOUT', `the guest agent did not answer ${command} within ${timeoutMs} ms`, { command });
      }
    }
  }

  /** Sends a command (after a sync) and returns its `return` value, or throws AGENT_ERROR. */
  async command(execute: string, args: Json | undefined, timeoutMs: number): Promise<unknown> {
    this.write(`${JSON.stringify(args === undefined ? { execute } : { execute, arguments: args })}\n`);
    const reply = (await this.nextReply(execute, Date.now() + timeoutMs, timeoutMs, false)) as Json;
    return unwrap(execute, reply);
  }

  /** For commands that do not answer on success: an error reply within the window throws, silence or a close is success. */
  async commandNoReply(execute: string, args: Json | undefined, windowMs: number): Promise<void> {
    this.write(`${JSON.stringify(args === undefined ? { execute } : { execute, arguments: args })}\n`);
    const reply = await this.nextReply(execute, Date.now() + windowMs, windowMs, true);
    if (reply) unwrap(execute, reply);
  }
}

function unwrap(command: string, reply: Json): unknown {
  if ('error' in reply) {
    const e = isObj(reply['error']) ? reply['error'] : {};
    const cls = typeof e['class'] === 'string' ? e['class'] : 'GenericError';
    const desc = typeof e['desc'] === 'string' ? e['desc'] : JSON.stringify(reply['error']);
    throw new GuestAgentError('AGENT_ERROR', `guest agent command ${command} failed: ${cls}: ${desc}`, { command, errorClass: cls, desc });
  }
  return reply['return'];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function b64(v: unknown): string {
  return typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : '';
}

export class GuestAgent {
  readonly socketPath: string;
  private readonly timeoutMs: number;
  private readonly syncTimeoutMs: number;
  private readonly freezeTimeoutMs: number;
  private readonly shutdownReplyWindowMs: number;
  private readonly maxLineBytes: number;
  private readonly execTimeoutMs: number;
  private tail: Promise<unknown> = Promise.resolve();
  private current: AgentConnection | undefined;
  private closed = false;

  constructor(socketPath: string, opts: GuestAgentOptions = {}) {
    this.socketPath = socketPath;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.syncTimeoutMs = opts.syncTimeoutMs ?? this.timeoutMs;
    this.freezeTimeoutMs = opts.freezeTimeoutMs ?? Math.max(this.timeoutMs, 60_000);
    this.shutdownReplyWindowMs = opts.shutdownReplyWindowMs ?? 1_500;
    this.maxLineBytes = opts.maxLineBytes ?? 64 * 1024 * 1024;
    this.execTimeoutMs = opts.execTimeoutMs ?? 60_000;
  }

  /**
   * Runs `fn` on a fresh, synced connection, after every batch queued before it; closes the
   * connection afterwards whatever happens.
   */
  private batch<T>(fn: (c: AgentConnection) => Promise<T>, syncTimeoutMs = this.syncTimeoutMs): Promise<T> {
    const run = async (): Promise<T> => {
      if (this.closed) throw new GuestAgentError('AGENT_UNAVAILABLE', 'the guest agent client is closed');
      const c = await AgentConnection.connect(this.socketPath, Math.max(syncTimeoutMs, 1), this.maxLineBytes);
      this.current = c;
      try {
        await c.sync(syncTimeoutMs);
        return await fn(c);
      } finally {
        this.current = undefined;
        c.destroy();
      }
    };
    const p = this.tail.then(run, run);
    this.tail = p.catch(() => undefined);
    return p;
  }

  /** Any agent command (after a sync); returns its `return` value. */
  call<T = unknown>(execute: string, args?: Record<string, unknown>, timeoutMs = this.timeoutMs): Promise<T> {
    return this.batch((c) => c.command(execute, args, timeoutMs) as Promise<T>);
  }

  /** True if the agent answers guest-ping (after a sync) within `timeoutMs`; never throws. */
  async ping(timeoutMs = this.timeoutMs): Promise<boolean> {
    try {
      await this.batch((c) => c.command('guest-ping', undefined, timeoutMs), timeoutMs);
      return true;
    } catch {
      return false;
    }
  }

  /** guest-info: the agent's version and its commands (with whether each is enabled). */
  async info(): Promise<{ version: string; commands: Array<{ name: string; enabled: boolean }> }> {
    const r = await this.call<Json>('guest-info');
    const cmds = Array.isArray(r['supported_commands']) ? r['supported_commands'] : [];
    return {
      version: str(r['version']) ?? '',
      commands: cmds.filter(isObj).map((c) => ({ name: String(c['name']), enabled: c['enabled'] !== false })),
    };
  }

  async osInfo(): Promise<GuestOsInfo> {
    const r = await this.call<Json>('guest-get-osinfo');
    const out: GuestOsInfo = {};
    const map: Array<[keyof GuestOsInfo, string]> = [
      ['id', 'id'],
      ['name', 'name'],
      ['prettyName', 'pretty-name'],
      ['version', 'version'],
      ['versionId', 'version-id'],
      ['kernelRelease', 'kernel-release'],
      ['kernelVersion', 'kernel-version'],
      ['machine', 'machine'],
    ];
    for (const [k, wire] of map) {
      const v = str(r[wire]);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }

  async interfaces(): Promise<GuestInterface[]> {
    const r = await this.call<unknown>('guest-network-get-interfaces');
    if (!Array.isArray(r)) return [];
    return r.filter(isObj).map((i) => {
      const addrs = Array.isArray(i['ip-addresses']) ? i['ip-addresses'].filter(isObj) : [];
      const iface: GuestInterface = {
        name: String(i['name'] ?? ''),
        addresses: addrs
          .filter((a) => typeof a['ip-address'] === 'string')
          .map((a) => ({
            ip: a['ip-address'] as string,
            prefix: typeof a['prefix'] === 'number' ? a['prefix'] : 0,
            family: a['ip-address-type'] === 'ipv6' ? 'ipv6' : 'ipv4',
          })),
      };
      const mac = str(i['hardware-address']);
      if (mac !== undefined) iface.mac = mac;
      return iface;
    });
  }

  /**
   * Runs argv in the guest (guest-exec with captured output), polls guest-exec-status until
   * it exits, and returns its exit code and output (UTF-8). TIMEOUT if it has not exited by
   * `timeoutMs`; the process then keeps running in the guest (details.pid says which).
   */
  async exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    if (!Array.isArray(argv) || argv.length === 0 || argv.some((a) => typeof a !== 'string' || a.includes('\0')) || argv[0] === '') {
      throw new TypeError('exec needs a non-empty argv of strings without NUL characters');
    }
    const timeoutMs = opts.timeoutMs ?? this.execTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    const args: Json = { path: argv[0], arg: argv.slice(1), 'capture-output': true };
    if (opts.env !== undefined) args['env'] = opts.env;
    if (opts.input !== undefined) args['input-data'] = Buffer.from(opts.input, 'utf8').toString('base64');
    const started = await this.call<Json>('guest-exec', args);
    const pid = started['pid'];
    if (typeof pid !== 'number') throw new GuestAgentError('AGENT_ERROR', 'guest-exec did not return a pid', { command: 'guest-exec' });
    let interval = 20;
    for (;;) {
      const st = await this.call<Json>('guest-exec-status', { pid });
      if (st['exited'] === true) {
        const signal = typeof st['signal'] === 'number' ? st['signal'] : undefined;
        const exitCode = typeof st['exitcode'] === 'number' ? st['exitcode'] : signal !== undefined ? 128 + signal : -1;
        const res: ExecResult = { exitCode, stdout: b64(st['out-data']), stderr: b64(st['err-data']) };
        if (signal !== undefined) res.signal = signal;
        if (st['out-truncated'] === true) res.stdoutTruncated = true;
        if (st['err-truncated'] === true) res.stderrTruncated = true;
        return res;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new GuestAgentError('TIMEOUT', `${argv[0]} (guest pid ${pid}) did not finish within ${timeoutMs} ms; it is still running in the guest`, {
          command: 'guest-exec',
          details: { pid },
        });
      }
      await sleep(Math.min(interval, left));
      interval = Math.min(500, Math.round(interval * 1.5));
    }
  }

  /** guest-shutdown. The agent does not answer on success: silence or a closed channel counts as success. */
  async shutdown(mode: 'powerdown' | 'reboot' | 'halt' = 'powerdown'): Promise<void> {
    await this.batch((c) => c.commandNoReply('guest-shutdown', { mode }, this.shutdownReplyWindowMs));
  }

  /**
   * Freezes the guest's filesystems; returns how many. If the answer does not come in time,
   * a thaw is attempted before the TIMEOUT is thrown, so a guest is not left frozen.
   */
  async fsFreeze(): Promise<number> {
    try {
      const n = await this.call<unknown>('guest-fsfreeze-freeze', undefined, this.freezeTimeoutMs);
      return typeof n === 'number' ? n : 0;
    } catch (err) {
      if (isGuestAgentError(err, 'TIMEOUT')) {
        await this.batch((c) => c.command('guest-fsfreeze-thaw', undefined, this.freezeTimeoutMs), this.freezeTimeoutMs).catch(() => undefined);
      }
      throw err;
    }
  }

  /** Thaws the guest's filesystems; returns how many were thawed. */
  async fsThaw(): Promise<number> {
    const n = await this.call<unknown>('guest-fsfreeze-thaw', undefined, this.freezeTimeoutMs);
    return typeof n === 'number' ? n : 0;
  }

  async fsFreezeStatus(): Promise<'thawed' | 'frozen'> {
    const s = await this.call<unknown>('guest-fsfreeze-status');
    return s === 'frozen' ? 'frozen' : 'thawed';
  }

  /** Stops using the agent: the batch in progress is cut off, queued ones fail with AGENT_UNAVAILABLE. */
  async close(): Promise<void> {
    this.closed = true;
    this.current?.destroy();
    await this.tail;
  }
}
