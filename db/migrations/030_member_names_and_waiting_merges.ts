/**
 * Three things the members feed keeps since this migration:
 *
 * - `members.source_file_id`: the file whose row the member's record is. Two rows with one `updated_at`
 *   are told apart by it: a later row of the same night replaces the one applied earlier in its delivery,
 *   while the same `updated_at` from a file of an earlier night is that record sent again. Null for records
 *   applied before it, read as "of an earlier night". No personal data: the reporting role reads it.
 * - `member_merges_waiting`: a MERGED record whose survivor is not a member yet (the CRM opened the new
 *   account and merged the old one into it, both in one delivery, the merge stamped first) waits, whole,
 *   until a row enrols the survivor, on that night or a later one. It holds the record as read (personal
 *   data: no grant), with the file and line it came from.
 * - `member_names`: the names a member held before the feed changed them, each with the last day it was in
 *   force, so that a flight flown under the old name and arriving after the change is still the member's.
 *   Personal data: no grant; retention erases them with the member's other names.
 *
 * Down keeps what it can: a waiting merge becomes a reject of its file and line (MEMBER_UNKNOWN, asking
 * for the row again once the survivor is enrolled), as every such merge was before. The former names and
 * the source files have nowhere to go and are dropped; members' current names and records stay.
 */
import type { Knex } from 'knex';
import { ROLE as REPORTING_ROLE, reportingRoleExists } from './005_reporting_role.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('members', (t) => {
    // No foreign key: SQLite cannot drop a column that has one (the down), and files are kept for good.
    t.integer('source_file_id').nullable();
  });
  await knex.schema.createTable('member_merges_waiting', (t) => {
    t.increments('id').primary();
    t.string('member_number', 25).notNullable().unique();
    t.string('merged_into', 25).notNullable();
    t.string('source_updated_at', 40).notNullable();
    t.integer('file_id').notNullable().references('id').inTable('files');
    t.integer('line').notNullable();
    /** The record as parsed (parsers/members.ts `MemberRecord`), applied whole once the survivor is in. */
    t.text('record').notNullable();
    /** The night it began waiting. */
    t.date('business_date').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.index(['merged_into']);
  });
  await knex.schema.createTable('member_names', (t) => {
    t.increments('id').primary();
    t.integer('member_id').notNullable().references('id').inTable('members');
    t.string('surname', 100).nullable();
    t.string('given_name', 100).nullable();
    t.string('surname_local', 100).nullable();
    t.string('given_name_local', 100).nullable();
    /** The last day the name was in force: the day of the `updated_at` of the record that changed it. */
    t.date('valid_until').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.index(['member_id']);
  });
  if (knex.client.config.client === 'pg' && (await reportingRoleExists(knex)))
    await knex.raw(`GRANT SELECT (source_file_id) ON members TO ${REPORTING_ROLE}`);
}

export async function down(knex: Knex): Promise<void> {
  const waiting = (await knex('member_merges_waiting')
    .orderBy('id')
    .select('member_number', 'merged_into', 'file_id', 'line', 'business_date')) as Array<{
    member_number: string;
    merged_into: string;
    file_id: number;
    line: number;
    business_date: string;
  }>;
  const now = new Date().toISOString();
  for (const w of waiting)
    await knex('rejects').insert({
      file_id: w.file_id,
      feed: 'members',
      line: w.line,
      field: 'merged_into',
      reason: 'MEMBER_UNKNOWN',
      message: `${w.member_number} is merged into ${w.merged_into}, which is not a member: nothing moved, ${w.member_number} stays as it was; send the row again once ${w.merged_into} is enrolled`,
      member_number: w.member_number,
      business_date: w.business_date,
      created_at: now,
    });
  await knex.schema.dropTable('member_names');
  await knex.schema.dropTable('member_merges_waiting');
  // Plain DROP COLUMN on both engines, as 028: knex would rebuild the SQLite table.
  await knex.raw('ALTER TABLE members DROP COLUMN source_file_id');
}
