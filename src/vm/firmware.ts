/**
 * A VM's firmware: UEFI chosen through QEMU's firmware descriptors at create (the code and
 * vars template paths pinned in the spec), and the VM's own NVRAM.
 *
 * The NVRAM is an owned raw volume (`<vm>-nvram`) in the storage pool, attached to the VM
 * like its disks: it is deleted with the VM, a live migration with shared storage finds it
 * where the disks are, and one with copied storage copies it like a disk. (Under the data
 * dir it would be one more thing every move had to carry by hand.)
 */
import { existsSync } from 'node:fs';
import { copyFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { errorText, HangarError } from '../errors/errors.js';
import type { FirmwareSpec, MachineType, VmSpec } from '../model/spec.js';
import { validateFirmwareSpec } from '../qemu/argv-firmware.js';
import { chooseFirmware, DESCRIPTOR_DIRS, loadDescriptors } from '../qemu/firmware.js';
import type { StorageService, VolumeRecord } from '../storage/service.js';
import type { VmRecord } from '../store/store.js';

export interface FirmwareInput {
  firmware?: 'bios' | 'uefi';
  secureBoot?: boolean;
}

/**
 * The firmware part of a new VM's spec (undefined: BIOS), checked before anything is made:
 * INVALID_SPEC for combinations that cannot work, FIRMWARE_UNAVAILABLE when no descriptor
 * on this host offers what was asked.
 */
export async function firmwareSpecFor(input: FirmwareInput, machine: MachineType, qemuVersion: string, dirs: string[] = DESCRIPTOR_DIRS()): Promise<FirmwareSpec | undefined> {
  if (input.firmware !== undefined && input.firmware !== 'bios' && input.firmware !== 'uefi') {
    throw new HangarError('INVALID_SPEC', `Firmware "${String(input.firmware)}" is not one of bios, uefi.`, { details: { field: 'firmware' } });
  }
  const kind = input.firmware ?? 'bios';
  const secureBoot = input.secureBoot === true;
  if (secureBoot && input.firmware === undefined) {
    throw new HangarError('INVALID_SPEC', 'Secure Boot needs UEFI firmware, and the default is BIOS: add --firmware uefi (API: "firmware": "uefi").', { details: { field: 'secureBoot' } });
  }
  const fw: FirmwareSpec = { kind, ...(secureBoot && { secureBoot }) };
  validateFirmwareSpec({ firmware: fw, machine });
  if (kind === 'bios') return undefined;
  const { descriptors, skipped } = await loadDescriptors(dirs);
  const chosen = chooseFirmware(descriptors, { machine: machine as 'q35' | 'pc', secureBoot, qemuVersion });
  if (!chosen) {
    const what = secureBoot ? 'UEFI with Secure Boot and enrolled keys (features secure-boot, enrolled-keys)' : 'plain UEFI (no Secure Boot, no SMM)';
    throw new HangarError('FIRMWARE_UNAVAILABLE',
      `No firmware descriptor on this host offers ${what} for x86_64 ${machine}: looked in ${dirs.join(', ')}` +
      `${descriptors.length ? ` (found ${descriptors.map((d) => d.name).join(', ')})` : ' and found none'}. Install OVMF (Debian: apt-get install ovmf).` +
      `${skipped.length ? ` Skipped: ${skipped.join('; ')}.` : ''}`,
      { details: { field: 'firmware' } });
  }
  for (const f of [chosen.code, chosen.varsTemplate]) {
    if (!(await stat(f).then((s) => s.isFile(), () => false))) {
      throw new HangarError('FIRMWARE_UNAVAILABLE', `Firmware descriptor ${chosen.file} names ${f}, which is not there: reinstall OVMF (Debian: apt-get install --reinstall ovmf).`, { details: { field: 'firmware' } });
    }
  }
  return { ...fw, code: chosen.code, varsTemplate: chosen.varsTemplate };
}

/** The VM view's `firmware`. */
export function firmwareView(fw: FirmwareSpec): { kind: 'bios' | 'uefi'; secureBoot: boolean; code?: string; varsTemplate?: string; nvram?: { pool: string; volume: string; path: string } } {
  return { kind: fw.kind, secureBoot: fw.secureBoot === true, ...(fw.code && { code: fw.code }), ...(fw.varsTemplate && { varsTemplate: fw.varsTemplate }), ...(fw.nvram && { nvram: { ...fw.nvram } }) };
}

export function nvramVolumeName(vm: string): string {
  return `${vm}-nvram`;
}

/** Makes the VM's NVRAM volume from the vars template and records it in `spec.firmware`. */
export async function createNvram(storage: StorageService, spec: VmSpec): Promise<VolumeRecord | undefined> {
  const fw = spec.firmware;
  if (fw?.kind !== 'uefi' || !fw.varsTemplate) return undefined;
  const size = (await stat(fw.varsTemplate)).size;
  const vol = await storage.createVolume({ name: nvramVolumeName(spec.name), format: 'raw', size, ownedBy: spec.name });
  try {
    await copyFile(fw.varsTemplate, vol.path);
  } catch (e) {
    await storage.deleteVolume(vol.pool, vol.name, { evenIfOwned: true }).catch(() => undefined);
    throw new HangarError('STORAGE_FAILED', `Copying the vars template ${fw.varsTemplate} to ${vol.path} failed: ${errorText(e)}`, { cause: e });
  }
  fw.nvram = { pool: vol.pool, volume: vol.name, path: vol.path };
  return vol;
}

/** `vm nvram reset`: the NVRAM becomes a fresh copy of the template (same file: owner and mode stay). */
export async function resetNvram(rec: VmRecord): Promise<void> {
  const fw = rec.spec.firmware;
  if (fw?.kind !== 'uefi' || !fw.nvram || !fw.varsTemplate) {
    throw new HangarError('INVALID_SPEC', `VM "${rec.name}" boots BIOS and has no NVRAM: only UEFI VMs (--firmware uefi) have one.`, { details: { field: 'firmware' } });
  }
  await copyFile(fw.varsTemplate, fw.nvram.path);
}

/**
 * The NVRAM is a raw file: a copy of it is kept beside each snapshot (next to the NVRAM
 * volume in its pool, as `<volume>@<snapshot>.raw`; volume names have no '@') and in each
 * save, and copied back when the VM returns to that point.
 */
export function nvramSnapshotFile(spec: Pick<VmSpec, 'firmware'>, snapshot: string): string | undefined {
  const nv = spec.firmware?.nvram;
  return nv ? join(dirname(nv.path), `${nv.volume}@${snapshot}.raw`) : undefined;
}

/** Copies the VM's NVRAM to `file` (nothing for BIOS). */
export async function copyNvramTo(spec: Pick<VmSpec, 'firmware'>, file: string | undefined): Promise<void> {
  const nv = spec.firmware?.nvram;
  if (!nv || !file) return;
  await copyFile(nv.path, `${file}.partial`);
  await rename(`${file}.partial`, file);
}

/** Copies `file` back over the VM's NVRAM (same inode: owner and mode stay); false when there is no copy. */
export async function copyNvramFrom(spec: Pick<VmSpec, 'firmware'>, file: string | undefined): Promise<boolean> {
  const nv = spec.firmware?.nvram;
  if (!nv || !file || !existsSync(file)) return false;
  await copyFile(file, nv.path);
  return true;
}

/** The NVRAM volume of a deleted VM goes with it (and the copies kept for its snapshots). */
export async function releaseNvram(storage: StorageService, spec: VmSpec, vmName: string, log: (msg: string) => void): Promise<void> {
  const nv = spec.firmware?.nvram;
  if (!nv) return;
  try {
    const v = await storage.markAttached(nv.pool, nv.volume, undefined);
    if (v.ownedBy === vmName) await storage.deleteVolume(nv.pool, nv.volume, { evenIfOwned: true });
  } catch (e) {
    log(`${vmName}: releasing NVRAM volume ${nv.pool}/${nv.volume} failed: ${errorText(e)}`);
  }
  const dir = dirname(nv.path);
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    if (f.startsWith(`${nv.volume}@`) && f.endsWith('.raw')) await rm(join(dir, f), { force: true });
  }
}
