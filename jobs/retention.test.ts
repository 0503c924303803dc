import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useWorld } from '../test/harness/context.js';
import { writeAgedFile } from '../test/harness/files.js';
import { TEMPORARY_FILE_MAX_AGE_MS } from '../transports/names.js';
import { insertMember } from '../ledger/members.js';
import {
  forgetMember,
  retentionJob,
  sweepTemporaryFiles,
  tokeniser,
  TokenSecretMissingError,
  travelNamesNeededFrom,
  UNREADABLE_CLAIM,
} from './retention.js';

const DAY = 24 * 3600 * 1000;

/** A temporary file holding personal data, as a killed mailing-list write leaves, dated `ageMs` ago. */
const write = (path: string, ageMs: number) =>
  writeAgedFile(path, ageMs, 'surname,email\r\nIVANOV,ivan@example.org\r\n');

describe('temporary files left by killed writes', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'redeye-sweep-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('removes only *.part files older than the bound, in every subfolder, and never follows a link', async () => {
    const outbox = join(dir, 'outbox');
    const landing = join(dir, 'landing');
    mkdirSync(join(outbox, 'mailing'), { recursive: true });
    mkdirSync(join(landing, 'ftl', '2026-10-01'), { recursive: true });
    const outside = join(dir, 'outside.part');
    const old = [
      write(join(outbox, 'mailing', '.TIER_CHANGE_20261001.csv.ada42c1f00aa.part'), 3 * DAY),
      write(join(landing, 'ftl', '2026-10-01', '.FTL_20261001.ftl.366f8820fef3.part'), 2 * DAY),
    ];
    const kept = [
      write(join(outbox, 'mailing', '.EXPIRY_WARNING_20261002.csv.0123456789ab.part'), 3600 * 1000),
      write(join(outbox, 'mailing', 'TIER_CHANGE_20260901.csv'), 60 * DAY),
      write(outside, 60 * DAY),
    ];
    symlinkSync(outside, join(outbox, 'mailing', 'link.part'));

    const removed = await sweepTemporaryFiles(
      [outbox, landing, join(dir, 'reports-not-made-yet'), outbox],
      Date.now() - TEMPORARY_FILE_MAX_AGE_MS,
    );
    expect(removed).toBe(2);
    for (const f of old) expect(existsSync(f), f).toBe(false);
    for (const f of kept) expect(existsSync(f), f).toBe(true);
    expect(existsSync(join(outbox, 'mailing', 'link.part'))).toBe(true);
  });
});

describe('the retention job', () => {
  const world = useWorld('sqlite');

  it('sweeps stale temporary files from the landing, outbox and report folders and counts them', async () => {
    const w = world();
    const { landing, outbox, reports } = w.config.paths;
    for (const d of [landing, outbox, reports]) mkdirSync(d, { recursive: true });
    write(join(landing, '.FLOWN_20261001.csv.aaaaaaaaaaaa.part'), 2 * DAY);
    write(join(outbox, '.GRANDSTAY_20261001_1.resp.csv.bbbbbbbbbbbb.part'), 2 * DAY);
    write(join(reports, 'daily-2026-10-01.xlsx.4242.part'), 2 * DAY);
    const fresh = write(join(outbox, '.GRANDSTAY_20261002_1.resp.csv.cccccccccccc.part'), 60 * 1000);

    const result = await retentionJob(w.ctx('2026-10-03'));
    expect(result.counts).toMatchObject({ erased: 0, temporaryFilesRemoved: 3 });
    expect(existsSync(fresh)).toBe(true);
  });

  it('forgets the FTL messages completed before the reject texts go, keeping the later ones', async () => {
    const w = world();
    const completed = (key: string, night: string) => ({
      message_key: key,
      final_part: 2,
      file_name: 'ftl.txt',
      line: 1,
      business_date: night,
    });
    await w.t.db
      .knex('ftl_messages')
      .insert([
        completed('XX245/2026-07-03/SVO', '2026-07-04'),
        completed('XX245/2026-07-04/SVO', '2026-07-05'),
      ]);
    // 90 days of reject texts on 3 October: the nights from 5 July are kept.
    const result = await retentionJob(w.ctx('2026-10-03'));
    expect(result.counts).toMatchObject({ ftlMessagesForgotten: 1 });
    expect(await w.t.db.knex('ftl_messages').pluck('message_key')).toEqual(['XX245/2026-07-04/SVO']);
  });

  it('keeps an old report folder while a mail of it is unsent, or sent but owed to someone its list names', async () => {
    const w = world();
    const { reports } = w.config.paths;
    const folders = ['2026-05-01', '2026-05-02', '2026-05-03', '2026-05-04'];
    for (const d of folders) mkdirSync(join(reports, d), { recursive: true });
    const mail = (day: string, status: string, delivered: string[], refused: string[]) => ({
      report: 'monthly',
      business_date: day,
      message_id: `<monthly-report.${day}@airline.example>`,
      recipients: JSON.stringify(refused),
      listed_to: JSON.stringify(['commercial@airline.example', 'finance@airline.example']),
      delivered_to: JSON.stringify(delivered),
      refused_to:
        refused.length === 0 ? null : JSON.stringify(refused.map((address) => ({ address, answer: '550' }))),
      subject: 'monthly',
      attachments: JSON.stringify({ workbook: `${day}/monthly-${day}.xlsx`, inline: [] }),
      html: '',
      text: '',
      status,
      attempts: 1,
      created_at: `${day}T02:00:00.000Z`,
    });
    const all = ['commercial@airline.example', 'finance@airline.example'];
    await w.t.db.knex('mail_outbox').insert([
      // Sent to both: done.
      mail('2026-05-01', 'sent', all, []),
      // Not sent yet.
      mail('2026-05-02', 'pending', [], []),
      // Finance refused it for good and is still on mail.lists.monthly: report send --retry-failed reads it.
      mail('2026-05-03', 'sent', ['commercial@airline.example'], ['finance@airline.example']),
      // Refused by an address no longer on the list, which names no one who has not had it: done.
      mail('2026-05-04', 'sent', all, ['finanse@airline.example']),
    ]);
    const result = await retentionJob(w.ctx('2026-09-01'));
    expect(result.counts.reportFoldersRemoved).toBe(2);
    expect(folders.filter((d) => existsSync(join(reports, d)))).toEqual(['2026-05-02', '2026-05-03']);
  });
});

describe('the token secret (REDEYE_TOKEN_SECRET)', () => {
  const world = useWorld('sqlite');
  const SECRET = { REDEYE_TOKEN_SECRET: 'the program secret' };

  /** Two members closed in 2023 with one surname (a family), and an open one. */
  async function members(): Promise<void> {
    const knex = world().t.db.knex;
    for (const [number, status, given] of [
      ['1000000016', 'CLOSED', 'IVAN'],
      ['1000000024', 'CLOSED', 'MARIA'],
      ['1000000032', 'ACTIVE', 'OLGA'],
    ] as const)
      await insertMember(knex, {
        number,
        status,
        tier: 'MEMBER',
        surname: 'KUZNETSOVA',
        givenName: given,
        email: `${given.toLowerCase()}@mail.example`,
        closedOn: status === 'CLOSED' ? '2023-01-31' : null,
      });
  }

  const surname = async (number: string) =>
    (await world().t.db.knex('members').where({ number }).first('surname')).surname as string;

  it('keys the same name to the same token, run after run, and refuses to work without the secret', () => {
    expect(tokeniser(SECRET, 'REDEYE_TOKEN_SECRET')('KUZNETSOVA')).toBe(
      tokeniser({ ...SECRET }, 'REDEYE_TOKEN_SECRET')('KUZNETSOVA'),
    );
    expect(tokeniser(SECRET, 'REDEYE_TOKEN_SECRET')('KUZNETSOVA')).toMatch(/^TOK-[0-9A-F]{16}$/);
    for (const env of [{}, { REDEYE_TOKEN_SECRET: '' }]) {
      let error: unknown;
      try {
        tokeniser(env, 'REDEYE_TOKEN_SECRET');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(TokenSecretMissingError);
      expect(error).toMatchObject({ code: 'SECRET_MISSING', exitCode: 2 });
      expect((error as Error).message).toMatch(/^environment variable REDEYE_TOKEN_SECRET .* is not set/);
    }
  });

  it('the retention job erases nothing without the secret (and still sweeps), and with it gives one name one token', async () => {
    await members();
    const w = world();
    mkdirSync(w.config.paths.outbox, { recursive: true });
    write(join(w.config.paths.outbox, '.MAILING.csv.dddddddddddd.part'), 2 * DAY);
    await expect(retentionJob(w.ctx('2026-03-01'))).rejects.toThrow(
      /environment variable REDEYE_TOKEN_SECRET .* is not set/,
    );
    expect(await surname('1000000016')).toBe('KUZNETSOVA');
    expect(await w.t.db.knex('erasures').count({ n: '*' }).first()).toEqual({ n: 0 });
    expect(existsSync(join(w.config.paths.outbox, '.MAILING.csv.dddddddddddd.part'))).toBe(false);

    // A night with nothing due does not need the secret.
    const early = await retentionJob(w.ctx('2024-06-01'));
    expect(early.counts.erased).toBe(0);

    const r = await retentionJob({ ...w.ctx('2026-03-01'), env: SECRET });
    expect(r.counts.erased).toBe(2);
    expect(await surname('1000000016')).toBe(tokeniser(SECRET, 'REDEYE_TOKEN_SECRET')('KUZNETSOVA'));
    expect(await surname('1000000024')).toBe(await surname('1000000016'));
  });

  it('erases an account closed on a month end on the day its months are up, as the calendar clamps them', async () => {
    const knex = world().t.db.knex;
    for (const [number, closedOn] of [
      ['1000000040', '2024-02-29'],
      ['1000000057', '2024-02-28'],
      ['1000000065', '2024-03-01'],
    ] as const)
      await insertMember(knex, { number, status: 'CLOSED', tier: 'MEMBER', surname: 'SOKOLOV', closedOn });
    const w = world();
    const erased = async () =>
      (await knex('members').whereNotNull('erased_at').orderBy('number').pluck('number')) as string[];
    await retentionJob({ ...w.ctx('2026-02-27'), env: SECRET });
    expect(await erased()).toEqual([]);
    // 24 months after 29 February 2024 is 28 February 2026, as it is for the 28th: not 1 March.
    await retentionJob({ ...w.ctx('2026-02-28'), env: SECRET });
    expect(await erased()).toEqual(['1000000040', '1000000057']);
    await retentionJob({ ...w.ctx('2026-03-01'), env: SECRET });
    expect(await erased()).toEqual(['1000000040', '1000000057', '1000000065']);
  });

  it('member forget refuses without the secret, and two runs give the same token for the same surname', async () => {
    await members();
    const w = world();
    const ctx = { ...w.ctx('2024-06-01'), env: {} };
    await expect(forgetMember(ctx, '1000000032')).rejects.toMatchObject({
      code: 'SECRET_MISSING',
      exitCode: 2,
      context: { variable: 'REDEYE_TOKEN_SECRET' },
    });
    expect(await surname('1000000032')).toBe('KUZNETSOVA');
    // A configuration naming another variable: the message names that one.
    const other = {
      ...ctx,
      config: { ...w.config, retention: { ...w.config.retention, tokenSecretEnv: 'LOYALTY_TOKEN_KEY' } },
    };
    await expect(forgetMember(other, '1000000032')).rejects.toThrow(/LOYALTY_TOKEN_KEY/);

    // Two `member forget` runs, each with its own tokeniser: one surname, one token.
    await forgetMember({ ...ctx, env: { ...SECRET } }, '1000000032');
    await forgetMember({ ...ctx, env: { ...SECRET } }, '1000000016');
    expect(await surname('1000000032')).toMatch(/^TOK-[0-9A-F]{16}$/);
    expect(await surname('1000000016')).toBe(await surname('1000000032'));
  });
  it('replaces whole a stored claim of the member that is not readable JSON, and says so', async () => {
    await members();
    const w = world();
    // Cut short by hand, say: the text still carries her name, and nothing in it can be told apart.
    const [rc9] = await w.t.db
      .knex('retro_claims')
      .insert({
        claim_id: 'RC-9',
        member_number: '1000000032',
        received_date: '2024-05-01',
        claim: '{"claimId":"RC-9","surname":"KUZNETSOVA","givenName":"OL',
        status: 'REJECTED',
      })
      .returning('id');
    expect((await forgetMember({ ...w.ctx('2024-06-01'), env: SECRET }, '1000000032')).replaced).toEqual([
      { table: 'retro_claims', id: Number(rc9.id), claimId: 'RC-9' },
    ]);
    const kept = await w.t.db.knex('retro_claims').where({ claim_id: 'RC-9' }).first();
    expect(kept).toMatchObject({ member_number: '1000000032', claim: UNREADABLE_CLAIM });
    expect(JSON.stringify(await w.t.db.knex('retro_claims').select())).not.toContain('KUZNETSOVA');
    // The retention step, erasing a closed member's, counts them and warns naming the table and the row.
    const [rc8] = await w.t.db
      .knex('retro_claims')
      .insert({
        claim_id: 'RC-8',
        member_number: '1000000016',
        received_date: '2023-01-10',
        claim: 'KUZNETSOVA IVAN XX101',
        status: 'REJECTED',
      })
      .returning('id');
    const r = await retentionJob({ ...w.ctx('2026-03-01'), env: SECRET });
    expect(r.counts).toMatchObject({ erased: 2, unreadableClaimsReplaced: 1 });
    expect(r.warnings).toContain(
      `1 stored claim(s) of erased members were not readable JSON and were replaced whole: retro_claims row ${rc8.id} (claim RC-8)`,
    );
    expect(JSON.stringify(await w.t.db.knex('retro_claims').select())).not.toContain('KUZNETSOVA');
  });

  it('names the table and rows of every unreadable claim it replaced, the first five of a table and how many more', async () => {
    await members();
    const w = world();
    const knex = w.t.db.knex;
    // Ivan's partner-airline flight, with seven claims cut short by hand, and one of his retro-claims.
    await knex('activities').insert({
      activity_key: 'PAF:LH:LH-C1',
      type: 'PARTNER_FLIGHT',
      member_number: '1000000016',
      activity_date: '2022-12-01',
      business_date: '2022-12-02',
      status: 'POSTED',
      updated_at: '2022-12-02T23:00:00Z',
    });
    const alliance: number[] = [];
    for (let i = 1; i <= 7; i++) {
      const [row] = await knex('alliance_claims')
        .insert({
          direction: 'IN',
          partner_code: 'LH',
          claim_id: `LH-C${i}`,
          activity_key: 'PAF:LH:LH-C1',
          business_date: '2022-12-02',
          claim: `{"claimId":"LH-C${i}","member":{"surname":"KUZNETSOVA"`,
          status: 'ACCEPTED',
        })
        .returning('id');
      alliance.push(Number(row.id));
    }
    const [retro] = await knex('retro_claims')
      .insert({
        claim_id: 'RC-8',
        member_number: '1000000016',
        received_date: '2023-01-10',
        claim: 'KUZNETSOVA IVAN XX101',
        status: 'REJECTED',
      })
      .returning('id');
    const r = await retentionJob({ ...w.ctx('2026-03-01'), env: SECRET });
    expect(r.counts).toMatchObject({ unreadableClaimsReplaced: 8 });
    expect(r.warnings).toContain(
      '8 stored claim(s) of erased members were not readable JSON and were replaced whole: ' +
        `alliance_claims 7 rows: ${alliance
          .slice(0, 5)
          .map((id, i) => `${id} (claim LH-C${i + 1})`)
          .join(', ')} and 2 more; ` +
        `retro_claims row ${retro.id} (claim RC-8)`,
    );
    for (const id of [...alliance])
      expect((await knex('alliance_claims').where({ id }).first('claim')).claim).toBe(UNREADABLE_CLAIM);
  });
});

describe('names as travelled', () => {
  const world = useWorld('sqlite');

  it('clears the names as travelled of flights older than the claim window, and only those', async () => {
    const w = world();
    const flight = (key: string, date: string) => ({
      activity_key: key,
      type: 'FLIGHT',
      activity_date: date,
      business_date: date,
      status: 'POSTED',
      travel_surname: 'KUZNETSOVA',
      travel_given_name: 'OLGA',
      updated_at: `${date}T23:00:00Z`,
    });
    // The demo program's claim window is 365 days, further back than retro-claims' 6 months: on 1 March
    // 2026 names are kept from 1 March 2025, three days' margin included from 26 February.
    expect(travelNamesNeededFrom(w.config, '2026-03-01')).toBe('2025-02-26');
    await w.t.db.knex('activities').insert([flight('FLT:OLD', '2025-02-25'), flight('FLT:IN', '2025-02-26')]);
    const r = await retentionJob({ ...w.ctx('2026-03-01'), env: {} });
    expect(r.counts.travelNamesCleared).toBe(1);
    expect(
      await w.t.db
        .knex('activities')
        .orderBy('activity_key')
        .select('activity_key', 'travel_surname', 'travel_given_name'),
    ).toEqual([
      { activity_key: 'FLT:IN', travel_surname: 'KUZNETSOVA', travel_given_name: 'OLGA' },
      { activity_key: 'FLT:OLD', travel_surname: null, travel_given_name: null },
    ]);
    expect((await retentionJob({ ...w.ctx('2026-03-01'), env: {} })).counts.travelNamesCleared).toBe(0);
  });

  it('keeps them as long as a retro-claim by flight and name may still come, when that reaches further back', () => {
    const w = world();
    const config = { ...w.config, earning: { ...w.config.earning, airClaimWindowDays: 30 } };
    // A retro-claim may come 6 months after the flight: names are kept 6 months (and three days).
    expect(travelNamesNeededFrom(config, '2026-04-19')).toBe('2025-10-16');
  });
});
