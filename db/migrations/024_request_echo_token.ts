/**
 * OpenTravel (OTA_CommonTypes.xsd, OTA_PayloadStdAttributes): "When a request message includes an echo
 * token the corresponding response message MUST include an echo token with an identical value". A hotel's
 * OTA_HotelStayInfoNotifRQ carries one (`EchoToken`), and the answer is built nights later, or rebuilt on a
 * rerun, from the registry rather than the document: the registry keeps the token the request gave, for an
 * accepted document and one refused whole. Files registered before this migration have none, and their
 * answers stay as they were sent. The token is the hotel's message reference, no personal data: the
 * reporting role reads it, as 022 asks of a column added to `files`.
 *
 * Down refuses (MIGRATION_WOULD_LOSE_DATA) while a file holds a token: a re-up could not give it back,
 * and a response rebuilt then would differ from the one sent.
 */
import type { Knex } from 'knex';
import { RedeyeError } from '../../lib/errors.js';
import { ROLE as REPORTING_ROLE, reportingRoleExists } from './005_reporting_role.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('files', (t) => {
    // OpenTravel's StringLength1to128; the parser keeps no longer token (parsers/hotel.ts).
    t.string('echo_token', 128).nullable();
  });
  if (knex.client.config.client === 'pg' && (await reportingRoleExists(knex)))
    await knex.raw(`GRANT SELECT (echo_token) ON files TO ${REPORTING_ROLE}`);
}

export async function down(knex: Knex): Promise<void> {
  const kept = (await knex('files')
    .whereNotNull('echo_token')
    .orderBy('id')
    .select('id', 'name', 'echo_token')) as Array<{ id: number | string; name: string; echo_token: string }>;
  if (kept.length > 0) {
    const shown =
      kept
        .slice(0, 5)
        .map((r) => `${r.name} (id ${Number(r.id)}): ${JSON.stringify(r.echo_token)}`)
        .join(', ') + (kept.length > 5 ? ` and ${kept.length - 5} more` : '');
    throw new RedeyeError(
      'MIGRATION_WOULD_LOSE_DATA',
      `rolling back 024_request_echo_token would lose the EchoToken ${kept.length} request(s) gave (${shown}), which a re-up cannot read back, and rebuilt hotel responses would differ from those sent; clear files.echo_token first if that is meant`,
      { table: 'files' },
    );
  }
  // Plain DROP COLUMN on both engines, as 019: knex rebuilds a SQLite table to drop a column, and the
  // tables referencing `files` fail their foreign keys then.
  await knex.raw('ALTER TABLE files DROP COLUMN echo_token');
}
