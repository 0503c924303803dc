import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import cron from 'node-cron';
import { join } from 'node:path';
import { availableEngines } from '../test/harness/db.js';
import { createWorld, type TestWorld } from '../test/harness/context.js';
import { openDb } from '../db/connection.js';
import { silentLogger } from '../lib/log.js';
import { missedDates, scheduledJobs, Scheduler } from './schedule.js';
import { STEP_JOBS } from './runner.js';

/** The demo configuration with one cheap scheduled job, at a time of day the test never reaches. */
function scheduled(yaml: string): string {
  return yaml
    .replace(/\njobs:\n(\s+- \{ job: [^\n]+\n)+/, '\n')
    .replace(
      /schedules:\n[\s\S]*?catchUpDays: 7\n/,
      'schedules:\n  timeZone: UTC\n  jobs:\n    - { job: tiers, cron: "0 3 * * *" }\n  catchUpDays: 5\n',
    );
}

/** A run of `job` for `date` recorded as it ended (`succeeded` unless said). */
async function ran(w: TestWorld, job: string, date: string, status = 'succeeded'): Promise<void> {
  const at = new Date().toISOString();
  await w.t.db.knex('job_runs').insert({
    job,
    business_date: date,
    status,
    started_at: at,
    finished_at: at,
    host: hostname(),
    pid: 1,
  });
}

/** A scheduler started at `at` (UTC) that runs its catch-up and stops. */
async function catchUpAt(w: TestWorld, at: string): Promise<Scheduler> {
  const s = new Scheduler({
    db: w.t.db,
    config: w.config,
    logger: silentLogger,
    env: {},
    now: () => new Date(at),
  });
  await s.start();
  await s.idle();
  await s.stop();
  return s;
}

/** The business dates `missedDates` lists. */
const missedDays = async (...args: Parameters<typeof missedDates>) =>
  (await missedDates(...args)).map((m) => m.businessDate);

const runsOf = (w: TestWorld) =>
  w.t.db.knex('job_runs').where({ job: 'tiers' }).orderBy('business_date').select('business_date', 'status');

for (const engine of availableEngines()) {
  describe(`the scheduler on ${engine}`, () => {
    let w: TestWorld;
    beforeEach(async () => {
      w = await createWorld(engine, scheduled);
    });
    afterEach(async () => {
      vi.restoreAllMocks();
      await w.cleanup();
    });

    it('lists the business dates missed since the last successful run, bounded by catchUpDays', async () => {
      await ran(w, 'tiers', '2026-11-20');
      const daily = { job: 'tiers' as const, cron: '0 3 * * *', dateOffsetDays: -1 };
      expect(await missedDays(w.t.db, daily, new Date('2026-11-24T10:00:00Z'), 'UTC', 5)).toEqual([
        '2026-11-21',
        '2026-11-22',
        '2026-11-23',
      ]);
      expect(await missedDays(w.t.db, daily, new Date('2027-01-01T02:00:00Z'), 'UTC', 5)).toEqual([
        '2026-12-26',
        '2026-12-27',
        '2026-12-28',
        '2026-12-29',
        '2026-12-30',
      ]);
      // A monthly job catches up months, not days.
      const monthly = { job: 'tiers' as const, cron: '0 6 1 * *', dateOffsetDays: -1 };
      expect(await missedDays(w.t.db, monthly, new Date('2026-12-03T00:00:00Z'), 'UTC', 40)).toEqual([
        '2026-11-30',
      ]);
      // In the program's time zone: 02:30 in Moscow is 23:30 UTC the day before.
      const moscow = { job: 'tiers' as const, cron: '30 2 * * *', dateOffsetDays: -1 };
      expect(await missedDays(w.t.db, moscow, new Date('2026-11-21T23:45:00Z'), 'Europe/Moscow', 2)).toEqual([
        '2026-11-21',
      ]);
    });

    it('after an outage runs every missed night, oldest first, then leaves today to the cron', async () => {
      await ran(w, 'tiers', '2026-11-22');
      // 01:00 on the 26th: the 03:00 run for the 25th is still to come today.
      await catchUpAt(w, '2026-11-26T01:00:00Z');
      expect((await runsOf(w)).map((r) => r.business_date)).toEqual([
        '2026-11-22',
        '2026-11-23',
        '2026-11-24',
      ]);
    });

    it('runs a night the cron starts during start-up after the missed ones, not before them', async () => {
      await ran(w, 'tiers', '2026-11-22');
      // The cron fires as soon as its task is set up, while the missed nights are still being looked up.
      const schedule = cron.schedule.bind(cron);
      vi.spyOn(cron, 'schedule').mockImplementation((expression, task, options) => {
        const scheduled = schedule(expression, task, options);
        void (task as () => unknown)();
        return scheduled;
      });
      const s = await catchUpAt(w, '2026-11-26T01:00:00Z');
      expect(s.runs.map((r) => r.businessDate)).toEqual(['2026-11-23', '2026-11-24', '2026-11-25']);
    });

    it('catches up a night that failed though a later one succeeded, and nothing before its first success', async () => {
      await ran(w, 'tiers', '2026-11-21', 'failed');
      await ran(w, 'tiers', '2026-11-22');
      await ran(w, 'tiers', '2026-11-23', 'failed');
      await ran(w, 'tiers', '2026-11-24');
      const daily = { job: 'tiers' as const, cron: '0 3 * * *', dateOffsetDays: -1 };
      expect(await missedDays(w.t.db, daily, new Date('2026-11-26T01:00:00Z'), 'UTC', 7)).toEqual([
        '2026-11-23',
      ]);
      const s = await catchUpAt(w, '2026-11-26T01:00:00Z');
      expect(s.runs.map((r) => [r.businessDate, r.status])).toEqual([['2026-11-23', 'succeeded']]);
    });

    it('runs the night whose time has passed while it was down as part of the catch-up', async () => {
      await ran(w, 'tiers', '2026-11-23');
      // 10:00: today's 03:00 run (for the 25th) was missed and the cron will not come back today.
      await catchUpAt(w, '2026-11-26T10:00:00Z');
      expect((await runsOf(w)).map((r) => r.business_date)).toEqual([
        '2026-11-23',
        '2026-11-24',
        '2026-11-25',
      ]);
    });

    it('gives each night caught up the files that had come in when it would have run, and leaves the rest for the nights after it', async () => {
      const config = {
        ...w.config,
        schedules: {
          ...w.config.schedules,
          jobs: [{ job: 'fetch' as const, cron: '0 3 * * *', dateOffsetDays: -1 }],
        },
      };
      await ran(w, 'fetch', '2026-11-22');
      const inbox = join(w.dir, 'inbox', 'flown');
      const arrived = {
        'a.csv': '2026-11-23T10:00:00Z',
        'b.csv': '2026-11-24T10:00:00Z',
        'c.csv': '2026-11-25T10:00:00Z',
      };
      for (const [name, at] of Object.entries(arrived)) {
        writeFileSync(join(inbox, name), `ticket,coupon\n${name}\n`);
        utimesSync(join(inbox, name), new Date(at), new Date(at));
      }
      // Down from the 23rd to 01:00 on the 26th: the nights of the 23rd (run at 03:00 on the 24th) and
      // the 24th (03:00 on the 25th) are caught up; the night of the 25th runs at 03:00 today.
      expect(
        (
          await missedDates(w.t.db, scheduledJobs(config)[0]!, new Date('2026-11-26T01:00:00Z'), 'UTC', 7)
        ).map((m) => [m.businessDate, m.firedAt.toISOString()]),
      ).toEqual([
        ['2026-11-23', '2026-11-24T03:00:00.000Z'],
        ['2026-11-24', '2026-11-25T03:00:00.000Z'],
      ]);
      const s = new Scheduler({
        db: w.t.db,
        config,
        logger: silentLogger,
        env: {},
        now: () => new Date('2026-11-26T01:00:00Z'),
      });
      await s.start();
      await s.idle();
      await s.stop();
      expect(
        s.runs.map((r) => [r.businessDate, r.status, r.steps[0]!.counts.new, r.steps[0]!.counts.later]),
      ).toEqual([
        ['2026-11-23', 'succeeded', 1, 2],
        ['2026-11-24', 'succeeded', 1, 1],
      ]);
      expect(
        await w.t.db.knex('files').where({ direction: 'in' }).orderBy('name').select('name', 'business_date'),
      ).toEqual([
        { name: 'a.csv', business_date: '2026-11-23' },
        { name: 'b.csv', business_date: '2026-11-24' },
      ]);
    });

    it('stops cleanly: the running job finishes and nothing further starts', async () => {
      await ran(w, 'tiers', '2026-11-20');
      const s = new Scheduler({
        db: w.t.db,
        config: w.config,
        logger: silentLogger,
        env: {},
        now: () => new Date('2026-11-26T10:00:00Z'),
      });
      await s.start();
      await s.stop();
      const runs = await runsOf(w);
      expect(runs.every((r) => r.status === 'succeeded')).toBe(true);
      expect(runs.length).toBeLessThan(6);
      expect(await w.t.db.knex('job_locks').count({ n: '*' }).first()).toMatchObject({
        n: expect.anything(),
      });
      expect(Number((await w.t.db.knex('job_locks').count({ n: '*' }).first())!.n)).toBe(0);
    });

    it('does not take a run stopped by SIGTERM for done: the next start catches it up', async () => {
      await ran(w, 'tiers', '2026-11-23');
      const now = () => new Date('2026-11-26T10:00:00Z');
      const s = new Scheduler({ db: w.t.db, config: w.config, logger: silentLogger, env: {}, now });
      const tiers = STEP_JOBS.tiers;
      let stopping: Promise<void> | undefined;
      // SIGTERM while the catch-up's first night is running.
      vi.spyOn(STEP_JOBS, 'tiers').mockImplementation((ctx) => {
        stopping ??= s.stop('SIGTERM');
        return tiers(ctx);
      });
      await s.start();
      await s.idle();
      await stopping;
      expect(s.runs.map((r) => [r.businessDate, r.status, r.stopped])).toEqual([
        [
          '2026-11-24',
          'failed',
          { step: 'tiers', reason: 'stopped on request (SIGTERM) while tiers was running' },
        ],
      ]);
      vi.restoreAllMocks();

      const next = new Scheduler({ db: w.t.db, config: w.config, logger: silentLogger, env: {}, now });
      await next.start();
      await next.idle();
      await next.stop();
      expect(next.runs.map((r) => [r.businessDate, r.status])).toEqual([
        ['2026-11-24', 'succeeded'],
        ['2026-11-25', 'succeeded'],
      ]);
    });

    if (engine === 'postgres') {
      it('two schedulers on one database run each job once per date', async () => {
        await ran(w, 'tiers', '2026-11-20');
        const second = openDb(w.t.url);
        try {
          const now = () => new Date('2026-11-26T10:00:00Z');
          const a = new Scheduler({ db: w.t.db, config: w.config, logger: silentLogger, env: {}, now });
          const b = new Scheduler({ db: second, config: w.config, logger: silentLogger, env: {}, now });
          await Promise.all([a.start(), b.start()]);
          await Promise.all([a.idle(), b.idle()]);
          await Promise.all([a.stop(), b.stop()]);
          const runs = await runsOf(w);
          const dates = runs.map((r) => r.business_date);
          expect(dates).toEqual([
            '2026-11-20',
            '2026-11-21',
            '2026-11-22',
            '2026-11-23',
            '2026-11-24',
            '2026-11-25',
          ]);
          expect(a.runs.length + b.runs.length).toBe(5);
        } finally {
          await second.close();
        }
      });
    }
  });
}
