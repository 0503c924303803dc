/**
 * A night's TIER_CHANGE list caught up after a later night's list had mailed the member's next change
 * (the export of the 11th failed, the 12th mailed SILVER→GOLD, then the 11th's list mailed MEMBER→SILVER
 * with a new card) announced a tier the member had left. A list now takes such an event, so that no list
 * mails it, and leaves it out; `mailing_superseded` records that it did, since which list took the later
 * change first can no longer be told once both are written, and a delivered list is rebuilt from what it
 * carried.
 *
 * Every list written before this migration mailed all it took: false for every event. Down drops the
 * column, losing which events their list left out; the code before it has no place to keep that and mails
 * all a list took, so such a list rebuilt after delivery is reported drifted, its delivered file standing.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tier_events', (t) => {
    t.boolean('mailing_superseded').notNullable().defaultTo(false);
  });
}

export async function down(knex: Knex): Promise<void> {
  // Plain DROP COLUMN on both engines, as 031: knex would rebuild the SQLite table.
  await knex.raw('ALTER TABLE tier_events DROP COLUMN mailing_superseded');
}
