/**
 * What the metrics sampler costs: the daemon's CPU with 20 idle running guests, with the
 * sampler off, at its default 5 s and at 1 s; one sampling round's wall time; a /metrics
 * scrape; and whether lifecycle calls (pause + resume of one guest) get slower meanwhile.
 * One data dir throughout: the daemon is restarted between phases and re-adopts the guests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { ApiClient } from '../../src/client/index.js';
import type { VmView } from '../../src/vm/service.js';
import { isAlive, readRssBytes, sleep } from '../lib/proc.js';
import { fileSize, waitForMarker } from '../lib/serial.js';
import { fmtMiB, fmtMs, fmtSpread, median, summarize } from '../lib/stats.js';
import { table, type BenchCase, type BenchContext, type CaseResult } from '../lib/report.js';

const GUEST = { image: 'tiny', cpus: 1, memory: '128M' } as const;
const WINDOW_MS = Number(process.env.BENCH_SAMPLER_WINDOW_MS ?? 60_000);
const CYCLES = 10;

function cpuSeconds(pid: number): number {
  const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(rest[11]) + Number(rest[12])) / 100;
}

function scrape(socket: string): Promise<{ ms: number; text: string }> {
  const t = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path: '/metrics' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ ms: performance.now() - t, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

const metricValue = (text: string, name: string) => Number(/^(\S+) (\S+)$/m.exec(text.split('\n').find((l) => l.startsWith(`${name} `)) ?? '')?.[2] ?? NaN);

class Daemon {
  readonly api: ApiClient;
  private constructor(readonly dir: string, readonly socket: string, private readonly child: ChildProcess) {
    this.api = new ApiClient(socket);
  }

  static async start(root: string, dir: string, intervalSeconds: number): Promise<Daemon> {
    const socket = join(dir, 'h.sock');
    const log = openSync(join(dir, 'daemon.log'), 'a');
    const child = spawn(process.execPath, [join(root, 'bin', 'hangar'), 'daemon', '--socket', socket, '--data-dir', dir, '--accel', 'tcg', '--no-build-images', '--cpu-overcommit', '12', '--metrics-interval', String(intervalSeconds)], { stdio: ['ignore', log, log] });
    closeSync(log);
    const d = new Daemon(dir, socket, child);
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await d.api.call('GET', '/v1/host');
        return d;
      } catch {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`daemon did not come up: ${readFileSync(join(dir, 'daemon.log'), 'utf8').slice(-2000)}`);
        await sleep(50);
      }
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** SIGTERM: the guests keep running for the next daemon to adopt. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }
}

interface Phase { interval: number; cpuPercent: number; rss: number; roundMs?: number; scrapeMs: number[]; pauseResumeMs: number[]; samples?: number; errors?: number }

async function measure(d: Daemon, interval: number, names: string[], progress: (m: string) => void): Promise<Phase> {
  await sleep(Math.max(3000, interval * 2000));
  progress(`metrics-sampler: interval ${interval || 'off'}: daemon CPU over ${WINDOW_MS / 1000} s`);
  const c0 = cpuSeconds(d.pid);
  const t0 = performance.now();
  await sleep(WINDOW_MS);
  const cpuPercent = ((cpuSeconds(d.pid) - c0) / ((performance.now() - t0) / 1000)) * 100;
  const rss = readRssBytes(d.pid);
  const scrapeMs: number[] = [];
  const rounds: number[] = [];
  let last = '';
  for (let i = 0; i < 5; i++) {
    const s = await scrape(d.socket);
    scrapeMs.push(s.ms);
    last = s.text;
    rounds.push(metricValue(s.text, 'hangar_metrics_sampler_last_round_seconds') * 1000);
    await sleep(Math.max(interval, 1) * 1000);
  }
  const pauseResumeMs: number[] = [];
  for (let i = 0; i < CYCLES; i++) {
    const t = performance.now();
    await d.api.call('POST', `/v1/vms/${names[i % names.length]}/pause`);
    await d.api.call('POST', `/v1/vms/${names[i % names.length]}/resume`);
    pauseResumeMs.push(performance.now() - t);
    await sleep(137); // off the sampler's beat
  }
  return {
    interval, cpuPercent, rss, scrapeMs, pauseResumeMs,
    ...(interval > 0 && { roundMs: median(rounds), samples: metricValue(last, 'hangar_metrics_sampler_samples_total'), errors: metricValue(last, 'hangar_metrics_sampler_errors_total') }),
  };
}

export const metricsSamplerCase: BenchCase = {
  id: 'metrics-sampler',
  async run(ctx: BenchContext): Promise<CaseResult> {
    const guests = Number(process.env.BENCH_GUESTS ?? 20);
    const dir = mkdtempSync(join(ctx.tmp, 'm'));
    const names = Array.from({ length: guests }, (_, i) => `s${String(i + 1).padStart(2, '0')}`);
    let d = await Daemon.start(ctx.root, dir, 0);
    const phases: Phase[] = [];
    try {
      ctx.progress(`metrics-sampler: starting ${guests} guests`);
      const waits: Promise<number>[] = [];
      for (const name of names) {
        const v = await d.api.call<VmView>('POST', '/v1/vms', { name, ...GUEST });
        const serial = join(dir, 'logs', v.id, 'serial.log');
        const offset = fileSize(serial);
        const started = await d.api.call<VmView>('POST', `/v1/vms/${name}/start`, {});
        const pid = started.pid ?? -1;
        waits.push(waitForMarker(serial, offset, { timeoutMs: 300_000, intervalMs: 100, abort: () => (isAlive(pid) ? undefined : `QEMU of ${name} exited`) }));
      }
      await Promise.all(waits);
      ctx.progress(`metrics-sampler: ${guests} guests booted`);
      for (const interval of [0, 5, 1]) {
        if (interval !== 0) {
          await d.stop();
          d = await Daemon.start(ctx.root, dir, interval);
        }
        phases.push(await measure(d, interval, names, ctx.progress));
      }
    } finally {
      for (const name of names) await d.api.call('DELETE', `/v1/vms/${name}?force=true`).catch(() => undefined);
      await d.stop();
    }
    const rows = phases.map((p) => {
      const pr = summarize(p.pauseResumeMs);
      const sc = summarize(p.scrapeMs);
      return [
        p.interval === 0 ? 'off' : `every ${p.interval} s`, `${p.cpuPercent.toFixed(2)}%`, fmtMiB(p.rss),
        p.roundMs === undefined ? '–' : fmtMs(p.roundMs), `${fmtMs(sc.median)} (${fmtSpread(sc)})`, `${fmtMs(pr.median)} (${fmtSpread(pr)})`,
        p.samples === undefined ? '–' : `${p.samples} / ${p.errors}`,
      ];
    });
    return {
      title: `Metrics sampler: daemon cost with ${guests} idle guests`,
      markdown: [
        table(['sampling', 'daemon CPU', 'daemon RSS', 'one round (all VMs)', 'GET /metrics', 'pause+resume of a guest', 'samples / errors'], rows, ['l', 'r', 'r', 'r', 'r', 'r', 'r']),
        '',
        `- Daemon CPU is utime+stime of the daemon process over ${WINDOW_MS / 1000} s with ${guests} booted, idle \`tiny\` guests (${GUEST.cpus} vCPU, ${GUEST.memory}, accel=tcg); the guests' own CPU is not counted.`,
        '- A round samples every running VM: /proc (CPU, RSS, vCPU threads) and four pipelined QMP queries each (query-blockstats, query-balloon, qom-get guest-stats, query-cpus-fast — the last only every 12th round).',
        `- pause+resume: ${CYCLES} cycles through the API, medians and spreads; sampling never takes a VM's operation lock.`,
        '- The same guests throughout: the daemon is restarted (SIGTERM) between phases and re-adopts them.',
      ].join('\n'),
      goals: [],
    };
  },
};
