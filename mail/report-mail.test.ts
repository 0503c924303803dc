import { describe, expect, it } from 'vitest';
import { escapeHtml, renderReportMail, type ReportMailInput } from './report-mail.js';

const chartPng = Buffer.from('not really a png, the body helper does not look inside');

const input: ReportMailInput = {
  title: 'Daily loyalty report',
  businessDate: '2024-05-01',
  intro: 'Accrual was up on partner activity.',
  keyFigures: [
    { label: 'Points accrued', value: 12_345_678, change: 0.052, note: 'vs. same day last year' },
    { label: 'Points redeemed', value: 4_000_000, change: -0.1 },
    { label: 'Liability', value: 1_234_567.891, format: { style: 'currency', currency: 'USD', decimals: 2 } },
    { label: 'Files rejected', value: 'none' },
  ],
  chart: { cid: 'accrual-chart@redeye', png: chartPng, alt: 'Accrual by channel', width: 800, height: 400 },
  attachmentNames: ['daily-2024-05-01.xlsx'],
  footer: 'Sent by Redeye.',
};

describe('renderReportMail', () => {
  it('shows the key figures with thousands separators and the direction of change', () => {
    const { subject, html, text } = renderReportMail(input);
    expect(subject).toBe('Daily loyalty report — 2024-05-01');
    expect(html).toContain('12,345,678');
    expect(html).toContain('▲ 5.2%');
    expect(html).toContain('▼ 10.0%');
    expect(html).toContain('$1,234,567.89');
    expect(text).toContain('Points accrued   12,345,678  ▲ 5.2%');
    expect(text).toContain('Files rejected   none');
    expect(text).toContain('- daily-2024-05-01.xlsx');
  });

  it('refers to the chart by Content-ID and hands over the image to attach inline', () => {
    const { html, inlineImages } = renderReportMail(input);
    expect(html).toContain(
      '<img src="cid:accrual-chart@redeye" alt="Accrual by channel" width="800" height="400"',
    );
    expect(inlineImages).toEqual([
      { cid: 'accrual-chart@redeye', filename: 'accrual-chart.png', content: chartPng },
    ]);
    expect(renderReportMail({ ...input, chart: undefined }).inlineImages).toEqual([]);
  });

  it('escapes every text, so a partner name cannot inject markup', () => {
    const hostile = '<script>alert("x")</script> & <img src=x onerror=alert(1)>';
    const { html } = renderReportMail({
      ...input,
      title: hostile,
      intro: hostile,
      keyFigures: [{ label: hostile, value: hostile, note: hostile }],
      chart: { ...input.chart!, alt: `" onload="alert(1)` },
      attachmentNames: [hostile],
      footer: hostile,
    });
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('" onload="');
    expect(html).toContain(
      '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;',
    );
  });

  it('refuses a Content-ID that could break out of the header or the src attribute', () => {
    expect(() => renderReportMail({ ...input, chart: { ...input.chart!, cid: 'a"b' } })).toThrow(
      /Content-ID/,
    );
    expect(() => renderReportMail({ ...input, chart: { ...input.chart!, cid: 'a\r\nBcc: x@y' } })).toThrow(
      /Content-ID/,
    );
  });
});

describe('escapeHtml', () => {
  it('escapes the five characters that matter in text and attributes', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});
