import { describe, expect, it } from 'vitest';
import type { VmSpec } from '../model/spec.js';
import { mediaSection, validateCdroms } from './argv-media.js';

function spec(over: Partial<VmSpec> = {}): VmSpec {
  return {
    name: 'v', machine: 'q35', cpuModel: 'max', cpus: 1, memoryMiB: 256, boot: { kind: 'disk' }, balloon: false, rng: false, vnc: false,
    disks: [{ id: 'disk0', path: '/d0', format: 'qcow2', readOnly: false, bootIndex: 0 }],
    nics: [],
    cdroms: [{ id: 'cd0', path: '/i.iso', bus: 'scsi', bootIndex: 1 }],
    ...over,
  };
}

describe('CD-ROM argv', () => {
  it('puts an ISO on virtio-scsi as a read-only raw node with its boot index', () => {
    const opts = mediaSection({ spec: spec(), bus: 'pci' });
    expect(opts.map((o) => [o.flag, o.value])).toEqual([
      ['-device', { driver: 'virtio-scsi-pci', id: 'cdscsi0' }],
      ['-blockdev', { driver: 'file', 'node-name': 'file-cd0', filename: '/i.iso', 'read-only': true }],
      ['-blockdev', { driver: 'raw', 'node-name': 'cd0', file: 'file-cd0', 'read-only': true }],
      ['-device', { driver: 'scsi-cd', id: 'cd0', bus: 'cdscsi0.0', drive: 'cd0', bootindex: 1 }],
    ]);
  });

  it('an empty tray is a device without a drive; SATA ports count up on q35', () => {
    const opts = mediaSection({ spec: spec({ cdroms: [{ id: 'cd0', path: '/w.iso', bus: 'sata' }, { id: 'cd1', bus: 'sata' }] }), bus: 'pci' });
    expect(opts.filter((o) => o.flag === '-device').map((o) => o.value)).toEqual([
      { driver: 'ide-cd', id: 'cd0', bus: 'ide.0', drive: 'cd0' },
      { driver: 'ide-cd', id: 'cd1', bus: 'ide.1' },
    ]);
  });

  it('no boot index with direct kernel boot', () => {
    const opts = mediaSection({ spec: spec({ boot: { kind: 'kernel', kernel: '/k' } }), bus: 'pci' });
    expect(opts.at(-1)!.value).not.toHaveProperty('bootindex');
  });

  it('refuses buses the machine lacks, clashing ids and shared boot indexes', () => {
    expect(() => validateCdroms(spec({ machine: 'pc', cdroms: [{ id: 'cd0', bus: 'sata' }] }))).toThrow(/only machine q35/);
    expect(() => validateCdroms(spec({ cdroms: [{ id: 'cd0', bus: 'ide' }] }))).toThrow(/only machine pc/);
    expect(() => validateCdroms(spec({ cdroms: [{ id: 'disk0', bus: 'scsi' }] }))).toThrow(/used by another device/);
    expect(() => validateCdroms(spec({ cdroms: [{ id: 'cd0', bus: 'scsi', bootIndex: 0 }] }))).toThrow(/Boot index 0 is used by disk0 and CD-ROM cd0/);
    expect(() => validateCdroms(spec({ cdroms: [{ id: 'cd0', path: 'rel.iso', bus: 'scsi' }] }))).toThrow(/must be absolute/);
  });
});
