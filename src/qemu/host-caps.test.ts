import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseQemuVersion, qemuVersionOf } from './host-caps.js';

const dir = mkdtempSync(join(tmpdir(), 'hangar-caps-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A stand-in QEMU binary that prints `version` and counts its runs. */
function fakeQemu(version: string): string {
  const bin = join(dir, 'qemu-system-x86_64');
  writeFileSync(bin, `#!/bin/sh\necho run >> ${join(dir, 'runs')}\necho "QEMU emulator version ${version} (Debian 1:7.2+dfsg-7)"\n`);
  chmodSync(bin, 0o755);
  return bin;
}

const runs = (): number => readFileSync(join(dir, 'runs'), 'utf8').split('\n').filter(Boolean).length;

describe('the QEMU version', () => {
  it('is read from --version', () => {
    expect(parseQemuVersion('QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright')).toBe('7.2.22');
    expect(parseQemuVersion('QEMU emulator version 9.0.0\n')).toBe('9.0.0');
    expect(parseQemuVersion('nothing here')).toBeUndefined();
  });

  it('is asked of the binary once, then cached until the binary changes', async () => {
    const cache = join(dir, 'cache');
    const bin = fakeQemu('7.2.22');
    expect(await qemuVersionOf(bin, cache)).toBe('7.2.22');
    expect(await qemuVersionOf(bin, cache)).toBe('7.2.22');
    expect(runs()).toBe(1);
    // An upgrade replaces the binary (another size and mtime): asked again.
    const upgraded = fakeQemu('8.2.10');
    expect(await qemuVersionOf(upgraded, cache)).toBe('8.2.10');
    expect(runs()).toBe(2);
  });

  it('is empty when the binary says no version', async () => {
    expect(await qemuVersionOf('/bin/true')).toBe('');
  });
});
