/**
 * A cancellation that comes before its redemption waits for it, and since this migration for no longer
 * than `redemptions.cancellationWaitDays`: the night its wait ends, its redemption not come, it is
 * rejected. That reject belongs to that night, not to the night that read the cancellation, whose report
 * went out with it waiting: `rejected_on` dates it, and any activity an earlier night reported waiting
 * and a later night rejects (one dated ahead, a flight that waited for its coupon); null for an activity
 * rejected on the night that read it, as every one was before. Each night looks for the waiting cancellations, and the daily report for
 * those waiting at the end of its date, among the cancellations only, through a partial index that holds
 * nothing else; the rejects dated so are found through another.
 */
import type { Knex } from 'knex';
import { ROLE as REPORTING_ROLE, reportingRoleExists } from './005_reporting_role.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('activities', (t) => {
    t.date('rejected_on').nullable();
  });
  await knex.raw(
    `CREATE INDEX activities_cancellations_by_date ON activities (business_date)
      WHERE type = 'REDEMPTION' AND activity_type = 'CANCEL'`,
  );
  await knex.raw(
    'CREATE INDEX activities_rejected_on ON activities (rejected_on) WHERE rejected_on IS NOT NULL',
  );
  // A date the daily report counts the reject on: no personal data.
  if (knex.client.config.client === 'pg' && (await reportingRoleExists(knex)))
    await knex.raw(`GRANT SELECT (rejected_on) ON activities TO ${REPORTING_ROLE}`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX activities_rejected_on');
  await knex.raw('DROP INDEX activities_cancellations_by_date');
  await knex.schema.alterTable('activities', (t) => {
    t.dropColumn('rejected_on');
  });
}
