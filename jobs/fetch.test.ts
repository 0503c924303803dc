/**
 * `fetch` with files left on the server (`afterFetch: leave`, the default): the registry tells what was
 * already taken, and a file that changed under the same name — even to the same size — is downloaded
 * and recorded `conflict` for an operator, never skipped unseen (README, "File registry").
 */
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { availableEngines } from '../test/harness/db.js';
import { useWorld, type TestWorld } from '../test/harness/context.js';
import { capturedLogger } from '../test/harness/logs.js';
import { LocalTransport } from '../transports/local.js';
import { fetchJob } from './fetch.js';
import { runJob } from './runner.js';

const NAME = 'flown-0001.csv';
const FIRST = 'ticket,coupon\n0742100000001,1\n';
const SECOND = 'ticket,coupon\n0742100000002,1\n'; // other content, the same size

function inbox(w: TestWorld): string {
  return join(w.dir, 'inbox', 'flown');
}

/** Writes the inbox file with `content`, last modified at `at`. */
function put(w: TestWorld, content: string, at: Date): string {
  const path = join(inbox(w), NAME);
  writeFileSync(path, content);
  utimesSync(path, at, at);
  return path;
}

const landed = (w: TestWorld, date: string) => join(w.config.paths.landing, stored(date));
/** What the registry stores of a landed copy: its path in the landing area. */
const stored = (date: string) => join('flown', date, NAME);

const rows = (w: TestWorld) =>
  w.t.db
    .knex('files')
    .where({ direction: 'in', feed: 'flown', name: NAME })
    .orderBy('id')
    .select('id', 'verdict', 'reason', 'sha256', 'local_path');

for (const engine of availableEngines()) {
  describe(`fetch of files left on the server (${engine})`, () => {
    const world = useWorld(engine);
    // Files that were in the inbox before the first night: their copies land after they were written.
    const before = new Date(Date.now() - 3_600_000);

    it('skips an unchanged file without downloading it again', async () => {
      const w = world();
      put(w, FIRST, before);
      expect((await fetchJob(w.ctx('2026-03-10'))).counts).toMatchObject({ new: 1 });
      const again = await fetchJob(w.ctx('2026-03-11'));
      expect(again.counts).toMatchObject({ new: 0, known: 0, duplicate: 0, conflict: 0 });
      expect(existsSync(landed(w, '2026-03-11'))).toBe(false);
      expect(await rows(w)).toHaveLength(1);
    });

    it('records a file changed to other content of the same size as a conflict, held for an operator', async () => {
      const w = world();
      put(w, FIRST, before);
      await fetchJob(w.ctx('2026-03-10'));
      // The partner rewrites the file after it was taken: same name, same size, other bytes.
      expect(SECOND.length).toBe(FIRST.length);
      put(w, SECOND, new Date(Date.now() + 60_000));
      const second = await fetchJob(w.ctx('2026-03-11'));
      expect(second.counts).toMatchObject({ new: 0, known: 0, conflict: 1 });
      const [first, conflict] = await rows(w);
      // Said in the night's summary, with the commands that decide it.
      expect(second.warnings).toEqual([
        `flown: ${NAME} from inbox:flown is held as file ${conflict!.id} (a different file named ${NAME} was received before (file ${first!.id}): held for an operator); read it with \`redeye files release ${conflict!.id}\`, or drop it with \`redeye files discard ${conflict!.id} --reason "…"\``,
      ]);
      expect(first).toMatchObject({ verdict: 'pending', reason: null });
      expect(conflict).toMatchObject({
        verdict: 'conflict',
        reason: 'NAME_CONFLICT',
        local_path: stored('2026-03-11'),
      });
      expect(readFileSync(landed(w, '2026-03-11'), 'utf8')).toBe(SECOND);
      // Recorded once: the next night takes it as listed.
      const third = await fetchJob(w.ctx('2026-03-12'));
      expect(third.counts).toMatchObject({ new: 0, known: 0, conflict: 0 });
      expect(await rows(w)).toHaveLength(2);
    });

    it('holds for an operator a file changed after a fetch of the same night, and fetches the rest of the feed', async () => {
      const w = world();
      put(w, FIRST, before);
      await fetchJob(w.ctx('2026-03-10'));
      // The partner replaces the file; the night is fetched again (by hand, or the night rerun), with
      // another file come in meanwhile.
      put(w, SECOND, new Date(Date.now() + 60_000));
      writeFileSync(join(inbox(w), 'flown-0002.csv'), FIRST.replace('0001', '0009'));
      const again = await fetchJob(w.ctx('2026-03-10'));
      expect(again.counts).toMatchObject({ new: 1, known: 0, conflict: 1 });
      const [first, conflict] = await rows(w);
      expect(again.warnings).toEqual([
        `flown: ${NAME} from inbox:flown is held as file ${conflict!.id} (a different file named ${NAME} was received before (file ${first!.id}): held for an operator); read it with \`redeye files release ${conflict!.id}\`, or drop it with \`redeye files discard ${conflict!.id} --reason "…"\``,
      ]);
      expect(first).toMatchObject({ verdict: 'pending', local_path: stored('2026-03-10') });
      expect(conflict).toMatchObject({
        verdict: 'conflict',
        reason: 'NAME_CONFLICT',
        local_path: join('flown', '2026-03-10', '2', NAME),
      });
      // Both kept, each under its own registration.
      expect(readFileSync(landed(w, '2026-03-10'), 'utf8')).toBe(FIRST);
      expect(readFileSync(join(w.config.paths.landing, String(conflict!.local_path)), 'utf8')).toBe(SECOND);

      // Fetched a third time, with the changed bytes downloaded again (touched on the server): known,
      // held once, and no third copy left behind.
      put(w, SECOND, new Date(Date.now() + 120_000));
      const third = await fetchJob(w.ctx('2026-03-10'));
      expect(third.counts).toMatchObject({ new: 0, known: 1, conflict: 0 });
      expect(third.warnings).toEqual([]);
      expect(await rows(w)).toHaveLength(2);
      expect(existsSync(join(w.config.paths.landing, 'flown', '2026-03-10', '3'))).toBe(false);
    });

    it('takes the next file a partner sends under its one name on the night of the one before', async () => {
      const w = world();
      w.config.feeds.flown = { ...w.config.feeds.flown!, names: 'reused' };
      put(w, FIRST, before);
      await fetchJob(w.ctx('2026-03-10'));
      put(w, SECOND, new Date(Date.now() + 60_000));
      const again = await fetchJob(w.ctx('2026-03-10'));
      expect(again.counts).toMatchObject({ new: 1, conflict: 0 });
      expect(await rows(w)).toEqual([
        expect.objectContaining({ verdict: 'pending', local_path: stored('2026-03-10') }),
        expect.objectContaining({ verdict: 'pending', local_path: join('flown', '2026-03-10', '2', NAME) }),
      ]);
    });

    it('takes a file touched without a change as known, keeps no second copy, and skips it after', async () => {
      const w = world();
      put(w, FIRST, before);
      await fetchJob(w.ctx('2026-03-10'));
      put(w, FIRST, new Date(Date.now() + 60_000));
      const touched = await fetchJob(w.ctx('2026-03-11'));
      expect(touched.counts).toMatchObject({ new: 0, known: 1, conflict: 0 });
      expect(existsSync(landed(w, '2026-03-11'))).toBe(false);
      expect(existsSync(landed(w, '2026-03-10'))).toBe(true);
      expect(await rows(w)).toHaveLength(1);
      const after = await fetchJob(w.ctx('2026-03-12'));
      expect(after.counts).toMatchObject({ new: 0, known: 0, conflict: 0 });
    });

    it('takes a second copy under another name, touched without a change, as known: one row and one copy', async () => {
      const w = world();
      put(w, FIRST, before);
      const copy = join(inbox(w), 'flown-copy.csv');
      writeFileSync(copy, FIRST);
      utimesSync(copy, before, before);
      expect((await fetchJob(w.ctx('2026-03-10'))).counts).toMatchObject({ new: 1, duplicate: 1 });
      for (const [date, minutes] of [
        ['2026-03-11', 1],
        ['2026-03-12', 2],
      ] as const) {
        const touched = new Date(Date.now() + minutes * 60_000);
        utimesSync(copy, touched, touched);
        const night = await fetchJob(w.ctx(date));
        expect(night.counts).toMatchObject({ new: 0, known: 1, duplicate: 0 });
        expect(existsSync(join(w.config.paths.landing, 'flown', date, 'flown-copy.csv'))).toBe(false);
      }
      expect(
        await w.t.db
          .knex('files')
          .where({ direction: 'in' })
          .orderBy('id')
          .select('name', 'verdict', 'local_path'),
      ).toEqual([
        { name: NAME, verdict: 'pending', local_path: stored('2026-03-10') },
        {
          name: 'flown-copy.csv',
          verdict: 'duplicate',
          local_path: join('flown', '2026-03-10', 'flown-copy.csv'),
        },
      ]);
    });

    it('lands again a file still to be read whose landed copy was removed', async () => {
      const w = world();
      put(w, FIRST, before);
      await fetchJob(w.ctx('2026-03-10'));
      const [row] = await rows(w);
      rmSync(join(w.config.paths.landing, String(row!.local_path)));
      const again = await fetchJob(w.ctx('2026-03-11'));
      expect(again.counts).toMatchObject({ known: 1 });
      const [moved] = await rows(w);
      expect(moved).toMatchObject({ id: row!.id, verdict: 'pending', local_path: stored('2026-03-11') });
      expect(readFileSync(landed(w, '2026-03-11'), 'utf8')).toBe(FIRST);
    });

    it('lands again a file ingest held for its removed copy, and makes it pending for the next ingest', async () => {
      const w = world();
      put(w, FIRST, before);
      await fetchJob(w.ctx('2026-03-10'));
      const [row] = await rows(w);
      rmSync(landed(w, '2026-03-10'));
      // Ingest run alone, without the night's fetch: the file is held for its copy, the step goes on.
      expect((await runJob(w.ctx('2026-03-10'), 'ingest')).status).toBe('succeeded');
      expect(await rows(w)).toEqual([
        expect.objectContaining({ verdict: 'missing', reason: 'COPY_MISSING' }),
      ]);
      const again = await fetchJob(w.ctx('2026-03-11'));
      expect(again.counts).toMatchObject({ known: 1 });
      const [back] = await rows(w);
      expect(back).toMatchObject({
        id: row!.id,
        verdict: 'pending',
        reason: null,
        local_path: stored('2026-03-11'),
      });
      expect(readFileSync(landed(w, '2026-03-11'), 'utf8')).toBe(FIRST);
    });

    it('leaves for the nights after it the files that came in after a caught-up night would have run', async () => {
      const w = world();
      const night = new Date(before.getTime() - 3_600_000);
      const early = join(inbox(w), 'flown-early.csv');
      writeFileSync(early, FIRST);
      const tenToNight = new Date(night.getTime() - 600_000);
      utimesSync(early, tenToNight, tenToNight);
      put(w, SECOND, before); // an hour after the night's hour
      const caughtUp = await fetchJob({ ...w.ctx('2026-03-10', new Date()), filesUntil: night });
      expect(caughtUp.counts).toMatchObject({ new: 1, later: 1 });
      // Received, as far as the rules go, when the night would have run.
      const taken = await w.t.db.knex('files').where({ name: 'flown-early.csv' }).first('received_at');
      expect(new Date(taken.received_at).toISOString()).toBe(night.toISOString());
      expect(await w.t.db.knex('files').where({ direction: 'in' }).select('name', 'business_date')).toEqual([
        { name: 'flown-early.csv', business_date: '2026-03-10' },
      ]);
      // The next night, run on time, takes it.
      expect((await fetchJob(w.ctx('2026-03-11'))).counts).toMatchObject({ new: 1 });
      expect(await rows(w)).toEqual([expect.objectContaining({ local_path: stored('2026-03-11') })]);
    });

    it('lands nothing for a night run again after a later one: what is on the server now is the next night’s', async () => {
      const w = world();
      await runJob(w.ctx('2026-03-11'), 'fetch');
      put(w, FIRST, before);
      // The night of the 10th failed before its fetch and is run again, the 11th having fetched.
      const old = await runJob(w.ctx('2026-03-10'), 'fetch');
      expect(old.status).toBe('succeeded');
      expect(old.steps[0]!.counts).toMatchObject({ new: 0 });
      expect(old.steps[0]!.warnings).toEqual([
        'fetch for 2026-03-10 landed nothing: the night of 2026-03-11 has fetched already, and the files on the servers now are for the next night',
      ]);
      expect(await rows(w)).toHaveLength(0);
      // The next night takes it, as it would have without the rerun; the night itself may run again.
      expect((await runJob(w.ctx('2026-03-12'), 'fetch')).steps[0]!.counts).toMatchObject({ new: 1 });
      expect(existsSync(landed(w, '2026-03-12'))).toBe(true);
      expect((await runJob(w.ctx('2026-03-12'), 'fetch')).steps[0]!.warnings).toEqual([]);
    });

    it('lands nothing for a night run again after a later one whose fetch failed part-way: that one has fetched too', async () => {
      const w = world();
      put(w, FIRST, before);
      // The partners' folder cannot be listed: the 11th's fetch fails, the flown file having landed.
      const partner = join(w.dir, 'inbox', 'partner');
      rmSync(partner, { recursive: true });
      const failed = await runJob(w.ctx('2026-03-11'), 'fetch');
      expect(failed.status).toBe('failed');
      expect(await rows(w)).toEqual([expect.objectContaining({ local_path: stored('2026-03-11') })]);
      // The folder is back, with the partner's file of the 11th; the 10th is run again by hand.
      mkdirSync(partner);
      const file = join(partner, 'REDBANK_20260311_1.csv');
      writeFileSync(file, 'H,REDBANK,1,2026-03-11T01:00:00Z\r\nT,0,0,0.00\r\n');
      utimesSync(file, before, before);
      const old = await runJob(w.ctx('2026-03-10'), 'fetch');
      expect(old.status).toBe('succeeded');
      expect(old.steps[0]!.counts).toMatchObject({ new: 0 });
      expect(old.steps[0]!.warnings).toEqual([
        'fetch for 2026-03-10 landed nothing: the night of 2026-03-11 has fetched already, and the files on the servers now are for the next night',
      ]);
      // The partner's file is not taken under the 10th: the 11th's rerun lands it under its own date.
      const landedIn = () =>
        w.t.db.knex('files').where({ direction: 'in' }).orderBy('id').select('name', 'business_date');
      expect(await landedIn()).toEqual([{ name: NAME, business_date: '2026-03-11' }]);
      expect((await runJob(w.ctx('2026-03-11'), 'fetch')).status).toBe('succeeded');
      expect(await landedIn()).toEqual([
        { name: NAME, business_date: '2026-03-11' },
        { name: 'REDBANK_20260311_1.csv', business_date: '2026-03-11' },
      ]);
    });

    it('leaves to a later night the files it fetched when an earlier night is run again', async () => {
      const w = world();
      put(w, FIRST, before);
      // The 11th fetched, then stopped; the night of the 10th is run again before the 11th's rerun.
      expect((await runJob(w.ctx('2026-03-11'), 'fetch')).steps[0]!.counts).toMatchObject({ new: 1 });
      const old = await runJob(w.ctx('2026-03-10'), 'ingest');
      expect(old.status).toBe('succeeded');
      expect(old.steps[0]!.counts).toMatchObject({ files: 0 });
      const file = () => w.t.db.knex('files').where({ direction: 'in' }).first('verdict', 'business_date');
      expect(await file()).toEqual({ verdict: 'pending', business_date: '2026-03-11' });
      // Its own night reads it (and judges it: this one is not a flown file).
      expect((await runJob(w.ctx('2026-03-11'), 'ingest')).steps[0]!.counts).toMatchObject({ files: 1 });
      expect((await file()).verdict).not.toBe('pending');
      expect(
        await w.t.db.knex('file_verdicts').whereNot({ verdict: 'pending' }).select('business_date'),
      ).toEqual([{ business_date: '2026-03-11' }]);
    });
  });
}

for (const engine of availableEngines()) {
  describe(`fetch resumed after a kill between landing a file and recording it (${engine})`, () => {
    const world = useWorld(engine);
    afterEach(() => {
      vi.restoreAllMocks();
    });
    // When the killed fetch landed its copy: before the hour the night runs as (23:30).
    const landedAt = new Date('2026-03-10T23:20:00Z');

    /** Fetches the night of the 10th, killed right after the flown file lands, before it is recorded. */
    async function killedAfterLanding(w: TestWorld): Promise<void> {
      const recorded = (await rows(w)).length;
      const download = LocalTransport.prototype.download;
      vi.spyOn(LocalTransport.prototype, 'download').mockImplementationOnce(async function (
        this: LocalTransport,
        ...args: Parameters<LocalTransport['download']>
      ) {
        await download.apply(this, args);
        throw new Error('killed');
      });
      await expect(fetchJob(w.ctx('2026-03-10'))).rejects.toThrow(/killed/);
      vi.restoreAllMocks();
      expect(await rows(w)).toHaveLength(recorded);
      expect(existsSync(landed(w, '2026-03-10'))).toBe(true);
      utimesSync(landed(w, '2026-03-10'), landedAt, landedAt);
    }

    const leftover = (w: TestWorld, id: unknown, outcome: string) =>
      `flown: ${landed(w, '2026-03-10')} was landed by a fetch stopped before it recorded it, and inbox:flown now has other bytes under ${NAME}: that copy is ` +
      (outcome === 'known'
        ? `file ${String(id)}, registered before (known)`
        : `registered as file ${String(id)} (${outcome}, received ${landedAt.toISOString()})`) +
      '; the file now on the server is fetched after it';

    const receivedAt = async (w: TestWorld) =>
      (await w.t.db.knex('files').where({ direction: 'in' }).orderBy('id').pluck('received_at')).map((t) =>
        new Date(t as string).toISOString(),
      );

    it('registers the copy left unrecorded and lands the file the partner replaced it with beside it', async () => {
      const w = world();
      put(w, FIRST, new Date(Date.now() - 3_600_000));
      await killedAfterLanding(w);
      put(w, SECOND, new Date(Date.now() + 60_000));
      const resumed = await fetchJob(w.ctx('2026-03-10'));
      expect(resumed.counts).toMatchObject({ new: 1, conflict: 1, leftover: 1 });
      const [first, second] = await rows(w);
      expect(first).toMatchObject({ verdict: 'pending', local_path: stored('2026-03-10') });
      expect(second).toMatchObject({
        verdict: 'conflict',
        reason: 'NAME_CONFLICT',
        local_path: join('flown', '2026-03-10', '2', NAME),
      });
      expect(resumed.warnings).toEqual([
        leftover(w, first!.id, 'new'),
        `flown: ${NAME} from inbox:flown is held as file ${second!.id} (a different file named ${NAME} was received before (file ${first!.id}): held for an operator); read it with \`redeye files release ${second!.id}\`, or drop it with \`redeye files discard ${second!.id} --reason "…"\``,
      ]);
      expect(await receivedAt(w)).toEqual([landedAt.toISOString(), '2026-03-10T23:30:00.000Z']);
      expect(readFileSync(landed(w, '2026-03-10'), 'utf8')).toBe(FIRST);
      expect(readFileSync(join(w.config.paths.landing, String(second!.local_path)), 'utf8')).toBe(SECOND);
      // Run again, it records nothing more.
      const again = await fetchJob(w.ctx('2026-03-10'));
      expect(again.counts).toEqual({ new: 0, known: 0, duplicate: 0, conflict: 0 });
      expect(again.warnings).toEqual([]);
      expect(await rows(w)).toHaveLength(2);
    });

    it('with names reused, reads the copy left unrecorded and then the partner’s next file under the name', async () => {
      const w = world();
      w.config.feeds.flown = { ...w.config.feeds.flown!, names: 'reused' };
      put(w, FIRST, new Date(Date.now() - 3_600_000));
      await killedAfterLanding(w);
      put(w, SECOND, new Date(Date.now() + 60_000));
      const resumed = await fetchJob(w.ctx('2026-03-10'));
      expect(resumed.counts).toMatchObject({ new: 2, conflict: 0, leftover: 1 });
      const [first, second] = await rows(w);
      expect([first, second]).toEqual([
        expect.objectContaining({ verdict: 'pending', local_path: stored('2026-03-10') }),
        expect.objectContaining({ verdict: 'pending', local_path: join('flown', '2026-03-10', '2', NAME) }),
      ]);
      expect(resumed.warnings).toEqual([leftover(w, first!.id, 'new')]);
      // Ingest reads pending files in the order they were received: the one left unrecorded first.
      expect(await receivedAt(w)).toEqual([landedAt.toISOString(), '2026-03-10T23:30:00.000Z']);
    });

    it('removes a copy left unrecorded of a file registered before, and lands the replacement in its place', async () => {
      const w = world();
      put(w, FIRST, new Date(Date.now() - 3_600_000));
      await fetchJob(w.ctx('2026-03-09'));
      // Touched on the server, it is downloaded again the next night, which is killed before it records it.
      put(w, FIRST, new Date(Date.now() + 60_000));
      await killedAfterLanding(w);
      put(w, SECOND, new Date(Date.now() + 120_000));
      const resumed = await fetchJob(w.ctx('2026-03-10'));
      expect(resumed.counts).toMatchObject({ new: 0, known: 1, conflict: 1, leftover: 1 });
      const [first, second] = await rows(w);
      expect(first).toMatchObject({ verdict: 'pending', local_path: stored('2026-03-09') });
      expect(second).toMatchObject({ verdict: 'conflict', local_path: stored('2026-03-10') });
      expect(resumed.warnings?.[0]).toBe(leftover(w, first!.id, 'known'));
      expect(readFileSync(landed(w, '2026-03-10'), 'utf8')).toBe(SECOND);
      expect(existsSync(join(w.config.paths.landing, 'flown', '2026-03-10', '2'))).toBe(false);
    });
  });
}

/** The example's flown feed as a partner's server would be configured: completeness left to its default. */
const flownByDefault = (yaml: string) =>
  yaml.replace('pattern: "\\\\.csv$", completeness: { kind: none } }', 'pattern: "\\\\.csv$" }');

for (const engine of availableEngines()) {
  describe(`fetch takes only complete files (${engine})`, () => {
    const world = useWorld(engine, flownByDefault);
    const WHOLE = 'ticket,coupon\n' + '0742100000001,1\n'.repeat(40);
    const PART = WHOLE.slice(0, 100);

    it('by default leaves a file still being written for the next night, and then takes it whole', async () => {
      const w = world();
      expect(w.config.feeds.flown!.completeness).toEqual({ kind: 'stable', seconds: 30 });
      const path = put(w, PART, new Date(Date.now() - 5_000));
      const waits: number[] = [];
      // The partner's upload goes on while fetch waits between its two listings.
      const writing = async (ms: number) => {
        waits.push(ms);
        writeFileSync(path, WHOLE);
        utimesSync(path, new Date(), new Date());
      };
      const first = await fetchJob({ ...w.ctx('2026-03-10'), sleep: writing });
      expect(waits).toEqual([30_000]);
      expect(first.counts).toMatchObject({ new: 0, unfinished: 1 });
      expect(await rows(w)).toHaveLength(0);
      const next = await fetchJob({ ...w.ctx('2026-03-11'), sleep: async () => undefined });
      expect(next.counts).toMatchObject({ new: 1 });
      expect(readFileSync(landed(w, '2026-03-11'), 'utf8')).toBe(WHOLE);
    });

    it('waits once a night for all the feeds with files, not once per feed', async () => {
      const w = world();
      put(w, WHOLE, new Date(Date.now() - 3_600_000));
      const members = join(w.dir, 'inbox', 'members', 'members-1.csv');
      writeFileSync(members, 'x\n');
      w.config.feeds.members = { ...w.config.feeds.members!, completeness: { kind: 'stable', seconds: 5 } };
      const waits: number[] = [];
      const result = await fetchJob({
        ...w.ctx('2026-03-10'),
        sleep: async (ms) => {
          waits.push(ms);
        },
      });
      // The longest any feed with files asks for.
      expect(waits).toEqual([30_000]);
      expect(result.counts).toMatchObject({ new: 2 });
    });
  });

  describe(`fetch accounts for every file in an inbox folder (${engine})`, () => {
    const world = useWorld(engine, (yaml) =>
      yaml.replace('remoteDir: flown, pattern: "\\\\.csv$"', 'remoteDir: flown, pattern: "\\\\.CSV$"'),
    );

    it('warns of a file no feed’s pattern takes, naming the folder and the file, counts it, and leaves it', async () => {
      const w = world();
      writeFileSync(join(inbox(w), 'FLOWN_20260601.csv'), FIRST);
      writeFileSync(join(inbox(w), 'FLOWN_20260602.CSV'), FIRST);
      const r = await runJob(w.ctx('2026-03-10'), 'fetch');
      expect(r.status).toBe('succeeded');
      expect(r.steps[0]!.counts).toMatchObject({ new: 1, untaken: 1 });
      expect(r.steps[0]!.warnings).toEqual([
        `1 file(s) in inbox:flown (${join(w.dir, 'inbox')}) match no feed's pattern (flown "\\\\.CSV$") and are not fetched: FLOWN_20260601.csv`,
      ]);
      expect(await w.t.db.knex('files').pluck('name')).toEqual(['FLOWN_20260602.CSV']);
      expect(existsSync(join(inbox(w), 'FLOWN_20260601.csv'))).toBe(true);
    });

    it('in a folder several feeds read, warns only of a file none of them takes; markers are taken', async () => {
      const w = world();
      w.config.feeds.redemptions = { ...w.config.feeds.redemptions!, remoteDir: 'flown', pattern: '^RED' };
      w.config.feeds.flown = {
        ...w.config.feeds.flown!,
        completeness: { kind: 'marker', suffix: '.done' },
      };
      writeFileSync(join(inbox(w), 'RED_1.csv'), FIRST);
      writeFileSync(join(inbox(w), 'F.CSV'), SECOND);
      writeFileSync(join(inbox(w), 'F.CSV.done'), '');
      writeFileSync(join(inbox(w), 'notes.txt'), 'x');
      const r = await fetchJob(w.ctx('2026-03-10'));
      expect(r.counts).toMatchObject({ new: 2, untaken: 1 });
      expect(r.warnings).toEqual([
        expect.stringContaining('(flown "\\\\.CSV$", redemptions "^RED") and are not fetched: notes.txt'),
      ]);
    });
  });
}

for (const engine of availableEngines()) {
  describe(`fetch of a file that changes while it is fetched (${engine})`, () => {
    const world = useWorld(engine);
    afterEach(() => {
      vi.restoreAllMocks();
    });
    const A = 'ticket,coupon\n1,1\n';

    /** Runs `change` once, right after the flown inbox is listed. */
    function afterListing(w: TestWorld, change: () => void) {
      const listAll = LocalTransport.prototype.listAll;
      let done = false;
      vi.spyOn(LocalTransport.prototype, 'listAll').mockImplementation(async function (
        this: LocalTransport,
        dir: string,
      ) {
        const entries = await listAll.call(this, dir);
        if (dir === w.config.feeds.flown!.remoteDir && !done) {
          done = true;
          change();
        }
        return entries;
      });
    }

    it('leaves in the inbox a file replaced after it was downloaded, archives nothing unread, and reads it next', async () => {
      const w = world();
      w.config.feeds.flown = { ...w.config.feeds.flown!, afterFetch: 'archive' };
      const a = join(inbox(w), 'a.csv');
      writeFileSync(a, A);
      utimesSync(a, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
      const REPLACED = 'ticket,coupon\n9,1\n';
      const download = LocalTransport.prototype.download;
      vi.spyOn(LocalTransport.prototype, 'download').mockImplementation(async function (
        this: LocalTransport,
        ...args: Parameters<LocalTransport['download']>
      ) {
        const got = await download.apply(this, args);
        // The partner replaces it by rename as soon as it has been read.
        writeFileSync(join(w.dir, 'a.csv.new'), REPLACED);
        renameSync(join(w.dir, 'a.csv.new'), a);
        return got;
      });
      const log = capturedLogger('info');
      const night = await fetchJob({ ...w.ctx('2026-03-10'), logger: log.logger });
      expect(night.counts).toMatchObject({ new: 1, unfinished: 1 });
      expect(readFileSync(a, 'utf8')).toBe(REPLACED);
      const archive = join(w.dir, 'inbox', w.config.feeds.flown!.archiveDir);
      expect(existsSync(archive) ? readdirSync(archive) : []).toEqual([]);
      expect(log.lines.filter((l) => l.file === 'a.csv')).toEqual([
        expect.objectContaining({
          level: 'warn',
          feed: 'flown',
          code: 'SOURCE_CHANGED',
          msg: expect.stringMatching(
            /^flown: a\.csv changed while it was being fetched \(the file was changed since it was downloaded \(18 bytes modified .*, now 18 bytes modified .*\): left in the inbox, not archived\): left in inbox:flown for the next fetch$/,
          ),
        }),
      ]);
      vi.restoreAllMocks();
      // The next fetch reads it: other content under a name received is held for an operator.
      const next = await fetchJob(w.ctx('2026-03-11'));
      expect(next.counts).toMatchObject({ new: 0, conflict: 1 });
      expect(readFileSync(join(w.config.paths.landing, 'flown', '2026-03-11', 'a.csv'), 'utf8')).toBe(
        REPLACED,
      );
      expect(readdirSync(archive)).toEqual(['a.csv']);
      expect(readFileSync(join(archive, 'a.csv'), 'utf8')).toBe(REPLACED);
    });

    it('leaves a file that grew after it was listed for the next fetch, and fetches the rest of the feed', async () => {
      const w = world();
      writeFileSync(join(inbox(w), 'a.csv'), A);
      writeFileSync(join(inbox(w), 'b.csv'), 'ticket,coupon\n2,1\n');
      afterListing(w, () => appendFileSync(join(inbox(w), 'a.csv'), '3,1\n'));
      const log = capturedLogger('info');
      const night = await runJob({ ...w.ctx('2026-03-10'), logger: log.logger }, 'fetch');
      expect(night.status).toBe('succeeded');
      expect(night.steps[0]!.counts).toMatchObject({ new: 1, unfinished: 1 });
      expect(await w.t.db.knex('files').where({ direction: 'in' }).pluck('name')).toEqual(['b.csv']);
      expect(readdirSync(join(w.config.paths.landing, 'flown', '2026-03-10'))).toEqual(['b.csv']);
      expect(log.lines.filter((l) => l.file === 'a.csv')).toEqual([
        expect.objectContaining({
          level: 'warn',
          feed: 'flown',
          code: 'SIZE_MISMATCH',
          msg: 'flown: a.csv changed while it was being fetched (the file changed since it was listed: listed 18 bytes, now 22): left in inbox:flown for the next fetch',
        }),
      ]);
      vi.restoreAllMocks();
      const next = await fetchJob(w.ctx('2026-03-11'));
      expect(next.counts).toMatchObject({ new: 1 });
      expect(readFileSync(join(w.config.paths.landing, 'flown', '2026-03-11', 'a.csv'), 'utf8')).toBe(
        A + '3,1\n',
      );
    });
  });
}
