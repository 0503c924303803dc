/**
 * A partner's, hotel's or partner airline's XML file answered record by record is answered in its order,
 * the records it could not read among the others. That order was the line each record starts on, which a
 * document written on one line (as many systems write XML) gives to all of them: its credited claims were
 * answered first and its unreadable ones after. Each record read from an XML document now keeps its place
 * among the document's records (`ordinal`, 1-based, the unreadable ones counted), on the activity it
 * became and on its reject alike, and answers order by line and then by it. Rows recorded before this
 * migration have none and keep the order they had: by line, activities before rejects.
 */
import type { Knex } from 'knex';
import { ROLE as REPORTING_ROLE, reportingRoleExists } from './005_reporting_role.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('activities', (t) => {
    t.integer('source_ordinal').nullable();
  });
  await knex.schema.alterTable('rejects', (t) => {
    t.integer('ordinal').nullable();
  });
  // A record's place in its file is no personal data: the reporting role reads it with the line.
  if (knex.client.config.client === 'pg' && (await reportingRoleExists(knex)))
    await knex.raw(`GRANT SELECT (ordinal) ON rejects TO ${REPORTING_ROLE}`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE rejects DROP COLUMN ordinal');
  await knex.raw('ALTER TABLE activities DROP COLUMN source_ordinal');
}
