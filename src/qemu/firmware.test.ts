import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { chooseFirmware, loadDescriptors, machineGlobMatches, parseDescriptor, versionedMachine } from './firmware.js';

const FIXTURES = fileURLToPath(new URL('./firmware-fixtures/', import.meta.url));
const share = `${FIXTURES}share`;
const etc = `${FIXTURES}etc`;

describe('firmware descriptors', () => {
  it('reads the packaged descriptors, skipping stateless and memory-mapped builds', async () => {
    const { descriptors, skipped } = await loadDescriptors([share]);
    expect(descriptors.map((d) => d.name)).toEqual(['40-edk2-x86_64-secure-enrolled.json', '50-edk2-x86_64-secure.json', '60-edk2-x86_64.json']);
    expect(skipped.join('\n')).toMatch(/30-stateless\.json: no raw nvram-template/);
    expect(skipped.join('\n')).toMatch(/70-memory\.json: not a flash mapping/);
  });

  it('plain UEFI: the build without Secure Boot or SMM, for q35 and pc', async () => {
    const { descriptors } = await loadDescriptors([share]);
    for (const machine of ['q35', 'pc'] as const) {
      const d = chooseFirmware(descriptors, { machine, secureBoot: false });
      expect(d).toMatchObject({ name: '60-edk2-x86_64.json', code: '/usr/share/OVMF/OVMF_CODE_4M.fd', varsTemplate: '/usr/share/OVMF/OVMF_VARS_4M.fd' });
    }
  });

  it('Secure Boot: the build with enrolled keys (by priority), on q35 only', async () => {
    const { descriptors } = await loadDescriptors([share]);
    expect(chooseFirmware(descriptors, { machine: 'q35', secureBoot: true })).toMatchObject({
      name: '40-edk2-x86_64-secure-enrolled.json', code: '/usr/share/OVMF/OVMF_CODE_4M.ms.fd', varsTemplate: '/usr/share/OVMF/OVMF_VARS_4M.ms.fd',
    });
    expect(chooseFirmware(descriptors, { machine: 'pc', secureBoot: true })).toBeUndefined();
  });

  it('a later directory replaces a file of the same name; an empty file hides it', async () => {
    const { descriptors } = await loadDescriptors([share, etc]);
    expect(descriptors.map((d) => d.name)).toEqual(['50-edk2-x86_64-secure.json', '60-edk2-x86_64.json']);
    expect(chooseFirmware(descriptors, { machine: 'q35', secureBoot: false })?.code).toBe('/opt/ovmf/CODE.fd');
    // The admin's build is q35-only; the secure build without enrolled keys is no Secure Boot choice.
    expect(chooseFirmware(descriptors, { machine: 'pc', secureBoot: false })).toBeUndefined();
    expect(chooseFirmware(descriptors, { machine: 'q35', secureBoot: true })).toBeUndefined();
  });

  it('no descriptors (no ovmf package): nothing is chosen; missing directories are fine', async () => {
    const { descriptors } = await loadDescriptors(['/nonexistent/qemu/firmware']);
    expect(descriptors).toEqual([]);
    expect(chooseFirmware(descriptors, { machine: 'q35', secureBoot: false })).toBeUndefined();
  });

  it('other architectures and interfaces do not match', () => {
    const arm = parseDescriptor('10-aarch64.json', '/x', JSON.stringify({
      'interface-types': ['uefi'], mapping: { device: 'flash', executable: { filename: '/a' }, 'nvram-template': { filename: '/b' } },
      targets: [{ architecture: 'aarch64', machines: ['virt-*'] }], features: [],
    }));
    const bios = parseDescriptor('10-bios.json', '/y', JSON.stringify({
      'interface-types': ['bios'], mapping: { device: 'flash', executable: { filename: '/a' }, 'nvram-template': { filename: '/b' } },
      targets: [{ architecture: 'x86_64', machines: ['pc-q35-*'] }], features: [],
    }));
    expect(typeof arm).toBe('object');
    expect(chooseFirmware([arm, bios].filter((d) => typeof d === 'object'), { machine: 'q35', secureBoot: false })).toBeUndefined();
    expect(parseDescriptor('bad.json', '/z', '{')).toMatch(/not JSON/);
  });

  it('machine globs', () => {
    expect(versionedMachine('q35', '7.2.22')).toBe('pc-q35-7.2');
    expect(versionedMachine('pc', '8.1.0')).toBe('pc-i440fx-8.1');
    expect(machineGlobMatches('pc-q35-*', 'pc-q35-7.2')).toBe(true);
    expect(machineGlobMatches('pc-i440fx-*', 'pc-q35-7.2')).toBe(false);
    expect(machineGlobMatches('pc-q35-7.?', 'pc-q35-7.2')).toBe(true);
  });
});
