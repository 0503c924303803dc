import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { availableEngines } from '../test/harness/db.js';
import { startInProcessSftp } from '../test/harness/sftp-inprocess.js';
import { createWorld, type TestWorld } from '../test/harness/context.js';
import { openDb } from '../db/connection.js';
import { silentLogger } from '../lib/log.js';
import { capturedLogger } from '../test/harness/logs.js';
import { RedeyeError } from '../lib/errors.js';
import type { LoadedConfig } from '../config/load.js';
import { datesLeftBehind, missedDates, scheduledJobs, Scheduler } from './schedule.js';
import { STEP_JOBS, type RunnableJob } from './runner.js';
import { businessDayClose } from '../reports/common.js';

// The close of a day as worked out, for a test that has it wrong (as it was, an hour early, in a zone
// whose clocks skip midnight): the real one unless a test says otherwise.
vi.mock('../reports/common.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../reports/common.js')>();
  return { ...real, businessDayClose: vi.fn(real.businessDayClose) };
});

/** The demo configuration with one cheap scheduled job, at a time of day the test never reaches. */
function scheduled(yaml: string): string {
  return yaml
    .replace(/\njobs:\n(\s+- \{ job: [^\n]+\n)+/, '\n')
    .replace(
      /schedules:\n[\s\S]*?catchUpDays: 7\n/,
      'schedules:\n  timeZone: UTC\n  jobs:\n    - { job: accrue, cron: "0 3 * * *" }\n  catchUpDays: 5\n',
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

/** A scheduler with `config` and `env` started at `at` (UTC) that runs its catch-up and stops. */
async function catchUpWith(
  w: TestWorld,
  config: LoadedConfig,
  at: string,
  env: NodeJS.ProcessEnv,
): Promise<Scheduler> {
  const s = new Scheduler({ db: w.t.db, config, logger: silentLogger, env, now: () => new Date(at) });
  await s.start();
  await s.idle();
  await s.stop();
  return s;
}

/**
 * A clock the test moves by hand. The scheduler's waits for its next firing are sleeps on this clock:
 * they end when the clock is moved past them (or the scheduler stops), never by real time passing.
 */
class ManualClock {
  private t: number;
  private sleepers: Array<{ until: number; wake: () => void }> = [];
  private waiter?: { count: number; resolve: () => void };

  constructor(at: string) {
    this.t = Date.parse(at);
  }

  now = (): Date => new Date(this.t);

  set(at: string): void {
    this.t = Date.parse(at);
  }

  sleep = (ms: number, signal: AbortSignal): Promise<void> =>
    new Promise<void>((resolve) => {
      const entry = {
        until: this.t + ms,
        wake: () => {
          this.sleepers = this.sleepers.filter((s) => s !== entry);
          signal.removeEventListener('abort', entry.wake);
          resolve();
        },
      };
      if (signal.aborted) return resolve();
      signal.addEventListener('abort', entry.wake, { once: true });
      this.sleepers.push(entry);
      this.notify();
    });

  /** How many of the scheduler's loops are waiting. */
  get sleeping(): number {
    return this.sleepers.length;
  }

  /** Resolves once `count` of the scheduler's loops are waiting for their next firing. */
  asleep(count = 1): Promise<void> {
    return new Promise((resolve) => {
      this.waiter = { count, resolve };
      this.notify();
    });
  }

  /** Moves the clock to `at` and ends the sleeps it passed. */
  pass(at: string): void {
    this.set(at);
    for (const s of this.sleepers.filter((x) => x.until <= this.t)) s.wake();
  }

  /** Moves the clock to `at`, ends the sleeps it passed, and resolves when the loops wait again. */
  async moveTo(at: string, loops = 1): Promise<void> {
    this.pass(at);
    await this.asleep(loops);
  }

  private notify(): void {
    if (this.waiter && this.sleepers.length >= this.waiter.count) {
      const { resolve } = this.waiter;
      this.waiter = undefined;
      resolve();
    }
  }
}

/** The configuration with these schedules. */
function withSchedules(
  config: LoadedConfig,
  jobs: Array<{ job: RunnableJob; cron: string }>,
  settings: { timeZone?: string; catchUpDays?: number } = {},
): LoadedConfig {
  return {
    ...config,
    schedules: {
      ...config.schedules,
      ...settings,
      jobs: jobs.map((j) => ({ ...j, dateOffsetDays: -1 })),
    },
  };
}

/** Every step of the night and the month-end does nothing, and says for which date it ran. */
function idleSteps(): Array<[string, string]> {
  const ran: Array<[string, string]> = [];
  for (const name of Object.keys(STEP_JOBS) as Array<keyof typeof STEP_JOBS>)
    vi.spyOn(STEP_JOBS, name).mockImplementation(async (ctx) => {
      ran.push([name, ctx.businessDate]);
      return { counts: {} };
    });
  return ran;
}

/** The business dates `missedDates` lists. */
const missedDays = async (...args: Parameters<typeof missedDates>) =>
  (await missedDates(...args)).map((m) => m.businessDate);

const runsOf = (w: TestWorld) =>
  w.t.db.knex('job_runs').where({ job: 'accrue' }).orderBy('business_date').select('business_date', 'status');

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
      await ran(w, 'accrue', '2026-11-20');
      const daily = { job: 'accrue' as const, cron: '0 3 * * *', dateOffsetDays: -1 };
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
      const monthly = { job: 'accrue' as const, cron: '0 6 1 * *', dateOffsetDays: -1 };
      expect(await missedDays(w.t.db, monthly, new Date('2026-12-03T00:00:00Z'), 'UTC', 40)).toEqual([
        '2026-11-30',
      ]);
      // The month-end fired on the 2nd (a day's grace for late files) is for the month before, the date
      // its run is recorded under: owed until that date has a successful run, and then no longer.
      await ran(w, 'monthly', '2026-10-31');
      for (const dateOffsetDays of [-1, 0]) {
        const graced = { job: 'monthly' as const, cron: '0 6 2 * *', dateOffsetDays };
        expect(await missedDays(w.t.db, graced, new Date('2026-12-03T00:00:00Z'), 'UTC', 40)).toEqual([
          '2026-11-30',
        ]);
      }
      await ran(w, 'monthly', '2026-11-30');
      const graced = { job: 'monthly' as const, cron: '0 6 2 * *', dateOffsetDays: -1 };
      expect(await missedDays(w.t.db, graced, new Date('2026-12-03T00:00:00Z'), 'UTC', 40)).toEqual([]);
      // In the program's time zone: 02:30 in Moscow is 23:30 UTC the day before.
      const moscow = { job: 'accrue' as const, cron: '30 2 * * *', dateOffsetDays: -1 };
      expect(await missedDays(w.t.db, moscow, new Date('2026-11-21T23:45:00Z'), 'Europe/Moscow', 2)).toEqual([
        '2026-11-21',
      ]);
    });

    it('after an outage runs every missed night, oldest first, then leaves today to the cron', async () => {
      await ran(w, 'accrue', '2026-11-22');
      // 01:00 on the 26th: the 03:00 run for the 25th is still to come today.
      await catchUpAt(w, '2026-11-26T01:00:00Z');
      expect((await runsOf(w)).map((r) => r.business_date)).toEqual([
        '2026-11-22',
        '2026-11-23',
        '2026-11-24',
      ]);
    });

    it('runs a night the cron starts during start-up after the missed ones, not before them', async () => {
      await ran(w, 'accrue', '2026-11-22');
      const clock = new ManualClock('2026-11-26T01:00:00Z');
      const s = new Scheduler({ db: w.t.db, config: w.config, logger: silentLogger, env: {}, ...clock });
      const started = s.start();
      // 03:00 comes while the missed nights are still being looked up.
      clock.set('2026-11-26T03:00:30Z');
      await started;
      await clock.asleep();
      await s.idle();
      await s.stop();
      expect(s.runs.map((r) => r.businessDate)).toEqual(['2026-11-23', '2026-11-24', '2026-11-25']);
    });

    it('catches up a night that failed though a later one succeeded, and nothing before its first run', async () => {
      await ran(w, 'accrue', '2026-11-21', 'failed');
      await ran(w, 'accrue', '2026-11-22');
      await ran(w, 'accrue', '2026-11-23', 'failed');
      await ran(w, 'accrue', '2026-11-24');
      const daily = { job: 'accrue' as const, cron: '0 3 * * *', dateOffsetDays: -1 };
      expect(await missedDays(w.t.db, daily, new Date('2026-11-26T01:00:00Z'), 'UTC', 7)).toEqual([
        '2026-11-21',
        '2026-11-23',
      ]);
      const s = await catchUpAt(w, '2026-11-26T01:00:00Z');
      expect(s.runs.map((r) => [r.businessDate, r.status])).toEqual([
        ['2026-11-21', 'succeeded'],
        ['2026-11-23', 'succeeded'],
      ]);
    });

    it('retries a first night that failed, though no night of the job has succeeded yet', async () => {
      // The scheduler's very first night failed (a server refusing logins): it is owed all the same.
      await ran(w, 'accrue', '2026-11-24', 'failed');
      const daily = { job: 'accrue' as const, cron: '0 3 * * *', dateOffsetDays: -1 };
      expect(await missedDays(w.t.db, daily, new Date('2026-11-26T10:00:00Z'), 'UTC', 7)).toEqual([
        '2026-11-24',
        '2026-11-25',
      ]);
    });

    it('runs the night whose time has passed while it was down as part of the catch-up', async () => {
      await ran(w, 'accrue', '2026-11-23');
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
      await ran(w, 'accrue', '2026-11-20');
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
      await ran(w, 'accrue', '2026-11-23');
      const now = () => new Date('2026-11-26T10:00:00Z');
      const s = new Scheduler({ db: w.t.db, config: w.config, logger: silentLogger, env: {}, now });
      const accrue = STEP_JOBS.accrue;
      let stopping: Promise<void> | undefined;
      // SIGTERM while the catch-up's first night is running.
      vi.spyOn(STEP_JOBS, 'accrue').mockImplementation((ctx) => {
        stopping ??= s.stop('SIGTERM');
        return accrue(ctx);
      });
      await s.start();
      await s.idle();
      await stopping;
      expect(s.runs.map((r) => [r.businessDate, r.status, r.stopped])).toEqual([
        [
          '2026-11-24',
          'failed',
          { step: 'accrue', reason: 'stopped on request (SIGTERM) while accrue was running' },
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

    it('owes and runs the night whose cron time the clocks skip in spring', async () => {
      // 01:30 does not exist in London on 2027-03-28: the night of the 27th runs at 02:00 BST (01:00Z).
      const london = { job: 'accrue' as const, cron: '30 1 * * *', dateOffsetDays: -1 };
      await ran(w, 'accrue', '2027-03-25');
      expect(await missedDays(w.t.db, london, new Date('2027-03-29T12:00:00Z'), 'Europe/London', 5)).toEqual([
        '2027-03-26',
        '2027-03-27',
        '2027-03-28',
      ]);
      // 02:30 does not exist in New York on 2027-03-14: the night of the 13th is owed too.
      await ran(w, 'fetch', '2027-03-12');
      const newYork = { job: 'fetch' as const, cron: '30 2 * * *', dateOffsetDays: -1 };
      expect(
        await missedDays(w.t.db, newYork, new Date('2027-03-15T12:00:00Z'), 'America/New_York', 2),
      ).toEqual(['2027-03-13', '2027-03-14']);

      await ran(w, 'accrue', '2027-03-26');
      const config = withSchedules(w.config, [{ job: 'accrue', cron: '30 1 * * *' }], {
        timeZone: 'Europe/London',
      });
      const clock = new ManualClock('2027-03-28T00:00:00Z');
      const s = new Scheduler({ db: w.t.db, config, logger: silentLogger, env: {}, ...clock });
      await s.start();
      await clock.asleep();
      await clock.moveTo('2027-03-28T00:59:59Z');
      await s.idle();
      expect(s.runs).toEqual([]);
      await clock.moveTo('2027-03-28T01:00:00Z');
      await s.idle();
      await s.stop();
      expect(s.runs.map((r) => [r.businessDate, r.status])).toEqual([['2027-03-27', 'succeeded']]);
    });

    it('retries a failed night before its next run, without a restart, and logs the failure once, as an error', async () => {
      // A program kept in Sakhalin time (UTC+11), hourly at minute 0, a day of catch-up: at 12:30Z (23:30
      // on the 28th there) the night of the 27th is owed, and fails; at 13:00Z the cron fires for the 28th,
      // which has just ended.
      const config = withSchedules(w.config, [{ job: 'accrue', cron: '0 * * * *' }], {
        timeZone: 'Asia/Sakhalin',
        catchUpDays: 1,
      });
      config.program = { ...config.program, timeZone: 'Asia/Sakhalin' };
      await ran(w, 'accrue', '2026-11-26');
      const accrue = STEP_JOBS.accrue;
      let refuse = true;
      vi.spyOn(STEP_JOBS, 'accrue').mockImplementation((ctx) => {
        if (refuse)
          throw new RedeyeError('SFTP_AUTH', 'sftp://sftp.partner.example:22 refused the login of redeye');
        return accrue(ctx);
      });
      const { logger, lines } = capturedLogger('info');
      const clock = new ManualClock('2026-11-28T12:30:00Z');
      const s = new Scheduler({ db: w.t.db, config, logger, env: {}, ...clock });
      await s.start();
      await clock.asleep();
      await s.idle();
      expect(s.runs.map((r) => [r.businessDate, r.status])).toEqual([['2026-11-27', 'failed']]);
      // Once at error, by the run itself, with job, date, step and code; the daemon says at info what it
      // does about it.
      expect(lines.filter((l) => l.level === 'error')).toEqual([
        expect.objectContaining({
          job: 'accrue',
          step: 'accrue',
          businessDate: '2026-11-27',
          code: 'SFTP_AUTH',
          msg: '[SFTP_AUTH] accrue for 2026-11-27 failed: sftp://sftp.partner.example:22 refused the login of redeye',
        }),
      ]);
      const failure = lines.find((l) => l.businessDate === '2026-11-27' && l.status === 'failed');
      expect(failure).toMatchObject({
        level: 'info',
        job: 'accrue',
        status: 'failed',
        failedSteps: [{ step: 'accrue', code: 'SFTP_AUTH' }],
        msg: 'accrue for 2026-11-27: failed (stopped at accrue: accrue failed [SFTP_AUTH]); retried before the next scheduled run',
      });

      // The server is back; the daemon is left running.
      refuse = false;
      await clock.moveTo('2026-11-28T13:00:00Z');
      await s.idle();
      await s.stop();
      expect(s.runs.map((r) => [r.businessDate, r.status])).toEqual([
        ['2026-11-27', 'failed'],
        ['2026-11-27', 'succeeded'],
        ['2026-11-28', 'succeeded'],
      ]);
      expect(
        await w.t.db
          .knex('job_runs')
          .where({ job: 'accrue', status: 'succeeded' })
          .orderBy('business_date')
          .pluck('business_date'),
      ).toEqual(['2026-11-26', '2026-11-27', '2026-11-28']);
    });

    it('started before a newer Redeye migrated its database, runs nothing in it and says why at error', async () => {
      await ran(w, 'accrue', '2026-11-27');
      const { logger, lines } = capturedLogger('warn');
      const clock = new ManualClock('2026-11-28T12:30:00Z');
      const s = new Scheduler({ db: w.t.db, config: w.config, logger, env: {}, ...clock });
      await s.start();
      await clock.asleep();
      // The newer version's `db migrate` runs while the daemon sleeps: its connection stays open.
      await w.t.db
        .knex('knex_migrations')
        .insert({ name: '099_from_a_newer_redeye', batch: 2, migration_time: new Date() });
      await clock.moveTo('2026-11-29T03:00:00Z');
      await s.idle();
      await s.stop();
      expect(s.runs).toEqual([]);
      const where = w.t.db.file === undefined ? w.t.db.displayUrl : `at ${w.t.db.file}`;
      expect(lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual([
        `accrue for 2026-11-28 could not run: the database ${where} was migrated by a newer Redeye ` +
          '(unknown: 099_from_a_newer_redeye): install the version that applied them, or a later one; ' +
          'nothing was done; retried before the next scheduled run',
      ]);
      expect(await w.t.db.knex('job_runs').pluck('business_date')).toEqual(['2026-11-27']);
    });

    it('retries a month-end after its last day’s night in the same catch-up', async () => {
      const steps = idleSteps();
      // Listed first, the month-end still waits for the night of the 30th.
      const config = withSchedules(w.config, [
        { job: 'monthly', cron: '0 6 1 * *' },
        { job: 'nightly', cron: '30 2 * * *' },
      ]);
      await ran(w, 'nightly', '2026-11-29');
      await ran(w, 'nightly', '2026-11-30', 'failed');
      await ran(w, 'monthly', '2026-10-31');
      await ran(w, 'monthly', '2026-11-30', 'failed');
      const clock = new ManualClock('2026-12-02T00:00:00Z');
      const s = new Scheduler({ db: w.t.db, config, logger: silentLogger, env: {}, ...clock });
      await s.start();
      await clock.asleep(2);
      await s.idle();
      await s.stop();
      expect(s.runs.map((r) => [r.job, r.businessDate, r.status])).toEqual([
        ['nightly', '2026-11-30', 'succeeded'],
        ['monthly', '2026-11-30', 'succeeded'],
      ]);
      expect(steps.at(-1)).toEqual(['deliver', '2026-11-30']);
    });

    it('makes a month-end refused for its night right after that night, in the same firing', async () => {
      idleSteps();
      const config = withSchedules(w.config, [
        { job: 'nightly', cron: '30 2 * * *' },
        { job: 'monthly', cron: '0 1 1 * *' },
      ]);
      await ran(w, 'nightly', '2026-11-29');
      await ran(w, 'monthly', '2026-10-31');
      const clock = new ManualClock('2026-12-01T00:30:00Z');
      const s = new Scheduler({ db: w.t.db, config, logger: silentLogger, env: {}, ...clock });
      await s.start();
      await clock.asleep(2);
      // 01:00: the month-end comes before the night of the 30th, and waits for it.
      await clock.moveTo('2026-12-01T01:00:00Z', 2);
      await s.idle();
      // 02:30: that night, then the month-end owed — not the month-end first, refused again, and made a
      // day late.
      await clock.moveTo('2026-12-01T02:30:00Z', 2);
      await s.idle();
      await s.stop();
      expect(s.runs.map((r) => [r.job, r.businessDate, r.status, r.refused?.code])).toEqual([
        ['monthly', '2026-11-30', 'failed', 'NIGHT_INCOMPLETE'],
        ['nightly', '2026-11-30', 'succeeded', undefined],
        ['monthly', '2026-11-30', 'succeeded', undefined],
      ]);
    });

    it('refuses a date that has not ended in the program’s time zone, logs it at error, and runs it when the date ends', async () => {
      const steps = idleSteps();
      const { logger, lines } = capturedLogger('warn');
      // The program keeps Moscow time; the schedules were written in Vladivostok's (UTC+10, 7 hours
      // ahead): 02:30 there on 1 December is 19:30 on 30 November in Moscow.
      const config = withSchedules(
        w.config,
        [
          { job: 'nightly', cron: '30 2 * * *' },
          { job: 'monthly', cron: '0 6 1 * *' },
        ],
        { timeZone: 'Asia/Vladivostok' },
      );
      await ran(w, 'nightly', '2026-11-29');
      await ran(w, 'monthly', '2026-10-31');
      const clock = new ManualClock('2026-11-30T16:00:00Z');
      const s = new Scheduler({ db: w.t.db, config, logger, env: {}, ...clock });
      await s.start();
      await clock.asleep(2);
      await clock.moveTo('2026-11-30T16:30:00Z', 2);
      await s.idle();
      expect(s.runs.map((r) => [r.job, r.refused?.code])).toEqual([['nightly', 'NOT_ENDED']]);
      // 20:00Z: the month-end for November, an hour before November ends in Moscow.
      await clock.moveTo('2026-11-30T20:00:00Z', 3);
      await s.idle();
      expect(steps).toEqual([]);
      expect(s.runs.map((r) => [r.job, r.businessDate, r.refused?.code])).toEqual([
        ['nightly', '2026-11-30', 'NOT_ENDED'],
        ['monthly', '2026-11-30', 'NOT_ENDED'],
      ]);
      // Each logged once, at error, with its code and when it runs.
      const refusals = lines.filter((l) => l.msg.includes(' for 2026-11-30'));
      expect(refusals.map((l) => [l.level, l.job, l.businessDate, l.code, l.msg])).toEqual([
        [
          'error',
          'nightly',
          '2026-11-30',
          'NOT_ENDED',
          '[NOT_ENDED] nightly for 2026-11-30 cannot run yet: the last business date that has ended is ' +
            '2026-11-29 (Europe/Moscow). Its schedule (schedules.timeZone, dateOffsetDays) fired it before ' +
            'its business date ended; the scheduler runs it when 2026-11-30 ends, at 2026-11-30T21:00:00.000Z',
        ],
        [
          'error',
          'monthly',
          '2026-11-30',
          'NOT_ENDED',
          expect.stringContaining(
            '[NOT_ENDED] monthly for 2026-11-30 cannot run yet: the last business date that has ended is ' +
              '2026-11-29 (Europe/Moscow).',
          ),
        ],
      ]);
      // Owed, recorded as refused: a restart before then catches them up.
      expect(
        await w.t.db
          .knex('job_runs')
          .where({ business_date: '2026-11-30', status: 'failed', refused: true })
          .orderBy('id')
          .pluck('job'),
      ).toEqual(['nightly', 'monthly']);

      // 21:00Z, midnight in Moscow: the night, then the month-end.
      await clock.moveTo('2026-11-30T21:00:00Z', 2);
      await vi.waitFor(() => expect(s.runs).toHaveLength(4));
      await s.idle();
      await s.stop();
      expect(s.runs.slice(2).map((r) => [r.job, r.businessDate, r.status])).toEqual([
        ['nightly', '2026-11-30', 'succeeded'],
        ['monthly', '2026-11-30', 'succeeded'],
      ]);
      expect(steps.at(0)).toEqual(['fetch', '2026-11-30']);
      expect(steps.at(-1)).toEqual(['deliver', '2026-11-30']);
    });

    describe('in a program whose clocks skip midnight (America/Havana, 8 March 2026)', () => {
      // The schedule in UTC fires at 04:00Z, 23:00 on 7 March in Havana: an hour before the day ends, at
      // 05:00Z, when the clocks go from midnight CST straight to 01:00 CDT.
      const havana = () => ({
        ...withSchedules(w.config, [{ job: 'nightly', cron: '0 4 * * *' }], { timeZone: 'UTC' }),
        program: { ...w.config.program, timeZone: 'America/Havana' },
      });
      const refused = () =>
        w.t.db.knex('job_runs').where({ job: 'nightly', refused: true }).count({ n: '*' }).first();

      it('refuses the night fired an hour early and runs it when the day really ends, at 05:00Z', async () => {
        const steps = idleSteps();
        const { logger, lines } = capturedLogger('warn');
        await ran(w, 'nightly', '2026-03-06');
        const clock = new ManualClock('2026-03-08T03:59:00Z');
        const s = new Scheduler({ db: w.t.db, config: havana(), logger, env: {}, ...clock });
        try {
          await s.start();
          await clock.asleep();
          await clock.moveTo('2026-03-08T04:00:30Z', 2);
          await s.idle();
          expect(s.runs.map((r) => [r.businessDate, r.refused?.code])).toEqual([['2026-03-07', 'NOT_ENDED']]);
          expect(lines.find((l) => l.code === 'NOT_ENDED')?.msg).toMatch(
            /the scheduler runs it when 2026-03-07 ends, at 2026-03-08T05:00:00\.000Z$/,
          );
          // Held at 04:00:30 and moved on within the hour, the refused run waits and is not refused again.
          await clock.moveTo('2026-03-08T04:59:59Z', 2);
          await s.idle();
          expect(await refused()).toMatchObject({ n: 1 });
          await clock.moveTo('2026-03-08T05:00:00Z');
          await vi.waitFor(() => expect(s.runs).toHaveLength(2));
          await s.idle();
          expect(s.runs[1]).toMatchObject({ businessDate: '2026-03-07', status: 'succeeded' });
          expect(steps.at(0)).toEqual(['fetch', '2026-03-07']);
          expect(await refused()).toMatchObject({ n: 1 });
        } finally {
          await s.stop();
        }
      });

      it('never refuses a run over and over, even told to wait until an instant already past', async () => {
        idleSteps();
        // The day's end worked out an hour early, at 04:00Z, as it was before.
        vi.mocked(businessDayClose).mockReturnValue(new Date('2026-03-08T04:00:00Z'));
        await ran(w, 'nightly', '2026-03-06');
        const clock = new ManualClock('2026-03-08T03:59:00Z');
        // A scheduler that refuses the run again at once never waits on the clock, and with the test's
        // clock nothing else ends it: it is stopped at its fourth refusal.
        let refusals = 0;
        let spun = false;
        const logger = pino({
          level: 'error',
          hooks: {
            logMethod(args, method) {
              if ((args[0] as { code?: string }).code === 'NOT_ENDED' && ++refusals > 3 && !spun) {
                spun = true;
                void s.stop();
              }
              method.apply(this, args);
            },
          },
        });
        const s: Scheduler = new Scheduler({ db: w.t.db, config: havana(), logger, env: {}, ...clock });
        try {
          await s.start();
          await clock.asleep();
          clock.pass('2026-03-08T04:00:30Z');
          // The refused run sleeps beside the cron's loop, instead of being queued again at once (before,
          // 667 refused runs were recorded in under three seconds with the clock held here).
          await vi.waitFor(() => expect(clock.sleeping === 2 || spun).toBe(true), { timeout: 10_000 });
          await s.idle();
          expect(await refused()).toMatchObject({ n: 1 });
          // Woken past the instant it was told, the day has still not ended: it sleeps again.
          await clock.moveTo('2026-03-08T04:30:00Z', 2);
          await s.idle();
          expect(await refused()).toMatchObject({ n: 1 });
          await clock.moveTo('2026-03-08T05:00:00Z');
          await vi.waitFor(() => expect(s.runs).toHaveLength(2));
          await s.idle();
          expect(s.runs.map((r) => [r.businessDate, r.status])).toEqual([
            ['2026-03-07', 'failed'],
            ['2026-03-07', 'succeeded'],
          ]);
          expect(await refused()).toMatchObject({ n: 1 });
        } finally {
          await s.stop();
          const real = await vi.importActual<typeof import('../reports/common.js')>('../reports/common.js');
          vi.mocked(businessDayClose).mockImplementation(real.businessDayClose);
        }
      });
    });

    it('logs a refused month-end once, at error, with its refusal, the reason the operator must act on', async () => {
      const steps = idleSteps();
      const { logger, lines } = capturedLogger('info');
      await ran(w, 'monthly', '2026-10-31');
      const clock = new ManualClock('2026-12-02T00:00:00Z');
      const s = new Scheduler({
        db: w.t.db,
        config: withSchedules(w.config, [{ job: 'monthly', cron: '0 6 1 * *' }]),
        logger,
        env: {},
        ...clock,
      });
      await s.start();
      await clock.asleep();
      await s.idle();
      await s.stop();
      expect(s.runs.map((r) => [r.job, r.businessDate, r.status])).toEqual([
        ['monthly', '2026-11-30', 'failed'],
      ]);
      expect(steps).toEqual([]);
      const refusal =
        '[NIGHT_INCOMPLETE] monthly for 2026-11-30 refused: no nightly run for 2026-11-30 is recorded';
      expect(lines.filter((l) => l.level === 'error')).toEqual([
        expect.objectContaining({
          job: 'monthly',
          businessDate: '2026-11-30',
          code: 'NIGHT_INCOMPLETE',
          msg: expect.stringContaining(refusal),
        }),
      ]);
      expect(lines.filter((l) => l.msg.includes(refusal))).toHaveLength(1);
      // The scheduler adds only what it does about it.
      expect(lines.filter((l) => l.msg.startsWith('monthly for 2026-11-30: '))).toEqual([
        expect.objectContaining({
          level: 'info',
          msg: 'monthly for 2026-11-30: refused [NIGHT_INCOMPLETE], no step run; retried before the next scheduled run',
        }),
      ]);
    });

    it('refuses, records and logs only the runs whose transport lacks a secret, and catches them up once it is set', async () => {
      const server = await startInProcessSftp({ password: 'dcs-secret' });
      try {
        // LH's files go to its own SFTP server, whose password the first daemon's environment lacks.
        const config = withSchedules(w.config, [
          { job: 'deliver', cron: '0 3 * * *' },
          { job: 'retention', cron: '0 3 * * *' },
        ]);
        config.transports = {
          ...config.transports,
          dcs: {
            type: 'sftp',
            host: '127.0.0.1',
            port: server.port,
            username: server.username,
            passwordEnv: 'DCS_PASSWORD',
            hostKeySha256: server.hostKeyFingerprint,
            retries: 0,
            timeoutSeconds: 5,
          },
        };
        config.partners = config.partners.map((p) => (p.code === 'LH' ? { ...p, outbox: 'dcs' } : p));
        const localPath = join(w.dir, 'outbox', 'XX_LH_000001.claims.xml');
        writeFileSync(localPath, '<claims/>');
        await w.t.db.knex('files').insert({
          direction: 'out',
          feed: 'alliance-claims',
          name: 'XX_LH_000001.claims.xml',
          size: 9,
          sha256: createHash('sha256').update('<claims/>').digest('hex'),
          local_path: localPath,
          partner_code: 'LH',
          business_date: '2026-11-26',
          verdict: 'written',
          created_at: '2026-11-26T23:00:00.000Z',
        });
        await ran(w, 'deliver', '2026-11-26');
        await ran(w, 'retention', '2026-11-26');

        const { logger, lines } = capturedLogger('warn');
        const clock = new ManualClock('2026-11-28T03:30:00Z');
        const s = new Scheduler({ db: w.t.db, config, logger, env: {}, ...clock });
        await s.start();
        await clock.asleep(2);
        await s.idle();
        const missing =
          'transports.dcs.passwordEnv: environment variable DCS_PASSWORD (SFTP password) is not set; ' +
          `transport dcs (partner@127.0.0.1:${server.port}) is used by partner LH's outbox (1 file(s) ` +
          'waiting for delivery)';
        // At start: the job named at error; retention is not held back by it.
        expect(lines.filter((l) => l.level === 'error' && l.msg.startsWith('deliver: '))).toHaveLength(1);
        expect(lines.find((l) => l.msg.startsWith('deliver: '))!.msg).toContain(missing);
        // At each firing: refused (no step run, nothing connected), recorded failed, logged at error.
        await clock.moveTo('2026-11-29T03:00:00Z', 2);
        await s.idle();
        await s.stop();
        // Each firing also catches up what the other job's firing owes, so the runs are counted by kind.
        const deliveries = s.runs.filter((r) => r.job === 'deliver');
        expect(new Set(deliveries.map((r) => r.businessDate))).toEqual(new Set(['2026-11-27', '2026-11-28']));
        for (const r of deliveries) {
          expect(r).toMatchObject({ status: 'failed', refused: { code: 'SECRET_MISSING' } });
          expect(r.steps.map((step) => step.status)).toEqual(['skipped']);
        }
        expect(s.runs.filter((r) => r.job === 'retention').map((r) => [r.businessDate, r.status])).toEqual([
          ['2026-11-27', 'succeeded'],
          ['2026-11-28', 'succeeded'],
        ]);
        expect(server.stats.connections).toBe(0);
        const refusals = lines.filter((l) => /deliver for 2026-11-2[78]/.test(l.msg));
        expect(refusals).toHaveLength(deliveries.length);
        for (const l of refusals) {
          expect(l).toMatchObject({ level: 'error', job: 'deliver', code: 'SECRET_MISSING' });
          expect(l.msg).toContain(
            `[SECRET_MISSING] deliver for ${String(l.businessDate)} refused: 1 secret(s)`,
          );
        }
        expect(refusals[0]!.msg).toContain(missing);
        const recorded = (await w.t.db
          .knex('job_runs')
          .where({ job: 'deliver' })
          .whereNot({ business_date: '2026-11-26' })
          .select('status', 'error')) as Array<{ status: string; error: string }>;
        expect(recorded).toHaveLength(deliveries.length);
        for (const r of recorded) {
          expect(r.status).toBe('failed');
          expect(r.error).toMatch(/^\[SECRET_MISSING\] deliver for 2026-11-2[78] refused: 1 secret\(s\)/);
        }

        // Restarted with the secret set: the catch-up delivers what was refused.
        const later = await catchUpWith(w, config, '2026-11-29T04:00:00Z', { DCS_PASSWORD: 'dcs-secret' });
        expect(later.runs.map((r) => [r.job, r.businessDate, r.status])).toEqual([
          ['deliver', '2026-11-27', 'succeeded'],
          ['deliver', '2026-11-28', 'succeeded'],
        ]);
        expect(readFileSync(join(server.root, 'XX_LH_000001.claims.xml'), 'utf8')).toBe('<claims/>');
        expect(
          await w.t.db.knex('files').where({ name: 'XX_LH_000001.claims.xml' }).first('verdict'),
        ).toEqual({
          verdict: 'delivered',
        });
      } finally {
        await server.stop();
      }
    });

    it('warns once at start of the nights older than catchUpDays it leaves behind, naming them and the setting', async () => {
      await ran(w, 'accrue', '2026-05-31');
      const { logger, lines } = capturedLogger('warn');
      const clock = new ManualClock('2026-11-28T10:00:00Z');
      const s = new Scheduler({
        db: w.t.db,
        config: withSchedules(w.config, [{ job: 'accrue', cron: '0 3 * * *' }], { catchUpDays: 7 }),
        logger,
        env: {},
        ...clock,
      });
      await s.start();
      await clock.asleep();
      await s.idle();
      await s.stop();
      expect(s.runs.map((r) => r.businessDate)).toEqual([
        '2026-11-21',
        '2026-11-22',
        '2026-11-23',
        '2026-11-24',
        '2026-11-25',
        '2026-11-26',
        '2026-11-27',
      ]);
      const warnings = lines.filter((l) => l.level === 'warn');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.msg).toContain('older than schedules.catchUpDays (7)');
      expect(warnings[0]!.msg).toContain('accrue: 173 from 2026-06-01 to 2026-11-20');

      // Hourly in Sakhalin, a day of catch-up, at 17:30 there on the 28th: the night of the 25th (fired
      // all through the 26th) is left behind; the 26th's, still fired within the day, is caught up.
      await ran(w, 'fetch', '2026-11-24');
      const hourly = { job: 'fetch' as const, cron: '0 * * * *', dateOffsetDays: -1 };
      const at = new Date('2026-11-28T06:30:00Z');
      expect(await datesLeftBehind(w.t.db, hourly, at, 'Asia/Sakhalin', 1)).toEqual({
        first: '2026-11-25',
        last: '2026-11-25',
        count: 1,
        failed: [],
      });
      expect(await missedDays(w.t.db, hourly, at, 'Asia/Sakhalin', 1)).toEqual(['2026-11-26', '2026-11-27']);
    });

    it('warns at start of a night older than catchUpDays that failed though later nights succeeded, naming it', async () => {
      await ran(w, 'accrue', '2026-11-09');
      await ran(w, 'accrue', '2026-11-10', 'failed');
      for (let day = 11; day <= 27; day++) await ran(w, 'accrue', `2026-11-${day}`);
      // A night that failed and then succeeded is not owed.
      await ran(w, 'accrue', '2026-11-03', 'failed');
      await ran(w, 'accrue', '2026-11-03');
      for (let day = 10; day <= 21; day++) await ran(w, 'accrue', `2026-10-${day}`, 'failed');
      const { logger, lines } = capturedLogger('warn');
      const clock = new ManualClock('2026-11-28T10:00:00Z');
      const config = withSchedules(w.config, [{ job: 'accrue', cron: '0 3 * * *' }], { catchUpDays: 7 });
      const s = new Scheduler({ db: w.t.db, config, logger, env: {}, ...clock });
      await s.start();
      await clock.asleep();
      await s.idle();
      await s.stop();
      expect(s.runs).toEqual([]);
      const warnings = lines.filter((l) => l.level === 'warn');
      expect(warnings.map((l) => l.leftBehind)).toEqual([
        [
          'accrue: 13 from 2026-10-10 to 2026-11-10, whose runs failed or were refused on 2026-10-10, ' +
            '2026-10-11, 2026-10-12, 2026-10-13, 2026-10-14, 2026-10-15, 2026-10-16, 2026-10-17, 2026-10-18, ' +
            '2026-10-19 and 3 more',
        ],
      ]);
      const daily = { job: 'accrue' as const, cron: '0 3 * * *', dateOffsetDays: -1 };
      const at = new Date('2026-11-28T10:00:00Z');
      expect((await datesLeftBehind(w.t.db, daily, at, 'UTC', 7))?.failed.slice(-3)).toEqual([
        '2026-10-20',
        '2026-10-21',
        '2026-11-10',
      ]);
      // Once run by hand and succeeded, it is no longer owed.
      await w.t.db
        .knex('job_runs')
        .where({ job: 'accrue' })
        .where('business_date', '<', '2026-11-01')
        .delete();
      await ran(w, 'accrue', '2026-11-10');
      expect(await datesLeftBehind(w.t.db, daily, at, 'UTC', 7)).toBeUndefined();
    });

    if (engine === 'postgres') {
      it('two schedulers on one database run each job once per date', async () => {
        await ran(w, 'accrue', '2026-11-20');
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
