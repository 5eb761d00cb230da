import { describe, expect, it } from 'vitest';
import { planSubnet } from './addr.js';
import { dnsmasqArgs, dnsmasqFiles, isDnsmasqFor, isDnsmasqUnder, parseLeases } from './dnsmasq.js';

const files = dnsmasqFiles('/var/lib/hangar/networks/lab');

describe('dnsmasqArgs', () => {
  const args = dnsmasqArgs({ bridge: 'hg-lab', plan: planSubnet('10.77.0.0/24'), domain: 'lab.hangar.internal', files, upstream: 'host' });

  it('configures one bridge only, from the command line alone', () => {
    expect(args[0]).toBe('--conf-file=/dev/null');
    expect(args).toContain('--bind-interfaces');
    expect(args).toContain('--interface=hg-lab');
    expect(args).toContain('--except-interface=lo');
    expect(args).toContain('--pid-file=/var/lib/hangar/networks/lab/dnsmasq.pid');
    expect(args).toContain('--dhcp-leasefile=/var/lib/hangar/networks/lab/leases');
    expect(args).not.toContain('--keep-in-foreground');
  });

  it('serves DHCP on the pool with the gateway as router and DNS, and the network domain', () => {
    expect(args).toContain('--dhcp-range=10.77.0.2,10.77.0.254,255.255.255.0,1h');
    expect(args).toContain('--dhcp-option=option:router,10.77.0.1');
    expect(args).toContain('--dhcp-option=option:dns-server,10.77.0.1');
    expect(args).toContain('--dhcp-authoritative');
    expect(args).toContain('--domain=lab.hangar.internal');
    expect(args).toContain('--local=/lab.hangar.internal/');
    expect(args).not.toContain('--no-resolv');
  });

  it('can answer locally only', () => {
    const local = dnsmasqArgs({ bridge: 'hg-lab', plan: planSubnet('10.77.0.0/24'), domain: 'x', files, upstream: 'none' });
    expect(local).toContain('--no-resolv');
  });

  it('is deterministic (re-adoption compares command lines)', () => {
    expect(dnsmasqArgs({ bridge: 'hg-lab', plan: planSubnet('10.77.0.0/24'), domain: 'lab.hangar.internal', files, upstream: 'host' })).toEqual(args);
  });
});

describe('recognising our dnsmasq', () => {
  const argv = ['/usr/sbin/dnsmasq', '--conf-file=/dev/null', `--pid-file=${files.pidFile}`];
  it('by its pid file', () => {
    expect(isDnsmasqFor(argv, files.pidFile)).toBe(true);
    expect(isDnsmasqFor(argv, '/other/dnsmasq.pid')).toBe(false);
    expect(isDnsmasqFor(['/usr/bin/sleep', `--pid-file=${files.pidFile}`], files.pidFile)).toBe(false);
  });
  it('and its network, under a state dir', () => {
    expect(isDnsmasqUnder(argv, '/var/lib/hangar/networks')).toBe('lab');
    expect(isDnsmasqUnder(argv, '/var/lib/hangar/networks/')).toBe('lab');
    expect(isDnsmasqUnder(argv, '/var/lib/other')).toBeUndefined();
    expect(isDnsmasqUnder(['dnsmasq', '--pid-file=/var/lib/hangar/networks/a/b/dnsmasq.pid'], '/var/lib/hangar/networks')).toBeUndefined();
  });
});

describe('parseLeases', () => {
  it('reads dnsmasq lease lines', () => {
    const text = [
      '1764120000 52:54:00:AB:cd:01 10.77.0.23 tiny 01:52:54:00:ab:cd:01',
      '0 52:54:00:ab:cd:02 10.77.0.24 * *',
      'duid 00:01:00:01:2c:aa:bb:cc',
      'garbage',
      '',
    ].join('\n');
    expect(parseLeases(text)).toEqual([
      { mac: '52:54:00:ab:cd:01', ip: '10.77.0.23', hostname: 'tiny', expires: new Date(1764120000 * 1000).toISOString(), clientId: '01:52:54:00:ab:cd:01' },
      { mac: '52:54:00:ab:cd:02', ip: '10.77.0.24', expires: 'never' },
    ]);
  });
});
