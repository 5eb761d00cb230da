import { describe, expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import { resolveAccel } from './spec.js';
import { formatMiB, isIPv4, parseMemoryMiB, validateCpuModel, validateCpus, validateMicrovmDisplay, validateVmName } from './validate.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof HangarError ? e.code : 'OTHER';
  }
  return undefined;
}

describe('validateVmName', () => {
  it.each(['web1', 'a', 'My-vm-2', 'x'.repeat(63)])('accepts %s', (n) => {
    expect(validateVmName(n)).toBe(n);
  });
  it.each(['', '../x', 'a,b', 'x'.repeat(64), 'x'.repeat(300), '1abc', '-a', 'a b', 'a/b', 'a.b', 'é'])('rejects %j', (n) => {
    expect(codeOf(() => validateVmName(n))).toBe('INVALID_NAME');
  });
  it('rejects non-strings', () => {
    expect(codeOf(() => validateVmName(42))).toBe('INVALID_NAME');
  });
});

describe('parseMemoryMiB', () => {
  it.each([
    ['256M', 256], ['256', 256], [256, 256], ['1G', 1024], ['2GiB', 2048], ['1.5G', 1536], ['512mb', 512], ['1T', 1048576],
  ] as const)('%j is %d MiB', (input, mib) => {
    expect(parseMemoryMiB(input)).toBe(mib);
  });
  it.each([0, -1, '-1G', '0', '8M', 'lots', '', '1Q', '20T', 1.5, '1.3M', null, {}])('rejects %j', (v) => {
    expect(codeOf(() => parseMemoryMiB(v))).toBe('INVALID_SPEC');
  });
});

describe('validateCpus', () => {
  it('accepts 1..288', () => {
    expect(validateCpus(1)).toBe(1);
    expect(validateCpus(288)).toBe(288);
  });
  it.each([0, -2, 1.5, 289, 100000, '2', null])('rejects %j', (v) => {
    expect(codeOf(() => validateCpus(v))).toBe('INVALID_SPEC');
  });
});

it('formatMiB', () => {
  expect(formatMiB(256)).toBe('256M');
  expect(formatMiB(2048)).toBe('2G');
  expect(formatMiB(1048576)).toBe('1T');
});

describe('validateCpuModel', () => {
  it.each(['max', 'host', 'qemu64', 'Skylake-Server-v4', 'EPYC_Rome', 'x'.repeat(64)])('accepts %s', (m) => {
    expect(validateCpuModel(m)).toBe(m);
  });
  it.each(['', '-object', '.hidden', 'max,+vmx', 'max -device x', 'x'.repeat(65)])('rejects %j', (m) => {
    expect(codeOf(() => validateCpuModel(m))).toBe('INVALID_SPEC');
  });
});

describe('isIPv4', () => {
  it.each(['0.0.0.0', '127.0.0.1', '255.255.255.255', '10.77.0.1'])('accepts %s', (a) => expect(isIPv4(a)).toBe(true));
  it.each(['', '256.0.0.1', '01.2.3.4', '1.2.3', '1.2.3.4.5', '1.2.3.4 ', '::1', 'localhost'])('rejects %j', (a) => expect(isIPv4(a)).toBe(false));
});

describe('validateMicrovmDisplay', () => {
  it('refuses a display on a microvm only', () => {
    expect(codeOf(() => validateMicrovmDisplay({ machine: 'microvm', vnc: true }))).toBe('INVALID_SPEC');
    expect(codeOf(() => validateMicrovmDisplay({ machine: 'microvm', vnc: false, spice: true }))).toBe('INVALID_SPEC');
    expect(codeOf(() => validateMicrovmDisplay({ machine: 'microvm', vnc: false }))).toBeUndefined();
    expect(codeOf(() => validateMicrovmDisplay({ machine: 'q35', vnc: true, spice: true }))).toBeUndefined();
  });
});

describe('resolveAccel', () => {
  it("takes the spec's, else the daemon default, and leaves auto to the host", () => {
    expect(resolveAccel({ accel: 'tcg' }, { defaultAccel: 'kvm' })).toBe('tcg');
    expect(resolveAccel({}, { defaultAccel: 'kvm' }, { defaultAccel: 'tcg' })).toBe('tcg');
    expect(resolveAccel({ accel: 'auto' }, { defaultAccel: 'tcg' }, { defaultAccel: 'kvm' })).toBe('tcg');
    expect(resolveAccel({}, { defaultAccel: 'kvm' })).toBe('kvm');
  });
});
