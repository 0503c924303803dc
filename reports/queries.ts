/**
 * The report queries. Each aggregates in SQL and returns a handful of rows, so a report costs a few
 * passes over the data, never a copy of it in memory. They are written once for both engines:
 * positional GROUP BY, `?` placeholders, and the few dialect differences (month of a date) from
 * common.ts.
 *
 * Award points only: every ledger query here reads entries on member and pool PTS accounts (the
 * points liability) or on the partners' funding accounts. Status credits never appear.
 */
import type { Db } from '../db/connection.js';
import type { IsoDate } from '../lib/dates.js';
import { MEMBER_CLOCK_SQL, poolClocks } from '../ledger/queries.js';
import type { FxRate } from '../rules/fx.js';
import { CREDIT_ACTIVITY_TYPE_SQL } from '../exporters/billing.js';
import {
  AWARD_CORRECTION_SQL,
  dateTextSql,
  memberOnRegisterSql,
  mergedIntoAtSql,
  monthSql,
  MOVEMENT_KIND_SQL,
  num,
  POSTING_ACTIVITY_JOIN_SQL,
  PTS_KINDS_SQL,
  sqlRows,
  tierAsOfSql,
} from './common.js';

/** Posting kinds as the liability sees them: a reversal counts under the kind of what it reverses. */
export type MovementKind = 'ACCRUAL' | 'REDEMPTION' | 'EXPIRY' | 'ADJUSTMENT' | 'TRANSFER' | string;

export interface Movement {
  /** Business date, when asked for by day. */
  day?: IsoDate;
  kind: MovementKind;
  channel: string | null;
  reversal: boolean;
  /** The postings, a flight's class corrections (counted in `points`) left out. */
  postings: number;
  /** Net change of the liability (member and pool points) from these postings. */
  points: number;
}

/**
 * Movements of the points liability between two business dates (inclusive), by kind and channel: a
 * reversal under the kind of what it reverses, a flight's class correction (and its reversal) under
 * ACCRUAL with the award it corrects (`MOVEMENT_KIND_SQL`). Postings counts the postings of each but the
 * corrections, which change a credit's points and are no credit of their own.
 */
export async function liabilityMovements(
  db: Db,
  from: IsoDate,
  to: IsoDate,
  options: { byDay?: boolean; days?: readonly IsoDate[] } = {},
): Promise<Movement[]> {
  const byDay = options.byDay === true || options.days !== undefined;
  // Entries carry their posting's business date: filtering on both lets each engine start from the
  // index that suits it (SQLite: the account's entries by date; PostgreSQL: whatever its statistics say).
  const marks = options.days?.map(() => '?').join(', ');
  const dateFilter = options.days
    ? `p.business_date IN (${marks}) AND e.business_date IN (${marks})`
    : 'p.business_date >= ? AND p.business_date <= ? AND e.business_date >= ? AND e.business_date <= ?';
  const bindings = options.days ? [...options.days, ...options.days] : [from, to, from, to];
  const groups = byDay ? 'GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4' : 'GROUP BY 1, 2, 3 ORDER BY 1, 2, 3';
  const rows = await sqlRows<{
    day?: string;
    kind: string;
    channel: string | null;
    reversal: number | boolean;
    postings: unknown;
    points: unknown;
  }>(
    db.knex,
    `SELECT ${byDay ? `${dateTextSql(db, 'p.business_date')} AS day, ` : ''}${MOVEMENT_KIND_SQL} AS kind,
            p.channel AS channel, CASE WHEN p.reversal_of IS NULL THEN 0 ELSE 1 END AS reversal,
            COUNT(DISTINCT CASE WHEN NOT ${AWARD_CORRECTION_SQL} THEN p.id END) AS postings, SUM(e.amount) AS points
       FROM postings p
       JOIN entries e ON e.posting_id = p.id
       JOIN accounts a ON a.id = e.account_id
       LEFT JOIN postings o ON o.id = p.reversal_of
      WHERE ${dateFilter} AND a.kind IN ${PTS_KINDS_SQL}
      ${groups}`,
    bindings,
  );
  return rows.map((r) => ({
    ...(byDay ? { day: r.day } : {}),
    kind: r.kind,
    channel: r.channel,
    reversal: num(r.reversal) === 1,
    postings: num(r.postings),
    points: num(r.points),
  }));
}

/**
 * Net change of the liability per month, from the first entry to `asOf`, read from the entries
 * alone: the running sum is the balance at each month end, and its last value is the liability.
 */
export async function liabilityByMonth(
  db: Db,
  asOf: IsoDate,
): Promise<Array<{ month: string; points: number }>> {
  const rows = await sqlRows<{ month: string; points: unknown }>(
    db.knex,
    `SELECT ${monthSql(db, 'e.business_date')} AS month, SUM(e.amount) AS points
       FROM entries e JOIN accounts a ON a.id = e.account_id
      WHERE a.kind IN ${PTS_KINDS_SQL} AND e.business_date <= ?
      GROUP BY 1 ORDER BY 1`,
    [asOf],
  );
  return rows.map((r) => ({ month: r.month, points: num(r.points) }));
}

/**
 * The stored balances of member and pool award accounts, less what was posted after `asOf`: what the
 * accounts held at the end of `asOf` by the fast path that `ledger check` proves equal to the entries.
 */
export async function storedLiabilityAsOf(db: Db, asOf: IsoDate): Promise<number> {
  const [stored] = await sqlRows<{ points: unknown }>(
    db.knex,
    `SELECT SUM(balance) AS points FROM accounts WHERE kind IN ${PTS_KINDS_SQL}`,
  );
  const [later] = await sqlRows<{ points: unknown }>(
    db.knex,
    `SELECT SUM(e.amount) AS points
       FROM entries e JOIN accounts a ON a.id = e.account_id
      WHERE e.business_date > ? AND a.kind IN ${PTS_KINDS_SQL}`,
    [asOf],
  );
  return num(stored?.points) - num(later?.points);
}

export interface OutstandingLots {
  /** Month the points were earned (`YYYY-MM`). */
  earned: string;
  /** Expiry date of the lots; null: they never expire. */
  expiresOn: IsoDate | null;
  points: number;
}

/**
 * Points still open at the end of `asOf`, grouped by `keys` (SQL expressions over `lots l` and what
 * `joins` adds, each named by its key), of the lots `where` admits. Today's open lots are the starting
 * point; for a past date the lots created after it are taken out and what was consumed from older lots
 * after it is put back, so only postings after `asOf` are read again.
 */
async function openPointsAsOf<K extends string>(
  db: Db,
  asOf: IsoDate,
  keys: Record<K, string>,
  { joins = '', where = '1 = 1' }: { joins?: string; where?: string } = {},
): Promise<Array<Record<K, string | number | null> & { points: number }>> {
  const names = Object.keys(keys) as K[];
  const select = names.map((k) => `${keys[k]} AS ${k}`).join(', ');
  const groupBy = names.map((_, i) => i + 1).join(', ');
  type Row = Record<K, string | number | null> & { points: unknown };
  const now = await sqlRows<Row>(
    db.knex,
    // Spent lots add nothing; leaving out `remaining > 0` lets SQLite read the table in one sequential
    // pass instead of through the open-lots index with a lookup per lot.
    `SELECT ${select}, SUM(l.remaining) AS points
       FROM lots l ${joins} WHERE ${where} GROUP BY ${groupBy}`,
  );
  const createdLater = await sqlRows<Row>(
    db.knex,
    `SELECT ${select}, SUM(l.remaining) AS points
       FROM postings p JOIN lots l ON l.origin_posting_id = p.id ${joins}
      WHERE p.business_date > ? AND ${where} GROUP BY ${groupBy}`,
    [asOf],
  );
  const movedLater = await sqlRows<Row>(
    db.knex,
    `SELECT ${select}, SUM(lm.amount) AS points
       FROM postings p
       JOIN lot_movements lm ON lm.posting_id = p.id
       JOIN lots l ON l.id = lm.lot_id
       JOIN postings op ON op.id = l.origin_posting_id
       ${joins}
      WHERE p.business_date > ? AND op.business_date <= ? AND ${where} GROUP BY ${groupBy}`,
    [asOf, asOf],
  );
  const totals = new Map<string, Record<K, string | number | null> & { points: number }>();
  const add = (rows: Row[], sign: number) => {
    for (const r of rows) {
      const key = names.map((k) => r[k] ?? '').join('|');
      const entry = totals.get(key) ?? { ...r, points: 0 };
      entry.points += sign * num(r.points);
      totals.set(key, entry);
    }
  };
  add(now, 1);
  add(createdLater, -1);
  add(movedLater, -1);
  return [...totals.values()].filter((r) => r.points !== 0);
}

/** Points still open at the end of `asOf`, by earning month and expiry date (`openPointsAsOf`). */
export async function outstandingLots(db: Db, asOf: IsoDate): Promise<OutstandingLots[]> {
  const rows = await openPointsAsOf(db, asOf, {
    earned: monthSql(db, 'l.earned_on'),
    expires: dateTextSql(db, 'l.expires_on'),
  });
  return rows
    .map((r) => ({ earned: String(r.earned), expiresOn: r.expires as IsoDate | null, points: r.points }))
    .sort(
      (a, b) => a.earned.localeCompare(b.earned) || (a.expiresOn ?? '~').localeCompare(b.expiresOn ?? '~'),
    );
}

export interface UndatedLots {
  /** The last earning activity of the accounts holding them; null: a pool nobody has kept alive. */
  lastActive: IsoDate | null;
  points: number;
}

/**
 * Points of undated lots (earned under the inactivity rule) still open at the end of `asOf`, by the last
 * activity of their accounts as the expire job reads it: a member's own (`MEMBER_CLOCK_SQL`), a pool's
 * (`poolClocks`). The activity is today's: a report of an earlier date places a lot by what its account
 * has earned since, as the expire job now would.
 */
export async function undatedLots(db: Db, asOf: IsoDate): Promise<UndatedLots[]> {
  const rows = await openPointsAsOf(
    db,
    asOf,
    {
      kind: 'a.kind',
      account: "CASE WHEN a.kind = 'POOL_POINTS' THEN a.id END",
      clock: dateTextSql(db, MEMBER_CLOCK_SQL),
    },
    {
      joins: 'JOIN accounts a ON a.id = l.account_id LEFT JOIN members m ON m.id = a.member_id',
      where: `l.expires_on IS NULL AND a.kind IN ${PTS_KINDS_SQL}`,
    },
  );
  const pools = rows.some((r) => r.kind === 'POOL_POINTS') ? await poolClocks(db.knex) : new Map();
  const byClock = new Map<IsoDate | null, number>();
  for (const r of rows) {
    const lastActive =
      r.kind === 'POOL_POINTS' ? (pools.get(Number(r.account)) ?? null) : (r.clock as IsoDate);
    byClock.set(lastActive, (byClock.get(lastActive) ?? 0) + r.points);
  }
  return [...byClock].map(([lastActive, points]) => ({ lastActive, points }));
}

/** Points taken by expiry postings (net of their reversals) between two dates, by earning month of the lots. */
export interface ExpiredByEarnMonth {
  /** Per earning month: the points expired and the accounts they expired from. */
  months: Array<{ earned: string; points: number; accounts: number }>;
  /** The accounts points expired from, each once: the months' counts add up to more when an account's
   * lots of several months expired (a caught-up night, or an inactivity expiry that takes them all). */
  accounts: number;
}

export async function expiredByEarnMonth(db: Db, from: IsoDate, to: IsoDate): Promise<ExpiredByEarnMonth> {
  const expiryMovements = `FROM postings p
       LEFT JOIN postings o ON o.id = p.reversal_of
       JOIN lot_movements lm ON lm.posting_id = p.id
       JOIN lots l ON l.id = lm.lot_id
      WHERE p.business_date >= ? AND p.business_date <= ? AND COALESCE(o.kind, p.kind) = 'EXPIRY'`;
  const rows = await sqlRows<{ earned: string; points: unknown; accounts: unknown }>(
    db.knex,
    `SELECT ${monthSql(db, 'l.earned_on')} AS earned, -SUM(lm.amount) AS points,
            COUNT(DISTINCT l.account_id) AS accounts
       ${expiryMovements}
      GROUP BY 1 ORDER BY 1`,
    [from, to],
  );
  const [all] = await sqlRows<{ accounts: unknown }>(
    db.knex,
    `SELECT COUNT(DISTINCT l.account_id) AS accounts ${expiryMovements}`,
    [from, to],
  );
  return {
    months: rows.map((r) => ({ earned: r.earned, points: num(r.points), accounts: num(r.accounts) })),
    accounts: num(all?.accounts),
  };
}

export interface PartnerCredit {
  partner: string;
  /** The activity type the invoice bills the credit under (`CREDIT_ACTIVITY_TYPE_SQL`). */
  activityType: string;
  /** For a reversal of a credit posted before the period, that credit's month (YYYY-MM), as the invoice's line has it. */
  creditMonth: string | null;
  /** Activity date of the postings (business date when they have none): it picks the contract of a credit whose ruleVersion names none. */
  activityDate: IsoDate;
  /** The contract or chart the credit was made under (a reversal's, its original's), as the invoice prices it. */
  ruleVersion: string | null;
  points: number;
}

/**
 * Points credited on each partner's behalf between two business dates: the debits of its funding
 * account `PARTNER:<code>`, net of reversals (which credit it back), by activity date, and by what tells
 * the month-end invoice's lines apart (exporters/billing.ts `lineKey`): activity type and, for a reversal
 * of a credit posted before the period, that credit's month.
 */
export async function partnerCredits(db: Db, from: IsoDate, to: IsoDate): Promise<PartnerCredit[]> {
  const rows = await sqlRows<{
    partner: string;
    activity_date: string;
    rule_version: string | null;
    activity_type: string;
    credit_month: string | null;
    points: unknown;
  }>(
    db.knex,
    `SELECT a.partner_code AS partner, ${dateTextSql(db, 'COALESCE(p.activity_date, p.business_date)')} AS activity_date,
            COALESCE(o.rule_version, p.rule_version) AS rule_version, ${CREDIT_ACTIVITY_TYPE_SQL} AS activity_type,
            CASE WHEN o.business_date < ? THEN ${monthSql(db, 'o.business_date')} END AS credit_month,
            -SUM(e.amount) AS points
       FROM postings p
       JOIN entries e ON e.posting_id = p.id
       JOIN accounts a ON a.id = e.account_id
       LEFT JOIN postings o ON o.id = p.reversal_of
       LEFT JOIN activities act ON act.posting_id = COALESCE(p.reversal_of, p.id)
      WHERE p.business_date >= ? AND p.business_date <= ? AND e.business_date >= ? AND e.business_date <= ?
        AND a.kind = 'PARTNER'
      GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`,
    [from, from, to, from, to],
  );
  return rows.map((r) => ({
    partner: r.partner,
    activityType: r.activity_type,
    creditMonth: r.credit_month ?? null,
    activityDate: r.activity_date,
    ruleVersion: r.rule_version ?? null,
    points: num(r.points),
  }));
}

/**
 * The one definition of an active member, for every report that counts them: a member with earning or
 * burning activity in the period, that is an accrual or redemption posted between the two dates that
 * moved award points on a member or pool account (a member earning into or redeeming from a pool is
 * the active one). A flight that earned only status credits makes no one active: status credits buy
 * nothing, and the program's own clock of activity (inactivity expiry) does not start again for them.
 * A reversal makes no one active either. A condition on a posting `p`, with its bindings: the postings
 * that make their member active (`activeAccountsSql` says which account that is).
 */
export function activeMemberPostingSql(from: IsoDate, to: IsoDate): { sql: string; bindings: IsoDate[] } {
  return {
    sql: `p.business_date >= ? AND p.business_date <= ? AND p.kind IN ('ACCRUAL', 'REDEMPTION')
          AND p.member_id IS NOT NULL
          AND EXISTS (SELECT 1 FROM entries ae JOIN accounts aa ON aa.id = ae.account_id
                       WHERE ae.posting_id = p.id AND aa.kind IN ${PTS_KINDS_SQL})`,
    bindings: [from, to],
  };
}

/** Longer than any chain of merges the ingest lets through; it refuses circles, and this stops one anyway. */
const MERGE_CHAIN_LIMIT = 32;

/**
 * `chain (member_id, account_id, depth)`, a recursive WITH clause: each member of a posting `p` that
 * `postings` admits, paired with itself and with each survivor its merges by the end of `to` lead to,
 * following `merged_into` from survivor to survivor (`mergedIntoAtSql`, so a merge after `to` maps
 * nothing and an account reopened since still maps to its survivor).
 */
function mergeChainSql(
  postings: { sql: string; bindings: IsoDate[] },
  to: IsoDate,
): { sql: string; bindings: IsoDate[] } {
  const survivor = mergedIntoAtSql('cur', to);
  return {
    sql: `WITH RECURSIVE chain (member_id, account_id, depth) AS (
            SELECT DISTINCT p.member_id, p.member_id, 0 FROM postings p WHERE ${postings.sql}
            UNION ALL
            SELECT c.member_id, s.id, c.depth + 1
              FROM chain c JOIN members cur ON cur.id = c.account_id JOIN members s ON s.number = ${survivor.sql}
             WHERE c.depth < ${MERGE_CHAIN_LIMIT}
          )`,
    bindings: [...postings.bindings, ...survivor.bindings],
  };
}

/**
 * The active members of a period as accounts on the register at its end: a SELECT of `member_id` (each
 * member an `activeMemberPostingSql` posting made active) and `account_id` (the account that member is at
 * the end of `to`: itself, or the survivor its merges by then lead to, `mergeChainSql`). Only accounts on
 * the register at `to` are in it, so the active members are a part of the members on the register and the
 * active rate is at most 100%: a person merged in the month is one active member, the survivor, and a
 * member closed in the month is not an active member of it (its points still count in the month's
 * points). A merge after `to` maps nothing, and a merged account reopened after `to` still maps to its
 * survivor, so a past period reads the same made again.
 */
export function activeAccountsSql(from: IsoDate, to: IsoDate): { sql: string; bindings: IsoDate[] } {
  const chain = mergeChainSql(activeMemberPostingSql(from, to), to);
  const onRegister = memberOnRegisterSql('ra', to);
  return {
    sql: `${chain.sql}
          SELECT c.member_id AS member_id, c.account_id AS account_id
            FROM chain c JOIN members ra ON ra.id = c.account_id
           WHERE ${onRegister.sql}`,
    bindings: [...chain.bindings, ...onRegister.bindings],
  };
}

/**
 * The account each member of a posting dated between two dates is at the end of `to`: a SELECT of
 * `member_id` and `account_id`, the end of its merge chain (`mergeChainSql`), the account not merged
 * then — the member itself unless it was merged by `to`. Unlike `activeAccountsSql` it keeps accounts
 * off the register: a member closed by `to` is its own account, so what it earned stays with it. A
 * member whose chain ends nowhere (a survivor the register does not have) is not in it.
 */
export function memberAccountsSql(from: IsoDate, to: IsoDate): { sql: string; bindings: IsoDate[] } {
  const chain = mergeChainSql(
    {
      sql: 'p.business_date >= ? AND p.business_date <= ? AND p.member_id IS NOT NULL',
      bindings: [from, to],
    },
    to,
  );
  const merged = mergedIntoAtSql('ra', to);
  return {
    sql: `${chain.sql}
          SELECT c.member_id AS member_id, c.account_id AS account_id
            FROM chain c JOIN members ra ON ra.id = c.account_id
           WHERE ${merged.sql} IS NULL`,
    bindings: [...chain.bindings, ...merged.bindings],
  };
}

/** Active members between two dates (`activeAccountsSql`): each account once. */
export async function activeMembers(db: Db, from: IsoDate, to: IsoDate): Promise<number> {
  const accounts = activeAccountsSql(from, to);
  const [row] = await sqlRows<{ n: unknown }>(
    db.knex,
    `SELECT COUNT(DISTINCT a.account_id) AS n FROM (${accounts.sql}) a`,
    accounts.bindings,
  );
  return num(row?.n);
}

export async function membersOnRegister(db: Db, asOf: IsoDate): Promise<number> {
  const onRegister = memberOnRegisterSql('m', asOf);
  const [row] = await sqlRows<{ n: unknown }>(
    db.knex,
    `SELECT COUNT(*) AS n FROM members m WHERE ${onRegister.sql}`,
    onRegister.bindings,
  );
  return num(row?.n);
}

/** Members on the register by the tier they held at the end of `asOf`. */
export async function tierDistribution(db: Db, asOf: IsoDate): Promise<Map<string, number>> {
  const onRegister = memberOnRegisterSql('m', asOf);
  const rows = await sqlRows<{ tier: string; members: unknown }>(
    db.knex,
    `SELECT t.tier AS tier, COUNT(*) AS members FROM (
        SELECT ${tierAsOfSql('m.id')} AS tier FROM members m WHERE ${onRegister.sql}
     ) t GROUP BY 1 ORDER BY 1`,
    [asOf, ...onRegister.bindings],
  );
  return new Map(rows.map((r) => [r.tier, num(r.members)]));
}

export interface TierMovement {
  fromTier: string | null;
  toTier: string;
  direction: string;
  members: number;
}

export async function tierMovements(db: Db, from: IsoDate, to: IsoDate): Promise<TierMovement[]> {
  const rows = await sqlRows<{
    from_tier: string | null;
    to_tier: string;
    direction: string;
    members: unknown;
  }>(
    db.knex,
    `SELECT from_tier, to_tier, direction, COUNT(DISTINCT member_id) AS members
       FROM tier_events WHERE business_date >= ? AND business_date <= ?
      GROUP BY 1, 2, 3 ORDER BY 3, 1, 2`,
    [from, to],
  );
  return rows.map((r) => ({
    fromTier: r.from_tier,
    toTier: r.to_tier,
    direction: r.direction,
    members: num(r.members),
  }));
}

export interface RouteFigures {
  origin: string;
  destination: string;
  flights: number;
  members: number;
  points: number;
}

/**
 * Own-flight routes by the award points their postings of the period credited, read from the ledger
 * as the accrual by channel reads it: the entries on member and pool points accounts of OWN_FLIGHTS
 * accrual postings dated in the period, of the class corrections of their awards and of reversals dated
 * in the period, each under the route of the flight its credit (or the credit it corrects or reverses)
 * was posted for (`POSTING_ACTIVITY_JOIN_SQL`: the archive's row holding the posting, else the one it
 * was posted from, so a correction, and a credit taken back before a retro-claim credited the flight
 * again, keep their route). Nothing a later night changes in the archive (a flight refunded and marked
 * REVERSED) moves a past period's figures: the reversal counts on its own date.
 *
 * Flights follow the same rule as the points: each credit of the period counts +1 and each reversal of
 * the period −1, so a flight credited and refunded in the period counts 0, and a refund of an earlier
 * flight takes one off the period it is dated in; a class correction changes the points alone. Members
 * are those with a credit of the period on the route (neither a reversal nor a correction makes anyone
 * a member of it). The points of all routes add up to the own-flight line of the accrual by channel,
 * except for own-flight postings with no flight in the archive.
 */
export async function topRoutes(db: Db, from: IsoDate, to: IsoDate, limit: number): Promise<RouteFigures[]> {
  const rows = await sqlRows<{
    origin: string;
    destination: string;
    flights: unknown;
    members: unknown;
    points: unknown;
  }>(
    db.knex,
    `SELECT act.origin AS origin, act.destination AS destination,
            COUNT(DISTINCT CASE WHEN p.reversal_of IS NULL AND NOT ${AWARD_CORRECTION_SQL} THEN p.id END)
              - COUNT(DISTINCT CASE WHEN p.reversal_of IS NOT NULL AND NOT ${AWARD_CORRECTION_SQL} THEN p.id END)
              AS flights,
            COUNT(DISTINCT CASE WHEN p.reversal_of IS NULL AND NOT ${AWARD_CORRECTION_SQL} THEN p.member_id END)
              AS members,
            SUM(e.amount) AS points
       FROM postings p
       JOIN entries e ON e.posting_id = p.id
       JOIN accounts a ON a.id = e.account_id
       LEFT JOIN postings o ON o.id = p.reversal_of
       ${POSTING_ACTIVITY_JOIN_SQL}
      WHERE p.business_date >= ? AND p.business_date <= ? AND e.business_date >= ? AND e.business_date <= ?
        AND a.kind IN ${PTS_KINDS_SQL} AND p.channel = 'OWN_FLIGHTS' AND ${MOVEMENT_KIND_SQL} = 'ACCRUAL'
        AND act.type = 'FLIGHT' AND act.origin IS NOT NULL AND act.destination IS NOT NULL
      GROUP BY 1, 2 ORDER BY 5 DESC, 3 DESC, 1, 2 LIMIT ?`,
    [from, to, from, to, limit],
  );
  return rows.map((r) => ({
    origin: r.origin,
    destination: r.destination,
    flights: num(r.flights),
    members: num(r.members),
    points: num(r.points),
  }));
}

export interface PartnerActivity {
  partner: string;
  activityDate: IsoDate;
  /** The contract or chart its credit was made under, as `PartnerCredit`'s. */
  ruleVersion: string | null;
  /** Credits of the period less reversals of the period (of credits of any date). */
  credited: number;
  /** Spend of those credits, less that of the reversed ones, in minor units of the base currency. */
  spend: number;
}

/**
 * Activities credited on each partner's behalf between two business dates, by activity date, read from
 * the ledger the way `partnerCredits` reads the points: every accrual posting of the period that funded
 * points from the partner's account counts +1, every reversal of the period −1, so the count goes with
 * the points credited net of reversals on the same line. The spend is that of the activity each credit
 * was posted for (a reversal takes back the spend of the activity it reverses). A reversal record that a
 * partner sends is therefore never a credited activity of its own, and a later night marking a credit
 * REVERSED in the archive changes nothing in a past period.
 */
export async function partnerActivities(db: Db, from: IsoDate, to: IsoDate): Promise<PartnerActivity[]> {
  const rows = await sqlRows<{
    partner: string;
    activity_date: string;
    rule_version: string | null;
    credited: unknown;
    spend: unknown;
  }>(
    db.knex,
    `SELECT x.partner AS partner, x.activity_date AS activity_date, x.rule_version AS rule_version,
            SUM(x.sign) AS credited, SUM(x.sign * x.spend) AS spend
       FROM (SELECT DISTINCT p.id AS id, a.partner_code AS partner,
                    ${dateTextSql(db, 'COALESCE(p.activity_date, p.business_date)')} AS activity_date,
                    COALESCE(o.rule_version, p.rule_version) AS rule_version,
                    CASE WHEN p.reversal_of IS NULL THEN 1 ELSE -1 END AS sign,
                    COALESCE(act.base_spend_minor, 0) AS spend
               FROM postings p
               JOIN entries e ON e.posting_id = p.id
               JOIN accounts a ON a.id = e.account_id
               LEFT JOIN postings o ON o.id = p.reversal_of
               LEFT JOIN activities act ON act.posting_id = COALESCE(p.reversal_of, p.id)
              WHERE p.business_date >= ? AND p.business_date <= ? AND e.business_date >= ? AND e.business_date <= ?
                AND a.kind = 'PARTNER' AND COALESCE(o.kind, p.kind) = 'ACCRUAL') x
      GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
    [from, to, from, to],
  );
  return rows.map((r) => ({
    partner: r.partner,
    activityDate: r.activity_date,
    ruleVersion: r.rule_version ?? null,
    credited: num(r.credited),
    spend: num(r.spend),
  }));
}

/** Published rates from `from` to `to`, for converting partner amounts into the base currency. */
export async function fxRates(db: Db, from: IsoDate, to: IsoDate): Promise<FxRate[]> {
  const rows = await sqlRows<{ rate_date: string; currency: string; rate: string }>(
    db.knex,
    `SELECT ${dateTextSql(db, 'rate_date')} AS rate_date, currency, rate FROM fx_rates
      WHERE rate_date >= ? AND rate_date <= ? ORDER BY 1, 2`,
    [from, to],
  );
  return rows.map((r) => ({ date: r.rate_date, currency: r.currency, rate: r.rate }));
}
