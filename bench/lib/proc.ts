/** Small /proc helpers: resident memory, liveness, and finding our own leftover processes. */
import { readdirSync, readFileSync } from 'node:fs';

/** A `kB` field of /proc/PID/status (VmRSS, VmHWM, …) in bytes; NaN if the process is gone. */
export function readStatusBytes(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** VmRSS of a process in bytes; NaN if it is gone. */
export function readRssBytes(pid: number): number {
  return readStatusBytes(pid, 'VmRSS');
}

/** Process state letter from /proc/PID/stat (R, S, Z, …); undefined if there is no such pid. */
export function procState(pid: number): string | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/** True while the pid exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const s = procState(pid);
  return s !== undefined && s !== 'Z' && s !== 'X';
}

export function readCmdline(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s) => s.length > 0);
  } catch {
    return undefined;
  }
}

/** Pids of live processes whose argv mentions `needle` (e.g. this run's temp dir): only ours. */
export function pidsMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const cmd = readCmdline(pid);
    if (cmd?.some((a) => a.includes(needle)) && isAlive(pid)) out.push(pid);
  }
  return out;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls until the pid is gone (or a zombie); false on timeout. */
export async function waitGone(pid: number, timeoutMs: number, intervalMs = 5): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(intervalMs);
  }
  return true;
}

/** SIGKILLs each pid (that still mentions `needle`, so a recycled pid is never hit) and waits. */
export async function killLeftovers(needle: string): Promise<number[]> {
  const pids = pidsMentioning(needle);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const pid of pids) await waitGone(pid, 5000);
  return pids;
}

/** QEMU processes on this host that are not ours (other users' tests): they compete for the same CPUs. */
export function foreignQemuPids(ours: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmd = readCmdline(Number(entry));
    if (cmd?.[0]?.includes('qemu-system') && !cmd.some((a) => a.includes(ours)) && isAlive(Number(entry))) out.push(Number(entry));
  }
  return out;
}

/** Share of all CPUs busy (0..1) over `ms`, from /proc/stat: how loaded the host is by others. */
export async function cpuBusy(ms = 500): Promise<number> {
  const read = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    return { idle, total: f.reduce((s, x) => s + x, 0) };
  };
  const a = read();
  await sleep(ms);
  const b = read();
  return b.total > a.total ? 1 - (b.idle - a.idle) / (b.total - a.total) : 0;
}
