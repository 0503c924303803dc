/**
 * `npm run bench -- nightly [--members 105000] [--month 2026-10]`: the demo's generated month, end to
 * end from the local inbox folders through posting — fetch, ingest, accrue, tiers, expire for every
 * night — on the embedded SQLite default. Prints total seconds, activities per second and peak RSS.
 * The generated month holds about 9.6 activities per member: the default, 105,000 members, gives just
 * over a million.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig } from '../config/load.js';
import { openDb } from '../db/connection.js';
import { migrateLatest } from '../db/migrate.js';
import { addDays } from '../lib/dates.js';
import { silentLogger } from '../lib/log.js';
import { checkLedger } from '../ledger/check.js';
import { noProgress } from '../jobs/types.js';
import { accrueJob } from '../jobs/accrue.js';
import { expireJob } from '../jobs/expire.js';
import { fetchJob } from '../jobs/fetch.js';
import { ingestJob } from '../jobs/ingest.js';
import { tiersJob } from '../jobs/tiers.js';
import { generateDemo } from '../demo/generate.js';
import { fmt, intOption, line, option, peakRssMb, rssMb, tempDir, timed } from './util.js';

export default async function run(args: string[]): Promise<void> {
  const members = intOption(args, 'members', 105_000);
  const month = option(args, 'month') ?? '2026-10';
  const dir = tempDir('nightly');
  try {
    console.log(`nightly benchmark: the demo month ${month} with ${fmt(members)} members`);
    const gen = await timed(() => generateDemo({ dir, members, month, seed: 1 }));
    const plan = gen.value;
    const rssAfterGeneration = peakRssMb();
    let rssMax = 0;
    // The generated month must go into the benchmark's own ledger, never the one a batch host's
    // REDEYE_DATABASE_URL names for the real installation.
    const config = loadConfig({ path: resolve(dir, plan.config), env: {} });
    const db = openDb(config.database.url);
    await migrateLatest(db);
    for (const feed of Object.values(config.feeds)) {
      const t = feed && config.transports[feed.source];
      if (t && t.type === 'local') mkdirSync(join(t.root, feed.remoteDir), { recursive: true });
    }
    const steps = {
      fetch: fetchJob,
      ingest: ingestJob,
      accrue: accrueJob,
      tiers: tiersJob,
      expire: expireJob,
    };
    const stepSeconds = new Map<string, number>();
    const night = await timed(async () => {
      for (const n of plan.nights) {
        const source = resolve(dir, n.dir);
        const inbox = resolve(dir, plan.inbox);
        if (existsSync(source))
          for (const e of readdirSync(source)) cpSync(join(source, e), join(inbox, e), { recursive: true });
        const at = new Date(`${addDays(n.date, 1)}T02:30:00Z`);
        const ctx = {
          db,
          config,
          logger: silentLogger,
          businessDate: n.date,
          now: () => at,
          progress: noProgress,
          env: {},
        };
        for (const [name, step] of Object.entries(steps)) {
          const t = await timed(() => step(ctx));
          stepSeconds.set(name, (stepSeconds.get(name) ?? 0) + t.seconds);
          rssMax = Math.max(rssMax, rssMb());
        }
      }
    });
    const activities = Number((await db.knex('activities').count({ n: '*' }).first())?.n ?? 0);
    const postings = Number((await db.knex('postings').count({ n: '*' }).first())?.n ?? 0);
    const records = plan.nights.reduce(
      (s, n) => s + Object.values(n.feeds).reduce((a, f) => a + (f?.records ?? 0), 0),
      0,
    );
    const check = await checkLedger(db.knex);
    await db.close();
    line('generation', `${fmt(gen.seconds, 1)} s (not counted)`);
    line('nights', `${plan.nights.length}`);
    line('records in the files', fmt(records));
    line('activities archived', fmt(activities));
    line('postings', fmt(postings));
    line(
      'total (fetch → expire, all nights)',
      `${fmt(night.seconds, 1)} s wall, ${fmt(night.cpuSeconds, 1)} s CPU`,
    );
    // Where the nights' time goes: a change that slows one step shows here before it shows in the total.
    for (const [name, seconds] of stepSeconds)
      line(`  ${name}`, `${fmt(seconds, 1)} s wall (${fmt((100 * seconds) / night.seconds)}%)`);
    line(
      'activities/s',
      `${fmt(activities / night.seconds)} (wall), ${fmt(activities / night.cpuSeconds)} (CPU)`,
    );
    line('ledger check', check.ok ? 'clean' : 'VIOLATIONS');
    line('peak RSS', `${fmt(peakRssMb())} MB (${fmt(rssAfterGeneration)} MB once the month was generated)`);
    line('largest RSS between steps', `${fmt(rssMax)} MB`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
