/**
 * A QMP (QEMU Machine Protocol) client: the wire protocol and nothing above it.
 *
 * It knows the greeting, `qmp_capabilities`, id-correlated replies and events. It does not
 * know what any command means, so it never retries one: a command that timed out or whose
 * connection dropped may or may not have run, and only the caller can decide what to do.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { HangarError, type ConvertibleError } from '../errors/errors.js';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

export interface QmpGreeting {
  QMP: { version: unknown; capabilities: unknown[] };
}

/** Things the client ignored on purpose, reported for logging. Never needed for correctness. */
export type QmpDiagnostic =
  | { kind: 'garbled-line'; line: string }
  | { kind: 'unmatched-reply'; message: Record<string, unknown> }
  | { kind: 'unknown-message'; message: Record<string, unknown> }
  | { kind: 'listener-error'; error: unknown };

export interface QmpClientOptions {
  /** Longest line accepted, in bytes before the '\n'. Default 16 MiB. Longer => protocol error, connection closed. */
  maxLineBytes?: number;
  /** Default per-command timeout. Default 30 000 ms. `Infinity` disables it. */
  commandTimeoutMs?: number;
  /** Time allowed for the greeting and the `qmp_capabilities` reply together. Default 5 000 ms. */
  greetingTimeoutMs?: number;
  /** Debug hook for input the client dropped (garbled lines, replies nobody waits for, listener exceptions). */
  onDiagnostic?: (d: QmpDiagnostic) => void;
}

export interface QmpConnectOptions extends QmpClientOptions {
  /** Retry ENOENT/ECONNREFUSED until this many ms have passed (QEMU creates the socket shortly after spawn). */
  retryUntilMs?: number;
  /** Pause between connection attempts. Default 2 ms: this is on the VM start path. */
  retryIntervalMs?: number;
}

/*
 * Each error says how it reaches an API client (`toHangarError`, the errors catalogue's
 * one conversion), so nothing above has to know these classes to report them.
 */

/** QEMU refused a command: `{"error": {"class": ..., "desc": ...}}`. */
export class QmpError extends Error implements ConvertibleError {
  override readonly name = 'QmpError';
  readonly errorClass: string;
  readonly desc: string;
  readonly command: string;

  constructor(command: string, errorClass: string, desc: string) {
    super(`QMP command '${command}' failed: ${errorClass}: ${desc}`);
    this.command = command;
    this.errorClass = errorClass;
    this.desc = desc;
  }

  toHangarError(): HangarError {
    return new HangarError('QMP_ERROR', `QEMU refused ${this.command}: ${this.desc} (${this.errorClass}).`, {
      cause: this, details: { command: this.command, class: this.errorClass },
    });
  }
}

/** No reply in time. The command may still run: it is not resent, and a late reply is dropped. */
export class QmpTimeoutError extends Error implements ConvertibleError {
  override readonly name = 'QmpTimeoutError';

  toHangarError(): HangarError {
    return new HangarError('TIMEOUT', `QEMU did not answer in time: ${this.message}. Check the VM with \`hangar vm show\`.`, { cause: this });
  }
}

/** The connection is gone (or was never usable). For a pending command the outcome is unknown. */
export class QmpClosedError extends Error implements ConvertibleError {
  override readonly name = 'QmpClosedError';

  toHangarError(): HangarError {
    return new HangarError('VM_STATE', `The VM's QEMU went away during the request: ${this.message}. See \`hangar vm show\`.`, { cause: this });
  }
}

/** The peer broke the protocol badly enough that the connection cannot be trusted (e.g. an over-long line). */
export class QmpProtocolError extends Error {
  override readonly name = 'QmpProtocolError';
}

const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024;
const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;
const DEFAULT_GREETING_TIMEOUT_MS = 5_000;
const DEFAULT_RETRY_INTERVAL_MS = 2;
// setTimeout treats anything above 2^31-1 ms as 1 ms; clamp rather than fire at once.
const MAX_TIMER_MS = 2 ** 31 - 1;
// How long close() waits for our last bytes to drain before it drops the socket anyway.
const CLOSE_GRACE_MS = 1_000;

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer?: NodeJS.Timeout;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class QmpClient {
  private readonly stream: Duplex;
  private readonly maxLineBytes: number;
  private readonly commandTimeoutMs: number;
  private readonly onDiagnostic?: (d: QmpDiagnostic) => void;

  private readonly pending = new Map<string, Pending>();
  private nextId = 0;
  private readonly eventListeners = new Set<(e: QmpEvent) => void>();
  private readonly closeListeners = new Set<(err?: Error) => void>();

  // Partial line carried over between chunks, kept as a list so a long line costs O(n), not O(n^2).
  private partial: Buffer[] = [];
  private partialBytes = 0;

  private greetingValue?: QmpGreeting;
  private greetingWaiter?: { resolve: () => void; reject: (err: Error) => void };
  private isClosed = false;
  private closeCause?: Error;
  private readonly streamClosed: Promise<void>;

  private constructor(stream: Duplex, opts: QmpClientOptions) {
    this.stream = stream;
    this.maxLineBytes = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.commandTimeoutMs = opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    this.onDiagnostic = opts.onDiagnostic;

    this.streamClosed = new Promise((resolve) => {
      if (stream.closed) resolve();
      else stream.once('close', () => resolve());
    });
    stream.on('data', (chunk: Buffer | string) => this.onData(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk));
    stream.on('end', () => this.shutdown(new QmpClosedError('QMP peer closed the connection')));
    stream.on('close', () => this.shutdown(new QmpClosedError('QMP connection closed')));
    // Stays attached for the stream's whole life: an unhandled 'error' would crash the process.
    stream.on('error', (err) => this.shutdown(err));
  }

  /** Connects to QEMU's QMP unix socket and completes the handshake. */
  static async connect(socketPath: string, opts: QmpConnectOptions = {}): Promise<QmpClient> {
    const socket = await connectWithRetry(socketPath, opts.retryUntilMs, opts.retryIntervalMs ?? DEFAULT_RETRY_INTERVAL_MS);
    return QmpClient.fromStream(socket, opts);
  }

  /** Runs the handshake over an already-connected stream. The client owns the stream from here on. */
  static async fromStream(stream: Duplex, opts: QmpClientOptions = {}): Promise<QmpClient> {
    const client = new QmpClient(stream, opts);
    const timeoutMs = opts.greetingTimeoutMs ?? DEFAULT_GREETING_TIMEOUT_MS;
    const timer = setTimeout(
      () => client.shutdown(new QmpTimeoutError(`QMP handshake did not complete within ${timeoutMs} ms`)),
      Math.min(timeoutMs, MAX_TIMER_MS),
    );
    try {
      await new Promise<void>((resolve, reject) => {
        if (client.greetingValue) resolve();
        else if (client.isClosed) reject(client.closeCause ?? new QmpClosedError('QMP connection closed before the greeting'));
        else client.greetingWaiter = { resolve, reject };
      });
      // Leaves capabilities-negotiation mode. We ask for no optional capabilities (no 'oob').
      await client.execute('qmp_capabilities', undefined, { timeoutMs: Infinity });
    } catch (err) {
      client.shutdown(err as Error);
      // Report why the handshake failed (timeout, protocol error, refusal), not just "closed".
      throw client.closeCause ?? err;
    } finally {
      clearTimeout(timer);
    }
    return client;
  }

  get greeting(): QmpGreeting {
    return this.greetingValue as QmpGreeting;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Sends one command and waits for the reply carrying its id. Sent exactly once, never retried.
   * Rejects with QmpError (QEMU refused), QmpTimeoutError or QmpClosedError (outcome unknown).
   */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, opts: { timeoutMs?: number } = {}): Promise<T> {
    if (this.isClosed) {
      return Promise.reject(new QmpClosedError(`QMP connection is closed; '${command}' not sent`, { cause: this.closeCause }));
    }
    const timeoutMs = opts.timeoutMs ?? this.commandTimeoutMs;
    if (!(timeoutMs > 0)) return Promise.reject(new RangeError(`timeoutMs must be positive, got ${timeoutMs}`));

    const id = String(++this.nextId);
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { command, resolve: resolve as (v: unknown) => void, reject };
      if (Number.isFinite(timeoutMs)) {
        entry.timer = setTimeout(() => {
          // Forget the id: a reply arriving later matches nothing and is dropped.
          this.pending.delete(id);
          reject(new QmpTimeoutError(`QMP command '${command}' got no reply within ${timeoutMs} ms`));
        }, Math.min(timeoutMs, MAX_TIMER_MS));
      }
      this.pending.set(id, entry);
      const message = args === undefined ? { execute: command, id } : { execute: command, arguments: args, id };
      // Write errors surface as the stream's 'error' event, which closes the client and rejects this.
      this.stream.write(JSON.stringify(message) + '\n');
    });
  }

  /** Subscribes to QMP events. Returns the unsubscribe function. */
  onEvent(listener: (e: QmpEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /**
   * Called once when the connection ends: no error after close(), otherwise the cause
   * (peer EOF as QmpClosedError, a socket error, a QmpProtocolError). A listener added
   * after the close is called on the next tick, so nobody waits forever.
   */
  onClose(listener: (err?: Error) => void): () => void {
    if (this.isClosed) {
      let subscribed = true;
      queueMicrotask(() => {
        if (subscribed) this.call(listener, this.closeCause);
      });
      return () => {
        subscribed = false;
      };
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /** Ends the connection and rejects pending commands with QmpClosedError. Idempotent. */
  async close(): Promise<void> {
    this.shutdown(undefined);
    await this.streamClosed;
  }

  private onData(chunk: Buffer): void {
    let start = 0;
    while (!this.isClosed) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) break;
      // Splitting on the byte 0x0a is safe mid-UTF-8: it never occurs inside a multibyte sequence.
      const tail = chunk.subarray(start, nl);
      if (this.partialBytes + tail.length > this.maxLineBytes) return this.lineTooLong();
      const line = this.partialBytes === 0 ? tail : Buffer.concat([...this.partial, tail]);
      this.partial = [];
      this.partialBytes = 0;
      start = nl + 1;
      this.onLine(line.toString('utf8'));
    }
    if (this.isClosed || start >= chunk.length) return;
    // Enforce the bound on the unfinished line too, so a peer cannot make us buffer without end.
    this.partialBytes += chunk.length - start;
    if (this.partialBytes > this.maxLineBytes) return this.lineTooLong();
    this.partial.push(chunk.subarray(start));
  }

  private lineTooLong(): void {
    this.partial = [];
    this.partialBytes = 0;
    this.shutdown(new QmpProtocolError(`QMP line longer than ${this.maxLineBytes} bytes`));
  }

  private onLine(raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      message = undefined;
    }
    if (!isObject(message)) return this.diagnose({ kind: 'garbled-line', line });

    if (this.greetingValue === undefined) return this.onGreeting(message);
    if (typeof message.event === 'string') return this.onEventMessage(message);
    if ('return' in message || 'error' in message) return this.onReply(message);
    this.diagnose({ kind: 'unknown-message', message });
  }

  private onGreeting(message: Json): void {
    const qmp = message.QMP;
    if (!isObject(qmp)) {
      return this.shutdown(new QmpProtocolError(`expected the QMP greeting, got: ${JSON.stringify(message).slice(0, 200)}`));
    }
    this.greetingValue = { QMP: { version: qmp.version, capabilities: Array.isArray(qmp.capabilities) ? qmp.capabilities : [] } };
    this.greetingWaiter?.resolve();
    this.greetingWaiter = undefined;
  }

  private onReply(message: Json): void {
    // Strict: only a string id we issued and still wait for. Replies without an id (QEMU's
    // answer to input it could not parse) or with an abandoned id belong to nobody.
    const id = message.id;
    const entry = typeof id === 'string' ? this.pending.get(id) : undefined;
    if (entry === undefined || typeof id !== 'string') return this.diagnose({ kind: 'unmatched-reply', message });
    this.pending.delete(id);
    clearTimeout(entry.timer);
    if ('error' in message) {
      const error = isObject(message.error) ? message.error : {};
      const errorClass = typeof error.class === 'string' ? error.class : 'GenericError';
      const desc = typeof error.desc === 'string' ? error.desc : JSON.stringify(message.error);
      entry.reject(new QmpError(entry.command, errorClass, desc));
    } else {
      entry.resolve(message.return);
    }
  }

  private onEventMessage(message: Json): void {
    const event: QmpEvent = { event: message.event as string };
    if (isObject(message.data)) event.data = message.data;
    const ts = message.timestamp;
    if (isObject(ts) && typeof ts.seconds === 'number' && typeof ts.microseconds === 'number') {
      event.timestamp = { seconds: ts.seconds, microseconds: ts.microseconds };
    }
    // Copy: a listener may unsubscribe (or subscribe) while we iterate.
    for (const listener of [...this.eventListeners]) this.call(listener, event);
  }

  /** Closes once, whatever the reason. `cause` undefined means a local close(). */
  private shutdown(cause: Error | undefined): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.closeCause = cause;

    this.greetingWaiter?.reject(cause ?? new QmpClosedError('QMP connection closed before the greeting'));
    this.greetingWaiter = undefined;

    for (const entry of this.pending.values()) {
      clearTimeout(entry.timer);
      const why = cause ? `: ${cause.message}` : '';
      entry.reject(new QmpClosedError(`QMP connection closed before '${entry.command}' got a reply${why}`, { cause }));
    }
    this.pending.clear();

    if (!this.stream.destroyed) {
      // end() lets bytes already written reach QEMU (e.g. a final 'quit'); the timer covers a peer that stops reading.
      const grace = setTimeout(() => this.stream.destroy(), CLOSE_GRACE_MS);
      grace.unref();
      this.stream.once('close', () => clearTimeout(grace));
      this.stream.end(() => this.stream.destroy());
    }

    const listeners = [...this.closeListeners];
    this.closeListeners.clear();
    this.eventListeners.clear();
    for (const listener of listeners) this.call(listener, cause);
  }

  // Listener exceptions are the listener's problem: report them, never let them break parsing.
  private call<A>(listener: (arg: A) => void, arg: A): void {
    try {
      listener(arg);
    } catch (error) {
      this.diagnose({ kind: 'listener-error', error });
    }
  }

  private diagnose(d: QmpDiagnostic): void {
    if (!this.onDiagnostic) return;
    try {
      this.onDiagnostic(d);
    } catch {
      // A broken debug hook must not break the client either.
    }
  }
}

function connectOnce(socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

async function connectWithRetry(socketPath: string, retryUntilMs: number | undefined, intervalMs: number): Promise<net.Socket> {
  const started = performance.now();
  for (;;) {
    try {
      return await connectOnce(socketPath);
    } catch (err) {
      // Only "not there yet" is worth retrying: ENOENT before QEMU creates the socket,
      // ECONNREFUSED in the instant between bind() and listen().
      const code = (err as NodeJS.ErrnoException).code;
      const remaining = (retryUntilMs ?? 0) - (performance.now() - started);
      if ((code !== 'ENOENT' && code !== 'ECONNREFUSED') || remaining <= 0) throw err;
      await new Promise((r) => setTimeout(r, Math.min(intervalMs, remaining)));
    }
  }
}
