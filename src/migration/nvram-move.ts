/**
 * A UEFI VM's NVRAM in a live migration. Its content needs no copy of its own: the flash is
 * RAM to QEMU, so it travels in the migration stream, and QEMU writes it back to the
 * destination's NVRAM file when the guest resumes there (pflash post-load). What the
 * destination needs is that file: with shared storage the source's volume (adopted here
 * like a shared disk), with copied storage (or when the source's file is not on this host)
 * a new volume of the template's size in this host's pool.
 */
import { existsSync } from 'node:fs';
import { copyFile, stat } from 'node:fs/promises';
import { errorText, HangarError, isHangarError } from '../errors/errors.js';
import type { VmSpec } from '../model/spec.js';
import type { StorageService } from '../storage/service.js';
import { nvramVolumeName } from '../vm/firmware.js';

/**
 * Destination: makes `spec.firmware.nvram` point at a file of this host (changing `spec`).
 * Returns the volume it created, for the clean-up of a failed arrival.
 */
export async function prepareIncomingNvram(storage: StorageService, spec: VmSpec, migrationId: string, copy: boolean): Promise<{ pool: string; name: string } | undefined> {
  const fw = spec.firmware;
  if (fw?.kind !== 'uefi') return undefined;
  for (const f of [fw.code, fw.varsTemplate]) {
    if (f === undefined || !existsSync(f)) {
      throw new HangarError('MIGRATION_FAILED', `VM "${spec.name}" boots UEFI from ${String(f)}, which this host lacks: install the same OVMF here (Debian: apt-get install ovmf).`);
    }
  }
  const nv = fw.nvram;
  if (nv && !copy && existsSync(nv.path)) {
    // Shared storage: the same file; recorded here if it is in a pool of this host.
    const adopted = await storage.adoptVolume(nv.pool, nv.volume, nv.path, 'raw', spec.name).catch(() => undefined);
    if (adopted) await storage.markAttached(nv.pool, nv.volume, spec.name).catch(() => undefined);
    return undefined;
  }
  const size = (await stat(fw.varsTemplate!)).size;
  const input = { format: 'raw' as const, size, ownedBy: spec.name };
  const base = nvramVolumeName(spec.name);
  const vol = await storage.createVolume({ ...input, name: base }).catch((e: unknown) => {
    if (isHangarError(e) && e.code === 'VOLUME_EXISTS') return storage.createVolume({ ...input, name: `${base}-${migrationId.slice(0, 6)}` });
    throw e;
  });
  try {
    // A valid store until the stream's flash content replaces it at the resume.
    await copyFile(fw.varsTemplate!, vol.path);
    await storage.markAttached(vol.pool, vol.name, spec.name);
  } catch (e) {
    await storage.deleteVolume(vol.pool, vol.name, { evenIfOwned: true }).catch(() => undefined);
    throw new HangarError('MIGRATION_FAILED', `Making the NVRAM of "${spec.name}" here failed: ${errorText(e)}`, { cause: e });
  }
  fw.nvram = { pool: vol.pool, volume: vol.name, path: vol.path };
  return { pool: vol.pool, name: vol.name };
}

/** Source, after the guest left: a copied NVRAM is deleted here; a shared one is forgotten (the destination owns it now). */
export async function releaseOutgoingNvram(storage: StorageService, spec: VmSpec, copied: boolean, log: (msg: string) => void): Promise<void> {
  const nv = spec.firmware?.nvram;
  if (!nv) return;
  try {
    await storage.markAttached(nv.pool, nv.volume, undefined);
    if (copied) await storage.deleteVolume(nv.pool, nv.volume, { evenIfOwned: true });
    else await storage.forgetVolume(nv.pool, nv.volume);
  } catch (e) {
    log(`${spec.name}: releasing NVRAM volume ${nv.pool}/${nv.volume} after the migration failed: ${errorText(e)}`);
  }
}

/** The spec the source keeps for a migrated VM: no NVRAM of its own any more. */
export function withoutNvram(spec: VmSpec): VmSpec {
  if (!spec.firmware?.nvram) return spec;
  const { nvram: _gone, ...firmware } = spec.firmware;
  return { ...spec, firmware };
}
