/**
 * Profiles and instance types on a real daemon with the tiny guest (TCG): a VM made from two
 * profiles and a flag of its own shows their order; changing a profile re-applies it to the
 * running VM through the live-settings plan (labels live, vCPUs and memory at the next start,
 * which the guest then has); delete is refused while the profile is in use; instance types.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Profile, SetProfileReply, Vm } from '../../src/contract/index.js';
import { guestRun, serialLogEnd, TestDaemon, waitForGuestReady } from './harness.js';

let d: TestDaemon;

beforeAll(async () => {
  d = await TestDaemon.start();
}, 60_000);
afterAll(async () => {
  await d?.cleanup();
});

async function ok(args: string[]): Promise<string> {
  const r = await d.cli(args);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

describe('profiles', () => {
  it('applies profiles in order, the VM\'s own flags last, and re-applies a changed profile live or at the next start', async () => {
    await ok(['profile', 'create', 'base', '--cpus', '1', '--memory', '256M', '--label', 'tier=base', '--label', 'team=a']);
    await ok(['profile', 'create', 'big', '--set', 'memory=320M', '--set', 'labels=team=b']);
    expect(await ok(['profile', 'list'])).toMatch(/big\s+memory=320 labels=team=b/);
    await ok(['vm', 'create', 'p1', '--profile', 'base,big', '--label', 'team=own', '--start']);
    let vm = await d.vm('p1');
    // memory from big over base; team from the VM's own flag over big.
    expect({ cpus: vm.cpus, memory: vm.memory, labels: vm.labels, profiles: vm.profiles, own: vm.ownSettings }).toEqual({
      cpus: 1, memory: 320, labels: { tier: 'base', team: 'own' }, profiles: ['base', 'big'], own: ['labels'],
    });
    expect(await ok(['vm', 'show', 'p1'])).toMatch(/profiles:\s+base → big → own \(labels\)/);
    const shown = JSON.parse(await ok(['profile', 'show', 'base', '--output', 'json'])) as Profile;
    expect(shown.vms).toEqual(['p1']);
    await waitForGuestReady(d, 'p1');

    const r = JSON.parse(await ok(['profile', 'set', 'base', 'cpus=2', 'labels=tier=gold,team=a', '--output', 'json'])) as SetProfileReply;
    expect(r.vms.map((v) => ({ vm: v.vm, live: v.live, nextStart: v.nextStart }))).toEqual([{ vm: 'p1', live: ['labels'], nextStart: ['cpus'] }]);
    const table = await ok(['profile', 'set', 'big', 'memory=384M']);
    expect(table).toMatch(/p1\s+running\s+-\s+memory/);
    vm = await d.vm('p1');
    expect(vm.labels).toEqual({ tier: 'gold', team: 'own' });
    expect(vm.pending).toEqual(expect.arrayContaining(['cpus']));
    expect(await guestRun(d, 'p1', 'echo CPUS=$(grep -c ^processor /proc/cpuinfo)')).toMatch(/^CPUS=1\s*$/m);

    const since = await serialLogEnd(d, 'p1');
    await ok(['vm', 'restart', 'p1']);
    await waitForGuestReady(d, 'p1', { since });
    vm = await d.vm('p1');
    expect({ cpus: vm.cpus, memory: vm.memory, live: vm.live }).toEqual({ cpus: 2, memory: 384, live: undefined });
    expect(await guestRun(d, 'p1', 'echo CPUS=$(grep -c ^processor /proc/cpuinfo)')).toMatch(/^CPUS=2\s*$/m);
  }, 150_000);

  it('refuses to delete a profile in use; --force detaches it and the VM keeps its values', async () => {
    const refused = await d.cli(['profile', 'delete', 'big']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('PROFILE_IN_USE');
    expect((await d.api.profiles.get('big')).vms).toEqual(['p1']);
    expect(await ok(['profile', 'delete', 'big', '--force'])).toContain('detached from p1');
    const vm = await d.vm('p1');
    expect({ memory: vm.memory, profiles: vm.profiles }).toEqual({ memory: 384, profiles: ['base'] });
    const missing = await d.cli(['vm', 'create', 'p2', '--profile', 'nope']);
    expect(missing.stderr).toContain('PROFILE_NOT_FOUND');
    await expect(d.api.vms.get('p2')).rejects.toMatchObject({ code: 'VM_NOT_FOUND' });
    await ok(['vm', 'set', 'p1', 'profiles=none']);
    expect((await d.vm('p1')).profiles).toBeUndefined();
    await ok(['profile', 'delete', 'base']);
  }, 60_000);

  it('creates VMs from instance types; explicit flags win; unknown types are refused', async () => {
    expect(await ok(['type', 'list'])).toMatch(/medium\s+2\s+2G/);
    await ok(['vm', 'create', 't1', '--type', 'c2-m1']);
    await ok(['vm', 'create', 't2', '--type', 'small', '--memory', '300M']);
    const [t1, t2] = [await d.vm('t1'), await d.vm('t2')] as Vm[];
    expect({ cpus: t1!.cpus, memory: t1!.memory }).toEqual({ cpus: 2, memory: 1024 });
    expect({ cpus: t2!.cpus, memory: t2!.memory }).toEqual({ cpus: 1, memory: 300 });
    for (const bad of ['huge', 'c0-m1', 'c2-m']) {
      const r = await d.cli(['vm', 'create', 't3', '--type', bad]);
      expect(r.stderr).toContain('INVALID_SPEC');
    }
    await expect(d.api.vms.get('t3')).rejects.toMatchObject({ code: 'VM_NOT_FOUND' });
  }, 60_000);
});
