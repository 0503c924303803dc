/**
 * `redeye member forget` keys erased names by REDEYE_TOKEN_SECRET: without it the command refuses
 * (SECRET_MISSING, exit 2) and erases nothing; with it two runs give one surname one token.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main } from '../main.js';
import { createTestDatabase, type TestDb } from '../../test/harness/db.js';
import { insertMember } from '../../ledger/members.js';

const example = readFileSync(resolve(import.meta.dirname, '../../examples/redeye.config.yaml'), 'utf8');

describe('redeye member forget', () => {
  let t: TestDb;
  let dir: string;
  let config: string;
  beforeEach(async () => {
    t = await createTestDatabase('sqlite');
    dir = mkdtempSync(join(tmpdir(), 'redeye-forget-cli-'));
    config = join(dir, 'redeye.config.yaml');
    writeFileSync(config, example);
    for (const number of ['1000000016', '1000000024'])
      await insertMember(t.db.knex, { number, status: 'ACTIVE', tier: 'MEMBER', surname: 'PETROVA' });
  });
  afterEach(async () => {
    await t.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  async function forget(number: string, env: NodeJS.ProcessEnv) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['node', 'redeye', '--config', config, 'member', 'forget', number], {
      output: { out: (s) => out.push(s), err: (s) => err.push(s) },
      env: { REDEYE_DATABASE_URL: t.url, REDEYE_LOG_LEVEL: 'silent', ...env },
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }
  const surname = async (number: string) =>
    ((await t.db.knex('members').where({ number }).first('surname')) as { surname: string }).surname;

  it('refuses without the secret, naming the variable, and erases nothing', async () => {
    const r = await forget('1000000016', {});
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      "error [SECRET_MISSING]: environment variable REDEYE_TOKEN_SECRET (the secret that keys the tokens of erased names, retention.tokenSecretEnv) is not set: set it to the program's secret, the same for every run",
    );
    expect(await surname('1000000016')).toBe('PETROVA');
    expect(await t.db.knex('erasures').count({ n: '*' }).first()).toEqual({ n: 0 });
  });

  it('with the secret, two runs give the same surname the same token', async () => {
    const env = { REDEYE_TOKEN_SECRET: 'program secret' };
    expect((await forget('1000000016', env)).code).toBe(0);
    expect((await forget('1000000024', env)).code).toBe(0);
    expect(await surname('1000000016')).toMatch(/^TOK-[0-9A-F]{16}$/);
    expect(await surname('1000000024')).toBe(await surname('1000000016'));
  });

  it('erases the waiting merge of an account never enrolled, and a member erased before again', async () => {
    const env = { REDEYE_TOKEN_SECRET: 'program secret', REDEYE_NOW: '2026-06-05T02:30:00Z' };
    const [file] = await t.db
      .knex('files')
      .insert({
        direction: 'in',
        feed: 'members',
        name: 'members-0001.csv',
        size: 1,
        sha256: 'm'.repeat(64),
        business_date: '2026-06-01',
        verdict: 'accepted',
        created_at: '2026-06-01T01:00:00Z',
      })
      .returning('id');
    await t.db.knex('member_merges_waiting').insert({
      member_number: '1000000032',
      merged_into: '1000000040',
      source_updated_at: '2026-06-01T10:00:00.000Z',
      file_id: Number((file as { id: number }).id),
      line: 2,
      record: JSON.stringify({
        memberNumber: '1000000032',
        surname: 'SECRETOVA',
        email: 'anna@mail.example',
      }),
      business_date: '2026-06-01',
      created_at: '2026-06-01T01:00:00Z',
    });
    const waiting = await forget('1000000032', env);
    expect(waiting).toMatchObject({
      code: 0,
      out: '1000000032 (not a member; its merge waits for its survivor): personal data in the waiting record erased; the merge stays; erasure recorded',
    });
    expect(JSON.stringify(await t.db.knex('member_merges_waiting').select())).not.toMatch(/SECRETOVA|anna@/);
    expect((await forget('1000000016', env)).code).toBe(0);
    expect(await forget('1000000016', { ...env, REDEYE_NOW: '2026-06-06T02:30:00Z' })).toMatchObject({
      code: 0,
      out: 'member 1000000016: personal data erased (erased before on 2026-06-05T02:30:00.000Z: erased again); member number and postings kept; erasure recorded',
    });
    expect(await forget('1000000099', env)).toMatchObject({
      code: 1,
      err: expect.stringContaining('MEMBER_UNKNOWN'),
    });
  });

  it('records the erasure at the instant REDEYE_NOW pins', async () => {
    const r = await forget('1000000016', {
      REDEYE_TOKEN_SECRET: 'program secret',
      REDEYE_NOW: '2026-06-05T02:30:00Z',
    });
    expect(r.code).toBe(0);
    const member = (await t.db.knex('members').where({ number: '1000000016' }).first('erased_at')) as {
      erased_at: string;
    };
    const erasure = (await t.db.knex('erasures').first('erased_at')) as { erased_at: string };
    expect([member.erased_at, erasure.erased_at]).toEqual([
      '2026-06-05T02:30:00.000Z',
      '2026-06-05T02:30:00.000Z',
    ]);
  });
});
