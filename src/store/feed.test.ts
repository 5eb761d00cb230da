/**
 * The change feed: changes(afterRevision) and watch(afterRevision, listener), as the cluster
 * store will map them onto etcd's revisions and watches.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HangarError } from '../errors/errors.js';
import type { StoreChange } from './store.js';
import { history, record } from './contract.js';
import { SqliteStore } from './sqlite.js';


/** A listener that collects what it is given. */
function collector() {
  const seen: StoreChange[] = [];
  const errors: HangarError[] = [];
  return { seen, errors, listener: { change: (c: StoreChange) => void seen.push(c), error: (e: HangarError) => void errors.push(e) } };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('change feed', () => {
  let dir: string;
  let store: SqliteStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hangar-feed-'));
    store = new SqliteStore(join(dir, 'hangar.db'));
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });


  it('after compaction: changes() and watch() from before it say REVISION_COMPACTED', async () => {
    await history(store);
    store.compact(3);
    expect(store.compactRevision()).toBe(3);
    await expect(store.changes(2)).rejects.toMatchObject({ code: 'REVISION_COMPACTED', details: { afterRevision: 2, compactRevision: 3 } });
    expect((await store.changes(3)).map((c) => c.revision)).toEqual([4, 4, 5]);
    const old = collector();
    store.watch(1, old.listener);
    await store.createVm(record('b'));
    await tick();
    expect(old.seen).toEqual([]);
    expect(old.errors.map((e) => e.code)).toEqual(['REVISION_COMPACTED']);
    // The way back: read the revision, list, watch from it.
    const rev = store.revision();
    expect((await store.listVms()).map((v) => `${v.name}@${v.revision}`)).toEqual(['b@6']);
    const resumed = collector();
    store.watch(rev, resumed.listener);
    await store.createVm(record('c'));
    await tick();
    expect(resumed.seen.map((c) => c.revision)).toEqual([7, 7]);
  });

  it('keeps a bounded history: older revisions are compacted as writes go on', async () => {
    await store.close();
    store = new SqliteStore(join(dir, 'hangar.db'), { changeRetention: 10 });
    const ops = store.collection<{ n: number }>('operations');
    for (let i = 0; i < 35; i++) await ops.create(`op${i}`, { n: i });
    expect(store.revision()).toBe(35);
    expect(store.compactRevision()).toBeGreaterThanOrEqual(20);
    expect(store.compactRevision()).toBeLessThanOrEqual(25);
    const kept = await store.changes(store.compactRevision());
    expect(kept[0]!.revision).toBe(store.compactRevision() + 1);
    expect(kept.at(-1)!.revision).toBe(35);
    // Compaction drops history, never records.
    expect(await ops.list()).toHaveLength(35);
  });
});
