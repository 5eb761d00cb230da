import { describe, expect, it } from 'vitest';
import { buildQemuArgv } from './argv.js';
import { latestGoldenVersion, loadGoldenCase } from './golden.js';

describe('SMBIOS UUID (-uuid)', () => {
  const base = loadGoldenCase(latestGoldenVersion(), 'smbios-uuid');

  it('passes the spec\'s UUID, lower case, right after the machine', () => {
    const argv = buildQemuArgv({ ...base.spec, uuid: '4A0F6C9E-2B1D-4C3E-9F8A-0123456789AB' }, base.caps, base.paths);
    const i = argv.indexOf('-uuid');
    expect(argv[i + 1]).toBe('4a0f6c9e-2b1d-4c3e-9f8a-0123456789ab');
    expect(argv.indexOf('-accel')).toBeLessThan(i);
  });

  it('gives a VM without one (made before UUIDs) none', () => {
    const { uuid: _drop, ...spec } = base.spec;
    expect(buildQemuArgv(spec, base.caps, base.paths)).not.toContain('-uuid');
  });

  it('refuses something that is not a UUID (it could smuggle an option)', () => {
    for (const bad of ['', 'x', '4a0f6c9e-2b1d-4c3e-9f8a-0123456789ab,foo=bar', '-S', '4a0f6c9e2b1d4c3e9f8a0123456789ab']) {
      expect(() => buildQemuArgv({ ...base.spec, uuid: bad }, base.caps, base.paths)).toThrow(/not a UUID/);
    }
  });
});
