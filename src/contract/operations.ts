/** Operations: long work (imports, clones, saves, migrations) with progress, cancel and a result. */
import { Type, type Static } from '@sinclair/typebox';
import { strict } from './common.js';

export const Operation = Type.Object(
  {
    id: Type.String(),
    kind: Type.String(),
    target: Type.String(),
    state: Type.Union([Type.Literal('running'), Type.Literal('succeeded'), Type.Literal('failed'), Type.Literal('cancelled')]),
    progress: Type.Object({
      phase: Type.Optional(Type.String()),
      percent: Type.Optional(Type.Number()),
      bytesDone: Type.Optional(Type.Number()),
      bytesTotal: Type.Optional(Type.Number()),
      message: Type.Optional(Type.String()),
      remainingBytes: Type.Optional(Type.Number({ description: 'Migration: bytes of RAM still to send.' })),
      dirtyBytesPerSecond: Type.Optional(Type.Number({ description: 'Migration: how fast the guest dirties memory.' })),
      bytesPerSecond: Type.Optional(Type.Number({ description: 'Throughput now.' })),
      expectedDowntimeMs: Type.Optional(Type.Number({ description: "Migration: QEMU's estimate of the final pause." })),
    }),
    error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
    result: Type.Optional(Type.Unknown()),
    createdAt: Type.String(),
    updatedAt: Type.String(),
    finishedAt: Type.Optional(Type.String()),
  },
  { $id: 'Operation' },
);
export const OperationParam = Type.Object({ id: Type.String() }, strict);
export const OperationQuery = Type.Object({ wait: Type.Optional(Type.String({ pattern: '^[0-9]+$', description: 'Wait up to this many seconds for the operation to end.' })) }, strict);

export type Operation = Static<typeof Operation>;
export type OperationParam = Static<typeof OperationParam>;
export type OperationQuery = Static<typeof OperationQuery>;
