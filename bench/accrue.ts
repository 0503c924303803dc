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
import { checkLedger } from '../ledger/check.js';
import { withCheckDigit } from '../rules/check-digit.js';
import { benchBareLoop } from './ledger.js';
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
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
