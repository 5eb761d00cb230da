import { describe, expect, it } from 'vitest';
import { blockDeviceName, parseBlockStats, parseCpuThreads, parseGuestStats } from './qemu-stats.js';

describe('QMP replies → sample fields', () => {
  it('query-blockstats: one entry per device, named by its qdev id', () => {
    // Abridged from QEMU 7.2 with -blockdev (device is empty; qdev names the virtio device).
    const reply = [
      { device: '', 'node-name': 'disk0', qdev: '/machine/peripheral/disk0/virtio-backend', stats: { rd_bytes: 4608, wr_bytes: 1024, rd_operations: 2, wr_operations: 1, flush_operations: 3, account_invalid: true }, parent: { stats: { rd_bytes: 0 } } },
      { device: '', 'node-name': 'seed', qdev: '/machine/peripheral/seed/virtio-backend', stats: { rd_bytes: 10, wr_bytes: 0, rd_operations: 1, wr_operations: 0, flush_operations: 0 } },
      { device: '', 'node-name': '#block123', stats: { rd_bytes: 1 } },
    ];
    expect(parseBlockStats(reply)).toEqual([
      { device: 'disk0', readBytes: 4608, writeBytes: 1024, readOps: 2, writeOps: 1, flushOps: 3 },
      { device: 'seed', readBytes: 10, writeBytes: 0, readOps: 1, writeOps: 0, flushOps: 0 },
    ]);
    expect(blockDeviceName({ device: 'drive-virtio0' })).toBe('drive-virtio0');
    expect(parseBlockStats({ not: 'an array' })).toEqual([]);
  });

  it('guest-stats: bytes the guest reported; unsent statistics (2^64-1 or -1) left out; nothing before the first report', () => {
    const u64minus1 = 2 ** 64 - 1;
    expect(parseGuestStats({
      stats: { 'stat-total-memory': 227950592, 'stat-free-memory': 194142208, 'stat-available-memory': 197599232, 'stat-disk-caches': 3633152, 'stat-swap-in': 0, 'stat-swap-out': u64minus1, 'stat-major-faults': -1, 'stat-minor-faults': 2437, 'stat-htlb-pgalloc': 0 },
      'last-update': 1795665161,
    })).toEqual({ lastUpdate: 1795665161, totalBytes: 227950592, freeBytes: 194142208, availableBytes: 197599232, diskCachesBytes: 3633152, swapInBytes: 0, minorFaults: 2437 });
    expect(parseGuestStats({ stats: { 'stat-total-memory': u64minus1 }, 'last-update': 0 })).toBeUndefined();
    expect(parseGuestStats(undefined)).toBeUndefined();
  });

  it('query-cpus-fast: vCPU index and thread id', () => {
    expect(parseCpuThreads([{ 'thread-id': 8707, props: { 'core-id': 0 }, 'qom-path': '/machine/unattached/device[0]', 'cpu-index': 0, target: 'x86_64' }])).toEqual([{ index: 0, threadId: 8707 }]);
    expect(parseCpuThreads(null)).toEqual([]);
  });
});
