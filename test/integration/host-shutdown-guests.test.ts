/**
 * `hangar host shutdown-guests` and the start after it, on five real tiny guests (what
 * hangar-guests.service runs when the host goes down and comes up):
 * - stop mode: every guest powers off through ACPI, all at once; one whose acpid was killed
 *   ignores the button and is forced off after the timeout; an autostart guest comes back at
 *   the next daemon start (a host shutdown is not a user's stop);
 * - save mode: five guests saved; after a daemon restart each runs again from its save (a
 *   file in guest RAM survives, the save files are consumed), the autostart one is not
 *   started a second time, a guest saved by hand stays saved, and `host start-guests` has
 *   nothing left to do;
 * - bad input changes nothing; each guest's QEMU is in a cgroup of its own, not the daemon's.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HangarEvent } from '../../src/store/store.js';
import type { OperationRecord } from '../../src/operations/service.js';
import { guestRun, TestDaemon, waitFor, waitForGuestReady } from './harness.js';

const GUESTS = ['g1', 'g2', 'g3', 'g4', 'g5'];
let d: TestDaemon;

beforeAll(async () => {
  d = await TestDaemon.start();
  for (const name of GUESTS) {
    const r = await d.cli(['vm', 'create', name, '--memory', '128M', '--start']);
    expect(r.code, r.stderr).toBe(0);
  }
  expect((await d.cli(['vm', 'set', 'g1', 'autostart=true'])).code).toBe(0);
  await Promise.all(GUESTS.map((n) => waitForGuestReady(d, n)));
}, 120_000);
afterAll(async () => {
  await d?.cleanup();
});

/** Every event after `after`, page by page. */
async function events(after = 0): Promise<HangarEvent[]> {
  const all: HangarEvent[] = [];
  for (;;) {
    const page = await d.api.call<HangarEvent[]>('GET', `/v1/events?after=${all.at(-1)?.seq ?? after}&limit=1000`);
    all.push(...page);
    if (page.length < 1000) return all;
  }
}

async function lastSeq(): Promise<number> {
  return (await events()).at(-1)?.seq ?? 0;
}

async function states(): Promise<Record<string, string>> {
  return Object.fromEntries((await d.api.vms.list()).map((v) => [v.name, v.state]));
}

/** The cgroup path of `pid` in the hierarchy the daemon places guests in (v2, else v1's cpu), or undefined without one. */
function cgroupOf(pid: number): string | undefined {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
  if (!v2 && !existsSync('/sys/fs/cgroup/cpu/cpu.cfs_quota_us')) return undefined;
  const line = lines.find((l) => (v2 ? l.startsWith('0::') : l.split(':')[1]?.split(',').includes('cpu')));
  return line?.split(':').slice(2).join(':');
}

describe('host shutdown-guests', () => {
  it('every guest QEMU runs in its own cgroup, outside the daemon\'s', async () => {
    const daemonGroup = cgroupOf(d.pid!);
    if (daemonGroup === undefined) return; // no usable cgroup hierarchy here: nothing is placed
    for (const name of GUESTS) {
      const v = await d.vm(name);
      // No limit is set on these VMs: the placement is for every guest.
      const group = await waitFor(`${name}'s QEMU in its cgroup`, () => {
        const g = cgroupOf(v.pid!);
        return g?.endsWith(`/hangar/vm-${v.id}`) ? g : undefined;
      }, 10_000);
      expect(group).not.toBe(daemonGroup);
    }
  });

  it('refuses bad input with INVALID_SPEC and changes nothing', async () => {
    const before = await states();
    let r = await d.cli(['host', 'shutdown-guests', '--mode', 'foo']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('INVALID_SPEC');
    expect(r.stderr).toMatch(/--mode must be stop or save/);
    r = await d.cli(['host', 'shutdown-guests', '--timeout', '-1']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('INVALID_SPEC');
    expect(r.stderr).toMatch(/--timeout must be seconds/);
    // The API refuses them too.
    for (const body of [{ mode: 'foo' }, { timeoutSeconds: -1 }, { parallel: 0 }, { mode: 'stop', extra: 1 }]) {
      await expect(d.api.call('POST', '/v1/host/shutdown-guests', body)).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    }
    const ops = await d.api.call<OperationRecord[]>('GET', '/v1/operations');
    expect(ops.filter((o) => o.kind === 'host.shutdown-guests')).toEqual([]);
    expect(await states()).toEqual(before);
    expect(Object.values(before).every((s) => s === 'running')).toBe(true);
  });

  it('stop mode: all power off through ACPI at once; the one that ignores ACPI is forced after the timeout', async () => {
    // g5 stops listening to the power button; g4 is paused (it gets the button once it runs again).
    await guestRun(d, 'g5', 'killall acpid; echo acpid-gone');
    expect((await d.cli(['vm', 'pause', 'g4'])).code).toBe(0);
    const seq = await lastSeq();
    const t0 = Date.now();
    const r = await d.cli(['host', 'shutdown-guests', '--mode', 'stop', '--timeout', '8'], undefined, 90_000);
    const took = (Date.now() - t0) / 1000;
    expect(r.code, r.stderr).toBe(0);
    for (const n of ['g1', 'g2', 'g3', 'g4']) expect(r.stdout).toMatch(new RegExp(`^${n}: powered off \\(ACPI\\) in`, 'm'));
    expect(r.stdout).toMatch(/^g5: forced off in/m);
    expect(r.stdout).toContain('5 of 5 guests shut down');
    // g5 waited for the timeout, the rest did not wait for each other.
    expect(took).toBeGreaterThanOrEqual(8);
    expect(took).toBeLessThan(8 + 20);
    expect(Object.values(await states()).every((x) => x === 'stopped')).toBe(true);
    expect(d.qemuPids()).toEqual([]);
    const ev = await events(seq);
    expect(ev.filter((e) => e.type === 'vm.stop-timeout').map((e) => e.vm)).toEqual(['g5']);

    // A host shutdown is not a user's stop: the autostart guest comes back at the next daemon start.
    await d.kill('SIGTERM');
    await d.launch();
    await waitFor('g1 autostarted', async () => (await d.vm('g1')).state === 'running', 30_000);
    expect((await states())['g2']).toBe('stopped');
  }, 120_000);

  it('save mode: five guests saved; the next daemon start restores them from their saves, once; a hand save stays saved', async () => {
    for (const n of GUESTS.slice(1)) expect((await d.cli(['vm', 'start', n])).code).toBe(0);
    const r0 = await d.cli(['vm', 'create', 'hand', '--memory', '128M', '--start']);
    expect(r0.code, r0.stderr).toBe(0);
    await Promise.all([...GUESTS, 'hand'].map((n) => waitForGuestReady(d, n)));
    // A mark in guest RAM (the tiny guest runs from RAM: a fresh boot would not have it).
    for (const n of GUESTS) expect(await guestRun(d, n, `echo tok-${n}-$((6*7)) > /marker; cat /marker`)).toContain(`tok-${n}-42`);
    expect((await d.cli(['vm', 'save', 'hand'])).code).toBe(0);
    const ids = Object.fromEntries(await Promise.all(GUESTS.map(async (n) => [n, (await d.vm(n)).id] as const)));

    const r = await d.cli(['host', 'shutdown-guests', '--mode', 'save', '--timeout', '60', '--parallel', '2'], undefined, 120_000);
    expect(r.code, r.stderr).toBe(0);
    for (const n of GUESTS) expect(r.stdout).toMatch(new RegExp(`^${n}: saved \\(restored at the next start\\) in`, 'm'));
    const saved = await states();
    expect(Object.keys(saved).sort()).toEqual([...GUESTS, 'hand'].sort());
    expect(Object.values(saved).every((x) => x === 'saved')).toBe(true);
    expect(d.qemuPids()).toEqual([]);
    for (const n of GUESTS) expect(existsSync(join(d.dir, 'vms', ids[n]!, 'saved-state.bin'))).toBe(true);

    // The host comes back: the daemon starts and restores them.
    const seq = await lastSeq();
    await d.kill('SIGTERM');
    await d.launch();
    await waitFor('the five guests restored', async () => {
      const s = await states();
      return GUESTS.every((n) => s[n] === 'running');
    }, 60_000, 200);
    for (const n of GUESTS) expect(await guestRun(d, n, 'cat /marker')).toContain(`tok-${n}-42`);
    for (const n of GUESTS) expect(existsSync(join(d.dir, 'vms', ids[n]!))).toBe(false);
    expect((await d.vm('hand')).state).toBe('saved');
    const since = await events(seq);
    expect(since.some((e) => e.type === 'daemon.started')).toBe(true);
    expect(since.filter((e) => e.type === 'vm.restored').map((e) => e.vm).sort()).toEqual(GUESTS);
    // g1 is an autostart VM: restored, not also autostarted.
    expect(since.filter((e) => e.type === 'vm.autostarted')).toEqual([]);

    // What the unit runs at boot: nothing left to do, and saying so.
    const s = await d.cli(['host', 'start-guests', '--wait', '10']);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/Nothing to do/);
    expect((await d.vm('hand')).state).toBe('saved');
  }, 170_000);
});
