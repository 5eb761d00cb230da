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
    disk: Type.Optional(Type.String({ description: 'Restore only this disk (its id, e.g. disk1) into a new, unattached volume; the operation\'s result is the volume.' })),
    volume: Type.Optional(Type.String({ description: 'The new volume\'s name (with disk; default <vm>-<disk>-<backup time>).' })),
    live: Type.Optional(Type.Boolean({ description: 'Start the new VM at once: what it reads first comes from the backup, the rest is copied in the background (the operation ends when the copy does).' })),
    yes: Type.Optional(Type.Boolean({ description: 'Restore in place: the backed-up VM (stopped) gets the backup\'s disks, NVRAM and TPM state; its configuration stays.' })),
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

const retentionFields = {
  keepLast: Type.Optional(Type.Integer({ minimum: 0, description: 'After each run, keep the newest N backups of the VM in the repository…' })),
  keepDaily: Type.Optional(Type.Integer({ minimum: 0, description: '…then the newest of each of N days…' })),
  keepWeekly: Type.Optional(Type.Integer({ minimum: 0, description: '…then the newest of each of N weeks…' })),
  keepMonthly: Type.Optional(Type.Integer({ minimum: 0, description: '…then the newest of each of N months (Proxmox Backup Server\'s rule); none: keep every backup.' })),
};

export const BackupScheduleOutcome = Type.Object({
  startedAt: Type.String(),
  finishedAt: Type.String(),
  ok: Type.Boolean(),
  backup: Type.Optional(Type.String({ description: 'The backup the run made.' })),
  error: Type.Optional(Type.String()),
  code: Type.Optional(Type.String({ description: 'The error code of a failed run.' })),
  pruned: Type.Optional(Type.Array(Type.String(), { description: 'Backups the retention removed after the run.' })),
  pruneError: Type.Optional(Type.String({ description: 'The backup was stored, but the prune after it failed.' })),
});

export const BackupSchedule = Type.Object(
  {
    vm: Type.String(),
    vmId: Type.String(),
    repo: Type.String(),
    every: Type.String({ description: 'The period, e.g. 6h, 1d, 7d.' }),
    everySeconds: Type.Integer(),
    at: Type.Optional(Type.String({ description: 'HH:MM, UTC: the time of day runs fall on.' })),
    ...retentionFields,
    createdAt: Type.String(),
    nextRunAt: Type.String({ description: 'When the next run is due (a run missed while the daemon was down is due at once, and runs once).' }),
    running: Type.Boolean(),
    busyRetries: Type.Optional(Type.Integer({ description: 'The VM was busy with another operation: retries so far of the run now due.' })),
    lastRun: Type.Optional(BackupScheduleOutcome),
  },
  { $id: 'BackupSchedule' },
);

export const CreateBackupScheduleBody = Type.Object(
  {
    vm: Type.String(),
    every: Type.String({ description: 'A period: Nm, Nh, Nd or Nw (e.g. 6h, 1d, 7d); at least 1m.' }),
    at: Type.Optional(Type.String({ description: 'HH:MM, UTC: runs fall on this time of day (with every 6h at 02:00: 02:00, 08:00, 14:00, 20:00). Default: one period after the schedule is made.' })),
    repo: Type.Optional(Type.String({ description: 'The repository (default: the default one, when the schedule is made).' })),
    ...retentionFields,
  },
  strict,
);

export const ExportVmBody = Type.Object(
  {
    file: Type.String({ description: 'Absolute path of the archive the daemon writes (a tar file).' }),
    force: Type.Optional(Type.Boolean({ description: 'Replace the file if it exists.' })),
    compress: Type.Optional(Type.Boolean({ description: 'Compress the disks (qcow2 compression: smaller, slower).' })),
  },
  strict,
);

export const BackupScheduleParam = Type.Object({ vm: Type.String() }, strict);

export type BackupSchedule = Static<typeof BackupSchedule>;
export type CreateBackupScheduleBody = Static<typeof CreateBackupScheduleBody>;

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
