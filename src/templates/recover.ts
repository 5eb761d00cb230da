/**
 * Undoing warm jobs: the clones of a failed request (at once), and after a daemon was
 * killed in the middle of one, what its journal entry (journal.ts) names.
 */
import { chown, rm } from 'node:fs/promises';
import { errorText } from '../errors/errors.js';
import type { QmpClient } from '../qmp/index.js';
import type { StorageService } from '../storage/service.js';
import type { Store } from '../store/store.js';
import type { VmService } from '../vm/service.js';
import type { JournalClone, JournalEntry, WarmJournal } from './journal.js';

export interface CleanupDeps {
  store: Store;
  vms: VmService;
  storage: StorageService;
}

/**
 * Deletes what each planned clone got of its own (its record, QEMU, overlay files, volume
 * records), clones marked ready excepted when `keepReady`. A record or volume of the same
 * name that is not this clone's (another id, another owner) is left alone.
 */
export async function undoClones(deps: CleanupDeps, plans: JournalClone[], log: (m: string) => void, keepReady = false): Promise<string[]> {
  const removed: string[] = [];
  for (const p of plans) {
    if (keepReady && p.ready) continue;
    const rec = await deps.store.getVm(p.name);
    if (rec?.id === p.id) {
      await deps.vms.delete(p.name, { force: true }).catch((e: unknown) => log(`${p.name}: removing an unfinished warm clone failed: ${errorText(e)}`));
    }
    for (const v of p.volumes) {
      const vol = await deps.storage.getVolume(v.pool, v.name).catch(() => undefined);
      if (vol && vol.ownedBy === p.name && vol.backing?.name.startsWith('template:')) {
        await deps.storage.markAttached(v.pool, v.name, undefined).catch(() => undefined);
        await deps.storage.deleteVolume(v.pool, v.name, { evenIfOwned: true }).catch((e: unknown) => log(`${p.name}: removing volume ${v.pool}/${v.name} failed: ${errorText(e)}`));
      }
      // The file of a volume never recorded (killed between the two).
      if (!vol || vol.ownedBy === p.name) await rm(v.path, { force: true });
    }
    removed.push(p.name);
  }
  return removed;
}

export interface RecoverDeps extends CleanupDeps {
  journal: WarmJournal;
  /** The template's memory file, to take back from a clone's QEMU that was lent it. */
  memoryFileOf: (template: string) => Promise<string | undefined>;
  log: (m: string) => void;
}

/**
 * After re-adoption: each unfinished job is undone. Clone requests keep their ready clones
 * and lose the others; a template create loses its partial directory and its source VM
 * goes on (it was paused for the copy).
 */
export async function recoverWarmJobs(deps: RecoverDeps): Promise<void> {
  const entries = await deps.journal.pending((file, e) => deps.log(`unreadable warm journal entry ${file}: ${errorText(e)}`));
  for (const e of entries) {
    try {
      await recoverOne(deps, e);
      await deps.journal.remove(e.op);
    } catch (err) {
      deps.log(`recovering warm job ${e.op} (${e.kind} of template "${e.template}") failed: ${errorText(err)}`);
    }
  }
}

async function recoverOne(deps: RecoverDeps, e: JournalEntry): Promise<void> {
  if (e.kind === 'clone') {
    const removed = await undoClones(deps, e.clones, deps.log, true);
    const file = await deps.memoryFileOf(e.template);
    if (file) await chown(file, 0, 0).catch(() => undefined);
    deps.log(`warm clone request ${e.op} of template "${e.template}" was interrupted: kept ${e.clones.filter((c) => c.ready).map((c) => c.name).join(', ') || 'none'}, removed ${removed.join(', ') || 'none'}`);
    return;
  }
  await rm(e.partialDir, { recursive: true, force: true });
  // Killed between moving the directory in place and recording the template: no template, no files.
  const finalDir = e.partialDir.replace(/\.[^./]+\.partial$/, '');
  if (finalDir !== e.partialDir && !(await deps.memoryFileOf(e.template))) await rm(finalDir, { recursive: true, force: true });
  const rec = await deps.store.getVm(e.sourceVm);
  if (rec && rec.state !== 'stopped' && rec.state !== 'crashed') {
    await deps.vms.operate(e.sourceVm, 'template-recover', async (h) => {
      const qmp: QmpClient = await h.qmp();
      await qmp.execute('migrate_cancel').catch(() => undefined);
      await qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'x-ignore-shared', state: false }] }).catch(() => undefined);
      const status = await qmp.execute<{ running: boolean }>('query-status');
      if (!status.running) await qmp.execute('cont');
      await h.syncRunState();
    });
  }
  deps.log(`template create "${e.template}" of VM "${e.sourceVm}" was interrupted: its partial files removed, the VM goes on`);
}
