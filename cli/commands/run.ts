import type { Command } from 'commander';
import {
  addDays,
  endOfMonth,
  isIsoDate,
  lastEndedDate,
  startOfMonth,
  type IsoDate,
} from '../../lib/dates.js';
import { ConfigError, UsageError } from '../../lib/errors.js';
import {
  checkTransportSecrets,
  isRunnable,
  JOB_NAMES,
  notEndedYet,
  runJob,
  type RunnableJob,
  type RunSummary,
  type StepSummary,
} from '../../jobs/runner.js';
import type { JobContext } from '../../jobs/types.js';
import { instantSetting, type ActionRunner, type CommandContext } from '../context.js';
import { table } from '../format.js';
import { terminalProgress } from '../progress.js';
import { Scheduler } from '../../jobs/schedule.js';

/** The last business date that has ended: yesterday in the program's time zone, by the command's clock. */
export function lastBusinessDate(ctx: CommandContext): IsoDate {
  return lastEndedDate(ctx.now(), ctx.config.program.timeZone);
}

/**
 * The business date of `--date`, or by default the last one (`lastBusinessDate`; REDEYE_NOW replays the
 * night it names) — for a month-end, the last day of the last month that has ended. With `ended`, a date
 * that has not ended yet is refused before anything runs or is recorded (notEndedYet says why).
 */
export function businessDateOption(
  ctx: CommandContext,
  value: string | undefined,
  options: { ended?: { what: string; monthEnd?: boolean } } = {},
): IsoDate {
  if (value === undefined) {
    const last = lastBusinessDate(ctx);
    // Mid-month, the month-end meant is the month before: this month's would be refused as not ended.
    if (options.ended?.monthEnd && endOfMonth(last) !== last) return addDays(startOfMonth(last), -1);
    return last;
  }
  if (!isIsoDate(value))
    throw new UsageError(`--date expects a date YYYY-MM-DD, got ${JSON.stringify(value)}`);
  const ended = options.ended;
  // A month-end (`run monthly`, `report monthly`) runs for its month's last day, whatever --date names:
  // a month's report made for a day within it would be a second, partial one.
  const date = ended?.monthEnd ? endOfMonth(value) : value;
  const why = ended && notEndedYet(ctx.config, ctx.now(), ended.what, date);
  if (why) throw new UsageError(`${why}; to replay a night as of another clock, set REDEYE_NOW`);
  return date;
}

export function jobContext(
  ctx: CommandContext,
  businessDate: string,
  signal?: AbortSignal,
  filesUntil?: Date,
): JobContext {
  return {
    db: ctx.db(),
    config: ctx.config,
    logger: ctx.logger,
    businessDate,
    now: ctx.now,
    progress: terminalProgress(),
    signal,
    env: ctx.env,
    ...(filesUntil ? { filesUntil } : {}),
  };
}

/** `--files-until`: an ISO 8601 instant with its offset (a time without one would be read in local time). */
function filesUntilOption(value: string | undefined, job: RunnableJob): Date | undefined {
  if (value === undefined) return undefined;
  if (job !== 'fetch' && job !== 'nightly')
    throw new UsageError(`--files-until limits what fetch takes: run nightly or fetch with it, not ${job}`);
  return instantSetting('--files-until', value);
}

/**
 * Stops after the current transaction on SIGINT/SIGTERM instead of dying mid-step. The signal's name is
 * the abort reason, so the run can say what stopped it. A second signal gets the default action.
 */
export function abortOnSignals(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals) => controller.abort(signal);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}

/**
 * A run as printed: the summary of a run just made, or one `redeye runs show` rebuilt from its records,
 * which may still be running, or have been closed failed by the next run when its process was killed
 * (`error`: the run's own, not its steps').
 */
export type PrintedRun = Omit<RunSummary, 'status' | 'steps'> & {
  status: RunSummary['status'] | 'running';
  steps: Array<Omit<StepSummary, 'status'> & { status: StepSummary['status'] | 'running' }>;
  error?: { code: string; message: string };
};

export function printSummary(ctx: CommandContext, s: PrintedRun): void {
  ctx.output.out(`${s.job} for ${s.businessDate}: ${s.status.toUpperCase()} in ${s.seconds.toFixed(1)} s`);
  ctx.output.out(
    table(
      ['step', 'status', 'seconds', 'counts'],
      s.steps.map((step) => [
        step.job,
        step.status,
        step.seconds.toFixed(1),
        Object.entries(step.counts)
          .filter(([, v]) => v !== 0)
          .map(([k, v]) => `${k}=${v}`)
          .join(' '),
      ]),
    ),
  );
  for (const step of s.steps) {
    for (const w of step.warnings) ctx.output.out(`warning (${step.job}): ${w}`);
    if (step.error) ctx.output.out(`error (${step.job}) [${step.error.code}]: ${step.error.message}`);
  }
  const own = s.refused ?? s.error;
  if (own) ctx.output.out(`error (${s.job}) [${own.code}]: ${own.message}`);
  if (s.stopped) {
    const notRun = s.steps.filter((step) => step.status === 'skipped').map((step) => step.job);
    ctx.output.out(
      `stopped at ${s.stopped.step}: ${s.stopped.reason}` +
        (notRun.length > 0 ? `; not run: ${notRun.join(', ')}` : '') +
        `; run ${s.job} for ${s.businessDate} again to complete it`,
    );
  }
}

export function registerRun(program: Command, run: ActionRunner): void {
  program
    .command('run')
    .argument('<job>', `one of: ${JOB_NAMES.join(', ')}`)
    .description('run a job (or the whole night) for a business date; safe to rerun')
    .option('-d, --date <YYYY-MM-DD>', "business date (default: yesterday in the program's time zone)")
    .option(
      '--files-until <time>',
      'a night caught up by hand: fetch only the files that had come in by this time (ISO 8601); the rest are left for the nights after it',
    )
    .option('--json', 'print the run summary as JSON')
    .action(
      run(
        async (
          ctx: CommandContext,
          job: string,
          opts: { date?: string; filesUntil?: string; json?: boolean },
        ) => {
          if (!isRunnable(job))
            throw new UsageError(`unknown job ${JSON.stringify(job)}; jobs: ${JOB_NAMES.join(', ')}`);
          const date = businessDateOption(ctx, opts.date, {
            // A month-end runs for its month's last day, whatever day of the month --date names.
            ended: { what: `run ${job}`, monthEnd: job === 'monthly' },
          });
          const filesUntil = filesUntilOption(opts.filesUntil, job);
          await checkTransportSecrets(
            { config: ctx.config, db: ctx.db(), env: ctx.env },
            job,
            `redeye run ${job}`,
          );
          const stop = abortOnSignals();
          try {
            const summary = await runJob(jobContext(ctx, date, stop.signal, filesUntil), job);
            if (opts.json) ctx.output.out(JSON.stringify(summary));
            else printSummary(ctx, summary);
            return summary.status === 'succeeded' ? 0 : 1;
          } finally {
            stop.dispose();
          }
        },
      ),
    );
}

export function registerSchedule(program: Command, run: ActionRunner): void {
  program
    .command('schedule')
    .description(
      'run the configured schedules as a daemon (catches up missed nights; stops cleanly on SIGTERM/SIGINT)',
    )
    .action(
      run(async (ctx: CommandContext) => {
        // The daemon runs on the wall clock: cron fires by it, and a pinned clock would give every firing
        // the same business date. REDEYE_NOW replays one night: `redeye run nightly --date D`.
        if (ctx.env.REDEYE_NOW)
          throw new UsageError(
            'REDEYE_NOW pins the clock of one run and redeye schedule runs on the wall clock: unset it ' +
              '(to replay a night as it ran, use REDEYE_NOW with redeye run nightly --date YYYY-MM-DD)',
          );
        // The handlers come first: a signal during start-up (configuration, database, the catch-up's
        // look-up) must stop the daemon as cleanly as one after it, not kill it.
        const stop = abortOnSignals();
        try {
          // A daemon with nothing to run would wait forever, saying only that its list is empty.
          if (ctx.config.schedules.jobs.length === 0)
            throw new ConfigError(`redeye schedule has nothing to run in ${ctx.config.configPath}`, [
              {
                path: 'schedules.jobs',
                message:
                  'no scheduled job: the schedules section is missing or lists no jobs; add one, e.g. ' +
                  'schedules: { jobs: [{ job: nightly, cron: "30 2 * * *" }] }',
              },
            ]);
          const requested = new Promise<void>((resolve) =>
            stop.signal.aborted ? resolve() : stop.signal.addEventListener('abort', () => resolve()),
          );
          const scheduler = new Scheduler({
            db: ctx.db(),
            config: ctx.config,
            logger: ctx.logger,
            env: ctx.env,
          });
          await Promise.race([scheduler.start(), requested]);
          await requested;
          ctx.logger.info(
            { signal: stop.signal.reason as unknown },
            'stopping: the running step finishes its transaction first',
          );
          await scheduler.stop(stop.signal.reason);
          return 0;
        } finally {
          stop.dispose();
        }
      }),
    );
}
