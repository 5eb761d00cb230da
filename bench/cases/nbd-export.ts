/**
 * The fencing NBD export (issue 17, storage fencing): what reaching a qcow2 disk through
 * `hangar storage-export` costs against opening the file, and how fast a lost lease cuts a
 * writer off. One etcd member; the exporter runs in this process (src/storage/nbd-exporter.ts)
 * over loopback, polling the owner keys every 250 ms (its default).
 *
 * Throughput: `qemu-img bench` on a 1 GiB qcow2 through the export (qcow2 over NBD, as a
 * node's QEMU opens it) and on its twin as a file (as on a shared directory), in one run,
 * interleaved: sequential 64 KiB writes, then 4 KiB random-offset reads, queue depth 16,
 * host page cache on in both (the export's qemu-storage-daemon uses it too).
 *
 * Cut: a disk claimed under a lease and served; the lease revoked (what etcd does when a node
 * is lost): time until the export no longer serves the name (a probe every 10 ms), and until
 * a writer connected through it sees its writes fail.
 */
import { execFile, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EtcdClient } from '../../src/etcd/client.js';
import { diskOwnerKey } from '../../src/etcd/disk-owners.js';
import { freePort, startEtcd } from '../../src/etcd/test-etcd.js';
import { NbdExporter } from '../../src/storage/nbd-exporter.js';
import { createImage } from '../../src/storage/qemu-img.js';
import { sleep } from '../lib/proc.js';
import { fmtMs, fmtSpread, summarize } from '../lib/stats.js';
import { table, underGoal, type BenchCase, type BenchContext, type CaseResult } from '../lib/report.js';

const run = promisify(execFile);
const PREFIX = '/bench-nbd/';
const GiB = 1024 ** 3;

/** `qemu-img bench` and the MiB/s it reports from its run time. */
async function bench(target: string, args: string[], bytes: number): Promise<number> {
  const t0 = performance.now();
  await run('qemu-img', ['bench', ...args, target], { maxBuffer: 1 << 20 });
  return bytes / (1024 * 1024) / ((performance.now() - t0) / 1000);
}

export const nbdExportCase: BenchCase = {
  id: 'nbd-export',
  async run(ctx: BenchContext): Promise<CaseResult> {
    const etcd = await startEtcd();
    const client = new EtcdClient({ endpoints: etcd.endpoints, timeoutMs: 2000 });
    const dir = join(ctx.tmp, 'nbd-export');
    const port = await freePort();
    const exporter = new NbdExporter({ etcd: client, prefix: PREFIX, pool: 'p', dir, listen: { host: '127.0.0.1', port }, runDir: join(dir, 'run'), log: () => undefined });
    const key = diskOwnerKey(PREFIX, 'p', 'd');
    const nbd = (name: string) => `json:${JSON.stringify({ driver: 'qcow2', file: { driver: 'nbd', server: { type: 'inet', host: '127.0.0.1', port: String(port) }, export: name } })}`;
    const served = (name: string) => run('qemu-img', ['info', nbd(name)]).then(() => true, () => false);
    const claim = async (): Promise<{ name: string; lease: string }> => {
      const lease = (await client.leaseGrant(60)).id;
      const r = await client.txn({ compare: [{ key, target: 'CREATE', result: 'EQUAL', value: 0 }], success: [{ put: { key, value: JSON.stringify({ node: 'n1', vm: 'v', file: 'd.qcow2', format: 'qcow2' }), lease } }] });
      const name = `d@${r.revision}`;
      while (!(await served(name))) await sleep(20);
      return { name, lease };
    };
    try {
      await run('mkdir', ['-p', dir]);
      await createImage(join(dir, 'd.qcow2'), 'qcow2', GiB);
      // The file side: a twin of the exported disk (the export's storage daemon holds that one's lock).
      await createImage(join(dir, 'twin.qcow2'), 'qcow2', GiB);
      await exporter.start();
      const file = join(dir, 'twin.qcow2');
      const rounds = Math.max(3, Math.min(ctx.n, 5));
      const seqW = { file: [] as number[], nbd: [] as number[] };
      const randR = { file: [] as number[], nbd: [] as number[] };
      const cutGone: number[] = [];
      const cutWriter: number[] = [];
      for (let i = 0; i < rounds; i++) {
        ctx.progress(`nbd-export: round ${i + 1}/${rounds}`);
        const { name, lease } = await claim();
        const seq = ['-w', '-s', '65536', '-c', '8192', '-d', '16'];
        const rand = ['-s', '4096', '-c', '50000', '-d', '16', '-S', '7340033'];
        // Alternate which goes first.
        for (const which of i % 2 ? (['nbd', 'file'] as const) : (['file', 'nbd'] as const)) {
          const t = which === 'file' ? file : nbd(name);
          const fileArgs = which === 'file' ? ['-f', 'qcow2'] : [];
          seqW[which].push(await bench(t, [...fileArgs, ...seq], 8192 * 65536));
          randR[which].push(await bench(t, [...fileArgs, ...rand], 50000 * 4096));
        }
        // The cut: a writer through the export, then the lease revoked.
        const io = spawn('stdbuf', ['-oL', '-eL', 'qemu-io', '-c', 'sleep 300', ...Array.from({ length: 400 }, (_, k) => ['-c', `write -P 0x5a ${(k % 64) * 65536} 65536`, '-c', 'sleep 10']).flat(), nbd(name)], { stdio: ['ignore', 'pipe', 'pipe'] });
        let failedAt = 0;
        // qemu-io says a failed write with printf (stdout, line-buffered by stdbuf), errors of the block layer on stderr.
        const onOutput = (b: Buffer): void => {
          if (!failedAt && /failed|error/i.test(b.toString())) failedAt = performance.now();
        };
        io.stdout.on('data', onOutput);
        io.stderr.on('data', onOutput);
        const ended = new Promise<void>((r) => io.once('exit', () => r()));
        await sleep(800);
        const t0 = performance.now();
        await client.leaseRevoke(lease);
        while (await served(name)) await sleep(10);
        cutGone.push(performance.now() - t0);
        while (!failedAt && io.exitCode === null) await sleep(5);
        if (failedAt) cutWriter.push(failedAt - t0);
        io.kill('SIGKILL');
        await ended;
      }
      const s = (xs: number[]) => summarize(xs);
      const mibs = (x: number) => `${x.toFixed(0)} MiB/s`;
      const rows = [
        ['sequential 64 KiB writes', mibs(s(seqW.file).median), mibs(s(seqW.nbd).median), `${(s(seqW.nbd).median / s(seqW.file).median).toFixed(2)}×`],
        ['random 4 KiB reads', mibs(s(randR.file).median), mibs(s(randR.nbd).median), `${(s(randR.nbd).median / s(randR.file).median).toFixed(2)}×`],
      ];
      const gone = s(cutGone);
      const writer = s(cutWriter);
      const markdown = [
        `${rounds} rounds; qemu-img bench, queue depth 16, page cache on; the exporter polls every 250 ms.`,
        '',
        table(['qcow2 on a 1 GiB disk', 'the file (shared directory)', 'through the fencing export (NBD)', 'export / file'], rows, ['l', 'r', 'r', 'r']),
        '',
        table(['lease revoked →', 'median', 'spread'], [
          ['export no longer serves the name', fmtMs(gone.median), fmtSpread(gone, fmtMs)],
          [`a connected writer's write fails (${writer.n} of ${rounds} rounds saw it)`, fmtMs(writer.median), fmtSpread(writer, fmtMs)],
        ], ['l', 'r', 'r']),
        '',
        'The cut comes before another node may start the guest: that waits for lease expiry plus the HA grace (2 s by default), and its new owner key gives a new export name.',
      ].join('\n');
      return {
        title: 'Fencing NBD export: I/O through it, and the cut of a lost lease',
        markdown,
        goals: [underGoal('a lost lease cuts the disk off before the HA grace (2 s) ends', gone.median, 2000, fmtMs, 'median')],
      };
    } finally {
      await exporter.stop().catch(() => undefined);
      await etcd.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
