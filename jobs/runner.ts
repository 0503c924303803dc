/**
 * Running jobs: each run is recorded in `job_runs` (start, end, status, counts, warnings, error; a step of
 * a night linked to the night's record), holds the run lock so no two runs overlap (whatever their job and
 * date), and returns a summary instead of throwing into the scheduler. `nightly` runs the steps of the
 * night in order under one lock; a failed step stops the
 * night (except fetch: what did arrive is still read, but nothing is made or sent from it), and a rerun
 * of the date picks up from there. `monthly` waits for the night of its month's last day: it is refused,
 * and recorded failed, until that night has succeeded; `tiers` and `expire` run alone likewise wait for
 * the date's accrue, and they, `export` and `report` for the date's fetch when its last one failed. A
 * step the process was asked to stop (SIGTERM, SIGINT) before it returned is recorded failed with
 * `[INTERRUPTED]`: it may have left work undone, which the rerun does.
 */
import { hostname } from 'node:os';
import { explainDatabaseError, refuseNewerDatabase } from '../db/connection.js';
import type { Knex } from 'knex';
import { coerceError, ConfigError, RedeyeError, type ConfigProblem } from '../lib/errors.js';
import type { Config } from '../config/schema.js';
import type { Db } from '../db/connection.js';
import { unsetSecretProblems } from '../transports/index.js';
import { accrueJob } from './accrue.js';
import { expireJob } from './expire.js';
import { fetchJob } from './fetch.js';
import { ingestJob } from './ingest.js';
import {
  acquireRunLock,
  describeHolder,
  LockedError,
  processAlive,
  type LockedRun,
  type RunLock,
} from './lock.js';
import { tiersJob } from './tiers.js';
import { StepIncompleteError, type Job, type JobContext, type JobResult } from './types.js';
import { deliverJob, destinationOf, filesToDeliver } from './deliver.js';
import { DAILY_MAILINGS, exportJob } from './export.js';
import { reportJob } from './report.js';
import { retentionJob } from './retention.js';
import { endOfMonth, lastEndedDate, type IsoDate } from '../lib/dates.js';
import { businessDayClose } from '../reports/common.js';
import { sleepUnlessStopped, stopRequest } from '../lib/sleep.js';
import { insertedId } from '../db/rows.js';

export const STEP_JOBS = {
  fetch: fetchJob,
  ingest: ingestJob,
  accrue: accrueJob,
  tiers: tiersJob,
  expire: expireJob,
  export: exportJob,
  report: reportJob,
  deliver: deliverJob,
  retention: retentionJob,
} satisfies Record<string, Job>;

export type StepName = keyof typeof STEP_JOBS;
export const NIGHTLY_STEPS: StepName[] = [
  'fetch',
  'ingest',
  'accrue',
  'tiers',
  'expire',
  'export',
  'report',
  'deliver',
  'retention',
];
/** Month-end: the exports and reports whose month-end parts run on the last day, then delivery. */
export const MONTHLY_STEPS: StepName[] = ['export', 'report', 'deliver'];
export const JOB_NAMES = [...Object.keys(STEP_JOBS), 'nightly', 'monthly'] as const;
/**
 * Whether a step runs on part of the night's files, after a failed fetch. Every step says, so a new one
 * cannot be added without deciding. Ingest and accrue read and post what did arrive (every file is its
 * own transaction, every posting has its idempotency key, so the rerun only adds what was missing). The
 * others wait for the rerun: tiers and expire make once-per-date decisions (a review, a lot expired) that
 * must see the whole day's postings; export, report and deliver would make and send the date's outputs
 * from part of its data, and a delivered file is never delivered again; retention is left with them so
 * the rerun completes the night in the order of a night without the fault.
 */
export const RUNS_ON_PART_OF_THE_FILES: Readonly<Record<StepName, boolean>> = {
  fetch: false,
  ingest: true,
  accrue: true,
  tiers: false,
  expire: false,
  export: false,
  report: false,
  deliver: false,
  retention: false,
};
export type RunnableJob = StepName | 'nightly' | 'monthly';

/**
 * The transports a step of `steps` will connect to, each with what uses it. Every step says, so a new
 * one cannot be added without deciding. Deliver connects only where files wait: a partner's outbox (or
 * `exports.outbox`) while the registry holds files `written` for it, so one partner's unset password
 * holds back neither a night with nothing for that partner nor a delivery that has nothing to send.
 * What the night's own export will write is not known before it runs, with one exception: the daily
 * mailing lists are written every night (empty or not) and go to `exports.outbox`, so a night counts it
 * whenever a daily kind is configured. A partner's file tonight's export writes fails at deliver, after
 * the ledger was posted, as it did before the check. The month-end's export writes only what the last
 * day's night did not (a supplementary transmission): those too are found at deliver. Retention may
 * remove delivered mailing lists from the exports' outbox, but a failure there is a warning and its
 * erasures go on: a missing outbox secret must not hold back the erasure of personal data, so it does
 * not count here.
 */
const TRANSPORTS_OF: Readonly<
  Record<
    StepName,
    (
      config: Config,
      run: { knex: Knex; job: RunnableJob },
    ) => Promise<Array<[transport: string, usedBy: string]>> | Array<[transport: string, usedBy: string]>
  >
> = {
  fetch: (config) =>
    Object.entries(config.feeds).flatMap(([feed, f]) =>
      f ? [[f.source, `feed ${feed}`] as [string, string]] : [],
    ),
  ingest: () => [],
  accrue: () => [],
  tiers: () => [],
  expire: () => [],
  export: () => [],
  report: () => [],
  deliver: async (config, { knex, job }) => {
    const waiting = new Map<string, { transport: string; files: number }>();
    for (const file of await filesToDeliver(knex)) {
      const to = destinationOf(config, file);
      const user = to.partner ? `partner ${to.partner}'s outbox` : 'exports.outbox';
      const w = waiting.get(user) ?? { transport: to.transport, files: 0 };
      w.files++;
      waiting.set(user, w);
    }
    const uses: Array<[string, string]> = [...waiting].map(([user, w]) => [
      w.transport,
      `${user} (${w.files} file(s) waiting for delivery)`,
    ]);
    if (
      job === 'nightly' &&
      !waiting.has('exports.outbox') &&
      config.exports.mailings.kinds.some((k) => DAILY_MAILINGS.includes(k))
    )
      uses.push([config.exports.outbox, "exports.outbox (the night's mailing lists)"]);
    return uses;
  },
  retention: () => [],
};

export const stepsOf = (job: RunnableJob): StepName[] =>
  job === 'nightly' ? NIGHTLY_STEPS : job === 'monthly' ? MONTHLY_STEPS : [job];

/**
 * Why a run stopped short, and what each step it left unrun says: one wording for the summary printed
 * live and for the one `redeye runs show` rebuilds from the records.
 */
export const STOPS = {
  /** A multi-step run's fetch failed: what did arrive is still read (RUNS_ON_PART_OF_THE_FILES). */
  fetchFailed: (code: string | undefined) =>
    `fetch failed [${code}]; what did arrive was read, the rest waits for the rerun`,
  failed: (step: string, code: string | undefined) => `${step} failed [${code}]`,
  interrupted: (request: string, step: string) => `${request} while ${step} was running`,
  beforeStep: (request: string, step: string) => `${request} before ${step} started`,
  notRunAfterFetch: 'not run: fetch failed; the rerun runs it once every file is in',
  notRunAfter: (step: string) => `not run: the run stopped at ${step}`,
  /** What the steps of a refused run say, by the refusal's code. */
  refused: {
    NIGHT_INCOMPLETE: (date: string) => `not run: the night of ${date} is not complete`,
    SECRET_MISSING: (_date: string) => 'not run: a secret its transports need is not set',
    NOT_FETCHED: (date: string) => `not run: fetch for ${date} has not succeeded`,
    NOT_ACCRUED: (date: string) => `not run: accrue for ${date} has not succeeded`,
    NOT_ENDED: (date: string) => `not run: ${date} has not ended`,
  },
} as const;

/**
 * The secrets that `job`'s transports would read when it connects and that `env` does not hold, as
 * configuration problems (the setting, the variable, what uses the transport; never a value). Reads the
 * registry for the files waiting for delivery.
 */
export async function transportSecretProblems(
  run: { config: Config; db: Db; env: Record<string, string | undefined> },
  job: RunnableJob,
): Promise<ConfigProblem[]> {
  const uses = new Map<string, string[]>();
  for (const step of stepsOf(job))
    for (const [transport, usedBy] of await TRANSPORTS_OF[step](run.config, { knex: run.db.knex, job })) {
      const users = uses.get(transport) ?? [];
      if (!users.includes(usedBy)) users.push(usedBy);
      uses.set(transport, users);
    }
  return unsetSecretProblems(run.config.transports, uses, run.env);
}

const secretsMissing = (what: string, problems: readonly ConfigProblem[]) =>
  `${what}: ${problems.length} secret(s) its transports need are not set in the environment`;

/** `secretsMissing` followed by each setting and why, as the scheduler logs it and a refused run records it. */
export const secretsMissingListed = (what: string, problems: readonly ConfigProblem[]) =>
  `${secretsMissing(what, problems)} — ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`;

/**
 * Refuses, before anything runs or is recorded, a run of `job` whose transports name a secret the
 * environment does not hold (`what` is the command, as the operator typed it): a ConfigError (exit 2)
 * listing each, instead of a night that fails when it connects.
 */
export async function checkTransportSecrets(
  run: { config: Config; db: Db; env: Record<string, string | undefined> },
  job: RunnableJob,
  what: string,
): Promise<void> {
  const problems = await transportSecretProblems(run, job);
  if (problems.length > 0) throw new ConfigError(secretsMissing(`${what} cannot start`, problems), problems);
}

/**
 * The refusal of a scheduled run whose transports lack a secret, or undefined when it may run. Recorded
 * failed like a month-end refused for its night, so the scheduler's catch-up runs it once the daemon is
 * restarted with the secret set.
 */
async function secretsRefusal(ctx: JobContext, job: RunnableJob): Promise<Refusal | undefined> {
  const problems = await transportSecretProblems(ctx, job);
  if (problems.length === 0) return undefined;
  return {
    code: 'SECRET_MISSING',
    message:
      `${secretsMissingListed(`${job} for ${ctx.businessDate} refused`, problems)}. Set them in the scheduler's ` +
      'environment and restart it: its catch-up runs this date',
    notRun: STOPS.refused.SECRET_MISSING(ctx.businessDate),
  };
}

/**
 * Why `what` for `date` cannot run yet at `now`, or undefined once the date has ended in the program's
 * time zone. Run before then, a night posts, lapses and sends what its day has not finished making
 * (status credits lapsed a year early, a month-end's invoices with hours or weeks still to come), and
 * what a later night finds would not undo it. One wording for the command line, which refuses such a
 * date, and the scheduler, whose schedules' time zone and offset may fire a cron for it.
 */
export function notEndedYet(
  config: Pick<Config, 'program'>,
  now: Date,
  what: string,
  date: IsoDate,
): string | undefined {
  const last = lastEndedDate(now, config.program.timeZone);
  if (date <= last) return undefined;
  return (
    `${what} for ${date} cannot run yet: the last business date that has ended is ${last} ` +
    `(${config.program.timeZone})`
  );
}

/**
 * The refusal of a scheduled run for a date that has not ended in the program's time zone (a month-end:
 * its month's last day), or undefined when it may run. Recorded failed like the other refusals, so the
 * date stays owed through a restart; the scheduler runs it when the date ends.
 */
function unendedRefusal(ctx: JobContext, job: RunnableJob): Refusal | undefined {
  const why = notEndedYet(ctx.config, ctx.now(), job, ctx.businessDate);
  if (why === undefined) return undefined;
  const ends = businessDayClose(ctx.businessDate, ctx.config.program.timeZone);
  return {
    code: 'NOT_ENDED',
    message:
      `${why}. Its schedule (schedules.timeZone, dateOffsetDays) fired it before its business date ended; ` +
      `the scheduler runs it when ${ctx.businessDate} ends, at ${ends.toISOString()}`,
    notRun: STOPS.refused.NOT_ENDED(ctx.businessDate),
  };
}

/**
 * The steps of the night whose work the month-end counts: what they post and decide is what its invoices,
 * statements and report add up. (Export, report and deliver the month-end runs itself; retention changes
 * nothing it counts.)
 */
const MONTH_END_COUNTS: readonly StepName[] = ['fetch', 'ingest', 'accrue', 'tiers', 'expire'];

export interface StepSummary {
  job: string;
  status: 'succeeded' | 'failed' | 'skipped';
  seconds: number;
  counts: Record<string, number>;
  warnings: string[];
  /** Why the step failed; `INTERRUPTED` when the process was asked to stop before the step returned. */
  error?: { code: string; message: string };
  /** Why a skipped step did not run. */
  reason?: string;
}

export interface RunSummary {
  job: string;
  businessDate: string;
  status: 'succeeded' | 'failed';
  steps: StepSummary[];
  seconds: number;
  /** Where and why the run stopped short of its steps; absent when every step ran and succeeded. */
  stopped?: { step: string; reason: string };
  /**
   * Why none of its steps ran: a month-end whose last night has not succeeded (`NIGHT_INCOMPLETE`), a
   * scheduled run whose transports lack a secret (`SECRET_MISSING`), tiers, expire, export or report run
   * alone after the date's last fetch failed (`NOT_FETCHED`), tiers or expire run alone before the date's
   * accrue has succeeded (`NOT_ACCRUED`), a scheduled run for a date that has not ended
   * (`NOT_ENDED`).
   */
  refused?: { code: string; message: string };
}

/** A refusal, with what each step it leaves unrun says. */
export type Refusal = NonNullable<RunSummary['refused']> & { notRun: string };

export function isRunnable(name: string): name is RunnableJob {
  return (JOB_NAMES as readonly string[]).includes(name);
}

/**
 * A step that returned after the process was asked to stop. Jobs stop at their next transaction when
 * they see the request, so it may have left work undone; whether it did cannot be told from here (a job
 * that never looks at the request does all of it), so it is not taken for done: a rerun is always safe.
 */
class InterruptedError extends RedeyeError {
  constructor(job: string, businessDate: string, signal: AbortSignal) {
    super(
      'INTERRUPTED',
      `${stopRequest(signal.reason)} while ${job} was running, which may have left work undone; a rerun of ` +
        `${businessDate} completes it`,
      { job, businessDate },
    );
  }
}

/** A failure as the run reports it: database failures say which database and what is wrong with it. */
function stepError(ctx: JobContext, e: unknown, job: string): RedeyeError {
  return coerceError(explainDatabaseError(e, ctx.db), { job, businessDate: ctx.businessDate });
}

/**
 * Opens a `job_runs` record as running. Run records keep wall-clock times even when the business clock
 * is pinned (REDEYE_NOW, the demo).
 */
async function openRunRecord(ctx: JobContext, job: string, partOf?: number): Promise<number> {
  const [row] = await ctx.db
    .knex('job_runs')
    .insert({
      job,
      business_date: ctx.businessDate,
      status: 'running',
      started_at: new Date().toISOString(),
      host: hostname(),
      pid: process.pid,
      part_of: partOf ?? null,
    })
    .returning('id');
  return insertedId(row);
}

/**
 * Closes a run record. A database that failed the run may fail its record too: that is logged, not
 * thrown, so the run's own error is what is reported.
 */
async function closeRunRecord(
  ctx: JobContext,
  runId: number,
  job: string,
  end: {
    failed: boolean;
    counts: Record<string, number>;
    warnings: string[];
    error: string | null;
    /**
     * A run refused before any of its steps ran: its record says so, as its error code cannot (a step
     * fails with SECRET_MISSING too).
     */
    refused?: boolean;
  },
): Promise<void> {
  await ctx.db
    .knex('job_runs')
    .where({ id: runId })
    .update({
      status: end.failed ? 'failed' : 'succeeded',
      finished_at: new Date().toISOString(),
      counts: JSON.stringify(end.counts),
      warnings: JSON.stringify(end.warnings),
      error: end.error,
      ...(end.refused ? { refused: true } : {}),
    })
    .catch((e: unknown) =>
      ctx.logger.error(
        { job, businessDate: ctx.businessDate },
        `the end of ${job} could not be recorded: ${stepError(ctx, e, job).describe()}`,
      ),
    );
}

/**
 * A night's counts and warnings, from its steps': each keyed or prefixed by its step's job, so that the
 * night's record reads as its steps' did whether the night finished or its process was killed.
 */
function nightTotals(steps: ReadonlyArray<Pick<StepSummary, 'job' | 'counts' | 'warnings'>>): {
  counts: Record<string, number>;
  warnings: string[];
} {
  const counts: Record<string, number> = {};
  for (const s of steps) for (const [k, v] of Object.entries(s.counts)) counts[`${s.job}.${k}`] = v;
  return { counts, warnings: steps.flatMap((s) => s.warnings.map((w) => `${s.job}: ${w}`)) };
}

/** Runs a step, recorded as a run of its own or, with `partOf`, as a step of that night's record. */
async function runStep(
  ctx: JobContext,
  name: StepName,
  partOf?: number,
  job: string = name,
): Promise<StepSummary> {
  const t0 = process.hrtime.bigint();
  let runId: number | undefined;
  let result: JobResult | undefined;
  let error: RedeyeError | undefined;
  try {
    runId = await openRunRecord(ctx, name, partOf);
    ctx.logger.info({ job: name, businessDate: ctx.businessDate }, `${name} started`);
    result = await STEP_JOBS[name](ctx);
    // Jobs return early when asked to stop, with counts that look like success: a step the stop request
    // reached before it returned is recorded as interrupted, so neither the operator, nor the scheduler's
    // catch-up, nor a later night (tiers reads its last successful run) takes it for done.
    if (ctx.signal?.aborted) error = new InterruptedError(name, ctx.businessDate, ctx.signal);
  } catch (e) {
    error = stepError(ctx, e, name);
    if (e instanceof StepIncompleteError) result = e.done;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (runId !== undefined)
    await closeRunRecord(ctx, runId, name, {
      failed: error !== undefined,
      counts: result?.counts ?? {},
      warnings: result?.warnings ?? [],
      error: error ? `[${error.code}] ${error.describe()}` : null,
    });
  if (error) {
    // Logged here, once, for the command line and the scheduler alike (the scheduler does not repeat
    // it); a stop the operator asked for is a warning, the night being run again as it is.
    const level = error.code === 'INTERRUPTED' ? 'warn' : 'error';
    ctx.logger[level](
      { ...error.context, job, step: name, businessDate: ctx.businessDate, code: error.code },
      `[${error.code}] ${name} for ${ctx.businessDate} failed${job === name ? '' : ` (${job})`}: ${error.describe()}`,
    );
  } else {
    ctx.logger.info(
      {
        job: name,
        businessDate: ctx.businessDate,
        seconds: Math.round(seconds * 10) / 10,
        ...result?.counts,
      },
      `${name} finished`,
    );
  }
  return {
    job: name,
    status: error ? 'failed' : 'succeeded',
    seconds,
    counts: result?.counts ?? {},
    warnings: result?.warnings ?? [],
    ...(error ? { error: { code: error.code, message: error.describe() } } : {}),
  };
}

/**
 * Run records a killed process left `running` on this machine are closed as failed, so `job_runs` does
 * not show a night still running days later. Only this host's records are touched: whether a process
 * on another machine is alive cannot be known from here.
 */
async function closeInterruptedRuns(ctx: JobContext): Promise<void> {
  const host = hostname();
  const rows = (await ctx.db
    .knex('job_runs')
    .where({ status: 'running', host })
    .whereNot({ pid: process.pid })
    .select('id', 'pid')) as Array<{ id: number; pid: number }>;
  const dead = rows.filter((r) => !processAlive(Number(r.pid)));
  for (const r of dead) {
    // A night's record holds what its steps that finished recorded, as closeRunRecord sums them; what the
    // step it was killed in had counted and warned of ended with the process (the log holds it). Written,
    // not left null: null is a record made before migration 026, which kept no warnings.
    const steps = (await ctx.db
      .knex('job_runs')
      .where({ part_of: r.id })
      .whereNot({ status: 'running' })
      .orderBy('id')
      .select('job', 'counts', 'warnings')) as Array<{
      job: string;
      counts: string | null;
      warnings: string | null;
    }>;
    const { counts, warnings } = nightTotals(
      steps.map((s) => ({
        job: s.job,
        counts: JSON.parse(s.counts ?? '{}') as Record<string, number>,
        warnings: JSON.parse(s.warnings ?? '[]') as string[],
      })),
    );
    await ctx.db
      .knex('job_runs')
      .where({ id: r.id, status: 'running' })
      .update({
        status: 'failed',
        finished_at: new Date().toISOString(),
        counts: JSON.stringify(counts),
        warnings: JSON.stringify(warnings),
        error: `[INTERRUPTED] the process (${host} pid ${r.pid}) ended before this run finished`,
      });
  }
  if (dead.length > 0)
    ctx.logger.warn(
      { runs: dead.map((r) => r.id) },
      `${dead.length} run record(s) left running by ended processes closed as failed`,
    );
}

interface RunRecord {
  id: number;
  job: string;
  status: string;
  started_at: string;
  error: string | null;
}

/** A run record's error as a refusal quotes it: the failures, without the steps they left unrun. */
function quotedError(error: string | null): string {
  if (!error) return '';
  const failures = error.replace(new RegExp(`; (?:${NIGHTLY_STEPS.join('|')}): skipped`, 'g'), '');
  return `: ${failures.length > 300 ? `${failures.slice(0, 299)}…` : failures}`;
}

/** A step's last run for a date, as a refusal names it. */
const lastRun = (r: RunRecord, date: string) =>
  `the last ${r.job} for ${date} (run ${r.id}, started ${r.started_at})`;

/** The last run of a step for a date that did not succeed, as a refusal names it. */
const lastRunText = (r: RunRecord, date: string) =>
  `${lastRun(r, date)} ${r.status === 'running' ? 'never finished' : r.status}${quotedError(r.error)}`;

/**
 * The step whose work each step the month-end counts takes in, as the night orders them: run again after
 * it, that work has not been taken in (activities ingested and not posted; credits and redemptions
 * posted and not reviewed or spent before expiry). Fetch has none: what it lands is read from the
 * registry (`pending`), which the month-end looks at itself, so a fetch run again that landed nothing
 * holds nothing back. Expire does not read what tiers decides, so a tiers run again does not call for it.
 */
const TAKES_IN: Readonly<Partial<Record<StepName, StepName>>> = {
  accrue: 'ingest',
  tiers: 'accrue',
  expire: 'accrue',
};

/** How many landed files a refusal names; the rest it counts. */
const FILES_NAMED = 5;

/**
 * Why the month-end for `ctx.businessDate` (a month's last day) cannot be made yet, or undefined when its
 * night is complete: the last run for the date of each step whose work the month-end counts (fetch,
 * ingest, accrue, tiers, expire — in a night or alone) succeeded, each after the last run of the step
 * whose work it takes in (TAKES_IN), and no file landed for a business date through it waits to be read
 * (one of an earlier month too). A month-end made
 * before then invoices and states the month without that work; it is posted under the date afterwards,
 * after the invoice was delivered (a delivered file is never delivered again), and is never billed.
 * A file the night holds on purpose (FTL parts waiting for the rest of their message, `held`; another
 * file under a name received before, `conflict`, or one whose landed copy could not be read, `missing`,
 * waiting for an operator) is not pending: it holds the
 * month-end back no more than it holds the night. A night that failed only after them (a partner's outbox
 * or the mail server down at deliver) has posted all the month holds: the month-end is not held back for
 * every partner by it.
 */
async function unfinishedNight(ctx: JobContext): Promise<string | undefined> {
  const date = ctx.businessDate;
  const runs = (await ctx.db
    .knex('job_runs')
    .where({ business_date: date })
    .whereIn('job', MONTH_END_COUNTS)
    .orderBy('id', 'desc')
    .select('id', 'job', 'status', 'started_at', 'error')) as RunRecord[];
  if (runs.length === 0) return `no nightly run for ${date} is recorded`;
  const latest = new Map<string, RunRecord>();
  for (const r of runs) if (!latest.has(r.job)) latest.set(r.job, r);
  const failed = MONTH_END_COUNTS.map((step) => latest.get(step)).find(
    (r) => r !== undefined && r.status !== 'succeeded',
  );
  if (failed) return lastRunText(failed, date);
  const missing = MONTH_END_COUNTS.filter((step) => !latest.has(step));
  if (missing.length > 0) return `${missing.join(', ')} never ran for ${date}`;
  // Fetched after the night (a late file fetched by hand): read by no ingest yet.
  const waiting = (await ctx.db
    .knex('files')
    .where({ direction: 'in', verdict: 'pending' })
    .andWhere('business_date', '<=', date)
    .orderBy('id')
    .select('id', 'feed', 'name', 'business_date')) as Array<{
    id: number;
    feed: string;
    name: string;
    business_date: string;
  }>;
  if (waiting.length > 0) {
    const named = waiting
      .slice(0, FILES_NAMED)
      .map((f) => `${f.name} (file ${f.id}, ${f.feed}, fetched for ${f.business_date})`);
    const more = waiting.length > FILES_NAMED ? ` and ${waiting.length - FILES_NAMED} more` : '';
    // Counted through the last day, not for the month: a file of an earlier month still unread holds the
    // month-end back as well, and the text must not call it this month's.
    return (
      `${waiting.length} file(s) landed for business dates through ${date} have not been read: ` +
      `${named.join(', ')}${more}`
    );
  }
  for (const step of MONTH_END_COUNTS) {
    const before = TAKES_IN[step];
    const own = latest.get(step)!;
    const theirs = before === undefined ? undefined : latest.get(before)!;
    if (theirs !== undefined && Number(theirs.id) > Number(own.id)) return notTakenIn(theirs, own, date);
  }
  return undefined;
}

/** `theirs` (a run of the step whose work `own`'s step takes in) ran after `own`, as a refusal says it. */
const notTakenIn = (theirs: RunRecord, own: RunRecord, date: string) =>
  `${lastRun(theirs, date)} ran after the last ${own.job} for it (run ${own.id}): ` +
  `what ${theirs.job} took in, ${own.job} has not`;

/**
 * The refusal of a month-end whose last night is not complete, or undefined when it may run. `report
 * --send` asks it too before mailing a month's report: mailed, the partial figures stay with finance.
 */
export async function monthEndRefusal(ctx: JobContext): Promise<Refusal | undefined> {
  const why = await unfinishedNight(ctx);
  if (why === undefined) return undefined;
  const date = ctx.businessDate;
  return {
    code: 'NIGHT_INCOMPLETE',
    message:
      `monthly for ${date} refused: ${why}. The month-end's invoices, statements and report are made from ` +
      `the whole month, and what its last night has yet to post would never be billed: run nightly ` +
      `--date ${date} until it succeeds, then monthly`,
    notRun: STOPS.refused.NIGHT_INCOMPLETE(date),
  };
}

/**
 * The steps that, run alone, wait for their date's fetch, and what each would get wrong before it. After
 * a failed fetch the night reads and posts what did arrive and leaves them to the rerun
 * (RUNS_ON_PART_OF_THE_FILES); run alone meanwhile, they would decide or make the date's outputs from
 * part of its files, which the rerun cannot take back. Deliver sends only what export made (and the
 * date's export waits), and retention's erasures go by age, not by the date's files: neither waits.
 */
const WAIT_FOR_FETCH: Readonly<Partial<Record<StepName, string>>> = {
  tiers: 'would review and upgrade members without the status credits in the files not yet fetched',
  expire: 'would expire points that the redemptions in the files not yet fetched were to spend',
  export:
    "would make the date's partner responses, claims and mailing lists without the files not yet " +
    'fetched, and a delivered file is never delivered again',
  report: "would make and mail the date's reports without the files not yet fetched",
};

/**
 * The steps that decide on the date's postings, and what each would get wrong without them: run alone
 * for a date whose accrue has not succeeded (or an ingest ran since it), expire takes points that the date's redemptions, still to
 * be debited, were to spend (they are then rejected INSUFFICIENT_POINTS), and tiers reviews and upgrades
 * without the date's status credits (a member downgraded on the review date that the day's flight held).
 * In a night they follow accrue, which stops the night when it fails.
 */
const WAIT_FOR_ACCRUE: Readonly<Partial<Record<StepName, string>>> = {
  tiers: "would review and upgrade members without the date's status credits",
  expire: "would expire points that the date's redemptions, not yet debited, were to spend",
};

/** The last run of `job` for the date, in a night or alone. */
async function lastRunOf(
  ctx: JobContext,
  job: StepName,
  only: { refused?: false } = {},
): Promise<RunRecord | undefined> {
  const query = ctx.db.knex('job_runs').where({ job, business_date: ctx.businessDate });
  if (only.refused === false) query.andWhere({ refused: false });
  return (await query.orderBy('id', 'desc').first('id', 'job', 'status', 'started_at', 'error')) as
    RunRecord | undefined;
}

/**
 * The refusal of `step` run alone while the last fetch for the date has not succeeded, or undefined when
 * it may run. A date no fetch ran for passes: its files are landed apart (an installation that fetches
 * by other means), so none was left half in. Looked up under the run lock, after the records of killed
 * runs are closed, so a fetch of the date cannot be running. `report --send` asks it too, without the
 * lock: a fetch still running (or killed and not yet closed) is a last run that has not succeeded, so it
 * refuses then as well.
 */
export async function fetchRefusal(ctx: JobContext, step: StepName): Promise<Refusal | undefined> {
  const harm = WAIT_FOR_FETCH[step];
  if (harm === undefined) return undefined;
  const last = await lastRunOf(ctx, 'fetch');
  if (last === undefined || last.status === 'succeeded') return undefined;
  const date = ctx.businessDate;
  return {
    code: 'NOT_FETCHED',
    message:
      `${step} for ${date} refused: ${lastRunText(last, date)}. Run before the rest of the date's files ` +
      `are in, ${step} ${harm}: run nightly --date ${date} until it succeeds (it runs ${step} once they ` +
      'are read)',
    notRun: STOPS.refused.NOT_FETCHED(date),
  };
}

/**
 * The refusal of `step` run alone while the last accrue for the date has not succeeded (never ran,
 * failed, or was killed), or undefined when it may run. Looked up under the run lock, after the records
 * of killed runs are closed, so an accrue of the date cannot be running.
 */
async function accrueRefusal(ctx: JobContext, step: StepName): Promise<Refusal | undefined> {
  const harm = WAIT_FOR_ACCRUE[step];
  if (harm === undefined) return undefined;
  const date = ctx.businessDate;
  const last = await lastRunOf(ctx, 'accrue');
  let why: string;
  if (last?.status === 'succeeded') {
    // An ingest run again after it (a late file fetched and read by hand) took in records accrue has
    // not decided: a redemption among them is not debited yet. A refused ingest took in nothing.
    const ingest = await lastRunOf(ctx, TAKES_IN.accrue!, { refused: false });
    if (ingest === undefined || Number(ingest.id) < Number(last.id)) return undefined;
    why = notTakenIn(ingest, last, date);
  } else why = last ? lastRunText(last, date) : `accrue never ran for ${date}`;
  return {
    code: 'NOT_ACCRUED',
    message:
      `${step} for ${date} refused: ${why}. Run before it, ${step} ${harm}: run accrue --date ${date} ` +
      `(or nightly --date ${date}) until it succeeds, then ${step}`,
    notRun: STOPS.refused.NOT_ACCRUED(date),
  };
}

function skipped(job: string, reason: string): StepSummary {
  return { job, status: 'skipped', seconds: 0, counts: {}, warnings: [], reason };
}

export interface RunOptions {
  /**
   * A scheduled run. Refuse with AlreadyRanError when a run of this job for the date has already
   * succeeded. Checked under the run lock, so two schedulers sharing a database never both run a date
   * (one may finish and release the lock just before the other takes it). And wait for the run lock
   * while a run of another job or date holds it (another scheduler's night): refused at once, this run
   * would be dropped until the next catch-up. Refused (LockedError) only by a run of its own job and
   * date, which is being done. Manual runs leave it off: a rerun is always allowed, and a run that cannot
   * start says so at once.
   */
  onlyOnce?: boolean;
  /**
   * A scheduled run: refused (recorded failed, `SECRET_MISSING`) when its transports name a secret the
   * environment does not hold, looked up under the lock with the files then waiting for delivery. Manual
   * runs leave it off: the command refuses them before anything is recorded (checkTransportSecrets).
   */
  refuseUnsetSecrets?: boolean;
  /**
   * A scheduled run: refused (recorded failed, `NOT_ENDED`) when its business date (a month-end's: its
   * month's last day) has not ended in the program's time zone by the run's clock. Manual runs leave it
   * off: the command refuses them before anything is recorded (notEndedYet).
   */
  refuseUnended?: boolean;
}

export class AlreadyRanError extends RedeyeError {
  constructor(job: string, businessDate: string) {
    super('ALREADY_RAN', `${job} for ${businessDate} already ran`, { job, businessDate });
  }
}

/**
 * Takes the run lock; with `wait`, waits while a run of another job or date holds it (see
 * RunOptions.onlyOnce), checking again with a growing pause up to 5 s, until a stop is asked for.
 */
async function takeRunLock(ctx: JobContext, run: LockedRun, wait: boolean): Promise<RunLock> {
  let waiting = false;
  for (let ms = 250; ; ms = Math.min(ms * 2, 5000)) {
    try {
      const lock = await acquireRunLock(ctx.db, run, {
        onHeartbeatProblem: (message, e) =>
          ctx.logger.error(
            { job: run.job, businessDate: run.businessDate },
            e === undefined ? message : `${message}: ${stepError(ctx, e, run.job).describe()}`,
          ),
      });
      if (lock.tookOver)
        ctx.logger.warn(
          { job: run.job, businessDate: run.businessDate, tookOver: lock.tookOver.from },
          `${run.job} for ${run.businessDate} took over the run lock of ${lock.tookOver.from.job} for ` +
            `${lock.tookOver.from.businessDate} (${lock.tookOver.from.holder}, since ${lock.tookOver.from.since}): ` +
            lock.tookOver.reason,
        );
      return lock;
    } catch (e) {
      const holder = e instanceof LockedError ? e.heldBy : undefined;
      const same = holder?.job === run.job && holder.businessDate === run.businessDate;
      if (!wait || !(e instanceof LockedError) || same || ctx.signal?.aborted) throw e;
      if (!waiting)
        ctx.logger.info(
          { job: run.job, businessDate: run.businessDate, ...(holder ? { heldBy: holder } : {}) },
          `${run.job} for ${run.businessDate} waits for the run lock: ${describeHolder(holder)}`,
        );
      waiting = true;
      await sleepUnlessStopped(ms, ctx.signal);
    }
  }
}

/** Runs one job (or the night, or the month-end) for a business date, under the run lock. */
export async function runJob(
  ctx: JobContext,
  name: RunnableJob,
  options: RunOptions = {},
): Promise<RunSummary> {
  const t0 = process.hrtime.bigint();
  const steps = stepsOf(name);
  const runCtx = name === 'monthly' ? { ...ctx, businessDate: endOfMonth(ctx.businessDate) } : ctx;
  let lock: RunLock | undefined;
  const summaries: StepSummary[] = [];
  let compositeRun: number | undefined;
  let stopped: RunSummary['stopped'];
  let refused: Refusal | undefined;
  // A daemon started before a newer Redeye migrated the database keeps its connection: it must not take
  // a lock, record a run or post in tables it was not written for.
  await refuseNewerDatabase(ctx.db);
  try {
    try {
      lock = await takeRunLock(
        ctx,
        { job: name, businessDate: runCtx.businessDate },
        options.onlyOnce === true,
      );
    } catch (e) {
      if (e instanceof RedeyeError) throw e;
      const cause = stepError(runCtx, e, name);
      throw new RedeyeError(
        cause.code,
        `${name} for ${runCtx.businessDate} could not take its run lock: ${cause.message}`,
        cause.context,
        { cause: e },
      );
    }
    if (options.onlyOnce) {
      // Looked up under runCtx's date: a monthly run is recorded under its month's last day, whatever
      // day it was asked for.
      const done = await ctx.db
        .knex('job_runs')
        .where({ job: name, business_date: runCtx.businessDate, status: 'succeeded' })
        .first('id');
      if (done) throw new AlreadyRanError(name, runCtx.businessDate);
    }
    await closeInterruptedRuns(ctx);
    // Looked up under the lock, so no night of the date can be running; recorded as a failed run of the
    // month-end, which the scheduler's catch-up finds and runs again once the night has succeeded.
    refused = options.refuseUnended ? unendedRefusal(runCtx, name) : undefined;
    if (!refused && name === 'monthly') refused = await monthEndRefusal(runCtx);
    // The fetch first: the files it left out are what the date's accrue has yet to post.
    if (!refused && steps.length === 1) refused = await fetchRefusal(runCtx, steps[0]!);
    if (!refused && steps.length === 1) refused = await accrueRefusal(runCtx, steps[0]!);
    if (!refused && options.refuseUnsetSecrets) refused = await secretsRefusal(runCtx, name);
    // Logged here, once, for the command line and the scheduler alike (the scheduler does not repeat it).
    if (refused)
      ctx.logger.error(
        { job: name, businessDate: runCtx.businessDate, code: refused.code },
        `[${refused.code}] ${refused.message}`,
      );
    if (steps.length > 1 || refused) {
      // The night as a whole is recorded too, and a refused run of one step in its place: the
      // scheduler's catch-up reads them.
      compositeRun = await openRunRecord(runCtx, name);
    }
    // After a failed fetch the night reads what did arrive, then ends failed naming fetch.
    let partial: { step: StepName; reason: string } | undefined;
    for (const step of steps) {
      if (refused) {
        summaries.push(skipped(step, refused.notRun));
        continue;
      }
      if (stopped) {
        summaries.push(skipped(step, STOPS.notRunAfter(stopped.step)));
        continue;
      }
      if (ctx.signal?.aborted) {
        stopped = { step, reason: STOPS.beforeStep(stopRequest(ctx.signal.reason), step) };
        summaries.push(skipped(step, `not run: ${stopped.reason}`));
        continue;
      }
      if (partial && !RUNS_ON_PART_OF_THE_FILES[step]) {
        summaries.push(skipped(step, STOPS.notRunAfterFetch));
        continue;
      }
      const s = await runStep(runCtx, step, compositeRun, name);
      summaries.push(s);
      if (s.status !== 'failed') continue;
      const interrupted = s.error?.code === 'INTERRUPTED';
      if (step === 'fetch' && !interrupted && steps.length > 1)
        partial = { step, reason: STOPS.fetchFailed(s.error?.code) };
      else
        stopped = {
          step,
          reason: interrupted
            ? STOPS.interrupted(stopRequest(ctx.signal!.reason), step)
            : STOPS.failed(step, s.error?.code),
        };
    }
    stopped ??= partial;
    const failed = summaries.some((s) => s.status !== 'succeeded');
    if (compositeRun !== undefined) {
      await closeRunRecord(runCtx, compositeRun, name, {
        failed,
        ...nightTotals(summaries),
        error: refused
          ? `[${refused.code}] ${refused.message}`
          : failed
            ? summaries
                .filter((s) => s.status !== 'succeeded')
                .map((s) => `${s.job}: ${s.error?.message ?? s.status}`)
                .join('; ')
            : null,
        refused: refused !== undefined,
      });
    }
  } finally {
    // A lock left behind by a failed release is taken over by the next run: a row of an ended process,
    // or of this one (a daemon) once its run let it go; a PostgreSQL session that kept it is ended.
    await lock
      ?.release()
      .catch((e: unknown) =>
        ctx.logger.error(
          { job: name, businessDate: runCtx.businessDate },
          `the run lock could not be released: ${stepError(runCtx, e, name).describe()}`,
        ),
      );
  }
  return {
    job: name,
    businessDate: runCtx.businessDate,
    status: summaries.some((s) => s.status !== 'succeeded') ? 'failed' : 'succeeded',
    steps: summaries,
    seconds: Number(process.hrtime.bigint() - t0) / 1e9,
    ...(stopped ? { stopped } : {}),
    ...(refused ? { refused: { code: refused.code, message: refused.message } } : {}),
  };
}
