/**
 * Freezing a volume: its content at this instant becomes a new read-only *base* volume,
 * and the volume itself becomes an empty qcow2 overlay of that base, at the same path, with
 * the same name. Linked clones of a VM's disks (and images made from a VM) read the base,
 * which nobody writes any more; the VM keeps writing its own volume.
 *
 * For a stopped VM this is two renames. For a running VM the caller switches QEMU onto
 * the new overlay while the guest is paused (vm/live-freeze.ts) between `prepare` and
 * `commit`; QEMU's open files follow the renames.
 */
import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { HangarError } from '../errors/errors.js';
import { writeQcow2Overlay } from './qcow2-overlay.js';
import { snapshotNames } from './qemu-img.js';
import type { StorageService, VolumeRecord } from './service.js';

export interface FreezePlan {
  volume: VolumeRecord;
  /** The new base's name and path (the volume's current file moves there at commit). */
  baseName: string;
  basePath: string;
  /** The empty overlay (its header names basePath), built beside the volume; it becomes the volume's file at commit. */
  overlayPath: string;
  /** A running guest's temporary overlay during the switch (vm/live-freeze.ts). */
  holdPath?: string;
}

type Storage = Pick<StorageService, 'getVolume' | 'putVolume' | 'pathFor'>;

/** Names the base and the overlay of a freeze of the volume (nothing is written yet). */
export async function planFreeze(storage: Storage, pool: string, name: string): Promise<FreezePlan> {
  const volume = await storage.getVolume(pool, name);
  if (volume.format !== 'qcow2') {
    throw new HangarError('INVALID_SPEC', `Volume "${name}" is ${volume.format}: a linked clone needs qcow2 disks. Make a full copy (without --linked).`);
  }
  const baseName = `${name.slice(0, 80)}.base-${randomBytes(3).toString('hex')}`;
  const basePath = await storage.pathFor(pool, baseName, 'qcow2');
  return { volume, baseName, basePath, overlayPath: `${volume.path}.freeze.partial` };
}

/**
 * Checks the volume holds no internal snapshots and builds the empty overlay (and, for a
 * running guest, the temporary one of vm/live-freeze.ts), side by side: each is one qemu-img.
 */
export async function buildFreezeFiles(plan: FreezePlan, opts: { hold?: boolean; snapshots?: () => Promise<string[]> } = {}): Promise<void> {
  const { volume } = plan;
  if (opts.hold) plan.holdPath = `${volume.path}.hold.partial`;
  await rm(plan.overlayPath, { force: true });
  if (plan.holdPath) await rm(plan.holdPath, { force: true });
  const [snaps] = await Promise.all([
    (opts.snapshots ?? (() => snapshotNames(volume.path)))(),
    writeQcow2Overlay(plan.overlayPath, volume.sizeBytes, { path: plan.basePath, format: 'qcow2' }),
    plan.holdPath ? writeQcow2Overlay(plan.holdPath, volume.sizeBytes) : undefined,
  ]).catch(async (e: unknown) => {
    await abandonFreeze(plan);
    throw e;
  });
  if (snaps.length > 0) {
    await abandonFreeze(plan);
    throw new HangarError('VM_STATE', `Volume "${volume.name}" holds internal snapshots (${snaps.slice(0, 3).join(', ')}): a linked clone would freeze them into a shared base. Delete them, or make a full copy (without --linked).`);
  }
}

/** planFreeze, then buildFreezeFiles. */
export async function prepareFreeze(storage: Storage, pool: string, name: string, opts: { hold?: boolean; snapshots?: () => Promise<string[]> } = {}): Promise<FreezePlan> {
  const plan = await planFreeze(storage, pool, name);
  await buildFreezeFiles(plan, opts);
  return plan;
}

/** Moves the files into place and records the base and the overlay. Returns the base. */
export async function commitFreeze(storage: Storage, plan: FreezePlan): Promise<VolumeRecord> {
  const { volume: v, baseName, basePath, overlayPath } = plan;
  await rename(v.path, basePath);
  await rename(overlayPath, v.path);
  const base: VolumeRecord = { pool: v.pool, name: baseName, format: 'qcow2', sizeBytes: v.sizeBytes, path: basePath, frozen: true, createdAt: new Date().toISOString() };
  if (v.backing) base.backing = v.backing;
  if (v.base) base.base = v.base;
  await storage.putVolume(base, { create: true });
  const top: VolumeRecord = { ...v, base: { pool: v.pool, name: baseName } };
  delete top.backing;
  await storage.putVolume(top);
  return base;
}

/** Drops a prepared overlay that was not used (the live switch failed before it took). */
export async function abandonFreeze(plan: FreezePlan): Promise<void> {
  await rm(plan.overlayPath, { force: true });
  if (plan.holdPath) await rm(plan.holdPath, { force: true });
}
