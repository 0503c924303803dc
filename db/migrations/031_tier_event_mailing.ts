/**
 * The TIER_CHANGE list of a night read the tier events of that business date. An event recorded later
 * under that date (a rerun of the night with a late coupon, after its list was delivered) was in no list:
 * the rebuilt list drifted, the delivered one stood, and the next nights' lists read their own dates, so
 * the upgrade was never mailed. Each UP or DOWN event now records the list that took it
 * (`mailing_file_id`, the list's registry row), and a list takes the events not taken yet, so an event
 * recorded after its night's list was delivered goes into the next list still to be delivered.
 *
 * Seeding: every list registered before this migration read the events of its business date, so each
 * event is stamped with its night's list, and the first night after upgrading mails none of them again.
 * An event recorded after its night's list was delivered (`delivered_at`) was in no list, and is left to
 * the next one; one recorded between the list's first write and its delivery is taken as carried, since
 * a rerun of the night before delivery would have rebuilt the list with it. An event whose night has no
 * list (the kind not configured then, or its export not run yet) stays untaken, as it would be now.
 *
 * No foreign key, as `invoice_numbers.transmission`: a registry row is never deleted, and SQLite cannot
 * drop a column that one names. Down drops the column and its indexes, losing which list took each event,
 * which nothing before this migration can hold: the code before it reads each night's events by date.
 */
import type { Knex } from 'knex';
import { chunks } from '../../lib/chunks.js';

const TIER_CHANGE_LISTS = 'mailing:-:TIER_CHANGE:%';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tier_events', (t) => {
    t.bigInteger('mailing_file_id').nullable();
  });
  // What a delivered list carried, when it is rebuilt; and the events a list still has to take.
  await knex.raw('CREATE INDEX tier_events_mailing_file ON tier_events (mailing_file_id)');
  await knex.raw(
    `CREATE INDEX tier_events_not_mailed ON tier_events (business_date)
      WHERE mailing_file_id IS NULL AND direction IN ('UP', 'DOWN')`,
  );
  const lists = (await knex('files')
    .where({ direction: 'out', feed: 'mailing' })
    .andWhere('export_key', 'like', TIER_CHANGE_LISTS)
    .orderBy('id')
    .select('id', 'business_date', 'delivered_at')) as Array<{
    id: number;
    business_date: string;
    delivered_at: string | Date | null;
  }>;
  for (const list of lists) {
    const events = (await knex('tier_events')
      .where({ business_date: list.business_date })
      .whereIn('direction', ['UP', 'DOWN'])
      .whereNull('mailing_file_id')
      .select('id', 'created_at')) as Array<{ id: number; created_at: string | Date }>;
    const deliveredAt = list.delivered_at === null ? null : new Date(list.delivered_at).getTime();
    const carried = events
      .filter((e) => deliveredAt === null || new Date(e.created_at).getTime() <= deliveredAt)
      .map((e) => e.id);
    for (const part of chunks(carried, 500))
      await knex('tier_events').whereIn('id', part).update({ mailing_file_id: list.id });
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX tier_events_not_mailed');
  await knex.raw('DROP INDEX tier_events_mailing_file');
  // Plain DROP COLUMN on both engines, as 019 and 024: knex would rebuild the SQLite table.
  await knex.raw('ALTER TABLE tier_events DROP COLUMN mailing_file_id');
}
