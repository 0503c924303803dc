/**
 * `deliver`: every outbound file the registry holds as `written` is uploaded to its destination (the
 * partner's own transport when configured, else the shared outbox, in a folder per export kind that
 * deliver creates) under a temporary name and renamed when complete, then marked `delivered`; a delivered
 * file is never sent again. Only the registered bytes go: a copy whose size or sha256 is not the
 * registry's is refused before it is sent, and an upload that sent other bytes is not recorded delivered.
 * Then the mail outbox is sent. A failed upload leaves the file `written` for the next run, a
 * report mail that could not be sent stays pending; either fails the step. Asked to stop (SIGTERM), it
 * starts no further upload or mail and returns, and the runner records it interrupted.
 *
 * An upload killed half way leaves its temporary file on the destination, where nothing will finish it.
 * Each destination delivered to is cleared of Redeye's temporary names (never any other) last written
 * more than a day ago — old enough that no upload still running can own one.
 */
import { join } from 'node:path';
import { TransportsByName } from '../transports/index.js';
import { TEMP_NAME_PATTERN, TEMPORARY_FILE_MAX_AGE_MS } from '../transports/names.js';
import type { Transport, UploadResult } from '../transports/types.js';
import { coerceError, RedeyeError } from '../lib/errors.js';
import type { Knex } from 'knex';
import type { Config } from '../config/schema.js';
import { checkCopy } from './copy-check.js';
import { changeVerdict, copyPath, laidOut, sha256File, toFileRow, type FileRow } from './registry.js';
import { StepIncompleteError, type Job, type JobContext, type JobResult } from './types.js';
import { deliverMail } from './deliver-mail.js';

/** Some files or mails could not be delivered; `done` is what was, and what deliver warned of. */
export class DeliveryIncompleteError extends StepIncompleteError {
  constructor(failures: string[], done: JobResult) {
    const shown = failures.slice(0, 5).join('; ');
    const more = failures.length > 5 ? `; and ${failures.length - 5} more (each is in the log)` : '';
    super('DELIVERY_INCOMPLETE', `${failures.length} delivery failure(s): ${shown}${more}`, done);
  }
}

/** The outbound files the registry holds waiting for delivery (`written`), oldest first. */
export async function filesToDeliver(knex: Knex): Promise<FileRow[]> {
  return (await knex('files').where({ direction: 'out', verdict: 'written' }).orderBy('id')).map(
    (r: Record<string, unknown>) => toFileRow(r),
  );
}

/**
 * Where a file is delivered: the transport of its partner's own outbox, at its root, when one is
 * configured (`partner` then names it); else `exports.outbox`, in the folder of its kind.
 */
export function destinationOf(
  config: Config,
  file: Pick<FileRow, 'partnerCode' | 'feed'>,
): { transport: string; remoteDir: string; partner?: string } {
  const partner = file.partnerCode ? config.partners.find((p) => p.code === file.partnerCode) : undefined;
  return partner?.outbox
    ? { transport: partner.outbox, remoteDir: '.', partner: partner.code }
    : { transport: config.exports.outbox, remoteDir: file.feed };
}

export const deliverJob: Job = async (ctx: JobContext): Promise<JobResult> => {
  const counts: Record<string, number> = { delivered: 0, unchanged: 0, failed: 0, temporaryFilesRemoved: 0 };
  const failures: string[] = [];
  const warnings: string[] = [];
  /** Folders delivered to in this run, by transport name. */
  const reached = new Map<string, Set<string>>();
  const transports = new TransportsByName(ctx.config.transports, { env: ctx.env, logger: ctx.logger });
  const written = await filesToDeliver(ctx.db.knex);
  ctx.progress.start('deliver', written.length);
  try {
    for (const file of written) {
      if (ctx.signal?.aborted) break;
      const { transport: transportName, remoteDir } = destinationOf(ctx.config, file);
      try {
        const outbox = ctx.config.paths.outbox;
        const copy = copyPath(outbox, file) ?? join(outbox, laidOut(file, null)!);
        await checkBeforeSending(copy, file);
        const transport = transports.get(transportName);
        // The shared outbox and its folder per kind are ours to lay out, on any transport; a partner's
        // outbox is theirs to provide.
        const r = await transport.upload(copy, remoteDir, file.name, {
          createDir: transportName === ctx.config.exports.outbox,
        });
        await checkSent(transport, remoteDir, copy, file, r);
        const at = ctx.now().toISOString();
        await ctx.db.transaction((trx) =>
          changeVerdict(
            trx,
            { id: file.id, verdict: 'written' },
            { verdict: 'delivered', delivered_at: at, transport: transportName, remote_path: r.remotePath },
            { at, businessDate: ctx.businessDate },
          ),
        );
        counts[r.alreadyPresent ? 'unchanged' : 'delivered']!++;
        let folders = reached.get(transportName);
        if (!folders) reached.set(transportName, (folders = new Set()));
        folders.add(remoteDir);
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
    const before = Date.now() - TEMPORARY_FILE_MAX_AGE_MS;
    for (const [transportName, folders] of reached) {
      for (const remoteDir of folders) {
        if (ctx.signal?.aborted) break;
        try {
          counts.temporaryFilesRemoved! += await sweepStaleTemporaries(
            transports.get(transportName),
            remoteDir,
            before,
          );
        } catch (error) {
          // The files are delivered; a folder that cannot be cleared is worth a look, not a failed night.
          const e = coerceError(error, { transport: transportName });
          warnings.push(
            `temporary files in ${remoteDir} on ${transportName} not cleared: [${e.code}] ${e.describe()}`,
          );
        }
      }
    }
  } finally {
    ctx.progress.stop();
    await transports.close();
  }
  let mailCounts: Record<string, number> = {};
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
  // Stopped on request: the runner records the step as interrupted, naming the signal; what failed
  // before the request is not lost from the summary.
  if (ctx.signal?.aborted) warnings.push(...failures);
  const done = { counts, ...(warnings.length > 0 ? { warnings } : {}) };
  if (failures.length > 0 && !ctx.signal?.aborted) throw new DeliveryIncompleteError(failures, done);
  return done;
};

/**
 * Refuses to send a copy that is not the file registered (`FILE_COPY_MISMATCH`, `FILE_COPY_MISSING`, …):
 * the registry's size and sha256 are what an auditor compares with what the partner has.
 */
async function checkBeforeSending(copy: string, file: FileRow): Promise<void> {
  const checked = await checkCopy(copy, file);
  if (!('reason' in checked)) return;
  const context = copyContext(file, copy);
  const rerun = `a rerun of export for ${file.businessDate ?? 'its date'} writes it back`;
  if (checked.reason !== 'MISMATCH')
    throw new RedeyeError(
      `FILE_COPY_${checked.reason}`,
      `file ${file.id} (${file.name}) not delivered: ${checked.message}; it stays written` +
        (checked.reason === 'MISSING' ? ` until ${rerun}` : ''),
      context,
    );
  // Hashed already when the sizes agreed; read only when they did not.
  const held = checked.held ?? (await sha256File(copy));
  throw new RedeyeError(
    'FILE_COPY_MISMATCH',
    `file ${file.id} (${file.name}) not delivered: its copy ${copy} holds ${held.size} bytes with sha256 ` +
      `${held.sha256}, the registry recorded ${file.size} bytes with sha256 ${file.sha256}; it stays written ` +
      `until the copy is the registered file again (${rerun})`,
    { ...context, copySha256: held.sha256, copySize: held.size },
  );
}

/**
 * Refuses to record as delivered what the upload did not send as registered: the copy changed after it
 * was checked. A file the upload placed is taken back, so the next run sends the registered bytes; one
 * that was there already is not ours to remove.
 */
async function checkSent(
  transport: Transport,
  remoteDir: string,
  copy: string,
  file: FileRow,
  sent: UploadResult,
): Promise<void> {
  if (sent.sha256 === file.sha256 && sent.size === file.size) return;
  let after: string;
  if (sent.alreadyPresent)
    after = `${sent.remotePath} was there already with those bytes and is left as it is`;
  else {
    const removed = await transport.remove(remoteDir, file.name).then(
      () => 'removed again',
      (error: unknown) => `not removed (${coerceError(error).message}): remove it before the next run`,
    );
    after = `${sent.remotePath} ${removed}`;
  }
  throw new RedeyeError(
    'FILE_COPY_MISMATCH',
    `file ${file.id} (${file.name}) not recorded delivered: its copy ${copy} changed as it was sent, ` +
      `${sent.size} bytes with sha256 ${sent.sha256} went where the registry recorded ${file.size} bytes with ` +
      `sha256 ${file.sha256}; ${after}; it stays written`,
    { ...copyContext(file, copy), copySha256: sent.sha256, copySize: sent.size },
  );
}

/** What a refusal to send a copy carries for the log and `runs show`. */
const copyContext = (file: FileRow, copy: string) => ({
  fileId: file.id,
  file: file.name,
  copy,
  sha256: file.sha256,
});

/** Removes Redeye's temporary files in `remoteDir` last written before `beforeMs`; returns how many. */
export async function sweepStaleTemporaries(
  transport: Transport,
  remoteDir: string,
  beforeMs: number,
): Promise<number> {
  let removed = 0;
  for (const entry of await transport.list(remoteDir, TEMP_NAME_PATTERN)) {
    if (entry.type !== 'file' || entry.modifiedAt.getTime() >= beforeMs) continue;
    if (await transport.remove(remoteDir, entry.name)) removed++;
  }
  return removed;
}
