/** Markdown helpers for the Hangar-vs-libvirt tables: median with spread in one cell, and Hangar / other ratios. */
import { fmtMs, fmtRatio, summarize, type Summary } from './stats.js';

/** "median (lo – hi)": p10–p90 from 10 samples on, else min–max; "–" without samples. */
export function cell(samples: readonly number[], fmt: (x: number) => string = fmtMs): string {
  const s = summarize(samples);
  if (s.n === 0) return '–';
  if (s.n === 1) return fmt(s.median);
  const [lo, hi] = s.n >= 10 ? [s.p10, s.p90] : [s.min, s.max];
  return `${fmt(s.median)} (${fmt(lo)} – ${fmt(hi)})`;
}

export function med(samples: readonly number[]): number {
  return summarize(samples).median;
}

export function sum(samples: readonly number[]): Summary {
  return summarize(samples);
}

/** Hangar / other for medians ("–" when either is missing). */
export function ratio(hangar: readonly number[], other: readonly number[]): string {
  return fmtRatio(med(hangar), med(other));
}

export const SPREAD_NOTE = 'Cells: median (p10 – p90) when n ≥ 10, else median (min – max).';

export function fmtRate(x: number): string {
  if (!Number.isFinite(x)) return '–';
  return x >= 100 ? x.toFixed(0) : x.toFixed(2);
}

/** Percent of one CPU; 0 means no 10 ms tick was charged in the window. */
export function fmtPct(x: number): string {
  if (!Number.isFinite(x)) return '–';
  return x === 0 ? '0 (< 1 tick)' : `${x.toFixed(2)} %`;
}
