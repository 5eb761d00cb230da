import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import { planSubnet } from './addr.js';
import { dnsmasqArgs, dnsmasqFiles } from './dnsmasq.js';
import { HostNetworks } from './host.js';
import { checkNetbootHost, checkNetbootShape, netbootArgs, normalTftpRoot, type NetbootSpec } from './netboot.js';

function refusal(fn: () => unknown): HangarError {
  try {
    fn();
  } catch (e) {
    if (e instanceof HangarError) return e;
    throw e;
  }
  throw new Error('not refused');
}

const tmp = mkdtempSync(join(tmpdir(), 'hg-netboot-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('network boot settings', () => {
  it('accepts a TFTP root with a boot file, a boot file on another server, or a TFTP root alone', () => {
    for (const s of [{ tftpRoot: '/srv/tftp', bootFile: 'pxelinux.0' }, { tftpRoot: '/srv/tftp' }, { bootFile: 'ipxe/boot.ipxe', bootServer: '192.0.2.7' }, {}]) {
      expect(() => checkNetbootShape('lab', s)).not.toThrow();
    }
  });

  it.each<[NetbootSpec & { parent?: string }, string]>([
    [{ tftpRoot: 'srv/tftp' }, 'tftpRoot'],
    [{ tftpRoot: '/' }, 'tftpRoot'],
    [{ tftpRoot: '/srv/../etc' }, 'tftpRoot'],
    [{ tftpRoot: '/srv/tftp,lo' }, 'tftpRoot'],
    [{ tftpRoot: '/srv/tf tp' }, 'tftpRoot'],
    [{ tftpRoot: '/srv/tftp\n--enable-ra' }, 'tftpRoot'],
    [{ tftpRoot: '/srv/tftp', bootFile: '../etc/shadow' }, 'bootFile'],
    [{ tftpRoot: '/srv/tftp', bootFile: 'a/../../b' }, 'bootFile'],
    [{ tftpRoot: '/srv/tftp', bootFile: '/abs/pxelinux.0' }, 'bootFile'],
    [{ tftpRoot: '/srv/tftp', bootFile: 'pxelinux.0,evil,1.2.3.4' }, 'bootFile'],
    [{ tftpRoot: '/srv/tftp', bootFile: 'boot.ipxe\n--dhcp-option=3' }, 'bootFile'],
    [{ tftpRoot: '/srv/tftp', bootFile: '' }, 'bootFile'],
    [{ tftpRoot: '/srv/tftp', bootFile: 'x'.repeat(128) }, 'bootFile'],
    [{ bootFile: 'pxelinux.0' }, 'bootFile'],
    [{ tftpRoot: '/srv/tftp', bootServer: '10.0.0.1' }, 'bootServer'],
    [{ bootFile: 'pxelinux.0', bootServer: 'tftp.example.com' }, 'bootServer'],
    [{ bootFile: 'pxelinux.0', bootServer: '10.0.0.1,x' }, 'bootServer'],
    [{ tftpRoot: '/srv/tftp', parent: 'eth1' }, 'tftpRoot'],
  ])('refuses %j (INVALID_SPEC, field %s)', (s, field) => {
    const e = refusal(() => checkNetbootShape('lab', s));
    expect(e.code).toBe('INVALID_SPEC');
    expect(e.details).toMatchObject({ field });
  });

  it('checks at create that the TFTP root is an existing directory', () => {
    expect(() => checkNetbootHost('lab', { tftpRoot: tmp })).not.toThrow();
    expect(refusal(() => checkNetbootHost('lab', { tftpRoot: join(tmp, 'missing') })).message).toMatch(/does not exist/);
    writeFileSync(join(tmp, 'file'), 'x');
    expect(refusal(() => checkNetbootHost('lab', { tftpRoot: join(tmp, 'file') })).message).toMatch(/not a directory/);
  });

  it('is part of the network spec check', () => {
    expect(refusal(() => HostNetworks.checkSpec({ name: 'lab', subnet: '10.77.0.0/24', nat: false, isolated: false, bootFile: '../x', tftpRoot: '/srv' })).details).toMatchObject({ field: 'bootFile' });
  });

  it('normalises doubled and trailing slashes only', () => {
    expect(normalTftpRoot('/srv//tftp/')).toBe('/srv/tftp');
    expect(normalTftpRoot('/srv/../etc')).toBe('/srv/../etc');
  });

  it('becomes dnsmasq TFTP and DHCP boot options, each one argv element', () => {
    expect(netbootArgs({})).toEqual([]);
    expect(netbootArgs({ tftpRoot: '/srv/tftp', bootFile: 'boot.ipxe' })).toEqual(['--enable-tftp', '--tftp-root=/srv/tftp', '--tftp-no-fail', '--dhcp-boot=boot.ipxe']);
    expect(netbootArgs({ bootFile: 'pxelinux.0', bootServer: '192.0.2.7' })).toEqual(['--dhcp-boot=pxelinux.0,,192.0.2.7']);
    const args = dnsmasqArgs({ bridge: 'hg-lab', plan: planSubnet('10.77.0.0/24'), domain: 'lab.hangar.internal', files: dnsmasqFiles('/x/lab'), upstream: 'host', netboot: { tftpRoot: '/srv/tftp', bootFile: 'boot.ipxe' } });
    expect(args.slice(-4)).toEqual(['--enable-tftp', '--tftp-root=/srv/tftp', '--tftp-no-fail', '--dhcp-boot=boot.ipxe']);
  });
});
