/**
 * The monthly balance statement of a pool member, on SQLite and PostgreSQL, in worked examples on the
 * demo program (members earn into their pool and redeem from it): the statement is the member's own
 * account and their pool's together, in one row, so a pool member whose points all move in the pool is
 * sent one, and the transfer of a joining member's own points into the pool nets out. A flight's class
 * correction counts as earned, as the reports count it.
 */
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../test/harness/db.js';
import { ftlThenCoupon, IVANOV as CORRECTED, upgradedCoupon } from '../test/harness/flight-correction.js';
import {
  mailable,
  memberNumber,
  useScenario,
  type Person,
  type Scenario,
} from '../rules/scenarios/scenario.js';

const HOUSEHOLD = { type: 'HOUSEHOLD', id: 'HH-7' } as const;
const MOTHER: Person = { number: memberNumber(71), surname: 'SMIRNOVA', givenName: 'OLGA', group: HOUSEHOLD };
const SON: Person = { number: memberNumber(72), surname: 'SMIRNOV', givenName: 'PAVEL', group: HOUSEHOLD };
const ANNA: Person = { number: memberNumber(73), surname: 'KOZLOVA', givenName: 'ANNA' };
const IVANOV: Person = { number: memberNumber(74), surname: 'IVANOV', givenName: 'IVAN' };
const BORIS: Person = { number: memberNumber(75), surname: 'SMIRNOV', givenName: 'BORIS', group: HOUSEHOLD };

let rentals = 0;
/** A DRIVE rental day: `points` dollars of spend earn as many points. */
function rent(w: Scenario, who: Person, date: string, points: number): void {
  w.dropPartner('DRIVE', date, [
    {
      txn: `BS-${++rentals}`,
      member: who.number,
      surname: who.surname,
      date,
      type: 'RENTAL_DAY',
      spend: `${points}.00`,
      currency: 'USD',
    },
  ]);
}

/** The statement rows of the month ending `end` (March 2026 by default), by member number: the figures only. */
async function march(w: Scenario, end = '2026-03-31'): Promise<Record<string, number[]>> {
  const rows = await w.mailingList('BALANCE_STATEMENT', end);
  for (const r of rows) {
    expect([r.periodStart, r.periodEnd]).toEqual([`${end.slice(0, 8)}01`, end]);
    // The statement adds up: closing = opening + earned − redeemed − expired + adjusted.
    expect(r.closing).toBe(r.opening + r.earned - r.redeemed - r.expired + r.adjusted);
  }
  return Object.fromEntries(
    rows.map((r) => [r.memberNumber, [r.opening, r.earned, r.redeemed, r.expired, r.adjusted, r.closing]]),
  );
}

for (const engine of availableEngines()) {
  describe(`balance statement of pool members (${engine})`, () => {
    const s = useScenario(engine);

    it("sends a pool member whose points all move in the pool a statement of the pool's figures", async () => {
      const w = s();
      await w.enrol('2026-01-01', MOTHER, SON);
      await mailable(w, MOTHER, SON);
      rent(w, MOTHER, '2026-02-10', 300);
      await w.night('2026-02-10');
      rent(w, SON, '2026-03-10', 200);
      await w.night('2026-03-10');
      w.dropRedemptions([
        { id: 'BS-R1', member: MOTHER.number, date: '2026-03-20', service: 'SEAT', points: 100 },
      ]);
      await w.night('2026-03-20');
      // Neither has ever had a point on their own account: everything is in the pool.
      expect(await w.balance(MOTHER.number)).toBe(0);
      expect(await w.balance(SON.number)).toBe(0);
      expect(await w.poolBalance('HH-7')).toBe(400);

      // Each member is sent the pool's month: opening, earned, redeemed, expired, adjusted, closing.
      expect(await march(w)).toEqual({
        [MOTHER.number]: [300, 200, 100, 0, 0, 400],
        [SON.number]: [300, 200, 100, 0, 0, 400],
      });
    });

    it('nets out the move of a member who joins the pool mid-month: the closing is their own and the pool’s', async () => {
      const w = s();
      await w.enrol('2026-01-01', MOTHER, ANNA);
      await mailable(w, MOTHER, ANNA);
      rent(w, MOTHER, '2026-02-10', 300);
      rent(w, ANNA, '2026-02-10', 500);
      await w.night('2026-02-10');
      expect(await w.balance(ANNA.number)).toBe(500);

      // Anna joins the household on 12 March, bringing her 500 points, and earns 200 into it after.
      w.dropMembers([{ ...ANNA, group: HOUSEHOLD, updatedAt: '2026-03-12T09:00:00Z' }]);
      await w.night('2026-03-12');
      await mailable(w, ANNA); // the feed's record carries no address: give it back
      expect(await w.posting(`POOL:${ANNA.number}:HH-7`)).toMatchObject({ businessDate: '2026-03-12' });
      rent(w, ANNA, '2026-03-20', 200);
      await w.night('2026-03-20');
      expect(await w.balance(ANNA.number)).toBe(0);
      expect(await w.poolBalance('HH-7')).toBe(1000);

      // Own account: 500 opening, −500 moved out; pool: 300 opening, +500 moved in, 200 earned.
      const rows = await march(w);
      expect(rows[ANNA.number]).toEqual([800, 200, 0, 0, 0, 1000]);
      expect(rows[ANNA.number]![5]).toBe((await w.balance(ANNA.number)) + (await w.poolBalance('HH-7')));
      // The member already in the pool sees the pool's month, Anna's points arriving as an adjustment.
      expect(rows[MOTHER.number]).toEqual([300, 200, 0, 0, 500, 1000]);
    });

    it("leaves a member outside any pool, and one who has left the pool, with their own account's figures", async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV, BORIS);
      await mailable(w, IVANOV, BORIS);
      rent(w, IVANOV, '2026-02-10', 1000);
      rent(w, BORIS, '2026-02-10', 400);
      await w.night('2026-02-10');
      // Boris leaves the household on 5 March; the 400 points he earned into it stay there.
      w.dropMembers([{ ...BORIS, group: undefined, updatedAt: '2026-03-05T09:00:00Z' }]);
      await w.night('2026-03-05');
      await mailable(w, BORIS); // the feed's record carries no address: give it back
      expect((await w.member(BORIS.number)).pool_id).toBeNull();
      rent(w, IVANOV, '2026-03-10', 250);
      rent(w, BORIS, '2026-03-10', 150);
      await w.night('2026-03-10');
      w.dropRedemptions([
        { id: 'BS-R2', member: IVANOV.number, date: '2026-03-20', service: 'SEAT', points: 100 },
      ]);
      await w.night('2026-03-20');
      expect(await w.poolBalance('HH-7')).toBe(400);

      expect(await march(w)).toEqual({
        [IVANOV.number]: [1000, 250, 100, 0, 0, 1150],
        [BORIS.number]: [0, 150, 0, 0, 0, 150],
      });
    });
  });

  describe(`balance statement of a flight's class correction (${engine})`, () => {
    const s = useScenario(engine);
    it('counts the correction, and its reversal with the refund, as earned, as the monthly report issues it', async () => {
      const w = s();
      await w.enrol('2026-03-01', CORRECTED);
      await mailable(w, CORRECTED);
      // The FTL credits C's 922; the coupon brings the flight to the booked Y's 461.
      await ftlThenCoupon(w, 'C', upgradedCoupon);
      expect(await w.balance(CORRECTED.number)).toBe(461);
      // The flight earned 461, as the month's points issued say: not 922 earned and 461 taken back.
      expect((await march(w))[CORRECTED.number]).toEqual([0, 461, 0, 0, 0, 461]);
      // Refunded in April: the award and its correction are taken back, 461 less earned.
      w.dropCoupons([{ ...upgradedCoupon, status: 'R' }]);
      await w.night('2026-04-02');
      expect(await w.balance(CORRECTED.number)).toBe(0);
      expect((await march(w, '2026-04-30'))[CORRECTED.number]).toEqual([461, -461, 0, 0, 0, 0]);
    });
  });
}
