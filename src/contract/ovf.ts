/** Import from VMware / OVF: an .ova or .ovf appliance becomes a Hangar VM. */
import { Type, type Static } from '@sinclair/typebox';
import { strict } from './common.js';
import type { Vm } from './vms.js';

export const ImportOvfBody = Type.Object(
  {
    file: Type.String({ description: 'Absolute path on the daemon\'s host of an .ova archive, or of an .ovf descriptor with its disk files (and .mf manifest) beside it. DTDs and entities in the descriptor are refused.' }),
    name: Type.Optional(Type.String({ description: 'The VM\'s name (default: the appliance\'s, made a valid name).' })),
    pool: Type.Optional(Type.String({ description: 'The pool its disks go to (default: default).' })),
    network: Type.Optional(Type.String({ description: 'A managed network every NIC goes on (default: user-mode NICs).' })),
    ignoreUnsupported: Type.Optional(Type.Boolean({ description: 'Leave out the hardware Hangar cannot carry over (listed in the result) instead of refusing with OVF_UNSUPPORTED.' })),
    dryRun: Type.Optional(Type.Boolean({ description: 'Check and answer the plan at once (200); convert and make nothing.' })),
  },
  strict,
);

export const OvfIssue = Type.Object({
  path: Type.String({ description: 'Where in the descriptor, e.g. VirtualHardwareSection/Item[InstanceID=7] "Sound Card".' }),
  reason: Type.String(),
});

export const ImportOvfReply = Type.Object({
  vm: Type.Optional(Type.Unsafe<Vm>(Type.Ref('Vm'))),
  name: Type.String(),
  cpus: Type.Integer(),
  memoryMiB: Type.Integer(),
  firmware: Type.String({ description: 'bios or uefi' }),
  disks: Type.Array(Type.Object({
    diskId: Type.String(), bus: Type.String(), source: Type.Optional(Type.String({ description: 'The disk file in the appliance (absent: a blank disk).' })),
    pool: Type.String(), volume: Type.String(), sizeBytes: Type.Integer(),
  })),
  nics: Type.Array(Type.Object({ id: Type.String(), model: Type.String(), mac: Type.String(), macFromOvf: Type.Boolean(), network: Type.Optional(Type.String()) })),
  unsupported: Type.Array(OvfIssue, { description: 'What was left out (with ignoreUnsupported).' }),
  notes: Type.Array(OvfIssue, { description: 'What was carried over differently or is informational only (OS type, NIC model changes, graphics…).' }),
  dryRun: Type.Boolean(),
}, { description: 'The plan (dry run), or the operation\'s result.' });

export type ImportOvfBody = Static<typeof ImportOvfBody>;
export type ImportOvfReply = Static<typeof ImportOvfReply>;
