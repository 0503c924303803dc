/**
 * Redemptions from the award and ancillary systems: points leave in the order they would expire, a
 * cancellation gives back the very lots with their dates, and a redemption larger than the balance is
 * refused, never posted as a negative balance.
 */
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { accrueJob } from '../../jobs/accrue.js';
import { fetchJob } from '../../jobs/fetch.js';
import { ingestJob } from '../../jobs/ingest.js';
import { Accounts } from '../../ledger/accounts.js';
import { liabilityMovements } from '../../reports/queries.js';
import { cancellationKey, partnerKey, redemptionKey, reversalKey } from '../activity.js';
import { filesShow } from './files-show-cli.js';
import { memberNumber, useScenario, type Person, type Scenario } from './scenario.js';

const IVANOV: Person = { number: memberNumber(1), surname: 'IVANOV', givenName: 'IVAN' };
const PETROV: Person = { number: memberNumber(2), surname: 'PETROV', givenName: 'PETR' };
const SIDOROV: Person = { number: memberNumber(3), surname: 'SIDOROV', givenName: 'SERGEI' };

function rent(w: Scenario, txn: string, date: string, points: number, fileDate: string): void {
  w.dropPartner('DRIVE', fileDate, [
    {
      txn,
      member: IVANOV.number,
      surname: 'IVANOV',
      date,
      type: 'RENTAL_DAY',
      spend: `${points}.00`,
      currency: 'USD',
    },
  ]);
}

/** Lots of March (500, credited first) and January (1,000, reported late): January expires first. */
async function twoLots(w: Scenario): Promise<void> {
  await w.enrol('2026-01-01', IVANOV);
  rent(w, 'L-MAR', '2026-03-02', 500, '2026-03-03');
  await w.night('2026-03-03');
  rent(w, 'L-JAN', '2026-01-20', 1000, '2026-03-04');
  await w.night('2026-03-04');
  expect(await w.lotSummary(IVANOV.number)).toEqual([
    [1000, '2029-01-31'],
    [500, '2029-03-31'],
  ]);
}

/**
 * March's 500 (expiring 31 March 2029) and June's 100 (30 June 2029); R-1 takes 300 of March's lot on
 * 10 March 2029. The March lot's id is returned.
 */
async function spentBeforeItsDate(w: Scenario): Promise<number> {
  await w.enrol('2026-01-01', IVANOV);
  rent(w, 'L-MAR', '2026-03-02', 500, '2026-03-03');
  await w.night('2026-03-03');
  rent(w, 'L-JUN', '2026-06-02', 100, '2026-06-03');
  await w.night('2026-06-03');
  w.dropRedemptions([
    { id: 'R-1', member: IVANOV.number, date: '2029-03-10', service: 'AWARD_TICKET', points: 300 },
  ]);
  await w.night('2029-03-10');
  expect(await w.lotSummary(IVANOV.number)).toEqual([
    [200, '2029-03-31'],
    [100, '2029-06-30'],
  ]);
  return (await w.lots(IVANOV.number))[0]!.id;
}

/**
 * March's 500 (expiring 31 March 2029) and June's `june` (30 June 2029), March's taken by the expire job
 * of 31 March 2029, a night with no redemption file. The March lot's id is returned.
 */
async function expiredTheNightBefore(w: Scenario, june: number): Promise<number> {
  await w.enrol('2026-01-01', IVANOV);
  rent(w, 'L-MAR', '2026-03-02', 500, '2026-03-03');
  await w.night('2026-03-03');
  rent(w, 'L-JUN', '2026-06-02', june, '2026-06-03');
  await w.night('2026-06-03');
  const march = (await w.lots(IVANOV.number))[0]!.id;
  expect((await w.night('2029-03-31')).expire.counts).toMatchObject({ lots: 1, points: 500 });
  expect(await w.lotSummary(IVANOV.number)).toEqual([[june, '2029-06-30']]);
  return march;
}

const cancelled = (id: string, member: string, points: number, date: string) => ({
  id,
  member,
  date,
  service: 'AWARD_TICKET',
  points,
  status: 'CANCELLED' as const,
});

/** Status, reason, field and message of each record `simulate` shows for a redemptions file. */
const shownFor = async (w: Scenario, file: string, date: string) =>
  (await w.simulate('redemptions', file, date)).flatMap((e) =>
    e.type === 'record' ? [[e.activity, e.status, e.reason ?? null, e.message ?? null]] : [],
  );

for (const engine of availableEngines()) {
  describe(`redemptions (${engine})`, () => {
    const s = useScenario(engine);

    it('takes points from the earliest-expiring lot first, whatever the order they were credited in', async () => {
      const w = s();
      await twoLots(w);
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2026-03-05', service: 'AWARD_TICKET', points: 1200 },
      ]);
      await w.night('2026-03-05');
      // January's 1,000 and 200 of March's 500.
      expect(await w.lotSummary(IVANOV.number)).toEqual([[300, '2029-03-31']]);
      expect(await w.balance(IVANOV.number)).toBe(300);
      expect(await w.posting(redemptionKey('R-1'))).toMatchObject({
        kind: 'REDEMPTION',
        entries: {
          [Accounts.memberPoints(IVANOV.number)]: -1200,
          [Accounts.redemption('AWARD_TICKET')]: 1200,
        },
      });
      expect(await w.activity(redemptionKey('R-1'))).toMatchObject({ status: 'POSTED', points: -1200 });
    });

    it('gives a cancelled redemption back to the same lots with their expiry dates', async () => {
      const w = s();
      await twoLots(w);
      const before = await w.lots(IVANOV.number);
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2026-03-05', service: 'UPGRADE', points: 1200 },
      ]);
      await w.night('2026-03-05');
      w.dropRedemptions([
        {
          id: 'R-1',
          member: IVANOV.number,
          date: '2026-03-06',
          service: 'UPGRADE',
          points: 1200,
          status: 'CANCELLED',
        },
      ]);
      await w.night('2026-03-06');
      const after = await w.lots(IVANOV.number);
      expect(after.map((l) => [l.id, l.remaining, l.earnedOn, l.expiresOn])).toEqual(
        before.map((l) => [l.id, l.remaining, l.earnedOn, l.expiresOn]),
      );
      expect(await w.balance(IVANOV.number)).toBe(1500);
      const original = await w.posting(redemptionKey('R-1'));
      expect(await w.posting(cancellationKey('R-1'))).toMatchObject({
        kind: 'REVERSAL',
        reversalOf: original!.id,
        entries: { [Accounts.memberPoints(IVANOV.number)]: 1200, [Accounts.redemption('UPGRADE')]: -1200 },
      });
      expect(await w.activity(redemptionKey('R-1'))).toMatchObject({
        status: 'REVERSED',
        reason: 'CANCELLED',
      });
      expect(await w.activity(cancellationKey('R-1'))).toMatchObject({ status: 'POSTED', points: 1200 });
    });

    it('a cancellation after its points’ date gives them back expired: a redemption of the same night cannot spend them', async () => {
      const w = s();
      const march = await spentBeforeItsDate(w);
      const due = await w.night('2029-03-31');
      expect(due.expire.counts).toMatchObject({ lots: 1, points: 200 });
      expect(await w.balance(IVANOV.number)).toBe(100);

      const file = w.dropRedemptions([
        cancelled('R-1', IVANOV.number, 300, '2029-04-05'),
        { id: 'R-2', member: IVANOV.number, date: '2029-04-05', service: 'UPGRADE', points: 350 },
      ]);
      expect(await shownFor(w, file, '2029-04-05')).toEqual([
        [
          cancellationKey('R-1'),
          'REVERSED',
          null,
          `300 points of it go back to lots past their date: booked to ${Accounts.expiry}`,
        ],
        [redemptionKey('R-2'), 'REJECTED', 'INSUFFICIENT_POINTS', expect.stringContaining('which holds 100')],
      ]);
      const night = await w.night('2029-04-05');
      // The ticket is cancelled, but its points had expired with their lot: they go to EXPIRY, not back
      // to the balance, as they would have had the ticket never been issued.
      const cancellation = await w.posting(cancellationKey('R-1'));
      expect(cancellation).toMatchObject({
        entries: { [Accounts.redemption('AWARD_TICKET')]: -300, [Accounts.expiry]: 300 },
        detail: { lapsed: 300 },
      });
      expect(cancellation!.entries[Accounts.memberPoints(IVANOV.number)]).toBeUndefined();
      expect(await w.activity(cancellationKey('R-1'))).toMatchObject({ status: 'POSTED', points: 300 });
      expect(await w.activity(redemptionKey('R-1'))).toMatchObject({ status: 'REVERSED' });
      // R-2 is refused as it is when it comes a night later.
      expect(await w.activity(redemptionKey('R-2'))).toMatchObject({
        status: 'REJECTED',
        reason: 'INSUFFICIENT_POINTS',
      });
      expect(await w.balance(IVANOV.number)).toBe(100);
      // Nothing is left in March's lot for the expire job to take twice.
      expect(night.expire.counts).toMatchObject({ lots: 0, points: 0 });
      expect(await w.lotSummary(IVANOV.number)).toEqual([[100, '2029-06-30']]);
      expect(Number((await w.knex('lots').where({ id: march }).first('remaining')).remaining)).toBe(0);

      const count = await w.postingCount();
      await w.run(accrueJob, '2029-04-05');
      expect((await w.night('2029-04-06')).expire.counts.lots).toBe(0);
      expect(await w.postingCount()).toBe(count);

      // The whole of March's 500 reads as expired: a partner's reversal of it takes them from EXPIRY,
      // not from June's 100.
      rent(w, 'L-MAR-R', '2029-04-07', -500, '2029-04-07');
      await w.night('2029-04-07');
      const original = await w.activity(partnerKey('DRIVE', 'L-MAR'));
      expect((await w.posting(reversalKey(String(original?.posting_key))))?.entries).toEqual({
        [Accounts.expiry]: -500,
        [Accounts.partner('DRIVE')]: 500,
      });
      expect(await w.balance(IVANOV.number)).toBe(100);
    });

    it('a cancellation on a night caught up before its points’ expiry ran books them to EXPIRY, and the expire job takes only the rest of the lot', async () => {
      const w = s();
      const march = await spentBeforeItsDate(w);
      // The nights of 31 March to 4 April did not run: March's 200 are past their date, not expired yet.
      w.dropRedemptions([cancelled('R-1', IVANOV.number, 300, '2029-04-05')]);
      const night = await w.night('2029-04-05');
      expect((await w.posting(cancellationKey('R-1')))?.entries).toEqual({
        [Accounts.redemption('AWARD_TICKET')]: -300,
        [Accounts.expiry]: 300,
      });
      expect(night.expire.counts).toMatchObject({ lots: 1, points: 200 });
      expect((await w.posting(`EXP:${march}`))?.entries).toMatchObject({ [Accounts.expiry]: 200 });
      expect(await w.posting(`EXP:${march}:2`)).toBeUndefined();
      expect(await w.balance(IVANOV.number)).toBe(100);
      expect(await w.lotSummary(IVANOV.number)).toEqual([[100, '2029-06-30']]);
    });

    it('a redemption cancelled the night its lot is due gives the points back expired, as the simulator shows', async () => {
      const w = s();
      await spentBeforeItsDate(w);
      // R-3 takes the 200 left of March's lot tonight, before the expiry; its cancellation comes in the
      // same file, and those points, due tonight, go to EXPIRY with the rest of the lot.
      const file = w.dropRedemptions([
        { id: 'R-3', member: IVANOV.number, date: '2029-03-31', service: 'AWARD_TICKET', points: 250 },
        cancelled('R-3', IVANOV.number, 250, '2029-03-31'),
      ]);
      expect(
        (await shownFor(w, file, '2029-03-31')).map(([activity, status, , message]) => [
          activity,
          status,
          message,
        ]),
      ).toEqual([
        [redemptionKey('R-3'), 'POSTED', null],
        [
          cancellationKey('R-3'),
          'REVERSED',
          `200 points of it go back to lots past their date: booked to ${Accounts.expiry}`,
        ],
      ]);
      const night = await w.night('2029-03-31');
      expect((await w.posting(cancellationKey('R-3')))?.entries).toEqual({
        [Accounts.redemption('AWARD_TICKET')]: -250,
        [Accounts.expiry]: 200,
        [Accounts.memberPoints(IVANOV.number)]: 50,
      });
      expect(night.expire.counts).toMatchObject({ lots: 0, points: 0 });
      expect(await w.balance(IVANOV.number)).toBe(100);
      expect(await w.lotSummary(IVANOV.number)).toEqual([[100, '2029-06-30']]);
    });

    it('a redemption made on its points’ last day and sent the next night spends them, taken back from EXPIRY', async () => {
      const w = s();
      const march = await expiredTheNightBefore(w, 100);
      // The seat was issued on 31 March against March's points, valid that day; the file comes a night later.
      const file = w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2029-03-31', service: 'SEAT', points: 300 },
      ]);
      expect(await shownFor(w, file, '2029-04-01')).toEqual([
        [
          redemptionKey('R-1'),
          'POSTED',
          null,
          `300 points of it were valid on 2029-03-31 and expired since: taken back from ${Accounts.expiry}`,
        ],
      ]);
      const night = await w.night('2029-04-01');
      expect(await w.activity(redemptionKey('R-1'))).toMatchObject({ status: 'POSTED', points: -300 });
      expect(await w.posting(redemptionKey('R-1'))).toMatchObject({
        entries: { [Accounts.memberPoints(IVANOV.number)]: -300, [Accounts.redemption('SEAT')]: 300 },
        detail: { unexpired: 300 },
      });
      // March's expiry is taken back, and what the seat left of it expires again under the lot's next key.
      expect((await w.posting(`EXP:${march}:REDEEMED`))?.entries).toEqual({
        [Accounts.expiry]: -500,
        [Accounts.memberPoints(IVANOV.number)]: 500,
      });
      expect((await w.posting(`EXP:${march}:2`))?.entries).toEqual({
        [Accounts.memberPoints(IVANOV.number)]: -200,
        [Accounts.expiry]: 200,
      });
      // June's 100 untouched; 200 of March's 500 expired, 300 redeemed.
      expect(await w.balance(IVANOV.number)).toBe(100);
      expect(await w.lotSummary(IVANOV.number)).toEqual([[100, '2029-06-30']]);
      expect(night.expire.counts).toMatchObject({ lots: 0, points: 0 });
      const movements = await liabilityMovements(w.w.t.db, '2029-03-31', '2029-04-01');
      const sum = (kind: string) =>
        movements.filter((m) => m.kind === kind).reduce((n, m) => n - m.points, 0);
      expect([sum('EXPIRY'), sum('REDEMPTION')]).toEqual([200, 300]);

      // A rerun posts nothing.
      const count = await w.postingCount();
      await w.run(accrueJob, '2029-04-01');
      await w.night('2029-04-02');
      expect(await w.postingCount()).toBe(count);

      // The seat cancelled: its points go back to March's lot, past its date, booked to EXPIRY.
      w.dropRedemptions([{ ...cancelled('R-1', IVANOV.number, 300, '2029-04-05'), service: 'SEAT' }]);
      await w.night('2029-04-05');
      expect(await w.posting(cancellationKey('R-1'))).toMatchObject({
        entries: { [Accounts.redemption('SEAT')]: -300, [Accounts.expiry]: 300 },
        detail: { lapsed: 300 },
      });
      expect(await w.balance(IVANOV.number)).toBe(100);
      const rerun = await w.postingCount();
      await w.run(accrueJob, '2029-04-05');
      expect(await w.postingCount()).toBe(rerun);

      // All of March's 500 reads as expired again: the rental's reversal takes them from EXPIRY.
      rent(w, 'L-MAR-R', '2029-04-07', -500, '2029-04-07');
      await w.night('2029-04-07');
      const original = await w.activity(partnerKey('DRIVE', 'L-MAR'));
      expect((await w.posting(reversalKey(String(original?.posting_key))))?.entries).toEqual({
        [Accounts.expiry]: -500,
        [Accounts.partner('DRIVE')]: 500,
      });
      expect(await w.balance(IVANOV.number)).toBe(100);
    });

    it('a redemption of a day its expired points were valid spends them before later lots the balance could pay with', async () => {
      const w = s();
      await expiredTheNightBefore(w, 1000);
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2029-03-31', service: 'SEAT', points: 300 },
        { id: 'R-2', member: IVANOV.number, date: '2029-03-30', service: 'LOUNGE', points: 150 },
        { id: 'R-3', member: IVANOV.number, date: '2029-04-01', service: 'SEAT', points: 100 },
      ]);
      await w.night('2029-04-01');
      // take 450 of March's 500; R-3, of a day March's points were gone, takes June's.
      expect(await w.lotSummary(IVANOV.number)).toEqual([[900, '2029-06-30']]);
      expect(await w.balance(IVANOV.number)).toBe(900);
      expect((await w.posting(redemptionKey('R-2')))?.detail).toEqual({ unexpired: 150 });
      expect((await w.posting(redemptionKey('R-3')))?.detail ?? null).toBeNull();
    });

    it('a redemption of its points’ last day refused a night later still once the rental that earned them was reversed', async () => {
      const w = s();
      await expiredTheNightBefore(w, 100);
      rent(w, 'L-MAR-R', '2029-04-01', -500, '2029-04-01');
      await w.night('2029-04-01');
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2029-03-31', service: 'SEAT', points: 300 },
      ]);
      await w.night('2029-04-02');
      expect(await w.activity(redemptionKey('R-1'))).toMatchObject({
        status: 'REJECTED',
        reason: 'INSUFFICIENT_POINTS',
      });
      expect(await w.balance(IVANOV.number)).toBe(100);
    });

    it('a redemption dated after its points’ last day takes nothing of them though their expiry has not run yet', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      rent(w, 'L-MAR', '2026-03-02', 500, '2026-03-03');
      await w.night('2026-03-03');
      rent(w, 'L-JUN', '2026-06-02', 100, '2026-06-03');
      await w.night('2026-06-03');
      // The night of 31 March 2029 stops before its expire: March's 500 are still in their lot on 1 April.
      await w.run(fetchJob, '2029-03-31');
      await w.run(ingestJob, '2029-03-31');
      await w.run(accrueJob, '2029-03-31');
      expect(await w.lotSummary(IVANOV.number)).toEqual([
        [500, '2029-03-31'],
        [100, '2029-06-30'],
      ]);
      const account = Accounts.memberPoints(IVANOV.number);
      const file = w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2029-04-01', service: 'SEAT', points: 300 },
        { id: 'R-2', member: IVANOV.number, date: '2029-04-01', service: 'LOUNGE', points: 80 },
      ]);
      // Only June's 100 were valid on 1 April: the seat is refused, as it is had the expire run, and the
      // lounge takes June's points, not March's. The simulator says so first (the night checks the rest).
      expect(await shownFor(w, file, '2029-04-01')).toEqual([
        [
          redemptionKey('R-1'),
          'REJECTED',
          'INSUFFICIENT_POINTS',
          `the ledger would refuse it: posting ${redemptionKey('R-1')} needs 300 from ${account} (valid on 2029-04-01), which holds 100`,
        ],
        [redemptionKey('R-2'), 'POSTED', null, null],
      ]);
      const night = await w.night('2029-04-01');
      expect(await w.activity(redemptionKey('R-1'))).toMatchObject({
        status: 'REJECTED',
        reason: 'INSUFFICIENT_POINTS',
      });
      expect(await w.activity(redemptionKey('R-2'))).toMatchObject({ status: 'POSTED', points: -80 });
      // The expire of 1 April takes all of March's lot, late; June's keeps what the lounge left.
      expect(night.expire.counts).toMatchObject({ lots: 1, points: 500 });
      expect(await w.lotSummary(IVANOV.number)).toEqual([[20, '2029-06-30']]);
      expect(await w.balance(IVANOV.number)).toBe(20);

      // Cancelled, the lounge gives its points back to June's lot, still valid.
      w.dropRedemptions([{ ...cancelled('R-2', IVANOV.number, 80, '2029-04-02'), service: 'LOUNGE' }]);
      await w.night('2029-04-02');
      expect((await w.posting(cancellationKey('R-2')))?.entries).toEqual({
        [Accounts.redemption('LOUNGE')]: -80,
        [account]: 80,
      });
      expect(await w.lotSummary(IVANOV.number)).toEqual([[100, '2029-06-30']]);
    });

    it('refuses a cancellation of another service type or dated before its redemption (INCONSISTENT_FIELDS), and applies the corrected one sent again', async () => {
      const w = s();
      await twoLots(w);
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2026-03-04', service: 'SEAT', points: 300 },
      ]);
      await w.night('2026-03-05');
      const file = w.dropRedemptions([cancelled('R-1', IVANOV.number, 300, '2026-02-01')]);
      expect(await shownFor(w, file, '2026-03-06')).toEqual([
        [
          cancellationKey('R-1'),
          'REJECTED',
          'INCONSISTENT_FIELDS',
          `redemption R-1 was issued to ${IVANOV.number} as SEAT for 300 points, not as AWARD_TICKET: its cancellation cannot be applied`,
        ],
      ]);
      await w.night('2026-03-06');
      expect(await w.activity(cancellationKey('R-1'))).toMatchObject({
        status: 'REJECTED',
        reason: 'INCONSISTENT_FIELDS',
        reason_field: 'service_type',
      });
      expect(await w.activity(redemptionKey('R-1'))).toMatchObject({ status: 'POSTED' });
      expect(await w.posting(cancellationKey('R-1'))).toBeUndefined();
      expect(await w.balance(IVANOV.number)).toBe(1200);

      // The service type mended, the date still before the redemption's.
      w.dropRedemptions([{ ...cancelled('R-1', IVANOV.number, 300, '2026-02-01'), service: 'SEAT' }]);
      await w.night('2026-03-07');
      expect(await w.activity(cancellationKey('R-1'))).toMatchObject({
        status: 'REJECTED',
        reason: 'INCONSISTENT_FIELDS',
        reason_field: 'redemption_date',
        reason_message: `redemption R-1 was issued to ${IVANOV.number} on 2026-03-04 for 300 points, but its cancellation is dated 2026-02-01, before it: it cannot be applied`,
      });
      expect(await w.balance(IVANOV.number)).toBe(1200);

      // Both mended: decided afresh, the points given back; a rerun posts nothing.
      w.dropRedemptions([{ ...cancelled('R-1', IVANOV.number, 300, '2026-03-08'), service: 'SEAT' }]);
      await w.night('2026-03-08');
      expect(await w.activity(cancellationKey('R-1'))).toMatchObject({ status: 'POSTED', points: 300 });
      expect(await w.balance(IVANOV.number)).toBe(1500);
      // The refused copies stay with their own files, field and message: rules' refusals are kept on
      // the activity, not in `rejects` (the reader's), and `files show` lists them as the night left them.
      const shown = await filesShow(w, 'redemptions', file);
      const first = await w
        .knex('files')
        .where({ direction: 'in', feed: 'redemptions', name: file })
        .first('id');
      expect((JSON.parse(shown) as { firstRejects: unknown[] }).firstRejects).toEqual([
        {
          line: 2,
          kind: 'activity',
          reason: 'INCONSISTENT_FIELDS',
          member: IVANOV.number,
          ref: `${cancellationKey('R-1')}#${first.id}`,
          field: 'service_type',
          message: `redemption R-1 was issued to ${IVANOV.number} as SEAT for 300 points, not as AWARD_TICKET: its cancellation cannot be applied`,
        },
      ]);
      expect(
        await w
          .knex('activities')
          .where('activity_key', 'like', `${cancellationKey('R-1')}#%`)
          .orderBy('id')
          .select('status', 'reason_field', 'business_date'),
      ).toEqual([
        { status: 'REJECTED', reason_field: 'service_type', business_date: '2026-03-06' },
        { status: 'REJECTED', reason_field: 'redemption_date', business_date: '2026-03-07' },
      ]);
      const count = await w.postingCount();
      await w.run(accrueJob, '2026-03-08');
      expect(await w.postingCount()).toBe(count);
    });

    it('refuses a cancellation naming another member than its redemption (INCONSISTENT_FIELDS), and applies the right one sent again', async () => {
      const w = s();
      await twoLots(w);
      await w.enrol('2026-03-04', PETROV);
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2026-03-05', service: 'AWARD_TICKET', points: 300 },
      ]);
      await w.night('2026-03-05');
      w.dropRedemptions([cancelled('R-1', PETROV.number, 999, '2026-03-06')]);
      await w.night('2026-03-06');
      const message =
        `redemption R-1 was issued to ${IVANOV.number} for 300 points, not to ${PETROV.number}: ` +
        'its cancellation cannot be applied';
      expect(await w.activity(cancellationKey('R-1'))).toMatchObject({
        status: 'REJECTED',
        reason: 'INCONSISTENT_FIELDS',
        reason_field: 'member_number',
        reason_message: message,
      });
      // Nothing was given back, to either of them.
      expect(await w.posting(cancellationKey('R-1'))).toBeUndefined();
      expect(await w.activity(redemptionKey('R-1'))).toMatchObject({ status: 'POSTED' });
      expect([await w.balance(IVANOV.number), await w.balance(PETROV.number)]).toEqual([1200, 0]);

      // The award system corrects it: decided afresh, and the points go back to IVANOV.
      w.dropRedemptions([cancelled('R-1', IVANOV.number, 300, '2026-03-07')]);
      await w.night('2026-03-07');
      expect(await w.activity(cancellationKey('R-1'))).toMatchObject({ status: 'POSTED', points: 300 });
      expect(await w.activity(redemptionKey('R-1'))).toMatchObject({ status: 'REVERSED' });
      expect([await w.balance(IVANOV.number), await w.balance(PETROV.number)]).toEqual([1500, 0]);
    });

    it('refuses a cancellation giving back other points than its redemption debited (INCONSISTENT_FIELDS on points)', async () => {
      const w = s();
      await twoLots(w);
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2026-03-05', service: 'UPGRADE', points: 300 },
        cancelled('R-1', IVANOV.number, 3000, '2026-03-05'),
      ]);
      await w.night('2026-03-05');
      expect(await w.activity(cancellationKey('R-1'))).toMatchObject({
        status: 'REJECTED',
        reason: 'INCONSISTENT_FIELDS',
        reason_field: 'points',
        reason_message: `redemption R-1 debited 300 points from ${IVANOV.number}, but its cancellation gives back 3000: it cannot be applied`,
      });
      expect(await w.posting(cancellationKey('R-1'))).toBeUndefined();
      expect(await w.balance(IVANOV.number)).toBe(1200);
    });

    it('applies a cancellation sent under the number of the account the redeeming member was merged into', async () => {
      const w = s();
      await twoLots(w);
      await w.enrol('2026-03-04', SIDOROV);
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2026-03-05', service: 'SEAT', points: 300 },
      ]);
      await w.night('2026-03-05');
      w.dropMembers([
        { ...IVANOV, status: 'MERGED', mergedInto: SIDOROV.number, updatedAt: '2026-03-06T09:00:00Z' },
      ]);
      await w.night('2026-03-06');
      expect(await w.balance(SIDOROV.number)).toBe(1200);
      // The award system now knows the member by the survivor's number.
      w.dropRedemptions([{ ...cancelled('R-1', SIDOROV.number, 300, '2026-03-07'), service: 'SEAT' }]);
      await w.night('2026-03-07');
      expect(await w.activity(cancellationKey('R-1'))).toMatchObject({ status: 'POSTED', points: 300 });
      expect(await w.activity(redemptionKey('R-1'))).toMatchObject({ status: 'REVERSED' });
      expect(await w.posting(cancellationKey('R-1'))).toBeDefined();
    });

    it('debits a redemption issued before its account was closed, read the night of the closure or after, and refuses one dated after the closure', async () => {
      const w = s();
      await twoLots(w);
      // The seat was issued on 4 March; the CRM closes the account on 5 March. Members are read before
      // redemptions: the account is closed when the seat comes, its 1,500 still on it.
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2026-03-04', service: 'SEAT', points: 300 },
      ]);
      w.dropMembers([{ ...IVANOV, status: 'CLOSED', updatedAt: '2026-03-05T09:00:00Z' }]);
      await w.night('2026-03-05');
      expect(await w.activity(redemptionKey('R-1'))).toMatchObject({ status: 'POSTED', points: -300 });
      expect((await w.posting(redemptionKey('R-1')))?.entries).toEqual({
        [Accounts.memberPoints(IVANOV.number)]: -300,
        [Accounts.redemption('SEAT')]: 300,
      });
      expect(await w.balance(IVANOV.number)).toBe(1200);

      // A night later, one of the closure's own date and one issued before it, sent late, still debit the
      // account; one dated after the closure is refused. The simulator says so first.
      const file = w.dropRedemptions([
        { id: 'R-2', member: IVANOV.number, date: '2026-03-05', service: 'LOUNGE', points: 100 },
        {
          id: 'R-3',
          member: IVANOV.number,
          date: '2026-03-03',
          service: 'PARTNER_REWARD',
          points: 200,
          partner: 'DRIVE',
        },
        { id: 'R-4', member: IVANOV.number, date: '2026-03-06', service: 'LOUNGE', points: 100 },
      ]);
      const refusal = `account ${IVANOV.number} was closed on 2026-03-05, before the redemption's date 2026-03-06`;
      expect(await shownFor(w, file, '2026-03-06')).toEqual([
        [redemptionKey('R-2'), 'POSTED', null, null],
        [redemptionKey('R-3'), 'POSTED', null, null],
        [redemptionKey('R-4'), 'REJECTED', 'ACCOUNT_CLOSED', refusal],
      ]);
      await w.night('2026-03-06');
      expect(await w.activity(redemptionKey('R-3'))).toMatchObject({ status: 'POSTED', points: -200 });
      expect(await w.activity(redemptionKey('R-4'))).toMatchObject({
        status: 'REJECTED',
        reason: 'ACCOUNT_CLOSED',
        reason_field: 'member_number',
        reason_message: refusal,
      });
      expect(await w.balance(IVANOV.number)).toBe(900);
      // Its cancellation gives the points back to the closed account, where they came from.
      w.dropRedemptions([{ ...cancelled('R-1', IVANOV.number, 300, '2026-03-07'), service: 'SEAT' }]);
      await w.night('2026-03-07');
      expect(await w.activity(cancellationKey('R-1'))).toMatchObject({ status: 'POSTED', points: 300 });
      expect(await w.balance(IVANOV.number)).toBe(1200);
    });

    it('debits a redemption issued before its member was merged from the survivor, and refuses one dated after the merge', async () => {
      const w = s();
      await twoLots(w);
      await w.enrol('2026-03-04', SIDOROV);
      // The seat was issued on 4 March; the CRM merges IVANOV into SIDOROV on 5 March. Members are read
      // before redemptions: the merge has moved the 1,500 when the seat comes.
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2026-03-04', service: 'SEAT', points: 300 },
      ]);
      w.dropMembers([
        { ...IVANOV, status: 'MERGED', mergedInto: SIDOROV.number, updatedAt: '2026-03-05T09:00:00Z' },
      ]);
      await w.night('2026-03-05');
      expect(await w.activity(redemptionKey('R-1'))).toMatchObject({ status: 'POSTED', points: -300 });
      expect((await w.posting(redemptionKey('R-1')))?.entries).toEqual({
        [Accounts.memberPoints(SIDOROV.number)]: -300,
        [Accounts.redemption('SEAT')]: 300,
      });
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect(await w.balance(SIDOROV.number)).toBe(1200);

      // A night later, one of the merge's own date still debits the survivor; one dated after it is the
      // survivor's to make. The simulator says so first (the night checks the rest).
      const file = w.dropRedemptions([
        { id: 'R-2', member: IVANOV.number, date: '2026-03-05', service: 'LOUNGE', points: 100 },
        { id: 'R-3', member: IVANOV.number, date: '2026-03-06', service: 'LOUNGE', points: 100 },
      ]);
      const refusal =
        `account ${IVANOV.number} was merged into ${SIDOROV.number} on 2026-03-05, before the redemption's ` +
        `date 2026-03-06: redeem from ${SIDOROV.number}`;
      expect(await shownFor(w, file, '2026-03-06')).toEqual([
        [redemptionKey('R-2'), 'POSTED', null, null],
        [redemptionKey('R-3'), 'REJECTED', 'ACCOUNT_CLOSED', refusal],
      ]);
      await w.night('2026-03-06');
      expect(await w.activity(redemptionKey('R-3'))).toMatchObject({
        status: 'REJECTED',
        reason: 'ACCOUNT_CLOSED',
        reason_field: 'member_number',
        reason_message: refusal,
      });
      expect(await w.balance(SIDOROV.number)).toBe(1100);
      // Its cancellation, under either number, gives the points back to the survivor.
      w.dropRedemptions([{ ...cancelled('R-1', IVANOV.number, 300, '2026-03-07'), service: 'SEAT' }]);
      await w.night('2026-03-07');
      expect(await w.activity(cancellationKey('R-1'))).toMatchObject({ status: 'POSTED', points: 300 });
      expect(await w.balance(SIDOROV.number)).toBe(1400);
    });

    it("a merged member's redemption of a day her expired points were valid takes them back on her own account and spends them at the survivor", async () => {
      const w = s();
      const march = await expiredTheNightBefore(w, 100);
      await w.enrol('2029-03-31', SIDOROV);
      // Merged into SIDOROV on 1 April: the June 100 move; March's 500, expired, stay on IVANOV's account.
      w.dropMembers([
        { ...IVANOV, status: 'MERGED', mergedInto: SIDOROV.number, updatedAt: '2029-04-01T09:00:00Z' },
      ]);
      await w.night('2029-04-01');
      expect(await w.balance(SIDOROV.number)).toBe(100);
      // The seat issued on 30 March, when IVANOV held 600 valid points, comes a night later.
      const file = w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2029-03-30', service: 'SEAT', points: 300 },
      ]);
      expect(await shownFor(w, file, '2029-04-02')).toEqual([
        [
          redemptionKey('R-1'),
          'POSTED',
          null,
          `300 points of it were valid on 2029-03-30 and expired since: taken back from ${Accounts.expiry}`,
        ],
      ]);
      await w.night('2029-04-02');
      expect(await w.posting(redemptionKey('R-1'))).toMatchObject({
        entries: { [Accounts.memberPoints(SIDOROV.number)]: -300, [Accounts.redemption('SEAT')]: 300 },
        detail: { unexpired: 300 },
      });
      // As without the merge: March's expiry taken back on IVANOV's account, the 300 moved on to
      // SIDOROV as the merge moved the rest, and the 200 left expire again where they were.
      expect((await w.posting(`EXP:${march}:REDEEMED`))?.entries).toEqual({
        [Accounts.expiry]: -500,
        [Accounts.memberPoints(IVANOV.number)]: 500,
      });
      expect(await w.posting(`${redemptionKey('R-1')}:MERGED`)).toMatchObject({
        kind: 'TRANSFER',
        entries: {
          [Accounts.memberPoints(IVANOV.number)]: -300,
          [Accounts.memberPoints(SIDOROV.number)]: 300,
        },
      });
      expect((await w.posting(`EXP:${march}:2`))?.entries).toEqual({
        [Accounts.memberPoints(IVANOV.number)]: -200,
        [Accounts.expiry]: 200,
      });
      expect([await w.balance(IVANOV.number), await w.balance(SIDOROV.number)]).toEqual([0, 100]);
      expect(await w.lotSummary(SIDOROV.number)).toEqual([[100, '2029-06-30']]);
      // A rerun posts nothing.
      const count = await w.postingCount();
      await w.run(accrueJob, '2029-04-02');
      expect(await w.postingCount()).toBe(count);

      // Cancelled: the 300 go back to the lot the move made, past its date, so to EXPIRY.
      w.dropRedemptions([{ ...cancelled('R-1', IVANOV.number, 300, '2029-04-05'), service: 'SEAT' }]);
      await w.night('2029-04-05');
      expect(await w.posting(cancellationKey('R-1'))).toMatchObject({
        entries: { [Accounts.redemption('SEAT')]: -300, [Accounts.expiry]: 300 },
        detail: { lapsed: 300 },
      });
      expect([await w.balance(IVANOV.number), await w.balance(SIDOROV.number)]).toEqual([0, 100]);
    });

    it("a merged member's redemption spends the points she brought, never reviving the survivor's own expired ones", async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV, SIDOROV);
      // SIDOROV's own 500 of March 2026 expire on 31 March 2029; IVANOV's 400 of June stay valid.
      w.dropPartner('DRIVE', '2026-03-03', [
        {
          txn: 'S-MAR',
          member: SIDOROV.number,
          surname: SIDOROV.surname,
          date: '2026-03-02',
          type: 'RENTAL_DAY',
          spend: '500.00',
          currency: 'USD',
        },
      ]);
      await w.night('2026-03-03');
      const sidorovs = (await w.lots(SIDOROV.number))[0]!.id;
      rent(w, 'I-JUN', '2026-06-02', 400, '2026-06-03');
      await w.night('2026-06-03');
      expect((await w.night('2029-03-31')).expire.counts).toMatchObject({ lots: 1, points: 500 });
      w.dropMembers([
        { ...IVANOV, status: 'MERGED', mergedInto: SIDOROV.number, updatedAt: '2029-04-01T09:00:00Z' },
      ]);
      await w.night('2029-04-01');
      expect(await w.balance(SIDOROV.number)).toBe(400);
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2029-03-30', service: 'SEAT', points: 300 },
      ]);
      await w.night('2029-04-02');
      expect(await w.activity(redemptionKey('R-1'))).toMatchObject({ status: 'POSTED', points: -300 });
      expect((await w.posting(redemptionKey('R-1')))?.detail ?? null).toBeNull();
      expect(await w.posting(`EXP:${sidorovs}:REDEEMED`)).toBeUndefined();
      expect(await w.balance(SIDOROV.number)).toBe(100);
      expect(await w.lotSummary(SIDOROV.number)).toEqual([[100, '2029-06-30']]);
    });

    it("a merged member's redemption takes back what expired of her points after the merge carried them to the survivor", async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV, SIDOROV);
      rent(w, 'L-MAR', '2026-03-02', 500, '2026-03-03');
      await w.night('2026-03-03');
      // Merged on 15 March 2029: her March lot, with its date, expires on SIDOROV's account on the 31st.
      w.dropMembers([
        { ...IVANOV, status: 'MERGED', mergedInto: SIDOROV.number, updatedAt: '2029-03-15T09:00:00Z' },
      ]);
      await w.night('2029-03-15');
      expect((await w.night('2029-03-31')).expire.counts).toMatchObject({ lots: 1, points: 500 });
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2029-03-10', service: 'SEAT', points: 300 },
      ]);
      await w.night('2029-04-01');
      expect(await w.posting(redemptionKey('R-1'))).toMatchObject({
        entries: { [Accounts.memberPoints(SIDOROV.number)]: -300, [Accounts.redemption('SEAT')]: 300 },
        detail: { unexpired: 300 },
      });
      // Already where the redemption debits: nothing to move.
      expect(await w.posting(`${redemptionKey('R-1')}:MERGED`)).toBeUndefined();
      expect([await w.balance(IVANOV.number), await w.balance(SIDOROV.number)]).toEqual([0, 0]);
    });

    it('refuses a redemption larger than the balance (INSUFFICIENT_POINTS) and leaves the lots alone', async () => {
      const w = s();
      await twoLots(w);
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2026-03-05', service: 'AWARD_TICKET', points: 1501 },
        { id: 'R-2', member: IVANOV.number, date: '2026-03-05', service: 'EXCESS_BAGGAGE', points: 1500 },
      ]);
      await w.night('2026-03-05');
      expect(await w.activity(redemptionKey('R-1'))).toMatchObject({
        status: 'REJECTED',
        reason: 'INSUFFICIENT_POINTS',
        points: -1501,
      });
      expect(await w.posting(redemptionKey('R-1'))).toBeUndefined();
      expect(await w.activity(redemptionKey('R-2'))).toMatchObject({ status: 'POSTED' });
      expect(await w.balance(IVANOV.number)).toBe(0);
      // The refused one cannot be cancelled: it was never issued.
      w.dropRedemptions([
        {
          id: 'R-1',
          member: IVANOV.number,
          date: '2026-03-06',
          service: 'AWARD_TICKET',
          points: 1501,
          status: 'CANCELLED',
        },
      ]);
      await w.night('2026-03-06');
      expect(await w.activity(cancellationKey('R-1'))).toMatchObject({
        status: 'REJECTED',
        reason: 'UNKNOWN_REDEMPTION',
      });
      expect(await w.balance(IVANOV.number)).toBe(0);
    });

    it('rejects the cancellation of a redemption refused in the same file on redemption_id, saying it was refused', async () => {
      const w = s();
      await twoLots(w);
      const file = w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2026-03-04', service: 'SEAT', points: 5000 },
        { ...cancelled('R-1', IVANOV.number, 5000, '2026-03-04'), service: 'SEAT' },
      ]);
      const message =
        'redemption R-1 was refused (INSUFFICIENT_POINTS) on the night of 2026-03-05: its cancellation cannot be applied';
      // The simulator says so first (the night checks the rest).
      expect((await shownFor(w, file, '2026-03-05'))[1]).toEqual([
        cancellationKey('R-1'),
        'REJECTED',
        'UNKNOWN_REDEMPTION',
        message,
      ]);
      await w.night('2026-03-05');
      expect(await w.activity(redemptionKey('R-1'))).toMatchObject({
        status: 'REJECTED',
        reason: 'INSUFFICIENT_POINTS',
      });
      expect(await w.activity(cancellationKey('R-1'))).toMatchObject({
        status: 'REJECTED',
        reason: 'UNKNOWN_REDEMPTION',
        reason_field: 'redemption_id',
        reason_message: message,
      });
      expect(await w.balance(IVANOV.number)).toBe(1500);
    });

    it('refuses a redemption whose id ends in :CANCEL, which would take the key of another one’s cancellation', async () => {
      const w = s();
      await twoLots(w);
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2026-03-05', service: 'SEAT', points: 300 },
      ]);
      await w.night('2026-03-05');
      // R-1:CANCEL's key would be RDM:R-1:CANCEL, R-1's cancellation's: it would neither debit its
      // points nor leave R-1's cancellation a key of its own.
      const file = w.dropRedemptions([
        { id: 'R-1:CANCEL', member: IVANOV.number, date: '2026-03-06', service: 'LOUNGE', points: 100 },
      ]);
      await w.night('2026-03-06');
      expect(await w.rejects({ file_id: await w.inboundFileId(file) })).toEqual([
        expect.objectContaining({
          line: 2,
          reason: 'BAD_FORMAT',
          field: 'redemption_id',
          text: 'R-1:CANCEL',
        }),
      ]);
      expect(await w.activity(cancellationKey('R-1'))).toBeUndefined();
      expect(await w.posting(cancellationKey('R-1'))).toBeUndefined();
      expect(await w.activity(redemptionKey('R-1'))).toMatchObject({ status: 'POSTED' });
      expect(await w.balance(IVANOV.number)).toBe(1200);
      // R-1's own cancellation still gives its points back.
      w.dropRedemptions([{ ...cancelled('R-1', IVANOV.number, 300, '2026-03-07'), service: 'SEAT' }]);
      await w.night('2026-03-07');
      expect(await w.activity(cancellationKey('R-1'))).toMatchObject({ status: 'POSTED', points: 300 });
      expect(await w.balance(IVANOV.number)).toBe(1500);
    });

    it('a cancellation that comes before its redemption waits for it, and a second cancellation is a duplicate', async () => {
      const w = s();
      await twoLots(w);
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2026-03-05', service: 'SEAT', points: 100 },
        {
          id: 'R-9',
          member: IVANOV.number,
          date: '2026-03-05',
          service: 'SEAT',
          points: 100,
          status: 'CANCELLED',
        },
      ]);
      await w.night('2026-03-05');
      w.dropRedemptions([
        {
          id: 'R-1',
          member: IVANOV.number,
          date: '2026-03-06',
          service: 'SEAT',
          points: 100,
          status: 'CANCELLED',
        },
      ]);
      await w.night('2026-03-06');
      w.dropRedemptions([
        {
          id: 'R-1',
          member: IVANOV.number,
          date: '2026-03-07',
          service: 'SEAT',
          points: 100,
          status: 'CANCELLED',
          reference: 'again',
        },
      ]);
      await w.night('2026-03-07');
      expect(await w.activity(cancellationKey('R-9'))).toMatchObject({
        status: 'PENDING',
        reason: 'UNKNOWN_REDEMPTION',
      });
      expect((await w.rejects({ feed: 'redemptions' })).map((r) => [r.reason, r.record_ref])).toEqual([
        ['DUPLICATE', 'R-1'],
      ]);
      expect(await w.balance(IVANOV.number)).toBe(1500);
      // R-9 itself arrives: debited, then the cancellation that waited for it gives the points back.
      const lotsBefore = await w.lots(IVANOV.number);
      w.dropRedemptions([
        { id: 'R-9', member: IVANOV.number, date: '2026-03-04', service: 'SEAT', points: 100 },
      ]);
      const night = await w.night('2026-03-08');
      expect(night.accrue.counts.cancellationsAwaited).toBe(1);
      expect(await w.activity(redemptionKey('R-9'))).toMatchObject({
        status: 'REVERSED',
        reason: 'CANCELLED',
      });
      expect(await w.activity(cancellationKey('R-9'))).toMatchObject({
        status: 'POSTED',
        reason: null,
        points: 100,
      });
      expect(await w.balance(IVANOV.number)).toBe(1500);
      expect((await w.lots(IVANOV.number)).map((l) => [l.id, l.remaining, l.expiresOn])).toEqual(
        lotsBefore.map((l) => [l.id, l.remaining, l.expiresOn]),
      );
      const again = await w.night('2026-03-09');
      expect(again.accrue.counts.activities).toBe(0);
    });

    it('a cancellation listed before its redemption in the same file waits for it that night: debited, then given back', async () => {
      const w = s();
      await twoLots(w);
      const lotsBefore = await w.lots(IVANOV.number);
      w.dropRedemptions([
        {
          id: 'R-5',
          member: IVANOV.number,
          date: '2026-03-05',
          service: 'SEAT',
          points: 300,
          status: 'CANCELLED',
        },
        { id: 'R-5', member: IVANOV.number, date: '2026-03-05', service: 'SEAT', points: 300 },
      ]);
      const night = await w.night('2026-03-05');
      expect(night.accrue.counts.cancellationsAwaited).toBe(1);
      expect(await w.activity(redemptionKey('R-5'))).toMatchObject({
        status: 'REVERSED',
        reason: 'CANCELLED',
      });
      expect(await w.activity(cancellationKey('R-5'))).toMatchObject({
        status: 'POSTED',
        reason: null,
        points: 300,
      });
      expect(await w.balance(IVANOV.number)).toBe(1500);
      expect((await w.lots(IVANOV.number)).map((l) => [l.id, l.remaining, l.expiresOn])).toEqual(
        lotsBefore.map((l) => [l.id, l.remaining, l.expiresOn]),
      );
      expect((await w.night('2026-03-06')).accrue.counts.activities).toBe(0);
    });

    it('refuses redemptions for a closed account, dated after its closure, or an unknown member', async () => {
      const w = s();
      await twoLots(w);
      w.dropMembers([{ ...IVANOV, status: 'CLOSED', updatedAt: '2026-03-05T00:00:00Z' }]);
      await w.night('2026-03-05');
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2026-03-06', service: 'CHARITY', points: 100 },
        { id: 'R-2', member: memberNumber(77), date: '2026-03-06', service: 'CHARITY', points: 100 },
      ]);
      await w.night('2026-03-06');
      expect(await w.activity(redemptionKey('R-1'))).toMatchObject({
        status: 'REJECTED',
        reason: 'ACCOUNT_CLOSED',
      });
      expect(await w.activity(redemptionKey('R-2'))).toMatchObject({
        status: 'REJECTED',
        reason: 'MEMBER_UNKNOWN',
      });
      expect(await w.balance(IVANOV.number)).toBe(1500);
    });

    it('debits a partner reward from a partner the configuration does not know, and says so naming file and line', async () => {
      const w = s();
      await twoLots(w);
      const reward = (id: string, points: number, partner: string) => ({
        id,
        member: IVANOV.number,
        date: '2026-03-05',
        service: 'PARTNER_REWARD',
        points,
        partner,
      });
      const file = w.dropRedemptions([
        reward('R-1', 100, 'GRANDSTAY'),
        reward('R-2', 200, 'ACME'),
        reward('R-3', 300, 'ACME'),
      ]);
      const night = await w.night('2026-03-05');
      // The member had the rewards: each is debited as any redemption is.
      for (const id of ['R-1', 'R-2', 'R-3'])
        expect(await w.activity(redemptionKey(id))).toMatchObject({ status: 'POSTED' });
      expect(await w.balance(IVANOV.number)).toBe(900);
      // GRANDSTAY is a partner of the program; ACME is not, and its bill could not be matched.
      expect(night.ingest.warnings).toEqual([
        `${file}:3 field partner_code: 2 PARTNER_REWARD redemption(s) from partner ACME, which is not in the ` +
          "configuration's partners: read as any other, but that partner's bill cannot be matched to a partner " +
          'of the program',
      ]);
      expect(night.ingest.counts['redemptions.unknownRewardPartner']).toBe(2);

      // R-2 sent again the next night is refused as read before: nothing new to say of its partner.
      w.dropRedemptions([reward('R-2', 200, 'ACME')]);
      const next = await w.night('2026-03-06');
      expect(next.ingest.counts['redemptions.unknownRewardPartner']).toBeUndefined();
      expect(next.ingest.warnings).toEqual([]);
      expect(await w.balance(IVANOV.number)).toBe(900);
    });
  });
}
