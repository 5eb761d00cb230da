import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addTpmFlags, tpmBody } from './tpm-flags.js';

describe('vm create --tpm', () => {
  it('parses and maps to the body', () => {
    const cmd = addTpmFlags(new Command('create').exitOverride());
    cmd.parse(['--tpm'], { from: 'user' });
    expect(tpmBody(cmd.opts())).toEqual({ tpm: true });
    expect(tpmBody({})).toEqual({});
  });
});
