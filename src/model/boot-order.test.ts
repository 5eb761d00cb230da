import { describe, expect, it } from 'vitest';
import { assignBootOrder, bootOrderOf, parseBootOrder, withBootOnce } from './boot-order.js';
import type { VmSpec } from './spec.js';

function spec(over: Partial<VmSpec> = {}): VmSpec {
  return {
    name: 'v', machine: 'q35', cpuModel: 'max', cpus: 1, memoryMiB: 256, boot: { kind: 'disk' }, balloon: false, rng: false, vnc: false,
    disks: [{ id: 'disk0', path: '/d0', format: 'qcow2', readOnly: false, bootIndex: 0 }],
    nics: [{ id: 'net0', kind: 'user', mac: '52:54:00:00:00:01', forwards: [] }],
    cdroms: [{ id: 'cd0', path: '/i.iso', bus: 'scsi' }, { id: 'cd1', bus: 'scsi' }],
    ...over,
  };
}

describe('boot order', () => {
  it('parses kinds given as a list or comma-separated, each once', () => {
    expect(parseBootOrder(['cdrom,disk', 'network'])).toEqual(['cdrom', 'disk', 'network']);
    expect(() => parseBootOrder(['disk,disk'])).toThrow(/twice/);
    expect(() => parseBootOrder(['floppy'])).toThrow(expect.objectContaining({ code: 'INVALID_SPEC', message: expect.stringMatching(/"floppy" is not a boot device/) }));
    expect(() => parseBootOrder([''])).toThrow(/empty/);
  });

  it('gives each device of the named kinds an index, in order; others none', () => {
    const s = spec();
    assignBootOrder(s, ['cdrom', 'disk', 'network']);
    expect(s.cdroms!.map((c) => c.bootIndex)).toEqual([0, 1]);
    expect(s.disks[0]!.bootIndex).toBe(2);
    expect(s.nics[0]!.bootIndex).toBe(3);
    assignBootOrder(s, ['disk']);
    expect(s.disks[0]!.bootIndex).toBe(0);
    expect(s.cdroms!.every((c) => c.bootIndex === undefined)).toBe(true);
    expect(s.nics[0]!.bootIndex).toBeUndefined();
    expect(bootOrderOf(s)).toEqual(['disk']);
  });

  it('refuses a kind the VM lacks, naming it, and changes nothing', () => {
    const s = spec({ cdroms: [] });
    const before = JSON.stringify(s);
    let err: unknown;
    try { assignBootOrder(s, ['cdrom', 'disk']); } catch (e) { err = e; }
    expect(err).toMatchObject({ code: 'INVALID_SPEC', details: { field: 'boot', device: 'cdrom' } });
    expect((err as Error).message).toMatch(/names cdrom, but VM "v" has no CD-ROM drive/);
    expect(JSON.stringify(s)).toBe(before);
    expect(() => assignBootOrder(spec({ nics: [] }), ['network'])).toThrow(/has no NIC/);
  });

  it('boot once puts the kind first for one start, the rest keep their order', () => {
    const s = spec();
    assignBootOrder(s, ['disk', 'network']);
    const once = withBootOnce({ ...s, bootOnce: 'cdrom' });
    expect(once.bootOnce).toBeUndefined();
    expect(once.cdroms!.map((c) => c.bootIndex)).toEqual([0, 1]);
    expect(once.disks[0]!.bootIndex).toBe(2);
    expect(once.nics[0]!.bootIndex).toBe(3);
    // The stored spec is untouched.
    expect(s.cdroms![0]!.bootIndex).toBeUndefined();
    expect(withBootOnce(s)).toBe(s);
  });
});
