/**
 * Launching QEMU detached from the daemon and recognising it again later.
 * A QEMU process is identified by pid + start time (field 22 of /proc/PID/stat),
 * so a recycled pid is never mistaken for our guest.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';

export interface ExitInfo {
  code: number | null;
  signal: string | null;
}

export interface LaunchedQemu {
  pid: number;
  pidStartTime: string;
  child: ChildProcess;
  /** Resolves when the process has exited (and been reaped). */
  exited: Promise<ExitInfo>;
}

export interface ProcStat {
  state: string;
  startTime: string;
}

/** Reads state and start time from /proc/PID/stat; undefined if there is no such process. */
export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may contain spaces or ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = rest[0];
  const startTime = rest[19];
  if (state === undefined || startTime === undefined) return undefined;
  return { state, startTime };
}

/** True while the process with this pid is the one that started at `startTime` and has not exited. */
export function isSameLiveProcess(pid: number, startTime: string): boolean {
  const stat = readProcStat(pid);
  // 'Z' (zombie) and 'X' (dead) have exited; only their parent has not reaped them yet.
  return stat !== undefined && stat.startTime === startTime && stat.state !== 'Z' && stat.state !== 'X';
}

/** The process's argv, as the kernel reports it. */
export function readCmdline(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s) => s.length > 0);
  } catch {
    return undefined;
  }
}

/**
 * Spawns QEMU in its own session with stdio going to `logFile` (appended), so it
 * outlives the daemon and never blocks on a pipe nobody reads. With `user`, QEMU runs as
 * that uid/gid (the log stays the daemon's: QEMU gets an open descriptor).
 */
export function launchQemu(binary: string, argv: readonly string[], logFile: string, user?: { uid: number; gid: number }): LaunchedQemu {
  const fd = openSync(logFile, 'a', 0o600);
  let child: ChildProcess;
  try {
    // As the guest's own user (uid/gid set before exec; supplementary groups dropped).
    child = spawn(binary, argv, { detached: true, stdio: ['ignore', fd, fd], ...(user && { uid: user.uid, gid: user.gid }) });
  } finally {
    closeSync(fd);
  }
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  child.unref();
  const pid = child.pid;
  if (pid === undefined) {
    throw new Error(`could not spawn ${binary}`);
  }
  // Start time is fixed at fork, so reading it now (before or after exec) gives the same value.
  const stat = readProcStat(pid);
  return { pid, pidStartTime: stat?.startTime ?? '', child, exited };
}

/** Polls until the process is gone (or a zombie); false if still alive after `timeoutMs`. */
export async function waitForProcessExit(pid: number, startTime: string, timeoutMs: number, intervalMs = 5): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isSameLiveProcess(pid, startTime)) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return true;
}

/** Sends a signal only if the pid is still the same process; returns whether it was sent. */
export function signalProcess(pid: number, startTime: string, signal: NodeJS.Signals): boolean {
  if (!isSameLiveProcess(pid, startTime)) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** The last `maxBytes` of a log file, trimmed to whole lines; '' if it does not exist. */
export async function readLogTail(path: string, maxBytes = 4096): Promise<string> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch {
    return '';
  }
  try {
    const { size } = await fh.stat();
    const start = Math.max(0, size - maxBytes);
    const buf = Buffer.alloc(size - start);
    await fh.read(buf, 0, buf.length, start);
    let text = buf.toString('utf8');
    if (start > 0) text = text.slice(text.indexOf('\n') + 1);
    return text;
  } finally {
    await fh.close();
  }
}
