/**
 * Start and stop latency of the tiny guest: Hangar (API), libvirt (`virsh create` of an
 * equivalent domain, `virsh destroy` / `virsh shutdown`) and the same QEMU argv Hangar
 * uses, launched by hand. Each iteration runs every system once with a forced stop and
 * once with a graceful one; the order of the systems rotates every iteration, so machine
 * drift hits all of them alike. One unrecorded warm-up round first.
 */
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import type { VmView } from '../../src/vm/service.js';
import { cell, med, ratio, SPREAD_NOTE } from '../lib/compare.js';
import { HangarDaemon } from '../lib/hangar-daemon.js';
import { ensureLibvirt, LibvirtHost, tinyManifestPath } from '../lib/libvirt.js';
import { RawBaseline } from '../lib/libvirt-raw.js';
import { isAlive, readCmdline, sleep, waitGone } from '../lib/proc.js';
import type { ArgvTemplate } from '../lib/raw-qemu.js';
import { fileSize, waitForMarker } from '../lib/serial.js';
import { fmtMs, fmtRatio } from '../lib/stats.js';
import { table, type BenchCase, type BenchContext, type CaseResult, type Goal } from '../lib/report.js';

export const TINY_GUEST = { image: 'tiny', cpus: 1, memory: '128M' } as const;
const MEMORY_MIB = 128;
const READY_TIMEOUT_MS = 180_000;

/** Goals from the issue. */
const START_OVERHEAD_GOAL_MS = 10;
const VIRSH_CREATE_SPEEDUP_GOAL = 5;
const FORCED_STOP_GOAL_MS = 100;

type Sys = 'hangar' | 'libvirt' | 'raw';
type StopKind = 'forced' | 'graceful';

interface Samples {
  run: number[];
  ready: number[];
  forced: number[];
  graceful: number[];
}

const empty = (): Samples => ({ run: [], ready: [], forced: [], graceful: [] });

class Bench {
  private readonly s: Record<Sys, Samples> = { hangar: empty(), libvirt: empty(), raw: empty() };
  /** QEMU gone after `virsh destroy` was spawned (the forced row is until virsh returns); `virsh shutdown` returned. */
  private readonly virshDestroyQemuGone: number[] = [];
  private readonly virshShutdownReturn: number[] = [];
  private readonly virshFloor: number[] = [];
  private readonly hangarCreateStart: number[] = [];
  private readonly hangarForceDelete: number[] = [];
  private readonly paired: { run: number[]; forced: number[] } = { run: [], forced: [] };
  private template?: ArgvTemplate;
  private count = 0;
  private replyBeforeExit = 0;

  constructor(private readonly ctx: BenchContext, private readonly h: HangarDaemon, private readonly lv: LibvirtHost) {}

  async run(): Promise<CaseResult> {
    const { ctx, h } = this;
    await h.api.call('POST', '/v1/vms', { name: 'ss', ...TINY_GUEST });
    const systems: Sys[] = ['hangar', 'libvirt', 'raw'];
    ctx.progress('libvirt-start-stop: warm-up round (not recorded)');
    for (const sys of systems) for (const kind of ['forced', 'graceful'] as const) await this.cycle(sys, kind, false);
    await this.extras(false);
    for (let i = 0; i < ctx.n; i++) {
      const order = [...systems.slice(i % 3), ...systems.slice(0, i % 3)];
      const kinds: StopKind[] = i % 2 === 0 ? ['forced', 'graceful'] : ['graceful', 'forced'];
      ctx.progress(`libvirt-start-stop: iteration ${i + 1}/${ctx.n} (${order.join(', ')}; ${kinds.join(' then ')} stops)`);
      // The forced-stop cycle of each system in this iteration, for Hangar − raw pairs (load drift cancels).
      const it: Partial<Record<Sys, { run: number; forced: number }>> = {};
      for (const kind of kinds) {
        for (const sys of order) {
          const r = await this.cycle(sys, kind, true);
          if (kind === 'forced') it[sys] = { run: r.run, forced: r.stop };
        }
      }
      await this.extras(true);
      if (it.hangar && it.raw) {
        this.paired.run.push(it.hangar.run - it.raw.run);
        this.paired.forced.push(it.hangar.forced - it.raw.forced);
      }
    }
    return this.report();
  }

  private async cycle(sys: Sys, kind: StopKind, record: boolean): Promise<{ run: number; stop: number }> {
    const r = sys === 'hangar' ? await this.hangar(kind) : sys === 'libvirt' ? await this.libvirt(kind) : await this.raw(kind);
    if (record) {
      const s = this.s[sys];
      s.run.push(r.run);
      s.ready.push(r.ready);
      s[kind].push(r.stop);
    }
    return r;
  }

  private async hangar(kind: StopKind): Promise<{ run: number; ready: number; stop: number }> {
    const { h } = this;
    const before = await h.api.call<VmView>('GET', '/v1/vms/ss');
    const serial = join(h.dir, 'logs', before.id, 'serial.log');
    const offset = fileSize(serial);
    const t0 = performance.now();
    const vm = await h.api.call<VmView>('POST', '/v1/vms/ss/start');
    const run = performance.now() - t0;
    if (vm.state !== 'running' || vm.pid === undefined) throw new Error(`Hangar start replied ${vm.state}`);
    const pid = vm.pid;
    const ready = (await waitForMarker(serial, offset, { timeoutMs: READY_TIMEOUT_MS, abort: () => (isAlive(pid) ? undefined : 'QEMU exited') })) - t0;
    this.template ??= templateFrom(pid, h, vm);
    const t1 = performance.now();
    const stopped = await h.api.call<VmView>('POST', '/v1/vms/ss/stop', kind === 'forced' ? { force: true } : { force: false, timeoutSeconds: 60 });
    const stop = performance.now() - t1;
    if (stopped.state !== 'stopped') throw new Error(`Hangar ${kind} stop replied ${stopped.state}`);
    if (isAlive(pid)) {
      this.replyBeforeExit++;
      await waitGone(pid, 10_000);
    }
    return { run, ready, stop };
  }

  private async libvirt(kind: StopKind): Promise<{ run: number; ready: number; stop: number }> {
    const { lv } = this;
    const name = 'ss';
    const serial = join(lv.guestDir, `ss-${this.count++}.log`);
    const xml = lv.writeDomain({ name, memoryMiB: MEMORY_MIB, serialLog: serial }, 'ss.xml');
    const created = await lv.virshOk(['create', xml]);
    const run = created.ms;
    const pid = lv.qemuPid(name);
    if (pid === undefined) throw new Error('virsh create returned but libvirt has no QEMU pid for the domain');
    const ready = (await waitForMarker(serial, 0, { timeoutMs: READY_TIMEOUT_MS, abort: () => (isAlive(pid) ? undefined : 'QEMU exited') })) - created.t0;
    const t1 = performance.now();
    let stop: number;
    if (kind === 'forced') {
      const gone = waitGone(pid, 30_000, 2).then(() => performance.now());
      const d = await lv.virshOk(['destroy', name]);
      this.virshDestroyQemuGone.push((await gone) - t1);
      stop = d.ms;
    } else {
      const gone = waitGone(pid, 90_000, 2).then(() => performance.now());
      const sd = await lv.virshOk(['shutdown', name]);
      this.virshShutdownReturn.push(sd.ms);
      stop = (await gone) - t1;
      if (isAlive(pid)) throw new Error('libvirt guest ignored `virsh shutdown`');
    }
    // A transient domain disappears once libvirt has processed QEMU's exit: wait for that (not timed).
    const deadline = Date.now() + 30_000;
    while ((await lv.virsh(['domstate', name])).code === 0) {
      if (Date.now() > deadline) throw new Error('libvirt still lists the stopped transient domain after 30 s');
      await sleep(20);
    }
    rmSync(serial, { force: true });
    return { run, ready, stop };
  }

  private async raw(kind: StopKind): Promise<{ run: number; ready: number; stop: number }> {
    if (!this.template) throw new Error('no QEMU argv captured from Hangar yet');
    const dir = join(this.ctx.tmp, 'lraw', String(this.count++));
    const q = RawBaseline.launch(this.template, dir);
    try {
      const run = await q.run();
      const ready = await q.ready(READY_TIMEOUT_MS);
      const stop = kind === 'forced' ? await q.quit() : await q.powerdown();
      return { run, ready, stop };
    } finally {
      await q.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Cheap extra rows: Hangar create+start in one call (what `virsh create` does), and virsh's own floor. */
  private async extras(record: boolean): Promise<void> {
    const { h, lv } = this;
    const t0 = performance.now();
    const vm = await h.api.call<VmView>('POST', '/v1/vms', { name: 'sc', ...TINY_GUEST, start: true });
    const createStart = performance.now() - t0;
    if (vm.state !== 'running') throw new Error(`Hangar create+start replied ${vm.state}`);
    const t1 = performance.now();
    await h.api.call('DELETE', '/v1/vms/sc?force=true');
    const del = performance.now() - t1;
    const floor = await lv.virshOk(['uri']);
    if (!record) return;
    this.hangarCreateStart.push(createStart);
    this.hangarForceDelete.push(del);
    this.virshFloor.push(floor.ms);
  }

  private report(): CaseResult {
    const { hangar: H, libvirt: L, raw: R } = this.s;
    const rows: string[][] = [
      ['start: request → QEMU running', cell(H.run), cell(L.run), cell(R.run), ratio(H.run, L.run), ratio(H.run, R.run)],
      ['start: request → HANGAR-GUEST-READY on the serial console', cell(H.ready), cell(L.ready), cell(R.ready), ratio(H.ready, L.ready), ratio(H.ready, R.ready)],
      ['forced stop: request → done (reply / `virsh destroy` exits / QEMU exits)', cell(H.forced), cell(L.forced), cell(R.forced), ratio(H.forced, L.forced), ratio(H.forced, R.forced)],
      ['graceful stop (ACPI): request → guest off and QEMU gone', cell(H.graceful), cell(L.graceful), cell(R.graceful), ratio(H.graceful, L.graceful), ratio(H.graceful, R.graceful)],
    ];
    const main = table(['measure', 'Hangar (API)', 'libvirt (virsh)', 'raw QEMU (by hand)', 'Hangar / libvirt', 'Hangar / raw'], rows, ['l', 'r', 'r', 'r', 'r', 'r']);

    const extra = table(['also measured', 'median (spread)', 'n'], [
      ['Hangar: POST /v1/vms {start:true} (create + start in one request, like `virsh create`) → running', cell(this.hangarCreateStart), String(this.hangarCreateStart.length)],
      ['Hangar: DELETE ?force=true of that running VM', cell(this.hangarForceDelete), String(this.hangarForceDelete.length)],
      ['libvirt: `virsh destroy` spawned → QEMU process gone (the forced-stop row waits for virsh to return)', cell(this.virshDestroyQemuGone), String(this.virshDestroyQemuGone.length)],
      ['libvirt: `virsh shutdown` spawn → exit (returns once ACPI is sent)', cell(this.virshShutdownReturn), String(this.virshShutdownReturn.length)],
      ['libvirt: `virsh uri` spawn → exit (virsh start-up + connect: the floor inside every virsh row)', cell(this.virshFloor), String(this.virshFloor.length)],
      ['Hangar API − raw QEMU, start → running, paired by iteration', cell(this.paired.run), String(this.paired.run.length)],
      ['Hangar API − raw QEMU, forced stop, paired by iteration', cell(this.paired.forced), String(this.paired.forced.length)],
    ], ['l', 'r', 'r']);

    const hRun = med(H.run);
    const lRun = med(L.run);
    const createStart = med(this.hangarCreateStart);
    const overhead = med(this.paired.run);
    const speedup = lRun / hRun;
    const forced = med(H.forced);
    const goals: Goal[] = [
      {
        name: `start overhead over raw QEMU < ${START_OVERHEAD_GOAL_MS} ms (Hangar API start → running minus raw QEMU's, paired by iteration, median)`,
        met: overhead < START_OVERHEAD_GOAL_MS,
        detail: `${fmtMs(overhead)} (medians: Hangar ${fmtMs(hRun)}, raw ${fmtMs(med(R.run))})${overhead < START_OVERHEAD_GOAL_MS ? '' : ` — missed by ${fmtMs(overhead - START_OVERHEAD_GOAL_MS)}`}`,
      },
      {
        name: `start ≥ ${VIRSH_CREATE_SPEEDUP_GOAL}× faster than \`virsh create\` (medians, request → running)`,
        met: speedup >= VIRSH_CREATE_SPEEDUP_GOAL,
        detail: `virsh create ${fmtMs(lRun)} / Hangar start ${fmtMs(hRun)} = ${speedup.toFixed(2)}× (Hangar create+start in one request: ${fmtMs(createStart)}, ${(lRun / createStart).toFixed(2)}×)${speedup >= VIRSH_CREATE_SPEEDUP_GOAL ? '' : ` — short of ${VIRSH_CREATE_SPEEDUP_GOAL}×`}`,
      },
      {
        name: `forced stop < ${FORCED_STOP_GOAL_MS} ms (Hangar API, median)`,
        met: forced < FORCED_STOP_GOAL_MS,
        detail: `${fmtMs(forced)}; libvirt \`virsh destroy\` ${fmtMs(med(L.forced))}, Hangar / libvirt ${fmtRatio(forced, med(L.forced))}${forced < FORCED_STOP_GOAL_MS ? '' : ` — missed by ${fmtMs(forced - FORCED_STOP_GOAL_MS)}`}`,
      },
    ];

    const t = this.template;
    const notes = [
      SPREAD_NOTE + ` n = ${H.run.length} per system for start rows (every cycle), ${H.forced.length} per stop kind.`,
      `Guest everywhere: the tiny image (kernel + initrd from ${tinyManifestPath()}), q35, 1 vCPU, ${MEMORY_MIB} MiB, \`-cpu max\`, TCG, user-mode virtio NIC, VGA + VNC on a unix socket, virtio balloon and RNG. libvirt's domain is the same hardware (\`<domain type='qemu'>\`, \`<cpu mode='maximum'/>\`); its QEMU argv is libvirt's own.`,
      `Hangar: a client in this process over the API socket (no CLI process; see the start-stop case for CLI costs). Start returns after QMP \`cont\`; stops return once QEMU has exited${this.replyBeforeExit > 0 ? ` — **except ${this.replyBeforeExit} replies that came while QEMU was still alive**` : ' (checked every time)'}.`,
      'libvirt: each row is a `virsh -c qemu:///system?socket=…` process (spawn → exit; its floor is in the table above). Forced = `virsh destroy`, timed until it returns (QEMU is gone well before: see above); graceful = `virsh shutdown` (returns at once), timed until the QEMU process is gone (pid from libvirt\'s pidfile, polled every 2 ms).',
      `Raw QEMU: Hangar's own argv for this guest (${t ? t.args.length : '?'} arguments, read from /proc) with fresh paths, spawned detached, QMP \`cont\`; forced = QMP \`quit\`, graceful = QMP \`system_powerdown\`.`,
      'READY: the first 2 ms poll of the guest\'s serial log file that shows `HANGAR-GUEST-READY`, from the request (Hangar), the virsh spawn (libvirt) or the QEMU spawn (raw).',
    ];
    return {
      title: 'Start and stop: Hangar vs libvirt vs raw QEMU',
      markdown: [main, '', extra, '', ...notes.map((n) => `- ${n}`)].join('\n'),
      goals,
    };
  }
}

function templateFrom(pid: number, h: HangarDaemon, vm: VmView): ArgvTemplate {
  const cmd = readCmdline(pid);
  if (!cmd || cmd.length < 2) throw new Error(`cannot read the argv of QEMU pid ${pid}`);
  const [binary, ...args] = cmd as [string, ...string[]];
  return { binary, args, runDir: join(h.dir, 'run', 'vms', vm.id), logDir: join(h.dir, 'logs', vm.id), forbidden: `${h.dir}/` };
}

export const libvirtStartStopCase: BenchCase = {
  id: 'libvirt-start-stop',
  async run(ctx: BenchContext): Promise<CaseResult> {
    ensureLibvirt(ctx.progress);
    const h = new HangarDaemon(ctx.root, join(ctx.tmp, 'ssh'));
    let lv: LibvirtHost | undefined;
    try {
      await h.start();
      ctx.progress('libvirt-start-stop: starting libvirtd + virtlogd (throw-away config; first start probes QEMU)');
      lv = await LibvirtHost.start(join(ctx.tmp, 'ssl'), tinyManifestPath(), ctx.progress);
      return await new Bench(ctx, h, lv).run();
    } finally {
      await lv?.stop();
      await h.stop();
    }
  },
};
