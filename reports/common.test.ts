import { describe, expect, it } from 'vitest';
import { lastEndedDate } from '../lib/dates.js';
import type { LoadedConfig } from '../config/load.js';
import { businessDayClose, reportClock } from './common.js';

describe('the close of a business day', () => {
  it('is the first instant of the next day, after the gap where the clocks skip midnight', () => {
    for (const [date, zone, close] of [
      // 8 March 2026: Havana's clocks go from 00:00 CST straight to 01:00 CDT.
      ['2026-03-07', 'America/Havana', '2026-03-08T05:00:00.000Z'],
      // 6 September 2026: Santiago's go from 00:00 -04 to 01:00 -03.
      ['2026-09-05', 'America/Santiago', '2026-09-06T04:00:00.000Z'],
      // The day after each gap ends at its midnight, on the new offset.
      ['2026-03-08', 'America/Havana', '2026-03-09T04:00:00.000Z'],
      ['2026-09-06', 'America/Santiago', '2026-09-07T03:00:00.000Z'],
      // 5 April 2026: Santiago's clocks go back at midnight to 23:00 on the 4th, which ends an hour later.
      ['2026-04-04', 'America/Santiago', '2026-04-05T04:00:00.000Z'],
      // Changes that do not touch midnight, and a zone without any.
      ['2026-03-29', 'Europe/London', '2026-03-29T23:00:00.000Z'],
      ['2026-10-25', 'Europe/London', '2026-10-26T00:00:00.000Z'],
      ['2026-11-30', 'Europe/Moscow', '2026-11-30T21:00:00.000Z'],
    ] as const) {
      const at = businessDayClose(date, zone);
      expect(at.toISOString(), `${date} ${zone}`).toBe(close);
      // The instant the date is the last one ended, and not a second before: a run the scheduler holds
      // until then is not refused NOT_ENDED, nor is one run earlier let through.
      expect(lastEndedDate(at, zone), `${date} ${zone}`).toBe(date);
      expect(lastEndedDate(new Date(at.getTime() - 1000), zone), `${date} ${zone}`).not.toBe(date);
      // The date's workbooks are stamped with it: generated as the day closed, not an hour before.
      const config = { program: { timeZone: zone } } as LoadedConfig;
      expect(reportClock(config, date)().toISOString(), `${date} ${zone}`).toBe(close);
    }
  });
});
