import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chunks } from './chunks.js';

describe('chunks', () => {
  it('cuts a list into pieces of at most the size that put together give the list back', () => {
    fc.assert(
      fc.property(fc.array(fc.integer()), fc.integer({ min: 1, max: 50 }), (rows, size) => {
        const pieces = chunks(rows, size);
        expect(pieces.flat()).toEqual(rows);
        for (const piece of pieces) {
          expect(piece.length).toBeGreaterThan(0);
          expect(piece.length).toBeLessThanOrEqual(size);
        }
      }),
    );
  });

  it('gives no piece for no rows', () => {
    expect(chunks([], 500)).toEqual([]);
  });
});
