import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { canonical, fingerprint } from './fingerprint.js';

describe('content fingerprints', () => {
  it('are stable: the same content always gives the same 16 hex digits', () => {
    expect(fingerprint('ACCRUAL|2026-11-26')).toBe(fingerprint('ACCRUAL|2026-11-26'));
    expect(fingerprint('x')).toMatch(/^[0-9a-f]{16}$/);
  });

  it('change with any single-character edit of a posting-sized text', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 200 }),
        fc.nat(),
        fc.integer({ min: 1, max: 0xffff }),
        (s, at, delta) => {
          const i = at % s.length;
          const changed =
            s.slice(0, i) + String.fromCharCode((s.charCodeAt(i) + delta) % 0x10000) + s.slice(i + 1);
          fc.pre(changed !== s);
          expect(fingerprint(changed)).not.toBe(fingerprint(s));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('do not collide over a million distinct posting keys', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1_000_000; i++) seen.add(fingerprint(`FLOWN:0012345${i}:1|1500|2029-11-30`));
    expect(seen.size).toBe(1_000_000);
  });

  it('canonical text cannot be imitated by moving a separator between fields', () => {
    expect(canonical(['a|b', 'c'])).not.toBe(canonical(['a', 'b|c']));
    expect(canonical(['12', '3'])).not.toBe(canonical(['1', '23']));
    expect(canonical([null, ''])).not.toBe(canonical(['', null]));
    fc.assert(
      fc.property(fc.array(fc.option(fc.string())), fc.array(fc.option(fc.string())), (x, y) => {
        fc.pre(JSON.stringify(x) !== JSON.stringify(y));
        expect(canonical(x)).not.toBe(canonical(y));
      }),
    );
  });
});
