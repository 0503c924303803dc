/**
 * `redeye simulate` of a night whose files come in several feeds: the feeds are read in the night's
 * order into one archive and decided in one pass, so what one feed's file credits or stores is seen by
 * the others' records, as at night. (`night()` holds the night to what the simulator foretold.)
 */
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { couponKey, partnerKey, redemptionKey } from '../activity.js';
import type { SimulationEvent } from '../../jobs/simulate.js';
import { memberNumber, svoKznCoupon, useScenario, type Person } from './scenario.js';
import { claimOutcome } from './edges.js';

const IVANOV: Person = { number: memberNumber(1), surname: 'IVANOV', givenName: 'IVAN' };

/** Each line a record shows: its file, activity (or claim), status and reason, points. */
const shown = (events: SimulationEvent[]) =>
  events.flatMap((e) =>
    e.type === 'record' ? [[e.file, e.claim ?? e.activity, e.status, e.reason, e.points]] : [],
  );

for (const engine of availableEngines()) {
  describe(`simulate a night of several feeds (${engine})`, () => {
    const s = useScenario(engine);

    it('spends on a redemption the points a partner file of the same night credits', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      const drive = w.dropPartner('DRIVE', '2026-03-04', [
        {
          txn: 'L1',
          member: IVANOV.number,
          surname: 'IVANOV',
          date: '2026-03-03',
          type: 'RENTAL_DAY',
          spend: '1000.00',
          currency: 'USD',
        },
      ]);
      const redemptions = w.dropRedemptions([
        { id: 'R-1', member: IVANOV.number, date: '2026-03-04', service: 'AWARD_TICKET', points: 800 },
      ]);
      const events = await w.simulate('redemptions', redemptions, '2026-03-04', [['partner', drive]]);
      expect(shown(events)).toEqual([
        [drive, partnerKey('DRIVE', 'L1'), 'POSTED', null, 1000],
        [redemptions, redemptionKey('R-1'), 'POSTED', null, -800],
      ]);
      expect(events.at(-1)).toMatchObject({ type: 'summary', records: 2, posted: 2, points: 200 });

      await w.night('2026-03-04');
      expect((await w.activity(redemptionKey('R-1')))?.status).toBe('POSTED');
      expect(await w.balance(IVANOV.number)).toBe(200);
    });

    it('credits a retro-claim by the coupon a flown file of the same night brings, and the second claim for it is a duplicate', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      // A coupon without a card, flown 18 days before the night: old enough for a claim to credit it.
      const flown = w.dropCoupons([
        {
          ...svoKznCoupon(IVANOV, '0741000000001', '2026-03-10'),
          givenName: 'IVAN MR',
          card: null,
          fare: '120.00',
          tax: '30.00',
        },
      ]);
      const claims = w.dropRetroClaims([
        {
          id: 'C-1',
          member: IVANOV.number,
          received: '2026-03-28',
          ticket: '0741000000001',
          coupon: 1,
          surname: 'IVANOV',
        },
        {
          id: 'C-2',
          member: IVANOV.number,
          received: '2026-03-28',
          carrier: 'XX',
          flight: '0245',
          date: '2026-03-10',
          from: 'SVO',
          to: 'KZN',
          surname: 'Ivanov',
          givenName: 'Ivan',
        },
      ]);
      const events = await w.simulate('retro-claims', claims, '2026-03-28', [['flown', flown]]);
      const coupon = couponKey('0741000000001', 1);
      expect(shown(events)).toEqual([
        [flown, coupon, 'NOT_CREDITED', 'NO_CARD', 0],
        [claims, 'C-1', 'POSTED', 'RETRO_CLAIM', 461],
        [claims, 'C-2', 'REJECTED', 'DUPLICATE', 0],
      ]);

      await w.night('2026-03-28');
      expect(await claimOutcome(w, 'C-1')).toEqual(['CREDITED', null]);
      expect(await claimOutcome(w, 'C-2')).toEqual(['REJECTED', 'DUPLICATE']);
      expect(await w.balance(IVANOV.number)).toBe(461);
    });
  });
}
