/**
 * Save and restore of a tiny guest: Hangar's `vm save` / `vm start` against the same QEMU
 * argv driven by hand over QMP with QEMU 7.2's default migration parameters (max-bandwidth
 * 128 MiB/s), both through a unix socket into a file that is fsynced at the end. The guest
 * is paused for the save in both, so each page is sent once. Times are wall clock from the
 * request to the end (save: file complete and fsynced, QEMU gone for Hangar; restore: guest
 * running again).
 *
 * Two kinds of guest (issue 8: "migration to a file at full disk speed"):
 *   idle   128 MiB and 512 MiB, just booted: the stream is mostly zero pages (a flag each),
 *          so it says little about disk speed. The by-hand guest boots afresh every cycle.
 *   dirty  512 MiB (and 1 GiB) with most of its RAM filled once with non-zero data in a
 *          tmpfs (a 1 MiB random seed repeated: QEMU 7.2 sends every non-zero page in full);
 *          the data survives each restore, so the same guest is saved and restored over and
 *          over, Hangar's and the by-hand one alike. The disk's own sequential write speed
 *          is measured in the same run, on the same filesystem, between the cycles. To see
 *          where the time goes, the by-hand guest is also saved without QEMU's cap into
 *          Hangar's own SaveSink in a bare node process, into `dd bs=1M`, and to /dev/null
 *          (each then resumed with `cont`); the file polled every 5 ms gives first byte,
 *          last byte and the end of the fsync, /proc gives each thread's CPU.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { OperationRecord } from '../../src/operations/service.js';
import type { QmpClient } from '../../src/qmp/index.js';
import type { VmView } from '../../src/vm/service.js';
import { cell, med } from '../lib/compare.js';
import { hangarConsole } from '../lib/console.js';
import { BenchDaemon } from '../lib/daemon.js';
import { readCmdline, sleep } from '../lib/proc.js';
import { loadQmp } from '../lib/raw-guest.js';
import { rawPaths, type RawPaths } from '../lib/raw-qemu.js';
import { fileSize, waitForMarker } from '../lib/serial.js';
import { fmtMs, summarize } from '../lib/stats.js';
import { table, type BenchCase, type BenchContext, type CaseResult, type Goal } from '../lib/report.js';

const SIZES = ['128M', '512M'] as const;

const MiB = 2 ** 20;

/** Dirty guests: RAM and how much of it is filled with data (tmpfs /dev/shm, remounted to hold it). */
const DIRTY = [
  { label: '512 MiB', memory: '512M', fillMiB: 336 },
  { label: '1 GiB', memory: '1G', fillMiB: 768 },
] as const;
/** Dirty cycles per guest (each moves hundreds of MB several times): at most this many unless BENCH_SAVE_DIRTY_N says otherwise. */
const DIRTY_N_DEFAULT_MAX = 4;
/** The disk's own speed: this much written with Node's fs in 1 MiB writes, then fsync; one round before each dirty cycle. */
const DISK_BYTES = 2 ** 30;
const DISK_CHUNK = MiB;

/** Goals from issue 8 (reported, not asserted). */
const DISK_RATIO_GOAL = 0.8;
const SPEEDUP_GOAL = 2;

/** Hangar's "no cap" (src/migration/params.ts UNLIMITED_BANDWIDTH) and QEMU 7.2's default max-bandwidth. */
const UNLIMITED_BANDWIDTH = 2 ** 40;
const QEMU_DEFAULT_BANDWIDTH = 128 * 2 ** 20;

const FILL_DONE = 'MIB-42';
/** Typed on the guest's console (busybox ash): a 1 MiB random seed, cat'ed `mib` times into /dev/shm/fill; prints HG-FILL-<MiB>-MIB-42 (computed, so the echoed line does not match). */
const fillCommand = (mib: number) =>
  'mount -o remount,size=95% /dev/shm; dd if=/dev/urandom of=/dev/shm/seed bs=1M count=1 2>/dev/null; set --; i=0; ' +
  `while [ $i -lt ${mib} ]; do set -- "$@" /dev/shm/seed; i=$((i+1)); done; cat "$@" > /dev/shm/fill; rm -f /dev/shm/seed; set --; ` +
  'echo HG-FILL-$(( $(stat -c %s /dev/shm/fill) / 1048576 ))-MIB-$((40+2))';

function filledMiB(text: string): number {
  const all = [...text.matchAll(/HG-FILL-(\d+)-MIB-42/g)];
  return all.length > 0 ? Number(all[all.length - 1]![1]) : Number.NaN;
}

/** One save + restore, Hangar's or by hand, in the same terms. NaN where not known. */
interface Sample {
  /** Request (QMP `stop` by hand) → the file is complete and fsynced (Hangar: and QEMU has quit). */
  saveMs: number;
  restoreMs: number;
  /** The stream's size (the file). */
  bytes: number;
  /** QEMU's own average rate over the migration (query-migrate `ram.mbps` / 8), MB/s. */
  qemuMBps: number;
  /** Request → the first byte is in the file. */
  firstByteMs: number;
  /** Request → the last byte is in the file (page cache, not yet on disk). */
  lastByteMs: number;
  /** Request → the fsync is done (Hangar: the temp file renamed into place, which follows the fsync). */
  durableMs: number;
  /** Hangar: the daemon's own `seconds` (its clock starts after the request arrived and stops before QEMU quits). */
  daemonMs?: number;
  /** CPU over the stream (first → last byte), % of one core. */
  cpu: StreamCpu;
  /** The process that copies the file into QEMU (the daemon; by hand the bench), CPU over the whole restore, % of one core. */
  restoreCpu: number;
}

interface StreamCpu {
  /** QEMU's migration thread (`live_migration`, named by -name debug-threads=on). */
  migration: number;
  /** QEMU's other threads (main loop, vCPU, RCU, …). */
  qemuOther: number;
  /** The process that reads the socket (the daemon, the bench, save-sink.mjs or dd): its main thread. */
  sinkMain: number;
  /** … and its other threads (for node: libuv's pool doing the writes, V8's GC and compiler helpers). */
  sinkOther: number;
  /** The busiest of those, one by one (Node names them all `node`): e.g. "40 %, 12 %, 3 %". */
  sinkThreads: string;
}

interface DiskSample {
  /** 1 MiB writes into the page cache. */
  writeMs: number;
  fsyncMs: number;
}

async function waitOp(d: BenchDaemon, id: string): Promise<OperationRecord> {
  for (;;) {
    const op = await d.api.call<OperationRecord>('GET', `/v1/operations/${id}?wait=1`);
    if (op.state !== 'running') return op;
    await sleep(20);
  }
}

/** HANGAR-GUEST-READY in the VM's log and, with `prompt`, the shell prompt after it (input typed earlier is dropped). */
async function waitReady(d: BenchDaemon, name: string, prompt = false): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    const r = await d.api.call<{ data: string }>('GET', `/v1/vms/${name}/logs?tail=4096`);
    const at = r.data.lastIndexOf('HANGAR-GUEST-READY');
    if (at >= 0 && (!prompt || r.data.indexOf('# ', at) > at)) return;
    await sleep(100);
  }
  throw new Error(`${name} did not boot`);
}

/**
 * Follows a file's size every 5 ms: when it first had bytes, when it last grew, and when it
 * disappeared after that (Hangar renames its temp file once the fsync is done).
 */
function watchFile(path: string): () => { first: number; last: number; gone: number; size: number } {
  let first = Number.NaN;
  let last = Number.NaN;
  let gone = Number.NaN;
  let size = 0;
  const tick = () => {
    const now = performance.now();
    let s: number | undefined;
    try {
      s = statSync(path).size;
    } catch {
      s = undefined;
    }
    if (s === undefined) {
      if (size > 0 && Number.isNaN(gone)) gone = now;
      return;
    }
    if (s > 0 && Number.isNaN(first)) first = now;
    if (s !== size) {
      size = s;
      last = now;
    }
  };
  const timer = setInterval(tick, 5);
  return () => {
    clearInterval(timer);
    tick();
    return { first, last, gone, size };
  };
}

/** QEMU's Mbit/s from the save operation's last progress message (`… N Mbit/s …`), as MB/s. */
function qemuRateOf(op: OperationRecord): number {
  const m = /([\d.]+) Mbit\/s/.exec(String((op.progress as { message?: string }).message ?? ''));
  return m ? Number(m[1]) / 8 : Number.NaN;
}

// ---- CPU ------------------------------------------------------------------------

/** USER_HZ: /proc's CPU times are in these ticks (100 on Linux x86). */
const CLK_TCK = 100;

/** CPU time (ms) of a process: all of it (/proc/PID/stat, exited threads included) and each live thread's (by tid). */
interface ProcCpu {
  total: number;
  threads: Map<number, { name: string; ms: number }>;
}

function ticksOf(stat: string): { name: string; ms: number } {
  const close = stat.lastIndexOf(')');
  const f = stat.slice(close + 2).split(' ');
  // Fields after the name start at field 3 (state): utime is field 14, stime 15.
  return { name: stat.slice(stat.indexOf('(') + 1, close), ms: ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK };
}

function procCpu(pid: number): ProcCpu | undefined {
  try {
    const total = ticksOf(readFileSync(`/proc/${pid}/stat`, 'utf8')).ms;
    const threads = new Map<number, { name: string; ms: number }>();
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        threads.set(Number(tid), ticksOf(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')));
      } catch {
        // the thread ended
      }
    }
    return { total, threads };
  } catch {
    return undefined;
  }
}

/** CPU ms between two samples of a process, per thread that lived through both, keyed by thread name (the main thread as `main`). */
function threadDeltas(pid: number, a: ProcCpu, b: ProcCpu): Map<string, number> {
  const out = new Map<string, number>();
  for (const [tid, t] of b.threads) {
    const before = a.threads.get(tid);
    if (!before) continue;
    const key = tid === pid ? 'main' : t.name;
    out.set(key, (out.get(key) ?? 0) + t.ms - before.ms);
  }
  return out;
}

/** Samples QEMU's and the sink process's CPU every 50 ms until stopped. */
class CpuSampler {
  private readonly points: Array<{ t: number; qemu?: ProcCpu; sink?: ProcCpu }> = [];
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly qemuPid: number, public sinkPid: number) {
    this.tick();
    this.timer = setInterval(() => this.tick(), 50);
  }

  private tick(): void {
    this.points.push({ t: performance.now(), qemu: procCpu(this.qemuPid), sink: procCpu(this.sinkPid) });
  }

  /** Stops sampling; CPU % of one core in [from, to] (performance.now()), between the first and last samples inside it that saw QEMU's migration thread. */
  stop(from: number, to: number): StreamCpu {
    clearInterval(this.timer);
    const hasMigration = (c?: ProcCpu) => [...(c?.threads.values() ?? [])].some((t) => t.name === MIGRATION_THREAD);
    const inside = this.points.filter((p) => p.t >= from && p.t <= to && hasMigration(p.qemu) && p.sink);
    const a = inside[0];
    const b = inside[inside.length - 1];
    if (!a || !b || b.t - a.t < 100) return { migration: Number.NaN, qemuOther: Number.NaN, sinkMain: Number.NaN, sinkOther: Number.NaN, sinkThreads: '' };
    const pct = (ms: number) => (ms / (b.t - a.t)) * 100;
    const q = threadDeltas(this.qemuPid, a.qemu!, b.qemu!);
    const k = threadDeltas(this.sinkPid, a.sink!, b.sink!);
    const sumBut = (m: Map<string, number>, but: string) => [...m].reduce((x, [name, ms]) => (name === but ? x : x + ms), 0);
    return {
      migration: pct(q.get(MIGRATION_THREAD) ?? Number.NaN),
      qemuOther: pct(sumBut(q, MIGRATION_THREAD)),
      sinkMain: pct(k.get('main') ?? Number.NaN),
      sinkOther: pct(sumBut(k, 'main')),
      sinkThreads: [...b.sink!.threads]
        .filter(([tid]) => tid !== this.sinkPid && a.sink!.threads.has(tid))
        .map(([tid, t]) => pct(t.ms - a.sink!.threads.get(tid)!.ms))
        .sort((x, y) => y - x)
        .slice(0, 3)
        .filter((x) => x >= 1)
        .map((x) => `${x.toFixed(0)} %`)
        .join(', '),
    };
  }
}

const MIGRATION_THREAD = 'live_migration';

/** A whole process's CPU ms (NaN if gone). */
function processMs(pid: number): number {
  return procCpu(pid)?.total ?? Number.NaN;
}

async function hangarCycle(d: BenchDaemon, name: string, partial: string): Promise<Sample> {
  const qemuPid = (await d.vm(name)).pid!;
  const stopWatch = watchFile(partial);
  const cpu = new CpuSampler(qemuPid, d.pid);
  let t = performance.now();
  const t0 = t;
  const op = await d.api.call<OperationRecord>('POST', `/v1/vms/${name}/save`, {});
  const done = await waitOp(d, op.id);
  const saveMs = performance.now() - t;
  const f = stopWatch();
  const streamCpu = cpu.stop(f.first, f.last);
  if (done.state !== 'succeeded') throw new Error(`save of ${name}: ${done.error?.message}`);
  const r = done.result as { bytes: number; seconds: number };
  const c0 = processMs(d.pid);
  t = performance.now();
  await d.api.call<VmView>('POST', `/v1/vms/${name}/start`, {});
  const restoreMs = performance.now() - t;
  return {
    saveMs, restoreMs, bytes: r.bytes, qemuMBps: qemuRateOf(done),
    firstByteMs: f.first - t0, lastByteMs: f.last - t0, durableMs: f.gone - t0, daemonMs: r.seconds * 1000,
    cpu: streamCpu, restoreCpu: ((processMs(d.pid) - c0) / restoreMs) * 100,
  };
}

// ---- by hand -------------------------------------------------------------------

/** Where a by-hand save goes (see ByHand.save). */
type HandSink = { kind: 'bench' } | { kind: 'savesink'; daemonHeap: boolean } | { kind: 'dd'; toNull: boolean };

const SAVE_SINK = fileURLToPath(new URL('../lib/save-sink.mjs', import.meta.url));

type MigrateInfo = { status?: string; 'total-time'?: number; ram?: { transferred?: number; mbps?: number }; 'error-desc'?: string };

async function untilMigrated(qmp: QmpClient): Promise<MigrateInfo> {
  for (;;) {
    let s = await qmp.execute<MigrateInfo>('query-migrate');
    if (s.status === 'completed') {
      // QEMU 7.2 says completed a moment before it fills in its figures.
      for (let i = 0; i < 100 && !s['total-time']; i++) {
        await sleep(1);
        s = await qmp.execute<MigrateInfo>('query-migrate');
      }
      return s;
    }
    if (s.status === 'failed' || s.status === 'cancelled') throw new Error(`by-hand migration ${s.status}: ${s['error-desc']}`);
    await sleep(20);
  }
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
}

/**
 * The argv Hangar gave QEMU, by hand in a directory of its own, with QEMU's default
 * migration parameters: launch, save to a file (fsynced), quit, restore from it.
 */
class ByHand {
  readonly p: RawPaths;
  private child?: ChildProcess;
  private qmp?: QmpClient;
  /** A sink process of the save under way (save-sink.mjs, dd): stopped by quit() if a save fails. */
  private helper?: ChildProcess;

  constructor(
    private readonly root: string,
    private readonly qmpModule: Awaited<ReturnType<typeof loadQmp>>,
    private readonly binary: string,
    private readonly args: readonly string[],
    readonly dir: string,
  ) {
    this.p = rawPaths(dir);
  }

  get file(): string {
    return join(this.dir, 'state.bin');
  }

  /** Spawns QEMU (kept before the QMP handshake, so quit() can always stop it) and connects QMP. */
  private async launch(extra: string[]): Promise<QmpClient> {
    mkdirSync(this.p.runDir, { recursive: true });
    mkdirSync(this.p.logDir, { recursive: true });
    const child = spawn(this.binary, [...this.args, ...extra], { detached: true, stdio: 'ignore' });
    child.unref();
    this.child = child;
    this.qmp = await this.qmpModule.QmpClient.connect(this.p.qmpSocket, { retryUntilMs: 15_000, retryIntervalMs: 2, commandTimeoutMs: 120_000 });
    return this.qmp;
  }

  /** A fresh boot: `cont`, then HANGAR-GUEST-READY (and with `prompt` the shell prompt after it) in the serial log. */
  async boot(prompt = false): Promise<void> {
    const qmp = await this.launch([]);
    await qmp.execute('cont');
    for (let i = 0; ; i++) {
      let text = '';
      try {
        text = readFileSync(this.p.serialLog, 'latin1');
      } catch {
        // not there yet
      }
      const at = text.lastIndexOf('HANGAR-GUEST-READY');
      if (at >= 0 && (!prompt || text.indexOf('# ', at) > at)) return;
      if (i > 1200) throw new Error(`the by-hand guest did not boot; see ${this.p.serialLog}`);
      await sleep(100);
    }
  }

  /** Types `command` on the serial socket and waits for `marker`; returns what the guest printed meanwhile. */
  async serialRun(command: string, marker: string, timeoutMs: number): Promise<string> {
    const s = createConnection(join(this.p.runDir, 'serial.sock'));
    await new Promise<void>((resolve, reject) => {
      s.once('connect', resolve);
      s.once('error', reject);
    });
    s.on('data', () => undefined); // the chardev's logfile keeps what the guest says
    s.on('error', () => undefined);
    try {
      const offset = fileSize(this.p.serialLog);
      s.write(`${command}\n`);
      await waitForMarker(this.p.serialLog, offset, { marker, timeoutMs, intervalMs: 50 });
      return readFileSync(this.p.serialLog, 'latin1').slice(offset);
    } finally {
      s.destroy();
    }
  }

  /**
   * `stop`, `migrate unix:…` into a socket, until completed. Sinks:
   *   bench     the bench's own process pipes the socket into the file (Node streams, a byte
   *             counter in between, as the daemon's sink), fsync; then `quit` (restore follows).
   *   savesink  Hangar's SaveSink (dist/migration/stream.js) in a node process of its own
   *             (save-sink.mjs), with Node's default heap or the daemon's; then `cont`.
   *   dd        the connection handed to `dd bs=1M` (its stdin), into the file (then fsync) or
   *             /dev/null (QEMU's ceiling: no JavaScript, nothing written); then `cont`.
   * `uncapped`: max-bandwidth as Hangar sets it for this one migration, then back to QEMU 7.2's
   * default (128 MiB/s), so the next default save is one.
   */
  async save(sink: HandSink = { kind: 'bench' }, uncapped = false): Promise<Omit<Sample, 'restoreMs' | 'restoreCpu'>> {
    const qmp = this.qmp!;
    const sock = join(this.p.runDir, 'save.sock');
    rmSync(sock, { force: true });
    rmSync(this.file, { force: true });
    if (uncapped) await qmp.execute('migrate-set-parameters', { 'max-bandwidth': UNLIMITED_BANDWIDTH });
    const toFile = !(sink.kind === 'dd' && sink.toNull);
    const stopWatch = watchFile(sink.kind === 'savesink' ? `${this.file}.partial` : this.file);
    const cpu = new CpuSampler(this.child!.pid!, process.pid);
    let bytes = 0;
    let connectedAt = Number.NaN;
    let received: Promise<void>;
    if (sink.kind === 'savesink') {
      const child = spawn(process.execPath, [SAVE_SINK, this.root, sock, this.file, ...(sink.daemonHeap ? ['daemon-heap'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
      this.helper = child;
      cpu.sinkPid = child.pid!;
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      for (let i = 0; !out.includes('listening'); i++) {
        if (child.exitCode !== null || i > 1000) throw new Error(`the save sink did not listen: ${err}`);
        await sleep(5);
      }
      received = exited(child).then(() => {
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (child.exitCode !== 0 || !line) throw new Error(`the save sink failed (exit ${child.exitCode}): ${err}`);
        bytes = (JSON.parse(line) as { bytes: number }).bytes;
      });
    } else {
      received = new Promise<void>((resolve, reject) => {
        // dd gets the connection as it is: nothing may be read from it here first.
        const srv = createServer({ pauseOnConnect: sink.kind === 'dd' }, (c) => {
          srv.close();
          connectedAt = performance.now();
          if (sink.kind === 'bench') {
            const counter = new Transform({
              transform(chunk: Buffer, _enc, cb) {
                bytes += chunk.length;
                cb(null, chunk);
              },
            });
            pipeline(c, counter, createWriteStream(this.file)).then(resolve, reject);
            return;
          }
          const dd = spawn('dd', [`of=${toFile ? this.file : '/dev/null'}`, 'bs=1M', 'iflag=fullblock'], { stdio: [c, 'ignore', 'pipe'] });
          this.helper = dd;
          cpu.sinkPid = dd.pid!;
          c.destroy(); // dd has its own copy of the descriptor
          let err = '';
          dd.stderr!.on('data', (x: Buffer) => (err += x.toString()));
          dd.once('error', reject);
          dd.once('exit', (code) => {
            const m = /^(\d+) bytes/m.exec(err);
            if (code !== 0 || !m) return reject(new Error(`dd failed (exit ${code}): ${err}`));
            bytes = Number(m[1]);
            resolve();
          });
        }).listen(sock);
      });
    }
    const t0 = performance.now();
    await qmp.execute('stop');
    await qmp.execute('migrate', { uri: `unix:${sock}` });
    const info = await untilMigrated(qmp);
    await received;
    const endAt = performance.now();
    this.helper = undefined;
    if (toFile && sink.kind !== 'savesink') {
      const fh = await open(this.file, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    const doneAt = performance.now();
    const f = stopWatch();
    // The file's first bytes and last growth as seen by the 5 ms poll (as for Hangar); for
    // /dev/null, the connection and dd's exit. The bench's own sink: the end of its pipeline.
    const first = toFile ? f.first : connectedAt;
    const last = sink.kind === 'bench' ? endAt : toFile ? f.last : endAt;
    const durable = sink.kind === 'savesink' ? f.gone : toFile ? doneAt : Number.NaN;
    const streamCpu = cpu.stop(first, last);
    if (sink.kind === 'bench') await this.quit();
    else await qmp.execute('cont');
    if (uncapped) await this.qmp?.execute('migrate-set-parameters', { 'max-bandwidth': QEMU_DEFAULT_BANDWIDTH });
    if (sink.kind !== 'bench') rmSync(this.file, { force: true });
    return {
      saveMs: toFile ? doneAt - t0 : Number.NaN, bytes, qemuMBps: (info.ram?.mbps ?? Number.NaN) / 8,
      firstByteMs: first - t0, lastByteMs: last - t0, durableMs: durable - t0, cpu: streamCpu,
    };
  }

  /** The same argv with `-incoming defer`, `migrate-incoming unix:…`, the file sent, completed, `cont`. */
  async restore(): Promise<{ restoreMs: number; restoreCpu: number }> {
    const c0 = process.cpuUsage();
    const t = performance.now();
    const qmp = await this.launch(['-incoming', 'defer']);
    const insock = join(this.p.runDir, 'in.sock');
    await qmp.execute('migrate-incoming', { uri: `unix:${insock}` });
    const c = createConnection(insock);
    await pipeline(createReadStream(this.file), c);
    await untilMigrated(qmp);
    await qmp.execute('cont');
    const ms = performance.now() - t;
    const used = process.cpuUsage(c0);
    rmSync(this.file, { force: true });
    return { restoreMs: ms, restoreCpu: ((used.user + used.system) / 1000 / ms) * 100 };
  }

  /** QMP `quit`, SIGKILL if QEMU lingers; the process is gone afterwards. */
  async quit(): Promise<void> {
    const { child, qmp, helper } = this;
    this.child = undefined;
    this.qmp = undefined;
    this.helper = undefined;
    if (helper && helper.exitCode === null && helper.signalCode === null) {
      helper.kill('SIGKILL');
      await exited(helper);
    }
    if (!child) return;
    qmp?.execute('quit').catch(() => undefined);
    const done = await Promise.race([exited(child).then(() => true), sleep(5000).then(() => false)]);
    if (!done && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // gone
      }
      await exited(child);
    }
    await qmp?.close().catch(() => undefined);
  }
}

// ---- the disk ------------------------------------------------------------------

/** DISK_BYTES in DISK_CHUNK writes of random data (one chunk repeated, like the guests' fill) to a new file in `dir`, then fsync; the file is removed. */
async function diskRound(dir: string, chunk: Buffer): Promise<DiskSample> {
  const file = join(dir, 'disk-speed.bin');
  const fh = await open(file, 'wx', 0o600);
  try {
    const t0 = performance.now();
    for (let off = 0; off < DISK_BYTES; ) {
      const { bytesWritten } = await fh.write(chunk, 0, Math.min(chunk.length, DISK_BYTES - off));
      off += bytesWritten;
    }
    const t1 = performance.now();
    await fh.sync();
    return { writeMs: t1 - t0, fsyncMs: performance.now() - t1 };
  } finally {
    await fh.close();
    await rm(file, { force: true });
  }
}

// ---- the case ------------------------------------------------------------------

type System = 'hangar' | 'hand' | 'sinkDaemonHeap' | 'sinkDefaultHeap' | 'dd' | 'null';

const SYSTEM_LABEL: Record<System, string> = {
  hangar: 'Hangar (explicit parameters)',
  hand: 'by hand, QEMU 7.2 defaults',
  sinkDaemonHeap: "by hand, no cap, Hangar's SaveSink alone (daemon's heap flags)",
  sinkDefaultHeap: "by hand, no cap, Hangar's SaveSink alone (Node's default heap)",
  dd: 'by hand, no cap, `dd bs=1M` into the file',
  null: 'by hand, no cap, `dd bs=1M` to /dev/null',
};
const ORDER: readonly System[] = ['hangar', 'hand', 'sinkDaemonHeap', 'sinkDefaultHeap', 'dd', 'null'];

interface DirtyResult {
  label: string;
  fillMiB: number;
  fillMs: { hangar: number; hand: number };
  samples: Record<System, Sample[]>;
}

const col = (s: readonly Sample[], f: (x: Sample) => number): number[] => s.map(f).filter((x) => Number.isFinite(x));
const mb = (bytes: number) => bytes / 1e6;
const fmtMB = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–');
const fmtRate = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '–');
const fmtPct = (x: number) => (Number.isFinite(x) ? `${x.toFixed(0)} %` : '–');
/** Stream MB per second of `ms`. */
const rate = (s: Sample, ms: number) => mb(s.bytes) / (ms / 1000);

function argvFor(d: BenchDaemon, vm: VmView, dir: string): { binary: string; args: string[] } {
  const cmd = readCmdline(vm.pid!);
  if (!cmd) throw new Error(`cannot read the argv of ${vm.name}`);
  const [binary, ...rawArgs] = cmd as [string, ...string[]];
  const p = rawPaths(dir);
  const args = rawArgs.map((a) => a.replaceAll(join(d.dir, 'run', 'vms', vm.id), p.runDir).replaceAll(join(d.dir, 'logs', vm.id), p.logDir));
  const stale = args.find((a) => a.includes(d.dir));
  if (stale !== undefined) throw new Error(`by-hand argv still points into the daemon's dir: ${stale}`);
  return { binary, args };
}

export const saveRestoreCase: BenchCase = {
  id: 'save-restore',
  async run(ctx: BenchContext): Promise<CaseResult> {
    const env = process.env.BENCH_SAVE_DIRTY_N;
    const dirtyN = env !== undefined ? Number(env) : Math.min(ctx.n, DIRTY_N_DEFAULT_MAX);
    if (!Number.isInteger(dirtyN) || dirtyN < 1) throw new Error(`BENCH_SAVE_DIRTY_N must be a whole number ≥ 1, got ${env}`);
    const qmpModule = await loadQmp(ctx.root);
    const d = await BenchDaemon.start({ root: ctx.root, parent: ctx.tmp });
    const rows: string[][] = [];
    const dirty: DirtyResult[] = [];
    const disk: DiskSample[] = [];
    let hand: ByHand | undefined;
    try {
      // ---- idle guests -----------------------------------------------------------
      for (const size of SIZES) {
        const name = `sr${size.toLowerCase()}`;
        const vm = await d.api.call<VmView>('POST', '/v1/vms', { name, image: 'tiny', cpus: 1, memory: size, start: true });
        await waitReady(d, name);
        const dir = join(ctx.tmp, `hand-${name}`);
        const { binary, args } = argvFor(d, vm, dir);
        const partial = join(d.dir, 'vms', vm.id, 'saved-state.bin.partial');
        const hangar: Sample[] = [];
        const byHand: Sample[] = [];
        for (let i = 0; i <= ctx.n; i++) {
          ctx.progress(`save-restore: idle ${size} iteration ${i}/${ctx.n}`);
          const h = await hangarCycle(d, name, partial);
          rmSync(dir, { recursive: true, force: true });
          hand = new ByHand(ctx.root, qmpModule, binary, args, dir);
          await hand.boot();
          const s = await hand.save();
          const r = await hand.restore();
          await hand.quit();
          hand = undefined;
          if (i > 0) {
            hangar.push(h);
            byHand.push({ ...s, ...r });
          }
        }
        for (const [system, s] of [[SYSTEM_LABEL.hangar, hangar], [SYSTEM_LABEL.hand, byHand]] as const) {
          const save = summarize(s.map((x) => x.saveMs));
          const restore = summarize(s.map((x) => x.restoreMs));
          const m = mb(s[0]!.bytes);
          rows.push([size, system, m.toFixed(1), fmtMs(save.median), (m / (save.median / 1000)).toFixed(0), fmtMs(restore.median), (m / (restore.median / 1000)).toFixed(0)]);
        }
        await d.api.call('DELETE', `/v1/vms/${name}?force=true`);
        rmSync(dir, { recursive: true, force: true });
      }

      // ---- dirty guests ----------------------------------------------------------
      const chunk = Buffer.alloc(DISK_CHUNK);
      randomFillSync(chunk);
      for (const g of DIRTY) {
        const name = `srd${g.memory.toLowerCase()}`;
        ctx.progress(`save-restore: dirty ${g.label}: booting the Hangar guest and the by-hand one`);
        const vm = await d.api.call<VmView>('POST', '/v1/vms', { name, image: 'tiny', cpus: 1, memory: g.memory, start: true });
        const dir = join(ctx.tmp, `hand-${name}`);
        const { binary, args } = argvFor(d, vm, dir);
        const partial = join(d.dir, 'vms', vm.id, 'saved-state.bin.partial');
        rmSync(dir, { recursive: true, force: true });
        hand = new ByHand(ctx.root, qmpModule, binary, args, dir);
        const byHand = hand;
        await Promise.all([waitReady(d, name, true), byHand.boot(true)]);
        ctx.progress(`save-restore: dirty ${g.label}: filling ${g.fillMiB} MiB of guest RAM in each`);
        const fillMs = { hangar: Number.NaN, hand: Number.NaN };
        const cmd = fillCommand(g.fillMiB);
        const [hOut, rOut] = await Promise.all([
          (async () => {
            const t = performance.now();
            const out = await hangarConsole(ctx.root, d.socket, name, `${cmd}\n`, FILL_DONE, 240_000);
            fillMs.hangar = performance.now() - t;
            return out;
          })(),
          (async () => {
            const t = performance.now();
            const out = await byHand.serialRun(cmd, FILL_DONE, 240_000);
            fillMs.hand = performance.now() - t;
            return out;
          })(),
        ]);
        for (const [who, out] of [['Hangar', hOut], ['by-hand', rOut]] as const) {
          if (filledMiB(out) !== g.fillMiB) throw new Error(`the ${who} guest (${g.label}) filled ${filledMiB(out)} MiB, not ${g.fillMiB}: ${out.slice(-600)}`);
        }
        ctx.progress(`save-restore: dirty ${g.label}: filled (Hangar ${fmtMs(fillMs.hangar)}, by hand ${fmtMs(fillMs.hand)})`);
        const r: DirtyResult = { label: g.label, fillMiB: g.fillMiB, fillMs, samples: { hangar: [], hand: [], sinkDaemonHeap: [], sinkDefaultHeap: [], dd: [], null: [] } };
        const noRestore = { restoreMs: Number.NaN, restoreCpu: Number.NaN };
        for (let i = 0; i <= dirtyN; i++) {
          ctx.progress(`save-restore: dirty ${g.label} iteration ${i}/${dirtyN}${i === 0 ? ' (warm-up)' : ''}`);
          const ds = await diskRound(ctx.tmp, chunk);
          const got: Record<System, Sample> = {
            hangar: await hangarCycle(d, name, partial),
            sinkDaemonHeap: { ...(await byHand.save({ kind: 'savesink', daemonHeap: true }, true)), ...noRestore },
            sinkDefaultHeap: { ...(await byHand.save({ kind: 'savesink', daemonHeap: false }, true)), ...noRestore },
            dd: { ...(await byHand.save({ kind: 'dd', toNull: false }, true)), ...noRestore },
            null: { ...(await byHand.save({ kind: 'dd', toNull: true }, true)), ...noRestore },
            hand: { ...(await byHand.save()), ...(await byHand.restore()) },
          };
          // The data must still be there: a stream smaller than the fill means the guest lost it.
          for (const [system, x] of Object.entries(got)) {
            if (x.bytes < g.fillMiB * MiB) throw new Error(`${SYSTEM_LABEL[system as System]}: the save of the dirty ${g.label} guest is ${fmtMB(mb(x.bytes))} MB, less than its ${g.fillMiB} MiB of data`);
          }
          ctx.progress(
            `save-restore: dirty ${g.label}: disk ${fmtRate(mb(DISK_BYTES) / ((ds.writeMs + ds.fsyncMs) / 1000))} MB/s; ` +
              ORDER.map((k) => `${k} ${fmtMs(got[k].saveMs)} (${fmtMB(mb(got[k].bytes))} MB, stream ${fmtRate(rate(got[k], got[k].lastByteMs - got[k].firstByteMs))} MB/s; sink main ${fmtPct(got[k].cpu.sinkMain)}, others [${got[k].cpu.sinkThreads}])`).join(', '),
          );
          if (i > 0) {
            disk.push(ds);
            for (const k of ORDER) r.samples[k].push(got[k]);
          }
        }
        dirty.push(r);
        await byHand.quit();
        hand = undefined;
        await d.api.call('DELETE', `/v1/vms/${name}?force=true`);
        rmSync(dir, { recursive: true, force: true });
      }
    } finally {
      await hand?.quit().catch(() => undefined);
      await d.stop();
    }
    return report(rows, dirty, disk, ctx.n, dirtyN);
  },
};

function report(idleRows: string[][], dirty: DirtyResult[], disk: DiskSample[], n: number, dirtyN: number): CaseResult {
  const diskRates = disk.map((x) => mb(DISK_BYTES) / ((x.writeMs + x.fsyncMs) / 1000));
  const diskMBps = med(diskRates);
  const diskCacheMBps = med(disk.map((x) => mb(DISK_BYTES) / (x.writeMs / 1000)));
  const diskFsyncMBps = med(disk.map((x) => mb(DISK_BYTES) / (x.fsyncMs / 1000)));
  const stream = (x: Sample) => x.lastByteMs - x.firstByteMs;

  const main: string[][] = [];
  const split: string[][] = [];
  const cpu: string[][] = [];
  for (const r of dirty) {
    for (const k of ORDER) {
      const s = r.samples[k];
      const label = SYSTEM_LABEL[k];
      const durable = k !== 'null';
      const saveRates = s.map((x) => rate(x, x.saveMs));
      main.push([
        `${r.label} (${r.fillMiB} MiB filled)`, label, cell(s.map((x) => mb(x.bytes)), fmtMB), durable ? cell(s.map((x) => x.saveMs)) : '–', durable ? cell(saveRates, fmtRate) : '–',
        durable ? `${((med(saveRates) / diskMBps) * 100).toFixed(0)} %` : '–', cell(col(s, (x) => x.qemuMBps), fmtRate),
        cell(col(s, (x) => x.restoreMs)), cell(col(s, (x) => rate(x, x.restoreMs)), fmtRate),
      ]);
      split.push([
        r.label, label, cell(col(s, (x) => x.firstByteMs)), cell(col(s, stream)), cell(col(s, (x) => rate(x, stream(x))), fmtRate),
        durable ? cell(col(s, (x) => x.durableMs - x.lastByteMs)) : '–', durable ? cell(col(s, (x) => rate(x, x.durableMs - x.lastByteMs)), fmtRate) : '–',
        durable ? cell(col(s, (x) => x.saveMs - x.durableMs)) : '–', k === 'hangar' ? cell(col(s, (x) => x.daemonMs ?? Number.NaN)) : '–', durable ? cell(s.map((x) => x.saveMs)) : '–',
      ]);
      cpu.push([
        r.label, label, fmtRate(med(col(s, (x) => rate(x, stream(x))))), fmtPct(med(col(s, (x) => x.cpu.migration))), fmtPct(med(col(s, (x) => x.cpu.qemuOther))),
        fmtPct(med(col(s, (x) => x.cpu.sinkMain))), fmtPct(med(col(s, (x) => x.cpu.sinkOther))), s[s.length - 1]?.cpu.sinkThreads || '–', fmtPct(med(col(s, (x) => x.restoreCpu))),
      ]);
    }
  }

  const goals: Goal[] = [];
  for (const r of dirty) {
    const hg = r.samples.hangar;
    const h = med(hg.map((x) => rate(x, x.saveMs)));
    const ratio = h / diskMBps;
    goals.push({
      name: `dirty ${r.label} guest: Hangar's save at ≥ ${DISK_RATIO_GOAL * 100} % of the disk's sequential write speed (stream MB / save time, medians; disk: ${DISK_BYTES / MiB} MiB written + fsync on the data dir's filesystem)`,
      met: ratio >= DISK_RATIO_GOAL,
      detail: `${fmtRate(h)} MB/s of ${fmtRate(diskMBps)} MB/s = ${(ratio * 100).toFixed(0)} %${ratio >= DISK_RATIO_GOAL ? '' : ` — missed by ${((DISK_RATIO_GOAL - ratio) * 100).toFixed(0)} points`}; the stream alone (first → last byte in the file) ${fmtRate(med(col(hg, (x) => rate(x, stream(x)))))} MB/s; the by-hand QEMU, uncapped: into Hangar's SaveSink alone ${fmtRate(med(col(r.samples.sinkDaemonHeap, (x) => rate(x, stream(x)))))} MB/s (daemon's heap flags) / ${fmtRate(med(col(r.samples.sinkDefaultHeap, (x) => rate(x, stream(x)))))} MB/s (Node's default heap), into \`dd bs=1M\` ${fmtRate(med(col(r.samples.dd, (x) => rate(x, stream(x)))))} MB/s (save with fsync ${fmtRate(med(col(r.samples.dd, (x) => rate(x, x.saveMs))))} MB/s), to /dev/null ${fmtRate(med(col(r.samples.null, (x) => rate(x, stream(x)))))} MB/s`,
    });
    const hs = med(hg.map((x) => x.saveMs));
    const qs = med(r.samples.hand.map((x) => x.saveMs));
    const speedup = qs / hs;
    const hl = med(hg.map((x) => x.lastByteMs));
    const ql = med(r.samples.hand.map((x) => x.lastByteMs));
    goals.push({
      name: `dirty ${r.label} guest: Hangar's save ≥ ${SPEEDUP_GOAL}× as fast as by hand with QEMU 7.2's defaults (both fsynced, medians)`,
      met: speedup >= SPEEDUP_GOAL,
      detail: `by hand ${fmtMs(qs)} / Hangar ${fmtMs(hs)} = ${speedup.toFixed(2)}×${speedup >= SPEEDUP_GOAL ? '' : ` — short of ${SPEEDUP_GOAL}×`}; without the fsync (request → last byte in the file) ${fmtMs(ql)} / ${fmtMs(hl)} = ${(ql / hl).toFixed(2)}×`,
    });
  }

  const markdown = [
    '### Idle guests',
    '',
    table(['guest RAM', 'system', 'stream MB', 'save (median)', 'save MB/s', 'restore (median)', 'restore MB/s'], idleRows, ['l', 'l', 'r', 'r', 'r', 'r', 'r']),
    '',
    `n = ${n} cycles per system and size (+1 warm-up), Hangar and by hand taking turns; the by-hand guest boots afresh for each. Save: request to complete, fsynced file (Hangar: also QEMU gone). Restore: QEMU start with \`-incoming defer\` to guest running. The stream is smaller than the RAM: QEMU sends zero pages as a flag, so these rates say little about the disk.`,
    '',
    '### Guests full of data',
    '',
    `Disk: ${DISK_BYTES / MiB} MiB written by Node's fs in ${DISK_CHUNK / MiB} MiB writes to a new file next to the daemon's data dir (same filesystem), then fsync: **${fmtRate(diskMBps)} MB/s** (median of ${disk.length} rounds, one before each measured cycle: ${diskRates.map(fmtRate).join(', ')}); the writes into the page cache alone ${fmtRate(diskCacheMBps)} MB/s, the fsync alone ${fmtRate(diskFsyncMBps)} MB/s.`,
    '',
    table(['guest', 'system', 'stream MB', 'save', 'save MB/s', 'of disk speed', "QEMU's rate MB/s (ram.mbps)", 'restore', 'restore MB/s'], main, ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r']),
    '',
    'Where the save goes (request = HTTP request for Hangar, QMP `stop` by hand):',
    '',
    table(['guest', 'system', 'request → first byte in the file', 'first → last byte (stream)', 'stream MB/s', 'last byte → fsync done', 'fsync MB/s', 'fsync done → save done', "daemon's own `seconds`", 'save'], split, ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r']),
    '',
    "Who is busy during the stream (CPU time from /proc/PID/task/*/stat every 50 ms, over the stream, % of one core, medians; the sink is the process that reads the socket: the daemon for Hangar (whose sink hands the socket to a `dd` child: dd's own CPU is not in these columns), the bench itself for the QEMU 7.2 defaults, the save-sink.mjs node process, or dd; the host has 2 cores):",
    '',
    table(['guest', 'system', 'stream MB/s', "QEMU's migration thread", "QEMU's other threads", "sink's main thread", "sink's other threads", 'busiest of those, one by one (last cycle)', 'restore: the sending process, over the restore'], cpu, ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'l', 'r']),
    '',
    `- Cells: median (min – max) of ${dirtyN} cycles per system and guest after one warm-up (at most ${DIRTY_N_DEFAULT_MAX} unless BENCH_SAVE_DIRTY_N says otherwise: each cycle moves hundreds of MB several times), taking turns: the disk round, Hangar's save and restore, then on the by-hand guest the four uncapped saves (each followed by \`cont\`: the guest goes on) and the default save and restore. Guests: the tiny image, 1 vCPU, TCG. After boot each guest wrote its fill once into /dev/shm (tmpfs remounted to 95 % of RAM): a 1 MiB seed from /dev/urandom \`cat\`'ed over and over (QEMU 7.2 sends every non-zero page in full: no dedup without XBZRLE or compression); ${dirty.map((r) => `${r.label}: ${r.fillMiB} MiB in ${fmtMs(r.fillMs.hangar)} (Hangar's, through \`hangar console --until\`) and ${fmtMs(r.fillMs.hand)} (by hand, its serial socket), concurrently`).join('; ')}. The data stays across restores: each save's stream is checked to be at least the fill. Between cycles the guests run (idle).`,
    "- Hangar: `POST /v1/vms/:name/save` timed to the operation's end (long-poll); the stream's size is the result's `bytes`; QEMU's rate is the Mbit/s in the operation's last progress message (query-migrate `ram.mbps` when completed). The bench follows the daemon's temp file (`saved-state.bin.partial`) every 5 ms: its first bytes, its last growth, and its rename (which follows the fsync). Restore: `POST /v1/vms/:name/start` until it answers (guest running); the file is read back from the page cache (the host has plenty of RAM).",
    "- By hand: Hangar's argv for the guest from /proc (run and log dirs swapped); `stop`, `migrate unix:…` into a socket, `query-migrate` every 20 ms until completed. QEMU 7.2 defaults: no `migrate-set-parameters` (max-bandwidth 128 MiB/s); the bench's own process pipes the socket into a file with Node streams and a byte counter (as the daemon's sink), then fsync, `quit`; restore: the same argv with `-incoming defer`, `migrate-incoming`, the file piped in, completed, `cont`; the restored QEMU is the next save's source.",
    "- 'No cap' (to find the limit, not a way to use QEMU): the by-hand QEMU with max-bandwidth 1 TiB/s (Hangar's value), set back to 128 MiB/s after each. *SaveSink alone*: `bench/lib/save-sink.mjs` runs the daemon's own `SaveSink` (dist/migration/stream.js: the accepted connection handed to `dd bs=1M` as its stdin, an fdatasync every 200 ms while it streams, dd's final fsync, rename) in a node process of its own, once with the V8 flags `bin/hangar` gives the daemon (1 MiB young generation) and once with Node's defaults; first/last byte and rename from the same 5 ms poll as Hangar's. *dd*: the accepted connection is handed to `dd bs=1M iflag=fullblock` as its stdin (no JavaScript on the data path), into the file (then fsync by the bench) or to /dev/null (nothing written: the most QEMU's one migration thread sends here). The sink's CPU is then that process's.",
    "- Rates are stream MB (10^6 bytes) over the time shown. Save: request → file complete and fsynced (Hangar: and QEMU has quit). 'of disk speed' = save MB/s / the disk's write + fsync rate.",
  ].join('\n');
  return { title: 'Save and restore (tiny guest, tcg)', markdown, goals };
}
