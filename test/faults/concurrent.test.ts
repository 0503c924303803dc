/**
 * Two runs at once, as two processes on one database — the same night twice, a night of another date, or
 * a step of the night run alone: one runs, the other refuses with JOB_LOCKED naming the run that holds
 * the lock (or, two started at the same instant, one of them may come after the first finished and be a
 * rerun that changes nothing), and nothing is posted
 * twice: the world then holds exactly what one clean night leaves. On SQLite the lock is a row whose
 * holder must be alive; on PostgreSQL, with both processes sharing one database, a session advisory lock.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb } from '../../db/connection.js';
import { availableEngines, createTestDatabase, type TestDb } from '../harness/db.js';
import { compare, generate, snapshot, World, type ChildResult, type Demo } from '../kill/harness.js';
import { halfPosted, MEMBERS, MONTH, NIGHT, urlOf } from './harness.js';
import { addDays } from '../../lib/dates.js';

/**
 * The refusal of `job` for `date` while the night of NIGHT runs; the groups: host, pid, since. On SQLite
 * the holder is a live process of this machine, whose id may have been reused: the refusal says when it
 * was last heard from and when its lock is taken over if it is not heard from again.
 */
const lockedBy = (job: string, date: string) =>
  new RegExp(
    `^error \\[JOB_LOCKED\\]: ${job} for ${date} not started: nightly for ${NIGHT} ` +
      `(?:is running \\((\\S+) pid (\\d+), since ([^\\s;)]+)\\)|holds the run lock \\((\\S+) pid (\\d+), ` +
      `since ([^\\s;)]+); process \\5 of this machine is alive, but may be another that reused the id\\), ` +
      `last heard from \\d+ s ago; if not heard from again, it is taken to be gone and its lock taken over at \\S+)` +
      `; runs never overlap, run it again once that one has ended$`,
    'm',
  );
const LOCKED = lockedBy('nightly', NIGHT);
const NEXT_NIGHT = addDays(NIGHT, 1);

/** Every posting as `key content-hash`, sorted: the same set means nothing missing and nothing twice. */
async function postings(url: string): Promise<string[]> {
  const db = openDb(url);
  try {
    const rows = (await db.knex('postings').select('idempotency_key', 'content_hash')) as Array<{
      idempotency_key: string;
      content_hash: string;
    }>;
    return rows.map((r) => `${r.idempotency_key} ${r.content_hash}`).sort();
  } finally {
    await db.close();
  }
}

/** Starts the night in `w`; when the first one holds its lock (fetch started), starts the second. */
async function overlapping(w: World): Promise<[ChildResult, ChildResult]> {
  const [first, second] = await alongside(w, [['nightly', NIGHT]]);
  return [first, second[0]!];
}

/**
 * Starts the night in `w`; when it holds its lock (fetch started), stops it (SIGSTOP) and starts
 * `redeye run <job> --date <date>` for each of `others` at once, and lets it go on (SIGCONT) once they
 * have ended: however fast the night or slow the others to load, they meet it holding its lock.
 */
async function alongside(
  w: World,
  others: Array<[job: string, date: string]>,
): Promise<[ChildResult, ChildResult[]]> {
  let started: Promise<ChildResult[]> | undefined;
  const first = await w.nightly(NIGHT, undefined, (s, pid) => {
    if (s !== 'fetch' || started) return;
    process.kill(pid, 'SIGSTOP');
    started = Promise.all(
      others.map(([job, date]) => w.cli(['run', job, '--date', date, '--json'], { date })),
    ).finally(() => process.kill(pid, 'SIGCONT'));
  });
  return [first, await started!];
}

/** The second run refused as it should, naming the first; the world is what one clean night leaves. */
function refusedBy(second: ChildResult, first: ChildResult, job: string, date: string): string {
  expect(second.code, second.stderr.slice(-2000)).toBe(1);
  const refused = lockedBy(job, date).exec(second.stderr);
  expect(refused, second.stderr.slice(-2000)).not.toBeNull();
  expect(refused![2] ?? refused![5]).toBe(String(first.pid));
  expect(second.started).toEqual([]);
  return refused![0];
}

describe('two nights for the same date at once', () => {
  let base: string;
  let demo: Demo;
  let reference: World;
  let referencePostings: string[];

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'redeye-faults-twice-'));
    demo = await generate(join(base, 'demo'), MEMBERS, MONTH, 1);
    reference = await World.create('reference', join(base, 'reference'), demo);
    await reference.deliverNight(NIGHT);
    const r = await reference.nightly(NIGHT);
    expect(r.code, r.stdout).toBe(0);
    referencePostings = await postings(urlOf(reference));
    expect(referencePostings.length).toBeGreaterThan(100);
  }, 120_000);
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('SQLite: the second, started while the first runs, refuses with JOB_LOCKED', async () => {
    const w = await World.create('sqlite-overlap', join(base, 'sqlite-overlap'), demo);
    await w.deliverNight(NIGHT);
    const [first, second] = await overlapping(w);
    expect(first.code, first.stdout).toBe(0);
    expect(second.code).toBe(1);
    const refused = LOCKED.exec(second.stderr);
    console.log(`[faults/twice] SQLite: ${refused?.[0]}`);
    expect(refused?.[5]).toBe(String(first.pid));
    expect(second.started).toEqual([]);
    expect(await halfPosted(urlOf(w))).toEqual([]);
    expect(compare(await snapshot(reference), await snapshot(w))).toEqual([]);
  }, 120_000);

  it('SQLite: two started at the same instant: one night, nothing twice', async () => {
    const w = await World.create('sqlite-together', join(base, 'sqlite-together'), demo);
    await w.deliverNight(NIGHT);
    const both = await Promise.all([w.nightly(NIGHT), w.nightly(NIGHT)]);
    // One ran the night; the other refused, or came after it and found everything done.
    expect(both.filter((r) => r.code === 0).length).toBeGreaterThanOrEqual(1);
    for (const r of both) if (r.code !== 0) expect(r.stderr).toMatch(LOCKED);
    expect(await halfPosted(urlOf(w))).toEqual([]);
    expect(compare(await snapshot(reference), await snapshot(w))).toEqual([]);
  }, 120_000);

  for (const [job, date] of [
    ['nightly', NEXT_NIGHT],
    ['fetch', NIGHT],
  ] as const)
    it(`SQLite: run ${job} for ${date}, started while the night of ${NIGHT} runs, refuses with JOB_LOCKED`, async () => {
      const w = await World.create(`sqlite-${job}`, join(base, `sqlite-${job}`), demo);
      await w.deliverNight(NIGHT);
      const [first, [second]] = await alongside(w, [[job, date]]);
      expect(first.code, first.stdout).toBe(0);
      console.log(`[faults/twice] SQLite: ${refusedBy(second!, first, job, date)}`);
      expect(await halfPosted(urlOf(w))).toEqual([]);
      expect(compare(await snapshot(reference), await snapshot(w))).toEqual([]);
    }, 120_000);

  const pg = availableEngines().includes('postgres');
  describe.skipIf(!pg)('on PostgreSQL', () => {
    let t: TestDb;
    beforeAll(async () => {
      t = await createTestDatabase('postgres');
    }, 60_000);
    afterAll(async () => {
      await t?.cleanup();
    });

    it('two processes sharing one database: the advisory lock refuses the second', async () => {
      const w = await World.create('postgres-overlap', join(base, 'postgres-overlap'), demo, {
        edit: (doc) => doc.setIn(['database', 'url'], t.url),
      });
      await w.deliverNight(NIGHT);
      const [first, second] = await overlapping(w);
      expect(first.code, first.stdout + first.stderr.slice(-2000)).toBe(0);
      expect(second.code).toBe(1);
      console.log(`[faults/twice] PostgreSQL: ${refusedBy(second, first, 'nightly', NIGHT)}`);
      expect(await halfPosted(t.url)).toEqual([]);
      expect(await postings(t.url)).toEqual(referencePostings);
      // Both at the same instant, now as reruns of the night: still nothing twice.
      const both = await Promise.all([w.nightly(NIGHT), w.nightly(NIGHT)]);
      // The second may ask in the moment between the first taking its advisory lock and writing the row
      // that names it: refused all the same, as held by a run not yet recorded.
      const unrecorded = new RegExp(
        `^error \\[JOB_LOCKED\\]: nightly for ${NIGHT} not started: another run holds the run lock ` +
          `\\(its PostgreSQL advisory lock\\), not yet recorded; runs never overlap`,
        'm',
      );
      for (const r of both)
        if (r.code !== 0) expect(r.stderr).toMatch(new RegExp(`${LOCKED.source}|${unrecorded.source}`, 'm'));
      expect(both.some((r) => r.code === 0)).toBe(true);
      expect(await postings(t.url)).toEqual(referencePostings);
      expect(await halfPosted(t.url)).toEqual([]);
    }, 180_000);

    it('a night of the next date and a step of the night, started while it runs, are refused', async () => {
      const other = await createTestDatabase('postgres');
      try {
        const w = await World.create('postgres-other-runs', join(base, 'postgres-other-runs'), demo, {
          edit: (doc) => doc.setIn(['database', 'url'], other.url),
        });
        await w.deliverNight(NIGHT);
        const [first, [next, fetch]] = await alongside(w, [
          ['nightly', NEXT_NIGHT],
          ['fetch', NIGHT],
        ]);
        expect(first.code, first.stdout + first.stderr.slice(-2000)).toBe(0);
        refusedBy(next!, first, 'nightly', NEXT_NIGHT);
        refusedBy(fetch!, first, 'fetch', NIGHT);
        expect(await postings(other.url)).toEqual(referencePostings);
        expect(await halfPosted(other.url)).toEqual([]);
      } finally {
        await other.cleanup();
      }
    }, 180_000);
  });
});
