/**
 * Indexes for the reports. The daily report's detail sheets page through a night's rejects in id
 * order. (Custom reports by route or cabin join postings to activities by posting id: that index is
 * in 006.)
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('rejects', (t) => {
    t.index(['business_date', 'id'], 'rejects_business_date_id');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('rejects', (t) => {
    t.dropIndex(['business_date', 'id'], 'rejects_business_date_id');
  });
}
