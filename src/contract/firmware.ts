/** Firmware: BIOS or UEFI (OVMF, optionally Secure Boot) in `vm create`, shown on the VM; the NVRAM reset. */
import { Type } from '@sinclair/typebox';

/** Fields of the create body (spread into CreateVmBody). */
export const FirmwareCreateFields = {
  firmware: Type.Optional(Type.Union([Type.Literal('bios'), Type.Literal('uefi')], {
    description: 'Firmware: bios (default; SeaBIOS, qboot on microvm) or uefi (OVMF, found through QEMU\'s firmware descriptors in /usr/share/qemu/firmware; FIRMWARE_UNAVAILABLE when none fits). UEFI VMs get their own NVRAM (an owned raw volume `<name>-nvram`), made from the firmware\'s vars template. Not for microvm.',
  })),
  secureBoot: Type.Optional(Type.Boolean({
    description: 'UEFI Secure Boot with Microsoft\'s keys enrolled (SMM on): needs firmware uefi and machine q35 (else INVALID_SPEC).',
  })),
};

/** The VM view's firmware (absent: BIOS). */
export const VmFirmware = Type.Object({
  kind: Type.Union([Type.Literal('bios'), Type.Literal('uefi')]),
  secureBoot: Type.Boolean(),
  code: Type.Optional(Type.String({ description: 'The firmware code file (read-only), chosen at create.' })),
  varsTemplate: Type.Optional(Type.String({ description: 'The vars template the NVRAM was made from (and `nvram reset` copies).' })),
  nvram: Type.Optional(Type.Object({ pool: Type.String(), volume: Type.String(), path: Type.String() }, { description: 'The VM\'s own NVRAM volume.' })),
}, { description: 'The firmware (absent: BIOS).' });
