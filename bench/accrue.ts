/**
 * `npm run bench -- accrue [--activities 1000000] [--members 100000]`: flights read from the FTL and the
 * flown-coupon extract (one archived activity per passenger, both feeds merged) go through eligibility,
 * the earning rules and posting on SQLite — award points with their lot and spend status credits per
 * activity. Judged against the ledger benchmark's bare insert loop measured in the same run (target: at
 * least 0.5 of its rate).
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { openDb, sqliteHandle, type Db } from '../db/connection.js';
import { migrateLatest } from '../db/migrate.js';
import { parseConfig } from '../config/load.js';
import { fileURLToPath } from 'node:url';
import { accrueJob } from '../jobs/accrue.js';
import { noProgress } from '../jobs/types.js';
import { silentLogger } from '../lib/log.js';
import { Accounts, describeAccount } from '../ledger/accounts.js';
import { checkLedger } from '../ledger/check.js';
import { withCheckDigit } from '../rules/check-digit.js';
import { benchBareLoop, prepareEntryAndLot } from './ledger.js';
import { fmt, intOption, line, peakRssMb, tempDir, timed } from './util.js';

const BUSINESS_DATE = '2026-11-26';
const ROUTES: Array<[string, string]> = [
  ['SVO', 'LED'],
  ['SVO', 'AER'],
  ['DME', 'KZN'],
  ['VKO', 'SVX'],
  ['LED', 'KGD'],
  ['SVO', 'FRA'],
  ['LED', 'IST'],
  ['SVO', 'CDG'],
];
const CLASSES = ['Y', 'Y', 'Y', 'B', 'M', 'H', 'K', 'C', 'J'];
const SURNAMES = [
  'IVANOV',
  'PETROV',
  'SMIRNOV',
  'KUZNETSOVA',
  'POPOV',
  'SOKOLOVA',
  'LEBEDEV',
  'NOVIKOVA',
  'MORGAN',
  'GARCIA',
];
const GIVEN = ['IVAN', 'ANNA', 'OLEG', 'ELENA', 'PAVEL', 'IRINA', 'DMITRY', 'MARIA', 'SARAH', 'LUIS'];

function member(i: number): string {
  return withCheckDigit(String(100_000_000 + i), { checkDigit: 'luhn' });
}

async function seed(db: Db, activities: number, members: number): Promise<void> {
  const conn = await sqliteHandle(db.knex);
  const now = new Date().toISOString();
  const m = conn.prepare(
    "INSERT INTO members (number, status, surname, given_name, enrolment_date, tier, created_at) VALUES (?, 'ACTIVE', ?, ?, '2020-01-01', 'MEMBER', ?)",
  );
  conn.transaction(() => {
    for (let i = 0; i < members; i++) m.run(member(i), SURNAMES[i % 10], GIVEN[i % 10], now);
  })();
  const cols =
    'activity_key, type, member_number, activity_date, business_date, channel, carrier, flight_number, origin, destination, cabin, booked_class, flown_class, ticket_number, coupon_number, coupon_status, travel_surname, travel_given_name, seen_ftl, seen_coupon, spend_minor, fare_minor, surcharge_minor, tax_minor, spend_currency, status, needs_accrual, updated_at';
  const a = conn.prepare(
    `INSERT INTO activities (${cols}) VALUES (${cols
      .split(',')
      .map(() => '?')
      .join(',')})`,
  );
  conn.transaction(() => {
    for (let i = 0; i < activities; i++) {
      const mi = i % members;
      // Each member flies a different date (and route) each time round: no two are the same flight.
      const round = Math.floor(i / members) + mi;
      const [o, d] = ROUTES[round % ROUTES.length]!;
      const cls = CLASSES[i % CLASSES.length]!;
      const flight = String(100 + (i % 400));
      const date = `2026-${String(1 + (Math.floor(round / 25) % 10)).padStart(2, '0')}-${String(1 + (round % 25)).padStart(2, '0')}`;
      const fare = 5_000 + (i % 40_000);
      const tax = 1_000 + (i % 3_000);
      a.run(
        `FLT:XX${flight}:${date}:${o}-${d}:XX:${member(mi)}:${i}`,
        'FLIGHT',
        member(mi),
        date,
        BUSINESS_DATE,
        'OWN_FLIGHTS',
        'XX',
        flight,
        o,
        d,
        cls === 'C' || cls === 'J' ? 'C' : 'Y',
        cls,
        cls,
        `555${String(i).padStart(10, '0')}`,
        1,
        'F',
        SURNAMES[mi % 10],
        GIVEN[mi % 10],
        1,
        1,
        fare + tax,
        fare,
        0,
        tax,
        'USD',
        'PENDING',
        1,
        now,
      );
    }
  })();
}

/**
 * A second floor: the rows an accrued flight writes (a posting, its four entries, a lot, a status
 * credit, the archived activity's outcome; balances and the members' last activity once per 5,000), with
 * prepared statements in one transaction, no rules, accounts made beforehand. Not the judged figure: it
 * shows how much of the gap to the ledger's bare loop is the number of rows rather than the job.
 */
async function benchAccrueRowsFloor(db: Db, members: number) {
  const conn = await sqliteHandle(db.knex);
  const now = new Date().toISOString();
  const memberIds = new Map<string, number>();
  /** Member id → the member's points account and spend status account. */
  const accountsOf = new Map<number, { points: number; status: number }>();
  let ownFlights = 0;
  let issued = 0;
  const insertAccount = conn.prepare(
    'INSERT INTO accounts (code, kind, unit, member_id, tracks_lots, may_go_negative, balance, created_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?)',
  );
  /** Opens the account a code names, as the ledger would (its kind, unit and rules follow from the code). */
  const open = (code: string, memberId: number | null = null) => {
    const d = describeAccount(code);
    return Number(
      insertAccount.run(code, d.kind, d.unit, memberId, d.tracksLots ? 1 : 0, d.mayGoNegative ? 1 : 0, now)
        .lastInsertRowid,
    );
  };
  conn.transaction(() => {
    ownFlights = open(Accounts.ownFlights);
    issued = open(Accounts.statusIssued('SPEND'));
    for (const r of conn.prepare('SELECT id, number FROM members').all() as Array<{
      id: number;
      number: string;
    }>) {
      memberIds.set(r.number, r.id);
      accountsOf.set(r.id, {
        points: open(Accounts.memberPoints(r.number), r.id),
        status: open(Accounts.memberStatus(r.number, 'SPEND'), r.id),
      });
    }
  })();
  if (memberIds.size !== members) throw new Error(`expected ${members} members, found ${memberIds.size}`);
  const read = conn.prepare(
    'SELECT id, activity_key, member_number, activity_date, spend_minor FROM activities WHERE needs_accrual = 1 AND id > ? ORDER BY id LIMIT 5000',
  );
  const insertPosting = conn.prepare(
    "INSERT INTO postings (kind, business_date, idempotency_key, content_hash, member_id, channel, activity_date, source_ref, rule_version, detail, created_at) VALUES ('ACCRUAL', ?, ?, ?, ?, 'OWN_FLIGHTS', ?, ?, 'air-2024', ?, ?)",
  );
  const { insertEntry, insertLot } = prepareEntryAndLot(conn);
  const insertCredit = conn.prepare(
    "INSERT INTO status_credits (member_id, metric, amount, activity_date, posting_id) VALUES (?, 'SPEND', ?, ?, ?)",
  );
  const writeOutcome = conn.prepare(
    "UPDATE activities SET status = 'POSTED', reason = NULL, points = ?, status_credit = ?, posting_key = ?, status_posting_key = ?, posting_id = ?, rule_version = 'air-2024', member_id = ?, base_spend_minor = ?, miles = ?, needs_accrual = 0, updated_at = ? WHERE id = ?",
  );
  const addBalance = conn.prepare('UPDATE accounts SET balance = balance + ? WHERE id = ?');
  const lastActivity = conn.prepare(
    'UPDATE members SET last_activity_date = ? WHERE id = ? AND (last_activity_date IS NULL OR last_activity_date < ?)',
  );
  const hash = '0'.repeat(16);
  let rows = 0;
  /** Every batch of the archive, in one transaction. */
  const writeAll = conn.transaction(() => {
    for (let after = 0; ;) {
      const batch = read.all(after) as Array<{
        id: number;
        activity_key: string;
        member_number: string;
        activity_date: string;
        spend_minor: number;
      }>;
      if (batch.length === 0) break;
      after = batch.at(-1)!.id;
      rows += batch.length;
      const balances = new Map<number, number>();
      const last = new Map<number, string>();
      let points = 0;
      let credits = 0;
      for (const a of batch) {
        const memberId = memberIds.get(a.member_number)!;
        const miles = 300 + (a.id % 2_000);
        const key = `${a.activity_key}:AWARD`;
        const id = Number(
          insertPosting.run(
            BUSINESS_DATE,
            key,
            hash,
            memberId,
            a.activity_date,
            a.activity_key,
            `{"basis":"${miles} mi × 1 (Y)","base":${miles},"tierBonus":0,"promotion":0,"promotions":[]}`,
            now,
          ).lastInsertRowid,
        );
        const { points: pts, status } = accountsOf.get(memberId)!;
        insertEntry.run(id, pts, miles, BUSINESS_DATE);
        insertEntry.run(id, ownFlights, -miles, BUSINESS_DATE);
        insertEntry.run(id, status, a.spend_minor, BUSINESS_DATE);
        insertEntry.run(id, issued, -a.spend_minor, BUSINESS_DATE);
        insertLot.run(pts, miles, miles, a.activity_date, '2029-12-31', id);
        insertCredit.run(memberId, a.spend_minor, a.activity_date, id);
        writeOutcome.run(miles, a.spend_minor, key, key, id, memberId, a.spend_minor, miles, now, a.id);
        balances.set(pts, (balances.get(pts) ?? 0) + miles);
        balances.set(status, (balances.get(status) ?? 0) + a.spend_minor);
        points += miles;
        credits += a.spend_minor;
        if ((last.get(memberId) ?? '') < a.activity_date) last.set(memberId, a.activity_date);
      }
      balances.set(ownFlights, -points);
      balances.set(issued, -credits);
      for (const [id, delta] of balances) addBalance.run(delta, id);
      for (const [id, date] of last) lastActivity.run(date, id, date);
    }
  });
  // As in the job's batches (db/connection.ts): the statement journal of the activity update stays in memory.
  conn.pragma('temp_store = MEMORY');
  const { seconds, cpuSeconds } = await timed(() => {
    try {
      writeAll();
    } finally {
      conn.pragma('temp_store = DEFAULT');
    }
  });
  return { seconds, cpuSeconds, rate: rows / seconds, cpuRate: rows / cpuSeconds };
}

export default async function run(args: string[]): Promise<void> {
  const activities = intOption(args, 'activities', 1_000_000);
  const members = intOption(args, 'members', 100_000);
  console.log(
    `accrue benchmark: ${fmt(activities)} flights (FTL passengers with their flown coupons) for ${fmt(members)} members`,
  );
  const dir = tempDir('accrue');
  try {
    const bareDb = openDb(`sqlite:${join(dir, 'bare.sqlite')}`);
    await migrateLatest(bareDb);
    const bare = await benchBareLoop(bareDb, activities, members);
    await bareDb.close();

    const yaml = readFileSync(
      fileURLToPath(new URL('../../examples/redeye.config.yaml', import.meta.url)),
      'utf8',
    );
    const config = parseConfig(yaml, join(dir, 'redeye.config.yaml'), {});
    const db = openDb(`sqlite:${join(dir, 'accrue.sqlite')}`);
    await migrateLatest(db);
    await seed(db, activities, members);
    const ctx = {
      db,
      config,
      logger: silentLogger,
      businessDate: BUSINESS_DATE,
      now: () => new Date(),
      progress: noProgress,
      env: {},
    };
    const { value, seconds, cpuSeconds } = await timed(() => accrueJob(ctx));
    const check = await checkLedger(db.knex);
    await db.close();
    rmSync(join(dir, 'accrue.sqlite'), { force: true });

    const floorDb = openDb(`sqlite:${join(dir, 'floor.sqlite')}`);
    await migrateLatest(floorDb);
    await seed(floorDb, activities, members);
    const floor = await benchAccrueRowsFloor(floorDb, members);
    const floorCheck = await checkLedger(floorDb.knex);
    await floorDb.close();
    const rate = activities / seconds;
    console.log('SQLite');
    line(
      'bare better-sqlite3 loop',
      `${fmt(bare.rate)} postings/s (${fmt(bare.seconds, 1)} s wall, ${fmt(bare.cpuSeconds, 1)} s CPU)`,
    );
    line('accrue job', `${fmt(rate)} activities/s (${fmt(seconds, 1)} s wall, ${fmt(cpuSeconds, 1)} s CPU)`);
    line('posted / rejected', `${fmt(value.counts.posted ?? 0)} / ${fmt(value.counts.rejected ?? 0)}`);
    for (const [k, v] of Object.entries(value.counts)) if (k.startsWith('reject.')) line(`  ${k}`, fmt(v));
    line('ledger check after the run', check.ok ? 'clean' : 'VIOLATIONS');
    line('peak RSS', `${fmt(peakRssMb())} MB`);
    const ratio = rate / bare.rate;
    line(
      'ratio accrue / bare loop (wall)',
      `${ratio.toFixed(2)} (target ≥ 0.50) ${ratio >= 0.5 ? 'MET' : 'NOT MET'}`,
    );
    line('ratio accrue / bare loop (CPU)', `${(activities / cpuSeconds / bare.cpuRate).toFixed(2)}`);
    console.log(
      "Not judged: the same bare loop writing an accrued flight's rows (11 a flight, 4 in the ledger's)",
    );
    line(
      "bare loop of accrue's rows",
      `${fmt(floor.rate)} activities/s (${fmt(floor.seconds, 1)} s wall, ${fmt(floor.cpuSeconds, 1)} s CPU), ledger check ${floorCheck.ok ? 'clean' : 'VIOLATIONS'}`,
    );
    line('ratio its rows / bare loop (wall)', (floor.rate / bare.rate).toFixed(2));
    line('ratio accrue / its rows (wall)', (rate / floor.rate).toFixed(2));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
