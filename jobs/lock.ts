/**
 * The run lock: no two runs overlap, whatever their job and date. Every job writes the same ledger,
 * file registry, outboxes or landing area, and two nights of different dates (or a night and one of its
 * steps) at once collided on the same idempotency keys and files. On SQLite the lock is a row in
 * `job_locks` (one machine: a holder whose process is gone is taken over); on PostgreSQL it is a session
 * advisory lock, which the server releases by itself when the holder's connection dies, so several
 * schedulers on several machines can share one database. Either way the row names the run that holds
 * it, so a refused run says which run is in its way and since when.
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

/** The run holding the lock, as its row records it. */
export interface LockHolder extends LockedRun {
  /** `<host> pid <pid>` */
  holder: string;
  since: string;
}

/** The run in the way, as a refusal or a wait names it. */
export function describeHolder(h: LockHolder | undefined): string {
  if (!h) return 'another run holds the run lock (its PostgreSQL advisory lock), not yet recorded';
  return `${h.job} for ${h.businessDate} is running (${h.holder}, since ${h.since})`;
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

export interface RunLock {
  name: string;
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

function holderOf(row: Record<string, unknown> | undefined): LockHolder | undefined {
  if (!row) return undefined;
  return {
    // A row left by a version before migration 017 names its run only in `name` (`<job>:<date>`).
    job: String(row.job ?? row.name),
    businessDate: String(row.business_date ?? '?'),
    holder: String(row.holder),
    since: String(row.acquired_at),
  };
}

/**
 * Takes the run lock for `run`, or throws LockedError naming the run that holds it. The row records the
 * wall-clock time it was taken, even when the business clock is pinned (REDEYE_NOW, the demo).
 */
export async function acquireRunLock(db: Db, run: LockedRun): Promise<RunLock> {
  const name = RUN_LOCK;
  const stamp = new Date().toISOString();
  const row = {
    name,
    holder: `${hostname()} pid ${process.pid}`,
    pid: process.pid,
    job: run.job,
    business_date: run.businessDate,
    acquired_at: stamp,
    heartbeat_at: stamp,
  };
  if (db.dialect === 'postgres') {
    const client = await pgConnection(db.knex);
    const key = advisoryKey(name).toString();
    try {
      const { rows } = await client.query('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key]);
      if (!rows[0]?.ok) {
        // The holder writes its row just after taking the lock: one that has not yet is named as such.
        const current = (await db.knex('job_locks').where({ name }).first()) as
          Record<string, unknown> | undefined;
        throw new LockedError(run, holderOf(current));
      }
    } catch (e) {
      await releasePgConnection(db.knex, client);
      throw e;
    }
    const release = async () => {
      try {
        await client.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
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
    return {
      name,
      release: async () => {
        try {
          await db.knex('job_locks').where({ name, holder: row.holder }).delete();
        } finally {
          await release();
        }
      },
    };
  }
  // This very process is alive: a row of its own is held only while it holds the lock (a run of the
  // daemon's), and is stale once that run has ended without removing it (a failed release).
  const held = (current: Record<string, unknown> | undefined): current is Record<string, unknown> =>
    current !== undefined &&
    (!String(current.holder).startsWith(`${hostname()} `) ||
      (Number(current.pid) === process.pid
        ? heldHere.has(`${name} ${String(current.acquired_at)}`)
        : processAlive(Number(current.pid))));
  // Read first, outside a write transaction: the run that holds the lock may be in the middle of one,
  // and a refusal is due at once, not after the busy timeout that BEGIN IMMEDIATE would wait.
  const seen = (await db.knex('job_locks').where({ name }).first()) as Record<string, unknown> | undefined;
  if (held(seen)) throw new LockedError(run, holderOf(seen));
  await db.transaction(async (trx) => {
    const current = (await trx('job_locks').where({ name }).first()) as Record<string, unknown> | undefined;
    if (held(current)) throw new LockedError(run, holderOf(current));
    // The holder died (killed mid-run): its lock is stale and the rerun takes it over.
    if (current) await trx('job_locks').where({ name }).delete();
    await trx('job_locks').insert(row);
  });
  heldHere.add(`${name} ${stamp}`);
  return {
    name,
    release: async () => {
      heldHere.delete(`${name} ${stamp}`);
      await db.knex('job_locks').where({ name, pid: process.pid }).delete();
    },
  };
}
