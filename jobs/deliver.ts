/**
 * `deliver`: every outbound file the registry holds as `written` is uploaded to its destination (the
 * partner's own transport when configured, else the shared outbox, in a folder per export kind) under a
 * temporary name and renamed when complete, then marked `delivered`; a delivered file is never sent
 * again. Then the mail outbox is sent. A failed upload leaves the file `written` for the next run, a
 * report mail that could not be sent stays pending; either fails the step.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createTransport } from '../transports/index.js';
import type { Transport } from '../transports/types.js';
import { coerceError, RedeyeError } from '../lib/errors.js';
import { toFileRow } from './registry.js';
import type { Job, JobContext, JobResult } from './types.js';
import { deliverMail } from './deliver-mail.js';

export class DeliveryIncompleteError extends RedeyeError {
  constructor(failures: string[]) {
    const shown = failures.slice(0, 5).join('; ');
    const more = failures.length > 5 ? `; and ${failures.length - 5} more (each is in the log)` : '';
    super('DELIVERY_INCOMPLETE', `${failures.length} delivery failure(s): ${shown}${more}`, {});
  }
}

export const deliverJob: Job = async (ctx: JobContext): Promise<JobResult> => {
  const counts: Record<string, number> = { delivered: 0, unchanged: 0, failed: 0 };
  const failures: string[] = [];
  const transports = new Map<string, Transport>();
  const transportFor = (name: string): Transport => {
    let t = transports.get(name);
    if (!t) {
      const cfg = ctx.config.transports[name];
      if (!cfg) throw new RedeyeError('UNKNOWN_TRANSPORT', `no transport named ${name}`, { transport: name });
      t = createTransport(cfg, { env: ctx.env, logger: ctx.logger });
      transports.set(name, t);
    }
    return t;
  };
  const written = (
    await ctx.db.knex('files').where({ direction: 'out', verdict: 'written' }).orderBy('id')
  ).map((r: Record<string, unknown>) => toFileRow(r));
  ctx.progress.start('deliver', written.length);
  try {
    for (const file of written) {
      if (ctx.signal?.aborted) break;
      const partner = file.partnerCode
        ? ctx.config.partners.find((p) => p.code === file.partnerCode)
        : undefined;
      const transportName = partner?.outbox ?? ctx.config.exports.outbox;
      const remoteDir = partner?.outbox ? '.' : file.feed;
      try {
        const cfg = ctx.config.transports[transportName];
        // Our own outbox folders are ours to create; a partner's server folder is theirs to provide.
        if (cfg?.type === 'local') mkdirSync(join(cfg.root, remoteDir), { recursive: true });
        const r = await transportFor(transportName).upload(file.localPath!, remoteDir, file.name);
        await ctx.db.knex('files').where({ id: file.id, verdict: 'written' }).update({
          verdict: 'delivered',
          delivered_at: ctx.now().toISOString(),
          transport: transportName,
          remote_path: r.remotePath,
        });
        counts[r.alreadyPresent ? 'unchanged' : 'delivered']!++;
      } catch (error) {
        const e = coerceError(error, { file: file.name, transport: transportName });
        counts.failed!++;
        failures.push(`${file.name} → ${transportName}: [${e.code}] ${e.describe()}`);
        ctx.logger.error(
          { file: file.name, transport: transportName, code: e.code },
          `delivery failed: ${e.describe()}`,
        );
      }
      ctx.progress.increment();
    }
  } finally {
    ctx.progress.stop();
    for (const t of transports.values()) await t.close().catch(() => undefined);
  }
  let mailCounts: Record<string, number> = {};
  const warnings: string[] = [];
  try {
    const mail = await deliverMail(ctx);
    mailCounts = mail.counts;
    failures.push(...mail.failures);
    warnings.push(...(mail.warnings ?? []));
  } catch (error) {
    const e = coerceError(error);
    failures.push(`mail: [${e.code}] ${e.describe()}`);
  }
  for (const [k, v] of Object.entries(mailCounts)) counts[`mail.${k}`] = v;
  if (failures.length > 0) throw new DeliveryIncompleteError(failures);
  return { counts, ...(warnings.length > 0 ? { warnings } : {}) };
};
