/** Snapshots of a VM: disk-only or with memory, as a tree. */
import { Type, type Static } from '@sinclair/typebox';
import { strict } from './common.js';

export const Snapshot = Type.Object(
  {
    name: Type.String(),
    vm: Type.String(),
    parent: Type.Optional(Type.String({ description: 'The snapshot this one was taken on top of (the tree).' })),
    memory: Type.Boolean({ description: 'Includes memory and device state.' }),
    runState: Type.Union([Type.Literal('running'), Type.Literal('paused'), Type.Literal('stopped')]),
    disks: Type.Array(Type.Object({ id: Type.String(), path: Type.String() })),
    current: Type.Boolean({ description: 'The VM was last reverted to (or took) this snapshot.' }),
    createdAt: Type.String(),
    description: Type.Optional(Type.String()),
    fsFrozen: Type.Optional(Type.Boolean({ description: 'The guest agent froze the file systems while it was taken.' })),
  },
  { $id: 'Snapshot' },
);
export const CreateSnapshotBody = Type.Object(
  {
    name: Type.String({ description: '1-100 letters, digits, . _ -' }),
    memory: Type.Optional(Type.Boolean({ description: 'Also save memory and device state (running guests). Returns 202 with an operation.' })),
    description: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  strict,
);
export const SnapshotParams = Type.Object({ name: Type.String(), snapshot: Type.String() }, strict);

export type Snapshot = Static<typeof Snapshot>;
export type CreateSnapshotBody = Static<typeof CreateSnapshotBody>;
export type SnapshotParams = Static<typeof SnapshotParams>;
