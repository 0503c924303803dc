/**
 * `accrue`: turns activities that have work to do into postings. Batches are taken in archive order;
 * each batch's postings and the activities' outcomes are committed together, so a run killed at any
 * moment resumes exactly where it stopped and a rerun finds nothing left to do.
 */
import type { Knex } from 'knex';
import { pgConnection, sqliteHandle } from '../db/connection.js';
import { chunks } from '../lib/chunks.js';
import { addTo } from '../lib/multimap.js';
import { addDays, dateInZone, endOfMonth, startOfMonth, type IsoDate } from '../lib/dates.js';
import { poolPointsAccount } from '../ledger/accounts.js';
import { Ledger } from '../ledger/ledger.js';
import { isReversal, type PostResult, type PostingRequest } from '../ledger/types.js';
import { earnedPoints, lastStandingEarnings } from '../ledger/queries.js';
import {
  cancellationsDueBy,
  decide,
  reasonDetailOf,
  refusedByLedger,
  WAITING_CANCELLATION,
  type AccrualContext,
  type AccrualDecision,
  type ActivityUpdate,
  type OriginalActivity,
} from '../rules/accrual.js';
import {
  cancellationKey,
  claimedFlight,
  claimName,
  partnerKey,
  redemptionKey,
  reversalKey,
  type ActivityRow,
} from '../rules/activity.js';
import type { MemberFacts } from '../rules/eligibility.js';
import { FxTable } from '../rules/fx.js';
import { Program } from '../rules/program.js';
import { activitiesByKeys, awaitingRate, fromDb, postingIdsOf, toDb } from './activities.js';
import { nextToStand, otherKeys, standingFields } from './ingest-feeds.js';
import { reinstateExpiries, standingEarnings, type Earning } from './expire.js';
import { processRetroClaims } from './retro-claims.js';
import type { Job, JobContext, JobResult } from './types.js';

type Q = Knex | Knex.Transaction;

const BATCH = 5_000;

export async function loadFxTable(q: Q): Promise<FxTable> {
  const rows = await q('fx_rates').select('rate_date', 'currency', 'rate');
  return new FxTable(
    rows.map((r: { rate_date: string; currency: string; rate: string }) => ({
      date: r.rate_date,
      currency: r.currency,
      rate: r.rate,
    })),
  );
}

export async function loadMembers(q: Q, numbers: Iterable<string>): Promise<Map<string, MemberFacts>> {
  const list = [...new Set(numbers)];
  const out = new Map<string, MemberFacts>();
  for (const part of chunks(list, 500)) {
    // Former names come in the same read: a member without any adds no row, one with them a row each.
    const rows = await q('members as m')
      .leftJoin('pools as p', 'p.id', 'm.pool_id')
      .leftJoin('member_names as n', 'n.member_id', 'm.id')
      .whereIn('m.number', part)
      .select(
        'm.id',
        'm.number',
        'm.status',
        'm.merged_into',
        'm.closed_on',
        'm.enrolment_date',
        'm.surname',
        'm.given_name',
        'm.surname_local',
        'm.given_name_local',
        'm.erased_at',
        'm.tier',
        'm.tier_since',
        'p.code as pool_code',
        'm.pool_since',
        'n.surname as former_surname',
        'n.given_name as former_given_name',
        'n.surname_local as former_surname_local',
        'n.given_name_local as former_given_name_local',
        'n.valid_until as former_until',
      );
    const past = new Map<number, MemberFacts['pastPools'][number][]>();
    for (const r of (await q('past_pool_memberships as pm')
      .join('pools as p', 'p.id', 'pm.pool_id')
      // One row per former name: each member once.
      .whereIn('pm.member_id', [...new Set(rows.map((m) => m.id))])
      .orderBy('pm.id')
      .select('pm.member_id as memberId', 'p.code', 'pm.since', 'pm.until')) as Array<{
      memberId: number | string;
      code: string;
      since: IsoDate | null;
      until: IsoDate;
    }>) {
      addTo(past, Number(r.memberId), { code: r.code, since: r.since ?? null, until: r.until });
    }
    for (const r of rows) {
      let member = out.get(r.number);
      if (!member) {
        member = {
          id: Number(r.id),
          number: r.number,
          status: r.status,
          mergedInto: r.merged_into ?? null,
          closedOn: r.closed_on ? String(r.closed_on).slice(0, 10) : null,
          enrolmentDate: r.enrolment_date ?? null,
          surname: r.surname ?? null,
          givenName: r.given_name ?? null,
          surnameLocal: r.surname_local ?? null,
          givenNameLocal: r.given_name_local ?? null,
          erased: r.erased_at !== null && r.erased_at !== undefined,
          tier: r.tier,
          tierSince: r.tier_since ?? null,
          poolCode: r.pool_code ?? null,
          poolSince: r.pool_since ? String(r.pool_since).slice(0, 10) : null,
          pastPools: past.get(Number(r.id)) ?? [],
        };
        out.set(r.number, member);
      }
      if (r.former_until)
        (member.formerNames ??= []).push({
          surname: r.former_surname ?? null,
          givenName: r.former_given_name ?? null,
          surnameLocal: r.former_surname_local ?? null,
          givenNameLocal: r.former_given_name_local ?? null,
          validUntil: String(r.former_until).slice(0, 10),
        });
    }
  }
  return out;
}

/** What of an activity decides the cap period its points count in. */
type CapFacts = Pick<ActivityRow, 'type' | 'memberNumber' | 'partnerCode' | 'activityType' | 'activityDate'>;

/** The key of the partner credit a partner reversal names; undefined for any other row. */
const reversedCreditKey = (r: ActivityRow): string | undefined =>
  r.type === 'PARTNER' && r.reversalOfRef ? partnerKey(r.partnerCode ?? '', r.reversalOfRef) : undefined;

/**
 * An activity as a later reversal or cancellation sees it, read from the archive or decided this batch;
 * `rejectedOn`, the night a rejected one was refused.
 */
function originalOf(row: ActivityRow, rejectedOn: IsoDate): OriginalActivity & { capped: CapFacts } {
  return {
    activityKey: row.activityKey,
    status: row.status,
    reason: row.reason,
    rejectedOn,
    postingKey: row.postingKey,
    statusPostingKey: row.statusPostingKey,
    points: Math.abs(row.points ?? 0),
    activityDate: row.activityDate,
    memberNumber: row.memberNumber,
    needsAccrual: row.needsAccrual,
    pointsRequested: row.pointsRequested,
    spendMinor: row.spendMinor,
    spendCurrency: row.spendCurrency,
    serviceType: row.serviceType,
    capped: row,
  };
}

async function loadOriginals(
  q: Q,
  rows: ActivityRow[],
): Promise<Map<string, OriginalActivity & { capped: CapFacts }>> {
  const keys = new Set<string>();
  for (const r of rows) {
    const credit = reversedCreditKey(r);
    if (credit !== undefined) keys.add(credit);
    if (r.type === 'REDEMPTION' && r.activityType === 'CANCEL' && r.reversalOfRef)
      keys.add(redemptionKey(r.reversalOfRef));
  }
  const out = new Map<string, OriginalActivity & { capped: CapFacts }>();
  const list = [...keys];
  for (const part of chunks(list, 500)) {
    const found = await q('activities')
      .whereIn('activity_key', part)
      .select(
        'activity_key',
        'status',
        'posting_key',
        'status_posting_key',
        'points',
        'activity_date',
        'type',
        'member_number',
        'partner_code',
        'activity_type',
        'points_requested',
        'spend_minor',
        'spend_currency',
        'service_type',
        'needs_accrual',
        'reason',
        'business_date',
        'rejected_on',
      );
    // A reject waited on is the night's that made it (`rejected_on`), any other the night that read it.
    for (const f of found)
      out.set(f.activity_key, originalOf(fromDb(f), (f.rejected_on ?? f.business_date) as IsoDate));
  }
  return out;
}

/**
 * Postings of flights decided again that an earlier night already reversed: a second correction
 * (refunded, then exchanged) must not offer the same reversal again, and a flight taken back gets no
 * status credit later.
 */
export async function loadReversed(q: Q, rows: ActivityRow[]): Promise<Set<string>> {
  // Reversal key → the posting it reverses.
  const keys = new Map<string, string>();
  for (const r of rows) {
    if (r.type !== 'FLIGHT' || (r.postingKey === null && (!r.couponStatus || r.couponStatus === 'F')))
      continue;
    for (const k of [r.postingKey, r.statusPostingKey, r.detail?.adjustedBy])
      if (k) keys.set(reversalKey(k), k);
  }
  const out = new Set<string>();
  const list = [...keys.keys()];
  for (const part of chunks(list, 500)) {
    const found = await q('postings').whereIn('idempotency_key', part).pluck('idempotency_key');
    for (const k of found as string[]) out.add(keys.get(k)!);
  }
  return out;
}

/** An award that stands for a member's flight: its activity, and its ticket when a coupon confirmed it. */
export interface CreditedFlight {
  activityKey: string;
  ticketNumber: string | null;
}

/** A member's flights of one route and day: those the check for the same flight twice compares. */
const routeDayOf = (r: Pick<ActivityRow, 'memberNumber' | 'activityDate' | 'origin' | 'destination'>) =>
  `${r.memberNumber}|${r.activityDate}|${r.origin}|${r.destination}`;

/** An award that stands: posted, and not taken back. */
const standsCredited = (r: Pick<ActivityRow, 'status' | 'postingKey'>) =>
  (r.status === 'POSTED' || r.status === 'PARTIAL') && r.postingKey !== null;

/**
 * Flights already credited to the same member on the same date and route (an FTL per marketing carrier
 * lists the passenger again under another flight number): member|date|origin|destination → what stands.
 * A reversed award no longer stands: the flight it was for was not flown.
 */
async function loadCreditedFlights(q: Q, rows: ActivityRow[]): Promise<Map<string, CreditedFlight[]>> {
  const out = new Map<string, CreditedFlight[]>();
  // Member and date pairs, not a date range per member: a member's other flights of the year would come
  // back with every batch that holds one of theirs, the range read ten times what the pairs do.
  const pairs = new Map<string, [string, IsoDate]>();
  for (const r of rows) {
    if (r.type !== 'FLIGHT' || !r.memberNumber || r.postingKey) continue;
    pairs.set(`${r.memberNumber}|${r.activityDate}`, [r.memberNumber, r.activityDate]);
  }
  const list = [...pairs.values()];
  for (const part of chunks(list, 400)) {
    const found = await q('activities')
      .where('type', 'FLIGHT')
      .whereIn(['member_number', 'activity_date'], part)
      .whereNotNull('posting_key')
      .whereIn('status', ['POSTED', 'PARTIAL'])
      .select('member_number', 'activity_date', 'origin', 'destination', 'activity_key', 'ticket_number');
    for (const f of found) {
      const k = routeDayOf({
        memberNumber: f.member_number,
        activityDate: f.activity_date,
        origin: f.origin,
        destination: f.destination,
      });
      let list = out.get(k);
      if (!list) out.set(k, (list = []));
      list.push({ activityKey: f.activity_key as string, ticketNumber: f.ticket_number ?? null });
    }
  }
  return out;
}

/** A partner-airline claim that credited its flight: the claim's key, and its name for the message. */
interface CreditedClaim {
  activityKey: string;
  name: string;
}

/**
 * The claims that credited the batch's claimed flights (`claimedFlight`) before tonight, first credited
 * first: a claim of the same flight under another claim id, from any partner, is refused DUPLICATE.
 */
async function loadCreditedClaims(q: Q, rows: ActivityRow[]): Promise<Map<string, CreditedClaim[]>> {
  const out = new Map<string, CreditedClaim[]>();
  const pairs = new Map<string, [string, IsoDate]>();
  for (const r of rows)
    if (r.type === 'PARTNER_FLIGHT' && r.memberNumber)
      pairs.set(`${r.memberNumber}|${r.activityDate}`, [r.memberNumber, r.activityDate]);
  for (const part of chunks([...pairs.values()], 400)) {
    const found = await q('activities')
      .where('type', 'PARTNER_FLIGHT')
      .whereIn(['member_number', 'activity_date'], part)
      .whereNotNull('posting_key')
      .whereIn('status', ['POSTED', 'PARTIAL'])
      .orderBy('id');
    for (const r of found.map(fromDb))
      addTo(out, claimedFlight(r), { activityKey: r.activityKey, name: claimName(r) });
  }
  return out;
}

function periodOf(period: 'month' | 'year', date: IsoDate): { from: IsoDate; to: IsoDate } {
  return period === 'month'
    ? { from: startOfMonth(date), to: endOfMonth(date) }
    : { from: `${date.slice(0, 4)}-01-01`, to: `${date.slice(0, 4)}-12-31` };
}

/**
 * Points a member earned from a partner in a cap period, read once per (member, partner, period) and kept
 * current. A member's count holds what the partner credited to the accounts merged into theirs: the
 * merge moved those points to them, a reversal of such a credit takes them back from them, and one person
 * merged from two accounts has one cap, not one per account.
 */
export class PeriodPoints {
  private readonly cache = new Map<string, number>();
  /**
   * Of each account merged away, the account its points are in now (the end of its chain of merges), and
   * of each such account the accounts merged into it: read once a run, when a count is first read, as
   * nothing of a member changes while accrue runs.
   */
  private merges?: { holder: Map<string, string>; mergedIn: Map<string, string[]> };
  constructor(private readonly q: () => Q) {}

  /**
   * The account `member`'s credits count in: its own, or the one it was merged into since, which holds
   * its points and status credits now (once the merges are read: `readMerges`, or a count's first read).
   */
  holderOf(member: string): string {
    return this.merges?.holder.get(member) ?? member;
  }

  /**
   * Reads the merges once a run (as for the counts), for what a later night posts for an activity of a
   * merged member to go to the account at the end of its chain of merges (`holderOf`).
   */
  async readMerges(q: Q): Promise<void> {
    this.merges ??= await this.loadMerges(q);
  }

  // The kind is part of the key: January and the calendar year start on the same day, and a month's
  // count read as the year's would leave a yearly cap the room of one month.
  key(member: string, partner: string, period: 'month' | 'year', date: IsoDate): string {
    const p = periodOf(period, date);
    return `${this.holderOf(member)}|${partner}|${period}|${p.from}`;
  }

  /**
   * Reads the points already credited in each cap period the rows fall in. `q` is the batch's
   * transaction when there is one: on SQLite a read on another connection would wait for the
   * transaction's lock for ever.
   */
  async prime(rows: CapFacts[], program: Program, q: Q = this.q()): Promise<void> {
    for (const r of rows) {
      if ((r.type !== 'PARTNER' && r.type !== 'HOTEL') || !r.memberNumber || !r.partnerCode) continue;
      // Every kind the partner caps by, not only the row's contract's: `add` counts the row's points in
      // each, and a count it started unread would stand for the period's whole.
      for (const period of program.capPeriods(r.partnerCode))
        await this.read(q, r.memberNumber, r.partnerCode, period, r.activityDate);
    }
  }

  /**
   * Reads which accounts were merged into which. By their status, which is indexed (`merged_into` is not):
   * merged accounts are few, and the members who have one are known without asking for each member.
   */
  private async loadMerges(q: Q): Promise<NonNullable<PeriodPoints['merges']>> {
    const into = new Map<string, string>();
    for (const m of (await q('members')
      .where('status', 'MERGED')
      .whereNotNull('merged_into')
      .select('number', 'merged_into')) as Array<{ number: string; merged_into: string }>)
      into.set(m.number, m.merged_into);
    const holder = new Map<string, string>();
    const mergedIn = new Map<string, string[]>();
    for (const number of into.keys()) {
      // An account merged into one merged on since keeps the first survivor's number: the points are
      // where the chain ends. A chain coming back round (which the members feed refuses) ends where it
      // would repeat.
      let at = number;
      const seen = new Set([at]);
      for (let next = into.get(at); next !== undefined && !seen.has(next); next = into.get(at)) {
        seen.add(next);
        at = next;
      }
      if (at === number) continue;
      holder.set(number, at);
      addTo(mergedIn, at, number);
    }
    return { holder, mergedIn };
  }

  private async read(
    q: Q,
    member: string,
    partner: string,
    period: 'month' | 'year',
    date: IsoDate,
  ): Promise<void> {
    this.merges ??= await this.loadMerges(q);
    const k = this.key(member, partner, period, date);
    if (this.cache.has(k)) return;
    const holder = this.holderOf(member);
    const accounts = [holder, ...(this.merges.mergedIn.get(holder) ?? [])];
    const p = periodOf(period, date);
    // A reversal's own row is left out: the credit it reverses is REVERSED and no longer counts, so
    // counting the reversal's negative points as well would free the room twice.
    const row = await q('activities')
      .whereIn('member_number', accounts)
      .andWhere('partner_code', partner)
      .whereIn('status', ['POSTED', 'PARTIAL'])
      .whereNull('reversal_of_ref')
      .andWhere('activity_date', '>=', p.from)
      .andWhere('activity_date', '<=', p.to)
      .sum({ total: 'points' })
      .first();
    this.cache.set(k, Number(row?.total ?? 0));
  }

  get(member: string, partner: string, period: 'month' | 'year', date: IsoDate): number {
    return this.cache.get(this.key(member, partner, period, date)) ?? 0;
  }

  add(member: string, partner: string, period: 'month' | 'year', date: IsoDate, points: number): void {
    const k = this.key(member, partner, period, date);
    this.cache.set(k, (this.cache.get(k) ?? 0) + points);
  }
}

export interface AccrueState {
  program: Program;
  fx: FxTable;
  periods: PeriodPoints;
  /**
   * Members read so far in this run. Nothing the rules read of a member (status, names, tier, pool)
   * changes while accrue runs: the members feed is applied by ingest and tiers move afterwards.
   */
  members?: Map<string, MemberFacts>;
  /** The day of the run by the clock: an activity read from no registered file came in today. */
  today: IsoDate;
  /** The day each registered file came in, by id, read as the batches name them. */
  receivedDates?: Map<number, IsoDate>;
  /** When the rows' files came in where the registry does not know them (the simulator's files). */
  receivedOf?: (row: ActivityRow) => IsoDate | undefined;
  /** Tier changes of members whose tier changed after an activity of theirs, read as batches need them. */
  tierChanges?: Map<number, TierChange[]>;
  /**
   * Pools met whose group id no account code can carry (stored before the members feed refused one),
   * with their members met: those earn into and redeem from their own accounts, which the operator is told.
   */
  unnamedPools?: Map<string, Set<string>>;
}

/** Notes the pools of `member` that cannot name an account (`pointsAccount` passes them by). */
function noteUnnamedPools(state: AccrueState, member: MemberFacts): void {
  for (const code of [member.poolCode, ...member.pastPools.map((p) => p.code)]) {
    if (code === null || poolPointsAccount(code) !== null) continue;
    const pools = (state.unnamedPools ??= new Map<string, Set<string>>());
    const members = pools.get(code) ?? new Set<string>();
    pools.set(code, members.add(member.number));
  }
}

/** A tier event as the tier bonus reads it: from which tier, from which date (`effective_on`). */
interface TierChange {
  on: IsoDate;
  from: string;
}

/**
 * The tier a member held on `date`: the current one unless it changed on or after that date, and then the
 * one the first such change left. A tier moves on the night after accrue (the tiers job), so a change
 * on the activity's own date came after it.
 */
function tierOn(member: MemberFacts, date: IsoDate, changes: ReadonlyMap<number, TierChange[]>): string {
  if (member.tierSince === null || member.tierSince < date) return member.tier;
  return changes.get(member.id)?.find((c) => c.on >= date)?.from ?? member.tier;
}

/** Reads the days the rows' files came in (UTC, as `waitsForItsNight` reads them), each file once a run. */
async function loadReceivedDates(
  q: Q,
  state: AccrueState,
  rows: ActivityRow[],
): Promise<Map<number, IsoDate>> {
  const received = (state.receivedDates ??= new Map());
  const unread = new Set<number>();
  for (const r of rows)
    if (r.sourceFileId !== null && !received.has(r.sourceFileId)) unread.add(r.sourceFileId);
  for (const part of chunks([...unread], 500))
    for (const f of (await q('files').whereIn('id', part).select('id', 'received_at')) as Array<{
      id: number;
      received_at: string | Date | null;
    }>)
      received.set(Number(f.id), f.received_at ? dateInZone(new Date(f.received_at), 'UTC') : state.today);
  return received;
}

/** Reads the tier changes of the members the rows need them for (see `tierOn`). */
async function loadTierChanges(
  q: Q,
  state: AccrueState,
  rows: ActivityRow[],
  members: ReadonlyMap<string, MemberFacts>,
): Promise<Map<number, TierChange[]>> {
  const changes = (state.tierChanges ??= new Map());
  const wanted = new Set<number>();
  for (const r of rows) {
    const m = r.memberNumber ? members.get(r.memberNumber) : undefined;
    if (m && m.tierSince !== null && m.tierSince >= r.activityDate && !changes.has(m.id)) wanted.add(m.id);
  }
  for (const id of wanted) changes.set(id, []);
  for (const part of chunks([...wanted], 500))
    for (const e of (await q('tier_events')
      .whereIn('member_id', part)
      .whereRaw('from_tier <> to_tier')
      .orderBy([{ column: 'effective_on' }, { column: 'id' }])
      .select('member_id', 'effective_on', 'from_tier')) as Array<{
      member_id: number;
      effective_on: string;
      from_tier: string;
    }>)
      changes.get(Number(e.member_id))!.push({ on: e.effective_on, from: e.from_tier });
  return changes;
}

/** The decision context of a batch, which must hear of each decision before the next row is decided. */
export interface BatchContext extends AccrualContext {
  /**
   * Makes a row just decided the original that later rows of the batch may reverse or cancel: a partner
   * file can carry a credit and its reversal, and both arrive on the same night.
   */
  decided(row: ActivityRow): void;
}

/** How a pass of the night decides its rows, besides what the database holds. */
export interface PassOptions {
  /** The night's last pass: every redemption of the night is debited (see `AccrualContext`). */
  redemptionsSettled?: boolean;
  /**
   * The pass after the night's credits: a reversal whose credit is still marked is decided now, its
   * credit waiting for a night of its own, and no longer put off (see `accrueBatch`).
   */
  creditsDecided?: boolean;
}

/**
 * The order a batch's rows are decided in: as they came, except that a partner's reversal listed before
 * the credit it names (earlier in the file, or in an earlier file of the night) is decided after the
 * batch's other rows. A partner reads the file as a whole, and the night holds the credit: taken in turn,
 * the reversal would find nothing to reverse and the credit would stand. Accrue and the simulator both
 * decide in this order.
 */
export function inDecisionOrder(rows: readonly ActivityRow[]): ActivityRow[] {
  const at = new Map(rows.map((r, i) => [r.activityKey, i]));
  const first: ActivityRow[] = [];
  const after: ActivityRow[] = [];
  rows.forEach((r, i) => {
    const key = reversedCreditKey(r);
    const credit = key === undefined ? undefined : at.get(key);
    (credit !== undefined && credit > i ? after : first).push(r);
  });
  return [...first, ...after];
}

/** How far a chain of merges is followed from a credited member (merges since keep it at one step). */
const MERGE_HOPS = 8;

/** Builds the pure decision context for a batch from what is in the database. */
export async function contextFor(
  q: Q,
  state: AccrueState,
  businessDate: IsoDate,
  rows: ActivityRow[],
  options: PassOptions = {},
): Promise<BatchContext> {
  const cache = (state.members ??= new Map());
  // Emptied before the batch's missing members are listed: emptied after, the members it already held
  // would be neither kept nor read again, and this batch would find them unknown.
  if (cache.size > 200_000) cache.clear();
  // Each member read is kept, and the pools no account can name among them noted.
  const keep = (found: Map<string, MemberFacts>) => {
    for (const [k, v] of found) {
      cache.set(k, v);
      noteUnnamedPools(state, v);
    }
  };
  const missing = new Set<string>();
  for (const r of rows) if (r.memberNumber && !cache.has(r.memberNumber)) missing.add(r.memberNumber);
  if (missing.size > 0) keep(await loadMembers(q, missing));
  const members = cache;
  const received = await loadReceivedDates(q, state, rows);
  const tierChanges = await loadTierChanges(q, state, rows, members);
  const originals = await loadOriginals(q, rows);
  // A partner may send a reversal under the number of the account its member was merged into: the
  // credited members, and the accounts they were merged into, are read to tell.
  let chain = new Set<string>();
  for (const o of originals.values())
    if (o.memberNumber && !cache.has(o.memberNumber)) chain.add(o.memberNumber);
  for (let hop = 0; hop < MERGE_HOPS && chain.size > 0; hop++) {
    const found = await loadMembers(q, chain);
    keep(found);
    chain = new Set(
      [...found.values()].flatMap((m) => (m.mergedInto && !cache.has(m.mergedInto) ? [m.mergedInto] : [])),
    );
  }
  const credited = await loadCreditedFlights(q, rows);
  // What the batch's rows say of themselves, and each decision of the batch, is newer than what the
  // archive was read for: a coupon has given an FTL credit its ticket (the simulator keeps its own copies
  // of the rows), or a flight decided before the next one was taken back and no longer stands.
  const standing = (row: ActivityRow) => {
    if (row.type !== 'FLIGHT' || !row.memberNumber) return;
    const k = routeDayOf(row);
    const list = (credited.get(k) ?? []).filter((f) => f.activityKey !== row.activityKey);
    if (standsCredited(row))
      list.push({ activityKey: row.activityKey, ticketNumber: row.ticketNumber ?? null });
    if (list.length > 0 || credited.has(k)) credited.set(k, list);
  };
  for (const r of rows) standing(r);
  // Likewise for claims: a claim of the batch credits its flight only once decided so, in claim order.
  const claims = await loadCreditedClaims(q, rows);
  const claimStanding = (row: ActivityRow) => {
    if (row.type !== 'PARTNER_FLIGHT' || !row.memberNumber) return;
    const k = claimedFlight(row);
    const list = (claims.get(k) ?? []).filter((c) => c.activityKey !== row.activityKey);
    if (standsCredited(row)) list.push({ activityKey: row.activityKey, name: claimName(row) });
    claims.set(k, list);
  };
  for (const r of rows) claimStanding(r);
  const reversed = await loadReversed(q, rows);
  // A reversal's points count in its original's period, which this batch may not otherwise touch.
  await state.periods.prime([...rows, ...[...originals.values()].map((o) => o.capped)], state.program, q);
  const creditedNow = new Map<string, CreditedFlight[]>();
  await state.periods.readMerges(q);
  // A redemption issued before its member was merged away debits the account the merge moved the points
  // to: the end of the chain, read for its pool.
  const holders = new Set<string>();
  for (const r of rows) {
    const m = r.type === 'REDEMPTION' && r.memberNumber ? members.get(r.memberNumber) : undefined;
    const holder = m?.status === 'MERGED' ? state.periods.holderOf(m.number) : undefined;
    if (holder !== undefined && !members.has(holder)) holders.add(holder);
  }
  if (holders.size > 0) keep(await loadMembers(q, holders));
  return {
    program: state.program,
    businessDate,
    fx: state.fx,
    members,
    holderOf: (member) => state.periods.holderOf(member),
    redemptionsSettled: options.redemptionsSettled ?? false,
    periodPoints: (m, p, period, date) => state.periods.get(m, p, period, date),
    creditedSameFlight: (row) => {
      const k = routeDayOf(row);
      const same = (f: CreditedFlight) => f.activityKey !== row.activityKey && sameSeat(f, row);
      if (credited.get(k)?.some(same) || creditedNow.get(k)?.some(same)) return true;
      let now = creditedNow.get(k);
      if (!now) creditedNow.set(k, (now = []));
      now.push({ activityKey: row.activityKey, ticketNumber: row.ticketNumber ?? null });
      return false;
    },
    claimedBefore: (row) =>
      claims.get(claimedFlight(row))?.find((c) => c.activityKey !== row.activityKey)?.name,
    original: (key) => originals.get(key),
    decided: (row) => {
      if (row.type === 'PARTNER' || row.type === 'REDEMPTION')
        originals.set(row.activityKey, originalOf(row, businessDate));
      standing(row);
      claimStanding(row);
    },
    reversed: (key) => reversed.has(key),
    tierOn: (member, date) => tierOn(member, date, tierChanges),
    receivedOn: (row) =>
      state.receivedOf?.(row) ??
      (row.sourceFileId !== null ? received.get(row.sourceFileId) : undefined) ??
      state.today,
  };
}

/**
 * Whether a credited flight and another record of the same member, date and route are one journey. Two
 * coupons of different tickets are two flights (out on the morning shuttle, again in the evening); a
 * record without a ticket (an FTL listing, say under a marketing flight number) cannot show it is another
 * flight, so it is taken as the one already credited.
 */
function sameSeat(credited: CreditedFlight, row: ActivityRow): boolean {
  return !(credited.ticketNumber && row.ticketNumber && credited.ticketNumber !== row.ticketNumber);
}

/**
 * Whether a flight just decided may tell apart another of its route and day kept as the same seat: one
 * credited before this decision (`awardedBefore`) that now has a ticket, whatever became of it. Its
 * coupon has given the credit its ticket, or taken it back: refunded or exchanged (REVERSED), or ticketed
 * to another passenger (REJECTED NAME_MISMATCH); a credit taken back stands in no one's way either way.
 */
export function mayFreeDuplicates(row: ActivityRow, awardedBefore: boolean): boolean {
  return row.type === 'FLIGHT' && row.memberNumber !== null && row.ticketNumber !== null && awardedBefore;
}

/**
 * The member's flights of the freers' dates kept REJECTED DUPLICATE with a ticket of their own: those
 * `freedBy` may release. Read from the archive; the simulator judges its own copies of them.
 */
export async function keptAsSameSeat(q: Q, freers: readonly ActivityRow[]): Promise<ActivityRow[]> {
  const pairs = new Map<string, [string, IsoDate]>();
  for (const r of freers) pairs.set(`${r.memberNumber}|${r.activityDate}`, [r.memberNumber!, r.activityDate]);
  const out: ActivityRow[] = [];
  for (const part of chunks([...pairs.values()], 400)) {
    const found = await q('activities')
      .where({ type: 'FLIGHT', status: 'REJECTED', reason: 'DUPLICATE' })
      .whereIn(['member_number', 'activity_date'], part)
      .whereNotNull('ticket_number')
      .orderBy('id');
    out.push(...found.map((r: Record<string, unknown>) => fromDb(r)));
  }
  return out;
}

/**
 * Of `kept`, the flights a freer now tells apart, to be decided again the same night: refused by the
 * rules as the same seat as a credit of their route and day (`flight` the field at fault), on a ticket
 * other than the freer's. A ticket on each side says two seats, whichever coupon came first; until both
 * have one, a rebooked passenger listed on both flights' FTLs could be credited twice. A second coupon
 * ingest keeps beside the one standing for its own flight (`ticket_number` at fault) is ingest's to
 * requeue, when that coupon is corrected away.
 */
export function freedBy(
  freers: readonly ActivityRow[],
  kept: readonly ActivityRow[],
): Map<ActivityRow, ActivityRow> {
  const byRouteDay = new Map<string, ActivityRow[]>();
  for (const f of freers) {
    const k = routeDayOf(f);
    byRouteDay.set(k, [...(byRouteDay.get(k) ?? []), f]);
  }
  // Each freed flight with the first freer that told it apart.
  const out = new Map<ActivityRow, ActivityRow>();
  for (const r of kept) {
    if (r.status !== 'REJECTED' || r.reason !== 'DUPLICATE' || r.reasonField !== 'flight') continue;
    if (r.ticketNumber === null) continue;
    const by = byRouteDay
      .get(routeDayOf(r))
      ?.find((f) => f.activityKey !== r.activityKey && f.ticketNumber !== r.ticketNumber);
    if (by) out.set(r, by);
  }
  return out;
}

/**
 * Whether a flight just decided has its own coupon refused for the coupon's name (another passenger's
 * ticket on the member's card, its credit taken back or never made): that coupon no longer stands for the
 * flight, and one of another ticket that ingest kept beside it as the same seat may be the member's own.
 */
export function refusedItsCoupon(row: ActivityRow): boolean {
  return (
    row.type === 'FLIGHT' &&
    row.seenCoupon &&
    row.couponStatus === 'F' &&
    row.status === 'REJECTED' &&
    row.reason === 'NAME_MISMATCH'
  );
}

/**
 * The coupons kept beside flights whose own coupon was refused for its name (`refusedItsCoupon`) that now
 * stand in its place, each with the refused row that let it: the correction `recheck` of ingest, for a
 * refusal only accrue can make. `byKeys` reads activities: the archive at night, within the batch's
 * transaction; the simulator's own copies. The refused rows are newer than what it reads.
 */
export async function standingInstead(
  refused: readonly ActivityRow[],
  byKeys: (keys: string[]) => Promise<Map<string, ActivityRow>>,
): Promise<Map<ActivityRow, ActivityRow>> {
  const flightOf = (r: ActivityRow) => r.detail?.flightActivity ?? r.activityKey;
  const own = new Map(refused.map((r) => [r.activityKey, r]));
  const flights = await byKeys([...new Set(refused.map(flightOf))].filter((k) => !own.has(k)));
  const rowOf = (k: string) => own.get(k) ?? flights.get(k);
  const kept = await byKeys(
    [...new Set(refused.flatMap((r) => otherKeys(rowOf(flightOf(r)))))].filter((k) => !rowOf(k)),
  );
  const out = new Map<ActivityRow, ActivityRow>();
  for (const r of refused) {
    const flight = rowOf(flightOf(r));
    const next = nextToStand([flight, ...otherKeys(flight).map((k) => rowOf(k) ?? kept.get(k))]);
    if (next && !out.has(next)) out.set(next, r);
  }
  return out;
}

/**
 * Decides one row of a batch, in turn: the decision's effect on the session (caps used) and on the
 * batch (an original a later row may reverse) is recorded before the next row is decided. Accrue and
 * the simulator take every row through here, so what one sees the other does.
 */
export function decideInTurn(ctx: BatchContext, state: AccrueState, row: ActivityRow): AccrualDecision {
  const decision = decide(ctx, row);
  // The next activity's period cap depends on this one: count it before deciding that one (accrue takes
  // it back if the ledger refuses the posting).
  remember(state, row, decision);
  // Decided, unless the decision leaves it with the job (an activity waiting for its own night).
  Object.assign(row, { needsAccrual: false }, decision.update, reasonDetailOf(decision));
  ctx.decided(row);
  return decision;
}

/** Records a decision's effect on the session state (caps); `sign` -1 takes it back (a refused posting). */
export function remember(
  state: AccrueState,
  row: ActivityRow,
  decision: AccrualDecision,
  sign: 1 | -1 = 1,
): void {
  if ((row.type !== 'PARTNER' && row.type !== 'HOTEL') || !row.partnerCode || !decision.update.points) return;
  // A reversal counts where its credit did: that credit's member and period.
  const member = decision.countsIn?.memberNumber ?? row.memberNumber;
  const date = decision.countsIn?.date ?? row.activityDate;
  if (!member) return;
  for (const period of state.program.capPeriods(row.partnerCode))
    state.periods.add(member, row.partnerCode, period, date, sign * decision.update.points);
}

const UPDATE_COLUMNS: Array<[keyof ActivityRow, string]> = [
  ['status', 'status'],
  ['reason', 'reason'],
  ['reasonField', 'reason_field'],
  ['reasonMessage', 'reason_message'],
  ['points', 'points'],
  ['statusCredit', 'status_credit'],
  ['postingKey', 'posting_key'],
  ['statusPostingKey', 'status_posting_key'],
  ['ruleVersion', 'rule_version'],
  ['memberId', 'member_id'],
  ['baseSpendMinor', 'base_spend_minor'],
  ['miles', 'miles'],
  ['needsAccrual', 'needs_accrual'],
];

/**
 * Writes the outcome columns of many activities, with the id of the award posting each names, with one
 * prepared statement (SQLite) or one statement (PostgreSQL).
 */
async function writeOutcomes(
  trx: Knex.Transaction,
  dialect: 'sqlite' | 'postgres',
  rows: ActivityRow[],
  postingIds: Map<string, number>,
  now: string,
): Promise<void> {
  if (rows.length === 0) return;
  const columns = [...UPDATE_COLUMNS.map(([, c]) => c), 'posting_id'];
  // better-sqlite3 binds no booleans; pg binds them as they are.
  const valuesOf = (r: ActivityRow) => [
    ...UPDATE_COLUMNS.map(([k]) =>
      typeof r[k] === 'boolean' && dialect === 'sqlite' ? (r[k] ? 1 : 0) : (r[k] ?? null),
    ),
    r.postingKey === null ? null : (postingIds.get(r.postingKey) ?? null),
  ];
  if (dialect === 'sqlite') {
    const db = await sqliteHandle(trx);
    const st = db.prepare(
      `UPDATE activities SET ${columns.map((c) => `${c} = ?`).join(', ')}, updated_at = ? WHERE id = ?`,
    );
    for (const r of rows) st.run(...valuesOf(r), now, r.id);
    return;
  }
  const types: Record<string, string> = {
    status: 'text',
    reason: 'text',
    reason_field: 'text',
    reason_message: 'text',
    points: 'int',
    status_credit: 'bigint',
    posting_key: 'text',
    status_posting_key: 'text',
    rule_version: 'text',
    member_id: 'int',
    base_spend_minor: 'bigint',
    miles: 'int',
    needs_accrual: 'bool',
    posting_id: 'bigint',
  };
  const byRow = rows.map((r) => valuesOf(r));
  const values = [rows.map((r) => r.id), ...columns.map((_, i) => byRow.map((v) => v[i]))];
  await (
    await pgConnection(trx)
  ).query(
    `UPDATE activities a SET ${columns.map((c) => `${c} = v.${c}`).join(', ')}, updated_at = $1
       FROM (SELECT * FROM unnest($2::bigint[], ${columns.map((c, i) => `$${i + 3}::${types[c]}[]`).join(', ')}) AS t(id, ${columns.join(', ')})) v
      WHERE a.id = v.id`,
    [now, ...values],
  );
}

/**
 * A redemption decided, debited or refused: a cancellation that came first may be waiting for it, to be
 * applied, or rejected as the cancellation of a redemption refused (it waits no more either way).
 */
export const isDecidedRedemption = (row: ActivityRow) =>
  row.type === 'REDEMPTION' &&
  row.activityType === 'ISSUE' &&
  (row.status === 'POSTED' || row.status === 'REJECTED');

export const isWaitingCancellation = (row: Pick<ActivityRow, 'status' | 'reason'>) =>
  row.status === WAITING_CANCELLATION.status && row.reason === WAITING_CANCELLATION.reason;

/**
 * The cancellations still waiting for their redemption whose wait has ended by the night of
 * `businessDate` (`cancellationRejectedOn`), among the cancellations only: written with the predicate of
 * their partial index (migration 014), so that the night reads those and nothing else of the archive.
 */
export const overdueCancellations = (q: Q, program: Program, businessDate: IsoDate) =>
  q('activities')
    .whereRaw("type = 'REDEMPTION' AND activity_type = 'CANCEL'")
    .andWhere(WAITING_CANCELLATION)
    .andWhere('business_date', '<=', cancellationsDueBy(program.config, businessDate));

/**
 * What the night says of partner spend waiting for its day's exchange rate: a rates feed a night late is
 * normal, one that has stopped is not, and neither may go unseen while partners' answers wait on it.
 */
async function awaitingRateWarnings(
  q: Q,
  fx: FxTable,
  rejectedTonight: number,
  maxStaleDays: number,
): Promise<{ waiting: number; warnings: string[] }> {
  const days = (await awaitingRate(q)
    .groupBy('activity_date')
    .orderBy('activity_date')
    .select('activity_date')
    .count({ n: '*' })) as Array<{ activity_date: IsoDate; n: number | string }>;
  const warnings: string[] = [];
  const loaded = fx.reachedOn() ?? 'none';
  const waiting = days.reduce((total, d) => total + Number(d.n), 0);
  if (waiting > 0) {
    warnings.push(
      `${waiting} partner record(s) or hotel stay(s) wait for the exchange rates of ${days.map((d) => d.activity_date).join(', ')}, business days not loaded yet (rates loaded up to ${loaded}): decided when the rates feed brings them`,
    );
  }
  if (rejectedTonight > 0)
    warnings.push(
      `${rejectedTonight} partner record(s) or hotel stay(s) rejected BAD_CURRENCY: the exchange rates of their day had not come fx.maxStaleDays (${maxStaleDays}) nights after it (rates loaded up to ${loaded}): check that the rates feed (fx) is still fetched, then see the BAD_CURRENCY rejects in the night's daily report`,
    );
  return { waiting, warnings };
}

export interface BatchOutcome {
  /** Rows decided (those put off are not). */
  rows: number;
  /** Ids of the reversals left for the pass after the night's credits: their credit is in a later batch. */
  putOff: number[];
  /** Ids of the redemptions this batch debited or refused (`isDecidedRedemption`). */
  redemptions: string[];
  posted: number;
  rejected: number;
  postings: number;
  /** Points reversals could not take back, the members having spent them (charged to UNRECOVERED). */
  unrecovered: number;
  /** Rows left with the job: dated after the night, they wait for the night of their date. */
  waiting: number;
  /** Ids of flights kept as the same seat that this batch's flights now tell apart (`freedBy`), marked. */
  freed: number[];
  /** Inactivity expiries the batch's earnings showed should not have happened, reversed, and their points. */
  reinstated: { expiries: number; points: number; refused: number };
  byStatus: Record<string, number>;
  byReason: Record<string, number>;
}

/** Decides and posts one batch of activities in one transaction. */
export async function accrueBatch(
  ctx: JobContext,
  ledger: Ledger,
  state: AccrueState,
  all: ActivityRow[],
  options: PassOptions = {},
): Promise<BatchOutcome> {
  const outcome: BatchOutcome = {
    rows: 0,
    putOff: [],
    redemptions: [],
    posted: 0,
    rejected: 0,
    postings: 0,
    unrecovered: 0,
    waiting: 0,
    freed: [],
    reinstated: { expiries: 0, points: 0, refused: 0 },
    byStatus: {},
    byReason: {},
  };
  const now = ctx.now().toISOString();
  await ctx.db.transaction(async (trx) => {
    const decisionCtx = await contextFor(trx, state, ctx.businessDate, all, options);
    // A reversal whose credit a later batch of the pass decides is left marked, for the pass after the
    // night's credits (`creditsDecided`): within a batch `inDecisionOrder` puts it after its credit.
    const inBatch = new Set(all.map((r) => r.activityKey));
    const rows = options.creditsDecided
      ? all
      : all.filter((r) => {
          const key = reversedCreditKey(r);
          if (key === undefined) return true;
          const put = !inBatch.has(key) && decisionCtx.original(key)?.needsAccrual === true;
          if (put) outcome.putOff.push(r.id!);
          return !put;
        });
    outcome.rows = rows.length;
    const requests: PostingRequest[] = [];
    const owners: Array<{ row: ActivityRow; decision: AccrualDecision; planned: number }> = [];
    // Rows an earlier night read and reported waiting (an activity dated ahead, a flight waiting for its
    // coupon, a cancellation for its redemption): rejected tonight, the reject is tonight's, in tonight's
    // report. One rejected already and decided again stays its first night's.
    const waitedSince = new Set(
      rows.filter((row) => row.status !== 'REJECTED' && row.businessDate < ctx.businessDate),
    );
    const awardedBefore = new Set(rows.filter((r) => r.postingKey !== null));
    for (const row of inDecisionOrder(rows)) {
      const decision = decideInTurn(decisionCtx, state, row);
      decision.postings.forEach((p, planned) => {
        requests.push(p.request);
        owners.push({ row, decision, planned });
      });
      (row as ActivityRow & { decision?: AccrualDecision }).decision = decision;
    }
    // A night caught up after a later one decides what that night left waiting: a reversal of a
    // credit the later night posted takes effect on the credit's date, not refused and lost.
    const results: PostResult[] =
      requests.length > 0
        ? await ledger.post(requests, { trx, atomic: false, reversalBeforeOriginal: 'date-at-original' })
        : [];
    results.forEach((result, i) => {
      const { row, decision, planned } = owners[i]!;
      if (result.status === 'refused') {
        remember(state, row, decision, -1);
        const refusal = refusedByLedger(result.reason ?? 'REFUSED', result.message);
        Object.assign(
          row,
          { reasonField: refusal.field, reasonMessage: refusal.message },
          decision.postings[planned]!.onRefused(refusal.reason),
          { needsAccrual: false },
        );
        // Refused, as a later posting of the batch that depends on it (its cancellation) finds it.
        decisionCtx.decided(row);
      } else outcome.postings += result.status === 'posted' ? 1 : 0;
      outcome.unrecovered += result.unrecovered ?? 0;
    });
    const related = new Map<string, ActivityUpdate>();
    const lastActivity = new Map<number, IsoDate>();
    const earnings: Earning[] = [];
    // Written apart from the outcome columns: few rows ever have one, and every row's update is the hot path.
    const rejectedTonight: number[] = [];
    // A flight's award corrected to its coupon's classes names its correction there (`adjustedBy`).
    const detailed: ActivityRow[] = [];
    for (const row of rows) {
      const decision = (row as ActivityRow & { decision?: AccrualDecision }).decision!;
      delete (row as ActivityRow & { decision?: AccrualDecision }).decision;
      if (decision.update.detail !== undefined) detailed.push(row);
      if (row.needsAccrual) outcome.waiting++;
      outcome.byStatus[row.status] = (outcome.byStatus[row.status] ?? 0) + 1;
      if (isDecidedRedemption(row)) outcome.redemptions.push(row.externalRef!);
      if (row.status === 'REJECTED') {
        if (waitedSince.has(row)) rejectedTonight.push(row.id!);
        outcome.rejected++;
        if (row.reason) outcome.byReason[row.reason] = (outcome.byReason[row.reason] ?? 0) + 1;
        continue;
      }
      if (row.status === 'POSTED' || row.status === 'PARTIAL') outcome.posted++;
      for (const r of decision.related) related.set(r.activityKey, r.update);
      if (decision.earnedOn) {
        const d = lastActivity.get(decision.earnedOn.memberId);
        if (!d || d < decision.earnedOn.date)
          lastActivity.set(decision.earnedOn.memberId, decision.earnedOn.date);
        earnings.push({ ...decision.earnedOn, key: row.postingKey });
      }
    }
    await writeOutcomes(trx, ctx.db.dialect, rows, await postingIdsOf(trx, rows, results), now);
    await keepSurvivors(
      trx,
      rows.filter((r) => r.status === 'REJECTED' && r.reason === 'ACCOUNT_CLOSED').map((r) => r.id!),
    );
    for (const part of chunks(rejectedTonight, 500))
      await trx('activities').whereIn('id', part).update({ rejected_on: ctx.businessDate });
    for (const row of detailed)
      await trx('activities')
        .where({ id: row.id! })
        .update(toDb({ detail: row.detail }, now));
    for (const [key, update] of related) {
      await trx('activities')
        .where({ activity_key: key })
        .update({
          status: update.status,
          reason: update.reason ?? null,
          reason_field: update.reasonField ?? null,
          reason_message: update.reasonMessage ?? null,
          updated_at: now,
        });
    }
    await writeLastActivity(trx, ctx.db.dialect, lastActivity);
    await withdrawReversedEarnings(
      trx,
      requests.flatMap((r, i) => (isReversal(r) && results[i]!.status === 'posted' ? [r.reverses] : [])),
    );
    // Marked with the outcomes that free them: a run killed before the job decides them finds them marked.
    const freers = rows.filter((r) => mayFreeDuplicates(r, awardedBefore.has(r)));
    if (freers.length > 0) {
      outcome.freed = [...freedBy(freers, await keptAsSameSeat(trx, freers)).keys()].map((r) => r.id!);
      for (const part of chunks(outcome.freed, 500))
        await trx('activities').whereIn('id', part).update({ needs_accrual: true });
    }
    const refused = rows.filter(refusedItsCoupon);
    if (refused.length > 0) {
      for (const next of (await standingInstead(refused, (keys) => activitiesByKeys(trx, keys))).keys()) {
        await trx('activities')
          .where({ id: next.id! })
          .update(toDb(standingFields(next), now));
        outcome.freed.push(next.id!);
      }
    }
    // An earning that came late may show an inactivity expiry of an earlier night should not have been.
    // Only by earnings that stand: one the batch also reversed was no activity.
    outcome.reinstated = await reinstateExpiries(
      trx,
      ledger,
      state.program,
      ctx.businessDate,
      await standingEarnings(trx, state.program, earnings),
    );
  });
  return outcome;
}

/**
 * The surviving account an ACCOUNT_CLOSED answer names (partner-accrual.md) is the one the member was
 * merged into when the record was rejected, in the transaction that rejects it: read from the member when
 * the answer is built, a merge made since would change a delivered file on its rebuild.
 */
async function keepSurvivors(trx: Knex.Transaction, ids: readonly number[]): Promise<void> {
  for (const part of chunks(ids, 500)) {
    await trx('activities')
      .whereIn('id', part)
      .update({
        merged_into: trx('members')
          .select('merged_into')
          .whereRaw('members.number = activities.member_number'),
      });
  }
}

/**
 * Moves each member's last activity date forward (never back: an old flight credited late does not make
 * a member look recently active). One prepared statement on SQLite, one statement on PostgreSQL: a batch
 * touches thousands of members, and a query built per member cost more than the posting itself.
 */
export async function writeLastActivity(
  trx: Knex.Transaction,
  dialect: 'sqlite' | 'postgres',
  lastActivity: Map<number, IsoDate>,
): Promise<void> {
  if (lastActivity.size === 0) return;
  if (dialect === 'sqlite') {
    const db = await sqliteHandle(trx);
    const st = db.prepare(
      `UPDATE members SET last_activity_date = ?
        WHERE id = ? AND (last_activity_date IS NULL OR last_activity_date < ?)`,
    );
    for (const [memberId, date] of lastActivity) st.run(date, memberId, date);
    return;
  }
  await (
    await pgConnection(trx)
  ).query(
    `UPDATE members m SET last_activity_date = v.d
       FROM (SELECT * FROM unnest($1::bigint[], $2::date[]) AS t(id, d)) v
      WHERE m.id = v.id AND (m.last_activity_date IS NULL OR m.last_activity_date < v.d)`,
    [[...lastActivity.keys()], [...lastActivity.values()]],
  );
}

/**
 * Moves back the last activity date that earnings now reversed had given their members (`reversed`: the
 * keys of the postings reversals took back in this transaction). A refunded flight or a credit its partner
 * reversed was no earning activity: left standing, its date kept the member's points alive under
 * inactivity expiry for a flight never flown. The date becomes that of the member's latest earning that
 * still stands, or of an account merged into it (a merge gives the survivor its date), or none: points
 * then count from enrolment, as for a member who never earned. A member whose date is later than the
 * reversed earning keeps it (a later earning gave it, or one from before the ledger), and so do the
 * accounts it was merged into. Reversals are few: this reads only their members.
 */
async function withdrawReversedEarnings(trx: Knex.Transaction, reversed: readonly string[]): Promise<void> {
  // Per member, the latest date its reversed earnings could have given it.
  let due = new Map<number, IsoDate>();
  const later = <K>(map: Map<K, IsoDate>, id: K, date: IsoDate) => {
    if ((map.get(id) ?? '') < date) map.set(id, date);
  };
  for (const part of chunks(reversed, 500)) {
    const rows = (await trx('postings as p')
      .whereIn('p.idempotency_key', part)
      .andWhere('p.kind', 'ACCRUAL')
      .whereNotNull('p.member_id')
      .modify((b) => earnedPoints(trx, b, 'p'))
      .select('p.member_id as memberId', 'p.activity_date as date')) as Array<{
      memberId: number | string;
      date: string;
    }>;
    for (const r of rows) later(due, Number(r.memberId), String(r.date).slice(0, 10));
  }
  while (due.size > 0) {
    const members: Array<{ id: number; number: string; mergedInto: string | null; last: IsoDate }> = [];
    for (const part of chunks([...due.keys()], 500))
      for (const m of (await trx('members')
        .whereIn('id', part)
        .whereNotNull('last_activity_date')
        .select('id', 'number', 'merged_into', 'last_activity_date')) as Array<Record<string, unknown>>) {
        const last = String(m.last_activity_date).slice(0, 10);
        if (last <= due.get(Number(m.id))!)
          members.push({
            id: Number(m.id),
            number: String(m.number),
            mergedInto: (m.merged_into as string | null) ?? null,
            last,
          });
      }
    const own = await lastStandingEarnings(
      trx,
      members.map((m) => m.id),
    );
    // Only a member whose own earnings no longer reach the date can have it from a merge. Looked up for
    // those alone: `merged_into` has no index, and this reads the members table through.
    const movingBack = members.filter((m) => (own.get(m.id) ?? '') < m.last);
    const mergedIn = new Map<string, IsoDate>();
    for (const part of chunks(
      movingBack.map((m) => m.number),
      500,
    ))
      for (const r of (await trx('members')
        .whereIn('merged_into', part)
        .whereNotNull('last_activity_date')
        .groupBy('merged_into')
        .select('merged_into as survivor')
        .max({ d: 'last_activity_date' })) as Array<{ survivor: string; d: string }>)
        mergedIn.set(r.survivor, String(r.d).slice(0, 10));
    const survivors = new Map<string, IsoDate>();
    for (const m of members) {
      const dates = [own.get(m.id), mergedIn.get(m.number)].filter((d): d is IsoDate => d !== undefined);
      const now = dates.length > 0 ? dates.reduce((a, b) => (a > b ? a : b)) : null;
      if (now === m.last) continue;
      await trx('members').where({ id: m.id }).update({ last_activity_date: now });
      if (m.mergedInto) later(survivors, m.mergedInto, due.get(m.id)!);
    }
    due = new Map();
    for (const part of chunks([...survivors.keys()], 500))
      for (const r of (await trx('members').whereIn('number', part).select('id', 'number')) as Array<{
        id: number | string;
        number: string;
      }>)
        later(due, Number(r.id), survivors.get(r.number)!);
  }
}

/**
 * What accrue takes up, in the order it decides them: every activity still marked, whatever night
 * marked it. The simulator reads the same selection, so what it foretells starts where the night does.
 */
export const markedForAccrual = (knex: Knex) => knex('activities').where('needs_accrual', true).orderBy('id');

/**
 * The activities with work for accrue, BATCH at a time in id order: every one (by keyset, each batch
 * read after the one before has committed), or only those of `ids` that are still marked.
 */
async function* batchesToAccrue(knex: Knex, ids?: number[]): AsyncGenerator<ActivityRow[]> {
  const marked = () => markedForAccrual(knex);
  if (ids) {
    for (const part of chunks(
      [...ids].sort((a, b) => a - b),
      BATCH,
    )) {
      const raw = await marked().whereIn('id', part);
      if (raw.length > 0) yield raw.map((r: Record<string, unknown>) => fromDb(r));
    }
    return;
  }
  let lastId = 0;
  for (;;) {
    const raw = await marked().andWhere('id', '>', lastId).limit(BATCH);
    if (raw.length === 0) return;
    const rows = raw.map((r: Record<string, unknown>) => fromDb(r));
    lastId = rows.at(-1)!.id!;
    yield rows;
  }
}

export const accrueJob: Job = async (ctx: JobContext): Promise<JobResult> => {
  const program = new Program(ctx.config);
  const ledger = new Ledger(ctx.db, { now: ctx.now });
  const state: AccrueState = {
    program,
    fx: await loadFxTable(ctx.db.knex),
    periods: new PeriodPoints(() => ctx.db.knex),
    today: dateInZone(ctx.now(), 'UTC'),
  };
  const counts: Record<string, number> = { activities: 0, posted: 0, rejected: 0, postings: 0 };
  // Partner spend that has waited for its day's rate as long as `awaitRate` lets it: decided tonight,
  // which rejects it, the rates feed having brought nothing for that day or after. Marked first, so a
  // night killed after this decides them when it resumes, and a rerun finds them decided.
  const rateOverdue = (
    await awaitingRate(ctx.db.knex)
      .andWhere('activity_date', '<', addDays(ctx.businessDate, -program.config.fx.maxStaleDays))
      .select('id')
  ).map((r: { id: number | string }) => Number(r.id));
  for (const part of chunks(rateOverdue, 500))
    await ctx.db.knex('activities').whereIn('id', part).update({ needs_accrual: true });
  const pending = Number(
    (await ctx.db.knex('activities').where('needs_accrual', true).count({ n: '*' }).first())?.n ?? 0,
  );
  ctx.progress.start('accrue', pending);
  const redemptions: string[] = [];
  const putOff: number[] = [];
  const freed: number[] = [];
  /** Decides, a batch at a time, the activities waiting for it: all of them, or only those of `ids`. */
  const pass = async (ids?: number[], options: PassOptions = {}) => {
    for await (const rows of batchesToAccrue(ctx.db.knex, ids)) {
      if (ctx.signal?.aborted) break;
      const b = await accrueBatch(ctx, ledger, state, rows, options);
      putOff.push(...b.putOff);
      freed.push(...b.freed);
      // What waits for its own night is counted apart (datedAhead), not as decided.
      counts.activities! += b.rows - b.waiting;
      counts.posted! += b.posted;
      counts.rejected! += b.rejected;
      counts.postings! += b.postings;
      if (b.unrecovered > 0) counts.unrecoveredPoints = (counts.unrecoveredPoints ?? 0) + b.unrecovered;
      for (const [k, v] of Object.entries(b.reinstated))
        if (v > 0) counts[`reinstated.${k}`] = (counts[`reinstated.${k}`] ?? 0) + v;
      redemptions.push(...b.redemptions);
      for (const [k, v] of Object.entries(b.byReason))
        counts[`reject.${k}`] = (counts[`reject.${k}`] ?? 0) + v;
      ctx.progress.increment(b.rows);
    }
  };
  await pass();
  // Reversals listed before their credit in a batch before the credit's, now that the credit is decided.
  // Still marked, so a run killed before this pass decides them when it resumes.
  if (putOff.length > 0 && !ctx.signal?.aborted) await pass(putOff, { creditsDecided: true });
  // Flights kept as the same seat as a credit that a coupon has tonight shown to be another ticket (or
  // that was taken back): decided again tonight. Those a later batch of the pass decided are no longer
  // marked, and not decided twice.
  while (freed.length > 0 && !ctx.signal?.aborted) {
    const before = counts.activities!;
    await pass([...new Set(freed.splice(0))]);
    const decided = counts.activities! - before;
    if (decided > 0) counts.duplicatesFreed = (counts.duplicatesFreed ?? 0) + decided;
  }
  // Cancellations that came before their redemption, now that it is decided: a second pass applies them,
  // or rejects them tonight if it was refused. Only those: the rest still marked waits for its own night,
  // and was decided once already tonight.
  const awaited: number[] = [];
  for (const part of chunks(
    redemptions.map((id) => cancellationKey(id)),
    500,
  )) {
    const ids = (
      await ctx.db
        .knex('activities')
        .whereIn('activity_key', part)
        .andWhere(WAITING_CANCELLATION)
        .select('id')
    ).map((r: { id: number | string }) => Number(r.id));
    if (ids.length === 0) continue;
    await ctx.db.knex('activities').whereIn('id', ids).update({ needs_accrual: true });
    awaited.push(...ids);
  }
  if (awaited.length > 0) {
    counts.cancellationsAwaited = awaited.length;
    await pass(awaited);
  }
  // Cancellations whose wait ends tonight without their redemption: rejected in a last pass, once every
  // redemption of the night is debited (one later in tonight's files came in time). A rerun finds them
  // rejected already; a caught-up night rejects those whose wait ended on a night it skipped.
  const overdue = (await overdueCancellations(ctx.db.knex, program, ctx.businessDate).select('id')).map(
    (r: { id: number | string }) => Number(r.id),
  );
  if (overdue.length > 0 && !ctx.signal?.aborted) {
    for (const part of chunks(overdue, 500))
      await ctx.db.knex('activities').whereIn('id', part).update({ needs_accrual: true });
    const before = counts.rejected!;
    await pass(overdue, { redemptionsSettled: true });
    counts.cancellationsRejected = counts.rejected! - before;
  }
  ctx.progress.stop();
  const datedAhead = Number(
    (
      await ctx.db
        .knex('activities')
        .where({ needs_accrual: true, status: 'PENDING', reason: 'DATED_AHEAD' })
        .count({ n: '*' })
        .first()
    )?.n ?? 0,
  );
  if (datedAhead > 0) counts.datedAhead = datedAhead;
  let rateRejected = 0;
  for (const part of chunks(rateOverdue, 500))
    rateRejected += Number(
      (
        await ctx.db
          .knex('activities')
          .whereIn('id', part)
          .where({ status: 'REJECTED', reason: 'BAD_CURRENCY' })
          .count({ n: '*' })
          .first()
      )?.n ?? 0,
    );
  const rateWarnings = await awaitingRateWarnings(
    ctx.db.knex,
    state.fx,
    rateRejected,
    ctx.config.fx.maxStaleDays,
  );
  if (rateWarnings.waiting > 0) counts.awaitingRate = rateWarnings.waiting;
  if (!ctx.signal?.aborted) {
    const retro = await processRetroClaims(ctx, ledger, state);
    for (const [k, v] of Object.entries(retro)) counts[`retro.${k}`] = v;
  }
  const warnings = [
    ...rateWarnings.warnings,
    ...[...(state.unnamedPools ?? [])].map(
      ([code, members]) =>
        `group id ${code} cannot name a pool account: its members ${[...members].sort().join(', ')} earn into and redeem from their own accounts until the CRM sends them with a group id of letters, digits and _ . -`,
    ),
  ];
  return warnings.length > 0 ? { counts, warnings } : { counts };
};
