/**
 * Hotel stays from partners speaking OpenTravel: OTA_HotelStayInfoNotifRQ
 * (namespace http://www.opentravel.org/OTA/2003/05, read as ota-hotel-stay.md describes).
 *
 * One `HotelStay` per `StayInfos/StayInfo`. Decisions the format leaves open, and why:
 *
 * - Member: `LoyaltyPointsAccruals/SelectedLoyalty` (@AccountID, @ProgramCode) names the program the
 *   stay's points are meant for, so it wins whenever one carries an AccountID; only a stay without one falls
 *   back to the guest profiles' `CustLoyalty` (@MembershipID, @ProgramID). Among several candidates the
 *   first one in one of our programs is taken, else the first. A member number without a program cannot be
 *   routed and is rejected.
 * - Own program: the parser marks `own` from the `ownPrograms` option and still yields other programs'
 *   stays, counted in the verdict meta (`otherProgramStays`, `otherPrograms`), so the rules layer can
 *   ignore-and-count them and the numbers tie out. Other programs' stays are validated like ours: a hotel
 *   learns about a broken stay whoever it was for.
 * - Name: from the guest profile that carries the chosen membership, else the primary ResGuest, else the
 *   first profile with a PersonName; the first GivenName. Absent names are not rejected here: name
 *   matching belongs to the rules (NAME_MISMATCH).
 * - Amounts are exact decimal strings in OTA's `Money` form (at most 3 decimals). When `@Amount` has no
 *   decimal point and `@DecimalPlaces` is given, the amount is in minor units (OTA's own example: USD 8500
 *   with DecimalPlaces 2 is 85.00); with a decimal point, DecimalPlaces is informative only.
 * - Stay dates: check-in is the earliest `Rate/@EffectiveDate`, check-out the latest `Rate/@ExpireDate`
 *   over all RoomStays. OpenTravel's sample instance (3 nights, EffectiveDate 18, ExpireDate 21) shows
 *   ExpireDate as the check-out date when `@ExpireDateExclusiveInd` is absent or true; when it is
 *   explicitly false, ExpireDate is the last night and check-out is the day after. The activity date is the
 *   check-out date.
 * - Hotel: `StayInfos/@ChainCode`, `@BrandCode`, `@HotelCode`, on every stay of the StayInfos. ChainCode is
 *   optional in OpenTravel: a stay without one is of the hotel the file is from, which is the first
 *   StayInfos' chain (as the verdict meta gives it) when that names one, else the file name's (the rules'
 *   choice, `hotelStayDraft`). The schema allows one StayInfos; of several, a later one without ChainCode
 *   takes the first one's chain and brand.
 * - `@PointsEarned` is the points the hotel proposes. 0 (however written) proposes none: the stay earns by
 *   its contract, as one without the attribute. A negative value is kept for the rules to refuse.
 * - `ReservationID/@ID` is required: with the StayInfos' `@HotelCode` it is what de-duplication relies on
 *   (a reservation id is the hotel's own; hotels of one chain reuse each other's).
 * - SummaryAmount is carried per category for the rules' cross-check; the parser does not judge it.
 * - `HotelReservation/@ResStatus` is carried as sent: whether it says the stay never happened (cancelled,
 *   no-show) is the rules' judgement (`stayDidNotHappen`), which the simulator shares.
 *
 * Reason codes
 *
 * | level  | code          | when                                                                      |
 * |--------|---------------|---------------------------------------------------------------------------|
 * | record | MALFORMED     | no member number, member without program, no ReservationID/@ID, a date   |
 * |        |               | that is not a date, stay dates missing or check-in after check-out,      |
 * |        |               | SequenceNumber not a positive integer, a member number of one of our      |
 * |        |               | programs over 24 characters, ReservationID/@ID over 64 characters,        |
 * |        |               | StayInfos/@HotelCode over 16 (a stay's key holds it)                      |
 * | record | BAD_AMOUNT    | Amount missing or not an OTA Money value, PointsEarned not an integer     |
 * | record | BAD_CURRENCY  | CurrencyCode missing or not an ISO 4217 code                              |
 * | file   | EMPTY_FILE    | the message holds no StayInfo                                             |
 * | file   | (xml-common)  | TOO_LARGE, BAD_ENCODING, DOCTYPE_FORBIDDEN, NOT_WELL_FORMED, TOO_DEEP, WRONG_DOCUMENT |
 * |        |               | TOO_MANY_ELEMENTS, TOO_MANY_ATTRIBUTES: the document is parsed whole, so its nodes are  |
 * |        |               | bounded (a stay is ~45 elements: 1,000,000 admit ~22,000 stays, far beyond a night)   |
 */
import { addDays, isIsoDate, type IsoDate } from '../lib/dates.js';
import { ConfigError } from '../lib/errors.js';
import { isCurrencyCode } from '../lib/money.js';
import type { FeedParser, ParseEvent, ParseInput } from './types.js';
import {
  attrOf,
  childOf,
  childrenOf,
  descendants,
  parseXmlFeed,
  sourceOf,
  textOf,
  type XmlDocument,
  type XmlElement,
  type XmlFileResult,
  type XmlItem,
  type XmlParseOptions,
} from './xml-common.js';

export const OTA_NS = 'http://www.opentravel.org/OTA/2003/05';
export const HOTEL_ROOT = 'OTA_HotelStayInfoNotifRQ';

export interface HotelRevenue {
  /** `RevenueCategory/@RevenueCategoryCode` (OpenTravel code list RVC); absent when the hotel sends none. */
  category?: string;
  /** Exact decimal string, e.g. `399.00`, `-12.5`. */
  amount: string;
  currency: string;
  transactionDate?: IsoDate;
}

export interface HotelRevenueSummary {
  category?: string;
  amount: string;
  currency: string;
}

export interface HotelStay {
  chainCode?: string;
  brandCode?: string;
  hotelCode?: string;
  /** `StayInfo/@SequenceNumber`, quoted back in the response's warnings. */
  sequenceNumber?: number;
  memberNumber: string;
  program: string;
  /** Whether `program` is one of ours (the `ownPrograms` option). */
  own: boolean;
  memberSource: 'SelectedLoyalty' | 'CustLoyalty';
  /** The points the hotel proposes (`@PointsEarned`); absent when it proposes none, 0 included. */
  pointsEarned?: number;
  bonusCode?: string;
  surname?: string;
  givenName?: string;
  reservationId: string;
  reservationIdType?: string;
  /** `HotelReservation/@ResStatus` as sent (OpenTravel's HotelResStatusType): `Cancelled`, `No-show`, … */
  resStatus?: string;
  revenue: HotelRevenue[];
  summaries: HotelRevenueSummary[];
  checkIn: IsoDate;
  checkOut: IsoDate;
  /** The check-out date. */
  activityDate: IsoDate;
}

export interface HotelParseOptions extends XmlParseOptions {
  /** Program codes that are ours; stays for any other program are marked `own: false`. */
  ownPrograms?: readonly string[];
}

export interface HotelFeedParser extends FeedParser<HotelStay> {
  parse(inputs: ParseInput[], options?: HotelParseOptions): AsyncIterable<ParseEvent<HotelStay>>;
}

// ---------------------------------------------------------------------------------------------------------

class StayProblem extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
    message: string,
    readonly value: string,
  ) {
    super(message);
  }
}

/** Our member numbers are at most 24 characters (the member-number columns hold 25). */
const MAX_MEMBER_NUMBER = 24;
/** OpenTravel's UniqueID/@ID is StringLength1to64. */
const MAX_RESERVATION_ID = 64;
/** OpenTravel's HotelReferenceGroup/@HotelCode is StringLength1to16; a stay's key holds it. */
const MAX_HOTEL_CODE = 16;

const MONEY = /^([+-]?)([0-9]*)(?:\.([0-9]*))?$/;
const MAX_INTEGER_DIGITS = 15;
const MAX_DECIMALS = 3;

/**
 * OTA `Money` (xs:decimal, at most 3 decimals) to a canonical exact decimal string: no plus sign, no
 * superfluous leading zeros, the sender's decimals kept (`1.50` stays `1.50`).
 */
export function parseOtaMoney(raw: string, decimalPlaces?: string): string | null {
  const m = MONEY.exec(raw);
  if (!m) return null;
  const sign = m[1]!;
  let int = m[2]!;
  let frac = m[3];
  if (int === '' && (frac === undefined || frac === '')) return null;
  if (frac === undefined && decimalPlaces !== undefined) {
    if (!/^[0-9]$/.test(decimalPlaces) || Number(decimalPlaces) > MAX_DECIMALS) return null;
    const places = Number(decimalPlaces);
    if (places > 0) {
      const padded = int.padStart(places + 1, '0');
      int = padded.slice(0, padded.length - places);
      frac = padded.slice(padded.length - places);
    }
  }
  if (frac !== undefined && frac.length > MAX_DECIMALS) return null;
  int = int.replace(/^0+(?=[0-9])/, '') || '0';
  if (int.length > MAX_INTEGER_DIGITS) return null;
  const body = frac ? `${int}.${frac}` : int;
  const zero = /^[0.]*$/.test(body);
  return `${sign === '-' && !zero ? '-' : ''}${body}`;
}

/** xs:date, with the optional time-zone suffix the type allows; the calendar date is what counts. */
function parseXsDate(raw: string): IsoDate | null {
  const m = /^([0-9]{4}-[0-9]{2}-[0-9]{2})(?:Z|[+-][0-9]{2}:[0-9]{2})?$/.exec(raw);
  return m && isIsoDate(m[1]!) ? m[1]! : null;
}

function indexed(name: string, index: number, count: number): string {
  return count > 1 ? `${name}[${index + 1}]` : name;
}

interface Membership {
  memberNumber: string;
  program: string;
  source: 'SelectedLoyalty' | 'CustLoyalty';
  element: XmlElement;
  customer?: XmlElement;
  pointsEarned?: string;
  bonusCode?: string;
  field: string;
}

const CUSTOMER_PATH = 'HotelReservation/ResGuests/ResGuest/Profiles/ProfileInfo/Profile/Customer';

function pickMembership(stay: XmlElement, own: ReadonlySet<string>): Membership | undefined {
  const selected = descendants(stay, OTA_NS, 'LoyaltyPointsAccruals/SelectedLoyalty')
    .map((el, i, all): Membership | undefined => {
      const number = attrOf(el, 'AccountID');
      if (number === undefined) return undefined;
      return {
        memberNumber: number,
        program: attrOf(el, 'ProgramCode') ?? '',
        source: 'SelectedLoyalty',
        element: el,
        pointsEarned: attrOf(el, 'PointsEarned'),
        bonusCode: attrOf(el, 'BonusCode'),
        field: `LoyaltyPointsAccruals/${indexed('SelectedLoyalty', i, all.length)}`,
      };
    })
    .filter((m): m is Membership => m !== undefined);
  const candidates =
    selected.length > 0
      ? selected
      : descendants(stay, OTA_NS, CUSTOMER_PATH).flatMap((customer) =>
          childrenOf(customer, OTA_NS, 'CustLoyalty').flatMap((el): Membership[] => {
            const number = attrOf(el, 'MembershipID');
            if (number === undefined) return [];
            return [
              {
                memberNumber: number,
                program: attrOf(el, 'ProgramID') ?? '',
                source: 'CustLoyalty',
                element: el,
                customer,
                field: `${CUSTOMER_PATH}/CustLoyalty`,
              },
            ];
          }),
        );
  return candidates.find((c) => own.has(c.program.toUpperCase())) ?? candidates[0];
}

function pickCustomer(stay: XmlElement, membership: Membership): XmlElement | undefined {
  if (membership.customer) return membership.customer;
  const guests = descendants(stay, OTA_NS, 'HotelReservation/ResGuests/ResGuest');
  const customersOf = (guest: XmlElement) =>
    descendants(guest, OTA_NS, 'Profiles/ProfileInfo/Profile/Customer');
  const all = guests.flatMap(customersOf);
  const holder = all.find((c) =>
    childrenOf(c, OTA_NS, 'CustLoyalty').some((l) => attrOf(l, 'MembershipID') === membership.memberNumber),
  );
  if (holder) return holder;
  const primary = guests.find((g) => ['true', '1'].includes(attrOf(g, 'PrimaryIndicator') ?? ''));
  const named = (list: XmlElement[]) => list.find((c) => childOf(c, OTA_NS, 'PersonName'));
  return (primary && named(customersOf(primary))) ?? named(all);
}

function money(el: XmlElement, field: string): { amount: string; currency: string } {
  const raw = attrOf(el, 'Amount');
  if (raw === undefined)
    throw new StayProblem(`${field}/@Amount`, 'BAD_AMOUNT', `${field}/@Amount is missing`, '');
  const amount = parseOtaMoney(raw, attrOf(el, 'DecimalPlaces'));
  if (amount === null) {
    throw new StayProblem(
      `${field}/@Amount`,
      'BAD_AMOUNT',
      `${field}/@Amount ${JSON.stringify(raw)} is not an amount (decimal, at most ${MAX_INTEGER_DIGITS} digits before the point and ${MAX_DECIMALS} after, DecimalPlaces 0-${MAX_DECIMALS})`,
      raw,
    );
  }
  const currency = attrOf(el, 'CurrencyCode');
  // OTA's AlphaLength3 allows lower case; the code itself must be a current ISO 4217 one.
  if (currency === undefined || !isCurrencyCode(currency.toUpperCase())) {
    throw new StayProblem(
      `${field}/@CurrencyCode`,
      'BAD_CURRENCY',
      currency === undefined
        ? `${field}/@CurrencyCode is missing`
        : `${field}/@CurrencyCode ${JSON.stringify(currency)} is not an ISO 4217 currency code`,
      currency ?? '',
    );
  }
  return { amount, currency: currency.toUpperCase() };
}

function date(el: XmlElement, attribute: string, field: string): IsoDate | undefined {
  const raw = attrOf(el, attribute);
  if (raw === undefined) return undefined;
  const value = parseXsDate(raw);
  if (value === null) {
    throw new StayProblem(
      `${field}/@${attribute}`,
      'MALFORMED',
      `${field}/@${attribute} ${JSON.stringify(raw)} is not a date YYYY-MM-DD`,
      raw,
    );
  }
  return value;
}

function readRevenue(stay: XmlElement): { revenue: HotelRevenue[]; summaries: HotelRevenueSummary[] } {
  const revenue: HotelRevenue[] = [];
  const summaries: HotelRevenueSummary[] = [];
  const categories = descendants(stay, OTA_NS, 'RevenueCategories/RevenueCategory');
  categories.forEach((cat, c) => {
    const catField = `RevenueCategories/${indexed('RevenueCategory', c, categories.length)}`;
    const category = attrOf(cat, 'RevenueCategoryCode');
    const summary = childOf(cat, OTA_NS, 'SummaryAmount');
    if (summary)
      summaries.push({
        ...(category !== undefined ? { category } : {}),
        ...money(summary, `${catField}/SummaryAmount`),
      });
    const details = descendants(cat, OTA_NS, 'RevenueDetails/RevenueDetail');
    details.forEach((detail, d) => {
      const field = `${catField}/RevenueDetails/${indexed('RevenueDetail', d, details.length)}`;
      const transactionDate = date(detail, 'TransactionDate', field);
      revenue.push({
        ...(category !== undefined ? { category } : {}),
        ...money(detail, field),
        ...(transactionDate !== undefined ? { transactionDate } : {}),
      });
    });
  });
  return { revenue, summaries };
}

const RATE_PATH = 'HotelReservation/RoomStays/RoomStay/RoomRates/RoomRate/Rates/Rate';

function readStayDates(stay: XmlElement): { checkIn: IsoDate; checkOut: IsoDate } {
  let checkIn: IsoDate | undefined;
  let checkOut: IsoDate | undefined;
  const rates = descendants(stay, OTA_NS, RATE_PATH);
  rates.forEach((rate, i) => {
    const field = indexed(RATE_PATH, i, rates.length);
    const effective = date(rate, 'EffectiveDate', field);
    const expire = date(rate, 'ExpireDate', field);
    if (effective !== undefined && (checkIn === undefined || effective < checkIn)) checkIn = effective;
    if (expire !== undefined) {
      const inclusive = ['false', '0'].includes(attrOf(rate, 'ExpireDateExclusiveInd') ?? '');
      const out = inclusive ? addDays(expire, 1) : expire;
      if (checkOut === undefined || out > checkOut) checkOut = out;
    }
  });
  if (checkIn === undefined)
    throw new StayProblem(
      `${RATE_PATH}/@EffectiveDate`,
      'MALFORMED',
      'no Rate/@EffectiveDate: check-in date unknown',
      '',
    );
  if (checkOut === undefined)
    throw new StayProblem(
      `${RATE_PATH}/@ExpireDate`,
      'MALFORMED',
      'no Rate/@ExpireDate: check-out date unknown',
      '',
    );
  if (checkIn > checkOut) {
    throw new StayProblem(
      `${RATE_PATH}/@ExpireDate`,
      'MALFORMED',
      `check-out ${checkOut} is before check-in ${checkIn}`,
      `${checkIn}..${checkOut}`,
    );
  }
  return { checkIn, checkOut };
}

interface HotelRef {
  chainCode?: string;
  brandCode?: string;
  hotelCode?: string;
}

const SEQUENCE_NUMBER = /^\+?0*[1-9][0-9]{0,14}$/;

/**
 * A rejected stay's sequence number and reservation id, those that read cleanly: the response names the
 * stay by them.
 */
function identityOf(stay: XmlElement): { recordRef?: string; sequenceNumber?: number } {
  const id = attrOf(childOf(stay, OTA_NS, 'ReservationID'), 'ID');
  const seq = attrOf(stay, 'SequenceNumber');
  return {
    ...(id && id.length <= MAX_RESERVATION_ID ? { recordRef: id } : {}),
    ...(seq !== undefined && SEQUENCE_NUMBER.test(seq) ? { sequenceNumber: Number(seq) } : {}),
  };
}

function readStay(stay: XmlElement, hotel: HotelRef, own: ReadonlySet<string>): HotelStay {
  if (hotel.hotelCode !== undefined && hotel.hotelCode.length > MAX_HOTEL_CODE) {
    throw new StayProblem(
      'StayInfos/@HotelCode',
      'MALFORMED',
      `StayInfos/@HotelCode is ${hotel.hotelCode.length} characters long: OpenTravel allows at most ${MAX_HOTEL_CODE}`,
      hotel.hotelCode,
    );
  }
  const seqRaw = attrOf(stay, 'SequenceNumber');
  if (seqRaw !== undefined && !SEQUENCE_NUMBER.test(seqRaw)) {
    throw new StayProblem(
      '@SequenceNumber',
      'MALFORMED',
      `@SequenceNumber ${JSON.stringify(seqRaw)} is not a positive integer`,
      seqRaw,
    );
  }
  const membership = pickMembership(stay, own);
  if (!membership) {
    throw new StayProblem(
      'LoyaltyPointsAccruals/SelectedLoyalty/@AccountID',
      'MALFORMED',
      'no member number: neither LoyaltyPointsAccruals/SelectedLoyalty/@AccountID nor Profile/Customer/CustLoyalty/@MembershipID',
      '',
    );
  }
  if (membership.program === '') {
    const attribute = membership.source === 'SelectedLoyalty' ? 'ProgramCode' : 'ProgramID';
    throw new StayProblem(
      `${membership.field}/@${attribute}`,
      'MALFORMED',
      `member ${membership.memberNumber} has no @${attribute}: the program it is meant for is unknown`,
      membership.memberNumber,
    );
  }
  const isOwn = own.has(membership.program.toUpperCase());
  // Another program's number is only counted, never stored; ours goes into the archive and the rejects.
  if (isOwn && membership.memberNumber.length > MAX_MEMBER_NUMBER) {
    const attribute = membership.source === 'SelectedLoyalty' ? 'AccountID' : 'MembershipID';
    throw new StayProblem(
      `${membership.field}/@${attribute}`,
      'MALFORMED',
      `@${attribute} of program ${membership.program} is ${membership.memberNumber.length} characters long: a member number has at most ${MAX_MEMBER_NUMBER}`,
      membership.memberNumber,
    );
  }
  let pointsEarned: number | undefined;
  if (membership.pointsEarned !== undefined) {
    if (!/^[+-]?[0-9]{1,8}$/.test(membership.pointsEarned)) {
      throw new StayProblem(
        `${membership.field}/@PointsEarned`,
        'BAD_AMOUNT',
        `@PointsEarned ${JSON.stringify(membership.pointsEarned)} is not a whole number of points`,
        membership.pointsEarned,
      );
    }
    // A proposal of 0 points is no proposal: the stay earns by its contract, as one without the attribute.
    const points = Number(membership.pointsEarned);
    if (points !== 0) pointsEarned = points;
  }
  const reservation = childOf(stay, OTA_NS, 'ReservationID');
  const reservationId = attrOf(reservation, 'ID');
  if (reservationId === undefined) {
    throw new StayProblem(
      'ReservationID/@ID',
      'MALFORMED',
      'ReservationID/@ID is missing: the stay cannot be de-duplicated',
      '',
    );
  }
  if (reservationId.length > MAX_RESERVATION_ID) {
    throw new StayProblem(
      'ReservationID/@ID',
      'MALFORMED',
      `ReservationID/@ID is ${reservationId.length} characters long: OpenTravel allows at most ${MAX_RESERVATION_ID}`,
      reservationId,
    );
  }
  const { revenue, summaries } = readRevenue(stay);
  const { checkIn, checkOut } = readStayDates(stay);
  const customer = pickCustomer(stay, membership);
  const personName = childOf(customer, OTA_NS, 'PersonName');
  const surname = textOf(childOf(personName, OTA_NS, 'Surname'));
  const givenName = textOf(childOf(personName, OTA_NS, 'GivenName'));
  const record: HotelStay = {
    ...hotel,
    memberNumber: membership.memberNumber,
    program: membership.program,
    own: isOwn,
    memberSource: membership.source,
    reservationId,
    revenue,
    summaries,
    checkIn,
    checkOut,
    activityDate: checkOut,
  };
  if (seqRaw !== undefined) record.sequenceNumber = Number(seqRaw);
  if (pointsEarned !== undefined) record.pointsEarned = pointsEarned;
  if (membership.bonusCode !== undefined) record.bonusCode = membership.bonusCode;
  if (surname !== undefined) record.surname = surname;
  if (givenName !== undefined) record.givenName = givenName;
  const reservationType = attrOf(reservation, 'Type');
  if (reservationType !== undefined) record.reservationIdType = reservationType;
  const resStatus = attrOf(childOf(stay, OTA_NS, 'HotelReservation'), 'ResStatus');
  if (resStatus !== undefined) record.resStatus = resStatus;
  return record;
}

function handle(doc: XmlDocument, own: ReadonlySet<string>, file: string): XmlFileResult<HotelStay> {
  const { root } = doc;
  const items: XmlItem<HotelStay>[] = [];
  const otherPrograms = new Map<string, number>();
  let ownStays = 0;
  const groups = childrenOf(root, OTA_NS, 'StayInfos');
  const refOf = (group: XmlElement | undefined): HotelRef => {
    const hotel: HotelRef = {};
    for (const key of ['ChainCode', 'BrandCode', 'HotelCode'] as const) {
      const value = attrOf(group, key);
      if (value !== undefined) hotel[`${key[0]!.toLowerCase()}${key.slice(1)}` as keyof HotelRef] = value;
    }
    return hotel;
  };
  const documentHotel = refOf(groups[0]);
  groups.forEach((group, g) => {
    const hotel = refOf(group);
    // The file is judged by the first StayInfos' chain (`meta.chainCode`): a later one that names none is
    // of that hotel too, not of the chain the file name gives.
    if (hotel.chainCode === undefined && documentHotel.chainCode !== undefined) {
      hotel.chainCode = documentHotel.chainCode;
      if (documentHotel.brandCode !== undefined) hotel.brandCode = documentHotel.brandCode;
      else delete hotel.brandCode;
    }
    const path = `${HOTEL_ROOT}/${indexed('StayInfos', g, groups.length)}/StayInfo`;
    childrenOf(group, OTA_NS, 'StayInfo').forEach((stay, s) => {
      const seq = s + 1;
      try {
        const record = readStay(stay, hotel, own);
        if (record.own) ownStays++;
        else otherPrograms.set(record.program, (otherPrograms.get(record.program) ?? 0) + 1);
        items.push({ kind: 'record', element: stay, path, seq, record });
      } catch (error) {
        if (!(error instanceof StayProblem)) throw error;
        items.push({
          kind: 'reject',
          element: stay,
          path,
          seq,
          field: error.field,
          reason: error.reason,
          message: error.message,
          text: error.value === '' ? sourceOf(doc, stay) : error.value,
          ...identityOf(stay),
        });
      }
    });
  });
  const otherProgramStays = [...otherPrograms.values()].reduce((a, b) => a + b, 0);
  const meta: Record<string, unknown> = {
    stays: items.length,
    ownStays,
    otherProgramStays,
    otherPrograms: Object.fromEntries([...otherPrograms].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    rejectedStays: items.length - ownStays - otherProgramStays,
  };
  const copyAttributes = (element: Parameters<typeof attrOf>[0], keys: readonly string[]) => {
    for (const key of keys) {
      const value = attrOf(element, key);
      if (value !== undefined) meta[`${key[0]!.toLowerCase()}${key.slice(1)}`] = value;
    }
  };
  copyAttributes(root, ['TimeStamp', 'Version', 'Target']);
  const echo = echoTokenOf(root, file);
  if ('token' in echo) meta.echoToken = echo.token;
  else if (echo.warning) meta.warnings = [echo.warning];
  // Which hotel the document is from, though none of its stays be read: the response goes to its partner.
  Object.assign(meta, documentHotel);
  if (items.length === 0) {
    return { items, refusal: { reason: 'EMPTY_FILE', message: 'the message holds no StayInfo' }, meta };
  }
  return { items, meta };
}

/** OpenTravel's StringLength1to128, the type of `EchoToken`. */
export const ECHO_TOKEN_MAX = 128;

/**
 * The request's `EchoToken` as sent, untrimmed: the response must carry "an identical value"
 * (OTA_PayloadStdAttributes). One OpenTravel's type does not admit (empty, over 128 characters) could not
 * be echoed in a valid response: it is not kept, and the night says so.
 */
function echoTokenOf(root: XmlElement, file: string): { token: string } | { warning?: string } {
  const value = root.attrs.get('EchoToken');
  if (value === undefined) return {};
  const length = [...value].length;
  if (length >= 1 && length <= ECHO_TOKEN_MAX) return { token: value };
  return {
    warning: `${file}: its EchoToken of ${length} characters is not echoed in the response (OpenTravel allows 1 to ${ECHO_TOKEN_MAX})`,
  };
}

/**
 * A hotel parser; `ownPrograms` can be fixed here (for a registry that passes only ParseOptions) or given
 * per call. Without it the parser cannot tell our members from others' and refuses to run: that is a
 * configuration fault, not a property of any file.
 */
export function createHotelParser(defaults: { ownPrograms?: readonly string[] } = {}): HotelFeedParser {
  return {
    feed: 'hotel',
    parse(inputs: ParseInput[], options: HotelParseOptions = {}): AsyncIterable<ParseEvent<HotelStay>> {
      const programs = options.ownPrograms ?? defaults.ownPrograms;
      if (programs === undefined || programs.length === 0) {
        throw new ConfigError('the hotel feed needs ownPrograms: the program codes whose stays are ours', [
          { path: 'ownPrograms', message: 'missing or empty' },
        ]);
      }
      const own = new Set(programs.map((p) => p.trim().toUpperCase()));
      return parseXmlFeed(
        {
          feed: 'hotel',
          root: { ns: OTA_NS, name: HOTEL_ROOT },
          handle: (doc, input) => handle(doc, own, input.name),
        },
        inputs,
        options,
      );
    },
  };
}

export const hotelParser: HotelFeedParser = createHotelParser();
