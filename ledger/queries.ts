/**
 * Read side of the ledger: balances as of a date, statements with a running balance, open lots and
 * status credits inside a qualification window. Everything is derived from entries and lots; the
 * stored account balance is the fast path that `ledger check` proves equal to them.
 */
import type { Knex } from 'knex';
import { maxDate, type IsoDate } from '../lib/dates.js';
import type { StatusMetric } from './accounts.js';
import { chunks } from '../lib/chunks.js';

type Q = Knex | Knex.Transaction;

export interface AccountInfo {
  id: number;
  code: string;
  kind: string;
  unit: string;
  balance: number;
}

export async function findAccount(q: Q, code: string): Promise<AccountInfo | undefined> {
  const row = await q('accounts').select('id', 'code', 'kind', 'unit', 'balance').where({ code }).first();
  return row as AccountInfo | undefined;
}

/** Balance from the entries posted on or before `date` (business date). */
export async function balanceAsOf(q: Q, code: string, date: IsoDate): Promise<number> {
  const row = await q('entries as e')
    .join('accounts as a', 'a.id', 'e.account_id')
    .where('a.code', code)
    .andWhere('e.business_date', '<=', date)
    .sum({ total: 'e.amount' })
    .first();
  return Number(row?.total ?? 0);
}

export interface StatementLine {
  postingId: number;
  businessDate: IsoDate;
  kind: string;
  channel: string | null;
  sourceRef: string | null;
  ruleVersion: string | null;
  reversalOf: number | null;
  amount: number;
  balance: number;
}

/**
 * Every entry of the account in posting order, each with the balance after it; with `forMember`, only the
 * entries of postings made for that member (a pool's entries from one member's flights and redemptions),
 * each with the account's balance after it all the same.
 */
export async function statement(
  q: Q,
  code: string,
  range: { from?: IsoDate; to?: IsoDate; forMember?: number } = {},
): Promise<StatementLine[]> {
  const account = await findAccount(q, code);
  if (!account) return [];
  let opening = 0;
  if (range.from) {
    const row = await q('entries')
      .where('account_id', account.id)
      .andWhere('business_date', '<', range.from)
      .sum({ total: 'amount' })
      .first();
    opening = Number(row?.total ?? 0);
  }
  const query = q('entries as e')
    .join('postings as p', 'p.id', 'e.posting_id')
    .where('e.account_id', account.id)
    .select(
      'p.id as postingId',
      'e.business_date as businessDate',
      'p.kind as kind',
      'p.channel as channel',
      'p.source_ref as sourceRef',
      'p.rule_version as ruleVersion',
      'p.reversal_of as reversalOf',
      'e.amount as amount',
    )
    .orderBy([{ column: 'e.business_date' }, { column: 'e.id' }]);
  if (range.from) query.andWhere('e.business_date', '>=', range.from);
  if (range.to) query.andWhere('e.business_date', '<=', range.to);
  const rows = (await query.select('p.member_id as memberId')) as Array<
    Omit<StatementLine, 'balance'> & { memberId: number | null }
  >;
  let balance = opening;
  const lines: StatementLine[] = [];
  for (const { memberId, ...r } of rows) {
    balance += Number(r.amount);
    if (range.forMember === undefined || Number(memberId) === range.forMember)
      lines.push({ ...r, amount: Number(r.amount), balance });
  }
  return lines;
}

export interface OpenLot {
  id: number;
  amount: number;
  remaining: number;
  earnedOn: IsoDate;
  expiresOn: IsoDate | null;
  originPostingId: number;
}

/** Open lots in the order they would be consumed: earliest expiry first, never-expiring last. */
export async function openLots(q: Q, code: string): Promise<OpenLot[]> {
  const rows = await q('lots as l')
    .join('accounts as a', 'a.id', 'l.account_id')
    .where('a.code', code)
    .andWhere('l.remaining', '>', 0)
    .select(
      'l.id',
      'l.amount',
      'l.remaining',
      'l.earned_on as earnedOn',
      'l.expires_on as expiresOn',
      'l.origin_posting_id as originPostingId',
    )
    .orderByRaw('(l.expires_on IS NULL), l.expires_on, l.earned_on, l.id');
  return rows.map((r: OpenLot) => ({ ...r, amount: Number(r.amount), remaining: Number(r.remaining) }));
}

/** Sum of a member's status credits with activity dates in [from, to]. */
export async function statusCreditsInWindow(
  q: Q,
  memberNumber: string,
  metric: StatusMetric,
  window: { from: IsoDate; to: IsoDate },
): Promise<number> {
  const row = await q('status_credits as s')
    .join('members as m', 'm.id', 's.member_id')
    .where('m.number', memberNumber)
    .andWhere('s.metric', metric)
    .andWhere('s.activity_date', '>=', window.from)
    .andWhere('s.activity_date', '<=', window.to)
    .sum({ total: 's.amount' })
    .first();
  return Number(row?.total ?? 0);
}

/**
 * Keeps, of `postings as <alias>`, those no reversal has taken back (a refunded flight, a credit its
 * partner reversed). The ledger reverses a posting whole, so one reversed is an earning that never was:
 * it keeps no points alive under inactivity expiry, though its date stays on the posting.
 */
export function standing(q: Q, b: Knex.QueryBuilder, alias: string): Knex.QueryBuilder {
  return b.whereNotExists((r) =>
    r.select(q.raw('1')).from('postings as rv').whereRaw(`rv.reversal_of = ${alias}.id`),
  );
}

/**
 * Keeps, of `postings as <alias>`, those that credited award points, to a member's account or to the pool
 * they earn into: the measure of earning activity accrue records as it posts (`earnedOn`), status credits
 * alone keeping no points alive.
 */
export function earnedPoints(q: Q, b: Knex.QueryBuilder, alias: string): Knex.QueryBuilder {
  return b.whereExists((e) =>
    e
      .select(q.raw('1'))
      .from('entries as ep')
      .join('accounts as ap', 'ap.id', 'ep.account_id')
      .whereRaw(`ep.posting_id = ${alias}.id`)
      .andWhere('ep.amount', '>', 0)
      .whereIn('ap.kind', ['MEMBER_POINTS', 'POOL_POINTS']),
  );
}

/**
 * The latest activity date of the earnings of each of `memberIds` that still stand: accruals that
 * credited points (`earnedPoints`) and that no reversal took back. Members with none are left out.
 */
export async function lastStandingEarnings(
  q: Q,
  memberIds: readonly number[],
): Promise<Map<number, IsoDate>> {
  const out = new Map<number, IsoDate>();
  for (const part of chunks(memberIds, 500)) {
    const rows = (await q('postings as p')
      .whereIn('p.member_id', part)
      .andWhere('p.kind', 'ACCRUAL')
      .modify((b) => earnedPoints(q, standing(q, b, 'p'), 'p'))
      .groupBy('p.member_id')
      .select('p.member_id as memberId')
      .max({ d: 'p.activity_date' })) as Array<{ memberId: number | string; d: string }>;
    for (const r of rows) out.set(Number(r.memberId), String(r.d).slice(0, 10));
  }
  return out;
}

/**
 * The clock of a member's own points under the inactivity rule, on `members as m`: their last earning
 * activity, or their enrolment when they have none on record (a new member's points are not due at once).
 */
export const MEMBER_CLOCK_SQL = 'COALESCE(m.last_activity_date, m.enrolment_date)';

/**
 * The transfers of the member `memberColumn` names into pool account `pa`, on `postings as tp` and
 * `entries as te`.
 */
function transfersInto(q: Q, t: Knex.QueryBuilder, memberColumn: string): Knex.QueryBuilder {
  return t
    .select(q.raw('1'))
    .from('postings as tp')
    .join('entries as te', 'te.posting_id', 'tp.id')
    .whereRaw(`tp.member_id = ${memberColumn}`)
    .andWhere('tp.kind', 'TRANSFER')
    .andWhereRaw('te.account_id = pa.id')
    .andWhere('te.amount', '>', 0);
}

/**
 * The members whose activity keeps the points of pool account `pa` alive, on `members as pm`: those in
 * the pool (closed and merged members included, for what they earned while in it), each counting with
 * their last activity unless it is from before they joined (`members.pool_since`) and their points did
 * not move into the pool when they joined: what a member earned before would otherwise keep alive the
 * points of others, who were inactive all along. With their points came their activity: those points
 * are as recent as it, and the pool's lots expire together.
 */
function poolMembers(q: Q, b: Knex.QueryBuilder): Knex.QueryBuilder {
  const broughtPoints = (t: Knex.QueryBuilder) =>
    transfersInto(q, t, 'pm.id').andWhereRaw('te.business_date >= pm.pool_since');
  return b
    .from('members as pm')
    .whereRaw('pm.pool_id = pa.pool_id')
    .where((w) =>
      w
        .whereNull('pm.pool_since')
        .orWhereRaw('pm.last_activity_date >= pm.pool_since')
        .orWhereExists(broughtPoints),
    );
}

/**
 * The activity of the members who have left pool account `pa`'s pool, on `past_pool_memberships as ps`,
 * each earning that still stands as `sp.activity_date`: a member who leaves leaves their points in the
 * pool, and the points they brought stay as recent as the activity that came with them. Counted as a
 * member in it is (`poolMembers`), but only up to the night the stay ended: what they earn after keeps
 * their new account alive, not the pool they left.
 */
function pastPoolStays(q: Q, b: Knex.QueryBuilder): Knex.QueryBuilder {
  const broughtPoints = (t: Knex.QueryBuilder) =>
    transfersInto(q, t, 'ps.member_id')
      .andWhereRaw('te.business_date >= ps.since')
      .andWhereRaw('te.business_date <= ps.until');
  return b
    .from('past_pool_memberships as ps')
    .join('postings as sp', 'sp.member_id', 'ps.member_id')
    .whereRaw('ps.pool_id = pa.pool_id')
    .andWhere('sp.kind', 'ACCRUAL')
    .andWhereRaw('sp.activity_date <= ps.until')
    .modify((e) => earnedPoints(q, standing(q, e, 'sp'), 'sp'))
    .where((w) =>
      w.whereNull('ps.since').orWhereRaw('sp.activity_date >= ps.since').orWhereExists(broughtPoints),
    );
}

/**
 * The earnings into pool account `pa` that still stand, on `entries as pe` and `postings as pp`: what a
 * member who has since left earned into the pool counts for it, what they earn after does not.
 */
function earnedIntoPool(q: Q, b: Knex.QueryBuilder): Knex.QueryBuilder {
  return b
    .from('entries as pe')
    .join('postings as pp', 'pp.id', 'pe.posting_id')
    .whereRaw('pe.account_id = pa.id')
    .andWhere('pe.amount', '>', 0)
    .andWhere('pp.kind', 'ACCRUAL')
    .modify((e) => standing(q, e, 'pp'));
}

/**
 * The pool accounts holding points whose last earning activity falls in (after, onOrBefore] (`after`
 * omitted: any day up to `onOrBefore`), as a query on `accounts as pa` for the caller to select from.
 * A pool is active when any of its members is (`poolMembers`), or was while in it (`pastPoolStays`),
 * and when points are earned into it (`earnedIntoPool`). Enrolment is not activity here: a member joining
 * who never earns would otherwise keep points alive that nobody earned (for a member's own points it is,
 * `MEMBER_CLOCK_SQL`).
 */
export function poolsLastActiveIn(q: Q, range: { after?: IsoDate; onOrBefore: IsoDate }): Knex.QueryBuilder {
  const memberActiveSince = (b: Knex.QueryBuilder, date: IsoDate) =>
    poolMembers(q, b.select(q.raw('1'))).andWhereRaw('pm.last_activity_date > ?', [date]);
  const pastMemberActiveSince = (b: Knex.QueryBuilder, date: IsoDate) =>
    pastPoolStays(q, b.select(q.raw('1'))).andWhere('sp.activity_date', '>', date);
  // An earning's activity date is never after the night that posted it: the business date bounds the
  // search to the account's recent entries.
  const earnedIntoSince = (b: Knex.QueryBuilder, date: IsoDate) =>
    earnedIntoPool(q, b.select(q.raw('1')))
      .andWhere('pe.business_date', '>', date)
      .andWhere('pp.activity_date', '>', date);
  const { after, onOrBefore } = range;
  return q('accounts as pa')
    .where('pa.kind', 'POOL_POINTS')
    .andWhere('pa.balance', '>', 0)
    .whereNotExists((b) => memberActiveSince(b, onOrBefore))
    .whereNotExists((b) => pastMemberActiveSince(b, onOrBefore))
    .whereNotExists((b) => earnedIntoSince(b, onOrBefore))
    .modify((b) => {
      if (after !== undefined)
        b.where((w) =>
          w
            .whereExists((x) => memberActiveSince(x, after))
            .orWhereExists((x) => pastMemberActiveSince(x, after))
            .orWhereExists((x) => earnedIntoSince(x, after)),
        );
    });
}

/**
 * The clock of each pool account under the inactivity rule, as `poolsLastActiveIn` reads it: the later
 * of its members' last activity, its former members' last while in it, and its last earning; null for a
 * pool nobody has kept alive (due on any night an inactivity rule is in force).
 */
export async function poolClocks(q: Q): Promise<Map<number, IsoDate | null>> {
  const rows = (await q('accounts as pa')
    .where('pa.kind', 'POOL_POINTS')
    .select('pa.id as id')
    .select(poolMembers(q, q.queryBuilder().max('pm.last_activity_date')).as('members'))
    .select(pastPoolStays(q, q.queryBuilder().max('sp.activity_date')).as('past'))
    .select(earnedIntoPool(q, q.queryBuilder().max('pp.activity_date')).as('earned'))) as Array<{
    id: number | string;
    members: unknown;
    past: unknown;
    earned: unknown;
  }>;
  const date = (v: unknown) => (v === null || v === undefined ? null : String(v).slice(0, 10));
  const out = new Map<number, IsoDate | null>();
  for (const r of rows) {
    const dates = [date(r.members), date(r.past), date(r.earned)].filter((d): d is IsoDate => d !== null);
    out.set(Number(r.id), dates.length === 0 ? null : dates.reduce(maxDate));
  }
  return out;
}

/** What a posting took out of lots (negative) or put back (positive), in the order it did. */
export async function lotMovementsOf(
  q: Q,
  postingId: number,
): Promise<Array<{ lotId: number; amount: number }>> {
  const rows = (await q('lot_movements')
    .where({ posting_id: postingId })
    .orderBy('id')
    .select('lot_id', 'amount')) as Array<{ lot_id: number | string; amount: number | string }>;
  return rows.map((m) => ({ lotId: Number(m.lot_id), amount: Number(m.amount) }));
}

/** The lots a posting created, oldest first, with the account each is in. */
export async function lotsCreatedBy(
  q: Q,
  postingId: number,
): Promise<Array<{ id: number; amount: number; code: string }>> {
  const rows = (await q('lots as l')
    .join('accounts as a', 'a.id', 'l.account_id')
    .where('l.origin_posting_id', postingId)
    .orderBy('l.id')
    .select('l.id', 'l.amount', 'a.code')) as Array<{
    id: number | string;
    amount: number | string;
    code: string;
  }>;
  return rows.map((l) => ({ id: Number(l.id), amount: Number(l.amount), code: l.code }));
}
