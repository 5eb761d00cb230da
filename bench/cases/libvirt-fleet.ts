/**
 * Many guests: Hangar vs libvirt.
 *  1. Burst: create and start 20 tiny guests at once (20 parallel API requests; 20 parallel
 *     `virsh create`), time until all run; rounds interleave the two systems (ABBA).
 *  2. Control-plane cost with 0, 20 and 50 guests: resident memory and CPU of Hangar's
 *     daemon vs libvirtd + virtlogd, and QEMU memory per guest.
 *  3. Re-adoption: restart the daemon with 20 guests running, time until its list answers
 *     with all of them running (libvirt: libvirtd restart until `virsh list` shows all).
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { VmView } from '../../src/vm/service.js';
import { cell, fmtPct, fmtRate, med, ratio, SPREAD_NOTE } from '../lib/compare.js';
import { cpuPercent, cpuTicks, HangarDaemon } from '../lib/hangar-daemon.js';
import { ensureLibvirt, LibvirtHost, tinyManifestPath } from '../lib/libvirt.js';
import { isAlive, readRssBytes, sleep } from '../lib/proc.js';
import { waitForMarker } from '../lib/serial.js';
import { fmtMiB, fmtMs, fmtRatio } from '../lib/stats.js';
import { table, type BenchCase, type BenchContext, type CaseResult, type Goal } from '../lib/report.js';
import { TINY_GUEST } from './libvirt-start-stop.js';
import { errorText } from '../../src/errors/errors.js';

const MEMORY_MIB = 128;
/** The issue's sizes; the env overrides are for trying the case out quickly. */
const BURST = Number(process.env.BENCH_FLEET_BURST ?? 20);
const MANY = Number(process.env.BENCH_FLEET_MANY ?? 50);
const SETTLE_MS = 5000;
const CPU_WINDOW_MS = Number(process.env.BENCH_CPU_WINDOW_MS ?? 10_000);
const BOOT_TIMEOUT_MS = 15 * 60_000;
const STALL_MS = 90_000;
const BURST_GOAL = 2;

type Sys = 'hangar' | 'libvirt';

interface Guest {
  name: string;
  pid: number;
  serial: string;
  /** Offset in the serial log before this boot (Hangar appends to one log per VM). */
  offset: number;
}

interface Footprint {
  guests: number;
  /** Hangar: the daemon; libvirt: libvirtd + virtlogd (and each alone). */
  rss: number[];
  rssLibvirtd?: number[];
  rssVirtlogd?: number[];
  cpu: number;
  cpuLibvirtd?: number;
  qemuRss: number[];
}

/** The last bytes of a log file, on one line. */
function tail(path: string, bytes = 400): string {
  try {
    const size = statSync(path).size;
    const fd = openSync(path, 'r');
    try {
      const buf = Buffer.alloc(Math.min(bytes, size));
      readSync(fd, buf, 0, buf.length, size - buf.length);
      return buf.toString('utf8').replace(/\s+/g, ' ').trim();
    } finally {
      closeSync(fd);
    }
  } catch {
    return '(no log)';
  }
}

const names = (prefix: string, from: number, count: number) => Array.from({ length: count }, (_, i) => `${prefix}${String(from + i).padStart(2, '0')}`);

async function rssSamples(pids: readonly number[], samples = 5, gapMs = 200): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    out.push(pids.reduce((s, p) => s + readRssBytes(p), 0));
    if (i < samples - 1) await sleep(gapMs);
  }
  return out;
}

class Fleet {
  private readonly burst: Record<Sys, { seconds: number[]; rate: number[]; cpuSec: number[]; stop20: number[] }> = {
    hangar: { seconds: [], rate: [], cpuSec: [], stop20: [] },
    libvirt: { seconds: [], rate: [], cpuSec: [], stop20: [] },
  };
  private readonly foot: Record<Sys, Footprint[]> = { hangar: [], libvirt: [] };
  private readonly readopt: Record<Sys, { all: number[]; first: number[] }> = { hangar: { all: [], first: [] }, libvirt: { all: [], first: [] } };
  /** The same restart with no guests: the daemon's own start-up cost. */
  private readonly restart0: Record<Sys, { all: number[]; first: number[] }> = { hangar: { all: [], first: [] }, libvirt: { all: [], first: [] } };
  private readonly boot: Record<Sys, Array<{ guests: number; ms: number }>> = { hangar: [], libvirt: [] };
  private readonly after: Record<Sys, number[]> = { hangar: [], libvirt: [] };
  private serialCount = 0;
  /** Guests that did not reach READY (their QEMU exited), with why. */
  private readonly failures: string[] = [];

  constructor(private readonly ctx: BenchContext, private readonly h: HangarDaemon, private readonly lv: LibvirtHost) {}

  // ---- starting and stopping many guests ------------------------------------

  /** Creates and starts `list` at once through the API; ms until every reply is in (all running). */
  private async hangarStart(list: readonly string[]): Promise<{ t0: number; ms: number; cpuTicks: number; guests: Guest[] }> {
    const { h } = this;
    const ticks = cpuTicks(h.pid);
    const t0 = performance.now();
    const vms = await Promise.all(list.map((name) => h.api.call<VmView>('POST', '/v1/vms', { name, ...TINY_GUEST, start: true })));
    const ms = performance.now() - t0;
    const used = cpuTicks(h.pid) - ticks;
    const bad = vms.filter((v) => v.state !== 'running' || v.pid === undefined);
    if (bad.length > 0) throw new Error(`Hangar: ${bad.length} guests not running after create+start (${bad[0]!.name}: ${bad[0]!.state})`);
    // Each VM is new, so its serial log starts empty.
    return { t0, ms, cpuTicks: used, guests: vms.map((v) => ({ name: v.name, pid: v.pid!, serial: join(h.dir, 'logs', v.id, 'serial.log'), offset: 0 })) };
  }

  private async libvirtStart(list: readonly string[]): Promise<{ t0: number; ms: number; cpuTicks: number; guests: Guest[] }> {
    const { lv } = this;
    const defs = list.map((name) => ({ name, memoryMiB: MEMORY_MIB, serialLog: join(lv.guestDir, `${name}-${this.serialCount++}.log`) }));
    const files = defs.map((g) => lv.writeDomain(g));
    const pids = () => [lv.libvirtdPid, lv.virtlogdPid];
    const ticks = pids().reduce((s, p) => s + cpuTicks(p), 0);
    const t0 = performance.now();
    const rs = await Promise.all(files.map((f) => lv.virsh(['create', f])));
    const ms = performance.now() - t0;
    const used = pids().reduce((s, p) => s + cpuTicks(p), 0) - ticks;
    const failed = rs.filter((r) => r.code !== 0);
    if (failed.length > 0) throw new Error(`libvirt: ${failed.length} of ${list.length} \`virsh create\` failed: ${failed[0]!.stderr.trim()}`);
    const guests = defs.map((g) => {
      const pid = lv.qemuPid(g.name);
      if (pid === undefined) throw new Error(`libvirt: no QEMU pid for ${g.name}`);
      return { name: g.name, pid, serial: g.serialLog, offset: 0 };
    });
    return { t0, ms, cpuTicks: used, guests };
  }

  private async hangarStopAll(): Promise<number> {
    const vms = await this.h.list();
    const t0 = performance.now();
    await Promise.all(vms.map((v) => this.h.api.call('DELETE', `/v1/vms/${encodeURIComponent(v.name)}?force=true`)));
    return performance.now() - t0;
  }

  private async libvirtStopAll(): Promise<number> {
    const list = await this.lv.names();
    const t0 = performance.now();
    const rs = await Promise.all(list.map((n) => this.lv.virsh(['destroy', n])));
    const ms = performance.now() - t0;
    const failed = rs.filter((r) => r.code !== 0);
    if (failed.length > 0) throw new Error(`libvirt: \`virsh destroy\` failed: ${failed[0]!.stderr.trim()}`);
    const deadline = Date.now() + 60_000;
    while ((await this.lv.names()).length > 0) {
      if (Date.now() > deadline) throw new Error('libvirt still lists destroyed transient domains after 60 s');
      await sleep(100);
    }
    return ms;
  }

  /**
   * Waits for every guest's HANGAR-GUEST-READY; ms from `since` to the last one. A guest
   * whose QEMU exits first is noted (with the tails of its logs) and left out afterwards.
   */
  private async waitBooted(sys: Sys, guests: Guest[], since: number): Promise<number> {
    // Under heavy TCG load a guest kernel now and then hangs early in boot (seen: right after
    // "MP-BIOS bug: 8254 timer not connected to IO-APIC"). Once nearly all guests are up,
    // one that stays silent STALL_MS longer is given up on (and noted) instead of waited for.
    let ready = 0;
    let lastReady = performance.now();
    const stalled = () => ready > 0 && ready >= guests.length - Math.max(1, Math.floor(guests.length / 10)) && performance.now() - lastReady > STALL_MS;
    const ats = await Promise.all(guests.map((g) =>
      waitForMarker(g.serial, g.offset, {
        timeoutMs: BOOT_TIMEOUT_MS, intervalMs: 100,
        abort: () => (!isAlive(g.pid) ? `QEMU of ${g.name} exited` : stalled() ? `no READY ${STALL_MS / 1000} s after ${ready} of ${guests.length} guests were up (the guest is left running)` : undefined),
      })
        .then((at) => {
          ready++;
          lastReady = performance.now();
          return at;
        })
        .catch((e: unknown) => {
          const qemuLog = sys === 'libvirt' ? join(this.lv.dir, 'log', 'qemu', `${g.name}.log`) : join(dirname(g.serial), 'qemu.log');
          this.failures.push(`${sys} ${g.name}: ${errorText(e)}; serial log ends «${tail(g.serial)}»; QEMU log ends «${tail(qemuLog)}»`);
          return Number.NaN;
        })));
    const alive = guests.filter((g) => isAlive(g.pid));
    guests.splice(0, guests.length, ...alive);
    return Math.max(...ats.filter((x) => Number.isFinite(x))) - since;
  }

  // ---- measuring --------------------------------------------------------------

  private async footprint(sys: Sys, guests: readonly Guest[]): Promise<Footprint> {
    if (sys === 'hangar') {
      return { guests: guests.length, rss: await rssSamples([this.h.pid]), cpu: Number.NaN, qemuRss: guests.map((g) => readRssBytes(g.pid)) };
    }
    const { lv } = this;
    return {
      guests: guests.length,
      rss: await rssSamples([lv.libvirtdPid, lv.virtlogdPid]),
      rssLibvirtd: await rssSamples([lv.libvirtdPid]),
      rssVirtlogd: await rssSamples([lv.virtlogdPid]),
      cpu: Number.NaN,
      qemuRss: guests.map((g) => readRssBytes(g.pid)),
    };
  }

  /** CPU of the control planes over the same window (both measured at once when both are given). */
  private async cpu(systems: readonly Sys[]): Promise<Partial<Record<Sys, { all: number; libvirtd?: number }>>> {
    const { h, lv } = this;
    type Cpu = { all: number; libvirtd?: number };
    const jobs = systems.map(async (s): Promise<[Sys, Cpu]> => {
      if (s === 'hangar') return ['hangar', { all: await cpuPercent([h.pid], CPU_WINDOW_MS) }];
      const [all, libvirtd] = await Promise.all([cpuPercent([lv.libvirtdPid, lv.virtlogdPid], CPU_WINDOW_MS), cpuPercent([lv.libvirtdPid], CPU_WINDOW_MS)]);
      return ['libvirt', { all, libvirtd }];
    });
    return Object.fromEntries(await Promise.all(jobs)) as Partial<Record<Sys, { all: number; libvirtd?: number }>>;
  }

  private async measureBoth(guests: Record<Sys, readonly Guest[]>): Promise<void> {
    await sleep(SETTLE_MS);
    const c = await this.cpu(['hangar', 'libvirt']);
    for (const s of ['hangar', 'libvirt'] as const) {
      const f = await this.footprint(s, guests[s]);
      f.cpu = c[s]!.all;
      if (c[s]!.libvirtd !== undefined) f.cpuLibvirtd = c[s]!.libvirtd;
      this.foot[s].push(f);
    }
  }

  private async measureOne(s: Sys, guests: readonly Guest[]): Promise<void> {
    await sleep(SETTLE_MS);
    const c = (await this.cpu([s]))[s]!;
    const f = await this.footprint(s, guests);
    f.cpu = c.all;
    if (c.libvirtd !== undefined) f.cpuLibvirtd = c.libvirtd;
    this.foot[s].push(f);
  }

  // ---- re-adoption --------------------------------------------------------------

  private async readoptHangar(guests: readonly Guest[], into = this.readopt): Promise<void> {
    const { h } = this;
    await h.shutdown();
    const want = new Map(guests.map((g) => [g.name, g.pid]));
    const t0 = h.spawn();
    let first = Number.NaN;
    const deadline = performance.now() + 120_000;
    for (;;) {
      try {
        const vms = await h.list();
        first = Number.isNaN(first) ? performance.now() - t0 : first;
        const ok = vms.filter((v) => v.state === 'running' && v.pid !== undefined && want.get(v.name) === v.pid).length;
        if (ok === want.size) break;
      } catch {
        if (!h.running) throw new Error(`the Hangar daemon exited on restart:\n${h.log().slice(-2000)}`);
      }
      if (performance.now() > deadline) throw new Error('Hangar did not re-adopt all guests within 120 s');
      await sleep(5);
    }
    into.hangar.all.push(performance.now() - t0);
    into.hangar.first.push(first);
  }

  private async readoptLibvirt(guests: readonly Guest[], into = this.readopt): Promise<void> {
    const { lv } = this;
    await lv.stopLibvirtd();
    const want = new Set(guests.map((g) => g.name));
    const t0 = await lv.spawnLibvirtd();
    let first = Number.NaN;
    const deadline = performance.now() + 120_000;
    for (;;) {
      const r = await lv.virsh(['list', '--name']);
      if (r.code === 0) {
        first = Number.isNaN(first) ? performance.now() - t0 : first;
        const listed = r.stdout.split('\n').map((s) => s.trim()).filter((n) => want.has(n)).length;
        if (listed === want.size) break;
      } else if (!isAlive(lv.libvirtdPid)) {
        throw new Error(`libvirtd exited on restart:\n${lv.logTail()}`);
      }
      if (performance.now() > deadline) throw new Error('libvirt did not list all guests within 120 s of a restart');
      await sleep(5);
    }
    into.libvirt.all.push(performance.now() - t0);
    into.libvirt.first.push(first);
    for (const g of guests) if (lv.qemuPid(g.name) !== g.pid) throw new Error(`libvirt: ${g.name} has another QEMU after the restart`);
  }

  // ---- the run ------------------------------------------------------------------

  async run(): Promise<CaseResult> {
    const { ctx } = this;
    const rounds = Number(process.env.BENCH_BURST_ROUNDS ?? 3);
    const restarts = Number(process.env.BENCH_READOPT_RESTARTS ?? 5);

    ctx.progress('libvirt-fleet: both control planes idle, 0 guests');
    await this.measureBoth({ hangar: [], libvirt: [] });
    ctx.progress(`libvirt-fleet: daemon restarts with no guests (${restarts} each, alternating)`);
    for (let i = 0; i < restarts; i++) {
      if (i % 2 === 0) {
        await this.readoptHangar([], this.restart0);
        await this.readoptLibvirt([], this.restart0);
      } else {
        await this.readoptLibvirt([], this.restart0);
        await this.readoptHangar([], this.restart0);
      }
    }

    const kept: Record<Sys, Guest[]> = { hangar: [], libvirt: [] };
    const keptSince: Record<Sys, number> = { hangar: 0, libvirt: 0 };
    for (let r = 0; r <= rounds; r++) {
      const order: Sys[] = r % 2 === 0 ? ['hangar', 'libvirt'] : ['libvirt', 'hangar'];
      const last = r === rounds;
      ctx.progress(`libvirt-fleet: burst round ${r}/${rounds}${r === 0 ? ' (warm-up, not recorded)' : ''}: ${order.join(' then ')}`);
      for (const s of order) {
        const res = s === 'hangar' ? await this.hangarStart(names('b', 1, BURST)) : await this.libvirtStart(names('b', 1, BURST));
        if (r > 0) {
          this.burst[s].seconds.push(res.ms / 1000);
          this.burst[s].rate.push(BURST / (res.ms / 1000));
          this.burst[s].cpuSec.push(res.cpuTicks / 100);
        }
        if (last) {
          kept[s] = res.guests;
          keptSince[s] = res.t0;
        } else {
          const ms = s === 'hangar' ? await this.hangarStopAll() : await this.libvirtStopAll();
          if (r > 0) this.burst[s].stop20.push(ms);
        }
      }
    }

    ctx.progress(`libvirt-fleet: ${BURST} + ${BURST} guests booting; waiting for every HANGAR-GUEST-READY`);
    const [hb, lb] = await Promise.all([this.waitBooted('hangar', kept.hangar, keptSince.hangar), this.waitBooted('libvirt', kept.libvirt, keptSince.libvirt)]);
    this.boot.hangar.push({ guests: BURST, ms: hb });
    this.boot.libvirt.push({ guests: BURST, ms: lb });
    ctx.progress(`libvirt-fleet: measuring with ${BURST} guests each`);
    await this.measureBoth(kept);

    for (let i = 0; i < restarts; i++) {
      const order: Sys[] = i % 2 === 0 ? ['hangar', 'libvirt'] : ['libvirt', 'hangar'];
      ctx.progress(`libvirt-fleet: re-adoption ${i + 1}/${restarts}: ${order.join(' then ')}`);
      for (const s of order) {
        if (s === 'hangar') await this.readoptHangar(kept.hangar);
        else await this.readoptLibvirt(kept.libvirt);
      }
    }

    // 50 guests: one system at a time (both at once would need ~24 GiB).
    ctx.progress(`libvirt-fleet: libvirt back to 0 guests; Hangar ${BURST} → ${MANY}`);
    await this.libvirtStopAll();
    kept.libvirt = [];
    const more = await this.hangarStart(names('m', 1, MANY - BURST));
    this.boot.hangar.push({ guests: MANY - BURST, ms: await this.waitBooted('hangar', more.guests, more.t0) });
    kept.hangar = [...kept.hangar, ...more.guests];
    ctx.progress(`libvirt-fleet: measuring Hangar with ${MANY} guests`);
    await this.measureOne('hangar', kept.hangar);
    await this.hangarStopAll();
    kept.hangar = [];
    await sleep(SETTLE_MS);
    this.after.hangar = await rssSamples([this.h.pid]);

    ctx.progress(`libvirt-fleet: libvirt 0 → ${MANY}`);
    const lmany = await this.libvirtStart(names('m', 1, MANY));
    this.boot.libvirt.push({ guests: MANY, ms: await this.waitBooted('libvirt', lmany.guests, lmany.t0) });
    kept.libvirt = lmany.guests;
    ctx.progress(`libvirt-fleet: measuring libvirt with ${MANY} guests`);
    await this.measureOne('libvirt', kept.libvirt);
    await this.libvirtStopAll();
    await sleep(SETTLE_MS);
    this.after.libvirt = await rssSamples([this.lv.libvirtdPid, this.lv.virtlogdPid]);
    return this.report(rounds, restarts);
  }

  private report(rounds: number, restarts: number): CaseResult {
    const B = this.burst;
    const burstTable = table([`burst: create + start ${BURST} guests at once`, 'Hangar', 'libvirt', 'Hangar / libvirt'], [
      [`time until all ${BURST} run`, cell(B.hangar.seconds.map((x) => x * 1000)), cell(B.libvirt.seconds.map((x) => x * 1000)), ratio(B.hangar.seconds, B.libvirt.seconds)],
      ['guests per second', cell(B.hangar.rate, fmtRate), cell(B.libvirt.rate, fmtRate), ratio(B.hangar.rate, B.libvirt.rate)],
      ['control-plane CPU time used for the burst (s)', cell(B.hangar.cpuSec, (x) => x.toFixed(2)), cell(B.libvirt.cpuSec, (x) => x.toFixed(2)), ratio(B.hangar.cpuSec, B.libvirt.cpuSec)],
      [`forced stop of all ${BURST} at once (parallel DELETE ?force / \`virsh destroy\`)`, cell(B.hangar.stop20), cell(B.libvirt.stop20), ratio(B.hangar.stop20, B.libvirt.stop20)],
    ], ['l', 'r', 'r', 'r']);

    const at = (s: Sys, n: number) => this.foot[s].find((f) => f.guests === n);
    const memRows: string[][] = [];
    for (const n of [0, BURST, MANY]) {
      const hf = at('hangar', n);
      const lf = at('libvirt', n);
      memRows.push([`control-plane RSS, ${n} guests`, hf ? cell(hf.rss, fmtMiB) : '–', lf ? `${cell(lf.rss, fmtMiB)} = libvirtd ${fmtMiB(med(lf.rssLibvirtd ?? []))} + virtlogd ${fmtMiB(med(lf.rssVirtlogd ?? []))}` : '–',
        hf && lf ? ratio(hf.rss, lf.rss) : '–', hf && lf ? ratio(hf.rss, lf.rssLibvirtd ?? []) : '–']);
    }
    for (const n of [0, BURST, MANY]) {
      const hf = at('hangar', n);
      const lf = at('libvirt', n);
      memRows.push([`control-plane CPU, ${n} guests idle (% of one CPU over ${CPU_WINDOW_MS / 1000} s)`, hf ? fmtPct(hf.cpu) : '–', lf ? `${fmtPct(lf.cpu)} (libvirtd ${fmtPct(lf.cpuLibvirtd ?? Number.NaN)})` : '–',
        hf && lf ? fmtRatio(hf.cpu, lf.cpu) : '–', hf && lf ? fmtRatio(hf.cpu, lf.cpuLibvirtd ?? Number.NaN) : '–']);
    }
    for (const n of [BURST, MANY]) {
      const hf = at('hangar', n);
      const lf = at('libvirt', n);
      memRows.push([`QEMU RSS per guest, ${n} guests booted`, hf ? cell(hf.qemuRss, fmtMiB) : '–', lf ? cell(lf.qemuRss, fmtMiB) : '–', hf && lf ? ratio(hf.qemuRss, lf.qemuRss) : '–', '–']);
    }
    memRows.push([`control-plane RSS after removing all ${MANY} guests`, cell(this.after.hangar, fmtMiB), cell(this.after.libvirt, fmtMiB), ratio(this.after.hangar, this.after.libvirt), '–']);
    const memTable = table(['control-plane cost', 'Hangar daemon', 'libvirt: libvirtd + virtlogd', 'Hangar / (libvirtd + virtlogd)', 'Hangar / libvirtd'], memRows, ['l', 'r', 'r', 'r', 'r']);

    const R = this.readopt;
    const readoptTable = table([`re-adoption: restart the daemon with ${BURST} guests running`, 'Hangar', 'libvirt', 'Hangar / libvirt'], [
      [`daemon spawned → list answers with all ${BURST} running`, cell(R.hangar.all), cell(R.libvirt.all), ratio(R.hangar.all, R.libvirt.all)],
      ['daemon spawned → first answer to a list', cell(R.hangar.first), cell(R.libvirt.first), ratio(R.hangar.first, R.libvirt.first)],
      ['for comparison, no guests: daemon spawned → first answer to a list', cell(this.restart0.hangar.all), cell(this.restart0.libvirt.all), ratio(this.restart0.hangar.all, this.restart0.libvirt.all)],
    ], ['l', 'r', 'r', 'r']);

    const boots = (s: Sys) => this.boot[s].map((b) => `${b.guests} guests: ${fmtMs(b.ms)}`).join('; ');
    const hRate = med(B.hangar.rate);
    const lRate = med(B.libvirt.rate);
    const h50 = at('hangar', MANY);
    const l50 = at('libvirt', MANY);
    const h50rss = h50 ? med(h50.rss) : Number.NaN;
    const l50rss = l50 ? med(l50.rssLibvirtd ?? []) : Number.NaN;
    const l50all = l50 ? med(l50.rss) : Number.NaN;
    const goals: Goal[] = [
      {
        name: `burst of ${BURST}: at least ${BURST_GOAL}× libvirt's rate (guests per second, medians)`,
        met: hRate >= BURST_GOAL * lRate,
        detail: `Hangar ${fmtRate(hRate)}/s vs libvirt ${fmtRate(lRate)}/s = ${(hRate / lRate).toFixed(2)}×${hRate >= BURST_GOAL * lRate ? '' : ` — short of ${BURST_GOAL}×`}`,
      },
      {
        name: `daemon memory with ${MANY} guests under libvirtd's`,
        met: h50rss < l50rss,
        detail: `Hangar daemon ${fmtMiB(h50rss)} vs libvirtd ${fmtMiB(l50rss)} (libvirtd + virtlogd ${fmtMiB(l50all)})${h50rss < l50rss ? '' : ` — over by ${fmtMiB(h50rss - l50rss)}`}`,
      },
    ];
    const notes = [
      SPREAD_NOTE + ` Burst: ${rounds} recorded rounds per system after one warm-up, the two systems alternating (ABBA). Re-adoption: ${restarts} restarts per system, alternating.`,
      `Guests: the tiny image, 1 vCPU, ${MEMORY_MIB} MiB, TCG; Hangar with \`--cpu-overcommit 50\`; libvirt domains are transient (\`virsh create\`) and equivalent to Hangar's (see the start-stop case).`,
      `Burst: Hangar gets ${BURST} concurrent \`POST /v1/vms {…, start:true}\` from this process (each replies once its guest runs); libvirt gets ${BURST} concurrent \`virsh create\` processes (each exits once its guest runs). Control-plane CPU time: utime + stime of the daemon(s) from /proc over the burst (10 ms ticks). The forced stop of all of them is measured in the recorded rounds but the last (whose guests stay).`,
      `Memory: VmRSS from /proc (5 samples, 200 ms apart, ${SETTLE_MS / 1000} s after the last guest printed HANGAR-GUEST-READY). CPU: the daemons' utime + stime over ${CPU_WINDOW_MS / 1000} s with the guests idle (10 ms ticks, so "0" means under ${(1000 / CPU_WINDOW_MS).toFixed(1)} %); with 0 and ${BURST} guests both systems are measured in the same window, with ${MANY} one system at a time (${MANY} guests of each at once would not fit in memory), Hangar first (it grew from ${BURST} to ${MANY}; libvirt from 0 to ${MANY}).`,
      `Boot to READY of all guests (from the first request): Hangar ${boots('hangar')}; libvirt ${boots('libvirt')} (the ${BURST}+${BURST} boot shares the CPUs between both fleets).`,
      `Re-adoption: Hangar: SIGTERM to the daemon (its guests keep running), then \`hangar daemon\` on the same data dir; done when \`GET /v1/vms\` lists all ${BURST} \`running\` with the pids they had. libvirt: SIGTERM to libvirtd (virtlogd keeps running), then \`libvirtd --daemon\`; done when \`virsh list --name\` (one process per poll) names all ${BURST}; the QEMU pids are checked unchanged afterwards. Polls every 5 ms.`,
    ];
    if (this.failures.length > 0) notes.push(`**${this.failures.length} guest(s) did not reach READY**; one whose QEMU exited is left out of what follows, one that hung stays running and counted: ${this.failures.join(' | ')}`);
    return {
      title: 'Many guests: burst, control-plane cost, re-adoption (Hangar vs libvirt)',
      markdown: ['### Burst', burstTable, '', '### Control-plane cost', memTable, '', '### Re-adoption', readoptTable, '', ...notes.map((n) => `- ${n}`)].join('\n'),
      goals,
    };
  }
}

export const libvirtFleetCase: BenchCase = {
  id: 'libvirt-fleet',
  async run(ctx: BenchContext): Promise<CaseResult> {
    ensureLibvirt(ctx.progress);
    const h = new HangarDaemon(ctx.root, join(ctx.tmp, 'fh'));
    let lv: LibvirtHost | undefined;
    try {
      await h.start();
      ctx.progress('libvirt-fleet: starting libvirtd + virtlogd (throw-away config)');
      lv = await LibvirtHost.start(join(ctx.tmp, 'fl'), tinyManifestPath(), ctx.progress);
      return await new Fleet(ctx, h, lv).run();
    } finally {
      await lv?.stop();
      await h.stop();
    }
  },
};
