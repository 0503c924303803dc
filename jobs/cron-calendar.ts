/**
 * When a cron expression fires in a time zone, worked out day by local day. One calendar drives both
 * the daemon's timers and its catch-up, so a night the daemon would run live is a night the catch-up
 * owes, and the other way round.
 *
 * Clock changes follow cron(8) and systemd timers: a time that does not exist on a day (the hour the
 * clocks skip in spring) fires at the first instant after the gap, and a time that occurs twice (the hour
 * repeated in autumn) fires once, at its first occurrence. So every day the expression names fires,
 * whatever the zone does to its clock — node-cron's own timers skip the day instead (01:30 in London on
 * the last Sunday of March never comes), and a nightly job with it the night of the day before.
 *
 * Days are matched as node-cron matches them (the expressions are node-cron's, checked when the
 * configuration loads): day of month, month and day of week must all match; `L`, `LW`, `15W`, `L-3` in
 * the day of month, `5L` and `1#2` in the day of week.
 */
import cron from 'node-cron';
import { BoundedCache } from '../lib/bounded-cache.js';
import { addDays, dateInZone, type IsoDate } from '../lib/dates.js';

/** One firing: the local calendar day it is for, and the instant it happens. */
export interface CronFire {
  day: IsoDate;
  at: Date;
}

const DAY_MS = 86_400_000;
/** How far ahead `next` looks: an expression naming only 29 February fires within four years. */
const MAX_DAYS_AHEAD = 5 * 366;

/** One formatter per time zone: building one costs far more than using it. */
const wallFormat = new BoundedCache<string, Intl.DateTimeFormat>(64);

/** The local wall-clock time of an instant in a zone, as milliseconds of the same reading in UTC. */
function wallClock(at: number, timeZone: string): number {
  const f = wallFormat.getOrCompute(
    timeZone,
    (zone) =>
      new Intl.DateTimeFormat('en-US', {
        timeZone: zone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      }),
  );
  const p: Record<string, number> = {};
  for (const x of f.formatToParts(new Date(at))) if (x.type !== 'literal') p[x.type] = Number(x.value);
  return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
}

/** The zone's offset from UTC at an instant, in milliseconds (whole seconds: Intl drops the rest). */
function offsetAt(at: number, timeZone: string): number {
  const whole = Math.floor(at / 1000) * 1000;
  return wallClock(whole, timeZone) - whole;
}

/**
 * The instant a local wall-clock reading (given as the same reading in UTC) stands for: the first of two
 * in the hour repeated when clocks go back, the first instant after the gap for one the clocks skip.
 */
export function instantOfWallClock(wall: number, timeZone: string): number {
  // A day either side of the reading is well clear of a clock change at it (offsets stay within ±14 h),
  // and no zone changes its clock twice in two days.
  const before = offsetAt(wall - DAY_MS, timeZone);
  const after = offsetAt(wall + DAY_MS, timeZone);
  const candidates = [wall - before, wall - after].filter((t) => wallClock(t, timeZone) === wall);
  if (candidates.length > 0) return Math.min(...candidates);
  if (before === after) return wall - before;
  // In the gap: the clocks jumped from before `wall` to after it. The change happened between the two
  // readings' instants; find its second.
  let lo = Math.floor(Math.min(wall - before, wall - after) / 1000);
  let hi = Math.ceil(Math.max(wall - before, wall - after) / 1000);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (offsetAt(mid * 1000, timeZone) === before) lo = mid;
    else hi = mid;
  }
  return hi * 1000;
}

interface Fields {
  second: number[];
  minute: number[];
  hour: number[];
  dayOfMonth: Array<number | string>;
  month: number[];
  dayOfWeek: Array<number | string>;
}

const lastDayOfMonth = (y: number, m: number) => new Date(Date.UTC(y, m, 0)).getUTCDate();

function nearestWeekday(y: number, m: number, target: number): number {
  const last = lastDayOfMonth(y, m);
  if (target < 1 || target > last) return -1;
  const wd = new Date(Date.UTC(y, m - 1, target)).getUTCDay();
  if (wd === 6) return target === 1 ? 3 : target - 1;
  if (wd === 0) return target === last ? target - 2 : target + 1;
  return target;
}

function dayOfMonthMatches(field: Fields['dayOfMonth'], y: number, m: number, d: number): boolean {
  const last = lastDayOfMonth(y, m);
  return field.some((v) => {
    if (v === d) return true;
    if (typeof v !== 'string') return false;
    if (v === 'L') return d === last;
    const w = /^(\d{1,2}|L)W$/.exec(v);
    if (w) return nearestWeekday(y, m, w[1] === 'L' ? last : Number(w[1])) === d;
    const back = /^L-(\d{1,2})$/.exec(v);
    return back !== null && last - Number(back[1]) === d;
  });
}

function dayOfWeekMatches(field: Fields['dayOfWeek'], y: number, m: number, d: number): boolean {
  const wd = new Date(Date.UTC(y, m - 1, d)).getUTCDay();
  return field.some((v) => {
    if (v === wd || v === wd + 7) return true;
    if (typeof v !== 'string') return false;
    const nth = /^([0-7])#([1-5])$/.exec(v);
    if (nth) return Number(nth[1]) % 7 === wd && Math.floor((d - 1) / 7) + 1 === Number(nth[2]);
    const lastOf = /^([0-7])L$/i.exec(v);
    return lastOf !== null && Number(lastOf[1]) % 7 === wd && d + 7 > lastDayOfMonth(y, m);
  });
}

export class CronCalendar {
  private readonly fields: Fields;
  /** Seconds into the day of each time of day the expression names, in order. */
  private readonly times: number[];

  constructor(
    readonly expression: string,
    readonly timeZone: string,
  ) {
    this.fields = cron.parse(expression) as Fields;
    const times: number[] = [];
    for (const h of this.fields.hour)
      for (const m of this.fields.minute)
        for (const s of this.fields.second) times.push(h * 3600 + m * 60 + s);
    this.times = times.sort((a, b) => a - b);
  }

  /** Whether the expression names a local calendar day. */
  firesOnDay(day: IsoDate): boolean {
    const [y, m, d] = day.split('-').map(Number) as [number, number, number];
    return (
      this.fields.month.includes(m) &&
      dayOfMonthMatches(this.fields.dayOfMonth, y, m, d) &&
      dayOfWeekMatches(this.fields.dayOfWeek, y, m, d)
    );
  }

  /** The instants the expression fires on a local day, oldest first, each once. */
  firesOn(day: IsoDate): Date[] {
    if (!this.firesOnDay(day)) return [];
    const midnight = Date.parse(`${day}T00:00:00Z`);
    // Most days the zone's clock does not change: one offset serves every time of the day.
    const before = offsetAt(midnight - DAY_MS, this.timeZone);
    const steady = before === offsetAt(midnight + 2 * DAY_MS, this.timeZone);
    const out: Date[] = [];
    let previous = Number.NEGATIVE_INFINITY;
    for (const t of this.times) {
      const wall = midnight + t * 1000;
      const at = steady ? wall - before : instantOfWallClock(wall, this.timeZone);
      // Every time in a skipped hour fires at the same instant, once.
      if (at <= previous) continue;
      out.push(new Date(at));
      previous = at;
    }
    return out;
  }

  /** The firings in (from, to], oldest first. */
  between(from: Date, to: Date): CronFire[] {
    const out: CronFire[] = [];
    const last = addDays(dateInZone(to, this.timeZone), 1);
    for (let day = addDays(dateInZone(from, this.timeZone), -1); day <= last; day = addDays(day, 1))
      for (const at of this.firesOn(day)) if (at > from && at <= to) out.push({ day, at });
    return out;
  }

  /** The first firing after an instant; undefined when the expression names no day in the next years. */
  next(after: Date): CronFire | undefined {
    let day = addDays(dateInZone(after, this.timeZone), -1);
    for (let i = 0; i < MAX_DAYS_AHEAD; i++, day = addDays(day, 1)) {
      const at = this.firesOn(day).find((t) => t > after);
      if (at) return { day, at };
    }
    return undefined;
  }
}
