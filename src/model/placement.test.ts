import { describe, expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import {
  cpuRanges, diskIothread, dimmAlignMiB, formatCpuList, memoryBackendProps, mergePin, normalizeHostdevs, normalizeHugepages, normalizeNuma,
  normalizePciAddress, parseCpuList, parseNumaText, pinnedHostCpus, validatePlacement,
} from './placement.js';
import type { VmSpec } from './spec.js';
import { parseMemoryMiB } from './validate.js';

function spec(over: Partial<VmSpec> = {}): VmSpec {
  return {
    name: 'p', machine: 'q35', cpuModel: 'max', cpus: 2, memoryMiB: 256, boot: { kind: 'disk' }, disks: [], nics: [],
    balloon: true, rng: true, vnc: false, ...over,
  };
}

function refused(fn: () => unknown, message: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(HangarError);
  expect((thrown as HangarError).code).toBe('INVALID_SPEC');
  expect((thrown as HangarError).message).toMatch(message);
}

describe('CPU lists', () => {
  it.each([
    ['0', [0]], ['0-3', [0, 1, 2, 3]], ['0-1,4,6-7', [0, 1, 4, 6, 7]], [' 3 , 1 ', [1, 3]], [2, [2]], [[3, 1], [1, 3]],
  ] as const)('%j → %j', (input, expected) => {
    expect(parseCpuList(input as string | number | number[], 'x')).toEqual(expected);
  });

  it.each(['', '1-0', 'a', '0,,1', '-1', '1-', '0-1,1', [1, 1], [-1], [1.5]])('refuses %j', (input) => {
    refused(() => parseCpuList(input as string | number[], 'pin.emulator'), /pin\.emulator/);
  });

  it('refuses numbers beyond the limit', () => {
    refused(() => parseCpuList('9000', 'x'), /beyond 8191/);
  });

  it('formats and ranges round-trip', () => {
    expect(formatCpuList([7, 0, 1, 2, 5])).toBe('0-2,5,7');
    expect(formatCpuList([])).toBe('');
    expect(cpuRanges([0, 2, 3, 4])).toEqual([[0, 0], [2, 4]]);
    expect(parseCpuList(formatCpuList([0, 2, 3, 9]), 'x')).toEqual([0, 2, 3, 9]);
  });
});

describe('hugepages', () => {
  it.each([
    [true, 2048], ['true', 2048], ['2M', 2048], ['2MiB', 2048], ['1G', 1048576], ['1g', 1048576], [{ sizeKiB: 2048 }, 2048], [1048576, 1048576],
  ] as const)('%j → %d KiB', (input, kib) => {
    expect(normalizeHugepages(input, 2048)).toEqual({ sizeKiB: kib });
  });

  it('true takes the host default', () => {
    expect(normalizeHugepages(true, 1048576)).toEqual({ sizeKiB: 1048576 });
  });

  it.each([false, null, 'false', 'none', undefined])('%j → none', (input) => {
    expect(normalizeHugepages(input, 2048)).toBeUndefined();
  });

  it.each(['4K', '3M', 'huge', { sizeKiB: 4 }])('refuses %j', (input) => {
    refused(() => normalizeHugepages(input, 2048), /hugepage size/);
  });

  it('backs RAM with hugetlb memfd, DIMMs in whole pages', () => {
    expect(memoryBackendProps({})).toEqual({ 'qom-type': 'memory-backend-ram' });
    expect(memoryBackendProps({ hugepages: { sizeKiB: 2048 } })).toEqual({ 'qom-type': 'memory-backend-memfd', hugetlb: true, hugetlbsize: 2097152 });
    expect(dimmAlignMiB({})).toBe(128);
    expect(dimmAlignMiB({ hugepages: { sizeKiB: 2048 } })).toBe(128);
    expect(dimmAlignMiB({ hugepages: { sizeKiB: 1048576 } })).toBe(1024);
  });
});

describe('NUMA', () => {
  it('parses node text, with commas inside CPU lists', () => {
    expect(parseNumaText('cpus=0-1,memory=512M')).toEqual({ cpus: '0-1', memory: '512M' });
    expect(parseNumaText('cpus=0,2,memory=1G,host-nodes=0,1')).toEqual({ cpus: '0,2', memory: '1G', hostNodes: '0,1' });
    expect(parseNumaText('memory=256')).toEqual({ memory: 256 });
    expect(normalizeNuma([parseNumaText('cpus=0,2,mem=1G,hostnodes=1')], parseMemoryMiB)).toEqual([{ cpus: [0, 2], memoryMiB: 1024, hostNodes: [1] }]);
  });

  it.each([['cpus=0'], ['cpus=0,memory=1G,colour=red'], ['memory=1G,memory=2G'], ['0,memory=1G']])('refuses %j', (text) => {
    refused(() => parseNumaText(text), /NUMA node/);
  });

  const nodes = (...n: Array<[number[], number, number[]?]>) => n.map(([cpus, memoryMiB, hostNodes]) => ({ cpus, memoryMiB, ...(hostNodes && { hostNodes }) }));

  it('accepts nodes that cover every vCPU up to max-cpus once and add up to memory', () => {
    expect(() => validatePlacement(spec({ numa: nodes([[0], 128], [[1], 128]) }))).not.toThrow();
    expect(() => validatePlacement(spec({ maxCpus: 4, numa: nodes([[0, 2], 128, [0]], [[1, 3], 128]) }))).not.toThrow();
    expect(() => validatePlacement(spec({ cpus: 2, numa: nodes([[0, 1], 192], [[], 64]) }))).not.toThrow(); // memory-only node
  });

  it.each([
    ['a vCPU in no node', { numa: nodes([[0], 256]) }, /vCPU\(s\) 1 are in no NUMA node/],
    ['hot-pluggable vCPUs in no node', { maxCpus: 4, numa: nodes([[0], 128], [[1], 128]) }, /vCPU\(s\) 2-3 are in no NUMA node.*max-cpus/],
    ['a vCPU in two nodes', { numa: nodes([[0, 1], 128], [[1], 128]) }, /vCPU 1 is in NUMA nodes 0 and 1/],
    ['a vCPU beyond max-cpus', { numa: nodes([[0, 1, 2], 256]) }, /names vCPU 2, but the VM has vCPUs 0-1/],
    ['memory that does not add up', { numa: nodes([[0], 128], [[1], 64]) }, /adds up to 192 MiB, but the VM has 256 MiB/],
    ['an empty node list', { numa: [] }, /1 to 64 nodes/],
    ['a zero-memory node', { numa: nodes([[0, 1], 256], [[], 0]) }, /memory must be a whole number/],
    ['NUMA on microvm', { machine: 'microvm' as const, numa: nodes([[0, 1], 256]) }, /microvm has no NUMA/],
    ['hugepage-unaligned node', { hugepages: { sizeKiB: 2048 }, numa: nodes([[0], 127], [[1], 129]) }, /node 0 memory 127 MiB is not a whole number of 2M hugepages/],
  ])('refuses %s', (_label, over, message) => {
    refused(() => validatePlacement(spec(over as Partial<VmSpec>)), message);
  });
});

describe('hugepage-backed specs', () => {
  it('needs memory in whole pages and room for a DIMM', () => {
    expect(() => validatePlacement(spec({ hugepages: { sizeKiB: 2048 }, memoryMiB: 128, maxMemoryMiB: 512 }))).not.toThrow();
    refused(() => validatePlacement(spec({ hugepages: { sizeKiB: 2048 }, memoryMiB: 129 })), /129 MiB is not a whole number of 2M hugepages/);
    refused(() => validatePlacement(spec({ hugepages: { sizeKiB: 1048576 }, memoryMiB: 512 })), /multiple of 1024 MiB/);
    refused(() => validatePlacement(spec({ hugepages: { sizeKiB: 1048576 }, memoryMiB: 1024, maxMemoryMiB: 1536 })), /less than one 1024 MiB DIMM/);
    refused(() => validatePlacement(spec({ hugepages: { sizeKiB: 4 } })), /not one of 2048/);
  });
});

describe('pinning', () => {
  it('merges inputs; null removes a pin; nothing left is undefined', () => {
    const pin = mergePin(undefined, { vcpus: { 0: '2', '01': [3] }, emulator: '0-1' });
    expect(pin).toEqual({ vcpus: { 0: [2], 1: [3] }, emulator: [0, 1] });
    expect(mergePin(pin, { vcpus: { 1: null }, iothreads: 4 })).toEqual({ vcpus: { 0: [2] }, emulator: [0, 1], iothreads: [4] });
    expect(mergePin(pin, { vcpus: { 0: null, 1: null }, emulator: null })).toBeUndefined();
    expect(pinnedHostCpus({ vcpus: { 0: [5], 1: [2] }, emulator: [0, 2] })).toEqual([0, 2, 5]);
  });

  it.each([
    [{ vcpus: { x: '1' } }, /not a vCPU index/],
    [{ vcpus: { 0: '1-' } }, /pin\.vcpus\.0/],
    [{ emulator: '' }, /pin\.emulator/],
  ])('refuses %j', (input, message) => {
    refused(() => mergePin(undefined, input), message);
  });

  it('checks pins against the VM', () => {
    expect(() => validatePlacement(spec({ pin: { vcpus: { 1: [0] }, emulator: [1] } }))).not.toThrow();
    refused(() => validatePlacement(spec({ pin: { vcpus: { 2: [0] } } })), /names vCPU 2, but the VM has vCPUs 0-1/);
    refused(() => validatePlacement(spec({ pin: { iothreads: [0] } })), /pin.iothreads needs I\/O threads/);
    refused(() => validatePlacement(spec({ pin: { emulator: [] } })), /non-empty list/);
  });
});

describe('I/O threads', () => {
  it('assigns disks round-robin unless a disk names its own', () => {
    expect(diskIothread({}, {}, 0)).toBeUndefined();
    expect([0, 1, 2].map((i) => diskIothread({ iothreads: 2 }, {}, i))).toEqual(['iothread0', 'iothread1', 'iothread0']);
    expect(diskIothread({ iothreads: 2 }, { iothread: 'iothread1' }, 0)).toBe('iothread1');
  });

  it('refuses a disk thread the VM does not have', () => {
    const disk = { id: 'd', path: '/d', format: 'raw' as const, readOnly: false, iothread: 'iothread2' };
    refused(() => validatePlacement(spec({ iothreads: 2, disks: [disk] })), /asks for I\/O thread "iothread2", but the VM has iothread0-iothread1/);
    refused(() => validatePlacement(spec({ disks: [disk] })), /no I\/O threads/);
    refused(() => validatePlacement(spec({ iothreads: 65 })), /0 \(none\) to 64/);
  });
});

describe('host devices', () => {
  it('takes full PCI addresses only, in lower case', () => {
    expect(normalizePciAddress('0000:01:00.0')).toBe('0000:01:00.0');
    expect(normalizePciAddress('0000:AF:1F.7')).toBe('0000:af:1f.7');
    expect(normalizeHostdevs(['0000:01:00.0', { address: '0000:02:00.1' }])).toEqual([{ address: '0000:01:00.0' }, { address: '0000:02:00.1' }]);
  });

  it.each(['01:00.0', '0000:01:00', '0000:01:20.0', '0000:01:00.8', '0000:01:00.0,x=y', '0000:01:00.0\n', ' 0000:01:00.0', 'g000:01:00.0', ''])('refuses %j', (address) => {
    refused(() => normalizePciAddress(address), /not a full PCI address/);
  });

  it('refuses duplicates and microvm', () => {
    refused(() => validatePlacement(spec({ hostdevs: [{ address: '0000:01:00.0' }, { address: '0000:01:00.0' }] })), /given twice/);
    refused(() => validatePlacement(spec({ machine: 'microvm', hostdevs: [{ address: '0000:01:00.0' }] })), /microvm has no PCI bus/);
  });
});
