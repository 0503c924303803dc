/**
 * Text that came from outside Redeye (member names, partner references, file names, reject reasons)
 * ends up in spreadsheets that people open in Excel. Two different defences apply, depending on the
 * container:
 *
 * - In an xlsx workbook a cell is typed. The workbook builder writes outside text only as a string
 *   cell (never a `{ formula }`), so `=HYPERLINK(...)` is stored as text and shown as text. `safeText`
 *   only makes the string storable: no XML-illegal characters, no more than Excel's cell limit.
 * - A CSV file has no types: Excel (and LibreOffice) decide per field, and a field that starts with a
 *   formula trigger is evaluated. `neutraliseCsvField` applies the OWASP recommendation for that.
 */

/** Excel refuses to open a workbook with a cell longer than this (characters, UTF-16 units). */
export const EXCEL_MAX_CELL_TEXT = 32_767;

/** Excel's sheet-name limit. */
export const EXCEL_MAX_SHEET_NAME = 31;

// Characters XML 1.0 cannot carry at all (C0 controls other than tab, LF and CR; U+FFFE, U+FFFF)
// and lone surrogate halves, which become U+FFFD or break the document depending on the encoder.
const XML_ILLEGAL =
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Any value as the string a text cell will hold: `null`/`undefined` become empty, characters an xlsx
 * file cannot carry are dropped, and the result is cut to Excel's cell limit (without splitting a
 * surrogate pair). It never adds an apostrophe or changes visible content otherwise: in a typed cell
 * the text is data, so `=1+1` must stay exactly `=1+1` for whoever reads the value back.
 */
export function safeText(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = (typeof value === 'string' ? value : String(value)).replace(XML_ILLEGAL, '');
  if (text.length <= EXCEL_MAX_CELL_TEXT) return text;
  const cut = text.slice(0, EXCEL_MAX_CELL_TEXT);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}

// OWASP "CSV Injection": a field whose first character is one of these is read by spreadsheet
// programs as the start of a formula (tab and CR because Excel skips them before looking).
const CSV_FORMULA_TRIGGERS = new Set(['=', '+', '-', '@', '\t', '\r']);

/**
 * A CSV text field made safe to open in a spreadsheet: when it starts with `=`, `+`, `-`, `@`, tab or
 * carriage return it gets a leading apostrophe, which Excel treats as "this is text" and hides.
 * Quoting and escaping of separators and quotes remains the CSV writer's job; this function only
 * deals with the first character.
 *
 * Apply it to text fields only, never to numeric ones. A number Redeye formats itself (an amount of
 * `-12.50`, a points correction of `-300`) starts with `-` legitimately; prefixing it would turn the
 * number into text for the partner system that parses the file, and it carries no risk because it
 * was produced from a number, not copied from someone else's input.
 */
export function neutraliseCsvField(text: string): string {
  return text.length > 0 && CSV_FORMULA_TRIGGERS.has(text[0] as string) ? `'${text}` : text;
}

/**
 * A worksheet name Excel accepts, derived from any text (for example a partner name): the characters
 * `[ ] : * ? / \` are replaced, leading and trailing apostrophes are removed (Excel rejects them), and
 * the result is cut to 31 characters; the reserved name `History` gets a suffix. Uniqueness within a workbook is the builder's concern.
 */
export function safeSheetName(name: string): string {
  const cleaned = safeText(name)
    // eslint-disable-next-line no-control-regex -- tabs and line breaks cannot be in a sheet name
    .replace(/[\u0000-\u001F]/g, ' ')
    .replace(/[[\]:*?/\\]/g, '_')
    .replace(/^'+|'+$/g, '')
    .trim();
  const cut = cleaned.slice(0, EXCEL_MAX_SHEET_NAME);
  const whole = /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
  const trimmed = whole.replace(/'+$/, '').trim();
  if (trimmed.length === 0) return 'Sheet';
  // Excel keeps "History" for its change-tracking sheet and refuses a workbook that uses it.
  return trimmed.toLowerCase() === 'history' ? `${trimmed}_` : trimmed;
}
