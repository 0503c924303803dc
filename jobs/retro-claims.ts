/**
 * Retro-claims: members' missing-credit requests matched against the archive of flown coupons and FTL
 * passengers. A claim is credited when exactly one flight matches it (by ticket and coupon, or by flight,
 * date, route and name — the flight's own number, or a codeshare's marketing number), the name fits the
 * member, the request came inside the retro-claim window and nothing was credited for that flight before.
 * A claim for a flight younger than the window's start waits and is tried again each night; so does a
 * claim by ticket whose coupon has not come, as long as its flight could still be that young.
 */
import type { Knex } from 'knex';
import type { LoadedConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { addDays, addMonths, daysBetween, type IsoDate } from '../lib/dates.js';
import type { Ledger } from '../ledger/ledger.js';
import type { RetroClaim } from '../parsers/retro-claims.js';
import { recordReasonText } from '../exporters/partner-reasons.js';
import { decide, type AccrualDecision } from '../rules/accrual.js';
import { claimCreditKey, normaliseFlightNumber, type ActivityRow } from '../rules/activity.js';
import { marketingOf } from '../rules/eligibility.js';
import { sameTraveller } from '../rules/names.js';
import { fromDb, passengersOfTheDay, postingIdsOf, toDb } from './activities.js';
import { contextFor, loadReversed, writeLastActivity, type AccrueState } from './accrue.js';
import { reinstateExpiries } from './expire.js';
import type { JobContext } from './types.js';

type Q = Knex | Knex.Transaction;

export type ClaimOutcome = {
  status: 'PENDING' | 'CREDITED' | 'REJECTED';
  reason: string | null;
  activityKey?: string;
  /** The date of the flight found, where the outcome's message gives it (a claim by ticket names none). */
  flightDate?: IsoDate;
};

/**
 * Whether an archived flight is the one a claim names: by ticket and coupon, or flight, date, route and
 * name. The flight is the one the row is keyed by (the FTL's or the coupon's operating flight) or the
 * marketing flight the coupon or the FTL's `.M/` kept: a member who bought a codeshare under our number
 * claims it by that number. A flight number names one flight a day, so a passenger of the claimed flight
 * under either number is a passenger of that flight, and two who fit the claim leave it AMBIGUOUS.
 */
export function claimMatches(c: RetroClaim, r: ActivityRow): boolean {
  if (r.type !== 'FLIGHT') return false;
  if (c.ticketNumber && c.couponNumber !== null)
    return r.ticketNumber === c.ticketNumber && r.couponNumber === c.couponNumber;
  if (!c.carrier || !c.flightNumber || !c.flightDate || !c.origin || !c.destination) return false;
  const number = normaliseFlightNumber(c.flightNumber);
  const marketing = marketingOf(r.detail);
  if (
    !(
      (r.carrier === c.carrier && r.flightNumber === number) ||
      (marketing?.carrier === c.carrier && normaliseFlightNumber(marketing.number) === number)
    ) ||
    r.activityDate !== c.flightDate ||
    r.origin !== c.origin ||
    r.destination !== c.destination ||
    !r.travelSurname
  )
    return false;
  return sameTraveller(
    { surname: r.travelSurname, givenName: r.travelGivenName },
    { surname: c.surname, givenName: c.givenName ?? null },
  );
}

/** The archived flights a claim names. */
export async function claimCandidates(q: Q, c: RetroClaim): Promise<ActivityRow[]> {
  const query =
    c.ticketNumber && c.couponNumber !== null
      ? q('activities').where({
          type: 'FLIGHT',
          ticket_number: c.ticketNumber,
          coupon_number: c.couponNumber,
        })
      : c.carrier && c.flightNumber && c.flightDate && c.origin && c.destination
        ? passengersOfTheDay(q, c.flightDate, c.origin, c.destination)
        : undefined;
  if (!query) return [];
  return (await query).map(fromDb).filter((r: ActivityRow) => claimMatches(c, r));
}

/**
 * What a claim comes to against the flights it names (`find`, asked only once the claim's own flight
 * date lets it be judged: a young claim waits every night without a search): an outcome without a
 * posting, or the flight to credit with its decision. The night posts it (`processRetroClaims`), the
 * simulator shows it.
 */
export async function judgeClaim(
  q: Q,
  config: LoadedConfig,
  businessDate: IsoDate,
  state: AccrueState,
  claim: RetroClaim,
  find: () => Promise<ActivityRow[]>,
): Promise<{ outcome: ClaimOutcome; credit?: { flight: ActivityRow; decision: AccrualDecision } }> {
  const window = config.retroClaims;
  const outcome = (
    status: ClaimOutcome['status'],
    reason: string | null,
    activityKey?: string,
    flightDate?: IsoDate,
  ) => ({
    outcome: {
      status,
      reason,
      ...(activityKey ? { activityKey } : {}),
      ...(flightDate ? { flightDate } : {}),
    },
  });
  if (claim.flightDate && businessDate < addDays(claim.flightDate, window.minDaysAfterFlight))
    return outcome('PENDING', 'PENDING');
  const found = await find();
  if (found.length === 0) {
    // A claim by ticket gives no flight date, and its coupon may not have come yet: it waits as long as
    // a claim by flight would for the latest flight it can be, one flown the day it was received.
    if (!claim.flightDate && businessDate < claimWaitEnds(claim, window.minDaysAfterFlight))
      return outcome('PENDING', 'PENDING');
    return outcome('REJECTED', 'NOT_FOUND');
  }
  if (found.length > 1) return outcome('REJECTED', 'AMBIGUOUS');
  const flight = found[0]!;
  // A request made before its flight is a mistyped date: the window's test below would read it as early
  // and credit the flight. A claim by flight is refused for it as it is read; one by ticket learns its
  // flight's date only here, from its coupon.
  if (claim.receivedDate < flight.activityDate)
    return outcome('REJECTED', 'RECEIVED_BEFORE_FLIGHT', flight.activityKey, flight.activityDate);
  if (businessDate < addDays(flight.activityDate, window.minDaysAfterFlight))
    return outcome('PENDING', 'PENDING', flight.activityKey);
  const windowEnds = couponWaitEnds(flight.activityDate, window.maxMonthsAfterFlight);
  if (claim.receivedDate > windowEnds)
    return outcome('REJECTED', 'OUT_OF_WINDOW', flight.activityKey, flight.activityDate);
  // A flight that can be credited once something comes (its coupon, its currency's rate) keeps its claim
  // waiting while the claim window is open, and is refused for it once the window has closed.
  const waitInWindow = (reason: 'BAD_CURRENCY' | 'NO_COUPON') =>
    outcome(businessDate > windowEnds ? 'REJECTED' : 'PENDING', reason, flight.activityKey);
  // A coupon voided, refunded or exchanged was not flown on: nothing to credit (NOT_FOUND), whatever was
  // credited for it and taken back since. Asked after the duplicate test, a refunded coupon's flight
  // (REVERSED, keeping its posting key) read as credited already.
  if (flight.couponStatus && flight.couponStatus !== 'F') return outcome('REJECTED', 'NOT_FOUND');
  // A flight refused with all it was credited taken back (the FTL's card credited, the coupon another
  // passenger's) credits no one: the passenger who flew it may claim it.
  const posted = [flight.postingKey, flight.statusPostingKey].filter((k): k is string => k !== null);
  // Asked of the ledger only for a refused flight: a claim on a credited one is a duplicate without it.
  const mayBeTakenBack = flight.status === 'REJECTED' && posted.length > 0;
  const reversed = mayBeTakenBack ? await loadReversed(q, [flight]) : new Set<string>();
  const takenBack = mayBeTakenBack && posted.every((k) => reversed.has(k));
  if (
    (flight.postingKey && !takenBack) ||
    flight.partnerCode ||
    (flight.status !== 'NOT_CREDITED' && flight.status !== 'REJECTED')
  ) {
    return outcome('REJECTED', 'DUPLICATE', flight.activityKey);
  }
  // Credit the flight as if the member's card had been given at check-in; the claim window, not the
  // ordinary accrual window, decided its timeliness. A credit taken back owns the flight's posting keys:
  // the claim's credit is made under keys of its own.
  const row: ActivityRow = {
    ...flight,
    ...(takenBack
      ? {
          activityKey: claimCreditKey(flight.activityKey, claim.claimId),
          postingKey: null,
          statusPostingKey: null,
        }
      : {}),
    memberNumber: claim.memberNumber,
    channel: 'OWN_FLIGHTS',
    status: 'PENDING',
    reason: null,
    needsAccrual: true,
  };
  const decisionCtx = await contextFor(q, state, businessDate, [row]);
  decisionCtx.airClaimWindowDays = daysBetween(row.activityDate, businessDate);
  const decision = decide(decisionCtx, row);
  // A flight that earns by its coupon's money (a revenue-based air version) cannot be credited before the
  // coupon's currency has a rate; the rate may come any night, so the claim waits for it as long as the
  // claim window is open, where a card's flight waits for it as BAD_CURRENCY.
  if (decision.update.status === 'REJECTED' && decision.update.reason === 'BAD_CURRENCY')
    return waitInWindow('BAD_CURRENCY');
  if (decision.update.status === 'REJECTED')
    return outcome('REJECTED', decision.update.reason ?? 'REJECTED', flight.activityKey);
  // A flight earned by its coupon's money alone (`creditOnFtl` off, a revenue-based air version) that
  // only its FTL passenger shows waits for the coupon, and so does its claim: credited now, the claim
  // would read CREDITED with nothing posted. The flight is left as it is, for the claim to credit once
  // the coupon comes; a coupon that has not come when the claim window closes never confirms the flight.
  if (decision.postings.length === 0 && decision.update.status === 'PENDING')
    return waitInWindow('NO_COUPON');
  return {
    outcome: { status: 'CREDITED', reason: null, activityKey: flight.activityKey },
    credit: { flight, decision },
  };
}

/**
 * The first night a claim without a flight date is judged NOT_FOUND when no flight matches it: its flight
 * was flown by the day the claim was received, so by then it is as old as a claim by flight waits for.
 */
export const claimWaitEnds = (claim: RetroClaim, minDaysAfterFlight: number): IsoDate =>
  addDays(claim.receivedDate, minDaysAfterFlight);

/** The last night a claim on a flight that waits for its flown coupon is tried: its window's last day. */
const couponWaitEnds = (flightDate: IsoDate, maxMonthsAfterFlight: number): IsoDate =>
  addMonths(flightDate, maxMonthsAfterFlight);

/** What the archive row of a flight credited by a claim becomes. */
export function creditedByClaim(claim: RetroClaim, decision: AccrualDecision): Partial<ActivityRow> {
  const u = decision.update;
  return {
    memberNumber: claim.memberNumber,
    memberId: u.memberId ?? null,
    channel: 'OWN_FLIGHTS',
    status: u.status!,
    reason: 'RETRO_CLAIM',
    reasonField: null,
    reasonMessage: null,
    points: u.points ?? 0,
    statusCredit: u.statusCredit ?? 0,
    postingKey: u.postingKey ?? null,
    statusPostingKey: u.statusPostingKey ?? null,
    ruleVersion: u.ruleVersion ?? null,
    miles: u.miles ?? null,
    baseSpendMinor: u.baseSpendMinor ?? null,
    needsAccrual: false,
  };
}

/** What becomes of one pending claim tonight, its credit posted when it is credited. */
async function settleClaim(
  trx: Knex.Transaction,
  ctx: JobContext,
  ledger: Ledger,
  state: AccrueState,
  claim: RetroClaim,
): Promise<ClaimOutcome> {
  const { outcome, credit } = await judgeClaim(trx, ctx.config, ctx.businessDate, state, claim, () =>
    claimCandidates(trx, claim),
  );
  if (!credit) return outcome;
  const { flight, decision } = credit;
  const results = await ledger.post(
    decision.postings.map((p) => p.request),
    { trx, atomic: false },
  );
  const refused = results.find((r) => r.status === 'refused');
  if (refused)
    return { status: 'REJECTED', reason: refused.reason ?? 'REFUSED', activityKey: flight.activityKey };
  const u = decision.update;
  const postingIds = await postingIdsOf(trx, [{ postingKey: u.postingKey ?? null }], results);
  const now = ctx.now().toISOString();
  await trx('activities')
    .where({ id: flight.id })
    .update({
      ...toDb(creditedByClaim(claim, decision), now),
      posting_id: u.postingKey ? (postingIds.get(u.postingKey) ?? null) : null,
    });
  // A credited claim is earning activity like any accrual: without it, inactivity expiry would
  // count from an older date and could take the claimed miles the night they were credited.
  const earned = decision.earnedOn;
  if (earned) {
    await writeLastActivity(trx, ctx.db.dialect, new Map([[earned.memberId, earned.date]]));
    // A claim is the latest of late earnings: it may undo an inactivity expiry of an earlier night.
    await reinstateExpiries(
      trx,
      ledger,
      state.program,
      ctx.businessDate,
      new Map([[earned.memberId, [earned.date]]]),
    );
  }
  return outcome;
}

/** The claims waiting to be settled, in the order they arrived, with the file each came in. */
export async function pendingClaims(
  q: Q,
): Promise<Array<{ id: number; claim: RetroClaim; sourceFileId: number | null }>> {
  const rows = await q('retro_claims')
    .where({ status: 'PENDING' })
    .orderBy('id')
    .select('id', 'claim', 'source_file_id');
  return rows.map((r: { id: number | string; claim: string; source_file_id: number | string | null }) => ({
    id: Number(r.id),
    claim: JSON.parse(r.claim) as RetroClaim,
    sourceFileId: r.source_file_id === null ? null : Number(r.source_file_id),
  }));
}

export async function processRetroClaims(
  ctx: JobContext,
  ledger: Ledger,
  state: AccrueState,
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const { id, claim } of await pendingClaims(ctx.db.knex)) {
    // The claim's outcome commits with its credit: killed between the two, the claim would stay PENDING
    // and the next night would find its own credit and call it a DUPLICATE.
    const outcome = await ctx.db.transaction(async (trx): Promise<ClaimOutcome> => {
      const o = await settleClaim(trx, ctx, ledger, state, claim);
      await trx('retro_claims')
        .where({ id })
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

/** A claim as ingest stored it; none when it cannot be read back (scrubbed on a member's request). */
function claimAsRead(json: unknown): RetroClaim | null {
  if (typeof json !== 'string') return null;
  try {
    const claim = JSON.parse(json) as Partial<RetroClaim> | null;
    return claim && typeof claim.claimId === 'string' ? (claim as RetroClaim) : null;
  } catch {
    return null;
  }
}

/**
 * A rejected claim as `files show` and the daily report's Reject detail give it: the line of its file and
 * what the claim named and why it was refused, from the claim as stored (`retro_claims.claim`), the
 * flight it was refused for and that flight's date; the reason's meaning alone when it cannot be read.
 */
export function rejectedClaimText(
  row: { claim: unknown; reason: string; activityKey?: string | null; flightDate?: IsoDate | null },
  window: Config['retroClaims'],
): { line: number | null; message: string } {
  const claim = claimAsRead(row.claim);
  if (!claim)
    return {
      line: null,
      message: recordReasonText(row.reason, null, true, { feed: 'retro-claims' }) ?? row.reason,
    };
  return {
    line: claim.sourceLine ?? null,
    message: claimMessage(
      claim,
      {
        status: 'REJECTED',
        reason: row.reason,
        ...(row.activityKey ? { activityKey: row.activityKey } : {}),
        ...(row.flightDate ? { flightDate: row.flightDate } : {}),
      },
      window,
    ),
  };
}

/**
 * What became of a claim, in words that name what it claimed: `redeye simulate` and `redeye files show`
 * say it alike.
 */
export function claimMessage(
  claim: RetroClaim,
  outcome: ClaimOutcome,
  window: Config['retroClaims'],
): string {
  // What the claim names, as the archive is searched for it.
  const named =
    claim.ticketNumber && claim.couponNumber !== null
      ? `coupon ${claim.ticketNumber}/${claim.couponNumber}`
      : `flight ${claim.carrier ?? '?'}${claim.flightNumber ?? '?'} of ${claim.flightDate ?? '?'} ${claim.origin ?? '?'}-${claim.destination ?? '?'} for ${claim.surname}`;
  const flight = outcome.activityKey ? `the flight ${outcome.activityKey}` : named;
  // The day flown: its coupon's when found, else the one the claim gives.
  const flown = outcome.flightDate ?? claim.flightDate;
  // The last night a claim by flight waiting for its coupon or its rate is tried.
  const until = claim.flightDate
    ? ` up to ${couponWaitEnds(claim.flightDate, window.maxMonthsAfterFlight)}`
    : '';
  switch (outcome.reason) {
    case 'PENDING':
      // Waiting with no flight found, the claim waits for the coupon it names to come.
      return !outcome.activityKey && !claim.flightDate
        ? `no flown coupon or listed passenger in the archive matches ${named} yet: the claim is tried again each night up to ${claimWaitEnds(claim, window.minDaysAfterFlight)}`
        : `${named} is less than ${window.minDaysAfterFlight} days old: the claim is tried again each night`;
    case 'NO_COUPON':
      // Only a claim by flight finds a passenger without a coupon, so its date is the flight's.
      return outcome.status === 'PENDING'
        ? `${flight} waits for its flown coupon: the claim is tried again each night${until}`
        : `${flight} is listed, but its flown coupon did not come within the retro-claim window`;
    case 'BAD_CURRENCY':
      if (outcome.status === 'PENDING')
        return `${flight} earns by its coupon's money, whose currency has no exchange rate yet: an fx file with that currency's rate for the flight date lets it be credited; the claim is tried again each night${until || ' the retro-claim window is open'}`;
      return `${flight} earns by its coupon's money, whose currency had no exchange rate within the retro-claim window`;
    case 'NOT_FOUND':
      return `no flown coupon or listed passenger in the archive matches ${named}`;
    case 'AMBIGUOUS':
      return `more than one passenger in the archive matches ${named}`;
    case 'OUT_OF_WINDOW':
      return flown
        ? `received ${claim.receivedDate}, after the retro-claim window for ${named} (flown ${flown}) closed on ${couponWaitEnds(flown, window.maxMonthsAfterFlight)}`
        : `received ${claim.receivedDate}, after the retro-claim window for ${named} closed`;
    case 'RECEIVED_BEFORE_FLIGHT':
      return `received ${claim.receivedDate}, before ${flight} was flown${flown ? ` on ${flown}` : ''}: a request cannot be made before its flight`;
    case 'DUPLICATE':
      return `${flight} was credited already`;
    default:
      return `${flight} cannot be credited: ${outcome.reason}`;
  }
}
