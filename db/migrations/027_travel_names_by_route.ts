/**
 * A retro-claim by flight is matched against the day's passengers of its route: a codeshare's marketing
 * flight, which the member may claim by, is kept in the row's detail, out of reach of the (carrier,
 * flight number, date, origin) index. Through 009's partial index on the flights that keep their names,
 * by date alone, each claim read every named passenger of its day, on every route. The index keeps its
 * rows and its predicate, and orders them by route within the day: a claim reads its route's passengers,
 * retention's range over dates reads it as before, and no other index is kept up on each insert.
 *
 * Down puts 009's index back as it was; an index holds nothing to lose.
 */
import type { Knex } from 'knex';

const PREDICATE = 'travel_surname IS NOT NULL OR travel_given_name IS NOT NULL';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    `CREATE INDEX activities_travel_names_by_route ON activities (activity_date, origin, destination)
      WHERE ${PREDICATE}`,
  );
  await knex.raw('DROP INDEX activities_travel_names_by_date');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(
    `CREATE INDEX activities_travel_names_by_date ON activities (activity_date) WHERE ${PREDICATE}`,
  );
  await knex.raw('DROP INDEX activities_travel_names_by_route');
}
