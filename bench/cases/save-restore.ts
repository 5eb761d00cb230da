/**
 * Save and restore of a tiny guest (128 MiB and 512 MiB): Hangar's `vm save` / `vm start`
 * against the same QEMU argv driven by hand over QMP with QEMU 7.2's default migration
 * parameters (max-bandwidth 128 MiB/s), both through a unix socket into a file. The guest
 * is paused for the save in both, so each page is sent once. Times are wall clock from the
 * request to the end (save: file complete and fsynced, QEMU gone for Hangar; restore:
 * guest running again).
 */
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, mkdirSync, rmSync, statSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { OperationRecord } from '../../src/operations/service.js';
import type { VmView } from '../../src/vm/service.js';
import { BenchDaemon } from '../lib/daemon.js';
import { readCmdline, sleep } from '../lib/proc.js';
import { loadQmp } from '../lib/raw-guest.js';
import { rawPaths } from '../lib/raw-qemu.js';
import { fmtMs, summarize } from '../lib/stats.js';
import { table, type BenchCase, type BenchContext, type CaseResult } from '../lib/report.js';

const SIZES = ['128M', '512M'] as const;

interface Sample {
  saveMs: number;
  restoreMs: number;
  bytes: number;
}

async function waitOp(d: BenchDaemon, id: string): Promise<OperationRecord> {
  for (;;) {
    const op = await d.api.call<OperationRecord>('GET', `/v1/operations/${id}?wait=1`);
    if (op.state !== 'running') return op;
    await sleep(20);
  }
}

async function waitReady(d: BenchDaemon, name: string): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    const r = await d.api.call<{ data: string }>('GET', `/v1/vms/${name}/logs?tail=4096`);
    if (r.data.includes('HANGAR-GUEST-READY')) return;
    await sleep(100);
  }
  throw new Error(`${name} did not boot`);
}

async function hangarCycle(d: BenchDaemon, name: string): Promise<Sample> {
  let t = performance.now();
  const op = await d.api.call<OperationRecord>('POST', `/v1/vms/${name}/save`, {});
  const done = await waitOp(d, op.id);
  if (done.state !== 'succeeded') throw new Error(`save of ${name}: ${done.error?.message}`);
  const saveMs = performance.now() - t;
  const bytes = (done.result as { bytes: number }).bytes;
  t = performance.now();
  await d.api.call<VmView>('POST', `/v1/vms/${name}/start`, {});
  return { saveMs, restoreMs: performance.now() - t, bytes };
}

type Qmp = Awaited<ReturnType<Awaited<ReturnType<typeof loadQmp>>['QmpClient']['connect']>>;

async function untilMigrated(qmp: Qmp): Promise<void> {
  for (;;) {
    const s = await qmp.execute<{ status?: string; 'error-desc'?: string }>('query-migrate');
    if (s.status === 'completed') return;
    if (s.status === 'failed' || s.status === 'cancelled') throw new Error(`by-hand migration ${s.status}: ${s['error-desc']}`);
    await sleep(20);
  }
}

/** The same argv by hand, QEMU's default migration parameters: save to a file, quit, restore. */
async function byHandCycle(root: string, binary: string, args: string[], dir: string): Promise<Sample> {
  const { QmpClient } = await loadQmp(root);
  const p = rawPaths(dir);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(p.runDir, { recursive: true });
  mkdirSync(p.logDir, { recursive: true });
  const launch = async (extra: string[]) => {
    const child = spawn(binary, [...args, ...extra], { detached: true, stdio: 'ignore' });
    child.unref();
    const qmp = await QmpClient.connect(p.qmpSocket, { retryUntilMs: 15_000, retryIntervalMs: 2, commandTimeoutMs: 120_000 });
    return { child, qmp };
  };
  const file = join(dir, 'state.bin');
  let g = await launch([]);
  await g.qmp.execute('cont');
  for (let i = 0; i < 1200 && !(statSafe(p.serialLog) > 0 && (await readTail(p.serialLog)).includes('HANGAR-GUEST-READY')); i++) await sleep(100);
  let t = performance.now();
  const sock = join(p.runDir, 'save.sock');
  const received = new Promise<void>((resolve, reject) => {
    const srv = createServer((c) => {
      srv.close();
      pipeline(c, createWriteStream(file)).then(resolve, reject);
    }).listen(sock);
  });
  await g.qmp.execute('stop');
  await g.qmp.execute('migrate', { uri: `unix:${sock}` });
  await untilMigrated(g.qmp);
  await received;
  const saveMs = performance.now() - t;
  await g.qmp.execute('quit').catch(() => undefined);
  await new Promise((r) => (g.child.exitCode !== null ? r(undefined) : g.child.once('exit', r)));
  t = performance.now();
  g = await launch(['-incoming', 'defer']);
  const insock = join(p.runDir, 'in.sock');
  await g.qmp.execute('migrate-incoming', { uri: `unix:${insock}` });
  const c = createConnection(insock);
  await pipeline(createReadStream(file), c);
  await untilMigrated(g.qmp);
  await g.qmp.execute('cont');
  const restoreMs = performance.now() - t;
  const bytes = statSync(file).size;
  await g.qmp.execute('quit').catch(() => undefined);
  await g.qmp.close();
  return { saveMs, restoreMs, bytes };
}

function statSafe(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

async function readTail(path: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  return (await readFile(path, 'latin1')).slice(-4096);
}

export const saveRestoreCase: BenchCase = {
  id: 'save-restore',
  async run(ctx: BenchContext): Promise<CaseResult> {
    const d = await BenchDaemon.start({ root: ctx.root, parent: ctx.tmp });
    const rows: string[][] = [];
    try {
      for (const size of SIZES) {
        const name = `sr${size.toLowerCase()}`;
        const vm = await d.api.call<VmView>('POST', '/v1/vms', { name, image: 'tiny', cpus: 1, memory: size, start: true });
        await waitReady(d, name);
        const cmd = readCmdline(vm.pid!);
        if (!cmd) throw new Error(`cannot read the argv of ${name}`);
        const [binary, ...rawArgs] = cmd as [string, ...string[]];
        const dir = join(ctx.tmp, `hand-${name}`);
        const p = rawPaths(dir);
        const args = rawArgs.map((a) => a.replaceAll(join(d.dir, 'run', 'vms', vm.id), p.runDir).replaceAll(join(d.dir, 'logs', vm.id), p.logDir));
        const hangar: Sample[] = [];
        const hand: Sample[] = [];
        for (let i = 0; i <= ctx.n; i++) {
          ctx.progress(`save-restore: ${size} iteration ${i}/${ctx.n}`);
          const h = await hangarCycle(d, name);
          const r = await byHandCycle(ctx.root, binary, args, dir);
          if (i > 0) {
            hangar.push(h);
            hand.push(r);
          }
        }
        for (const [system, s] of [['Hangar (explicit parameters)', hangar], ['by hand, QEMU 7.2 defaults', hand]] as const) {
          const save = summarize(s.map((x) => x.saveMs));
          const restore = summarize(s.map((x) => x.restoreMs));
          const mb = s[0]!.bytes / 1e6;
          rows.push([size, system, mb.toFixed(1), fmtMs(save.median), (mb / (save.median / 1000)).toFixed(0), fmtMs(restore.median), (mb / (restore.median / 1000)).toFixed(0)]);
        }
        await d.api.call('DELETE', `/v1/vms/${name}?force=true`);
      }
    } finally {
      await d.stop();
    }
    return {
      title: 'Save and restore (tiny guest, tcg)',
      markdown: [
        table(['guest RAM', 'system', 'stream MB', 'save (median)', 'save MB/s', 'restore (median)', 'restore MB/s'], rows, ['l', 'l', 'r', 'r', 'r', 'r', 'r']),
        '',
        'Save: request to complete file (Hangar: also fsync and QEMU gone). Restore: QEMU start with `-incoming defer` to guest running. The stream is smaller than the RAM: QEMU sends zero pages as a flag.',
      ].join('\n'),
      goals: [],
    };
  },
};
