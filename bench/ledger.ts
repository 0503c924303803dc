/**
 * `npm run bench -- ledger`: posts N accrual postings (two entries and a lot each) through the ledger
 * in batches on SQLite, and in the same run times a bare better-sqlite3 loop that inserts the same rows
 * with prepared statements in one transaction — the storage floor of this machine. The judged figure
 * is the ratio of the two rates (target ≥ 0.6). With PostgreSQL available (REDEYE_BENCH_PG_URL, or the
 * local server binaries for a throwaway cluster) the ledger figures on PostgreSQL are printed too.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { openDb, type Db } from '../db/connection.js';
import { migrateLatest } from '../db/migrate.js';
import { Accounts } from '../ledger/accounts.js';
import { checkLedger } from '../ledger/check.js';
import { Ledger } from '../ledger/ledger.js';
import type { PostingInput } from '../ledger/types.js';
import { findPgBin, startPgCluster } from '../test/harness/postgres.js';
import { fmt, intOption, line, peakRssMb, tempDir, timed } from './util.js';

const BUSINESS_DATE = '2026-11-26';

export function memberNumber(i: number): string {
  return String(1_000_000_000 + i);
}

export async function seedMembers(db: Db, members: number): Promise<void> {
  const now = new Date().toISOString();
  const chunk = 500;
  for (let i = 0; i < members; i += chunk) {
    const rows = [];
    for (let j = i; j < Math.min(members, i + chunk); j++) {
      rows.push({ number: memberNumber(j), status: 'ACTIVE', tier: 'MEMBER', created_at: now });
    }
    await db.knex('members').insert(rows);
  }
}

function accrual(i: number, members: number): PostingInput {
  const points = 100 + (i % 1900);
  return {
    key: `FLOWN:0012345${String(i).padStart(6, '0')}:1`,
    kind: 'ACCRUAL',
    businessDate: BUSINESS_DATE,
    channel: 'OWN_FLIGHTS',
    activityDate: BUSINESS_DATE,
    sourceRef: `row ${i}`,
    ruleVersion: 'air-2026',
    entries: [
      { account: Accounts.memberPoints(memberNumber(i % members)), amount: points, expiresOn: '2029-11-30' },
      { account: Accounts.ownFlights, amount: -points },
    ],
  };
}

async function benchLedger(db: Db, postings: number, members: number, batch: number) {
  await seedMembers(db, members);
  const ledger = new Ledger(db);
  const { seconds, cpuSeconds } = await timed(async () => {
    for (let i = 0; i < postings; i += batch) {
      const inputs: PostingInput[] = [];
      for (let j = i; j < Math.min(postings, i + batch); j++) inputs.push(accrual(j, members));
      await ledger.post(inputs);
    }
  });
  return { seconds, cpuSeconds, rate: postings / seconds, cpuRate: postings / cpuSeconds };
}

/** The statements a bare loop writes entries and lots with. */
export function prepareEntryAndLot(conn: import('better-sqlite3').Database) {
  return {
    insertEntry: conn.prepare(
      'INSERT INTO entries (posting_id, account_id, amount, business_date) VALUES (?,?,?,?)',
    ),
    insertLot: conn.prepare(
      'INSERT INTO lots (account_id, amount, remaining, earned_on, expires_on, origin_posting_id) VALUES (?,?,?,?,?,?)',
    ),
  };
}

/** The floor: the same rows, prepared statements, one transaction, nothing else. */
export async function benchBareLoop(db: Db, postings: number, members: number) {
  await seedMembers(db, members);
  const conn = await (
    db.knex.client as { acquireConnection(): Promise<import('better-sqlite3').Database> }
  ).acquireConnection();
  const now = new Date().toISOString();
  const insertAccount = conn.prepare(
    "INSERT INTO accounts (code, kind, unit, member_id, tracks_lots, may_go_negative, balance, created_at) VALUES (?, 'MEMBER_POINTS', 'PTS', ?, 1, 0, 0, ?)",
  );
  conn
    .prepare(
      "INSERT INTO accounts (code, kind, unit, tracks_lots, may_go_negative, balance, created_at) VALUES ('OWN_FLIGHTS', 'OWN_FLIGHTS', 'PTS', 0, 1, 0, ?)",
    )
    .run(now);
  conn.transaction(() => {
    for (let m = 0; m < members; m++) insertAccount.run(Accounts.memberPoints(memberNumber(m)), m + 1, now);
  })();
  const insertPosting = conn.prepare(
    'INSERT INTO postings (kind, business_date, idempotency_key, content_hash, member_id, channel, activity_date, source_file_id, source_ref, rule_version, reversal_of, detail, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)',
  );
  const { insertEntry, insertLot } = prepareEntryAndLot(conn);
  const hash = '0'.repeat(64);
  const { seconds, cpuSeconds } = await timed(() => {
    conn.transaction(() => {
      for (let i = 0; i < postings; i++) {
        const p = accrual(i, members);
        const points = p.entries[0]!.amount;
        const memberAccount = (i % members) + 2;
        const id = Number(
          insertPosting.run(
            p.kind,
            p.businessDate,
            p.key,
            hash,
            (i % members) + 1,
            p.channel,
            p.activityDate,
            null,
            p.sourceRef,
            p.ruleVersion,
            null,
            null,
            now,
          ).lastInsertRowid,
        );
        insertEntry.run(id, memberAccount, points, BUSINESS_DATE);
        insertEntry.run(id, 1, -points, BUSINESS_DATE);
        insertLot.run(memberAccount, points, points, BUSINESS_DATE, '2029-11-30', id);
      }
    })();
  });
  await (db.knex.client as { releaseConnection(c: unknown): Promise<void> }).releaseConnection(conn);
  return { seconds, cpuSeconds, rate: postings / seconds, cpuRate: postings / cpuSeconds };
}

export default async function run(args: string[]): Promise<void> {
  const postings = intOption(args, 'postings', 1_000_000);
  const members = intOption(args, 'members', 100_000);
  const batch = intOption(args, 'batch', 5_000);
  console.log(
    `ledger benchmark: ${fmt(postings)} accrual postings for ${fmt(members)} members, batches of ${fmt(batch)}`,
  );

  const dir = tempDir('ledger');
  try {
    const bareDb = openDb(`sqlite:${join(dir, 'bare.sqlite')}`);
    await migrateLatest(bareDb);
    const bare = await benchBareLoop(bareDb, postings, members);
    await bareDb.close();

    const db = openDb(`sqlite:${join(dir, 'ledger.sqlite')}`);
    await migrateLatest(db);
    const ledger = await benchLedger(db, postings, members, batch);
    const check = await checkLedger(db.knex);
    await db.close();

    console.log('SQLite');
    line(
      'bare better-sqlite3 loop',
      `${fmt(bare.rate)} postings/s (${fmt(bare.seconds, 1)} s wall, ${fmt(bare.cpuSeconds, 1)} s CPU)`,
    );
    line(
      'ledger.post in batches',
      `${fmt(ledger.rate)} postings/s (${fmt(ledger.seconds, 1)} s wall, ${fmt(ledger.cpuSeconds, 1)} s CPU)`,
    );
    line('ledger check after the run', check.ok ? 'clean' : 'VIOLATIONS');
    line('peak RSS', `${fmt(peakRssMb())} MB`);
    const ratio = ledger.rate / bare.rate;
    line(
      'ratio ledger / bare loop (wall)',
      `${ratio.toFixed(2)} (target ≥ 0.60) ${ratio >= 0.6 ? 'MET' : 'NOT MET'}`,
    );
    line(
      'ratio ledger / bare loop (CPU)',
      `${(ledger.cpuRate / bare.cpuRate).toFixed(2)} (the same on a busy machine)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  await benchPostgres(args, Math.min(postings, intOption(args, 'pg-postings', 200_000)), members, batch);
}

async function benchPostgres(
  _args: string[],
  postings: number,
  members: number,
  batch: number,
): Promise<void> {
  let url = process.env.REDEYE_BENCH_PG_URL;
  let stop: (() => Promise<void>) | undefined;
  if (!url) {
    if (!findPgBin()) {
      console.log('PostgreSQL: not available (set REDEYE_BENCH_PG_URL or install postgresql); skipped');
      return;
    }
    const cluster = await startPgCluster();
    url = cluster.url;
    stop = cluster.stop;
  }
  const name = `redeye_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  try {
    const db = openDb(url.replace(/\/[^/]*$/, `/${name}`));
    await migrateLatest(db);
    const r = await benchLedger(db, postings, Math.min(members, postings), batch);
    await db.close();
    console.log(`PostgreSQL (${fmt(postings)} postings; no target yet)`);
    line('ledger.post in batches', `${fmt(r.rate)} postings/s (${fmt(r.seconds, 1)} s)`);
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    await stop?.();
  }
}
