/**
 * Nights caught up after an outage: the first of them lands every file then on the servers, files that
 * carry the activity of the nights after it. Each activity is decided on the night of its date, as it
 * would have been had the nights run on time; an activity dated after the day its file came in is in the
 * future.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exportJob } from '../../jobs/export.js';
import { dailyReport } from '../../reports/daily.js';
import { availableEngines } from '../../test/harness/db.js';
import { dumpXlsx, skipWithoutOpenpyxl } from '../../test/harness/openpyxl.js';
import { tableOf } from '../../test/harness/report-scenario.js';
import { awardPostingKey, cancellationKey, flightKey, partnerKey, redemptionKey } from '../activity.js';
import { memberNumber, svoKznCoupon, useScenario, type Person, type Scenario } from './scenario.js';
import { exportCopy } from '../../test/harness/files.js';

const IVANOV: Person = { number: memberNumber(1), surname: 'IVANOV', givenName: 'IVAN' };

const coupon = (ticket: string, date: string) => svoKznCoupon(IVANOV, ticket, date);

const rental = (txn: string, date: string) => ({
  txn,
  member: IVANOV.number,
  surname: IVANOV.surname,
  date,
  type: 'RENTAL_DAY',
  spend: '100.00',
  currency: 'USD',
});

const flightOn = (date: string) =>
  flightKey(
    { carrier: 'XX', number: '245', date, origin: 'SVO', destination: 'KZN' },
    { program: 'XX', number: IVANOV.number },
  );

async function outcome(w: Scenario, key: string): Promise<[unknown, unknown]> {
  const a = await w.activity(key);
  return [a?.status, a?.reason];
}

for (const engine of availableEngines()) {
  describe(`nights caught up after an outage (${engine})`, () => {
    const s = useScenario(engine);

    it('decides each flight on the night of its date: the first night caught up posts its own, the flights of the nights after it wait for theirs', async () => {
      const w = s();
      await w.enrol('2026-06-01', IVANOV);
      // The nights of 2–4 June did not run; the flights of all three are on the server on the 5th.
      w.dropCoupons([
        coupon('0741000000002', '2026-06-02'),
        coupon('0741000000003', '2026-06-03'),
        coupon('0741000000004', '2026-06-04'),
      ]);
      // Each night is foretold by the simulator (one feed in the inbox) and held to it.
      const first = await w.night('2026-06-02', { at: '2026-06-05T02:30:00Z' });
      expect(first.accrue.counts.datedAhead).toBe(2);
      // Decided tonight: the flight of the 2nd; the two that wait are counted apart.
      expect(first.accrue.counts.activities).toBe(1);
      expect(await outcome(w, flightOn('2026-06-02'))).toEqual(['POSTED', null]);
      expect(await outcome(w, flightOn('2026-06-03'))).toEqual(['PENDING', 'DATED_AHEAD']);
      expect(await outcome(w, flightOn('2026-06-04'))).toEqual(['PENDING', 'DATED_AHEAD']);

      const second = await w.night('2026-06-03', { at: '2026-06-05T02:40:00Z' });
      expect(second.accrue.counts.datedAhead).toBe(1);
      expect(await outcome(w, flightOn('2026-06-03'))).toEqual(['POSTED', null]);
      expect(await outcome(w, flightOn('2026-06-04'))).toEqual(['PENDING', 'DATED_AHEAD']);

      const third = await w.night('2026-06-04', { at: '2026-06-05T02:50:00Z' });
      expect(third.accrue.counts.datedAhead).toBeUndefined();
      expect(await outcome(w, flightOn('2026-06-04'))).toEqual(['POSTED', null]);

      // Each credit belongs to its own night, as in the daily reports of those nights.
      const awards = (await w.postingsOf(IVANOV.number)).filter((p) => p.key.endsWith(':AWARD'));
      expect(awards.map((p) => [p.key, p.businessDate])).toEqual([
        [awardPostingKey(flightOn('2026-06-02')), '2026-06-02'],
        [awardPostingKey(flightOn('2026-06-03')), '2026-06-03'],
        [awardPostingKey(flightOn('2026-06-04')), '2026-06-04'],
      ]);
      const points = await Promise.all(
        ['2026-06-02', '2026-06-03', '2026-06-04'].map(async (d) =>
          Number((await w.activity(flightOn(d)))?.points),
        ),
      );
      expect(points.every((p) => p > 0)).toBe(true);
      expect(await w.balance(IVANOV.number)).toBe(points[0]! + points[1]! + points[2]!);
      expect(await w.knex('activities').where({ reason: 'FUTURE_DATE' })).toEqual([]);

      // Run again, the last night posts nothing.
      const postings = await w.postingCount();
      const again = await w.night('2026-06-04', { at: '2026-06-05T03:10:00Z' });
      expect(again.accrue.counts.postings).toBe(0);
      expect(await w.postingCount()).toBe(postings);
    });

    it("answers a partner's file the night its last record dated ahead is decided", async () => {
      const w = s();
      await w.enrol('2026-06-01', IVANOV);
      w.dropPartner('DRIVE', '2026-06-03', [rental('C-2', '2026-06-02'), rental('C-3', '2026-06-03')]);
      await w.night('2026-06-02', { at: '2026-06-04T02:30:00Z' });
      expect(await outcome(w, partnerKey('DRIVE', 'C-2'))).toEqual(['POSTED', null]);
      expect(await outcome(w, partnerKey('DRIVE', 'C-3'))).toEqual(['PENDING', 'DATED_AHEAD']);
      await w.run(exportJob, '2026-06-02', new Date('2026-06-04T02:35:00Z'));
      const responses = () => w.knex('files').where({ direction: 'out', feed: 'partner-response' });
      expect(await responses()).toEqual([]);

      await w.night('2026-06-03', { at: '2026-06-04T02:40:00Z' });
      await w.run(exportJob, '2026-06-03', new Date('2026-06-04T02:45:00Z'));
      const [response] = await responses();
      const lines = readFileSync(exportCopy(w.w.config, response.local_path), 'utf8').split('\r\n');
      expect(lines[1]).toMatch(new RegExp(`^D,C-2,${IVANOV.number},A,`));
      expect(lines[2]).toMatch(new RegExp(`^D,C-3,${IVANOV.number},A,`));
      expect((await w.posting(awardPostingKey(partnerKey('DRIVE', 'C-3'))))?.businessDate).toBe('2026-06-03');
    });

    it.skipIf(skipWithoutOpenpyxl())(
      'counts a record dated ahead and rejected on its own night in that night’s report, not the night that read it',
      async () => {
        const w = s();
        await w.enrol('2026-06-01', IVANOV);
        const file = w.dropPartner('DRIVE', '2026-06-03', [
          rental('C-2', '2026-06-02'),
          { ...rental('C-3', '2026-06-03'), surname: 'PETROV' },
        ]);
        const report = async (date: string, run: string) =>
          dumpXlsx(
            (await dailyReport(w.w.t.db, w.w.config, date, join(w.w.dir, 'reports', `${date}-${run}`)))
              .workbookPath,
          );
        const rejected = (dump: Awaited<ReturnType<typeof dumpXlsx>>, date: string) => {
          const summary = tableOf(dump, 'Summary');
          const detail = tableOf(dump, 'Reject detail');
          return {
            total: summary.cell(summary.row('Records rejected'), `${date} (today)`).value,
            detail: detail.rows.map((r) => ['File', 'Reason', 'Record'].map((h) => detail.cell(r, h).value)),
          };
        };
        await w.night('2026-06-02', { at: '2026-06-04T02:30:00Z' });
        expect(await outcome(w, partnerKey('DRIVE', 'C-3'))).toEqual(['PENDING', 'DATED_AHEAD']);
        const first = await report('2026-06-02', 'first');
        expect(rejected(first, '2026-06-02')).toEqual({ total: 0, detail: [] });

        await w.night('2026-06-03', { at: '2026-06-04T02:40:00Z' });
        expect(await outcome(w, partnerKey('DRIVE', 'C-3'))).toEqual(['REJECTED', 'NAME_MISMATCH']);
        expect(rejected(await report('2026-06-03', 'first'), '2026-06-03')).toEqual({
          total: 1,
          detail: [[file, 'NAME_MISMATCH', 'C-3']],
        });
        // The night that read it reported it waiting, and reads so again.
        expect(await report('2026-06-02', 'again')).toEqual(first);
      },
    );

    it('debits a redemption dated after the night as it comes, before the expiry that runs after accrue', async () => {
      const w = s();
      await w.enrol('2026-06-01', IVANOV);
      w.dropCoupons([coupon('0741000000002', '2026-06-02')]);
      await w.night('2026-06-02');
      const earned = await w.balance(IVANOV.number);
      expect(earned).toBeGreaterThan(100);
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2026-06-04', service: 'SEAT', points: 100 },
      ]);
      const night = await w.night('2026-06-03');
      expect(await outcome(w, redemptionKey('R-1'))).toEqual(['POSTED', null]);
      expect(night.accrue.counts.datedAhead).toBeUndefined();
      expect(await w.balance(IVANOV.number)).toBe(earned - 100);
    });

    it('applies a cancellation that came before its redemption once more in the second pass, and no row that waits for its night', async () => {
      const w = s();
      await w.enrol('2026-06-01', IVANOV);
      w.dropCoupons([coupon('0741000000002', '2026-06-02')]);
      await w.night('2026-06-02');
      w.dropPartner('DRIVE', '2026-06-04', [rental('C-4', '2026-06-04')]);
      w.dropRedemptions([
        {
          id: 'R-1',
          member: IVANOV.number,
          date: '2026-06-03',
          service: 'SEAT',
          points: 100,
          status: 'CANCELLED',
        },
        { id: 'R-1', member: IVANOV.number, date: '2026-06-03', service: 'SEAT', points: 100 },
      ]);
      const night = await w.night('2026-06-03', { at: '2026-06-04T02:30:00Z' });
      // The cancellation (twice: waiting, then applied) and its redemption; the rental waits apart.
      expect(night.accrue.counts).toMatchObject({ activities: 3, cancellationsAwaited: 1, datedAhead: 1 });
      expect(await outcome(w, cancellationKey('R-1'))).toEqual(['POSTED', null]);
      expect(await outcome(w, partnerKey('DRIVE', 'C-4'))).toEqual(['PENDING', 'DATED_AHEAD']);
    });

    it('rejects FUTURE_DATE what is dated more than a day after its file came in, and the simulator shows both', async () => {
      const w = s();
      await w.enrol('2026-06-01', IVANOV);
      const file = w.dropCoupons([
        coupon('0741000000002', '2026-06-02'),
        coupon('0741000000003', '2026-06-03'),
        coupon('0741000000004', '2026-06-04'),
      ]);
      // The simulator takes the files as received when they were: early on the 2nd.
      const shown = (await w.simulate('flown', file, '2026-06-02')).flatMap((e) =>
        e.type === 'record' ? [[e.activity, e.status, e.reason, e.message]] : [],
      );
      expect(shown).toEqual([
        [flightOn('2026-06-02'), 'POSTED', null, undefined],
        [
          flightOn('2026-06-03'),
          'PENDING',
          'DATED_AHEAD',
          'dated 2026-06-03, after the night of 2026-06-02: decided on the night of 2026-06-03',
        ],
        [
          flightOn('2026-06-04'),
          'REJECTED',
          'FUTURE_DATE',
          'activity date 2026-06-04 is after the processing date 2026-06-02 and more than a day after its file came in (2026-06-02)',
        ],
      ]);
      // The night, its files fetched late on the 2nd, does the same.
      await w.night('2026-06-02');
      expect(await outcome(w, flightOn('2026-06-03'))).toEqual(['PENDING', 'DATED_AHEAD']);
      expect(await outcome(w, flightOn('2026-06-04'))).toEqual(['REJECTED', 'FUTURE_DATE']);
      await w.night('2026-06-03');
      expect(await outcome(w, flightOn('2026-06-03'))).toEqual(['POSTED', null]);
    });
  });
}
