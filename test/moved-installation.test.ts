/**
 * A database restored, copied or moved to another installation, run with that installation's
 * configuration: the registry's copies (`files.local_path`, stored absolute before they were stored
 * relative to `paths.outbox` and `paths.landing`) are taken in its own folders, and the original
 * installation's folders are neither written nor deleted nor touched (README, "File registry").
 */
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exportKey, Outbox, type ExportSpec } from '../exporters/outbox.js';
import { deliverJob } from '../jobs/deliver.js';
import { fetchJob } from '../jobs/fetch.js';
import { retentionJob } from '../jobs/retention.js';
import type { JobContext } from '../jobs/types.js';
import { availableEngines } from './harness/db.js';
import { createWorld, type TestWorld } from './harness/context.js';

const DAY = '2026-10-15';

/** Every file under `dir` with its bytes' hash and modification time. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(p, `${createHash('sha256').update(readFileSync(p)).digest('hex')} ${statSync(p).mtimeMs}`);
    }
  };
  walk(dir);
  return out;
}

for (const engine of availableEngines()) {
  describe(`a database moved to another installation (${engine})`, () => {
    let original: TestWorld;
    let moved: TestWorld;
    beforeEach(async () => {
      original = await createWorld(engine);
      moved = await createWorld(engine);
    });
    afterEach(async () => {
      await original.cleanup();
      await moved.cleanup();
    });

    /** The moved installation: its configuration and folders, the original's database (its copy). */
    const there = (businessDate: string, now?: Date): JobContext => ({
      ...moved.ctx(businessDate, now),
      db: original.t.db,
    });
    /** Rows as every existing installation holds them: absolute paths into the original's folders. */
    const asStoredBefore = async () => {
      for (const [direction, root] of [
        ['out', original.config.paths.outbox],
        ['in', original.config.paths.landing],
      ] as const) {
        const rows = (await original.t.db
          .knex('files')
          .where({ direction })
          .whereNotNull('local_path')
          .select('id', 'local_path')) as Array<{ id: number; local_path: string }>;
        for (const r of rows)
          await original.t.db
            .knex('files')
            .where({ id: r.id })
            .update({ local_path: join(root, r.local_path) });
      }
    };
    const bodies = new Map<string, string>();
    const spec = (what: string): ExportSpec => ({
      kind: 'mailing',
      key: exportKey('mailing', null, what),
      partnerCode: null,
      businessDate: DAY,
      name: () => `${what}.csv`,
      prepare: async () => ({ content: bodies.get(what) ?? `${what}\n` }),
    });
    const copyAcross = (root: (w: TestWorld) => string, relative: string) => {
      const to = join(root(moved), relative);
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(join(root(original), relative), to);
    };
    const outbox = (w: TestWorld) => w.config.paths.outbox;

    it('reruns exports, delivers and removes copies only in its own folders', async () => {
      const now = () => new Date(`${DAY}T01:30:00Z`);
      const first = new Outbox(original.t.db, { root: outbox(original), now });
      for (const what of ['UNCHANGED', 'RESTORED', 'REPLACED', 'WITHDRAWN']) await first.write(spec(what));
      await asStoredBefore();
      // The backup's files came along for two of them; the others are missing from the new outbox.
      copyAcross(outbox, 'mailing/UNCHANGED.csv');
      copyAcross(outbox, 'mailing/WITHDRAWN.csv');
      const before = snapshot(original.dir);

      const second = new Outbox(original.t.db, { root: outbox(moved), now });
      bodies.set('REPLACED', 'corrected\n');
      const outcomes = [];
      for (const what of ['UNCHANGED', 'RESTORED', 'REPLACED']) outcomes.push(await second.write(spec(what)));
      expect(outcomes.map((o) => [o.status, o.path])).toEqual([
        ['unchanged', join(outbox(moved), 'mailing', 'UNCHANGED.csv')],
        ['restored', join(outbox(moved), 'mailing', 'RESTORED.csv')],
        ['replaced', join(outbox(moved), 'mailing', 'REPLACED.csv')],
      ]);
      expect(readFileSync(join(outbox(moved), 'mailing', 'REPLACED.csv'), 'utf8')).toBe('corrected\n');
      expect(await second.withdraw(spec('WITHDRAWN').key, 'nothing to send')).toMatchObject({
        status: 'withdrawn',
      });
      expect(existsSync(join(outbox(moved), 'mailing', 'WITHDRAWN.csv'))).toBe(false);
      expect(snapshot(original.dir)).toEqual(before);

      // Delivered from its own copies, to its own destination.
      const delivered = await deliverJob(there(DAY));
      expect(delivered.counts).toMatchObject({ delivered: 3, failed: 0 });
      const destination = moved.config.transports[moved.config.exports.outbox]!;
      expect(destination.type === 'local' && readdirSync(join(destination.root, 'mailing')).sort()).toEqual([
        'REPLACED.csv',
        'RESTORED.csv',
        'UNCHANGED.csv',
      ]);
      expect(snapshot(original.dir)).toEqual(before);

      // Past the period of delivered copies: its own are removed, the original's stay.
      await retentionJob(there('2027-06-01', new Date('2027-06-01T23:30:00Z')));
      expect(existsSync(join(outbox(moved), 'mailing'))).toBe(false);
      expect(snapshot(original.dir)).toEqual(before);
    });

    it('fetches and removes landed files only in its own landing area', async () => {
      const name = 'flown-0001.csv';
      const inbox = (w: TestWorld) => join(w.dir, 'inbox', 'flown');
      const listed = new Date(Date.now() - 3_600_000);
      for (const w of [original, moved]) {
        writeFileSync(join(inbox(w), name), 'ticket,coupon\n0742100000001,1\n');
        // Left on the server (the default), as it was when the backup was taken.
        utimesSync(join(inbox(w), name), listed, listed);
      }
      expect((await fetchJob(original.ctx('2026-03-10'))).counts).toMatchObject({ new: 1 });
      await asStoredBefore();
      const before = snapshot(original.dir);

      // Its landed copy was not restored: fetched again into its own landing area, read from there.
      const again = await fetchJob(there('2026-03-11'));
      expect(again.counts).toMatchObject({ new: 0, known: 1 });
      const row = await original.t.db.knex('files').where({ direction: 'in', name }).first('local_path');
      expect(row.local_path).toBe(join('flown', '2026-03-11', name));
      expect(existsSync(join(moved.config.paths.landing, 'flown', '2026-03-11', name))).toBe(true);
      expect(snapshot(original.dir)).toEqual(before);

      await original.t.db.knex('files').where({ direction: 'in', name }).update({ verdict: 'accepted' });
      await retentionJob(there('2027-06-01', new Date('2027-06-01T23:30:00Z')));
      expect(existsSync(join(moved.config.paths.landing, 'flown', '2026-03-11', name))).toBe(false);
      expect(snapshot(original.dir)).toEqual(before);
    });
  });

  describe(`registered copies outside the configured folders (${engine})`, () => {
    let w: TestWorld;
    beforeEach(async () => {
      w = await createWorld(engine);
    });
    afterEach(async () => {
      await w.cleanup();
    });

    /** A file at a path that fits no layout of Redeye's (copied there by hand, or a folder renamed). */
    const elsewhere = (name: string, content = 'x\n') => {
      const path = join(w.dir, 'elsewhere', name);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, content);
      return path;
    };
    const register = async (row: Record<string, unknown>): Promise<number> => {
      const [r] = (await w.t.db
        .knex('files')
        .insert({ size: 2, sha256: 'a'.repeat(64), created_at: '2025-01-02T00:00:00Z', ...row })
        .returning('id')) as Array<{ id: number } | number>;
      return typeof r === 'object' ? Number(r.id) : Number(r);
    };

    it('retention says in its warnings and counts which copies due it leaves, once per folder', async () => {
      const landed = ['FLOWN_20250101.csv', 'FLOWN_20250102.csv'].map((name) => elsewhere(name));
      const ids: number[] = [];
      for (const [i, path] of landed.entries())
        ids.push(
          await register({
            direction: 'in',
            feed: 'flown',
            name: `FLOWN_2025010${i + 1}.csv`,
            sha256: String(i).repeat(64),
            local_path: path,
            business_date: '2025-01-01',
            verdict: 'accepted',
          }),
        );
      const sent = elsewhere('MAILING_20250101.csv');
      const out = await register({
        direction: 'out',
        feed: 'mailing',
        name: 'MAILING_20250101.csv',
        local_path: sent,
        business_date: '2025-01-01',
        verdict: 'delivered',
      });

      const r = await retentionJob(w.ctx('2027-06-01', new Date('2027-06-01T23:30:00Z')));
      expect(r.counts).toMatchObject({ landedCopiesOutside: 2, exportCopiesOutside: 1 });
      expect(r.warnings).toEqual([
        `2 registered copies outside paths.landing not removed: file ids ${ids.join(', ')}, e.g. file ${ids[0]} (FLOWN_20250101.csv) at ${landed[0]}`,
        `1 registered copy outside paths.outbox not removed: file id ${out}, e.g. file ${out} (MAILING_20250101.csv) at ${sent}`,
      ]);
      for (const path of [...landed, sent]) expect(existsSync(path)).toBe(true);
    });

    it('fetch says in its warnings and counts the copies it judged by their registration alone', async () => {
      const name = 'flown-0001.csv';
      const content = 'ticket,coupon\n0742100000001,1\n';
      const onServer = join(w.dir, 'inbox', 'flown', name);
      writeFileSync(onServer, content);
      const listed = new Date(Date.now() - 3_600_000);
      utimesSync(onServer, listed, listed);
      const path = elsewhere(name, content);
      const id = await register({
        direction: 'in',
        feed: 'flown',
        name,
        size: Buffer.byteLength(content),
        local_path: path,
        business_date: '2026-03-10',
        verdict: 'accepted',
        received_at: new Date().toISOString(),
      });

      const r = await fetchJob(w.ctx('2026-03-11'));
      expect(r.counts).toMatchObject({ new: 0, known: 0, copiesOutside: 1 });
      expect(r.warnings).toEqual([
        `1 registered copy outside paths.landing not used: those files are judged by their registration alone: file id ${id}, e.g. file ${id} (${name}) at ${path}`,
      ]);
      expect(readFileSync(path, 'utf8')).toBe(content);
    });
  });
}
