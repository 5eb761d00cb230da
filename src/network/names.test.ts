import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  IFNAME_MAX,
  bridgeMac,
  bridgeName,
  ifaceTag,
  isMac,
  macAddress,
  networkOfTable,
  parseIfaceTag,
  tableName,
  tapName,
  validateIfname,
  validateNetworkName,
} from './names.js';

const netName = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/);

describe('network names', () => {
  it('accepts DNS-label-like names and refuses the rest', () => {
    for (const ok of ['a', 'default', 'lab-1', '0net', 'a'.repeat(32)]) expect(() => validateNetworkName(ok)).not.toThrow();
    for (const bad of ['', '-a', 'a-', 'A', 'a_b', 'a.b', 'a b', 'a'.repeat(33), 'ä']) {
      expect(() => validateNetworkName(bad)).toThrow(/not valid/);
    }
  });
});

describe('bridgeName', () => {
  it('is readable when it fits', () => {
    expect(bridgeName('hg', 'default')).toBe('hg-default');
    expect(bridgeName('hg', 'a'.repeat(12))).toBe(`hg-${'a'.repeat(12)}`);
  });

  it('hashes long names into 15 characters, deterministically and distinctly', () => {
    const long = bridgeName('hg', 'production-frontend');
    expect(long).toHaveLength(IFNAME_MAX);
    expect(long.startsWith('hg_produ')).toBe(true);
    expect(bridgeName('hg', 'production-frontend')).toBe(long);
    expect(bridgeName('hg', 'production-backend')).not.toBe(long);
  });

  it('always fits IFNAMSIZ and never collides between two names', () => {
    fc.assert(
      fc.property(netName, netName, fc.constantFrom('hg', 'hgx', 'abcde'), (a, b, prefix) => {
        const x = bridgeName(prefix, a);
        expect(x.length).toBeLessThanOrEqual(IFNAME_MAX);
        expect(() => validateIfname(x)).not.toThrow();
        if (a !== b) expect(bridgeName(prefix, b)).not.toBe(x);
      }),
    );
  });
});

describe('tapName', () => {
  it('is deterministic, 15 characters, and differs per VM and NIC', () => {
    const t = tapName('hg', 'vm-1', 'net0');
    expect(t).toMatch(/^hgt[a-z2-7]{12}$/);
    expect(tapName('hg', 'vm-1', 'net0')).toBe(t);
    expect(tapName('hg', 'vm-1', 'net1')).not.toBe(t);
    expect(tapName('hg', 'vm-2', 'net0')).not.toBe(t);
    // The separator matters: ("a", "bc") and ("ab", "c") are different NICs.
    expect(tapName('hg', 'a', 'bc')).not.toBe(tapName('hg', 'ab', 'c'));
    expect(tapName('abcde', 'x', 'y')).toHaveLength(IFNAME_MAX);
  });
});

describe('tags and tables', () => {
  it('round-trips interface tags', () => {
    expect(ifaceTag('hg', 'net', 'lab-1')).toBe('hangar:hg:net:lab-1');
    expect(parseIfaceTag('hangar:hg:tap:lab-1')).toEqual({ prefix: 'hg', kind: 'tap', network: 'lab-1' });
    expect(parseIfaceTag('hangar:hg:vm:x')).toBeUndefined();
    expect(parseIfaceTag('something else')).toBeUndefined();
    expect(parseIfaceTag(undefined)).toBeUndefined();
  });

  it('maps network names to nft tables and back', () => {
    expect(tableName('hg', 'lab-1')).toBe('hangar_hg_lab_1');
    expect(networkOfTable('hg', 'hangar_hg_lab_1')).toBe('lab-1');
    expect(networkOfTable('hgx', 'hangar_hg_lab_1')).toBeUndefined();
    expect(networkOfTable('hg', 'filter')).toBeUndefined();
  });
});

describe('MAC addresses', () => {
  it('are stable, in 52:54:00, and avoid the ones taken', () => {
    const m = macAddress('vm-1/net0');
    expect(m).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    expect(macAddress('vm-1/net0')).toBe(m);
    expect(macAddress('vm-1/net1')).not.toBe(m);
    const other = macAddress('vm-1/net0', [m.toUpperCase()]);
    expect(other).not.toBe(m);
    expect(isMac(other)).toBe(true);
  });

  it('gives bridges a fixed, locally administered MAC', () => {
    expect(bridgeMac('hg', 'a')).toMatch(/^02(:[0-9a-f]{2}){5}$/);
    expect(bridgeMac('hg', 'a')).toBe(bridgeMac('hg', 'a'));
    expect(bridgeMac('hg', 'b')).not.toBe(bridgeMac('hg', 'a'));
  });
});
