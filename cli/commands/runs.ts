/**
 * `redeye runs`: what the nights did, read from `job_runs` rather than the log — for the operator who
 * arrives after the scheduler ran the night. A night (or month-end) is shown with its steps, and `runs
 * show` prints a run as `redeye run` printed it live (printSummary), rebuilt from its records.
 */
import type { Command } from 'commander';
import { UsageError } from '../../lib/errors.js';
import { isIsoDate } from '../../lib/dates.js';
import { isRunnable, JOB_NAMES } from '../../jobs/runner.js';
import { listRuns, runById, type RunError, type RunView } from '../../jobs/run-records.js';
import type { ActionRunner, CommandContext } from '../context.js';
import { table } from '../format.js';
import { printSummary, type PrintedRun } from './run.js';

/** How many runs `redeye runs` lists without `--last`: about ten nights. */
const DEFAULT_LAST = 10;
/** How much of an error the list shows; `runs show` prints it whole. */
const LISTED_ERROR = 120;

const countsText = (counts: Record<string, number>) =>
  Object.entries(counts)
    .filter(([, v]) => v !== 0)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');

const clipped = (text: string) => (text.length > LISTED_ERROR ? `${text.slice(0, LISTED_ERROR - 1)}…` : text);

/** An error as the list shows it: as the runner recorded it, clipped to its column. */
const errorText = (e: RunError) => clipped(`[${e.code}] ${e.message}`);

function statusText(r: { status: string; processEnded?: true }): string {
  return r.processEnded ? 'running (its process has ended)' : r.status;
}

/** A step's or a run alone's line: its counts that are not zero, how many warnings, its error. */
function detail(s: {
  counts: Record<string, number>;
  warnings: string[] | null;
  error?: RunError;
  reason?: string;
}) {
  return [
    countsText(s.counts),
    s.warnings && s.warnings.length > 0 ? `${s.warnings.length} warning(s)` : '',
    s.error ? errorText(s.error) : '',
  ]
    .filter((t) => t !== '')
    .join('; ');
}

function printList(ctx: CommandContext, runs: RunView[]): void {
  const rows: string[][] = [];
  for (const r of runs) {
    const alone = r.steps.length === 1 && r.steps[0]!.id === r.id;
    const error = r.refused ?? r.error;
    rows.push([
      String(r.id),
      r.job,
      r.businessDate,
      statusText(r),
      r.startedAt,
      r.seconds.toFixed(1),
      `${r.host ?? '?'} pid ${r.pid ?? '?'}`,
      alone ? detail(r.steps[0]!) : error ? errorText(error) : '',
    ]);
    if (alone) continue;
    for (const s of r.steps)
      rows.push([
        s.id === undefined ? '' : String(s.id),
        `  ${s.job}`,
        '',
        s.status,
        '',
        s.status === 'skipped' ? '' : s.seconds.toFixed(1),
        '',
        s.status === 'skipped' ? '' : detail(s),
      ]);
  }
  ctx.output.out(
    table(['id', 'job', 'date', 'status', 'started', 'seconds', 'host', 'counts, warnings, error'], rows),
  );
  if (runs.length > 0)
    ctx.output.out('redeye runs show <id> prints a run in full: every count, warning and error');
}

function printRun(ctx: CommandContext, r: RunView): void {
  const shown: PrintedRun = {
    job: r.job,
    businessDate: r.businessDate,
    status: r.status,
    seconds: r.seconds,
    steps: r.steps.map((s) => ({ ...s, warnings: s.warnings ?? [] })),
    ...(r.stopped ? { stopped: r.stopped } : {}),
    ...(r.refused ? { refused: r.refused } : {}),
    ...(r.error ? { error: r.error } : {}),
  };
  ctx.output.out(
    `run ${r.id}: started ${r.startedAt}` +
      (r.finishedAt ? `, ended ${r.finishedAt}` : `, ${statusText(r)}`) +
      ` on ${r.host ?? '?'} pid ${r.pid ?? '?'}`,
  );
  printSummary(ctx, shown);
  if (r.status === 'running')
    ctx.output.out(
      r.processEnded
        ? `still recorded running, but its process (${r.host} pid ${r.pid}) has ended: the next run closes it as failed`
        : 'still running: the steps after the last shown have not started',
    );
  if ([r, ...r.steps].some((s) => s.warnings === null && s.status !== 'skipped' && s.status !== 'running'))
    ctx.output.out('(recorded before migration 026: the warnings it printed were not kept)');
}

function positive(option: string, text: string): number {
  // Beyond the largest exact number the database is handed a float, which SQLite refuses as a limit.
  if (!/^[1-9]\d*$/.test(text) || Number(text) > Number.MAX_SAFE_INTEGER)
    throw new UsageError(
      `${option} expects a positive whole number up to ${Number.MAX_SAFE_INTEGER}, got ${JSON.stringify(text)}`,
      { option },
    );
  return Number(text);
}

function dateOption(text: string | undefined): string | undefined {
  if (text !== undefined && !isIsoDate(text))
    throw new UsageError(`--date expects a date YYYY-MM-DD, got ${JSON.stringify(text)}`, {
      option: '--date',
    });
  return text;
}

function jobOption(text: string | undefined): string | undefined {
  if (text !== undefined && !isRunnable(text))
    throw new UsageError(`--job: unknown job ${JSON.stringify(text)}; jobs: ${JOB_NAMES.join(', ')}`, {
      option: '--job',
    });
  return text;
}

export function registerRuns(program: Command, run: ActionRunner): void {
  // One command rather than a `show` subcommand: commander gives an option both would take (--date,
  // --job, --json) to the parent, so `runs show --date D` would lose it.
  program
    .command('runs')
    .argument('[show]', 'show: one run in full, as redeye run printed it (every step, count, warning, error)')
    .argument('[id]', 'with show: the run id (from redeye runs; a step of a night shows its night)')
    .description('what the runs did, newest first: each night with its steps, status, counts and errors')
    .option(
      '-d, --date <YYYY-MM-DD>',
      'only the runs for this business date (with --job monthly, any day of its month); with show, its last run of --job (default nightly)',
    )
    .option(
      '--job <job>',
      `only the runs of this job (${JOB_NAMES.join(', ')}); a step run in a night shows as its night`,
    )
    .option('--last <n>', `how many runs (default ${DEFAULT_LAST})`)
    .option('--failed', 'only the runs that failed')
    .option('--json', 'print as JSON: a line per run; with show, the run')
    .action(
      run(
        async (
          ctx: CommandContext,
          show: string | undefined,
          idText: string | undefined,
          opts: { date?: string; job?: string; last?: string; failed?: boolean; json?: boolean },
        ) => {
          const knex = ctx.db().knex;
          const date = dateOption(opts.date);
          const job = jobOption(opts.job);
          if (show === undefined) {
            const last = opts.last === undefined ? DEFAULT_LAST : positive('--last', opts.last);
            const found = await listRuns(knex, { date, job, failed: opts.failed === true, last });
            if (opts.json) for (const r of found) ctx.output.out(JSON.stringify(r));
            else printList(ctx, found);
            return 0;
          }
          if (show !== 'show')
            throw new UsageError(`runs takes show <id> or show --date D, got ${JSON.stringify(show)}`);
          if ((idText === undefined) === (date === undefined))
            throw new UsageError('runs show takes a run id or --date, one of the two');
          let found: RunView | undefined;
          if (idText !== undefined) {
            if (!/^\d+$/.test(idText))
              throw new UsageError(`runs show: a run id is a number, got ${JSON.stringify(idText)}`);
            found = await runById(knex, Number(idText));
            if (!found)
              throw new UsageError(`runs show: no run ${idText} is recorded (redeye runs lists them)`);
          } else {
            [found] = await listRuns(knex, { date, job: job ?? 'nightly', last: 1 });
            if (!found)
              throw new UsageError(
                `--date ${date}: no run of ${job ?? 'nightly'} is recorded for this business date`,
                {
                  option: '--date',
                },
              );
          }
          if (opts.json) ctx.output.out(JSON.stringify(found));
          else printRun(ctx, found);
          return 0;
        },
      ),
    );
}
