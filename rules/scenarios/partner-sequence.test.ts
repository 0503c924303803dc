/**
 * Partner file sequences (partner-accrual.md): "a gap is reported as a warning, a repeat of an already
 * processed sequence with different content is rejected as a duplicate file". A late file that fills a
 * gap is neither: nights run out of order (night 07 before night 06) must still credit it.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { allianceKey, partnerKey } from '../activity.js';
import { exportJob } from '../../jobs/export.js';
import {
  memberNumber,
  useScenario,
  type AllianceClaimInput,
  type Person,
  type Scenario,
} from './scenario.js';
import { exportCopy } from '../../test/harness/files.js';

const IVANOV: Person = { number: memberNumber(1), surname: 'IVANOV', givenName: 'IVAN' };

const stay = (txn: string, spend = '100.00') => ({
  txn,
  member: IVANOV.number,
  surname: 'IVANOV',
  date: '2026-03-04',
  type: 'STAY',
  spend,
  currency: 'USD',
});

/** The partner response written for the inbound file `name`: its header and detail lines. */
async function response(w: Scenario, name: string): Promise<string[]> {
  const inbound = await w.knex('files').where({ direction: 'in', feed: 'partner', name }).first();
  const out = await w
    .knex('files')
    .where({ direction: 'out', feed: 'partner-response', answers_file_id: inbound.id })
    .first();
  expect(out, `response to ${name}`).toBeDefined();
  return readFileSync(exportCopy(w.w.config, out.local_path), 'utf8').split('\r\n').filter(Boolean);
}

const verdictOf = async (w: Scenario, name: string) =>
  w.knex('files').where({ direction: 'in', feed: 'partner', name }).first('verdict', 'reason', 'message');

/** IVANOV's LH1444 FRA-SVO in C on `date`, claimed by LH as `id`: 2514 points on the LH-2025 chart. */
const lhClaim = (id: string, date: string): AllianceClaimInput => ({
  id,
  member: IVANOV.number,
  surname: IVANOV.surname,
  carrier: 'LH',
  flight: '1444',
  date,
  from: 'FRA',
  to: 'SVO',
  cabin: 'C',
  rbd: 'C',
});

const claimsFile = async (w: Scenario, name: string) =>
  w
    .knex('files')
    .where({ direction: 'in', feed: 'alliance-claims', name })
    .first('id', 'verdict', 'reason', 'message', 'sequence');

/** The results files written, by name, with the claims each answers. */
async function resultsFiles(w: Scenario): Promise<Array<{ name: string; xml: string }>> {
  const rows = await w
    .knex('files')
    .where({ direction: 'out', feed: 'alliance-results' })
    .orderBy('id')
    .select('name', 'local_path');
  return rows.map((r) => ({
    name: String(r.name),
    xml: readFileSync(exportCopy(w.w.config, r.local_path), 'utf8'),
  }));
}

for (const engine of availableEngines()) {
  describe(`partner file sequences (${engine})`, () => {
    const s = useScenario(engine);

    it('credits a late file that fills a sequence gap, and still refuses a true repeat of it as DUPLICATE_FILE', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropPartner('GRANDSTAY', '2026-03-05', [stay('G-887')], 887);
      await w.night('2026-03-05');
      await w.run(exportJob, '2026-03-05');

      // Night 07: 889 comes before 888, and the gap is a warning.
      w.dropPartner('GRANDSTAY', '2026-03-07', [stay('G-889')], 889);
      const seventh = await w.night('2026-03-07');
      expect(seventh.ingest.warnings).toContain(
        'GRANDSTAY_20260307_889.csv (GRANDSTAY): file sequence jumps from 887 to 889',
      );
      await w.run(exportJob, '2026-03-07');

      // Then 888 comes late, the next night: not seen before, it fills the gap (and the simulator, asked
      // first, says so too).
      w.dropPartner('GRANDSTAY', '2026-03-08', [stay('G-888')], 888);
      const eighth = await w.night('2026-03-08');
      expect(await verdictOf(w, 'GRANDSTAY_20260308_888.csv')).toMatchObject({
        verdict: 'accepted',
        reason: null,
      });
      expect(eighth.ingest.warnings).toContain(
        'GRANDSTAY_20260308_888.csv (GRANDSTAY): file sequence 888 arrived late (after 889) and fills a gap',
      );
      await w.run(exportJob, '2026-03-08');

      for (const seq of [887, 888, 889]) {
        expect(await w.activity(partnerKey('GRANDSTAY', `G-${seq}`))).toMatchObject({
          status: 'POSTED',
          points: 200, // STAY under GRANDSTAY-2024: 2 per dollar
        });
        const day = { 887: '05', 888: '08', 889: '07' }[seq]!;
        const lines = await response(w, `GRANDSTAY_202603${day}_${seq}.csv`);
        expect(lines[0]).toMatch(new RegExp(`^H,GRANDSTAY,${seq},[^,]+,1,0,OK$`));
        expect(lines[1]).toMatch(new RegExp(`^D,G-${seq},${IVANOV.number},A,200,`));
      }
      expect(await w.balance(IVANOV.number)).toBe(600);

      // 888 again, with other content: a true repeat, refused whole and answered DUPLICATE_FILE.
      w.dropPartner('GRANDSTAY', '2026-03-09', [stay('G-888B', '50.00')], 888);
      await w.night('2026-03-09');
      expect(await verdictOf(w, 'GRANDSTAY_20260309_888.csv')).toMatchObject({
        verdict: 'rejected',
        reason: 'DUPLICATE_FILE',
        message: expect.stringMatching(
          /^sequence 888 of GRANDSTAY was already processed \(GRANDSTAY_20260308_888\.csv, file \d+\) with other content$/,
        ),
      });
      expect(await w.activity(partnerKey('GRANDSTAY', 'G-888B'))).toBeUndefined();
      expect(await w.balance(IVANOV.number)).toBe(600);
      await w.run(exportJob, '2026-03-09');
      const refused = await response(w, 'GRANDSTAY_20260309_888.csv');
      expect(refused[0]).toMatch(/^H,GRANDSTAY,888,[^,]+,0,0,DUPLICATE_FILE$/);
      expect(refused.filter((l) => l.startsWith('D,'))).toEqual([]);
    });

    it('reads two files of one night in the order the partner numbered them, _9 before _10: no false gap, the credit before its reversal', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropPartner('GRANDSTAY', '2026-03-04', [stay('G-1')], 8);
      await w.night('2026-03-04');
      // Landed together, _10 comes first by its name as text.
      w.dropPartner('GRANDSTAY', '2026-03-05', [stay('G-2', '150.00')], 9);
      w.dropPartner('GRANDSTAY', '2026-03-05', [stay('G-2-R', '-150.00')], 10);
      const night = await w.night('2026-03-05');
      expect(night.ingest.warnings ?? []).toEqual([]);
      expect(await w.activity(partnerKey('GRANDSTAY', 'G-2'))).toMatchObject({ status: 'REVERSED' });
      expect(await w.activity(partnerKey('GRANDSTAY', 'G-2-R'))).toMatchObject({
        status: 'POSTED',
        points: -300,
      });
      expect(await w.balance(IVANOV.number)).toBe(200);
    });
  });

  describe(`partner airline claims file sequences (${engine})`, () => {
    const s = useScenario(engine);

    it('warns a gap in LH’s claims files and refuses a sequence already accepted, sent again with other claims, as DUPLICATE_FILE', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      const first = w.dropAllianceClaims('LH', [lhClaim('LH-1', '2026-03-01')], 1);
      await w.night('2026-03-06');
      await w.run(exportJob, '2026-03-06');

      const fifth = w.dropAllianceClaims('LH', [lhClaim('LH-2', '2026-03-02')], 5);
      const seventh = await w.night('2026-03-07');
      expect(seventh.ingest.warnings).toContain(`${fifth} (LH): file sequence jumps from 1 to 5`);
      expect(await claimsFile(w, fifth)).toMatchObject({ verdict: 'accepted', sequence: 5 });
      await w.run(exportJob, '2026-03-07');

      // 5 again, other claims: refused whole, nothing credited, and no results file to take 5's name.
      const again = w.dropAllianceClaims('LH', [lhClaim('LH-3', '2026-03-03')], 5);
      await w.night('2026-03-08');
      const fifthId = (await claimsFile(w, fifth))!.id;
      expect(await claimsFile(w, again)).toMatchObject({
        verdict: 'rejected',
        reason: 'DUPLICATE_FILE',
        message: `sequence 5 of LH was already processed (${fifth}, file ${fifthId}) with other content`,
      });
      expect(await w.activity(allianceKey('LH', 'LH-3'))).toBeUndefined();
      expect(await w.balance(IVANOV.number)).toBe(2 * 2514);
      await w.run(exportJob, '2026-03-08');
      await w.run(exportJob, '2026-03-09');
      expect((await resultsFiles(w)).map((f) => f.name)).toEqual([
        'LH_XX_000001.results.xml',
        'LH_XX_000005.results.xml',
      ]);

      // The next number follows the last accepted: no warning.
      const sixth = w.dropAllianceClaims('LH', [lhClaim('LH-3', '2026-03-03')], 6);
      const tenth = await w.night('2026-03-10');
      expect(tenth.ingest.warnings ?? []).toEqual([]);
      expect(await claimsFile(w, sixth)).toMatchObject({ verdict: 'accepted', sequence: 6 });
      expect(await claimsFile(w, first)).toMatchObject({ verdict: 'accepted', sequence: 1 });
    });

    it('reads LH’s claims files of one night in the order of their FileSequence, whatever their names: the first claim of a flight is the one credited', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropAllianceClaims('LH', [lhClaim('LH-1', '2026-03-01')], 1);
      await w.night('2026-03-06');
      // The partner's names sort 3 before 2; both files claim the flight of 03-02.
      w.dropAllianceClaims('LH', [lhClaim('LH-3', '2026-03-02')], 3, 'LH_b.xml');
      w.dropAllianceClaims('LH', [lhClaim('LH-2', '2026-03-02')], 2, 'LH_c.xml');
      const night = await w.night('2026-03-07');
      expect(night.ingest.warnings ?? []).toEqual([]);
      expect(await claimsFile(w, 'LH_c.xml')).toMatchObject({ verdict: 'accepted', sequence: 2 });
      expect(await claimsFile(w, 'LH_b.xml')).toMatchObject({ verdict: 'accepted', sequence: 3 });
      expect(await w.activity(allianceKey('LH', 'LH-2'))).toMatchObject({ status: 'POSTED', points: 2514 });
      // Decided after LH-2, in the order the files were read: the flight is LH-2's.
      expect(await w.activity(allianceKey('LH', 'LH-3'))).toMatchObject({
        status: 'REJECTED',
        reason: 'DUPLICATE',
        reason_field: 'ClaimId',
        points: 0,
      });
      expect((await w.activity(allianceKey('LH', 'LH-3')))?.reason_message).toMatch(/as LH claim LH-2$/);
      expect(await w.rejects({ feed: 'alliance-claims' })).toEqual([]);
    });

    it('answers two claims files accepted under one sequence before a repeat was refused, the later under a name of its own', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      const fifth = w.dropAllianceClaims('LH', [lhClaim('LH-2', '2026-03-02')], 5);
      await w.night('2026-03-07');
      await w.run(exportJob, '2026-03-07');
      const repeat = w.dropAllianceClaims('LH', [lhClaim('LH-3', '2026-03-03')], 6);
      await w.night('2026-03-08');
      // As a night before the fix stored it: LH's second file 5 accepted and credited.
      await w
        .knex('files')
        .where({ direction: 'in', feed: 'alliance-claims', name: repeat })
        .update({ sequence: 5 });
      const ids = [(await claimsFile(w, fifth))!.id, (await claimsFile(w, repeat))!.id];

      const exported = await w.run(exportJob, '2026-03-08');
      const files = await resultsFiles(w);
      expect(files.map((f) => f.name)).toEqual(['LH_XX_000005.results.xml', 'LH_XX_000005-2.results.xml']);
      expect(files[1]!.xml).toMatch(/<FileSequence>5<\/FileSequence>/);
      expect(files[1]!.xml).toMatch(/<ClaimId>LH-3<\/ClaimId>\s*<Accepted>/);
      expect(files[1]!.xml).not.toContain('LH-2');
      expect(exported.warnings).toContain(
        `LH_XX_000005-2.results.xml: answers ${repeat} (file ${ids[1]}), which LH sent under sequence 5 already used by ${fifth} (file ${ids[0]}, answered in LH_XX_000005.results.xml); both results files answer sequence 5: tell LH which of its files each answers`,
      );
      // A rerun writes nothing new and warns no more.
      const rerun = await w.run(exportJob, '2026-03-08');
      expect(rerun.warnings ?? []).not.toContainEqual(expect.stringContaining('results.xml: answers'));
      expect((await resultsFiles(w)).length).toBe(2);
    });
  });
}
