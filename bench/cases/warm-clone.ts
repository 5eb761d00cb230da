/**
 * Warm clones against cold boots of the same guest (issue 20), in one run: debian-12,
 * 1 vCPU, 512 MiB, TCG.
 *
 * - Cold: `vm create --image debian-12 --cpus 1 --memory 512M --hostname NAME --start` (API;
 *   the hostname gives it a cloud-init seed, without which cloud-init is disabled) → QEMU running
 *   (the reply), → the guest agent answers `exec true` (polled every 250 ms), → `cloud-init
 *   status --wait` says done; BENCH_WARM_COLD_N rounds (2), each VM deleted after.
 * - Template: one such guest with `memoryBacking: 'file'`, booted (agent, cloud-init done),
 *   `template create`, then the source is stopped (the template is its own files).
 * - Warm, one clone at a time: `POST /v1/templates/T/clones` → the reply's runningMs and
 *   readyMs (the daemon's, from the request), the client's wall clock to the reply and to an
 *   `exec true` answered right after, and the CLI's `vm exec NAME -- true` alone; 1 warm-up +
 *   BENCH_WARM_N rounds (5), each clone deleted after.
 * - Burst: BENCH_WARM_BURST clones at once (20, `count`): request → reply (all ready), the
 *   per-clone spread, and every clone answering `exec true`.
 * - Memory: BENCH_WARM_MEM clones at once (10) right after ready, against as many cold guests
 *   started together and measured once every agent answers: summed PSS of the QEMU
 *   processes (/proc/PID/smaps_rollup), of which the guest-RAM mapping's (/proc/PID/smaps: the
 *   template's memory.ram for clones, QEMU's anonymous guest-RAM mapping for cold guests),
 *   the rest being QEMU's own (TCG's translation cache included), and each clone's private
 *   share of its guest-RAM mapping.
 *
 * A phase that fails (e.g. clones whose agent does not answer in time) is reported as failed
 * and its goals as not met; the other phases go on.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { CloneFromTemplateReply, Template, WarmCloneTiming } from '../../src/contract/index.js';
import { hangarCli } from '../lib/cli.js';
import { BenchDaemon } from '../lib/daemon.js';
import { sleep } from '../lib/proc.js';
import { fmtMiB, fmtMs, fmtRatio, fmtSpread, summarize } from '../lib/stats.js';
import { table, underGoal, type BenchCase, type BenchContext, type CaseResult, type Goal } from '../lib/report.js';

const run = promisify(execFile);
const IMAGE = 'debian-12';
const MEMORY_MIB = 512;
const GUEST = { image: IMAGE, cpus: 1, memory: `${MEMORY_MIB}M` } as const;
const TEMPLATE = 'deb';
/** Issue 20's goals. */
const RUNNING_GOAL_MS = 150;
const READY_GOAL_MS = 1000;
const BURST_GOAL_MS = 10_000;
const PRIVATE_GOAL_PCT = 15;

function envInt(name: string, dflt: number, min: number): number {
  const v = Number(process.env[name] ?? dflt);
  if (!Number.isInteger(v) || v < min) throw new Error(`${name} must be a whole number ≥ ${min}, got ${process.env[name]}`);
  return v;
}

const cell = (xs: number[], fmt: (x: number) => string = fmtMs) => (xs.length === 0 ? '–' : `${fmt(summarize(xs).median)} (${fmtSpread(summarize(xs), fmt)}, n=${xs.length})`);
const pct = (x: number) => `${x.toFixed(1)} %`;
const errText = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 300);

type Outcome<T> = { ok: true; value: T } | { ok: false; error: string };

async function attempt<T>(ctx: BenchContext, label: string, fn: () => Promise<T>): Promise<Outcome<T>> {
  const t0 = performance.now();
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    const error = `failed after ${fmtMs(performance.now() - t0)}: ${errText(e)}`;
    ctx.progress(`warm-clone: ${label} ${error}`);
    return { ok: false, error };
  }
}

function goalOf(o: Outcome<unknown>, name: string, measure: () => Goal): Goal {
  return o.ok ? measure() : { name, met: false, detail: `not measured: ${o.error}` };
}

// ---- guests ------------------------------------------------------------------------

/** Polls `exec true` through the agent until it answers; ms since t0. */
async function waitAgent(d: BenchDaemon, name: string, t0: number, timeoutMs: number, intervalMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await d.api.vms.exec(name, { argv: ['true'], timeoutSeconds: 5 }).then((r) => r.exitCode === 0, () => false);
    if (ok) return performance.now() - t0;
    if (Date.now() > deadline) throw new Error(`${name}: the guest agent did not answer within ${timeoutMs / 1000} s`);
    await sleep(intervalMs);
  }
}

async function cloudInitDone(d: BenchDaemon, name: string): Promise<void> {
  const r = await d.api.vms.exec(name, { argv: ['cloud-init', 'status', '--wait'], timeoutSeconds: 1800 });
  if (!r.stdout.includes('done')) throw new Error(`${name}: cloud-init status --wait: ${r.stdout.trim().split('\n').pop()} ${r.stderr.trim()}`);
}

interface ColdBoot { running: number; agent: number; cloudInit: number }

async function coldBoot(d: BenchDaemon, name: string, extra: { memoryBacking?: 'file' } = {}): Promise<ColdBoot> {
  const t0 = performance.now();
  await d.api.vms.create({ name, ...GUEST, cloudInit: { hostname: name }, ...extra, start: true });
  const running = performance.now() - t0;
  const agent = await waitAgent(d, name, t0, 900_000, 250);
  await cloudInitDone(d, name);
  return { running, agent, cloudInit: performance.now() - t0 };
}

async function deleteVms(d: BenchDaemon, names: readonly string[]): Promise<void> {
  await Promise.all(names.map((n) => d.api.vms.delete(n, { force: true }).catch(() => undefined)));
}

// ---- memory --------------------------------------------------------------------------

interface Mapping { path: string; perms: string; sizeKb: number; pssKb: number; privateKb: number; privateDirtyKb: number }

function readSmaps(pid: number): Mapping[] {
  const out: Mapping[] = [];
  let cur: Mapping | undefined;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+\s+(\S+)\s+\S+\s+\S+\s+\S+\s*(.*)$/.exec(line);
    if (head) {
      cur = { path: head[2]!.trim(), perms: head[1]!, sizeKb: 0, pssKb: 0, privateKb: 0, privateDirtyKb: 0 };
      out.push(cur);
      continue;
    }
    const m = /^(\w+):\s+(\d+) kB/.exec(line);
    if (!cur || !m) continue;
    const kb = Number(m[2]);
    if (m[1] === 'Size') cur.sizeKb += kb;
    else if (m[1] === 'Pss') cur.pssKb += kb;
    else if (m[1] === 'Private_Clean') cur.privateKb += kb;
    else if (m[1] === 'Private_Dirty') {
      cur.privateKb += kb;
      cur.privateDirtyKb += kb;
    }
  }
  return out;
}

function rollupPssKb(pid: number): number {
  const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
  if (!m) throw new Error(`no Pss in /proc/${pid}/smaps_rollup`);
  return Number(m[1]);
}

interface GuestMemory { pssKb: number; tcgPssKb: number; ramPssKb: number; ramSizeKb: number; ramPrivateKb: number; ramPrivateDirtyKb: number }

/**
 * One QEMU's PSS and its guest-RAM mapping: the VMAs of `ramFile` when given (a clone's
 * private mapping of the template's memory.ram; matched by its ending), else the largest anonymous read-write
 * mapping at least as big as the guest's RAM (QEMU's pc.ram; TCG's translation cache is
 * rwx, so it is not taken for it).
 */
function guestMemory(pid: number, ramFile?: string): GuestMemory {
  const maps = readSmaps(pid);
  const ram = ramFile
    ? maps.filter((m) => m.path.endsWith(ramFile))
    : [maps.filter((m) => m.path === '' && m.perms === 'rw-p' && m.sizeKb >= MEMORY_MIB * 1024).sort((a, b) => b.sizeKb - a.sizeKb)[0]].filter((m): m is Mapping => m !== undefined);
  if (ram.length === 0) throw new Error(`QEMU ${pid}: no guest-RAM mapping found${ramFile ? ` of ${ramFile}` : ''}`);
  const sum = (f: (m: Mapping) => number) => ram.reduce((s, m) => s + f(m), 0);
  const tcgPssKb = maps.filter((m) => m.path === '' && m.perms === 'rwxp').reduce((s, m) => s + m.pssKb, 0);
  return { pssKb: rollupPssKb(pid), tcgPssKb, ramPssKb: sum((m) => m.pssKb), ramSizeKb: sum((m) => m.sizeKb), ramPrivateKb: sum((m) => m.privateKb), ramPrivateDirtyKb: sum((m) => m.privateDirtyKb) };
}

async function measureAll(d: BenchDaemon, names: readonly string[], ramFile?: string): Promise<GuestMemory[]> {
  const pids = await Promise.all(names.map(async (n) => {
    const pid = (await d.vm(n)).pid;
    if (pid === undefined) throw new Error(`${n} has no QEMU pid`);
    return pid;
  }));
  return pids.map((pid) => guestMemory(pid, ramFile));
}

/** Bytes of a file in the page cache (fincore), or NaN. */
async function residentBytes(file: string): Promise<number> {
  try {
    const { stdout } = await run('fincore', ['--bytes', '--noheadings', '--output', 'RES', file]);
    return Number(stdout.trim());
  } catch {
    return Number.NaN;
  }
}

// ---- warm clone timings ---------------------------------------------------------------

/** Numeric fields of a timing beyond runningMs/readyMs (per-phase times the daemon may add), one level of nesting flattened. */
function extraFields(t: WarmCloneTiming): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const [k, v] of Object.entries(t as Record<string, unknown>)) {
    if (k === 'runningMs' || k === 'readyMs') continue;
    if (typeof v === 'number') out.push([k, v]);
    else if (v && typeof v === 'object' && !Array.isArray(v)) for (const [k2, v2] of Object.entries(v)) if (typeof v2 === 'number') out.push([`${k}.${k2}`, v2]);
  }
  return out;
}

function phaseRows(timings: WarmCloneTiming[]): string[][] {
  const by = new Map<string, number[]>();
  for (const t of timings) for (const [k, v] of extraFields(t)) by.set(k, [...(by.get(k) ?? []), v]);
  return [...by].map(([k, xs]) => [k, cell(xs)]);
}

interface WarmRound { timing: WarmCloneTiming; reply: number; exec: number; cli: number }

async function warmRound(ctx: BenchContext, d: BenchDaemon, name: string): Promise<WarmRound> {
  const t0 = performance.now();
  const r = await d.api.templates.clone(TEMPLATE, { name });
  const reply = performance.now() - t0;
  const ex = await d.api.vms.exec(name, { argv: ['true'], timeoutSeconds: 60 });
  const exec = performance.now() - t0;
  if (ex.exitCode !== 0) throw new Error(`${name}: exec true exited ${ex.exitCode}`);
  const cli = (await hangarCli(ctx.root, ['--socket', d.socket, 'vm', 'exec', name, '--', 'true'])).ms;
  await d.api.vms.delete(name, { force: true });
  return { timing: r.timings[0]!, reply, exec, cli };
}

interface Batch { reply: number; allExec: number; timings: WarmCloneTiming[]; names: string[] }

/** `count` clones in one request; every one then answers `exec true`. The clones are left running. */
async function warmBatch(d: BenchDaemon, prefix: string, count: number): Promise<Batch> {
  const t0 = performance.now();
  const r: CloneFromTemplateReply = await d.api.templates.clone(TEMPLATE, { name: prefix, count });
  const reply = performance.now() - t0;
  const names = r.timings.map((t) => t.vm);
  await Promise.all(names.map(async (n) => {
    const ex = await d.api.vms.exec(n, { argv: ['true'], timeoutSeconds: 120 });
    if (ex.exitCode !== 0) throw new Error(`${n}: exec true exited ${ex.exitCode}`);
  }));
  return { reply, allExec: performance.now() - t0, timings: r.timings, names };
}

// ---- the case -------------------------------------------------------------------------

function burstRows(...cols: Array<Outcome<Batch>>): string[][] {
  const mmm = (xs: number[]) => {
    const x = summarize(xs);
    return `${fmtMs(x.min)} / ${fmtMs(x.median)} / ${fmtMs(x.max)}`;
  };
  const row = (label: string, goal: string, f: (b: Batch) => string) => [label, goal, ...cols.map((c) => (c.ok ? f(c.value) : c.error))];
  const fields = [...new Set(cols.flatMap((c) => (c.ok ? c.value.timings.flatMap((t) => extraFields(t).map(([k]) => k)) : [])))];
  return [
    row('request → reply, all ready (client wall clock)', `< ${fmtMs(BURST_GOAL_MS)} (20 clones)`, (b) => fmtMs(b.reply)),
    row('request → every clone answered `exec true` (client wall clock)', '', (b) => fmtMs(b.allExec)),
    row('per clone request → running: min / median / max', '', (b) => mmm(b.timings.map((t) => t.runningMs))),
    row('per clone request → ready: min / median / max', '', (b) => mmm(b.timings.map((t) => t.readyMs))),
    row('spread of ready (max − min)', '', (b) => fmtMs(Math.max(...b.timings.map((t) => t.readyMs)) - Math.min(...b.timings.map((t) => t.readyMs)))),
    ...fields.map((k) => row(`per clone ${k}: min / median / max`, '', (b) => mmm(b.timings.flatMap((t) => extraFields(t).filter(([k2]) => k2 === k).map(([, v]) => v))))),
  ];
}

interface MemSide { all: GuestMemory[]; readyMs: number }

function memRows(cold: Outcome<MemSide>, warm: Outcome<MemSide>, n: number): string[][] {
  const v = (o: Outcome<MemSide>, f: (s: MemSide) => string) => (o.ok ? f(o.value) : o.error);
  const total = (s: MemSide, f: (g: GuestMemory) => number) => s.all.reduce((a, g) => a + f(g), 0) * 1024;
  const privPct = (g: GuestMemory) => (100 * g.ramPrivateKb) / g.ramSizeKb;
  const dirtyPct = (g: GuestMemory) => (100 * g.ramPrivateDirtyKb) / g.ramSizeKb;
  const row = (label: string, goal: string, f: (s: MemSide) => string) => [label, goal, v(cold, f), v(warm, f)];
  return [
    row(`time until all ${n} are ready (request → last agent answer / reply)`, '', (s) => fmtMs(s.readyMs)),
    row('summed PSS of the QEMU processes (smaps_rollup)', '', (s) => fmtMiB(total(s, (g) => g.pssKb))),
    row('… of which the guest-RAM mapping (smaps)', '', (s) => fmtMiB(total(s, (g) => g.ramPssKb))),
    row('… the rest: QEMU\'s own (TCG translation cache, heap, libraries)', '', (s) => fmtMiB(total(s, (g) => g.pssKb - g.ramPssKb))),
    row('… … of which TCG\'s translation cache (the rwx anonymous mapping; none under KVM)', '', (s) => fmtMiB(total(s, (g) => g.tcgPssKb))),
    row('… … QEMU\'s own without it', '', (s) => fmtMiB(total(s, (g) => g.pssKb - g.ramPssKb - g.tcgPssKb))),
    row('PSS per guest (mean)', '', (s) => fmtMiB(total(s, (g) => g.pssKb) / s.all.length)),
    row('guest-RAM PSS per guest (mean)', '', (s) => fmtMiB(total(s, (g) => g.ramPssKb) / s.all.length)),
    row('private share of the guest-RAM mapping per guest (clean + dirty), median (min – max)', `< ${PRIVATE_GOAL_PCT} % (clones, right after ready)`, (s) => {
      const x = summarize(s.all.map(privPct));
      return `${pct(x.median)} (${pct(x.min)} – ${pct(x.max)})`;
    }),
    row('… of which written (Private_Dirty), median', '', (s) => pct(summarize(s.all.map(dirtyPct)).median)),
  ];
}

export const warmCloneCase: BenchCase = {
  id: 'warm-clone',
  async run(ctx: BenchContext): Promise<CaseResult> {
    const coldN = envInt('BENCH_WARM_COLD_N', 2, 1);
    const warmN = envInt('BENCH_WARM_N', 5, 1);
    const burstN = envInt('BENCH_WARM_BURST', 20, 1);
    const memN = envInt('BENCH_WARM_MEM', 10, 1);
    const d = await BenchDaemon.start({ root: ctx.root, parent: ctx.tmp, args: ['--cpu-overcommit', String(Math.max(50, burstN, memN))] });
    try {
      const images = await d.api.call<Array<{ name: string; status: string }>>('GET', '/v1/images');
      if (images.find((i) => i.name === IMAGE)?.status !== 'ready') throw new Error(`the ${IMAGE} image is not built here (hangar image list)`);
      const notes: string[] = [];

      // Cold boots, one at a time.
      const cold: ColdBoot[] = [];
      const coldOut = await attempt(ctx, 'cold boots', async () => {
        for (let i = 1; i <= coldN; i++) {
          ctx.progress(`warm-clone: cold boot ${i}/${coldN}`);
          cold.push(await coldBoot(d, `cold${i}`));
          await d.api.vms.delete(`cold${i}`, { force: true });
        }
      });

      // The template.
      ctx.progress('warm-clone: booting the template source (file-backed memory)');
      const tmplOut = await attempt(ctx, 'template', async () => {
        const boot = await coldBoot(d, 'tsrc', { memoryBacking: 'file' });
        const t: Template = await d.api.templates.create({ name: TEMPLATE, fromVm: 'tsrc' });
        await d.api.call('POST', '/v1/vms/tsrc/stop', { force: true });
        return { boot, t };
      });
      if (tmplOut.ok) {
        const { boot, t } = tmplOut.value;
        notes.push(`- Template source (the same guest with \`memoryBacking: 'file'\`): running ${fmtMs(boot.running)}, agent ${fmtMs(boot.agent)}, cloud-init done ${fmtMs(boot.cloudInit)} after the request; \`template create\` paused it ${fmtMs(t.pauseMs)}, device state ${fmtMiB(t.stateBytes)}, memory file ${fmtMiB(t.memoryBytes)} on disk. The source was then stopped: only clones run in the warm phases.`);
      }
      const memFile = join(d.dir, 'templates', TEMPLATE, 'memory.ram');
      const noTemplate = (): never => {
        throw new Error(`no template: ${tmplOut.ok ? '' : tmplOut.error}`);
      };

      // Warm clones, one at a time (1 warm-up).
      const warm: WarmRound[] = [];
      const warmOut = await attempt(ctx, 'warm clones', async () => {
        if (!tmplOut.ok) noTemplate();
        for (let i = 0; i <= warmN; i++) {
          const r = await warmRound(ctx, d, `w${i}`);
          if (i > 0) warm.push(r);
          ctx.progress(`warm-clone: clone ${i}/${warmN}: running ${r.timing.runningMs} ms, ready ${r.timing.readyMs} ms${i === 0 ? ' (warm-up)' : ''}`);
        }
      });

      // Burst.
      ctx.progress(`warm-clone: burst of ${burstN} clones`);
      const burstOut = await attempt(ctx, 'burst', async () => {
        if (!tmplOut.ok) noTemplate();
        const b = await warmBatch(d, 'b', burstN);
        await deleteVms(d, b.names);
        return b;
      });

      // Memory: clones, then cold guests.
      ctx.progress(`warm-clone: memory of ${memN} clones`);
      const warmMem = await attempt(ctx, 'memory of clones', async (): Promise<MemSide & { resident: number; timings: WarmCloneTiming[] }> => {
        if (!tmplOut.ok) noTemplate();
        const t0 = performance.now();
        const r = await d.api.templates.clone(TEMPLATE, { name: 'm', count: memN });
        const readyMs = performance.now() - t0;
        const names = r.timings.map((t) => t.vm);
        const all = await measureAll(d, names, `/templates/${TEMPLATE}/memory.ram`);
        const resident = await residentBytes(memFile);
        await deleteVms(d, names);
        return { all, readyMs, resident, timings: r.timings };
      });
      ctx.progress(`warm-clone: ${memN} cold guests at once (minutes under TCG)`);
      const coldNames = Array.from({ length: memN }, (_, i) => `c${i + 1}`);
      const coldMem = await attempt(ctx, 'memory of cold guests', async (): Promise<MemSide> => {
        try {
          const t0 = performance.now();
          await Promise.all(coldNames.map((n) => d.api.vms.create({ name: n, ...GUEST, cloudInit: { hostname: n }, start: true })));
          ctx.progress(`warm-clone: ${memN} cold guests started in ${fmtMs(performance.now() - t0)}; waiting for their agents`);
          const agents = await Promise.all(coldNames.map((n) => waitAgent(d, n, t0, 45 * 60_000, 1000)));
          ctx.progress(`warm-clone: all ${memN} cold agents answer after ${fmtMs(Math.max(...agents))}`);
          return { all: await measureAll(d, coldNames), readyMs: Math.max(...agents) };
        } finally {
          await deleteVms(d, coldNames);
        }
      });

      // Report.
      const coldOf = (f: (c: ColdBoot) => number) => (coldOut.ok ? cell(cold.map(f)) : coldOut.error);
      const warmOf = (f: (w: WarmRound) => number) => (warmOut.ok ? cell(warm.map(f)) : warmOut.error);
      const speedup = coldOut.ok && warmOut.ok ? fmtRatio(summarize(cold.map((c) => c.agent)).median, summarize(warm.map((w) => w.timing.readyMs)).median) : '–';
      const sideBySide = table(['debian-12, 1 vCPU, 512 MiB, TCG (median (spread, n))', 'goal (warm)', 'cold boot (`vm create --hostname N --start`)', 'warm clone (one at a time)'], [
        ['request → QEMU running (cold: the create reply; warm: runningMs, state loaded)', `< ${fmtMs(RUNNING_GOAL_MS)}`, coldOf((c) => c.running), warmOf((w) => w.timing.runningMs)],
        ['request → ready (cold: agent answers `exec true`; warm: readyMs, identity done, agent answering)', `< ${fmtMs(READY_GOAL_MS)}`, coldOf((c) => c.agent), warmOf((w) => w.timing.readyMs)],
        ['request → reply (client wall clock)', '', 'as running', warmOf((w) => w.reply)],
        ['request → `exec true` answered right after the reply (client wall clock)', '', 'as ready', warmOf((w) => w.exec)],
        ['`hangar vm exec NAME -- true` alone (CLI wall clock, Node start included)', '', '', warmOf((w) => w.cli)],
        ['request → cloud-init done', '', coldOf((c) => c.cloudInit), 'done in the template'],
        ['ready: cold / warm (medians)', '', '', speedup],
      ], ['l', 'r', 'r', 'r']);

      const phases = warmOut.ok ? phaseRows(warm.map((w) => w.timing)) : [];
      const lastSteps = warmOut.ok ? warm.at(-1)?.timing.steps.join(', ') : undefined;

      const burstTable = table(['clones at once', 'goal', `${burstN} clones (\`count: ${burstN}\`)`, `${memN} clones (the memory phase's request)`],
        burstRows(burstOut, warmMem.ok ? { ok: true, value: { reply: warmMem.value.readyMs, allExec: Number.NaN, timings: warmMem.value.timings, names: [] } } : warmMem), ['l', 'r', 'r', 'r']);

      const memTable = table([`${memN} guests of 512 MiB running at once`, 'goal', `${memN} cold guests (agents answering)`, `${memN} warm clones (right after ready)`], memRows(coldMem, warmMem, memN), ['l', 'r', 'r', 'r']);
      if (warmMem.ok) notes.push(`- The template's memory file: ${fmtMiB(tmplOut.ok ? tmplOut.value.t.memoryBytes : Number.NaN)} on disk, ${fmtMiB(warmMem.value.resident)} of it in the page cache while the ${memN} clones ran (counted in the clones' PSS only for the pages they map, shared between them; cached pages no clone maps are in no process's PSS).`);

      const markdown = [
        table(['knob', 'this run'], [['cold rounds (BENCH_WARM_COLD_N)', String(coldN)], ['warm rounds (BENCH_WARM_N), +1 warm-up', String(warmN)], ['burst (BENCH_WARM_BURST)', String(burstN)], ['guests at once for memory (BENCH_WARM_MEM)', String(memN)]]),
        '',
        '### Cold boot vs warm clone',
        '',
        sideBySide,
        '',
        ...(phases.length ? ['Other per-clone fields of the reply\'s timings (ms, median (spread)):', '', table(['field', 'one at a time'], phases, ['l', 'r']), ''] : []),
        ...(lastSteps !== undefined ? [`Identity steps of the last clone: ${lastSteps}.`, ''] : []),
        '### Burst',
        '',
        burstTable,
        '',
        '### Memory',
        '',
        memTable,
        '',
        ...notes,
        '- Times in the warm column\'s first two rows are the daemon\'s (the reply\'s `timings`, from the request\'s arrival); the client rows are this process\'s wall clock over the API\'s unix socket. Cold "ready" is the first `exec true` answered, polled every 250 ms (so up to 250 ms late).',
        `- Memory: PSS (proportional set size) splits a page shared by k processes as 1/k to each. Guest RAM is the mapping of \`templates/${TEMPLATE}/memory.ram\` (private, copy-on-write) for clones and QEMU's anonymous guest-RAM mapping (the largest rw-p anonymous one ≥ 512 MiB) for cold guests; the rest is QEMU's own memory, TCG's translation cache included. "Private" counts pages only this process maps (Private_Clean + Private_Dirty); Private_Dirty alone is pages the clone wrote (copied). Cold guests are measured once all ${memN} agents answer (cloud-init may still be running in them); KSM is ${ksmState()}.`,
      ].join('\n');

      const privMax = (s: MemSide) => Math.max(...s.all.map((g) => (100 * g.ramPrivateKb) / g.ramSizeKb));
      const goals: Goal[] = [
        goalOf(warmOut, `A warm clone request → running under ${fmtMs(RUNNING_GOAL_MS)} (issue 20)`, () => underGoal(`A warm clone request → running under ${fmtMs(RUNNING_GOAL_MS)} (issue 20)`, summarize(warm.map((w) => w.timing.runningMs)).median, RUNNING_GOAL_MS, fmtMs, 'median runningMs')),
        goalOf(warmOut, `A warm clone request → ready under ${fmtMs(READY_GOAL_MS)} (issue 20)`, () => underGoal(`A warm clone request → ready under ${fmtMs(READY_GOAL_MS)} (issue 20)`, summarize(warm.map((w) => w.timing.readyMs)).median, READY_GOAL_MS, fmtMs, 'median readyMs')),
        goalOf(burstOut, `${burstN} clones at once all ready under ${fmtMs(BURST_GOAL_MS)} (issue 20)`, () => underGoal(`${burstN} clones at once all ready under ${fmtMs(BURST_GOAL_MS)} (issue 20)`, (burstOut as { value: Batch }).value.reply, BURST_GOAL_MS, fmtMs, 'request → reply')),
        goalOf(warmMem, `Each of ${memN} clones has under ${PRIVATE_GOAL_PCT} % of its guest RAM private right after ready (issue 20)`, () => underGoal(`Each of ${memN} clones has under ${PRIVATE_GOAL_PCT} % of its guest RAM private right after ready (issue 20)`, privMax((warmMem as { value: MemSide }).value), PRIVATE_GOAL_PCT, pct, 'largest share')),
      ];
      return { title: 'Warm clones vs cold boots (debian-12, 512 MiB)', markdown, goals };
    } finally {
      await d.deleteAllVms().catch(() => undefined);
      await d.stop();
    }
  },
};

function ksmState(): string {
  try {
    return readFileSync('/sys/kernel/mm/ksm/run', 'utf8').trim() === '1' ? 'on (it may merge cold guests\' pages)' : 'off';
  } catch {
    return 'unknown';
  }
}
