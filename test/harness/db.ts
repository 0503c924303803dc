/**
 * Real databases for tests: a fresh SQLite file per call, and a fresh PostgreSQL database per call on
 * the run's cluster. Suites written with `eachDatabase` run the same assertions on both engines.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { openDb, type Db } from '../../db/connection.js';
import { migrateLatest } from '../../db/migrate.js';
import { insertMember } from '../../ledger/members.js';

export interface TestDb {
  db: Db;
  url: string;
  cleanup(): Promise<void>;
}

export type Engine = 'sqlite' | 'postgres';

export function availableEngines(): Engine[] {
  return inject('pgUrl') ? ['sqlite', 'postgres'] : ['sqlite'];
}

export async function createTestDatabase(
  engine: Engine,
  options: { migrate?: boolean } = {},
): Promise<TestDb> {
  const migrate = options.migrate ?? true;
  if (engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'redeye-test-'));
    const url = `sqlite:${join(dir, 'redeye.sqlite')}`;
    const db = openDb(url);
    if (migrate) await migrateLatest(db);
    return {
      db,
      url,
      cleanup: async () => {
        await db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const base = inject('pgUrl');
  if (!base) throw new Error('PostgreSQL is not available in this test run');
  const name = `redeye_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = base.replace(/\/[^/]*$/, `/${name}`);
  const db = openDb(url);
  if (migrate) await migrateLatest(db);
  return {
    db,
    url,
    cleanup: async () => {
      await db.close();
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Active members under placeholder names: owners for ledger tests' accounts, nothing more. */
export async function enrolPlain(db: Db, ...numbers: string[]): Promise<void> {
  for (const number of numbers)
    await insertMember(db.knex, { number, status: 'ACTIVE', tier: 'MEMBER', surname: 'X', givenName: 'Y' });
}
