import { describe, expect, it } from 'vitest';
import { copyFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { useCliInstallation } from '../../test/harness/cli-installation.js';
import { FEED_DIRS } from '../../demo/out.js';

const FTL = resolve(import.meta.dirname, '../../parsers/ftl/fixtures/01-simple.ftl');
const NOW = { REDEYE_NOW: '2026-05-29T23:30:00Z' };

describe('redeye runs', () => {
  const cli = useCliInstallation('redeye-runs-', 'silent');
  const { redeye, withDb } = cli;

  /**
   * The night of 29 May as the scheduler would leave it: a file no feed's pattern takes (a warning), the
   * partners' folder gone (fetch fails); then accrue alone for 28 May, which succeeds.
   */
  async function night(): Promise<{ live: string; untaken: string }> {
    const inbox = join(cli.dir, 'var', 'inbox');
    copyFileSync(FTL, join(inbox, 'ftl', '01-simple.ftl'));
    writeFileSync(join(inbox, 'ftl', 'NOTES.PDF'), 'not a message\n');
    rmSync(join(inbox, FEED_DIRS.partner), { recursive: true });
    const live = await redeye(['run', 'nightly'], NOW);
    expect(live.code).toBe(1);
    expect((await redeye(['run', 'accrue', '--date', '2026-05-28'], NOW)).code).toBe(0);
    const untaken =
      `1 file(s) in inbox:ftl (${inbox}) match no feed's pattern (ftl "\\\\.(ftl|txt)$") and are not ` +
      'fetched: NOTES.PDF';
    return { live: live.out, untaken };
  }

  const ids = (knex: import('knex').Knex, job: string) =>
    knex('job_runs').where({ job }).orderBy('id').pluck('id') as Promise<number[]>;

  it('lists the night with its steps and the failure, newest first; show prints it as run printed it live', async () => {
    const { live, untaken } = await night();
    const [nightly] = await withDb((k) => ids(k, 'nightly'));
    const [fetch] = await withDb((k) => ids(k, 'fetch'));

    const list = await redeye(['runs']);
    expect(list.code, list.err).toBe(0);
    const lines = list.out.split('\n');
    // Newest first: accrue alone, then the night and its steps, indented.
    expect(lines[2]).toMatch(/^\d+\s+accrue\s+2026-05-28\s+succeeded\s/);
    expect(lines[3]).toMatch(
      new RegExp(
        `^${nightly}\\s+nightly\\s+2026-05-29\\s+failed\\s+\\S+Z\\s+\\d+\\.\\d\\s+${hostname()} pid \\d+`,
      ),
    );
    expect(lines[4]).toMatch(
      new RegExp(
        `^${fetch}\\s+ {2}fetch\\s+failed\\s+\\d+\\.\\d\\s+new=1 untaken=1; 1 warning\\(s\\); \\[FETCH_INCOMPLETE\\] 1 feed\\(s\\) could not be fetched`,
      ),
    );
    expect(lines[5]).toMatch(/^\d+\s+ {2}ingest\s+succeeded\s+\d+\.\d\s+.*files=1/);
    expect(lines[7]).toMatch(/^\s+ {2}tiers\s+skipped\s*$/);

    // Show prints what the live run printed, but for the seconds: its table, its warning, its error,
    // where it stopped — from the records alone.
    const seconds = (text: string) => text.replace(/\d+\.\d( s)?/g, 'N$1').replace(/ +/g, ' ');
    for (const args of [
      ['runs', 'show', String(nightly)],
      ['runs', 'show', String(fetch)],
      ['runs', 'show', '--date', '2026-05-29'],
    ]) {
      const show = await redeye(args);
      expect(show.code, show.err).toBe(0);
      const [head, ...rest] = show.out.split('\n');
      expect(head).toMatch(
        new RegExp(`^run ${nightly}: started \\S+Z, ended \\S+Z on ${hostname()} pid \\d+$`),
      );
      expect(seconds(rest.join('\n'))).toBe(seconds(live));
    }
    expect(live).toContain(`warning (fetch): ${untaken}\nerror (fetch) [FETCH_INCOMPLETE]: 1 feed(s)`);
    expect(live).toContain(
      'stopped at fetch: fetch failed [FETCH_INCOMPLETE]; what did arrive was read, the rest waits for the rerun; ' +
        'not run: tiers, expire, export, report, deliver, retention; run nightly for 2026-05-29 again to complete it',
    );
  });

  it('prints JSON, and filters by --failed, --job, --date and --last', async () => {
    const { untaken } = await night();
    const json = await redeye(['runs', '--json']);
    expect(json.code, json.err).toBe(0);
    const runs = json.out.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(runs.map((r) => [r.job, r.businessDate, r.status])).toEqual([
      ['accrue', '2026-05-28', 'succeeded'],
      ['nightly', '2026-05-29', 'failed'],
    ]);
    expect(runs[1]).toMatchObject({
      host: hostname(),
      pid: expect.any(Number),
      startedAt: expect.stringMatching(/Z$/),
      finishedAt: expect.stringMatching(/Z$/),
      seconds: expect.any(Number),
      counts: { 'fetch.new': 1, 'fetch.untaken': 1, 'ingest.files': 1 },
      warnings: [`fetch: ${untaken}`],
      stopped: { step: 'fetch', reason: expect.stringMatching(/^fetch failed \[FETCH_INCOMPLETE\]/) },
    });
    const steps = runs[1]!.steps as Array<Record<string, unknown>>;
    expect(steps.map((s) => [s.job, s.status])).toEqual([
      ['fetch', 'failed'],
      ['ingest', 'succeeded'],
      ['accrue', 'succeeded'],
      ...['tiers', 'expire', 'export', 'report', 'deliver', 'retention'].map((s) => [s, 'skipped']),
    ]);
    expect(steps[0]).toMatchObject({
      id: expect.any(Number),
      counts: { new: 1, untaken: 1 },
      warnings: [untaken],
      error: {
        code: 'FETCH_INCOMPLETE',
        message: expect.stringMatching(/^1 feed\(s\) could not be fetched: partner: /),
      },
    });
    expect(steps[3]).toMatchObject({
      reason: 'not run: fetch failed; the rerun runs it once every file is in',
    });
    const shown = await redeye(['runs', 'show', String(runs[1]!.id), '--json']);
    expect(JSON.parse(shown.out)).toEqual({ ...runs[1], seconds: expect.any(Number) });

    const jobsOf = async (...args: string[]) => {
      const r = await redeye(['runs', '--json', ...args]);
      expect(r.code, r.err).toBe(0);
      return r.out === '' ? [] : r.out.split('\n').map((l) => (JSON.parse(l) as { job: string }).job);
    };
    expect(await jobsOf('--failed')).toEqual(['nightly']);
    expect(await jobsOf('--job', 'accrue')).toEqual(['accrue', 'nightly']);
    expect(await jobsOf('--date', '2026-05-29')).toEqual(['nightly']);
    expect(await jobsOf('--date', '2026-05-27')).toEqual([]);
    expect(await jobsOf('--last', '1')).toEqual(['accrue']);
    expect(await jobsOf('--job', 'monthly')).toEqual([]);
  });

  it('finds a step run in a night by --job, as its night, in the list and in show', async () => {
    await night();
    const [nightly] = await withDb((k) => ids(k, 'nightly'));
    const runsOf = async (...args: string[]) => {
      const r = await redeye(['runs', '--json', ...args]);
      expect(r.code, r.err).toBe(0);
      return r.out === ''
        ? []
        : r.out.split('\n').map((l) => {
            const { id, job, businessDate } = JSON.parse(l) as {
              id: number;
              job: string;
              businessDate: string;
            };
            return [id, job, businessDate];
          });
    };
    expect(await runsOf('--job', 'ingest')).toEqual([[nightly, 'nightly', '2026-05-29']]);
    expect(await runsOf('--job', 'fetch', '--failed')).toEqual([[nightly, 'nightly', '2026-05-29']]);
    expect(await runsOf('--job', 'ingest', '--failed')).toEqual([]);
    // Run alone as well, it is listed alone, the night after it.
    expect((await redeye(['run', 'ingest', '--date', '2026-05-28'], NOW)).code).toBe(0);
    const [alone] = await withDb((k) => ids(k, 'ingest').then((i) => i.slice(-1)));
    expect(await runsOf('--job', 'ingest')).toEqual([
      [alone, 'ingest', '2026-05-28'],
      [nightly, 'nightly', '2026-05-29'],
    ]);
    expect(await runsOf('--job', 'ingest', '--last', '1')).toEqual([[alone, 'ingest', '2026-05-28']]);
    expect(await runsOf('--job', 'ingest', '--date', '2026-05-29')).toEqual([
      [nightly, 'nightly', '2026-05-29'],
    ]);
    const list = await redeye(['runs', '--job', 'accrue']);
    expect(list.out).toMatch(new RegExp(`^${nightly}\\s+nightly\\s+2026-05-29\\s+failed`, 'm'));
    expect(list.out).toMatch(/^\d+\s+ {2}accrue\s+succeeded/m);

    const show = await redeye(['runs', 'show', '--date', '2026-05-29', '--job', 'ingest']);
    expect(show.code, show.err).toBe(0);
    expect(show.out).toMatch(new RegExp(`^run ${nightly}: `));
    expect(show.out).toMatch(/^nightly for 2026-05-29: FAILED in/m);
  });

  it('shows a step that failed with SECRET_MISSING as failed with its counts and warnings; a refusal as refused', async () => {
    const key = 'cannot read the private key file named by REDEYE_DCS_KEY_PATH: ENOENT: no such file';
    const [failed, refused] = await withDb(async (knex) => {
      const row = {
        job: 'fetch',
        business_date: '2026-05-29',
        status: 'failed',
        started_at: '2026-05-30T02:30:00.000Z',
        finished_at: '2026-05-30T02:31:00.000Z',
        host: 'batch1',
        pid: 4242,
      };
      const [f] = (await knex('job_runs')
        .insert({ ...row, counts: '{"new":3}', warnings: '["w1"]', error: `[SECRET_MISSING] ${key}` })
        .returning('id')) as Array<{ id: number }>;
      // As the scheduler's run of fetch alone, refused for its unset secret, is recorded.
      const [r] = (await knex('job_runs')
        .insert({
          ...row,
          business_date: '2026-05-30',
          counts: '{}',
          warnings: '[]',
          error: '[SECRET_MISSING] fetch for 2026-05-30 refused: 1 secret(s) its transports need are not set',
          refused: true,
        })
        .returning('id')) as Array<{ id: number }>;
      return [Number(f!.id), Number(r!.id)];
    });
    const list = await redeye(['runs']);
    expect(list.code, list.err).toBe(0);
    const lines = list.out.split('\n');
    expect(lines[2]).toMatch(
      new RegExp(
        `^${refused}\\s+fetch\\s+2026-05-30\\s+failed\\s.*\\[SECRET_MISSING\\] fetch for 2026-05-30 refused`,
      ),
    );
    expect(lines[3]).toMatch(/^\s+ {2}fetch\s+skipped\s*$/);
    expect(lines[4]).toMatch(
      new RegExp(
        `^${failed}\\s+fetch\\s+2026-05-29\\s+failed\\s.*new=3; 1 warning\\(s\\); \\[SECRET_MISSING\\] cannot read`,
      ),
    );
    expect(lines[5]).toMatch(/^redeye runs show <id>/);

    const show = await redeye(['runs', 'show', String(failed)]);
    expect(show.code, show.err).toBe(0);
    expect(show.out).toMatch(/^fetch +failed +\d+\.\d +.*3/m);
    expect(show.out).toContain('warning (fetch): w1');
    expect(show.out).toContain(`error (fetch) [SECRET_MISSING]: ${key}`);
    expect(show.out).not.toMatch(/skipped|refused/);
    const json = JSON.parse((await redeye(['runs', 'show', String(failed), '--json'])).out) as Record<
      string,
      unknown
    >;
    expect(json.refused).toBeUndefined();
    expect(json.steps).toMatchObject([
      { job: 'fetch', status: 'failed', counts: { new: 3 }, warnings: ['w1'] },
    ]);

    const shownRefusal = await redeye(['runs', 'show', String(refused)]);
    expect(shownRefusal.out).toMatch(/^fetch +skipped/m);
    expect(shownRefusal.out).toContain('error (fetch) [SECRET_MISSING]: fetch for 2026-05-30 refused');
    expect(
      JSON.parse((await redeye(['runs', 'show', String(refused), '--json'])).out) as Record<string, unknown>,
    ).toMatchObject({
      refused: { code: 'SECRET_MISSING' },
      steps: [
        { job: 'fetch', status: 'skipped', reason: 'not run: a secret its transports need is not set' },
      ],
    });
  });

  it('finds a month-end by any date of its month', async () => {
    await night();
    const [monthly] = await withDb(async (knex) => {
      const [m] = (await knex('job_runs')
        .insert({
          job: 'monthly',
          business_date: '2026-05-31',
          status: 'failed',
          started_at: '2026-06-01T06:00:00.000Z',
          finished_at: '2026-06-01T06:00:01.000Z',
          host: 'batch1',
          pid: 4242,
          counts: '{}',
          warnings: '[]',
          error:
            '[NIGHT_INCOMPLETE] monthly for 2026-05-31 refused: no nightly run for 2026-05-31 is recorded',
          refused: true,
        })
        .returning('id')) as Array<{ id: number }>;
      return [Number(m!.id)];
    });
    for (const date of ['2026-05-01', '2026-05-12', '2026-05-31']) {
      const listed = await redeye(['runs', '--json', '--job', 'monthly', '--date', date]);
      expect(listed.code, listed.err).toBe(0);
      expect(JSON.parse(listed.out)).toMatchObject({ id: monthly, businessDate: '2026-05-31' });
      const show = await redeye(['runs', 'show', '--date', date, '--job', 'monthly']);
      expect(show.code, show.err).toBe(0);
      expect(show.out).toMatch(new RegExp(`^run ${monthly}: `));
    }
    // Another month's date is not this month-end's, and a date alone lists that date's runs only.
    expect((await redeye(['runs', '--json', '--job', 'monthly', '--date', '2026-06-12'])).out).toBe('');
    expect((await redeye(['runs', '--json', '--date', '2026-05-12'])).out).toBe('');
  });

  it('exits 2 naming the argument: an unknown id, a bad date, a bad --last or --job', async () => {
    await night();
    for (const [args, message] of [
      [['runs', 'show', '999'], 'runs show: no run 999 is recorded'],
      [['runs', 'show', 'x1'], 'runs show: a run id is a number, got "x1"'],
      [['runs', '--date', '2026-5-29'], '--date expects a date YYYY-MM-DD, got "2026-5-29"'],
      [['runs', 'show', '--date', '2026-05-27'], '--date 2026-05-27: no run of nightly is recorded'],
      [['runs', '--last', '0'], '--last expects a positive whole number up to 9007199254740991, got "0"'],
      [['runs', '--last', '99999999999999999999'], '--last expects a positive whole number up to'],
      [['runs', '--last', '9007199254740992'], '--last expects a positive whole number up to'],
      [['runs', '--job', 'nightlly'], '--job: unknown job "nightlly"'],
    ] as const) {
      const r = await redeye([...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toContain(message);
    }
    expect((await redeye(['runs', '--last', String(Number.MAX_SAFE_INTEGER)])).code).toBe(0);
  });

  it('says a run is still running, and reads one killed mid-way as the next run closed it', async () => {
    await night();
    // A night still running accrue, in another process: its record and accrue's are `running`.
    const [night2, accrue] = await withDb(async (knex) => {
      const row = {
        business_date: '2026-05-30',
        started_at: '2026-05-31T02:30:00.000Z',
        host: hostname(),
        pid: process.ppid,
      };
      const [n] = (await knex('job_runs')
        .insert({ ...row, job: 'nightly', status: 'running' })
        .returning('id')) as Array<{ id: number }>;
      for (const job of ['fetch', 'ingest'])
        await knex('job_runs').insert({
          ...row,
          job,
          status: 'succeeded',
          finished_at: '2026-05-31T02:31:00.000Z',
          counts: job === 'fetch' ? '{"new":2}' : '{}',
          warnings: job === 'fetch' ? '["w1"]' : '[]',
          part_of: n!.id,
        });
      const [a] = (await knex('job_runs')
        .insert({ ...row, job: 'accrue', status: 'running', part_of: n!.id })
        .returning('id')) as Array<{ id: number }>;
      return [Number(n!.id), Number(a!.id)];
    });
    const running = await redeye(['runs', 'show', String(night2)]);
    expect(running.code).toBe(0);
    expect(running.out).toMatch(/^nightly for 2026-05-30: RUNNING in/m);
    expect(running.out).toMatch(/^accrue +running /m);
    expect(running.out).toContain('still running: the steps after the last shown have not started');
    expect(running.out).not.toMatch(/tiers|stopped/);

    // Its process killed: said before the next run closes it.
    const dead = 2 ** 22 + 12345; // above Linux's largest pid: no process has it
    await withDb((knex) => knex('job_runs').whereIn('id', [night2, accrue]).update({ pid: dead }));
    const ended = await redeye(['runs', 'show', String(night2)]);
    expect(ended.out).toContain(
      `its process (${hostname()} pid ${dead}) has ended: the next run closes it as failed`,
    );
    expect((await redeye(['runs', '--last', '1'])).out).toMatch(/running \(its process has ended\)/);

    // The next run sweeps it: the night reads failed, stopped where it was killed.
    expect((await redeye(['run', 'accrue', '--date', '2026-05-28'], NOW)).code).toBe(0);
    const killed = await redeye(['runs', 'show', String(accrue)]);
    expect(killed.out).toMatch(/^nightly for 2026-05-30: FAILED in/m);
    expect(killed.out).toContain(
      `error (accrue) [INTERRUPTED]: the process (${hostname()} pid ${dead}) ended before this run finished`,
    );
    expect(killed.out).toContain(
      `error (nightly) [INTERRUPTED]: the process (${hostname()} pid ${dead}) ended before this run finished`,
    );
    expect(killed.out).toContain(
      `stopped at accrue: the process (${hostname()} pid ${dead}) ended before this run finished; not run: tiers,`,
    );
    // Recorded after migration 026: what its finished steps warned of is the night's; the killed step's
    // warnings died with its process, and it is not said to be older than 026.
    expect(killed.out).toContain('warning (fetch): w1');
    expect(killed.out).not.toContain('migration 026');
    const json = JSON.parse((await redeye(['runs', 'show', String(night2), '--json'])).out) as {
      counts: unknown;
      warnings: unknown;
      steps: Array<{ job: string; warnings: unknown }>;
    };
    expect(json).toMatchObject({ counts: { 'fetch.new': 2 }, warnings: ['fetch: w1'] });
    expect(json.steps.find((s) => s.job === 'accrue')!.warnings).toEqual([]);
  });
});
