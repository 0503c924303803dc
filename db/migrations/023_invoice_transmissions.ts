/**
 * A partner invoiced for the first time after its month's transmission was delivered got a statement
 * with an invoice number that no delivered transmission carried: the clearing house never saw the
 * invoice, so the partner was never billed through it. Each number now records the transmission of its
 * month that carries it (1 the first, 2… each supplementary one, with a sequence of its own), fixed when
 * the number is first put into one: a transmission still undelivered takes the late invoices, a
 * delivered one never does, and a supplement carries only the invoices no delivered one carries.
 * Numbers given before this migration are taken to be in their month's first transmission, where every
 * export put them until now; one given after that transmission was delivered (which the delivered file
 * lacks) cannot be told apart here, and stays as it was: outside what the clearing house received.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('invoice_numbers', (t) => {
    t.integer('transmission').nullable();
  });
  await knex('invoice_numbers').update({ transmission: 1 });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('invoice_numbers', (t) => {
    t.dropColumn('transmission');
  });
}
