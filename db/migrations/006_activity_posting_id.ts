/**
 * The activity archive reaches its award posting by the posting's id, no longer by its key. The accrue
 * job sets `posting_key` on every flight it credits; an index on that 50-byte key takes each new entry
 * somewhere in the middle of a tree of a million, about a tenth of what an accrued flight's writes cost.
 * Posting ids only grow, so their index is appended to. The exporters and reports that join postings to
 * activities use the id; the key stays on the row, for people and for the reversal rules.
 */
import type { Knex } from 'knex';
import { ROLE as REPORTING_ROLE, reportingRoleExists } from './005_reporting_role.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('activities', (t) => {
    /** The award posting `posting_key` names (null until credited); `redeye ledger check` proves the link. */
    t.bigInteger('posting_id').nullable();
  });
  await knex.raw(
    `UPDATE activities
        SET posting_id = (SELECT p.id FROM postings p WHERE p.idempotency_key = activities.posting_key)
      WHERE posting_key IS NOT NULL`,
  );
  await knex.schema.alterTable('activities', (t) => {
    t.dropIndex(['posting_key'], 'activities_posting_key');
    t.index(['posting_id'], 'activities_posting_id');
  });
  if (knex.client.config.client === 'pg' && (await reportingRoleExists(knex)))
    await knex.raw(`GRANT SELECT (posting_id) ON activities TO ${REPORTING_ROLE}`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('activities', (t) => {
    t.dropIndex(['posting_id'], 'activities_posting_id');
    t.index(['posting_key'], 'activities_posting_key');
  });
  await knex.raw('ALTER TABLE activities DROP COLUMN posting_id');
}
