/**
 * The daemon can die at any moment: guests keep running, and a restarted daemon
 * re-adopts them (same pids, no duplicates) and controls them again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HangarEvent } from '../../src/store/store.js';
import type { VmView } from '../../src/vm/service.js';
import { guestRun, TestDaemon, waitFor, waitForGuestReady } from './harness.js';

let d: TestDaemon;
const names = ['ad-a', 'ad-b', 'ad-c'];

beforeAll(async () => {
  d = await TestDaemon.start();
  for (const name of names) {
    const r = await d.cli(['vm', 'create', name, '--memory', '128M', '--start']);
    expect(r.code, r.stderr).toBe(0);
  }
});
afterAll(async () => {
  await d?.cleanup();
});

describe('re-adoption after the daemon is killed', () => {
  it('SIGKILL while three guests run: all three come back running, same pids, controllable', async () => {
    const before = await d.api.call<VmView[]>('GET', '/v1/vms');
    const pids = Object.fromEntries(before.map((v) => [v.name, v.pid]));
    // The list body is cached and serialized apart from `vm show`: the same view of each VM.
    // (`vm show` adds the live thread placement read from /proc.)
    const show = async (name: string) => ({ ...(await d.api.call<VmView>('GET', `/v1/vms/${name}`)), placement: undefined });
    for (const v of before) expect(v).toEqual(await show(v.name));
    expect(Object.values(pids).every((p) => typeof p === 'number')).toBe(true);
    await waitForGuestReady(d, 'ad-a');

    await d.kill('SIGKILL');
    // The guests did not notice.
    expect(d.qemuPids().sort()).toEqual(Object.values(pids).sort());

    await d.launch();
    const after = await d.api.call<VmView[]>('GET', '/v1/vms');
    for (const v of after) {
      expect(v).toEqual({ ...(await d.api.call<VmView>('GET', `/v1/vms/${v.name}`)), placement: undefined });
      expect(v.state, v.stateReason).toBe('running');
      expect(v.pid).toBe(pids[v.name]);
    }
    // No duplicate QEMU processes.
    expect(d.qemuPids().sort()).toEqual(Object.values(pids).sort());
    const events = await d.api.call<HangarEvent[]>('GET', '/v1/events');
    expect(events.filter((e) => e.type === 'vm.adopted').map((e) => e.vm).sort()).toEqual(names);

    // Controllable: the console answers, pause/resume work, a stop goes through QMP.
    expect(await guestRun(d, 'ad-a', 'echo adopted-$((20+3))')).toContain('adopted-23');
    expect((await d.cli(['vm', 'pause', 'ad-b'])).code).toBe(0);
    expect((await d.vm('ad-b')).state).toBe('paused');
    expect((await d.cli(['vm', 'resume', 'ad-b'])).code).toBe(0);
    expect((await d.vm('ad-b')).state).toBe('running');
    const r = await d.cli(['vm', 'stop', 'ad-c', '--force']);
    expect(r.code, r.stderr).toBe(0);
    expect((await d.vm('ad-c')).state).toBe('stopped');
    expect(d.qemuPids()).not.toContain(pids['ad-c']);
  });

  it('a paused guest stays paused across a daemon restart', async () => {
    expect((await d.cli(['vm', 'pause', 'ad-b'])).code).toBe(0);
    await d.kill('SIGKILL');
    await d.launch();
    expect((await d.vm('ad-b')).state).toBe('paused');
    expect((await d.cli(['vm', 'resume', 'ad-b'])).code).toBe(0);
  });

  it('a guest that died while the daemon was down ends crashed on restart', async () => {
    const v = await d.vm('ad-b');
    await d.kill('SIGKILL');
    process.kill(v.pid!, 'SIGKILL');
    await waitFor('the QEMU process to go', () => !d.qemuPids().includes(v.pid!), 5000, 20);
    await d.launch();
    const now = await d.vm('ad-b');
    expect(now.state).toBe('crashed');
    expect(now.stateReason).toMatch(/daemon was not running/);
  });

  it('an adopted guest killed from outside ends crashed, with an event', async () => {
    const v = await d.vm('ad-a');
    expect(v.state).toBe('running');
    process.kill(v.pid!, 'SIGKILL');
    const crashed = await waitFor('ad-a to be crashed', async () => {
      const now = await d.vm('ad-a');
      return now.state === 'crashed' ? now : undefined;
    }, 20_000, 50);
    expect(crashed.pid).toBeUndefined();
    const events = await d.api.call<HangarEvent[]>('GET', '/v1/events?vm=ad-a');
    expect(events.at(-1)?.type).toBe('vm.crashed');
  });

  it('a graceful daemon stop (SIGTERM) leaves guests running too', async () => {
    expect((await d.cli(['vm', 'start', 'ad-c'])).code).toBe(0);
    const pid = (await d.vm('ad-c')).pid!;
    await d.kill('SIGTERM');
    expect(d.qemuPids()).toContain(pid);
    await d.launch();
    expect(await d.vm('ad-c')).toMatchObject({ state: 'running', pid });
  });
});
