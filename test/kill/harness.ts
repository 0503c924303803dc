/**
 * The kill test's machinery: a generated demo month (demo/generate.ts), two worlds that read the same
 * nights (a reference run once, uninterrupted; the other killed with SIGKILL again and again), the night
 * run as a child process exactly as an operator runs it (`node bin/redeye.js run nightly --date D`, the
 * clock pinned with REDEYE_NOW), and a comparison of everything the two worlds hold: every table by its
 * natural keys (postings by idempotency key and content hash, balances, lots, activity outcomes, the
 * file registry, …) and every file under `var/` byte for byte.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { Knex } from 'knex';
import { parseDocument, type Document } from 'yaml';
import { isPostgresUrl, openDb, type Db } from '../../db/connection.js';
import { answerDeliveredClaims } from '../../demo/alliance.js';
import { generateDemo, type DemoPlan } from '../../demo/generate.js';
import { FEED_DIRS } from '../../demo/out.js';
import { NIGHTLY_STEPS } from '../../jobs/runner.js';
import { addDays } from '../../lib/dates.js';

export const REPO = resolve(import.meta.dirname, '../..');
/** The built CLI; KILLTEST_BIN points at another build (a frozen copy while the checkout changes). */
export const BIN = process.env.KILLTEST_BIN
  ? resolve(process.env.KILLTEST_BIN)
  : join(REPO, 'bin', 'redeye.js');

/** A small seeded generator (mulberry32): the same seed draws the same kill points. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Demo {
  dir: string;
  plan: DemoPlan;
}

export async function generate(dir: string, members: number, month: string, seed: number): Promise<Demo> {
  const plan = await generateDemo({ dir, members, month, seed });
  return { dir, plan };
}

/** The instant a night runs at: 02:30 UTC the morning after its business date, as `redeye demo` does. */
export function nightClock(date: string): string {
  return `${addDays(date, 1)}T02:30:00Z`;
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  pid: number;
  /** Steps the child logged as started, in order, with the milliseconds since spawn. */
  started: Array<{ step: string; at: number }>;
  killed: boolean;
  killedAt?: number;
}

export interface KillPlan {
  /** Kill this long after spawn. */
  afterSpawnMs?: number;
  /** Or: kill `offsetMs` after the child logs that `step` started (if it gets there). */
  step?: string;
  offsetMs?: number;
}

/**
 * A world: its own folder with the demo configuration (mail left out), database and `var/`. The
 * database is the demo's SQLite file under `var/`, or the PostgreSQL database its configuration names.
 */
export class World {
  readonly config: string;
  readonly var: string;
  /** The SQLite file (not there when the world's database is on PostgreSQL). */
  readonly dbFile: string;
  /** The database URL the world's commands use, for reading it from the test. */
  readonly url: string;
  /** Added to every command's environment. */
  readonly extraEnv: NodeJS.ProcessEnv = {};

  constructor(
    readonly name: string,
    readonly dir: string,
    readonly demo: Demo,
    databaseUrl?: string,
  ) {
    this.config = join(dir, 'redeye.config.yaml');
    this.var = join(dir, 'var');
    this.dbFile = join(this.var, 'redeye.sqlite');
    this.url =
      databaseUrl !== undefined && isPostgresUrl(databaseUrl) ? databaseUrl : `sqlite:${this.dbFile}`;
  }

  get engine(): 'sqlite' | 'postgres' {
    return isPostgresUrl(this.url) ? 'postgres' : 'sqlite';
  }

  /**
   * `fn` on the world's database, read-only on SQLite. None of it may be created by reading: a world
   * whose SQLite file is not there yet gives undefined.
   */
  async read<T>(fn: (knex: Knex, db: Db) => Promise<T>): Promise<T | undefined> {
    if (this.engine === 'sqlite' && !existsSync(this.dbFile)) return undefined;
    const db = openDb(this.url, { readonly: true, create: false });
    try {
      return await fn(db.knex, db);
    } finally {
      await db.close();
    }
  }

  /**
   * A world reading `demo`'s nights. `edit` may change the configuration (transports, mail, database);
   * `env` is added to every command's environment (secrets the configuration names).
   */
  static async create(
    name: string,
    dir: string,
    demo: Demo,
    o: { edit?: (doc: Document) => void; env?: NodeJS.ProcessEnv } = {},
  ): Promise<World> {
    mkdirSync(dir, { recursive: true });
    // Paths in the demo configuration are relative to its folder: a copy elsewhere is another world.
    const doc = parseDocument(readFileSync(join(demo.dir, demo.plan.config), 'utf8'));
    // The demo has no SMTP server and neither has a world, unless `edit` configures one.
    doc.delete('mail');
    o.edit?.(doc);
    writeFileSync(join(dir, 'redeye.config.yaml'), doc.toString({ lineWidth: 0 }));
    const world = new World(name, dir, demo, String(doc.getIn(['database', 'url']) ?? ''));
    Object.assign(world.extraEnv, o.env ?? {});
    const migrate = await world.cli(['db', 'migrate'], {});
    if (migrate.code !== 0) throw new Error(`db migrate failed in ${name}: ${migrate.stderr}`);
    // The inbox folders exist before anything arrives, as a partner's SFTP folders do.
    for (const sub of Object.values(FEED_DIRS)) mkdirSync(join(world.var, 'inbox', sub), { recursive: true });
    return world;
  }

  /** What arrives before the night of `date`: the partners' answers to our claims, then the night's files. */
  async deliverNight(date: string): Promise<void> {
    await answerDeliveredClaims({
      claimsDir: join(this.var, 'delivered', 'alliance-claims'),
      inboxDir: join(this.var, 'inbox'),
      night: date,
      seed: this.demo.plan.seed,
    });
    const night = this.demo.plan.nights.find((n) => n.date === date);
    if (!night) throw new Error(`the demo has no night ${date}`);
    const source = join(this.demo.dir, night.dir);
    if (existsSync(source))
      for (const entry of readdirSync(source))
        cpSync(join(source, entry), join(this.var, 'inbox', entry), { recursive: true });
  }

  env(date?: string): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, REDEYE_LOG_LEVEL: 'info', ...this.extraEnv };
    delete env.REDEYE_CONFIG;
    delete env.REDEYE_DATABASE_URL;
    delete env.REDEYE_NOW;
    if (date) env.REDEYE_NOW = nightClock(date);
    return env;
  }

  /** `node bin/redeye.js --config <world> <args…>` as a child process, optionally killed by plan. */
  cli(
    args: string[],
    o: { date?: string; kill?: KillPlan; onStepStarted?: (step: string, pid: number) => void },
  ): Promise<ChildResult> {
    const t0 = performance.now();
    const child = spawn(process.execPath, [BIN, '--config', this.config, ...args], {
      cwd: this.dir,
      env: this.env(o.date),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const started: ChildResult['started'] = [];
    let killed = false;
    let killedAt: number | undefined;
    let timer: NodeJS.Timeout | undefined;
    const kill = () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      killedAt = performance.now() - t0;
      killed = child.kill('SIGKILL');
    };
    if (o.kill?.afterSpawnMs !== undefined) timer = setTimeout(kill, o.kill.afterSpawnMs);
    let partial = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => {
      err.push(b);
      partial += b.toString('utf8');
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        const m = /"msg":"([a-z]+) started"/.exec(line);
        if (!m || !(NIGHTLY_STEPS as string[]).includes(m[1]!)) continue;
        started.push({ step: m[1]!, at: performance.now() - t0 });
        o.onStepStarted?.(m[1]!, child.pid ?? -1);
        if (o.kill && o.kill.step === m[1] && timer === undefined)
          timer = setTimeout(kill, Math.max(0, o.kill.offsetMs ?? 0));
      }
    });
    return new Promise((resolvePromise, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => {
        if (timer) clearTimeout(timer);
        resolvePromise({
          code,
          signal,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
          ms: performance.now() - t0,
          pid: child.pid ?? -1,
          started,
          killed: killed && signal === 'SIGKILL',
          ...(killedAt !== undefined ? { killedAt } : {}),
        });
      });
    });
  }

  nightly(
    date: string,
    kill?: KillPlan,
    onStepStarted?: (step: string, pid: number) => void,
  ): Promise<ChildResult> {
    return this.cli(['run', 'nightly', '--date', date, '--json'], {
      date,
      ...(kill ? { kill } : {}),
      ...(onStepStarted ? { onStepStarted } : {}),
    });
  }

  /** Whether the killed process left its run lock behind (the rerun must take it over). */
  async leftLock(pid: number): Promise<boolean> {
    const row = await this.read((knex) => knex('job_locks').where({ pid }).first('name'));
    return row !== undefined;
  }

  /**
   * What a killed process was doing, from `job_runs`: the step it had started and not finished, or
   * where it was around the steps (before its night was recorded, between steps, closing the night).
   */
  async interruptedStep(pid: number, date: string): Promise<string> {
    const rows = (await this.read((knex) =>
      knex('job_runs').where({ pid, business_date: date }).orderBy('id').select('job', 'status'),
    )) as Array<{ job: string; status: string }> | undefined;
    if (rows === undefined) return 'starting (no database yet)';
    if (rows.length === 0) return 'starting (before the night was recorded)';
    const running = rows.filter((r) => r.status === 'running' && r.job !== 'nightly');
    if (running.length > 0) return running[running.length - 1]!.job;
    const night = rows.find((r) => r.job === 'nightly');
    const steps = rows.filter((r) => r.job !== 'nightly');
    if (night?.status === 'running')
      return steps.length === NIGHTLY_STEPS.length
        ? 'closing the night (after retention)'
        : `between steps (after ${steps.at(-1)?.job ?? 'the lock'})`;
    return 'after the night was recorded (releasing the lock)';
  }
}

/** The step seconds of a `run nightly --json` summary, in order. */
export function stepSeconds(stdout: string): Array<{ step: string; seconds: number; status: string }> {
  const line = stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (!line) throw new Error(`no JSON summary in the output:\n${stdout}`);
  const summary = JSON.parse(line) as { steps: Array<{ job: string; seconds: number; status: string }> };
  return summary.steps.map((s) => ({ step: s.job, seconds: s.seconds, status: s.status }));
}

// ------------------------------------------------------------------------------------------ snapshot

type Row = Record<string, unknown>;

export interface Snapshot {
  /** Table → canonical rows (JSON with natural keys instead of ids), sorted. */
  tables: Map<string, string[]>;
  /** `var/`-relative path → sha256 of every file (the database files and temporary files left out). */
  files: Map<string, string>;
  /**
   * Files under a temporary name (TEMPORARY_NAME) that a killed write left behind: never registered,
   * never read or delivered, and not the file they stood for.
   */
  temporary: string[];
  /** Headline figures, for the log. */
  figures: Record<string, number>;
}

function canonical(row: Row): string {
  const keys = Object.keys(row).sort();
  return JSON.stringify(keys.map((k) => [k, row[k] ?? null]));
}

/** The transports' and exporters' `.<name>.<12 hex>.part`, and the report writer's `<name>.<pid>.part`. */
export const TEMPORARY_NAME = /^\..+\.[0-9a-f]{12}\.part$|^.+\.\d+\.part$/;

/**
 * Outbound alliance claim ids are `<program>-<activity id>`, and on PostgreSQL a killed transaction uses
 * activity ids up that a rerun does not get back (README: one difference stays): the same claim has
 * another id after the kills. Snapshots name a claim by its activity's key instead, in the tables and in
 * the interface files that carry it (ours, and the partners' answers).
 */
const CLAIM_ID = /(?<![\w-])[A-Z0-9]+-\d+(?![\w-])/g;

interface Walk {
  root: string;
  files: Map<string, string>;
  temporary: string[];
  /** Claim id → the claim by natural key. */
  claims: Map<string, string>;
  /** sha256 of a file's bytes → sha256 and size of its bytes with its claims named by natural key. */
  named: Map<string, { sha256: string; size: number }>;
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

function walk(w: Walk, dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(w, p);
    else if (TEMPORARY_NAME.test(e.name)) w.temporary.push(relative(w.root, p));
    else if (!/^redeye\.sqlite(-wal|-shm|-journal)?$/.test(e.name)) {
      const bytes = readFileSync(p);
      let sha = sha256(bytes);
      if (w.claims.size > 0 && e.name.endsWith('.xml')) {
        const text = bytes.toString('utf8');
        const named = text.replace(CLAIM_ID, (id) => w.claims.get(id) ?? id);
        if (named !== text) {
          const raw = sha;
          sha = sha256(named);
          w.named.set(raw, { sha256: sha, size: Buffer.byteLength(named) });
        }
      }
      w.files.set(relative(w.root, p), sha);
    }
  }
}

/** The rows of a raw query, as either engine's driver returns them. */
async function rowsOf(knex: Knex, sql: string): Promise<Row[]> {
  const r = (await knex.raw(sql)) as Row[] | { rows: Row[] };
  return Array.isArray(r) ? r : r.rows;
}

/** The world's tables (knex's own left out). */
async function tablesOf(knex: Knex, engine: World['engine']): Promise<string[]> {
  const rows = await rowsOf(
    knex,
    engine === 'postgres'
      ? "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
      : "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
  );
  return rows
    .map((r) => String(r.name))
    .filter((n) => !n.startsWith('knex_'))
    .sort();
}

/** Everything a world holds, in terms two worlds can be compared by. */
export async function snapshot(world: World): Promise<Snapshot> {
  const read = await world.read(async (knex) => {
    const all = (sql: string) => rowsOf(knex, sql);
    const map = async (sql: string) => {
      const m = new Map<number, string>();
      for (const r of await all(sql)) m.set(Number(r.id), String(r.k));
      return m;
    };
    const claims = new Map<string, string>();
    for (const r of await all("SELECT claim_id, activity_key FROM alliance_claims WHERE direction = 'OUT'"))
      claims.set(String(r.claim_id), `claim of ${String(r.activity_key)}`);
    const w: Walk = { root: world.var, files: new Map(), temporary: [], claims, named: new Map() };
    walk(w, world.var);
    // A registered file's identity is its content: with its claims named as the files under var/ are.
    const contentOf = (sha: unknown) => (typeof sha === 'string' ? w.named.get(sha) : undefined);
    const files = new Map<number, string>();
    for (const r of await all('SELECT id, direction, feed, name, sha256 FROM files'))
      files.set(
        Number(r.id),
        `${String(r.direction)}/${String(r.feed)}/${String(r.name)}#${String(contentOf(r.sha256)?.sha256 ?? r.sha256).slice(0, 16)}`,
      );
    const members = await map('SELECT id, number AS k FROM members');
    const pools = await map('SELECT id, code AS k FROM pools');
    const accounts = await map('SELECT id, code AS k FROM accounts');
    const postings = await map('SELECT id, idempotency_key AS k FROM postings');
    const lots = await map(
      `SELECT l.id, p.idempotency_key || '@' || a.code || '@' || l.earned_on || '@' || COALESCE(CAST(l.expires_on AS TEXT), '-') AS k
         FROM lots l JOIN postings p ON p.id = l.origin_posting_id JOIN accounts a ON a.id = l.account_id`,
    );
    const refs: Record<string, Map<number, string>> = {
      file_id: files,
      source_file_id: files,
      answers_file_id: files,
      result_file_id: files,
      mailing_file_id: files,
      member_id: members,
      pool_id: pools,
      account_id: accounts,
      posting_id: postings,
      origin_posting_id: postings,
      reversal_of: postings,
      lapsed_by: postings,
      lot_id: lots,
    };
    const tables = new Map<string, string[]>();
    for (const table of await tablesOf(knex, world.engine)) {
      // Runs and locks are the history of the attempts, which differs by design; compared apart.
      if (table === 'job_runs' || table === 'job_locks') continue;
      const rows = (await all(`SELECT * FROM ${table}`)).map((row) => {
        const out: Row = {};
        for (const [k, v] of Object.entries(row)) {
          if (k === 'id' && table !== 'sequences') continue;
          const ref = refs[k];
          if (ref && v !== null && v !== undefined) out[k] = ref.get(Number(v)) ?? `?${String(v)}`;
          // An export's identity names the file it answers by id: by its natural key instead.
          else if (k === 'export_key' && typeof v === 'string')
            out[k] = v.replace(/file=(\d+)/, (_, id: string) => `file=${files.get(Number(id)) ?? `?${id}`}`);
          else if (typeof v === 'string')
            out[k] = v
              // Paths name the world's own folder (local_path, remote_path of a local delivery).
              .replaceAll(world.dir, '<world>')
              // Details name files by id (an activity's `couponFrom`), and on PostgreSQL a killed
              // transaction uses ids up that a rerun does not get back: by natural key instead.
              .replace(
                /"fileId":(\d+)/g,
                (_, id: string) => `"fileId":${JSON.stringify(files.get(Number(id)) ?? `?${id}`)}`,
              )
              .replace(CLAIM_ID, (id) => claims.get(id) ?? id);
          else out[k] = v;
        }
        const content = table === 'files' ? contentOf(row.sha256) : undefined;
        if (content) Object.assign(out, { sha256: content.sha256, size: content.size });
        return canonical(out);
      });
      tables.set(table, rows.sort());
    }
    const n = async (sql: string) => Number((await all(sql))[0]?.n ?? 0);
    const figures: Record<string, number> = {
      postings: await n('SELECT COUNT(*) AS n FROM postings'),
      entries: await n('SELECT COUNT(*) AS n FROM entries'),
      accounts: await n('SELECT COUNT(*) AS n FROM accounts'),
      openLots: await n('SELECT COUNT(*) AS n FROM lots WHERE remaining > 0'),
      activities: await n('SELECT COUNT(*) AS n FROM activities'),
      files: await n('SELECT COUNT(*) AS n FROM files'),
      rejects: await n('SELECT COUNT(*) AS n FROM rejects'),
      memberPoints: await n(
        "SELECT SUM(balance) AS n FROM accounts WHERE kind IN ('MEMBER_POINTS', 'POOL_POINTS')",
      ),
      locksHeld: await n('SELECT COUNT(*) AS n FROM job_locks'),
    };
    // A run lock on PostgreSQL is a session advisory lock: a dead run's session must have let it go.
    if (world.engine === 'postgres')
      figures.advisoryLocksHeld = await n(
        "SELECT COUNT(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
      );
    return { tables, figures, files: w.files, temporary: w.temporary.sort() };
  });
  if (read === undefined) throw new Error(`${world.name}: no database at ${world.dbFile}`);
  return read;
}

/**
 * Every table, then the files: each difference listed. `skipFiles` leaves paths out of the byte
 * comparison (they must still exist on both sides).
 */
export function compare(reference: Snapshot, other: Snapshot, o: { skipFiles?: RegExp } = {}): string[] {
  const problems: string[] = [];
  const listed = 8;
  for (const [table, refRows] of reference.tables) {
    const otherRows = other.tables.get(table) ?? [];
    const count = new Map<string, number>();
    for (const r of refRows) count.set(r, (count.get(r) ?? 0) + 1);
    for (const r of otherRows) count.set(r, (count.get(r) ?? 0) - 1);
    const missing = [...count].filter(([, c]) => c > 0).map(([r]) => r);
    const extra = [...count].filter(([, c]) => c < 0).map(([r]) => r);
    if (missing.length === 0 && extra.length === 0) continue;
    problems.push(
      `${table}: ${refRows.length} rows in the reference, ${otherRows.length} after the kills; ` +
        `${missing.length} only in the reference, ${extra.length} only after the kills`,
    );
    for (const r of missing.slice(0, listed)) problems.push(`  - reference: ${r}`);
    for (const r of extra.slice(0, listed)) problems.push(`  + killed:    ${r}`);
  }
  for (const table of other.tables.keys())
    if (!reference.tables.has(table)) problems.push(`${table}: only in the killed world`);
  for (const [path, sha] of reference.files) {
    const got = other.files.get(path);
    if (got === undefined) problems.push(`file ${path}: missing after the kills`);
    else if (got !== sha && !o.skipFiles?.test(path))
      problems.push(`file ${path}: different bytes after the kills`);
  }
  for (const path of other.files.keys())
    if (!reference.files.has(path)) problems.push(`file ${path}: only after the kills`);
  for (const path of reference.temporary) problems.push(`file ${path}: a temporary file after a clean run`);
  if (other.figures.locksHeld !== 0) problems.push(`${other.figures.locksHeld} run lock(s) still held`);
  if ((other.figures.advisoryLocksHeld ?? 0) !== 0)
    problems.push(`${other.figures.advisoryLocksHeld} PostgreSQL advisory lock(s) still held`);
  return problems;
}
