/**
 * The night's `deliver` step for report mail: sends whatever the outbox holds pending (tonight's
 * reports and any an earlier night could not send). A mail that fails stays in the outbox for the
 * next run; one that was sent is never sent again. Each mail that could not go is returned as a
 * failure naming the report, its date and the SMTP server, and fails the step.
 */
import { sendOutbox } from '../reports/outbox.js';
import type { JobContext, JobResult } from './types.js';

export interface MailDeliveryResult extends JobResult {
  /** One line per report mail not sent (still pending, or refused for good). */
  failures: string[];
}

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
  const { host, port } = ctx.config.mail.smtp;
  const result = await sendOutbox(ctx.db, ctx.config, { env: ctx.env, logger: ctx.logger, now: ctx.now });
  return {
    counts: { sent: result.sent, failed: result.failed, pending: result.pending },
    failures: result.errors.map(
      (e) => `report mail ${e.report} for ${e.businessDate} not sent (SMTP ${host}:${port}): ${e.message}`,
    ),
  };
}
