/**
 * Join tokens: `cluster add NODE` on a member makes one, `cluster join TOKEN` on the new
 * host spends it. The token carries where the cluster is (etcd, prefix, id), the node name
 * it is for, a secret and its expiry; etcd keeps only the secret's hash, and joining
 * deletes it in the same transaction that checks it, so a token works once.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { HangarError } from '../errors/errors.js';

export interface JoinToken {
  clusterId: string;
  etcd: string[];
  prefix: string;
  node: string;
  secret: string;
  expiresAt: string;
  /** SHA-256 fingerprint of the cluster's certificate: what the joining node pins. */
  fingerprint?: string;
}

/** What etcd keeps of a token (`join-tokens/NODE`). */
export interface JoinTokenRecord {
  secretSha256: string;
  expiresAt: string;
  createdAt: string;
}

const PREFIX = 'hjt1.';
export const JOIN_TOKEN_LIFETIME_MS = 60 * 60 * 1000;

export function makeJoinToken(t: Omit<JoinToken, 'secret' | 'expiresAt'>, now = Date.now()): { token: string; parsed: JoinToken; record: JoinTokenRecord } {
  const parsed: JoinToken = { ...t, secret: randomBytes(24).toString('base64url'), expiresAt: new Date(now + JOIN_TOKEN_LIFETIME_MS).toISOString() };
  const body = { c: parsed.clusterId, e: parsed.etcd, p: parsed.prefix, n: parsed.node, s: parsed.secret, x: parsed.expiresAt, ...(parsed.fingerprint && { f: parsed.fingerprint }) };
  return {
    token: PREFIX + Buffer.from(JSON.stringify(body)).toString('base64url'),
    parsed,
    record: { secretSha256: sha256(parsed.secret), expiresAt: parsed.expiresAt, createdAt: new Date(now).toISOString() },
  };
}

export function parseJoinToken(token: unknown): JoinToken {
  const bad = () => new HangarError('INVALID_SPEC', 'That is not a join token: copy the whole hjt1.… line `hangar cluster add NODE` printed.', { details: { field: 'token' } });
  if (typeof token !== 'string' || !token.startsWith(PREFIX) || token.length > 4096) throw bad();
  let b: { c?: unknown; e?: unknown; p?: unknown; n?: unknown; s?: unknown; x?: unknown; f?: unknown };
  try {
    b = JSON.parse(Buffer.from(token.slice(PREFIX.length), 'base64url').toString('utf8')) as typeof b;
  } catch {
    throw bad();
  }
  const str = (v: unknown) => typeof v === 'string' && v !== '';
  if (!str(b.c) || !Array.isArray(b.e) || !b.e.every(str) || !str(b.p) || !str(b.n) || !str(b.s) || !str(b.x) || (b.f !== undefined && !str(b.f))) throw bad();
  return {
    clusterId: b.c as string, etcd: b.e as string[], prefix: b.p as string, node: b.n as string, secret: b.s as string, expiresAt: b.x as string,
    ...(b.f !== undefined && { fingerprint: b.f as string }),
  };
}

/** The token matches what etcd keeps, and has not expired. */
export function tokenMatches(t: JoinToken, r: JoinTokenRecord | undefined, now = Date.now()): boolean {
  if (!r || Date.parse(r.expiresAt) <= now || Date.parse(t.expiresAt) <= now) return false;
  const a = Buffer.from(sha256(t.secret), 'hex');
  const b = Buffer.from(r.secretSha256, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}
