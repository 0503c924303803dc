/**
 * What the edge-case scenarios (edges-*.test.ts) share: their members, a coupon of flight XX245 SVO-KZN in
 * Y, a member's tier as the tiers job left it, and a retro-claim's outcome.
 */
import { memberNumber, type Coupon, type Person, type Scenario } from './scenario.js';

export const IVANOV: Person = { number: memberNumber(1), surname: 'IVANOV', givenName: 'IVAN' };
export const PETROVA: Person = { number: memberNumber(2), surname: 'PETROVA', givenName: 'ANNA' };

/**
 * Coupons of XX245 SVO-KZN in Y, each on a ticket of its own numbered from `firstTicket` (each file its
 * own range, so no two files share a ticket): for `who`, with their card, or with no card and the name
 * of `passenger`.
 */
export function couponsFrom(
  firstTicket: number,
  passenger: Pick<Person, 'surname' | 'givenName'>,
): (who: Person | null, date: string, fare: string, over?: Partial<Coupon>) => Coupon {
  let tickets = 0;
  return (who, date, fare, over = {}) => ({
    ticket: `074${String(firstTicket + ++tickets).slice(-10)}`,
    flight: '245',
    date,
    from: 'SVO',
    to: 'KZN',
    booked: 'Y',
    surname: who?.surname ?? passenger.surname,
    givenName: who?.givenName ?? passenger.givenName,
    card: who ? { program: 'XX', number: who.number } : null,
    fare,
    ...over,
  });
}

export async function tierOf(
  w: Scenario,
  p: Person,
): Promise<{ tier: unknown; since: unknown; review: unknown }> {
  const m = await w.member(p.number);
  return { tier: m.tier, since: m.tier_since, review: m.review_date };
}

/** A retro-claim as accrue left it: its status and reason. */
export async function claimOutcome(w: Scenario, id: string): Promise<[unknown, unknown]> {
  const c = await w.knex('retro_claims').where({ claim_id: id }).first();
  return [c?.status, c?.reason];
}
