/**
 * PostgreSQL sessions read dates and times as Redeye writes them whatever the database's defaults: dates
 * are passed through as the server writes them, so an `ALTER DATABASE … SET datestyle = 'SQL, DMY'` made
 * them `31/05/2026` until every connection pinned DateStyle (and TimeZone) itself.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { availableEngines, createTestDatabase } from '../test/harness/db.js';
import { openDb } from './connection.js';

if (availableEngines().includes('postgres')) {
  describe('a PostgreSQL database whose defaults are not ISO', () => {
    it('reads a date column back as YYYY-MM-DD and a timestamp as ISO UTC under DateStyle SQL, DMY and a non-UTC zone', async () => {
      const t = await createTestDatabase('postgres');
      const db = openDb(t.url, { poolMax: 2 });
      try {
        const name = new URL(t.url).pathname.slice(1);
        await t.db.knex.raw(`ALTER DATABASE ${name} SET datestyle = 'SQL, DMY'`);
        await t.db.knex.raw(`ALTER DATABASE ${name} SET timezone = 'Asia/Vladivostok'`);
        // The defaults apply to sessions opened from now on (db has opened none yet): a plain client sees them.
        const plain = new pg.Client({ connectionString: t.url });
        await plain.connect();
        try {
          const shown = await plain.query<{ d: string }>(`SELECT date '2026-05-31'::text AS d`);
          expect(shown.rows[0]!.d).toBe('31/05/2026');
        } finally {
          await plain.end();
        }
        await db.knex('fx_rates').insert({ rate_date: '2026-05-31', currency: 'USD', rate: '1.0800' });
        await db.knex('members').insert({
          number: '1000000016',
          status: 'ACTIVE',
          tier: 'MEMBER',
          birth_date: '1980-02-03',
          created_at: '2026-05-31T23:30:00.000Z',
        });
        expect(await db.knex('fx_rates').first('rate_date')).toEqual({ rate_date: '2026-05-31' });
        expect(await db.knex('members').first('birth_date', 'created_at')).toEqual({
          birth_date: '1980-02-03',
          created_at: '2026-05-31T23:30:00.000Z',
        });
        // Every connection of the pool, not only the first: two held at once are two sessions.
        const sessions = await db.knex.transaction((a) =>
          db.knex.transaction(async (b) =>
            Promise.all(
              [a, b].map(async (q) => {
                const r = (await q.raw('SHOW datestyle')) as { rows: Array<{ DateStyle: string }> };
                const z = (await q.raw('SHOW timezone')) as { rows: Array<{ TimeZone: string }> };
                const d = (await q.raw(`SELECT date '2026-05-31' AS d`)) as { rows: Array<{ d: string }> };
                return [r.rows[0]!.DateStyle, z.rows[0]!.TimeZone, d.rows[0]!.d];
              }),
            ),
          ),
        );
        expect(sessions).toEqual([
          ['ISO, YMD', 'UTC', '2026-05-31'],
          ['ISO, YMD', 'UTC', '2026-05-31'],
        ]);
      } finally {
        await db.close();
        await t.cleanup();
      }
    });
  });
}
