import { describe, expect, it } from 'vitest';
import { CronCalendar } from './cron-calendar.js';

const fires = (expression: string, zone: string, from: string, to: string) =>
  new CronCalendar(expression, zone)
    .between(new Date(from), new Date(to))
    .map((f) => [f.day, f.at.toISOString()]);

describe('the cron calendar', () => {
  it('fires a time the clocks skip in spring at the first instant after the gap, so no day goes without its night', () => {
    // London skips 01:00–02:00 on 2027-03-28: 01:30 runs at 02:00 BST (01:00Z).
    expect(fires('30 1 * * *', 'Europe/London', '2027-03-26T00:00Z', '2027-03-30T00:00Z')).toEqual([
      ['2027-03-26', '2027-03-26T01:30:00.000Z'],
      ['2027-03-27', '2027-03-27T01:30:00.000Z'],
      ['2027-03-28', '2027-03-28T01:00:00.000Z'],
      ['2027-03-29', '2027-03-29T00:30:00.000Z'],
    ]);
    // New York skips 02:00–03:00 on 2027-03-14: 02:30 runs at 03:00 EDT (07:00Z).
    expect(fires('30 2 * * *', 'America/New_York', '2027-03-12T12:00Z', '2027-03-16T00:00Z')).toEqual([
      ['2027-03-13', '2027-03-13T07:30:00.000Z'],
      ['2027-03-14', '2027-03-14T07:00:00.000Z'],
      ['2027-03-15', '2027-03-15T06:30:00.000Z'],
    ]);
  });

  it('fires a time the clocks repeat in autumn once, at its first occurrence', () => {
    // London repeats 01:00–02:00 on 2027-10-31: 01:30 BST (00:30Z), not again at 01:30 GMT.
    expect(fires('30 1 * * *', 'Europe/London', '2027-10-30T00:00Z', '2027-11-02T00:00Z')).toEqual([
      ['2027-10-30', '2027-10-30T00:30:00.000Z'],
      ['2027-10-31', '2027-10-31T00:30:00.000Z'],
      ['2027-11-01', '2027-11-01T01:30:00.000Z'],
    ]);
    // Every minute of a skipped hour lands on the same instant, which fires once; the repeated hour
    // fires in its first pass only.
    const hourly = fires('*/30 * * * *', 'Europe/London', '2027-03-28T00:00Z', '2027-03-28T02:00Z');
    expect(hourly.map(([, at]) => at)).toEqual([
      '2027-03-28T00:30:00.000Z',
      '2027-03-28T01:00:00.000Z',
      '2027-03-28T01:30:00.000Z',
      '2027-03-28T02:00:00.000Z',
    ]);
    const back = fires('0 * * * *', 'Europe/London', '2027-10-30T23:30Z', '2027-10-31T03:00Z');
    expect(back.map(([, at]) => at)).toEqual([
      '2027-10-31T00:00:00.000Z', // 01:00 BST
      '2027-10-31T02:00:00.000Z', // 02:00 GMT
      '2027-10-31T03:00:00.000Z',
    ]);
  });

  it('gives the next firing after an instant, across a clock change', () => {
    const london = new CronCalendar('30 1 * * *', 'Europe/London');
    expect(london.next(new Date('2027-03-27T01:30:00Z'))).toEqual({
      day: '2027-03-28',
      at: new Date('2027-03-28T01:00:00Z'),
    });
    // Only 29 February: four years on.
    expect(new CronCalendar('0 6 29 2 *', 'UTC').next(new Date('2024-03-01T00:00:00Z'))?.day).toBe(
      '2028-02-29',
    );
  });

  it('matches days as node-cron does: all of day of month, month and weekday, and its L, W and # forms', () => {
    const days = (expression: string, from: string, to: string) =>
      fires(expression, 'UTC', from, to).map(([day]) => day);
    // The first Monday in December 2026 (the 7th), not every Monday and the 1st to the 7th.
    expect(days('0 6 1-7 * 1', '2026-12-01T00:00Z', '2026-12-31T00:00Z')).toEqual(['2026-12-07']);
    expect(days('0 6 L * *', '2026-01-01T00:00Z', '2026-04-01T00:00Z')).toEqual([
      '2026-01-31',
      '2026-02-28',
      '2026-03-31',
    ]);
    expect(days('0 6 * * 5L', '2026-11-01T00:00Z', '2026-12-01T00:00Z')).toEqual(['2026-11-27']);
    expect(days('0 6 * * 1#2', '2026-11-01T00:00Z', '2026-12-01T00:00Z')).toEqual(['2026-11-09']);
    // 2026-11-01 is a Sunday: the nearest weekday is Monday the 2nd; the last weekday of the month.
    expect(days('0 6 1W * *', '2026-11-01T00:00Z', '2026-12-01T00:00Z')).toEqual(['2026-11-02']);
    expect(days('0 6 LW * *', '2026-05-01T00:00Z', '2026-06-01T00:00Z')).toEqual(['2026-05-29']);
    expect(days('0 6 L-2 * *', '2026-11-01T00:00Z', '2026-12-01T00:00Z')).toEqual(['2026-11-28']);
    expect(days('0 6 * * 7', '2026-11-01T00:00Z', '2026-11-10T00:00Z')).toEqual(['2026-11-01', '2026-11-08']);
  });
});
