/**
 * A hotel names each stay by its `StayInfo/@SequenceNumber`, and its response names a rejected stay the
 * same way (ota-hotel-stay.md). A stay the reader could not read, or one repeating a reservation id, is a
 * reject rather than an activity, so the reject keeps the number the hotel gave it. Rejects recorded
 * before this migration have none: their response names them by reservation id alone, as it did.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('rejects', (t) => {
    t.bigInteger('sequence_number').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('rejects', (t) => {
    t.dropColumn('sequence_number');
  });
}
