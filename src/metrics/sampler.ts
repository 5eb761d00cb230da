/**
 * The metrics sampler: every `intervalSeconds`, for each VM with a QEMU process, reads
 * CPU time (process and vCPU threads) and RSS from /proc, disk counters, the balloon and
 * the guest's memory statistics over the VM's existing QMP connection, and tap counters
 * from /sys. Samples go into a bounded ring buffer per VM (the history graphs read) and
 * the newest one is what GET /metrics exports.
 *
 * It never takes a VM's operation lock, so lifecycle operations never wait for it. QMP
 * queries are read-only, pipelined on the shared connection with a short timeout each;
 * a VM whose previous sample is still in flight is skipped, so nothing piles up.
 */
import { QmpClosedError, QmpTimeoutError } from '../qmp/index.js';
import type { VmRecord } from '../store/store.js';
import type { VmState } from '../model/states.js';
import { readProcessStat, readRssBytes, readTapCounters, readThreadCpuSeconds } from './procfs.js';
import { readWarmMemory } from '../resources/smaps.js';
import { parseBlockStats, parseCpuThreads, parseGuestStats } from './qemu-stats.js';
import { RingBuffer } from './ring.js';
import type { NicCounters, VmSample, WarmMemory } from './types.js';

/** The part of QmpClient the sampler uses (a fake in tests). */
export interface Monitor {
  readonly closed: boolean;
  execute<T = unknown>(command: string, args?: Record<string, unknown>, opts?: { timeoutMs?: number }): Promise<T>;
}

export interface SamplerSource {
  listVms(): Promise<VmRecord[]>;
  /** The VM's live QMP connection, if it has one now. */
  monitor(vmId: string): Monitor | undefined;
}

export interface SamplerOptions {
  /** Seconds between samples; 0 disables sampling. */
  intervalSeconds: number;
  /** How much history to keep per VM (default 3600 s). */
  historySeconds?: number;
  /** Timeout of each QMP query (default: the smaller of 2 s and half the interval). */
  qmpTimeoutMs?: number;
  procRoot?: string;
  sysNetRoot?: string;
  /** `<data-dir>/templates`: a warm clone's QEMU maps its template's memory file from there. */
  templatesRoot?: string;
  now?: () => number;
  log?: (fields: Record<string, unknown>, msg: string) => void;
}

/** The balloon device's QOM path (its id is fixed in qemu/argv.ts). */
const BALLOON_PATH = '/machine/peripheral/balloon0';
/** States with a QEMU process worth sampling (not `starting`: the start path owns the monitor then). */
const SAMPLED: ReadonlySet<VmState> = new Set(['running', 'paused', 'stopping', 'migrating', 'unknown']);
/** States in which the monitor is queried (an `unknown` VM has none; `stopping` may be going away). */
const QUERIED: ReadonlySet<VmState> = new Set(['running', 'paused', 'migrating']);
/** vCPU thread ids are re-read this often (in samples), and whenever the vCPU count changes. */
const THREAD_REFRESH_SAMPLES = 12;

interface MonitorState {
  polling?: Promise<boolean>;
  pollingRetryTick?: number;
  threads?: { index: number; threadId: number }[];
  threadsTick: number;
}

export interface SamplerStats {
  ticks: number;
  samples: number;
  /** VMs skipped because their previous sample was still in flight. */
  skipped: number;
  /** Samples that failed, or QMP queries that timed out or lost their connection. */
  errors: number;
  lastTickSeconds: number;
  lastTickAt: number;
}

export class MetricsSampler {
  readonly intervalSeconds: number;
  readonly historySeconds: number;
  readonly capacity: number;
  readonly stats: SamplerStats = { ticks: 0, samples: 0, skipped: 0, errors: 0, lastTickSeconds: 0, lastTickAt: 0 };
  private readonly histories = new Map<string, RingBuffer<VmSample>>();
  private readonly inFlight = new Set<string>();
  private readonly monitors = new WeakMap<Monitor, MonitorState>();
  private readonly failing = new Set<string>();
  /** VM id → the run (`pid:starttime`) found not to map a template's memory (a cold start): smaps is not read again for it. */
  private readonly coldRuns = new Map<string, string>();
  private readonly qmpTimeoutMs: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(private readonly source: SamplerSource, private readonly opts: SamplerOptions) {
    this.intervalSeconds = opts.intervalSeconds;
    this.historySeconds = opts.historySeconds ?? 3600;
    this.capacity = this.intervalSeconds > 0 ? Math.ceil(this.historySeconds / this.intervalSeconds) + 1 : 1;
    this.qmpTimeoutMs = opts.qmpTimeoutMs ?? Math.max(100, Math.min(2000, (this.intervalSeconds * 1000) / 2));
    this.now = opts.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.intervalSeconds > 0;
  }

  start(): void {
    if (!this.enabled || !this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      const startedAt = this.now();
      this.running = this.tick()
        .catch((e: unknown) => this.opts.log?.({ err: e }, 'metrics sampling failed'))
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) this.schedule(Math.max(0, startedAt + this.intervalSeconds * 1000 - this.now()));
        });
    }, delayMs);
    this.timer.unref();
  }

  /** One round over every VM. Resolves when each VM has a sample or its time is up. */
  async tick(): Promise<void> {
    const t0 = performance.now();
    const records = await this.source.listVms();
    const ids = new Set(records.map((r) => r.id));
    for (const id of this.histories.keys()) if (!ids.has(id)) this.histories.delete(id);
    for (const id of this.coldRuns.keys()) if (!ids.has(id)) this.coldRuns.delete(id);
    const budgetMs = Math.max(this.qmpTimeoutMs * 2, 500);
    await Promise.all(records.map((rec) => this.sampleOne(rec, budgetMs)));
    this.stats.ticks++;
    this.stats.lastTickSeconds = (performance.now() - t0) / 1000;
    this.stats.lastTickAt = this.now();
  }

  /** The newest sample of a VM, if it was taken from a QEMU process. */
  latest(vmId: string): VmSample | undefined {
    const last = this.histories.get(vmId)?.last();
    return last?.run !== undefined ? last : undefined;
  }

  /** Samples at or after `sinceMs` (all kept ones without it), and the sample just before them. */
  history(vmId: string, sinceMs?: number): { samples: VmSample[]; before?: VmSample } {
    const ring = this.histories.get(vmId);
    if (!ring) return { samples: [] };
    const samples = sinceMs === undefined ? ring.toArray() : ring.from((s) => s.t >= sinceMs);
    const before = samples.length < ring.size ? ring.at(ring.size - samples.length - 1) : undefined;
    return before ? { samples, before } : { samples };
  }

  private ring(vmId: string): RingBuffer<VmSample> {
    let r = this.histories.get(vmId);
    if (!r) {
      r = new RingBuffer<VmSample>(this.capacity);
      this.histories.set(vmId, r);
    }
    return r;
  }

  private async sampleOne(rec: VmRecord, budgetMs: number): Promise<void> {
    if (!SAMPLED.has(rec.state) || !rec.runtime) {
      // One state-only sample when a VM leaves the running states, so graphs show the gap.
      const ring = this.histories.get(rec.id);
      if (ring?.last()?.run !== undefined) ring.push({ t: this.now(), state: rec.state });
      return;
    }
    if (this.inFlight.has(rec.id)) {
      this.stats.skipped++;
      return;
    }
    this.inFlight.add(rec.id);
    const work = this.collect(rec)
      .then((s) => {
        this.ring(rec.id).push(s);
        this.stats.samples++;
        if (this.failing.delete(rec.id)) this.opts.log?.({ vm: rec.name }, 'metrics sampling works again');
      })
      .catch((e: unknown) => {
        this.stats.errors++;
        if (!this.failing.has(rec.id)) {
          this.failing.add(rec.id);
          this.opts.log?.({ vm: rec.name, err: e }, 'metrics sampling failed for this VM');
        }
      })
      .finally(() => this.inFlight.delete(rec.id));
    // A late sample still lands (in order: the VM is skipped until it does); the round goes on.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([work, new Promise<void>((r) => (timer = setTimeout(r, budgetMs)))]);
    clearTimeout(timer);
  }

  private async collect(rec: VmRecord): Promise<VmSample> {
    const rt = rec.runtime!;
    const sample: VmSample = { t: this.now(), state: rec.state };
    const stat = await readProcessStat(rt.pid, this.opts.procRoot);
    // Gone, or the pid now belongs to another process: nothing to read.
    if (!stat || stat.startTime !== rt.pidStartTime) return sample;
    sample.run = `${rt.pid}:${rt.pidStartTime}`;
    sample.cpuSeconds = stat.cpuSeconds;
    const qmp = QUERIED.has(rec.state) ? this.source.monitor(rec.id) : undefined;
    const [rss, nics, warm] = await Promise.all([
      readRssBytes(rt.pid, this.opts.procRoot),
      this.readNics(rec),
      this.warmMemory(rec, sample.run),
      qmp && !qmp.closed ? this.queryMonitor(rec, qmp, sample) : undefined,
    ]);
    if (rss !== undefined) sample.rssBytes = rss;
    if (warm) sample.warmMemory = warm;
    if (nics.length) sample.nics = nics;
    return sample;
  }

  /**
   * A warm clone's shared and private guest RAM, from /proc/PID/smaps: only for VMs cloned
   * from a template, and only until a run is found not to map the template's file (a cold
   * start gives the VM memory of its own; the process never maps the template again).
   */
  private async warmMemory(rec: VmRecord, run: string): Promise<WarmMemory | undefined> {
    const root = this.opts.templatesRoot;
    if (!root || rec.spec.template === undefined || this.coldRuns.get(rec.id) === run) return undefined;
    const warm = await readWarmMemory(rec, root, this.opts.procRoot);
    if (!warm) this.coldRuns.set(rec.id, run);
    return warm;
  }

  private async readNics(rec: VmRecord): Promise<NicCounters[]> {
    const taps = rec.spec.nics.filter((n) => n.kind === 'network' && n.tap);
    const out: NicCounters[] = [];
    await Promise.all(taps.map(async (n) => {
      const c = await readTapCounters(n.tap!, this.opts.sysNetRoot);
      // The tap's transmit is what the guest receives, and the other way round.
      if (c) out.push({ nic: n.id, tap: n.tap!, rxBytes: c.txBytes, txBytes: c.rxBytes, rxPackets: c.txPackets, txPackets: c.rxPackets });
    }));
    return out.sort((a, b) => a.nic.localeCompare(b.nic));
  }

  private monitorState(qmp: Monitor): MonitorState {
    let st = this.monitors.get(qmp);
    if (!st) {
      st = { threadsTick: -Infinity };
      this.monitors.set(qmp, st);
    }
    return st;
  }

  /** Read-only QMP queries, pipelined; each one that fails just leaves its fields out. */
  private async queryMonitor(rec: VmRecord, qmp: Monitor, sample: VmSample): Promise<void> {
    const opts = { timeoutMs: this.qmpTimeoutMs };
    const st = this.monitorState(qmp);
    const jobs: Promise<unknown>[] = [
      qmp.execute('query-blockstats', undefined, opts).then((r) => {
        const disks = parseBlockStats(r);
        if (disks.length) sample.disks = disks;
      }),
      this.vcpuTimes(rec, qmp, st, opts).then((v) => {
        if (v) sample.vcpus = v;
      }),
    ];
    if (rec.spec.balloon) {
      jobs.push(
        qmp.execute<{ actual?: number }>('query-balloon', undefined, opts).then((r) => {
          if (typeof r?.actual === 'number') sample.balloonActualBytes = r.actual;
        }),
        this.guestStats(qmp, st, opts).then((g) => {
          if (g) sample.guestMemory = g;
        }),
      );
    }
    for (const r of await Promise.allSettled(jobs)) {
      // A refusal (no balloon driver yet, …) is absence, not trouble; a timeout or a lost connection is.
      if (r.status === 'rejected' && (r.reason instanceof QmpTimeoutError || r.reason instanceof QmpClosedError)) this.stats.errors++;
    }
  }

  /**
   * The guest reports memory statistics once QEMU asks it to poll: set the polling interval
   * once per connection, then read the latest report.
   */
  private async guestStats(qmp: Monitor, st: MonitorState, opts: { timeoutMs: number }) {
    if (st.polling === undefined && (st.pollingRetryTick === undefined || this.stats.ticks >= st.pollingRetryTick)) {
      const value = Math.max(1, Math.round(this.intervalSeconds));
      st.polling = qmp.execute('qom-set', { path: BALLOON_PATH, property: 'guest-stats-polling-interval', value }, opts).then(
        () => true,
        () => {
          st.polling = undefined;
          st.pollingRetryTick = this.stats.ticks + THREAD_REFRESH_SAMPLES;
          return false;
        },
      );
    }
    if (!(await st.polling)) return undefined;
    return parseGuestStats(await qmp.execute('qom-get', { path: BALLOON_PATH, property: 'guest-stats' }, opts));
  }

  /** CPU time per vCPU thread; undefined when vCPUs share a thread (single-threaded TCG). */
  private async vcpuTimes(rec: VmRecord, qmp: Monitor, st: MonitorState, opts: { timeoutMs: number }) {
    const pid = rec.runtime!.pid;
    const want = rec.runtime?.live?.cpus ?? rec.spec.cpus;
    if (!st.threads || st.threads.length !== want || this.stats.ticks - st.threadsTick >= THREAD_REFRESH_SAMPLES) {
      st.threads = parseCpuThreads(await qmp.execute('query-cpus-fast', undefined, opts));
      st.threadsTick = this.stats.ticks;
    }
    const threads = st.threads;
    const distinct = new Set(threads.map((t) => t.threadId));
    if (threads.length === 0 || distinct.size !== threads.length || distinct.has(pid)) return undefined;
    const times = await Promise.all(threads.map((t) => readThreadCpuSeconds(pid, t.threadId, this.opts.procRoot)));
    if (times.some((t) => t === undefined)) st.threads = undefined; // a vCPU went away: re-read next time
    return threads.flatMap((t, i) => (times[i] === undefined ? [] : [{ index: t.index, cpuSeconds: times[i]! }]));
  }
}
