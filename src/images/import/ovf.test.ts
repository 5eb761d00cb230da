import { describe, expect, it } from 'vitest';
import { parseManifest, parseOvf } from './ovf.js';

const VIRTUALBOX = `<?xml version="1.0"?>
<Envelope ovf:version="1.0" xml:lang="en-US" xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1">
  <References>
    <File ovf:id="file1" ovf:href="debian-disk001.vmdk"/>
    <File ovf:id="file2" ovf:href="debian-disk&amp;2.vmdk" ovf:size="1234"/>
  </References>
  <!-- <Disk ovf:diskId="commented" ovf:fileRef="file1"/> -->
  <DiskSection>
    <Info>List of the virtual disks used in the package</Info>
    <Disk ovf:capacity="21474836480" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
    <Disk ovf:capacity="1073741824" ovf:diskId="vmdisk2" ovf:fileRef="file2" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
  </DiskSection>
  <VirtualSystem ovf:id="debian"><Info>A virtual machine</Info></VirtualSystem>
</Envelope>`;

const VMWARE = `<?xml version="1.0" encoding="UTF-8"?>
<ovf:Envelope xmlns:ovf='http://schemas.dmtf.org/ovf/envelope/1'>
  <ovf:References>
    <ovf:File ovf:href='vm-disk1.vmdk' ovf:id='file1' ovf:size='68608' ovf:compression='gzip'/>
  </ovf:References>
  <ovf:DiskSection>
    <ovf:Disk ovf:capacity="16" ovf:capacityAllocationUnits="byte * 2^30" ovf:diskId="vmdisk1" ovf:fileRef="file1"/>
    <ovf:Disk ovf:capacity="8" ovf:diskId="blank"/>
  </ovf:DiskSection>
</ovf:Envelope>`;

describe('parseOvf', () => {
  it('reads a VirtualBox descriptor in DiskSection order', () => {
    const d = parseOvf(VIRTUALBOX);
    expect(d.files.map((f) => f.href)).toEqual(['debian-disk001.vmdk', 'debian-disk&2.vmdk']);
    expect(d.disks.map((x) => [x.diskId, x.file?.href])).toEqual([
      ['vmdisk1', 'debian-disk001.vmdk'],
      ['vmdisk2', 'debian-disk&2.vmdk'],
    ]);
    expect(d.files[1]?.size).toBe(1234);
  });

  it('reads prefixed elements, single quotes, compression and blank disks', () => {
    const d = parseOvf(VMWARE);
    expect(d.disks).toHaveLength(2);
    expect(d.disks[0]?.file).toMatchObject({ href: 'vm-disk1.vmdk', compression: 'gzip', size: 68608 });
    expect(d.disks[1]?.file).toBeUndefined();
  });

  it('falls back to disk-like files without a DiskSection', () => {
    const d = parseOvf('<Envelope><References><File href="a.vmdk" id="f1"/><File href="b.iso" id="f2"/></References></Envelope>');
    expect(d.disks.map((x) => x.file?.href)).toEqual(['a.vmdk']);
  });

  it('refuses a dangling fileRef and a non-OVF document', () => {
    expect(() => parseOvf('<Envelope><DiskSection><Disk diskId="d" fileRef="nope"/></DiskSection></Envelope>')).toThrow(
      expect.objectContaining({ code: 'BAD_SOURCE' }),
    );
    expect(() => parseOvf('<html></html>')).toThrow(expect.objectContaining({ code: 'BAD_SOURCE' }));
  });
});

describe('parseManifest', () => {
  it('reads SHA1/SHA256/SHA512 lines and ignores the rest', () => {
    const m = parseManifest('SHA256(vm.ovf)= ABCDEF01\r\nSHA1 (disk1.vmdk) = 0123\nnonsense\nSHA512(x y.vmdk)= ff\n');
    expect(m).toEqual([
      { algorithm: 'sha256', file: 'vm.ovf', digest: 'abcdef01' },
      { algorithm: 'sha1', file: 'disk1.vmdk', digest: '0123' },
      { algorithm: 'sha512', file: 'x y.vmdk', digest: 'ff' },
    ]);
  });
});
