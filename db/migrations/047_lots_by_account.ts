/**
 * A redemption spends first what a later night's expiry took from the member's lots still valid on its
 * date (`EXPIRED_LOTS_VALID_ON`). Those lots are spent or expired, so the open-lots index (`lots_open`,
 * partial on `remaining > 0`) does not hold them, and each redemption read every lot of the ledger:
 * 44 s of the demo month's 130 s of accrue. An index of each account's lots by expiry date finds them.
 *
 * An index only: down drops it and loses nothing.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE INDEX lots_by_account ON lots (account_id, expires_on)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX lots_by_account');
}
