/**
 * A tier event is recorded on the night the tiers job made it, but a review caught up after skipped
 * nights takes effect from its review date. The tier bonus of an activity credited late reads the tier
 * held on the activity's date, so each event keeps the date it took effect. Events recorded before this
 * migration took effect on their night, or are taken so.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tier_events', (t) => {
    t.date('effective_on').nullable();
  });
  await knex('tier_events').update({ effective_on: knex.ref('business_date') });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tier_events', (t) => {
    t.dropColumn('effective_on');
  });
}
