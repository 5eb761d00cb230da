/**
 * What of a request the audit log may keep: secrets replaced by a marker, long strings cut,
 * deep structures bounded. Pure.
 */

export const REDACTED = '[REDACTED]';

/**
 * Keys whose values are secrets or may hold them: passwords and their hashes, tokens, keys
 * that are private, credentials, and cloud-init user-data (free-form: it may set passwords).
 * Public SSH keys (`sshKeys`) are kept.
 */
const SECRET_KEY = /(pass(word|wd|phrase)|secret|token|credential|private_?key|api_?key|authorization|cookie|user_?data|^auth$)/i;

/** `https://user:password@host/…`: the credentials part of a URL (e.g. an image import's). */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

export interface RedactOptions {
  /** Strings longer than this keep their head and say how long they were (default 1024). */
  maxString?: number;
  /** Nesting below this depth is replaced by a marker (default 8). */
  maxDepth?: number;
  /** Arrays keep this many items (default 100). */
  maxItems?: number;
}

/** A copy of `value` safe to store: secrets redacted, sizes bounded. */
export function redact(value: unknown, opts: RedactOptions = {}): unknown {
  const maxString = opts.maxString ?? 1024;
  const maxDepth = opts.maxDepth ?? 8;
  const maxItems = opts.maxItems ?? 100;
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') {
      const s = v.replace(URL_CREDENTIALS, `$1${REDACTED}@`);
      return s.length > maxString ? `${s.slice(0, maxString)}…[${s.length} chars]` : s;
    }
    if (v === null || typeof v !== 'object') return v;
    if (depth >= maxDepth) return '[…]';
    if (Array.isArray(v)) {
      const items = v.slice(0, maxItems).map((x) => walk(x, depth + 1));
      if (v.length > maxItems) items.push(`…[${v.length - maxItems} more]`);
      return items;
    }
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      out[k] = isSecretKey(k) && x !== null && x !== undefined ? REDACTED : walk(x, depth + 1);
    }
    return out;
  };
  return walk(value, 0);
}
