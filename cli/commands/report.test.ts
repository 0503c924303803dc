import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../../config/load.js';
import { createTestDatabase, type TestDb } from '../../test/harness/db.js';
import { buildScenario, scenarioConfig } from '../../test/harness/report-scenario.js';
import { startInProcessSmtp, type InProcessSmtp } from '../../test/harness/smtp-inprocess.js';
import { main } from '../main.js';

describe('redeye report', () => {
  let t: TestDb;
  let dir: string;
  let smtp: InProcessSmtp;
  let config: LoadedConfig;
  let env: NodeJS.ProcessEnv;

  async function redeye(...args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['node', 'redeye', '--config', config.configPath, ...args], {
      output: { out: (s) => out.push(s), err: (s) => err.push(s) },
      env,
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'redeye-report-cli-'));
    smtp = await startInProcessSmtp();
    config = scenarioConfig(dir, { smtp: { host: smtp.host, port: smtp.port } });
    t = await createTestDatabase('sqlite');
    env = { REDEYE_DATABASE_URL: t.url, REDEYE_LOG_LEVEL: 'silent' };
    await buildScenario(t.db, config, { from: '2026-05-20', to: '2026-05-31', members: 12, perDay: 4 });
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
