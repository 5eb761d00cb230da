import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import {
  checkHostdevs, checkHostPlacement, checkHugepages, defaultHugepageKiB, hugepagePool, onlineCpus, onlineNodes, parseKernelList, type HostRoots,
} from './placement.js';

let root: string;
let roots: Required<HostRoots>;

function write(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

/** A PCI device in sysfs, in IOMMU group `group`, bound to `driver` (or none). */
function pciDevice(address: string, group: string, driver?: string, pciClass = '0x020000'): void {
  const dev = join(roots.sys, 'devices/pci0000:00', address);
  mkdirSync(dev, { recursive: true });
  write(join(dev, 'class'), `${pciClass}\n`);
  if (driver) {
    mkdirSync(join(roots.sys, 'bus/pci/drivers', driver), { recursive: true });
    symlinkSync(join(roots.sys, 'bus/pci/drivers', driver), join(dev, 'driver'));
  }
  const groupDir = join(roots.sys, 'kernel/iommu_groups', group, 'devices');
  mkdirSync(groupDir, { recursive: true });
  symlinkSync(join(roots.sys, 'kernel/iommu_groups', group), join(dev, 'iommu_group'));
  symlinkSync(dev, join(groupDir, address));
  mkdirSync(join(roots.sys, 'bus/pci/devices'), { recursive: true });
  symlinkSync(dev, join(roots.sys, 'bus/pci/devices', address));
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'hg-sysfs-'));
  roots = { sys: join(root, 'sys'), proc: join(root, 'proc'), dev: join(root, 'dev') };
  write(join(roots.sys, 'devices/system/cpu/online'), '0-3,6\n');
  write(join(roots.sys, 'devices/system/node/online'), '0-1\n');
  write(join(roots.proc, 'meminfo'), 'MemTotal:       16000000 kB\nHugepagesize:       2048 kB\n');
  for (const [size, total, free, resv] of [[2048, 100, 80, 16], [1048576, 2, 2, 0]] as const) {
    const dir = join(roots.sys, 'kernel/mm/hugepages', `hugepages-${size}kB`);
    write(join(dir, 'nr_hugepages'), `${total}\n`);
    write(join(dir, 'free_hugepages'), `${free}\n`);
    write(join(dir, 'resv_hugepages'), `${resv}\n`);
  }
  mkdirSync(join(roots.sys, 'kernel/iommu_groups'), { recursive: true });
  mkdirSync(join(roots.dev, 'vfio'), { recursive: true });
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

async function refusal(p: Promise<unknown>): Promise<HangarError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(HangarError);
  return e as HangarError;
}

describe('host CPUs, nodes and hugepages', () => {
  it('reads the kernel lists', async () => {
    expect(parseKernelList('0-2,5,7-8\n')).toEqual([0, 1, 2, 5, 7, 8]);
    expect(parseKernelList('')).toEqual([]);
    expect(await onlineCpus(roots)).toEqual([0, 1, 2, 3, 6]);
    expect(await onlineNodes(roots)).toEqual([0, 1]);
    expect(await onlineNodes({ sys: join(root, 'nowhere') })).toEqual([0]);
    expect(await defaultHugepageKiB(roots)).toBe(2048);
    expect(await defaultHugepageKiB({ proc: join(root, 'nowhere') })).toBe(2048);
  });

  it('counts reserved pages as not available', async () => {
    expect(await hugepagePool(2048, roots)).toEqual({ sizeKiB: 2048, total: 100, free: 80, reserved: 16, available: 64 });
    expect(await hugepagePool(16384, roots)).toBeUndefined();
  });

  it('lets a guest start that fits, and refuses one that does not, with the numbers', async () => {
    await expect(checkHugepages('vm1', 128, 2048, roots)).resolves.toMatchObject({ available: 64 });
    const e = await refusal(checkHugepages('vm1', 130, 2048, roots));
    expect(e.code).toBe('HUGEPAGES_UNAVAILABLE');
    expect(e.message).toContain('VM "vm1" needs 65 hugepages of 2M (130 MiB) but the host has 64 available (80 free, 16 of them reserved by running guests; 100 in the pool)');
    expect(e.message).toContain('echo 101 > /proc/sys/vm/nr_hugepages');
    expect(e.details).toMatchObject({ pageSizeKiB: 2048, neededPages: 65, freePages: 80, reservedPages: 16, availablePages: 64, totalPages: 100 });
    const big = await refusal(checkHugepages('vm1', 3072, 1048576, roots));
    expect(big.message).toMatch(/needs 3 hugepages of 1G .* has 2 available/);
    const none = await refusal(checkHugepages('vm1', 64, 16384, roots));
    expect(none.message).toMatch(/no 16M pages/);
  });

  it('refuses pins to CPUs and nodes the host does not have', async () => {
    await expect(checkHostPlacement({ pin: { vcpus: { 0: [6] }, emulator: [0, 1] }, numa: [{ cpus: [0], memoryMiB: 1, hostNodes: [1] }] }, roots)).resolves.toBeUndefined();
    const cpu = await refusal(checkHostPlacement({ pin: { vcpus: { 0: [4, 5] }, iothreads: [9] } }, roots));
    expect(cpu.code).toBe('INVALID_SPEC');
    expect(cpu.message).toBe('Host CPU(s) 4-5,9 are not online on this host (online: 0-3,6): pin to CPUs that exist.');
    const node = await refusal(checkHostPlacement({ numa: [{ cpus: [0], memoryMiB: 1, hostNodes: [0, 2] }] }, roots));
    expect(node.message).toMatch(/Host NUMA node\(s\) 2 do not exist here \(online: 0-1\)/);
  });
});

describe('VFIO host devices', () => {
  const dev = (address: string) => [{ address }];

  it('refuses every device on a host without an IOMMU, saying how to enable one', async () => {
    pciDevice('0000:01:00.0', '0', 'vfio-pci');
    rmSync(join(roots.sys, 'kernel/iommu_groups'), { recursive: true });
    const e = await refusal(checkHostdevs(dev('0000:01:00.0'), roots));
    expect(e.code).toBe('HOST_NO_IOMMU');
    expect(e.message).toMatch(/needs an IOMMU, and this host has none/);
    expect(e.message).toContain('intel_iommu=on');
    expect(e.message).toContain('amd_iommu=on');
    expect(await checkHostdevs([], roots)).toEqual(new Map());
  });

  it('accepts a device bound to vfio-pci whose group holds only VFIO devices, bridges and unbound functions', async () => {
    pciDevice('0000:01:00.0', '7', 'vfio-pci');
    pciDevice('0000:01:00.1', '7', 'vfio-pci');
    pciDevice('0000:00:01.0', '7', 'pcieport', '0x060400');
    pciDevice('0000:01:00.2', '7');
    mkdirSync(join(roots.dev, 'vfio', '7'));
    expect(await checkHostdevs(dev('0000:01:00.0'), roots)).toEqual(new Map([['0000:01:00.0', '7']]));
  });

  it('refuses a device that does not exist', async () => {
    pciDevice('0000:01:00.0', '7', 'vfio-pci');
    const e = await refusal(checkHostdevs(dev('0000:05:00.0'), roots));
    expect(e.code).toBe('HOSTDEV_UNAVAILABLE');
    expect(e.message).toBe('There is no PCI device 0000:05:00.0 on this host (see lspci -D).');
  });

  it('refuses, listing them, when the device or a group member is bound to a host driver', async () => {
    pciDevice('0000:01:00.0', '3', 'vfio-pci');
    pciDevice('0000:01:00.1', '3', 'snd_hda_intel', '0x040300');
    mkdirSync(join(roots.dev, 'vfio', '3'));
    const e = await refusal(checkHostdevs(dev('0000:01:00.0'), roots));
    expect(e.code).toBe('HOSTDEV_UNAVAILABLE');
    expect(e.message).toContain('IOMMU group 3');
    expect(e.message).toContain('Not ready: 0000:01:00.1 (driver snd_hda_intel)');
    expect(e.details).toMatchObject({ group: '3', blockers: ['0000:01:00.1'] });

    pciDevice('0000:02:00.0', '4', 'e1000e');
    mkdirSync(join(roots.dev, 'vfio', '4'));
    const self = await refusal(checkHostdevs(dev('0000:02:00.0'), roots));
    expect(self.message).toContain('Not ready: 0000:02:00.0 (driver e1000e)');
  });

  it('refuses a device in no IOMMU group, and a missing /dev/vfio node', async () => {
    pciDevice('0000:01:00.0', '1', 'vfio-pci');
    const nodeMissing = await refusal(checkHostdevs(dev('0000:01:00.0'), roots));
    expect(nodeMissing.message).toMatch(/vfio\/1 is missing: is the vfio module loaded/);
    const bare = join(roots.sys, 'devices/pci0000:00/0000:03:00.0');
    mkdirSync(bare, { recursive: true });
    symlinkSync(bare, join(roots.sys, 'bus/pci/devices/0000:03:00.0'));
    const noGroup = await refusal(checkHostdevs(dev('0000:03:00.0'), roots));
    expect(noGroup.message).toMatch(/is in no IOMMU group/);
  });
});
