/**
 * The management API under load: listing 1,000 defined (stopped) VMs and showing one VM.
 * Hangar: autocannon, a separate process, against the API's unix socket. libvirt: its own
 * Python binding (bench/lib/libvirt-load.py), a separate process, against libvirtd's
 * socket. Same number of connections and duration; runs interleave (the order rotates
 * every round).
 */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { VmView } from '../../src/vm/service.js';
import { autocannon, ensureAutocannon, type LoadResult } from '../lib/autocannon.js';
import { cell, fmtRate, med, ratio } from '../lib/compare.js';
import { HangarDaemon } from '../lib/hangar-daemon.js';
import { ensureLibvirt, LibvirtHost, runTimed, SYSTEM_PYTHON, tinyManifestPath } from '../lib/libvirt.js';
import { fmtMs } from '../lib/stats.js';
import { table, type BenchCase, type BenchContext, type CaseResult, type Goal } from '../lib/report.js';
import { TINY_GUEST } from './libvirt-start-stop.js';

const VMS = Number(process.env.BENCH_API_VMS ?? 1000);
const SECONDS = Number(process.env.BENCH_API_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_API_CONNECTIONS ?? 10);
const LIST_GOAL_RPS = 2000;
const LOAD_PY = new URL('../lib/libvirt-load.py', import.meta.url).pathname;

type Test = 'hangar-list' | 'libvirt-list' | 'hangar-show' | 'libvirt-show';

const vmName = (i: number) => `v${String(i).padStart(4, '0')}`;

async function python(args: string[]): Promise<Record<string, number>> {
  const r = await runTimed(SYSTEM_PYTHON, [LOAD_PY, ...args]);
  if (r.code !== 0) throw new Error(`libvirt-load.py ${args[0]} failed (exit ${r.code}): ${r.stderr.trim().slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
}

async function libvirtLoad(uri: string, op: 'list' | 'show', seconds: number): Promise<LoadResult> {
  const j = await python(['load', uri, op, String(CONNECTIONS), String(seconds), vmName(VMS / 2)]);
  if (op === 'list' && j.itemsPerList !== VMS) throw new Error(`libvirt listed ${j.itemsPerList} domains, expected ${VMS}`);
  return { requests: j.requests!, errors: j.errors!, rps: j.rps!, p50: j.p50!, p90: j.p90!, p99: j.p99!, max: j.max!, bytesPerResponse: Number.NaN };
}

export const libvirtApiCase: BenchCase = {
  id: 'libvirt-api',
  async run(ctx: BenchContext): Promise<CaseResult> {
    ensureLibvirt(ctx.progress, { python: true });
    const acVersion = await ensureAutocannon(ctx.root);
    const rounds = Number(process.env.BENCH_API_ROUNDS ?? 3);
    const h = new HangarDaemon(ctx.root, join(ctx.tmp, 'ah'));
    let lv: LibvirtHost | undefined;
    try {
      await h.start();
      lv = await LibvirtHost.start(join(ctx.tmp, 'al'), tinyManifestPath(), ctx.progress);

      ctx.progress(`libvirt-api: defining ${VMS} VMs in each system`);
      // Hangar: through the API, 4 requests in flight. libvirt: virDomainDefineXML one after another on one connection.
      const tH = performance.now();
      for (let i = 1; i <= VMS; i += 4) {
        await Promise.all([0, 1, 2, 3].filter((k) => i + k <= VMS).map((k) => h.api.call('POST', '/v1/vms', { name: vmName(i + k), ...TINY_GUEST })));
      }
      const defineHangarMs = performance.now() - tH;
      const listed = await h.list();
      if (listed.length !== VMS) throw new Error(`Hangar lists ${listed.length} VMs, expected ${VMS}`);
      const tmpl = join(lv.guestDir, 'api-template.xml');
      writeFileSync(tmpl, lv.domainXml({ name: '@@NAME@@', memoryMiB: 128, serialLog: join(lv.guestDir, 'api-unused.log') }));
      const defined = await python(['define', lv.uri, tmpl, 'v', String(VMS)]);
      const defineLibvirtMs = defined.ms!;
      const showSize = Buffer.byteLength(JSON.stringify(await h.api.call<VmView>('GET', `/v1/vms/${vmName(VMS / 2)}`)));

      const run = async (t: Test, seconds: number): Promise<LoadResult> => {
        switch (t) {
          case 'hangar-list':
            return autocannon(ctx.root, h.socket, '/v1/vms', CONNECTIONS, seconds);
          case 'hangar-show':
            return autocannon(ctx.root, h.socket, `/v1/vms/${vmName(VMS / 2)}`, CONNECTIONS, seconds);
          case 'libvirt-list':
            return libvirtLoad(lv!.uri, 'list', seconds);
          case 'libvirt-show':
            return libvirtLoad(lv!.uri, 'show', seconds);
        }
      };
      const tests: Test[] = ['hangar-list', 'libvirt-list', 'hangar-show', 'libvirt-show'];
      ctx.progress('libvirt-api: warm-up (2 s each, not recorded)');
      for (const t of tests) await run(t, 2);
      const res: Record<Test, LoadResult[]> = { 'hangar-list': [], 'libvirt-list': [], 'hangar-show': [], 'libvirt-show': [] };
      for (let r = 0; r < rounds; r++) {
        const order = [...tests.slice(r % 4), ...tests.slice(0, r % 4)];
        ctx.progress(`libvirt-api: round ${r + 1}/${rounds}: ${order.join(', ')} (${SECONDS} s each)`);
        for (const t of order) res[t].push(await run(t, SECONDS));
      }

      const f = (t: Test, k: keyof LoadResult) => res[t].map((x) => x[k]);
      const errors = tests.map((t) => `${t} ${f(t, 'errors').reduce((s, x) => s + x, 0)}`).join(', ');
      const rows: string[][] = [];
      for (const op of ['list', 'show'] as const) {
        const H = `hangar-${op}` as Test;
        const L = `libvirt-${op}` as Test;
        const what = op === 'list' ? `list ${VMS} VMs` : 'show one VM';
        rows.push([`${what}: requests per second`, cell(f(H, 'rps'), fmtRate), cell(f(L, 'rps'), fmtRate), ratio(f(H, 'rps'), f(L, 'rps'))]);
        rows.push([`${what}: p99 latency`, cell(f(H, 'p99')), cell(f(L, 'p99')), ratio(f(H, 'p99'), f(L, 'p99'))]);
        rows.push([`${what}: p50 latency`, cell(f(H, 'p50')), cell(f(L, 'p50')), ratio(f(H, 'p50'), f(L, 'p50'))]);
      }
      rows.push([`define ${VMS} VMs (not started), total`, fmtMs(defineHangarMs), fmtMs(defineLibvirtMs), (defineHangarMs / defineLibvirtMs).toFixed(2) + '×']);
      const main = table(['API under load', 'Hangar (autocannon → REST on the unix socket)', 'libvirt (libvirt-python → libvirtd)', 'Hangar / libvirt'], rows, ['l', 'r', 'r', 'r']);

      const listRps = med(f('hangar-list', 'rps'));
      const goals: Goal[] = [{
        name: `API list of ${VMS} VMs ≥ ${LIST_GOAL_RPS} req/s on these ${cpus().length} cores (Hangar, median of rounds)`,
        met: listRps >= LIST_GOAL_RPS,
        detail: `${fmtRate(listRps)} req/s (p99 ${fmtMs(med(f('hangar-list', 'p99')))}; libvirt ${fmtRate(med(f('libvirt-list', 'rps')))} req/s)${listRps >= LIST_GOAL_RPS ? '' : ` — missed: ${(listRps / LIST_GOAL_RPS * 100).toFixed(0)} % of the goal`}`,
      }];
      const notes = [
        `Cells: median of ${rounds} rounds (min – max over rounds); each round is ${SECONDS} s per test with ${CONNECTIONS} connections, requests back to back on each. Order rotates every round; one 2 s warm-up per test first. Errors/non-2xx: ${errors}.`,
        `Hangar: \`autocannon ${acVersion}\` (\`-S <socket> -c ${CONNECTIONS} -d ${SECONDS}\`), a separate node process; \`GET /v1/vms\` returns all ${VMS} VMs as JSON (${fmtKiB(med(f('hangar-list', 'bytesPerResponse')))} per response); \`GET /v1/vms/NAME\` ${fmtKiB(showSize)}. autocannon reports latency percentiles in whole milliseconds (so 0 ms means under 1 ms).`,
        `libvirt: \`bench/lib/libvirt-load.py\` (Debian's python3-libvirt), a separate process with ${CONNECTIONS} threads, one connection each. "list" = one \`virConnectGetAllDomainStats(STATE|BALLOON|VCPU)\` call: every domain with its state, memory and vCPUs, like Hangar's list; "show" = \`virDomainLookupByName\` + \`virDomainGetInfo\` (what \`virsh dominfo\` needs). Latency is measured inside the load tool, around each call.`,
        `Define: Hangar ${VMS} \`POST /v1/vms\` (4 in flight) from this process; libvirt ${VMS} \`virDomainDefineXML\` one after another on one connection (persistent domains, written to the throw-away /etc/libvirt/qemu).`,
        'Both load tools share the 2 CPUs with the daemon they load, alike.',
      ];
      return { title: `API: list ${VMS} VMs and show one, under load (Hangar vs libvirt)`, markdown: [main, '', ...notes.map((n) => `- ${n}`)].join('\n'), goals };
    } finally {
      if (lv) await python(['undefine-all', lv.uri]).catch(() => undefined);
      await lv?.stop();
      await h.stop();
    }
  },
};

function fmtKiB(bytes: number): string {
  return Number.isFinite(bytes) ? `${(bytes / 1024).toFixed(1)} KiB` : '–';
}
