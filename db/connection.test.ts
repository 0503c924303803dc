import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createTestDatabase, type TestDb } from '../test/harness/db.js';

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
