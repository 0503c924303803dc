/**
 * The pools a member has left, and the nights they were in each: from `since` (the night the members feed
 * put them there, null for one pooled before 028 recorded it) to `until` (the night the feed took them
 * out, when they no longer were). The pool a member is in now stays on `members` (`pool_id`,
 * `pool_since`), which the pool's clock and the mailings read; only the stays that ended come here, as the
 * feed ends them. A late earning gave back a pool's inactivity expiry only if the member was in that pool
 * today, so one who had left it since (or left and come back, with a later `pool_since`) brought back
 * nothing of what the pool lost on a night their activity showed it active, and their earning went to
 * whatever account they had now, not to the pool they earned it in.
 *
 * Before this migration no stay that ended was recorded: the table starts empty, and members' current
 * pools are where they were. No personal data: the reporting role reads it, as it reads `pool_id`.
 *
 * Down drops the table, losing only the stays that ended since, which nothing before it can hold; the
 * ledger keeps every point, lot and transfer, and each member's current pool stays on `members`.
 */
import type { Knex } from 'knex';
import { ROLE as REPORTING_ROLE, reportingRoleExists } from './005_reporting_role.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('past_pool_memberships', (t) => {
    t.increments('id').primary();
    t.integer('member_id').notNullable().references('id').inTable('members');
    t.integer('pool_id').notNullable().references('id').inTable('pools');
    t.date('since').nullable();
    t.date('until').notNullable();
    // Read per member, for the members whose earnings a night credits.
    t.index(['member_id'], 'past_pool_memberships_member');
  });
  if (knex.client.config.client === 'pg' && (await reportingRoleExists(knex)))
    await knex.raw(`GRANT SELECT ON past_pool_memberships TO ${REPORTING_ROLE}`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('past_pool_memberships');
}
