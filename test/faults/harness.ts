/**
 * What the fault tests share: a small generated demo night (every feed but the partner airlines' results,
 * which need a night before them), worlds from the kill test's harness (the night run as
 * `node bin/redeye.js run nightly` in a child process, its clock pinned), a check that nothing is half
 * posted, and a TCP relay that stands for a server's address so the server can be "gone" (connection
 * refused) and come back on the same port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { openDb } from '../../db/connection.js';
import { checkLedger } from '../../ledger/check.js';
import { REPO, type World } from '../kill/harness.js';

export const MONTH = '2026-10';
export const NIGHT = '2026-10-01';
export const MEMBERS = 200;

export interface NightSummary {
  status: string;
  steps: Array<{ job: string; status: string; error?: { code: string; message: string } }>;
}

/** The `--json` summary of `redeye run`, from its standard output. */
export function summaryOf(stdout: string): NightSummary {
  const line = stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (!line) throw new Error(`no JSON summary in:\n${stdout}`);
  return JSON.parse(line) as NightSummary;
}

export function step(summary: NightSummary, job: string): NightSummary['steps'][number] {
  const s = summary.steps.find((x) => x.job === job);
  if (!s) throw new Error(`no step ${job} in the summary`);
  return s;
}

/**
 * Nothing half posted: the ledger's invariants hold, every posting an activity made is the one its
 * activity names (and the reverse), no activity claims a posting that does not exist, and no activity
 * comes from a file that was not read to its end (a file's records and its verdict commit together).
 */
export async function halfPosted(url: string): Promise<string[]> {
  const db = openDb(url);
  try {
    const knex = db.knex;
    const report = await checkLedger(knex);
    const problems = report.checks.flatMap((c) => c.violations.map((v) => `${c.name}: ${v}`));
    const rows = async (sql: string) => {
      const r = (await knex.raw(sql)) as unknown;
      return (Array.isArray(r) ? r : ((r as { rows: unknown[] }).rows ?? [])) as Array<
        Record<string, unknown>
      >;
    };
    for (const r of await rows(`
      SELECT p.idempotency_key AS k FROM postings p
       WHERE p.kind IN ('ACCRUAL', 'REDEMPTION')
         AND NOT EXISTS (SELECT 1 FROM activities a
                          WHERE a.posting_key = p.idempotency_key OR a.status_posting_key = p.idempotency_key)`))
      problems.push(`posting ${String(r.k)} has no activity outcome`);
    for (const r of await rows(`
      SELECT a.activity_key AS k, a.posting_key AS p FROM activities a
       WHERE (a.posting_key IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM postings p WHERE p.idempotency_key = a.posting_key))
          OR (a.status_posting_key IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM postings p WHERE p.idempotency_key = a.status_posting_key))`))
      problems.push(`activity ${String(r.k)} names posting ${String(r.p)}, which does not exist`);
    for (const r of await rows(`
      SELECT a.activity_key AS k FROM activities a
       WHERE a.status IN ('POSTED', 'PARTIAL') AND a.posting_key IS NULL AND a.status_posting_key IS NULL`))
      problems.push(`activity ${String(r.k)} is posted without a posting`);
    for (const r of await rows(`
      SELECT f.name AS name, COUNT(*) AS n FROM activities a JOIN files f ON f.id = a.source_file_id
       WHERE f.verdict = 'pending' GROUP BY f.name`))
      problems.push(`${String(r.n)} activities from ${String(r.name)}, which is still pending`);
    return problems;
  } finally {
    await db.close();
  }
}

/** Counts of a world's database, for assertions. */
export async function count(url: string, sql: string): Promise<number> {
  const db = openDb(url);
  try {
    const r = (await db.knex.raw(sql)) as unknown;
    const list = (Array.isArray(r) ? r : (r as { rows: unknown[] }).rows) as Array<Record<string, unknown>>;
    return Number(Object.values(list[0] ?? {})[0] ?? 0);
  } finally {
    await db.close();
  }
}

export function urlOf(world: World): string {
  return world.url;
}

/**
 * A TCP relay on a fixed loopback port in front of a server. `down()` stops listening and cuts every
 * relayed connection (the address then refuses connections, as a server that is gone); `up()` listens on
 * the same port again.
 */
export interface Relay {
  port: number;
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRelay(target: { host: string; port: number }): Promise<Relay> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((client) => {
        const upstream = connect(target.port, target.host);
        sockets.add(client);
        sockets.add(upstream);
        const end = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', end).on('close', end);
        upstream.on('error', end).on('close', end);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as { port: number }).port;
        server = s;
        resolve();
      });
    });
  const down = async () => {
    const s = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen();
  return {
    get port() {
      return port;
    },
    down,
    up: listen,
    stop: down,
  };
}

/**
 * Another process that takes SQLite's write lock (BEGIN IMMEDIATE, waiting for a transaction in progress
 * to end) when told to, and holds it until released.
 */
export interface Locker {
  ready: Promise<void>;
  /** Takes the lock; resolves once it is held. */
  lock(): Promise<void>;
  release(): Promise<void>;
}

export function locker(file: string): Locker {
  const script = `
    const Database = require('better-sqlite3');
    const db = new Database(process.argv[1], { fileMustExist: true });
    db.pragma('busy_timeout = 60000');
    process.stdout.write('ready\\n');
    process.stdin.on('data', () => { db.exec('BEGIN IMMEDIATE'); process.stdout.write('locked\\n'); });
    process.stdin.on('end', () => { if (db.inTransaction) db.exec('ROLLBACK'); db.close(); process.exit(0); });`;
  const child: ChildProcess = spawn(process.execPath, ['-e', script, file], {
    cwd: REPO,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const said = (word: string) =>
    new Promise<void>((resolve, reject) => {
      const onData = (b: Buffer) => {
        if (!b.toString().includes(word)) return;
        child.stdout!.off('data', onData);
        resolve();
      };
      child.stdout!.on('data', onData);
      child.once('exit', (code) => reject(new Error(`the locker exited (${code}) before it said ${word}`)));
    });
  const ready = said('ready');
  return {
    ready,
    lock: async () => {
      const locked = said('locked');
      child.stdin!.write('lock\n');
      await locked;
    },
    release: async () => {
      child.stdin!.end();
      await exited;
    },
  };
}
