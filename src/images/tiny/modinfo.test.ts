import { describe, expect, it } from 'vitest';
import { normalizeModuleName, orderModules, readModuleInfo } from './modinfo.js';

/** A minimal ELF64 LE relocatable with a .modinfo and a .shstrtab section. */
function fakeModule(modinfo: string[]): Buffer {
  const info = Buffer.from(modinfo.map((s) => `${s}\0`).join(''));
  const shstr = Buffer.from('\0.modinfo\0.shstrtab\0');
  const infoOff = 64;
  const strOff = infoOff + info.length;
  const shoff = Math.ceil((strOff + shstr.length) / 8) * 8;
  const buf = Buffer.alloc(shoff + 3 * 64);
  buf.writeUInt32BE(0x7f454c46, 0);
  buf[4] = 2; // ELFCLASS64
  buf[5] = 1; // little endian
  buf[6] = 1;
  buf.writeUInt16LE(1, 0x10); // ET_REL
  buf.writeUInt16LE(62, 0x12); // x86-64
  buf.writeBigUInt64LE(BigInt(shoff), 0x28);
  buf.writeUInt16LE(64, 0x34);
  buf.writeUInt16LE(64, 0x3a);
  buf.writeUInt16LE(3, 0x3c);
  buf.writeUInt16LE(2, 0x3e);
  info.copy(buf, infoOff);
  shstr.copy(buf, strOff);
  const sh = (i: number, name: number, type: number, off: number, size: number): void => {
    const b = shoff + i * 64;
    buf.writeUInt32LE(name, b);
    buf.writeUInt32LE(type, b + 4);
    buf.writeBigUInt64LE(BigInt(off), b + 0x18);
    buf.writeBigUInt64LE(BigInt(size), b + 0x20);
  };
  sh(1, 1, 1, infoOff, info.length);
  sh(2, 10, 3, strOff, shstr.length);
  return buf;
}

describe('kernel module info', () => {
  it('reads depends and name from .modinfo', () => {
    const elf = fakeModule(['license=GPL', 'depends=net_failover,virtio', 'alias=virtio:d00000001v*', 'name=virtio_net']);
    const info = readModuleInfo(elf);
    expect(info.name).toBe('virtio_net');
    expect(info.depends).toEqual(['net_failover', 'virtio']);
    expect(info.fields).toContainEqual(['alias', 'virtio:d00000001v*']);
    expect(readModuleInfo(fakeModule(['depends=', 'name=failover'])).depends).toEqual([]);
  });

  it('rejects non-ELF input', () => {
    expect(() => readModuleInfo(Buffer.from('not an elf at all, really not an elf at all, really not an elf at all'))).toThrow();
  });

  it('orders modules after their dependencies and reports missing ones', () => {
    const deps: Record<string, string[]> = {
      virtio_net: ['net_failover', 'virtio', 'virtio_ring'],
      net_failover: ['failover'],
      failover: [],
      virtio: [],
      virtio_ring: [],
      virtio_pci: ['virtio', 'virtio_ring', 'virtio_pci_modern_dev'],
      virtio_pci_modern_dev: [],
    };
    const order = orderModules(['virtio_pci', 'virtio-net'], (n) => deps[n]);
    expect(new Set(order).size).toBe(order.length);
    for (const [m, ds] of Object.entries(deps)) {
      for (const d of ds) expect(order.indexOf(d)).toBeLessThan(order.indexOf(m));
    }
    expect(() => orderModules(['virtio_net', 'nope'], (n) => deps[n])).toThrow(/nope/);
    expect(() => orderModules(['a'], (n) => ({ a: ['b'], b: ['a'] })[n])).toThrow(/cycle/);
    expect(normalizeModuleName('virtio-rng')).toBe('virtio_rng');
  });
});
