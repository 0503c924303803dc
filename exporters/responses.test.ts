/**
 * A partner file larger than one page of the response query: records and unreadable lines interleaved,
 * streamed into the response in the request's order with the right counts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import { availableEngines, createTestDatabase, type TestDb } from '../test/harness/db.js';
import { DAY, insertInboundFile } from './fixtures/night.js';
import { partnerResponseChunks } from './partner-response.js';
import { inboundFilesToAnswer, partnerResponseSource } from './responses.js';

const RECORDS = 5_200;

for (const engine of availableEngines()) {
  describe(`partner response paging on ${engine}`, () => {
    let t: TestDb;

    beforeEach(async () => {
      t = await createTestDatabase(engine);
    });

    afterEach(async () => {
      await t.cleanup();
    });

    it('streams every record of a large file in line order, activities and unreadable lines merged', async () => {
      const q = t.db.knex;
      const fileId = await insertInboundFile(q, {
        feed: 'partner',
        name: 'REDBANK_20261130_0042.csv',
        partnerCode: 'REDBANK',
        sequence: 42,
        verdict: 'accepted',
      });
      // Every 13th line could not be read; the others are records, every 7th of them rejected.
      const activities: Record<string, unknown>[] = [];
      const rejects: Record<string, unknown>[] = [];
      for (let line = 2; line < RECORDS + 2; line++) {
        if (line % 13 === 0) {
          rejects.push({
            file_id: fileId,
            feed: 'partner',
            line,
            field: 'spend_amount',
            reason: 'BAD_AMOUNT',
            message: 'spend_amount: not a number',
            record_ref: `B${line}`,
            business_date: DAY,
            created_at: '2026-11-30T23:00:00Z',
          });
          continue;
        }
        activities.push({
          activity_key: `PTR:REDBANK:B${line}`,
          type: 'PARTNER',
          member_number: '1000000016',
          activity_date: '2026-11-20',
          business_date: DAY,
          partner_code: 'REDBANK',
          external_ref: `B${line}`,
          status: line % 7 === 0 ? 'REJECTED' : 'POSTED',
          reason: line % 7 === 0 ? 'NO_CONTRACT' : null,
          points: line % 7 === 0 ? 0 : 10,
          needs_accrual: false,
          source_file_id: fileId,
          source_line: line,
          updated_at: '2026-11-30T23:00:00Z',
        });
      }
      // Inserted out of order: the response must not depend on insertion order.
      await q.batchInsert('activities', activities.reverse(), 500);
      await q.batchInsert('rejects', rejects, 500);

      const [file] = await inboundFilesToAnswer(q, 'partner', 'partner-response', DAY);
      const source = await partnerResponseSource(q, file!, '2026-12-01T01:30:00Z');
      expect(source.header).toMatchObject({
        accepted: activities.filter((a) => a.status === 'POSTED').length,
      });
      let text = '';
      for await (const chunk of partnerResponseChunks(source.header, source.records)) text += chunk;
      const rows = parse(text, { relax_column_count: true }) as string[][];
      const d = rows.filter((r) => r[0] === 'D');
      expect(d.map((r) => r[1])).toEqual(Array.from({ length: RECORDS }, (_, i) => `B${i + 2}`));
      expect(d.filter((r) => r[3] === 'R').length).toBe(Number(rows[0]![5]));
      expect(rows[rows.length - 1]).toEqual(['T', String(RECORDS), String(Number(rows[0]![4]) * 10)]);
    });

    it('tells the partner only codes of its format, the program’s own reason leading the text', async () => {
      const q = t.db.knex;
      const fileId = await insertInboundFile(q, {
        feed: 'partner',
        name: 'REDBANK_20261130_0043.csv',
        partnerCode: 'REDBANK',
        sequence: 43,
        verdict: 'accepted',
      });
      await q('activities').insert({
        activity_key: 'PTR:REDBANK:X9-R',
        type: 'PARTNER',
        member_number: '1000000016',
        activity_date: '2026-11-20',
        business_date: DAY,
        partner_code: 'REDBANK',
        external_ref: 'X9-R',
        status: 'REJECTED',
        reason: 'UNKNOWN_ORIGINAL',
        points: 0,
        needs_accrual: false,
        source_file_id: fileId,
        source_line: 2,
        updated_at: '2026-11-30T23:00:00Z',
      });
      // The month's cap was reached before this one: nothing of it could be credited.
      await q('activities').insert({
        activity_key: 'PTR:REDBANK:X10',
        type: 'PARTNER',
        member_number: '1000000016',
        activity_date: '2026-11-20',
        business_date: DAY,
        partner_code: 'REDBANK',
        external_ref: 'X10',
        status: 'REJECTED',
        reason: 'CAP_EXCEEDED',
        points: 0,
        needs_accrual: false,
        source_file_id: fileId,
        source_line: 3,
        updated_at: '2026-11-30T23:00:00Z',
      });
      const [file] = await inboundFilesToAnswer(q, 'partner', 'partner-response', DAY);
      const source = await partnerResponseSource(q, file!, '2026-12-01T01:30:00Z');
      const records = [];
      for await (const r of source.records) records.push(r);
      expect(records).toEqual([
        expect.objectContaining({
          status: 'R',
          reasonCode: 'MALFORMED',
          reasonText: 'UNKNOWN_ORIGINAL: a reversal names a partner transaction that was never credited',
        }),
        // Rejected, so the text does not say "partially accepted" (the code's meaning in the format).
        expect.objectContaining({
          status: 'R',
          pointsPosted: 0,
          reasonCode: 'CAP_EXCEEDED',
          reasonText: 'a per-activity or per-period cap left nothing to credit: no points posted',
        }),
      ]);
    });

    it('tells the partner what the rule said of its record, but not the member’s balance', async () => {
      const q = t.db.knex;
      const fileId = await insertInboundFile(q, {
        feed: 'partner',
        name: 'REDBANK_20261130_0044.csv',
        partnerCode: 'REDBANK',
        sequence: 44,
        verdict: 'accepted',
      });
      const refused = (line: number, reason: string, field: string, message: string) => ({
        activity_key: `PTR:REDBANK:Y${line}`,
        type: 'PARTNER',
        member_number: '1000000016',
        activity_date: '2026-11-20',
        business_date: DAY,
        partner_code: 'REDBANK',
        external_ref: `Y${line}`,
        status: 'REJECTED',
        reason,
        reason_field: field,
        reason_message: message,
        points: 0,
        needs_accrual: false,
        source_file_id: fileId,
        source_line: line,
        updated_at: '2026-11-30T23:00:00Z',
      });
      await q('activities').insert([
        refused(2, 'NO_CONTRACT', 'activity_type', 'no REDBANK contract covers GROCERY on 2026-11-20'),
        refused(
          3,
          'UNKNOWN_ORIGINAL',
          'partner_txn_id',
          'Y0 was never credited, so Y3 has nothing to reverse',
        ),
        refused(
          4,
          'INSUFFICIENT_POINTS',
          'points',
          'posting PTR:REDBANK:Y0:AWARD:REV needs 500 from MEMBER:1000000016:PTS, which holds 20',
        ),
      ]);
      const [file] = await inboundFilesToAnswer(q, 'partner', 'partner-response', DAY);
      const source = await partnerResponseSource(q, file!, '2026-12-01T01:30:00Z');
      const records = [];
      for await (const r of source.records) records.push(r);
      expect(records.map((r) => [r.reasonCode, r.reasonText])).toEqual([
        ['NO_CONTRACT', 'no REDBANK contract covers GROCERY on 2026-11-20'],
        ['MALFORMED', 'UNKNOWN_ORIGINAL: Y0 was never credited, so Y3 has nothing to reverse'],
        ['BAD_AMOUNT', 'INSUFFICIENT_POINTS: the redemption is larger than the available balance'],
      ]);
    });
  });
}
