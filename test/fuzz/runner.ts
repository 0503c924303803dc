/**
 * Runs the fuzz corpus through the night the way production runs it: the mutated files land in the
 * world's inbox folders, and `fetch`, `ingest` and `accrue` run for a business date, batch after batch
 * (one night per batch, every feed in each). After each night every file is checked:
 *
 * - no crash: each job returns (a throw fails the run, with the error and the file it names), and no
 *   step outlasts its time bound (an async hang by a timer, a synchronous one by the watchdog);
 * - every file accounted for: its registry row has a verdict (never left pending), and `counts.lines`
 *   equals the physical line count computed here independently (lines.ts);
 * - every line accounted for: the feed's parser, run on the file alone, gives one verdict whose account
 *   adds up (record + reject + structure + blank lines = lines) and matches its events;
 * - every record accounted for: an accepted file's records are all found again as activities, members,
 *   rates, claims, matched results, known duplicates or rejects with a reason (the handlers' counts,
 *   per feed, below), and its reject rows are the ones the registry counts; a rejected file leaves no
 *   activity and no reject behind;
 *
 * and at the end of every night `checkLedger` must find every invariant of the ledger holding.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { checkLedger } from '../../ledger/check.js';
import { accrueJob } from '../../jobs/accrue.js';
import { fetchJob } from '../../jobs/fetch.js';
import { ingestJob } from '../../jobs/ingest.js';
import type { JobContext, JobResult } from '../../jobs/types.js';
import { addDays, type IsoDate } from '../../lib/dates.js';
import { RedeyeError } from '../../lib/errors.js';
import { getParser } from '../../parsers/index.js';
import { ftlParser } from '../../parsers/ftl/index.js';
import {
  FEED_NAMES,
  type FeedName,
  type ParseInput,
  type ParseOptions,
  type VerdictEvent,
} from '../../parsers/types.js';
import { Program } from '../../rules/program.js';
import { createWorld, type TestWorld } from '../harness/context.js';
import { corpusFile, DEFAULT_CORPUS, type CorpusFile, type CorpusOptions } from './corpus.js';
import { physicalLines } from './lines.js';
import { buildSeeds, type Seeds } from './seeds.js';
import { Watchdog, withTimeout } from './watchdog.js';
import { insertedId } from '../../db/rows.js';

export interface FuzzOptions {
  /** Mutated files per feed. */
  perFeed: number;
  /** Files per feed in one night. */
  batch: number;
  feeds?: readonly FeedName[];
  corpus?: CorpusOptions;
  /** Bound on reading one file alone. */
  perFileMs?: number;
  /** Bound on one job of one night: `stepBaseMs` plus `stepPerFileMs` per file of the night. */
  stepBaseMs?: number;
  stepPerFileMs?: number;
  /** Progress lines (a night done, its figures). */
  log?: (line: string) => void;
  /** Where the watchdog writes what hung. */
  hangReport?: string;
}

export interface FeedFigures {
  files: number;
  bytes: number;
  verdicts: Record<string, number>;
  reasons: Record<string, number>;
  records: number;
  rejects: number;
  /** Slowest single-file read, in ms, and the file. */
  slowestMs: number;
  slowestFile: string;
}

export interface FuzzReport {
  perFeed: number;
  nights: number;
  seconds: number;
  /** Peak resident set size of the process, in MiB. */
  peakRssMiB: number;
  /** Slowest job of a night, in ms, and which. */
  slowestStepMs: number;
  slowestStep: string;
  feeds: Partial<Record<FeedName, FeedFigures>>;
  postings: number;
  ledger: { ok: boolean; violations: string[] };
  /** Everything that broke a promise; empty when the run passed. */
  findings: string[];
}

const XML_FEEDS = new Set<FeedName>(['hotel', 'alliance-claims', 'alliance-results', 'fx']);
/** Findings kept per kind of check, so one systematic fault does not drown the others. */
const MAX_FINDINGS_PER_KIND = 5;

interface DirectRead {
  verdict: VerdictEvent | undefined;
  verdicts: number;
  records: number;
  rejects: number;
  recordLines: number;
  rejectLines: number;
  problems: string[];
}

/** The bytes as a file stream gives them: 64 KiB chunks. */
function chunked(bytes: Buffer): Readable {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += 65_536) chunks.push(bytes.subarray(at, at + 65_536));
  return Readable.from(chunks);
}

export class FuzzRun {
  readonly findings: string[] = [];
  private readonly findingKinds = new Map<string, number>();
  private readonly figures: Partial<Record<FeedName, FeedFigures>> = {};
  private readonly seen = new Map<FeedName, Set<string>>();
  private slowestStepMs = 0;
  private slowestStep = '';
  private world!: TestWorld;
  private seeds!: Seeds;
  private program!: Program;
  private watchdog!: Watchdog;
  private readonly corpus: CorpusOptions;
  private readonly feeds: readonly FeedName[];

  constructor(private readonly options: FuzzOptions) {
    this.corpus = options.corpus ?? DEFAULT_CORPUS;
    this.feeds = options.feeds ?? FEED_NAMES;
  }

  private finding(kind: string, text: string): void {
    const n = (this.findingKinds.get(kind) ?? 0) + 1;
    this.findingKinds.set(kind, n);
    if (n <= MAX_FINDINGS_PER_KIND) this.findings.push(`[${kind}] ${text}`);
    else if (n === MAX_FINDINGS_PER_KIND + 1) this.findings.push(`[${kind}] … more of the same`);
  }

  /** Seeds, world, the base night (members, history, rates) and the claims the results answer. */
  async setUp(): Promise<void> {
    this.watchdog = new Watchdog(this.options.hangReport);
    this.world = await createWorld('sqlite');
    this.program = new Program(this.world.config);
    this.seeds = await buildSeeds(join(this.world.dir, 'demo'), this.corpus.seed);
    const ctx = this.world.ctx(this.seeds.baseDate);
    this.drop(this.seeds.baseNight);
    for (const f of this.seeds.baseNight) this.seenSet(f.feed).add(sha256(f.bytes));
    await this.step('fetch', ctx, fetchJob, this.seeds.baseNight.length);
    await this.step('ingest', ctx, ingestJob, this.seeds.baseNight.length);
    await this.step('accrue', ctx, accrueJob, this.seeds.baseNight.length);
    this.clearInbox();
    const knex = this.world.t.db.knex;
    const now = ctx.now().toISOString();
    for (const c of this.seeds.outboundClaims) {
      const [row] = await knex('files')
        .insert({
          direction: 'out',
          feed: 'alliance-claims',
          name: `XX_${c.partner}_20260930_${String(c.sequence).padStart(6, '0')}.claims.xml`,
          size: 0,
          sha256: sha256(Buffer.from(`${c.partner}:${c.sequence}`)),
          business_date: '2026-09-30',
          partner_code: c.partner,
          sequence: c.sequence,
          verdict: 'delivered',
          created_at: now,
        })
        .returning('id');
      const fileId = insertedId(row);
      await knex('alliance_claims').insert(
        c.claimIds.map((claimId) => ({
          direction: 'OUT',
          partner_code: c.partner,
          claim_id: claimId,
          business_date: '2026-09-30',
          file_id: fileId,
          claim: '{}',
          status: 'SENT',
        })),
      );
    }
  }

  async tearDown(): Promise<void> {
    this.watchdog?.close();
    await this.world?.cleanup();
  }

  private seenSet(feed: FeedName): Set<string> {
    let s = this.seen.get(feed);
    if (!s) this.seen.set(feed, (s = new Set()));
    return s;
  }

  private inboxDir(feed: FeedName): string {
    const cfg = this.world.config.feeds[feed]!;
    const transport = this.world.config.transports[cfg.source]!;
    if (transport.type !== 'local') throw new Error(`feed ${feed} is not read from a local folder`);
    return join(transport.root, cfg.remoteDir);
  }

  private drop(files: ReadonlyArray<{ feed: FeedName; name: string; bytes: Buffer }>): void {
    for (const f of files) {
      const dir = this.inboxDir(f.feed);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, f.name), f.bytes);
    }
  }

  /** The partners' side of `afterFetch: archive`, and the landing area emptied: disk stays bounded. */
  private clearInbox(): void {
    for (const feed of FEED_NAMES) {
      rmSync(this.inboxDir(feed), { recursive: true, force: true });
      mkdirSync(this.inboxDir(feed), { recursive: true });
    }
    rmSync(this.world.config.paths.landing, { recursive: true, force: true });
    mkdirSync(this.world.config.paths.landing, { recursive: true });
  }

  private async step(
    name: string,
    ctx: JobContext,
    job: (ctx: JobContext) => Promise<JobResult>,
    files: number,
  ): Promise<JobResult> {
    const bound = (this.options.stepBaseMs ?? 120_000) + (this.options.stepPerFileMs ?? 200) * files;
    const label = `${name} of ${ctx.businessDate} (${files} files)`;
    this.watchdog.arm('step', label, bound + 5_000);
    const t0 = performance.now();
    try {
      return await withTimeout(job(ctx), bound, label);
    } catch (error) {
      throw new Error(`${label} failed: ${describeError(error)}`, { cause: error });
    } finally {
      this.watchdog.clear('step');
      const ms = performance.now() - t0;
      if (ms > this.slowestStepMs) {
        this.slowestStepMs = ms;
        this.slowestStep = label;
      }
    }
  }

  /** One night: a batch of every feed's corpus, fetched, ingested and accrued, then checked file by file. */
  async night(n: number): Promise<void> {
    const { batch, perFeed } = this.options;
    const date = addDays(this.seeds.lastDate as IsoDate, n + 1);
    const from = n * batch;
    const to = Math.min(perFeed, from + batch);
    const files: CorpusFile[] = [];
    for (const feed of this.feeds) {
      for (let i = from; i < to; i++) files.push(corpusFile(this.seeds.byFeed[feed], feed, i, this.corpus));
    }
    this.drop(files);
    const ctx = this.world.ctx(date);
    const before = this.findings.length;
    const t0 = performance.now();
    for (const [name, job] of [
      ['fetch', fetchJob],
      ['ingest', ingestJob],
      ['accrue', accrueJob],
    ] as const) {
      try {
        await this.step(name, ctx, job, files.length);
      } catch (error) {
        this.finding('crash', describeError(error));
        throw error;
      }
    }
    const jobsMs = performance.now() - t0;
    await this.checkFiles(files, ctx);
    const report = await checkLedger(this.world.t.db.knex);
    if (!report.ok) {
      for (const c of report.checks)
        for (const v of c.violations) this.finding('ledger', `after night ${date}: ${c.name}: ${v}`);
    }
    this.clearInbox();
    const fresh = this.findings.slice(before);
    this.options.log?.(
      `night ${date}: ${files.length} files (${this.feeds.length} feeds × ${to - from}), jobs ${(jobsMs / 1000).toFixed(1)} s, night ${((performance.now() - t0) / 1000).toFixed(1)} s, rss ${rssMiB()} MiB, findings ${this.findings.length}${fresh.map((f) => `\n  ${f}`).join('')}`,
    );
  }

  private figuresOf(feed: FeedName): FeedFigures {
    let f = this.figures[feed];
    if (!f) {
      f = {
        files: 0,
        bytes: 0,
        verdicts: {},
        reasons: {},
        records: 0,
        rejects: 0,
        slowestMs: 0,
        slowestFile: '',
      };
      this.figures[feed] = f;
    }
    return f;
  }

  private async readAlone(file: CorpusFile, ctx: JobContext): Promise<DirectRead> {
    const feedCfg = this.world.config.feeds[file.feed];
    const input: ParseInput = {
      name: file.name,
      open: () => chunked(file.bytes),
      receivedAt: ctx.now(),
      size: file.bytes.length,
    };
    const out: DirectRead = {
      verdict: undefined,
      verdicts: 0,
      records: 0,
      rejects: 0,
      recordLines: 0,
      rejectLines: 0,
      problems: [],
    };
    const events =
      file.feed === 'ftl'
        ? ftlParser.parse([input], {
            encoding: feedCfg?.encoding ?? 'utf-8',
            ownPrograms: [this.program.code],
            timeZone: this.world.config.program.timeZone,
            holdTimeoutHours: feedCfg?.holdHours ?? 48,
            asOf: ctx.now(),
          })
        : getParser(file.feed).parse([input], {
            encoding: feedCfg?.encoding,
            delimiter: feedCfg?.delimiter,
            maxBytes: feedCfg?.maxBytes,
            ...(file.feed === 'hotel' ? { ownPrograms: [this.program.code] } : {}),
          } as ParseOptions);
    for await (const e of events) {
      if (out.verdict) out.problems.push(`an event after the verdict: ${e.type}`);
      if (e.type === 'record') {
        out.records++;
        out.recordLines += e.lines ?? 1;
      } else if (e.type === 'reject') {
        out.rejects++;
        out.rejectLines += e.lines ?? 1;
        if (!e.reason || !e.message)
          out.problems.push(`a reject without reason or message at line ${e.line}`);
      } else {
        out.verdicts++;
        out.verdict = e;
      }
    }
    return out;
  }

  private async checkFiles(files: CorpusFile[], ctx: JobContext): Promise<void> {
    const knex = this.world.t.db.knex;
    const perFileMs = this.options.perFileMs ?? 10_000;
    const rows = new Map<string, Record<string, unknown>>();
    for (let i = 0; i < files.length; i += 500) {
      const names = files.slice(i, i + 500).map((f) => f.name);
      for (const r of await knex('files').where({ direction: 'in' }).whereIn('name', names))
        rows.set(`${r.feed as string}/${r.name as string}`, r as Record<string, unknown>);
    }
    const rejectRows = new Map<number, { n: number; notFound: number }>();
    const activityRows = new Map<number, number>();
    const ids = [...rows.values()].map((r) => Number(r.id));
    for (let i = 0; i < ids.length; i += 500) {
      const part = ids.slice(i, i + 500);
      const rejects = (await knex('rejects')
        .whereIn('file_id', part)
        .groupBy('file_id')
        .select('file_id')
        .count({ n: '*' })
        .sum({ nf: knex.raw("CASE WHEN reason = 'NOT_FOUND' THEN 1 ELSE 0 END") })) as Array<
        Record<string, unknown>
      >;
      for (const r of rejects)
        rejectRows.set(Number(r.file_id), { n: Number(r.n), notFound: Number(r.nf ?? 0) });
      const activities = (await knex('activities')
        .whereIn('source_file_id', part)
        .groupBy('source_file_id')
        .select('source_file_id')
        .count({ n: '*' })) as Array<Record<string, unknown>>;
      for (const r of activities) activityRows.set(Number(r.source_file_id), Number(r.n));
    }

    // In the order the registry took them in: of two files with the same content, the later is the duplicate.
    const order = (f: CorpusFile) => Number(rows.get(`${f.feed}/${f.name}`)?.id ?? -1);
    for (const file of [...files].sort((a, b) => order(a) - order(b))) {
      const where = `${file.feed}/${file.name} (from ${file.from} by ${file.mutations.join('+')})`;
      const fig = this.figuresOf(file.feed);
      fig.files++;
      fig.bytes += file.bytes.length;
      const row = rows.get(`${file.feed}/${file.name}`);
      if (!row) {
        this.finding('unregistered', `${where}: not in the registry after fetch`);
        continue;
      }
      const verdict = String(row.verdict);
      fig.verdicts[verdict] = (fig.verdicts[verdict] ?? 0) + 1;
      if (row.reason) fig.reasons[String(row.reason)] = (fig.reasons[String(row.reason)] ?? 0) + 1;
      const sha = sha256(file.bytes);
      const seen = this.seenSet(file.feed);
      if (seen.has(sha)) {
        if (verdict !== 'duplicate')
          this.finding('duplicate', `${where}: same content as an earlier file, verdict ${verdict}`);
        continue;
      }
      seen.add(sha);
      if (!['accepted', 'rejected', 'held'].includes(verdict)) {
        this.finding('verdict', `${where}: verdict ${verdict} after ingest`);
        continue;
      }
      const counts = (row.counts ? JSON.parse(String(row.counts)) : {}) as Record<string, number>;
      fig.records += counts.records ?? 0;
      fig.rejects += counts.rejects ?? 0;

      // The file alone, through its parser: a bound on the time, an account that adds up.
      this.watchdog.arm('file', `reading ${where}`, perFileMs + 5_000);
      const t0 = performance.now();
      let direct: DirectRead;
      try {
        direct = await withTimeout(this.readAlone(file, ctx), perFileMs, `reading ${where}`);
      } catch (error) {
        this.finding('parser-throw', `${where}: ${describeError(error)}`);
        continue;
      } finally {
        this.watchdog.clear('file');
      }
      const ms = performance.now() - t0;
      if (ms > fig.slowestMs) {
        fig.slowestMs = ms;
        fig.slowestFile = file.name;
      }
      for (const p of direct.problems) this.finding('events', `${where}: ${p}`);
      const v = direct.verdict;
      if (direct.verdicts !== 1 || !v) {
        this.finding('events', `${where}: ${direct.verdicts} verdicts`);
        continue;
      }
      const a = v.account;
      const tooLarge = XML_FEEDS.has(file.feed) && v.reason === 'TOO_LARGE';
      const physical = tooLarge ? 0 : physicalLines(file.bytes);
      if (a.lines !== physical)
        this.finding('lines', `${where}: the parser counts ${a.lines} lines, the file has ${physical}`);
      if (counts.lines !== physical)
        this.finding('lines', `${where}: the registry says ${counts.lines} lines, the file has ${physical}`);
      if (a.recordLines + a.rejectLines + a.structureLines + a.blankLines !== a.lines)
        this.finding('account', `${where}: account does not add up: ${JSON.stringify(a)}`);
      if (a.records !== direct.records || a.rejects !== direct.rejects)
        this.finding(
          'account',
          `${where}: account says ${a.records} records/${a.rejects} rejects, events ${direct.records}/${direct.rejects}`,
        );
      if (a.rejectLines !== direct.rejectLines)
        this.finding(
          'account',
          `${where}: reject lines ${a.rejectLines}, rejects' lines sum to ${direct.rejectLines}`,
        );
      if (a.recordLines !== direct.recordLines)
        this.finding(
          'account',
          `${where}: record lines ${a.recordLines}, records' lines sum to ${direct.recordLines}`,
        );

      const id = Number(row.id);
      const stored = rejectRows.get(id) ?? { n: 0, notFound: 0 };
      const activities = activityRows.get(id) ?? 0;
      if (file.feed === 'ftl') {
        // One delivery for the night: a part may complete another file's message, so only the file's
        // own facts are compared.
        if (stored.n < (counts.rejects ?? 0))
          this.finding('records', `${where}: ${counts.rejects} rejects counted, ${stored.n} stored`);
        continue;
      }
      if (v.verdict === 'rejected' && (verdict !== 'rejected' || row.reason !== v.reason))
        this.finding(
          'verdict',
          `${where}: the parser rejects it (${v.reason}), ingest says ${verdict} ${String(row.reason)}`,
        );
      if (verdict === 'rejected') {
        if (stored.n !== 0 || activities !== 0 || (counts.records ?? 0) !== 0)
          this.finding(
            'leftovers',
            `${where}: rejected, yet ${stored.n} rejects, ${activities} activities, ${counts.records} records stay`,
          );
        continue;
      }
      // A record ingest refuses (a duplicate, an unknown currency) counts as a reject, not a record: the
      // records kept and the records refused are together the records the parser reads.
      const handlerRejects = (counts.rejects ?? 0) - direct.rejects;
      if ((counts.records ?? 0) + handlerRejects !== direct.records)
        this.finding(
          'records',
          `${where}: ingest keeps ${counts.records} records and refuses ${handlerRejects}, the parser reads ${direct.records}`,
        );
      if (stored.n !== (counts.rejects ?? 0))
        this.finding('records', `${where}: ${counts.rejects} rejects counted, ${stored.n} stored`);
      const c = (k: string) => counts[k] ?? 0;
      let accounted: number;
      switch (file.feed) {
        case 'flown':
          accounted = c('activities') + c('merged') + c('duplicates') + c('corrections') + handlerRejects;
          break;
        case 'hotel':
          accounted = c('activities') + c('otherProgram') + handlerRejects;
          break;
        case 'fx':
          accounted = c('rates') + c('known') + handlerRejects;
          break;
        case 'retro-claims':
          accounted = c('claims') + handlerRejects;
          break;
        case 'members':
          accounted =
            c('older') +
            c('sentAgain') +
            c('waiting') +
            c('enrolled') +
            c('updated') +
            Object.entries(counts)
              .filter(([k]) => /^to[A-Z]+$/.test(k))
              .reduce((s, [, n]) => s + n, 0) +
            handlerRejects;
          break;
        case 'alliance-results':
          // Each result answers a claim we sent (matched, a conflicting answer included) or none (NOT_FOUND).
          accounted = c('matched') + stored.notFound;
          break;
        default:
          accounted = c('activities') + handlerRejects;
      }
      if (accounted !== direct.records)
        this.finding(
          'records',
          `${where}: ${direct.records} records read, ${accounted} accounted for (${JSON.stringify(counts)})`,
        );
    }
  }

  async finish(startedAt: number, nights: number): Promise<FuzzReport> {
    const knex = this.world.t.db.knex;
    const report = await checkLedger(knex);
    const violations = report.checks.flatMap((c) => c.violations.map((v) => `${c.name}: ${v}`));
    const postings = Number((await knex('postings').count({ n: '*' }).first())?.n ?? 0);
    return {
      perFeed: this.options.perFeed,
      nights,
      seconds: Math.round((performance.now() - startedAt) / 100) / 10,
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
      slowestStepMs: Math.round(this.slowestStepMs),
      slowestStep: this.slowestStep,
      feeds: this.figures,
      postings,
      ledger: { ok: report.ok, violations },
      findings: this.findings,
    };
  }
}

/** The whole run: set up, every night, the final ledger check. The world is removed at the end. */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const startedAt = performance.now();
  const run = new FuzzRun(options);
  const nights = Math.ceil(options.perFeed / options.batch);
  try {
    await run.setUp();
    for (let n = 0; n < nights; n++) {
      try {
        await run.night(n);
      } catch {
        break; // the crash is a finding; the world after it proves nothing more
      }
    }
    return await run.finish(startedAt, nights);
  } finally {
    await run.tearDown();
  }
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function rssMiB(): number {
  return Math.round(process.memoryUsage.rss() / 1_048_576);
}

/** An error as the operator would read it; an error that is not a RedeyeError says so. */
export function describeError(error: unknown): string {
  if (error instanceof RedeyeError) return `${error.name} [${error.code}] ${error.describe()}`;
  if (error instanceof Error) {
    const cause = error.cause instanceof RedeyeError ? `; cause ${describeError(error.cause)}` : '';
    const typed = error.cause instanceof RedeyeError ? '' : ' (untyped)';
    return `${error.message}${typed}${cause}\n${error.stack?.split('\n').slice(1, 6).join('\n') ?? ''}`;
  }
  return `${String(error)} (untyped)`;
}
