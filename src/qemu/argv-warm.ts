/**
 * Argv sections of warm templates and clones (src/templates):
 *
 * - `memoryBacking: 'file'`: guest RAM is a file in the VM's data dir, mapped shared
 *   (`memory-backend-file,share=on`), so a template can be made of the running guest: its
 *   device state is saved with the `x-ignore-shared` migration capability (RAM stays in the
 *   file) and the file is copied.
 * - a warm clone's first run (`warmMemory`): the template's memory file mapped privately
 *   (`share=off`, copy-on-write: the clones share the template's pages until they write
 *   them), QEMU waiting for the template's device state (`-incoming defer`).
 * - `vmgenid`: QEMU's VM generation ID device, new for every clone (Linux reseeds its RNG
 *   when it changes, where the kernel has the driver).
 *
 * Both memory forms use the same backend id (`ram0`): the migration stream names RAM blocks
 * by it, so a template's state loads into a clone.
 */
import { HangarError } from '../errors/errors.js';
import type { VmSpec } from '../model/spec.js';
import type { BuildContext, QemuOption } from './argv.js';

/** The id of guest RAM's backend (argv.ts RAM_BACKEND_ID: the same block name). */
export const WARM_RAM_BACKEND_ID = 'ram0';
export const VMGENID_DEVICE_ID = 'vmgenid0';
const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * MEMORY_BACKING_CONFLICT when a spec asks for file-backed memory together with a memory
 * form it excludes (virtiofs needs a shared memfd, hugepages a hugetlb memfd; NUMA nodes
 * have one backend each).
 */
export function checkMemoryBacking(spec: Pick<VmSpec, 'name' | 'memoryBacking' | 'hugepages' | 'shares' | 'numa'>): void {
  if (spec.memoryBacking === undefined) return;
  if (spec.memoryBacking !== 'file') {
    throw new HangarError('INVALID_SPEC', `memoryBacking ${JSON.stringify(spec.memoryBacking)} is not one of: file`, { details: { field: 'memoryBacking' } });
  }
  const conflict = spec.shares?.length ? 'virtiofs shares (their guest RAM is a shared memfd)'
    : spec.hugepages ? 'hugepages (guest RAM is a hugetlb memfd)'
      : spec.numa?.length ? 'guest NUMA nodes (each node has a memory backend of its own)' : undefined;
  if (conflict) {
    throw new HangarError('MEMORY_BACKING_CONFLICT', `VM "${spec.name}": file-backed memory (a warm template's source) cannot be combined with ${conflict}. Leave one of them out.`, { details: { field: 'memoryBacking' } });
  }
}

/** True when guest RAM is a file backend (the `-machine memory-backend=` pair is then needed). */
export function hasFileMemory({ spec, warmMemory }: Pick<BuildContext, 'spec' | 'warmMemory'>): boolean {
  return spec.memoryBacking === 'file' || warmMemory !== undefined;
}

/** The `-object memory-backend-file` of guest RAM, or nothing. */
export function fileMemoryObject(ctx: BuildContext): QemuOption[] {
  const { spec, paths, warmMemory } = ctx;
  if (!hasFileMemory(ctx)) return [];
  checkMemoryBacking({ ...spec, memoryBacking: 'file' });
  const path = warmMemory ?? paths.memoryFile;
  if (path === undefined || !path.startsWith('/')) throw new HangarError('INTERNAL', `VM ${spec.name} has file-backed memory but no absolute memory file path`);
  return [{
    flag: '-object', kind: 'json',
    value: { 'qom-type': 'memory-backend-file', id: WARM_RAM_BACKEND_ID, size: spec.memoryMiB * 2 ** 20, 'mem-path': path, share: warmMemory === undefined },
  }];
}

/** `-device vmgenid` with the spec's GUID. */
export function vmgenidSection({ spec }: BuildContext): QemuOption[] {
  if (spec.vmgenid === undefined) return [];
  if (!GUID.test(spec.vmgenid)) throw new HangarError('INVALID_SPEC', `vmgenid ${JSON.stringify(spec.vmgenid)} is not a GUID (8-4-4-4-12 hex digits)`, { details: { field: 'vmgenid' } });
  if (spec.machine === 'microvm') throw new HangarError('INVALID_SPEC', 'vmgenid needs ACPI tables from the firmware: not on microvm', { details: { field: 'vmgenid' } });
  return [{ flag: '-device', kind: 'json', value: { driver: 'vmgenid', id: VMGENID_DEVICE_ID, guid: spec.vmgenid.toLowerCase() } }];
}
