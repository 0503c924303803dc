/**
 * The flown-coupon writer shared by the demo and the benchmark: what it writes, the parser reads back
 * unchanged, quoting and trailer included, with either separator.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { flownParser, type FlownCoupon } from '../parsers/flown.js';
import type { ParseEvent, VerdictEvent } from '../parsers/types.js';
import { FLOWN_HEADER, FlownCsvBuilder } from './flown-csv.js';

function row(surname: string, fare: string): string[] {
  const values: Record<string, string> = {
    ticket_number: '9582100000017',
    coupon_number: '1',
    issue_date: '2026-09-30',
    pnr: 'K7QX2M',
    operating_carrier: 'XX',
    operating_flight: '101',
    marketing_carrier: 'XX',
    marketing_flight: '101',
    flight_date: '2026-10-01',
    origin: 'SVO',
    destination: 'LED',
    cabin: 'Y',
    booked_rbd: 'M',
    flown_rbd: 'M',
    fare_basis: 'MSTDRT',
    passenger_surname: surname,
    passenger_given_name: 'ANNA MRS',
    passenger_type: 'ADT',
    ffp_carrier: 'XX',
    ffp_number: '1000000024',
    fare_amount: fare,
    carrier_surcharge_amount: '6.00',
    tax_amount: '4.61',
    currency: 'USD',
    coupon_status: 'F',
    source_ref: 'RA1',
  };
  return FLOWN_HEADER.map((c) => values[c]!);
}

describe('FlownCsvBuilder', () => {
  it.each([',', ';'] as const)(
    'writes rows the parser reads back, quoting and trailer included (%s)',
    async (sep) => {
      const csv = new FlownCsvBuilder(sep);
      const text =
        csv.header() +
        csv.line(row('PETROVA', '89.45')) +
        csv.line(row(`O"BRIEN${sep} JR`, '100.5')) +
        csv.line(row('SMITH', '0.05')) +
        csv.trailer();
      expect(csv.rows).toBe(3);
      expect(csv.fareSum.toString()).toBe('190.00');
      expect(text.endsWith(`#TRAILER${sep}3${sep}190.00\n`)).toBe(true);
      const events: ParseEvent<FlownCoupon>[] = [];
      for await (const e of flownParser.parse([
        { name: 'f.csv', open: () => Readable.from([Buffer.from(text)]), receivedAt: new Date() },
      ])) {
        events.push(e);
      }
      const verdict = events.find((e) => e.type === 'verdict') as VerdictEvent;
      expect(verdict.verdict).toBe('accepted');
      const coupons = events.flatMap((e) => (e.type === 'record' ? [e.record] : []));
      expect(coupons.map((c) => [c.passengerSurname, c.fareAmount])).toEqual([
        ['PETROVA', '89.45'],
        [`O"BRIEN${sep} JR`, '100.5'],
        ['SMITH', '0.05'],
      ]);
    },
  );
});
