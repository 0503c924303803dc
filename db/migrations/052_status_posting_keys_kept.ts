/**
 * A flight whose status credit was posted before its award (the FTL's qualifying miles for a class that
 * earns no points, then a coupon in a class that does) lost the status posting's key when the award was
 * posted: the activity said `status_posting_key` null and `status_credit` 0 while the `<activity>:STATUS`
 * posting stood, so a refund of its coupon took the miles back and left the status credit. Accrue now
 * keeps the key; up gives it back, with the credit's amount, to the flights still posted whose status
 * posting stands (not reversed). Flights refunded or refused before it keep the status credit their
 * reversal missed: nothing decides them again, and a migration posts nothing to the ledger.
 *
 * Down leaves the keys: they name postings that stand, as the code before it would have had them.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // `||` concatenates on both engines; the postings are found through their unique key's index.
  await knex.raw(`
    UPDATE activities
       SET status_posting_key = activity_key || ':STATUS',
           status_credit = (
             SELECT COALESCE(SUM(c.amount), 0)
               FROM postings p JOIN status_credits c ON c.posting_id = p.id
              WHERE p.idempotency_key = activities.activity_key || ':STATUS')
     WHERE type = 'FLIGHT' AND status = 'POSTED'
       AND posting_key IS NOT NULL AND status_posting_key IS NULL
       AND EXISTS (
             SELECT 1 FROM postings p
              WHERE p.idempotency_key = activities.activity_key || ':STATUS'
                AND NOT EXISTS (SELECT 1 FROM postings r WHERE r.reversal_of = p.id))`);
}

export async function down(): Promise<void> {}
