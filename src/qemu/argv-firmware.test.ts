import { describe, expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import type { FirmwareSpec, MachineType } from '../model/spec.js';
import { firmwareMachinePairs, firmwareOptions, validateFirmwareSpec } from './argv-firmware.js';

const uefi: FirmwareSpec = { kind: 'uefi', code: '/usr/share/OVMF/OVMF_CODE_4M.fd', varsTemplate: '/usr/share/OVMF/OVMF_VARS_4M.fd' };
const spec = (firmware: FirmwareSpec | undefined, machine: MachineType = 'q35') => ({ name: 'vm1', machine, ...(firmware && { firmware }) });

function refusal(fn: () => unknown): HangarError {
  try {
    fn();
  } catch (e) {
    if (e instanceof HangarError) return e;
    throw e;
  }
  throw new Error('not refused');
}

describe('argv firmware section', () => {
  it('BIOS (absent or explicit) adds nothing', () => {
    for (const fw of [undefined, { kind: 'bios' } as FirmwareSpec]) {
      expect(firmwareMachinePairs(spec(fw))).toEqual([]);
      expect(firmwareOptions(spec(fw), {})).toEqual([]);
    }
  });

  it('BIOS with a NIC in the boot order: SeaBIOS serial console (graphics=off), on pc and q35 only', () => {
    const nics = [{ id: 'net0', bootIndex: 0 }] as never;
    const boot = { kind: 'disk' } as const;
    expect(firmwareMachinePairs({ ...spec(undefined), boot, nics })).toEqual([['graphics', 'off']]);
    expect(firmwareMachinePairs({ ...spec({ kind: 'bios' }, 'pc'), boot, nics })).toEqual([['graphics', 'off']]);
    expect(firmwareMachinePairs({ ...spec(undefined, 'microvm'), boot, nics })).toEqual([]);
    expect(firmwareMachinePairs({ ...spec(undefined), boot, nics: [{ id: 'net0' }] as never })).toEqual([]);
    expect(firmwareMachinePairs({ ...spec(undefined), boot: { kind: 'kernel' } as never, nics })).toEqual([]);
    // OVMF already prints to the serial port.
    expect(firmwareMachinePairs({ ...spec(uefi), boot, nics })).toEqual([['pflash0', 'fw-code'], ['pflash1', 'fw-vars']]);
  });

  it('UEFI: code read-only and NVRAM read-write as pflash0/pflash1 block nodes', () => {
    expect(firmwareMachinePairs(spec(uefi))).toEqual([['pflash0', 'fw-code'], ['pflash1', 'fw-vars']]);
    const opts = firmwareOptions(spec(uefi), { nvram: '/pool/vm1-nvram.raw' });
    expect(opts.map((o) => o.flag)).toEqual(['-blockdev', '-blockdev', '-blockdev', '-blockdev']);
    expect(opts[0]).toMatchObject({ kind: 'json', value: { driver: 'file', filename: uefi.code, 'read-only': true } });
    expect(opts[2]).toMatchObject({ kind: 'json', value: { driver: 'file', filename: '/pool/vm1-nvram.raw', 'read-only': false } });
  });

  it('Secure Boot: SMM on and the flash marked secure', () => {
    const sb = { ...uefi, secureBoot: true };
    expect(firmwareMachinePairs(spec(sb))).toEqual([['smm', 'on'], ['pflash0', 'fw-code'], ['pflash1', 'fw-vars']]);
    expect(firmwareOptions(spec(sb), { nvram: '/n' }).at(-1)).toEqual({ flag: '-global', kind: 'keyval', pairs: [['driver', 'cfi.pflash01'], ['property', 'secure'], ['value', 'on']] });
  });

  it('refuses what cannot work, naming the field', () => {
    const cases: Array<[FirmwareSpec, MachineType, string, RegExp]> = [
      [{ kind: 'bios', secureBoot: true }, 'q35', 'secureBoot', /needs UEFI/],
      [{ ...uefi, secureBoot: true }, 'pc', 'secureBoot', /q35 only/],
      [{ ...uefi, secureBoot: true }, 'microvm', 'firmware', /microvm cannot boot UEFI/],
      [uefi, 'microvm', 'firmware', /microvm cannot boot UEFI/],
      [{ kind: 'efi' as 'uefi' }, 'q35', 'firmware', /not one of bios, uefi/],
    ];
    for (const [fw, machine, field, message] of cases) {
      const e = refusal(() => validateFirmwareSpec(spec(fw, machine)));
      expect(e.code).toBe('INVALID_SPEC');
      expect(e.details).toEqual({ field });
      expect(e.message).toMatch(message);
    }
  });

  it('UEFI without a code path or NVRAM path is refused', () => {
    expect(refusal(() => firmwareOptions(spec({ kind: 'uefi' }), { nvram: '/n' })).code).toBe('INVALID_SPEC');
    expect(refusal(() => firmwareOptions(spec(uefi), {})).code).toBe('INTERNAL');
    expect(refusal(() => firmwareOptions(spec({ ...uefi, code: 'rel/path' }), { nvram: '/n' })).code).toBe('INVALID_SPEC');
  });
});
