import { describe, expect, it } from 'vitest';
import { backoffMs } from './backoff.js';

describe('webhook retry back-off', () => {
  it('doubles from 1 s up to the 60 s cap without jitter', () => {
    const none = { random: () => 0 };
    expect([1, 2, 3, 4, 5, 6, 7, 8, 100, 10_000].map((n) => backoffMs(n, none))).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000, 60_000]);
    expect(backoffMs(0, none)).toBe(1000);
  });

  it('adds up to 20 % jitter', () => {
    expect(backoffMs(1, { random: () => 0.999 })).toBe(1200);
    expect(backoffMs(7, { random: () => 0.5 })).toBe(66_000);
    for (let i = 0; i < 100; i++) {
      const d = backoffMs(3);
      expect(d).toBeGreaterThanOrEqual(4000);
      expect(d).toBeLessThanOrEqual(4800);
    }
  });

  it('takes its own base and cap', () => {
    expect(backoffMs(3, { baseMs: 10, capMs: 25, random: () => 0 })).toBe(25);
  });
});
