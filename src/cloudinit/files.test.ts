import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readInputFile, readSshKeyFile } from './files.js';
import { fakeEd25519Key } from './test-keys.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ci-files-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('readInputFile', () => {
  it('reads a text file', async () => {
    const f = path.join(dir, 'ud.yaml');
    fs.writeFileSync(f, '#cloud-config\n');
    await expect(readInputFile(f, 'user-data')).resolves.toBe('#cloud-config\n');
  });

  it('explains missing, unreadable, non-regular, huge and binary files', async () => {
    const missing = path.join(dir, 'nope');
    await expect(readInputFile(missing, 'user-data')).rejects.toMatchObject({ code: 'INVALID_SPEC', message: `user-data file ${missing} does not exist` });
    await expect(readInputFile(dir, 'user-data')).rejects.toMatchObject({ message: /is not a regular file/ });
    const big = path.join(dir, 'big');
    fs.writeFileSync(big, 'x'.repeat(70_000));
    await expect(readInputFile(big, 'network-config')).rejects.toMatchObject({ message: /^network-config file .* is 70000 bytes; at most 65536/ });
    const bin = path.join(dir, 'bin');
    fs.writeFileSync(bin, Buffer.from([0x23, 0xff, 0xfe, 0x00]));
    await expect(readInputFile(bin, 'user-data')).rejects.toMatchObject({ message: /is not UTF-8 text/ });
    if (process.getuid?.() === 0) return; // root reads anything
    const locked = path.join(dir, 'locked');
    fs.writeFileSync(locked, 'x', { mode: 0 });
    await expect(readInputFile(locked, 'user-data')).rejects.toMatchObject({ message: /not readable/ });
  });

  it('reads the keys of an --ssh-key file', async () => {
    const f = path.join(dir, 'keys.pub');
    const k = fakeEd25519Key();
    fs.writeFileSync(f, `${k}\n`);
    await expect(readSshKeyFile(f)).resolves.toEqual([k]);
    fs.writeFileSync(f, 'not a key\n');
    await expect(readSshKeyFile(f)).rejects.toMatchObject({ code: 'INVALID_SPEC', message: /ssh key file .* line 1 has unsupported type/ });
  });
});
