/**
 * Exchange rates for partner spend, ECB style: each rate is units of a currency per one euro, published
 * on TARGET business days. Cross rates go through EUR; an activity on a day without rates (a weekend, a
 * TARGET holiday, or a day the feed has gone past without that currency) takes the latest earlier rate up
 * to a configured number of days back, and beyond that is rejected with BAD_CURRENCY rather than
 * converted at a stale rate (formats/fx-rates.md). A business day whose rates have not come in yet is
 * not such a day: its rate is published, only late, and the conversion says it waits for it.
 *
 * Arithmetic is exact: amounts and rates become integers scaled by powers of ten, the cross rate is one
 * fraction, and the only rounding is the final half-even one to the target currency's minor unit.
 * Rounding the euro leg first would be a second rounding: 1000.00 USD at USD 1.0479 / GBP 0.8345 is
 * 796.35 GBP, but 796.36 through a rounded 954.29 EUR.
 */
import { Decimal } from 'decimal.js';
import { addDays, daysBetween, isIsoDate, weekday, type IsoDate } from '../lib/dates.js';
import { InputError } from '../lib/errors.js';
import { type CurrencyCode, isCurrencyCode, minorUnitExponent, tryParseAmount } from '../lib/money.js';

/** One published rate: `rate` units of `currency` buy one euro on `date`. */
export interface FxRate {
  date: IsoDate;
  currency: CurrencyCode;
  /** Plain decimal string, as published (`1.0479`); never a float. */
  rate: string;
}

/**
 * `awaited`: the rate of the date itself is missing on a TARGET business day the table has not reached
 * yet, so it is still to come (a feed a night late) rather than never published: the caller waits for
 * it instead of taking an earlier day's rate, or rejecting.
 */
export type FxConversion =
  | { ok: true; amount: Decimal; rateDate: IsoDate }
  | { ok: false; reason: 'BAD_CURRENCY'; message: string; awaited?: true };

/** Easter Sunday of the Gregorian `year` (anonymous algorithm of Meeus, Jones and Butcher). */
function easterSunday(year: number): IsoDate {
  const a = year % 19;
  const b = Math.floor(year / 100);
  const c = year % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/**
 * Whether the ECB publishes reference rates on `date`: every TARGET business day, that is every day but
 * weekends, New Year's Day, Good Friday, Easter Monday, 1 May, 25 and 26 December.
 */
export function isTargetDay(date: IsoDate): boolean {
  const wd = weekday(date);
  if (wd === 0 || wd === 6) return false;
  const md = date.slice(5);
  if (md === '01-01' || md === '05-01' || md === '12-25' || md === '12-26') return false;
  const easter = easterSunday(Number(date.slice(0, 4)));
  return date !== addDays(easter, -2) && date !== addDays(easter, 1);
}

/** The TARGET business day whose rate `date` takes: itself, or the last one before a weekend or holiday. */
export function lastTargetDayOnOrBefore(date: IsoDate): IsoDate {
  let day = date;
  // No TARGET closure runs longer than four days (Good Friday to Easter Monday).
  while (!isTargetDay(day)) day = addDays(day, -1);
  return day;
}

/** A decimal value as `units / 10^scale`, so products and quotients stay exact in BigInt. */
interface Scaled {
  units: bigint;
  scale: number;
}

interface Series {
  dates: IsoDate[];
  rates: Scaled[];
}

const ONE: Scaled = { units: 1n, scale: 0 };

function notACurrency(code: string): string {
  return `${JSON.stringify(code)} is not an ISO 4217 currency code`;
}

// For the unrounded variant only: 40 significant digits keep the quotient's error far below any minor unit.
const Precise = Decimal.clone({ precision: 40, rounding: Decimal.ROUND_HALF_EVEN });

function scaled(value: Decimal): Scaled {
  const text = value.toFixed(); // plain notation, every digit
  const point = text.indexOf('.');
  if (point < 0) return { units: BigInt(text), scale: 0 };
  return { units: BigInt(text.slice(0, point) + text.slice(point + 1)), scale: text.length - point - 1 };
}

function pow10(n: number): bigint {
  return 10n ** BigInt(n);
}

/** numerator / denominator (denominator > 0) rounded half to even to an integer. */
function divideHalfEven(numerator: bigint, denominator: bigint): bigint {
  const negative = numerator < 0n;
  const magnitude = negative ? -numerator : numerator;
  let quotient = magnitude / denominator;
  const twiceRemainder = (magnitude % denominator) * 2n;
  if (twiceRemainder > denominator || (twiceRemainder === denominator && quotient % 2n === 1n))
    quotient += 1n;
  return negative ? -quotient : quotient;
}

export class FxTable {
  private readonly series = new Map<CurrencyCode, Series>();
  /** The latest date any currency has a rate on: how far the feed has come. */
  private readonly reached: IsoDate | undefined;

  /**
   * Builds the table from published rates in any order. Throws `BAD_RATE` for a rate that is not a
   * positive plain decimal, an unknown currency or date, a euro rate other than 1, or two different
   * rates for one currency on one day: the rates file is wrong and nothing should be converted with it.
   */
  constructor(rates: Iterable<FxRate>) {
    const byCurrency = new Map<CurrencyCode, Map<IsoDate, { text: string; value: Scaled }>>();
    for (const { date, currency, rate } of rates) {
      const context = { currency, date, rate };
      if (!isIsoDate(date))
        throw new InputError('BAD_RATE', `rate date is not a date: ${JSON.stringify(date)}`, context);
      if (!isCurrencyCode(currency)) {
        throw new InputError(
          'BAD_RATE',
          `rate for an unknown currency ${JSON.stringify(currency)} on ${date}`,
          context,
        );
      }
      const parsed = tryParseAmount(rate);
      if (!parsed || !parsed.isPositive() || parsed.isZero()) {
        throw new InputError(
          'BAD_RATE',
          `${currency} rate on ${date} is not a positive decimal: ${JSON.stringify(rate)}`,
          context,
        );
      }
      if (currency === 'EUR') {
        if (!parsed.equals(1))
          throw new InputError('BAD_RATE', `EUR rate on ${date} must be 1, got ${rate}`, context);
        continue;
      }
      let days = byCurrency.get(currency);
      if (!days) byCurrency.set(currency, (days = new Map()));
      const earlier = days.get(date);
      if (earlier && !parsed.equals(earlier.text)) {
        throw new InputError(
          'BAD_RATE',
          `two ${currency} rates on ${date}: ${earlier.text} and ${rate}`,
          context,
        );
      }
      days.set(date, { text: rate, value: scaled(parsed) });
    }
    let reached: IsoDate | undefined;
    for (const [currency, days] of byCurrency) {
      const dates = [...days.keys()].sort();
      this.series.set(currency, { dates, rates: dates.map((d) => days.get(d)!.value) });
      if (!reached || dates.at(-1)! > reached) reached = dates.at(-1)!;
    }
    this.reached = reached;
  }

  /** The latest date the table has rates of: how far the rates feed has come. */
  reachedOn(): IsoDate | undefined {
    return this.reached;
  }

  /** Currencies with at least one rate, EUR included. */
  currencies(): CurrencyCode[] {
    return ['EUR', ...this.series.keys()].sort();
  }

  /**
   * The rate of `currency` per euro in force on `date`: that day's, or the latest earlier one at most
   * `maxStaleDays` before it. Undefined when there is none, or none yet (see `FxConversion`).
   */
  rateOn(
    currency: CurrencyCode,
    date: IsoDate,
    maxStaleDays: number,
  ): { rate: Decimal; date: IsoDate } | undefined {
    const found = this.lookup(currency, date, maxStaleDays);
    if (!('rate' in found)) return undefined;
    return { rate: new Decimal(`${found.rate.units}e-${found.rate.scale}`), date: found.date };
  }

  /** `amount` of `from` in `to` on `date`, rounded once, half-even, to the minor unit of `to`. */
  convert(
    amount: string | Decimal,
    from: CurrencyCode,
    to: CurrencyCode,
    date: IsoDate,
    maxStaleDays: number,
  ): FxConversion {
    return this.crossRate(amount, from, to, date, maxStaleDays, (numerator, denominator) => {
      const exponent = minorUnitExponent(to)!;
      const minor = divideHalfEven(numerator * pow10(exponent), denominator);
      return new Decimal(`${minor}e-${exponent}`);
    });
  }

  /**
   * Like `convert`, without the final rounding: the exact quotient to 40 significant digits, for
   * callers that go on computing (a points rate per unit of spend) and round once at their own end.
   */
  convertUnrounded(
    amount: string | Decimal,
    from: CurrencyCode,
    to: CurrencyCode,
    date: IsoDate,
    maxStaleDays: number,
  ): FxConversion {
    return this.crossRate(amount, from, to, date, maxStaleDays, (numerator, denominator) =>
      new Precise(numerator.toString()).dividedBy(denominator.toString()),
    );
  }

  /**
   * amount × rate(to) / rate(from) as one fraction of integers, handed to `finish`:
   * (a / 10^as) × (t / 10^ts) / (f / 10^fs) = a·t·10^fs / (f·10^(as+ts)).
   */
  private crossRate(
    amount: string | Decimal,
    from: CurrencyCode,
    to: CurrencyCode,
    date: IsoDate,
    maxStaleDays: number,
    finish: (numerator: bigint, denominator: bigint) => Decimal,
  ): FxConversion {
    if (!isIsoDate(date)) throw new RangeError(`not an ISO date (YYYY-MM-DD): ${JSON.stringify(date)}`);
    const value = typeof amount === 'string' ? tryParseAmount(amount) : amount;
    if (!value || !value.isFinite()) {
      throw new InputError('BAD_AMOUNT', `not a decimal amount: ${JSON.stringify(String(amount))}`, {
        value: String(amount),
      });
    }
    const a = scaled(value);
    if (from === to) {
      // No rate is needed, so none has to be loaded; the code must still be a currency.
      if (!isCurrencyCode(from)) return { ok: false, reason: 'BAD_CURRENCY', message: notACurrency(from) };
      return { ok: true, amount: finish(a.units, pow10(a.scale)), rateDate: date };
    }
    const source = this.lookup(from, date, maxStaleDays);
    if (!('rate' in source)) return { ok: false, reason: 'BAD_CURRENCY', ...source };
    const target = this.lookup(to, date, maxStaleDays);
    if (!('rate' in target)) return { ok: false, reason: 'BAD_CURRENCY', ...target };

    const { rate: f } = source;
    const { rate: t } = target;
    let numerator = a.units * t.units;
    let denominator = f.units;
    const shift = f.scale - a.scale - t.scale;
    if (shift >= 0) numerator *= pow10(shift);
    else denominator *= pow10(-shift);
    // The older of the two rates is the one that decides how stale the conversion is.
    const rateDate = source.date < target.date ? source.date : target.date;
    return { ok: true, amount: finish(numerator, denominator), rateDate };
  }

  /** The rate in force, or the message explaining why there is none, and whether it is still to come. */
  private lookup(
    currency: CurrencyCode,
    date: IsoDate,
    maxStaleDays: number,
  ): { rate: Scaled; date: IsoDate } | { message: string; awaited?: true } {
    if (!isCurrencyCode(currency)) return { message: notACurrency(currency) };
    if (currency === 'EUR') return { rate: ONE, date };
    const series = this.series.get(currency);
    if (!series) return { message: `no ${currency} rates are loaded` };
    // Latest published date on or before `date`, by binary search over the sorted dates.
    let low = 0;
    let high = series.dates.length - 1;
    let found = -1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      if (series.dates[mid]! <= date) {
        found = mid;
        low = mid + 1;
      } else {
        high = mid - 1;
      }
    }
    if (found < 0)
      return { message: `no ${currency} rate on or before ${date} (first rate ${series.dates[0]})` };
    const rateDate = series.dates[found]!;
    // An earlier rate stands in only for a day with none published. A business day the feed has not
    // reached yet has one, still to come: converting at the day before's would be wrong for good, as
    // nothing decides the activity again once its rate arrives. A weekend or holiday takes the rate of
    // the business day before it, which may be the one still to come.
    const due = lastTargetDayOnOrBefore(date);
    if (rateDate < due && this.reached! < due) {
      return {
        message:
          due === date
            ? `no ${currency} rate for ${date} yet: the ECB publishes one that day, and the rates loaded end on ${this.reached}`
            : `no ${currency} rate for ${due} yet, the business day whose rate ${date} takes: the rates loaded end on ${this.reached}`,
        awaited: true,
      };
    }
    const age = daysBetween(rateDate, date);
    if (age > maxStaleDays) {
      return {
        message: `no ${currency} rate on ${date} or the ${maxStaleDays} days before (latest earlier rate ${rateDate}, ${age} days old)`,
      };
    }
    return { rate: series.rates[found]!, date: rateDate };
  }
}
