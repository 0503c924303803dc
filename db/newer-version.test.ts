/**
 * A database a newer Redeye has migrated holds migrations this version does not know, and tables its
 * queries were not written for: every opening of it is refused (DATABASE_NEWER, exit 2), `db migrate`'s
 * and `db status`'s included, naming the database and the migrations, before anything reads or writes.
 */
import { describe, expect, it } from 'vitest';
import { availableEngines, createTestDatabase, type TestDb } from '../test/harness/db.js';
import {
  DatabaseNotReadyError,
  openDb,
  refuseNewerDatabase,
  type Db,
  type OpenOptions,
} from './connection.js';
import { MIGRATION_CONFIG, MIGRATION_NAMES, migrateLatest, migrationStatus, rollbackAll } from './migrate.js';

async function failure(fn: () => Promise<unknown>): Promise<DatabaseNotReadyError> {
  try {
    await fn();
  } catch (error) {
    return error as DatabaseNotReadyError;
  }
  throw new Error('expected a failure');
}

/** What a newer version's `db migrate` leaves behind: two migrations this one has never heard of. */
async function migrateAsNewer(t: TestDb): Promise<void> {
  await t.db.knex(MIGRATION_CONFIG.tableName).insert(
    ['100_later_still', '099_from_a_newer_redeye'].map((name) => ({
      name,
      batch: 2,
      migration_time: new Date(),
    })),
  );
}

for (const engine of availableEngines()) {
  describe(`a database migrated by a newer Redeye, on ${engine}`, () => {
    it('is refused by every opening, whatever it asks, naming the database and the unknown migrations', async () => {
      const t = await createTestDatabase(engine);
      const opened: Db[] = [];
      const open = (options: OpenOptions) => {
        const db = openDb(t.url, options);
        opened.push(db);
        return db;
      };
      try {
        await migrateAsNewer(t);
        const where = t.db.file === undefined ? t.db.displayUrl : `at ${t.db.file}`;
        const message =
          `the database ${where} was migrated by a newer Redeye ` +
          '(unknown: 099_from_a_newer_redeye, 100_later_still): install the version that applied them, ' +
          'or a later one; nothing was done';
        const variants: OpenOptions[] = [
          { requireMigrated: true },
          // What `db status` opens with, and `db migrate`.
          { requireMigrated: false },
          { requireMigrated: false, create: true },
          ...(engine === 'sqlite' ? [{ requireMigrated: true, readonly: true }] : []),
        ];
        for (const options of variants) {
          const e = await failure(() => open(options).knex('members').first());
          expect(e, JSON.stringify(options)).toBeInstanceOf(DatabaseNotReadyError);
          expect(e).toMatchObject({ code: 'DATABASE_NEWER', exitCode: 2, message });
        }
        // knex's own check ("the migration directory is corrupt") never gets its turn.
        for (const step of [migrateLatest, migrationStatus, rollbackAll]) {
          const e = await failure(() => step(open({ requireMigrated: false })));
          expect(e).toMatchObject({ code: 'DATABASE_NEWER', message });
        }
        // A connection opened before the upgrade (a daemon's) is refused when it asks again.
        expect(await failure(() => refuseNewerDatabase(t.db))).toMatchObject({
          code: 'DATABASE_NEWER',
          message,
        });
        expect(await t.db.knex(MIGRATION_CONFIG.tableName).count({ n: '*' }).first()).toEqual({
          n: MIGRATION_NAMES.length + 2,
        });
      } finally {
        for (const db of opened) await db.close();
        await t.cleanup();
      }
    });

    it('an up-to-date database, or one with migrations pending, is not taken for a newer one', async () => {
      const t = await createTestDatabase(engine, { migrate: false });
      try {
        await refuseNewerDatabase(t.db);
        await t.db.knex.migrate.up(MIGRATION_CONFIG);
        await refuseNewerDatabase(t.db);
        await migrateLatest(t.db);
        await refuseNewerDatabase(t.db);
        expect(await migrationStatus(t.db)).toEqual({ applied: MIGRATION_NAMES, pending: [] });
      } finally {
        await t.cleanup();
      }
    });
  });
}
