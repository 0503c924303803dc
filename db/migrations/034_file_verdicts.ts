/**
 * The verdicts a file has had, each with the business date that set it. The registry's row holds only a
 * file's verdict now, and a daily report made again for a past date read it: an FTL part held that
 * night showed `accepted` once a later night completed its message, a name conflict an operator later
 * released or discarded showed what became of it, an export withdrawn later showed `withdrawn` — and the
 * workbook was no longer the one the analysts had. Each change of verdict now adds a row here with the
 * registry's row as the change left it (verdict, reason, counts, partner), so the report reads the one
 * that stood at the close of its date.
 *
 * Before this migration only the verdict each file has now is known: it becomes its first row, dated the
 * file's own business date (a file without one is on no report). A report made again for an earlier date
 * shows those files as before; every change from now on is dated as it happens. No personal data: the
 * reporting role reads it, as it reads `files`.
 *
 * Down drops the table, losing only the verdicts files had before their current one, which nothing
 * before it can hold; every file keeps its current verdict on `files`.
 */
import type { Knex } from 'knex';
import { ROLE as REPORTING_ROLE, reportingRoleExists } from './005_reporting_role.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('file_verdicts', (t) => {
    t.bigIncrements('id').primary();
    t.integer('file_id').notNullable().references('id').inTable('files');
    t.string('verdict', 12).notNullable();
    t.string('reason', 64).nullable();
    /** The file's counts as the change left them: the Files sheet's Records. */
    t.text('counts').nullable();
    t.string('partner_code', 32).nullable();
    /** The night that set the verdict, or the day an operator decided it. */
    t.date('business_date').notNullable();
    t.timestamp('set_at', { useTz: true }).notNullable();
    // The report reads, for each file on its sheet, the last row on or before its date.
    t.index(['file_id', 'business_date'], 'file_verdicts_file_date');
  });
  await knex.raw(
    `INSERT INTO file_verdicts (file_id, verdict, reason, counts, partner_code, business_date, set_at)
     SELECT id, verdict, reason, counts, partner_code, business_date,
            COALESCE(delivered_at, processed_at, created_at)
       FROM files WHERE business_date IS NOT NULL ORDER BY id`,
  );
  if (knex.client.config.client === 'pg' && (await reportingRoleExists(knex)))
    await knex.raw(`GRANT SELECT ON file_verdicts TO ${REPORTING_ROLE}`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('file_verdicts');
}
