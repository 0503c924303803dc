/**
 * A record sent again under its own id after it was rejected is decided afresh, so a partner can correct
 * it: a reversal that came before its original, a record whose name did not match, a reversal the balance
 * could not cover then. The rejected copy stays with its own file; a record posted before stays a
 * DUPLICATE, and a rerun of the night posts nothing new.
 */
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { ingestJob } from '../../jobs/ingest.js';
import { accrueJob } from '../../jobs/accrue.js';
import { exportJob } from '../../jobs/export.js';
import { partnerKey } from '../activity.js';
import { memberNumber, useScenario, type Person } from './scenario.js';

const IVANOV: Person = { number: memberNumber(1), surname: 'IVANOV', givenName: 'IVAN' };

const spend = (txn: string, amount: string, extra: Record<string, unknown> = {}) => ({
  txn,
  member: IVANOV.number,
  surname: 'IVANOV',
  date: '2026-03-05',
  type: 'CARD_SPEND',
  spend: amount,
  currency: 'USD',
  ...extra,
});
const reversal = (txn: string, points: number) => ({
  txn,
  member: IVANOV.number,
  surname: 'IVANOV',
  date: '2026-03-05',
  type: 'CARD_SPEND',
  points,
});

for (const engine of availableEngines()) {
  describe(`a rejected record sent again (${engine})`, () => {
    const s = useScenario(engine);

    it('takes back a credit with a reversal refused UNKNOWN_ORIGINAL before it, sent again after it', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      const early = w.dropPartner('REDBANK', '2026-03-10', [reversal('RB-9-R', -300)]);
      await w.night('2026-03-10');
      expect(await w.activity(partnerKey('REDBANK', 'RB-9-R'))).toMatchObject({
        status: 'REJECTED',
        reason: 'UNKNOWN_ORIGINAL',
      });
      w.dropPartner('REDBANK', '2026-03-11', [spend('RB-9', '300.00')]);
      await w.night('2026-03-11');
      expect(await w.balance(IVANOV.number)).toBe(300);

      const again = w.dropPartner('REDBANK', '2026-03-12', [reversal('RB-9-R', -300)]);
      const shown = await w.simulate('partner', again, '2026-03-12');
      expect(shown.find((e) => e.type === 'record')).toMatchObject({ status: 'REVERSED', points: -300 });
      const night = await w.night('2026-03-12');
      expect(night.ingest.counts['partner.sentAgain']).toBe(1);
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect(await w.activity(partnerKey('REDBANK', 'RB-9'))).toMatchObject({ status: 'REVERSED' });
      // The first copy stays rejected, with its own file, under a key of its own.
      const earlyFile = await w.knex('files').where({ name: early }).first('id');
      const copies = await w
        .knex('activities')
        .where({ external_ref: 'RB-9-R' })
        .orderBy('id')
        .select('activity_key', 'status', 'reason', 'source_file_id');
      expect(copies).toEqual([
        {
          activity_key: `${partnerKey('REDBANK', 'RB-9-R')}#${earlyFile.id}`,
          status: 'REJECTED',
          reason: 'UNKNOWN_ORIGINAL',
          source_file_id: earlyFile.id,
        },
        expect.objectContaining({ activity_key: partnerKey('REDBANK', 'RB-9-R'), status: 'POSTED' }),
      ]);
      expect(await w.rejects({ reason: 'DUPLICATE' })).toEqual([]);

      // The night again posts nothing, and a third copy, its reversal posted, is a DUPLICATE.
      const postings = await w.postingCount();
      await w.run(ingestJob, '2026-03-12');
      await w.run(accrueJob, '2026-03-12');
      w.dropPartner('REDBANK', '2026-03-13', [reversal('RB-9-R', -300)]);
      await w.night('2026-03-13');
      expect(await w.postingCount()).toBe(postings);
      expect((await w.rejects({ reason: 'DUPLICATE' })).map((r) => r.record_ref)).toEqual(['RB-9-R']);
    });

    it('credits a record corrected after NAME_MISMATCH; a posted record, or a second copy in the file, stays a DUPLICATE naming the first', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      const first = w.dropPartner('REDBANK', '2026-03-10', [
        spend('RB-5', '120.00', { surname: 'PETROV' }),
        spend('RB-6', '80.00'),
      ]);
      await w.night('2026-03-10');
      expect(await w.activity(partnerKey('REDBANK', 'RB-5'))).toMatchObject({ reason: 'NAME_MISMATCH' });
      const second = w.dropPartner('REDBANK', '2026-03-11', [
        spend('RB-5', '120.00'),
        spend('RB-6', '80.00'),
        spend('RB-5', '120.00'),
      ]);
      const shown = await w.simulate('partner', second, '2026-03-11');
      await w.night('2026-03-11');
      expect(await w.activity(partnerKey('REDBANK', 'RB-5'))).toMatchObject({
        status: 'POSTED',
        points: 120,
      });
      expect(await w.balance(IVANOV.number)).toBe(200);
      // The partner and the accountant read which file brought the record first, and what became of it.
      const duplicates = (await w.rejects({ reason: 'DUPLICATE' })).map((r) => [r.line, r.message]);
      expect(duplicates).toEqual([
        [3, `RB-6 was already received in ${first} (night of 2026-03-10) and posted`],
        [4, 'RB-5 was already received at line 2 of this file and waits to be decided'],
      ]);
      expect(
        shown.flatMap((e) => (e.type === 'record' && e.reason === 'DUPLICATE' ? [[e.line, e.message]] : [])),
      ).toEqual(duplicates);
    });

    it('takes back a credit with a reversal refused INSUFFICIENT_POINTS, sent again once the member has points', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropPartner('REDBANK', '2026-03-10', [spend('RB-1', '500.00')]);
      await w.night('2026-03-10');
      w.dropRedemptions([
        { id: 'AW-1', member: IVANOV.number, date: '2026-03-11', points: 500, service: 'AWARD_TICKET' },
      ]);
      await w.night('2026-03-11');
      expect(await w.balance(IVANOV.number)).toBe(0);
      w.dropPartner('REDBANK', '2026-03-12', [reversal('RB-1-R', -500)]);
      await w.night('2026-03-12', { foretold: false });
      expect(await w.activity(partnerKey('REDBANK', 'RB-1-R'))).toMatchObject({
        status: 'REJECTED',
        reason: 'INSUFFICIENT_POINTS',
      });
      w.dropPartner('REDBANK', '2026-03-13', [spend('RB-2', '600.00')]);
      await w.night('2026-03-13');
      w.dropPartner('REDBANK', '2026-03-14', [reversal('RB-1-R', -500)]);
      await w.night('2026-03-14');
      expect(await w.activity(partnerKey('REDBANK', 'RB-1-R'))).toMatchObject({
        status: 'POSTED',
        points: -500,
      });
      expect(await w.balance(IVANOV.number)).toBe(100);
    });

    it('answers a partner airline’s claim sent again after its rejection in the results of the file it came in', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      const claim = (surname: string) => ({
        id: 'LH-7',
        member: IVANOV.number,
        surname,
        carrier: 'LH',
        flight: '1444',
        date: '2026-03-10',
        from: 'FRA',
        to: 'SVO',
        cabin: 'Y',
        rbd: 'Y',
      });
      const inbound = () =>
        w
          .knex('alliance_claims')
          .where({ direction: 'IN', claim_id: 'LH-7' })
          .first('status', 'result_file_id');
      const resultsFiles = () =>
        w.knex('files').where({ direction: 'out', feed: 'alliance-results' }).orderBy('id').pluck('id');
      w.dropAllianceClaims('LH', [claim('PETROV')]);
      await w.night('2026-03-11');
      await w.run(exportJob, '2026-03-11');
      const [first] = await resultsFiles();
      expect(await inbound()).toMatchObject({ result_file_id: first });

      w.dropAllianceClaims('LH', [claim('IVANOV')]);
      await w.night('2026-03-12');
      // Sent again, it waits for an answer of its own: the first results file answered the first copy.
      expect(await inbound()).toMatchObject({ result_file_id: null });
      await w.run(exportJob, '2026-03-12');
      const files = await resultsFiles();
      expect(files).toHaveLength(2);
      expect(await inbound()).toMatchObject({ result_file_id: files[1] });
      expect(await w.balance(IVANOV.number)).toBeGreaterThan(0);
    });
  });
}
