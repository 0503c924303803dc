/**
 * One flight, two feeds: the FTL passenger and the flown coupon are one activity, whichever comes
 * first; miles are posted once and status credits come from the coupon. A coupon coming back refunded,
 * voided or exchanged takes back what was posted for it. Rules are versioned by the activity date.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import type { SimulationEvent } from '../../jobs/simulate.js';
import { exportJob } from '../../jobs/export.js';
import { forgetMember, retentionJob } from '../../jobs/retention.js';
import { unclaimedPassengers } from '../../exporters/alliance.js';
import { exportCopy } from '../../test/harness/files.js';
import { Program } from '../program.js';
import { Accounts } from '../../ledger/accounts.js';
import {
  awardPostingKey,
  couponKey,
  flightKey,
  reissueKey,
  reversalKey,
  statusPostingKey,
} from '../activity.js';
import {
  memberNumber,
  replaceOnce,
  useScenario,
  YES,
  type Coupon,
  type FtlMessage,
  type Person,
  type Scenario,
} from './scenario.js';

const IVANOV: Person = { number: memberNumber(1), surname: 'IVANOV', givenName: 'IVAN' };

const FLIGHT = { flight: '245', date: '2026-03-10', from: 'SVO', to: 'KZN' };
const KEY = flightKey(
  { carrier: 'XX', number: FLIGHT.flight, date: FLIGHT.date, origin: FLIGHT.from, destination: FLIGHT.to },
  { program: 'XX', number: IVANOV.number },
);

const IVANOV_PAX = { surname: 'IVANOV', givenName: 'IVAN', card: IVANOV.number };

const PETROV: Person = { number: memberNumber(2), surname: 'PETROV', givenName: 'PETR' };
/** The CRM merges IVANOV into PETROV, the account it kept. */
const ivanovMergedIntoPetrov: Person = {
  ...IVANOV,
  status: 'MERGED',
  mergedInto: PETROV.number,
  updatedAt: '2026-03-12T09:00:00Z',
};

/** What each account holds: points and SPEND status credits. */
async function holdings(w: Scenario, ...people: Person[]): Promise<Array<[number, number]>> {
  const out: Array<[number, number]> = [];
  for (const p of people) out.push([await w.balance(p.number), await w.statusBalance(p.number)]);
  return out;
}

const ftl = (over: Partial<FtlMessage> = {}): FtlMessage => ({
  flight: 'XX245',
  date: FLIGHT.date,
  board: 'SVO',
  groups: [{ dest: 'KZN', cls: 'Y', pax: [{ surname: 'IVANOV', givenName: 'IVAN', card: IVANOV.number }] }],
  ...over,
});

/** IVANOV's coupon of XX245 SVO-KZN: $120 fare + $30 tax = $150 toward status, 461 miles in Y. */
const coupon = (over: Partial<Coupon> = {}): Coupon => ({
  ticket: '0741000000001',
  coupon: 1,
  ...FLIGHT,
  booked: 'Y',
  surname: 'IVANOV',
  givenName: 'IVAN MR',
  card: { program: 'XX', number: IVANOV.number },
  fare: '120.00',
  tax: '30.00',
  ...over,
});

for (const engine of availableEngines()) {
  describe(`a flight from the FTL and the flown coupon (${engine})`, () => {
    const s = useScenario(engine);

    it('FTL first: miles at once, status credits when the coupon confirms, miles not again', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropFtl(ftl());
      await w.night('2026-03-11');
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
      expect(await w.activity(KEY)).toMatchObject({
        status: 'POSTED',
        seen_ftl: YES,
        status_credit: 0,
      });

      w.dropCoupons([coupon()]);
      const second = await w.night('2026-03-12');
      expect(second.accrue.counts.postings).toBe(1);
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.statusBalance(IVANOV.number)).toBe(15000);
      expect(await w.activity(KEY)).toMatchObject({
        status: 'POSTED',
        points: 461,
        status_credit: 15000,
        posting_key: awardPostingKey(KEY),
        status_posting_key: statusPostingKey(KEY),
        ticket_number: '0741000000001',
      });
      // The status posting carries no points, only the credit.
      expect((await w.posting(statusPostingKey(KEY)))?.entries).toEqual({
        [Accounts.memberStatus(IVANOV.number, 'SPEND')]: 15000,
        [Accounts.statusIssued('SPEND')]: -15000,
      });
      expect(await w.knex('activities').count({ n: '*' }).first()).toMatchObject({ n: 1 });
    });

    it('coupon first: miles and status at once; the later FTL adds nothing', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([coupon()]);
      await w.night('2026-03-11');
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.statusBalance(IVANOV.number)).toBe(15000);
      w.dropFtl(ftl());
      const second = await w.night('2026-03-12');
      expect(second.accrue.counts.postings).toBe(0);
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.statusBalance(IVANOV.number)).toBe(15000);
      expect(await w.activity(KEY)).toMatchObject({
        seen_ftl: YES,
        seen_coupon: YES,
      });
      expect(Number((await w.knex('activities').count({ n: '*' }).first())!.n)).toBe(1);
      expect(await w.postingsOf(IVANOV.number)).toEqual([
        { key: awardPostingKey(KEY), kind: 'ACCRUAL', businessDate: '2026-03-11' },
      ]);
    });

    it('both in one night: one posting with the miles and the status credits', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropFtl(ftl());
      w.dropCoupons([coupon()]);
      await w.night('2026-03-11');
      expect(await w.postingsOf(IVANOV.number)).toEqual([
        { key: awardPostingKey(KEY), kind: 'ACCRUAL', businessDate: '2026-03-11' },
      ]);
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.statusBalance(IVANOV.number)).toBe(15000);
    });

    it('the same passenger in a second FTL sent under the marketing flight is not credited twice (DUPLICATE)', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropFtl(ftl());
      w.dropFtl(ftl({ flight: 'YY5245' }));
      await w.night('2026-03-11');
      expect(await w.balance(IVANOV.number)).toBe(461);
      const rows = await w.activitiesOf(IVANOV.number);
      expect(rows.map((r) => [r.carrier, r.status, r.reason])).toEqual([
        ['XX', 'POSTED', null],
        ['YY', 'REJECTED', 'DUPLICATE'],
      ]);
    });

    it('two coupons of two tickets on the same route and day are two flights, both credited', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([coupon(), coupon({ ticket: '0741000000002', flight: '247' })]);
      await w.night('2026-03-11');
      const rows = await w.activitiesOf(IVANOV.number);
      expect(rows.map((r) => [r.flight_number, r.status, r.reason])).toEqual([
        ['245', 'POSTED', null],
        ['247', 'POSTED', null],
      ]);
      expect(await w.balance(IVANOV.number)).toBe(461 + 461);
      expect(await w.statusBalance(IVANOV.number)).toBe(15000 + 15000);
    });

    it('a refunded flight does not stand in the way of the flight taken instead on the same route and day', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([coupon()]);
      await w.night('2026-03-11');
      w.dropCoupons([coupon({ status: 'R' })]);
      await w.night('2026-03-12');
      w.dropFtl(ftl({ flight: 'XX247' }));
      await w.night('2026-03-13');
      const rows = await w.activitiesOf(IVANOV.number);
      expect(rows.map((r) => [r.flight_number, r.status, r.reason])).toEqual([
        ['245', 'REVERSED', 'NOT_FLOWN'],
        ['247', 'POSTED', null],
      ]);
      expect(await w.balance(IVANOV.number)).toBe(461);
    });

    describe('two flights of one route and day, both listed on the FTLs before their coupons', () => {
      const KEY_247 = flightKey(
        { carrier: 'XX', number: '247', date: FLIGHT.date, origin: FLIGHT.from, destination: FLIGHT.to },
        { program: 'XX', number: IVANOV.number },
      );
      const coupon245 = () => coupon();
      const coupon247 = (over: Partial<Coupon> = {}) =>
        coupon({ ticket: '0741000000002', flight: '247', ...over });
      /** The FTLs of XX245 and XX247 on the night of the 11th: XX245 credited, XX247 held as the same seat. */
      const bothListed = async () => {
        const w = s();
        await w.enrol('2026-03-01', IVANOV);
        w.dropFtl(ftl());
        w.dropFtl(ftl({ flight: 'XX247' }));
        await w.night('2026-03-11');
        expect(
          (await w.activitiesOf(IVANOV.number)).map((r) => [r.flight_number, r.status, r.reason]),
        ).toEqual([
          ['245', 'POSTED', null],
          ['247', 'REJECTED', 'DUPLICATE'],
        ]);
        return w;
      };
      const rerunsPostNothing = async (w: Scenario, nights: string[]) => {
        const before = await w.postingCount();
        for (const night of nights) await w.night(night);
        expect(await w.postingCount()).toBe(before);
      };

      it('the later flight’s coupon first: credited the night the credited flight’s coupon shows another ticket', async () => {
        const w = await bothListed();
        w.dropCoupons([coupon247()]);
        await w.night('2026-03-12');
        // One ticket alone tells nothing: a passenger moved from XX245 to XX247 is listed on both FTLs and
        // has one coupon, for the flight flown. The FTL credit of XX245 may be that very seat.
        expect(await w.activity(KEY_247)).toMatchObject({
          status: 'REJECTED',
          reason: 'DUPLICATE',
          ticket_number: '0741000000002',
        });
        expect(await w.balance(IVANOV.number)).toBe(461);
        expect(await w.statusBalance(IVANOV.number)).toBe(0);

        const file = w.dropCoupons([coupon245()]);
        const shown = await w.simulate('flown', file, '2026-03-13');
        expect(shown.find((e) => e.type === 'record')).toMatchObject({
          activity: KEY,
          status: 'POSTED',
          also: [{ activity: KEY_247, status: 'POSTED', points: 461, statusCredits: 15000 }],
        });
        expect(shown.at(-1)).toMatchObject({ points: 461, statusCredits: 30000 });
        const third = await w.night('2026-03-13');
        // XX245's status credit, and XX247's miles with its status credit.
        expect(third.accrue.counts.postings).toBe(2);
        expect(await w.activity(KEY_247)).toMatchObject({
          status: 'POSTED',
          reason: null,
          points: 461,
          status_credit: 15000,
        });
        expect(await w.balance(IVANOV.number)).toBe(922);
        expect(await w.statusBalance(IVANOV.number)).toBe(30000);
        await rerunsPostNothing(w, ['2026-03-11', '2026-03-12', '2026-03-13']);
        expect(await w.balance(IVANOV.number)).toBe(922);
      });

      it('the credited flight’s coupon first: the later flight is credited the night its own coupon comes', async () => {
        const w = await bothListed();
        w.dropCoupons([coupon245()]);
        await w.night('2026-03-12');
        expect(await w.activity(KEY_247)).toMatchObject({ status: 'REJECTED', reason: 'DUPLICATE' });
        expect(await w.balance(IVANOV.number)).toBe(461);
        expect(await w.statusBalance(IVANOV.number)).toBe(15000);
        w.dropCoupons([coupon247()]);
        await w.night('2026-03-13');
        expect(await w.activity(KEY_247)).toMatchObject({
          status: 'POSTED',
          points: 461,
          status_credit: 15000,
        });
        expect(await w.balance(IVANOV.number)).toBe(922);
        expect(await w.statusBalance(IVANOV.number)).toBe(30000);
        await rerunsPostNothing(w, ['2026-03-11', '2026-03-12', '2026-03-13']);
      });

      it('both coupons in one night: both flights credited, as the simulator shows beforehand', async () => {
        const w = await bothListed();
        const file = w.dropCoupons([coupon245(), coupon247()]);
        const shown = await w.simulate('flown', file, '2026-03-12');
        expect(shown.filter((e) => e.type === 'record')).toMatchObject([
          { activity: KEY, status: 'POSTED', points: 0 },
          { activity: KEY_247, status: 'POSTED', reason: null, points: 461 },
        ]);
        expect(shown.at(-1)).toMatchObject({ points: 461, statusCredits: 30000 });
        await w.night('2026-03-12');
        expect(await w.activity(KEY_247)).toMatchObject({
          status: 'POSTED',
          points: 461,
          status_credit: 15000,
        });
        expect(await w.balance(IVANOV.number)).toBe(922);
        expect(await w.statusBalance(IVANOV.number)).toBe(30000);
      });

      it('the credited flight’s coupon is another passenger’s: its credit is taken back for the name and the flight flown on the member’s own ticket credited', async () => {
        const w = await bothListed();
        w.dropCoupons([coupon247()]);
        await w.night('2026-03-12');
        expect(await w.activity(KEY_247)).toMatchObject({ status: 'REJECTED', reason: 'DUPLICATE' });
        const file = w.dropCoupons([coupon({ surname: 'PETROV', givenName: 'PETR MR' })]);
        const shown = await w.simulate('flown', file, '2026-03-13');
        expect(shown.find((e) => e.type === 'record')).toMatchObject({
          activity: KEY,
          status: 'REJECTED',
          reason: 'NAME_MISMATCH',
          points: -461,
          also: [{ activity: KEY_247, status: 'POSTED', points: 461, statusCredits: 15000 }],
        });
        await w.night('2026-03-13');
        expect(await w.activity(KEY)).toMatchObject({ status: 'REJECTED', reason: 'NAME_MISMATCH' });
        expect(await w.activity(KEY_247)).toMatchObject({
          status: 'POSTED',
          reason: null,
          points: 461,
          status_credit: 15000,
        });
        expect(await w.balance(IVANOV.number)).toBe(461);
        expect(await w.statusBalance(IVANOV.number)).toBe(15000);
        await rerunsPostNothing(w, ['2026-03-11', '2026-03-12', '2026-03-13']);
        expect(await w.balance(IVANOV.number)).toBe(461);
      });

      it('the credited flight’s coupon comes exchanged: its credit is taken back and the flight flown on the other ticket credited', async () => {
        const w = await bothListed();
        w.dropCoupons([coupon247()]);
        await w.night('2026-03-12');
        const file = w.dropCoupons([coupon({ status: 'E' })]);
        const shown = await w.simulate('flown', file, '2026-03-13');
        expect(shown.find((e) => e.type === 'record')).toMatchObject({
          activity: KEY,
          status: 'REVERSED',
          also: [{ activity: KEY_247, status: 'POSTED', points: 461, statusCredits: 15000 }],
        });
        await w.night('2026-03-13');
        expect(await w.activity(KEY)).toMatchObject({ status: 'REVERSED', reason: 'NOT_FLOWN' });
        expect(await w.activity(KEY_247)).toMatchObject({
          status: 'POSTED',
          points: 461,
          status_credit: 15000,
        });
        expect(await w.balance(IVANOV.number)).toBe(461);
        expect(await w.statusBalance(IVANOV.number)).toBe(15000);
        await rerunsPostNothing(w, ['2026-03-12', '2026-03-13']);
      });
    });

    it('an FTL sent under the marketing flight meets the coupon of the operating flight: miles once, status, refund', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropFtl(ftl({ flight: 'YY5245' }));
      await w.night('2026-03-11');
      const listedKey = flightKey(
        { carrier: 'YY', number: '5245', date: FLIGHT.date, origin: 'SVO', destination: 'KZN' },
        { program: 'XX', number: IVANOV.number },
      );
      expect(await w.activity(listedKey)).toMatchObject({ status: 'POSTED', points: 461 });
      const codeshare = { marketingCarrier: 'YY', marketingFlight: '5245' };
      w.dropCoupons([coupon(codeshare)]);
      await w.night('2026-03-12');
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.statusBalance(IVANOV.number)).toBe(15000);
      expect(await w.activity(listedKey)).toMatchObject({
        status: 'POSTED',
        ticket_number: '0741000000001',
        status_credit: 15000,
      });
      expect(Number((await w.knex('activities').count({ n: '*' }).first())!.n)).toBe(1);
      w.dropCoupons([coupon({ ...codeshare, status: 'R' })]);
      await w.night('2026-03-20');
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
      expect(await w.activity(listedKey)).toMatchObject({ status: 'REVERSED', reason: 'NOT_FLOWN' });
    });

    describe('a coupon sold as YY5245, taken back, and the FTL that lists him under YY5245 without .M/', () => {
      const codeshare = { marketingCarrier: 'YY', marketingFlight: '5245' };
      const LISTED = flightKey(
        { carrier: 'YY', number: '5245', date: FLIGHT.date, origin: 'SVO', destination: 'KZN' },
        { program: 'XX', number: IVANOV.number },
      );
      /** The FTL of XX245 and the coupon sold as YY5245, credited on the 11th. */
      const credited = async () => {
        const w = s();
        await w.enrol('2026-03-01', IVANOV);
        w.dropFtl(ftl());
        w.dropCoupons([coupon(codeshare)]);
        await w.night('2026-03-11');
        expect(await holdings(w, IVANOV)).toEqual([[461, 15000]]);
        return w;
      };
      const outcome = async (w: Scenario) =>
        (await w.activitiesOf(IVANOV.number)).map((r) => [
          r.activity_key,
          r.status,
          r.reason,
          r.reason_field,
          r.reason_message,
          r.points,
          r.posting_key,
        ]);

      /** The flight taken back, and the listing refused as the seat credited before, crediting nothing. */
      const TAKEN_BACK = [
        [KEY, 'REVERSED', 'NOT_FLOWN', null, null, 461, awardPostingKey(KEY)],
        [
          LISTED,
          'REJECTED',
          'DUPLICATE',
          'flight',
          `${IVANOV.number} was already credited for SVO-KZN on 2026-03-10`,
          0,
          null,
        ],
      ];

      for (const status of ['V', 'R', 'E'] as const) {
        it(`the coupon comes ${status}, then the listing: the same flight, REJECTED DUPLICATE, nothing credited`, async () => {
          const w = await credited();
          w.dropCoupons([coupon({ ...codeshare, status })]);
          await w.night('2026-03-12');
          expect(await holdings(w, IVANOV)).toEqual([[0, 0]]);
          const file = w.dropFtl(ftl({ flight: 'YY5245' }));
          const shown = await w.simulate('ftl', file, '2026-03-13');
          expect(shown.filter((e) => e.type === 'record')).toMatchObject([
            { activity: LISTED, status: 'REJECTED', reason: 'DUPLICATE', points: 0 },
          ]);
          const night = await w.night('2026-03-13');
          expect(night.accrue.counts.postings ?? 0).toBe(0);
          expect(await holdings(w, IVANOV)).toEqual([[0, 0]]);
          expect(await w.activity(KEY)).toMatchObject({ status: 'REVERSED', coupon_status: status });
          expect(await w.activity(LISTED)).toMatchObject({
            status: 'REJECTED',
            reason: 'DUPLICATE',
            posting_key: null,
            status_posting_key: null,
          });
          // As the listing is kept when it comes before the coupon's status (below): the order tells nothing.
          const late = await outcome(w);
          expect(late).toEqual(TAKEN_BACK);
          const postings = await w.postingCount();
          for (const night of ['2026-03-11', '2026-03-12', '2026-03-13']) await w.night(night);
          expect(await w.postingCount()).toBe(postings);
          expect(await holdings(w, IVANOV)).toEqual([[0, 0]]);
          expect(await outcome(w)).toEqual(late);
          // The listing sent again: read before, nothing stored or posted.
          w.dropFtl(ftl({ flight: 'YY5245' }));
          await w.night('2026-03-14');
          expect(await w.postingCount()).toBe(postings);
          expect(await outcome(w)).toEqual(late);
        });
      }

      it('with no FTL of the operating flight: the coupon credited alone and voided, the listing after it credits nothing', async () => {
        const w = s();
        await w.enrol('2026-03-01', IVANOV);
        w.dropCoupons([coupon(codeshare)]);
        await w.night('2026-03-11');
        w.dropCoupons([coupon({ ...codeshare, status: 'V' })]);
        await w.night('2026-03-12');
        w.dropFtl(ftl({ flight: 'YY5245' }));
        await w.night('2026-03-13');
        expect(await holdings(w, IVANOV)).toEqual([[0, 0]]);
        expect(await outcome(w)).toEqual(TAKEN_BACK);
      });

      it('a coupon never credited does not refuse the listing: it is decided as a flight of its own', async () => {
        const w = s();
        await w.enrol('2026-03-01', IVANOV);
        // Another passenger's ticket on his card: the coupon confirms no flight of his.
        w.dropCoupons([coupon({ ...codeshare, surname: 'PETROV', givenName: 'PETR' })]);
        await w.night('2026-03-11');
        expect(await w.activity(KEY)).toMatchObject({ status: 'REJECTED', reason: 'NAME_MISMATCH' });
        w.dropFtl(ftl({ flight: 'YY5245' }));
        await w.night('2026-03-12');
        expect(await w.activity(LISTED)).toMatchObject({ status: 'POSTED', points: 461 });
      });

      it('the listing before the void: REJECTED DUPLICATE, and it stays so once the coupon is voided', async () => {
        const w = await credited();
        w.dropFtl(ftl({ flight: 'YY5245' }));
        await w.night('2026-03-12');
        expect(await holdings(w, IVANOV)).toEqual([[461, 15000]]);
        expect(await w.activity(LISTED)).toMatchObject({ status: 'REJECTED', reason: 'DUPLICATE' });
        w.dropCoupons([coupon({ ...codeshare, status: 'V' })]);
        await w.night('2026-03-13');
        expect(await holdings(w, IVANOV)).toEqual([[0, 0]]);
        expect(await w.activity(LISTED)).toMatchObject({
          status: 'REJECTED',
          reason: 'DUPLICATE',
          posting_key: null,
        });
        expect(await outcome(w)).toEqual(TAKEN_BACK);
        const postings = await w.postingCount();
        for (const night of ['2026-03-11', '2026-03-12', '2026-03-13']) await w.night(night);
        expect(await w.postingCount()).toBe(postings);
      });
    });

    it('a codeshare is ours when we market it or operate it: both coupons earn on our chart, the operator kept through the merge', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      // Marketed by us, operated by LH; and operated by us, sold as LH's flight.
      w.dropCoupons([
        coupon({ carrier: 'LH', flight: '3245', marketingCarrier: 'XX', marketingFlight: '245' }),
        coupon({ ticket: '0741000000002', flight: '247', marketingCarrier: 'LH', marketingFlight: '3247' }),
      ]);
      await w.night('2026-03-11');
      const rows = await w.activitiesOf(IVANOV.number);
      expect(rows.map((r) => [r.carrier, r.flight_number, r.status, r.reason, r.points])).toEqual([
        ['LH', '3245', 'POSTED', null, 461],
        ['XX', '247', 'POSTED', null, 461],
      ]);
      // The DCS lists our XX249 under LH's number, with no .M/: ours (ftl.md). This listing is refused for
      // its spelling of the name; the coupon that completes it names the operator (XX), and the flight is
      // decided again as ours. (Another day: a listing has no ticket to tell it from the flights of the 10th.)
      const pax = { surname: 'SIDOROV', givenName: 'IVAN', card: IVANOV.number };
      w.dropFtl(
        ftl({ flight: 'LH3249', date: '2026-03-11', groups: [{ dest: 'KZN', cls: 'Y', pax: [pax] }] }),
      );
      await w.night('2026-03-12');
      const listed = flightKey(
        { carrier: 'LH', number: '3249', date: '2026-03-11', origin: 'SVO', destination: 'KZN' },
        { program: 'XX', number: IVANOV.number },
      );
      expect(await w.activity(listed)).toMatchObject({ status: 'REJECTED', reason: 'NAME_MISMATCH' });
      w.dropCoupons([
        coupon({
          ticket: '0741000000003',
          flight: '249',
          date: '2026-03-11',
          marketingCarrier: 'LH',
          marketingFlight: '3249',
        }),
      ]);
      await w.night('2026-03-13');
      expect(await w.activity(listed)).toMatchObject({ status: 'POSTED', points: 461, status_credit: 15000 });
      expect(JSON.parse(String((await w.activity(listed))!.detail))).toMatchObject({
        operatingCarrier: 'XX',
      });
      expect(await w.balance(IVANOV.number)).toBe(3 * 461);
    });

    it('a flight from an airport to itself is refused by the readers, naming the field: no minimum miles', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      const file = w.dropCoupons([coupon({ from: 'LED', to: 'LED' })]);
      const shown = await w.simulate('flown', file, '2026-03-11');
      expect(shown.filter((e) => e.type === 'record')).toEqual([]);
      expect(shown.filter((e) => e.type === 'reject')).toMatchObject([
        { line: 2, field: 'destination', reason: 'BAD_FORMAT' },
      ]);
      await w.night('2026-03-11');
      w.dropFtl(
        ftl({ flight: 'XX999', board: 'DME', groups: [{ dest: 'DME', cls: 'Y', pax: [IVANOV_PAX] }] }),
      );
      await w.night('2026-03-12');
      expect(await w.postingCount()).toBe(0);
      expect(await w.activitiesOf(IVANOV.number)).toEqual([]);
      const rejects = await w.rejects();
      expect(rejects.map((r) => [r.feed, r.line, r.field, r.reason])).toEqual([
        ['flown', 2, 'destination', 'BAD_FORMAT'],
        ['ftl', 5, 'group', 'MALFORMED_GROUP'],
        ['ftl', 6, '*', 'NO_GROUP'],
      ]);
    });

    it('a 5-digit flight: the coupon confirms what the FTL credited, one activity', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropFtl(ftl({ flight: 'XX12345' }));
      await w.night('2026-03-11');
      w.dropCoupons([coupon({ flight: '12345' })]);
      await w.night('2026-03-12');
      const key = flightKey(
        { carrier: 'XX', number: '12345', date: FLIGHT.date, origin: 'SVO', destination: 'KZN' },
        { program: 'XX', number: IVANOV.number },
      );
      expect(await w.activity(key)).toMatchObject({
        status: 'POSTED',
        points: 461,
        status_credit: 15000,
        flight_number: '12345',
        ticket_number: '0741000000001',
      });
      expect(await w.rejects()).toEqual([]);
      expect(await w.balance(IVANOV.number)).toBe(461);
    });

    it('a coupon refunded after it was credited reverses the miles and the status credits', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([coupon()]);
      await w.night('2026-03-11');
      w.dropCoupons([coupon({ status: 'R' })]);
      await w.night('2026-03-20');
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
      expect(await w.statusInWindow(IVANOV.number, '2026-01-01', '2026-12-31')).toBe(0);
      expect(await w.lots(IVANOV.number)).toEqual([]);
      expect(await w.activity(KEY)).toMatchObject({
        status: 'REVERSED',
        reason: 'NOT_FLOWN',
        coupon_status: 'R',
      });
      const original = await w.posting(awardPostingKey(KEY));
      expect(await w.posting(reversalKey(awardPostingKey(KEY)))).toMatchObject({
        kind: 'REVERSAL',
        businessDate: '2026-03-20',
        reversalOf: original!.id,
        entries: {
          [Accounts.memberPoints(IVANOV.number)]: -461,
          [Accounts.ownFlights]: 461,
          [Accounts.memberStatus(IVANOV.number, 'SPEND')]: -15000,
          [Accounts.statusIssued('SPEND')]: 15000,
        },
      });
    });

    it('the reversals of a refund carry the file that brought the refund, not the one credited', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      const flown = w.dropCoupons([coupon()]);
      await w.night('2026-03-11');
      const refund = w.dropCoupons([coupon({ status: 'R' })]);
      await w.night('2026-03-12');
      const idOf = async (name: string) => Number((await w.knex('files').where({ name }).first('id'))!.id);
      const sourceOf = async (key: string) =>
        (await w.knex('postings').where({ idempotency_key: key }).first('source_file_id', 'source_ref'))!;
      expect(Number((await sourceOf(awardPostingKey(KEY))).source_file_id)).toBe(await idOf(flown));
      const source = await sourceOf(reversalKey(awardPostingKey(KEY)));
      expect(Number(source.source_file_id)).toBe(await idOf(refund));
      expect(source.source_ref).toBe(KEY);
    });

    it('a void coupon after an FTL credit and its status posting takes both back', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropFtl(ftl());
      await w.night('2026-03-11');
      w.dropCoupons([coupon()]);
      await w.night('2026-03-12');
      w.dropCoupons([coupon({ status: 'V' })]);
      await w.night('2026-03-13');
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
      expect(await w.posting(reversalKey(awardPostingKey(KEY)))).toBeDefined();
      expect(await w.posting(reversalKey(statusPostingKey(KEY)))).toBeDefined();
      expect(await w.activity(KEY)).toMatchObject({ status: 'REVERSED' });
    });

    it('a refund after some miles were spent takes back what the member holds, charges the rest to UNRECOVERED, and the status credits in full', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([coupon()]);
      await w.night('2026-03-11');
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2026-03-12', service: 'SEAT', points: 400 },
      ]);
      await w.night('2026-03-12');
      expect(await w.balance(IVANOV.number)).toBe(61);
      const file = w.dropCoupons([coupon({ status: 'R' })]);
      const [shown] = (await w.simulate('flown', file, '2026-03-13')).flatMap((e) =>
        e.type === 'record' ? [[e.status, e.points, e.message]] : [],
      );
      expect(shown).toEqual([
        'REVERSED',
        -461,
        '400 points of it the member has spent: charged to UNRECOVERED',
      ]);
      // Foretold by the simulator (one feed in the inbox) and held to it.
      const refund = await w.night('2026-03-13');
      expect(refund.accrue.counts.unrecoveredPoints).toBe(400);
      expect(refund.accrue.counts['reject.INSUFFICIENT_POINTS']).toBeUndefined();
      const reversed = await w.activity(KEY);
      expect([reversed?.status, reversed?.reason, Boolean(reversed?.needs_accrual)]).toEqual([
        'REVERSED',
        'NOT_FLOWN',
        false,
      ]);
      // 461 credited: the 61 the member still holds come back, the 400 redeemed are the program's loss.
      const posting = await w.posting(reversalKey(awardPostingKey(KEY)));
      expect(posting?.entries).toEqual({
        [Accounts.memberPoints(IVANOV.number)]: -61,
        [Accounts.unrecovered]: -400,
        [Accounts.ownFlights]: 461,
        [Accounts.memberStatus(IVANOV.number, 'SPEND')]: -15000,
        [Accounts.statusIssued('SPEND')]: 15000,
      });
      expect(posting?.detail).toMatchObject({ unrecovered: 400 });
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect(await w.lotSummary(IVANOV.number)).toEqual([]);
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
      const later = await w.night('2026-03-14');
      expect(later.accrue.counts.activities).toBe(0);
    });

    it('an exchanged coupon on an FTL-credited flight reverses the FTL credit', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropFtl(ftl());
      await w.night('2026-03-11');
      w.dropCoupons([coupon({ status: 'E' })]);
      await w.night('2026-03-12');
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
      expect(await w.activity(KEY)).toMatchObject({ status: 'REVERSED', reason: 'NOT_FLOWN' });
    });

    it('a coupon that arrives already refunded is not credited (NOT_FLOWN)', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([coupon({ status: 'R' })]);
      await w.night('2026-03-11');
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect(await w.activity(KEY)).toMatchObject({ status: 'REJECTED', reason: 'NOT_FLOWN' });
    });

    /** The coupon rejects `simulate` shows, by line, with their reason and words. */
    const couponRejectsShown = (events: SimulationEvent[]) =>
      events.flatMap((e) => (e.type === 'reject' ? [[e.line, e.reason, e.message]] : []));

    it('a coupon sent flown again after its refund credits nothing: no status for the reversed flight, the record refused NOT_FLOWN', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropFtl(ftl());
      await w.night('2026-03-11');
      const refund = w.dropCoupons([coupon({ status: 'R' })]);
      await w.night('2026-03-12');
      expect(await w.balance(IVANOV.number)).toBe(0);
      // A late or re-sent extract still lists the coupon flown.
      const late = w.dropCoupons([coupon()]);
      const said = `coupon 0741000000001/1 was already refunded (R) in ${refund} (night of 2026-03-12): its flown record credits nothing`;
      expect(couponRejectsShown(await w.simulate('flown', late, '2026-03-13'))).toEqual([
        [2, 'NOT_FLOWN', said],
      ]);
      const postings = await w.postingCount();
      const n = await w.night('2026-03-13');
      expect(n.ingest.counts['flown.afterFinal']).toBe(1);
      expect(n.accrue.counts.postings).toBe(0);
      expect(await w.postingCount()).toBe(postings);
      expect(await w.posting(statusPostingKey(KEY))).toBeUndefined();
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
      expect(await w.activity(KEY)).toMatchObject({
        status: 'REVERSED',
        reason: 'NOT_FLOWN',
        coupon_status: 'R',
      });
      expect(await w.rejects({ reason: 'NOT_FLOWN' })).toMatchObject([
        { line: 2, field: 'coupon_status', record_ref: '0741000000001/1', message: said },
      ]);
    });

    it('a refund that comes before its coupon’s flown record is final: nothing credited, in another night or on an earlier line', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      const refund = w.dropCoupons([coupon({ status: 'R' })]);
      await w.night('2026-03-11');
      expect(await w.activity(KEY)).toMatchObject({ status: 'REJECTED', reason: 'NOT_FLOWN' });
      w.dropCoupons([coupon()]);
      await w.night('2026-03-12');
      expect(await w.activity(KEY)).toMatchObject({
        status: 'REJECTED',
        reason: 'NOT_FLOWN',
        coupon_status: 'R',
      });
      expect(await w.postingCount()).toBe(0);
      expect(await w.rejects({ reason: 'NOT_FLOWN' })).toMatchObject([
        {
          line: 2,
          message: `coupon 0741000000001/1 was already refunded (R) in ${refund} (night of 2026-03-11): its flown record credits nothing`,
        },
      ]);

      // One file, the void's line before the flown one, for another flight.
      const other = { ticket: '0741000000002', flight: '247', date: '2026-03-12' };
      const both = w.dropCoupons([coupon({ ...other, status: 'V' }), coupon(other)]);
      const shown = await w.simulate('flown', both, '2026-03-13');
      expect(couponRejectsShown(shown)).toEqual([
        [
          3,
          'NOT_FLOWN',
          'coupon 0741000000002/1 was already voided (V) at line 2 of this file: its flown record credits nothing',
        ],
      ]);
      expect(shown.filter((e) => e.type === 'record')).toMatchObject([
        { status: 'REJECTED', reason: 'NOT_FLOWN' },
      ]);
      await w.night('2026-03-13');
      expect(await w.postingCount()).toBe(0);
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
    });

    it('an FTL credit whose coupon comes refunded, then flown, in one file is taken back once, with no status credit', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropFtl(ftl());
      await w.night('2026-03-11');
      w.dropCoupons([coupon({ status: 'R' }), coupon()]);
      await w.night('2026-03-12');
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
      expect(await w.activity(KEY)).toMatchObject({
        status: 'REVERSED',
        reason: 'NOT_FLOWN',
        coupon_status: 'R',
      });
      expect(await w.postingsOf(IVANOV.number)).toEqual([
        { key: awardPostingKey(KEY), kind: 'ACCRUAL', businessDate: '2026-03-11' },
        { key: reversalKey(awardPostingKey(KEY)), kind: 'REVERSAL', businessDate: '2026-03-12' },
      ]);
      expect((await w.rejects({ reason: 'NOT_FLOWN' })).map((r) => r.line)).toEqual([3]);
    });

    it('a night an earlier version queued to credit the status of a reversed flight posts nothing when resumed', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropFtl(ftl());
      await w.night('2026-03-11');
      w.dropCoupons([coupon({ status: 'R' })]);
      await w.night('2026-03-12');
      // What an earlier version's ingest left of a late flown copy when the night stopped before accrue.
      await w
        .knex('activities')
        .where({ activity_key: KEY })
        .update({ coupon_status: 'F', needs_accrual: true });
      const resumed = await w.night('2026-03-13');
      expect(resumed.accrue.counts.postings).toBe(0);
      expect(await w.posting(statusPostingKey(KEY))).toBeUndefined();
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
      expect(await w.activity(KEY)).toMatchObject({ status: 'REVERSED', reason: 'NOT_FLOWN' });
    });

    it('the coupon’s name is checked when it completes an FTL credit: another passenger’s ticket takes the miles back (NAME_MISMATCH)', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropFtl(ftl());
      await w.night('2026-03-11');
      expect(await w.balance(IVANOV.number)).toBe(461);
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2026-03-12', service: 'SEAT', points: 400 },
      ]);
      await w.night('2026-03-12');
      expect(await w.balance(IVANOV.number)).toBe(61);
      const petrov = w.dropCoupons([coupon({ surname: 'PETROV', givenName: 'PETR MR' })]);
      const [shown] = (await w.simulate('flown', petrov, '2026-03-13')).filter((e) => e.type === 'record');
      expect(shown).toMatchObject({
        activity: KEY,
        status: 'REJECTED',
        reason: 'NAME_MISMATCH',
        field: 'surname',
        points: -461,
        message: expect.stringContaining('400 points of it the member has spent: charged to UNRECOVERED'),
      });
      const n = await w.night('2026-03-13');
      expect(n.accrue.counts['reject.NAME_MISMATCH']).toBe(1);
      expect(n.accrue.counts.unrecoveredPoints).toBe(400);
      expect(await w.activity(KEY)).toMatchObject({
        status: 'REJECTED',
        reason: 'NAME_MISMATCH',
        reason_field: 'surname',
        travel_surname: 'PETROV',
        status_posting_key: null,
      });
      expect(await w.posting(statusPostingKey(KEY))).toBeUndefined();
      const reversal = await w.posting(reversalKey(awardPostingKey(KEY)));
      expect(reversal?.entries).toEqual({
        [Accounts.memberPoints(IVANOV.number)]: -61,
        [Accounts.unrecovered]: -400,
        [Accounts.ownFlights]: 461,
      });
      // The reversal is the coupon's file's, as a refund's is.
      const source = await w
        .knex('postings')
        .where({ idempotency_key: reversalKey(awardPostingKey(KEY)) })
        .first('source_file_id');
      const file = await w.knex('files').where({ name: petrov }).first('id');
      expect(Number(source!.source_file_id)).toBe(Number(file!.id));
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
      const later = await w.night('2026-03-14');
      expect(later.accrue.counts.activities).toBe(0);
    });

    it('a coupon read twice with the same status is one credit, in a copy of the file or in another file', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([coupon()]);
      await w.night('2026-03-11');
      w.dropCoupons([coupon()]); // the same bytes under another name
      const copy = await w.night('2026-03-12');
      expect(copy.fetch.counts.duplicate).toBe(1);
      w.dropCoupons([coupon(), coupon({ ticket: '0741000000002', flight: '247', date: '2026-03-12' })]);
      const again = await w.night('2026-03-13');
      expect(again.ingest.counts['flown.duplicates']).toBe(1);
      expect(again.accrue.counts.postings).toBe(1);
      expect(await w.balance(IVANOV.number)).toBe(461 + 461);
    });

    /** The DUPLICATE records `simulate` shows, by line, with their words. */
    const duplicatesShown = (events: SimulationEvent[]) =>
      events.flatMap((e) => (e.type === 'record' && e.reason === 'DUPLICATE' ? [[e.line, e.message]] : []));

    it('a coupon read before names the file and night that read it, or its line in the same file, and what became of it', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      const other = { ticket: '0741000000002', flight: '247', date: '2026-03-11' };
      w.dropFtl(ftl());
      await w.night('2026-03-11');
      // The coupon completes the FTL's activity, which keeps the FTL's file: the coupon's own is named.
      const first = w.dropCoupons([coupon(), coupon(other)]);
      await w.night('2026-03-12');
      const again = w.dropCoupons([
        coupon(),
        coupon(other),
        coupon({ ticket: '0741000000003', flight: '249', date: '2026-03-12' }),
        coupon({ ticket: '0741000000003', flight: '249', date: '2026-03-12' }),
      ]);
      const shown = await w.simulate('flown', again, '2026-03-13');
      expect(duplicatesShown(shown)).toEqual([
        [2, `coupon 0741000000001/1 (F) was already read in ${first} (night of 2026-03-12) and posted`],
        [3, `coupon 0741000000002/1 (F) was already read in ${first} (night of 2026-03-12) and posted`],
        [5, 'coupon 0741000000003/1 (F) was already read at line 4 of this file and waits to be decided'],
      ]);
      const postings = await w.postingCount();
      const n = await w.night('2026-03-13');
      expect(n.ingest.counts['flown.duplicates']).toBe(3);
      expect(await w.postingCount()).toBe(postings + 1);
    });

    it('a refund sent again names the refund’s file, or none for a refund taken before corrections were kept', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([coupon()]);
      await w.night('2026-03-11');
      const refund = w.dropCoupons([coupon({ status: 'R' })]);
      await w.night('2026-03-12');
      // Another flight beside it: the same bytes would be refused whole as a copy of the refund's file.
      const again = w.dropCoupons([
        coupon({ status: 'R' }),
        coupon({ ticket: '0741000000005', flight: '249', date: '2026-03-12' }),
      ]);
      expect(duplicatesShown(await w.simulate('flown', again, '2026-03-13'))).toEqual([
        [2, `coupon 0741000000001/1 (R) was already read in ${refund} (night of 2026-03-12) and reversed`],
      ]);
      // A row refunded before the refund's file was kept with it: its own file brought the coupon flown.
      const row = (await w.knex('activities').whereNotNull('coupon_status').first('id', 'detail'))!;
      const { correctedBy: _kept, ...detail } = JSON.parse(String(row.detail)) as Record<string, unknown>;
      await w
        .knex('activities')
        .where({ id: row.id })
        .update({ detail: JSON.stringify(detail) });
      expect(duplicatesShown(await w.simulate('flown', again, '2026-03-13'))).toEqual([
        [2, 'coupon 0741000000001/1 (R) was already read and reversed'],
      ]);
    });

    it('an FTL passenger read before names the file and night that read it, or its line in the same file', async () => {
      const w = s();
      const GRAY: Person = { number: memberNumber(2), surname: 'GRAY', givenName: 'JOHN' };
      await w.enrol('2026-03-01', IVANOV, GRAY);
      w.dropCoupons([coupon()]);
      await w.night('2026-03-11');
      // The passenger completes the coupon's activity, which keeps the coupon's file: the FTL's is named.
      const first = w.dropFtl(ftl());
      await w.night('2026-03-12');
      const gray = { surname: 'GRAY', givenName: 'JOHN', card: GRAY.number };
      // Listed again in another message of the flight, under its operational suffix (the same message
      // sent again is a duplicate part, never read: ftl-held.test.ts).
      const again = w.dropFtl(
        ftl({ flight: 'XX245A', groups: [{ dest: 'KZN', cls: 'Y', pax: [IVANOV_PAX, gray, gray] }] }),
      );
      const shown = await w.simulate('ftl', again, '2026-03-13');
      const linesOf = (p: Person) =>
        shown.flatMap((e) => (e.type === 'record' && e.activity.endsWith(`:${p.number}`) ? [e.line] : []));
      const [ivanov] = linesOf(IVANOV);
      const [grayFirst, graySecond] = linesOf(GRAY);
      const flight = 'XX 245 2026-03-10 SVO-KZN';
      expect(duplicatesShown(shown)).toEqual([
        [ivanov, `the passenger (${flight}) was already read in ${first} (night of 2026-03-12) and posted`],
        [
          graySecond,
          `the passenger (${flight}) was already read at line ${grayFirst} of this file and waits to be decided`,
        ],
      ]);
      const n = await w.night('2026-03-13');
      expect(n.ingest.counts['ftl.duplicates']).toBe(2);
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.balance(GRAY.number)).toBe(461);
    });

    it('keeps an FTL-credited flight POSTED when its coupon comes in a currency without a rate: miles stay, no status', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropFtl(ftl());
      await w.night('2026-03-11');
      w.dropCoupons([coupon({ currency: 'CHF' })]);
      const n = await w.night('2026-03-12');
      expect(n.accrue.counts.rejected).toBe(0);
      expect(await w.activity(KEY)).toMatchObject({
        status: 'POSTED',
        reason: 'BAD_CURRENCY',
        points: 461,
        posting_key: awardPostingKey(KEY),
        status_posting_key: null,
      });
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
    });

    it('posts the status credit a missing rate held back once the rate arrives, and the miles not again', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([coupon({ currency: 'CHF' })]);
      await w.night('2026-03-11');
      expect(await w.activity(KEY)).toMatchObject({ status: 'POSTED', reason: 'BAD_CURRENCY' });
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
      // 1 EUR = 0.9 CHF = 1.08 USD: 150.00 CHF is 180.00 USD.
      w.dropFx({ '2026-03-10': { CHF: '0.9000', USD: '1.0800' } });
      const rated = await w.night('2026-03-12');
      expect(rated.accrue.counts.postings).toBe(1);
      expect(await w.activity(KEY)).toMatchObject({ status: 'POSTED', reason: null, status_credit: 18000 });
      expect(await w.statusBalance(IVANOV.number)).toBe(18000);
      expect(await w.balance(IVANOV.number)).toBe(461);
      const again = await w.night('2026-03-13');
      expect(again.accrue.counts.activities).toBe(0);
    });

    it('a coupon that comes after its member was merged away gives its status credit to the survivor, and its refund takes it from there', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV, PETROV);
      w.dropFtl(ftl());
      await w.night('2026-03-11');
      w.dropMembers([ivanovMergedIntoPetrov]);
      await w.night('2026-03-12');
      expect(await holdings(w, IVANOV, PETROV)).toEqual([
        [0, 0],
        [461, 0],
      ]);

      w.dropCoupons([coupon()]);
      const n = await w.night('2026-03-13');
      expect(n.accrue.counts.postings).toBe(1);
      expect(await holdings(w, IVANOV, PETROV)).toEqual([
        [0, 0],
        [461, 15000],
      ]);
      // The flyer stays IVANOV: the flight was his, only its credit lands where his account went.
      expect(await w.activity(KEY)).toMatchObject({
        member_number: IVANOV.number,
        status: 'POSTED',
        status_credit: 15000,
        status_posting_key: statusPostingKey(KEY),
      });
      expect((await w.posting(statusPostingKey(KEY)))?.entries).toEqual({
        [Accounts.memberStatus(PETROV.number, 'SPEND')]: 15000,
        [Accounts.statusIssued('SPEND')]: -15000,
      });
      // PETROV's tier review counts it.
      expect(await w.statusInWindow(PETROV.number, '2026-01-01', '2026-12-31')).toBe(15000);
      await w.expectLedgerOk();

      w.dropCoupons([coupon({ status: 'R' })]);
      await w.night('2026-03-14');
      expect(await w.activity(KEY)).toMatchObject({ status: 'REVERSED', reason: 'NOT_FLOWN' });
      expect(await holdings(w, IVANOV, PETROV)).toEqual([
        [0, 0],
        [0, 0],
      ]);
      expect(await w.statusInWindow(IVANOV.number, '2026-01-01', '2026-12-31')).toBe(0);
      await w.expectLedgerOk();
      const before = await w.postingCount();
      const rerun = await w.night('2026-03-13');
      expect(rerun.accrue.counts.postings).toBe(0);
      expect(await w.postingCount()).toBe(before);
    });

    it('a coupon that comes after the survivor was merged on gives its status credit to the account at the end of the chain', async () => {
      const w = s();
      const SIDOROV: Person = { number: memberNumber(3), surname: 'SIDOROV', givenName: 'SIDOR' };
      await w.enrol('2026-03-01', IVANOV, PETROV, SIDOROV);
      w.dropFtl(ftl());
      await w.night('2026-03-11');
      w.dropMembers([ivanovMergedIntoPetrov]);
      await w.night('2026-03-12');
      w.dropMembers([
        { ...PETROV, status: 'MERGED', mergedInto: SIDOROV.number, updatedAt: '2026-03-13T09:00:00Z' },
      ]);
      await w.night('2026-03-13');
      // IVANOV still names PETROV, where his points went first; they are SIDOROV's now.
      expect(await w.member(IVANOV.number)).toMatchObject({ merged_into: PETROV.number });
      w.dropCoupons([coupon()]);
      await w.night('2026-03-14');
      expect(await holdings(w, IVANOV, PETROV, SIDOROV)).toEqual([
        [0, 0],
        [0, 0],
        [461, 15000],
      ]);
      await w.expectLedgerOk();
    });

    it('a rate that comes after the member was merged away gives the status credit it held back to the survivor', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV, PETROV);
      w.dropCoupons([coupon({ currency: 'CHF' })]);
      await w.night('2026-03-11');
      expect(await w.activity(KEY)).toMatchObject({ status: 'POSTED', reason: 'BAD_CURRENCY' });
      w.dropMembers([ivanovMergedIntoPetrov]);
      await w.night('2026-03-12');
      // 1 EUR = 0.9 CHF = 1.08 USD: 150.00 CHF is 180.00 USD.
      w.dropFx({ '2026-03-10': { CHF: '0.9000', USD: '1.0800' } });
      await w.night('2026-03-13');
      expect(await w.activity(KEY)).toMatchObject({
        member_number: IVANOV.number,
        status: 'POSTED',
        reason: null,
        status_credit: 18000,
      });
      expect(await holdings(w, IVANOV, PETROV)).toEqual([
        [0, 0],
        [461, 18000],
      ]);
      await w.expectLedgerOk();
    });

    it('a coupon that comes first in a currency without a rate still earns its distance miles, not its status (BAD_CURRENCY)', async () => {
      // Distance miles need no money, so the order the feeds arrive in does not change them; the spend
      // status credit waits for nothing it can get and is not made.
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([coupon({ currency: 'CHF' })]);
      await w.night('2026-03-11');
      const credited = await w.activity(KEY);
      expect(credited).toMatchObject({ status: 'POSTED', reason: 'BAD_CURRENCY', status_credit: 0 });
      expect(Number(credited!.points)).toBeGreaterThan(0);
      w.dropFtl(ftl());
      await w.night('2026-03-12');
      expect(await w.balance(IVANOV.number)).toBe(Number(credited!.points));
    });

    it('a partner-program card on our flight is kept for the partner, not credited here', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([
        coupon({
          card: { program: 'LH', number: '992001234567890' },
          surname: 'SCHMIDT',
          givenName: 'KLAUS',
        }),
      ]);
      await w.night('2026-03-11');
      const kept = await w.knex('activities').where({ partner_code: 'LH' }).first();
      expect(kept).toMatchObject({
        status: 'NOT_CREDITED',
        reason: null,
        member_number: null,
        external_ref: '992001234567890',
      });
      expect(await w.postingCount()).toBe(0);
    });
  });

  describe(`one flight, several tickets, two feeds (${engine})`, () => {
    const s = useScenario(engine);
    const REISSUE = { ticket: '0741000000200', fare: '200.00', tax: '30.00' };
    const REISSUE_KEY = reissueKey(KEY, REISSUE.ticket, 1);

    describe('another passenger’s coupon on the card and the member’s own coupon for one flight', () => {
      const PETROV_COUPON = () => coupon({ surname: 'PETROV', givenName: 'PETR MR' });
      const OWN_COUPON = () => coupon({ ticket: '0741000000003' });
      /** IVANOV's flight activities by ticket: the one credited is his own ticket's, whichever came first. */
      const byTicket = async (w: Scenario) =>
        Object.fromEntries(
          (await w.activitiesOf(IVANOV.number)).map((r) => [
            r.ticket_number,
            [r.status, r.reason, r.points, r.status_credit],
          ]),
        );
      const creditedOnce = async (w: Scenario, nights: string[]) => {
        // The other passenger's coupon is refused for its name, or kept beside the member's as the same seat
        // when his came first: either way it earns nothing.
        const rows = await byTicket(w);
        expect(Object.keys(rows).sort()).toEqual(['0741000000001', '0741000000003']);
        expect(rows['0741000000001']!.slice(0, 2)).toEqual([
          'REJECTED',
          expect.stringMatching(/^(NAME_MISMATCH|DUPLICATE)$/),
        ]);
        expect(rows['0741000000003']).toEqual(['POSTED', null, 461, 15000]);
        expect(await w.balance(IVANOV.number)).toBe(461);
        expect(await w.statusBalance(IVANOV.number)).toBe(15000);
        const before = await w.postingCount();
        for (const night of nights) await w.night(night);
        expect(await w.postingCount()).toBe(before);
        expect(await w.balance(IVANOV.number)).toBe(461);
      };

      for (const [order, lines] of [
        ['the other passenger’s line first', () => [PETROV_COUPON(), OWN_COUPON()]],
        ['the member’s line first', () => [OWN_COUPON(), PETROV_COUPON()]],
      ] as const) {
        it(`after an FTL credit, both in one file, ${order}: the member’s own coupon credits the flight`, async () => {
          const w = s();
          await w.enrol('2026-03-01', IVANOV);
          w.dropFtl(ftl());
          await w.night('2026-03-11');
          w.dropCoupons(lines());
          await w.night('2026-03-12');
          await creditedOnce(w, ['2026-03-11', '2026-03-12']);
        });

        it(`with no FTL, both in one file, ${order}: the member’s own coupon credits the flight`, async () => {
          const w = s();
          await w.enrol('2026-03-01', IVANOV);
          w.dropCoupons(lines());
          await w.night('2026-03-11');
          await creditedOnce(w, ['2026-03-11']);
        });
      }

      it('after an FTL credit, on separate nights, the other passenger’s first: the member’s own coupon credits the flight the night it comes', async () => {
        const w = s();
        await w.enrol('2026-03-01', IVANOV);
        w.dropFtl(ftl());
        await w.night('2026-03-11');
        w.dropCoupons([PETROV_COUPON()]);
        await w.night('2026-03-12');
        expect(await w.balance(IVANOV.number)).toBe(0);
        const file = w.dropCoupons([OWN_COUPON()]);
        const shown = await w.simulate('flown', file, '2026-03-13');
        expect(shown.find((e) => e.type === 'record')).toMatchObject({
          activity: reissueKey(KEY, '0741000000003', 1),
          status: 'POSTED',
          points: 461,
        });
        expect(shown.at(-1)).toMatchObject({ points: 461, statusCredits: 15000 });
        await w.night('2026-03-13');
        await creditedOnce(w, ['2026-03-11', '2026-03-12', '2026-03-13']);
      });
    });

    it('an exchanged coupon and its reissue in one night: the reissue credits the flight from its own amounts', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([coupon()]);
      await w.night('2026-03-11');
      // The reissue's line before the exchange's: the order within the file must not matter.
      const file = w.dropCoupons([coupon(REISSUE), coupon({ status: 'E' })]);
      // The simulator tells the night's outcome beforehand, line by line.
      const shown = await w.simulate('flown', file, '2026-03-12');
      expect(shown.filter((e) => e.type === 'record')).toMatchObject([
        { line: 2, activity: REISSUE_KEY, status: 'POSTED', points: 461 },
        { line: 3, activity: KEY, status: 'REVERSED', reason: 'NOT_FLOWN', points: -461 },
      ]);
      expect(shown.at(-1)).toMatchObject({ points: 461, statusCredits: 23000, reversedPoints: -461 });
      const n = await w.night('2026-03-12');
      expect(n.ingest.counts).toMatchObject({ 'flown.corrections': 1, 'flown.reissued': 1 });
      expect(n.ingest.counts['flown.duplicates']).toBeUndefined();
      expect(await w.balance(IVANOV.number)).toBe(461);
      // $200 + $30 of the new ticket, not the $150 of the exchanged one.
      expect(await w.statusBalance(IVANOV.number)).toBe(23000);
      expect(await w.activity(KEY)).toMatchObject({
        status: 'REVERSED',
        reason: 'NOT_FLOWN',
        coupon_status: 'E',
      });
      expect(await w.activity(REISSUE_KEY)).toMatchObject({
        status: 'POSTED',
        points: 461,
        status_credit: 23000,
        ticket_number: REISSUE.ticket,
        posting_key: awardPostingKey(REISSUE_KEY),
      });
      expect((await w.postingsOf(IVANOV.number)).map((p) => p.key)).toEqual([
        awardPostingKey(KEY),
        reversalKey(awardPostingKey(KEY)),
        awardPostingKey(REISSUE_KEY),
      ]);
      const before = await w.postingCount();
      const again = w.dropCoupons([coupon({ status: 'E' }), coupon(REISSUE)]); // the same records again
      const reread = await w.simulate('flown', again, '2026-03-13');
      expect(reread.filter((e) => e.type === 'record')).toMatchObject([
        { status: 'REJECTED', reason: 'DUPLICATE', points: 0 },
        { status: 'REJECTED', reason: 'DUPLICATE', points: 0 },
      ]);
      const rerun = await w.night('2026-03-13');
      expect(rerun.ingest.counts).toMatchObject({ 'flown.duplicates': 2 });
      expect(await w.postingCount()).toBe(before);
      expect(await w.balance(IVANOV.number)).toBe(461);
    });

    it('a reissue after the exchange was already reversed gives the member the flight back', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([coupon()]);
      await w.night('2026-03-11');
      w.dropCoupons([coupon({ status: 'E' })]);
      await w.night('2026-03-12');
      expect(await w.balance(IVANOV.number)).toBe(0);
      w.dropCoupons([coupon(REISSUE)]);
      await w.night('2026-03-13');
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.statusBalance(IVANOV.number)).toBe(23000);
      expect(await w.activity(REISSUE_KEY)).toMatchObject({ status: 'POSTED', points: 461 });
      // A third ticket while the reissue stands is the same seat again: kept, not credited.
      const thirdFile = w.dropCoupons([coupon({ ticket: '0741000000300', fare: '90.00' })]);
      expect((await w.simulate('flown', thirdFile, '2026-03-14')).at(-1)).toMatchObject({
        rejected: 1,
        points: 0,
        byReason: { DUPLICATE: 1 },
      });
      await w.night('2026-03-14');
      const third = await w.activity(reissueKey(KEY, '0741000000300', 1));
      expect(third).toMatchObject({ status: 'REJECTED', reason: 'DUPLICATE' });
      expect(JSON.parse(String(third!.detail))).toMatchObject({ duplicateOf: `${REISSUE.ticket}/1` });
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.statusBalance(IVANOV.number)).toBe(23000);
    });

    it('a second ticket for a flight whose coupon stands is kept as DUPLICATE, and credited if the first is exchanged later', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([coupon()]);
      await w.night('2026-03-11');
      const secondFile = w.dropCoupons([coupon(REISSUE)]);
      const shownSecond = await w.simulate('flown', secondFile, '2026-03-12');
      expect(shownSecond.find((e) => e.type === 'record')).toMatchObject({
        activity: REISSUE_KEY,
        status: 'REJECTED',
        reason: 'DUPLICATE',
        points: 0,
        message: expect.stringContaining('0741000000001/1'),
      });
      expect(shownSecond.at(-1)).toMatchObject({ records: 1, rejected: 1, points: 0, statusCredits: 0 });
      const second = await w.night('2026-03-12');
      expect(second.ingest.counts).toMatchObject({ 'flown.secondCoupons': 1, 'flown.activities': 1 });
      expect(second.ingest.counts['flown.duplicates']).toBeUndefined();
      expect(second.accrue.counts.postings).toBe(0);
      expect(await w.activity(REISSUE_KEY)).toMatchObject({
        status: 'REJECTED',
        reason: 'DUPLICATE',
        ticket_number: REISSUE.ticket,
        member_number: IVANOV.number,
      });
      expect(JSON.parse(String((await w.activity(REISSUE_KEY))!.detail))).toMatchObject({
        duplicateOf: '0741000000001/1',
      });
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.statusBalance(IVANOV.number)).toBe(15000);

      const exchange = w.dropCoupons([coupon({ status: 'E' })]);
      // The exchange reverses the first ticket, and the night credits the waiting one in its place.
      const shownExchange = await w.simulate('flown', exchange, '2026-03-13');
      expect(shownExchange.find((e) => e.type === 'record')).toMatchObject({
        activity: KEY,
        status: 'REVERSED',
        points: -461,
        also: [{ activity: REISSUE_KEY, status: 'POSTED', points: 461, statusCredits: 23000 }],
      });
      expect(shownExchange.at(-1)).toMatchObject({
        records: 1,
        reversed: 1,
        points: 461,
        statusCredits: 23000,
        reversedPoints: -461,
        reversedStatusCredits: -15000,
      });
      await w.night('2026-03-13');
      expect(await w.activity(KEY)).toMatchObject({ status: 'REVERSED' });
      expect(await w.activity(REISSUE_KEY)).toMatchObject({ status: 'POSTED', reason: null, points: 461 });
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.statusBalance(IVANOV.number)).toBe(23000);
    });

    it('an FTL flight with an operational suffix and its coupon are one activity: one credit, status, refund', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropFtl(ftl({ flight: 'XX245A' }));
      await w.night('2026-03-11');
      expect(await w.balance(IVANOV.number)).toBe(461);
      const listed = await w.activity(KEY);
      expect(listed).toMatchObject({ status: 'POSTED', flight_number: '245' });
      expect(JSON.parse(String(listed!.detail))).toMatchObject({ operationalSuffix: 'A' });
      w.dropCoupons([coupon()]);
      await w.night('2026-03-12');
      expect(await w.activity(KEY)).toMatchObject({
        status: 'POSTED',
        seen_coupon: YES,
        status_credit: 15000,
      });
      expect(Number((await w.knex('activities').count({ n: '*' }).first())!.n)).toBe(1);
      expect(await w.statusBalance(IVANOV.number)).toBe(15000);
      w.dropCoupons([coupon({ status: 'R' })]);
      await w.night('2026-03-20');
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
    });

    it('a passenger refused for the FTL spelling of the name is credited when the coupon confirms the name', async () => {
      const GRAY: Person = { number: memberNumber(2), surname: 'GRAY', givenName: 'JOHN' };
      const grayKey = flightKey(
        {
          carrier: 'XX',
          number: FLIGHT.flight,
          date: FLIGHT.date,
          origin: FLIGHT.from,
          destination: FLIGHT.to,
        },
        { program: 'XX', number: GRAY.number },
      );
      const w = s();
      await w.enrol('2026-03-01', GRAY);
      w.dropFtl(
        ftl({
          groups: [
            { dest: 'KZN', cls: 'Y', pax: [{ surname: 'GREY', givenName: 'JOHN', card: GRAY.number }] },
          ],
        }),
      );
      await w.night('2026-03-11');
      expect(await w.activity(grayKey)).toMatchObject({ status: 'REJECTED', reason: 'NAME_MISMATCH' });
      w.dropCoupons([
        coupon({ surname: 'GRAY', givenName: 'JOHN', card: { program: 'XX', number: GRAY.number } }),
      ]);
      await w.night('2026-03-12');
      expect(await w.activity(grayKey)).toMatchObject({
        status: 'POSTED',
        reason: null,
        travel_surname: 'GRAY',
        points: 461,
        status_credit: 15000,
      });
      expect(await w.balance(GRAY.number)).toBe(461);
      expect(await w.statusBalance(GRAY.number)).toBe(15000);
    });
  });

  describe(`a coupon without a card and its FTL passenger (${engine})`, () => {
    const s = useScenario(engine);
    const cardless = (over: Partial<Coupon> = {}) => coupon({ card: null, ...over });
    const CPN = couponKey('0741000000001', 1);
    const activityCount = async (w: ReturnType<typeof s>) =>
      Number((await w.knex('activities').count({ n: '*' }).first())!.n);

    it('FTL first: the cardless coupon completes the FTL credit with its status credits, and its refund takes both back', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropFtl(ftl());
      await w.night('2026-03-11');
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
      w.dropCoupons([cardless()]);
      await w.night('2026-03-12');
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.statusBalance(IVANOV.number)).toBe(15000);
      expect(await w.activity(KEY)).toMatchObject({
        status: 'POSTED',
        seen_coupon: YES,
        ticket_number: '0741000000001',
        status_posting_key: statusPostingKey(KEY),
      });
      expect(await w.activity(CPN)).toBeUndefined();
      expect(await activityCount(w)).toBe(1);
      const rerun = await w.night('2026-03-12', { foretold: false });
      expect(rerun.accrue.counts.postings ?? 0).toBe(0);
      w.dropCoupons([cardless({ status: 'R' })]);
      await w.night('2026-03-13');
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
      expect(await w.activity(KEY)).toMatchObject({ status: 'REVERSED', reason: 'NOT_FLOWN' });
    });

    it('coupon first: the FTL passenger on his card takes the cardless coupon’s activity, credited with miles and status once', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([cardless()]);
      await w.night('2026-03-11');
      expect(await w.activity(CPN)).toMatchObject({ status: 'NOT_CREDITED', reason: 'NO_CARD' });
      w.dropFtl(ftl());
      await w.night('2026-03-12');
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.statusBalance(IVANOV.number)).toBe(15000);
      expect(await w.activity(CPN)).toBeUndefined();
      expect(await w.activity(KEY)).toMatchObject({
        status: 'POSTED',
        seen_ftl: YES,
        seen_coupon: YES,
        member_number: IVANOV.number,
        posting_key: awardPostingKey(KEY),
        status_credit: 15000,
      });
      expect(await activityCount(w)).toBe(1);
      // Another FTL message of the flight (its operational suffix) finds the flight by its key: nothing twice.
      w.dropFtl(
        ftl({ flight: 'XX245A', groups: [{ dest: 'KZN', cls: 'Y', pax: [{ ...IVANOV_PAX, title: 'MR' }] }] }),
      );
      const again = await w.night('2026-03-13');
      expect(again.ingest.counts['ftl.duplicates']).toBe(1);
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.statusBalance(IVANOV.number)).toBe(15000);
    });

    it('a member forgotten who keeps flying: after the nightly retention the cardless coupon still completes the FTL credit, and its refund takes both back', async () => {
      const w = s();
      const SECRET = { REDEYE_TOKEN_SECRET: 'flights test secret' };
      await w.enrol('2026-03-01', IVANOV);
      await forgetMember({ ...w.w.ctx('2026-03-02'), env: SECRET }, IVANOV.number);
      w.dropFtl(ftl());
      await w.night('2026-03-11');
      expect(await w.balance(IVANOV.number)).toBe(461);
      // The night's retention scrubs what came for the erased number, but not the names the coupon
      // without a card finds its passenger by.
      await w.run(retentionJob, '2026-03-11');
      w.dropCoupons([cardless()]);
      await w.night('2026-03-12');
      expect(await w.activity(CPN)).toBeUndefined();
      expect(await w.activity(KEY)).toMatchObject({
        status: 'POSTED',
        seen_coupon: YES,
        ticket_number: '0741000000001',
      });
      expect(await w.statusBalance(IVANOV.number)).toBe(15000);
      w.dropCoupons([cardless({ status: 'R' })]);
      await w.night('2026-03-13');
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
      expect(await w.activity(KEY)).toMatchObject({ status: 'REVERSED', reason: 'NOT_FLOWN' });
      // Once no coupon or claim can credit the flight any more, the names go as anyone's do.
      expect(await w.activity(KEY)).toMatchObject({ travel_surname: 'IVANOV' });
      await w.run(retentionJob, '2027-03-14');
      expect(await w.activity(KEY)).toMatchObject({ travel_surname: null, travel_given_name: null });
    });

    it('both in one night: one activity, credited once with miles and status; the night run again posts nothing', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropFtl(ftl());
      w.dropCoupons([cardless()]);
      await w.night('2026-03-11');
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.statusBalance(IVANOV.number)).toBe(15000);
      expect(await activityCount(w)).toBe(1);
      const postings = await w.postingCount();
      await w.night('2026-03-11');
      expect(await w.postingCount()).toBe(postings);
    });

    it('the cardless reissue of an exchanged cardless coupon credits the FTL passenger’s flight from its own amounts', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropFtl(ftl());
      await w.night('2026-03-11');
      w.dropCoupons([cardless()]);
      await w.night('2026-03-12');
      w.dropCoupons([cardless({ status: 'E' }), cardless({ ticket: '0741000000200', fare: '200.00' })]);
      await w.night('2026-03-13');
      const reissue = reissueKey(KEY, '0741000000200', 1);
      expect(await w.activity(KEY)).toMatchObject({ status: 'REVERSED', reason: 'NOT_FLOWN' });
      expect(await w.activity(reissue)).toMatchObject({
        status: 'POSTED',
        points: 461,
        status_credit: 23000,
      });
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.statusBalance(IVANOV.number)).toBe(23000);
    });

    it('a cardless coupon two passengers of its name could be stays its own activity, in either order', async () => {
      const w = s();
      const SON: Person = { number: memberNumber(2), surname: 'IVANOV', givenName: 'IVAN' };
      await w.enrol('2026-03-01', IVANOV, SON);
      const both = ftl({
        groups: [{ dest: 'KZN', cls: 'Y', pax: [IVANOV_PAX, { ...IVANOV_PAX, card: SON.number }] }],
      });
      // FTL first: the coupon finds two passengers of its name.
      w.dropFtl(both);
      await w.night('2026-03-11');
      w.dropCoupons([cardless()]);
      await w.night('2026-03-12');
      // Coupon first: two passengers of its name come for it in one FTL.
      w.dropCoupons([cardless({ ticket: '0741000000002', date: '2026-03-11' })]);
      await w.night('2026-03-13');
      w.dropFtl({ ...both, date: '2026-03-11' });
      await w.night('2026-03-14');
      for (const ticket of ['0741000000001', '0741000000002'])
        expect(await w.activity(couponKey(ticket, 1))).toMatchObject({
          status: 'NOT_CREDITED',
          reason: 'NO_CARD',
          seen_ftl: expect.not.toSatisfy((v: unknown) => v === true || v === 1),
        });
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
      expect(await w.statusBalance(SON.number)).toBe(0);
    });
  });

  describe(`a flight on another program's card and on ours (${engine})`, () => {
    const s = useScenario(engine);
    const LH_CARD = { program: 'LH', number: '992001234567890' };
    const LH_KEY = flightKey(
      {
        carrier: 'XX',
        number: FLIGHT.flight,
        date: FLIGHT.date,
        origin: FLIGHT.from,
        destination: FLIGHT.to,
      },
      LH_CARD,
    );
    /** Booked on his Lufthansa card: $100 toward status, 461 miles in Y. */
    const onLh = (over: Partial<Coupon> = {}) =>
      coupon({ card: LH_CARD, fare: '100.00', tax: '0.00', ...over });
    const onOurs = (over: Partial<Coupon> = {}) => coupon({ fare: '100.00', tax: '0.00', ...over });
    const ftlOnLh = ftl({
      groups: [{ dest: 'KZN', cls: 'Y', pax: [{ ...IVANOV_PAX, program: 'LH', card: LH_CARD.number }] }],
    });
    const activityCount = async (w: Scenario) =>
      Number((await w.knex('activities').count({ n: '*' }).first())!.n);
    /**
     * The night's export, and its outbound claims file to LH: the claims it carries and the passengers
     * left waiting for their coupon (the demo's other partner airline, IB, has none).
     */
    async function claimsToLh(w: Scenario, date: string) {
      const result = await w.run(exportJob, date);
      const out = await w
        .knex('files')
        .where({ direction: 'out', feed: 'alliance-claims', partner_code: 'LH', business_date: date })
        .first();
      const xml = readFileSync(exportCopy(w.w.config, out.local_path), 'utf8');
      expect(xml).toContain(`<ClaimCount>${result.counts.claims ?? 0}</ClaimCount>`);
      return { claims: result.counts.claims ?? 0, waiting: result.counts.claimsWaiting, xml, result };
    }
    const claimedFromLh = async (w: Scenario, date: string) => (await claimsToLh(w, date)).claims;
    /** The claims recorded as sent to LH: activity, claim file's date, status. */
    const sentToLh = async (w: Scenario) =>
      (await w
        .knex('alliance_claims')
        .where({ direction: 'OUT', partner_code: 'LH' })
        .orderBy('id')
        .select('activity_key', 'business_date', 'status')) as Array<Record<string, unknown>>;
    /** One activity: our card credited with the miles and the coupon's status, the partner's card kept. */
    async function creditedOnce(w: Scenario): Promise<void> {
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.statusBalance(IVANOV.number)).toBe(10000);
      expect(await w.activity(KEY)).toMatchObject({
        status: 'POSTED',
        seen_ftl: YES,
        seen_coupon: YES,
        member_number: IVANOV.number,
        partner_code: null,
        external_ref: null,
        ticket_number: '0741000000001',
        posting_key: awardPostingKey(KEY),
        status_credit: 10000,
      });
      expect(JSON.parse(String((await w.activity(KEY))!.detail))).toMatchObject({
        otherProgramCard: LH_CARD,
      });
      expect(await w.activity(LH_KEY)).toBeUndefined();
      expect(await activityCount(w)).toBe(1);
      const wait = w.w.config.exports.alliance.couponWaitDays;
      expect(await unclaimedPassengers(w.knex, 'LH', '2026-03-31', new Program(w.w.config), wait)).toEqual({
        due: [],
        waiting: [],
      });
    }

    it('FTL on our card first: the coupon booked on the partner card completes the credit, is not claimed from LH, and its refund takes back both', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropFtl(ftl());
      await w.night('2026-03-11');
      expect(await claimedFromLh(w, '2026-03-11')).toBe(0);
      w.dropCoupons([onLh()]);
      const night = await w.night('2026-03-12');
      expect(night.ingest.counts['flown.merged']).toBe(1);
      await creditedOnce(w);
      expect(await claimedFromLh(w, '2026-03-12')).toBe(0);
      const rerun = await w.night('2026-03-12', { foretold: false });
      expect(rerun.accrue.counts.postings ?? 0).toBe(0);
      w.dropCoupons([onLh({ status: 'R' })]);
      await w.night('2026-03-13');
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
      expect(await w.activity(KEY)).toMatchObject({ status: 'REVERSED', reason: 'NOT_FLOWN' });
      expect(await claimedFromLh(w, '2026-03-13')).toBe(0);
    });

    it('coupon on the partner card first: the FTL passenger on our card takes its activity, credited once and not claimed', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([onLh()]);
      await w.night('2026-03-11');
      expect(await w.activity(LH_KEY)).toMatchObject({ status: 'NOT_CREDITED', partner_code: 'LH' });
      w.dropFtl(ftl());
      const night = await w.night('2026-03-12');
      expect(night.ingest.counts['ftl.merged']).toBe(1);
      await creditedOnce(w);
      expect(await claimedFromLh(w, '2026-03-12')).toBe(0);
      // Either record sent again (in another file; the passenger in another FTL message of the flight, under
      // its operational suffix) is the one read before: nothing twice, nothing claimed.
      w.dropFtl(
        ftl({ flight: 'XX245A', groups: [{ dest: 'KZN', cls: 'Y', pax: [{ ...IVANOV_PAX, title: '' }] }] }),
      );
      w.dropCoupons([onLh({ pnr: 'XYZ789' })]);
      const again = await w.night('2026-03-13');
      expect(again.ingest.counts['ftl.duplicates']).toBe(1);
      expect(again.ingest.counts['flown.duplicates']).toBe(1);
      await creditedOnce(w);
    });

    it('both in one night: one activity, credited once, nothing claimed; the night run again posts nothing', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropFtl(ftl());
      w.dropCoupons([onLh()]);
      await w.night('2026-03-11');
      await creditedOnce(w);
      expect(await claimedFromLh(w, '2026-03-11')).toBe(0);
      const postings = await w.postingCount();
      await w.night('2026-03-11', { foretold: false });
      expect(await w.postingCount()).toBe(postings);
    });

    for (const order of ['FTL first', 'coupon first'] as const)
      it(`listed on the partner card, his coupon on ours, ${order}: credited here once, the passenger not claimed from LH, listed again a duplicate`, async () => {
        const w = s();
        await w.enrol('2026-03-01', IVANOV);
        if (order === 'FTL first') w.dropFtl(ftlOnLh);
        else w.dropCoupons([onOurs()]);
        await w.night('2026-03-11');
        if (order === 'FTL first') w.dropCoupons([onOurs()]);
        else w.dropFtl(ftlOnLh);
        await w.night('2026-03-12');
        await creditedOnce(w);
        expect(await claimedFromLh(w, '2026-03-12')).toBe(0);
        // Listed again in another FTL message of the flight (under its operational suffix): the passenger
        // read before, not one for LH.
        w.dropFtl(
          ftl({
            flight: 'XX245A',
            groups: [{ dest: 'KZN', cls: 'Y', pax: [{ ...ftlOnLh.groups[0]!.pax[0]!, title: '' }] }],
          }),
        );
        const again = await w.night('2026-03-13');
        expect(again.ingest.counts['ftl.duplicates']).toBe(1);
        await creditedOnce(w);
        w.dropCoupons([onOurs({ status: 'V' })]);
        await w.night('2026-03-14');
        expect(await w.balance(IVANOV.number)).toBe(0);
        expect(await w.statusBalance(IVANOV.number)).toBe(0);
      });

    it('a passenger on the partner card listed by the FTL alone waits for its coupon, then is claimed once, in the file of the night its wait ends', async () => {
      const w = s();
      expect(w.w.config.exports.alliance.couponWaitDays).toBe(3);
      const file = w.dropFtl(ftlOnLh);
      // The simulator says when the claims export will take him.
      const shown = (await w.simulate('ftl', file, '2026-03-11')).flatMap((e) =>
        e.type === 'record' ? [[e.status, e.message]] : [],
      );
      expect(shown).toEqual([
        ['NOT_CREDITED', 'waits for its flown coupon: exported to LH on 2026-03-14 without one'],
      ]);
      await w.night('2026-03-11');
      // Read on the 11th: coupons of the 12th, 13th and 14th may still make him ours to credit.
      for (const date of ['2026-03-11', '2026-03-12', '2026-03-13']) {
        if (date !== '2026-03-11') await w.night(date);
        expect(await claimsToLh(w, date)).toMatchObject({ claims: 0, waiting: 1 });
      }
      expect(await sentToLh(w)).toEqual([]);
      await w.night('2026-03-14');
      const ends = await claimsToLh(w, '2026-03-14');
      expect(ends).toMatchObject({ claims: 1, waiting: 0 });
      expect(ends.xml).toContain(`<Number>${LH_CARD.number}</Number>`);
      // Nothing known of his ticket: the claim carries none.
      expect(ends.xml).not.toContain('<TicketNumber>');
      expect(await sentToLh(w)).toEqual([
        { activity_key: LH_KEY, business_date: '2026-03-14', status: 'SENT' },
      ]);
      await w.night('2026-03-15');
      expect(await claimsToLh(w, '2026-03-15')).toMatchObject({ claims: 0, waiting: 0 });
      // The night its wait ended, run again: its file is rebuilt as it was sent, and nothing is sent twice.
      await w.night('2026-03-14', { foretold: false });
      const again = await claimsToLh(w, '2026-03-14');
      expect(again.result.counts.unchanged).toBeGreaterThan(0);
      expect(again.xml).toBe(ends.xml);
      // Run again, a night he waited: still nothing in that night's file.
      expect(await claimsToLh(w, '2026-03-12')).toMatchObject({ claims: 0 });
      expect(await sentToLh(w)).toHaveLength(1);
      const files = await w
        .knex('files')
        .where({ direction: 'out', feed: 'alliance-claims', partner_code: 'LH' })
        .count({ n: '*' })
        .first();
      expect(Number(files!.n)).toBe(5);
    });

    it('a passenger on the partner card waiting for its coupon, whose coupon comes on our card the next night: one activity, credited here, never claimed', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropFtl(ftlOnLh);
      await w.night('2026-03-11');
      expect(await claimsToLh(w, '2026-03-11')).toMatchObject({ claims: 0, waiting: 1 });
      w.dropCoupons([onOurs()]);
      await w.night('2026-03-12');
      await creditedOnce(w);
      expect(await claimsToLh(w, '2026-03-12')).toMatchObject({ claims: 0, waiting: 0 });
      for (const date of ['2026-03-13', '2026-03-14', '2026-03-15']) {
        await w.night(date);
        expect(await claimedFromLh(w, date)).toBe(0);
      }
      expect(await sentToLh(w)).toEqual([]);
      await creditedOnce(w);
    });

    it('a passenger on the partner card waiting for its coupon is claimed the night its coupon on that card comes, with its ticket, coupon and fare basis', async () => {
      const w = s();
      w.dropFtl(ftlOnLh);
      await w.night('2026-03-11');
      expect(await claimsToLh(w, '2026-03-11')).toMatchObject({ claims: 0, waiting: 1 });
      w.dropCoupons([onLh({ fareBasis: 'YOWRU' })]);
      await w.night('2026-03-12');
      const claimed = await claimsToLh(w, '2026-03-12');
      expect(claimed).toMatchObject({ claims: 1, waiting: 0 });
      for (const element of [
        '<FareBasis>YOWRU</FareBasis>',
        '<TicketNumber>0741000000001</TicketNumber>',
        '<CouponNumber>1</CouponNumber>',
      ])
        expect(claimed.xml).toContain(element);
      expect(await sentToLh(w)).toEqual([
        { activity_key: LH_KEY, business_date: '2026-03-12', status: 'SENT' },
      ]);
      await w.night('2026-03-14');
      expect(await claimedFromLh(w, '2026-03-14')).toBe(0);
      expect(await sentToLh(w)).toHaveLength(1);
    });

    it('nights missed: the night caught up claims whom the wait ended for meanwhile, after the coupons of the missed nights have joined theirs', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      const SCHMIDT = { surname: 'SCHMIDT', givenName: 'KLAUS', program: 'LH', card: '992001234567891' };
      w.dropFtl(
        ftl({
          groups: [
            { dest: 'KZN', cls: 'Y', pax: [{ ...IVANOV_PAX, program: 'LH', card: LH_CARD.number }, SCHMIDT] },
          ],
        }),
      );
      await w.night('2026-03-11');
      expect(await claimsToLh(w, '2026-03-11')).toMatchObject({ claims: 0, waiting: 2 });
      // Nothing runs from the 12th to the 15th; IVANOV's coupon, on our card, comes meanwhile.
      w.dropCoupons([onOurs()]);
      await w.night('2026-03-16');
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.statusBalance(IVANOV.number)).toBe(10000);
      expect(await w.activity(LH_KEY)).toBeUndefined();
      const caughtUp = await claimsToLh(w, '2026-03-16');
      expect(caughtUp).toMatchObject({ claims: 1, waiting: 0 });
      expect(caughtUp.xml).toContain('<Surname>SCHMIDT</Surname>');
      expect(caughtUp.xml).not.toContain('<Surname>IVANOV</Surname>');
      expect(await sentToLh(w)).toEqual([
        { activity_key: expect.stringContaining(SCHMIDT.card), business_date: '2026-03-16', status: 'SENT' },
      ]);
      await w.night('2026-03-17');
      expect(await claimedFromLh(w, '2026-03-17')).toBe(0);
    });

    it('with no wait configured, the passenger is claimed the night the FTL is read', async () => {
      const w = s();
      w.w.config.exports.alliance.couponWaitDays = 0;
      w.dropFtl(ftlOnLh);
      await w.night('2026-03-11');
      expect(await claimsToLh(w, '2026-03-11')).toMatchObject({ claims: 1, waiting: 0 });
    });

    it('a passenger on the partner card already claimed from LH stays LH’s: the coupon on our card is its own activity', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropFtl(ftlOnLh);
      await w.night('2026-03-11');
      // Claimed once its wait for a coupon is over; the coupon on our card comes too late to join it.
      expect(await claimedFromLh(w, '2026-03-14')).toBe(1);
      w.dropCoupons([onOurs()]);
      await w.night('2026-03-15');
      expect(await w.activity(LH_KEY)).toMatchObject({ status: 'NOT_CREDITED', partner_code: 'LH' });
      expect(await w.activity(KEY)).toMatchObject({
        status: 'POSTED',
        seen_ftl: expect.not.toSatisfy((v: unknown) => v === true || v === 1),
      });
    });

    describe('a codeshare sold as YY5245 and listed by the DCS under YY5245 (no .M/) on the partner card', () => {
      const codeshare = { marketingCarrier: 'YY', marketingFlight: '5245' };
      const LH_LISTED = flightKey(
        { carrier: 'YY', number: '5245', date: FLIGHT.date, origin: FLIGHT.from, destination: FLIGHT.to },
        LH_CARD,
      );
      const listedOnLh = ftl({ flight: 'YY5245', groups: ftlOnLh.groups });
      /** The claims to LH of the night just run and of each night run after it. */
      async function claimedThrough(w: Scenario, ran: string, dates: string[]): Promise<number[]> {
        const out = [await claimedFromLh(w, ran)];
        for (const date of dates) {
          await w.night(date);
          out.push(await claimedFromLh(w, date));
        }
        return out;
      }
      /** The listing kept as the seat known before: never claimed, nothing posted. */
      const listedAgain = (seat: string) => ({
        status: 'NOT_CREDITED',
        reason: 'DUPLICATE',
        reason_field: 'flight',
        reason_message: `LH card ${LH_CARD.number} was already listed or ticketed for SVO-KZN on 2026-03-10 (${seat}): not claimed again`,
        member_number: null,
        posting_key: null,
      });

      /** Listed under YY5245 one night, under XX245 the next: the second listing kept as the first's seat. */
      async function listedUnderBoth(): Promise<Scenario> {
        const w = s();
        w.dropFtl(listedOnLh);
        await w.night('2026-03-11');
        w.dropFtl(ftlOnLh);
        await w.night('2026-03-12');
        expect(await w.activity(LH_KEY)).toMatchObject(listedAgain(LH_LISTED));
        return w;
      }

      for (const order of ['coupon first', 'listing first'] as const)
        it(`his ticket on our card sold as YY5245, ${order}: the listing joins it, credited here once, never claimed`, async () => {
          const w = s();
          await w.enrol('2026-03-01', IVANOV);
          if (order === 'coupon first') w.dropCoupons([onOurs(codeshare)]);
          else w.dropFtl(listedOnLh);
          await w.night('2026-03-11');
          if (order === 'coupon first') {
            expect(await w.activity(KEY)).toMatchObject({ status: 'POSTED', points: 461 });
            w.dropFtl(listedOnLh);
          } else w.dropCoupons([onOurs(codeshare)]);
          const night = await w.night('2026-03-12');
          expect(night.ingest.counts[order === 'coupon first' ? 'ftl.merged' : 'flown.merged']).toBe(1);
          await creditedOnce(w);
          expect(await w.activity(LH_LISTED)).toBeUndefined();
          // Listed again under the marketing flight (in another message of it): the passenger read before.
          w.dropFtl(
            ftl({
              flight: 'YY5245A',
              groups: [{ dest: 'KZN', cls: 'Y', pax: [{ ...ftlOnLh.groups[0]!.pax[0]!, title: '' }] }],
            }),
          );
          const again = await w.night('2026-03-13');
          expect(again.ingest.counts['ftl.duplicates']).toBe(1);
          expect(await claimedThrough(w, '2026-03-13', ['2026-03-14', '2026-03-15', '2026-03-16'])).toEqual([
            0, 0, 0, 0,
          ]);
          expect(await sentToLh(w)).toEqual([]);
          await creditedOnce(w);
          const postings = await w.postingCount();
          for (const date of ['2026-03-11', '2026-03-12', '2026-03-15']) {
            await w.night(date, { foretold: false });
            expect(await claimedFromLh(w, date)).toBe(0);
          }
          expect(await w.postingCount()).toBe(postings);
        });

      it('his ticket on our card already completed by the FTL of XX245: the listing on the partner card is kept the same seat, never claimed', async () => {
        const w = s();
        await w.enrol('2026-03-01', IVANOV);
        w.dropFtl(ftl());
        w.dropCoupons([onOurs(codeshare)]);
        await w.night('2026-03-11');
        w.dropFtl(listedOnLh);
        await w.night('2026-03-12');
        expect(await w.activity(LH_LISTED)).toMatchObject(listedAgain(KEY));
        expect(await claimedThrough(w, '2026-03-12', ['2026-03-13', '2026-03-14', '2026-03-15'])).toEqual([
          0, 0, 0, 0,
        ]);
        expect(await sentToLh(w)).toEqual([]);
        expect(await holdings(w, IVANOV)).toEqual([[461, 10000]]);
      });

      it('his coupon on the partner card sold as YY5245, claimed, then the listing: the same seat, not claimed again', async () => {
        const w = s();
        w.dropCoupons([onLh(codeshare)]);
        await w.night('2026-03-11');
        expect(await claimedFromLh(w, '2026-03-11')).toBe(1);
        const file = w.dropFtl(listedOnLh);
        const shown = await w.simulate('ftl', file, '2026-03-12');
        expect(shown.filter((e) => e.type === 'record')).toMatchObject([
          { activity: LH_LISTED, status: 'NOT_CREDITED', reason: 'DUPLICATE' },
        ]);
        await w.night('2026-03-12');
        expect(await w.activity(LH_LISTED)).toMatchObject(listedAgain(LH_KEY));
        expect(await claimedThrough(w, '2026-03-12', ['2026-03-13', '2026-03-14', '2026-03-15'])).toEqual([
          0, 0, 0, 0,
        ]);
        expect(await sentToLh(w)).toEqual([
          { activity_key: LH_KEY, business_date: '2026-03-11', status: 'SENT' },
        ]);
        await w.night('2026-03-15', { foretold: false });
        expect(await claimedFromLh(w, '2026-03-15')).toBe(0);
        expect(await sentToLh(w)).toHaveLength(1);
      });

      for (const wait of [0, 3])
        it(`listed under XX245 and under YY5245 on the partner card (couponWaitDays ${wait}): claimed once, the later listing kept the same seat`, async () => {
          const w = s();
          w.w.config.exports.alliance.couponWaitDays = wait;
          // In one night when claimed at once; the night after, within the first listing's wait, otherwise.
          w.dropFtl(ftlOnLh);
          if (wait === 0) w.dropFtl(listedOnLh);
          await w.night('2026-03-11');
          if (wait !== 0) w.dropFtl(listedOnLh);
          const claims = await claimedThrough(w, '2026-03-11', [
            '2026-03-12',
            '2026-03-13',
            '2026-03-14',
            '2026-03-15',
          ]);
          expect(await w.activity(LH_LISTED)).toMatchObject(listedAgain(LH_KEY));
          expect(claims).toEqual(wait === 0 ? [1, 0, 0, 0, 0] : [0, 0, 0, 1, 0]);
          const on = wait === 0 ? '2026-03-11' : '2026-03-14';
          expect(await sentToLh(w)).toEqual([{ activity_key: LH_KEY, business_date: on, status: 'SENT' }]);
          // The night that claimed him, run again: the same one claim.
          await w.night(on, { foretold: false });
          expect(await claimedFromLh(w, on)).toBe(1);
          expect(await sentToLh(w)).toHaveLength(1);
        });

      it('listed under YY5245, then under XX245, then his coupon on the partner card: claimed once, with its ticket, the night it comes', async () => {
        const w = await listedUnderBoth();
        expect(await claimsToLh(w, '2026-03-12')).toMatchObject({ claims: 0, waiting: 1 });
        w.dropCoupons([onLh(codeshare)]);
        await w.night('2026-03-13');
        // The coupon completes the listing that was first, which is claimed with it.
        const claimed = await claimsToLh(w, '2026-03-13');
        expect(claimed).toMatchObject({ claims: 1, waiting: 0 });
        expect(claimed.xml).toContain('<TicketNumber>0741000000001</TicketNumber>');
        expect(await sentToLh(w)).toEqual([
          { activity_key: LH_LISTED, business_date: '2026-03-13', status: 'SENT' },
        ]);
        expect(await claimedThrough(w, '2026-03-13', ['2026-03-14', '2026-03-15'])).toEqual([1, 0, 0]);
        expect(await sentToLh(w)).toHaveLength(1);
      });

      it('listed under YY5245, then under XX245, then his coupon of XX245 with no marketing flight: it completes the first listing, claimed once with its ticket', async () => {
        const w = await listedUnderBoth();
        // Sold as XX245 itself: its key is the one the listing kept as the seat bears.
        const file = w.dropCoupons([onLh()]);
        const shown = await w.simulate('flown', file, '2026-03-13');
        expect(shown.filter((e) => e.type === 'record')).toMatchObject([{ activity: LH_LISTED }]);
        await w.night('2026-03-13');
        expect(await w.activity(LH_LISTED)).toMatchObject({
          seen_ftl: YES,
          seen_coupon: YES,
          ticket_number: '0741000000001',
          coupon_number: 1,
        });
        expect(await w.activity(LH_KEY)).toMatchObject({ ...listedAgain(LH_LISTED), ticket_number: null });
        const claimed = await claimsToLh(w, '2026-03-13');
        expect(claimed).toMatchObject({ claims: 1, waiting: 0 });
        expect(claimed.xml).toMatch(
          /<FareBasis>YSTD<\/FareBasis>\s*<TicketNumber>0741000000001<\/TicketNumber>\s*<CouponNumber>1<\/CouponNumber>/,
        );
        expect(await sentToLh(w)).toEqual([
          { activity_key: LH_LISTED, business_date: '2026-03-13', status: 'SENT' },
        ]);
        expect(await claimedThrough(w, '2026-03-13', ['2026-03-14', '2026-03-15'])).toEqual([1, 0, 0]);
        // The night that claimed him, run again: the same one claim.
        await w.night('2026-03-13', { foretold: false });
        expect(await claimedFromLh(w, '2026-03-13')).toBe(1);
        expect(await sentToLh(w)).toHaveLength(1);
      });

      it('waiting under XX245, then his coupon voided sold as YY5245 and the listing under YY5245: nothing claimed', async () => {
        const w = s();
        w.dropFtl(ftlOnLh);
        await w.night('2026-03-11');
        w.dropCoupons([onLh({ ...codeshare, status: 'V' })]);
        w.dropFtl(listedOnLh);
        await w.night('2026-03-12');
        expect(await w.activity(LH_KEY)).toMatchObject({ status: 'NOT_CREDITED', coupon_status: 'V' });
        expect(await w.activity(LH_LISTED)).toMatchObject(listedAgain(LH_KEY));
        expect(await claimedThrough(w, '2026-03-12', ['2026-03-13', '2026-03-14', '2026-03-15'])).toEqual([
          0, 0, 0, 0,
        ]);
        expect(await sentToLh(w)).toEqual([]);
      });
    });

    it('listed under XX245, then under XX247, then his coupon of XX247: the XX245 listing keeps no ticket of another flight', async () => {
      const w = s();
      const LH_247 = flightKey(
        { carrier: 'XX', number: '247', date: FLIGHT.date, origin: FLIGHT.from, destination: FLIGHT.to },
        LH_CARD,
      );
      w.dropFtl(ftlOnLh);
      await w.night('2026-03-11');
      w.dropFtl(ftl({ flight: 'XX247', groups: ftlOnLh.groups }));
      await w.night('2026-03-12');
      expect(await w.activity(LH_247)).toMatchObject({ status: 'NOT_CREDITED', reason: 'DUPLICATE' });
      w.dropCoupons([onLh({ ticket: '0741000000002', flight: '247' })]);
      await w.night('2026-03-13');
      // Not the codeshare's listing: the coupon of XX247 stays with the listing under XX247.
      expect(await w.activity(LH_KEY)).toMatchObject({
        seen_coupon: expect.not.toSatisfy((v: unknown) => v === true || v === 1),
        ticket_number: null,
      });
      expect(await w.activity(LH_247)).toMatchObject({
        status: 'NOT_CREDITED',
        reason: 'DUPLICATE',
        ticket_number: '0741000000002',
      });
      expect(await claimsToLh(w, '2026-03-13')).toMatchObject({ claims: 0, waiting: 1 });
      await w.night('2026-03-14');
      const claimed = await claimsToLh(w, '2026-03-14');
      expect(claimed).toMatchObject({ claims: 1, waiting: 0 });
      expect(claimed.xml).not.toContain('<TicketNumber>');
      expect(await sentToLh(w)).toEqual([
        { activity_key: LH_KEY, business_date: '2026-03-14', status: 'SENT' },
      ]);
    });

    it('two passengers of the coupon’s name on our cards: the coupon on the partner card stays LH’s', async () => {
      const w = s();
      const SON: Person = { number: memberNumber(2), surname: 'IVANOV', givenName: 'IVAN' };
      await w.enrol('2026-03-01', IVANOV, SON);
      w.dropFtl(
        ftl({ groups: [{ dest: 'KZN', cls: 'Y', pax: [IVANOV_PAX, { ...IVANOV_PAX, card: SON.number }] }] }),
      );
      await w.night('2026-03-11');
      w.dropCoupons([onLh()]);
      await w.night('2026-03-12');
      expect(await w.activity(LH_KEY)).toMatchObject({ status: 'NOT_CREDITED', partner_code: 'LH' });
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
      expect(await w.statusBalance(SON.number)).toBe(0);
    });
  });

  describe(`rules versioned by effective date (${engine})`, () => {
    // A second earning version from 1 September 2026: Y earns 200% and the promotion is gone.
    const s = useScenario(engine, (y) =>
      replaceOnce(
        y,
        '  status:                      #',
        `    - id: air-2026b
      effectiveFrom: 2026-09-01
      basis: distance
      rateBy: booked
      minimumMiles: 250
      classRates: { Y: 2.0, C: 3.0 }
      cityPairs:
        - { from: DME, to: LED, miles: 400 }
      tierBonus: { SILVER: 0.25, GOLD: 0.5, PLATINUM: 1.0 }
  status:                      #`,
      ),
    );

    it('credits each flight under the version in force on its date, even when it arrives after the change', async () => {
      const w = s();
      await w.enrol('2026-08-01', IVANOV);
      // Flown the day before the change, reported two days after it.
      w.dropCoupons([coupon({ date: '2026-08-31', ticket: '0741000000011' })]);
      w.dropCoupons([coupon({ date: '2026-09-01', ticket: '0741000000012', flight: '247' })]);
      await w.night('2026-09-02');
      const old = flightKey(
        { carrier: 'XX', number: '245', date: '2026-08-31', origin: 'SVO', destination: 'KZN' },
        { program: 'XX', number: IVANOV.number },
      );
      const next = flightKey(
        { carrier: 'XX', number: '247', date: '2026-09-01', origin: 'SVO', destination: 'KZN' },
        { program: 'XX', number: IVANOV.number },
      );
      expect(await w.activity(old)).toMatchObject({ points: 461, rule_version: 'air-2024' }); // 461 × 1.0
      expect(await w.activity(next)).toMatchObject({ points: 922, rule_version: 'air-2026b' }); // 461 × 2.0
      expect((await w.posting(awardPostingKey(old)))?.ruleVersion).toBe('air-2024');
      expect(await w.balance(IVANOV.number)).toBe(461 + 922);
    });

    it('a rerun of an old night after the change posts nothing and leaves the old version in place', async () => {
      const w = s();
      await w.enrol('2026-08-01', IVANOV);
      w.dropCoupons([coupon({ date: '2026-08-30' })]);
      await w.night('2026-08-31');
      const key = flightKey(
        { carrier: 'XX', number: '245', date: '2026-08-30', origin: 'SVO', destination: 'KZN' },
        { program: 'XX', number: IVANOV.number },
      );
      await w.night('2026-09-05');
      const before = await w.postingCount();
      const rerun = await w.night('2026-08-31');
      expect(rerun.accrue.counts.postings).toBe(0);
      expect(await w.postingCount()).toBe(before);
      expect(await w.activity(key)).toMatchObject({ points: 461, rule_version: 'air-2024' });
    });
  });
}
