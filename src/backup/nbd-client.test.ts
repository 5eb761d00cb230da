/**
 * The NBD client against the real `qemu-nbd` (QEMU's NBD server): reads, holes, block
 * status with base:allocation and a dirty bitmap, writes and flushes.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NbdClient, STATE_DIRTY, STATE_ZERO } from './nbd-client.js';

const MiB = 1024 * 1024;
let dir: string;
let server: ChildProcess | undefined;

function qemuIo(file: string, cmd: string): void {
  execFileSync('qemu-io', ['-f', 'qcow2', '-c', cmd, file], { stdio: 'ignore' });
}

async function serve(file: string, args: string[]): Promise<string> {
  const sock = join(dir, `nbd-${Date.now()}.sock`);
  server = spawn('qemu-nbd', ['-k', sock, '-f', 'qcow2', ...args, file], { stdio: 'ignore' });
  for (let i = 0; i < 500 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 10));
  return sock;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hg-nbd-'));
});
afterEach(async () => {
  if (server && server.exitCode === null) {
    const done = new Promise((r) => server!.once('exit', r));
    server.kill();
    await done;
  }
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe('NbdClient against qemu-nbd', () => {
  it('reads data and holes, and reports allocation and a dirty bitmap', async () => {
    const file = join(dir, 'd.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', file, '16M']);
    qemuIo(file, 'write -P 0xab 1M 1M');
    execFileSync('qemu-img', ['bitmap', '--add', '-f', 'qcow2', file, 'b0']);
    qemuIo(file, 'write -P 0xcd 8M 512k');
    execFileSync('qemu-img', ['bitmap', '--disable', '-f', 'qcow2', file, 'b0']);
    const sock = await serve(file, ['-r', '--bitmap=b0']);
    const c = await NbdClient.connect(sock, { metaContexts: ['base:allocation', 'qemu:dirty-bitmap:b0'] });
    try {
      expect(c.size).toBe(16 * MiB);
      const [a, hole, b] = await Promise.all([c.read(1 * MiB, MiB), c.read(4 * MiB, MiB), c.read(8 * MiB - 4096, 8192)]);
      expect(a.equals(Buffer.alloc(MiB, 0xab))).toBe(true);
      expect(hole.equals(Buffer.alloc(MiB))).toBe(true);
      expect(b.subarray(0, 4096).equals(Buffer.alloc(4096))).toBe(true);
      expect(b.subarray(4096).equals(Buffer.alloc(4096, 0xcd))).toBe(true);
      const alloc = await c.blockStatus('base:allocation', 0, 16 * MiB);
      expect(alloc.reduce((n, e) => n + e.length, 0)).toBe(16 * MiB);
      const data = alloc.filter((e) => (e.flags & STATE_ZERO) === 0).map((e) => [e.offset, e.length]);
      expect(data).toEqual([[1 * MiB, MiB], [8 * MiB, 512 * 1024]]);
      const dirty = (await c.blockStatus('qemu:dirty-bitmap:b0', 0, 16 * MiB)).filter((e) => e.flags & STATE_DIRTY).map((e) => [e.offset, e.length]);
      expect(dirty).toEqual([[8 * MiB, 512 * 1024]]);
    } finally {
      await c.close();
    }
  });

  it('writes and flushes; a missing metadata context is refused clearly', async () => {
    const file = join(dir, 'w.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', file, '8M']);
    const sock = await serve(file, []);
    await expect(NbdClient.connect(sock, { metaContexts: ['qemu:dirty-bitmap:nope'] })).rejects.toThrow(/no metadata context|refused/);
    const c = await NbdClient.connect(sock);
    await Promise.all([c.write(0, Buffer.alloc(65536, 1)), c.write(4 * MiB, Buffer.alloc(4096, 2))]);
    await c.flush();
    expect((await c.read(4 * MiB, 4096)).equals(Buffer.alloc(4096, 2))).toBe(true);
    await c.close();
    await expect(c.read(0, 10)).rejects.toThrow(/closed/);
  });
});
