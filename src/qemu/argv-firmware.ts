/**
 * The firmware's part of the QEMU command line (a section of argv.ts, pure).
 *
 * BIOS: QEMU's default SeaBIOS (qboot on microvm), with its serial console when the VM boots
 * from the network. UEFI: OVMF on two pflash
 * devices, as libvirt does it on QEMU ≥ 5.1: block nodes in JSON -blockdev (code read-only,
 * the VM's own NVRAM raw read-write) named by `-machine pflash0=…,pflash1=…`. Secure Boot
 * also needs SMM (`smm=on`, q35 only) and the flash marked secure, so only code running in
 * SMM can write the authenticated variables.
 */
import { HangarError } from '../errors/errors.js';
import type { VmPaths, VmSpec } from '../model/spec.js';

/** Block node names of the two flash devices (the NVRAM's is mirrored in a migration with copied storage). */
export const FW_CODE_NODE = 'fw-code';
export const FW_VARS_NODE = 'fw-vars';

type Json = string | number | boolean | Json[] | { [key: string]: Json };

/** Option data in argv.ts's shapes (structurally its QemuOption). */
export type FirmwareOption =
  | { flag: string; kind: 'json'; value: { [key: string]: Json } }
  | { flag: string; kind: 'keyval'; pairs: ReadonlyArray<readonly [string, string]> };

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

function invalid(message: string, field = 'firmware'): HangarError {
  return new HangarError('INVALID_SPEC', message, { details: { field } });
}

/** True when the VM boots OVMF from pflash. */
export function isUefi(spec: Pick<VmSpec, 'firmware'>): boolean {
  return spec.firmware?.kind === 'uefi';
}

/**
 * Firmware rules that need only the spec: what a user can ask for wrongly (Secure Boot on
 * BIOS or on a machine without SMM, UEFI on microvm) is INVALID_SPEC with field `firmware`
 * or `secureBoot`, said plainly.
 */
export function validateFirmwareSpec(spec: Pick<VmSpec, 'firmware' | 'machine'>): void {
  const fw = spec.firmware;
  if (fw === undefined) return;
  if (fw.kind !== 'bios' && fw.kind !== 'uefi') throw invalid(`Firmware ${JSON.stringify(fw.kind)} is not one of bios, uefi`);
  if (fw.secureBoot !== undefined && typeof fw.secureBoot !== 'boolean') throw invalid('secureBoot must be true or false', 'secureBoot');
  if (fw.secureBoot && fw.kind !== 'uefi') throw invalid('Secure Boot needs UEFI firmware: use --firmware uefi with --secure-boot (BIOS has no Secure Boot)', 'secureBoot');
  if (fw.kind === 'uefi' && spec.machine === 'microvm') throw invalid('A microvm cannot boot UEFI (it has no flash for OVMF): use --machine q35 for --firmware uefi');
  if (fw.secureBoot && spec.machine !== 'q35') {
    throw invalid(`Secure Boot needs SMM, which QEMU offers on machine q35 only, not ${spec.machine}: use --machine q35 with --secure-boot`, 'secureBoot');
  }
}

/** `-machine` pairs: the flash block nodes, and SMM for Secure Boot; under BIOS, the serial console for network boot. */
export function firmwareMachinePairs(spec: Pick<VmSpec, 'firmware'> & Partial<Pick<VmSpec, 'machine' | 'boot' | 'nics'>>): Array<[string, string]> {
  if (!isUefi(spec)) {
    // SeaBIOS prints only to the VGA screen; OVMF also to the serial port. A VM that boots from
    // the network gets SeaBIOS's serial console (QEMU passes `etc/sercon-port` for graphics=off;
    // the VGA display stays), so iPXE's DHCP and TFTP progress is in its serial log and console.
    const netboot = spec.boot?.kind === 'disk' && (spec.nics ?? []).some((n) => n.bootIndex !== undefined);
    return netboot && (spec.machine === 'q35' || spec.machine === 'pc') ? [['graphics', 'off']] : [];
  }
  const pairs: Array<[string, string]> = [];
  if (spec.firmware?.secureBoot) pairs.push(['smm', 'on']);
  pairs.push(['pflash0', FW_CODE_NODE], ['pflash1', FW_VARS_NODE]);
  return pairs;
}

/** The flash block nodes (and the secure flag), in argv order after -machine. */
export function firmwareOptions(spec: Pick<VmSpec, 'firmware' | 'machine' | 'name'>, paths: Pick<VmPaths, 'nvram'>): FirmwareOption[] {
  validateFirmwareSpec(spec);
  const fw = spec.firmware;
  if (fw?.kind !== 'uefi') return [];
  const code = fw.code;
  const nvram = paths.nvram;
  if (code === undefined || !code.startsWith('/') || CONTROL_CHARS.test(code)) {
    throw invalid(`VM ${spec.name} has UEFI firmware but no usable firmware code path (${JSON.stringify(code)}): recreate it with --firmware uefi`);
  }
  if (nvram === undefined || !nvram.startsWith('/') || CONTROL_CHARS.test(nvram)) {
    throw new HangarError('INTERNAL', `VM ${spec.name} has UEFI firmware but no NVRAM path (${JSON.stringify(nvram)})`);
  }
  const options: FirmwareOption[] = [
    blockdev({ driver: 'file', 'node-name': `${FW_CODE_NODE}-file`, filename: code, 'read-only': true }),
    blockdev({ driver: 'raw', 'node-name': FW_CODE_NODE, file: `${FW_CODE_NODE}-file`, 'read-only': true }),
    blockdev({ driver: 'file', 'node-name': `${FW_VARS_NODE}-file`, filename: nvram, 'read-only': false }),
    blockdev({ driver: 'raw', 'node-name': FW_VARS_NODE, file: `${FW_VARS_NODE}-file`, 'read-only': false }),
  ];
  if (fw.secureBoot) options.push({ flag: '-global', kind: 'keyval', pairs: [['driver', 'cfi.pflash01'], ['property', 'secure'], ['value', 'on']] });
  return options;
}

function blockdev(value: { [key: string]: Json }): FirmwareOption {
  return { flag: '-blockdev', kind: 'json', value };
}
