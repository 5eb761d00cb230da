/**
 * Just enough of /proc to identify a process by pid + start time and command line, so the
 * driver only ever signals a process it has proven to be its own.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcInfo {
  pid: number;
  /** Field 22 of /proc/PID/stat: clock ticks after boot; with the pid, a process's identity. */
  startTime: string;
  state: string;
  argv: string[];
}

export function readProc(pid: number): ProcInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = rest[0];
    const startTime = rest[19];
    if (state === undefined || startTime === undefined) return undefined;
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (argv.length > 0 && argv[argv.length - 1] === '') argv.pop();
    return { pid, startTime, state, argv };
  } catch {
    return undefined;
  }
}

export function isAlive(p: ProcInfo | undefined): p is ProcInfo {
  return p !== undefined && p.state !== 'Z' && p.state !== 'X';
}

/** Live processes whose command line satisfies `match`. */
export function findProcesses(match: (argv: string[]) => boolean): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const p = readProc(Number(entry));
    if (isAlive(p) && p.argv.length > 0 && match(p.argv)) out.push(p);
  }
  return out;
}

/** True while `pid` is still the process that started at `startTime`. */
export function isSameProcess(pid: number, startTime: string): boolean {
  const p = readProc(pid);
  return isAlive(p) && p.startTime === startTime;
}

/** Sends `signal` to `pid` only if it is still the process that started at `startTime`. */
export function signalIfSame(pid: number, startTime: string, signal: NodeJS.Signals): boolean {
  if (!isSameProcess(pid, startTime)) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopProcess(pid: number, startTime: string, graceMs = 3000): Promise<void> {
  if (!signalIfSame(pid, startTime, 'SIGTERM')) return;
  const deadline = Date.now() + graceMs;
  while (isSameProcess(pid, startTime)) {
    if (Date.now() > deadline) {
      signalIfSame(pid, startTime, 'SIGKILL');
      const hard = Date.now() + 2000;
      while (isSameProcess(pid, startTime) && Date.now() < hard) await sleep(20);
      return;
    }
    await sleep(20);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
