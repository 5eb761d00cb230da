/** `hangar backup-repo create|list|remove`, `hangar backup create|list|restore|prune|verify|gc` and `hangar backup schedule create|list|delete`. */
import type { Command } from 'commander';
import type { ApiClient } from '../client/index.js';
import type { Backup, BackupRepo, BackupSchedule, ExportVmReply, VerifyRepoReply, Vm, Volume } from '../contract/index.js';
import { rm } from 'node:fs/promises';
import type { BackupManifest } from '../backup/manifest.js';
import { BackupNbdServer } from '../backup/nbd-server.js';
import { BackupRepository, readKeyFile } from '../backup/repository.js';
import { HangarError } from '../errors/errors.js';
import { formatBytes } from '../util/size.js';
import { render, renderTable, type OutputFormat } from './output.js';
import { followOperation } from './progress.js';

type Globals = (cmd: Command) => { output: OutputFormat; client: ApiClient };
const print = (text: string) => process.stdout.write(text);

export function addBackupCommands(program: Command, globals: Globals): void {
  const repo = program.command('backup-repo').description('Backup repositories: directories of deduplicated, compressed (optionally encrypted) chunks');
  repo.command('create').description('Make a backup repository in an empty or new directory')
    .argument('<name>').requiredOption('--path <dir>', 'the directory (absolute; local or mounted network storage)')
    .option('--encrypt', 'encrypt chunks and manifests on this host (AES-256-GCM)').option('--key-file <file>', 'the key: a file of at least 32 secret bytes (with --encrypt)')
    .option('--default', 'backups without --repo go here (the first repository is the default)')
    .action(async (name: string, o: { path: string; encrypt?: boolean; keyFile?: string; default?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const r = await g.client.backups.createRepo({ name, path: o.path, ...(o.encrypt && { encrypt: true }), ...(o.keyFile !== undefined && { keyFile: o.keyFile }), ...(o.default && { default: true }) });
      print(render(g.output, r, () => `Backup repository ${r.name} made at ${r.path}${r.encrypted ? ' (encrypted)' : ''}${r.default ? ', the default' : ''}.\n`));
    });
  repo.command('list').alias('ls').description('List backup repositories')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const repos = await g.client.backups.repos();
      print(render(g.output, repos, () => renderTable(repos, [
        { header: 'NAME', value: (r: BackupRepo) => `${r.name}${r.default ? ' *' : ''}` },
        { header: 'PATH', value: (r: BackupRepo) => r.path },
        { header: 'ENCRYPTED', value: (r: BackupRepo) => (r.encrypted ? 'yes' : 'no') },
      ])));
    });
  repo.command('remove').alias('rm').description('Forget a backup repository (its directory and backups stay)').argument('<name>')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      await g.client.backups.removeRepo(name);
      print(render(g.output, { name, removed: true }, () => `Backup repository ${name} forgotten; its files stay.\n`));
    });

  const backup = program.command('backup').description('Backups of VMs: full, then incremental (only changed blocks are read); restore');
  backup.command('create').description('Back a VM up, running or stopped (the guest runs on; its file systems are frozen for the instant when it has an agent)')
    .argument('<vm>').option('--repo <name>', 'the repository (default: the default one)')
    .action(async (vm: string, o: { repo?: string }, cmd: Command) => {
      const g = globals(cmd);
      const op = await g.client.backups.create(vm, o.repo !== undefined ? { repo: o.repo } : {});
      const b = (await followOperation(g.client, op, `backup ${vm}`, { cancelOnInterrupt: true })).result as Backup;
      print(render(g.output, b, () => `Backup ${b.id} of ${vm}: ${b.kind}${b.fullReason ? ` (${b.fullReason})` : ''}, read ${formatBytes(b.readBytes)}, stored ${formatBytes(b.storedBytes)} new in ${(b.durationMs / 1000).toFixed(1)} s.\n`));
    });
  backup.command('list').alias('ls').description('List backups, oldest first').argument('[vm]').option('--repo <name>', 'only this repository')
    .action(async (vm: string | undefined, o: { repo?: string }, cmd: Command) => {
      const g = globals(cmd);
      const list = await g.client.backups.list({ ...(vm !== undefined && { vm }), ...(o.repo !== undefined && { repo: o.repo }) });
      print(render(g.output, list, () => renderTable(list, [
        { header: 'ID', value: (b: Backup) => b.id },
        { header: 'VM', value: (b: Backup) => b.vm },
        { header: 'REPO', value: (b: Backup) => b.repo },
        { header: 'TIME', value: (b: Backup) => b.createdAt },
        { header: 'KIND', value: (b: Backup) => b.kind },
        { header: 'READ', value: (b: Backup) => formatBytes(b.readBytes) },
        { header: 'STORED', value: (b: Backup) => formatBytes(b.storedBytes) },
      ])));
    });
  backup.command('restore').description('Restore a backup to a new VM (stopped): its own name if free, or --as NEW (a new identity); in place with --yes; or one disk into a new volume (--disk)')
    .argument('<backup>').option('--as <name>', 'the new VM\'s name').option('--repo <name>', 'the repository holding the backup')
    .option('--disk <id>', 'restore only this disk (e.g. disk1) into a new, unattached volume').option('--volume <name>', 'that volume\'s name (with --disk)')
    .option('--yes', 'restore in place: the backed-up VM (stopped) gets the backup\'s disks, NVRAM and TPM state back')
    .option('--live', 'start the new VM at once; what it reads first comes from the backup, the rest is copied in the background')
    .action(async (id: string, o: { as?: string; repo?: string; disk?: string; volume?: string; yes?: boolean; live?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const op = await g.client.backups.restore(id, { ...(o.as !== undefined && { as: o.as }), ...(o.repo !== undefined && { repo: o.repo }), ...(o.disk !== undefined && { disk: o.disk }), ...(o.volume !== undefined && { volume: o.volume }), ...(o.yes && { yes: true }), ...(o.live && { live: true }) });
      const result = (await followOperation(g.client, op, `restore ${id}`)).result;
      if (o.disk !== undefined) {
        const v = result as Volume;
        print(render(g.output, v, () => `Disk ${o.disk} of backup ${id} restored into volume ${v.name} (pool ${v.pool}): hangar volume attach ${v.name} VM\n`));
        return;
      }
      const vm = result as Vm;
      print(render(g.output, vm, () => (o.yes ? `VM ${vm.name} restored in place from backup ${id}.\n` : o.live ? `Backup ${id} restored live as VM ${vm.name}: running, its disks complete.\n` : `Backup ${id} restored as VM ${vm.name} (stopped): hangar vm start ${vm.name}\n`)));
    });
  backup.command('serve').description("Serve a backup's disks read-only over NBD on a Unix socket until SIGTERM (the process a live restore runs; the daemon starts it)")
    .requiredOption('--repo-path <dir>', 'the repository directory').requiredOption('--backup <id>', 'the backup').requiredOption('--listen <path>', 'the Unix socket to listen on')
    .option('--key-file <file>', "the repository's key (an encrypted repository)")
    .action(async (o: { repoPath: string; backup: string; listen: string; keyFile?: string }) => {
      const repo = await BackupRepository.open(o.repoPath, o.keyFile ? await readKeyFile(o.keyFile) : undefined);
      const m = await repo.readManifest<BackupManifest>(o.backup);
      const server = new BackupNbdServer(repo, new Map(m.disks.map((d) => [d.id, d])), (msg) => process.stderr.write(`${new Date().toISOString()} ${msg}\n`));
      await rm(o.listen, { force: true });
      await server.listen(o.listen);
      process.stderr.write(`${new Date().toISOString()} serving backup ${m.id} (${m.disks.map((d) => d.id).join(', ')}) on ${o.listen}\n`);
      await new Promise((resolve) => {
        process.once('SIGTERM', resolve);
        process.once('SIGINT', resolve);
      });
      // Open connections (the guest's QEMU) would hold close() back: end at once.
      process.exit(0);
    });
  backup.command('prune').description("Delete the backups a retention policy does not keep (each VM on its own; Proxmox Backup Server's rule)")
    .argument('[vm]').option('--repo <name>', 'the repository (default: the default one)')
    .option('--keep-last <n>', 'keep the newest N', toCount).option('--keep-daily <n>', 'then the newest of each of N days', toCount)
    .option('--keep-weekly <n>', 'then the newest of each of N weeks', toCount).option('--keep-monthly <n>', 'then the newest of each of N months', toCount)
    .option('--dry-run', 'only list what would be removed').option('--yes', 'confirm: the backups the retention does not keep are deleted')
    .action(async (vm: string | undefined, o: { repo?: string; keepLast?: number; keepDaily?: number; keepWeekly?: number; keepMonthly?: number; dryRun?: boolean; yes?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const { yes, ...retention } = o;
      if (!yes && !o.dryRun) throw new HangarError('INVALID_SPEC', 'backup prune deletes backups: confirm with --yes, or see what it would delete with --dry-run.', { details: { field: 'yes' } });
      const r = await g.client.backups.prune({ ...(vm !== undefined && { vm }), ...retention });
      print(render(g.output, r, () => `${o.dryRun ? 'Would remove' : 'Removed'} ${r.removed.length} backup(s)${r.removed.length ? `: ${r.removed.map((b) => b.id).join(', ')}` : ''}; kept ${r.kept.length}.${r.removed.length && !o.dryRun ? ' `hangar backup gc` frees their chunks.' : ''}\n`));
    });
  backup.command('verify').description('Re-read and check every chunk of a repository; exits 1 and names the backups that use a damaged chunk')
    .option('--repo <name>', 'the repository (default: the default one)')
    .action(async (o: { repo?: string }, cmd: Command) => {
      const g = globals(cmd);
      const repo = o.repo ?? (await defaultRepo(g.client));
      const op = await g.client.backups.verify(repo);
      const r = (await followOperation(g.client, op, `verify ${repo}`, { cancelOnInterrupt: true })).result as VerifyRepoReply;
      const bad = r.backups.filter((b) => !b.ok);
      print(render(g.output, r, () => bad.length === 0
        ? `Repository ${repo}: ${r.chunksChecked} chunks checked, all ${r.backups.length} backups intact.\n`
        : `Repository ${repo}: ${r.damagedChunks.length} of ${r.chunksChecked} chunks damaged; backups that use them:\n${bad.map((b) => `  ${b.id} (${b.vm}): ${b.damagedChunks.length} damaged chunk(s)`).join('\n')}\n`));
      if (bad.length) process.exitCode = 1;
    });
  addScheduleCommands(backup, globals);
  backup.command('gc').description('Remove the chunks no backup uses (after a prune)')
    .option('--repo <name>', 'the repository (default: the default one)')
    .action(async (o: { repo?: string }, cmd: Command) => {
      const g = globals(cmd);
      const r = await g.client.backups.gc(o.repo ?? (await defaultRepo(g.client)));
      print(render(g.output, r, () => `Repository ${r.repo}: removed ${r.removedChunks} unused chunk(s), freed ${formatBytes(r.freedBytes)}; ${r.keptChunks} in use.\n`));
    });
}

function addScheduleCommands(backup: Command, globals: Globals): void {
  const schedule = backup.command('schedule').description('Backups the daemon takes on a schedule (one per VM; times in UTC), pruned with a retention after each run');
  schedule.command('create').description('Back a VM up every period (a run missed while the daemon was down runs once after it starts)')
    .argument('<vm>').requiredOption('--every <period>', 'how often: 30m, 6h, 1d, 7d, 2w (at least 1m)')
    .option('--at <HH:MM>', 'the time of day (UTC) runs fall on, e.g. 02:00 (default: one period after now)')
    .option('--repo <name>', 'the repository (default: the default one)')
    .option('--keep-last <n>', 'after each run keep the newest N of the VM\'s backups', toCount).option('--keep-daily <n>', 'then the newest of each of N days', toCount)
    .option('--keep-weekly <n>', 'then the newest of each of N weeks', toCount).option('--keep-monthly <n>', 'then the newest of each of N months', toCount)
    .action(async (vm: string, o: { every: string; at?: string; repo?: string; keepLast?: number; keepDaily?: number; keepWeekly?: number; keepMonthly?: number }, cmd: Command) => {
      const g = globals(cmd);
      const s = await g.client.backups.createSchedule({ vm, ...o });
      print(render(g.output, s, () => `VM ${s.vm} is backed up every ${s.every}${s.at ? ` at ${s.at} UTC` : ''} to ${s.repo}${keepText(s) ? `, keeping ${keepText(s)}` : ''}; next run ${s.nextRunAt}.\n`));
    });
  schedule.command('list').alias('ls').description('List backup schedules with their next run and the outcome of the last one')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const list = await g.client.backups.schedules();
      print(render(g.output, list, () => renderTable(list, [
        { header: 'VM', value: (s: BackupSchedule) => s.vm },
        { header: 'REPO', value: (s: BackupSchedule) => s.repo },
        { header: 'EVERY', value: (s: BackupSchedule) => `${s.every}${s.at ? ` at ${s.at}` : ''}` },
        { header: 'KEEP', value: (s: BackupSchedule) => keepText(s) || 'all' },
        { header: 'NEXT RUN', value: (s: BackupSchedule) => (s.running ? 'running now' : s.nextRunAt) },
        { header: 'LAST RUN', value: (s: BackupSchedule) => lastRunText(s) },
      ])));
    });
  schedule.command('delete').alias('rm').description("Delete a VM's backup schedule (its backups stay)").argument('<vm>')
    .action(async (vm: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      await g.client.backups.deleteSchedule(vm);
      print(render(g.output, { vm, deleted: true }, () => `Backup schedule of ${vm} deleted; its backups stay.\n`));
    });
}

function keepText(s: BackupSchedule): string {
  return ([['last', s.keepLast], ['daily', s.keepDaily], ['weekly', s.keepWeekly], ['monthly', s.keepMonthly]] as const)
    .filter(([, n]) => n !== undefined).map(([k, n]) => `${k} ${n}`).join(', ');
}

function lastRunText(s: BackupSchedule): string {
  const r = s.lastRun;
  if (!r) return s.busyRetries ? `VM busy, retry ${s.busyRetries}` : '-';
  if (!r.ok) return `${r.startedAt} failed: ${r.error ?? r.code ?? 'unknown error'}`;
  return `${r.startedAt} ok ${r.backup}${r.pruned?.length ? ` (pruned ${r.pruned.length})` : ''}${r.pruneError ? ` (prune failed: ${r.pruneError})` : ''}`;
}

/** `hangar vm export VM FILE` and `hangar vm import FILE [--as NAME]` (under `vm`). */
export function addVmExportCommands(vm: Command, globals: Globals): void {
  vm.command('export').description('Write a VM (running or stopped) to one archive: configuration, disks at one instant (the guest runs on), NVRAM, TPM state')
    .argument('<name>').argument('<file>', 'the archive to write (an absolute path on the daemon\'s host)')
    .option('--force', 'replace the file if it exists').option('--compress', 'compress the disks (smaller, slower)')
    .action(async (name: string, file: string, o: { force?: boolean; compress?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const op = await g.client.backups.exportVm(name, { file, ...(o.force && { force: true }), ...(o.compress && { compress: true }) });
      const r = (await followOperation(g.client, op, `export ${name}`, { cancelOnInterrupt: true })).result as ExportVmReply;
      print(render(g.output, r, () => `VM ${name} exported to ${r.file}: ${formatBytes(r.sizeBytes)}, ${r.disks.length} disk(s)${r.live ? ' read while it ran' : ''}, in ${(r.durationMs / 1000).toFixed(1)} s.\n`));
    });
  vm.command('import').description('Make a VM (stopped) from an archive `vm export` wrote, on this or another host: its own name if free, or --as NAME (a new identity)')
    .argument('<file>', 'the archive (an absolute path on the daemon\'s host)').option('--as <name>', 'the new VM\'s name')
    .action(async (file: string, o: { as?: string }, cmd: Command) => {
      const g = globals(cmd);
      const op = await g.client.backups.importVm({ file, ...(o.as !== undefined && { as: o.as }) });
      const v = (await followOperation(g.client, op, `import ${file}`)).result as Vm;
      print(render(g.output, v, () => `VM ${v.name} imported from ${file} (stopped): hangar vm start ${v.name}\n`));
    });
}

function toCount(v: string): number {
  if (!/^\d+$/.test(v)) throw new HangarError('INVALID_SPEC', `"${v}" is not a whole number.`);
  return Number(v);
}

async function defaultRepo(client: ApiClient): Promise<string> {
  const repos = await client.backups.repos();
  const def = repos.find((r) => r.default) ?? (repos.length === 1 ? repos[0] : undefined);
  if (!def) throw new HangarError('BACKUP_REPO_NOT_FOUND', repos.length ? 'No repository is marked default: name one with --repo.' : 'There is no backup repository yet: make one with `hangar backup-repo create NAME --path DIR`.');
  return def.name;
}
