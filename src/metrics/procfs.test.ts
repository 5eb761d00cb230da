import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseMemInfo, parseStatCpuSeconds, parseStatusRssBytes, readProcessCpuSeconds, readRssBytes, readTapCounters, readThreadCpuSeconds } from './procfs.js';

const STAT = '4242 (qemu-system-x86) S 1 4242 4242 0 -1 4194624 26001 0 0 0 1234 567 0 0 20 0 6 0 1817045 1468534784 63614 18446744073709551615 1 1 0 0 0 0 0 4096 17987 0 0 0 17 1 0 0 0 0 0';

describe('procfs parsers', () => {
  it('reads utime + stime in USER_HZ ticks as seconds', () => {
    expect(parseStatCpuSeconds(STAT)).toBeCloseTo(18.01, 5);
  });

  it('is not fooled by spaces or parentheses in the command name', () => {
    expect(parseStatCpuSeconds(STAT.replace('(qemu-system-x86)', '(a) b (c)'))).toBeCloseTo(18.01, 5);
    expect(parseStatCpuSeconds('garbage')).toBeUndefined();
    expect(parseStatCpuSeconds('1 (x) S 1')).toBeUndefined();
  });

  it('reads VmRSS and meminfo in bytes', () => {
    expect(parseStatusRssBytes('Name:\tqemu\nVmPeak:\t 100 kB\nVmRSS:\t  254456 kB\nThreads:\t6\n')).toBe(254456 * 1024);
    expect(parseStatusRssBytes('Name:\tkthread\n')).toBeUndefined();
    expect(parseMemInfo('MemTotal:       24575276 kB\nMemFree:         1 kB\nMemAvailable:   20000000 kB\n')).toEqual({ totalBytes: 24575276 * 1024, availableBytes: 20000000 * 1024 });
  });
});

describe('procfs and sysfs readers', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('read a process, its threads and a tap from (fake) /proc and /sys; missing ones are undefined', async () => {
    dir = mkdtempSync(join(tmpdir(), 'hangar-procfs-'));
    mkdirSync(join(dir, 'proc', '4242', 'task', '4250'), { recursive: true });
    writeFileSync(join(dir, 'proc', '4242', 'stat'), STAT);
    writeFileSync(join(dir, 'proc', '4242', 'task', '4250', 'stat'), STAT.replace(' 1234 567 ', ' 100 50 '));
    writeFileSync(join(dir, 'proc', '4242', 'status'), 'VmRSS:\t 1000 kB\n');
    const stats = join(dir, 'net', 'hgtap0', 'statistics');
    mkdirSync(stats, { recursive: true });
    for (const [f, v] of [['rx_bytes', '1000'], ['tx_bytes', '2000'], ['rx_packets', '10'], ['tx_packets', '20']]) writeFileSync(join(stats, f!), `${v}\n`);
    const proc = join(dir, 'proc');
    expect(await readProcessCpuSeconds(4242, proc)).toBeCloseTo(18.01, 5);
    expect(await readThreadCpuSeconds(4242, 4250, proc)).toBeCloseTo(1.5, 5);
    expect(await readRssBytes(4242, proc)).toBe(1000 * 1024);
    expect(await readProcessCpuSeconds(1, proc)).toBeUndefined();
    expect(await readTapCounters('hgtap0', join(dir, 'net'))).toEqual({ rxBytes: 1000, txBytes: 2000, rxPackets: 10, txPackets: 20 });
    expect(await readTapCounters('missing', join(dir, 'net'))).toBeUndefined();
    expect(await readTapCounters('../../etc', join(dir, 'net'))).toBeUndefined();
  });
});
