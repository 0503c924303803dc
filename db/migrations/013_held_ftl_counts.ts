/**
 * An FTL file held for the rest of its message used to count every passenger it held among its
 * `records`, kept or waiting, with no `held`. Ingest now keeps the two apart (records kept, `held`
 * waiting) and settles a held file by them when its message completes or expires: read in the old form,
 * a file of which nothing was kept would count its waiting passengers as kept, and be accepted where it
 * must be rejected `INCOMPLETE_MESSAGE`. A file's kept passengers are the activities archived from it;
 * the rest of its records wait. (A passenger merged into an activity another file began is counted
 * waiting: it then counts among the file's rejects if its message expires, as nothing else tells.)
 */
import type { Knex } from 'knex';

interface Counts {
  records?: number;
  held?: number;
  [other: string]: unknown;
}

const heldFtlFiles = (knex: Knex) =>
  knex('files').where({ direction: 'in', feed: 'ftl', verdict: 'held' }).select('id', 'counts');

const countsOf = (row: { counts: unknown }): Counts =>
  row.counts ? (JSON.parse(String(row.counts)) as Counts) : {};

export async function up(knex: Knex): Promise<void> {
  for (const row of await heldFtlFiles(knex)) {
    const counts = countsOf(row);
    if (counts.held !== undefined) continue;
    const read = Number(counts.records ?? 0);
    const archived = await knex('activities').where({ source_file_id: row.id }).count({ n: '*' }).first();
    const kept = Math.min(read, Number(archived?.n ?? 0));
    await knex('files')
      .where({ id: row.id })
      .update({ counts: JSON.stringify({ ...counts, records: kept, held: read - kept }) });
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const row of await heldFtlFiles(knex)) {
    const { held, ...counts } = countsOf(row);
    if (held === undefined) continue;
    await knex('files')
      .where({ id: row.id })
      .update({ counts: JSON.stringify({ ...counts, records: Number(counts.records ?? 0) + held }) });
  }
}
