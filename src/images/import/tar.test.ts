import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { extractTar, parsePax, parseTarNumber, safeEntryName } from './tar.js';

interface Spec {
  name: string;
  data?: Buffer | string;
  type?: string;
  linkname?: string;
  badChecksum?: boolean;
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function header(s: Spec, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(s.name.slice(0, 100), 0, 'utf8');
  h.write(octal(0o644, 8), 100, 'latin1');
  h.write(octal(0, 8), 108, 'latin1');
  h.write(octal(0, 8), 116, 'latin1');
  h.write(octal(size, 12), 124, 'latin1');
  h.write(octal(0, 12), 136, 'latin1');
  h.write(s.type ?? '0', 156, 'latin1');
  if (s.linkname) h.write(s.linkname, 157, 'utf8');
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  if (s.badChecksum) sum += 1;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return h;
}

function makeTar(specs: Spec[], opts: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const s of specs) {
    const data = s.data === undefined ? Buffer.alloc(0) : Buffer.from(s.data);
    parts.push(header(s, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  if (opts.end !== false) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

function pax(records: Record<string, string>): Buffer {
  let out = '';
  for (const [k, v] of Object.entries(records)) {
    const body = ` ${k}=${v}\n`;
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len = String(len).length + body.length;
    out += `${len}${body}`;
  }
  return Buffer.from(out);
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hangar-tar-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function extract(tar: Buffer, opts: Parameters<typeof extractTar>[2] = {}) {
  const archive = join(dir, 'a.tar');
  writeFileSync(archive, tar);
  const out = join(dir, 'out');
  mkdirSync(out);
  return { entries: await extractTar(archive, out, opts), out };
}

describe('extractTar', () => {
  it('extracts regular files with their digests and sees every byte of the archive', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    const tar = makeTar([{ name: 'vm.ovf', data: '<Envelope/>' }, { name: 'sub/', type: '5' }, { name: 'sub/disk.vmdk', data: big }]);
    const outer = createHash('sha256');
    const seen: number[] = [];
    const { entries, out } = await extract(tar, {
      hashAlgorithms: () => ['sha256', 'sha1'],
      onRawChunk: (c) => outer.update(c),
      onBytes: (d) => seen.push(d),
    });
    expect(entries.map((e) => [e.name, e.size])).toEqual([['vm.ovf', 11], ['sub/disk.vmdk', big.length]]);
    expect(entries[1]?.hashes.sha256).toBe(createHash('sha256').update(big).digest('hex'));
    expect(entries[1]?.hashes.sha1).toBe(createHash('sha1').update(big).digest('hex'));
    expect(readFileSync(join(out, 'sub/disk.vmdk')).equals(big)).toBe(true);
    expect(outer.digest('hex')).toBe(createHash('sha256').update(tar).digest('hex'));
    expect(seen.at(-1)).toBe(tar.length);
  });

  it('honours pax paths and GNU long names', async () => {
    const long = `${'d'.repeat(120)}.vmdk`;
    const tar = makeTar([
      { name: 'PaxHeader', type: 'x', data: pax({ path: 'renamed.ovf' }) },
      { name: 'short.ovf', data: 'x' },
      { name: '././@LongLink', type: 'L', data: `${long}\0` },
      { name: long.slice(0, 100), data: 'y' },
    ]);
    const { entries } = await extract(tar);
    expect(entries.map((e) => e.name)).toEqual(['renamed.ovf', long]);
  });

  it.each([
    ['../escape', 'contains ".."'],
    ['/etc/passwd', 'absolute'],
    ['a/../../b', 'contains ".."'],
  ])('refuses the entry %s', async (name, why) => {
    const err = await extract(makeTar([{ name, data: 'x' }])).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UNSAFE_IMAGE' });
    expect(String((err as Error).message)).toContain(why);
    expect(readdirSync(join(dir, 'out'))).toEqual([]);
  });

  it('refuses a path hidden in a pax header', async () => {
    const tar = makeTar([{ name: 'PaxHeader', type: 'x', data: pax({ path: '../../x' }) }, { name: 'ok', data: 'x' }]);
    await expect(extract(tar)).rejects.toMatchObject({ code: 'UNSAFE_IMAGE' });
  });

  it.each([['2'], ['1'], ['3'], ['6']])('refuses links and devices (type %s)', async (type) => {
    const tar = makeTar([{ name: 'evil', type, linkname: '/etc/shadow' }]);
    await expect(extract(tar)).rejects.toMatchObject({ code: 'UNSAFE_IMAGE' });
  });

  it('refuses duplicates, bad checksums and truncation', async () => {
    await expect(extract(makeTar([{ name: 'a', data: '1' }, { name: './a', data: '2' }]))).rejects.toMatchObject({ code: 'UNSAFE_IMAGE' });
    rmSync(join(dir, 'out'), { recursive: true });
    await expect(extract(makeTar([{ name: 'a', data: '1', badChecksum: true }]))).rejects.toMatchObject({ code: 'BAD_SOURCE' });
    rmSync(join(dir, 'out'), { recursive: true });
    const truncated = makeTar([{ name: 'a', data: Buffer.alloc(5000) }]).subarray(0, 2048);
    await expect(extract(truncated)).rejects.toMatchObject({ code: 'BAD_SOURCE' });
  });

  it('stops when aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(extract(makeTar([{ name: 'a', data: '1' }]), { signal: ac.signal })).rejects.toMatchObject({ code: 'ABORTED', name: 'AbortError' });
  });
});

describe('tar helpers', () => {
  it('normalises names', () => {
    expect(safeEntryName('./a//b/./c')).toBe('a/b/c');
    expect(safeEntryName('./')).toBeNull();
    expect(() => safeEntryName('a\0b')).toThrow();
  });

  it('parses octal and base-256 numbers', () => {
    expect(parseTarNumber(Buffer.from('00000000012\0'))).toBe(10);
    const b = Buffer.alloc(12);
    b[0] = 0x80;
    b.writeUIntBE(5 * 2 ** 32, 6, 6);
    expect(parseTarNumber(b)).toBe(5 * 2 ** 32);
    expect(() => parseTarNumber(Buffer.from('12x\0'))).toThrow();
  });

  it('parses pax records', () => {
    expect(parsePax(pax({ path: 'a b=c', size: '12' }))).toEqual({ path: 'a b=c', size: '12' });
  });
});
