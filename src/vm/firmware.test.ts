import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import { firmwareSpecFor, firmwareView } from './firmware.js';

const SHARE = fileURLToPath(new URL('../qemu/firmware-fixtures/share', import.meta.url));

async function refusal(p: Promise<unknown>): Promise<HangarError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof HangarError) return e;
    throw e;
  }
  throw new Error('not refused');
}

describe('firmware of a new VM', () => {
  it('BIOS: nothing in the spec', async () => {
    expect(await firmwareSpecFor({}, 'q35', '7.2.0', [SHARE])).toBeUndefined();
    expect(await firmwareSpecFor({ firmware: 'bios' }, 'microvm', '7.2.0', [SHARE])).toBeUndefined();
  });

  it('UEFI and Secure Boot: code and template from the descriptors (the fixtures name the host\'s OVMF files)', async () => {
    expect(await firmwareSpecFor({ firmware: 'uefi' }, 'q35', '7.2.0', [SHARE])).toEqual({
      kind: 'uefi', code: '/usr/share/OVMF/OVMF_CODE_4M.fd', varsTemplate: '/usr/share/OVMF/OVMF_VARS_4M.fd',
    });
    expect(await firmwareSpecFor({ firmware: 'uefi', secureBoot: true }, 'q35', '7.2.0', [SHARE])).toEqual({
      kind: 'uefi', secureBoot: true, code: '/usr/share/OVMF/OVMF_CODE_4M.ms.fd', varsTemplate: '/usr/share/OVMF/OVMF_VARS_4M.ms.fd',
    });
  });

  it('bad combinations: INVALID_SPEC before any descriptor is read', async () => {
    for (const [input, machine, field] of [
      [{ secureBoot: true }, 'q35', 'secureBoot'],
      [{ firmware: 'bios', secureBoot: true }, 'q35', 'secureBoot'],
      [{ firmware: 'uefi', secureBoot: true }, 'pc', 'secureBoot'],
      [{ firmware: 'uefi' }, 'microvm', 'firmware'],
    ] as const) {
      const e = await refusal(firmwareSpecFor(input, machine, '7.2.0', ['/nonexistent']));
      expect([e.code, e.details]).toEqual(['INVALID_SPEC', { field }]);
    }
  });

  it('no descriptor: FIRMWARE_UNAVAILABLE saying where it looked and what to install', async () => {
    const e = await refusal(firmwareSpecFor({ firmware: 'uefi' }, 'q35', '7.2.0', ['/nonexistent/firmware']));
    expect(e.code).toBe('FIRMWARE_UNAVAILABLE');
    expect(e.message).toMatch(/\/nonexistent\/firmware and found none.*apt-get install ovmf/);
  });

  it('the view', () => {
    expect(firmwareView({ kind: 'uefi', code: '/c', varsTemplate: '/t', nvram: { pool: 'default', volume: 'a-nvram', path: '/p' } }))
      .toEqual({ kind: 'uefi', secureBoot: false, code: '/c', varsTemplate: '/t', nvram: { pool: 'default', volume: 'a-nvram', path: '/p' } });
  });
});
