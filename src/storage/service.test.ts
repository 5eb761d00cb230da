import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBus } from '../events/bus.js';
import { SqliteStore } from '../store/sqlite.js';
import { checkImage, createImage, imageInfo } from './qemu-img.js';
import { StorageService } from './service.js';

let dir: string;
let store: SqliteStore;
let storage: StorageService;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hangar-storage-'));
  store = new SqliteStore(join(dir, 'db'));
  storage = new StorageService(store, new EventBus(store), dir);
  await storage.init();
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('StorageService', () => {
  it('has a default pool inside the data dir with its capacity', async () => {
    const [pool] = await storage.listPools();
    expect(pool).toMatchObject({ name: 'default', kind: 'dir', path: join(dir, 'pools', 'default'), volumes: 0 });
    expect(pool!.totalBytes).toBeGreaterThan(pool!.availableBytes);
  });

  it('creates qcow2 and raw volumes, grows them, refuses to shrink, deletes', async () => {
    const q = await storage.createVolume({ name: 'data', size: '64M' });
    expect(q).toMatchObject({ format: 'qcow2', sizeBytes: 64 * 2 ** 20, path: join(dir, 'pools', 'default', 'data.qcow2') });
    expect((await imageInfo(q.path, { format: 'qcow2', shared: true })).virtualSizeBytes).toBe(64 * 2 ** 20);
    const r = await storage.createVolume({ name: 'scratch', size: '1M', format: 'raw' });
    expect((await imageInfo(r.path, { format: 'raw', shared: true })).virtualSizeBytes).toBe(2 ** 20);
    await storage.resizeVolume('default', 'data', '128M');
    expect((await imageInfo(q.path, { format: 'qcow2', shared: true })).virtualSizeBytes).toBe(128 * 2 ** 20);
    await expect(storage.resizeVolume('default', 'data', '1M')).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    await expect(storage.createVolume({ name: 'data', size: '1M' })).rejects.toMatchObject({ code: 'VOLUME_EXISTS' });
    await storage.deleteVolume('default', 'data');
    expect(existsSync(q.path)).toBe(false);
    await expect(storage.getVolume('default', 'data')).rejects.toMatchObject({ code: 'VOLUME_NOT_FOUND' });
  });

  it('makes linked clones of an image, and full copies on request', async () => {
    const img = join(dir, 'base.qcow2');
    await createImage(img, 'qcow2', 32 * 2 ** 20);
    const fromImage = { name: 'base', path: img, format: 'qcow2' as const, virtualSizeBytes: 32 * 2 ** 20 };
    const linked = await storage.createVolume({ name: 'vm1-root', fromImage, size: '64M' });
    expect(linked.backing).toMatchObject({ kind: 'image', name: 'base' });
    const info = await imageInfo(linked.path, { format: 'qcow2', shared: true });
    expect(info.backingFilename).toBe(img);
    expect(info.virtualSizeBytes).toBe(64 * 2 ** 20);
    expect((await storage.dependentsOfImage('base')).map((v) => v.name)).toEqual(['vm1-root']);
    const copy = await storage.createVolume({ name: 'vm2-root', fromImage, fullCopy: true });
    expect(copy.backing).toBeUndefined();
    expect((await imageInfo(copy.path, { format: 'qcow2', shared: true })).backingFilename).toBeUndefined();
    expect((await checkImage(copy.path, 'qcow2')).ok).toBe(true);
    await expect(storage.createVolume({ name: 'small', fromImage, size: '1M' })).rejects.toMatchObject({ code: 'INVALID_SPEC' });
  });

  it('clones volumes as independent copies', async () => {
    await storage.createVolume({ name: 'a', size: '8M' });
    const b = await storage.cloneVolume('default', 'a', 'b');
    expect(b).toMatchObject({ name: 'b', sizeBytes: 8 * 2 ** 20 });
    expect((await imageInfo(b.path, { format: 'qcow2', shared: true })).backingFilename).toBeUndefined();
  });

  it('refuses to delete attached or VM-owned volumes', async () => {
    await storage.createVolume({ name: 'a', size: '1M' });
    await storage.markAttached('default', 'a', 'web1');
    await expect(storage.deleteVolume('default', 'a')).rejects.toMatchObject({ code: 'VOLUME_IN_USE' });
    await expect(storage.markAttached('default', 'a', 'web2')).rejects.toMatchObject({ code: 'VOLUME_IN_USE' });
    await storage.markAttached('default', 'a', undefined);
    await storage.createVolume({ name: 'root', size: '1M', ownedBy: 'web1' });
    await expect(storage.deleteVolume('default', 'root')).rejects.toMatchObject({ code: 'VOLUME_IN_USE' });
    await storage.deleteVolume('default', 'root', { evenIfOwned: true });
    await storage.deleteVolume('default', 'a');
  });

  it.each(['../x', '/etc/passwd', 'a/b', 'a,b', 'a"b', "a'b", 'a\nb', '..', '.hidden', '', 'x'.repeat(101), 'a b'])('refuses the name %j and writes nothing', async (name) => {
    await expect(storage.createVolume({ name, size: '1M' })).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
    expect(readdirSync(join(dir, 'pools', 'default'))).toEqual([]);
  });

  it('refuses a symlink planted in the pool', async () => {
    const outside = join(dir, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret.qcow2'), 'x');
    symlinkSync(join(outside, 'secret.qcow2'), join(dir, 'pools', 'default', 'evil.qcow2'));
    await expect(storage.createVolume({ name: 'evil', size: '1M' })).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
  });

  it('refuses a pool that is a symlink', async () => {
    symlinkSync('/etc', join(dir, 'linkpool'));
    await expect(storage.createPool('linky', join(dir, 'linkpool'))).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
  });
});
