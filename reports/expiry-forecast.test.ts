/**
 * The monthly Expiry forecast: every open point with a date is in some month, those of a lot whose date
 * has passed (its night's expiry not run yet) in the first, as the next expire run takes them; an undated
 * lot (inactivity) in the month of the night the expire run takes it if its account earns nothing more.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addDays, addMonths, latestDueBy, type IsoDate } from '../lib/dates.js';
import { expiryForecast } from './monthly.js';
import type { OutstandingLots } from './queries.js';

/** A program that never had an inactivity rule: undated lots never expire. */
const noInactivity = { lots: [], dueBy: () => undefined };
/** The inactivity rule of 18 months, as `Program.inactivityDueBy` gives it. */
const after18 = (night: IsoDate) => latestDueBy(night, 18);

describe('expiry forecast', () => {
  it('puts a lot past its date, still open, in the first month and tells it apart', () => {
    const lots: OutstandingLots[] = [
      { earned: '2026-04', expiresOn: '2026-05-20', points: 600 },
      { earned: '2026-05', expiresOn: '2026-06-30', points: 100 },
      { earned: '2026-05', expiresOn: '2026-08-31', points: 40 },
      { earned: '2026-05', expiresOn: null, points: 7 },
    ];
    const { rows, overdue } = expiryForecast(lots, '2026-05-31', noInactivity);
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
        const { rows, overdue } = expiryForecast(lots, '2026-05-31', noInactivity);
        const last = rows.at(-1)!.to;
        const due = lots.filter((l) => l.expiresOn !== null && l.expiresOn <= last);
        expect(rows.reduce((s, r) => s + r.points, 0)).toBe(due.reduce((s, l) => s + l.points, 0));
        expect(overdue).toBe(
          due.filter((l) => l.expiresOn! <= '2026-05-31').reduce((s, l) => s + l.points, 0),
        );
      }),
    );
  });

  it('puts an undated lot in the month its account falls due, and one already due in the first', () => {
    const { rows, overdue, undated } = expiryForecast(
      [{ earned: '2026-03', expiresOn: null, points: 900 }],
      '2027-08-31',
      {
        lots: [
          { lastActive: '2026-03-10', points: 500 }, // due 10 September 2027
          { lastActive: '2026-02-28', points: 300 }, // due 28 August 2027, still open: overdue
          { lastActive: '2027-02-28', points: 70 }, // due 28 August 2028
          { lastActive: '2027-03-01', points: 40 }, // due 1 September 2028: after the twelve months
          { lastActive: null, points: 9 }, // a pool nobody kept alive: due on any night
        ],
        dueBy: after18,
      },
    );
    expect(rows[0]).toMatchObject({ from: '2027-09-01', to: '2027-09-30', points: 809 });
    expect(rows[11]).toMatchObject({ from: '2028-08-01', to: '2028-08-31', points: 70 });
    expect(rows.reduce((s, r) => s + r.points, 0)).toBe(879);
    expect(overdue).toBe(309);
    expect(undated).toBe(879);
  });

  it('takes an undated lot on the first night a rule taking it is in force', () => {
    // 18 months until 30 September 2026, then 12: an account last active on 15 August 2025 is due on
    // 1 October 2026 (not 15 February 2027), one last active on 15 March 2026 on 15 March 2027.
    const dueBy = (night: IsoDate) => latestDueBy(night, night < '2026-10-01' ? 18 : 12);
    const { rows, overdue } = expiryForecast([], '2026-05-31', {
      lots: [
        { lastActive: '2025-08-15', points: 100 },
        { lastActive: '2026-03-15', points: 20 },
      ],
      dueBy,
    });
    expect(overdue).toBe(0);
    expect(rows.map((r) => r.points)).toEqual([0, 0, 0, 0, 100, 0, 0, 0, 0, 20, 0, 0]);
    // No inactivity rule in force yet: nothing undated expires before it comes.
    const later = expiryForecast([], '2026-05-31', {
      lots: [{ lastActive: null, points: 5 }],
      dueBy: (night) => (night < '2026-08-01' ? undefined : latestDueBy(night, 18)),
    });
    expect(later.rows.map((r) => r.points)).toEqual([0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('places every undated point in the month of its due date, as the expire job takes it', () => {
    const day = fc.integer({ min: -1000, max: 0 }).map((n) => addDays('2026-05-31', n));
    const lot = fc.record({ lastActive: day, points: fc.integer({ min: 1, max: 10_000 }) });
    fc.assert(
      fc.property(fc.array(lot, { maxLength: 20 }), (lots) => {
        const { rows, overdue } = expiryForecast([], '2026-05-31', { lots, dueBy: after18 });
        for (const [i, r] of rows.entries()) {
          const due = lots.filter((l) => {
            // The night the expiry warning announces, which the expire job keeps.
            const on = addMonths(l.lastActive, 18);
            return (i === 0 && on <= r.to) || (r.from <= on && on <= r.to);
          });
          expect(r.points).toBe(due.reduce((s, l) => s + l.points, 0));
        }
        expect(overdue).toBe(
          lots.filter((l) => addMonths(l.lastActive, 18) <= '2026-05-31').reduce((s, l) => s + l.points, 0),
        );
      }),
    );
  });
});
