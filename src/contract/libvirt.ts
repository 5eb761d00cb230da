/** Import from libvirt: a domain's XML (`virsh dumpxml`) becomes a Hangar VM. */
import { Type, type Static } from '@sinclair/typebox';
import { strict } from './common.js';
import type { Vm } from './vms.js';

export const ImportLibvirtBody = Type.Object(
  {
    xml: Type.String({ description: 'The domain XML, as `virsh dumpxml NAME` writes it (at most 1 MiB; DTDs and entities are refused).' }),
    ignoreUnsupported: Type.Optional(Type.Boolean({ description: 'Leave out what Hangar cannot carry over (listed in the reply) instead of refusing with IMPORT_UNSUPPORTED.' })),
    inPlace: Type.Optional(Type.Boolean({ description: 'Use the disk files where they are: their folder becomes a pool (or the pool that is that folder is used); deleting the VM leaves them. Default: each disk is copied into a pool.' })),
    pool: Type.Optional(Type.String({ description: 'Copies: the pool they go to (default: default). In place: the name of the pool made for the files\' folder.' })),
    name: Type.Optional(Type.String({ description: 'The VM\'s name (default: the domain\'s).' })),
    dryRun: Type.Optional(Type.Boolean({ description: 'Check everything and report; make nothing.' })),
  },
  strict,
);

export const ImportUnsupported = Type.Object({
  path: Type.String({ description: 'Where in the domain XML, XPath-like: /domain/devices/hostdev[1].' }),
  reason: Type.String(),
});

export const ImportLibvirtReply = Type.Object({
  vm: Type.Optional(Type.Unsafe<Vm>(Type.Ref('Vm'))),
  unsupported: Type.Array(ImportUnsupported, { description: 'What was left out (with ignoreUnsupported).' }),
  disks: Type.Array(Type.Object({
    target: Type.String({ description: 'The libvirt target device (vda, sdb…).' }),
    source: Type.String({ description: 'The file libvirt used.' }),
    path: Type.String({ description: 'The file the VM uses.' }),
    copied: Type.Boolean(),
    pool: Type.Optional(Type.String()),
    volume: Type.Optional(Type.String()),
  })),
  poolsCreated: Type.Array(Type.String()),
  dryRun: Type.Boolean(),
});

export type ImportLibvirtBody = Static<typeof ImportLibvirtBody>;
export type ImportLibvirtReply = Static<typeof ImportLibvirtReply>;
