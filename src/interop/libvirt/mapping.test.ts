import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HangarError } from '../../errors/errors.js';
import { planFromXml } from './mapping.js';
import { parseXml } from './xml.js';

const fixture = (n: string) => readFileSync(join(import.meta.dirname, 'fixtures', n), 'utf8');

function refused(xml: string): HangarError {
  try {
    planFromXml(xml);
  } catch (e) {
    return e as HangarError;
  }
  throw new Error('not refused');
}

describe('the XML parser', () => {
  it('reads elements, attributes, text, CDATA, comments and the predefined entities', () => {
    const el = parseXml(`<?xml version="1.0"?>\n<!-- c --><a x='1' y="&lt;&amp;&#x41;"><b>t&gt;<![CDATA[<raw>]]></b><c/></a>`);
    expect(el.name).toBe('a');
    expect(el.attrs).toEqual({ x: '1', y: '<&A' });
    expect(el.children.map((c) => c.name)).toEqual(['b', 'c']);
    expect(el.children[0]!.text).toBe('t><raw>');
  });

  it.each([
    ['not XML', 'this is not xml'],
    ['an unclosed element', '<domain><name>x</name>'],
    ['mismatched tags', '<domain><name>x</nam></domain>'],
    ['two roots', '<a/><b/>'],
    ['an unquoted attribute', '<a x=1/>'],
    ['XXE', '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><domain><name>&x;</name></domain>'],
    ['billion laughs', '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><domain><name>&b;</name></domain>'],
    ['an undeclared entity', '<domain><name>&x;</name></domain>'],
    ['a bare ampersand', '<domain><name>a & b</name></domain>'],
    ['a parameter entity in a doctype', '<!doctype domain SYSTEM "http://example.invalid/d.dtd"><domain/>'],
  ])('refuses %s with LIBVIRT_XML_INVALID', (_what, xml) => {
    const e = refused(xml);
    expect(e).toBeInstanceOf(HangarError);
    expect(e.code).toBe('LIBVIRT_XML_INVALID');
  });

  it('refuses a document that is not a domain', () => {
    expect(refused('<network><name>default</name></network>').message).toContain('not <domain>');
  });
});

describe('mapping a libvirt domain', () => {
  it('carries over a disk guest: identity, CPUs, memory, firmware, disks, CD-ROM, NICs, display, TPM', () => {
    const p = planFromXml(fixture('disk-guest.xml'));
    expect(p.unsupported).toEqual([]);
    expect(p).toMatchObject({
      name: 'web1', uuid: '5f0c6a4e-8f1b-4a55-9d1e-2f6b7c9a1e01', description: 'A web server',
      machine: 'q35', machineVersion: 'pc-q35-7.2', cpuModel: 'host', cpus: 4, memoryMiB: 1024,
      topology: { sockets: 1, cores: 2, threads: 2 },
      firmware: { kind: 'uefi', secureBoot: true, nvram: '/var/lib/libvirt/qemu/nvram/web1_VARS.fd' },
      vnc: true, spice: false, tablet: true, balloon: true, rng: true, tpm: { model: 'crb' }, rtc: 'utc',
    });
    expect(p.kernel).toBeUndefined();
    expect(p.disks).toEqual([
      { target: 'vda', path: '/var/lib/libvirt/images/web1.qcow2', format: 'qcow2', bus: 'virtio-blk', cache: 'none', aio: 'native', discard: true, readOnly: false, hasBacking: false, bootIndex: 0 },
      { target: 'sda', path: '/var/lib/libvirt/images/web1-data.img', format: 'raw', bus: 'sata', readOnly: true, hasBacking: false },
    ]);
    expect(p.cdroms).toEqual([{ target: 'sdb', path: '/srv/iso/debian.iso', bus: 'sata' }]);
    expect(p.nics).toEqual([
      { kind: 'bridge', source: 'br0', mac: '52:54:00:ab:cd:01', model: 'virtio', path: '/domain/devices/interface[1]' },
      { kind: 'user', mac: '52:54:00:ab:cd:02', model: 'e1000e', path: '/domain/devices/interface[2]' },
    ]);
  });

  it('carries over a tuned guest (kernel boot, pinning, NUMA, hugepages, iothreads) and lists each element it cannot', () => {
    const p = planFromXml(fixture('tuned-guest.xml'));
    expect(p).toMatchObject({
      machine: 'pc', cpuModel: 'Skylake-Client', cpuFlags: ['+vmx', '-hle'], cpus: 2, maxCpus: 4, memoryMiB: 512,
      kernel: { kernel: '/boot/vmlinuz', initrd: '/boot/initrd.img', cmdline: 'console=ttyS0 quiet' },
      iothreads: 2, hugepages: { sizeKiB: 2048 },
      numa: [{ cpus: [0, 1], memoryMiB: 256, hostNodes: [0] }, { cpus: [2, 3], memoryMiB: 256, hostNodes: [0] }],
      pin: { vcpus: { 0: [0], 1: [1] }, emulator: [0, 1], iothreads: [1] },
    });
    expect(p.disks).toHaveLength(1);
    expect(p.disks[0]!.iothread).toBe(2);
    expect(p.nics).toEqual([{ kind: 'network', source: 'default', mac: '52:54:00:00:00:09', model: 'e1000e', path: '/domain/devices/interface[2]' }]);
    expect(p.unsupported.map((u) => u.path)).toEqual([
      '/domain/cputune/shares',
      "/domain/devices/disk[target/@dev='vdb']",
      '/domain/devices/interface[1]',
      '/domain/devices/interface[2]/model',
      '/domain/devices/hostdev[1]',
      '/domain/devices/serial[2]',
      '/domain/devices/sound[1]',
    ]);
    for (const u of p.unsupported) expect(u.reason.length).toBeGreaterThan(5);
  });

  it('reads units, maximum CPU mode, localtime and a loader that is not Secure Boot', () => {
    const p = planFromXml(`<domain type='kvm'><name>m</name><memory unit='GiB'>2</memory><currentMemory unit='MiB'>1024</currentMemory><vcpu>1</vcpu>
      <os firmware='efi'><type machine='q35'>hvm</type><loader type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader></os>
      <cpu mode='maximum'/><clock offset='localtime'/><on_reboot>destroy</on_reboot></domain>`);
    expect(p).toMatchObject({ memoryMiB: 2048, cpuModel: 'max', rtc: 'localtime', firmware: { kind: 'uefi', secureBoot: false } });
    expect(p.unsupported.map((u) => u.path)).toEqual(['/domain/on_reboot', '/domain/currentMemory']);
  });

  it('carries an IDE disk over on SATA and an e1000 NIC as e1000e, listing both', () => {
    const p = planFromXml(`<domain type='kvm'><name>old</name><memory unit='MiB'>256</memory><os><type machine='pc'>hvm</type><boot dev='hd'/></os><devices>
      <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/srv/old.img'/><target dev='hda' bus='ide'/></disk>
      <interface type='network'><source network='default'/><model type='e1000'/></interface></devices></domain>`);
    expect(p.disks).toMatchObject([{ target: 'hda', bus: 'sata', bootIndex: 0 }]);
    expect(p.nics).toMatchObject([{ kind: 'network', source: 'default', model: 'e1000e' }]);
    expect(p.unsupported.map((u) => u.path)).toEqual(["/domain/devices/disk[target/@dev='hda']", '/domain/devices/interface[1]/model']);
  });
});
