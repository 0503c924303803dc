import { describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { availableEngines } from '../test/harness/db.js';
import { useWorld, type TestWorld } from '../test/harness/context.js';
import { insertMember } from '../ledger/members.js';
import { checkLedger } from '../ledger/check.js';
import { Accounts } from '../ledger/accounts.js';
import { accrueJob } from './accrue.js';
import { flownHandler } from './ingest-feeds.js';
import { ingestFile } from './ingest-file.js';
import { copyPath, decideHeld, fileById, toFileRow } from './registry.js';
import { runJob } from './runner.js';
import { Program } from '../rules/program.js';

const FTL = resolve(import.meta.dirname, '../parsers/ftl/fixtures/01-simple.ftl');
const HEADER =
  'ticket_number,coupon_number,issue_date,pnr,operating_carrier,operating_flight,marketing_carrier,' +
  'marketing_flight,flight_date,origin,destination,cabin,booked_rbd,flown_rbd,fare_basis,passenger_surname,' +
  'passenger_given_name,passenger_type,ffp_carrier,ffp_number,fare_amount,carrier_surcharge_amount,' +
  'tax_amount,currency,coupon_status,source_ref';
const coupon = (ticket: string, fare: string) =>
  `${ticket},1,2026-05-20,K7QX2M,XX,245,,,2026-05-28,SVO,LED,Y,B,B,BSTD,IVANOV,IVAN MR,ADT,XX,1000000016,` +
  `${fare},12.50,8.40,EUR,F,RA-1`;
/** A flown-coupon file with two coupons; `trailer` is its last line. */
const flown = (first: string, trailer: string) =>
  [
    HEADER,
    coupon(first, '100.00'),
    coupon(String(Number(first) + 1).padStart(13, '0'), '100.00'),
    trailer,
    '',
  ].join('\n');

for (const engine of availableEngines()) {
  describe(`the ingest step's counts (${engine})`, () => {
    const world = useWorld(engine);

    it('count every file by its verdict, FTL files too, and nothing of a file rejected whole', async () => {
      const w = world();
      copyFileSync(FTL, join(w.dir, 'inbox', 'ftl', '01-simple.ftl'));
      writeFileSync(join(w.dir, 'inbox', 'flown', 'good.csv'), flown('0741234567890', '#TRAILER,2,200.00'));
      // A malformed trailer: the file is rejected whole, after its coupons were read.
      writeFileSync(join(w.dir, 'inbox', 'flown', 'bad.csv'), flown('0745555555550', '#TRAILER,two,200.00'));
      const ctx = w.ctx('2026-05-29');
      expect((await runJob(ctx, 'fetch')).status).toBe('succeeded');
      const s = await runJob(ctx, 'ingest');
      expect(s.status).toBe('succeeded');
      const counts = s.steps[0]!.counts;

      const registry = (await w.t.db
        .knex('files')
        .where({ direction: 'in' })
        .groupBy('verdict')
        .select('verdict')
        .count({ n: '*' })) as Array<{ verdict: string; n: number | string }>;
      const verdicts = Object.fromEntries(registry.map((r) => [r.verdict, Number(r.n)]));
      expect(verdicts).toEqual({ accepted: 2, rejected: 1 });
      expect(await w.t.db.knex('files').where({ name: 'bad.csv' }).first('verdict', 'reason')).toEqual({
        verdict: 'rejected',
        reason: 'BAD_TRAILER',
      });
      expect(counts).toMatchObject({ files: 3, accepted: 2, rejected: 1, held: 0 });

      const activities = (await w.t.db
        .knex('activities as a')
        .join('files as f', 'f.id', 'a.source_file_id')
        .groupBy('f.feed')
        .select('f.feed')
        .count({ n: '*' })) as Array<{ feed: string; n: number | string }>;
      const byFeed = Object.fromEntries(activities.map((r) => [r.feed, Number(r.n)]));
      expect(byFeed).toEqual({ ftl: 3, flown: 2 });
      expect(counts['ftl.activities']).toBe(byFeed.ftl);
      expect(counts['flown.activities']).toBe(byFeed.flown);
    });
  });
}

for (const engine of availableEngines()) {
  describe(`a partner file refused for its header (${engine})`, () => {
    const world = useWorld(engine);

    it('is registered and answered under the partner and sequence of its name, not those of its H record', async () => {
      const w = world();
      // REDBANK's file whose H record names DRIVE: the header is refused, and DRIVE never sent anything.
      writeFileSync(
        join(w.dir, 'inbox', 'partner', 'REDBANK_20261101_00670.csv'),
        [
          'H,DRIVE,1,2026-11-01T05:30:00+03:00',
          'D,RBX0100,6221012195,NIKITINA,O,2026-10-31,CARD_SPEND,MCC5812,10.00,USD,,',
          'T,1,0,10.00',
          '',
        ].join('\n'),
      );
      const ctx = w.ctx('2026-11-01');
      expect((await runJob(ctx, 'fetch')).status).toBe('succeeded');
      expect((await runJob(ctx, 'ingest')).status).toBe('succeeded');
      expect(
        await w.t.db
          .knex('files')
          .where({ direction: 'in', name: 'REDBANK_20261101_00670.csv' })
          .first('verdict', 'reason', 'partner_code', 'sequence'),
      ).toMatchObject({ verdict: 'rejected', reason: 'BAD_HEADER', partner_code: 'REDBANK' });
      expect(
        Number(
          (
            await w.t.db
              .knex('files')
              .where({ direction: 'in', name: 'REDBANK_20261101_00670.csv' })
              .first('sequence')
          )?.sequence,
        ),
      ).toBe(670);

      expect((await runJob(ctx, 'export')).status).toBe('succeeded');
      const answers = (await w.t.db
        .knex('files')
        .where({ direction: 'out', feed: 'partner-response' })
        .select('name', 'partner_code', 'local_path')) as Array<{
        name: string;
        partner_code: string;
        local_path: string;
      }>;
      expect(answers.map((a) => [a.name, a.partner_code])).toEqual([
        ['REDBANK_20261101_00670.resp.csv', 'REDBANK'],
      ]);
      const header = readFileSync(join(w.config.paths.outbox, answers[0]!.local_path), 'utf8').split(
        /\r?\n/,
      )[0]!;
      expect(header).toMatch(/^H,REDBANK,670,/);
      expect(header).toMatch(/,BAD_HEADER$/);
      // DRIVE's response sequence is untouched.
      const scopes = (await w.t.db.knex('sequences').select('scope')).map((r) => String(r.scope));
      expect(scopes.filter((s) => s.includes('DRIVE'))).toEqual([]);
    });
  });
}

for (const engine of availableEngines()) {
  describe(`the members feed and the program's member-number rule (${engine})`, () => {
    const world = useWorld(engine);

    it('enrols no number that fails the check digit or the pattern, and says which line and why', async () => {
      const w = world();
      writeFileSync(
        join(w.dir, 'inbox', 'members', 'members_20261101.csv'),
        [
          'member_number,status,enrolment_date,enrolment_channel,surname,given_name,updated_at',
          '1000000016,ACTIVE,2026-10-01,WEB,IVANOV,IVAN,2026-10-01T10:00:00Z',
          '1234567890,ACTIVE,2026-10-01,WEB,NIKITINA,OLGA,2026-10-01T10:00:00Z',
          'ABC123,ACTIVE,2026-10-01,WEB,PETROVA,ANNA,2026-10-01T10:00:00Z',
          '',
        ].join('\n'),
      );
      const ctx = w.ctx('2026-11-01');
      expect((await runJob(ctx, 'fetch')).status).toBe('succeeded');
      expect((await runJob(ctx, 'ingest')).status).toBe('succeeded');
      const enrolled = (await w.t.db.knex('members').select('number')).map((r) => String(r.number));
      expect(enrolled).toEqual(['1000000016']);
      const rejects = await w.t.db
        .knex('rejects')
        .orderBy('line')
        .select('line', 'field', 'reason', 'member_number');
      expect(rejects.map((r) => [Number(r.line), r.field, r.reason])).toEqual([
        [3, 'member_number', 'CHECK_DIGIT'],
        [4, 'member_number', 'BAD_MEMBER_NUMBER'],
      ]);
    });
  });
}

for (const engine of availableEngines()) {
  describe(`a file's counts add up to its records (${engine})`, () => {
    const world = useWorld(engine);

    it('counts a record rejected at ingest once, as a reject: records + rejects = data lines', async () => {
      const w = world();
      writeFileSync(
        join(w.dir, 'inbox', 'redemptions', 'REDEMPTIONS_20261101.csv'),
        [
          'redemption_id,member_number,redemption_date,service_type,points,reference,partner_code,status',
          'R-1,1000000016,2026-11-01,UPGRADE,1000,,,ISSUED',
          'R-2,1000000016,2026-11-01,UPGRADE,1000,,,ISSUED',
          // The same redemption again: read by the parser, refused DUPLICATE at ingest.
          'R-1,1000000016,2026-11-01,UPGRADE,1000,,,ISSUED',
          // Refused by the reader.
          'R-3,1000000016,2026-11-01,UPGRADE,-5,,,ISSUED',
          '',
        ].join('\n'),
      );
      const ctx = w.ctx('2026-11-01');
      expect((await runJob(ctx, 'fetch')).status).toBe('succeeded');
      const s = await runJob(ctx, 'ingest');
      expect(s.steps[0]!.counts).toMatchObject({ records: 2, rejects: 2 });
      const row = await w.t.db.knex('files').where({ name: 'REDEMPTIONS_20261101.csv' }).first('counts');
      expect(JSON.parse(String(row!.counts))).toMatchObject({ records: 2, rejects: 2 });
      const reasons = (await w.t.db.knex('rejects').orderBy('line').select('reason')).map((r) => r.reason);
      expect(reasons).toEqual(['DUPLICATE', 'BAD_POINTS']);
    });
  });
}

for (const engine of availableEngines()) {
  describe(`a pending file whose landed copy cannot be read (${engine})`, () => {
    const world = useWorld(engine);

    /**
     * a.csv and b.csv, two tickets each for IVANOV's flights of the 27th and the 28th, fetched for 2026-05-29;
     * a.csv's id and landed copy.
     */
    async function twoFiles(w: TestWorld): Promise<{ id: number; path: string }> {
      await insertMember(w.t.db.knex, {
        number: '1000000016',
        status: 'ACTIVE',
        tier: 'MEMBER',
        surname: 'IVANOV',
        givenName: 'IVAN',
        enrolmentDate: '2020-01-01',
      });
      writeFileSync(
        join(w.dir, 'inbox', 'flown', 'a.csv'),
        flown('0741234567890', '#TRAILER,2,200.00').replaceAll(',2026-05-28,', ',2026-05-27,'),
      );
      writeFileSync(join(w.dir, 'inbox', 'flown', 'b.csv'), flown('0741234567900', '#TRAILER,2,200.00'));
      expect((await runJob(w.ctx('2026-05-29'), 'fetch')).status).toBe('succeeded');
      const a = toFileRow(await w.t.db.knex('files').where({ name: 'a.csv' }).first());
      return { id: a.id, path: copyPath(w.config.paths.landing, a)! };
    }
    const verdicts = (w: TestWorld) =>
      w.t.db.knex('files').where({ direction: 'in' }).orderBy('name').select('name', 'verdict', 'reason');
    const balance = async (w: TestWorld) =>
      Number(
        (
          await w.t.db
            .knex('accounts')
            .where({ code: Accounts.memberPoints('1000000016') })
            .first('balance')
        )?.balance ?? 0,
      );
    const activitiesOf = async (w: TestWorld, id: number) =>
      Number((await w.t.db.knex('activities').where({ source_file_id: id }).count({ n: '*' }).first())!.n);

    it('is held for it, naming the file and the path; the rest of the night is read and posted, and the file once released', async () => {
      const w = world();
      const a = await twoFiles(w);
      const bytes = readFileSync(a.path);
      // Removed outside Redeye after fetch landed it.
      rmSync(a.path);
      const night = await runJob(w.ctx('2026-05-29'), 'ingest');
      // Before, the step failed FEED_READ_FAILED on a.csv, and b.csv stayed pending with it.
      expect(night.status).toBe('succeeded');
      const step = night.steps[0]!;
      expect(step.counts).toMatchObject({ files: 2, accepted: 1, missing: 1, records: 2 });
      expect(step.warnings).toEqual([
        `flown: file ${a.id} (a.csv) is not read: its landed copy ${a.path} is missing: held until the file is put back there and released (\`redeye files release ${a.id}\`), or discarded (\`redeye files discard ${a.id} --reason "…"\`)`,
      ]);
      expect(await verdicts(w)).toEqual([
        { name: 'a.csv', verdict: 'missing', reason: 'COPY_MISSING' },
        { name: 'b.csv', verdict: 'accepted', reason: null },
      ]);
      expect(await activitiesOf(w, a.id)).toBe(0);
      await accrueJob(w.ctx('2026-05-29'));
      const fromB = await balance(w);
      expect(fromB).toBeGreaterThan(0);
      expect((await checkLedger(w.t.db.knex)).ok).toBe(true);

      // The next night reads nothing of it while it is held, and does not fail on it.
      const next = await runJob(w.ctx('2026-05-30'), 'ingest');
      expect(next.status).toBe('succeeded');
      expect(next.steps[0]!.counts).toMatchObject({ files: 0 });

      // Put back and released, it is read at the next ingest, and posts what it holds.
      writeFileSync(a.path, bytes);
      const when = { at: '2026-05-31T08:00:00.000Z', businessDate: '2026-05-31' };
      const decision = { decision: 'released', by: 'night-accountant' } as const;
      await decideHeld(w.t.db.knex, a.id, decision, when, w.config.paths.landing);
      const read = await runJob(w.ctx('2026-05-31'), 'ingest');
      expect(read.steps[0]!.counts).toMatchObject({ files: 1, accepted: 1, records: 2 });
      expect((await fileById(w.t.db.knex, a.id))!.verdict).toBe('accepted');
      expect(await activitiesOf(w, a.id)).toBe(2);
      await accrueJob(w.ctx('2026-05-31'));
      // A flight of the same route and fare as b.csv's: as many points again.
      expect(await balance(w)).toBe(2 * fromB);
      expect((await checkLedger(w.t.db.knex)).ok).toBe(true);
    });

    it('is held for a copy that cannot be read, as for one gone: a folder where the copy was', async () => {
      const w = world();
      const a = await twoFiles(w);
      rmSync(a.path);
      mkdirSync(a.path);
      const night = await runJob(w.ctx('2026-05-29'), 'ingest');
      expect(night.status).toBe('succeeded');
      expect(night.steps[0]!.warnings).toEqual([
        expect.stringContaining(
          `file ${a.id} (a.csv) is not read: its landed copy ${a.path} cannot be read (EISDIR`,
        ),
      ]);
      expect(await verdicts(w)).toEqual([
        { name: 'a.csv', verdict: 'missing', reason: 'COPY_UNREADABLE' },
        { name: 'b.csv', verdict: 'accepted', reason: null },
      ]);
    });

    it('is held out of the night’s FTL delivery, and the other feeds are read', async () => {
      const w = world();
      copyFileSync(FTL, join(w.dir, 'inbox', 'ftl', '01-simple.ftl'));
      const a = await twoFiles(w);
      const ftl = toFileRow(await w.t.db.knex('files').where({ name: '01-simple.ftl' }).first());
      rmSync(copyPath(w.config.paths.landing, ftl)!);
      const night = await runJob(w.ctx('2026-05-29'), 'ingest');
      expect(night.status).toBe('succeeded');
      expect(night.steps[0]!.counts).toMatchObject({ files: 3, accepted: 2, missing: 1 });
      expect(await verdicts(w)).toEqual([
        { name: '01-simple.ftl', verdict: 'missing', reason: 'COPY_MISSING' },
        { name: 'a.csv', verdict: 'accepted', reason: null },
        { name: 'b.csv', verdict: 'accepted', reason: null },
      ]);
      expect(await activitiesOf(w, ftl.id)).toBe(0);
      expect(await activitiesOf(w, a.id)).toBe(2);
    });

    it('is held when its copy goes while the file is read, with nothing of it left', async () => {
      const w = world();
      const a = await twoFiles(w);
      rmSync(a.path);
      const ctx = w.ctx('2026-05-29');
      const file = (await fileById(w.t.db.knex, a.id))!;
      const outcome = await ingestFile(ctx, file, flownHandler(ctx, new Program(w.config)));
      expect(outcome).toMatchObject({ verdict: 'missing', reason: 'COPY_MISSING', records: 0, rejects: 0 });
      expect(outcome.warnings).toEqual([expect.stringContaining(`its landed copy ${a.path} is missing`)]);
      expect(await fileById(w.t.db.knex, a.id)).toMatchObject({ verdict: 'missing', reason: 'COPY_MISSING' });
      expect(await activitiesOf(w, a.id)).toBe(0);
    });
  });
}
