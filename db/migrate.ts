import type { Db } from './connection.js';
import { migrationSource, migrations } from './migrations/index.js';

/** What knex needs to find and record the migrations. */
export const MIGRATION_CONFIG = { migrationSource, tableName: 'knex_migrations' };

export interface MigrationStatus {
  applied: string[];
  pending: string[];
}

/** Applies every pending migration; returns the names applied now. */
export async function migrateLatest(db: Db): Promise<string[]> {
  const [, applied] = (await db.knex.migrate.latest(MIGRATION_CONFIG)) as [number, string[]];
  return applied;
}

export async function migrationStatus(db: Db): Promise<MigrationStatus> {
  const [completed, pending] = (await db.knex.migrate.list(MIGRATION_CONFIG)) as [
    Array<{ name: string } | string>,
    Array<{ name: string } | string>,
  ];
  const name = (m: { name: string } | string) => (typeof m === 'string' ? m : m.name);
  return { applied: completed.map(name), pending: pending.map(name) };
}

export async function rollbackAll(db: Db): Promise<void> {
  await db.knex.migrate.rollback(MIGRATION_CONFIG, true);
}

export const MIGRATION_NAMES = migrations.map((m) => m.name);
