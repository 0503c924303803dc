/**
 * A clearing house takes an invoice's InvoiceNumber as its identity, and a partner may have seen its
 * number in a draft before delivery. Numbering a month's invoices by their place in the month's list gave
 * another partner's number to a partner when a late file added a partner before it on a re-export. Each
 * number is now given once, to a partner for a billing month under an issuing organization, and kept
 * here: every re-export of that month reads it back, and a partner invoiced for the first time takes the
 * next number not given. Months exported before this migration have no row; their next export numbers
 * their partners in partner-code order, as those months were numbered, and keeps those numbers from then.
 */
import type { Knex } from 'knex';
import { RedeyeError } from '../../lib/errors.js';
import { ROLE as REPORTING_ROLE, reportingRoleExists } from './005_reporting_role.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('invoice_numbers', (t) => {
    t.bigIncrements('id').primary();
    /** `exports.invoices.issuingOrganizationId` when the number was given. */
    t.text('issuer').notNullable();
    /** YYYY-MM. */
    t.string('billing_month', 7).notNullable();
    t.string('partner_code', 32).notNullable();
    /** The invoice's place in the order numbers were given that month: 1, 2, … */
    t.integer('number').notNullable();
    /** As written into InvoiceNumber and the statement: `<YYYYMM><NNNN>`. */
    t.string('invoice_number', 32).notNullable();
    /** The business date of the export that gave the number. */
    t.date('assigned_on').notNullable();
    t.unique(['issuer', 'billing_month', 'partner_code'], { indexName: 'invoice_numbers_partner' });
    t.unique(['issuer', 'billing_month', 'number'], { indexName: 'invoice_numbers_number' });
  });
  // Partner billing is what the monthly report's readers reconcile: no personal data here.
  if (knex.client.config.client === 'pg' && (await reportingRoleExists(knex)))
    await knex.raw(`GRANT SELECT ON invoice_numbers TO ${REPORTING_ROLE}`);
}

export async function down(knex: Knex): Promise<void> {
  // The numbers are what partners and the clearing house hold; nothing before 015 could give them back.
  const given = (await knex('invoice_numbers')
    .select('billing_month')
    .count({ n: '*' })
    .groupBy('billing_month')
    .orderBy('billing_month')) as Array<{ billing_month: string; n: number | string }>;
  if (given.length > 0)
    throw new RedeyeError(
      'MIGRATION_WOULD_LOSE_DATA',
      `rolling back 015_invoice_numbers would lose the invoice numbers given to partners (${given
        .map((g) => `${g.billing_month}: ${Number(g.n)}`)
        .join(', ')}), and the next export would number those months anew; ` +
        'copy the table aside and empty it first if that is meant',
      { table: 'invoice_numbers' },
    );
  await knex.schema.dropTable('invoice_numbers');
}
