import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseSmapsUnder, readWarmMemory } from './smaps.js';

const ROOT = '/var/lib/hangar/templates';

/** One mapping of /proc/PID/smaps (the fields Linux 6.1 prints), sizes in kB. */
function mapping(range: string, perms: string, inode: number, path: string, kb: { size: number; sc?: number; sd?: number; pc?: number; pd?: number }): string {
  const field = (k: string, v: number) => `${`${k}:`.padEnd(16)}${String(v).padStart(8)} kB\n`;
  const rss = (kb.sc ?? 0) + (kb.sd ?? 0) + (kb.pc ?? 0) + (kb.pd ?? 0);
  return `${`${range} ${perms} 00000000 fe:00 ${inode}`.padEnd(73)}${path}\n`
    + field('Size', kb.size) + field('KernelPageSize', 4) + field('MMUPageSize', 4) + field('Rss', rss) + field('Pss', rss)
    + field('Pss_Dirty', kb.pd ?? 0) + field('Shared_Clean', kb.sc ?? 0) + field('Shared_Dirty', kb.sd ?? 0)
    + field('Private_Clean', kb.pc ?? 0) + field('Private_Dirty', kb.pd ?? 0) + field('Referenced', rss) + field('Anonymous', kb.pd ?? 0)
    + field('KSM', 0) + field('LazyFree', 0) + field('AnonHugePages', 0) + field('ShmemPmdMapped', 0) + field('FilePmdMapped', 0)
    + field('Shared_Hugetlb', 0) + field('Private_Hugetlb', 0) + field('Swap', 0) + field('SwapPss', 0) + field('Locked', 0)
    + 'THPeligible:           0\nVmFlags: rd wr mr mw me ac sd \n';
}

/** A QEMU process: its binary, the heap, a warm clone's guest RAM (split in two VMAs by an madvise), a library, the stack. */
const SMAPS = mapping('55d4c3a00000-55d4c3c00000', 'r-xp', 1311, '/usr/bin/qemu-system-x86_64', { size: 2048, pc: 1800 })
  + mapping('55d4c5000000-55d4c6000000', 'rw-p', 0, '[heap]', { size: 16384, pd: 9000 })
  + mapping('7f1000000000-7f1010000000', 'rw-p', 4242, `${ROOT}/deb/memory.ram`, { size: 262144, sc: 180000, sd: 4, pc: 2000, pd: 30000 })
  + mapping('7f1010000000-7f1020000000', 'rw-p', 4242, `${ROOT}/deb/memory.ram`, { size: 262144, sc: 20000, pd: 996 })
  + mapping('7f2000000000-7f2000100000', 'r--p', 99, '/usr/lib/x86_64-linux-gnu/libglib-2.0.so.0.7400.6', { size: 1024, sc: 900 })
  + mapping('7ffc00000000-7ffc00021000', 'rw-p', 0, '[stack]', { size: 132, pd: 40 });

describe('parseSmapsUnder', () => {
  it('sums Shared_* and Private_* of every mapping of a file inside the directory, and nothing else', () => {
    expect(parseSmapsUnder(SMAPS, ROOT)).toEqual({
      path: `${ROOT}/deb/memory.ram`,
      sharedBytes: (180000 + 4 + 20000) * 1024,
      privateBytes: (2000 + 30000 + 996) * 1024,
      anonymousBytes: (30000 + 996) * 1024,
    });
    expect(parseSmapsUnder(SMAPS, `${ROOT}/`)?.sharedBytes).toBe((180000 + 4 + 20000) * 1024);
  });

  it('is undefined when no file inside the directory is mapped (a cold start maps its own memory file)', () => {
    const cold = SMAPS.replaceAll(`${ROOT}/deb/memory.ram`, '/var/lib/hangar/memory/0b5e.ram');
    expect(parseSmapsUnder(cold, ROOT)).toBeUndefined();
    expect(parseSmapsUnder('', ROOT)).toBeUndefined();
    // A path that merely contains the directory, or a sibling directory with the same prefix.
    expect(parseSmapsUnder(SMAPS.replaceAll(`${ROOT}/deb`, `/mnt${ROOT}/deb`), ROOT)).toBeUndefined();
    expect(parseSmapsUnder(SMAPS.replaceAll(`${ROOT}/deb`, `${ROOT}-old/deb`), ROOT)).toBeUndefined();
  });

  it('reads a mapping whose file was deleted, and one that ends the text without a newline', () => {
    const one = mapping('7f1000000000-7f1010000000', 'rw-p', 4242, `${ROOT}/t1/memory.ram (deleted)`, { size: 1024, sc: 512, pd: 8 });
    expect(parseSmapsUnder(one.trimEnd(), ROOT)).toEqual({ path: `${ROOT}/t1/memory.ram`, sharedBytes: 512 * 1024, privateBytes: 8 * 1024, anonymousBytes: 8 * 1024 });
  });
});

describe('readWarmMemory', () => {
  let dir: string;
  const proc = () => join(dir, 'proc');
  const stat = (start: string) => `100 (qemu) S 1 1 1 0 -1 0 0 0 0 0 300 0 0 0 20 0 6 0 ${start} 1 1 1`;
  function record(over: { template?: string } = { template: 'deb' }) {
    return { spec: over, runtime: { pid: 100, pidStartTime: '5' } };
  }
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hangar-warm-'));
    mkdirSync(join(proc(), '100'), { recursive: true });
    writeFileSync(join(proc(), '100', 'stat'), stat('5'));
    writeFileSync(join(proc(), '100', 'status'), 'VmRSS:\t2048 kB\n');
    writeFileSync(join(proc(), '100', 'smaps'), SMAPS);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads it for a clone, not for a VM without a template or a pid that is another process now', async () => {
    expect(await readWarmMemory(record(), ROOT, proc())).toEqual({ template: 'deb', sharedBytes: 200004 * 1024, privateBytes: 32996 * 1024, copiedBytes: 30996 * 1024 });
    expect(await readWarmMemory(record({}), ROOT, proc())).toBeUndefined();
    writeFileSync(join(proc(), '100', 'stat'), stat('6'));
    expect(await readWarmMemory(record(), ROOT, proc())).toBeUndefined();
  });
});
