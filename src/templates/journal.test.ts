import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WarmJournal, type JournalEntry } from './journal.js';

const dirs: string[] = [];
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'warm-journal-'));
  dirs.push(d);
  return join(d, 'warm-journal');
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const entry = (op: string): JournalEntry => ({
  op, kind: 'clone', template: 't', startedAt: '2026-12-07T00:00:00Z',
  clones: [1, 2, 3].map((i) => ({ name: `c-${i}`, id: `id${i}`, volumes: [{ pool: 'default', name: `c-${i}-disk0`, path: `/p/c-${i}-disk0.qcow2` }] })),
});

describe('warm journal', () => {
  it('an entry is on disk from begin() until end(), with the clones marked ready as they become so', async () => {
    const dir = fresh();
    const j = new WarmJournal(dir);
    await j.begin(entry('clone-a'));
    expect(await new WarmJournal(dir).pending()).toEqual([entry('clone-a')]);
    // Concurrent marks all land (writes of one entry are queued).
    await Promise.all([j.markReady('clone-a', 'c-1'), j.markReady('clone-a', 'c-3')]);
    const [read] = await new WarmJournal(dir).pending();
    expect(read?.kind === 'clone' && read.clones.map((c) => c.ready ?? false)).toEqual([true, false, true]);
    await j.end('clone-a');
    expect(await new WarmJournal(dir).pending()).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('pending() reports unreadable entries and drops half-written temporary files', async () => {
    const dir = fresh();
    const j = new WarmJournal(dir);
    await j.begin(entry('clone-b'));
    writeFileSync(join(dir, 'clone-c.json'), '{"op":');
    writeFileSync(join(dir, 'clone-d.json.tmp'), '{');
    const bad: string[] = [];
    const got = await new WarmJournal(dir).pending((f) => bad.push(f));
    expect(got.map((e) => e.op)).toEqual(['clone-b']);
    expect(bad).toEqual([join(dir, 'clone-c.json')]);
    expect(readdirSync(dir).sort()).toEqual(['clone-b.json', 'clone-c.json']);
  });

  it('no directory: nothing pending', async () => {
    expect(await new WarmJournal(join(fresh(), 'none')).pending()).toEqual([]);
  });
});
