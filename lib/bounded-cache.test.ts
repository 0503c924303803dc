import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BoundedCache } from './bounded-cache.js';

describe('BoundedCache', () => {
  it('computes a value once and gives it back after', () => {
    const cache = new BoundedCache<string, number>(10);
    let calls = 0;
    const compute = (k: string) => {
      calls++;
      return k.length;
    };
    expect(cache.getOrCompute('IVANOV', compute)).toBe(6);
    expect(cache.getOrCompute('IVANOV', compute)).toBe(6);
    expect(calls).toBe(1);
  });

  it('never holds more than its limit, and always holds the last value set', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.integer({ min: 0, max: 50 })),
        (limit, keys) => {
          const cache = new BoundedCache<number, number>(limit);
          for (const k of keys) {
            cache.set(k, k * 2);
            expect(cache.size).toBeLessThanOrEqual(limit);
            expect(cache.get(k)).toBe(k * 2);
          }
        },
      ),
    );
  });
});
