/**
 * Plain-text tables for terminal output: numbers right-aligned with thousands separators, except in the
 * columns named in `plain` — ids and line numbers, which an operator copies into another command
 * (`files show 1015`) or an editor, and which must read back as they are printed.
 */
export function table(
  headers: string[],
  rows: Array<Array<string | number>>,
  options: { plain?: readonly string[] } = {},
): string {
  const plain = headers.map((h) => options.plain?.includes(h) ?? false);
  const cells = rows.map((r) =>
    r.map((c, i) => (typeof c === 'number' ? (plain[i] ? String(c) : c.toLocaleString('en-US')) : c)),
  );
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  if (rows.length === 0) return `${fmt(headers)}\n(none)`;
  return [fmt(headers), fmt(widths.map((w) => '-'.repeat(w))), ...cells.map(fmt)].join('\n');
}
