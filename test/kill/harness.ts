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
import Database from 'better-sqlite3';
import { parseDocument, type Document } from 'yaml';
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

/** A world: its own folder with the demo configuration (mail left out), database and `var/`. */
export class World {
  readonly config: string;
  readonly var: string;
  readonly dbFile: string;
  /** Added to every command's environment. */
  readonly extraEnv: NodeJS.ProcessEnv = {};

  constructor(
    readonly name: string,
    readonly dir: string,
    readonly demo: Demo,
  ) {
    this.config = join(dir, 'redeye.config.yaml');
    this.var = join(dir, 'var');
    this.dbFile = join(this.var, 'redeye.sqlite');
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
    const world = new World(name, dir, demo);
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
  leftLock(pid: number): boolean {
    const db = new Database(this.dbFile, { fileMustExist: true });
    try {
      db.pragma('busy_timeout = 10000');
      return db.prepare('SELECT 1 FROM job_locks WHERE pid = ?').get(pid) !== undefined;
    } finally {
      db.close();
    }
  }

  /**
   * What a killed process was doing, from `job_runs`: the step it had started and not finished, or
   * where it was around the steps (before its night was recorded, between steps, closing the night).
   */
  interruptedStep(pid: number, date: string): string {
    if (!existsSync(this.dbFile)) return 'starting (no database yet)';
    const db = new Database(this.dbFile, { fileMustExist: true });
    try {
      db.pragma('busy_timeout = 10000');
      const rows = db
        .prepare('SELECT job, status FROM job_runs WHERE pid = ? AND business_date = ? ORDER BY id')
        .all(pid, date) as Array<{ job: string; status: string }>;
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
    } finally {
      db.close();
    }
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

function walk(root: string, dir: string, out: Map<string, string>, temporary: string[]): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(root, p, out, temporary);
    else if (TEMPORARY_NAME.test(e.name)) temporary.push(relative(root, p));
    else if (!/^redeye\.sqlite(-wal|-shm|-journal)?$/.test(e.name))
      out.set(relative(root, p), createHash('sha256').update(readFileSync(p)).digest('hex'));
  }
}

/** Everything a world holds, in terms two worlds can be compared by. */
export function snapshot(world: World): Snapshot {
  const db = new Database(world.dbFile, { fileMustExist: true, readonly: true });
  try {
    const all = (sql: string) => db.prepare(sql).all() as Row[];
    const map = (sql: string) => {
      const m = new Map<number, string>();
      for (const r of all(sql)) m.set(Number(r.id), String(r.k));
      return m;
    };
    const files = map(
      "SELECT id, direction || '/' || feed || '/' || name || '#' || substr(sha256, 1, 16) AS k FROM files",
    );
    const members = map('SELECT id, number AS k FROM members');
    const pools = map('SELECT id, code AS k FROM pools');
    const accounts = map('SELECT id, code AS k FROM accounts');
    const postings = map('SELECT id, idempotency_key AS k FROM postings');
    const lots = map(
      `SELECT l.id, p.idempotency_key || '@' || a.code || '@' || l.earned_on || '@' || COALESCE(l.expires_on, '-') AS k
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
    const names = (
      db
        .prepare(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'knex_%'",
        )
        .all() as Array<{ name: string }>
    ).map((r) => r.name);
    for (const table of names.sort()) {
      // Runs and locks are the history of the attempts, which differs by design; compared apart.
      if (table === 'job_runs' || table === 'job_locks') continue;
      const rows = all(`SELECT * FROM ${table}`).map((row) => {
        const out: Row = {};
        for (const [k, v] of Object.entries(row)) {
          if (k === 'id' && table !== 'sequences') continue;
          const ref = refs[k];
          if (ref && v !== null && v !== undefined) out[k] = ref.get(Number(v)) ?? `?${String(v)}`;
          // An export's identity names the file it answers by id: by its natural key instead.
          else if (k === 'export_key' && typeof v === 'string')
            out[k] = v.replace(/file=(\d+)/, (_, id: string) => `file=${files.get(Number(id)) ?? `?${id}`}`);
          // Paths name the world's own folder (local_path, remote_path of a local delivery).
          else if (typeof v === 'string' && v.includes(world.dir))
            out[k] = v.replaceAll(world.dir, '<world>');
          else out[k] = v;
        }
        return canonical(out);
      });
      tables.set(table, rows.sort());
    }
    const n = (sql: string) => Number((db.prepare(sql).get() as { n: number | null }).n ?? 0);
    const figures = {
      postings: n('SELECT COUNT(*) AS n FROM postings'),
      entries: n('SELECT COUNT(*) AS n FROM entries'),
      accounts: n('SELECT COUNT(*) AS n FROM accounts'),
      openLots: n('SELECT COUNT(*) AS n FROM lots WHERE remaining > 0'),
      activities: n('SELECT COUNT(*) AS n FROM activities'),
      files: n('SELECT COUNT(*) AS n FROM files'),
      rejects: n('SELECT COUNT(*) AS n FROM rejects'),
      memberPoints: n(
        "SELECT SUM(balance) AS n FROM accounts WHERE kind IN ('MEMBER_POINTS', 'POOL_POINTS')",
      ),
      locksHeld: n('SELECT COUNT(*) AS n FROM job_locks'),
    };
    const fileMap = new Map<string, string>();
    const temporary: string[] = [];
    walk(world.var, world.var, fileMap, temporary);
    return { tables, files: fileMap, temporary: temporary.sort(), figures };
  } finally {
    db.close();
  }
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
  return problems;
}
