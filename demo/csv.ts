/**
 * CSV text as the project's readers expect it (RFC 4180): a field is quoted only when it holds the
 * separator, a quote or a line break, and a quote inside is doubled.
 */
export function csvField(value: string | number | null | undefined, separator = ','): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  if (text.includes(separator) || text.includes('"') || text.includes('\n') || text.includes('\r')) {
    return `"${text.replace(/"/g, '""')}"`;
  }
  return text;
}

export function csvLine(fields: ReadonlyArray<string | number | null | undefined>, separator = ','): string {
  // Most lines need no quoting: join, and fall back to field by field only when the line could need it.
  const joined = fields.join(separator);
  if (!/["\r\n]/.test(joined)) {
    let separators = 0;
    for (let at = joined.indexOf(separator); at >= 0; at = joined.indexOf(separator, at + 1)) separators++;
    if (separators === fields.length - 1) return `${joined}\n`;
  }
  let line = '';
  for (let i = 0; i < fields.length; i++) {
    if (i > 0) line += separator;
    line += csvField(fields[i], separator);
  }
  return `${line}\n`;
}

/** A decimal string with exactly two places from an integer number of hundredths (`-1205` → `-12.05`). */
export function cents(value: number): string {
  const sign = value < 0 ? '-' : '';
  const abs = Math.abs(value);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}
