/**
 * Facts an export must read as they were when first decided, so that a file rebuilt later is the file
 * sent (a rerun compares bytes: anything read afresh makes a delivered file drift).
 *
 * Invoices. A partner invoiced for the first time after its month's transmission was delivered got a statement
 * with an invoice number that no delivered transmission carried: the clearing house never saw the
 * invoice, so the partner was never billed through it. Each number now records the transmission of its
 * month that carries it (1 the first, 2… each supplementary one, with a sequence of its own), fixed when
 * the number is first put into one: a transmission still undelivered takes the late invoices, a
 * delivered one never does, and a supplement carries only the invoices no delivered one carries.
 * Numbers given before this migration are taken to be in their month's first transmission, where every
 * export put them until now; one given after that transmission was delivered (which the delivered file
 * lacks) cannot be told apart here, and stays as it was: outside what the clearing house received.
 *
 * Survivors. partner-accrual.md's ACCOUNT_CLOSED names the surviving account of a merged member; the
 * answers read it from the member when built, so a member closed at the rejection and merged later (or
 * merged again) made a rebuilt answer differ. An activity rejected ACCOUNT_CLOSED now keeps the survivor
 * it was rejected for (none: the account was closed, not merged). Those rejected before this migration
 * keep the member's survivor of now, which is what every answer built of them so far has named. The
 * reporting role reads it, as it reads the member's (the daily report's Reject detail names it).
 *
 * Down refuses (MIGRATION_WOULD_LOSE_DATA) while either fact holds what a re-up could not give back: a
 * number in a supplementary transmission or taken out of an undelivered one (a re-up puts every number
 * in transmission 1), or a kept survivor other than the member's of now (a re-up reads that).
 */
import type { Knex } from 'knex';
import { RedeyeError } from '../../lib/errors.js';
import { ROLE as REPORTING_ROLE, reportingRoleExists } from './005_reporting_role.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('invoice_numbers', (t) => {
    t.integer('transmission').nullable();
  });
  await knex('invoice_numbers').update({ transmission: 1 });
  await knex.schema.alterTable('activities', (t) => {
    t.string('merged_into', 25).nullable();
  });
  await knex('activities')
    .where({ status: 'REJECTED', reason: 'ACCOUNT_CLOSED' })
    .update({
      merged_into: knex('members')
        .select('merged_into')
        .whereRaw('members.number = activities.member_number'),
    });
  if (knex.client.config.client === 'pg' && (await reportingRoleExists(knex)))
    await knex.raw(`GRANT SELECT (merged_into) ON activities TO ${REPORTING_ROLE}`);
}

export async function down(knex: Knex): Promise<void> {
  const placed = (await knex('invoice_numbers')
    .where((q) => q.whereNull('transmission').orWhere('transmission', '>', 1))
    .orderBy(['issuer', 'billing_month', 'number'])
    .select('invoice_number', 'transmission')) as Array<{
    invoice_number: string;
    transmission: number | string | null;
  }>;
  // What a re-up would read for each activity: the member's survivor, for an ACCOUNT_CLOSED rejection.
  const kept = (await knex('activities as a')
    .leftJoin('members as m', 'm.number', 'a.member_number')
    .whereRaw(
      `COALESCE(a.merged_into, '') <> COALESCE(CASE WHEN a.status = 'REJECTED' AND a.reason = 'ACCOUNT_CLOSED' THEN m.merged_into END, '')`,
    )
    .orderBy('a.id')
    .select('a.activity_key', 'a.merged_into', 'm.merged_into as now')) as Array<{
    activity_key: string;
    merged_into: string | null;
    now: string | null;
  }>;
  if (placed.length > 0 || kept.length > 0) {
    const shown = <T>(rows: T[], show: (r: T) => string) =>
      rows.slice(0, 5).map(show).join(', ') + (rows.length > 5 ? ` and ${rows.length - 5} more` : '');
    const lost = [
      placed.length > 0
        ? `the transmissions carrying ${placed.length} invoice number(s) (${shown(placed, (r) => `${r.invoice_number} in ${r.transmission === null ? 'none, taken out of an undelivered draft' : `transmission ${Number(r.transmission)}`}`)}), which a re-up would put in their month's first`
        : null,
      kept.length > 0
        ? `the survivor ${kept.length} rejection(s) were made for (${shown(kept, (r) => `${r.activity_key}: ${r.merged_into ?? 'none'}, the member's now ${r.now ?? 'none'}`)}), which a re-up would read from the member`
        : null,
    ].filter((x) => x !== null);
    throw new RedeyeError(
      'MIGRATION_WOULD_LOSE_DATA',
      `rolling back 021_export_facts would lose ${lost.join('; and ')}, and rebuilt invoices and answers would differ from those sent; set them as a re-up would first if that is meant`,
      { table: placed.length > 0 ? 'invoice_numbers' : 'activities' },
    );
  }
  await knex.schema.alterTable('activities', (t) => {
    t.dropColumn('merged_into');
  });
  await knex.schema.alterTable('invoice_numbers', (t) => {
    t.dropColumn('transmission');
  });
}
