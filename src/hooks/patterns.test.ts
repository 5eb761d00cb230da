import { describe, expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import { eventMatcher, validatePatterns } from './patterns.js';

function refusal(input: unknown): HangarError {
  try {
    validatePatterns(input);
  } catch (e) {
    if (e instanceof HangarError) return e;
    throw e;
  }
  throw new Error(`accepted: ${JSON.stringify(input)}`);
}

describe('webhook event patterns', () => {
  it('accepts real names and globs, trimmed and without duplicates', () => {
    expect(validatePatterns(['vm.state', ' backup.* ', 'vm.state'])).toEqual(['vm.state', 'backup.*']);
    expect(validatePatterns('vm.*,*')).toEqual(['vm.*', '*']);
  });

  it('matches exact names and * globs only', () => {
    const m = eventMatcher(['vm.state', 'backup.*']);
    expect(m('vm.state')).toBe(true);
    expect(m('backup.created')).toBe(true);
    expect(m('backup.failed')).toBe(true);
    expect(m('vm.stateX')).toBe(false);
    expect(m('vm.crashed')).toBe(false);
    expect(m('vmxstate')).toBe(false); // the dot is literal
    expect(m('snapshot.created')).toBe(false);
    expect(eventMatcher(['*'])('daemon.started')).toBe(true);
    expect(eventMatcher(['vm.*'])('vm.disk-attached')).toBe(true);
    expect(eventMatcher(['*.created'])('volume.created')).toBe(true);
  });

  it('refuses names Hangar never publishes, bad characters and empty lists', () => {
    expect(refusal(['vm.statee']).message).toContain('matches no event');
    expect(refusal(['nope.*']).code).toBe('INVALID_SPEC');
    expect(refusal(['vm.state', 'VM.STATE']).message).toContain('not an event pattern');
    expect(refusal(['vm state']).code).toBe('INVALID_SPEC');
    expect(refusal(['(.*)']).code).toBe('INVALID_SPEC');
    expect(refusal([]).message).toContain('at least one');
    expect(refusal('').code).toBe('INVALID_SPEC');
    expect(refusal([42]).code).toBe('INVALID_SPEC');
    expect(refusal({}).code).toBe('INVALID_SPEC');
  });
});
