/**
 * The night's `deliver` step for report mail: sends whatever the outbox holds pending (tonight's
 * reports and any an earlier night could not send). A mail that fails stays in the outbox for the
 * next run; one that was sent is never sent again.
 */
import { sendOutbox } from '../reports/outbox.js';
import type { JobContext, JobResult } from './types.js';

export async function deliverMail(ctx: JobContext): Promise<JobResult> {
  if (!ctx.config.mail) {
    const [row] = (await ctx.db.knex('mail_outbox').where({ status: 'pending' }).count({ n: '*' })) as Array<{
      n: number | string;
    }>;
    const waiting = Number(row?.n ?? 0);
    return {
      counts: { sent: 0, failed: 0, pending: waiting },
      ...(waiting > 0
        ? { warnings: [`${waiting} report mail(s) wait in the outbox, but mail is not configured`] }
        : {}),
    };
  }
  const result = await sendOutbox(ctx.db, ctx.config, { env: ctx.env, logger: ctx.logger, now: ctx.now });
  return {
    counts: { sent: result.sent, failed: result.failed, pending: result.pending },
    ...(result.errors.length > 0
      ? {
          warnings: result.errors.map(
            (e) => `report mail ${e.report} for ${e.businessDate} not sent: ${e.message}`,
          ),
        }
      : {}),
  };
}
