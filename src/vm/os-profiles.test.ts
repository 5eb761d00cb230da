import { describe, expect, it } from 'vitest';
import { osProfile, withOsProfile } from './os-profiles.js';

describe('OS profiles', () => {
  it('gives Windows q35, SATA, e1000e, tablet, Hyper-V, local time, config-drive, and names UEFI/Secure Boot/TPM for their modules', () => {
    expect(osProfile('windows')).toEqual({
      machine: 'q35', diskBus: 'sata', nicModel: 'e1000e', tablet: true, hyperv: true, rtc: 'localtime', cloudInitFormat: 'configdrive',
      firmware: 'uefi', secureBoot: true, tpm: true,
    });
  });

  it('puts defaults under explicit fields', () => {
    const out = withOsProfile({ os: 'windows' as const, nicModel: 'virtio', cloudInit: {} });
    expect(out).toMatchObject({ machine: 'q35', diskBus: 'sata', nicModel: 'virtio', hyperv: true, rtc: 'localtime', cloudInit: { format: 'configdrive' } });
    expect(withOsProfile({ os: 'windows' as const, cloudInit: { format: 'nocloud' as const } }).cloudInit).toEqual({ format: 'nocloud' });
    expect(withOsProfile({ os: 'linux' as const })).toMatchObject({ diskBus: 'virtio-blk', nicModel: 'virtio', hyperv: false });
  });

  it('leaves input without os alone and refuses unknown profiles', () => {
    const input: { name: string; cpus?: number } & { os?: undefined } = { name: 'x' };
    expect(withOsProfile(input)).toBe(input);
    expect(() => withOsProfile({ os: 'beos' as never })).toThrow(/not one of linux, windows, other/);
  });
});
