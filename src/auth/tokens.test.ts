import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/sqlite.js';
import { generateToken, hashSecret, parseDuration, parseToken, TokenService, verifySecret } from './tokens.js';

describe('token format, hash and verify', () => {
  it('is hgr_<12 hex id>_<43 base64url chars>, and parses back', () => {
    const t = generateToken();
    expect(t.token).toMatch(/^hgr_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(parseToken(t.token)).toEqual({ id: t.id, secret: t.secret });
    expect(Buffer.from(t.secret, 'base64url')).toHaveLength(32);
    expect(generateToken().token).not.toBe(t.token);
  });

  it('refuses anything else', () => {
    for (const bad of ['', 'hgr_', 'hgr_abc_def', `hgr_${'g'.repeat(12)}_${'a'.repeat(43)}`, `xyz_${'a'.repeat(12)}_${'a'.repeat(43)}`, `hgr_${'a'.repeat(12)}_${'a'.repeat(44)}`]) {
      expect(parseToken(bad), bad).toBeUndefined();
    }
  });

  it('stores SHA-256 of the secret and verifies in constant time', () => {
    const { secret } = generateToken();
    const h = hashSecret(secret);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(verifySecret(secret, h)).toBe(true);
    expect(verifySecret(`${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`, h)).toBe(false);
    expect(verifySecret(secret, 'abcd')).toBe(false);
  });

  it('parses durations', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('30d')).toBe(30 * 86_400_000);
    expect(parseDuration('2w')).toBe(14 * 86_400_000);
    for (const bad of ['0d', '30', 'd', '1y', '-1d', '1.5h']) expect(() => parseDuration(bad), bad).toThrow(/not a duration/);
  });
});

describe('TokenService', () => {
  let store: SqliteStore;
  let now = Date.parse('2030-01-01T00:00:00Z');
  const make = (checkProject?: (p: string) => Promise<void>) => {
    store = new SqliteStore(':memory:');
    return new TokenService(store, { now: () => now, ...(checkProject && { checkProject }) });
  };
  afterEach(async () => {
    await store?.close();
  });

  it('creates, authenticates, lists without secrets, and deletes by name or id', async () => {
    const s = make();
    const a = await s.create({ name: 'ci-bot', role: 'operator' });
    expect(a.token.startsWith(`hgr_${a.id}_`)).toBe(true);
    expect(await s.authenticate(a.token)).toEqual({ kind: 'token', role: 'operator', tokenId: a.id, tokenName: 'ci-bot' });
    const list = await s.list();
    expect(list).toHaveLength(1);
    expect(JSON.stringify(list)).not.toContain(a.token.slice(a.token.indexOf('_', 'hgr_'.length) + 1));
    expect(JSON.stringify(list)).not.toContain('hash');
    expect(list[0]!.lastUsedAt).toBeDefined();
    await expect(s.create({ name: 'ci-bot', role: 'viewer' })).rejects.toMatchObject({ code: 'TOKEN_EXISTS' });
    const b = await s.create({ name: 'other', role: 'viewer' });
    await s.delete('ci-bot');
    await s.delete(b.id);
    expect(await s.list()).toEqual([]);
    await expect(s.authenticate(a.token)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(s.delete('ci-bot')).rejects.toMatchObject({ code: 'TOKEN_NOT_FOUND' });
  });

  it('refuses a wrong secret, a malformed token, and a token of a deleted id', async () => {
    const s = make();
    const a = await s.create({ name: 'a', role: 'admin' });
    const wrong = `hgr_${a.id}_${'A'.repeat(43)}`;
    await expect(s.authenticate(wrong)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(s.authenticate('Bearer nonsense')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(s.authenticate(`hgr_000000000000_${'A'.repeat(43)}`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('expires tokens', async () => {
    const s = make();
    const t = await s.create({ name: 'short', role: 'viewer', expires: '1h' });
    expect(t.expiresAt).toBe('2030-01-01T01:00:00.000Z');
    now += 59 * 60_000;
    await expect(s.authenticate(t.token)).resolves.toMatchObject({ role: 'viewer' });
    now += 60_000;
    await expect(s.authenticate(t.token)).rejects.toMatchObject({ code: 'TOKEN_EXPIRED' });
    expect((await s.list())[0]!.expired).toBe(true);
  });

  it('validates names, roles and projects; admin tokens are never project-scoped', async () => {
    const s = make(async (p) => {
      if (p !== 'team-a') throw Object.assign(new Error('no'), { code: 'PROJECT_NOT_FOUND' });
    });
    await expect(s.create({ name: '1bad', role: 'viewer' })).rejects.toMatchObject({ code: 'INVALID_NAME' });
    await expect(s.create({ name: 'x', role: 'root' })).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    await expect(s.create({ name: 'x', role: 'admin', project: 'team-a' })).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    await expect(s.create({ name: 'x', role: 'viewer', project: 'nope' })).rejects.toMatchObject({ code: 'PROJECT_NOT_FOUND' });
    const t = await s.create({ name: 'x', role: 'operator', project: 'team-a' });
    expect(await s.authenticate(t.token)).toMatchObject({ role: 'operator', project: 'team-a' });
  });
});
