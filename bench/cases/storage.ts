/**
 * Storage: linked-clone / full-copy VM creation from an imported qcow2 image, and disk-only
 * and memory snapshots (take, revert, delete) of a running guest — Hangar's API against the
 * same steps done by hand (`qemu-img`, raw QMP on a QEMU started with Hangar's own argv).
 * Systems are interleaved, the order rotated every iteration; one unrecorded warm-up each.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { VmView } from '../../src/vm/service.js';
import { BenchDaemon, type HangarEvent } from '../lib/daemon.js';
import { readCmdline, sleep } from '../lib/proc.js';
import { hangarConsole } from '../lib/console.js';
import { loadQmp, RawGuest } from '../lib/raw-guest.js';
import { fmtMs, fmtRatio, fmtSpread, summarize, type Summary } from '../lib/stats.js';
import { table, underGoal, type BenchCase, type BenchContext, type CaseResult, type Goal } from '../lib/report.js';

const run = promisify(execFile);

/** Goals from the issue. */
const LINKED_CLONE_GOAL_MS = 100;
const DISK_SNAPSHOT_GOAL_MS = 200;
const MEMORY_THROUGHPUT_GOAL = 0.7;

/** The image VMs are cloned from: a 2 GiB qcow2 with 4 × 64 MiB of data written by qemu-io. */
const IMAGE_SIZE = '2G';
const IMAGE_WRITES = [['0x5a', '0'], ['0xa5', '512M'], ['0x3c', '1G'], ['0xc3', '1536M']] as const;
const IMAGE_CHUNK = '64M';
/** The snapshot guest: tiny image with a qcow2 data disk, memory touched by a file in /dev/shm (tmpfs: at most half the RAM). */
const SNAP_GUEST = { image: 'tiny', cpus: 1, memory: '768M', diskSize: '256M' } as const;
const FILL_MIB = 300;
const FILL_MARKER = 'HG-FILL-42';
const FILL_CMD = `dd if=/dev/urandom of=/dev/shm/x bs=1M count=${FILL_MIB} 2>&1; echo HG-FILL-$((40+2))`;
const DD_MIB = 512;
/** Memory-snapshot cycles are slow (seconds each, three guests): at most this many unless BENCH_STORAGE_MEM_N says otherwise. */
const MEM_CYCLES_DEFAULT_MAX = 4;
const MiB = 1024 * 1024;

// ---- small helpers -------------------------------------------------------------

interface Reply<T> {
  status: number;
  body: T;
}

/** One API call over the daemon's socket, keeping the HTTP status (ApiClient drops it). */
function http<T>(socket: string, method: string, path: string, body?: unknown): Promise<Reply<T>> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath: socket, method, path, headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: r.statusCode ?? 0, body: (text ? JSON.parse(text) : undefined) as T });
        });
        r.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** A timed API call that must answer `status`; returns ms from sending to the full reply. */
async function timed<T>(d: BenchDaemon, method: string, path: string, body: unknown, status: number): Promise<{ ms: number; body: T }> {
  const t0 = performance.now();
  const r = await http<T>(d.socket, method, path, body);
  const ms = performance.now() - t0;
  if (r.status !== status) throw new Error(`${method} ${path} answered ${r.status}, not ${status}: ${JSON.stringify(r.body)}`);
  return { ms, body: r.body };
}

interface Operation {
  id: string;
  state: string;
  error?: { code: string; message: string };
}

async function waitOperation(d: BenchDaemon, id: string): Promise<Operation> {
  for (;;) {
    const r = await http<Operation>(d.socket, 'GET', `/v1/operations/${id}?wait=10`);
    if (r.status !== 200) throw new Error(`GET /v1/operations/${id} answered ${r.status}`);
    if (r.body.state !== 'running') {
      if (r.body.state !== 'succeeded') throw new Error(`operation ${id} ${r.body.state}: ${JSON.stringify(r.body.error)}`);
      return r.body;
    }
  }
}

/** ms from spawn to exit of a command that must succeed. */
async function timedCmd(cmd: string, args: string[]): Promise<number> {
  const t0 = performance.now();
  await run(cmd, args);
  return performance.now() - t0;
}

/** Bytes of the snapshot's vmstate: the VM SIZE column of `qemu-img snapshot -l -U`, exact from its JSON twin. */
async function vmstateBytes(disk: string, tag: string): Promise<number> {
  const { stdout } = await run('qemu-img', ['info', '-U', '--output=json', '-f', 'qcow2', disk]);
  const info = JSON.parse(stdout) as { snapshots?: Array<{ name: string; 'vm-state-size': number }> };
  const s = info.snapshots?.find((x) => x.name === tag);
  if (!s) throw new Error(`no snapshot ${tag} in ${disk}`);
  return s['vm-state-size'];
}

/** Sequential direct write speed of the pool's disk in MiB/s (dd's own timing), file removed after. */
async function ddWriteMiBs(dir: string): Promise<number> {
  const file = join(dir, 'ddtest');
  try {
    const { stderr } = await run('dd', ['if=/dev/zero', `of=${file}`, 'bs=1M', `count=${DD_MIB}`, 'oflag=direct']);
    const m = /(\d+) bytes .* copied, ([\d.]+) s/.exec(stderr);
    if (!m) throw new Error(`cannot read dd's output: ${stderr}`);
    return Number(m[1]) / MiB / Number(m[2]);
  } finally {
    rmSync(file, { force: true });
  }
}

async function waitGuestReady(d: BenchDaemon, vm: string, timeoutMs = 120_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const r = await http<{ data: string }>(d.socket, 'GET', `/v1/vms/${vm}/logs`);
    const at = r.body.data?.lastIndexOf('HANGAR-GUEST-READY') ?? -1;
    if (at >= 0 && r.body.data.indexOf('# ', at) > at) return;
    if (performance.now() > deadline) throw new Error(`${vm} did not print HANGAR-GUEST-READY and a prompt within ${timeoutMs} ms`);
    await sleep(100);
  }
}

const fmtMiBs = (x: number) => (Number.isFinite(x) ? `${x.toFixed(0)} MiB/s` : '–');
const fmtSize = (b: number) => (Number.isFinite(b) ? `${(b / MiB).toFixed(1)} MiB` : '–');

// ---- the case ------------------------------------------------------------------

type CloneSys = 'hLinked' | 'rLinked' | 'hFull' | 'rFull' | 'floor';
type Guest = 'hangar' | 'raw' | 'lazy';
const GUESTS: readonly Guest[] = ['hangar', 'raw', 'lazy'];

interface SnapSamples {
  /** Disk-only snapshot (the goal), from the disk-only rounds. */
  disk: number[];
  delDisk: number[];
  /** Memory snapshot with no revert since the last one (the active layer holds no vmstate). */
  memClean: number[];
  memCleanBytes: number[];
  /** The first memory snapshot after a revert to a memory snapshot, with a disk-only snapshot taken in between. */
  memAfter: number[];
  memAfterBytes: number[];
  memAccepted: number[];
  revert: number[];
  delMem: number[];
}

const emptySnap = (): SnapSamples => ({ disk: [], delDisk: [], memClean: [], memCleanBytes: [], memAfter: [], memAfterBytes: [], memAccepted: [], revert: [], delMem: [] });

/** Hangar's argv with `lazy-refcounts: true` added to the qcow2 -blockdev of disk `id` (the one-option variant). */
function withLazyRefcounts(args: readonly string[], id: string): string[] {
  let found = false;
  const out = args.map((a) => {
    if (!a.startsWith('{')) return a;
    const o = JSON.parse(a) as Record<string, unknown>;
    if (o.driver !== 'qcow2' || o['node-name'] !== id) return a;
    found = true;
    return JSON.stringify({ ...o, 'lazy-refcounts': true });
  });
  if (!found) throw new Error(`no qcow2 -blockdev for ${id} in Hangar's argv`);
  return out;
}

class Storage {
  private readonly work: string;
  private imagePath = '';
  private poolDir = '';
  private importOp = '';
  private importMs = Number.NaN;
  private readonly clone: Record<CloneSys, number[]> = { hLinked: [], rLinked: [], hFull: [], rFull: [], floor: [] };
  private readonly cloneDelete: number[] = [];
  private readonly phases = { toVolume: [] as number[], volumeToVm: [] as number[], vmToReply: [] as number[] };
  private readonly snap: Record<Guest, SnapSamples> = { hangar: emptySnap(), raw: emptySnap(), lazy: emptySnap() };
  private readonly dd: number[] = [];
  private counter = 0;
  private memCycles = 0;
  private readonly fillMs: Record<Guest, number> = { hangar: Number.NaN, raw: Number.NaN, lazy: Number.NaN };
  private readonly diskPath: Record<Guest, string> = { hangar: '', raw: '', lazy: '' };
  private diskId = '';
  private readonly raws: Partial<Record<'raw' | 'lazy', RawGuest>> = {};

  constructor(private readonly ctx: BenchContext, private readonly d: BenchDaemon) {
    this.work = mkdtempSync(join(ctx.tmp, 's'));
  }

  async run(): Promise<CaseResult> {
    try {
      await this.setup();
      await this.cloneRounds();
      await this.startGuests();
      await this.diskOnlyRounds();
      await this.memoryRounds();
    } finally {
      await Promise.all([this.raws.raw?.stop(), this.raws.lazy?.stop()]);
      rmSync(this.work, { recursive: true, force: true });
    }
    return this.report();
  }

  private async setup(): Promise<void> {
    const { ctx, d } = this;
    const src = join(this.work, 'src.qcow2');
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', src, IMAGE_SIZE]);
    await run('qemu-io', ['-f', 'qcow2', ...IMAGE_WRITES.flatMap(([p, off]) => ['-c', `write -q -P ${p} ${off} ${IMAGE_CHUNK}`]), src]);
    const t0 = performance.now();
    const op = await timed<Operation>(d, 'POST', '/v1/images', { name: 'bimg', file: src, allowUnverified: true, description: 'storage benchmark' }, 202);
    await waitOperation(d, op.body.id);
    this.importMs = performance.now() - t0;
    this.importOp = op.body.id;
    rmSync(src, { force: true });
    const img = await http<{ disk?: { path: string } }>(d.socket, 'GET', '/v1/images/bimg');
    if (!img.body.disk) throw new Error('imported image has no disk');
    this.imagePath = img.body.disk.path;
    const pool = await http<{ path: string }>(d.socket, 'GET', '/v1/pools/default');
    this.poolDir = pool.body.path;
    ctx.progress(`storage: image imported in ${fmtMs(this.importMs)} (${this.imagePath})`);
  }

  // ---- 1. VM creation from an image ----------------------------------------------

  private async cloneRounds(): Promise<void> {
    const { ctx } = this;
    const order: CloneSys[] = ['hLinked', 'rLinked', 'hFull', 'rFull', 'floor'];
    for (let i = -1; i < ctx.n; i++) {
      const rot = i < 0 ? order : [...order.slice(i % order.length), ...order.slice(0, i % order.length)];
      ctx.progress(`storage: clones ${i < 0 ? 'warm-up' : `iteration ${i + 1}/${ctx.n}`} (${rot.join(', ')})`);
      for (const sys of rot) await this.cloneOnce(sys, i >= 0);
    }
  }

  private async cloneOnce(sys: CloneSys, record: boolean): Promise<void> {
    const { d } = this;
    const k = this.counter++;
    let ms: number;
    switch (sys) {
      case 'hLinked':
      case 'hFull': {
        const name = `c${k}`;
        const seq = await d.lastSeq();
        const wall0 = Date.now();
        const r = await timed<VmView>(d, 'POST', '/v1/vms', { name, image: 'bimg', ...(sys === 'hFull' && { fullCopy: true }) }, 201);
        const wall1 = Date.now();
        ms = r.ms;
        const del = await timed(d, 'DELETE', `/v1/vms/${name}`, undefined, 204);
        if (record && sys === 'hLinked') {
          this.cloneDelete.push(del.ms);
          const events = await d.api.call<HangarEvent[]>('GET', `/v1/events?after=${seq}&limit=1000`);
          const at = (type: string) => Date.parse(events.find((e) => e.type === type && (e.vm === name || e.data.volume === `${name}-root`))?.time ?? '');
          this.phases.toVolume.push(at('volume.created') - wall0);
          this.phases.volumeToVm.push(at('vm.created') - at('volume.created'));
          this.phases.vmToReply.push(wall1 - at('vm.created'));
        }
        break;
      }
      case 'rLinked': {
        const out = join(this.work, `r${k}.qcow2`);
        ms = await timedCmd('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', this.imagePath, '-F', 'qcow2', out]);
        rmSync(out, { force: true });
        break;
      }
      case 'rFull': {
        const out = join(this.work, `r${k}.qcow2`);
        ms = await timedCmd('qemu-img', ['convert', '-f', 'qcow2', '-O', 'qcow2', this.imagePath, out]);
        rmSync(out, { force: true });
        break;
      }
      case 'floor':
        ms = (await timed(d, 'GET', `/v1/operations/${this.importOp}`, undefined, 200)).ms;
        break;
    }
    if (record) this.clone[sys].push(ms);
  }

  // ---- 2-4. snapshots of running guests ----------------------------------------------

  /** The Hangar guest, the same argv by hand, and by hand with lazy-refcounts=on; all booted and with their memory touched. */
  private async startGuests(): Promise<void> {
    const { ctx, d } = this;
    const created = await timed<VmView>(d, 'POST', '/v1/vms', { name: 'hsnap', ...SNAP_GUEST }, 201);
    const disk = created.body.disks[0];
    if (!disk) throw new Error('hsnap has no disk');
    this.diskId = disk.id;
    this.diskPath.hangar = disk.path;
    // Copies of the blank data disk, before the guest ever ran.
    for (const g of ['raw', 'lazy'] as const) {
      this.diskPath[g] = join(this.work, `${g}-disk.qcow2`);
      copyFileSync(disk.path, this.diskPath[g]);
    }
    const started = await timed<VmView>(d, 'POST', '/v1/vms/hsnap/start', undefined, 200);
    const pid = started.body.pid;
    const cmd = pid === undefined ? undefined : readCmdline(pid);
    if (!cmd || cmd.length < 2) throw new Error(`cannot read the argv of hsnap's QEMU (pid ${pid})`);
    const [binary, ...args] = cmd as [string, ...string[]];
    const qmpModule = await loadQmp(ctx.root);
    for (const g of ['raw', 'lazy'] as const) {
      const dir = join(this.work, g);
      mkdirSync(dir);
      this.raws[g] = await RawGuest.launch({
        binary, args: g === 'lazy' ? withLazyRefcounts(args, disk.id) : args, forbidden: `${d.dir}/`,
        replace: [[join(d.dir, 'run', 'vms', started.body.id), join(dir, 'run')], [join(d.dir, 'logs', started.body.id), join(dir, 'logs')], [disk.path, this.diskPath[g]]],
      }, dir, qmpModule);
    }
    ctx.progress(`storage: snapshot guests booting (Hangar pid ${pid}, raw pid ${this.raws.raw!.pid}, raw+lazy-refcounts pid ${this.raws.lazy!.pid}; ${SNAP_GUEST.memory}, tcg)`);
    await Promise.all([waitGuestReady(d, 'hsnap'), this.raws.raw!.ready(), this.raws.lazy!.ready()]);
    ctx.progress(`storage: guests ready; writing ${FILL_MIB} MiB of /dev/urandom to /dev/shm in each`);
    const fill = async (g: Guest) => {
      const t = performance.now();
      if (g === 'hangar') {
        const out = await hangarConsole(ctx.root, d.socket, 'hsnap', `${FILL_CMD}\n`, FILL_MARKER);
        if (!out.includes(`${FILL_MIB}+0 records out`)) throw new Error(`dd in hsnap did not complete: ${out.slice(-400)}`);
      } else {
        await this.raws[g]!.run(FILL_CMD, FILL_MARKER);
      }
      this.fillMs[g] = performance.now() - t;
    };
    await Promise.all(GUESTS.map(fill));
    ctx.progress(`storage: memory touched (${GUESTS.map((g) => `${g} ${fmtMs(this.fillMs[g])}`).join(', ')})`);
  }

  /** Disk-only snapshot and its delete, Hangar vs raw QMP, with the dd write test as a third turn: n iterations. */
  private async diskOnlyRounds(): Promise<void> {
    const { ctx } = this;
    const order = ['hangar', 'raw', 'dd'] as const;
    for (let i = -1; i < ctx.n; i++) {
      const rot = i < 0 ? [...order] : [...order.slice(i % order.length), ...order.slice(0, i % order.length)];
      ctx.progress(`storage: disk-only snapshots ${i < 0 ? 'warm-up' : `iteration ${i + 1}/${ctx.n}`} (${rot.join(', ')})`);
      for (const sys of rot) {
        if (sys === 'dd') {
          const v = await ddWriteMiBs(this.poolDir);
          if (i >= 0) this.dd.push(v);
          continue;
        }
        const tag = `q${i + 1}`;
        const take = await this.diskSnapshot(sys, tag);
        const del = await this.deleteSnapshot(sys, tag, `delq-${i + 1}`);
        if (i < 0) continue;
        this.snap[sys].disk.push(take);
        this.snap[sys].delDisk.push(del);
      }
    }
  }

  /**
   * Memory snapshots: per cycle and guest, a disk-only snapshot, a memory snapshot (the first after the
   * previous cycle's revert), a second memory snapshot (no revert in between), revert to it, delete all three.
   */
  private async memoryRounds(): Promise<void> {
    const { ctx } = this;
    const env = process.env.BENCH_STORAGE_MEM_N;
    this.memCycles = env !== undefined ? Number(env) : Math.min(ctx.n, MEM_CYCLES_DEFAULT_MAX);
    if (!Number.isInteger(this.memCycles) || this.memCycles < 1) throw new Error(`BENCH_STORAGE_MEM_N must be a whole number ≥ 1, got ${env}`);
    for (let i = -1; i < this.memCycles; i++) {
      const rot = i < 0 ? [...GUESTS] : [...GUESTS.slice(i % GUESTS.length), ...GUESTS.slice(0, i % GUESTS.length)];
      ctx.progress(`storage: memory snapshots ${i < 0 ? 'warm-up' : `cycle ${i + 1}/${this.memCycles}`} (${rot.join(', ')})`);
      for (const g of rot) await this.memCycle(g, i + 1, i >= 0);
    }
  }

  private async memCycle(g: Guest, k: number, record: boolean): Promise<void> {
    const s = this.snap[g];
    const [dTag, aTag, cTag] = [`d${k}`, `a${k}`, `m${k}`];
    await this.diskSnapshot(g, dTag);
    const after = await this.memorySnapshot(g, aTag);
    const afterBytes = await vmstateBytes(this.diskPath[g], aTag);
    const clean = await this.memorySnapshot(g, cTag);
    const cleanBytes = await vmstateBytes(this.diskPath[g], cTag);
    const revert = await this.revert(g, cTag);
    const delMem = await this.deleteSnapshot(g, cTag, `delm-${k}`);
    await this.deleteSnapshot(g, aTag, `dela-${k}`);
    await this.deleteSnapshot(g, dTag, `deld-${k}`);
    if (!record) return;
    // The warm-up has had no revert before its first memory snapshot, so only recorded cycles count as "after a revert".
    s.memAfter.push(after.ms);
    s.memAfterBytes.push(afterBytes);
    s.memClean.push(clean.ms);
    s.memCleanBytes.push(cleanBytes);
    s.memAccepted.push(clean.accepted, after.accepted);
    s.revert.push(revert);
    s.delMem.push(delMem);
  }

  private async diskSnapshot(g: Guest, tag: string): Promise<number> {
    if (g === 'hangar') return (await timed(this.d, 'POST', '/v1/vms/hsnap/snapshots', { name: tag }, 201)).ms;
    const { qmp } = this.raws[g]!;
    const t0 = performance.now();
    await qmp.execute('transaction', { actions: [{ type: 'blockdev-snapshot-internal-sync', data: { device: this.diskId, name: tag } }] });
    return performance.now() - t0;
  }

  private async memorySnapshot(g: Guest, tag: string): Promise<{ ms: number; accepted: number }> {
    if (g === 'hangar') {
      const t0 = performance.now();
      const op = await timed<Operation>(this.d, 'POST', '/v1/vms/hsnap/snapshots', { name: tag, memory: true }, 202);
      await waitOperation(this.d, op.body.id);
      return { ms: performance.now() - t0, accepted: op.ms };
    }
    const ms = await this.raws[g]!.job('snapshot-save', `save-${tag}`, { tag, vmstate: this.diskId, devices: [this.diskId] });
    return { ms, accepted: Number.NaN };
  }

  private async revert(g: Guest, tag: string): Promise<number> {
    if (g === 'hangar') {
      const ms = (await timed(this.d, 'POST', `/v1/vms/hsnap/snapshots/${tag}/revert`, undefined, 200)).ms;
      const vm = await this.d.vm('hsnap');
      if (vm.state !== 'running') throw new Error(`hsnap is ${vm.state} after reverting to ${tag}`);
      return ms;
    }
    const raw = this.raws[g]!;
    const t0 = performance.now();
    await raw.job('snapshot-load', `load-${tag}`, { tag, vmstate: this.diskId, devices: [this.diskId] });
    const status = await raw.qmp.execute<{ running: boolean }>('query-status');
    if (!status.running) await raw.qmp.execute('cont');
    return performance.now() - t0;
  }

  private async deleteSnapshot(g: Guest, tag: string, jobId: string): Promise<number> {
    if (g === 'hangar') return (await timed(this.d, 'DELETE', `/v1/vms/hsnap/snapshots/${tag}`, undefined, 204)).ms;
    return this.raws[g]!.job('snapshot-delete', jobId, { tag, devices: [this.diskId] });
  }

  // ---- report ----------------------------------------------------------------------

  private report(): CaseResult {
    const S = (xs: number[]) => summarize(xs);
    const headers = ['measure', 'system', 'median', 'spread', 'n', 'Δ median vs raw', 'Hangar/raw'];
    const align = ['l', 'l', 'r', 'r', 'r', 'r', 'r'] as const;
    const row = (what: string, sys: string, s: Summary, base?: Summary) => [
      what, sys, fmtMs(s.median), fmtSpread(s), String(s.n),
      base ? fmtMs(s.median - base.median) : '–',
      base ? fmtRatio(s.median, base.median) : 'baseline',
    ];

    const c = this.clone;
    const hLinked = S(c.hLinked);
    const rLinked = S(c.rLinked);
    const cloneTable = table(headers, [
      row('linked clone', 'by hand: `qemu-img create -f qcow2 -b IMG -F qcow2 overlay`', rLinked),
      row('linked clone', 'Hangar API: POST /v1/vms {name, image} → 201', hLinked, rLinked),
      row('full copy', 'by hand: `qemu-img convert -f qcow2 -O qcow2 IMG copy`', S(c.rFull)),
      row('full copy', 'Hangar API: POST /v1/vms {name, image, fullCopy: true} → 201', S(c.hFull), S(c.rFull)),
      row('API floor', 'Hangar API: GET /v1/operations/ID (a stored record; HTTP round trip)', S(c.floor)),
      row('delete VM', 'Hangar API: DELETE /v1/vms/NAME (linked clone) → 204', S(this.cloneDelete)),
    ], align);
    const p = this.phases;
    const phase = (what: string, xs: number[]) => {
      const s = S(xs);
      return [what, fmtMs(s.median), fmtSpread(s), String(s.n)];
    };
    const phaseTable = table(['Hangar linked clone, phase (daemon event timestamps, 1 ms resolution)', 'median', 'spread', 'n'], [
      phase('request sent → `volume.created` (validation, image lookup, NIC, pool checks, `qemu-img create`, store, rename)', p.toVolume),
      phase('`volume.created` → `vm.created` (mark attached, store the VM)', p.volumeToVm),
      phase('`vm.created` → reply received (re-read, reply)', p.vmToReply),
    ], ['l', 'r', 'r', 'r']);

    const { hangar: h, raw: r, lazy: l } = this.snap;
    const lazyRow = (what: string, s: Summary, base: Summary) => [...row(what, 'reference: raw QMP with qcow2 `lazy-refcounts: true` (one -blockdev option added)', s, base).slice(0, 6), `lazy/raw: ${fmtRatio(s.median, base.median)}`];
    const snapTable = table(headers, [
      row('disk-only snapshot', 'raw QMP: `transaction` [blockdev-snapshot-internal-sync]', S(r.disk)),
      row('disk-only snapshot', 'Hangar API: POST /v1/vms/NAME/snapshots {name} → 201', S(h.disk), S(r.disk)),
      row('delete disk-only snapshot', 'raw QMP: `snapshot-delete` job', S(r.delDisk)),
      row('delete disk-only snapshot', 'Hangar API: DELETE /v1/vms/NAME/snapshots/SNAP → 204', S(h.delDisk), S(r.delDisk)),
      row('memory snapshot, no revert since the last', 'raw QMP: `snapshot-save` job → concluded → dismissed', S(r.memClean)),
      row('memory snapshot, no revert since the last', 'Hangar API: POST {name, memory:true} → 202 → operation succeeded', S(h.memClean), S(r.memClean)),
      lazyRow('memory snapshot, no revert since the last', S(l.memClean), S(r.memClean)),
      row('memory snapshot, first after a revert', 'raw QMP: `snapshot-save` job → concluded → dismissed', S(r.memAfter)),
      row('memory snapshot, first after a revert', 'Hangar API: POST {name, memory:true} → 202 → operation succeeded', S(h.memAfter), S(r.memAfter)),
      lazyRow('memory snapshot, first after a revert', S(l.memAfter), S(r.memAfter)),
      row('memory snapshot', 'Hangar API: of which POST → 202 (operation accepted)', S(h.memAccepted)),
      row('revert to a memory snapshot', 'raw QMP: `snapshot-load` job + query-status (+ cont)', S(r.revert)),
      row('revert to a memory snapshot', 'Hangar API: POST /v1/vms/NAME/snapshots/SNAP/revert → 200', S(h.revert), S(r.revert)),
      lazyRow('revert to a memory snapshot', S(l.revert), S(r.revert)),
      row('delete memory snapshot', 'raw QMP: `snapshot-delete` job', S(r.delMem)),
      row('delete memory snapshot', 'Hangar API: DELETE /v1/vms/NAME/snapshots/SNAP → 204', S(h.delMem), S(r.delMem)),
    ], align);

    const tput = (ms: number[], bytes: number[]) => S(ms.map((t, i) => (bytes[i] ?? Number.NaN) / MiB / (t / 1000)));
    const dd = S(this.dd);
    const T = {
      clean: { raw: tput(r.memClean, r.memCleanBytes), hangar: tput(h.memClean, h.memCleanBytes), lazy: tput(l.memClean, l.memCleanBytes) },
      after: { raw: tput(r.memAfter, r.memAfterBytes), hangar: tput(h.memAfter, h.memAfterBytes), lazy: tput(l.memAfter, l.memAfterBytes) },
    };
    const B = (xs: number[]) => fmtSize(S(xs).median);
    const tRow = (what: string, sys: string, bytes: number[], t: Summary, base?: Summary) => [
      what, sys, bytes.length ? B(bytes) : `${DD_MIB} MiB`, fmtMiBs(t.median), fmtSpread(t, fmtMiBs), String(t.n), `${((t.median / dd.median) * 100).toFixed(0)}%`, base ? fmtRatio(t.median, base.median) : '–',
    ];
    const tputTable = table(['memory snapshot', 'system', 'vmstate (median)', 'throughput median', 'spread', 'n', 'of disk write speed', 'Hangar/raw'], [
      tRow('no revert since the last', 'raw QMP `snapshot-save`', r.memCleanBytes, T.clean.raw),
      tRow('no revert since the last', 'Hangar API', h.memCleanBytes, T.clean.hangar, T.clean.raw),
      tRow('no revert since the last', 'raw QMP, lazy-refcounts (reference)', l.memCleanBytes, T.clean.lazy),
      tRow('first after a revert', 'raw QMP `snapshot-save`', r.memAfterBytes, T.after.raw),
      tRow('first after a revert', 'Hangar API', h.memAfterBytes, T.after.hangar, T.after.raw),
      tRow('first after a revert', 'raw QMP, lazy-refcounts (reference)', l.memAfterBytes, T.after.lazy),
      tRow('disk write speed', `\`dd if=/dev/zero of=POOL/ddtest bs=1M count=${DD_MIB} oflag=direct\``, [], dd),
    ], ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r']);

    const hDisk = S(h.disk);
    const tputGoal = (label: string, t: Summary, rawT: Summary): Goal => {
      const goal = MEMORY_THROUGHPUT_GOAL * dd.median;
      const met = t.median >= goal;
      return {
        name: `memory snapshot throughput ≥ ${MEMORY_THROUGHPUT_GOAL * 100}% of the disk's sequential write speed — ${label} (API, median)`,
        met,
        detail: `${fmtMiBs(t.median)} = ${((t.median / dd.median) * 100).toFixed(0)}% of ${fmtMiBs(dd.median)} (goal ≥ ${fmtMiBs(goal)}; ` +
          (met ? `headroom ${fmtMiBs(t.median - goal)})` : `missed by ${fmtMiBs(goal - t.median)})`) + `; raw QMP ${fmtMiBs(rawT.median)} (${((rawT.median / dd.median) * 100).toFixed(0)}%)`,
      };
    };
    const goals: Goal[] = [
      underGoal(`linked-clone VM creation < ${LINKED_CLONE_GOAL_MS} ms (API, median)`, hLinked.median, LINKED_CLONE_GOAL_MS, fmtMs, `median ${fmtMs(hLinked.median)} (p90 ${fmtMs(hLinked.p90)}; by hand ${fmtMs(rLinked.median)});`),
      underGoal(`disk-only snapshot of a running guest < ${DISK_SNAPSHOT_GOAL_MS} ms (API, median)`, hDisk.median, DISK_SNAPSHOT_GOAL_MS, fmtMs, `median ${fmtMs(hDisk.median)} (p90 ${fmtMs(hDisk.p90)}; raw QMP ${fmtMs(S(r.disk).median)});`),
      tputGoal('no revert since the last snapshot', T.clean.hangar, T.clean.raw),
      tputGoal('first snapshot after a revert', T.after.hangar, T.after.raw),
    ];

    const notes = [
      `Image: a ${IMAGE_SIZE} qcow2 made with \`qemu-img create\`, ${IMAGE_WRITES.length} × ${IMAGE_CHUNK} of patterns written with \`qemu-io\`, imported through POST /v1/images {file} (${fmtMs(this.importMs)} incl. SHA-256 and conversion, once). Both systems clone the imported file onto the same filesystem; each clone is deleted (untimed for raw) before the next.`,
      `Snapshot guests: image \`tiny\`, ${SNAP_GUEST.cpus} vCPU, ${SNAP_GUEST.memory}, a ${SNAP_GUEST.diskSize} qcow2 data disk (Hangar's \`diskSize\`), \`accel=tcg\`; each wrote ${FILL_MIB} MiB of /dev/urandom to /dev/shm (Hangar's through \`hangar console --until\`, the raw ones through their serial sockets; ${GUESTS.map((g) => `${g} ${fmtMs(this.fillMs[g])}`).join(', ')}, concurrently).`,
      'Raw guests run the argv Hangar gave QEMU (/proc/PID/cmdline) with fresh run/log paths and a copy of the blank data disk, started with `cont`, driven with the QmpClient of the build under test (dist/qmp): `transaction`; `snapshot-save`/`-load`/`-delete` jobs waited for through JOB_STATUS_CHANGE, checked with query-jobs and dismissed — the steps Hangar takes. The reference guest differs by one option, `"lazy-refcounts": true` on its qcow2 -blockdev.',
      `Disk-only rounds: n = ${this.ctx.n} (+1 warm-up), Hangar, raw and a \`dd\` run taking turns. Memory cycles: ${this.memCycles} (+1 warm-up; at most ${MEM_CYCLES_DEFAULT_MAX} unless BENCH_STORAGE_MEM_N), each guest in turn: disk-only snapshot, memory snapshot (the first after the previous cycle's revert), memory snapshot (no revert in between), revert to it (the guest keeps running), delete the three.`,
      'Why "first after a revert" differs: `snapshot-load` leaves the loaded vmstate in the disk\'s active layer (QEMU drops it from the active layer only after *saving* one), a disk-only snapshot then shares it, and the next `snapshot-save` must copy-on-write every 64 KiB cluster of it; with `lazy_refcounts=off` each COW flushes the refcount/L2 caches (≈ 1 fdatasync per cluster, seen with strace).',
      'vmstate size: `vm-state-size` of `qemu-img info -U --output=json` (the VM SIZE column of `qemu-img snapshot -l -U`, in bytes). Throughput = vmstate / memory-snapshot time, per sample. QEMU writes it through the host page cache (Hangar sets no cache option: writeback) and flushes at the end, while `dd oflag=direct` bypasses the cache.',
    ];
    const markdown = [
      '### VM disk from an image',
      cloneTable,
      '',
      phaseTable,
      '',
      '### Snapshots of a running guest',
      snapTable,
      '',
      '### Memory snapshot throughput',
      tputTable,
      '',
      ...notes.map((n) => `- ${n}`),
    ].join('\n');
    return { title: 'Storage: clones and snapshots, Hangar vs qemu-img / raw QMP by hand', markdown, goals };
  }
}

export const storageCase: BenchCase = {
  id: 'storage',
  async run(ctx: BenchContext): Promise<CaseResult> {
    const d = await BenchDaemon.start({ root: ctx.root, parent: ctx.tmp });
    try {
      return await new Storage(ctx, d).run();
    } finally {
      await d.stop();
    }
  },
};
