/**
 * `redeye schedule`: the daemon that runs the configured schedules in the configured time zone. Runs
 * never overlap (one queue, plus the run locks, so several schedulers on one PostgreSQL database run
 * each job once). On start, and again with each run the cron fires, it runs every business date owed —
 * missed while it was down, failed or refused — oldest first (a month-end after its last day's night),
 * bounded by `schedules.catchUpDays`:
 * a night that failed is retried at the next firing, not only at the next restart. A business date
 * that has not ended in the program's time zone (a schedule's zone or offset firing early) is refused,
 * recorded and run when it ends. A job whose
 * transports name a secret the environment does not hold is logged at error at start, and each of its
 * runs is refused and recorded failed (SECRET_MISSING) until the daemon is restarted with it set, when
 * the catch-up runs them; the other jobs run as ever. SIGTERM or SIGINT stops it cleanly: the running
 * step finishes its current transaction, and the process exits 0.
 */
import { addDays, dateInZone, endOfMonth, lastEndedDate, startOfMonth, type IsoDate } from '../lib/dates.js';
import { coerceError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { Db } from '../db/connection.js';
import type { LoadedConfig } from '../config/load.js';
import {
  AlreadyRanError,
  runJob,
  secretsMissingListed,
  transportSecretProblems,
  type RunnableJob,
  type RunSummary,
} from './runner.js';
import { noProgress, type JobContext } from './types.js';
import { LockedError } from './lock.js';
import { CronCalendar, type CronFire } from './cron-calendar.js';
import { sleepUnlessStopped } from '../lib/sleep.js';
import { businessDayClose } from '../reports/common.js';

export interface SchedulerOptions {
  db: Db;
  config: LoadedConfig;
  logger: Logger;
  env: NodeJS.ProcessEnv;
  now?: () => Date;
  /** Waits `ms`, or until the signal aborts (default: a timer); tests give a clock they move by hand. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export interface ScheduledJob {
  job: RunnableJob;
  cron: string;
  dateOffsetDays: number;
}

/**
 * The business date a job's cron fires for on local `day`: the day moved by `dateOffsetDays`; for the
 * month-end, the last month's end on or before it (the runner makes the month-end of a month's last day,
 * and a firing on the 2nd, a day's grace for late files, is for the month before, not the one begun).
 */
export function businessDateOf(job: Pick<ScheduledJob, 'job' | 'dateOffsetDays'>, day: IsoDate): IsoDate {
  const d = addDays(day, job.dateOffsetDays);
  if (job.job !== 'monthly' || d === endOfMonth(d)) return d;
  return addDays(startOfMonth(d), -1);
}

/** The configured schedules; their cron expressions and job names were checked when the file loaded. */
export function scheduledJobs(config: LoadedConfig): ScheduledJob[] {
  return config.schedules.jobs.map(({ job, cron, dateOffsetDays }) => ({ job, cron, dateOffsetDays }));
}

/**
 * Business dates a scheduled job owes: each business date its cron fired for in the last `catchUpDays`
 * days (so a monthly job catches up months, not days) with no successful run — missed while the
 * scheduler was down, failed, or refused (a night that failed stays to be done even after a later one
 * succeeded; its files, exports and reports are still owed). The dates come from the calendar day by day
 * (jobs/cron-calendar.ts), so a day whose cron time the clocks skipped is owed like any other. Nothing
 * before the job's first recorded run: a scheduler that has never run starts with the cron; it does not
 * invent a history.
 */
export async function missedDates(
  db: Db,
  job: ScheduledJob,
  now: Date,
  timeZone: string,
  catchUpDays: number,
): Promise<MissedRun[]> {
  const first = await db.knex('job_runs').where({ job: job.job }).min({ d: 'business_date' }).first();
  const firstDate = (first?.d as string | null) ?? null;
  if (firstDate === null) return [];
  const from = new Date(now.getTime() - catchUpDays * 86_400_000);
  // Fire times oldest first: a date fired for more than once keeps its first, the run that on time would
  // have done it (the later ones find it done).
  const firedAt = new Map<IsoDate, Date>();
  for (const f of new CronCalendar(job.cron, timeZone).between(from, now)) {
    const d = businessDateOf(job, f.day);
    if (d >= firstDate && !firedAt.has(d)) firedAt.set(d, f.at);
  }
  if (firedAt.size === 0) return [];
  const done = await succeededDates(db, job.job, [...firedAt.keys()]);
  return [...firedAt]
    .filter(([d]) => !done.has(d))
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([businessDate, at]) => ({ businessDate, firedAt: at }));
}

async function succeededDates(db: Db, job: RunnableJob, dates: IsoDate[]): Promise<Set<IsoDate>> {
  const done = new Set<IsoDate>();
  // A bounded IN list per query: SQLite takes at most 32,766 parameters.
  for (let i = 0; i < dates.length; i += 500) {
    const rows = (await db
      .knex('job_runs')
      .where({ job, status: 'succeeded' })
      .whereIn('business_date', dates.slice(i, i + 500))
      .distinct('business_date')) as Array<{ business_date: string }>;
    for (const r of rows) done.add(r.business_date);
  }
  return done;
}

/** The business dates a job owes that the catch-up window leaves behind (see `datesLeftBehind`). */
export interface LeftBehind {
  first: IsoDate;
  last: IsoDate;
  count: number;
  /** Those with a recorded run, none of which succeeded (failed, refused or killed), oldest first. */
  failed: IsoDate[];
}

/**
 * The business dates a job owes that are older than the catch-up window, and so will not be run by the
 * scheduler: those after its last successful run (or from its first run, when none succeeded) whose cron
 * fired before `catchUpDays` ago, and every date before that with a recorded run but no successful one —
 * a night that failed stays owed after a later one succeeded (its files, exports and reports are still
 * to be made). Undefined when there are none.
 */
export async function datesLeftBehind(
  db: Db,
  job: ScheduledJob,
  now: Date,
  timeZone: string,
  catchUpDays: number,
): Promise<LeftBehind | undefined> {
  const row = await db.knex('job_runs').where({ job: job.job }).min({ first: 'business_date' }).first();
  const firstRun = (row?.first as string | null) ?? null;
  if (firstRun === null) return undefined;
  const success = await db
    .knex('job_runs')
    .where({ job: job.job, status: 'succeeded' })
    .max({ last: 'business_date' })
    .first();
  const lastSuccess = (success?.last as string | null) ?? null;
  const until = new Date(now.getTime() - catchUpDays * 86_400_000);
  const since = lastSuccess ?? addDays(firstRun, -1);
  const calendar = new CronCalendar(job.cron, timeZone);
  const dates = new Set<IsoDate>();
  // From two days before the local day whose cron fires for the date after `since`: clear of any offset.
  const scanFrom = new Date(
    Date.parse(`${addDays(since, 1 - job.dateOffsetDays)}T00:00:00Z`) - 2 * 86_400_000,
  );
  if (scanFrom < until)
    for (const f of calendar.between(scanFrom, until)) {
      const d = businessDateOf(job, f.day);
      if (d > since) dates.add(d);
    }
  // Before the last success only what was recorded can be told owed: a date with no run at all may be one
  // the scheduler did not run for. Dates after the one a firing at `until` is for are the window's, or
  // ones its cron does not fire for.
  const failed = new Set(await failedDates(db, job.job, businessDateOf(job, dateInZone(until, timeZone))));
  for (const d of failed) dates.add(d);
  // A date its cron fires for again inside the window (an hourly cron) is caught up.
  for (const f of calendar.between(until, now)) dates.delete(businessDateOf(job, f.day));
  const sorted = [...dates].sort();
  if (sorted.length === 0) return undefined;
  return {
    first: sorted[0]!,
    last: sorted.at(-1)!,
    count: sorted.length,
    failed: sorted.filter((d) => failed.has(d)),
  };
}

/** The business dates through `through` with a recorded run of `job` and no successful one. */
async function failedDates(db: Db, job: RunnableJob, through: IsoDate): Promise<IsoDate[]> {
  const rows = (await db
    .knex('job_runs')
    .where({ job })
    .andWhere('business_date', '<=', through)
    .groupBy('business_date')
    .havingRaw("SUM(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END) = 0")
    .select('business_date')) as Array<{ business_date: string }>;
  return rows.map((r) => r.business_date);
}

/** How many of the dates left behind whose runs failed the start-up warning names; the rest it counts. */
const FAILED_NAMED = 10;

/** A job's dates left behind, as the start-up warning names them. */
function describeLeftBehind(job: RunnableJob, left: LeftBehind): string {
  const range = `${job}: ${left.count} from ${left.first} to ${left.last}`;
  if (left.failed.length === 0) return range;
  const more = left.failed.length > FAILED_NAMED ? ` and ${left.failed.length - FAILED_NAMED} more` : '';
  return `${range}, whose runs failed or were refused on ${left.failed.slice(0, FAILED_NAMED).join(', ')}${more}`;
}

/** A run the scheduler owes: its business date, and when its cron fired for it (the files it may take). */
export interface MissedRun {
  businessDate: IsoDate;
  firedAt: Date;
}

/** A run owed by one of the scheduled jobs. */
interface OwedRun extends MissedRun {
  job: RunnableJob;
}

/** A run to make now: one owed, or the one a cron just fired for (which takes every file in). */
type DueRun = Omit<OwedRun, 'firedAt'> & { firedAt?: Date };

/**
 * The order a catch-up runs in: oldest date first; on one date, a month-end after the other jobs, since
 * it waits for its last day's night (its run is refused while that night has not succeeded).
 */
function catchUpOrder(jobs: ScheduledJob[]): (a: DueRun, b: DueRun) => number {
  const rank = (j: RunnableJob) => (j === 'monthly' ? jobs.length : jobs.findIndex((s) => s.job === j));
  return (a, b) =>
    a.businessDate < b.businessDate ? -1 : a.businessDate > b.businessDate ? 1 : rank(a.job) - rank(b.job);
}

/** How long the daemon sleeps at most before reading the clock again (a clock stepped, a machine woken). */
const MAX_SLEEP_MS = 60_000;
/** How long a run refused for a date not yet ended waits at least before the date is looked at again. */
const MIN_END_WAIT_MS = 5_000;

export class Scheduler {
  private readonly controller = new AbortController();
  /** The loops that wait for each job's next firing; they end when the scheduler stops. */
  private readonly watching: Array<Promise<void>> = [];
  private queue: Promise<void> = Promise.resolve();
  private started?: Promise<void>;
  private readonly timeZone: string;
  private readonly now: () => Date;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly jobs: ScheduledJob[];
  /** The runs refused for a date not yet ended that wait for it to end, as `job date`: one wait each. */
  private readonly waitingForDateEnd = new Set<string>();
  readonly runs: RunSummary[] = [];

  constructor(private readonly o: SchedulerOptions) {
    this.timeZone = o.config.schedules.timeZone ?? o.config.program.timeZone;
    this.now = o.now ?? (() => new Date());
    this.sleep = o.sleep ?? sleepUnlessStopped;
    this.jobs = scheduledJobs(o.config);
  }

  /** Adds work to the one queue: runs never overlap, and a failure never stops the queue. */
  private enqueue(work: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(work).catch((error: unknown) => {
      const e = coerceError(error);
      this.o.logger.error({ code: e.code }, `scheduler: ${e.describe()}`);
    });
    return this.queue;
  }

  /** Runs a job for a date, once: another scheduler sharing the database may have run it already. */
  private async runOnce(job: RunnableJob, date: IsoDate, filesUntil?: Date): Promise<void> {
    if (this.controller.signal.aborted) return;
    const ctx: JobContext = {
      db: this.o.db,
      config: this.o.config,
      logger: this.o.logger,
      businessDate: date,
      now: this.now,
      progress: noProgress,
      signal: this.controller.signal,
      env: this.o.env,
      ...(filesUntil ? { filesUntil } : {}),
    };
    try {
      const summary = await runJob(ctx, job, {
        onlyOnce: true,
        refuseUnsetSecrets: true,
        refuseUnended: true,
      });
      this.runs.push(summary);
      const early = summary.refused?.code === 'NOT_ENDED';
      if (early) this.runWhenEnded(job, summary.businessDate);
      const stopped = summary.stopped
        ? ` (stopped at ${summary.stopped.step}: ${summary.stopped.reason})`
        : '';
      const failedSteps = summary.steps
        .filter((s) => s.error)
        .map((s) => ({ step: s.job, code: s.error!.code }));
      const fields = {
        job,
        businessDate: summary.businessDate,
        status: summary.status,
        ...(summary.stopped ? { stopped: summary.stopped } : {}),
        ...(failedSteps.length > 0 ? { failedSteps } : {}),
      };
      if (summary.status === 'succeeded')
        this.o.logger.info(fields, `${job} for ${summary.businessDate}: succeeded`);
      else if (summary.refused) {
        // runJob logged the refusal at error, with its code and what to do: an error line more would say
        // it twice. What the scheduler does about it is all there is to add.
        const { code } = summary.refused;
        this.o.logger.info(
          { ...fields, code },
          `${job} for ${summary.businessDate}: refused [${code}], no step run; ` +
            (early ? `run when ${summary.businessDate} ends` : 'retried before the next scheduled run'),
        );
      } else {
        // The step the night stopped at says its code already.
        const others = failedSteps.filter((f) => f.step !== summary.stopped?.step);
        const message =
          `${job} for ${summary.businessDate}: failed${stopped}` +
          (others.length > 0 ? ` at ${others.map((f) => `${f.step} [${f.code}]`).join(', ')}` : '') +
          '; retried before the next scheduled run';
        // runJob logged each failed step at error (a stop asked for at warn), with its code and message:
        // the daemon adds what it does about it. A night stopped between two steps no step logged.
        if (failedSteps.length > 0) this.o.logger.info(fields, message);
        else this.o.logger.warn(fields, message);
      }
    } catch (error) {
      const e = coerceError(error);
      // Another scheduler holds this run, or has done it: it is being done, which is all that matters.
      if (e instanceof LockedError || e instanceof AlreadyRanError)
        this.o.logger.info({ job, businessDate: date }, e.message);
      else
        this.o.logger.error(
          { job, businessDate: date, code: e.code },
          `${job} for ${date} could not run: ${e.describe()}; retried before the next scheduled run`,
        );
    }
  }

  /** Every run the scheduled jobs owe as of `now`, in the order a catch-up runs them. */
  private async owed(now: Date): Promise<OwedRun[]> {
    const owed: OwedRun[] = [];
    for (const s of this.jobs) {
      if (this.controller.signal.aborted) break;
      for (const m of await missedDates(
        this.o.db,
        s,
        now,
        this.timeZone,
        this.o.config.schedules.catchUpDays,
      ))
        owed.push({ job: s.job, ...m });
    }
    return owed.sort(catchUpOrder(this.jobs));
  }

  /**
   * A cron firing: the night fired for, with every night still owed (missed, failed or refused within
   * `catchUpDays`), oldest first and a month-end after its last day's night — the one fired for among
   * them, so a month-end refused earlier for its night runs after that night, not a day later. Each owed
   * night takes the files that had come in when its cron fired for it. Worked out when its turn in the
   * queue comes, so it sees what the runs before it did.
   */
  private fired(s: ScheduledJob, fire: CronFire): Promise<void> {
    return this.due(s.job, businessDateOf(s, fire.day));
  }

  /** Runs `job` for `date` with every run owed, in catch-up order (see `fired`). */
  private due(job: RunnableJob, date: IsoDate): Promise<void> {
    return this.enqueue(async () => {
      if (this.controller.signal.aborted) return;
      // A run already refused for a date not yet ended waits for it to end: run now, it would only be
      // refused and logged again.
      const waits = (r: DueRun) => this.waitingForDateEnd.has(`${r.job} ${r.businessDate}`);
      let owed: OwedRun[] = [];
      try {
        owed = (await this.owed(this.now())).filter(
          (o) => !(o.job === job && o.businessDate === date) && !waits(o),
        );
      } catch (error) {
        const e = coerceError(error);
        this.o.logger.error(
          { job, businessDate: date, code: e.code },
          `the nights owed before ${job} for ${date} could not be looked up: ${e.describe()}`,
        );
      }
      if (owed.length > 0)
        this.o.logger.info(
          { job, businessDate: date, catchUp: owed.map((o) => `${o.job} ${o.businessDate}`) },
          `catching up ${owed.length} run(s) with ${job} for ${date}`,
        );
      const runs: DueRun[] = [...owed, { job, businessDate: date }]
        .filter((r) => !waits(r))
        .sort(catchUpOrder(this.jobs));
      for (const r of runs) await this.runOnce(r.job, r.businessDate, r.firedAt);
    });
  }

  /**
   * A run refused because its date had not ended in the program's time zone (a schedule whose time zone
   * or offset fires it early) is run, with what is owed, at the instant the date ends there, not a
   * firing later: the month-end a day late, every night a day behind.
   */
  private runWhenEnded(job: RunnableJob, date: IsoDate): void {
    const key = `${job} ${date}`;
    if (this.waitingForDateEnd.has(key) || this.controller.signal.aborted) return;
    this.waitingForDateEnd.add(key);
    const timeZone = this.o.config.program.timeZone;
    const ends = businessDayClose(date, timeZone).getTime();
    const wait = async () => {
      // Woken, the date is looked at as the refusal looks at it, and waited for again if it has not
      // ended (a clock stepped back): queued before then, the run would be refused at once and wait
      // again. Never less than a pause, so no instant worked out wrong can make refusals spin.
      do {
        if (!(await this.sleepUntil(Math.max(ends, this.now().getTime() + MIN_END_WAIT_MS)))) return;
      } while (lastEndedDate(this.now(), timeZone) < date);
      this.waitingForDateEnd.delete(key);
      void this.due(job, date);
    };
    this.watching.push(wait());
  }

  /** Sleeps until `at` (epoch ms) by the scheduler's clock, MAX_SLEEP_MS at a time; false if stopped first. */
  private async sleepUntil(at: number): Promise<boolean> {
    const signal = this.controller.signal;
    for (let left = at - this.now().getTime(); left > 0 && !signal.aborted; left = at - this.now().getTime())
      await this.sleep(Math.min(left, MAX_SLEEP_MS), signal);
    return !signal.aborted;
  }

  /** Waits for each firing of a job after `after`, and queues it. */
  private async watch(s: ScheduledJob, calendar: CronCalendar, after: Date): Promise<void> {
    const signal = this.controller.signal;
    let next = calendar.next(after);
    while (next && !signal.aborted) {
      if (!(await this.sleepUntil(next.at.getTime()))) break;
      void this.fired(s, next);
      // After a sleep past several firings (a suspended machine), the next one to come: the catch-up
      // of the one just queued runs the dates in between.
      const now = this.now();
      next = calendar.next(now > next.at ? now : next.at);
    }
    if (!next)
      this.o.logger.warn(
        { job: s.job, cron: s.cron },
        `${s.job} (${s.cron}) does not fire again: nothing to wait for`,
      );
  }

  /**
   * Runs what was missed while the scheduler was down, then waits for the cron. A stop during start-up
   * ends it there: nothing is caught up and no firing is waited for.
   */
  start(): Promise<void> {
    this.started ??= this.begin();
    return this.started;
  }

  private async begin(): Promise<void> {
    const startedAt = this.now();
    const calendars = this.jobs.map((s) => new CronCalendar(s.cron, this.timeZone));
    const catchUpDays = this.o.config.schedules.catchUpDays;
    const catchUp = await this.owed(startedAt);
    const behind: string[] = [];
    for (const s of this.jobs) {
      if (this.controller.signal.aborted) break;
      const left = await datesLeftBehind(this.o.db, s, startedAt, this.timeZone, catchUpDays);
      if (left) behind.push(describeLeftBehind(s.job, left));
    }
    // The daemon starts without them: a run that does not need them (retention's erasures above all) is
    // not held back. Each run that does is refused, recorded and caught up once they are set.
    for (const job of new Set(this.jobs.map((s) => s.job))) {
      if (this.controller.signal.aborted) break;
      const problems = await transportSecretProblems(this.o, job);
      if (problems.length > 0)
        this.o.logger.error(
          { job, problems: problems.map((p) => `${p.path}: ${p.message}`) },
          `${secretsMissingListed(job, problems)}; each run that needs them is ` +
            'refused and recorded failed, and caught up once they are set and the scheduler restarted',
        );
    }
    if (this.controller.signal.aborted) {
      this.o.logger.info({}, 'scheduler stopped during start-up: nothing was run');
      return;
    }
    if (behind.length > 0)
      this.o.logger.warn(
        { catchUpDays, leftBehind: behind },
        `business dates with no successful run older than schedules.catchUpDays (${catchUpDays}) are ` +
          `not caught up — ${behind.join('; ')}; run each with redeye run <job> --date YYYY-MM-DD, or ` +
          'raise schedules.catchUpDays',
      );
    this.o.logger.info(
      {
        timeZone: this.timeZone,
        jobs: this.jobs.map(
          (j, i) => `${j.job} ${j.cron} next ${calendars[i]!.next(startedAt)?.at.toISOString() ?? 'never'}`,
        ),
        catchUp: catchUp.map((m) => `${m.job} ${m.businessDate}`),
      },
      'scheduler started',
    );
    // Queued, not awaited: the daemon must answer SIGTERM while a long catch-up is still running. Each
    // night takes the files that had come in when it would have run; the rest are the later nights'.
    for (const m of catchUp) void this.enqueue(() => this.runOnce(m.job, m.businessDate, m.firedAt));
    // Firings after the catch-up was looked up queue behind it: first, a night run on time would fetch
    // the missed nights' files, and their own fetches would then land nothing.
    this.jobs.forEach((s, i) => this.watching.push(this.watch(s, calendars[i]!, startedAt)));
  }

  /** Resolves when every queued run has finished. */
  idle(): Promise<void> {
    return this.queue;
  }

  /**
   * Stops waiting for the cron and waits for the running job to reach the end of its current
   * transaction. `reason` (the signal's name) is what an interrupted run names as what stopped it.
   */
  async stop(reason?: unknown): Promise<void> {
    this.controller.abort(reason);
    await this.started?.catch(() => undefined);
    await Promise.all(this.watching.splice(0));
    await this.queue;
    this.o.logger.info({}, 'scheduler stopped');
  }

  /** For tests and operators: run a scheduled job for a date through the same queue. */
  runNow(job: RunnableJob, date: IsoDate): Promise<void> {
    return this.enqueue(() => this.runOnce(job, date));
  }
}
