/**
 * Activities: every record the feeds deliver becomes an activity with a stable identity, from which the
 * idempotency keys of its postings derive. An FTL passenger and the flown coupon of the same flight and
 * member are one activity (keyed by operating flight, date, board and off point, and card), so miles are
 * posted once whichever arrives first; a coupon is also found by ticket and coupon number when it comes
 * back corrected (refunded, voided, exchanged).
 */
import type { IsoDate } from '../lib/dates.js';
import type { FlownCoupon } from '../parsers/flown.js';
import type { FtlPassenger } from '../parsers/ftl/model.js';
import type { HotelStay } from '../parsers/hotel.js';
import type { PartnerActivity } from '../parsers/partner.js';
import type { Redemption } from '../parsers/redemptions.js';
import type { AllianceClaim } from '../parsers/alliance.js';
import { isCurrencyCode, minorUnitExponent, parseAmount, Decimal } from '../lib/money.js';
import type { Program } from './program.js';
import { reject, type Rejection } from './reasons.js';

export type ActivityType = 'FLIGHT' | 'PARTNER_FLIGHT' | 'PARTNER' | 'HOTEL' | 'REDEMPTION';
export type ActivityStatus = 'POSTED' | 'PARTIAL' | 'REJECTED' | 'PENDING' | 'REVERSED' | 'NOT_CREDITED';

/** An activities row as the jobs read and write it (camelCase of the table's columns). */
export interface ActivityRow {
  id?: number;
  activityKey: string;
  type: ActivityType;
  memberNumber: string | null;
  memberId: number | null;
  activityDate: IsoDate;
  businessDate: IsoDate;
  channel: string | null;
  partnerCode: string | null;
  activityType: string | null;
  serviceType: string | null;
  carrier: string | null;
  flightNumber: string | null;
  origin: string | null;
  destination: string | null;
  cabin: string | null;
  bookedClass: string | null;
  flownClass: string | null;
  ticketNumber: string | null;
  couponNumber: number | null;
  couponStatus: string | null;
  pnr: string | null;
  travelSurname: string | null;
  travelGivenName: string | null;
  seenFtl: boolean;
  seenCoupon: boolean;
  miles: number | null;
  spendMinor: number | null;
  fareMinor: number | null;
  surchargeMinor: number | null;
  taxMinor: number | null;
  spendCurrency: string | null;
  baseSpendMinor: number | null;
  pointsRequested: number | null;
  reversalOfRef: string | null;
  externalRef: string | null;
  status: ActivityStatus;
  reason: string | null;
  /**
   * What the rule that gave `reason` said of this record: the field at fault and its own message
   * (`activity date 2026-11-05 is after the processing date …`), as a reader's reject keeps them.
   * Null when the reason came with no message of its own, or before migration 012.
   */
  reasonField: string | null;
  reasonMessage: string | null;
  points: number;
  statusCredit: number;
  postingKey: string | null;
  statusPostingKey: string | null;
  needsAccrual: boolean;
  ruleVersion: string | null;
  sourceFileId: number | null;
  sourceLine: number | null;
  /** The record's place in an XML document (`SourcePosition.ordinal`); null for other feeds. */
  sourceOrdinal: number | null;
  detail: ActivityDetail | null;
}

/** Where a flight record was read: its file (none in a simulation) and line. */
export interface ReadAt {
  fileId: number | null;
  line: number | null;
}

/** Feed-specific facts kept with an activity for the rules (JSON in the `detail` column). */
export interface ActivityDetail {
  /** Hotel revenue by category: code, exact decimal amount, currency. */
  revenue?: Array<{ category: string; amount: string; currency: string }>;
  promoCode?: string | null;
  /** A hotel stay's `StayInfo/@SequenceNumber` (OpenTravel): how its response names it. */
  sequenceNumber?: number | null;
  locationCode?: string | null;
  /** Redemptions: the reference (ticket/EMD/voucher). */
  reference?: string | null;
  /** FTL: the marketing flight when it differed. */
  marketingFlight?: string | null;
  /**
   * FTL: the operational suffix of the flight (`XX101A`), kept as read. Not part of the flight's identity:
   * revenue accounting reports the coupon as XX101, and both must meet as one activity.
   */
  operationalSuffix?: string;
  /**
   * The posting (`adjustmentKey`) that brought the award to what the coupon's classes give, the FTL having
   * credited the flight first under other classes. A refund of the coupon takes it back with the award.
   */
  adjustedBy?: string;
  /** A coupon on another ticket for an already known flight (`reissueKey`): the flight activity's key. */
  flightActivity?: string;
  /**
   * Such a coupon that came while another coupon of the flight stood as flown: that coupon, as
   * `<ticket>/<coupon>`. It is kept REJECTED as DUPLICATE until no coupon of the flight stands.
   */
  duplicateOf?: string;
  /** On a flight activity: the keys of the coupons on other tickets kept for the same flight. */
  otherCoupons?: string[];
  /**
   * The record that last changed the coupon's status (a refund, void or exchange read after the coupon):
   * the activity keeps the file that first brought it, and its reversal is sourced here instead.
   */
  correctedBy?: ReadAt;
  /**
   * On a flight activity the FTL passenger brought: where its coupon was read once it came. The activity
   * keeps the file of the record that came first; a copy of the other one sent again names its own.
   */
  couponFrom?: ReadAt;
  /** On a flight activity a coupon brought: where its FTL passenger was read once it came. */
  passengerFrom?: ReadAt;
  /** Another program's card presented on our flight (exported in alliance claims). */
  partnerCard?: { program: string; number: string };
  /**
   * Another program's card the flight's other record presented, kept as read: the coupon of a ticket
   * booked on a Lufthansa card whose passenger showed our card at check-in (or the other way round). The
   * flight is credited on our card, and not claimed from that program, which would credit the seat again.
   */
  otherProgramCard?: { program: string; number: string };
  /**
   * On a passenger on another program's card kept NOT_CREDITED DUPLICATE as a seat listed or ticketed
   * before (`seatOf` in jobs/ingest-feeds.ts): that seat's record, which its coupon completes instead.
   */
  seatKey?: string;
  fareBasis?: string | null;
  /**
   * A coupon's operating carrier. The activity's `carrier` is that of the flight it is keyed by, which is
   * the marketing one when the coupon completed an FTL listed under the marketing flight: kept here so
   * that whether the flight is one of the program's own still reads the carrier that operated it.
   */
  operatingCarrier?: string | null;
  marketingCarrier?: string | null;
  marketingFlightNumber?: string | null;
  /**
   * A codeshare coupon: the key its passenger has when the DCS listed the flight under the marketing
   * flight (one FTL per marketing carrier), so the coupon can find that FTL passenger.
   */
  marketingKey?: string;
}

// ------------------------------------------------------------------------------------------------ keys

/** Flight numbers compare without zero padding: the DCS writes 0302, revenue accounting 302. */
export function normaliseFlightNumber(n: string): string {
  const m = /^0*(\d+)([A-Z]?)$/.exec(n.trim().toUpperCase());
  return m ? `${m[1] === '' ? '0' : m[1]}${m[2]}` : n.trim().toUpperCase();
}

export function flightKey(
  f: { carrier: string; number: string; date: IsoDate; origin: string; destination: string },
  card: { program: string; number: string },
): string {
  return `FLT:${f.carrier}${normaliseFlightNumber(f.number)}:${f.date}:${f.origin}-${f.destination}:${card.program}:${card.number}`;
}

/**
 * The card number a flight activity's key was made from (`flightKey`, and the keys derived from it), or
 * null for another kind of key: what the flight's FTL passenger or coupon presented, whoever it credits.
 */
export function cardOfFlightKey(activityKey: string): string | null {
  return activityKey.startsWith('FLT:') ? (activityKey.split(':')[5] ?? null) : null;
}

export const couponKey = (ticket: string, coupon: number) => `CPN:${ticket}:${coupon}`;

/**
 * The identity of a flight's coupon on another ticket once the flight's activity already holds a coupon
 * (a reissue after an exchange, or a second coupon for the same seat). It cannot share the flight's key:
 * the postings of the first coupon (and their reversal) already own the keys that key derives, and the
 * ledger answers a known key with the original posting, so the reissue's credit would never be made.
 * Derived from the ticket and coupon, so a rerun finds the same activity.
 */
export const reissueKey = (flightActivityKey: string, ticket: string, coupon: number) =>
  `${flightActivityKey}:${ticket}/${coupon}`;
/**
 * The identity a retro-claim's credit of a flight takes when the flight's own credit was made and taken
 * back (an FTL credit refused for its coupon's name, the ticket another passenger's): that credit and its
 * reversal own the keys the flight's key derives, and the ledger answers a known key with the original
 * posting, so the claim's credit would never be made. Derived from the claim id, which one claim holds,
 * so a night run again finds the same postings.
 */
export const claimCreditKey = (flightActivityKey: string, claimId: string) =>
  `${flightActivityKey}:CLAIM:${claimId}`;
/**
 * Why a second coupon for a flight is kept REJECTED DUPLICATE (`ActivityDetail.duplicateOf`, as
 * `<ticket>/<coupon>`): ingest keeps it with the activity, the simulator and `files show` say it alike.
 */
export const standingCouponMessage = (coupon: string) =>
  `coupon ${coupon} stands as flown for the same flight and card`;

/**
 * Why a flight record is kept REJECTED DUPLICATE as the seat a credit of the member's route and day was
 * already made for: a second listing without a ticket to tell it apart (accrue), or a listing under the
 * marketing flight of a coupon whose flight already has its passenger (ingest), credited or taken back.
 */
export const creditedSameFlightMessage = (
  r: Pick<ActivityRow, 'memberNumber' | 'origin' | 'destination' | 'activityDate'>,
) => `${r.memberNumber} was already credited for ${r.origin}-${r.destination} on ${r.activityDate}`;

/** A partner-airline claim as its partner names it in a message: its sender and claim id (`LH claim LH-1`). */
export const claimName = (a: Pick<ActivityRow, 'partnerCode' | 'externalRef' | 'activityKey'>) =>
  [a.partnerCode, 'claim', a.externalRef ?? a.activityKey].filter((p) => p !== null).join(' ');

/** The flight a partner-airline claim credits, whichever partner claims it and under whichever claim id. */
export const claimedFlight = (
  a: Pick<
    ActivityRow,
    'memberNumber' | 'activityDate' | 'carrier' | 'flightNumber' | 'origin' | 'destination'
  >,
) => [a.memberNumber, a.activityDate, a.carrier, a.flightNumber, a.origin, a.destination].join('|');

/** Why a claim is refused DUPLICATE: `first` (its `claimName`) credited the member for that flight already. */
export const claimedBeforeMessage = (
  a: Pick<
    ActivityRow,
    'memberNumber' | 'activityDate' | 'carrier' | 'flightNumber' | 'origin' | 'destination' | 'externalRef'
  >,
  first: string,
) =>
  `claim ${a.externalRef}: flight ${a.carrier}${a.flightNumber} ${a.origin}-${a.destination} of ${a.activityDate} was already claimed for member ${a.memberNumber} as ${first}`;

/**
 * Why a passenger on another program's card is kept NOT_CREDITED DUPLICATE, never claimed: the seat of
 * `seat`, a record of the card's route and day (or the ticket on our card it was shown for), claimed from
 * the partner, to be claimed, or credited here once already.
 */
export const listedSeatMessage = (
  r: Pick<ActivityRow, 'origin' | 'destination' | 'activityDate' | 'detail'>,
  seat: string,
) =>
  `${r.detail?.partnerCard?.program} card ${r.detail?.partnerCard?.number} was already listed or ticketed for ` +
  `${r.origin}-${r.destination} on ${r.activityDate} (${seat}): not claimed again`;

/**
 * What the rule said of a refused activity: the message kept with it, else, for a second coupon decided
 * before its message was kept (migration 012), the coupon that stands.
 */
export function ruleMessage(
  reason: string | null,
  message: string | null | undefined,
  detail: Pick<ActivityDetail, 'duplicateOf'> | null | undefined,
): string | null {
  if (message !== null && message !== undefined) return message;
  return reason === 'DUPLICATE' && detail?.duplicateOf ? standingCouponMessage(detail.duplicateOf) : null;
}
export const partnerKey = (partner: string, txnId: string) => `PTR:${partner}:${txnId}`;
/**
 * A reservation id is the hotel's own: two hotels of a chain number theirs apart, so a stay is known by its
 * hotel and reservation id (`HTL:<partner>:<HotelCode>:<reservation id>`). A stay whose document names no
 * hotel keeps the key every stay had before the hotel was part of it (`HTL:<partner>:<reservation id>`).
 */
export const hotelKey = (partner: string, reservationId: string, hotelCode?: string | null) =>
  hotelCode ? `HTL:${partner}:${hotelCode}:${reservationId}` : `HTL:${partner}:${reservationId}`;

/**
 * The keys an earlier copy of a record may be stored under: its own, and for a stay of a named hotel the
 * key it had before the hotel was part of a stay's key. Activity keys cannot be migrated: a stay's
 * postings derive their idempotency keys from its key, and the ledger holds them for good.
 */
export function earlierCopyKeys(a: ActivityRow): string[] {
  const former = formerStayKey(a);
  return former === undefined ? [a.activityKey] : [a.activityKey, former];
}

/** The keys an earlier copy of a draft's record (or of the record its cancellation names) is found by. */
export function draftCopyKeys(d: Draft | undefined): string[] {
  if (d?.ok) return earlierCopyKeys(d.activity);
  return d?.cancels ? earlierCopyKeys(d.cancels.activity) : [];
}

function formerStayKey(a: ActivityRow): string | undefined {
  const hotel = a.type === 'HOTEL' ? a.detail?.locationCode : null;
  return hotel && a.partnerCode && a.externalRef ? hotelKey(a.partnerCode, a.externalRef) : undefined;
}

/**
 * The copy of a record read before (`byKey` finds what is archived or read earlier in the run): under its
 * own key, else a stay under its former key that is of the same hotel. One of another hotel of the chain is
 * another guest's stay; one that named no hotel was the same stay under the old key, and is taken as it so
 * that nothing is credited twice.
 */
export function earlierCopyOf(
  a: ActivityRow,
  byKey: (key: string) => ActivityRow | undefined,
): ActivityRow | undefined {
  const own = byKey(a.activityKey);
  if (own) return own;
  const former = formerStayKey(a);
  const earlier = former === undefined ? undefined : byKey(former);
  if (!earlier) return undefined;
  const hotel = earlier.detail?.locationCode;
  return hotel === null || hotel === undefined || hotel === a.detail?.locationCode ? earlier : undefined;
}
export const allianceKey = (sender: string, claimId: string) => `PAF:${sender}:${claimId}`;
export const redemptionKey = (id: string) => `RDM:${id}`;
export const cancellationKey = (id: string) => `RDM:${id}:CANCEL`;

/** Posting keys derived from the activity key. */
export const awardPostingKey = (activityKey: string) => `${activityKey}:AWARD`;
export const statusPostingKey = (activityKey: string) => `${activityKey}:STATUS`;
export const reversalKey = (postingKey: string) => `${postingKey}:REV`;
/**
 * The key of the posting that brings a flight's award to what its coupon's classes give, when the FTL
 * credited it first under other classes: derived from the award's key, so a rerun finds it posted.
 */
export const adjustmentKey = (awardKey: string) => `${awardKey}:ADJ`;

/**
 * The cabin of a booking class where no coupon says it (an FTL lists the flown subclass only): the
 * usual airline convention — F/A/P first, J/C/D/I/Z business, W/E/T premium economy is not universal,
 * so only W is taken as premium economy and everything else as economy.
 */
export function cabinOf(rbd: string | null): string | null {
  if (!rbd) return null;
  if ('FAP'.includes(rbd)) return 'F';
  if ('JCDIZR'.includes(rbd)) return 'C';
  if (rbd === 'W') return 'W';
  return 'Y';
}

// ------------------------------------------------------------------------------------------------ drafts

/**
 * A rejected record sent again leaves its first copy under its own id suffixed with the file that
 * brought it (`RB-9-R#812`, `C-9#812`): ids of the feeds never hold `#` (letters, digits and _ . / : -).
 */
export const setAsideId = (id: string, sourceFileId: number | null, fallback: string) =>
  `${id}#${sourceFileId ?? fallback}`;

/** The id as its sender gave it, of a copy set aside or not: what a report or a listing shows. */
export const idAsSent = (id: string) => id.split('#', 1)[0] as string;

/** An activity's reason cleared with what the rule said of it: set back to wait, or to a reason of none. */
export const NO_REASON = { reason: null, reasonField: null, reasonMessage: null } as const;

/** A fresh activity with every optional fact empty; drafts fill in what their feed knows. */
export function blankActivity(
  partial: Pick<ActivityRow, 'activityKey' | 'type' | 'activityDate' | 'businessDate'> & Partial<ActivityRow>,
): ActivityRow {
  return {
    memberNumber: null,
    memberId: null,
    channel: null,
    partnerCode: null,
    activityType: null,
    serviceType: null,
    carrier: null,
    flightNumber: null,
    origin: null,
    destination: null,
    cabin: null,
    bookedClass: null,
    flownClass: null,
    ticketNumber: null,
    couponNumber: null,
    couponStatus: null,
    pnr: null,
    travelSurname: null,
    travelGivenName: null,
    seenFtl: false,
    seenCoupon: false,
    miles: null,
    spendMinor: null,
    fareMinor: null,
    surchargeMinor: null,
    taxMinor: null,
    spendCurrency: null,
    baseSpendMinor: null,
    pointsRequested: null,
    reversalOfRef: null,
    externalRef: null,
    status: 'PENDING',
    reason: null,
    reasonField: null,
    reasonMessage: null,
    points: 0,
    statusCredit: 0,
    postingKey: null,
    statusPostingKey: null,
    needsAccrual: true,
    ruleVersion: null,
    sourceFileId: null,
    sourceLine: null,
    sourceOrdinal: null,
    detail: null,
    ...partial,
  };
}

export type Draft =
  | { ok: true; activity: ActivityRow }
  | {
      ok: false;
      rejection: Rejection;
      /**
       * A hotel stay the hotel says never happened: the activity it would be, by whose key ingest and the
       * simulator find the stay it cancels (`cancellationOf`).
       */
      cancels?: { activity: ActivityRow; resStatus: string };
    };

/**
 * An FTL passenger: credited on the program's own card; with only another program's card it is kept
 * for that program's claims file; with no usable card it is a reject (NO_CARD).
 */
export function ftlDraft(p: FtlPassenger, program: Program, businessDate: IsoDate): Draft {
  const card = p.accrualCard;
  if (!card)
    return {
      ok: false,
      // The line number identifies the passenger; the reject need not repeat the name.
      rejection: reject(
        'NO_CARD',
        'card',
        `passenger ${p.nameIndex} of the name element has no usable FQTV card`,
      ),
    };
  const own = card.own;
  const partner = own ? undefined : program.partnerForProgram(card.program);
  // The operational suffix stays out of the key: the coupon of the same flight carries none, and with it
  // the FTL passenger and the coupon became two activities (the coupon's status credit lost as DUPLICATE,
  // its refund leaving the FTL's miles in place).
  const flight = {
    carrier: p.flight.carrier,
    number: p.flight.number,
    date: p.flight.date,
    origin: p.flight.board,
    destination: p.destination,
  };
  const activity = blankActivity({
    activityKey: flightKey(flight, card),
    type: 'FLIGHT',
    activityDate: p.flight.date,
    businessDate,
    memberNumber: own ? card.number : null,
    channel: own ? 'OWN_FLIGHTS' : null,
    partnerCode: partner?.code ?? null,
    carrier: p.flight.carrier,
    flightNumber: normaliseFlightNumber(flight.number),
    origin: p.flight.board,
    destination: p.destination,
    bookedClass: p.bookedSubclass ?? card.bookedSubclass ?? null,
    flownClass: p.subclass,
    cabin: cabinOf(p.subclass),
    pnr: p.pnr,
    travelSurname: p.surname,
    travelGivenName: p.givenName || null,
    seenFtl: true,
    status: own ? 'PENDING' : 'NOT_CREDITED',
    reason: own ? null : partner ? null : 'NO_AGREEMENT',
    needsAccrual: own,
    externalRef: own ? null : card.number,
    detail: {
      ...(p.marketingFlight
        ? {
            marketingFlight: `${p.marketingFlight.carrier}${p.marketingFlight.number}`,
            marketingCarrier: p.marketingFlight.carrier,
            marketingFlightNumber: p.marketingFlight.number,
          }
        : {}),
      ...(p.flight.suffix ? { operationalSuffix: p.flight.suffix } : {}),
      ...(own ? {} : { partnerCard: { program: card.program, number: card.number } }),
    },
  });
  return { ok: true, activity };
}

/**
 * A flown coupon: own card, another program's card, or none (archived for retro-claims under its ticket,
 * unless ingest finds the FTL passenger of its flight and name: `mergeFlightDrafts`).
 */
export function couponDraft(
  c: FlownCoupon,
  program: Program,
  businessDate: IsoDate,
  minor: (amount: string, currency: string) => number | undefined,
): Draft {
  if (!isCurrencyCode(c.currency))
    return { ok: false, rejection: reject('BAD_CURRENCY', 'currency', `unknown currency ${c.currency}`) };
  const fare = minor(c.fareAmount, c.currency);
  const surcharge = minor(c.carrierSurchargeAmount, c.currency);
  const tax = minor(c.taxAmount, c.currency);
  if (fare === undefined || surcharge === undefined || tax === undefined) {
    // The currency is known, so what cannot be held in minor units is the amount, out of range.
    const [field, text] =
      fare === undefined
        ? ['fare_amount', c.fareAmount]
        : surcharge === undefined
          ? ['carrier_surcharge_amount', c.carrierSurchargeAmount]
          : ['tax_amount', c.taxAmount];
    return {
      ok: false,
      rejection: reject(
        'BAD_AMOUNT',
        field,
        `${text} ${c.currency} is out of range: too large to hold in minor units`,
      ),
    };
  }
  const flight = {
    carrier: c.operatingCarrier,
    number: c.operatingFlight,
    date: c.flightDate,
    origin: c.origin,
    destination: c.destination,
  };
  const ownCard = c.ffpNumber !== null && c.ffpCarrier !== null && c.ffpCarrier === program.code;
  const partnerCard = !ownCard && c.ffpNumber !== null && c.ffpCarrier !== null;
  const partner = partnerCard ? program.partnerForProgram(c.ffpCarrier!) : undefined;
  const key =
    ownCard || partnerCard
      ? flightKey(flight, { program: c.ffpCarrier!, number: c.ffpNumber! })
      : couponKey(c.ticketNumber, c.couponNumber);
  const codeshare =
    c.marketingCarrier !== c.operatingCarrier ||
    normaliseFlightNumber(c.marketingFlight) !== normaliseFlightNumber(c.operatingFlight);
  const marketingKey =
    (ownCard || partnerCard) && codeshare
      ? flightKey(
          { ...flight, carrier: c.marketingCarrier, number: c.marketingFlight },
          { program: c.ffpCarrier!, number: c.ffpNumber! },
        )
      : undefined;
  const activity = blankActivity({
    activityKey: key,
    type: 'FLIGHT',
    activityDate: c.flightDate,
    businessDate,
    memberNumber: ownCard ? c.ffpNumber : null,
    channel: ownCard ? 'OWN_FLIGHTS' : null,
    partnerCode: partner?.code ?? null,
    carrier: c.operatingCarrier,
    flightNumber: normaliseFlightNumber(c.operatingFlight),
    origin: c.origin,
    destination: c.destination,
    cabin: c.cabin,
    bookedClass: c.bookedRbd,
    flownClass: c.flownRbd,
    ticketNumber: c.ticketNumber,
    couponNumber: c.couponNumber,
    couponStatus: c.couponStatus,
    pnr: c.pnr,
    travelSurname: c.passengerSurname,
    travelGivenName: c.passengerGivenName,
    seenCoupon: true,
    spendMinor: fare + surcharge + tax,
    fareMinor: fare,
    surchargeMinor: surcharge,
    taxMinor: tax,
    spendCurrency: c.currency,
    externalRef: ownCard ? null : c.ffpNumber,
    status: ownCard ? 'PENDING' : 'NOT_CREDITED',
    reason: ownCard ? null : partnerCard ? (partner ? null : 'NO_AGREEMENT') : 'NO_CARD',
    needsAccrual: ownCard,
    detail: {
      fareBasis: c.fareBasis,
      operatingCarrier: c.operatingCarrier,
      marketingCarrier: c.marketingCarrier,
      marketingFlightNumber: c.marketingFlight,
      ...(marketingKey ? { marketingKey } : {}),
      ...(partnerCard ? { partnerCard: { program: c.ffpCarrier!, number: c.ffpNumber! } } : {}),
    },
  });
  return { ok: true, activity };
}

export function partnerDraft(
  r: PartnerActivity,
  partnerCode: string,
  businessDate: IsoDate,
  minor: (amount: string, currency: string) => number | undefined,
): Draft {
  let spend: number | null = null;
  if (r.spendAmount !== null) {
    if (!r.currency)
      return {
        ok: false,
        rejection: reject('BAD_CURRENCY', 'currency', 'a spend amount without its currency'),
      };
    if (!isCurrencyCode(r.currency))
      return { ok: false, rejection: reject('BAD_CURRENCY', 'currency', `unknown currency ${r.currency}`) };
    const m = minor(r.spendAmount, r.currency);
    // A known currency whose amount cannot be held is an amount out of range (partner-accrual.md: BAD_AMOUNT).
    if (m === undefined)
      return {
        ok: false,
        rejection: reject(
          'BAD_AMOUNT',
          'spend_amount',
          `${r.spendAmount} ${r.currency} is out of range: too large to hold in minor units`,
        ),
      };
    spend = m;
  }
  return {
    ok: true,
    activity: blankActivity({
      activityKey: partnerKey(partnerCode, r.partnerTxnId),
      type: 'PARTNER',
      activityDate: r.activityDate,
      businessDate,
      memberNumber: r.memberNumber,
      channel: `PARTNER:${partnerCode}`,
      partnerCode,
      activityType: r.activityType,
      travelSurname: r.surname,
      travelGivenName: r.givenName,
      spendMinor: spend,
      spendCurrency: r.currency,
      pointsRequested: r.pointsRequested,
      reversalOfRef: r.reversalOf,
      externalRef: r.partnerTxnId,
      detail: { promoCode: r.promoCode, locationCode: r.locationCode },
    }),
  };
}

/** OpenTravel's Total Revenue category (RVC 17): its SummaryAmount totals the stay's other categories. */
const TOTAL_REVENUE = '17';

/**
 * The first revenue category whose details do not add up, in its own currency and exactly, to its
 * `SummaryAmount` (ota-hotel-stay.md: the total is a cross-check). The Total Revenue category sends no
 * details of its own (OpenTravel's sample, our partners' files): it is checked against all the stay's.
 * Any other category with a summary and no details has nothing to add up and is taken as sent.
 */
function summaryMismatch(s: HotelStay): Rejection | undefined {
  for (const summary of s.summaries) {
    const own = s.revenue.filter((r) => r.category === summary.category);
    const details = own.length > 0 ? own : summary.category === TOTAL_REVENUE ? s.revenue : [];
    if (details.length === 0) continue;
    const where =
      summary.category === undefined
        ? 'RevenueCategory/SummaryAmount'
        : `RevenueCategory[@RevenueCategoryCode="${summary.category}"]/SummaryAmount`;
    // A reject's field holds 64 characters: any OpenTravel code fits; the message names a longer one.
    const field = where.length <= 64 ? where : 'RevenueCategory/SummaryAmount';
    const stated = `${where} is ${summary.amount} ${summary.currency}`;
    const foreign = details.find((d) => d.currency !== summary.currency);
    if (foreign)
      return reject(
        'BAD_AMOUNT',
        field,
        `${stated}, but its details include ${foreign.amount} ${foreign.currency}`,
      );
    const total = details.reduce((sum, d) => sum.plus(parseAmount(d.amount)), new Decimal(0));
    if (total.equals(parseAmount(summary.amount))) continue;
    const places = Math.max(minorUnitExponent(summary.currency) ?? 0, total.decimalPlaces());
    return reject(
      'BAD_AMOUNT',
      field,
      `${stated}, but its details add up to ${total.toFixed(places)} ${summary.currency}`,
    );
  }
  return undefined;
}

/**
 * OpenTravel's HotelResStatusType values (PMS_ResStatusType and TransactionActionType) that say the guest
 * never stayed, compared without case, spaces, hyphens or underscores (`No-show`, `NoShow`, `NO SHOW`).
 * `PendingCancellation` is not one: the reservation may still be kept.
 */
const NO_STAY_STATUSES: ReadonlySet<string> = new Set([
  'cancel',
  'cancelled',
  'canceled',
  'noshow',
  'requestdenied',
  'unsuccessful',
]);

/** Whether a stay's `HotelReservation/@ResStatus` says it never happened. */
function stayDidNotHappen(resStatus: string | undefined): boolean {
  return resStatus !== undefined && NO_STAY_STATUSES.has(resStatus.toLowerCase().replace(/[\s_-]/g, ''));
}

/** Why a stay the hotel says never happened earns nothing: its refusal's words, and its stay's once settled. */
export const NO_STAY = 'the guest did not stay, and no contract credits a stay that did not happen';

export function hotelDraft(s: HotelStay, partnerCode: string, businessDate: IsoDate): Draft {
  if (!s.memberNumber)
    return { ok: false, rejection: reject('MEMBER_UNKNOWN', 'AccountID', 'the stay names no member') };
  if (!s.reservationId)
    return { ok: false, rejection: reject('MALFORMED', 'ReservationID', 'the stay has no reservation id') };
  if (!s.activityDate)
    return {
      ok: false,
      rejection: reject('MALFORMED', 'Rate/@ExpireDate', 'the stay has no check-out date'),
    };
  const activity = blankActivity({
    activityKey: hotelKey(partnerCode, s.reservationId, s.hotelCode),
    type: 'HOTEL',
    activityDate: s.activityDate,
    businessDate,
    memberNumber: s.memberNumber,
    channel: `PARTNER:${partnerCode}`,
    partnerCode,
    activityType: 'STAY',
    travelSurname: s.surname,
    travelGivenName: s.givenName,
    pointsRequested: s.pointsEarned ?? null,
    externalRef: s.reservationId,
    detail: {
      revenue: s.revenue.map((r) => ({
        category: r.category ?? '',
        amount: r.amount,
        currency: r.currency,
      })),
      locationCode: s.hotelCode ?? null,
      promoCode: s.bonusCode ?? null,
      // The response names the stay by it (`RPH`), not by its position in the file.
      sequenceNumber: s.sequenceNumber ?? null,
    },
  });
  // A cancelled or no-show reservation is no stay: crediting it paid the member, and billed the hotel, for
  // nights never spent. No code of partner-accrual.md says "did not happen"; NO_CONTRACT does say no
  // contract covers the activity, and every hotel contract covers stays.
  if (stayDidNotHappen(s.resStatus))
    return {
      ok: false,
      rejection: reject(
        'NO_CONTRACT',
        'HotelReservation/@ResStatus',
        `reservation ${s.reservationId} is ${s.resStatus}: ${NO_STAY}`,
      ),
      cancels: { activity, resStatus: s.resStatus! },
    };
  // Refused here, as a record, like the parser's unreadable amounts: the hotel reads the figures in its
  // response (an activity's rejection tells it only the code), and nothing of a stay whose own figures
  // disagree is archived to be earned on.
  const mismatch = summaryMismatch(s);
  if (mismatch) return { ok: false, rejection: mismatch };
  return { ok: true, activity };
}

/**
 * The activity an inbound claim is, credited to our member of its number. `program` is our program's
 * code: a claim whose `Member/Program` names another program is for that program's member, who is no
 * member of ours whatever the number (the header says whom the file is for, not whose member each claim
 * is); credited, it paid our member of the same number for another program's passenger.
 */
export function allianceClaimDraft(
  c: AllianceClaim,
  sender: string,
  partnerCode: string,
  businessDate: IsoDate,
  program: string,
): Draft {
  if (c.member.program !== program)
    return {
      ok: false,
      rejection: reject(
        'MEMBER_UNKNOWN',
        'Member/Program',
        `claim ${c.claimId} is for member ${c.member.number} of program ${c.member.program}, not of ${program}: not a member of ours`,
      ),
    };
  const codeshare =
    c.flight.marketingCarrier !== c.flight.operatingCarrier ||
    normaliseFlightNumber(c.flight.marketingFlightNumber) !==
      normaliseFlightNumber(c.flight.operatingFlightNumber);
  return {
    ok: true,
    activity: blankActivity({
      activityKey: allianceKey(sender, c.claimId),
      type: 'PARTNER_FLIGHT',
      activityDate: c.flight.date,
      businessDate,
      memberNumber: c.member.number,
      channel: `PARTNER_AIRLINE:${partnerCode}`,
      partnerCode,
      activityType: 'FLIGHT',
      carrier: c.flight.operatingCarrier,
      flightNumber: normaliseFlightNumber(c.flight.operatingFlightNumber),
      origin: c.flight.origin,
      destination: c.flight.destination,
      cabin: c.flight.cabin ?? null,
      flownClass: c.flight.flownRbd,
      ticketNumber: c.flight.ticketNumber ?? null,
      couponNumber: c.flight.couponNumber ?? null,
      travelSurname: c.member.surname,
      travelGivenName: c.member.givenName ?? null,
      externalRef: c.claimId,
      // Whose seat it is may be the marketing carrier's: a codeshare we market is ours (accrue).
      detail: codeshare
        ? {
            marketingCarrier: c.flight.marketingCarrier,
            marketingFlightNumber: normaliseFlightNumber(c.flight.marketingFlightNumber),
          }
        : null,
    }),
  };
}

export function redemptionDraft(r: Redemption, businessDate: IsoDate): Draft {
  const cancel = r.status === 'CANCELLED';
  return {
    ok: true,
    activity: blankActivity({
      activityKey: cancel ? cancellationKey(r.redemptionId) : redemptionKey(r.redemptionId),
      type: 'REDEMPTION',
      activityDate: r.redemptionDate,
      businessDate,
      memberNumber: r.memberNumber,
      channel: `REDEMPTION:${r.serviceType}`,
      partnerCode: r.partnerCode,
      serviceType: r.serviceType,
      activityType: cancel ? 'CANCEL' : 'ISSUE',
      points: 0,
      pointsRequested: cancel ? r.points : -r.points,
      reversalOfRef: cancel ? r.redemptionId : null,
      externalRef: r.redemptionId,
      detail: { reference: r.reference },
    }),
  };
}
