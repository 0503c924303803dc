/**
 * Report e-mail goes through an outbox table (`mail_outbox`), so that nothing is lost and nothing is
 * sent twice:
 *
 * - queuing writes one row per report and business date, with a Message-ID derived from both, and keeps
 *   copies of the workbook and chart for the mail; queuing the same report again (a rerun of the night)
 *   finds the row and queues nothing new: a mail no one has had yet takes the report's new figures and
 *   files, one that someone has keeps what it was queued with (see `queueReportMail`);
 * - sending claims a pending row (`sending`, naming the claimant and the time: see `outbox-claims.ts`)
 *   before talking to the SMTP server, and marks it `sent` after the server accepted it. A row that is
 *   `sent` is never picked again. A failed attempt returns the row to `pending` with the error, for the
 *   next `redeye report send`; a permanent refusal of every recipient marks it `failed` with the time
 *   (the address is wrong; sending again would not help), which `--retry-failed` puts back in the queue;
 * - a mail some recipients took and others refused for good is `sent` with those others recorded
 *   (`refused_to`); while its list names one who has not had it (the refused address, or one new on the
 *   list since: a correction), it is listed as partly refused, and `--retry-failed` sends it to them;
 *   the first run that finds its list naming no one owed it closes it, for good;
 * - a mail goes to the recipients its distribution list names when it is sent (an address corrected
 *   since it was queued included), less those it was delivered to: see `addressees`;
 * - a claim whose sender died mid-send is taken back by the next sender and sent again under the same
 *   Message-ID, which lets a deduplicating server or archive drop the copy;
 * - a stop request (SIGTERM) starts no further mail and abandons the one in flight, which stays pending;
 *   a server that does not answer at all is not tried again for the mails after it in the same run.
 */
import { createHash } from 'node:crypto';
import { readFile, rm, rmdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { actualPath, storedPath } from '../lib/paths.js';
import addressparser from 'nodemailer/lib/addressparser';
import type { LoadedConfig } from '../config/load.js';
import type { Db } from '../db/connection.js';
import type { IsoDate } from '../lib/dates.js';
import { ConfigError, RedeyeError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import {
  createMailer,
  MailDeliveryError,
  MailInterruptedError,
  reportMessageId,
  type Mailer,
  type MailerDependencies,
  type ReportMessage,
  type SendOutcome,
} from '../mail/mailer.js';
import { renderReportMail } from '../mail/report-mail.js';
import { dateTextSql, prepareOutDir, sqlRows, writeFileAtomic, type ReportResult } from './common.js';
import { describeHeldClaim, openMailClaims, type MailClaim } from './outbox-claims.js';
import { stopRequest } from '../lib/sleep.js';

export const XLSX_CONTENT_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/** What a queued mail carries, by path: relative paths are under `paths.reports`. */
export interface OutboxFiles {
  workbook: string;
  inline: Array<{ cid: string; path: string }>;
  /**
   * The sha256 of the workbook and chart, when the paths are the mail's own copies of them (see
   * `queueReportMail`); absent for a mail queued before, which attaches the report's files as they are.
   */
  digest?: string;
}

export type QueueOutcome =
  | { queued: true; messageId: string; recipients: string[] }
  | { queued: false; reason: 'already-queued'; messageId: string; status: string; rerun: Rerun }
  | { queued: false; reason: 'no-recipients' | 'mail-not-configured' };

/** The domain of the configured sender (`Redeye <redeye@airline.example>` → `airline.example`). */
export function senderDomain(from: string): string {
  const address = /<([^<>]+)>/.exec(from)?.[1] ?? from;
  const domain = /@([A-Za-z0-9.-]+)\s*$/.exec(address.trim())?.[1];
  if (!domain) {
    throw new ConfigError('the mail sender has no domain for Message-IDs', [
      {
        path: 'mail.from',
        message: `expected an address such as redeye@airline.example, got ${JSON.stringify(from)}`,
      },
    ]);
  }
  return domain.toLowerCase();
}

/**
 * Queues `report` for its distribution list (`mail.lists[report.report]`). Its workbook and chart go
 * with the mail as copies of its own (`mail/<report>-<digest>/` beside the workbook), never rewritten:
 * a rerun of the night writes the report's files again at the same paths, and a mail must attach what
 * its body describes, the same to every recipient.
 *
 * Queuing a report and date that are already in the outbox queues nothing new. If the report's figures
 * or files changed since (a late file the rerun posted), a mail no one has had yet — pending or refused
 * for good, delivered to no one, not in a sender's hands — is brought up to date, body and files in one
 * compare-and-set; one that a recipient has, or a sender is sending, keeps what it was queued with, so
 * that those still owed it get what the others got. `rerun` says which, for the night's warnings.
 */
export async function queueReportMail(
  db: Db,
  config: LoadedConfig,
  report: ReportResult,
  now: Date,
): Promise<QueueOutcome> {
  if (!config.mail) return { queued: false, reason: 'mail-not-configured' };
  const recipients = config.mail.lists[report.report] ?? [];
  if (recipients.length === 0) return { queued: false, reason: 'no-recipients' };
  const messageId = reportMessageId({
    report: `${report.report}-report`,
    businessDate: report.businessDate,
    domain: senderDomain(config.mail.from),
  });
  const mail = await reportMailOf(config, report);
  // A compare-and-set that finds the row changed (claimed, delivered, or updated by another run) reads
  // it again; each change moves the row on, so a few rounds settle it.
  for (let round = 0; ; round++) {
    const existing = (await db
      .knex('mail_outbox')
      .where({ report: report.report, business_date: report.businessDate })
      .first('id', 'message_id', 'status', 'delivered_to', 'subject', 'html', 'text', 'attachments')) as
      StoredMail | undefined;
    if (!existing) break;
    const rerun = await requeue(db, config, report, mail, existing);
    if (rerun === undefined) {
      if (round < 5) continue;
      throw new RedeyeError(
        'REPORT_MAIL_BUSY',
        `the mail of report ${report.report} for ${report.businessDate} kept changing while this run queued it ` +
          'again: another run is queuing or sending it; once that run has finished, run ' +
          `\`redeye run report --date ${report.businessDate}\` again`,
        { report: report.report, businessDate: report.businessDate },
      );
    }
    return {
      queued: false,
      reason: 'already-queued',
      messageId: existing.message_id,
      status: existing.status,
      rerun,
    };
  }
  await keepCopies(mail);
  await db
    .knex('mail_outbox')
    .insert({
      report: report.report,
      business_date: report.businessDate,
      message_id: messageId,
      recipients: JSON.stringify(recipients),
      listed_to: JSON.stringify(recipients),
      delivered_to: '[]',
      subject: mail.body.subject,
      attachments: JSON.stringify(mail.files),
      html: mail.body.html,
      text: mail.body.text,
      status: 'pending',
      attempts: 0,
      created_at: now.toISOString(),
    })
    // Two processes queuing the same report at once: the second insert is the no-op.
    .onConflict(['report', 'business_date'])
    .ignore();
  return { queued: true, messageId, recipients };
}

/** A mail as the outbox holds it, read by a rerun that queues its report again. */
interface StoredMail {
  id: number;
  message_id: string;
  status: string;
  delivered_to: string | null;
  subject: string;
  html: string;
  text: string;
  attachments: string;
}

/** A report's mail as it would be queued now: its body, and its files with the copies to keep of them. */
interface ReportMail {
  body: { subject: string; html: string; text: string };
  files: OutboxFiles;
  copies: Array<{ path: string; bytes: Buffer }>;
}

async function reportMailOf(config: LoadedConfig, report: ReportResult): Promise<ReportMail> {
  const workbookName = basename(report.workbookPath);
  const cid = `${report.report}-chart@redeye`;
  const body = renderReportMail({
    title: report.title,
    businessDate: report.businessDate,
    keyFigures: report.keyFigures,
    ...(report.mainChart
      ? {
          chart: {
            cid,
            png: report.mainChart.png,
            alt: report.mainChart.alt,
            width: report.mainChart.width,
            height: report.mainChart.height,
          },
        }
      : {}),
    attachmentNames: [workbookName],
    footer: `${config.program.name} · sent by Redeye. The workbook has every figure, by sheet.`,
  });
  let workbook: Buffer;
  try {
    workbook = await readFile(report.workbookPath);
  } catch (error) {
    throw new RedeyeError(
      'REPORT_FILE_MISSING',
      `cannot read ${report.workbookPath} to queue its mail: ${(error as Error).message}`,
      { path: report.workbookPath, report: report.report, businessDate: report.businessDate },
    );
  }
  const chart = report.mainChart?.png ?? Buffer.alloc(0);
  // The length first, so that no workbook and chart split otherwise make the same digest.
  const digest = createHash('sha256')
    .update(`${workbook.length}:`)
    .update(workbook)
    .update(chart)
    .digest('hex');
  // Named by the content, the copies of one version are never rewritten with another's bytes: a
  // sender reading them while a rerun queues new ones reads the files its mail's body describes.
  const folder = join(dirname(report.workbookPath), 'mail', `${report.report}-${digest.slice(0, 16)}`);
  const copies = [{ path: join(folder, workbookName), bytes: workbook }];
  if (report.mainChart) copies.push({ path: join(folder, basename(report.mainChart.path)), bytes: chart });
  return {
    body: { subject: body.subject, html: body.html, text: body.text },
    files: {
      workbook: storedPath(config.paths.reports, copies[0]!.path),
      inline: report.mainChart ? [{ cid, path: storedPath(config.paths.reports, copies[1]!.path) }] : [],
      digest,
    },
    copies,
  };
}

async function keepCopies(mail: ReportMail): Promise<void> {
  for (const copy of mail.copies) {
    await prepareOutDir(dirname(copy.path));
    await writeFileAtomic(copy.path, copy.bytes);
  }
}

/**
 * The mail `existing` brought up to date with the report produced again, where no one has had it; or
 * undefined when the compare-and-set found it changed since it was read (claimed, delivered to someone,
 * or updated by another run), to be read again.
 */
async function requeue(
  db: Db,
  config: LoadedConfig,
  report: ReportResult,
  mail: ReportMail,
  existing: StoredMail,
): Promise<Rerun | undefined> {
  const stored = storedFiles(existing.attachments);
  const sameBody =
    existing.subject === mail.body.subject &&
    existing.html === mail.body.html &&
    existing.text === mail.body.text;
  // A mail queued before its files were kept attaches the report's files as they are: its body says
  // whether it describes them.
  if (sameBody && (stored.digest === undefined || stored.digest === mail.files.digest))
    return { kind: 'same' };
  const deliveredTo = parseList(existing.delivered_to);
  const unsent = existing.status === 'pending' || existing.status === 'failed';
  // Such a mail, partly delivered, cannot give those still owed it the files the others had, which are
  // gone: it gives them a body that describes the files they get.
  const earlierFilesGone = stored.digest === undefined && deliveredTo !== null;
  if (!unsent || deliveredTo === null || (deliveredTo.length > 0 && !earlierFilesGone))
    return { kind: 'kept', status: existing.status, deliveredTo, workbook: report.workbookPath };
  await keepCopies(mail);
  const updated = await db
    .knex('mail_outbox')
    .where({
      id: existing.id,
      status: existing.status,
      delivered_to: existing.delivered_to,
      attachments: existing.attachments,
    })
    .update({ ...mail.body, attachments: JSON.stringify(mail.files) });
  if (updated !== 1) return undefined;
  if (stored.digest !== undefined && stored.digest !== mail.files.digest) await removeCopies(config, stored);
  return { kind: 'updated', deliveredTo };
}

/** A mail's files as its row records them; none known of a row edited past reading (it fails when sent). */
function storedFiles(json: string): OutboxFiles {
  try {
    return JSON.parse(json) as OutboxFiles;
  } catch {
    return { workbook: '', inline: [] };
  }
}

/** Removes the copies a mail kept of its files, once it no longer attaches them. */
async function removeCopies(config: LoadedConfig, files: OutboxFiles): Promise<void> {
  const paths = [files.workbook, ...files.inline.map((i) => i.path)]
    .map((p) => actualPath(config.paths.reports, p))
    .filter((p) => p !== undefined);
  for (const path of paths) await rm(path, { force: true });
  // Only when empty: a folder that holds anything else is not the mail's alone.
  for (const folder of new Set(paths.map((p) => dirname(p)))) await rmdir(folder).catch(() => undefined);
}

/**
 * What a rerun that queued a report again did to its mail: nothing, the report being the same; brought
 * it up to date, no one having had it (or, for a mail queued before its files were kept, those still
 * owed it: `deliveredTo` had the earlier figures); or kept it as it was, someone having it or a sender
 * sending it.
 */
export type Rerun =
  | { kind: 'same' }
  | { kind: 'updated'; deliveredTo: string[] }
  | { kind: 'kept'; status: string; deliveredTo: string[] | null; workbook: string };

/** How a rerun that changed a queued report reads among the night's warnings; undefined if it did not. */
/** How far a mail a rerun leaves as it was has gone, as `describeRerun` says it. */
function keptHow(status: string, to: readonly string[] | null): string {
  if (status === 'sending') return 'is being sent';
  if (to === null)
    return status === 'sent'
      ? 'was sent'
      : 'may have reached some recipients (who had it was not recorded before migration 020)';
  if (to.length === 0) return 'was recorded sent';
  return `was ${status === 'sent' ? 'sent' : 'delivered'} to ${to.join(', ')}`;
}

export function describeRerun(report: string, businessDate: IsoDate, rerun: Rerun): string | undefined {
  const head = `report ${report} for ${businessDate} changed since its mail was queued`;
  if (rerun.kind === 'same') return undefined;
  if (rerun.kind === 'updated')
    return rerun.deliveredTo.length === 0
      ? `${head}: the mail, sent to no one yet, now carries this run's figures and workbook`
      : `${head}: ${rerun.deliveredTo.join(', ')} had it with the earlier figures; those still owed it get ` +
          "this run's figures and workbook (the mail was queued before Redeye kept a mail's files, so the " +
          'earlier workbook is gone)';
  return (
    `${head}, but the mail ${keptHow(rerun.status, rerun.deliveredTo)} with the earlier figures: it keeps them and their workbook, so that ` +
    `everyone it goes to has the same mail; this run's workbook, ${rerun.workbook}, is not mailed ` +
    '(a mail is not sent twice: send it by hand to those who need the new figures)'
  );
}

export interface SendOutboxOptions {
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  now?: () => Date;
  /** The mailer to send with; default one built from `mail.smtp`. */
  mailer?: Mailer;
  /** For the default mailer: how it waits between attempts (tests pass one that does not wait). */
  mailerDependencies?: MailerDependencies;
  /** Send only this report's mail. */
  only?: { report: string; businessDate: IsoDate };
  /** Put mails that failed for good back in the queue first. */
  retryFailed?: boolean;
  /** A claim whose claimant cannot be checked is a sender's that died once this old; default one hour. */
  staleClaimMs?: number;
  /**
   * A stop request (SIGTERM): no further mail is started, and the one in flight is abandoned (its
   * connection closed) and left pending for the next run.
   */
  signal?: AbortSignal;
}

/** A mail every recipient of which was refused for good: it is not tried again until `--retry-failed`. */
export interface FailedMail {
  report: string;
  businessDate: IsoDate;
  recipients: string[];
  /** The server's answer. */
  lastError: string | null;
  /** When it was refused; null for a mail refused before migration 018. */
  failedAt: string | null;
}

export interface SendOutboxResult {
  /** Mails recorded sent by this run, `toNoOneNew` of them included. */
  sent: number;
  /**
   * Of `sent`: mails recorded sent without sending, because everyone their list names now has them (or
   * refused them for good); each is in `readdressed` too.
   */
  toNoOneNew: number;
  /** Mails refused for good (every recipient rejected permanently), in this run or before: see `failedMails`. */
  failed: number;
  /** Still waiting after this run (failed for now, or not reached): the next `report send` tries again. */
  pending: number;
  /**
   * Mails not sent by this run, with why: the server's answer, or why they were not tried. `server`
   * (host:port) is set where the SMTP server is the cause (its answer, its silence, its login), not where
   * the configuration or the files are (a list that names no one, a workbook gone).
   */
  errors: Array<{ report: string; businessDate: IsoDate; message: string; server?: string }>;
  failedMails: FailedMail[];
  /**
   * Mails sent to part of their list, others having refused them for good, that the list now names one
   * who has not had: `--retry-failed` sends them to those. The others of them this run closed.
   */
  partlyRefused: PartlyRefusedMail[];
  /** Mails a live sender (another process) is sending: left to it. */
  held: MailClaim[];
  /** Mails claimed by a sender that died mid-send, taken back and sent again by this run. */
  reclaimed: MailClaim[];
  /** Mails whose recipients this run changed to follow their distribution list as it is now. */
  readdressed: Readdressed[];
  /** Set when a stop request ended the run before every mail was tried: `stopped on request (SIGTERM)`. */
  stopped?: string;
}

/** A recipient that refused a mail for good, with the server's answer (null: refused before migration 023). */
export interface Refusal {
  address: string;
  answer: string | null;
}

/** A mail some recipients took and others refused for good, still owed to someone its list names. */
export interface PartlyRefusedMail {
  report: string;
  businessDate: IsoDate;
  /** How many recipients have it. */
  delivered: number;
  refused: Refusal[];
  /** Those the list names now who have not had it and did not refuse it: a corrected address, a new one. */
  added: string[];
}

/** How a partly refused mail reads in `redeye report send` and the night's warnings. */
export function describePartlyRefused(m: PartlyRefusedMail): string {
  const refused = m.refused.map((r) => (r.answer ? `${r.address} (${r.answer})` : r.address)).join(', ');
  const head =
    `report mail ${m.report} for ${m.businessDate} sent to ${m.delivered} of ` +
    `${m.delivered + m.refused.length}; refused for good: ${refused}; `;
  return m.added.length === 0
    ? `${head}correct mail.lists.${m.report} and run \`redeye report send --retry-failed\``
    : `${head}mail.lists.${m.report} now names ${m.added.join(', ')}, who has not had it: ` +
        '`redeye report send --retry-failed` sends it to them';
}

/** A mail whose recipients changed since it was queued or last tried, because its list did. */
export interface Readdressed {
  report: string;
  businessDate: IsoDate;
  /** The recipients it was owed by before: as queued, or those a partial delivery left. */
  was: string[];
  /** The recipients it goes to now; empty when everyone the list names has it. */
  now: string[];
}

/** How a change of a mail's recipients reads in the log, the night's summary and `redeye report send`. */
export function describeReaddressed(r: Readdressed): string {
  const list = (addresses: string[]) => (addresses.length === 0 ? 'no one' : addresses.join(', '));
  if (r.now.length === 0)
    return (
      `report mail ${r.report} for ${r.businessDate} goes to no one new: everyone mail.lists.${r.report} ` +
      `names now has it or refused it for good; recorded sent (it was to go to ${list(r.was)})`
    );
  return (
    `report mail ${r.report} for ${r.businessDate} goes to the recipients mail.lists.${r.report} names now` +
    ` (less those who have it): ${list(r.now)}; it was to go to ${list(r.was)}`
  );
}

/**
 * The mailbox an entry of a list names, by which recipients compare: `Finance <Finance@airline.example>`
 * and `finance@airline.example` are one recipient. Parsed as nodemailer parses the envelope, because the
 * server's accepted and refused recipients come back as the envelope's bare addresses.
 */
function mailboxOf(address: string): string {
  const [parsed] = addressparser(address, { flatten: true });
  return (parsed?.address ?? address).trim().toLowerCase();
}

/** Each address as `spelled` spells its mailbox (the list's display names kept), else as it is. */
function spelledAs(spelled: readonly string[], addresses: readonly string[]): string[] {
  const byMailbox = new Map(spelled.map((a) => [mailboxOf(a), a]));
  return addresses.map((a) => byMailbox.get(mailboxOf(a)) ?? a);
}

/**
 * Who a mail goes to now, given its distribution list now: those still owed it (not yet delivered to)
 * that the list still names, and those new on the list since the mail last took it, less any the mail
 * was delivered to (one dropped from the list and named again) — so an address corrected since the
 * mail was queued, or since it was refused for good, gets it, and no one gets it twice. An address
 * that stayed on the list and is not owed it any more (it has the mail, or refused it for good on a
 * partial delivery) is not tried again. Who has a mail queued before migration 020 and tried since may
 * not be known (`deliveredTo` null): it goes to those still owed it that the list names, and only if
 * the list names none of them any more to the list as it is — a duplicate is possible for one that took
 * it before, where the other way it would reach no one. Addresses compare by mailbox (`mailboxOf`: the
 * display name and case aside); the list's spelling is used.
 */
export function addressees(
  mail: {
    owed: readonly string[];
    listedTo: readonly string[] | null;
    deliveredTo: readonly string[] | null;
  },
  listNow: readonly string[],
): string[] {
  const owed = new Set(mail.owed.map(mailboxOf));
  const before = new Set((mail.listedTo ?? mail.owed).map(mailboxOf));
  const delivered = mail.deliveredTo === null ? undefined : new Set(mail.deliveredTo.map(mailboxOf));
  const to = new Map<string, string>();
  for (const address of listNow) {
    const key = mailboxOf(address);
    const added = delivered !== undefined && !before.has(key) && !delivered.has(key);
    if ((owed.has(key) || added) && !to.has(key)) to.set(key, address);
  }
  if (delivered === undefined && to.size === 0)
    return [...new Map(listNow.map((a) => [mailboxOf(a), a])).values()];
  return [...to.values()];
}

function sameAddresses(a: readonly string[], b: readonly string[]): boolean {
  const keys = new Set(a.map(mailboxOf));
  return keys.size === new Set(b.map(mailboxOf)).size && b.every((x) => keys.has(mailboxOf(x)));
}

const parseList = (json: string | null): string[] | null =>
  json === null ? null : (JSON.parse(json) as string[]);

const parseRefusals = (json: string | null): Refusal[] =>
  json === null ? [] : (JSON.parse(json) as Refusal[]);

/**
 * The refusals for good a mail has after an attempt: those before, less anyone it reached now, with the
 * new ones (the latest answer kept); null when none is left.
 */
function refusalsAfter(
  before: readonly Refusal[],
  outcome: SendOutcome,
  to: readonly string[],
): string | null {
  const done = new Set(
    [...outcome.accepted, ...outcome.rejected.filter((r) => r.permanent).map((r) => r.address)].map(
      mailboxOf,
    ),
  );
  const now = [
    ...before.filter((r) => !done.has(mailboxOf(r.address))),
    ...outcome.rejected
      .filter((r) => r.permanent)
      .map((r) => ({ address: spelledAs(to, [r.address])[0]!, answer: r.response })),
  ];
  return now.length === 0 ? null : JSON.stringify(now);
}

/**
 * The error text of a mail with its refusals for good named, those it does not name already added: where
 * they stay readable once `refused_to` no longer holds them.
 */
function withRefusals(lastError: string | null, refusals: readonly Refusal[]): string | null {
  const missing = refusals.filter((r) => !(lastError ?? '').includes(r.address));
  if (missing.length === 0) return lastError;
  const said = `not delivered to ${missing.map((r) => `${r.address}: ${r.answer ?? 'refused for good'}`).join('; ')}`;
  return (lastError === null ? said : `${lastError}; ${said}`).slice(0, 4000);
}

/** The SQL condition and arguments that keep a query to one report and date, or to all of them. */
const scopeOf = (only: { report: string; businessDate: IsoDate } | undefined) => ({
  sql: only ? ' AND report = ? AND business_date = ?' : '',
  args: only ? [only.report, only.businessDate] : [],
});

/**
 * Of a mail recorded sent with refusals for good, who its list names now that has not had it: the
 * refused still listed (the operator asks again with --retry-failed) and those new on the list since.
 * None when who has it is not known (before migration 020) or the list names no one, and none for a
 * closed mail (`refused_to` null: see `partlyRefusedMails`).
 */
export function stillOwed(
  row: {
    listed_to: string | null;
    delivered_to: string | null;
    refused_to: string | null;
  },
  listNow: readonly string[] | undefined,
): { refused: Refusal[]; to: string[] } {
  const refused = parseRefusals(row.refused_to);
  const deliveredTo = parseList(row.delivered_to);
  if (refused.length === 0 || deliveredTo === null || !listNow || listNow.length === 0)
    return { refused, to: [] };
  const owed = refused.map((r) => r.address);
  return { refused, to: addressees({ owed, listedTo: parseList(row.listed_to), deliveredTo }, listNow) };
}

interface OutboxRow {
  id: number;
  report: string;
  business_date: string;
  message_id: string;
}

/** What a mail says and attaches: read under the claim, since a rerun may bring it up to date until then. */
interface OutboxBody {
  subject: string;
  attachments: string;
  html: string;
  text: string;
}

export function mailerFromConfig(config: LoadedConfig, dependencies: MailerDependencies = {}): Mailer {
  if (!config.mail)
    throw new ConfigError('report mail is not configured', [
      { path: 'mail', message: 'required to send reports' },
    ]);
  const smtp = config.mail.smtp;
  return createMailer(
    {
      host: smtp.host,
      port: smtp.port,
      secure: smtp.secure,
      requireTLS: smtp.requireTLS,
      ...(smtp.userEnv !== undefined ? { userEnv: smtp.userEnv } : {}),
      ...(smtp.passwordEnv !== undefined ? { passwordEnv: smtp.passwordEnv } : {}),
      from: config.mail.from,
      connectionTimeoutMs: smtp.connectionTimeoutSeconds * 1000,
      greetingTimeoutMs: smtp.greetingTimeoutSeconds * 1000,
      socketTimeoutMs: smtp.socketTimeoutSeconds * 1000,
      retry: { attempts: config.mail.retries + 1 },
    },
    dependencies,
  );
}

async function messageOf(
  config: LoadedConfig,
  row: OutboxRow & OutboxBody,
  to: string[],
): Promise<ReportMessage> {
  const files = JSON.parse(row.attachments) as OutboxFiles;
  const read = async (stored: string) => {
    const path = actualPath(config.paths.reports, stored);
    // A relative path that climbs out of the folder was not written by Redeye (an edited row, a database
    // from elsewhere): what it names is not ours to mail.
    if (path === undefined)
      throw new RedeyeError(
        'REPORT_FILE_OUTSIDE',
        `its file ${stored} lies outside ${config.paths.reports} (paths.reports) and is not read`,
        { path: stored, report: row.report, businessDate: row.business_date },
      );
    try {
      return await readFile(path);
    } catch (error) {
      throw new RedeyeError(
        'REPORT_FILE_MISSING',
        `cannot read ${path} for the mail: ${(error as Error).message}`,
        {
          path,
          report: row.report,
          businessDate: row.business_date,
        },
      );
    }
  };
  return {
    to,
    subject: row.subject,
    html: row.html,
    text: row.text,
    messageId: row.message_id,
    inlineImages: await Promise.all(
      files.inline.map(async (image) => ({
        cid: image.cid,
        filename: basename(image.path),
        content: await read(image.path),
      })),
    ),
    attachments: [
      {
        filename: basename(files.workbook),
        content: await read(files.workbook),
        contentType: XLSX_CONTENT_TYPE,
      },
    ],
  };
}

/** Sends every pending report mail; see the module comment for what happens on failure. */
export async function sendOutbox(
  db: Db,
  config: LoadedConfig,
  options: SendOutboxOptions = {},
): Promise<SendOutboxResult> {
  const knex = db.knex;
  const now = options.now ?? (() => new Date());
  const signal = options.signal;
  const only = options.only;
  const { sql: scopeSql, args: scopeArgs } = scopeOf(only);
  const scope = (qb: ReturnType<typeof knex>) =>
    only ? qb.where({ report: only.report, business_date: only.businessDate }) : qb;
  const result: SendOutboxResult = {
    sent: 0,
    failed: 0,
    pending: 0,
    errors: [],
    failedMails: [],
    held: [],
    reclaimed: [],
    readdressed: [],
    partlyRefused: [],
    toNoOneNew: 0,
  };
  const listOf = (report: string) => config.mail?.lists[report];
  if (options.retryFailed) {
    await scope(knex('mail_outbox').where({ status: 'failed' })).update({
      status: 'pending',
      failed_at: null,
    });
    // A mail sent to part of its list goes back in the queue for those refused and still listed, and
    // those new on the list since; the list it took and who has it stay, so no one gets it twice.
    for (const row of (await scope(
      knex('mail_outbox').where({ status: 'sent' }).whereNotNull('refused_to'),
    ).select('id', 'report', 'listed_to', 'delivered_to', 'refused_to')) as Array<{
      id: number;
      report: string;
      listed_to: string | null;
      delivered_to: string | null;
      refused_to: string;
    }>) {
      const { refused, to } = stillOwed(row, listOf(row.report));
      if (to.length === 0) continue;
      // Compare-and-set: another sender that retried it since has changed its refusals.
      await knex('mail_outbox')
        .where({ id: row.id, status: 'sent', refused_to: row.refused_to })
        .update({ status: 'pending', recipients: JSON.stringify(refused.map((r) => r.address)) });
    }
  }

  const claims = await openMailClaims(db);
  try {
    const { taken, held } = await claims.reclaim(
      only,
      new Date(now().getTime() - (options.staleClaimMs ?? 3_600_000)),
    );
    result.reclaimed = taken;
    result.held = held;
    for (const c of taken)
      options.logger?.warn(
        { report: c.report, businessDate: c.businessDate, claimant: c.claimant, claimedAt: c.claimedAt },
        `report mail ${c.report} for ${c.businessDate} was being sent by ${c.claimant ?? 'a sender'} ` +
          `(since ${c.claimedAt ?? 'an unknown time'}), which ended before it was recorded sent: sending it ` +
          'again under the same Message-ID (if the server had already accepted it, the recipients get it twice)',
      );
    for (const c of held)
      options.logger?.warn(
        { report: c.report, businessDate: c.businessDate, claimant: c.claimant, claimedAt: c.claimedAt },
        describeHeldClaim(c),
      );

    const rows = await sqlRows<OutboxRow>(
      knex,
      `SELECT id, report, ${dateTextSql(db, 'business_date')} AS business_date, message_id
         FROM mail_outbox WHERE status = 'pending'${scopeSql}
        ORDER BY id`,
      scopeArgs,
    );
    const mailer =
      rows.length === 0
        ? undefined
        : (options.mailer ??
          mailerFromConfig(config, {
            ...options.mailerDependencies,
            ...(options.env ? { env: options.env } : {}),
            ...(options.logger ? { logger: options.logger } : {}),
          }));
    const server = config.mail ? `${config.mail.smtp.host}:${config.mail.smtp.port}` : 'the SMTP server';
    /** Set when the server could not be reached at all: the mails after it are not tried this run. */
    let unreachable: string | undefined;

    for (const row of rows) {
      const where = { report: row.report, businessDate: row.business_date };
      if (signal?.aborted) {
        result.stopped = stopRequest(signal?.reason);
        break;
      }
      if (unreachable) {
        result.errors.push({ ...where, message: `not tried: ${unreachable}`, server });
        continue;
      }
      // Another sender took it between our read and our claim.
      if (!(await claims.claim(row.id, now()))) continue;
      // For the refusals of a failed attempt too: those before it, and the list it went to.
      let refusedBefore: Refusal[] = [];
      let to: string[] = [];
      try {
        // Read again under the claim: a sender before us may have delivered it to part of its list since,
        // and a rerun of its night brought its body and files up to date.
        const stored = (await knex('mail_outbox')
          .where({ id: row.id })
          .first(
            'recipients',
            'listed_to',
            'delivered_to',
            'refused_to',
            'subject',
            'attachments',
            'html',
            'text',
          )) as OutboxBody & {
          recipients: string;
          listed_to: string | null;
          delivered_to: string | null;
          refused_to: string | null;
        };
        refusedBefore = parseRefusals(stored.refused_to);
        const owed = JSON.parse(stored.recipients) as string[];
        const deliveredTo = parseList(stored.delivered_to);
        const lists = config.mail?.lists;
        const listNow = lists ? (lists[row.report] ?? []) : undefined;
        to = owed;
        if (listNow !== undefined && listNow.length === 0) {
          // Sent to no one is not sent: it waits for the list to name someone, in sight of every run.
          const message =
            (lists && Object.hasOwn(lists, row.report)
              ? `mail.lists.${row.report} names no one`
              : `mail.lists has no list for report ${row.report}`) +
            `; it goes with the next run once mail.lists.${row.report} names its recipients` +
            ' (to close a mail no one is to have, name an archive mailbox there)';
          await knex('mail_outbox')
            .where({ id: row.id })
            .update({ status: 'pending', claim_host: null, claim_pid: null, last_error: message });
          result.errors.push({ ...where, message });
          options.logger?.warn({ ...where, messageId: row.message_id }, `report mail ${message}`);
          continue;
        }
        if (listNow !== undefined) {
          to = addressees({ owed, listedTo: parseList(stored.listed_to), deliveredTo }, listNow);
          const change: Readdressed = { ...where, was: owed, now: to };
          if (!sameAddresses(owed, to)) {
            result.readdressed.push(change);
            options.logger?.warn(
              { ...where, messageId: row.message_id, was: owed, now: to, deliveredTo },
              describeReaddressed(change),
            );
          }
          // Recorded before sending: a sender killed mid-send leaves the next one the list it sent to.
          await knex('mail_outbox')
            .where({ id: row.id })
            .update({ recipients: JSON.stringify(to), listed_to: JSON.stringify(listNow) });
          if (to.length === 0) {
            // Everyone the list names now has it (or refused it for good): nothing is left to send.
            await knex('mail_outbox')
              .where({ id: row.id })
              .update({
                status: 'sent',
                sent_at: now().toISOString(),
                claim_host: null,
                claim_pid: null,
                last_error: `not sent to ${owed.join(', ')}: no longer on mail.lists.${row.report}`.slice(
                  0,
                  4000,
                ),
              });
            result.sent++;
            result.toNoOneNew++;
            continue;
          }
        }
        // The server names recipients by bare address: kept as the list spells them, so that a
        // display name is not lost from those still owed it.
        const delivered = (accepted: readonly string[]) =>
          deliveredTo === null ? null : JSON.stringify([...deliveredTo, ...spelledAs(to, accepted)]);
        const outcome = await mailer!.sendReport(
          await messageOf(config, { ...row, ...stored }, to),
          signal ? { signal } : {},
        );
        const refused = outcome.rejected.map((r) => `${r.address}: ${r.response}`).join('; ');
        // Recipients refused for now (retries run out, or a stop request in the middle): the mail waits
        // for them alone, under its Message-ID, so those who have it do not get it twice.
        const later = spelledAs(
          to,
          outcome.rejected.filter((r) => !r.permanent).map((r) => r.address),
        );
        if (later.length > 0) {
          const message =
            `delivered to ${outcome.accepted.length} of the list; left for the next run for ` +
            `${later.join(', ')}: ${refused}`;
          await knex('mail_outbox')
            .where({ id: row.id })
            .update({
              status: 'pending',
              recipients: JSON.stringify(later),
              delivered_to: delivered(outcome.accepted),
              refused_to: refusalsAfter(refusedBefore, outcome, to),
              claim_host: null,
              claim_pid: null,
              last_error: message.slice(0, 4000),
            });
          options.logger?.warn({ ...where, messageId: row.message_id }, `report mail ${message}`);
          if (signal?.aborted) {
            result.stopped = stopRequest(signal.reason);
            break;
          }
          result.errors.push({ ...where, message, server });
          continue;
        }
        await knex('mail_outbox')
          .where({ id: row.id })
          .update({
            status: 'sent',
            sent_at: now().toISOString(),
            delivered_to: delivered(outcome.accepted),
            refused_to: refusalsAfter(refusedBefore, outcome, to),
            claim_host: null,
            claim_pid: null,
            last_error: refused === '' ? null : `not delivered to ${refused}`,
          });
        result.sent++;
        options.logger?.info(
          { ...where, messageId: row.message_id, accepted: outcome.accepted.length },
          'report mail sent',
        );
      } catch (error) {
        if (error instanceof MailInterruptedError) {
          // Nobody has it yet: it goes with the next run, under the same Message-ID.
          await knex('mail_outbox')
            .where({ id: row.id })
            .update({ status: 'pending', claim_host: null, claim_pid: null });
          result.stopped = stopRequest(signal?.reason);
          options.logger?.warn(
            { ...where, messageId: row.message_id },
            `report mail ${row.report} for ${row.business_date} left pending: ${error.message}`,
          );
          break;
        }
        const permanent =
          error instanceof MailDeliveryError &&
          error.outcome.rejected.length > 0 &&
          error.outcome.rejected.every((r) => r.permanent);
        const message = error instanceof Error ? error.message : String(error);
        await knex('mail_outbox')
          .where({ id: row.id })
          .update({
            status: permanent ? 'failed' : 'pending',
            claim_host: null,
            claim_pid: null,
            last_error: message.slice(0, 4000),
            ...(permanent
              ? {
                  failed_at: now().toISOString(),
                  refused_to: refusalsAfter(refusedBefore, (error as MailDeliveryError).outcome, to),
                }
              : {}),
          });
        const smtpCause = error instanceof MailDeliveryError || error instanceof ConfigError;
        result.errors.push({ ...where, message, ...(smtpCause ? { server } : {}) });
        options.logger?.warn(
          { ...where, messageId: row.message_id, permanent },
          `report mail not sent: ${message}`,
        );
        // Without credentials no mail can go: the rest stays pending untouched.
        if (error instanceof ConfigError) break;
        if (error instanceof MailDeliveryError && !answered(error))
          // The server is named with each error (`server`), not again in its text.
          unreachable = `the mail before it (${row.report} for ${row.business_date}) got no answer`;
      } finally {
        await claims.release(row.id);
      }
    }
  } finally {
    await claims.close();
  }

  const [left] = await sqlRows<{ n: unknown }>(
    knex,
    `SELECT COUNT(*) AS n FROM mail_outbox WHERE status = 'pending'${scopeSql}`,
    scopeArgs,
  );
  result.pending = Number(left?.n ?? 0);
  result.failedMails = await failedMails(db, only);
  result.failed = result.failedMails.length;
  result.partlyRefused = await partlyRefusedMails(db, only, listOf);
  return result;
}

/**
 * Whether the server answered at all: a mail that got no SMTP reply (refused connection, no greeting, a
 * silent socket) tells that the next mail would wait out the same timeouts and backoff for nothing.
 */
function answered(error: MailDeliveryError): boolean {
  return (
    error.outcome.accepted.length > 0 || error.outcome.rejected.some((r) => r.responseCode !== undefined)
  );
}

/** The mails refused for good, oldest first. */
async function failedMails(db: Db, only?: { report: string; businessDate: IsoDate }): Promise<FailedMail[]> {
  const rows = await sqlRows<{
    report: string;
    business_date: string;
    recipients: string;
    last_error: string | null;
    failed_at: string | null;
  }>(
    db.knex,
    `SELECT report, ${dateTextSql(db, 'business_date')} AS business_date, recipients, last_error, failed_at
       FROM mail_outbox WHERE status = 'failed'${scopeOf(only).sql}
      ORDER BY business_date, id`,
    scopeOf(only).args,
  );
  return rows.map((r) => ({
    report: r.report,
    businessDate: r.business_date,
    recipients: JSON.parse(r.recipients) as string[],
    lastError: r.last_error,
    failedAt: r.failed_at === null ? null : new Date(r.failed_at).toISOString(),
  }));
}

/**
 * The mails sent to part of their list that the list now names one who has not had: oldest first. Those
 * it names no one owed any more are closed on the way (`refused_to` cleared, the refusals kept in the
 * error text): a closed mail is finished, and someone added to its list later is not owed it (a
 * colleague joining in June is not owed May's report). Not while the list names no one: that says
 * nothing of who should have the mail.
 */
async function partlyRefusedMails(
  db: Db,
  only: { report: string; businessDate: IsoDate } | undefined,
  listOf: (report: string) => readonly string[] | undefined,
): Promise<PartlyRefusedMail[]> {
  const rows = await sqlRows<{
    id: number;
    report: string;
    business_date: string;
    listed_to: string | null;
    delivered_to: string | null;
    refused_to: string;
    last_error: string | null;
  }>(
    db.knex,
    `SELECT id, report, ${dateTextSql(db, 'business_date')} AS business_date, listed_to, delivered_to, refused_to,
            last_error
       FROM mail_outbox WHERE status = 'sent' AND refused_to IS NOT NULL${scopeOf(only).sql}
      ORDER BY business_date, id`,
    scopeOf(only).args,
  );
  const open: PartlyRefusedMail[] = [];
  for (const r of rows) {
    const listNow = listOf(r.report);
    const { refused, to } = stillOwed(r, listNow);
    if (to.length === 0) {
      if (listNow && listNow.length > 0)
        // Compare-and-set: a --retry-failed of another process may have put it back in the queue since.
        await db
          .knex('mail_outbox')
          .where({ id: r.id, status: 'sent', refused_to: r.refused_to })
          .update({ refused_to: null, last_error: withRefusals(r.last_error, refused) });
      continue;
    }
    const refusedKeys = new Set(refused.map((x) => mailboxOf(x.address)));
    open.push({
      report: r.report,
      businessDate: r.business_date,
      delivered: new Set(parseList(r.delivered_to)!.map(mailboxOf)).size,
      refused,
      added: to.filter((a) => !refusedKeys.has(mailboxOf(a))),
    });
  }
  return open;
}

export interface OutboxEntry {
  report: string;
  businessDate: IsoDate;
  messageId: string;
  status: string;
  attempts: number;
  lastError: string | null;
}

export async function outboxEntries(db: Db): Promise<OutboxEntry[]> {
  const rows = await sqlRows<{
    report: string;
    business_date: string;
    message_id: string;
    status: string;
    attempts: unknown;
    last_error: string | null;
  }>(
    db.knex,
    `SELECT report, ${dateTextSql(db, 'business_date')} AS business_date, message_id, status, attempts, last_error
       FROM mail_outbox ORDER BY id`,
  );
  return rows.map((r) => ({
    report: r.report,
    businessDate: r.business_date,
    messageId: r.message_id,
    status: r.status,
    attempts: Number(r.attempts),
    lastError: r.last_error,
  }));
}
