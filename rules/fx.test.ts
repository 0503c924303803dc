import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decimal } from 'decimal.js';
import { CURRENCY_CODES, minorUnitExponent } from '../lib/money.js';
import { addDays, weekday } from '../lib/dates.js';
import { type FxConversion, FxTable, isTargetDay, lastTargetDayOnOrBefore } from './fx.js';

// The illustrative rates of formats/fx-rates.md, published on Thursday 2026-11-26, and a Friday.
const table = new FxTable([
  { date: '2026-11-26', currency: 'USD', rate: '1.0479' },
  { date: '2026-11-26', currency: 'CHF', rate: '0.9312' },
  { date: '2026-11-26', currency: 'GBP', rate: '0.8345' },
  { date: '2026-11-26', currency: 'JPY', rate: '162.5' },
  { date: '2026-11-26', currency: 'KWD', rate: '0.3215' },
  { date: '2026-11-27', currency: 'USD', rate: '1.05' },
  { date: '2026-11-27', currency: 'GBP', rate: '0.84' },
]);

function amountOf(result: FxConversion): string {
  if (!result.ok) throw new Error(`expected a conversion, got ${result.message}`);
  return result.amount.toFixed();
}

describe('converting partner spend', () => {
  it('converts euros at the published rate', () => {
    expect(amountOf(table.convert('100', 'EUR', 'USD', '2026-11-26', 0))).toBe('104.79');
    expect(amountOf(table.convert('100', 'EUR', 'JPY', '2026-11-26', 0))).toBe('16250');
    expect(amountOf(table.convert('10', 'EUR', 'KWD', '2026-11-26', 0))).toBe('3.215');
  });

  it('converts into euros by dividing by the rate, rounded to the cent', () => {
    // 100 / 1.0479 = 95.42895…
    expect(amountOf(table.convert('100', 'USD', 'EUR', '2026-11-26', 0))).toBe('95.43');
    // 1000 / 162.5 = 6.1538…
    expect(amountOf(table.convert('1000', 'JPY', 'EUR', '2026-11-26', 0))).toBe('6.15');
  });

  it('crosses two non-euro currencies through the euro with a single rounding', () => {
    // 1000 × 0.8345 / 1.0479 = 796.3546…; rounding the euro leg first (954.29 EUR) would give 796.36.
    expect(amountOf(table.convert('1000.00', 'USD', 'GBP', '2026-11-26', 0))).toBe('796.35');
    expect(amountOf(table.convert('100', 'USD', 'GBP', '2026-11-26', 0))).toBe('79.64');
  });

  it('rounds to the target currency minor unit: whole yen, thousandths of a dinar', () => {
    // 12.34 × 162.5 / 1.0479 = 1913.59…
    expect(amountOf(table.convert('12.34', 'USD', 'JPY', '2026-11-26', 0))).toBe('1914');
    // 250 × 0.3215 / 0.9312 = 86.3133…
    expect(amountOf(table.convert('250', 'CHF', 'KWD', '2026-11-26', 0))).toBe('86.313');
  });

  it('rounds an amount exactly half way to the even minor unit', () => {
    const even = new FxTable([{ date: '2026-11-26', currency: 'USD', rate: '2' }]);
    expect(amountOf(even.convert('0.0625', 'EUR', 'USD', '2026-11-26', 0))).toBe('0.12');
    expect(amountOf(even.convert('0.0675', 'EUR', 'USD', '2026-11-26', 0))).toBe('0.14');
    expect(amountOf(even.convert('-0.0625', 'EUR', 'USD', '2026-11-26', 0))).toBe('-0.12');
  });

  it('converts a refund to the same amount with the opposite sign', () => {
    expect(amountOf(table.convert('-100', 'USD', 'EUR', '2026-11-26', 0))).toBe('-95.43');
  });

  it('accepts a Decimal amount as well as a string', () => {
    expect(amountOf(table.convert(new Decimal('100'), 'USD', 'EUR', '2026-11-26', 0))).toBe('95.43');
  });

  it('gives the unrounded amount for callers that round later', () => {
    const result = table.convertUnrounded('100', 'USD', 'GBP', '2026-11-26', 0);
    expect(amountOf(result)).toBe('79.63546139898845309666952953526099818685');
    expect(amountOf(table.convertUnrounded('100', 'EUR', 'USD', '2026-11-26', 0))).toBe('104.79');
  });

  it('converts a currency to itself without needing a rate, rounded to its minor unit', () => {
    expect(table.convert('12.345', 'SEK', 'SEK', '2026-11-26', 0)).toEqual({
      ok: true,
      amount: new Decimal('12.34'),
      rateDate: '2026-11-26',
    });
    expect(amountOf(table.convertUnrounded('12.345', 'SEK', 'SEK', '2026-11-26', 0))).toBe('12.345');
  });

  it('refuses an amount that is not a plain decimal', () => {
    expect(() => table.convert('1e3', 'USD', 'EUR', '2026-11-26', 0)).toThrow(
      expect.objectContaining({ code: 'BAD_AMOUNT' }),
    );
  });
});

describe('days without rates', () => {
  it('uses the latest earlier rate on a weekend, and says which day it was', () => {
    expect(table.convert('100', 'EUR', 'USD', '2026-11-29', 3)).toEqual({
      ok: true,
      amount: new Decimal('105'),
      rateDate: '2026-11-27',
    });
  });

  it('rejects with BAD_CURRENCY when the latest rate is older than allowed', () => {
    const result = table.convert('100', 'EUR', 'USD', '2026-11-29', 1);
    expect(result).toEqual({
      ok: false,
      reason: 'BAD_CURRENCY',
      message: 'no USD rate on 2026-11-29 or the 1 days before (latest earlier rate 2026-11-27, 2 days old)',
    });
  });

  it('waits for the rate of a business day the rates loaded have not reached, rather than take an earlier one', () => {
    // Monday 30 November is a TARGET day: its rate is published, only not loaded yet.
    expect(table.convert('100', 'EUR', 'USD', '2026-11-30', 4)).toEqual({
      ok: false,
      reason: 'BAD_CURRENCY',
      message:
        'no USD rate for 2026-11-30 yet: the ECB publishes one that day, and the rates loaded end on 2026-11-27',
      awaited: true,
    });
    expect(table.rateOn('USD', '2026-11-30', 4)).toBeUndefined();
    // Once the feed has gone past the day, a currency it did not publish then takes its latest earlier rate.
    const later = new FxTable([
      { date: '2026-11-27', currency: 'USD', rate: '1.05' },
      { date: '2026-12-01', currency: 'GBP', rate: '0.84' },
    ]);
    expect(later.convert('100', 'EUR', 'USD', '2026-11-30', 4)).toMatchObject({
      ok: true,
      rateDate: '2026-11-27',
    });
  });

  it('takes Thursday’s rate on Good Friday and Easter Monday, TARGET holidays, the feed not past them yet', () => {
    const easter = new FxTable([{ date: '2026-04-02', currency: 'USD', rate: '1.15' }]);
    for (const day of ['2026-04-03', '2026-04-06'])
      expect(easter.convert('100', 'EUR', 'USD', day, 4)).toMatchObject({ ok: true, rateDate: '2026-04-02' });
    expect(easter.convert('100', 'EUR', 'USD', '2026-04-07', 5)).toMatchObject({ ok: false, awaited: true });
  });

  it('reports the older of the two rates a cross conversion used', () => {
    // CHF was last published on the 26th, USD on the 27th.
    const result = table.convert('100', 'USD', 'CHF', '2026-11-28', 5);
    expect(result.ok && result.rateDate).toBe('2026-11-26');
  });

  it('rejects a date before the first published rate', () => {
    const result = table.convert('100', 'EUR', 'USD', '2026-11-25', 30);
    expect(result).toMatchObject({ ok: false, reason: 'BAD_CURRENCY' });
    expect(!result.ok && result.message).toContain('first rate 2026-11-26');
  });

  it('looks a rate up the way a conversion does', () => {
    expect(table.rateOn('USD', '2026-11-28', 1)).toEqual({ rate: new Decimal('1.05'), date: '2026-11-27' });
    expect(table.rateOn('USD', '2026-11-28', 0)).toBeUndefined();
    expect(table.rateOn('EUR', '2026-11-28', 0)).toEqual({ rate: new Decimal(1), date: '2026-11-28' });
  });
});

describe('currencies without rates', () => {
  it('rejects a currency that has no rates loaded', () => {
    expect(table.convert('100', 'SEK', 'EUR', '2026-11-26', 5)).toEqual({
      ok: false,
      reason: 'BAD_CURRENCY',
      message: 'no SEK rates are loaded',
    });
  });

  it('rejects a code that is not a currency', () => {
    for (const code of ['usd', 'XAU', 'US$', '']) {
      expect(table.convert('1', code, 'EUR', '2026-11-26', 5)).toMatchObject({
        ok: false,
        reason: 'BAD_CURRENCY',
      });
      expect(table.convert('1', 'EUR', code, '2026-11-26', 5)).toMatchObject({
        ok: false,
        reason: 'BAD_CURRENCY',
      });
    }
  });

  it('lists the currencies it can convert', () => {
    expect(table.currencies()).toEqual(['CHF', 'EUR', 'GBP', 'JPY', 'KWD', 'USD']);
  });
});

describe('building the table', () => {
  const bad = (rate: Partial<{ date: string; currency: string; rate: string }>) => () =>
    new FxTable([{ date: '2026-11-26', currency: 'USD', rate: '1.0479', ...rate }]);

  it('refuses rates that are not positive plain decimals', () => {
    for (const rate of ['0', '-1.2', '1,0479', '1.0479 ', '', 'NaN', '1e2']) {
      expect(bad({ rate }), rate).toThrow(expect.objectContaining({ code: 'BAD_RATE' }));
    }
  });

  it('refuses unknown currencies and dates that do not exist', () => {
    expect(bad({ currency: 'XAU' })).toThrow(expect.objectContaining({ code: 'BAD_RATE' }));
    expect(bad({ date: '2026-02-30' })).toThrow(expect.objectContaining({ code: 'BAD_RATE' }));
  });

  it('refuses a euro rate other than 1 and accepts an explicit 1', () => {
    expect(bad({ currency: 'EUR', rate: '1.01' })).toThrow(expect.objectContaining({ code: 'BAD_RATE' }));
    expect(bad({ currency: 'EUR', rate: '1.0000' })).not.toThrow();
  });

  it('refuses two different rates for one currency on one day, and tolerates the same rate twice', () => {
    const twice = (second: string) => () =>
      new FxTable([
        { date: '2026-11-26', currency: 'USD', rate: '1.0479' },
        { date: '2026-11-26', currency: 'USD', rate: second },
      ]);
    expect(twice('1.048')).toThrow(expect.objectContaining({ code: 'BAD_RATE' }));
    expect(twice('1.04790')).not.toThrow();
  });

  it('accepts rates in any order', () => {
    const shuffled = new FxTable([
      { date: '2026-11-27', currency: 'USD', rate: '1.05' },
      { date: '2026-11-25', currency: 'USD', rate: '1.04' },
      { date: '2026-11-26', currency: 'USD', rate: '1.0479' },
    ]);
    expect(shuffled.rateOn('USD', '2026-11-26', 0)?.rate.toFixed()).toBe('1.0479');
  });
});

describe('round trips', () => {
  const codes = CURRENCY_CODES.filter((code) => code !== 'EUR');
  const rateText = fc
    .tuple(fc.integer({ min: 1, max: 999_999_999 }), fc.integer({ min: 0, max: 6 }))
    .map(([units, scale]) => new Decimal(units).dividedBy(new Decimal(10).pow(scale)).toFixed());
  interface Scenario {
    from: string;
    to: string;
    fromRate: string;
    toRate: string;
    minor: number;
  }
  const scenario: fc.Arbitrary<Scenario> = fc
    .record({
      from: fc.constantFrom('EUR', ...codes),
      to: fc.constantFrom('EUR', ...codes),
      fromRate: rateText,
      toRate: rateText,
      minor: fc.integer({ min: -1_000_000_000, max: 1_000_000_000 }),
    })
    .filter(({ from, to }) => from !== to);

  function roundTrip({ from, to, fromRate, toRate, minor }: Scenario) {
    const rates = [
      { date: '2026-11-26', currency: from, rate: from === 'EUR' ? '1' : fromRate },
      { date: '2026-11-26', currency: to, rate: to === 'EUR' ? '1' : toRate },
    ];
    const fx = new FxTable(rates);
    const amount = new Decimal(minor).dividedBy(new Decimal(10).pow(minorUnitExponent(from)!));
    const there = fx.convert(amount, from, to, '2026-11-26', 0);
    if (!there.ok) throw new Error(there.message);
    const back = fx.convert(there.amount, to, from, '2026-11-26', 0);
    if (!back.ok) throw new Error(back.message);
    const unitFrom = new Decimal(10).pow(-minorUnitExponent(from)!);
    const unitTo = new Decimal(10).pow(-minorUnitExponent(to)!);
    // One minor unit of `to`, expressed in `from`.
    const unitToInFrom = unitTo.times(rates[0]!.rate).dividedBy(rates[1]!.rate);
    return { error: back.amount.minus(amount).abs(), unitFrom, unitToInFrom };
  }

  it('comes back within half a minor unit of each currency, the two roundings it makes', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { error, unitFrom, unitToInFrom } = roundTrip(s);
        const bound = unitFrom.dividedBy(2).plus(unitToInFrom.dividedBy(2));
        expect(error.lessThanOrEqualTo(bound.times('1.000000001'))).toBe(true);
      }),
    );
  });

  it('comes back within one minor unit when the other currency’s minor unit is worth no more', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { error, unitFrom, unitToInFrom } = roundTrip(s);
        fc.pre(unitToInFrom.lessThanOrEqualTo(unitFrom));
        expect(error.lessThanOrEqualTo(unitFrom)).toBe(true);
      }),
    );
  });
});

describe('the TARGET calendar', () => {
  it('closes on weekends, New Year, Good Friday, Easter Monday, 1 May and Christmas, and on nothing else', () => {
    const closed = [
      '2026-01-01',
      '2026-04-03',
      '2026-04-06',
      '2026-05-01',
      '2026-12-25',
      '2027-03-26',
      '2027-03-29',
      '2024-03-29',
      '2024-04-01',
      '2038-04-23',
      '2038-04-26',
      '2026-03-14',
      '2026-03-15',
    ];
    for (const day of closed) expect(isTargetDay(day), day).toBe(false);
    // Thursday before Good Friday, the Tuesday after Easter Monday, Christmas Eve, 31 December.
    for (const day of ['2026-04-02', '2026-04-07', '2026-12-24', '2026-12-31', '2026-03-10'])
      expect(isTargetDay(day), day).toBe(true);
  });

  const anyDay = fc.integer({ min: 0, max: 365 * 200 }).map((n) => addDays('1950-01-01', n));

  it('has Good Friday on a Friday and Easter Monday on a Monday three days later, in March or April', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1900, max: 2199 }), (year) => {
        const closedWeekdays = [];
        for (let d = `${year}-03-19`; d <= `${year}-04-27`; d = addDays(d, 1))
          if (weekday(d) !== 0 && weekday(d) !== 6 && !isTargetDay(d)) closedWeekdays.push(d);
        expect(closedWeekdays).toHaveLength(2);
        const [friday, monday] = closedWeekdays as [string, string];
        expect([weekday(friday), weekday(monday), addDays(friday, 3)]).toEqual([5, 1, monday]);
      }),
    );
  });

  it('never falls back past a TARGET day the rates loaded have not reached; always to the last one published', () => {
    fc.assert(
      fc.property(anyDay, fc.integer({ min: 1, max: 4 }), (day, back) => {
        const earlier = addDays(day, -back);
        const only = new FxTable([{ date: earlier, currency: 'USD', rate: '1.1' }]);
        const result = only.convert('100', 'EUR', 'USD', day, 4);
        // The day takes the rate of the last business day on or before it: itself, or the one before a
        // weekend or holiday. Not loaded yet, it is awaited; loaded (or the day before it), it stands.
        const due = lastTargetDayOnOrBefore(day);
        if (earlier < due) expect(result).toMatchObject({ ok: false, awaited: true });
        else expect(result).toMatchObject({ ok: true, rateDate: earlier });
        // With any rate of a later day loaded, the day had none: the earlier rate stands in.
        const past = new FxTable([
          { date: earlier, currency: 'USD', rate: '1.1' },
          { date: addDays(day, 1), currency: 'JPY', rate: '160' },
        ]);
        expect(past.convert('100', 'EUR', 'USD', day, 4)).toMatchObject({ ok: true, rateDate: earlier });
      }),
    );
  });
});
