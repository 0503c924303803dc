/**
 * A refund (or a partner's reversal) of a credit whose points have expired since: the program booked
 * them to EXPIRY once, so the reversal takes them back from there and leaves the member's other points
 * alone. Only what the member spent comes from their other lots, or is UNRECOVERED. Worked by hand on
 * the demo program with points expiring one month after the earning month, on both engines, the ledger
 * checked after each test and each night held to what the simulator showed.
 */
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { accrueJob } from '../../jobs/accrue.js';
import { Accounts } from '../../ledger/accounts.js';
import { awardPostingKey, flightKey, partnerKey, reversalKey } from '../activity.js';
import {
  memberNumber,
  replaceOnce,
  svoKznCoupon,
  useScenario,
  type Person,
  type Scenario,
} from './scenario.js';

const IVANOV: Person = { number: memberNumber(1), surname: 'IVANOV', givenName: 'IVAN' };
const PETROVA: Person = { number: memberNumber(2), surname: 'PETROVA', givenName: 'ANNA' };
const CLARA: Person = {
  number: memberNumber(33),
  surname: 'SOKOLOVA',
  givenName: 'CLARA',
  group: { type: 'HOUSEHOLD', id: 'H1' },
};
const MEMBER = Accounts.memberPoints(IVANOV.number);
const TICKET = '0741000000001';
const KEY = flightKey(
  { carrier: 'XX', number: '245', date: '2026-03-10', origin: 'SVO', destination: 'KZN' },
  { program: 'XX', number: IVANOV.number },
);
const REFUND = reversalKey(awardPostingKey(KEY));

const rent = (w: Scenario, txn: string, date: string, spend: string, who: Person = IVANOV) =>
  w.dropPartner('DRIVE', date, [
    { txn, member: who.number, surname: who.surname, date, type: 'RENTAL_DAY', spend, currency: 'USD' },
  ]);

const expiryBalance = async (w: Scenario) =>
  Number((await w.knex('accounts').where({ code: Accounts.expiry }).first('balance'))?.balance ?? 0);

/** What `simulate` shows for the record of a file: status, points, and what it says of the reversal. */
const shownFor = async (w: Scenario, feed: 'flown' | 'partner', file: string, date: string) =>
  (await w.simulate(feed, file, date)).flatMap((e) =>
    e.type === 'record' ? [[e.status, e.points, e.message]] : [],
  );

for (const engine of availableEngines()) {
  describe(`a reversal of points that have expired since (${engine})`, () => {
    const s = useScenario(engine, (y) =>
      replaceOnce(
        y,
        'policy: fixedTerm            # points expire 36 months after the end of the month they were earned\n  months: 36',
        'policy: fixedTerm\n  months: 1',
      ),
    );

    it('a refunded flight whose miles expired takes them back from EXPIRY, not from the member’s rental', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([svoKznCoupon(IVANOV, TICKET, '2026-03-10')]);
      await w.night('2026-03-11');
      expect(await w.lotSummary(IVANOV.number)).toEqual([[461, '2026-04-30']]);
      rent(w, 'E-1', '2026-05-01', '1000.00');
      const due = await w.night('2026-05-01');
      expect(due.expire.counts).toMatchObject({ lots: 1, points: 461 });
      expect(await w.balance(IVANOV.number)).toBe(1000);

      const file = w.dropCoupons([{ ...svoKznCoupon(IVANOV, TICKET, '2026-03-10'), status: 'R' }]);
      expect(await shownFor(w, 'flown', file, '2026-05-05')).toEqual([
        ['REVERSED', -461, '461 points of it had expired: taken back from EXPIRY'],
      ]);
      const refund = await w.night('2026-05-05');
      expect(refund.accrue.counts.unrecoveredPoints).toBeUndefined();
      const posting = await w.posting(REFUND);
      expect(posting?.entries).toEqual({
        [Accounts.expiry]: -461,
        [Accounts.ownFlights]: 461,
        [Accounts.memberStatus(IVANOV.number, 'SPEND')]: -10000,
        [Accounts.statusIssued('SPEND')]: 10000,
      });
      expect(posting?.detail).toEqual({ expired: 461 });
      // Issued once, expired once: the member keeps the rental, the expiry is undone, the fare no
      // longer counts toward a tier.
      expect(await w.balance(IVANOV.number)).toBe(1000);
      expect(await w.lotSummary(IVANOV.number)).toEqual([[1000, '2026-06-30']]);
      expect(await expiryBalance(w)).toBe(0);
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
      expect(await w.activity(KEY)).toMatchObject({ status: 'REVERSED', reason: 'NOT_FLOWN' });

      const count = await w.postingCount();
      const rerun = await w.run(accrueJob, '2026-05-05');
      expect(rerun.counts.postings ?? 0).toBe(0);
      await w.night('2026-05-06');
      expect(await w.postingCount()).toBe(count);
      expect(await w.balance(IVANOV.number)).toBe(1000);
    });

    it('a refunded flight whose miles were partly spent, partly expired: the spent part from other lots and UNRECOVERED, the expired part from EXPIRY', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([svoKznCoupon(IVANOV, TICKET, '2026-03-10')]);
      await w.night('2026-03-11');
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2026-04-01', service: 'SEAT', points: 300 },
      ]);
      await w.night('2026-04-01');
      // The seat took 300 of the flight's lot; the 161 left expire with the end of April.
      rent(w, 'E-1', '2026-05-01', '200.00');
      const due = await w.night('2026-05-01');
      expect(due.expire.counts).toMatchObject({ lots: 1, points: 161 });
      expect(await w.balance(IVANOV.number)).toBe(200);

      const file = w.dropCoupons([{ ...svoKznCoupon(IVANOV, TICKET, '2026-03-10'), status: 'R' }]);
      expect(await shownFor(w, 'flown', file, '2026-05-05')).toEqual([
        [
          'REVERSED',
          -461,
          '161 points of it had expired: taken back from EXPIRY; 100 points of it the member has spent: charged to UNRECOVERED',
        ],
      ]);
      const refund = await w.night('2026-05-05');
      // The 300 spent: 200 from the rental, 100 the program's loss; the 161 expired are not a loss again.
      expect(refund.accrue.counts.unrecoveredPoints).toBe(100);
      const posting = await w.posting(REFUND);
      expect(posting?.entries).toEqual({
        [MEMBER]: -200,
        [Accounts.expiry]: -161,
        [Accounts.unrecovered]: -100,
        [Accounts.ownFlights]: 461,
        [Accounts.memberStatus(IVANOV.number, 'SPEND')]: -10000,
        [Accounts.statusIssued('SPEND')]: 10000,
      });
      expect(posting?.detail).toEqual({ expired: 161, unrecovered: 100 });
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect(await w.lotSummary(IVANOV.number)).toEqual([]);
      expect(await expiryBalance(w)).toBe(0);
      const count = await w.postingCount();
      await w.run(accrueJob, '2026-05-05');
      expect(await w.postingCount()).toBe(count);
    });

    it('a partner’s reversal of a rental whose points expired credits the partner back and debits EXPIRY, not the member', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      rent(w, 'K-1', '2026-03-10', '1000.00');
      await w.night('2026-03-10');
      rent(w, 'K-2', '2026-05-01', '500.00');
      await w.night('2026-05-01');
      expect(await w.balance(IVANOV.number)).toBe(500);

      const file = rent(w, 'K-1-R', '2026-05-05', '-1000.00');
      expect(await shownFor(w, 'partner', file, '2026-05-05')).toEqual([
        ['REVERSED', -1000, '1,000 points of it had expired: taken back from EXPIRY'],
      ]);
      await w.night('2026-05-05');
      expect(await w.activity(partnerKey('DRIVE', 'K-1-R'))).toMatchObject({
        status: 'POSTED',
        points: -1000,
      });
      const original = await w.activity(partnerKey('DRIVE', 'K-1'));
      const posting = await w.posting(reversalKey(String(original?.posting_key)));
      // The partner is credited back in full, for its billing; the member keeps K-2's 500.
      expect(posting?.entries).toEqual({ [Accounts.expiry]: -1000, [Accounts.partner('DRIVE')]: 1000 });
      expect(posting?.detail).toMatchObject({ expired: 1000 });
      expect(await w.balance(IVANOV.number)).toBe(500);
      expect(await w.lotSummary(IVANOV.number)).toEqual([[500, '2026-06-30']]);
      expect(await expiryBalance(w)).toBe(0);
    });

    it('a refunded flight of a merged account whose miles expired at the survivor takes them back from EXPIRY, not from the survivor', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV, PETROVA);
      w.dropCoupons([svoKznCoupon(IVANOV, TICKET, '2026-03-10')]);
      await w.night('2026-03-11');
      w.dropMembers([
        { ...IVANOV, status: 'MERGED', mergedInto: PETROVA.number, updatedAt: '2026-04-01T09:00:00Z' },
      ]);
      await w.night('2026-04-01');
      // The merge carried the flight's lot, with its date, to the survivor, where it expires.
      expect(await w.lotSummary(PETROVA.number)).toEqual([[461, '2026-04-30']]);
      rent(w, 'E-1', '2026-05-01', '1000.00', PETROVA);
      const due = await w.night('2026-05-01');
      expect(due.expire.counts).toMatchObject({ lots: 1, points: 461 });

      const file = w.dropCoupons([{ ...svoKznCoupon(IVANOV, TICKET, '2026-03-10'), status: 'R' }]);
      expect(await shownFor(w, 'flown', file, '2026-05-05')).toEqual([
        ['REVERSED', -461, '461 points of it had expired: taken back from EXPIRY'],
      ]);
      const refund = await w.night('2026-05-05');
      expect(refund.accrue.counts.unrecoveredPoints).toBeUndefined();
      const posting = await w.posting(REFUND);
      // The status credits the merge moved go from the survivor, as for any refund after a merge.
      expect(posting?.entries).toEqual({
        [Accounts.expiry]: -461,
        [Accounts.ownFlights]: 461,
        [Accounts.memberStatus(PETROVA.number, 'SPEND')]: -10000,
        [Accounts.statusIssued('SPEND')]: 10000,
      });
      expect(posting?.detail).toEqual({ expired: 461 });
      expect(await w.balance(PETROVA.number)).toBe(1000);
      expect(await w.lotSummary(PETROVA.number)).toEqual([[1000, '2026-06-30']]);
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect(await expiryBalance(w)).toBe(0);
    });

    it('a refunded flight and a cancelled redemption of its miles leave the same points whichever night comes first', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV, PETROVA);
      const tickets = { [IVANOV.number]: TICKET, [PETROVA.number]: '0741000000002' };
      w.dropCoupons([IVANOV, PETROVA].map((p) => svoKznCoupon(p, tickets[p.number]!, '2026-03-10')));
      await w.night('2026-03-11');
      w.dropRedemptions(
        [IVANOV, PETROVA].map((p) => ({
          id: `R-${p.number}`,
          member: p.number,
          date: '2026-04-01',
          service: 'SEAT',
          points: 300,
        })),
      );
      await w.night('2026-04-01');
      rent(w, 'E-1', '2026-04-15', '400.00', IVANOV);
      rent(w, 'E-2', '2026-04-15', '400.00', PETROVA);
      await w.night('2026-04-15');
      // The seats took 300 of each flight's lot; the 161 left expire with the end of April.
      expect((await w.night('2026-05-01')).expire.counts).toMatchObject({ lots: 2, points: 322 });
      const cancel = (p: Person, date: string) =>
        w.dropRedemptions([
          { id: `R-${p.number}`, member: p.number, date, service: 'SEAT', points: 300, status: 'CANCELLED' },
        ]);
      // IVANOV's refund comes first, PETROVA's cancellation.
      w.dropCoupons([{ ...svoKznCoupon(IVANOV, TICKET, '2026-03-10'), status: 'R' }]);
      cancel(PETROVA, '2026-05-05');
      await w.night('2026-05-05');
      w.dropCoupons([{ ...svoKznCoupon(PETROVA, tickets[PETROVA.number]!, '2026-03-10'), status: 'R' }]);
      const cancelling = cancel(IVANOV, '2026-05-06');
      // Simulated as the night posts it: nothing goes back to the refunded flight's lot, past its date.
      expect(
        (await w.simulate('redemptions', cancelling, '2026-05-06')).flatMap((e) =>
          e.type === 'record' ? [[e.status, e.points, e.message ?? null]] : [],
        ),
      ).toEqual([['REVERSED', 300, null]]);
      await w.night('2026-05-06');
      // The flight's 461 taken back whole (161 expired, 300 given back by the seat), the rental kept.
      for (const p of [IVANOV, PETROVA]) {
        expect(await w.balance(p.number)).toBe(400);
        expect(await w.lotSummary(p.number)).toEqual([[400, '2026-05-31']]);
      }
      expect(await expiryBalance(w)).toBe(0);
    });

    it('a refunded flight whose miles moved into a pool, partly spent there and the rest expired: the pool gives the spent part, EXPIRY the expired', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV, CLARA);
      w.dropCoupons([svoKznCoupon(IVANOV, TICKET, '2026-03-10')]);
      await w.night('2026-03-11');
      w.dropMembers([{ ...IVANOV, group: CLARA.group, updatedAt: '2026-04-01T09:00:00Z' }]);
      await w.night('2026-04-01');
      expect(await w.poolBalance('H1')).toBe(461);
      w.dropRedemptions([
        { id: 'R-1', member: CLARA.number, date: '2026-04-02', service: 'SEAT', points: 100 },
      ]);
      await w.night('2026-04-02');
      rent(w, 'E-1', '2026-05-01', '1000.00', CLARA);
      const due = await w.night('2026-05-01');
      expect(due.expire.counts).toMatchObject({ lots: 1, points: 361 });
      const pool = await w.poolBalance('H1');

      const file = w.dropCoupons([{ ...svoKznCoupon(IVANOV, TICKET, '2026-03-10'), status: 'R' }]);
      expect(await shownFor(w, 'flown', file, '2026-05-05')).toEqual([
        [
          'REVERSED',
          -461,
          `100 points taken back from ${Accounts.poolPoints('H1')}, where a transfer moved them; 361 points of it had expired: taken back from EXPIRY`,
        ],
      ]);
      await w.night('2026-05-05');
      expect((await w.posting(REFUND))?.entries).toEqual({
        [Accounts.poolPoints('H1')]: -100,
        [Accounts.expiry]: -361,
        [Accounts.ownFlights]: 461,
        [Accounts.memberStatus(IVANOV.number, 'SPEND')]: -10000,
        [Accounts.statusIssued('SPEND')]: 10000,
      });
      expect(await w.poolBalance('H1')).toBe(pool - 100);
      expect(await expiryBalance(w)).toBe(0);
    });
  });
}
