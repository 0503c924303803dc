/**
 * CSV as Redeye writes it to partners and to the mailing system: UTF-8 without a byte-order mark,
 * `,` separators, RFC 4180 quoting (csv-stringify) and CRLF record ends, the last record included.
 *
 * Text that came from outside Redeye (partner transaction ids, member numbers as the partner wrote them,
 * reason messages quoting a record, names, e-mail addresses) is passed through `csvText`, which applies
 * the OWASP formula-injection defence: a field starting with = + - @ tab or CR gets a leading apostrophe.
 * Numbers Redeye formats itself are written as they are: a `-300` points correction must stay a number.
 */
import { stringify } from 'csv-stringify/sync';
import { neutraliseCsvField } from '../reports/safe-text.js';

export type CsvField = string | number;

// csv-stringify quotes a field holding the record delimiter (CRLF) but not a lone LF or CR, which a
// reader would still take for a record end: those are quoted too.
const OPTIONS = { record_delimiter: '\r\n', eof: true, quoted_match: /[\r\n]/ };

/** One record, CRLF-terminated. */
export function csvRecord(fields: readonly CsvField[]): string {
  return stringify([fields.map((f) => (typeof f === 'number' ? String(f) : f))], OPTIONS);
}

/** Several records at once (cheaper than one call per record for long lists). */
export function csvRecords(rows: readonly (readonly CsvField[])[]): string {
  if (rows.length === 0) return '';
  return stringify(
    rows.map((r) => r.map((f) => (typeof f === 'number' ? String(f) : f))),
    OPTIONS,
  );
}

/** A text field from outside Redeye, made safe to open in a spreadsheet; null and undefined become empty. */
export function csvText(value: string | null | undefined): string {
  return value === null || value === undefined ? '' : neutraliseCsvField(value);
}
