/**
 * Backups of a running tiny guest whose data disk holds 2 GiB of random data (written from
 * the host through qemu-nbd before the guest starts), into a repository in the bench's
 * scratch directory:
 *
 * - the full backup's throughput (bytes read from the guest's disk per second) against the
 *   two ceilings it cannot beat: the repository disk's write speed (2 GiB of random data
 *   written and fsynced) and the compressor's speed on this host's cores (zlib deflate
 *   level 1 of 4 MiB random chunks, as many in flight as the backup keeps), side by side
 *   with `qemu-img convert` of the same disk (the way a by-hand copy is made);
 * - incremental backups after the guest wrote 64 MiB and 512 MiB at spread offsets, on a
 *   4 GiB and a 16 GiB disk: their time should follow the change, not the disk size.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, closeSync, fsyncSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { deflateRaw } from 'node:zlib';
import { spawn } from 'node:child_process';
import { NbdClient } from '../../src/backup/nbd-client.js';
import type { Backup, Operation } from '../../src/contract/index.js';
import { hangarConsole } from '../lib/console.js';
import { BenchDaemon } from '../lib/daemon.js';
import { waitForMarker } from '../lib/serial.js';
import { fmtMs } from '../lib/stats.js';
import { table, underGoal, type BenchCase, type BenchContext, type CaseResult, type Goal } from '../lib/report.js';

const run = promisify(execFile);
const deflate = promisify(deflateRaw);
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const DATA = 2 * GiB;
const mbs = (bytes: number, ms: number) => `${((bytes / MiB) / (ms / 1000)).toFixed(0)} MiB/s`;

/** Writes `bytes` of random data at the start of a stopped VM's qcow2 disk through qemu-nbd. */
async function fill(path: string, bytes: number, dir: string): Promise<void> {
  const sock = join(dir, `fill-${Date.now()}.sock`);
  const child = spawn('qemu-nbd', ['-k', sock, '-f', 'qcow2', '--cache=unsafe', path], { stdio: 'ignore' });
  const exited = new Promise((r) => child.once('exit', r));
  try {
    while (!existsSync(sock)) await new Promise((r) => setTimeout(r, 10));
    const nbd = await NbdClient.connect(sock);
    const block = 4 * MiB;
    for (let at = 0; at < bytes; at += block * 4) {
      await Promise.all([0, 1, 2, 3].map((i) => (at + i * block < bytes ? nbd.write(at + i * block, randomBytes(block)) : undefined)));
    }
    await nbd.flush();
    await nbd.close();
  } finally {
    child.kill();
    await exited;
  }
}

async function backupOf(d: BenchDaemon, vm: string, repo: string): Promise<{ ms: number; b: Backup }> {
  const t0 = performance.now();
  let op = await d.api.backups.create(vm, { repo });
  while (op.state === 'running') op = (await d.api.operations.get(op.id, { wait: 5 })) as Operation;
  const ms = performance.now() - t0;
  if (op.state !== 'succeeded') throw new Error(`backup of ${vm} ${op.state}: ${op.error?.message ?? ''}`);
  return { ms, b: op.result as Backup };
}

function diskWriteSpeed(dir: string, bytes: number): number {
  const file = join(dir, 'speed.bin');
  const block = randomBytes(4 * MiB);
  const fd = openSync(file, 'w');
  const t0 = performance.now();
  for (let at = 0; at < bytes; at += block.length) writeSync(fd, block);
  fsyncSync(fd);
  const ms = performance.now() - t0;
  closeSync(fd);
  rmSync(file);
  return ms;
}

async function compressorSpeed(bytes: number, inFlight: number): Promise<number> {
  const chunk = randomBytes(4 * MiB);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < bytes) {
      next += chunk.length;
      await deflate(chunk, { level: 1 });
    }
  }));
  return performance.now() - t0;
}

export const backupCase: BenchCase = {
  id: 'backup',
  async run(ctx: BenchContext): Promise<CaseResult> {
    const d = await BenchDaemon.start({ root: ctx.root, parent: ctx.tmp });
    try {
      const rows: string[][] = [];
      const incRows: string[][] = [];
      const goals: Goal[] = [];
      const repoDir = join(ctx.tmp, 'repo');
      for (const [vm, size] of [['b4', '4G'], ['b16', '16G']] as const) {
        ctx.progress(`backup: ${vm}: ${size} disk, filling 2 GiB of random data`);
        await d.api.vms.create({ name: vm, image: 'tiny', memory: '256M', diskSize: size });
        await fill((await d.vm(vm)).disks[0]!.path, DATA, ctx.tmp);
        await d.api.vms.start(vm);
        await waitForMarker(d.serialLog(await d.vm(vm)), 0, { timeoutMs: 120_000 });
      }
      await d.api.backups.createRepo({ name: 'bench', path: repoDir });
      ctx.progress('backup: the repository disk\'s write speed and the compressor\'s speed');
      mkdirSync(join(ctx.tmp, 'speed'), { recursive: true });
      const writeMs = diskWriteSpeed(join(ctx.tmp, 'speed'), DATA);
      const compressMs = await compressorSpeed(DATA / 2, 4);
      const writeRate = DATA / writeMs;
      const compressRate = DATA / 2 / compressMs;
      ctx.progress('backup: full backup of b4');
      const full = await backupOf(d, 'b4', 'bench');
      const fullRate = full.b.readBytes / full.ms;
      ctx.progress('backup: qemu-img convert of the same disk');
      const disk = (await d.vm('b4')).disks[0]!.path;
      const t0 = performance.now();
      await run('qemu-img', ['convert', '-U', '-f', 'qcow2', '-O', 'qcow2', disk, join(ctx.tmp, 'copy.qcow2')]);
      const convertMs = performance.now() - t0;
      rmSync(join(ctx.tmp, 'copy.qcow2'), { force: true });
      const ceiling = Math.min(writeRate, compressRate);
      rows.push(
        ['repository disk: write 2 GiB random + fsync', fmtMs(writeMs), mbs(DATA, writeMs)],
        ['compressor: deflate level 1 (zlib), 4 chunks in flight, 1 GiB random', fmtMs(compressMs), mbs(DATA / 2, compressMs)],
        [`hangar backup create (full, ${(full.b.readBytes / GiB).toFixed(2)} GiB read, ${(full.b.storedBytes / GiB).toFixed(2)} GiB stored)`, fmtMs(full.ms), mbs(full.b.readBytes, full.ms)],
        ['qemu-img convert -U of the same disk (qcow2 → qcow2)', fmtMs(convertMs), mbs(DATA, convertMs)],
      );
      goals.push({
        name: 'Full backup at ≥ 80 % of min(repository write speed, compressor speed) (issue 16)',
        met: fullRate >= 0.8 * ceiling,
        detail: `${mbs(full.b.readBytes, full.ms)} = ${((fullRate / ceiling) * 100).toFixed(0)} % of ${mbs(1, 1 / ceiling)}`,
      });
      await backupOf(d, 'b16', 'bench');
      for (const [vm, size] of [['b4', '4 GiB'], ['b16', '16 GiB']] as const) {
        for (const mib of [64, 512]) {
          ctx.progress(`backup: ${vm}: the guest writes ${mib} MiB`);
          // Spread over the disk's first 2 GiB: 8 MiB at each of mib/8 offsets.
          const seeks = Array.from({ length: mib / 8 }, (_, i) => Math.floor((i * 2048) / (mib / 8)) + 1);
          await hangarConsole(ctx.root, d.socket, vm, `for s in ${seeks.join(' ')}; do dd if=/dev/urandom of=/dev/vda bs=1M count=8 seek=$s conv=notrunc 2>/dev/null; done; sync; echo HG-W-$((40+2))\n`, 'HG-W-42', 600_000);
          const inc = await backupOf(d, vm, 'bench');
          incRows.push([size, `${mib} MiB`, inc.b.kind, `${(inc.b.readBytes / MiB).toFixed(0)} MiB`, fmtMs(inc.ms)]);
          if (mib === 64 && vm === 'b4') goals.push(underGoal('Incremental backup after 64 MiB of changes under 2 s (issue 16)', inc.ms, 2000, fmtMs, 'request → backup stored'));
        }
      }
      ctx.progress('backup: live restore of b4\'s last backup');
      const last = (await d.api.backups.list({ vm: 'b4' })).at(-1)!;
      const lt0 = performance.now();
      await d.api.backups.restore(last.id, { as: 'lr', live: true });
      while (!(await d.api.vms.list()).some((v) => v.name === 'lr' && v.state === 'running')) await new Promise((r) => setTimeout(r, 20));
      const liveMs = performance.now() - lt0;
      goals.push(underGoal('Live restore: the guest runs within 2 s of the request (issue 16)', liveMs, 2000, fmtMs, 'request → VM running'));
      await d.api.vms.delete('lr', { force: true });
      const markdown = [
        table(['full backup of a running guest (4 GiB disk, 2 GiB random data)', 'time', 'throughput'], rows, ['l', 'r', 'r']),
        '',
        table(['disk', 'changed', 'kind', 'read', 'request → stored'], incRows, ['l', 'r', 'l', 'r', 'r']),
        '',
        `Live restore of a backup of the 4 GiB disk (\`backup restore --live\`): the VM ran ${fmtMs(liveMs)} after the request; its disks then fill in the background.`,
        '',
        'Chunks are 4 MiB (SHA-256 named, deflate level 1, kept raw when that saves < 3 %); random data does not compress, so every full-backup byte goes through the compressor and is written.',
      ].join('\n');
      return { title: 'Backups (full and incremental)', markdown, goals };
    } finally {
      await d.deleteAllVms().catch(() => undefined);
      await d.stop();
    }
  },
};
