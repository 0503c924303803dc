/**
 * PostgreSQL only. The reporting role was granted `files` whole (005), which since 019 includes who
 * decided a held file (an operator's login) and the reason they typed, free text that may name a person.
 * Neither is a figure an analyst reconciles; like a reject's message they are withheld. A table-wide
 * grant cannot be narrowed column by column, so the grant becomes one on every other column: a later
 * migration adding a column to `files` grants it, as 006 and 011 do for theirs.
 */
import type { Knex } from 'knex';
import { ROLE as REPORTING_ROLE, reportingRoleExists } from './005_reporting_role.js';

const WITHHELD = ['decided_by', 'decision_reason'];

export async function up(knex: Knex): Promise<void> {
  if (knex.client.config.client !== 'pg' || !(await reportingRoleExists(knex))) return;
  const columns = (
    (await knex.raw(
      `SELECT column_name AS name FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = 'files' ORDER BY ordinal_position`,
    )) as { rows: Array<{ name: string }> }
  ).rows
    .map((r) => r.name)
    .filter((name) => !WITHHELD.includes(name));
  await knex.raw(`REVOKE SELECT ON files FROM ${REPORTING_ROLE}`);
  await knex.raw(
    `GRANT SELECT (${columns.map(() => '??').join(', ')}) ON files TO ${REPORTING_ROLE}`,
    columns,
  );
}

export async function down(knex: Knex): Promise<void> {
  if (knex.client.config.client !== 'pg' || !(await reportingRoleExists(knex))) return;
  // Revoking the table privilege also drops the column grants, which a table grant would only shadow.
  await knex.raw(`REVOKE SELECT ON files FROM ${REPORTING_ROLE}`);
  await knex.raw(`GRANT SELECT ON files TO ${REPORTING_ROLE}`);
}
