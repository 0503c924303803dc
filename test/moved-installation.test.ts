/**
 * A database restored, copied or moved to another installation, run with that installation's
 * configuration: the registry's copies (`files.local_path`, stored absolute before they were stored
 * relative to `paths.outbox` and `paths.landing`) are taken in its own folders, and the original
 * installation's folders are neither written nor deleted nor touched (README, "File registry"). Copies
 * refused there (`FILE_COPY_OUTSIDE`) are put right with `redeye files relink`.
 */
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exportKey, Outbox, type ExportSpec } from '../exporters/outbox.js';
import { deliverJob } from '../jobs/deliver.js';
import { fetchJob } from '../jobs/fetch.js';
import { acquireRunLock } from '../jobs/lock.js';
import { retentionJob } from '../jobs/retention.js';
import type { RelinkResult } from '../jobs/relink.js';
import type { JobContext } from '../jobs/types.js';
import { main } from '../cli/main.js';
import { availableEngines } from './harness/db.js';
import { createWorld, EXAMPLE_CONFIG, type TestWorld } from './harness/context.js';

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

/** A registry row as written by hand (an older version's), its id. */
async function registerIn(w: TestWorld, row: Record<string, unknown>): Promise<number> {
  const [r] = (await w.t.db
    .knex('files')
    .insert({ size: 2, sha256: 'a'.repeat(64), created_at: '2025-01-02T00:00:00Z', ...row })
    .returning('id')) as Array<{ id: number } | number>;
  return typeof r === 'object' ? Number(r.id) : Number(r);
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
      expect(await second.withdraw(spec('WITHDRAWN').key, 'nothing to send', DAY)).toMatchObject({
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

    const hint =
      'where those copies were moved, `redeye files relink --from <the folder they were in>` points the registry at them';
    /** A file at a path that fits no layout of Redeye's (copied there by hand, or a folder renamed). */
    const elsewhere = (name: string, content = 'x\n') => {
      const path = join(w.dir, 'elsewhere', name);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, content);
      return path;
    };
    const register = (row: Record<string, unknown>) => registerIn(w, row);

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
        `2 registered copies outside paths.landing not removed: file ids ${ids.join(', ')}, e.g. file ${ids[0]} (FLOWN_20250101.csv) at ${landed[0]}; ${hint}`,
        `1 registered copy outside paths.outbox not removed: file id ${out}, e.g. file ${out} (MAILING_20250101.csv) at ${sent}; ${hint}`,
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
        `1 registered copy outside paths.landing not used: those files are judged by their registration alone: file id ${id}, e.g. file ${id} (${name}) at ${path}; ${hint}`,
      ]);
      expect(readFileSync(path, 'utf8')).toBe(content);
    });
  });

  describe(`redeye files relink: a moved installation's refused copies put right (${engine})`, () => {
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

    const there = (businessDate: string, now?: Date): JobContext => ({
      ...moved.ctx(businessDate, now),
      db: original.t.db,
    });
    /**
     * The command in the moved installation at `now` (REDEYE_NOW: the last night ended is the day before,
     * in the program's time zone): its configuration, the original's database.
     */
    const relinkAt = async (now: string, ...args: string[]): Promise<{ code: number; out: string }> => {
      const config = join(moved.dir, 'cli.config.yaml');
      writeFileSync(config, readFileSync(EXAMPLE_CONFIG, 'utf8').replaceAll('../var/', './'));
      const out: string[] = [];
      const code = await main(['node', 'redeye', '--config', config, 'files', 'relink', ...args], {
        output: { out: (s) => out.push(s), err: (s) => out.push(s) },
        env: { REDEYE_DATABASE_URL: original.t.url, REDEYE_LOG_LEVEL: 'silent', REDEYE_NOW: now },
      });
      return { code, out: out.join('\n') };
    };
    /** The day after the files were written and sent: none of their copies is past its period yet. */
    const relink = (...args: string[]) => relinkAt(`${DAY_AFTER}T09:00:00Z`, ...args);
    const json = (r: { out: string }) => JSON.parse(r.out) as RelinkResult;
    const rows = async () =>
      (await original.t.db
        .knex('files')
        .orderBy('id')
        .select('id', 'name', 'local_path', 'verdict', 'size', 'sha256')) as Array<Record<string, unknown>>;
    const idOf = async (name: string) =>
      Number((await original.t.db.knex('files').where({ name }).first('id')).id);

    const DATE = '2026-03-10';
    const DAY_AFTER = '2026-03-11';
    const flown = 'flown-0001.csv';
    const spec = (what: string): ExportSpec => ({
      kind: 'mailing',
      key: exportKey('mailing', null, what),
      partnerCode: null,
      businessDate: DATE,
      name: () => `${what}.csv`,
      prepare: async () => ({ content: `${what}\n` }),
    });

    /**
     * The original installation as an older version laid it out, in folders Redeye no longer lays
     * files out in (so every step of the moved one refuses them): a flown file landed and read, and
     * three mailing lists delivered. Its folders are then copied to the new disks, one list lost on the
     * way and one altered.
     */
    const movedAcross = async () => {
      for (const w of [original, moved]) {
        const onServer = join(w.dir, 'inbox', 'flown', flown);
        writeFileSync(onServer, 'ticket,coupon\n0742100000001,1\n');
        const listed = new Date(Date.now() - 3_600_000);
        utimesSync(onServer, listed, listed);
      }
      expect((await fetchJob(original.ctx(DATE))).counts).toMatchObject({ new: 1 });
      const outbox = new Outbox(original.t.db, {
        root: original.config.paths.outbox,
        now: () => new Date(`${DATE}T01:30:00Z`),
      });
      for (const what of ['KEPT', 'LOST', 'ALTERED']) await outbox.write(spec(what));
      const oldLayout = async (direction: 'in' | 'out', root: string, to: (rel: string) => string) => {
        const found = (await original.t.db
          .knex('files')
          .where({ direction })
          .whereNotNull('local_path')
          .select('id', 'local_path')) as Array<{ id: number; local_path: string }>;
        for (const r of found) {
          const path = join(root, to(r.local_path));
          mkdirSync(dirname(path), { recursive: true });
          renameSync(join(root, r.local_path), path);
          await original.t.db
            .knex('files')
            .where({ id: r.id })
            .update({ local_path: path, verdict: direction === 'in' ? 'accepted' : 'delivered' });
        }
      };
      // flown/2026-03-10/x → flown-2026-03-10/x; mailing/x → mailing-lists/x
      await oldLayout('in', original.config.paths.landing, (rel) => rel.replace('/', '-'));
      await oldLayout('out', original.config.paths.outbox, (rel) => rel.replace('/', '-lists/'));
      cpSync(original.config.paths.landing, join(moved.config.paths.landing, 'old-disk'), {
        recursive: true,
      });
      cpSync(original.config.paths.outbox, moved.config.paths.outbox, { recursive: true });
      rmSync(join(moved.config.paths.outbox, 'mailing-lists', 'LOST.csv'));
      writeFileSync(join(moved.config.paths.outbox, 'mailing-lists', 'ALTERED.csv'), 'ALTERES\n');
    };

    it('relinks the copies found where the operator says, reports the rest, and the night stops warning', async () => {
      await movedAcross();
      const before = snapshot(original.dir);
      const registry = await rows();
      const [landed, kept, lost, altered] = [
        await idOf(flown),
        await idOf('KEPT.csv'),
        await idOf('LOST.csv'),
        await idOf('ALTERED.csv'),
      ];
      // Refused as it stands: the export's rerun will not touch a copy outside paths.outbox.
      const rerun = new Outbox(original.t.db, {
        root: moved.config.paths.outbox,
        now: () => new Date(`${DATE}T01:30:00Z`),
      });
      await expect(rerun.write(spec('KEPT'))).rejects.toMatchObject({ code: 'FILE_COPY_OUTSIDE' });

      const landing = [
        '--from',
        original.config.paths.landing,
        '--to',
        join(moved.config.paths.landing, 'old-disk'),
      ];
      const dry = await relink(...landing, '--dry-run', '--json');
      expect(dry.code).toBe(0);
      expect(json(dry)).toMatchObject({
        dryRun: true,
        relinked: [
          { id: landed, localPath: join('old-disk', `flown-${DATE}`, flown), setting: 'paths.landing' },
        ],
        left: [],
      });
      expect(json(dry).elsewhere).toMatchObject({
        count: 3,
        first: [{ id: kept }, { id: lost }, { id: altered }],
      });
      expect(await rows()).toEqual(registry);

      const done = await relink(...landing);
      expect(done.code).toBe(0);
      expect(done.out).toContain(
        `relinked file ${landed} (${flown}, flown): ${join(original.config.paths.landing, `flown-${DATE}`, flown)} -> ${join('old-disk', `flown-${DATE}`, flown)} in paths.landing`,
      );

      // The outbox's copies were copied to the configured folder itself: the default --to.
      const out = await relink('--from', original.config.paths.outbox);
      expect(out.code).toBe(1);
      const copies = join(moved.config.paths.outbox, 'mailing-lists');
      expect(out.out).toContain(`relinked file ${kept} (KEPT.csv, mailing)`);
      // Lost on the way, but still in the old folder: there is still a copy to bring across.
      expect(out.out).toContain(
        `left file ${lost} (LOST.csv, mailing) [STILL_AT_FROM]: no copy at ${join(copies, 'LOST.csv')}, ` +
          `and the copy is still at ${join(original.config.paths.outbox, 'mailing-lists', 'LOST.csv')}: ` +
          `move it to ${join(copies, 'LOST.csv')}, or remove it, and run again`,
      );
      expect(out.out).toContain(
        `left file ${altered} (ALTERED.csv, mailing) [MISMATCH]: ${join(copies, 'ALTERED.csv')} has sha256 `,
      );
      expect(out.out.split('\n').at(-1)).toBe(
        `1 relinked; 2 under ${original.config.paths.outbox} left as they are, still refused (FILE_COPY_OUTSIDE)`,
      );
      const after = new Map((await rows()).map((r) => [Number(r.id), r.local_path]));
      expect(after.get(landed)).toBe(join('old-disk', `flown-${DATE}`, flown));
      expect(after.get(kept)).toBe(join('mailing-lists', 'KEPT.csv'));
      expect(after.get(lost)).toBe(join(original.config.paths.outbox, 'mailing-lists', 'LOST.csv'));
      expect(after.get(altered)).toBe(join(original.config.paths.outbox, 'mailing-lists', 'ALTERED.csv'));
      // Nothing but the paths changed.
      expect((await rows()).map(({ local_path: _, ...r }) => r)).toEqual(
        registry.map(({ local_path: _, ...r }) => r),
      );

      // A second run relinks nothing, and still names what it cannot.
      for (const from of [original.config.paths.landing, original.config.paths.outbox]) {
        const again = json(await relink('--from', from, '--json'));
        expect(again.relinked).toEqual([]);
      }
      expect(new Map((await rows()).map((r) => [Number(r.id), r.local_path]))).toEqual(after);

      // The next night uses the copies relinked, and warns only of the two left.
      expect(await rerun.write(spec('KEPT'))).toMatchObject({
        status: 'unchanged',
        path: join(copies, 'KEPT.csv'),
      });
      const fetched = await fetchJob(there('2026-03-11'));
      expect(fetched.warnings).toEqual([]);
      expect(fetched.counts.copiesOutside).toBeUndefined();
      const retained = await retentionJob(there('2027-06-01', new Date('2027-06-01T23:30:00Z')));
      expect(retained.counts).toMatchObject({ landedFilesRemoved: 1, exportCopiesRemoved: 1 });
      expect(retained.counts.landedCopiesOutside).toBeUndefined();
      expect(retained.warnings).toEqual([
        expect.stringMatching(
          new RegExp(
            `^2 registered copies outside paths\\.outbox not removed: file ids ${lost}, ${altered}, `,
          ),
        ),
      ]);
      expect(existsSync(join(moved.config.paths.landing, 'old-disk', `flown-${DATE}`, flown))).toBe(false);
      expect(existsSync(join(copies, 'KEPT.csv'))).toBe(false);
      expect(snapshot(original.dir)).toEqual(before);
    });

    it('relinks as retention leaves them the rows whose copies retention removed, and only those', async () => {
      // The last night ended at the command's clock is 2027-06-01: retention removes the landed copies of
      // business dates before 2027-03-03 (90 days) and the delivered exports' before 2027-05-02 (30).
      const NIGHT = '2027-06-01';
      const now = '2027-06-02T09:00:00Z';
      const OLD = '2026-01-10';
      const RECENT = '2027-05-20';
      const content = 'ticket,coupon\n0742100000001,1\n';
      /** A row as an older version wrote it, in a layout refused here; no copy was brought across. */
      const add = (direction: 'in' | 'out', name: string, date: string, verdict: string) => {
        const feed = direction === 'in' ? 'flown' : 'mailing';
        const root = direction === 'in' ? original.config.paths.landing : original.config.paths.outbox;
        return registerIn(original, {
          direction,
          feed,
          name,
          size: Buffer.byteLength(content),
          business_date: date,
          verdict,
          local_path: join(root, `${feed}-${date}`, name),
          received_at: `${date}T03:00:00Z`,
        });
      };
      const read = await add('in', 'flown-0002.csv', OLD, 'accepted');
      const sent = await add('out', 'SENT.csv', '2027-04-01', 'delivered');
      // Copies retention still keeps: within their period, still to be read, not yet delivered.
      const recent = await add('in', 'RECENT.csv', RECENT, 'accepted');
      const pending = await add('in', 'PENDING.csv', OLD, 'pending');
      const withPart = await add('in', 'PART.csv', OLD, 'accepted');
      await original.t.db.knex('ftl_parts').insert({
        message_key: 'SU0100/2026-01-10',
        part_number: 1,
        part: '{}',
        file_id: withPart,
        received_at: `${OLD}T03:00:00Z`,
        status: 'held',
      });
      // One landed copy registered twice, once read and once held for an operator: retention keeps it.
      const shared = await add('in', 'SHARED.csv', OLD, 'accepted');
      const conflict = await add('in', 'SHARED.csv', OLD, 'conflict');
      const recentSent = await add('out', 'RECENT_SENT.csv', RECENT, 'delivered');
      const unsent = await add('out', 'UNSENT.csv', OLD, 'written');
      const registry = await rows();
      const stored = new Map(registry.map((r) => [Number(r.id), String(r.local_path)]));

      const landing = ['--from', original.config.paths.landing];
      const removedLanded = { setting: 'retention.landedFileDays', days: 90, before: '2027-03-03' };
      // Where Redeye lays that file out, whatever the old layout was.
      const laidOut = join('flown', OLD, 'flown-0002.csv');

      // Only when asked: otherwise left, and counted.
      const unasked = await relinkAt(now, ...landing, '--dry-run');
      expect(unasked.out).toContain(
        `left file ${read} (flown-0002.csv, flown) [REMOVED_BY_RETENTION]: no copy at ` +
          `${join(moved.config.paths.landing, `flown-${OLD}`, 'flown-0002.csv')}: retention has removed it ` +
          `(retention.landedFileDays: 90 days, business date before 2027-03-03); --removed-by-retention ` +
          `relinks it to ${laidOut} in paths.landing`,
      );
      expect(unasked.out.split('\n').at(-1)).toBe(
        `dry run: 0 would be relinked; 6 under ${original.config.paths.landing} left as they are, still ` +
          'refused (FILE_COPY_OUTSIDE), 1 of them whose copy retention has removed: --removed-by-retention ' +
          'relinks it; nothing changed',
      );
      landing.push('--removed-by-retention');
      const dry = await relinkAt(now, ...landing, '--dry-run', '--json');
      expect(json(dry)).toMatchObject({
        dryRun: true,
        relinked: [
          {
            id: read,
            localPath: laidOut,
            path: join(moved.config.paths.landing, laidOut),
            setting: 'paths.landing',
            removedByRetention: removedLanded,
          },
        ],
      });
      const missing = (r: { out: string }) => json(r).left.map((l) => [l.id, l.reason, l.message]);
      const noCopy = (id: number) => {
        const rel = relative(original.config.paths.landing, stored.get(id)!);
        return `no copy at ${join(moved.config.paths.landing, rel)}`;
      };
      expect(missing(dry)).toEqual(
        [recent, pending, withPart, shared, conflict].map((id) => [id, 'MISSING', noCopy(id)]),
      );
      expect(await rows()).toEqual(registry);

      const done = await relinkAt(now, ...landing);
      expect(done.code).toBe(1);
      expect(done.out).toContain(
        `relinked file ${read} (flown-0002.csv, flown): copy already removed by retention ` +
          `(retention.landedFileDays: 90 days, business date before 2027-03-03): ${stored.get(read)} -> ` +
          `${laidOut} in paths.landing`,
      );
      expect(done.out).toContain(`left file ${recent} (RECENT.csv, flown) [MISSING]: ${noCopy(recent)}`);
      expect(done.out.split('\n').at(-1)).toBe(
        `0 relinked; 1 relinked whose copy retention had already removed; 5 under ` +
          `${original.config.paths.landing} left as they are, still refused (FILE_COPY_OUTSIDE)`,
      );
      const outbox = json(
        await relinkAt(now, '--from', original.config.paths.outbox, '--removed-by-retention', '--json'),
      );
      expect(outbox.relinked).toMatchObject([
        {
          id: sent,
          localPath: join('mailing', 'SENT.csv'),
          setting: 'paths.outbox',
          removedByRetention: { setting: 'retention.exportCopyDays', days: 30, before: '2027-05-02' },
        },
      ]);
      expect(outbox.left.map((l) => [l.id, l.reason])).toEqual([
        [recentSent, 'MISSING'],
        [unsent, 'MISSING'],
      ]);
      const after = new Map((await rows()).map((r) => [Number(r.id), r.local_path]));
      expect(after).toEqual(new Map([...stored, [read, laidOut], [sent, join('mailing', 'SENT.csv')]]));

      // The night no longer warns of them; only of copies due that retention keeps, still refused.
      const retained = await retentionJob(there(NIGHT, new Date(`${NIGHT}T23:30:00Z`)));
      expect(retained.counts).toMatchObject({ landedCopiesOutside: 2 });
      expect(retained.counts.exportCopiesOutside).toBeUndefined();
      expect(retained.warnings).toEqual([
        expect.stringMatching(
          new RegExp(
            `^2 registered copies outside paths\\.landing not removed: file ids ${withPart}, ${shared}, `,
          ),
        ),
      ]);

      // Once nothing is left to read from them, they are relinked the same way, and the night is quiet.
      await original.t.db.knex('ftl_parts').update({ status: 'expired' });
      await original.t.db.knex('files').where({ id: conflict }).update({ verdict: 'discarded' });
      const settled = json(await relinkAt(now, ...landing, '--json'));
      expect(settled.relinked.map((r) => [r.id, r.removedByRetention])).toEqual(
        [withPart, shared, conflict].map((id) => [id, removedLanded]),
      );
      expect(settled.left.map((l) => l.id)).toEqual([recent, pending]);
      const quiet = await retentionJob(there(NIGHT, new Date(`${NIGHT}T23:30:00Z`)));
      expect(quiet.warnings ?? []).toEqual([]);

      // A file read long ago and left on the server is still judged by its registration: not fetched.
      const onServer = join(moved.dir, 'inbox', 'flown', 'flown-0002.csv');
      writeFileSync(onServer, content);
      utimesSync(onServer, new Date(`${OLD}T02:00:00Z`), new Date(`${OLD}T02:00:00Z`));
      const fetched = await fetchJob(there('2027-06-02'));
      expect(fetched.counts).toMatchObject({ new: 0, known: 0 });
      expect(fetched.warnings).toEqual([]);
      expect(snapshot(moved.config.paths.landing)).toEqual(new Map());
    });

    it('leaves a missing copy still at its stored path, and relinks one gone where Redeye lays it out', async () => {
      const now = '2027-06-02T09:00:00Z';
      const OLD = '2026-01-10';
      const content = 'ticket,coupon\n0742100000001,1\n';
      const old = original.config.paths.landing;
      const add = (name: string) =>
        registerIn(original, {
          direction: 'in',
          feed: 'flown',
          name,
          size: Buffer.byteLength(content),
          business_date: OLD,
          verdict: 'accepted',
          local_path: join(old, `flown-${OLD}`, name),
          received_at: `${OLD}T03:00:00Z`,
        });
      const notMoved = await add('x.csv');
      const lost = await add('y.csv');
      // Read and past its period, but still on the old disk: the operator has not copied it yet.
      mkdirSync(join(old, `flown-${OLD}`), { recursive: true });
      writeFileSync(join(old, `flown-${OLD}`, 'x.csv'), content);

      // --from a level above the old landing area.
      const r = await relinkAt(now, '--from', dirname(old), '--removed-by-retention', '--json');
      expect(r.code).toBe(1);
      expect(json(r).left.map((l) => [l.id, l.reason, l.path])).toEqual([
        [notMoved, 'STILL_AT_FROM', join(old, `flown-${OLD}`, 'x.csv')],
      ]);
      // Where Redeye lays that file out, not `landing/flown-…` under the configured folder.
      expect(json(r).relinked.map((l) => [l.id, l.stored, l.localPath])).toEqual([
        [lost, join(old, `flown-${OLD}`, 'y.csv'), join('flown', OLD, 'y.csv')],
      ]);

      // A copy brought there afterwards is named by its row: the night removes it, and still warns of
      // the one left where it was.
      const broughtLater = join(moved.config.paths.landing, 'flown', OLD, 'y.csv');
      mkdirSync(dirname(broughtLater), { recursive: true });
      writeFileSync(broughtLater, content);
      const retained = await retentionJob(there('2027-06-01', new Date('2027-06-01T23:30:00Z')));
      expect(retained.counts).toMatchObject({ landedFilesRemoved: 1, landedCopiesOutside: 1 });
      expect(existsSync(broughtLater)).toBe(false);
      expect(existsSync(join(old, `flown-${OLD}`, 'x.csv'))).toBe(true);
    });

    it('leaves a delivered mailing list missing while the shared outbox may still hold it', async () => {
      const now = '2027-06-02T09:00:00Z';
      const name = 'MAILING_20270401.csv';
      const sharedName = moved.config.exports.outbox;
      const shared = moved.config.transports[sharedName]!;
      if (shared.type !== 'local') throw new Error('the example configuration delivers to a local outbox');
      const id = await registerIn(original, {
        direction: 'out',
        feed: 'mailing',
        name,
        business_date: '2027-04-01',
        verdict: 'delivered',
        transport: sharedName,
        local_path: join(original.config.paths.outbox, 'mailing-lists', name),
      });
      // Retention removes the list there first, and keeps our copy when it cannot: ours was lost in the move.
      mkdirSync(join(shared.root, 'mailing'), { recursive: true });
      writeFileSync(join(shared.root, 'mailing', name), 'member,email\n');
      const noCopy = `no copy at ${join(moved.config.paths.outbox, 'mailing-lists', name)}`;
      const args = ['--from', original.config.paths.outbox, '--removed-by-retention', '--json'];

      const still = json(await relinkAt(now, ...args));
      expect(still.relinked).toEqual([]);
      expect(still.left.map((l) => [l.id, l.reason, l.message])).toEqual([
        [
          id,
          'MISSING',
          `${noCopy}; the delivered list is still in ${sharedName} (mailing/${name}), which retention ` +
            'empties before our copy: remove it there, and run again',
        ],
      ]);
      // An outbox that cannot be looked at says nothing either way.
      rmSync(join(shared.root, 'mailing'), { recursive: true });
      const unknown = json(await relinkAt(now, ...args));
      expect(unknown.relinked).toEqual([]);
      expect(unknown.left.map((l) => [l.id, l.reason])).toEqual([[id, 'MISSING']]);
      expect(unknown.left[0]!.message).toMatch(
        new RegExp(`^${noCopy}; whether the list is still in ${sharedName} cannot be told: \\[NOT_FOUND\\] `),
      );

      mkdirSync(join(shared.root, 'mailing'));
      const removed = json(await relinkAt(now, ...args));
      expect(removed.relinked).toMatchObject([
        { id, localPath: join('mailing', name), removedByRetention: { setting: 'retention.exportCopyDays' } },
      ]);
    });

    it('relinks no copy reached through a symbolic link to a folder outside the configured one', async () => {
      await movedAcross();
      const registry = await rows();
      const landed = await idOf(flown);
      const landing = moved.config.paths.landing;
      // The old disk mounted elsewhere and linked into the landing area.
      const disk = join(moved.dir, 'olddisk');
      renameSync(join(landing, 'old-disk'), disk);
      symlinkSync(disk, join(landing, 'old-disk'));
      const args = ['--from', original.config.paths.landing, '--to', join(landing, 'old-disk'), '--json'];

      const linked = await relink(...args);
      expect(linked.code).toBe(1);
      expect(json(linked).relinked).toEqual([]);
      expect(json(linked).left.map((l) => [l.id, l.reason])).toEqual([[landed, 'LINKED_FOLDER']]);
      expect(json(linked).left[0]!.message).toContain(`is, through a symbolic link, ${realpathSync(disk)}`);

      // A link further down is followed by retention all the same.
      rmSync(join(landing, 'old-disk'));
      mkdirSync(join(landing, 'old-disk'));
      symlinkSync(join(disk, `flown-${DATE}`), join(landing, 'old-disk', `flown-${DATE}`));
      const deeper = json(await relink(...args));
      expect(deeper.relinked).toEqual([]);
      expect(deeper.left.map((l) => [l.id, l.reason, l.message])).toEqual([
        [
          landed,
          'LINKED_FOLDER',
          `${join(landing, 'old-disk', `flown-${DATE}`)} is, through a symbolic link, ` +
            `${realpathSync(join(disk, `flown-${DATE}`))}, outside the configured folder ${realpathSync(landing)}: ` +
            'retention would remove files there; copy them into the folder itself',
        ],
      ]);
      expect(await rows()).toEqual(registry);
    });

    it('writes nothing while a run holds the run lock, and refuses a --to outside the folders', async () => {
      await movedAcross();
      const registry = await rows();
      const lock = await acquireRunLock(original.t.db, { job: 'nightly', businessDate: DATE });
      try {
        const refused = await relink('--from', original.config.paths.outbox);
        expect(refused.code).toBe(1);
        expect(refused.out).toContain(
          `error [JOB_LOCKED]: files relink not started: nightly for ${DATE} is running`,
        );
        // A dry run only reads: it may look while the night runs.
        const dry = json(await relink('--from', original.config.paths.outbox, '--dry-run', '--json'));
        expect(dry.relinked.map((r) => r.name)).toEqual(['KEPT.csv']);
      } finally {
        await lock.release();
      }
      expect(await rows()).toEqual(registry);
      const outside = await relink(
        '--from',
        original.config.paths.outbox,
        '--to',
        original.config.paths.outbox,
      );
      expect(outside.code).toBe(2);
      expect(outside.out).toContain(`--to ${original.config.paths.outbox} lies outside paths.landing`);
      expect(await rows()).toEqual(registry);
    });
  });
}
