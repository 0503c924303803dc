import fc from 'fast-check';
import { SERVICE_TYPES } from '../ledger/accounts.js';
import { describe, expect, it } from 'vitest';
import { bytesInput, checkFileEvents, collect, csvField, fixtureInput } from './csv-testing.js';
import { REDEMPTION_COLUMNS, redemptionsParser, type Redemption } from './redemptions.js';

const read = (name: string) => collect(redemptionsParser, [fixtureInput(`redemptions/${name}`)]);

describe('redemptions parser on fixtures', () => {
  it('reads issues and cancellations with their references and partners', async () => {
    const { records, rejects, verdicts } = await read('valid.csv');
    expect(rejects).toEqual([]);
    expect(records.map((r) => r.record)).toEqual([
      {
        redemptionId: 'R-1001',
        memberNumber: '0012345678',
        redemptionDate: '2024-05-01',
        serviceType: 'AWARD_TICKET',
        points: 25000,
        reference: '0745550001112',
        partnerCode: null,
        status: 'ISSUED',
        sourceFile: 'valid.csv',
        sourceLine: 2,
      },
      expect.objectContaining({ serviceType: 'EXCESS_BAGGAGE', reference: 'EMD 0748881234567, bag 2' }),
      expect.objectContaining({
        memberNumber: '0000000042',
        serviceType: 'PARTNER_REWARD',
        partnerCode: 'ACME',
      }),
      expect.objectContaining({ redemptionId: 'R-1001', status: 'CANCELLED', sourceLine: 5 }),
    ]);
    expect(verdicts[0]).toMatchObject({
      verdict: 'accepted',
      meta: { delimiter: ',' },
      account: { lines: 5, structureLines: 1 },
    });
  });

  it('reads a semicolon file in another column order without the optional columns', async () => {
    const { records, verdicts } = await read('semicolon-reordered.csv');
    expect(
      records.map((r) => [r.record.redemptionId, r.record.memberNumber, r.record.points, r.record.reference]),
    ).toEqual([
      ['S-1', '77', 500, null],
      ['S-2', '077', 12, null],
    ]);
    expect(verdicts[0]).toMatchObject({ verdict: 'accepted', meta: { delimiter: ';' } });
  });

  it('rejects each bad row with its field and reason', async () => {
    const { records, rejects } = await read('reasons.csv');
    expect(records.map((r) => r.line)).toEqual([2]);
    expect(rejects.map((r) => `${r.line} ${r.field} ${r.reason}`)).toEqual([
      '3 partner_code MISSING_FIELD',
      '4 points BAD_POINTS',
      '5 points BAD_POINTS',
      '6 points BAD_POINTS',
      '7 service_type BAD_ENUM',
      '8 status BAD_STATUS',
      '9 redemption_date BAD_DATE',
      '10 member_number BAD_MEMBER_NUMBER',
      '11 redemption_id BAD_FORMAT',
      '12 points MISSING_FIELD',
      '13 * MALFORMED',
      '14 reference BAD_ENCODING',
      '15 partner_code BAD_FORMAT',
    ]);
    expect(rejects[0]?.message).toBe(
      'partner_code is required: expected the partner that delivered a PARTNER_REWARD',
    );
    expect(rejects[1]).toMatchObject({
      message: 'points: expected a positive whole number of points up to 2147483647, found "0"',
      text: '0',
    });
    expect(rejects[4]?.message).toContain('one of AWARD_TICKET, UPGRADE, EXCESS_BAGGAGE');
  });

  it('reads 2,147,483,647 points and rejects one more BAD_POINTS: the archive keeps them in an integer column', async () => {
    const text = [
      'redemption_id,member_number,redemption_date,service_type,points,status',
      'R-1,1000000016,2026-11-01,AWARD_TICKET,2147483647,ISSUED',
      'R-2,1000000016,2026-11-01,AWARD_TICKET,2147483648,ISSUED',
      'R-3,1000000016,2026-11-01,AWARD_TICKET,999999999999999,CANCELLED',
    ].join('\n');
    const { records, rejects } = await collect(redemptionsParser, [bytesInput('redemptions.csv', text)]);
    expect(records.map((r) => [r.line, r.record.points])).toEqual([[2, 2147483647]]);
    expect(rejects.map((r) => [r.file, r.line, r.field, r.reason, r.text])).toEqual([
      ['redemptions.csv', 3, 'points', 'BAD_POINTS', '2147483648'],
      ['redemptions.csv', 4, 'points', 'BAD_POINTS', '999999999999999'],
    ]);
  });

  it('rejects a redemption_id ending in :CANCEL, which would take the key of another id’s cancellation', async () => {
    const text = [
      'redemption_id,member_number,redemption_date,service_type,points,status',
      'R-1:CANCEL,1000000016,2026-11-01,SEAT,300,ISSUED',
      'R-1:CANCEL,1000000016,2026-11-02,SEAT,300,CANCELLED',
      'R-1:CANCELLED,1000000016,2026-11-01,SEAT,300,ISSUED',
      'R-1:cancel,1000000016,2026-11-01,SEAT,300,ISSUED',
    ].join('\n');
    const { records, rejects } = await collect(redemptionsParser, [bytesInput('redemptions.csv', text)]);
    expect(records.map((r) => [r.line, r.record.redemptionId])).toEqual([
      [4, 'R-1:CANCELLED'],
      [5, 'R-1:cancel'],
    ]);
    expect(rejects.map((r) => [r.line, r.field, r.reason, r.text])).toEqual([
      [2, 'redemption_id', 'BAD_FORMAT', 'R-1:CANCEL'],
      [3, 'redemption_id', 'BAD_FORMAT', 'R-1:CANCEL'],
    ]);
    expect(rejects[0]?.message).toBe(
      'redemption_id: expected an id not ending in :CANCEL, which would give it the key of the cancellation of R-1, found "R-1:CANCEL"',
    );
  });

  it('rejects the file when a required column is missing', async () => {
    const { verdicts } = await read('missing-status-column.csv');
    expect(verdicts[0]).toMatchObject({
      verdict: 'rejected',
      reason: 'BAD_HEADER_ROW',
      message: 'header lacks required column status',
    });
  });
});

describe('redemptions parser properties', () => {
  it('never throws and accounts for every line of any input', async () => {
    const token = fc.constantFrom(
      ',',
      ';',
      '"',
      '\n',
      '\r\n',
      'R-1',
      '100',
      'ISSUED',
      'SEAT',
      '2024-05-01',
      '\0',
      '\xff',
    );
    const header = REDEMPTION_COLUMNS.map((c) => c.name).join(',');
    const body = fc.array(token, { maxLength: 60 }).map((t) => t.join(''));
    const bytes = fc.oneof(
      body.map((b) => Buffer.from(`${header}\n${b}`, 'latin1')),
      fc.uint8Array({ maxLength: 150 }).map((u) => Buffer.from(u)),
    );
    await fc.assert(
      fc.asyncProperty(bytes, fc.array(fc.nat({ max: 300 }), { maxLength: 4 }), async (buf, cuts) => {
        const { events } = await collect(redemptionsParser, [bytesInput('r.csv', buf, cuts)]);
        expect(checkFileEvents(events, buf)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('reads back exactly the generated redemptions', async () => {
    const text = fc
      .array(fc.constantFrom('A', '7', 'Ж', ' ', ',', ';', '"', '\n'), { minLength: 1, maxLength: 10 })
      .map((p) => p.join('').trim())
      .filter((s) => s.length > 0);
    const redemption = fc
      .record({
        redemptionId: fc
          .stringMatching(/^[0-9A-Za-z][0-9A-Za-z_.:-]{0,15}$/)
          .filter((id) => !id.endsWith(':CANCEL')),
        memberNumber: fc.stringMatching(/^[0-9A-Z]{1,24}$/),
        redemptionDate: fc
          .date({
            min: new Date('2000-01-01T00:00:00Z'),
            max: new Date('2035-12-31T00:00:00Z'),
            noInvalidDate: true,
          })
          .map((d) => d.toISOString().slice(0, 10)),
        serviceType: fc.constantFrom(...SERVICE_TYPES),
        points: fc.integer({ min: 1, max: 10_000_000 }),
        reference: fc.option(text, { nil: null }),
        partnerCode: fc.option(fc.stringMatching(/^[A-Z0-9]{2,8}$/), { nil: null }),
        status: fc.constantFrom('ISSUED', 'CANCELLED') as fc.Arbitrary<Redemption['status']>,
      })
      .filter((r) => r.serviceType !== 'PARTNER_REWARD' || r.partnerCode !== null);
    await fc.assert(
      fc.asyncProperty(
        fc.array(redemption, { maxLength: 10 }),
        fc.constantFrom(',', ';'),
        fc.array(fc.nat({ max: 2000 }), { maxLength: 4 }),
        async (rows, sep, cuts) => {
          const names = REDEMPTION_COLUMNS.map((c) => c.name);
          const lines = [names.join(sep)];
          let line = 2;
          const expected = rows.map((r) => {
            const cells = [
              r.redemptionId,
              r.memberNumber,
              r.redemptionDate,
              r.serviceType,
              String(r.points),
              r.reference ?? '',
              r.partnerCode ?? '',
              r.status,
            ];
            const row = cells.map((c) => csvField(c, sep)).join(sep);
            lines.push(row);
            const record: Redemption = { ...r, sourceFile: 'r.csv', sourceLine: line };
            line += 1 + (row.match(/\r\n|\r|\n/g)?.length ?? 0);
            return record;
          });
          const bytes = Buffer.from(`${lines.join('\n')}\n`);
          const { records, rejects, events } = await collect(redemptionsParser, [
            bytesInput('r.csv', bytes, cuts),
          ]);
          expect(rejects).toEqual([]);
          expect(records.map((e) => e.record)).toEqual(expected);
          expect(checkFileEvents(events, bytes)).toEqual([]);
        },
      ),
      { numRuns: 150 },
    );
  });
});
