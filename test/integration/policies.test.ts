/**
 * Policies on real guests: autostart order and delay after a daemon restart, and a
 * restart policy that brings a killed guest back with backoff and gives up at its cap.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HangarEvent } from '../../src/store/store.js';
import { TestDaemon, waitFor } from './harness.js';

let d: TestDaemon;
beforeAll(async () => {
  d = await TestDaemon.start();
});
afterAll(async () => {
  await d?.cleanup();
});

async function events(vm?: string): Promise<HangarEvent[]> {
  return d.api.call<HangarEvent[]>('GET', `/v1/events${vm ? `?vm=${vm}` : ''}`);
}

describe('autostart', () => {
  it('starts autostart VMs in order, with their delay, when the daemon starts; leaves user-stopped ones alone', async () => {
    for (const [name, order] of [['as-c', 3], ['as-a', 1], ['as-b', 2]] as const) {
      expect((await d.cli(['vm', 'create', name, '--memory', '128M'])).code).toBe(0);
      expect((await d.cli(['vm', 'set', name, 'autostart=true', `autostart.order=${order}`, 'autostart.delay=1'])).code).toBe(0);
    }
    expect((await d.cli(['vm', 'create', 'as-off', '--memory', '128M', '--start'])).code).toBe(0);
    expect((await d.cli(['vm', 'set', 'as-off', 'autostart=true', 'autostart.order=0'])).code).toBe(0);
    expect((await d.cli(['vm', 'stop', 'as-off', '--force'])).code).toBe(0);

    await d.kill('SIGKILL');
    await d.launch();
    const started = await waitFor('three autostarts', async () => {
      const ev = (await events()).filter((e) => e.type === 'vm.autostarted');
      return ev.length >= 3 ? ev : undefined;
    }, 60_000, 200);
    expect(started.map((e) => e.vm)).toEqual(['as-a', 'as-b', 'as-c']);
    // Each waits its predecessor's delay (1 s).
    const t = started.map((e) => Date.parse(e.time));
    expect(t[1]! - t[0]!).toBeGreaterThanOrEqual(900);
    expect(t[2]! - t[1]!).toBeGreaterThanOrEqual(900);
    for (const n of ['as-a', 'as-b', 'as-c']) expect((await d.vm(n)).state).toBe('running');
    expect((await d.vm('as-off')).state).toBe('stopped');
    for (const n of ['as-a', 'as-b', 'as-c', 'as-off']) await d.cli(['vm', 'delete', n, '--force']);
  });
});

describe('restart policy', () => {
  it('on-failure restarts a killed guest with backoff, then gives up at the cap', async () => {
    expect((await d.cli(['vm', 'create', 'phoenix', '--memory', '128M', '--start'])).code).toBe(0);
    expect((await d.cli(['vm', 'set', 'phoenix', 'restart=on-failure', 'restart.max=2', 'restart.window=600'])).code).toBe(0);
    const pids: number[] = [(await d.vm('phoenix')).pid!];
    for (let attempt = 1; attempt <= 2; attempt++) {
      process.kill(pids.at(-1)!, 'SIGKILL');
      const back = await waitFor(`restart ${attempt}`, async () => {
        const v = await d.vm('phoenix');
        return v.state === 'running' && v.pid !== pids.at(-1) ? v : undefined;
      }, 30_000, 100);
      pids.push(back.pid!);
    }
    const ev = await events('phoenix');
    const scheduled = ev.filter((e) => e.type === 'vm.restart-scheduled').map((e) => e.data.delayMs);
    expect(scheduled).toEqual([1000, 2000]);
    // Backoff: the second restart came at least 2 s after its crash.
    const crashes = ev.filter((e) => e.type === 'vm.crashed').map((e) => Date.parse(e.time));
    const restarts = ev.filter((e) => e.type === 'vm.restarted').map((e) => Date.parse(e.time));
    expect(restarts[0]! - crashes[0]!).toBeGreaterThanOrEqual(900);
    expect(restarts[1]! - crashes[1]!).toBeGreaterThanOrEqual(1900);

    // Third crash: over the cap, it stays crashed and an event says why.
    process.kill(pids.at(-1)!, 'SIGKILL');
    const gaveUp = await waitFor('the give-up event', async () => (await events('phoenix')).find((e) => e.type === 'vm.restart-given-up'), 20_000, 100);
    expect(String(gaveUp.data.reason)).toMatch(/2 automatic restarts in the last 600 s/);
    await new Promise((r) => setTimeout(r, 3000));
    const v = await d.vm('phoenix');
    expect(v.state).toBe('crashed');
    expect(v.stateReason).toMatch(/Restart policy gave up/);
    expect(v.restartsInWindow).toBe(2);
  });

  it('a stop the user asked for is never undone by the policy', async () => {
    expect((await d.cli(['vm', 'create', 'calm', '--memory', '128M', '--start'])).code).toBe(0);
    expect((await d.cli(['vm', 'set', 'calm', 'restart=always'])).code).toBe(0);
    expect((await d.cli(['vm', 'stop', 'calm', '--force'])).code).toBe(0);
    await new Promise((r) => setTimeout(r, 2500));
    expect((await d.vm('calm')).state).toBe('stopped');
    expect((await events('calm')).some((e) => e.type === 'vm.restart-scheduled')).toBe(false);
  });
});

describe('projects and quotas', () => {
  it('refuses what would break a quota, with the numbers, and changes nothing', async () => {
    let r = await d.cli(['project', 'create', 'team', '--max-vms', '2', '--max-cpus', '2', '--max-memory', '384M']);
    expect(r.code, r.stderr).toBe(0);
    expect((await d.cli(['vm', 'create', 'q1', '--memory', '256M', '--project', 'team'])).code).toBe(0);
    const before = JSON.stringify(await d.api.call('GET', '/v1/vms'));
    r = await d.cli(['vm', 'create', 'q2', '--memory', '256M', '--project', 'team']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/QUOTA_EXCEEDED: .*512M of memory would exceed the limit of 384M \(256M in use\)/);
    r = await d.cli(['vm', 'create', 'q2', '--cpus', '2', '--memory', '64M', '--project', 'team']);
    expect(r.stderr).toMatch(/QUOTA_EXCEEDED: .*3 vCPUs would exceed the limit of 2/);
    r = await d.cli(['vm', 'set', 'q1', 'memory=512M']);
    expect(r.stderr).toContain('QUOTA_EXCEEDED');
    r = await d.cli(['project', 'set', 'team', '--max-vms', '0']);
    expect(r.stderr).toMatch(/QUOTA_EXCEEDED: .*already uses more/);
    expect(JSON.stringify(await d.api.call('GET', '/v1/vms'))).toBe(before);
    const p = await d.api.call<{ usage: { vms: number; memoryMiB: number } }>('GET', '/v1/projects/team');
    expect(p.usage).toMatchObject({ vms: 1, memoryMiB: 256 });
    r = await d.cli(['project', 'delete', 'team']);
    expect(r.stderr).toContain('PROJECT_IN_USE');
    expect((await d.cli(['vm', 'delete', 'q1'])).code).toBe(0);
    expect((await d.cli(['project', 'delete', 'team'])).code).toBe(0);
    r = await d.cli(['vm', 'create', 'q3', '--project', 'nope']);
    expect(r.stderr).toContain('PROJECT_NOT_FOUND');
  });
});
