/** Dotted version numbers ("7.2.22"), compared number by number; a missing part counts as 0. */

export function versionParts(v: string | readonly number[]): number[] {
  return typeof v === 'string' ? v.split('.').map((x) => Number.parseInt(x, 10) || 0) : [...v];
}

/** Negative if a < b, 0 if equal, positive if a > b: `compareVersions('7.2.22', [7, 0]) > 0`. */
export function compareVersions(a: string | readonly number[], b: string | readonly number[]): number {
  const pa = versionParts(a);
  const pb = versionParts(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
