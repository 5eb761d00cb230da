/**
 * SHA-512 crypt (`$6$…`), the scheme glibc's crypt(3), `openssl passwd -6` and `mkpasswd -m
 * sha-512` produce and that Debian's shadow accepts, implemented from Ulrich Drepper's
 * specification ("Unix crypt using SHA-256 and SHA-512", 2007) with node:crypto's SHA-512.
 *
 * Done in TypeScript rather than by running a tool so that the password never leaves this
 * process (no argv, no pipe) and any byte sequence can be hashed.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { HangarError } from '../errors/errors.js';

const ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const ROUNDS_DEFAULT = 5000;
const ROUNDS_MIN = 1000;
const ROUNDS_MAX = 999_999_999;
const SALT_MAX = 16;
/** Longest password accepted (bytes, UTF-8). The work is linear in its length. */
export const PASSWORD_MAX_BYTES = 4096;

/** Byte order of the final encoding (from the specification), three bytes per 4 characters. */
const ORDER: Array<[number, number, number]> = [
  [0, 21, 42], [22, 43, 1], [44, 2, 23], [3, 24, 45], [25, 46, 4], [47, 5, 26], [6, 27, 48],
  [28, 49, 7], [50, 8, 29], [9, 30, 51], [31, 52, 10], [53, 11, 32], [12, 33, 54], [34, 55, 13],
  [56, 14, 35], [15, 36, 57], [37, 58, 16], [59, 17, 38], [18, 39, 60], [40, 61, 19], [62, 20, 41],
];

function sha512(...parts: Buffer[]): Buffer {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** `len` bytes made of `block` repeated (the last copy truncated). */
function repeatTo(block: Buffer, len: number): Buffer {
  const out = Buffer.alloc(len);
  for (let o = 0; o < len; o += block.length) block.copy(out, o, 0, Math.min(block.length, len - o));
  return out;
}

function b64From24(b2: number, b1: number, b0: number, n: number): string {
  let w = (b2 << 16) | (b1 << 8) | b0;
  let s = '';
  for (let i = 0; i < n; i++) {
    s += ALPHABET[w & 0x3f];
    w >>>= 6;
  }
  return s;
}

/**
 * The raw SHA-512 crypt algorithm. `salt` is used up to its first 16 bytes; `rounds`
 * undefined means the default 5000 (and no `rounds=` in the output, as glibc does).
 */
export function sha512Crypt(password: string | Buffer, salt: string, rounds?: number): string {
  const p = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  const s = Buffer.from(salt, 'utf8').subarray(0, SALT_MAX);
  const r = rounds === undefined ? ROUNDS_DEFAULT : Math.min(ROUNDS_MAX, Math.max(ROUNDS_MIN, Math.floor(rounds)));

  const b = sha512(p, s, p);
  const aParts: Buffer[] = [p, s, repeatTo(b, p.length)];
  for (let n = p.length; n > 0; n >>>= 1) aParts.push(n & 1 ? b : p);
  const a = sha512(...aParts);

  const dp = sha512(...new Array<Buffer>(p.length).fill(p));
  const pBytes = repeatTo(dp, p.length);
  const ds = sha512(...new Array<Buffer>(16 + (a[0] as number)).fill(s));
  const sBytes = repeatTo(ds, s.length);

  let c = a;
  for (let i = 0; i < r; i++) {
    const h = createHash('sha512');
    h.update(i & 1 ? pBytes : c);
    if (i % 3) h.update(sBytes);
    if (i % 7) h.update(pBytes);
    h.update(i & 1 ? c : pBytes);
    c = h.digest();
  }

  let enc = '';
  for (const [x, y, z] of ORDER) enc += b64From24(c[x] as number, c[y] as number, c[z] as number, 4);
  enc += b64From24(0, 0, c[63] as number, 2);
  const roundsPart = rounds === undefined ? '' : `rounds=${r}$`;
  return `$6$${roundsPart}${s.toString('utf8')}$${enc}`;
}

/** A random 16-character salt from the crypt alphabet. */
export function randomSalt(): string {
  const bytes = randomBytes(SALT_MAX);
  let s = '';
  for (const byte of bytes) s += ALPHABET[byte & 0x3f];
  return s;
}

/**
 * Hash a password for /etc/shadow (cloud-init's `passwd:`): SHA-512 crypt with a random
 * salt and the default 5000 rounds. Refuses an empty password, one longer than 4 KiB, and
 * one with a NUL byte (crypt(3) would cut it there).
 */
export async function hashPassword(plain: string): Promise<string> {
  if (typeof plain !== 'string' || plain.length === 0) throw invalid('password must not be empty');
  if (plain.includes('\0')) throw invalid('password must not contain a NUL character');
  if (Buffer.byteLength(plain, 'utf8') > PASSWORD_MAX_BYTES) throw invalid(`password is longer than ${PASSWORD_MAX_BYTES} bytes`);
  return sha512Crypt(plain, randomSalt());
}

const SHA512_CRYPT_RE = /^\$6\$(?:rounds=(\d{1,9})\$)?([^$:\n]{0,16})\$([./0-9A-Za-z]{86})$/;

/** Whether `plain` matches a `$6$` hash (constant-time comparison). Other schemes: false. */
export function verifyPassword(plain: string, hash: string): boolean {
  const m = SHA512_CRYPT_RE.exec(hash);
  if (!m) return false;
  const computed = sha512Crypt(plain, m[2] ?? '', m[1] === undefined ? undefined : Number(m[1]));
  const a = Buffer.from(computed);
  const b = Buffer.from(hash);
  return a.length === b.length && timingSafeEqual(a, b);
}

function invalid(message: string): HangarError {
  return new HangarError('INVALID_SPEC', message);
}
