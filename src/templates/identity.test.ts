import { describe, expect, it } from 'vitest';
import { ENTROPY_BYTES, identityExec, IDENTITY_PROGRAM, planCloneIdentity } from './identity.js';

const base = { name: 'web-1', id: 'a1b2c3d4e5f6', uuid: '4A0F6C9E-2B1D-4C3E-9F8A-0123456789AB', macs: [{ from: '52:54:00:AA:BB:CC', to: '52:54:00:11:22:33' }] };

describe('warm clone identity planning', () => {
  it('gives the clone its name as hostname (the template\'s domain kept), machine-id from its SMBIOS UUID, its own instance id', () => {
    expect(planCloneIdentity(base)).toEqual({
      hostname: 'web-1', machineId: '4a0f6c9e2b1d4c3e9f8a0123456789ab', instanceId: 'hangar-a1b2c3d4e5f6',
      macs: [{ from: '52:54:00:aa:bb:cc', to: '52:54:00:11:22:33' }],
    });
    expect(planCloneIdentity({ ...base, templateHostname: 'tmpl.example.com' }).hostname).toBe('web-1.example.com');
    expect(planCloneIdentity({ ...base, templateHostname: 'tmpl' }).hostname).toBe('web-1');
  });

  it('passes values as arguments and the entropy on stdin, never in the program text', () => {
    const entropy = Buffer.alloc(ENTROPY_BYTES, 7);
    const { argv, input } = identityExec(planCloneIdentity(base), 1_700_000_000_123, entropy);
    expect(argv.slice(0, 3)).toEqual(['perl', '-e', IDENTITY_PROGRAM]);
    expect(argv.slice(3)).toEqual(['web-1', '4a0f6c9e2b1d4c3e9f8a0123456789ab', 'hangar-a1b2c3d4e5f6', '1700000000.123000', '52:54:00:aa:bb:cc=52:54:00:11:22:33']);
    expect(Buffer.from(input, 'hex')).toEqual(entropy);
    expect(argv.join(' ')).not.toContain(entropy.toString('hex'));
  });

  it('fresh entropy each time', () => {
    const plan = planCloneIdentity(base);
    expect(identityExec(plan).input).not.toBe(identityExec(plan).input);
  });

  it('the program reseeds the RNG, makes ed25519 host keys only, and sets every identity field', () => {
    for (const s of ['0x40085203', '0x5207', "'ed25519'", '/etc/machine-id', '/var/lib/systemd/random-seed', '/var/lib/cloud/data/instance-id', 'address $new', "'date'", '/proc/sys/kernel/hostname', 'try-restart']) {
      expect(IDENTITY_PROGRAM).toContain(s);
    }
    expect(IDENTITY_PROGRAM).not.toMatch(/ssh-keygen.*-A/);
  });

  it('refuses values that are not what they claim', () => {
    expect(() => planCloneIdentity({ ...base, name: 'bad name; rm -rf /' })).toThrow(/hostname/);
    expect(() => planCloneIdentity({ ...base, macs: [{ from: 'zz', to: '52:54:00:11:22:33' }] })).toThrow(/MAC/);
    expect(() => planCloneIdentity({ ...base, uuid: 'nope' })).toThrow(/machine-id/);
    expect(() => identityExec(planCloneIdentity(base), Date.now(), Buffer.alloc(3))).toThrow(/entropy/);
  });
});
