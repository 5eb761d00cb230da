/**
 * The control plane's own start, Hangar's daemon vs libvirtd (issue 14's goals):
 *  1. No guests: the daemon spawned → its first answer to a list.
 *  2. 20 running guests (the tiny image, booted): the daemon spawned → a list that shows all
 *     of them running with the QEMU pids they had (re-adoption; guests are never restarted).
 * The two systems alternate restart by restart. Besides the wall time, the daemon's own CPU
 * time until that answer (utime + stime from /proc), which other work on the host inflates less.
 */
import { join } from 'node:path';
import type { VmView } from '../../src/vm/service.js';
import { cell, med, ratio, SPREAD_NOTE } from '../lib/compare.js';
import { cpuTicks, HangarDaemon } from '../lib/hangar-daemon.js';
import { ensureLibvirt, LibvirtHost, tinyManifestPath } from '../lib/libvirt.js';
import { isAlive, sleep } from '../lib/proc.js';
import { waitForMarker } from '../lib/serial.js';
import { fmtMs } from '../lib/stats.js';
import { table, underGoal, type BenchCase, type BenchContext, type CaseResult } from '../lib/report.js';
import { TINY_GUEST } from './libvirt-start-stop.js';

const GUESTS = Number(process.env.BENCH_READOPT_GUESTS ?? 20);
const MEMORY_MIB = 128;
const POLL_MS = 2;
const BOOT_TIMEOUT_MS = 15 * 60_000;
const STALL_MS = 60_000;
/** Goals from issue 14. */
const START_GOAL_MS = 250;
const READOPT_GOAL_MS = 300;

type Sys = 'hangar' | 'libvirt';

interface Restart {
  /** Spawn → first answer. */
  first: number[];
  /** Spawn → the list shows every guest running with its pid. */
  all: number[];
  /** The daemon's CPU time (ms) at its first answer. */
  cpu: number[];
}

const restarts = (): Record<Sys, Restart> => ({ hangar: { first: [], all: [], cpu: [] }, libvirt: { first: [], all: [], cpu: [] } });

/** Restarts Hangar's daemon; times spawn → first answer and → all `want` guests running with their pids. */
async function restartHangar(h: HangarDaemon, want: ReadonlyMap<string, number>, into: Restart): Promise<void> {
  await h.shutdown();
  const t0 = h.spawn();
  let first = Number.NaN;
  const deadline = t0 + 120_000;
  for (;;) {
    try {
      const vms = await h.list();
      if (Number.isNaN(first)) {
        first = performance.now() - t0;
        into.cpu.push(cpuTicks(h.pid) * 10);
      }
      if (vms.filter((v) => v.state === 'running' && v.adopting !== true && v.pid !== undefined && want.get(v.name) === v.pid).length === want.size) break;
    } catch {
      if (!h.running) throw new Error(`the Hangar daemon exited on restart:\n${h.log().slice(-2000)}`);
    }
    if (performance.now() > deadline) throw new Error(`Hangar did not list all ${want.size} guests running within 120 s of a restart`);
    await sleep(POLL_MS);
  }
  into.all.push(performance.now() - t0);
  into.first.push(first);
}

/** Restarts libvirtd (virtlogd keeps running); times spawn → first `virsh list` answer and → all `want` listed. */
async function restartLibvirt(lv: LibvirtHost, want: ReadonlyMap<string, number>, into: Restart): Promise<void> {
  await lv.stopLibvirtd();
  const t0 = await lv.spawnLibvirtd();
  let first = Number.NaN;
  const deadline = t0 + 120_000;
  for (;;) {
    const r = await lv.virsh(['list', '--name']);
    if (r.code === 0) {
      if (Number.isNaN(first)) {
        first = performance.now() - t0;
        into.cpu.push(cpuTicks(lv.libvirtdPid) * 10);
      }
      const listed = r.stdout.split('\n').map((s) => s.trim()).filter((n) => want.has(n)).length;
      if (listed === want.size) break;
    } else if (!isAlive(lv.libvirtdPid)) {
      throw new Error(`libvirtd exited on restart:\n${lv.logTail()}`);
    }
    if (performance.now() > deadline) throw new Error(`libvirt did not list all ${want.size} guests within 120 s of a restart`);
    await sleep(POLL_MS);
  }
  into.all.push(performance.now() - t0);
  into.first.push(first);
  for (const [name, pid] of want) if (lv.qemuPid(name) !== pid) throw new Error(`libvirt: ${name} has another QEMU after the restart`);
}

async function alternate(n: number, label: string, ctx: BenchContext, run: (s: Sys) => Promise<void>): Promise<void> {
  for (let i = 0; i <= n; i++) {
    const order: Sys[] = i % 2 === 0 ? ['hangar', 'libvirt'] : ['libvirt', 'hangar'];
    ctx.progress(`libvirt-daemon: ${label} ${i}/${n}${i === 0 ? ' (warm-up, not recorded)' : ''}`);
    for (const s of order) await run(s);
  }
}

export const libvirtDaemonCase: BenchCase = {
  id: 'libvirt-daemon',
  async run(ctx: BenchContext): Promise<CaseResult> {
    ensureLibvirt(ctx.progress);
    const h = new HangarDaemon(ctx.root, join(ctx.tmp, 'dh'));
    let lv: LibvirtHost | undefined;
    const empty = restarts();
    const fleet = restarts();
    try {
      await h.start();
      ctx.progress('libvirt-daemon: starting libvirtd + virtlogd (throw-away config)');
      lv = await LibvirtHost.start(join(ctx.tmp, 'dl'), tinyManifestPath(), ctx.progress);
      const host = lv;
      const none = new Map<string, number>();

      // 1. No guests. A first daemon that ran a few seconds has written its code cache (see
      // src/cli/launch.ts), as any daemon of this build on this host would have.
      await sleep(4000);
      await alternate(ctx.n, 'restart with no guests', ctx, async (s) => {
        if (s === 'hangar') await restartHangar(h, none, empty.hangar);
        else await restartLibvirt(host, none, empty.libvirt);
      });
      for (const s of ['hangar', 'libvirt'] as const) for (const k of ['first', 'all', 'cpu'] as const) empty[s][k].shift(); // the warm-up round

      // 2. GUESTS guests on each, booted.
      ctx.progress(`libvirt-daemon: ${GUESTS} guests on each system, booting`);
      const names = Array.from({ length: GUESTS }, (_, i) => `r${String(i + 1).padStart(2, '0')}`);
      const started = performance.now();
      const hv = await Promise.all(names.map((name) => h.api.call<VmView>('POST', '/v1/vms', { name, ...TINY_GUEST, start: true })));
      const defs = names.map((name, i) => ({ name, memoryMiB: MEMORY_MIB, serialLog: join(host.guestDir, `${name}-${i}.log`) }));
      const created = await Promise.all(defs.map((g) => host.virsh(['create', host.writeDomain(g)])));
      const failed = created.filter((r) => r.code !== 0);
      if (failed.length > 0) throw new Error(`libvirt: ${failed.length} \`virsh create\` failed: ${failed[0]!.stderr.trim()}`);
      const hWant = new Map(hv.map((v) => [v.name, v.pid!]));
      const lWant = new Map(names.map((n) => [n, host.qemuPid(n)!]));
      const serials = [...hv.map((v) => join(h.dir, 'logs', v.id, 'serial.log')), ...defs.map((g) => g.serialLog)];
      // Under TCG on a busy host a guest kernel now and then hangs in early boot (seen: right after
      // "MP-BIOS bug: 8254 timer not connected to IO-APIC"). Its QEMU runs all the same, which is
      // all re-adoption needs: once nearly all are up, one still silent STALL_MS later is left be.
      let ready = 0;
      let lastReady = performance.now();
      const stalled = () => ready >= serials.length - Math.max(1, Math.floor(serials.length / 10)) && performance.now() - lastReady > STALL_MS;
      await Promise.all(serials.map((p) =>
        waitForMarker(p, 0, { timeoutMs: BOOT_TIMEOUT_MS, intervalMs: 200, abort: () => (stalled() ? 'stalled in early boot' : undefined) })
          .then(() => {
            ready++;
            lastReady = performance.now();
          })
          .catch(() => undefined)));
      const bootS = (performance.now() - started) / 1000;
      const hung = serials.length - ready;
      ctx.progress(`libvirt-daemon: ${ready} of ${2 * GUESTS} guests booted in ${bootS.toFixed(0)} s${hung ? ` (${hung} stuck in early boot, left running)` : ''}`);
      for (const [name, pid] of [...hWant, ...lWant]) if (!isAlive(pid)) throw new Error(`the QEMU of ${name} (pid ${pid}) exited before the restarts`);
      await sleep(3000);
      await alternate(ctx.n, `restart with ${GUESTS} running guests`, ctx, async (s) => {
        if (s === 'hangar') await restartHangar(h, hWant, fleet.hangar);
        else await restartLibvirt(host, lWant, fleet.libvirt);
      });
      for (const s of ['hangar', 'libvirt'] as const) for (const k of ['first', 'all', 'cpu'] as const) fleet[s][k].shift();

      const startMs = med(empty.hangar.first);
      const readoptMs = med(fleet.hangar.all);
      const rows = [
        ['no guests: daemon spawned → first answer to a list', cell(empty.hangar.first), cell(empty.libvirt.first), ratio(empty.hangar.first, empty.libvirt.first)],
        ['no guests: the daemon\'s CPU time until then', cell(empty.hangar.cpu), cell(empty.libvirt.cpu), ratio(empty.hangar.cpu, empty.libvirt.cpu)],
        [`${GUESTS} running guests: daemon spawned → list shows all ${GUESTS} running, same pids`, cell(fleet.hangar.all), cell(fleet.libvirt.all), ratio(fleet.hangar.all, fleet.libvirt.all)],
        [`${GUESTS} running guests: daemon spawned → first answer to a list`, cell(fleet.hangar.first), cell(fleet.libvirt.first), ratio(fleet.hangar.first, fleet.libvirt.first)],
        [`${GUESTS} running guests: the daemon's CPU time until its first answer`, cell(fleet.hangar.cpu), cell(fleet.libvirt.cpu), ratio(fleet.hangar.cpu, fleet.libvirt.cpu)],
      ];
      const notes = [
        `${SPREAD_NOTE} N = ${empty.hangar.first.length} restarts per system without guests and ${fleet.hangar.all.length} with ${GUESTS} guests, after one warm-up round each; the systems alternate (ABBA).`,
        'Hangar: SIGTERM to the daemon (its guests keep running), then `bin/hangar daemon --accel tcg --cpu-overcommit 50` on the same data dir, `GET /v1/vms` on its unix socket polled every 2 ms from this process. It answers as soon as it listens, while it re-adopts the running guests (pid + start time + QMP) in the background: the list marks a guest `adopting` until it is, and a request about one guest waits for that guest only. "All 20 running" counts a guest once it is listed running and no longer adopting.',
        'libvirt 9.0: SIGTERM to libvirtd (virtlogd keeps running), then `libvirtd --daemon` (spawned through `unshare` + `sh`, binding its throw-away dirs), polled with `virsh list --name` (one process per poll, ~20 ms each: the floor of every libvirt figure); the QEMU pids are checked unchanged afterwards.',
        `Guests: the tiny image, 1 vCPU, ${MEMORY_MIB} MiB, TCG, the same hardware on both sides (see the start-stop case); ${ready} of ${2 * GUESTS} booted to HANGAR-GUEST-READY in ${bootS.toFixed(0)} s before the restarts${hung ? ` (${hung} hung in early boot, as TCG guests now and then do on a busy host: their QEMU runs, and is re-adopted like the others)` : ''}. CPU time: utime + stime from /proc/PID/stat at the first answer (10 ms ticks).`,
      ];
      return {
        title: 'Daemon start and re-adoption (Hangar vs libvirtd)',
        markdown: [table(['daemon restart', 'Hangar', 'libvirt', 'Hangar / libvirt'], rows, ['l', 'r', 'r', 'r']), '', ...notes.map((x) => `- ${x}`)].join('\n'),
        goals: [
          underGoal(`daemon start → first answer (no guests) under ${START_GOAL_MS} ms (median; libvirtd ${fmtMs(med(empty.libvirt.first))})`, startMs, START_GOAL_MS, fmtMs, 'Hangar'),
          underGoal(`re-adoption of ${GUESTS} running guests under ${READOPT_GOAL_MS} ms (spawn → all listed running, median; libvirtd ${fmtMs(med(fleet.libvirt.all))})`, readoptMs, READOPT_GOAL_MS, fmtMs, 'Hangar'),
        ],
      };
    } finally {
      await lv?.stop();
      await h.stop();
    }
  },
};
