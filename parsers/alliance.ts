/**
 * Partner-airline accrual claims and results in the project's own XML interface,
 * schemas/redeye-alliance-1.0.xsd (namespace `urn:redeye:alliance:1.0`, roots `AccrualClaims` and
 * `AccrualResults`).
 *
 * The field rules below are the XSD's, written once in TypeScript and shared with the writer
 * (exporters/alliance-xml.ts): whatever the writer accepts, the schema accepts and this parser reads back
 * unchanged. The parser is a little more lenient than the schema in one way only: it trims XML white space
 * around element text and does not insist on element order, because being strict there protects nothing.
 *
 * Reason codes
 *
 * | level  | code                   | when                                                                  |
 * |--------|------------------------|-----------------------------------------------------------------------|
 * | record | MALFORMED              | a required element is missing or repeated, or a value breaks its rule |
 * | record | DUPLICATE              | a claim id (or result claim id) repeats within the file               |
 * | file   | BAD_HEADER             | FileHeader missing or invalid (results: answered file inconsistent)   |
 * | file   | BAD_TRAILER            | Control element or its count missing or invalid                       |
 * | file   | CONTROL_TOTAL_MISMATCH | the control count differs from the number of Claim/Result elements    |
 * | file   | (xml-common)           | TOO_LARGE, EMPTY_FILE, BAD_ENCODING, DOCTYPE_FORBIDDEN, NOT_WELL_FORMED, TOO_DEEP, TOO_MANY_ELEMENTS, TOO_MANY_ATTRIBUTES, WRONG_DOCUMENT |
 *
 * A file refused at file level still lists its records and rejects before the `rejected` verdict (the
 * contract: consumers stage records until the verdict), so operators see everything that was wrong.
 */
import { isIsoDate, type IsoDate } from '../lib/dates.js';
import { FLIGHT_NUMBER_RE, FLIGHT_NUMBER_TEXT } from './csv-common.js';
import {
  MAX_INTEGER_COLUMN,
  type FeedParser,
  type ParseEvent,
  type ParseInput,
  type ParseOptions,
} from './types.js';
import {
  childOf,
  childrenOf,
  parseXmlFeed,
  sourceOf,
  textOf,
  type XmlDocument,
  type XmlElement,
  type XmlFileResult,
  type XmlItem,
} from './xml-common.js';

/** Version 1.0 of the interface; a later version gets a new URI, so an old reader refuses it as WRONG_DOCUMENT. */
export const ALLIANCE_NS = 'urn:redeye:alliance:1.0';
export const CLAIMS_ROOT = 'AccrualClaims';
export const RESULTS_ROOT = 'AccrualResults';

/** Record-level reason codes of partner-accrual.md: the only codes a Rejected result may carry. */
export const ALLIANCE_REASON_CODES = [
  'MEMBER_UNKNOWN',
  'CHECK_DIGIT',
  'NAME_MISMATCH',
  'ACCOUNT_CLOSED',
  'DUPLICATE',
  'OUT_OF_WINDOW',
  'FUTURE_DATE',
  'NO_CONTRACT',
  'BAD_AMOUNT',
  'BAD_CURRENCY',
  'CAP_EXCEEDED',
  'MALFORMED',
] as const;
export type AllianceReasonCode = (typeof ALLIANCE_REASON_CODES)[number];

export interface AllianceMember {
  /** Program the member belongs to (the receiver's program on inbound claims). */
  program: string;
  /** Member number as printed on the card, leading zeros included. */
  number: string;
  surname: string;
  givenName?: string;
}

export interface AllianceFlight {
  operatingCarrier: string;
  /**
   * Flight number as a string: 1-5 digits and an optional suffix letter, `0123` and `123` written as the
   * carrier writes them.
   */
  operatingFlightNumber: string;
  marketingCarrier: string;
  marketingFlightNumber: string;
  /** Local departure date. */
  date: IsoDate;
  origin: string;
  destination: string;
  cabin: string;
  /** Reservation booking designator actually flown. */
  flownRbd: string;
  fareBasis?: string;
  ticketNumber?: string;
  couponNumber?: number;
}

export interface AllianceClaim {
  /** Unique per sender; results refer to it. */
  claimId: string;
  member: AllianceMember;
  flight: AllianceFlight;
}

export interface ClaimsFileHeader {
  sender: string;
  receiver: string;
  /** Without gaps per (sender, receiver), from 1. */
  sequence: number;
  /** ISO 8601 date-time with offset, e.g. `2026-11-26T03:15:00Z`. */
  createdAt: string;
}

export interface ClaimsFile extends ClaimsFileHeader {
  claims: AllianceClaim[];
}

export interface AcceptedResult {
  claimId: string;
  status: 'accepted';
  pointsCredited: number;
  /** Tier the member holds in the answering program, e.g. `GOLD`. */
  tierHeld: string;
}

export interface RejectedResult {
  claimId: string;
  status: 'rejected';
  reasonCode: AllianceReasonCode;
  reasonText: string;
}

export type AllianceResult = AcceptedResult | RejectedResult;

/** The claims file a results file answers. */
export interface AnsweredFile {
  sender: string;
  receiver: string;
  sequence: number;
}

export interface ResultsFileHeader {
  /** The answering side: the receiver of the claims file. */
  sender: string;
  receiver: string;
  createdAt: string;
  answers: AnsweredFile;
}

export interface ResultsFile extends ResultsFileHeader {
  results: AllianceResult[];
}

// ---------------------------------------------------------------------------------------------------------
// Field rules, mirrored in the XSD's simple types

export const MAX_COUNT = 4_294_967_295;

const PROGRAM = /^[A-Z0-9]{2,8}$/;
const MEMBER_NUMBER = /^[A-Z0-9]{1,20}$/;
const CARRIER = /^(?:[A-Z0-9]{2}|[A-Z]{3})$/;
const AIRPORT = /^[A-Z]{3}$/;
const ONE_LETTER = /^[A-Z]$/;
const FARE_BASIS = /^[A-Z0-9]{1,15}$/;
const TICKET = /^[0-9]{13}$/;
/** The longest tier code `TierHeld` carries (XSD `TierCode`): configuration refuses a longer one. */
export const ALLIANCE_TIER_MAX = 16;
const TIER = new RegExp(`^[A-Za-z0-9_-]{1,${ALLIANCE_TIER_MAX}}$`);
// One line of text: no control characters, no white space at either end (XSD `LineText`).
const LINE_TEXT = /^[^ \p{Cc}](?:[^\p{Cc}]*[^ \p{Cc}])?$/u;
// Free text that may break lines inside (XSD `FreeText`).
const FREE_TEXT = /^[^ \t\n\r\p{Cc}](?:(?:[^\p{Cc}]|[\t\n\r])*[^ \t\n\r\p{Cc}])?$/u;
// Code points XML cannot carry even as references; not control characters, so checked separately.
const NON_XML = /[\p{Cs}\uFFFE\uFFFF]/u;
const TIMESTAMP =
  /^([1-9][0-9]{3}-[0-9]{2}-[0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]{1,9})?(?:Z|([+-])([0-9]{2}):([0-9]{2}))$/;

/** A calendar date the XSD's `Date` accepts too: xs:date allows years below 1000, our dates never need them. */
export function isCalendarDate(value: string): boolean {
  return /^[1-9]/.test(value) && isIsoDate(value);
}

/** ISO 8601 / xs:dateTime with a mandatory offset, seconds below 60, offset within ±14:00. */
export function isIsoTimestamp(value: string): boolean {
  const m = TIMESTAMP.exec(value);
  if (!m || !isCalendarDate(m[1]!)) return false;
  if (Number(m[2]) > 23 || Number(m[3]) > 59 || Number(m[4]) > 59) return false;
  if (m[5] !== undefined) {
    const h = Number(m[6]);
    const min = Number(m[7]);
    if (min > 59 || h > 14 || (h === 14 && min !== 0)) return false;
  }
  return true;
}

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

export interface FieldProblem {
  /** Path of the element at fault, relative to the Claim/Result or the root. */
  field: string;
  message: string;
  value: string;
}

type Rule = (value: string) => string | null;

const pattern =
  (re: RegExp, what: string): Rule =>
  (v) =>
    re.test(v) ? null : `expected ${what}`;

const text =
  (re: RegExp, max: number, what: string): Rule =>
  (v) => {
    if (NON_XML.test(v)) return 'contains a character XML cannot carry';
    if (!re.test(v)) return `expected ${what} without control characters or surrounding white space`;
    return codePoints(v) > max ? `longer than ${max} characters` : null;
  };

export const RULES = {
  program: pattern(PROGRAM, 'a program code of 2-8 capital letters or digits'),
  memberNumber: pattern(MEMBER_NUMBER, 'a member number of 1-20 capital letters or digits'),
  claimId: text(LINE_TEXT, 64, 'an id of 1-64 characters'),
  name: text(LINE_TEXT, 64, 'a name of 1-64 characters'),
  carrier: pattern(CARRIER, 'an airline designator (2 letters/digits or 3 letters)'),
  // The flown coupons' and the FTL's flight numbers (1-5 digits, a suffix letter): a flight we credit or
  // claim for is one the interface can carry. XSD `FlightNumber` has the same pattern.
  flightNumber: pattern(FLIGHT_NUMBER_RE, FLIGHT_NUMBER_TEXT),
  date: (v: string) => (isCalendarDate(v) ? null : 'expected a date YYYY-MM-DD'),
  airport: pattern(AIRPORT, 'a 3-letter airport code'),
  cabin: pattern(ONE_LETTER, 'a one-letter cabin code'),
  rbd: pattern(ONE_LETTER, 'a one-letter booking designator'),
  fareBasis: pattern(FARE_BASIS, 'a fare basis of 1-15 capital letters or digits'),
  ticket: pattern(TICKET, 'a 13-digit ticket number'),
  timestamp: (v: string) => (isIsoTimestamp(v) ? null : 'expected an ISO 8601 date-time with offset'),
  tier: pattern(TIER, `a tier code of 1-${ALLIANCE_TIER_MAX} letters, digits, _ or -`),
  reasonText: text(FREE_TEXT, 500, 'a text of 1-500 characters'),
  reasonCode: (v: string) =>
    (ALLIANCE_REASON_CODES as readonly string[]).includes(v)
      ? null
      : `expected one of ${ALLIANCE_REASON_CODES.join(', ')}`,
} satisfies Record<string, Rule>;

function intRule(min: number, max: number): (v: number) => string | null {
  return (v) =>
    Number.isSafeInteger(v) && v >= min && v <= max ? null : `expected a whole number from ${min} to ${max}`;
}

// A file sequence is kept in an integer column (`files.sequence`), as points are: the XSD bounds both so.
export const NUMBER_RULES = {
  sequence: intRule(1, MAX_INTEGER_COLUMN),
  count: intRule(0, MAX_COUNT),
  coupon: intRule(1, 4),
  points: intRule(0, MAX_INTEGER_COLUMN),
};

/** Collects the first problem of a list of checks. */
class Checker {
  problem: FieldProblem | null = null;

  str(field: string, value: string | undefined, rule: Rule, optional = false): void {
    if (this.problem) return;
    if (value === undefined) {
      if (!optional) this.problem = { field, message: `${field} is missing`, value: '' };
      return;
    }
    const why = rule(value);
    if (why) this.problem = { field, message: `${field}: ${why}`, value };
  }

  num(field: string, value: number | undefined, rule: (v: number) => string | null, optional = false): void {
    if (this.problem) return;
    if (value === undefined) {
      if (!optional) this.problem = { field, message: `${field} is missing`, value: '' };
      return;
    }
    const why = rule(value);
    if (why) this.problem = { field, message: `${field}: ${why}`, value: String(value) };
  }

  fail(field: string, message: string, value: string): void {
    this.problem ??= { field, message, value };
  }
}

/**
 * The sender and sequence a claims file's header gives, read from the file's first bytes (`head`) without
 * parsing it: what the night orders a sender's files by before it reads them. Null when they are not
 * found there; the parser still judges the whole file, this only decides which file is read first.
 */
export function peekClaimsHeader(head: string): { sender: string; sequence: number } | null {
  const prefix = '(?:[A-Za-z_][\\w.-]*:)?';
  const tag = (name: string) => `<${prefix}${name}\\s*>`;
  const header = new RegExp(`${tag('FileHeader')}([\\s\\S]*?)</${prefix}FileHeader\\s*>`).exec(head)?.[1];
  if (header === undefined) return null;
  const leafText = (name: string) => new RegExp(`${tag(name)}\\s*([^<]*?)\\s*<`).exec(header)?.[1];
  const sender = leafText('SenderProgram');
  const sequence = leafText('FileSequence');
  if (!sender || sequence === undefined || !/^\d{1,10}$/.test(sequence)) return null;
  return { sender, sequence: Number(sequence) };
}

export function claimsHeaderProblem(h: ClaimsFileHeader): FieldProblem | null {
  const c = new Checker();
  c.str('FileHeader/SenderProgram', h.sender, RULES.program);
  c.str('FileHeader/ReceiverProgram', h.receiver, RULES.program);
  c.num('FileHeader/FileSequence', h.sequence, NUMBER_RULES.sequence);
  c.str('FileHeader/CreatedAt', h.createdAt, RULES.timestamp);
  if (h.sender === h.receiver)
    c.fail('FileHeader/ReceiverProgram', 'sender and receiver are the same program', h.receiver);
  return c.problem;
}

export function resultsHeaderProblem(h: ResultsFileHeader): FieldProblem | null {
  const c = new Checker();
  c.str('FileHeader/SenderProgram', h.sender, RULES.program);
  c.str('FileHeader/ReceiverProgram', h.receiver, RULES.program);
  c.str('FileHeader/CreatedAt', h.createdAt, RULES.timestamp);
  c.str('FileHeader/AnsweredFile/SenderProgram', h.answers?.sender, RULES.program);
  c.str('FileHeader/AnsweredFile/ReceiverProgram', h.answers?.receiver, RULES.program);
  c.num('FileHeader/AnsweredFile/FileSequence', h.answers?.sequence, NUMBER_RULES.sequence);
  if (h.sender === h.receiver)
    c.fail('FileHeader/ReceiverProgram', 'sender and receiver are the same program', h.receiver);
  // A results file goes back the way the claims came: anything else answers someone else's file.
  if (h.answers && (h.answers.sender !== h.receiver || h.answers.receiver !== h.sender)) {
    c.fail(
      'FileHeader/AnsweredFile',
      `answers a file from ${h.answers.sender} to ${h.answers.receiver}, but this file goes from ${h.sender} to ${h.receiver}`,
      `${h.answers.sender}>${h.answers.receiver}`,
    );
  }
  return c.problem;
}

export function claimProblem(claim: AllianceClaim): FieldProblem | null {
  const c = new Checker();
  const m = claim.member ?? ({} as Partial<AllianceMember>);
  const f = claim.flight ?? ({} as Partial<AllianceFlight>);
  c.str('ClaimId', claim.claimId, RULES.claimId);
  c.str('Member/Program', m.program, RULES.program);
  c.str('Member/Number', m.number, RULES.memberNumber);
  c.str('Member/Surname', m.surname, RULES.name);
  c.str('Member/GivenName', m.givenName, RULES.name, true);
  c.str('Flight/OperatingCarrier', f.operatingCarrier, RULES.carrier);
  c.str('Flight/OperatingFlightNumber', f.operatingFlightNumber, RULES.flightNumber);
  c.str('Flight/MarketingCarrier', f.marketingCarrier, RULES.carrier);
  c.str('Flight/MarketingFlightNumber', f.marketingFlightNumber, RULES.flightNumber);
  c.str('Flight/FlightDate', f.date, RULES.date);
  c.str('Flight/Origin', f.origin, RULES.airport);
  c.str('Flight/Destination', f.destination, RULES.airport);
  c.str('Flight/Cabin', f.cabin, RULES.cabin);
  c.str('Flight/FlownRbd', f.flownRbd, RULES.rbd);
  c.str('Flight/FareBasis', f.fareBasis, RULES.fareBasis, true);
  c.str('Flight/TicketNumber', f.ticketNumber, RULES.ticket, true);
  c.num('Flight/CouponNumber', f.couponNumber, NUMBER_RULES.coupon, true);
  if (f.origin !== undefined && f.origin === f.destination) {
    c.fail(
      'Flight/Destination',
      `Flight/Destination: expected an airport other than the origin ${f.origin}`,
      f.destination ?? '',
    );
  }
  return c.problem;
}

export function resultProblem(result: AllianceResult): FieldProblem | null {
  const c = new Checker();
  c.str('ClaimId', result.claimId, RULES.claimId);
  if (result.status === 'accepted') {
    c.num('Accepted/PointsCredited', result.pointsCredited, NUMBER_RULES.points);
    c.str('Accepted/TierHeld', result.tierHeld, RULES.tier);
  } else if (result.status === 'rejected') {
    c.str('Rejected/ReasonCode', result.reasonCode, RULES.reasonCode);
    c.str('Rejected/ReasonText', result.reasonText, RULES.reasonText);
  } else {
    c.fail('*', 'result is neither accepted nor rejected', String((result as { status?: unknown }).status));
  }
  return c.problem;
}

// ---------------------------------------------------------------------------------------------------------
// Reading

/** Raised inside a reader when a field cannot be read at all; caught per Claim/Result. */
class ReadProblem extends Error {
  constructor(readonly problem: FieldProblem) {
    super(problem.message);
  }
}

/** Text of the single child `name` of `parent`; a repeated element is ambiguous, hence malformed. */
function leaf(parent: XmlElement | undefined, name: string, path: string): string | undefined {
  const found = childrenOf(parent, ALLIANCE_NS, name);
  if (found.length > 1) {
    throw new ReadProblem({
      field: path,
      message: `${path} appears ${found.length} times`,
      value: textOf(found[1]) ?? '',
    });
  }
  return textOf(found[0]);
}

function group(parent: XmlElement, name: string): XmlElement | undefined {
  const found = childrenOf(parent, ALLIANCE_NS, name);
  if (found.length > 1)
    throw new ReadProblem({ field: name, message: `${name} appears ${found.length} times`, value: '' });
  return found[0];
}

/** xs:unsignedInt lexical form (leading + and zeros allowed); undefined when absent, NaN when not a number. */
function leafNumber(parent: XmlElement | undefined, name: string, path: string): number | undefined {
  const raw = leaf(parent, name, path);
  if (raw === undefined) return undefined;
  if (!/^\+?[0-9]{1,15}$/.test(raw))
    throw new ReadProblem({ field: path, message: `${path}: expected a whole number`, value: raw });
  return Number(raw);
}

function omitUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

// Missing elements stay undefined (and are dropped) here; claimProblem/resultProblem report them, so the
// same rules judge a parsed claim and one handed to the writer.
function readClaim(el: XmlElement): AllianceClaim {
  const member = group(el, 'Member');
  const flight = group(el, 'Flight');
  return {
    claimId: leaf(el, 'ClaimId', 'ClaimId')!,
    member: omitUndefined({
      program: leaf(member, 'Program', 'Member/Program')!,
      number: leaf(member, 'Number', 'Member/Number')!,
      surname: leaf(member, 'Surname', 'Member/Surname')!,
      givenName: leaf(member, 'GivenName', 'Member/GivenName'),
    }),
    flight: omitUndefined({
      operatingCarrier: leaf(flight, 'OperatingCarrier', 'Flight/OperatingCarrier')!,
      operatingFlightNumber: leaf(flight, 'OperatingFlightNumber', 'Flight/OperatingFlightNumber')!,
      marketingCarrier: leaf(flight, 'MarketingCarrier', 'Flight/MarketingCarrier')!,
      marketingFlightNumber: leaf(flight, 'MarketingFlightNumber', 'Flight/MarketingFlightNumber')!,
      date: leaf(flight, 'FlightDate', 'Flight/FlightDate')!,
      origin: leaf(flight, 'Origin', 'Flight/Origin')!,
      destination: leaf(flight, 'Destination', 'Flight/Destination')!,
      cabin: leaf(flight, 'Cabin', 'Flight/Cabin')!,
      flownRbd: leaf(flight, 'FlownRbd', 'Flight/FlownRbd')!,
      fareBasis: leaf(flight, 'FareBasis', 'Flight/FareBasis'),
      ticketNumber: leaf(flight, 'TicketNumber', 'Flight/TicketNumber'),
      couponNumber: leafNumber(flight, 'CouponNumber', 'Flight/CouponNumber'),
    }),
  };
}

function readResult(el: XmlElement): AllianceResult {
  const claimId = leaf(el, 'ClaimId', 'ClaimId')!;
  const accepted = group(el, 'Accepted');
  const rejected = group(el, 'Rejected');
  if (accepted && rejected) {
    throw new ReadProblem({
      field: 'Accepted',
      message: 'a result is either Accepted or Rejected, not both',
      value: claimId ?? '',
    });
  }
  if (accepted) {
    return {
      claimId,
      status: 'accepted',
      pointsCredited: leafNumber(accepted, 'PointsCredited', 'Accepted/PointsCredited')!,
      tierHeld: leaf(accepted, 'TierHeld', 'Accepted/TierHeld')!,
    };
  }
  if (rejected) {
    return {
      claimId,
      status: 'rejected',
      reasonCode: leaf(rejected, 'ReasonCode', 'Rejected/ReasonCode') as AllianceReasonCode,
      reasonText: leaf(rejected, 'ReasonText', 'Rejected/ReasonText')!,
    };
  }
  throw new ReadProblem({
    field: 'Accepted',
    message: 'a result needs Accepted or Rejected',
    value: claimId ?? '',
  });
}

/**
 * The claim id and member number of an entry rejected for another field, when they read cleanly: the
 * results file answers the claim by its id (alliance-accrual.md: per claim id).
 */
function identityOf(el: XmlElement): { recordRef?: string; memberNumber?: string } {
  const only = (parent: XmlElement | undefined, name: string) => {
    const found = childrenOf(parent, ALLIANCE_NS, name);
    return found.length === 1 ? textOf(found[0]) : undefined;
  };
  const members = childrenOf(el, ALLIANCE_NS, 'Member');
  const id = only(el, 'ClaimId');
  const number = members.length === 1 ? only(members[0], 'Number') : undefined;
  return {
    ...(id && RULES.claimId(id) === null ? { recordRef: id } : {}),
    ...(number && RULES.memberNumber(number) === null ? { memberNumber: number } : {}),
  };
}

function readEntries<T extends { claimId: string }>(
  doc: XmlDocument,
  name: 'Claim' | 'Result',
  read: (el: XmlElement) => T,
  check: (entry: T) => FieldProblem | null,
): XmlItem<T>[] {
  const path = `${doc.root.name}/${name}`;
  const seen = new Set<string>();
  return childrenOf(doc.root, ALLIANCE_NS, name).map((el, idx): XmlItem<T> => {
    const seq = idx + 1;
    const reject = (p: FieldProblem, reason = 'MALFORMED'): XmlItem<T> => ({
      kind: 'reject',
      element: el,
      path,
      seq,
      field: p.field,
      reason,
      message: p.message,
      text: p.value === '' ? sourceOf(doc, el) : p.value,
      ...identityOf(el),
    });
    let entry: T;
    try {
      entry = read(el);
    } catch (error) {
      if (error instanceof ReadProblem) return reject(error.problem);
      throw error;
    }
    const problem = check(entry);
    if (problem) return reject(problem);
    if (seen.has(entry.claimId)) {
      return reject(
        {
          field: 'ClaimId',
          message: `ClaimId ${JSON.stringify(entry.claimId)} appears earlier in this file`,
          value: entry.claimId,
        },
        'DUPLICATE',
      );
    }
    seen.add(entry.claimId);
    return { kind: 'record', element: el, path, seq, record: entry };
  });
}

type Refusal = { reason: string; message: string };

/** Reads Control/<countName>; the refusal (if any) names what is wrong with the trailer or the count. */
function checkControl(
  root: XmlElement,
  countName: string,
  entries: number,
): { declared?: number; refusal?: Refusal } {
  const controls = childrenOf(root, ALLIANCE_NS, 'Control');
  if (controls.length !== 1) {
    return {
      refusal: { reason: 'BAD_TRAILER', message: `expected one Control element, found ${controls.length}` },
    };
  }
  let declared: number | undefined;
  try {
    declared = leafNumber(controls[0], countName, `Control/${countName}`);
  } catch (error) {
    if (error instanceof ReadProblem)
      return { refusal: { reason: 'BAD_TRAILER', message: error.problem.message } };
    throw error;
  }
  if (declared === undefined)
    return { refusal: { reason: 'BAD_TRAILER', message: `Control/${countName} is missing` } };
  if (declared !== entries) {
    return {
      declared,
      refusal: {
        reason: 'CONTROL_TOTAL_MISMATCH',
        message: `Control/${countName} says ${declared}, the file holds ${entries}`,
      },
    };
  }
  return { declared };
}

function readHeaderGroup<H>(
  root: XmlElement,
  read: (header: XmlElement) => H,
  check: (h: H) => FieldProblem | null,
) {
  const headers = childrenOf(root, ALLIANCE_NS, 'FileHeader');
  if (headers.length !== 1) {
    return {
      refusal: { reason: 'BAD_HEADER', message: `expected one FileHeader element, found ${headers.length}` },
    };
  }
  try {
    const header = read(headers[0]!);
    const problem = check(header);
    if (problem) return { refusal: { reason: 'BAD_HEADER', message: problem.message } };
    return { header };
  } catch (error) {
    if (error instanceof ReadProblem)
      return { refusal: { reason: 'BAD_HEADER', message: error.problem.message } };
    throw error;
  }
}

function handleClaims(doc: XmlDocument): XmlFileResult<AllianceClaim> {
  const { root } = doc;
  const { header, refusal: headerRefusal } = readHeaderGroup<ClaimsFileHeader>(
    root,
    (h) => ({
      sender: leaf(h, 'SenderProgram', 'FileHeader/SenderProgram')!,
      receiver: leaf(h, 'ReceiverProgram', 'FileHeader/ReceiverProgram')!,
      sequence: leafNumber(h, 'FileSequence', 'FileHeader/FileSequence')!,
      createdAt: leaf(h, 'CreatedAt', 'FileHeader/CreatedAt')!,
    }),
    claimsHeaderProblem,
  );
  const items = readEntries(doc, 'Claim', readClaim, claimProblem);
  const control = checkControl(root, 'ClaimCount', items.length);
  const refusal = headerRefusal ?? control.refusal;
  return {
    items,
    ...(refusal ? { refusal } : {}),
    meta: { ...header, declaredCount: control.declared, claimElements: items.length },
  };
}

function handleResults(doc: XmlDocument): XmlFileResult<AllianceResult> {
  const { root } = doc;
  // Where the file says which claims file it answers: ingest names this line when that is not the file
  // the claims were sent in.
  let answersLine: number | undefined;
  const { header, refusal: headerRefusal } = readHeaderGroup<ResultsFileHeader>(
    root,
    (h) => {
      const answered = childrenOf(h, ALLIANCE_NS, 'AnsweredFile');
      if (answered.length !== 1) {
        throw new ReadProblem({
          field: 'FileHeader/AnsweredFile',
          message: `expected one FileHeader/AnsweredFile, found ${answered.length}`,
          value: '',
        });
      }
      const a = answered[0];
      answersLine = (childOf(a, ALLIANCE_NS, 'FileSequence') ?? a)?.line;
      return {
        sender: leaf(h, 'SenderProgram', 'FileHeader/SenderProgram')!,
        receiver: leaf(h, 'ReceiverProgram', 'FileHeader/ReceiverProgram')!,
        createdAt: leaf(h, 'CreatedAt', 'FileHeader/CreatedAt')!,
        answers: {
          sender: leaf(a, 'SenderProgram', 'FileHeader/AnsweredFile/SenderProgram')!,
          receiver: leaf(a, 'ReceiverProgram', 'FileHeader/AnsweredFile/ReceiverProgram')!,
          sequence: leafNumber(a, 'FileSequence', 'FileHeader/AnsweredFile/FileSequence')!,
        },
      };
    },
    resultsHeaderProblem,
  );
  const items = readEntries(doc, 'Result', readResult, resultProblem);
  const control = checkControl(root, 'ResultCount', items.length);
  const refusal = headerRefusal ?? control.refusal;
  return {
    items,
    ...(refusal ? { refusal } : {}),
    meta: { ...header, answersLine, declaredCount: control.declared, resultElements: items.length },
  };
}

export const allianceClaimsParser: FeedParser<AllianceClaim> = {
  feed: 'alliance-claims',
  parse(inputs: ParseInput[], options?: ParseOptions): AsyncIterable<ParseEvent<AllianceClaim>> {
    return parseXmlFeed(
      { feed: 'alliance-claims', root: { ns: ALLIANCE_NS, name: CLAIMS_ROOT }, handle: handleClaims },
      inputs,
      options,
    );
  },
};

export const allianceResultsParser: FeedParser<AllianceResult> = {
  feed: 'alliance-results',
  parse(inputs: ParseInput[], options?: ParseOptions): AsyncIterable<ParseEvent<AllianceResult>> {
    return parseXmlFeed(
      { feed: 'alliance-results', root: { ns: ALLIANCE_NS, name: RESULTS_ROOT }, handle: handleResults },
      inputs,
      options,
    );
  },
};
