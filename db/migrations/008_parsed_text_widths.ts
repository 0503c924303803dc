/**
 * Columns as wide as what the feeds accept. PostgreSQL refused a value longer than its column, and the
 * whole night with it, where SQLite (which does not enforce the length) stored it:
 *
 * - members' names (surname, given_name and their local-script forms): the members feed accepts text of
 *   200 characters, the columns held 100;
 * - the travel names of the activity archive: 200 characters from the flown coupon and partner feeds,
 *   and no bound at all from the FTL (a name line is read up to 4096 characters) or a hotel's
 *   PersonName: text;
 * - a flown coupon's booking reference: 20 letters or digits, the column held 8;
 * - a pool's code, the members feed's group_id: 64 characters (an identifier), the column held 40.
 *
 * Values the parsers did not bound and no column should hold whole (an e-mail address, a hotel's member
 * number and reservation id) are refused by the parsers instead. SQLite keeps its schema: it stores any
 * length, and rebuilding its tables to change a declared length would gain nothing.
 */
import type { Knex } from 'knex';

/** Table, column, width before, width now (null: text). */
const WIDENED: ReadonlyArray<readonly [string, string, number, number | null]> = [
  ['members', 'surname', 100, 200],
  ['members', 'given_name', 100, 200],
  ['members', 'surname_local', 100, 200],
  ['members', 'given_name_local', 100, 200],
  ['activities', 'travel_surname', 100, null],
  ['activities', 'travel_given_name', 100, null],
  ['activities', 'pnr', 8, 20],
  ['pools', 'code', 40, 64],
];

const typeOf = (width: number | null) => (width === null ? 'text' : `varchar(${width})`);

export async function up(knex: Knex): Promise<void> {
  if (knex.client.config.client !== 'pg') return;
  for (const [table, column, , width] of WIDENED)
    await knex.raw(`ALTER TABLE ?? ALTER COLUMN ?? TYPE ${typeOf(width)}`, [table, column]);
}

export async function down(knex: Knex): Promise<void> {
  if (knex.client.config.client !== 'pg') return;
  for (const [table, column, before] of WIDENED)
    await knex.raw(`ALTER TABLE ?? ALTER COLUMN ?? TYPE varchar(${before}) USING left(??, ${before})`, [
      table,
      column,
      column,
    ]);
}
