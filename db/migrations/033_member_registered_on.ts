/**
 * When the ledger first knew a member: the business date of the night that stored their row
 * (`registered_on`). The register of a past date counted every member enrolled by then, so a record the
 * CRM sent a night late (enrolled on the 31st, read on the 1st) joined the month's register when the
 * month's report was made again, and the report no longer read the same. No personal data: the
 * reporting role reads it, as it reads `enrolment_date`.
 *
 * Seeding: a row stored before this migration was stored while the ingest run it was created in ran
 * (`created_at` is that night's clock), so it takes that run's business date. Not `source_file_id`'s
 * night: that is the file of the record applied last, and a member enrolled years ago whose address
 * changed last night would leave every register before it. A row no ingest run covers (written by
 * something else than the ingest, or by a night run under another clock) keeps counting from its
 * enrolment date, as every report made before this migration counted it; one without an enrolment date
 * stays null, read as known from the start, as before.
 *
 * Down drops the column: only those dates are lost, which the register then reads from the enrolment
 * date again, as before; nothing the ledger holds.
 */
import type { Knex } from 'knex';
import { ROLE as REPORTING_ROLE, reportingRoleExists } from './005_reporting_role.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('members', (t) => {
    t.date('registered_on').nullable();
  });
  // The earliest covering run: a row is created once, and runs of one step do not overlap (run lock).
  await knex.raw(
    `UPDATE members SET registered_on = COALESCE(
       (SELECT MIN(r.business_date) FROM job_runs r
         WHERE r.job = 'ingest' AND r.started_at <= members.created_at
           AND (r.finished_at IS NULL OR r.finished_at >= members.created_at)),
       members.enrolment_date)`,
  );
  if (knex.client.config.client === 'pg' && (await reportingRoleExists(knex)))
    await knex.raw(`GRANT SELECT (registered_on) ON members TO ${REPORTING_ROLE}`);
}

export async function down(knex: Knex): Promise<void> {
  // Plain DROP COLUMN on both engines, as 028: knex would rebuild the SQLite table, and the tables
  // referencing `members` fail their foreign keys then.
  await knex.raw('ALTER TABLE members DROP COLUMN registered_on');
}
