/**
 * The export job over a recorded month-end night, on SQLite and PostgreSQL: every file it writes, what
 * the registry says about it, the XML against its schema, the invoice figures against the ledger
 * recomputed here independently, consent and personal data in the mailing lists, and reruns that are
 * byte-identical and register nothing new.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../config/load.js';
import { addDays, type IsoDate } from '../lib/dates.js';
import { Ledger } from '../ledger/ledger.js';
import { Decimal, formatMinor, toMinorUnits } from '../lib/money.js';
import { allianceClaimsParser, allianceResultsParser, type AllianceClaim } from '../parsers/alliance.js';
import {
  ALLIANCE_XSD,
  collect,
  inputOf,
  SHARED_FORMATS,
  split,
  validateWithSchema,
  xmllintOrSkip,
} from '../parsers/fixtures/xml/support.js';
import { parseXmlText, type XmlElement } from '../parsers/xml-common.js';
import { availableEngines, createTestDatabase, type TestDb } from '../test/harness/db.js';
import {
  DAY,
  insertActivity,
  insertInboundFile,
  jobContext,
  M,
  partnerCredit,
  PROJECT,
  recordNight,
  testConfig,
  type Night,
} from '../exporters/fixtures/night.js';
import { insertMember } from '../ledger/members.js';
import { exportJob } from './export.js';

const OTA_XSD = join(SHARED_FORMATS, 'ota/2017B/OTA_HotelStayInfoNotifRS.xsd');
const SCHEMAS: Record<string, string> = {
  'alliance-claims': ALLIANCE_XSD,
  'alliance-results': ALLIANCE_XSD,
  invoice: join(PROJECT, 'schemas/redeye-isxml-subset-1.0.xsd'),
  mailing: join(PROJECT, 'schemas/redeye-mailing-1.0.xsd'),
  'hotel-response': OTA_XSD,
};

interface OutRow {
  id: number;
  feed: string;
  name: string;
  size: number;
  sha256: string;
  local_path: string;
  /** Where the file is: `local_path` is stored relative to the outbox. */
  copy: string;
  business_date: string;
  partner_code: string | null;
  sequence: number | null;
  verdict: string;
  answers_file_id: number | null;
  export_key: string;
}

function csv(path: string): string[][] {
  return parse(readFileSync(path, 'utf8'), { relax_column_count: true }) as string[][];
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function elements(xml: string, name: string): XmlElement[] {
  const parsed = parseXmlText(xml);
  if (!parsed.ok) throw new Error(parsed.refusal.message);
  const out: XmlElement[] = [];
  const walk = (el: XmlElement) => {
    if (el.name === name) out.push(el);
    el.children.forEach(walk);
  };
  walk(parsed.doc.root);
  return out;
}

const textsOf = (xml: string, name: string) => elements(xml, name).map((e) => e.text.trim());
const child = (el: XmlElement, name: string) => el.children.find((c) => c.name === name)?.text.trim();

/** Each document of a transmission as the clearing house reads it: number, type, each line's figures. */
const documents = (xml: string) =>
  elements(xml, 'Invoice').map((invoice) => {
    const header = invoice.children.find((c) => c.name === 'InvoiceHeader')!;
    return {
      number: child(header, 'InvoiceNumber'),
      type: child(header, 'InvoiceType'),
      lines: invoice.children
        .filter((c) => c.name === 'LineItem')
        .map((l) => [
          child(l, 'Description'),
          child(l, 'Quantity'),
          child(l, 'UnitPrice'),
          child(l, 'ChargeAmount'),
        ]),
      total: child(
        invoice.children.find((c) => c.name === 'InvoiceSummary')!,
        'TotalAmount',
      ),
    };
  });

for (const engine of availableEngines()) {
  describe(`export job on ${engine}`, () => {
    let t: TestDb;
    let config: LoadedConfig;
    let night: Night;

    beforeEach(async () => {
      t = await createTestDatabase(engine);
      config = testConfig();
      night = await recordNight(t.db);
    });

    afterEach(async () => {
      await t.cleanup();
      rmSync(config.paths.outbox, { recursive: true, force: true });
    });

    const outRows = async (): Promise<OutRow[]> =>
      ((await t.db.knex('files').where('direction', 'out').orderBy('id')) as OutRow[]).map((r) => ({
        ...r,
        copy: join(config.paths.outbox, r.local_path),
      }));
    const byKind = async (kind: string) => (await outRows()).filter((r) => r.feed === kind);
    const one = async (kind: string, partner: string | null = null) => {
      const rows = (await byKind(kind)).filter((r) => partner === null || r.partner_code === partner);
      expect(rows).toHaveLength(1);
      return rows[0]!;
    };

    /** A partner file read late: the partner's credit of the month, as accrue records it. */
    const lateCredit = async (
      ledger: Ledger,
      partner: string,
      txn: string,
      points: number,
      rule: string,
      type: string,
      businessDate: IsoDate = DAY,
    ) => {
      const key = `PTR:${partner}:${txn}`;
      // A member who gets no mailing: only the invoice files can change.
      await ledger.post([
        partnerCredit(key, M.noConsent, partner, points, { ruleVersion: rule, businessDate }),
      ]);
      await insertActivity(t.db.knex, {
        key,
        type: 'PARTNER',
        partnerCode: partner,
        status: 'POSTED',
        member: M.noConsent,
        ref: txn,
        points,
        postingKey: key,
        activityType: type,
        ruleVersion: rule,
        businessDate,
        activityDate: businessDate,
      });
    };

    it('writes every export of a month-end night and registers each for delivery', async () => {
      const result = await exportJob(jobContext(t.db, config, DAY));
      expect(result.counts).toMatchObject({
        partnerResponses: 2,
        hotelResponses: 2,
        claimsFiles: 2,
        claims: 2,
        invalidClaims: 1,
        resultsFiles: 1,
        transmissions: 1,
        invoices: 2,
        statements: 2,
        mailingLists: 5,
        notReady: 1,
        written: 15,
      });
      expect(result.counts.failed).toBeUndefined();
      expect(result.warnings!.join('\n')).toMatch(/REDBANK_20261130_0001\.csv.*waiting for the accrue job/);
      expect(result.warnings!.join('\n')).toMatch(/Member\/Surname/);

      const rows = await outRows();
      expect(rows).toHaveLength(15);
      for (const row of rows) {
        expect(row.verdict).toBe('written');
        expect(row.business_date).toBe(DAY);
        expect(row.local_path).toBe(join(row.feed, row.name));
        expect(row.copy).toBe(join(config.paths.outbox, row.feed, row.name));
        expect(existsSync(row.copy)).toBe(true);
        expect(sha256(row.copy)).toBe(row.sha256);
        expect(Number(row.size)).toBe(readFileSync(row.copy).length);
      }
      // Only complete files in the outbox: no temporary names left behind.
      for (const kind of new Set(rows.map((r) => r.feed))) {
        expect(readdirSync(join(config.paths.outbox, kind)).filter((n) => n.startsWith('.'))).toEqual([]);
      }
      const response = await one('partner-response', 'GRANDSTAY');
      expect(response).toMatchObject({
        name: 'GRANDSTAY_20261130_0007.resp.csv',
        answers_file_id: night.files.grandstayCsv,
        sequence: 1,
      });
      expect((await byKind('hotel-response')).map((r) => r.answers_file_id)).toEqual([
        night.files.hotelAccepted,
        night.files.hotelRejected,
      ]);
      expect(await one('alliance-results')).toMatchObject({
        name: 'LH_XX_000017.results.xml',
        partner_code: 'LH',
        answers_file_id: night.files.lhClaims,
        sequence: null,
      });
      expect(await one('alliance-claims', 'LH')).toMatchObject({
        name: 'XX_LH_20261130_000001.claims.xml',
        sequence: 1,
      });
      expect(await one('invoice')).toMatchObject({
        name: 'XX1_ISXML_202611_0001.xml',
        partner_code: null,
        sequence: 1,
      });
      expect((await byKind('invoice-statement')).map((r) => r.name)).toEqual([
        'GRANDSTAY_STATEMENT_202611.csv',
        'LH_STATEMENT_202611.csv',
      ]);
      expect((await byKind('mailing')).map((r) => r.name).sort()).toEqual([
        'ACCOUNT_CLOSURE_20261130.csv',
        'BALANCE_STATEMENT_20261130.csv',
        'EXPIRY_WARNING_20261130.csv',
        'INCOMPLETE_REGISTRATION_20261130.csv',
        'TIER_CHANGE_20261130.csv',
      ]);
      // A pending file got no response and used no sequence number.
      expect(await t.db.knex('sequences').where('scope', 'partner-response:REDBANK').first()).toBeUndefined();
    });

    it('answers the partner CSV file record by record, and a file rejected whole with its reason', async () => {
      await exportJob(jobContext(t.db, config, DAY));
      expect(readFileSync((await one('partner-response', 'GRANDSTAY')).copy, 'utf8')).toBe(
        'H,GRANDSTAY,7,2026-12-01T01:30:00Z,3,2,OK\r\n' +
          'D,T1,1000000016,A,1500,,\r\n' +
          'D,T3,1000000073,R,0,ACCOUNT_CLOSED,account merged into 1000000016\r\n' +
          'D,T4,1000000024,P,10000,CAP_EXCEEDED,partially accepted: a per-activity or per-period cap applied\r\n' +
          `D,'@SUM(1+1),'-2+3,R,0,MALFORMED,"line 5: -activity_date: expected a date YYYY-MM-DD, found ""2026-02-30"""\r\n` +
          'D,T1-R,1000000016,A,-1500,,\r\n' +
          'T,5,10000\r\n',
      );
      expect(readFileSync((await one('partner-response', 'DRIVE')).copy, 'utf8')).toBe(
        'H,DRIVE,3,2026-12-01T01:30:00Z,0,0,CONTROL_TOTAL_MISMATCH\r\nT,0,0\r\n',
      );
    });

    it('answers a file refused whole from a partner whose code holds _, reading the code from its name', async () => {
      // Its header unreadable: only the name says whose it is, the code read from the right.
      const id = await insertInboundFile(t.db.knex, {
        feed: 'partner',
        name: 'GRAND_STAY_20261130_0007.csv',
        partnerCode: null,
        sequence: null,
        verdict: 'rejected',
        reason: 'BAD_HEADER',
        message: 'line 1: expected the header record H',
      });
      const result = await exportJob(jobContext(t.db, config, DAY));
      expect(result.warnings).not.toContainEqual(expect.stringMatching(/GRAND_STAY.*cannot be answered/));
      const response = await one('partner-response', 'GRAND_STAY');
      expect(response).toMatchObject({
        name: 'GRAND_STAY_20261130_0007.resp.csv',
        answers_file_id: id,
        verdict: 'written',
      });
      expect(readFileSync(response.copy, 'utf8')).toMatch(
        /^H,GRAND_STAY,7,2026-12-01T01:30:00Z,0,0,BAD_HEADER\r\n/,
      );
    });

    it('answers a request whose name leaves no room for the response name, under that name shortened, the same on a rerun', async () => {
      // 254 bytes: a name the landing area and any SFTP server hold; `.resp.xml` after it would not fit.
      const name = `GS_${'S'.repeat(247)}.xml`;
      const id = await insertInboundFile(t.db.knex, {
        feed: 'hotel',
        name,
        partnerCode: 'GRANDSTAY',
        sequence: null,
        verdict: 'rejected',
        reason: 'NOT_WELL_FORMED',
        message: 'line 1, column 1: not XML',
      });
      const result = await exportJob(jobContext(t.db, config, DAY));
      const response = (await byKind('hotel-response')).find((r) => r.answers_file_id === id)!;
      expect(response).toMatchObject({ verdict: 'written', partner_code: 'GRANDSTAY' });
      expect(Buffer.byteLength(response.name)).toBeLessThanOrEqual(255);
      expect(response.name).toMatch(/^GS_S+-[0-9a-f]{8}\.resp\.xml$/);
      expect(existsSync(response.copy)).toBe(true);
      expect(result.warnings).toContainEqual(
        expect.stringContaining(
          `${response.name}: the response to ${name} (file ${id}), whose name leaves no room`,
        ),
      );
      // A rerun finds it under the same name: nothing new written, nothing warned again.
      const rerun = await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-01T09:00:00Z')));
      expect((await byKind('hotel-response')).filter((r) => r.answers_file_id === id)).toEqual([response]);
      expect(rerun.warnings).not.toContainEqual(expect.stringContaining('leaves no room'));
    });

    it('answers hotel files with OTA_HotelStayInfoNotifRS: warnings per rejected stay, errors for a refused file', async () => {
      await exportJob(jobContext(t.db, config, DAY));
      const [accepted, refused] = await byKind('hotel-response');
      const ok = readFileSync(accepted!.copy, 'utf8');
      expect(textsOf(ok, 'Success')).toEqual(['']);
      const warnings = elements(ok, 'Warning').map((w) => [
        w.attrs.get('ShortText'),
        w.attrs.get('RPH'),
        w.attrs.get('RecordID'),
      ]);
      expect(warnings).toEqual([
        ['NAME_MISMATCH', '20', 'R-2'],
        ['CAP_EXCEEDED', '30', 'R-3'],
        ['BAD_CURRENCY', undefined, 'R-4'],
      ]);
      expect(elements(ok, 'OTA_HotelStayInfoNotifRS')[0]!.attrs.get('TimeStamp')).toBe(
        '2026-12-01T01:30:00Z',
      );
      const bad = readFileSync(refused!.copy, 'utf8');
      expect(elements(bad, 'Error').map((e) => e.attrs.get('ShortText'))).toEqual(['NOT_WELL_FORMED']);
    });

    it('sends the day’s claims per partner program, recorded as sent, and reads them back with the parser', async () => {
      await exportJob(jobContext(t.db, config, DAY));
      const lh = await one('alliance-claims', 'LH');
      const events = split(
        await collect(allianceClaimsParser.parse([inputOf(lh.name, readFileSync(lh.copy))])),
      );
      expect(events.verdict.verdict).toBe('accepted');
      expect(events.verdict.meta).toMatchObject({
        sender: 'XX',
        receiver: 'LH',
        sequence: 1,
        createdAt: '2026-12-01T01:30:00Z',
      });
      const claims = events.records.map((r) => r.record);
      expect(claims).toEqual<AllianceClaim[]>([
        {
          claimId: `XX-${night.activities.lhPassenger}`,
          member: { program: 'LH', number: '992001234567', surname: 'MUELLER', givenName: 'HANS' },
          flight: {
            operatingCarrier: 'XX',
            operatingFlightNumber: '0101',
            marketingCarrier: 'LH',
            marketingFlightNumber: '2541',
            date: addDays(DAY, -1),
            origin: 'SVO',
            destination: 'FRA',
            cabin: 'Y',
            flownRbd: 'M',
            ticketNumber: '5552101234567',
            couponNumber: 1,
          },
        },
      ]);
      const ib = await one('alliance-claims', 'IB');
      const ibClaims = split(
        await collect(allianceClaimsParser.parse([inputOf(ib.name, readFileSync(ib.copy))])),
      ).records.map((r) => r.record.flight);
      expect(ibClaims).toMatchObject([
        { operatingCarrier: 'XX', marketingCarrier: 'IB', marketingFlightNumber: '7401' },
      ]);
      const recorded = await t.db.knex('alliance_claims').where({ direction: 'OUT' }).orderBy('id');
      expect(
        recorded.map((r) => [r.partner_code, r.status, r.file_id === null ? null : Number(r.file_id)]),
      ).toEqual([
        ['LH', 'SENT', lh.id],
        ['LH', 'INVALID', null],
        ['IB', 'SENT', (await one('alliance-claims', 'IB')).id],
      ]);
    });

    it('counts the passengers waiting for their coupon on a rerun of the night as its first run does', async () => {
      // Listed by tonight's FTL on the LH card, no flown coupon yet: it waits couponWaitDays nights.
      await insertActivity(t.db.knex, {
        type: 'FLIGHT',
        status: 'NOT_CREDITED',
        key: 'FLT:XX0105:WAITING',
        partnerCode: 'LH',
        ref: '992005555555',
        activityDate: DAY,
        businessDate: DAY,
        flight: {
          carrier: 'XX',
          flight_number: '105',
          origin: 'SVO',
          destination: 'MUC',
          cabin: 'C',
          booked_class: 'J',
          travel_surname: 'WAITING',
        },
      });
      const first = await exportJob(jobContext(t.db, config, DAY));
      expect(first.counts.claimsWaiting).toBe(1);
      const claims = await t.db.knex('alliance_claims').orderBy('id');
      const reasons = await t.db.knex('activities').orderBy('id').select('id', 'reason');

      const rerun = await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-01T09:45:00Z')));
      expect(rerun.counts.claimsWaiting).toBe(1);
      expect(rerun.counts.written).toBeUndefined();
      // Counted, not judged again: nothing claimed or marked by the rerun.
      expect(await t.db.knex('alliance_claims').orderBy('id')).toEqual(claims);
      expect(await t.db.knex('activities').orderBy('id').select('id', 'reason')).toEqual(reasons);
    });

    it('answers the inbound claims file: credited claims with points and the tier held that day, the rest rejected', async () => {
      await exportJob(jobContext(t.db, config, DAY));
      const row = await one('alliance-results');
      const events = split(
        await collect(allianceResultsParser.parse([inputOf(row.name, readFileSync(row.copy))])),
      );
      expect(events.verdict.verdict).toBe('accepted');
      expect(events.verdict.meta).toMatchObject({
        sender: 'XX',
        receiver: 'LH',
        answers: { sender: 'LH', receiver: 'XX', sequence: 17 },
      });
      expect(events.records.map((r) => r.record)).toEqual([
        { claimId: 'LH-C1', status: 'accepted', pointsCredited: 2000, tierHeld: 'GOLD' },
        {
          claimId: 'LH-C2',
          status: 'rejected',
          reasonCode: 'MEMBER_UNKNOWN',
          reasonText: 'no such member number',
        },
        {
          claimId: 'LH-C3',
          status: 'rejected',
          reasonCode: 'MALFORMED',
          reasonText: 'Flight/Origin: expected a 3-letter airport code',
        },
      ]);
      const inbound = await t.db
        .knex('alliance_claims')
        .where({ direction: 'IN', claim_id: 'LH-C1' })
        .first();
      expect(Number(inbound.result_file_id)).toBe(row.id);
      expect(inbound.answered_on).toBe(DAY);
    });

    it('invoices each partner the points credited on its behalf in the month, tying out to the ledger', async () => {
      await exportJob(jobContext(t.db, config, DAY));
      const xml = readFileSync((await one('invoice')).copy, 'utf8');

      // Independently: entries on each partner account in November, by the contract that priced them.
      const entries = (await t.db
        .knex('entries as e')
        .join('accounts as a', 'a.id', 'e.account_id')
        .join('postings as p', 'p.id', 'e.posting_id')
        .leftJoin('postings as o', 'o.id', 'p.reversal_of')
        .where('a.kind', 'PARTNER')
        .whereBetween('e.business_date', ['2026-11-01', '2026-11-30'])
        .select('a.code', 'e.amount', 'p.rule_version', 'o.rule_version as original_rule')) as Array<{
        code: string;
        amount: number;
        rule_version: string | null;
        original_rule: string | null;
      }>;
      const price = (rule: string) =>
        config.partners.flatMap((p) => [...p.contracts, ...p.charts]).find((c) => c.id === rule)!
          .pricePerPoint;
      const points = new Map<string, number>();
      for (const e of entries) points.set(e.code, (points.get(e.code) ?? 0) - Number(e.amount));
      expect(Object.fromEntries(points)).toEqual({ 'PARTNER:GRANDSTAY': 25801, 'PARTNER:LH': 2000 });

      const invoices = elements(xml, 'Invoice');
      expect(
        invoices.map((i) =>
          child(
            i.children
              .find((c) => c.name === 'InvoiceHeader')!
              .children.find((c) => c.name === 'BuyerOrganization')!,
            'OrganizationID',
          ),
        ),
      ).toEqual(['9GS', '220']);
      const totals = new Map<string, Decimal>();
      for (const invoice of invoices) {
        const header = invoice.children.find((c) => c.name === 'InvoiceHeader')!;
        const currency = child(
          header.children.find((c) => c.name === 'PaymentTerms')!,
          'CurrencyCode',
        )!;
        expect(child(header, 'ChargeCategory')).toBe('Miscellaneous');
        const lines = invoice.children.filter((c) => c.name === 'LineItem');
        let sum = new Decimal(0);
        let quantity = 0;
        for (const line of lines) {
          const q = Number(child(line, 'Quantity'));
          const description = child(line, 'Description')!;
          const rule = description.split(', ')[1]!;
          const expected = formatMinor(toMinorUnits(new Decimal(q).times(price(rule)), currency), currency);
          expect(child(line, 'ChargeAmount')).toBe(expected);
          expect(child(line, 'ChargeCode')).toBe('FFP');
          sum = sum.plus(expected);
          quantity += q;
        }
        const summary = invoice.children.find((c) => c.name === 'InvoiceSummary')!;
        expect(Number(child(summary, 'LineItemCount'))).toBe(lines.length);
        expect(child(summary, 'TotalAmount')).toBe(sum.toFixed(2));
        const buyer = child(
          header.children.find((c) => c.name === 'BuyerOrganization')!,
          'OrganizationID',
        );
        expect(quantity).toBe(points.get(buyer === '9GS' ? 'PARTNER:GRANDSTAY' : 'PARTNER:LH'));
        totals.set(currency, (totals.get(currency) ?? new Decimal(0)).plus(sum));
      }
      // 10000 × 0.0095 = 95.00 and 15801 × 0.0095 = 150.1095 → 150.11; 2000 × 0.0105 = 21.00
      expect(Object.fromEntries([...totals].map(([c, v]) => [c, v.toFixed(2)]))).toEqual({
        USD: '245.11',
        EUR: '21.00',
      });
      const summary = elements(xml, 'TransmissionSummary')[0]!;
      expect(
        summary.children
          .filter((c) => c.name === 'TotalAmount')
          .map((c) => [c.attrs.get('CurrencyCode'), c.text]),
      ).toEqual([
        ['EUR', '21.00'],
        ['USD', '245.11'],
      ]);

      const statement = csv((await one('invoice-statement', 'GRANDSTAY')).copy);
      expect(statement[0]!.slice(0, 5)).toEqual(['H', '2026110001', '2026-11-30', 'XX1', '9GS']);
      expect(statement.filter((r) => r[0] === 'L').map((r) => [r[3], r[4], r[6], r[8]])).toEqual([
        ['HOTEL', 'GRANDSTAY-2026', '15801', '150.11'],
        ['STAY', 'GRANDSTAY-2026', '10000', '95.00'],
      ]);
      expect(statement[statement.length - 1]).toEqual([
        'T',
        '2',
        '25801',
        '245.11',
        '0.00',
        '0.00',
        '245.11',
      ]);
    });

    it('keeps each partner’s invoice number when a re-export adds a partner, before delivery and after', async () => {
      const ledger = new Ledger(t.db, { now: () => new Date('2026-12-01T08:00:00Z') });
      const transmission = async () => {
        const xml = readFileSync((await byKind('invoice'))[0]!.copy, 'utf8');
        return {
          id: textsOf(xml, 'TransmissionID'),
          invoices: elements(xml, 'InvoiceHeader').map((h) => [
            child(h, 'InvoiceNumber'),
            child(
              h.children.find((c) => c.name === 'BuyerOrganization')!,
              'OrganizationID',
            ),
          ]),
        };
      };
      const statementNumber = async (partner: string) =>
        csv((await one('invoice-statement', partner)).copy)[0]![1];

      await exportJob(jobContext(t.db, config, DAY));
      expect(await transmission()).toEqual({
        id: ['XX1-202611-0001'],
        invoices: [
          ['2026110001', '9GS'],
          ['2026110002', '220'],
        ],
      });
      const statements = await byKind('invoice-statement');

      // DRIVE's file, read after the month-end export and before delivery: DRIVE sorts first, and takes
      // the next number; the draft's numbers stay, and so do the statements that carry them.
      await lateCredit(ledger, 'DRIVE', 'D-1', 500, 'DRIVE-2025', 'RENTAL');
      const before = await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-01T09:00:00Z')));
      expect(before.counts).toMatchObject({ replaced: 1, written: 1, unchanged: 14 });
      expect(await transmission()).toEqual({
        id: ['XX1-202611-0001'],
        invoices: [
          ['2026110001', '9GS'],
          ['2026110002', '220'],
          ['2026110003', '9DR'],
        ],
      });
      expect(await statementNumber('DRIVE')).toBe('2026110003');
      expect((await byKind('invoice-statement')).filter((r) => r.partner_code !== 'DRIVE')).toEqual(
        statements,
      );

      // Delivered, then DRIVE's credit taken back and REDBANK's file read late: DRIVE's number is not
      // given to REDBANK, whose invoice takes the next one, in a transmission of its own; the delivered
      // transmission stands, and DRIVE's reversal is credited in an adjustment numbered after REDBANK's.
      await t.db.knex('files').where({ direction: 'out' }).update({ verdict: 'delivered' });
      await ledger.postOne({ key: 'REV:PTR:DRIVE:D-1', reverses: 'PTR:DRIVE:D-1', businessDate: DAY });
      await lateCredit(ledger, 'REDBANK', 'RB-1', 1000, 'REDBANK-2025', 'CARD_SPEND');
      const after = await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-02T09:00:00Z')));
      expect(after.counts).toMatchObject({ written: 3, unchanged: 16, invoices: 5 });
      expect(after.counts.drifted).toBeUndefined();
      expect(await statementNumber('REDBANK')).toBe('2026110004');
      expect(await statementNumber('GRANDSTAY')).toBe('2026110001');
      expect(
        await t.db
          .knex('invoice_numbers')
          .orderBy('number')
          .select('issuer', 'billing_month', 'partner_code', 'invoice_number', 'assigned_on'),
      ).toEqual(
        [
          ['GRANDSTAY', '2026110001'],
          ['LH', '2026110002'],
          ['DRIVE', '2026110003'],
          ['REDBANK', '2026110004'],
          ['DRIVE', '2026110005'],
        ].map(([partner_code, invoice_number]) => ({
          issuer: 'XX1',
          billing_month: '2026-11',
          partner_code,
          invoice_number,
          assigned_on: DAY,
        })),
      );
    });

    it('sends a partner invoiced after the month’s transmission was delivered a supplementary transmission of its own', async () => {
      const ledger = new Ledger(t.db, { now: () => new Date('2026-12-01T08:00:00Z') });
      /** Each transmission: its file, TransmissionID and the invoice numbers it carries. */
      const transmissions = async () =>
        Promise.all(
          (await byKind('invoice')).map(async (row) => {
            const xml = readFileSync(row.copy, 'utf8');
            return {
              name: row.name,
              verdict: row.verdict,
              id: textsOf(xml, 'TransmissionID')[0],
              numbers: textsOf(xml, 'InvoiceNumber'),
              xml,
            };
          }),
        );
      const statementNumbers = async () =>
        Object.fromEntries(
          await Promise.all(
            (await byKind('invoice-statement')).map(async (r) => [r.partner_code, csv(r.copy)[0]![1]]),
          ),
        );
      const deliverAll = () =>
        t.db.knex('files').where({ direction: 'out' }).update({ verdict: 'delivered' });

      await exportJob(jobContext(t.db, config, DAY));
      await deliverAll();
      const [first] = await transmissions();

      // DRIVE's file is read after delivery: the delivered transmission stays as it was, and DRIVE's
      // invoice goes to the clearing house in a supplementary transmission, next in the issuer's sequence.
      await lateCredit(ledger, 'DRIVE', 'D-1', 500, 'DRIVE-2025', 'RENTAL');
      const late = await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-02T09:00:00Z')));
      expect(late.counts).toMatchObject({ transmissions: 2, written: 2, unchanged: 15 });
      expect(late.counts.drifted).toBeUndefined();
      expect((late.warnings ?? []).filter((w) => /delivered/.test(w))).toEqual([]);
      const [again, supplement] = await transmissions();
      expect(again).toEqual(first);
      expect(supplement).toMatchObject({
        name: 'XX1_ISXML_202611_0002.xml',
        verdict: 'written',
        id: 'XX1-202611-0002',
        numbers: ['2026110003'],
      });
      expect(textsOf(supplement!.xml, 'InvoiceCount')).toEqual(['1']);
      expect(textsOf(supplement!.xml, 'TotalAmount')).toEqual(['5.00', '5.00']);
      if (xmllintOrSkip()) {
        const check = validateWithSchema(
          SCHEMAS.invoice!,
          (await byKind('invoice')).map((r) => r.copy),
        );
        expect(check.ok, check.output).toBe(true);
      }

      // A rerun writes nothing; REDBANK, read before the supplement is delivered, joins it as a draft.
      const rerun = await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-02T10:00:00Z')));
      expect(rerun.counts.written).toBeUndefined();
      await lateCredit(ledger, 'REDBANK', 'RB-1', 1000, 'REDBANK-2025', 'CARD_SPEND');
      const draft = await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-02T11:00:00Z')));
      expect(draft.counts).toMatchObject({ replaced: 1, written: 1 });
      expect((await transmissions()).map((x) => x.numbers)).toEqual([
        ['2026110001', '2026110002'],
        ['2026110003', '2026110004'],
      ]);

      // Every invoice number a partner reads in its statement is in exactly one transmission delivered.
      await deliverAll();
      const delivered = (await transmissions()).flatMap((x) => x.numbers);
      const numbers = Object.values(await statementNumbers()).sort();
      expect(numbers).toEqual(['2026110001', '2026110002', '2026110003', '2026110004']);
      expect([...delivered].sort()).toEqual(numbers);
    });

    /** Each transmission of the month: its file, verdict and the invoice numbers it carries. */
    const carriedNumbers = async () =>
      (await byKind('invoice')).map((row) => ({
        name: row.name,
        verdict: row.verdict,
        numbers: existsSync(row.copy) ? textsOf(readFileSync(row.copy, 'utf8'), 'InvoiceNumber') : null,
      }));
    /** As the deliver job does: every file registered `written`, and only those. */
    const deliverWritten = () =>
      t.db.knex('files').where({ direction: 'out', verdict: 'written' }).update({ verdict: 'delivered' });

    it('sends a partner numbered in a draft, taken out of it before delivery and invoiced again after, in a supplementary transmission', async () => {
      const ledger = new Ledger(t.db, { now: () => new Date('2026-12-01T08:00:00Z') });
      await exportJob(jobContext(t.db, config, DAY));
      await lateCredit(ledger, 'DRIVE', 'D-1', 500, 'DRIVE-2025', 'RENTAL');
      await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-01T09:00:00Z')));
      expect((await carriedNumbers()).map((x) => x.numbers)).toEqual([
        ['2026110001', '2026110002', '2026110003'],
      ]);

      // DRIVE's credit taken back before delivery: the draft is replaced without DRIVE, whose number
      // stays its own but is in no transmission.
      await ledger.postOne({ key: 'REV:PTR:DRIVE:D-1', reverses: 'PTR:DRIVE:D-1', businessDate: DAY });
      await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-01T10:00:00Z')));
      expect((await carriedNumbers()).map((x) => x.numbers)).toEqual([['2026110001', '2026110002']]);
      await deliverWritten();

      // DRIVE credited again after delivery: its invoice, under the number it was given, goes to the
      // clearing house in a supplementary transmission, and its statement goes with it.
      await lateCredit(ledger, 'DRIVE', 'D-2', 700, 'DRIVE-2025', 'RENTAL');
      const late = await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-02T10:00:00Z')));
      expect(late.counts.drifted).toBeUndefined();
      expect(await carriedNumbers()).toEqual([
        { name: 'XX1_ISXML_202611_0001.xml', verdict: 'delivered', numbers: ['2026110001', '2026110002'] },
        { name: 'XX1_ISXML_202611_0002.xml', verdict: 'written', numbers: ['2026110003'] },
      ]);
      const statement = await one('invoice-statement', 'DRIVE');
      expect(statement.verdict).toBe('written');
      expect(csv(statement.copy)[0]![1]).toBe('2026110003');
      expect(csv(statement.copy).at(-1)![2]).toBe('700');
      expect(
        await t.db.knex('invoice_numbers').orderBy('number').select('partner_code', 'transmission'),
      ).toEqual([
        { partner_code: 'GRANDSTAY', transmission: 1 },
        { partner_code: 'LH', transmission: 1 },
        { partner_code: 'DRIVE', transmission: 2 },
      ]);
    });

    it('withdraws a draft transmission and a statement whose invoice came to nothing before delivery, and sends them again if it comes back', async () => {
      const ledger = new Ledger(t.db, { now: () => new Date('2026-12-01T08:00:00Z') });
      await exportJob(jobContext(t.db, config, DAY));
      await deliverWritten();
      await lateCredit(ledger, 'DRIVE', 'D-1', 500, 'DRIVE-2025', 'RENTAL');
      await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-02T09:00:00Z')));
      const supplement = (await byKind('invoice'))[1]!;
      const statement = await one('invoice-statement', 'DRIVE');
      const sequences = await t.db.knex('sequences').orderBy('scope');

      // DRIVE's only credit taken back before the supplement is delivered: nothing is left to bill it.
      await ledger.postOne({ key: 'REV:PTR:DRIVE:D-1', reverses: 'PTR:DRIVE:D-1', businessDate: DAY });
      const reversed = await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-02T10:00:00Z')));
      expect(reversed.counts.withdrawn).toBe(2);
      expect(reversed.warnings).toEqual(
        expect.arrayContaining([
          expect.stringMatching(
            /^XX1_ISXML_202611_0002\.xml: withdrawn before delivery, not to be sent: .*DRIVE 2026110003/,
          ),
          expect.stringMatching(/^DRIVE_STATEMENT_202611\.csv: withdrawn before delivery, not to be sent: /),
        ]),
      );
      for (const row of [supplement, statement]) {
        const now = (await t.db.knex('files').where({ id: row.id }).first()) as OutRow & { reason: string };
        expect(now).toMatchObject({ verdict: 'withdrawn', reason: 'NOTHING_TO_SEND', name: row.name });
        expect(existsSync(row.copy)).toBe(false);
      }
      // Nothing of the month's invoices is left for deliver: no bill for a reversed credit.
      expect(
        (await t.db.knex('files').where({ direction: 'out', verdict: 'written' }).select('feed')).filter(
          (r) => String(r.feed).startsWith('invoice'),
        ),
      ).toEqual([]);

      // A rerun writes nothing and withdraws nothing again.
      const before = await outRows();
      const rerun = await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-02T11:00:00Z')));
      expect(rerun.counts.withdrawn).toBeUndefined();
      expect(rerun.counts.written).toBeUndefined();
      expect(await outRows()).toEqual(before);

      // DRIVE credited again before anything more is delivered: the withdrawn files are written anew
      // under their names and sequences, so the clearing house's sequence has no gap.
      await lateCredit(ledger, 'DRIVE', 'D-2', 700, 'DRIVE-2025', 'RENTAL');
      const back = await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-02T12:00:00Z')));
      expect(back.counts).toMatchObject({ reinstated: 2 });
      expect(back.counts.written).toBeUndefined();
      expect((await carriedNumbers())[1]).toEqual({
        name: 'XX1_ISXML_202611_0002.xml',
        verdict: 'written',
        numbers: ['2026110003'],
      });
      expect(await one('invoice-statement', 'DRIVE')).toMatchObject({
        verdict: 'written',
        name: statement.name,
      });
      expect(csv(statement.copy).at(-1)![2]).toBe('700');
      expect(await t.db.knex('sequences').orderBy('scope')).toEqual(sequences);
    });

    it('sends a partner whose month reverses more than it credits a credit note, and says so in its statement', async () => {
      const ledger = new Ledger(t.db, { now: () => new Date('2026-11-30T08:00:00Z') });
      // REDBANK credited 1,300 points in October and took them back in November: 1,300 × 0.0110 owed back.
      const key = 'PTR:REDBANK:RB-OCT';
      await ledger.post([
        partnerCredit(key, M.noConsent, 'REDBANK', 1300, {
          ruleVersion: 'REDBANK-2025',
          businessDate: '2026-10-15',
        }),
      ]);
      await insertActivity(t.db.knex, {
        key,
        type: 'PARTNER',
        partnerCode: 'REDBANK',
        status: 'POSTED',
        member: M.noConsent,
        ref: 'RB-OCT',
        points: 1300,
        postingKey: key,
        activityType: 'CARD_SPEND',
        ruleVersion: 'REDBANK-2025',
      });
      await ledger.postOne({ key: `REV:${key}`, reverses: key, businessDate: DAY });

      await exportJob(jobContext(t.db, config, DAY));
      const xml = readFileSync((await one('invoice')).copy, 'utf8');
      const redbank = elements(xml, 'Invoice').find(
        (i) =>
          child(
            i.children
              .find((c) => c.name === 'InvoiceHeader')!
              .children.find((c) => c.name === 'BuyerOrganization')!,
            'OrganizationID',
          ) === config.partners.find((p) => p.code === 'REDBANK')!.billing!.organizationId,
      )!;
      const header = redbank.children.find((c) => c.name === 'InvoiceHeader')!;
      const line = redbank.children.find((c) => c.name === 'LineItem')!;
      expect(child(header, 'InvoiceType')).toBe('CreditNote');
      // A line of October's credits of its own, priced as October billed them (nothing delivered for
      // October here: at the contract's price).
      expect(child(line, 'Description')).toBe('CARD_SPEND points reversed, REDBANK-2025, from 2026-10');
      expect([child(line, 'Quantity'), child(line, 'UnitPrice'), child(line, 'ChargeAmount')]).toEqual([
        '1300',
        '-0.11',
        '-14.30',
      ]);
      expect(textsOf(xml, 'InvoiceType').filter((t) => t === 'Invoice')).toHaveLength(2);
      if (xmllintOrSkip()) {
        const check = validateWithSchema(SCHEMAS.invoice!, [(await one('invoice')).copy]);
        expect(check.ok, check.output).toBe(true);
      }

      const statement = csv((await one('invoice-statement', 'REDBANK')).copy);
      expect(statement[0]![10]).toBe('CreditNote');
      expect(statement[1]!.slice(5, 9)).toEqual([
        'CARD_SPEND points reversed, REDBANK-2025, from 2026-10',
        '-1300',
        '0.011',
        '-14.30',
      ]);
      expect(statement[statement.length - 1]!.at(-1)).toBe('-14.30');
      expect(csv((await one('invoice-statement', 'GRANDSTAY')).copy)[0]![10]).toBe('Invoice');
    });

    it('bills a partner whose month changes after delivery the difference, in an adjustment of its own', async () => {
      const ledger = new Ledger(t.db, { now: () => new Date('2026-12-01T08:00:00Z') });
      const statementOf = async (name: string) => {
        const row = (await byKind('invoice-statement')).find((r) => r.name === name);
        expect(row, name).toBeDefined();
        return { row: row!, records: csv(row!.copy) };
      };

      // 800 STAY points more than the night's (a member who gets no mailing: only invoices can change).
      await lateCredit(ledger, 'GRANDSTAY', 'T8', 800, 'GRANDSTAY-2026', 'STAY');
      await exportJob(jobContext(t.db, config, DAY));
      await deliverWritten();
      const delivered = await outRows();
      const first = await one('invoice');
      expect(documents(readFileSync(first.copy, 'utf8'))[0]).toMatchObject({
        number: '2026110001',
        total: '252.71',
      });

      // A rerun of the month's last night, after delivery, posts a reversal of that stay.
      await ledger.postOne({ key: 'REV:PTR:GRANDSTAY:T8', reverses: 'PTR:GRANDSTAY:T8', businessDate: DAY });
      const adjusted = await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-02T09:00:00Z')));
      expect(adjusted.counts).toMatchObject({ transmissions: 2, statements: 3, written: 2, invoices: 3 });
      expect(adjusted.counts.drifted).toBeUndefined();
      expect(adjusted.counts.replaced).toBeUndefined();
      // What was delivered is not rewritten: the first transmission and both statements are as sent.
      expect((await outRows()).slice(0, delivered.length)).toEqual(delivered);
      for (const row of delivered) expect(sha256(row.copy), row.name).toBe(row.sha256);

      // 800 STAY points reversed: 800 × 0.0095 = 7.60, owed back in a credit note of its own.
      const supplement = (await byKind('invoice'))[1]!;
      expect(supplement).toMatchObject({
        name: 'XX1_ISXML_202611_0002.xml',
        verdict: 'written',
        sequence: 2,
      });
      const xml = readFileSync(supplement.copy, 'utf8');
      expect(textsOf(xml, 'TransmissionID')).toEqual(['XX1-202611-0002']);
      expect(documents(xml)).toEqual([
        {
          number: '2026110003',
          type: 'CreditNote',
          lines: [
            ['STAY points reversed, GRANDSTAY-2026, adjusts invoice 2026110001', '800', '-0.95', '-7.60'],
          ],
          total: '-7.60',
        },
      ]);
      expect(textsOf(xml, 'TotalAmount')).toEqual(['-7.60', '-7.60']);
      if (xmllintOrSkip()) {
        const check = validateWithSchema(SCHEMAS.invoice!, [supplement.copy]);
        expect(check.ok, check.output).toBe(true);
      }
      const adjustment = await statementOf('GRANDSTAY_STATEMENT_202611_2026110003.csv');
      expect(adjustment.row).toMatchObject({ verdict: 'written', partner_code: 'GRANDSTAY' });
      expect(adjustment.records).toEqual([
        [
          'H',
          '2026110003',
          '2026-11-30',
          'XX1',
          '9GS',
          'GrandStay Hotels Ltd',
          '2026-11-01',
          '2026-11-30',
          'USD',
          'Miscellaneous',
          'CreditNote',
        ],
        [
          'L',
          '1',
          'FFP',
          'STAY',
          'GRANDSTAY-2026',
          'STAY points reversed, GRANDSTAY-2026, adjusts invoice 2026110001',
          '-800',
          '0.0095',
          '-7.60',
          '1',
        ],
        ['T', '1', '-800', '-7.60', '0.00', '0.00', '-7.60'],
      ]);
      expect(
        await t.db
          .knex('invoice_numbers')
          .orderBy('number')
          .select('partner_code', 'invoice_number', 'adjusts', 'transmission'),
      ).toEqual([
        { partner_code: 'GRANDSTAY', invoice_number: '2026110001', adjusts: null, transmission: 1 },
        { partner_code: 'LH', invoice_number: '2026110002', adjusts: null, transmission: 1 },
        { partner_code: 'GRANDSTAY', invoice_number: '2026110003', adjusts: '2026110001', transmission: 2 },
      ]);

      // A second re-export with nothing new writes nothing.
      const before = await outRows();
      const rerun = await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-02T10:00:00Z')));
      expect(rerun.counts).toMatchObject({ transmissions: 2, statements: 3 });
      for (const status of ['written', 'replaced', 'drifted', 'restored', 'reinstated'])
        expect(rerun.counts[status], status).toBeUndefined();
      expect(await outRows()).toEqual(before);

      // The adjustment delivered, a late STAY credit of the month makes another, for what is left.
      await deliverWritten();
      await lateCredit(ledger, 'GRANDSTAY', 'T9', 300, 'GRANDSTAY-2026', 'STAY');
      const again = await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-03T09:00:00Z')));
      expect(again.counts.drifted).toBeUndefined();
      const third = (await byKind('invoice'))[2]!;
      expect(third.name).toBe('XX1_ISXML_202611_0003.xml');
      expect(documents(readFileSync(third.copy, 'utf8'))).toEqual([
        {
          number: '2026110004',
          type: 'Invoice',
          lines: [
            ['STAY points credited, GRANDSTAY-2026, adjusts invoice 2026110001', '300', '0.95', '2.85'],
          ],
          total: '2.85',
        },
      ]);
      await statementOf('GRANDSTAY_STATEMENT_202611_2026110004.csv');
      // Every GRANDSTAY document together bills the month as the ledger has it now: 26,101 points.
      const billed = (await byKind('invoice'))
        .flatMap((r) => documents(readFileSync(r.copy, 'utf8')))
        .filter((d) => ['2026110001', '2026110003', '2026110004'].includes(d.number!))
        .flatMap((d) => d.lines)
        .reduce((sum, l) => sum + Number(l[1]) * Math.sign(Number(l[2])), 0);
      expect(billed).toBe(25801 + 800 - 800 + 300);
    });

    it('keeps an adjustment not yet delivered a draft: replaced when the month changes again, withdrawn when it comes back', async () => {
      const ledger = new Ledger(t.db, { now: () => new Date('2026-12-01T08:00:00Z') });
      await exportJob(jobContext(t.db, config, DAY));
      await deliverWritten();
      await lateCredit(ledger, 'LH', 'LH-9', 400, 'LH-2025', 'FLIGHT');
      await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-02T09:00:00Z')));
      expect((await carriedNumbers()).map((x) => x.numbers)).toEqual([
        ['2026110001', '2026110002'],
        ['2026110003'],
      ]);
      const lines = async () => textsOf(readFileSync((await byKind('invoice'))[1]!.copy, 'utf8'), 'Quantity');
      expect(await lines()).toEqual(['400']);

      // Another late credit before the adjustment is delivered: the draft carries the whole difference,
      // under the same number.
      await lateCredit(ledger, 'LH', 'LH-10', 100, 'LH-2025', 'FLIGHT');
      const more = await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-02T10:00:00Z')));
      expect(more.counts).toMatchObject({ replaced: 2 });
      expect(await lines()).toEqual(['500']);

      // Both taken back: the month is again what was delivered, and the draft and its statement are
      // withdrawn; the number stays LH's.
      await ledger.postOne({ key: 'REV:PTR:LH:LH-9', reverses: 'PTR:LH:LH-9', businessDate: DAY });
      await ledger.postOne({ key: 'REV:PTR:LH:LH-10', reverses: 'PTR:LH:LH-10', businessDate: DAY });
      const back = await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-02T11:00:00Z')));
      expect(back.counts).toMatchObject({ withdrawn: 2 });
      expect(back.counts.written).toBeUndefined();
      expect((await byKind('invoice-statement')).map((r) => [r.name, r.verdict])).toEqual([
        ['GRANDSTAY_STATEMENT_202611.csv', 'delivered'],
        ['LH_STATEMENT_202611.csv', 'delivered'],
        ['LH_STATEMENT_202611_2026110003.csv', 'withdrawn'],
      ]);
      expect(
        await t.db
          .knex('invoice_numbers')
          .orderBy('number')
          .select('invoice_number', 'adjusts', 'transmission'),
      ).toEqual([
        { invoice_number: '2026110001', adjusts: null, transmission: 1 },
        { invoice_number: '2026110002', adjusts: null, transmission: 1 },
        { invoice_number: '2026110003', adjusts: '2026110002', transmission: null },
      ]);
    });

    /** What a partner's statement says: its invoice number, type and total. */
    const statementFigures = (row: OutRow) => {
      const records = csv(row.copy);
      return { number: records[0]![1], type: records[0]![10], total: records.at(-1)!.at(-1) };
    };
    /** Every document of the month's transmissions not withdrawn, as the clearing house will read them. */
    const billedDocuments = async () =>
      (await byKind('invoice'))
        .filter((r) => r.verdict !== 'withdrawn')
        .flatMap((r) => documents(readFileSync(r.copy, 'utf8')));
    /** Only GRANDSTAY's statement reached it; the transmission upload failed (the outbox down). */
    const deliverStatementOnly = (partner: string) =>
      t.db
        .knex('files')
        .where({ direction: 'out', verdict: 'written', feed: 'invoice-statement', partner_code: partner })
        .update({ verdict: 'delivered' });

    it('keeps the figures of a statement delivered before its transmission, and bills a later change in an adjustment', async () => {
      const ledger = new Ledger(t.db, { now: () => new Date('2026-12-01T08:00:00Z') });
      await exportJob(jobContext(t.db, config, DAY));
      await deliverStatementOnly('GRANDSTAY');
      const statement = await one('invoice-statement', 'GRANDSTAY');
      expect(statementFigures(statement)).toEqual({ number: '2026110001', type: 'Invoice', total: '245.11' });

      // A rerun of a November night posts a late STAY credit: 1,000 × 0.0095 = 9.50 more.
      await lateCredit(ledger, 'GRANDSTAY', 'LATE-1', 1000, 'GRANDSTAY-2026', 'STAY');
      const again = await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-02T09:00:00Z')));
      expect(again.counts.drifted).toBeUndefined();
      // The statement GRANDSTAY holds stands as delivered, and the draft transmission, not delivered,
      // carries its invoice with the same figures and the difference in an adjustment of its own.
      const statements = (await byKind('invoice-statement')).filter((r) => r.partner_code === 'GRANDSTAY');
      expect(statements.map((r) => [r.name, r.verdict])).toEqual([
        ['GRANDSTAY_STATEMENT_202611.csv', 'delivered'],
        ['GRANDSTAY_STATEMENT_202611_2026110003.csv', 'written'],
      ]);
      expect(sha256(statement.copy)).toBe(statement.sha256);
      expect(statementFigures(statements[1]!)).toEqual({
        number: '2026110003',
        type: 'Invoice',
        total: '9.50',
      });
      expect(await carriedNumbers()).toEqual([
        {
          name: 'XX1_ISXML_202611_0001.xml',
          verdict: 'written',
          numbers: ['2026110001', '2026110002', '2026110003'],
        },
      ]);
      // Each statement GRANDSTAY reads is billed to the clearing house with its own figures.
      const billed = new Map((await billedDocuments()).map((d) => [d.number, d.total]));
      for (const row of statements) {
        const figures = statementFigures(row);
        expect(billed.get(figures.number), figures.number).toBe(figures.total);
      }
    });

    it('keeps a statement delivered before its transmission in it when its credits are taken back, with a credit note', async () => {
      const ledger = new Ledger(t.db, { now: () => new Date('2026-12-01T08:00:00Z') });
      await exportJob(jobContext(t.db, config, DAY));
      await lateCredit(ledger, 'DRIVE', 'D-1', 500, 'DRIVE-2025', 'RENTAL');
      await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-02T09:00:00Z')));
      await deliverStatementOnly('DRIVE');
      const statement = await one('invoice-statement', 'DRIVE');
      const delivered = statementFigures(statement);
      expect(delivered).toMatchObject({ number: '2026110003', type: 'Invoice' });

      // DRIVE's only credit taken back: the number DRIVE read in its statement is not withdrawn from the
      // draft transmission, the credit note for it goes with it.
      await ledger.postOne({ key: 'REV:PTR:DRIVE:D-1', reverses: 'PTR:DRIVE:D-1', businessDate: DAY });
      const reversed = await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-02T10:00:00Z')));
      expect(reversed.counts.withdrawn).toBeUndefined();
      expect(reversed.counts.drifted).toBeUndefined();
      expect(await carriedNumbers()).toEqual([
        {
          name: 'XX1_ISXML_202611_0001.xml',
          verdict: 'written',
          numbers: ['2026110001', '2026110002', '2026110003', '2026110004'],
        },
      ]);
      const statements = (await byKind('invoice-statement')).filter((r) => r.partner_code === 'DRIVE');
      expect(statements.map((r) => [r.name, r.verdict])).toEqual([
        ['DRIVE_STATEMENT_202611.csv', 'delivered'],
        ['DRIVE_STATEMENT_202611_2026110004.csv', 'written'],
      ]);
      expect(statementFigures(statements[1]!)).toEqual({
        number: '2026110004',
        type: 'CreditNote',
        total: `-${delivered.total}`,
      });
      const billed = new Map((await billedDocuments()).map((d) => [d.number, d.total]));
      for (const row of statements) {
        const figures = statementFigures(row);
        expect(billed.get(figures.number), figures.number).toBe(figures.total);
      }
    });

    /** The transmissions of the month by number, each with the documents it carries. */
    const transmitted = async () =>
      Promise.all(
        (await byKind('invoice')).map(async (r) => ({
          name: r.name,
          verdict: r.verdict,
          documents: documents(readFileSync(r.copy, 'utf8')),
        })),
      );
    const keptFor = async (invoiceNumber: string) =>
      (await t.db
        .knex('invoice_lines as l')
        .join('invoice_numbers as n', 'n.id', 'l.invoice_number_id')
        .where('n.invoice_number', invoiceNumber)
        .orderBy('l.line')
        .select('l.activity_type', 'l.points', 'l.price_per_point', 'l.description')) as Array<{
        activity_type: string;
        points: number | string;
        price_per_point: string;
        description: string;
      }>;

    it('keeps what a month delivered before 025 carried once a rerun finds it unchanged, and reports one changed since whose transmission is gone as drifted', async () => {
      const ledger = new Ledger(t.db, { now: () => new Date('2026-12-01T08:00:00Z') });
      await lateCredit(ledger, 'GRANDSTAY', 'T8', 800, 'GRANDSTAY-2026', 'STAY');
      await exportJob(jobContext(t.db, config, DAY));
      await deliverWritten();
      // As a month delivered before 025: nothing kept of what its invoices carried.
      const kept = await t.db
        .knex('invoice_lines')
        .orderBy('id')
        .select('invoice_number_id', 'line', 'points');
      expect(kept.length).toBeGreaterThan(0);
      await t.db.knex('invoice_lines').delete();

      // Rebuilt from the ledger to the bytes delivered: those are the figures the clearing house has.
      const same = await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-02T09:00:00Z')));
      expect(same.counts.written).toBeUndefined();
      expect(same.counts.drifted).toBeUndefined();
      expect(
        await t.db.knex('invoice_lines').orderBy('id').select('invoice_number_id', 'line', 'points'),
      ).toEqual(kept);

      // Changed before the figures were kept, and the delivered transmission no longer in the outbox
      // (retention): what was delivered cannot be told, so nothing is billed.
      await t.db.knex('invoice_lines').delete();
      rmSync((await one('invoice')).copy);
      await ledger.postOne({ key: 'REV:PTR:GRANDSTAY:T8', reverses: 'PTR:GRANDSTAY:T8', businessDate: DAY });
      const changed = await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-02T10:00:00Z')));
      expect(changed.counts).toMatchObject({ drifted: 2 });
      expect(changed.counts.written).toBeUndefined();
      expect(changed.warnings).toEqual(
        expect.arrayContaining([
          'GRANDSTAY 2026110001: delivered before Redeye kept what each invoice carried (migration 025), so a change to 2026-11 since cannot be billed as an adjustment',
        ]),
      );
      expect((await byKind('invoice')).map((r) => r.name)).toEqual(['XX1_ISXML_202611_0001.xml']);
      expect(await t.db.knex('invoice_numbers').whereNotNull('adjusts').select()).toEqual([]);
    });

    it('adjusts each partner of a transmission delivered before 025 on its own figures, read back from what was delivered', async () => {
      const ledger = new Ledger(t.db, { now: () => new Date('2026-12-01T08:00:00Z') });
      await lateCredit(ledger, 'GRANDSTAY', 'T8', 800, 'GRANDSTAY-2026', 'STAY');
      await exportJob(jobContext(t.db, config, DAY));
      await deliverWritten();
      const delivered = await transmitted();
      // As a month delivered before 025: nothing kept of what its invoices carried.
      await t.db.knex('invoice_lines').delete();

      // LH's month changes, GRANDSTAY's does not: LH is billed the difference against its delivered
      // invoice, read back from the delivered transmission, which stands as it was.
      await lateCredit(ledger, 'LH', 'LH-9', 400, 'LH-2025', 'FLIGHT');
      const late = await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-02T09:00:00Z')));
      expect(late.counts.drifted).toBeUndefined();
      expect((late.warnings ?? []).filter((w) => w.includes('migration 025'))).toEqual([]);
      const afterLate = await transmitted();
      expect(afterLate[0]).toEqual(delivered[0]);
      expect(afterLate[1]!.documents.map((d) => [d.number, d.type, d.lines.map((l) => l[1])])).toEqual([
        ['2026110003', 'Invoice', ['400']],
      ]);
      // Both delivered invoices' figures are kept from now on.
      for (const number of ['2026110001', '2026110002'])
        expect((await keptFor(number)).length, number).toBeGreaterThan(0);

      // GRANDSTAY's stay reversed afterwards: credited back as it was billed.
      await deliverWritten();
      await ledger.postOne({ key: 'REV:PTR:GRANDSTAY:T8', reverses: 'PTR:GRANDSTAY:T8', businessDate: DAY });
      const reversed = await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-02T10:00:00Z')));
      expect(reversed.counts.drifted).toBeUndefined();
      expect((await transmitted())[2]!.documents).toEqual([
        {
          number: '2026110004',
          type: 'CreditNote',
          lines: [
            ['STAY points reversed, GRANDSTAY-2026, adjusts invoice 2026110001', '800', '-0.95', '-7.60'],
          ],
          total: '-7.60',
        },
      ]);
    });

    it('reports drifted only the document whose own figures changed and cannot be read back, and keeps the others', async () => {
      const ledger = new Ledger(t.db, { now: () => new Date('2026-12-01T08:00:00Z') });
      await lateCredit(ledger, 'GRANDSTAY', 'T8', 800, 'GRANDSTAY-2026', 'STAY');
      await exportJob(jobContext(t.db, config, DAY));
      await deliverWritten();
      await t.db.knex('invoice_lines').delete();
      // LH's invoice as an older version wrote its descriptions, registered so: not read back.
      const file = await one('invoice');
      const older = readFileSync(file.copy, 'utf8').replace(
        /(<InvoiceNumber>2026110002<\/InvoiceNumber>[\s\S]*?<Description>[^<]*) points credited,/,
        '$1 points,',
      );
      expect(older).not.toBe(readFileSync(file.copy, 'utf8'));
      writeFileSync(file.copy, older);
      await t.db
        .knex('files')
        .where({ id: file.id })
        .update({ sha256: sha256(file.copy), size: Buffer.byteLength(older) });

      await lateCredit(ledger, 'LH', 'LH-9', 400, 'LH-2025', 'FLIGHT');
      const late = await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-02T09:00:00Z')));
      expect(late.counts.drifted).toBeGreaterThan(0);
      expect((late.warnings ?? []).filter((w) => w.includes('migration 025'))).toEqual([
        'LH 2026110002: delivered before Redeye kept what each invoice carried (migration 025), so a change to 2026-11 since cannot be billed as an adjustment',
      ]);
      expect((await keptFor('2026110001')).length).toBeGreaterThan(0);
      expect(await keptFor('2026110002')).toEqual([]);

      // GRANDSTAY, whose figures were read back, is adjusted when its own month changes.
      await ledger.postOne({ key: 'REV:PTR:GRANDSTAY:T8', reverses: 'PTR:GRANDSTAY:T8', businessDate: DAY });
      await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-02T10:00:00Z')));
      expect((await transmitted()).map((x) => x.documents.map((d) => [d.number, d.total]))).toEqual([
        [
          ['2026110001', expect.any(String)],
          ['2026110002', expect.any(String)],
        ],
        [['2026110003', '-7.60']],
      ]);
    });

    it('credits back points at the price they were billed at when the contract has been repriced since', async () => {
      const ledger = new Ledger(t.db, { now: () => new Date('2026-12-01T08:00:00Z') });
      await lateCredit(ledger, 'GRANDSTAY', 'T8', 800, 'GRANDSTAY-2026', 'RESTAURANT');
      await exportJob(jobContext(t.db, config, DAY));
      await deliverWritten();
      expect((await transmitted())[0]!.documents[0]!.lines).toContainEqual([
        'RESTAURANT points credited, GRANDSTAY-2026',
        '800',
        '0.95',
        '7.60',
      ]);

      // The contract's price raised, then the stay reversed: the partner gets back what it paid.
      const repriced: LoadedConfig = {
        ...config,
        partners: config.partners.map((p) =>
          p.code !== 'GRANDSTAY'
            ? p
            : {
                ...p,
                contracts: p.contracts.map((c) =>
                  c.id === 'GRANDSTAY-2026' ? { ...c, pricePerPoint: '0.02' } : c,
                ),
              },
        ),
      };
      await ledger.postOne({ key: 'REV:PTR:GRANDSTAY:T8', reverses: 'PTR:GRANDSTAY:T8', businessDate: DAY });
      const reversed = await exportJob(jobContext(t.db, repriced, DAY, new Date('2026-12-02T09:00:00Z')));
      expect(reversed.counts.drifted).toBeUndefined();
      expect((await transmitted())[1]!.documents).toEqual([
        {
          number: '2026110003',
          type: 'CreditNote',
          lines: [
            [
              'RESTAURANT points reversed, GRANDSTAY-2026, adjusts invoice 2026110001',
              '800',
              '-0.95',
              '-7.60',
            ],
          ],
          total: '-7.60',
        },
      ]);
      const statement = csv(
        (await byKind('invoice-statement')).find(
          (r) => r.name === 'GRANDSTAY_STATEMENT_202611_2026110003.csv',
        )!.copy,
      );
      expect(statement[1]!.slice(6, 9)).toEqual(['-800', '0.0095', '-7.60']);
    });

    /** `config` with one partner changed, as an accountant would edit it between re-exports. */
    const withPartner = (
      code: string,
      change: (p: LoadedConfig['partners'][number]) => LoadedConfig['partners'][number],
    ): LoadedConfig => ({
      ...config,
      partners: config.partners.map((p) => (p.code === code ? change(p) : p)),
    });

    it('bills points credited again after a take-back at the price they were billed at, and a month back at nothing nets to 0.00', async () => {
      const ledger = new Ledger(t.db, { now: () => new Date('2026-12-01T08:00:00Z') });
      const at = (hour: number) => new Date(`2026-12-0${hour}T09:00:00Z`);
      // 1,100 RESTAURANT points at 0.0095: 10.45.
      await lateCredit(ledger, 'GRANDSTAY', 'T7', 300, 'GRANDSTAY-2026', 'RESTAURANT');
      await lateCredit(ledger, 'GRANDSTAY', 'T8', 800, 'GRANDSTAY-2026', 'RESTAURANT');
      await exportJob(jobContext(t.db, config, DAY));
      await deliverWritten();
      // 300 reversed: 2.85 back, delivered.
      await ledger.postOne({ key: 'REV:PTR:GRANDSTAY:T7', reverses: 'PTR:GRANDSTAY:T7', businessDate: DAY });
      await exportJob(jobContext(t.db, config, DAY, at(2)));
      await deliverWritten();
      // The contract repriced to 0.02, and 300 credited again: the partner pays them as it was paid back
      // for them, 2.85, not 6.00 for points it was billed 10.45 for in all.
      const repriced = withPartner('GRANDSTAY', (p) => ({
        ...p,
        contracts: p.contracts.map((c) => (c.id === 'GRANDSTAY-2026' ? { ...c, pricePerPoint: '0.02' } : c)),
      }));
      await lateCredit(ledger, 'GRANDSTAY', 'T9', 300, 'GRANDSTAY-2026', 'RESTAURANT');
      const again = await exportJob(jobContext(t.db, repriced, DAY, at(3)));
      expect(again.counts.drifted).toBeUndefined();
      const restaurant = async (number: string) =>
        documents(readFileSync((await byKind('invoice')).at(-1)!.copy, 'utf8')).find(
          (d) => d.number === number,
        );
      expect(await restaurant('2026110004')).toEqual({
        number: '2026110004',
        type: 'Invoice',
        lines: [
          ['RESTAURANT points credited, GRANDSTAY-2026, adjusts invoice 2026110001', '300', '0.95', '2.85'],
        ],
        total: '2.85',
      });
      await deliverWritten();
      // Every RESTAURANT point reversed: what was billed for them comes back to the cent.
      await ledger.postOne({ key: 'REV:PTR:GRANDSTAY:T8', reverses: 'PTR:GRANDSTAY:T8', businessDate: DAY });
      await ledger.postOne({ key: 'REV:PTR:GRANDSTAY:T9', reverses: 'PTR:GRANDSTAY:T9', businessDate: DAY });
      await exportJob(jobContext(t.db, repriced, DAY, at(4)));
      const billed = (await transmitted())
        .flatMap((x) => x.documents)
        .flatMap((d) => d.lines)
        .filter((l) => l[0]!.startsWith('RESTAURANT'));
      expect(billed.map((l) => l[3])).toEqual(['10.45', '-2.85', '2.85', '-10.45']);
      expect(billed.reduce((sum, l) => sum + toMinorUnits(l[3]!, 'USD'), 0)).toBe(0);
    });

    /** GRANDSTAY's contract repriced, as an accountant edits it between months. */
    const grandstayAt = (pricePerPoint: string) =>
      withPartner('GRANDSTAY', (p) => ({
        ...p,
        contracts: p.contracts.map((c) => (c.id === 'GRANDSTAY-2026' ? { ...c, pricePerPoint } : c)),
      }));
    const DECEMBER: IsoDate = '2026-12-31';
    /** November's 1,000 STAY points credited, invoiced at 0.0095 and delivered; then the contract at 0.02. */
    const novemberBilledThenRepriced = async (ledger: Ledger) => {
      await lateCredit(ledger, 'GRANDSTAY', 'N1', 1000, 'GRANDSTAY-2026', 'STAY');
      await exportJob(jobContext(t.db, config, DAY));
      await deliverWritten();
      expect((await transmitted())[0]!.documents[0]!.lines).toContainEqual([
        'STAY points credited, GRANDSTAY-2026',
        '11000',
        '0.95',
        '104.50',
      ]);
      return grandstayAt('0.02');
    };
    const december = (repriced: LoadedConfig, hour = 9) =>
      exportJob(
        jobContext(t.db, repriced, DECEMBER, new Date(`2027-01-01T${String(hour).padStart(2, '0')}:00:00Z`)),
      );
    /** What the ledger holds for a partner's month: −(its entries dated in it). */
    const ledgerPoints = async (partner: string, from: IsoDate, to: IsoDate) =>
      -Number(
        (
          await t.db
            .knex('entries as e')
            .join('accounts as a', 'a.id', 'e.account_id')
            .where('a.code', `PARTNER:${partner}`)
            .whereBetween('e.business_date', [from, to])
            .sum({ s: 'e.amount' })
        )[0]!.s,
      );

    it('credits back a reversal of an earlier month’s credit at the price that month billed it at, on a line of its own', async () => {
      const ledger = new Ledger(t.db, { now: () => new Date('2026-12-20T08:00:00Z') });
      const repriced = await novemberBilledThenRepriced(ledger);
      await ledger.postOne({
        key: 'REV:PTR:GRANDSTAY:N1',
        reverses: 'PTR:GRANDSTAY:N1',
        businessDate: '2026-12-20',
      });

      const result = await december(repriced);
      expect(result.counts.drifted).toBeUndefined();
      // The partner paid 9.50 for them in November: it gets 9.50 back, not 1,000 × 0.02 = 20.00.
      const row = (await byKind('invoice')).at(-1)!;
      expect(row.name).toBe('XX1_ISXML_202612_0002.xml');
      const xml = readFileSync(row.copy, 'utf8');
      expect(documents(xml)).toEqual([
        {
          number: '2026120001',
          type: 'CreditNote',
          lines: [['STAY points reversed, GRANDSTAY-2026, from 2026-11', '1000', '-0.95', '-9.50']],
          total: '-9.50',
        },
      ]);
      expect(textsOf(xml, 'TotalAmount')).toEqual(['-9.50', '-9.50']);
      if (xmllintOrSkip()) {
        const check = validateWithSchema(SCHEMAS.invoice!, [row.copy]);
        expect(check.ok, check.output).toBe(true);
      }
      const statement = csv(
        (await byKind('invoice-statement')).find((r) => r.name === 'GRANDSTAY_STATEMENT_202612.csv')!.copy,
      );
      expect(statement[0]!.slice(1, 2).concat(statement[0]!.slice(10))).toEqual(['2026120001', 'CreditNote']);
      expect(statement.slice(1)).toEqual([
        [
          'L',
          '1',
          'FFP',
          'STAY',
          'GRANDSTAY-2026',
          'STAY points reversed, GRANDSTAY-2026, from 2026-11',
          '-1000',
          '0.0095',
          '-9.50',
          '1',
        ],
        ['T', '1', '-1000', '-9.50', '0.00', '0.00', '-9.50'],
      ]);
      // The lines bill every point the ledger holds for GRANDSTAY's December.
      expect(await ledgerPoints('GRANDSTAY', '2026-12-01', DECEMBER)).toBe(-1000);
    });

    it('bills a month’s new credits at the contract’s price now and its reversals of an earlier month apart, at what that month billed', async () => {
      const ledger = new Ledger(t.db, { now: () => new Date('2026-12-20T08:00:00Z') });
      const repriced = await novemberBilledThenRepriced(ledger);
      await lateCredit(ledger, 'GRANDSTAY', 'D1', 500, 'GRANDSTAY-2026', 'STAY', '2026-12-10');
      await ledger.postOne({
        key: 'REV:PTR:GRANDSTAY:N1',
        reverses: 'PTR:GRANDSTAY:N1',
        businessDate: '2026-12-20',
      });

      await december(repriced);
      const xml = readFileSync((await byKind('invoice')).at(-1)!.copy, 'utf8');
      // Not 500 − 1,000 netted at 0.02 (−10.00): 500 × 0.02 billed, 1,000 × 0.0095 credited back.
      expect(documents(xml)).toEqual([
        {
          number: '2026120001',
          type: 'Invoice',
          lines: [
            ['STAY points credited, GRANDSTAY-2026', '500', '0.02', '10.00'],
            ['STAY points reversed, GRANDSTAY-2026, from 2026-11', '1000', '-0.95', '-9.50'],
          ],
          total: '0.50',
        },
      ]);
      const statement = csv(
        (await byKind('invoice-statement')).find((r) => r.name === 'GRANDSTAY_STATEMENT_202612.csv')!.copy,
      );
      expect(statement.slice(1, -1).map((l) => l.slice(5, 9))).toEqual([
        ['STAY points credited, GRANDSTAY-2026', '500', '0.02', '10.00'],
        ['STAY points reversed, GRANDSTAY-2026, from 2026-11', '-1000', '0.0095', '-9.50'],
      ]);
      expect(statement.at(-1)).toEqual(['T', '2', '-500', '0.50', '0.00', '0.00', '0.50']);
      expect(await ledgerPoints('GRANDSTAY', '2026-12-01', DECEMBER)).toBe(500 - 1000);
    });

    it('writes nothing when a month with a reversal of an earlier month is exported again, before delivery and after', async () => {
      const ledger = new Ledger(t.db, { now: () => new Date('2026-12-20T08:00:00Z') });
      const repriced = await novemberBilledThenRepriced(ledger);
      await lateCredit(ledger, 'GRANDSTAY', 'D1', 500, 'GRANDSTAY-2026', 'STAY', '2026-12-10');
      await ledger.postOne({
        key: 'REV:PTR:GRANDSTAY:N1',
        reverses: 'PTR:GRANDSTAY:N1',
        businessDate: '2026-12-20',
      });
      await december(repriced);
      const unchanged = async (hour: number) => {
        const before = await outRows();
        const rerun = await december(repriced, hour);
        for (const status of ['written', 'replaced', 'drifted', 'restored', 'reinstated', 'withdrawn'])
          expect(rerun.counts[status], status).toBeUndefined();
        expect(await outRows()).toEqual(before);
        for (const r of before) expect(sha256(r.copy), r.name).toBe(r.sha256);
      };
      await unchanged(10);
      // Delivered, the month is rebuilt from its kept lines: the reversal's line stays apart from the
      // month's own credits, so no adjustment finds a difference that is not there.
      await deliverWritten();
      await unchanged(11);
      expect(
        await t.db.knex('invoice_numbers').where('billing_month', '2026-12').pluck('invoice_number'),
      ).toEqual(['2026120001']);
    });

    it('takes back an earlier month’s credits as they were billed, after what the months between took back', async () => {
      const ledger = new Ledger(t.db, { now: () => new Date('2026-12-20T08:00:00Z') });
      const repriced = await novemberBilledThenRepriced(ledger);
      // 500 more of November credited late, once the contract is at 0.02: November's adjustment bills them
      // at 0.02, on top of the 11,000 at 0.0095.
      await lateCredit(ledger, 'GRANDSTAY', 'N2', 500, 'GRANDSTAY-2026', 'STAY');
      await exportJob(jobContext(t.db, repriced, DAY, new Date('2026-12-05T09:00:00Z')));
      await deliverWritten();
      // December takes N2 back: the 500 billed last, at 0.02.
      await ledger.postOne({
        key: 'REV:PTR:GRANDSTAY:N2',
        reverses: 'PTR:GRANDSTAY:N2',
        businessDate: '2026-12-20',
      });
      await december(repriced);
      await deliverWritten();
      expect(documents(readFileSync((await byKind('invoice')).at(-1)!.copy, 'utf8'))[0]!.lines).toEqual([
        ['STAY points reversed, GRANDSTAY-2026, from 2026-11', '500', '-0.02', '-10.00'],
      ]);
      // January takes N1 back: December took the 0.02 lot already, so these go back at 0.0095.
      await ledger.postOne({
        key: 'REV:PTR:GRANDSTAY:N1',
        reverses: 'PTR:GRANDSTAY:N1',
        businessDate: '2027-01-15',
      });
      await exportJob(jobContext(t.db, repriced, '2027-01-31', new Date('2027-02-01T09:00:00Z')));
      expect(documents(readFileSync((await byKind('invoice')).at(-1)!.copy, 'utf8'))).toEqual([
        {
          number: '2027010001',
          type: 'CreditNote',
          lines: [['STAY points reversed, GRANDSTAY-2026, from 2026-11', '1000', '-0.95', '-9.50']],
          total: '-9.50',
        },
      ]);
    });

    it('does not adjust a month in another currency than its invoice was delivered in, and says why', async () => {
      const ledger = new Ledger(t.db, { now: () => new Date('2026-12-01T08:00:00Z') });
      // REDBANK invoiced 1,300 CARD_SPEND points at 0.0110 USD: 14.30 USD.
      await lateCredit(ledger, 'REDBANK', 'RB-1', 1300, 'REDBANK-2025', 'CARD_SPEND');
      await exportJob(jobContext(t.db, config, DAY));
      await deliverWritten();
      const { invoice_number: invoiced } = (await t.db
        .knex('invoice_numbers')
        .where({ partner_code: 'REDBANK' })
        .first('invoice_number')) as { invoice_number: string };
      expect(
        await t.db
          .knex('invoice_lines as l')
          .join('invoice_numbers as n', 'n.id', 'l.invoice_number_id')
          .where('n.invoice_number', invoiced)
          .select('l.currency', 'l.buyer_id'),
      ).toEqual([{ currency: 'USD', buyer_id: '9RB' }]);

      // REDBANK now billed in EUR, and its credit reversed: a credit note of 14.30 would be in EUR.
      const inEuro = withPartner('REDBANK', (p) => ({ ...p, billing: { ...p.billing!, currency: 'EUR' } }));
      await ledger.postOne({ key: 'REV:PTR:REDBANK:RB-1', reverses: 'PTR:REDBANK:RB-1', businessDate: DAY });
      const before = await byKind('invoice');
      const held = await exportJob(jobContext(t.db, inEuro, DAY, new Date('2026-12-02T09:00:00Z')));
      expect(await byKind('invoice')).toEqual(before);
      expect(await t.db.knex('invoice_numbers').whereNotNull('adjusts').pluck('invoice_number')).toEqual([]);
      expect(held.warnings ?? []).toContainEqual(
        `REDBANK ${invoiced}: 2026-11 has changed since its delivery, but ${invoiced} was delivered in USD to buyer 9RB, and REDBANK's billing is now EUR to buyer 9RB: an adjustment is billed only in its invoice's currency, to its buyer, so the difference is not billed (see README, Adjustments)`,
      );

      // Billed in USD again for the re-export, the credit note goes out as the invoice was: in USD.
      const adjusted = await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-02T10:00:00Z')));
      expect((adjusted.warnings ?? []).filter((w) => w.includes('has changed since its delivery'))).toEqual(
        [],
      );
      const supplement = documents(readFileSync((await byKind('invoice')).at(-1)!.copy, 'utf8'));
      expect(supplement).toMatchObject([
        {
          type: 'CreditNote',
          lines: [
            [
              'CARD_SPEND points reversed, REDBANK-2025, adjusts invoice ' + invoiced,
              '1300',
              '-0.11',
              '-14.30',
            ],
          ],
        },
      ]);
      expect(textsOf(readFileSync((await byKind('invoice')).at(-1)!.copy, 'utf8'), 'CurrencyCode')).toEqual([
        'USD',
      ]);
    });

    it('drops the kept lines of a document taken out of a draft', async () => {
      const ledger = new Ledger(t.db, { now: () => new Date('2026-12-01T08:00:00Z') });
      await lateCredit(ledger, 'DRIVE', 'D-1', 500, 'DRIVE-2025', 'RENTAL');
      await exportJob(jobContext(t.db, config, DAY));
      const { invoice_number: drive } = (await t.db
        .knex('invoice_numbers')
        .where({ partner_code: 'DRIVE' })
        .first('invoice_number')) as { invoice_number: string };
      expect((await carriedNumbers())[0]!.numbers).toContain(drive);
      expect((await keptFor(drive)).map((l) => Number(l.points))).toEqual([500]);

      // DRIVE's credit taken back before delivery: it leaves the draft, and what it carried with it.
      await ledger.postOne({ key: 'REV:PTR:DRIVE:D-1', reverses: 'PTR:DRIVE:D-1', businessDate: DAY });
      await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-01T09:00:00Z')));
      expect((await carriedNumbers())[0]!.numbers).not.toContain(drive);
      expect(
        await t.db.knex('invoice_numbers').where({ invoice_number: drive }).first('transmission'),
      ).toEqual({ transmission: null });
      expect(await keptFor(drive)).toEqual([]);
    });

    it('lists members for each mailing only with their consent and only the data the mailing needs', async () => {
      await exportJob(jobContext(t.db, config, DAY));
      const lists = Object.fromEntries(
        (await byKind('mailing')).map((r) => [r.name.replace(/_2026.*/, ''), csv(r.copy)]),
      );
      const numbers = (kind: string) => lists[kind]!.slice(1).map((r) => r[0]);
      // Boris said no to expiry warnings though yes to everything else; Nora gave no consent at all.
      expect(numbers('EXPIRY_WARNING')).toEqual([M.anna, M.evil]);
      expect(lists.EXPIRY_WARNING![1]).toEqual([
        M.anna,
        'anna@example.com',
        'en',
        'Anna',
        'Smith',
        '500',
        '2027-01-29',
      ]);
      expect(numbers('BALANCE_STATEMENT')).toEqual([M.anna, M.boris, M.evil]);
      expect(lists.BALANCE_STATEMENT![0]).toEqual([
        'member_number',
        'email',
        'language',
        'given_name',
        'surname',
        'tier',
        'period_start',
        'period_end',
        'opening_balance',
        'earned',
        'redeemed',
        'expired',
        'adjusted',
        'closing_balance',
      ]);
      // Anna: 700 in October; in November 500 own-flight, 1500 reversed, 801 hotel, 2000 LH.
      expect(lists.BALANCE_STATEMENT![1]!.slice(8)).toEqual(['700', '3301', '0', '0', '0', '4001']);
      expect(lists.TIER_CHANGE!.slice(1).map((r) => [r[0], r[5], r[6], r[7], r[8]])).toEqual([
        [M.boris, 'MEMBER', 'SILVER', 'UP', 'Y'],
        [M.evil, 'GOLD', 'SILVER', 'DOWN', 'N'],
      ]);
      expect(lists.INCOMPLETE_REGISTRATION).toEqual([
        ['member_number', 'email', 'language', 'given_name', 'enrolment_date'],
        [M.incomplete, 'ivy@example.com', '', 'Ivy', '2026-11-16'],
      ]);
      expect(numbers('ACCOUNT_CLOSURE')).toEqual([M.closed]);
      // Formula injection neutralised in names; no birth date, phone, country or native-script name anywhere.
      expect(lists.TIER_CHANGE![2]!.slice(3, 5)).toEqual([
        `'=HYPERLINK("http://evil.example","x")`,
        `'+SUM(A1:A9)`,
      ]);
      for (const row of await byKind('mailing')) {
        const bytes = readFileSync(row.copy, 'utf8');
        for (const personal of ['1980-04-05', '+15550001', 'GB', 'Смит'])
          expect(bytes).not.toContain(personal);
        expect(bytes).not.toContain('nora@example.com');
      }
    });

    it.runIf(xmllintOrSkip())('every XML file it writes validates against its schema', async () => {
      const xmlConfig = testConfig((c) => {
        c.exports.mailings.format = 'xml';
      });
      // Names as long as the members feed takes (200), past the schema's 100: cut where no character
      // is split (a surrogate pair at 99-100, a letter and its accent at 100-101), and reported.
      const long = {
        number: '1000000099',
        givenName: `${'Б'.repeat(98)}😀😀${'x'.repeat(50)}`,
        surname: `${'A'.repeat(99)}E\u0301${'Z'.repeat(98)}`,
      };
      await insertMember(t.db.knex, {
        ...long,
        status: 'CLOSED',
        email: 'long@example.com',
        consent: { ALL: true },
        tier: 'MEMBER',
        closedOn: DAY,
      });
      try {
        const result = await exportJob(jobContext(t.db, xmlConfig, DAY));
        const rows = ((await t.db.knex('files').where('direction', 'out')) as OutRow[]).filter((r) =>
          r.name.endsWith('.xml'),
        );
        expect(new Set(rows.map((r) => r.feed))).toEqual(new Set(Object.keys(SCHEMAS)));
        for (const [kind, xsd] of Object.entries(SCHEMAS)) {
          if (kind === 'hotel-response' && !existsSync(xsd)) {
            console.warn(`NOTICE: ${xsd} not present: OpenTravel validation skipped`);
            continue;
          }
          const check = validateWithSchema(
            xsd,
            rows.filter((r) => r.feed === kind).map((r) => join(xmlConfig.paths.outbox, r.local_path)),
          );
          expect(check.output).not.toMatch(/fails to validate/);
          expect(check.ok, `${kind}: ${check.output}`).toBe(true);
        }
        const tier = rows.find((r) => r.name.startsWith('TIER_CHANGE'))!;
        const recipients = elements(
          readFileSync(join(xmlConfig.paths.outbox, tier.local_path), 'utf8'),
          'Recipient',
        );
        expect(recipients.map((r) => child(r, 'NewCardReady'))).toEqual(['Y', 'N']);
        const closure = rows.find((r) => r.name.startsWith('ACCOUNT_CLOSURE'))!;
        const cut = elements(
          readFileSync(join(xmlConfig.paths.outbox, closure.local_path), 'utf8'),
          'Recipient',
        ).find((r) => child(r, 'MemberNumber') === long.number)!;
        expect(child(cut, 'GivenName')).toBe(`${'Б'.repeat(98)}😀😀`);
        expect(child(cut, 'Surname')).toBe('A'.repeat(99));
        expect(result.warnings).toEqual(
          expect.arrayContaining([
            `${closure.name}: ACCOUNT_CLOSURE to member ${long.number}: given_name of 150 characters written cut to the 100 the XML list allows; the CRM should shorten it`,
            `${closure.name}: ACCOUNT_CLOSURE to member ${long.number}: surname of 199 characters written cut to the 100 the XML list allows; the CRM should shorten it`,
          ]),
        );
      } finally {
        rmSync(xmlConfig.paths.outbox, { recursive: true, force: true });
      }
    });

    it('leaves out of the XML list a member whose stored address it would carry altered, never another address', async () => {
      const xmlConfig = testConfig((c) => {
        c.exports.mailings.format = 'xml';
      });
      // Addresses stored before the members feed refused them: XML cannot carry U+0001 or U+FFFF (writing
      // them without would be another address, or none before the @), nor tell the zero-width space apart.
      const stored = {
        '1000000107': 'iv\u0001an@example.com',
        '1000000115': '\u0001@example.com',
        '1000000123': 'ivan\uFFFF@example.com',
        '1000000131': 'iv\u200Ban@example.com',
        '1000000149': 'ivan@example.com',
      };
      for (const [number, email] of Object.entries(stored))
        await insertMember(t.db.knex, {
          number,
          status: 'CLOSED',
          email,
          consent: { ALL: true },
          tier: 'MEMBER',
          surname: 'IVANOV',
          givenName: 'IVAN',
          closedOn: DAY,
        });
      try {
        await exportJob(jobContext(t.db, xmlConfig, DAY));
        const lists = ((await t.db.knex('files').where('direction', 'out')) as OutRow[]).filter(
          (r) => r.feed === 'mailing',
        );
        const closure = lists.find((r) => r.name.startsWith('ACCOUNT_CLOSURE'))!;
        const recipients = elements(
          readFileSync(join(xmlConfig.paths.outbox, closure.local_path), 'utf8'),
          'Recipient',
        );
        expect(recipients.map((r) => child(r, 'MemberNumber'))).toEqual([M.closed, '1000000149']);
        // Every address the lists carry is one stored for that very member.
        for (const list of lists)
          for (const r of elements(
            readFileSync(join(xmlConfig.paths.outbox, list.local_path), 'utf8'),
            'Recipient',
          )) {
            const member = (await t.db
              .knex('members')
              .where({ number: child(r, 'MemberNumber') })
              .first('email')) as {
              email: string;
            };
            expect(child(r, 'Email'), `${list.name}: ${child(r, 'MemberNumber')}`).toBe(member.email);
          }
        if (xmllintOrSkip()) {
          const check = validateWithSchema(
            SCHEMAS.mailing!,
            lists.map((r) => join(xmlConfig.paths.outbox, r.local_path)),
          );
          expect(check.ok, check.output).toBe(true);
        }
      } finally {
        rmSync(xmlConfig.paths.outbox, { recursive: true, force: true });
      }
    });

    it('a rerun of the same date writes the same bytes, allocates nothing and registers nothing new', async () => {
      await exportJob(jobContext(t.db, config, DAY));
      const before = await outRows();
      const bytes = before.map((r) => readFileSync(r.copy));
      const sequences = await t.db.knex('sequences').orderBy('scope');
      const claims = await t.db.knex('alliance_claims').orderBy('id');

      // Hours later, with a new passenger read meanwhile for that date: the sent file does not change.
      await insertActivity(t.db.knex, {
        type: 'FLIGHT',
        status: 'NOT_CREDITED',
        key: 'FLT:XX0105:LATE',
        partnerCode: 'LH',
        ref: '992005555555',
        flight: {
          carrier: 'XX',
          flight_number: '105',
          origin: 'SVO',
          destination: 'MUC',
          cabin: 'C',
          booked_class: 'J',
          travel_surname: 'LATE',
        },
      });
      const rerun = await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-01T09:45:00Z')));
      expect(rerun.counts.written).toBeUndefined();
      expect(rerun.counts.unchanged).toBe(before.length);
      expect(await outRows()).toEqual(before);
      before.forEach((r, i) => expect(readFileSync(r.copy).equals(bytes[i]!)).toBe(true));
      expect(await t.db.knex('sequences').orderBy('scope')).toEqual(sequences);
      expect(await t.db.knex('alliance_claims').orderBy('id')).toEqual(claims);

      // A file lost from the outbox is put back as it was.
      rmSync(before[0]!.copy);
      const again = await exportJob(jobContext(t.db, config, DAY, new Date('2026-12-02T00:00:00Z')));
      expect(again.counts.restored).toBe(1);
      expect(readFileSync(before[0]!.copy).equals(bytes[0]!)).toBe(true);
    });

    it('numbers files without gaps per partner and scope across nights', async () => {
      await exportJob(jobContext(t.db, config, DAY));
      const next = await exportJob(
        jobContext(t.db, config, addDays(DAY, 1), new Date('2026-12-02T01:30:00Z')),
      );
      expect(next.counts).toMatchObject({ claimsFiles: 2, claims: 1, mailingLists: 4 });
      await exportJob(jobContext(t.db, config, addDays(DAY, 2), new Date('2026-12-03T01:30:00Z')));
      const rows = await outRows();
      const scopes = new Map<string, number[]>();
      for (const r of rows) {
        if (r.sequence === null) continue;
        const scope = `${r.feed}:${r.partner_code ?? r.name.replace(/_\d{8}\..*$/, '')}`;
        scopes.set(scope, [...(scopes.get(scope) ?? []), Number(r.sequence)]);
      }
      for (const [scope, numbers] of scopes) {
        expect(numbers, scope).toEqual(numbers.map((_, i) => i + 1));
      }
      expect(scopes.get('alliance-claims:LH')).toEqual([1, 2, 3]);
      expect(scopes.get('mailing:TIER_CHANGE')).toEqual([1, 2, 3]);
      const second = rows.find((r) => r.name === 'XX_LH_20261201_000002.claims.xml')!;
      const events = split(
        await collect(allianceClaimsParser.parse([inputOf(second.name, readFileSync(second.copy))])),
      );
      expect(events.records.map((r) => r.record.claimId)).toEqual([`XX-${night.activities.lhNextDay}`]);
    });

    it('fails naming the export when a partner’s credits have no price, after writing everything else', async () => {
      await t.db.knex('postings').where('rule_version', 'LH-2025').update({ rule_version: 'LH-1999' });
      await t.db.knex('activities').where('rule_version', 'LH-2025').update({ rule_version: 'LH-1999' });
      const failed = exportJob(jobContext(t.db, config, DAY));
      await expect(failed).rejects.toThrow(
        /invoices for 2026-11: partner LH, 2026-11: 2000 points of PARTNER_FLIGHT under rule version "LH-1999" match no contract or chart/,
      );
      // What was written is said with the failure, as the night's summary shows it.
      await expect(failed).rejects.toMatchObject({
        code: 'EXPORT_FAILED',
        done: {
          counts: { mailingLists: 5, failed: 1 },
          warnings: expect.arrayContaining([
            expect.stringMatching(/REDBANK_20261130_0001\.csv.*waiting for the accrue job/),
          ]),
        },
      });
      expect((await outRows()).filter((r) => r.feed === 'mailing')).toHaveLength(5);
      expect(await byKind('invoice')).toHaveLength(0);
    });

    // Only SQLite keeps an activity type longer than the 32 characters PostgreSQL's column holds: there a
    // line's description (type, contract id of at most 64, an adjusted invoice's number) stays within 255.
    it.skipIf(engine !== 'sqlite')(
      'refuses a transmission whose line description IS-XML cannot carry before registering it, using no sequence',
      async () => {
        const lh = (await t.db
          .knex('activities')
          .where('rule_version', 'LH-2025')
          .select('id', 'activity_type')) as Array<{
          id: number;
          activity_type: string | null;
        }>;
        expect(lh.length).toBeGreaterThan(0);
        await t.db
          .knex('activities')
          .where('rule_version', 'LH-2025')
          .update({ activity_type: 'FLIGHT_'.repeat(36) });
        const failed = exportJob(jobContext(t.db, config, DAY));
        await expect(failed).rejects.toThrow(
          /invoices for 2026-11: invoice 202611\d{4} to LH, line \d+: Description at most 255 characters, as IS-XML's Description \(this has 2\d\d\)/,
        );
        expect(await byKind('invoice')).toHaveLength(0);

        for (const a of lh)
          await t.db.knex('activities').where('id', a.id).update({ activity_type: a.activity_type });
        await exportJob(jobContext(t.db, config, DAY));
        expect((await one('invoice')).name).toBe('XX1_ISXML_202611_0001.xml');
      },
    );

    it('stopped on request after an export failed, returns for the runner to record it interrupted, the failure among its warnings', async () => {
      await t.db.knex('postings').where('rule_version', 'LH-2025').update({ rule_version: 'LH-1999' });
      await t.db.knex('activities').where('rule_version', 'LH-2025').update({ rule_version: 'LH-1999' });
      // The signal comes as the last export is written: every task has been attempted, one of them failed.
      const controller = new AbortController();
      let total = 0;
      let done = 0;
      const result = await exportJob({
        ...jobContext(t.db, config, DAY),
        signal: controller.signal,
        progress: {
          start: (_label, n) => void (total = n),
          increment: () => {
            if (++done === total) controller.abort('SIGTERM');
          },
          stop: () => {},
        },
      });
      expect(controller.signal.aborted).toBe(true);
      expect(result.counts).toMatchObject({ mailingLists: 5, failed: 1 });
      expect(result.warnings).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^export failed: .*"LH-1999" match no contract or chart/),
        ]),
      );
    });
  });
}
