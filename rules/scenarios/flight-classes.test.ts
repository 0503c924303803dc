/**
 * A flight's miles are those its coupon's classes give, whichever of the FTL and the coupon came first
 * (ftl.md: a flown confirmation wins). The demo earns by the booked class (`rateBy: booked`): an upgrade
 * the DCS did not mark with a `-B` suffix lists the passenger in the flown class's group, so the FTL alone
 * credits the flown class, and the coupon that comes later corrects it.
 */
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { Accounts } from '../../ledger/accounts.js';
import { up as keepStatusKeys } from '../../db/migrations/052_status_posting_keys_kept.js';
import type { SimulationEvent } from '../../jobs/simulate.js';
import { adjustmentKey, awardPostingKey, flightKey, reversalKey, statusPostingKey } from '../activity.js';
import {
  memberNumber,
  replaceOnce,
  useScenario,
  type Coupon,
  type FtlMessage,
  type Person,
} from './scenario.js';

const summaryOf = (events: SimulationEvent[]) =>
  events.find((e): e is Extract<SimulationEvent, { type: 'summary' }> => e.type === 'summary')!;

const IVANOV: Person = { number: memberNumber(1), surname: 'IVANOV', givenName: 'IVAN' };
const FLIGHT = { flight: '245', date: '2026-03-10', from: 'SVO', to: 'KZN' };
const KEY = flightKey(
  { carrier: 'XX', number: FLIGHT.flight, date: FLIGHT.date, origin: FLIGHT.from, destination: FLIGHT.to },
  { program: 'XX', number: IVANOV.number },
);
const AWARD = awardPostingKey(KEY);

/** XX245 SVO-KZN listing IVANOV in the group of `cls`, with no `-B` booked-class suffix. */
const ftl = (cls: string): FtlMessage => ({
  flight: 'XX245',
  date: FLIGHT.date,
  board: 'SVO',
  groups: [{ dest: 'KZN', cls, pax: [{ surname: 'IVANOV', givenName: 'IVAN', card: IVANOV.number }] }],
});

/** IVANOV's coupon: $120 fare + $30 tax, 15,000 status credits; SVO-KZN is 461 miles. */
const coupon = (over: Partial<Coupon>): Coupon => ({
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

/** Booked Y, upgraded to C at the gate: earns Y's 461. */
const UPGRADED = { booked: 'Y', flown: 'C' };
/** Booked J, seated in Y: earns J's 922. */
const DOWNGRADED = { booked: 'J', flown: 'Y' };
/** An award booking in O (no rate on the demo's chart), seated in C: $0 fare + $30 tax, 3,000 status credits. */
const AWARD_UPGRADED = { booked: 'O', flown: 'C', cabin: 'C', fare: '0.00', tax: '30.00' };

for (const engine of availableEngines()) {
  describe(`a flight's miles by its coupon's classes, whichever feed came first (${engine})`, () => {
    const s = useScenario(engine);

    // The orders that already agreed, kept as the measure the FTL-first order is held to.
    it('an upgrade the FTL did not mark: the coupon first, or both in one night, earns the booked class', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([coupon(UPGRADED)]);
      await w.night('2026-03-11');
      expect([await w.balance(IVANOV.number), await w.statusBalance(IVANOV.number)]).toEqual([461, 15000]);
      w.dropFtl(ftl('C'));
      await w.night('2026-03-12');
      expect([await w.balance(IVANOV.number), await w.statusBalance(IVANOV.number)]).toEqual([461, 15000]);
      const PETROV: Person = { number: memberNumber(2), surname: 'PETROV', givenName: 'PETR' };
      await w.enrol('2026-03-13', PETROV);
      w.dropFtl({
        ...ftl('C'),
        date: '2026-03-12',
        groups: [
          { dest: 'KZN', cls: 'C', pax: [{ surname: 'PETROV', givenName: 'PETR', card: PETROV.number }] },
        ],
      });
      w.dropCoupons([
        coupon({
          ...UPGRADED,
          ticket: '0741000000002',
          date: '2026-03-12',
          surname: 'PETROV',
          givenName: 'PETR MR',
          card: { program: 'XX', number: PETROV.number },
        }),
      ]);
      await w.night('2026-03-14');
      expect([await w.balance(PETROV.number), await w.statusBalance(PETROV.number)]).toEqual([461, 15000]);
    });

    it('an upgrade the FTL did not mark, FTL first: the coupon corrects the miles down to the booked class', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropFtl(ftl('C'));
      await w.night('2026-03-11');
      expect(await w.balance(IVANOV.number)).toBe(922);
      const file = w.dropCoupons([coupon(UPGRADED)]);
      const events = await w.simulate('flown', file, '2026-03-12');
      const shown = events.flatMap((e) => (e.type === 'record' ? [[e.status, e.points, e.message]] : []));
      // The night posts the difference (`<award>:ADJ`), not the flight's new total, and the coupon's
      // status credits: the line and the totals say so.
      expect(shown).toEqual([
        [
          'POSTED',
          -461,
          "award recomputed from the coupon's classes (booked Y, flown C): 922 → 461 points (-461)",
        ],
      ]);
      expect(summaryOf(events)).toMatchObject({
        records: 1,
        posted: 1,
        points: -461,
        statusCredits: 15000,
        reversedPoints: 0,
      });
      await w.night('2026-03-12');
      expect([await w.balance(IVANOV.number), await w.statusBalance(IVANOV.number)]).toEqual([461, 15000]);
      // What an auditor recomputes from the row is what the ledger holds for it.
      expect(await w.activity(KEY)).toMatchObject({
        booked_class: 'Y',
        flown_class: 'C',
        points: 461,
        rule_version: 'air-2024',
      });
      const adjustment = await w.posting(adjustmentKey(AWARD));
      expect([adjustment?.kind, adjustment?.ruleVersion, adjustment?.entries]).toEqual([
        'ADJUSTMENT',
        'air-2024',
        { [Accounts.memberPoints(IVANOV.number)]: -461, [Accounts.ownFlights]: 461 },
      ]);
      // The night run again posts nothing.
      const postings = await w.postingCount();
      const again = await w.night('2026-03-12');
      expect(again.accrue.counts.postings ?? 0).toBe(0);
      expect(await w.postingCount()).toBe(postings);
      expect(await w.balance(IVANOV.number)).toBe(461);
    });

    it('a downgrade, FTL first: the coupon corrects the miles up to the booked class, and its refund takes all back', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropFtl(ftl('Y'));
      await w.night('2026-03-11');
      expect(await w.balance(IVANOV.number)).toBe(461);
      const file = w.dropCoupons([coupon(DOWNGRADED)]);
      // The night posts the 461 more J earns, not the flight's new 922.
      const events = await w.simulate('flown', file, '2026-03-12');
      expect(events.find((e) => e.type === 'record')).toMatchObject({ status: 'POSTED', points: 461 });
      expect(summaryOf(events)).toMatchObject({ points: 461, statusCredits: 15000, reversedPoints: 0 });
      await w.night('2026-03-12');
      expect([await w.balance(IVANOV.number), await w.statusBalance(IVANOV.number)]).toEqual([922, 15000]);
      expect(await w.activity(KEY)).toMatchObject({ booked_class: 'J', flown_class: 'Y', points: 922 });
      // The correction's lot expires with the flight's.
      expect((await w.lots(IVANOV.number)).map((l) => [l.remaining, l.expiresOn])).toEqual([
        [461, expect.any(String)],
        [461, (await w.lots(IVANOV.number))[0]!.expiresOn],
      ]);
      w.dropCoupons([coupon({ ...DOWNGRADED, status: 'R' })]);
      await w.night('2026-03-13');
      expect([await w.balance(IVANOV.number), await w.statusBalance(IVANOV.number)]).toEqual([0, 0]);
      expect(await w.activity(KEY)).toMatchObject({ status: 'REVERSED', reason: 'NOT_FLOWN' });
      expect(await w.posting(reversalKey(adjustmentKey(AWARD)))).toBeDefined();
    });

    it('a correction down after the miles were spent takes what the member holds and charges the rest to UNRECOVERED', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropFtl(ftl('C'));
      await w.night('2026-03-11');
      w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2026-03-12', service: 'SEAT', points: 900 },
      ]);
      await w.night('2026-03-12');
      expect(await w.balance(IVANOV.number)).toBe(22);
      const file = w.dropCoupons([coupon(UPGRADED)]);
      const [shown] = (await w.simulate('flown', file, '2026-03-13')).flatMap((e) =>
        e.type === 'record' ? [e.message] : [],
      );
      expect(shown).toContain('439 points of it the member has spent: charged to UNRECOVERED');
      const night = await w.night('2026-03-13');
      expect(night.accrue.counts.unrecoveredPoints).toBe(439);
      expect((await w.posting(adjustmentKey(AWARD)))?.entries).toEqual({
        [Accounts.memberPoints(IVANOV.number)]: -22,
        [Accounts.unrecovered]: -439,
        [Accounts.ownFlights]: 461,
      });
      expect([await w.balance(IVANOV.number), await w.statusBalance(IVANOV.number)]).toEqual([0, 15000]);
      expect(await w.activity(KEY)).toMatchObject({ status: 'POSTED', points: 461 });
      // Refunded after all: the correction is taken back before the award, so the member is not given
      // back what the correction charged to UNRECOVERED.
      w.dropCoupons([coupon({ ...UPGRADED, status: 'R' })]);
      await w.night('2026-03-14');
      expect([await w.balance(IVANOV.number), await w.statusBalance(IVANOV.number)]).toEqual([0, 0]);
      const unrecovered = await w.knex('accounts').where({ code: Accounts.unrecovered }).first('balance');
      // The 900 redeemed are the program's loss, once.
      expect(Number(unrecovered.balance)).toBe(-900);
    });

    it('a booked class that earns nothing, FTL first: the coupon takes the whole award back, its status credit stands', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropFtl(ftl('C'));
      await w.night('2026-03-11');
      expect(await w.balance(IVANOV.number)).toBe(922);
      const file = w.dropCoupons([coupon(AWARD_UPGRADED)]);
      const events = await w.simulate('flown', file, '2026-03-12');
      const shown = events.flatMap((e) =>
        e.type === 'record' ? [[e.status, e.reason, e.points, e.message]] : [],
      );
      expect(shown).toEqual([
        [
          'POSTED',
          'CLASS_NOT_ELIGIBLE',
          -922,
          "class O earns nothing under air-2024; award recomputed from the coupon's classes (booked O, flown C): 922 → 0 points (-922)",
        ],
      ]);
      // The whole award taken back, the coupon's status credits posted.
      expect(summaryOf(events)).toMatchObject({ points: -922, statusCredits: 3000 });
      await w.night('2026-03-12');
      // What the coupon first gives: no points, the tax's 3,000 status credits.
      expect([await w.balance(IVANOV.number), await w.statusBalance(IVANOV.number)]).toEqual([0, 3000]);
      expect(await w.activity(KEY)).toMatchObject({
        status: 'POSTED',
        reason: 'CLASS_NOT_ELIGIBLE',
        reason_field: 'booked_class',
        points: 0,
        status_credit: 3000,
      });
      expect((await w.posting(adjustmentKey(AWARD)))?.entries).toEqual({
        [Accounts.memberPoints(IVANOV.number)]: -922,
        [Accounts.ownFlights]: 922,
      });
      // Refunded after all: nothing is left, and the correction is not given back.
      w.dropCoupons([coupon({ ...AWARD_UPGRADED, status: 'R' })]);
      await w.night('2026-03-13');
      expect([await w.balance(IVANOV.number), await w.statusBalance(IVANOV.number)]).toEqual([0, 0]);
    });

    it('a booked class that earns nothing, coupon first: the FTL that comes after leaves the flight posted with its status credit', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([coupon(AWARD_UPGRADED)]);
      await w.night('2026-03-11');
      const credited = { status: 'POSTED', reason: 'CLASS_NOT_ELIGIBLE', points: 0, status_credit: 3000 };
      expect(await w.activity(KEY)).toMatchObject(credited);
      w.dropFtl(ftl('C'));
      await w.night('2026-03-12');
      expect(await w.activity(KEY)).toMatchObject({
        ...credited,
        reason_field: 'booked_class',
        status_posting_key: statusPostingKey(KEY),
      });
      expect([await w.balance(IVANOV.number), await w.statusBalance(IVANOV.number)]).toEqual([0, 3000]);
      // And a refund still finds the status credit to take back.
      w.dropCoupons([coupon({ ...AWARD_UPGRADED, status: 'R' })]);
      await w.night('2026-03-13');
      expect(await w.activity(KEY)).toMatchObject({ status: 'REVERSED', reason: 'NOT_FLOWN' });
      expect(await w.statusBalance(IVANOV.number)).toBe(0);
    });
  });

  describe(`the flown class wins under rateBy: flown, whichever feed came first (${engine})`, () => {
    const s = useScenario(engine, (y) => replaceOnce(y, 'rateBy: booked', 'rateBy: flown'));
    /** Booked C, seated in Y: flown Y's 461 under `rateBy: flown`; the DCS lists him in the C group. */
    const SEATED_Y = { booked: 'C', flown: 'Y', cabin: 'Y' };

    it('the coupon first: the FTL listing him in C changes nothing', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([coupon(SEATED_Y)]);
      await w.night('2026-03-11');
      expect(await w.balance(IVANOV.number)).toBe(461);
      w.dropFtl(ftl('C'));
      await w.night('2026-03-12');
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.activity(KEY)).toMatchObject({ booked_class: 'C', flown_class: 'Y', points: 461 });
      expect(await w.posting(adjustmentKey(AWARD))).toBeUndefined();
    });

    it('the FTL first (922 for C): the coupon corrects the award down to the flown Y', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropFtl(ftl('C'));
      await w.night('2026-03-11');
      expect(await w.balance(IVANOV.number)).toBe(922);
      w.dropCoupons([coupon(SEATED_Y)]);
      await w.night('2026-03-12');
      expect([await w.balance(IVANOV.number), await w.statusBalance(IVANOV.number)]).toEqual([461, 15000]);
      expect(await w.activity(KEY)).toMatchObject({ booked_class: 'C', flown_class: 'Y', points: 461 });
      expect((await w.posting(adjustmentKey(AWARD)))?.entries).toEqual({
        [Accounts.memberPoints(IVANOV.number)]: -461,
        [Accounts.ownFlights]: 461,
      });
    });
  });

  describe(`qualifying miles the FTL posted before the award (${engine})`, () => {
    const s = useScenario(engine, (y) => replaceOnce(y, 'metric: spend', 'metric: miles'));

    it('the FTL in O (miles only), the coupon booked Y (points), then refunded: all taken back', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropFtl(ftl('O'));
      await w.night('2026-03-11');
      expect([await w.balance(IVANOV.number), await w.statusBalance(IVANOV.number, 'MILES')]).toEqual([
        0, 461,
      ]);
      w.dropCoupons([coupon({ booked: 'Y', flown: 'O' })]);
      await w.night('2026-03-12');
      expect([await w.balance(IVANOV.number), await w.statusBalance(IVANOV.number, 'MILES')]).toEqual([
        461, 461,
      ]);
      // The award keeps the status posting's key and credit: a refund finds it by them.
      expect(await w.activity(KEY)).toMatchObject({
        status: 'POSTED',
        reason: null,
        points: 461,
        status_credit: 461,
        status_posting_key: statusPostingKey(KEY),
      });
      w.dropCoupons([coupon({ booked: 'Y', flown: 'O', status: 'R' })]);
      await w.night('2026-03-13');
      expect([await w.balance(IVANOV.number), await w.statusBalance(IVANOV.number, 'MILES')]).toEqual([0, 0]);
      expect(await w.posting(reversalKey(statusPostingKey(KEY)))).toBeDefined();
    });

    it('a flight stored before migration 052 without its status key gets it back, and its refund takes the miles back', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropFtl(ftl('O'));
      await w.night('2026-03-11');
      w.dropCoupons([coupon({ booked: 'Y', flown: 'O' })]);
      await w.night('2026-03-12');
      // As the award left it before: no key, no credit, the STATUS posting standing.
      await w
        .knex('activities')
        .where({ activity_key: KEY })
        .update({ status_posting_key: null, status_credit: 0 });
      await keepStatusKeys(w.knex);
      expect(await w.activity(KEY)).toMatchObject({
        status_credit: 461,
        status_posting_key: statusPostingKey(KEY),
      });
      w.dropCoupons([coupon({ booked: 'Y', flown: 'O', status: 'R' })]);
      await w.night('2026-03-13');
      expect([await w.balance(IVANOV.number), await w.statusBalance(IVANOV.number, 'MILES')]).toEqual([0, 0]);
    });
  });
}
