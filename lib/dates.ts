/**
 * Business dates are ISO calendar dates (`YYYY-MM-DD`) held as strings everywhere: they compare
 * lexicographically, survive both databases unchanged, and never drift through a time zone.
 * Arithmetic goes through UTC midnight so daylight-saving changes cannot shift a day.
 */
import { BoundedCache } from './bounded-cache.js';

export type IsoDate = string;

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Dates repeat endlessly in a night's records; remembering the valid ones keeps validation off the profile. */
const knownValid = new Set<string>();

export function isIsoDate(value: string): boolean {
  if (knownValid.has(value)) return true;
  const valid = checkIsoDate(value);
  if (valid) {
    if (knownValid.size > 100_000) knownValid.clear();
    knownValid.add(value);
  }
  return valid;
}

function checkIsoDate(value: string): boolean {
  if (typeof value !== 'string') return false;
  const m = ISO_DATE.exec(value);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return (
    d.getUTCFullYear() === Number(m[1]) &&
    d.getUTCMonth() === Number(m[2]) - 1 &&
    d.getUTCDate() === Number(m[3])
  );
}

function toUtc(date: IsoDate): Date {
  const m = ISO_DATE.exec(date);
  if (!m) throw new RangeError(`not an ISO date (YYYY-MM-DD): ${JSON.stringify(date)}`);
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
}

function fromUtc(d: Date): IsoDate {
  return d.toISOString().slice(0, 10);
}

// A night asks for the same few hundred dates millions of times (claim windows, expiry dates):
// date arithmetic is remembered rather than redone through Date objects.
const memo = new BoundedCache<string, IsoDate>(200_000);

function remembered(key: string, compute: () => IsoDate): IsoDate {
  return memo.getOrCompute(key, compute);
}

export function addDays(date: IsoDate, days: number): IsoDate {
  return remembered(`d${date}${days}`, () => {
    const d = toUtc(date);
    d.setUTCDate(d.getUTCDate() + days);
    return fromUtc(d);
  });
}

/** Adds calendar months, clamping to the last day of the target month (31 Jan + 1 month = 28/29 Feb). */
export function addMonths(date: IsoDate, months: number): IsoDate {
  return remembered(`m${date}${months}`, () => computeAddMonths(date, months));
}

function computeAddMonths(date: IsoDate, months: number): IsoDate {
  const d = toUtc(date);
  const day = d.getUTCDate();
  const target = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1));
  const last = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(day, last));
  return fromUtc(target);
}

/**
 * The latest date whose `addMonths(·, months)` falls on or before `date`: the inverse of addMonths for
 * "N months after". Clamping makes addMonths many-to-one at month ends (28 to 31 August all become 28
 * February), so on the last day of a month every day of the month `months` earlier has come due.
 */
export function latestDueBy(date: IsoDate, months: number): IsoDate {
  const back = addMonths(date, -months);
  return date === endOfMonth(date) ? endOfMonth(back) : back;
}

export function startOfMonth(date: IsoDate): IsoDate {
  return `${date.slice(0, 7)}-01`;
}

export function endOfMonth(date: IsoDate): IsoDate {
  return remembered(`e${date.slice(0, 7)}`, () => {
    const d = toUtc(startOfMonth(date));
    return fromUtc(new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)));
  });
}

/** `YYYY-MM` of a date. */
export function monthOf(date: IsoDate): string {
  return date.slice(0, 7);
}

/** Whole days from `a` to `b` (positive when b is later). */
export function daysBetween(a: IsoDate, b: IsoDate): number {
  return Math.round((toUtc(b).getTime() - toUtc(a).getTime()) / 86_400_000);
}

/** 0 = Sunday … 6 = Saturday. */
export function weekday(date: IsoDate): number {
  return toUtc(date).getUTCDay();
}

/** Every date from `from` to `to` inclusive. */
export function* eachDay(from: IsoDate, to: IsoDate): Generator<IsoDate> {
  for (let d = from; d <= to; d = addDays(d, 1)) yield d;
}

export function minDate(a: IsoDate, b: IsoDate): IsoDate {
  return a <= b ? a : b;
}

export function maxDate(a: IsoDate, b: IsoDate): IsoDate {
  return a >= b ? a : b;
}

/**
 * One formatter per time zone: building an Intl.DateTimeFormat costs tens of microseconds, using one
 * costs little. Zone names are few (differently written names of one zone are separate entries, so the
 * cache is bounded all the same); a name Intl refuses throws each time and is not kept.
 */
const zoneFormats = new BoundedCache<string, Intl.DateTimeFormat>(64);

function zoneFormat(timeZone: string): Intl.DateTimeFormat {
  return zoneFormats.getOrCompute(
    timeZone,
    (zone) =>
      new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }),
  );
}

/** The calendar date of an instant in a time zone (`Europe/Moscow`, `UTC`, …). */
export function dateInZone(instant: Date, timeZone: string): IsoDate {
  const parts = zoneFormat(timeZone).formatToParts(instant);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')}`;
}

/**
 * The last business date that has ended at `now`: yesterday in the program's time zone (`timeZone`).
 * A date after it is still being lived: its night would post, lapse and send what the day has not
 * finished making.
 */
export function lastEndedDate(now: Date, timeZone: string): IsoDate {
  return addDays(dateInZone(now, timeZone), -1);
}

const ISO_INSTANT =
  /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(Z|[+-]\d{2}(?::?\d{2})?)$/;

/**
 * An ISO 8601 instant with its offset (`2026-06-05T02:30Z`, `…:00.000+03:00`, `+0300`, `+03`), or
 * undefined for anything else: a time without an offset (Date would read it in local time), an
 * impossible date or time, or what only Date's lenient parser takes.
 */
export function parseIsoInstant(value: string): Date | undefined {
  const m = ISO_INSTANT.exec(value);
  if (!m || !isIsoDate(m[1]!) || Number(m[2]) > 23 || Number(m[3]) > 59 || Number(m[4] ?? 0) > 59)
    return undefined;
  // An offset of hours alone is ISO 8601 but not what Date reads.
  const at = new Date(m[5]!.length === 3 ? `${value}:00` : value);
  return Number.isNaN(at.getTime()) ? undefined : at;
}
