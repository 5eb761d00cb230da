/**
 * Memory and CPU placement on real QEMU (TCG): one tiny guest with hugepage-backed RAM,
 * two guest NUMA nodes, an I/O thread serving its disk, vCPU 0 pinned to host CPU 1 and
 * the emulator to CPU 0, each seen from inside the guest or from /proc. Then the clear
 * refusals: a hugepage guest the host cannot back (nothing changes), a bad topology, an
 * offline host CPU, and PCI passthrough on a host without an IOMMU.
 *
 * The test reserves the 2 MiB hugepages it needs (/proc/sys/vm/nr_hugepages) and puts the
 * old value back afterwards; Hangar itself mounts nothing (memfd hugetlb backing).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HangarError } from '../../src/errors/errors.js';
import type { Vm } from '../../src/contract/index.js';
import { guestRun, TestDaemon, waitFor, waitForGuestReady } from './harness.js';

const NR_HUGEPAGES = '/proc/sys/vm/nr_hugepages';
const POOL = '/sys/kernel/mm/hugepages/hugepages-2048kB';
/** 128 MiB of guest RAM in 2 MiB pages. */
const GUEST_PAGES = 64;
/** Left over for the refusal case: fewer than a second guest needs. */
const SPARE_PAGES = 8;

let d: TestDaemon;
let hugepagesBefore: string | undefined;

function pool(): { total: number; free: number; reserved: number; available: number } {
  const n = (f: string) => Number(readFileSync(`${POOL}/${f}`, 'utf8').trim());
  const free = n('free_hugepages');
  const reserved = n('resv_hugepages');
  return { total: n('nr_hugepages'), free, reserved, available: free - reserved };
}

function threadsOf(pid: number): Array<{ tid: number; comm: string; cpus: string }> {
  return readdirSync(`/proc/${pid}/task`).map((t) => {
    const status = readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
    return { tid: Number(t), comm: readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim(), cpus: /^Cpus_allowed_list:\s*(\S+)/m.exec(status)![1]! };
  });
}

/** Nanoseconds a thread has run (first field of schedstat). */
function cpuNs(pid: number, tid: number): number {
  return Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
}

beforeAll(async () => {
  d = await TestDaemon.start();
  hugepagesBefore = readFileSync(NR_HUGEPAGES, 'utf8').trim();
  const now = pool();
  writeFileSync(NR_HUGEPAGES, `${now.total + GUEST_PAGES + SPARE_PAGES - now.available}\n`);
  expect(pool().available, 'the kernel must hand out the hugepages this test reserves').toBe(GUEST_PAGES + SPARE_PAGES);
});

afterAll(async () => {
  await d?.cleanup();
  if (hugepagesBefore !== undefined) writeFileSync(NR_HUGEPAGES, `${hugepagesBefore}\n`);
});

describe('placement on a running guest', () => {
  let v: Vm;

  it('starts a 2-vCPU guest on hugepages with 2 NUMA nodes, an I/O thread and pinned threads', async () => {
    const before = pool();
    const r = await d.cli([
      'vm', 'create', 'pl', '--cpus', '2', '--max-cpus', '3', '--memory', '128M', '--hugepages',
      '--numa', 'cpus=0,2,memory=64M', '--numa', 'cpus=1,memory=64M,host-nodes=0',
      '--iothreads', '1', '--disk-size', '32M', '--pin-vcpu', '0=1', '--pin-emulator', '0', '--start',
    ]);
    expect(r.code, r.stderr).toBe(0);
    // The memfd mapping reserves every page of guest RAM at start.
    expect(before.available - pool().available).toBe(GUEST_PAGES);
    await waitForGuestReady(d, 'pl', { timeoutMs: 180_000 });
    // And the guest has faulted some of them in by now.
    expect(pool().free).toBeLessThan(before.free);
    v = await d.vm('pl');
    expect(v.placement).toMatchObject({
      hugepages: '2M', iothreads: 1,
      numa: [{ node: 0, cpus: '0,2', memory: 64 }, { node: 1, cpus: '1', memory: 64, hostNodes: '0' }],
      pin: { vcpus: { 0: '1' }, emulator: '0' },
    });
    expect(v.disks).toMatchObject([{ id: 'disk0', iothread: 'iothread0' }]);
  }, 240_000);

  it('pins vCPU 0 to host CPU 1 and the emulator threads to CPU 0 (read back from /proc)', async () => {
    const threads = threadsOf(v.pid!);
    const byComm = (c: string) => threads.find((t) => t.comm === c);
    expect(byComm('CPU 0/TCG')?.cpus).toBe('1');
    expect(byComm('CPU 1/TCG')?.cpus).toBe('0-1'); // not pinned
    expect(byComm('IO iothread0')?.cpus).toBe('0-1'); // not pinned
    const emulator = threads.filter((t) => !t.comm.startsWith('CPU ') && !t.comm.startsWith('IO iothread'));
    expect(emulator.map((t) => t.tid)).toContain(v.pid);
    for (const t of emulator) expect(t.cpus, `${t.comm} (${t.tid})`).toBe('0');
    // `vm show` reports the same, from the same place.
    expect(v.placement?.effective).toEqual({ vcpus: { 0: '1', 1: '0-1' }, emulator: '0', iothreads: { iothread0: '0-1' } });
    const shown = await d.cli(['vm', 'show', 'pl']);
    expect(shown.stdout).toMatch(/affinity:\s+vcpu0→1 vcpu1→0-1 emulator→0 iothread0→0-1/);
  });

  it('the guest sees two NUMA nodes, one vCPU and up to 64 MiB each', async () => {
    const out = await guestRun(d, 'pl', 'ls -d /sys/devices/system/node/node*; cat /sys/devices/system/node/node1/cpulist; grep MemTotal /sys/devices/system/node/node*/meminfo');
    expect(out).toContain('/sys/devices/system/node/node0');
    expect(out).toContain('/sys/devices/system/node/node1');
    expect(out).toMatch(/^1\s*$/m);
    const totals = [...out.matchAll(/Node (\d) MemTotal:\s+(\d+) kB/g)].map((m) => Number(m[2]));
    expect(totals).toHaveLength(2);
    // Each node has its 64 MiB less what the kernel keeps (node 0 holds the kernel itself).
    for (const kib of totals) {
      expect(kib).toBeGreaterThan(16 * 1024);
      expect(kib).toBeLessThanOrEqual(64 * 1024);
    }
  });

  it('the disk is served by its I/O thread: reading it makes that thread run', async () => {
    const io = threadsOf(v.pid!).find((t) => t.comm === 'IO iothread0')!;
    const ran = cpuNs(v.pid!, io.tid);
    await guestRun(d, 'pl', 'dd if=/dev/vda of=/dev/null bs=64k count=512 2>&1 | tail -1');
    expect(cpuNs(v.pid!, io.tid) - ran).toBeGreaterThan(1_000_000);
  });

  it('a hot-plugged disk is served by an I/O thread too', async () => {
    expect((await d.cli(['volume', 'create', 'pl-extra', '--size', '16M'])).code).toBe(0);
    const r = await d.cli(['volume', 'attach', 'pl-extra', 'pl']);
    expect(r.code, r.stderr).toBe(0);
    expect((await d.vm('pl')).disks).toMatchObject([{ id: 'disk0', iothread: 'iothread0' }, { id: 'disk1', iothread: 'iothread0' }]);
    await waitFor('the guest to see /dev/vdb', async () => (await guestRun(d, 'pl', 'ls /dev/vd*')).includes('/dev/vdb'), 30_000, 500);
    const io = threadsOf(v.pid!).find((t) => t.comm === 'IO iothread0')!;
    const ran = cpuNs(v.pid!, io.tid);
    await guestRun(d, 'pl', 'dd if=/dev/vdb of=/dev/null bs=64k count=256 2>&1 | tail -1');
    expect(cpuNs(v.pid!, io.tid) - ran).toBeGreaterThan(1_000_000);
  });

  it('a hot-plugged vCPU, born on the emulator CPUs, gets the pins re-applied', async () => {
    const r = await d.cli(['vm', 'set', 'pl', 'cpus=3', '--output', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { changes: unknown[] }).changes).toMatchObject([{ key: 'cpus', applied: 'live' }]);
    expect(threadsOf(v.pid!).find((t) => t.comm === 'CPU 2/TCG')?.cpus).toBe('0-1'); // not pinned: all CPUs, not the emulator's 0
    expect((await d.vm('pl')).placement?.effective?.vcpus).toEqual({ 0: '1', 1: '0-1', 2: '0-1' });
  });

  it('re-pins live: vm set pin.vcpu.0=0, and unpins the emulator', async () => {
    const r = await d.cli(['vm', 'set', 'pl', 'pin.vcpu.0=0', 'pin.emulator=none', '--output', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { changes: unknown[] }).changes).toMatchObject([{ key: 'pin', applied: 'live', value: { vcpus: { 0: '0' } } }]);
    const threads = threadsOf(v.pid!);
    expect(threads.find((t) => t.comm === 'CPU 0/TCG')?.cpus).toBe('0');
    expect(threads.find((t) => t.tid === v.pid)?.cpus).toBe('0-1');
    expect((await d.vm('pl')).placement?.effective).toMatchObject({ vcpus: { 0: '0' }, emulator: '0-1' });
    // Not live: stored for the next start, and shown as pending.
    const later = await d.cli(['vm', 'set', 'pl', 'iothreads=2', '--output', 'json']);
    expect(later.code, later.stderr).toBe(0);
    expect((JSON.parse(later.stdout) as { changes: unknown[] }).changes).toMatchObject([{ key: 'iothreads', applied: 'next-start' }]);
    expect((await d.vm('pl')).pending).toContain('iothreads');
  });
});

describe('clear refusals', () => {
  it('a hugepage guest the host cannot back is refused at start with the numbers, and nothing changes', async () => {
    const c = await d.cli(['vm', 'create', 'big', '--memory', '128M', '--hugepages']);
    expect(c.code, c.stderr).toBe(0);
    const before = pool();
    const eventsBefore = (await d.api.call<unknown[]>('GET', '/v1/events?vm=big')).length;
    const r = await d.cli(['vm', 'start', 'big']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('HUGEPAGES_UNAVAILABLE');
    expect(r.stderr).toContain(`needs ${GUEST_PAGES} hugepages of 2M`);
    expect(r.stderr).toContain(`the host has ${SPARE_PAGES} available`);
    const after = await d.vm('big');
    expect(after.state).toBe('stopped');
    expect(after.pid).toBeUndefined();
    // (free and reserved still move together while the first guest faults its pages in.)
    expect({ total: pool().total, available: pool().available }).toEqual({ total: before.total, available: before.available });
    expect((await d.api.call<unknown[]>('GET', '/v1/events?vm=big')).length).toBe(eventsBefore);
    expect(d.qemuPids()).toHaveLength(1); // only the guest above
    // Through the API: the same code, with the numbers as details.
    const e = await d.api.call('POST', '/v1/vms/big/start').then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(HangarError);
    expect(e).toMatchObject({ code: 'HUGEPAGES_UNAVAILABLE', details: { pageSizeKiB: 2048, neededPages: GUEST_PAGES, availablePages: SPARE_PAGES } });
  });

  it('topologies and pins that cannot work are refused when the VM is created', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--cpus', '2', '--numa', 'cpus=0,memory=128M'], /INVALID_SPEC: vCPU\(s\) 1 are in no NUMA node/],
      [['--cpus', '2', '--numa', 'cpus=0-1,memory=64M', '--numa', 'cpus=1,memory=64M'], /INVALID_SPEC: vCPU 1 is in NUMA nodes 0 and 1/],
      [['--cpus', '1', '--memory', '256M', '--numa', 'cpus=0,memory=128M'], /INVALID_SPEC: The NUMA nodes' memory adds up to 128 MiB, but the VM has 256 MiB/],
      [['--pin-vcpu', '0=64'], /INVALID_SPEC: Host CPU\(s\) 64 are not online on this host \(online: 0-1\)/],
      [['--pin-vcpu', '3=0'], /INVALID_SPEC: pin.vcpus names vCPU 3, but the VM has vCPUs 0-0/],
      [['--memory', '129M', '--hugepages'], /INVALID_SPEC: memory 129 MiB is not a whole number of 2M hugepages/],
      [['--hostdev', '01:00.0'], /INVALID_SPEC: Host device "01:00.0" is not a full PCI address/],
    ];
    for (const [flags, message] of cases) {
      const r = await d.cli(['vm', 'create', 'bad', ...flags]);
      expect(r.code, flags.join(' ')).toBe(1);
      expect(r.stderr, flags.join(' ')).toMatch(message);
    }
    expect((await d.api.call<Vm[]>('GET', '/v1/vms')).map((x) => x.name)).not.toContain('bad');
  });

  it('PCI passthrough on a host without an IOMMU is refused with HOST_NO_IOMMU', async (ctx) => {
    const groups = readdirSync('/sys/kernel/iommu_groups');
    if (groups.length > 0) ctx.skip(`this host has ${groups.length} IOMMU groups; the no-IOMMU refusal cannot be shown here`);
    const address = readdirSync('/sys/bus/pci/devices').sort()[0]!; // a device that exists
    const r = await d.cli(['vm', 'create', 'pt', '--hostdev', address]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`HOST_NO_IOMMU: PCI passthrough of ${address.replaceAll('.', '\\.')} needs an IOMMU`));
    expect(r.stderr).toContain('intel_iommu=on');
    expect(r.stderr).toContain('amd_iommu=on');
    expect((await d.api.call<Vm[]>('GET', '/v1/vms')).map((x) => x.name)).not.toContain('pt');
  });
});
