/**
 * An installation left on an older Redeye after a newer one migrated its database: every command is
 * refused before it reads or writes anything (exit 2, one line naming the database and the migrations
 * it does not know), `db status` and `db migrate` included, and the daemon does not start.
 */
import { describe, expect, it, vi } from 'vitest';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { useCliInstallation } from '../test/harness/cli-installation.js';
import { Scheduler } from '../jobs/schedule.js';

describe('an older redeye pointed at a database a newer one migrated', () => {
  const cli = useCliInstallation('redeye-newer-db-');
  const env = { REDEYE_NOW: '2026-06-05T02:30:00Z' };

  const newerMigrates = () =>
    cli.withDb(async (knex) => {
      await knex('knex_migrations').insert({
        name: '099_from_a_newer_redeye',
        batch: 2,
        migration_time: new Date(),
      });
      // A column this version would not fill: its inserts of members would fail half-way through a night.
      await knex.schema.alterTable('members', (t) => t.text('future_col').notNullable().defaultTo('x'));
    });

  it('refuses every command before it does anything, naming the database and what it does not know', async () => {
    await newerMigrates();
    const file = join(cli.dir, 'var', 'redeye.sqlite');
    const refusal =
      `error [DATABASE_NEWER]: the database at ${file} was migrated by a newer Redeye ` +
      '(unknown: 099_from_a_newer_redeye): install the version that applied them, or a later one; ' +
      'nothing was done';
    for (const args of [
      ['run', 'nightly', '--date', '2026-06-04'],
      ['run', 'retention', '--date', '2026-06-04'],
      ['ledger', 'check'],
      ['files', 'list'],
      ['runs'],
      ['member', 'show', '1000000016'],
      ['report', 'daily', '--date', '2026-06-04'],
      ['db', 'status'],
      ['db', 'migrate'],
    ]) {
      const r = await cli.redeye(args, env);
      expect(r.err, args.join(' ')).toBe(refusal);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.out, args.join(' ')).toBe('');
    }

    const start = Scheduler.prototype.start;
    vi.spyOn(Scheduler.prototype, 'start').mockImplementation(async function (this: Scheduler) {
      // Should it start, it is stopped as an operator would, so that the test ends either way.
      await start.call(this);
      process.emit('SIGTERM', 'SIGTERM');
    });
    const daemon = await cli.redeye(['schedule']);
    expect(daemon.err).toBe(refusal);
    expect(daemon.code).toBe(2);
    expect(daemon.log).not.toContain('scheduler started');

    // Read past Redeye, which would refuse it too: nothing recorded, registered or rolled back.
    const db = new Database(file, { readonly: true });
    try {
      const count = (table: string) => db.prepare(`SELECT count(*) AS n FROM ${table}`).get();
      expect(count('job_runs')).toEqual({ n: 0 });
      expect(count('files')).toEqual({ n: 0 });
      expect(db.prepare('SELECT name FROM knex_migrations ORDER BY id DESC').get()).toEqual({
        name: '099_from_a_newer_redeye',
      });
    } finally {
      db.close();
    }
  });
});
