/**
 * The daily report counts a night's rejected records several times (the Summary, the reject reasons, the
 * Files sheet, the Rejects sheet), and found those of the activities and of the retro-claims by reading
 * each table whole: neither `activities.business_date` nor `retro_claims.last_tried_on` had an index, so
 * the report slowed with every night the ledger kept. Rejected activities are a small share of the table,
 * and a partial index holds only them (the report names `status = 'REJECTED'` as a literal so that both
 * engines can use it); the retro-claims are few and read by their night in id order, as the Rejects
 * sheet pages through them.
 *
 * Indexes only: down drops them and loses nothing.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    `CREATE INDEX activities_rejected_by_night ON activities (business_date) WHERE status = 'REJECTED'`,
  );
  await knex.schema.alterTable('retro_claims', (t) => {
    t.index(['last_tried_on', 'id'], 'retro_claims_last_tried_on');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('retro_claims', (t) => {
    t.dropIndex(['last_tried_on', 'id'], 'retro_claims_last_tried_on');
  });
  await knex.raw('DROP INDEX activities_rejected_by_night');
}
