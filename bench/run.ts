/**
 * Hangar's benchmarks: runs each case, prints one markdown report to stdout (progress to
 * stderr) and writes it to bench/results/latest.md.
 *
 *   npx tsx bench/run.ts                 all cases, N=10
 *   BENCH_N=20 npx tsx bench/run.ts      more iterations
 *   BENCH_CASES=start-stop npx tsx bench/run.ts
 *   BENCH_HANGAR_ROOT=/other/checkout npx tsx bench/run.ts   benchmark another build's bin/ + dist/
 *   BENCH_OUT=/tmp/report.md …           write the report there instead of bench/results/latest.md
 *
 * Needs the built daemon (`npm run build`) and the tiny image (built here if missing).
 * A case is a module exporting a BenchCase (bench/lib/report.ts); add it to CASES.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { daemonMemoryCase } from './cases/daemon-memory.js';
import { startStopCase } from './cases/start-stop.js';
import { storageCase } from './cases/storage.js';
import { libvirtStartStopCase } from './cases/libvirt-start-stop.js';
import { libvirtFleetCase } from './cases/libvirt-fleet.js';
import { libvirtApiCase } from './cases/libvirt-api.js';
import { libvirtDaemonCase } from './cases/libvirt-daemon.js';
import { metricsSamplerCase } from './cases/metrics-sampler.js';
import { saveRestoreCase } from './cases/save-restore.js';
import { liveMigrationCase } from './cases/live-migration.js';
import { cloneCase } from './cases/clone.js';
import { firmwareBootCase } from './cases/firmware-boot.js';
import { backupCase } from './cases/backup.js';
import { clusterApiCase } from './cases/cluster-api.js';
import { haFailoverCase } from './cases/ha-failover.js';
import { clusterEvacuateCase } from './cases/cluster-evacuate.js';
import { nbdExportCase } from './cases/nbd-export.js';
import { warmCloneCase } from './cases/warm-clone.js';
import { cpuBusy, foreignQemuPids, killLeftovers } from './lib/proc.js';
import { goalLine, type BenchCase, type BenchContext, type Goal } from './lib/report.js';

const CASES: readonly BenchCase[] = [startStopCase, daemonMemoryCase, storageCase, libvirtStartStopCase, libvirtFleetCase, libvirtApiCase, libvirtDaemonCase, metricsSamplerCase, saveRestoreCase, liveMigrationCase, firmwareBootCase, cloneCase, backupCase, clusterApiCase, haFailoverCase, clusterEvacuateCase, nbdExportCase, warmCloneCase];

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The Hangar build under test (bin/hangar, dist/): this checkout unless BENCH_HANGAR_ROOT names another, e.g. to compare a fix. */
const HANGAR_ROOT = resolve(process.env.BENCH_HANGAR_ROOT ?? ROOT);
const TINY_MANIFEST = join(process.env.HANGAR_CACHE_DIR ?? '/var/cache/hangar', 'images', 'tiny', 'manifest.json');

function progress(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

function tryRun(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], cwd: ROOT }).trim();
  } catch {
    return undefined;
  }
}

function preflight(): void {
  if (!existsSync(join(HANGAR_ROOT, 'dist', 'cli', 'bin.js'))) {
    throw new Error('Hangar is not built: run `npm run build` first (the benchmark runs the built daemon, bin/hangar).');
  }
  if (!existsSync(TINY_MANIFEST)) {
    progress('the tiny image is missing: building it (node dist/images/tiny/build-main.js)');
    execFileSync(process.execPath, [join(HANGAR_ROOT, 'dist', 'images', 'tiny', 'build-main.js')], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
}

function header(n: number): string {
  const model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
  const qemu = /version (\S+)/.exec(tryRun('qemu-system-x86_64', ['--version']) ?? '')?.[1] ?? 'unknown';
  const commit = tryRun('git', ['rev-parse', '--short', 'HEAD']) ?? 'unknown';
  return [
    '# Hangar benchmark',
    '',
    `${new Date().toISOString()} · commit ${commit}${HANGAR_ROOT === ROOT ? '' : ` · Hangar under test: ${HANGAR_ROOT}`} · ${cpus().length} × ${model} · ${(totalmem() / 2 ** 30).toFixed(1)} GiB · node ${process.version} · QEMU ${qemu} · accel=tcg · N=${n} per system (+1 warm-up), systems interleaved`,
  ].join('\n');
}

async function main(): Promise<number> {
  const n = Number(process.env.BENCH_N ?? 10);
  if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_N must be a whole number ≥ 1, got ${process.env.BENCH_N}`);
  const wanted = process.env.BENCH_CASES?.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = wanted?.filter((id) => !CASES.some((c) => c.id === id)) ?? [];
  if (unknown.length > 0) throw new Error(`unknown BENCH_CASES ${unknown.join(', ')}; cases: ${CASES.map((c) => c.id).join(', ')}`);
  const cases = wanted ? CASES.filter((c) => wanted.includes(c.id)) : CASES;

  preflight();
  const tmp = mkdtempSync('/tmp/hb-');
  // Whatever happens, no process of this run (daemon, QEMU: all mention `tmp` in their argv) outlives it.
  const cleanup = async () => {
    const left = await killLeftovers(`${tmp}/`);
    if (left.length > 0) progress(`killed leftover processes of this run: ${left.join(', ')}`);
    rmSync(tmp, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      progress(`${sig}: cleaning up`);
      void cleanup().finally(() => process.exit(130));
    });
  }

  const started = performance.now();
  let busyHost = false;
  const load = async () => {
    const busy = await cpuBusy();
    const others = foreignQemuPids(`${tmp}/`).length;
    if (busy > 0.25 || others > 0) busyHost = true;
    return `CPUs ${(busy * 100).toFixed(0)}% busy, ${others} other QEMU processes`;
  };
  const loadBefore = await load();
  const sections = [header(n)];
  const goals: Goal[] = [];
  try {
    const ctx: BenchContext = { root: HANGAR_ROOT, n, tmp, progress };
    for (const c of cases) {
      progress(`case ${c.id}`);
      const t = performance.now();
      const r = await c.run(ctx);
      sections.push(`## ${r.title}`, r.markdown + (r.goals.length ? `\n\n${r.goals.map(goalLine).join('\n')}` : ''));
      goals.push(...r.goals);
      progress(`case ${c.id} done in ${((performance.now() - t) / 1000).toFixed(0)} s`);
    }
  } finally {
    await cleanup();
  }
  sections[0] += `\n\nHost activity not ours (it shares the CPUs): before the run ${loadBefore}; after it ${await load()}.`;
  if (busyHost) sections[0] += '\n\n**Warning: other work was running on this host, so timings are noisy (compare the spreads); rerun on a quiet machine before drawing conclusions.**';
  // All goals again at the end, so one glance tells.
  sections.push('## Goals', goals.length ? goals.map(goalLine).join('\n') : '(no goals in the cases run)', `_Total run time ${((performance.now() - started) / 1000).toFixed(0)} s._`);
  const report = sections.join('\n\n') + '\n';
  process.stdout.write(report);
  const out = resolve(process.env.BENCH_OUT ?? join(ROOT, 'bench', 'results', 'latest.md'));
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, report);
  progress(`report written to ${out}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
