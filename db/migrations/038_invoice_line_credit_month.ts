/**
 * A partner's reversal of a credit billed in an earlier month was netted into the month's own credits of
 * its activity type and contract and priced at the contract's price now: after a repricing the partner
 * was credited back more (or less) than it had paid. Such reversals are now a line of their own, priced
 * at what the credit's month billed, and a line of the kind must stay apart from the month's own credits
 * when the month is adjusted after delivery, so each kept line says which earlier month's credits it
 * takes back (`invoice_lines.credit_month`, YYYY-MM; null for a line of the month's own activity, as
 * every line kept before this migration is).
 *
 * Down refuses (MIGRATION_WOULD_LOSE_DATA) while a kept line has a credit month: the code of before would
 * read it as the month's own credits and bill an adjustment of the month a difference it never had.
 */
import type { Knex } from 'knex';
import { RedeyeError } from '../../lib/errors.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('invoice_lines', (t) => {
    t.string('credit_month', 7).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  const kept = (await knex('invoice_lines as l')
    .join('invoice_numbers as n', 'n.id', 'l.invoice_number_id')
    .whereNotNull('l.credit_month')
    .orderBy(['n.invoice_number', 'l.line'])
    .select('n.invoice_number', 'l.line', 'l.credit_month')) as Array<{
    invoice_number: string;
    line: number | string;
    credit_month: string;
  }>;
  if (kept.length > 0) {
    const shown =
      kept
        .slice(0, 5)
        .map((r) => `${r.invoice_number} line ${Number(r.line)} (${r.credit_month})`)
        .join(', ') + (kept.length > 5 ? ` and ${kept.length - 5} more` : '');
    throw new RedeyeError(
      'MIGRATION_WOULD_LOSE_DATA',
      `rolling back 038_invoice_line_credit_month would lose which earlier month's credits ${kept.length} kept invoice line(s) take back (${shown}), and an adjustment of their month would then bill a difference it never had; remove those invoice_lines first if that is meant`,
      { table: 'invoice_lines' },
    );
  }
  // Plain DROP COLUMN on both engines, as 025 and 024: knex would rebuild the SQLite table.
  await knex.raw('ALTER TABLE invoice_lines DROP COLUMN credit_month');
}
