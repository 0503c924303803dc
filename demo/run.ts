/**
 * `redeye demo`: generates the demo program for a month, then runs every night of that month and the
 * month-end on the embedded default (SQLite), the way the scheduler would: before each night the files
 * that night receives are dropped into the inbox, and the partner airlines answer the claims Redeye sent
 * them. Each night's clock is pinned to the early morning after its business date, so an FTL's year-less
 * dates resolve as they would have, whichever month is replayed.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { openDb } from '../db/connection.js';
import { migrateLatest } from '../db/migrate.js';
import { addDays, endOfMonth } from '../lib/dates.js';
import type { Logger } from '../lib/log.js';
import { runJob, type RunSummary } from '../jobs/runner.js';
import { rejectedRecordCount } from '../reports/daily.js';
import { noProgress, type Progress } from '../jobs/types.js';
import { answerDeliveredClaims } from './alliance.js';
import { generateDemo, type DemoPlan } from './generate.js';

export interface DemoOptions {
  dir: string;
  members: number;
  month: string;
  seed?: number;
  logger: Logger;
  /**
   * The environment the nights run with (secrets named by `*Env` settings); default process.env. Its
   * REDEYE_DATABASE_URL is ignored: the demo's ledger is always its folder's own.
   */
  env?: NodeJS.ProcessEnv;
  /** A bar over the nights (the steps of each night log their own lines). */
  progress?: Progress;
  /** Called after each night with its summary and its records not credited, as its daily report counts them. */
  onNight?: (summary: RunSummary, night: { rejects: number }) => void;
}

export interface DemoResult {
  plan: DemoPlan;
  config: LoadedConfig;
  nights: RunSummary[];
  monthEnd: RunSummary;
  seconds: number;
}

/** The demo sends no mail: there is no SMTP server to receive it; reports stay in their folder. */
function withoutMail(configPath: string): void {
  const doc = parseDocument(readFileSync(configPath, 'utf8'));
  doc.delete('mail');
  writeFileSync(configPath, doc.toString({ lineWidth: 0 }));
}

/** Every file of a night's folder, with where it goes in the inbox. */
function filesOf(source: string, inbox: string): Array<[string, string]> {
  if (!existsSync(source)) return [];
  const out: Array<[string, string]> = [];
  const walk = (dir: string, rel: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name), join(rel, e.name));
      else out.push([join(dir, e.name), join(inbox, rel, e.name)]);
    }
  };
  walk(source, '');
  return out;
}

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const t0 = process.hrtime.bigint();
  const dir = resolve(o.dir);
  // The generator checks the options and the folder before it writes anything, so nothing is wiped for
  // a demo that cannot run.
  const plan = await generateDemo({ dir, members: o.members, month: o.month, seed: o.seed ?? 1 });
  // A demo starts from nothing: an old ledger would make its month's reruns meaningless.
  rmSync(join(dir, 'var'), { recursive: true, force: true });
  const configPath = resolve(dir, plan.config);
  withoutMail(configPath);
  // REDEYE_DATABASE_URL, exported on a batch host for the real installation, would override the demo
  // configuration's database and post a generated month into the real ledger. It is the one override
  // the configuration takes from the environment; the secrets the nights read are named by settings,
  // and the demo's transports are local folders and it sends no mail.
  const { REDEYE_DATABASE_URL: ignored, ...env } = o.env ?? process.env;
  const config = loadConfig({ path: configPath, env });
  if (ignored)
    o.logger.warn(
      { variable: 'REDEYE_DATABASE_URL', database: config.database.url },
      `REDEYE_DATABASE_URL is set and ignored: the demo writes only its own ledger, ${config.database.url}`,
    );
  const db = openDb(config.database.url);
  const progress = o.progress ?? noProgress;
  const nights: RunSummary[] = [];
  try {
    await migrateLatest(db);
    // The inbox folders exist before anything arrives, as a partner's SFTP folders do.
    for (const feed of Object.values(config.feeds)) {
      const t = feed && config.transports[feed.source];
      if (t && t.type === 'local') mkdirSync(join(t.root, feed.remoteDir), { recursive: true });
    }
    progress.start('nights', plan.nights.length + 1);
    const inbox = resolve(dir, plan.inbox);
    const night = async (date: string, files: Array<[string, string]>) => {
      await answerDeliveredClaims({
        claimsDir: join(dir, 'var', 'delivered', 'alliance-claims'),
        inboxDir: inbox,
        night: date,
        seed: plan.seed,
      });
      for (const [from, to] of files) cpSync(from, to, { recursive: true });
      const at = new Date(`${addDays(date, 1)}T02:30:00Z`);
      const summary = await runJob(
        {
          db,
          config,
          logger: o.logger,
          businessDate: date,
          now: () => at,
          progress: noProgress,
          env,
        },
        'nightly',
      );
      nights.push(summary);
      if (o.onNight) o.onNight(summary, { rejects: await rejectedRecordCount(db.knex, date) });
      progress.increment();
    };
    // The year of history (the full member extract, the ECB history, members' past coupons) is read on
    // the night before the month, so the month opens with the liability it would have had.
    const first = plan.nights[0]!;
    const firstFiles = filesOf(resolve(dir, first.dir), inbox);
    const isHistory = ([from]: [string, string]) =>
      /(_FULL\.csv|eurofxref-hist-[^/]*\.xml|FLOWN_HISTORY_[^/]*\.csv)$/.test(from);
    await night(addDays(first.date, -1), firstFiles.filter(isHistory));
    for (const n of plan.nights) {
      await night(
        n.date,
        n === first ? firstFiles.filter((f) => !isHistory(f)) : filesOf(resolve(dir, n.dir), inbox),
      );
    }
    progress.stop();
    const last = endOfMonth(`${o.month}-01`);
    const at = new Date(`${addDays(last, 1)}T06:00:00Z`);
    const monthEnd = await runJob(
      {
        db,
        config,
        logger: o.logger,
        businessDate: last,
        now: () => at,
        progress: noProgress,
        env,
      },
      'monthly',
    );
    return { plan, config, nights, monthEnd, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
  } finally {
    await db.close();
  }
}
