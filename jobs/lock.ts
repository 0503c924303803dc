/**
 * The run lock: no two runs overlap, whatever their job and date. Every job writes the same ledger,
 * file registry, outboxes or landing area, and two nights of different dates (or a night and one of its
 * steps) at once collided on the same idempotency keys and files. On SQLite the lock is a row in
 * `job_locks` (one machine: a holder whose process is gone is taken over); on PostgreSQL it is a session
 * advisory lock, which the server releases by itself when the holder's connection dies, so several
 * schedulers on several machines can share one database. Either way the row names the run that holds
 * it, so a refused run says which run is in its way and since when.
 *
 * While a run holds the lock it writes the row's heartbeat every minute. On SQLite a holder whose process
 * cannot be checked — one on another machine (a container recreated on the same volume has a new host
 * name), or a live process of this one that may be another that reused the dead run's id — is taken to be
 * gone once its heartbeat is ten minutes old, and its lock taken over: without that, such a row refused
 * every later night for good. Ten missed heartbeats, not two: a run's event loop may be held for a while
 * by one long synchronous statement, and taking over a live run's lock lets two runs overlap.
 */
import { hostname } from 'node:os';
import { createHash } from 'node:crypto';
import { pgConnection, releasePgConnection, type Db } from '../db/connection.js';
import { RedeyeError } from '../lib/errors.js';

/** The one lock every run takes (the `name` of its `job_locks` row, the seed of its advisory key). */
export const RUN_LOCK = 'run';

/** A run, as the lock names it. */
export interface LockedRun {
  job: string;
  businessDate: string;
}

/** How often a run that holds the lock writes its heartbeat. */
const HEARTBEAT_MS = 60_000;

/** A holder whose heartbeat is older than this is gone (SQLite; see above). */
const STALE_AFTER_MS = 10 * 60_000;

/** The run holding the lock, as its row records it. */
export interface LockHolder extends LockedRun {
  /** `<host> pid <pid>` */
  holder: string;
  since: string;
  /** When it last wrote its heartbeat. */
  heartbeat?: string;
  /**
   * Set when its row alone cannot show the holder alive (SQLite: another machine, or a live process id
   * that may have been reused; PostgreSQL: a session whose heartbeat has stopped): why, how long since
   * it was heard from, and what becomes of it.
   */
  unchecked?: { why: string; heardSecondsAgo: number; takenOverAt?: string; session?: number };
}

/** The run in the way, as a refusal or a wait names it. */
export function describeHolder(h: LockHolder | undefined): string {
  if (!h) return 'another run holds the run lock (its PostgreSQL advisory lock), not yet recorded';
  const u = h.unchecked;
  if (!u) return `${h.job} for ${h.businessDate} is running (${h.holder}, since ${h.since})`;
  const holds =
    `${h.job} for ${h.businessDate} holds the run lock (${h.holder}, since ${h.since}; ${u.why}), ` +
    `last heard from ${u.heardSecondsAgo} s ago`;
  if (u.takenOverAt)
    return `${holds}; if not heard from again, it is taken to be gone and its lock taken over at ${u.takenOverAt}`;
  // Gone from pg_locks between the refusal and the look: there is no session left to end.
  if (u.session === undefined)
    return `${holds}; its PostgreSQL session no longer shows in pg_locks (it may just have ended): run again`;
  return (
    `${holds}; its PostgreSQL session (backend pid ${u.session}) still holds the advisory ` +
    'lock, which the server frees when that session ends: once its machine is known to be gone, end it with ' +
    `SELECT pg_terminate_backend(${u.session})`
  );
}

export class LockedError extends RedeyeError {
  /** The run in the way, when its row could be read. */
  readonly heldBy: LockHolder | undefined;

  constructor(run: LockedRun, heldBy: LockHolder | undefined) {
    super(
      'JOB_LOCKED',
      `${run.job} for ${run.businessDate} not started: ${describeHolder(heldBy)}; runs never overlap, ` +
        'run it again once that one has ended',
      { job: run.job, businessDate: run.businessDate, ...(heldBy ? { heldBy } : {}) },
    );
    this.heldBy = heldBy;
  }
}

export interface RunLockOptions {
  /** The wall clock (tests pin it); never REDEYE_NOW, which pins the business clock only. */
  now?: () => Date;
  heartbeatMs?: number;
  staleAfterMs?: number;
  /**
   * Told of a heartbeat that could not be written (the run goes on: a heartbeat late by a few minutes
   * costs nothing), or that found the lock taken over from this run.
   */
  onHeartbeatProblem?: (message: string, error?: unknown) => void;
}

export interface RunLock {
  name: string;
  /** The holder whose lock this run took over, and why it was taken to be gone. */
  tookOver?: { from: LockHolder; reason: string };
  release(): Promise<void>;
}

/** The SQLite run locks this process holds now, by name and time taken: taken, and not yet released. */
const heldHere = new Set<string>();

/** Whether a process of this machine is alive (one we may not signal is). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A 63-bit key for pg_advisory_lock from the lock's name. */
export function advisoryKey(name: string): bigint {
  const digest = createHash('sha256').update(`redeye:${name}`).digest();
  return digest.readBigInt64BE(0);
}

function holderOf(
  row: Record<string, unknown> | undefined,
  unchecked?: LockHolder['unchecked'],
): LockHolder | undefined {
  if (!row) return undefined;
  return {
    // A row left by a version before migration 017 names its run only in `name` (`<job>:<date>`).
    job: String(row.job ?? row.name),
    businessDate: String(row.business_date ?? '?'),
    holder: String(row.holder),
    since: String(row.acquired_at),
    heartbeat: String(row.heartbeat_at),
    ...(unchecked ? { unchecked } : {}),
  };
}

/** Milliseconds since the row's heartbeat; a clock of another machine ahead of ours counts as none. */
function heartbeatAge(row: Record<string, unknown>, now: Date): number {
  return Math.max(0, now.getTime() - new Date(String(row.heartbeat_at)).getTime());
}

/**
 * Writes the heartbeat of the row `where` names every `options.heartbeatMs` until stopped; a run whose row is gone (taken
 * over as stale) is told so once, and writes no more.
 */
function startHeartbeat(
  db: Db,
  where: Record<string, unknown>,
  options: RunLockOptions,
): () => Promise<void> {
  const now = options.now ?? (() => new Date());
  const tell = options.onHeartbeatProblem ?? (() => undefined);
  let inFlight: Promise<void> | undefined;
  const beat = async () => {
    try {
      const n = await db.knex('job_locks').where(where).update({ heartbeat_at: now().toISOString() });
      if (n === 0) {
        clearInterval(timer);
        tell(
          `the run lock (${String(where.holder)}, since ${String(where.acquired_at)}) was taken over by another ` +
            'run that found its heartbeat stale: runs may now overlap',
        );
      }
    } catch (e) {
      tell('the run lock heartbeat could not be written; the run goes on and tries again', e);
    }
  };
  const timer = setInterval(() => {
    inFlight ??= beat().finally(() => (inFlight = undefined));
  }, options.heartbeatMs ?? HEARTBEAT_MS);
  // A process whose run has ended is not kept alive by its heartbeat.
  timer.unref();
  return async () => {
    clearInterval(timer);
    await inFlight;
  };
}

/**
 * The advisory lock's holder on PostgreSQL: the backend pid of the session that holds `key`. A 64-bit
 * advisory key shows in pg_locks as its high half in classid and its low half in objid, objsubid 1.
 */
async function advisoryHolder(db: Db, key: bigint): Promise<number | undefined> {
  const unsigned = BigInt.asUintN(64, key);
  const { rows } = (await db.knex.raw(
    `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = ? AND objid = ? AND objsubid = 1`,
    [(unsigned >> 32n).toString(), (unsigned & 0xffffffffn).toString()],
  )) as { rows: Array<{ pid: unknown }> };
  return rows[0] ? Number(rows[0].pid) : undefined;
}

/**
 * Takes the run lock for `run`, or throws LockedError naming the run that holds it. The row records the
 * wall-clock time it was taken, even when the business clock is pinned (REDEYE_NOW, the demo), and its
 * heartbeat is written on that clock until the lock is released.
 */
export async function acquireRunLock(db: Db, run: LockedRun, options: RunLockOptions = {}): Promise<RunLock> {
  const name = RUN_LOCK;
  const now = options.now ?? (() => new Date());
  const staleAfter = options.staleAfterMs ?? STALE_AFTER_MS;
  const staleMinutes = Math.round(staleAfter / 60_000);
  const stamp = now().toISOString();
  const row = {
    name,
    holder: `${hostname()} pid ${process.pid}`,
    pid: process.pid,
    job: run.job,
    business_date: run.businessDate,
    acquired_at: stamp,
    heartbeat_at: stamp,
  };
  // acquired_at tells this run's row from a later one of the same process (a daemon's next run).
  const mine = { name, holder: row.holder, acquired_at: stamp };
  if (db.dialect === 'postgres') {
    const client = await pgConnection(db.knex);
    const key = advisoryKey(name);
    try {
      const { rows } = await client.query('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key.toString()]);
      if (!rows[0]?.ok) {
        // The holder writes its row just after taking the lock: one that has not yet is named as such.
        const current = (await db.knex('job_locks').where({ name }).first()) as
          Record<string, unknown> | undefined;
        // The server, not the row, decides who holds an advisory lock: a live session keeps it. One whose
        // heartbeat has stopped may be a machine gone without closing its connection, which the server
        // notices only when TCP keepalive gives up (hours by default): the refusal says how to end it.
        const age = current ? heartbeatAge(current, now()) : 0;
        const unchecked =
          current && age > staleAfter
            ? {
                why: `its heartbeat stopped over ${staleMinutes} min ago`,
                heardSecondsAgo: Math.round(age / 1000),
                session: await advisoryHolder(db, key),
              }
            : undefined;
        throw new LockedError(run, holderOf(current, unchecked));
      }
    } catch (e) {
      await releasePgConnection(db.knex, client);
      throw e;
    }
    const release = async () => {
      try {
        await client.query('SELECT pg_advisory_unlock($1::bigint)', [key.toString()]);
      } catch (e) {
        // The session keeps its advisory lock until it ends: ended, it frees the lock, where handed back
        // to the pool it would lock every later run of a long-lived daemon out.
        (client as unknown as { __knex__disposed?: unknown }).__knex__disposed = e;
        await client.end().catch(() => undefined);
        throw e;
      } finally {
        await releasePgConnection(db.knex, client);
      }
    };
    try {
      // Whoever held the lock before is gone (the server released it with its session): its row is stale.
      await db.transaction(async (trx) => {
        await trx('job_locks').where({ name }).delete();
        await trx('job_locks').insert(row);
      });
    } catch (e) {
      await release();
      throw e;
    }
    const stopHeartbeat = startHeartbeat(db, mine, options);
    return {
      name,
      release: async () => {
        try {
          await stopHeartbeat();
          await db.knex('job_locks').where(mine).delete();
        } finally {
          await release();
        }
      },
    };
  }
  // Whether the row's holder still holds the lock, or why it is taken to be gone.
  const judge = (current: Record<string, unknown> | undefined): { held: LockHolder } | { gone?: string } => {
    if (!current) return {};
    const pid = Number(current.pid);
    const here = String(current.holder).startsWith(`${hostname()} `);
    // This very process is alive: a row of its own is held only while it holds the lock (a run of the
    // daemon's), and is stale once that run has ended without removing it (a failed release).
    if (here && pid === process.pid)
      return heldHere.has(`${name} ${String(current.acquired_at)}`)
        ? { held: holderOf(current)! }
        : { gone: 'a row of this process, whose run had ended without removing it' };
    if (here && !processAlive(pid)) return { gone: `its process ${pid} has ended` };
    const why = here
      ? `process ${pid} of this machine is alive, but may be another that reused the id`
      : 'on another machine, which this one cannot check';
    const age = heartbeatAge(current, now());
    if (age > staleAfter)
      return {
        gone:
          `${why}, and it has not been heard from since ${String(current.heartbeat_at)}, over ` +
          `${staleMinutes} min before`,
      };
    return {
      held: holderOf(current, {
        why,
        heardSecondsAgo: Math.round(age / 1000),
        takenOverAt: new Date(new Date(String(current.heartbeat_at)).getTime() + staleAfter).toISOString(),
      })!,
    };
  };
  // Read first, outside a write transaction: the run that holds the lock may be in the middle of one,
  // and a refusal is due at once, not after the busy timeout that BEGIN IMMEDIATE would wait.
  const seen = (await db.knex('job_locks').where({ name }).first()) as Record<string, unknown> | undefined;
  const first = judge(seen);
  if ('held' in first) throw new LockedError(run, first.held);
  let tookOver: RunLock['tookOver'];
  await db.transaction(async (trx) => {
    const current = (await trx('job_locks').where({ name }).first()) as Record<string, unknown> | undefined;
    const verdict = judge(current);
    if ('held' in verdict) throw new LockedError(run, verdict.held);
    // The holder is gone (killed mid-run, its machine replaced): its lock is stale and this run takes it.
    if (current) {
      tookOver = { from: holderOf(current)!, reason: verdict.gone ?? 'gone' };
      await trx('job_locks').where({ name }).delete();
    }
    await trx('job_locks').insert(row);
  });
  heldHere.add(`${name} ${stamp}`);
  const stopHeartbeat = startHeartbeat(db, mine, options);
  return {
    name,
    ...(tookOver ? { tookOver } : {}),
    release: async () => {
      heldHere.delete(`${name} ${stamp}`);
      await stopHeartbeat();
      await db.knex('job_locks').where(mine).delete();
    },
  };
}
