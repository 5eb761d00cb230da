/** Storage: directory pools, volumes, and attaching volumes to VMs. */
import { Type, type Static } from '@sinclair/typebox';
import { strict } from './common.js';

const SizeField = Type.Union([Type.Integer({ minimum: 1 }), Type.String()], { description: 'Bytes as a number, or a size such as "4G" or "512M".' });

export const Pool = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('dir'),
    path: Type.String(),
    totalBytes: Type.Integer(),
    usedBytes: Type.Integer(),
    availableBytes: Type.Integer(),
    volumes: Type.Integer(),
    shared: Type.Optional(Type.Boolean({ description: 'Every node of the cluster reaches this same directory (an NFS mount, say): its disks can run on any node, and HA VMs need them.' })),
    export: Type.Optional(Type.String({ description: "HOST:PORT of the pool's fencing NBD export (`hangar storage-export`): nodes reach its disks only through it, and a node that lost its lease is cut off at the storage." })),
    nodes: Type.Optional(Type.Array(Type.String(), { description: 'In a cluster: the only nodes that have this pool (absent: every node). Elsewhere its capacity reads 0 and volumes are refused (POOL_NOT_ON_NODE).' })),
    createdAt: Type.String(),
  },
  { $id: 'Pool' },
);

export const CreatePoolBody = Type.Object(
  { name: Type.String({ description: 'Pool name (letters, digits, . _ -).' }), path: Type.String({ description: 'Absolute path of the directory.' }),
    shared: Type.Optional(Type.Boolean({ description: 'The same directory is mounted on every node of the cluster (default false).' })),
    export: Type.Optional(Type.String({ description: 'A shared pool whose disks the nodes reach only through the fencing NBD export at HOST:PORT (`hangar storage-export` on the storage host). Needs shared.' })),
    nodes: Type.Optional(Type.Array(Type.String(), { description: 'In a cluster: the only nodes that have this directory (default: every node); placement puts VMs with disks here on them. Not with shared.' })),
  },
  strict,
);

export const Volume = Type.Object(
  {
    pool: Type.String(),
    name: Type.String(),
    format: Type.Union([Type.Literal('qcow2'), Type.Literal('raw')]),
    sizeBytes: Type.Integer(),
    path: Type.String(),
    backing: Type.Optional(Type.Object({ kind: Type.Literal('image'), name: Type.String(), path: Type.String(), format: Type.String() })),
    attachedTo: Type.Optional(Type.String({ description: 'The VM using it.' })),
    ownedBy: Type.Optional(Type.String({ description: 'The VM it was created for; deleted with it.' })),
    base: Type.Optional(Type.Object({ pool: Type.String(), name: Type.String() }, { description: 'The frozen base volume this one is an overlay of (linked clones of a VM).' })),
    frozen: Type.Optional(Type.Boolean({ description: 'A frozen, read-only base of linked clones: deleted with its last overlay.' })),
    createdAt: Type.String(),
  },
  { $id: 'Volume' },
);

export const CreateVolumeBody = Type.Object(
  {
    name: Type.String({ description: '1-100 letters, digits, . _ - (a file name inside the pool; no "..").' }),
    pool: Type.Optional(Type.String({ description: 'Default `default`.' })),
    size: SizeField,
    format: Type.Optional(Type.Union([Type.Literal('qcow2'), Type.Literal('raw')], { description: 'Default qcow2.' })),
  },
  strict,
);

export const VolumeParams = Type.Object({ pool: Type.String(), name: Type.String() }, strict);
export const PoolParam = Type.Object({ pool: Type.String() }, strict);
export const ResizeBody = Type.Object({ size: SizeField }, strict);
export const CloneBody = Type.Object({ name: Type.String({ description: 'Name of the copy (same pool).' }) }, strict);
export const VolumesQuery = Type.Object({ pool: Type.Optional(Type.String()) }, strict);

export const AttachBody = Type.Object(
  {
    volume: Type.String(),
    pool: Type.Optional(Type.String({ description: 'Default `default`.' })),
    readOnly: Type.Optional(Type.Boolean()),
  },
  strict,
);
export const DetachParams = Type.Object({ name: Type.String(), volume: Type.String() }, strict);
export const DetachQuery = Type.Object({ pool: Type.Optional(Type.String()) }, strict);

export type Pool = Static<typeof Pool>;
export type CreatePoolBody = Static<typeof CreatePoolBody>;
export type Volume = Static<typeof Volume>;
export type CreateVolumeBody = Static<typeof CreateVolumeBody>;
export type VolumeParams = Static<typeof VolumeParams>;
export type PoolParam = Static<typeof PoolParam>;
export type ResizeBody = Static<typeof ResizeBody>;
export type CloneBody = Static<typeof CloneBody>;
export type VolumesQuery = Static<typeof VolumesQuery>;
export type AttachBody = Static<typeof AttachBody>;
export type DetachParams = Static<typeof DetachParams>;
export type DetachQuery = Static<typeof DetachQuery>;
