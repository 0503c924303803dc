/**
 * `redeye files show` lists a file's outcomes and rejects in one order on SQLite and PostgreSQL: grouped
 * rows come in PostgreSQL's plan order without an ORDER BY, and the engines put NULL at opposite ends of
 * an ascending sort.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { availableEngines, createTestDatabase, type TestDb } from '../../test/harness/db.js';
import { main } from '../main.js';

const example = readFileSync(resolve(import.meta.dirname, '../../examples/redeye.config.yaml'), 'utf8');

for (const engine of availableEngines()) {
  describe(`redeye files show (${engine})`, () => {
    it('orders outcomes by status then reason (none first), rejects by reason, and the first rejects by line (none last) then id', async () => {
      const t = await createTestDatabase(engine);
      const dir = mkdtempSync(join(tmpdir(), 'redeye-files-cli-'));
      try {
        const config = join(dir, 'redeye.config.yaml');
        writeFileSync(config, example);
        const now = '2026-03-11T01:00:00.000Z';
        const [file] = (await t.db
          .knex('files')
          .insert({
            direction: 'in',
            feed: 'partner',
            name: 'DRIVE_20260311_1.csv',
            size: 100,
            sha256: 'a'.repeat(64),
            verdict: 'accepted',
            business_date: '2026-03-11',
            created_at: now,
          })
          .returning('id')) as Array<{ id: number } | number>;
        const fileId = typeof file === 'object' ? Number(file.id) : Number(file);
        const outcomes: Array<[string, string | null, number]> = [
          ['REJECTED', 'NAME_MISMATCH', 0],
          ['POSTED', 'RETRO_CLAIM', 200],
          ['REJECTED', 'MEMBER_UNKNOWN', 0],
          ['POSTED', null, 500],
          ['PENDING', null, 0],
          ['POSTED', null, 250],
          ['REJECTED', null, 0],
        ];
        await t.db.knex('activities').insert(
          outcomes.map(([status, reason, points], i) => ({
            activity_key: `PTR:DRIVE:D-${i}`,
            type: 'PARTNER',
            activity_date: '2026-03-10',
            business_date: '2026-03-11',
            status,
            reason,
            points,
            source_file_id: fileId,
            updated_at: now,
          })),
        );
        const rejects: Array<[number | null, string]> = [
          [7, 'MALFORMED'],
          [null, 'NOT_FOUND'],
          [3, 'BAD_AMOUNT'],
          [7, 'BAD_CURRENCY'],
          [null, 'DUPLICATE'],
          [2, 'MALFORMED'],
        ];
        await t.db.knex('rejects').insert(
          rejects.map(([line, reason]) => ({
            file_id: fileId,
            feed: 'partner',
            line,
            field: '*',
            reason,
            message: reason,
            business_date: '2026-03-11',
            created_at: now,
          })),
        );
        const out: string[] = [];
        const code = await main(
          ['node', 'redeye', '--config', config, 'files', 'show', String(fileId), '--json'],
          {
            output: { out: (s) => out.push(s), err: () => undefined },
            env: { REDEYE_DATABASE_URL: t.url, REDEYE_LOG_LEVEL: 'silent' },
          },
        );
        expect(code).toBe(0);
        const shown = JSON.parse(out.join('\n')) as {
          outcomes: Array<{ status: string; reason: string | null; n: unknown; points: unknown }>;
          rejects: Array<{ reason: string; n: unknown }>;
          firstRejects: Array<{ line: number | null; kind: string; reason: string }>;
          more: number;
        };
        expect(shown.outcomes.map((o) => [o.status, o.reason, Number(o.n), Number(o.points)])).toEqual([
          ['PENDING', null, 1, 0],
          ['POSTED', null, 2, 750],
          ['POSTED', 'RETRO_CLAIM', 1, 200],
          ['REJECTED', null, 1, 0],
          ['REJECTED', 'MEMBER_UNKNOWN', 1, 0],
          ['REJECTED', 'NAME_MISMATCH', 1, 0],
        ]);
        expect(shown.rejects.map((r) => [r.reason, Number(r.n)])).toEqual([
          ['BAD_AMOUNT', 1],
          ['BAD_CURRENCY', 1],
          ['DUPLICATE', 1],
          ['MALFORMED', 2],
          ['NOT_FOUND', 1],
        ]);
        // The reader's rejects and the activities the rules refused, by line (none last), the reader's first.
        expect(shown.firstRejects.map((r) => [r.line, r.kind, r.reason])).toEqual([
          [2, 'record', 'MALFORMED'],
          [3, 'record', 'BAD_AMOUNT'],
          [7, 'record', 'MALFORMED'],
          [7, 'record', 'BAD_CURRENCY'],
          [null, 'record', 'NOT_FOUND'],
          [null, 'record', 'DUPLICATE'],
          [null, 'activity', 'NAME_MISMATCH'],
          [null, 'activity', 'MEMBER_UNKNOWN'],
          [null, 'activity', ''],
        ]);
        expect(shown.more).toBe(0);
      } finally {
        await t.cleanup();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

/** `redeye files …` in-process against a test database; stdout lines and the exit code. */
async function files(config: string, url: string, args: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const code = await main(['node', 'redeye', '--config', config, 'files', ...args], {
    output: { out: (s) => out.push(s), err: (s) => out.push(s) },
    env: { REDEYE_DATABASE_URL: url, REDEYE_LOG_LEVEL: 'silent' },
  });
  return { code, out: out.join('\n') };
}

for (const engine of availableEngines()) {
  describe(`redeye files: what became of each line (${engine})`, () => {
    const now = '2026-03-11T01:00:00.000Z';
    let t: TestDb;
    let dir: string;
    let config: string;
    beforeEach(async () => {
      t = await createTestDatabase(engine);
      dir = mkdtempSync(join(tmpdir(), 'redeye-files-cli-'));
      config = join(dir, 'redeye.config.yaml');
      // The folders in the test's own directory: copies are shown where this configuration keeps them.
      writeFileSync(config, example.replaceAll('../var/', './'));
    });
    afterEach(async () => {
      await t.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    async function file(id: number, feed: string, name: string): Promise<void> {
      await t.db.knex('files').insert({
        id,
        direction: 'in',
        feed,
        name,
        size: 100,
        sha256: 'b'.repeat(64),
        verdict: 'accepted',
        business_date: '2026-03-11',
        created_at: now,
      });
    }

    it('shows the copy Redeye keeps of a file, and says when the retention step has removed it', async () => {
      const landed = join(dir, 'landing', 'flown', '2026-03-11');
      mkdirSync(landed, { recursive: true });
      const kept = join(landed, 'FLOWN_20260311.csv');
      writeFileSync(kept, 'ticket_number\n');
      const gone = join(dir, 'landing', 'flown', '2025-11-01', 'FLOWN_20251101.csv');
      // Stored relative to the landing area, as fetch stores it now; absolute, as before; and absolute
      // in another installation's landing area (a database restored here from it).
      const moved = '/srv/old-redeye/var/landing/flown/2026-03-11/FLOWN_20260311.csv';
      for (const [id, name, stored] of [
        [31, 'FLOWN_20260311.csv', 'flown/2026-03-11/FLOWN_20260311.csv'],
        [32, 'FLOWN_20251101.csv', gone],
        [33, 'FLOWN_20260311.csv', moved],
      ] as const) {
        await file(id, 'flown', name);
        await t.db.knex('files').where({ id }).update({ local_path: stored });
      }
      expect((await files(config, t.url, ['show', '31'])).out).toContain(`\n  copy ${kept}\n`);
      expect((await files(config, t.url, ['show', '32'])).out).toContain(
        `\n  copy ${gone} (removed: retention, or by hand)\n`,
      );
      expect((await files(config, t.url, ['show', '33'])).out).toContain(`\n  copy ${kept}\n`);
    });

    it('prints in JSON the copy the text names: absolute in this installation, or null and why', async () => {
      const kept = join(dir, 'landing', 'flown', '2026-03-11', 'FLOWN_20260311.csv');
      const odd = '/srv/by-hand/FLOWN_20260312.csv';
      for (const [id, name, stored] of [
        [31, 'FLOWN_20260311.csv', 'flown/2026-03-11/FLOWN_20260311.csv'],
        [32, 'FLOWN_20260311.csv', kept],
        [33, 'FLOWN_20260311.csv', '/srv/old-redeye/var/landing/flown/2026-03-11/FLOWN_20260311.csv'],
        [34, 'FLOWN_20260312.csv', odd],
        [35, 'FLOWN_20260313.csv', null],
      ] as const) {
        await file(id, 'flown', name);
        await t.db.knex('files').where({ id }).update({ local_path: stored });
      }
      const refused = `[FILE_COPY_OUTSIDE] file 34 (FLOWN_20260312.csv): the registry's copy ${odd} lies outside ${join(dir, 'landing')} (paths.landing) and is not where Redeye lays out its files; it is left untouched`;
      const listed = await files(config, t.url, ['list', '--json']);
      expect(listed.code).toBe(0);
      expect(
        listed.out
          .split('\n')
          .map((l) => JSON.parse(l) as { id: number; localPath: string | null; localPathRefused?: string })
          .map(({ id, localPath, localPathRefused }) => ({ id, localPath, localPathRefused })),
      ).toEqual([
        { id: 35, localPath: null, localPathRefused: undefined },
        { id: 34, localPath: null, localPathRefused: refused },
        { id: 33, localPath: kept, localPathRefused: undefined },
        { id: 32, localPath: kept, localPathRefused: undefined },
        { id: 31, localPath: kept, localPathRefused: undefined },
      ]);
      for (const [id, localPath] of [
        [31, kept],
        [33, kept],
        [34, null],
      ] as const) {
        const shown = await files(config, t.url, ['show', String(id), '--json']);
        expect(shown.code).toBe(0);
        expect((JSON.parse(shown.out) as { file: unknown }).file).toMatchObject({ id, localPath });
      }
      const shown = JSON.parse((await files(config, t.url, ['show', '34', '--json'])).out) as {
        file: { localPathRefused?: string };
      };
      expect(shown.file.localPathRefused).toBe(refused);
    });

    it('shows an export withdrawn before delivery: its verdict, why, and that its copy is gone for that reason', async () => {
      const path = join(dir, 'outbox', 'invoice', 'XX1_ISXML_202611_0002.xml');
      await t.db.knex('files').insert({
        id: 41,
        direction: 'out',
        feed: 'invoice',
        name: 'XX1_ISXML_202611_0002.xml',
        size: 100,
        sha256: 'c'.repeat(64),
        local_path: 'invoice/XX1_ISXML_202611_0002.xml',
        business_date: '2026-11-30',
        sequence: 2,
        verdict: 'withdrawn',
        reason: 'NOTHING_TO_SEND',
        message: 'every invoice of 2026-11 it carried has come to nothing',
        export_key: 'invoice:-:2026-11#2',
        created_at: now,
      });
      const shown = (await files(config, t.url, ['show', '41'])).out;
      expect(shown).toContain(
        '\n  verdict withdrawn (NOTHING_TO_SEND): every invoice of 2026-11 it carried has come to nothing',
      );
      expect(shown).toContain('\n  business date 2026-11-30, delivered never\n');
      expect(shown).toContain(`\n  copy ${path} (removed: withdrawn, never sent)\n`);
    });

    it('lists the activities the rules refused with line, member and activity key, and counts no points for them', async () => {
      await file(1015, 'redemptions', 'REDEMPTIONS_20260311.csv');
      const activity = (
        line: number,
        status: string,
        reason: string | null,
        points: number,
        member: string,
      ) => ({
        activity_key: `RDM:XX:R-${line}`,
        type: 'REDEMPTION',
        member_number: member,
        activity_date: '2026-03-10',
        business_date: '2026-03-11',
        status,
        reason,
        points,
        source_file_id: 1015,
        source_line: line,
        updated_at: now,
      });
      await t.db
        .knex('activities')
        .insert([
          activity(2, 'POSTED', null, -5_000, '1000000016'),
          activity(3, 'REJECTED', 'INSUFFICIENT_POINTS', -100_064_999, '1000000024'),
          activity(5, 'REJECTED', 'CHECK_DIGIT', -1_000, '1000000025'),
          activity(6, 'REJECTED', 'INSUFFICIENT_POINTS', -2_000, '1000000032'),
        ]);
      await t.db.knex('rejects').insert({
        file_id: 1015,
        feed: 'redemptions',
        line: 4,
        field: 'points',
        reason: 'BAD_AMOUNT',
        message: 'points: not a number',
        member_number: '1000000040',
        record_ref: 'R-4',
        business_date: '2026-03-11',
        created_at: now,
      });

      const json = await files(config, t.url, ['show', '1015', '--json']);
      expect(json.code).toBe(0);
      const shown = JSON.parse(json.out) as {
        outcomes: Array<{ status: string; reason: string | null; n: unknown; points: unknown }>;
        firstRejects: unknown[];
        more: number;
      };
      expect(shown.outcomes.map((o) => [o.status, o.reason, Number(o.n), Number(o.points)])).toEqual([
        ['POSTED', null, 1, -5_000],
        ['REJECTED', 'CHECK_DIGIT', 1, 0],
        ['REJECTED', 'INSUFFICIENT_POINTS', 2, 0],
      ]);
      expect(shown.firstRejects).toEqual([
        {
          line: 3,
          kind: 'activity',
          reason: 'INSUFFICIENT_POINTS',
          member: '1000000024',
          ref: 'RDM:XX:R-3',
          field: null,
          message: 'the redemption is larger than the available balance',
        },
        {
          line: 4,
          kind: 'record',
          reason: 'BAD_AMOUNT',
          member: '1000000040',
          ref: 'R-4',
          field: 'points',
          message: 'points: not a number',
        },
        expect.objectContaining({ line: 5, kind: 'activity', reason: 'CHECK_DIGIT', member: '1000000025' }),
        expect.objectContaining({
          line: 6,
          kind: 'activity',
          reason: 'INSUFFICIENT_POINTS',
          ref: 'RDM:XX:R-6',
        }),
      ]);
      expect(shown.more).toBe(0);

      const text = await files(config, t.url, ['show', '1015']);
      expect(text.code).toBe(0);
      expect(text.out).toMatch(/REJECTED\s+INSUFFICIENT_POINTS\s+2\s+0\n/);
      expect(text.out).not.toContain('100,064,999');
      expect(text.out).toMatch(/\n\s*3\s+activity\s+INSUFFICIENT_POINTS\s+1000000024\s+RDM:XX:R-3\s+/);
      expect(text.out).toMatch(
        /\n\s*4\s+record\s+BAD_AMOUNT\s+1000000040\s+R-4\s+points\s+points: not a number/,
      );
      expect(text.out).not.toMatch(/more rejected/);
    });

    it('says what is true of a refused activity: the survivor of a merged account, and a cap that left nothing', async () => {
      await file(21, 'partner', 'DRIVE_20260311_3.csv');
      await t.db.knex('members').insert([
        { number: '1000000016', status: 'ACTIVE', tier: 'MEMBER', created_at: now },
        {
          number: '1000000024',
          status: 'CLOSED',
          tier: 'MEMBER',
          merged_into: '1000000016',
          created_at: now,
        },
        { number: '1000000032', status: 'CLOSED', tier: 'MEMBER', created_at: now },
      ]);
      const refused = (line: number, reason: string, member: string) => ({
        activity_key: `PTR:DRIVE:D-${line}`,
        type: 'PARTNER',
        member_number: member,
        activity_date: '2026-03-10',
        business_date: '2026-03-11',
        status: 'REJECTED',
        reason,
        points: 0,
        source_file_id: 21,
        source_line: line,
        updated_at: now,
      });
      // 1000000024 was merged into 1000000040 when line 2 was rejected, and that survivor into
      // 1000000016 since: the partner's response named 1000000040, and so does everything else.
      await t.db
        .knex('activities')
        .insert([
          { ...refused(2, 'ACCOUNT_CLOSED', '1000000024'), merged_into: '1000000040' },
          refused(3, 'ACCOUNT_CLOSED', '1000000032'),
          refused(4, 'CAP_EXCEEDED', '1000000016'),
        ]);
      const json = await files(config, t.url, ['show', '21', '--json']);
      const shown = JSON.parse(json.out) as { firstRejects: Array<{ line: number; message: string }> };
      expect(shown.firstRejects.map((r) => [r.line, r.message])).toEqual([
        [2, 'account merged into 1000000040'],
        [3, 'account closed or merged'],
        [4, 'a per-activity or per-period cap left nothing to credit: no points posted'],
      ]);
    });

    it('says how many rejected lines it does not show, in text and JSON', async () => {
      await file(7, 'partner', 'DRIVE_20260311_1.csv');
      await t.db.knex('rejects').insert(
        Array.from({ length: 40 }, (_, i) => ({
          file_id: 7,
          feed: 'partner',
          line: i + 2,
          field: 'amount',
          reason: 'BAD_AMOUNT',
          message: 'amount: not a number',
          business_date: '2026-03-11',
          created_at: now,
        })),
      );
      await t.db.knex('activities').insert(
        Array.from({ length: 30 }, (_, i) => ({
          activity_key: `PTR:DRIVE:D-${i}`,
          type: 'PARTNER',
          member_number: '1000000016',
          activity_date: '2026-03-10',
          business_date: '2026-03-11',
          status: 'REJECTED',
          reason: 'NAME_MISMATCH',
          points: 500,
          source_file_id: 7,
          source_line: 100 + i,
          updated_at: now,
        })),
      );
      const json = await files(config, t.url, ['show', '7', '--json']);
      const shown = JSON.parse(json.out) as { firstRejects: Array<{ line: number }>; more: number };
      expect(shown.firstRejects).toHaveLength(50);
      expect(shown.firstRejects.at(-1)!.line).toBe(109);
      expect(shown.more).toBe(20);
      const text = await files(config, t.url, ['show', '7']);
      expect(text.out).toContain('first 50 rejected lines of 70');
      expect(text.out).toMatch(/… and 20 more rejected line\(s\) not shown$/);
    });

    it('files list prints ids as files show reads them, and files show takes one printed with separators', async () => {
      await file(1015, 'partner', 'DRIVE_20260311_2.csv');
      const list = await files(config, t.url, ['list']);
      expect(list.code).toBe(0);
      expect(list.out).toMatch(/\n1015\s+in\s+partner\s+DRIVE_20260311_2\.csv/);
      expect(list.out).not.toContain('1,015');
      for (const id of ['1015', '1,015']) {
        const shown = await files(config, t.url, ['show', id]);
        expect(shown.code).toBe(0);
        expect(shown.out).toMatch(/^file 1015: received DRIVE_20260311_2\.csv/);
      }
      expect((await files(config, t.url, ['show', '10,15'])).code).toBe(2);
    });
  });
}

for (const engine of availableEngines()) {
  describe(`redeye files list (${engine})`, () => {
    const now = '2026-10-16T01:00:00.000Z';
    let t: TestDb;
    let dir: string;
    let config: string;
    beforeEach(async () => {
      t = await createTestDatabase(engine);
      dir = mkdtempSync(join(tmpdir(), 'redeye-files-list-'));
      config = join(dir, 'redeye.config.yaml');
      writeFileSync(config, example);
    });
    afterEach(async () => {
      await t.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    const row = (i: number, over: Record<string, unknown> = {}) => ({
      direction: 'in',
      feed: 'flown',
      name: `FLOWN_${String(i).padStart(5, '0')}.csv`,
      size: 100,
      sha256: i.toString(16).padStart(64, '0'),
      verdict: 'accepted',
      business_date: '2026-10-16',
      counts: JSON.stringify({ records: i, rejects: 1 }),
      created_at: now,
      ...over,
    });

    async function list(args: string[], drains?: { n: number }) {
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(['node', 'redeye', '--config', config, 'files', 'list', ...args], {
        output: {
          out: (s) => out.push(s),
          err: (s) => err.push(s),
          drain: async () => {
            if (drains) drains.n += 1;
          },
        },
        env: { REDEYE_DATABASE_URL: t.url, REDEYE_LOG_LEVEL: 'silent' },
      });
      return { code, out, err: err.join('\n') };
    }

    it('lists every file, not the first 1,000: in pages, waiting for the output between them, text and JSON', async () => {
      for (let i = 1; i <= 1083; i += 200)
        await t.db
          .knex('files')
          .insert(Array.from({ length: Math.min(200, 1084 - i) }, (_, k) => row(i + k)));
      const drains = { n: 0 };
      const json = await list(['--json'], drains);
      expect(json.code).toBe(0);
      expect(json.out).toHaveLength(1083);
      expect(json.out.map((l) => (JSON.parse(l) as { id: number }).id)).toEqual(
        Array.from({ length: 1083 }, (_, k) => 1083 - k),
      );
      expect(drains.n).toBe(3); // 500, 500, 83
      const text = await list(['--date', '2026-10-16'], drains);
      expect(text.out).toHaveLength(2 + 1083);
      expect(text.out[0]).toBe(
        '  id  dir  feed   name             date        verdict   reason  records  rejects',
      );
      expect(text.out[2]).toBe(
        '1083  in   flown  FLOWN_01083.csv  2026-10-16  accepted            1,083        1',
      );
      expect(text.out.at(-1)).toBe(
        '   1  in   flown  FLOWN_00001.csv  2026-10-16  accepted                1        1',
      );
      expect(drains.n).toBe(6);
    });

    it('shows what an outgoing file carries as its records, and no rejects, instead of 0 and 0', async () => {
      await t.db.knex('files').insert([
        row(1, {
          name: 'DRIVE_20261016_1.csv',
          feed: 'partner',
          counts: JSON.stringify({ records: 4, rejects: 2 }),
        }),
        row(2, {
          direction: 'out',
          feed: 'mailing',
          name: 'TIER_CHANGE_20261016.csv',
          verdict: 'delivered',
          counts: JSON.stringify({ recipients: 2 }),
        }),
        row(3, {
          direction: 'out',
          feed: 'partner-response',
          name: 'DRIVE_20261016_1.resp.csv',
          verdict: 'written',
          counts: JSON.stringify({ accepted: 2, rejected: 2, details: 4, points: 900 }),
        }),
        row(4, {
          direction: 'out',
          feed: 'hotel-response',
          name: 'GRANDSTAY_RS.xml',
          verdict: 'written',
          counts: JSON.stringify({ warnings: 0, errors: 0 }),
        }),
      ]);
      const r = await list([]);
      expect(r.code).toBe(0);
      expect(r.out.slice(2).map((l) => l.trim().split(/\s{2,}/))).toEqual([
        ['4', 'out', 'hotel-response', 'GRANDSTAY_RS.xml', '2026-10-16', 'written'],
        ['3', 'out', 'partner-response', 'DRIVE_20261016_1.resp.csv', '2026-10-16', 'written', '4'],
        ['2', 'out', 'mailing', 'TIER_CHANGE_20261016.csv', '2026-10-16', 'delivered', '2'],
        ['1', 'in', 'partner', 'DRIVE_20261016_1.csv', '2026-10-16', 'accepted', '4', '2'],
      ]);
    });

    it('refuses an unknown --feed as parse does (exit 2), and takes incoming feeds and export kinds', async () => {
      await t.db
        .knex('files')
        .insert([
          row(1),
          row(2, { direction: 'out', feed: 'alliance-claims', name: 'XX_LH_20261016_0001.claims.xml' }),
        ]);
      const bogus = await list(['--feed', 'bogus']);
      expect(bogus.code).toBe(2);
      expect(bogus.out).toEqual([]);
      expect(bogus.err).toBe(
        'error [USAGE]: unknown feed "bogus"; incoming feeds: ftl, flown, partner, hotel, alliance-claims, ' +
          'alliance-results, redemptions, members, fx, retro-claims; outgoing (export kinds): partner-response, ' +
          'hotel-response, alliance-claims, alliance-results, invoice, invoice-statement, mailing',
      );
      for (const feed of ['partner-response', 'mailing', 'invoice'])
        expect(await list(['--feed', feed])).toMatchObject({
          code: 0,
          out: [expect.stringMatching(/\n\(none\)$/)],
        });
      const claims = await list(['--feed', 'alliance-claims', '--json']);
      expect(claims.out.map((l) => (JSON.parse(l) as { name: string }).name)).toEqual([
        'XX_LH_20261016_0001.claims.xml',
      ]);
    });
  });
}
