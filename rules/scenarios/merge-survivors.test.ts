/**
 * Where a merge lands and how often it moves: a merge into an account that was itself merged away lands
 * at the end of the chain, one into a closed account is refused with the merged member's points kept on
 * their account, and the record of a merged (or pooled) member sent again moves what reached the account
 * since under a key of that record's own, however many times the CRM sends it in a business date.
 */
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { Accounts } from '../../ledger/accounts.js';
import {
  badCheckDigit,
  memberNumber,
  svoKznCoupon,
  useScenario,
  type Person,
  type Scenario,
} from './scenario.js';

const A: Person = { number: memberNumber(41), surname: 'ORLOV', givenName: 'PAVEL', enrolled: '2026-01-01' };
const B: Person = { number: memberNumber(42), surname: 'ORLOV', givenName: 'PAVEL', enrolled: '2026-01-01' };
const C: Person = { number: memberNumber(43), surname: 'ORLOV', givenName: 'PAVEL', enrolled: '2026-01-01' };

/** A enrolled with B and C on 2026-01-01, and credited 461 points and 30000 SPEND for a $300 flight. */
async function aHasFlown(w: Scenario): Promise<void> {
  await w.enrol('2026-01-01', A, B, C);
  w.dropCoupons([{ ...svoKznCoupon(A, '0741111111111', '2026-02-10'), fare: '300.00' }]);
  await w.night('2026-02-11');
  expect([await w.balance(A.number), await w.statusBalance(A.number)]).toEqual([461, 30000]);
}

const merged = (who: Person, into: Person, updatedAt: string): Person => ({
  ...who,
  status: 'MERGED',
  mergedInto: into.number,
  updatedAt,
});

/** What each account holds: award points and SPEND status credits. */
async function holdings(w: Scenario, ...people: Person[]): Promise<Array<[number, number]>> {
  const out: Array<[number, number]> = [];
  for (const p of people) out.push([await w.balance(p.number), await w.statusBalance(p.number)]);
  return out;
}

/** A received file's counts in the registry, as `redeye files list` shows them. */
async function fileCounts(w: Scenario, name: string): Promise<Record<string, number>> {
  const row = await w.knex('files').where({ direction: 'in', name }).first('counts');
  return JSON.parse(String(row.counts)) as Record<string, number>;
}

/** A received file's counts as its verdict history keeps them, by the night of each change (once read). */
async function countsHistory(w: Scenario, name: string): Promise<Array<[string, Record<string, number>]>> {
  const rows = await w
    .knex('file_verdicts')
    .where({ file_id: await w.inboundFileId(name) })
    .whereNotNull('counts')
    .orderBy('id')
    .select('business_date', 'counts');
  return rows.map((r) => [String(r.business_date).slice(0, 10), JSON.parse(String(r.counts))]);
}

for (const engine of availableEngines()) {
  describe(`a merge into an account merged or closed since (${engine})`, () => {
    const s = useScenario(engine);

    it('lands at the end of the chain when the survivor was merged away on an earlier night, so the survivor’s holder can spend the points', async () => {
      const w = s();
      await aHasFlown(w);
      w.dropMembers([merged(B, C, '2026-02-12T09:00:00Z')]);
      await w.night('2026-02-12');
      w.dropMembers([merged(A, B, '2026-02-13T09:00:00Z')]);
      const n = await w.night('2026-02-13');
      expect(n.ingest.counts['members.merged']).toBe(1);
      expect(await holdings(w, A, B, C)).toEqual([
        [0, 0],
        [0, 0],
        [461, 30000],
      ]);
      expect(await w.posting(`MERGE:${A.number}:${B.number}`)).toBeUndefined();
      const posting = await w
        .knex('postings')
        .where({ idempotency_key: `MERGE:${A.number}:${C.number}` })
        .first();
      expect(posting?.source_ref).toBe(
        `merge of ${A.number} into ${C.number}: the record named ${B.number}, since merged into ${C.number}`,
      );
      // The account a partner is told to use for A is the one that holds A's points.
      expect(await w.member(A.number)).toMatchObject({ status: 'MERGED', merged_into: C.number });

      w.dropRedemptions([{ id: 'R-C', member: C.number, date: '2026-02-14', service: 'SEAT', points: 400 }]);
      await w.night('2026-02-14');
      expect(await w.activity('RDM:R-C')).toMatchObject({ status: 'POSTED' });
      expect(await w.balance(C.number)).toBe(61);
    });

    it('lands at the end of the chain when the survivor is merged away earlier in the same file', async () => {
      const w = s();
      await aHasFlown(w);
      w.dropMembers([merged(A, B, '2026-02-12T10:00:00Z'), merged(B, C, '2026-02-12T09:00:00Z')]);
      await w.night('2026-02-12');
      expect(await holdings(w, A, B, C)).toEqual([
        [0, 0],
        [0, 0],
        [461, 30000],
      ]);
      expect(await w.member(A.number)).toMatchObject({ merged_into: C.number });
    });

    it('refuses a merge into a closed account, leaving the member open with their points and status', async () => {
      const w = s();
      await aHasFlown(w);
      w.dropMembers([{ ...B, status: 'CLOSED', updatedAt: '2026-02-12T09:00:00Z' }]);
      await w.night('2026-02-12');
      const file = w.dropMembers([merged(A, B, '2026-02-13T09:00:00Z')]);
      const n = await w.night('2026-02-13');
      expect(n.ingest.counts['members.merged']).toBeUndefined();
      expect(
        (await w.rejects({ file_id: await w.inboundFileId(file) })).map((r) => [
          r.line,
          r.field,
          r.reason,
          r.member_number,
          r.message,
        ]),
      ).toEqual([
        [
          2,
          'merged_into',
          'ACCOUNT_CLOSED',
          A.number,
          `${A.number} is merged into ${B.number}, which is closed: nothing moved, ${A.number} stays as it was`,
        ],
      ]);
      expect(await holdings(w, A, B)).toEqual([
        [461, 30000],
        [0, 0],
      ]);
      expect(await w.member(A.number)).toMatchObject({
        status: 'ACTIVE',
        merged_into: null,
        closed_on: null,
      });

      // The CRM corrects the record: decided afresh, the merge is made.
      w.dropMembers([merged(A, C, '2026-02-14T09:00:00Z')]);
      await w.night('2026-02-14');
      expect(await holdings(w, A, C)).toEqual([
        [0, 0],
        [461, 30000],
      ]);
    });

    it('refuses a merge stamped after its survivor’s closure however many rows of the file lie between them', async () => {
      const w = s();
      await aHasFlown(w);
      // A delta of more than one batch (2,000 records): the CRM closed B at 08:00 and merged A into B at
      // 09:00, and lists A first, then the day's enrolments, then B.
      const enrolments: Person[] = Array.from({ length: 2_000 }, (_, i) => ({
        number: memberNumber(1_000 + i),
        surname: 'SOKOLOVA',
        givenName: 'ANNA',
        enrolled: '2026-02-12',
        updatedAt: '2026-02-12T07:00:00Z',
      }));
      const file = w.dropMembers([
        merged(A, B, '2026-02-12T09:00:00Z'),
        ...enrolments,
        { ...B, status: 'CLOSED', updatedAt: '2026-02-12T08:00:00Z' },
      ]);
      const n = await w.night('2026-02-12');
      expect(n.ingest.counts).toMatchObject({ 'members.enrolled': 2_000, 'members.toCLOSED': 1 });
      expect(n.ingest.counts['members.merged']).toBeUndefined();
      expect(
        (await w.rejects({ file_id: await w.inboundFileId(file) })).map((r) => [r.line, r.field, r.reason]),
      ).toEqual([[2, 'merged_into', 'ACCOUNT_CLOSED']]);
      expect(await holdings(w, A, B)).toEqual([
        [461, 30000],
        [0, 0],
      ]);
      expect(await w.member(A.number)).toMatchObject({ status: 'ACTIVE', merged_into: null });
    });

    it('refuses a merge at the end of whose chain is a closed account, or the merged member itself', async () => {
      const w = s();
      await aHasFlown(w);
      w.dropMembers([
        merged(B, C, '2026-02-12T09:00:00Z'),
        { ...C, status: 'CLOSED', updatedAt: '2026-02-12T10:00:00Z' },
      ]);
      await w.night('2026-02-12');
      const closed = w.dropMembers([merged(A, B, '2026-02-13T09:00:00Z')]);
      await w.night('2026-02-13');
      expect(
        (await w.rejects({ file_id: await w.inboundFileId(closed) })).map((r) => [r.reason, r.message]),
      ).toEqual([
        [
          'ACCOUNT_CLOSED',
          `${A.number} is merged into ${B.number}, since merged into ${C.number}, which is closed: nothing moved, ${A.number} stays as it was`,
        ],
      ]);

      // D was merged into A; a record merging A into D would take A's points round in a circle.
      const D: Person = { ...A, number: memberNumber(44) };
      await w.enrol('2026-02-14', D);
      w.dropMembers([merged(D, A, '2026-02-15T09:00:00Z')]);
      await w.night('2026-02-15');
      const loop = w.dropMembers([merged(A, D, '2026-02-16T09:00:00Z')]);
      await w.night('2026-02-16');
      expect(
        (await w.rejects({ file_id: await w.inboundFileId(loop) })).map((r) => [
          r.field,
          r.reason,
          r.message,
        ]),
      ).toEqual([
        [
          'merged_into',
          'INCONSISTENT_FIELDS',
          `${A.number} is merged into ${D.number}, which was merged into ${A.number}: nothing moved, ${A.number} stays as it was`,
        ],
      ]);
      expect(await w.member(A.number)).toMatchObject({ status: 'ACTIVE' });
      expect(await holdings(w, A)).toEqual([[461, 30000]]);
    });
  });

  describe(`a merge the CRM redirects to another survivor (${engine})`, () => {
    const s = useScenario(engine);
    const redirected = (line: number, on: string) => [
      line,
      'merged_into',
      'INCONSISTENT_FIELDS',
      A.number,
      C.number,
      `${A.number} is already merged into ${B.number} on ${on}, and its points and status credits went to ${B.number}; ` +
        `a merge is not undone by the feed: nothing applied, ${A.number} stays merged into ${B.number}`,
    ];
    const rejectsOf = async (w: Scenario, file: string) =>
      (await w.rejects({ file_id: await w.inboundFileId(file) })).map((r) => [
        r.line,
        r.field,
        r.reason,
        r.member_number,
        r.text,
        r.message,
      ]);

    it('refuses a second survivor in the same file: the points, the status and merged_into stay with the first', async () => {
      const w = s();
      await aHasFlown(w);
      const file = w.dropMembers([
        merged(A, B, '2026-02-12T09:00:00Z'),
        merged(A, C, '2026-02-12T09:05:00Z'),
      ]);
      const n = await w.night('2026-02-12');
      expect(n.ingest.counts['members.merged']).toBe(1);
      expect(n.ingest.counts['reject.INCONSISTENT_FIELDS']).toBe(1);
      expect(await rejectsOf(w, file)).toEqual([redirected(3, '2026-02-12')]);
      expect(await holdings(w, A, B, C)).toEqual([
        [0, 0],
        [461, 30000],
        [0, 0],
      ]);
      // What partners and later rejects are told is where the points are.
      expect(await w.member(A.number)).toMatchObject({
        status: 'MERGED',
        merged_into: B.number,
        source_updated_at: expect.stringContaining('2026-02-12T09:00:00'),
      });
    });

    it('refuses a second survivor on a later night, one not enrolled yet included, and moves nothing', async () => {
      const w = s();
      await aHasFlown(w);
      w.dropMembers([merged(A, B, '2026-02-12T09:00:00Z')]);
      await w.night('2026-02-12');
      const postings = await w.postingCount();
      const later = w.dropMembers([merged(A, C, '2026-02-13T09:00:00Z')]);
      const n = await w.night('2026-02-13');
      expect(n.ingest.counts['members.merged']).toBeUndefined();
      expect(await rejectsOf(w, later)).toEqual([redirected(2, '2026-02-12')]);

      const N: Person = { ...A, number: memberNumber(45) };
      const unknown = w.dropMembers([merged(A, N, '2026-02-14T09:00:00Z')]);
      const waited = await w.night('2026-02-14');
      expect(waited.ingest.counts['members.waiting']).toBeUndefined();
      expect((await rejectsOf(w, unknown)).map((r) => r.slice(0, 3))).toEqual([
        [2, 'merged_into', 'INCONSISTENT_FIELDS'],
      ]);
      expect(await w.knex('member_merges_waiting').count({ n: '*' }).first()).toMatchObject({ n: 0 });
      expect(await w.postingCount()).toBe(postings);
      expect(await holdings(w, A, B, C)).toEqual([
        [0, 0],
        [461, 30000],
        [0, 0],
      ]);
    });

    it('takes a record naming the account the points moved on to since: no redirect', async () => {
      const w = s();
      await aHasFlown(w);
      w.dropMembers([merged(A, B, '2026-02-12T09:00:00Z'), merged(B, C, '2026-02-12T10:00:00Z')]);
      await w.night('2026-02-12');
      const file = w.dropMembers([merged(A, C, '2026-02-13T09:00:00Z')]);
      await w.night('2026-02-13');
      expect(await w.rejects({ file_id: await w.inboundFileId(file) })).toEqual([]);
      expect(await w.member(A.number)).toMatchObject({ status: 'MERGED', merged_into: C.number });
      expect(await holdings(w, A, B, C)).toEqual([
        [0, 0],
        [0, 0],
        [461, 30000],
      ]);
    });
    it('takes the merged member’s record sent again naming the survivor the CRM chose, merged on before the merge, and moves what reached the account since', async () => {
      const w = s();
      await aHasFlown(w);
      w.dropRedemptions([{ id: 'R-1', member: A.number, date: '2026-02-11', service: 'SEAT', points: 100 }]);
      await w.night('2026-02-12');
      // B was merged into C before A was merged into B: A's merge landed at C, stored as A's merged_into.
      w.dropMembers([merged(B, C, '2026-02-13T09:00:00Z')]);
      await w.night('2026-02-13');
      w.dropMembers([merged(A, B, '2026-02-14T09:00:00Z')]);
      await w.night('2026-02-14');
      expect(await holdings(w, A, C)).toEqual([
        [0, 0],
        [361, 30000],
      ]);
      w.dropRedemptions([
        {
          id: 'R-1',
          member: A.number,
          date: '2026-02-11',
          service: 'SEAT',
          points: 100,
          status: 'CANCELLED',
        },
      ]);
      await w.night('2026-02-15');
      expect(await w.balance(A.number)).toBe(100);

      // The CRM's record of A, as it knows it (merged into B), sent again with a new given name.
      const file = w.dropMembers([{ ...merged(A, B, '2026-02-16T09:00:00Z'), givenName: 'PAVEL I' }]);
      const n = await w.night('2026-02-16');
      expect(await w.rejects({ file_id: await w.inboundFileId(file) })).toEqual([]);
      expect(n.ingest.counts['members.merged']).toBe(1);
      expect(await w.member(A.number)).toMatchObject({
        status: 'MERGED',
        merged_into: C.number,
        given_name: 'PAVEL I',
      });
      expect(await holdings(w, A, B, C)).toEqual([
        [0, 0],
        [0, 0],
        [461, 30000],
      ]);
      expect(await w.posting(`MERGE:${A.number}:${C.number}:2026-02-16T09:00:00.000Z`)).toMatchObject({
        entries: { [Accounts.memberPoints(A.number)]: -100, [Accounts.memberPoints(C.number)]: 100 },
      });
    });
  });

  describe(`a merge into a survivor the CRM enrols in the same delivery or later (${engine})`, () => {
    const s = useScenario(engine);
    /** The account the CRM opens to merge A into: not a member until its record comes. */
    const N: Person = { ...A, number: memberNumber(45), enrolled: '2026-03-01' };

    it('lands when the survivor’s record is stamped after the merge in the same file, and a rerun posts nothing', async () => {
      const w = s();
      await aHasFlown(w);
      const file = w.dropMembers([
        merged(A, N, '2026-03-01T10:00:00Z'),
        { ...N, updatedAt: '2026-03-01T10:00:01Z' },
      ]);
      const n = await w.night('2026-03-02');
      expect(n.ingest.counts).toMatchObject({ 'members.enrolled': 1, 'members.merged': 1 });
      expect(await w.rejects({ file_id: await w.inboundFileId(file) })).toEqual([]);
      expect(await w.member(A.number)).toMatchObject({ status: 'MERGED', merged_into: N.number });
      expect(await holdings(w, A, N)).toEqual([
        [0, 0],
        [461, 30000],
      ]);
      const postings = await w.postingCount();
      await w.night('2026-03-02');
      expect(await w.postingCount()).toBe(postings);
    });

    it('waits across files and nights for the survivor, then lands; one refused then is rejected on its own line', async () => {
      const w = s();
      await aHasFlown(w);
      const waitFile = w.dropMembers([merged(A, N, '2026-03-01T10:00:00Z')]);
      const first = await w.night('2026-03-02');
      expect(first.ingest.counts['members.waiting']).toBe(1);
      expect(first.ingest.counts['reject.MEMBER_UNKNOWN']).toBeUndefined();
      expect(first.ingest.warnings).toContain(
        `${waitFile} line 2, merged_into: ${A.number} is merged into ${N.number}, not a member yet; the merge waits (since 2026-03-02) for ${N.number}'s record, and ${A.number} keeps its points until then: ask the CRM to send ${N.number}'s record in the members feed`,
      );
      // Waiting, A keeps everything and can spend it.
      expect(await w.member(A.number)).toMatchObject({ status: 'ACTIVE', merged_into: null });
      expect(await holdings(w, A)).toEqual([[461, 30000]]);

      w.dropMembers([{ ...N, updatedAt: '2026-03-02T08:00:00Z' }]);
      const second = await w.night('2026-03-03');
      expect(second.ingest.counts).toMatchObject({ 'members.enrolled': 1, 'members.merged': 1 });
      expect((second.ingest.warnings ?? []).filter((m) => m.includes('merged_into'))).toEqual([]);
      expect(await holdings(w, A, N)).toEqual([
        [0, 0],
        [461, 30000],
      ]);

      // B's merge into an account that comes closed is refused on the merge's own file and line.
      const O: Person = { ...A, number: memberNumber(46) };
      const merge = w.dropMembers([merged(B, O, '2026-03-03T10:00:00Z')]);
      w.dropMembers([{ ...O, status: 'CLOSED', updatedAt: '2026-03-03T11:00:00Z' }]);
      const third = await w.night('2026-03-04');
      // Read the same night before O's file, the merge's file counts it a reject, no longer waiting,
      // and so do the night's totals.
      expect(await fileCounts(w, merge)).toEqual({ lines: 2, records: 0, rejects: 1 });
      expect(third.ingest.counts).toMatchObject({ records: 1, rejects: 1, 'reject.ACCOUNT_CLOSED': 1 });
      expect(third.ingest.counts['members.waiting']).toBeUndefined();
      expect(
        (await w.rejects({ file_id: await w.inboundFileId(merge) })).map((r) => [
          r.line,
          r.reason,
          r.message,
        ]),
      ).toEqual([
        [
          2,
          'ACCOUNT_CLOSED',
          `${B.number} is merged into ${O.number}, which is closed: nothing moved, ${B.number} stays as it was`,
        ],
      ]);
      expect(await w.member(B.number)).toMatchObject({ status: 'ACTIVE' });
    });

    it('counts a waiting merge refused when its survivor comes closed later in its file as a reject of that file', async () => {
      const w = s();
      await aHasFlown(w);
      const Q: Person = { ...A, number: memberNumber(48), status: 'CLOSED', enrolled: '2026-03-01' };
      // A into N, N into Q, neither a member yet; then Q's record, closed.
      const file = w.dropMembers([
        merged(A, N, '2026-03-01T10:00:00Z'),
        merged(N, Q, '2026-03-01T11:00:00Z'),
        { ...Q, updatedAt: '2026-03-01T12:00:00Z' },
      ]);
      const n = await w.night('2026-03-02');
      expect(
        (await w.rejects({ file_id: await w.inboundFileId(file) })).map((r) => [r.line, r.field, r.reason]),
      ).toEqual([[3, 'merged_into', 'ACCOUNT_CLOSED']]);
      expect(await w.knex('member_merges_waiting').select('member_number')).toEqual([
        { member_number: A.number },
      ]);
      expect(await fileCounts(w, file)).toEqual({
        lines: 4,
        records: 2,
        rejects: 1,
        waiting: 1,
        enrolled: 1,
      });
      expect(n.ingest.counts).toMatchObject({
        records: 2,
        rejects: 1,
        'reject.ACCOUNT_CLOSED': 1,
        'members.waiting': 1,
        'members.enrolled': 1,
      });
      expect(await holdings(w, A)).toEqual([[461, 30000]]);
    });

    it('counts a merge that waited on an earlier night and is refused now as a reject of its own file, whose own night reads as it was', async () => {
      const w = s();
      await aHasFlown(w);
      const waitFile = w.dropMembers([merged(A, N, '2026-03-01T10:00:00Z')]);
      await w.night('2026-03-02');
      expect(await fileCounts(w, waitFile)).toEqual({ lines: 2, records: 1, rejects: 0, waiting: 1 });

      const closed = w.dropMembers([{ ...N, status: 'CLOSED', updatedAt: '2026-03-02T08:00:00Z' }]);
      const n = await w.night('2026-03-03');
      expect(
        (await w.rejects({ file_id: await w.inboundFileId(waitFile) })).map((r) => [
          r.line,
          r.reason,
          r.business_date,
        ]),
      ).toEqual([[2, 'ACCOUNT_CLOSED', '2026-03-03']]);
      expect(await fileCounts(w, waitFile)).toEqual({ lines: 2, records: 0, rejects: 1 });
      expect(await fileCounts(w, closed)).toEqual({ lines: 2, records: 1, rejects: 0, enrolled: 1 });
      // The night of the merge's file still reads the counts it left; the change is tonight's.
      expect(await countsHistory(w, waitFile)).toEqual([
        ['2026-03-02', { lines: 2, records: 1, rejects: 0, waiting: 1 }],
        ['2026-03-03', { lines: 2, records: 0, rejects: 1 }],
      ]);
      expect(n.ingest.counts).toMatchObject({ records: 1, rejects: 1, 'reject.ACCOUNT_CLOSED': 1 });
      expect(n.ingest.counts['members.waiting']).toBeUndefined();
      expect(await holdings(w, A)).toEqual([[461, 30000]]);

      // Run again, the night reads no file and counts nothing twice.
      const again = await w.night('2026-03-03');
      expect(again.ingest.counts).toMatchObject({ records: 0, rejects: 0 });
      expect(await fileCounts(w, waitFile)).toEqual({ lines: 2, records: 0, rejects: 1 });
      expect(await w.rejects({ file_id: await w.inboundFileId(waitFile) })).toHaveLength(1);
    });

    it('refuses a survivor whose check digit fails instead of waiting for a record that cannot come', async () => {
      const w = s();
      await aHasFlown(w);
      const typo = badCheckDigit(B.number);
      const file = w.dropMembers([merged(A, { ...B, number: typo }, '2026-03-01T10:00:00Z')]);
      const n = await w.night('2026-03-02');
      expect(n.ingest.counts['members.waiting']).toBeUndefined();
      expect(n.ingest.counts['reject.CHECK_DIGIT']).toBe(1);
      expect(
        (await w.rejects({ file_id: await w.inboundFileId(file) })).map((r) => [
          r.line,
          r.field,
          r.reason,
          r.text,
        ]),
      ).toEqual([[2, 'merged_into', 'CHECK_DIGIT', typo]]);
      expect((n.ingest.warnings ?? []).filter((m) => m.includes('merged_into'))).toEqual([]);
      expect(await w.member(A.number)).toMatchObject({ status: 'ACTIVE', merged_into: null });
      expect(await holdings(w, A)).toEqual([[461, 30000]]);
    });

    it('says of a merge left waiting for a number that breaks the rule that its record cannot come', async () => {
      const w = s();
      await aHasFlown(w);
      const file = w.dropMembers([merged(A, N, '2026-03-01T10:00:00Z')]);
      await w.night('2026-03-02');
      // As a merge read before the reader held merged_into to the rule was left.
      const typo = badCheckDigit(B.number);
      await w.knex('member_merges_waiting').update({ merged_into: typo });
      const n = await w.night('2026-03-03');
      expect(n.ingest.warnings).toContain(
        `${file} line 2, merged_into: ${A.number} is merged into ${typo}, not a member yet; the merge waits (since 2026-03-02) ` +
          `for ${typo}'s record, and ${A.number} keeps its points until then: ${typo} is no number of this program ` +
          `(its check digit fails), so none will come: ask the CRM to send ${A.number}'s record with the survivor's number`,
      );
    });

    it('keeps a merge waiting behind a newer record of the merged member refused for its own survivor', async () => {
      const w = s();
      await aHasFlown(w);
      w.dropMembers([
        { ...B, status: 'CLOSED', updatedAt: '2026-03-01T09:00:00Z' },
        merged(A, N, '2026-03-01T10:00:00Z'),
      ]);
      await w.night('2026-03-02');
      // The CRM's newer record merges A into B, closed: refused, nothing applied, as a record the
      // parser refuses leaves the merge into N waiting.
      const refused = w.dropMembers([merged(A, B, '2026-03-02T10:00:00Z')]);
      await w.night('2026-03-03');
      expect(
        (await w.rejects({ file_id: await w.inboundFileId(refused) })).map((r) => [r.line, r.reason]),
      ).toEqual([[2, 'ACCOUNT_CLOSED']]);
      expect(await w.knex('member_merges_waiting').select('member_number', 'merged_into')).toEqual([
        { member_number: A.number, merged_into: N.number },
      ]);
      w.dropMembers([{ ...N, updatedAt: '2026-03-03T08:00:00Z' }]);
      const landed = await w.night('2026-03-04');
      expect(landed.ingest.counts).toMatchObject({ 'members.enrolled': 1, 'members.merged': 1 });
      expect(await holdings(w, A, N)).toEqual([
        [0, 0],
        [461, 30000],
      ]);
    });

    it('takes a row older than the waiting merge as older: no second wait, no merge into another survivor', async () => {
      const w = s();
      await aHasFlown(w);
      const M: Person = { ...A, number: memberNumber(47) };
      await w.enrol('2026-02-20', M);
      w.dropMembers([merged(A, N, '2026-03-01T10:00:00Z')]);
      expect((await w.night('2026-03-02')).ingest.counts['members.waiting']).toBe(1);
      // The CRM's delta brings older rows of A: the same merge stamped earlier, then a merge into M.
      w.dropMembers([merged(A, N, '2026-03-01T09:00:00Z')]);
      w.dropMembers([merged(A, M, '2026-03-01T09:30:00Z')]);
      const older = await w.night('2026-03-03');
      expect(older.ingest.counts).toMatchObject({ 'members.older': 2 });
      expect(older.ingest.counts['members.merged']).toBeUndefined();
      expect(await holdings(w, A, M)).toEqual([
        [461, 30000],
        [0, 0],
      ]);
      // N comes: the waiting merge lands, once, where the CRM last said.
      w.dropMembers([{ ...N, updatedAt: '2026-03-03T08:00:00Z' }]);
      const landed = await w.night('2026-03-04');
      expect(landed.ingest.counts).toMatchObject({ 'members.enrolled': 1, 'members.merged': 1 });
      expect(await w.member(A.number)).toMatchObject({ status: 'MERGED', merged_into: N.number });
      expect(await holdings(w, A, M, N)).toEqual([
        [0, 0],
        [0, 0],
        [461, 30000],
      ]);
    });

    it('is superseded by a newer record of the merged member before the survivor comes', async () => {
      const w = s();
      await aHasFlown(w);
      const file = w.dropMembers([
        merged(A, N, '2026-03-01T10:00:00Z'),
        { ...A, givenName: 'PAVEL I', updatedAt: '2026-03-01T11:00:00Z' },
      ]);
      const first = await w.night('2026-03-02');
      expect(first.ingest.counts['members.waiting']).toBe(1);
      expect(await w.rejects({ file_id: await w.inboundFileId(file) })).toEqual([]);
      w.dropMembers([{ ...N, updatedAt: '2026-03-02T08:00:00Z' }]);
      const n = await w.night('2026-03-03');
      expect(n.ingest.counts['members.merged']).toBeUndefined();
      expect(await w.member(A.number)).toMatchObject({ status: 'ACTIVE', given_name: 'PAVEL I' });
      expect(await holdings(w, A, N)).toEqual([
        [461, 30000],
        [0, 0],
      ]);
    });
  });

  describe(`rows of one member with one updated_at (${engine})`, () => {
    const s = useScenario(engine);
    const T = '2026-03-01T10:00:00Z';

    it('applies the later line of a file over the earlier one, a merge included', async () => {
      const w = s();
      await aHasFlown(w);
      w.dropMembers([{ ...A, updatedAt: T }, merged(A, B, T)]);
      const n = await w.night('2026-03-02');
      expect(n.ingest.counts).toMatchObject({
        'members.updated': 1,
        'members.toMERGED': 1,
        'members.merged': 1,
      });
      expect(n.ingest.counts['members.older']).toBeUndefined();
      expect(await w.member(A.number)).toMatchObject({ status: 'MERGED', merged_into: B.number });
      expect(await holdings(w, A, B)).toEqual([
        [0, 0],
        [461, 30000],
      ]);
    });

    it('applies the later file of a night over the earlier one, and counts the record sent again on a later night as such', async () => {
      const w = s();
      await aHasFlown(w);
      w.dropMembers([{ ...A, updatedAt: T }]);
      w.dropMembers([merged(A, B, T)]);
      const n = await w.night('2026-03-02');
      expect(n.ingest.counts['members.merged']).toBe(1);
      expect(await holdings(w, A, B)).toEqual([
        [0, 0],
        [461, 30000],
      ]);

      const postings = await w.postingCount();
      // The CRM's next delta carries A's record again beside a change of C's (a copy alone is no new file).
      w.dropMembers([merged(A, B, T), { ...C, updatedAt: '2026-03-02T09:00:00Z' }]);
      const again = await w.night('2026-03-03');
      expect(again.ingest.counts['members.sentAgain']).toBe(1);
      expect(again.ingest.counts['members.older']).toBeUndefined();
      expect(await w.postingCount()).toBe(postings);
    });
  });

  describe(`a merged or pooled member's record sent again (${engine})`, () => {
    const s = useScenario(engine);

    /** A's 461 points less R-1 (100) and R-2 (50), redeemed on 2026-02-12. */
    async function aRedeemed(w: Scenario): Promise<void> {
      await aHasFlown(w);
      w.dropRedemptions([
        { id: 'R-1', member: A.number, date: '2026-02-12', service: 'SEAT', points: 100 },
        { id: 'R-2', member: A.number, date: '2026-02-12', service: 'SEAT', points: 50 },
      ]);
      await w.night('2026-02-12');
      expect(await w.balance(A.number)).toBe(311);
    }
    const cancelled = (id: string, points: number, date: string) => ({
      id,
      member: A.number,
      date,
      service: 'SEAT',
      points,
      status: 'CANCELLED' as const,
    });

    it('moves what reached a merged account each time its record comes, twice in one business date, and a rerun posts nothing', async () => {
      const w = s();
      await aRedeemed(w);
      w.dropMembers([merged(A, B, '2026-02-13T09:00:00Z')]);
      await w.night('2026-02-13');
      expect(await w.balance(B.number)).toBe(311);
      w.dropRedemptions([cancelled('R-1', 100, '2026-02-14')]);
      await w.night('2026-02-14');
      expect(await w.balance(A.number)).toBe(100);

      w.dropMembers([{ ...merged(A, B, '2026-02-15T09:00:00Z'), givenName: 'PAVEL IGOREVICH' }]);
      w.dropRedemptions([cancelled('R-2', 50, '2026-02-15')]);
      await w.night('2026-02-15');
      expect([await w.balance(A.number), await w.balance(B.number)]).toEqual([50, 411]);
      // A later CRM delta the same day sends A again: the night is run again for it.
      w.dropMembers([{ ...merged(A, B, '2026-02-15T18:00:00Z'), givenName: 'PAVEL I' }]);
      const again = await w.night('2026-02-15');
      expect(again.ingest.counts['members.merged']).toBe(1);
      expect([await w.balance(A.number), await w.balance(B.number)]).toEqual([0, 461]);
      expect((await w.postingsOf(B.number)).filter((p) => p.kind === 'TRANSFER').map((p) => p.key)).toEqual([
        `MERGE:${A.number}:${B.number}`,
        `MERGE:${A.number}:${B.number}:2026-02-15T09:00:00.000Z`,
        `MERGE:${A.number}:${B.number}:2026-02-15T18:00:00.000Z`,
      ]);
      expect((await w.posting(`MERGE:${A.number}:${B.number}:2026-02-15T18:00:00.000Z`))?.entries).toEqual({
        [Accounts.memberPoints(A.number)]: -50,
        [Accounts.memberPoints(B.number)]: 50,
      });
      const postings = await w.postingCount();
      await w.night('2026-02-15');
      expect(await w.postingCount()).toBe(postings);
    });

    it('applies a merged member’s record sent again after the survivor closed, and says what reached the account since and stays there', async () => {
      const w = s();
      await aRedeemed(w);
      w.dropMembers([merged(A, B, '2026-02-13T09:00:00Z')]);
      await w.night('2026-02-13');
      w.dropMembers([{ ...B, status: 'CLOSED', updatedAt: '2026-02-14T09:00:00Z' }]);
      await w.night('2026-02-14');
      expect(await holdings(w, A, B)).toEqual([
        [0, 0],
        [311, 30000],
      ]);

      // Nothing to move: the record's changes are simply applied, every night it comes.
      const file = w.dropMembers([{ ...merged(A, B, '2026-02-15T09:00:00Z'), email: 'pavel@example.com' }]);
      const n = await w.night('2026-02-15');
      expect(await w.rejects({ file_id: await w.inboundFileId(file) })).toEqual([]);
      expect(n.ingest.counts).toMatchObject({ records: 1, rejects: 0, 'members.updated': 1 });
      expect(n.ingest.counts['members.notMoved']).toBeUndefined();
      expect((n.ingest.warnings ?? []).filter((m) => m.includes(A.number))).toEqual([]);
      expect(await w.member(A.number)).toMatchObject({
        status: 'MERGED',
        merged_into: B.number,
        email: 'pavel@example.com',
      });

      // A redemption cancelled after the merge gives 100 points back to A's closed account: they cannot
      // follow the merge to B, closed, and the night says so with the record applied.
      w.dropRedemptions([cancelled('R-1', 100, '2026-02-16')]);
      await w.night('2026-02-16');
      const again = w.dropMembers([{ ...merged(A, B, '2026-02-17T09:00:00Z'), email: 'p@example.com' }]);
      const m = await w.night('2026-02-17');
      expect(await w.rejects({ file_id: await w.inboundFileId(again) })).toEqual([]);
      expect(m.ingest.counts).toMatchObject({ records: 1, rejects: 0, 'members.notMoved': 1 });
      expect(m.ingest.warnings).toContain(
        `${again} line 2, merged_into: ${A.number} is merged into ${B.number}, which is closed: the record is applied, ` +
          `but the 100 points that reached ${A.number} since its merge stay on its closed account, where nobody can spend them; ` +
          `moving them on is a correction for the back office, which no feed or command makes yet`,
      );
      expect(await w.member(A.number)).toMatchObject({ merged_into: B.number, email: 'p@example.com' });
      expect(await holdings(w, A, B)).toEqual([
        [100, 0],
        [311, 30000],
      ]);
    });

    it('moves what reached a pool member’s own account each time their record comes, twice in one business date', async () => {
      const w = s();
      await aRedeemed(w);
      const pooled = (updatedAt: string): Person => ({
        ...A,
        group: { type: 'HOUSEHOLD', id: 'H9' },
        updatedAt,
      });
      w.dropMembers([pooled('2026-02-13T09:00:00Z')]);
      await w.night('2026-02-13');
      expect(await w.poolBalance('H9')).toBe(311);
      w.dropRedemptions([cancelled('R-1', 100, '2026-02-14')]);
      await w.night('2026-02-14');
      expect(await w.balance(A.number)).toBe(100);

      w.dropMembers([pooled('2026-02-15T09:00:00Z')]);
      w.dropRedemptions([cancelled('R-2', 50, '2026-02-15')]);
      await w.night('2026-02-15');
      expect([await w.balance(A.number), await w.poolBalance('H9')]).toEqual([50, 411]);
      w.dropMembers([pooled('2026-02-15T18:00:00Z')]);
      const again = await w.night('2026-02-15');
      expect(again.ingest.counts['members.pooled']).toBe(1);
      expect([await w.balance(A.number), await w.poolBalance('H9')]).toEqual([0, 461]);
      expect(await w.posting(`POOL:${A.number}:H9:2026-02-15T18:00:00.000Z`)).toMatchObject({
        entries: { [Accounts.memberPoints(A.number)]: -50, [Accounts.poolPoints('H9')]: 50 },
      });
      const postings = await w.postingCount();
      await w.night('2026-02-15');
      expect(await w.postingCount()).toBe(postings);
    });
  });
}
