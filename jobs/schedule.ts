/**
 * `redeye schedule`: the daemon that runs the configured schedules in the configured time zone. Runs
 * never overlap (one queue, plus the run locks, so several schedulers on one PostgreSQL database run
 * each job once). After an outage it first runs every business date it missed, oldest first, bounded
 * by `schedules.catchUpDays`. SIGTERM or SIGINT stops it cleanly: the running step finishes its current
 * transaction, and the process exits 0.
 */
import cron, { type ScheduledTask } from 'node-cron';
import { BoundedCache } from '../lib/bounded-cache.js';
import { addDays, dateInZone, type IsoDate } from '../lib/dates.js';
import { coerceError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { Db } from '../db/connection.js';
import type { LoadedConfig } from '../config/load.js';
import { AlreadyRanError, runJob, type RunnableJob, type RunSummary } from './runner.js';
import { noProgress, type JobContext } from './types.js';
import { LockedError } from './lock.js';

export interface SchedulerOptions {
  db: Db;
  config: LoadedConfig;
  logger: Logger;
  env: NodeJS.ProcessEnv;
  now?: () => Date;
}

export interface ScheduledJob {
  job: RunnableJob;
  cron: string;
  dateOffsetDays: number;
}

/** The configured schedules; their cron expressions and job names were checked when the file loaded. */
export function scheduledJobs(config: LoadedConfig): ScheduledJob[] {
  return config.schedules.jobs.map(({ job, cron, dateOffsetDays }) => ({ job, cron, dateOffsetDays }));
}

/** One formatter per time zone, as lib/dates.ts keeps them: building one costs far more than using it. */
const partsFormat = new BoundedCache<string, Intl.DateTimeFormat>(64);

/** Minute, hour, day of month, month and day of week of an instant in a time zone. */
function localParts(
  at: Date,
  timeZone: string,
): { minute: number; hour: number; day: number; month: number; weekday: number } {
  const f = partsFormat.getOrCompute(
    timeZone,
    (zone) =>
      new Intl.DateTimeFormat('en-US', {
        timeZone: zone,
        hourCycle: 'h23',
        minute: 'numeric',
        hour: 'numeric',
        day: 'numeric',
        month: 'numeric',
        weekday: 'short',
      }),
  );
  const p = Object.fromEntries(f.formatToParts(at).map((x) => [x.type, x.value]));
  const weekday = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(p.weekday ?? '');
  return {
    minute: Number(p.minute),
    hour: Number(p.hour),
    day: Number(p.day),
    month: Number(p.month),
    weekday,
  };
}

/**
 * The instants in (from, to] at which a cron expression fires, in a time zone — minute by minute, which
 * over the few days of a catch-up is a few thousand steps. Cron's rule for days applies: when both the
 * day of month and the day of week are restricted, either may match.
 */
export function fireTimes(expression: string, from: Date, to: Date, timeZone: string): Date[] {
  const f = cron.parse(expression);
  const allDays = f.dayOfMonth.length >= 31;
  const allWeekdays = f.dayOfWeek.length >= 7;
  const out: Date[] = [];
  const start = Math.floor(from.getTime() / 60_000) + 1;
  const end = Math.floor(to.getTime() / 60_000);
  for (let m = start; m <= end; m++) {
    const at = new Date(m * 60_000);
    const p = localParts(at, timeZone);
    if (!f.minute.includes(p.minute) || !f.hour.includes(p.hour) || !f.month.includes(p.month)) continue;
    const dom = f.dayOfMonth.includes(p.day);
    const dow = f.dayOfWeek.includes(p.weekday) || (p.weekday === 0 && f.dayOfWeek.includes(7));
    const dayOk = allDays && allWeekdays ? true : allDays ? dow : allWeekdays ? dom : dom || dow;
    if (dayOk) out.push(at);
  }
  return out;
}

/**
 * Business dates a scheduled job should have run for and has not: one per time its cron fired in the
 * last `catchUpDays` days (so a monthly job catches up months, not days) with no successful run — missed
 * while the scheduler was down, or failed (a night that failed stays to be done even after a later one
 * succeeded; its files, exports and reports are still owed). Nothing before the job's first successful
 * run: a scheduler that has never run starts with the cron; it does not invent a history.
 */
export async function missedDates(
  db: Db,
  job: ScheduledJob,
  now: Date,
  timeZone: string,
  catchUpDays: number,
): Promise<MissedRun[]> {
  const first = await db
    .knex('job_runs')
    .where({ job: job.job, status: 'succeeded' })
    .min({ d: 'business_date' })
    .first();
  const firstDate = (first?.d as string | null) ?? null;
  if (firstDate === null) return [];
  const from = new Date(now.getTime() - catchUpDays * 86_400_000);
  // Fire times oldest first: a date fired for more than once keeps its first, the run that on time would
  // have done it (the later ones find it done).
  const firedAt = new Map<IsoDate, Date>();
  for (const t of fireTimes(job.cron, from, now, timeZone)) {
    const d = addDays(dateInZone(t, timeZone), job.dateOffsetDays);
    if (d > firstDate && !firedAt.has(d)) firedAt.set(d, t);
  }
  if (firedAt.size === 0) return [];
  const done = new Set(
    (
      (await db
        .knex('job_runs')
        .where({ job: job.job, status: 'succeeded' })
        .whereIn('business_date', [...firedAt.keys()])
        .distinct('business_date')) as Array<{ business_date: string }>
    ).map((r) => r.business_date),
  );
  return [...firedAt]
    .filter(([d]) => !done.has(d))
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([businessDate, at]) => ({ businessDate, firedAt: at }));
}

/** A run the scheduler owes: its business date, and when its cron fired for it (the files it may take). */
export interface MissedRun {
  businessDate: IsoDate;
  firedAt: Date;
}

export class Scheduler {
  private readonly controller = new AbortController();
  private readonly tasks: ScheduledTask[] = [];
  private queue: Promise<void> = Promise.resolve();
  private started?: Promise<void>;
  /** Runs the cron asked for during start-up, held until the catch-up is queued ahead of them. */
  private held: Array<[RunnableJob, IsoDate]> | undefined = [];
  private readonly timeZone: string;
  private readonly now: () => Date;
  readonly runs: RunSummary[] = [];

  constructor(private readonly o: SchedulerOptions) {
    this.timeZone = o.config.schedules.timeZone ?? o.config.program.timeZone;
    this.now = o.now ?? (() => new Date());
  }

  /** The business date a run started now would process. */
  businessDateFor(offsetDays: number): IsoDate {
    return addDays(dateInZone(this.now(), this.timeZone), offsetDays);
  }

  /** A cron firing: its run is queued, or held while the scheduler is still starting. */
  private fired(job: RunnableJob, date: IsoDate): Promise<void> | undefined {
    if (this.held) {
      this.held.push([job, date]);
      return undefined;
    }
    return this.enqueue(job, date);
  }

  private enqueue(job: RunnableJob, date: IsoDate, filesUntil?: Date): Promise<void> {
    this.queue = this.queue.then(async () => {
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
        // Another scheduler sharing the database may have run it already: each job runs once per date.
        const summary = await runJob(ctx, job, { onlyOnce: true });
        this.runs.push(summary);
        const stopped = summary.stopped
          ? ` (stopped at ${summary.stopped.step}: ${summary.stopped.reason})`
          : '';
        this.o.logger.info(
          {
            job,
            businessDate: date,
            status: summary.status,
            ...(summary.stopped ? { stopped: summary.stopped } : {}),
          },
          `${job} for ${date}: ${summary.status}${stopped}`,
        );
      } catch (error) {
        const e = coerceError(error);
        // Another scheduler holds this run: it is being done, which is all that matters.
        if (e instanceof LockedError || e instanceof AlreadyRanError)
          this.o.logger.info({ job, businessDate: date }, e.message);
        else this.o.logger.error({ job, businessDate: date, code: e.code }, e.describe());
      }
    });
    return this.queue;
  }

  /**
   * Starts the cron tasks, then runs what was missed while the scheduler was down. A stop during
   * start-up ends it there: no further task is started and nothing is caught up.
   */
  start(): Promise<void> {
    this.started ??= this.begin().catch(async (error: unknown) => {
      // Tasks already started would keep the process alive after a failed start.
      for (const t of this.tasks.splice(0)) await t.destroy();
      throw error;
    });
    return this.started;
  }

  private async begin(): Promise<void> {
    const jobs = scheduledJobs(this.o.config);
    const catchUp: Array<[RunnableJob, MissedRun]> = [];
    for (const s of jobs) {
      if (this.controller.signal.aborted) break;
      this.tasks.push(
        cron.schedule(s.cron, () => this.fired(s.job, this.businessDateFor(s.dateOffsetDays)), {
          timezone: this.timeZone,
          noOverlap: true,
          name: `redeye-${s.job}`,
        }),
      );
      for (const missed of await missedDates(
        this.o.db,
        s,
        this.now(),
        this.timeZone,
        this.o.config.schedules.catchUpDays,
      ))
        catchUp.push([s.job, missed]);
    }
    if (this.controller.signal.aborted) {
      this.o.logger.info({}, 'scheduler stopped during start-up: nothing was run');
      return;
    }
    this.o.logger.info(
      {
        timeZone: this.timeZone,
        jobs: jobs.map((j) => `${j.job} ${j.cron}`),
        catchUp: catchUp.map(([j, m]) => `${j} ${m.businessDate}`),
      },
      'scheduler started',
    );
    // Queued, not awaited: the daemon must answer SIGTERM while a long catch-up is still running. Each
    // night takes the files that had come in when it would have run; the rest are the later nights'.
    for (const [job, m] of catchUp) void this.enqueue(job, m.businessDate, m.firedAt);
    // A night the cron started while the missed ones were being looked up runs after them: first, it
    // would fetch their files, and their own fetches would then land nothing.
    const held = this.held ?? [];
    this.held = undefined;
    for (const [job, date] of held) void this.enqueue(job, date);
  }

  /** Resolves when every queued run has finished. */
  idle(): Promise<void> {
    return this.queue;
  }

  /**
   * Stops the cron tasks and waits for the running job to reach the end of its current transaction.
   * `reason` (the signal's name) is what an interrupted run names as what stopped it.
   */
  async stop(reason?: unknown): Promise<void> {
    this.controller.abort(reason);
    // A stop during start-up waits for it to end, so that every task it started is destroyed here.
    await this.started?.catch(() => undefined);
    for (const t of this.tasks.splice(0)) await t.destroy();
    await this.queue;
    this.o.logger.info({}, 'scheduler stopped');
  }

  /** For tests and operators: run a scheduled job for a date through the same queue. */
  runNow(job: RunnableJob, date: IsoDate): Promise<void> {
    return this.enqueue(job, date);
  }
}
