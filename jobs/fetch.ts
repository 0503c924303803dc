/**
 * `fetch`: pulls every complete file of every configured feed from its transport into the landing
 * area (downloaded under a temporary name, checked and renamed only when complete), records it in the
 * file registry, and archives it on the server when the feed says so. A feed whose server fails is
 * reported and the others go on; the step fails at the end so the operator sees it, with what the others
 * landed and warned of, and the next run fetches what was missed.
 */
import { dirname, join, resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import { lstat, rename, rmdir, stat, unlink, utimes } from 'node:fs/promises';
import { chunks } from '../lib/chunks.js';
import { RedeyeError, coerceError } from '../lib/errors.js';
import { isSafeName, statelessPattern } from '../transports/names.js';
import { checkCompleteness, completeAmong, listSettled, type Listings } from '../transports/completeness.js';
import { TransportsByName } from '../transports/index.js';
import type { DownloadResult, RemoteEntry, Transport } from '../transports/types.js';
import { isTransportError, type TransportError } from '../transports/errors.js';
import type { FeedConfig } from '../config/schema.js';
import type { FeedName } from '../parsers/types.js';
import { storedPath } from '../lib/paths.js';
import {
  changeVerdict,
  copyPathUnlessRefused,
  landingFolder,
  RefusedCopies,
  registerInbound,
  sha256File,
  type FileRow,
  type Registration as Registered,
} from './registry.js';
import { StepIncompleteError, runsAs, type Job, type JobContext, type JobResult } from './types.js';
import { sleepUnlessStopped } from '../lib/sleep.js';

/** Some feeds could not be fetched; `done` is what the others landed, and what fetch had to say of it. */
export class FetchIncompleteError extends StepIncompleteError {
  constructor(failures: Array<{ feed: string; error: RedeyeError }>, done: JobResult) {
    super(
      'FETCH_INCOMPLETE',
      `${failures.length} feed(s) could not be fetched: ${failures.map((f) => `${f.feed}: [${f.error.code}] ${f.error.describe()}`).join('; ')}`,
      done,
      { feeds: failures.map((f) => f.feed) },
    );
  }
}

interface Registration {
  id: number;
  verdict: string;
  local_path: string | null;
  received_at: string | Date | null;
}
type Registrations = Map<string, Registration[]>;
const registrationKey = (name: string, size: number) => `${size}:${name}`;

/**
 * The inbound registrations of the files listed, by name and size: a query per 500 names of the listing
 * (the `(direction, feed, name)` index), however long the feed's history.
 */
async function registrationsOf(ctx: JobContext, feed: FeedName, names: string[]): Promise<Registrations> {
  const out: Registrations = new Map();
  for (const part of chunks([...new Set(names)], 500)) {
    const rows = (await ctx.db
      .knex('files')
      .where({ direction: 'in', feed })
      .whereIn('name', part)
      .select('id', 'name', 'size', 'verdict', 'local_path', 'received_at')) as Array<
      Registration & { name: string; size: number | string }
    >;
    for (const r of rows) {
      const key = registrationKey(r.name, Number(r.size));
      const list = out.get(key);
      if (list) list.push(r);
      else out.set(key, [r]);
    }
  }
  return out;
}

/**
 * Whether a file left on the server is one the registry already holds as listed: a registration of that
 * name and size whose landed copy is at least as new as the listed modification time (the copy was
 * written after the file last changed), or, the copy gone from a file already read, whose registration
 * is. Anything else is downloaded and `registerInbound` decides: the same bytes are `known`, other
 * content under the name is a `conflict` held for an operator, never skipped unseen. One stat per
 * registration of the name: unchanged files cost no download. `registered` is the feed's registrations
 * by name and size (`registrationsOf`), read once for the whole listing.
 */
async function takenAsListed(
  ctx: JobContext,
  outside: RefusedCopies,
  feed: FeedName,
  registered: Registrations,
  entry: RemoteEntry,
): Promise<boolean> {
  const listed = entry.modifiedAt.getTime();
  for (const row of registered.get(registrationKey(entry.name, entry.size)) ?? []) {
    const path = landedCopy(ctx, outside, {
      id: row.id,
      direction: 'in',
      feed,
      name: entry.name,
      localPath: row.local_path,
    });
    const copy = path ? await statOrNone(path) : undefined;
    if (copy) {
      // Within a millisecond: a copy dated by `dateCopy` may read back a hair early.
      if (copy.mtimeMs >= listed - 1) return true;
    } else if (
      !STILL_TO_READ.includes(row.verdict) &&
      row.received_at &&
      new Date(row.received_at).getTime() >= listed
    ) {
      return true;
    }
  }
  return false;
}

/**
 * The verdicts of files still to be read, whose copy, lost, is landed again from a file left on the
 * server: pending, and held by ingest for that very copy (`missing`).
 */
const STILL_TO_READ = ['pending', 'missing'];

/**
 * Where a `known` file (the same name and bytes registered before) is read from: its registered copy,
 * or, when that copy was lost before ingest read it, the copy landed now — and a file ingest held for
 * that lost copy (`missing`) is pending again, the bytes received back. A copy landed now that stands
 * for no registration is removed: a file touched on the server without a change leaves no second copy.
 */
async function copyOfKnown(
  ctx: JobContext,
  outside: RefusedCopies,
  file: FileRow,
  landed: string,
): Promise<string> {
  const registered = landedCopy(ctx, outside, file);
  if (registered === landed) return landed;
  const stored = storedPath(ctx.config.paths.landing, landed);
  const present = registered !== null && (await exists(registered));
  const dated = resolve(ctx.config.paths.landing, file.feed, ctx.businessDate);
  if (!present && STILL_TO_READ.includes(file.verdict)) {
    if (file.verdict === 'missing') await readAgain(ctx, file);
    // Landed again for the night it was registered for, the copy goes back where the registration
    // (and a rerun's comparison with a clean night) has it, not in the numbered folder `landingFolder`
    // had to give it while the lost copy still held the name. The bytes are the registered ones.
    if (registered !== null && dirname(registered) === dated) {
      await rename(landed, registered);
      await rmdir(dirname(landed)).catch(() => undefined);
      return registered;
    }
    await ctx.db.knex('files').where({ id: file.id }).update({ local_path: stored });
    return landed;
  }
  // Either form: rows registered before paths were stored relative to the landing area hold it absolute.
  const other = await ctx.db
    .knex('files')
    .where({ direction: 'in' })
    .whereIn('local_path', [stored, landed])
    .first('id');
  if (!other) {
    await unlink(landed).catch(() => undefined);
    // A numbered folder `landingFolder` made for this copy goes with it; the date's folder stays.
    const folder = dirname(landed);
    if (folder !== dated) await rmdir(folder).catch(() => undefined);
  }
  return registered ?? landed;
}

/**
 * A file held for its lost copy (`missing`) whose bytes fetch has landed again: pending, for the next
 * ingest to read, as it was before the copy was lost; logged, as the hold was warned.
 */
async function readAgain(ctx: JobContext, file: FileRow): Promise<void> {
  const changed = await changeVerdict(
    ctx.db.knex,
    { id: file.id, verdict: 'missing' },
    { verdict: 'pending', reason: null, message: null, processed_at: null },
    { at: ctx.now().toISOString(), businessDate: ctx.businessDate },
  );
  if (changed > 0)
    ctx.logger.info(
      { feed: file.feed, file: file.name, fileId: file.id },
      `${file.feed}: file ${file.id} (${file.name}), held for its missing landed copy, was landed again: the next ingest reads it`,
    );
}

/**
 * A registered file's landed copy in this installation's landing area (`copyPath`), or null when it has
 * none there: a copy the registry places elsewhere is not ours to read, date or replace, so fetch judges
 * the file by its registration alone.
 */
function landedCopy(
  ctx: JobContext,
  outside: RefusedCopies,
  file: Pick<FileRow, 'id' | 'direction' | 'feed' | 'name' | 'localPath'>,
): string | null {
  return copyPathUnlessRefused(ctx.config.paths.landing, file, outside.add);
}

/**
 * Dates a landed copy no earlier than the listing it was checked against, so the next night takes the
 * file as listed without a download (a server clock ahead of ours, or a file touched without a change).
 */
async function dateCopy(path: string, listedAt: Date): Promise<void> {
  const copy = await statOrNone(path);
  // Only a hint: a copy left undated costs one more download, which the registry then takes as known.
  if (copy && copy.mtimeMs < listedAt.getTime())
    await utimes(path, listedAt, listedAt).catch(() => undefined);
}

const statOrNone = (path: string) => stat(path).catch(() => undefined);

async function exists(path: string): Promise<boolean> {
  return (await statOrNone(path)) !== undefined;
}

/** The feeds that read one folder of one transport: it is listed once for all of them. */
interface Folder {
  source: string;
  remoteDir: string;
  transport: Transport;
  feeds: Array<{ feed: FeedName; cfg: FeedConfig; pattern: RegExp }>;
}

/** How many names a warning spells out; the rest are counted. */
const NAMED_FILES = 10;

const namesOf = (entries: RemoteEntry[]) =>
  entries
    .slice(0, NAMED_FILES)
    .map((e) => e.name)
    .join(', ') + (entries.length > NAMED_FILES ? ` and ${entries.length - NAMED_FILES} more` : '');

/**
 * The entries of a folder no feed reading it takes: not matched by any feed's pattern, and not a
 * done-marker of a feed complete by marker. MISSION: every file accounted for — such a file would
 * otherwise lie in the inbox unread without a word (a pattern `\.CSV$` and a file `….csv`).
 */
function untaken(folder: Folder, all: RemoteEntry[]): RemoteEntry[] {
  return all.filter(
    (entry) =>
      !folder.feeds.some(
        ({ cfg, pattern }) =>
          pattern.test(entry.name) ||
          (cfg.completeness.kind === 'marker' && entry.name.endsWith(cfg.completeness.suffix)),
      ),
  );
}

/** A file that changed while it was fetched: left on the server for the next fetch, counted and logged. */
function leftUnfinished(
  ctx: JobContext,
  counts: Record<string, number>,
  feed: FeedName,
  cfg: FeedConfig,
  name: string,
  error: TransportError,
): void {
  counts.unfinished = (counts.unfinished ?? 0) + 1;
  ctx.logger.warn(
    { feed, source: cfg.source, code: error.code, ...error.context },
    `${feed}: ${name} changed while it was being fetched (${error.detail}): left in ${cfg.source}:${cfg.remoteDir} for the next fetch`,
  );
}

/**
 * A file held as a `conflict` until an operator decides: said in the night's summary, not only in the
 * log, with the commands that decide it.
 */
function tellHeld(ctx: JobContext, warnings: string[], feed: FeedName, cfg: FeedConfig, file: FileRow): void {
  const held =
    `${feed}: ${file.name} from ${cfg.source}:${cfg.remoteDir} is held as file ${file.id} ` +
    `(${file.message ?? 'a different file of that name was received before'}); ` +
    `read it with \`redeye files release ${file.id}\`, or drop it with ` +
    `\`redeye files discard ${file.id} --reason "…"\``;
  warnings.push(held);
  ctx.logger.warn({ feed, file: file.name, fileId: file.id, reason: file.reason }, held);
}

/** What fetch keeps of a feed's night while it lands its files. */
interface Night {
  outside: RefusedCopies;
  counts: Record<string, number>;
  warnings: string[];
  /** The time the night's files are received at (`runsAs`). */
  received: string;
}

/**
 * Downloads `entry` into the folder `landingFolder` gives it. A file already there under its name that no
 * registration holds was landed by a fetch killed before it recorded it: the same bytes land onto it,
 * and other bytes (the partner replaced the file since, or sends every file under one name) would be
 * refused there every rerun, the night's fetch never done and that copy — perhaps gone from the server —
 * never read. So that copy is registered as what it is (`registerLeftover`) and the file lands beside it,
 * in the next numbered folder.
 */
async function landBesideLeftovers(
  ctx: JobContext,
  transport: Transport,
  feed: FeedName,
  cfg: FeedConfig,
  entry: RemoteEntry,
  night: Night,
): Promise<DownloadResult> {
  const registered = new Set<string>();
  for (;;) {
    const landing = await landingFolder(
      ctx.db.knex,
      ctx.config.paths.landing,
      { feed, name: entry.name, businessDate: ctx.businessDate },
      night.outside.add,
    );
    mkdirSync(landing, { recursive: true, mode: 0o700 });
    const target = join(landing, entry.name);
    try {
      return await transport.download(cfg.remoteDir, entry, landing);
    } catch (error) {
      // Only a plain file refused for its bytes, and once: a link or a folder under the name is no
      // landing, and a copy still in the way once registered (a `known` copy whose removal failed) stays
      // the feed's failure rather than a loop.
      const copy =
        isTransportError(error, 'TARGET_EXISTS') && error.context.path === target && !registered.has(target)
          ? await lstat(target).catch(() => undefined)
          : undefined;
      if (!copy?.isFile()) throw error;
      registered.add(target);
      await registerLeftover(ctx, feed, cfg, entry.name, { path: target, landedAt: copy.mtime }, night);
    }
  }
}

/** Registers the copy of `name` landed at `copy.localPath`, received at `receivedAt`; counts its outcome. */
async function registerLanded(
  ctx: JobContext,
  feed: FeedName,
  cfg: FeedConfig,
  name: string,
  copy: { sha256: string; size: number; localPath: string },
  receivedAt: string,
  counts: Record<string, number>,
): Promise<Registered> {
  const reg = await registerInbound(
    ctx.db.knex,
    {
      feed,
      name,
      size: copy.size,
      sha256: copy.sha256,
      transport: cfg.source,
      remotePath: `${cfg.remoteDir}/${name}`,
      localPath: storedPath(ctx.config.paths.landing, copy.localPath),
      businessDate: ctx.businessDate,
      receivedAt,
      namesReused: cfg.names === 'reused',
    },
    ctx.now().toISOString(),
  );
  counts[reg.outcome] = (counts[reg.outcome] ?? 0) + 1;
  return reg;
}

/**
 * Registers the copy of `name` a killed fetch landed at `path` and did not record, so that it is read, or
 * judged a duplicate or a conflict, as any file received. The landing step names a copy only once it is
 * whole, so its bytes are the file's. It came from the feed's folder, received when it was landed (the
 * copy's modification time) or, if earlier, at the hour the night runs as (a night caught up). Said in
 * the night's summary by path: the operator sees which copy came in that way.
 */
async function registerLeftover(
  ctx: JobContext,
  feed: FeedName,
  cfg: FeedConfig,
  name: string,
  { path, landedAt }: { path: string; landedAt: Date },
  night: Night,
): Promise<void> {
  const receivedAt = new Date(Math.min(landedAt.getTime(), Date.parse(night.received))).toISOString();
  const copy = { ...(await sha256File(path)), localPath: path };
  const reg = await registerLanded(ctx, feed, cfg, name, copy, receivedAt, night.counts);
  night.counts.leftover = (night.counts.leftover ?? 0) + 1;
  // The same bytes registered before: that registration stands, and this copy goes as a second copy
  // landed now would (or is kept as its copy, the registered one lost before it was read).
  if (reg.outcome === 'known') await copyOfKnown(ctx, night.outside, reg.file, path);
  const told =
    `${feed}: ${path} was landed by a fetch stopped before it recorded it, and ${cfg.source}:${cfg.remoteDir} ` +
    `now has other bytes under ${name}: that copy is ` +
    (reg.outcome === 'known'
      ? `file ${reg.file.id}, registered before (known)`
      : `registered as file ${reg.file.id} (${reg.outcome}, received ${receivedAt})`) +
    `; the file now on the server is fetched after it`;
  night.warnings.push(told);
  ctx.logger.warn({ feed, file: name, path, fileId: reg.file.id, outcome: reg.outcome }, told);
  if (reg.outcome === 'conflict') tellHeld(ctx, night.warnings, feed, cfg, reg.file);
}

async function fetchFeed(
  ctx: JobContext,
  transport: Transport,
  feed: FeedName,
  cfg: FeedConfig,
  ready: RemoteEntry[],
  counts: Record<string, number>,
  warnings: string[],
  outside: RefusedCopies,
): Promise<void> {
  const until = ctx.filesUntil;
  const entries = until
    ? ready.filter((e) => (e.completedAt ?? e.modifiedAt).getTime() <= until.getTime())
    : ready;
  if (until && entries.length < ready.length) {
    const left = ready.length - entries.length;
    counts.later = (counts.later ?? 0) + left;
    ctx.logger.info(
      { feed, files: left, until: until.toISOString() },
      `${feed}: ${left} file(s) came in after ${until.toISOString()}, when the night of ${ctx.businessDate} would have run: left for the nights after it`,
    );
  }
  // A night caught up after an outage counts its files received the hour it would have run, so that
  // what is judged by the day a file came in (an activity dated after its night) is judged as on time.
  const received = runsAs(ctx).toISOString();
  const night: Night = { outside, counts, warnings, received };
  const registered =
    cfg.afterFetch === 'leave'
      ? await registrationsOf(
          ctx,
          feed,
          entries.map((e) => e.name),
        )
      : new Map();
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
    // it changed since (see `takenAsListed`) or it is still to be read and its landed copy is gone
    // (removed before ingest read it): land it again, and the registry says what it is.
    if (cfg.afterFetch === 'leave' && (await takenAsListed(ctx, outside, feed, registered, entry))) continue;
    let got;
    try {
      got = await landBesideLeftovers(ctx, transport, feed, cfg, entry, night);
    } catch (error) {
      // A file the partner is still writing (or replaced since it was listed) is no failure of the
      // feed: nothing of it landed, and the next fetch takes it whole. Anything else still fails the feed.
      if (!isTransportError(error, 'SIZE_MISMATCH')) throw error;
      leftUnfinished(ctx, counts, feed, cfg, entry.name, error);
      continue;
    }
    const reg = await registerLanded(ctx, feed, cfg, entry.name, got, received, counts);
    // A file landed again before it was read (its first landed copy was lost) is read from the new copy.
    const copy =
      reg.outcome === 'known' ? await copyOfKnown(ctx, outside, reg.file, got.localPath) : got.localPath;
    if (cfg.afterFetch === 'leave') await dateCopy(copy, entry.modifiedAt);
    if (reg.outcome === 'conflict') tellHeld(ctx, warnings, feed, cfg, reg.file);
    if (cfg.afterFetch === 'archive') {
      try {
        // Only the file read is archived: one the partner replaced since is left for the next fetch.
        await transport.archive(cfg.remoteDir, entry.name, cfg.archiveDir, {
          seen: got.seen,
          ...(cfg.completeness.kind === 'marker' ? { markerSuffix: cfg.completeness.suffix } : {}),
        });
      } catch (error) {
        if (!isTransportError(error, 'SOURCE_CHANGED')) throw error;
        leftUnfinished(ctx, counts, feed, cfg, entry.name, error);
      }
    }
    ctx.progress.increment();
  }
}

export const fetchJob: Job = async (ctx: JobContext): Promise<JobResult> => {
  const counts: Record<string, number> = { new: 0, known: 0, duplicate: 0, conflict: 0 };
  // A night run again after a later one (a failed night caught up, an old night rerun by hand) lands
  // nothing new: what is on the servers now came after that later night's fetch and is the next
  // night's. Landed under the old date it would be reported in a night long closed. The old night still
  // reads what it landed itself. A later fetch that failed part-way has fetched too: the files it landed
  // are its night's, and so are those of the feeds it could not reach.
  const later = (await ctx.db
    .knex('job_runs')
    .where({ job: 'fetch', status: 'succeeded' })
    .andWhere('business_date', '>', ctx.businessDate)
    .max({ d: 'business_date' })
    .first()) as { d: string | null } | undefined;
  const landedLater = (await ctx.db
    .knex('files')
    .where({ direction: 'in' })
    .andWhere('business_date', '>', ctx.businessDate)
    .max({ d: 'business_date' })
    .first()) as { d: string | null } | undefined;
  const fetchedLater = [later?.d, landedLater?.d].reduce<string | null>(
    (latest, d) => (d && (!latest || d > latest) ? d : latest),
    null,
  );
  if (fetchedLater)
    return {
      counts,
      warnings: [
        `fetch for ${ctx.businessDate} landed nothing: the night of ${fetchedLater} has fetched already, and the files on the servers now are for the next night`,
      ],
    };
  const failures: Array<{ feed: string; error: RedeyeError }> = [];
  const failed = (feed: FeedName, error: unknown) => {
    const e = coerceError(error, { feed });
    failures.push({ feed, error: e });
    ctx.logger.error({ feed, code: e.code, ...e.context }, `fetch of ${feed} failed: ${e.describe()}`);
  };
  const warnings: string[] = [];
  const outside = new RefusedCopies(
    'paths.landing',
    'not used: those files are judged by their registration alone',
  );
  const transports = new TransportsByName(ctx.config.transports, { env: ctx.env, logger: ctx.logger });
  const sleep = ctx.sleep ?? sleepUnlessStopped;
  ctx.progress.start('fetch', 0);
  try {
    // Every folder is listed once for all the feeds that read it, so a file none of them takes is seen.
    const folders = new Map<string, Folder>();
    for (const [feed, cfg] of Object.entries(ctx.config.feeds) as Array<[FeedName, FeedConfig | undefined]>) {
      if (!cfg) continue;
      try {
        const transport = transports.get(cfg.source);
        checkCompleteness(cfg.completeness, {
          transport: transport.kind,
          endpoint: transport.endpoint,
          folder: cfg.remoteDir,
        });
        const key = `${cfg.source}\0${cfg.remoteDir}`;
        let folder = folders.get(key);
        if (!folder)
          folders.set(key, (folder = { source: cfg.source, remoteDir: cfg.remoteDir, transport, feeds: [] }));
        folder.feeds.push({ feed, cfg, pattern: statelessPattern(new RegExp(cfg.pattern)) });
      } catch (error) {
        failed(feed, error);
      }
    }
    const listing = async (folder: Folder): Promise<RemoteEntry[] | undefined> => {
      try {
        return await folder.transport.listAll(folder.remoteDir);
      } catch (error) {
        for (const { feed } of folder.feeds) failed(feed, error);
        return undefined;
      }
    };
    const listings = await listSettled(
      [...folders.values()].map((folder) => ({
        list: () => listing(folder),
        rules: folder.feeds.map(({ cfg, pattern }) => ({ pattern, completeness: cfg.completeness })),
      })),
      (ms) => sleep(ms, ctx.signal),
      {
        ...(ctx.signal ? { signal: ctx.signal } : {}),
        onWait: (seconds) =>
          ctx.logger.debug({ seconds }, `waiting ${seconds} s to see which files are still being written`),
      },
    );
    const listed = [...folders.values()].map((folder, i): [Folder, Listings] => [folder, listings[i]!]);
    for (const [folder, { first }] of listed) {
      if (!first) continue;
      const left = untaken(folder, first);
      if (left.length === 0) continue;
      counts.untaken = (counts.untaken ?? 0) + left.length;
      const feeds = folder.feeds.map(({ feed, cfg }) => `${feed} ${JSON.stringify(cfg.pattern)}`).join(', ');
      const message =
        `${left.length} file(s) in ${folder.source}:${folder.remoteDir} (${folder.transport.endpoint}) ` +
        `match no feed's pattern (${feeds}) and are not fetched: ${namesOf(left)}`;
      warnings.push(message);
      ctx.logger.warn(
        {
          transport: folder.source,
          endpoint: folder.transport.endpoint,
          folder: folder.remoteDir,
          files: left.map((e) => e.name),
        },
        message,
      );
    }
    for (const [folder, { first, second }] of listed) {
      for (const { feed, cfg, pattern } of folder.feeds) {
        if (ctx.signal?.aborted || !first) continue;
        // Without its second listing (a stop request, or no file to wait for) a stable feed takes nothing.
        if (cfg.completeness.kind === 'stable' && !second) continue;
        const ready = completeAmong(first, second, pattern, cfg.completeness);
        if (second) {
          const taken = new Set(ready.map((e) => e.name));
          const moving = second.filter((e) => pattern.test(e.name) && !taken.has(e.name));
          if (moving.length > 0) {
            counts.unfinished = (counts.unfinished ?? 0) + moving.length;
            ctx.logger.info(
              { feed, files: moving.map((e) => e.name) },
              `${feed}: ${moving.length} file(s) changed while they were listed (still being written): left for the next fetch: ${namesOf(moving)}`,
            );
          }
        }
        try {
          await fetchFeed(ctx, folder.transport, feed, cfg, ready, counts, warnings, outside);
        } catch (error) {
          failed(feed, error);
        }
      }
    }
  } finally {
    ctx.progress.stop();
    await transports.close();
  }
  const copiesOutside = outside.tell(warnings, ctx.logger);
  if (copiesOutside > 0) counts.copiesOutside = copiesOutside;
  if (failures.length > 0) throw new FetchIncompleteError(failures, { counts, warnings });
  return { counts, warnings };
};
