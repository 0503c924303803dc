/**
 * A file held for an operator (a `conflict`: another file under a name received before) waited for a
 * decision no command could make: the partner's corrected file was never read. `redeye files release`
 * and `redeye files discard` now decide it, and the registry keeps who decided what, when and why, for
 * `files show` and for the auditors. Files decided before this migration have none.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('files', (t) => {
    /** `released` (read as a new file) or `discarded` (never read). */
    t.string('decision', 12).nullable();
    /** Who decided: the operator's login name as the command saw it. */
    t.string('decided_by', 128).nullable();
    t.timestamp('decided_at', { useTz: true }).nullable();
    /** The operator's reason (required to discard). */
    t.text('decision_reason').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  // Plain DROP COLUMN on both engines: knex rebuilds a SQLite table to drop a column, and dropping
  // `files`, which rejects, activities and postings reference, fails their foreign keys.
  for (const column of ['decision_reason', 'decided_at', 'decided_by', 'decision'])
    await knex.raw(`ALTER TABLE files DROP COLUMN ${column}`);
}
