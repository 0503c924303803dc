/**
 * Runs of every job and date now share one lock (two nights of different dates, or a night and a step
 * of it, wrote the same ledger at once: a night failed on an idempotency key the other had just used).
 * Its row names the run that holds it, so a refused run can say which one is running: `job` and
 * `business_date` (the row's `name` no longer tells). On PostgreSQL the lock itself is an advisory lock;
 * the row is written under it for the same purpose.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('job_locks', (t) => {
    t.string('job', 32).nullable();
    t.date('business_date').nullable();
  });
  // The per-job-and-date rows of earlier versions are no run's lock any more: any left were killed runs'.
  await knex('job_locks').delete();
}

export async function down(knex: Knex): Promise<void> {
  await knex('job_locks').delete();
  await knex.schema.alterTable('job_locks', (t) => {
    t.dropColumn('business_date');
    t.dropColumn('job');
  });
}
