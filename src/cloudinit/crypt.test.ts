import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashPassword, sha512Crypt, verifyPassword } from './crypt.js';

describe('sha512Crypt', () => {
  // Test vectors from Drepper's "Unix crypt using SHA-256 and SHA-512".
  it.each([
    ['Hello world!', 'saltstring', undefined, '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1'],
    ['Hello world!', 'saltstringsaltstring', 10000, '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.'],
    ['This is just a test', 'toolongsaltstring', 5000, '$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0'],
    ['a very much longer text to encrypt.  This one even stretches over morethan one line.', 'anotherlongsaltstring', 1400, '$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1'],
    ['we have a short salt string but not a short password', 'short', 77777, '$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0'],
    ['a short string', 'asaltof16chars..', 123456, '$6$rounds=123456$asaltof16chars..$BtCwjqMJGx5hrJhZywWvt0RLE8uZ4oPwcelCjmw2kSYu.Ec6ycULevoBK25fs2xXgMNrCzIMVcgEJAstJeonj1'],
    ['the minimum number is still observed', 'roundstoolow', 10, '$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX.'],
  ])('%s / %s / %s', (pw, salt, rounds, expected) => {
    expect(sha512Crypt(pw, salt, rounds)).toBe(expected);
  });

  it('agrees with openssl passwd -6 (password on stdin)', () => {
    for (const [pw, salt] of [['correct horse battery staple', 'abcdefgh'], ['pässwörd ✓', 'Zx9./Q']]) {
      const out = execFileSync('openssl', ['passwd', '-6', '-salt', salt as string, '-stdin'], { input: `${pw}\n` }).toString().trim();
      expect(sha512Crypt(pw as string, salt as string)).toBe(out);
    }
  });
});

describe('hashPassword', () => {
  it('makes a $6$ hash with a random 16-character salt that verifies', async () => {
    const h = await hashPassword('s3cret pass');
    expect(h).toMatch(/^\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$/);
    expect(verifyPassword('s3cret pass', h)).toBe(true);
    expect(verifyPassword('s3cret pasS', h)).toBe(false);
    expect(await hashPassword('s3cret pass')).not.toBe(h);
  });

  it('is what openssl computes for the same salt', async () => {
    const h = await hashPassword('hunter2');
    const salt = h.split('$')[2] as string;
    const out = execFileSync('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], { input: 'hunter2\n' }).toString().trim();
    expect(h).toBe(out);
  });

  it('refuses empty, NUL-containing and over-long passwords', async () => {
    await expect(hashPassword('')).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    await expect(hashPassword('a\0b')).rejects.toMatchObject({ code: 'INVALID_SPEC', message: /NUL/ });
    await expect(hashPassword('x'.repeat(5000))).rejects.toMatchObject({ code: 'INVALID_SPEC', message: /longer than/ });
  });

  it('verifies whatever it hashed (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), fc.stringMatching(/^[./0-9A-Za-z]{0,16}$/), (pw, salt) => {
        expect(verifyPassword(pw, sha512Crypt(pw, salt))).toBe(true);
      }),
      { numRuns: 8 },
    );
  });
});
