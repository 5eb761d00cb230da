/**
 * Backups on a real guest (tiny image, TCG) with a 128 MiB data disk: a full backup, then
 * an incremental one that reads about what the guest wrote (16 MiB at known offsets), both
 * restored to new VMs whose disks hash as the source's did at each backup; incrementals go
 * on after a stop/start (the persistent bitmap) and after the daemon was killed and
 * restarted; a snapshot revert makes the next backup a full read that says why; bad input
 * is refused with nothing changed.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backup, Vm } from '../../src/contract/index.js';
import { guestRun, serialLogEnd, TestDaemon, waitFor, waitForGuestReady } from './harness.js';

const MiB = 1024 * 1024;
const VM = 'bk';
let d: TestDaemon;
let repoPath: string;

/** The guest's view of its data disk, as a SHA-256. */
async function guestHash(): Promise<string> {
  const out = await guestRun(d, VM, 'sync; echo 3 > /proc/sys/vm/drop_caches; sha256sum /dev/vda', 60_000);
  const m = /^([0-9a-f]{64})\s+\/dev\/vda/m.exec(out);
  if (!m) throw new Error(`no hash in ${out}`);
  return m[1]!;
}

/** Random data, `mib` MiB at each offset (in MiB), flushed to the disk. */
async function guestWrite(offsetsMiB: number[], mib = 4): Promise<void> {
  const cmds = offsetsMiB.map((o) => `dd if=/dev/urandom of=/dev/vda bs=1M count=${mib} seek=${o} conv=fsync 2>/dev/null`);
  const out = await guestRun(d, VM, `${cmds.join(' && ')} && sync && echo WROTE-$((1+1))`, 30_000);
  expect(out).toContain('WROTE-2');
}

async function backup(vm = VM): Promise<Backup> {
  const r = await d.cli(['backup', 'create', vm, '--output', 'json'], undefined, 300_000);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Backup;
}

async function restoredHash(id: string, as: string): Promise<string> {
  const r = await d.cli(['backup', 'restore', id, '--as', as, '--output', 'json'], undefined, 60_000).catch(async (e: unknown) => {
    console.log('DEBUG', JSON.stringify(await d.api.operations.list(), null, 1), (d as unknown as { daemonLog: string }).daemonLog.slice(-5000));
    throw e;
  });
  expect(r.code, r.stderr).toBe(0);
  const vm = JSON.parse(r.stdout) as Vm;
  expect(vm.name).toBe(as);
  expect(vm.state).toBe('stopped');
  const path = (await d.vm(as)).disks[0]!.path;
  const raw = `${d.dir}/${as}.raw`;
  execFileSync('qemu-img', ['convert', '-U', '-O', 'raw', '-f', 'qcow2', path, raw]);
  const hash = createHash('sha256').update(readFileSync(raw)).digest('hex');
  rmSync(raw);
  await d.cli(['vm', 'delete', as, '--force']);
  return hash;
}

beforeAll(async () => {
  d = await TestDaemon.start();
  repoPath = `${d.dir}/backups`;
  let r = await d.cli(['backup-repo', 'create', 'main', '--path', repoPath]);
  expect(r.code, r.stderr).toBe(0);
  r = await d.cli(['vm', 'create', VM, '--memory', '256M', '--disk-size', '128M', '--start']);
  expect(r.code, r.stderr).toBe(0);
  await waitForGuestReady(d, VM);
  await guestWrite([0, 4]);
}, 120_000);
afterAll(async () => {
  await d?.cleanup();
});

describe('backups of a running VM', () => {
  const hashes = new Map<string, string>();

  it('full, then incremental reading about what changed; both restore to disks equal to the source at their time', async () => {
    const full = await backup();
    expect(full.kind).toBe('full');
    expect(full.readBytes).toBeGreaterThanOrEqual(8 * MiB);
    expect(full.readBytes).toBeLessThanOrEqual(12 * MiB);
    hashes.set(full.id, await guestHash());

    await guestWrite([20, 40, 60, 100]);
    const inc = await backup();
    expect(inc.kind).toBe('incremental');
    expect(inc.parent).toBe(full.id);
    expect(inc.readBytes).toBeGreaterThanOrEqual(16 * MiB);
    expect(inc.readBytes).toBeLessThanOrEqual(20 * MiB);
    expect(inc.storedBytes).toBeGreaterThanOrEqual(16 * MiB);
    hashes.set(inc.id, await guestHash());

    const list = (await d.api.backups.list({ vm: VM })).map((b) => [b.id, b.kind]);
    expect(list).toEqual([[full.id, 'full'], [inc.id, 'incremental']]);
    expect(await restoredHash(inc.id, 'r-inc')).toBe(hashes.get(inc.id));
    // One disk into a new volume.
    const one = await d.cli(['backup', 'restore', inc.id, '--disk', 'disk0', '--volume', 'one-disk', '--output', 'json'], undefined, 120_000);
    expect(one.code, one.stderr).toBe(0);
    const vol = (await d.api.volumes.list()).find((v) => v.name === 'one-disk')!;
    expect(vol.attachedTo).toBeUndefined();
    execFileSync('qemu-img', ['convert', '-U', '-O', 'raw', '-f', 'qcow2', vol.path, `${d.dir}/one.raw`]);
    expect(createHash('sha256').update(readFileSync(`${d.dir}/one.raw`)).digest('hex')).toBe(hashes.get(inc.id));
    rmSync(`${d.dir}/one.raw`);
    expect((await d.cli(['volume', 'delete', 'one-disk'])).code).toBe(0);
    expect((await d.cli(['backup', 'restore', inc.id, '--disk', 'nope'])).stderr).toContain('INVALID_SPEC');
    expect(await restoredHash(full.id, 'r-full')).toBe(hashes.get(full.id));
  }, 600_000);

  it('incremental again after a stop and start (the bitmap persists in the qcow2)', async () => {
    let r = await d.cli(['vm', 'stop', VM, '--force']);
    expect(r.code, r.stderr).toBe(0);
    const stopped = await backup();
    expect(stopped.kind).toBe('incremental');
    expect(stopped.readBytes).toBe(0);
    const since = await serialLogEnd(d, VM);
    r = await d.cli(['vm', 'start', VM]);
    expect(r.code, r.stderr).toBe(0);
    await waitForGuestReady(d, VM, { since });
    await guestWrite([80]);
    const b = await backup();
    expect(b.kind).toBe('incremental');
    expect(b.readBytes).toBeGreaterThanOrEqual(4 * MiB);
    expect(b.readBytes).toBeLessThanOrEqual(8 * MiB);
  }, 300_000);

  it('incremental after the daemon was killed and restarted', async () => {
    await d.kill('SIGKILL');
    await d.launch();
    await guestWrite([8]);
    const b = await backup();
    expect(b.kind).toBe('incremental');
    expect(b.readBytes).toBeLessThanOrEqual(8 * MiB);
    const h = await guestHash();
    expect(await restoredHash(b.id, 'r-restart')).toBe(h);
  }, 300_000);

  it('after a revert to a snapshot the next backup is a full read, and says why', async () => {
    let r = await d.cli(['snapshot', 'create', VM, 's1']);
    expect(r.code, r.stderr).toBe(0);
    r = await d.cli(['snapshot', 'revert', VM, 's1']);
    expect(r.code, r.stderr).toBe(0);
    const b = await backup();
    expect(b.kind).toBe('full');
    expect(b.fullReason).toMatch(/reverted to snapshot "s1"/);
    const again = await backup();
    expect(again.kind).toBe('incremental');
  }, 300_000);

  it('a daemon killed during a backup: nothing half made is listed, QEMU is cleaned up, the next backup works', async () => {
    let r = await d.cli(['vm', 'create', 'big', '--memory', '128M', '--disk-size', '512M', '--start']);
    expect(r.code, r.stderr).toBe(0);
    await waitForGuestReady(d, 'big');
    const out = await guestRun(d, 'big', 'dd if=/dev/urandom of=/dev/vda bs=1M count=384 conv=fsync 2>/dev/null; echo FILLED-$((1+1))', 120_000);
    expect(out).toContain('FILLED-2');
    const before = (await d.api.backups.list()).length;
    const op = await d.api.backups.create('big', {});
    await waitFor('the backup to be under way', async () => {
      const o = await d.api.operations.get(op.id);
      expect(o.state).toBe('running');
      return (o.progress.percent ?? 0) >= 5;
    }, 60_000, 20);
    await d.kill('SIGKILL');
    await d.launch();
    const rec = await d.vm('big');
    expect(rec.state).toBe('running');
    expect((await d.api.operations.get(op.id)).state).toBe('failed');
    expect((await d.api.backups.list()).length).toBe(before);
    await waitFor('the leftover fleecing files to go', () => !readdirSync(`${d.dir}/run/vms/${rec.id}`).some((f) => f.startsWith('hangar-backup')), 30_000, 100);
    const b = await backup('big');
    expect(b.kind).toBe('full');
    expect(b.readBytes).toBeGreaterThanOrEqual(384 * MiB);
    r = await d.cli(['vm', 'delete', 'big', '--force']);
    expect(r.code, r.stderr).toBe(0);
  }, 300_000);

  it('bad input is refused with a clear code, and nothing changes', async () => {
    const before = (await d.api.backups.list()).length;
    for (const [args, code] of [
      [['backup-repo', 'create', 'rel', '--path', 'relative/dir'], 'INVALID_SPEC'],
      [['backup-repo', 'create', 'dup', '--path', repoPath], 'BACKUP_REPO_EXISTS'],
      [['backup-repo', 'create', 'enc', '--path', `${d.dir}/enc`, '--encrypt'], 'INVALID_SPEC'],
      [['backup', 'create', VM, '--repo', 'nope'], 'BACKUP_REPO_NOT_FOUND'],
      [['backup', 'create', 'no-such-vm'], 'VM_NOT_FOUND'],
      [['backup', 'restore', '20990101T000000Z-abcdef'], 'BACKUP_NOT_FOUND'],
    ] as const) {
      const r = await d.cli([...args]);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toContain(code);
    }
    const [first] = await d.api.backups.list();
    const r = await d.cli(['backup', 'restore', first!.id]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('VM_EXISTS');
    expect((await d.api.backups.list()).length).toBe(before);
    expect((await d.api.backups.repos()).map((x) => x.name)).toEqual(['main']);
    expect((await d.api.vms.list()).map((v) => v.name)).toEqual([VM]);
  }, 120_000);

  it('a flipped byte in one chunk: verify names exactly the backups that use it; restoring one fails clearly, the others restore', async () => {
    const all = await d.api.backups.list({ vm: VM });
    // A chunk only the newest backup has: the one the last write made (offset 8 MiB is chunk 2).
    await guestWrite([120]);
    const newest = await backup();
    const manifests = all.map((b) => b.id);
    const chunkFile = newestOnlyChunk(newest.id, manifests);
    const bytes = readFileSync(chunkFile);
    bytes[bytes.length - 100]! ^= 0xff;
    writeFileSync(chunkFile, bytes);
    const v = await d.cli(['backup', 'verify', '--output', 'json'], undefined, 120_000);
    expect(v.code).toBe(1);
    const report = JSON.parse(v.stdout) as { backups: Array<{ id: string; ok: boolean }>; damagedChunks: string[] };
    expect(report.damagedChunks).toHaveLength(1);
    expect(report.backups.filter((b) => !b.ok).map((b) => b.id)).toEqual([newest.id]);
    const bad = await d.cli(['backup', 'restore', newest.id, '--as', 'r-bad']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('BACKUP_CORRUPT');
    expect((await d.api.vms.list()).map((x) => x.name)).toEqual([VM]);
    expect((await d.api.volumes.list()).map((x) => x.name)).not.toContain('r-bad-disk0');
    const prev = all.at(-1)!;
    expect(await restoredHash(prev.id, 'r-good')).toMatch(/^[0-9a-f]{64}$/);
    // Put the byte back for the tests after this one.
    bytes[bytes.length - 100]! ^= 0xff;
    writeFileSync(chunkFile, bytes);
  }, 300_000);

  it('prune keeps exactly what the retention says; gc frees the chunks only pruned backups used', async () => {
    // Overwrite two areas between backups: their old contents are then only in the older backups.
    await guestWrite([20]);
    await backup();
    await guestWrite([40]);
    await backup();
    const before = await d.api.backups.list({ vm: VM });
    expect(before.length).toBeGreaterThan(3);
    const dry = await d.api.backups.prune({ vm: VM, keepLast: 2, dryRun: true });
    expect(dry.kept.map((b) => b.id)).toEqual(before.slice(-2).reverse().map((b) => b.id));
    expect((await d.api.backups.list({ vm: VM })).length).toBe(before.length);
    const chunksBefore = countChunks();
    const unconfirmed = await d.cli(['backup', 'prune', VM, '--keep-last', '2']);
    expect(unconfirmed.stderr).toContain('--yes');
    expect((await d.api.backups.list({ vm: VM })).length).toBe(before.length);
    const r = await d.cli(['backup', 'prune', VM, '--keep-last', '2', '--yes', '--output', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect((await d.api.backups.list({ vm: VM })).map((b) => b.id)).toEqual(before.slice(-2).map((b) => b.id));
    const gc = await d.cli(['backup', 'gc', '--output', 'json']);
    expect(gc.code, gc.stderr).toBe(0);
    const freed = JSON.parse(gc.stdout) as { removedChunks: number; keptChunks: number };
    expect(freed.removedChunks).toBeGreaterThan(0);
    expect(countChunks()).toBe(chunksBefore - freed.removedChunks);
    // What is left still verifies and restores.
    const v = await d.cli(['backup', 'verify']);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(await restoredHash(before.at(-1)!.id, 'r-after-gc')).toMatch(/^[0-9a-f]{64}$/);
    expect((await d.cli(['backup', 'prune', '--keep-last', 'x', '--yes'])).stderr).toContain('INVALID_SPEC');
  }, 300_000);

  it('in place (--yes): the stopped VM gets the backup\'s disk back; refused while it runs', async () => {
    const last = (await d.api.backups.list({ vm: VM })).at(-1)!;
    const want = await restoredHash(last.id, 'r-want');
    let r = await d.cli(['backup', 'restore', last.id, '--yes']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('VM_STATE');
    await guestWrite([0]);
    expect(await guestHash()).not.toBe(want);
    r = await d.cli(['vm', 'stop', VM, '--force']);
    expect(r.code, r.stderr).toBe(0);
    r = await d.cli(['backup', 'restore', last.id, '--yes'], undefined, 120_000);
    expect(r.code, r.stderr).toBe(0);
    expect(await d.api.snapshots.list(VM)).toEqual([]);
    const since = await serialLogEnd(d, VM);
    r = await d.cli(['vm', 'start', VM]);
    expect(r.code, r.stderr).toBe(0);
    await waitForGuestReady(d, VM, { since });
    expect(await guestHash()).toBe(want);
    const next = await backup();
    expect(next.kind).toBe('full');
    expect(next.fullReason).toMatch(/restored in place/);
  }, 300_000);
});

/** The chunk file only `id` uses among the backups listed (decoded from the unencrypted manifests). */
function newestOnlyChunk(id: string, others: string[]): string {
  const chunks = (m: string) => new Set((JSON.parse(readFileSync(`${repoPath}/backups/${m}.json`).subarray(5).toString()) as { disks: Array<{ chunks: Array<string | null> }> }).disks.flatMap((x) => x.chunks).filter((c): c is string => c !== null));
  const older = new Set(others.flatMap((o) => [...chunks(o)]));
  const only = [...chunks(id)].filter((c) => !older.has(c));
  expect(only.length).toBeGreaterThan(0);
  return `${repoPath}/chunks/${only[0]!.slice(0, 2)}/${only[0]}`;
}

function countChunks(): number {
  return readdirSync(`${repoPath}/chunks`, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length;
}
