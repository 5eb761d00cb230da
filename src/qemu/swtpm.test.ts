import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import { isSwtpmUnder, resolveSwtpm, swtpmArgv } from './swtpm.js';

const dir = mkdtempSync('/tmp/hg-swtpm-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('swtpm', () => {
  const files = { stateDir: '/var/lib/hangar/tpm/abc', ctrlSocket: '/run/hangar/vms/abc/swtpm.sock', pidFile: '/run/hangar/vms/abc/swtpm.pid', logFile: '/var/lib/hangar/logs/abc/swtpm.log' };

  it('runs a TPM 2.0 on a unix control socket, state in the VM\'s directory, ending with QEMU', () => {
    expect(swtpmArgv(files)).toEqual([
      'socket', '--tpm2',
      '--tpmstate', 'dir=/var/lib/hangar/tpm/abc,mode=0600',
      '--ctrl', 'type=unixio,path=/run/hangar/vms/abc/swtpm.sock,mode=0600',
      '--log', 'file=/var/lib/hangar/logs/abc/swtpm.log',
      '--pid', 'file=/run/hangar/vms/abc/swtpm.pid',
      '--terminate',
    ]);
  });

  it('refuses paths its option syntax cannot carry', () => {
    expect(() => swtpmArgv({ ...files, stateDir: '/a,b' })).toThrow(HangarError);
    expect(() => swtpmArgv({ ...files, ctrlSocket: 'relative.sock' })).toThrow(/absolute/);
  });

  it('finds the binary by path or in PATH; TPM_UNAVAILABLE when it is missing', () => {
    const bin = join(dir, 'swtpm');
    writeFileSync(bin, '#!/bin/sh\n');
    chmodSync(bin, 0o755);
    expect(resolveSwtpm(bin)).toBe(bin);
    expect(resolveSwtpm(undefined, { PATH: `/nonexistent:${dir}` })).toBe(bin);
    const missing = (() => {
      try {
        resolveSwtpm(join(dir, 'no-such-swtpm'));
      } catch (e) {
        return e as HangarError;
      }
    })();
    expect(missing?.code).toBe('TPM_UNAVAILABLE');
    expect(missing?.message).toMatch(/apt-get install swtpm/);
    expect(() => resolveSwtpm(undefined, { PATH: '/nonexistent' })).toThrow(/no swtpm in PATH/);
    // Not executable: not a usable swtpm.
    const plain = join(dir, 'plain');
    writeFileSync(plain, '');
    expect(() => resolveSwtpm(plain)).toThrow(HangarError);
  });

  it('recognises a swtpm serving a socket under a directory', () => {
    const argv = ['/usr/bin/swtpm', ...swtpmArgv(files)];
    expect(isSwtpmUnder(argv, '/run/hangar/vms')).toBe(files.ctrlSocket);
    expect(isSwtpmUnder(argv, '/run/other')).toBeUndefined();
    expect(isSwtpmUnder(['/usr/bin/qemu-system-x86_64', '--ctrl', `path=${files.ctrlSocket}`], '/run/hangar')).toBeUndefined();
  });
});
