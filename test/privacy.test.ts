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
    mergedInto?: string;
    birth?: string;
    phone?: string;
    updated?: string;
  }>,
): string {
  const header =
    'member_number,status,merged_into,enrolment_date,enrolment_channel,surname,given_name,birth_date,email,phone,marketing_consent,updated_at';
  return (
    [
      header,
      ...rows.map((p) =>
        [
          p.number,
          p.status ?? 'ACTIVE',
          p.mergedInto ?? '',
          '2020-01-01',
          'WEB',
          p.surname,
          p.given,
          p.birth ?? '',
          p.email,
          p.phone ?? '',
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
      // A request made again is answered: erased again, the tokens stay the tokens.
      expect(await forgetMember(w.ctx('2024-02-03'), PEOPLE[1]!.number)).toEqual({
        member: true,
        erasedBefore: '2024-02-02T23:30:00.000Z',
        replaced: [],
      });
      expect(await w.t.db.knex('members').where({ number: PEOPLE[1]!.number }).first('surname')).toEqual({
        surname: m.surname,
      });
      const strict = {
        ...w.ctx('2024-02-03'),
        config: { ...w.config, retention: { ...w.config.retention, forgetOnRequest: false } },
      };
      await expect(forgetMember(strict, PEOPLE[2]!.number)).rejects.toThrow(
        /does not allow erasure on request/,
      );
      await expect(forgetMember(strict, PEOPLE[2]!.number)).rejects.toBeInstanceOf(ForgetRefusedError);
    });

    /** Every value of the tables a member's record is kept in, as one text to search for clear data. */
    const storedRecords = async () =>
      JSON.stringify([
        await w.t.db.knex('members').select(),
        await w.t.db.knex('member_merges_waiting').select(),
        await w.t.db.knex('member_names').select(),
      ]);
    const ORLOV = {
      number: number(11),
      surname: 'ORLOV',
      given: 'PAVEL',
      email: 'pavel.orlov@mail.example',
      birth: '1980-05-17',
      phone: '+79161234567',
    };
    const CLEAR = [ORLOV.surname, ORLOV.given, ORLOV.email, ORLOV.birth, ORLOV.phone];
    /** The account the CRM opens to merge into: not a member until its own record comes. */
    const NEW = { number: number(12), surname: 'NOVIKOVA', given: 'IRINA', email: 'irina@mail.example' };

    it("an erased member's later records stay erased: sent again, and merged into an account not enrolled yet", async () => {
      inbox(w, 'members', 'members-0001.csv', membersCsv([{ ...ORLOV, updated: '2026-01-01T10:00:00Z' }]));
      await runJob(w.ctx('2026-01-01'), 'nightly');
      await forgetMember(w.ctx('2026-02-01'), ORLOV.number);
      const erased = await w.t.db.knex('members').where({ number: ORLOV.number }).first();
      expect(erased.surname).toMatch(/^TOK-/);

      // The CRM sends the record again, changed: the names are the same tokens, the rest is not kept.
      inbox(w, 'members', 'members-0002.csv', membersCsv([{ ...ORLOV, updated: '2026-02-15T10:00:00Z' }]));
      const again = await runJob(w.ctx('2026-02-15'), 'nightly');
      expect(again.steps.find((x) => x.job === 'ingest')!.counts['members.updated']).toBe(1);
      expect(await w.t.db.knex('members').where({ number: ORLOV.number }).first()).toMatchObject({
        surname: erased.surname,
        given_name: erased.given_name,
        birth_date: null,
        email: null,
        phone: null,
        erased_at: erased.erased_at,
        source_updated_at: '2026-02-15T10:00:00.000Z',
      });
      expect(await w.t.db.knex('member_names').select()).toEqual([]);

      // Merged into an account the CRM has not sent yet: the merge waits, erased as the member is.
      inbox(
        w,
        'members',
        'members-0003.csv',
        membersCsv([{ ...ORLOV, status: 'MERGED', mergedInto: NEW.number, updated: '2026-03-01T10:00:00Z' }]),
      );
      const waiting = await runJob(w.ctx('2026-03-02'), 'nightly');
      expect(waiting.steps.find((x) => x.job === 'ingest')!.counts['members.waiting']).toBe(1);
      const record = JSON.parse(
        String((await w.t.db.knex('member_merges_waiting').first('record')).record),
      ) as Record<string, unknown>;
      expect(record).toMatchObject({
        memberNumber: ORLOV.number,
        mergedInto: NEW.number,
        surname: erased.surname,
        givenName: erased.given_name,
        birthDate: null,
        email: null,
        phone: null,
      });
      for (const clear of CLEAR) expect(await storedRecords()).not.toContain(clear);
      // A request made meanwhile is answered, not refused as done.
      expect(await forgetMember(w.ctx('2026-03-02'), ORLOV.number)).toMatchObject({
        member: true,
        erasedBefore: erased.erased_at,
      });

      // The survivor comes: the merge lands by number, and the member stays erased.
      inbox(w, 'members', 'members-0004.csv', membersCsv([{ ...NEW, updated: '2026-03-03T08:00:00Z' }]));
      const landed = await runJob(w.ctx('2026-03-03'), 'nightly');
      expect(landed.steps.find((x) => x.job === 'ingest')!.counts).toMatchObject({
        'members.enrolled': 1,
        'members.merged': 1,
      });
      expect(await w.t.db.knex('members').where({ number: ORLOV.number }).first()).toMatchObject({
        status: 'MERGED',
        merged_into: NEW.number,
        surname: erased.surname,
        email: null,
        erased_at: erased.erased_at,
      });
      for (const clear of CLEAR) expect(await storedRecords()).not.toContain(clear);
      expect(await w.t.db.knex('members').where({ number: NEW.number }).first('surname')).toEqual({
        surname: NEW.surname,
      });
    });

    it("without the token secret an erased member's record is not stored: the night stops and reads it once the secret is set", async () => {
      inbox(w, 'members', 'members-0001.csv', membersCsv([{ ...ORLOV, updated: '2026-01-01T10:00:00Z' }]));
      await runJob(w.ctx('2026-01-01'), 'nightly');
      await forgetMember(w.ctx('2026-02-01'), ORLOV.number);
      inbox(w, 'members', 'members-0002.csv', membersCsv([{ ...ORLOV, updated: '2026-02-15T10:00:00Z' }]));
      const withoutSecret = await runJob({ ...w.ctx('2026-02-15'), env: {} }, 'nightly');
      expect(withoutSecret.steps.find((x) => x.job === 'ingest')).toMatchObject({
        status: 'failed',
        error: { code: 'SECRET_MISSING' },
      });
      for (const clear of CLEAR) expect(await storedRecords()).not.toContain(clear);
      const rerun = await runJob(w.ctx('2026-02-15'), 'nightly');
      expect(rerun.steps.find((x) => x.job === 'ingest')!.counts['members.updated']).toBe(1);
      expect(await w.t.db.knex('members').where({ number: ORLOV.number }).first('source_updated_at')).toEqual(
        { source_updated_at: '2026-02-15T10:00:00.000Z' },
      );
      for (const clear of CLEAR) expect(await storedRecords()).not.toContain(clear);
    });

    const SECRETOVA = {
      number: number(21),
      surname: 'SECRETOVA',
      given: 'ANNA',
      email: 'anna.secretova@mail.example',
      birth: '1991-11-03',
      phone: '+79031112233',
    };
    const HIDDEN = [SECRETOVA.surname, SECRETOVA.given, SECRETOVA.email, SECRETOVA.birth, SECRETOVA.phone];

    it('member forget erases the waiting merge of an account never enrolled, and every later record of it', async () => {
      inbox(
        w,
        'members',
        'members-0001.csv',
        membersCsv([
          { ...SECRETOVA, status: 'MERGED', mergedInto: NEW.number, updated: '2026-03-01T10:00:00Z' },
        ]),
      );
      const night = await runJob(w.ctx('2026-03-02'), 'nightly');
      expect(night.steps.find((x) => x.job === 'ingest')!.counts['members.waiting']).toBe(1);
      expect(await storedRecords()).toContain(SECRETOVA.email);

      const done = await forgetMember(
        { ...w.ctx('2026-03-05'), now: () => new Date('2026-03-05T09:00:00Z') },
        SECRETOVA.number,
      );
      expect(done).toEqual({ member: false, erasedBefore: null, replaced: [] });
      for (const clear of HIDDEN) expect(await storedRecords()).not.toContain(clear);
      const record = JSON.parse(
        String((await w.t.db.knex('member_merges_waiting').first('record')).record),
      ) as Record<string, unknown>;
      expect(record).toMatchObject({ memberNumber: SECRETOVA.number, mergedInto: NEW.number, email: null });
      expect(record.surname).toMatch(/^TOK-/);
      expect(await w.t.db.knex('erasures').select('member_number', 'reason')).toEqual([
        { member_number: SECRETOVA.number, reason: 'REQUEST' },
      ]);

      // The survivor comes: the merge lands, and the account it enrols is erased since the request.
      inbox(w, 'members', 'members-0002.csv', membersCsv([{ ...NEW, updated: '2026-03-06T08:00:00Z' }]));
      expect(
        (await runJob(w.ctx('2026-03-06'), 'nightly')).steps.find((x) => x.job === 'ingest')!.counts[
          'members.merged'
        ],
      ).toBe(1);
      const member = await w.t.db.knex('members').where({ number: SECRETOVA.number }).first();
      expect(member).toMatchObject({ status: 'MERGED', merged_into: NEW.number, email: null });
      expect(member.surname).toBe(record.surname);
      expect(new Date(member.erased_at as string).toISOString()).toBe('2026-03-05T09:00:00.000Z');
      // And the CRM's next record of it stays erased.
      inbox(
        w,
        'members',
        'members-0003.csv',
        membersCsv([
          { ...SECRETOVA, status: 'MERGED', mergedInto: NEW.number, updated: '2026-03-07T10:00:00Z' },
        ]),
      );
      await runJob(w.ctx('2026-03-07'), 'nightly');
      for (const clear of HIDDEN) expect(await storedRecords()).not.toContain(clear);
      expect((await checkLedger(w.t.db.knex)).ok).toBe(true);
    });

    it('retention erases a waiting merge of an account never enrolled once it has waited retention.closedMonths', async () => {
      inbox(
        w,
        'members',
        'members-0001.csv',
        membersCsv([
          { ...SECRETOVA, status: 'MERGED', mergedInto: NEW.number, updated: '2024-03-01T10:00:00Z' },
        ]),
      );
      await runJob(w.ctx('2024-03-02'), 'nightly');
      // 24 months less a day: not yet (the demo keeps 24).
      expect((await retentionJob(w.ctx('2026-03-01'))).counts.erased).toBe(0);
      expect(await storedRecords()).toContain(SECRETOVA.email);

      expect((await retentionJob(w.ctx('2026-03-02'))).counts.erased).toBe(1);
      for (const clear of HIDDEN) expect(await storedRecords()).not.toContain(clear);
      expect(await w.t.db.knex('member_merges_waiting').first('member_number', 'merged_into')).toEqual({
        member_number: SECRETOVA.number,
        merged_into: NEW.number,
      });
      expect(await w.t.db.knex('erasures').select('member_number', 'reason')).toEqual([
        { member_number: SECRETOVA.number, reason: 'RETENTION' },
      ]);
      // Erased once: the next night finds nothing due.
      expect((await retentionJob(w.ctx('2026-03-03'))).counts.erased).toBe(0);
    });

    it('retention erases an enrolled account whose merge has waited retention.closedMonths for its survivor', async () => {
      inbox(w, 'members', 'members-0001.csv', membersCsv([{ ...ORLOV, updated: '2024-01-02T10:00:00Z' }]));
      await runJob(w.ctx('2024-01-02'), 'nightly');
      inbox(
        w,
        'members',
        'members-0002.csv',
        membersCsv([{ ...ORLOV, status: 'MERGED', mergedInto: NEW.number, updated: '2024-03-01T10:00:00Z' }]),
      );
      const night = await runJob(w.ctx('2024-03-02'), 'nightly');
      expect(night.steps.find((x) => x.job === 'ingest')!.counts['members.waiting']).toBe(1);
      // 24 months less a day: not yet (the demo keeps 24).
      expect((await retentionJob(w.ctx('2026-03-01'))).counts.erased).toBe(0);
      expect(await storedRecords()).toContain(ORLOV.email);

      expect((await retentionJob(w.ctx('2026-03-02'))).counts.erased).toBe(1);
      for (const clear of CLEAR) expect(await storedRecords()).not.toContain(clear);
      const member = await w.t.db.knex('members').where({ number: ORLOV.number }).first();
      expect(member).toMatchObject({ status: 'ACTIVE', email: null, birth_date: null, phone: null });
      expect(member.surname).toMatch(/^TOK-/);
      expect(member.erased_at).not.toBeNull();
      const record = JSON.parse(
        String((await w.t.db.knex('member_merges_waiting').first('record')).record),
      ) as Record<string, unknown>;
      expect(record).toMatchObject({ memberNumber: ORLOV.number, mergedInto: NEW.number, email: null });
      expect(record.surname).toBe(member.surname);
      expect(await w.t.db.knex('erasures').select('member_number', 'reason')).toEqual([
        { member_number: ORLOV.number, reason: 'RETENTION' },
      ]);
      expect((await retentionJob(w.ctx('2026-03-03'))).counts.erased).toBe(0);

      // The survivor comes at last: the merge lands by number, the points move, the member stays erased.
      inbox(w, 'members', 'members-0003.csv', membersCsv([{ ...NEW, updated: '2026-03-04T08:00:00Z' }]));
      const landed = await runJob(w.ctx('2026-03-04'), 'nightly');
      expect(landed.steps.find((x) => x.job === 'ingest')!.counts['members.merged']).toBe(1);
      expect(await w.t.db.knex('members').where({ number: ORLOV.number }).first()).toMatchObject({
        status: 'MERGED',
        merged_into: NEW.number,
        surname: member.surname,
        email: null,
      });
      for (const clear of CLEAR) expect(await storedRecords()).not.toContain(clear);
      expect((await checkLedger(w.t.db.knex)).ok).toBe(true);
    });

    it('retention erases a closed account whose merge waits once, as a closed account', async () => {
      inbox(w, 'members', 'members-0001.csv', membersCsv([{ ...ORLOV, updated: '2024-01-02T10:00:00Z' }]));
      await runJob(w.ctx('2024-01-02'), 'nightly');
      inbox(
        w,
        'members',
        'members-0002.csv',
        membersCsv([{ ...ORLOV, status: 'CLOSED', updated: '2024-03-01T10:00:00Z' }]),
      );
      await runJob(w.ctx('2024-03-02'), 'nightly');
      inbox(
        w,
        'members',
        'members-0003.csv',
        membersCsv([{ ...ORLOV, status: 'MERGED', mergedInto: NEW.number, updated: '2024-04-01T10:00:00Z' }]),
      );
      await runJob(w.ctx('2024-04-02'), 'nightly');
      expect((await retentionJob(w.ctx('2026-04-02'))).counts.erased).toBe(1);
      for (const clear of CLEAR) expect(await storedRecords()).not.toContain(clear);
      expect(await w.t.db.knex('erasures').select('member_number', 'reason')).toEqual([
        { member_number: ORLOV.number, reason: 'RETENTION' },
      ]);
    });

    it("a waiting merge the CRM sends again keeps waiting since its first night: retention's period is not restarted", async () => {
      const merged = { ...SECRETOVA, status: 'MERGED', mergedInto: NEW.number };
      inbox(w, 'members', 'members-0001.csv', membersCsv([{ ...merged, updated: '2024-03-01T10:00:00Z' }]));
      await runJob(w.ctx('2024-03-02'), 'nightly');
      const email = 'anna.new@mail.example';
      inbox(
        w,
        'members',
        'members-0002.csv',
        membersCsv([{ ...merged, email, updated: '2025-06-01T10:00:00Z' }]),
      );
      const again = await runJob(w.ctx('2025-06-02'), 'nightly');
      const ingest = again.steps.find((x) => x.job === 'ingest')!;
      expect(ingest.counts['members.waiting']).toBe(1);
      // The operator reads the same: the merge waits since the night it began to, from the line read last.
      expect(ingest.warnings).toContainEqual(
        expect.stringContaining(`members-0002.csv line 2, merged_into: ${SECRETOVA.number} is merged`),
      );
      expect(ingest.warnings).toContainEqual(
        expect.stringContaining(
          `the merge waits (since 2024-03-02) for ${NEW.number}'s record, and ${SECRETOVA.number} keeps its ` +
            `points until then: ask the CRM to send ${NEW.number}'s record in the members feed`,
        ),
      );
      expect(await storedRecords()).toContain(email);

      expect((await retentionJob(w.ctx('2026-03-01'))).counts.erased).toBe(0);
      expect((await retentionJob(w.ctx('2026-03-02'))).counts.erased).toBe(1);
      for (const clear of [...HIDDEN, email]) expect(await storedRecords()).not.toContain(clear);

      // Merged into another account, it is another merge: its wait begins that night.
      const OTHER = number(13);
      inbox(
        w,
        'members',
        'members-0003.csv',
        membersCsv([{ ...merged, mergedInto: OTHER, updated: '2026-03-03T10:00:00Z' }]),
      );
      await runJob(w.ctx('2026-03-03'), 'nightly');
      expect(await w.t.db.knex('member_merges_waiting').first('merged_into', 'business_date')).toEqual({
        merged_into: OTHER,
        business_date: '2026-03-03',
      });
    });

    it('an erased member still earns: their flights are credited by the number, no name being held to match', async () => {
      inbox(w, 'members', 'members-0001.csv', membersCsv([{ ...ORLOV, updated: '2024-01-02T10:00:00Z' }]));
      await runJob(w.ctx('2024-01-02'), 'nightly');
      await forgetMember(w.ctx('2024-01-10'), ORLOV.number);
      // The CRM sends him again, still active: the record is kept erased, his names the same tokens.
      inbox(w, 'members', 'members-0002.csv', membersCsv([{ ...ORLOV, updated: '2024-01-20T10:00:00Z' }]));
      await runJob(w.ctx('2024-01-20'), 'nightly');
      inbox(
        w,
        'flown',
        'FLOWN_20240201.csv',
        coupons([
          {
            ticket: '9581000000011',
            number: ORLOV.number,
            surname: ORLOV.surname,
            given: ORLOV.given,
            date: '2024-01-30',
          },
        ]),
      );
      await runJob(w.ctx('2024-02-01'), 'nightly');
      expect(
        await w.t.db.knex('activities').where({ ticket_number: '9581000000011' }).first('status', 'reason'),
      ).toEqual({ status: 'POSTED', reason: null });
      const balance = await w.t.db
        .knex('accounts')
        .where({ code: Accounts.memberPoints(ORLOV.number) })
        .first('balance');
      expect(Number(balance?.balance ?? 0)).toBeGreaterThan(0);
      for (const clear of CLEAR) expect(await storedRecords()).not.toContain(clear);
      expect((await checkLedger(w.t.db.knex)).ok).toBe(true);
    });
  });
}
