/** The backup NBD server read by QEMU's own NBD client (qemu-img/qemu-io): data, holes, read-only. */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackupNbdServer } from './nbd-server.js';
import { BackupRepository } from './repository.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hg-nbds-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('BackupNbdServer', () => {
  it('serves a backed-up disk to QEMU: chunks, zero chunks and the tail; writes are refused', async () => {
    const repo = await BackupRepository.create(join(dir, 'repo'));
    const cs = 1024 * 1024;
    const a = randomBytes(cs);
    const tail = randomBytes(cs / 2);
    const disk = { sizeBytes: 2.5 * cs, chunkSize: cs, chunks: [(await repo.putChunk(a)).digest, null, (await repo.putChunk(tail)).digest] };
    const server = new BackupNbdServer(repo, new Map([['disk0', disk]]));
    const sock = join(dir, 's.sock');
    await server.listen(sock);
    try {
      const out = join(dir, 'out.raw');
      const url = `nbd+unix:///disk0?socket=${sock}`;
      await new Promise<void>((resolve, reject) => {
        // qemu-img runs in a child: the server answers on this process's event loop.
        import('node:child_process').then(({ execFile }) => execFile('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', url, out], (e) => (e ? reject(e) : resolve())), reject);
      });
      const expected = Buffer.concat([a, Buffer.alloc(cs), tail]);
      expect(execFileSync('sha256sum', [out]).toString().slice(0, 64)).toBe(execFileSync('sha256sum', ['-'], { input: expected }).toString().slice(0, 64));
      writeFileSync(join(dir, 'x'), '');
      const w = await new Promise<string>((resolve) => {
        import('node:child_process').then(({ execFile }) => execFile('qemu-io', ['-f', 'raw', '-c', 'write 0 4k', url], (e, so, se) => resolve(`${e ? 'ERR ' : ''}${so}${se}`)));
      });
      expect(w).toMatch(/ERR|read-only|Permission|failed/i);
    } finally {
      await server.close();
    }
  });
});
