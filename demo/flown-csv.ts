/**
 * The flown-coupon extract as revenue accounting writes it (formats/flown-coupons.md): the header from
 * the parser's own column list, RFC 4180 quoting, and the `#TRAILER,<count>,<sum of fare_amount>` line
 * whose figures the parser holds the file to. Shared by the demo generator and the flown-parser
 * benchmark (bench/parsers-csv.ts), so both write exactly what the parser reads.
 */
import { DecimalSum } from '../parsers/csv-common.js';
import { FLOWN_COLUMNS } from '../parsers/flown.js';
import { csvLine } from './csv.js';

export const FLOWN_HEADER: readonly string[] = FLOWN_COLUMNS.map((c) => c.name);
const FARE = FLOWN_HEADER.indexOf('fare_amount');

export class FlownCsvBuilder {
  /** Data rows written so far (the trailer's count). */
  rows = 0;
  /** Exact sum of the fare_amount of the rows written so far (the trailer's sum). */
  readonly fareSum = new DecimalSum();

  constructor(readonly delimiter: ',' | ';' = ',') {}

  header(): string {
    return `${FLOWN_HEADER.join(this.delimiter)}\n`;
  }

  /** One data row, fields in FLOWN_COLUMNS order, unquoted: quoting is done here. */
  line(fields: readonly string[]): string {
    this.rows++;
    this.fareSum.add(fields[FARE] as string);
    return csvLine(fields, this.delimiter);
  }

  trailer(): string {
    const sep = this.delimiter;
    return `#TRAILER${sep}${this.rows}${sep}${this.fareSum.toString()}\n`;
  }
}
