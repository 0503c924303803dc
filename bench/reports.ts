/**
 * `npm run bench -- reports`: the monthly report over a SQLite ledger of 10,000,000 entries.
 *
 * The ledger is built with set-based SQL (recursive CTEs, INSERT … SELECT), consistent with the schema
 * and with `ledger check`: postings with two entries each over two years, in blocks of twenty per
 * member and day — seventeen accruals from own flights, partner airlines and partners (each with its
 * lot), two redemptions and an expiry that use up the block's first three lots exactly, and in every
 * tenth block a reversal of an accrual in place of one accrual — plus account balances, activities for
 * the last two months (routes and partners) and tier events.
 *
 * Then, in a child process of its own (so its peak RSS is the report's, not the build's), it times one
 * bare aggregate query over the same entries — amounts by account kind and month, the floor — then the
 * whole monthly report, then the floor again, and prints the ratio against the faster floor in wall
 * and CPU seconds. Target: the report within 5× the floor, peak RSS under 1 GB. Each of the report's
 * steps (its reads of the ledger, its charts, its workbook) is timed too and printed in floors, so a
 * slower report shows which step grew.
 *
 * Options: --entries N (default 10,000,000), --members N (200,000), --month YYYY-MM (2026-05),
 * --keep (leave the database in place and print its path).
 */
import { fork } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { openDb, sqliteHandle } from '../db/connection.js';
import { migrateLatest } from '../db/migrate.js';
import { SERVICE_TYPES } from '../ledger/accounts.js';
import { addMonths, endOfMonth, type IsoDate } from '../lib/dates.js';
import { parseConfig } from '../config/load.js';
import { MONTHLY_STEP_NAMES, monthlyReport } from '../reports/monthly.js';
import type { Progress } from '../jobs/types.js';
import { fmt, intOption, line, option, peakRssMb, tempDir, timed } from './util.js';

const FLOOR_SQL = `SELECT a.kind AS kind, substr(e.business_date, 1, 7) AS month, SUM(e.amount) AS total
  FROM entries e JOIN accounts a ON a.id = e.account_id GROUP BY 1, 2`;

const AIRPORTS = ['DME', 'SVO', 'LED', 'AER', 'KZN', 'OVB', 'FRA', 'IST', 'DXB', 'SVX', 'KRR', 'MRV'];

interface Measured {
  floorSeconds: number[];
  floorCpu: number[];
  reportSeconds: number;
  /** Wall seconds of each of the report's steps, in `MONTHLY_STEP_NAMES` order. */
  stepSeconds: number[];
  reportCpu: number;
  peakRssMb: number;
  sheetsClosing: string;
}

/** Builds the ledger; returns the number of entries written. */
async function build(path: string, entries: number, members: number, month: string): Promise<number> {
  const db = openDb(`sqlite:${path}`);
  await migrateLatest(db);
  const conn = await sqliteHandle(db.knex);
  conn.pragma('synchronous = OFF');
  conn.pragma('cache_size = -262144');
  const postings = Math.floor(entries / 2 / 20) * 20;
  const blocks = postings / 20;
  const last: IsoDate = endOfMonth(`${month}-01`);
  const first: IsoDate = `${addMonths(`${month}-01`, -23)}`;
  const days = Math.round((Date.parse(last) - Date.parse(first)) / 86_400_000) + 1;
  const created = '2026-01-01T00:00:00.000Z';
  const run = (sql: string, ...params: unknown[]) => conn.prepare(sql).run(...params);

  conn.transaction(() => {
    run(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
       INSERT INTO members (number, status, tier, enrolment_date, surname, given_name, created_at)
       SELECT printf('%010d', 1000000000 + i), 'ACTIVE',
              CASE WHEN i % 50 = 0 THEN 'PLATINUM' WHEN i % 10 = 0 THEN 'GOLD' WHEN i % 4 = 0 THEN 'SILVER' ELSE 'MEMBER' END,
              date(?, '-' || (i % 900) || ' days'), 'Member', 'Bench', ? FROM n`,
      members,
      first,
      created,
    );
    const system = [
      ['OWN_FLIGHTS', 'OWN_FLIGHTS', null, null],
      ...['LH', 'GRANDSTAY', 'DRIVE', 'REDBANK'].map((p) => [`PARTNER:${p}`, 'PARTNER', p, null]),
      ...SERVICE_TYPES.map((s) => [`REDEMPTION:${s}`, 'REDEMPTION', null, s]),
      ['EXPIRY', 'EXPIRY', null, null],
    ];
    const insertSystem = conn.prepare(
      `INSERT INTO accounts (code, kind, unit, partner_code, service_type, tracks_lots, may_go_negative, balance, created_at)
       VALUES (?, ?, 'PTS', ?, ?, 0, 1, 0, ?)`,
    );
    for (const [code, kind, partner, service] of system)
      insertSystem.run(code, kind, partner, service, created);
    run(
      `INSERT INTO accounts (code, kind, unit, member_id, tracks_lots, may_go_negative, balance, created_at)
       SELECT 'MEMBER:' || number || ':PTS', 'MEMBER_POINTS', 'PTS', id, 1, 0, 0, ? FROM members ORDER BY id`,
      created,
    );
  })();
  const offset = (
    conn.prepare("SELECT MIN(id) - 1 AS o FROM accounts WHERE kind = 'MEMBER_POINTS'").get() as { o: number }
  ).o;

  // Posting i (from 0) is at position i % 20 of block i / 20; its id is i + 1.
  const pos = '(i % 20)';
  const block = '(i / 20)';
  const isReversal = `(${pos} = 16 AND ${block} % 10 = 0)`;
  const kind = `CASE WHEN ${isReversal} THEN 'REVERSAL' WHEN ${pos} < 17 THEN 'ACCRUAL' WHEN ${pos} < 19 THEN 'REDEMPTION' ELSE 'EXPIRY' END`;
  const accrualChannel = (j: string) =>
    `CASE (${j}) % 10 WHEN 6 THEN 'PARTNER_AIRLINE:LH' WHEN 7 THEN 'PARTNER:GRANDSTAY' WHEN 8 THEN 'PARTNER:DRIVE' WHEN 9 THEN 'PARTNER:REDBANK' ELSE 'OWN_FLIGHTS' END`;
  const services = SERVICE_TYPES.map((s, k) => `WHEN ${k} THEN 'REDEMPTION:${s}'`).join(' ');
  const channel = `CASE WHEN ${isReversal} THEN ${accrualChannel(`${block} + 3`)} WHEN ${pos} < 17 THEN ${accrualChannel(`${block} + ${pos}`)}
    WHEN ${pos} < 19 THEN CASE (${block} + ${pos}) % 8 ${services} END ELSE 'EXPIRY' END`;
  const day = `date('${first}', '+' || (${block} * ${days} / ${blocks}) || ' days')`;
  conn.transaction(() => {
    run(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
       INSERT INTO postings (id, kind, business_date, idempotency_key, content_hash, member_id, channel, activity_date,
                             reversal_of, created_at)
       SELECT i + 1, ${kind}, ${day}, printf('B%010d', i), '${'0'.repeat(64)}', (${block} * 7919) % ? + 1, ${channel}, ${day},
              CASE WHEN ${isReversal} THEN i - 13 + 1 END, ?
         FROM n`,
      postings,
      members,
      created,
    );
  })();

  // The amount of posting id p: an accrual's own; a redemption or expiry takes the lot of position − 17; a
  // reversal undoes position 3.
  const amountOf = (idExpr: string) => `(100 + ((${idExpr} - 1) * 37) % 1900)`;
  const amount = `CASE WHEN p.kind = 'ACCRUAL' THEN ${amountOf('p.id')} WHEN p.kind = 'REVERSAL' THEN ${amountOf('p.id - 13')} ELSE ${amountOf('p.id - 17')} END`;
  const memberSign = "CASE WHEN p.kind = 'ACCRUAL' THEN 1 ELSE -1 END";
  conn.transaction(() => {
    run(
      `INSERT INTO entries (posting_id, account_id, amount, business_date)
       SELECT p.id, p.member_id + ?, ${memberSign} * ${amount}, p.business_date FROM postings p ORDER BY p.id`,
      offset,
    );
    run(
      `INSERT INTO entries (posting_id, account_id, amount, business_date)
       SELECT p.id, a.id, -${memberSign} * ${amount}, p.business_date
         FROM postings p JOIN accounts a
           ON a.code = CASE WHEN p.channel LIKE 'PARTNER_AIRLINE:%' THEN 'PARTNER:' || substr(p.channel, 17) ELSE p.channel END
        ORDER BY p.id`,
    );
    // Lots: the block's positions 0–2 are used up by its redemptions and expiry; position 3 is reversed in every tenth block.
    run(
      `INSERT INTO lots (account_id, amount, remaining, earned_on, expires_on, origin_posting_id)
       SELECT p.member_id + ?, ${amountOf('p.id')},
              CASE WHEN (p.id - 1) % 20 < 3 OR ((p.id - 1) % 20 = 3 AND ((p.id - 1) / 20) % 10 = 0) THEN 0 ELSE ${amountOf('p.id')} END,
              p.business_date, date(p.business_date, 'start of month', '+37 months', '-1 day'), p.id
         FROM postings p WHERE p.kind = 'ACCRUAL' ORDER BY p.id`,
      offset,
    );
    run(
      `INSERT INTO lot_movements (lot_id, posting_id, amount)
       SELECT l.id, p.id, -l.amount FROM postings p
         JOIN lots l ON l.origin_posting_id = CASE WHEN p.kind = 'REVERSAL' THEN p.reversal_of ELSE p.id - 17 END
        WHERE p.kind IN ('REDEMPTION', 'EXPIRY', 'REVERSAL') ORDER BY p.id`,
    );
    run(
      `UPDATE accounts SET balance = COALESCE((SELECT SUM(amount) FROM entries WHERE account_id = accounts.id), 0)`,
    );
  })();

  // Activities of the last two months: a flight with its route for each own-flight accrual, a partner
  // record for each partner accrual; and tier movements in the report month.
  const from = `${addMonths(`${month}-01`, -1)}`;
  conn.transaction(() => {
    run(
      `INSERT INTO activities (activity_key, type, member_number, member_id, activity_date, business_date, channel,
                               partner_code, activity_type, carrier, flight_number, origin, destination, cabin,
                               base_spend_minor, status, points, posting_key, posting_id, needs_accrual, updated_at)
       SELECT 'A:' || p.idempotency_key,
              CASE WHEN p.channel = 'OWN_FLIGHTS' THEN 'FLIGHT' WHEN p.channel LIKE 'PARTNER_AIRLINE:%' THEN 'PARTNER_FLIGHT' ELSE 'PARTNER' END,
              m.number, p.member_id, p.business_date, p.business_date, p.channel,
              CASE WHEN p.channel LIKE 'PARTNER:%' THEN substr(p.channel, 9) WHEN p.channel LIKE 'PARTNER_AIRLINE:%' THEN substr(p.channel, 17) END,
              CASE WHEN p.channel LIKE 'PARTNER:%' THEN 'SPEND' END,
              CASE WHEN p.channel = 'OWN_FLIGHTS' THEN 'XX' END, CASE WHEN p.channel = 'OWN_FLIGHTS' THEN (p.id % 400) END,
              CASE WHEN p.channel <> 'PARTNER:GRANDSTAY' THEN ${airportCase('p.id % 12')} END,
              CASE WHEN p.channel <> 'PARTNER:GRANDSTAY' THEN ${airportCase('(p.id / 12 + 1 + p.id % 12) % 12')} END,
              CASE WHEN p.id % 9 = 0 THEN 'C' ELSE 'Y' END,
              10000 + p.id % 90000, 'POSTED', ${amountOf('p.id')}, p.idempotency_key, p.id, 0, ?
         FROM postings p JOIN members m ON m.id = p.member_id
        WHERE p.business_date >= ? AND p.kind = 'ACCRUAL'`,
      created,
      from,
    );
    run(
      `INSERT INTO tier_events (event_key, member_id, business_date, from_tier, to_tier, direction, qualification, created_at)
       SELECT 'T:' || id, id, date(?, '+' || (id % 28) || ' days'), 'MEMBER', 'SILVER', 'UP', 100000, ?
         FROM members WHERE id % 97 = 0`,
      `${month}-01`,
      created,
    );
  })();
  const written = (conn.prepare('SELECT COUNT(*) AS n FROM entries').get() as { n: number }).n;
  await db.close();
  return written;
}

function airportCase(index: string): string {
  return `CASE ${index} ${AIRPORTS.map((a, k) => `WHEN ${k} THEN '${a}'`).join(' ')} END`;
}

/** In the child: floor, report, floor; the result goes to the parent. */
async function measure(path: string, month: string, outDir: string): Promise<Measured> {
  const example = join(import.meta.dirname, '..', '..', 'examples', 'redeye.config.yaml');
  const config = parseConfig(readFileSync(example, 'utf8'), join(outDir, 'redeye.config.yaml'), {});
  const db = openDb(`sqlite:${path}`);
  const conn = await sqliteHandle(db.knex);
  const floor = () => timed(() => conn.prepare(FLOOR_SQL).all());
  const before = await floor();
  // The report's progress marks the end of each of its steps: timing between marks tells which of its
  // reads or its workbook a change made slower, where the total alone cannot.
  const stepSeconds: number[] = [];
  let mark = process.hrtime.bigint();
  const stepTimer: Progress = {
    start: () => void (mark = process.hrtime.bigint()),
    increment: () => {
      const now = process.hrtime.bigint();
      stepSeconds.push(Number(now - mark) / 1e9);
      mark = now;
    },
    stop: () => undefined,
  };
  const report = await timed(() =>
    monthlyReport(
      db,
      config,
      endOfMonth(`${month}-01`),
      join(outDir, 'report'),
      () => new Date('2026-06-01T03:00:00Z'),
      stepTimer,
    ),
  );
  const after = await floor();
  await db.close();
  return {
    floorSeconds: [before.seconds, after.seconds],
    floorCpu: [before.cpuSeconds, after.cpuSeconds],
    reportSeconds: report.seconds,
    stepSeconds,
    reportCpu: report.cpuSeconds,
    peakRssMb: peakRssMb(),
    sheetsClosing: String(report.value.keyFigures[0]?.value ?? ''),
  };
}

export default async function run(args: string[]): Promise<void> {
  const month = option(args, 'month') ?? '2026-05';
  const measuring = option(args, 'measure');
  if (measuring !== undefined) {
    const result = await measure(measuring, month, option(args, 'out')!);
    process.send!(result);
    return;
  }
  const entries = intOption(args, 'entries', 10_000_000);
  const members = intOption(args, 'members', 200_000);
  const keep = args.includes('--keep');
  const existing = option(args, 'db');
  const dir = tempDir('reports');
  const path = existing ?? join(dir, 'ledger.sqlite');
  try {
    if (existing === undefined) {
      console.log(
        `reports benchmark: monthly report for ${month} over ${fmt(entries)} entries, ${fmt(members)} members`,
      );
      const built = await timed(() => build(path, entries, members, month));
      line('ledger built', `${fmt(built.value)} entries in ${fmt(built.seconds, 1)} s`);
    } else {
      console.log(`reports benchmark: monthly report for ${month} over the ledger in ${existing}`);
    }
    const child = fork(process.argv[1]!, ['reports', '--measure', path, '--month', month, '--out', dir], {
      stdio: 'inherit',
    });
    const result = await new Promise<Measured>((resolve, reject) => {
      child.once('message', (m) => resolve(m as Measured));
      child.once('exit', (code) => reject(new Error(`the measuring process exited with ${code}`)));
    });
    child.removeAllListeners('exit');
    const floorWall = Math.min(...result.floorSeconds);
    const floorCpu = Math.min(...result.floorCpu);
    line(
      'floor (GROUP BY kind, month)',
      `${fmt(floorWall, 2)} s wall, ${fmt(floorCpu, 2)} s CPU (faster of two runs)`,
    );
    line('monthly report', `${fmt(result.reportSeconds, 2)} s wall, ${fmt(result.reportCpu, 2)} s CPU`);
    MONTHLY_STEP_NAMES.forEach((name, i) =>
      line(
        `  ${name}`,
        `${fmt(result.stepSeconds[i] ?? 0, 2)} s (${fmt((result.stepSeconds[i] ?? 0) / floorWall, 2)} floors)`,
      ),
    );
    line(
      'ratio report / floor',
      `${fmt(result.reportSeconds / floorWall, 2)} wall, ${fmt(result.reportCpu / floorCpu, 2)} CPU (target ≤ 5)`,
    );
    line('peak RSS (report process)', `${fmt(result.peakRssMb)} MB (target < 1024)`);
    line('closing liability', `${result.sheetsClosing} points`);
    if (keep && existing === undefined) console.log(`  database kept at ${path}`);
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}
