/**
 * Image import over HTTP on loopback (checksums, progress, no partial leftovers) and
 * linked clones: many VMs share one image, each with its own writes.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageInfo } from '../../src/images/catalog.js';
import type { OperationRecord } from '../../src/operations/service.js';
import type { VolumeRecord } from '../../src/storage/service.js';
import { TestDaemon } from './harness.js';

const run = promisify(execFile);
let d: TestDaemon;
let server: Server;
let base: string;
let srcImage: string;
let srcSha: string;

beforeAll(async () => {
  d = await TestDaemon.start();
  // A 64 MiB qcow2 with a recognisable pattern in its first MiB.
  srcImage = join(d.dir, 'src.qcow2');
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', srcImage, '64M']);
  await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0xab 0 1M', srcImage]);
  srcSha = createHash('sha256').update(readFileSync(srcImage)).digest('hex');
  server = createServer((req, res) => {
    const st = statSync(srcImage);
    res.writeHead(200, { 'content-length': st.size, 'accept-ranges': 'bytes' });
    createReadStream(srcImage).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await d?.cleanup();
});

function imageFiles(): string[] {
  return readdirSync(join(d.dir, 'images')).filter((f) => f !== '.staging');
}

describe('image import', () => {
  it('a wrong checksum fails cleanly: no image, no partial file', async () => {
    const r = await d.cli(['image', 'import', 'bad', '--url', `${base}/disk.qcow2`, '--sha256', '0'.repeat(64)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('CHECKSUM_MISMATCH');
    expect((await d.api.call<ImageInfo[]>('GET', '/v1/images')).map((i) => i.name)).toEqual(['tiny', 'debian-12', 'debian-12-uefi']);
    expect(imageFiles()).toEqual([]);
    expect(readdirSync(join(d.dir, 'images', '.staging'))).toEqual([]);
    const ops = await d.api.call<OperationRecord[]>('GET', '/v1/operations');
    expect(ops.at(-1)).toMatchObject({ kind: 'image.import', state: 'failed', error: { code: 'CHECKSUM_MISMATCH' } });
  });

  it('the right checksum imports, with progress', async () => {
    const r = await d.cli(['image', 'import', 'base', '--url', `${base}/disk.qcow2`, '--sha256', srcSha]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/importing base: 100%/);
    const img = await d.api.call<ImageInfo>('GET', '/v1/images/base');
    expect(img).toMatchObject({ status: 'ready', kind: 'disk', origin: 'imported', sha256: srcSha, disk: { virtualSizeBytes: 64 * 2 ** 20 } });
    expect(imageFiles()).toEqual(['base.qcow2']);
    const events = await d.api.call<{ type: string }[]>('GET', '/v1/events');
    expect(events.some((e) => e.type === 'operation.progress')).toBe(true);
  });

  it('refuses URLs without a checksum, odd names, and other schemes', async () => {
    let r = await d.cli(['image', 'import', 'nosum', '--url', `${base}/disk.qcow2`]);
    expect(r.stderr).toContain('INVALID_SPEC');
    r = await d.cli(['image', 'import', '../evil', '--url', `${base}/disk.qcow2`, '--sha256', srcSha]);
    expect(r.stderr).toContain('UNSAFE_PATH');
    r = await d.cli(['image', 'import', 'ftp', '--url', 'ftp://127.0.0.1/x', '--sha256', srcSha]);
    expect(r.stderr).toContain('INVALID_SPEC');
    expect(imageFiles()).toEqual(['base.qcow2']);
  });

  it('converts a VMDK from a file', async () => {
    const vmdk = join(d.dir, 'src.vmdk');
    await run('qemu-img', ['convert', '-f', 'qcow2', '-O', 'vmdk', srcImage, vmdk]);
    const r = await d.cli(['image', 'import', 'fromvmdk', '--file', vmdk]);
    expect(r.code, r.stderr).toBe(0);
    const img = await d.api.call<ImageInfo>('GET', '/v1/images/fromvmdk');
    const cmp = await run('qemu-img', ['compare', '-f', 'qcow2', '-F', 'qcow2', srcImage, img.disk!.path]);
    expect(cmp.stdout).toContain('Images are identical');
    expect((await d.cli(['image', 'delete', 'fromvmdk'])).code).toBe(0);
  });
});

describe('linked clones', () => {
  it('ten VMs created from one image share it, and each writes its own data', async () => {
    const imagePath = (await d.api.call<ImageInfo>('GET', '/v1/images/base')).disk!.path;
    const before = createHash('sha256').update(readFileSync(imagePath)).digest('hex');
    for (let i = 0; i < 10; i++) {
      const r = await d.api.call('POST', '/v1/vms', { name: `clone${i}`, image: 'base', memory: 128 });
      expect(r).toMatchObject({ disks: [{ volume: `clone${i}-root`, boot: true }] });
    }
    const vols = await d.api.call<VolumeRecord[]>('GET', '/v1/volumes');
    const roots = vols.filter((v) => v.name.startsWith('clone'));
    expect(roots).toHaveLength(10);
    for (const v of roots) {
      expect(v.backing).toMatchObject({ kind: 'image', name: 'base', path: imagePath });
      // A linked clone starts nearly empty: it shares the image's data.
      expect(statSync(v.path).size).toBeLessThan(1024 * 1024);
    }
    // Each clone writes its own pattern over the shared region, through QEMU's block layer.
    for (let i = 0; i < 10; i++) {
      await run('qemu-io', ['-f', 'qcow2', '-c', `write -P ${i + 1} 0 64k`, roots.find((v) => v.name === `clone${i}-root`)!.path]);
    }
    for (let i = 0; i < 10; i++) {
      const path = roots.find((v) => v.name === `clone${i}-root`)!.path;
      const own = await run('qemu-io', ['-f', 'qcow2', '-c', `read -P ${i + 1} 0 64k`, '-c', 'read -P 0xab 64k 960k', path]);
      expect(own.stdout).not.toContain('Pattern verification failed');
    }
    // The image itself is untouched.
    expect(createHash('sha256').update(readFileSync(imagePath)).digest('hex')).toBe(before);

    const del = await d.cli(['image', 'delete', 'base']);
    expect(del.code).toBe(1);
    expect(del.stderr).toContain('IMAGE_IN_USE');
    for (let i = 0; i < 10; i++) expect((await d.cli(['vm', 'delete', `clone${i}`])).code).toBe(0);
    expect((await d.cli(['image', 'delete', 'base'])).code).toBe(0);
    expect(imageFiles()).toEqual([]);
  });
});
