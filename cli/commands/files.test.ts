/**
 * `redeye files show` lists a file's outcomes and rejects in one order on SQLite and PostgreSQL: grouped
 * rows come in PostgreSQL's plan order without an ORDER BY, and the engines put NULL at opposite ends of
 * an ascending sort.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { availableEngines, createTestDatabase } from '../../test/harness/db.js';
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
          firstRejects: Array<{ line: number | null; reason: string }>;
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
        expect(shown.firstRejects.map((r) => [r.line, r.reason])).toEqual([
          [2, 'MALFORMED'],
          [3, 'BAD_AMOUNT'],
          [7, 'MALFORMED'],
          [7, 'BAD_CURRENCY'],
          [null, 'NOT_FOUND'],
          [null, 'DUPLICATE'],
        ]);
      } finally {
        await t.cleanup();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
