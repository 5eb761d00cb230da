/**
 * Backup repositories on real guests (tiny image, TCG): ten VMs linked-cloned from one image
 * grow a repository by about one image, not ten; an encrypted repository holds no plaintext
 * of a pattern the guest wrote and refuses the wrong key; a full repository (a small tmpfs)
 * fails the backup cleanly, keeps the earlier backups intact and lists no half backup.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backup } from '../../src/contract/index.js';
import { guestRun, TestDaemon, waitForGuestReady } from './harness.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
let d: TestDaemon;
const mounts: string[] = [];

function repoBytes(path: string): number {
  return readdirSync(join(path, 'chunks'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).reduce((n, e) => n + statSync(join(e.parentPath, e.name)).size, 0);
}

function chunkFiles(path: string): string[] {
  return readdirSync(join(path, 'chunks'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

async function backup(vm: string, repo: string): Promise<{ code: number; stderr: string; backup?: Backup }> {
  const r = await d.cli(['backup', 'create', vm, '--repo', repo, '--output', 'json'], undefined, 300_000);
  return { code: r.code ?? -1, stderr: r.stderr, ...(r.code === 0 && { backup: JSON.parse(r.stdout) as Backup }) };
}

async function guestWrite(vm: string, script: string): Promise<void> {
  const out = await guestRun(d, vm, `${script} && sync && echo WROTE-$((1+1))`, 30_000);
  expect(out).toContain('WROTE-2');
}

beforeAll(async () => {
  d = await TestDaemon.start();
}, 60_000);
afterAll(async () => {
  if (d) {
    for (const v of await d.api.vms.list().catch(() => [])) await d.api.vms.delete(v.name, { force: true }).catch(() => undefined);
    await d.kill('SIGTERM');
  }
  for (const m of mounts.reverse()) await run('umount', [m]).catch(() => run('umount', ['-l', m]));
  await d?.cleanup();
});

describe('backup repositories', () => {
  it('ten VMs linked-cloned from one image grow the repository by about one image', async () => {
    const img = join(d.dir, 'base.raw');
    writeFileSync(img, Buffer.concat([randomBytes(32 * MiB), Buffer.alloc(32 * MiB)]));
    let r = await d.cli(['image', 'import', 'base', '--file', img], undefined, 120_000);
    expect(r.code, r.stderr).toBe(0);
    r = await d.cli(['backup-repo', 'create', 'dedup', '--path', join(d.dir, 'dedup')]);
    expect(r.code, r.stderr).toBe(0);
    let stored = 0;
    for (let i = 0; i < 10; i++) {
      r = await d.cli(['vm', 'create', `c${i}`, '--image', 'base', '--memory', '64M']);
      expect(r.code, r.stderr).toBe(0);
      const b = await backup(`c${i}`, 'dedup');
      expect(b.code, b.stderr).toBe(0);
      expect(b.backup!.kind).toBe('full');
      expect(b.backup!.readBytes).toBeGreaterThanOrEqual(32 * MiB);
      stored += b.backup!.storedBytes;
    }
    const bytes = repoBytes(join(d.dir, 'dedup'));
    expect(bytes).toBeGreaterThanOrEqual(32 * MiB);
    expect(bytes).toBeLessThan(40 * MiB);
    expect(stored).toBe(bytes);
    for (let i = 0; i < 10; i++) await d.cli(['vm', 'delete', `c${i}`, '--force']);
  }, 300_000);

  it('encrypted: no plaintext of what the guest wrote in any chunk; the wrong key is refused; the right one restores', async () => {
    const key = join(d.dir, 'repo.key');
    writeFileSync(key, randomBytes(32), { mode: 0o600 });
    let r = await d.cli(['backup-repo', 'create', 'secret', '--path', join(d.dir, 'secret'), '--encrypt', '--key-file', key]);
    expect(r.code, r.stderr).toBe(0);
    r = await d.cli(['vm', 'create', 'enc', '--memory', '128M', '--disk-size', '32M', '--start']);
    expect(r.code, r.stderr).toBe(0);
    await waitForGuestReady(d, 'enc');
    await guestWrite('enc', 'yes HANGAR-SECRET-PATTERN-16 | head -c 4194304 | dd of=/dev/vda bs=1M conv=fsync 2>/dev/null');
    const b = await backup('enc', 'secret');
    expect(b.code, b.stderr).toBe(0);
    const files = chunkFiles(join(d.dir, 'secret'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of [...files, ...readdirSync(join(d.dir, 'secret', 'backups')).map((x) => join(d.dir, 'secret', 'backups', x))]) {
      expect(readFileSync(f).includes('HANGAR-SECRET'), f).toBe(false);
    }
    const good = readFileSync(key);
    writeFileSync(key, randomBytes(32));
    r = await d.cli(['backup', 'restore', b.backup!.id, '--as', 'enc-wrong', '--repo', 'secret']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('BACKUP_KEY_MISMATCH');
    expect((await d.api.vms.list()).map((v) => v.name)).not.toContain('enc-wrong');
    writeFileSync(key, good);
    r = await d.cli(['backup', 'restore', b.backup!.id, '--as', 'enc-right', '--repo', 'secret'], undefined, 120_000);
    expect(r.code, r.stderr).toBe(0);
    const path = (await d.vm('enc-right')).disks[0]!.path;
    const { stdout } = await run('qemu-io', ['-r', '-f', 'qcow2', '-c', 'read -v 0 64', path]);
    // qemu-io's dump shows '-' as '.'.
    expect(stdout).toMatch(/HANGAR.SECRET.PA/);
    await d.cli(['vm', 'delete', 'enc-right', '--force']);
  }, 300_000);

  it('a full repository fails the backup cleanly: earlier backups intact, no half backup listed', async () => {
    const dir = join(d.dir, 'small');
    mkdirSync(dir, { recursive: true });
    await run('mount', ['-t', 'tmpfs', '-o', 'size=24m,mode=0700', 'tmpfs', dir]);
    mounts.push(dir);
    let r = await d.cli(['backup-repo', 'create', 'small', '--path', join(dir, 'repo')]);
    expect(r.code, r.stderr).toBe(0);
    await guestWrite('enc', 'dd if=/dev/urandom of=/dev/vda bs=1M count=8 conv=fsync 2>/dev/null');
    const first = await backup('enc', 'small');
    expect(first.code, first.stderr).toBe(0);
    await guestWrite('enc', 'dd if=/dev/urandom of=/dev/vda bs=1M count=24 seek=8 conv=fsync 2>/dev/null');
    const full = await backup('enc', 'small');
    expect(full.code).not.toBe(0);
    expect(full.stderr).toContain('STORAGE_FULL');
    expect((await d.api.backups.list({ repo: 'small' })).map((x) => x.id)).toEqual([first.backup!.id]);
    expect(readdirSync(join(dir, 'repo', 'tmp'))).toEqual([]);
    r = await d.cli(['backup', 'verify', '--repo', 'small']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // Still backed up incrementally into a repository with room, and the VM runs on.
    expect((await d.vm('enc')).state).toBe('running');
    const next = await backup('enc', 'secret');
    expect(next.code, next.stderr).toBe(0);
  }, 300_000);
});
