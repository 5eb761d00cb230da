import { describe, expect, it } from 'vitest';
import { counterRate, toHistory, toHistoryPoint } from './rates.js';
import type { VmSample } from './types.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

function sample(sec: number, over: Partial<VmSample> = {}): VmSample {
  return {
    t: T0 + sec * 1000, state: 'running', run: '100:5', cpuSeconds: 10 + sec * 0.5, rssBytes: 1000,
    vcpus: [{ index: 0, cpuSeconds: 5 + sec * 0.25 }],
    disks: [{ device: 'disk0', readBytes: sec * 4096, writeBytes: 0, readOps: sec, writeOps: 0, flushOps: 0 }],
    nics: [{ nic: 'net1', tap: 'hgt1', rxBytes: sec * 100, txBytes: sec * 50, rxPackets: sec, txPackets: sec }],
    ...over,
  };
}

describe('counterRate', () => {
  it('is the per-second increase, rounded to 3 decimals', () => {
    expect(counterRate(10, 20, 5)).toBe(2);
    expect(counterRate(0, 1, 3)).toBe(0.333);
    expect(counterRate(5, 5, 5)).toBe(0);
  });

  it('is undefined for a reset counter, a missing reading or no elapsed time', () => {
    expect(counterRate(20, 10, 5)).toBeUndefined();
    expect(counterRate(undefined, 10, 5)).toBeUndefined();
    expect(counterRate(10, undefined, 5)).toBeUndefined();
    expect(counterRate(10, 20, 0)).toBeUndefined();
  });
});

describe('history points', () => {
  it('carry counters and rates over the interval since the previous sample', () => {
    const p = toHistoryPoint(sample(10), sample(5));
    expect(p.time).toBe('2026-01-01T00:00:10.000Z');
    expect(p.cpuSeconds).toBe(15);
    expect(p.cpuUsage).toBe(0.5);
    expect(p.vcpus).toEqual([{ index: 0, cpuSeconds: 7.5, usage: 0.25 }]);
    expect(p.disks).toEqual([{ device: 'disk0', readBytes: 40960, writeBytes: 0, readOps: 10, writeOps: 0, flushOps: 0, readBytesPerSecond: 4096, writeBytesPerSecond: 0, readOpsPerSecond: 1, writeOpsPerSecond: 0 }]);
    expect(p.nics?.[0]).toMatchObject({ rxBytesPerSecond: 100, txBytesPerSecond: 50, rxPacketsPerSecond: 1 });
  });

  it('has no rates for the first sample, or across a QEMU restart', () => {
    expect(toHistoryPoint(sample(5), undefined).cpuUsage).toBeUndefined();
    const restarted = toHistoryPoint(sample(10, { run: '200:9', cpuSeconds: 0.2 }), sample(5));
    expect(restarted.cpuUsage).toBeUndefined();
    expect(restarted.disks?.[0]?.readBytesPerSecond).toBeUndefined();
  });

  it('has no rate for a device that was not there before (hot-plugged)', () => {
    const prev = sample(5, { disks: [] });
    expect(toHistoryPoint(sample(10), prev).disks?.[0]?.readBytesPerSecond).toBeUndefined();
  });

  it('a stopped sample carries only its time and state', () => {
    expect(toHistoryPoint({ t: T0, state: 'stopped' }, sample(0))).toEqual({ time: '2026-01-01T00:00:00.000Z', state: 'stopped' });
  });

  it('toHistory chains each sample to the one before it, the first to `before`', () => {
    const h = toHistory([sample(5), sample(10)], sample(0));
    expect(h.map((p) => p.cpuUsage)).toEqual([0.5, 0.5]);
    expect(toHistory([sample(5), sample(10)]).map((p) => p.cpuUsage)).toEqual([undefined, 0.5]);
  });
});
