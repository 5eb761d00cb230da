/** The installer-media part of a VM's view: CD-ROM drives, boot order, one-time boot device. */
import type { Vm } from '../contract/vms.js';
import { bootOrderOf } from '../model/boot-order.js';
import type { VmSpec } from '../model/spec.js';

export function mediaView(spec: VmSpec): Pick<Vm, 'cdroms' | 'bootOrder' | 'bootOnce'> {
  const v: Pick<Vm, 'cdroms' | 'bootOrder' | 'bootOnce'> = {};
  if (spec.cdroms?.length) {
    v.cdroms = spec.cdroms.map((c) => ({
      id: c.id, bus: c.bus, ...(c.image !== undefined && { image: c.image }), ...(c.path !== undefined && { path: c.path }),
      ...(c.bootIndex !== undefined && spec.boot.kind === 'disk' && { bootIndex: c.bootIndex }),
    }));
  }
  if (spec.boot.kind === 'disk' && (spec.cdroms?.length || spec.nics.some((n) => n.bootIndex !== undefined))) v.bootOrder = bootOrderOf(spec);
  if (spec.bootOnce !== undefined) v.bootOnce = spec.bootOnce;
  return v;
}
