/**
 * ECB euro reference rates (formats/fx-rates.md): the daily file for each TARGET working day, published
 * in the afternoon and fetched the night of that day, and on the first night a history file covering the
 * months the demo's history reaches back to (the ECB publishes the same layout as eurofxref-hist).
 *
 * Values wander from plausible 2025 levels by a small mean-reverting random walk, the lira drifting down
 * as it does. The rouble is absent, as it has been from the ECB's list since March 2022.
 */
import { addDays, type IsoDate } from '../lib/dates.js';
import { isTargetDay } from '../rules/fx.js';
import type { NightWriter } from './out.js';
import { Random } from './random.js';

/** Currency, level in units per euro, decimals the ECB quotes it with, daily drift. */
const CURRENCIES: ReadonlyArray<readonly [string, number, number, number]> = [
  ['USD', 1.085, 4, 0],
  ['JPY', 162.4, 2, 0],
  ['CZK', 25.12, 3, 0],
  ['DKK', 7.4605, 4, 0],
  ['GBP', 0.8552, 5, 0],
  ['HUF', 395.1, 2, 0],
  ['PLN', 4.281, 4, 0],
  ['RON', 4.9741, 4, 0],
  ['SEK', 11.32, 4, 0],
  ['CHF', 0.9412, 4, 0],
  ['ISK', 150.1, 1, 0],
  ['NOK', 11.61, 4, 0],
  ['TRY', 38.2, 4, 0.0006],
  ['AUD', 1.652, 4, 0],
  ['BRL', 6.21, 4, 0],
  ['CAD', 1.497, 4, 0],
  ['CNY', 7.852, 4, 0],
  ['HKD', 8.448, 4, 0],
  ['IDR', 17520, 2, 0],
  ['ILS', 3.952, 4, 0],
  ['INR', 92.1, 4, 0],
  ['KRW', 1481, 2, 0],
  ['MXN', 20.52, 4, 0],
  ['MYR', 4.853, 4, 0],
  ['NZD', 1.802, 4, 0],
  ['PHP', 62.1, 3, 0],
  ['SGD', 1.452, 4, 0],
  ['THB', 38.05, 3, 0],
  ['ZAR', 20.31, 4, 0],
];

export type RateTable = Map<IsoDate, Array<[string, string]>>;

export function rateTable(seed: number, from: IsoDate, to: IsoDate): RateTable {
  const random = Random.stream(seed, 'fx');
  const level = CURRENCIES.map(([, base]) => Math.log(base));
  const table: RateTable = new Map();
  let t = 0;
  for (let d = from; d <= to; d = addDays(d, 1), t++) {
    CURRENCIES.forEach(([, base, , drift], i) => {
      // Pulled back towards a level that itself drifts (the lira loses a little every day).
      const target = Math.log(base) + drift * t;
      level[i] = level[i]! + 0.03 * (target - level[i]!) + random.gaussian() * 0.0035;
    });
    if (!isTargetDay(d)) continue;
    table.set(
      d,
      CURRENCIES.map(
        ([code, , decimals], i) => [code, Math.exp(level[i]!).toFixed(decimals)] as [string, string],
      ),
    );
  }
  return table;
}

function envelope(days: Array<[IsoDate, Array<[string, string]>]>): string {
  const cubes = days
    .map(
      ([date, rates]) =>
        `\t\t<Cube time='${date}'>\n${rates.map(([c, r]) => `\t\t\t<Cube currency='${c}' rate='${r}'/>\n`).join('')}\t\t</Cube>\n`,
    )
    .join('');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">\n' +
    '\t<gesmes:subject>Reference rates</gesmes:subject>\n' +
    '\t<gesmes:Sender>\n\t\t<gesmes:name>European Central Bank</gesmes:name>\n\t</gesmes:Sender>\n' +
    `\t<Cube>\n${cubes}\t</Cube>\n` +
    '</gesmes:Envelope>\n'
  );
}

export function writeFxNights(options: {
  seed: number;
  writer: NightWriter;
  historyFrom: IsoDate;
  days: readonly IsoDate[];
}): void {
  const { writer, days } = options;
  const first = days[0]!;
  const table = rateTable(options.seed, addDays(options.historyFrom, -60), days[days.length - 1]!);
  // Newest first, as the ECB's history file lists them.
  const history = [...table].filter(([d]) => d >= addDays(options.historyFrom, -10) && d < first).reverse();
  const historyRates = history.reduce((s, [, r]) => s + r.length, 0);
  writer.write(first, 'fx', `eurofxref-hist-${first.replace(/-/g, '')}.xml`, envelope(history), {
    records: historyRates,
    note: `reference rates ${history[history.length - 1]?.[0]} to ${history[0]?.[0]}: the history the demo's first night converts with`,
  });
  for (const date of days) {
    const today = table.get(date);
    if (!today) continue;
    writer.write(date, 'fx', `eurofxref-daily-${date.replace(/-/g, '')}.xml`, envelope([[date, today]]), {
      records: today.length,
    });
  }
}
