import { describe, expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import type { VmSpec } from '../model/spec.js';
import { QmpError, type QmpClient } from '../qmp/index.js';
import type { VmRecord } from '../store/store.js';
import { applyCreateBootOrder, cdromsForCreate, changeMedia, checkBootOnce, defaultCdromBus, pickDrive } from './media.js';

const images = {
  readyIso: async (name: string, field = 'iso') => {
    if (name === 'inst') return { name, description: '', status: 'ready' as const, kind: 'iso' as const, origin: 'imported' as const, iso: { path: '/img/inst.iso', sizeBytes: 1 } };
    if (name === 'disk') throw new HangarError('INVALID_SPEC', 'Image "disk" is a disk image, not an ISO', { details: { field } });
    throw new HangarError('IMAGE_NOT_FOUND', `There is no image "${name}"`);
  },
};

function spec(over: Partial<VmSpec> = {}): VmSpec {
  return {
    name: 'v', machine: 'q35', cpuModel: 'max', cpus: 1, memoryMiB: 256, boot: { kind: 'disk' }, balloon: false, rng: false, vnc: false,
    disks: [{ id: 'disk0', path: '/d0', format: 'qcow2', readOnly: false, bootIndex: 0 }],
    nics: [{ id: 'net0', kind: 'user', mac: '52:54:00:00:00:01', forwards: [] }],
    cdroms: [{ id: 'cd0', path: '/img/old.iso', image: 'old', bus: 'scsi' }],
    ...over,
  };
}
function record(state: VmRecord['state'], over: Partial<VmSpec> = {}): VmRecord {
  return { id: 'abc', name: 'v', spec: spec(over), state, createdAt: '', updatedAt: '' } as VmRecord;
}
function fakeQmp(fail?: (cmd: string) => Error | undefined) {
  const calls: Array<[string, unknown]> = [];
  const qmp = { execute: async (cmd: string, args?: unknown) => { calls.push([cmd, args]); const e = fail?.(cmd); if (e) throw e; return {}; } } as unknown as QmpClient;
  return { qmp, calls };
}
function deps(rec: VmRecord, qmp: QmpClient) {
  let current = rec;
  return { images, qmpOf: () => qmp, update: async (fn: (r: VmRecord) => VmRecord) => (current = fn(current)) };
}

describe('installer media', () => {
  it('Linux guests get virtio-scsi; other OSes SATA on q35, IDE on pc', () => {
    expect(defaultCdromBus('q35')).toBe('scsi');
    expect(defaultCdromBus('q35', 'windows')).toBe('sata');
    expect(defaultCdromBus('pc', 'other')).toBe('ide');
  });

  it('resolves --iso and --driver-iso to drives cd0 and cd1; a missing or non-ISO image is refused', async () => {
    expect(await cdromsForCreate({ iso: 'inst', driverIso: 'inst' }, 'q35', images)).toEqual([
      { id: 'cd0', path: '/img/inst.iso', image: 'inst', bus: 'scsi' }, { id: 'cd1', path: '/img/inst.iso', image: 'inst', bus: 'scsi' },
    ]);
    await expect(cdromsForCreate({ iso: 'nope' }, 'q35', images)).rejects.toMatchObject({ code: 'IMAGE_NOT_FOUND' });
    await expect(cdromsForCreate({ iso: 'disk' }, 'q35', images)).rejects.toMatchObject({ code: 'INVALID_SPEC', details: { field: 'iso' } });
    await expect(cdromsForCreate({ iso: 'inst', boot: ['floppy'] }, 'q35', images)).rejects.toMatchObject({ code: 'INVALID_SPEC', details: { field: 'boot' } });
  });

  it('defaults to disk then cdrom; honours --boot; refuses a boot order with direct kernel boot', () => {
    const s = spec();
    applyCreateBootOrder(s, undefined);
    expect([s.disks[0]!.bootIndex, s.cdroms![0]!.bootIndex]).toEqual([0, 1]);
    applyCreateBootOrder(s, ['cdrom,disk,network']);
    expect([s.cdroms![0]!.bootIndex, s.disks[0]!.bootIndex, s.nics[0]!.bootIndex]).toEqual([0, 1, 2]);
    expect(() => applyCreateBootOrder(spec({ boot: { kind: 'kernel', kernel: '/k' } }), ['disk'])).toThrow(/boots its image's kernel/);
    expect(() => checkBootOnce(spec({ cdroms: [] }), 'cdrom')).toThrow(/no CD-ROM drive to boot from once/);
    expect(checkBootOnce(spec(), 'CDROM')).toBe('cdrom');
  });

  it('picks the only drive, or names the drives when there are several', () => {
    expect(pickDrive(record('stopped'), undefined).id).toBe('cd0');
    const two = record('stopped', { cdroms: [{ id: 'cd0', bus: 'scsi' }, { id: 'cd1', bus: 'scsi' }] });
    expect(() => pickDrive(two, undefined)).toThrow(/has 2 CD-ROM drives \(cd0, cd1\): say which with --drive ID/);
    expect(() => pickDrive(two, 'cd7')).toThrow(/no CD-ROM drive "cd7": its drives are cd0, cd1/);
    expect(() => pickDrive(record('stopped', { cdroms: [] }), undefined)).toThrow(/has no CD-ROM drive/);
  });

  it('a stopped VM: only the spec changes', async () => {
    const { qmp, calls } = fakeQmp();
    const after = await changeMedia(record('stopped'), {}, deps(record('stopped'), qmp));
    expect(after.spec.cdroms).toEqual([{ id: 'cd0', bus: 'scsi' }]);
    const again = await changeMedia(after, { image: 'inst' }, deps(after, qmp));
    expect(again.spec.cdroms).toEqual([{ id: 'cd0', bus: 'scsi', path: '/img/inst.iso', image: 'inst' }]);
    expect(calls).toEqual([]);
  });

  it('a running guest: blockdev-change-medium / eject through QMP, then the start nodes go', async () => {
    const { qmp, calls } = fakeQmp();
    const rec = record('running');
    const after = await changeMedia(rec, { image: 'inst' }, deps(rec, qmp));
    expect(calls[0]).toEqual(['blockdev-change-medium', { id: 'cd0', filename: '/img/inst.iso', format: 'raw', 'read-only-mode': 'read-only' }]);
    expect(calls.slice(1).map((c) => c[0])).toEqual(['blockdev-del', 'blockdev-del']);
    expect(after.spec.cdroms![0]!.image).toBe('inst');
    calls.length = 0;
    await changeMedia(after, { force: true }, deps(after, qmp));
    expect(calls[0]).toEqual(['eject', { id: 'cd0', force: true }]);
  });

  it('a locked tray is VM_STATE with the way out, and the spec is unchanged', async () => {
    const { qmp } = fakeQmp((cmd) => (cmd === 'eject' ? new QmpError('eject', 'GenericError', "Device 'cd0' is locked and force was not specified, wait for tray to open and try again") : undefined));
    const rec = record('running');
    let updated = false;
    const err = await changeMedia(rec, {}, { images, qmpOf: () => qmp, update: async (fn) => { updated = true; return fn(rec); } }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'VM_STATE', message: expect.stringMatching(/locked the tray of cd0.*--force/) });
    expect(updated).toBe(false);
  });
});
