/**
 * Feed handlers for the ingest job: how each feed's records become activities, members, rates or claims.
 * Flights from the FTL and from flown coupons meet here: the first to arrive creates the activity, the
 * second completes it; a coupon seen again with another status is a correction of what was posted.
 */
import type { Knex } from 'knex';
import { dateInZone, type IsoDate } from '../lib/dates.js';
import type { FeedName, RecordEvent, VerdictEvent } from '../parsers/types.js';
import type { FlownCoupon } from '../parsers/flown.js';
import type { PartnerActivity, PartnerFileMeta } from '../parsers/partner.js';
import { parsePartnerFileName } from '../parsers/partner.js';
import type { HotelStay } from '../parsers/hotel.js';
import type { AllianceClaim, AllianceResult, AnsweredFile } from '../parsers/alliance.js';
import { matchAllianceResults, type MatchReport, type SentClaimsFile } from '../exporters/alliance.js';
import type { Redemption } from '../parsers/redemptions.js';
import type { RetroClaim } from '../parsers/retro-claims.js';
import type { FxRate } from '../parsers/fx.js';
import { Decimal, toMinorUnits, isCurrencyCode } from '../lib/money.js';
import {
  allianceClaimDraft,
  cardOfFlightKey,
  couponDraft,
  couponKey,
  creditedSameFlightMessage,
  draftCopyKeys,
  earlierCopyOf,
  hotelDraft,
  listedSeatMessage,
  NO_REASON,
  partnerDraft,
  redemptionDraft,
  normaliseFlightNumber,
  reissueKey,
  setAsideId,
  type ActivityDetail,
  type ActivityRow,
  type Draft,
  type ReadAt,
  standingCouponMessage,
} from '../rules/activity.js';
import type { Program } from '../rules/program.js';
import { marketingOf, requestInTheFuture } from '../rules/eligibility.js';
import { sameTraveller } from '../rules/names.js';
import {
  cancellationNotApplied,
  cancellationOf,
  cancelledBeforeCredit,
  claimReceipt,
  claimReceivedBefore,
  flownAfterFinal,
  isFinalCouponStatus,
  recordReadBefore,
  recordReceipt,
  type ClaimStatus,
  type CopyFile,
  type FirstCopy,
} from '../rules/sent-again.js';
import {
  activitiesByCoupons,
  activitiesByFlights,
  activitiesByKeys,
  activitiesByMarketingKeys,
  activitiesByRouteDays,
  awaitingRate,
  flightOfActivity,
  flightRefKey,
  insertActivities,
  routeDayKey,
  toDb,
  type FlightHolders,
  type FlightRef,
} from './activities.js';
import type { FeedHandler, FileRefusal, RejectRow } from './ingest-file.js';
import type { FileRow } from './registry.js';
import type { JobContext } from './types.js';
import { chunks } from '../lib/chunks.js';
import { addTo } from '../lib/multimap.js';

export function minorOf(amount: string, currency: string): number | undefined {
  if (!isCurrencyCode(currency)) return undefined;
  try {
    return toMinorUnits(amount, currency);
  } catch {
    return undefined;
  }
}

class Counter {
  readonly values: Record<string, number> = {};
  add(name: string, n = 1): void {
    this.values[name] = (this.values[name] ?? 0) + n;
  }
}

// ------------------------------------------------------------------------------------------------ flights

/**
 * What a draft of the other feed brings to the flight's activity it completes (an FTL passenger meeting
 * its coupon, or the coupon its passenger), and whether the activity must be decided again. Shared by
 * ingest and the simulator, which must merge the same way.
 */
export function mergedFields(existing: ActivityRow, d: ActivityRow): Partial<ActivityRow> {
  const fields: Partial<ActivityRow> = d.seenCoupon
    ? {
        seenCoupon: true,
        ticketNumber: d.ticketNumber,
        couponNumber: d.couponNumber,
        couponStatus: d.couponStatus,
        cabin: d.cabin,
        bookedClass: d.bookedClass ?? existing.bookedClass,
        // Where a flown confirmation exists it wins over the FTL group's subclass (ftl.md): under
        // `rateBy: flown` the FTL's class credited the seat the passenger was listed in, not the one flown.
        flownClass: d.flownClass ?? existing.flownClass,
        spendMinor: d.spendMinor,
        fareMinor: d.fareMinor,
        surchargeMinor: d.surchargeMinor,
        taxMinor: d.taxMinor,
        spendCurrency: d.spendCurrency,
        pnr: existing.pnr ?? d.pnr,
        // The flown coupon confirms the flight under the ticket's name (ftl.md, flown-coupons.md): it
        // is the name the member check reads, whichever feed came first.
        travelSurname: d.travelSurname,
        travelGivenName: d.travelGivenName,
        detail: { ...(existing.detail ?? {}), ...(d.detail ?? {}), couponFrom: readAt(d) },
      }
    : {
        seenFtl: true,
        pnr: existing.pnr ?? d.pnr,
        flownClass: existing.seenCoupon
          ? (existing.flownClass ?? d.flownClass)
          : (d.flownClass ?? existing.flownClass),
        detail: { ...(existing.detail ?? {}), passengerFrom: readAt(d) },
      };
  // A rejection the other feed's facts may cure (the name, the classes, the money) is decided again.
  // Not one whose posting the ledger refused (a reversal short of points): that is not retried.
  const posted = existing.postingKey !== null || existing.statusPostingKey !== null;
  if (existing.memberNumber !== null && !(existing.status === 'REJECTED' && posted)) {
    fields.needsAccrual = true;
    if (existing.status === 'REJECTED') Object.assign(fields, { status: 'PENDING', ...NO_REASON });
  }
  return fields;
}

/**
 * The archived activity a flight draft completes: its own key's, or, when the DCS listed the flight under
 * the marketing flight number, that listing's; the one already credited wins. Without this a codeshare
 * coupon became a second activity, rejected as DUPLICATE: its status credits were lost, and a refund of
 * the coupon left the FTL's miles in place.
 */
export function sameFlightOf(
  d: ActivityRow,
  find: (activityKey: string) => ActivityRow | undefined,
): ActivityRow | undefined {
  const own = find(d.activityKey);
  const key = d.detail?.marketingKey;
  const listed = key ? find(key) : undefined;
  // A listing kept as the seat its marketing listing was first (`seatOf` in `mergeFlightDrafts`) leaves
  // the coupon to complete that one, the passenger to be claimed with its ticket.
  if (
    listed &&
    listed.seenFtl &&
    !listed.seenCoupon &&
    (!own || (!own.postingKey && listed.postingKey) || (listedAgain(own) && !listedAgain(listed)))
  )
    return listed;
  // So does a coupon sold as the flight the later listing is under (XX245, no marketing flight): no key of
  // its own leads to the first listing, which the later one names. Only a listing under another airline's
  // number is the codeshare's (the DCS lists no flight of its own carrier under another of its numbers):
  // a first listing under XX245 is another flight than the coupon of XX247, which stays with its own.
  const seatKey = keptSeatKey(d, own);
  const seat = seatKey ? find(seatKey) : undefined;
  if (
    seat &&
    seat.seenFtl &&
    !seat.seenCoupon &&
    partnerCarded(seat) &&
    !listedAgain(seat) &&
    seat.carrier !== d.carrier
  )
    return seat;
  return own;
}

/**
 * Where flight drafts find what is already archived: the database at night; at simulation, the archive
 * the simulator keeps in memory over it, so that both merge by the same rules.
 */
export interface FlightArchive {
  /** Activities by key. One object per activity across calls: a change must be seen by every lookup. */
  byKeys(keys: string[]): Promise<Map<string, ActivityRow>>;
  /** Activities holding any coupon of the given tickets, by `ticket:coupon`. */
  byCoupons(coupons: Array<[string, number]>): Promise<Map<string, ActivityRow>>;
  /** The flight activities of the given flights: where a coupon without a card meets its FTL passenger. */
  byFlights(flights: FlightRef[], holders: FlightHolders): Promise<ActivityRow[]>;
  /** The coupons whose `marketingKey` is one of the given keys, as they stand now. */
  byMarketingKeys(keys: string[]): Promise<ActivityRow[]>;
  /**
   * The flight records of the given flights' days and routes (any flight number) on another program's
   * card, and those on ours that a codeshare's coupon or such a card came to (`activitiesByRouteDays`).
   */
  byRouteDays(flights: FlightRef[]): Promise<ActivityRow[]>;
}

/** Which of a flight's records a draft is: its coupon, or its FTL passenger. */
export const flightRecordOf = (d: Pick<ActivityRow, 'seenCoupon'>) => (d.seenCoupon ? 'coupon' : 'passenger');

const readAt = (r: Pick<ActivityRow, 'sourceFileId' | 'sourceLine'>): ReadAt => ({
  fileId: r.sourceFileId,
  line: r.sourceLine,
});

/**
 * Where the coupon (with the status it has now), or the FTL passenger, of an archived flight activity was
 * read: the record that last set the coupon's status, the one that brought the activity, or the one of
 * the other feed that completed it. Unknown for a flight both feeds completed before the second's file was
 * kept with it: the activity's own file may be the other feed's.
 */
function readIn(row: ActivityRow, coupon: boolean): ReadAt | undefined {
  const d = row.detail;
  if (coupon) {
    const named = d?.correctedBy ?? d?.couponFrom;
    if (named) return named;
    // A credited coupon no longer flown whose correction is not named was corrected before corrections
    // were kept: its own file is the one that brought it flown, not the one that brought this status.
    if (row.couponStatus !== 'F' && (row.postingKey !== null || row.status === 'REVERSED')) return undefined;
    return !row.seenFtl || d?.passengerFrom ? readAt(row) : undefined;
  }
  return d?.passengerFrom ?? (!row.seenCoupon || d?.couponFrom ? readAt(row) : undefined);
}

/** What became of one flight draft. */
export type FlightOutcome =
  /**
   * Read before: the same coupon with the same status, or the same passenger from the same FTL feed.
   * `of` is the activity holding the first copy, `earlier` what had become of it then; `first` is where
   * that copy was read (`by`: a draft of this merge, by index), unknown when the archive did not keep it.
   */
  | {
      kind: 'duplicate';
      of: ActivityRow;
      earlier: Pick<ActivityRow, 'status' | 'needsAccrual'>;
      first?: ReadAt & { by?: number };
    }
  /** A coupon read before, now with another status: accrue reverses what was posted for it. */
  | { kind: 'corrected'; row: ActivityRow }
  /**
   * A flown record of a coupon `of` already voided, refunded or exchanged (`finalStatus`): refused, the
   * activity untouched. `first` is where the final status was read, as for a duplicate.
   */
  | { kind: 'afterFinal'; of: ActivityRow; finalStatus: string; first?: ReadAt & { by?: number } }
  /**
   * A new activity: a flight not known before, or a passenger listed under the marketing flight of a
   * coupon credited before, stored REJECTED DUPLICATE (`soldFlight` in `mergeFlightDrafts`), or, on
   * another program's card, a listing of a seat already known, stored NOT_CREDITED DUPLICATE (`seatOf`).
   */
  | { kind: 'new'; row: ActivityRow }
  /** The other feed's record of a known flight: it completes the activity. */
  | { kind: 'merged'; row: ActivityRow }
  /** Another ticket's coupon for the flight, kept as its own activity: the reissue the member flew on. */
  | { kind: 'reissued'; row: ActivityRow }
  /** Another ticket's coupon while one stands as flown: kept REJECTED as DUPLICATE, waiting. */
  | { kind: 'secondCoupon'; row: ActivityRow; standing: ActivityRow };

export interface FlightMerge {
  /** One per draft, in the drafts' order. */
  outcomes: FlightOutcome[];
  /** New activities, to be inserted. */
  inserts: ActivityRow[];
  /** Archived activities changed, with the fields changed (already applied to the row objects). */
  changed: Map<ActivityRow, Partial<ActivityRow>>;
  /**
   * Coupons that waited beside a flight none of whose coupons stands any more: now the one flown. `by`
   * is the index of the draft whose correction freed it.
   */
  requeued: Array<{ row: ActivityRow; by: number }>;
  /**
   * Archived activities that took another key, with the key they had: a coupon without a card that its
   * FTL passenger came to, now keyed by the passenger's flight and card as a coupon with the card is.
   */
  rekeyed: Map<ActivityRow, string>;
}

const couponRef = (d: ActivityRow) => `${d.ticketNumber}:${d.couponNumber}`;
export const otherKeys = (row: ActivityRow | undefined) => row?.detail?.otherCoupons ?? [];
/**
 * A coupon that stands as the flight's flown coupon: not corrected away, not a waiting duplicate, and not
 * refused for its name (another passenger's ticket on the card), which no more confirms the member's
 * flight than a refunded one. A coupon merged into a flight refused for the FTL's spelling is decided
 * again (`mergedFields`), so the refusal read here is always the coupon's own name's.
 */
const stands = (r: ActivityRow | undefined) =>
  r !== undefined &&
  r.seenCoupon &&
  r.couponStatus === 'F' &&
  !(r.status === 'REJECTED' && (r.reason === 'DUPLICATE' || r.reason === 'NAME_MISMATCH')) &&
  !claimedByAnother(r);
/**
 * A flight a retro-claim credited to a member other than the card it is keyed by: the coupon refused for
 * its name (PETROV's ticket on IVANOV's card) that its passenger claimed. It is the claimant's flight, and
 * no more confirms the card holder's than it did refused, so his own coupon is credited when it comes.
 */
function claimedByAnother(r: ActivityRow): boolean {
  const card = cardOfFlightKey(r.activityKey);
  return r.reason === 'RETRO_CLAIM' && card !== null && r.memberNumber !== card;
}

/**
 * Of one flight's coupons (its activity's and the other tickets' kept beside it), the one waiting to be
 * the flight's flown coupon now that none stands: the first kept as the same seat.
 */
export function nextToStand(coupons: ReadonlyArray<ActivityRow | undefined>): ActivityRow | undefined {
  if (coupons.some(stands)) return undefined;
  return coupons.find((r) => r?.couponStatus === 'F' && r.status === 'REJECTED' && r.reason === 'DUPLICATE');
}

/** What a coupon waiting beside its flight becomes when it is the flight's flown coupon. */
export const standingFields = (next: ActivityRow): Partial<ActivityRow> =>
  next.memberNumber !== null
    ? { status: 'PENDING', ...NO_REASON, needsAccrual: true }
    : {
        status: 'NOT_CREDITED',
        ...NO_REASON,
        reason: next.partnerCode || !next.detail?.partnerCard ? null : 'NO_AGREEMENT',
      };

/** A coupon archived without a card of ours or of a partner program's: kept for retro-claims. */
const cardless = (r: ActivityRow) => r.seenCoupon && r.memberNumber === null && !r.detail?.partnerCard;
/** A record on another program's card, kept for that program's claims file unless it joins one of ours. */
const partnerCarded = (r: ActivityRow) => r.memberNumber === null && r.detail?.partnerCard !== undefined;
/** An FTL passenger on a card of ours, known to the members feed or not (a claim may have credited it). */
const ownPassenger = (r: ActivityRow) => r.seenFtl && r.memberNumber !== null && !r.detail?.partnerCard;
/**
 * An FTL passenger on another program's card, not kept as the listing of a seat known before (which no
 * coupon joins, and which is never claimed).
 */
const partnerPassenger = (r: ActivityRow) => r.seenFtl && partnerCarded(r) && !listedAgain(r);
/** A passenger on another program's card kept as a seat already listed or ticketed (`seatOf`). */
const listedAgain = (r: ActivityRow) => r.status === 'NOT_CREDITED' && r.reason === 'DUPLICATE';
/** The seat a coupon's own record names when that record is a listing kept as one known before. */
const keptSeatKey = (d: ActivityRow, own: ActivityRow | undefined) =>
  d.seenCoupon && own && listedAgain(own) ? own.detail?.seatKey : undefined;
/** An FTL passenger on a card, ours or another program's. */
const cardedPassenger = (r: ActivityRow) => ownPassenger(r) || partnerPassenger(r);
/** A coupon on a card of ours. */
const ownCoupon = (r: ActivityRow) => r.seenCoupon && r.memberNumber !== null && !r.detail?.partnerCard;
/**
 * A record without a card of ours as it was drafted: nothing posted or claimed for it, and no other ticket
 * of the flight kept beside it (whose keys derive from its key).
 */
const asDrafted = (r: ActivityRow) =>
  r.status === 'NOT_CREDITED' &&
  r.postingKey === null &&
  r.statusPostingKey === null &&
  !r.detail?.flightActivity &&
  !r.detail?.otherCoupons?.length;
/**
 * A coupon without a card of ours that no passenger has come to and no claim has credited: without a card
 * (under its ticket's key), or on another program's card.
 */
const lonelyCoupon = (r: ActivityRow) =>
  r.seenCoupon &&
  !r.seenFtl &&
  asDrafted(r) &&
  (cardless(r) ? r.activityKey === couponKey(r.ticketNumber!, r.couponNumber!) : partnerCarded(r));
/** A passenger on another program's card that no coupon has come to. */
const lonelyPartnerPassenger = (r: ActivityRow) => partnerPassenger(r) && !r.seenCoupon && asDrafted(r);
/** A coupon on a card of ours that no FTL passenger has come to, the flight's own (not another ticket). */
const lonelyOwnCoupon = (r: ActivityRow) => ownCoupon(r) && !r.seenFtl && !r.detail?.flightActivity;
/**
 * The flights a cardless coupon may have been listed under: the one it was operated as, and the one it
 * was sold as (the DCS lists a codeshare under the marketing flight when no `.M/` is sent).
 */
function couponFlights(d: ActivityRow): FlightRef[] {
  const operated = flightOfActivity(d);
  const marketing = marketingOf(d.detail);
  if (!marketing) return [operated];
  const sold = {
    ...operated,
    carrier: marketing.carrier,
    flightNumber: normaliseFlightNumber(marketing.number),
  };
  return flightRefKey(sold) === flightRefKey(operated) ? [operated] : [operated, sold];
}
const sameName = (a: ActivityRow, b: ActivityRow) =>
  a.travelSurname !== null &&
  b.travelSurname !== null &&
  sameTraveller(
    { surname: a.travelSurname, givenName: a.travelGivenName },
    { surname: b.travelSurname, givenName: b.travelGivenName },
  );
type Card = { program: string; number: string };
const sameCard = (a: Card | undefined, b: Card) =>
  a !== undefined && a.program === b.program && a.number === b.number;
/**
 * A record without a card of ours (`r`) joined to one on our card (`p`): the activity the record with
 * `p`'s card would have been. Another program's card it bore is kept, but no longer the activity's: the
 * partner is not asked to credit the flight (`unclaimedPassengers`), nor are its caps applied.
 */
const onCardOf = (p: ActivityRow, r: ActivityRow): Partial<ActivityRow> => ({
  activityKey: p.activityKey,
  memberNumber: p.memberNumber,
  channel: 'OWN_FLIGHTS',
  partnerCode: null,
  externalRef: null,
  status: 'PENDING',
  ...NO_REASON,
  ...(r.detail?.partnerCard ? { detail: ourDetail(r.detail) } : {}),
});
/** The detail of a record on another program's card once it joins one on ours: the card kept aside. */
function ourDetail(detail: ActivityDetail): ActivityDetail {
  // The marketing listing's key was made from the partner card: no passenger of ours bears it.
  const { partnerCard, marketingKey: _marketingKey, ...rest } = detail;
  return partnerCard ? { ...rest, otherProgramCard: partnerCard } : detail;
}
/** The one row of `rows` (by key) the test keeps, if only one. */
function onlyOne(rows: ActivityRow[], keep: (r: ActivityRow) => boolean): ActivityRow | undefined {
  const kept = new Map(rows.filter(keep).map((r) => [r.activityKey, r]));
  return kept.size === 1 ? [...kept.values()][0] : undefined;
}

/**
 * Merges flight drafts (from FTL passengers or flown coupons) with what is already archived: the same
 * coupon again with another status is a correction, except a flown one after a final status (voided,
 * refunded, exchanged), which changes nothing whichever order the records came in; the same flight and
 * card from the other feed completes the activity; the same passenger from the same FTL feed is a
 * duplicate.
 *
 * A coupon on another ticket for a flight whose activity already holds a coupon is kept as an activity
 * of its own (`reissueKey`), never dropped:
 * - the first coupon was corrected away (exchanged, refunded, voided): the new coupon is the reissue the
 *   member flew on, credited from its own amounts, while accrue reverses the first coupon's postings;
 * - a coupon of the flight still stands as flown: it is a second coupon for the same seat, kept REJECTED
 *   as DUPLICATE and re-queued when every coupon standing for the flight has been corrected away.
 * The first coupon's activity keeps its key and postings (so its reversal stays linked to it, and a rerun
 * of either file finds each coupon by ticket and coupon) and lists the other coupons (`otherCoupons`);
 * at most one of the flight's coupons stands as flown at a time, so the member is credited once per flight.
 *
 * Writes nothing: the night stores the result (`storeFlightDrafts`), the simulator shows it.
 */
export async function mergeFlightDrafts(archive: FlightArchive, drafts: ActivityRow[]): Promise<FlightMerge> {
  const byKey = await archive.byKeys([
    ...new Set(
      drafts.flatMap((d) => [d.activityKey, ...(d.detail?.marketingKey ? [d.detail.marketingKey] : [])]),
    ),
  ]);
  // The seats of the listings kept as one known before that coupons come to (`sameFlightOf`).
  const seats = drafts.flatMap((d) => {
    const seat = keptSeatKey(d, byKey.get(d.activityKey));
    return seat && !byKey.has(seat) ? [seat] : [];
  });
  if (seats.length > 0) for (const [k, r] of await archive.byKeys([...new Set(seats)])) byKey.set(k, r);
  const coupons = drafts
    .filter((d) => d.ticketNumber !== null)
    .map((d) => [d.ticketNumber!, d.couponNumber!] as [string, number]);
  const byCoupon = coupons.length > 0 ? await archive.byCoupons(coupons) : new Map<string, ActivityRow>();
  // One object per stored activity, however it was found: a correction found by coupon must be seen by
  // the next draft that finds the same activity by flight.
  const others = await archive.byKeys([...new Set([...byKey.values()].flatMap(otherKeys))]);
  for (const [ref, row] of byCoupon) {
    const same = byKey.get(row.activityKey) ?? others.get(row.activityKey);
    if (same) byCoupon.set(ref, same);
  }
  // Corrections of archived coupons first: the reissue of an exchanged coupon must find it exchanged
  // whichever line of the file comes first.
  const archived = drafts.map((d) => d.ticketNumber !== null && byCoupon.has(couponRef(d)));
  const order = [...drafts.keys()];
  order.sort((a, b) => Number(archived[b]) - Number(archived[a]));
  const inserts = new Map<string, ActivityRow>();
  const rowOf = (key: string) => inserts.get(key) ?? byKey.get(key) ?? others.get(key);
  // A passenger on our card the DCS listed under a codeshare's marketing flight (no `.M/`), after the
  // coupon came: the coupon keeps that listing's key, its flight's being the operating flight's. By
  // marketing key the flight of each such coupon: its own, or the one another ticket's coupon was kept
  // beside.
  const soldAs = new Map<string, ActivityRow>();
  const listed = drafts.filter((d) => !d.seenCoupon && ownPassenger(d) && !byKey.has(d.activityKey));
  if (listed.length > 0) {
    const found = await archive.byMarketingKeys([...new Set(listed.map((d) => d.activityKey))]);
    const beside = found.flatMap((r) => r.detail?.flightActivity ?? []).filter((k) => !rowOf(k));
    const flights = beside.length > 0 ? await archive.byKeys(beside) : new Map<string, ActivityRow>();
    // The flight's own coupon before another ticket's, whatever the archive's order.
    found.sort((a, b) => Number(!!a.detail?.flightActivity) - Number(!!b.detail?.flightActivity));
    for (const r of found) {
      const key = r.detail?.flightActivity ?? r.activityKey;
      const flight = rowOf(key) ?? flights.get(key) ?? r;
      // One object per stored activity, as above.
      if (!rowOf(key)) byKey.set(key, flight);
      const sold = r.detail!.marketingKey!;
      if (!soldAs.has(sold)) soldAs.set(sold, flight);
    }
  }
  // Flight activities one of whose coupons was corrected away, with the draft that did it: a waiting
  // coupon may now stand.
  const recheck = new Map<string, number>();
  const sameFlight = (d: ActivityRow) => sameFlightOf(d, (key) => inserts.get(key) ?? byKey.get(key));
  /**
   * The credited flight (taken back since or not) of the coupon sold as the flight an FTL passenger of no
   * flight of its own is listed under: the same seat. A coupon never credited is not: the listing is
   * decided as a flight of its own, as it would have been before the coupon came.
   */
  const soldFlight = (d: ActivityRow) => {
    const flight = d.seenCoupon || sameFlight(d) ? undefined : soldAs.get(d.activityKey);
    return flight && (flight.postingKey !== null || flight.statusPostingKey !== null) ? flight : undefined;
  };
  // A coupon without a card and the FTL passenger of its flight whose name it bears are one activity, as
  // with the card: the coupon's money earns the flight's status credits, its refund takes back what the
  // FTL's card (or a retro-claim) was credited, and a claim finds one flight, not two halves of it. Only
  // when one passenger alone fits: else the coupon stays its own activity, for a claim to name.
  // A record on another program's card meets the other feed's record on ours alike (a ticket booked on a
  // Lufthansa card, our card shown at check-in, or the other way round): one passenger, credited on our
  // card and not claimed from the partner, which would credit the seat again and bill us for it.
  // A coupon asks for its flight's carded passengers; a passenger first for the flight's records without a
  // card of ours (and a partner's passenger for our coupons no passenger has come to), and for its carded
  // rivals only where such a record is there: most passengers find none, and a flight's carded rows are
  // the many.
  const unmatched = (d: ActivityRow) =>
    !(d.ticketNumber !== null && byCoupon.has(couponRef(d))) && !sameFlight(d) && !soldFlight(d);
  const couponsLookFor = drafts.flatMap((d) =>
    d.seenCoupon && (cardless(d) || partnerCarded(d)) && unmatched(d) ? couponFlights(d) : [],
  );
  const ownCouponsLookFor = drafts.flatMap((d) => (ownCoupon(d) && unmatched(d) ? couponFlights(d) : []));
  const passengersLookFor = drafts.flatMap((d) =>
    cardedPassenger(d) && unmatched(d) ? [flightOfActivity(d)] : [],
  );
  const partnersLookFor = drafts.flatMap((d) =>
    partnerPassenger(d) && unmatched(d) ? [flightOfActivity(d)] : [],
  );
  const flightRows = new Map<string, ActivityRow[]>();
  const batchPassengers = new Map<string, ActivityRow[]>();
  if (couponsLookFor.length > 0 || ownCouponsLookFor.length > 0 || passengersLookFor.length > 0) {
    const byId = new Map<number, ActivityRow>();
    for (const r of [...byKey.values(), ...others.values(), ...byCoupon.values()])
      if (r.id !== undefined) byId.set(r.id, r);
    const unique = (flights: FlightRef[]) => [...new Map(flights.map((f) => [flightRefKey(f), f])).values()];
    const taken = new Set<ActivityRow>();
    const take = (found: ActivityRow[]) => {
      for (const f of found) {
        // One object per stored activity, as above: a passenger found by its flight may be one a draft
        // completes by key.
        const r = (f.id !== undefined ? byId.get(f.id) : undefined) ?? f;
        if (taken.has(r)) continue;
        taken.add(r);
        if (!byKey.has(r.activityKey)) byKey.set(r.activityKey, r);
        addTo(flightRows, flightRefKey(flightOfActivity(r)), r);
      }
    };
    // Flights where a record may join: their carded rows tell whether one passenger alone fits.
    const joinable = new Set<string>();
    const notCarded = unique([...passengersLookFor, ...ownCouponsLookFor]);
    if (notCarded.length > 0)
      for (const r of await archive.byFlights(notCarded, 'cardless')) {
        take([r]);
        if (lonelyCoupon(r) || lonelyPartnerPassenger(r)) joinable.add(flightRefKey(flightOfActivity(r)));
      }
    if (partnersLookFor.length > 0)
      for (const r of await archive.byFlights(unique(partnersLookFor), 'unlisted')) {
        take([r]);
        if (lonelyOwnCoupon(r)) joinable.add(flightRefKey(flightOfActivity(r)));
      }
    const carded = unique([
      ...couponsLookFor,
      ...[...passengersLookFor, ...ownCouponsLookFor].filter((f) => joinable.has(flightRefKey(f))),
    ]);
    if (carded.length > 0) take(await archive.byFlights(carded, 'carded'));
    for (const d of drafts)
      if (cardedPassenger(d)) addTo(batchPassengers, flightRefKey(flightOfActivity(d)), d);
  }
  // The records of the day and route of each passenger on another program's card with no flight of its
  // own key: the seat it may already be (`seatOf`). One object per stored activity, as above.
  const dayRows = new Map<string, ActivityRow[]>();
  const onDay = (r: ActivityRow) => addTo(dayRows, routeDayKey(flightOfActivity(r)), r);
  if (partnersLookFor.length > 0)
    for (const f of await archive.byRouteDays(partnersLookFor)) {
      const known = rowOf(f.activityKey);
      if (!known) byKey.set(f.activityKey, f);
      onDay(known ?? f);
    }
  const rekeyed = new Map<ActivityRow, string>();
  const changed = new Map<ActivityRow, Partial<ActivityRow>>();
  const change = (row: ActivityRow, fields: Partial<ActivityRow>) => {
    Object.assign(row, fields);
    // A row this merge inserts is written whole; only an archived one needs its changes.
    if (inserts.get(row.activityKey) !== row) changed.set(row, { ...(changed.get(row) ?? {}), ...fields });
  };
  // The drafts of this merge that brought each activity's coupon or passenger: a copy sent again in the
  // same batch names the one read first, which the simulator knows by its file name, not its id.
  const readBy = new Map<ActivityRow, { coupon?: number; passenger?: number }>();
  const read = (row: ActivityRow, i: number) =>
    readBy.set(row, { ...readBy.get(row), [flightRecordOf(drafts[i]!)]: i });
  const firstRead = (of: ActivityRow, d: ActivityRow) => {
    const by = readBy.get(of)?.[flightRecordOf(d)];
    return by !== undefined ? { ...readAt(drafts[by]!), by } : readIn(of, d.seenCoupon);
  };
  const duplicate = (of: ActivityRow, d: ActivityRow): FlightOutcome => ({
    kind: 'duplicate',
    of,
    earlier: { status: of.status, needsAccrual: of.needsAccrual },
    first: firstRead(of, d),
  });
  const outcomes: FlightOutcome[] = new Array(drafts.length);
  /**
   * The seat a passenger on another program's card (`d`) listed under a flight number no record of its
   * own bears already is on its day and route: the DCS lists a codeshare under the marketing flight when
   * no `.M/` is sent, so one passenger may be listed under both numbers, and after the coupon sold as
   * the one the other listing names. A record bearing the card (its coupon, its other listing, claimed
   * or waiting, or the record on our card that card joined) is that seat, as a second listing of a
   * member's route and day is for accrue: a listing has no ticket to tell it apart. A coupon refunded,
   * voided or exchanged is no seat of another flight taken instead, but still the one it was sold as. A
   * coupon on our card sold as the listed flight, of the passenger's name, is the ticket our card was
   * booked on (the LH card shown at check-in): `join` when no passenger has come to it yet.
   */
  const seatOf = (d: ActivityRow): { of: ActivityRow } | { join: ActivityRow } | undefined => {
    const card = d.detail!.partnerCard!;
    const day = dayRows.get(routeDayKey(flightOfActivity(d))) ?? [];
    const sold = (r: ActivityRow) => {
      const m = r.seenCoupon ? marketingOf(r.detail) : null;
      return m !== null && m.carrier === d.carrier && normaliseFlightNumber(m.number) === d.flightNumber;
    };
    const of = day.find(
      (r) =>
        r.activityKey !== d.activityKey &&
        (sameCard(r.detail?.partnerCard, card) || sameCard(r.detail?.otherProgramCard, card)) &&
        (r.couponStatus === null || r.couponStatus === 'F' || sold(r)),
    );
    if (of) return { of };
    const coupon = onlyOne(
      day,
      (r) => ownCoupon(r) && !r.detail?.flightActivity && sold(r) && sameName(r, d),
    );
    // Another passenger of the coupon's name listed with it: which of them it is, no one can tell.
    const rivals = (batchPassengers.get(flightRefKey(flightOfActivity(d))) ?? []).some(
      (r) => r.activityKey !== d.activityKey && coupon && sameName(r, coupon),
    );
    if (!coupon || rivals) return undefined;
    return lonelyOwnCoupon(coupon) ? { join: coupon } : { of: coupon };
  };
  /**
   * The passenger on another program's card (`d`) completes the flight of `coupon`, on our card, that no
   * passenger had come to: as the passenger on our card would have, the partner's card kept with it.
   */
  const completeOwnCoupon = (coupon: ActivityRow, d: ActivityRow, i: number) => {
    const fields = mergedFields(coupon, d);
    fields.detail = { ...fields.detail, otherProgramCard: d.detail!.partnerCard! };
    change(coupon, fields);
    byKey.set(d.activityKey, coupon);
    outcomes[i] = { kind: 'merged', row: coupon };
    read(coupon, i);
  };
  /**
   * `row`, a record nothing was posted or claimed for, takes the key and card of `d`, which it now is: as
   * the record on our card would have had, so no posting's key derives from the one it had.
   */
  const takeKeyOf = (row: ActivityRow, d: ActivityRow, i: number) => {
    const from = row.activityKey;
    const member = onCardOf(d, row);
    change(row, { ...member, ...mergedFields({ ...row, ...member }, d) });
    rekeyed.set(row, from);
    byKey.set(d.activityKey, row);
    outcomes[i] = { kind: 'merged', row };
    read(row, i);
  };
  for (const i of order) {
    const d = drafts[i]!;
    if (d.ticketNumber !== null) {
      const known = byCoupon.get(couponRef(d));
      if (known) {
        if (known.couponStatus === d.couponStatus) {
          outcomes[i] = duplicate(known, d);
        } else if (d.couponStatus === 'F' && isFinalCouponStatus(known.couponStatus)) {
          // Taken as a correction, it credited status for a reversed flight, or credited a coupon whose
          // refund had come first (in an earlier file, or on an earlier line of the same one).
          outcomes[i] = {
            kind: 'afterFinal',
            of: known,
            finalStatus: known.couponStatus!,
            first: firstRead(known, d),
          };
        } else {
          // A correction: accrue reverses what was posted (or declines what was not yet).
          change(known, {
            couponStatus: d.couponStatus,
            needsAccrual: known.memberNumber !== null,
            detail: { ...(known.detail ?? {}), correctedBy: readAt(d) },
          });
          outcomes[i] = { kind: 'corrected', row: known };
          read(known, i);
          const flight = known.detail?.flightActivity ?? known.activityKey;
          if (d.couponStatus !== 'F' && !recheck.has(flight)) recheck.set(flight, i);
        }
        continue;
      }
    }
    if (soldFlight(d)) {
      // Kept as its own activity, refused as accrue refuses a second listing of a credited seat: whether
      // the listing comes before the coupon's refund, void or exchange or after it, it credits nothing and
      // reads the same, and the flight's own activity keeps the records it was credited from.
      Object.assign(d, {
        status: 'REJECTED',
        reason: 'DUPLICATE',
        reasonField: 'flight',
        reasonMessage: creditedSameFlightMessage(d),
        needsAccrual: false,
      });
      inserts.set(d.activityKey, d);
      outcomes[i] = { kind: 'new', row: d };
      read(d, i);
      continue;
    }
    if (d.seenCoupon && (cardless(d) || (partnerCarded(d) && !sameFlight(d)))) {
      const passenger = onlyOne(
        couponFlights(d).flatMap((f) => flightRows.get(flightRefKey(f)) ?? []),
        (r) => ownPassenger(r) && !r.detail?.flightActivity && sameName(r, d),
      );
      // From here the coupon is the one its passenger's card would have brought: it completes the
      // flight's activity, or is the flight's other ticket (a reissue, a second coupon for the seat).
      if (passenger) Object.assign(d, { ...onCardOf(passenger, d), needsAccrual: true });
    } else if (ownCoupon(d) && !sameFlight(d)) {
      const rows = couponFlights(d).flatMap((f) => flightRows.get(flightRefKey(f)) ?? []);
      const listed = onlyOne(rows, (r) => partnerPassenger(r) && sameName(r, d));
      if (listed && lonelyPartnerPassenger(listed) && !rows.some((r) => ownPassenger(r) && sameName(r, d))) {
        // The passenger listed on another program's card takes the coupon's key, as the passenger listed
        // on our card would have had.
        takeKeyOf(listed, d, i);
        byCoupon.set(couponRef(d), listed);
        continue;
      }
    } else if (!d.seenCoupon && cardedPassenger(d) && !sameFlight(d)) {
      const k = flightRefKey(flightOfActivity(d));
      const rows = flightRows.get(k) ?? [];
      const card = d.detail?.partnerCard;
      const joined =
        card && rows.find((r) => r.seenFtl && sameCard(r.detail?.otherProgramCard, card) && sameName(r, d));
      if (joined) {
        // Listed again on the card that joined our passenger's flight: the same passenger, read before.
        outcomes[i] = duplicate(joined, d);
        continue;
      }
      const coupon = ownPassenger(d)
        ? onlyOne(rows, (r) => lonelyCoupon(r) && sameName(r, d))
        : onlyOne(rows, (r) => lonelyOwnCoupon(r) && sameName(r, d));
      // Another passenger of the coupon's name it may be: one on our card, or, for a coupon on another
      // program's card, one on such a card (it bears that card when it is the coupon's).
      const rival = (r: ActivityRow) =>
        ownPassenger(r) || (partnerPassenger(r) && (partnerPassenger(d) || partnerCarded(coupon!)));
      const rivals =
        coupon &&
        [...rows, ...(batchPassengers.get(k) ?? [])].filter(
          (r) => rival(r) && r.activityKey !== d.activityKey && sameName(r, coupon),
        );
      if (coupon && rivals?.length === 0) {
        // The coupon came first: it takes the passenger's key, as the coupon with the card would have had.
        if (ownPassenger(d)) takeKeyOf(coupon, d, i);
        // The coupon on our card came first.
        else completeOwnCoupon(coupon, d, i);
        continue;
      }
      const seat = partnerPassenger(d) ? seatOf(d) : undefined;
      if (seat && 'join' in seat) {
        // Listed under the flight its coupon on our card was sold as: the same as under the one operated.
        completeOwnCoupon(seat.join, d, i);
        continue;
      }
      if (seat && seat.of.memberNumber !== null && seat.of.seenFtl && seat.of.detail?.otherProgramCard) {
        // Listed on the card that joined our passenger's flight, under another number: read before.
        outcomes[i] = duplicate(seat.of, d);
        continue;
      }
      if (seat) {
        // Claimed, or to be claimed, once: kept as its own record, never claimed, the seat's record keeping
        // what it was claimed or credited from. The seat's key is kept for its coupon to find (a listing
        // kept so names the seat it was kept as).
        const seatKey = seat.of.detail?.seatKey ?? seat.of.activityKey;
        Object.assign(d, {
          status: 'NOT_CREDITED',
          reason: 'DUPLICATE',
          reasonField: 'flight',
          reasonMessage: listedSeatMessage(d, seatKey),
          needsAccrual: false,
          detail: { ...d.detail, seatKey },
        });
        inserts.set(d.activityKey, d);
        onDay(d);
        outcomes[i] = { kind: 'new', row: d };
        read(d, i);
        continue;
      }
    }
    const existing = sameFlight(d);
    if (!existing) {
      inserts.set(d.activityKey, d);
      onDay(d);
      if (d.ticketNumber !== null) byCoupon.set(couponRef(d), d);
      outcomes[i] = { kind: 'new', row: d };
      read(d, i);
      continue;
    }
    if (d.seenFtl && existing.seenFtl) {
      // The same passenger listed twice (an FTL per marketing carrier).
      outcomes[i] = duplicate(existing, d);
      continue;
    }
    if (d.seenCoupon && existing.seenCoupon) {
      // Another ticket's coupon for this flight and card (the same coupon was found by number above).
      const key = reissueKey(existing.activityKey, d.ticketNumber!, d.couponNumber!);
      const standing = [existing, ...otherKeys(existing).map(rowOf)].find(stands);
      d.activityKey = key;
      d.detail = { ...(d.detail ?? {}), flightActivity: existing.activityKey };
      if (!standing) {
        outcomes[i] = { kind: 'reissued', row: d };
      } else {
        d.detail.duplicateOf = `${standing.ticketNumber}/${standing.couponNumber}`;
        Object.assign(d, {
          status: 'REJECTED',
          reason: 'DUPLICATE',
          reasonField: 'ticket_number',
          reasonMessage: standingCouponMessage(d.detail.duplicateOf),
          needsAccrual: false,
        });
        outcomes[i] = { kind: 'secondCoupon', row: d, standing };
      }
      change(existing, {
        detail: { ...(existing.detail ?? {}), otherCoupons: [...otherKeys(existing), key] },
      });
      inserts.set(key, d);
      byCoupon.set(couponRef(d), d);
      read(d, i);
      continue;
    }
    change(existing, mergedFields(existing, d));
    if (d.ticketNumber !== null) byCoupon.set(couponRef(d), existing);
    outcomes[i] = { kind: 'merged', row: existing };
    read(existing, i);
  }
  // A flight none of whose coupons stands any more: the first coupon waiting beside it is the one flown.
  const flights = [...recheck.keys()].filter((k) => !rowOf(k));
  for (const [k, r] of await archive.byKeys(flights)) byKey.set(k, r);
  const unread = [...recheck.keys()].flatMap((k) => otherKeys(rowOf(k))).filter((k) => !rowOf(k));
  for (const [k, r] of await archive.byKeys(unread)) others.set(k, r);
  const requeued: FlightMerge['requeued'] = [];
  for (const [flight, by] of recheck) {
    const next = nextToStand([rowOf(flight), ...otherKeys(rowOf(flight)).map(rowOf)]);
    if (!next) continue;
    change(next, standingFields(next));
    requeued.push({ row: next, by });
  }
  return { outcomes, inserts: [...inserts.values()], changed, requeued, rekeyed };
}

/** The archive as the night reads it: the activities table, within the batch's transaction. */
const databaseArchive = (q: Knex | Knex.Transaction): FlightArchive => ({
  byKeys: (keys) => activitiesByKeys(q, keys),
  byCoupons: (coupons) => activitiesByCoupons(q, coupons),
  byFlights: (flights, holders) => activitiesByFlights(q, flights, holders),
  byMarketingKeys: (keys) => activitiesByMarketingKeys(q, keys),
  byRouteDays: (flights) => activitiesByRouteDays(q, flights),
});

/**
 * Stores flight drafts as `mergeFlightDrafts` decides, counting what became of them; returns the rejects
 * of the coupons refused (flown after a final status), against their lines. An FTL passenger has no coupon.
 */
export async function storeFlightDrafts(
  trx: Knex.Transaction,
  drafts: ActivityRow[],
  now: string,
  counts: Counter,
): Promise<RejectRow[]> {
  const merge = await mergeFlightDrafts(databaseArchive(trx), drafts);
  const rejects: RejectRow[] = [];
  const refused = merge.outcomes.flatMap((o, i) => (o.kind === 'afterFinal' ? [{ o, d: drafts[i]! }] : []));
  if (refused.length > 0) {
    const files = await filesReceived(
      trx,
      refused.map(({ o }) => o.first?.fileId ?? null),
    );
    for (const { o, d } of refused) {
      const where = o.first ? { sourceFileId: o.first.fileId, sourceLine: o.first.line } : undefined;
      rejects.push({
        line: d.sourceLine,
        ...flownAfterFinal(
          d,
          o.finalStatus,
          where ? firstCopyOf(where, files, d.sourceFileId ?? undefined) : {},
        ),
        recordRef: `${d.ticketNumber}/${d.couponNumber}`,
        memberNumber: d.memberNumber,
      });
    }
  }
  for (const o of merge.outcomes) {
    // A second coupon is stored (as an activity, counted there), unlike a record read again.
    const name = {
      duplicate: 'duplicates',
      afterFinal: 'afterFinal',
      corrected: 'corrections',
      new: undefined,
      merged: 'merged',
      reissued: 'reissued',
      secondCoupon: 'secondCoupons',
    }[o.kind];
    if (name) counts.add(name);
  }
  if (merge.requeued.length > 0) counts.add('reissued', merge.requeued.length);
  await insertActivities(trx, merge.inserts, now);
  counts.add('activities', merge.inserts.length);
  for (const [row, fields] of merge.changed)
    if (row.id !== undefined) await trx('activities').where({ id: row.id }).update(toDb(fields, now));
  // A claim settled against the coupon names the activity it is now.
  for (const [row, from] of merge.rekeyed)
    await trx('retro_claims').where({ activity_key: from }).update({ activity_key: row.activityKey });
  return rejects;
}

export function flownHandler(
  ctx: JobContext,
  program: Program,
): FeedHandler<FlownCoupon> & { counts(): Record<string, number> } {
  const counts = new Counter();
  return {
    feed: 'flown',
    counts: () => counts.values,
    async records(trx, file, batch) {
      const rejects: RejectRow[] = [];
      const drafts: ActivityRow[] = [];
      for (const e of batch) {
        const d = couponDraft(e.record, program, ctx.businessDate, minorOf);
        if (!d.ok) {
          rejects.push({
            line: e.line,
            ...d.rejection,
            recordRef: `${e.record.ticketNumber}/${e.record.couponNumber}`,
          });
          continue;
        }
        d.activity.sourceFileId = file.id;
        d.activity.sourceLine = e.line;
        drafts.push(d.activity);
      }
      rejects.push(...(await storeFlightDrafts(trx, drafts, ctx.now().toISOString(), counts)));
      return rejects;
    },
  };
}

// ------------------------------------------------------------------------------------------------ keyed activities

/**
 * The key a rejected copy keeps once its record is sent again: the record's own key goes to the copy
 * that is decided now (reversals and postings find it by that key), the rejected one stays with its
 * file, its outcome and its reason under the key suffixed with that file (`PTR:REDBANK:RB-9-R#812`).
 */
export const setAsideKey = (earlier: Pick<ActivityRow, 'activityKey' | 'sourceFileId' | 'id'>) =>
  setAsideId(earlier.activityKey, earlier.sourceFileId, `a${earlier.id}`);

/** A file of the registry a copy came in, as the refusal of a later copy names it. */
export type FileReceived = Extract<CopyFile, { registered: true }>;

/** The files rows came in, by id. */
export async function filesReceived(
  q: Knex | Knex.Transaction,
  ids: Array<number | null>,
): Promise<Map<number, FileReceived>> {
  const out = new Map<number, FileReceived>();
  const wanted = [...new Set(ids.filter((id): id is number => id !== null))];
  for (const part of chunks(wanted, 500))
    for (const r of await q('files').whereIn('id', part).select('id', 'name', 'business_date'))
      out.set(Number(r.id), fileReceived(r));
  return out;
}

/** A `files` row's name and business date as the refusal of a later copy names its file. */
const fileReceived = (row: { name: unknown; business_date: unknown }): FileReceived => ({
  registered: true,
  name: String(row.name),
  night: (row.business_date as string | null) ?? null,
});

/**
 * Where an activity read before came in, seen from the file being read (`fileId`; none in a simulation,
 * whose files are not registered): a line of that file, or another file.
 */
export const firstCopyOf = (
  row: Pick<ActivityRow, 'sourceFileId' | 'sourceLine'>,
  files: Map<number, FileReceived>,
  fileId?: number,
): FirstCopy =>
  row.sourceFileId !== null && row.sourceFileId === fileId
    ? { sameFile: true, line: row.sourceLine }
    : { file: row.sourceFileId === null ? undefined : files.get(row.sourceFileId) };

/**
 * A stay its hotel cancelled (`cancelled`, tonight's record of it, in `file` at `line`) before anything was
 * posted for it: rejected as the cancellation is, so accrue never credits it, not even once its rate comes.
 * One read earlier in the batch (no id yet) is changed in place and stored so; an archived one is updated,
 * its reject dated tonight when an earlier night read it and reported it waiting, as accrue dates one.
 */
async function settleCancelledStay(
  trx: Knex.Transaction,
  stay: ActivityRow,
  cancelled: ActivityRow,
  resStatus: string,
  file: FileRow,
  line: number | null,
  now: string,
): Promise<void> {
  const night = cancelled.businessDate;
  const settled = cancelledBeforeCredit(
    cancelled.externalRef ?? cancelled.activityKey,
    resStatus,
    stay.id === undefined || stay.sourceFileId === file.id
      ? { sameFile: true, line }
      : { file: file.name, night },
  );
  if (stay.id !== undefined) {
    const waited = stay.status !== 'REJECTED' && stay.businessDate < night;
    await trx('activities')
      .where({ id: stay.id })
      .update({ ...toDb(settled, now), ...(waited ? { rejected_on: night } : {}) });
  }
  Object.assign(stay, settled);
}

/**
 * Activities that must be new: a known key is a duplicate record (DUPLICATE), not a correction; unless
 * its earlier copy was rejected (`recordReceipt`), when the record is stored and decided afresh.
 */
async function storeUnique(
  trx: Knex.Transaction,
  file: FileRow,
  items: Array<{
    event: RecordEvent<unknown>;
    draft: Draft;
    ref: string | null;
    member: string | null;
    /** The number the sender gave the record, which its reject keeps (a hotel's StayInfo/@SequenceNumber). */
    sequenceNumber?: number | null;
  }>,
  now: string,
  counts: Counter,
): Promise<RejectRow[]> {
  const rejects: RejectRow[] = [];
  const fresh: ActivityRow[] = [];
  const setAside: ActivityRow[] = [];
  const keys = items.flatMap((i) => draftCopyKeys(i.draft));
  const known = await activitiesByKeys(trx, [...new Set(keys)]);
  const knownCopyOf = (a: ActivityRow) => earlierCopyOf(a, (key) => known.get(key));
  const files = await filesReceived(
    trx,
    [...known.values()].map((r) => r.sourceFileId),
  );
  // The copies of this batch stored so far: a second names the first, not yet decided.
  const seen = new Map<string, ActivityRow>();
  for (const { event, draft, ref, member, sequenceNumber = null } of items) {
    if (!draft.ok) {
      let rejection: Omit<RejectRow, 'line' | 'path'> = draft.rejection;
      if (draft.cancels) {
        const { activity: cancelled, resStatus } = draft.cancels;
        // A copy earlier in this batch is not stored yet: settled in place, it is stored as settled.
        const standing = seen.get(cancelled.activityKey) ?? knownCopyOf(cancelled);
        const effect = cancellationOf(standing);
        if (effect === 'notApplied') {
          rejection = cancellationNotApplied(
            ref ?? cancelled.activityKey,
            resStatus,
            standing!,
            firstCopyOf(standing!, files, file.id),
          );
          counts.add('cancellationsNotApplied');
        } else if (effect === 'settle') {
          await settleCancelledStay(trx, standing!, cancelled, resStatus, file, event.line, now);
          counts.add('cancelledBeforeCredit');
        }
      }
      rejects.push({
        line: event.line,
        path: event.path ?? null,
        ...rejection,
        ordinal: event.ordinal ?? null,
        recordRef: ref,
        memberNumber: member,
        sequenceNumber,
      });
      continue;
    }
    const a = draft.activity;
    const first = seen.get(a.activityKey);
    const earlier = knownCopyOf(a);
    const receipt = recordReceipt(earlier, first !== undefined);
    if (receipt === 'duplicate') {
      const standing = first ?? earlier!;
      rejects.push({
        line: event.line,
        path: event.path ?? null,
        ...recordReadBefore(ref ?? a.activityKey, standing, firstCopyOf(standing, files, file.id)),
        ordinal: event.ordinal ?? null,
        recordRef: ref,
        memberNumber: member,
        sequenceNumber,
      });
      counts.add('duplicates');
      continue;
    }
    if (receipt === 'sentAgain') {
      setAside.push(earlier!);
      counts.add('sentAgain');
    }
    seen.set(a.activityKey, a);
    a.sourceFileId = file.id;
    // The line and the place in the document, as its rejects and those of the records around it have:
    // answers list a file's records in its order by them (an XML document may be one line).
    a.sourceLine = event.line;
    a.sourceOrdinal = event.ordinal ?? null;
    fresh.push(a);
  }
  // The rejected copy posted nothing: the key of a posting the ledger refused it goes with the record,
  // whose copy decided now may post under it (the ledger check would find the copy naming that posting).
  for (const earlier of setAside)
    await trx('activities')
      .where({ id: earlier.id })
      .update({
        activity_key: setAsideKey(earlier),
        posting_key: null,
        status_posting_key: null,
        updated_at: now,
      });
  await insertActivities(trx, fresh, now);
  counts.add('activities', fresh.length);
  return rejects;
}

/**
 * The partner's file of `feed` accepted under this sequence number, if any (`except`: the file being read).
 * A partner numbers its files of one feed, so the feed is part of the scope: GRANDSTAY's partner files and
 * LH's claims files each count on their own.
 */
export async function acceptedFileOfSequence(
  q: Knex | Knex.Transaction,
  feed: 'partner' | 'alliance-claims',
  partnerCode: string,
  sequence: number,
  except?: number,
): Promise<{ id: number; name: string } | undefined> {
  const row = await q('files')
    .where({ direction: 'in', feed, partner_code: partnerCode, verdict: 'accepted', sequence })
    .modify((b) => {
      if (except !== undefined) b.whereNot('id', except);
    })
    .orderBy('id')
    .first('id', 'name');
  return row ? { id: Number(row.id), name: String(row.name) } : undefined;
}

/** The refusal of a sequence number already accepted: the same content never gets here (`duplicate`). */
export function repeatedSequence(
  partnerCode: string,
  sequence: number,
  earlier: { id?: number; name: string },
): FileRefusal {
  const which = earlier.id === undefined ? earlier.name : `${earlier.name}, file ${earlier.id}`;
  return {
    reason: 'DUPLICATE_FILE',
    message: `sequence ${sequence} of ${partnerCode} was already processed (${which}) with other content`,
  };
}

/**
 * A partner's file sequence kept as partner-accrual.md and alliance-accrual.md want it, gap-free per
 * sender: a repeat of a number accepted before is refused; the same content never gets here (the registry
 * records it `duplicate`), and a rejected file's number may be sent again corrected. A gap is warned; a
 * lower number not seen yet fills one: it is accepted, and said late. The file keeps its partner and
 * sequence, which the next file is judged against.
 */
export async function checkFileSequence(
  trx: Knex.Transaction,
  feed: 'partner' | 'alliance-claims',
  partnerCode: string,
  sequence: number | null,
  file: FileRow,
  verdict: VerdictEvent,
): Promise<FileRefusal | undefined> {
  if (sequence !== null) {
    const repeat = await acceptedFileOfSequence(trx, feed, partnerCode, sequence, file.id);
    if (repeat) return repeatedSequence(partnerCode, sequence, repeat);
    const last = await trx('files')
      .where({ direction: 'in', feed, partner_code: partnerCode, verdict: 'accepted' })
      .whereNot('id', file.id)
      .max({ s: 'sequence' })
      .first();
    const lastSeq = last?.s === null || last?.s === undefined ? null : Number(last.s);
    if (lastSeq !== null && sequence > lastSeq + 1) {
      warn(verdict, `${file.name} (${partnerCode}): file sequence jumps from ${lastSeq} to ${sequence}`);
    } else if (lastSeq !== null && sequence < lastSeq) {
      warn(
        verdict,
        `${file.name} (${partnerCode}): file sequence ${sequence} arrived late (after ${lastSeq}) and fills a gap`,
      );
    }
  }
  await trx('files').where({ id: file.id }).update({ partner_code: partnerCode, sequence });
  return undefined;
}

/**
 * The partner a partner file is from, by its name (`<PARTNER>_<YYYYMMDD>_<SEQ>.csv`), or why the night
 * refuses the whole file. Ingest and the simulator judge a file here.
 */
export function partnerOfFile(
  program: Program,
  fileName: string,
): { partnerCode: string } | { refusal: FileRefusal } {
  const name = parsePartnerFileName(fileName);
  if (!name)
    return {
      refusal: {
        reason: 'BAD_HEADER',
        message: `${fileName} does not follow <PARTNER>_<YYYYMMDD>_<SEQ>.csv`,
      },
    };
  if (!program.partner(name.partnerCode))
    return {
      refusal: { reason: 'UNKNOWN_PARTNER', message: `no partner ${name.partnerCode} in the configuration` },
    };
  return { partnerCode: name.partnerCode };
}

/** The header must name the partner the file name does. */
export function partnerHeaderRefusal(
  partnerCode: string,
  meta: PartnerFileMeta | undefined,
): FileRefusal | undefined {
  if (meta?.partnerCode && meta.partnerCode !== partnerCode)
    return {
      reason: 'BAD_HEADER',
      message: `header names partner ${meta.partnerCode}, the file name ${partnerCode}`,
    };
  return undefined;
}

/**
 * The chain a hotel file's name gives, where the hotel feed's `pattern` captures it in a group named
 * `chain` (the demo's `GS_GSBER01_StayInfoNotif_20261101.xml` is GrandStay's).
 */
export function hotelChainOfFileName(pattern: string | undefined, fileName: string): string | undefined {
  if (pattern === undefined) return undefined;
  return new RegExp(pattern).exec(fileName.replace(/^.*[\\/]/, ''))?.groups?.chain || undefined;
}

/**
 * The hotel partner a document is from, or why the night refuses it whole: the partner of the chain (and
 * brand) its StayInfos name; for a document that names none, or could not be read, of the chain its file
 * name gives. Ingest and the simulator judge a file here, whether or not any of its stays is credited.
 */
export function hotelPartnerOf(
  program: Program,
  fileName: string,
  meta: Record<string, unknown> | undefined,
): { partnerCode: string } | { refusal: FileRefusal } {
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const named = text(meta?.chainCode);
  const brand = named ? text(meta?.brandCode) : undefined;
  const chain = named ?? hotelChainOfFileName(program.config.feeds.hotel?.pattern, fileName);
  const partner = program.partnerForHotelChain(chain, brand);
  if (partner) return { partnerCode: partner.code };
  return {
    refusal: {
      reason: 'UNKNOWN_PARTNER',
      message: chain
        ? `no hotel partner for chain ${chain}${brand ? ` or its brand ${brand}` : ''} (partners[].hotelChains)`
        : 'neither the document (StayInfos/@ChainCode) nor its file name names a hotel chain',
    },
  };
}

/**
 * A stay of one of our members as the hotel partner of its chain credits it, or why no contract covers it.
 * `ChainCode` is optional in OpenTravel: a stay that names none is of the hotel the file is from, and is
 * credited to the partner the file was accepted under (`hotelPartnerOf`, by its file name; the parser gives
 * it the document's chain where another StayInfos names one). A chain it names is its own, known or not.
 */
export function hotelStayDraft(program: Program, fileName: string, stay: HotelStay, date: IsoDate): Draft {
  const of = hotelPartnerOf(program, fileName, { chainCode: stay.chainCode, brandCode: stay.brandCode });
  return 'partnerCode' in of
    ? hotelDraft(stay, of.partnerCode, date)
    : { ok: false, rejection: { reason: 'NO_CONTRACT', field: 'ChainCode', message: of.refusal.message } };
}

export function partnerHandler(
  ctx: JobContext,
  program: Program,
): FeedHandler<PartnerActivity> & { counts(): Record<string, number> } {
  const counts = new Counter();
  let partnerCode = '';
  return {
    feed: 'partner',
    counts: () => counts.values,
    async begin(_trx, file) {
      const of = partnerOfFile(program, file.name);
      if ('refusal' in of) return of.refusal;
      partnerCode = of.partnerCode;
    },
    // The name is what fetch matched and begin() checked against the configuration: a file refused for
    // its header is still answered to the partner whose server it came from, under the name's sequence.
    identity(file) {
      if (partnerCode === '') return {};
      return { partnerCode, sequence: parsePartnerFileName(file.name)?.sequence ?? null };
    },
    async records(trx, file, batch) {
      return storeUnique(
        trx,
        file,
        batch.map((e) => ({
          event: e,
          draft: partnerDraft(e.record, partnerCode, ctx.businessDate, minorOf),
          ref: e.record.partnerTxnId,
          member: e.record.memberNumber,
        })),
        ctx.now().toISOString(),
        counts,
      );
    },
    async end(trx, file, verdict: VerdictEvent) {
      const meta = verdict.meta as unknown as PartnerFileMeta | undefined;
      const header = partnerHeaderRefusal(partnerCode, meta);
      if (header) return header;
      return checkFileSequence(trx, 'partner', partnerCode, meta?.fileSequence ?? null, file, verdict);
    },
  };
}

export function hotelHandler(
  ctx: JobContext,
  program: Program,
): FeedHandler<HotelStay> & { counts(): Record<string, number> } {
  const counts = new Counter();
  /** This file's cancellations of stays whose credit is posted, warned of once the file is read. */
  const notApplied: RejectRow[] = [];
  return {
    feed: 'hotel',
    counts: () => counts.values,
    parseOptions: () => ({ ownPrograms: [program.code] }) as never,
    // The echo token too, also of a document refused whole or of no partner's: each is answered.
    identity(file, verdict) {
      const of = hotelPartnerOf(program, file.name, verdict?.meta);
      const echo = verdict?.meta?.echoToken;
      return {
        ...('partnerCode' in of ? { partnerCode: of.partnerCode } : {}),
        ...(typeof echo === 'string' ? { echoToken: echo } : {}),
      };
    },
    // The partner is recorded with the verdict (identity); a document of no partner's chain is refused.
    async end(_trx, file, verdict) {
      const of = hotelPartnerOf(program, file.name, verdict.meta);
      if ('refusal' in of) return of.refusal;
      // The member keeps points for nights the hotel says were never spent, and the hotel is billed for
      // them: nothing the night does takes them back, so an operator must hear of it.
      for (const r of notApplied.splice(0))
        warn(
          verdict,
          `${file.name}:${r.line ?? '-'} field ${r.field}: member ${r.memberNumber ?? '(none)'}: ${r.message}`,
        );
    },
    async records(trx, file, batch) {
      const items = [];
      for (const e of batch) {
        const stay = e.record;
        if (!stay.own) {
          counts.add('otherProgram');
          continue;
        }
        const draft = hotelStayDraft(program, file.name, stay, ctx.businessDate);
        items.push({
          event: e as RecordEvent<unknown>,
          draft,
          ref: stay.reservationId ?? null,
          member: stay.memberNumber,
          sequenceNumber: stay.sequenceNumber ?? null,
        });
      }
      const rejects = await storeUnique(trx, file, items, ctx.now().toISOString(), counts);
      notApplied.push(...rejects.filter((r) => r.reason === 'CANCELLATION_NOT_APPLIED'));
      return rejects;
    },
  };
}

/**
 * The partner airline an inbound claim is credited for: the claims file's sender, whose chart applies,
 * who is billed, and whose key (`PAF:<sender>:<claim id>`) and results it is (alliance-accrual.md: a
 * partner airline claims for our members who flew on its flights, operated or marketed). The flight's
 * operating carrier is not it: an LH claim for an IB-operated LH codeshare was credited and billed to IB.
 * The ingest job and the simulator both choose the partner here.
 */
export function allianceClaimPartner(program: Program, fileSender: string | null | undefined) {
  return fileSender ? program.partnerForProgram(fileSender) : undefined;
}

/**
 * What a claims file's header says of the file as a whole: refused when it is addressed to another
 * program or sent by no partner airline we know, else the partner that sent it. Ingest and the simulator
 * judge a file by it alike.
 */
export function allianceClaimsHeader(
  program: Program,
  meta: { sender?: string; receiver?: string } | undefined,
): { partner: NonNullable<ReturnType<typeof allianceClaimPartner>> } | { refusal: FileRefusal } {
  if (meta?.receiver && meta.receiver !== program.code)
    return {
      refusal: {
        reason: 'BAD_HEADER',
        message: `claims addressed to ${meta.receiver}, not to ${program.code}`,
      },
    };
  const partner = allianceClaimPartner(program, meta?.sender);
  if (!partner)
    return {
      refusal: {
        reason: 'UNKNOWN_PARTNER',
        message: `no partner airline ${meta?.sender ?? '(unknown sender)'}`,
      },
    };
  return { partner };
}

/** The draft of an inbound claim from the file `fileSender` sent (see `allianceClaimPartner`). */
export function allianceClaimDraftFor(
  program: Program,
  fileSender: string | null | undefined,
  claim: AllianceClaim,
  businessDate: string,
): Draft {
  const partner = allianceClaimPartner(program, fileSender);
  if (!partner)
    return {
      ok: false,
      rejection: {
        reason: 'NO_CONTRACT',
        field: 'FileHeader/SenderProgram',
        message: `no partner airline ${fileSender ?? '(unknown sender)'}`,
      },
    };
  return allianceClaimDraft(claim, partner.program ?? partner.code, partner.code, businessDate, program.code);
}

export function allianceClaimsHandler(
  ctx: JobContext,
  program: Program,
): FeedHandler<AllianceClaim> & { counts(): Record<string, number> } {
  const counts = new Counter();
  // The sender is in the file's header, which the handler learns with the verdict: the claims are held
  // until then (the XML document is read whole anyway, bounded by the feed's maxBytes).
  const claims: Array<RecordEvent<AllianceClaim>> = [];
  return {
    feed: 'alliance-claims',
    counts: () => counts.values,
    async records(_trx, _file, batch) {
      claims.push(...batch);
      return [];
    },
    async end(trx, file, verdict) {
      const meta = verdict.meta as { sender?: string; receiver?: string; sequence?: number } | undefined;
      const header = allianceClaimsHeader(program, meta);
      if ('refusal' in header) return header.refusal;
      const { partner } = header;
      // A repeated number would answer two files under one results name (alliance-accrual.md: gap-free
      // per sender and receiver); the partner reads which of its files we answered by the number alone.
      const repeat = await checkFileSequence(
        trx,
        'alliance-claims',
        partner.code,
        meta?.sequence ?? null,
        file,
        verdict,
      );
      if (repeat) return repeat;
      const items = claims.map((e) => ({
        event: e as RecordEvent<unknown>,
        draft: allianceClaimDraftFor(program, meta?.sender, e.record, ctx.businessDate),
        ref: e.record.claimId,
        member: e.record.member.number,
      }));
      // The same flight claimed again under another claim id is accrue's to refuse (`claimedBefore`):
      // whether a first claim credits the flight is known only once it is decided.
      const rejects = await storeUnique(trx, file, items, ctx.now().toISOString(), counts);
      // Stored claims only (storeUnique marks them with the file): a repeated claim id is refused, not its first.
      const fresh = items.flatMap((i) =>
        i.draft.ok && i.draft.activity.sourceFileId === file.id
          ? [
              {
                direction: 'IN',
                partner_code: partner.code,
                claim_id: i.ref,
                activity_key: i.draft.activity.activityKey,
                business_date: ctx.businessDate,
                file_id: file.id,
                claim: JSON.stringify(i.event.record),
                status: 'PENDING',
                result_file_id: null,
                answered_on: null,
              },
            ]
          : [],
      );
      // A claim sent again after its rejection is the one the partner now waits to have answered: the
      // results file that answered its first copy does not answer it.
      for (const part of chunks(fresh, 200))
        await trx('alliance_claims')
          .insert(part)
          .onConflict(['direction', 'partner_code', 'claim_id'])
          .merge(['file_id', 'business_date', 'claim', 'status', 'result_file_id', 'answered_on']);
      return { rejects };
    },
  };
}

/** Results for our outbound claims: matched back to what we sent (exporters/alliance.ts does the matching). */
export function allianceResultsHandler(
  ctx: JobContext,
  program: Program,
): FeedHandler<AllianceResult> & { counts(): Record<string, number> } {
  const counts = new Counter();
  const results: Array<RecordEvent<AllianceResult>> = [];
  return {
    feed: 'alliance-results',
    counts: () => counts.values,
    async records(_trx, _file, batch) {
      results.push(...batch);
      return [];
    },
    async end(trx, file, verdict) {
      const meta = verdict.meta as
        { sender?: string; receiver?: string; answers?: AnsweredFile; answersLine?: number } | undefined;
      // The parser holds AnsweredFile to go from this file's receiver to its sender: results addressed
      // to another program answer a claims file of that program's, which ours cannot be matched against.
      if (meta?.receiver && meta.receiver !== program.code)
        return {
          reason: 'BAD_HEADER',
          message: `FileHeader/ReceiverProgram: results addressed to ${meta.receiver}, not to ${program.code}`,
        };
      const partner = meta?.sender ? program.partnerForProgram(meta.sender) : undefined;
      if (!partner)
        return {
          reason: 'UNKNOWN_PARTNER',
          message: `no partner airline ${meta?.sender ?? '(unknown sender)'}`,
        };
      await trx('files').where({ id: file.id }).update({ partner_code: partner.code });
      const report = await matchAllianceResults(trx, {
        partnerCode: partner.code,
        resultsFileId: file.id,
        businessDate: ctx.businessDate,
        answers: meta?.answers ?? null,
        results: results.map((e) => e.record),
      });
      counts.add('matched', report.matched);
      counts.add('updated', report.updated);
      const lineOf = new Map(results.map((e) => [e.record.claimId, e]));
      if (meta?.answers)
        for (const warning of await answeredFileWarnings(trx, file, partner.code, meta, report, lineOf))
          warn(verdict, warning);
      counts.add('otherFile', report.otherFile.length);
      counts.add('leftUnanswered', report.leftUnanswered.length);
      const rejects: RejectRow[] = [
        ...report.unknown.map((id) => ({
          id,
          reason: 'NOT_FOUND',
          message: `no claim ${id} was sent to ${partner.code}`,
        })),
        ...report.conflicting.map((id) => ({
          id,
          reason: 'DUPLICATE',
          message: `claim ${id} was already answered differently; the first answer stands`,
        })),
      ].map((r) => ({
        line: lineOf.get(r.id)?.line ?? null,
        path: lineOf.get(r.id)?.path ?? null,
        field: 'ClaimId',
        reason: r.reason,
        message: r.message,
        recordRef: r.id,
      }));
      // Returned, not inserted here: the file's reject count in the registry includes them.
      return { rejects };
    },
  };
}

/**
 * What the accountant is told when a partner's results do not answer the claims file they name: claim
 * ids are unique per sender, so each answer is still taken by its claim (the partner's credit is real,
 * and a results file gets no response to tell the partner of a refusal), but the night says which
 * claims came back under another file's number, which sequence names no file we sent, and which claims
 * of the file named are left waiting.
 */
async function answeredFileWarnings(
  trx: Knex.Transaction,
  file: FileRow,
  partnerCode: string,
  meta: { answers?: AnsweredFile; answersLine?: number },
  report: MatchReport,
  lineOf: ReadonlyMap<string, { line: number }>,
): Promise<string[]> {
  const answers = meta.answers!;
  const where = `${file.name}${meta.answersLine ? ` line ${meta.answersLine}` : ''}, FileHeader/AnsweredFile/FileSequence`;
  const named = report.answered
    ? `claims file ${report.answered.name} (sequence ${answers.sequence})`
    : `claims file sequence ${answers.sequence}`;
  const warnings: string[] = [];
  if (report.answered === null) {
    const last = await trx('files')
      .where({ direction: 'out', feed: 'alliance-claims', partner_code: partnerCode })
      .max({ s: 'sequence' })
      .first();
    const lastSent = last?.s === null || last?.s === undefined ? null : Number(last.s);
    warnings.push(
      `${where}: answers ${named}, but no claims file of that sequence was sent to ${partnerCode} (${
        lastSent === null ? 'none was sent yet' : `the last sent is sequence ${lastSent}`
      }); its results are matched to our claims by their ids`,
    );
  }
  // A claim answered differently before keeps its first answer and is rejected DUPLICATE: not said twice.
  const conflicting = new Set(report.conflicting);
  const bySentFile = new Map<string, { sentIn: SentClaimsFile; claims: string[] }>();
  for (const o of report.otherFile) {
    if (conflicting.has(o.claimId)) continue;
    const group = bySentFile.get(o.sentIn.name) ?? { sentIn: o.sentIn, claims: [] };
    const line = lineOf.get(o.claimId)?.line;
    group.claims.push(line === undefined ? o.claimId : `${o.claimId} (line ${line})`);
    bySentFile.set(o.sentIn.name, group);
  }
  for (const { sentIn, claims } of bySentFile.values()) {
    const one = claims.length === 1;
    warnings.push(
      `${where}: answers ${named}, but ${one ? 'claim' : 'claims'} ${claims.join(', ')} ${
        one ? 'was' : 'were'
      } sent to ${partnerCode} in ${sentIn.name} (sequence ${sentIn.sequence}); ${
        one ? 'its answer is' : 'their answers are'
      } applied all the same`,
    );
  }
  if (report.leftUnanswered.length > 0) {
    const one = report.leftUnanswered.length === 1;
    warnings.push(
      `${where}: answers ${named}, but not ${one ? 'its claim' : 'its claims'} ${report.leftUnanswered.join(
        ', ',
      )}, which ${one ? 'stays' : 'stay'} unanswered`,
    );
  }
  return warnings;
}

/** Adds a warning of the file's handler to what the run says of the file, after the reader's own. */
export function warn(verdict: VerdictEvent, warning: string): void {
  const meta = (verdict.meta ?? (verdict.meta = {})) as Record<string, unknown>;
  meta.warnings = [...((meta.warnings as string[] | undefined) ?? []), warning];
}

export function redemptionsHandler(
  ctx: JobContext,
): FeedHandler<Redemption> & { counts(): Record<string, number> } {
  const counts = new Counter();
  const known = new Set(ctx.config.partners.map((p) => p.code));
  /** Partner rewards of this file from a partner the configuration does not know: code → first line. */
  const unknown = new Map<string, { line: number; rewards: number }>();
  return {
    feed: 'redemptions',
    counts: () => counts.values,
    async records(trx, file, batch) {
      const rejects = await storeUnique(
        trx,
        file,
        batch.map((e) => ({
          event: e,
          draft: redemptionDraft(e.record, ctx.businessDate),
          ref: e.record.redemptionId,
          member: e.record.memberNumber,
        })),
        ctx.now().toISOString(),
        counts,
      );
      // The reward was given: refusing its debit would leave the member with it for nothing. It is read as
      // any redemption, and said, since that partner's bill for it cannot be matched to a partner of the
      // program. A copy refused as read before says nothing new.
      const refused = new Set(rejects.map((r) => r.line));
      for (const { record, line } of batch) {
        if (record.serviceType !== 'PARTNER_REWARD' || record.partnerCode === null) continue;
        if (known.has(record.partnerCode) || refused.has(line)) continue;
        const seen = unknown.get(record.partnerCode);
        if (seen) seen.rewards++;
        else unknown.set(record.partnerCode, { line, rewards: 1 });
        counts.add('unknownRewardPartner');
      }
      return rejects;
    },
    async end(_trx, file, verdict) {
      for (const [code, { line, rewards }] of unknown)
        warn(
          verdict,
          `${file.name}:${line} field partner_code: ${rewards} PARTNER_REWARD redemption(s) from partner ` +
            `${code}, which is not in the configuration's partners: read as any other, but that partner's bill cannot ` +
            'be matched to a partner of the program',
        );
    },
  };
}

export function fxHandler(_ctx: JobContext): FeedHandler<FxRate> & { counts(): Record<string, number> } {
  const counts = new Counter();
  return {
    feed: 'fx',
    counts: () => counts.values,
    async records(trx, file, batch) {
      const rejects: RejectRow[] = [];
      const keys = batch.map((e) => [e.record.date, e.record.currency] as const);
      const existing = new Map<string, string>();
      for (const part of chunks(keys, 300)) {
        const rows = await trx('fx_rates').whereIn(
          ['rate_date', 'currency'],
          part.map((k) => [...k]),
        );
        for (const r of rows) existing.set(`${r.rate_date}:${r.currency}`, r.rate as string);
      }
      const fresh = [];
      for (const e of batch) {
        const k = `${e.record.date}:${e.record.currency}`;
        const known = existing.get(k);
        if (known !== undefined) {
          // By value: a history file writes 1.048 where the daily file wrote 1.0480, the same rate.
          if (!new Decimal(known).equals(e.record.rate)) {
            rejects.push({
              line: e.line,
              field: 'rate',
              reason: 'DUPLICATE',
              message: `${e.record.currency} on ${e.record.date} is already ${known}; ${e.record.rate} ignored`,
            });
          } else counts.add('known');
          continue;
        }
        existing.set(k, e.record.rate);
        fresh.push({
          rate_date: e.record.date,
          currency: e.record.currency,
          rate: e.record.rate,
          source_file_id: file.id,
        });
      }
      for (const part of chunks(fresh, 300)) await trx('fx_rates').insert(part);
      counts.add('rates', fresh.length);
      // A flight whose coupon's money had no rate was credited without what needs the money (its spend
      // status credit, or all of it under revenue earning); with new rates it is decided again. Its miles
      // are not posted twice: the award's key is taken. A claim's credit keeps RETRO_CLAIM as its reason
      // (whose flight it is: see `claimedByAnother`), so its money's want of a rate is read from the base
      // spend it could not be given, which the rate gives it: it is not decided again after.
      if (fresh.length > 0) {
        const waiting = await trx('activities')
          .where({ type: 'FLIGHT', needs_accrual: false })
          .andWhere((q) =>
            q
              .where({ reason: 'BAD_CURRENCY' })
              .orWhere((claimed) =>
                claimed
                  .where({ reason: 'RETRO_CLAIM', status: 'POSTED' })
                  .whereNull('base_spend_minor')
                  .whereNotNull('spend_currency'),
              ),
          )
          .update({ needs_accrual: true });
        counts.add('flights.requeued', waiting);
        // A partner record or hotel stay whose rate of the day was still to come waits for it (PENDING
        // BAD_CURRENCY): decided again with these rates, it earns at its day's rate once that is loaded,
        // or at the latest earlier one once the feed has gone past its day without one. (Not narrowed
        // to those unmarked: the engine would then read the pending flag's index, of nearly every row.)
        counts.add('partners.requeued', await awaitingRate(trx).update({ needs_accrual: true }));
      }
      return rejects;
    },
  };
}

/** A retro-claim received before under an id: what became of it, and the file it came in. */
export interface ReceivedClaim {
  id: number;
  claimId: string;
  status: ClaimStatus;
  sourceFileId: number | null;
  /** The file it came in, as its refusal of a copy names it (none for a row kept before files were). */
  file?: FileReceived;
}

/** The retro-claims received before under these ids (not those set aside: their ids carry their file). */
export async function receivedClaims(
  q: Knex | Knex.Transaction,
  ids: string[],
): Promise<Map<string, ReceivedClaim>> {
  const known = new Map<string, ReceivedClaim>();
  for (const part of chunks([...new Set(ids)], 500))
    for (const r of await q('retro_claims as c')
      .leftJoin('files as f', 'f.id', 'c.source_file_id')
      .whereIn('c.claim_id', part)
      .select('c.id', 'c.claim_id', 'c.status', 'c.source_file_id', 'f.name', 'f.business_date'))
      known.set(r.claim_id as string, {
        id: Number(r.id),
        claimId: r.claim_id as string,
        status: r.status as ClaimStatus,
        sourceFileId: r.source_file_id === null ? null : Number(r.source_file_id),
        ...(r.name === null || r.name === undefined ? {} : { file: fileReceived(r) }),
      });
  return known;
}

/**
 * The id a rejected claim keeps once it is sent again, as `setAsideKey` for activities: the claim's own id
 * goes to the copy decided now, the rejected one stays with its file, its outcome and its reason under the
 * id suffixed with that file (`C-9#812`).
 */
export const setAsideClaimId = (earlier: Pick<ReceivedClaim, 'claimId' | 'sourceFileId' | 'id'>) =>
  setAsideId(earlier.claimId, earlier.sourceFileId, `c${earlier.id}`);

/** The day a file came in, as accrue reads it for `waitsForItsNight`: today when it has no stamp. */
const fileReceivedOn = (file: Pick<FileRow, 'receivedAt'>, now: Date): IsoDate =>
  dateInZone(file.receivedAt ? new Date(file.receivedAt) : now, 'UTC');

export function retroClaimsHandler(
  ctx: JobContext,
): FeedHandler<RetroClaim> & { counts(): Record<string, number> } {
  const counts = new Counter();
  // The claims of this file stored so far, by id, with their line: a second copy names the first's.
  const seen = new Map<string, number>();
  return {
    feed: 'retro-claims',
    counts: () => counts.values,
    async records(trx, file, batch) {
      const rejects: RejectRow[] = [];
      const known = await receivedClaims(
        trx,
        batch.map((e) => e.record.claimId),
      );
      const fresh = [];
      const setAside: ReceivedClaim[] = [];
      const receivedOn = fileReceivedOn(file, ctx.now());
      for (const e of batch) {
        const id = e.record.claimId;
        // Refused before it is kept: a copy sent again with the date mended is a new claim, not a duplicate.
        const ahead = requestInTheFuture(e.record.receivedDate, ctx.businessDate, receivedOn);
        if (ahead) {
          rejects.push({ line: e.line, ...ahead, recordRef: id, memberNumber: e.record.memberNumber });
          continue;
        }
        const earlier = known.get(id);
        const line = seen.get(id);
        const receipt = claimReceipt(earlier, line !== undefined);
        if (receipt === 'duplicate') {
          rejects.push({
            line: e.line,
            ...(line !== undefined
              ? claimReceivedBefore(id, { status: 'PENDING' }, { sameFile: true, line })
              : claimReceivedBefore(id, earlier!, { file: earlier!.file })),
            recordRef: id,
            memberNumber: e.record.memberNumber,
          });
          continue;
        }
        if (receipt === 'sentAgain') {
          setAside.push(earlier!);
          counts.add('sentAgain');
        }
        seen.set(id, e.line);
        fresh.push({
          claim_id: id,
          member_number: e.record.memberNumber,
          received_date: e.record.receivedDate,
          claim: JSON.stringify(e.record),
          status: 'PENDING',
          source_file_id: file.id,
        });
      }
      // The rejected copy, its outcome and reason untouched, makes way for the copy decided now.
      for (const earlier of setAside)
        await trx('retro_claims')
          .where({ id: earlier.id })
          .update({ claim_id: setAsideClaimId(earlier) });
      for (const part of chunks(fresh, 200)) await trx('retro_claims').insert(part);
      counts.add('claims', fresh.length);
      return rejects;
    },
  };
}

export type AnyHandler = FeedHandler<unknown> & { counts(): Record<string, number> };

export const FEED_ORDER: FeedName[] = [
  'fx',
  'members',
  'ftl',
  'flown',
  'partner',
  'hotel',
  'alliance-claims',
  'alliance-results',
  'redemptions',
  'retro-claims',
];
