/**
 * A partner's month that changed after its invoice was delivered (a reversal or a late credit posted
 * into the month by a rerun of one of its nights) was rebuilt from the ledger, found to differ from the
 * delivered transmission, and only reported `drifted`: the difference was billed to no one. It is now
 * billed as an adjustment document of its own, an `Invoice` or a `CreditNote` of points now minus points
 * delivered, which needs two facts kept:
 *
 * - what each document carried when its transmission was written (`invoice_lines`, one row per line as
 *   written): the ledger says what the month holds now, not what the clearing house received, so the
 *   delivered figures cannot be recomputed once the month has changed. A delivered document is rebuilt
 *   from its lines, so its transmission and statement stay byte for byte what was sent;
 *   Each line keeps the currency and buyer of its document as written: a partner's billing identity may
 *   change after delivery, and an adjustment in another currency or to another buyer would not correct
 *   the document delivered;
 * - an adjustment's own invoice number (`invoice_numbers.adjusts`: the partner's invoice of the month it
 *   adjusts; null for that invoice itself). A partner now holds one invoice number a month and any number
 *   of adjustment numbers, so the one-number-per-partner index holds for invoices only.
 *
 * Documents delivered before this migration have no lines: a re-export reads them back from the
 * delivered transmission's copy where that writes the document's `<Invoice>` again byte for byte, and
 * keeps them then; one whose copy is gone (or of a format before 021) and whose month had already changed
 * cannot be told apart from what was sent, and stays `drifted`.
 *
 * Down refuses (MIGRATION_WOULD_LOSE_DATA) while an adjustment number is given (a partner holds it, and
 * the index of before allows one number a partner) or a document's lines are kept (the figures delivered
 * could not be read back, and a changed month would drift again unbilled).
 */
import type { Knex } from 'knex';
import { RedeyeError } from '../../lib/errors.js';
import { ROLE as REPORTING_ROLE, reportingRoleExists } from './005_reporting_role.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('invoice_numbers', (t) => {
    t.string('adjusts', 32).nullable();
  });
  await knex.schema.alterTable('invoice_numbers', (t) => {
    t.dropUnique(['issuer', 'billing_month', 'partner_code'], 'invoice_numbers_partner');
  });
  await knex.raw(
    'CREATE UNIQUE INDEX invoice_numbers_partner ON invoice_numbers (issuer, billing_month, partner_code) WHERE adjusts IS NULL',
  );
  await knex.schema.createTable('invoice_lines', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('invoice_number_id').notNullable().references('id').inTable('invoice_numbers');
    /** LineItemNumber. */
    t.integer('line').notNullable();
    t.string('activity_type', 32).notNullable();
    /** The contract or partner-airline chart that priced the line. */
    t.string('contract_id', 64).notNullable();
    t.string('charge_code', 25).notNullable();
    t.string('description', 255).notNullable();
    /** Net points credited on the partner's behalf: negative on a line of net reversals. */
    t.bigInteger('points').notNullable();
    /** Exact decimal, the billing currency per point. */
    t.string('price_per_point', 32).notNullable();
    t.integer('detail_count').notNullable();
    /**
     * The document's header as written, which the line's figures are in and billed to: an adjustment of
     * the document is only in the same currency to the same buyer, whatever the configuration says now.
     */
    t.string('currency', 3).notNullable();
    t.string('buyer_id', 64).notNullable();
    t.unique(['invoice_number_id', 'line'], { indexName: 'invoice_lines_line' });
  });
  // What partners were billed, no personal data: the monthly report's readers reconcile it (015's grant
  // of the whole invoice_numbers table covers `adjusts`).
  if (knex.client.config.client === 'pg' && (await reportingRoleExists(knex)))
    await knex.raw(`GRANT SELECT ON invoice_lines TO ${REPORTING_ROLE}`);
}

export async function down(knex: Knex): Promise<void> {
  const adjustments = (await knex('invoice_numbers')
    .whereNotNull('adjusts')
    .orderBy(['issuer', 'billing_month', 'number'])
    .select('invoice_number', 'adjusts')) as Array<{ invoice_number: string; adjusts: string }>;
  const kept = (await knex('invoice_lines as l')
    .join('invoice_numbers as n', 'n.id', 'l.invoice_number_id')
    .groupBy('n.invoice_number')
    .orderBy('n.invoice_number')
    .select('n.invoice_number')
    .count({ lines: '*' })) as Array<{ invoice_number: string; lines: number | string }>;
  if (adjustments.length > 0 || kept.length > 0) {
    const shown = <T>(rows: T[], show: (r: T) => string) =>
      rows.slice(0, 5).map(show).join(', ') + (rows.length > 5 ? ` and ${rows.length - 5} more` : '');
    const lost = [
      adjustments.length > 0
        ? `${adjustments.length} adjustment invoice number(s) given to partners (${shown(adjustments, (r) => `${r.invoice_number} adjusting ${r.adjusts}`)})`
        : null,
      kept.length > 0
        ? `the lines ${kept.length} invoice(s) carried when written (${shown(kept, (r) => `${r.invoice_number}: ${Number(r.lines)}`)}), which the ledger cannot give back once a month changes`
        : null,
    ].filter((x) => x !== null);
    throw new RedeyeError(
      'MIGRATION_WOULD_LOSE_DATA',
      `rolling back 025_invoice_adjustments would lose ${lost.join('; and ')}, and a month changed after delivery would drift unbilled; copy invoice_lines and those numbers aside and remove them first if that is meant`,
      { table: adjustments.length > 0 ? 'invoice_numbers' : 'invoice_lines' },
    );
  }
  await knex.schema.dropTable('invoice_lines');
  await knex.raw('DROP INDEX invoice_numbers_partner');
  await knex.schema.alterTable('invoice_numbers', (t) => {
    t.unique(['issuer', 'billing_month', 'partner_code'], { indexName: 'invoice_numbers_partner' });
  });
  // Plain DROP COLUMN on both engines, as 024: knex would rebuild the SQLite table.
  await knex.raw('ALTER TABLE invoice_numbers DROP COLUMN adjusts');
}
