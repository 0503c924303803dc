/**
 * Run locks: two runs of the same job and date never overlap. On SQLite the lock is a row in
 * `job_locks` (one machine: a holder whose process is gone is taken over); on PostgreSQL it is a
 * session advisory lock, which the server releases by itself when the holder's connection dies, so
 * several schedulers on several machines can share one database.
 */
import { hostname } from 'node:os';
import { createHash } from 'node:crypto';
import { pgConnection, releasePgConnection, type Db } from '../db/connection.js';
import { RedeyeError } from '../lib/errors.js';

export class LockedError extends RedeyeError {
  constructor(name: string, holder: string) {
    super('JOB_LOCKED', `${name} is already running (${holder}); not starting a second run`, {
      lock: name,
      holder,
    });
  }
}

export interface RunLock {
  name: string;
  release(): Promise<void>;
}

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

export async function acquireLock(db: Db, name: string, now: () => Date): Promise<RunLock> {
  const holder = `${hostname()} pid ${process.pid}`;
  if (db.dialect === 'postgres') {
    const client = await pgConnection(db.knex);
    const key = advisoryKey(name).toString();
    const { rows } = await client.query('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key]);
    if (!rows[0]?.ok) {
      await releasePgConnection(db.knex, client);
      throw new LockedError(name, 'another session holds its advisory lock');
    }
    return {
      name,
      release: async () => {
        try {
          await client.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
        } finally {
          await releasePgConnection(db.knex, client);
        }
      },
    };
  }
  const stamp = now().toISOString();
  await db.transaction(async (trx) => {
    const current = await trx('job_locks').where({ name }).first();
    if (current) {
      const sameHost = String(current.holder).startsWith(`${hostname()} `);
      if (!sameHost || processAlive(Number(current.pid)))
        throw new LockedError(name, `${current.holder} since ${current.acquired_at}`);
      // The holder died (killed mid-run): its lock is stale and the rerun takes it over.
      await trx('job_locks').where({ name }).delete();
    }
    await trx('job_locks').insert({
      name,
      holder,
      pid: process.pid,
      acquired_at: stamp,
      heartbeat_at: stamp,
    });
  });
  return {
    name,
    release: async () => {
      await db.knex('job_locks').where({ name, pid: process.pid }).delete();
    },
  };
}
