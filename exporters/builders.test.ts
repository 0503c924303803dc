/**
 * The pure builders: data in, bytes out. Exact expected bytes for the small cases, properties for the
 * arithmetic the partners check (control totals, invoice sums), schema validation for every XML shape.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decimal, formatMinor, minorUnitExponent } from '../lib/money.js';
import {
  PROJECT,
  SHARED_FORMATS,
  validateWithSchema,
  writeTemp,
  xmllintOrSkip,
} from '../parsers/fixtures/xml/support.js';
import { parseXmlText } from '../parsers/xml-common.js';
import { csvRecord, csvText } from './csv.js';
import { ExportError } from './errors.js';
import { buildHotelStayResponse, hotelResponseName, type HotelStayResponse } from './hotel-response.js';
import {
  buildInvoiceStatement,
  buildInvoiceTransmission,
  invoiceTotals,
  ISXML_TEXT_MAX,
  priceLines,
  readBackLines,
  scaledUnitPrice,
  transmissionTotals,
  type InvoiceInput,
  type IsxmlTextElement,
  type TransmissionInput,
} from './isxml.js';
import {
  MAILING_COLUMNS,
  mailingCsv,
  mailingXml,
  type CutField,
  type ExpiryWarningRow,
  type TierChangeRow,
} from './mailings.js';
import {
  buildPartnerResponse,
  partnerResponseChunks,
  partnerResponseName,
  type PartnerResponse,
  type PartnerResponseRecord,
} from './partner-response.js';
import { responseNames, responseNameShortened } from './responses.js';
import { parsePartnerFileName } from '../parsers/partner.js';
import { cutToLength, xmlChars } from './xml-writer.js';

const OTA_XSD = join(SHARED_FORMATS, 'ota/2017B/OTA_HotelStayInfoNotifRS.xsd');
const ISXML_XSD = join(PROJECT, 'schemas/redeye-isxml-subset-1.0.xsd');
const MAILING_XSD = join(PROJECT, 'schemas/redeye-mailing-1.0.xsd');

async function text(chunks: AsyncIterable<string>): Promise<string> {
  let out = '';
  for await (const c of chunks) out += c;
  return out;
}

function csvRows(bytes: string): string[][] {
  return parse(bytes, { relax_column_count: true }) as string[][];
}

function expectValid(xsd: string, documents: string[]): void {
  const check = validateWithSchema(xsd, writeTemp(documents));
  expect(check.output).not.toMatch(/fails to validate|error/i);
  expect(check.ok).toBe(true);
}

// ------------------------------------------------------------------------------------------ partner response

describe('partner CSV response', () => {
  const response: PartnerResponse = {
    partnerCode: 'GRANDSTAY',
    fileSequence: 7,
    processedAt: '2026-12-01T01:30:00Z',
    fileStatus: 'OK',
    records: [
      {
        partnerTxnId: 'T1',
        memberNumber: '1000000016',
        status: 'A',
        pointsPosted: 1500,
        reasonCode: null,
        reasonText: null,
      },
      {
        partnerTxnId: 'T4',
        memberNumber: '1000000024',
        status: 'P',
        pointsPosted: 10000,
        reasonCode: 'CAP_EXCEEDED',
        reasonText: 'cap, "monthly"',
      },
      {
        partnerTxnId: '=1+1',
        memberNumber: '@A1',
        status: 'R',
        pointsPosted: 0,
        reasonCode: 'MALFORMED',
        reasonText: '-bad',
      },
      {
        partnerTxnId: 'T1-R',
        memberNumber: '1000000016',
        status: 'A',
        pointsPosted: -1500,
        reasonCode: null,
        reasonText: null,
      },
    ],
  };

  it('writes H, one D per record in order, and T with the control totals', async () => {
    expect(await buildPartnerResponse(response)).toBe(
      'H,GRANDSTAY,7,2026-12-01T01:30:00Z,3,1,OK\r\n' +
        'D,T1,1000000016,A,1500,,\r\n' +
        'D,T4,1000000024,P,10000,CAP_EXCEEDED,"cap, ""monthly"""\r\n' +
        "D,'=1+1,'@A1,R,0,MALFORMED,'-bad\r\n" +
        'D,T1-R,1000000016,A,-1500,,\r\n' +
        'T,4,10000\r\n',
    );
  });

  it('answers a file rejected whole with its reason and no D records', async () => {
    expect(
      await buildPartnerResponse({ ...response, fileSequence: null, fileStatus: 'BAD_HEADER', records: [] }),
    ).toBe('H,GRANDSTAY,,2026-12-01T01:30:00Z,0,0,BAD_HEADER\r\nT,0,0\r\n');
    await expect(buildPartnerResponse({ ...response, fileStatus: 'BAD_TRAILER' })).rejects.toThrow(
      ExportError,
    );
  });

  it('refuses points on a rejected record', async () => {
    const bad = { ...response, records: [{ ...response.records[2]!, pointsPosted: 5 }] };
    await expect(buildPartnerResponse(bad)).rejects.toThrow(/points 5 with status R/);
  });

  it('streamed, stops before T when the records contradict the counts announced in H', async () => {
    const header = { ...response, accepted: 3, rejected: 0 };
    const chunks: string[] = [];
    await expect(
      (async () => {
        for await (const c of partnerResponseChunks(header, response.records)) chunks.push(c);
      })(),
    ).rejects.toThrow(/announced 3 accepted and 0 rejected, the D records hold 3 and 1/);
    expect(chunks.join('')).not.toContain('\r\nT,');
  });

  it('names the response after the request', () => {
    expect(partnerResponseName('GRANDSTAY_20261126_0007.csv')).toBe('GRANDSTAY_20261126_0007.resp.csv');
    expect(partnerResponseName('odd-name.txt')).toBe('odd-name.txt.resp.csv');
    expect(hotelResponseName('stays.XML')).toBe('stays.resp.xml');
  });

  it('names a response whose request name is answered already after the night, still as partner-accrual.md names responses', () => {
    const partner = (name: string) => responseNames({ id: 12, feed: 'partner', name }, '2026-03-13');
    expect(partner('DRIVE_20260311_1.csv')).toEqual([
      'DRIVE_20260311_1.resp.csv',
      'DRIVE_20260313_1.resp.csv',
      'DRIVE_20260313_1-12.resp.csv',
    ]);
    // The partner's side reads the same partner and sequence from the dated name as from its own.
    expect(parsePartnerFileName('DRIVE_20260313_1.resp.csv')).toEqual({
      partnerCode: 'DRIVE',
      date: '2026-03-13',
      sequence: 1,
      response: true,
    });
    expect(partner('GRANDSTAY_20261126_0007.csv')[1]).toBe('GRANDSTAY_20260313_0007.resp.csv');
    // A partner code holding _ keeps it whole: the date and sequence are read from the right.
    expect(partner('GRAND_STAY_20261126_0007.csv')[1]).toBe('GRAND_STAY_20260313_0007.resp.csv');
    expect(parsePartnerFileName('GRAND_STAY_20260313_0007.resp.csv')).toMatchObject({
      partnerCode: 'GRAND_STAY',
      sequence: 7,
    });
    // Sent on the night it is answered: the dated name is its own, so the next one carries the file id.
    expect(partner('DRIVE_20260313_1.csv')).toEqual([
      'DRIVE_20260313_1.resp.csv',
      'DRIVE_20260313_1-12.resp.csv',
    ]);
    expect(partner('DRIVE.csv')).toEqual([
      'DRIVE.resp.csv',
      'DRIVE-20260313.resp.csv',
      'DRIVE-20260313-12.resp.csv',
    ]);
    // A request name that leaves no room for the extension: each name cut to 255 bytes on a character
    // boundary, marked with its own hash, the same on every call; two alike in what is kept stay apart.
    const long = (tail: string) => `${'É'.repeat(124)}${tail}.xml`;
    const cut = responseNames({ id: 10, feed: 'hotel', name: long('A') }, '2026-06-14');
    expect(cut).toHaveLength(3);
    for (const n of cut) {
      expect(Buffer.byteLength(n), n).toBeLessThanOrEqual(255);
      expect(n).toMatch(/^É+-[0-9a-f]{8}\.resp\.xml$/);
    }
    expect(responseNames({ id: 10, feed: 'hotel', name: long('A') }, '2026-06-14')).toEqual(cut);
    expect(responseNames({ id: 10, feed: 'hotel', name: long('B') }, '2026-06-14')[0]).not.toBe(cut[0]);
    expect(responseNameShortened({ feed: 'hotel', name: long('A') })).toBe(true);
    expect(responseNameShortened({ feed: 'hotel', name: 'GS_stays.xml' })).toBe(false);
    expect(responseNames({ id: 10, feed: 'hotel', name: 'GS_stays.xml' }, '2026-06-14')).toEqual([
      'GS_stays.resp.xml',
      'GS_stays-20260614.resp.xml',
      'GS_stays-20260614-10.resp.xml',
    ]);
  });

  const record = fc.record<PartnerResponseRecord>({
    partnerTxnId: fc.string({ maxLength: 12 }),
    memberNumber: fc.string({ maxLength: 12 }),
    status: fc.constantFrom('A', 'P', 'R'),
    pointsPosted: fc.integer({ min: -1_000_000, max: 1_000_000 }),
    reasonCode: fc.option(fc.constantFrom('CAP_EXCEEDED', 'DUPLICATE', 'MALFORMED')),
    reasonText: fc.option(fc.string({ maxLength: 30 })),
  });

  it('property: T counts the D records and sums their points; H counts accepted and rejected', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(record, { maxLength: 40 }), async (records) => {
        const fixed = records.map((r) => (r.status === 'R' ? { ...r, pointsPosted: 0 } : r));
        const rows = csvRows(await buildPartnerResponse({ ...response, records: fixed }));
        const h = rows[0]!;
        const t = rows[rows.length - 1]!;
        const d = rows.slice(1, -1);
        expect(d.every((r) => r[0] === 'D' && r.length === 7)).toBe(true);
        expect(Number(t[1])).toBe(d.length);
        expect(Number(t[2])).toBe(d.reduce((s, r) => s + Number(r[4]), 0));
        expect(Number(h[4])).toBe(d.filter((r) => r[3] !== 'R').length);
        expect(Number(h[5])).toBe(d.filter((r) => r[3] === 'R').length);
      }),
    );
  });
});

// ------------------------------------------------------------------------------------------ CSV safety

describe('CSV text fields', () => {
  it('property: a field read back never starts with a formula trigger, and otherwise is unchanged', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'binary', maxLength: 20 }), { minLength: 1, maxLength: 6 }),
        (fields) => {
          const [back] = csvRows(csvRecord(fields.map(csvText)));
          back!.forEach((value, i) => {
            const original = fields[i]!;
            expect(/^[=+\-@\t\r]/.test(value)).toBe(false);
            expect(value === original || value === `'${original}`).toBe(true);
          });
        },
      ),
    );
  });
});

// ------------------------------------------------------------------------------------------ hotel response

describe('OTA_HotelStayInfoNotifRS', () => {
  const ok: HotelStayResponse = {
    timeStamp: '2026-12-01T01:30:00Z',
    sequence: 3,
    warnings: [
      {
        reasonCode: 'NAME_MISMATCH',
        text: 'surname or initial do not match the member',
        sequenceNumber: 2,
        reservationId: 'R-2',
      },
      {
        reasonCode: 'CAP_EXCEEDED',
        text: 'capped & <noted>',
        sequenceNumber: 3,
        reservationId: 'R-3',
        partial: true,
      },
      { reasonCode: 'BAD_CURRENCY', text: 'line 40: "EU\u0001R"', reservationId: 'x'.repeat(65) },
    ],
  };

  it('writes Success and a Warning per rejected or capped stay', () => {
    const xml = buildHotelStayResponse(ok);
    expect(xml).toContain('<Success/>');
    expect(xml).toContain(
      '<Warning Type="3" ShortText="NAME_MISMATCH" Status="Rejected" RecordID="R-2" RPH="2">surname or initial do not match the member</Warning>',
    );
    expect(xml).toContain('Type="11" ShortText="CAP_EXCEEDED" Status="PartiallyAccepted"');
    expect(xml).toContain('capped &amp; &lt;noted&gt;');
    // Too long for RecordID (64 characters at most): left out rather than invalid.
    expect(xml).toContain(
      '<Warning Type="3" ShortText="BAD_CURRENCY" Status="Rejected">line 40: "EUR"</Warning>',
    );
    const doc = parseXmlText(xml);
    expect(doc.ok).toBe(true);
  });

  it('writes Errors for a refused document and nothing else', () => {
    const xml = buildHotelStayResponse({
      ...ok,
      warnings: [],
      error: { reasonCode: 'NOT_WELL_FORMED', text: 'line 3' },
    });
    expect(xml).not.toContain('Success');
    expect(xml).toContain('<Errors>');
    expect(() => buildHotelStayResponse({ ...ok, error: { reasonCode: 'X', text: 'y' } })).toThrow(
      ExportError,
    );
  });

  it('echoes the request’s EchoToken, first and unchanged, on a processed and a refused document alike', () => {
    const echoed = (r: HotelStayResponse) =>
      /<OTA_HotelStayInfoNotifRS [^>]*>/.exec(buildHotelStayResponse(r))![0];
    expect(echoed({ ...ok, echoToken: ' GS&1 <a>' })).toBe(
      `<OTA_HotelStayInfoNotifRS xmlns="http://www.opentravel.org/OTA/2003/05" EchoToken=" GS&amp;1 &lt;a&gt;" TimeStamp="2026-12-01T01:30:00Z" Version="1.000" SequenceNmbr="3">`,
    );
    const refused = { ...ok, warnings: [], error: { reasonCode: 'EMPTY_FILE', text: 'no StayInfo' } };
    expect(echoed({ ...refused, echoToken: 'GSBER01-20261002' })).toContain('EchoToken="GSBER01-20261002"');
    expect(echoed({ ...refused, echoToken: null })).not.toContain('EchoToken');
    // OpenTravel's StringLength1to128 in characters: 128 of them is a token, 129 is not.
    expect(echoed({ ...ok, echoToken: 'Ü'.repeat(128) })).toContain(`EchoToken="${'Ü'.repeat(128)}"`);
    expect(() => buildHotelStayResponse({ ...ok, echoToken: 'x'.repeat(129) })).toThrow(/EchoToken/);
    expect(() => buildHotelStayResponse({ ...ok, echoToken: '' })).toThrow(/EchoToken/);
  });

  it.runIf(xmllintOrSkip())('validates against the OpenTravel schema', () => {
    if (!existsSync(OTA_XSD)) {
      console.warn(`NOTICE: ${OTA_XSD} not present: OpenTravel validation skipped`);
      return;
    }
    expectValid(OTA_XSD, [
      buildHotelStayResponse(ok),
      buildHotelStayResponse({ timeStamp: '2026-12-01T01:30:00Z', sequence: null }),
      buildHotelStayResponse({
        ...ok,
        warnings: [],
        error: { reasonCode: 'UNKNOWN_PARTNER', text: 'chain ZZ' },
      }),
      buildHotelStayResponse({ ...ok, echoToken: `GS&<1> ${'Ü'.repeat(120)}` }),
      buildHotelStayResponse({
        ...ok,
        echoToken: 'GSBER01-20261002',
        warnings: [],
        error: { reasonCode: 'EMPTY_FILE', text: 'no StayInfo' },
      }),
    ]);
  });
});

// ------------------------------------------------------------------------------------------ IS-XML

const ORG = { id: 'XX1', designator: 'XX', name: 'Redeye Airlines' };

function invoice(partnerCode: string, currency: string, lines: Array<[number, string]>, n = 1): InvoiceInput {
  return {
    partnerCode,
    invoiceNumber: `2026110${String(n).padStart(3, '0')}`,
    invoiceDate: '2026-11-30',
    chargeCategory: 'Miscellaneous',
    seller: ORG,
    buyer: { id: '9GS', designator: 'GS', name: `${partnerCode} & Co <Ltd>` },
    currency,
    settlementMonthPeriod: '261104',
    settlementMethod: 'I',
    lines: lines.map(([points, price], i) => ({
      chargeCode: 'FFP',
      description: `TYPE${i} points credited, C-${i}`,
      startDate: '2026-11-01',
      endDate: '2026-11-30',
      points,
      pricePerPoint: price,
      detailCount: i + 1,
      activityType: `TYPE${i}`,
      contractId: `C-${i}`,
    })),
  };
}

function transmission(invoices: InvoiceInput[]): TransmissionInput {
  return {
    transmissionId: 'XX1-202611-0001',
    transmissionDateTime: '2026-12-01T01:30:00Z',
    issuingOrganizationId: 'XX1',
    invoices,
  };
}

/** Elements by local name from our own safe parser, for reading back what was written. */
function values(xml: string, name: string): string[] {
  const parsed = parseXmlText(xml);
  if (!parsed.ok) throw new Error(parsed.refusal.message);
  const out: string[] = [];
  const walk = (el: { name: string; text: string; children: unknown[] }) => {
    if (el.name === name) out.push(el.text.trim());
    for (const c of el.children) walk(c as typeof el);
  };
  walk(parsed.doc.root as never);
  return out;
}

describe('IS-XML invoice transmission', () => {
  it('scales the unit price to the currency decimals and rounds each line once, half-even', () => {
    expect(scaledUnitPrice('0.0095', 'USD')).toEqual({ unitPrice: '0.95', scalingFactor: 100 });
    expect(scaledUnitPrice('0.0090', 'USD')).toEqual({ unitPrice: '0.09', scalingFactor: 10 });
    expect(scaledUnitPrice('2', 'JPY')).toEqual({ unitPrice: '2', scalingFactor: 1 });
    expect(scaledUnitPrice('0.0125', 'KWD')).toEqual({ unitPrice: '0.125', scalingFactor: 10 });
    // 15801 × 0.0095 = 150.1095 → 150.11; 12345 × 0.0090 = 111.105 → 111.10 (half-even)
    const lines = priceLines(
      invoice('GS', 'USD', [
        [15801, '0.0095'],
        [12345, '0.0090'],
      ]),
    );
    expect(lines.map((l) => l.chargeMinor)).toEqual([15011, 11110]);
    expect(invoiceTotals(lines)).toEqual({
      lineItemCount: 2,
      lineItemMinor: 26121,
      taxMinor: 0,
      vatMinor: 0,
      totalMinor: 26121,
    });
  });

  it('writes the summaries from the lines, per invoice and per currency', () => {
    const xml = buildInvoiceTransmission(
      transmission([
        invoice(
          'GRANDSTAY',
          'USD',
          [
            [15801, '0.0095'],
            [10000, '0.0095'],
          ],
          1,
        ),
        invoice('LH', 'EUR', [[2000, '0.0105']], 2),
        invoice('REDBANK', 'USD', [[-300, '0.0110']], 3),
      ]),
    );
    expect(values(xml, 'LineItemCount')).toEqual(['2', '1', '1']);
    expect(values(xml, 'TotalAmount')).toEqual(['245.11', '21.00', '-3.30', '21.00', '241.81']);
    expect(values(xml, 'InvoiceType')).toEqual(['Invoice', 'Invoice', 'CreditNote']);
    expect(xml).toContain('<TotalAmount CurrencyCode="EUR">21.00</TotalAmount>');
    expect(xml).toContain('<TotalAmount CurrencyCode="USD">241.81</TotalAmount>');
    expect(xml).toContain('<UnitPrice SF="100">0.95</UnitPrice>');
    expect(xml).toContain('<OrganizationName1>GRANDSTAY &amp; Co &lt;Ltd&gt;</OrganizationName1>');
    expect(() => buildInvoiceTransmission(transmission([]))).toThrow(ExportError);
    const huge = invoice('BIG', 'USD', [
      [2_000_000_000, '40000'],
      [2_000_000_000, '40000'],
    ]);
    expect(() => buildInvoiceTransmission(transmission([huge]))).toThrow(/exceeds what can be added exactly/);
  });

  const currency = fc.constantFrom('USD', 'EUR', 'JPY', 'KWD');
  const line = fc.tuple(
    fc.integer({ min: -2_000_000, max: 50_000_000 }),
    // Prices up to 999.99 per point: far beyond any real contract, small enough that totals stay exact.
    fc
      .tuple(fc.integer({ min: 0, max: 99_999 }), fc.integer({ min: 2, max: 6 }))
      .map(([units, scale]) => new Decimal(units).div(new Decimal(10).pow(scale)).toFixed()),
  );
  const invoices = fc.array(fc.tuple(currency, fc.array(line, { minLength: 1, maxLength: 6 })), {
    minLength: 1,
    maxLength: 5,
  });

  it('property: totals equal the sum of the lines, and each line is Quantity × UnitPrice / SF rounded', () => {
    fc.assert(
      fc.property(invoices, (specs) => {
        const input = specs.map(([cur, lines], i) => invoice(`P${i}`, cur, lines, i + 1));
        const xml = buildInvoiceTransmission(transmission(input));
        const byCurrency = new Map<string, Decimal>();
        const invoiceTotalsRead = values(xml, 'TotalLineItemAmount');
        const charges = values(xml, 'ChargeAmount');
        const quantities = values(xml, 'Quantity');
        const prices = values(xml, 'UnitPrice');
        let k = 0;
        input.forEach((inv, i) => {
          const exponent = minorUnitExponent(inv.currency)!;
          let sum = new Decimal(0);
          for (const l of inv.lines) {
            const scaled = scaledUnitPrice(l.pricePerPoint, inv.currency);
            const expected = new Decimal(quantities[k]!)
              .times(prices[k]!)
              .div(scaled.scalingFactor)
              .toDecimalPlaces(exponent, Decimal.ROUND_HALF_EVEN);
            expect(new Decimal(charges[k]!).equals(expected)).toBe(true);
            expect(charges[k]!.split('.')[1]?.length ?? 0).toBe(exponent);
            expect(quantities[k]).toBe(String(Math.abs(l.points)));
            sum = sum.plus(charges[k]!);
            k++;
          }
          expect(new Decimal(invoiceTotalsRead[i]!).equals(sum)).toBe(true);
          byCurrency.set(inv.currency, (byCurrency.get(inv.currency) ?? new Decimal(0)).plus(sum));
        });
        expect(values(xml, 'LineItemCount').map(Number)).toEqual(input.map((i) => i.lines.length));
        for (const t of transmissionTotals(input)) {
          expect(new Decimal(formatMinor(t.totalMinor, t.currency)).equals(byCurrency.get(t.currency)!)).toBe(
            true,
          );
          expect(xml).toContain(
            `<TotalAmount CurrencyCode="${t.currency}">${formatMinor(t.totalMinor, t.currency)}</TotalAmount>`,
          );
        }
      }),
      { numRuns: 200 },
    );
  });

  it('property: the CSV statement carries the same figures as the invoice', () => {
    fc.assert(
      fc.property(currency, fc.array(line, { minLength: 1, maxLength: 6 }), (cur, lines) => {
        const inv = invoice('GRANDSTAY', cur, lines);
        const rows = csvRows(buildInvoiceStatement(inv, { start: '2026-11-01', end: '2026-11-30' }));
        const priced = priceLines(inv);
        const l = rows.filter((r) => r[0] === 'L');
        expect(l.map((r) => r[8])).toEqual(priced.map((p) => formatMinor(p.chargeMinor, cur)));
        const t = rows[rows.length - 1]!;
        const totals = invoiceTotals(priced);
        expect(t).toEqual([
          'T',
          String(priced.length),
          String(lines.reduce((s, [p]) => s + p, 0)),
          formatMinor(totals.lineItemMinor, cur),
          formatMinor(0, cur),
          formatMinor(0, cur),
          formatMinor(totals.totalMinor, cur),
        ]);
      }),
    );
  });

  it('bills a partner month of net reversals as a credit note: quantities positive, the price and amounts negative', () => {
    // REDBANK reversed 1,300 CARD_SPEND points and had 1,000 RENTAL points credited: 300 owed back.
    const redbank = invoice('REDBANK', 'USD', [
      [-1300, '0.0110'],
      [1000, '0.0110'],
    ]);
    const xml = buildInvoiceTransmission(transmission([redbank]));
    expect(values(xml, 'InvoiceType')).toEqual(['CreditNote']);
    expect(values(xml, 'Quantity')).toEqual(['1300', '1000']);
    expect(values(xml, 'UnitPrice')).toEqual(['-0.11', '0.11']);
    expect(values(xml, 'ChargeAmount')).toEqual(['-14.30', '11.00']);
    expect(values(xml, 'TotalAmount')).toEqual(['-3.30', '-3.30']);

    const rows = csvRows(buildInvoiceStatement(redbank, { start: '2026-11-01', end: '2026-11-30' }));
    expect(rows[0]).toHaveLength(11);
    expect(rows[0]![10]).toBe('CreditNote');
    expect(rows.filter((r) => r[0] === 'L').map((r) => [r[6], r[7], r[8]])).toEqual([
      ['-1300', '0.011', '-14.30'],
      ['1000', '0.011', '11.00'],
    ]);
    expect(rows[rows.length - 1]).toEqual(['T', '2', '-300', '-3.30', '0.00', '0.00', '-3.30']);
    const bill = csvRows(
      buildInvoiceStatement(invoice('GS', 'USD', [[10, '1']]), { start: '2026-11-01', end: '2026-11-30' }),
    );
    expect(bill[0]![10]).toBe('Invoice');
  });

  it('reads back the lines a delivered invoice carried, only when they write it again byte for byte', () => {
    const described = (inv: InvoiceInput, contract: string): InvoiceInput => ({
      ...inv,
      lines: inv.lines.map((l) => ({
        ...l,
        contractId: `${contract}-${l.contractId}`,
        description: `${l.activityType} points ${l.points < 0 ? 'reversed' : 'credited'}, ${contract}-${l.contractId}`,
      })),
    });
    const gs = described(
      invoice('GRANDSTAY', 'USD', [
        [15801, '0.0095'],
        [-1300, '0.0110'],
      ]),
      'GS & <2026>',
    );
    const lh = described(invoice('LH', 'EUR', [[2000, '0.02']], 2), 'LH');
    const xml = buildInvoiceTransmission(transmission([gs, lh]));
    const header = ({ lines: _, ...rest }: InvoiceInput) => rest;
    // Prices as exact decimals, whatever their spelling in the configuration.
    expect(readBackLines(xml, header(gs))).toEqual(
      gs.lines.map((l) => ({ ...l, pricePerPoint: new Decimal(l.pricePerPoint).toFixed() })),
    );
    expect(readBackLines(xml, header(lh))).toEqual(lh.lines);
    // Not carried, another header, or written as an older version wrote it (the sign on Quantity).
    expect(readBackLines(xml, { ...header(lh), invoiceNumber: '2026110009' })).toBeUndefined();
    expect(readBackLines(xml, { ...header(lh), currency: 'USD' })).toBeUndefined();
    const older = xml
      .replace('<Quantity UOMCode="EA">1300<', '<Quantity UOMCode="EA">-1300<')
      .replace('<UnitPrice SF="10">-0.11<', '<UnitPrice SF="10">0.11<');
    expect(older.match(/<UnitPrice SF="10">0.11</g)).toHaveLength(1);
    expect(readBackLines(older, header(gs))).toBeUndefined();
    expect(readBackLines(older, header(lh))).toEqual(lh.lines);
  });

  it.runIf(xmllintOrSkip())('validates against the project schema of the IS-XML subset', () => {
    const samples = fc
      .sample(invoices, { numRuns: 15, seed: 7 })
      .map((specs) =>
        buildInvoiceTransmission(
          transmission(specs.map(([cur, lines], i) => invoice(`P${i}`, cur, lines, i + 1))),
        ),
      );
    expectValid(ISXML_XSD, [
      ...samples,
      buildInvoiceTransmission(transmission([invoice('REDBANK', 'USD', [[-1300, '0.0110']])])),
    ]);
    // The schema does catch what it can see: a duplicate invoice number.
    const dup = buildInvoiceTransmission(
      transmission([invoice('A', 'USD', [[1, '1']]), invoice('B', 'USD', [[1, '1']])]),
    );
    expect(validateWithSchema(ISXML_XSD, writeTemp([dup])).ok).toBe(false);
  });
});

describe('IS-XML text the configuration and the data feed', () => {
  /** Where each bounded element's text comes from in the input (the seller is the first organization written). */
  const place: Record<IsxmlTextElement, (t: TransmissionInput, v: string) => void> = {
    IssuingOrganizationID: (t, v) => (t.issuingOrganizationId = v),
    TransmissionID: (t, v) => (t.transmissionId = v),
    ChargeCategory: (t, v) => (t.invoices[0]!.chargeCategory = v),
    OrganizationID: (t, v) => (t.invoices[0]!.seller.id = v),
    OrganizationDesignator: (t, v) => (t.invoices[0]!.seller.designator = v),
    OrganizationName1: (t, v) => (t.invoices[0]!.seller.name = v),
    SettlementMethod: (t, v) => (t.invoices[0]!.settlementMethod = v),
    ChargeCode: (t, v) => (t.invoices[0]!.lines[0]!.chargeCode = v),
    Description: (t, v) => (t.invoices[0]!.lines[0]!.description = v),
  };
  const base = (): TransmissionInput => {
    const gs = invoice('GRANDSTAY', 'USD', [[1000, '0.0095']]);
    return transmission([{ ...gs, seller: { ...ORG }, lines: gs.lines.map((l) => ({ ...l })) }]);
  };
  /** `n` characters mixing one, two and four UTF-8 bytes, the astral ones two UTF-16 units each. */
  const textOf = (n: number) => Array.from({ length: n }, (_, i) => ['A', 'é', '🏨'][i % 3]!).join('');

  it.runIf(xmllintOrSkip())(
    'refuses before writing exactly the values the project schema refuses, counting characters as it does',
    () => {
      const cases = (Object.keys(ISXML_TEXT_MAX) as IsxmlTextElement[]).flatMap((element) =>
        [0, 1, ISXML_TEXT_MAX[element], ISXML_TEXT_MAX[element] + 1].map((n) => ({ element, n })),
      );
      const verdicts = cases.map(({ element, n }) => {
        const t = base();
        place[element](t, textOf(n));
        let built: boolean;
        try {
          buildInvoiceTransmission(t);
          built = true;
        } catch (e) {
          expect(e).toBeInstanceOf(ExportError);
          expect(e).toMatchObject({ code: 'ISXML_FIELD', context: { field: element } });
          built = false;
        }
        // What the schema says of the same value in the same place of a transmission otherwise valid.
        const valid = buildInvoiceTransmission(base()).replace(
          new RegExp(`<${element}>[^<]*</${element}>`),
          `<${element}>${textOf(n)}</${element}>`,
        );
        const schema = validateWithSchema(ISXML_XSD, writeTemp([valid])).ok;
        return { element, n, built, schema };
      });
      expect(verdicts.filter((v) => v.built !== v.schema)).toEqual([]);
      // Up to the bound in characters is taken, though the astral ones make it longer in UTF-16 units.
      expect(verdicts.filter((v) => v.built !== (v.n >= 1 && v.n <= ISXML_TEXT_MAX[v.element]))).toEqual([]);
    },
  );

  it('names the partner, the invoice, the line and the element of a description too long to send', () => {
    const t = base();
    const contract = `GRANDSTAY-${'2026-'.repeat(50)}`;
    place.Description(t, `STAY points credited, ${contract}`);
    let refusal: unknown;
    try {
      buildInvoiceTransmission(t);
    } catch (e) {
      refusal = e;
    }
    expect(refusal).toBeInstanceOf(ExportError);
    expect(refusal).toMatchObject({
      code: 'ISXML_FIELD',
      message:
        "invoice 2026110001 to GRANDSTAY, line 1: Description at most 255 characters, as IS-XML's Description (this has 282)",
      context: { partner: 'GRANDSTAY', invoice: '2026110001', field: 'Description' },
    });
    const numbered = base();
    numbered.invoices[0]!.invoiceNumber = '20261110000';
    expect(() => buildInvoiceTransmission(numbered)).toThrow(
      'invoice 20261110000 to GRANDSTAY: InvoiceNumber is 1 to 10 letters or digits in IS-XML',
    );
  });
});

// ------------------------------------------------------------------------------------------ mailing lists

describe('mailing lists', () => {
  const warning: ExpiryWarningRow = {
    memberNumber: '1000000016',
    email: 'anna@example.com',
    language: 'en',
    givenName: '=cmd|"/c calc"!A1',
    surname: 'Smith, Jr.',
    points: 500,
    expiresOn: '2027-01-29',
  };
  const change: TierChangeRow = {
    memberNumber: '1000000024',
    email: 'boris@example.com',
    language: null,
    givenName: 'Борис',
    surname: null,
    fromTier: 'MEMBER',
    toTier: 'SILVER',
    direction: 'UP',
    newCardReady: true,
    effectiveDate: '2026-11-30',
  };

  it('writes a header row and the fields of the kind, neutralising text', async () => {
    const counter: { recipients?: number } = {};
    const csv = await text(mailingCsv('EXPIRY_WARNING', [warning], counter));
    expect(csv).toBe(
      'member_number,email,language,given_name,surname,points_expiring,expires_on\r\n' +
        `1000000016,anna@example.com,en,"'=cmd|""/c calc""!A1","Smith, Jr.",500,2027-01-29\r\n`,
    );
    expect(counter.recipients).toBe(1);
  });

  it('leaves out of the CSV list a member whose address it would have to alter, never writing another', async () => {
    const counter: { recipients?: number } = {};
    const at = (memberNumber: string, email: string) => ({
      ...warning,
      memberNumber,
      email,
      givenName: 'Anna',
    });
    const csv = await text(
      mailingCsv(
        'EXPIRY_WARNING',
        [
          at('1000000016', '-anna@example.com'),
          at('1000000024', '=1+2@example.com'),
          at('1000000032', 'a-b@example.com'),
        ],
        counter,
      ),
    );
    // A leading - or = would be written behind an apostrophe: the address '-anna@example.com, another one.
    expect(csv.split('\r\n').slice(1)).toEqual([
      '1000000032,a-b@example.com,en,Anna,"Smith, Jr.",500,2027-01-29',
      '',
    ]);
    expect(counter.recipients).toBe(1);
  });

  it('lists only the fields a mailing needs: never birth date, phone, country or native-script names', () => {
    for (const columns of Object.values(MAILING_COLUMNS)) {
      const names = columns.map(([n]) => n);
      for (const forbidden of ['birth_date', 'phone', 'country', 'surname_local', 'given_name_local'])
        expect(names).not.toContain(forbidden);
    }
    expect(MAILING_COLUMNS.INCOMPLETE_REGISTRATION.map(([n]) => n)).toEqual([
      'member_number',
      'email',
      'language',
      'given_name',
      'enrolment_date',
    ]);
  });

  it.runIf(xmllintOrSkip())('XML lists validate against the mailing schema', async () => {
    const header = {
      program: 'XX',
      businessDate: '2026-11-30',
      sequence: 4,
      createdAt: '2026-12-01T01:30:00Z',
    };
    const docs = [
      await text(mailingXml({ ...header, kind: 'EXPIRY_WARNING' }, [warning])),
      await text(
        mailingXml({ ...header, kind: 'TIER_CHANGE' }, [
          change,
          { ...change, memberNumber: '1', direction: 'DOWN', newCardReady: false, fromTier: null },
        ]),
      ),
      await text(mailingXml({ ...header, kind: 'ACCOUNT_CLOSURE' }, [])),
      await text(
        mailingXml({ ...header, kind: 'INCOMPLETE_REGISTRATION' }, [
          {
            memberNumber: '7',
            email: 'a@b',
            language: 'pt-BR',
            givenName: null,
            enrolmentDate: '2026-11-16',
          },
        ]),
      ),
    ];
    expect(docs[1]).toContain('<NewCardReady>Y</NewCardReady>');
    expectValid(MAILING_XSD, docs);
  });

  it.runIf(xmllintOrSkip())(
    'cuts a name past the schema’s 100 characters in the XML list and reports it, and keeps it whole in the CSV',
    async () => {
      const header = {
        program: 'XX',
        businessDate: '2026-11-30',
        sequence: 1,
        createdAt: '2026-12-01T01:30:00Z',
      };
      const long = {
        ...warning,
        givenName: 'G'.repeat(101),
        surname: `${'Ж'.repeat(99)}👩‍✈️ ${'S'.repeat(80)}`,
      };
      const cut: CutField[] = [];
      const xml = await text(
        mailingXml({ ...header, kind: 'EXPIRY_WARNING' }, [long], {}, (c) => cut.push(c)),
      );
      expectValid(MAILING_XSD, [xml]);
      // The pilot emoji is one character of four code points: it goes whole.
      expect(xml).toContain(`<GivenName>${'G'.repeat(100)}</GivenName>`);
      expect(xml).toContain(`<Surname>${'Ж'.repeat(99)}</Surname>`);
      expect(cut).toEqual([
        { memberNumber: long.memberNumber, field: 'given_name', length: 101, maxLength: 100 },
        { memberNumber: long.memberNumber, field: 'surname', length: 184, maxLength: 100 },
      ]);
      const csv = parse(await text(mailingCsv('EXPIRY_WARNING', [long]))) as string[][];
      expect(csv[1]!.slice(3, 5)).toEqual([long.givenName, long.surname]);
    },
  );

  it('cuts text to a length in code points without splitting a character, and leaves text that fits alone', () => {
    const piece = fc.constantFrom('a', 'Ж', ' ', '😀', 'e\u0301', '👩‍✈️', '\u0301', 'ก\u0e31\u0e49');
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 60 }).map((p) => p.join('')),
        fc.integer({ min: 1, max: 40 }),
        (s, max) => {
          const cut = cutToLength(s, max);
          const points = Array.from(cut).length;
          if (Array.from(s).length <= max) {
            expect(cut).toBe(s);
            return;
          }
          expect(s.startsWith(cut)).toBe(true);
          expect(points).toBeLessThanOrEqual(max);
          expect(points).toBeGreaterThan(0);
          // No surrogate pair split: XML can carry every character of the cut.
          expect(xmlChars(cut)).toBe(cut);
          // A cut on a character boundary, unless the first character alone is longer than the limit.
          const first = [...new Intl.Segmenter('und', { granularity: 'grapheme' }).segment(s)][0]!.segment;
          if (Array.from(first).length <= max) expect(s.slice(cut.length)).not.toMatch(/^\p{M}|^\u200d/u);
        },
      ),
    );
  });
});
