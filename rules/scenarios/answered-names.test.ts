/**
 * Every partner and hotel request read gets exactly one response, also one sent under a name an earlier
 * request's response already holds: a partner file released after a name conflict, the next document of
 * a hotel that reuses one file name. The earlier response is never written over (it may be at the
 * partner's), the later one takes a name of its own, and a rerun of the night writes nothing new.
 */
import { existsSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { exportCopy } from '../../test/harness/files.js';
import { decideHeld } from '../../jobs/registry.js';
import { deliverJob } from '../../jobs/deliver.js';
import { exportJob } from '../../jobs/export.js';
import { parsePartnerFileName } from '../../parsers/partner.js';
import { partnerKey } from '../activity.js';
import { memberNumber, replaceOnce, useScenario, type Person, type Scenario } from './scenario.js';

const IVANOV: Person = { number: memberNumber(1), surname: 'IVANOV', givenName: 'IVAN' };

/** Dates a file of the inbox as uploaded at `at`, so that the night it is for takes it. */
function uploadedAt(w: Scenario, feed: 'partner' | 'hotel', file: string, at: string): void {
  utimesSync(join(w.inbox(feed), file), new Date(at), new Date(at));
}

const answers = async (w: Scenario, feed: string) =>
  (await w
    .knex('files')
    .where({ direction: 'out', feed })
    .orderBy('id')
    .select('id', 'name', 'answers_file_id', 'local_path', 'sha256', 'verdict')) as Array<{
    id: number;
    name: string;
    answers_file_id: number;
    local_path: string;
    sha256: string;
    verdict: string;
  }>;

const copyOf = (w: Scenario, row: { local_path: string }) =>
  readFileSync(exportCopy(w.w.config, row.local_path), 'utf8');

for (const engine of availableEngines()) {
  describe(`a partner file released after a name conflict (${engine})`, () => {
    const s = useScenario(engine);

    it('is answered under the response name of partner-accrual.md dated the night that read it, the first response untouched', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      const name = 'DRIVE_20260311_1.csv';
      const request = (trailerSpend: string) =>
        [
          'H,DRIVE,1,2026-03-11T22:00:00+03:00',
          `D,V-1,${IVANOV.number},IVANOV,,2026-03-10,RENTAL,,180.00,USD,,`,
          `T,1,0,${trailerSpend}`,
          '',
        ].join('\n');
      w.drop('partner', request('1800.00'), name);
      uploadedAt(w, 'partner', name, '2026-03-11T12:00:00Z');
      await w.night('2026-03-11');
      await w.run(exportJob, '2026-03-11');
      const rejected = await w.inboundFileId(name);
      const [first] = await answers(w, 'partner-response');
      expect(first).toMatchObject({ name: 'DRIVE_20260311_1.resp.csv', answers_file_id: rejected });
      const firstBytes = copyOf(w, first!);
      expect(firstBytes).toMatch(/^H,DRIVE,1,[^,]+,0,0,CONTROL_TOTAL_MISMATCH\r\n/);
      expect((await deliverJob(w.w.ctx('2026-03-11'))).counts).toMatchObject({ failed: 0 });

      // The partner corrects its trailer and uploads again under the same name: held for an operator.
      w.drop('partner', request('180.00'), name);
      uploadedAt(w, 'partner', name, '2026-03-12T12:00:00Z');
      await w.night('2026-03-12');
      const held = Number(
        (await w.knex('files').where({ direction: 'in', name, reason: 'NAME_CONFLICT' }).first('id')).id,
      );
      await decideHeld(
        w.knex,
        held,
        { decision: 'released', by: 'ops', reason: 'trailer corrected' },
        { at: '2026-03-13T08:00:00Z', businessDate: '2026-03-13' },
      );
      await w.night('2026-03-13');
      expect(await w.activity(partnerKey('DRIVE', 'V-1'))).toMatchObject({ status: 'POSTED', points: 500 });

      const night = await w.run(exportJob, '2026-03-13');
      expect(night.counts).toMatchObject({ partnerResponses: 1 });
      expect(night.warnings).toContainEqual(
        `DRIVE_20260313_1.resp.csv: the response to ${name} (file ${held}), under a name of its own: ` +
          `DRIVE_20260311_1.resp.csv is already file ${first!.id} (partner-response:DRIVE:file=${rejected}), never written over; ` +
          `tell DRIVE that DRIVE_20260313_1.resp.csv answers the ${name} received on 2026-03-12`,
      );
      const rows = await answers(w, 'partner-response');
      expect(rows.map((r) => [r.name, r.answers_file_id, r.verdict])).toEqual([
        ['DRIVE_20260311_1.resp.csv', rejected, 'delivered'],
        ['DRIVE_20260313_1.resp.csv', held, 'written'],
      ]);
      expect(copyOf(w, rows[0]!)).toBe(firstBytes);
      expect(copyOf(w, rows[1]!)).toMatch(
        new RegExp(`^H,DRIVE,1,[^,]+,1,0,OK\\r\\nD,V-1,${IVANOV.number},A,500,,\\r\\nT,1,500\\r\\n$`),
      );
      // Still a response name as the partner's side reads them: its partner and the sequence it answers.
      expect(parsePartnerFileName(rows[1]!.name)).toMatchObject({
        partnerCode: 'DRIVE',
        sequence: 1,
        response: true,
      });

      // A rerun of the night finds its own file: nothing written, nothing registered, no warning again.
      const rerun = await w.run(exportJob, '2026-03-13');
      expect([rerun.counts.written, rerun.counts.replaced, rerun.counts.restored]).toEqual([
        undefined,
        undefined,
        undefined,
      ]);
      expect((rerun.warnings ?? []).filter((m) => m.includes('a name of its own'))).toEqual([]);
      expect(await answers(w, 'partner-response')).toEqual(rows);

      // Its copy lost before delivery: the rerun of the night that answered it writes it back, though
      // the file it answers was fetched for an earlier night.
      const lost = exportCopy(w.w.config, rows[1]!.local_path);
      const bytes = readFileSync(lost, 'utf8');
      rmSync(lost);
      expect((await w.run(exportJob, '2026-03-13')).counts).toMatchObject({ restored: 1 });
      expect(readFileSync(lost, 'utf8')).toBe(bytes);
      expect(await answers(w, 'partner-response')).toEqual(rows);

      // Delivered beside the first, which stays as the partner had it.
      expect((await deliverJob(w.w.ctx('2026-03-13'))).counts).toMatchObject({ failed: 0 });
      expect(await answers(w, 'partner-response')).toMatchObject([
        { verdict: 'delivered' },
        { verdict: 'delivered' },
      ]);
      const outbox = w.w.config.transports[w.w.config.exports.outbox]!;
      if (outbox.type !== 'local') throw new Error('scenarios deliver to a local outbox');
      const delivered = join(outbox.root, 'partner-response');
      expect(readFileSync(join(delivered, 'DRIVE_20260311_1.resp.csv'), 'utf8')).toBe(firstBytes);
      expect(readFileSync(join(delivered, 'DRIVE_20260313_1.resp.csv'), 'utf8')).toBe(copyOf(w, rows[1]!));
    });
  });

  describe(`a hotel whose feed reuses one file name (${engine})`, () => {
    const s = useScenario(engine, (y) =>
      replaceOnce(
        y,
        'maxBytes: 20971520, completeness: { kind: none }',
        'maxBytes: 20971520, completeness: { kind: none }, names: reused',
      ),
    );

    it('has each day’s GS_stays.xml answered, under a name dated by the night after the first, and a rerun writes nothing', async () => {
      const w = s();
      expect(w.w.config.feeds.hotel).toMatchObject({ names: 'reused' });
      await w.enrol('2026-06-01', IVANOV);
      const stay = (reservation: string, checkOut: string) => ({
        member: IVANOV.number,
        surname: 'IVANOV',
        givenName: 'IVAN',
        reservation,
        checkIn: '2026-06-10',
        checkOut,
        revenue: [{ category: 'ROOM', amount: '200.00' }],
      });
      const name = 'GS_stays.xml';
      w.dropHotel('GS', [stay('GS-1', '2026-06-12')], name);
      uploadedAt(w, 'hotel', name, '2026-06-13T12:00:00Z');
      await w.night('2026-06-13');
      await w.run(exportJob, '2026-06-13');
      w.dropHotel('GS', [stay('GS-20', '2026-06-13')], name);
      uploadedAt(w, 'hotel', name, '2026-06-14T12:00:00Z');
      await w.night('2026-06-14');
      const second = Number(
        (await w.knex('files').where({ direction: 'in', name }).orderBy('id', 'desc').first('id')).id,
      );
      expect(await w.activity('HTL:GRANDSTAY:GS001:GS-20')).toMatchObject({ status: 'POSTED' });

      const night = await w.run(exportJob, '2026-06-14');
      expect(night.counts).toMatchObject({ hotelResponses: 1 });
      const rows = await answers(w, 'hotel-response');
      expect(rows.map((r) => [r.name, r.answers_file_id])).toEqual([
        ['GS_stays.resp.xml', expect.any(Number)],
        ['GS_stays-20260614.resp.xml', second],
      ]);
      expect(copyOf(w, rows[1]!)).toContain('<Success/>');
      const rerun = await w.run(exportJob, '2026-06-14');
      expect(rerun.counts).toMatchObject({ hotelResponses: 1 });
      expect([rerun.counts.written, rerun.counts.replaced, rerun.counts.restored]).toEqual([
        undefined,
        undefined,
        undefined,
      ]);
      expect(await answers(w, 'hotel-response')).toEqual(rows);
      expect(existsSync(exportCopy(w.w.config, rows[0]!.local_path))).toBe(true);
    });
  });
}
