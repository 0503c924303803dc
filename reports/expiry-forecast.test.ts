/**
 * The monthly Expiry forecast: every open point with a date is in some month, those of a lot whose date
 * has passed (its night's expiry not run yet) in the first, as the next expire run takes them.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addDays } from '../lib/dates.js';
import { expiryForecast } from './monthly.js';
import type { OutstandingLots } from './queries.js';

describe('expiry forecast', () => {
  it('puts a lot past its date, still open, in the first month and tells it apart', () => {
    const lots: OutstandingLots[] = [
      { earned: '2026-04', expiresOn: '2026-05-20', points: 600 },
      { earned: '2026-05', expiresOn: '2026-06-30', points: 100 },
      { earned: '2026-05', expiresOn: '2026-08-31', points: 40 },
      { earned: '2026-05', expiresOn: null, points: 7 },
    ];
    const { rows, overdue } = expiryForecast(lots, '2026-05-31');
    expect(overdue).toBe(600);
    expect(rows[0]).toEqual({ label: expect.any(String), from: '2026-06-01', to: '2026-06-30', points: 700 });
    expect(rows[2]!.points).toBe(40);
    expect(rows.reduce((s, r) => s + r.points, 0)).toBe(740);
  });

  it('forecasts every dated point due within the twelve months, once', () => {
    const day = fc.integer({ min: -400, max: 400 }).map((n) => addDays('2026-05-31', n));
    const lot = fc.record({
      earned: fc.constant('2026-01'),
      expiresOn: fc.option(day, { nil: null }),
      points: fc.integer({ min: 1, max: 10_000 }),
    });
    fc.assert(
      fc.property(fc.array(lot, { maxLength: 30 }), (lots) => {
        const { rows, overdue } = expiryForecast(lots, '2026-05-31');
        const last = rows.at(-1)!.to;
        const due = lots.filter((l) => l.expiresOn !== null && l.expiresOn <= last);
        expect(rows.reduce((s, r) => s + r.points, 0)).toBe(due.reduce((s, l) => s + l.points, 0));
        expect(overdue).toBe(
          due.filter((l) => l.expiresOn! <= '2026-05-31').reduce((s, l) => s + l.points, 0),
        );
      }),
    );
  });
});
