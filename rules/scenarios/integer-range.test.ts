/**
 * Figures past what an `integer` column holds (-2,147,483,648 to 2,147,483,647) are one record's reject
 * naming file, line and field, on SQLite and PostgreSQL alike: a partner's points_requested, a
 * redemption's points, an alliance claims file's sequence. PostgreSQL refused such a value at insert, and
 * with it the whole file, every rerun again, where SQLite stored it.
 *
 * What accrue computes is held likewise: points a partner activity would earn past that range (a huge
 * spend, or a request with the tier bonus, under a contract with no cap) are that activity's BAD_AMOUNT,
 * where PostgreSQL failed the whole accrue (22003); a hotel stay whose nights add up past the minor units
 * a number counts exactly is its BAD_AMOUNT, where the accrue (and `simulate`) threw on both engines.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exportJob } from '../../jobs/export.js';
import { exportCopy } from '../../test/harness/files.js';
import { availableEngines } from '../../test/harness/db.js';
import { hotelKey, partnerKey } from '../activity.js';
import { memberNumber, replaceOnce, useScenario, type Person } from './scenario.js';

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

  describe(`points past an integer column under a contract with no cap (${engine})`, () => {
    // REDBANK without its monthly cap, and a tier bonus for every member: nothing bounds what it credits.
    const s = useScenario(engine, (y) =>
      replaceOnce(
        replaceOnce(y, '        capPerPeriod: { points: 50000, period: month }\n', ''),
        'tierBonus: {}',
        'tierBonus: { MEMBER: 0.5 }',
      ),
    );
    const card = (txn: string, amount: { spend: string; currency: string } | { points: number }) => ({
      txn,
      member: NIKITINA.number,
      surname: NIKITINA.surname,
      givenName: 'O',
      date: '2026-10-31',
      type: 'CARD_SPEND',
      ...amount,
    });

    it("rejects a spend or a request that would earn more than 2,147,483,647 points BAD_AMOUNT on its field; the file's other record is credited and the partner answered", async () => {
      const w = s();
      await w.enrol('2026-10-01', NIKITINA);
      const file = w.dropPartner('REDBANK', '2026-11-01', [
        card('RB-1', { spend: '3000000000.00', currency: 'USD' }),
        card('RB-2', { points: 2_000_000_000 }),
        card('RB-3', { spend: '10.00', currency: 'USD' }),
      ]);
      // The accrue completes: on PostgreSQL it failed whole at the first such activity.
      await w.night('2026-11-01');
      const fileId = await w.inboundFileId(file);
      expect(await w.activity(partnerKey('REDBANK', 'RB-1'))).toMatchObject({
        status: 'REJECTED',
        reason: 'BAD_AMOUNT',
        reason_field: 'spend_amount',
        reason_message:
          'out of range: it would earn 4500000000 points under REDBANK-2025 (3000000000 × 1 + tier bonus 1500000000), more than 2147483647 on one activity',
        points: 0,
        source_file_id: fileId,
        source_line: 2,
      });
      expect(await w.activity(partnerKey('REDBANK', 'RB-2'))).toMatchObject({
        status: 'REJECTED',
        reason: 'BAD_AMOUNT',
        reason_field: 'points_requested',
        reason_message: expect.stringContaining('3000000000 points'),
        source_line: 3,
      });
      expect(await w.activity(partnerKey('REDBANK', 'RB-3'))).toMatchObject({ status: 'POSTED', points: 15 });
      expect(await w.balance(NIKITINA.number)).toBe(15);

      await w.run(exportJob, '2026-11-01', new Date('2026-11-02T02:00:00Z'));
      const response = await w.knex('files').where({ direction: 'out', feed: 'partner-response' }).first();
      const lines = readFileSync(exportCopy(w.w.config, response.local_path), 'utf8').split('\r\n');
      expect(lines.slice(1, 4)).toEqual([
        expect.stringMatching(new RegExp(`^D,RB-1,${NIKITINA.number},R,0,BAD_AMOUNT,`)),
        expect.stringMatching(new RegExp(`^D,RB-2,${NIKITINA.number},R,0,BAD_AMOUNT,`)),
        expect.stringMatching(new RegExp(`^D,RB-3,${NIKITINA.number},A,15,`)),
      ]);

      const postings = await w.postingCount();
      const again = await w.night('2026-11-01');
      expect(again.accrue.counts.postings ?? 0).toBe(0);
      expect(await w.postingCount()).toBe(postings);
    });
  });

  describe(`a hotel stay whose nights add up past what is counted exactly (${engine})`, () => {
    const s = useScenario(engine);

    it('rejects the stay BAD_AMOUNT on Amount, in its own currency or another, and credits the others', async () => {
      const w = s();
      w.dropFx({ '2026-07-02': { USD: '1.0850' } });
      await w.enrol('2026-05-01', NIKITINA);
      // Each night in range (6,000,000,000,000,001 cents), three past 2^53 - 1 together.
      const night = (currency: string) => ({ category: 'ROOM', amount: '60000000000000.01', currency });
      const stay = (
        reservation: string,
        revenue: Array<{ category: string; amount: string; currency: string }>,
      ) => ({
        member: NIKITINA.number,
        surname: NIKITINA.surname,
        givenName: NIKITINA.givenName,
        reservation,
        checkIn: '2026-07-01',
        checkOut: '2026-07-04',
        revenue,
      });
      const file = w.dropHotel('GS', [
        stay('GS-1', [night('EUR'), night('EUR'), night('EUR')]),
        stay('GS-2', [night('USD'), night('USD'), night('USD')]),
        stay('GS-3', [{ category: 'ROOM', amount: '100.00', currency: 'USD' }]),
      ]);
      // The accrue completes: the sum's conversion threw, failing it on both engines.
      await w.night('2026-07-05');
      const fileId = await w.inboundFileId(file);
      for (const [reservation, currency] of [
        ['GS-1', 'EUR'],
        ['GS-2', 'USD'],
      ] as const)
        expect(await w.activity(hotelKey('GRANDSTAY', reservation, 'GS001'))).toMatchObject({
          status: 'REJECTED',
          reason: 'BAD_AMOUNT',
          reason_field: 'Amount',
          reason_message: `the stay's revenue in ${currency} is out of range: more than 90071992547409.91 ${currency}, the most counted exactly`,
          source_file_id: fileId,
          base_spend_minor: null,
        });
      expect(await w.activity(hotelKey('GRANDSTAY', 'GS-3', 'GS001'))).toMatchObject({
        status: 'POSTED',
        points: 300,
      });
    });
  });
}
