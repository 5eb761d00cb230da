import { describe, expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import type { VmSpec } from '../model/spec.js';
import { buildQemuArgv } from './argv.js';
import { tpmModelFor } from './argv-tpm.js';
import { latestGoldenVersion, loadGoldenCase } from './golden.js';

const LATEST = latestGoldenVersion();

function optionsAfter(argv: string[], flag: string): string[] {
  return argv.flatMap((a, i) => (a === flag ? [argv[i + 1]!] : []));
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof HangarError ? e.code : 'not a HangarError';
  }
  return undefined;
}

describe('vTPM argv', () => {
  it('q35: chardev to swtpm, the emulator backend, tpm-crb (JSON device)', () => {
    const c = loadGoldenCase(LATEST, 'tpm-crb-q35');
    const argv = buildQemuArgv(c.spec, c.caps, c.paths, c.opts);
    expect(optionsAfter(argv, '-chardev')).toContain(`socket,id=chrtpm,path=${c.paths.tpmSocket}`);
    expect(optionsAfter(argv, '-tpmdev')).toEqual(['emulator,id=tpm0,chardev=chrtpm']);
    expect(optionsAfter(argv, '-device').map((d) => JSON.parse(d) as Record<string, unknown>).filter((d) => String(d.driver).startsWith('tpm-'))).toEqual([
      { driver: 'tpm-crb', id: 'tpm0-dev', tpmdev: 'tpm0' },
    ]);
  });

  it('pc: tpm-tis', () => {
    const c = loadGoldenCase(LATEST, 'tpm-tis-pc');
    const argv = buildQemuArgv(c.spec, c.caps, c.paths, c.opts);
    expect(optionsAfter(argv, '-device')).toContain('{"driver":"tpm-tis","id":"tpm0-dev","tpmdev":"tpm0"}');
  });

  it('no TPM in the spec: no TPM options', () => {
    const c = loadGoldenCase(LATEST, 'tiny-kernel-boot');
    const argv = buildQemuArgv(c.spec, c.caps, { ...c.paths, tpmSocket: '/run/x/swtpm.sock' }, c.opts);
    expect(argv).not.toContain('-tpmdev');
    expect(argv.join(' ')).not.toContain('tpm');
  });

  it('escapes a comma in the socket path (keyval), never splitting the option', () => {
    const c = loadGoldenCase(LATEST, 'tpm-crb-q35');
    const argv = buildQemuArgv(c.spec, c.caps, { ...c.paths, tpmSocket: '/run/a,b/swtpm.sock' }, c.opts);
    expect(optionsAfter(argv, '-chardev')).toContain('socket,id=chrtpm,path=/run/a,,b/swtpm.sock');
  });

  it('refuses a TPM on microvm, CRB on pc, an unknown model (INVALID_SPEC), a missing socket path (INTERNAL)', () => {
    const c = loadGoldenCase(LATEST, 'tpm-crb-q35');
    const build = (spec: Partial<VmSpec>, paths = c.paths) => () => buildQemuArgv({ ...c.spec, ...spec }, c.caps, paths, c.opts);
    expect(codeOf(build({ machine: 'microvm', vnc: false }))).toBe('INVALID_SPEC');
    expect(codeOf(build({ machine: 'pc' }))).toBe('INVALID_SPEC');
    expect(codeOf(build({ tpm: { model: 'spi' as 'crb' } }))).toBe('INVALID_SPEC');
    const { tpmSocket: _, ...noSocket } = c.paths;
    expect(codeOf(build({}, noSocket))).toBe('INTERNAL');
  });

  it('reserves the TPM device id', () => {
    const c = loadGoldenCase(LATEST, 'tpm-crb-q35');
    const disk = { id: 'tpm0-dev', path: '/var/lib/x.qcow2', format: 'qcow2' as const, readOnly: false };
    expect(codeOf(() => buildQemuArgv({ ...c.spec, disks: [disk] }, c.caps, c.paths, c.opts))).toBe('INVALID_SPEC');
  });

  it('picks the model per machine; microvm has none', () => {
    expect(tpmModelFor('q35')).toBe('crb');
    expect(tpmModelFor('pc')).toBe('tis');
    expect(() => tpmModelFor('microvm')).toThrow(/microvm/);
  });
});
