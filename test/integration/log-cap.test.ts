/**
 * Bounded guest logs (issue 19): a tiny guest writes to its serial console without end, and
 * its log files stay within (backups + 1) × cap — with the daemon up, SIGKILLed and down, and
 * again after it restarts and adopts the same logd. logd killed itself: the guest runs on and
 * the daemon starts a new logd, which reads the same FIFOs again.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guestRun, sleep, TestDaemon, waitFor, waitForGuestReady } from './harness.js';

const CAP = 256 * 1024;
const BACKUPS = 2;

let d: TestDaemon;
let logDir: string;
beforeAll(async () => {
  d = await TestDaemon.start({ args: ['--log-max-size', '256K', '--log-max-backups', String(BACKUPS)] });
});
afterAll(async () => {
  await d?.cleanup();
});

interface Sample {
  total: number;
  largest: number;
  files: string[];
}

/** The serial log files' sizes (a file rotated between the listing and its stat is skipped). */
function sample(prefix: string): Sample {
  let total = 0;
  let largest = 0;
  const files = readdirSync(logDir).filter((f) => f === prefix || f.startsWith(`${prefix}.`)).sort();
  for (const f of files) {
    let size = 0;
    try {
      size = statSync(join(logDir, f)).size;
    } catch {
      continue;
    }
    total += size;
    largest = Math.max(largest, size);
  }
  return { total, largest, files };
}

/** Samples every 100 ms for `ms`: every sample is within the cap; returns the largest total seen. */
async function holdsCap(ms: number): Promise<number> {
  let most = 0;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    for (const prefix of ['serial.log', 'qemu.log']) {
      const s = sample(prefix);
      // No file above the cap, at most BACKUPS of them kept: the total cannot exceed (BACKUPS + 1) × CAP.
      expect(s.largest, `${prefix}: ${s.files.join(' ')}`).toBeLessThanOrEqual(CAP);
      expect(s.files.length).toBeLessThanOrEqual(BACKUPS + 1);
      expect(s.total).toBeLessThanOrEqual((BACKUPS + 1) * CAP);
      if (prefix === 'serial.log') most = Math.max(most, s.total);
    }
    await sleep(100);
  }
  return most;
}

/** The highest flood counter in the serial log's current file (the newest output). */
function newestCount(): number {
  const text = readFileSync(join(logDir, 'serial.log'), 'utf8');
  let n = 0;
  for (const m of text.matchAll(/FLOOD-(\d+)-/g)) n = Math.max(n, Number(m[1]));
  return n;
}

function logdState(): { pid: number } {
  return JSON.parse(readFileSync(join(d.dir, 'run', 'logd', 'logd.json'), 'utf8')) as { pid: number };
}

function alive(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    return state !== undefined && state !== 'Z';
  } catch {
    return false;
  }
}

describe('guest logs capped by logd', () => {
  it('a guest flooding its serial console stays under the cap with the daemon up, killed, restarted, and with logd killed', async () => {
    const t0 = Date.now();
    let r = await d.cli(['vm', 'create', 'flood', '--image', 'tiny', '--cpus', '1', '--memory', '256M', '--start']);
    expect(r.code, r.stderr).toBe(0);
    const vm = await d.vm('flood');
    logDir = join(d.dir, 'logs', vm.id);
    const runDir = join(d.dir, 'run', 'vms', vm.id);
    // QEMU logs into FIFOs that logd reads, not into the files.
    expect(statSync(join(runDir, 'serial.fifo')).isFIFO()).toBe(true);
    expect(readFileSync(`/proc/${vm.pid}/cmdline`, 'utf8')).toContain('logfile=');
    expect(readFileSync(`/proc/${vm.pid}/cmdline`, 'utf8')).toContain('serial.fifo');
    await waitForGuestReady(d, 'flood');
    const logd = logdState().pid;
    expect(d.logdPids()).toEqual([logd]);

    // Lines with a counter, without end (busybox's echo is a builtin: no fork a line).
    await guestRun(d, 'flood', 'i=0; while :; do i=$((i+1)); echo "FLOOD-$i-0123456789abcdefghijklmnopqrstuvwxyz0123456789"; done &');
    await waitFor('two rotations', () => existsSync(join(logDir, `serial.log.${BACKUPS}`)), 90_000, 100);
    const tFull = Date.now();
    const up = await holdsCap(4000);
    const before = newestCount();
    expect(before).toBeGreaterThan(0);

    // The daemon dies: logd (same pid) goes on reading, and the cap holds.
    await d.kill('SIGKILL');
    const down = await holdsCap(6000);
    expect(alive(logd)).toBe(true);
    const whileDown = newestCount();
    expect(whileDown).toBeGreaterThan(before);

    // Restarted: the same logd is adopted; `vm logs` shows the newest lines.
    await d.launch();
    expect(logdState().pid).toBe(logd);
    expect(d.logdPids()).toEqual([logd]);
    expect(d.daemonLog).toContain(`Adopted logd (pid ${logd})`);
    await sleep(1000);
    r = await d.cli(['vm', 'logs', 'flood', '--tail', '4096']);
    expect(r.code, r.stderr).toBe(0);
    const shown = Math.max(...[...r.stdout.matchAll(/FLOOD-(\d+)-/g)].map((m) => Number(m[1])));
    expect(shown).toBeGreaterThan(whileDown);

    // logd killed: the guest runs on, the daemon starts a new logd, which reads the same FIFOs.
    process.kill(logd, 'SIGKILL');
    const afterKill = newestCount();
    const next = await waitFor('a new logd', () => {
      const pid = logdState().pid;
      return pid !== logd && alive(pid) ? pid : undefined;
    }, 10_000, 100);
    expect((await d.vm('flood')).state).toBe('running');
    expect(d.qemuPids()).toEqual([vm.pid]);
    await waitFor('new lines after the new logd', () => newestCount() > afterKill, 20_000, 200);
    const again = await holdsCap(3000);

    // Stopped: logd drains and lets go of the FIFOs.
    r = await d.cli(['vm', 'stop', 'flood', '--force']);
    expect(r.code, r.stderr).toBe(0);
    await waitFor('the FIFOs to go', () => !existsSync(join(runDir, 'serial.fifo')) && !existsSync(join(runDir, 'qemu.fifo')), 10_000, 100);
    expect(JSON.parse(readFileSync(join(d.dir, 'run', 'logd', 'watches.json'), 'utf8')).watches).toEqual([]);
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${next}/status`, 'utf8'))?.[1]);
    console.log(`log cap: ${CAP} B × ${BACKUPS + 1}; serial logs at most ${up} B (daemon up), ${down} B (down), ${again} B (new logd); first full after ${tFull - t0} ms; logd RSS ${rss} KiB`);
  }, 170_000);
});
