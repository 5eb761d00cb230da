/**
 * What high availability asks of a VM: every disk on a pool that every node reaches (a
 * shared pool), so that another node can start it when its own node is lost.
 */
import { HangarError } from '../errors/errors.js';
import type { VmSpec } from '../model/spec.js';

/** HA_NEEDS_SHARED_STORAGE unless every disk of an HA VM is a volume of a shared pool. */
export async function checkHaStorage(spec: VmSpec, pool: (name: string) => Promise<{ shared?: boolean } | undefined>): Promise<void> {
  if (!spec.ha) return;
  const bad: string[] = [];
  for (const d of spec.disks) {
    if (!d.volume) bad.push(`${d.id} is the file ${d.path}, not a volume of a pool`);
    else if (!(await pool(d.volume.pool))?.shared) bad.push(`${d.id} is on pool "${d.volume.pool}", which is not shared`);
  }
  if (bad.length) {
    throw new HangarError('HA_NEEDS_SHARED_STORAGE', `VM "${spec.name}" cannot be HA: ${bad.join('; ')}. Move its disks to a shared pool (hangar pool create NAME --path DIR --shared).`, { details: { field: 'ha' } });
  }
}
