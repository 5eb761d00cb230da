/**
 * Storage: linked-clone / full-copy VM creation from an imported qcow2 image, and disk-only
 * and memory snapshots (take, revert, delete) of a running guest — Hangar's API against the
 * same steps done by hand (`qemu-img`, raw QMP on a QEMU started with Hangar's own argv).
 * Systems are interleaved, the order rotated every iteration; one unrecorded warm-up each.
 */
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { VmView } from '../../src/vm/service.js';
import { BenchDaemon, type HangarEvent } from '../lib/daemon.js';
import { readCmdline, sleep } from '../lib/proc.js';
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

/**
 * Types a command on a Hangar guest's serial console through `hangar console --until` (as test/integration guestRun).
 * `--idle` is the whole timeout: the console also exits after that much silence, and dd prints nothing while it runs.
 */
function hangarConsole(root: string, socket: string, vm: string, input: string, until: string, timeoutMs = 300_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'bin', 'hangar'), '--socket', socket, 'console', vm, '--idle', String(timeoutMs), '--until', until], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0 && out.includes(until)) resolve(out);
      else reject(new Error(`hangar console ${vm} failed (exit ${code}): ${err.trim() || out.slice(-500)}`));
    });
    child.stdin.end(input);
  });
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
type SnapSys = 'hangar' | 'raw' | 'dd';

interface SnapSamples {
  disk: number[];
  mem: number[];
  memAccepted: number[];
  memBytes: number[];
  revert: number[];
  delMem: number[];
  delDisk: number[];
}

const emptySnap = (): SnapSamples => ({ disk: [], mem: [], memAccepted: [], memBytes: [], revert: [], delMem: [], delDisk: [] });

class Storage {
  private readonly work: string;
  private imagePath = '';
  private poolDir = '';
  private importOp = '';
  private importMs = Number.NaN;
  private readonly clone: Record<CloneSys, number[]> = { hLinked: [], rLinked: [], hFull: [], rFull: [], floor: [] };
  private readonly cloneDelete: number[] = [];
  private readonly phases = { toVolume: [] as number[], volumeToVm: [] as number[], vmToReply: [] as number[] };
  private readonly snap: Record<'hangar' | 'raw', SnapSamples> = { hangar: emptySnap(), raw: emptySnap() };
  private readonly dd: number[] = [];
  private counter = 0;
  private fillMs = { hangar: Number.NaN, raw: Number.NaN };
  private guestDisk = { hangar: '', raw: '', id: '' };
  private raw?: RawGuest;

  constructor(private readonly ctx: BenchContext, private readonly d: BenchDaemon) {
    this.work = mkdtempSync(join(ctx.tmp, 's'));
  }

  async run(): Promise<CaseResult> {
    try {
      await this.setup();
      await this.cloneRounds();
      await this.snapshotRounds();
    } finally {
      await this.raw?.stop();
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

  // ---- 2-4. snapshots of a running guest -----------------------------------------

  private async snapshotRounds(): Promise<void> {
    const { ctx, d } = this;
    const created = await timed<VmView>(d, 'POST', '/v1/vms', { name: 'hsnap', ...SNAP_GUEST }, 201);
    const disk = created.body.disks[0];
    if (!disk) throw new Error('hsnap has no disk');
    this.guestDisk = { hangar: disk.path, raw: join(this.work, 'raw-disk.qcow2'), id: disk.id };
    copyFileSync(disk.path, this.guestDisk.raw); // the blank data disk, before the guest ever ran
    const started = await timed<VmView>(d, 'POST', '/v1/vms/hsnap/start', undefined, 200);
    const pid = started.body.pid;
    const cmd = pid === undefined ? undefined : readCmdline(pid);
    if (!cmd || cmd.length < 2) throw new Error(`cannot read the argv of hsnap's QEMU (pid ${pid})`);
    const [binary, ...args] = cmd as [string, ...string[]];
    const rawDir = join(this.work, 'raw');
    mkdirSync(rawDir);
    this.raw = await RawGuest.launch({
      binary, args, forbidden: `${d.dir}/`,
      replace: [[join(d.dir, 'run', 'vms', started.body.id), join(rawDir, 'run')], [join(d.dir, 'logs', started.body.id), join(rawDir, 'logs')], [disk.path, this.guestDisk.raw]],
    }, rawDir, await loadQmp(ctx.root));
    const raw = this.raw;
    ctx.progress(`storage: snapshot guests booting (Hangar pid ${pid}, raw pid ${raw.pid}; ${SNAP_GUEST.memory}, tcg)`);
    await Promise.all([waitGuestReady(d, 'hsnap'), raw.ready()]);
    ctx.progress(`storage: both guests ready; writing ${FILL_MIB} MiB of /dev/urandom to /dev/shm in each`);
    const fill = async (sys: 'hangar' | 'raw') => {
      const t = performance.now();
      if (sys === 'hangar') {
        const out = await hangarConsole(ctx.root, d.socket, 'hsnap', `${FILL_CMD}\n`, FILL_MARKER);
        if (!out.includes(`${FILL_MIB}+0 records out`)) throw new Error(`dd in hsnap did not complete: ${out.slice(-400)}`);
      } else {
        await raw.run(FILL_CMD, FILL_MARKER);
      }
      this.fillMs[sys] = performance.now() - t;
    };
    await Promise.all([fill('hangar'), fill('raw')]);
    ctx.progress(`storage: memory touched (Hangar guest ${fmtMs(this.fillMs.hangar)}, raw ${fmtMs(this.fillMs.raw)})`);

    const order: SnapSys[] = ['hangar', 'raw', 'dd'];
    for (let i = -1; i < ctx.n; i++) {
      const rot = i < 0 ? order : [...order.slice(i % order.length), ...order.slice(0, i % order.length)];
      ctx.progress(`storage: snapshots ${i < 0 ? 'warm-up' : `iteration ${i + 1}/${ctx.n}`} (${rot.join(', ')})`);
      for (const sys of rot) {
        if (sys === 'dd') {
          const v = await ddWriteMiBs(this.poolDir);
          if (i >= 0) this.dd.push(v);
        } else {
          await this.snapCycle(sys, i + 1, i >= 0);
        }
      }
    }
  }

  /** Disk-only snapshot, memory snapshot, revert to it, delete both: one system, one iteration. */
  private async snapCycle(sys: 'hangar' | 'raw', k: number, record: boolean): Promise<void> {
    const s = this.snap[sys];
    const id = this.guestDisk.id;
    const dTag = `d${k}`;
    const mTag = `m${k}`;
    let disk: number;
    let mem: number;
    let accepted = Number.NaN;
    let revert: number;
    let delMem: number;
    let delDisk: number;
    if (sys === 'hangar') {
      const { d } = this;
      const base = '/v1/vms/hsnap/snapshots';
      disk = (await timed(d, 'POST', base, { name: dTag }, 201)).ms;
      const t0 = performance.now();
      const op = await timed<Operation>(d, 'POST', base, { name: mTag, memory: true }, 202);
      accepted = op.ms;
      await waitOperation(d, op.body.id);
      mem = performance.now() - t0;
      if (record) s.memBytes.push(await vmstateBytes(this.guestDisk.hangar, mTag));
      revert = (await timed(d, 'POST', `${base}/${mTag}/revert`, undefined, 200)).ms;
      const vm = await d.vm('hsnap');
      if (vm.state !== 'running') throw new Error(`hsnap is ${vm.state} after reverting to ${mTag}`);
      delMem = (await timed(d, 'DELETE', `${base}/${mTag}`, undefined, 204)).ms;
      delDisk = (await timed(d, 'DELETE', `${base}/${dTag}`, undefined, 204)).ms;
    } else {
      const raw = this.raw!;
      const { qmp } = raw;
      const t0 = performance.now();
      await qmp.execute('transaction', { actions: [{ type: 'blockdev-snapshot-internal-sync', data: { device: id, name: dTag } }] });
      disk = performance.now() - t0;
      mem = await raw.job('snapshot-save', `save-${k}`, { tag: mTag, vmstate: id, devices: [id] });
      if (record) s.memBytes.push(await vmstateBytes(this.guestDisk.raw, mTag));
      const t1 = performance.now();
      await raw.job('snapshot-load', `load-${k}`, { tag: mTag, vmstate: id, devices: [id] });
      const status = await qmp.execute<{ running: boolean }>('query-status');
      if (!status.running) await qmp.execute('cont');
      revert = performance.now() - t1;
      delMem = await raw.job('snapshot-delete', `delm-${k}`, { tag: mTag, devices: [id] });
      delDisk = await raw.job('snapshot-delete', `deld-${k}`, { tag: dTag, devices: [id] });
    }
    if (!record) return;
    s.disk.push(disk);
    s.mem.push(mem);
    s.memAccepted.push(accepted);
    s.revert.push(revert);
    s.delMem.push(delMem);
    s.delDisk.push(delDisk);
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
    const hFull = S(c.hFull);
    const rFull = S(c.rFull);
    const cloneTable = table(headers, [
      row('linked clone', 'by hand: `qemu-img create -f qcow2 -b IMG -F qcow2 overlay`', rLinked),
      row('linked clone', 'Hangar API: POST /v1/vms {name, image} → 201', hLinked, rLinked),
      row('full copy', 'by hand: `qemu-img convert -f qcow2 -O qcow2 IMG copy`', rFull),
      row('full copy', 'Hangar API: POST /v1/vms {name, image, fullCopy: true} → 201', hFull, rFull),
      row('API floor', 'GET /v1/operations/ID (a stored record; HTTP round trip)', S(c.floor)),
      row('delete', 'Hangar API: DELETE /v1/vms/NAME (linked clone) → 204', S(this.cloneDelete)),
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

    const h = this.snap.hangar;
    const r = this.snap.raw;
    const snapTable = table(headers, [
      row('disk-only snapshot', 'raw QMP: `transaction` [blockdev-snapshot-internal-sync]', S(r.disk)),
      row('disk-only snapshot', 'Hangar API: POST /v1/vms/NAME/snapshots {name} → 201', S(h.disk), S(r.disk)),
      row('memory snapshot', 'raw QMP: `snapshot-save` job → concluded → dismissed', S(r.mem)),
      row('memory snapshot', 'Hangar API: POST {name, memory:true} → 202 → operation succeeded', S(h.mem), S(r.mem)),
      row('memory snapshot', 'Hangar API: of which POST → 202 (operation accepted)', S(h.memAccepted)),
      row('revert (memory)', 'raw QMP: `snapshot-load` job + query-status (+ cont)', S(r.revert)),
      row('revert (memory)', 'Hangar API: POST /v1/vms/NAME/snapshots/SNAP/revert → 200', S(h.revert), S(r.revert)),
      row('delete (memory snapshot)', 'raw QMP: `snapshot-delete` job', S(r.delMem)),
      row('delete (memory snapshot)', 'Hangar API: DELETE /v1/vms/NAME/snapshots/SNAP → 204', S(h.delMem), S(r.delMem)),
      row('delete (disk-only)', 'raw QMP: `snapshot-delete` job', S(r.delDisk)),
      row('delete (disk-only)', 'Hangar API: DELETE /v1/vms/NAME/snapshots/SNAP → 204', S(h.delDisk), S(r.delDisk)),
    ], align);

    const tput = (x: SnapSamples) => x.mem.map((ms, i) => (x.memBytes[i] ?? Number.NaN) / MiB / (ms / 1000));
    const hT = S(tput(h));
    const rT = S(tput(r));
    const dd = S(this.dd);
    const hB = S(h.memBytes);
    const rB = S(r.memBytes);
    const tputTable = table(['memory snapshot', 'vmstate (median)', 'throughput median', 'spread', 'n', 'vs disk write', 'Hangar/raw'], [
      ['raw QMP `snapshot-save`', fmtSize(rB.median), fmtMiBs(rT.median), fmtSpread(rT, fmtMiBs), String(rT.n), fmtRatio(rT.median, dd.median), 'baseline'],
      ['Hangar API (POST → operation succeeded)', fmtSize(hB.median), fmtMiBs(hT.median), fmtSpread(hT, fmtMiBs), String(hT.n), fmtRatio(hT.median, dd.median), fmtRatio(hT.median, rT.median)],
      [`disk: \`dd if=/dev/zero of=POOL/ddtest bs=1M count=${DD_MIB} oflag=direct\``, `${DD_MIB} MiB`, fmtMiBs(dd.median), fmtSpread(dd, fmtMiBs), String(dd.n), '1.00×', '–'],
    ], ['l', 'r', 'r', 'r', 'r', 'r', 'r']);

    const goalT = MEMORY_THROUGHPUT_GOAL * dd.median;
    const tputMet = hT.median >= goalT;
    const goals: Goal[] = [
      underGoal(`linked-clone VM creation < ${LINKED_CLONE_GOAL_MS} ms (API, median)`, hLinked.median, LINKED_CLONE_GOAL_MS, fmtMs, `median ${fmtMs(hLinked.median)} (p90 ${fmtMs(hLinked.p90)}; by hand ${fmtMs(rLinked.median)});`),
      underGoal(`disk-only snapshot of a running guest < ${DISK_SNAPSHOT_GOAL_MS} ms (API, median)`, S(h.disk).median, DISK_SNAPSHOT_GOAL_MS, fmtMs, `median ${fmtMs(S(h.disk).median)} (p90 ${fmtMs(S(h.disk).p90)}; raw QMP ${fmtMs(S(r.disk).median)});`),
      {
        name: `memory snapshot throughput ≥ ${MEMORY_THROUGHPUT_GOAL * 100}% of the disk's sequential write speed (API, median)`,
        met: tputMet,
        detail: `${fmtMiBs(hT.median)} vs ${fmtMiBs(dd.median)} dd (${((hT.median / dd.median) * 100).toFixed(0)}%; goal ${fmtMiBs(goalT)})` +
          (tputMet ? ` (headroom ${fmtMiBs(hT.median - goalT)})` : ` — missed by ${fmtMiBs(goalT - hT.median)}`) + `; raw QMP ${fmtMiBs(rT.median)} (${((rT.median / dd.median) * 100).toFixed(0)}%)`,
      },
    ];

    const notes = [
      `Image: a ${IMAGE_SIZE} qcow2 made with \`qemu-img create\`, ${IMAGE_WRITES.length} × ${IMAGE_CHUNK} of patterns written with \`qemu-io\`, imported through POST /v1/images {file} (${fmtMs(this.importMs)} incl. SHA-256 and conversion, once). Both systems clone the imported file; Hangar's root volume is created in its default pool, the hand-made one next to it on the same filesystem; each clone is deleted (untimed for raw) before the next.`,
      `Snapshot guest: image \`tiny\`, ${SNAP_GUEST.cpus} vCPU, ${SNAP_GUEST.memory}, a ${SNAP_GUEST.diskSize} qcow2 data disk (Hangar's \`diskSize\`), \`accel=tcg\`; each guest wrote ${FILL_MIB} MiB of /dev/urandom to /dev/shm (Hangar guest through \`hangar console --until\`: ${fmtMs(this.fillMs.hangar)}; raw guest through its serial socket: ${fmtMs(this.fillMs.raw)}).`,
      'The raw guest is the argv Hangar gave QEMU (/proc/PID/cmdline) with fresh run/log paths and a copy of the blank data disk, started with `cont` and driven with the QmpClient of the build under test (dist/qmp). The same steps by hand: `transaction`; `snapshot-save`/`-load`/`-delete` jobs waited for through JOB_STATUS_CHANGE, checked with query-jobs and dismissed.',
      'One iteration per system = disk-only snapshot, memory snapshot, revert to it (the guest keeps running), delete the memory snapshot, delete the disk-only one; the two guests and a `dd` run take turns, order rotated.',
      'vmstate size: `vm-state-size` of `qemu-img info -U --output=json` (the VM SIZE column of `qemu-img snapshot -l -U`, in bytes). Throughput = vmstate / memory-snapshot time, per sample. QEMU writes the vmstate through the host page cache (Hangar gives no cache option: writeback), while `dd oflag=direct` bypasses it.',
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
