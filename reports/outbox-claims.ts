/**
 * Claims on report mails: a sender marks a mail `sending` under its own name (host and process id) and
 * the time before it talks to the SMTP server, so that two senders never send one mail at once, and a
 * claim left behind by a sender that died mid-send (killed, the machine gone) is recognised and taken
 * back by the next sender at once — not an hour later, with the night's rerun reporting success while the
 * report sits unsent.
 *
 * A claim is the claimant's for as long as the claimant can be shown to live:
 * - on PostgreSQL the claimant holds a session advisory lock on the mail while it sends; the server drops
 *   it with the session, so a claim whose lock is free is a dead sender's, on any machine;
 * - on SQLite (one machine) a claim of this host whose process is gone is a dead sender's;
 * - a claim whose claimant cannot be checked (another host on SQLite, a process id reused, a claim made
 *   before migration 018) is taken to be a dead sender's once it is older than the stale age (an hour).
 *
 * A claim taken back is sent again under the same Message-ID. If the dead sender had got as far as the
 * server's acceptance but not as far as recording it, the recipients get the report twice (a
 * deduplicating server or archive drops the copy); a lost report is the worse outcome.
 */
import { hostname } from 'node:os';
import type { PoolClient } from 'pg';
import { pgConnection, releasePgConnection, type Db } from '../db/connection.js';
import { advisoryKey, processAlive } from '../jobs/lock.js';
import type { IsoDate } from '../lib/dates.js';
import { dateTextSql, sqlRows } from './common.js';

/** A mail another sender holds, or held. */
export interface MailClaim {
  id: number;
  report: string;
  businessDate: IsoDate;
  /** `host pid N`, or null for a claim made before claimants were recorded. */
  claimant: string | null;
  claimedAt: string | null;
}

/** A mail a live sender has claimed, as the night's warnings and the log name it. */
export function describeHeldClaim(c: MailClaim): string {
  return (
    `report mail ${c.report} for ${c.businessDate} is being sent by ${c.claimant ?? 'another sender'} ` +
    `(since ${c.claimedAt ?? 'an unknown time'}); left to it`
  );
}

export interface ClaimScope {
  report: string;
  businessDate: IsoDate;
}

export interface MailClaims {
  /** Claims a pending mail for this process; false when another sender took it first. */
  claim(id: number, at: Date): Promise<boolean>;
  /** Ends this process's claim once the mail's row says what became of it. */
  release(id: number): Promise<void>;
  /**
   * Puts back in the queue the mails claimed by senders that are gone; returns those taken back and
   * those still held by a live sender.
   */
  reclaim(
    scope: ClaimScope | undefined,
    staleBefore: Date,
  ): Promise<{ taken: MailClaim[]; held: MailClaim[] }>;
  close(): Promise<void>;
}

const mailKey = (id: number) => advisoryKey(`mail:${id}`).toString();

export async function openMailClaims(db: Db): Promise<MailClaims> {
  const host = hostname();
  const knex = db.knex;
  const conn: PoolClient | undefined = db.dialect === 'postgres' ? await pgConnection(knex) : undefined;
  const tryLock = async (id: number) =>
    conn
      ? Boolean(
          (await conn.query('SELECT pg_try_advisory_lock($1::bigint) AS ok', [mailKey(id)])).rows[0]?.ok,
        )
      : true;
  const unlock = async (id: number) => {
    if (conn) await conn.query('SELECT pg_advisory_unlock($1::bigint)', [mailKey(id)]);
  };

  return {
    async claim(id, at) {
      // The lock comes first: a row seen `sending` always has a claimant holding it, or none alive.
      if (!(await tryLock(id))) return false;
      const claimed = await knex('mail_outbox')
        .where({ id, status: 'pending' })
        .update({
          status: 'sending',
          claim_host: host,
          claim_pid: process.pid,
          claimed_at: at.toISOString(),
          attempts: knex.raw('attempts + 1'),
        });
      if (claimed === 1) return true;
      await unlock(id);
      return false;
    },
    release: unlock,
    async reclaim(scope, staleBefore) {
      const rows = await sqlRows<{
        id: unknown;
        report: string;
        business_date: string;
        attempts: unknown;
        claim_host: string | null;
        claim_pid: unknown;
        claimed_at: string | null;
      }>(
        knex,
        `SELECT id, report, ${dateTextSql(db, 'business_date')} AS business_date, attempts, claim_host, claim_pid,
                claimed_at
           FROM mail_outbox WHERE status = 'sending'${scope ? ' AND report = ? AND business_date = ?' : ''}
          ORDER BY id`,
        scope ? [scope.report, scope.businessDate] : [],
      );
      const taken: MailClaim[] = [];
      const held: MailClaim[] = [];
      for (const row of rows) {
        const id = Number(row.id);
        const pid = row.claim_pid === null ? null : Number(row.claim_pid);
        const claim: MailClaim = {
          id,
          report: row.report,
          businessDate: row.business_date,
          claimant: row.claim_host === null ? null : `${row.claim_host} pid ${pid}`,
          claimedAt: row.claimed_at === null ? null : new Date(row.claimed_at).toISOString(),
        };
        let locked = false;
        let gone: boolean;
        if (conn) {
          locked = await tryLock(id);
          gone = locked;
        } else if (row.claim_host === host && pid !== null && pid !== process.pid) {
          gone = !processAlive(pid);
        } else gone = false;
        if (!gone && !locked && !conn)
          gone = claim.claimedAt === null || new Date(claim.claimedAt).getTime() < staleBefore.getTime();
        try {
          // Compare-and-set on the attempt count: a claim made since the read is someone else's, and stays.
          const back =
            gone &&
            (await knex('mail_outbox')
              .where({ id, status: 'sending', attempts: Number(row.attempts) })
              .update({ status: 'pending', claim_host: null, claim_pid: null })) === 1;
          (back ? taken : held).push(claim);
        } finally {
          if (locked) await unlock(id);
        }
      }
      return { taken, held };
    },
    async close() {
      if (!conn) return;
      try {
        await conn.query('SELECT pg_advisory_unlock_all()');
      } finally {
        await releasePgConnection(knex, conn);
      }
    },
  };
}
