/**
 * Import from libvirt with a real libvirt (Debian's libvirtd 9.0, in a throw-away
 * configuration: bench/lib/libvirt.ts): three domains are `virsh define`d and `virsh
 * dumpxml`ed — a guest with a disk and a NIC on a bridge, a direct-kernel guest, and a
 * tuned guest (vCPU and emulator pinning, I/O threads, two guest NUMA nodes bound to a host
 * node, 2 MiB hugepages reserved for it) — and each XML imported into a Hangar daemon,
 * booted (the tiny busybox guest, TCG), and checked from inside: CPU count, memory, MAC,
 * SMBIOS UUID as libvirt defined them. Elements Hangar cannot carry over are listed and the
 * import refused unless --ignore-unsupported; XML that is not XML, has an external entity
 * (XXE) or a billion-laughs expansion is refused; each refusal makes nothing.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLibvirt, LibvirtHost, tinyManifestPath } from '../../bench/lib/libvirt.js';
import type { ImportLibvirtReply, Network } from '../../src/contract/index.js';
import { guestRun, TestDaemon, waitForGuestReady } from './harness.js';

const NR_HUGEPAGES = '/proc/sys/vm/nr_hugepages';
const HP_POOL = '/sys/kernel/mm/hugepages/hugepages-2048kB';
const TUNED_MIB = 256;

let d: TestDaemon;
let lv: LibvirtHost | undefined;
let tmp: string;
let files: string;
let bridge: string;
let hugepagesBefore: string | undefined;
let hugepages = false;
const xml: Record<string, string> = {};
const log = (m: string) => process.stderr.write(`[libvirt] ${m}\n`);

function hpCount(f: string): number {
  return Number(readFileSync(join(HP_POOL, f), 'utf8').trim());
}

/** Reserves the tuned guest's 2 MiB pages (restored in afterAll); false if the kernel will not hand them out. */
function reserveHugepages(pages: number): boolean {
  if (!existsSync(NR_HUGEPAGES)) return false;
  hugepagesBefore = readFileSync(NR_HUGEPAGES, 'utf8').trim();
  const available = hpCount('free_hugepages') - hpCount('resv_hugepages');
  if (available < pages) writeFileSync(NR_HUGEPAGES, `${hpCount('nr_hugepages') + pages - available}\n`);
  return hpCount('free_hugepages') - hpCount('resv_hugepages') >= pages;
}

function domain(name: string, body: { memoryMiB: number; vcpu: string; extra?: string; cpu?: string; devices: string; cmdline?: string }): string {
  const m = JSON.parse(readFileSync(tinyManifestPath(), 'utf8')) as { cmdline: string };
  return `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>${body.memoryMiB}</memory>
  <currentMemory unit='MiB'>${body.memoryMiB}</currentMemory>
  ${body.vcpu}
  ${body.extra ?? ''}
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>${files}/vmlinuz</kernel>
    <initrd>${files}/initrd.img</initrd>
    <cmdline>${body.cmdline ?? m.cmdline}</cmdline>
  </os>
  <features><acpi/><apic/></features>
  ${body.cpu ?? "<cpu mode='maximum'/>"}
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    ${body.devices}
    <serial type='pty'><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <memballoon model='virtio'/>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
  </devices>
</domain>
`;
}

/** `virsh define` then `virsh dumpxml`: the XML libvirt itself writes. */
async function defineAndDump(name: string, text: string): Promise<string> {
  const file = join(tmp, `${name}.in.xml`);
  writeFileSync(file, text);
  await lv!.virshOk(['define', file]);
  const out = (await lv!.virshOk(['dumpxml', name])).stdout;
  writeFileSync(join(tmp, `${name}.xml`), out);
  return out;
}

beforeAll(async () => {
  ensureLibvirt(log);
  tmp = mkdtempSync('/tmp/hg-lvi-');
  chmodSync(tmp, 0o755);
  files = join(tmp, 'files');
  mkdirSync(files, { mode: 0o755 });
  const m = JSON.parse(readFileSync(tinyManifestPath(), 'utf8')) as { kernel: string; initrd: string };
  copyFileSync(m.kernel, join(files, 'vmlinuz'));
  copyFileSync(m.initrd, join(files, 'initrd.img'));
  mkdirSync(join(tmp, 'images'), { mode: 0o755 });
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', join(tmp, 'images', 'lv-disk.qcow2'), '64M']);
  execFileSync('qemu-img', ['create', '-q', '-f', 'raw', join(tmp, 'images', 'tuned-data.img'), '32M']);
  hugepages = reserveHugepages(TUNED_MIB / 2);
  if (!hugepages) log('no 2 MiB hugepages could be reserved: the tuned guest goes without');

  d = await TestDaemon.start();
  const [net] = await Promise.all([
    d.cli(['network', 'create', 'lvbr', '--subnet', '10.93.41.0/24', '--output', 'json']),
    (async () => {
      log('starting libvirtd + virtlogd (throw-away config)');
      lv = await LibvirtHost.start(tmp, tinyManifestPath(), log);
    })(),
  ]);
  expect(net!.code, net!.stderr).toBe(0);
  bridge = (JSON.parse(net!.stdout) as Network).bridge;

  xml.disk = await defineAndDump('lv-disk', domain('lv-disk', {
    memoryMiB: 256, vcpu: "<vcpu placement='static'>2</vcpu>",
    cpu: "<cpu mode='maximum'><topology sockets='1' dies='1' cores='2' threads='1'/></cpu>",
    devices: `<disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='writeback'/><source file='${tmp}/images/lv-disk.qcow2'/><target dev='vda' bus='virtio'/></disk>
    <interface type='bridge'><mac address='52:54:00:4c:56:01'/><source bridge='${bridge}'/><model type='virtio'/></interface>
    <graphics type='vnc' port='-1' autoport='yes'/>
    <video><model type='vga'/></video>`,
  }));
  xml.kernel = await defineAndDump('lv-kernel', domain('lv-kernel', {
    memoryMiB: 192, vcpu: '<vcpu>1</vcpu>', cmdline: `${(JSON.parse(readFileSync(tinyManifestPath(), 'utf8')) as { cmdline: string }).cmdline} hangar.import=libvirt`,
    devices: "<interface type='user'><mac address='52:54:00:4c:56:02'/><model type='virtio'/></interface>",
  }));
  xml.tuned = await defineAndDump('lv-tuned', domain('lv-tuned', {
    memoryMiB: TUNED_MIB, vcpu: "<vcpu placement='static'>2</vcpu>",
    extra: `<iothreads>1</iothreads>
  <cputune><vcpupin vcpu='0' cpuset='0'/><vcpupin vcpu='1' cpuset='1'/><emulatorpin cpuset='0-1'/><iothreadpin iothread='1' cpuset='1'/></cputune>
  <numatune><memory mode='strict' nodeset='0'/></numatune>
  ${hugepages ? "<memoryBacking><hugepages><page size='2048' unit='KiB'/></hugepages></memoryBacking>" : ''}`,
    cpu: `<cpu mode='maximum'><topology sockets='2' dies='1' cores='1' threads='1'/><numa><cell id='0' cpus='0' memory='${TUNED_MIB / 2}' unit='MiB'/><cell id='1' cpus='1' memory='${TUNED_MIB / 2}' unit='MiB'/></numa></cpu>`,
    devices: `<disk type='file' device='disk'><driver name='qemu' type='raw' iothread='1'/><source file='${tmp}/images/tuned-data.img'/><target dev='vda' bus='virtio'/></disk>
    <interface type='user'><mac address='52:54:00:4c:56:03'/><model type='virtio'/></interface>
    <sound model='ich9'/>
    <controller type='scsi' model='lsilogic'/>`,
  }));
}, 240_000);

afterAll(async () => {
  await d?.cleanup();
  await lv?.stop();
  if (hugepagesBefore !== undefined) writeFileSync(NR_HUGEPAGES, `${hugepagesBefore}\n`);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}, 120_000);

/** What libvirt says the domain is: its UUID and first MAC. */
function libvirtIdentity(text: string): { uuid: string; mac: string } {
  return { uuid: /<uuid>([0-9a-f-]{36})<\/uuid>/.exec(text)![1]!, mac: /<mac address='([0-9a-f:]{17})'/.exec(text)![1]! };
}

async function importXml(name: string, flags: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string; reply?: ImportLibvirtReply }> {
  const r = await d.cli(['import', 'libvirt', join(tmp, `${name}.xml`), '--output', 'json', ...flags], undefined, 120_000);
  return { ...r, ...(r.code === 0 && { reply: JSON.parse(r.stdout) as ImportLibvirtReply }) };
}

/** CPU count, MemTotal (MiB), eth0's MAC and the SMBIOS UUID inside the guest. */
async function inGuest(vm: string): Promise<{ cpus: number; memMiB: number; mac: string; uuid: string; out: string }> {
  const out = await guestRun(d, vm, 'echo "CPUS=$(grep -c ^processor /proc/cpuinfo) MEM=$(sed -n "s/^MemTotal: *\\([0-9]*\\) kB/\\1/p" /proc/meminfo) MAC=$(cat /sys/class/net/eth0/address) UUID=$(cat /sys/class/dmi/id/product_uuid)"');
  const m = /^CPUS=(\d+) MEM=(\d+) MAC=([0-9a-f:]{17}) UUID=([0-9a-f-]{36})\s*$/m.exec(out);
  if (!m) throw new Error(`no answer from ${vm}: ${out}`);
  return { cpus: Number(m[1]), memMiB: Number(m[2]) / 1024, mac: m[3]!, uuid: m[4]!, out };
}

async function nothingMade(before: { vms: number; volumes: number; pools: number }): Promise<void> {
  expect((await d.api.vms.list()).length).toBe(before.vms);
  expect((await d.api.volumes.list()).length).toBe(before.volumes);
  expect((await d.api.pools.list()).length).toBe(before.pools);
}

async function counts(): Promise<{ vms: number; volumes: number; pools: number }> {
  return { vms: (await d.api.vms.list()).length, volumes: (await d.api.volumes.list()).length, pools: (await d.api.pools.list()).length };
}

describe('hangar import libvirt', () => {
  it('refuses a domain with elements it cannot carry over, listing each, and makes nothing', async () => {
    const before = await counts();
    const r = await importXml('lv-tuned');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('IMPORT_UNSUPPORTED');
    expect(r.stderr).toMatch(/\/domain\/devices\/sound\[1\]: /);
    expect(r.stderr).toMatch(/\/domain\/devices\/controller\[\d+\]: SCSI controller model lsilogic/);
    await nothingMade(before);
  });

  it('refuses XML that is not XML, has an external entity, or a billion-laughs expansion; nothing is made', async () => {
    const before = await counts();
    const bad = {
      'not-xml': 'this is { not xml',
      xxe: `<?xml version="1.0"?>\n<!DOCTYPE domain [<!ENTITY x SYSTEM "file:///etc/shadow">]>\n<domain type='qemu'><name>&x;</name><memory>131072</memory></domain>\n`,
      laughs: `<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>\n<domain type='qemu'><name>&lol3;</name><memory>131072</memory></domain>\n`,
    };
    for (const [n, text] of Object.entries(bad)) {
      writeFileSync(join(tmp, `${n}.xml`), text);
      const r = await importXml(n);
      expect(r.code, n).not.toBe(0);
      expect(r.stderr, n).toContain('LIBVIRT_XML_INVALID');
    }
    await expect(d.api.vms.importLibvirt({ xml: bad.xxe })).rejects.toMatchObject({ code: 'LIBVIRT_XML_INVALID' });
    await nothingMade(before);
  });

  it('imports the three domains (disk guest in place, the others copied); each boots with the CPUs, memory, MAC and UUID libvirt gave it', async () => {
    const disk = await importXml('lv-disk', ['--in-place']);
    expect(disk.code, disk.stderr).toBe(0);
    expect(disk.reply!.unsupported).toEqual([]);
    expect(disk.reply!.disks).toMatchObject([{ target: 'vda', copied: false, path: join(tmp, 'images', 'lv-disk.qcow2') }]);
    expect(disk.reply!.poolsCreated).toHaveLength(1);
    expect(disk.reply!.vm).toMatchObject({ name: 'lv-disk', cpus: 2 });

    const kernel = await importXml('lv-kernel');
    expect(kernel.code, kernel.stderr).toBe(0);
    expect(kernel.reply!.unsupported).toEqual([]);

    const tuned = await importXml('lv-tuned', ['--ignore-unsupported']);
    expect(tuned.code, tuned.stderr).toBe(0);
    expect(tuned.reply!.unsupported.map((u) => u.path)).toEqual(expect.arrayContaining(['/domain/devices/sound[1]']));
    expect(tuned.reply!.disks).toMatchObject([{ target: 'vda', copied: true, pool: 'default', volume: 'lv-tuned-vda' }]);

    expect((await d.api.vms.get('lv-tuned')).placement).toMatchObject({
      iothreads: 1, pin: { vcpus: { 0: '0', 1: '1' }, emulator: '0-1', iothreads: '1' },
      numa: [{ node: 0, cpus: '0', memory: TUNED_MIB / 2, hostNodes: '0' }, { node: 1, cpus: '1', memory: TUNED_MIB / 2, hostNodes: '0' }],
      ...(hugepages && { hugepages: '2M' }),
    });
    for (const vm of ['lv-disk', 'lv-kernel', 'lv-tuned']) {
      const r = await d.cli(['vm', 'start', vm]);
      expect(r.code, `${vm}: ${r.stderr}\n${d.daemonLog.slice(-3000)}`).toBe(0);
    }
    const want = { 'lv-disk': { xml: xml.disk!, cpus: 2, mib: 256 }, 'lv-kernel': { xml: xml.kernel!, cpus: 1, mib: 192 }, 'lv-tuned': { xml: xml.tuned!, cpus: 2, mib: TUNED_MIB } };
    for (const [vm, w] of Object.entries(want)) {
      await waitForGuestReady(d, vm, { timeoutMs: 120_000 });
      const seen = await inGuest(vm);
      const id = libvirtIdentity(w.xml);
      console.log(`${vm}: ${seen.cpus} CPUs, MemTotal ${seen.memMiB.toFixed(0)} MiB of ${w.mib}, MAC ${seen.mac}, UUID ${seen.uuid}`);
      expect(seen.cpus, vm).toBe(w.cpus);
      expect(seen.memMiB, vm).toBeLessThanOrEqual(w.mib);
      expect(seen.memMiB, vm).toBeGreaterThan(w.mib * 0.7);
      expect(seen.mac, vm).toBe(id.mac);
      expect(seen.uuid, vm).toBe(id.uuid);
    }
    // The disk guest's disk is the libvirt file (64 MiB), the tuned guest's a copy of its 32 MiB one.
    expect(await guestRun(d, 'lv-disk', 'echo "VDA=$(cat /sys/block/vda/size)"')).toMatch(/VDA=131072/);
    expect(await guestRun(d, 'lv-tuned', 'echo "VDA=$(cat /sys/block/vda/size)"')).toMatch(/VDA=65536/);
    // The tuned guest: two guest NUMA nodes, vCPUs pinned as libvirt had them.
    expect(await guestRun(d, 'lv-tuned', 'echo "NODES=$(ls -d /sys/devices/system/node/node* | wc -l)"')).toMatch(/NODES=2/);
    // The kernel command line libvirt had reached the guest.
    expect(await guestRun(d, 'lv-kernel', 'cat /proc/cmdline')).toContain('hangar.import=libvirt');
    const disk0 = await d.api.vms.get('lv-disk');
    expect(disk0.nics[0]).toMatchObject({ mac: '52:54:00:4c:56:01', network: 'lvbr' });
  }, 420_000);

  it('refuses to import the same domain twice (name, then UUID), making nothing', async () => {
    const before = await counts();
    const again = await importXml('lv-kernel');
    expect(again.stderr).toContain('VM_EXISTS');
    const renamed = await importXml('lv-kernel', ['--name', 'lv-kernel2']);
    expect(renamed.stderr).toContain('VM_EXISTS');
    expect(renamed.stderr).toContain('UUID');
    await nothingMade(before);
  });

  it('reads a domain from a running libvirt with --from URI --domain NAME', async () => {
    await defineAndDump('lv-from', domain('lv-from', { memoryMiB: 160, vcpu: '<vcpu>3</vcpu>', devices: "<interface type='user'><mac address='52:54:00:4c:56:04'/></interface>" }));
    const uuid = (await lv!.virshOk(['domuuid', 'lv-from'])).stdout.trim();
    const r = await d.cli(['import', 'libvirt', '--from', lv!.uri, '--domain', 'lv-from', '--output', 'json'], undefined, 120_000);
    expect(r.code, r.stderr).toBe(0);
    const vm = (JSON.parse(r.stdout) as ImportLibvirtReply).vm!;
    expect(vm).toMatchObject({ name: 'lv-from', uuid, cpus: 3, state: 'stopped' });
    expect(vm.nics[0]!.mac).toBe('52:54:00:4c:56:04');
    const missing = await d.cli(['import', 'libvirt', '--from', lv!.uri, '--domain', 'no-such-domain']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('NOT_FOUND');
  });
});
