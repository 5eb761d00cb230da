/**
 * Start and forced stop: Hangar (API and CLI) against the same QEMU argv launched and
 * stopped by hand. Systems are interleaved (and the order rotated every iteration) so
 * drift in the machine's load cancels out; each system gets one unrecorded warm-up.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { VmView } from '../../src/vm/service.js';
import { hangarCli, runHangarCli } from '../lib/cli.js';
import { BenchDaemon, type HangarEvent } from '../lib/daemon.js';
import { isAlive, readCmdline } from '../lib/proc.js';
import { RawQemu, type ArgvTemplate } from '../lib/raw-qemu.js';
import { fileSize, waitForMarker } from '../lib/serial.js';
import { fmtMs, fmtRatio, fmtSpread, summarize } from '../lib/stats.js';
import { table, underGoal, type BenchCase, type BenchContext, type CaseResult } from '../lib/report.js';

/** The guest every system runs: Hangar's defaults for the tiny image, sized small. */
export const GUEST = { image: 'tiny', cpus: 1, memory: '128M' } as const;

/** Goals from the issue. */
const START_OVERHEAD_GOAL_MS = 10;
const FORCED_STOP_GOAL_MS = 100;

type Sys = 'api' | 'cli' | 'rawQuit' | 'rawKill' | 'cliFloor';

interface Samples {
  start: number[];
  ready: number[];
  stop: number[];
}

/** Daemon-side phases of one API start/stop, from its event timestamps (1 ms resolution). */
interface Phases {
  preSpawn: number[];
  spawnToRunning: number[];
  runningToReply: number[];
  stopToStopped: number[];
  stoppedToReply: number[];
}

class StartStop {
  private readonly s: Record<Sys, Samples> = {
    api: { start: [], ready: [], stop: [] },
    cli: { start: [], ready: [], stop: [] },
    rawQuit: { start: [], ready: [], stop: [] },
    rawKill: { start: [], ready: [], stop: [] },
    cliFloor: { start: [], ready: [], stop: [] },
  };
  private readonly phases: Phases = { preSpawn: [], spawnToRunning: [], runningToReply: [], stopToStopped: [], stoppedToReply: [] };
  private template?: ArgvTemplate;
  private rawCount = 0;
  private replyBeforeExit = 0;
  private readonly rawDir: string;

  constructor(private readonly ctx: BenchContext, private readonly d: BenchDaemon) {
    this.rawDir = mkdtempSync(join(ctx.tmp, 'r'));
  }

  async run(): Promise<CaseResult> {
    const { ctx, d } = this;
    await d.api.call('POST', '/v1/vms', { name: 'bapi', ...GUEST });
    await d.api.call('POST', '/v1/vms', { name: 'bcli', ...GUEST });
    try {
      const order: Sys[] = ['api', 'rawQuit', 'cli', 'rawKill', 'cliFloor'];
      ctx.progress('start-stop: warm-up (1 per system, not recorded)');
      for (const sys of order) await this.once(sys, false);
      for (let i = 0; i < ctx.n; i++) {
        const rotated = [...order.slice(i % order.length), ...order.slice(0, i % order.length)];
        ctx.progress(`start-stop: iteration ${i + 1}/${ctx.n} (${rotated.join(', ')})`);
        for (const sys of rotated) await this.once(sys, true);
      }
    } finally {
      rmSync(this.rawDir, { recursive: true, force: true });
    }
    return this.report();
  }

  private async once(sys: Sys, record: boolean): Promise<void> {
    switch (sys) {
      case 'api':
        return this.api(record);
      case 'cli':
        return this.cli(record);
      case 'rawQuit':
        return this.raw('quit', record);
      case 'rawKill':
        return this.raw('kill', record);
      case 'cliFloor': {
        const r = await hangarCli(this.ctx.root, ['--version']);
        if (record) this.s.cliFloor.start.push(r.ms);
        return;
      }
    }
  }

  private async api(record: boolean): Promise<void> {
    const { d } = this;
    const before = await d.vm('bapi');
    const serial = d.serialLog(before);
    const offset = fileSize(serial);
    const seq = await d.lastSeq();

    const wallStart = Date.now();
    const t0 = performance.now();
    const started = await d.api.call<VmView>('POST', '/v1/vms/bapi/start');
    const tRun = performance.now() - t0;
    const wallStarted = Date.now();
    if (started.state !== 'running' || started.pid === undefined) throw new Error(`start replied ${started.state}`);
    const pid = started.pid;
    const tReady = (await waitForMarker(serial, offset, { abort: () => (isAlive(pid) ? undefined : 'QEMU exited') })) - t0;

    // The raw baseline runs exactly what Hangar ran (captured once, during the warm-up).
    this.template ??= templateFrom(pid, d, started);

    const wallStop = Date.now();
    const t1 = performance.now();
    const stopped = await d.api.call<VmView>('POST', '/v1/vms/bapi/stop', { force: true });
    const tStop = performance.now() - t1;
    const wallStopped = Date.now();
    if (stopped.state !== 'stopped') throw new Error(`forced stop replied ${stopped.state}`);
    if (isAlive(pid)) this.replyBeforeExit++;
    if (!record) return;

    this.s.api.start.push(tRun);
    this.s.api.ready.push(tReady);
    this.s.api.stop.push(tStop);
    this.recordPhases(await d.events('bapi', seq), { wallStart, wallStarted, wallStop, wallStopped });
  }

  private recordPhases(events: HangarEvent[], w: { wallStart: number; wallStarted: number; wallStop: number; wallStopped: number }): void {
    const at = (state: string) => {
      const e = events.find((x) => x.type === 'vm.state' && x.data.state === state);
      return e ? Date.parse(e.time) : Number.NaN;
    };
    const starting = at('starting');
    const running = at('running');
    const stopped = at('stopped');
    this.phases.preSpawn.push(starting - w.wallStart);
    this.phases.spawnToRunning.push(running - starting);
    this.phases.runningToReply.push(w.wallStarted - running);
    this.phases.stopToStopped.push(stopped - w.wallStop);
    this.phases.stoppedToReply.push(w.wallStopped - stopped);
  }

  private async cli(record: boolean): Promise<void> {
    const { d, ctx } = this;
    const before = await d.vm('bcli');
    const serial = d.serialLog(before);
    const offset = fileSize(serial);
    const started = await hangarCli(ctx.root, ['--socket', d.socket, 'vm', 'start', 'bcli']);
    const vm = await d.vm('bcli');
    const pid = vm.pid ?? -1;
    const tReady = (await waitForMarker(serial, offset, { abort: () => (isAlive(pid) ? undefined : 'QEMU exited') })) - started.t0;
    const stopped = await runHangarCli(ctx.root, ['--socket', d.socket, 'vm', 'stop', 'bcli', '--force']);
    if (stopped.code !== 0) throw new Error(`hangar vm stop --force failed: ${stopped.stderr}`);
    if (!record) return;
    this.s.cli.start.push(started.ms);
    this.s.cli.ready.push(tReady);
    this.s.cli.stop.push(stopped.ms);
  }

  private async raw(how: 'quit' | 'kill', record: boolean): Promise<void> {
    // The template comes from the first API run, which always precedes the first raw run.
    if (!this.template) throw new Error('no QEMU argv captured from Hangar yet');
    const dir = join(this.rawDir, String(this.rawCount++));
    const q = RawQemu.launch(this.template, dir);
    try {
      const tRun = await q.run();
      const tReady = await q.ready();
      const tStop = how === 'quit' ? await q.quit() : await q.kill();
      if (!record) return;
      const s = how === 'quit' ? this.s.rawQuit : this.s.rawKill;
      s.start.push(tRun);
      s.ready.push(tReady);
      s.stop.push(tStop);
    } finally {
      await q.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  private report(): CaseResult {
    const S = (xs: number[]) => summarize(xs);
    const raw = { start: [...this.s.rawQuit.start, ...this.s.rawKill.start], ready: [...this.s.rawQuit.ready, ...this.s.rawKill.ready] };
    const apiStart = S(this.s.api.start);
    const rawStart = S(raw.start);
    const apiReady = S(this.s.api.ready);
    const rawReady = S(raw.ready);
    const cliStart = S(this.s.cli.start);
    const cliReady = S(this.s.cli.ready);
    const floor = S(this.s.cliFloor.start);
    const apiStop = S(this.s.api.stop);
    const quitStop = S(this.s.rawQuit.stop);
    const killStop = S(this.s.rawKill.stop);
    const cliStop = S(this.s.cli.stop);

    const row = (what: string, sys: string, s: ReturnType<typeof S>, base?: ReturnType<typeof S>) => [
      what, sys, fmtMs(s.median), fmtSpread(s), String(s.n),
      base ? fmtMs(s.median - base.median) : '–',
      base ? fmtRatio(s.median, base.median) : 'baseline',
    ];
    const headers = ['measure', 'system', 'median', 'spread', 'n', 'Δ median vs raw', 'Hangar/raw'];
    const align = ['l', 'l', 'r', 'r', 'r', 'r', 'r'] as const;

    const startTable = table(headers, [
      row('start → running', 'raw QEMU: spawn → QMP `cont` answered', rawStart),
      row('start → running', 'Hangar API: POST /v1/vms/NAME/start → 200', apiStart, rawStart),
      row('start → running', 'Hangar CLI: `hangar vm start` spawn → exit (node startup incl.)', cliStart, rawStart),
      row('start → READY', 'raw QEMU: spawn → HANGAR-GUEST-READY', rawReady),
      row('start → READY', 'Hangar API: POST start → HANGAR-GUEST-READY', apiReady, rawReady),
      row('start → READY', 'Hangar CLI: spawn → HANGAR-GUEST-READY', cliReady, rawReady),
      row('CLI floor', '`hangar --version` spawn → exit (no daemon call)', floor),
    ], align);

    const stopTable = table(['measure', 'system', 'median', 'spread', 'n', 'Δ median vs raw quit', 'Hangar/raw quit', 'Hangar/raw SIGKILL'], [
      [...row('forced stop', 'raw QEMU: QMP `quit` → process exited', quitStop), '–'],
      [...row('forced stop', 'raw QEMU: SIGKILL → process exited', killStop), '–'],
      [...row('forced stop', 'Hangar API: POST stop {force:true} → 200', apiStop, quitStop), fmtRatio(apiStop.median, killStop.median)],
      [...row('forced stop', 'Hangar CLI: `hangar vm stop --force` spawn → exit', cliStop, quitStop), fmtRatio(cliStop.median, killStop.median)],
    ], [...align, 'r']);

    // Paired by iteration: each Hangar sample against the raw runs of the same iteration, so load drift cancels.
    const paired = (h: number[], r: (i: number) => number) => h.map((x, i) => x - r(i));
    const rawAt = (k: keyof Samples) => (i: number) => (this.s.rawQuit[k][i]! + this.s.rawKill[k][i]!) / 2;
    const pStart = S(paired(this.s.api.start, rawAt('start')));
    const pReady = S(paired(this.s.api.ready, rawAt('ready')));
    const pStop = S(paired(this.s.api.stop, (i) => this.s.rawQuit.stop[i]!));
    const pRow = (what: string, s: ReturnType<typeof S>) => [what, fmtMs(s.median), fmtSpread(s), String(s.n)];
    const pairedTable = table(['Hangar API − raw QEMU, paired by iteration', 'median', 'spread', 'n'], [
      pRow('start → running (vs the two raw runs of the same iteration)', pStart),
      pRow('start → READY (same)', pReady),
      pRow('forced stop (vs raw QMP `quit` of the same iteration)', pStop),
    ], ['l', 'r', 'r', 'r']);

    const p = this.phases;
    const phase = (what: string, xs: number[]) => {
      const s = S(xs);
      return [what, fmtMs(s.median), fmtSpread(s), String(s.n)];
    };
    const phaseTable = table(['Hangar API phase (daemon event timestamps, 1 ms resolution)', 'median', 'spread', 'n'], [
      phase('start: request sent → `starting` recorded (checks, argv, boot-file check, mkdir, store)', p.preSpawn),
      phase('start: `starting` → `running` recorded (spawn, QMP connect + handshake, `cont`, store)', p.spawnToRunning),
      phase('start: `running` recorded → reply received', p.runningToReply),
      phase('stop: request sent → `stopped` recorded (quit, wait for exit, store)', p.stopToStopped),
      phase('stop: `stopped` recorded → reply received (socket cleanup, reply)', p.stoppedToReply),
    ], ['l', 'r', 'r', 'r']);

    const t = this.template;
    const notes = [
      `Guest: image \`${GUEST.image}\`, ${GUEST.cpus} vCPU, ${GUEST.memory}, q35 + VGA/VNC (Hangar's defaults), \`accel=tcg\`.`,
      `Raw QEMU runs the argv Hangar gave QEMU (read from /proc/PID/cmdline; ${t ? t.args.length : '?'} arguments) with fresh socket/log paths, spawned detached with stdio to a log file, QMP via Hangar's QmpClient (2 ms connect retries, as the daemon). Its start row pools the \`quit\` and SIGKILL runs.`,
      'Hangar timings are taken by a client over the API socket; the start reply comes after QMP `cont` is answered, the forced-stop reply after QEMU has exited' +
        (this.replyBeforeExit > 0 ? ` — **but ${this.replyBeforeExit} forced-stop replies arrived while QEMU was still alive**.` : ' (checked: QEMU was gone at every reply).'),
      'READY = first poll (every 2 ms) of the serial log file that shows `HANGAR-GUEST-READY`, for every system alike.',
      'CLI rows include starting node and loading the CLI (see the CLI floor row); they are not what the goals are about.',
    ];

    const goals = [
      underGoal(`Hangar adds < ${START_OVERHEAD_GOAL_MS} ms to raw QEMU's start (API start → running; median of per-iteration differences)`, pStart.median, START_OVERHEAD_GOAL_MS, fmtMs,
        `(difference of the medians: ${fmtMs(apiStart.median)} − ${fmtMs(rawStart.median)} = ${fmtMs(apiStart.median - rawStart.median)}) paired median`),
      underGoal(`forced stop < ${FORCED_STOP_GOAL_MS} ms (API, median)`, apiStop.median, FORCED_STOP_GOAL_MS, fmtMs, `median ${fmtMs(apiStop.median)} (p90 ${fmtMs(apiStop.p90)});`),
    ];
    const markdown = [
      '### Start',
      startTable,
      '',
      '### Forced stop',
      stopTable,
      '',
      '### Hangar overhead, paired',
      pairedTable,
      '',
      '### Where the API start and stop time goes',
      phaseTable,
      '',
      ...notes.map((n) => `- ${n}`),
      '- For reference (issue, same machines, not measured here): libvirt `virsh create` ≈ 280 ms, `virsh destroy` ≈ 2 s.',
    ].join('\n');
    return { title: 'Start and forced stop: Hangar vs the same QEMU argv by hand', markdown, goals };
  }
}

/** The Hangar QEMU's argv, with the VM's run and log dirs marked for substitution. */
function templateFrom(pid: number, d: BenchDaemon, vm: VmView): ArgvTemplate {
  const cmd = readCmdline(pid);
  if (!cmd || cmd.length < 2) throw new Error(`cannot read the argv of QEMU pid ${pid}`);
  const [binary, ...args] = cmd as [string, ...string[]];
  return { binary, args, runDir: join(d.dir, 'run', 'vms', vm.id), logDir: join(d.dir, 'logs', vm.id), forbidden: `${d.dir}/` };
}

export const startStopCase: BenchCase = {
  id: 'start-stop',
  async run(ctx: BenchContext): Promise<CaseResult> {
    const d = await BenchDaemon.start({ root: ctx.root, parent: ctx.tmp });
    try {
      return await new StartStop(ctx, d).run();
    } finally {
      await d.stop();
    }
  },
};
