/**
 * Expiry, both policies: fixed term (the demo: 36 months after the end of the month the points were
 * earned, one expiry posting per lot, a warning figure for what expires in the next 60 days) and
 * inactivity (a variant: everything after 18 months without earning activity).
 */
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { Accounts } from '../../ledger/accounts.js';
import { expireJob } from '../../jobs/expire.js';
import { exportJob } from '../../jobs/export.js';
import { runJob } from '../../jobs/runner.js';
import { expiryForecastOf } from '../../reports/monthly.js';
import { outstandingLots } from '../../reports/queries.js';
import {
  mailable,
  memberNumber,
  replaceOnce,
  svoKznCoupon,
  useScenario,
  type Person,
  type Scenario,
} from './scenario.js';

const IVANOV: Person = { number: memberNumber(1), surname: 'IVANOV', givenName: 'IVAN' };
const PETROVA: Person = { number: memberNumber(2), surname: 'PETROVA', givenName: 'ANNA' };
const HOUSEHOLD = { type: 'HOUSEHOLD', id: 'HH-1' } as const;
const MOTHER: Person = { number: memberNumber(11), surname: 'SMIRNOVA', givenName: 'OLGA', group: HOUSEHOLD };
const SON: Person = { number: memberNumber(12), surname: 'SMIRNOV', givenName: 'PAVEL', group: HOUSEHOLD };
const FATHER: Person = { number: memberNumber(13), surname: 'SMIRNOV', givenName: 'IGOR', group: HOUSEHOLD };

/** A DRIVE rental day: `points` dollars of spend earn as many points. */
function rent(w: Scenario, who: Person, txn: string, date: string, points: number): void {
  w.dropPartner('DRIVE', date, [
    {
      txn,
      member: who.number,
      surname: who.surname,
      date,
      type: 'RENTAL_DAY',
      spend: `${points}.00`,
      currency: 'USD',
    },
  ]);
}

for (const engine of availableEngines()) {
  describe(`fixed-term expiry, 36 months after the earning month (${engine})`, () => {
    const s = useScenario(engine);

    it('dates each lot to the end of the 36th month after its earning month and expires it that day, one posting per lot', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      rent(w, IVANOV, 'E-1', '2026-03-10', 1000);
      await w.night('2026-03-10');
      rent(w, IVANOV, 'E-2', '2026-03-31', 500);
      await w.night('2026-03-31');
      rent(w, IVANOV, 'E-3', '2026-04-01', 700);
      await w.night('2026-04-01');
      expect(await w.lotSummary(IVANOV.number)).toEqual([
        [1000, '2029-03-31'],
        [500, '2029-03-31'],
        [700, '2029-04-30'],
      ]);
      const [march1, march2, april] = await w.lots(IVANOV.number);

      const before = await w.night('2029-03-30');
      expect(before.expire.counts.lots).toBe(0);
      const due = await w.night('2029-03-31');
      expect(due.expire.counts).toMatchObject({ lots: 2, points: 1500 });
      expect(await w.balance(IVANOV.number)).toBe(700);
      expect(await w.posting(`EXP:${march1!.id}`)).toMatchObject({
        kind: 'EXPIRY',
        businessDate: '2029-03-31',
        entries: { [Accounts.memberPoints(IVANOV.number)]: -1000, [Accounts.expiry]: 1000 },
      });
      expect((await w.posting(`EXP:${march2!.id}`))?.entries).toMatchObject({ [Accounts.expiry]: 500 });
      expect(await w.posting(`EXP:${april!.id}`)).toBeUndefined();

      const rerun = await w.run(expireJob, '2029-03-31');
      expect(rerun.counts.lots).toBe(0);
      await w.night('2029-04-30');
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect(await w.lots(IVANOV.number)).toEqual([]);
    });

    it("does not expire a lot before the night's accrue has debited the redemption of its last day", async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      rent(w, IVANOV, 'E-1', '2026-03-10', 1000);
      await w.night('2026-03-10');
      // The lot's last day: a redemption of 800 dated that day is in the night's inbox.
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2029-03-31', service: 'LOUNGE', points: 800 },
      ]);
      const date = '2029-03-31';
      // Run by hand before the night's accrue, expire took the 1,000 and the redemption was refused.
      const early = await runJob(w.w.ctx(date), 'expire');
      expect(early.refused?.code).toBe('NOT_ACCRUED');
      expect(await w.balance(IVANOV.number)).toBe(1000);
      for (const job of ['fetch', 'ingest', 'accrue', 'expire'] as const)
        expect((await runJob(w.w.ctx(date), job)).status, job).toBe('succeeded');
      expect((await w.activitiesOf(IVANOV.number)).map((a) => [a.type, a.status])).toEqual([
        ['PARTNER', 'POSTED'],
        ['REDEMPTION', 'POSTED'],
      ]);
      const expiries = await w.knex('postings').where({ kind: 'EXPIRY' }).select('idempotency_key');
      expect(expiries).toHaveLength(1);
      expect((await w.posting(expiries[0]!.idempotency_key as string))?.entries).toEqual({
        [Accounts.memberPoints(IVANOV.number)]: -200,
        [Accounts.expiry]: 200,
      });
      expect(await w.balance(IVANOV.number)).toBe(0);
      const postings = await w.postingCount();
      expect((await runJob(w.w.ctx(date), 'expire')).status).toBe('succeeded');
      expect(await w.postingCount()).toBe(postings);
      await w.expectLedgerOk();
    });

    it('does not expire a lot run alone after its last night failed to fetch the redemption of that day', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      rent(w, IVANOV, 'E-1', '2026-03-10', 1000);
      await w.night('2026-03-10');
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2029-03-31', service: 'LOUNGE', points: 800 },
      ]);
      const date = '2029-03-31';
      // The redemptions' server cannot be listed that night: the night posts what did arrive and ends
      // failed, its accrue succeeded on part of the files.
      const feed = w.w.config.feeds.redemptions!;
      const transport = w.w.config.transports[feed.source]!;
      if (transport.type !== 'local') throw new Error('scenarios use local inboxes');
      const inbox = join(transport.root, feed.remoteDir);
      renameSync(inbox, `${inbox}.away`);
      const night = await runJob(w.w.ctx(date), 'nightly');
      expect(night.stopped?.step).toBe('fetch');
      expect(night.steps.find((x) => x.job === 'accrue')?.status).toBe('succeeded');
      // Run by hand before the rerun, expire took the 1,000 and the rerun refused the redemption.
      const early = await runJob(w.w.ctx(date), 'expire');
      expect(early.refused?.code).toBe('NOT_FETCHED');
      expect(await w.balance(IVANOV.number)).toBe(1000);

      renameSync(`${inbox}.away`, inbox);
      for (const job of ['fetch', 'ingest', 'accrue', 'expire'] as const)
        expect((await runJob(w.w.ctx(date), job)).status, job).toBe('succeeded');
      expect((await w.activitiesOf(IVANOV.number)).map((a) => [a.type, a.status])).toEqual([
        ['PARTNER', 'POSTED'],
        ['REDEMPTION', 'POSTED'],
      ]);
      const expiries = await w.knex('postings').where({ kind: 'EXPIRY' }).select('idempotency_key');
      expect(expiries).toHaveLength(1);
      expect((await w.posting(expiries[0]!.idempotency_key as string))?.entries).toEqual({
        [Accounts.memberPoints(IVANOV.number)]: -200,
        [Accounts.expiry]: 200,
      });
      await w.expectLedgerOk();
    });

    it('expires only what is left of a lot after a redemption, and warns of what expires in the next 60 days', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV, PETROVA);
      rent(w, IVANOV, 'E-1', '2026-03-10', 1000);
      rent(w, PETROVA, 'E-2', '2026-03-10', 300);
      await w.night('2026-03-10');
      rent(w, IVANOV, 'E-3', '2026-04-10', 400);
      await w.night('2026-04-10');
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2026-05-01', service: 'LOUNGE', points: 250 },
      ]);
      await w.night('2026-05-01');
      expect(await w.lotSummary(IVANOV.number)).toEqual([
        [750, '2029-03-31'],
        [400, '2029-04-30'],
      ]);
      // 1 February 2029: March's lots (750 + 300) fall in the next 60 days, April's does not.
      const warned = await w.night('2029-02-01');
      expect(warned.expire.counts.expiringSoon).toBe(1050);
      const due = await w.night('2029-03-31');
      expect(due.expire.counts).toMatchObject({ lots: 2, points: 1050 });
      expect(await w.balance(IVANOV.number)).toBe(400);
      expect(await w.balance(PETROVA.number)).toBe(0);
    });

    it('books to EXPIRY at once what a cancelled redemption gives back to a lot that has already expired', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      rent(w, IVANOV, 'E-1', '2026-03-10', 1000);
      await w.night('2026-03-10');
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2029-03-01', service: 'SEAT', points: 300 },
      ]);
      await w.night('2029-03-01');
      await w.night('2029-03-31'); // the 700 left expire
      expect(await w.balance(IVANOV.number)).toBe(0);
      // The seat is cancelled after the lot's date: the 300 return to that lot and, past its date,
      // expire in the cancellation itself, never spendable on the member's balance.
      w.dropRedemptions([
        {
          id: 'R-1',
          member: IVANOV.number,
          date: '2029-04-02',
          service: 'SEAT',
          points: 300,
          status: 'CANCELLED',
        },
      ]);
      const night = await w.night('2029-04-02');
      expect((await w.posting('RDM:R-1:CANCEL'))?.entries).toEqual({
        [Accounts.expiry]: 300,
        [Accounts.redemption('SEAT')]: -300,
      });
      // The expire job finds nothing left in the lot: expired once, not twice.
      expect(night.expire.counts).toMatchObject({ lots: 0, points: 0 });
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect(await w.lots(IVANOV.number)).toEqual([]);
      const [lot] = await w.knex('lots').select('id');
      const expiries = await w
        .knex('postings')
        .where({ kind: 'EXPIRY' })
        .orderBy('id')
        .select('idempotency_key');
      expect(expiries.map((p) => p.idempotency_key)).toEqual([`EXP:${lot.id}`]);
    });
  });

  describe(`fixed-term expiry of a pool (${engine})`, () => {
    const s = useScenario(engine);

    it('warns each member of a pool who may be mailed of what the pool loses, with their own, in one warning', async () => {
      const w = s();
      await w.enrol('2026-01-01', MOTHER, SON, IVANOV);
      await mailable(w, MOTHER, SON, IVANOV);
      rent(w, MOTHER, 'H-1', '2026-02-01', 300); // into the pool: expires 28 February 2029
      await w.night('2026-02-02');
      expect(await w.poolBalance('HH-1')).toBe(300);
      expect(await w.mailingList('EXPIRY_WARNING', '2028-12-29')).toEqual([]);
      const warned = await w.mailingList('EXPIRY_WARNING', '2028-12-30');
      expect(warned.map((r) => [r.memberNumber, r.points, r.expiresOn])).toEqual([
        [MOTHER.number, 300, '2029-02-28'],
        [SON.number, 300, '2029-02-28'],
      ]);
    });

    it('rebuilds a night’s warning as that night had it: points redeemed or expired since are still announced', async () => {
      const w = s();
      await w.enrol('2026-01-01', MOTHER, SON, IVANOV);
      await mailable(w, MOTHER, SON, IVANOV);
      rent(w, MOTHER, 'H-1', '2026-02-01', 300); // into the pool: expires 28 February 2029
      rent(w, IVANOV, 'H-2', '2026-02-01', 400); // his own: expires 28 February 2029
      await w.night('2026-02-02');
      const listed = async () =>
        (await w.mailingList('EXPIRY_WARNING', '2028-12-30')).map((r) => [r.memberNumber, r.points]);
      const warned = [
        [IVANOV.number, 400],
        [MOTHER.number, 300],
        [SON.number, 300],
      ];
      expect(await listed()).toEqual(warned);
      await w.run(exportJob, '2028-12-30');
      // The next day IVANOV and the pool spend some of it; on 28 February the rest expires.
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2028-12-31', service: 'SEAT', points: 100 },
        { id: 'R-2', member: MOTHER.number, date: '2028-12-31', service: 'SEAT', points: 50 },
      ]);
      await w.night('2028-12-31');
      await w.night('2029-02-28');
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect(await w.poolBalance('HH-1')).toBe(0);
      // The export of 30 December run again writes what it wrote.
      expect(await listed()).toEqual(warned);
      const rerun = await w.run(exportJob, '2028-12-30');
      expect(rerun.counts).not.toHaveProperty('replaced');
      await w.expectLedgerOk();
    });
  });

  describe(`inactivity expiry, 18 months without earning (${engine})`, () => {
    const s = useScenario(engine, (y) =>
      replaceOnce(
        y,
        'policy: fixedTerm            # points expire 36 months after the end of the month they were earned\n  months: 36',
        'policy: inactivity\n  months: 18',
      ),
    );

    it('keeps lots without a date and expires all of them 18 months after the last earning activity', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV, PETROVA);
      rent(w, IVANOV, 'I-1', '2026-02-01', 300);
      await w.night('2026-02-01');
      rent(w, IVANOV, 'I-2', '2026-03-10', 200);
      rent(w, PETROVA, 'I-3', '2026-03-10', 100);
      await w.night('2026-03-10');
      expect(await w.lotSummary(IVANOV.number)).toEqual([
        [300, null],
        [200, null],
      ]);
      // An older activity credited later does not move the date back.
      rent(w, PETROVA, 'I-3B', '2026-03-05', 100);
      await w.night('2026-03-20');
      expect((await w.member(PETROVA.number)).last_activity_date).toBe('2026-03-10');
      // A redemption is not earning activity: it does not push the date back.
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2027-01-05', service: 'SEAT', points: 50 },
      ]);
      await w.night('2027-01-05');
      rent(w, PETROVA, 'I-4', '2027-06-01', 100);
      await w.night('2027-06-01');
      expect((await w.member(IVANOV.number)).last_activity_date).toBe('2026-03-10');
      expect((await w.member(PETROVA.number)).last_activity_date).toBe('2027-06-01');

      // Warned 60 days ahead: 10 September 2027 less 60 days is 12 July.
      expect((await w.night('2027-07-11')).expire.counts.expiringSoon).toBe(0);
      expect((await w.night('2027-07-12')).expire.counts.expiringSoon).toBe(450);
      const early = await w.night('2027-09-09');
      expect(early.expire.counts.lots).toBe(0);
      expect(await w.balance(IVANOV.number)).toBe(450);
      const due = await w.night('2027-09-10');
      expect(due.expire.counts).toMatchObject({ lots: 2, points: 450 });
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect(await w.balance(PETROVA.number)).toBe(300); // active in June 2027
      const expiries = await w.knex('postings').where({ kind: 'EXPIRY' }).orderBy('id').select('source_ref');
      expect(expiries.map((p) => p.source_ref)).toEqual([
        expect.stringMatching(/\(inactivity\)$/),
        expect.stringMatching(/\(inactivity\)$/),
      ]);
    });

    it('warns a member with no earning on record from the enrolment date, as the expire job counts', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      await mailable(w, IVANOV);
      rent(w, IVANOV, 'H-1', '2026-02-01', 300);
      await w.night('2026-02-01');
      // Points brought over from an older system come with no earning activity on record.
      await w
        .knex('members')
        .where({ number: IVANOV.number })
        .update({ last_activity_date: null, enrolment_date: '2026-03-01' });
      // Due on 1 September 2027, warned 60 days ahead.
      expect(await w.mailingList('EXPIRY_WARNING', '2027-07-03')).toEqual([
        expect.objectContaining({ memberNumber: IVANOV.number, points: 300, expiresOn: '2027-09-01' }),
      ]);
      expect((await w.night('2027-08-31')).expire.counts.lots).toBe(0);
      expect((await w.night('2027-09-01')).expire.counts.points).toBe(300);
    });

    it('forecasts undated points in the month the expire job takes them, as its warning figure counts them', async () => {
      const w = s();
      const forecast = async (date: string) =>
        expiryForecastOf(w.w.t.db, w.w.config, date, await outstandingLots(w.w.t.db, date));
      await w.enrol('2026-01-01', IVANOV, MOTHER, SON);
      rent(w, IVANOV, 'F-1', '2026-03-10', 500); // due 10 September 2027
      rent(w, MOTHER, 'F-2', '2026-02-01', 300); // into the pool, kept alive by the son's rental:
      await w.night('2026-03-10');
      rent(w, SON, 'F-3', '2026-06-15', 200); // the pool is due 15 December 2027
      await w.night('2026-06-15');

      expect((await w.night('2027-08-31')).expire.counts.expiringSoon).toBe(500);
      const august = await forecast('2027-08-31');
      expect(august.rows.map((r) => r.points)).toEqual([500, 0, 0, 500, 0, 0, 0, 0, 0, 0, 0, 0]);
      expect(august).toMatchObject({ overdue: 0, undated: 1000 });
      // The night of 10 September before its expire run: the lot is due and still open.
      expect((await forecast('2027-09-10')).rows[0]).toMatchObject({ from: '2027-09-11', points: 500 });
      expect((await forecast('2027-09-10')).overdue).toBe(500);

      expect((await w.night('2027-09-10')).expire.counts.points).toBe(500);
      const after = await forecast('2027-09-10');
      expect(after.rows.map((r) => r.points)).toEqual([0, 0, 0, 500, 0, 0, 0, 0, 0, 0, 0, 0]);
      expect(after.overdue).toBe(0);
      // The report of 31 August made again: the points were still there that night.
      expect((await forecast('2027-08-31')).rows.map((r) => r.points)).toEqual(
        august.rows.map((r) => r.points),
      );
      expect((await w.night('2027-12-15')).expire.counts.points).toBe(500);
    });

    it('counts a flight credited by a retro-claim as earning activity', async () => {
      const w = s();
      await w.enrol('2026-01-01', { ...IVANOV, enrolled: '2026-01-01' });
      w.dropCoupons([
        {
          ticket: '0741000000001',
          flight: '245',
          date: '2026-03-10',
          from: 'SVO',
          to: 'KZN',
          booked: 'Y',
          surname: 'IVANOV',
          givenName: 'IVAN',
          card: null,
          fare: '100.00',
        },
      ]);
      await w.night('2026-03-11');
      w.dropRetroClaims([
        {
          id: 'C-1',
          member: IVANOV.number,
          received: '2026-03-30',
          ticket: '0741000000001',
          coupon: 1,
          surname: 'IVANOV',
        },
      ]);
      await w.night('2026-03-30');
      expect((await w.member(IVANOV.number)).last_activity_date).toBe('2026-03-10');
      // 18 months after enrolment the flight's 461 miles are still there…
      await w.night('2027-07-01');
      expect(await w.balance(IVANOV.number)).toBe(461);
      // …until 18 months after the flight.
      await w.night('2027-09-10');
      expect(await w.balance(IVANOV.number)).toBe(0);
    });

    it('no longer counts a flight refunded in full as earning activity: the points expire 18 months after the earning before it', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      await mailable(w, IVANOV);
      rent(w, IVANOV, 'I-1', '2026-01-10', 1000);
      await w.night('2026-01-10');
      const flight = svoKznCoupon(IVANOV, '0741000000001', '2026-06-01');
      w.dropCoupons([flight]);
      await w.night('2026-06-02');
      expect((await w.member(IVANOV.number)).last_activity_date).toBe('2026-06-01');
      // The ticket is refunded: its 461 miles go back, and so does the activity it counted for.
      w.dropCoupons([{ ...flight, status: 'R' }]);
      await w.night('2026-06-20');
      expect(await w.balance(IVANOV.number)).toBe(1000);
      expect((await w.member(IVANOV.number)).last_activity_date).toBe('2026-01-10');
      expect(await w.mailingList('EXPIRY_WARNING', '2027-05-11')).toEqual([
        expect.objectContaining({ memberNumber: IVANOV.number, points: 1000, expiresOn: '2027-07-10' }),
      ]);
      expect((await w.night('2027-07-09')).expire.counts.lots).toBe(0);
      expect((await w.night('2027-07-10')).expire.counts).toMatchObject({ lots: 1, points: 1000 });
      expect(await w.balance(IVANOV.number)).toBe(0);
      const postings = await w.postingCount();
      expect((await w.run(expireJob, '2027-07-10')).counts.lots).toBe(0);
      expect(await w.postingCount()).toBe(postings);
      await w.expectLedgerOk();
    });

    it('takes back from the survivor of a merge the activity of the merged account’s flight refunded since', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV, PETROVA);
      rent(w, PETROVA, 'I-1', '2026-01-10', 1000);
      await w.night('2026-01-10');
      const flight = svoKznCoupon(IVANOV, '0741000000004', '2026-06-01');
      w.dropCoupons([flight]);
      await w.night('2026-06-02');
      // Ivanov's account is merged into Petrova's: she takes his miles and his last activity.
      w.dropMembers([
        { ...IVANOV, status: 'MERGED', mergedInto: PETROVA.number, updatedAt: '2026-06-10T00:00:00Z' },
      ]);
      await w.night('2026-06-10');
      expect((await w.member(PETROVA.number)).last_activity_date).toBe('2026-06-01');
      w.dropCoupons([{ ...flight, status: 'R' }]);
      await w.night('2026-06-20');
      expect(await w.balance(PETROVA.number)).toBe(1000);
      expect((await w.member(IVANOV.number)).last_activity_date).toBeNull();
      expect((await w.member(PETROVA.number)).last_activity_date).toBe('2026-01-10');
      expect((await w.night('2027-07-10')).expire.counts).toMatchObject({ points: 1000 });
      await w.expectLedgerOk();
    });

    it("does not keep a pool alive by a member's flight refunded in full", async () => {
      const w = s();
      await w.enrol('2026-01-01', MOTHER, SON);
      rent(w, MOTHER, 'H-1', '2026-02-01', 300);
      await w.night('2026-02-01');
      const flight = svoKznCoupon(SON, '0741000000002', '2026-06-01');
      w.dropCoupons([flight]);
      await w.night('2026-06-02');
      expect(await w.poolBalance('HH-1')).toBe(761);
      w.dropCoupons([{ ...flight, status: 'R' }]);
      await w.night('2026-06-20');
      expect(await w.poolBalance('HH-1')).toBe(300);
      // The son has earned nothing that stands: he counts from his enrolment, the pool from the mother's rental.
      expect((await w.member(SON.number)).last_activity_date).toBeNull();
      expect((await w.night('2027-07-31')).expire.counts.lots).toBe(0);
      expect((await w.night('2027-08-01')).expire.counts).toMatchObject({ points: 300 });
      expect(await w.poolBalance('HH-1')).toBe(0);
      await w.expectLedgerOk();
    });

    it('takes back the activity of a credit its partner reversed, and keeps that of an earning that stands', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      const flight = svoKznCoupon(IVANOV, '0741000000003', '2026-03-01');
      w.dropCoupons([flight]);
      await w.night('2026-03-02');
      rent(w, IVANOV, 'I-2', '2026-04-10', 200);
      await w.night('2026-04-10');
      // A refund of an earning older than the last activity leaves it as it is.
      w.dropCoupons([{ ...flight, status: 'R' }]);
      await w.night('2026-05-01');
      expect(await w.balance(IVANOV.number)).toBe(200);
      expect((await w.member(IVANOV.number)).last_activity_date).toBe('2026-04-10');
      // The rental reversed too: nothing he earned stands, his points count from enrolment.
      rent(w, IVANOV, 'I-2-R', '2026-05-02', -200);
      await w.night('2026-05-02');
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect((await w.member(IVANOV.number)).last_activity_date).toBeNull();
      await w.expectLedgerOk();
    });

    it("expires a pool's points 18 months after the last earning of any of its members, and warns each member who may be mailed", async () => {
      const w = s();
      await w.enrol('2026-01-01', MOTHER, SON, FATHER);
      await mailable(w, MOTHER, FATHER);
      rent(w, MOTHER, 'H-1', '2026-02-01', 300);
      rent(w, SON, 'H-2', '2026-03-10', 200);
      await w.night('2026-03-10');
      expect(await w.poolBalance('HH-1')).toBe(500);
      expect((await w.member(SON.number)).last_activity_date).toBe('2026-03-10');
      // The father's account is closed; he stays on the pool's records but is mailed no longer.
      w.dropMembers([{ ...FATHER, status: 'CLOSED', updatedAt: '2026-04-01T00:00:00Z' }]);
      await w.night('2026-04-01');

      // Due on 10 September 2027: warned from 12 July, the mailing 60 days ahead.
      expect((await w.night('2027-07-11')).expire.counts.expiringSoon).toBe(0);
      expect((await w.night('2027-07-12')).expire.counts.expiringSoon).toBe(500);
      expect(await w.mailingList('EXPIRY_WARNING', '2027-07-11')).toEqual([]);
      expect(await w.mailingList('EXPIRY_WARNING', '2027-07-12')).toEqual([
        expect.objectContaining({ memberNumber: MOTHER.number, points: 500, expiresOn: '2027-09-10' }),
      ]);
      expect((await w.night('2027-09-09')).expire.counts.lots).toBe(0);
      expect(await w.poolBalance('HH-1')).toBe(500);
      const due = await w.night('2027-09-10');
      expect(due.expire.counts).toMatchObject({ lots: 2, points: 500 });
      expect(await w.poolBalance('HH-1')).toBe(0);
      expect(
        (await w.posting(`EXP:${(await w.knex('lots').orderBy('id').first('id')).id}`))?.entries,
      ).toEqual({
        [Accounts.poolPoints('HH-1')]: -300,
        [Accounts.expiry]: 300,
      });
    });

    it('does not keep a pool alive by a member who joins it and never earns', async () => {
      const w = s();
      await w.enrol('2026-01-01', MOTHER);
      rent(w, MOTHER, 'H-1', '2026-06-01', 400);
      await w.night('2026-06-01');
      // A daughter joins the household shortly before the pool is due, and earns nothing.
      const DAUGHTER: Person = {
        ...SON,
        number: memberNumber(14),
        givenName: 'ANNA',
        enrolled: '2027-11-15',
      };
      w.dropMembers([{ ...DAUGHTER, updatedAt: '2027-11-15T00:00:00Z' }]);
      await w.night('2027-11-15');
      await w.night('2027-11-30');
      expect(await w.poolBalance('HH-1')).toBe(400);
      // Due 18 months after the pool's last earning, as without her.
      expect((await w.night('2027-12-01')).expire.counts).toMatchObject({ points: 400 });
      expect(await w.poolBalance('HH-1')).toBe(0);
    });

    it('keeps a pool alive by what a member who has since left earned into it, not by what she earns after', async () => {
      const w = s();
      await w.enrol('2026-01-01', MOTHER, SON);
      rent(w, SON, 'H-1', '2026-02-01', 100);
      await w.night('2026-02-01');
      rent(w, MOTHER, 'H-2', '2026-06-01', 400);
      await w.night('2026-06-01');
      expect(await w.poolBalance('HH-1')).toBe(500);
      const { group: _left, ...motherAlone } = MOTHER;
      w.dropMembers([{ ...motherAlone, updatedAt: '2026-07-01T00:00:00Z' }]);
      await w.night('2026-07-01');
      await mailable(w, MOTHER, SON);
      rent(w, MOTHER, 'H-3', '2027-01-05', 50);
      await w.night('2027-01-05');
      expect(await w.balance(MOTHER.number)).toBe(50);

      // The son last earned on 1 February 2026, but the pool on 1 June: due on 1 December 2027.
      await w.night('2027-08-01');
      expect(await w.poolBalance('HH-1')).toBe(500);
      // Warned 60 days ahead: the son, who is in the pool; the mother is not, and her own points are not due.
      expect(await w.mailingList('EXPIRY_WARNING', '2027-10-02')).toEqual([
        expect.objectContaining({ memberNumber: SON.number, points: 500, expiresOn: '2027-12-01' }),
      ]);
      await w.night('2027-11-30');
      expect(await w.poolBalance('HH-1')).toBe(500);
      await w.night('2027-12-01');
      expect(await w.poolBalance('HH-1')).toBe(0);
      expect(await w.balance(MOTHER.number)).toBe(50);
    });
  });

  // A pool member's own account holds points only until the members feed sends their record again: what a
  // cancelled redemption gave back since they joined (see pool-points.test.ts).
  describe(`inactivity expiry, pool members with points of their own (${engine})`, () => {
    const s = useScenario(engine, (y) =>
      replaceOnce(
        y,
        'policy: fixedTerm            # points expire 36 months after the end of the month they were earned\n  months: 36',
        'policy: inactivity\n  months: 18',
      ),
    );

    it("adds a pool's points to a member's own in one warning when both are due the same day", async () => {
      const w = s();
      const { group: _none, ...sonAlone } = SON;
      await w.enrol('2026-01-01', sonAlone);
      rent(w, SON, 'H-1', '2026-02-01', 70);
      await w.night('2026-02-01');
      w.dropRedemptions([{ id: 'R-1', member: SON.number, date: '2026-02-02', service: 'SEAT', points: 70 }]);
      await w.night('2026-02-02');
      // Joins the household with nothing to bring; the redemption cancelled since gives his 70 back to him.
      w.dropMembers([{ ...SON, updatedAt: '2026-02-15T00:00:00Z' }]);
      await w.night('2026-02-15');
      await mailable(w, SON);
      rent(w, SON, 'H-2', '2026-03-10', 200);
      w.dropRedemptions([
        {
          id: 'R-1',
          member: SON.number,
          date: '2026-03-10',
          service: 'SEAT',
          points: 70,
          status: 'CANCELLED',
        },
      ]);
      await w.night('2026-03-10');
      expect(await w.balance(SON.number)).toBe(70);
      expect(await w.poolBalance('HH-1')).toBe(200);
      expect(await w.mailingList('EXPIRY_WARNING', '2027-07-12')).toEqual([
        expect.objectContaining({ memberNumber: SON.number, points: 270, expiresOn: '2027-09-10' }),
      ]);
      const due = await w.night('2027-09-10');
      expect(due.expire.counts).toMatchObject({ lots: 2, points: 270 });
    });

    it('does not keep a pool alive by what a member earned before joining it, when nothing of it moved in', async () => {
      const w = s();
      const { group: _none, ...sonAlone } = SON;
      await w.enrol('2026-01-01', MOTHER, sonAlone);
      rent(w, MOTHER, 'H-1', '2026-02-01', 300);
      await w.night('2026-02-01');
      rent(w, SON, 'H-2', '2027-07-20', 70);
      await w.night('2027-07-20');
      w.dropRedemptions([{ id: 'R-1', member: SON.number, date: '2027-07-21', service: 'SEAT', points: 70 }]);
      await w.night('2027-07-21');
      // He joins the household days before its points are due, with nothing left to bring.
      w.dropMembers([{ ...SON, updatedAt: '2027-07-25T00:00:00Z' }]);
      await w.night('2027-07-25');
      expect((await w.member(SON.number)).pool_since).toBe('2027-07-25');
      expect([await w.poolBalance('HH-1'), await w.balance(SON.number)]).toEqual([300, 0]);
      // Due 18 months after the mother's rental, as without him.
      expect((await w.night('2027-08-01')).expire.counts).toMatchObject({ lots: 1, points: 300 });
      expect(await w.poolBalance('HH-1')).toBe(0);
    });
  });
}
