/**
 * The warm journal: what a template create or a warm clone request is in the middle of, on
 * disk before anything is made (`<data-dir>/warm-journal/<op>.json`, written whole and
 * fsynced), so that a daemon killed at any moment can finish the job's undoing when it
 * starts again (TemplateService.recover):
 *
 * - a clone request lists every clone it will make (name, id, the overlay files and volume
 *   records of its disks) and marks each one `ready` once its identity is done; after a
 *   restart, the clones that are not ready are deleted with everything they had, the ready
 *   ones stay (complete, running);
 * - a template create names its source VM and its `.partial` directory: the directory goes,
 *   and the source, left paused, goes on.
 */
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface JournalClone {
  name: string;
  id: string;
  /** The clone's overlay disks: volume record and file, made in this order. */
  volumes: Array<{ pool: string; name: string; path: string }>;
  ready?: boolean;
}

export type JournalEntry =
  | { op: string; kind: 'clone'; template: string; startedAt: string; clones: JournalClone[] }
  | { op: string; kind: 'template'; template: string; startedAt: string; sourceVm: string; partialDir: string };

export class WarmJournal {
  /** Writes of one entry go one after another (clones become ready concurrently). */
  private readonly queues = new Map<string, Promise<void>>();
  private readonly entries = new Map<string, JournalEntry>();

  constructor(readonly dir: string) {}

  private file(op: string): string {
    return join(this.dir, `${op}.json`);
  }

  /** Records the entry durably; nothing of the job may exist before this returns. */
  async begin(entry: JournalEntry): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    this.entries.set(entry.op, structuredClone(entry));
    await this.write(entry.op);
  }

  /** Marks a clone of a clone request complete (it stays after a crash). */
  async markReady(op: string, clone: string): Promise<void> {
    const e = this.entries.get(op);
    if (e?.kind !== 'clone') return;
    const c = e.clones.find((x) => x.name === clone);
    if (c) c.ready = true;
    await this.write(op);
  }

  /** The job is over (done, or undone): its entry goes. */
  async end(op: string): Promise<void> {
    await (this.queues.get(op) ?? Promise.resolve()).catch(() => undefined);
    this.queues.delete(op);
    this.entries.delete(op);
    await rm(this.file(op), { force: true });
  }

  /** Entries left by a daemon that did not finish them (unreadable ones are reported, not thrown). */
  async pending(onBad: (file: string, e: unknown) => void = () => {}): Promise<JournalEntry[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const out: JournalEntry[] = [];
    for (const n of names.sort()) {
      const path = join(this.dir, n);
      if (n.endsWith('.tmp')) {
        await rm(path, { force: true });
        continue;
      }
      if (!n.endsWith('.json')) continue;
      try {
        out.push(JSON.parse(await readFile(path, 'utf8')) as JournalEntry);
      } catch (e) {
        onBad(path, e);
      }
    }
    return out;
  }

  /** Removes an entry read by pending() (recovery done). */
  async remove(op: string): Promise<void> {
    await rm(this.file(op), { force: true });
  }

  private write(op: string): Promise<void> {
    const prev = this.queues.get(op) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(async () => {
      const e = this.entries.get(op);
      if (e) await writeDurably(this.file(op), JSON.stringify(e));
    });
    this.queues.set(op, next);
    return next;
  }
}

/** Temporary file, fsync, rename over, fsync of the directory: the old or the new content after a crash. */
async function writeDurably(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  const f = await open(tmp, 'w', 0o600);
  try {
    await f.writeFile(text);
    await f.sync();
  } finally {
    await f.close();
  }
  await rename(tmp, path);
  const d = await open(join(path, '..'), 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
