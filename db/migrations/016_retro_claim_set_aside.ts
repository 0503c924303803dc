/**
 * A retro-claim rejected and sent again under its claim id is decided afresh; its rejected copy stays with
 * its file under the id suffixed with that file's (`C-9#812`). A claim id is up to 64 characters, as its
 * column was: PostgreSQL would refuse the suffixed one, and the night with it, where SQLite (which does
 * not enforce the length) stored it. SQLite keeps its schema, as in 007.
 */
import type { Knex } from 'knex';
import { RedeyeError } from '../../lib/errors.js';

export async function up(knex: Knex): Promise<void> {
  if (knex.client.config.client === 'pg')
    await knex.raw('ALTER TABLE retro_claims ALTER COLUMN claim_id TYPE text');
}

export async function down(knex: Knex): Promise<void> {
  if (knex.client.config.client !== 'pg') return;
  // Cutting a set-aside id to 64 characters would make it another claim's id, or collide with it.
  const long = (await knex('retro_claims')
    .whereRaw('length(claim_id) > 64')
    .orderBy('id')
    .limit(5)
    .pluck('claim_id')) as string[];
  if (long.length > 0)
    throw new RedeyeError(
      'MIGRATION_WOULD_LOSE_DATA',
      `rolling back 016_retro_claim_set_aside would cut claim ids longer than 64 characters (${long.join(
        ', ',
      )}); settle or remove those retro-claims first`,
      { table: 'retro_claims', field: 'claim_id' },
    );
  await knex.raw('ALTER TABLE retro_claims ALTER COLUMN claim_id TYPE varchar(64)');
}
