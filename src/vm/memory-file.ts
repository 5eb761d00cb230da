/**
 * File-backed guest RAM (spec `memoryBacking: 'file'`, src/qemu/argv-warm.ts): the file is
 * `<data-dir>/memory/<vm-id>.ram`, made fresh before each start (QEMU sizes it) and removed
 * when QEMU ends. A warm clone's first run maps its template's memory file privately: QEMU
 * opens it read-write (QEMU 7.2 has no read-only private mapping of RAM), so a guest user's
 * QEMU is given the file only while it starts, and it goes back to root once QEMU has
 * mapped it (QMP answering means its memory backends exist).
 */
import { randomUUID } from 'node:crypto';
import { chown, mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { VmPaths, VmSpec } from '../model/spec.js';
import { checkMemoryBacking } from '../qemu/argv-warm.js';
import { allowPathTo, handOver, type GuestIdentity } from '../security/guest-identity.js';

export function withMemoryFile(paths: VmPaths, spec: Pick<VmSpec, 'memoryBacking'>, root: string | undefined, id: string): VmPaths {
  if (spec.memoryBacking !== 'file' || root === undefined) return paths;
  return { ...paths, memoryFile: join(root, `${id}.ram`) };
}

/**
 * Before QEMU starts: a fresh, empty memory file of the VM's own (handed to its QEMU's
 * user), and a warm clone's template file lent to it. Returns what to do once QEMU has
 * mapped its memory (take the template file back).
 */
export async function prepareMemoryFiles(paths: VmPaths, warmMemory: string | undefined, id: GuestIdentity | undefined): Promise<() => Promise<void>> {
  if (paths.memoryFile !== undefined && warmMemory === undefined) {
    await mkdir(join(paths.memoryFile, '..'), { recursive: true, mode: 0o700 });
    await rm(paths.memoryFile, { force: true });
    await (await open(paths.memoryFile, 'wx', 0o600)).close();
    if (id) {
      await allowPathTo(paths.memoryFile);
      await handOver(paths.memoryFile, id, 0o600);
    }
  }
  if (warmMemory === undefined || !id) return async () => {};
  // One clone's QEMU at a time holds the file (clones started together take turns, each until its QEMU has mapped it).
  const previous = lending.get(warmMemory) ?? Promise.resolve();
  let done!: () => void;
  const turn = new Promise<void>((resolve) => (done = resolve));
  const chain = previous.then(() => turn);
  lending.set(warmMemory, chain);
  await previous;
  let released = false;
  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    try {
      await chown(warmMemory, 0, 0);
    } finally {
      if (lending.get(warmMemory) === chain) lending.delete(warmMemory);
      done();
    }
  };
  try {
    await allowPathTo(warmMemory);
    await chown(warmMemory, id.uid, id.gid);
  } catch (e) {
    await release().catch(() => undefined);
    throw e;
  }
  return release;
}

/** Template memory files lent to a starting clone's QEMU: the end of the queue of each. */
const lending = new Map<string, Promise<void>>();

/** `vm create --memory-backing file`: the spec field, and a vmgenid (a template's clones each get a new one). */
export function applyMemoryBacking(spec: VmSpec, backing: string | undefined): void {
  if (backing === undefined) return;
  spec.memoryBacking = backing as 'file';
  checkMemoryBacking(spec);
  if (spec.machine !== 'microvm') spec.vmgenid = randomUUID();
}
