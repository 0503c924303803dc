/**
 * `fetch`: pulls every complete file of every configured feed from its transport into the landing
 * area (downloaded under a temporary name, checked and renamed only when complete), records it in the
 * file registry, and archives it on the server when the feed says so. A feed whose server fails is
 * reported and the others go on; the step fails at the end so the operator sees it, and the next run
 * fetches what was missed.
 */
import { join } from 'node:path';
import { existsSync, mkdirSync } from 'node:fs';
import { RedeyeError, coerceError } from '../lib/errors.js';
import { isSafeName } from '../transports/names.js';
import { createTransport } from '../transports/index.js';
import type { Transport } from '../transports/types.js';
import type { FeedConfig } from '../config/schema.js';
import type { FeedName } from '../parsers/types.js';
import { registerInbound } from './registry.js';
import type { Job, JobContext, JobResult } from './types.js';

export class FetchIncompleteError extends RedeyeError {
  constructor(failures: Array<{ feed: string; error: RedeyeError }>) {
    super(
      'FETCH_INCOMPLETE',
      `${failures.length} feed(s) could not be fetched: ${failures.map((f) => `${f.feed}: [${f.error.code}] ${f.error.describe()}`).join('; ')}`,
      { feeds: failures.map((f) => f.feed) },
    );
  }
}

async function fetchFeed(
  ctx: JobContext,
  transport: Transport,
  feed: FeedName,
  cfg: FeedConfig,
  counts: Record<string, number>,
): Promise<void> {
  const pattern = new RegExp(cfg.pattern);
  const entries = await transport.ready(cfg.remoteDir, pattern, cfg.completeness);
  const landing = join(ctx.config.paths.landing, feed, ctx.businessDate);
  mkdirSync(landing, { recursive: true, mode: 0o700 });
  for (const entry of entries) {
    if (ctx.signal?.aborted) return;
    if (!isSafeName(entry.name) || entry.type !== 'file') {
      counts.refused = (counts.refused ?? 0) + 1;
      ctx.logger.warn(
        { feed, file: entry.name, type: entry.type },
        'refused: not a plain file with a safe name',
      );
      continue;
    }
    // With files left on the server, the registry tells what was already taken: skip it unseen, unless
    // it is still to be read and its landed copy is gone (removed before ingest read it): land it again.
    if (cfg.afterFetch === 'leave') {
      const known = (await ctx.db
        .knex('files')
        .where({ direction: 'in', feed, name: entry.name, size: entry.size })
        .first('id', 'verdict', 'local_path')) as
        { id: number; verdict: string; local_path: string | null } | undefined;
      if (known && !(known.verdict === 'pending' && known.local_path && !existsSync(known.local_path)))
        continue;
    }
    const got = await transport.download(cfg.remoteDir, entry, landing);
    const reg = await registerInbound(
      ctx.db.knex,
      {
        feed,
        name: entry.name,
        size: got.size,
        sha256: got.sha256,
        transport: cfg.source,
        remotePath: `${cfg.remoteDir}/${entry.name}`,
        localPath: got.localPath,
        businessDate: ctx.businessDate,
        receivedAt: ctx.now().toISOString(),
      },
      ctx.now().toISOString(),
    );
    counts[reg.outcome] = (counts[reg.outcome] ?? 0) + 1;
    // A file landed again before it was read (its first landed copy was lost) is read from the new copy.
    if (reg.outcome === 'known' && reg.file.verdict === 'pending' && reg.file.localPath !== got.localPath)
      await ctx.db.knex('files').where({ id: reg.file.id }).update({ local_path: got.localPath });
    if (reg.outcome === 'conflict')
      ctx.logger.warn({ feed, file: entry.name }, reg.file.message ?? 'name conflict: held for an operator');
    if (cfg.afterFetch === 'archive') {
      await transport.archive(
        cfg.remoteDir,
        entry.name,
        cfg.archiveDir,
        cfg.completeness.kind === 'marker' ? { markerSuffix: cfg.completeness.suffix } : {},
      );
    }
    ctx.progress.increment();
  }
}

export const fetchJob: Job = async (ctx: JobContext): Promise<JobResult> => {
  const counts: Record<string, number> = { new: 0, known: 0, duplicate: 0, conflict: 0 };
  const failures: Array<{ feed: string; error: RedeyeError }> = [];
  const transports = new Map<string, Transport>();
  ctx.progress.start('fetch', 0);
  try {
    for (const [feed, cfg] of Object.entries(ctx.config.feeds) as Array<[FeedName, FeedConfig | undefined]>) {
      if (!cfg || ctx.signal?.aborted) continue;
      try {
        let t = transports.get(cfg.source);
        if (!t) {
          t = createTransport(ctx.config.transports[cfg.source]!, { env: ctx.env, logger: ctx.logger });
          transports.set(cfg.source, t);
        }
        await fetchFeed(ctx, t, feed, cfg, counts);
      } catch (error) {
        const e = coerceError(error, { feed });
        failures.push({ feed, error: e });
        ctx.logger.error({ feed, code: e.code, ...e.context }, `fetch of ${feed} failed: ${e.describe()}`);
      }
    }
  } finally {
    ctx.progress.stop();
    for (const t of transports.values()) await t.close().catch(() => undefined);
  }
  if (failures.length > 0) throw new FetchIncompleteError(failures);
  return { counts };
};
