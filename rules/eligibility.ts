/**
 * Eligibility: may this activity be credited to this member? Each failure is a rejection with its reason
 * code and the field at fault; the first failure wins, in the order a revenue accountant would check.
 */
import type { MemberNumberRule } from './check-digit.js';
import { validateMemberNumber } from './check-digit.js';
import { addDays, type IsoDate } from '../lib/dates.js';
import { normaliseFlightNumber, type ActivityDetail, type ActivityType } from './activity.js';
import { nameMatches, type NameMatchReason } from './names.js';
import type { Program } from './program.js';
import { reject, type Rejection } from './reasons.js';

/** What eligibility needs to know about a member (loaded in bulk by the jobs). */
export interface MemberFacts {
  id: number;
  number: string;
  status: 'ACTIVE' | 'INCOMPLETE' | 'SUSPENDED' | 'CLOSED' | 'MERGED';
  mergedInto: string | null;
  /** The business date of the night that read the account's closure or merge (null: open). */
  closedOn: IsoDate | null;
  enrolmentDate: IsoDate | null;
  surname: string | null;
  givenName: string | null;
  surnameLocal: string | null;
  givenNameLocal: string | null;
  /** Erased (retention, `member forget`): the names held are tokens, which no travelled name matches. */
  erased: boolean;
  tier: string;
  /** The date the member's tier became what it is (enrolment, or the night of the last change). */
  tierSince: IsoDate | null;
  poolCode: string | null;
  /** The night the members feed put the member in `poolCode`, moving her own open points there (null: in
   * no pool, or in it from before anything recorded). */
  poolSince: IsoDate | null;
  /** The pools the member has left, each with the days they were in it: from `since` (null: from before
   * anything recorded) up to, not including, `until`. */
  pastPools: ReadonlyArray<{ code: string; since: IsoDate | null; until: IsoDate }>;
  /** Names the feed changed since, each with the last day it was in force (members who have any). */
  formerNames?: FormerName[];
}

export interface FormerName {
  surname: string | null;
  givenName: string | null;
  surnameLocal: string | null;
  givenNameLocal: string | null;
  validUntil: IsoDate;
}

/**
 * Whether `day` was one of a stay in a pool the member has left: what they earned or redeemed then was
 * that pool's, and so were the pool's expiries of that night.
 */
export function inPoolOn(
  stay: Pick<MemberFacts['pastPools'][number], 'since' | 'until'>,
  day: IsoDate,
): boolean {
  return (stay.since === null || stay.since <= day) && day < stay.until;
}

/** The member number itself: its shape and check digit (before looking anything up). */
export function checkMemberNumber(number: string, rule: MemberNumberRule): Rejection | undefined {
  const r = validateMemberNumber(number, rule);
  if (r.valid) return undefined;
  return r.reason === 'CHECK_DIGIT'
    ? reject('CHECK_DIGIT', 'member_number', `member number ${number} fails the check digit`)
    : reject('MEMBER_UNKNOWN', 'member_number', `member number ${number} is not a number of this program`);
}

/** Known, open, active, and enrolled on or before the activity date. */
export function checkMember(
  number: string,
  member: MemberFacts | undefined,
  activityDate: IsoDate,
): Rejection | undefined {
  if (!member) return reject('MEMBER_UNKNOWN', 'member_number', `no member ${number}`);
  if (member.status === 'MERGED') {
    return reject(
      'ACCOUNT_CLOSED',
      'member_number',
      `account ${number} was merged into ${member.mergedInto ?? 'another account'}`,
    );
  }
  if (member.status === 'CLOSED')
    return reject('ACCOUNT_CLOSED', 'member_number', `account ${number} is closed`);
  if (member.status !== 'ACTIVE') {
    return reject('MEMBER_INACTIVE', 'member_number', `account ${number} is ${member.status.toLowerCase()}`);
  }
  if (member.enrolmentDate && member.enrolmentDate > activityDate) {
    return reject(
      'NOT_ENROLLED',
      'activity_date',
      `activity on ${activityDate} precedes enrolment on ${member.enrolmentDate}`,
    );
  }
  return undefined;
}

/**
 * Whose name a record carries, as the one who reads its rejection says it. A flight's goes nowhere but
 * the registry and keeps the matcher's own code for the accountants; every other record's is read by
 * the partner that sent it (responses, alliance results), who knows neither "as travelled" for a hotel
 * guest nor the matcher's codes: its words say which part differs, and the field at fault (`surname`
 * or `given_name`) tells the accountants the same.
 */
const NAME_HOLDER: Partial<Record<ActivityType, { surname: string; givenName: string; name: string }>> = {
  HOTEL: { surname: "the guest's surname", givenName: "the guest's given name", name: "the guest's name" },
  PARTNER: {
    surname: 'the surname on the record',
    givenName: 'the given name on the record',
    name: 'the name on the record',
  },
  PARTNER_FLIGHT: {
    surname: 'the surname as travelled',
    givenName: 'the given name as travelled',
    name: 'the name as travelled',
  },
};

function nameMismatchText(type: ActivityType, reason: NameMatchReason | undefined): string {
  const holder = NAME_HOLDER[type];
  // Rejects are read by operators and kept for months: the reason is enough, the names stay out.
  if (!holder) return `the name as travelled does not match the member's (${reason})`;
  if (reason === 'GIVEN_NAME_MISMATCH') return `${holder.givenName} does not match the member's`;
  if (reason === 'NO_SURNAME') return `${holder.name} holds no surname to match the member's`;
  return `${holder.surname} does not match the member's`;
}

/**
 * The name a record carries belongs to the member (see rules/names.ts for what is forgiven): their name
 * now, or one they held on the activity's date, which a record arriving after the feed changed it carries.
 */
export function checkName(
  travelled: { surname: string; givenName?: string | null },
  member: MemberFacts,
  type: ActivityType,
  activityDate: IsoDate,
): Rejection | undefined {
  // Erased, the member holds only tokens (their former names gone), which no travelled name matches;
  // never given, there is no name: either way the number alone identifies the account.
  if (member.erased || !member.surname) return undefined;
  const matches = (held: Omit<FormerName, 'validUntil'>) =>
    nameMatches(
      { surname: travelled.surname, givenName: travelled.givenName ?? undefined },
      {
        surname: held.surname ?? '',
        givenName: held.givenName ?? '',
        surnameLocal: held.surnameLocal ?? undefined,
        givenNameLocal: held.givenNameLocal ?? undefined,
      },
    );
  const m = matches(member);
  if (m.matches) return undefined;
  for (const former of member.formerNames ?? [])
    if (former.surname && activityDate <= former.validUntil && matches(former).matches) return undefined;
  // The reason is the current name's: the one the member would recognise and the accountants can look up.
  return reject(
    'NAME_MISMATCH',
    m.reason === 'GIVEN_NAME_MISMATCH' ? 'given_name' : 'surname',
    nameMismatchText(type, m.reason),
  );
}

/**
 * Local dates run up to fourteen hours ahead of UTC: a flight that left Tokyo this morning is dated
 * tomorrow by the clock that stamped its file's arrival. A record may be dated this many days after the
 * day its file came in without being in the future.
 */
export const DAYS_AHEAD_OF_RECEIPT = 1;

/**
 * An activity dated after the night being processed waits for the night of its date when its file
 * could have carried it: came in on that date, or up to a day before (DAYS_AHEAD_OF_RECEIPT). That is a
 * night caught up after an outage, whose fetch lands the files of the nights after it, and a file that
 * carries the morning after its night. Dated later still, it is in the future (FUTURE_DATE).
 */
export function waitsForItsNight(activityDate: IsoDate, businessDate: IsoDate, receivedOn: IsoDate): boolean {
  return activityDate > businessDate && activityDate <= addDays(receivedOn, DAYS_AHEAD_OF_RECEIPT);
}

/** Why a date (`what` names it) is in the future: after the night, and after its file could carry it. */
function afterTheNight(what: string, date: IsoDate, businessDate: IsoDate, receivedOn?: IsoDate): string {
  const late =
    receivedOn === undefined
      ? ''
      : ` and more than ${DAYS_AHEAD_OF_RECEIPT === 1 ? 'a day' : `${DAYS_AHEAD_OF_RECEIPT} days`} after its file came in (${receivedOn})`;
  return `${what} ${date} is after the processing date ${businessDate}${late}`;
}

/**
 * A missing-credit request said to be made after the night that reads it is in the future, as an
 * activity is (FUTURE_DATE), and by the same measure: a request dated the day after its file came in (by
 * a clock ahead of UTC), or read by a night caught up after an outage from a file that came in later, is
 * not. A year mistyped ahead would otherwise reach the claim window's test and be refused as late.
 */
export function requestInTheFuture(
  receivedDate: IsoDate,
  businessDate: IsoDate,
  receivedOn: IsoDate,
): Rejection | undefined {
  if (receivedDate <= businessDate || waitsForItsNight(receivedDate, businessDate, receivedOn))
    return undefined;
  return reject(
    'FUTURE_DATE',
    'received_date',
    `${afterTheNight('received date', receivedDate, businessDate, receivedOn)}: a request cannot be made after the night that reads it`,
  );
}

/**
 * Not in the future, and not older than the claim window (days before the business date). `receivedOn`,
 * the day the activity's file came in, lets a FUTURE_DATE say why the activity could not wait for its
 * night (waitsForItsNight).
 */
export function checkWindow(
  activityDate: IsoDate,
  businessDate: IsoDate,
  windowDays: number,
  receivedOn?: IsoDate,
): Rejection | undefined {
  if (activityDate > businessDate)
    return reject(
      'FUTURE_DATE',
      'activity_date',
      afterTheNight('activity date', activityDate, businessDate, receivedOn),
    );
  const oldest = addDays(businessDate, -windowDays);
  if (activityDate < oldest) {
    return reject(
      'OUT_OF_WINDOW',
      'activity_date',
      `activity date ${activityDate} is older than the ${windowDays}-day claim window (from ${oldest})`,
    );
  }
  return undefined;
}

/** What an archived flight tells of whose it is (an activity row, as accrue and the claims exporter read it). */
export interface FlightCarrierFacts {
  /** The carrier and number the activity is keyed by: the coupon's operating flight, or the FTL's flight. */
  carrier: string | null;
  flightNumber: string | null;
  seenCoupon: boolean;
  /** A coupon's operating carrier, kept when it completed an FTL listed under the marketing flight. */
  operatingCarrier?: string | null;
  /** The marketing flight: the coupon's, or the FTL's `.M/`. */
  marketing: { carrier: string; number: string } | null;
}

/**
 * The marketing flight an archived flight carries: the coupon's, or the FTL's `.M/`; rows archived before
 * the carrier and number were kept apart hold it as one designator (`marketingFlight`, `LH1446`).
 */
export function marketingOf(
  d: ActivityDetail | null | undefined,
): { carrier: string; number: string } | null {
  if (!d) return null;
  if (d.marketingCarrier && d.marketingFlightNumber)
    return { carrier: d.marketingCarrier, number: d.marketingFlightNumber };
  const m = d.marketingFlight ? /^([A-Z0-9]{2})([0-9]{1,5}[A-Z]?)$/.exec(d.marketingFlight) : null;
  return m ? { carrier: m[1]!, number: m[2]! } : null;
}

/** What an archived flight tells of whose it is: accrue, the claims export and the simulator read it alike. */
export function carrierFactsOf(row: {
  carrier: string | null;
  flightNumber: string | null;
  seenCoupon: boolean;
  detail: ActivityDetail | null;
}): FlightCarrierFacts {
  return {
    carrier: row.carrier,
    flightNumber: row.flightNumber,
    seenCoupon: row.seenCoupon,
    operatingCarrier: row.detail?.operatingCarrier,
    marketing: marketingOf(row.detail),
  };
}

/**
 * An own flight (an FTL passenger, a flown coupon) earns on the program's own chart, and is claimed from
 * a partner for that partner's card, only when one of the program's own carriers (`program.carriers`)
 * operated or marketed it: a codeshare we market is ours, and so is a flight we operate under another
 * airline's number. Any other airline's flight earns through that airline's claim on the partner chart
 * (alliance-accrual.md); crediting its coupon too would credit the flight twice, and claiming it from
 * that airline would ask it to pay for its own flight.
 *
 * The carriers that say whose flight it is: once a coupon was seen, its operating and marketing carriers;
 * before, the FTL's flight and its `.M/` marketing flight. An FTL passenger without a `.M/` of its own and
 * no coupon yet is ours: ftl.md has the DCS list a flight we operate under a marketing flight (one FTL per
 * marketing carrier), with `.M/` only when the marketing flight differs, and the FTL is our DCS's list of
 * the flights we operate (until a coupon says whose).
 */
export function notOwnFlight(
  f: FlightCarrierFacts,
  program: Pick<Program, 'carriers' | 'isOwnCarrier'>,
): Rejection | undefined {
  let carriers: Array<string | null | undefined>;
  if (f.seenCoupon) carriers = [f.carrier, f.operatingCarrier, f.marketing?.carrier];
  else if (
    f.marketing &&
    !(f.marketing.carrier === f.carrier && normaliseFlightNumber(f.marketing.number) === f.flightNumber)
  )
    carriers = [f.carrier, f.marketing.carrier];
  else return undefined;
  const known = [...new Set(carriers.filter((c): c is string => typeof c === 'string' && c !== ''))];
  if (known.some((c) => program.isOwnCarrier(c))) return undefined;
  return reject(
    'NOT_OWN_FLIGHT',
    'carrier',
    `${f.carrier ?? ''}${f.flightNumber ?? ''} is operated and marketed by ${known.join(' and ') || 'no known carrier'}, not by one of the program's own carriers (${[...program.carriers].join(', ')}): the flight earns through its airline's claim`,
  );
}
