import { describe, expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import { checkExportTarget, checkManifest, checkMembers } from './vm-export.js';

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return e instanceof HangarError ? e.code : 'OTHER';
  }
  return undefined;
};

const manifest = {
  format: 'hangar-export', version: 1, createdAt: 'x', vm: 'a', vmId: 'abc123',
  spec: { name: 'a', disks: [{ id: 'root' }], nics: [] },
  disks: [{ id: 'root', format: 'qcow2', sizeBytes: 1024 }], nvram: true, tpm: ['tpm2-00.permall'],
};

describe('export archive checks', () => {
  it('members: only Hangar names, once; no absolute path, no ..', () => {
    expect(checkMembers(['hangar-export.json', 'disks/', 'disks/root.qcow2', 'nvram.raw', 'tpm/', 'tpm/tpm2-00.permall']))
      .toEqual({ disks: ['root'], nvram: true, tpm: ['tpm2-00.permall'] });
    expect(codeOf(() => checkMembers(['hangar-export.json', '../x']))).toBe('UNSAFE_PATH');
    expect(codeOf(() => checkMembers(['hangar-export.json', '/etc/passwd']))).toBe('UNSAFE_PATH');
    expect(codeOf(() => checkMembers(['hangar-export.json', 'disks/../../x.qcow2']))).toBe('UNSAFE_PATH');
    expect(codeOf(() => checkMembers(['hangar-export.json', './nvram.raw']))).toBe('UNSAFE_PATH');
    expect(codeOf(() => checkMembers(['hangar-export.json', 'notes.txt']))).toBe('EXPORT_INVALID');
    expect(codeOf(() => checkMembers(['hangar-export.json', 'disks/a/b.qcow2']))).toBe('EXPORT_INVALID');
    expect(codeOf(() => checkMembers(['hangar-export.json', 'disks/root.qcow2', 'disks/root.qcow2']))).toBe('EXPORT_INVALID');
    expect(codeOf(() => checkMembers(['disks/root.qcow2']))).toBe('EXPORT_INVALID');
  });

  it('the manifest must match the members', () => {
    const members = { disks: ['root'], nvram: true, tpm: ['tpm2-00.permall'] };
    expect(checkManifest(structuredClone(manifest), members).vm).toBe('a');
    expect(codeOf(() => checkManifest({ ...manifest, version: 2 }, members))).toBe('EXPORT_INVALID');
    expect(codeOf(() => checkManifest({ ...manifest, format: 'x' }, members))).toBe('EXPORT_INVALID');
    expect(codeOf(() => checkManifest(manifest, { ...members, nvram: false }))).toBe('EXPORT_INVALID');
    expect(codeOf(() => checkManifest(manifest, { ...members, disks: ['root', 'data'] }))).toBe('EXPORT_INVALID');
    expect(codeOf(() => checkManifest({ ...manifest, disks: [{ id: 'root', format: 'raw', sizeBytes: 1 }] }, members))).toBe('EXPORT_INVALID');
    expect(codeOf(() => checkManifest({ ...manifest, spec: { name: 'a', disks: [], nics: [] } }, members))).toBe('EXPORT_INVALID');
    expect(codeOf(() => checkManifest({ ...manifest, tpm: [] }, members))).toBe('EXPORT_INVALID');
  });

  it('the export target must be absolute', async () => {
    await expect(checkExportTarget('rel.tar', false)).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    await expect(checkExportTarget('/tmp/../etc/x.tar', false)).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    await expect(checkExportTarget('/no/such/dir/x.tar', false)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(checkExportTarget('/tmp', false)).rejects.toMatchObject({ code: 'INVALID_SPEC' });
  });

  it('never replaces a device or anything else that is not a regular file, even with --force', async () => {
    await expect(checkExportTarget('/dev/zero', true)).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    await expect(checkExportTarget('/dev/null', true)).rejects.toMatchObject({ code: 'INVALID_SPEC' });
  });
});
