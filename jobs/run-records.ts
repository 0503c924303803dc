/**
 * The runs as `job_runs` recorded them, read back for `redeye runs`: a night (or month-end) with its
 * steps, and what it did not run and why, worked out from the records as the runner decided it live
 * (STOPS), so a run reads later as its summary read when it ran.
 */
import { hostname } from 'node:os';
import type { Knex } from 'knex';
import { isRunnable, RUNS_ON_PART_OF_THE_FILES, stepsOf, STOPS, type StepName } from './runner.js';
import { processAlive } from './lock.js';
import { chunks } from '../lib/chunks.js';
import { endOfMonth } from '../lib/dates.js';

/** A `job_runs` row as the engines return it. */
interface RunRow {
  id: number;
  job: string;
  business_date: string;
  status: string;
  started_at: string;
  finished_at: string | null;
  counts: string | null;
  warnings: string | null;
  error: string | null;
  host: string | null;
  pid: number | null;
  part_of: number | null;
  /** 0/1 on SQLite. */
  refused: boolean | number;
}

/** An error as recorded: `[CODE] message`. */
export interface RunError {
  code: string;
  message: string;
}

export interface StepView {
  id?: number;
  job: string;
  status: 'succeeded' | 'failed' | 'skipped' | 'running';
  startedAt?: string;
  finishedAt?: string | null;
  seconds: number;
  counts: Record<string, number>;
  /** Null for a record made before migration 026, which kept none. */
  warnings: string[] | null;
  error?: RunError;
  reason?: string;
}

export interface RunView {
  id: number;
  job: string;
  businessDate: string;
  status: 'succeeded' | 'failed' | 'running';
  startedAt: string;
  finishedAt: string | null;
  seconds: number;
  host: string | null;
  pid: number | null;
  /** A run recorded `running` on this machine whose process has ended: the next run closes it failed. */
  processEnded?: true;
  counts: Record<string, number>;
  warnings: string[] | null;
  /** The run's own error: a refusal, or a killed run closed by the next; a night's failures are its steps'. */
  error?: RunError;
  steps: StepView[];
  stopped?: { step: string; reason: string };
  refused?: RunError;
}

/** `[CODE] message`, as the runner records an error. */
function parseError(text: string | null): RunError | undefined {
  if (text === null) return undefined;
  const m = /^\[([A-Z0-9_]+)\] ([\s\S]*)$/.exec(text);
  return m ? { code: m[1]!, message: m[2]! } : undefined;
}

const json = <T>(text: string | null, empty: T): T => (text ? (JSON.parse(text) as T) : empty);
const iso = (t: string | Date) => new Date(t).toISOString();
const seconds = (r: RunRow) =>
  ((r.finished_at ? Date.parse(iso(r.finished_at)) : Date.now()) - Date.parse(iso(r.started_at))) / 1000;
/** What the steps of a refused run say; a code this version does not know still reads refused. */
const notRunFor = (code: string, date: string): string =>
  code in STOPS.refused
    ? STOPS.refused[code as keyof typeof STOPS.refused](date)
    : `not run: the run was refused [${code}]`;

function stepView(r: RunRow): StepView {
  const error = r.status === 'failed' ? parseError(r.error) : undefined;
  return {
    id: Number(r.id),
    job: r.job,
    status: r.status as StepView['status'],
    startedAt: iso(r.started_at),
    finishedAt: r.finished_at ? iso(r.finished_at) : null,
    seconds: seconds(r),
    counts: json(r.counts, {}),
    warnings: json(r.warnings, null),
    ...(error ? { error } : {}),
  };
}

const skippedStep = (job: string, reason: string): StepView => ({
  job,
  status: 'skipped',
  seconds: 0,
  counts: {},
  warnings: [],
  reason,
});

/**
 * A run from its record and its steps' records. A step run alone is its own only step. The steps a night
 * did not run are not recorded: which they were, and why, is worked out as the runner decided it live,
 * from the steps that were.
 */
function runView(run: RunRow, stepRows: RunRow[]): RunView {
  const job = run.job;
  const own = parseError(run.error);
  // Refused is what the runner recorded, not read from the code: a step that ran fails SECRET_MISSING too.
  const refused = Boolean(run.refused) && run.status === 'failed' && own !== undefined ? own : undefined;
  const composite = stepRows.length > 0 || job === 'nightly' || job === 'monthly' || refused !== undefined;
  const planned: string[] = isRunnable(job) ? stepsOf(job) : [job];
  const recorded = composite ? stepRows.map(stepView) : [stepView(run)];
  const view: RunView = {
    id: Number(run.id),
    job,
    businessDate: String(run.business_date),
    status: run.status as RunView['status'],
    startedAt: iso(run.started_at),
    finishedAt: run.finished_at ? iso(run.finished_at) : null,
    seconds: seconds(run),
    host: run.host,
    pid: run.pid === null ? null : Number(run.pid),
    counts: json(run.counts, {}),
    warnings: json(run.warnings, null),
    steps: [],
  };
  if (
    run.status === 'running' &&
    run.host === hostname() &&
    run.pid !== null &&
    !processAlive(Number(run.pid))
  )
    view.processEnded = true;
  if (refused && stepRows.length === 0) {
    view.refused = refused;
    view.steps = planned.map((s) => skippedStep(s, notRunFor(refused.code, view.businessDate)));
    return view;
  }
  // A night's own error is its steps' failures, shown with them, unless the process running it was killed.
  if (composite && own) view.error = own;
  let stopped: RunView['stopped'];
  let partial: RunView['stopped'];
  const steps: StepView[] = [];
  const bySteps = new Map(recorded.map((s) => [s.job, s]));
  for (const step of planned) {
    const s = bySteps.get(step);
    if (s) {
      steps.push(s);
      if (s.status !== 'failed') continue;
      const code = s.error?.code;
      const request =
        code === 'INTERRUPTED' ? /^(stopped on request.*?) while /.exec(s.error!.message) : null;
      if (step === 'fetch' && code !== 'INTERRUPTED' && planned.length > 1)
        partial = { step, reason: STOPS.fetchFailed(code) };
      else
        stopped = {
          step,
          reason: request
            ? STOPS.interrupted(request[1]!, step)
            : code === 'INTERRUPTED'
              ? s.error!.message
              : STOPS.failed(step, code),
        };
      continue;
    }
    // Not run yet, while the night still runs.
    if (run.status === 'running') continue;
    if (stopped) steps.push(skippedStep(step, STOPS.notRunAfter(stopped.step)));
    else if (partial && !RUNS_ON_PART_OF_THE_FILES[step as StepName])
      steps.push(skippedStep(step, STOPS.notRunAfterFetch));
    else if (run.status === 'failed') {
      // Recorded failed with no step failed: the night's process was killed between two steps (the next
      // run closed it), or asked to stop there — by which signal, the log alone says.
      stopped = {
        step,
        reason:
          view.error?.code === 'INTERRUPTED'
            ? view.error.message
            : STOPS.beforeStep('stopped on request', step),
      };
      steps.push(skippedStep(step, `not run: ${stopped.reason}`));
    }
  }
  view.steps = steps;
  stopped ??= partial;
  if (stopped) view.stopped = stopped;
  return view;
}

async function stepsOfRuns(knex: Knex, ids: number[]): Promise<Map<number, RunRow[]>> {
  const steps = new Map<number, RunRow[]>();
  for (const part of chunks(ids, 500)) {
    const rows = (await knex('job_runs').whereIn('part_of', part).orderBy('id').select('*')) as RunRow[];
    for (const r of rows) {
      const of = Number(r.part_of);
      const list = steps.get(of);
      if (list) list.push(r);
      else steps.set(of, [r]);
    }
  }
  return steps;
}

/**
 * The runs a filter selects, newest first, each with its steps. With a job, its records match whether
 * run alone or in a night, each shown as its night (once, whatever else matched in it); `failed` is of
 * those records. A month-end is recorded under its month's last day: with `monthly`, a date stands for
 * its month's, as `redeye run monthly --date` takes it.
 */
export async function listRuns(
  knex: Knex,
  filter: { date?: string; job?: string; failed?: boolean; last: number },
): Promise<RunView[]> {
  let q = knex('job_runs');
  const date = filter.date && filter.job === 'monthly' ? endOfMonth(filter.date) : filter.date;
  if (date) q = q.where({ business_date: date });
  if (filter.job) q = q.where({ job: filter.job });
  else q = q.whereNull('part_of');
  if (filter.failed) q = q.where({ status: 'failed' });
  const ids = (
    (await q
      .distinct(knex.raw('coalesce(part_of, id) as run'))
      .orderBy('run', 'desc')
      .limit(filter.last)) as Array<{ run: number | string }>
  ).map((r) => Number(r.run));
  const byId = new Map<number, RunRow>();
  for (const part of chunks(ids, 500))
    for (const r of (await knex('job_runs').whereIn('id', part).select('*')) as RunRow[])
      byId.set(Number(r.id), r);
  const steps = await stepsOfRuns(knex, ids);
  return ids.flatMap((id) => {
    const r = byId.get(id);
    return r ? [runView(r, steps.get(id) ?? [])] : [];
  });
}

/** One run by id; the id of a step of a night shows the night. */
export async function runById(knex: Knex, id: number): Promise<RunView | undefined> {
  const row = (await knex('job_runs').where({ id }).first('*')) as RunRow | undefined;
  if (!row) return undefined;
  if (row.part_of !== null) return runById(knex, Number(row.part_of));
  return runView(row, (await stepsOfRuns(knex, [id])).get(id) ?? []);
}
