import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesInput, checkFileEvents, collect, csvField, fixtureInput } from './csv-testing.js';
import { addDays } from '../lib/dates.js';
import { RETRO_CLAIM_COLUMNS, retroClaimsParser, type RetroClaim } from './retro-claims.js';

const read = (name: string) => collect(retroClaimsParser, [fixtureInput(`retro-claims/${name}`)]);

describe('retro-claims parser on fixtures', () => {
  it('reads claims identified by ticket, by flight, or both', async () => {
    const { records, rejects, verdicts } = await read('valid.csv');
    expect(rejects).toEqual([]);
    expect(records.map((r) => r.record)).toEqual([
      {
        claimId: 'C-1',
        memberNumber: '0012345678',
        receivedDate: '2024-05-01',
        ticketNumber: '0741234567890',
        couponNumber: 2,
        carrier: null,
        flightNumber: null,
        flightDate: null,
        origin: null,
        destination: null,
        surname: 'IVANOV',
        givenName: 'IVAN',
        sourceFile: 'valid.csv',
        sourceLine: 2,
      },
      expect.objectContaining({
        claimId: 'C-2',
        ticketNumber: null,
        carrier: 'XX',
        flightNumber: '245',
        givenName: null,
      }),
      expect.objectContaining({
        claimId: 'C-3',
        memberNumber: '0000000042',
        surname: 'SMITH, JR',
        origin: 'SVO',
      }),
    ]);
    expect(verdicts[0]?.verdict).toBe('accepted');
  });

  it('reads a file that only carries ticket columns', async () => {
    const { records } = await read('ticket-only-columns.csv');
    expect(records[0]?.record).toMatchObject({
      claimId: 'C-9',
      couponNumber: 4,
      carrier: null,
      givenName: null,
    });
  });

  it('rejects each bad claim with its field and reason', async () => {
    const { records, rejects } = await read('reasons.csv');
    expect(records.map((r) => r.line)).toEqual([2]);
    expect(rejects.map((r) => `${r.line} ${r.field} ${r.reason}`)).toEqual([
      '3 carrier MISSING_FIELD',
      '4 coupon_number MISSING_FIELD',
      '5 ticket_number BAD_TICKET',
      '6 coupon_number BAD_COUPON',
      '7 received_date BAD_DATE',
      '8 origin BAD_FORMAT',
      '9 destination MISSING_FIELD',
      '10 member_number BAD_MEMBER_NUMBER',
      '11 surname MISSING_FIELD',
      '12 * MALFORMED',
      '13 received_date RECEIVED_BEFORE_FLIGHT',
    ]);
    expect(rejects[0]?.message).toBe(
      'carrier is required: expected ticket_number with coupon_number, or carrier, flight_number, flight_date, origin and destination',
    );
    expect(rejects.at(-1)?.message).toBe(
      'received_date: expected a date on or after the flight_date 2024-04-10 (a request is made after its flight), found "2014-05-01"',
    );
  });
});

describe('retro-claims parser properties', () => {
  it('never throws and accounts for every line of any input', async () => {
    const token = fc.constantFrom(
      ',',
      '"',
      '\n',
      '\r',
      'C-1',
      '0741234567890',
      '2024-05-01',
      'XX',
      '\0',
      '\xc3',
    );
    const header = RETRO_CLAIM_COLUMNS.map((c) => c.name).join(',');
    const body = fc.array(token, { maxLength: 60 }).map((t) => t.join(''));
    const bytes = fc.oneof(
      body.map((b) => Buffer.from(`${header}\r\n${b}`, 'latin1')),
      fc.uint8Array({ maxLength: 150 }).map((u) => Buffer.from(u)),
    );
    await fc.assert(
      fc.asyncProperty(bytes, fc.array(fc.nat({ max: 300 }), { maxLength: 4 }), async (buf, cuts) => {
        const { events } = await collect(retroClaimsParser, [bytesInput('c.csv', buf, cuts)]);
        expect(checkFileEvents(events, buf)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('reads back exactly the generated claims', async () => {
    const name = fc
      .array(fc.constantFrom('A', 'é', ' ', ',', '"', '\r\n'), { minLength: 1, maxLength: 8 })
      .map((p) => p.join('').trim())
      .filter((s) => s.length > 0);
    const date = fc
      .date({
        min: new Date('2000-01-01T00:00:00Z'),
        max: new Date('2035-12-31T00:00:00Z'),
        noInvalidDate: true,
      })
      .map((d) => d.toISOString().slice(0, 10));
    const claim = fc
      .record({
        claimId: fc.stringMatching(/^[0-9A-Za-z][0-9A-Za-z_.:-]{0,15}$/),
        memberNumber: fc.stringMatching(/^[0-9A-Z]{1,24}$/),
        receivedDate: date,
        ticket: fc.option(fc.tuple(fc.stringMatching(/^\d{13}$/), fc.integer({ min: 1, max: 4 })), {
          nil: null,
        }),
        flight: fc.option(
          fc.tuple(
            fc.stringMatching(/^[A-Z0-9]{2}$/),
            fc.stringMatching(/^\d{1,5}[A-Z]?$/),
            date,
            fc.stringMatching(/^[A-Z]{3}$/),
            fc.stringMatching(/^[A-Z]{3}$/),
          ),
          { nil: null },
        ),
        surname: name,
        givenName: fc.option(name, { nil: null }),
      })
      .filter((c) => c.ticket !== null || c.flight !== null)
      // A claim by flight is made after its flight (the property below reads the others).
      .filter((c) => c.ticket !== null || c.flight === null || c.receivedDate >= c.flight[2]);
    await fc.assert(
      fc.asyncProperty(
        fc.array(claim, { maxLength: 10 }),
        fc.array(fc.nat({ max: 2000 }), { maxLength: 4 }),
        async (claims, cuts) => {
          const lines = [RETRO_CLAIM_COLUMNS.map((c) => c.name).join(',')];
          let line = 2;
          const expected = claims.map((c): RetroClaim => {
            const cells = [
              c.claimId,
              c.memberNumber,
              c.receivedDate,
              c.ticket?.[0] ?? '',
              c.ticket === null ? '' : String(c.ticket[1]),
              ...(c.flight ?? ['', '', '', '', '']),
              c.surname,
              c.givenName ?? '',
            ];
            const row = cells.map((v) => csvField(v, ',')).join(',');
            lines.push(row);
            const record: RetroClaim = {
              claimId: c.claimId,
              memberNumber: c.memberNumber,
              receivedDate: c.receivedDate,
              ticketNumber: c.ticket?.[0] ?? null,
              couponNumber: c.ticket?.[1] ?? null,
              carrier: c.flight?.[0] ?? null,
              flightNumber: c.flight?.[1] ?? null,
              flightDate: c.flight?.[2] ?? null,
              origin: c.flight?.[3] ?? null,
              destination: c.flight?.[4] ?? null,
              surname: c.surname,
              givenName: c.givenName,
              sourceFile: 'c.csv',
              sourceLine: line,
            };
            line += 1 + (row.match(/\r\n|\r|\n/g)?.length ?? 0);
            return record;
          });
          const bytes = Buffer.from(lines.join('\r\n'));
          const { records, rejects, events } = await collect(retroClaimsParser, [
            bytesInput('c.csv', bytes, cuts),
          ]);
          expect(rejects).toEqual([]);
          expect(records.map((e) => e.record)).toEqual(expected);
          expect(checkFileEvents(events, bytes)).toEqual([]);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('refuses a claim by flight received before its flight, naming both dates, and reads every other', async () => {
    const date = fc
      .date({
        min: new Date('2000-01-01T00:00:00Z'),
        max: new Date('2035-12-31T00:00:00Z'),
        noInvalidDate: true,
      })
      .map((d) => d.toISOString().slice(0, 10));
    await fc.assert(
      // Days from the flight to the request: fast-check tries 0 and ±1 first, the edge of the rule.
      fc.asyncProperty(
        date,
        fc.integer({ min: -4000, max: 4000 }),
        fc.boolean(),
        async (flown, days, byTicket) => {
          const received = addDays(flown, days);
          const ticket = byTicket ? ['0741234567890', '1'] : ['', ''];
          const row = [
            'C-1',
            '0012345678',
            received,
            ...ticket,
            'XX',
            '245',
            flown,
            'SVO',
            'KZN',
            'IVANOV',
            '',
          ];
          const bytes = Buffer.from(
            `${RETRO_CLAIM_COLUMNS.map((c) => c.name).join(',')}\n${row.join(',')}\n`,
          );
          const { records, rejects } = await collect(retroClaimsParser, [bytesInput('c.csv', bytes)]);
          // A claim by ticket is judged by its coupon's date, which the member's flight_date may mistype.
          if (byTicket || received >= flown) {
            expect(rejects).toEqual([]);
            expect(records.map((r) => r.record.receivedDate)).toEqual([received]);
          } else {
            expect(records).toEqual([]);
            expect(rejects.map((r) => [r.line, r.field, r.reason])).toEqual([
              [2, 'received_date', 'RECEIVED_BEFORE_FLIGHT'],
            ]);
            expect(rejects[0]!.message).toContain(flown);
            expect(rejects[0]!.message).toContain(received);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
