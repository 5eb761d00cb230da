import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHangarError } from '../../errors/errors.js';
import { ImportError } from './errors.js';
import { ProgressReporter, type ImportProgress } from './progress.js';
import type { ImageInfo } from '../../storage/qemu-img.js';
import { checkInfo, checkSniffed, sniff } from './inspect.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hangar-checks-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ImportError', () => {
  it('reaches an API client with its catalogue code, message and details', () => {
    expect(toHangarError(new ImportError('NO_SPACE', 'Full.')).toJSON()).toEqual({ code: 'STORAGE_FULL', message: 'Full.' });
    expect(toHangarError(new ImportError('CHECKSUM_MISMATCH', 'Bad sum.', { details: { expected: 'a' } })).toJSON()).toEqual({ code: 'CHECKSUM_MISMATCH', message: 'Bad sum.', details: { expected: 'a' } });
    expect(toHangarError(new ImportError('DEST_EXISTS', 'Taken.')).code).toBe('IMAGE_EXISTS');
    expect(toHangarError(new ImportError('ABORTED', 'Cancelled.')).code).toBe('INVALID_SPEC');
  });
});

describe('checkInfo', () => {
  const base: ImageInfo = { format: 'qcow2', virtualSizeBytes: 1 << 20, actualSizeBytes: 0 };
  const other = { kind: 'other' } as const;
  it('accepts the supported formats', () => {
    for (const f of ['raw', 'qcow2', 'vdi', 'vhdx', 'vpc']) expect(checkInfo({ ...base, format: f }, '/x', 'x', other)).toBe(f);
  });
  it('refuses other formats, backing files, data files, encryption and foreign extents', () => {
    expect(() => checkInfo({ ...base, format: 'qed' }, '/x', 'x', other)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_FORMAT' }));
    expect(() => checkInfo({ ...base, backingFilename: '/etc/shadow' }, '/x', 'x', other)).toThrow(expect.objectContaining({ code: 'UNSAFE_IMAGE' }));
    expect(() => checkInfo({ ...base, formatSpecific: { data: { 'data-file': '/dev/sda' } } }, '/x', 'x', other)).toThrow(
      expect.objectContaining({ code: 'UNSAFE_IMAGE' }),
    );
    expect(() => checkInfo({ ...base, encrypted: true }, '/x', 'x', other)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_FORMAT' }));
    const vmdk = (files: string[]): ImageInfo => ({ format: 'vmdk', virtualSizeBytes: 512, actualSizeBytes: 0, formatSpecific: { type: 'vmdk', data: { extents: files.map((filename) => ({ filename })) } } });
    const sparse = { kind: 'vmdk-sparse', capacity: 1n } as const;
    expect(checkInfo(vmdk(['/s/d.vmdk']), '/s/d.vmdk', 'x', sparse)).toBe('vmdk');
    expect(() => checkInfo(vmdk(['/s/d.vmdk', '/etc/hostname']), '/s/d.vmdk', 'x', sparse)).toThrow(expect.objectContaining({ code: 'UNSAFE_IMAGE' }));
  });
});

describe('sniff', () => {
  const file = (name: string, data: Buffer | string): string => {
    const p = join(dir, name);
    writeFileSync(p, data);
    return p;
  };
  it('recognises VMDK descriptors (refused) and compressed files (unsupported)', async () => {
    const desc = await sniff(file('d.vmdk', '# Disk DescriptorFile\nversion=1\nRW 2048 FLAT "/etc/hostname" 0\n'));
    expect(desc.kind).toBe('vmdk-descriptor');
    expect(() => checkSniffed(desc, 'd')).toThrow(expect.objectContaining({ code: 'UNSAFE_IMAGE' }));
    const probe = await sniff(file('p.vmdk', '\n# a comment\nversion=2\nRW 1 FLAT "x" 0\n'));
    expect(probe.kind).toBe('vmdk-descriptor');
    const gz = await sniff(file('g', Buffer.from([0x1f, 0x8b, 8, 0, 0, 0])));
    expect(() => checkSniffed(gz, 'g')).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_FORMAT' }));
    expect((await sniff(file('e', ''))).kind).toBe('empty');
    expect((await sniff(file('o', '<?xml version="1.0"?><Envelope/>'))).kind).toBe('ovf');
    expect((await sniff(file('r', Buffer.alloc(4096, 1)))).kind).toBe('other');
  });
  it('refuses a sparse VMDK whose header defers to an embedded descriptor', () => {
    expect(() => checkSniffed({ kind: 'vmdk-sparse', capacity: 0n }, 'v')).toThrow(expect.objectContaining({ code: 'UNSAFE_IMAGE' }));
    const two = 'RW 10 SPARSE "a.vmdk"\nRW 10 FLAT "/etc/shadow" 0\n';
    expect(() => checkSniffed({ kind: 'vmdk-sparse', capacity: 10n, embeddedDescriptor: two }, 'v')).toThrow(expect.objectContaining({ code: 'UNSAFE_IMAGE' }));
    expect(() => checkSniffed({ kind: 'vmdk-sparse', capacity: 10n, embeddedDescriptor: 'RW 10 SPARSE "a.vmdk"\n' }, 'v')).not.toThrow();
  });
});

describe('ProgressReporter', () => {
  it('throttles to ~10/s, always passes phase changes and 100%, and never goes backwards in a phase', () => {
    let now = 0;
    const seen: ImportProgress[] = [];
    const r = new ProgressReporter((p) => seen.push(p), () => now);
    for (let i = 0; i <= 100; i++) {
      now += 10;
      r.report({ phase: 'download', bytesDone: i, bytesTotal: 100 });
    }
    r.report({ phase: 'download', bytesDone: 50, bytesTotal: 100 });
    r.report({ phase: 'verify', bytesDone: 1, bytesTotal: 1 });
    const downloads = seen.filter((p) => p.phase === 'download');
    expect(downloads.length).toBeLessThanOrEqual(13);
    expect(downloads.at(-1)).toMatchObject({ bytesDone: 100, percent: 100 });
    expect(seen.at(-1)).toMatchObject({ phase: 'verify', percent: 100 });
    const r2 = new ProgressReporter(() => {
      throw new Error('listener bug');
    });
    expect(() => r2.report({ phase: 'convert', bytesDone: 0 })).not.toThrow();
  });
});
