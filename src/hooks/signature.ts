/**
 * The signature of a webhook delivery: `X-Hangar-Signature: sha256=<hex>`, the HMAC-SHA256
 * of the raw request body keyed with the hook's secret (as GitHub's X-Hub-Signature-256).
 * A receiver recomputes it over the bytes it received and compares in constant time.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-hangar-signature';

export function signBody(body: string | Buffer, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Whether `header` is the signature of `body` with `secret` (constant-time compare). */
export function verifySignature(body: string | Buffer, secret: string, header: string | undefined): boolean {
  if (typeof header !== 'string') return false;
  const expected = Buffer.from(signBody(body, secret));
  const got = Buffer.from(header);
  return got.length === expected.length && timingSafeEqual(got, expected);
}
