/**
 * ECB euro reference rates (eurofxref daily and 90-day history files share one layout, fx-rates.md):
 * a gesmes:Envelope whose Cube/Cube[@time]/Cube[@currency,@rate] elements become `FxRate` records.
 *
 * A rate is kept as the exact decimal string the ECB published (units of the currency per one euro), so
 * conversion can use exact arithmetic and round once at the end; only redundant leading zeros are dropped.
 * Namespace prefixes are resolved, not matched, and attribute quoting (`'` or `"`) is the XML reader's
 * business, so both work.
 *
 * Reason codes
 *
 * | level  | code          | when                                                                        |
 * |--------|---------------|-----------------------------------------------------------------------------|
 * | record | MALFORMED     | a day Cube whose @time is missing or not a date (the whole day is rejected) |
 * | record | BAD_CURRENCY  | @currency missing, not an ISO 4217 code (upper case), or EUR itself         |
 * | record | BAD_RATE      | @rate missing, not a plain positive decimal, zero, or absurdly long         |
 * | record | DUPLICATE     | the same (date, currency) appears again in the file                         |
 * | file   | EMPTY_FILE    | no day Cube at all                                                          |
 * | file   | (xml-common)  | TOO_LARGE, EMPTY_FILE, BAD_ENCODING, DOCTYPE_FORBIDDEN, NOT_WELL_FORMED, TOO_DEEP, WRONG_DOCUMENT |
 * |        |               | TOO_MANY_ELEMENTS, TOO_MANY_ATTRIBUTES (the full ECB history, ~210,000 elements, is far below) |
 */
import { isIsoDate, type IsoDate } from '../lib/dates.js';
import { isCurrencyCode } from '../lib/money.js';
import type { FeedParser, ParseEvent, ParseInput } from './types.js';
import {
  attrOf,
  childOf,
  childrenOf,
  parseXmlFeed,
  sourceOf,
  textOf,
  type XmlDocument,
  type XmlFileResult,
  type XmlItem,
  type XmlParseOptions,
} from './xml-common.js';

export const GESMES_NS = 'http://www.gesmes.org/xml/2002-08-01';
export const ECB_NS = 'http://www.ecb.int/vocabulary/2002-08-01/eurofxref';

export interface FxRate {
  date: IsoDate;
  /** ISO 4217 code of the quoted currency. */
  currency: string;
  /** Units of `currency` per one euro, exact decimal string, e.g. `1.0479`. */
  rate: string;
}

// Generous bounds: the largest ECB quotes have five integer digits (IDR), the finest four decimals.
const RATE = /^([0-9]{1,12})(?:\.([0-9]{1,12}))?$/;

function canonicalRate(raw: string): string | null {
  const m = RATE.exec(raw);
  if (!m) return null;
  const int = m[1]!.replace(/^0+(?=[0-9])/, '');
  const frac = m[2];
  if (/^0*$/.test(int) && (frac === undefined || /^0*$/.test(frac))) return null;
  return frac === undefined ? int : `${int}.${frac}`;
}

function handle(doc: XmlDocument): XmlFileResult<FxRate> {
  const { root } = doc;
  const items: XmlItem<FxRate>[] = [];
  const seen = new Set<string>();
  const dates: IsoDate[] = [];
  const days = childrenOf(root, ECB_NS, 'Cube').flatMap((outer) => childrenOf(outer, ECB_NS, 'Cube'));
  days.forEach((day, d) => {
    const dayPath = 'Envelope/Cube/Cube';
    const time = attrOf(day, 'time');
    if (time === undefined || !isIsoDate(time)) {
      items.push({
        kind: 'reject',
        element: day,
        path: dayPath,
        seq: d + 1,
        field: '@time',
        reason: 'MALFORMED',
        message:
          time === undefined
            ? 'day Cube without @time'
            : `@time ${JSON.stringify(time)} is not a date YYYY-MM-DD`,
        text: time ?? sourceOf(doc, day),
      });
      return;
    }
    dates.push(time);
    const path = `${dayPath}[${d + 1}]/Cube`;
    childrenOf(day, ECB_NS, 'Cube').forEach((cube, r) => {
      const reject = (field: string, reason: string, message: string, text: string) =>
        items.push({
          kind: 'reject',
          element: cube,
          path,
          seq: r + 1,
          field,
          reason,
          message,
          text: text || sourceOf(doc, cube),
        });
      const currency = attrOf(cube, 'currency');
      const rawRate = attrOf(cube, 'rate');
      if (currency === undefined || !isCurrencyCode(currency) || currency === 'EUR') {
        const why =
          currency === undefined
            ? '@currency is missing'
            : currency === 'EUR'
              ? '@currency EUR is the base, not a quote'
              : `@currency ${JSON.stringify(currency)} is not an ISO 4217 currency code`;
        reject('@currency', 'BAD_CURRENCY', why, currency ?? '');
        return;
      }
      const rate = rawRate === undefined ? null : canonicalRate(rawRate);
      if (rate === null) {
        reject(
          '@rate',
          'BAD_RATE',
          rawRate === undefined
            ? `@rate missing for ${currency}`
            : `@rate ${JSON.stringify(rawRate)} for ${currency} is not a positive decimal`,
          rawRate ?? '',
        );
        return;
      }
      const key = `${time} ${currency}`;
      if (seen.has(key)) {
        reject('@currency', 'DUPLICATE', `${currency} on ${time} appears earlier in this file`, currency);
        return;
      }
      seen.add(key);
      items.push({ kind: 'record', element: cube, path, seq: r + 1, record: { date: time, currency, rate } });
    });
  });
  const sorted = [...dates].sort();
  const meta: Record<string, unknown> = {
    days: days.length,
    firstDate: sorted[0],
    lastDate: sorted[sorted.length - 1],
    subject: textOf(childOf(root, GESMES_NS, 'subject')),
    sender: textOf(childOf(childOf(root, GESMES_NS, 'Sender'), GESMES_NS, 'name')),
  };
  if (days.length === 0)
    return { items, refusal: { reason: 'EMPTY_FILE', message: 'no Cube with @time in the document' }, meta };
  return { items, meta };
}

/** The FX parser; its options may lower the XML node limits (tests do). */
interface FxFeedParser extends FeedParser<FxRate> {
  parse(inputs: ParseInput[], options?: XmlParseOptions): AsyncIterable<ParseEvent<FxRate>>;
}

export const fxParser: FxFeedParser = {
  feed: 'fx',
  parse(inputs: ParseInput[], options?: XmlParseOptions): AsyncIterable<ParseEvent<FxRate>> {
    return parseXmlFeed({ feed: 'fx', root: { ns: GESMES_NS, name: 'Envelope' }, handle }, inputs, options);
  },
};
