/**
 * Evacuation of a node (issue 17): one etcd member and two daemons on loopback (n1, n2, each
 * with --listen), N idle tiny guests on n1 (BENCH_EVAC_N, default 10), booted; then
 * `node evacuate n1` (all live, one after the other, to n2) and `node restore n1` (all back).
 * Reported: each operation's total time, and per guest the time its move took and its
 * downtime (QEMU's pause, then until the destination resumed it, as the move measured it).
 */
import { freePort, startEtcd, type TestEtcd } from '../../src/etcd/test-etcd.js';
import { BenchDaemon } from '../lib/daemon.js';
import { sleep } from '../lib/proc.js';
import { fmtMs, fmtSpread, summarize } from '../lib/stats.js';
import { table, type BenchCase, type BenchContext, type CaseResult } from '../lib/report.js';
import { GUEST } from './start-stop.js';

const N = Math.max(1, Number(process.env.BENCH_EVAC_N ?? 10));

interface Line { vm: string; outcome: string; downtimeMs?: number; totalMs: number; error?: string }
interface Result { results: Line[]; moved: number; failed: number; totalMs: number }

async function runOp(ctx: BenchContext, d: BenchDaemon, path: string, label: string): Promise<{ wallMs: number; r: Result }> {
  const t0 = performance.now();
  let op = await d.api.call<{ id: string; state: string; progress: { phase?: string }; result?: unknown; error?: { message: string } }>('POST', path, {});
  while (op.state === 'running') {
    op = await d.api.operations.get(op.id, { wait: 5 });
    ctx.progress(`cluster-evacuate: ${label} ${op.progress.phase ?? ''}`);
  }
  const wallMs = performance.now() - t0;
  if (op.state !== 'succeeded') throw new Error(`${label} ended ${op.state}: ${op.error?.message ?? ''}`);
  const r = op.result as Result;
  if (r.failed) throw new Error(`${label}: ${r.failed} VM(s) failed: ${JSON.stringify(r.results.filter((x) => x.outcome === 'failed'))}`);
  return { wallMs, r };
}

export const clusterEvacuateCase: BenchCase = {
  id: 'cluster-evacuate',
  async run(ctx: BenchContext): Promise<CaseResult> {
    let etcd: TestEtcd | undefined;
    const daemons: BenchDaemon[] = [];
    try {
      etcd = await startEtcd();
      for (let i = 0; i < 2; i++) daemons.push(await BenchDaemon.start({ root: ctx.root, parent: ctx.tmp, args: ['--listen', `127.0.0.1:${await freePort()}`, '--cpu-overcommit', String(Math.max(4, N))] }));
      const [n1, n2] = daemons as [BenchDaemon, BenchDaemon];
      ctx.progress('cluster-evacuate: cluster init on n1, add/join n2');
      await n1.api.cluster.init({ etcd: etcd.endpoints.join(','), name: 'n1' });
      const { token } = await n1.api.cluster.addNode({ node: 'n2' });
      await n2.api.cluster.join({ token });
      for (let t = Date.now(); ; await sleep(100)) {
        const nodes = await n1.api.cluster.nodes();
        if (nodes.filter((x) => x.state === 'online' && x.address).length === 2) break;
        if (Date.now() - t > 20_000) throw new Error(`the nodes did not both come online: ${JSON.stringify(nodes)}`);
      }
      ctx.progress(`cluster-evacuate: ${N} guests on n1, booting`);
      for (let i = 0; i < N; i++) await n1.api.call('POST', '/v1/vms', { name: `ev${i}`, target: 'n1', start: true, ...GUEST });
      // Idle guests: booted (the tiny image takes seconds under TCG), then left alone.
      await sleep(Math.max(15_000, N * 4_000));
      const evac = await runOp(ctx, n1, '/v1/nodes/n1/evacuate', 'evacuate');
      const back = await runOp(ctx, n1, '/v1/nodes/n1/restore', 'restore');
      const rows = (label: string, x: { wallMs: number; r: Result }) => {
        const per = summarize(x.r.results.map((l) => l.totalMs));
        const down = summarize(x.r.results.map((l) => l.downtimeMs ?? 0));
        return [
          [`${label}: the whole operation (${x.r.moved} guests)`, '1', fmtMs(x.wallMs), '–'],
          [`${label}: one guest's move`, String(per.n), fmtMs(per.median), fmtSpread(per)],
          [`${label}: one guest's downtime`, String(down.n), fmtMs(down.median), `${fmtSpread(down)}, max ${fmtMs(Math.max(...x.r.results.map((l) => l.downtimeMs ?? 0)))}`],
        ];
      };
      const markdown = [
        table(['what', 'n', 'median', 'spread'], [...rows('node evacuate n1', evac), ...rows('node restore n1', back)], ['l', 'r', 'r', 'r']),
        `One etcd member and two daemons (\`--accel tcg\`, \`--listen 127.0.0.1:PORT\`) on this host; ${N} idle guests (image \`${GUEST.image}\`, ${GUEST.cpus} vCPU, ${GUEST.memory}), ` +
          'moved live one after the other over loopback (no storage copied: both nodes see the same disks). Downtime is the move\'s own figure: QEMU\'s pause on the source, ' +
          'then from QEMU\'s `completed` until the destination had taken the VM over (one etcd write) and resumed it.',
      ].join('\n\n');
      return { title: `Cluster: evacuation of ${N} idle guests`, markdown, goals: [] };
    } finally {
      for (const d of daemons.reverse()) await d.stop().catch((e: unknown) => ctx.progress(`cluster-evacuate: stopping a daemon: ${String(e)}`));
      await etcd?.stop();
    }
  },
};
