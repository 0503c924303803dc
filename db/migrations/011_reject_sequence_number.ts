/**
 * A hotel names each stay by its `StayInfo/@SequenceNumber`, and its response names a rejected stay the
 * same way (ota-hotel-stay.md). A stay the reader could not read, or one repeating a reservation id, is a
 * reject rather than an activity, so the reject keeps the number the hotel gave it. Rejects recorded
 * before this migration have none: their response names them by reservation id alone, as it did.
 */
import type { Knex } from 'knex';
import { ROLE as REPORTING_ROLE, reportingRoleExists } from './005_reporting_role.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('rejects', (t) => {
    t.bigInteger('sequence_number').nullable();
  });
  // A number the hotel gave its stay is no personal data: the reporting role reads it with the line.
  if (knex.client.config.client === 'pg' && (await reportingRoleExists(knex)))
    await knex.raw(`GRANT SELECT (sequence_number) ON rejects TO ${REPORTING_ROLE}`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('rejects', (t) => {
    t.dropColumn('sequence_number');
  });
}
