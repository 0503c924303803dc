/**
 * Database faults in a night (`redeye run nightly` as a child process, SQLite):
 *
 * - locked: another process holds the write lock (before the night starts, or from the moment the
 *   accrue step starts): the night waits `database.busyTimeoutMs`, then fails with an error naming the
 *   database and the step, exits 1, and leaves nothing half posted;
 * - locked during fetch: a feed's registration gives up with SQLITE_BUSY, the lock goes, and what did
 *   arrive is read — but nothing is made or sent for the date from part of its files (a delivered file is
 *   never delivered again, so a mailing list sent with a header only would stay so); the night exits 1
 *   naming fetch;
 * - full: every connection of the night is limited with SQLite's own `PRAGMA max_page_count` (preloaded
 *   by sqlite-max-pages.mjs) to a little more than the database holds, so it fills up during the night as
 *   on a full disk (SQLITE_FULL): the same.
 *
 * In each case, with the lock released or the room back, the next run completes the night, and the world
 * then holds exactly what a night without the fault leaves.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Document } from 'yaml';
import { compare, generate, REPO, snapshot, World, type Demo } from '../kill/harness.js';
import { halfPosted, locker, MEMBERS, MONTH, NIGHT, step, summaryOf, urlOf } from './harness.js';

const BUSY_TIMEOUT_MS = 1_500;
const shortBusyTimeout = (doc: Document) => doc.setIn(['database', 'busyTimeoutMs'], BUSY_TIMEOUT_MS);

/**
 * `compare`'s problems less the differences in claim ids alone: the claims table and the registry rows
 * of the claims files, when every row that differs is a claim or a claims file.
 */
function withoutClaimIds(problems: string[]): string[] {
  const groups: string[][] = [];
  for (const p of problems) {
    if (p.startsWith('  ')) groups.at(-1)!.push(p);
    else groups.push([p]);
  }
  return groups
    .filter(([head, ...rows]) => {
      if (head!.startsWith('alliance_claims:')) return !rows.every((r) => r.includes('claimId'));
      if (head!.startsWith('files:')) return !rows.every((r) => r.includes('"alliance-claims"'));
      return true;
    })
    .flat();
}

describe('database faults in a night', () => {
  let base: string;
  let demo: Demo;
  let reference: World;

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'redeye-faults-db-'));
    demo = await generate(join(base, 'demo'), MEMBERS, MONTH, 1);
    reference = await World.create('reference', join(base, 'reference'), demo, { edit: shortBusyTimeout });
    await reference.deliverNight(NIGHT);
    const r = await reference.nightly(NIGHT);
    expect(r.code, r.stdout).toBe(0);
  }, 120_000);
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  async function nextRunCompletes(w: World): Promise<void> {
    const again = await w.nightly(NIGHT);
    expect(again.code, again.stdout + again.stderr.slice(-3000)).toBe(0);
    expect(await halfPosted(urlOf(w))).toEqual([]);
    expect(compare(await snapshot(reference), await snapshot(w))).toEqual([]);
  }

  const lockedMessage = (w: World) =>
    `the database sqlite:${w.dbFile} is locked by another process, gave up after waiting ${BUSY_TIMEOUT_MS} ms`;

  it('locked by another process before the night: waits, then a clear error', async () => {
    const w = await World.create('locked', join(base, 'locked'), demo, { edit: shortBusyTimeout });
    await w.deliverNight(NIGHT);
    const other = locker(w.dbFile);
    await other.ready;
    await other.lock();
    let r;
    try {
      r = await w.nightly(NIGHT);
    } finally {
      await other.release();
    }
    const error = r.stderr.split('\n').find((l) => l.startsWith('error ['));
    console.log(`[faults/db] locked before the night: ${error}`);
    expect(r.code).toBe(1);
    expect(r.ms).toBeGreaterThanOrEqual(BUSY_TIMEOUT_MS);
    expect(error).toBe(
      `error [SQLITE_BUSY]: nightly for ${NIGHT} could not take its run lock: ${lockedMessage(w)} (begin immediate)`,
    );
    expect(await halfPosted(urlOf(w))).toEqual([]);
    await nextRunCompletes(w);
  }, 120_000);

  it('locked by another process in the middle of the night (from the end of ingest)', async () => {
    const w = await World.create('locked-midnight', join(base, 'locked-midnight'), demo, {
      edit: shortBusyTimeout,
    });
    await w.deliverNight(NIGHT);
    const other = locker(w.dbFile);
    await other.ready;
    let taken: Promise<void> | undefined;
    const r = await w.nightly(NIGHT, undefined, (s) => {
      if (s === 'accrue') taken = other.lock();
    });
    await taken;
    await other.release();
    expect(taken).toBeDefined();
    expect(r.code).toBe(1);
    const summary = summaryOf(r.stdout);
    expect(step(summary, 'ingest').status).toBe('succeeded');
    const failed = summary.steps.find((x) => x.status === 'failed')!;
    console.log(
      `[faults/db] locked mid-night: ${failed.job} [${failed.error?.code}] ${failed.error?.message}`,
    );
    expect(failed.error?.message).toContain(lockedMessage(w));
    // The steps after it did not run; the night is left for the next run.
    const after = summary.steps.slice(summary.steps.indexOf(failed) + 1);
    expect(after.every((x) => x.status === 'skipped')).toBe(true);
    expect(await halfPosted(urlOf(w))).toEqual([]);
    await nextRunCompletes(w);
  }, 120_000);

  it('full: SQLite refuses to grow the file (max_page_count), then there is room again', async () => {
    const w = await World.create('full', join(base, 'full'), demo, { edit: shortBusyTimeout });
    await w.deliverNight(NIGHT);
    const db = new Database(w.dbFile, { fileMustExist: true });
    const pages = Number(db.pragma('page_count', { simple: true }));
    db.close();
    // A little room: the night's first files fit, its large ones do not.
    w.extraEnv.NODE_OPTIONS = `--import ${join(REPO, 'test', 'faults', 'sqlite-max-pages.mjs')}`;
    w.extraEnv.REDEYE_TEST_MAX_PAGE_COUNT = String(pages + 40);
    const r = await w.nightly(NIGHT);
    expect(r.code).toBe(1);
    const failed = summaryOf(r.stdout).steps.find((x) => x.status === 'failed')!;
    console.log(`[faults/db] full: ${failed.job} [${failed.error?.code}] ${failed.error?.message}`);
    expect(failed.error?.code).toBe('SQLITE_FULL');
    expect(failed.error?.message).toContain(
      `the database sqlite:${w.dbFile} is full: it cannot grow (the disk is full or a size limit is reached)`,
    );
    expect(await halfPosted(urlOf(w))).toEqual([]);
    delete w.extraEnv.NODE_OPTIONS;
    delete w.extraEnv.REDEYE_TEST_MAX_PAGE_COUNT;
    await nextRunCompletes(w);
  }, 120_000);

  it('locked by another process during fetch: the night fails at fetch, makes and sends nothing; the next run completes it', async () => {
    const w = await World.create('locked-fetch', join(base, 'locked-fetch'), demo, {
      edit: shortBusyTimeout,
    });
    await w.deliverNight(NIGHT);
    const other = locker(w.dbFile);
    await other.ready;
    // Held from the start of fetch for a little longer than the busy timeout: the first feed it registers
    // gives up (SQLITE_BUSY), the next ones wait for the lock to go and land.
    let held: Promise<void> | undefined;
    const r = await w.nightly(NIGHT, undefined, (s) => {
      if (s === 'fetch')
        held = other
          .lock()
          .then(() => new Promise((resolve) => setTimeout(resolve, BUSY_TIMEOUT_MS + 500)))
          .then(() => other.release());
    });
    await held;
    expect(held).toBeDefined();
    expect(r.code).toBe(1);
    const summary = summaryOf(r.stdout) as ReturnType<typeof summaryOf> & {
      stopped?: { step: string; reason: string };
    };
    const fetch = step(summary, 'fetch');
    console.log(`[faults/fetch] locked during fetch: [${fetch.error?.code}] ${fetch.error?.message}`);
    expect(fetch.status).toBe('failed');
    expect(fetch.error?.message).toContain(`the database sqlite:${w.dbFile} is locked by another process`);
    // What did arrive is read and posted …
    expect(step(summary, 'ingest').status).toBe('succeeded');
    expect(step(summary, 'accrue').status).toBe('succeeded');
    // … but nothing is decided, made or sent for the date from part of its files.
    for (const job of ['tiers', 'expire', 'export', 'report', 'deliver', 'retention'])
      expect(step(summary, job).status, job).toBe('skipped');
    expect(summary.stopped?.step).toBe('fetch');
    expect(await halfPosted(urlOf(w))).toEqual([]);

    const again = await w.nightly(NIGHT);
    expect(again.code, again.stdout + again.stderr.slice(-3000)).toBe(0);
    expect(await halfPosted(urlOf(w))).toEqual([]);
    // Equal to the night without the fault, but for what follows from the order files were read in: the
    // FTL feed was read on the rerun, after the others, so its activities have later ids, which the
    // partner-airline claim ids are built from (and the daily workbook lists files in arrival order).
    const problems = compare(await snapshot(reference), await snapshot(w), {
      skipFiles: /^reports\/|^(outbox|delivered)\/alliance-claims\//,
    });
    expect(withoutClaimIds(problems)).toEqual([]);
    // The claims themselves are all there, in the files delivered to the partners.
    const claims = (world: World) =>
      readdirSync(join(world.var, 'delivered', 'alliance-claims'))
        .sort()
        .map((f) => [
          f,
          readFileSync(join(world.var, 'delivered', 'alliance-claims', f), 'utf8').split('<ClaimId>').length -
            1,
        ]);
    expect(claims(w)).toEqual(claims(reference));
  }, 120_000);
});
