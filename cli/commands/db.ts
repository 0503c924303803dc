import type { Command } from 'commander';
import { migrateLatest, migrationStatus } from '../../db/migrate.js';
import type { ActionRunner } from '../context.js';

export function registerDb(program: Command, run: ActionRunner): void {
  const db = program.command('db').description('database schema: migrate and show status');
  db.command('migrate')
    .description('apply every pending migration to the configured database (SQLite file or PostgreSQL)')
    .action(
      run(async (ctx) => {
        const database = ctx.db({ create: true, requireMigrated: false });
        const applied = await migrateLatest(database);
        ctx.output.out(
          applied.length === 0
            ? `${database.displayUrl}: already up to date`
            : `${database.displayUrl}: applied ${applied.length} migration(s): ${applied.join(', ')}`,
        );
      }),
    );
  db.command('status')
    .description('list applied and pending migrations')
    .action(
      run(async (ctx) => {
        const database = ctx.db({ requireMigrated: false });
        const status = await migrationStatus(database);
        ctx.output.out(`database: ${database.displayUrl} (${database.dialect})`);
        for (const name of status.applied) ctx.output.out(`  applied  ${name}`);
        for (const name of status.pending) ctx.output.out(`  pending  ${name}`);
        if (status.pending.length > 0)
          ctx.output.out(`${status.pending.length} pending: run \`redeye db migrate\``);
      }),
    );
}
