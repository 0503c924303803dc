/**
 * One own flight credited from the FTL and decided again by its coupon the next night, for the report
 * tests that check a correction is counted with its flight: XX245 SVO–KZN of 10 March, IVANOV listed on
 * his card, the FTL read the night of 11 March and the coupon the night of the 12th.
 */
import { expect } from 'vitest';
import { memberNumber, type Coupon, type Person, type Scenario } from '../../rules/scenarios/scenario.js';

export const IVANOV: Person = { number: memberNumber(1), surname: 'IVANOV', givenName: 'IVAN' };

/** The coupon of XX245 SVO–KZN of 10 March on IVANOV's card, booked Y: whose it is and what it says vary. */
export const xx245Coupon: Coupon = {
  ticket: '0741000000001',
  coupon: 1,
  flight: '245',
  date: '2026-03-10',
  from: 'SVO',
  to: 'KZN',
  booked: 'Y',
  surname: 'IVANOV',
  givenName: 'IVAN MR',
  card: { program: 'XX', number: IVANOV.number },
  fare: '120.00',
  tax: '30.00',
};

/** IVANOV's coupon for XX245 SVO–KZN: booked Y, flown C (an upgrade the DCS did not mark `-B`). */
export const upgradedCoupon: Coupon = { ...xx245Coupon, flown: 'C' };

/**
 * The FTL lists IVANOV on his card in `cls` and credits him on the night of 11 March; `coupon` comes on
 * the night of the 12th and decides the flight again. The members are enrolled by the caller.
 */
export async function ftlThenCoupon(w: Scenario, cls: string, coupon: Coupon): Promise<void> {
  w.dropFtl({
    flight: 'XX245',
    date: '2026-03-10',
    board: 'SVO',
    groups: [{ dest: 'KZN', cls, pax: [{ surname: 'IVANOV', givenName: 'IVAN', card: IVANOV.number }] }],
  });
  await w.night('2026-03-11');
  w.dropCoupons([coupon]);
  await w.night('2026-03-12');
}

/**
 * The FTL lists IVANOV in C (922 points) on the night of 11 March; his coupon, booked Y, brings the award
 * to Y's 461 on the 12th with an ADJUSTMENT keyed <award>:ADJ.
 */
export async function creditedThenCorrected(w: Scenario): Promise<void> {
  await w.enrol('2026-03-01', IVANOV);
  await ftlThenCoupon(w, 'C', upgradedCoupon);
  expect(await w.balance(IVANOV.number)).toBe(461);
}
