import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main } from '../cli/main.js';
import { openDb } from '../db/connection.js';
import { migrateLatest } from '../db/migrate.js';
import { insertMember } from '../ledger/members.js';
import { Ledger } from '../ledger/ledger.js';
import { Accounts } from '../ledger/accounts.js';
import { EXAMPLE_CONFIG } from '../test/harness/context.js';

const SHARED = resolve(import.meta.dirname, '../../shared/samples/ftl');
const OWN = resolve(import.meta.dirname, '../parsers/ftl/fixtures');
const sample = (name: string) => (existsSync(join(SHARED, name)) ? join(SHARED, name) : join(OWN, name));

const EMPTY = createHash('sha256').digest('hex');

function sha(path: string): string | null {
  return existsSync(path) ? createHash('sha256').update(readFileSync(path)).digest('hex') : null;
}

describe('redeye simulate', () => {
  let dir: string;
  let config: string;
  let dbFile: string;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'redeye-simulate-'));
    config = join(dir, 'redeye.config.yaml');
    writeFileSync(config, readFileSync(EXAMPLE_CONFIG, 'utf8').replaceAll('../var/', './var/'));
    dbFile = join(dir, 'var', 'redeye.sqlite');
    const db = openDb(`sqlite:${dbFile}`);
    await migrateLatest(db);
    for (const [number, surname, givenName] of [
      ['1000000032', 'ABRAMOV', 'PAVEL'],
      ['1000000040', 'BELOVA', 'IRINA'],
      ['1000000057', 'KOZLOV', 'DMITRY'],
      ['1000000065', 'MORGAN', 'SARAH'],
    ] as const) {
      await insertMember(db.knex, {
        number,
        status: 'ACTIVE',
        tier: number === '1000000065' ? 'GOLD' : 'MEMBER',
        surname,
        givenName,
        enrolmentDate: '2020-01-01',
      });
    }
    // A credit already posted for BELOVA's flight (its FTL came on an earlier night): the simulator sees it.
    await new Ledger(db).post([
      {
        key: 'FLT:XX245:2026-06-03:SVO-AER:XX:1000000040:AWARD',
        kind: 'ACCRUAL',
        businessDate: '2026-06-04',
        entries: [
          { account: Accounts.memberPoints('1000000040'), amount: 1309, expiresOn: '2029-06-30' },
          { account: Accounts.ownFlights, amount: -1309 },
        ],
      },
    ]);
    await db.knex('activities').insert({
      activity_key: 'FLT:XX245:2026-06-03:SVO-AER:XX:1000000040',
      type: 'FLIGHT',
      member_number: '1000000040',
      activity_date: '2026-06-03',
      business_date: '2026-06-04',
      status: 'POSTED',
      seen_ftl: true,
      points: 1309,
      posting_key: 'FLT:XX245:2026-06-03:SVO-AER:XX:1000000040:AWARD',
      needs_accrual: false,
      updated_at: new Date().toISOString(),
    });
    await db.close();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('shows per record the rule, version, points and status credits it would post, and changes nothing in the database', async () => {
    for (const f of ['02-multipart-part1.ftl', '02-multipart-part2.ftl'])
      copyFileSync(sample(f), join(dir, f));
    const before = sha(dbFile);
    const out: string[] = [];
    const code = await main(
      [
        'node',
        'redeye',
        '--config',
        config,
        'simulate',
        'ftl',
        '--date',
        '2026-06-05',
        '--received',
        '2026-06-04T10:00:00Z',
        '--json',
        join(dir, '02-multipart-part1.ftl'),
        join(dir, '02-multipart-part2.ftl'),
      ],
      { output: { out: (s) => out.push(s), err: (s) => out.push(s) }, env: {} },
    );
    expect(code).toBe(0);
    const events = out.map((l) => JSON.parse(l) as Record<string, unknown>);
    const byMember = (n: string) => events.find((e) => String(e.activity ?? '').endsWith(`:XX:${n}`));
    // SVO-AER 873 mi in Y, +50% summer Sochi promotion.
    expect(byMember('1000000032')).toMatchObject({ status: 'POSTED', points: 1309 });
    const abramov = byMember('1000000032')!.postings as Array<{
      ruleVersion: string;
      detail: { basis: string };
    }>;
    expect(abramov[0]).toMatchObject({ ruleVersion: 'air-2024', detail: { basis: '873 mi × 1 (Y)' } });
    // Already credited on an earlier night: a duplicate, nothing new.
    expect(byMember('1000000040')).toMatchObject({ status: 'REJECTED', reason: 'DUPLICATE', points: 0 });
    // Gold members earn the +50% tier bonus on top: booked C (200%) 1,746 + 873 bonus + 873 promotion.
    expect(byMember('1000000065')).toMatchObject({ status: 'POSTED', points: 1746 + 873 + 873 });
    const summary = events.at(-1)!;
    expect(summary).toMatchObject({
      type: 'summary',
      records: 4,
      posted: 3,
      rejected: 1,
      points: 1309 * 2 + 1746 + 873 + 873,
    });
    // Byte for byte: the database file is as it was, and no page went to the write-ahead log (SQLite may
    // create an empty one when it opens a WAL database, even read-only).
    expect(sha(dbFile)).toBe(before);
    expect([null, EMPTY]).toContain(sha(`${dbFile}-wal`));
  });

  it('refuses a feed that changes no points', async () => {
    writeFileSync(join(dir, 'rates.xml'), '<x/>');
    const err: string[] = [];
    const code = await main(
      ['node', 'redeye', '--config', config, 'simulate', 'fx', join(dir, 'rates.xml')],
      {
        output: { out: () => undefined, err: (s) => err.push(s) },
        env: {},
      },
    );
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(/simulate reads activity feeds/);
  });
});
