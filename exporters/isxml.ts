/**
 * Monthly partner billing (is-xml.md): one IS-XML `InvoiceTransmission` with one Miscellaneous invoice
 * per billed partner, and the same figures as a CSV statement per partner. Pure builders: the summaries
 * are computed here from the line items, so the rules a clearing house enforces hold by construction:
 *
 * - `LineItemCount` is the number of line items; `TotalLineItemAmount` their sum; `TotalAmount` that sum
 *   plus tax and VAT (zero: points are billed without tax here);
 * - the transmission summary is the sum of the invoices, per billing currency;
 * - every amount is an integer of the currency's minor unit until it is written with exactly the
 *   currency's decimals. A line's charge is `points × price per point` computed exactly and rounded once,
 *   half-even, to the minor unit; nothing passes through binary floating point.
 *
 * An invoice whose total is negative (a partner month of net reversals) is a `CreditNote`. IATA's ISPG
 * (section 5.3, as IATA's SIS team clarified it) keeps `Quantity` positive on every document and puts the
 * sign on `UnitPrice` and the amounts, so `ChargeAmount = Quantity × UnitPrice / SF` holds on a credit
 * note too; a line of net reversals is written so in an invoice as in a credit note.
 *
 * `UnitPrice` carries IS-XML's scaling factor `SF`: the price per point times SF, with SF the smallest power
 * of ten that makes it fit the currency's decimals (0.0095 USD per point is written `0.95` with SF 100),
 * so `ChargeAmount = round(Quantity × UnitPrice / SF)`.
 *
 * The element names and order follow is-xml.md; schemas/redeye-isxml-subset-1.0.xsd is the project's
 * own structural schema of exactly this subset (IATA's schema is not public). No `LineItemDetail` is
 * written: the per-member detail would put personal data into a clearing-house file for no need.
 */
import { Decimal, formatMinor, minorUnitExponent, toMinorUnits, tryParseAmount } from '../lib/money.js';
import { childOf, childrenOf, escapeXmlText, parseXmlText } from '../parsers/xml-common.js';
import { csvRecord, csvText } from './csv.js';
import { ExportError } from './errors.js';
import { XmlWriter, xmlChars } from './xml-writer.js';

export const IS_XML_NS = 'http://www.IATA.com/IATAAviationInvoiceStandard';
/** The IS-XML standard version in TransmissionHeader/Version; it must be the one the issuer's SIS profile uses. */
export const IS_XML_VERSION = 'IATA:ISXMLInvoiceV3.8';

/**
 * The most characters schemas/redeye-isxml-subset-1.0.xsd lets each element whose text comes from the
 * configuration or the data hold (its `Text25`…`Text255`, each at least one character). A clearing house
 * rejects a whole transmission for one field out of bounds, so the configuration refuses such a billing
 * identity when it loads (config/schema.ts) and `buildInvoiceTransmission` refuses any other value before
 * a file is written.
 */
export const ISXML_TEXT_MAX = {
  IssuingOrganizationID: 25,
  TransmissionID: 50,
  ChargeCategory: 25,
  OrganizationID: 25,
  OrganizationDesignator: 25,
  OrganizationName1: 100,
  SettlementMethod: 25,
  ChargeCode: 25,
  Description: 255,
} as const;

export type IsxmlTextElement = keyof typeof ISXML_TEXT_MAX;

/**
 * Why `value` cannot be the text of `element`, or undefined. The schema counts characters, not UTF-16
 * units (an emoji is one character to it, two to `String.length`), and a character XML 1.0 cannot carry
 * would be dropped by the writer, leaving the field other than configured.
 */
export function isxmlTextProblem(element: IsxmlTextElement, value: string): string | undefined {
  const illegal = value.replace(/./gsu, (c) => (xmlChars(c) === c ? '' : c));
  if (illegal !== '') {
    const at = `U+${illegal.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    return `holds a character XML 1.0 cannot carry (${at}), which IS-XML's ${element} would lose`;
  }
  const length = [...value].length;
  if (length === 0) return `empty: IS-XML's ${element} needs at least 1 character`;
  const max = ISXML_TEXT_MAX[element];
  if (length > max) return `at most ${max} characters, as IS-XML's ${element} (this has ${length})`;
  return undefined;
}

export interface Organization {
  /** SIS member/organisation id (e.g. the 3-digit airline accounting code or a location id). */
  id: string;
  designator: string;
  name: string;
}

export interface InvoiceLineInput {
  chargeCode: string;
  description: string;
  startDate: string;
  endDate: string;
  /** Points credited on the partner's behalf (net of reversals); negative where reversals outweigh credits. */
  points: number;
  /** Exact decimal, billing currency per point. */
  pricePerPoint: string;
  /** Postings behind the line. */
  detailCount: number;
  /** For the CSV statement: the activity type and the contract or chart that priced it. */
  activityType: string;
  contractId: string;
  /**
   * On a line taking back credits of an earlier month (YYYY-MM): that month, whose bill prices them. Absent
   * on a line of the month's own activity.
   */
  creditMonth?: string;
}

export interface InvoiceInput {
  partnerCode: string;
  invoiceNumber: string;
  invoiceDate: string;
  chargeCategory: string;
  seller: Organization;
  buyer: Organization;
  currency: string;
  /** YYMMPP: year, month and clearance period (01-04). */
  settlementMonthPeriod: string;
  settlementMethod: string;
  lines: readonly InvoiceLineInput[];
}

export interface TransmissionInput {
  transmissionId: string;
  /** ISO 8601 date-time with offset. */
  transmissionDateTime: string;
  issuingOrganizationId: string;
  invoices: readonly InvoiceInput[];
}

export interface PricedLine extends InvoiceLineInput {
  lineNumber: number;
  /** `Quantity`: the points, always positive (IS-XML's sign travels on the price and the amounts). */
  quantity: number;
  /** Price per point × scalingFactor, with the currency's decimals, negative on a line of net reversals. */
  unitPrice: string;
  scalingFactor: number;
  /** Minor units of the currency. */
  chargeMinor: number;
}

export interface InvoiceTotals {
  lineItemCount: number;
  lineItemMinor: number;
  taxMinor: number;
  vatMinor: number;
  totalMinor: number;
}

function exponentOf(currency: string, partner: string): number {
  const exponent = minorUnitExponent(currency);
  if (exponent === undefined) {
    throw new ExportError(
      'BAD_CURRENCY',
      `invoice to ${partner}: ${JSON.stringify(currency)} is not an ISO 4217 currency`,
      {
        partner,
        field: 'CurrencyCode',
      },
    );
  }
  return exponent;
}

/** Price per point as IS-XML writes it: the unit price with the currency's decimals and its scaling factor. */
export function scaledUnitPrice(
  pricePerPoint: string,
  currency: string,
): { unitPrice: string; scalingFactor: number } {
  const exponent = exponentOf(currency, '?');
  const price = new Decimal(pricePerPoint);
  for (let k = 0; k <= 9; k++) {
    const scaled = price.times(new Decimal(10).pow(k));
    if (scaled.decimalPlaces() <= exponent) {
      return { unitPrice: scaled.toFixed(exponent), scalingFactor: 10 ** k };
    }
  }
  throw new ExportError(
    'BAD_PRICE',
    `price per point ${pricePerPoint} ${currency} needs more than 9 extra decimals`,
    {
      field: 'UnitPrice',
    },
  );
}

/** A line's amount in minor units: points × price exactly, rounded once, half-even. */
export function lineChargeMinor(points: number, pricePerPoint: string, currency: string): number {
  return toMinorUnits(new Decimal(points).times(pricePerPoint), currency);
}

export function priceLines(invoice: InvoiceInput): PricedLine[] {
  exponentOf(invoice.currency, invoice.partnerCode);
  return invoice.lines.map((line, i) => {
    if (!Number.isSafeInteger(line.points)) {
      throw new ExportError(
        'BAD_QUANTITY',
        `invoice ${invoice.invoiceNumber} line ${i + 1}: ${line.points} is not a whole number of points`,
        {
          partner: invoice.partnerCode,
          field: 'Quantity',
        },
      );
    }
    const { unitPrice, scalingFactor } = scaledUnitPrice(line.pricePerPoint, invoice.currency);
    const chargeMinor = lineChargeMinor(line.points, line.pricePerPoint, invoice.currency);
    return {
      ...line,
      lineNumber: i + 1,
      quantity: Math.abs(line.points),
      unitPrice: line.points < 0 && !new Decimal(unitPrice).isZero() ? `-${unitPrice}` : unitPrice,
      scalingFactor,
      chargeMinor,
    };
  });
}

/** Sums of minor units stay exact only below 2^53; an invoice that large is refused, not rounded. */
function addMinor(a: number, b: number): number {
  const sum = a + b;
  if (!Number.isSafeInteger(sum)) {
    throw new ExportError(
      'AMOUNT_TOO_LARGE',
      `an invoice total of ${a} + ${b} minor units exceeds what can be added exactly`,
      {
        field: 'TotalAmount',
      },
    );
  }
  return sum;
}

/**
 * A document whose total the partner is owed back is a credit note; IATA's ISPG (5.3) has its amounts
 * negative and its quantities positive, as on every line of any document.
 */
export function invoiceTypeOf(totals: InvoiceTotals): 'Invoice' | 'CreditNote' {
  return totals.totalMinor < 0 ? 'CreditNote' : 'Invoice';
}

export function invoiceTotals(lines: readonly PricedLine[]): InvoiceTotals {
  const lineItemMinor = lines.reduce((sum, l) => addMinor(sum, l.chargeMinor), 0);
  return { lineItemCount: lines.length, lineItemMinor, taxMinor: 0, vatMinor: 0, totalMinor: lineItemMinor };
}

export interface CurrencyTotals {
  currency: string;
  totalMinor: number;
  taxMinor: number;
  vatMinor: number;
}

/** Per billing currency, sorted by currency code. */
export function transmissionTotals(invoices: readonly InvoiceInput[]): CurrencyTotals[] {
  const by = new Map<string, CurrencyTotals>();
  for (const invoice of invoices) {
    const t = invoiceTotals(priceLines(invoice));
    const c = by.get(invoice.currency) ?? {
      currency: invoice.currency,
      totalMinor: 0,
      taxMinor: 0,
      vatMinor: 0,
    };
    c.totalMinor = addMinor(c.totalMinor, t.totalMinor);
    c.taxMinor = addMinor(c.taxMinor, t.taxMinor);
    c.vatMinor = addMinor(c.vatMinor, t.vatMinor);
    by.set(invoice.currency, c);
  }
  return [...by.values()].sort((a, b) => (a.currency < b.currency ? -1 : a.currency > b.currency ? 1 : 0));
}

function organization(x: XmlWriter, name: string, o: Organization): void {
  x.open(name);
  x.leaf('OrganizationID', o.id);
  x.leaf('OrganizationDesignator', o.designator);
  x.leaf('OrganizationName1', o.name);
  x.close();
}

const INVOICE_NUMBER = /^[A-Za-z0-9]{1,10}$/;
const SETTLEMENT_MONTH_PERIOD = /^[0-9]{2}(0[1-9]|1[0-2])0[1-4]$/;

/**
 * Refuses, naming the partner, the invoice and the element, a value the schema would refuse that the
 * configuration's own checks cannot see: a description made of an activity type and a contract id, an
 * invoice number past the month's 9999th document. The configured values are checked again, as they are
 * written (an `InvoiceInput` may come from elsewhere than the configuration). What the builder computes
 * itself (amounts, counts, dates, `BillingCategory`) fits by construction; a `TransmissionID`
 * `<issuer>-<YYYYMM>-<sequence>` fits 50 with an issuer of at most 25 and any safe-integer sequence.
 */
function checkTransmission(t: TransmissionInput): void {
  const refuse = (where: string, element: string, problem: string, partner?: string, invoice?: string) => {
    throw new ExportError('ISXML_FIELD', `${where}: ${element} ${problem}`, {
      partner,
      invoice,
      field: element,
    });
  };
  const text = (
    where: string,
    element: IsxmlTextElement,
    value: string,
    partner?: string,
    invoice?: string,
  ) => {
    // As written: the writer drops what XML cannot carry from text that is not configured (partner data).
    const problem = isxmlTextProblem(element, xmlChars(value));
    if (problem !== undefined) refuse(where, element, problem, partner, invoice);
  };
  const transmission = `transmission ${t.transmissionId}`;
  text(transmission, 'TransmissionID', t.transmissionId);
  text(transmission, 'IssuingOrganizationID', t.issuingOrganizationId);
  for (const invoice of t.invoices) {
    const partner = invoice.partnerCode;
    const number = invoice.invoiceNumber;
    const where = `invoice ${number} to ${partner}`;
    if (!INVOICE_NUMBER.test(number))
      refuse(where, 'InvoiceNumber', 'is 1 to 10 letters or digits in IS-XML', partner, number);
    if (!SETTLEMENT_MONTH_PERIOD.test(invoice.settlementMonthPeriod))
      refuse(where, 'SettlementMonthPeriod', 'is YYMMPP with a period 01 to 04 in IS-XML', partner, number);
    text(where, 'ChargeCategory', invoice.chargeCategory, partner, number);
    for (const [side, o] of [
      ['SellerOrganization', invoice.seller],
      ['BuyerOrganization', invoice.buyer],
    ] as const) {
      text(`${where}, ${side}`, 'OrganizationID', o.id, partner, number);
      text(`${where}, ${side}`, 'OrganizationDesignator', o.designator, partner, number);
      text(`${where}, ${side}`, 'OrganizationName1', o.name, partner, number);
    }
    text(where, 'SettlementMethod', invoice.settlementMethod, partner, number);
    invoice.lines.forEach((line, i) => {
      text(`${where}, line ${i + 1}`, 'ChargeCode', line.chargeCode, partner, number);
      text(`${where}, line ${i + 1}`, 'Description', line.description, partner, number);
    });
  }
}

/**
 * The transmission as the clearing house receives it. Every value the schema bounds is checked first
 * (`checkTransmission`), so a transmission built here is never one the schema refuses for a field's text.
 */
export function buildInvoiceTransmission(t: TransmissionInput): string {
  if (t.invoices.length === 0) {
    throw new ExportError('EMPTY_TRANSMISSION', `transmission ${t.transmissionId} has no invoice`, {
      field: 'Invoice',
    });
  }
  checkTransmission(t);
  return writeTransmission(t);
}

function writeTransmission(t: TransmissionInput): string {
  const x = new XmlWriter();
  x.open('InvoiceTransmission', [['xmlns', IS_XML_NS]]);
  x.open('TransmissionHeader');
  x.leaf('TransmissionDateTime', t.transmissionDateTime);
  x.leaf('Version', IS_XML_VERSION);
  x.leaf('TransmissionID', t.transmissionId);
  x.leaf('IssuingOrganizationID', t.issuingOrganizationId);
  x.leaf('BillingCategory', 'Miscellaneous');
  x.close();
  for (const invoice of t.invoices) {
    const lines = priceLines(invoice);
    const totals = invoiceTotals(lines);
    const money = (minor: number) => formatMinor(minor, invoice.currency);
    x.open('Invoice');
    x.open('InvoiceHeader');
    x.leaf('InvoiceNumber', invoice.invoiceNumber);
    x.leaf('InvoiceDate', invoice.invoiceDate);
    x.leaf('InvoiceType', invoiceTypeOf(totals));
    x.leaf('ChargeCategory', invoice.chargeCategory);
    organization(x, 'SellerOrganization', invoice.seller);
    organization(x, 'BuyerOrganization', invoice.buyer);
    x.open('PaymentTerms');
    x.leaf('CurrencyCode', invoice.currency);
    x.leaf('ClearanceCurrencyCode', invoice.currency);
    x.leaf('ExchangeRate', '1.00000');
    x.leaf('SettlementMonthPeriod', invoice.settlementMonthPeriod);
    x.leaf('SettlementMethod', invoice.settlementMethod);
    x.close();
    x.close();
    for (const line of lines) {
      x.open('LineItem');
      x.leaf('LineItemNumber', line.lineNumber);
      x.leaf('ChargeCode', line.chargeCode);
      x.leaf('Description', line.description);
      x.leaf('StartDate', line.startDate);
      x.leaf('EndDate', line.endDate);
      x.leaf('Quantity', line.quantity, [['UOMCode', 'EA']]);
      x.leaf('UnitPrice', line.unitPrice, [['SF', line.scalingFactor]]);
      x.leaf('ChargeAmount', money(line.chargeMinor));
      x.leaf('TotalNetAmount', money(line.chargeMinor));
      x.leaf('DetailCount', line.detailCount);
      x.close();
    }
    x.open('InvoiceSummary');
    x.leaf('LineItemCount', totals.lineItemCount);
    x.leaf('TotalLineItemAmount', money(totals.lineItemMinor));
    x.leaf('TotalTaxAmount', money(totals.taxMinor));
    x.leaf('TotalVATAmount', money(totals.vatMinor));
    x.leaf('TotalAmount', money(totals.totalMinor));
    x.leaf('TotalAmountInClearanceCurrency', money(totals.totalMinor));
    x.close();
    x.close();
  }
  x.open('TransmissionSummary');
  x.leaf('InvoiceCount', t.invoices.length);
  const totals = transmissionTotals(t.invoices);
  for (const c of totals)
    x.leaf('TotalAmount', formatMinor(c.totalMinor, c.currency), [['CurrencyCode', c.currency]]);
  for (const c of totals)
    x.leaf('TotalTaxAmount', formatMinor(c.taxMinor, c.currency), [['CurrencyCode', c.currency]]);
  for (const c of totals)
    x.leaf('TotalVATAmount', formatMinor(c.vatMinor, c.currency), [['CurrencyCode', c.currency]]);
  x.close();
  x.close();
  return x.toString();
}

/**
 * The invoice as a CSV statement for a partner without SIS access, figure for figure:
 *
 * ```
 * H,<invoice_number>,<invoice_date>,<seller_id>,<buyer_id>,<buyer_name>,<period_start>,<period_end>,<currency>,<charge_category>,<invoice_type>
 * L,<line_number>,<charge_code>,<activity_type>,<contract>,<description>,<points>,<price_per_point>,<amount>,<detail_count>
 * T,<line_count>,<sum of points>,<total line amount>,<tax>,<vat>,<total amount>
 * ```
 *
 * `invoice_type` is the IS-XML `InvoiceType`, last so that a reader of the fields before it is unaffected:
 * an accounts-payable clerk books a `CreditNote` as money owed back, not as a bill. Points here are the
 * net points credited (negative on a line of net reversals, whose description says so) at the contract's
 * price, so `points × price_per_point = amount` holds with the ledger's signs.
 */
export function buildInvoiceStatement(invoice: InvoiceInput, period: { start: string; end: string }): string {
  const lines = priceLines(invoice);
  const totals = invoiceTotals(lines);
  const money = (minor: number) => formatMinor(minor, invoice.currency);
  let out = csvRecord([
    'H',
    csvText(invoice.invoiceNumber),
    invoice.invoiceDate,
    csvText(invoice.seller.id),
    csvText(invoice.buyer.id),
    csvText(invoice.buyer.name),
    period.start,
    period.end,
    invoice.currency,
    csvText(invoice.chargeCategory),
    invoiceTypeOf(totals),
  ]);
  for (const l of lines) {
    out += csvRecord([
      'L',
      l.lineNumber,
      csvText(l.chargeCode),
      csvText(l.activityType),
      csvText(l.contractId),
      csvText(l.description),
      l.points,
      new Decimal(l.pricePerPoint).toFixed(),
      money(l.chargeMinor),
      l.detailCount,
    ]);
  }
  const points = lines.reduce((s, l) => s + l.points, 0);
  out += csvRecord([
    'T',
    totals.lineItemCount,
    points,
    money(totals.lineItemMinor),
    money(totals.taxMinor),
    money(totals.vatMinor),
    money(totals.totalMinor),
  ]);
  return out;
}

/**
 * The `<Invoice>` element of invoice `invoiceNumber` as the transmission `xml` (one `buildInvoiceTransmission`
 * wrote) carries it, byte for byte; undefined when the transmission does not carry it.
 */
export function invoiceElement(xml: string, invoiceNumber: string): string | undefined {
  const lines = xml.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '  <Invoice>') continue;
    const end = lines.indexOf('  </Invoice>', i);
    if (end < 0) return undefined;
    if (lines[i + 2] === `      <InvoiceNumber>${escapeXmlText(invoiceNumber)}</InvoiceNumber>`)
      return lines.slice(i, end + 1).join('\n');
    i = end;
  }
  return undefined;
}

/** `invoice`'s `<Invoice>` element as `buildInvoiceTransmission` writes it into any transmission. */
function writtenElement(invoice: InvoiceInput): string {
  // Unchecked: an element compared with what a delivered file carries is written as it was then, limits or not.
  const xml = writeTransmission({
    transmissionId: '-',
    transmissionDateTime: '-',
    issuingOrganizationId: '-',
    invoices: [invoice],
  });
  return invoiceElement(xml, invoice.invoiceNumber)!;
}

/** Whether `invoice` is, figure for figure and byte for byte, the one the transmission `xml` carries. */
export function carriesInvoice(xml: string, invoice: InvoiceInput): boolean {
  const element = invoiceElement(xml, invoice.invoiceNumber);
  return element !== undefined && element === writtenElement(invoice);
}

const LINE_DESCRIPTION = /^(.+) points (credited|reversed), (.+?)(, adjusts invoice \d+)?$/;

/**
 * The lines of `document` (its header as it is now, its number) read back from the transmission `xml` that
 * carried it, when they can be read back exactly: the activity type and contract from the description,
 * the points from `Quantity` and the sign of `UnitPrice`, the price per point from `UnitPrice` and `SF`;
 * and the document with those lines written again is its `<Invoice>` element byte for byte (any other
 * header, format or figure, and nothing is read back). Undefined otherwise.
 */
export function readBackLines(
  xml: string,
  document: Omit<InvoiceInput, 'lines'>,
): InvoiceLineInput[] | undefined {
  const element = invoiceElement(xml, document.invoiceNumber);
  if (element === undefined) return undefined;
  const parsed = parseXmlText(element);
  if (!parsed.ok) return undefined;
  const lines: InvoiceLineInput[] = [];
  for (const item of childrenOf(parsed.doc.root, '', 'LineItem')) {
    const text = (name: string) => childOf(item, '', name)?.text;
    const description = text('Description');
    const quantity = text('Quantity');
    const unit = childOf(item, '', 'UnitPrice');
    const sf = unit?.attrs.get('SF');
    const detailCount = text('DetailCount');
    const chargeCode = text('ChargeCode');
    const startDate = text('StartDate');
    const endDate = text('EndDate');
    const named = description === undefined ? null : LINE_DESCRIPTION.exec(description);
    if (
      !named ||
      !quantity ||
      !/^\d+$/.test(quantity) ||
      !unit ||
      !sf ||
      !/^\d+$/.test(sf) ||
      detailCount === undefined ||
      !/^\d+$/.test(detailCount) ||
      chargeCode === undefined ||
      startDate === undefined ||
      endDate === undefined
    )
      return undefined;
    const price = tryParseAmount(unit.text.replace(/^-/, ''));
    if (price === undefined) return undefined;
    const sign = named[2] === 'reversed' ? -1 : 1;
    lines.push({
      chargeCode,
      description: description!,
      startDate,
      endDate,
      points: sign * Number(quantity),
      pricePerPoint: price.div(sf).toFixed(),
      detailCount: Number(detailCount),
      activityType: named[1]!,
      contractId: named[3]!,
    });
  }
  if (lines.length === 0) return undefined;
  return writtenElement({ ...document, lines }) === element ? lines : undefined;
}
