import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { findProcesses } from '../../util/proc.js';
import { downloadKey } from './import.js';
import { cleanupImportStaging, importImage, type ImportOptions, type ImportProgress } from './index.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

let root: string;
let fx: string; // fixtures
let base: string; // server base URL
let server: http.Server;
let work: string;
let dest: string;

/** What the test server saw, and how it should misbehave. */
const seen: Array<{ path: string; range?: string }> = [];
const dropAfter = new Map<string, number>(); // path -> bytes to send before cutting the connection (once)
const ignoreRange = new Set<string>(); // paths that answer 200 to a Range request

const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');
const qemuImg = (...args: string[]) => run('qemu-img', args);

/** qemu-img compare exits 0 when the guest-visible contents are identical. */
async function sameContent(a: string, aFmt: string, b: string): Promise<void> {
  await qemuImg('compare', '-f', aFmt, '-F', 'qcow2', a, b);
}

function serve(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  seen.push({ path: url.pathname, range: req.headers.range });
  const [, mode, ...rest] = url.pathname.split('/');
  const name = rest.join('/');
  if (mode === 'redirect') {
    res.writeHead(302, { location: `/r/${name}` }).end();
    return;
  }
  if (mode === 'loop') {
    res.writeHead(302, { location: url.pathname }).end();
    return;
  }
  const file = join(fx, name);
  if (!name || !existsSync(file)) {
    res.writeHead(404).end('no');
    return;
  }
  const size = statSync(file).size;
  const ranges = mode === 'r' && !ignoreRange.has(url.pathname);
  const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/octet-stream' };
  if (ranges) {
    headers['accept-ranges'] = 'bytes';
    headers.etag = `"${size}"`;
  }
  let start = 0;
  let status = 200;
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (ranges && m) {
    start = Number(m[1]);
    if (start >= size) {
      res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
      return;
    }
    status = 206;
    headers['content-range'] = `bytes ${start}-${size - 1}/${size}`;
  }
  if (mode !== 'chunked') headers['content-length'] = String(size - start);
  res.writeHead(status, headers);
  const drop = dropAfter.get(url.pathname);
  if (drop !== undefined) {
    dropAfter.delete(url.pathname);
    const s = createReadStream(file, { start, end: start + drop - 1 });
    s.pipe(res, { end: false });
    s.on('end', () => setTimeout(() => res.socket?.destroy(), 20));
    return;
  }
  if (mode === 'stall') {
    const s = createReadStream(file, { start, end: start + 99_999 });
    s.pipe(res, { end: false });
    return;
  }
  if (mode === 'slow') {
    const s = createReadStream(file, { start, highWaterMark: 64 * 1024 });
    s.on('data', (c) => {
      s.pause();
      res.write(c);
      setTimeout(() => s.resume(), 30);
    });
    s.on('end', () => res.end());
    res.on('close', () => s.destroy());
    return;
  }
  createReadStream(file, { start }).pipe(res);
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'hangar-import-'));
  fx = join(root, 'fx');
  mkdirSync(fx);
  // A raw disk with recognisable data at known offsets, and random data that does not compress away.
  const raw = join(fx, 'disk.raw');
  const fd = openSync(raw, 'w');
  writeSync(fd, Buffer.from('HANGAR-START'), 0, 12, 0);
  writeSync(fd, randomBytes(MiB), 0, MiB, MiB);
  writeSync(fd, Buffer.from('HANGAR-END'), 0, 10, 4 * MiB - 10);
  closeSync(fd);
  writeFileSync(join(fx, 'random-1200k.raw'), randomBytes(1200 * 1024));
  writeFileSync(join(fx, 'random-4m.raw'), randomBytes(4 * MiB));
  await Promise.all([
    qemuImg('convert', '-f', 'raw', '-O', 'qcow2', raw, join(fx, 'disk.qcow2')),
    qemuImg('convert', '-f', 'raw', '-O', 'qcow2', raw, join(fx, 'qcow2-named.raw')),
    qemuImg('convert', '-f', 'raw', '-O', 'vmdk', raw, join(fx, 'disk.vmdk')),
    qemuImg('convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', raw, join(fx, 'stream.vmdk')),
    qemuImg('convert', '-f', 'raw', '-O', 'vdi', raw, join(fx, 'disk.vdi')),
    qemuImg('convert', '-f', 'raw', '-O', 'vhdx', raw, join(fx, 'disk.vhdx')),
    qemuImg('convert', '-f', 'raw', '-O', 'vpc', '-o', 'force_size=on', raw, join(fx, 'disk.vhd')),
    qemuImg('create', '-f', 'qed', join(fx, 'disk.qed'), '1M'),
    qemuImg('create', '-f', 'qcow2', join(fx, 'second.qcow2'), '2M'),
  ]);
  await qemuImg('create', '-f', 'qcow2', '-b', join(fx, 'disk.qcow2'), '-F', 'qcow2', join(fx, 'overlay.qcow2'));
  await qemuImg('convert', '-f', 'qcow2', '-O', 'vmdk', '-o', 'subformat=streamOptimized', join(fx, 'second.qcow2'), join(fx, 'second.vmdk'));
  writeFileSync(join(fx, 'descriptor.vmdk'), '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\nRW 2048 FLAT "/etc/hostname" 0\n');
  // A sparse VMDK whose header says capacity 0, so QEMU would follow its embedded descriptor.
  const deferred = readFileSync(join(fx, 'disk.vmdk'));
  deferred.writeBigUInt64LE(0n, 12);
  writeFileSync(join(fx, 'deferred.vmdk'), deferred);

  // An OVA: OVF + manifest + two streamOptimized disks, tarred with tar(1).
  const ova = join(root, 'ova');
  mkdirSync(ova);
  writeFileSync(join(ova, 'disk1.vmdk'), readFileSync(join(fx, 'stream.vmdk')));
  writeFileSync(join(ova, 'disk2.vmdk'), readFileSync(join(fx, 'second.vmdk')));
  writeFileSync(
    join(ova, 'appliance.ovf'),
    `<?xml version="1.0"?>
<Envelope ovf:version="1.0" xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1">
  <References>
    <File ovf:id="file1" ovf:href="disk1.vmdk"/>
    <File ovf:id="file2" ovf:href="disk2.vmdk"/>
  </References>
  <DiskSection>
    <Info>Virtual disks</Info>
    <Disk ovf:capacity="4194304" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
    <Disk ovf:capacity="2097152" ovf:diskId="vmdisk2" ovf:fileRef="file2" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
  </DiskSection>
  <VirtualSystem ovf:id="appliance"><Info>A VM</Info></VirtualSystem>
</Envelope>
`,
  );
  const mf = ['appliance.ovf', 'disk1.vmdk', 'disk2.vmdk'].map((f) => `SHA256(${f})= ${sha(join(ova, f))}`).join('\n');
  writeFileSync(join(ova, 'appliance.mf'), `${mf}\n`);
  await run('tar', ['--format=ustar', '-cf', join(fx, 'appliance.ova'), '-C', ova, 'appliance.ovf', 'appliance.mf', 'disk1.vmdk', 'disk2.vmdk']);
  writeFileSync(join(ova, 'appliance.mf'), `SHA256(disk1.vmdk)= ${'0'.repeat(64)}\n`);
  await run('tar', ['--format=ustar', '-cf', join(fx, 'tampered.ova'), '-C', ova, 'appliance.ovf', 'appliance.mf', 'disk1.vmdk', 'disk2.vmdk']);

  server = http.createServer(serve);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 30_000);

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(root, { recursive: true, force: true });
});

beforeEach(() => {
  const n = Math.random().toString(36).slice(2, 8);
  work = join(root, `work-${n}`);
  dest = join(root, `dest-${n}`);
  mkdirSync(dest);
  seen.length = 0;
  dropAfter.clear();
  ignoreRange.clear();
});

const opts = (extra: Partial<ImportOptions> = {}): ImportOptions => ({ workDir: work, destDir: dest, destName: 'img', ...extra });
const ls = (d: string): string[] => (existsSync(d) ? readdirSync(d).sort() : []);

function expectMonotonic(events: ImportProgress[]): void {
  const last = new Map<string, number>();
  for (const e of events) {
    expect(e.bytesDone).toBeGreaterThanOrEqual(last.get(e.phase) ?? 0);
    last.set(e.phase, e.bytesDone);
  }
}

describe('import over HTTP', () => {
  it('downloads, verifies and converts with progress; only the result is left', async () => {
    const events: ImportProgress[] = [];
    const r = await importImage({ url: `${base}/r/disk.raw` }, opts({ sha256: sha(join(fx, 'disk.raw')).toUpperCase(), onProgress: (p) => events.push(p) }));
    expect(r).toMatchObject({ path: join(dest, 'img.qcow2'), format: 'qcow2', sourceFormat: 'raw', virtualSizeBytes: 4 * MiB, sha256: sha(join(fx, 'disk.raw')) });
    expect(r.actualSizeBytes).toBeGreaterThan(MiB);
    await sameContent(join(fx, 'disk.raw'), 'raw', r.path);
    expect(ls(dest)).toEqual(['img.qcow2']);
    expect(ls(work)).toEqual([]);
    const phases = [...new Set(events.map((e) => e.phase))];
    expect(phases).toEqual(['download', 'verify', 'convert', 'finalize']);
    expect(events.filter((e) => e.phase === 'download').at(-1)).toMatchObject({ bytesDone: 4 * MiB, bytesTotal: 4 * MiB, percent: 100 });
    expect(events.filter((e) => e.phase === 'convert').at(-1)).toMatchObject({ percent: 100 });
    expect(events.at(-1)).toMatchObject({ phase: 'finalize', percent: 100 });
    expectMonotonic(events);
  });

  it('fails cleanly on a wrong checksum: nothing visible, no partial download kept', async () => {
    const err = await importImage({ url: `${base}/r/disk.raw` }, opts({ sha256: 'ab'.repeat(32) })).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CHECKSUM_MISMATCH' });
    expect(String((err as Error).message)).toContain('ab'.repeat(32));
    expect(String((err as Error).message)).toContain(sha(join(fx, 'disk.raw')));
    expect(ls(dest)).toEqual([]);
    expect(ls(work)).toEqual([]);
  });

  it('resumes a dropped download with a Range request', async () => {
    const path = '/r/disk.vmdk';
    const size = statSync(join(fx, 'disk.vmdk')).size;
    dropAfter.set(path, Math.floor(size / 2));
    const o = opts({ sha256: sha(join(fx, 'disk.vmdk')) });
    const err = await importImage({ url: base + path }, o).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DOWNLOAD_FAILED' });
    expect(ls(dest)).toEqual([]);
    const parts = ls(work).filter((n) => n.endsWith('.part'));
    expect(parts).toHaveLength(1);
    expect(statSync(join(work, parts[0] ?? '')).size).toBe(Math.floor(size / 2));

    const events: ImportProgress[] = [];
    const r = await importImage({ url: base + path }, { ...o, onProgress: (p) => events.push(p) });
    expect(seen.filter((s) => s.path === path).map((s) => s.range)).toEqual([undefined, `bytes=${Math.floor(size / 2)}-`]);
    expect(r.sourceFormat).toBe('vmdk');
    await sameContent(join(fx, 'disk.raw'), 'raw', r.path);
    expect(ls(work)).toEqual([]);
    expectMonotonic(events);
  });

  it('restarts from zero when the server answers 200 to a Range request', async () => {
    const path = '/r/disk.vdi';
    dropAfter.set(path, 100_000);
    const o = opts({ sha256: sha(join(fx, 'disk.vdi')) });
    await expect(importImage({ url: base + path }, o)).rejects.toMatchObject({ code: 'DOWNLOAD_FAILED' });
    ignoreRange.add(path);
    const r = await importImage({ url: base + path }, o);
    expect(seen.filter((s) => s.path === path).map((s) => s.range)).toEqual([undefined, 'bytes=100000-']);
    expect(r.sourceFormat).toBe('vdi');
    await sameContent(join(fx, 'disk.raw'), 'raw', r.path);
  });

  it('gives up on a stalled server after the idle timeout', async () => {
    const err = await importImage({ url: `${base}/stall/disk.raw` }, opts({ sha256: sha(join(fx, 'disk.raw')), idleTimeoutMs: 300 })).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DOWNLOAD_FAILED', message: expect.stringContaining('no data arrived') });
    expect(ls(dest)).toEqual([]);
    expect(ls(work)).toEqual([]); // /stall/ does not advertise ranges, so there is nothing worth resuming
  });

  it('uses a complete part left by a crash without downloading it again', async () => {
    const url = `${base}/r/disk.qcow2`;
    const digest = sha(join(fx, 'disk.qcow2'));
    const key = downloadKey(url, digest);
    mkdirSync(work);
    writeFileSync(join(work, `${key}.part`), readFileSync(join(fx, 'disk.qcow2')));
    writeFileSync(join(work, `${key}.part.json`), JSON.stringify({ url, acceptRanges: true, etag: '"x"' }));
    const r = await importImage({ url }, opts({ sha256: digest }));
    expect(seen).toEqual([{ path: '/r/disk.qcow2', range: `bytes=${statSync(join(fx, 'disk.qcow2')).size}-` }]);
    await sameContent(join(fx, 'disk.raw'), 'raw', r.path);
    expect(ls(work)).toEqual([]);
  });

  it('keeps no partial file when the server cannot resume', async () => {
    const path = '/n/disk.raw';
    dropAfter.set(path, 200_000);
    await expect(importImage({ url: base + path }, opts({ sha256: sha(join(fx, 'disk.raw')) }))).rejects.toMatchObject({ code: 'DOWNLOAD_FAILED' });
    expect(ls(work)).toEqual([]);
    expect(ls(dest)).toEqual([]);
  });

  it('follows redirects (bounded) and reports HTTP errors', async () => {
    const r = await importImage({ url: `${base}/redirect/disk.vhdx` }, opts({ sha256: sha(join(fx, 'disk.vhdx')) }));
    expect(r.sourceFormat).toBe('vhdx');
    await sameContent(join(fx, 'disk.raw'), 'raw', r.path);
    await expect(importImage({ url: `${base}/loop/x` }, opts({ allowUnverified: true, destName: 'b' }))).rejects.toMatchObject({ code: 'DOWNLOAD_FAILED', message: expect.stringContaining('redirects') });
    await expect(importImage({ url: `${base}/r/missing` }, opts({ allowUnverified: true, destName: 'c' }))).rejects.toMatchObject({ code: 'DOWNLOAD_FAILED', message: expect.stringContaining('404') });
    expect(ls(dest)).toEqual(['img.qcow2']);
    expect(ls(work)).toEqual([]);
  });

  it('cancels mid-download with an AbortError and cleans up', async () => {
    const ac = new AbortController();
    const events: ImportProgress[] = [];
    const p = importImage(
      { url: `${base}/slow/random-4m.raw` },
      opts({
        sha256: sha(join(fx, 'random-4m.raw')),
        signal: ac.signal,
        onProgress: (e) => {
          events.push(e);
          if (e.bytesDone > 0) ac.abort();
        },
      }),
    );
    await expect(p).rejects.toMatchObject({ code: 'ABORTED', name: 'AbortError' });
    expect(events.every((e) => e.phase === 'download')).toBe(true);
    expect(ls(work)).toEqual([]);
    expect(ls(dest)).toEqual([]);
  });

  it('imports an OVA with two disks, checking its manifest', async () => {
    const events: ImportProgress[] = [];
    const r = await importImage({ url: `${base}/r/appliance.ova` }, opts({ sha256: sha(join(fx, 'appliance.ova')), onProgress: (e) => events.push(e) }));
    expect(r).toMatchObject({
      path: join(dest, 'img.qcow2'),
      sourceFormat: 'ova',
      virtualSizeBytes: 4 * MiB,
      sha256: sha(join(fx, 'appliance.ova')),
      ova: { ovfName: 'appliance.ovf', disks: [join(dest, 'img.qcow2'), join(dest, 'img-disk1.qcow2')] },
    });
    await sameContent(join(fx, 'disk.raw'), 'raw', r.path);
    await sameContent(join(fx, 'second.qcow2'), 'qcow2', join(dest, 'img-disk1.qcow2'));
    expect([...new Set(events.map((e) => e.phase))]).toEqual(['download', 'verify', 'unpack', 'convert', 'finalize']);
    expectMonotonic(events);
    expect(ls(work)).toEqual([]);

    await expect(importImage({ file: join(fx, 'tampered.ova') }, opts({ destName: 'bad' }))).rejects.toMatchObject({ code: 'CHECKSUM_MISMATCH', message: expect.stringContaining('manifest') });
    expect(ls(dest)).toEqual(['img-disk1.qcow2', 'img.qcow2']);
    expect(ls(work)).toEqual([]);
  });
});

describe('import from a file', () => {
  it.each([
    ['disk.qcow2', 'qcow2'],
    ['stream.vmdk', 'vmdk'],
    ['disk.vhd', 'vpc'],
    ['qcow2-named.raw', 'qcow2'],
  ])('converts %s (detected as %s, whatever the extension)', async (name, format) => {
    const r = await importImage({ file: join(fx, name) }, opts({ sha256: sha(join(fx, name)) }));
    expect(r.sourceFormat).toBe(format);
    await sameContent(join(fx, 'disk.raw'), 'raw', r.path);
    expect(ls(work)).toEqual([]);
  });

  it('imports an OVA from a file, verifying its checksum while unpacking', async () => {
    const r = await importImage({ file: join(fx, 'appliance.ova') }, opts({ sha256: sha(join(fx, 'appliance.ova')) }));
    expect(r.ova?.disks).toHaveLength(2);
    await expect(importImage({ file: join(fx, 'appliance.ova') }, opts({ destName: 'other', sha256: '0'.repeat(64) }))).rejects.toMatchObject({ code: 'CHECKSUM_MISMATCH' });
    expect(ls(dest)).toEqual(['img-disk1.qcow2', 'img.qcow2']);
  });

  it.each([
    ['overlay.qcow2', 'UNSAFE_IMAGE'],
    ['descriptor.vmdk', 'UNSAFE_IMAGE'],
    ['deferred.vmdk', 'UNSAFE_IMAGE'],
    ['disk.qed', 'UNSUPPORTED_FORMAT'],
  ])('refuses %s with %s and leaves nothing', async (name, code) => {
    await expect(importImage({ file: join(fx, name) }, opts())).rejects.toMatchObject({ code });
    expect(ls(dest)).toEqual([]);
    expect(ls(work)).toEqual([]);
  });

  it('refuses bad sources and options', async () => {
    await expect(importImage({ url: 'file:///etc/passwd' }, opts({ allowUnverified: true }))).rejects.toMatchObject({ code: 'BAD_SOURCE' });
    await expect(importImage({ url: 'ftp://example.org/x.img' }, opts({ allowUnverified: true }))).rejects.toMatchObject({ code: 'BAD_SOURCE' });
    await expect(importImage({ url: `${base}/r/disk.raw` }, opts())).rejects.toMatchObject({ code: 'BAD_OPTIONS' });
    await expect(importImage({ file: 'relative/disk.raw' }, opts())).rejects.toMatchObject({ code: 'BAD_SOURCE' });
    await expect(importImage({ file: fx }, opts())).rejects.toMatchObject({ code: 'BAD_SOURCE' });
    await expect(importImage({ file: join(fx, 'nope') }, opts())).rejects.toMatchObject({ code: 'BAD_SOURCE' });
    await expect(importImage({}, opts())).rejects.toMatchObject({ code: 'BAD_SOURCE' });
    await expect(importImage({ file: join(fx, 'disk.raw') }, opts({ destName: '../x' }))).rejects.toMatchObject({ code: 'BAD_OPTIONS' });
    await expect(importImage({ file: join(fx, 'disk.raw') }, opts({ sha256: 'xyz' }))).rejects.toMatchObject({ code: 'BAD_OPTIONS' });
  });

  it('never replaces an existing image', async () => {
    writeFileSync(join(dest, 'img.qcow2'), 'mine');
    await expect(importImage({ file: join(fx, 'disk.qcow2') }, opts())).rejects.toMatchObject({ code: 'DEST_EXISTS' });
    expect(readFileSync(join(dest, 'img.qcow2'), 'utf8')).toBe('mine');
  });
});

describe('disk full', () => {
  let mnt: string | undefined;
  beforeAll(async () => {
    const dir = join(root, 'tiny');
    mkdirSync(dir);
    try {
      await run('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir]);
      mnt = dir;
    } catch {
      mnt = undefined;
    }
  });
  afterAll(async () => {
    if (mnt) await run('umount', [mnt]);
  });
  beforeEach(({ skip }) => {
    if (!mnt) skip('cannot mount a tmpfs here (not root?)');
    for (const n of readdirSync(mnt ?? '')) rmSync(join(mnt ?? '', n), { recursive: true, force: true });
    work = join(mnt ?? '', 'work');
    dest = join(mnt ?? '', 'dest');
  });

  it('maps ENOSPC while downloading (no Content-Length) to NO_SPACE and leaves nothing', async () => {
    await expect(importImage({ url: `${base}/chunked/random-4m.raw` }, opts({ sha256: sha(join(fx, 'random-4m.raw')) }))).rejects.toMatchObject({ code: 'NO_SPACE' });
    expect(ls(work)).toEqual([]);
    expect(ls(dest)).toEqual([]);
  });

  it('refuses up front when Content-Length does not fit', async () => {
    await expect(importImage({ url: `${base}/r/random-4m.raw` }, opts({ sha256: sha(join(fx, 'random-4m.raw')) }))).rejects.toMatchObject({ code: 'NO_SPACE' });
    expect(ls(work)).toEqual([]);
    expect(ls(dest)).toEqual([]);
  });

  it('maps qemu-img running out of space while converting to NO_SPACE', async () => {
    await expect(importImage({ file: join(fx, 'random-1200k.raw') }, opts())).rejects.toMatchObject({ code: 'NO_SPACE', message: expect.stringContaining('converted image') });
    expect(ls(work)).toEqual([]);
    expect(ls(dest)).toEqual([]);
  });
});

describe('cleanupImportStaging', () => {
  it('removes crashed jobs, orphaned metadata and stale parts, and keeps resumable parts', async () => {
    mkdirSync(join(work, 'job-abc123', 'ova'), { recursive: true });
    writeFileSync(join(work, 'job-abc123', 'out-0.qcow2'), 'x');
    writeFileSync(join(work, 'fresh.part'), 'x');
    writeFileSync(join(work, 'fresh.part.json'), '{}');
    writeFileSync(join(work, 'old.part'), 'x');
    writeFileSync(join(work, 'old.part.json'), '{}');
    utimesSync(join(work, 'old.part'), new Date(0), new Date(0));
    writeFileSync(join(work, 'lonely.part.json'), '{}');
    writeFileSync(join(work, 'nometa.part'), 'x');
    writeFileSync(join(work, 'unrelated.txt'), 'x');
    const r = await cleanupImportStaging(work);
    expect(ls(work)).toEqual(['fresh.part', 'fresh.part.json', 'unrelated.txt']);
    expect(r.killed).toEqual([]);
    expect(await cleanupImportStaging(join(root, 'does-not-exist'))).toEqual({ removed: [], killed: [] });
  });

  it('ends a qemu-img orphaned by a killed daemon that still works on the staging area', async () => {
    // A stand-in "qemu-img" (a copy of tail -f) detached with setsid, as a real one would be
    // once its parent died: reparented, still holding a file in a job directory.
    const bin = join(root, 'bin');
    mkdirSync(bin, { recursive: true });
    const fake = join(bin, 'qemu-img');
    if (!existsSync(fake)) writeFileSync(fake, readFileSync('/usr/bin/tail'), { mode: 0o755 });
    const job = join(work, 'job-crashed');
    mkdirSync(job, { recursive: true });
    writeFileSync(join(job, 'source'), 'x');
    await new Promise((res, rej) => spawn('setsid', ['-f', fake, '-f', join(job, 'source')], { stdio: 'ignore' }).on('exit', res).on('error', rej));
    // setsid -f returns before its child has exec'd: wait for the stand-in to run, or the
    // cleanup could remove the job directory first and tail would exit on the missing file.
    for (let i = 0; i < 100 && findProcesses((argv) => argv[0] === fake).length === 0; i++) await new Promise((res) => setTimeout(res, 20));
    let r = await cleanupImportStaging(work);
    for (let i = 0; i < 20 && r.killed.length === 0; i++) {
      await new Promise((res) => setTimeout(res, 25));
      r = await cleanupImportStaging(work);
    }
    expect(r.killed).toHaveLength(1);
    expect(ls(work)).toEqual([]);
    await new Promise((res) => setTimeout(res, 50));
    const pid = r.killed[0] ?? 0;
    const state = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] : 'gone';
    expect(['gone', 'Z', 'X']).toContain(state);
  });
});
