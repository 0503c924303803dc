/**
 * The retention job clears, each night, the names as travelled of flights older than the claim windows
 * and the line text of old rejects. Both looked for what is left to clear among every row ever stored
 * before the cutoff: the activity archive by a full scan, the rejects through their (business date,
 * reason) index, growing with every night kept. Partial indexes hold only the rows still to be cleared,
 * so each night reads the day or two that came due, and a row leaves its index once cleared.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    `CREATE INDEX activities_travel_names_by_date ON activities (activity_date)
      WHERE travel_surname IS NOT NULL OR travel_given_name IS NOT NULL`,
  );
  await knex.raw('CREATE INDEX rejects_text_by_date ON rejects (business_date) WHERE text IS NOT NULL');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX activities_travel_names_by_date');
  await knex.raw('DROP INDEX rejects_text_by_date');
}
