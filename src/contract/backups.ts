/** Backups: repositories, backups of VMs (full or incremental), restore. */
import { Type, type Static } from '@sinclair/typebox';
import { strict } from './common.js';

export const BackupRepo = Type.Object(
  {
    name: Type.String(),
    path: Type.String({ description: 'The repository directory on the host (local or mounted network storage).' }),
    encrypted: Type.Boolean({ description: 'Chunks and manifests are encrypted (AES-256-GCM) with the key file.' }),
    keyFile: Type.Optional(Type.String()),
    default: Type.Boolean({ description: 'Backups without --repo go here.' }),
    createdAt: Type.String(),
  },
  { $id: 'BackupRepo' },
);

export const CreateBackupRepoBody = Type.Object(
  {
    name: Type.String({ description: '1-100 letters, digits, . _ -' }),
    path: Type.String({ description: 'Absolute path of an empty or new directory.' }),
    encrypt: Type.Optional(Type.Boolean()),
    keyFile: Type.Optional(Type.String({ description: 'Absolute path of a file holding at least 32 secret bytes (with encrypt).' })),
    default: Type.Optional(Type.Boolean({ description: 'Make it the default repository (the first one is).' })),
  },
  strict,
);

export const BackupRepoParam = Type.Object({ repo: Type.String() }, strict);

export const Backup = Type.Object(
  {
    id: Type.String(),
    vm: Type.String(),
    vmId: Type.String(),
    repo: Type.String(),
    createdAt: Type.String(),
    kind: Type.Union([Type.Literal('full'), Type.Literal('incremental')]),
    fullReason: Type.Optional(Type.String({ description: 'Why this backup read every disk although an earlier one exists.' })),
    parent: Type.Optional(Type.String({ description: 'The backup its unchanged chunks came from (incremental).' })),
    readBytes: Type.Integer({ description: 'Bytes read from the VM\'s disks.' }),
    storedBytes: Type.Integer({ description: 'Bytes newly written to the repository (after deduplication and compression).' }),
    sizeBytes: Type.Integer({ description: 'The disks\' total virtual size.' }),
    disks: Type.Array(Type.Object({ id: Type.String(), sizeBytes: Type.Integer() })),
    durationMs: Type.Integer(),
    fsFrozen: Type.Boolean({ description: 'The guest agent froze the file systems for the point in time.' }),
  },
  { $id: 'Backup' },
);

export const CreateBackupBody = Type.Object(
  { repo: Type.Optional(Type.String({ description: 'The repository (default: the default one).' })) },
  strict,
);

export const BackupsQuery = Type.Object(
  { vm: Type.Optional(Type.String()), repo: Type.Optional(Type.String()) },
  strict,
);

export const BackupParam = Type.Object({ id: Type.String() }, strict);

export const RestoreBackupBody = Type.Object(
  {
    as: Type.Optional(Type.String({ description: 'The new VM\'s name (a new identity: UUID, MACs, hostname). Default: the backed-up VM\'s name, if no VM has it.' })),
    repo: Type.Optional(Type.String()),
  },
  strict,
);

export type BackupRepo = Static<typeof BackupRepo>;
export type CreateBackupRepoBody = Static<typeof CreateBackupRepoBody>;
export type Backup = Static<typeof Backup>;
export type CreateBackupBody = Static<typeof CreateBackupBody>;
export type BackupsQuery = Static<typeof BackupsQuery>;
export type RestoreBackupBody = Static<typeof RestoreBackupBody>;

export const PruneBackupsBody = Type.Object(
  {
    vm: Type.Optional(Type.String({ description: 'Only this VM\'s backups (default: every VM\'s, each pruned on its own).' })),
    repo: Type.Optional(Type.String()),
    keepLast: Type.Optional(Type.Integer({ minimum: 0 })),
    keepDaily: Type.Optional(Type.Integer({ minimum: 0 })),
    keepWeekly: Type.Optional(Type.Integer({ minimum: 0 })),
    keepMonthly: Type.Optional(Type.Integer({ minimum: 0 })),
    dryRun: Type.Optional(Type.Boolean({ description: 'Only say what would be removed.' })),
  },
  strict,
);

export const PruneBackupsReply = Type.Object({
  kept: Type.Array(Type.Unsafe<Static<typeof Backup>>(Type.Ref('Backup'))),
  removed: Type.Array(Type.Unsafe<Static<typeof Backup>>(Type.Ref('Backup'))),
});

export const VerifyRepoReply = Type.Object({
  repo: Type.String(),
  chunksChecked: Type.Integer(),
  damagedChunks: Type.Array(Type.String()),
  backups: Type.Array(Type.Object({ id: Type.String(), vm: Type.String(), ok: Type.Boolean(), damagedChunks: Type.Array(Type.String()) })),
});

export const GcRepoReply = Type.Object({
  repo: Type.String(),
  removedChunks: Type.Integer(),
  freedBytes: Type.Integer(),
  keptChunks: Type.Integer(),
});

export type PruneBackupsBody = Static<typeof PruneBackupsBody>;
export type PruneBackupsReply = Static<typeof PruneBackupsReply>;
export type VerifyRepoReply = Static<typeof VerifyRepoReply>;
export type GcRepoReply = Static<typeof GcRepoReply>;

export const ExportVmBody = Type.Object(
  {
    file: Type.String({ description: 'Absolute path of the archive the daemon writes (a tar file).' }),
    force: Type.Optional(Type.Boolean({ description: 'Replace the file if it exists.' })),
    compress: Type.Optional(Type.Boolean({ description: 'Compress the disks (qcow2 compression: smaller, slower).' })),
  },
  strict,
);

export const ExportVmReply = Type.Object({
  vm: Type.String(),
  file: Type.String(),
  sizeBytes: Type.Integer({ description: 'The archive\'s size.' }),
  disks: Type.Array(Type.Object({ id: Type.String(), sizeBytes: Type.Integer() })),
  live: Type.Boolean({ description: 'The VM ran: its disks were read at one instant while it ran on.' }),
  durationMs: Type.Integer(),
});

export const ImportVmBody = Type.Object(
  {
    file: Type.String({ description: 'Absolute path of an archive `vm export` wrote, on the daemon\'s host.' }),
    as: Type.Optional(Type.String({ description: 'The new VM\'s name (a new identity: UUID, MACs, hostname). Default: the exported VM\'s name, if no VM has it.' })),
  },
  strict,
);

export type ExportVmBody = Static<typeof ExportVmBody>;
export type ExportVmReply = Static<typeof ExportVmReply>;
export type ImportVmBody = Static<typeof ImportVmBody>;
