/**
 * Managed networks through Hangar: two tiny guests get DHCP leases from Hangar's dnsmasq
 * and ping each other; a guest on an isolated network cannot reach them; deleting the
 * networks leaves nothing of Hangar's on the host.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guestRun, TestDaemon, waitFor, waitForGuestReady } from './harness.js';
import { hostNetSnapshot, type HostNetSnapshot } from './host-net.js';

let d: TestDaemon;
const third = 100 + Math.floor(Math.random() * 100);
const subnetA = `10.214.${third}.0/24`;
const subnetB = `10.215.${third}.0/24`;
const subnetC = `10.216.${third}.0/24`;

function hostSnapshot(): Promise<HostNetSnapshot> {
  return hostNetSnapshot(d, 'hgi');
}

beforeAll(async () => {
  d = await TestDaemon.start({ netPrefix: 'hgi' });
});
afterAll(async () => {
  await d?.cleanup();
});

/** The guest's eth0 address, once DHCP has given it one. */
async function ipOf(vm: string): Promise<string> {
  return waitFor(`${vm} to have an address`, async () => {
    const out = await guestRun(d, vm, 'ip -4 -o addr show dev eth0');
    return /inet (\d+\.\d+\.\d+\.\d+)\//.exec(out)?.[1];
  }, 60_000, 1000);
}

describe('managed networks', () => {
  it('guests on one network get leases and ping each other; an isolated guest cannot reach them; delete cleans the host', async () => {
    const before = await hostSnapshot();
    expect((await d.cli(['network', 'create', 'lan', '--subnet', subnetA])).code).toBe(0);
    expect((await d.cli(['network', 'create', 'jail', '--subnet', subnetB, '--isolated'])).code).toBe(0);
    for (const [vm, net] of [['na', 'lan'], ['nb', 'lan'], ['nc', 'jail']] as const) {
      const r = await d.cli(['vm', 'create', vm, '--memory', '128M', '--network', net, '--start']);
      expect(r.code, r.stderr).toBe(0);
    }
    for (const vm of ['na', 'nb', 'nc']) await waitForGuestReady(d, vm);
    const leases = await waitFor('two leases on lan', async () => {
      const n = await d.api.call<{ leases: { mac: string; ip: string }[] }>('GET', '/v1/networks/lan');
      return n.leases.length >= 2 ? n.leases : undefined;
    }, 60_000, 500);
    const na = await d.vm('na');
    expect(leases.map((l) => l.mac)).toContain(na.nics[0]!.mac);
    const ipA = await ipOf('na');
    const ipB = await ipOf('nb');
    expect(ipA.startsWith(`10.214.${third}.`)).toBe(true);
    expect(await guestRun(d, 'na', `ping -c 2 -W 2 ${ipB} >/dev/null && echo PING-OK`, 4000)).toContain('PING-OK');
    expect(await guestRun(d, 'nb', `ping -c 2 -W 2 ${ipA} >/dev/null && echo PING-OK`, 4000)).toContain('PING-OK');
    await waitFor('nc to get its address', async () => (await ipOf('nc')).startsWith(`10.215.${third}.`), 30_000, 1000);
    expect(await guestRun(d, 'nc', `ping -c 2 -W 2 ${ipA} >/dev/null && echo PING-OK || echo PING-FAILED`, 6000)).toContain('PING-FAILED');

    // NIC hot-plug: nb gets a second NIC on the isolated network, then loses it again.
    let r = await d.cli(['vm', 'nic', 'add', 'nb', '--network', 'jail']);
    expect(r.code, r.stderr).toBe(0);
    await waitFor('eth1 in nb', async () => (await guestRun(d, 'nb', 'ls /sys/class/net')).includes('eth1'), 30_000, 1000);
    r = await d.cli(['vm', 'nic', 'remove', 'nb', 'net1']);
    expect(r.code, r.stderr).toBe(0);
    await waitFor('eth1 gone from nb', async () => !(await guestRun(d, 'nb', 'ls /sys/class/net')).includes('eth1'), 30_000, 1000);

    // In use: refused. Then delete the VMs and the networks: the host is as before.
    const busy = await d.cli(['network', 'delete', 'lan']);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain('NETWORK_IN_USE');
    for (const vm of ['na', 'nb', 'nc']) expect((await d.cli(['vm', 'delete', vm, '--force'])).code).toBe(0);
    expect((await d.cli(['network', 'delete', 'lan'])).code).toBe(0);
    expect((await d.cli(['network', 'delete', 'jail'])).code).toBe(0);
    await waitFor('the host to be clean', async () => JSON.stringify(await hostSnapshot()) === JSON.stringify(before), 10_000, 250);
  });

  it('refuses overlapping subnets and invalid CIDRs with clear codes', async () => {
    expect((await d.cli(['network', 'create', 'one', '--subnet', subnetC])).code).toBe(0);
    let r = await d.cli(['network', 'create', 'two', '--subnet', `10.216.${third}.128/25`]);
    expect(r.stderr).toContain('NETWORK_OVERLAP');
    r = await d.cli(['network', 'create', 'bad', '--subnet', '10.1.2.300/24']);
    expect(r.stderr).toContain('INVALID_SPEC');
    r = await d.cli(['network', 'create', 'bad', '--subnet', '10.1.2.0/33']);
    expect(r.stderr).toContain('INVALID_SPEC');
    r = await d.cli(['vm', 'create', 'x', '--network', 'nope']);
    expect(r.stderr).toContain('NETWORK_NOT_FOUND');
    expect((await d.cli(['network', 'delete', 'one'])).code).toBe(0);
  });
});
