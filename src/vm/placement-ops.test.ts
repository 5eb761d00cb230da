import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import type { VmRecord } from '../store/store.js';
import { applyPlacementInput, checkBeforeStart, hotplugIothread, pendingPlacement, placementView, previewSettings } from './placement-ops.js';
import { placementOf } from '../model/placement.js';
import type { VmSpec } from '../model/spec.js';

let root: string;
let roots: { sys: string; proc: string; dev: string };

function write(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'hg-place-'));
  roots = { sys: join(root, 'sys'), proc: join(root, 'proc'), dev: join(root, 'dev') };
  write(join(roots.sys, 'devices/system/cpu/online'), '0-3\n');
  write(join(roots.proc, 'meminfo'), 'Hugepagesize:       2048 kB\n');
  const pool = join(roots.sys, 'kernel/mm/hugepages/hugepages-2048kB');
  write(join(pool, 'nr_hugepages'), '100\n');
  write(join(pool, 'free_hugepages'), '100\n');
  write(join(pool, 'resv_hugepages'), '40\n');
  mkdirSync(join(roots.sys, 'kernel/iommu_groups'), { recursive: true });
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

function spec(over: Partial<VmSpec> = {}): VmSpec {
  return {
    name: 'p', machine: 'q35', cpuModel: 'max', cpus: 2, memoryMiB: 128, boot: { kind: 'disk' }, nics: [],
    disks: [{ id: 'disk0', path: '/d0', format: 'qcow2', readOnly: false }], balloon: true, rng: true, vnc: false, ...over,
  };
}

function record(s: VmSpec): VmRecord {
  return { id: 'abc', name: s.name, spec: s, state: 'stopped', createdAt: '', updatedAt: '' };
}

async function refusal(p: Promise<unknown>): Promise<HangarError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(HangarError);
  return e as HangarError;
}

describe('create and set inputs', () => {
  it('fills a new spec from create inputs', async () => {
    const s = spec();
    await applyPlacementInput(s, {
      hugepages: true, numa: [{ cpus: '0', memory: '64M' }, { cpus: [1], memory: 64 }], iothreads: 2, pin: { vcpus: { 0: '3' }, emulator: '0-1' },
    }, { roots });
    expect(s).toMatchObject({
      hugepages: { sizeKiB: 2048 }, numa: [{ cpus: [0], memoryMiB: 64 }, { cpus: [1], memoryMiB: 64 }], iothreads: 2, pin: { vcpus: { 0: [3] }, emulator: [0, 1] },
    });
    expect(placementView(record(s))).toEqual({
      hugepages: '2M', numa: [{ node: 0, cpus: '0', memory: 64 }, { node: 1, cpus: '1', memory: 64 }], iothreads: 2, pin: { vcpus: { 0: '3' }, emulator: '0-1' },
    });
    expect(placementView(record(spec()))).toBeUndefined();
  });

  it('refuses at create what the host cannot do', async () => {
    expect((await refusal(applyPlacementInput(spec(), { pin: { emulator: '7' } }, { roots }))).message).toMatch(/Host CPU\(s\) 7 are not online/);
    expect((await refusal(applyPlacementInput(spec(), { hostdevs: ['0000:01:00.0'] }, { roots }))).code).toBe('HOST_NO_IOMMU');
  });

  it('previews a set: resource changes must keep the NUMA topology valid', async () => {
    const s = spec({ numa: [{ cpus: [0], memoryMiB: 64 }, { cpus: [1], memoryMiB: 64 }] });
    expect((await refusal(previewSettings(s, { memory: '256M' }, { roots }))).message).toMatch(/adds up to 128 MiB, but the VM has 256 MiB/);
    expect((await refusal(previewSettings(s, { cpus: 3 }, { roots }))).message).toMatch(/vCPU\(s\) 2 are in no NUMA node/);
    const next = await previewSettings(s, { memory: '256M', numa: [{ cpus: '0-1', memory: '256M' }] }, { roots });
    expect(next.numa).toEqual([{ cpus: [0, 1], memoryMiB: 256 }]);
    expect((await previewSettings(s, { numa: null, cpus: 4 }, { roots })).numa).toBeUndefined();
  });

  it('previews pins, hugepages, I/O threads and a disk thread', async () => {
    const s = spec({ pin: { vcpus: { 0: [1] } } });
    const next = await previewSettings(s, { pin: { vcpus: { 0: null, 1: '2' }, emulator: '0' }, hugepages: '2M', iothreads: 2, disks: { disk0: { iothread: 'iothread1' } } }, { roots });
    expect(next).toMatchObject({ pin: { vcpus: { 1: [2] }, emulator: [0] }, hugepages: { sizeKiB: 2048 }, iothreads: 2, disks: [{ id: 'disk0', iothread: 'iothread1' }] });
    expect(s.pin).toEqual({ vcpus: { 0: [1] } }); // untouched
    expect((await previewSettings(s, { pin: { vcpus: { 0: null } }, hugepages: false }, { roots })).pin).toBeUndefined();
    expect((await refusal(previewSettings(s, { disks: { disk0: { iothread: 'iothread0' } } }, { roots }))).message).toMatch(/no I\/O threads/);
    expect((await refusal(previewSettings(s, { pin: { vcpus: { 0: '9' } } }, { roots }))).message).toMatch(/not online/);
  });
});

describe('start and running guests', () => {
  it('checks free hugepages before a start, with the numbers', async () => {
    await expect(checkBeforeStart(record(spec({ hugepages: { sizeKiB: 2048 }, memoryMiB: 120 })), [], { roots })).resolves.toBeUndefined();
    const e = await refusal(checkBeforeStart(record(spec({ hugepages: { sizeKiB: 2048 }, memoryMiB: 128 })), [], { roots }));
    expect(e.code).toBe('HUGEPAGES_UNAVAILABLE');
    expect(e.message).toContain('needs 64 hugepages of 2M (128 MiB) but the host has 60 available (100 free, 40 of them reserved');
  });

  it('lists placement changes waiting for the next start', () => {
    const s = spec({ iothreads: 1 });
    const started = placementOf(s);
    expect(pendingPlacement(s, started)).toEqual([]);
    expect(pendingPlacement({ ...s, iothreads: 2, hugepages: { sizeKiB: 2048 } }, started)).toEqual(['hugepages', 'iothreads']);
    expect(pendingPlacement({ ...s, pin: { emulator: [0] } }, started)).toEqual([]); // pins apply live
    expect(pendingPlacement(s, undefined)).toEqual([]);
  });

  it('gives a hot-plugged disk an I/O thread of the running QEMU', () => {
    const started = placementOf(spec({ iothreads: 2 }));
    expect(hotplugIothread(started, {}, 3)).toBe('iothread1');
    expect(hotplugIothread(started, { iothread: 'iothread0' }, 3)).toBe('iothread0');
    expect(hotplugIothread(started, { iothread: 'iothread5' }, 2)).toBe('iothread0');
    expect(hotplugIothread(placementOf(spec()), {}, 0)).toBeUndefined();
    expect(hotplugIothread(undefined, {}, 0)).toBeUndefined();
  });
});
