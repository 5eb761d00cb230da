/**
 * Live migration of an idle tiny guest (256 MiB and 1 GiB) between two network namespaces
 * joined by a veth pair (issue 8): Hangar (two daemons, one per namespace, peers both ways,
 * `POST /v1/vms/:name/migrate`) against the same QEMU argv driven by hand over QMP with
 * QEMU 7.2's default migration parameters (no `migrate-set-parameters`, no capabilities:
 * 128 MiB/s cap, 300 ms downtime limit). Both move their guest back and forth, A → B → A …,
 * interleaved iteration by iteration; the first iteration is a warm-up. The link's speed is
 * measured in the same run with one TCP stream between the namespaces.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MigrateResult } from '../../src/migration/live.js';
import type { OperationRecord } from '../../src/operations/service.js';
import type { QmpClient } from '../../src/qmp/index.js';
import type { VmView } from '../../src/vm/service.js';
import { cell, med } from '../lib/compare.js';
import { BenchDaemon } from '../lib/daemon.js';
import { isAlive, readCmdline, sleep, waitGone } from '../lib/proc.js';
import { loadQmp } from '../lib/raw-guest.js';
import { rawPaths } from '../lib/raw-qemu.js';
import { waitForMarker } from '../lib/serial.js';
import { fmtMs } from '../lib/stats.js';
import { table, type BenchCase, type BenchContext, type CaseResult, type Goal } from '../lib/report.js';

type Side = 'a' | 'b';
const other = (s: Side): Side => (s === 'a' ? 'b' : 'a');

/** Own names (tagged with our pid) and addresses, so the integration test's (hgm-*, 10.213.0.0/30) never collide. */
const TAG = String(process.pid % 100000);
const NS: Record<Side, string> = { a: `hgb-a-${TAG}`, b: `hgb-b-${TAG}` };
const VETH: Record<Side, string> = { a: `hgba${TAG}`, b: `hgbb${TAG}` };
const ADDR: Record<Side, string> = { a: '10.214.0.1', b: '10.214.0.2' };
const API_PORT = 8443;
const LINK_PORT = 49100;
const HAND_PORT_BASE = 49200;

const SIZES = [
  { label: '256 MiB', memory: '256M' },
  { label: '1 GiB', memory: '1G' },
] as const;

/** Goals from issue 8. */
const DOWNTIME_GOAL_MS = 50;
const LINK_RATIO_GOAL = 1.2;
const SPEEDUP_GOAL = 2;

const LINK_BYTES = 2 ** 30;
const LINK_ROUNDS = 3;
const IDLE_MS = 2000;
/** Between two migrations: the guest settles (and the moved-from QEMU is gone). */
const PAUSE_MS = 500;
const READY_TIMEOUT_MS = 180_000;

/** One migration, Hangar's or by hand, in the same terms. NaN where not known. */
interface Sample {
  /** Hangar: POST → operation ended; by hand: destination QEMU spawned → it runs the guest and the source QEMU has exited. */
  totalMs: number;
  /** QEMU's total-time on the source (the RAM migration). */
  ramMs: number;
  /** QEMU's downtime on the source. */
  qemuDowntimeMs: number;
  /** Hangar: request → the destination answered `prepare`; by hand: destination QEMU spawned → QMP ready. */
  beforeMs: number;
  /** The source's QEMU said completed → the destination runs the guest (`cont` done). */
  toRunMs: number;
  /** The destination runs the guest → the migration is reported done (Hangar: finish reply, source QEMU quit, records; by hand: source QEMU quit). */
  afterRunMs: number;
  /** What the guest sees: QEMU's downtime + completed → the destination runs it. */
  pauseMs: number;
  /** Hangar's own `downtimeMs` (QEMU's + completed → finish sent + the destination's finish → resume); by hand the same as pauseMs. */
  reportedDowntimeMs: number;
  transferredBytes: number;
  /** Hangar only: QEMU said `completed` before it had computed total-time and downtime (both 0 in the result). */
  raced?: boolean;
  /** Hangar only: the destination's `prepare` (record, QEMU with -incoming defer, parameters, migrate-incoming). */
  destPrepareMs?: number;
  /** Hangar only: completed (source) → the finish request arrived at the destination. */
  sendFinishMs?: number;
  /** Hangar only: the finish request arrived → the destination runs the guest (its incoming stream done, `cont`, state recorded). */
  destFinishMs?: number;
  /** Hangar only: the destination runs the guest → the source had the finish reply. */
  replyAfterRunMs?: number;
}

function ip(args: string[], quiet = false): void {
  try {
    execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    if (!quiet) throw e;
  }
}

function removeNetwork(): void {
  for (const s of ['a', 'b'] as const) ip(['netns', 'del', NS[s]], true);
  ip(['link', 'del', VETH.a], true);
}

function setupNetwork(): void {
  ip(['netns', 'add', NS.a]);
  ip(['netns', 'add', NS.b]);
  ip(['link', 'add', VETH.a, 'netns', NS.a, 'type', 'veth', 'peer', 'name', VETH.b, 'netns', NS.b]);
  for (const s of ['a', 'b'] as const) {
    ip(['-n', NS[s], 'addr', 'add', `${ADDR[s]}/30`, 'dev', VETH[s]]);
    ip(['-n', NS[s], 'link', 'set', VETH[s], 'up']);
    ip(['-n', NS[s], 'link', 'set', 'lo', 'up']);
  }
}

/** Every process this case spawns itself (not the daemons' QEMUs): killed by pid at the end. */
const spawned = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  spawned.add(child);
  child.once('exit', () => spawned.delete(child));
  return child;
}

async function killSpawned(): Promise<void> {
  for (const c of [...spawned]) {
    const pid = c.pid;
    if (pid === undefined || !isAlive(pid)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
    await waitGone(pid, 5000);
  }
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
}

// ---- link speed ---------------------------------------------------------------

const THROUGHPUT = fileURLToPath(new URL('../lib/tcp-throughput.mjs', import.meta.url));

/** One stream of LINK_BYTES from A to B; bytes per second as the receiver saw them. */
async function linkRound(): Promise<number> {
  const recv = track(spawn('ip', ['netns', 'exec', NS.b, process.execPath, THROUGHPUT, 'recv', ADDR.b, String(LINK_PORT)], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  let err = '';
  recv.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  recv.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  for (let i = 0; !out.includes('listening'); i++) {
    if (recv.exitCode !== null || i > 500) throw new Error(`the link-speed receiver did not listen: ${err}`);
    await sleep(10);
  }
  const send = track(spawn('ip', ['netns', 'exec', NS.a, process.execPath, THROUGHPUT, 'send', ADDR.b, String(LINK_PORT), String(LINK_BYTES)], { stdio: ['ignore', 'ignore', 'pipe'] }));
  send.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  await Promise.all([exited(recv), exited(send)]);
  const line = out.split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`the link-speed measurement failed: ${err}`);
  const r = JSON.parse(line) as { bytes: number; ms: number };
  if (r.bytes !== LINK_BYTES) throw new Error(`the link-speed receiver got ${r.bytes} of ${LINK_BYTES} bytes: ${err}`);
  return r.bytes / (r.ms / 1000);
}

// ---- Hangar --------------------------------------------------------------------

async function token(d: BenchDaemon, name: string): Promise<string> {
  return (await d.api.call<{ token: string }>('POST', '/v1/tokens', { name, role: 'admin' })).token;
}

async function waitReady(d: BenchDaemon, name: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const r = await d.api.call<{ data: string }>('GET', `/v1/vms/${name}/logs?tail=4096`);
    if (r.data.includes('HANGAR-GUEST-READY')) return;
    if (Date.now() > deadline) throw new Error(`${name} did not boot`);
    await sleep(100);
  }
}

async function waitOp(d: BenchDaemon, id: string): Promise<OperationRecord> {
  for (;;) {
    const op = await d.api.call<OperationRecord>('GET', `/v1/operations/${id}?wait=60`);
    if (op.state !== 'running') return op;
  }
}

interface AuditEntry {
  seq: number;
  time: string;
  route: string;
  status: number;
  durationMs: number;
}

async function lastAuditSeq(d: BenchDaemon): Promise<number> {
  const last = await d.api.call<AuditEntry[]>('GET', '/v1/audit?limit=1');
  return last[0]?.seq ?? 0;
}

/**
 * One migration through the API, timed from the request to the operation's end, with a
 * timeline from the destination's audit log (when its `prepare` and `finish` calls arrived
 * and how long each took) and its event for the guest running there. All clocks are this
 * host's (Date.now in the daemons, ms).
 */
async function hangarMigrate(daemons: Record<Side, BenchDaemon>, from: Side, name: string): Promise<Sample> {
  const d = daemons[from];
  const dst = daemons[other(from)];
  const [auditSeq, eventSeq] = await Promise.all([lastAuditSeq(dst), dst.lastSeq()]);
  const postAt = Date.now();
  const t = performance.now();
  const op = await d.api.call<OperationRecord>('POST', `/v1/vms/${name}/migrate`, { to: other(from) });
  const done = await waitOp(d, op.id);
  const totalMs = performance.now() - t;
  const endAt = postAt + totalMs;
  if (done.state !== 'succeeded') {
    throw new Error(`Hangar's migration of ${name} ${from} → ${other(from)} ${done.state}: ${done.error?.message}\n--- source daemon ---\n${d.log().slice(-3000)}\n--- destination daemon ---\n${dst.log().slice(-3000)}`);
  }
  const r = done.result as MigrateResult;
  const audit = await dst.api.call<AuditEntry[]>('GET', `/v1/audit?after=${auditSeq}&limit=100`);
  const prepare = audit.find((e) => e.route === '/v1/migrations/incoming' && e.status === 200);
  const finish = audit.find((e) => e.route === '/v1/migrations/incoming/:id/finish' && e.status === 200);
  const running = (await dst.events(name, eventSeq)).find((e) => e.type === 'vm.state' && e.data.state === 'running');
  if (!prepare || !finish || !running) throw new Error(`the destination's audit log or events lack the migration of ${name}`);
  const finishAt = Date.parse(finish.time);
  const finishRepliedAt = finishAt + finish.durationMs;
  const runAt = Date.parse(running.time);
  // QEMU 7.2 sets `completed` (and sends the MIGRATION event) before it computes total-time
  // and downtime: a query-migrate in between reads 0 for both (see the notes).
  const raced = r.memoryMs === 0 && r.qemuDowntimeMs === 0;
  // The source's `completedAt`: it sent `finish` finishSentAfterMs after it (the request's
  // one-way trip over the veth pair, well under a millisecond, is not counted).
  const completedAt = finishAt - r.finishSentAfterMs;
  const qemuDowntimeMs = raced ? Number.NaN : r.qemuDowntimeMs;
  return {
    totalMs, ramMs: raced ? Number.NaN : r.memoryMs, qemuDowntimeMs,
    beforeMs: Date.parse(prepare.time) + prepare.durationMs - postAt,
    toRunMs: runAt - completedAt, afterRunMs: endAt - runAt,
    pauseMs: qemuDowntimeMs + (runAt - completedAt), reportedDowntimeMs: raced ? Number.NaN : r.downtimeMs,
    transferredBytes: r.transferredBytes, raced,
    destPrepareMs: prepare.durationMs, sendFinishMs: finishAt - completedAt, destFinishMs: runAt - finishAt, replyAfterRunMs: finishRepliedAt - runAt,
  };
}

// ---- by hand -------------------------------------------------------------------

type Qmp = QmpClient;

interface HandQemu {
  side: Side;
  child: ChildProcess;
  qmp: Qmp;
  serialLog: string;
}

class ByHand {
  private src?: HandQemu;
  private count = 0;

  constructor(
    private readonly ctx: BenchContext,
    private readonly qmpModule: Awaited<ReturnType<typeof loadQmp>>,
    private readonly binary: string,
    private readonly args: readonly string[],
    /** Hangar's run and log dirs of the VM the argv was read from. */
    private readonly from: { runDir: string; logDir: string; forbidden: string },
    private readonly label: string,
    private readonly portBase: number,
  ) {}

  /** A QEMU in `side`'s namespace with its own run/log dirs; QMP connected. */
  private async launch(side: Side, extra: string[]): Promise<HandQemu> {
    const p = rawPaths(join(this.ctx.tmp, `hand-${this.label}-${this.count++}`));
    mkdirSync(p.runDir, { recursive: true, mode: 0o700 });
    mkdirSync(p.logDir, { recursive: true, mode: 0o700 });
    const args = this.args.map((a) => a.replaceAll(this.from.runDir, p.runDir).replaceAll(this.from.logDir, p.logDir));
    const stale = args.find((a) => a.includes(this.from.forbidden));
    if (stale !== undefined) throw new Error(`by-hand argv still points into the daemon's dir: ${stale}`);
    const fd = openSync(p.qemuLog, 'a', 0o600);
    let child: ChildProcess;
    try {
      // `ip netns exec` execs QEMU in place: the pid is QEMU's.
      child = track(spawn('ip', ['netns', 'exec', NS[side], this.binary, ...args, ...extra], { detached: true, stdio: ['ignore', fd, fd] }));
    } finally {
      closeSync(fd);
    }
    child.unref();
    try {
      const qmp = await this.qmpModule.QmpClient.connect(p.qmpSocket, { retryUntilMs: 15_000, retryIntervalMs: 2, commandTimeoutMs: 120_000 });
      return { side, child, qmp, serialLog: p.serialLog };
    } catch (e) {
      throw new Error(`by-hand QEMU in ${NS[side]} did not offer QMP (see ${p.qemuLog}): ${String(e)}`);
    }
  }

  /** Boots the guest in A (`cont`, HANGAR-GUEST-READY), then lets it idle. */
  async boot(): Promise<void> {
    const g = await this.launch('a', []);
    this.src = g;
    await g.qmp.execute('cont');
    await waitForMarker(g.serialLog, 0, { timeoutMs: READY_TIMEOUT_MS, intervalMs: 50, abort: () => (isAlive(g.child.pid ?? -1) ? undefined : 'QEMU exited') });
    await sleep(IDLE_MS);
  }

  /**
   * Moves the guest to the other namespace: the same argv plus `-incoming tcp:ADDR:PORT` there,
   * `migrate` on the source with QEMU's defaults, query-migrate every 10 ms until completed,
   * `cont` on the destination and query-status until it runs, then `quit` the source.
   */
  async migrate(i: number): Promise<Sample> {
    const src = this.src!;
    const to = other(src.side);
    const uri = `tcp:${ADDR[to]}:${this.portBase + i}`;
    const t0 = performance.now();
    const dst = await this.launch(to, ['-incoming', uri]);
    const tReady = performance.now();
    const tMigrate = performance.now();
    await src.qmp.execute('migrate', { uri });
    type Info = { status?: string; 'total-time'?: number; downtime?: number; ram?: { transferred?: number }; 'error-desc'?: string };
    let info: Info;
    for (;;) {
      info = await src.qmp.execute<Info>('query-migrate');
      if (info.status === 'completed') break;
      if (info.status === 'failed' || info.status === 'cancelled') throw new Error(`by-hand migration ${info.status}: ${info['error-desc'] ?? ''}`);
      await sleep(10);
    }
    const tCompleted = performance.now();
    await dst.qmp.execute('cont');
    for (;;) {
      const s = await dst.qmp.execute<{ running: boolean; status: string }>('query-status');
      if (s.running) break;
      if (s.status !== 'inmigrate' && s.status !== 'paused' && s.status !== 'prelaunch') throw new Error(`by-hand destination is ${s.status}`);
      await sleep(2);
    }
    const tRunning = performance.now();
    // QEMU fills in total-time and downtime just after it says completed: read them again if that was too early.
    for (let k = 0; k < 1000 && !info['total-time']; k++) {
      await sleep(1);
      info = await src.qmp.execute<Info>('query-migrate');
    }
    src.qmp.execute('quit').catch(() => undefined);
    await exited(src.child);
    await src.qmp.close().catch(() => undefined);
    const tEnd = performance.now();
    this.src = dst;
    const qemuDowntimeMs = info.downtime ?? Number.NaN;
    // When QEMU completed: `migrate` + its total-time (QEMU starts that clock at the command), not later than we saw it.
    const completedAt = info['total-time'] ? Math.min(tCompleted, tMigrate + info['total-time']) : tCompleted;
    const pauseMs = qemuDowntimeMs + (tRunning - completedAt);
    return {
      totalMs: tEnd - t0, ramMs: info['total-time'] ?? Number.NaN, qemuDowntimeMs, beforeMs: tReady - t0,
      toRunMs: tRunning - completedAt, afterRunMs: tEnd - tRunning, pauseMs, reportedDowntimeMs: pauseMs,
      transferredBytes: info.ram?.transferred ?? Number.NaN,
    };
  }

  async stop(): Promise<void> {
    const g = this.src;
    if (!g) return;
    this.src = undefined;
    g.qmp.execute('quit').catch(() => undefined);
    const done = await Promise.race([exited(g.child).then(() => true), sleep(5000).then(() => false)]);
    if (!done && g.child.pid !== undefined) {
      try {
        process.kill(g.child.pid, 'SIGKILL');
      } catch {
        // gone
      }
      await exited(g.child);
    }
    await g.qmp.close().catch(() => undefined);
  }
}

// ---- the case ------------------------------------------------------------------

interface SizeResult {
  label: string;
  hangar: Sample[];
  hand: Sample[];
}

const col = (s: readonly Sample[], k: keyof Sample): number[] => s.map((x) => Number(x[k] ?? Number.NaN)).filter((x) => Number.isFinite(x));
const fmtMB = (b: number) => (Number.isFinite(b) ? (b / 1e6).toFixed(1) : '–');
const times = (x: number) => (Number.isFinite(x) ? `${x.toFixed(1)}×` : '–');

function report(results: SizeResult[], linkSamples: number[], n: number): CaseResult {
  const link = med(linkSamples);
  /** The bytes a system sent (median) at the measured link speed, ms. */
  const atLink = (s: readonly Sample[]) => (med(col(s, 'transferredBytes')) / link) * 1000;
  const systems = (r: SizeResult) => [['Hangar', r.hangar], ['by hand, QEMU 7.2 defaults', r.hand]] as const;
  const main: string[][] = [];
  const split: string[][] = [];
  for (const r of results) {
    for (const [system, s] of systems(r)) {
      const t = atLink(s);
      main.push([
        r.label, system, cell(col(s, 'totalMs')), cell(col(s, 'ramMs')), cell(col(s, 'qemuDowntimeMs')), cell(col(s, 'pauseMs')), system === 'Hangar' ? cell(col(s, 'reportedDowntimeMs')) : '(same)',
        fmtMB(med(col(s, 'transferredBytes'))), fmtMs(t), times(med(col(s, 'totalMs')) / t), times(med(col(s, 'ramMs')) / t),
      ]);
      split.push([r.label, system, cell(col(s, 'beforeMs')), cell(col(s, 'ramMs')), cell(col(s, 'toRunMs')), cell(col(s, 'afterRunMs')), cell(col(s, 'totalMs'))]);
    }
  }
  const hangarSteps = results.map((r) => [
    r.label, cell(col(r.hangar, 'destPrepareMs')), cell(col(r.hangar, 'sendFinishMs')), cell(col(r.hangar, 'destFinishMs')), cell(col(r.hangar, 'replyAfterRunMs')),
    `${r.hangar.filter((x) => x.raced).length} of ${r.hangar.length}`,
  ]);

  const goals: Goal[] = [];
  for (const r of results) {
    const pause = med(col(r.hangar, 'pauseMs'));
    const valid = col(r.hangar, 'pauseMs').length;
    const met = valid > 0 && pause < DOWNTIME_GOAL_MS;
    goals.push({
      name: `${r.label}: downtime < ${DOWNTIME_GOAL_MS} ms (Hangar; the guest's pause: QEMU's downtime + completed → running on the destination; median)`,
      met,
      detail: valid === 0
        ? `unknown: no migration of ${r.hangar.length} reported QEMU's downtime; completed → running alone ${fmtMs(med(col(r.hangar, 'toRunMs')))}`
        : `${fmtMs(pause)} over ${valid} migrations (max ${fmtMs(Math.max(...col(r.hangar, 'pauseMs')))}): QEMU's downtime ${fmtMs(med(col(r.hangar, 'qemuDowntimeMs')))} + completed → running ${fmtMs(med(col(r.hangar, 'toRunMs')))}; Hangar reports ${fmtMs(med(col(r.hangar, 'reportedDowntimeMs')))}; by hand ${fmtMs(med(col(r.hand, 'pauseMs')))}${met ? '' : ` — missed by ${fmtMs(pause - DOWNTIME_GOAL_MS)}`}`,
    });
  }
  for (const r of results) {
    const t = atLink(r.hangar);
    const total = med(col(r.hangar, 'totalMs'));
    const ratio = total / t;
    goals.push({
      name: `${r.label}: total time within ${LINK_RATIO_GOAL}× of the transfer at the measured link speed (Hangar, request → operation done, median)`,
      met: ratio <= LINK_RATIO_GOAL,
      detail: `${fmtMs(total)} / (${fmtMB(med(col(r.hangar, 'transferredBytes')))} MB at ${(link / 1e6).toFixed(0)} MB/s = ${fmtMs(t)}) = ${ratio.toFixed(1)}×; QEMU's RAM phase alone ${times(med(col(r.hangar, 'ramMs')) / t)}${ratio <= LINK_RATIO_GOAL ? '' : ` — missed by ${(ratio - LINK_RATIO_GOAL).toFixed(1)}×`}`,
    });
  }
  const big = results.find((r) => r.label === '1 GiB');
  if (big) {
    const h = med(col(big.hangar, 'totalMs'));
    const q = med(col(big.hand, 'totalMs'));
    const speedup = q / h;
    goals.push({
      name: `1 GiB: Hangar ≥ ${SPEEDUP_GOAL}× faster than QEMU's defaults by hand (total, medians)`,
      met: speedup >= SPEEDUP_GOAL,
      detail: `by hand ${fmtMs(q)} / Hangar ${fmtMs(h)} = ${speedup.toFixed(2)}×; RAM phase alone ${fmtMs(med(col(big.hand, 'ramMs')))} / ${fmtMs(med(col(big.hangar, 'ramMs')))} = ${(med(col(big.hand, 'ramMs')) / med(col(big.hangar, 'ramMs'))).toFixed(2)}×${speedup >= SPEEDUP_GOAL ? '' : ` — short of ${SPEEDUP_GOAL}×`}`,
    });
  }

  const raced = results.reduce((a, r) => a + r.hangar.filter((x) => x.raced).length, 0);
  const markdown = [
    `Link: one TCP stream over the veth pair (${NS.a} → ${NS.b}), ${LINK_BYTES / 2 ** 20} MiB per round: **${(link / 1e6).toFixed(0)} MB/s** (median of ${linkSamples.length} rounds: ${linkSamples.map((x) => (x / 1e6).toFixed(0)).join(', ')} MB/s).`,
    '',
    table(
      ['guest RAM', 'system', 'total', 'RAM phase (QEMU total-time)', 'QEMU downtime', 'guest pause (QEMU downtime + completed → running)', 'Hangar-reported downtime', 'MB sent', 'MB sent at link speed', 'total / link', 'RAM phase / link'],
      main,
      ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
    'Where the total goes (each column a median of its own, so they need not add up):',
    '',
    table(['guest RAM', 'system', 'before the RAM copy', 'RAM phase', 'completed → destination runs the guest', 'destination runs → done', 'total'], split, ['l', 'l', 'r', 'r', 'r', 'r', 'r']),
    '',
    "Hangar's hand-over, from the destination daemon's audit log and events:",
    '',
    table(['guest RAM', 'destination `prepare` call', 'completed → `finish` arrives', '`finish` arrives → guest runs', 'guest runs → `finish` reply', 'results with QEMU times 0 (left out)'], hangarSteps, ['l', 'r', 'r', 'r', 'r', 'r']),
    '',
    `- Cells: median (min – max) of ${n} migrations per system and size (p10 – p90 from 10 on), alternating A → B and B → A, after one warm-up migration; Hangar and by-hand migrations interleaved. Guest: the tiny image (kernel + initrd, no disk, user-mode NIC), 1 vCPU, TCG, idle (booted to HANGAR-GUEST-READY, then ${IDLE_MS / 1000} s), both guests running side by side.`,
    "- Hangar: `POST /v1/vms/:name/migrate {to}` on the source daemon (defaults: no bandwidth cap, 50 ms downtime limit, auto-converge, one stream), timed from the request to the end of the operation (long-poll). RAM phase, QEMU downtime, MB sent and the reported downtime come from the operation's `MigrateResult` (`memoryMs`, `qemuDowntimeMs`, `transferredBytes`, `downtimeMs` = QEMU's downtime + completed → `finish` sent (source) + `finish` arrived → vCPUs let go (destination)). The destination's audit log gives when its `prepare` and `finish` calls arrived and how long they took, its `vm.state running` event when it runs the guest (after `cont`, and after the state is written); the source's completion is the `finish` arrival minus the result's `finishSentAfterMs`. Before the RAM copy = request → `prepare` answered.",
    `- By hand: Hangar's argv for the guest read from /proc (run and log dirs swapped for the bench's own, as root), the source in one namespace, the destination with \`-incoming tcp:ADDR:PORT\` in the other; \`migrate\` with no parameters or capabilities set (QEMU 7.2: max-bandwidth 128 MiB/s, downtime-limit 300 ms), \`query-migrate\` every 10 ms until \`completed\`, \`cont\` on the destination and \`query-status\` every 2 ms until it runs, then \`quit\` on the source. Total: destination QEMU spawned → the source QEMU has exited; completion: \`migrate\` + QEMU's total-time. Before the RAM copy = destination QEMU spawned → QMP ready.`,
    "- MB sent: QEMU's `ram.transferred` (zero pages go as a few bytes each, so an idle guest sends far less than its RAM). At link speed: that many bytes at the measured single-stream TCP rate.",
    `- QEMU 7.2 sets a migration \`completed\` (and emits the MIGRATION event) a moment before it computes total-time and downtime; a \`query-migrate\` in between reads 0 for both. Hangar's watch wakes on that event, so ${raced} of ${results.reduce((a, r) => a + r.hangar.length, 0)} Hangar results here had \`memoryMs\` = \`qemuDowntimeMs\` = 0 and a \`downtimeMs\` without QEMU's part: their RAM phase, QEMU downtime, guest pause and reported downtime are left out of the medians (their other columns count).`,
  ].join('\n');
  return { title: 'Live migration between two hosts (network namespaces, idle tiny guest, tcg)', markdown, goals };
}

export const liveMigrationCase: BenchCase = {
  id: 'live-migration',
  async run(ctx: BenchContext): Promise<CaseResult> {
    const daemons: Partial<Record<Side, BenchDaemon>> = {};
    let hand: ByHand | undefined;
    // If the run is interrupted (run.ts exits after its own cleanup), the namespaces still go.
    const onExit = () => removeNetwork();
    process.once('exit', onExit);
    try {
      setupNetwork();
      ctx.progress(`live-migration: link speed (${LINK_ROUNDS} × ${LINK_BYTES / 2 ** 20} MiB over one TCP stream)`);
      const linkSamples: number[] = [];
      for (let i = 0; i < LINK_ROUNDS; i++) linkSamples.push(await linkRound());

      const [a, b] = await Promise.all((['a', 'b'] as const).map((s) => BenchDaemon.start({ root: ctx.root, parent: ctx.tmp, netns: NS[s], args: ['--listen', `${ADDR[s]}:${API_PORT}`] })));
      daemons.a = a!;
      daemons.b = b!;
      const both = daemons as Record<Side, BenchDaemon>;
      const [ta, tb] = await Promise.all([token(both.a, 'bench-peer'), token(both.b, 'bench-peer')]);
      await both.a.api.call('POST', '/v1/peers', { name: 'b', url: `https://${ADDR.b}:${API_PORT}`, token: tb });
      await both.b.api.call('POST', '/v1/peers', { name: 'a', url: `https://${ADDR.a}:${API_PORT}`, token: ta });

      const qmpModule = await loadQmp(ctx.root);
      const results: SizeResult[] = [];
      for (const [k, size] of SIZES.entries()) {
        const name = `lm${size.memory.toLowerCase()}`;
        ctx.progress(`live-migration: ${size.label}: booting the Hangar guest and the by-hand one`);
        const vm = await both.a.api.call<VmView>('POST', '/v1/vms', { name, image: 'tiny', cpus: 1, memory: size.memory, start: true });
        await waitReady(both.a, name);
        const cmd = readCmdline(vm.pid!);
        if (!cmd) throw new Error(`cannot read the argv of ${name}`);
        const [binary, ...args] = cmd as [string, ...string[]];
        hand = new ByHand(ctx, qmpModule, binary, args, { runDir: join(both.a.dir, 'run', 'vms', vm.id), logDir: join(both.a.dir, 'logs', vm.id), forbidden: both.a.dir }, name, HAND_PORT_BASE + 100 * k);
        await Promise.all([hand.boot(), sleep(IDLE_MS)]);
        const r: SizeResult = { label: size.label, hangar: [], hand: [] };
        let at: Side = 'a';
        for (let i = 0; i <= ctx.n; i++) {
          ctx.progress(`live-migration: ${size.label} iteration ${i}/${ctx.n}${i === 0 ? ' (warm-up)' : ''}`);
          const h = await hangarMigrate(both, at, name);
          at = other(at);
          await sleep(PAUSE_MS);
          const q = await hand.migrate(i);
          await sleep(PAUSE_MS);
          if (i > 0) {
            r.hangar.push(h);
            r.hand.push(q);
          }
        }
        results.push(r);
        await hand.stop();
        hand = undefined;
        for (const d of [both.a, both.b]) await d.api.call('DELETE', `/v1/vms/${name}?force=true`).catch(() => undefined);
      }
      return report(results, linkSamples, ctx.n);
    } finally {
      await hand?.stop().catch(() => undefined);
      await killSpawned();
      await Promise.all([daemons.a?.stop(), daemons.b?.stop()]);
      removeNetwork();
      process.removeListener('exit', onExit);
    }
  },
};
