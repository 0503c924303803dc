/**
 * A report mail — workbook attached, chart inline — sent through a real SMTP server (Debian's
 * aiosmtpd, a separate process with its own SMTP and MIME code) arrives intact: the stored message,
 * parsed with mailparser, carries the very bytes that were sent.
 */
import { simpleParser } from 'mailparser';
import { afterEach, describe, expect, it } from 'vitest';
import { createMailer, reportMessageId } from '../mail/mailer.js';
import { renderReportMail } from '../mail/report-mail.js';
import { renderChart } from '../reports/charts.js';
import { buildWorkbookBuffer } from '../reports/workbook.js';
import { skipWithoutAiosmtpd, startAiosmtpd, type AiosmtpdServer } from './harness/smtp-aiosmtpd.js';

const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

describe('report mail through a real SMTP server', () => {
  const skip = skipWithoutAiosmtpd();
  const started: AiosmtpdServer[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((server) => server.stop()));
  });

  it.skipIf(skip)('arrives with the workbook attachment and the inline chart byte-identical', async () => {
    const server = await startAiosmtpd();
    started.push(server);

    const channels = ['Own flights', 'Partner airlines', 'Hotels', 'Car rental'];
    const points = [1_234_567, 456_789, 120_000, 45_000];
    const chart = await renderChart({
      kind: 'bar',
      title: 'Accrual by channel',
      labels: channels,
      series: [{ label: 'Points', data: points }],
    });
    const { bytes: workbook } = await buildWorkbookBuffer(
      {
        report: { name: 'Daily loyalty report', businessDate: '2024-05-01' },
        clock: () => new Date('2024-05-02T03:00:00Z'),
      },
      async (book) => {
        await book.addSheet({
          name: 'Accrual',
          table: {
            columns: [
              { header: 'Channel', type: 'text', value: (i: number) => channels[i] },
              { header: 'Points', type: 'points', value: (i: number) => points[i] },
            ],
            rows: [0, 1, 2, 3],
            totals: true,
          },
          images: [{ png: chart, at: 'D4' }],
        });
      },
    );
    const body = renderReportMail({
      title: 'Daily loyalty report',
      businessDate: '2024-05-01',
      keyFigures: [{ label: 'Points accrued', value: 1_856_356 }],
      chart: { cid: 'accrual@redeye', png: chart, alt: 'Accrual by channel', width: 800, height: 400 },
      attachmentNames: ['daily-2024-05-01.xlsx'],
    });
    const messageId = reportMessageId({
      report: 'Daily loyalty report',
      businessDate: '2024-05-01',
      domain: 'redeye.test',
    });

    const outcome = await createMailer({
      host: server.host,
      port: server.port,
      secure: false,
      from: 'Redeye <redeye@redeye.test>',
      retry: { attempts: 1 },
      greetingTimeoutMs: 10_000,
      socketTimeoutMs: 10_000,
    }).sendReport({
      to: ['commercial@airline.test'],
      cc: ['revenue@airline.test'],
      ...body,
      attachments: [{ filename: 'daily-2024-05-01.xlsx', content: workbook, contentType: XLSX_TYPE }],
      messageId,
    });
    expect(outcome).toMatchObject({
      accepted: ['commercial@airline.test', 'revenue@airline.test'],
      rejected: [],
      attempts: 1,
    });

    const stored = await server.storedMessages();
    expect(stored).toHaveLength(1);
    // keepCidLinks: mailparser would otherwise replace cid: references by data: URLs.
    const parsed = await simpleParser(stored[0] as Buffer, { keepCidLinks: true });
    expect(parsed.messageId).toBe(messageId);
    expect(parsed.subject).toBe('Daily loyalty report — 2024-05-01');
    expect(parsed.html).toContain('src="cid:accrual@redeye"');
    expect(parsed.text).toContain('Points accrued  1,856,356');

    const attachment = parsed.attachments.find((a) => a.filename === 'daily-2024-05-01.xlsx');
    expect(attachment?.contentType).toBe(XLSX_TYPE);
    expect(attachment?.content.equals(workbook)).toBe(true);
    const inline = parsed.attachments.find((a) => a.cid === 'accrual@redeye');
    expect(inline?.contentType).toBe('image/png');
    expect(inline?.content.equals(chart)).toBe(true);
  });
});
