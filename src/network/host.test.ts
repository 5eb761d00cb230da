import { describe, expect, it } from 'vitest';
import { parseSubnet } from './addr.js';
import { HangarError } from '../errors/errors.js';
import { HostNetworks, findOverlap, parseProcNetRoute, type HostInterfaceNet, type NetworkSpec } from './host.js';

const host: HostInterfaceNet[] = [
  { iface: 'eth0', kind: 'address', cidr: { network: 0xc0000200, prefix: 24 } }, // 192.0.2.0/24
  { iface: 'wg0', kind: 'route', cidr: { network: 0x0a640000, prefix: 16 } }, // 10.100.0.0/16
  { iface: 'hg-mine', kind: 'address', cidr: { network: 0x0a5a0000, prefix: 24 } }, // 10.90.0.0/24 on our own bridge
];
const hn = new HostNetworks({ stateDir: '/nonexistent/hangar-test', prefix: 'hgu', hostNets: () => host });
const spec = (over: Partial<NetworkSpec> = {}): NetworkSpec => ({ name: 'lab', subnet: '10.77.0.0/24', nat: true, isolated: false, ...over });

function err(fn: () => unknown): HangarError {
  try {
    fn();
  } catch (e) {
    if (e instanceof HangarError) return e;
    throw e;
  }
  throw new Error('expected an error');
}

describe('HostNetworks.validate', () => {
  it('accepts a free subnet', () => {
    expect(() => hn.validate(spec(), [])).not.toThrow();
    expect(() => hn.validate(spec({ nat: false, isolated: true }), [spec({ name: 'other', subnet: '10.78.0.0/24' })])).not.toThrow();
  });

  it('refuses bad names and CIDRs with INVALID_SPEC', () => {
    expect(err(() => hn.validate(spec({ name: 'Lab' }), [])).code).toBe('INVALID_SPEC');
    expect(err(() => hn.validate(spec({ subnet: '10.77.0.0/33' }), [])).message).toMatch(/not an IPv4 CIDR/);
    expect(err(() => hn.validate(spec({ subnet: '10.77.0.9/24' }), [])).message).toMatch(/did you mean 10\.77\.0\.0\/24/);
    expect(err(() => hn.validate(spec({ nat: true, isolated: true }), [])).message).toMatch(/exclude each other/);
    expect(err(() => hn.validate(spec({ parent: 'eth/0', nat: false }), [])).code).toBe('INVALID_SPEC');
    expect(err(() => hn.validate(spec({ domain: 'bad domain' }), [])).code).toBe('INVALID_SPEC');
  });

  it('refuses overlaps with other Hangar networks, naming them', () => {
    const e = err(() => hn.validate(spec({ subnet: '10.77.0.0/16' }), [spec({ name: 'web', subnet: '10.77.3.0/24' })]));
    expect(e.code).toBe('NETWORK_OVERLAP');
    expect(e.message).toMatch(/overlaps network "web" \(10\.77\.3\.0\/24\)/);
    expect(e.details).toMatchObject({ conflictsWith: 'web' });
    // The network itself (same name) does not count: re-validating an existing network passes.
    expect(() => hn.validate(spec(), [spec()])).not.toThrow();
  });

  it('refuses overlaps with host addresses and routes, except its own bridge', () => {
    expect(err(() => hn.validate(spec({ subnet: '192.0.2.0/25' }), [])).message).toMatch(/the host's address 192\.0\.2\.0\/24 on eth0/);
    expect(err(() => hn.validate(spec({ subnet: '10.100.7.0/24' }), [])).message).toMatch(/route 10\.100\.0\.0\/16 on wg0/);
    const own = new HostNetworks({ stateDir: '/nonexistent', prefix: 'hg', hostNets: () => host });
    expect(() => own.validate(spec({ name: 'mine', subnet: '10.90.0.0/24' }), [])).not.toThrow();
    expect(err(() => own.validate(spec({ name: 'other', subnet: '10.90.0.0/24' }), [])).message).toMatch(/on hg-mine/);
  });

  it('checks the parent interface', () => {
    const e = err(() => hn.validate(spec({ nat: false, parent: 'hgu-nosuch0' }), []));
    expect(e.code).toBe('NETWORK_PARENT');
    expect(e.message).toMatch(/no such interface/);
    expect(err(() => hn.validate(spec({ nat: false, parent: 'lo' }), [])).code).toBe('NETWORK_PARENT');
    expect(err(() => hn.validate(spec({ parent: 'lo' }), [])).message).toMatch(/neither --nat nor --isolated/);
  });
});

describe('findOverlap', () => {
  it('ignores host interfaces for bridged (parent) networks, not other Hangar networks', () => {
    const lan = spec({ name: 'lan', subnet: '192.0.2.0/24', nat: false, parent: 'eth1' });
    expect(findOverlap(lan, parseSubnet(lan.subnet), [], host, 'hg-lan')).toBeUndefined();
    expect(findOverlap(lan, parseSubnet(lan.subnet), [spec({ name: 'x', subnet: '192.0.2.0/26' })], host, 'hg-lan')?.with).toBe('x');
  });
});

describe('parseProcNetRoute', () => {
  it('reads little-endian routes and skips default routes', () => {
    const text = [
      'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
      'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
      'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
      'wg0\t0000640A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
    ].join('\n');
    expect(parseProcNetRoute(text)).toEqual([
      { iface: 'eth0', kind: 'route', cidr: { network: 0xc0000200, prefix: 24 } },
      { iface: 'wg0', kind: 'route', cidr: { network: 0x0a640000, prefix: 16 } },
    ]);
  });
});
