/**
 * Save a guest's memory and device state to a file and stop QEMU (the VM becomes `saved`);
 * `start` restores it in a fresh QEMU with the same hardware, and the guest continues where
 * it was. Built on the migration stream (see stream.ts), so host-to-host migration reuses
 * the parameters, the watch and the cancel.
 *
 * Files, in `<data-dir>/vms/<vm-id>/` (root's, 0700; QEMU never opens them):
 *   saved-state.bin          the complete stream (present = the save is whole)
 *   saved-state.bin.partial  while a save is written; never renamed unless QEMU said completed
 *   saved-state.json         when and from what state it was saved
 *   saving.json              marker while a save runs: after a daemon crash, says to resume
 *   nvram.raw                a UEFI VM's NVRAM at the save, copied back before the restore
 */
import { assertStateMovable } from '../model/hw.js';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { errorText, HangarError } from '../errors/errors.js';
import type { EventBus } from '../events/bus.js';
import type { OperationContext } from '../operations/service.js';
import type { VmRecord } from '../store/store.js';
import type { VmHandle, VmService, VmView } from '../vm/service.js';
import { assertOperationAllowed } from '../model/states.js';
import { copyNvramFrom, copyNvramTo } from '../vm/firmware.js';
import { applyMigrationParams, migrationParams, SAVE_DEFAULTS, type MigrationParams } from './params.js';
import { feedSave, SaveSink } from './stream.js';
import { cancelActiveMigration, migrationProgress, watchMigration } from './watch.js';

export interface SaveInput {
  /** Cap in bytes per second (default: none). */
  maxBandwidth?: number;
}

export interface SaveResult {
  vm: string;
  path: string;
  bytes: number;
  seconds: number;
  /** Megabytes (10^6) per second through the stream. */
  mbPerSecond: number;
}

interface SaveMeta {
  vm: string;
  savedAt: string;
  runState: 'running' | 'paused';
  bytes: number;
}

export const SAVE_FILE = 'saved-state.bin';
/** A UEFI VM's NVRAM as it was saved. */
const SAVE_NVRAM_FILE = 'nvram.raw';

export class SaveService {
  constructor(
    private readonly vms: VmService,
    private readonly events: EventBus,
    private readonly dataDir: string,
    private readonly log: (msg: string) => void = () => {},
  ) {
    vms.useSavedState({
      restore: (h) => this.restore(h),
      discard: (rec) => this.discard(rec),
    });
  }

  dirOf(rec: Pick<VmRecord, 'id'>): string {
    return join(this.dataDir, 'vms', rec.id);
  }

  saveFileOf(rec: Pick<VmRecord, 'id'>): string {
    return join(this.dirOf(rec), SAVE_FILE);
  }

  /** Checks what can be checked before an operation is started for it. */
  async precheck(name: string): Promise<void> {
    const rec = await this.vms.record(name);
    assertOperationAllowed(name, rec.state, 'save');
  }

  /** `restoreAtStart`: a save by `host shutdown-guests`, restored at the next daemon start; any other save clears that mark. */
  async save(name: string, input: SaveInput = {}, ctx?: OperationContext, opts: { restoreAtStart?: boolean } = {}): Promise<SaveResult> {
    const params = migrationParams(SAVE_DEFAULTS, input.maxBandwidth !== undefined ? { maxBandwidth: input.maxBandwidth } : {});
    return this.vms.operate(name, 'save', async (h) => {
      const rec = await h.record();
      assertOperationAllowed(name, rec.state, 'save');
      assertStateMovable(rec.spec, 'save');
      return this.saveLocked(h, rec, params, ctx, opts.restoreAtStart === true);
    });
  }

  private async saveLocked(h: VmHandle, rec: VmRecord, params: MigrationParams, ctx: OperationContext | undefined, restoreAtStart: boolean): Promise<SaveResult> {
    const wasRunning = rec.state === 'running';
    const qmp = await h.qmp();
    const dir = this.dirOf(rec);
    const final = this.saveFileOf(rec);
    const partial = `${final}.partial`;
    const marker = join(dir, 'saving.json');
    const runDir = dirname(this.vms.pathsOf(rec).qmpSocket);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(marker, JSON.stringify({ wasRunning, startedAt: new Date().toISOString() }));
    const runDirStat = await stat(runDir);
    const owner = runDirStat.uid === process.getuid?.() ? undefined : { uid: runDirStat.uid, gid: runDirStat.gid };
    const sink = await SaveSink.listen(join(runDir, 'save.sock'), partial, owner);
    const t0 = Date.now();
    await h.setState('migrating');
    try {
      // Paused first: each page is written once, and the file is the guest at one instant.
      if (wasRunning) await qmp.execute('stop');
      await applyMigrationParams(qmp, params);
      await qmp.execute('migrate', { uri: `unix:${sink.socketPath}` });
      ctx?.progress({ phase: 'saving memory', percent: 0 });
      try {
        await watchMigration(qmp, (p) => ctx?.progress(migrationProgress('saving memory', p)), { ...(ctx && { signal: ctx.signal }), what: `save of "${rec.name}"` });
      } catch (e) {
        // QEMU only sees a broken socket; the sink knows why (e.g. the data dir is full).
        if (sink.error) throw sinkError(sink.error, rec.name, dir);
        throw e;
      }
      const bytes = await Promise.race([
        sink.finished.catch((e: unknown) => Promise.reject(sinkError(e as Error, rec.name, dir))),
        new Promise<never>((_, reject) => setTimeout(() => reject(new HangarError('TIMEOUT', 'QEMU said the save completed but did not close the stream.')), 30_000).unref()),
      ]);
      if (ctx?.signal.aborted) throw new HangarError('VM_STATE', `The save of "${rec.name}" was cancelled.`);
      await sink.commit(final);
      const meta: SaveMeta = { vm: rec.name, savedAt: new Date().toISOString(), runState: wasRunning ? 'running' : 'paused', bytes };
      await writeFile(join(dir, 'saved-state.json'), JSON.stringify(meta));
      const seconds = (Date.now() - t0) / 1000;
      await h.quitSaved();
      if (restoreAtStart || rec.restoreAtStart) await h.update((r) => ({ ...r, restoreAtStart: restoreAtStart ? { at: meta.savedAt } : undefined }));
      // UEFI: the NVRAM as it was at the save, restored with it (QEMU has closed it).
      await copyNvramTo(rec.spec, join(dir, SAVE_NVRAM_FILE)).catch((e: unknown) => this.log(`${rec.name}: keeping the NVRAM with the save failed (the saved memory still holds it): ${errorText(e)}`));
      await rm(marker, { force: true });
      await this.events.publish('vm.saved', rec.name, { bytes, seconds });
      return { vm: rec.name, path: final, bytes, seconds, mbPerSecond: bytes / 1e6 / Math.max(seconds, 1e-3) };
    } catch (e) {
      await sink.abort();
      await rm(join(dir, 'saved-state.json'), { force: true });
      await rm(final, { force: true });
      await this.resumeAfterFailedSave(h, rec.name, wasRunning);
      await rm(marker, { force: true });
      throw e;
    }
  }

  /** The guest goes on as before, if QEMU still lives. */
  private async resumeAfterFailedSave(h: VmHandle, name: string, wasRunning: boolean): Promise<void> {
    try {
      const qmp = await h.qmp();
      if (wasRunning) await qmp.execute('cont');
      await h.syncRunState();
    } catch (e) {
      this.log(`${name}: after a failed save, QEMU could not be resumed: ${errorText(e)}`);
    }
  }

  /** Restores a saved VM (called by `VmService.start`, holding the VM's lock). */
  async restore(h: VmHandle): Promise<VmRecord> {
    const rec = await h.record();
    const file = this.saveFileOf(rec);
    if (!existsSync(file)) {
      throw new HangarError('VM_STATE', `VM "${rec.name}" is saved but its save file ${file} is missing: discard the save (\`hangar vm discard-save ${rec.name}\`) and start it afresh.`);
    }
    const meta = await readMeta(join(this.dirOf(rec), 'saved-state.json'));
    const sock = join(dirname(this.vms.pathsOf(rec).qmpSocket), 'restore.sock');
    await rm(sock, { force: true });
    await copyNvramFrom(rec.spec, join(this.dirOf(rec), SAVE_NVRAM_FILE));
    const t0 = Date.now();
    let bytes = 0;
    const started = await h.start({
      incoming: true,
      stayPaused: meta?.runState === 'paused',
      beforeCont: async (qmp) => {
        await applyMigrationParams(qmp, SAVE_DEFAULTS);
        await qmp.execute('migrate-incoming', { uri: `unix:${sock}` });
        // QEMU's verdict is the one that counts: once it has read the whole stream it may close
        // the socket before our end of it has finished ("premature close"), which is no failure.
        // A stream that could not even be connected or read ends the restore at once (QEMU would wait).
        const size = (await stat(file)).size;
        let sent = 0;
        const feeding = feedSave(file, sock, { onBytes: (n) => (sent += n) }).then(
          (n) => {
            bytes = n;
          },
          (e: unknown) => {
            if (sent < size) throw new HangarError('QEMU_FAILED', `Sending the save file to QEMU failed after ${sent} of ${size} bytes: ${errorText(e)}`);
            this.log(`${rec.name}: restore: the whole file was sent; the stream ended with: ${String(e)}`);
            bytes = sent;
          },
        );
        await Promise.race([watchMigration(qmp, () => {}, { what: `restore of "${rec.name}"` }), feeding.then(() => new Promise(() => {}))]);
        await feeding;
      },
    });
    await rm(sock, { force: true });
    await this.discard(rec);
    if (rec.restoreAtStart) await h.update((r) => ({ ...r, restoreAtStart: undefined }));
    const seconds = (Date.now() - t0) / 1000;
    await this.events.publish('vm.restored', rec.name, { bytes, seconds });
    this.log(`${rec.name}: restored ${bytes} bytes in ${seconds.toFixed(2)} s`);
    return started;
  }

  async discard(rec: Pick<VmRecord, 'id' | 'name'>): Promise<void> {
    await rm(this.dirOf(rec), { recursive: true, force: true });
  }

  /**
   * After a daemon (re)start, once guests are adopted: a save the previous daemon left
   * half done is undone (temp file removed, the guest resumed if it was running), and a
   * save file whose guest still runs (it never quit) is stale and removed.
   */
  async recover(): Promise<void> {
    const root = join(this.dataDir, 'vms');
    if (!existsSync(root)) return;
    const byId = new Map((await this.vms.list()).map((v) => [v.id, v] as const));
    for (const id of await readdir(root)) {
      const dir = join(root, id);
      const vm = byId.get(id);
      try {
        if (!vm) {
          await rm(dir, { recursive: true, force: true });
          continue;
        }
        await rm(join(dir, `${SAVE_FILE}.partial`), { force: true });
        const marker = await readFile(join(dir, 'saving.json'), 'utf8').then((t) => JSON.parse(t) as { wasRunning?: boolean }, () => undefined);
        if (vm.state === 'saved') {
          await rm(join(dir, 'saving.json'), { force: true });
          if (!existsSync(join(dir, SAVE_FILE))) await this.vms.discardSave(vm.name);
          continue;
        }
        if (existsSync(join(dir, SAVE_FILE))) this.log(`${vm.name}: removing a save file left by an interrupted save (the guest still runs)`);
        // The stream outlives the daemon (dd still writes it): end it before the guest goes on.
        if (marker) await this.vms.operate(vm.name, 'save-recovery', async (h) => cancelActiveMigration(await h.qmp())).catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
        if (marker?.wasRunning && vm.state === 'paused') {
          await this.vms.resume(vm.name);
          this.log(`${vm.name}: resumed after a save the daemon did not finish`);
        }
      } catch (e) {
        this.log(`${vm?.name ?? id}: recovering an interrupted save failed: ${errorText(e)}`);
      }
    }
  }
}

function sinkError(e: Error, vm: string, dir: string): HangarError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new HangarError('STORAGE_FULL', `The save of "${vm}" did not fit in ${dir}: ${e.message}. The guest goes on running; free space in the data dir and save again.`, { cause: e });
  }
  return new HangarError('STORAGE_FAILED', `Writing the save of "${vm}" failed: ${e.message}. The guest goes on running.`, { cause: e });
}

async function readMeta(path: string): Promise<SaveMeta | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as SaveMeta;
  } catch {
    return undefined;
  }
}

export type { VmView };
