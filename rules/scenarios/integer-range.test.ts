/**
 * Figures past what an `integer` column holds (-2,147,483,648 to 2,147,483,647) are one record's reject
 * naming file, line and field, on SQLite and PostgreSQL alike: a partner's points_requested, a
 * redemption's points, an alliance claims file's sequence. PostgreSQL refused such a value at insert, and
 * with it the whole file, every rerun again, where SQLite stored it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exportJob } from '../../jobs/export.js';
import { exportCopy } from '../../test/harness/files.js';
import { availableEngines } from '../../test/harness/db.js';
import { partnerKey } from '../activity.js';
import { memberNumber, useScenario, type Person } from './scenario.js';

const NIKITINA: Person = { number: memberNumber(1), surname: 'NIKITINA', givenName: 'OLGA' };

const spend = (txn: string, points?: number) => ({
  txn,
  member: NIKITINA.number,
  surname: NIKITINA.surname,
  givenName: 'O',
  date: '2026-10-31',
  type: 'RENTAL',
  spend: '10.00',
  currency: 'USD',
  ...(points === undefined ? {} : { points }),
});

for (const engine of availableEngines()) {
  describe(`figures past an integer column (${engine})`, () => {
    const s = useScenario(engine);

    it('rejects a partner record asking 3,000,000,000 points BAD_AMOUNT on points_requested; its other record is credited and the partner answered', async () => {
      const w = s();
      await w.enrol('2026-10-01', NIKITINA);
      const file = w.dropPartner('DRIVE', '2026-11-01', [spend('RBX0100', 3_000_000_000), spend('RBX0101')]);
      const night = await w.night('2026-11-01');
      expect(night.ingest.counts).toMatchObject({ 'partner.activities': 1 });
      expect(await w.knex('files').where({ name: file }).first()).toMatchObject({ verdict: 'accepted' });
      const rejects = await w.rejects({ feed: 'partner' });
      expect(rejects.map((r) => [r.file_id, r.line, r.field, r.reason, r.text])).toEqual([
        [await w.inboundFileId(file), 2, 'points_requested', 'BAD_AMOUNT', '3000000000'],
      ]);
      expect(rejects[0]!.message).toContain('from -2147483648 to 2147483647');
      expect(await w.activity(partnerKey('DRIVE', 'RBX0100'))).toBeUndefined();
      expect(await w.activity(partnerKey('DRIVE', 'RBX0101'))).toMatchObject({ status: 'POSTED' });

      await w.run(exportJob, '2026-11-01', new Date('2026-11-02T02:00:00Z'));
      const response = await w.knex('files').where({ direction: 'out', feed: 'partner-response' }).first();
      const lines = readFileSync(exportCopy(w.w.config, response.local_path), 'utf8').split('\r\n');
      expect(lines[1]).toMatch(new RegExp(`^D,RBX0100,${NIKITINA.number},R,0,BAD_AMOUNT,`));
      expect(lines[2]).toMatch(new RegExp(`^D,RBX0101,${NIKITINA.number},A,`));

      const postings = await w.postingCount();
      const again = await w.night('2026-11-01');
      expect(again.accrue.counts.postings ?? 0).toBe(0);
      expect(await w.postingCount()).toBe(postings);
    });

    it('rejects a redemption of 2,147,483,648 points BAD_POINTS on its line; the file is read', async () => {
      const w = s();
      await w.enrol('2026-10-01', NIKITINA);
      const file = w.dropRedemptions([
        {
          id: 'AW-1',
          member: NIKITINA.number,
          date: '2026-10-31',
          service: 'AWARD_TICKET',
          points: 2_147_483_648,
        },
        { id: 'AW-2', member: NIKITINA.number, date: '2026-10-31', service: 'AWARD_TICKET', points: 100 },
      ]);
      await w.night('2026-11-01');
      expect(await w.knex('files').where({ name: file }).first()).toMatchObject({ verdict: 'accepted' });
      expect(
        (await w.rejects({ feed: 'redemptions' })).map((r) => [r.line, r.field, r.reason, r.text]),
      ).toEqual([[2, 'points', 'BAD_POINTS', '2147483648']]);
    });

    it('refuses an alliance claims file numbered past 2,147,483,647 BAD_HEADER, naming FileHeader/FileSequence', async () => {
      const w = s();
      await w.enrol('2026-10-01', NIKITINA);
      const file = w.dropAllianceClaims('LH', [
        {
          id: 'LH-1',
          member: NIKITINA.number,
          surname: NIKITINA.surname,
          carrier: 'LH',
          flight: '1446',
          date: '2026-10-30',
          from: 'FRA',
          to: 'SVO',
          cabin: 'Y',
          rbd: 'Y',
        },
      ]);
      const feed = w.w.config.feeds['alliance-claims']!;
      const inbox = w.w.config.transports[feed.source]!;
      const path = join(inbox.type === 'local' ? inbox.root : '', feed.remoteDir, file);
      writeFileSync(
        path,
        readFileSync(path, 'utf8').replace(/<FileSequence>\d+</, '<FileSequence>3000000000<'),
      );
      const night = await w.night('2026-11-01');
      expect(night.ingest.counts.rejected).toBe(1);
      const row = await w.knex('files').where({ name: file }).first();
      expect(row).toMatchObject({ verdict: 'rejected', reason: 'BAD_HEADER', sequence: null });
      expect(row.message).toContain('FileHeader/FileSequence');
      expect(await w.postingCount()).toBe(0);
    });
  });
}
