import { afterEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { addDays, addMonths, dateInZone, latestDueBy, parseIsoInstant } from './dates.js';

describe('dateInZone', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('gives the calendar date of an instant in the zone', () => {
    const lateEvening = new Date('2024-05-28T21:30:00Z');
    expect(dateInZone(lateEvening, 'UTC')).toBe('2024-05-28');
    expect(dateInZone(lateEvening, 'Europe/Moscow')).toBe('2024-05-29');
    expect(dateInZone(lateEvening, 'America/New_York')).toBe('2024-05-28');
    expect(dateInZone(new Date('2024-01-01T04:59:59Z'), 'America/New_York')).toBe('2023-12-31');
    expect(dateInZone(new Date('2024-01-01T05:00:00Z'), 'America/New_York')).toBe('2024-01-01');
    // Daylight saving: midnight in New York is 04:00Z in summer, 05:00Z in winter.
    expect(dateInZone(new Date('2024-07-04T03:59:59Z'), 'America/New_York')).toBe('2024-07-03');
    expect(dateInZone(new Date('2024-07-04T04:00:00Z'), 'America/New_York')).toBe('2024-07-04');
    expect(dateInZone(new Date('2024-02-29T12:00:00Z'), 'Asia/Kamchatka')).toBe('2024-03-01');
  });

  it('answers the same whichever zones were asked before', () => {
    const instants = Array.from({ length: 50 }, (_, k) => new Date(Date.UTC(2024, 0, 1) + k * 7_777_777_777));
    const zones = ['UTC', 'Europe/Moscow', 'America/Los_Angeles', 'Asia/Tokyo', 'Europe/Moscow'];
    const expected = (at: Date, timeZone: string) => {
      const parts = new Intl.DateTimeFormat('en-CA', {
        timeZone,
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
      }).formatToParts(at);
      const get = (type: string) => parts.find((p) => p.type === type)!.value;
      return `${get('year')}-${get('month')}-${get('day')}`;
    };
    for (const at of instants)
      for (const zone of zones) expect(dateInZone(at, zone)).toBe(expected(at, zone));
  });

  it('builds one formatter per zone, not one per call', () => {
    const Real = Intl.DateTimeFormat;
    let built = 0;
    vi.spyOn(Intl, 'DateTimeFormat').mockImplementation(function (
      this: unknown,
      ...args: ConstructorParameters<typeof Intl.DateTimeFormat>
    ) {
      built++;
      return new Real(...args);
    } as unknown as typeof Intl.DateTimeFormat);
    const zone = 'Pacific/Chatham'; // a zone no other test asks for
    for (let k = 0; k < 1000; k++) dateInZone(new Date(Date.UTC(2024, 0, 1) + k * 3_600_000), zone);
    expect(built).toBe(1);
  });

  it('refuses an unknown zone each time, as Intl does', () => {
    expect(() => dateInZone(new Date(0), 'Mars/Olympus_Mons')).toThrow(RangeError);
    expect(() => dateInZone(new Date(0), 'Mars/Olympus_Mons')).toThrow(RangeError);
    expect(dateInZone(new Date(0), 'UTC')).toBe('1970-01-01');
  });
});

describe('latestDueBy', () => {
  it('is the last day whose date N months on has come, month ends included', () => {
    // 28 to 31 August 2024 are all due 18 months on, on 28 February 2026.
    expect(latestDueBy('2026-02-28', 18)).toBe('2024-08-31');
    expect(latestDueBy('2026-02-27', 18)).toBe('2024-08-27');
    expect(latestDueBy('2026-03-01', 18)).toBe('2024-09-01');
    expect(latestDueBy('2028-02-29', 12)).toBe('2027-02-28');
  });

  it('inverts addMonths: a day is due by D exactly when it is on or before latestDueBy(D)', () => {
    const day = fc.integer({ min: 0, max: 365 * 30 }).map((n) => addDays('2010-01-01', n));
    fc.assert(
      fc.property(day, fc.integer({ min: 1, max: 48 }), (date, months) => {
        const last = latestDueBy(date, months);
        expect(addMonths(last, months) <= date).toBe(true);
        expect(addMonths(addDays(last, 1), months) > date).toBe(true);
      }),
    );
  });
});

describe('parseIsoInstant', () => {
  it('reads an ISO 8601 instant with its offset, and nothing looser', () => {
    for (const [value, iso] of [
      ['2026-06-05T02:30Z', '2026-06-05T02:30:00.000Z'],
      ['2026-06-05T02:30:00.123Z', '2026-06-05T02:30:00.123Z'],
      ['2026-06-05T02:30+03', '2026-06-04T23:30:00.000Z'],
      ['2026-06-05T02:30+0300', '2026-06-04T23:30:00.000Z'],
      ['2026-06-05T02:30:00-01:30', '2026-06-05T04:00:00.000Z'],
    ] as const)
      expect(parseIsoInstant(value)?.toISOString(), value).toBe(iso);
    for (const value of [
      '2026-06-05T02:30',
      '2026-06-05 02:30Z',
      '2026-02-30T02:30Z',
      '2026-06-05T24:00Z',
      'Fri Jun 05 2026 02:30:00 GMT+0300',
    ])
      expect(parseIsoInstant(value), value).toBeUndefined();
  });

  it('gives back the instant of any date written out in ISO form', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('1970-01-01T00:00:00Z'),
          max: new Date('2999-12-31T23:59:59Z'),
          noInvalidDate: true,
        }),
        (d) => {
          expect(parseIsoInstant(d.toISOString())?.getTime()).toBe(d.getTime());
        },
      ),
    );
  });
});
