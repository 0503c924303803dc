/**
 * A partner record or hotel stay dated on a business day whose exchange rate has not come in yet waits
 * for it (`PENDING BAD_CURRENCY`) instead of taking the day before's rate: the fx ingest decides those
 * again when it loads rates, and each night rejects those that waited past `fx.maxStaleDays`. Both look
 * for them through a partial index that holds them and nothing else, so neither reads the archive whole.
 *
 * An index only: down drops it and loses nothing.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    `CREATE INDEX activities_awaiting_rate ON activities (activity_date)
      WHERE status = 'PENDING' AND reason = 'BAD_CURRENCY' AND type IN ('PARTNER', 'HOTEL')`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX activities_awaiting_rate');
}
