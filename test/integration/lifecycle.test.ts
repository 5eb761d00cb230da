/**
 * The whole life of a real tiny guest under TCG, through the CLI, checking that
 * `vm list` and `vm show` tell the truth at every step; plus a crash from outside.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HangarEvent } from '../../src/store/store.js';
import type { VmView } from '../../src/vm/service.js';
import { guestRun, sleep, TestDaemon, waitFor, waitForGuestReady } from './harness.js';

let d: TestDaemon;
beforeAll(async () => {
  d = await TestDaemon.start();
});
afterAll(async () => {
  await d?.cleanup();
});

async function showJson(name: string): Promise<VmView> {
  const r = await d.cli(['vm', 'show', name, '--output', 'json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as VmView;
}

async function listState(name: string): Promise<string | undefined> {
  const r = await d.cli(['vm', 'list', '--output', 'json']);
  return (JSON.parse(r.stdout) as VmView[]).find((v) => v.name === name)?.state;
}

async function expectState(name: string, state: string): Promise<VmView> {
  const shown = await showJson(name);
  expect(shown.state).toBe(state);
  expect(await listState(name)).toBe(state);
  return shown;
}

function guestUptime(out: string): number {
  const m = /^(\d+\.\d+) \d+\.\d+/m.exec(out);
  if (!m) throw new Error(`no uptime in: ${out}`);
  return Number(m[1]);
}

describe('VM lifecycle on a real guest', () => {
  it('create → start → ready → pause → resume → console → stop → start → force stop → delete', async () => {
    let r = await d.cli(['vm', 'create', 'life', '--image', 'tiny', '--cpus', '1', '--memory', '256M']);
    expect(r.code, r.stderr).toBe(0);
    let v = await expectState('life', 'stopped');
    expect(v).toMatchObject({ name: 'life', cpus: 1, memory: 256 });
    expect(v.pid).toBeUndefined();

    r = await d.cli(['vm', 'start', 'life']);
    expect(r.code, r.stderr).toBe(0);
    v = await expectState('life', 'running');
    expect(v.pid).toBeGreaterThan(0);
    expect(d.qemuPids()).toEqual([v.pid]);

    await waitForGuestReady(d, 'life');
    r = await d.cli(['vm', 'logs', 'life']);
    expect(r.stdout).toContain('HANGAR-GUEST-READY');

    // Pause: the guest's clock stops while paused.
    const before = guestUptime(await guestRun(d, 'life', 'cat /proc/uptime'));
    const wallStart = Date.now();
    expect((await d.cli(['vm', 'pause', 'life'])).code).toBe(0);
    await expectState('life', 'paused');
    await sleep(3000);
    expect((await d.cli(['vm', 'resume', 'life'])).code).toBe(0);
    await expectState('life', 'running');
    const after = guestUptime(await guestRun(d, 'life', 'cat /proc/uptime'));
    const wall = (Date.now() - wallStart) / 1000;
    // The guest saw about 3 s less than the wall clock: it did not run while paused.
    expect(after - before).toBeLessThan(wall - 2.5);
    expect(after).toBeGreaterThan(before);

    // A command typed on the serial console answers.
    const out = await guestRun(d, 'life', 'echo $((6*7))-answer');
    expect(out).toContain('42-answer');

    // Graceful stop: ACPI powerdown; the guest powers off by itself.
    r = await d.cli(['vm', 'stop', 'life', '--timeout', '60']);
    expect(r.code, r.stderr).toBe(0);
    v = await expectState('life', 'stopped');
    expect(v.pid).toBeUndefined();
    expect(v.lastExit?.code).toBe(0);
    expect(d.qemuPids()).toEqual([]);
    const stopEvents = await d.api.call<HangarEvent[]>('GET', '/v1/events?vm=life');
    expect(stopEvents.some((e) => e.type === 'vm.stop-timeout')).toBe(false);

    // Start again, then force stop.
    expect((await d.cli(['vm', 'start', 'life'])).code).toBe(0);
    v = await expectState('life', 'running');
    const secondPid = v.pid;
    r = await d.cli(['vm', 'stop', 'life', '--force']);
    expect(r.code, r.stderr).toBe(0);
    await expectState('life', 'stopped');
    expect(d.qemuPids()).not.toContain(secondPid);

    r = await d.cli(['vm', 'delete', 'life']);
    expect(r.code, r.stderr).toBe(0);
    r = await d.cli(['vm', 'show', 'life']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('VM_NOT_FOUND');

    // Every transition is an event, in order.
    const events = await d.api.call<HangarEvent[]>('GET', '/v1/events?vm=life');
    const states = events.filter((e) => e.type === 'vm.state').map((e) => e.data.state);
    expect(states).toEqual(['starting', 'running', 'paused', 'running', 'stopping', 'stopped', 'starting', 'running', 'stopped']);
    expect(events[0]!.type).toBe('vm.created');
    expect(events.at(-1)!.type).toBe('vm.deleted');
  });

  it('restart gives a fresh QEMU process that boots again', async () => {
    expect((await d.cli(['vm', 'create', 'reboot', '--memory', '128M', '--start'])).code).toBe(0);
    const first = await d.vm('reboot');
    const r = await d.cli(['vm', 'restart', 'reboot', '--force']);
    expect(r.code, r.stderr).toBe(0);
    const second = await d.vm('reboot');
    expect(second.state).toBe('running');
    expect(second.pid).not.toBe(first.pid);
    await waitForGuestReady(d, 'reboot');
    await d.cli(['vm', 'delete', 'reboot', '--force']);
  });

  it('a QEMU killed from outside ends crashed, with an event, the exit status and a reason', async () => {
    expect((await d.cli(['vm', 'create', 'victim', '--memory', '128M', '--start'])).code).toBe(0);
    const v = await d.vm('victim');
    process.kill(v.pid!, 'SIGKILL');
    const crashed = await waitFor('victim to be crashed', async () => {
      const now = await d.vm('victim');
      return now.state === 'crashed' ? now : undefined;
    }, 10_000, 20);
    expect(crashed.pid).toBeUndefined();
    expect(crashed.lastExit?.signal).toBe('SIGKILL');
    expect(crashed.stateReason).toMatch(/SIGKILL/);
    const events = await d.api.call<HangarEvent[]>('GET', '/v1/events?vm=victim');
    expect(events.some((e) => e.type === 'vm.crashed')).toBe(true);
    // A crashed VM can be started again, and deleted.
    expect((await d.cli(['vm', 'start', 'victim'])).code).toBe(0);
    expect((await d.vm('victim')).state).toBe('running');
    expect((await d.cli(['vm', 'delete', 'victim', '--force'])).code).toBe(0);
  });

  it('a QEMU that fails to start gives QEMU_FAILED with its words, and the VM stays stopped', async () => {
    expect((await d.cli(['vm', 'create', 'badcpu', '--memory', '128M', '--cpu-model', 'no-such-cpu'])).code).toBe(0);
    const r = await d.cli(['vm', 'start', 'badcpu']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: QEMU_FAILED: .*no-such-cpu/);
    const v = await d.vm('badcpu');
    expect(v.state).toBe('stopped');
    expect(v.pid).toBeUndefined();
    expect(v.stateReason).toMatch(/no-such-cpu/);
    expect(d.qemuPids()).toEqual([]);
    expect((await d.cli(['vm', 'delete', 'badcpu'])).code).toBe(0);
  });

  it('events --follow streams state changes as they happen', async () => {
    const { spawn } = await import('node:child_process');
    const { HANGAR_BIN } = await import('./harness.js');
    const follower = spawn(process.execPath, [HANGAR_BIN, '--socket', d.socket, 'events', '--follow', '--vm', 'watched', '--output', 'json']);
    let out = '';
    follower.stdout.on('data', (c: Buffer) => (out += c.toString()));
    try {
      await sleep(500);
      expect((await d.cli(['vm', 'create', 'watched', '--memory', '128M', '--start'])).code).toBe(0);
      expect((await d.cli(['vm', 'stop', 'watched', '--force'])).code).toBe(0);
      await waitFor('the stopped event', () => out.includes('"state":"stopped"'), 10_000, 50);
      const types = out.trim().split('\n').map((l) => JSON.parse(l) as HangarEvent).map((e) => `${e.type}:${String(e.data.state ?? '')}`);
      expect(types).toEqual(['vm.created:', 'vm.state:starting', 'vm.state:running', 'vm.state:stopped']);
    } finally {
      follower.kill();
    }
    await d.cli(['vm', 'delete', 'watched']);
  });

  it('a guest that powers itself off ends stopped, not crashed', async () => {
    expect((await d.cli(['vm', 'create', 'selfoff', '--memory', '128M', '--start'])).code).toBe(0);
    await waitForGuestReady(d, 'selfoff');
    await d.cli(['console', 'selfoff', '--idle', '500'], 'poweroff\n');
    const v = await waitFor('selfoff to stop', async () => {
      const now = await d.vm('selfoff');
      return now.state === 'stopped' ? now : undefined;
    }, 30_000, 50);
    expect(v.stateReason).toBeUndefined();
    await d.cli(['vm', 'delete', 'selfoff']);
  });
});
