/**
 * When a member joined their current pool: the business date of the night the members feed put them in it
 * (`pool_since`). A pool's inactivity clock counts its members' activity, and an earning that arrives late
 * undoes the pool's expiries of the nights it shows the pool active; both took a member's pool today for
 * their pool on any night, so one who joined after the pool's points expired brought them back with a late
 * earning of their own. Members pooled before this migration are left null, read as "since before anything
 * the ledger holds": the clock and the reinstatements treat them as they did. No personal data: the
 * reporting role reads it, as it reads `pool_id`.
 *
 * Down drops the column. Only the join dates recorded since are lost, and nothing the ledger holds: the
 * points, their lots and the transfers into pools stay, and the `POOL:<member>:<pool>` transfer of each
 * join that moved points still dates it. After a re-up those members read as joined before anything, as
 * everyone pooled before this migration does.
 */
import type { Knex } from 'knex';
import { ROLE as REPORTING_ROLE, reportingRoleExists } from './005_reporting_role.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('members', (t) => {
    t.date('pool_since').nullable();
  });
  if (knex.client.config.client === 'pg' && (await reportingRoleExists(knex)))
    await knex.raw(`GRANT SELECT (pool_since) ON members TO ${REPORTING_ROLE}`);
}

export async function down(knex: Knex): Promise<void> {
  // Plain DROP COLUMN on both engines, as 019 and 024: knex would rebuild the SQLite table, and the tables
  // referencing `members` fail their foreign keys then.
  await knex.raw('ALTER TABLE members DROP COLUMN pool_since');
}
