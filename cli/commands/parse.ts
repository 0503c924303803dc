import { createReadStream, existsSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { basename } from 'node:path';
import type { Command } from 'commander';
import type { Knex } from 'knex';
import { ConfigError, UsageError } from '../../lib/errors.js';
import { getParser } from '../../parsers/index.js';
import { FEED_NAMES, type FeedName, type ParseInput, type ParseOptions } from '../../parsers/types.js';
import { openDb } from '../../db/connection.js';
import {
  simulateNight,
  SIMULATED_FEEDS,
  type SimulatedDelivery,
  type Counts,
  type FileSummary,
  type SimulationEvent,
} from '../../jobs/simulate.js';
import { pendingInbound } from '../../jobs/registry.js';
import { feedParseOptions } from '../../jobs/ingest-file.js';
import { businessDateOption } from './run.js';
import type { LoadedConfig } from '../../config/load.js';
import { formatMinor } from '../../lib/money.js';
import type { IsoDate } from '../../lib/dates.js';
import { Program } from '../../rules/program.js';
import { instantSetting, type ActionRunner, type CommandContext } from '../context.js';

function feedName(feed: string): FeedName {
  if (!(FEED_NAMES as readonly string[]).includes(feed))
    throw new UsageError(`unknown feed ${JSON.stringify(feed)}; feeds: ${FEED_NAMES.join(', ')}`);
  return feed as FeedName;
}

/**
 * Files landed and not yet read (a night that stopped after fetch) that the command line does not give:
 * the night's ingest reads them with the given ones, so what they bring can change what is shown.
 */
async function waitingNotGiven(
  knex: Knex,
  deliveries: SimulatedDelivery[],
  date: IsoDate,
): Promise<string | undefined> {
  const given = new Set(deliveries.flatMap((d) => d.inputs.map((i) => `${d.feed}/${i.name}`)));
  const waiting = (await pendingInbound(knex, date)).filter((f) => !given.has(`${f.feed}/${f.name}`));
  if (waiting.length === 0) return undefined;
  const listed = waiting.map(
    (f) => `${f.feed} ${f.name} (file ${f.id}${f.localPath ? `, ${f.localPath}` : ''})`,
  );
  return (
    `warning: ${waiting.length} file(s) received and not yet read are not given: ${listed.join('; ')}. ` +
    'The night reads them with these, and what they bring is not in this simulation: give those of ' +
    `activity feeds (${SIMULATED_FEEDS.join(', ')}) with --with <feed>=<file>; members and rates files are not simulated.`
  );
}

function inputsFor(files: string[], received: string | undefined, now: Date): ParseInput[] {
  const at = received === undefined ? undefined : instantSetting('--received', received);
  return files.map((path) => {
    let stat;
    try {
      stat = statSync(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why =
        code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(error);
      throw new UsageError(`cannot read it: ${why}`, { file: path });
    }
    if (!stat.isFile())
      throw new UsageError(stat.isDirectory() ? 'a folder, not a file' : 'not a regular file', {
        file: path,
      });
    // An FTL's dates carry no year, and the simulator holds back what is dated after the night but not
    // after the file came in: the receipt time decides both. Unless told, it is the file's time, but not
    // later than the clock (REDEYE_NOW replaying a night with files written since).
    return {
      name: basename(path),
      open: () => createReadStream(path),
      receivedAt: at ?? (stat.mtime > now ? now : stat.mtime),
      size: stat.size,
    };
  });
}

/**
 * The files of other feeds for the night simulated (`--with <feed>=<file>`, once per file): each names
 * its feed, as the night's inbox keeps every feed's files apart.
 */
function otherFeedFiles(given: string[]): Array<{ feed: FeedName; file: string }> {
  return given.map((value) => {
    const at = value.indexOf('=');
    if (at <= 0 || at === value.length - 1)
      throw new UsageError(
        `--with ${JSON.stringify(value)}: expected <feed>=<file>, a file of another feed arriving the same night (feeds: ${SIMULATED_FEEDS.join(', ')})`,
      );
    const feed = value.slice(0, at);
    if (!(SIMULATED_FEEDS as string[]).includes(feed))
      throw new UsageError(
        `--with ${JSON.stringify(value)}: ${JSON.stringify(feed)} is not an activity feed the simulator reads (${SIMULATED_FEEDS.join(', ')})`,
      );
    return { feed: feed as FeedName, file: value.slice(at + 1) };
  });
}

/**
 * Parse options from the configuration when there is one; `parse` works without it too, given on the
 * command line what a feed cannot be read without (a hotel file: which loyalty program is ours).
 */
function optionsFor(
  ctx: CommandContext,
  feed: FeedName,
  given: { encoding?: string; program?: string },
): ParseOptions {
  let options: ParseOptions & { ownPrograms?: string[]; timeZone?: string } = {};
  try {
    const cfg = ctx.config;
    options = {
      ...feedParseOptions(cfg, feed),
      ownPrograms: [cfg.program.code],
      timeZone: cfg.program.timeZone,
    };
  } catch (error) {
    if (!(error instanceof ConfigError) || ctx.options.config) throw error;
  }
  if (given.encoding) options.encoding = given.encoding;
  if (given.program) options.ownPrograms = [given.program];
  if (feed === 'hotel' && !options.ownPrograms)
    throw new UsageError(
      "parse hotel needs the program's code to tell our members' stays from other programs': " +
        'give --program CODE, or a configuration (program.code)',
    );
  return options;
}

/**
 * A read-only connection to a WAL database creates its -shm and -wal files when they are missing and,
 * being read-only, cannot remove them on close; SQLite removes them only when the last connection
 * that may write closes. Called before the read-only connection opens, this returns what to run after
 * it closed: if neither file was there and the log is still empty, a connection that never writes is
 * opened and closed, and SQLite removes both itself. It does so only as the last connection (another
 * process holding the database keeps its files), and with an empty log its checkpoint writes nothing.
 */
function walFilesTidier(file: string): () => void {
  const wal = `${file}-wal`;
  const missing = !existsSync(wal) && !existsSync(`${file}-shm`);
  return () => {
    if (!missing || !existsSync(wal) || statSync(wal).size > 0) return;
    try {
      const conn = new Database(file, { fileMustExist: true });
      try {
        conn.pragma('query_only = ON');
        // The log is opened with the first read; closing a connection that never read leaves it.
        conn.prepare('SELECT count(*) FROM sqlite_master').get();
      } finally {
        conn.close();
      }
    } catch {
      // Not allowed to open it for writing (a read-only user): the files stay, as before.
    }
  };
}

const n = (x: number) => x.toLocaleString('en-US');

/**
 * Status credits as the program counts them: spend in the base currency (held in its minor units, so
 * 15000 is 150.00 USD), or miles, or segments.
 */
function statusCreditText(config: LoadedConfig, date: IsoDate): (amount: number, metric?: string) => string {
  const base = config.program.baseCurrency;
  // By default the metric of the night's tier rules, for the totals: a flight of a date under other rules
  // counts in its own, which the night's figures do not tell apart (README, Status and tiers). A record's
  // own status credit names its metric, and is shown in it.
  const night = new Program(config).tierVersion(date).metric;
  return (amount, metric = night) => {
    // Status credits name their metric in capitals (SPEND), the tier rules in lower case.
    const unit = metric.toLowerCase();
    return unit === 'spend'
      ? `${formatMinor(amount, base)} ${base} toward status`
      : `${n(amount)} status ${unit}`;
  };
}

function countsLine(c: Counts, status: (amount: number) => string): string {
  // What an activity shown under a record ("and …") takes back counts in the figures but is no record of
  // its own: a waiting cancellation its redemption releases reverses points with no record reversed.
  const reversing = c.reversed ? n(c.reversed) : 'activities shown with their records';
  return (
    `${n(c.records)} records: ${n(c.posted)} would post ${n(c.points)} points` +
    (c.statusCredits ? ` and ${status(c.statusCredits)}` : '') +
    (c.reversed || c.reversedPoints || c.reversedStatusCredits
      ? `, ${reversing} would reverse ${n(c.reversedPoints)} points` +
        (c.reversedStatusCredits ? ` and ${status(c.reversedStatusCredits)}` : '')
      : '') +
    `, ${n(c.rejected)} rejected, ${n(c.notCredited)} not credited (other programs)` +
    (c.held ? `, ${n(c.held)} held` : '') +
    (c.merged ? `, ${n(c.merged)} merged into other records` : '')
  );
}

/** How a posting's points were reached: the basis, then any tier bonus and promotion on top of it. */
function basisText(detail: { basis?: string; tierBonus?: number; promotion?: number } | undefined): string {
  if (!detail?.basis) return '';
  const plus = (label: string, points: number | undefined) => (points ? ` + ${label} ${n(points)}` : '');
  return `: ${detail.basis}${plus('tier bonus', detail.tierBonus)}${plus('promotion', detail.promotion)}`;
}

/**
 * An activity's outcome after where it came from: status, points, the rule and how its points were
 * reached, status credits, the field at fault, and why it would not post in full.
 */
function outcomeText(
  e: Pick<
    Extract<SimulationEvent, { type: 'record' | 'due' }>,
    'status' | 'reason' | 'points' | 'postings' | 'field' | 'message'
  >,
  statusText: (amount: number, metric?: string) => string,
): string {
  // The rule and the status credits each from the posting that carries them: a coupon correcting an FTL
  // credit posts the award's difference first (`<award>:ADJ`), its status credits in the next posting.
  const ruled = e.postings.find((p) => p.ruleVersion);
  const detail = ruled?.detail as { basis?: string; tierBonus?: number; promotion?: number } | undefined;
  const status = e.postings.find((p) => p.statusCredits?.length)?.statusCredits?.[0];
  return (
    `${e.status}${e.reason ? ` ${e.reason}` : ''}` +
    (e.points ? `  ${e.points > 0 ? '+' : ''}${e.points.toLocaleString('en-US')} points` : '') +
    (ruled ? `  [${ruled.ruleVersion}${basisText(detail)}]` : '') +
    (status ? `  +${statusText(status.amount, status.metric)}` : '') +
    (e.field ? ` (${e.field})` : '') +
    // Why it would not post in full: rejected, capped, held, reversed, or nothing new.
    (e.message ? `  — ${e.message}` : '')
  );
}

/** Where an earlier night's activity decided tonight came in: its file and line, and that night. */
function dueFrom(e: Extract<SimulationEvent, { type: 'due' }>): string {
  if (e.file === null) return 'no file';
  return `${e.file}${e.line !== null ? ` line ${e.line}` : ''}${e.night ? ` (night of ${e.night})` : ''}`;
}

/** Loud for a file the night would reject whole: its records would post nothing. */
function fileVerdictLine(f: FileSummary): string {
  if (f.verdict === 'rejected')
    return `${f.file}: FILE REJECTED ${f.reason ?? ''}${f.message ? ` — ${f.message}` : ''} — nothing from it would be posted`;
  if (f.verdict === 'duplicate' || f.verdict === 'conflict')
    return `${f.file}: FILE ${f.verdict === 'duplicate' ? 'NOT READ' : 'HELD'} ${f.reason ?? ''}${f.message ? ` — ${f.message}` : ''} — nothing from it would be posted`;
  return `${f.file}: ${f.verdict}${f.reason ? ` ${f.reason}` : ''}`;
}

export function registerParse(program: Command, run: ActionRunner): void {
  program
    .command('parse')
    .argument('<feed>', FEED_NAMES.join(', '))
    .argument('<file...>', 'files of one delivery (the parts of an FTL message may be in several)')
    .description(
      'read files as Redeye reads them: one JSON object per line (records, rejects, then a summary); writes nothing',
    )
    .option(
      '--encoding <name>',
      "character encoding (overrides the feed's configured one): utf-8, cp866, windows-1251, …",
    )
    .option(
      '--received <time>',
      'receipt time (ISO 8601) for year inference; default: each file’s modification time',
    )
    .option(
      '--program <code>',
      "the program's code, which marks a hotel stay as ours (default: program.code of the configuration)",
    )
    .action(
      run(
        async (
          ctx: CommandContext,
          feed: string,
          files: string[],
          opts: { encoding?: string; received?: string; program?: string },
        ) => {
          const name = feedName(feed);
          const parser = getParser(name);
          const summary = { type: 'summary', records: 0, rejects: 0, files: [] as unknown[] };
          let lines = 0;
          for await (const e of parser.parse(
            inputsFor(files, opts.received, ctx.now()),
            optionsFor(ctx, name, opts),
          )) {
            if (++lines % 1000 === 0) await ctx.output.drain?.();
            if (e.type === 'record') {
              summary.records++;
              ctx.output.out(
                JSON.stringify({
                  type: 'record',
                  file: e.file,
                  line: e.line,
                  ...(e.path ? { path: e.path, seq: e.seq } : {}),
                  record: e.record,
                }),
              );
            } else if (e.type === 'reject') {
              summary.rejects++;
              ctx.output.out(
                JSON.stringify({
                  type: 'reject',
                  file: e.file,
                  line: e.line,
                  ...(e.path ? { path: e.path, seq: e.seq } : {}),
                  field: e.field,
                  reason: e.reason,
                  message: e.message,
                  text: e.text,
                }),
              );
            } else {
              summary.files.push({
                file: e.file,
                verdict: e.verdict,
                reason: e.reason,
                message: e.message,
                account: e.account,
                meta: e.meta,
              });
            }
          }
          ctx.output.out(JSON.stringify(summary));
        },
      ),
    );

  program
    .command('simulate')
    .argument('<feed>', SIMULATED_FEEDS.join(', '))
    .argument('<file...>', 'input files')
    .description('apply the program rules to files and show what would be posted or rejected; writes nothing')
    .option('-d, --date <YYYY-MM-DD>', 'business date to simulate (default: yesterday)')
    .option(
      '--with <feed=file>',
      "a file of another activity feed arriving the same night (repeat for each): read in the night's feed order, decided with the others",
      (value: string, all: string[]) => [...all, value],
      [] as string[],
    )
    .option('--encoding <name>', "character encoding of <file...> (--with files are read in their feed's)")
    .option('--received <time>', 'receipt time for year inference (ISO 8601)')
    .option('--json', 'one JSON object per line')
    .action(
      run(
        async (
          ctx: CommandContext,
          feed: string,
          files: string[],
          opts: { date?: string; encoding?: string; received?: string; json?: boolean; with: string[] },
        ) => {
          const name = feedName(feed);
          const others = otherFeedFiles(opts.with);
          const date = businessDateOption(ctx, opts.date);
          // The files first: a path that names no file is the operator's to correct, whatever the database.
          const deliveries: SimulatedDelivery[] = [
            {
              feed: name,
              inputs: inputsFor(files, opts.received, ctx.now()),
              options: { encoding: opts.encoding ?? ctx.config.feeds[name]?.encoding },
            },
            ...others.map(({ feed: other, file }) => {
              try {
                return {
                  feed: other,
                  inputs: inputsFor([file], opts.received, ctx.now()),
                  options: { encoding: ctx.config.feeds[other]?.encoding },
                };
              } catch (error) {
                if (!(error instanceof UsageError)) throw error;
                // The path is in the option as given; the context's copy of it would print it twice.
                throw new UsageError(`--with ${other}=${file}: ${error.message}`);
              }
            }),
          ];
          // Read-only: the simulator must leave the database byte for byte as it found it.
          const db = openDb(ctx.config.database.url, {
            readonly: true,
            requireMigrated: true,
            busyTimeoutMs: ctx.config.database.busyTimeoutMs,
          });
          const tidy = db.file ? walFilesTidier(db.file) : undefined;
          const statusText = statusCreditText(ctx.config, date);
          try {
            const notGiven = await waitingNotGiven(db.knex, deliveries, date);
            if (notGiven) ctx.output.err(notGiven);
            for await (const e of simulateNight(db.knex, ctx.config, deliveries, date)) {
              if (opts.json) {
                ctx.output.out(JSON.stringify(e));
                continue;
              }
              if (e.type === 'due') {
                ctx.output.out(
                  `due tonight from an earlier night: ${dueFrom(e)}  ${e.activity}  ${outcomeText(e, statusText)}`,
                );
              } else if (e.type === 'record') {
                ctx.output.out(
                  `${e.file}:${e.line}  ${e.activity || `claim ${e.claim ?? '?'}`}  ${outcomeText(e, statusText)}`,
                );
                for (const a of e.also ?? [])
                  ctx.output.out(
                    `    and ${a.activity} (${a.why}): ${a.status}${a.reason ? ` ${a.reason}` : ''}  ${a.points > 0 ? '+' : ''}${a.points.toLocaleString('en-US')} points` +
                      (a.statusCredits
                        ? `  ${a.statusCredits > 0 ? '+' : ''}${statusText(a.statusCredits)}`
                        : '') +
                      (a.field ? ` (${a.field})` : '') +
                      (a.message ? `  — ${a.message}` : ''),
                  );
              } else if (e.type === 'reject') {
                ctx.output.out(`${e.file}:${e.line}  REJECTED ${e.reason} (${e.field})  — ${e.message}`);
              } else if (e.type === 'file') {
                ctx.output.out(fileVerdictLine(e));
              } else {
                ctx.output.out(`\n${countsLine(e, statusText)}`);
                // The totals count them too: what the night posts for them changes tonight's records.
                if (e.due.records > 0)
                  ctx.output.out(
                    `  of them due tonight from earlier nights: ${countsLine(e.due, statusText)}`,
                  );
                // Per file as well when one of several, or any, would not be accepted as it is.
                if (e.files.length > 1 || e.files.some((f) => f.verdict !== 'accepted'))
                  for (const f of e.files)
                    ctx.output.out(`  ${fileVerdictLine(f)}: ${countsLine(f, statusText)}`);
                for (const [reason, n] of Object.entries(e.byReason).sort())
                  ctx.output.out(`  ${reason.padEnd(24)} ${n}`);
              }
            }
          } finally {
            await db.close();
            tidy?.();
          }
        },
      ),
    );
}
