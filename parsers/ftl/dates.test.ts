/**
 * FTL dates carry no year and the originator stamp neither month nor year: both are placed from the
 * time the file was received.
 */
import { describe, expect, it } from 'vitest';
import { ftlParser, resolveFlightDate, resolveStamp } from './index.js';
import { collect, ftlInput } from './testing.js';

describe('year inference for the flight date', () => {
  it.each([
    ['31DEC received on 2 January belongs to the previous year', 31, 12, '2025-01-02', 3, '2024-12-31'],
    ['a date a few days after receipt is this year', 1, 1, '2024-12-30', 3, '2025-01-01'],
    ['a date more than the allowance after receipt is last year', 5, 1, '2024-12-30', 3, '2024-01-05'],
    ['the allowance is an option', 5, 1, '2024-12-30', 7, '2025-01-05'],
    ['the receipt date itself', 15, 8, '2024-08-15', 3, '2024-08-15'],
    ['29FEB goes back to the last leap year', 29, 2, '2025-03-01', 3, '2024-02-29'],
    ['29FEB just before a leap day', 29, 2, '2028-02-27', 3, '2028-02-29'],
  ])('%s', (_what, day, month, receivedOn, futureDays, expected) => {
    expect(resolveFlightDate(day, month, receivedOn, futureDays)).toBe(expected);
  });

  it('applies the allowance option and the receipt time of each file', async () => {
    const text = ['FTL', 'XX900/05JAN DME PART1', 'NIL', 'ENDFTL', ''].join('\n');
    const read = async (receivedAt: string, futureDays?: number) => {
      const { verdicts } = await collect(
        ftlParser.parse([ftlInput('d.ftl', text, receivedAt)], { futureDays }),
      );
      return (verdicts[0]!.meta as { messages: { message: string }[] }).messages[0]!.message;
    };
    expect(await read('2024-12-30T10:00:00Z')).toBe('XX900/2024-01-05/DME');
    expect(await read('2024-12-30T10:00:00Z', 7)).toBe('XX900/2025-01-05/DME');
    expect(await read('2025-01-04T10:00:00Z')).toBe('XX900/2025-01-05/DME');
  });

  it('takes the receipt date in the configured time zone', async () => {
    const text = ['FTL', 'XX900/02JAN DME PART1', 'NIL', 'ENDFTL', ''].join('\n');
    const read = async (timeZone: string, futureDays: number) => {
      const { verdicts } = await collect(
        ftlParser.parse([ftlInput('d.ftl', text, '2024-12-29T22:30:00Z')], { timeZone, futureDays }),
      );
      return (verdicts[0]!.meta as { messages: { message: string }[] }).messages[0]!.message;
    };
    // 22:30 UTC on the 29th is already the 30th in Moscow: 02JAN is then within three days.
    expect(await read('UTC', 3)).toBe('XX900/2024-01-02/DME');
    expect(await read('Europe/Moscow', 3)).toBe('XX900/2025-01-02/DME');
  });
});

describe('originator stamp', () => {
  it.each([
    ['a stamp earlier the same day', '281530', '2024-05-28T21:00:00Z', '2024-05-28T15:30:00Z'],
    [
      'a stamp of the last day of the previous year',
      '312359',
      '2025-01-01T00:30:00Z',
      '2024-12-31T23:59:00Z',
    ],
    ['a stamp just after receipt (clocks differ)', '011205', '2025-01-01T12:00:00Z', '2025-01-01T12:05:00Z'],
    ['a day that the receipt month lacks', '311200', '2024-07-01T08:00:00Z', '2024-05-31T12:00:00Z'],
  ])('resolves %s', (_what, stamp, receivedAt, expected) => {
    expect(resolveStamp(stamp, new Date(receivedAt))).toBe(expected);
  });

  it('does not resolve an impossible stamp', () => {
    expect(resolveStamp('322400', new Date('2024-05-28T21:00:00Z'))).toBeNull();
    expect(resolveStamp('282460', new Date('2024-05-28T21:00:00Z'))).toBeNull();
  });
});
