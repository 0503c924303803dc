import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { createTestDatabase, type TestDb } from '../test/harness/db.js';
import { RedeyeError } from '../lib/errors.js';
import { DatabaseNotReadyError, openDb, type Db } from './connection.js';
import { MIGRATION_CONFIG, MIGRATION_NAMES, migrateLatest } from './migrate.js';

// The SQLite client reads rows as arrays and builds the objects itself (db/connection.ts): what a query
// returns must be exactly what knex over better-sqlite3 returned before.
describe('rows read through the SQLite client', () => {
  let t: TestDb;
  beforeEach(async () => {
    t = await createTestDatabase('sqlite', { migrate: false });
    await t.db.knex.schema.createTable('things', (table) => {
      table.increments('id');
      table.string('name');
      table.integer('points');
    });
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it('gives plain objects with every column, in order, and null for NULL', async () => {
    await t.db.knex('things').insert([
      { name: 'IVANOV', points: 1500 },
      { name: null, points: null },
    ]);
    const rows = await t.db.knex('things').orderBy('id');
    expect(rows).toEqual([
      { id: 1, name: 'IVANOV', points: 1500 },
      { id: 2, name: null, points: null },
    ]);
    expect(Object.keys(rows[0]!)).toEqual(['id', 'name', 'points']);
    expect(Object.getPrototypeOf(rows[0])).toBe(Object.prototype);
    expect(await t.db.knex('things').where({ id: 2 }).first('name')).toEqual({ name: null });
    expect(await t.db.knex('things').pluck('points')).toEqual([1500, null]);
  });

  it('keeps the last of two columns with the same name, as better-sqlite3 does', async () => {
    await t.db.knex('things').insert({ name: 'A', points: 7 });
    const rows = await t.db.knex.raw('SELECT id AS x, name AS x, points FROM things');
    expect(rows).toEqual([{ x: 'A', points: 7 }]);
  });

  it('makes a column named __proto__ a column, never the prototype', async () => {
    await t.db.knex('things').insert({ name: 'A', points: 7 });
    const [row] = (await t.db.knex.raw('SELECT name AS "__proto__", points FROM things')) as Array<
      Record<string, unknown>
    >;
    expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(row, '__proto__')?.value).toBe('A');
    expect(row!.points).toBe(7);
  });

  it('sees a column added after the same query was first run', async () => {
    await t.db.knex('things').insert({ name: 'A', points: 7 });
    expect(await t.db.knex('things').select('*')).toEqual([{ id: 1, name: 'A', points: 7 }]);
    await t.db.knex.schema.alterTable('things', (table) => table.string('tier').defaultTo('MEMBER'));
    expect(await t.db.knex('things').select('*')).toEqual([{ id: 1, name: 'A', points: 7, tier: 'MEMBER' }]);
  });

  it('returns what was written, for any names and numbers', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ name: fc.option(fc.string()), points: fc.option(fc.integer()) }), {
          maxLength: 20,
        }),
        async (things) => {
          await t.db.knex('things').delete();
          if (things.length > 0) await t.db.knex('things').insert(things);
          const rows = await t.db.knex('things').orderBy('id').select('name', 'points');
          expect(rows).toEqual(things);
        },
      ),
      { numRuns: 50 },
    );
  });
});

// A multi-row statement inside a transaction journals the pages it changes so that a failing row undoes
// only that statement; past 64 KiB SQLite moved that journal to a temporary file for the rest of the
// transaction, and accrue wrote 9.4 GB of it for 200,000 activities. Write batches keep it in memory.
describe.runIf(existsSync('/proc/self/fd'))('statement journals of write batches on SQLite', () => {
  let t: TestDb;
  beforeEach(async () => {
    t = await createTestDatabase('sqlite', { migrate: false });
    const { knex } = t.db;
    await knex.schema.createTable('members', (table) => table.increments('id'));
    await knex.schema.createTable('activities', (table) => {
      table.increments('id');
      table.integer('member_id').references('id').inTable('members');
      table.string('remark', 200).index();
    });
    await knex('members').insert(Array.from({ length: 20 }, (_, i) => ({ id: i + 1 })));
    for (let i = 0; i < 4_000; i += 400) {
      await knex('activities').insert(
        Array.from({ length: 400 }, (_, j) => ({ member_id: 1, remark: `${i + j}`.padStart(120, 'x') })),
      );
    }
  });
  afterEach(async () => {
    await t.cleanup();
  });

  /** SQLite's temporary files this process has open (unlinked as soon as opened, named etilqs_…). */
  const temporaryFilesOpen = () =>
    readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).includes('etilqs_');
      } catch {
        return false;
      }
    }).length;

  // Changes a foreign key on every row in one statement: several hundred KB of journal.
  const moveEveryActivity = (trx: Knex.Transaction) =>
    trx('activities').update({ member_id: trx.raw('(id % 20) + 1'), remark: trx.raw("remark || 'y'") });

  it('keeps the journal of a batch in memory, where a plain knex transaction writes it to a file', async () => {
    let inBatch = -1;
    let tempStore: unknown;
    await t.db.transaction(async (trx) => {
      await moveEveryActivity(trx);
      inBatch = temporaryFilesOpen();
      tempStore = await trx.raw('PRAGMA temp_store');
    });
    let inPlain = -1;
    await t.db.knex.transaction(async (trx) => {
      await moveEveryActivity(trx);
      inPlain = temporaryFilesOpen();
    });
    expect(inBatch).toBe(0);
    expect(inPlain).toBeGreaterThan(0);
    // Sorts and temporary indexes inside the batch still spill to files, as everywhere else.
    expect(tempStore).toEqual([{ temp_store: 0 }]);
    expect(await t.db.knex.raw('PRAGMA temp_store')).toEqual([{ temp_store: 0 }]);
    expect(await t.db.knex('activities').where({ member_id: 1 }).count({ n: '*' })).toEqual([{ n: 200 }]);
  });

  it('still undoes only the failing statement of a batch', async () => {
    await t.db.transaction(async (trx) => {
      await expect(
        trx('activities').update({ member_id: trx.raw('CASE WHEN id = 3999 THEN 99 ELSE 2 END') }),
      ).rejects.toThrow(/FOREIGN KEY/);
      await trx('activities').where({ id: 1 }).update({ member_id: 3 });
    });
    const rows = await t.db.knex('activities').groupBy('member_id').select('member_id').count({ n: '*' });
    expect(rows).toEqual([
      { member_id: 1, n: 3_999 },
      { member_id: 3, n: 1 },
    ]);
  });
});

// A command pointed at the wrong path, an unmigrated database or a file that is no database gets an
// error naming the file, never a new empty database or a stack trace.
describe('opening a SQLite database that is not there or not ready', () => {
  let dir: string;
  let opened: Db[];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'redeye-open-'));
    opened = [];
  });
  afterEach(async () => {
    for (const db of opened) await db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const open = (file: string, options: Parameters<typeof openDb>[1] = {}) => {
    const db = openDb(`sqlite:${file}`, options);
    opened.push(db);
    return db;
  };
  const failure = async (fn: () => unknown): Promise<RedeyeError> => {
    try {
      await fn();
    } catch (error) {
      expect(error).toBeInstanceOf(RedeyeError);
      return error as RedeyeError;
    }
    throw new Error('expected an error');
  };

  it('without create, a missing file is an error naming it, and neither file nor folder is made', async () => {
    const file = join(dir, 'nonexistent', 'dir', 'x.sqlite');
    for (const options of [{ create: false }, { readonly: true }]) {
      const e = await failure(() => open(file, options));
      expect(e).toBeInstanceOf(DatabaseNotReadyError);
      expect(e).toMatchObject({ code: 'DATABASE_MISSING', exitCode: 2 });
      expect(e.message).toBe(
        `there is no database at ${file}: check database.url in the configuration and REDEYE_DATABASE_URL, or create it with \`redeye db migrate\``,
      );
    }
    expect(existsSync(join(dir, 'nonexistent'))).toBe(false);
    // `db migrate` creates it (the default).
    const db = open(file);
    await migrateLatest(db);
    expect(existsSync(file)).toBe(true);
  });

  it('with requireMigrated, a database without every migration is refused: run `redeye db migrate`', async () => {
    const file = join(dir, 'redeye.sqlite');
    const fresh = open(file, { requireMigrated: true });
    const none = await failure(() => fresh.knex('job_locks').select('*'));
    expect(none).toBeInstanceOf(DatabaseNotReadyError);
    expect(none).toMatchObject({ code: 'DATABASE_NOT_MIGRATED', exitCode: 2 });
    expect(none.message).toBe(
      `the database at ${file} is not migrated: run \`redeye db migrate\` (it has none of the migrations)`,
    );

    const partly = open(file);
    await partly.knex.migrate.up(MIGRATION_CONFIG);
    await partly.close();
    const pending = await failure(() =>
      open(file, { requireMigrated: true, create: false }).knex('files').first(),
    );
    expect(pending.message).toBe(
      `the database at ${file} is not migrated: run \`redeye db migrate\` (pending: ${MIGRATION_NAMES.slice(1).join(', ')})`,
    );
    const readonly = await failure(() =>
      open(file, { requireMigrated: true, readonly: true }).knex('files').first(),
    );
    expect(readonly.code).toBe('DATABASE_NOT_MIGRATED');

    await migrateLatest(open(file));
    expect(
      await open(file, { requireMigrated: true, create: false }).knex('files').count({ n: '*' }).first(),
    ).toEqual({
      n: 0,
    });
  });

  it('refuses a path that names a folder, read-only or not, as a setting to correct (exit 2), and leaves the folder as it was', async () => {
    const folder = join(dir, 'shared');
    mkdirSync(folder, { mode: 0o755 });
    for (const options of [{}, { create: false }, { readonly: true }]) {
      const e = await failure(() => open(folder, options));
      expect(e).toBeInstanceOf(DatabaseNotReadyError);
      expect(e).toMatchObject({ code: 'DATABASE_UNOPENABLE', exitCode: 2 });
      expect(e.message).toBe(
        `cannot open the database ${folder}: it is not a file (check database.url and REDEYE_DATABASE_URL)`,
      );
    }
    expect(statSync(folder).mode & 0o777).toBe(0o755);
  });

  it('refuses a URL of another scheme instead of making a SQLite file named after it (exit 2, password masked)', async () => {
    const e = await failure(async () => openDb(`mysql://u:secret@${dir}/x`));
    expect(e).toMatchObject({ code: 'CONFIG_INVALID', exitCode: 2 });
    expect(e.message).toBe(
      `mysql://u:***@${dir}/x: the database URL uses the scheme "mysql:", which Redeye does not support: ` +
        'expected sqlite:<path> (or a plain file path) or postgres://user:password@host:port/database (postgresql:// too)',
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a file that is not a database, or cannot be opened, is named in a one-line error and no stack is printed', async () => {
    const corrupt = join(dir, 'corrupt.sqlite');
    writeFileSync(corrupt, 'not a database: '.repeat(40));
    const printed = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const warned = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const e = await failure(() => open(corrupt, { create: false }).knex('postings').first());
      expect(e.code).toBe('SQLITE_NOTADB');
      expect(e.message).toBe(
        `cannot open the database ${corrupt} (file is not a database): it is not a SQLite database, or it is damaged`,
      );
      expect(e.context).toEqual({ database: `sqlite:${corrupt}` });
      const folder = join(dir, 'a-folder.sqlite');
      mkdirSync(folder);
      const f = await failure(() => open(folder, { readonly: true }).knex('postings').first());
      expect(f.message).toBe(
        `cannot open the database ${folder}: it is not a file (check database.url and REDEYE_DATABASE_URL)`,
      );
      expect([...printed.mock.calls, ...warned.mock.calls].flat().join('\n')).not.toMatch(
        /Acquire connection error| {4}at /,
      );
    } finally {
      printed.mockRestore();
      warned.mockRestore();
    }
  });
});
