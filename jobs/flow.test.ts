import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { availableEngines } from '../test/harness/db.js';
import { createWorld, type TestWorld } from '../test/harness/context.js';
import { insertMember } from '../ledger/members.js';
import { checkLedger } from '../ledger/check.js';
import { Accounts } from '../ledger/accounts.js';
import { fetchJob } from './fetch.js';
import { ingestJob } from './ingest.js';
import { accrueJob } from './accrue.js';

const SHARED = resolve(import.meta.dirname, '../../shared/samples/ftl');
const OWN = resolve(import.meta.dirname, '../parsers/ftl/fixtures');

/** A sample from ../shared when present, else the project's own copy. */
function sample(name: string): string {
  const shared = join(SHARED, name);
  return existsSync(shared) ? shared : join(OWN, name);
}

const MEMBERS: Array<[string, string, string, string?, string?]> = [
  ['1000000016', 'IVANOV', 'IVAN'],
  ['1000000024', 'PETROVA', 'ANNA'],
  ['1000000032', 'ABRAMOV', 'PAVEL'],
  ['1000000040', 'BELOVA', 'IRINA'],
  ['1000000057', 'KOZLOV', 'DMITRY'],
  ['1000000065', 'MORGAN', 'SARAH'],
  ['1000000073', 'NOVIKOV', 'ALEXANDER'],
  ['1000000081', 'ORLOVA', 'ELENA'],
  ['1000000099', 'SMIRNOV', 'ANDREI', 'СМИРНОВ', 'АНДРЕЙ'],
  ['1000000107', 'KUZNETSOV', 'OLEG'],
  ['0000123455', 'GARCIA', 'LUIS'],
];

for (const engine of availableEngines()) {
  describe(`a night of FTL messages on ${engine}`, () => {
    let w: TestWorld;
    beforeEach(async () => {
      w = await createWorld(engine);
      for (const [number, surname, givenName, surnameLocal, givenNameLocal] of MEMBERS) {
        await insertMember(w.t.db.knex, {
          number,
          status: 'ACTIVE',
          tier: 'MEMBER',
          surname,
          givenName,
          surnameLocal,
          givenNameLocal,
          enrolmentDate: '2020-01-01',
        });
      }
    });
    afterEach(async () => w.cleanup());

    const drop = (name: string) => {
      const dir = join(w.dir, 'inbox', 'ftl');
      mkdirSync(dir, { recursive: true });
      copyFileSync(sample(name), join(dir, name));
    };
    const night = async (date: string) => {
      const ctx = w.ctx(date);
      const fetched = await fetchJob(ctx);
      const ingested = await ingestJob(ctx);
      const accrued = await accrueJob(ctx);
      return { fetched, ingested, accrued };
    };
    const balance = async (member: string) =>
      Number(
        (
          await w.t.db
            .knex('accounts')
            .where({ code: Accounts.memberPoints(member) })
            .first('balance')
        )?.balance ?? 0,
      );
    const activity = (surname: string) =>
      w.t.db.knex('activities').where({ travel_surname: surname }).first();

    it('credits own-program cards, keeps a partner card for its program, and balances', async () => {
      drop('01-simple.ftl');
      const r = await night('2026-05-29');
      expect(r.fetched.counts.new).toBe(1);
      // DME-LED is a configured city pair of 400 miles; class Y earns 100%.
      expect(await balance('1000000016')).toBe(400);
      expect(await balance('1000000024')).toBe(400);
      const schmidt = await activity('SCHMIDT');
      expect(schmidt).toMatchObject({
        status: 'NOT_CREDITED',
        partner_code: 'LH',
        external_ref: '992001234567890',
        activity_date: '2026-05-28',
      });
      expect((await checkLedger(w.t.db.knex)).ok).toBe(true);
    });

    it('holds a message until its last part arrives, even on a later night and in the other order', async () => {
      drop('02-multipart-part2.ftl');
      await night('2026-06-04');
      expect(await w.t.db.knex('activities').count({ n: '*' }).first()).toMatchObject({
        n: expect.anything(),
      });
      expect(Number((await w.t.db.knex('activities').count({ n: '*' }).first())!.n)).toBe(0);
      expect(await w.t.db.knex('files').where({ feed: 'ftl' }).first('verdict')).toEqual({ verdict: 'held' });
      drop('02-multipart-part1.ftl');
      await night('2026-06-05');
      // SVO-AER 873 miles, Y 100%, plus the summer Sochi promotion (+50%); MORGAN booked C (200%).
      expect(await balance('1000000032')).toBe(873 + 436);
      expect(await balance('1000000040')).toBe(873 + 436);
      expect(await balance('1000000057')).toBe(873 + 436);
      expect(await balance('1000000065')).toBe(1746 + 873);
      const files = await w.t.db.knex('files').where({ feed: 'ftl' }).orderBy('id').select('name', 'verdict');
      expect(files.map((f) => f.verdict)).toEqual(['accepted', 'accepted']);
      expect((await checkLedger(w.t.db.knex)).ok).toBe(true);
    });

    it('rejects a held part whose message never completes as incomplete, its passengers counted as rejects', async () => {
      drop('02-multipart-part2.ftl');
      await night('2026-06-04');
      const file = () =>
        w.t.db.knex('files').where({ feed: 'ftl' }).first('verdict', 'reason', 'message', 'counts');
      const countsOf = async () => JSON.parse(String((await file())!.counts)) as Record<string, number>;
      expect((await file())!.verdict).toBe('held');
      expect(await countsOf()).toMatchObject({ records: 0, rejects: 0, held: 2 });
      // Past feeds.ftl.holdHours (48) with part 1 never sent.
      const { ingested } = await night('2026-06-08');
      expect(ingested.counts).toMatchObject({ ftlExpired: 1, records: 0, rejects: 2 });
      expect(await file()).toMatchObject({ verdict: 'rejected', reason: 'INCOMPLETE_MESSAGE' });
      expect(await countsOf()).toMatchObject({ records: 0, rejects: 2, held: 0 });
      expect(Number((await w.t.db.knex('activities').count({ n: '*' }).first())!.n)).toBe(0);
      expect(await w.t.db.knex('rejects').select('reason')).toEqual([{ reason: 'INCOMPLETE_MESSAGE' }]);
    });

    it("counts a held file's passengers as records once its message completes", async () => {
      drop('02-multipart-part2.ftl');
      await night('2026-06-04');
      drop('02-multipart-part1.ftl');
      await night('2026-06-05');
      const counts = (await w.t.db.knex('files').where({ feed: 'ftl' }).orderBy('id').select('counts')).map(
        (r) => JSON.parse(String(r.counts)) as Record<string, number>,
      );
      expect(counts.map((c) => [c.records, c.rejects, c.held])).toEqual([
        [2, 0, 0],
        [2, 0, 0],
      ]);
    });

    it('reads the variants: codeshare, status codes, glued airline, two cards (the own one credited)', async () => {
      drop('03-variants.ftl');
      await night('2026-07-13');
      const orlova = await activity('ORLOVA');
      expect(orlova).toMatchObject({
        member_number: '1000000081',
        status: 'POSTED',
        carrier: 'XX',
        flight_number: '302',
      });
      const garcia = await activity('GARCIA');
      expect(garcia).toMatchObject({
        member_number: '0000123455',
        status: 'POSTED',
        booked_class: 'B',
        flown_class: 'W',
      });
      expect(await w.t.db.knex('activities').where({ partner_code: 'IB' }).first()).toBeUndefined();
      expect(await balance('1000000073')).toBeGreaterThan(0);
    });

    it('matches a Cyrillic name to the Latin profile through transliteration', async () => {
      drop('04-cyrillic-utf8.ftl');
      await night('2026-08-16');
      const a = await w.t.db.knex('activities').where({ member_number: '1000000099' }).first();
      expect(a).toMatchObject({ status: 'POSTED', travel_surname: 'СМИРНОВ' });
    });

    it('rejects what is malformed with its line, and credits the rest', async () => {
      drop('06-malformed.ftl');
      await night('2026-09-21');
      const rejects = await w.t.db
        .knex('rejects')
        .where({ feed: 'ftl' })
        .orderBy('line')
        .select('line', 'field', 'reason');
      expect(rejects).toEqual([
        { line: 6, field: 'card', reason: 'NO_CARD' }, // KUZNETSOV: read, but his only card is malformed
        { line: 8, field: '.R/FQTV', reason: 'MALFORMED_REMARK' },
        { line: 9, field: 'name', reason: 'MALFORMED_NAME' },
        { line: 10, field: '.R/', reason: 'NO_PASSENGER' },
        { line: 11, field: 'group', reason: 'MALFORMED_GROUP' },
        { line: 12, field: '*', reason: 'NO_GROUP' },
      ]);
      // LEBEDEV travels on PETROVA's card: read normally by the parser, refused by the name check.
      expect(await activity('LEBEDEV')).toMatchObject({ status: 'REJECTED', reason: 'NAME_MISMATCH' });
      expect(await balance('1000000024')).toBe(0);
    });

    it('a second run of the night posts nothing new', async () => {
      drop('01-simple.ftl');
      await night('2026-05-29');
      const before = Number((await w.t.db.knex('postings').count({ n: '*' }).first())!.n);
      const again = await night('2026-05-29');
      expect(again.accrued.counts.postings).toBe(0);
      expect(Number((await w.t.db.knex('postings').count({ n: '*' }).first())!.n)).toBe(before);
      writeFileSync(join(w.dir, 'inbox', 'ftl', 'copy.ftl'), '');
    });
  });
}
