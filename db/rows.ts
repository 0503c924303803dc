/**
 * The id `.returning('id')` gives back for an inserted row: an object on PostgreSQL (a string there when
 * the column is a bigint), the bare value on SQLite. Read as a number everywhere, so a file's or a run's
 * id compares equal whichever engine wrote it.
 */
export function insertedId(row: unknown): number {
  return Number(typeof row === 'object' && row !== null ? (row as { id: unknown }).id : row);
}
