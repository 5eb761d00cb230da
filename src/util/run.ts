/**
 * The one way Hangar runs a program to its end: an argv array (never a shell), a timeout,
 * bounded output, and a typed result. `run` resolves with what happened whatever the exit
 * status; `runChecked` rejects with a `CommandError` (a HangarError) unless it exited 0.
 *
 * Long-lived children that outlive a call (QEMU, dnsmasq, dd streaming a save) are launched
 * by their owners with `spawn`; this module is for commands whose result is awaited.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { HangarError, type ErrorCode } from '../errors/errors.js';

export interface RunOptions {
  /** Stops the program after this long (see `killGraceMs`); the result says `timedOut`. Default 60 s; Infinity: never. */
  timeoutMs?: number;
  /** On timeout, SIGTERM first and SIGKILL this much later (for programs that clean up); default: SIGKILL at once. */
  killGraceMs?: number;
  /** Aborting kills the program (SIGKILL); the result says `aborted`. */
  signal?: AbortSignal;
  /** Written to stdin, which is then closed; without it stdin is /dev/null. */
  input?: string | Buffer;
  /** The whole environment; default the daemon's own with LC_ALL=C, so messages can be matched. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** How stdout is decoded (`buffer`: kept as bytes). Default utf8. */
  encoding?: 'utf8' | 'latin1' | 'buffer';
  /** stdout keeps its first this many bytes. Default 16 MiB. */
  maxStdoutBytes?: number;
  /** stderr keeps its last this many bytes (where the error is). Default 64 KiB. */
  maxStderrBytes?: number;
  /** Sees every stdout chunk as it comes (progress, a console to watch). */
  onStdout?: (chunk: string) => void;
  /** Sees every complete line of stdout and stderr, without its newline. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Called with the pid once the program runs. */
  onSpawn?: (pid: number) => void;
}

export interface RunResult<Out extends string | Buffer = string> {
  /** The command line, for messages: `qemu-img info --output=json /a`. */
  command: string;
  /** Exit status; null when killed by a signal or never started. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Out;
  stderr: string;
  timedOut: boolean;
  aborted: boolean;
  /** Why the program could not be started (e.g. ENOENT: not installed). */
  spawnError?: NodeJS.ErrnoException;
  elapsedMs: number;
}

export const DEFAULT_RUN_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_STDOUT = 16 * 1024 * 1024;
const DEFAULT_MAX_STDERR = 64 * 1024;
/** How long output may still come after the program exited. */
const PIPE_GRACE_MS = 500;

/** True when the program ran and exited 0 in time. */
export function succeeded(r: RunResult<string | Buffer>): boolean {
  return r.code === 0 && !r.timedOut && !r.aborted && r.spawnError === undefined;
}

/** The program was not found (not installed, or not on PATH). */
export function notFound(r: RunResult<string | Buffer>): boolean {
  return r.spawnError?.code === 'ENOENT';
}

/** What went wrong, in a few words: `exit code 2`, `killed by SIGKILL`, `timed out after 5 s`. */
export function describeExit(r: RunResult<string | Buffer>, timeoutMs?: number): string {
  if (r.spawnError) return notFound(r) ? 'not installed' : `cannot be started (${r.spawnError.message})`;
  if (r.timedOut) return timeoutMs === undefined ? 'timed out' : `timed out after ${Math.round(timeoutMs / 1000)} s`;
  if (r.aborted) return 'cancelled';
  if (r.signal) return `killed by ${r.signal}`;
  return `exit code ${String(r.code)}`;
}

/** The last non-empty lines of stderr (where programs say why they failed). */
export function stderrTail(r: RunResult<string | Buffer>, lines = 8): string {
  return r.stderr.trim().split('\n').filter((l) => l.trim() !== '').slice(-lines).join('\n');
}

/** A program that did not exit 0; converts to the API like any HangarError. */
export class CommandError extends HangarError {
  readonly result: RunResult<string | Buffer>;

  constructor(code: ErrorCode, message: string, result: RunResult<string | Buffer>) {
    super(code, message, { cause: result.spawnError });
    this.name = 'CommandError';
    this.result = result;
  }

  get notFound(): boolean {
    return notFound(this.result);
  }
}

export function run(cmd: string, args: readonly string[], opts: RunOptions & { encoding: 'buffer' }): Promise<RunResult<Buffer>>;
export function run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult>;
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult<string | Buffer>> {
  const started = performance.now();
  const command = [cmd, ...args].join(' ');
  const timeoutMs = opts.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS;
  const maxStdout = opts.maxStdoutBytes ?? DEFAULT_MAX_STDOUT;
  const maxStderr = opts.maxStderrBytes ?? DEFAULT_MAX_STDERR;
  const result: RunResult<string | Buffer> = { command, code: null, signal: null, stdout: '', stderr: '', timedOut: false, aborted: false, elapsedMs: 0 };
  if (opts.signal?.aborted) return Promise.resolve({ ...result, aborted: true });

  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? { ...process.env, LC_ALL: 'C' },
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = '';
    const partial = { stdout: '', stderr: '' };
    const lines = (stream: 'stdout' | 'stderr', text: string): void => {
      if (!opts.onLine) return;
      const parts = (partial[stream] + text).split('\n');
      partial[stream] = parts.pop() ?? '';
      for (const l of parts) opts.onLine(l.replace(/\r$/, ''), stream);
    };
    const textEncoding = opts.encoding === 'latin1' ? 'latin1' : 'utf8';
    // Keeps a character split between two chunks whole.
    const decoder = new StringDecoder(textEncoding);
    // stdout and stderr are pipes (stdio above), never null.
    child.stdout!.on('data', (chunk: Buffer) => {
      if (stdoutBytes < maxStdout) {
        const kept = chunk.subarray(0, maxStdout - stdoutBytes);
        stdout.push(kept);
        stdoutBytes += kept.length;
      }
      if (opts.onStdout || opts.onLine) {
        const text = decoder.write(chunk);
        opts.onStdout?.(text);
        lines('stdout', text);
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-maxStderr);
      lines('stderr', chunk);
    });
    if (child.stdin) {
      // A program that exits without reading its input must not crash the daemon (EPIPE).
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.input);
    }
    if (child.pid !== undefined) opts.onSpawn?.(child.pid);

    let killTimer: NodeJS.Timeout | undefined;
    let pipeTimer: NodeJS.Timeout | undefined;
    const kill = (signal: NodeJS.Signals): void => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    const timer = Number.isFinite(timeoutMs)
      ? setTimeout(() => {
          result.timedOut = true;
          if (opts.killGraceMs === undefined) return kill('SIGKILL');
          kill('SIGTERM');
          killTimer = setTimeout(() => kill('SIGKILL'), opts.killGraceMs);
        }, timeoutMs)
      : undefined;
    const onAbort = (): void => {
      result.aborted = true;
      kill('SIGKILL');
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    let settled = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      if (pipeTimer) clearTimeout(pipeTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (opts.onLine) for (const s of ['stdout', 'stderr'] as const) if (partial[s] !== '') opts.onLine(partial[s], s);
      const out = Buffer.concat(stdout);
      result.stdout = opts.encoding === 'buffer' ? out : out.toString(textEncoding);
      result.stderr = stderr;
      result.code = code;
      result.signal = signal;
      result.elapsedMs = performance.now() - started;
      resolve(result);
    };
    child.on('error', (e: NodeJS.ErrnoException) => {
      result.spawnError = e;
      // Never started (e.g. ENOENT): no 'close' will follow with an exit status worth waiting for.
      if (child.pid === undefined) finish(null, null);
    });
    // 'close': the process has exited and its pipes are drained.
    child.on('close', finish);
    // A child of the program may hold the pipes open after it exited (or was killed): do not
    // wait for that child.
    child.on('exit', (code, signal) => {
      pipeTimer = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish(code, signal);
      }, PIPE_GRACE_MS);
    });
  });
}

export interface RunCheckedOptions extends RunOptions {
  /** The catalogue code of the CommandError when the program fails. Default INTERNAL. */
  errorCode?: ErrorCode;
  /** Said when the program is missing, e.g. `Debian package qemu-utils`. */
  packageHint?: string;
}

/** `run`, rejecting with a CommandError unless the program exited 0 in time. */
export function runChecked(cmd: string, args: readonly string[], opts: RunCheckedOptions & { encoding: 'buffer' }): Promise<RunResult<Buffer>>;
export function runChecked(cmd: string, args: readonly string[], opts?: RunCheckedOptions): Promise<RunResult>;
export async function runChecked(cmd: string, args: readonly string[], opts: RunCheckedOptions = {}): Promise<RunResult<string | Buffer>> {
  const r = await run(cmd, args, opts);
  if (succeeded(r)) return r;
  throw commandError(r, opts);
}

/** The CommandError for a failed run: `<command> failed (<why>): <stderr tail>`. */
export function commandError(r: RunResult<string | Buffer>, opts: Pick<RunCheckedOptions, 'errorCode' | 'packageHint' | 'timeoutMs'> = {}): CommandError {
  const code = opts.errorCode ?? 'INTERNAL';
  const name = r.command.split(' ')[0] ?? r.command;
  if (notFound(r)) return new CommandError(code, `${name} is not installed${opts.packageHint ? ` (${opts.packageHint})` : ''}`, r);
  const detail = stderrTail(r);
  return new CommandError(code, `${r.command} failed (${describeExit(r, opts.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS)})${detail ? `: ${detail}` : ''}`, r);
}

/** Where system programs live, searched after PATH: a daemon started by systemd or sudo may have a thin PATH. */
export const SYSTEM_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** The absolute path of the executable file `name` on PATH or in SYSTEM_DIRS (a path is checked as is); undefined if none. */
export function findProgram(name: string, path = process.env.PATH ?? ''): string | undefined {
  const candidates = name.includes('/') ? [name] : [...path.split(':').filter(Boolean), ...SYSTEM_DIRS].map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      if (statSync(c).isFile()) return c;
    } catch {
      // not here
    }
  }
  return undefined;
}
