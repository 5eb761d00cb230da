import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeQcow2Overlay } from './qcow2-overlay.js';

const dir = mkdtempSync(join(tmpdir(), 'qcow2-overlay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const img = (...args: string[]) => execFileSync('qemu-img', args, { encoding: 'utf8' });

describe('writeQcow2Overlay', () => {
  it('writes an empty qcow2 qemu-img finds clean, of the size asked', async () => {
    for (const size of [64 * 2 ** 20, 2 ** 30 + 512, 40 * 2 ** 30]) {
      const p = join(dir, `plain-${size}.qcow2`);
      await writeQcow2Overlay(p, size);
      const info = JSON.parse(img('info', '--output=json', '-f', 'qcow2', p)) as Record<string, unknown>;
      expect(info['virtual-size']).toBe(size);
      expect((info['format-specific'] as { data: { compat: string } }).data.compat).toBe('1.1');
      expect(JSON.parse(img('check', '--output=json', '-f', 'qcow2', p))).toMatchObject({ 'check-errors': 0 });
    }
  });

  it('writes the same bytes as qemu-img create for an overlay', async () => {
    const base = join(dir, 'base.qcow2');
    img('create', '-q', '-f', 'qcow2', base, '256M');
    const ours = join(dir, 'ours.qcow2');
    const theirs = join(dir, 'theirs.qcow2');
    await writeQcow2Overlay(ours, 256 * 2 ** 20, { path: base, format: 'qcow2' });
    img('create', '-q', '-f', 'qcow2', '-u', '-b', base, '-F', 'qcow2', '-o', 'cluster_size=65536,lazy_refcounts=off', theirs, String(256 * 2 ** 20));
    const a = JSON.parse(img('info', '--output=json', '-f', 'qcow2', ours)) as Record<string, unknown>;
    const b = JSON.parse(img('info', '--output=json', '-f', 'qcow2', theirs)) as Record<string, unknown>;
    for (const k of ['virtual-size', 'cluster-size', 'backing-filename', 'backing-filename-format', 'format-specific']) expect(a[k], k).toEqual(b[k]);
    expect(JSON.parse(img('check', '--output=json', '-f', 'qcow2', ours))).toMatchObject({ 'check-errors': 0 });
  });

  it('reads through to its backing file, and takes writes of its own', async () => {
    const raw = join(dir, 'data.raw');
    writeFileSync(raw, Buffer.alloc(2 ** 20, 0x5a));
    const ov = join(dir, 'over-raw.qcow2');
    await writeQcow2Overlay(ov, 2 ** 20, { path: raw, format: 'raw' });
    img('compare', '-f', 'qcow2', '-F', 'raw', ov, raw);
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0xa5 0 64k', ov]);
    expect(JSON.parse(img('check', '--output=json', '-f', 'qcow2', ov))).toMatchObject({ 'check-errors': 0 });
    expect(execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'read -P 0xa5 0 64k', '-c', 'read -P 0x5a 64k 64k', ov], { encoding: 'utf8' })).not.toMatch(/Pattern verification failed/);
  });

  it('never replaces a file', async () => {
    const p = join(dir, 'exists.qcow2');
    writeFileSync(p, 'x');
    await expect(writeQcow2Overlay(p, 2 ** 20)).rejects.toThrow(/EEXIST/);
  });
});
