import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { contains, formatIPv4, overlaps, parseIPv4, parseSubnet, planSubnet, tryParseCidr } from './addr.js';

describe('IPv4 parsing', () => {
  it('accepts dotted quads and round-trips them', () => {
    expect(parseIPv4('10.77.0.1')).toBe(0x0a4d0001);
    expect(parseIPv4('255.255.255.255')).toBe(0xffffffff);
    expect(formatIPv4(0x0a4d0001)).toBe('10.77.0.1');
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => parseIPv4(formatIPv4(n)) === n));
  });

  it.each(['10.77.0', '10.77.0.1.2', '10.77.0.256', '010.77.0.1', '10.77.0.-1', '10.77.0.1 ', '', 'a.b.c.d', '1e1.0.0.1', '0x0a.0.0.1'])(
    'rejects %j',
    (text) => expect(parseIPv4(text)).toBeUndefined(),
  );

  it('parses CIDRs strictly', () => {
    expect(tryParseCidr('10.0.0.0/8')).toEqual({ address: 0x0a000000, prefix: 8 });
    expect(tryParseCidr('10.0.0.0/33')).toBeUndefined();
    expect(tryParseCidr('10.0.0.0/08')).toBeUndefined();
    expect(tryParseCidr('10.0.0.0/')).toBeUndefined();
    expect(tryParseCidr('10.0.0.0')).toBeUndefined();
  });
});

describe('parseSubnet', () => {
  it('accepts private subnets /16../29', () => {
    expect(parseSubnet('10.77.0.0/24')).toEqual({ network: 0x0a4d0000, prefix: 24 });
    expect(parseSubnet('192.168.0.0/16').prefix).toBe(16);
    expect(parseSubnet('172.16.5.8/29').prefix).toBe(29);
  });

  it('explains what is wrong', () => {
    expect(() => parseSubnet('10.77.0.0')).toThrow(/not an IPv4 CIDR/);
    expect(() => parseSubnet('fd00::/64')).toThrow(/not an IPv4 CIDR/);
    expect(() => parseSubnet('10.77.0.5/24')).toThrow(/host bits set: did you mean 10\.77\.0\.0\/24/);
    expect(() => parseSubnet('10.0.0.0/8')).toThrow(/between \/16 and \/29.*too large/);
    expect(() => parseSubnet('10.0.0.0/30')).toThrow(/too small/);
    expect(() => parseSubnet('127.0.0.0/24')).toThrow(/loopback/);
    expect(() => parseSubnet('169.254.1.0/24')).toThrow(/link-local/);
    expect(() => parseSubnet('224.1.0.0/24')).toThrow(/multicast/);
    expect(() => parseSubnet('nonsense')).toThrow(expect.objectContaining({ code: 'INVALID_SPEC' }));
  });
});

describe('overlap', () => {
  const c = (t: string) => {
    const p = tryParseCidr(t)!;
    return { network: p.address, prefix: p.prefix };
  };
  it('finds shared addresses in either direction', () => {
    expect(overlaps(c('10.77.0.0/24'), c('10.77.0.0/24'))).toBe(true);
    expect(overlaps(c('10.77.0.0/16'), c('10.77.5.0/24'))).toBe(true);
    expect(overlaps(c('10.77.5.0/24'), c('10.77.0.0/16'))).toBe(true);
    expect(overlaps(c('10.77.0.0/24'), c('10.77.1.0/24'))).toBe(false);
    expect(overlaps(c('10.77.0.0/25'), c('10.77.0.128/25'))).toBe(false);
    expect(overlaps(c('0.0.0.0/0'), c('10.77.0.0/24'))).toBe(true);
  });

  it('is symmetric and agrees with address membership', () => {
    const cidr = fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 8, max: 32 })).map(([a, p]) => {
      const m = p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0;
      return { network: (a & m) >>> 0, prefix: p };
    });
    fc.assert(
      fc.property(cidr, cidr, (a, b) => {
        const o = overlaps(a, b);
        expect(overlaps(b, a)).toBe(o);
        // Two aligned blocks overlap iff one contains the other's network address.
        expect(o).toBe(contains(a, b.network) || contains(b, a.network));
      }),
    );
  });
});

describe('planSubnet', () => {
  it('puts the gateway at .1 and the pool after it, short of broadcast', () => {
    expect(planSubnet('10.77.0.0/24')).toEqual({
      cidr: { network: 0x0a4d0000, prefix: 24 },
      subnet: '10.77.0.0/24',
      netmask: '255.255.255.0',
      gateway: '10.77.0.1',
      broadcast: '10.77.0.255',
      dhcpRange: ['10.77.0.2', '10.77.0.254'],
    });
    expect(planSubnet('10.9.8.0/29').dhcpRange).toEqual(['10.9.8.2', '10.9.8.6']);
    expect(planSubnet('10.9.0.0/16').dhcpRange).toEqual(['10.9.0.2', '10.9.255.254']);
  });
});
