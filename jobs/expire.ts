/**
 * `expire`: posts the expiry of every lot whose date has come (earned under a fixed term), and of every
 * undated lot (earned under inactivity) of a member or pool without earning activity for the months of
 * the inactivity rule. One posting per lot, keyed by the lot, so a rerun posts nothing twice.
 *
 * An earning that arrives late can show that an inactivity expiry should not have happened: accrue then
 * reinstates it (`expiriesUndone`), in the transaction that credits the earning.
 */
import type { Knex } from 'knex';
import { addDays, addMonths, type IsoDate } from '../lib/dates.js';
import { chunks } from '../lib/chunks.js';
import { addTo } from '../lib/multimap.js';
import {
  lotMovementsOf,
  lotsCreatedBy,
  MEMBER_CLOCK_SQL,
  poolsLastActiveIn,
  standing,
} from '../ledger/queries.js';
import { originsOfLot } from '../ledger/follow.js';
import { Ledger, lotExpiry } from '../ledger/ledger.js';
import type { ReversalInput } from '../ledger/types.js';
import { inPoolOn } from '../rules/eligibility.js';
import { Program } from '../rules/program.js';
import type { Job, JobContext, JobResult } from './types.js';

const BATCH = 5_000;

interface DueLot {
  id: number;
  remaining: number;
  code: string;
  expiresOn: string | null;
}

/** How many expiry postings each lot has had already. */
async function earlierExpiries(knex: JobContext['db']['knex'], lots: DueLot[]): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  const rows = await knex('lot_movements as m')
    .join('postings as p', 'p.id', 'm.posting_id')
    .whereIn(
      'm.lot_id',
      lots.map((l) => l.id),
    )
    .andWhere('p.kind', 'EXPIRY')
    .groupBy('m.lot_id')
    .select('m.lot_id as lotId')
    .count({ n: '*' });
  for (const r of rows as Array<{ lotId: number | string; n: number | string }>)
    out.set(Number(r.lotId), Number(r.n));
  return out;
}

export const expireJob: Job = async (ctx: JobContext): Promise<JobResult> => {
  const ledger = new Ledger(ctx.db, { now: ctx.now });
  const program = new Program(ctx.config);
  // Lots carry the policy they were earned under: a date under a fixed term, none under inactivity. A
  // program that changed policy holds both, and each expires by its own rule whatever tonight's is.
  // Undated points are due the first night whose rule reaches their account's last activity: the night
  // the expiry warning announced, a shorter version's first night included.
  const cutoff = program.inactivityDueBy(ctx.businessDate);
  const warningDays = program.expiryVersion(ctx.businessDate).warningDays;
  const counts: Record<string, number> = { lots: 0, points: 0, refused: 0 };
  const knex = ctx.db.knex;
  const base = () =>
    knex('lots as l')
      .join('accounts as a', 'a.id', 'l.account_id')
      .where('l.remaining', '>', 0)
      .select('l.id as id', 'l.remaining as remaining', 'a.code as code', 'l.expires_on as expiresOn')
      .orderBy('l.id');
  const dueLots: Array<(query: Knex.QueryBuilder) => void> = [
    (query) => query.andWhere('l.expires_on', '<=', ctx.businessDate),
  ];
  if (cutoff !== undefined) {
    dueLots.push((query) =>
      query
        .join('members as m', 'm.id', 'a.member_id')
        .whereNull('l.expires_on')
        .andWhere('a.kind', 'MEMBER_POINTS')
        .andWhereRaw(`${MEMBER_CLOCK_SQL} <= ?`, [cutoff]),
    );
    dueLots.push((query) =>
      query
        .whereNull('l.expires_on')
        .whereIn('a.id', poolsLastActiveIn(knex, { onOrBefore: cutoff }).select('pa.id')),
    );
  }
  let lastId = 0;
  while (dueLots.length > 0 && !ctx.signal?.aborted) {
    const lots = (await base().modify(dueLots[0]!).andWhere('l.id', '>', lastId).limit(BATCH)) as DueLot[];
    if (lots.length === 0) {
      dueLots.shift();
      lastId = 0;
      continue;
    }
    lastId = lots.at(-1)!.id;
    const earlier = await earlierExpiries(knex, lots);
    const results = await ledger.post(
      lots.map((l) =>
        lotExpiry(
          { ...l, id: Number(l.id) },
          Number(l.remaining),
          earlier.get(Number(l.id)) ?? 0,
          ctx.businessDate,
        ),
      ),
      { atomic: false },
    );
    results.forEach((r, i) => {
      if (r.status === 'posted') {
        counts.lots!++;
        counts.points! += Number(lots[i]!.remaining);
      } else if (r.status === 'refused') counts.refused!++;
    });
  }
  // What expires in the warning period: the figure the expiry-warning mailing goes out for.
  const soon = await knex('lots')
    .where('remaining', '>', 0)
    .andWhere('expires_on', '>', ctx.businessDate)
    .andWhere('expires_on', '<=', addDays(ctx.businessDate, warningDays))
    .sum({ total: 'remaining' })
    .first();
  counts.expiringSoon = Number(soon?.total ?? 0);
  // Undated lots: an account's points expire once a night's inactivity rule reaches its last earning
  // activity. Those above tonight's cutoff and at or below the most the nights of the warning period take
  // are due in it: a version taking effect in the period counts by its own months, shorter or longer.
  const dueSoon = program.inactivityDueWithin(ctx.businessDate, addDays(ctx.businessDate, warningDays));
  if (dueSoon !== undefined && (cutoff === undefined || dueSoon > cutoff)) {
    const undated = await knex('lots as l')
      .join('accounts as a', 'a.id', 'l.account_id')
      .join('members as m', 'm.id', 'a.member_id')
      .where('l.remaining', '>', 0)
      .whereNull('l.expires_on')
      .andWhere('a.kind', 'MEMBER_POINTS')
      .modify((b) => {
        if (cutoff !== undefined) b.andWhereRaw(`${MEMBER_CLOCK_SQL} > ?`, [cutoff]);
      })
      .andWhereRaw(`${MEMBER_CLOCK_SQL} <= ?`, [dueSoon])
      .sum({ total: 'l.remaining' })
      .first();
    const poolsSoon = await knex('lots as l')
      .where('l.remaining', '>', 0)
      .whereNull('l.expires_on')
      .whereIn(
        'l.account_id',
        poolsLastActiveIn(knex, { after: cutoff, onOrBefore: dueSoon }).select('pa.id'),
      )
      .sum({ total: 'l.remaining' })
      .first();
    counts.expiringSoon += Number(undated?.total ?? 0) + Number(poolsSoon?.total ?? 0);
  }
  return { counts };
};

/** An inactivity expiry a late earning shows should not have happened, and the reversal that undoes it. */
export interface Reinstatement {
  request: ReversalInput;
  /** The account the points return to, and how many. */
  account: string;
  points: number;
  /** The night the expiry was posted. */
  expiredOn: IsoDate;
}

/** The key of the reversal that reinstates expiry `key`: one per expiry, so a rerun finds it posted. */
const reinstatementKey = (key: string) => `${key}:REINSTATE`;

/** An earning credited tonight: its member, activity date and posting. */
export interface Earning {
  memberId: number;
  date: IsoDate;
  key: string | null;
}

/**
 * Per member, the dates of the earnings whose posting stands: one reversed since it was credited — by a
 * record of the same batch, or of the same file a rerun decides again — was no activity (as
 * `withdrawReversedEarnings` takes it), so it undoes no expiry. Given back on its credit, the points
 * would be spendable until the night's expire took them again.
 */
export async function standingEarnings(
  q: Knex | Knex.Transaction,
  program: Program,
  earnings: readonly Earning[],
): Promise<Map<number, IsoDate[]>> {
  // Nothing to reinstate under a program that never had an inactivity policy: no read on accrue's path.
  if (!everInactive(program)) return new Map();
  const reversed = new Set<string>();
  const keys = [...new Set(earnings.flatMap((e) => (e.key === null ? [] : [e.key])))];
  for (const part of chunks(keys, 500))
    for (const r of (await q('postings as p')
      .join('postings as r', 'r.reversal_of', 'p.id')
      .whereIn('p.idempotency_key', part)
      .select('p.idempotency_key as key')) as Array<{ key: string }>)
      reversed.add(r.key);
  const out = new Map<number, IsoDate[]>();
  for (const e of earnings) {
    if (e.key !== null && reversed.has(e.key)) continue;
    addTo(out, e.memberId, e.date);
  }
  return out;
}

/** Whether some version of the program's expiry is, or was, the inactivity policy. */
function everInactive(program: Program): boolean {
  return program.config.expiry.some((v) => v.policy === 'inactivity');
}

/**
 * The inactivity expiries that earnings credited tonight undo. `earnings` holds, per member, the activity
 * dates of their earnings. An expiry posted on night E from an account the member's earning keeps alive
 * (their own points; a pool's, whose clock counts its members' activity, on a night the member was in it:
 * their pool's on or after `pool_since`, the night the members feed put them there, and a pool they have
 * left on the nights of their stay (`past_pool_memberships`) or when the earning's day was one of them,
 * the earning being the pool's) did not happen if an earning
 * dated d <= E puts the account's due date after E: addMonths(d, months) > E, months of the inactivity
 * rule of night E. Only expiries of undated lots count (a dated lot expires by its date whatever the
 * member earns), only those not reinstated already, and only those whose points EXPIRY still holds
 * (`stillExpired`). `reversedInRun`: postings a run not written to `q` reversed (the simulator's).
 */
export async function expiriesUndone(
  q: Knex | Knex.Transaction,
  program: Program,
  businessDate: IsoDate,
  earnings: ReadonlyMap<number, readonly IsoDate[]>,
  reversedInRun: (key: string) => boolean = () => false,
): Promise<Reinstatement[]> {
  if (earnings.size === 0 || !everInactive(program)) return [];
  const since = [...earnings.values()].flat().sort()[0]!;
  type Row = {
    memberId: number;
    id: number | string;
    key: string;
    night: IsoDate;
    account: string;
    amount: number | string;
    /** For a pool the member has left: the days they were in it, [since, until). */
    since?: IsoDate | null;
    until?: IsoDate;
    /** For the pool the member is in now: its id. */
    currentPool?: number | string;
  };
  /** The pools each member has left, with the days of their stay. */
  const left = new Map<number, Array<{ pool: number; since: IsoDate | null; until: IsoDate }>>();
  const rows: Row[] = [];
  const expiries = (ids: number[], accountsOf: (b: Knex.QueryBuilder) => void) =>
    q('members as m')
      .modify(accountsOf)
      .join('entries as e', 'e.account_id', 'a.id')
      .join('postings as p', 'p.id', 'e.posting_id')
      .whereIn('m.id', ids)
      .andWhere('e.business_date', '>=', since)
      .andWhere('e.amount', '<', 0)
      .andWhere('p.kind', 'EXPIRY')
      .modify((b) => standing(q, b, 'p'))
      .whereExists((b) =>
        b
          .select(q.raw('1'))
          .from('lot_movements as lm')
          .join('lots as l', 'l.id', 'lm.lot_id')
          .whereRaw('lm.posting_id = p.id')
          .whereNull('l.expires_on'),
      )
      .select(
        'm.id as memberId',
        'p.id as id',
        'p.idempotency_key as key',
        'p.business_date as night',
        'a.code as account',
        'e.amount as amount',
      );
  for (const part of chunks([...earnings.keys()], 500)) {
    const ids = [...part];
    for (const r of (await q('past_pool_memberships')
      .whereIn('member_id', ids)
      .select('member_id', 'pool_id', 'since', 'until')) as Array<Record<string, unknown>>) {
      addTo(left, Number(r.member_id), {
        pool: Number(r.pool_id),
        since: (r.since as IsoDate | null) ?? null,
        until: String(r.until).slice(0, 10),
      });
    }
    rows.push(
      ...((await expiries(ids, (b) =>
        b.join('accounts as a', (j) => j.on('a.member_id', 'm.id').andOnVal('a.kind', 'MEMBER_POINTS')),
      )) as Row[]),
      // Only the pool's expiries of nights the member was in it: one who joined since was no activity of
      // the pool's then, and their earning brings back nothing that expired before they came.
      ...((await expiries(ids, (b) =>
        b
          .join('accounts as a', (j) => j.on('a.pool_id', 'm.pool_id').andOnVal('a.kind', 'POOL_POINTS'))
          .where((w) => w.whereNull('m.pool_since').orWhereRaw('p.business_date >= m.pool_since'))
          .select('a.pool_id as currentPool'),
      )) as Row[]),
      // And those of the pools they have left, of nights from when they joined: which of them the
      // earning undoes depends on its date (below).
      ...((await expiries(ids, (b) =>
        b
          .join('past_pool_memberships as pm', 'pm.member_id', 'm.id')
          .join('accounts as a', (j) => j.on('a.pool_id', 'pm.pool_id').andOnVal('a.kind', 'POOL_POINTS'))
          .where((w) => w.whereNull('pm.since').orWhereRaw('p.business_date >= pm.since'))
          .select('pm.since as since', 'pm.until as until'),
      )) as Row[]),
    );
  }
  // A pool the member has left lost its points on night E for want of activity their earning of day d
  // shows: when they were in it on night E, or on day d, when the earning is the pool's (`pointsAccount`).
  // The pool they are in now, unless the earning's day was one of a stay in another pool: then it was
  // that pool's earning, which the pool they are in now never counted.
  const stayed = (r: Row, d: IsoDate) => {
    if (r.currentPool !== undefined)
      return !left.get(Number(r.memberId))?.some((s) => s.pool !== Number(r.currentPool) && inPoolOn(s, d));
    return (
      r.until === undefined || r.night < r.until || inPoolOn({ since: r.since ?? null, until: r.until }, d)
    );
  };
  const out = new Map<string, Reinstatement>();
  for (const r of rows.sort((a, b) => a.key.localeCompare(b.key))) {
    const months = program.inactivityOn(r.night)?.months;
    if (months === undefined || out.has(r.key)) continue;
    const by = (earnings.get(Number(r.memberId)) ?? []).find(
      (d) => d <= r.night && r.night < addMonths(d, months) && stayed(r, d),
    );
    if (by === undefined || !(await stillExpired(q, Number(r.id), reversedInRun))) continue;
    out.set(r.key, {
      request: {
        key: reinstatementKey(r.key),
        reverses: r.key,
        businessDate,
        sourceRef: `inactivity expiry of ${r.night} reinstated`,
        detail: { reinstated: { earnedOn: by, months } },
      },
      account: r.account,
      points: -Number(r.amount),
      expiredOn: r.night,
    });
  }
  return [...out.values()];
}

/**
 * Whether EXPIRY still holds the points expiry posting `expiryId` took: reinstating gives back no more
 * than that, or the member would be paid points out of nothing. A reversal of the credit that earned the
 * lot's points, or of a transfer that carried them into it (`originsOfLot`), took what had expired from
 * the lot back from EXPIRY (`withExpired`), all of it; what expired after that reversal, the lot having
 * kept points it could not take, EXPIRY holds. An expiry is reversed whole, so one whose points EXPIRY
 * gave back is left as it is.
 */
async function stillExpired(
  q: Knex | Knex.Transaction,
  expiryId: number,
  reversedInRun: (key: string) => boolean,
): Promise<boolean> {
  const look = {
    originOf: async (lotId: number) => {
      const row = (await q('lots as l')
        .join('postings as p', 'p.id', 'l.origin_posting_id')
        .where('l.id', lotId)
        .first('p.id', 'p.kind')) as { id: number | string; kind: string };
      return { postingId: Number(row.id), transfer: row.kind === 'TRANSFER' };
    },
    movementsOf: (postingId: number) => lotMovementsOf(q, postingId),
    lotsCreatedBy: (postingId: number) => lotsCreatedBy(q, postingId),
  };
  const origins = new Set<number>();
  for (const m of await look.movementsOf(expiryId))
    if (m.amount < 0) for (const id of await originsOfLot(m.lotId, look)) origins.add(id);
  const rows = (await q('postings as o')
    .leftJoin('postings as r', 'r.reversal_of', 'o.id')
    .whereIn('o.id', [...origins])
    .select('o.idempotency_key as key', 'r.id as reversal')) as Array<{
    key: string;
    reversal: number | string | null;
  }>;
  return rows.every((r) => (r.reversal === null || Number(r.reversal) < expiryId) && !reversedInRun(r.key));
}

/**
 * Reinstates, in the caller's transaction, the inactivity expiries that tonight's earnings undo
 * (`expiriesUndone`): each expiry is reversed, its points given back to the very lots they expired from,
 * where they can expire again later under the lot's next `EXP:<lot>:<n>`. A rerun finds them reversed.
 */
export async function reinstateExpiries(
  trx: Knex.Transaction,
  ledger: Ledger,
  program: Program,
  businessDate: IsoDate,
  earnings: ReadonlyMap<number, readonly IsoDate[]>,
): Promise<{ expiries: number; points: number; refused: number }> {
  const undone = await expiriesUndone(trx, program, businessDate, earnings);
  const out = { expiries: 0, points: 0, refused: 0 };
  if (undone.length === 0) return out;
  // A rerun of an old night may reinstate what a later night expired: as of that night's date.
  const results = await ledger.post(
    undone.map((u) => u.request),
    { trx, atomic: false, reversalBeforeOriginal: 'date-at-original' },
  );
  results.forEach((r, i) => {
    if (r.status === 'posted') {
      out.expiries++;
      out.points += undone[i]!.points;
    } else if (r.status === 'refused') out.refused++;
  });
  return out;
}
