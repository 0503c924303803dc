/**
 * `rows` cut into lists of at most `size`, in order; none for no rows. Statements take a bounded number
 * of parameters (SQLite 32,766, PostgreSQL 65,535), so a list of keys or rows goes in pieces. A list that
 * fits is handed back as it is, not copied.
 */
export function chunks<T>(rows: readonly T[], size: number): (readonly T[])[] {
  if (rows.length === 0) return [];
  if (rows.length <= size) return [rows];
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}
