import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addDays } from '../lib/dates.js';
import { checkWindow, waitsForItsNight } from './eligibility.js';

describe('an activity dated after the night being processed', () => {
  it('waits for its own night when its file came in on its date or the day before', () => {
    // The night of 2 June caught up on the 5th: the 3rd and 4th are the nights after it.
    expect(waitsForItsNight('2026-06-03', '2026-06-02', '2026-06-05')).toBe(true);
    expect(waitsForItsNight('2026-06-05', '2026-06-02', '2026-06-05')).toBe(true);
    // A local date ahead of UTC: the morning after the day the file came in.
    expect(waitsForItsNight('2026-06-06', '2026-06-02', '2026-06-05')).toBe(true);
    // Two days after the file came in no file could carry it: FUTURE_DATE.
    expect(waitsForItsNight('2026-06-07', '2026-06-02', '2026-06-05')).toBe(false);
    expect(checkWindow('2026-06-07', '2026-06-02', 365, '2026-06-05')).toMatchObject({
      reason: 'FUTURE_DATE',
      field: 'activity_date',
      message:
        'activity date 2026-06-07 is after the processing date 2026-06-02 and more than a day after its file came in (2026-06-05)',
    });
    // On or before its night it is decided there and then.
    expect(waitsForItsNight('2026-06-02', '2026-06-02', '2026-06-05')).toBe(false);
    expect(waitsForItsNight('2026-06-01', '2026-06-02', '2026-06-05')).toBe(false);
  });

  const day = fc.integer({ min: 0, max: 3650 }).map((n) => addDays('2020-01-01', n));

  it('is never kept past the night of its date: the night that reaches the date decides it', () => {
    fc.assert(
      fc.property(day, fc.integer({ min: -5, max: 5 }), day, (night, ahead, received) => {
        const date = addDays(night, ahead);
        if (waitsForItsNight(date, night, received)) {
          expect(date > night).toBe(true);
          expect(date <= addDays(received, 1)).toBe(true);
          for (let later = addDays(night, 1); later <= date; later = addDays(later, 1))
            expect(waitsForItsNight(date, later, received)).toBe(later < date);
        }
      }),
    );
  });
});
