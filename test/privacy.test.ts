/**
 * Personal data: a night's logs carry no member's name or e-mail; the retention job erases the personal
 * fields of accounts closed longer than the configured period and `member forget` does it on request,
 * while member numbers and every posting stay and the books still balance.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableEngines } from './harness/db.js';
import { createWorld, type TestWorld } from './harness/context.js';
import { createLogger } from '../lib/log.js';
import { runJob } from '../jobs/runner.js';
import { forgetMember, ForgetRefusedError, retentionJob } from '../jobs/retention.js';
import { checkLedger } from '../ledger/check.js';
import { Accounts } from '../ledger/accounts.js';
import { withCheckDigit } from '../rules/check-digit.js';

const RULE = { pattern: '^[0-9]{10}$', checkDigit: 'luhn' as const };
const number = (i: number) => withCheckDigit(`7${String(i).padStart(8, '0')}`, RULE);

const PEOPLE = [
  { number: number(1), surname: 'WOJCIECHOWSKA', given: 'MALGORZATA', email: 'm.wojciechowska@mail.example' },
  { number: number(2), surname: 'ARKHIPOVA', given: 'ZLATA', email: 'zlata.arkhipova@mail.example' },
  { number: number(3), surname: 'OYELARAN', given: 'ADEBAYO', email: 'adebayo@mail.example' },
];

function inbox(w: TestWorld, feed: string, name: string, text: string): void {
  const cfg = w.config.feeds[feed as 'members']!;
  const root = (w.config.transports[cfg.source] as { root: string }).root;
  mkdirSync(join(root, cfg.remoteDir), { recursive: true });
  writeFileSync(join(root, cfg.remoteDir, name), text);
}

function membersCsv(
  rows: Array<{
    number: string;
    surname: string;
    given: string;
    email: string;
    status?: string;
    updated?: string;
  }>,
): string {
  const header =
    'member_number,status,merged_into,enrolment_date,enrolment_channel,surname,given_name,email,marketing_consent,updated_at';
  return (
    [
      header,
      ...rows.map((p) =>
        [
          p.number,
          p.status ?? 'ACTIVE',
          '',
          '2020-01-01',
          'WEB',
          p.surname,
          p.given,
          p.email,
          'Y',
          p.updated ?? '2024-01-01T00:00:00Z',
        ].join(','),
      ),
    ].join('\n') + '\n'
  );
}

function coupons(
  rows: Array<{ ticket: string; number: string; surname: string; given: string; date: string }>,
): string {
  const header =
    'ticket_number,coupon_number,issue_date,pnr,operating_carrier,operating_flight,marketing_carrier,marketing_flight,flight_date,origin,destination,cabin,booked_rbd,flown_rbd,fare_basis,passenger_surname,passenger_given_name,passenger_type,ffp_carrier,ffp_number,fare_amount,carrier_surcharge_amount,tax_amount,currency,coupon_status,source_ref';
  return (
    [
      header,
      ...rows.map((r) =>
        [
          r.ticket,
          1,
          '2024-02-01',
          'ABC123',
          'XX',
          '101',
          'XX',
          '101',
          r.date,
          'SVO',
          'LED',
          'Y',
          'Y',
          'Y',
          'YFLEX',
          r.surname,
          r.given,
          'ADT',
          'XX',
          r.number,
          '150.00',
          '0.00',
          '20.00',
          'USD',
          'F',
          `R${r.ticket}`,
        ].join(','),
      ),
    ].join('\n') + '\n'
  );
}

for (const engine of availableEngines()) {
  describe(`personal data on ${engine}`, () => {
    let w: TestWorld;
    beforeEach(async () => {
      w = await createWorld(engine, (y) => y.replace(/\nmail:[\s\S]*?\n(?=reports:)/, '\n'));
      // Erased names are tokens keyed by the program's secret (retention.tokenSecretEnv).
      const ctx = w.ctx.bind(w);
      w.ctx = (date, now) => ({ ...ctx(date, now), env: { REDEYE_TOKEN_SECRET: 'privacy test secret' } });
    });
    afterEach(async () => w.cleanup());

    it("a night's logs name files, steps and counts, never a member's name or e-mail", async () => {
      const out = new PassThrough();
      let logs = '';
      out.on('data', (d: Buffer) => (logs += d.toString()));
      const logger = createLogger({ level: 'debug', pretty: false, destination: out });
      inbox(w, 'members', 'MEMBERS_20240201.csv', membersCsv(PEOPLE));
      inbox(
        w,
        'flown',
        'FLOWN_20240201.csv',
        coupons([
          {
            ticket: '9581000000001',
            number: PEOPLE[0]!.number,
            surname: PEOPLE[0]!.surname,
            given: PEOPLE[0]!.given,
            date: '2024-02-01',
          },
          // A card lent to someone else: a name mismatch the rules reject.
          {
            ticket: '9581000000002',
            number: PEOPLE[1]!.number,
            surname: PEOPLE[2]!.surname,
            given: PEOPLE[2]!.given,
            date: '2024-02-01',
          },
          // A malformed line carrying a name.
          {
            ticket: 'BAD',
            number: PEOPLE[2]!.number,
            surname: PEOPLE[2]!.surname,
            given: PEOPLE[2]!.given,
            date: '2024-02-01',
          },
        ]),
      );
      const summary = await runJob({ ...w.ctx('2024-02-01'), logger }, 'nightly');
      expect(summary.steps.find((s) => s.job === 'ingest')!.status).toBe('succeeded');
      expect(logs.length).toBeGreaterThan(0);
      for (const p of PEOPLE) {
        for (const secret of [p.surname, p.given, p.email]) expect(logs).not.toContain(secret);
      }
      // The rejects table keeps what an operator needs: reason and line, not the names.
      const mismatch = await w.t.db.knex('activities').where({ ticket_number: '9581000000002' }).first();
      expect(mismatch).toMatchObject({ status: 'REJECTED', reason: 'NAME_MISMATCH' });
    });

    it('retention erases the personal fields of accounts closed longer than the period; numbers and postings stay', async () => {
      inbox(w, 'members', 'MEMBERS_20240201.csv', membersCsv(PEOPLE));
      inbox(
        w,
        'flown',
        'FLOWN_20240201.csv',
        coupons([
          {
            ticket: '9581000000001',
            number: PEOPLE[0]!.number,
            surname: PEOPLE[0]!.surname,
            given: PEOPLE[0]!.given,
            date: '2024-02-01',
          },
        ]),
      );
      await runJob(w.ctx('2024-02-01'), 'nightly');
      const points = Number(
        (await w.t.db
          .knex('accounts')
          .where({ code: Accounts.memberPoints(PEOPLE[0]!.number) })
          .first('balance'))!.balance,
      );
      expect(points).toBeGreaterThan(0);
      inbox(
        w,
        'members',
        'MEMBERS_20240301.csv',
        membersCsv([{ ...PEOPLE[0]!, status: 'CLOSED', updated: '2024-03-01T00:00:00Z' }]),
      );
      await runJob(w.ctx('2024-03-01'), 'nightly');
      const postingsBefore = Number((await w.t.db.knex('postings').count({ n: '*' }).first())!.n);

      // 23 months after closure: not yet (the demo keeps 24).
      await retentionJob(w.ctx('2026-02-01'));
      expect(await w.t.db.knex('members').where({ number: PEOPLE[0]!.number }).first('surname')).toEqual({
        surname: PEOPLE[0]!.surname,
      });

      const r = await retentionJob(w.ctx('2026-03-02'));
      expect(r.counts.erased).toBe(1);
      const erased = await w.t.db.knex('members').where({ number: PEOPLE[0]!.number }).first();
      expect(erased.surname).toMatch(/^TOK-[0-9A-F]{16}$/);
      expect(erased.given_name).toMatch(/^TOK-[0-9A-F]{16}$/);
      expect(erased.email).toBeNull();
      expect(erased.erased_at).not.toBeNull();
      expect(
        await w.t.db.knex('activities').where({ member_number: PEOPLE[0]!.number }).first('travel_surname'),
      ).toEqual({ travel_surname: null });
      const erasures = await w.t.db.knex('erasures').select('member_number', 'reason', 'fields');
      expect(erasures).toEqual([
        { member_number: PEOPLE[0]!.number, reason: 'RETENTION', fields: expect.stringContaining('email') },
      ]);
      expect(JSON.stringify(erasures)).not.toContain(PEOPLE[0]!.surname);
      // The books are untouched: same postings, same balance, every invariant.
      expect(Number((await w.t.db.knex('postings').count({ n: '*' }).first())!.n)).toBe(postingsBefore);
      expect(
        Number(
          (await w.t.db
            .knex('accounts')
            .where({ code: Accounts.memberPoints(PEOPLE[0]!.number) })
            .first('balance'))!.balance,
        ),
      ).toBe(points);
      expect((await checkLedger(w.t.db.knex)).ok).toBe(true);
      // Other members keep their data.
      expect(await w.t.db.knex('members').where({ number: PEOPLE[1]!.number }).first('email')).toEqual({
        email: PEOPLE[1]!.email,
      });
      // A second run erases nothing again.
      expect((await retentionJob(w.ctx('2026-03-03'))).counts.erased).toBe(0);
    });

    it('member forget erases on request, records it, and refuses where the program does not allow it', async () => {
      inbox(w, 'members', 'MEMBERS_20240201.csv', membersCsv(PEOPLE));
      await runJob(w.ctx('2024-02-01'), 'nightly');
      // A name the feed changed is kept to credit flights flown under it: it is erased with the others.
      const before = await w.t.db.knex('members').where({ number: PEOPLE[1]!.number }).first('id');
      await w.t.db.knex('member_names').insert({
        member_id: before.id,
        surname: 'FORMERLY',
        given_name: 'KNOWN',
        valid_until: '2024-01-15',
        created_at: '2024-02-01T01:00:00Z',
      });
      // So is a merge of theirs waiting for its survivor: the merge stays, the personal data in it does not.
      const file = await w.t.db.knex('files').where({ feed: 'members' }).first('id');
      await w.t.db.knex('member_merges_waiting').insert({
        member_number: PEOPLE[1]!.number,
        merged_into: PEOPLE[2]!.number,
        source_updated_at: '2024-02-01T10:00:00.000Z',
        file_id: file.id,
        line: 3,
        record: JSON.stringify({
          memberNumber: PEOPLE[1]!.number,
          surname: 'FORMERLY',
          email: 'f@example.org',
        }),
        business_date: '2024-02-01',
        created_at: '2024-02-01T01:00:00Z',
      });
      await forgetMember(w.ctx('2024-02-02'), PEOPLE[1]!.number);
      expect(await w.t.db.knex('member_names').where({ member_id: before.id }).select('surname')).toEqual([]);
      const waiting = JSON.parse(
        String((await w.t.db.knex('member_merges_waiting').first('record')).record),
      ) as Record<string, unknown>;
      expect(waiting).toMatchObject({ memberNumber: PEOPLE[1]!.number, email: null });
      expect(waiting.surname).toMatch(/^TOK-/);
      const m = await w.t.db.knex('members').where({ number: PEOPLE[1]!.number }).first();
      expect(m).toMatchObject({ status: 'ACTIVE', email: null, phone: null });
      expect(m.surname).toMatch(/^TOK-/);
      expect(
        await w.t.db.knex('erasures').where({ member_number: PEOPLE[1]!.number }).first('reason'),
      ).toEqual({ reason: 'REQUEST' });
      await expect(forgetMember(w.ctx('2024-02-03'), PEOPLE[1]!.number)).rejects.toBeInstanceOf(
        ForgetRefusedError,
      );
      const strict = {
        ...w.ctx('2024-02-03'),
        config: { ...w.config, retention: { ...w.config.retention, forgetOnRequest: false } },
      };
      await expect(forgetMember(strict, PEOPLE[2]!.number)).rejects.toThrow(
        /does not allow erasure on request/,
      );
    });
  });
}
