/**
 * Retro-claims: members' missing-credit requests matched against the archive of flown coupons and FTL
 * passengers. A claim is credited when exactly one flight matches it (by ticket and coupon, or by flight,
 * date, route and name), the name fits the member, the request came inside the retro-claim window and
 * nothing was credited for that flight before. A claim for a flight younger than the window's start
 * waits and is tried again each night.
 */
import type { Knex } from 'knex';
import { addDays, addMonths, daysBetween, type IsoDate } from '../lib/dates.js';
import type { Ledger } from '../ledger/ledger.js';
import type { RetroClaim } from '../parsers/retro-claims.js';
import { decide } from '../rules/accrual.js';
import { normaliseFlightNumber, type ActivityRow } from '../rules/activity.js';
import { nameMatches } from '../rules/names.js';
import { fromDb, postingIdsOf } from './activities.js';
import { contextFor, writeLastActivity, type AccrueState } from './accrue.js';
import type { JobContext } from './types.js';

type Outcome = { status: 'PENDING' | 'CREDITED' | 'REJECTED'; reason: string | null; activityKey?: string };

async function candidates(q: Knex.Transaction, c: RetroClaim): Promise<ActivityRow[]> {
  if (c.ticketNumber && c.couponNumber !== null) {
    return (
      await q('activities').where({
        type: 'FLIGHT',
        ticket_number: c.ticketNumber,
        coupon_number: c.couponNumber,
      })
    ).map(fromDb);
  }
  if (!c.carrier || !c.flightNumber || !c.flightDate || !c.origin || !c.destination) return [];
  const rows = (
    await q('activities').where({
      type: 'FLIGHT',
      carrier: c.carrier,
      flight_number: normaliseFlightNumber(c.flightNumber),
      activity_date: c.flightDate,
      origin: c.origin,
      destination: c.destination,
    })
  ).map(fromDb);
  // Either name may be the shortened one: the DCS truncates given names, and a member may claim with an
  // initial. Matching is tried both ways so neither side's shortening hides the flight.
  return rows.filter((r) => {
    if (!r.travelSurname) return false;
    const listed = { surname: r.travelSurname, givenName: r.travelGivenName ?? '' };
    const claimed = { surname: c.surname, givenName: c.givenName ?? '' };
    return (
      nameMatches({ ...listed, givenName: r.travelGivenName ?? undefined }, claimed).matches ||
      nameMatches({ ...claimed, givenName: c.givenName ?? undefined }, listed).matches
    );
  });
}

/** What becomes of one pending claim tonight, its credit posted when it is credited. */
async function settleClaim(
  trx: Knex.Transaction,
  ctx: JobContext,
  ledger: Ledger,
  state: AccrueState,
  claim: RetroClaim,
): Promise<Outcome> {
  const window = ctx.config.retroClaims;
  if (claim.flightDate && ctx.businessDate < addDays(claim.flightDate, window.minDaysAfterFlight))
    return { status: 'PENDING', reason: 'PENDING' };
  const found = await candidates(trx, claim);
  if (found.length === 0) return { status: 'REJECTED', reason: 'NOT_FOUND' };
  if (found.length > 1) return { status: 'REJECTED', reason: 'AMBIGUOUS' };
  const flight = found[0]!;
  if (ctx.businessDate < addDays(flight.activityDate, window.minDaysAfterFlight))
    return { status: 'PENDING', reason: 'PENDING' };
  if (claim.receivedDate > addMonths(flight.activityDate, window.maxMonthsAfterFlight))
    return { status: 'REJECTED', reason: 'OUT_OF_WINDOW' };
  if (
    flight.postingKey ||
    flight.partnerCode ||
    (flight.status !== 'NOT_CREDITED' && flight.status !== 'REJECTED')
  ) {
    return { status: 'REJECTED', reason: 'DUPLICATE', activityKey: flight.activityKey };
  }
  if (flight.couponStatus && flight.couponStatus !== 'F') return { status: 'REJECTED', reason: 'NOT_FOUND' };
  // Credit the flight as if the member's card had been given at check-in; the claim window, not the
  // ordinary accrual window, decided its timeliness.
  const row: ActivityRow = {
    ...flight,
    memberNumber: claim.memberNumber,
    channel: 'OWN_FLIGHTS',
    status: 'PENDING',
    reason: null,
    needsAccrual: true,
  };
  const decisionCtx = await contextFor(trx, state, ctx.businessDate, [row]);
  decisionCtx.airClaimWindowDays = daysBetween(row.activityDate, ctx.businessDate);
  const decision = decide(decisionCtx, { ...row, activityDate: row.activityDate });
  if (decision.update.status === 'REJECTED')
    return {
      status: 'REJECTED',
      reason: decision.update.reason ?? 'REJECTED',
      activityKey: flight.activityKey,
    };
  const results = await ledger.post(
    decision.postings.map((p) => p.request),
    { trx, atomic: false },
  );
  const refused = results.find((r) => r.status === 'refused');
  if (refused)
    return { status: 'REJECTED', reason: refused.reason ?? 'REFUSED', activityKey: flight.activityKey };
  const u = decision.update;
  const postingIds = await postingIdsOf(trx, [{ postingKey: u.postingKey ?? null }], results);
  await trx('activities')
    .where({ id: flight.id })
    .update({
      member_number: claim.memberNumber,
      member_id: u.memberId ?? null,
      channel: 'OWN_FLIGHTS',
      status: u.status,
      reason: 'RETRO_CLAIM',
      points: u.points ?? 0,
      status_credit: u.statusCredit ?? 0,
      posting_key: u.postingKey ?? null,
      posting_id: u.postingKey ? (postingIds.get(u.postingKey) ?? null) : null,
      status_posting_key: u.statusPostingKey ?? null,
      rule_version: u.ruleVersion ?? null,
      miles: u.miles ?? null,
      base_spend_minor: u.baseSpendMinor ?? null,
      needs_accrual: false,
      updated_at: ctx.now().toISOString(),
    });
  // A credited claim is earning activity like any accrual: without it, inactivity expiry would
  // count from an older date and could take the claimed miles the night they were credited.
  const earned = decision.earnedOn;
  if (earned) await writeLastActivity(trx, ctx.db.dialect, new Map([[earned.memberId, earned.date]]));
  return { status: 'CREDITED', reason: null, activityKey: flight.activityKey };
}

export async function processRetroClaims(
  ctx: JobContext,
  ledger: Ledger,
  state: AccrueState,
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const pending = await ctx.db.knex('retro_claims').where({ status: 'PENDING' }).orderBy('id');
  for (const stored of pending) {
    const claim = JSON.parse(stored.claim as string) as RetroClaim;
    // The claim's outcome commits with its credit: killed between the two, the claim would stay PENDING
    // and the next night would find its own credit and call it a DUPLICATE.
    const outcome = await ctx.db.transaction(async (trx): Promise<Outcome> => {
      const o = await settleClaim(trx, ctx, ledger, state, claim);
      await trx('retro_claims')
        .where({ id: stored.id })
        .update({
          status: o.status,
          reason: o.reason,
          activity_key: o.activityKey ?? null,
          last_tried_on: ctx.businessDate as IsoDate,
        });
      return o;
    });
    const k = outcome.status === 'REJECTED' ? `rejected.${outcome.reason}` : outcome.status.toLowerCase();
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}
