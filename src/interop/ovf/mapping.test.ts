import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { normalizeMac, planFromOvf, unitBytes, vmNameFrom } from './mapping.js';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8');

describe('planFromOvf: a VMware (ovftool) descriptor', () => {
  const plan = planFromOvf(fixture('vmware.ovf'));

  it('carries over CPUs, memory, UEFI with Secure Boot and the BIOS UUID', () => {
    expect(plan).toMatchObject({ name: 'web01', cpus: 4, memoryMiB: 4096, firmware: 'uefi', secureBoot: true, uuid: '420a1b2c-3d4e-5f60-7182-93a4b5c6d7e8', osType: 'debian10_64Guest' });
  });

  it('maps NIC models and keeps MACs from Address and vmw:Config', () => {
    expect(plan.nics.map((n) => [n.model, n.mac, n.connection])).toEqual([
      ['virtio', '00:50:56:8a:12:34', 'VM Network'],
      ['e1000e', '00:50:56:8a:56:78', 'VM Network'],
    ]);
  });

  it('orders disks by controller and AddressOnParent, on their controller bus', () => {
    expect(plan.disks.map((d) => [d.disk.diskId, d.bus, d.fileIndex, d.capacityBytes])).toEqual([
      ['vmdisk1', 'virtio-scsi', 0, 16 * 2 ** 30],
      ['vmdisk2', 'virtio-scsi', 1, 4 * 2 ** 30],
    ]);
    expect(plan.cdroms).toBe(1);
  });

  it('has nothing unsupported; the video card, VMCI, OS type, topology and annotation are notes', () => {
    expect(plan.unsupported).toEqual([]);
    const notes = plan.notes.map((n) => n.path).join('\n');
    for (const s of ['"VirtualVideoCard"', '"VirtualVMCIDevice"', 'OperatingSystemSection', 'CoresPerSocket', 'AnnotationSection', 'VirtualSystemType']) expect(notes).toContain(s);
  });
});

describe('planFromOvf: a VirtualBox descriptor', () => {
  const plan = planFromOvf(fixture('virtualbox.ovf'));

  it('reads MegaBytes, an E1000 with the MAC of vbox:Machine, the SATA disk, an empty CD on IDE, and the UUID', () => {
    expect(plan).toMatchObject({ name: 'dev-box-Ubuntu', cpus: 2, memoryMiB: 2048, firmware: 'bios', cdroms: 1, uuid: '5b1e3c6a-0f1d-4c39-9d42-2a7b3e8c9f01' });
    expect(plan.nics).toEqual([expect.objectContaining({ model: 'e1000e', mac: '08:00:27:ab:cd:ef', connection: 'NAT' })]);
    expect(plan.disks.map((d) => [d.disk.diskId, d.bus])).toEqual([['vmdisk1', 'sata']]);
  });

  it('lists the sound card, USB controller, floppy and serial port to a file, element by element', () => {
    expect(plan.unsupported.map((u) => u.path)).toEqual([
      'VirtualHardwareSection/Item[InstanceID=6] "sound"',
      'VirtualHardwareSection/Item[InstanceID=7] "usb"',
      'VirtualHardwareSection/Item[InstanceID=10] "floppy0"',
      'VirtualHardwareSection/Item[InstanceID=11] "serial0"',
    ]);
    expect(plan.unsupported[0]!.reason).toContain('sound card');
    expect(plan.unsupported[3]!.reason).toContain('file:///tmp/serial.log');
  });
});

describe('planFromOvf refuses', () => {
  const minimal = (hw: string, head = '') => `<?xml version="1.0"?>${head}<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="r"><References/><DiskSection/><VirtualSystem id="x"><VirtualHardwareSection>${hw}</VirtualHardwareSection></VirtualSystem></Envelope>`;
  const cpuMem = '<Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>1</rasd:VirtualQuantity></Item><Item><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:VirtualQuantity>256</rasd:VirtualQuantity></Item>';

  it('an external entity (XXE) and a billion-laughs expansion, as OVF_INVALID', () => {
    const xxe = minimal(cpuMem, '<!DOCTYPE Envelope [<!ENTITY x SYSTEM "file:///etc/passwd">]>').replace('<References/>', '<References/><Info>&x;</Info>');
    expect(() => planFromOvf(xxe)).toThrow(expect.objectContaining({ code: 'OVF_INVALID', message: expect.stringContaining('DOCTYPE') }));
    const lol = minimal(cpuMem, '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;">]>');
    expect(() => planFromOvf(lol)).toThrow(expect.objectContaining({ code: 'OVF_INVALID' }));
    // An entity reference without its declaration is refused too.
    expect(() => planFromOvf(minimal(cpuMem).replace('<References/>', '<References/><Info>&x;</Info>'))).toThrow(expect.objectContaining({ code: 'OVF_INVALID', message: expect.stringContaining('entit') }));
  });

  it('not XML, no CPU or memory Item, a bad MAC, a dangling disk', () => {
    expect(() => planFromOvf('not xml at all')).toThrow(expect.objectContaining({ code: 'OVF_INVALID' }));
    expect(() => planFromOvf(minimal(''))).toThrow(expect.objectContaining({ code: 'OVF_INVALID', message: expect.stringContaining('processor') }));
    const nic = '<Item><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceType>10</rasd:ResourceType><rasd:Address>01:00:5e:00:00:01</rasd:Address></Item>';
    expect(() => planFromOvf(minimal(cpuMem + nic))).toThrow(expect.objectContaining({ code: 'OVF_INVALID', message: expect.stringContaining('multicast') }));
    const disk = '<Item><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceType>17</rasd:ResourceType><rasd:HostResource>ovf:/disk/nope</rasd:HostResource></Item>';
    expect(() => planFromOvf(minimal(cpuMem + disk))).toThrow(expect.objectContaining({ code: 'OVF_INVALID', message: expect.stringContaining('nope') }));
  });

  it('accepts a minimal descriptor with a blank disk', () => {
    const xml = minimal(cpuMem + '<Item><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceType>17</rasd:ResourceType><rasd:HostResource>ovf:/disk/d1</rasd:HostResource></Item>')
      .replace('<DiskSection/>', '<DiskSection><Disk ovf:diskId="d1" ovf:capacity="1" ovf:capacityAllocationUnits="byte * 2^30" xmlns:ovf="o"/></DiskSection>');
    const p = planFromOvf(xml);
    expect(p).toMatchObject({ name: 'x', cpus: 1, memoryMiB: 256, firmware: 'bios' });
    expect(p.disks).toEqual([expect.objectContaining({ bus: 'virtio-blk', capacityBytes: 2 ** 30 })]);
    expect(p.disks[0]!.fileIndex).toBeUndefined();
  });
});

describe('helpers', () => {
  it('unit sizes, MACs, names', () => {
    expect(unitBytes('byte * 2^20', 'm')).toBe(2 ** 20);
    expect(unitBytes('GigaBytes', 'm')).toBe(2 ** 30);
    expect(unitBytes(undefined, 'm')).toBe(1);
    expect(() => unitBytes('hertz * 10^6', 'm')).toThrow(expect.objectContaining({ code: 'OVF_INVALID' }));
    expect(normalizeMac('080027ABCDEF')).toBe('08:00:27:ab:cd:ef');
    expect(normalizeMac('00-50-56-8A-12-34')).toBe('00:50:56:8a:12:34');
    expect(normalizeMac('00:50:56:8a:12')).toBeUndefined();
    expect(vmNameFrom('9 My VM (copy)')).toBe('My-VM-copy');
    expect(vmNameFrom('')).toBe('imported-vm');
  });
});
