import { describe, expect, it } from 'vitest';
import { makeJoinToken, parseJoinToken, tokenMatches } from './join-token.js';

const base = { clusterId: 'c1', etcd: ['http://127.0.0.1:2379'], prefix: '/hangar/', node: 'n2' };

describe('join tokens', () => {
  it('round-trip, and match only their own secret before expiry', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    const t = makeJoinToken(base, now);
    const parsed = parseJoinToken(t.token);
    expect(parsed).toEqual(t.parsed);
    expect(tokenMatches(parsed, t.record, now + 1000)).toBe(true);
    expect(tokenMatches(parsed, t.record, now + 2 * 60 * 60 * 1000)).toBe(false);
    expect(tokenMatches({ ...parsed, secret: 'x' }, t.record, now)).toBe(false);
    expect(tokenMatches(parsed, undefined, now)).toBe(false);
    expect(t.record.secretSha256).not.toContain(parsed.secret);
  });

  it("carry the cluster certificate's fingerprint when there is one", () => {
    const t = makeJoinToken({ ...base, fingerprint: 'AB:CD' });
    expect(parseJoinToken(t.token).fingerprint).toBe('AB:CD');
    expect(parseJoinToken(makeJoinToken(base).token).fingerprint).toBeUndefined();
  });

  it('refuse what is not a token with INVALID_SPEC', () => {
    for (const bad of [undefined, 42, '', 'hjt1.', 'hjt1.!!!', `hjt1.${Buffer.from('{"c":1}').toString('base64url')}`, 'x'.repeat(5000)]) {
      expect(() => parseJoinToken(bad)).toThrow(expect.objectContaining({ code: 'INVALID_SPEC' }));
    }
  });
});
