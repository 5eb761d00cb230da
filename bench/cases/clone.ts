/**
 * Clones of a running tiny guest (256 MiB data disk, 64 MiB of it written): `vm clone
 * --linked` (the source's disk frozen into a base while the guest pauses for the switch,
 * the clone an overlay of it) against a full copy (`vm clone` without --linked: the same
 * freeze, then `qemu-img convert` of the base) and a by-hand virt-clone-style copy
 * (`qemu-img convert -U` of the running guest's disk, which is not a consistent point).
 * Times are wall clock from the request to the answer (the clone defined, stopped); the
 * source's pause is the daemon's own measure (stop → cont over QMP). Systems interleaved.
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Vm } from '../../src/contract/index.js';
import { hangarConsole } from '../lib/console.js';
import { BenchDaemon } from '../lib/daemon.js';
import { waitForMarker } from '../lib/serial.js';
import { fmtMs, fmtSpread, summarize } from '../lib/stats.js';
import { table, underGoal, type BenchCase, type BenchContext, type CaseResult } from '../lib/report.js';

const run = promisify(execFile);
const LINKED_GOAL_MS = 200;
const cellOf = (xs: number[]) => `${fmtMs(summarize(xs).median)} (${fmtSpread(summarize(xs))})`;

interface CloneReply { vm: Vm; linked: boolean; pauseMs?: number; durationMs: number; steps?: Record<string, number> }

export const cloneCase: BenchCase = {
  id: 'clone',
  async run(ctx: BenchContext): Promise<CaseResult> {
    const d = await BenchDaemon.start({ root: ctx.root, parent: ctx.tmp });
    try {
      ctx.progress('clone: booting the source guest');
      await d.api.vms.create({ name: 'src', image: 'tiny', memory: '256M', diskSize: '256M', start: true });
      const src = await d.vm('src');
      await waitForMarker(d.serialLog(src), 0, { timeoutMs: 120_000 });
      await hangarConsole(ctx.root, d.socket, 'src', 'dd if=/dev/urandom of=/dev/vda bs=1M count=64 2>/dev/null; sync; echo HG-DD-$((40+2))\n', 'HG-DD-42', 120_000);
      const linked: number[] = [];
      const linkedDaemon: number[] = [];
      const pause: number[] = [];
      const full: number[] = [];
      const fullPause: number[] = [];
      const byHand: number[] = [];
      let lastSteps: Record<string, number> | undefined;
      const disk = (await d.vm('src')).disks[0]!.path;
      for (let i = 0; i <= ctx.n; i++) {
        const record = i > 0;
        for (const system of i % 2 === 0 ? ['linked', 'full', 'hand'] : ['hand', 'full', 'linked']) {
          if (system === 'hand') {
            const out = join(ctx.tmp, `hand-${i}.qcow2`);
            const t0 = performance.now();
            await run('qemu-img', ['convert', '-U', '-f', 'qcow2', '-O', 'qcow2', disk, out]);
            if (record) byHand.push(performance.now() - t0);
            rmSync(out, { force: true });
            continue;
          }
          const name = `${system === 'linked' ? 'l' : 'f'}${i}`;
          const t0 = performance.now();
          const r = await d.api.vms.clone('src', { name, ...(system === 'linked' && { linked: true }) }) as CloneReply;
          const ms = performance.now() - t0;
          if (record && system === 'linked') {
            linked.push(ms);
            linkedDaemon.push(r.durationMs);
            pause.push(r.pauseMs!);
            lastSteps = r.steps;
          } else if (record) {
            full.push(ms);
            fullPause.push(r.pauseMs!);
          }
          await d.api.vms.delete(name);
        }
        ctx.progress(`clone: ${i}/${ctx.n}`);
      }
      const state = (await d.vm('src')).state;
      const chain = (await d.api.volumes.list()).filter((v) => v.frozen).length;
      const rows = [
        ['vm clone --linked (running source)', cellOf(linked), cellOf(linkedDaemon), cellOf(pause)],
        ['vm clone, full copy (running source)', cellOf(full), '', cellOf(fullPause)],
        ['qemu-img convert -U by hand (virt-clone style, no consistent point)', cellOf(byHand), '', ''],
      ];
      const markdown = [
        table(['clone of a running tiny guest (256 MiB disk, 64 MiB written)', 'request → answer', 'in the daemon', 'source paused'], rows, ['l', 'r', 'r', 'r']),
        '',
        `Steps of the last linked clone in the daemon (ms from its start at the end of each): ${JSON.stringify(lastSteps)}.`,
        '',
        `The source stayed ${state} throughout. Each clone of a running VM leaves one more frozen base under the source's disk (${chain} after this run): a chain that grows with every clone.`,
      ].join('\n');
      return {
        title: 'Clones of a running VM',
        markdown,
        goals: [underGoal('A linked clone of a running VM under 200 ms (issue 15)', summarize(linked).median, LINKED_GOAL_MS, fmtMs, 'median request → answer')],
      };
    } finally {
      await d.deleteAllVms().catch(() => undefined);
      await d.stop();
    }
  },
};
