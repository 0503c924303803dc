/**
 * An FTL part sent again after its message completed (a DCS resending PART1 a night later under another
 * stamp) was taken for the first part of a new message: its file was held, waiting for parts that had
 * long arrived, and days later rejected INCOMPLETE_MESSAGE, so the Files and Rejects reports said a
 * credited flight's message never completed. Ingest now remembers each message it completed, with its
 * final part and where its first part came from, and seeds the next deliveries with them: such a part
 * is a duplicate, ignored and counted the night it comes (formats/ftl.md). Retention forgets them with
 * the reject texts (`retention.rejectTextDays`).
 *
 * Messages completed before this migration were never recorded and stay unknown. Down drops the table:
 * the schema before it has no place the code of then would read a completed message from.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('ftl_messages', (t) => {
    t.bigIncrements('id').primary();
    /** Flight identity of the message, as `ftl_parts.message_key`. */
    t.string('message_key', 80).notNullable().unique();
    /** The part that ended with ENDFTL: the message was parts 1 to it. */
    t.integer('final_part').notNullable();
    /** File and line of the message's first part. */
    t.integer('file_id').nullable().references('id').inTable('files');
    t.string('file_name', 255).notNullable();
    t.integer('line').notNullable();
    /** The night that completed it. */
    t.date('business_date').notNullable();
    t.index(['business_date']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('ftl_messages');
}
