/**
 * `redeye member show` for a member of a pool: what the member can spend is the pool's balance, so it is
 * shown with the member's own.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main } from '../main.js';
import { openDb } from '../../db/connection.js';
import { Ledger } from '../../ledger/ledger.js';
import { insertMember } from '../../ledger/members.js';
import { Accounts } from '../../ledger/accounts.js';
import { availableEngines, createTestDatabase, type TestDb } from '../../test/harness/db.js';

const example = readFileSync(resolve(import.meta.dirname, '../../examples/redeye.config.yaml'), 'utf8');

async function redeye(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['node', 'redeye', ...args], {
    output: { out: (s) => out.push(s), err: (s) => err.push(s) },
    env: {},
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('redeye member show', () => {
  let dir: string;
  let config: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'redeye-member-'));
    config = join(dir, 'redeye.config.yaml');
    writeFileSync(config, example.replace('sqlite:../var/redeye.sqlite', 'sqlite:./var/redeye.sqlite'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("shows a pool member's pool and its balance beside their own", async () => {
    expect((await redeye(['--config', config, 'db', 'migrate'])).code).toBe(0);
    const db = openDb(`sqlite:${join(dir, 'var', 'redeye.sqlite')}`);
    const [pool] = await db
      .knex('pools')
      .insert({ code: 'HH-1', type: 'HOUSEHOLD', created_at: '2026-11-01T00:00:00Z' })
      .returning('id');
    await insertMember(db.knex, { number: '1000000016', status: 'ACTIVE', tier: 'MEMBER' });
    await db
      .knex('members')
      .where({ number: '1000000016' })
      .update({ pool_id: Number((pool as { id: number }).id) });
    await insertMember(db.knex, { number: '1000000024', status: 'ACTIVE', tier: 'MEMBER' });
    const flight = (key: string, member: string, date: string, points: number) => ({
      key,
      kind: 'ACCRUAL' as const,
      businessDate: date,
      channel: 'OWN_FLIGHTS',
      memberNumber: member,
      sourceRef: `FLT:XX245:${date}:SVO-AER:XX:${member}`,
      entries: [
        { account: Accounts.poolPoints('HH-1'), amount: points, expiresOn: '2029-11-30' },
        { account: Accounts.ownFlights, amount: -points },
      ],
    });
    // The other member of the household flew first: the pool holds both flights.
    await new Ledger(db).post([
      flight('A0', '1000000024', '2026-11-25', 500),
      flight('A1', '1000000016', '2026-11-26', 1000),
    ]);
    await db.close();
    const text = await redeye(['--config', config, 'member', 'show', '1000000016']);
    expect(text.code).toBe(0);
    expect(text.out).toContain('balance 0 points');
    expect(text.out).toContain('pool HH-1: 1,500 points (the member earns into and redeems from it)');
    // Their own flight, credited to the pool, with the pool's balance after it; not the other member's.
    expect(text.out).toMatch(
      /in pool HH-1: the member's own postings\n.*pool balance\n.*\n\s*2026-11-26\s+ACCRUAL\s+OWN_FLIGHTS\s+FLT:XX245:2026-11-26:SVO-AER:XX:1000000016\s+1,000\s+1,500\s*$/,
    );
    const json = await redeye(['--config', config, 'member', 'show', '1000000016', '--json']);
    expect(JSON.parse(json.out)).toMatchObject({
      balance: 0,
      pool: {
        code: 'HH-1',
        balance: 1500,
        earnsInto: true,
        redeemsFrom: true,
        statement: [{ businessDate: '2026-11-26', amount: 1000, balance: 1500 }],
      },
    });
  });
});

for (const engine of availableEngines()) {
  describe(`redeye member show: a merge waiting for its survivor (${engine})`, () => {
    let t: TestDb;
    let dir: string;
    let config: string;
    beforeEach(async () => {
      t = await createTestDatabase(engine);
      dir = mkdtempSync(join(tmpdir(), 'redeye-member-'));
      config = join(dir, 'redeye.config.yaml');
      writeFileSync(config, example);
    });
    afterEach(async () => {
      await t.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    async function show(...args: string[]) {
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(['node', 'redeye', '--config', config, 'member', 'show', ...args], {
        output: { out: (s) => out.push(s), err: (s) => err.push(s) },
        env: { REDEYE_DATABASE_URL: t.url, REDEYE_LOG_LEVEL: 'silent' },
      });
      return { code, out: out.join('\n'), err: err.join('\n') };
    }

    it('says the merge waits, since when and where it was read, in text and JSON; and the awaited survivor', async () => {
      await insertMember(t.db.knex, { number: '1000000016', status: 'ACTIVE', tier: 'MEMBER' });
      const [file] = await t.db
        .knex('files')
        .insert({
          direction: 'in',
          feed: 'members',
          name: 'members-0002.csv',
          size: 1,
          sha256: 'm'.repeat(64),
          business_date: '2026-03-02',
          verdict: 'accepted',
          created_at: '2026-03-02T01:00:00Z',
        })
        .returning('id');
      await t.db.knex('member_merges_waiting').insert({
        member_number: '1000000016',
        merged_into: '1000000024',
        source_updated_at: '2026-03-01T10:00:00.000Z',
        file_id: Number(typeof file === 'object' ? (file as { id: number }).id : file),
        line: 2,
        record: '{}',
        business_date: '2026-03-02',
        created_at: '2026-03-02T01:00:00Z',
      });
      const text = await show('1000000016');
      expect(text.code).toBe(0);
      expect(text.out).toContain(
        "\nmerge into 1000000024 waits for 1000000024's record since 2026-03-02 (members-0002.csv line 2): the points stay here until it lands\n",
      );
      const json = await show('1000000016', '--json');
      expect(JSON.parse(json.out)).toMatchObject({
        member: { number: '1000000016', status: 'ACTIVE' },
        mergeWaiting: {
          member: '1000000016',
          into: '1000000024',
          since: '2026-03-02',
          file: 'members-0002.csv',
          line: 2,
        },
        awaitedBy: [],
      });
      // The survivor is not a member yet: asked for, it says whose merge waits for it.
      const survivor = await show('1000000024');
      expect(survivor.code).toBe(1);
      expect(survivor.err).toContain(
        'no member 1000000024; awaited as the survivor of 1000000016: its merge into 1000000024 waits since 2026-03-02 (members-0002.csv line 2)',
      );
    });
  });
}
