/**
 * Argv sections of clones and templates: the VM's SMBIOS system UUID (`-uuid`), new for
 * every VM and every clone, so a guest (cloud-init, licensing, inventory tools reading
 * /sys/class/dmi/id/product_uuid) tells clones apart.
 */
import { HangarError } from '../errors/errors.js';
import { isSmbiosUuid } from '../model/identity.js';
import type { BuildContext, QemuOption } from './argv.js';

export function uuidSection({ spec }: BuildContext): QemuOption[] {
  if (spec.uuid === undefined) return [];
  if (!isSmbiosUuid(spec.uuid)) throw new HangarError('INVALID_SPEC', `SMBIOS UUID ${JSON.stringify(spec.uuid)} is not a UUID (8-4-4-4-12 hex digits)`, { details: { field: 'uuid' } });
  return [{ flag: '-uuid', kind: 'raw', value: spec.uuid.toLowerCase() }];
}
