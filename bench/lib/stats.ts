/** Summary statistics for benchmark samples (milliseconds, bytes, anything numeric). */

export interface Summary {
  n: number;
  median: number;
  p10: number;
  p90: number;
  min: number;
  max: number;
  mean: number;
}

/** Linear-interpolated percentile (q in 0..1) of already sorted values. */
export function percentileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (pos - lo);
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { n: 0, median: Number.NaN, p10: Number.NaN, p90: Number.NaN, min: Number.NaN, max: Number.NaN, mean: Number.NaN };
  return {
    n,
    median: percentileSorted(sorted, 0.5),
    p10: percentileSorted(sorted, 0.1),
    p90: percentileSorted(sorted, 0.9),
    min: sorted[0]!,
    max: sorted[n - 1]!,
    mean: sorted.reduce((s, x) => s + x, 0) / n,
  };
}

export function median(samples: readonly number[]): number {
  return summarize(samples).median;
}

/** A number with a sensible precision for milliseconds. */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  if (Math.abs(ms) >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (Math.abs(ms) >= 100) return `${ms.toFixed(0)} ms`;
  if (Math.abs(ms) >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

export function fmtMiB(bytes: number): string {
  if (!Number.isFinite(bytes)) return '–';
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/**
 * The spread shown next to a median: p10–p90 when there are enough samples for those
 * to mean something (n ≥ 10), otherwise min–max.
 */
export function fmtSpread(s: Summary, fmt: (x: number) => string = fmtMs): string {
  if (s.n === 0) return '–';
  if (s.n >= 10) return `${fmt(s.p10)} – ${fmt(s.p90)} (p10–p90)`;
  return `${fmt(s.min)} – ${fmt(s.max)} (min–max)`;
}

export function fmtRatio(a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '–';
  return `${(a / b).toFixed(2)}×`;
}
