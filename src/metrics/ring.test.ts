import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RingBuffer } from './ring.js';

describe('RingBuffer', () => {
  it('keeps the newest `capacity` items, oldest first', () => {
    const r = new RingBuffer<number>(3);
    expect(r.toArray()).toEqual([]);
    expect(r.last()).toBeUndefined();
    r.push(1);
    r.push(2);
    expect(r.toArray()).toEqual([1, 2]);
    r.push(3);
    r.push(4);
    r.push(5);
    expect(r.toArray()).toEqual([3, 4, 5]);
    expect(r.size).toBe(3);
    expect(r.last()).toBe(5);
    expect(r.at(0)).toBe(3);
    expect(r.at(3)).toBeUndefined();
    r.clear();
    expect(r.size).toBe(0);
    expect(r.toArray()).toEqual([]);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new RingBuffer(0)).toThrow(RangeError);
    expect(() => new RingBuffer(1.5)).toThrow(RangeError);
  });

  it('from() returns the items at or after a point, by binary search', () => {
    const r = new RingBuffer<number>(5);
    for (let i = 1; i <= 8; i++) r.push(i * 10); // holds 40..80
    expect(r.from((x) => x >= 55)).toEqual([60, 70, 80]);
    expect(r.from((x) => x >= 0)).toEqual([40, 50, 60, 70, 80]);
    expect(r.from((x) => x > 80)).toEqual([]);
  });

  it('behaves like "the last N of everything pushed"', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.array(fc.integer(), { maxLength: 100 }), fc.integer(), (cap, pushes, cut) => {
        const r = new RingBuffer<number>(cap);
        const sorted = [...pushes].sort((a, b) => a - b);
        for (const p of sorted) r.push(p);
        const expected = sorted.slice(-cap);
        expect(r.toArray()).toEqual(expected);
        expect(r.last()).toBe(expected.at(-1));
        expect(r.from((x) => x >= cut)).toEqual(expected.filter((x) => x >= cut));
      }),
    );
  });
});
