/**
 * `tiers`: status credits older than the qualification window lapse (posted, so every member's status
 * account always equals the credits that still count); members whose qualification rose today are
 * upgraded at once; members whose review date has come are reviewed as of that date (downgrade with
 * soft landing, or hold). Every change is a tier event the mailing exports use.
 */
import type { Knex } from 'knex';
import { chunks } from '../lib/chunks.js';
import { addTo } from '../lib/multimap.js';
import { addDays, type IsoDate } from '../lib/dates.js';
import { Accounts, type StatusMetric } from '../ledger/accounts.js';
import { Ledger } from '../ledger/ledger.js';
import { Program } from '../rules/program.js';
import { review, upgrade, type TierDecision, type TierState } from '../rules/tiers.js';
import type { Job, JobContext, JobResult } from './types.js';

interface LapseGroup {
  memberId: number;
  number: string;
  metric: StatusMetric;
  total: number | string;
  lastPosting: number | string;
}

/**
 * Lapses the credits that left the window, one posting per member and metric. A group that nets to
 * zero (a credit and the refund that took it back) needs no posting, but its rows are still marked, by
 * the latest posting among them (the one after which they counted for nothing): left unmarked they
 * would be read again every night, for good.
 */
async function lapse(
  ctx: JobContext,
  program: Program,
  ledger: Ledger,
): Promise<{ posted: number; netZero: number }> {
  const { from } = program.qualificationWindow(ctx.businessDate);
  const groups = (await ctx.db
    .knex('status_credits as s')
    .join('members as m', 'm.id', 's.member_id')
    .whereNull('s.lapsed_by')
    .andWhere('s.activity_date', '<', from)
    .groupBy('s.member_id', 'm.number', 's.metric')
    .select('s.member_id as memberId', 'm.number as number', 's.metric as metric')
    .sum({ total: 's.amount' })
    .max({ lastPosting: 's.posting_id' })
    // PostgreSQL returns groups in hash order: the lapse postings' ids would differ from run to run.
    .orderBy([{ column: 'm.number' }, { column: 's.metric' }])) as LapseGroup[];
  const counts = { posted: 0, netZero: 0 };
  for (const part of chunks(groups, 1_000)) {
    await ctx.db.transaction(async (trx) => {
      const live = part.filter((g) => Number(g.total) !== 0);
      // A rerun of the date can find credits a late file brought since: their lapse is another posting
      // than the one the first run made, so it takes a key of its own (the last credit it lapses).
      const base = (g: LapseGroup) => `LAPSE:${g.number}:${g.metric}:${ctx.businessDate}`;
      const taken = new Set<string>();
      for (const keys of chunks(live.map(base), 500))
        for (const k of await trx('postings').whereIn('idempotency_key', keys).pluck('idempotency_key'))
          taken.add(k as string);
      const results = await ledger.post(
        live.map((g) => ({
          key: taken.has(base(g)) ? `${base(g)}:${g.lastPosting}` : base(g),
          kind: 'STATUS_LAPSE' as const,
          businessDate: ctx.businessDate,
          memberNumber: g.number,
          channel: 'STATUS',
          entries: [
            { account: Accounts.memberStatus(g.number, g.metric), amount: -Number(g.total) },
            { account: Accounts.statusLapsed(g.metric), amount: Number(g.total) },
          ],
          sourceRef: `credits before ${from}`,
        })),
        { trx },
      );
      const lapsedBy = new Map(live.map((g, j) => [g, results[j]!.postingId]));
      for (const g of part) {
        await trx('status_credits')
          .where({ member_id: g.memberId, metric: g.metric })
          .whereNull('lapsed_by')
          .andWhere('activity_date', '<', from)
          .update({ lapsed_by: lapsedBy.get(g) ?? Number(g.lastPosting) });
      }
      counts.posted += live.length;
      counts.netZero += part.length - live.length;
    });
  }
  return counts;
}

/**
 * The members' qualification on the window ending on `date`, in the metric and window of the tier rules
 * in force on `date`. With `postedBy`, only the credits posted by that business date count: what a night
 * that did not run this job knew, not what came after it.
 */
async function qualification(
  q: Knex | Knex.Transaction,
  program: Program,
  memberIds: number[],
  date: string,
  postedBy?: IsoDate,
): Promise<Map<number, number>> {
  const { from, to } = program.qualificationWindow(date);
  const out = new Map<number, number>();
  for (const part of chunks(memberIds, 500)) {
    const rows = await q('status_credits as s')
      .modify((b) => {
        if (postedBy)
          b.join('postings as p', 'p.id', 's.posting_id').andWhere('p.business_date', '<=', postedBy);
      })
      .whereIn('s.member_id', part)
      .andWhere('s.metric', program.statusMetric(date))
      .andWhere('s.activity_date', '>=', from)
      .andWhere('s.activity_date', '<=', to)
      .groupBy('s.member_id')
      .select('s.member_id as member_id')
      .sum({ total: 's.amount' });
    for (const r of rows as Array<{ member_id: number; total: number | string }>)
      out.set(Number(r.member_id), Number(r.total));
  }
  return out;
}

/**
 * The date a decision took effect on when it is another than the business date's: the review date a
 * review decided, the last day of a closed year an upgrade is dated on.
 */
function datedOn(ctx: JobContext, d: TierDecision): IsoDate | undefined {
  if (d.reviewedOn) return d.reviewedOn;
  const since = d.next.tierSince;
  return d.event.direction === 'UP' && since !== null && since !== ctx.businessDate ? since : undefined;
}

/** The key of the tier event a decision records for a member on a business date (`dated`: `datedOn`). */
function eventKey(
  ctx: JobContext,
  member: { number: string },
  d: TierDecision,
  dated: IsoDate | undefined,
): string {
  // The tier it moves to is part of it: a rerun with a late file may take the member further than the
  // first run did, and that is another event, not the same one recorded again. So is the date it took
  // effect on when not tonight's: a night catching up two missed reviews may hold the tier at both, and
  // one catching up years may upgrade for a closed year, step down at its review, and upgrade again.
  const key = `TIER:${member.number}:${ctx.businessDate}:${d.event.direction}:${d.event.to}`;
  return dated ? `${key}:${dated}` : key;
}

type Decision = { member: MemberTierRow; d: TierDecision; key: string; dated: IsoDate | undefined };

/**
 * The decisions already recorded: a rerun of their date. One recorded before its key named the date it
 * took effect on (a review, a closed year's upgrade) is known by its old key and that date.
 */
async function recordedEvents(trx: Knex.Transaction, decided: Decision[]): Promise<Set<Decision>> {
  const legacy = (x: Decision) => x.key.slice(0, -`:${x.dated}`.length);
  const keys = decided.flatMap((x) => (x.dated ? [x.key, legacy(x)] : [x.key]));
  const found = new Map<string, string | null>();
  for (const part of chunks(keys, 500)) {
    const rows = await trx('tier_events').whereIn('event_key', part).select('event_key', 'effective_on');
    for (const r of rows as Array<{ event_key: string; effective_on: string | null }>)
      found.set(r.event_key, r.effective_on);
  }
  return new Set(
    decided.filter((x) => found.has(x.key) || (x.dated !== undefined && found.get(legacy(x)) === x.dated)),
  );
}

/**
 * The members whose tier a night after this business date decided: a rerun of an old night must not
 * undo it (the upgrade its window still allows, after the review that stepped the member down since).
 * Only a recorded decision counts, not the member's `tier_since`: a member no night has moved holds the
 * base tier since his enrolment date, which may lie ahead of the night (one typed a year ahead and
 * corrected since, kept by a member enrolled before the feed refused it), and no night decided that.
 */
async function decidedLater(trx: Knex.Transaction, ctx: JobContext, ids: number[]): Promise<Set<number>> {
  const out = new Set<number>();
  for (const part of chunks(ids, 500)) {
    const found = await trx('tier_events')
      .whereIn('member_id', part)
      .andWhere((w) =>
        w.where('business_date', '>', ctx.businessDate).orWhere('effective_on', '>', ctx.businessDate),
      )
      .distinct('member_id as id');
    for (const r of found as Array<{ id: number | string }>) out.add(Number(r.id));
  }
  return out;
}

/** Records the decisions' tier events and moves the members to their new tier. */
async function apply(trx: Knex.Transaction, ctx: JobContext, decisions: Decision[]): Promise<void> {
  if (decisions.length === 0) return;
  const createdAt = ctx.now().toISOString();
  for (const part of chunks(decisions, 500)) {
    await trx('tier_events')
      .insert(
        part.map(({ member, d, key }) => ({
          event_key: key,
          member_id: member.id,
          business_date: ctx.businessDate,
          // A review caught up late takes effect from its review date, not from tonight; an upgrade
          // from tonight. A tier held keeps its old date: the review's is the one it held on.
          effective_on:
            (d.event.direction === 'HOLD' ? member.review_date : d.next.tierSince) ?? ctx.businessDate,
          from_tier: d.event.from,
          to_tier: d.event.to,
          direction: d.event.direction,
          qualification: d.event.qualification,
          reason: d.event.reason,
          created_at: createdAt,
        })),
      )
      .onConflict('event_key')
      .ignore();
  }
  for (const { member, d } of decisions)
    await trx('members')
      .where({ id: member.id })
      .update({ tier: d.next.tier, tier_since: d.next.tierSince, review_date: d.next.reviewDate });
}

/** What the passes did: the job's counts, and the decisions left to the later nights that made theirs. */
interface Tally {
  counts: Record<string, number>;
  decidedLater: string[];
}

type MemberTierRow = {
  id: number;
  number: string;
  tier: string;
  tier_since: string | null;
  review_date: string | null;
};

/** The members' qualifications a pass decides on. */
type Qualify = (trx: Knex.Transaction, members: readonly MemberTierRow[]) => Promise<Map<number, number>>;

/**
 * The qualification of the window ending on `judgedOn`, for each member its own, counting the credits
 * posted by the business date `postedBy` gives for that date (every credit when it gives none).
 */
const onWindowEnding =
  (
    program: Program,
    judgedOn: (m: MemberTierRow) => string,
    postedBy: (date: IsoDate) => IsoDate | undefined = () => undefined,
  ): Qualify =>
  async (trx, members) => {
    const byDate = new Map<string, MemberTierRow[]>();
    for (const m of members) {
      addTo(byDate, judgedOn(m), m);
    }
    const q = new Map<number, number>();
    for (const [date, list] of byDate)
      for (const [id, total] of await qualification(
        trx,
        program,
        list.map((m) => m.id),
        date,
        postedBy(date),
      ))
        q.set(id, total);
    return q;
  };

/**
 * Decides for each member with the qualification `qualify` gives (the window ending on the business date
 * unless said otherwise) and records the decisions.
 */
async function decideAll(
  ctx: JobContext,
  program: Program,
  members: MemberTierRow[],
  decideOne: (s: TierState, q: number, m: MemberTierRow) => TierDecision | undefined,
  tally: Tally,
  qualify: Qualify = onWindowEnding(program, () => ctx.businessDate),
): Promise<number[]> {
  const { counts } = tally;
  const applied: number[] = [];
  for (const part of chunks(members, 1_000)) {
    await ctx.db.transaction(async (trx) => {
      const q = await qualify(trx, part);
      const decided = part.flatMap((member) => {
        const d = decideOne(
          { tier: member.tier, tierSince: member.tier_since, reviewDate: member.review_date },
          q.get(member.id) ?? 0,
          member,
        );
        if (!d) return [];
        const dated = datedOn(ctx, d);
        return [{ member, d, key: eventKey(ctx, member, d, dated), dated }];
      });
      // A decision recorded before is a rerun of its date, and a member whose tier a later night decided
      // is that night's: applying either would undo what later nights decided.
      const recorded = await recordedEvents(trx, decided);
      const unrecorded = decided.filter((x) => !recorded.has(x));
      const later = await decidedLater(
        trx,
        ctx,
        unrecorded.map((x) => x.member.id),
      );
      const fresh = unrecorded.filter((x) => !later.has(x.member.id));
      await apply(trx, ctx, fresh);
      for (const { d } of fresh)
        counts[d.event.direction.toLowerCase()] = (counts[d.event.direction.toLowerCase()] ?? 0) + 1;
      for (const { member, d } of unrecorded.filter((x) => later.has(x.member.id)))
        tally.decidedLater.push(`${member.number} (${d.event.from} → ${d.event.to})`);
      applied.push(...fresh.map((x) => x.member.id));
    });
  }
  return applied;
}

/** A night since this job last ran, before tonight, on which members' qualification may have risen. */
interface MissedNight {
  /** The last day of the window judged. */
  date: IsoDate;
  /** The date an upgrade reached that night takes. */
  datedOn: IsoDate;
  /**
   * For each member credited that night, the qualification that night and the best of it and of the
   * nights after it whose upgrades are dated alike.
   */
  reached: Map<number, { own: number; best: Reached }>;
}

/**
 * A qualification and the date it was judged on: the tier it reaches is the one the thresholds in force
 * on that date give, so two nights under different tier versions compare by tier, not by amount.
 */
interface Reached {
  qualification: number;
  judgedOn: IsoDate;
}

/**
 * The nights after `since` (the last night this job completed) and before tonight on which a member's
 * qualification may have crossed a threshold, in date order: each night a credit was posted for them
 * (between two, their window only loses credits), judged on the window ending that night with only the
 * credits posted by then, what that night knew; each under the tier rules in force on it. Under a
 * calendar-year window (the one in force on 31 December), also the last day of each year that closed
 * since, judged on that year with every credit of it: its 31 December did not run this
 * job, so the year closes tonight. Once 31 December's run has succeeded (`since` is then that date or
 * later) the year was closed on its last night, and a credit of it that comes later changes nothing.
 */
async function missedNights(
  ctx: JobContext,
  program: Program,
  since: IsoDate,
  credited: () => Promise<MemberTierRow[]>,
): Promise<MissedNight[]> {
  const tonight = ctx.businessDate;
  // The window in force on the date judged: a year closes under a calendar-year window only.
  const calendar = (date: IsoDate) => program.calendarWindow(date);
  const yearEnd = (date: IsoDate) => `${date.slice(0, 4)}-12-31`;
  // An upgrade a night that did not run this job reached is dated the night that does (the member is
  // told tonight), and reviewed a period on; under a calendar-year window, one of a year closed since is
  // that year's, reached on its last day and reviewed at the end of the next, as after a night that ran.
  const upgradeDateOf = (date: IsoDate) =>
    calendar(date) && date < `${tonight.slice(0, 4)}-01-01` ? yearEnd(date) : tonight;
  const judged: Array<{ date: IsoDate; postedBy?: IsoDate; ids: number[] }> = [];
  const rows = (await ctx.db
    .knex('status_credits as s')
    .join('postings as p', 'p.id', 's.posting_id')
    .join('members as m', 'm.id', 's.member_id')
    .where('p.business_date', '>', since)
    .andWhere('p.business_date', '<', tonight)
    // A credit counts in the metric of its activity date's tier rules, which may be another than that of
    // the night judging it: such a member is judged and reaches nothing.
    .whereIn('s.metric', program.statusMetrics)
    .andWhere('s.amount', '>', 0)
    .whereIn('m.status', ['ACTIVE', 'SUSPENDED', 'INCOMPLETE'])
    .distinct('s.member_id as memberId', 'p.business_date as night')) as Array<{
    memberId: number | string;
    night: string;
  }>;
  const byNight = new Map<IsoDate, number[]>();
  for (const r of rows) {
    addTo(byNight, String(r.night).slice(0, 10), Number(r.memberId));
  }
  for (const [date, ids] of byNight) judged.push({ date, postedBy: date, ids });
  let yearIds: number[] | undefined;
  for (let end = yearEnd(since); end < tonight; end = yearEnd(addDays(end, 1)))
    if (end > since && calendar(end))
      judged.push({ date: end, ids: (yearIds ??= (await credited()).map((m) => m.id)) });
  const own: Array<Map<number, number>> = [];
  for (const j of judged) own.push(await qualification(ctx.db.knex, program, j.ids, j.date, j.postedBy));
  // The best so far, latest night first, for each date upgrades take and member: tonight's window counts
  // too, so that a member is upgraded once, to the highest tier the nights reached, not once for each.
  const best = new Map<string, Reached>();
  const rank = (r: Reached) => program.tierRank(program.tierFor(r.qualification, r.judgedOn));
  const better = (a: Reached, b: Reached | undefined) =>
    b === undefined || rank(a) > rank(b) || (rank(a) === rank(b) && a.qualification > b.qualification)
      ? a
      : b;
  const tonightIds = [
    ...new Set(judged.filter((j) => upgradeDateOf(j.date) === tonight).flatMap((j) => j.ids)),
  ];
  for (const [id, total] of await qualification(ctx.db.knex, program, tonightIds, tonight))
    best.set(`${tonight}:${id}`, { qualification: total, judgedOn: tonight });
  const nights = new Map<IsoDate, MissedNight>();
  const order = judged.map((j, i) => ({ ...j, own: own[i]! })).sort((a, b) => b.date.localeCompare(a.date));
  for (const j of order) {
    const night = nights.get(j.date) ?? { date: j.date, datedOn: upgradeDateOf(j.date), reached: new Map() };
    nights.set(j.date, night);
    for (const id of j.ids) {
      const key = `${night.datedOn}:${id}`;
      const q = j.own.get(id) ?? 0;
      const b = better({ qualification: q, judgedOn: j.date }, best.get(key));
      best.set(key, b);
      const seen = night.reached.get(id);
      night.reached.set(id, { own: Math.max(q, seen?.own ?? q), best: better(b, seen?.best) });
    }
  }
  return [...nights.values()].sort((a, b) => a.date.localeCompare(b.date));
}

export const tiersJob: Job = async (ctx: JobContext): Promise<JobResult> => {
  const program = new Program(ctx.config);
  const ledger = new Ledger(ctx.db, { now: ctx.now });
  const lapsed = await lapse(ctx, program, ledger);
  const counts: Record<string, number> = {
    lapsed: lapsed.posted,
    'lapsed.netZero': lapsed.netZero,
    up: 0,
    down: 0,
    hold: 0,
    decidedLater: 0,
  };
  const tally: Tally = { counts, decidedLater: [] };
  const members = (filter: (q: Knex.QueryBuilder) => void) =>
    ctx.db
      .knex('members')
      .whereIn('status', ['ACTIVE', 'SUSPENDED', 'INCOMPLETE'])
      .modify(filter)
      .select('id', 'number', 'tier', 'tier_since', 'review_date')
      // The order the tier events are recorded in, and so the daily report's (by event id): PostgreSQL
      // would otherwise return the members in whatever order its plan reads them.
      .orderBy('number') as Promise<MemberTierRow[]>;
  // A catch-up pass may move every member at once: the ones to read again go by in pieces (a statement
  // takes a bounded number of parameters), put back in member-number order as one read would have them.
  const membersAmong = async (ids: readonly number[], filter: (q: Knex.QueryBuilder) => void = () => {}) => {
    const out: MemberTierRow[] = [];
    for (const part of chunks(ids, 500)) out.push(...(await members((q) => filter(q.whereIn('id', part)))));
    return out.sort((a, b) => a.number.localeCompare(b.number));
  };
  const due = (op: '<' | '<=', date: IsoDate) => (q: Knex.QueryBuilder) =>
    void q.whereNotNull('review_date').andWhere('review_date', op, date);
  const reviewed = (s: TierState, q: number) => review(program, s, q, ctx.businessDate);
  // A review decided after its date counts what was posted by that date, as tiers run on it would have:
  // a refund a later night brought does not step down a member who requalified on his review date, nor
  // does a credit posted since hold one who did not (the upgrade passes of the nights after it take that
  // credit). The review due tonight counts what tonight knows. Under a calendar-year window the review's
  // date is its year's last day, and a year whose 31 December did not run this job closes the night it
  // runs, judged with every credit of it, as its upgrades are (`missedNights`). An anniversary review an
  // earlier rolling version set may fall mid-year under a calendar-year version (a version does not
  // reach back): that one closes no year and counts what was posted by its date like any other.
  const closesYear = (date: IsoDate) => program.calendarWindow(date) && date.endsWith('-12-31');
  const onReviewDate = onWindowEnding(
    program,
    (m) => m.review_date!,
    (date) => (!closesYear(date) && date < ctx.businessDate ? date : undefined),
  );
  // Reviews whose date went by on nights that did not run this job are decided as they would have been
  // on their dates: before the upgrades of the nights after them, which may take a member the review
  // stepped down back up. Each sets the next review a period on, which may have gone by too (the job
  // stopped for over a year): decided in turn, each on its own date. Only the members a pass moved are
  // read again, so one left as it was (a rerun, a later night's decision) ends the catch-up.
  const reviewsBefore = async (date: IsoDate) => {
    let overdue = await members(due('<', date));
    while (overdue.length > 0) {
      const moved = await decideAll(ctx, program, overdue, reviewed, tally, onReviewDate);
      overdue = moved.length > 0 ? await membersAmong(moved, due('<', date)) : [];
    }
  };
  // Members whose qualification rose: credits posted since the last night this job completed (a night
  // that did not run tiers must not lose its upgrades). Before this job first completes, since the night
  // before the first that any job completed: tiers failing on the first nights after going live must not
  // lose their upgrades either. With no run recorded at all, this business date's.
  const succeeded = (job?: string) =>
    ctx.db
      .knex('job_runs')
      .where({ status: 'succeeded' })
      .modify((q) => {
        if (job) q.andWhere({ job });
      })
      .andWhere('business_date', '<=', ctx.businessDate);
  const last = await succeeded('tiers').max({ d: 'business_date' }).first();
  const first = last?.d ? undefined : await succeeded().min({ d: 'business_date' }).first();
  const since = last?.d
    ? String(last.d).slice(0, 10)
    : first?.d && String(first.d).slice(0, 10) < ctx.businessDate
      ? addDays(String(first.d).slice(0, 10), -1)
      : ctx.businessDate;
  const credited = () =>
    members((q) =>
      q.whereIn(
        'id',
        ctx.db
          .knex('status_credits as s')
          .join('postings as p', 'p.id', 's.posting_id')
          .whereBetween('p.business_date', [since, ctx.businessDate])
          .select('s.member_id'),
      ),
    );
  const upgradedOn = (date: IsoDate) => (s: TierState, q: number) => upgrade(program, s, q, date);
  // The nights this job did not run are judged in turn, each after the reviews before it, as had it run
  // on them: judged on tonight's window alone, an upgrade whose credits have left it since is lost. When
  // the job ran the night before (most nights), there is none.
  if (since < addDays(ctx.businessDate, -1))
    for (const night of await missedNights(ctx, program, since, credited)) {
      await reviewsBefore(night.date);
      // Upgraded only when that night's own qualification crosses a threshold of that night's tier rules
      // (else a review in between comes first), then at once to the best of the nights after it, each
      // judged by its own rules: no review falls between them.
      const { reached, datedOn } = night;
      await decideAll(
        ctx,
        program,
        await membersAmong([...reached.keys()]),
        (s, q, m) => {
          if (!upgrade(program, s, q, datedOn, night.date)) return undefined;
          const best = reached.get(m.id)!.best;
          return upgrade(program, s, best.qualification, datedOn, best.judgedOn);
        },
        tally,
        () => Promise.resolve(new Map([...reached].map(([id, r]) => [id, r.own]))),
      );
    }
  await reviewsBefore(ctx.businessDate);
  await decideAll(ctx, program, await credited(), upgradedOn(ctx.businessDate), tally);
  await decideAll(ctx, program, await members(due('<=', ctx.businessDate)), reviewed, tally, onReviewDate);
  const later = tally.decidedLater;
  const warnings =
    later.length === 0
      ? []
      : [
          `${later.length} tier decision(s) of ${ctx.businessDate} not applied, a later night having decided ` +
            `the member's tier since: ${later.slice(0, 10).join(', ')}` +
            (later.length > 10 ? ` and ${later.length - 10} more` : ''),
        ];
  counts.decidedLater = later.length;
  return { counts, warnings };
};
