/**
 * A landed file removed during the night (`redeye run nightly` as a child process): when the ingest step
 * starts, the landed copy of a flown-coupon file that fetch put in the landing area is deleted, before
 * ingest reaches it. (A file removed after the reader opened it stays readable on POSIX systems, so that
 * moment harms nothing; the fault is a reader that finds its file gone.) The ingest step fails naming
 * the file, the night stops before anything is posted from a half-read feed and exits 1, nothing is half
 * posted; the next run fetches the file again from the inbox (it is still there: `afterFetch: leave`),
 * reads it and completes the night, which then equals a night without the fault.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compare, generate, snapshot, World, type Demo } from '../kill/harness.js';
import { addDays } from '../../lib/dates.js';
import { count, halfPosted, MEMBERS, MONTH, NIGHT, step, summaryOf, urlOf } from './harness.js';

describe('a landed file removed during the night', () => {
  let base: string;
  let demo: Demo;
  let reference: World;

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'redeye-faults-landing-'));
    demo = await generate(join(base, 'demo'), MEMBERS, MONTH, 1);
    reference = await World.create('reference', join(base, 'reference'), demo);
    await reference.deliverNight(NIGHT);
    const r = await reference.nightly(NIGHT);
    expect(r.code, r.stdout).toBe(0);
  }, 120_000);
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('fails the ingest step naming the file; the next run lands it again and completes', async () => {
    const w = await World.create('removed', join(base, 'removed'), demo);
    await w.deliverNight(NIGHT);
    const landing = join(w.var, 'landing', 'flown', NIGHT);
    let victim: string | undefined;
    const r = await w.nightly(NIGHT, undefined, (s) => {
      if (s !== 'ingest') return;
      victim = readdirSync(landing)
        .filter((n) => n.startsWith('FLOWN_HISTORY_'))
        .sort()
        .at(-1);
      rmSync(join(landing, victim!));
    });
    expect(victim).toBeDefined();
    expect(r.code).toBe(1);
    const summary = summaryOf(r.stdout);
    const ingest = step(summary, 'ingest');
    console.log(`[faults/landing] ${ingest.error?.code}: ${ingest.error?.message}`);
    expect(ingest.status).toBe('failed');
    expect(ingest.error?.message).toContain(victim!);
    expect(step(summary, 'accrue').status).toBe('skipped');
    expect(await halfPosted(urlOf(w))).toEqual([]);
    // The file's records are not half in: it is still pending, with no activity from it.
    expect(
      await count(urlOf(w), `SELECT COUNT(*) FROM files WHERE name = '${victim}' AND verdict = 'pending'`),
    ).toBe(1);
    expect(await count(urlOf(w), 'SELECT COUNT(*) FROM postings')).toBe(0);
    expect(existsSync(join(landing, victim!))).toBe(false);

    const again = await w.nightly(NIGHT);
    expect(again.code, again.stdout).toBe(0);
    expect(existsSync(join(landing, victim!))).toBe(true);
    expect(await halfPosted(urlOf(w))).toEqual([]);
    expect(compare(await snapshot(reference), await snapshot(w))).toEqual([]);
  }, 120_000);

  it('a later night lands it again in its own folder and reads it from there', async () => {
    const w = await World.create('removed-later', join(base, 'removed-later'), demo);
    await w.deliverNight(NIGHT);
    const landing = join(w.var, 'landing', 'flown', NIGHT);
    let victim: string | undefined;
    const r = await w.nightly(NIGHT, undefined, (s) => {
      if (s !== 'ingest') return;
      victim = readdirSync(landing)
        .filter((n) => n.startsWith('FLOWN_HISTORY_'))
        .sort()[0];
      rmSync(join(landing, victim!));
    });
    expect(r.code).toBe(1);
    const next = addDays(NIGHT, 1);
    await w.deliverNight(next);
    const later = await w.nightly(next);
    expect(later.code, later.stdout).toBe(0);
    expect(existsSync(join(w.var, 'landing', 'flown', next, victim!))).toBe(true);
    expect(
      await count(
        urlOf(w),
        `SELECT COUNT(*) FROM files WHERE name = '${victim}' AND verdict = 'accepted' AND local_path LIKE '%/${next}/${victim}'`,
      ),
    ).toBe(1);
    expect(await halfPosted(urlOf(w))).toEqual([]);
  }, 120_000);
});
