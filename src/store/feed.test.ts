/**
 * The change feed: changes(afterRevision) and watch(afterRevision, listener), as the cluster
 * store will map them onto etcd's revisions and watches.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HangarError } from '../errors/errors.js';
import type { StoreChange, VmRecord } from './store.js';
import { SqliteStore } from './sqlite.js';

function record(name: string): VmRecord {
  const now = new Date().toISOString();
  return {
    id: `id-${name}`, name, state: 'stopped', createdAt: now, updatedAt: now,
    spec: { name, machine: 'q35', cpuModel: 'max', cpus: 1, memoryMiB: 256, boot: { kind: 'disk' }, disks: [], nics: [], balloon: true, rng: true, vnc: true },
  };
}

const brief = (c: StoreChange) => `${c.revision} ${c.kind} ${c.key} ${c.op}`;

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

  /** Five revisions: a VM created, started, a volume, the VM deleted, the volume updated. */
  async function history(): Promise<void> {
    const a = await store.createVm(record('a'));
    await store.updateVm({ ...a, state: 'running' });
    const vols = store.collection<{ size: number }>('volumes');
    await vols.create('default/d', { size: 1 });
    await store.deleteVm(a.id);
    await vols.update('default/d', { size: 2 });
  }

  it('lists changes in revision order and resumes after any revision', async () => {
    await history();
    const all = await store.changes(0);
    expect(all.map(brief)).toEqual([
      '1 vm id-a put', '1 vm-status id-a put', '2 vm-status id-a put', '3 volumes default/d put',
      '4 vm-status id-a delete', '4 vm id-a delete', '5 volumes default/d put',
    ]);
    for (let r = 0; r <= 5; r++) expect(await store.changes(r)).toEqual(all.filter((c) => c.revision > r));
    expect(await store.changes(99)).toEqual([]);
  });

  it('pages by revisions without cutting one in two, and filters by kind', async () => {
    await history();
    expect((await store.changes(0, { limit: 1 })).map(brief)).toEqual(['1 vm id-a put', '1 vm-status id-a put']);
    expect((await store.changes(1, { limit: 2 })).map((c) => c.revision)).toEqual([2, 3]);
    expect((await store.changes(0, { kinds: ['volumes'] })).map(brief)).toEqual(['3 volumes default/d put', '5 volumes default/d put']);
    expect((await store.changes(0, { kinds: ['vm'] })).map((c) => c.op)).toEqual(['put', 'delete']);
  });

  it('a watch replays from its revision, then delivers live changes in order', async () => {
    await history();
    const c = collector();
    const w = store.watch(3, c.listener);
    expect(c.seen).toEqual([]); // never from inside the call
    await tick();
    expect(c.seen.map(brief)).toEqual(['4 vm-status id-a delete', '4 vm id-a delete', '5 volumes default/d put']);
    const creating = store.createVm(record('b'));
    expect(store.revision()).toBe(6); // written…
    expect(c.seen).toHaveLength(3); // …and the listener has not run inside the call
    const b = await creating;
    await store.updateVm({ ...b, spec: { ...b.spec, cpus: 2 } });
    await tick();
    expect(c.seen.map(brief).slice(3)).toEqual(['6 vm id-b put', '6 vm-status id-b put', '7 vm id-b put']);
    w.close();
    await store.updateVm({ ...b, state: 'running' });
    await tick();
    expect(c.seen).toHaveLength(6);
    expect(c.errors).toEqual([]);
  });

  it('a watch from now sees only what comes next; one from a future revision waits for it', async () => {
    await history();
    const now = collector();
    const later = collector();
    const kinds = collector();
    store.watch(store.revision(), now.listener);
    store.watch(6, later.listener);
    store.watch(0, kinds.listener, { kinds: ['volumes'] });
    await store.createVm(record('b'));
    await store.createVm(record('c'));
    await tick();
    expect(now.seen.map(brief)).toEqual(['6 vm id-b put', '6 vm-status id-b put', '7 vm id-c put', '7 vm-status id-c put']);
    expect(later.seen.map(brief)).toEqual(['7 vm id-c put', '7 vm-status id-c put']);
    expect(kinds.seen.map(brief)).toEqual(['3 volumes default/d put', '5 volumes default/d put']);
  });

  it('a listener that throws does not stop the others or the writer', async () => {
    const good = collector();
    store.watch(0, { change: () => { throw new Error('broken'); }, error: () => {} });
    store.watch(0, good.listener);
    await store.createVm(record('a'));
    await tick();
    expect(good.seen).toHaveLength(2);
  });

  it('after compaction: changes() and watch() from before it say REVISION_COMPACTED', async () => {
    await history();
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
