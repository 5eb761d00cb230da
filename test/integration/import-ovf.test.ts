/**
 * Import from VMware / OVF (issue 18, item 5): an OVA built here as ovftool would (an .ovf
 * descriptor with the vmw: namespace, two streamOptimized VMDK disks made with qemu-img,
 * an .mf manifest with SHA-256s) becomes a VM with the descriptor's 2 vCPUs, 256 MiB and two
 * NICs with their MACs, which the booted guest shows. The first disk is the tiny guest made
 * bootable with GRUB (grub-mkrescue's hybrid image), the second an empty disk; both on a
 * SCSI controller (→ virtio-scsi). A sound card refuses the import (listed) until
 * --ignore-unsupported; a descriptor with an external entity (XXE) is refused with nothing made.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guestRun, TestDaemon, waitForGuestReady } from './harness.js';

const run = promisify(execFile);
const TINY = '/var/cache/hangar/images/tiny';
const MAC1 = '00:50:56:8a:00:11';
const MAC2 = '00:50:56:8a:00:22';

function item(fields: Record<string, string | number>, extra = ''): string {
  return `      <Item>\n${Object.entries(fields).map(([k, v]) => `        <rasd:${k}>${v}</rasd:${k}>`).join('\n')}${extra}\n      </Item>`;
}

let disk1Bytes = 0;

function descriptor(opts: { sound?: boolean; head?: string; body?: string } = {}): string {
  const items = [
    item({ ElementName: '2 virtual CPU(s)', InstanceID: 1, ResourceType: 3, VirtualQuantity: 2 }),
    item({ AllocationUnits: 'byte * 2^20', ElementName: '256MB of memory', InstanceID: 2, ResourceType: 4, VirtualQuantity: 256 }),
    item({ ElementName: 'SCSI controller 0', InstanceID: 3, ResourceSubType: 'lsilogic', ResourceType: 6 }),
    item({ AddressOnParent: 0, ElementName: 'Hard disk 1', HostResource: 'ovf:/disk/vmdisk1', InstanceID: 4, Parent: 3, ResourceType: 17 }),
    item({ AddressOnParent: 1, ElementName: 'Hard disk 2', HostResource: 'ovf:/disk/vmdisk2', InstanceID: 5, Parent: 3, ResourceType: 17 }),
    item({ Address: MAC1, Connection: 'VM Network', ElementName: 'Network adapter 1', InstanceID: 6, ResourceSubType: 'VmxNet3', ResourceType: 10 }),
    item({ Connection: 'VM Network', ElementName: 'Network adapter 2', InstanceID: 7, ResourceSubType: 'VmxNet3', ResourceType: 10 },
      `\n        <vmw:Config ovf:required="false" vmw:key="macAddress" vmw:value="${MAC2}"/>`),
    ...(opts.sound ? [item({ ElementName: 'Sound card', InstanceID: 8, ResourceSubType: 'vmware.soundcard.hdaudio', ResourceType: 35 })] : []),
  ];
  return `<?xml version="1.0" encoding="UTF-8"?>${opts.head ?? ''}
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData">
  <References>
    <File ovf:href="app-disk1.vmdk" ovf:id="file1"/>
    <File ovf:href="app-disk2.vmdk" ovf:id="file2"/>
  </References>
  <DiskSection>
    <Info>Virtual disk information</Info>
    <Disk ovf:capacity="${disk1Bytes}" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
    <Disk ovf:capacity="64" ovf:capacityAllocationUnits="byte * 2^20" ovf:diskId="vmdisk2" ovf:fileRef="file2" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
  </DiskSection>
  <VirtualSystem ovf:id="ovf-app">
    <Info>A virtual machine</Info>${opts.body ?? ''}
    <Name>ovf-app</Name>
    <OperatingSystemSection ovf:id="101" vmw:osType="otherLinux64Guest"><Info>The guest OS</Info></OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
      <System><vssd:ElementName>Virtual Hardware Family</vssd:ElementName><vssd:InstanceID>0</vssd:InstanceID><vssd:VirtualSystemType>vmx-14</vssd:VirtualSystemType></System>
${items.join('\n')}
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
`;
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** An OVA as ovftool writes it: descriptor first, then the manifest, then the disks (ustar). */
async function ova(dir: string, name: string, ovf: string): Promise<string> {
  writeFileSync(join(dir, `${name}.ovf`), ovf);
  const files = [`${name}.ovf`, 'app-disk1.vmdk', 'app-disk2.vmdk'];
  writeFileSync(join(dir, `${name}.mf`), files.map((f) => `SHA256(${f})= ${sha256(join(dir, f))}\n`).join(''));
  const out = join(dir, `${name}.ova`);
  await run('tar', ['--format=ustar', '-C', dir, '-cf', out, `${name}.ovf`, `${name}.mf`, 'app-disk1.vmdk', 'app-disk2.vmdk']);
  return out;
}

describe('import ovf', () => {
  let d: TestDaemon;
  let dir: string;
  let good: string;
  let withSound: string;
  let xxe: string;

  beforeAll(async () => {
    dir = mkdtempSync('/tmp/hg-ovf-');
    // Disk 1: the tiny guest behind GRUB, bootable as a disk under BIOS (hybrid image).
    const m = JSON.parse(readFileSync(join(TINY, 'manifest.json'), 'utf8')) as { kernel: string; initrd: string; cmdline: string };
    const tree = join(dir, 'tree');
    mkdirSync(join(tree, 'boot', 'grub'), { recursive: true });
    copyFileSync(m.kernel, join(tree, 'boot', 'vmlinuz'));
    copyFileSync(m.initrd, join(tree, 'boot', 'initrd.img'));
    writeFileSync(join(tree, 'boot', 'grub', 'grub.cfg'), [
      'serial --unit=0 --speed=115200', 'terminal_input serial console', 'terminal_output serial console', 'set timeout=0',
      'menuentry "tiny" {', `  linux /boot/vmlinuz ${m.cmdline}`, '  initrd /boot/initrd.img', '}', '',
    ].join('\n'));
    await run('grub-mkrescue', ['-o', join(dir, 'system.img'), tree, '--compress=xz', '--fonts=', '--locales=', '--themes=',
      '--install-modules=linux normal iso9660 part_msdos part_gpt fat search configfile echo serial terminal', '--', '-volid', 'TINY'], { maxBuffer: 16 << 20 });
    disk1Bytes = statSync(join(dir, 'system.img')).size;
    await run('qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', join(dir, 'system.img'), join(dir, 'app-disk1.vmdk')]);
    // Disk 2: an empty 64 MiB disk.
    await run('qemu-img', ['create', '-f', 'raw', join(dir, 'empty.img'), '64M']);
    await run('qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', join(dir, 'empty.img'), join(dir, 'app-disk2.vmdk')]);
    withSound = await ova(dir, 'with-sound', descriptor({ sound: true }));
    good = await ova(dir, 'plain', descriptor());
    xxe = await ova(dir, 'xxe', descriptor({ head: '\n<!DOCTYPE Envelope [<!ENTITY leak SYSTEM "file:///etc/passwd">]>', body: '\n    <Annotation>&leak;</Annotation>' }));
    d = await TestDaemon.start();
  }, 60_000);

  afterAll(async () => {
    await d?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const nothingMade = async () => {
    expect(await d.api.vms.list()).toEqual([]);
    expect(await d.api.volumes.list()).toEqual([]);
    // No staging left in the pool either.
    const pool = join(d.dir, 'pools', 'default');
    expect(existsSync(pool) ? readdirSync(pool) : []).toEqual([]);
  };

  it('refuses a descriptor with an external entity (XXE), making nothing', async () => {
    const r = await d.cli(['import', 'ovf', xxe]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('OVF_INVALID');
    expect(r.stderr).toContain('DOCTYPE');
    expect(r.stderr).not.toContain('root:');
    await nothingMade();
  });

  it('refuses an OVA with a sound card, listing it, then imports it with --ignore-unsupported, boots it and the guest has its CPUs, memory and MACs', async () => {
    const refused = await d.cli(['import', 'ovf', withSound]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('OVF_UNSUPPORTED');
    expect(refused.stderr).toContain('Item[InstanceID=8] "Sound card"');
    await nothingMade();

    const dry = await d.cli(['import', 'ovf', withSound, '--ignore-unsupported', '--dry-run', '--output', 'json']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, name: 'ovf-app', cpus: 2, memoryMiB: 256 });
    await nothingMade();

    const r = await d.cli(['import', 'ovf', withSound, '--ignore-unsupported', '--name', 'app1', '--output', 'json'], undefined, 120_000);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout) as { vm: { name: string; cpus: number; memory: number }; unsupported: Array<{ path: string }>; notes: Array<{ path: string }>; disks: Array<{ bus: string; volume: string }>; nics: Array<{ mac: string; macFromOvf: boolean; model: string }> };
    expect(res.vm).toMatchObject({ name: 'app1', cpus: 2, memory: 256 });
    expect(res.unsupported.map((u) => u.path)).toEqual(['VirtualHardwareSection/Item[InstanceID=8] "Sound card"']);
    expect(res.notes.map((n) => n.path)).toContain('VirtualSystem/OperatingSystemSection');
    expect(res.disks.map((x) => [x.bus, x.volume])).toEqual([['virtio-scsi', 'app1-disk0'], ['virtio-scsi', 'app1-disk1']]);
    expect(res.nics.map((n) => [n.mac, n.macFromOvf, n.model])).toEqual([[MAC1, true, 'virtio'], [MAC2, true, 'virtio']]);
    const vols = await d.api.volumes.list();
    expect(vols.map((v) => [v.name, v.attachedTo, v.sizeBytes]).sort()).toEqual([['app1-disk0', 'app1', disk1Bytes], ['app1-disk1', 'app1', 64 << 20]]);

    const started = await d.cli(['vm', 'start', 'app1']);
    expect(started.code, started.stderr).toBe(0);
    await waitForGuestReady(d, 'app1', { timeoutMs: 60_000 });
    const out = await guestRun(d, 'app1', 'echo CPUS=$(grep -c ^processor /proc/cpuinfo); grep MemTotal /proc/meminfo; echo MACS=$(cat /sys/class/net/eth0/address /sys/class/net/eth1/address); echo DISKS=$(ls /sys/block | grep sd)');
    expect(out).toMatch(/CPUS=2\b/);
    const memKb = Number(/MemTotal:\s+(\d+) kB/.exec(out)?.[1]);
    expect(memKb).toBeGreaterThan(180 * 1024);
    expect(memKb).toBeLessThanOrEqual(256 * 1024);
    expect(out).toContain(`MACS=${MAC1} ${MAC2}`);
    expect(out).toContain('DISKS=sda sdb');
  }, 150_000);

  it('refuses a second import whose MACs another VM has, making nothing more', async () => {
    const r = await d.cli(['import', 'ovf', good, '--name', 'app2']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(MAC1);
    expect((await d.api.vms.list()).map((v) => v.name)).toEqual(['app1']);
    expect((await d.api.volumes.list()).map((v) => v.name).sort()).toEqual(['app1-disk0', 'app1-disk1']);
  });
});
