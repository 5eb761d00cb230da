import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackupRepository, readKeyFile } from './repository.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hg-repo-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function chunkFiles(path: string): string[] {
  return readdirSync(join(path, 'chunks'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe('BackupRepository', () => {
  it('stores identical data once, compresses what compresses, and reads it back', async () => {
    const repo = await BackupRepository.create(join(dir, 'r'));
    const text = Buffer.alloc(1 << 20, 'hangar backup ');
    const a = await repo.putChunk(text);
    const again = await repo.putChunk(Buffer.from(text));
    expect(again).toEqual({ digest: a.digest, storedBytes: 0 });
    expect(a.storedBytes).toBeLessThan(text.length / 10);
    const random = randomBytes(1 << 20);
    const b = await repo.putChunk(random);
    expect(b.storedBytes).toBe(random.length + 5);
    expect((await repo.getChunk(a.digest)).equals(text)).toBe(true);
    expect((await repo.getChunk(b.digest)).equals(random)).toBe(true);
    const reopened = await BackupRepository.open(join(dir, 'r'));
    expect((await reopened.getChunk(a.digest)).equals(text)).toBe(true);
    const all = [];
    for await (const d of reopened.chunkDigests()) all.push(d);
    expect(all.sort()).toEqual([a.digest, b.digest].sort());
  });

  it('a flipped byte or a missing chunk is BACKUP_CORRUPT', async () => {
    const repo = await BackupRepository.create(join(dir, 'r'));
    const { digest } = await repo.putChunk(randomBytes(4096));
    const [file] = chunkFiles(join(dir, 'r'));
    const bytes = readFileSync(file!);
    bytes[100]! ^= 1;
    writeFileSync(file!, bytes);
    await expect(repo.getChunk(digest)).rejects.toMatchObject({ code: 'BACKUP_CORRUPT' });
    await expect(repo.getChunk('0'.repeat(64))).rejects.toMatchObject({ code: 'BACKUP_CORRUPT' });
  });

  it('encrypted: no plaintext in chunk files or manifests, names reveal nothing, a wrong or missing key is refused', async () => {
    const keyPath = join(dir, 'key');
    writeFileSync(keyPath, randomBytes(32));
    const key = await readKeyFile(keyPath);
    const repo = await BackupRepository.create(join(dir, 'e'), key);
    const pattern = Buffer.alloc(65536, 'HANGAR-SECRET-PATTERN ');
    const { digest } = await repo.putChunk(pattern);
    await repo.writeManifest('b1', { note: 'HANGAR-SECRET-PATTERN' });
    for (const f of [...chunkFiles(join(dir, 'e')), join(dir, 'e', 'backups', 'b1.json')]) {
      expect(readFileSync(f).includes('HANGAR-SECRET')).toBe(false);
    }
    expect(digest).not.toBe((await BackupRepository.create(join(dir, 'plain'))).digestOf(pattern));
    const reopened = await BackupRepository.open(join(dir, 'e'), key);
    expect((await reopened.getChunk(digest)).equals(pattern)).toBe(true);
    expect(await reopened.readManifest('b1')).toEqual({ note: 'HANGAR-SECRET-PATTERN' });
    await expect(BackupRepository.open(join(dir, 'e'), randomBytes(32))).rejects.toMatchObject({ code: 'BACKUP_KEY_MISMATCH' });
    await expect(BackupRepository.open(join(dir, 'e'))).rejects.toMatchObject({ code: 'BACKUP_KEY_MISMATCH' });
  });

  it('refuses a non-empty directory, a short key, and a directory that is no repository', async () => {
    writeFileSync(join(dir, 'x'), 'x');
    await expect(BackupRepository.create(dir)).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    writeFileSync(join(dir, 'short'), 'short');
    await expect(readKeyFile(join(dir, 'short'))).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    await expect(BackupRepository.open(dir)).rejects.toMatchObject({ code: 'BACKUP_REPO_UNAVAILABLE' });
  });
});
