/**
 * Text from outside that starts with a spreadsheet formula trigger (`=`, `+`, `-`, `@`, tab, CR) and
 * travels from the files partners send to what people open in Excel (issue 8). A night reads a members
 * file whose names are formulas, flown coupons that lift those members a tier (in files whose names are
 * formulas too), and a partner file whose transaction ids are formulas; then accrue, tiers, export and the
 * daily report run. Read back independently of the writers:
 *
 * - the daily report's workbook (openpyxl): every such text is a text cell, in the detail sheets (Tier
 *   change detail with the members' names, Reject detail with the partner's records, Files with the file
 *   names) as everywhere else; the only formulas in the workbook are the totals rows' SUMs;
 * - the CSV exports (the partner response and the TIER_CHANGE mailing list): no field starts with a
 *   trigger any more (the apostrophe defence), except numbers Redeye wrote itself.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvLine } from '../demo/csv.js';
import { accrueJob } from '../jobs/accrue.js';
import { exportJob } from '../jobs/export.js';
import { fetchJob } from '../jobs/fetch.js';
import { ingestJob } from '../jobs/ingest.js';
import { reportJob } from '../jobs/report.js';
import { tiersJob } from '../jobs/tiers.js';
import type { JobContext, JobResult } from '../jobs/types.js';
import type { FeedName } from '../parsers/types.js';
import { withCheckDigit } from '../rules/check-digit.js';
import { createWorld, type TestWorld } from './harness/context.js';
import { dumpXlsx, skipWithoutOpenpyxl, type XlsxDump } from './harness/openpyxl.js';
import { exportCopy } from './harness/files.js';

const DATE = '2026-10-02';
const TRIGGER = /^[=+\-@\t\r]/;

const MEMBERS_HEADER =
  'member_number,status,merged_into,enrolment_date,enrolment_channel,surname,given_name,surname_local,given_name_local,birth_date,email,phone,country,language,marketing_consent,group_type,group_id,updated_at';
const FLOWN_HEADER =
  'ticket_number,coupon_number,issue_date,pnr,operating_carrier,operating_flight,marketing_carrier,marketing_flight,flight_date,origin,destination,cabin,booked_rbd,flown_rbd,fare_basis,passenger_surname,passenger_given_name,passenger_type,ffp_carrier,ffp_number,fare_amount,carrier_surcharge_amount,tax_amount,currency,coupon_status,source_ref';

/** Members whose names are formulas, as a CRM export would carry them. */
const HOSTILE: Array<{ surname: string; given: string; email: string }> = [
  { surname: '=HYPERLINK("http://evil.example","click")', given: 'Eve', email: 'eve@example.com' },
  { surname: '+SMITH', given: '-ANNA', email: 'anna@example.com' },
  { surname: '@SUM(A1:A9)', given: 'Bob', email: 'bob@example.com' },
  { surname: 'Ortega', given: "=cmd|' /C calc'!A0", email: 'carl@example.com' },
];

/** Flown-coupon files named like formulas: the Files and Reject detail sheets show file names. */
const FILE_NAMES = [
  '=1+1 flown.csv',
  '+1 flown.csv',
  '-1 flown.csv',
  '@A1 flown.csv',
  '\t=1 flown.csv',
  '\r=1 flown.csv',
];

let w: TestWorld;
let skipWorkbook = false;
const numbers: string[] = [];
const results: Record<string, JobResult> = {};

function inbox(feed: FeedName): string {
  const cfg = w.config.feeds[feed]!;
  const t = w.config.transports[cfg.source]!;
  if (t.type !== 'local') throw new Error('local inbox expected');
  return join(t.root, cfg.remoteDir);
}

function coupon(i: number, couponNumber: number): string {
  const m = HOSTILE[i % HOSTILE.length]!;
  const n = numbers[i % HOSTILE.length]!;
  return csvLine([
    `958${String(7_000_000_000 + i).padStart(10, '0')}`,
    couponNumber,
    '2026-09-01',
    'HOSTIL',
    'XX',
    '101',
    'XX',
    '101',
    '2026-10-01',
    'SVO',
    'LED',
    'Y',
    'Y',
    'Y',
    'YFLEX',
    m.surname.toUpperCase(),
    m.given.toUpperCase(),
    'ADT',
    'XX',
    n,
    '1500.00',
    '0.00',
    '100.00',
    'USD',
    'F',
    `HOSTILE-${i}`,
  ]);
}

beforeAll(async () => {
  skipWorkbook = skipWithoutOpenpyxl();
  w = await createWorld('sqlite');
  const rule = w.config.program.memberNumber;
  for (let i = 0; i < HOSTILE.length; i++) numbers.push(withCheckDigit(String(300_000_000 + i), rule));
  writeFileSync(
    join(inbox('members'), 'MEMBERS_HOSTILE.csv'),
    MEMBERS_HEADER +
      '\n' +
      HOSTILE.map((m, i) =>
        csvLine([
          numbers[i],
          'ACTIVE',
          '',
          '2020-01-01',
          'WEB',
          m.surname,
          m.given,
          '',
          '',
          '1980-01-01',
          m.email,
          '',
          'ES',
          'en',
          'Y',
          '',
          '',
          '2026-10-01T10:00:00+03:00',
        ]),
      ).join(''),
  );
  FILE_NAMES.forEach((name, i) =>
    writeFileSync(join(inbox('flown'), name), FLOWN_HEADER + '\n' + coupon(i, 1)),
  );
  const d = (txn: string, i: number, surname: string) =>
    csvLine([
      'D',
      txn,
      numbers[i],
      surname,
      HOSTILE[i]!.given,
      '2026-10-01',
      'STAY',
      'GSMOW01',
      '100.00',
      'USD',
      '',
      '',
    ]);
  writeFileSync(
    join(inbox('partner'), 'GRANDSTAY_20261002_1.csv'),
    'H,GRANDSTAY,1,2026-10-02T23:40:00+03:00\n' +
      d('=1+1', 0, HOSTILE[0]!.surname) + // not a transaction id: MALFORMED, echoed back
      d('@A1', 1, HOSTILE[1]!.surname) +
      d('-2', 2, HOSTILE[2]!.surname) +
      d('GS-HOSTILE-1', 1, HOSTILE[1]!.surname) + // credited to "+SMITH"
      d('GS-HOSTILE-2', 2, '=WRONG()') + // a name that does not match: rejected by the rules
      'T,5,0,500.00\n',
  );

  for (const [name, job] of [
    ['fetch', fetchJob],
    ['ingest', ingestJob],
    ['accrue', accrueJob],
    ['tiers', tiersJob],
    ['export', exportJob],
    ['report', reportJob],
  ] as const) {
    results[name] = await job(w.ctx(DATE) as JobContext);
  }
}, 240_000);

afterAll(async () => {
  await w.cleanup();
});

async function outFiles(feed: string): Promise<Array<{ name: string; path: string }>> {
  const rows = await w.t.db.knex('files').where({ direction: 'out', feed }).select('name', 'local_path');
  return rows.map((r: { name: string; local_path: string }) => ({
    name: r.name,
    path: exportCopy(w.config, r.local_path),
  }));
}

/** Every text cell of the workbook that starts with a trigger, and every formula cell. */
function cellsOf(dump: XlsxDump) {
  const triggered: Array<{ sheet: string; at: string; value: string; type: string }> = [];
  const formulas: string[] = [];
  for (const sheet of dump.sheets) {
    for (const row of sheet.rows) {
      for (const cell of row) {
        if (cell.type === 'f') formulas.push(`${sheet.name}!${cell.coordinate} ${String(cell.value)}`);
        else if (typeof cell.value === 'string' && TRIGGER.test(cell.value))
          triggered.push({ sheet: sheet.name, at: cell.coordinate, value: cell.value, type: cell.type });
      }
    }
  }
  return { triggered, formulas };
}

describe('formula triggers from partner files never become formulas', () => {
  it('the night read the hostile files and moved the members up a tier', async () => {
    expect(results.ingest!.counts).toMatchObject({ files: 8, accepted: 8 });
    const tiers = await w.t.db.knex('members').whereIn('number', numbers).pluck('tier');
    expect(tiers).toEqual(HOSTILE.map(() => 'SILVER'));
    const rejected = await w.t.db.knex('rejects').where({ feed: 'partner' }).pluck('text');
    expect(rejected).toEqual(expect.arrayContaining(['=1+1', '@A1', '-2']));
  });

  it('daily report: every such text is a text cell, in the detail sheets too; the only formulas are SUMs', async (ctx) => {
    if (skipWorkbook) ctx.skip();
    const path = join(w.config.paths.reports, DATE, `daily-${DATE}.xlsx`);
    expect(existsSync(path)).toBe(true);
    const dump = await dumpXlsx(path, { maxRows: 2000 });
    const { triggered, formulas } = cellsOf(dump);
    for (const f of formulas) expect(f).toMatch(/ =SUM\([A-Z]+\d+:[A-Z]+\d+\)$/);
    for (const c of triggered) expect(c.type, `${c.sheet}!${c.at} ${JSON.stringify(c.value)}`).toBe('s');
    // A CR in a cell's text reads back as LF (XML normalises line ends): compare the texts that way.
    const shown = (v: string) => v.replace(/\r\n?/g, '\n');
    const texts = dump.sheets.flatMap((sheet) =>
      sheet.rows.flatMap((row) =>
        row
          .filter((c) => typeof c.value === 'string')
          .map((c) => ({ sheet: sheet.name, value: String(c.value), type: c.type })),
      ),
    );
    const where = (value: string) =>
      texts.filter((c) => c.type === 's' && shown(c.value) === shown(value)).map((c) => c.sheet);
    for (const m of HOSTILE) {
      for (const text of [m.surname, m.given].filter((t) => TRIGGER.test(t)))
        expect(where(text), text).toContain('Tier change detail');
    }
    for (const txn of ['=1+1', '@A1', '-2']) expect(where(txn), txn).toContain('Reject detail');
    for (const name of FILE_NAMES) expect(where(name), JSON.stringify(name)).toContain('Files');
  });

  it('CSV exports: no field starts with a trigger unless it is a number Redeye wrote', async () => {
    const files = [...(await outFiles('partner-response')), ...(await outFiles('mailing'))];
    expect(files.map((f) => f.name)).toEqual(
      expect.arrayContaining([
        'GRANDSTAY_20261002_1.resp.csv',
        `TIER_CHANGE_${DATE.replaceAll('-', '')}.csv`,
      ]),
    );
    const fields: string[] = [];
    for (const f of files) {
      const records = parse(readFileSync(f.path), { relax_column_count: true }) as string[][];
      for (const record of records) fields.push(...record);
    }
    for (const field of fields) {
      if (TRIGGER.test(field)) expect(field, JSON.stringify(field)).toMatch(/^-\d+(\.\d+)?$/);
    }
    // A transaction id cannot start with a trigger and be read (it must start with a letter or digit), so
    // the response quotes none back; the mailing list carries the members' names as the CRM wrote them.
    for (const text of [
      '\'=HYPERLINK("http://evil.example","click")',
      "'+SMITH",
      "'-ANNA",
      "'@SUM(A1:A9)",
      "'=cmd|' /C calc'!A0",
    ])
      expect(fields, text).toContain(text);
  });
});
