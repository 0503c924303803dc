/* global process */
/**
 * Preloaded into `redeye` by the database-full fault test (NODE_OPTIONS=--import <this file>): every
 * SQLite connection the process opens gets SQLite's own `PRAGMA max_page_count =
 * $REDEYE_TEST_MAX_PAGE_COUNT`, so the database fills up the way a full disk fills it (SQLITE_FULL,
 * "database or disk is full") and Redeye's real code meets it. Nothing else of better-sqlite3 changes.
 */
import { createRequire } from 'node:module';

const limit = Number(process.env.REDEYE_TEST_MAX_PAGE_COUNT);
if (Number.isSafeInteger(limit) && limit > 0) {
  const require = createRequire(import.meta.url);
  const path = require.resolve('better-sqlite3');
  const Database = require(path);
  function LimitedDatabase(...args) {
    const db = new Database(...args);
    db.pragma(`max_page_count = ${limit}`);
    return db;
  }
  LimitedDatabase.prototype = Database.prototype;
  Object.setPrototypeOf(LimitedDatabase, Database);
  require.cache[path].exports = LimitedDatabase;
}
