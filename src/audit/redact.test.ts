import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REDACTED, isSecretKey, redact } from './redact.js';

describe('redact', () => {
  it('replaces secrets at any depth and keeps everything else', () => {
    const body = {
      name: 'web2', memory: '512M', forwards: ['tcp:127.0.0.1:2222:22'],
      cloudInit: { user: 'alice', passwordHash: '$6$salt$hash', sshKeys: ['ssh-ed25519 AAAA alice'], userData: '#cloud-config\nchpasswd: {list: "root:x"}' },
      auth: { token: 'abc', apiKey: 'k', client_secret: 's', password: 'p', private_key: 'pk' },
      nested: [{ Authorization: 'Bearer x', ok: 1 }],
    };
    expect(redact(body)).toEqual({
      name: 'web2', memory: '512M', forwards: ['tcp:127.0.0.1:2222:22'],
      cloudInit: { user: 'alice', passwordHash: REDACTED, sshKeys: ['ssh-ed25519 AAAA alice'], userData: REDACTED },
      auth: REDACTED,
      nested: [{ Authorization: REDACTED, ok: 1 }],
    });
    // The input is not changed.
    expect(body.cloudInit.passwordHash).toBe('$6$salt$hash');
  });

  it('knows which keys are secret', () => {
    for (const k of ['password', 'passwordHash', 'Passwd', 'passphrase', 'token', 'refreshToken', 'secret', 'apiKey', 'api_key', 'privateKey', 'credentials', 'cookie', 'userData', 'user_data', 'auth']) expect(isSecretKey(k), k).toBe(true);
    for (const k of ['name', 'sshKeys', 'key', 'user', 'memory', 'passthrough', 'author', 'networkConfig', 'keys']) expect(isSecretKey(k), k).toBe(false);
  });

  it('removes credentials from URLs', () => {
    expect(redact({ url: 'https://bob:hunter2@images.example.com/disk.qcow2', other: 'see http://a@b/ and ftp://x:y@z/f' })).toEqual({
      url: 'https://[REDACTED]@images.example.com/disk.qcow2', other: 'see http://[REDACTED]@b/ and ftp://[REDACTED]@z/f',
    });
    expect(redact({ url: 'https://images.example.com/disk.qcow2' })).toEqual({ url: 'https://images.example.com/disk.qcow2' });
  });

  it('keeps null secrets as null (nothing to hide) and bounds sizes', () => {
    expect(redact({ token: null, password: undefined })).toEqual({ token: null, password: undefined });
    const long = 'x'.repeat(5000);
    expect(redact({ s: long }, { maxString: 10 })).toEqual({ s: `${'x'.repeat(10)}…[5000 chars]` });
    expect(redact({ a: [1, 2, 3, 4] }, { maxItems: 2 })).toEqual({ a: [1, 2, '…[2 more]'] });
    expect(redact({ a: { b: { c: 1 } } }, { maxDepth: 2 })).toEqual({ a: { b: '[…]' } });
  });

  it('never lets a secret value through, whatever the shape', () => {
    const SECRET = 'S3CRET-VALUE-🔑';
    const secretKey = fc.constantFrom('password', 'passwordHash', 'token', 'secret', 'userData', 'apiKey');
    const tree = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        fc.string(),
        fc.integer(),
        fc.array(tie('node'), { maxLength: 3 }),
        fc.dictionary(fc.string().filter((k) => !isSecretKey(k)), tie('node'), { maxKeys: 3 }),
        fc.tuple(secretKey, tie('node')).map(([k, v]) => ({ [k]: SECRET, other: v })),
      ),
    }));
    fc.assert(fc.property(tree.node, (t) => {
      expect(JSON.stringify(redact(t, { maxDepth: 50 }))).not.toContain('S3CRET');
    }));
  });
});
