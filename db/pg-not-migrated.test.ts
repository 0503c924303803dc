/**
 * A command pointed at a PostgreSQL database that was never migrated, or only partly, is refused when it
 * connects (DATABASE_NOT_MIGRATED, exit 2), as on SQLite, instead of failing on the first missing table.
 */
import { describe, expect, it } from 'vitest';
import { availableEngines, createTestDatabase } from '../test/harness/db.js';
import { DatabaseNotReadyError, maskUrl, openDb, type Db } from './connection.js';
import { MIGRATION_CONFIG, MIGRATION_NAMES, migrateLatest } from './migrate.js';

async function failure(fn: () => Promise<unknown>): Promise<DatabaseNotReadyError> {
  try {
    await fn();
  } catch (error) {
    return error as DatabaseNotReadyError;
  }
  throw new Error('expected a failure');
}

if (availableEngines().includes('postgres')) {
  describe('a PostgreSQL database with migrations pending', () => {
    it('is refused by a command that needs it migrated, naming what is pending, until it is migrated', async () => {
      const t = await createTestDatabase('postgres', { migrate: false });
      const shown = maskUrl(t.url);
      const opened: Db[] = [];
      const open = (requireMigrated: boolean) => {
        const db = openDb(t.url, { requireMigrated });
        opened.push(db);
        return db;
      };
      try {
        const none = await failure(() => open(true).knex('job_locks').select('*'));
        expect(none).toBeInstanceOf(DatabaseNotReadyError);
        expect(none).toMatchObject({ code: 'DATABASE_NOT_MIGRATED', exitCode: 2 });
        expect(none.message).toMatch(
          /^the database postgres:\/\/\S+ is not migrated: run `redeye db migrate` \(it has none of the migrations\)$/,
        );

        await t.db.knex.migrate.up(MIGRATION_CONFIG);
        const partly = await failure(() => open(true).knex('files').first());
        expect(partly.message).toBe(
          `the database ${shown} is not migrated: run \`redeye db migrate\` (pending: ${MIGRATION_NAMES.slice(1).join(', ')})`,
        );
        // `db migrate` and `db status` open it without the check.
        expect(await open(false).knex('files').count({ n: '*' }).first()).toEqual({ n: 0 });

        await migrateLatest(t.db);
        expect(await open(true).knex('files').count({ n: '*' }).first()).toEqual({ n: 0 });
      } finally {
        for (const db of opened) await db.close();
        await t.cleanup();
      }
    });
  });
}
