/**
 * A reject's field is a path into the record, and a hotel stay's can be long:
 * `RevenueCategories/RevenueCategory[2]/RevenueDetails/RevenueDetail[3]/@Amount` is 77 characters, and
 * PostgreSQL refused the reject (and with it the night) at 64. SQLite does not enforce the length.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  if (knex.client.config.client === 'pg') await knex.raw('ALTER TABLE rejects ALTER COLUMN field TYPE text');
}

export async function down(knex: Knex): Promise<void> {
  if (knex.client.config.client === 'pg')
    await knex.raw('ALTER TABLE rejects ALTER COLUMN field TYPE varchar(64) USING left(field, 64)');
}
