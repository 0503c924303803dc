/**
 * A landed file removed during the night (`redeye run nightly` as a child process): when the ingest step
 * starts, the landed copy of a flown-coupon file that fetch put in the landing area is deleted, before
 * ingest reaches it. (A file removed after the reader opened it stays readable on POSIX systems, so that
 * moment harms nothing; the fault is a reader that finds its file gone.) Ingest holds that file, naming
 * it (`missing`, `COPY_MISSING`), reads the night's other files and the night completes with nothing of
 * the held file posted; the next run fetches the file again from the inbox (it is still there:
 * `afterFetch: leave`), reads it, and the ledger then equals a night without the fault (the tiers, mailing
 * and report that night made without the file are not made again as if it had been there).
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

  it('holds the file naming it and reads the rest of the night; the next run lands it again and completes', async () => {
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
    expect(r.code, r.stdout).toBe(0);
    const summary = summaryOf(r.stdout);
    expect(step(summary, 'ingest').status).toBe('succeeded');
    expect(step(summary, 'accrue').status).toBe('succeeded');
    expect(r.stdout).toContain(`(${victim}) is not read: its landed copy`);
    expect(await halfPosted(urlOf(w))).toEqual([]);
    // The file is held, not half in: nothing of it is posted, while the night's other files are.
    expect(
      await count(
        urlOf(w),
        `SELECT COUNT(*) FROM files WHERE name = '${victim}' AND verdict = 'missing' AND reason = 'COPY_MISSING'`,
      ),
    ).toBe(1);
    expect(
      await count(
        urlOf(w),
        `SELECT COUNT(*) FROM postings p JOIN files f ON f.id = p.source_file_id WHERE f.name = '${victim}'`,
      ),
    ).toBe(0);
    expect(await count(urlOf(w), 'SELECT COUNT(*) FROM postings')).toBeGreaterThan(0);
    expect(existsSync(join(landing, victim!))).toBe(false);

    const again = await w.nightly(NIGHT);
    expect(again.code, again.stdout).toBe(0);
    expect(existsSync(join(landing, victim!))).toBe(true);
    expect(await halfPosted(urlOf(w))).toEqual([]);
    // The ledger equals the reference's. The first run completed without the file, so that night's tier
    // decisions, tier-change mailing (delivered) and daily report were made from the rest: the rerun adds
    // the file's upgrades as later steps and leaves the delivered mailing as it was.
    const differs = compare(await snapshot(reference), await snapshot(w)).filter((p) => !p.startsWith(' '));
    expect(
      differs.filter(
        (p) =>
          !/^(file_verdicts|files|tier_events): /.test(p) &&
          !/^file (delivered|outbox)\/mailing\/TIER_CHANGE_\d{8}\.csv: /.test(p) &&
          !/^file reports\/[\d-]+\/daily-[\d-]+\.xlsx: /.test(p),
      ),
    ).toEqual([]);
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
    expect(r.code, r.stdout).toBe(0);
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
