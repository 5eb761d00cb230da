import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QmpError, QmpTimeoutError } from '../qmp/index.js';
import type { VmRecord } from '../store/store.js';
import { MetricsSampler, type Monitor } from './sampler.js';

const stat = (ticks: number, start = '5') => `100 (qemu) S 1 1 1 0 -1 0 0 0 0 0 ${ticks} 0 0 0 20 0 6 0 ${start} 1 1 1`;

class FakeMonitor implements Monitor {
  closed = false;
  calls: string[] = [];
  blockstats = [{ device: '', 'node-name': 'disk0', qdev: '/machine/peripheral/disk0/virtio-backend', stats: { rd_bytes: 4096, wr_bytes: 0, rd_operations: 2, wr_operations: 0, flush_operations: 0 } }];
  balloonActive = true;
  hang = false;
  async execute<T>(command: string, args?: Record<string, unknown>): Promise<T> {
    this.calls.push(args?.property ? `${command}:${String(args.property)}` : command);
    if (this.hang) throw new QmpTimeoutError(`${command} timed out`);
    switch (command) {
      case 'query-blockstats': return this.blockstats as T;
      case 'query-balloon':
        if (!this.balloonActive) throw new QmpError(command, 'DeviceNotActive', 'No balloon device has been activated');
        return { actual: 256 * 2 ** 20 } as T;
      case 'query-cpus-fast': return [{ 'cpu-index': 0, 'thread-id': 101 }, { 'cpu-index': 1, 'thread-id': 102 }] as T;
      case 'qom-set': return {} as T;
      case 'qom-get': return { stats: { 'stat-total-memory': 200, 'stat-free-memory': 100, 'stat-swap-in': -1 }, 'last-update': 1234 } as T;
      default: throw new Error(`unexpected ${command}`);
    }
  }
}

describe('MetricsSampler', () => {
  let dir: string;
  let now: number;
  let records: VmRecord[];
  let monitor: FakeMonitor | undefined;

  const proc = () => join(dir, 'proc');
  function writeProc(ticks: number, start = '5') {
    mkdirSync(join(proc(), '100', 'task', '101'), { recursive: true });
    mkdirSync(join(proc(), '100', 'task', '102'), { recursive: true });
    writeFileSync(join(proc(), '100', 'stat'), stat(ticks, start));
    writeFileSync(join(proc(), '100', 'task', '101', 'stat'), stat(ticks / 2, start));
    writeFileSync(join(proc(), '100', 'task', '102', 'stat'), stat(ticks / 4, start));
    writeFileSync(join(proc(), '100', 'status'), 'VmRSS:\t2048 kB\n');
  }
  function record(over: Partial<VmRecord> = {}): VmRecord {
    return {
      id: 'id1', name: 'web1', state: 'running', createdAt: '', updatedAt: '',
      spec: {
        name: 'web1', machine: 'q35', cpuModel: 'max', cpus: 2, memoryMiB: 256, boot: { kind: 'disk' }, disks: [], balloon: true, rng: true, vnc: false,
        nics: [{ id: 'net0', kind: 'user', mac: '52:54:00:00:00:01', forwards: [] }, { id: 'net1', kind: 'network', mac: '52:54:00:00:00:02', forwards: [], network: 'lan', tap: 'hgt1' }],
      },
      runtime: { pid: 100, pidStartTime: '5', qmpSocket: '', serialSocket: '', startedAt: '', accel: 'tcg' },
      ...over,
    };
  }
  function sampler(opts: { interval?: number; history?: number } = {}) {
    return new MetricsSampler(
      { listVms: async () => records, monitor: () => monitor },
      { intervalSeconds: opts.interval ?? 5, historySeconds: opts.history ?? 3600, procRoot: proc(), sysNetRoot: join(dir, 'net'), now: () => now, qmpTimeoutMs: 100 },
    );
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hangar-sampler-'));
    now = 1_000_000;
    writeProc(200);
    const stats = join(dir, 'net', 'hgt1', 'statistics');
    mkdirSync(stats, { recursive: true });
    for (const [f, v] of [['rx_bytes', '1000'], ['tx_bytes', '5000'], ['rx_packets', '10'], ['tx_packets', '50']]) writeFileSync(join(stats, f!), v!);
    records = [record()];
    monitor = new FakeMonitor();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('samples CPU, RSS, vCPU threads, disks, the balloon, guest memory and taps', async () => {
    const s = sampler();
    await s.tick();
    expect(s.latest('id1')).toEqual({
      t: 1_000_000, state: 'running', run: '100:5', cpuSeconds: 2, rssBytes: 2048 * 1024,
      vcpus: [{ index: 0, cpuSeconds: 1 }, { index: 1, cpuSeconds: 0.5 }],
      disks: [{ device: 'disk0', readBytes: 4096, writeBytes: 0, readOps: 2, writeOps: 0, flushOps: 0 }],
      balloonActualBytes: 256 * 2 ** 20,
      guestMemory: { totalBytes: 200, freeBytes: 100, lastUpdate: 1234 },
      // The guest's view: what the tap transmits, the guest receives.
      nics: [{ nic: 'net1', tap: 'hgt1', rxBytes: 5000, txBytes: 1000, rxPackets: 50, txPackets: 10 }],
    });
    expect(monitor!.calls).toContain('qom-set:guest-stats-polling-interval');
    expect(s.stats).toMatchObject({ ticks: 1, samples: 1, errors: 0 });
  });

  it('sets the balloon polling interval once per connection, and re-reads vCPU threads only now and then', async () => {
    const s = sampler();
    await s.tick();
    await s.tick();
    await s.tick();
    expect(monitor!.calls.filter((c) => c === 'qom-set:guest-stats-polling-interval')).toHaveLength(1);
    expect(monitor!.calls.filter((c) => c === 'query-cpus-fast')).toHaveLength(1);
    monitor = new FakeMonitor(); // reconnected (e.g. the daemon re-adopted the VM)
    await s.tick();
    expect(monitor.calls).toContain('qom-set:guest-stats-polling-interval');
  });

  it('keeps a bounded history, answers `since`, and hands back the sample before it', async () => {
    const s = sampler({ interval: 5, history: 20 }); // 5 samples kept
    expect(s.capacity).toBe(5);
    for (let i = 0; i < 8; i++) {
      writeProc(200 + i * 100);
      await s.tick();
      now += 5000;
    }
    const all = s.history('id1');
    expect(all.samples.map((x) => x.cpuSeconds)).toEqual([5, 6, 7, 8, 9]);
    expect(all.before).toBeUndefined();
    const recent = s.history('id1', 1_000_000 + 6 * 5000);
    expect(recent.samples.map((x) => x.cpuSeconds)).toEqual([8, 9]);
    expect(recent.before?.cpuSeconds).toBe(7);
    expect(s.history('nope')).toEqual({ samples: [] });
  });

  it('tolerates a guest without a balloon driver, and counts monitor timeouts as errors', async () => {
    monitor!.balloonActive = false;
    const s = sampler();
    await s.tick();
    expect(s.latest('id1')?.balloonActualBytes).toBeUndefined();
    expect(s.latest('id1')?.cpuSeconds).toBe(2);
    expect(s.stats.errors).toBe(0);
    monitor!.hang = true;
    await s.tick();
    expect(s.latest('id1')?.disks).toBeUndefined();
    expect(s.latest('id1')?.rssBytes).toBe(2048 * 1024);
    expect(s.stats.errors).toBeGreaterThan(0);
  });

  it('samples without a monitor (procfs only), and not at all while starting', async () => {
    monitor = undefined;
    const s = sampler();
    await s.tick();
    expect(s.latest('id1')).toMatchObject({ cpuSeconds: 2, rssBytes: 2048 * 1024 });
    expect(s.latest('id1')?.disks).toBeUndefined();
    records = [record({ id: 'id2', state: 'starting' })];
    await s.tick();
    expect(s.history('id2').samples).toEqual([]);
  });

  it('does not read a process that has replaced the pid', async () => {
    writeProc(200, '999');
    const s = sampler();
    await s.tick();
    expect(s.latest('id1')).toBeUndefined();
    expect(s.history('id1').samples).toEqual([{ t: 1_000_000, state: 'running' }]);
  });

  it('adds one state-only sample when a VM stops, and forgets a deleted VM', async () => {
    const s = sampler();
    await s.tick();
    records = [record({ state: 'stopped', runtime: undefined })];
    now += 5000;
    await s.tick();
    now += 5000;
    await s.tick();
    expect(s.history('id1').samples.map((x) => x.state)).toEqual(['running', 'stopped']);
    expect(s.latest('id1')).toBeUndefined();
    records = [];
    await s.tick();
    expect(s.history('id1')).toEqual({ samples: [] });
  });

  it("reads a warm clone's shared and private template memory from smaps, and stops once a run does not map it", async () => {
    const root = '/var/lib/hangar/templates';
    const smaps = (path: string) => `7f1000000000-7f1020000000 rw-p 00000000 fe:00 4242                       ${path}\nSize:  524288 kB\nRss:  1000 kB\n`
      + 'Shared_Clean:  900 kB\nShared_Dirty:  0 kB\nPrivate_Clean:  40 kB\nPrivate_Dirty:  60 kB\nAnonymous:  60 kB\nVmFlags: rd wr mr mw me ac sd \n';
    writeFileSync(join(proc(), '100', 'smaps'), smaps(`${root}/deb/memory.ram`));
    records = [record({ spec: { ...record().spec, template: 'deb' } }), { ...record(), id: 'id2', name: 'plain' }];
    const s = new MetricsSampler({ listVms: async () => records, monitor: () => undefined }, { intervalSeconds: 5, procRoot: proc(), sysNetRoot: join(dir, 'net'), templatesRoot: root, now: () => now });
    await s.tick();
    expect(s.latest('id1')?.warmMemory).toEqual({ template: 'deb', sharedBytes: 900 * 1024, privateBytes: 100 * 1024, copiedBytes: 60 * 1024 });
    // The same process, but a VM without a template: its smaps is not read.
    expect(s.latest('id2')?.warmMemory).toBeUndefined();
    // A cold start (a new run with a memory file of its own): none, and smaps is not read again for that run.
    writeProc(300, '7');
    writeFileSync(join(proc(), '100', 'smaps'), smaps('/var/lib/hangar/memory/id1.ram'));
    records = [record({ spec: { ...record().spec, template: 'deb' }, runtime: { ...record().runtime!, pidStartTime: '7' } })];
    await s.tick();
    expect(s.latest('id1')?.warmMemory).toBeUndefined();
    writeFileSync(join(proc(), '100', 'smaps'), smaps(`${root}/deb/memory.ram`)); // were it read again, this would count
    await s.tick();
    expect(s.latest('id1')?.cpuSeconds).toBe(3);
    expect(s.latest('id1')?.warmMemory).toBeUndefined();
  });

  it('runs on a timer until stopped; interval 0 disables it', async () => {
    const s = new MetricsSampler({ listVms: async () => records, monitor: () => monitor }, { intervalSeconds: 0.05, procRoot: proc(), sysNetRoot: join(dir, 'net') });
    s.start();
    await new Promise((r) => setTimeout(r, 180));
    await s.stop();
    const ticks = s.stats.ticks;
    expect(ticks).toBeGreaterThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 120));
    expect(s.stats.ticks).toBe(ticks);
    const off = new MetricsSampler({ listVms: async () => records, monitor: () => monitor }, { intervalSeconds: 0 });
    expect(off.enabled).toBe(false);
    off.start();
    await off.stop();
    expect(off.stats.ticks).toBe(0);
  });
});
