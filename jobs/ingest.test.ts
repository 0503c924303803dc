import { describe, expect, it } from 'vitest';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { availableEngines } from '../test/harness/db.js';
import { useWorld } from '../test/harness/context.js';
import { runJob } from './runner.js';

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
