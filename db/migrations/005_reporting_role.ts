/**
 * PostgreSQL only: a `redeye_reporting` role that can read the ledger, the activity aggregates and the
 * registry, but none of the members' personal columns (names, birth date, e-mail, phone, travel names,
 * the raw text of rejected lines). Analysts' tools connect as a login role granted this one. Creating a
 * role needs CREATEROLE: without it the migration says so and grants nothing, rather than failing.
 */
import type { Knex } from 'knex';

export const ROLE = 'redeye_reporting';

/** Whether the role exists: a migration run without CREATEROLE made none, and then grants nothing. */
export async function reportingRoleExists(knex: Knex): Promise<boolean> {
  const found = await knex.raw('SELECT 1 FROM pg_roles WHERE rolname = ?', [ROLE]);
  return (found as { rows: unknown[] }).rows.length > 0;
}

const WHOLE_TABLES = [
  'accounts',
  'postings',
  'entries',
  'lots',
  'lot_movements',
  'status_credits',
  'pools',
  'files',
  'job_runs',
  'tier_events',
  'fx_rates',
  'sequences',
];

/** Tables holding personal data: only these columns are readable. */
const COLUMNS: Record<string, string[]> = {
  members: [
    'id',
    'number',
    'status',
    'merged_into',
    'enrolment_date',
    'enrolment_channel',
    'pool_id',
    'tier',
    'tier_since',
    'review_date',
    'last_activity_date',
    'closed_on',
    'erased_at',
    'created_at',
  ],
  activities: [
    'id',
    'activity_key',
    'type',
    'member_number',
    'member_id',
    'activity_date',
    'business_date',
    'channel',
    'partner_code',
    'activity_type',
    'service_type',
    'carrier',
    'flight_number',
    'origin',
    'destination',
    'cabin',
    'booked_class',
    'flown_class',
    'coupon_status',
    'seen_ftl',
    'seen_coupon',
    'miles',
    'spend_minor',
    'spend_currency',
    'base_spend_minor',
    'status',
    'reason',
    'points',
    'status_credit',
    'posting_key',
    'rule_version',
    'source_file_id',
    'updated_at',
  ],
  rejects: [
    'id',
    'file_id',
    'feed',
    'line',
    'path',
    'field',
    'reason',
    'record_ref',
    'business_date',
    'created_at',
  ],
  alliance_claims: [
    'id',
    'direction',
    'partner_code',
    'claim_id',
    'business_date',
    'file_id',
    'status',
    'points',
    'reason',
    'answered_on',
  ],
};

export async function up(knex: Knex): Promise<void> {
  if (knex.client.config.client !== 'pg') return;
  await knex.raw(`
    DO $$
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${ROLE}') THEN
        CREATE ROLE ${ROLE} NOLOGIN;
      END IF;
    EXCEPTION
      WHEN insufficient_privilege THEN
        RAISE NOTICE 'no CREATEROLE privilege: the ${ROLE} role was not created';
      -- Roles belong to the cluster: another database's migration created it since the check above.
      WHEN unique_violation OR duplicate_object THEN
        NULL;
    END $$;`);
  if (!(await reportingRoleExists(knex))) return;
  const schema = ((await knex.raw('SELECT current_schema() AS s')) as { rows: Array<{ s: string }> }).rows[0]!
    .s;
  await knex.raw(`GRANT USAGE ON SCHEMA ?? TO ${ROLE}`, [schema]);
  for (const table of WHOLE_TABLES) await knex.raw(`GRANT SELECT ON ?? TO ${ROLE}`, [table]);
  for (const [table, columns] of Object.entries(COLUMNS)) {
    await knex.raw(`GRANT SELECT (${columns.map(() => '??').join(', ')}) ON ?? TO ${ROLE}`, [
      ...columns,
      table,
    ]);
  }
}

export async function down(knex: Knex): Promise<void> {
  if (knex.client.config.client !== 'pg') return;
  if (!(await reportingRoleExists(knex))) return;
  for (const table of [...WHOLE_TABLES, ...Object.keys(COLUMNS)])
    await knex.raw(`REVOKE ALL ON ?? FROM ${ROLE}`, [table]);
}
