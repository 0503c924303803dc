/**
 * The night's `deliver` step for report mail: sends whatever the outbox holds pending (tonight's
 * reports and any an earlier night could not send), and takes back first a mail a killed run left
 * claimed. A mail that fails stays in the outbox for the next run; one that was sent is never sent
 * again. Each mail that could not go is returned as a failure naming the report, its date and why (the
 * SMTP server where it is the cause), and fails the step. A mail whose recipients changed with its
 * distribution list is counted and named among the step's warnings. A mail refused for good by an earlier run is not tried again (that would
 * be refused again), but the night does not pass over it in silence: it is a warning of the step, with
 * the command that sends it again. So with a mail some recipients refused for good while others took it:
 * it is not sent again by the night, even once the list is corrected, because which of the mails past
 * a change of the list should go to it (a colleague added to the list is not owed last month's report)
 * is the operator's call, made with `report send --retry-failed`; the night names it among its warnings
 * while its list names one who has not had it, and closes it, for good, once the list names no one who
 * has not had it (a colleague added after that is not owed it). A stop request leaves the mail in flight pending for the
 * next run.
 */
import {
  describePartlyRefused,
  describeReaddressed,
  sendOutbox,
  type FailedMail,
} from '../reports/outbox.js';
import { describeHeldClaim } from '../reports/outbox-claims.js';
import type { JobContext, JobResult } from './types.js';

export interface MailDeliveryResult extends JobResult {
  /** One line per report mail not sent (still pending, or refused for good). */
  failures: string[];
}

/** How a mail refused for good reads in the night's summary and in `redeye report send`. */
export function describeFailedMail(mail: FailedMail): string {
  return (
    `report mail ${mail.report} for ${mail.businessDate} to ${mail.recipients.join(', ')} refused for good` +
    `${mail.failedAt ? ` since ${mail.failedAt}` : ''}: ${mail.lastError ?? 'no answer recorded'}`
  );
}

export const RETRY_FAILED_HINT =
  '`redeye report send --retry-failed` sends it again, to the recipients its mail.lists entry names then ' +
  '(correct a wrong address there first), once the server would take it';

export async function deliverMail(ctx: JobContext): Promise<MailDeliveryResult> {
  if (!ctx.config.mail) {
    const [row] = (await ctx.db.knex('mail_outbox').where({ status: 'pending' }).count({ n: '*' })) as Array<{
      n: number | string;
    }>;
    const waiting = Number(row?.n ?? 0);
    return {
      counts: { sent: 0, failed: 0, pending: waiting },
      failures: [],
      ...(waiting > 0
        ? { warnings: [`${waiting} report mail(s) wait in the outbox, but mail is not configured`] }
        : {}),
    };
  }
  const result = await sendOutbox(ctx.db, ctx.config, {
    env: ctx.env,
    logger: ctx.logger,
    now: ctx.now,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  const failedNow = new Set(result.errors.map((e) => `${e.report} ${e.businessDate}`));
  const warnings: string[] = [];
  // Refused for good by an earlier run: the night's own date named mail by mail, the others counted.
  const earlier = result.failedMails.filter((m) => !failedNow.has(`${m.report} ${m.businessDate}`));
  for (const mail of earlier.filter((m) => m.businessDate === ctx.businessDate))
    warnings.push(`${describeFailedMail(mail)}; not sent; ${RETRY_FAILED_HINT}`);
  const others = earlier.filter((m) => m.businessDate !== ctx.businessDate);
  if (others.length > 0)
    warnings.push(
      `${others.length} report mail(s) of other dates refused for good and not sent ` +
        `(${others.map((m) => `${m.report} ${m.businessDate}`).join(', ')}); \`redeye report send\` lists them`,
    );
  // Sent to part of its list: the night's own date named, the others counted.
  for (const m of result.partlyRefused.filter((p) => p.businessDate === ctx.businessDate))
    warnings.push(describePartlyRefused(m));
  const partlyOthers = result.partlyRefused.filter((p) => p.businessDate !== ctx.businessDate);
  if (partlyOthers.length > 0)
    warnings.push(
      `${partlyOthers.length} report mail(s) of other dates sent to part of their list, others refusing them ` +
        `for good (${partlyOthers.map((m) => `${m.report} ${m.businessDate}`).join(', ')}); ` +
        '`redeye report send` lists them',
    );
  // The recipients changed with the list since the mail was queued or last tried: who gets it is news.
  for (const r of result.readdressed) warnings.push(describeReaddressed(r));
  for (const c of result.held) warnings.push(describeHeldClaim(c));
  for (const c of result.reclaimed)
    warnings.push(
      `report mail ${c.report} for ${c.businessDate} was left claimed by ${c.claimant ?? 'a sender'} that ended ` +
        'mid-send; sent again under the same Message-ID (a duplicate is possible if the server had accepted it)',
    );
  if (result.stopped && result.pending > 0)
    warnings.push(`${result.stopped}: ${result.pending} report mail(s) left pending for the next run`);
  return {
    counts: {
      sent: result.sent,
      failed: result.failed,
      pending: result.pending,
      ...(result.reclaimed.length > 0 ? { reclaimed: result.reclaimed.length } : {}),
      ...(result.readdressed.length > 0 ? { readdressed: result.readdressed.length } : {}),
      ...(result.partlyRefused.length > 0 ? { partlyRefused: result.partlyRefused.length } : {}),
    },
    // The SMTP server is named only where it is the cause: a list that names no one is not its fault.
    failures: result.errors.map(
      (e) =>
        `report mail ${e.report} for ${e.businessDate} not sent${e.server ? ` (SMTP ${e.server})` : ''}: ${e.message}`,
    ),
    ...(warnings.length > 0 ? { warnings } : {}),
  };
}
