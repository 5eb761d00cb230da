/**
 * History points for GET /v1/vms/:name/metrics: each sample's raw counters plus per-second
 * rates over the interval since the previous sample of the same QEMU process. Pure.
 */
import type { VmState } from '../model/states.js';
import type { DiskCounters, GuestMemory, NicCounters, VmSample } from './types.js';

export interface DiskPoint extends DiskCounters {
  readBytesPerSecond?: number;
  writeBytesPerSecond?: number;
  readOpsPerSecond?: number;
  writeOpsPerSecond?: number;
}

export interface NicPoint extends NicCounters {
  rxBytesPerSecond?: number;
  txBytesPerSecond?: number;
  rxPacketsPerSecond?: number;
  txPacketsPerSecond?: number;
}

export interface HistoryPoint {
  time: string;
  state: VmState;
  cpuSeconds?: number;
  /** CPU seconds per second over the interval: 1 = one host CPU busy. */
  cpuUsage?: number;
  vcpus?: { index: number; cpuSeconds: number; usage?: number }[];
  rssBytes?: number;
  balloonActualBytes?: number;
  guestMemory?: GuestMemory;
  disks?: DiskPoint[];
  nics?: NicPoint[];
}

/**
 * Per-second rate of a counter between two readings, rounded to 3 decimals; undefined when a
 * reading is missing, no time passed, or the counter went backwards (it was reset).
 */
export function counterRate(prev: number | undefined, cur: number | undefined, seconds: number): number | undefined {
  if (prev === undefined || cur === undefined || !(seconds > 0) || cur < prev) return undefined;
  return Math.round(((cur - prev) / seconds) * 1000) / 1000;
}

function set<T extends object, K extends keyof T>(o: T, key: K, v: T[K] | undefined): void {
  if (v !== undefined) o[key] = v;
}

/** One history point; `prev` is the sample before it (rates need the same QEMU run). */
export function toHistoryPoint(cur: VmSample, prev: VmSample | undefined): HistoryPoint {
  const p: HistoryPoint = { time: new Date(cur.t).toISOString(), state: cur.state };
  const base = prev && prev.run !== undefined && prev.run === cur.run ? prev : undefined;
  const dt = base ? (cur.t - base.t) / 1000 : 0;
  set(p, 'cpuSeconds', cur.cpuSeconds);
  set(p, 'cpuUsage', counterRate(base?.cpuSeconds, cur.cpuSeconds, dt));
  if (cur.vcpus) {
    p.vcpus = cur.vcpus.map((v) => {
      const out: { index: number; cpuSeconds: number; usage?: number } = { index: v.index, cpuSeconds: v.cpuSeconds };
      set(out, 'usage', counterRate(base?.vcpus?.find((b) => b.index === v.index)?.cpuSeconds, v.cpuSeconds, dt));
      return out;
    });
  }
  set(p, 'rssBytes', cur.rssBytes);
  set(p, 'balloonActualBytes', cur.balloonActualBytes);
  set(p, 'guestMemory', cur.guestMemory);
  if (cur.disks) {
    p.disks = cur.disks.map((d) => {
      const b = base?.disks?.find((x) => x.device === d.device);
      const out: DiskPoint = { ...d };
      set(out, 'readBytesPerSecond', counterRate(b?.readBytes, d.readBytes, dt));
      set(out, 'writeBytesPerSecond', counterRate(b?.writeBytes, d.writeBytes, dt));
      set(out, 'readOpsPerSecond', counterRate(b?.readOps, d.readOps, dt));
      set(out, 'writeOpsPerSecond', counterRate(b?.writeOps, d.writeOps, dt));
      return out;
    });
  }
  if (cur.nics) {
    p.nics = cur.nics.map((n) => {
      const b = base?.nics?.find((x) => x.nic === n.nic && x.tap === n.tap);
      const out: NicPoint = { ...n };
      set(out, 'rxBytesPerSecond', counterRate(b?.rxBytes, n.rxBytes, dt));
      set(out, 'txBytesPerSecond', counterRate(b?.txBytes, n.txBytes, dt));
      set(out, 'rxPacketsPerSecond', counterRate(b?.rxPackets, n.rxPackets, dt));
      set(out, 'txPacketsPerSecond', counterRate(b?.txPackets, n.txPackets, dt));
      return out;
    });
  }
  return p;
}

/** History points for `samples` (oldest first); `before` is the sample just before the first, if any. */
export function toHistory(samples: readonly VmSample[], before?: VmSample): HistoryPoint[] {
  return samples.map((s, i) => toHistoryPoint(s, i === 0 ? before : samples[i - 1]));
}
