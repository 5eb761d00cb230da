import { describe, expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import { checkDiskHw, checkNicHw, checkTopology, machineVersionFor, parseCpuFlags, parseShare, parseTopology, parseUsbHost, parseWatchdog } from './hw.js';

function code(fn: () => unknown): { code: string; field?: unknown; message: string } {
  try {
    fn();
  } catch (e) {
    if (e instanceof HangarError) return { code: e.code, field: e.details?.['field'], message: e.message };
    throw e;
  }
  throw new Error('did not throw');
}

describe('CPU topology and flags', () => {
  it('parses SOCKETS,CORES,THREADS and objects', () => {
    expect(parseTopology('1,2,1')).toEqual({ sockets: 1, cores: 2, threads: 1 });
    expect(parseTopology({ sockets: 2, cores: 2, threads: 2 })).toEqual({ sockets: 2, cores: 2, threads: 2 });
    expect(code(() => parseTopology('1,2')).field).toBe('topology');
    expect(code(() => parseTopology('0,2,1')).field).toBe('topology');
  });

  it('needs the product to equal maxCpus, else cpus', () => {
    expect(() => checkTopology({ cpus: 2, topology: { sockets: 1, cores: 2, threads: 1 } })).not.toThrow();
    expect(() => checkTopology({ cpus: 2, maxCpus: 4, topology: { sockets: 1, cores: 2, threads: 2 } })).not.toThrow();
    const e = code(() => checkTopology({ cpus: 2, maxCpus: 4, topology: { sockets: 1, cores: 2, threads: 1 } }));
    expect(e).toMatchObject({ code: 'INVALID_SPEC', field: 'topology' });
    expect(e.message).toContain('gives 2 vCPUs, but the VM has 4 (max-cpus)');
  });

  it('takes +name/-name flags of safe characters only', () => {
    expect(parseCpuFlags('+avx2,-x2apic, +sse4.2')).toEqual(['+avx2', '-x2apic', '+sse4.2']);
    expect(parseCpuFlags(['+hv-relaxed'])).toEqual(['+hv-relaxed']);
    for (const bad of ['avx2', '+AVX2', '+a,b', '+x=on', '+', '+a b', '+"}']) expect(code(() => parseCpuFlags(bad)).field).toBe('cpuFlags');
    expect(code(() => parseCpuFlags('+avx2,-avx2')).message).toContain('named twice');
  });
});

describe('disks and NICs', () => {
  it('checks buses against the machine and cache/aio/discard rules', () => {
    expect(() => checkDiskHw({ id: 'd', bus: 'sata' }, 'q35')).not.toThrow();
    expect(code(() => checkDiskHw({ id: 'd', bus: 'sata' }, 'pc')).message).toContain('needs machine q35');
    expect(code(() => checkDiskHw({ id: 'd', bus: 'nvme' }, 'microvm')).field).toBe('diskBus');
    expect(code(() => checkDiskHw({ id: 'd', aio: 'native' }, 'q35')).field).toBe('diskAio');
    expect(() => checkDiskHw({ id: 'd', aio: 'native', cache: 'none' }, 'q35')).not.toThrow();
    expect(code(() => checkDiskHw({ id: 'd', detectZeroes: 'unmap' }, 'q35')).field).toBe('detectZeroes');
    expect(code(() => checkDiskHw({ id: 'd', bus: 'ide' as never }, 'q35')).field).toBe('diskBus');
  });

  it('allows multiqueue on virtio tap NICs only, and MTU on virtio', () => {
    expect(() => checkNicHw({ id: 'n', kind: 'network', queues: 4 }, 'q35')).not.toThrow();
    expect(code(() => checkNicHw({ id: 'n', kind: 'user', queues: 4 }, 'q35')).message).toContain('slirp cannot multiqueue');
    expect(code(() => checkNicHw({ id: 'n', kind: 'network', model: 'e1000e', queues: 2 }, 'q35')).field).toBe('nicQueues');
    expect(code(() => checkNicHw({ id: 'n', kind: 'user', model: 'rtl8139', mtu: 1400 }, 'q35')).field).toBe('mtu');
    expect(code(() => checkNicHw({ id: 'n', kind: 'user', queues: 99 }, 'q35')).field).toBe('nicQueues');
  });
});

describe('machine version, USB, watchdog, shares', () => {
  it('pins the host QEMU release series', () => {
    expect(machineVersionFor('q35', '7.2.22')).toBe('pc-q35-7.2');
    expect(machineVersionFor('pc', '8.2.0')).toBe('pc-i440fx-8.2');
    expect(machineVersionFor('microvm', '7.2.22')).toBeUndefined();
    expect(machineVersionFor('q35', '')).toBeUndefined();
  });

  it('parses USB ids and bus-port paths', () => {
    expect(parseUsbHost('046D:C52B')).toEqual({ vendorId: '046d', productId: 'c52b' });
    expect(parseUsbHost('1-2.3')).toEqual({ bus: 1, port: '2.3' });
    expect(code(() => parseUsbHost('logitech')).field).toBe('usb');
  });

  it('parses a watchdog with its action', () => {
    expect(parseWatchdog('i6300esb')).toEqual({ model: 'i6300esb', action: 'reset' });
    expect(parseWatchdog('itco:poweroff')).toEqual({ model: 'itco', action: 'poweroff' });
    expect(code(() => parseWatchdog('i6300esb:explode')).field).toBe('watchdog');
  });

  it('parses shares', () => {
    expect(parseShare('data:/srv/data')).toEqual({ tag: 'data', source: '/srv/data' });
    expect(parseShare('docs:/srv/docs:ro')).toEqual({ tag: 'docs', source: '/srv/docs', readOnly: true });
    expect(code(() => parseShare('data:relative')).field).toBe('shares');
    expect(code(() => parseShare('bad tag:/x')).field).toBe('shares');
  });
});
