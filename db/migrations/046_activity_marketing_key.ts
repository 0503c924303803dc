/**
 * A codeshare coupon keeps the key its passenger has when the DCS lists the flight under the marketing
 * flight number (`detail.marketingKey`: `FLT:YY5245:…` for a coupon operated as XX245). A coupon coming
 * after such a listing found it by that key; a listing coming after the coupon could not find the coupon,
 * whose key is the operating flight's, without reading every activity's detail: it became a flight of its
 * own, and was credited once the coupon had been voided, refunded or exchanged. The key now has a column
 * of its own, kept by every write of the detail, and an index holding only the coupons that have one.
 *
 * Up fills it from the detail of the coupons stored before. Down drops it: the detail still holds every
 * key, so nothing is lost.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('activities', (t) => {
    t.string('marketing_key', 200).nullable();
  });
  // The index before the rows are filled: built after updates in the same transaction, PostgreSQL marks
  // it usable only by transactions that start after every one running now has ended (broken HOT chains),
  // so a busy database would read the archive whole until then.
  await knex.raw(
    'CREATE INDEX activities_marketing_key ON activities (marketing_key) WHERE marketing_key IS NOT NULL',
  );
  // The detail is JSON text on both engines, written by JSON.stringify: the LIKE only narrows the rows.
  const value =
    knex.client.config.client === 'pg'
      ? "detail::json ->> 'marketingKey'"
      : "json_extract(detail, '$.marketingKey')";
  await knex.raw(`UPDATE activities SET marketing_key = ${value} WHERE detail LIKE '%"marketingKey"%'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX activities_marketing_key');
  await knex.schema.alterTable('activities', (t) => {
    t.dropColumn('marketing_key');
  });
}
