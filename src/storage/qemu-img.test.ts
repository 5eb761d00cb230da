import { describe, expect, it } from 'vitest';
import type { RunResult } from '../util/run.js';
import { ConvertProgressParser, parseImageInfo, qemuImgError } from './qemu-img.js';

describe('ConvertProgressParser', () => {
  it('parses qemu-img -p output split anywhere', () => {
    const p = new ConvertProgressParser();
    expect(p.push('    (0.00/100%)\r    (12.')).toBe(0);
    expect(p.push('5')).toBeUndefined();
    expect(p.push('0/100%)\r    (50.00/100%)\r')).toBe(50);
    expect(p.push('    (100.00/100%)\r\n')).toBe(100);
  });
});

describe('parseImageInfo', () => {
  it('reads what Hangar uses of qemu-img info --output=json', () => {
    const info = parseImageInfo(JSON.stringify({
      format: 'qcow2', 'virtual-size': 1048576, 'actual-size': 200704, 'backing-filename': 'base.qcow2', 'full-backing-filename': '/p/base.qcow2',
      'backing-filename-format': 'qcow2', snapshots: [{ name: 's1' }, { name: 's2' }], 'format-specific': { type: 'qcow2', data: { compat: '1.1' } },
    }), 'reading /p/a.qcow2');
    expect(info).toEqual({
      format: 'qcow2', virtualSizeBytes: 1048576, actualSizeBytes: 200704, backingFilename: 'base.qcow2', fullBackingFilename: '/p/base.qcow2',
      backingFormat: 'qcow2', snapshots: ['s1', 's2'], formatSpecific: { type: 'qcow2', data: { compat: '1.1' } },
    });
  });

  it('refuses output that does not describe an image', () => {
    expect(() => parseImageInfo('not json', 'x')).toThrow(/not JSON/);
    expect(() => parseImageInfo('{"format":"raw"}', 'x')).toThrow(/did not report a format and size/);
  });
});

describe('qemuImgError', () => {
  const failed = (over: Partial<RunResult>): RunResult => ({ command: 'qemu-img create', code: 1, signal: null, stdout: '', stderr: '', timedOut: false, aborted: false, elapsedMs: 1, ...over });

  it.each([
    ['qemu-img: /p/a.qcow2: Could not resize file: No space left on device', 'STORAGE_FULL', /^creating \/p\/a.qcow2 failed: the pool is full \(.*\)\. Free space or use another pool\.$/],
    ['qemu-img: Disk quota exceeded', 'STORAGE_FULL', /the pool is full/],
    ['qemu-img: /p/a.qcow2: File too large', 'INVALID_SPEC', /larger than the pool's file system allows/],
    ['qemu-img: Failed to get "write" lock\nIs another process using the image [/p/a.qcow2]?', 'VOLUME_IN_USE', /another process is using the disk .*: qemu-img: Failed to get "write" lock\. Try again/],
    ['qemu-img: Image is corrupt', 'STORAGE_FAILED', /^creating \/p\/a.qcow2 failed: qemu-img: Image is corrupt$/],
  ] as const)('%s → %s', (stderr, code, message) => {
    const e = qemuImgError(failed({ stderr }), 'creating /p/a.qcow2');
    expect(e.code).toBe(code);
    expect(e.message).toMatch(message);
  });

  it('says when qemu-img is missing, timed out or was cancelled', () => {
    const missing = Object.assign(new Error('spawn qemu-img ENOENT'), { code: 'ENOENT' });
    expect(qemuImgError(failed({ code: null, spawnError: missing }), 'x').message).toBe('x failed: qemu-img is not installed (Debian package qemu-utils).');
    expect(qemuImgError(failed({ code: null, signal: 'SIGKILL', timedOut: true }), 'x', { timeoutMs: 60_000 }).message).toBe('x failed: qemu-img timed out after 60 s.');
    expect(qemuImgError(failed({ code: null, signal: 'SIGKILL', aborted: true }), 'x')).toMatchObject({ code: 'INVALID_SPEC', message: 'Cancelled.' });
  });
});
