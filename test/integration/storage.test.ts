/**
 * Volumes on a real running guest: hot-plug and unplug, live growth, data that stays,
 * and every attempt to leave the pool refused without side effects.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VolumeRecord } from '../../src/storage/service.js';
import type { VmView } from '../../src/vm/service.js';
import { guestRun, TestDaemon, waitFor, waitForGuestReady } from './harness.js';

let d: TestDaemon;

beforeAll(async () => {
  d = await TestDaemon.start();
  const r = await d.cli(['vm', 'create', 'st', '--memory', '256M', '--disk-size', '64M', '--start']);
  expect(r.code, r.stderr).toBe(0);
  await waitForGuestReady(d, 'st');
});
afterAll(async () => {
  await d?.cleanup();
});

async function blockSectors(dev: string): Promise<number> {
  const out = await guestRun(d, 'st', `cat /sys/block/${dev}/size`);
  const m = /^(\d+)\s*$/m.exec(out);
  if (!m) throw new Error(`no size in: ${out}`);
  return Number(m[1]);
}

describe('volumes on a running guest', () => {
  it('a VM created with --disk-size has its own data volume', async () => {
    const vm = await d.vm('st');
    expect(vm.disks).toMatchObject([{ id: 'disk0', pool: 'default', volume: 'st-data' }]);
    expect(await guestRun(d, 'st', 'ls /dev/vd*')).toContain('/dev/vda');
  });

  it('hot-plugs a volume: the guest sees /dev/vdb, writes to it; detach: it is gone; data stays', async () => {
    expect((await d.cli(['volume', 'create', 'extra', '--size', '32M'])).code).toBe(0);
    let r = await d.cli(['volume', 'attach', 'extra', 'st']);
    expect(r.code, r.stderr).toBe(0);
    await waitFor('the guest to see /dev/vdb', async () => (await guestRun(d, 'st', 'ls /dev/vd*')).includes('/dev/vdb'), 30_000, 500);
    expect(await blockSectors('vdb')).toBe((32 * 2 ** 20) / 512);
    const vol = await d.api.call<VolumeRecord>('GET', '/v1/volumes/default/extra');
    expect(vol.attachedTo).toBe('st');
    // Write a marker straight to the block device.
    await guestRun(d, 'st', 'echo hangar-marker-1234 | dd of=/dev/vdb bs=512 count=1 conv=sync 2>/dev/null; sync; echo done');

    r = await d.cli(['volume', 'delete', 'extra']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('VOLUME_IN_USE');

    r = await d.cli(['volume', 'detach', 'extra', 'st']);
    expect(r.code, r.stderr).toBe(0);
    await waitFor('/dev/vdb to go', async () => !(await guestRun(d, 'st', 'ls /dev/vd*')).includes('/dev/vdb'), 30_000, 500);
    expect((await d.api.call<VolumeRecord>('GET', '/v1/volumes/default/extra')).attachedTo).toBeUndefined();

    // Plug it back: the marker is still there.
    expect((await d.cli(['volume', 'attach', 'extra', 'st'])).code).toBe(0);
    await waitFor('/dev/vdb again', async () => (await guestRun(d, 'st', 'ls /dev/vd*')).includes('/dev/vdb'), 30_000, 500);
    expect(await guestRun(d, 'st', 'head -c 18 /dev/vdb; echo')).toContain('hangar-marker-1234');
  });

  it('grows a disk of the running guest; the guest sees the new size at once', async () => {
    const before = await blockSectors('vda');
    const r = await d.cli(['volume', 'resize', 'st-data', '96M']);
    expect(r.code, r.stderr).toBe(0);
    await waitFor('the guest to see 96M', async () => (await blockSectors('vda')) === (96 * 2 ** 20) / 512, 10_000, 300);
    expect(before).toBe((64 * 2 ** 20) / 512);
    const shrink = await d.cli(['volume', 'resize', 'st-data', '32M']);
    expect(shrink.code).toBe(1);
    expect(shrink.stderr).toContain('INVALID_SPEC');
  });

  it('deleting the VM deletes the disks it created and releases the others', async () => {
    expect((await d.cli(['vm', 'create', 'gone', '--memory', '128M', '--disk-size', '8M'])).code).toBe(0);
    expect((await d.cli(['volume', 'create', 'keepme', '--size', '8M'])).code).toBe(0);
    expect((await d.cli(['volume', 'attach', 'keepme', 'gone'])).code).toBe(0);
    const vm = await d.api.call<VmView>('GET', '/v1/vms/gone');
    expect(vm.disks.map((x) => x.volume)).toEqual(['gone-data', 'keepme']);
    expect((await d.cli(['vm', 'delete', 'gone'])).code).toBe(0);
    const vols = await d.api.call<VolumeRecord[]>('GET', '/v1/volumes');
    expect(vols.map((v) => v.name)).not.toContain('gone-data');
    expect(vols.find((v) => v.name === 'keepme')?.attachedTo).toBeUndefined();
    expect(existsSync(join(d.dir, 'pools', 'default', 'gone-data.qcow2'))).toBe(false);
  });
});

describe('nothing leaves the pool', () => {
  it.each(['../escape', '/etc/passwd', 'a/b', 'a,b', 'a"b', 'a\nb', '..', 'x'.repeat(101)])('volume name %j is refused, nothing written', async (name) => {
    const files = readdirSync(join(d.dir, 'pools', 'default')).sort();
    const before = await d.api.call<VolumeRecord[]>('GET', '/v1/volumes');
    await expect(d.api.call('POST', '/v1/volumes', { name, size: '1M' })).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
    expect(readdirSync(join(d.dir, 'pools', 'default')).sort()).toEqual(files);
    expect(await d.api.call('GET', '/v1/volumes')).toEqual(before);
  });

  it('odd names in paths are refused', async () => {
    await expect(d.api.call('GET', '/v1/volumes/default/..%2F..%2Fetc%2Fpasswd')).rejects.toMatchObject({ code: 'VOLUME_NOT_FOUND' });
    await expect(d.api.call('POST', '/v1/pools', { name: 'rel', path: 'relative/dir' })).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    await expect(d.api.call('POST', '/v1/vms', { name: 'x', diskSize: '-5G' })).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    await expect(d.api.call('POST', '/v1/vms/st/disks', { volume: '../../etc/passwd' })).rejects.toMatchObject({ code: 'VOLUME_NOT_FOUND' });
  });
});
