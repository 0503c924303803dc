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
 * keep the member's survivor of now, which is what every answer built of them so far has named.
 */
import type { Knex } from 'knex';

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
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('activities', (t) => {
    t.dropColumn('merged_into');
  });
  await knex.schema.alterTable('invoice_numbers', (t) => {
    t.dropColumn('transmission');
  });
}
