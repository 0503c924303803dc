/**
 * `relinkCopies` on a registry too large to check under the run lock: the copies are hashed while the
 * night may run, checked again by `lstat` under the lock, and a copy replaced in between is not relinked.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { availableEngines } from '../test/harness/db.js';
import { createWorld, type TestWorld } from '../test/harness/context.js';
import { TransportsByName } from '../transports/index.js';
import { acquireRunLock, LockedError } from './lock.js';
import { relinkCopies, ELSEWHERE_NAMED } from './relink.js';

/** Called after each copy is hashed, with its path. */
let hashed: (path: string) => Promise<void> = async () => {};

vi.mock('./registry.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('./registry.js')>();
  return {
    ...actual,
    sha256File: async (path: string) => {
      const result = await actual.sha256File(path);
      await hashed(path);
      return result;
    },
  };
});

for (const engine of availableEngines()) {
  describe(`files relink on a large registry (${engine})`, () => {
    let w: TestWorld;
    beforeEach(async () => {
      w = await createWorld(engine);
    });
    afterEach(async () => {
      hashed = async () => {};
      await w.cleanup();
    });

    const DATE = '2026-03-10';
    const content = 'ticket,coupon\n0742100000001,1\n';
    const relink = (from: string) =>
      relinkCopies(w.t.db, w.config.paths, {
        from,
        dryRun: false,
        removedByRetention: false,
        today: DATE,
        businessDate: DATE,
        retention: w.config.retention,
        sharedOutbox: { name: w.config.exports.outbox, transports: new TransportsByName({}) },
      });
    /** A row as an older version wrote it, its copy at `<old>/flown-<date>/<name>`, brought to the landing area. */
    const copied = async (old: string, name: string): Promise<number> => {
      const folder = join(w.config.paths.landing, `flown-${DATE}`);
      mkdirSync(folder, { recursive: true });
      writeFileSync(join(folder, name), content);
      const [r] = (await w.t.db
        .knex('files')
        .insert({
          direction: 'in',
          feed: 'flown',
          name,
          size: Buffer.byteLength(content),
          sha256: createHash('sha256').update(content).digest('hex'),
          local_path: join(old, `flown-${DATE}`, name),
          business_date: DATE,
          verdict: 'accepted',
          created_at: `${DATE}T03:00:00Z`,
        })
        .returning('id')) as Array<{ id: number } | number>;
      return typeof r === 'object' ? Number(r.id) : Number(r);
    };

    it('hashes without the run lock, and relinks no copy replaced before the write', async () => {
      const old = join(w.dir, 'old-landing');
      const first = await copied(old, 'a.csv');
      const second = await copied(old, 'b.csv');
      const replaced = join(w.config.paths.landing, `flown-${DATE}`, 'b.csv');
      const night: string[] = [];
      hashed = async (path) => {
        // A night starting meanwhile takes the lock at once: it is not kept waiting by the pass.
        try {
          const lock = await acquireRunLock(w.t.db, { job: 'nightly', businessDate: DATE });
          await lock.release();
          night.push('started');
        } catch (error) {
          if (!(error instanceof LockedError)) throw error;
          night.push('locked out');
        }
        // Replaced, the same size, once hashed: what is written must be what was hashed.
        if (path === replaced) {
          writeFileSync(`${replaced}.new`, content.toUpperCase());
          renameSync(`${replaced}.new`, replaced);
        }
      };

      const result = await relink(old);
      expect(night).toEqual(['started', 'started']);
      expect(result.relinked.map((r) => [r.id, r.localPath])).toEqual([
        [first, join(`flown-${DATE}`, 'a.csv')],
      ]);
      expect(result.left.map((l) => [l.id, l.reason, l.message])).toEqual([
        [second, 'CHANGED', `${replaced} changed since its sha256 was checked; not relinked: run it again`],
      ]);
      const paths = await w.t.db.knex('files').orderBy('id').pluck('local_path');
      expect(paths).toEqual([join(`flown-${DATE}`, 'a.csv'), join(old, `flown-${DATE}`, 'b.csv')]);
    });

    it('counts the refused copies outside --from, naming the first few', async () => {
      const elsewhere = join(w.dir, 'elsewhere');
      for (let i = 0; i < ELSEWHERE_NAMED + 5; i++)
        await copied(elsewhere, `e${String(i).padStart(2, '0')}.csv`);
      const result = await relink(join(w.dir, 'old-landing'));
      expect(result.elsewhere.count).toBe(ELSEWHERE_NAMED + 5);
      expect(result.elsewhere.first.map((r) => r.name)).toEqual(
        Array.from({ length: ELSEWHERE_NAMED }, (_, i) => `e${String(i).padStart(2, '0')}.csv`),
      );
      expect(result.relinked).toEqual([]);
    });
  });
}
