/**
 * The activity archive on disk: mapping between ActivityRow and the `activities` table, bulk inserts and
 * updates for the ingest and accrue jobs. Kept apart from the rules so they stay free of SQL.
 */
import type { Knex } from 'knex';
import type { ActivityRow } from '../rules/activity.js';
import type { ActivityUpdate } from '../rules/accrual.js';
import type { PostResult } from '../ledger/types.js';
import { chunks } from '../lib/chunks.js';

type Q = Knex | Knex.Transaction;

const COLUMNS: Array<[keyof ActivityRow, string]> = [
  ['activityKey', 'activity_key'],
  ['type', 'type'],
  ['memberNumber', 'member_number'],
  ['memberId', 'member_id'],
  ['activityDate', 'activity_date'],
  ['businessDate', 'business_date'],
  ['channel', 'channel'],
  ['partnerCode', 'partner_code'],
  ['activityType', 'activity_type'],
  ['serviceType', 'service_type'],
  ['carrier', 'carrier'],
  ['flightNumber', 'flight_number'],
  ['origin', 'origin'],
  ['destination', 'destination'],
  ['cabin', 'cabin'],
  ['bookedClass', 'booked_class'],
  ['flownClass', 'flown_class'],
  ['ticketNumber', 'ticket_number'],
  ['couponNumber', 'coupon_number'],
  ['couponStatus', 'coupon_status'],
  ['pnr', 'pnr'],
  ['travelSurname', 'travel_surname'],
  ['travelGivenName', 'travel_given_name'],
  ['seenFtl', 'seen_ftl'],
  ['seenCoupon', 'seen_coupon'],
  ['miles', 'miles'],
  ['spendMinor', 'spend_minor'],
  ['fareMinor', 'fare_minor'],
  ['surchargeMinor', 'surcharge_minor'],
  ['taxMinor', 'tax_minor'],
  ['spendCurrency', 'spend_currency'],
  ['baseSpendMinor', 'base_spend_minor'],
  ['pointsRequested', 'points_requested'],
  ['reversalOfRef', 'reversal_of_ref'],
  ['externalRef', 'external_ref'],
  ['status', 'status'],
  ['reason', 'reason'],
  ['reasonField', 'reason_field'],
  ['reasonMessage', 'reason_message'],
  ['points', 'points'],
  ['statusCredit', 'status_credit'],
  ['postingKey', 'posting_key'],
  ['statusPostingKey', 'status_posting_key'],
  ['needsAccrual', 'needs_accrual'],
  ['ruleVersion', 'rule_version'],
  ['sourceFileId', 'source_file_id'],
  ['sourceLine', 'source_line'],
  ['sourceOrdinal', 'source_ordinal'],
  ['detail', 'detail'],
];

const BOOLEAN = new Set<keyof ActivityRow>(['seenFtl', 'seenCoupon', 'needsAccrual']);

export function toDb(row: Partial<ActivityRow>, now: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, column] of COLUMNS) {
    const v = row[key];
    if (v === undefined) continue;
    out[column] = key === 'detail' ? (v === null ? null : JSON.stringify(v)) : v;
  }
  // The marketing listing's key is looked up by (`activitiesByMarketingKeys`), which the detail's JSON
  // cannot be: written with the detail, so a detail that drops it drops it from the lookup too.
  if (row.detail !== undefined) out.marketing_key = row.detail?.marketingKey ?? null;
  out.updated_at = now;
  return out;
}

export function fromDb(r: Record<string, unknown>): ActivityRow {
  const out: Record<string, unknown> = { id: Number(r.id) };
  for (const [key, column] of COLUMNS) {
    const v = r[column];
    if (key === 'detail') out[key] = v ? JSON.parse(v as string) : null;
    else if (BOOLEAN.has(key)) out[key] = v === true || v === 1;
    else out[key] = v ?? null;
  }
  return out as unknown as ActivityRow;
}

export function updateToDb(update: ActivityUpdate, now: string): Record<string, unknown> {
  return toDb(update as Partial<ActivityRow>, now);
}

const INSERT_CHUNK = 300;

export async function insertActivities(q: Q, rows: ActivityRow[], now: string): Promise<void> {
  for (const part of chunks(rows, INSERT_CHUNK)) await q('activities').insert(part.map((r) => toDb(r, now)));
}

export async function activitiesByKeys(q: Q, keys: string[]): Promise<Map<string, ActivityRow>> {
  const out = new Map<string, ActivityRow>();
  for (const part of chunks(keys, 500)) {
    const rows = await q('activities').whereIn('activity_key', part);
    for (const r of rows) out.set(r.activity_key as string, fromDb(r));
  }
  return out;
}

/**
 * The flights that hold each of `coupons`. A partner airline's claim names the ticket too when it knows
 * it (alliance-accrual.md), one of ours for an interline seat; it is the partner's record of the seat,
 * not the coupon's earlier copy: taken for it, the coupon's status "corrected" the claim and accrue
 * decided it again under a key already posted.
 */
export async function activitiesByCoupons(
  q: Q,
  coupons: Array<[string, number]>,
): Promise<Map<string, ActivityRow>> {
  const out = new Map<string, ActivityRow>();
  const tickets = [...new Set(coupons.map((c) => c[0]))];
  for (const part of chunks(tickets, 500)) {
    const rows = await q('activities').where('type', 'FLIGHT').whereIn('ticket_number', part);
    for (const r of rows) out.set(`${r.ticket_number}:${r.coupon_number}`, fromDb(r));
  }
  return out;
}

/**
 * The codeshare coupons whose passenger, listed by the DCS under the marketing flight, has one of `keys`
 * (`ActivityDetail.marketingKey`): the flight such a listing is when it comes after the coupon. Through
 * migration 046's index.
 */
export const soldAsListed = (q: Q, keys: readonly string[]) => q('activities').whereIn('marketing_key', keys);

export async function activitiesByMarketingKeys(q: Q, keys: string[]): Promise<ActivityRow[]> {
  const out: ActivityRow[] = [];
  for (const part of chunks(keys, 500))
    for (const r of await soldAsListed(q, part).orderBy('id')) out.push(fromDb(r));
  return out;
}

/** A flight as an activity names it: carrier and number, date and route. */
export interface FlightRef {
  carrier: string;
  flightNumber: string;
  date: string;
  origin: string;
  destination: string;
}

/** The flight a flight activity names. */
export const flightOfActivity = (r: ActivityRow): FlightRef => ({
  carrier: r.carrier!,
  flightNumber: r.flightNumber!,
  date: r.activityDate,
  origin: r.origin!,
  destination: r.destination!,
});

/** A flight as one string, to group activities by. */
export const flightRefKey = (f: FlightRef) =>
  `${f.carrier}${f.flightNumber}:${f.date}:${f.origin}-${f.destination}`;

/** A flight's day and route as one string, whatever its number: where one seat may be listed twice. */
export const routeDayKey = (f: Pick<FlightRef, 'date' | 'origin' | 'destination'>) =>
  `${f.date}:${f.origin}-${f.destination}`;

/**
 * Which of a flight's activities a lookup wants: those of no member of ours (coupons without a card, or
 * on another program's card, for the FTL passenger they may be; passengers on another program's card,
 * for the coupon on ours), those of a card (passengers, for the coupon without one), or, for a passenger
 * on another program's card, those of a card no FTL passenger has completed (coupons on our card) and
 * those that kept such a card as the other record's (the passenger listed again). A flight's passengers
 * are nearly all carded: an FTL passenger asks only for the few without a card, or for the coupons still
 * without their passenger, which are none once the FTL came first.
 *
 * A record on another program's card that was claimed from that program is left out of `cardless`: the
 * claim cannot be withdrawn (alliance claims carry no withdrawal), so it stays what the partner was told.
 */
export type FlightHolders = 'cardless' | 'carded' | 'unlisted';

/** Whether an activity is one of the holders asked for, as `activitiesByFlights` selects them. */
export const heldBy = (
  r: Pick<ActivityRow, 'memberNumber' | 'seenFtl' | 'detail'>,
  holders: FlightHolders,
) =>
  holders === 'cardless'
    ? r.memberNumber === null
    : r.memberNumber !== null &&
      (holders === 'carded' || !r.seenFtl || r.detail?.otherProgramCard !== undefined);

/**
 * The flight activities of the given flights, of the holders asked for. One SELECT per flight, joined by
 * UNION ALL: each is a search of the index on carrier, number, date and origin, where an OR of the flights
 * let SQLite use the index's carrier alone and read every flight of the carrier for each batch.
 */
export async function activitiesByFlights(
  q: Q,
  flights: FlightRef[],
  holders: FlightHolders,
): Promise<ActivityRow[]> {
  const out: ActivityRow[] = [];
  const select = (f: FlightRef) =>
    q('activities')
      .where({
        carrier: f.carrier,
        flight_number: f.flightNumber,
        activity_date: f.date,
        origin: f.origin,
        destination: f.destination,
        type: 'FLIGHT',
      })
      .modify((b) => {
        if (holders === 'cardless')
          b.whereNull('member_number').whereNotExists((s) =>
            s
              .select(q.raw('1'))
              .from('alliance_claims as c')
              .where('c.direction', 'OUT')
              .whereRaw('c.activity_key = activities.activity_key'),
          );
        else b.whereNotNull('member_number');
        if (holders === 'unlisted')
          b.where((w) => w.where('seen_ftl', false).orWhere('detail', 'like', '%"otherProgramCard"%'));
      });
  // 100 flights of 6 bindings stay within SQLite's 500 compound SELECTs and its bound parameters.
  for (const part of chunks(flights, 100)) {
    const [first, ...rest] = part;
    const rows = (await select(first!).unionAll(rest.map(select), false)) as Array<Record<string, unknown>>;
    out.push(...rows.map(fromDb));
  }
  return out;
}

/**
 * The id of the posting each row's `postingKey` names, for the archive's `posting_id`: from the ledger's
 * results where this batch posted it (or found it already posted), read by key for the rest (a flight
 * whose award an earlier night posted, now completed by its coupon).
 */
export async function postingIdsOf(
  q: Q,
  rows: Array<Pick<ActivityRow, 'postingKey'>>,
  results: PostResult[],
): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  for (const r of results) if (r.postingId !== undefined) ids.set(r.key, r.postingId);
  const missing = new Set<string>();
  for (const r of rows) if (r.postingKey !== null && !ids.has(r.postingKey)) missing.add(r.postingKey);
  for (const part of chunks([...missing], 500)) {
    const found = await q('postings').whereIn('idempotency_key', part).select('id', 'idempotency_key');
    for (const f of found) ids.set(f.idempotency_key as string, Number(f.id));
  }
  return ids;
}

/**
 * The predicate of the partial index on the flights that still keep their names as travelled (migrations
 * 009 and 027), written as the index has it: SQLite uses a partial index only for a query that repeats
 * its predicate, and the rows that lost their names can match no claim or coupon by name anyway.
 */
export const keepsTravelNames = (q: Knex.QueryBuilder) =>
  q.whereNotNull('travel_surname').orWhereNotNull('travel_given_name');

/**
 * The passengers with a name as travelled on a route one day, whom a claim by flight is matched against,
 * read through the partial index on the flights that keep their names, by date and route (migration
 * 027): a codeshare's marketing flight is kept in the row's detail, which no index reaches, and only a
 * passenger with a name can match a claim by flight.
 */
export const passengersOfTheDay = (q: Q, date: string, origin: string, destination: string) =>
  q('activities')
    .where({ activity_date: date, type: 'FLIGHT', origin, destination })
    .andWhere(keepsTravelNames);

/**
 * Of the given days' routes, the records a passenger on another program's card listed under a flight
 * number of no record of its own may be the seat of (`mergeFlightDrafts`): records on such a card, and
 * records on ours that a codeshare's coupon or such a card came to. Through the index of
 * `passengersOfTheDay`: the marketing flight and the card kept aside are in the detail.
 */
export async function activitiesByRouteDays(q: Q, flights: FlightRef[]): Promise<ActivityRow[]> {
  const days = [...new Map(flights.map((f) => [routeDayKey(f), f])).values()];
  const select = (f: FlightRef) =>
    passengersOfTheDay(q, f.date, f.origin, f.destination).andWhere((w) =>
      w
        .whereNull('member_number')
        .orWhereNotNull('marketing_key')
        .orWhere('detail', 'like', '%"otherProgramCard"%'),
    );
  const out: ActivityRow[] = [];
  // One SELECT per day and route joined by UNION ALL, as `activitiesByFlights` does.
  for (const part of chunks(days, 100)) {
    const [first, ...rest] = part;
    const rows = (await select(first!).unionAll(rest.map(select), false)) as Array<Record<string, unknown>>;
    out.push(...rows.map(fromDb));
  }
  return out;
}

/**
 * The partner records and hotel stays waiting for the exchange rate of their day (`awaitRate` in
 * rules/accrual.ts), written with the predicate of their partial index (migration 041) as literals, which
 * both engines need to use it: the fx ingest and each night's accrue read those and nothing else of the
 * archive.
 */
export const awaitingRate = (q: Q) =>
  q('activities').whereRaw("status = 'PENDING' AND reason = 'BAD_CURRENCY' AND type IN ('PARTNER', 'HOTEL')");
