import { describe, expect, it } from 'vitest';
import { addTo } from './multimap.js';

describe('addTo', () => {
  it('keeps each key’s values in the order they were added, under one list per key', () => {
    const m = new Map<string, number[]>();
    addTo(m, 'a', 1);
    addTo(m, 'b', 2);
    addTo(m, 'a', 3);
    expect([...m]).toEqual([
      ['a', [1, 3]],
      ['b', [2]],
    ]);
  });
});
