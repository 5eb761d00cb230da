/**
 * BIOS against UEFI: time from `start` to guest ready for the same tiny guest (direct kernel
 * boot), one VM each (`--firmware bios` and `--firmware uefi`), started through the API,
 * interleaved with the order alternating, forced stop after each ready; one unrecorded
 * warm-up each. READY = the serial log shows HANGAR-GUEST-READY (polled every 2 ms).
 */
import type { VmView } from '../../src/vm/service.js';
import { BenchDaemon } from '../lib/daemon.js';
import { isAlive } from '../lib/proc.js';
import { fileSize, waitForMarker } from '../lib/serial.js';
import { fmtMs, fmtRatio, fmtSpread, summarize } from '../lib/stats.js';
import { table, underGoal, type BenchCase, type BenchContext, type CaseResult } from '../lib/report.js';

const GUEST = { image: 'tiny', cpus: 1, memory: '256M' } as const;
/** From the issue: UEFI overhead under 1.5× BIOS (pinned for the Debian guest; measured here on the tiny one). */
const RATIO_GOAL = 1.5;

type Fw = 'bios' | 'uefi';

async function bootOnce(d: BenchDaemon, name: string): Promise<{ start: number; ready: number }> {
  const before = await d.vm(name);
  const serial = d.serialLog(before);
  const offset = fileSize(serial);
  const t0 = performance.now();
  const started = await d.api.call<VmView>('POST', `/v1/vms/${name}/start`);
  const start = performance.now() - t0;
  const pid = started.pid ?? -1;
  const ready = (await waitForMarker(serial, offset, { timeoutMs: 120_000, abort: () => (isAlive(pid) ? undefined : 'QEMU exited') })) - t0;
  await d.api.call<VmView>('POST', `/v1/vms/${name}/stop`, { force: true });
  return { start, ready };
}

/** The Debian UEFI image (boots under BIOS too): start → the guest agent answers; skipped when not built. */
const DEBIAN = 'debian-12-uefi';

async function agentBootOnce(d: BenchDaemon, name: string): Promise<number> {
  const t0 = performance.now();
  await d.api.call<VmView>('POST', `/v1/vms/${name}/start`);
  const deadline = Date.now() + 300_000;
  for (;;) {
    const ok = await d.api.call<{ exitCode: number }>('POST', `/v1/vms/${name}/exec`, { argv: ['true'], timeoutSeconds: 5 }).then((r) => r.exitCode === 0, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`${name}: the guest agent did not answer within 300 s`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const ms = performance.now() - t0;
  await d.api.call<VmView>('POST', `/v1/vms/${name}/stop`, { force: true });
  return ms;
}

async function debianRows(ctx: BenchContext, d: BenchDaemon): Promise<{ rows: string[][]; ratio?: number; note: string }> {
  const images = await d.api.call<Array<{ name: string; status: string }>>('GET', '/v1/images');
  if (images.find((i) => i.name === DEBIAN)?.status !== 'ready') return { rows: [], note: `- ${DEBIAN} is not built here: the Debian rows are skipped.` };
  const n = Math.min(ctx.n, Number(process.env.BENCH_DEBIAN_N ?? 3));
  const names: Record<Fw, string> = { bios: 'dbios', uefi: 'duefi' };
  for (const fw of ['bios', 'uefi'] as const) await d.api.call('POST', '/v1/vms', { name: names[fw], image: DEBIAN, cpus: 1, memory: '1G', firmware: fw });
  const s: Record<Fw, number[]> = { bios: [], uefi: [] };
  ctx.progress('firmware-boot: Debian warm-up (1 each, not recorded)');
  for (const fw of ['bios', 'uefi'] as const) await agentBootOnce(d, names[fw]);
  for (let i = 0; i < n; i++) {
    const order: Fw[] = i % 2 === 0 ? ['bios', 'uefi'] : ['uefi', 'bios'];
    ctx.progress(`firmware-boot: Debian iteration ${i + 1}/${n} (${order.join(', ')})`);
    for (const fw of order) s[fw].push(await agentBootOnce(d, names[fw]));
  }
  const bios = summarize(s.bios);
  const rows = (['bios', 'uefi'] as const).map((fw) => {
    const r = summarize(s[fw]);
    return [`${DEBIAN}, ${fw}`, '–', fmtMs(r.median), fmtSpread(r), String(r.n), fw === 'bios' ? 'baseline' : fmtRatio(r.median, bios.median)];
  });
  return {
    rows, ratio: summarize(s.uefi).median / bios.median,
    note: `- ${DEBIAN}: the same disk booted by SeaBIOS (GRUB in the MBR) and by OVMF (shim → GRUB → generic kernel from the ESP), 1 vCPU, 1 GiB; ready = the guest agent answers \`exec true\` (polled every 250 ms).`,
  };
}

export const firmwareBootCase: BenchCase = {
  id: 'firmware-boot',
  async run(ctx: BenchContext): Promise<CaseResult> {
    const d = await BenchDaemon.start({ root: ctx.root, parent: ctx.tmp });
    try {
      const names: Record<Fw, string> = { bios: 'fwbios', uefi: 'fwuefi' };
      for (const fw of ['bios', 'uefi'] as const) await d.api.call('POST', '/v1/vms', { name: names[fw], ...GUEST, firmware: fw });
      const s: Record<Fw, { start: number[]; ready: number[] }> = { bios: { start: [], ready: [] }, uefi: { start: [], ready: [] } };
      ctx.progress('firmware-boot: warm-up (1 each, not recorded)');
      for (const fw of ['bios', 'uefi'] as const) await bootOnce(d, names[fw]);
      for (let i = 0; i < ctx.n; i++) {
        const order: Fw[] = i % 2 === 0 ? ['bios', 'uefi'] : ['uefi', 'bios'];
        ctx.progress(`firmware-boot: iteration ${i + 1}/${ctx.n} (${order.join(', ')})`);
        for (const fw of order) {
          const r = await bootOnce(d, names[fw]);
          s[fw].start.push(r.start);
          s[fw].ready.push(r.ready);
        }
      }
      const bios = summarize(s.bios.ready);
      const uefi = summarize(s.uefi.ready);
      const rows = (['bios', 'uefi'] as const).map((fw) => {
        const ready = summarize(s[fw].ready);
        const start = summarize(s[fw].start);
        return [fw, fmtMs(start.median), fmtMs(ready.median), fmtSpread(ready), String(ready.n), fw === 'bios' ? 'baseline' : fmtRatio(ready.median, bios.median)];
      });
      const deb = await debianRows(ctx, d);
      const markdown = [
        table(['guest, firmware', 'start → running (median)', 'start → guest ready (median)', 'spread', 'n', 'ready vs BIOS'], [...rows.map((r) => [`tiny, ${r[0]!}`, ...r.slice(1)]), ...deb.rows], ['l', 'r', 'r', 'r', 'r', 'r']),
        '',
        `- Guest: image \`${GUEST.image}\` (direct kernel boot: Debian's cloud kernel + busybox), ${GUEST.cpus} vCPU, ${GUEST.memory}, q35 + VGA/VNC, \`accel=tcg\`. BIOS is SeaBIOS; UEFI is OVMF (\`OVMF_CODE_4M.fd\`, chosen through QEMU's firmware descriptors) with the VM's own NVRAM on pflash.`,
        deb.note,
        '- The issue pins the 1.5× goal to the Debian guest (a 30-50 s boot, where the firmware\'s fixed cost weighs less); the tiny guest here boots in about 2 s under SeaBIOS, so OVMF\'s fixed start-up under TCG dominates the ratio.',
      ].join('\n');
      return {
        title: 'Firmware: BIOS vs UEFI, start to guest ready',
        markdown,
        goals: [
          ...(deb.ratio !== undefined ? [underGoal(`UEFI start → ready < ${RATIO_GOAL}× BIOS (${DEBIAN}, medians; the issue's goal)`, deb.ratio, RATIO_GOAL, (x) => `${x.toFixed(2)}×`, 'ratio')] : []),
          underGoal(`UEFI start → ready < ${RATIO_GOAL}× BIOS (tiny guest, medians)`, uefi.median / bios.median, RATIO_GOAL, (x) => `${x.toFixed(2)}×`, `${fmtMs(uefi.median)} / ${fmtMs(bios.median)} =`),
        ],
      };
    } finally {
      await d.stop();
    }
  },
};
