import { afterEach, describe, expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import type { VmSpec } from '../model/spec.js';
import { QmpClient } from '../qmp/index.js';
import { FakeMonitor, type ReceivedCommand } from '../qmp/fake-monitor.js';
import type { LiveResources } from '../resources/live.js';
import type { VmRecord } from '../store/store.js';
import type { HostInfo } from './capacity.js';
import { applyLiveActions } from './settings-apply.js';
import { planSettings, type SettingsContext, type VmSettings } from './settings-plan.js';
import { toView } from './view.js';

const host: HostInfo = { cpus: 8, memoryMiB: 16384, cpuOvercommit: 4, memoryOvercommit: 1, reservedMemoryMiB: 1024 };

function spec(over: Partial<VmSpec> = {}): VmSpec {
  return {
    name: 'web', machine: 'q35', cpuModel: 'max', cpus: 2, memoryMiB: 512, maxCpus: 4, maxMemoryMiB: 1024, boot: { kind: 'disk' }, nics: [],
    disks: [
      { id: 'disk0', path: '/p/web-root.qcow2', format: 'qcow2', readOnly: false, bootIndex: 0, volume: { pool: 'default', name: 'web-root' } },
      { id: 'disk1', path: '/p/data.qcow2', format: 'qcow2', readOnly: false, iops: 100 },
    ],
    balloon: true, rng: true, vnc: false, ...over,
  };
}

/** What a guest started from `s` has. */
function liveOf(s: VmSpec): LiveResources {
  return { cpus: s.cpus, maxCpus: s.maxCpus ?? s.cpus, memoryMiB: s.memoryMiB, pluggedMiB: s.memoryMiB, maxMemoryMiB: s.maxMemoryMiB ?? s.memoryMiB, dimms: 0 };
}

function ctx(s: VmSpec, over: Partial<SettingsContext> = {}): SettingsContext {
  return { name: 'web', host, preview: s, cgroupVersion: 2, ...over };
}

const running = { run: { accel: 'tcg', iothreads: 0 } };

function refusal(fn: () => unknown): HangarError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HangarError);
    return e as HangarError;
  }
  throw new Error('expected a refusal');
}

describe('planSettings on a stopped VM', () => {
  it('stores cpus and memory for the next start, with no live action', () => {
    const s = spec();
    const plan = planSettings(s, { cpus: 6, memory: '2G' }, undefined, ctx(s));
    expect(plan.liveActions).toEqual([]);
    expect(plan.changes).toEqual([
      { key: 'memory', value: 2048, applied: 'next-start' },
      { key: 'cpus', value: 6, applied: 'next-start' },
    ]);
    // Ceilings follow the new sizes up.
    expect(plan.spec).toMatchObject({ cpus: 6, maxCpus: 6, memoryMiB: 2048, maxMemoryMiB: 2048 });
    // Only the project quota is asked: nothing runs, so nothing needs host room now.
    expect(plan.checks).toEqual([{ kind: 'quota', cpus: 4, memoryMiB: 1536 }]);
  });

  it('leaves the given spec as it was', () => {
    const s = spec();
    const before = structuredClone(s);
    planSettings(s, { cpus: 3, cpuLimit: '50%', disks: { disk1: { iops: 0 } }, autostart: true }, undefined, ctx(s));
    expect(s).toEqual(before);
  });

  it('stores cpu limit and weight without touching a cgroup', () => {
    const s = spec();
    const plan = planSettings(s, { cpuLimit: '150%', cpuWeight: 200 }, undefined, ctx(s));
    expect(plan.spec).toMatchObject({ cpuLimitPercent: 150, cpuWeight: 200 });
    expect(plan.liveActions).toEqual([]);
    expect(plan.changes).toEqual([
      { key: 'cpuLimit', value: 150, applied: 'next-start' },
      { key: 'cpuWeight', value: 200, applied: 'next-start' },
    ]);
    const lifted = planSettings({ ...s, cpuLimitPercent: 150 }, { cpuLimit: 'none' }, undefined, ctx(s));
    expect(lifted.spec.cpuLimitPercent).toBeUndefined();
    expect(lifted.changes).toEqual([{ key: 'cpuLimit', value: null, applied: 'next-start' }]);
  });

  it('sets and lifts disk throttles by device id or volume name', () => {
    const s = spec();
    const plan = planSettings(s, { disks: { 'web-root': { iops: 500, bps: '10M' }, disk1: { iops: null } } }, undefined, ctx(s));
    expect(plan.spec.disks[0]).toMatchObject({ iops: 500, bps: 10 * 2 ** 20 });
    expect(plan.spec.disks[1]!.iops).toBeUndefined();
    expect(plan.changes).toEqual([
      { key: 'disk.web-root', value: { iops: 500, bps: 10 * 2 ** 20 }, applied: 'next-start' },
      { key: 'disk.disk1', value: { iops: 0, bps: 0 }, applied: 'next-start' },
    ]);
  });

  it('reports policies as live (they are the daemon\'s, not the guest\'s)', () => {
    const s = spec();
    const plan = planSettings(s, { autostart: true, autostartOrder: 2, restart: 'always' }, undefined, ctx(s));
    expect(plan.spec.autostart).toEqual({ order: 2, delaySeconds: 0 });
    expect(plan.changes.map((c) => [c.key, c.applied, c.note])).toEqual([['autostart', 'live', 'policy'], ['restart', 'live', 'policy']]);
  });
});

describe('planSettings on a running VM', () => {
  it('plugs vCPUs and memory live within this run\'s ceilings, memory first', () => {
    const s = spec();
    const plan = planSettings(s, { cpus: 4, memory: 768 }, liveOf(s), ctx(s, running));
    expect(plan.liveActions.map((a) => a.kind)).toEqual(['memory', 'cpus', 'threads']);
    expect(plan.changes).toEqual([
      { key: 'memory', value: 768, applied: 'live', note: 'hot-plugged' },
      { key: 'cpus', value: 4, applied: 'live' },
    ]);
    // Growing a running guest needs room on the host beside the other guests.
    expect(plan.checks).toEqual([
      { kind: 'quota', cpus: 2, memoryMiB: 256 },
      { kind: 'capacity', cpus: 0, memoryMiB: 256 },
      { kind: 'capacity', cpus: 2, memoryMiB: 0 },
    ]);
  });

  it('shrinks memory through the balloon', () => {
    const s = spec();
    const plan = planSettings(s, { memory: 256 }, liveOf(s), ctx(s, running));
    expect(plan.changes).toEqual([{ key: 'memory', value: 256, applied: 'live', note: 'balloon' }]);
    expect(plan.checks).toEqual([{ kind: 'quota', cpus: 0, memoryMiB: 0 }]);
  });

  it('keeps what is above this run\'s ceilings for the next start, and the view says it is pending', () => {
    const s = spec();
    const live = liveOf(s);
    const plan = planSettings(s, { cpus: 6, memory: '2G' }, live, ctx(s, running));
    expect(plan.liveActions.map((a) => a.kind)).toEqual(['threads']);
    expect(plan.changes).toEqual([
      { key: 'memory', value: 2048, applied: 'next-start', note: 'above this run\'s maximum of 1024 MiB (set max-memory, then restart)' },
      { key: 'cpus', value: 6, applied: 'next-start', note: 'above this run\'s maximum of 4 (set max-cpus, then restart)' },
    ]);
    const rec: VmRecord = {
      id: 'abc', name: 'web', spec: plan.spec, state: 'running', createdAt: '', updatedAt: '',
      runtime: { pid: 1, pidStartTime: '1', qmpSocket: '/q', serialSocket: '/s', startedAt: '', accel: 'tcg', live },
    };
    const view = toView(rec);
    expect(view.pending).toEqual(['cpus', 'memory', 'maxCpus', 'maxMemory']);
    expect(view.live).toEqual({ cpus: 2, memory: 512 });
  });

  it('sets the cpu limit through the cgroup, or stores it where the host has none', () => {
    const s = spec();
    const plan = planSettings(s, { cpuLimit: 50 }, liveOf(s), ctx(s, running));
    expect(plan.liveActions).toEqual([{ kind: 'cpu-limit', key: 'cpuLimit', percent: 50 }]);
    expect(plan.changes).toEqual([{ key: 'cpuLimit', value: 50, applied: 'live', note: 'cgroup v2' }]);
    const none = planSettings(s, { cpuLimit: 50 }, liveOf(s), ctx(s, { ...running, cgroupVersion: undefined }));
    expect(none.liveActions).toEqual([]);
    expect(none.changes).toEqual([{ key: 'cpuLimit', value: 50, applied: 'next-start', note: 'this host has no cpu cgroup controller: stored, not enforced' }]);
  });

  it('throttles disks live, on the bus the machine has', () => {
    const s = spec();
    const plan = planSettings(s, { disks: { disk1: { bps: '1M' } } }, liveOf(s), ctx(s, running));
    expect(plan.liveActions).toEqual([{ kind: 'disk-throttle', key: 'disk.disk1', device: 'disk1', iops: 100, bps: 2 ** 20, bus: 'pci' }]);
    expect(plan.changes).toEqual([{ key: 'disk.disk1', value: { iops: 100, bps: 2 ** 20 }, applied: 'live' }]);
    const micro = spec({ machine: 'microvm' });
    const mmio = planSettings(micro, { disks: { disk1: { bps: '1M' } } }, liveOf(micro), ctx(micro, running));
    expect(mmio.liveActions[0]).toMatchObject({ bus: 'mmio' });
  });

  it('applies pins live (taskset) and placement at the next start', () => {
    const s = spec();
    const preview = { ...s, pin: { vcpus: { 0: [1], 1: [2] } }, iothreads: 2 };
    const plan = planSettings(s, { pin: { vcpus: { 0: '1', 1: '2' } }, iothreads: 2 } as VmSettings, liveOf(s), ctx(s, { ...running, preview }));
    expect(plan.liveActions).toEqual([{ kind: 'threads', withIothreads: false, pin: preview.pin, applyPins: true }]);
    expect(plan.changes).toEqual([
      { key: 'pin', value: { vcpus: { 0: '1', 1: '2' } }, applied: 'live', note: 'taskset' },
      { key: 'iothreads', value: 2, applied: 'next-start', note: 'at the next start' },
    ]);
    expect(plan.spec).toMatchObject({ pin: preview.pin, iothreads: 2 });
  });
});

describe('planSettings refuses', () => {
  const s = spec();
  it.each<[string, VmSettings]>([
    ['cpus 0', { cpus: 0 }],
    ['memory that is no size', { memory: 'lots' }],
    ['a cpu limit that is no percentage', { cpuLimit: 'fast' }],
    ['a weight out of range', { cpuWeight: 0 }],
    ['an unknown disk', { disks: { disk9: { iops: 10 } } }],
    ['negative iops', { disks: { disk1: { iops: -1 } } }],
    ['an unknown restart mode', { restart: 'sometimes' as never }],
  ])('%s with INVALID_SPEC, before any live action', (_what, settings) => {
    const e = refusal(() => planSettings(s, { cpuLimit: 80, ...settings }, liveOf(s), ctx(s, running)));
    expect(e.code).toBe('INVALID_SPEC');
  });

  it('a VM bigger than the host with HOST_CAPACITY', () => {
    expect(refusal(() => planSettings(s, { memory: '64G' }, undefined, ctx(s))).code).toBe('HOST_CAPACITY');
    expect(refusal(() => planSettings(s, { cpus: 64 }, undefined, ctx(s))).code).toBe('HOST_CAPACITY');
  });
});

describe('applyLiveActions against a monitor', () => {
  const clients: QmpClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  /** A fake QEMU answering each command with `answer` (undefined: an empty return). */
  async function guest(answer: (cmd: ReceivedCommand) => unknown): Promise<{ qmp: QmpClient; monitor: FakeMonitor }> {
    const monitor = new FakeMonitor();
    const qmp = await QmpClient.fromStream(monitor.clientSide!);
    clients.push(qmp);
    void (async () => {
      for (;;) {
        const cmd = await monitor.nextCommand();
        monitor.reply(cmd, answer(cmd) ?? {});
      }
    })();
    return { qmp, monitor };
  }

  const cpuSlots = (plugged: number, total: number) =>
    Array.from({ length: total }, (_, i) => ({
      type: 'max-x86_64-cpu', 'vcpus-count': 1, props: { 'socket-id': i, 'core-id': 0, 'thread-id': 0 },
      ...(i < plugged && { 'qom-path': `/machine/unattached/device[${i}]` }),
    }));

  it('plugs, balloons and throttles in the plan\'s order and returns what the guest has', async () => {
    const s = spec();
    const { qmp, monitor } = await guest((cmd) => {
      if (cmd.execute === 'query-hotpluggable-cpus') return cpuSlots(2, 4);
      if (cmd.execute === 'query-cpus-fast') return [0, 1, 2].map((i) => ({ 'cpu-index': i, 'thread-id': 100 + i }));
      return undefined;
    });
    const plan = planSettings(s, { memory: 384, cpus: 3, disks: { disk0: { iops: 50 } } }, liveOf(s), ctx(s, running));
    const done = await applyLiveActions(plan, { qmp, pid: 1, vmId: 'abc', live: liveOf(s) });
    expect(monitor.commands.map((c) => c.execute).filter((c) => c !== 'qmp_capabilities')).toEqual([
      'balloon', 'query-hotpluggable-cpus', 'device_add', 'query-cpus-fast', 'block_set_io_throttle',
    ]);
    expect(monitor.commands.find((c) => c.execute === 'balloon')!.arguments).toEqual({ value: 384 * 2 ** 20 });
    expect(monitor.commands.find((c) => c.execute === 'block_set_io_throttle')!.arguments).toMatchObject({ id: '/machine/peripheral/disk0/virtio-backend', iops: 50 });
    expect(done.live).toMatchObject({ cpus: 3, memoryMiB: 384 });
    expect(done.threads).toEqual({ vcpus: { 0: 100, 1: 101, 2: 102 }, iothreads: {} });
    expect(done.changes).toEqual(plan.changes);
  });

  it('says "next start" for vCPUs the guest cannot give back', async () => {
    const s = spec({ cpus: 4 });
    // Four boot vCPUs: none of them can be unplugged.
    const { qmp } = await guest((cmd) => (cmd.execute === 'query-hotpluggable-cpus' ? cpuSlots(4, 4) : cmd.execute === 'query-cpus-fast' ? [] : undefined));
    const plan = planSettings(s, { cpus: 2 }, liveOf(s), ctx(s, running));
    expect(plan.changes).toEqual([{ key: 'cpus', value: 2, applied: 'live' }]);
    const done = await applyLiveActions(plan, { qmp, pid: 1, vmId: 'abc', live: liveOf(s) });
    expect(done.live.cpus).toBe(4);
    expect(done.changes).toEqual([{ key: 'cpus', value: 2, applied: 'next-start', note: 'the guest has 4: boot vCPUs cannot be unplugged' }]);
  });
});
