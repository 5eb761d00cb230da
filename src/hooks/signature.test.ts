import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signBody, verifySignature } from './signature.js';

describe('webhook signatures', () => {
  it('is sha256=<hex HMAC-SHA256 of the raw body>', () => {
    const body = '{"id":"7","type":"vm.state"}';
    const hex = createHmac('sha256', 's3cret').update(body).digest('hex');
    expect(signBody(body, 's3cret')).toBe(`sha256=${hex}`);
    // A known vector (RFC 4231 style check with a fixed key and message).
    expect(signBody('The quick brown fox jumps over the lazy dog', 'key')).toBe('sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8');
  });

  it('verifies only the same body with the same secret', () => {
    const body = Buffer.from('{"a":1}');
    const sig = signBody(body, 'k');
    expect(verifySignature(body, 'k', sig)).toBe(true);
    expect(verifySignature('{"a":2}', 'k', sig)).toBe(false);
    expect(verifySignature(body, 'other', sig)).toBe(false);
    expect(verifySignature(body, 'k', undefined)).toBe(false);
    expect(verifySignature(body, 'k', sig.slice(0, -1))).toBe(false);
  });
});
