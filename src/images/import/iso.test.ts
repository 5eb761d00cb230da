import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importImage, type ImportOptions } from './index.js';
import { isIso9660 } from './inspect.js';

let root: string;
const opts = (over: Partial<ImportOptions> = {}): ImportOptions => ({ workDir: join(root, 'work'), destDir: join(root, 'dest'), destName: 'media', ...over });

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'hangar-iso-'));
  mkdirSync(join(root, 'src', 'tree'), { recursive: true });
  writeFileSync(join(root, 'src', 'tree', 'hello.txt'), 'installer\n');
  execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-V', 'TESTMEDIA', '-o', join(root, 'src', 'real.iso'), join(root, 'src', 'tree')], { stdio: 'ignore' });
  writeFileSync(join(root, 'src', 'fake.iso'), Buffer.alloc(64 * 1024, 1));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('ISO import', () => {
  it('detects ISO 9660 by CD001 at 0x8001 and keeps the file byte for byte as <name>.iso', async () => {
    const src = join(root, 'src', 'real.iso');
    expect(await isIso9660(src)).toBe(true);
    const digest = createHash('sha256').update(readFileSync(src)).digest('hex');
    const r = await importImage({ file: src }, opts({ sha256: digest }));
    expect(r).toMatchObject({ format: 'iso', sourceFormat: 'iso', sha256: digest, path: join(root, 'dest', 'media.iso'), virtualSizeBytes: statSync(src).size });
    expect(readFileSync(r.path).equals(readFileSync(src))).toBe(true);
    expect(readdirSync(join(root, 'work')).filter((f) => f.startsWith('job-'))).toEqual([]);
  });

  it('refuses a file named .iso that is not one, importing nothing', async () => {
    const src = join(root, 'src', 'fake.iso');
    expect(await isIso9660(src)).toBe(false);
    const err = await importImage({ file: src }, opts({ destName: 'fake' })).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BAD_SOURCE', message: expect.stringMatching(/fake\.iso is named like an ISO but is not one.*CD001/) });
    expect(readdirSync(join(root, 'dest')).filter((f) => f.startsWith('fake'))).toEqual([]);
  });
});
