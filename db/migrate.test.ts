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
