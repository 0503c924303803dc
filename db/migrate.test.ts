import { describe, expect, it } from 'vitest';
import { availableEngines, createTestDatabase } from '../test/harness/db.js';
import { migrateLatest, migrationStatus, MIGRATION_NAMES, rollbackAll } from './migrate.js';

for (const engine of availableEngines()) {
  describe(`migrations on ${engine}`, () => {
    it('apply from nothing, report their status, roll back cleanly and apply again', async () => {
      const t = await createTestDatabase(engine, { migrate: false });
      try {
        expect((await migrationStatus(t.db)).pending).toEqual(MIGRATION_NAMES);
        expect(await migrateLatest(t.db)).toEqual(MIGRATION_NAMES);
        expect(await migrationStatus(t.db)).toEqual({ applied: MIGRATION_NAMES, pending: [] });
        expect(await migrateLatest(t.db)).toEqual([]);
        await rollbackAll(t.db);
        expect((await migrationStatus(t.db)).applied).toEqual([]);
        expect(await migrateLatest(t.db)).toEqual(MIGRATION_NAMES);
      } finally {
        await t.cleanup();
      }
    });
  });
}

if (availableEngines().includes('postgres')) {
  describe('the PostgreSQL reporting role', () => {
    it('reads the ledger and member numbers but no personal column', async () => {
      const t = await createTestDatabase('postgres');
      try {
        await t.db.knex('members').insert({
          number: '1000000016',
          status: 'ACTIVE',
          tier: 'MEMBER',
          surname: 'IVANOV',
          email: 'ivan@example.org',
          created_at: new Date().toISOString(),
        });
        const asReporting = <T>(fn: (trx: import('knex').Knex.Transaction) => Promise<T>) =>
          t.db.knex.transaction(async (trx) => {
            await trx.raw('SET LOCAL ROLE redeye_reporting');
            return fn(trx);
          });
        expect(await asReporting((trx) => trx('members').select('number', 'tier'))).toEqual([
          { number: '1000000016', tier: 'MEMBER' },
        ]);
        expect(await asReporting((trx) => trx('postings').count({ n: '*' }))).toHaveLength(1);
        await expect(asReporting((trx) => trx('members').select('surname'))).rejects.toThrow(
          /permission denied/,
        );
        await expect(asReporting((trx) => trx('members').select('email'))).rejects.toThrow(
          /permission denied/,
        );
        await expect(asReporting((trx) => trx('activities').select('travel_surname'))).rejects.toThrow(
          /permission denied/,
        );
      } finally {
        await t.cleanup();
      }
    });
  });
}
