/**
 * `redeye schedule`: the daemon that runs the configured schedules in the configured time zone. Runs
 * never overlap (one queue, plus the run locks, so several schedulers on one PostgreSQL database run
 * each job once). After an outage it first runs every business date it missed, oldest first, bounded
 * by `schedules.catchUpDays`. SIGTERM or SIGINT stops it cleanly: the running step finishes its current
 * transaction, and the process exits 0.
 */
import cron, { type ScheduledTask } from 'node-cron';
import { addDays, dateInZone, type IsoDate } from '../lib/dates.js';
import { ConfigError, coerceError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { Db } from '../db/connection.js';
import type { LoadedConfig } from '../config/load.js';
import { isRunnable, runJob, type RunnableJob, type RunSummary } from './runner.js';
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

export function scheduledJobs(config: LoadedConfig): ScheduledJob[] {
  const problems = [];
  const jobs: ScheduledJob[] = [];
  for (const [i, s] of config.schedules.jobs.entries()) {
    if (!cron.validate(s.cron))
      problems.push({ path: `schedules.jobs[${i}].cron`, message: `not a cron expression: ${s.cron}` });
    if (!isRunnable(s.job))
      problems.push({ path: `schedules.jobs[${i}].job`, message: `unknown job ${s.job}` });
    else jobs.push({ job: s.job, cron: s.cron, dateOffsetDays: s.dateOffsetDays });
  }
  if (problems.length > 0) throw new ConfigError('the schedules are not valid', problems);
  return jobs;
}

/** Business dates a job missed: after its last successful run, up to the date it would run for now. */
export async function missedDates(
  db: Db,
  job: string,
  upTo: IsoDate,
  catchUpDays: number,
): Promise<IsoDate[]> {
  const last = await db
    .knex('job_runs')
    .where({ job, status: 'succeeded' })
    .max({ d: 'business_date' })
    .first();
  const lastDate = (last?.d as string | null) ?? null;
  const earliest = addDays(upTo, -catchUpDays);
  const out: IsoDate[] = [];
  for (
    let d = lastDate && lastDate >= earliest ? addDays(lastDate, 1) : earliest;
    d <= upTo;
    d = addDays(d, 1)
  )
    out.push(d);
  return lastDate === null ? [upTo] : out;
}

export class Scheduler {
  private readonly controller = new AbortController();
  private readonly tasks: ScheduledTask[] = [];
  private queue: Promise<void> = Promise.resolve();
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

  private enqueue(job: RunnableJob, date: IsoDate): Promise<void> {
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
      };
      try {
        const summary = await runJob(ctx, job);
        this.runs.push(summary);
        this.o.logger.info(
          { job, businessDate: date, status: summary.status },
          `${job} for ${date}: ${summary.status}`,
        );
      } catch (error) {
        const e = coerceError(error);
        // Another scheduler holds this run: it is being done, which is all that matters.
        if (e instanceof LockedError) this.o.logger.info({ job, businessDate: date }, e.message);
        else this.o.logger.error({ job, businessDate: date, code: e.code }, e.describe());
      }
    });
    return this.queue;
  }

  /** Runs what was missed, then starts the cron tasks. */
  async start(): Promise<void> {
    const jobs = scheduledJobs(this.o.config);
    for (const s of jobs) {
      const upTo = this.businessDateFor(s.dateOffsetDays);
      const missed = await missedDates(this.o.db, s.job, upTo, this.o.config.schedules.catchUpDays);
      // Today's date is the cron's to run; catch-up covers the days before it.
      for (const d of missed.filter((x) => x < upTo)) await this.enqueue(s.job, d);
    }
    for (const s of jobs) {
      this.tasks.push(
        cron.schedule(s.cron, () => this.enqueue(s.job, this.businessDateFor(s.dateOffsetDays)), {
          timezone: this.timeZone,
          noOverlap: true,
          name: `redeye-${s.job}`,
        }),
      );
    }
    this.o.logger.info(
      { timeZone: this.timeZone, jobs: jobs.map((j) => `${j.job} ${j.cron}`) },
      'scheduler started',
    );
  }

  /** Stops the cron tasks and waits for the running job to reach the end of its current transaction. */
  async stop(): Promise<void> {
    this.controller.abort();
    for (const t of this.tasks) await t.destroy();
    await this.queue;
    this.o.logger.info({}, 'scheduler stopped');
  }

  /** For tests and operators: run a scheduled job for a date through the same queue. */
  runNow(job: RunnableJob, date: IsoDate): Promise<void> {
    return this.enqueue(job, date);
  }
}
