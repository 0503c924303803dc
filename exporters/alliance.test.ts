/**
 * The claims round trip on both databases: our claims file read back by our parser, a partner's results
 * file answering it (written and read with the project's interface) matched back to what we sent, and
 * claims left without an answer listed once they are overdue.
 */
import { readFileSync, rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../config/load.js';
import { addDays } from '../lib/dates.js';
import { jobContext, DAY, recordNight, testConfig } from './fixtures/night.js';
import { exportJob } from '../jobs/export.js';
import { allianceClaimsParser, allianceResultsParser, type AllianceResult } from '../parsers/alliance.js';
import { collect, inputOf, split } from '../parsers/fixtures/xml/support.js';
import { availableEngines, createTestDatabase, type TestDb } from '../test/harness/db.js';
import { writeResultsFile } from './alliance-xml.js';
import { matchAllianceResults, unansweredAllianceClaims } from './alliance.js';
import { exportCopy } from '../test/harness/files.js';

for (const engine of availableEngines()) {
  describe(`alliance claims round trip on ${engine}`, () => {
    let t: TestDb;
    let config: LoadedConfig;

    beforeEach(async () => {
      t = await createTestDatabase(engine);
      config = testConfig();
      await recordNight(t.db);
      await exportJob(jobContext(t.db, config, DAY));
    });

    afterEach(async () => {
      await t.cleanup();
      rmSync(config.paths.outbox, { recursive: true, force: true });
    });

    async function sentTo(partner: string) {
      const row = await t.db
        .knex('files')
        .where({ direction: 'out', feed: 'alliance-claims', partner_code: partner })
        .first();
      const events = split(
        await collect(
          allianceClaimsParser.parse([inputOf(row.name, readFileSync(exportCopy(config, row.local_path)))]),
        ),
      );
      expect(events.verdict.verdict).toBe('accepted');
      expect(events.rejects).toEqual([]);
      return {
        row,
        meta: events.verdict.meta as { sender: string; receiver: string; sequence: number },
        claims: events.records.map((r) => r.record),
      };
    }

    /** The partner's answer, as it would arrive: written in the interface and read by our parser. */
    async function answerFrom(partnerProgram: string, sequence: number, results: AllianceResult[]) {
      const xml = writeResultsFile({
        sender: partnerProgram,
        receiver: 'XX',
        createdAt: '2026-12-02T04:00:00+01:00',
        answers: { sender: 'XX', receiver: partnerProgram, sequence },
        results,
      });
      const events = split(await collect(allianceResultsParser.parse([inputOf('results.xml', xml)])));
      expect(events.verdict.verdict).toBe('accepted');
      return events.records.map((r) => r.record);
    }

    const status = async () =>
      Object.fromEntries(
        (
          await t.db
            .knex('alliance_claims')
            .where('direction', 'OUT')
            .whereNotNull('file_id')
            .orderBy('claim_id')
        ).map((r) => [
          r.claim_id,
          [r.status, r.points === null ? null : Number(r.points), r.reason, r.answered_on],
        ]),
      );

    it('matches a partner’s results to the claims we sent, once, and lists what stays unanswered', async () => {
      const lh = await sentTo('LH');
      const ib = await sentTo('IB');
      expect(lh.meta).toMatchObject({ sender: 'XX', receiver: 'LH', sequence: 1 });
      const [lhClaim] = lh.claims;
      const [ibClaim] = ib.claims;

      // Before any answer, and once the configured days have passed, both claims are overdue.
      const due = config.exports.alliance.resultsDueDays;
      expect(
        await unansweredAllianceClaims(t.db.knex, { asOf: addDays(DAY, due - 1), dueDays: due }),
      ).toEqual([]);
      expect(
        (await unansweredAllianceClaims(t.db.knex, { asOf: addDays(DAY, due), dueDays: due })).map((c) => [
          c.partnerCode,
          c.claimId,
          c.daysOutstanding,
          c.fileName,
        ]),
      ).toEqual([
        ['IB', ibClaim!.claimId, due, 'XX_IB_20261130_000001.claims.xml'],
        ['LH', lhClaim!.claimId, due, 'XX_LH_20261130_000001.claims.xml'],
      ]);

      const results = await answerFrom('LH', lh.meta.sequence, [
        { claimId: lhClaim!.claimId, status: 'accepted', pointsCredited: 1234, tierHeld: 'FTL' },
        {
          claimId: 'XX-999999',
          status: 'rejected',
          reasonCode: 'MEMBER_UNKNOWN',
          reasonText: 'no such member',
        },
      ]);
      const report = await matchAllianceResults(t.db.knex, {
        partnerCode: 'LH',
        resultsFileId: null,
        businessDate: addDays(DAY, 2),
        answers: { sender: 'XX', receiver: 'LH', sequence: lh.meta.sequence },
        results,
      });
      expect(report).toEqual({
        matched: 1,
        updated: 1,
        unchanged: 0,
        unknown: ['XX-999999'],
        otherFile: [],
        conflicting: [],
        answered: { name: 'XX_LH_20261130_000001.claims.xml', sequence: lh.meta.sequence },
        leftUnanswered: [],
      });
      expect((await status())[lhClaim!.claimId]).toEqual(['ACCEPTED', 1234, null, addDays(DAY, 2)]);
      // As of the day before the answer arrived, it was still unanswered.
      expect(
        (await unansweredAllianceClaims(t.db.knex, { asOf: addDays(DAY, 1), dueDays: 1 })).map(
          (c) => c.claimId,
        ),
      ).toEqual([ibClaim!.claimId, lhClaim!.claimId]);
      expect(
        (await unansweredAllianceClaims(t.db.knex, { asOf: addDays(DAY, 2), dueDays: 1 })).map(
          (c) => c.claimId,
        ),
      ).toEqual([ibClaim!.claimId]);

      // The same results again change nothing; a different answer later does not overwrite the first.
      expect(
        await matchAllianceResults(t.db.knex, {
          partnerCode: 'LH',
          resultsFileId: null,
          businessDate: addDays(DAY, 3),
          results,
        }),
      ).toMatchObject({
        updated: 0,
        unchanged: 1,
      });
      const late = await answerFrom('LH', 9, [
        {
          claimId: lhClaim!.claimId,
          status: 'rejected',
          reasonCode: 'DUPLICATE',
          reasonText: 'already credited',
        },
      ]);
      expect(
        await matchAllianceResults(t.db.knex, {
          partnerCode: 'LH',
          resultsFileId: null,
          businessDate: addDays(DAY, 4),
          answers: { sender: 'XX', receiver: 'LH', sequence: 9 },
          results: late,
        }),
      ).toMatchObject({
        matched: 1,
        conflicting: [lhClaim!.claimId],
        otherFile: [
          {
            claimId: lhClaim!.claimId,
            sentIn: { name: 'XX_LH_20261130_000001.claims.xml', sequence: lh.meta.sequence },
          },
        ],
        // LH was sent no file 9.
        answered: null,
      });
      expect((await status())[lhClaim!.claimId]).toEqual(['ACCEPTED', 1234, null, addDays(DAY, 2)]);

      // A claim id sent to LH is unknown to IB: results match per partner.
      const ibAnswer = await answerFrom('IB', 1, [
        { claimId: lhClaim!.claimId, status: 'accepted', pointsCredited: 1, tierHeld: 'X' },
      ]);
      expect(
        await matchAllianceResults(t.db.knex, {
          partnerCode: 'IB',
          resultsFileId: null,
          businessDate: addDays(DAY, 2),
          results: ibAnswer,
        }),
      ).toMatchObject({
        matched: 0,
        unknown: [lhClaim!.claimId],
      });

      const rejected = await answerFrom('IB', 1, [
        {
          claimId: ibClaim!.claimId,
          status: 'rejected',
          reasonCode: 'NAME_MISMATCH',
          reasonText: 'GARCIA ≠ GARCÍA LÓPEZ',
        },
      ]);
      await matchAllianceResults(t.db.knex, {
        partnerCode: 'IB',
        resultsFileId: null,
        businessDate: addDays(DAY, 5),
        results: rejected,
      });
      expect((await status())[ibClaim!.claimId]).toEqual([
        'REJECTED',
        null,
        'NAME_MISMATCH',
        addDays(DAY, 5),
      ]);
      expect(await unansweredAllianceClaims(t.db.knex, { asOf: addDays(DAY, 30), dueDays: due })).toEqual([]);
    });

    it('records the results file that answered, when the ingest job passes it', async () => {
      const lh = await sentTo('LH');
      const [fileId] = (await t.db
        .knex('files')
        .insert({
          direction: 'in',
          feed: 'alliance-results',
          name: 'LH_XX_000001.results.xml',
          size: 1,
          sha256: 'f'.repeat(64),
          business_date: addDays(DAY, 1),
          partner_code: 'LH',
          verdict: 'accepted',
          created_at: '2026-12-01T05:00:00Z',
        })
        .returning('id')) as Array<{ id: number } | number>;
      const id = typeof fileId === 'object' ? fileId.id : fileId!;
      const results = await answerFrom('LH', 1, [
        { claimId: lh.claims[0]!.claimId, status: 'accepted', pointsCredited: 10, tierHeld: 'HON' },
      ]);
      await matchAllianceResults(t.db.knex, {
        partnerCode: 'LH',
        resultsFileId: id,
        businessDate: addDays(DAY, 1),
        results,
      });
      const claim = await t.db
        .knex('alliance_claims')
        .where({ direction: 'OUT', claim_id: lh.claims[0]!.claimId })
        .first();
      expect(Number(claim.result_file_id)).toBe(id);
    });
  });
}
