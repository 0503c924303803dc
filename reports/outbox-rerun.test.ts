/**
 * A rerun of the night whose figures changed (a late file posted a credit under the date) and the report
 * mail already queued for that date: a mail carries the figures of the files it attaches. One no one has
 * had yet goes with the rerun's figures and workbook; one sent, or delivered to part of its list, stays
 * as it was, so that those still owed it get what the others got; and the night says which.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../config/load.js';
import { reportJob } from '../jobs/report.js';
import { noProgress } from '../jobs/types.js';
import type { IsoDate } from '../lib/dates.js';
import { silentLogger } from '../lib/log.js';
import { availableEngines, createTestDatabase, type TestDb } from '../test/harness/db.js';
import { buildScenario, scenarioConfig, stay, type Scenario } from '../test/harness/report-scenario.js';
import {
  startInProcessSmtp,
  type InProcessSmtp,
  type ReceivedMessage,
} from '../test/harness/smtp-inprocess.js';
import { chartNumberFormatter } from './charts.js';
import type { ReportResult } from './common.js';
import { sendOutbox, type OutboxFiles } from './outbox.js';
import { produceReport } from './produce.js';

const noWait = { sleep: async () => undefined };
const now = () => new Date('2026-06-01T03:00:00Z');

/** The day's accrual as the report's figures have it, formatted as the mail shows it. */
function accrued(report: ReportResult): string {
  const figure = report.keyFigures.find((f) => f.label === 'Points accrued')!;
  return chartNumberFormatter(figure.format)(figure.value as number);
}

/** The line of the mail's plain text that gives the day's accrual. */
function accruedLine(report: ReportResult): RegExp {
  return new RegExp(`^Points accrued\\s+${accrued(report).replace(/[.,]/g, '\\$&')}(\\s|$)`, 'm');
}

const workbookOf = (m: ReceivedMessage) =>
  m.parsed.attachments.find((a) => a.filename?.endsWith('.xlsx'))!.content;
const chartOf = (m: ReceivedMessage) =>
  m.parsed.attachments.find((a) => a.cid === 'daily-chart@redeye')!.content;

for (const engine of availableEngines()) {
  describe(`report mail of a night rerun with changed figures, on ${engine}`, () => {
    let t: TestDb;
    let dir: string;
    let smtp: InProcessSmtp;
    let config: LoadedConfig;
    let scenario: Scenario;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'redeye-outbox-rerun-'));
      smtp = await startInProcessSmtp();
      config = scenarioConfig(dir, { smtp: { host: smtp.host, port: smtp.port } });
      t = await createTestDatabase(engine);
      scenario = await buildScenario(t.db, config, {
        from: '2026-05-25',
        to: '2026-05-31',
        members: 6,
        perDay: 2,
      });
    });
    afterEach(async () => {
      await t.db.knex('mail_outbox').del();
    });
    afterAll(async () => {
      await smtp.stop();
      await t.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    // Each test reruns its own date (the daily report of a date reads nothing of the days after it), so
    // that a late credit one test posts changes no other's figures.
    const night = (businessDate: IsoDate, cfg: LoadedConfig = config) =>
      reportJob({
        db: t.db,
        config: cfg,
        logger: silentLogger,
        businessDate,
        now,
        progress: noProgress,
        env: {},
      });
    const send = (cfg: LoadedConfig = config) => sendOutbox(t.db, cfg, { mailerDependencies: noWait, now });
    /** A late file's 5,000-point hotel stay, posted by the rerun under `day`. */
    const lateStay = (day: IsoDate) =>
      stay(scenario, {
        key: `GS-LATE-${day}`,
        day,
        member: scenario.members[0]!,
        spendMinor: 250_000,
        points: 5_000,
      });
    /** The daily report of `day` as the ledger has it now, written aside (same clock: the same bytes). */
    const dailyNow = (day: IsoDate, aside: string) =>
      produceReport('daily', t.db, config, day, join(dir, aside, day));
    const dailyRow = (day: IsoDate) =>
      t.db
        .knex('mail_outbox')
        .where({ report: 'daily', business_date: day })
        .first('status', 'subject', 'html', 'text', 'attachments') as Promise<{
        status: string;
        subject: string;
        html: string;
        text: string;
        attachments: string;
      }>;

    it('sends a mail still pending with the rerun’s figures and the workbook that has them', async () => {
      const day = '2026-05-30';
      const before = await dailyNow(day, 'before');
      expect((await night(day)).warnings).toBeUndefined();
      smtp.failNext(100, 451);
      expect(await send()).toMatchObject({ sent: 0, pending: 1 });
      smtp.failNext(0);
      const queuedWith = JSON.parse((await dailyRow(day)).attachments) as OutboxFiles;

      await lateStay(day);
      const rerun = await night(day);
      const after = await dailyNow(day, 'after');
      expect(accruedLine(after)).not.toEqual(accruedLine(before));
      expect(rerun.counts).toMatchObject({ queued: 0, alreadyQueued: 1 });
      expect(rerun.warnings).toEqual([
        `report daily for ${day} changed since its mail was queued: the mail, sent to no one yet, now ` +
          "carries this run's figures and workbook",
      ]);

      const sent = smtp.messages.length;
      expect(await send()).toMatchObject({ sent: 1, pending: 0 });
      const [mail] = smtp.messages.slice(sent);
      expect(mail!.parsed.text).toMatch(accruedLine(after));
      expect(mail!.parsed.text).not.toMatch(accruedLine(before));
      expect(mail!.parsed.html).toContain(`>${accrued(after)}<`);
      expect(workbookOf(mail!).equals(readFileSync(after.workbookPath))).toBe(true);
      expect(workbookOf(mail!).equals(readFileSync(before.workbookPath))).toBe(false);
      expect(chartOf(mail!).equals(after.mainChart!.png)).toBe(true);
      // The copies the mail was first queued with went with the update.
      expect(existsSync(join(config.paths.reports, queuedWith.workbook))).toBe(false);
    });

    it('leaves a mail already sent as it was, and says its recipients have the earlier figures', async () => {
      const day = '2026-05-29';
      await night(day);
      expect(await send()).toMatchObject({ sent: 1 });
      const sent = smtp.messages.length;
      // Run again with nothing changed: nothing to say.
      expect((await night(day)).warnings).toBeUndefined();
      const asSent = await dailyRow(day);

      await lateStay(day);
      const rerun = await night(day);
      expect(rerun.warnings).toEqual([
        `report daily for ${day} changed since its mail was queued, but the mail was sent to ` +
          'commercial@airline.example with the earlier figures: it keeps them and their workbook, so that ' +
          `everyone it goes to has the same mail; this run's workbook, ${join(config.paths.reports, day, `daily-${day}.xlsx`)}, ` +
          'is not mailed (a mail is not sent twice: send it by hand to those who need the new figures)',
      ]);
      expect(await dailyRow(day)).toEqual(asSent);
      expect(await send()).toMatchObject({ sent: 0, pending: 0 });
      expect(smtp.messages.length).toBe(sent);
    });

    it('gives those a partly delivered mail is still owed what the others got, not the rerun’s files', async () => {
      const day = '2026-05-28';
      const two = {
        ...config,
        mail: {
          ...config.mail!,
          lists: { ...config.mail!.lists, daily: ['commercial@airline.example', 'finance@airline.example'] },
        },
      };
      const before = await dailyNow(day, 'before');
      await night(day, two);
      // The finance mailbox is over its quota tonight (every attempt: retries 3).
      smtp.rejectRecipient('finance@airline.example', 452, 4);
      const sent = smtp.messages.length;
      expect(await send(two)).toMatchObject({ sent: 0, pending: 1 });
      const [first] = smtp.messages.slice(sent);
      expect(first!.envelope.to).toEqual(['commercial@airline.example']);

      await lateStay(day);
      const rerun = await night(day, two);
      expect(rerun.warnings).toEqual([
        expect.stringMatching(
          new RegExp(
            `^report daily for ${day} changed since its mail was queued, but the mail was delivered to ` +
              'commercial@airline\\.example with the earlier figures: it keeps them',
          ),
        ),
      ]);
      const after = await dailyNow(day, 'after');
      expect(readFileSync(after.workbookPath).equals(readFileSync(before.workbookPath))).toBe(false);

      expect(await send(two)).toMatchObject({ sent: 1, pending: 0 });
      const [second] = smtp.messages.slice(sent + 1);
      expect(second!.envelope.to).toEqual(['finance@airline.example']);
      expect(second!.parsed.text).toBe(first!.parsed.text);
      expect(second!.parsed.html).toBe(first!.parsed.html);
      expect(second!.parsed.text).toMatch(accruedLine(before));
      expect(workbookOf(second!).equals(workbookOf(first!))).toBe(true);
      expect(workbookOf(second!).equals(readFileSync(before.workbookPath))).toBe(true);
      expect(chartOf(second!).equals(chartOf(first!))).toBe(true);
    });
  });
}
