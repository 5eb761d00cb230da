/**
 * The daemon's resident memory idle and with 20 running guests (started through the
 * API and booted to HANGAR-GUEST-READY), plus the average QEMU RSS per guest.
 */
import { cpus } from 'node:os';
import type { VmView } from '../../src/vm/service.js';
import { BenchDaemon } from '../lib/daemon.js';
import { isAlive, readRssBytes, readStatusBytes, sleep } from '../lib/proc.js';
import { fileSize, waitForMarker } from '../lib/serial.js';
import { fmtMiB, fmtMs, fmtSpread, summarize } from '../lib/stats.js';
import { table, type BenchCase, type BenchContext, type CaseResult } from '../lib/report.js';
import { GUEST } from './start-stop.js';

/** Hangar's CPU overcommit (src/daemon/daemon.ts: `cpuOvercommit: 4`). */
const HANGAR_CPU_OVERCOMMIT = 4;
const SETTLE_MS = 3000;

/** Median of a few RSS samples, so one allocation burst does not decide the number. */
async function sampleRss(pid: number, samples = 5, gapMs = 200): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    out.push(readRssBytes(pid));
    if (i < samples - 1) await sleep(gapMs);
  }
  return out;
}

export const daemonMemoryCase: BenchCase = {
  id: 'daemon-memory',
  async run(ctx: BenchContext): Promise<CaseResult> {
    const guests = Number(process.env.BENCH_GUESTS ?? 20);
    const hostCpus = cpus().length;
    const vcpusNeeded = guests * GUEST.cpus;
    const fakeCpus = vcpusNeeded > hostCpus * HANGAR_CPU_OVERCOMMIT ? Math.ceil(vcpusNeeded / HANGAR_CPU_OVERCOMMIT) : undefined;
    const d = await BenchDaemon.start({ root: ctx.root, parent: ctx.tmp, ...(fakeCpus !== undefined && { hostCpus: fakeCpus }) });
    try {
      ctx.progress(`daemon-memory: daemon pid ${d.pid} up; settling ${SETTLE_MS} ms`);
      await sleep(SETTLE_MS);
      const idle = summarize(await sampleRss(d.pid));
      const idleHwm = readStatusBytes(d.pid, 'VmHWM');

      const names = Array.from({ length: guests }, (_, i) => `g${String(i + 1).padStart(2, '0')}`);
      const startMs: number[] = [];
      const waits: Array<Promise<number>> = [];
      const t0 = performance.now();
      for (const name of names) {
        const created = await d.api.call<VmView>('POST', '/v1/vms', { name, ...GUEST });
        const serial = d.serialLog(created);
        const offset = fileSize(serial);
        const t = performance.now();
        const vm = await d.api.call<VmView>('POST', `/v1/vms/${name}/start`);
        startMs.push(performance.now() - t);
        const pid = vm.pid ?? -1;
        const w = waitForMarker(serial, offset, { timeoutMs: 300_000, intervalMs: 50, abort: () => (isAlive(pid) ? undefined : `QEMU of ${name} exited`) });
        w.catch(() => undefined);
        waits.push(w);
      }
      ctx.progress(`daemon-memory: ${guests} guests running; waiting for all to print HANGAR-GUEST-READY`);
      const allReadyAt = Math.max(...(await Promise.all(waits)));
      const allReadyMs = allReadyAt - t0;
      await sleep(SETTLE_MS);

      const views = await d.api.call<VmView[]>('GET', '/v1/vms');
      const running = views.filter((v) => v.state === 'running' && v.pid !== undefined);
      const loaded = summarize(await sampleRss(d.pid));
      const qemuRss = running.map((v) => readRssBytes(v.pid!));
      const q = summarize(qemuRss);

      ctx.progress('daemon-memory: force-deleting the guests');
      const deleteMs: number[] = [];
      for (const name of names) {
        const t = performance.now();
        await d.api.call('DELETE', `/v1/vms/${name}?force=true`);
        deleteMs.push(performance.now() - t);
      }
      await sleep(SETTLE_MS);
      const after = summarize(await sampleRss(d.pid));
      const hwm = readStatusBytes(d.pid, 'VmHWM');

      const rss = (what: string, s: ReturnType<typeof summarize>) => [what, fmtMiB(s.median), fmtSpread(s, fmtMiB), String(s.n)];
      const memTable = table(['measure', 'median', 'spread', 'n'], [
        rss('daemon RSS, idle (fresh daemon, no VMs)', idle),
        rss(`daemon RSS, ${running.length} running guests`, loaded),
        ['daemon RSS added per running guest', fmtMiB((loaded.median - idle.median) / Math.max(1, running.length)), '–', '–'],
        rss(`daemon RSS after force-deleting the ${guests} guests`, after),
        ['daemon peak RSS (VmHWM): by the idle sample / by the end', `${fmtMiB(idleHwm)} / ${fmtMiB(hwm)}`, '–', '1'],
        rss('QEMU RSS per guest (booted, idle)', q),
        ['QEMU RSS, all guests together', fmtMiB(qemuRss.reduce((s, x) => s + x, 0)), '–', String(qemuRss.length)],
      ], ['l', 'r', 'r', 'r']);

      const first = summarize(startMs.slice(0, 5));
      const last = summarize(startMs.slice(-5));
      const del = summarize(deleteMs);
      const sideTable = table(['measure', 'median', 'spread', 'n'], [
        ['API start → running, guests 1–5 (few others running)', fmtMs(first.median), fmtSpread(first), String(first.n)],
        [`API start → running, guests ${guests - 4}–${guests} (${guests - 5}+ others booting)`, fmtMs(last.median), fmtSpread(last), String(last.n)],
        [`first start sent → all ${guests} guests READY`, fmtMs(allReadyMs), '–', '1'],
        ['DELETE ?force=true of a running guest (others running)', fmtMs(del.median), fmtSpread(del), String(del.n)],
      ], ['l', 'r', 'r', 'r']);

      const notes = [
        `Each guest: image \`${GUEST.image}\`, ${GUEST.cpus} vCPU, ${GUEST.memory}, \`accel=tcg\`, started one after another through the API; RSS is VmRSS from /proc/PID/status, sampled 5× 200 ms apart after ${SETTLE_MS / 1000} s of quiet.`,
        fakeCpus !== undefined
          ? `This host has ${hostCpus} CPUs and Hangar's CPU overcommit is fixed at ${HANGAR_CPU_OVERCOMMIT}× (src/daemon/daemon.ts), so it admits only ${hostCpus * HANGAR_CPU_OVERCOMMIT} 1-vCPU guests. For this case the daemon was run through bench/lib/daemon-entry.mjs, which reports ${fakeCpus} host CPUs to it; nothing else differs.`
          : 'The daemon is the unmodified `bin/hangar daemon`.',
        'Guests are booted while the later ones start, so the second start row measures Hangar under CPU contention from up to 19 booting TCG guests on 2 cores.',
      ];
      return {
        title: `Daemon memory: idle and with ${guests} running guests`,
        markdown: ['### Resident memory', memTable, '', '### Along the way', sideTable, '', ...notes.map((n) => `- ${n}`)].join('\n'),
        goals: [],
      };
    } finally {
      await d.stop();
    }
  },
};
