/**
 * Report mail through the outbox, against an SMTP server in the test process that can be told to
 * fail: queued once however often the night runs, retried by `redeye report send` after a failure,
 * never sent twice, and set aside (not retried every night) when every recipient is refused for good.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../cli/main.js';
import type { LoadedConfig } from '../config/load.js';
import { availableEngines, createTestDatabase, type TestDb } from '../test/harness/db.js';
import { buildScenario, scenarioConfig } from '../test/harness/report-scenario.js';
import { startInProcessSmtp, type InProcessSmtp } from '../test/harness/smtp-inprocess.js';
import type { ReportResult } from './common.js';
import { outboxEntries, queueReportMail, sendOutbox, senderDomain, XLSX_CONTENT_TYPE } from './outbox.js';
import { produceReport } from './produce.js';

const noWait = { sleep: async () => undefined };

async function redeye(args: string[], env: NodeJS.ProcessEnv) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['node', 'redeye', ...args], {
    output: { out: (s) => out.push(s), err: (s) => err.push(s) },
    env: { REDEYE_LOG_LEVEL: 'silent', ...env },
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('senderDomain', () => {
  it('takes the domain of the configured sender, with or without a display name', () => {
    expect(senderDomain('Redeye reports <redeye@Airline.Example>')).toBe('airline.example');
    expect(senderDomain('redeye@airline.example')).toBe('airline.example');
    expect(() => senderDomain('Redeye')).toThrow(/no domain/);
  });
});

for (const engine of availableEngines()) {
  describe(`report mail outbox on ${engine}`, () => {
    let t: TestDb;
    let dir: string;
    let smtp: InProcessSmtp;
    let config: LoadedConfig;
    let daily: ReportResult;
    let monthly: ReportResult;
    const now = () => new Date('2026-06-01T03:00:00Z');

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'redeye-outbox-'));
      smtp = await startInProcessSmtp();
      config = scenarioConfig(dir, { smtp: { host: smtp.host, port: smtp.port } });
      t = await createTestDatabase(engine);
      await buildScenario(t.db, config, { from: '2026-05-20', to: '2026-05-31', members: 12, perDay: 4 });
      daily = await produceReport('daily', t.db, config, '2026-05-31');
      monthly = await produceReport('monthly', t.db, config, '2026-05-31');
    });
    afterAll(async () => {
      await smtp.stop();
      await t.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    it('queues a report once, under a Message-ID made of the report and the date', async () => {
      const first = await queueReportMail(t.db, config, daily, now());
      expect(first).toEqual({
        queued: true,
        messageId: '<daily-report.2026-05-31@airline.example>',
        recipients: ['commercial@airline.example'],
      });
      const again = await queueReportMail(t.db, config, daily, now());
      expect(again).toMatchObject({ queued: false, reason: 'already-queued', status: 'pending' });
      expect(await outboxEntries(t.db)).toEqual([
        {
          report: 'daily',
          businessDate: '2026-05-31',
          messageId: '<daily-report.2026-05-31@airline.example>',
          status: 'pending',
          attempts: 0,
          lastError: null,
        },
      ]);
    });

    it('keeps a mail pending when the server fails it, and report send delivers it later, once', async () => {
      smtp.failNext(100, 451);
      const failed = await sendOutbox(t.db, config, { mailerDependencies: noWait, now });
      expect(failed).toMatchObject({ sent: 0, failed: 0, pending: 1 });
      expect(failed.errors[0]?.message).toMatch(/451/);
      const [entry] = await outboxEntries(t.db);
      expect(entry).toMatchObject({ status: 'pending', attempts: 1 });
      expect(entry?.lastError).toMatch(/451/);
      expect(smtp.messages).toHaveLength(0);
      // All four attempts of the mailer (retries: 3) met the failure.
      expect(smtp.refusals).toBe(4);

      smtp.failNext(0);
      const env = { REDEYE_DATABASE_URL: t.url };
      const sent = await redeye(['--config', config.configPath, 'report', 'send'], env);
      expect(sent.err).toBe('');
      expect(sent.code).toBe(0);
      expect(sent.out).toContain('report mail: 1 sent, 0 failed for good, 0 pending');
      expect(smtp.messages).toHaveLength(1);
      const [row] = await outboxEntries(t.db);
      expect(row).toMatchObject({ status: 'sent', attempts: 2, lastError: null });

      const message = smtp.messages[0]!;
      expect(message.envelope.to).toEqual(['commercial@airline.example']);
      const parsed = await simpleParser(message.raw, { keepCidLinks: true });
      expect(parsed.messageId).toBe('<daily-report.2026-05-31@airline.example>');
      expect(parsed.subject).toBe('Daily loyalty report — 2026-05-31');
      expect(parsed.html).toContain('src="cid:daily-chart@redeye"');
      const workbook = parsed.attachments.find((a) => a.filename === 'daily-2026-05-31.xlsx');
      expect(workbook?.contentType).toBe(XLSX_CONTENT_TYPE);
      expect(workbook?.content.equals(readFileSync(daily.workbookPath))).toBe(true);
      expect(
        parsed.attachments.find((a) => a.cid === 'daily-chart@redeye')?.content.equals(daily.mainChart!.png),
      ).toBe(true);

      // Sending again, and queuing again (a rerun of the night), sends nothing more.
      expect(await queueReportMail(t.db, config, daily, now())).toMatchObject({
        queued: false,
        status: 'sent',
      });
      const nothing = await redeye(['--config', config.configPath, 'report', 'send'], env);
      expect(nothing.code).toBe(0);
      expect(nothing.out).toContain('0 sent');
      expect(smtp.messages).toHaveLength(1);
    });

    it('sets a mail aside when every recipient is refused for good, until asked to retry it', async () => {
      await queueReportMail(t.db, config, monthly, now());
      smtp.rejectRecipient('finance@airline.example', 550, 1);
      smtp.rejectRecipient('commercial@airline.example', 550, 1);
      const refused = await sendOutbox(t.db, config, { mailerDependencies: noWait, now });
      expect(refused).toMatchObject({ sent: 0, failed: 1, pending: 0 });
      expect((await outboxEntries(t.db)).find((e) => e.report === 'monthly')).toMatchObject({
        status: 'failed',
      });
      const connections = smtp.connections;
      expect(await sendOutbox(t.db, config, { mailerDependencies: noWait, now })).toMatchObject({ sent: 0 });
      expect(smtp.connections).toBe(connections);

      const retried = await sendOutbox(t.db, config, { mailerDependencies: noWait, now, retryFailed: true });
      expect(retried).toMatchObject({ sent: 1, failed: 0, pending: 0 });
      const parsed = await simpleParser(smtp.messages.at(-1)!.raw);
      expect(parsed.messageId).toBe('<monthly-report.2026-05-31@airline.example>');
      expect(
        parsed.attachments
          .find((a) => a.filename === 'monthly-2026-05-31.xlsx')
          ?.content.equals(readFileSync(monthly.workbookPath)),
      ).toBe(true);
    });

    it('takes over a send that a dead process claimed long ago, and leaves a fresh claim alone', async () => {
      await t.db.knex('mail_outbox').update({ status: 'sending', sent_at: '2026-06-01T01:00:00.000Z' });
      const before = smtp.messages.length;
      // Half an hour after the claim the claimant may still be sending: hands off.
      const soon = () => new Date('2026-06-01T01:30:00Z');
      expect(await sendOutbox(t.db, config, { mailerDependencies: noWait, now: soon })).toMatchObject({
        sent: 0,
      });
      expect(smtp.messages.length).toBe(before);
      const later = () => new Date('2026-06-01T02:30:00Z');
      expect(await sendOutbox(t.db, config, { mailerDependencies: noWait, now: later })).toMatchObject({
        sent: 2,
      });
      expect(smtp.messages.length).toBe(before + 2);
      expect((await outboxEntries(t.db)).every((e) => e.status === 'sent')).toBe(true);
    });

    it('does not mail a report that has no distribution list', async () => {
      const custom = await produceReport('partner-points-by-month', t.db, config, '2026-05-31');
      expect(await queueReportMail(t.db, config, custom, now())).toEqual({
        queued: false,
        reason: 'no-recipients',
      });
    });
  });
}
