/** Save/restore and live migration: peers, the source's request, and daemon-to-daemon calls. */
import { Type, type Static } from '@sinclair/typebox';
import { strict } from './common.js';
import type { Vm } from './vms.js';

export const SaveVmBody = Type.Object(
  {
    maxBandwidth: Type.Optional(Type.Integer({ minimum: 1, description: 'Cap in bytes per second for writing the save (default: none; QEMU\'s own 128 MiB/s cap is lifted).' })),
  },
  strict,
);

export const MigrateVmBody = Type.Object(
  {
    to: Type.Optional(Type.String({ minLength: 1, maxLength: 63, description: 'The peer (hangar peer add) to move the guest to. Give `to` or `node`.' })),
    node: Type.Optional(Type.String({ minLength: 1, maxLength: 63, description: 'In a cluster: the node to move the VM to (same record, its node changes at the hand-over; a stopped VM moves cold). Give `to` or `node`.' })),
    reason: Type.Optional(Type.Union([Type.Literal('migrate'), Type.Literal('evacuation'), Type.Literal('restore')], { description: 'With node: what asked for the move, recorded in the VM\'s lastMove (default migrate; node evacuate and node restore set theirs).' })),
    maxBandwidth: Type.Optional(Type.Integer({ minimum: 1, description: "Cap in bytes per second (default: none; QEMU's own 128 MiB/s cap is lifted)." })),
    downtimeLimitMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 2000000, description: 'Longest pause allowed for the last copy (default 50 ms).' })),
    multifdChannels: Type.Optional(Type.Integer({ minimum: 1, maximum: 255, description: 'Parallel TCP streams for memory (default 1).' })),
    autoConverge: Type.Optional(Type.Boolean({ description: 'Slow the vCPUs of a guest that dirties memory faster than it is sent (default true).' })),
    postcopy: Type.Optional(Type.Union([Type.Literal('off'), Type.Literal('on'), Type.Literal('auto')], { description: 'off (default); on: switch to post-copy after the first pass; auto: when pre-copy does not converge.' })),
    compression: Type.Optional(Type.Union([Type.Literal('none'), Type.Literal('zlib'), Type.Literal('zstd')], { description: 'Compress the multifd streams (needs multifdChannels ≥ 2); helps only on slow links.' })),
    copyStorage: Type.Optional(Type.Boolean({ description: 'Copy the writable disks to the destination (local storage) over NBD while the guest runs. Default: shared storage (the same paths on both hosts).' })),
    timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86400, description: 'Give up and roll back after this long (default 600).' })),
  },
  strict,
);

export const AddPeerBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 63 }),
    url: Type.String({ minLength: 1, maxLength: 300, description: "The peer daemon's TLS listener, https://host:port." }),
    token: Type.String({ minLength: 1, maxLength: 300, description: 'An admin API token of the peer daemon. Stored here, never shown again.' }),
    fingerprint: Type.Optional(Type.String({ maxLength: 200, description: "SHA-256 of the peer's certificate; without it the one it presents now is pinned." })),
  },
  strict,
);

export const Peer = Type.Object(
  {
    name: Type.String(), url: Type.String(), fingerprint: Type.String(), createdAt: Type.String(),
    host: Type.Optional(Type.Object({ hostname: Type.Optional(Type.String()), version: Type.Optional(Type.String()) })),
  },
  { $id: 'Peer' },
);

export const IncomingMigrationBody = Type.Object(
  {
    id: Type.String({ pattern: '^[0-9a-f]{16}$' }),
    vm: Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{12}$' }), name: Type.String({ minLength: 1, maxLength: 63 }), spec: Type.Object({}, { additionalProperties: true }), createdAt: Type.String() }),
    paused: Type.Boolean(),
    params: Type.Object({
      maxBandwidth: Type.Number(), downtimeLimitMs: Type.Integer(), autoConverge: Type.Boolean(), multifdChannels: Type.Integer({ minimum: 1, maximum: 255 }),
      postcopy: Type.Boolean(), zeroBlocks: Type.Optional(Type.Boolean()), pauseBeforeSwitchover: Type.Optional(Type.Boolean()),
      lateBlockActivate: Type.Optional(Type.Boolean()), compression: Type.Optional(Type.Union([Type.Literal('none'), Type.Literal('zlib'), Type.Literal('zstd')])),
    }),
    copyDisks: Type.Array(Type.Object({
      id: Type.String({ pattern: '^[a-z][a-z0-9-]{0,30}$' }), sizeBytes: Type.Integer({ minimum: 1 }), format: Type.Union([Type.Literal('qcow2'), Type.Literal('raw')]),
      pool: Type.Optional(Type.String({ maxLength: 63 })), volume: Type.Optional(Type.String({ maxLength: 100 })),
    }), { maxItems: 64 }),
    copyNvram: Type.Optional(Type.Boolean({ description: 'UEFI with copied storage: make a new NVRAM volume here (its content comes in the migration stream).' })),
  },
  { additionalProperties: false, description: 'Sent by a source daemon (admin token): the VM arriving and how it comes.' },
);

export const IncomingMigrationReply = Type.Object({
  id: Type.String(), uri: Type.String(), nbd: Type.Optional(Type.Object({ host: Type.String(), port: Type.Integer() })),
});

export const IncomingFinishedReply = Type.Object({
  vm: Type.Unsafe<Vm>(Type.Ref('Vm')),
  resumeMs: Type.Integer({ description: "From the finish request's arrival until the guest's vCPUs were let go here." }),
});

export const MigrationIdParam = Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{16}$' }) });
export const PeerNameParam = Type.Object({ name: Type.String({ minLength: 1, maxLength: 63 }) });

export type SaveVmBody = Static<typeof SaveVmBody>;
export type MigrateVmBody = Static<typeof MigrateVmBody>;
export type AddPeerBody = Static<typeof AddPeerBody>;
export type Peer = Static<typeof Peer>;
export type IncomingMigrationBody = Static<typeof IncomingMigrationBody>;
export type IncomingMigrationReply = Static<typeof IncomingMigrationReply>;
export type IncomingFinishedReply = Static<typeof IncomingFinishedReply>;
export type MigrationIdParam = Static<typeof MigrationIdParam>;
export type PeerNameParam = Static<typeof PeerNameParam>;
