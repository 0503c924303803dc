/**
 * A retro-claim rejected and sent again under its claim id is decided afresh; its rejected copy stays with
 * its file under the id suffixed with that file's (`C-9#812`). A claim id is up to 64 characters, as its
 * column was: PostgreSQL would refuse the suffixed one, and the night with it, where SQLite (which does
 * not enforce the length) stored it. SQLite keeps its schema, as in 007.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  if (knex.client.config.client === 'pg')
    await knex.raw('ALTER TABLE retro_claims ALTER COLUMN claim_id TYPE text');
}

export async function down(knex: Knex): Promise<void> {
  if (knex.client.config.client === 'pg')
    await knex.raw(
      'ALTER TABLE retro_claims ALTER COLUMN claim_id TYPE varchar(64) USING left(claim_id, 64)',
    );
}
