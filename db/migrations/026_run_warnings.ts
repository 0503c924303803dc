/**
 * What a run warned of, kept with its record. A step's warnings (a file held NAME_CONFLICT, files no
 * feed's pattern takes, a night rerun after a later one fetched, mail refused by some recipients, …) were
 * printed by `redeye run` and logged, never stored: after a night the scheduler ran, the morning's
 * operator had only the JSON log to learn of them. `warnings` is a JSON array of the texts, as the
 * summary prints them (a night's own record holds its steps' as `<step>: <warning>`, as its counts are
 * `<step>.<count>`); null for a run recorded before this migration, or one still running.
 *
 * `part_of` is the night (or month-end) record a step's record belongs to, so `redeye runs` shows a night
 * with its steps; null for a run on its own. Records made before this migration are linked as the runner
 * made them: under the run lock a night opens its record, then one record per step in the night's order,
 * from the same process, for the same date, before that process opens any other run's. (Before 017 runs
 * of other dates could overlap, from other processes: their records are passed over.)
 *
 * `refused` marks a run refused before any of its steps ran (a month-end whose night is not complete,
 * NIGHT_INCOMPLETE; a scheduled run whose transports lack a secret, SECRET_MISSING): its error's code alone
 * cannot say so, as a step that ran fails with SECRET_MISSING too (an unreadable SFTP key, the tokens'
 * secret unset at retention). Records made before are marked where nothing else can be meant: a night or
 * month-end that failed with one of those codes and has no step. A step refused on its own before this
 * migration stays unmarked: it reads as a step failed with the refusal's message, which says refused.
 *
 * The reporting role reads `job_runs` whole (a table grant, 005), so it reads the new columns.
 *
 * Down refuses (MIGRATION_WOULD_LOSE_DATA) while a record holds warnings: nothing before this migration
 * could keep them, and they are the only trace, the log aside, of a file held for an operator or a
 * partner's mail not delivered. `part_of` is dropped: a re-up links the records again. `refused` is dropped:
a refusal's error still says `refused`, and a re-up marks the nights' and month-ends' again.
 */
import type { Knex } from 'knex';
import { chunks } from '../../lib/chunks.js';
import { RedeyeError } from '../../lib/errors.js';

/** The steps of the runs of several steps, in their order, as the runner ran them when this was written. */
const STEPS: Record<string, readonly string[]> = {
  nightly: ['fetch', 'ingest', 'accrue', 'tiers', 'expire', 'export', 'report', 'deliver', 'retention'],
  monthly: ['export', 'report', 'deliver'],
};

/** The codes of the runner's refusals, when this was written. */
const REFUSALS = ['NIGHT_INCOMPLETE', 'SECRET_MISSING'];

interface Row {
  id: number;
  job: string;
  business_date: string;
  host: string | null;
  pid: number | null;
  started_at: string;
  finished_at: string | null;
  status: string;
  error: string | null;
}

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('job_runs', (t) => {
    t.text('warnings').nullable();
    t.integer('part_of').nullable();
    t.boolean('refused').notNullable().defaultTo(false);
    t.index(['part_of'], 'job_runs_part_of');
  });
  const rows = (await knex('job_runs')
    .orderBy('id')
    .select(
      'id',
      'job',
      'business_date',
      'host',
      'pid',
      'started_at',
      'finished_at',
      'status',
      'error',
    )) as Row[];
  const at = (t: unknown) => new Date(t as string).getTime();
  const links = new Map<number, number[]>();
  rows.forEach((run, i) => {
    const steps = STEPS[run.job];
    if (!steps) return;
    const taken: number[] = [];
    let next = 0;
    for (let j = i + 1; j < rows.length; j++) {
      const r = rows[j]!;
      // A night's steps all start before it is closed; a pid is reused, in time.
      if (run.finished_at !== null && at(r.started_at) > at(run.finished_at)) break;
      if (r.host !== run.host || Number(r.pid) !== Number(run.pid)) continue;
      const step = steps.indexOf(r.job, next);
      if (step < 0 || String(r.business_date) !== String(run.business_date)) break;
      taken.push(r.id);
      next = step + 1;
    }
    if (taken.length > 0) links.set(run.id, taken);
  });
  for (const [run, steps] of links)
    for (const part of chunks(steps, 500))
      await knex('job_runs').whereIn('id', part).update({ part_of: run });
  const refused = rows
    .filter(
      (r) =>
        STEPS[r.job] &&
        !links.has(r.id) &&
        r.status === 'failed' &&
        REFUSALS.some((code) => r.error?.startsWith(`[${code}] `)),
    )
    .map((r) => r.id);
  for (const part of chunks(refused, 500))
    await knex('job_runs').whereIn('id', part).update({ refused: true });
}

export async function down(knex: Knex): Promise<void> {
  const kept = (await knex('job_runs')
    .whereNotNull('warnings')
    .whereNot({ warnings: '[]' })
    .orderBy('id')
    .select('id', 'job', 'business_date')) as Array<{ id: number; job: string; business_date: string }>;
  if (kept.length > 0) {
    const shown =
      kept
        .slice(0, 5)
        .map((r) => `run ${Number(r.id)} (${r.job} for ${String(r.business_date)})`)
        .join(', ') + (kept.length > 5 ? ` and ${kept.length - 5} more` : '');
    throw new RedeyeError(
      'MIGRATION_WOULD_LOSE_DATA',
      `rolling back 026_run_warnings would lose the warnings ${kept.length} run(s) recorded (${shown}), which nothing before it keeps and the log alone still holds; clear job_runs.warnings first if that is meant`,
      { table: 'job_runs' },
    );
  }
  await knex.schema.alterTable('job_runs', (t) => {
    t.dropIndex(['part_of'], 'job_runs_part_of');
  });
  // Plain DROP COLUMN on both engines, as 019 and 024: knex would rebuild the SQLite table.
  await knex.raw('ALTER TABLE job_runs DROP COLUMN part_of');
  await knex.raw('ALTER TABLE job_runs DROP COLUMN refused');
  await knex.raw('ALTER TABLE job_runs DROP COLUMN warnings');
}
