/**
 * The night's report and deliver steps end to end, with a real SMTP server (Debian's aiosmtpd in its
 * own process): at a month end the daily and monthly reports are written, queued and delivered with
 * the workbooks attached byte for byte and the main chart inline; a rerun of the night writes the
 * same files and sends nothing again.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../config/load.js';
import { deliverMail } from '../jobs/deliver-mail.js';
import { reportJob } from '../jobs/report.js';
import { noProgress, type JobContext } from '../jobs/types.js';
import { silentLogger } from '../lib/log.js';
import { XLSX_CONTENT_TYPE } from '../reports/outbox.js';
import { createTestDatabase, type TestDb } from './harness/db.js';
import { buildScenario, scenarioConfig } from './harness/report-scenario.js';
import { skipWithoutAiosmtpd, startAiosmtpd, type AiosmtpdServer } from './harness/smtp-aiosmtpd.js';

const DAY = '2026-05-31';

describe('report and deliver jobs with a real SMTP server', () => {
  const skip = skipWithoutAiosmtpd();
  let server: AiosmtpdServer;
  let t: TestDb;
  let dir: string;
  let config: LoadedConfig;
  let ctx: JobContext;

  beforeAll(async () => {
    if (skip) return;
    server = await startAiosmtpd();
    dir = mkdtempSync(join(tmpdir(), 'redeye-night-reports-'));
    config = scenarioConfig(dir, { smtp: { host: server.host, port: server.port } });
    t = await createTestDatabase('sqlite');
    await buildScenario(t.db, config, { from: '2026-05-01', to: DAY, members: 20, perDay: 5 });
    ctx = {
      db: t.db,
      config,
      logger: silentLogger,
      businessDate: DAY,
      now: () => new Date('2026-06-01T03:10:00Z'),
      progress: noProgress,
      env: {},
    };
  });
  afterAll(async () => {
    if (skip) return;
    await server.stop();
    await t.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(skip)('writes the month-end reports, mails them, and a rerun changes nothing', async () => {
    const first = await reportJob(ctx);
    expect(first.counts).toEqual({ reports: 3, charts: expect.any(Number), queued: 2, alreadyQueued: 0 });
    expect(first.warnings).toEqual([
      'report partner-points-by-month for 2026-05-31 is not mailed: no recipients',
    ]);
    const folder = join(config.paths.reports, DAY);
    const daily = readFileSync(join(folder, 'daily-2026-05-31.xlsx'));
    const monthly = readFileSync(join(folder, 'monthly-2026-05-31.xlsx'));
    const custom = readFileSync(join(folder, 'partner-points-by-month-2026-05-31.xlsx'));
    const chart = readFileSync(join(folder, 'monthly-2026-05-31-earn-burn.png'));

    const delivered = await deliverMail(ctx);
    expect(delivered.counts).toEqual({ sent: 2, failed: 0, pending: 0 });
    const stored = await server.storedMessages();
    expect(stored).toHaveLength(2);
    const mails = await Promise.all(stored.map((raw) => simpleParser(raw, { keepCidLinks: true })));
    const bySubject = new Map(mails.map((m) => [m.subject, m]));
    const monthlyMail = bySubject.get('Monthly loyalty report, May 2026 — 2026-05-31')!;
    expect(monthlyMail.messageId).toBe('<monthly-report.2026-05-31@airline.example>');
    expect(monthlyMail.to).toMatchObject({ text: 'commercial@airline.example, finance@airline.example' });
    expect(monthlyMail.html).toContain('src="cid:monthly-chart@redeye"');
    expect(monthlyMail.html).toContain('Points liability');
    expect(monthlyMail.text).toMatch(/Liability value \(USD\)\s+\$[\d,]+\.\d\d/);
    const attached = monthlyMail.attachments.find((a) => a.filename === 'monthly-2026-05-31.xlsx');
    expect(attached?.contentType).toBe(XLSX_CONTENT_TYPE);
    expect(attached?.content.equals(monthly)).toBe(true);
    expect(monthlyMail.attachments.find((a) => a.cid === 'monthly-chart@redeye')?.content.equals(chart)).toBe(
      true,
    );
    const dailyMail = bySubject.get('Daily loyalty report — 2026-05-31')!;
    expect(
      dailyMail.attachments.find((a) => a.filename === 'daily-2026-05-31.xlsx')?.content.equals(daily),
    ).toBe(true);

    // The night again: the same bytes on disk, nothing queued or sent twice.
    const again = await reportJob(ctx);
    expect(again.counts).toMatchObject({ reports: 3, queued: 0, alreadyQueued: 2 });
    expect(readFileSync(join(folder, 'daily-2026-05-31.xlsx')).equals(daily)).toBe(true);
    expect(readFileSync(join(folder, 'monthly-2026-05-31.xlsx')).equals(monthly)).toBe(true);
    expect(readFileSync(join(folder, 'partner-points-by-month-2026-05-31.xlsx')).equals(custom)).toBe(true);
    expect((await deliverMail(ctx)).counts).toEqual({ sent: 0, failed: 0, pending: 0 });
    expect(await server.storedMessages()).toHaveLength(2);
  });

  it.skipIf(skip)('on other nights produces the daily report only', async () => {
    const result = await reportJob({ ...ctx, businessDate: '2026-05-30' });
    expect(result.counts).toMatchObject({ reports: 1, queued: 1 });
  });
});
