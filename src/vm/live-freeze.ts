/**
 * Switching a running guest's disks onto new overlays at one instant (linked clones of a
 * running VM, images made from one). While the guest is paused, for each disk:
 *
 *   device → D (node `disk0`, file P)                        before
 *   device → T (empty, temporary) → D                        blockdev-snapshot: D becomes read-only
 *   device → T → B (a second, read-only node on P)           blockdev-reopen T's backing, then D is deleted
 *   device → D' (node `disk0` again, the new overlay) → B    blockdev-snapshot + reopen, T deleted
 *
 * so the device's top node keeps its name (`disk0`: snapshots, resize, detach, migration
 * and metrics all address it by that name), nothing is copied, and P — frozen — becomes
 * the base that the source and its clones share. storage/freeze.ts then renames P to the
 * base's name and the new overlay to P; QEMU's open files follow the renames.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { HangarError, errorText } from '../errors/errors.js';
import type { DiskSpec } from '../model/spec.js';
import type { QmpClient } from '../qmp/index.js';
import { writeQcow2Overlay } from '../storage/qcow2-overlay.js';
import type { FreezePlan } from '../storage/freeze.js';

/**
 * The block node options of a disk's top node (qcow2 over a file), as argv.ts gives them.
 * Per-disk options other branches add to the argv disk nodes (cache, discard,
 * detect-zeroes, aio) belong here too, so the switched node keeps them.
 */
export function topNodeOptions(disk: DiskSpec, path: string): Record<string, unknown> {
  return {
    driver: 'qcow2', 'node-name': disk.id, 'read-only': false,
    file: { driver: 'file', 'node-name': `file-${disk.id}`, filename: path, 'read-only': false },
    backing: null,
  };
}

/** The internal snapshots in each disk's top node of a running guest, from QEMU (no qemu-img needed). */
export async function liveSnapshotNames(qmp: QmpClient): Promise<Map<string, string[]>> {
  const nodes = await qmp.execute<Array<{ 'node-name': string; image?: { snapshots?: { name: string }[] } }>>('query-named-block-nodes', { flat: true });
  return new Map(nodes.map((n) => [n['node-name'], n.image?.snapshots?.map((x) => x.name) ?? []]));
}

export interface LiveFreezeResult {
  /** How long the guest's vCPUs were stopped, in ms. */
  pauseMs: number;
}

/**
 * Pauses the guest (unless it is paused already), switches every planned disk as above and
 * resumes it. The plans' overlays must exist (prepareFreeze).
 */
export async function liveFreeze(
  qmp: QmpClient, items: Array<{ disk: DiskSpec; plan: FreezePlan }>,
  opts: { running: boolean; /** Makes a new file QEMU opens read-write its own (a guest's own user). */ handOver?: (path: string) => Promise<void> },
): Promise<LiveFreezeResult> {
  const holds = await Promise.all(items.map(async ({ plan }) => {
    if (!plan.holdPath) {
      plan.holdPath = `${plan.volume.path}.hold.partial`;
      await writeQcow2Overlay(plan.holdPath, plan.volume.sizeBytes);
    }
    await Promise.all([opts.handOver?.(plan.holdPath), opts.handOver?.(plan.overlayPath)]);
    return plan.holdPath;
  }));
  const t0 = performance.now();
  if (opts.running) await qmp.execute('stop');
  let switched = 0;
  try {
    for (const [i, { disk, plan }] of items.entries()) {
      await switchDisk(qmp, disk, plan, holds[i]!);
      switched++;
    }
  } catch (e) {
    if (switched === 0) await Promise.all(holds.map((h) => rm(h, { force: true })));
    if (opts.running) await qmp.execute('cont').catch(() => undefined);
    throw new HangarError('STORAGE_FAILED', `Switching the running guest's disks onto new overlays failed${switched > 0 ? ' after some disks were switched (restart the VM to return to its disks)' : ''}: ${errorText(e)}`, { cause: e });
  }
  if (opts.running) await qmp.execute('cont');
  const pauseMs = performance.now() - t0;
  await Promise.all(holds.map((h) => rm(h, { force: true })));
  return { pauseMs };
}

async function switchDisk(qmp: QmpClient, disk: DiskSpec, plan: FreezePlan, holdPath: string): Promise<void> {
  const tag = randomBytes(3).toString('hex');
  const hold = `ht${tag}`;
  const base = `hb${tag}`;
  const current = plan.volume.path;
  // 1. A temporary overlay takes the device's writes; the current node becomes read-only.
  await qmp.execute('blockdev-add', { driver: 'qcow2', 'node-name': hold, file: { driver: 'file', 'node-name': `htf${tag}`, filename: holdPath }, backing: null });
  await qmp.execute('blockdev-snapshot', { node: disk.id, overlay: hold });
  // 2. The frozen file, opened again read-only under a new name, becomes the backing; the old node goes.
  await qmp.execute('blockdev-add', { driver: 'qcow2', 'node-name': base, 'read-only': true, file: { driver: 'file', 'node-name': `hbf${tag}`, filename: current, 'read-only': true } });
  await qmp.execute('blockdev-reopen', { options: [{ driver: 'qcow2', 'node-name': hold, file: `htf${tag}`, backing: base }] });
  await qmp.execute('blockdev-del', { 'node-name': disk.id });
  // A file node made by -blockdev stays behind; one made inline (hot-plug, an earlier switch) went with its parent.
  await qmp.execute('blockdev-del', { 'node-name': `file-${disk.id}` }).catch(() => undefined);
  // 3. The new overlay, under the device's own node name, on top; the temporary one goes.
  await qmp.execute('blockdev-add', topNodeOptions(disk, plan.overlayPath));
  await qmp.execute('blockdev-snapshot', { node: hold, overlay: disk.id });
  const top = topNodeOptions(disk, plan.overlayPath);
  await qmp.execute('blockdev-reopen', { options: [{ ...top, file: `file-${disk.id}`, backing: base }] });
  await qmp.execute('blockdev-del', { 'node-name': hold });
}
