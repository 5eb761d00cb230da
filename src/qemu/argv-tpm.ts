/**
 * The vTPM's part of the QEMU command line: QEMU's `tpm-emulator` backend talks to the VM's
 * swtpm over its control socket, and the guest sees a TPM 2.0 as `tpm-crb` (q35) or
 * `tpm-tis` (pc). The TPM's state travels inside QEMU's migration stream (save/restore,
 * memory snapshots, live migration), so nothing else is needed on the command line.
 *
 * QEMU 7.2 parses `-tpmdev` only as QemuOpts (its JSON form came later), and `-chardev`
 * likewise: both carry only daemon-chosen values (constant ids, the socket path, escaped by
 * argv.ts's renderer). The device uses the JSON syntax.
 */
import { HangarError } from '../errors/errors.js';
import type { MachineType, TpmSpec, VmPaths, VmSpec } from '../model/spec.js';

/** Option data in argv.ts's shape (rendered and escaped there). */
type TpmOption =
  | { flag: string; kind: 'keyval'; head: string; pairs: ReadonlyArray<readonly [string, string]> }
  | { flag: string; kind: 'json'; value: { [key: string]: string } };

export const TPM_CHARDEV_ID = 'chrtpm';
export const TPM_BACKEND_ID = 'tpm0';
/** The TPM device's QOM id (taken from the ids users may give devices). */
export const TPM_DEVICE_ID = 'tpm0-dev';

/** The TPM interface a machine gets: CRB on q35 (what Windows 11 and the ACPI TPM2 table expect), TIS on pc. */
export function tpmModelFor(machine: MachineType): TpmSpec['model'] {
  if (machine === 'microvm') {
    throw new HangarError('INVALID_SPEC', 'A microvm has no TPM interface (no ACPI TPM device, no ISA bus): use machine q35 or pc for --tpm.', { details: { field: 'tpm' } });
  }
  return machine === 'q35' ? 'crb' : 'tis';
}

/** Refuses what QEMU would refuse (or misplace): a TPM on microvm, CRB on pc, a missing socket path. */
export function validateTpm(spec: VmSpec, paths: VmPaths): void {
  const tpm = spec.tpm;
  if (tpm === undefined) return;
  const invalid = (message: string) => new HangarError('INVALID_SPEC', message, { details: { field: 'tpm' } });
  if (tpm.model !== 'crb' && tpm.model !== 'tis') throw invalid(`TPM model ${JSON.stringify(tpm.model)} is not one of crb, tis`);
  if (spec.machine === 'microvm') throw invalid('A microvm cannot have a TPM: use machine q35 or pc.');
  // tpm-crb sits at a fixed MMIO address that only q35's memory map leaves free.
  if (tpm.model === 'crb' && spec.machine !== 'q35') throw invalid('tpm-crb needs machine q35; on pc use model tis.');
  const sock = paths.tpmSocket;
  if (sock === undefined) throw new HangarError('INTERNAL', `VM ${spec.name} has a TPM but no swtpm socket path`);
  if (!sock.startsWith('/') || Buffer.byteLength(sock, 'utf8') > 107) {
    throw new HangarError('INTERNAL', `The swtpm socket path must be absolute and at most 107 bytes: ${JSON.stringify(sock)}`);
  }
}

/** `-chardev` to swtpm's control socket, the `emulator` backend on it, and the guest's TPM device. */
export function tpmSection({ spec, paths }: { spec: VmSpec; paths: VmPaths }): TpmOption[] {
  if (spec.tpm === undefined) return [];
  validateTpm(spec, paths);
  return [
    { flag: '-chardev', kind: 'keyval', head: 'socket', pairs: [['id', TPM_CHARDEV_ID], ['path', paths.tpmSocket!]] },
    { flag: '-tpmdev', kind: 'keyval', head: 'emulator', pairs: [['id', TPM_BACKEND_ID], ['chardev', TPM_CHARDEV_ID]] },
    { flag: '-device', kind: 'json', value: { driver: spec.tpm.model === 'crb' ? 'tpm-crb' : 'tpm-tis', id: TPM_DEVICE_ID, tpmdev: TPM_BACKEND_ID } },
  ];
}
