import { describe, expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import { parseSettings } from './main.js';
import { placementBody } from './vm-create-command.js';

describe('vm create placement flags', () => {
  it('become the API body', () => {
    expect(placementBody({
      hugepages: true, numa: ['cpus=0-1,memory=512M', 'cpus=2,3,memory=1G,host-nodes=1'], pinVcpu: ['0=2', 'vcpu1=3-4'], pinEmulator: '0', pinIothreads: '1',
      iothreads: 2, hostdev: ['0000:01:00.0'],
    })).toEqual({
      hugepages: true,
      numa: [{ cpus: '0-1', memory: '512M' }, { cpus: '2,3', memory: '1G', hostNodes: '1' }],
      pin: { vcpus: { 0: '2', 1: '3-4' }, emulator: '0', iothreads: '1' },
      iothreads: 2,
      hostdevs: [{ address: '0000:01:00.0' }],
    });
    expect(placementBody({ hugepages: '1G', numa: [], pinVcpu: [], hostdev: [] })).toEqual({ hugepages: '1G' });
    expect(placementBody({ numa: [], pinVcpu: [], hostdev: [] })).toEqual({});
  });

  it('refuse a malformed vCPU pin or NUMA node', () => {
    expect(() => placementBody({ numa: [], pinVcpu: ['0:2'], hostdev: [] })).toThrow(HangarError);
    expect(() => placementBody({ numa: ['cpus=0'], pinVcpu: [], hostdev: [] })).toThrow(/needs memory=SIZE/);
  });
});

describe('vm set placement keys', () => {
  it('map to the PATCH body', () => {
    expect(parseSettings(['pin.vcpu.0=1', 'pin.vcpu1=none', 'pin.emulator=0', 'pin.iothreads=none'])).toEqual({ pin: { vcpus: { 0: '1', 1: null }, emulator: '0', iothreads: null } });
    expect(parseSettings(['hugepages=true', 'iothreads=2', 'hostdevs=0000:01:00.0,0000:02:00.0'])).toEqual({
      hugepages: true, iothreads: 2, hostdevs: [{ address: '0000:01:00.0' }, { address: '0000:02:00.0' }],
    });
    expect(parseSettings(['hugepages=1G'])).toEqual({ hugepages: '1G' });
    expect(parseSettings(['hugepages=none', 'iothreads=none', 'hostdevs=none', 'numa=none'])).toEqual({ hugepages: null, iothreads: null, hostdevs: null, numa: null });
    expect(parseSettings(['numa=cpus=0,memory=256M;cpus=1,memory=256M'])).toEqual({ numa: [{ cpus: '0', memory: '256M' }, { cpus: '1', memory: '256M' }] });
    expect(parseSettings(['disk.disk0.iothread=iothread1', 'disk.data.iothread=auto'])).toEqual({ disks: { disk0: { iothread: 'iothread1' }, data: { iothread: null } } });
  });
});
