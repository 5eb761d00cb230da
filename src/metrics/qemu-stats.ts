/** Turns QMP replies (query-blockstats, the balloon's guest-stats) into sample fields. Pure. */
import type { DiskCounters, GuestMemory } from './types.js';

interface BlockStatsEntry {
  device?: string;
  'node-name'?: string;
  qdev?: string;
  stats?: Record<string, unknown>;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * The device a block backend belongs to. With -blockdev, `device` is empty and `qdev` is the
 * device's QOM path: `/machine/peripheral/disk0/virtio-backend` → `disk0`.
 */
export function blockDeviceName(e: BlockStatsEntry): string | undefined {
  const m = /^\/machine\/peripheral\/([^/]+)(\/|$)/.exec(e.qdev ?? '');
  if (m) return m[1];
  if (e.device) return e.device;
  const node = e['node-name'];
  return node && !node.startsWith('#') ? node : undefined;
}

/** query-blockstats → one entry per guest-visible disk (backends without a device are skipped). */
export function parseBlockStats(reply: unknown): DiskCounters[] {
  if (!Array.isArray(reply)) return [];
  const out: DiskCounters[] = [];
  for (const raw of reply as BlockStatsEntry[]) {
    const device = blockDeviceName(raw);
    const s = raw.stats;
    if (device === undefined || !s) continue;
    out.push({
      device,
      readBytes: num(s.rd_bytes) ?? 0,
      writeBytes: num(s.wr_bytes) ?? 0,
      readOps: num(s.rd_operations) ?? 0,
      writeOps: num(s.wr_operations) ?? 0,
      flushOps: num(s.flush_operations) ?? 0,
    });
  }
  return out;
}

/**
 * qom-get guest-stats of the balloon → guest memory, or undefined until the guest has reported
 * (last-update 0). A statistic the guest does not provide is left out.
 */
export function parseGuestStats(reply: unknown): GuestMemory | undefined {
  if (typeof reply !== 'object' || reply === null) return undefined;
  const r = reply as { stats?: Record<string, unknown>; 'last-update'?: unknown };
  const lastUpdate = num(r['last-update']);
  if (!lastUpdate || !r.stats) return undefined;
  const out: GuestMemory = { lastUpdate };
  const pick = (key: string, field: Exclude<keyof GuestMemory, 'lastUpdate'>) => {
    const v = num(r.stats![key]);
    // QEMU reports a statistic the guest never sent as -1 in a uint64: 2^64 - 1 (or -1 in older versions).
    if (v !== undefined && v >= 0 && v < 2 ** 63) out[field] = v;
  };
  pick('stat-total-memory', 'totalBytes');
  pick('stat-free-memory', 'freeBytes');
  pick('stat-available-memory', 'availableBytes');
  pick('stat-disk-caches', 'diskCachesBytes');
  pick('stat-swap-in', 'swapInBytes');
  pick('stat-swap-out', 'swapOutBytes');
  pick('stat-major-faults', 'majorFaults');
  pick('stat-minor-faults', 'minorFaults');
  return out;
}

/** query-cpus-fast → vCPU index and host thread id. */
export function parseCpuThreads(reply: unknown): { index: number; threadId: number }[] {
  if (!Array.isArray(reply)) return [];
  const out: { index: number; threadId: number }[] = [];
  for (const c of reply as Record<string, unknown>[]) {
    const index = num(c['cpu-index']);
    const threadId = num(c['thread-id']);
    if (index !== undefined && threadId !== undefined) out.push({ index, threadId });
  }
  return out;
}
