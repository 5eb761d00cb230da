/**
 * What the host kernel says about a QEMU process and its tap devices: CPU time and RSS
 * from /proc, NIC counters from /sys/class/net. Parsers are pure (and tested); readers
 * are async and return undefined when the file is gone (the process or device went away).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Linux reports utime/stime in USER_HZ ticks, which is 100 on every architecture Linux
 * exposes to user space (the kernel converts from its internal HZ). Node has no sysconf.
 */
export const USER_HZ = 100;

/**
 * CPU seconds (user + system) and the start time (field 22, clock ticks since boot: the
 * process's identity together with the pid) from /proc/PID/stat or /proc/PID/task/TID/stat.
 */
export function parseStat(text: string): { cpuSeconds: number; startTime: string } | undefined {
  // Field 2 (comm) is in parentheses and may contain spaces or ')': split after the last one.
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15, starttime 22.
  const [u, s, startTime] = [rest[11], rest[12], rest[19]];
  if (!u || !s || !startTime || !/^\d+$/.test(u) || !/^\d+$/.test(s)) return undefined;
  return { cpuSeconds: (Number(u) + Number(s)) / USER_HZ, startTime };
}

/** CPU seconds (user + system) from the text of /proc/PID/stat or /proc/PID/task/TID/stat. */
export function parseStatCpuSeconds(text: string): number | undefined {
  return parseStat(text)?.cpuSeconds;
}

/** Resident set size in bytes from the text of /proc/PID/status (VmRSS, in kB). */
export function parseStatusRssBytes(text: string): number | undefined {
  const m = /^VmRSS:\s+(\d+)\s*kB/m.exec(text);
  return m ? Number(m[1]) * 1024 : undefined;
}

/** MemTotal and MemAvailable in bytes from the text of /proc/meminfo. */
export function parseMemInfo(text: string): { totalBytes?: number; availableBytes?: number } {
  const field = (name: string) => {
    const m = new RegExp(`^${name}:\\s+(\\d+)\\s*kB`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const out: { totalBytes?: number; availableBytes?: number } = {};
  const total = field('MemTotal');
  const available = field('MemAvailable');
  if (total !== undefined) out.totalBytes = total;
  if (available !== undefined) out.availableBytes = available;
  return out;
}

/**
 * procfs and sysfs files are generated in memory by the kernel (no disk I/O), and these ones
 * take no lock a busy process could hold for long: a synchronous read costs ~15 µs of CPU
 * here, against ~140 µs for fs/promises' readFile (several thread-pool round trips).
 */
async function readText(path: string): Promise<string | undefined> {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** CPU seconds and start time of a process (see parseStat). */
export async function readProcessStat(pid: number, procRoot = '/proc'): Promise<{ cpuSeconds: number; startTime: string } | undefined> {
  const text = await readText(join(procRoot, String(pid), 'stat'));
  return text === undefined ? undefined : parseStat(text);
}

export async function readProcessCpuSeconds(pid: number, procRoot = '/proc'): Promise<number | undefined> {
  const text = await readText(join(procRoot, String(pid), 'stat'));
  return text === undefined ? undefined : parseStatCpuSeconds(text);
}

export async function readThreadCpuSeconds(pid: number, tid: number, procRoot = '/proc'): Promise<number | undefined> {
  const text = await readText(join(procRoot, String(pid), 'task', String(tid), 'stat'));
  return text === undefined ? undefined : parseStatCpuSeconds(text);
}

export async function readRssBytes(pid: number, procRoot = '/proc'): Promise<number | undefined> {
  const text = await readText(join(procRoot, String(pid), 'status'));
  return text === undefined ? undefined : parseStatusRssBytes(text);
}

export async function readHostMemInfo(procRoot = '/proc'): Promise<{ totalBytes?: number; availableBytes?: number }> {
  const text = await readText(join(procRoot, 'meminfo'));
  return text === undefined ? {} : parseMemInfo(text);
}

/** The host side's counters of a tap device. */
export interface TapCounters {
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
}

/** /sys/class/net/TAP/statistics, or undefined if the device is gone. */
export async function readTapCounters(tap: string, sysNetRoot = '/sys/class/net'): Promise<TapCounters | undefined> {
  // A tap name is 1-15 of [a-zA-Z0-9_-] (checked when it was made); refuse anything else here too.
  if (!/^[a-zA-Z0-9_-]{1,15}$/.test(tap)) return undefined;
  const dir = join(sysNetRoot, tap, 'statistics');
  const [rxb, txb, rxp, txp] = await Promise.all(['rx_bytes', 'tx_bytes', 'rx_packets', 'tx_packets'].map((f) => readText(join(dir, f))));
  const nums = [rxb, txb, rxp, txp].map((t) => (t === undefined ? NaN : Number(t.trim())));
  if (nums.some((n) => !Number.isFinite(n))) return undefined;
  return { rxBytes: nums[0]!, txBytes: nums[1]!, rxPackets: nums[2]!, txPackets: nums[3]! };
}
