/**
 * What the fuzz corpus found, each reduced to the smallest night that shows it, so it stays fixed
 * whatever the corpus draws next time.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { accrueJob } from '../../jobs/accrue.js';
import { fetchJob } from '../../jobs/fetch.js';
import { ingestJob } from '../../jobs/ingest.js';
import { checkLedger } from '../../ledger/check.js';
import { insertMember } from '../../ledger/members.js';
import { writeResultsFile } from '../../exporters/alliance-xml.js';
import { withCheckDigit } from '../../rules/check-digit.js';
import { createWorld, type TestWorld } from '../harness/context.js';

const FLOWN_HEADER =
  'ticket_number,coupon_number,issue_date,pnr,operating_carrier,operating_flight,marketing_carrier,marketing_flight,flight_date,origin,destination,cabin,booked_rbd,flown_rbd,fare_basis,passenger_surname,passenger_given_name,passenger_type,ffp_carrier,ffp_number,fare_amount,carrier_surcharge_amount,tax_amount,currency,coupon_status,source_ref';

describe('a coupon corrected twice (found by the fuzz corpus)', () => {
  let w: TestWorld;
  let member: string;
  beforeEach(async () => {
    w = await createWorld('sqlite');
    member = withCheckDigit('400000000', w.config.program.memberNumber);
    await insertMember(w.t.db.knex, {
      number: member,
      status: 'ACTIVE',
      tier: 'MEMBER',
      surname: 'PETROV',
      givenName: 'IVAN',
      enrolmentDate: '2020-01-01',
    });
  });
  afterEach(async () => w.cleanup());

  const night = async (date: string, status: string) => {
    const line = `9581234567890,1,2026-09-01,ABC123,XX,101,XX,101,2026-10-01,SVO,LED,Y,Y,Y,YFLEX,PETROV,IVAN,ADT,XX,${member},150.00,0.00,10.00,USD,${status},RA-${date}`;
    writeFileSync(join(w.dir, 'inbox', 'flown', `FLOWN_${date}.csv`), `${FLOWN_HEADER}\n${line}\n`);
    const ctx = w.ctx(date);
    await fetchJob(ctx);
    await ingestJob(ctx);
    return accrueJob(ctx);
  };
  const activity = () =>
    w.t.db.knex('activities').where({ ticket_number: '9581234567890' }).first('status', 'reason');
  const memberPoints = async () =>
    Number(
      (
        await w.t.db
          .knex('accounts')
          .where({ code: `MEMBER:${member}:PTS` })
          .first('balance')
      )?.balance ?? 0,
    );

  it('flown, refunded, then exchanged on later nights: reversed once, and the night goes on', async () => {
    await night('2026-10-02', 'F');
    expect(await memberPoints()).toBeGreaterThan(0);
    await night('2026-10-03', 'R');
    expect(await activity()).toMatchObject({ status: 'REVERSED' });
    expect(await memberPoints()).toBe(0);
    // Before the fix: IDEMPOTENCY_CONFLICT, the reversal key offered again with another business date,
    // and the whole accrue job failed.
    await night('2026-10-04', 'E');
    expect(await activity()).toMatchObject({ status: 'REVERSED', reason: 'NOT_FLOWN' });
    expect(await memberPoints()).toBe(0);
    const reversals = await w.t.db
      .knex('postings')
      .where('idempotency_key', 'like', '%:REV')
      .pluck('idempotency_key');
    expect(new Set(reversals).size).toBe(reversals.length);
    expect((await checkLedger(w.t.db.knex)).ok).toBe(true);
  });
});

describe('a results file answering claims we never sent (found by the fuzz runner)', () => {
  let w: TestWorld;
  beforeEach(async () => {
    w = await createWorld('sqlite');
  });
  afterEach(async () => w.cleanup());

  it('counts its NOT_FOUND rejects in the registry, as it stores them', async () => {
    const text = writeResultsFile({
      sender: 'LH',
      receiver: 'XX',
      createdAt: '2026-10-02T21:30:00Z',
      answers: { sender: 'XX', receiver: 'LH', sequence: 7 },
      results: [
        { claimId: 'XX-1', status: 'accepted', pointsCredited: 500, tierHeld: 'GOLD' },
        { claimId: 'XX-2', status: 'rejected', reasonCode: 'NAME_MISMATCH', reasonText: 'no' },
      ],
    });
    writeFileSync(join(w.dir, 'inbox', 'alliance', 'results', 'XX_LH_000007.results.xml'), text);
    const ctx = w.ctx('2026-10-02');
    await fetchJob(ctx);
    await ingestJob(ctx);
    const row = await w.t.db.knex('files').where({ feed: 'alliance-results' }).first();
    expect(row.verdict).toBe('accepted');
    const stored = await w.t.db.knex('rejects').where({ file_id: row.id }).pluck('reason');
    expect(stored).toEqual(['NOT_FOUND', 'NOT_FOUND']);
    // Before the fix the row said 0: the rejects decided at the end of the file were stored uncounted.
    // Each result is counted once, as the reject it became: no record of the file was kept.
    expect(JSON.parse(String(row.counts))).toMatchObject({ records: 0, rejects: 2 });
  });
});
