/**
 * Missing-credit requests matched against the archive of flown coupons and FTL passengers: credited when
 * exactly one flight matches and it is inside the window (14 days to 6 months after the flight), pending
 * while the flight is younger than 14 days, and otherwise rejected with the reason.
 */
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { awardPostingKey, couponKey } from '../activity.js';
import { memberNumber, replaceOnce, useScenario, type Coupon, type Person } from './scenario.js';
import { claimOutcome } from './edges.js';
import { retentionJob } from '../../jobs/retention.js';

const IVANOV: Person = { number: memberNumber(1), surname: 'IVANOV', givenName: 'IVAN' };
const PETROVA: Person = { number: memberNumber(2), surname: 'PETROVA', givenName: 'ANNA' };

/** A coupon of XX245 SVO-KZN on 10 March 2026 without a card: $120 fare + $30 tax. */
const coupon = (ticket: string, over: Partial<Coupon> = {}): Coupon => ({
  ticket,
  flight: '245',
  date: '2026-03-10',
  from: 'SVO',
  to: 'KZN',
  booked: 'Y',
  surname: 'IVANOV',
  givenName: 'IVAN MR',
  card: null,
  fare: '120.00',
  tax: '30.00',
  ...over,
});

for (const engine of availableEngines()) {
  describe(`retro-claims (${engine})`, () => {
    const s = useScenario(engine);

    it('credits a claim by ticket and coupon, and one by flight and name, with miles and status credits', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV, PETROVA);
      w.dropCoupons([
        coupon('0741000000001'),
        coupon('0741000000002', { surname: 'PETROVA', givenName: 'ANNA MRS', booked: 'C', fare: '300.00' }),
      ]);
      await w.night('2026-03-11');
      expect(await w.activity(couponKey('0741000000001', 1))).toMatchObject({
        status: 'NOT_CREDITED',
        reason: 'NO_CARD',
      });
      w.dropRetroClaims([
        {
          id: 'C-1',
          member: IVANOV.number,
          received: '2026-03-28',
          ticket: '074-1000000001',
          coupon: 1,
          surname: 'IVANOV',
          givenName: 'IVAN',
        },
        {
          id: 'C-2',
          member: PETROVA.number,
          received: '2026-03-28',
          carrier: 'XX',
          flight: '0245',
          date: '2026-03-10',
          from: 'SVO',
          to: 'KZN',
          surname: 'Petrova',
          givenName: 'Anna',
        },
      ]);
      const night = await w.night('2026-03-28');
      expect(night.accrue.counts['retro.credited']).toBe(2);
      expect(await claimOutcome(w, 'C-1')).toEqual(['CREDITED', null]);
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.statusBalance(IVANOV.number)).toBe(15000);
      expect(await w.balance(PETROVA.number)).toBe(922); // 461 × 2.0 (C)
      expect(await w.statusBalance(PETROVA.number)).toBe(33000);
      expect(await w.activity(couponKey('0741000000001', 1))).toMatchObject({
        status: 'POSTED',
        reason: 'RETRO_CLAIM',
        member_number: IVANOV.number,
        posting_key: awardPostingKey(couponKey('0741000000001', 1)),
      });
      expect((await w.knex('retro_claims').where({ claim_id: 'C-2' }).first())?.activity_key).toBe(
        couponKey('0741000000002', 1),
      );
    });

    it('keeps a claim for a flight younger than 14 days pending and credits it on the first night it may', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      w.dropCoupons([coupon('0741000000001')]);
      w.dropRetroClaims([
        {
          id: 'C-1',
          member: IVANOV.number,
          received: '2026-03-12',
          ticket: '0741000000001',
          coupon: 1,
          surname: 'IVANOV',
        },
      ]);
      await w.night('2026-03-12');
      expect(await claimOutcome(w, 'C-1')).toEqual(['PENDING', 'PENDING']);
      await w.night('2026-03-23');
      expect(await claimOutcome(w, 'C-1')).toEqual(['PENDING', 'PENDING']);
      expect(await w.balance(IVANOV.number)).toBe(0);
      await w.night('2026-03-24'); // 14 days after the flight
      expect(await claimOutcome(w, 'C-1')).toEqual(['CREDITED', null]);
      expect(await w.balance(IVANOV.number)).toBe(461);
    });

    it('rejects a claim that matches nothing, more than one passenger, or comes more than 6 months after the flight', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      w.dropCoupons([
        coupon('0741000000001'),
        coupon('0741000000002', { givenName: 'IRINA MRS' }), // another IVANOV on the same flight
        coupon('0741000000003', { flight: '247', to: 'LED' }),
      ]);
      await w.night('2026-03-11');
      w.dropRetroClaims([
        {
          id: 'C-1',
          member: IVANOV.number,
          received: '2026-04-01',
          ticket: '0741000000009',
          coupon: 1,
          surname: 'IVANOV',
        },
        {
          id: 'C-2',
          member: IVANOV.number,
          received: '2026-04-01',
          carrier: 'XX',
          flight: '245',
          date: '2026-03-10',
          from: 'SVO',
          to: 'KZN',
          surname: 'IVANOV', // no given name: both IVANOVs fit
        },
        {
          id: 'C-3',
          member: IVANOV.number,
          received: '2026-09-11',
          ticket: '0741000000003',
          coupon: 1,
          surname: 'IVANOV',
        },
      ]);
      await w.night('2026-09-11');
      expect(await claimOutcome(w, 'C-1')).toEqual(['REJECTED', 'NOT_FOUND']);
      expect(await claimOutcome(w, 'C-2')).toEqual(['REJECTED', 'AMBIGUOUS']);
      expect(await claimOutcome(w, 'C-3')).toEqual(['REJECTED', 'OUT_OF_WINDOW']);
      expect(await w.balance(IVANOV.number)).toBe(0);
    });

    it('credits a claim received on the last day of the 6 months', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      w.dropCoupons([coupon('0741000000001')]);
      await w.night('2026-03-11');
      w.dropRetroClaims([
        {
          id: 'C-1',
          member: IVANOV.number,
          received: '2026-09-10',
          ticket: '0741000000001',
          coupon: 1,
          surname: 'IVANOV',
        },
      ]);
      await w.night('2026-09-10');
      expect(await claimOutcome(w, 'C-1')).toEqual(['CREDITED', null]);
      expect(await w.balance(IVANOV.number)).toBe(461);
    });

    it('finds the flight for a claim that gives only the initial of the given name the ticket spells out', async () => {
      const w = s();
      await w.enrol('2026-01-01', PETROVA);
      w.dropCoupons([coupon('0741000000002', { surname: 'PETROVA', givenName: 'ANNA MRS' })]);
      await w.night('2026-03-11');
      w.dropRetroClaims([
        {
          id: 'C-8',
          member: PETROVA.number,
          received: '2026-03-28',
          carrier: 'XX',
          flight: '0245',
          date: '2026-03-10',
          from: 'SVO',
          to: 'KZN',
          surname: 'PETROVA',
          givenName: 'A',
        },
      ]);
      await w.night('2026-03-28');
      expect(await claimOutcome(w, 'C-8')).toEqual(['CREDITED', null]);
      expect(await w.balance(PETROVA.number)).toBe(461);
    });

    it('rejects a claim for a flight credited already (DUPLICATE), a repeated claim id, and a name that is not the member’s', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV, PETROVA);
      w.dropCoupons([
        coupon('0741000000001', { card: { program: 'XX', number: IVANOV.number } }),
        coupon('0741000000002', { surname: 'SIDOROV', givenName: 'PETR' }),
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
        {
          id: 'C-2',
          member: PETROVA.number,
          received: '2026-03-30',
          ticket: '0741000000002',
          coupon: 1,
          surname: 'PETROVA',
        },
      ]);
      await w.night('2026-03-30');
      w.dropRetroClaims([
        {
          id: 'C-1',
          member: IVANOV.number,
          received: '2026-03-31',
          ticket: '0741000000001',
          coupon: 1,
          surname: 'IVANOV',
          givenName: 'IVAN',
        },
      ]);
      await w.night('2026-03-31');
      expect(await claimOutcome(w, 'C-1')).toEqual(['REJECTED', 'DUPLICATE']);
      expect(await claimOutcome(w, 'C-2')).toEqual(['REJECTED', 'NAME_MISMATCH']);
      expect((await w.rejects({ feed: 'retro-claims' })).map((r) => [r.reason, r.record_ref])).toEqual([
        ['DUPLICATE', 'C-1'],
      ]);
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.balance(PETROVA.number)).toBe(0);
    });
  });

  describe(`retro-claims under an air claim window shorter than theirs (${engine})`, () => {
    // Flights are credited up to 30 days back; a retro-claim reaches 6 months back, and its own window
    // alone decides whether it came in time.
    const s = useScenario(engine, (yaml) =>
      replaceOnce(yaml, 'airClaimWindowDays: 365', 'airClaimWindowDays: 30'),
    );

    it('credits a claim for a flight older than the air claim window but inside the retro-claim window', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      w.dropCoupons([coupon('0741000000001')]);
      await w.night('2026-03-11');
      w.dropRetroClaims([
        {
          id: 'C-9',
          member: IVANOV.number,
          received: '2026-05-20',
          ticket: '0741000000001',
          coupon: 1,
          surname: 'IVANOV',
        },
      ]);
      await w.night('2026-05-20');
      expect(await claimOutcome(w, 'C-9')).toEqual(['CREDITED', null]);
      expect(await w.balance(IVANOV.number)).toBe(461);
    });

    it('finds the flight by its name as travelled after the retention step, inside the retro-claim window', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      w.dropCoupons([coupon('0741000000001')]);
      await w.night('2026-03-11');
      // 40 days on: past the air claim window, inside the retro-claims' 6 months. The names stay.
      expect((await w.run(retentionJob, '2026-04-19')).counts).toMatchObject({ travelNamesCleared: 0 });
      w.dropRetroClaims([
        {
          id: 'C-10',
          member: IVANOV.number,
          received: '2026-04-20',
          carrier: 'XX',
          flight: '0245',
          date: '2026-03-10',
          from: 'SVO',
          to: 'KZN',
          surname: 'Ivanov',
          givenName: 'Ivan',
        },
      ]);
      await w.night('2026-04-20', { foretold: false });
      expect(await claimOutcome(w, 'C-10')).toEqual(['CREDITED', null]);
    });
  });
}
