import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBus } from '../events/bus.js';
import { StorageService } from './service.js';
import { SqliteStore } from '../store/sqlite.js';
import { checkReach, needsOf, onNode, reachFor } from '../store/node-lists.js';

let dir: string;
let store: SqliteStore;
let self: string | undefined;
let storage: StorageService;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hangar-reach-'));
  store = new SqliteStore(join(dir, 'db'));
  self = 'n1';
  storage = new StorageService(store, new EventBus(store), dir, () => self);
  await storage.init();
  for (const name of ['n1', 'n2', 'n3']) await store.collection('nodes').create(name, { name });
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const spec = (pools: string[], networks: string[]) => ({
  disks: pools.map((p, i) => ({ id: `disk${i}`, path: `/x/${i}`, format: 'qcow2' as const, readOnly: false, volume: { pool: p, name: `v${i}` } })),
  nics: networks.map((n, i) => ({ id: `net${i}`, kind: 'network' as const, mac: '52:54:00:00:00:01', forwards: [], network: n })),
});

describe('pools and networks per node', () => {
  it('a list names the nodes that have it; no list, or a single host, means everywhere', () => {
    expect(onNode({}, 'n1')).toBe(true);
    expect(onNode({ nodes: ['n2'] }, 'n1')).toBe(false);
    expect(onNode({ nodes: ['n1', 'n2'] }, 'n1')).toBe(true);
    expect(onNode({ nodes: ['n2'] }, undefined)).toBe(true);
    expect(needsOf({ ...spec(['b', 'a', 'a'], ['x']), disks: [...spec(['b', 'a', 'a'], []).disks, { id: 'd9', path: '/f', format: 'raw', readOnly: false }] })).toEqual({ pools: ['a', 'b'], networks: ['x'] });
  });

  it('a pool with a node list: made and measured only there, volumes refused elsewhere with POOL_NOT_ON_NODE', async () => {
    const path = join(dir, 'fast');
    const p = await storage.createPool('fast', path, { nodes: ['n2', 'n2'] });
    expect(p).toMatchObject({ nodes: ['n2'], totalBytes: 0 });
    expect(existsSync(path)).toBe(false);
    await expect(storage.createVolume({ pool: 'fast', name: 'v', size: '1M' })).rejects.toMatchObject({ code: 'POOL_NOT_ON_NODE' });
    expect(await storage.listVolumes('fast')).toEqual([]);
    self = 'n2';
    expect((await storage.createVolume({ pool: 'fast', name: 'v', size: '1M' })).pool).toBe('fast');
    expect((await storage.showPool('fast')).totalBytes).toBeGreaterThan(0);
  });

  it('refuses a bad node list, and a list with --shared, with nothing made', async () => {
    await expect(storage.createPool('a', join(dir, 'a'), { nodes: ['n9'] })).rejects.toMatchObject({ code: 'INVALID_SPEC', message: expect.stringContaining('"n9" is no node') });
    await expect(storage.createPool('a', join(dir, 'a'), { nodes: [] })).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    await expect(storage.createPool('a', join(dir, 'a'), { nodes: ['Bad_Name'] })).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    await expect(storage.createPool('a', join(dir, 'a'), { nodes: ['n1'], shared: true })).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    self = undefined;
    await expect(storage.createPool('a', join(dir, 'a'), { nodes: ['n1'] })).rejects.toMatchObject({ code: 'NOT_IN_CLUSTER' });
    expect((await storage.listPools()).map((p) => p.name)).toEqual(['default']);
  });

  it('a VM whose disks or NICs are elsewhere does not start here', async () => {
    await storage.createPool('fast', join(dir, 'fast'), { nodes: ['n2'] });
    await store.collection('networks').create('net1', { name: 'net1', nodes: ['n3'] });
    await expect(checkReach(store, 'n1', { name: 'vm', spec: spec(['default', 'fast'], []) })).rejects.toMatchObject({ code: 'POOL_NOT_ON_NODE' });
    await expect(checkReach(store, 'n2', { name: 'vm', spec: spec(['fast'], ['net1']) })).rejects.toMatchObject({ code: 'NETWORK_NOT_ON_NODE' });
    await checkReach(store, 'n3', { name: 'vm', spec: spec(['default'], ['net1']) });
    await checkReach(store, undefined, { name: 'vm', spec: spec(['fast'], ['net1']) });
  });

  it('placement reads the create\'s pool (default: default) and networks, and refuses unknown ones', async () => {
    await storage.createPool('fast', join(dir, 'fast'), { nodes: ['n2'] });
    expect(await reachFor(store, {})).toEqual({ pools: [{ name: 'default' }], networks: [] });
    expect(await reachFor(store, { pool: 'fast' })).toEqual({ pools: [{ name: 'fast', nodes: ['n2'] }], networks: [] });
    await expect(reachFor(store, { pool: 'nope' })).rejects.toMatchObject({ code: 'POOL_NOT_FOUND' });
    await expect(reachFor(store, { networks: ['nope'] })).rejects.toMatchObject({ code: 'NETWORK_NOT_FOUND' });
    await expect(reachFor(store, { networks: 'x' })).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    expect(await reachFor(store, { pool: 'nope' }, { pools: ['fast'], networks: [] })).toEqual({ pools: [{ name: 'fast', nodes: ['n2'] }], networks: [] });
  });
});
