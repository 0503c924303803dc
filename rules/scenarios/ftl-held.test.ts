/**
 * FTL parts held for the rest of their message, settled a later night: the message completes, or
 * expires after `feeds.ftl.holdHours` (48). The simulator shows each held file's verdict and each
 * expired message's reject as the night gives them (the harness holds every night to it).
 */
import { renameSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { fetchJob } from '../../jobs/fetch.js';
import { decideHeld } from '../../jobs/registry.js';
import type { SimulationEvent } from '../../jobs/simulate.js';
import {
  memberNumber,
  replaceOnce,
  svoKznCoupon,
  useScenario,
  type Person,
  type Scenario,
} from './scenario.js';

const IVANOV: Person = { number: memberNumber(1), surname: 'IVANOV', givenName: 'IVAN' };
const PETROV: Person = { number: memberNumber(2), surname: 'PETROV', givenName: 'PETR' };

type Pax = { surname: string; givenName: string; card?: string };

/** One part of the FTL message of `flight` SVO-KZN on 10 March, in an envelope of its own. */
function part(flight: string, n: number, final: boolean, pax: Pax[]): string {
  return [
    'QU MOWKTXX',
    '.MOWRMXX 101530',
    'FTL',
    `${flight}/10MAR SVO PART${n}`,
    `-KZN${String(pax.length).padStart(2, '0')}Y`,
    ...pax.flatMap((p) => [
      `1${p.surname}/${p.givenName} MR`,
      '.L/0M71MG/XX',
      ...(p.card ? [`.R/FQTV XX ${p.card}`] : []),
    ]),
    final ? 'ENDFTL' : `ENDPART${n}`,
    '',
  ].join('\n');
}

const ivanov = { surname: 'IVANOV', givenName: 'IVAN', card: IVANOV.number };
const petrov = { surname: 'PETROV', givenName: 'PETR', card: PETROV.number };

const fileOf = (events: SimulationEvent[], file: string) =>
  events.find((e): e is Extract<SimulationEvent, { type: 'file' }> => e.type === 'file' && e.file === file);
const rejectsOf = (events: SimulationEvent[], file: string) =>
  events.flatMap((e) => (e.type === 'reject' && e.file === file ? [e.reason] : []));

/** Dates the inbox's copy of `file` as the DCS's upload at `at` (what a caught-up night goes by). */
function uploadedAt(w: Scenario, file: string, at: string): void {
  const feed = w.w.config.feeds.ftl!;
  const inbox = w.w.config.transports[feed.source]!;
  if (inbox.type !== 'local') throw new Error('scenarios use local inboxes');
  utimesSync(join(inbox.root, feed.remoteDir, file), new Date(at), new Date(at));
}

const fileId = async (w: Scenario, name: string, nth = 0) =>
  Number((await w.knex('files').where({ direction: 'in', feed: 'ftl', name }).orderBy('id'))[nth].id);

for (const engine of availableEngines()) {
  describe(`FTL parts held from an earlier night (${engine})`, () => {
    const s = useScenario(engine);

    it('a lone part past the hold time: its file shows rejected INCOMPLETE_MESSAGE, with the message reject', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV, PETROV);
      const held = w.drop('ftl', part('XX245', 2, true, [ivanov]));
      await w.night('2026-03-11');
      expect(await w.knex('files').where({ name: held }).first('verdict')).toEqual({ verdict: 'held' });

      // Three nights on, another flight's FTL comes: the night settles the held file with it.
      const other = w.drop('ftl', part('XX247', 1, true, [petrov]));
      const events = await w.simulate('ftl', other, '2026-03-14');
      expect(fileOf(events, other)).toMatchObject({ verdict: 'accepted', records: 1, posted: 1 });
      expect(fileOf(events, held)).toMatchObject({
        verdict: 'rejected',
        reason: 'INCOMPLETE_MESSAGE',
        message: expect.stringContaining('its held parts expired incomplete (XX245/2026-03-10/SVO)'),
        records: 1,
        rejected: 1,
      });
      expect(rejectsOf(events, held)).toEqual(['INCOMPLETE_MESSAGE']);
      const summary = events.at(-1) as Extract<SimulationEvent, { type: 'summary' }>;
      expect(summary).toMatchObject({ records: 2, posted: 1, rejected: 1, held: 0 });
      expect(summary.byReason).toEqual({ INCOMPLETE_MESSAGE: 1 });

      await w.night('2026-03-14');
      expect(await w.knex('files').where({ name: held }).first('verdict', 'reason')).toEqual({
        verdict: 'rejected',
        reason: 'INCOMPLETE_MESSAGE',
      });
      expect((await w.rejects({ reason: 'INCOMPLETE_MESSAGE' })).length).toBe(1);
    });

    it('one message of a held file completes, the other expires: accepted, but for the expired one', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV, PETROV);
      const held = w.drop('ftl', part('XX245', 2, true, [ivanov]) + part('XX246', 2, true, [ivanov]));
      await w.night('2026-03-11');
      const completing = w.drop('ftl', part('XX245', 1, false, [petrov]));
      const events = await w.simulate('ftl', completing, '2026-03-14');
      expect(fileOf(events, held)).toMatchObject({
        verdict: 'accepted',
        message: 'its held parts completed, but for XX246/2026-03-10/SVO, which expired incomplete',
        records: 2,
        posted: 1,
        rejected: 1,
      });
      expect(rejectsOf(events, held)).toEqual(['INCOMPLETE_MESSAGE']);
      await w.night('2026-03-14');
      expect(await w.knex('files').where({ name: held }).first('verdict')).toEqual({ verdict: 'accepted' });
    });

    it('a held file whose released passengers are all refused and whose other message expires is rejected', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV, PETROV);
      const noCard = { surname: 'SIDOROV', givenName: 'SIDOR' };
      const held = w.drop('ftl', part('XX245', 2, true, [noCard]) + part('XX246', 2, true, [ivanov]));
      await w.night('2026-03-11');
      const completing = w.drop('ftl', part('XX245', 1, false, [petrov]));
      const events = await w.simulate('ftl', completing, '2026-03-14');
      expect(fileOf(events, held)).toMatchObject({
        verdict: 'rejected',
        reason: 'INCOMPLETE_MESSAGE',
        records: 2,
        rejected: 2,
      });
      expect(rejectsOf(events, held).sort()).toEqual(['INCOMPLETE_MESSAGE', 'NO_CARD']);
      await w.night('2026-03-14');
      expect(await w.knex('files').where({ name: held }).first('verdict', 'reason')).toEqual({
        verdict: 'rejected',
        reason: 'INCOMPLETE_MESSAGE',
      });
    });

    it('a held file whose one message expired an earlier night, the other completing with nothing kept, is rejected', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV, PETROV);
      const noCard = { surname: 'SIDOROV', givenName: 'SIDOR' };
      w.drop('ftl', part('XX245', 1, false, [ivanov]));
      await w.night('2026-03-09');
      const held = w.drop('ftl', part('XX245', 2, false, [petrov]) + part('XX246', 2, true, [noCard]));
      await w.night('2026-03-11');
      // XX245 expires while XX246 still waits: the file stays held.
      await w.night('2026-03-12');
      expect(await w.knex('files').where({ name: held }).first('verdict')).toEqual({ verdict: 'held' });

      // XX246 completes, its passenger of this file refused: nothing of the file was ever kept.
      const completing = w.drop('ftl', part('XX246', 1, false, [ivanov]));
      const events = await w.simulate('ftl', completing, '2026-03-13');
      const shown = {
        verdict: 'rejected',
        reason: 'INCOMPLETE_MESSAGE',
        message: 'its held parts expired incomplete (XX245/2026-03-10/SVO): nothing of it is credited',
      };
      expect(fileOf(events, held)).toMatchObject(shown);
      await w.night('2026-03-13');
      expect(await w.knex('files').where({ name: held }).first('verdict', 'reason', 'message')).toEqual(
        shown,
      );
      expect(
        JSON.parse(String((await w.knex('files').where({ name: held }).first('counts')).counts)),
      ).toMatchObject({ records: 0, rejects: 2, held: 0 });
    });
  });

  describe(`FTL parts sent again after their message completed (${engine})`, () => {
    const s = useScenario(engine);

    it('a part resent a night later is a duplicate that night: its file accepted, nothing held, nothing expires', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV, PETROV);
      const first = w.drop('ftl', part('XX245', 1, false, [ivanov]) + part('XX245', 2, true, [petrov]));
      await w.night('2026-03-11');
      expect(await w.knex('files').where({ name: first }).first('verdict')).toEqual({ verdict: 'accepted' });
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.balance(PETROV.number)).toBe(461);

      // The DCS sends PART1 again under another stamp (another file, not a copy of one received).
      const resent = w.drop('ftl', part('XX245', 1, false, [ivanov]).replace('101530', '111000'));
      const events = await w.simulate('ftl', resent, '2026-03-12');
      // Its flight line and its passenger are refused, as a part sent twice the same night is.
      expect(fileOf(events, resent)).toMatchObject({ verdict: 'accepted', records: 2, rejected: 2 });
      expect(rejectsOf(events, resent)).toEqual(['DUPLICATE_PART', 'DUPLICATE_PART']);
      await w.night('2026-03-12');
      const file = await w.knex('files').where({ name: resent }).first('verdict', 'reason', 'counts');
      expect(file).toMatchObject({ verdict: 'accepted', reason: null });
      expect(JSON.parse(String(file.counts))).toMatchObject({ records: 0, rejects: 2, held: 0 });
      const dup = await w.rejects({ reason: 'DUPLICATE_PART' });
      expect(dup.map((r) => r.line)).toEqual([4, 6]);
      expect(dup[0]!.message).toBe(
        `PART1 of XX245/2026-03-10/SVO was already received (2 parts from ${first}:1, complete since the night of 2026-03-11): ignored`,
      );
      expect(await w.knex('ftl_parts').select('message_key')).toEqual([]);

      // Past the hold time nothing of it is reported incomplete, and the ledger is as it was.
      await w.night('2026-03-15');
      expect(await w.knex('files').where({ name: resent }).first('verdict')).toEqual({ verdict: 'accepted' });
      expect(await w.rejects({ reason: 'INCOMPLETE_MESSAGE' })).toEqual([]);
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.balance(PETROV.number)).toBe(461);
      await w.expectLedgerOk();
    });

    it('a part resent with other passengers is a duplicate too: its passengers are refused, none credited', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV, PETROV);
      w.drop('ftl', part('XX245', 1, true, [ivanov]));
      await w.night('2026-03-11');
      const resent = w.drop('ftl', part('XX245', 1, true, [ivanov, petrov]).replace('101530', '111000'));
      await w.night('2026-03-12');
      expect(await w.knex('files').where({ name: resent }).first('verdict')).toEqual({ verdict: 'accepted' });
      expect((await w.rejects({ reason: 'DUPLICATE_PART' })).map((r) => r.line)).toEqual([4, 6, 9]);
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.balance(PETROV.number)).toBe(0);
    });
  });

  describe(`FTL parts held across nights caught up after an outage (${engine})`, () => {
    const s = useScenario(engine);

    it('a message whose parts came in on two nights completes when both nights are caught up days later', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV, PETROV);
      const first = w.drop('ftl', part('XX245', 1, false, [ivanov]));
      uploadedAt(w, first, '2026-03-11T12:00:00Z');
      const last = w.drop('ftl', part('XX245', 2, true, [petrov]));
      uploadedAt(w, last, '2026-03-12T12:00:00Z');

      // Back on 15 March: the scheduler catches up each night as of the hour its cron fired.
      await w.night('2026-03-11', {
        at: '2026-03-15T10:00:00Z',
        filesUntil: '2026-03-11T23:30:00Z',
      });
      expect(await w.knex('files').where({ name: first }).first('verdict')).toEqual({ verdict: 'held' });
      await w.night('2026-03-12', { at: '2026-03-15T10:05:00Z', filesUntil: '2026-03-12T23:30:00Z' });

      for (const name of [first, last])
        expect(await w.knex('files').where({ name }).first('verdict')).toEqual({ verdict: 'accepted' });
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.balance(PETROV.number)).toBe(461);
      expect(await w.rejects({ reason: 'INCOMPLETE_MESSAGE' })).toEqual([]);
    });
  });

  describe(`FTL parts held from a file whose name a released file bears (${engine})`, () => {
    const s = useScenario(engine);

    it('the released file completes the message: the held part is credited from its own file', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV, PETROV);
      w.drop('ftl', part('XX245', 1, false, [ivanov]), 'ftl.txt');
      uploadedAt(w, 'ftl.txt', '2026-03-11T12:00:00Z');
      await w.night('2026-03-11');
      const held = await fileId(w, 'ftl.txt');
      w.drop('ftl', part('XX245', 2, true, [petrov]), 'ftl.txt');
      uploadedAt(w, 'ftl.txt', '2026-03-12T12:00:00Z');
      await w.night('2026-03-12');
      const conflict = await fileId(w, 'ftl.txt', 1);
      expect(await w.knex('files').where({ id: conflict }).first('reason')).toEqual({
        reason: 'NAME_CONFLICT',
      });
      await decideHeld(
        w.knex,
        conflict,
        { decision: 'released', by: 'ops' },
        {
          at: '2026-03-13T08:00:00Z',
          businessDate: '2026-03-13',
        },
      );
      await w.night('2026-03-13');

      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.balance(PETROV.number)).toBe(461);
      expect((await w.activitiesOf(IVANOV.number)).map((a) => Number(a.source_file_id))).toEqual([held]);
      expect((await w.activitiesOf(PETROV.number)).map((a) => Number(a.source_file_id))).toEqual([conflict]);
      const file = await w.knex('files').where({ id: held }).first('verdict', 'counts');
      expect(file.verdict).toBe('accepted');
      expect(JSON.parse(String(file.counts))).toMatchObject({ records: 1, rejects: 0, held: 0 });
    });
  });

  describe(`FTL parts held under a name another feed's file bears tonight (${engine})`, () => {
    // Feeds whose patterns overlap (here flown takes .txt too) can send files of one name: a name is
    // unique only within its feed.
    const s = useScenario(engine, (y) =>
      replaceOnce(
        y,
        'remoteDir: flown, pattern: "\\\\.csv$"',
        'remoteDir: flown, pattern: "\\\\.(csv|txt)$"',
      ),
    );

    it("a held file and tonight's flown file of the same name: the simulator keeps them apart", async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV, PETROV);
      const held = w.drop('ftl', part('XX245', 2, true, [ivanov]), 'day.txt');
      await w.night('2026-03-11');
      const heldId = await fileId(w, held);
      // Three nights on, another flight's FTL settles the held file, and the flown feed sends a file
      // that happens to bear the held file's name: a name is unique only within its feed.
      const other = w.drop('ftl', part('XX247', 1, true, [petrov]));
      const flown = w.dropCoupons([svoKznCoupon(PETROV, '0741000000001', '2026-03-09')]);
      renameSync(join(w.inbox('flown'), flown), join(w.inbox('flown'), held));

      const events = await w.simulate('ftl', other, '2026-03-14', [['flown', held]]);
      expect(fileOf(events, held)).toMatchObject({ feed: 'flown', verdict: 'accepted', records: 1 });
      expect(fileOf(events, `${held} (file ${heldId})`)).toMatchObject({
        feed: 'ftl',
        fileId: heldId,
        verdict: 'rejected',
        reason: 'INCOMPLETE_MESSAGE',
        records: 1,
        rejected: 1,
      });
      expect(rejectsOf(events, held)).toEqual([]);
      expect(rejectsOf(events, `${held} (file ${heldId})`)).toEqual(['INCOMPLETE_MESSAGE']);

      // The night itself, foretold by the same simulator (the harness compares the two).
      await w.night('2026-03-14');
      expect(await w.knex('files').where({ id: heldId }).first('verdict', 'reason')).toEqual({
        verdict: 'rejected',
        reason: 'INCOMPLETE_MESSAGE',
      });
      expect(await w.balance(PETROV.number)).toBe(461 * 2);
      expect(await w.balance(IVANOV.number)).toBe(0);
    });
  });

  describe(`FTL parts held under a file name the DCS uses every night (${engine})`, () => {
    const s = useScenario(engine, (y) => replaceOnce(y, 'holdHours: 48,', 'holdHours: 48, names: reused,'));

    it('a message completed by the next ftl.txt: each passenger is credited from the file that listed it', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV, PETROV);
      w.drop('ftl', part('XX245', 1, false, [ivanov]), 'ftl.txt');
      uploadedAt(w, 'ftl.txt', '2026-03-11T12:00:00Z');
      await w.night('2026-03-11');
      const held = await fileId(w, 'ftl.txt');
      w.drop('ftl', part('XX245', 2, true, [petrov]), 'ftl.txt');
      uploadedAt(w, 'ftl.txt', '2026-03-12T12:00:00Z');
      await w.night('2026-03-12');
      const completing = await fileId(w, 'ftl.txt', 1);

      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.balance(PETROV.number)).toBe(461);
      expect((await w.activitiesOf(IVANOV.number)).map((a) => Number(a.source_file_id))).toEqual([held]);
      expect((await w.activitiesOf(PETROV.number)).map((a) => Number(a.source_file_id))).toEqual([
        completing,
      ]);
      const file = await w.knex('files').where({ id: held }).first('verdict', 'message', 'counts');
      expect(file).toMatchObject({ verdict: 'accepted', message: 'its held parts completed' });
      expect(JSON.parse(String(file.counts))).toMatchObject({ records: 1, rejects: 0, held: 0 });
      expect(await w.rejects()).toEqual([]);
    });

    it("a late ftl.txt fetched by hand and read with the next night's ftl.txt: each file is credited and counted its own passengers", async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV, PETROV);
      const noCard = { surname: 'SIDOROV', givenName: 'SIDOR' };
      // The night of 11 March is run by hand as far as fetch: its ftl.txt lands, not read.
      w.drop('ftl', part('XX245', 1, true, [ivanov, noCard]), 'ftl.txt');
      uploadedAt(w, 'ftl.txt', '2026-03-11T12:00:00Z');
      await w.run(fetchJob, '2026-03-11');
      const late = await fileId(w, 'ftl.txt');
      w.drop('ftl', part('XX247', 1, true, [petrov]), 'ftl.txt');
      uploadedAt(w, 'ftl.txt', '2026-03-12T12:00:00Z');
      // The simulator reads the inbox, not a file landed and left unread: this night is not foretold.
      await w.night('2026-03-12', { foretold: false });
      const next = await fileId(w, 'ftl.txt', 1);

      expect((await w.activitiesOf(IVANOV.number)).map((a) => Number(a.source_file_id))).toEqual([late]);
      expect((await w.activitiesOf(PETROV.number)).map((a) => Number(a.source_file_id))).toEqual([next]);
      expect((await w.rejects()).map((r) => Number(r.file_id))).toEqual([late]);
      const files = await w
        .knex('files')
        .whereIn('id', [late, next])
        .orderBy('id')
        .select('verdict', 'counts');
      expect(files.map((f) => [f.verdict, JSON.parse(String(f.counts))])).toEqual([
        ['accepted', expect.objectContaining({ records: 1, rejects: 1, held: 0 })],
        ['accepted', expect.objectContaining({ records: 1, rejects: 0, held: 0 })],
      ]);
      expect(await w.balance(IVANOV.number)).toBe(461);
      expect(await w.balance(PETROV.number)).toBe(461);
    });

    it("a message that expires while the next ftl.txt brings another flight: the held file is rejected, not tonight's", async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV, PETROV);
      w.drop('ftl', part('XX245', 1, false, [ivanov]), 'ftl.txt');
      uploadedAt(w, 'ftl.txt', '2026-03-11T12:00:00Z');
      await w.night('2026-03-11');
      const held = await fileId(w, 'ftl.txt');
      w.drop('ftl', part('XX247', 1, true, [petrov]), 'ftl.txt');
      uploadedAt(w, 'ftl.txt', '2026-03-14T12:00:00Z');

      // The simulator tells the two files apart by the held one's registry id.
      const events = await w.simulate('ftl', 'ftl.txt', '2026-03-14');
      expect(fileOf(events, 'ftl.txt')).toMatchObject({ verdict: 'accepted', records: 1, posted: 1 });
      expect(fileOf(events, `ftl.txt (file ${held})`)).toMatchObject({
        fileId: held,
        verdict: 'rejected',
        reason: 'INCOMPLETE_MESSAGE',
      });
      expect(rejectsOf(events, 'ftl.txt')).toEqual([]);
      expect(rejectsOf(events, `ftl.txt (file ${held})`)).toEqual(['INCOMPLETE_MESSAGE']);

      await w.night('2026-03-14');
      const tonight = await fileId(w, 'ftl.txt', 1);
      expect(await w.knex('files').where({ id: held }).first('verdict', 'reason')).toEqual({
        verdict: 'rejected',
        reason: 'INCOMPLETE_MESSAGE',
      });
      expect(await w.knex('files').where({ id: tonight }).first('verdict')).toEqual({ verdict: 'accepted' });
      expect((await w.rejects()).map((r) => [Number(r.file_id), r.reason])).toEqual([
        [held, 'INCOMPLETE_MESSAGE'],
      ]);
      expect(await w.balance(PETROV.number)).toBe(461);
      expect(await w.balance(IVANOV.number)).toBe(0);
    });
  });
}
