/**
 * One API in a cluster (issue 17): what a request about a VM costs when it is sent to a
 * node that does not hold the VM, which carries it to the owner over the owner's TLS
 * listener. One etcd member (src/etcd/test-etcd.ts) and two daemons on loopback (n1, n2,
 * each with --listen), `cluster init` on n1, `cluster add`/`join` for n2, a tiny VM made
 * on n2. Side by side, interleaved (the order rotates every round):
 *
 * - `GET /v1/vms/NAME` (vm show) through n2's own unix socket (the owner's own), through
 *   n1's unix socket (carried to n2), and through n2's TLS listener directly, once with a
 *   new verified connection per request (what the CLI's --remote does) and once over one
 *   kept-alive pinned connection: the TLS handshake's share is visible;
 * - `POST /v1/vms/NAME/start` and `…/stop {force}` through n2 vs through n1 (the guest is
 *   stopped as soon as start returns: no boot wait).
 *
 * Goal: added latency (median through n1 − median through n2's own socket) under 5 ms.
 */
import { request } from 'node:http';
import type { VmView } from '../../src/vm/service.js';
import { ApiClient } from '../../src/client/client.js';
import { PinnedAgent } from '../../src/client/tls.js';
import { EtcdClient } from '../../src/etcd/client.js';
import { freePort, startEtcd, type TestEtcd } from '../../src/etcd/test-etcd.js';
import { BenchDaemon } from '../lib/daemon.js';
import { sleep } from '../lib/proc.js';
import { fmtMs, fmtSpread, summarize, type Summary } from '../lib/stats.js';
import { table, underGoal, type BenchCase, type BenchContext, type CaseResult, type Goal } from '../lib/report.js';
import { GUEST } from './start-stop.js';

const VM = 'cbvm';
const SHOW_N = Math.max(30, Number(process.env.BENCH_CLUSTER_SHOW_N ?? 60));
/** Start/stop rounds: at least BENCH_N, at least 20 (a TCG start varies by ±100 ms on its own). */
const START_N = (n: number) => Math.max(n, Number(process.env.BENCH_CLUSTER_START_N ?? 20));
const GOAL_MS = 5;

type ShowPath = 'own' | 'forwarded' | 'tlsNew' | 'tlsKept';
const SHOW_LABEL: Record<ShowPath, string> = {
  own: "n2's own unix socket (owner)",
  forwarded: "n1's unix socket → carried to n2",
  tlsNew: "n2's TLS listener, new verified connection per request",
  tlsKept: "n2's TLS listener, one kept-alive pinned connection",
};

/** The header n1 adds when it carried a request (checked once: the comparison is real). */
function forwardedHeader(socket: string, path: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, method: 'GET' }, (r) => {
      r.resume();
      r.on('end', () => resolve(r.headers['x-hangar-node'] as string | undefined));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * How long the owner (n2) spent on the last `action` itself, from the audit log (shared, in
 * etcd): its entry over its unix socket when asked directly, over TLS when n1 carried it.
 * For a carried request this waits until n1's own entry is there too (n1 may record it just
 * after its answer), so the next request's lookup is not confused by it.
 */
async function ownerHandling(n1: BenchDaemon, action: 'start' | 'stop', carried: boolean): Promise<number> {
  const route = `/v1/vms/:name/${action}`;
  const end = (e: { time: string; durationMs: number }) => Date.parse(e.time) + e.durationMs;
  for (let tries = 0; ; tries++) {
    const entries = (await n1.api.audit.list({ vm: VM, limit: 1000 })).filter((e) => e.route === route);
    const newest = (transport: string) => entries.filter((e) => e.transport === transport).sort((a, b) => end(a) - end(b)).pop();
    const unix = newest('unix');
    const tcp = newest('tcp');
    if (!carried && unix) return unix.durationMs;
    if (carried && unix && tcp && end(unix) >= end(tcp) - 1) return tcp.durationMs;
    if (tries >= 40) throw new Error(`no matching audit entries for the ${carried ? 'carried ' : ''}${action}: ${JSON.stringify([unix, tcp])}`);
    await sleep(50);
  }
}

async function timed<T>(f: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await f();
  return { ms: performance.now() - t0, value };
}

function rotate<T>(xs: readonly T[], i: number): T[] {
  return [...xs.slice(i % xs.length), ...xs.slice(0, i % xs.length)];
}

function row(label: string, s: Summary, base?: Summary): string[] {
  return [label, String(s.n), fmtMs(s.median), fmtSpread(s), base ? `${s.median - base.median >= 0 ? '+' : ''}${fmtMs(s.median - base.median)}` : '–'];
}

async function measure(ctx: BenchContext, n1: BenchDaemon, n2: BenchDaemon, etcdEndpoints: string[]): Promise<CaseResult> {
  const host = await n2.api.call<{ tls?: { fingerprint: string; listen: string[] } }>('GET', '/v1/host');
  if (!host.tls) throw new Error('n2 has no TLS listener');
  const { token } = await n2.api.call<{ token: string }>('POST', '/v1/tokens', { name: 'bench-direct', role: 'admin' });
  const remote = { url: `https://${host.tls.listen[0]}`, token, trust: { kind: 'fingerprint' as const, fingerprint: host.tls.fingerprint } };
  const tlsNew = new ApiClient(remote);
  const agent = new PinnedAgent(tlsNew.remote!.endpoint, remote.trust);
  const tlsKept = new ApiClient({ ...remote, agent });
  const path = `/v1/vms/${VM}`;
  try {
    const via = await forwardedHeader(n1.socket, path);
    if (via !== 'n2') throw new Error(`n1 did not carry the request to n2 (x-hangar-node: ${via ?? 'none'})`);

    // vm show, and a mutating request without the guest's work (resume of a stopped VM: VM_STATE from the owner)
    const show: Record<ShowPath, number[]> = { own: [], forwarded: [], tlsNew: [], tlsKept: [] };
    const refused = { own: [] as number[], forwarded: [] as number[] };
    const showOnce: Record<ShowPath, () => Promise<VmView>> = {
      own: () => n2.api.call<VmView>('GET', path),
      forwarded: () => n1.api.call<VmView>('GET', path),
      tlsNew: () => tlsNew.call<VmView>('GET', path),
      tlsKept: () => tlsKept.call<VmView>('GET', path),
    };
    const refuse = async (c: ApiClient) => {
      const e = await c.call('POST', `${path}/resume`, {}).then(() => undefined, (err: unknown) => err as { code?: string });
      if (e?.code !== 'VM_STATE') throw new Error(`resume of a stopped VM: expected VM_STATE, got ${JSON.stringify(e)}`);
    };
    const paths = Object.keys(showOnce) as ShowPath[];
    const probes: ((record: boolean) => Promise<void>)[] = [
      ...paths.map((p) => async (record: boolean) => {
        const r = await timed(showOnce[p]);
        if (r.value.name !== VM || r.value.node !== 'n2') throw new Error(`${p}: unexpected answer ${JSON.stringify(r.value).slice(0, 200)}`);
        if (record) show[p].push(r.ms);
      }),
      async (record: boolean) => {
        const r = await timed(() => refuse(n2.api));
        if (record) refused.own.push(r.ms);
      },
      async (record: boolean) => {
        const r = await timed(() => refuse(n1.api));
        if (record) refused.forwarded.push(r.ms);
      },
    ];
    ctx.progress(`cluster-api: vm show (4 paths) and a refused resume (2 paths), ${SHOW_N} each (+5 warm-up), interleaved`);
    for (let i = -5; i < SHOW_N; i++) {
      for (const probe of rotate(probes, i + 5)) await probe(i >= 0);
    }

    // vm start / vm stop --force
    const startStop = { own: { start: [] as number[], stop: [] as number[] }, forwarded: { start: [] as number[], stop: [] as number[] } };
    /** Per request: end to end − the owner's own handling of it (audit durationMs): what is left is free of the guest's start time. */
    const outside = { own: { start: [] as number[], stop: [] as number[] }, forwarded: { start: [] as number[], stop: [] as number[] } };
    const client = { own: n2.api, forwarded: n1.api };
    ctx.progress(`cluster-api: vm start / stop --force, ${START_N(ctx.n)} per path (+1 warm-up), interleaved`);
    for (let i = -1; i < START_N(ctx.n); i++) {
      for (const p of rotate(['own', 'forwarded'] as const, i + 1)) {
        const s = await timed(() => client[p].call<VmView>('POST', `${path}/start`, {}));
        if (s.value.state !== 'running') throw new Error(`${p}: start replied ${s.value.state}`);
        const sOwner = await ownerHandling(n1, 'start', p === 'forwarded');
        const t = await timed(() => client[p].call<VmView>('POST', `${path}/stop`, { force: true }));
        if (t.value.state !== 'stopped') throw new Error(`${p}: stop replied ${t.value.state}`);
        const tOwner = await ownerHandling(n1, 'stop', p === 'forwarded');
        if (i >= 0) {
          startStop[p].start.push(s.ms);
          startStop[p].stop.push(t.ms);
          outside[p].start.push(s.ms - sOwner);
          outside[p].stop.push(t.ms - tOwner);
        }
      }
    }

    // One etcd write, as each node's audit entry of a mutating request is (the carried one has two, one per node).
    const puts: number[] = [];
    const etcdClient = new EtcdClient({ endpoints: etcdEndpoints });
    try {
      for (let i = -3; i < 30; i++) {
        const r = await timed(() => etcdClient.put('bench-probe', String(i)));
        if (i >= 0) puts.push(r.ms);
      }
      await etcdClient.delete('bench-probe');
    } finally {
      etcdClient.close();
    }
    const put = summarize(puts);

    const S = Object.fromEntries(paths.map((p) => [p, summarize(show[p])])) as Record<ShowPath, Summary>;
    const R = { own: summarize(refused.own), forwarded: summarize(refused.forwarded) };
    const st = {
      ownStart: summarize(startStop.own.start), fwdStart: summarize(startStop.forwarded.start),
      ownStop: summarize(startStop.own.stop), fwdStop: summarize(startStop.forwarded.stop),
      outOwnStart: summarize(outside.own.start), outFwdStart: summarize(outside.forwarded.start),
      outOwnStop: summarize(outside.own.stop), outFwdStop: summarize(outside.forwarded.stop),
    };
    const headers = ['request', 'n', 'median', 'spread', 'added (median − owner\'s own)'];
    const align = ['l', 'r', 'r', 'r', 'r'] as const;
    const markdown = [
      table(headers, [
        row(`GET ${path} — ${SHOW_LABEL.own}`, S.own),
        row(`GET ${path} — ${SHOW_LABEL.forwarded}`, S.forwarded, S.own),
        row(`GET ${path} — ${SHOW_LABEL.tlsNew}`, S.tlsNew, S.own),
        row(`GET ${path} — ${SHOW_LABEL.tlsKept}`, S.tlsKept, S.own),
        row(`POST ${path}/resume, stopped VM (VM_STATE) — ${SHOW_LABEL.own}`, R.own),
        row(`POST ${path}/resume, stopped VM (VM_STATE) — ${SHOW_LABEL.forwarded}`, R.forwarded, R.own),
      ], align),
      table(headers, [
        row(`POST ${path}/start — ${SHOW_LABEL.own}`, st.ownStart),
        row(`POST ${path}/start — ${SHOW_LABEL.forwarded}`, st.fwdStart, st.ownStart),
        row(`POST ${path}/stop {force} — ${SHOW_LABEL.own}`, st.ownStop),
        row(`POST ${path}/stop {force} — ${SHOW_LABEL.forwarded}`, st.fwdStop, st.ownStop),
      ], align),
      table(['end to end − the owner\'s own handling of the request (its audit duration)', 'n', 'median', 'spread', 'added (median − owner\'s own)'], [
        row(`POST …/start — ${SHOW_LABEL.own}`, st.outOwnStart),
        row(`POST …/start — ${SHOW_LABEL.forwarded}`, st.outFwdStart, st.outOwnStart),
        row(`POST …/stop {force} — ${SHOW_LABEL.own}`, st.outOwnStop),
        row(`POST …/stop {force} — ${SHOW_LABEL.forwarded}`, st.outFwdStop, st.outOwnStop),
        ['(for scale) one etcd put from the bench process, as an audit entry is', String(put.n), fmtMs(put.median), fmtSpread(put), '–'],
      ], align),
      'One etcd member and two daemons (`--accel tcg`, `--listen 127.0.0.1:PORT`) on this host: the carried request crosses loopback TLS, ' +
        `so the figures are the forwarding's own cost (no network). The client is Hangar's ApiClient in the bench process; a unix-socket request opens a new connection each time. ` +
        `Guest: image \`${GUEST.image}\`, ${GUEST.cpus} vCPU, ${GUEST.memory}; stopped (forced) as soon as start returns.`,
      'A start under TCG varies by tens of milliseconds from one to the next, so the difference of the two start medians is mostly that noise. ' +
        'The third table takes from each request the time the owner (n2) spent handling it (its audit entry: over its unix socket when asked directly, over TLS when n1 carried it); ' +
        'what is left is the connection, the audit write that precedes every answer to a mutating request, and, through n1, the carrying: the difference of those medians is what going through n1 adds, without the guest\'s noise. ' +
        'The start goal uses it; the show goal uses the end-to-end medians. The refused resume is a mutating request with nothing to do: its end-to-end difference shows the same without a guest.',
    ].join('\n\n');
    const goals: Goal[] = [
      underGoal('API through a non-owner node: added latency for `vm show` under 5 ms (issue 17, medians)', S.forwarded.median - S.own.median, GOAL_MS, fmtMs, 'added'),
      underGoal('API through a non-owner node: added latency for `vm start` under 5 ms (issue 17, medians of end to end − the owner\'s handling)', st.outFwdStart.median - st.outOwnStart.median, GOAL_MS, fmtMs, 'added'),
    ];
    return { title: 'Cluster: API through a non-owner node (vm show, vm start/stop)', markdown, goals };
  } finally {
    agent.destroy();
  }
}

export const clusterApiCase: BenchCase = {
  id: 'cluster-api',
  async run(ctx: BenchContext): Promise<CaseResult> {
    let etcd: TestEtcd | undefined;
    const daemons: BenchDaemon[] = [];
    try {
      etcd = await startEtcd();
      for (let i = 0; i < 2; i++) daemons.push(await BenchDaemon.start({ root: ctx.root, parent: ctx.tmp, args: ['--listen', `127.0.0.1:${await freePort()}`] }));
      const [n1, n2] = daemons as [BenchDaemon, BenchDaemon];
      ctx.progress('cluster-api: cluster init on n1, add/join n2');
      await n1.api.cluster.init({ etcd: etcd.endpoints.join(','), name: 'n1' });
      const { token } = await n1.api.cluster.addNode({ node: 'n2' });
      await n2.api.cluster.join({ token });
      for (let t = Date.now(); ; await sleep(100)) {
        const nodes = await n1.api.cluster.nodes();
        if (nodes.filter((x) => x.state === 'online').length === 2) break;
        if (Date.now() - t > 20_000) throw new Error(`the nodes did not both come online: ${JSON.stringify(nodes)}`);
      }
      await n2.api.call('POST', '/v1/vms', { name: VM, ...GUEST });
      return await measure(ctx, n1, n2, etcd.endpoints);
    } finally {
      // n2 holds the VM: its stop deletes it; then both daemons, then etcd.
      for (const d of daemons.reverse()) await d.stop().catch((e: unknown) => ctx.progress(`cluster-api: stopping a daemon: ${String(e)}`));
      await etcd?.stop();
    }
  },
};
