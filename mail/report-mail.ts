/**
 * The body of a report mail: a short heading, the key figures as a table, the main chart inline
 * (`cid:`), a note about the attached workbook — in HTML that mail clients render (tables and inline
 * styles, no external CSS or images) and an equivalent plain-text part.
 *
 * Every piece of text is escaped: figure labels and notes can carry partner names that came from
 * outside, and an HTML mail is as open to markup injection as a web page.
 */
import { chartNumberFormatter, type ChartNumberFormat } from '../reports/charts.js';
import { RedeyeError } from '../lib/errors.js';
import type { IsoDate } from '../lib/dates.js';
import type { InlineImage } from './mailer.js';

export interface KeyFigure {
  label: string;
  /** A number (formatted with `format`) or text already formatted by the caller. */
  value: number | string;
  format?: ChartNumberFormat;
  /** Relative change against the comparison period (0.052 → ▲ 5.2%); omitted when unknown. */
  change?: number;
  /** Small print under the value, e.g. "vs. same day last year". */
  note?: string;
}

export interface ReportMailInput {
  /** Report name, e.g. "Daily loyalty report". */
  title: string;
  businessDate: IsoDate;
  intro?: string;
  keyFigures: readonly KeyFigure[];
  /** The main chart, shown below the figures; its PNG goes into `inlineImages` with this cid. */
  chart?: { cid: string; png: Buffer; alt: string; width: number; height: number };
  /** Attached files, listed under the chart. */
  attachmentNames?: readonly string[];
  footer?: string;
  /** Locale for thousands separators; default `en-US`. */
  locale?: string;
}

export interface ReportMailBody {
  subject: string;
  html: string;
  text: string;
  inlineImages: InlineImage[];
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text as HTML character data or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch] as string);
}

// A Content-ID is an addr-spec-like token; keeping it to these characters means it can go into a
// header and a URL without further quoting.
const CID = /^[A-Za-z0-9._-]+(@[A-Za-z0-9._-]+)?$/;

function formatValue(figure: KeyFigure, locale: string): string {
  return typeof figure.value === 'number'
    ? chartNumberFormatter(figure.format, locale)(figure.value)
    : figure.value;
}

function formatChange(change: number, locale: string): { text: string; colour: string } {
  const pct = chartNumberFormatter({ style: 'percent', decimals: 1 }, locale)(Math.abs(change));
  if (change > 0) return { text: `▲ ${pct}`, colour: '#2E7D4F' };
  if (change < 0) return { text: `▼ ${pct}`, colour: '#B3261E' };
  return { text: `● ${pct}`, colour: '#52606D' };
}

export function renderReportMail(input: ReportMailInput): ReportMailBody {
  const locale = input.locale ?? 'en-US';
  if (input.chart && !CID.test(input.chart.cid)) {
    throw new RedeyeError(
      'MAIL_MESSAGE_INVALID',
      `not a usable Content-ID: ${JSON.stringify(input.chart.cid)}`,
    );
  }
  const subject = `${input.title} — ${input.businessDate}`;
  const font = 'font-family:Arial,Helvetica,sans-serif;color:#1F2933';

  const rows = input.keyFigures.map((figure) => {
    const change = figure.change === undefined ? undefined : formatChange(figure.change, locale);
    const note =
      figure.note === undefined
        ? ''
        : `<div style="font-size:12px;color:#52606D">${escapeHtml(figure.note)}</div>`;
    return (
      '<tr>' +
      `<td style="padding:6px 12px;border-bottom:1px solid #D9DEE3">${escapeHtml(figure.label)}${note}</td>` +
      `<td style="padding:6px 12px;border-bottom:1px solid #D9DEE3;text-align:right;font-weight:bold;white-space:nowrap">${escapeHtml(formatValue(figure, locale))}</td>` +
      `<td style="padding:6px 12px;border-bottom:1px solid #D9DEE3;text-align:right;white-space:nowrap;color:${change?.colour ?? '#52606D'}">${change ? escapeHtml(change.text) : ''}</td>` +
      '</tr>'
    );
  });

  const parts: string[] = [
    '<!DOCTYPE html>',
    `<html><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>`,
    `<body style="margin:0;padding:16px;${font};font-size:14px">`,
    `<h1 style="font-size:20px;margin:0 0 4px 0">${escapeHtml(input.title)}</h1>`,
    `<p style="margin:0 0 16px 0;color:#52606D">Business date ${escapeHtml(input.businessDate)}</p>`,
  ];
  if (input.intro !== undefined) parts.push(`<p style="margin:0 0 16px 0">${escapeHtml(input.intro)}</p>`);
  if (rows.length > 0) {
    parts.push(
      `<table role="presentation" cellspacing="0" cellpadding="0" style="border-collapse:collapse;${font};font-size:14px;margin:0 0 16px 0">`,
      ...rows,
      '</table>',
    );
  }
  if (input.chart) {
    const { cid, alt, width, height } = input.chart;
    parts.push(
      `<p style="margin:0 0 16px 0"><img src="cid:${escapeHtml(cid)}" alt="${escapeHtml(alt)}" width="${Math.round(width)}" height="${Math.round(height)}" style="display:block;max-width:100%;height:auto;border:0"></p>`,
    );
  }
  if (input.attachmentNames && input.attachmentNames.length > 0) {
    const names = input.attachmentNames.map((n) => `<li>${escapeHtml(n)}</li>`).join('');
    parts.push(`<p style="margin:0 0 4px 0">Attached:</p><ul style="margin:0 0 16px 0">${names}</ul>`);
  }
  if (input.footer !== undefined) {
    parts.push(`<p style="margin:16px 0 0 0;font-size:12px;color:#52606D">${escapeHtml(input.footer)}</p>`);
  }
  parts.push('</body></html>');

  const text: string[] = [input.title, `Business date ${input.businessDate}`, ''];
  if (input.intro !== undefined) text.push(input.intro, '');
  const labelWidth = Math.max(0, ...input.keyFigures.map((f) => f.label.length));
  for (const figure of input.keyFigures) {
    const change = figure.change === undefined ? '' : `  ${formatChange(figure.change, locale).text}`;
    text.push(`${figure.label.padEnd(labelWidth)}  ${formatValue(figure, locale)}${change}`);
    if (figure.note !== undefined) text.push(`${' '.repeat(labelWidth + 2)}${figure.note}`);
  }
  if (input.chart) text.push('', `[Chart: ${input.chart.alt}]`);
  if (input.attachmentNames && input.attachmentNames.length > 0) {
    text.push('', 'Attached:', ...input.attachmentNames.map((n) => `- ${n}`));
  }
  if (input.footer !== undefined) text.push('', input.footer);

  return {
    subject,
    html: parts.join('\n'),
    text: `${text.join('\n')}\n`,
    inlineImages: input.chart
      ? [{ cid: input.chart.cid, filename: `${input.chart.cid.split('@')[0]}.png`, content: input.chart.png }]
      : [],
  };
}
