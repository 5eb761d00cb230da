/**
 * Backups: repositories, backing a VM up (full, then incremental through persistent dirty
 * bitmaps), listing, and restoring to a new VM.
 *
 * A VM's backup state (which backup its bitmaps count from, in which repository) is one
 * record per VM (`backup-state`), written before QEMU is touched (`pending`) and after the
 * backup's manifest is stored. A daemon killed in between leaves `pending`: at start,
 * `recover` removes the fleecing nodes and export from the guest's QEMU and folds the old
 * bitmap into the new one, so the next backup still reads every change (it is compared
 * with the older backup, which is always correct).
 *
 * The next backup is a full read, and says why, when: there is no earlier backup in that
 * repository; the bitmap is missing, not recording or inconsistent (QEMU crashed, the VM
 * was reverted to a snapshot, a linked clone moved the disk onto a new overlay); a disk
 * was added or resized; or a disk is raw (raw files cannot hold a bitmap).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { errorText, HangarError } from '../errors/errors.js';
import type { EventBus } from '../events/bus.js';
import type { DiskSpec } from '../model/spec.js';
import type { OperationContext } from '../operations/service.js';
import type { QmpClient } from '../qmp/index.js';
import { validateVolumeName } from '../storage/pool.js';
import type { Collection, Store, VmRecord } from '../store/store.js';
import type { StorageService, VolumeRecord } from '../storage/service.js';
import type { VmService, VmView } from '../vm/service.js';
import { restoreDiskToVolume, restoreInPlace, restoreToNewVm } from './restore.js';
import { restoreLive, resumeLiveRestores, type LiveRestoreDeps } from './live-restore.js';
import { exportVm, importVm, sweepImportStaging, type ExportDeps, type ExportResult } from './vm-export.js';
import { InFlight, removeLeftovers } from './in-flight.js';
import { backupDisk } from './disk-stream.js';
import { newBackupId, putFile, summary, type BackupManifest, type BackupSummary } from './manifest.js';
import { collectGarbage, selectKept, verifyRepository, type Retention, type VerifyResult } from './maintenance.js';
import { NbdClient } from './nbd-client.js';
import { bitmapName, bitmapsByNode, cleanupExport, isBackupBitmap, startExport, type BitmapInfo, type ExportDisk } from './qmp-export.js';
import { BackupRepository, readKeyFile } from './repository.js';
import { endOrphanStorageDaemons, startStorageDaemon } from './storage-daemon.js';
import { killOrphanQemuImg } from '../util/orphans.js';

export interface BackupRepoRecord {
  name: string;
  path: string;
  encrypted: boolean;
  keyFile?: string;
  default: boolean;
  createdAt: string;
}

export interface BackupStateRecord {
  vm: string;
  vmId: string;
  repo: string;
  /** The backup the bitmaps count changes from. */
  since?: string;
  generation: number;
  /** Disk id → the bitmap recording changes since `since`. */
  bitmaps: Record<string, string>;
  /** Why the next backup must read everything (e.g. a snapshot revert), said by it. */
  untrusted?: string;
  /** A backup in progress: the bitmaps it started. */
  pending?: { generation: number; bitmaps: Record<string, string> };
}

export interface BackupServiceDeps {
  store: Store;
  events: EventBus;
  vms: VmService;
  runDir: string;
  /** `<data-dir>/tpm`: a VM's TPM state is `<tpmRoot>/<vm-id>/`. */
  tpmRoot: string;
  storage: StorageService;
  /** The argv that runs `hangar` (node, bin/hangar): a live restore's NBD server runs as `hangar backup serve`. */
  hangar?: string[];
  /** A live restore's copy speed limit in bytes/s (tests); unset: as fast as it goes. */
  liveRestoreSpeed?: number;
  /** The tap name of a managed-network NIC (restores under a new identity). */
  tapFor?: (vmId: string, nicId: string) => string;
  log?: (msg: string) => void;
}

const run = promisify(execFile);

export class BackupService {
  readonly repos: Collection<BackupRepoRecord>;
  private readonly states: Collection<BackupStateRecord>;
  private readonly log: (msg: string) => void;
  /** Backups writing to each repository (-1: garbage collection runs there). */
  private readonly writers = new Map<string, number>();
  /** Exports and imports in flight (`<data-dir>/in-flight`): what a killed daemon left goes at start. */
  private readonly inFlight: InFlight;

  constructor(private readonly deps: BackupServiceDeps) {
    this.repos = deps.store.collection<BackupRepoRecord>('backup-repos');
    this.states = deps.store.collection<BackupStateRecord>('backup-state');
    this.log = deps.log ?? (() => {});
    this.inFlight = new InFlight(join(dirname(deps.tpmRoot), 'in-flight'));
    // A deleted VM's bitmaps went with its disks: forget where they counted from.
    deps.events.subscribe((e) => {
      if (e.type !== 'vm.deleted' || !e.vm) return;
      void this.states.list().then(async (all) => {
        for (const s of all.filter((x) => x.vm === e.vm)) if (!(await deps.store.getVmById(s.vmId))) await this.states.delete(s.vmId);
      }).catch(() => undefined);
    });
  }

  // ---- repositories ----------------------------------------------------------

  async createRepo(input: { name: string; path: string; encrypt?: boolean; keyFile?: string; default?: boolean }): Promise<BackupRepoRecord> {
    const name = validateVolumeName(input.name, 'backup repository');
    if (!input.path.startsWith('/')) throw new HangarError('INVALID_SPEC', `The repository path must be absolute, not "${input.path}".`, { details: { field: 'path' } });
    if (input.encrypt && !input.keyFile) throw new HangarError('INVALID_SPEC', 'An encrypted repository needs --key-file (at least 32 secret bytes, e.g. head -c 32 /dev/urandom > repo.key).', { details: { field: 'keyFile' } });
    if (!input.encrypt && input.keyFile) throw new HangarError('INVALID_SPEC', '--key-file is for an encrypted repository: add --encrypt.', { details: { field: 'keyFile' } });
    if (input.keyFile && !input.keyFile.startsWith('/')) throw new HangarError('INVALID_SPEC', `The key file path must be absolute, not "${input.keyFile}".`, { details: { field: 'keyFile' } });
    if (await this.repos.get(name)) throw new HangarError('BACKUP_REPO_EXISTS', `A backup repository named "${name}" exists already.`);
    const all = await this.repos.list();
    if (all.some((r) => r.path === input.path)) throw new HangarError('BACKUP_REPO_EXISTS', `Repository "${all.find((r) => r.path === input.path)!.name}" is at ${input.path} already.`);
    const key = input.keyFile ? await readKeyFile(input.keyFile) : undefined;
    await BackupRepository.create(input.path, key);
    const rec: BackupRepoRecord = {
      name, path: input.path, encrypted: key !== undefined, ...(input.keyFile && { keyFile: input.keyFile }),
      default: input.default === true || all.length === 0, createdAt: new Date().toISOString(),
    };
    if (rec.default) for (const r of all.filter((x) => x.default)) await this.repos.update(r.name, { ...r, default: false });
    await this.repos.create(name, rec);
    return rec;
  }

  async listRepos(): Promise<BackupRepoRecord[]> {
    return (await this.repos.list()).sort((a, b) => a.name.localeCompare(b.name));
  }

  async repoRecord(name?: string): Promise<BackupRepoRecord> {
    if (name === undefined) {
      const all = await this.repos.list();
      const def = all.find((r) => r.default) ?? (all.length === 1 ? all[0] : undefined);
      if (!def) throw new HangarError('BACKUP_REPO_NOT_FOUND', all.length ? 'No repository is marked default: name one with --repo.' : 'There is no backup repository yet: make one with `hangar backup-repo create NAME --path DIR`.');
      return def;
    }
    const r = await this.repos.get(name);
    if (!r) throw new HangarError('BACKUP_REPO_NOT_FOUND', `There is no backup repository "${name}".`);
    return r;
  }

  /** Forgets a repository; its directory and backups stay where they are. */
  async removeRepo(name: string): Promise<void> {
    await this.repoRecord(name);
    await this.repos.delete(name);
  }

  async openRepo(rec: BackupRepoRecord): Promise<BackupRepository> {
    const key = rec.keyFile ? await readKeyFile(rec.keyFile) : undefined;
    return BackupRepository.open(rec.path, key);
  }

  // ---- listing ---------------------------------------------------------------

  async list(opts: { vm?: string; repo?: string } = {}): Promise<BackupSummary[]> {
    const repos = opts.repo ? [await this.repoRecord(opts.repo)] : await this.listRepos();
    const out: BackupSummary[] = [];
    for (const r of repos) {
      let repo: BackupRepository;
      try {
        repo = await this.openRepo(r);
      } catch (e) {
        if (opts.repo) throw e;
        this.log(`backup list: repository ${r.name} skipped: ${errorText(e)}`);
        continue;
      }
      for (const id of await repo.manifestIds()) {
        const m = await repo.readManifest<BackupManifest>(id).catch((e: unknown) => {
          this.log(`backup list: ${r.name}/${id}: ${errorText(e)}`);
          return undefined;
        });
        if (m && (!opts.vm || m.vm === opts.vm)) out.push(summary(m, r.name));
      }
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  /** A backup by id, from any repository (or the one named). */
  async find(id: string, repoName?: string): Promise<{ manifest: BackupManifest; repo: BackupRepository; repoRec: BackupRepoRecord }> {
    if (!/^[0-9A-Za-z-]{1,80}$/.test(id)) throw new HangarError('INVALID_SPEC', `"${id}" is not a backup id.`, { details: { field: 'backup' } });
    const repos = repoName ? [await this.repoRecord(repoName)] : await this.listRepos();
    for (const r of repos) {
      if (!existsSync(join(r.path, 'backups', `${id}.json`))) continue;
      const repo = await this.openRepo(r);
      return { manifest: await repo.readManifest<BackupManifest>(id), repo, repoRec: r };
    }
    throw new HangarError('BACKUP_NOT_FOUND', `There is no backup "${id}"${repoName ? ` in repository "${repoName}"` : ''}: \`hangar backup list\` shows them.`);
  }

  // ---- maintenance -------------------------------------------------------------

  private async manifestsOf(repo: BackupRepository): Promise<BackupManifest[]> {
    const out: BackupManifest[] = [];
    for (const id of await repo.manifestIds()) out.push(await repo.readManifest<BackupManifest>(id));
    return out;
  }

  /** Re-reads every chunk of a repository; names the backups that use a damaged one. */
  async verify(repoName: string | undefined, ctx?: OperationContext): Promise<VerifyResult & { repo: string }> {
    const rec = await this.repoRecord(repoName);
    const repo = await this.openRepo(rec);
    const result = await verifyRepository(repo, await this.manifestsOf(repo), (done, total) => ctx?.progress({ phase: 'checking chunks', percent: Math.floor((done * 100) / Math.max(1, total)), message: `${done}/${total}` }), ctx?.signal);
    return { repo: rec.name, ...result };
  }

  /** Deletes the backups a retention policy does not keep (per VM); `dryRun` only says which. */
  async prune(input: Retention & { vm?: string; repo?: string; dryRun?: boolean }): Promise<{ kept: BackupSummary[]; removed: BackupSummary[] }> {
    for (const [k, v] of Object.entries(input)) {
      if (k.startsWith('keep') && (!Number.isInteger(v) || (v as number) < 0)) throw new HangarError('INVALID_SPEC', `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} must be a whole number of at least 0.`, { details: { field: k } });
    }
    const rec = await this.repoRecord(input.repo);
    const list = await this.list({ repo: rec.name, ...(input.vm !== undefined && { vm: input.vm }) });
    const { keep, remove } = selectKept(list, input);
    if (!input.dryRun && remove.length) {
      const repo = await this.openRepo(rec);
      for (const b of remove) await repo.deleteManifest(b.id);
    }
    return { kept: keep, removed: remove };
  }

  /** Removes the chunks no backup in the repository uses. Not while a backup writes to it. */
  async gc(repoName: string | undefined): Promise<{ repo: string; removedChunks: number; freedBytes: number; keptChunks: number }> {
    const rec = await this.repoRecord(repoName);
    if ((this.writers.get(rec.name) ?? 0) > 0) throw new HangarError('VM_BUSY', `A backup is writing to repository "${rec.name}": collect garbage once it has ended.`);
    this.writers.set(rec.name, -1);
    try {
      const repo = await this.openRepo(rec);
      return { repo: rec.name, ...(await collectGarbage(repo, await this.manifestsOf(repo))) };
    } finally {
      this.writers.delete(rec.name);
    }
  }

  private liveDeps(): LiveRestoreDeps {
    return {
      store: this.deps.store, storage: this.deps.storage, vms: this.deps.vms, runDir: this.deps.runDir, hangar: this.deps.hangar ?? [],
      log: this.log, ...(this.deps.tapFor && { tapFor: this.deps.tapFor }), ...(this.deps.liveRestoreSpeed && { speed: this.deps.liveRestoreSpeed }),
    };
  }

  /** At daemon start, after adoption: live restores a killed daemon was following go on (or are marked failed). */
  async resumeLiveRestores(): Promise<void> {
    if (!this.deps.hangar) return;
    await resumeLiveRestores(this.liveDeps(), (name) => this.repoRecord(name));
  }

  /** Restores a backup to a new VM (its own name if free, or `as`). */
  async restore(id: string, input: { as?: string; repo?: string; disk?: string; volume?: string; yes?: boolean; live?: boolean }, ctx?: OperationContext): Promise<VmView | VolumeRecord> {
    const { manifest, repo, repoRec } = await this.find(id, input.repo);
    if (input.disk !== undefined) {
      if (input.as !== undefined) throw new HangarError('INVALID_SPEC', '--disk restores one disk into a new volume: --as (a new VM) does not go with it.', { details: { field: 'as' } });
      return restoreDiskToVolume({ storage: this.deps.storage, runDir: this.deps.runDir }, repo, manifest, input.disk, input.volume, ctx);
    }
    if (input.volume !== undefined) throw new HangarError('INVALID_SPEC', '--volume names the volume of a single restored disk: add --disk.', { details: { field: 'volume' } });
    if (input.live) {
      if (input.yes) throw new HangarError('INVALID_SPEC', '--live starts a new VM at once: it does not go with --yes (in place).', { details: { field: 'live' } });
      if (!this.deps.hangar) throw new HangarError('INTERNAL', 'This daemon cannot start the live restore\'s NBD server.');
      const view = await restoreLive(this.liveDeps(), repoRec, repo, manifest, input.as, ctx);
      await this.deps.events.publish('backup.restored', view.name, { backup: id, repo: repoRec.name, from: manifest.vm, live: true });
      return view;
    }
    if (input.as === undefined && (await this.deps.store.getVm(manifest.vm))) {
      if (!input.yes) throw new HangarError('VM_EXISTS', `VM "${manifest.vm}" exists: restore it in place with --yes (it must be stopped; its disks are replaced), or to a new VM with --as NEW.`);
      const vm = await restoreInPlace({ store: this.deps.store, storage: this.deps.storage, vms: this.deps.vms, runDir: this.deps.runDir }, repo, manifest, ctx);
      await this.forgetBitmapsOf(vm.id, `the VM was restored in place from backup ${id}`);
      await this.deps.events.publish('backup.restored', vm.name, { backup: id, repo: repoRec.name, from: manifest.vm, inPlace: true });
      return vm;
    }
    const view = await restoreToNewVm({ store: this.deps.store, storage: this.deps.storage, vms: this.deps.vms, runDir: this.deps.runDir, ...(this.deps.tapFor && { tapFor: this.deps.tapFor }) }, repo, manifest, input.as, ctx);
    await this.deps.events.publish('backup.restored', view.name, { backup: id, repo: repoRec.name, from: manifest.vm });
    return view;
  }

  // ---- export and import ---------------------------------------------------------

  private exportDeps(): ExportDeps {
    const { store, storage, vms, runDir, tpmRoot, tapFor } = this.deps;
    return {
      store, storage, vms, runDir, tpmRoot, stagingRoot: join(dirname(tpmRoot), 'import'), inFlight: this.inFlight, ...(tapFor && { tapFor }),
      diskSizes: async (qmp, ids) => diskSizes(qmp, ids.map((id) => ({ id }))),
    };
  }

  /** Writes VM `vm` (running or stopped) to one archive at `file`. */
  async exportVm(vm: string, input: { file: string; force?: boolean; compress?: boolean }, ctx?: OperationContext): Promise<ExportResult> {
    const r = await exportVm(this.exportDeps(), vm, input, ctx);
    await this.deps.events.publish('vm.exported', vm, { file: r.file, sizeBytes: r.sizeBytes });
    return r;
  }

  /** Makes a VM (stopped) from an archive `vm export` wrote. */
  async importVm(input: { file: string; as?: string }, ctx?: OperationContext): Promise<VmView> {
    const view = await importVm(this.exportDeps(), input, ctx);
    await this.deps.events.publish('vm.imported', view.name, { file: input.file });
    return view;
  }

  // ---- backup ----------------------------------------------------------------

  async create(vm: string, input: { repo?: string }, ctx?: OperationContext): Promise<BackupSummary> {
    const repoRec = await this.repoRecord(input.repo);
    const repo = await this.openRepo(repoRec).catch(async (e: unknown) => {
      await this.deps.events.publish('backup.failed', vm, { repo: repoRec.name, error: errorText(e) }).catch(() => undefined);
      throw e;
    });
    if (this.writers.get(repoRec.name) === -1) throw new HangarError('VM_BUSY', `Garbage collection runs in repository "${repoRec.name}": back up once it has ended.`);
    this.writers.set(repoRec.name, (this.writers.get(repoRec.name) ?? 0) + 1);
    try {
      return await this.deps.vms.operate(vm, 'backup', async (h) => {
        const rec = await h.record();
        const live = rec.state === 'running' || rec.state === 'paused';
        if (!live && rec.state !== 'stopped' && rec.state !== 'crashed') {
          throw new HangarError('VM_STATE', `Cannot back up VM "${vm}" while it is ${rec.state}: back it up running, paused or stopped.`, { details: { state: rec.state } });
        }
        if (rec.spec.disks.length === 0) throw new HangarError('INVALID_SPEC', `VM "${vm}" has no disk to back up.`);
        if (live) return this.backupWith(rec, await h.qmp(), dirname(this.deps.vms.pathsOf(rec).qmpSocket), repo, repoRec, true, ctx);
        const sd = await startStorageDaemon(this.deps.runDir, rec.id, rec.spec.disks);
        try {
          return await this.backupWith(rec, sd.qmp, sd.dir, repo, repoRec, false, ctx);
        } finally {
          await sd.close();
        }
      });
    } catch (e) {
      await this.deps.events.publish('backup.failed', vm, { repo: repoRec.name, error: errorText(e) }).catch(() => undefined);
      throw e;
    } finally {
      const n = (this.writers.get(repoRec.name) ?? 1) - 1;
      if (n > 0) this.writers.set(repoRec.name, n);
      else this.writers.delete(repoRec.name);
    }
  }

  private async backupWith(rec: VmRecord, qmp: QmpClient, dir: string, repo: BackupRepository, repoRec: BackupRepoRecord, live: boolean, ctx?: OperationContext): Promise<BackupSummary> {
    const t0 = performance.now();
    const id = newBackupId();
    const state = await this.states.get(rec.id);
    const { previous, reason } = await this.incrementalBase(rec, qmp, repo, repoRec, state);
    const generation = (state?.generation ?? 0) + 1;
    const sizes = await diskSizes(qmp, rec.spec.disks);
    const disks: ExportDisk[] = rec.spec.disks.map((d) => ({
      node: d.id, sizeBytes: sizes.get(d.id)!,
      ...(previous && { since: state!.bitmaps[d.id]! }),
      ...(d.format === 'qcow2' && !d.readOnly && { next: bitmapName(generation) }),
    }));
    const nextBitmaps = Object.fromEntries(disks.filter((d) => d.next).map((d) => [d.node, d.next!]));
    const base: BackupStateRecord = state ?? { vm: rec.name, vmId: rec.id, repo: repoRec.name, generation: 0, bitmaps: {} };
    await this.putState({ ...base, vm: rec.name, pending: { generation, bitmaps: nextBitmaps } });
    const agent = live && rec.state === 'running' && (await this.deps.vms.agentPresent(rec)) ? this.deps.vms.agentFor(rec) : undefined;
    let fsFrozen = false;
    const session = await startExport(qmp, disks, {
      dir,
      ...(live && { handOver: (path: string) => this.deps.vms.handOverFile(rec, path) }),
      ...(agent && {
        freeze: async () => (fsFrozen = (await agent.ping(1000)) && (await agent.fsFreeze().then(() => true, () => false))),
        thaw: async () => agent.fsThaw().then(() => undefined),
      }),
    }).catch(async (e: unknown) => {
      await this.settleState(rec, qmp, base, repoRec.name, undefined, nextBitmaps);
      throw e;
    });
    let stored = false;
    try {
      const total = disks.reduce((n, d) => n + d.sizeBytes, 0);
      let doneBefore = 0;
      let readBytes = 0;
      let storedBytes = 0;
      const out: BackupManifest['disks'] = [];
      for (const d of disks) {
        const spec = rec.spec.disks.find((s) => s.id === d.node)!;
        const nbd = await NbdClient.connect(session.socket, { exportName: session.exportName(d.node), metaContexts: ['base:allocation', ...(d.since ? [`qemu:dirty-bitmap:${d.since}`] : [])] });
        try {
          const prev = previous?.disks.find((p) => p.id === d.node);
          const r = await backupDisk(nbd, repo, {
            chunkSize: repo.config.chunkSize,
            ...(prev && d.since && { previous: { chunks: prev.chunks, dirtyContext: `qemu:dirty-bitmap:${d.since}` } }),
            onProgress: (p) => ctx?.progress({ phase: `reading ${d.node}`, bytesDone: doneBefore + p.doneBytes, bytesTotal: total, percent: Math.floor(((doneBefore + p.doneBytes) * 100) / Math.max(1, total)) }),
            ...(ctx && { signal: ctx.signal }),
          });
          readBytes += r.readBytes;
          storedBytes += r.storedBytes;
          out.push({ id: d.node, format: spec.format, ...(spec.volume && { pool: spec.volume.pool, volume: spec.volume.name }), sizeBytes: r.sizeBytes, chunkSize: r.chunkSize, chunks: r.chunks });
        } finally {
          await nbd.close().catch(() => undefined);
        }
        doneBefore += d.sizeBytes;
      }
      const manifest: BackupManifest = {
        id, vm: rec.name, vmId: rec.id, createdAt: new Date().toISOString(), kind: previous ? 'incremental' : 'full',
        ...(reason && { fullReason: reason }), ...(previous && { parent: previous.id }),
        spec: rec.spec, disks: out, readBytes, storedBytes: 0, durationMs: 0, fsFrozen,
      };
      const nvramPath = rec.spec.firmware?.nvram?.path;
      if (nvramPath && existsSync(nvramPath)) {
        const f = await putFile(repo, 'nvram', await readFile(nvramPath));
        manifest.nvram = f.file;
        storedBytes += f.stored;
      }
      if (rec.spec.tpm) {
        const tpmDir = join(this.deps.tpmRoot, rec.id);
        manifest.tpm = [];
        for (const name of (await readdir(tpmDir).catch(() => [] as string[])).filter((n) => !n.endsWith('.lock')).sort()) {
          const f = await putFile(repo, name, await readFile(join(tpmDir, name)));
          manifest.tpm.push(f.file);
          storedBytes += f.stored;
        }
      }
      manifest.storedBytes = storedBytes;
      manifest.durationMs = Math.round(performance.now() - t0);
      await repo.writeManifest(id, manifest);
      stored = true;
      await session.finish(true);
      await this.settleState(rec, qmp, base, repoRec.name, id, nextBitmaps);
      await this.deps.events.publish('backup.created', rec.name, {
        backup: id, repo: repoRec.name, kind: manifest.kind, readBytes, storedBytes, ...(reason && { fullReason: reason }),
      });
      return summary(manifest, repoRec.name);
    } finally {
      if (!stored) {
        await session.finish(false).catch((e: unknown) => this.log(`${rec.name}: cleaning up a failed backup: ${errorText(e)}`));
        await this.settleState(rec, qmp, base, repoRec.name, undefined, nextBitmaps);
      }
    }
  }

  /** The backup an incremental builds on, or why the next backup reads everything. */
  private async incrementalBase(rec: VmRecord, qmp: QmpClient, repo: BackupRepository, repoRec: BackupRepoRecord, state: BackupStateRecord | undefined): Promise<{ previous?: BackupManifest; reason?: string }> {
    if (!state?.since) return {};
    if (state.untrusted) return { reason: state.untrusted };
    if (state.repo !== repoRec.name) return { reason: `the last backup went to repository "${state.repo}"` };
    const previous = await repo.readManifest<BackupManifest>(state.since).catch(() => undefined);
    if (!previous) return { reason: `the last backup (${state.since}) is no longer in the repository` };
    const nodes = await bitmapsByNode(qmp);
    const sizes = await diskSizes(qmp, rec.spec.disks);
    for (const d of rec.spec.disks) {
      if (d.format !== 'qcow2' || d.readOnly) return { reason: `disk ${d.id} is ${d.readOnly ? 'read-only' : d.format}: it holds no dirty bitmap` };
      const prev = previous.disks.find((p) => p.id === d.id);
      if (!prev) return { reason: `disk ${d.id} is new since the last backup` };
      if (prev.sizeBytes !== sizes.get(d.id)) return { reason: `disk ${d.id} was resized since the last backup` };
      const name = state.bitmaps[d.id];
      const bm = name ? nodes.get(d.id)?.find((b) => b.name === name) : undefined;
      if (!bm) return { reason: `disk ${d.id} has no dirty bitmap since the last backup (reverted to a snapshot, or moved onto a new overlay)` };
      if (bm.inconsistent) return { reason: `the dirty bitmap of disk ${d.id} cannot be trusted (QEMU did not close the disk cleanly)` };
      if (!bm.recording) return { reason: `the dirty bitmap of disk ${d.id} was not recording` };
    }
    return { previous };
  }

  private async putState(s: BackupStateRecord): Promise<void> {
    if (!(await this.states.create(s.vmId, s))) await this.states.update(s.vmId, s);
  }

  /**
   * After a backup. Stored (`id`): the new bitmaps count from it. Failed: each disk's
   * bitmap is whichever QEMU now holds, the new one (the old one was folded into it) or
   * still the old one (the backup failed before QEMU was changed); the base stays.
   */
  private async settleState(rec: VmRecord, qmp: QmpClient, base: BackupStateRecord, repo: string, id: string | undefined, next: Record<string, string>): Promise<void> {
    const generation = (base.generation ?? 0) + 1;
    let s: BackupStateRecord;
    if (id) {
      s = { vm: rec.name, vmId: rec.id, repo, since: id, generation, bitmaps: next };
      // Older bitmaps of Hangar's (a full backup's predecessors, leftovers of a backup cut short) count from nothing any more.
      for (const [node, list] of await bitmapsByNode(qmp).catch(() => new Map<string, BitmapInfo[]>())) {
        for (const b of list) {
          if (isBackupBitmap(b.name) && b.name !== next[node]) await qmp.execute('block-dirty-bitmap-remove', { node, name: b.name }).catch(() => undefined);
        }
      }
    } else {
      const nodes = await bitmapsByNode(qmp).catch(() => new Map<string, Array<{ name: string }>>());
      const bitmaps: Record<string, string> = {};
      for (const [disk, old] of Object.entries(base.bitmaps)) {
        const have = nodes.get(disk) ?? [];
        const n = next[disk];
        if (n && have.some((b) => b.name === n)) bitmaps[disk] = n;
        else if (have.some((b) => b.name === old)) bitmaps[disk] = old;
      }
      s = { ...base, vm: rec.name, generation, bitmaps };
    }
    delete s.pending;
    await this.putState(s);
  }

  /**
   * At daemon start, after adoption: backups a killed daemon left half done. A running
   * guest's QEMU loses its fleecing nodes and export; its bitmaps are folded as after a
   * failed backup. A stopped VM's leftover qemu-storage-daemon is ended (its bitmaps were
   * not saved, so the next backup of that VM reads everything).
   */
  async recover(): Promise<void> {
    await endOrphanStorageDaemons(this.deps.runDir, this.log);
    await sweepImportStaging(this.exportDeps().stagingRoot, Date.now() - performance.now());
    await this.removeTransferLeftovers();
    for (const s of await this.states.list()) {
      if (!s.pending) continue;
      try {
        const rec = (await this.deps.store.listVms()).find((v) => v.id === s.vmId);
        const qmp = rec && (rec.state === 'running' || rec.state === 'paused') ? this.deps.vms.monitor(rec.id) : undefined;
        if (rec) {
          const dir = dirname(this.deps.vms.pathsOf(rec).qmpSocket);
          for (const f of await readdir(dir).catch(() => [] as string[])) if (f.startsWith('hangar-backup')) await rm(join(dir, f), { force: true });
        }
        if (qmp) {
          await cleanupExport(qmp);
          for (const [disk, next] of Object.entries(s.pending.bitmaps)) {
            const old = s.bitmaps[disk];
            // Changes since the last backup now count in the new bitmap; without a last backup, it counts from nothing.
            if (old && s.since) await qmp.execute('block-dirty-bitmap-merge', { node: disk, target: next, bitmaps: [old] }).catch(() => undefined);
            else await qmp.execute('block-dirty-bitmap-remove', { node: disk, name: next }).catch(() => undefined);
            if (old) await qmp.execute('block-dirty-bitmap-remove', { node: disk, name: old }).catch(() => undefined);
          }
        }
        const next: BackupStateRecord = qmp && s.since ? { ...s, bitmaps: s.pending.bitmaps, generation: s.pending.generation } : { vm: s.vm, vmId: s.vmId, repo: s.repo, generation: s.pending.generation, bitmaps: {} };
        delete next.pending;
        await this.putState(next);
        this.log(`${s.vm}: a backup cut short by the previous daemon was cleaned up`);
      } catch (e) {
        this.log(`${s.vm}: cleaning up a backup cut short failed: ${errorText(e)}`);
      }
    }
  }

  /**
   * Exports and imports a killed daemon was in the middle of: their staging directories and
   * copies (recorded, carrying the transfer's token) and the volumes of a VM an import never made.
   */
  private async removeTransferLeftovers(): Promise<void> {
    const { store, storage } = this.deps;
    await removeLeftovers(this.inFlight, {
      volumeInUse: async (pool, name, vm) => {
        const vol = (await storage.listVolumes(pool)).find((v) => v.name === name);
        if (!vol) return true; // gone already: nothing to delete
        if (await store.getVm(vm)) return true;
        if (vol.attachedTo && (await store.getVm(vol.attachedTo))) return true;
        return (await store.listVms()).some((r) => JSON.stringify(r.spec).includes(JSON.stringify(vol.path)));
      },
      deleteVolume: async (pool, name) => {
        await storage.markAttached(pool, name, undefined);
        await storage.deleteVolume(pool, name, { evenIfOwned: true });
      },
      endWriters: async (dir) => {
        await killOrphanQemuImg(dir);
      },
      endLiveExport: async (vmId) => {
        const rec = await store.getVmById(vmId);
        if (!rec || (rec.state !== 'running' && rec.state !== 'paused')) return;
        const cleanup = async (qmp: QmpClient | undefined) => {
          if (qmp) await cleanupExport(qmp);
          const dir = dirname(this.deps.vms.pathsOf(rec).qmpSocket);
          for (const f of await readdir(dir).catch(() => [] as string[])) if (f.startsWith('hangar-backup')) await rm(join(dir, f), { force: true });
        };
        try {
          // Under the VM's lock: no backup or export of it runs meanwhile.
          await this.deps.vms.operate(rec.name, 'export-cleanup', async (h) => cleanup(await h.qmp()));
        } catch (e) {
          // The snapshot reconciliation after a restart holds the lock while it waits for
          // Hangar's jobs in QEMU to end, and the export's fleecing job ends only when
          // cancelled here: do it without the lock (as `recover` does for backups).
          if (!(e instanceof HangarError && e.code === 'VM_BUSY' && e.details?.operation === 'snapshot-reconcile')) throw e;
          await cleanup(this.deps.vms.monitor(rec.id));
        }
      },
      log: this.log,
    }).catch((e: unknown) => this.log(`removing what interrupted exports and imports left failed: ${errorText(e)}`));
  }

  private async forgetBitmapsOf(vmId: string, reason: string): Promise<void> {
    const s = await this.states.get(vmId);
    if (s) await this.putState({ ...s, bitmaps: {}, untrusted: reason });
  }

  /**
   * Before a snapshot revert: QEMU refuses to revert a disk that holds dirty bitmaps, and
   * after it the bitmaps would mean nothing. Hangar's bitmaps are removed (through the
   * guest's QEMU, or qemu-img for a stopped VM) and the next backup reads everything.
   */
  async dropBitmaps(rec: VmRecord, qmp: QmpClient | undefined, reason: string): Promise<void> {
    if (qmp) {
      for (const [node, list] of await bitmapsByNode(qmp)) {
        for (const b of list.filter((x) => isBackupBitmap(x.name))) await qmp.execute('block-dirty-bitmap-remove', { node, name: b.name });
      }
    } else {
      for (const d of rec.spec.disks.filter((x) => x.format === 'qcow2' && !x.readOnly)) {
        for (const name of await qcow2Bitmaps(d.path)) if (isBackupBitmap(name)) await run('qemu-img', ['bitmap', '--remove', '-f', 'qcow2', d.path, name]);
      }
    }
    await this.forgetBitmapsOf(rec.id, reason);
  }
}

async function qcow2Bitmaps(path: string): Promise<string[]> {
  const { stdout } = await run('qemu-img', ['info', '-U', '--output=json', '-f', 'qcow2', path]);
  const info = JSON.parse(stdout) as { 'format-specific'?: { data?: { bitmaps?: Array<{ name: string }> } } };
  return (info['format-specific']?.data?.bitmaps ?? []).map((b) => b.name);
}

/** Each disk's virtual size, as its QEMU (or storage daemon) sees it. */
async function diskSizes(qmp: QmpClient, disks: Array<Pick<DiskSpec, 'id'>>): Promise<Map<string, number>> {
  const nodes = await qmp.execute<Array<{ 'node-name': string; image: { 'virtual-size': number } }>>('query-named-block-nodes', { flat: true });
  const out = new Map<string, number>();
  for (const d of disks) {
    const n = nodes.find((x) => x['node-name'] === d.id);
    if (!n) throw new HangarError('INTERNAL', `Disk ${d.id} has no block node "${d.id}" in QEMU.`);
    out.set(d.id, n.image['virtual-size']);
  }
  return out;
}

