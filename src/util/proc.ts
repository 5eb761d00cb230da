/**
 * Processes as /proc shows them. A process is identified by pid + start time (field 22 of
 * /proc/PID/stat, fixed at fork), so a recycled pid is never mistaken for one of ours, and a
 * signal only ever goes to the process that was meant.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  /** R, S, D, ... ; Z (zombie) and X (dead) have exited. */
  state: string;
  ppid: number;
  /** Clock ticks after boot when the process started. */
  startTime: string;
}

export interface ProcInfo extends ProcStat {
  pid: number;
  argv: string[];
}

/** State, parent and start time from /proc/PID/stat; undefined if there is no such process. */
export function readProcStat(pid: number, procRoot = '/proc'): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may contain spaces or ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const [state, ppid] = rest;
  const startTime = rest[19];
  if (state === undefined || ppid === undefined || startTime === undefined) return undefined;
  return { state, ppid: Number(ppid), startTime };
}

/** The process's argv, as the kernel reports it. */
export function readCmdline(pid: number): string[] | undefined {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (argv[argv.length - 1] === '') argv.pop();
    return argv;
  } catch {
    return undefined;
  }
}

export function readProc(pid: number): ProcInfo | undefined {
  const stat = readProcStat(pid);
  const argv = stat && readCmdline(pid);
  return stat && argv ? { pid, ...stat, argv } : undefined;
}

/** Not exited: zombies ('Z') and dead ('X') processes are only waiting for their parent to reap them. */
export function isAlive<T extends { state: string }>(p: T | undefined): p is T {
  return p !== undefined && p.state !== 'Z' && p.state !== 'X';
}

/** True while the process with this pid is the one that started at `startTime` and has not exited. */
export function isSameLiveProcess(pid: number, startTime: string): boolean {
  const stat = readProcStat(pid);
  return isAlive(stat) && stat.startTime === startTime;
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

/** Polls until the process is gone (or a zombie); false if still alive after `timeoutMs`. */
export async function waitForProcessExit(pid: number, startTime: string, timeoutMs: number, intervalMs = 5): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isSameLiveProcess(pid, startTime)) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return true;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone (or 2 s after the SIGKILL). */
export async function stopProcess(pid: number, startTime: string, graceMs = 3000): Promise<void> {
  if (!signalProcess(pid, startTime, 'SIGTERM')) return;
  if (await waitForProcessExit(pid, startTime, graceMs, 20)) return;
  signalProcess(pid, startTime, 'SIGKILL');
  await waitForProcessExit(pid, startTime, 2000, 20);
}

/** Live processes (other than this one) whose command line satisfies `match`. */
export function findProcesses(match: (argv: string[]) => boolean): ProcInfo[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: ProcInfo[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const argv = readCmdline(Number(entry));
    if (!argv || argv.length === 0 || !match(argv)) continue;
    const p = readProc(Number(entry));
    if (isAlive(p)) out.push(p);
  }
  return out;
}
