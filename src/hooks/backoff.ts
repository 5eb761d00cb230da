/**
 * The wait before a failed webhook delivery is tried again: exponential (1 s, 2 s, 4 s…)
 * up to a cap (60 s), plus up to 20 % jitter so that many hooks failing together do not
 * retry in step.
 */
export interface BackoffOptions {
  baseMs?: number;
  capMs?: number;
  /** The share of the delay added at random, 0..1 (default 0.2). */
  jitter?: number;
  /** A number in [0, 1) (default Math.random): injectable for tests. */
  random?: () => number;
}

export const DEFAULT_BACKOFF = { baseMs: 1000, capMs: 60_000, jitter: 0.2 } as const;

/** The delay after the `failures`-th consecutive failure (1 for the first). */
export function backoffMs(failures: number, opts: BackoffOptions = {}): number {
  const base = opts.baseMs ?? DEFAULT_BACKOFF.baseMs;
  const cap = opts.capMs ?? DEFAULT_BACKOFF.capMs;
  const jitter = opts.jitter ?? DEFAULT_BACKOFF.jitter;
  const random = opts.random ?? Math.random;
  const n = Math.max(1, Math.floor(failures));
  // 2 ** 30 is beyond any cap: no overflow to Infinity for a hook failing for days.
  const delay = Math.min(cap, base * 2 ** Math.min(n - 1, 30));
  return Math.round(delay + delay * jitter * random());
}
