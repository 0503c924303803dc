/**
 * Database faults in a night (`redeye run nightly` as a child process, SQLite):
 *
 * - locked: another process holds the write lock (before the night starts, or from the moment the
 *   accrue step starts): the night waits `database.busyTimeoutMs`, then fails with an error naming the
 *   database and the step, exits 1, and leaves nothing half posted;
 * - full: every connection of the night is limited with SQLite's own `PRAGMA max_page_count` (preloaded
 *   by sqlite-max-pages.mjs) to a little more than the database holds, so it fills up during the night as
 *   on a full disk (SQLITE_FULL): the same.
 *
 * In each case, with the lock released or the room back, the next run completes the night, and the world
 * then holds exactly what a night without the fault leaves.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Document } from 'yaml';
import { compare, generate, REPO, snapshot, World, type Demo } from '../kill/harness.js';
import { halfPosted, locker, MEMBERS, MONTH, NIGHT, step, summaryOf, urlOf } from './harness.js';

const BUSY_TIMEOUT_MS = 1_500;
const shortBusyTimeout = (doc: Document) => doc.setIn(['database', 'busyTimeoutMs'], BUSY_TIMEOUT_MS);

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
    expect(compare(snapshot(reference), snapshot(w))).toEqual([]);
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
});
