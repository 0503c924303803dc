/**
 * The run lock's heartbeat: a holder that cannot be checked from here (another machine, a process id
 * that may have been reused) holds the lock only while it is heard from, so a killed run's row cannot
 * refuse every later night for good; one still heard from is refused with how long ago and until when.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { hostname } from 'node:os';
import { openDb, type Db } from '../db/connection.js';
import { availableEngines, createTestDatabase, type TestDb } from '../test/harness/db.js';
import { acquireRunLock, LockedError, type RunLock } from './lock.js';

const T = Date.parse('2026-10-02T01:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const MIN = 60_000;

/** The row a run killed with SIGKILL during the night of 2026-10-01 left behind. */
const leftBy = (holder: string, pid: number, heartbeat: number) => ({
  name: 'run',
  holder: `${holder} pid ${pid}`,
  pid,
  job: 'nightly',
  business_date: '2026-10-01',
  acquired_at: iso(T - 60 * MIN),
  heartbeat_at: iso(heartbeat),
});

async function lockRows(db: Db) {
  return (await db.knex('job_locks').select('holder', 'job', 'heartbeat_at')) as Array<{
    holder: string;
    job: string;
    heartbeat_at: string;
  }>;
}

for (const engine of availableEngines()) {
  describe(`the run lock's heartbeat (${engine})`, () => {
    let t: TestDb;
    const held: RunLock[] = [];
    beforeEach(async () => {
      t = await createTestDatabase(engine);
    });
    afterEach(async () => {
      for (const lock of held.splice(0)) await lock.release().catch(() => undefined);
      await t.cleanup();
    });

    it('is written while a run holds the lock, and stops with its release', async () => {
      let clock = T;
      const lock = await acquireRunLock(
        t.db,
        { job: 'nightly', businessDate: '2026-10-01' },
        { now: () => new Date(clock), heartbeatMs: 5 },
      );
      held.push(lock);
      expect((await lockRows(t.db))[0]!.heartbeat_at).toBe(iso(T));
      clock = T + 3 * MIN;
      await vi.waitFor(async () => expect((await lockRows(t.db))[0]!.heartbeat_at).toBe(iso(T + 3 * MIN)));
      clock = T + 7 * MIN;
      await vi.waitFor(async () => expect((await lockRows(t.db))[0]!.heartbeat_at).toBe(iso(T + 7 * MIN)));
      await lock.release();
      held.length = 0;
      expect(await lockRows(t.db)).toEqual([]);
    });

    it('tells a run whose lock was taken over, and its release leaves the new holder its lock', async () => {
      const problems: string[] = [];
      const lock = await acquireRunLock(
        t.db,
        { job: 'nightly', businessDate: '2026-10-01' },
        { heartbeatMs: 5, onHeartbeatProblem: (message) => problems.push(message) },
      );
      held.push(lock);
      // Another run found this one's heartbeat stale (the process was stopped for longer than the bound).
      await t.db.knex('job_locks').delete();
      await t.db.knex('job_locks').insert(leftBy('new-container', 7, Date.now()));
      await vi.waitFor(() => expect(problems).toHaveLength(1));
      expect(problems[0]).toMatch(/^the run lock \(.* pid \d+, since .*\) was taken over by another run/);
      await lock.release();
      held.length = 0;
      expect((await lockRows(t.db)).map((r) => r.holder)).toEqual(['new-container pid 7']);
    });
  });

  describe.skipIf(engine !== 'sqlite')(`a lock row whose holder cannot be checked (${engine})`, () => {
    let t: TestDb;
    const held: RunLock[] = [];
    beforeEach(async () => {
      t = await createTestDatabase(engine);
    });
    afterEach(async () => {
      for (const lock of held.splice(0)) await lock.release();
      await t.cleanup();
    });
    const now = () => new Date(T);
    const next = { job: 'nightly', businessDate: '2026-10-02' };

    it('of another machine, not heard from for over ten minutes, is taken over, saying whose and why', async () => {
      // The container was recreated on the same volume: a new host name, the old one's row left.
      await t.db.knex('job_locks').insert(leftBy('3f2a9c1b7e44', 15292, T - 11 * MIN));
      const lock = await acquireRunLock(t.db, next, { now });
      held.push(lock);
      expect(lock.tookOver).toEqual({
        from: {
          job: 'nightly',
          businessDate: '2026-10-01',
          holder: '3f2a9c1b7e44 pid 15292',
          since: iso(T - 60 * MIN),
          heartbeat: iso(T - 11 * MIN),
        },
        reason:
          'on another machine, which this one cannot check, and it has not been heard from since ' +
          '2026-10-02T00:49:00.000Z, over 10 min before',
      });
      expect(await lockRows(t.db)).toEqual([
        { holder: `${hostname()} pid ${process.pid}`, job: 'nightly', heartbeat_at: iso(T) },
      ]);
    });

    it('of another machine, heard from lately, is refused saying when it was heard from and when it is taken over', async () => {
      await t.db.knex('job_locks').insert(leftBy('3f2a9c1b7e44', 15292, T - 40_000));
      const refused = acquireRunLock(t.db, next, { now });
      await expect(refused).rejects.toBeInstanceOf(LockedError);
      await expect(refused).rejects.toMatchObject({
        code: 'JOB_LOCKED',
        message:
          'nightly for 2026-10-02 not started: nightly for 2026-10-01 holds the run lock (3f2a9c1b7e44 pid ' +
          '15292, since 2026-10-02T00:00:00.000Z; on another machine, which this one cannot check), last ' +
          'heard from 40 s ago; if not heard from again, it is taken to be gone and its lock taken over at ' +
          '2026-10-02T01:09:20.000Z; runs never overlap, run it again once that one has ended',
      });
      expect((await lockRows(t.db)).map((r) => r.holder)).toEqual(['3f2a9c1b7e44 pid 15292']);
      // Ten minutes after its last heartbeat, and not before, it is gone.
      await expect(
        acquireRunLock(t.db, next, { now: () => new Date(T - 40_000 + 10 * MIN) }),
      ).rejects.toBeInstanceOf(LockedError);
      const lock = await acquireRunLock(t.db, next, { now: () => new Date(T - 40_000 + 10 * MIN + 1) });
      held.push(lock);
      expect(lock.tookOver?.from.holder).toBe('3f2a9c1b7e44 pid 15292');
    });

    it('of this machine whose process id a live process now has is taken over once its heartbeat is stale', async () => {
      // The dead run's pid reused: the parent of this test process certainly lives.
      const reused = process.ppid;
      await t.db.knex('job_locks').insert(leftBy(hostname(), reused, T - 5 * MIN));
      await expect(acquireRunLock(t.db, next, { now })).rejects.toMatchObject({
        message: expect.stringContaining(
          `(${hostname()} pid ${reused}, since 2026-10-02T00:00:00.000Z; process ${reused} of this machine ` +
            'is alive, but may be another that reused the id), last heard from 300 s ago; if not heard ' +
            'from again, it is taken to be gone and its lock taken over at 2026-10-02T01:05:00.000Z',
        ),
      });
      const lock = await acquireRunLock(t.db, next, { now: () => new Date(T + 6 * MIN) });
      held.push(lock);
      expect(lock.tookOver?.reason).toBe(
        `process ${reused} of this machine is alive, but may be another that reused the id, and it has ` +
          'not been heard from since 2026-10-02T00:55:00.000Z, over 10 min before',
      );
    });
  });

  describe.skipIf(engine !== 'postgres')(`the advisory lock of a session not heard from (${engine})`, () => {
    let t: TestDb;
    beforeEach(async () => {
      t = await createTestDatabase(engine);
    });
    afterEach(async () => {
      await t.cleanup();
    });

    it('is refused naming the session to end, and is taken once that session has ended', async () => {
      // Another machine's run, whose connection the server still thinks open after the machine vanished.
      const other = openDb(t.url);
      let lock: Awaited<ReturnType<typeof acquireRunLock>> | undefined;
      try {
        lock = await acquireRunLock(other, { job: 'nightly', businessDate: '2026-10-01' });
        await t.db.knex('job_locks').update({ heartbeat_at: iso(Date.now() - 11 * MIN) });
        const refused = (await acquireRunLock(t.db, {
          job: 'nightly',
          businessDate: '2026-10-02',
        }).catch((e: unknown) => e)) as LockedError;
        expect(refused).toBeInstanceOf(LockedError);
        const session = refused.heldBy?.unchecked?.session;
        expect(session).toEqual(expect.any(Number));
        // Eleven minutes ago, and the seconds the refusal took on a busy machine.
        expect(refused.message).toMatch(
          /its heartbeat stopped over 10 min ago\), last heard from 66\d s ago; /,
        );
        expect(refused.message).toContain(
          `s ago; its PostgreSQL session ` +
            `(backend pid ${session}) still holds the advisory lock, which the server frees when that ` +
            `session ends: once its machine is known to be gone, end it with SELECT ` +
            `pg_terminate_backend(${session})`,
        );
        // The advice works: ended, that session frees the lock.
        await t.db.knex.raw('SELECT pg_terminate_backend(?)', [session!]);
        // The server frees it as the ended backend exits: a moment, longer on a busy machine.
        const taken = await vi.waitFor(
          () => acquireRunLock(t.db, { job: 'nightly', businessDate: '2026-10-02' }),
          { timeout: 20_000, interval: 100 },
        );
        expect((await lockRows(t.db)).map((r) => r.job)).toEqual(['nightly']);
        await taken.release();
      } finally {
        // Its connection handed back first: the pool waits for every connection out before it closes.
        await lock?.release().catch(() => undefined);
        await other.close();
      }
    });
  });
}
