import { describe, expect, it } from 'vitest';
import { CLOUD_INIT_DATASOURCES, grubConfig, guestFiles, kernelCmdline } from './guest-config.js';
import { chsBytes, embeddedCoreImage, grubBootSector, mbrWithPartitions, SECTOR } from './mbr.js';
import { parseDeb822Sources, parseOneLineSources, pickMirror, pickSecurityMirror } from './mirror.js';

describe('apt sources', () => {
  it('reads deb822 .sources paragraphs and picks the mirror for the suite', () => {
    const text = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
Components: main
`;
    const sources = parseDeb822Sources(text, 'debian.sources');
    expect(sources).toHaveLength(2);
    expect(pickMirror(sources, 'bookworm')).toBe('http://deb.debian.org/debian');
    expect(pickSecurityMirror(sources, 'bookworm')).toBe('http://deb.debian.org/debian-security');
    expect(pickMirror(sources, 'trixie')).toBeUndefined();
  });

  it('reads one-line sources.list entries, skipping deb-src, comments and non-http transports', () => {
    const text = `# deb http://commented.example/debian bookworm main
deb-src http://src.example/debian bookworm main
deb [arch=amd64 signed-by=/k.gpg] cdrom:/media/ bookworm main
deb [arch=amd64] http://mirror.example/debian bookworm main contrib
`;
    const sources = parseOneLineSources(text, 'sources.list');
    expect(sources.map((s) => s.uri)).toEqual(['cdrom:/media/', 'http://mirror.example/debian']);
    expect(pickMirror(sources, 'bookworm')).toBe('http://mirror.example/debian');
  });

  it('skips disabled deb822 paragraphs', () => {
    const sources = parseDeb822Sources('Types: deb\nEnabled: no\nURIs: http://a/debian\nSuites: bookworm\nComponents: main\n', 'x.sources');
    expect(sources).toHaveLength(0);
  });
});

describe('MBR and GRUB embedding', () => {
  it('computes CHS like fdisk and caps it past cylinder 1023', () => {
    expect(chsBytes(2048)).toEqual([0x20, 0x21, 0x00]);
    expect(chsBytes(0)).toEqual([0, 1, 0]);
    expect(chsBytes(8_388_607)).toEqual([0x2a, 0xa0, 0x0a]); // end of a 4 GiB disk, as sfdisk writes it
    expect(chsBytes(1024 * 255 * 63)).toEqual([0xfe, 0xff, 0xff]);
  });

  it('writes a bootable Linux partition entry and the signature', () => {
    const mbr = mbrWithPartitions([{ startLba: 2048, sectors: 8_386_560, type: 0x83, bootable: true }], 0x12345678);
    expect(mbr).toHaveLength(SECTOR);
    expect(mbr.readUInt32LE(0x1b8)).toBe(0x12345678);
    expect(mbr[0x1be]).toBe(0x80);
    expect(mbr[0x1be + 4]).toBe(0x83);
    expect(mbr.readUInt32LE(0x1be + 8)).toBe(2048);
    expect(mbr.readUInt32LE(0x1be + 12)).toBe(8_386_560);
    expect(mbr.subarray(0x1ce, 0x1fe).every((b) => b === 0)).toBe(true);
    expect([mbr[0x1fe], mbr[0x1ff]]).toEqual([0x55, 0xaa]);
    expect(() => mbrWithPartitions([{ startLba: 0, sectors: 1, type: 0x83, bootable: false }], 0)).toThrow();
  });

  it('patches boot.img like grub-bios-setup, keeping the partition table', () => {
    const bootImg = Buffer.alloc(SECTOR, 0xcc);
    const table = mbrWithPartitions([{ startLba: 2048, sectors: 4096, type: 0x83, bootable: true }], 0xdeadbeef);
    const s0 = grubBootSector(bootImg, table, 1);
    expect(s0.readBigUInt64LE(0x5c)).toBe(1n);
    expect(s0[0x64]).toBe(0xff);
    expect([s0[0x66], s0[0x67]]).toEqual([0x90, 0x90]);
    expect(s0.subarray(0x1b8, 0x200).equals(table.subarray(0x1b8, 0x200))).toBe(true);
    expect(s0.subarray(0x03, 0x5a).equals(table.subarray(0x03, 0x5a))).toBe(true);
    expect(s0[0x68]).toBe(0xcc); // boot code untouched
    expect(s0[0]).toBe(0xcc);
  });

  it('points core.img\'s blocklist at the sectors after its first', () => {
    const core = Buffer.alloc(SECTOR * 3 + 100, 0x11);
    const out = embeddedCoreImage(core, 1);
    expect(out.length).toBe(SECTOR * 4);
    expect(out.readBigUInt64LE(500)).toBe(2n);
    expect(out.readUInt16LE(508)).toBe(3);
    expect(out.readUInt16LE(510)).toBe(0x820);
    expect(out.subarray(488, 500).every((b) => b === 0)).toBe(true);
    expect(out[SECTOR]).toBe(0x11);
  });
});

describe('guest configuration', () => {
  const files = guestFiles({
    rootUuid: '0b1c6f3e-1111-4222-8333-444455556666',
    mirror: 'http://deb.debian.org/debian',
    securityMirror: 'http://deb.debian.org/debian-security',
    suite: 'bookworm',
    cmdline: kernelCmdline('0b1c6f3e-1111-4222-8333-444455556666'),
    imageName: 'debian-12',
    builtAt: '2025-01-01T00:00:00.000Z',
    recipe: 1,
  });
  const file = (p: string): string => {
    const f = files.find((x) => x.path === p);
    if (!f) throw new Error(`no ${p}`);
    return f.content;
  };

  it('uses relative guest paths only', () => {
    for (const f of files) expect(f.path).toMatch(/^[a-z][\w.@/-]*$/);
  });

  it('mounts root by UUID and boots with the serial console last', () => {
    expect(file('etc/fstab')).toMatch(/^UUID=0b1c6f3e-1111-4222-8333-444455556666 \/ ext4 /m);
    expect(kernelCmdline('u')).toMatch(/console=ttyS0[^ ]*$/);
    const cfg = grubConfig({ rootUuid: 'u', cmdline: 'root=UUID=u ro', title: 't' });
    expect(cfg).toContain('linux /vmlinuz root=UUID=u ro');
    expect(cfg).toContain('serial --unit=0');
  });

  it('limits cloud-init to local datasources and DHCPs any Ethernet NIC', () => {
    expect(file('etc/cloud/cloud.cfg.d/90-hangar.cfg')).toContain(`datasource_list: [${CLOUD_INIT_DATASOURCES.join(', ')}]`);
    expect(CLOUD_INIT_DATASOURCES).toEqual(['NoCloud', 'ConfigDrive', 'None']);
    expect(file('etc/systemd/network/99-hangar-dhcp.network')).toMatch(/Name=en\* eth\*[\s\S]*DHCP=yes/);
    expect(file('etc/apt/sources.list')).toContain('deb http://deb.debian.org/debian-security bookworm-security main');
  });
});
