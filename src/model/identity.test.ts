import { describe, expect, it } from 'vitest';
import { applyLabelEdits, isSmbiosUuid, matchesLabels, parseLabelEdit, parseLabels, parseLabelSelector, validateDescription, validateLabels } from './identity.js';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return 'none';
};

describe('VM identity rules', () => {
  it('knows a UUID', () => {
    expect(isSmbiosUuid('4a0f6c9e-2b1d-4c3e-9f8a-0123456789ab')).toBe(true);
    expect(isSmbiosUuid('4a0f6c9e-2b1d-4c3e-9f8a-0123456789ab\n')).toBe(false);
  });

  it('takes Kubernetes-like label keys and short printable values', () => {
    expect(parseLabels(['env=prod', 'team/app=web-1', 'a=', 'x.y_z=1'])).toEqual({ env: 'prod', 'team/app': 'web-1', a: '', 'x.y_z': '1' });
    expect(validateLabels({ k: 'v'.repeat(63) })).toEqual({ k: 'v'.repeat(63) });
  });

  it('refuses bad keys and values with INVALID_SPEC', () => {
    for (const bad of ['Env=prod', '-env=x', 'env-=x', '=x', 'a b=c', `${'k'.repeat(64)}=v`, `k=${'v'.repeat(64)}`, 'k=a\nb', 'noequals']) {
      expect(code(() => parseLabels([bad])), bad).toBe('INVALID_SPEC');
    }
    expect(code(() => parseLabels(['env-']))).toBe('INVALID_SPEC');
    expect(code(() => validateDescription('a\u0000b'))).toBe('INVALID_SPEC');
    expect(validateDescription('two\nlines\tok')).toBe('two\nlines\tok');
  });

  it('applies k=v and k- edits, and drops an empty set', () => {
    const edits = ['env=prod', 'tier=web'].map(parseLabelEdit);
    const l = applyLabelEdits({ old: '1' }, edits);
    expect(l).toEqual({ old: '1', env: 'prod', tier: 'web' });
    expect(applyLabelEdits(l, ['old-', 'env-', 'tier-'].map(parseLabelEdit))).toBeUndefined();
  });

  it('filters by every selector (k=v or k alone)', () => {
    const sel = parseLabelSelector(['env=prod', 'tier']);
    expect(matchesLabels({ env: 'prod', tier: 'x' }, sel)).toBe(true);
    expect(matchesLabels({ env: 'dev', tier: 'x' }, sel)).toBe(false);
    expect(matchesLabels({ env: 'prod' }, sel)).toBe(false);
    expect(matchesLabels(undefined, sel)).toBe(false);
    expect(matchesLabels(undefined, [])).toBe(true);
  });
});
