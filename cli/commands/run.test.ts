import { describe, expect, it, vi } from 'vitest';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { useCliInstallation } from '../../test/harness/cli-installation.js';
import { insertMember } from '../../ledger/members.js';
import { STEP_JOBS } from '../../jobs/runner.js';
import { Scheduler } from '../../jobs/schedule.js';
import { FEED_DIRS } from '../../demo/out.js';

const FTL = resolve(import.meta.dirname, '../../parsers/ftl/fixtures/01-simple.ftl');

describe('redeye run and redeye schedule', () => {
  const cli = useCliInstallation('redeye-run-');
  const { redeye } = cli;

  /** How many runs the database has recorded: a refused command records none. */
  const runs = () =>
    cli.withDb(async (knex) =>
      Number(((await knex('job_runs').count({ n: '*' }).first()) as { n: unknown }).n),
    );

  describe('the default business date', () => {
    it('is yesterday in the program’s time zone by the clock REDEYE_NOW pins', async () => {
      // 02:30 UTC on 5 June is 05:30 in Moscow: yesterday is 4 June.
      const r = await redeye(['run', 'accrue', '--json'], { REDEYE_NOW: '2026-06-05T02:30:00Z' });
      expect(r.code, r.err).toBe(0);
      expect(JSON.parse(r.out)).toMatchObject({ job: 'accrue', businessDate: '2026-06-04' });
      // 22:30 UTC on 4 June is already 5 June in Moscow: yesterday is 4 June, not 3 June (UTC's).
      const late = await redeye(['run', 'accrue', '--json'], { REDEYE_NOW: '2026-06-04T22:30:00Z' });
      expect(JSON.parse(late.out)).toMatchObject({ businessDate: '2026-06-04' });
    });

    it('refuses a date that has not ended, before anything runs; a month-end waits for its last day', async () => {
      const env = { REDEYE_NOW: '2026-06-05T02:30:00Z' };
      for (const [args, refusal] of [
        [['run', 'tiers', '--date', '2026-06-05'], 'run tiers for 2026-06-05'],
        [['run', 'nightly', '--date', '2027-06-04'], 'run nightly for 2027-06-04'],
        // Mid-month: the month-end is for 30 June, weeks away.
        [['run', 'monthly', '--date', '2026-06-03'], 'run monthly for 2026-06-30'],
        [['report', 'daily', '--date', '2026-06-05'], 'report daily for 2026-06-05'],
        [['report', 'monthly', '--date', '2026-06-03'], 'report monthly for 2026-06-30'],
      ] as const) {
        const r = await redeye([...args], env);
        expect(r.code).toBe(2);
        expect(r.err).toBe(
          `error [USAGE]: ${refusal} cannot run yet: the last business date that has ended is 2026-06-04 ` +
            '(Europe/Moscow); to replay a night as of another clock, set REDEYE_NOW',
        );
      }
      expect(await runs()).toBe(0);
      // The last day that has ended runs — tiers once that date's accrue has (exit 1, recorded, before);
      // the month-end, once its last day has, is no longer a usage error but waits for that day's night,
      // which has not run here (exit 1, recorded).
      const early = await redeye(['run', 'tiers', '--date', '2026-06-04'], env);
      expect(early.code).toBe(1);
      expect(early.out).toContain(
        'error (tiers) [NOT_ACCRUED]: tiers for 2026-06-04 refused: accrue never ran for 2026-06-04. ' +
          "Run before it, tiers would review and upgrade members without the date's status credits: run " +
          'accrue --date 2026-06-04 (or nightly --date 2026-06-04) until it succeeds, then tiers',
      );
      for (const job of ['accrue', 'tiers'])
        expect((await redeye(['run', job, '--date', '2026-06-04'], env)).code, job).toBe(0);
      const monthEnd = await redeye(['run', 'monthly', '--date', '2026-05-12', '--json'], env);
      expect(monthEnd.code).toBe(1);
      expect(JSON.parse(monthEnd.out)).toMatchObject({
        job: 'monthly',
        businessDate: '2026-05-31',
        status: 'failed',
        refused: { code: 'NIGHT_INCOMPLETE' },
      });
      // Without --date, the month-end is the last month's that has ended: mid-June, May's.
      for (const [now, month] of [
        ['2026-06-05T02:30:00Z', '2026-05-31'],
        ['2026-07-01T02:30:00Z', '2026-06-30'],
      ] as const) {
        const byDefault = await redeye(['run', 'monthly', '--json'], { REDEYE_NOW: now });
        expect(JSON.parse(byDefault.out)).toMatchObject({ job: 'monthly', businessDate: month });
      }
      const printed = await redeye(['run', 'monthly', '--date', '2026-05-31'], env);
      expect(printed.code).toBe(1);
      expect(printed.out).toContain(
        'error (monthly) [NIGHT_INCOMPLETE]: monthly for 2026-05-31 refused: no nightly run for 2026-05-31 ' +
          'is recorded. ',
      );
      expect(await runs()).toBeGreaterThan(0);
    });

    it('of simulate is too', async () => {
      await cli.withDb((knex) =>
        insertMember(knex, {
          number: '1000000016',
          status: 'ACTIVE',
          tier: 'MEMBER',
          surname: 'IVANOV',
          givenName: 'IVAN',
          enrolmentDate: '2020-01-01',
        }),
      );
      const coupon = join(cli.dir, 'coupon.csv');
      writeFileSync(
        coupon,
        'ticket_number,coupon_number,issue_date,pnr,operating_carrier,operating_flight,marketing_carrier,' +
          'marketing_flight,flight_date,origin,destination,cabin,booked_rbd,flown_rbd,fare_basis,' +
          'passenger_surname,passenger_given_name,passenger_type,ffp_carrier,ffp_number,fare_amount,' +
          'carrier_surcharge_amount,tax_amount,currency,coupon_status,source_ref\n' +
          // Flown on 10 June: after the business date REDEYE_NOW gives, long before the wall clock's.
          '0741234567890,1,2026-06-01,K7QX2M,XX,245,,,2026-06-10,SVO,LED,Y,B,B,BSTD,IVANOV,IVAN,ADT,XX,' +
          '1000000016,100.00,12.50,8.40,EUR,F,RA-1\n',
      );
      const r = await redeye(['simulate', 'flown', coupon, '--json'], { REDEYE_NOW: '2026-06-05T02:30:00Z' });
      expect(r.code, r.err).toBe(0);
      const record = r.out
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((e) => e.type === 'record');
      expect(record).toMatchObject({ reason: 'FUTURE_DATE' });
      expect(String(record!.message)).toContain('after the processing date 2026-06-04');
      // Received on the 9th (a night caught up late), the flight waits for its own night.
      const late = await redeye(['simulate', 'flown', coupon, '--received', '2026-06-09T12:00:00Z'], {
        REDEYE_NOW: '2026-06-05T02:30:00Z',
      });
      expect(late.code, late.err).toBe(0);
      expect(late.out).toContain(
        'FLT:XX245:2026-06-10:SVO-LED:XX:1000000016  PENDING DATED_AHEAD  — dated 2026-06-10, after the night of 2026-06-04: decided on the night of 2026-06-10',
      );
    });

    it('a night caught up by hand with --files-until fetches only what had come in by then', async () => {
      const env = { REDEYE_NOW: '2026-06-05T02:30:00Z' };
      const inbox = join(cli.dir, 'var', 'inbox', FEED_DIRS.flown);
      for (const [name, at] of [
        ['early.csv', '2026-06-02T20:00:00Z'],
        ['late.csv', '2026-06-04T01:00:00Z'],
      ] as const) {
        writeFileSync(join(inbox, name), 'not read here\n');
        utimesSync(join(inbox, name), new Date(at), new Date(at));
      }
      for (const wrong of [
        '2026-06-03 02:30',
        '2026-06-03T02:30',
        '2026-02-30T02:30Z',
        'Wed Jun 03 2026 02:30:00 GMT+0300',
      ]) {
        const bad = await redeye(['run', 'fetch', '--date', '2026-06-02', '--files-until', wrong], env);
        expect([bad.code, bad.err]).toEqual([
          2,
          `error [USAGE]: --files-until expects an ISO 8601 time with its offset (2026-06-05T02:30:00Z), got ${JSON.stringify(wrong)}`,
        ]);
      }
      const other = await redeye(
        ['run', 'tiers', '--date', '2026-06-02', '--files-until', '2026-06-03T02:30Z'],
        env,
      );
      expect([other.code, other.err]).toEqual([
        2,
        'error [USAGE]: --files-until limits what fetch takes: run nightly or fetch with it, not tiers',
      ]);
      const r = await redeye(
        ['run', 'fetch', '--date', '2026-06-02', '--files-until', '2026-06-03T02:30+03', '--json'],
        env,
      );
      expect(r.code, r.err).toBe(0);
      expect(JSON.parse(r.out).steps[0].counts).toMatchObject({ new: 1, later: 1 });
      expect(r.log).toContain('flown: 1 file(s) came in after 2026-06-02T23:30:00.000Z');
    });

    it('and --received are refused without an offset, which would read them in the machine’s time zone', async () => {
      const coupon = join(cli.dir, 'coupon.csv');
      writeFileSync(coupon, 'not read: the time is refused first\n');
      for (const wrong of ['2026-06-05T02:30', '2026-06-05 02:30:00', '2026-06-05', 'June 5, 2026 02:30']) {
        const r = await redeye(['run', 'accrue', '--json'], { REDEYE_NOW: wrong });
        expect([r.code, r.err]).toEqual([
          2,
          `error [USAGE]: REDEYE_NOW expects an ISO 8601 time with its offset (2026-06-05T02:30:00Z), got ${JSON.stringify(wrong)}`,
        ]);
        const s = await redeye(['simulate', 'flown', coupon, '--received', wrong], {
          REDEYE_NOW: '2026-06-05T02:30:00Z',
        });
        expect([s.code, s.err]).toEqual([
          2,
          `error [USAGE]: --received expects an ISO 8601 time with its offset (2026-06-05T02:30:00Z), got ${JSON.stringify(wrong)}`,
        ]);
      }
      // The same instant written with another offset replays the same night.
      const moscow = await redeye(['run', 'accrue', '--json'], { REDEYE_NOW: '2026-06-05T05:30+03:00' });
      expect(moscow.code, moscow.err).toBe(0);
      expect(JSON.parse(moscow.out).businessDate).toBe('2026-06-04');
    });

    it('is refused for the scheduler, which runs on the wall clock', async () => {
      const r = await redeye(['schedule'], { REDEYE_NOW: '2026-06-05T02:30:00Z' });
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/^error \[USAGE\]: REDEYE_NOW pins the clock of one run/);
    }, 15_000);
  });

  it('a step stopped by SIGTERM is reported as such, and the run exits 1', async () => {
    copyFileSync(FTL, join(cli.dir, 'var', 'inbox', 'ftl', '01-simple.ftl'));
    const env = { REDEYE_NOW: '2026-05-29T23:30:00Z' };
    expect((await redeye(['run', 'fetch'], env)).code).toBe(0);
    const ingest = STEP_JOBS.ingest;
    // SIGTERM arrives as ingest starts: it stops before its first file.
    vi.spyOn(STEP_JOBS, 'ingest').mockImplementation((ctx) => {
      process.emit('SIGTERM', 'SIGTERM');
      return ingest(ctx);
    });
    const r = await redeye(['run', 'ingest'], env);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^ingest for 2026-05-29: FAILED/);
    expect(r.out).toMatch(/ingest\s+failed/);
    expect(r.out).toContain(
      'error (ingest) [INTERRUPTED]: stopped on request (SIGTERM) while ingest was running, which may have ' +
        'left work undone; a rerun of 2026-05-29 completes it',
    );
    expect(r.out).toContain(
      'stopped at ingest: stopped on request (SIGTERM) while ingest was running; run ingest for 2026-05-29 again to complete it',
    );
    expect(process.listenerCount('SIGTERM')).toBe(0);

    vi.restoreAllMocks();
    const again = await redeye(['run', 'ingest', '--json'], env);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.out)).toMatchObject({
      status: 'succeeded',
      steps: [{ counts: { accepted: 1 } }],
    });
  });

  it('a failed fetch shows, with its error, what the other feeds landed and what it warned of', async () => {
    const inbox = join(cli.dir, 'var', 'inbox');
    copyFileSync(FTL, join(inbox, 'ftl', '01-simple.ftl'));
    writeFileSync(join(inbox, 'ftl', 'NOTES.PDF'), 'not a message\n');
    rmSync(join(inbox, FEED_DIRS.partner), { recursive: true });
    const env = { REDEYE_NOW: '2026-05-29T23:30:00Z' };
    const untaken =
      `1 file(s) in inbox:ftl (${inbox}) match no feed's pattern (ftl "\\\\.(ftl|txt)$") and are not ` +
      'fetched: NOTES.PDF';

    const r = await redeye(['run', 'fetch'], env);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/fetch\s+failed\s+\S+\s+new=1 untaken=1\n/);
    expect(r.out).toContain(`warning (fetch): ${untaken}\nerror (fetch) [FETCH_INCOMPLETE]: 1 feed(s)`);

    // Run again, the fault still there: the message is not landed twice, the stray file still named.
    const json = await redeye(['run', 'fetch', '--json'], env);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out).steps[0]).toMatchObject({
      status: 'failed',
      counts: { new: 0, known: 0, untaken: 1 },
      warnings: [untaken],
      error: { code: 'FETCH_INCOMPLETE' },
    });
  });

  describe('an SFTP secret the environment does not hold', () => {
    const FINGERPRINT = `SHA256:${'A'.repeat(43)}`;
    /**
     * The example with a partner's SFTP server for `feed` (or the exports' outbox, or a partner's own
     * outbox), its secrets named.
     */
    function withSftp(secrets: string, use: { feed: string } | { outbox: true } | { partner: string }) {
      let text = readFileSync(cli.config, 'utf8').replace(
        /\ntransports:\n/,
        `\ntransports:\n  dcs: { type: sftp, host: sftp.dcs.example, username: redeye, ${secrets}, hostKeySha256: "${FINGERPRINT}" }\n`,
      );
      text =
        'feed' in use
          ? text.replace(new RegExp(`(\\n  ${use.feed}: +\\{ source: )inbox`), '$1dcs')
          : 'partner' in use
            ? text.replace(new RegExp(`(\\n  - code: ${use.partner}\\n)`), '$1    outbox: dcs\n')
            : text.replace(/(\nexports:\n {2}outbox: )outbox/, '$1dcs');
      expect(text).toMatch(/source: dcs|outbox: dcs/);
      writeFileSync(cli.config, text);
    }
    /** An export waiting for delivery (`written`), for `partner` or for the exports' outbox. */
    async function waiting(name: string, partner: string | null): Promise<void> {
      const localPath = join(cli.dir, 'var', 'outbox', name);
      mkdirSync(join(cli.dir, 'var', 'outbox'), { recursive: true });
      writeFileSync(localPath, '<claims/>');
      await cli.withDb((knex) =>
        knex('files').insert({
          direction: 'out',
          feed: 'alliance-claims',
          name,
          size: 9,
          sha256: createHash('sha256').update('<claims/>').digest('hex'),
          local_path: localPath,
          business_date: '2026-05-02',
          verdict: 'written',
          created_at: '2026-05-02T23:00:00.000Z',
          partner_code: partner,
        }),
      );
    }

    it('refuses run fetch and run nightly before any run is recorded (exit 2), naming transport, feed and variable', async () => {
      withSftp('privateKeyPathEnv: DCS_KEY_PATH, passphraseEnv: DCS_KEY_PASSPHRASE', { feed: 'flown' });
      // Set but empty is as good as unset; a secret that is set is never printed.
      const env = { DCS_KEY_PATH: '', DCS_KEY_PASSPHRASE: 'hunter2-passphrase' };
      for (const job of ['fetch', 'nightly']) {
        const r = await redeye(['run', job, '--date', '2026-06-04'], env);
        expect(r.code, r.out).toBe(2);
        expect(r.err).toBe(
          `error [CONFIG_INVALID]: redeye run ${job} cannot start: 1 secret(s) its transports need are not ` +
            'set in the environment\n' +
            '  - transports.dcs.privateKeyPathEnv: environment variable DCS_KEY_PATH (path of the SFTP private ' +
            'key) is not set; transport dcs (redeye@sftp.dcs.example:22) is used by feed flown',
        );
        expect(r.err + r.out + r.log).not.toContain('hunter2');
      }
      expect(await runs()).toBe(0);
      // Both missing: each is named.
      const both = await redeye(['run', 'fetch', '--date', '2026-06-04']);
      expect(both.code).toBe(2);
      expect(both.err).toContain('transports.dcs.privateKeyPathEnv: environment variable DCS_KEY_PATH');
      expect(both.err).toContain('transports.dcs.passphraseEnv: environment variable DCS_KEY_PASSPHRASE');
      expect(await runs()).toBe(0);
    });

    it('does not hold back a run that does not connect to the transport', async () => {
      withSftp('passwordEnv: DCS_PASSWORD', { feed: 'flown' });
      for (const job of ['accrue', 'export', 'deliver']) {
        const r = await redeye(['run', job, '--date', '2026-06-04']);
        expect(r.code, `${job}: ${r.err}`).toBe(0);
      }
      expect((await redeye(['files', 'list'])).code).toBe(0);
    });

    it('refuses a night whose mailing lists go to the exports’ outbox over SFTP, and a delivery only while files wait for it', async () => {
      withSftp('passwordEnv: DCS_PASSWORD', { outbox: true });
      // Every night writes its mailing lists there.
      const nightly = await redeye(['run', 'nightly', '--date', '2026-06-04']);
      expect(nightly.code).toBe(2);
      expect(nightly.err).toContain(
        'transports.dcs.passwordEnv: environment variable DCS_PASSWORD (SFTP password) is not set; ' +
          "transport dcs (redeye@sftp.dcs.example:22) is used by exports.outbox (the night's mailing lists)",
      );
      expect(await runs()).toBe(0);
      // Nothing waits: a delivery connects to nothing, and the month-end is held back by its night alone.
      expect((await redeye(['run', 'deliver', '--date', '2026-05-03'])).code).toBe(0);
      const monthly = await redeye(['run', 'monthly', '--date', '2026-05-31']);
      expect(monthly.code).toBe(1);
      expect(monthly.out).toContain('[NIGHT_INCOMPLETE]');
      const recorded = await runs();
      await waiting('XX_LH_000001.claims.xml', null);
      for (const job of ['deliver', 'monthly']) {
        const r = await redeye(['run', job, '--date', '2026-05-31']);
        expect(r.code).toBe(2);
        expect(r.err).toContain(
          'transport dcs (redeye@sftp.dcs.example:22) is used by exports.outbox (1 file(s) waiting for delivery)',
        );
      }
      expect(await runs()).toBe(recorded);
      const fetch = await redeye(['run', 'fetch', '--date', '2026-06-04']);
      expect(fetch.code, fetch.err).toBe(0);
    });

    it('holds back for a partner’s outbox only the runs that would deliver files waiting for it', async () => {
      withSftp('passwordEnv: DCS_PASSWORD', { partner: 'LH' });
      // Nothing waits for LH: the night runs and posts; the claims file its export writes for LH fails at
      // deliver, as it did before the check.
      const nightly = await redeye(['run', 'nightly', '--date', '2026-06-04', '--json']);
      expect(nightly.code, nightly.err).toBe(1);
      const summary = JSON.parse(nightly.out) as {
        steps: Array<{ job: string; status: string; error?: { code: string } }>;
      };
      expect(summary.steps.filter((s) => s.status !== 'succeeded')).toEqual([
        expect.objectContaining({
          job: 'deliver',
          status: 'failed',
          error: expect.objectContaining({ code: 'DELIVERY_INCOMPLETE' }),
        }),
        expect.objectContaining({ job: 'retention', status: 'skipped' }),
      ]);
      expect(summary.steps.find((s) => s.job === 'accrue')?.status).toBe('succeeded');
      // Now a file waits for LH: any run that would deliver it is refused, whatever its date.
      const recorded = await runs();
      for (const [job, date] of [
        ['deliver', '2026-01-10'],
        ['nightly', '2026-06-05'],
      ]) {
        const r = await redeye(['run', job!, '--date', date!]);
        expect(r.code).toBe(2);
        expect(r.err).toBe(
          `error [CONFIG_INVALID]: redeye run ${job} cannot start: 1 secret(s) its transports need are not ` +
            'set in the environment\n' +
            '  - transports.dcs.passwordEnv: environment variable DCS_PASSWORD (SFTP password) is not set; ' +
            "transport dcs (redeye@sftp.dcs.example:22) is used by partner LH's outbox (1 file(s) waiting for " +
            'delivery)',
        );
      }
      expect(await runs()).toBe(recorded);
      expect((await redeye(['run', 'export', '--date', '2026-06-04'])).code).toBe(0);
    });

    it('starts the daemon when a scheduled job needs it, naming at error what its runs will be refused for', async () => {
      withSftp('passwordEnv: DCS_PASSWORD', { feed: 'flown' });
      const start = Scheduler.prototype.start;
      vi.spyOn(Scheduler.prototype, 'start').mockImplementation(async function (this: Scheduler) {
        // Started, it is stopped as an operator would, so that the assertions see what it logged.
        await start.call(this);
        process.emit('SIGTERM', 'SIGTERM');
      });
      const r = await redeye(['schedule']);
      expect(r.code, r.err).toBe(0);
      expect(r.log).toContain('"msg":"scheduler started"');
      const errors = r.log
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { level: string; msg: string })
        .filter((l) => l.level === 'error');
      expect(errors.map((l) => l.msg)).toEqual([
        'nightly: 1 secret(s) its transports need are not set in the environment — ' +
          'transports.dcs.passwordEnv: environment variable DCS_PASSWORD (SFTP password) is not set; ' +
          'transport dcs (redeye@sftp.dcs.example:22) is used by feed flown; each run that needs them is ' +
          'refused and recorded failed, and caught up once they are set and the scheduler restarted',
      ]);
    });
  });

  it('schedule without a schedules section is a configuration error (exit 2) naming the section', async () => {
    writeFileSync(
      cli.config,
      readFileSync(cli.config, 'utf8').replace(/\nschedules:\n(?:[ #][^\n]*\n|\n)*/, '\n'),
    );
    expect(readFileSync(cli.config, 'utf8')).not.toContain('schedules:');
    const r = await redeye(['schedule']);
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      `error [CONFIG_INVALID]: redeye schedule has nothing to run in ${cli.config}\n` +
        '  - schedules.jobs: no scheduled job: the schedules section is missing or lists no jobs; add one, ' +
        'e.g. schedules: { jobs: [{ job: nightly, cron: "30 2 * * *" }] }',
    );
    expect(r.log).not.toContain('scheduler started');
  });

  it('schedule stops cleanly, exit 0, on a SIGTERM in the middle of its start-up', async () => {
    const before = process.listenerCount('SIGTERM');
    const start = Scheduler.prototype.start;
    let handled: boolean | undefined;
    vi.spyOn(Scheduler.prototype, 'start').mockImplementation(function (this: Scheduler) {
      // The signal comes while the daemon is starting: a process without a handler for it dies here.
      handled = process.emit('SIGTERM', 'SIGTERM');
      return start.call(this);
    });
    const running = redeye(['schedule']);
    await vi.waitFor(() => expect(handled).toBeDefined());
    if (!handled) {
      // Nothing took it: this process lives on (a real one would have died), so stop the daemon the
      // way an operator would, once it listens, and let the assertions below report the failure.
      await vi.waitFor(() => expect(process.listenerCount('SIGTERM')).toBeGreaterThan(before));
      process.emit('SIGTERM', 'SIGTERM');
    }
    const r = await running;
    expect(handled).toBe(true);
    expect(r.code).toBe(0);
    expect(r.log).toContain(
      '"signal":"SIGTERM","msg":"stopping: the running step finishes its transaction first"',
    );
    expect(r.log).toContain('scheduler stopped during start-up: nothing was run');
    expect(r.log).toContain('"msg":"scheduler stopped"');
    expect(r.log).not.toContain('scheduler started');
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });
});
