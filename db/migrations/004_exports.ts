/**
 * What the exporters need beyond 001/002: the identity of each outbound file on its registry row, so a
 * rerun finds the file it wrote the first time (same sequence, same creation time, no second row), and
 * the indexes behind the exporters' joins (invoice lines reached activities by posting key until 006;
 * the daily claims file looks for activities not yet claimed).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('files', (t) => {
    /**
     * Outbound files: `<kind>:<partner or ->:<what it covers>`, e.g. `partner-response:-:file=812`,
     * `alliance-claims:LH:2026-11-26`. Unique, so two writers of the same export cannot both register it.
     */
    t.string('export_key', 200).nullable();
    t.unique(['export_key'], { indexName: 'files_export_key' });
  });
  await knex.schema.alterTable('activities', (t) => {
    t.index(['posting_key'], 'activities_posting_key');
  });
  await knex.schema.alterTable('alliance_claims', (t) => {
    t.index(['direction', 'activity_key'], 'alliance_claims_activity');
    t.index(['file_id'], 'alliance_claims_file');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('alliance_claims', (t) => {
    t.dropIndex(['file_id'], 'alliance_claims_file');
    t.dropIndex(['direction', 'activity_key'], 'alliance_claims_activity');
  });
  await knex.schema.alterTable('activities', (t) => {
    t.dropIndex(['posting_key'], 'activities_posting_key');
  });
  await knex.schema.alterTable('files', (t) => {
    t.dropUnique(['export_key'], 'files_export_key');
    t.dropColumn('export_key');
  });
}
