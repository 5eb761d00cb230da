import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { allocateGuestUid, allowTraverse, groupCanUse, groupIdFrom, handOver, shareReadOnly, takeBack } from './guest-identity.js';

describe('allocateGuestUid', () => {
  it('hands out the lowest free uid of the range', () => {
    expect(allocateGuestUid([], 1000, 4)).toBe(1000);
    expect(allocateGuestUid([1000, 1002], 1000, 4)).toBe(1001);
    expect(allocateGuestUid([1000, 1001, 1002], 1000, 4)).toBe(1003);
  });
  it('fails when the range is full', () => {
    expect(() => allocateGuestUid([1000, 1001], 1000, 2)).toThrow(/in use/);
  });
});

describe('groupIdFrom', () => {
  const text = 'root:x:0:\nkvm:x:993:alice\nkvmx:x:5:\nbroken:x:abc:\n';
  it('reads a group id', () => {
    expect(groupIdFrom(text, 'kvm')).toBe(993);
    expect(groupIdFrom(text, 'root')).toBe(0);
  });
  it('is undefined for a missing or malformed group', () => {
    expect(groupIdFrom(text, 'nope')).toBeUndefined();
    expect(groupIdFrom(text, 'broken')).toBeUndefined();
  });
});

const rootOnly = process.getuid?.() === 0 ? it : it.skip;

describe('file hand-over (needs root to chown)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hg-ident-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  rootOnly('hands a disk to a guest uid and takes it back', async () => {
    const disk = join(dir, 'disk.qcow2');
    writeFileSync(disk, 'x', { mode: 0o644 });
    await handOver(disk, { uid: 2_100_000_123, gid: 0 }, 0o600);
    let st = statSync(disk);
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([2_100_000_123, 0, 0o600]);
    await takeBack(disk);
    st = statSync(disk);
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([0, 0, 0o600]);
  });

  rootOnly('refuses to hand over a symlink', async () => {
    const target = join(dir, 'secret');
    writeFileSync(target, 's', { mode: 0o600 });
    symlinkSync(target, join(dir, 'link'));
    await expect(handOver(join(dir, 'link'), { uid: 2_100_000_124, gid: 0 }, 0o600)).rejects.toThrow(/symbolic link/);
    expect(statSync(target).uid).toBe(0);
  });

  it('shares a read-only file: o+r on it, o+x on the directories above', async () => {
    const deep = join(dir, 'a', 'b');
    mkdirSync(deep, { recursive: true, mode: 0o700 });
    const file = join(deep, 'vmlinuz');
    writeFileSync(file, 'k', { mode: 0o600 });
    await shareReadOnly(file, dir);
    expect(statSync(file).mode & 0o777).toBe(0o644);
    expect(statSync(deep).mode & 0o777).toBe(0o711);
    expect(statSync(join(dir, 'a')).mode & 0o777).toBe(0o711);
    await allowTraverse(deep);
    expect(statSync(deep).mode & 0o777).toBe(0o711);
  });
});

describe('groupCanUse', () => {
  const id = { uid: 2_100_000_000, gid: 993 };
  it('allows a device of the guest group with g+rw, or o+rw', () => {
    expect(groupCanUse({ uid: 0, gid: 993, mode: 0o20660 }, id)).toBe(true);
    expect(groupCanUse({ uid: 0, gid: 0, mode: 0o20666 }, id)).toBe(true);
  });
  it('refuses a root-only device or another group', () => {
    expect(groupCanUse({ uid: 0, gid: 0, mode: 0o20600 }, id)).toBe(false);
    expect(groupCanUse({ uid: 0, gid: 5, mode: 0o20660 }, id)).toBe(false);
    expect(groupCanUse({ uid: 0, gid: 993, mode: 0o20640 }, id)).toBe(false);
  });
});
