import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../../config/load.js';
import type { Db } from '../../db/connection.js';
import { availableEngines, createTestDatabase, type TestDb } from '../../test/harness/db.js';
import { buildScenario, scenarioConfig } from '../../test/harness/report-scenario.js';
import { startInProcessSmtp, type InProcessSmtp } from '../../test/harness/smtp-inprocess.js';
import { main } from '../main.js';

/** A run of `job` for `date`, as the night records it. */
async function recordRun(db: Db, job: string, date: string, status: 'succeeded' | 'failed', error?: string) {
  await db.knex('job_runs').insert({
    job,
    business_date: date,
    status,
    started_at: '2026-06-01T03:00:00.000Z',
    finished_at: '2026-06-01T03:05:00.000Z',
    host: hostname(),
    pid: process.pid,
    error: error ?? null,
  });
}

/** `redeye <args>` in process under the suite's configuration and environment: exit code and output. */
async function runRedeye(config: LoadedConfig, env: NodeJS.ProcessEnv, args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['node', 'redeye', '--config', config.configPath, ...args], {
    output: { out: (s) => out.push(s), err: (s) => err.push(s) },
    env,
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** The steps of a night whose work the month-end counts: until each succeeded, its report is not mailed. */
const NIGHT_COUNTED = ['fetch', 'ingest', 'accrue', 'tiers', 'expire'];

describe('redeye report', () => {
  let t: TestDb;
  let dir: string;
  let smtp: InProcessSmtp;
  let config: LoadedConfig;
  let env: NodeJS.ProcessEnv;

  const redeye = (...args: string[]) => runRedeye(config, env, args);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'redeye-report-cli-'));
    smtp = await startInProcessSmtp();
    config = scenarioConfig(dir, { smtp: { host: smtp.host, port: smtp.port } });
    t = await createTestDatabase('sqlite');
    env = { REDEYE_DATABASE_URL: t.url, REDEYE_LOG_LEVEL: 'silent' };
    await buildScenario(t.db, config, { from: '2026-05-20', to: '2026-05-31', members: 12, perDay: 4 });
    // The night of 31 May ran: the month's report may be mailed.
    for (const job of NIGHT_COUNTED) await recordRun(t.db, job, '2026-05-31', 'succeeded');
  });
  afterAll(async () => {
    await smtp.stop();
    await t.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes a report where --out says and prints its files and key figures', async () => {
    const out = join(dir, 'elsewhere');
    const r = await redeye('report', 'monthly', '--date', '2026-05-31', '--out', out);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`workbook  ${join(out, 'monthly-2026-05-31.xlsx')}`);
    expect(r.out).toMatch(/chart {5}.*monthly-2026-05-31-earn-burn\.png/);
    expect(r.out).toMatch(/Points liability\s+[\d,]+/);
    expect(existsSync(join(out, 'monthly-2026-05-31.xlsx'))).toBe(true);
    expect(smtp.messages).toHaveLength(0);
    // A day within the month names the month: its report is the month's, never a second, partial one.
    const mid = await redeye('report', 'monthly', '--date', '2026-05-15', '--out', out);
    expect(mid.code, mid.err).toBe(0);
    expect(mid.out).toContain(`workbook  ${join(out, 'monthly-2026-05-31.xlsx')}`);
    expect(existsSync(join(out, 'monthly-2026-05-15.xlsx'))).toBe(false);
  });

  it('writes under paths.reports/<date> by default, and --send mails it at once', async () => {
    const r = await redeye('report', 'daily', '--date', '2026-05-31', '--send', '--json');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.out) as { workbook: string; mail: { sent: number } };
    expect(result.workbook).toBe(join(config.paths.reports, '2026-05-31', 'daily-2026-05-31.xlsx'));
    expect(result.mail.sent).toBe(1);
    expect(smtp.messages).toHaveLength(1);
    const again = await redeye('report', 'daily', '--date', '2026-05-31', '--send');
    expect(again.code).toBe(0);
    expect(again.out).toContain('mail was already queued (<daily-report.2026-05-31@airline.example>, sent)');
    expect(smtp.messages).toHaveLength(1);
  });

  it('queues and sends the mail at the instant REDEYE_NOW pins, as the night it replays did', async () => {
    const wall = env;
    env = { ...wall, REDEYE_NOW: '2026-06-01T03:15:00Z' };
    try {
      const r = await redeye('report', 'monthly', '--date', '2026-05-31', '--send');
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
    } finally {
      env = wall;
    }
    const mail = (await t.db
      .knex('mail_outbox')
      .where({ report: 'monthly', business_date: '2026-05-31' })
      .first('created_at', 'sent_at', 'status')) as { created_at: string; sent_at: string; status: string };
    expect(mail).toEqual({
      created_at: '2026-06-01T03:15:00.000Z',
      sent_at: '2026-06-01T03:15:00.000Z',
      status: 'sent',
    });
  });

  it('produces a custom report from the configuration by its name', async () => {
    const r = await redeye('report', 'partner-points-by-month', '--date', '2026-05-31');
    expect(r.code).toBe(0);
    expect(r.out).toContain('Partner points by month, business date 2026-05-31');
  });

  it('exits 2 on a usage error and names it', async () => {
    const noDate = await redeye('report', 'daily');
    expect(noDate.code).toBe(2);
    expect(noDate.err).toMatch(
      /needs --date YYYY-MM-DD \(reports: daily, monthly, partner-points-by-month\)/,
    );
    const badDate = await redeye('report', 'daily', '--date', '2026-02-30');
    expect(badDate.code).toBe(2);
    const unknown = await redeye('report', 'weekly', '--date', '2026-05-31');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/no report named "weekly"/);
    const sendWithDate = await redeye('report', 'send', '--date', '2026-05-31');
    expect(sendWithDate.code).toBe(2);
    const unmailable = await redeye('report', 'partner-points-by-month', '--date', '2026-05-31', '--send');
    expect(unmailable.code).toBe(2);
    expect(unmailable.err).toMatch(/cannot be mailed: no recipients/);
  });
});

for (const engine of availableEngines()) {
  describe(`redeye report --send before the night is complete (${engine})`, () => {
    let t: TestDb;
    let dir: string;
    let smtp: InProcessSmtp;
    let config: LoadedConfig;
    let env: NodeJS.ProcessEnv;

    const redeye = (...args: string[]) => runRedeye(config, env, args);
    const queued = async () =>
      (await t.db.knex('mail_outbox').orderBy('id').select('report', 'business_date')) as Array<{
        report: string;
        business_date: string;
      }>;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'redeye-report-send-'));
      smtp = await startInProcessSmtp();
      config = scenarioConfig(dir, { smtp: { host: smtp.host, port: smtp.port } });
      // The quarter's partner points, scheduled monthly, go to finance with the month's report.
      const text = readFileSync(config.configPath, 'utf8');
      const listed = text.replace(
        /( {4}monthly: \[.*\]\n)/,
        '$1    partner-points-by-month: [finance@airline.example]\n',
      );
      expect(listed).not.toBe(text);
      writeFileSync(config.configPath, listed);
      t = await createTestDatabase(engine);
      env = { REDEYE_DATABASE_URL: t.url, REDEYE_LOG_LEVEL: 'silent', REDEYE_NOW: '2026-06-01T06:00:00Z' };
      await buildScenario(t.db, config, { from: '2026-05-20', to: '2026-05-31', members: 8, perDay: 3 });
    });
    afterAll(async () => {
      await smtp.stop();
      await t.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    it('refuses to mail the daily report of a date whose fetch failed (NOT_FETCHED), as run report does', async () => {
      const date = '2026-05-30';
      for (const job of NIGHT_COUNTED) {
        if (job === 'fetch')
          await recordRun(t.db, job, date, 'failed', '[FETCH_INCOMPLETE] 1 feed(s) could not be fetched');
        else await recordRun(t.db, job, date, 'succeeded');
      }
      const refused = await redeye('report', 'daily', '--date', date, '--send');
      expect(refused.code).toBe(1);
      expect(refused.err).toMatch(
        /^error \[NOT_FETCHED\]: report for 2026-05-30 refused: the last fetch for 2026-05-30 \(run \d+, started .*\) failed: \[FETCH_INCOMPLETE\] .*run nightly --date 2026-05-30 until it succeeds .*Without --send, report daily --date 2026-05-30 makes the workbook from what is posted now and mails nothing$/,
      );
      expect(refused.out).toBe('');
      expect(smtp.messages).toHaveLength(0);
      expect(await queued()).toEqual([]);
      // The workbook alone is still made, and mailed by no one.
      const alone = await redeye('report', 'daily', '--date', date);
      expect(alone.code, alone.err).toBe(0);
      expect(existsSync(join(config.paths.reports, date, `daily-${date}.xlsx`))).toBe(true);
      expect(await queued()).toEqual([]);
      // The night run again, its fetch succeeded: the report goes to its list.
      await recordRun(t.db, 'fetch', date, 'succeeded');
      const sent = await redeye('report', 'daily', '--date', date, '--send');
      expect(sent.code, sent.err).toBe(0);
      expect(smtp.messages.map((m) => m.envelope.to)).toEqual([['commercial@airline.example']]);
    });

    it("refuses to mail a month's reports while its last night is not complete (NIGHT_INCOMPLETE), as run monthly does", async () => {
      const date = '2026-05-31';
      for (const job of NIGHT_COUNTED) {
        if (job === 'tiers') await recordRun(t.db, job, date, 'failed', '[INTERNAL] the database went away');
        else await recordRun(t.db, job, date, 'succeeded');
      }
      const before = smtp.messages.length;
      // A day within the month names the month's report, and the custom report scheduled monthly is one.
      for (const [name, asked] of [
        ['monthly', '2026-05-31'],
        ['monthly', '2026-05-15'],
        ['partner-points-by-month', '2026-05-31'],
      ] as const) {
        const refused = await redeye('report', name, '--date', asked, '--send');
        expect(refused.code, name).toBe(1);
        expect(refused.err).toMatch(
          new RegExp(
            '^error \\[NIGHT_INCOMPLETE\\]: monthly for 2026-05-31 refused: the last tiers for 2026-05-31 ' +
              '\\(run \\d+, started .*\\) failed: \\[INTERNAL\\] the database went away\\. .*run nightly ' +
              `--date 2026-05-31 until it succeeds, then monthly\\. Without --send, report ${name} --date ` +
              '2026-05-31 makes the workbook from what is posted now and mails nothing$',
          ),
        );
      }
      expect(smtp.messages.length).toBe(before);
      expect((await queued()).filter((m) => m.business_date === date)).toEqual([]);
      // The workbook alone is still made; the date's daily report waits only for its fetch, as run report.
      expect((await redeye('report', 'monthly', '--date', date)).code).toBe(0);
      expect(existsSync(join(config.paths.reports, date, `monthly-${date}.xlsx`))).toBe(true);
      expect((await redeye('report', 'daily', '--date', date, '--send')).code).toBe(0);
      // The night run again to the end: the month's reports go to finance.
      for (const job of ['tiers', 'expire']) await recordRun(t.db, job, date, 'succeeded');
      for (const name of ['monthly', 'partner-points-by-month']) {
        const sent = await redeye('report', name, '--date', date, '--send');
        expect(sent.code, sent.err).toBe(0);
      }
      expect(smtp.messages.slice(before).map((m) => m.envelope.to)).toEqual([
        ['commercial@airline.example'],
        ['commercial@airline.example', 'finance@airline.example'],
        ['finance@airline.example'],
      ]);
    });
  });
}
