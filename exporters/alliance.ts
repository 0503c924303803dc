/**
 * Partner-airline claims and results (alliance-accrual.md), the data side; the XML is written by
 * exporters/alliance-xml.ts.
 *
 * Outbound claims. Passengers of our flights who presented a partner program's card are activities of
 * type FLIGHT, status NOT_CREDITED, with the partner whose `program` matches the card. Only a flight one of
 * the program's own carriers operated or marketed is claimed (`notOwnFlight`, the rule accrue applies
 * to our own cards): a coupon of another airline's flight in our extract earns through that airline, not
 * through a claim of ours. Each day, per
 * partner program, one claims file lists those not claimed before (the file is written even when empty, so
 * the partner sees the sequence advance without gaps); a passenger the FTL alone has listed waits a few
 * nights for its coupon first (`unclaimedPassengers`). What was sent is recorded in `alliance_claims`
 * (direction OUT, status SENT) in the transaction that registers the file, and a rerun rebuilds the file
 * from that record, not from the activities. A passenger whose data cannot make a valid claim (no surname,
 * no cabin, a card number the interface cannot carry) is recorded with status INVALID and the problem as
 * reason, once, instead of being retried every night.
 *
 * Results for inbound claims. Every accepted inbound claims file is answered with one results file: each
 * claim read from it, accepted (points the posting credited, tier held on the answer's business date) or
 * rejected with its reason; claims that could not be read but whose id is known are rejected MALFORMED. A
 * claims file refused whole cannot be answered claim by claim (the results format has no file-level
 * status), so it gets no results file and the export job reports it.
 *
 * Results for our claims. `matchAllianceResults` is what the ingest job calls with the records of a
 * partner's results file: each result is matched by claim id to the claim we sent.
 */
import type { Knex } from 'knex';
import { daysBetween, addDays, type IsoDate } from '../lib/dates.js';
import {
  claimProblem,
  RULES,
  type AllianceClaim,
  type AllianceResult,
  type AnsweredFile,
  type FieldProblem,
} from '../parsers/alliance.js';
import { ExportError } from './errors.js';
import {
  messageForPartner,
  partnerReasonCode,
  partnerReasonText,
  recordReasonText,
} from './partner-reasons.js';
import { PARTNER_REASON_TEXT } from './partner-response.js';
import { inRequestOrder, pendingActivities, type FilePlace, type InboundFile } from './responses.js';
import { chunks } from '../lib/chunks.js';
import { inTransaction } from '../jobs/registry.js';
import type { ActivityDetail } from '../rules/activity.js';
import { carrierFactsOf, notOwnFlight } from '../rules/eligibility.js';
import { givenNameLessTitles } from '../rules/names.js';
import type { Program } from '../rules/program.js';

type Q = Knex | Knex.Transaction;

export function allianceClaimsName(
  sender: string,
  receiver: string,
  businessDate: IsoDate,
  sequence: number,
): string {
  return `${sender}_${receiver}_${businessDate.replace(/-/g, '')}_${String(sequence).padStart(6, '0')}.claims.xml`;
}

/**
 * Named after the claims file it answers: `LH_XX_000017.results.xml` answers LH's 17th file to XX. `nth`
 * is for claims files accepted under a sequence already used, before ingest refused such a repeat: the
 * second is answered in `LH_XX_000017-2.results.xml`, so that it never takes the first one's name.
 */
export function allianceResultsName(answers: AnsweredFile, nth = 1): string {
  const name = `${answers.sender}_${answers.receiver}_${String(answers.sequence).padStart(6, '0')}`;
  return `${name}${nth > 1 ? `-${nth}` : ''}.results.xml`;
}

export function claimsSequenceScope(sender: string, receiver: string): string {
  return `alliance-claims:${sender}:${receiver}`;
}

// ------------------------------------------------------------------------------------------------ outbound

export interface PassengerActivity {
  id: number;
  activityKey: string;
  cardNumber: string | null;
  surname: string | null;
  givenName: string | null;
  carrier: string | null;
  flightNumber: string | null;
  date: IsoDate;
  origin: string | null;
  destination: string | null;
  cabin: string | null;
  bookedClass: string | null;
  flownClass: string | null;
  ticketNumber: string | null;
  couponNumber: number | null;
  /** The coupon's fare basis, when a flown coupon gave one. */
  fareBasis: string | null;
  /** The flight the passenger was sold on, when a codeshare's differs from the operating one. */
  marketingCarrier: string | null;
  marketingFlightNumber: string | null;
}

/**
 * The detail of an archived passenger, as far as claims read it: its marketing flight, a coupon's
 * operating carrier and fare basis. Rows that carry none of them are not parsed (this runs for every
 * unclaimed row).
 */
function detailOf(detail: unknown): ActivityDetail | null {
  return typeof detail === 'string' &&
    (detail.includes('marketing') || detail.includes('operatingCarrier') || detail.includes('fareBasis'))
    ? (JSON.parse(detail) as ActivityDetail)
    : null;
}

const str = (v: unknown) => (v === null || v === undefined || v === '' ? null : String(v));

const marketingFields = (m: { carrier: string; number: string } | null) => ({
  marketingCarrier: m?.carrier ?? null,
  marketingFlightNumber: m?.number ?? null,
});

/** The passengers a night's claims file to a partner takes, and those that wait for their coupon. */
export interface OutboundPassengers {
  /** To claim tonight: a flown coupon was read, or the passenger's wait for one is over. */
  due: PassengerActivity[];
  /** Known only from the FTL, read within `couponWaitDays` nights: claimed on a later night, or joined. */
  waiting: PassengerActivity[];
}

/**
 * NOT_CREDITED passengers with this partner's card read on or before the date and never claimed, on
 * flights one of the program's own carriers operated or marketed. A passenger of another airline's flight
 * (an LH coupon with an LH card in our revenue-accounting extract) is left out, as accrue refuses such a
 * flight NOT_OWN_FLIGHT for our own cards: claiming it from LH would ask LH to pay for its own flight. It
 * is marked so (reason NOT_OWN_FLIGHT, which `files show` then gives) and judged again each night, so a
 * record that completes the flight, or a carrier added to `program.carriers`, lifts the mark.
 *
 * A passenger the FTL alone has listed waits `couponWaitDays` nights after the night it was read
 * (`partnerClaimDueOn`) for its flown coupon. The coupon may be on our card (a ticket of ours, the LH card
 * shown at check-in): it joins the passenger, and the flight is ours to credit; claimed first, LH would
 * credit the seat too, and a claim cannot be withdrawn. On the LH card it completes the claim with its
 * ticket, coupon and fare basis, and the passenger is due that night. Counted from the night the FTL was
 * read, not the flight's date: a departure list read late (a DCS outage, nights caught up) still leaves
 * its coupon the nights the flown extract usually takes after it. The end is a date, not a count of
 * nights run: a night caught up after missed ones claims every passenger whose wait ended meanwhile.
 */
export async function unclaimedPassengers(
  q: Q,
  partnerCode: string,
  businessDate: IsoDate,
  program: Pick<Program, 'carriers' | 'isOwnCarrier'>,
  couponWaitDays: number,
): Promise<OutboundPassengers> {
  const { passengers, marks } = await readUnclaimed(q, partnerCode, businessDate, program, couponWaitDays);
  for (const [ids, reason] of [
    [marks.set, 'NOT_OWN_FLIGHT'],
    [marks.lifted, null],
  ] as const)
    for (const part of chunks(ids, 500)) await q('activities').whereIn('id', part).update({ reason });
  return passengers;
}

/**
 * How many of the partner's passengers wait for their coupon on `businessDate` (`unclaimedPassengers`'
 * `waiting`), read without marking anything: for a rerun of a night, whose claims file is rebuilt from
 * what it recorded and judges nobody again.
 */
export async function passengersWaiting(
  q: Q,
  partnerCode: string,
  businessDate: IsoDate,
  program: Pick<Program, 'carriers' | 'isOwnCarrier'>,
  couponWaitDays: number,
): Promise<number> {
  return (await readUnclaimed(q, partnerCode, businessDate, program, couponWaitDays)).passengers.waiting
    .length;
}

/** The unclaimed passengers, and the `NOT_OWN_FLIGHT` marks to set and lift (`unclaimedPassengers`). */
async function readUnclaimed(
  q: Q,
  partnerCode: string,
  businessDate: IsoDate,
  program: Pick<Program, 'carriers' | 'isOwnCarrier'>,
  couponWaitDays: number,
): Promise<{ passengers: OutboundPassengers; marks: { set: number[]; lifted: number[] } }> {
  const rows = (await q('activities as a')
    .where('a.type', 'FLIGHT')
    .andWhere('a.status', 'NOT_CREDITED')
    .andWhere('a.partner_code', partnerCode)
    // A partner's card on a flight joined to the same passenger's record on our card (a ticket booked on
    // it, our card shown at check-in) is credited here: claimed too, the partner would credit the seat again.
    .whereNull('a.member_number')
    .andWhere('a.business_date', '<=', businessDate)
    // Only a flown passenger is claimed: listed by the FTL without a coupon yet, or on a flown coupon. A
    // coupon refunded, voided or exchanged was not flown. One corrected after its claim went out stays
    // claimed: the format has no withdrawal, so the partner's own audit has to catch it.
    .where((f) => f.whereNull('a.coupon_status').orWhere('a.coupon_status', 'F'))
    // A seat listed again (under a codeshare's other flight number), claimed or credited from the record
    // that was its first: claimed again, the partner would credit the seat twice (`seatOf` at ingest).
    .where((f) => f.whereNull('a.reason').orWhereNot('a.reason', 'DUPLICATE'))
    .whereNotExists((s) =>
      s
        .select(q.raw('1'))
        .from('alliance_claims as c')
        .where('c.direction', 'OUT')
        .whereRaw('c.activity_key = a.activity_key'),
    )
    .orderBy('a.id')
    .select(
      'a.id',
      'a.activity_key',
      'a.external_ref',
      'a.travel_surname',
      'a.travel_given_name',
      'a.carrier',
      'a.flight_number',
      'a.activity_date',
      'a.origin',
      'a.destination',
      'a.cabin',
      'a.booked_class',
      'a.flown_class',
      'a.ticket_number',
      'a.coupon_number',
      'a.seen_coupon',
      'a.business_date',
      'a.detail',
      'a.reason',
    )) as Array<Record<string, unknown>>;
  const passengers: OutboundPassengers = { due: [], waiting: [] };
  const marks = { set: [] as number[], lifted: [] as number[] };
  for (const r of rows) {
    const detail = detailOf(r.detail);
    const seenCoupon = r.seen_coupon === true || r.seen_coupon === 1;
    const facts = carrierFactsOf({
      carrier: str(r.carrier),
      flightNumber: str(r.flight_number),
      seenCoupon,
      detail,
    });
    const marked = r.reason === 'NOT_OWN_FLIGHT';
    if (notOwnFlight(facts, program)) {
      if (!marked) marks.set.push(Number(r.id));
      continue;
    }
    if (marked) marks.lifted.push(Number(r.id));
    const passenger = passengerOf(r, facts.marketing, detail?.fareBasis ?? null);
    const waits = !seenCoupon && partnerClaimDueOn(String(r.business_date), couponWaitDays) > businessDate;
    (waits ? passengers.waiting : passengers.due).push(passenger);
  }
  return { passengers, marks };
}

/** The night a passenger the FTL listed on `readOn` is claimed if no coupon has come to it by then. */
export const partnerClaimDueOn = (readOn: IsoDate, couponWaitDays: number): IsoDate =>
  addDays(readOn, couponWaitDays);

function passengerOf(
  r: Record<string, unknown>,
  marketing: { carrier: string; number: string } | null,
  fareBasis: string | null,
): PassengerActivity {
  return {
    id: Number(r.id),
    activityKey: String(r.activity_key),
    cardNumber: str(r.external_ref),
    surname: str(r.travel_surname),
    givenName: str(r.travel_given_name),
    carrier: str(r.carrier),
    flightNumber: str(r.flight_number),
    date: String(r.activity_date),
    origin: str(r.origin),
    destination: str(r.destination),
    cabin: str(r.cabin),
    bookedClass: str(r.booked_class),
    flownClass: str(r.flown_class),
    ticketNumber: str(r.ticket_number),
    couponNumber: r.coupon_number === null || r.coupon_number === undefined ? null : Number(r.coupon_number),
    fareBasis: str(fareBasis),
    ...marketingFields(marketing),
  };
}

/**
 * The claim for a passenger, or the reason it cannot be one. The claim id is the sender's program and the
 * activity id: unique for the sender and stable across reruns (it is recorded with the claim).
 */
export function claimFor(
  p: PassengerActivity,
  ourProgram: string,
  partnerProgram: string,
): { claim: AllianceClaim; problem: null } | { claim: null; problem: FieldProblem } {
  const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v);
  const claim: AllianceClaim = {
    claimId: `${ourProgram}-${p.id}`,
    member: {
      program: partnerProgram,
      number: p.cardNumber ?? '',
      surname: p.surname ?? '',
      // A flown coupon keeps the given name as on the ticket, title and all (ANNA MRS); the claim carries
      // the name alone, as the FTL's passengers are stored (alliance-accrual.md: surname, given name).
      givenName: opt(p.givenName === null ? null : givenNameLessTitles(p.givenName)),
    },
    flight: {
      operatingCarrier: p.carrier ?? '',
      operatingFlightNumber: p.flightNumber ?? '',
      marketingCarrier: p.marketingCarrier ?? p.carrier ?? '',
      marketingFlightNumber: p.marketingFlightNumber ?? p.flightNumber ?? '',
      date: p.date,
      origin: p.origin ?? '',
      destination: p.destination ?? '',
      cabin: p.cabin ?? '',
      flownRbd: p.flownClass ?? p.bookedClass ?? '',
      // Flown coupons allow a `/` the interface's fare basis does not: such a fare basis is left out, as
      // one not known would be, rather than keeping the whole claim from the partner.
      fareBasis: p.fareBasis !== null && RULES.fareBasis(p.fareBasis) === null ? p.fareBasis : undefined,
      ticketNumber: opt(p.ticketNumber),
      couponNumber: opt(p.couponNumber),
    },
  };
  if (claim.member.givenName === undefined) delete claim.member.givenName;
  if (claim.flight.fareBasis === undefined) delete claim.flight.fareBasis;
  if (claim.flight.ticketNumber === undefined) delete claim.flight.ticketNumber;
  if (claim.flight.couponNumber === undefined) delete claim.flight.couponNumber;
  const problem = claimProblem(claim);
  return problem ? { claim: null, problem } : { claim, problem: null };
}

/** The claims recorded for a claims file, in the order they were written. */
export async function claimsSentIn(q: Q, fileId: number): Promise<AllianceClaim[]> {
  const rows = (await q('alliance_claims')
    .where({ direction: 'OUT', file_id: fileId })
    .orderBy('id')
    .select('claim')) as Array<{ claim: string }>;
  return rows.map((r) => JSON.parse(r.claim) as AllianceClaim);
}

export interface ClaimRecord {
  activityKey: string;
  claimId: string;
  claim: AllianceClaim | PassengerActivity;
  status: 'SENT' | 'INVALID';
  reason: string | null;
}

/** Records what a claims file sent (and the passengers that could not be claimed) with the file's id. */
export async function recordClaims(
  trx: Knex.Transaction,
  partnerCode: string,
  businessDate: IsoDate,
  fileId: number,
  records: readonly ClaimRecord[],
): Promise<void> {
  for (const part of chunks(records, 200)) {
    await trx('alliance_claims').insert(
      part.map((r) => ({
        direction: 'OUT',
        partner_code: partnerCode,
        claim_id: r.claimId,
        activity_key: r.activityKey,
        business_date: businessDate,
        file_id: r.status === 'SENT' ? fileId : null,
        claim: JSON.stringify(r.claim),
        status: r.status,
        reason: r.reason,
      })),
    );
  }
}

// ------------------------------------------------------------------------------------------------ results

/** The tier a member held on a date: from the tier events, else the member record (see `tiersOn`). */
export async function tierOn(q: Q, memberId: number, date: IsoDate): Promise<string | null> {
  const member = (await q('members').where('id', memberId).first('id', 'tier')) as
    { id: number; tier: string } | undefined;
  if (!member) return null;
  const id = Number(member.id);
  return (await tiersOn(q, [{ id, tier: member.tier }], date)).get(id)!;
}

/**
 * The tier each of `members` held on a date, as the nights up to it recorded it: the tier the last
 * upgrade or downgrade of a night on or before the date moved to, else the one the first of a later night
 * moved from, else the member's tier now. A later night's event (a $1,500 fare on 2 April) leaves the
 * tier of 31 March as it was, so an export of that date rebuilt in April writes what it wrote in March.
 * One query per 500 members: a member has few tier events.
 */
export async function tiersOn(
  q: Q,
  members: ReadonlyArray<{ id: number; tier: string }>,
  date: IsoDate,
): Promise<Map<number, string>> {
  const held = new Map<number, string>();
  const settled = new Set<number>();
  for (const part of chunks(members, 500)) {
    const events = (await q('tier_events')
      .whereIn(
        'member_id',
        part.map((m) => m.id),
      )
      .whereIn('direction', ['UP', 'DOWN'])
      .orderBy([{ column: 'member_id' }, { column: 'business_date' }, { column: 'id' }])
      .select('member_id', 'business_date', 'from_tier', 'to_tier')) as Array<{
      member_id: number | string;
      business_date: string;
      from_tier: string | null;
      to_tier: string;
    }>;
    for (const e of events) {
      const id = Number(e.member_id);
      if (e.business_date <= date) held.set(id, e.to_tier);
      else if (!settled.has(id) && e.from_tier) held.set(id, e.from_tier);
      settled.add(id);
    }
  }
  for (const m of members) if (!held.has(m.id)) held.set(m.id, m.tier);
  return held;
}

export interface ResultsData {
  answers: AnsweredFile;
  results: AllianceResult[];
  /** Inbound claims of the file that the results answer (for `alliance_claims` IN rows). */
  claimIds: string[];
}

/** The results answering one inbound claims file; throws NOT_READY while claims are still pending. */
export async function resultsData(
  q: Q,
  file: InboundFile,
  partnerProgram: string,
  ourProgram: string,
  businessDate: IsoDate,
): Promise<ResultsData> {
  const context = { partner: file.partnerCode ?? undefined, file: file.name };
  if (file.verdict !== 'accepted' || file.sequence === null) {
    throw new ExportError(
      'NOT_ANSWERABLE',
      `claims file ${file.name} (id ${file.id}) was ${file.verdict}${file.reason ? ` (${file.reason})` : ''}: a results file answers claims one by one and cannot carry a file-level refusal`,
      context,
    );
  }
  const pending = await pendingActivities(q, file.id);
  if (pending > 0) {
    throw new ExportError(
      'NOT_READY',
      `claims file ${file.name} still has ${pending} claim(s) waiting for the accrue job`,
      context,
    );
  }
  const rows = (await q('activities as a')
    .leftJoin('members as m', 'm.number', 'a.member_number')
    .where('a.source_file_id', file.id)
    .andWhere('a.type', 'PARTNER_FLIGHT')
    .orderByRaw('COALESCE(a.source_line, 0), COALESCE(a.source_ordinal, 0), a.id')
    .select(
      'a.source_line',
      'a.source_ordinal',
      'a.external_ref',
      q.raw('COALESCE(a.member_id, m.id) AS member_id'),
      'a.status',
      'a.reason',
      'a.reason_message',
      'a.points',
      // The survivor it was rejected for: the member may have been merged (again) since.
      'a.merged_into',
      q('postings as p')
        .join('entries as e', 'e.posting_id', 'p.id')
        .join('accounts as ac', 'ac.id', 'e.account_id')
        .whereRaw('p.id = a.posting_id')
        .andWhere('ac.kind', 'PARTNER')
        .sum('e.amount')
        .as('partner_amount'),
    )) as Array<Record<string, unknown>>;
  const entries: Array<FilePlace & { result: AllianceResult }> = [];
  const ordinalOf = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  const answered = new Set<string>();
  for (const r of rows) {
    const claimId = String(r.external_ref ?? '');
    if (claimId === '' || answered.has(claimId)) continue;
    answered.add(claimId);
    const line = Number(r.source_line ?? 0);
    const ordinal = ordinalOf(r.source_ordinal);
    const status = String(r.status);
    if (status === 'POSTED' || status === 'PARTIAL' || status === 'REVERSED') {
      const amount =
        r.partner_amount === null || r.partner_amount === undefined ? null : Number(r.partner_amount);
      const points = Math.max(0, amount === null ? Number(r.points ?? 0) : -amount);
      const tier = r.member_id === null ? null : await tierOn(q, Number(r.member_id), businessDate);
      if (tier === null) {
        throw new ExportError(
          'NO_TIER',
          `claims file ${file.name}: claim ${claimId} was credited but its member has no tier`,
          {
            ...context,
            field: 'TierHeld',
          },
        );
      }
      entries.push({
        line,
        ordinal,
        result: { claimId, status: 'accepted', pointsCredited: points, tierHeld: tier },
      });
    } else if (status === 'REJECTED') {
      const reason = (r.reason as string | null) ?? null;
      // partner-accrual.md: ACCOUNT_CLOSED names the surviving account when the member was merged.
      const survivor = reason === 'ACCOUNT_CLOSED' ? ((r.merged_into as string | null) ?? null) : null;
      entries.push({
        line,
        ordinal,
        result: {
          claimId,
          status: 'rejected',
          reasonCode: partnerReasonCode(reason),
          reasonText: oneText(
            partnerReasonText(
              reason,
              survivor
                ? recordReasonText(reason, survivor, true)
                : messageForPartner(reason, r.reason_message as string | null),
            ),
          ),
        },
      });
    } else {
      throw new ExportError(
        'UNEXPECTED_STATUS',
        `claims file ${file.name}: claim ${claimId} has status ${status}, which a result cannot express`,
        { ...context, field: 'status' },
      );
    }
  }
  const rejects = (await q('rejects')
    .where('file_id', file.id)
    .whereNotNull('record_ref')
    .orderByRaw('COALESCE(line, 0), COALESCE(ordinal, 0), id')
    .select('line', 'ordinal', 'reason', 'message', 'record_ref')) as Array<Record<string, unknown>>;
  for (const r of rejects) {
    const claimId = String(r.record_ref);
    // A repeated claim id was answered with its first occurrence; a file cannot answer one claim twice.
    if (answered.has(claimId)) continue;
    answered.add(claimId);
    const reason = (r.reason as string | null) ?? null;
    entries.push({
      line: Number(r.line ?? 0),
      ordinal: ordinalOf(r.ordinal),
      result: {
        claimId,
        status: 'rejected',
        reasonCode: partnerReasonCode(reason),
        reasonText: oneText(partnerReasonText(reason, (r.message as string | null) ?? null)),
      },
    });
  }
  // Claims the rules decided and claims that could not be read, each in the file's order, merged into it.
  entries.sort(inRequestOrder);
  return {
    answers: { sender: partnerProgram, receiver: ourProgram, sequence: file.sequence },
    results: entries.map((e) => e.result),
    claimIds: [...answered],
  };
}

/** The interface's FreeText: no control characters other than line breaks, no white space at the ends, ≤ 500. */
function oneText(s: string): string {
  // eslint-disable-next-line no-control-regex -- removing control characters is the point
  const cleaned = s.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uFFFE\uFFFF]/g, ' ').trim();
  const chars = [...cleaned];
  const cut = chars.length > 500 ? chars.slice(0, 500).join('').trimEnd() : cleaned;
  return cut === '' ? PARTNER_REASON_TEXT.MALFORMED! : cut;
}

/** Marks the inbound claims a results file answered (rows the ingest job recorded, when it did). */
export async function markInboundAnswered(
  trx: Knex.Transaction,
  partnerCode: string,
  claimIds: readonly string[],
  resultFileId: number,
  businessDate: IsoDate,
): Promise<void> {
  for (const part of chunks(claimIds, 500)) {
    await trx('alliance_claims')
      .where({ direction: 'IN', partner_code: partnerCode })
      .whereIn('claim_id', part)
      .update({ result_file_id: resultFileId, answered_on: businessDate });
  }
}

// ------------------------------------------------------------------------------------------------ matching

export interface ResultsToMatch {
  /** The partner whose results these are (its `program` is the results file's sender). */
  partnerCode: string;
  /** The registry id of the inbound results file. */
  resultsFileId: number | null;
  businessDate: IsoDate;
  /** The claims file the results say they answer. */
  answers?: AnsweredFile | null;
  results: readonly AllianceResult[];
}

export interface MatchReport {
  /** Results that found their claim. */
  matched: number;
  /** Claims answered for the first time by these results. */
  updated: number;
  /** Results already recorded exactly so (a rerun). */
  unchanged: number;
  /** Claim ids we never sent to this partner. */
  unknown: string[];
  /** Claims found, but sent in another file than the one the results say they answer (still matched). */
  otherFile: Array<{ claimId: string; sentIn: SentClaimsFile }>;
  /** Claims already answered differently: the first answer is kept. */
  conflicting: string[];
  /**
   * The claims file the results say they answer, as we sent it to this partner: `null` when we sent it
   * none of that sequence; absent when the results name no file.
   */
  answered?: SentClaimsFile | null;
  /** Claims of the answered file these results leave unanswered (still `SENT` after them). */
  leftUnanswered: string[];
}

/** An outbound claims file, as the registry has it. */
export interface SentClaimsFile {
  name: string;
  sequence: number;
}

interface OutClaim {
  id: number;
  claim_id: string;
  status: string;
  points: number | null;
  reason: string | null;
  result_file_id: number | null;
  file_name: string | null;
  file_sequence: number | null;
}

/**
 * Matches a partner's results to the claims we sent (alliance_claims OUT), in one transaction: a SENT
 * claim becomes ACCEPTED (with the points the partner credited) or REJECTED (with its reason code), with
 * the answer's date and the results file. Safe to call again with the same results.
 */
export async function matchAllianceResults(q: Q, input: ResultsToMatch): Promise<MatchReport> {
  const run = async (trx: Knex.Transaction): Promise<MatchReport> => {
    const report: MatchReport = {
      matched: 0,
      updated: 0,
      unchanged: 0,
      unknown: [],
      otherFile: [],
      conflicting: [],
      leftUnanswered: [],
    };
    let answeredRow: { id: number; name: string; sequence: number } | undefined;
    if (input.answers) {
      answeredRow = (await trx('files')
        .where({
          direction: 'out',
          feed: 'alliance-claims',
          partner_code: input.partnerCode,
          sequence: input.answers.sequence,
        })
        .first('id', 'name', 'sequence')) as typeof answeredRow;
      report.answered = answeredRow
        ? { name: String(answeredRow.name), sequence: Number(answeredRow.sequence) }
        : null;
    }
    const ids = [...new Set(input.results.map((r) => r.claimId))];
    const found = new Map<string, OutClaim>();
    for (const part of chunks(ids, 500)) {
      const rows = (await trx('alliance_claims as c')
        .leftJoin('files as f', 'f.id', 'c.file_id')
        .where({ 'c.direction': 'OUT', 'c.partner_code': input.partnerCode })
        .whereIn('c.claim_id', part)
        .select(
          'c.id',
          'c.claim_id',
          'c.status',
          'c.points',
          'c.reason',
          'c.result_file_id',
          'f.name as file_name',
          'f.sequence as file_sequence',
        )) as OutClaim[];
      for (const r of rows) found.set(r.claim_id, r);
    }
    for (const result of input.results) {
      const claim = found.get(result.claimId);
      if (!claim || claim.status === 'INVALID') {
        report.unknown.push(result.claimId);
        continue;
      }
      report.matched++;
      if (
        input.answers &&
        claim.file_sequence !== null &&
        Number(claim.file_sequence) !== input.answers.sequence
      ) {
        report.otherFile.push({
          claimId: result.claimId,
          sentIn: { name: String(claim.file_name), sequence: Number(claim.file_sequence) },
        });
      }
      const status = result.status === 'accepted' ? 'ACCEPTED' : 'REJECTED';
      const points = result.status === 'accepted' ? result.pointsCredited : null;
      const reason = result.status === 'rejected' ? result.reasonCode : null;
      if (claim.status === 'SENT') {
        await trx('alliance_claims').where('id', claim.id).update({
          status,
          points,
          reason,
          answered_on: input.businessDate,
          result_file_id: input.resultsFileId,
        });
        report.updated++;
      } else if (
        claim.status === status &&
        (claim.points === null ? null : Number(claim.points)) === points &&
        claim.reason === reason
      ) {
        report.unchanged++;
      } else {
        report.conflicting.push(result.claimId);
      }
    }
    if (answeredRow) {
      report.leftUnanswered = (await trx('alliance_claims')
        .where({
          direction: 'OUT',
          partner_code: input.partnerCode,
          file_id: answeredRow.id,
          status: 'SENT',
        })
        .orderBy('id')
        .pluck('claim_id')) as string[];
    }
    return report;
  };
  return inTransaction(q, run);
}

// ------------------------------------------------------------------------------------------------ overdue

export interface UnansweredClaim {
  partnerCode: string;
  claimId: string;
  /** Business date of the claims file that carried it. */
  sentOn: IsoDate;
  fileName: string | null;
  fileSequence: number | null;
  daysOutstanding: number;
}

/**
 * Claims we sent that, on `asOf`, had had no result for at least `dueDays` days (the daily report lists
 * them; `exports.alliance.resultsDueDays` is the configured number). A claim sent on D is reported on
 * D + `dueDays`: that night reads its results before the report, so it has had its days for an answer
 * (alliance-accrual.md: no result after the configured number of days). Answers recorded after `asOf` do
 * not count, so the list for a past date is what it was that day.
 */
export async function unansweredAllianceClaims(
  q: Q,
  options: { asOf: IsoDate; dueDays: number; partnerCode?: string },
): Promise<UnansweredClaim[]> {
  const latest = addDays(options.asOf, -options.dueDays);
  const query = q('alliance_claims as c')
    .leftJoin('files as f', 'f.id', 'c.file_id')
    .where('c.direction', 'OUT')
    .andWhere('c.business_date', '<=', latest)
    // As of the date: a claim answered later was still unanswered then, so a rerun of an old date agrees.
    .andWhere((w) =>
      w
        .where('c.status', 'SENT')
        .orWhere((a) =>
          a.whereIn('c.status', ['ACCEPTED', 'REJECTED']).andWhere('c.answered_on', '>', options.asOf),
        ),
    )
    .orderBy([{ column: 'c.partner_code' }, { column: 'c.business_date' }, { column: 'c.claim_id' }])
    .select('c.partner_code', 'c.claim_id', 'c.business_date', 'f.name', 'f.sequence');
  if (options.partnerCode) query.andWhere('c.partner_code', options.partnerCode);
  const rows = (await query) as Array<Record<string, unknown>>;
  return rows.map((r) => ({
    partnerCode: String(r.partner_code),
    claimId: String(r.claim_id),
    sentOn: String(r.business_date),
    fileName: (r.name as string | null) ?? null,
    fileSequence: r.sequence === null || r.sequence === undefined ? null : Number(r.sequence),
    daysOutstanding: daysBetween(String(r.business_date), options.asOf),
  }));
}
