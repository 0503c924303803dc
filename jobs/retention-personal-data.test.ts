/**
 * A forgotten member's personal data leaves every copy Redeye keeps: the claims' JSON at once (in the
 * erasure's transaction), the reject lines that carry the name without the number and the raw files by
 * age (`retention.rejectTextDays`, `landedFileDays`, `exportCopyDays`, `reportDays`, from the business
 * date). After `member forget` and the retention step, no table and no file under the var folders holds
 * the member's surname, given name, e-mail or phone, and the books still balance.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import JSZip from 'jszip';
import type { Knex } from 'knex';
import { availableEngines } from '../test/harness/db.js';
import { createWorld, type TestWorld } from '../test/harness/context.js';
import { runJob } from './runner.js';
import { forgetMember, retentionJob } from './retention.js';
import { checkLedger } from '../ledger/check.js';
import { withCheckDigit } from '../rules/check-digit.js';
import { Scenario } from '../rules/scenarios/scenario.js';

const RULE = { pattern: '^[0-9]{10}$', checkDigit: 'luhn' as const };
const number = (i: number) => withCheckDigit(`6${String(i).padStart(8, '0')}`, RULE);

const MARTA = {
  number: number(1),
  surname: 'MORENO',
  given: 'MARTA',
  email: 'marta.moreno@mail.example',
  phone: '+34600111222',
};
/** Another member, on the same flight: her data is not ours to erase. */
const OTHER = {
  number: number(2),
  surname: 'OYELARAN',
  given: 'ADEBAYO',
  email: 'adebayo@mail.example',
  phone: '+2348001234567',
};
const SECRETS = [MARTA.surname, MARTA.given, MARTA.email, MARTA.phone];

function inbox(w: TestWorld, feed: 'members' | 'flown', name: string, text: string): void {
  const cfg = w.config.feeds[feed]!;
  const root = (w.config.transports[cfg.source] as { root: string }).root;
  mkdirSync(join(root, cfg.remoteDir), { recursive: true });
  writeFileSync(join(root, cfg.remoteDir, name), text);
}

const membersCsv = (people: Array<typeof MARTA>) =>
  [
    'member_number,status,merged_into,enrolment_date,enrolment_channel,surname,given_name,birth_date,email,phone,marketing_consent,updated_at',
    ...people.map((p) =>
      [
        p.number,
        'ACTIVE',
        '',
        '2020-01-01',
        'WEB',
        p.surname,
        p.given,
        '1980-05-17',
        p.email,
        p.phone,
        'Y',
        '2024-01-01T00:00:00Z',
      ].join(','),
    ),
  ].join('\n') + '\n';

const couponsCsv = (people: Array<typeof MARTA>) =>
  [
    'ticket_number,coupon_number,issue_date,pnr,operating_carrier,operating_flight,marketing_carrier,marketing_flight,flight_date,origin,destination,cabin,booked_rbd,flown_rbd,fare_basis,passenger_surname,passenger_given_name,passenger_type,ffp_carrier,ffp_number,fare_amount,carrier_surcharge_amount,tax_amount,currency,coupon_status,source_ref',
    ...people.map((p, i) =>
      [
        `958100000000${i + 1}`,
        1,
        '2024-02-01',
        'ABC123',
        'XX',
        '101',
        'XX',
        '101',
        '2024-02-01',
        'SVO',
        'LED',
        'Y',
        'Y',
        'Y',
        'YFLEX',
        p.surname,
        p.given,
        'ADT',
        'XX',
        p.number,
        '150.00',
        '0.00',
        '20.00',
        'USD',
        'F',
        `R${i}`,
      ].join(','),
    ),
  ].join('\n') + '\n';

/** Every row of every table, as text, on either engine. */
async function everyTable(knex: Knex): Promise<Map<string, string>> {
  const names: string[] =
    knex.client.config.client === 'pg'
      ? (
          await knex('information_schema.tables')
            .whereRaw('table_schema = current_schema()')
            .select('table_name as name')
        ).map((r: { name: string }) => r.name)
      : (
          await knex('sqlite_master')
            .where({ type: 'table' })
            .whereNot('name', 'like', 'sqlite_%')
            .select('name')
        ).map((r: { name: string }) => r.name);
  const out = new Map<string, string>();
  for (const t of names) out.set(t, JSON.stringify(await knex(t).select('*')));
  return out;
}

/** Every file under `dir` (links not followed), as text; a workbook's parts unzipped. */
async function everyFile(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    const bytes = readFileSync(path);
    let text = bytes.toString('utf8');
    if (path.endsWith('.xlsx')) {
      const zip = await JSZip.loadAsync(bytes);
      for (const f of Object.values(zip.files)) if (!f.dir) text += await f.async('string');
    }
    out.set(path, text);
  }
  return out;
}

const holding = (texts: Map<string, string>, secrets: string[]) =>
  [...texts].flatMap(([where, text]) =>
    secrets.filter((s) => text.toUpperCase().includes(s.toUpperCase())).map((s) => `${where}: ${s}`),
  );

for (const engine of availableEngines()) {
  describe(`a forgotten member's data leaves every copy, on ${engine}`, () => {
    let w: TestWorld;
    beforeEach(async () => {
      w = await createWorld(engine, (y) => y.replace(/\nmail:[\s\S]*?\n(?=reports:)/, '\n'));
      const ctx = w.ctx.bind(w);
      w.ctx = (date, now) => ({ ...ctx(date, now), env: { REDEYE_TOKEN_SECRET: 'retention test secret' } });
    });
    afterEach(async () => w.cleanup());

    /** A night with both members and their flight, and the claims and rejects that carry her name. */
    async function night(): Promise<void> {
      inbox(w, 'members', 'MEMBERS_20240201.csv', membersCsv([MARTA, OTHER]));
      inbox(w, 'flown', 'FLOWN_20240201.csv', couponsCsv([MARTA, OTHER]));
      const summary = await runJob(w.ctx('2024-02-01'), 'nightly');
      expect(summary.steps.find((s) => s.job === 'ingest')!.status).toBe('succeeded');
      const knex = w.t.db.knex;
      const activity = async (n: string) =>
        (await knex('activities').where({ member_number: n }).first('activity_key', 'source_file_id'))!;
      const hers = await activity(MARTA.number);
      const theirs = await activity(OTHER.number);
      const flight = { carrier: 'XX', number: '101', date: '2024-02-01', origin: 'SVO', destination: 'LED' };
      const claim = (p: typeof MARTA, id: string) =>
        JSON.stringify({
          claimId: id,
          member: { program: 'XX', number: p.number, surname: p.surname, givenName: p.given },
          flight,
        });
      await knex('alliance_claims').insert([
        // A partner's claim for her flight, as the ingest records it …
        {
          direction: 'IN',
          partner_code: 'LH',
          claim_id: 'LH-1',
          activity_key: hers.activity_key,
          business_date: '2024-02-01',
          claim: claim(MARTA, 'LH-1'),
          status: 'PENDING',
        },
        // … a claim we sent with her partner card, and one for the other member.
        {
          direction: 'OUT',
          partner_code: 'IB',
          claim_id: 'XX-1',
          activity_key: hers.activity_key,
          business_date: '2024-02-01',
          claim: claim(MARTA, 'XX-1'),
          status: 'SENT',
        },
        {
          direction: 'IN',
          partner_code: 'LH',
          claim_id: 'LH-2',
          activity_key: theirs.activity_key,
          business_date: '2024-02-01',
          claim: claim(OTHER, 'LH-2'),
          status: 'PENDING',
        },
      ]);
      await knex('retro_claims').insert({
        claim_id: 'RC-1',
        member_number: MARTA.number,
        received_date: '2024-02-01',
        claim: JSON.stringify({
          claimId: 'RC-1',
          memberNumber: MARTA.number,
          receivedDate: '2024-02-01',
          surname: MARTA.surname,
          givenName: MARTA.given,
          carrier: 'XX',
          flightNumber: '101',
          flightDate: '2024-02-01',
        }),
        status: 'CREDITED',
      });
      // An FTL part received twice: the reject's line carries her name, not her number.
      await knex('rejects').insert([
        {
          file_id: hers.source_file_id,
          feed: 'ftl',
          line: 4,
          field: 'PART',
          reason: 'DUPLICATE_PART',
          text: `1${MARTA.surname}/${MARTA.given} MRS`,
          business_date: '2024-02-01',
          created_at: '2024-02-01T23:30:00Z',
        },
        {
          file_id: null,
          feed: 'ftl',
          line: 5,
          field: 'PART',
          reason: 'DUPLICATE_PART',
          text: `1${OTHER.surname}/${OTHER.given} MR`,
          business_date: '2024-05-20',
          created_at: '2024-05-20T23:30:00Z',
        },
      ]);
    }

    it('the claims are scrubbed at once; the reject lines and the raw files by age; the books still balance', async () => {
      await night();
      const knex = w.t.db.knex;
      const var_ = [
        w.config.paths.landing,
        w.config.paths.outbox,
        w.config.paths.reports,
        join(w.dir, 'delivered'),
      ];
      const files = async () => {
        const all = new Map<string, string>();
        for (const d of var_) for (const [k, v] of await everyFile(d)) all.set(k, v);
        return all;
      };
      // The night left her data in the landed files and the stored report, at least.
      expect(holding(await files(), SECRETS).length).toBeGreaterThan(0);

      // A file still pending keeps its landed copy, however old.
      const pending = join(w.config.paths.landing, 'members', '2024-01-15', 'MEMBERS_20240115.csv');
      mkdirSync(join(pending, '..'), { recursive: true });
      writeFileSync(pending, membersCsv([OTHER]));
      await knex('files').insert({
        direction: 'in',
        feed: 'members',
        name: 'MEMBERS_20240115.csv',
        size: 1,
        sha256: 'x'.repeat(64),
        local_path: pending,
        business_date: '2024-01-15',
        verdict: 'pending',
        created_at: '2024-01-15T23:30:00Z',
      });
      // A link in the reports folder is neither followed nor removed.
      const outside = join(w.dir, 'outside.txt');
      writeFileSync(outside, 'not ours');
      symlinkSync(w.dir, join(w.config.paths.reports, '2023-01-01'));

      await forgetMember(w.ctx('2024-02-02'), MARTA.number);
      const claims = await everyTable(knex);
      // In the erasure's transaction: the claims keep id, number, flight; the names are tokens.
      for (const t of ['alliance_claims', 'retro_claims', 'members', 'activities'])
        expect(holding(new Map([[t, claims.get(t)!]]), SECRETS), t).toEqual([]);
      const inbound = JSON.parse(
        (await knex('alliance_claims').where({ claim_id: 'LH-1' }).first('claim')).claim,
      );
      expect(inbound).toMatchObject({
        claimId: 'LH-1',
        member: { number: MARTA.number, surname: expect.stringMatching(/^TOK-/) },
        flight: { number: '101' },
      });
      expect(
        JSON.parse((await knex('retro_claims').where({ claim_id: 'RC-1' }).first('claim')).claim),
      ).toMatchObject({
        memberNumber: MARTA.number,
        flightNumber: '101',
        surname: expect.stringMatching(/^TOK-/),
      });
      // Another member's claim is untouched.
      expect((await knex('alliance_claims').where({ claim_id: 'LH-2' }).first('claim')).claim).toContain(
        OTHER.surname,
      );

      // The next night's retention, then the one after every period has passed (90 days, by business date).
      const soon = await retentionJob(w.ctx('2024-02-02'));
      expect(soon.counts).toMatchObject({
        landedFilesRemoved: 0,
        reportFoldersRemoved: 0,
        rejectTextsBlanked: 0,
      });
      const later = await retentionJob(w.ctx('2024-06-01'));
      expect(later.counts).toMatchObject({ rejectTextsBlanked: 1, reportFoldersRemoved: 1 });
      expect(later.counts.landedFilesRemoved).toBeGreaterThanOrEqual(2);
      expect(later.counts.exportCopiesRemoved).toBeGreaterThan(0);
      expect(later.counts.deliveredMailingsRemoved).toBeGreaterThan(0);
      expect(readdirSync(join(w.dir, 'delivered', 'mailing'))).toEqual([]);

      expect(holding(await everyTable(knex), SECRETS)).toEqual([]);
      expect(holding(await files(), SECRETS)).toEqual([]);
      // What is not due stays: the pending file, the other member, the recent reject, the link's target.
      expect(existsSync(pending)).toBe(true);
      expect(await knex('members').where({ number: OTHER.number }).first('email')).toEqual({
        email: OTHER.email,
      });
      expect(await knex('rejects').where({ business_date: '2024-05-20' }).first('text')).toEqual({
        text: `1${OTHER.surname}/${OTHER.given} MR`,
      });
      expect(existsSync(outside)).toBe(true);
      expect(existsSync(join(w.config.paths.reports, '2023-01-01'))).toBe(true);
      // The registry still accounts for every file; the books balance.
      expect(
        Number(
          (await knex('files').where({ direction: 'in', feed: 'members' }).count({ n: '*' }).first())!.n,
        ),
      ).toBe(2);
      expect((await checkLedger(knex)).ok).toBe(true);

      // Idempotent: a second run removes nothing more.
      const again = await retentionJob(w.ctx('2024-06-02'));
      expect(again.counts).toMatchObject({
        landedFilesRemoved: 0,
        exportCopiesRemoved: 0,
        reportFoldersRemoved: 0,
        rejectTextsBlanked: 0,
      });
    });

    it("an address the members feed refused leaves with the reject's text: the message never held it", async () => {
      const BAD = 'marta moreno@mail.example';
      inbox(w, 'members', 'MEMBERS_20240201.csv', membersCsv([MARTA]));
      await runJob(w.ctx('2024-02-01'), 'nightly');
      // The CRM sends her again with a mistyped address.
      inbox(w, 'members', 'MEMBERS_20240202.csv', membersCsv([{ ...MARTA, email: BAD }]));
      await runJob(w.ctx('2024-02-02'), 'nightly');
      const knex = w.t.db.knex;
      expect(await knex('rejects').select('field', 'reason', 'message', 'text')).toEqual([
        {
          field: 'email',
          reason: 'BAD_FORMAT',
          message: expect.not.stringContaining('moreno'),
          text: BAD,
        },
      ]);
      await forgetMember(w.ctx('2024-02-03'), MARTA.number);
      await retentionJob(w.ctx('2024-06-01'));
      expect(holding(await everyTable(knex), [BAD])).toEqual([]);
      expect(await knex('rejects').first('field', 'reason', 'text')).toEqual({
        field: 'email',
        reason: 'BAD_FORMAT',
        text: null,
      });
    });

    it('claims that come for her after she was forgotten lose her name once decided, and a rerun changes nothing', async () => {
      // She stays active after the erasure and keeps filing claims: a retro-claim for her flight and a
      // partner's claim for her Lufthansa flight, both read with her name as she wrote it.
      inbox(w, 'members', 'MEMBERS_20240201.csv', membersCsv([MARTA, OTHER]));
      inbox(w, 'flown', 'FLOWN_20240201.csv', couponsCsv([MARTA, OTHER]));
      await runJob(w.ctx('2024-02-01'), 'nightly');
      await forgetMember(w.ctx('2024-02-02'), MARTA.number);
      const knex = w.t.db.knex;
      const s = new Scenario(w);
      s.dropRetroClaims([
        {
          id: 'RC-9',
          member: MARTA.number,
          received: '2025-03-01',
          carrier: 'XX',
          flight: '101',
          date: '2024-02-10',
          from: 'SVO',
          to: 'LED',
          surname: MARTA.surname,
          givenName: MARTA.given,
        },
      ]);
      s.dropAllianceClaims('LH', [
        {
          id: 'LH-9',
          member: MARTA.number,
          surname: MARTA.surname,
          givenName: MARTA.given,
          carrier: 'LH',
          flight: '1444',
          date: '2025-02-20',
          from: 'FRA',
          to: 'MUC',
          cabin: 'Y',
          rbd: 'Y',
        },
      ]);
      // A line of hers refused that night: its text carries her name next to her number.
      await knex('rejects').insert({
        feed: 'retro-claims',
        line: 3,
        field: 'claim_id',
        reason: 'DUPLICATE',
        member_number: MARTA.number,
        text: `RC-8,${MARTA.number},2025-03-01,,,XX,101,2024-02-10,SVO,LED,${MARTA.surname},${MARTA.given}`,
        business_date: '2025-03-01',
        created_at: '2025-03-01T23:30:00Z',
      });
      const night = await runJob(w.ctx('2025-03-01'), 'nightly');
      expect(night.steps.map((st) => [st.job, st.status])).not.toContainEqual(['retention', 'failed']);
      expect(await knex('retro_claims').where({ claim_id: 'RC-9' }).first('status')).toEqual({
        status: 'REJECTED',
      });
      expect(await knex('alliance_claims').where({ claim_id: 'LH-9' }).first('direction')).toEqual({
        direction: 'IN',
      });
      // The night's own retention scrubbed them, not an age rule: in these tables she is gone already.
      const tonight = await everyTable(knex);
      for (const t of ['retro_claims', 'alliance_claims', 'rejects'])
        expect(holding(new Map([[t, tonight.get(t)!]]), SECRETS), t).toEqual([]);
      // Her later flight keeps its names as travelled, as anyone's does while a coupon without a card
      // may have to find its passenger by them.
      expect(
        await knex('activities')
          .where({ member_number: MARTA.number, activity_date: '2025-02-20' })
          .first('travel_surname'),
      ).toEqual({ travel_surname: MARTA.surname });
      // A retro-claim still PENDING keeps the name it may have to find a coupon by.
      await knex('retro_claims').insert({
        claim_id: 'RC-10',
        member_number: MARTA.number,
        received_date: '2025-03-02',
        claim: JSON.stringify({ claimId: 'RC-10', surname: MARTA.surname }),
        status: 'PENDING',
      });
      await retentionJob(w.ctx('2025-03-02'));
      expect((await knex('retro_claims').where({ claim_id: 'RC-10' }).first('claim')).claim).toContain(
        MARTA.surname,
      );
      await knex('retro_claims').where({ claim_id: 'RC-10' }).update({ status: 'REJECTED' });

      // Every period has passed, the flight's windows too: nothing holds her name, while the claims keep
      // what the books need.
      await retentionJob(w.ctx('2026-03-01'));
      expect(holding(await everyTable(knex), SECRETS)).toEqual([]);
      expect(
        JSON.parse((await knex('retro_claims').where({ claim_id: 'RC-9' }).first('claim')).claim),
      ).toMatchObject({
        claimId: 'RC-9',
        memberNumber: MARTA.number,
        surname: expect.stringMatching(/^TOK-/),
      });
      expect(
        JSON.parse((await knex('alliance_claims').where({ claim_id: 'LH-9' }).first('claim')).claim),
      ).toMatchObject({
        claimId: 'LH-9',
        member: { number: MARTA.number, surname: expect.stringMatching(/^TOK-/) },
      });
      const tables = ['retro_claims', 'alliance_claims', 'activities', 'rejects'] as const;
      const before = await Promise.all(tables.map((t) => knex(t).orderBy('id').select('*')));
      const again = await retentionJob(w.ctx('2026-03-01'));
      expect(again.counts).toMatchObject({ erased: 0, claimsOfErasedScrubbed: 0 });
      expect(await Promise.all(tables.map((t) => knex(t).orderBy('id').select('*')))).toEqual(before);
    });
  });
}
