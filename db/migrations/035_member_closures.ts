/**
 * The spells an account spent closed or merged: from `closed_on` (the business date of the night that
 * read the closure or merge) to `reopened_on` (the night that read a record opening it again, null while
 * it stays closed), with `merged_into`, the survivor its points went to when the spell is a merge. The
 * CRM can send an ACTIVE record of a closed or merged account, and the ingest then clears
 * `members.closed_on`: the member came back onto the register of every past date, so October's Members on
 * the register, Tier distribution and active rate, and November's Effectiveness column for October, moved
 * when made again after a reopening in November. `members.closed_on` stays the account's state now, which
 * retention, mailings and the ingest read; registers of a date read the spells.
 *
 * Seeding: every account closed or merged now starts one open spell from its `closed_on`, with its
 * `merged_into` when merged. An account reopened before this migration left no trace of its closure: it
 * counts on every register, as before. One merged without a closure date (written by something else than
 * the ingest) gets no spell; the register dates its merge by its transfer posting, as before. No personal
 * data: the reporting role reads it, as it reads `closed_on`.
 *
 * Down drops the table, losing only the spells that ended since, which nothing before it can hold; every
 * account closed or merged now keeps its `closed_on` and `merged_into` on `members`.
 */
import type { Knex } from 'knex';
import { ROLE as REPORTING_ROLE, reportingRoleExists } from './005_reporting_role.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('member_closures', (t) => {
    t.increments('id').primary();
    t.integer('member_id').notNullable().references('id').inTable('members');
    t.date('closed_on').notNullable();
    t.date('reopened_on').nullable();
    t.string('merged_into', 25).nullable();
    // The registers ask, member by member, whether a spell covers their date.
    t.index(['member_id', 'closed_on'], 'member_closures_member');
  });
  await knex.raw(
    `INSERT INTO member_closures (member_id, closed_on, merged_into)
     SELECT id, closed_on, CASE WHEN status = 'MERGED' THEN merged_into END
       FROM members WHERE status IN ('CLOSED', 'MERGED') AND closed_on IS NOT NULL ORDER BY id`,
  );
  if (knex.client.config.client === 'pg' && (await reportingRoleExists(knex)))
    await knex.raw(`GRANT SELECT ON member_closures TO ${REPORTING_ROLE}`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('member_closures');
}
