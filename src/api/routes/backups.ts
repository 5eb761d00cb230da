/** Routes for backup repositories, backups and restores. */
import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../server.js';
import { BackupScheduleParam, CreateBackupScheduleBody, type CreateBackupScheduleBody as CreateSchedule, BackupParam, BackupRepoParam, BackupsQuery, CreateBackupBody, GcRepoReply, PruneBackupsBody, PruneBackupsReply, type PruneBackupsBody as Prune, CreateBackupRepoBody, RestoreBackupBody, VmNameParam, type CreateBackupRepoBody as CreateRepo, type RestoreBackupBody as Restore, ExportVmBody, ImportVmBody, type ExportVmBody as ExportBody, type ImportVmBody as ImportBody } from '../../contract/index.js';
import { checkExportTarget, checkImportSource } from '../../backup/vm-export.js';

const errors = { 400: { $ref: 'Error#' }, 403: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' }, 500: { $ref: 'Error#' }, 503: { $ref: 'Error#' } } as const;

export function registerBackupRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { backups, operations, backupSchedules } = deps;
  app.get(
    '/v1/backup-repos',
    { schema: { tags: ['backups'], summary: 'Backup repositories', response: { 200: { type: 'array', items: { $ref: 'BackupRepo#' } }, ...errors } } },
    async () => backups.listRepos(),
  );
  app.post<{ Body: CreateRepo }>(
    '/v1/backup-repos',
    { schema: { tags: ['backups'], summary: 'Make a backup repository in an empty or new directory (optionally encrypted with a key file)', body: CreateBackupRepoBody, response: { 201: { $ref: 'BackupRepo#' }, ...errors } } },
    async (req, reply) => reply.status(201).send(await backups.createRepo(req.body)),
  );
  app.delete<{ Params: { repo: string } }>(
    '/v1/backup-repos/:repo',
    { schema: { tags: ['backups'], summary: 'Forget a backup repository (its directory and backups stay)', params: BackupRepoParam, response: { 204: { type: 'null' }, ...errors } } },
    async (req, reply) => {
      await backups.removeRepo(req.params.repo);
      return reply.status(204).send();
    },
  );
  app.get<{ Querystring: { vm?: string; repo?: string } }>(
    '/v1/backups',
    { schema: { tags: ['backups'], summary: 'Backups, oldest first (of one VM, of one repository)', querystring: BackupsQuery, response: { 200: { type: 'array', items: { $ref: 'Backup#' } }, ...errors } } },
    async (req) => backups.list(req.query),
  );
  app.post<{ Params: { name: string }; Body: { repo?: string } }>(
    '/v1/vms/:name/backups',
    {
      schema: {
        tags: ['backups'],
        summary: 'Back a VM up (running or stopped): full the first time, then incremental; 202 with an operation whose result is the backup',
        params: VmNameParam, body: CreateBackupBody, response: { 202: { $ref: 'Operation#' }, ...errors },
      },
    },
    async (req, reply) => {
      const vm = req.params.name;
      await deps.vms.get(vm);
      await backups.repoRecord(req.body.repo);
      return reply.status(202).send(await operations.start('backup.create', `vm/${vm}`, (ctx) => backups.create(vm, req.body, ctx)));
    },
  );
  app.post<{ Params: { id: string }; Body: Restore }>(
    '/v1/backups/:id/restore',
    {
      schema: {
        tags: ['backups'], summary: 'Restore a backup to a new VM (stopped); 202 with an operation whose result is the VM',
        params: BackupParam, body: RestoreBackupBody, response: { 202: { $ref: 'Operation#' }, ...errors },
      },
    },
    async (req, reply) => {
      await backups.find(req.params.id, req.body.repo);
      return reply.status(202).send(await operations.start('backup.restore', `backup/${req.params.id}`, (ctx) => backups.restore(req.params.id, req.body, ctx)));
    },
  );
  app.post<{ Body: Prune }>(
    '/v1/backups/prune',
    { schema: { tags: ['backups'], summary: 'Delete the backups a retention policy does not keep (Proxmox Backup Server\'s rule, per VM); dryRun only lists them', body: PruneBackupsBody, response: { 200: PruneBackupsReply, ...errors } } },
    async (req) => backups.prune(req.body),
  );
  app.post<{ Params: { repo: string } }>(
    '/v1/backup-repos/:repo/verify',
    { schema: { tags: ['backups'], summary: 'Re-read and check every chunk; 202 with an operation whose result names the backups that use a damaged chunk', params: BackupRepoParam, response: { 202: { $ref: 'Operation#' }, ...errors } } },
    async (req, reply) => {
      await backups.repoRecord(req.params.repo);
      return reply.status(202).send(await operations.start('backup.verify', `backup-repo/${req.params.repo}`, (ctx) => backups.verify(req.params.repo, ctx)));
    },
  );
  app.post<{ Params: { repo: string } }>(
    '/v1/backup-repos/:repo/gc',
    { schema: { tags: ['backups'], summary: 'Remove the chunks no backup uses (refused while a backup writes to the repository)', params: BackupRepoParam, response: { 200: GcRepoReply, ...errors } } },
    async (req) => backups.gc(req.params.repo),
  );
  app.get(
    '/v1/backup-schedules',
    { schema: { tags: ['backups'], summary: 'Backup schedules, each with its next run and the outcome of its last one', response: { 200: { type: 'array', items: { $ref: 'BackupSchedule#' } }, ...errors } } },
    async () => backupSchedules.list(),
  );
  app.post<{ Body: CreateSchedule }>(
    '/v1/backup-schedules',
    {
      schema: {
        tags: ['backups'], summary: 'Back a VM up on a schedule run by the daemon (one per VM; times in UTC), pruning its backups with a retention after each run',
        body: CreateBackupScheduleBody, response: { 201: { $ref: 'BackupSchedule#' }, ...errors },
      },
    },
    async (req, reply) => reply.status(201).send(await backupSchedules.create(req.body)),
  );
  app.delete<{ Params: { vm: string } }>(
    '/v1/backup-schedules/:vm',
    { schema: { tags: ['backups'], summary: "Delete a VM's backup schedule (its backups stay; a run under way ends first)", params: BackupScheduleParam, response: { 204: { type: 'null' }, ...errors } } },
    async (req, reply) => {
      await backupSchedules.delete(req.params.vm);
      return reply.status(204).send();
    },
  );
  app.post<{ Params: { name: string }; Body: ExportBody }>(
    '/v1/vms/:name/export',
    {
      schema: {
        tags: ['backups'],
        summary: 'Write a VM (running or stopped) to one archive on the daemon\'s host: configuration, disks at one instant, NVRAM, TPM; 202 with an operation',
        params: VmNameParam, body: ExportVmBody, response: { 202: { $ref: 'Operation#' }, ...errors },
      },
    },
    async (req, reply) => {
      const vm = req.params.name;
      await deps.vms.get(vm);
      await checkExportTarget(req.body.file, req.body.force);
      return reply.status(202).send(await operations.start('vm.export', `vm/${vm}`, (ctx) => backups.exportVm(vm, req.body, ctx)));
    },
  );
  app.post<{ Body: ImportBody }>(
    '/v1/vms/import',
    {
      schema: {
        tags: ['backups'],
        summary: 'Make a VM (stopped) from an archive `vm export` wrote, on this or another host; 202 with an operation whose result is the VM',
        body: ImportVmBody, response: { 202: { $ref: 'Operation#' }, ...errors },
      },
    },
    async (req, reply) => {
      await checkImportSource(req.body.file);
      return reply.status(202).send(await operations.start('vm.import', `vm/${req.body.as ?? 'import'}`, (ctx) => backups.importVm(req.body, ctx)));
    },
  );
}
