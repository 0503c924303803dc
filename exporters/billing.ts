/**
 * What each partner is billed for a month, from the ledger: the points credited on its behalf are
 * −(the entries on its account `PARTNER:<code>` with a business date in the month), reversals included
 * (a reversal posted in the month reduces the month's bill, whenever the credit was: one of a credit dated
 * in an earlier month at what that month billed, on a line of its own). Each entry is
 * attributed to an activity type and the contract (or partner-airline chart) that priced it: the
 * posting's rule version, or its original's for a reversal, and the activity whose award posting it is (or reverses).
 *
 * `partnerCredits` is the query; `billingMonth` turns its rows and the configuration into invoices (pure);
 * `invoiceNumbers` gives each invoiced partner its number for the month, kept from the first export on;
 * `invoiceDocuments` says what each numbered document of the month carries: a delivered one what it was
 * delivered with (its kept lines), and the difference the month has come to since, in an adjustment.
 */
import type { Knex } from 'knex';
import type { LoadedConfig } from '../config/load.js';
import type { PartnerConfig } from '../config/schema.js';
import { addDays, addMonths, endOfMonth, startOfMonth, type IsoDate } from '../lib/dates.js';
import { Decimal } from '../lib/money.js';
import { ExportError } from './errors.js';
import {
  carriesInvoice,
  lineChargeMinor,
  readBackLines,
  type InvoiceInput,
  type InvoiceLineInput,
  type Organization,
} from './isxml.js';
import { insertedId } from '../db/rows.js';

/** An invoice before its number: `invoiceNumbers` gives it one. */
export type UnnumberedInvoice = Omit<InvoiceInput, 'invoiceNumber'>;

type Q = Knex | Knex.Transaction;

export interface PartnerCreditRow {
  partnerCode: string;
  /** The activity's type (STAY, RENTAL, …), else its kind (HOTEL, PARTNER_FLIGHT), else the posting kind. */
  activityType: string;
  ruleVersion: string | null;
  /**
   * For reversals of credits dated before the month: the month of those credits (YYYY-MM), whose bill
   * says what they were billed at. Null for the month's own credits and the reversals of them.
   */
  creditMonth: string | null;
  /** Points credited on the partner's behalf, net. */
  points: number;
  postings: number;
  /**
   * With a `creditMonth`: the points of that month's credits of this type and rule version that reversals
   * dated in the months between it and this one took back already (net, negative as `points`), so that
   * this month takes back what they left, not what they took.
   */
  reversedBetween: number;
}

/**
 * The activity type an entry of posting `p` is billed under (`act`: the activity whose award posting `p`
 * is or reverses, joined by `activities.posting_id`): `PartnerCreditRow.activityType`.
 */
export const CREDIT_ACTIVITY_TYPE_SQL = 'COALESCE(act.activity_type, act.type, p.kind)';

/**
 * The partner entries dated `from` to `to`, by partner, activity type, rule version and (for reversals
 * of credits dated before `from`) the date of the credit reversed; with `credited`, only reversals of
 * credits dated in it.
 */
async function creditEntries(
  q: Q,
  from: IsoDate,
  to: IsoDate,
  credited?: { from: IsoDate; to: IsoDate },
): Promise<Array<Omit<PartnerCreditRow, 'reversedBetween'>>> {
  const result = (await q.raw(
    `SELECT ac.code AS account,
            ${CREDIT_ACTIVITY_TYPE_SQL} AS activity_type,
            COALESCE(o.rule_version, p.rule_version, act.rule_version) AS rule_version,
            CASE WHEN o.business_date < ? THEN o.business_date END AS credited_on,
            SUM(e.amount) AS amount,
            COUNT(*) AS postings
       FROM entries e
       JOIN accounts ac ON ac.id = e.account_id
       JOIN postings p ON p.id = e.posting_id
       LEFT JOIN postings o ON o.id = p.reversal_of
       LEFT JOIN activities act ON act.posting_id = COALESCE(p.reversal_of, p.id)
      WHERE ac.kind = 'PARTNER' AND e.business_date >= ? AND e.business_date <= ?
        ${credited ? 'AND o.business_date >= ? AND o.business_date <= ?' : ''}
      GROUP BY 1, 2, 3, 4`,
    [from, from, to, ...(credited ? [credited.from, credited.to] : [])],
  )) as { rows?: Array<Record<string, unknown>> } | Array<Record<string, unknown>>;
  const rows = Array.isArray(result) ? result : (result.rows ?? []);
  // By the credit's month, not its date: a month's bill is what prices the credits reversed.
  const byMonth = new Map<string, Omit<PartnerCreditRow, 'reversedBetween'>>();
  for (const r of rows) {
    const row = {
      partnerCode: String(r.account).slice('PARTNER:'.length),
      activityType: String(r.activity_type),
      ruleVersion: (r.rule_version as string | null) ?? null,
      creditMonth:
        r.credited_on === null || r.credited_on === undefined ? null : String(r.credited_on).slice(0, 7),
      points: -Number(r.amount),
      postings: Number(r.postings),
    };
    const key = creditKey(row);
    const same = byMonth.get(key);
    if (same) {
      same.points += row.points;
      same.postings += row.postings;
    } else byMonth.set(key, row);
  }
  return [...byMonth.values()];
}

function creditKey(
  r: Pick<PartnerCreditRow, 'partnerCode' | 'activityType' | 'ruleVersion' | 'creditMonth'>,
) {
  return [r.partnerCode, r.activityType, r.ruleVersion ?? '', r.creditMonth ?? ''].join('\u0000');
}

/**
 * An invoice line's identity: its activity type, contract and credit month (NUL sorts below any type).
 * Each line is rounded on its own (`lineChargeMinor`), so the monthly report's Partners sheet rounds by it.
 */
export function lineKey(
  activityType: string,
  contractId: string,
  creditMonth: string | null | undefined,
): string {
  return `${activityType}\u0000${contractId}\u0000${creditMonth ?? ''}`;
}

export async function partnerCredits(q: Q, from: IsoDate, to: IsoDate): Promise<PartnerCreditRow[]> {
  const rows = (await creditEntries(q, from, to)).map((r) => ({ ...r, reversedBetween: 0 }));
  const byKey = new Map(rows.map((r) => [creditKey(r), r]));
  const months = [...new Set(rows.map((r) => r.creditMonth).filter((m) => m !== null))];
  for (const month of months) {
    const after = addMonths(`${month}-01`, 1);
    if (after >= from) continue;
    const between = await creditEntries(q, after, addDays(from, -1), {
      from: `${month}-01`,
      to: endOfMonth(`${month}-01`),
    });
    for (const r of between) {
      const row = byKey.get(creditKey(r));
      if (row) row.reversedBetween += r.points;
    }
  }
  return rows.sort(
    (a, b) =>
      cmp(a.partnerCode, b.partnerCode) ||
      cmp(a.activityType, b.activityType) ||
      cmp(a.ruleVersion ?? '', b.ruleVersion ?? '') ||
      cmp(a.creditMonth ?? '', b.creditMonth ?? ''),
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface BillingMonth {
  month: string;
  start: IsoDate;
  end: IsoDate;
  invoices: UnnumberedInvoice[];
  /** Partners with credited points but no billing identity in the configuration: not invoiced. */
  unbilled: Array<{ partnerCode: string; points: number }>;
  /**
   * Each partner with a billing identity and entries in the month: its lines, those netting to nothing
   * included. What an adjustment compares with what was delivered: a line taken back whole is no line of
   * an invoice, but its postings are behind the adjustment that credits it back.
   */
  partnerLines: ReadonlyMap<string, readonly InvoiceLineInput[]>;
}

interface Pricing {
  contractId: string;
  pricePerPoint: string;
  chargeCode: string;
}

function pricingOf(partner: PartnerConfig, row: PartnerCreditRow): Pricing | undefined {
  const billing = partner.billing!;
  const contract = partner.contracts.find((c) => c.id === row.ruleVersion);
  if (contract) {
    return {
      contractId: contract.id,
      pricePerPoint: contract.pricePerPoint,
      chargeCode: contract.activities[row.activityType]?.chargeCode ?? billing.chargeCode,
    };
  }
  const chart = partner.charts.find((c) => c.id === row.ruleVersion);
  if (chart)
    return { contractId: chart.id, pricePerPoint: chart.pricePerPoint, chargeCode: billing.chargeCode };
  return undefined;
}

function pricing(partner: PartnerConfig, row: PartnerCreditRow, month: string): Pricing {
  const found = pricingOf(partner, row);
  if (found) return found;
  throw new ExportError(
    'NO_PRICE',
    `partner ${partner.code}, ${month}: ${row.points} points of ${row.activityType} under rule version ${JSON.stringify(row.ruleVersion)} match no contract or chart of the partner, so they have no price`,
    { partner: partner.code, field: 'rule_version', ruleVersion: row.ruleVersion },
  );
}

/**
 * What each partner's earlier months billed, by partner and month (YYYY-MM): the lines of the month's
 * delivered documents in the order they were delivered, those taking back still earlier months' credits
 * left out. A month with nothing delivered, or delivered in another currency than the partner's billing
 * now, is absent.
 */
export type EarlierBills = ReadonlyMap<string, ReadonlyMap<string, readonly InvoiceLineInput[]>>;

/**
 * Invoices for the month of `monthEnd`: one per partner with credited points, in partner-code order, one
 * line per (activity type, contract or chart) with points ≠ 0, and apart from it the reversals of each
 * earlier month's credits, at what that month's delivered documents billed them at (`earlier`; see
 * `takenBack`). Their numbers are not a matter of their place in this list (a late partner would move
 * the others): `invoiceNumbers` gives them.
 */
export function billingMonth(
  config: LoadedConfig,
  monthEnd: IsoDate,
  rows: readonly PartnerCreditRow[],
  earlier: EarlierBills = new Map(),
): BillingMonth {
  const period = periodOf(monthEnd);
  const { month, start, end } = period;
  const partners = new Map(config.partners.map((p) => [p.code, p]));
  const byPartner = new Map<string, PartnerCreditRow[]>();
  for (const row of rows) byPartner.set(row.partnerCode, [...(byPartner.get(row.partnerCode) ?? []), row]);
  const invoices: UnnumberedInvoice[] = [];
  const unbilled: BillingMonth['unbilled'] = [];
  const partnerLines = new Map<string, InvoiceLineInput[]>();
  for (const code of [...byPartner.keys()].sort()) {
    const partnerRows = byPartner.get(code)!;
    const partner = partners.get(code);
    if (!partner?.billing) {
      const points = partnerRows.filter((r) => r.points !== 0);
      if (points.length > 0)
        unbilled.push({ partnerCode: code, points: points.reduce((s, r) => s + r.points, 0) });
      continue;
    }
    const merged = new Map<string, { line: Omit<InvoiceLineInput, 'description'>; between: number }>();
    for (const row of partnerRows) {
      // Rows netting to nothing bill nothing: one without a price is no failure, only left out.
      const price = row.points === 0 ? pricingOf(partner, row) : pricing(partner, row, month);
      if (price === undefined) continue;
      const id = lineKey(row.activityType, price.contractId, row.creditMonth);
      const same = merged.get(id);
      if (same) {
        same.line.points += row.points;
        same.line.detailCount += row.postings;
        same.between += row.reversedBetween;
        continue;
      }
      merged.set(id, {
        line: {
          chargeCode: price.chargeCode,
          startDate: start,
          endDate: end,
          points: row.points,
          pricePerPoint: price.pricePerPoint,
          detailCount: row.postings,
          activityType: row.activityType,
          contractId: price.contractId,
          ...(row.creditMonth === null ? {} : { creditMonth: row.creditMonth }),
        },
        between: row.reversedBetween,
      });
    }
    // Described once its rows are merged: whether a line's points were credited or reversed is their net.
    const all = [...merged.values()].flatMap(({ line, between }) =>
      line.creditMonth === undefined
        ? [{ ...line, description: lineDescription(line) }]
        : takenBack(line, earlier.get(code)?.get(line.creditMonth) ?? [], between, partner.billing!.currency),
    );
    partnerLines.set(code, all);
    const lines = all.filter((l) => l.points !== 0);
    if (lines.length === 0) continue;
    invoices.push(invoiceTo(config, partner, period, lines));
  }
  return { month, start, end, invoices, unbilled, partnerLines };
}

/**
 * The lines taking back `line`'s points of its credit month, priced as the lots that month's delivered
 * lines of its activity type and contract (`billed`) left them, once the reversals of the months between
 * (`between`) have taken back theirs: the points billed last go back first, each at the price it was
 * billed at, whatever the contract's price is now; only points past everything billed for the month (or
 * all of them, where nothing was delivered for it) at the price `line` has now. One line per price, as
 * an adjustment writes them, the postings counted on the first.
 */
function takenBack(
  line: Omit<InvoiceLineInput, 'description'>,
  billed: readonly InvoiceLineInput[],
  between: number,
  currency: string,
): InvoiceLineInput[] {
  const beyond = { ...line, description: lineDescription(line) };
  const amount = amountIn(currency);
  const lots = lotsOf(
    billed.filter((l) => l.activityType === line.activityType && l.contractId === line.contractId),
    amount,
  );
  moveLots(lots, lots.level + between, beyond, amount);
  const parts = billedLines(lots, lots.level + line.points, beyond, amount);
  if (parts.length === 0) return [beyond];
  return parts.map(({ base, points }, i) => {
    const part = {
      ...line,
      chargeCode: base.chargeCode,
      pricePerPoint: base.pricePerPoint,
      points,
      detailCount: i === 0 ? line.detailCount : 0,
    };
    return { ...part, description: lineDescription(part) };
  });
}

type Period = Pick<BillingMonth, 'month' | 'start' | 'end'>;

function periodOf(monthEnd: IsoDate): Period {
  const end = endOfMonth(monthEnd);
  return { month: end.slice(0, 7), start: startOfMonth(monthEnd), end };
}

function lineDescription(
  line: Pick<InvoiceLineInput, 'activityType' | 'points' | 'contractId' | 'creditMonth'>,
): string {
  // A line taking back an earlier month's credits names that month, whose bill its price is read from.
  const from = line.creditMonth === undefined ? '' : `, from ${line.creditMonth}`;
  return `${line.activityType} points ${line.points < 0 ? 'reversed' : 'credited'}, ${line.contractId}${from}`;
}

/** `lines` as the partner's document of the month: its header is the partner's billing identity. */
function invoiceTo(
  config: LoadedConfig,
  partner: PartnerConfig,
  period: Period,
  lines: readonly InvoiceLineInput[],
): UnnumberedInvoice {
  const b = partner.billing!;
  const seller: Organization = {
    id: config.exports.invoices.issuingOrganizationId,
    designator: config.exports.invoices.organizationDesignator,
    name: config.exports.invoices.organizationName,
  };
  return {
    partnerCode: partner.code,
    invoiceDate: period.end,
    chargeCategory: b.chargeCategory,
    seller,
    buyer: { id: b.organizationId, designator: b.designator, name: b.organizationName },
    currency: b.currency,
    settlementMonthPeriod: `${period.month.slice(2, 4)}${period.month.slice(5, 7)}04`,
    settlementMethod: b.settlementMethod,
    lines,
  };
}

/**
 * What a partner's points of one activity type and contract were billed at, as a level over lots: each
 * lot is points first billed at one price (by the line that billed them), above zero the credits in the
 * order they were billed, below it the reversals billed past everything credited. The month's figure is
 * the level, and what the partner has paid is, lot by lot, the points of the lot below the level billed
 * at its price, each lot's amount rounded once: a lot taken back lowers the level through it (the last
 * billed first), points credited again raise it through the lots taken back before (at their prices), and
 * only past the last lot do points make a lot of their own, at the price of the line that takes them.
 */
interface Lots {
  level: number;
  up: Array<{ points: number; base: InvoiceLineInput }>;
  down: Array<{ points: number; base: InvoiceLineInput }>;
}

/**
 * Moves `lots` to the level `to`, and returns the parts that bill the move: per lot passed, its points at
 * its price, and past the last lot a new one of `beyond`'s price. A lot's amount billed is always its
 * points below the level × its price rounded once: a part whose own rounding would differ from the change
 * in that amount is written as the lot credited back whole and billed again (two parts, each reading as
 * Quantity × UnitPrice), so that a lot taken back whole credits exactly what it was billed.
 */
function moveLots(
  lots: Lots,
  to: number,
  beyond: InvoiceLineInput,
  amount: (points: number, base: InvoiceLineInput) => number,
): Array<{ base: InvoiceLineInput; points: number }> {
  const from = lots.level;
  const parts: Array<{ base: InvoiceLineInput; points: number }> = [];
  const passed: Array<{ points: number; base: InvoiceLineInput; start: number }> = [];
  let top = 0;
  for (const lot of lots.up) {
    passed.push({ ...lot, start: top });
    top += lot.points;
  }
  let bottom = 0;
  for (const lot of lots.down) {
    passed.push({ ...lot, start: bottom });
    bottom += lot.points;
  }
  // In the order the level passes them: going down, the credits from the last billed, then the reversals
  // from the first; going up, the other way round.
  const order = [...passed.slice(0, lots.up.length).reverse(), ...passed.slice(lots.up.length)];
  if (to > from) order.reverse();
  const below = (level: number, lot: { points: number; start: number }) =>
    lot.points > 0
      ? Math.min(Math.max(level - lot.start, 0), lot.points)
      : Math.max(Math.min(level - lot.start, 0), lot.points);
  for (const lot of order) {
    const was = below(from, lot);
    const is = below(to, lot);
    if (was === is) continue;
    if (was === 0 || is === 0 || amount(is - was, lot.base) === amount(is, lot.base) - amount(was, lot.base))
      parts.push({ base: lot.base, points: is - was });
    else parts.push({ base: lot.base, points: -was }, { base: lot.base, points: is });
  }
  if (to > top) {
    lots.up.push({ points: to - top, base: beyond });
    parts.push({ base: beyond, points: to - top });
  } else if (to < bottom) {
    lots.down.push({ points: to - bottom, base: beyond });
    parts.push({ base: beyond, points: to - bottom });
  }
  lots.level = to;
  return parts;
}

/**
 * The lines of the adjustment that bills the difference between what a partner's month comes to now
 * (`current`, the lines `billingMonth` gives it) and what its delivered documents carried (`delivered`,
 * their lines in the order they were delivered), in `currency`: per activity type and contract, the points
 * now minus the points delivered, and the postings since; none where they are equal. Points are priced by
 * the lots the delivered lines billed (`Lots`): taken back, at the price they were billed at, never at a
 * price the contract has come to since (the partner is credited what it paid), the points billed last
 * first; credited again after being taken back, at that same price; only points past every lot at the
 * price the line has now. A lot taken back whole is credited exactly its billed amount, so a month come
 * back to what it was nets its documents to what was billed for it then (to 0.00 for no points). Parts at
 * one price are one line only where writing them so cannot round differently. Each line is described as a
 * credit or a reversal by its sign, naming the invoice it adjusts (`adjusted`), so that a partner reading
 * the line knows it corrects that invoice.
 */
export function adjustmentLines(
  current: readonly InvoiceLineInput[],
  delivered: readonly InvoiceLineInput[],
  adjusted: string,
  currency: string,
): InvoiceLineInput[] {
  // A line taking back an earlier month's credits is priced by that month's bill: never netted with the
  // month's own line of its activity type and contract.
  const keyOf = (l: InvoiceLineInput) => lineKey(l.activityType, l.contractId, l.creditMonth);
  const by = new Map<string, { now: InvoiceLineInput[]; sent: InvoiceLineInput[] }>();
  const entry = (l: InvoiceLineInput) => {
    const e = by.get(keyOf(l)) ?? { now: [], sent: [] };
    by.set(keyOf(l), e);
    return e;
  };
  for (const line of current) entry(line).now.push(line);
  for (const line of delivered) entry(line).sent.push(line);
  const sum = (ls: readonly InvoiceLineInput[], f: (l: InvoiceLineInput) => number) =>
    ls.reduce((s, l) => s + f(l), 0);
  const amount = amountIn(currency);
  const out: InvoiceLineInput[] = [];
  // By activity type, then contract: the key's NUL sorts below every character of a type.
  for (const [, { now, sent }] of [...by.entries()].sort(([a], [b]) => cmp(a, b))) {
    const lots = lotsOf(sent, amount);
    const target = sum(now, (l) => l.points);
    if (target === lots.level) continue;
    // Beyond what was delivered the month can only have gone with a line it has now: of a month's own
    // activity there is one; of an earlier month's credits taken back, the last is the furthest from it.
    const lines = billedLines(lots, target, now[now.length - 1] ?? sent[sent.length - 1]!, amount);
    // The ledger only grows, so postings are never fewer than when delivered; never below zero regardless.
    // Which of them took back and which went beyond is not known: they are counted on the first line.
    const postings = Math.max(0, sum(now, (l) => l.detailCount) - sum(sent, (l) => l.detailCount));
    lines.forEach(({ base, points }, i) =>
      out.push({
        ...base,
        points,
        detailCount: i === 0 ? postings : 0,
        description: `${lineDescription({ ...base, points })}, adjusts invoice ${adjusted}`,
      }),
    );
  }
  return out;
}

function amountIn(currency: string): (points: number, base: InvoiceLineInput) => number {
  return (points, base) => lineChargeMinor(points, base.pricePerPoint, currency);
}

/** The lots as delivered lines of one activity type and contract left them: each moved the level as it moves now. */
function lotsOf(
  sent: readonly InvoiceLineInput[],
  amount: (points: number, base: InvoiceLineInput) => number,
): Lots {
  const lots: Lots = { level: 0, up: [], down: [] };
  for (const line of sent) moveLots(lots, lots.level + line.points, line, amount);
  return lots;
}

/**
 * Moves `lots` to `to` (`moveLots`) and returns the lines billing the move: parts one after the other at
 * one price and charge code, of one sign, are one line where its amount is theirs; else a lot taken back
 * with another would be credited a minor unit more or less than billed.
 */
function billedLines(
  lots: Lots,
  to: number,
  beyond: InvoiceLineInput,
  amount: (points: number, base: InvoiceLineInput) => number,
): Array<{ base: InvoiceLineInput; points: number }> {
  const lines: Array<{ base: InvoiceLineInput; points: number; minor: number }> = [];
  for (const part of moveLots(lots, to, beyond, amount)) {
    const last = lines[lines.length - 1];
    const minor = amount(part.points, part.base);
    if (
      last &&
      last.base.chargeCode === part.base.chargeCode &&
      new Decimal(last.base.pricePerPoint).eq(part.base.pricePerPoint) &&
      Math.sign(last.points) === Math.sign(part.points) &&
      amount(last.points + part.points, last.base) === last.minor + minor
    ) {
      last.points += part.points;
      last.minor += minor;
    } else lines.push({ ...part, minor });
  }
  return lines.map(({ base, points }) => ({ base, points }));
}

/** `<YYYYMM><NNNN>`: the month, then the number's place among those given that month. */
function invoiceNumberOf(month: string, number: number): string {
  return `${month.replace('-', '')}${String(number).padStart(4, '0')}`;
}

/**
 * Which of a partner's documents of a month a statement is of: the partner's invoice (`adjusts` null) or an
 * adjustment of it.
 */
export type StatementOf = Pick<NumberRow, 'partnerCode' | 'invoiceNumber' | 'adjusts'>;

/** A numbered document of a month, as `invoice_numbers` keeps it. */
interface NumberRow {
  id: number;
  partnerCode: string;
  number: number;
  invoiceNumber: string;
  /** The invoice an adjustment adjusts; null for the partner's invoice of the month. */
  adjusts: string | null;
  transmission: number | null;
}

async function numbersGiven(q: Q, issuer: string, month: string): Promise<NumberRow[]> {
  const rows = (await q('invoice_numbers')
    .where({ issuer, billing_month: month })
    .orderBy('number')
    .select('id', 'partner_code', 'number', 'invoice_number', 'adjusts', 'transmission')) as Array<{
    id: number | string;
    partner_code: string;
    number: number | string;
    invoice_number: string;
    adjusts: string | null;
    transmission: number | string | null;
  }>;
  return rows.map((r) => ({
    id: Number(r.id),
    partnerCode: r.partner_code,
    number: Number(r.number),
    invoiceNumber: r.invoice_number,
    adjusts: r.adjusts,
    transmission: r.transmission === null ? null : Number(r.transmission),
  }));
}

/**
 * Gives the next numbers not given in `month`, one to each of `wanted` in its order, and records them.
 * Unique per issuer and month (the table's unique indexes hold it against a concurrent writer, which then
 * fails and its rerun reads the numbers given).
 */
async function giveNumbers(
  trx: Knex.Transaction,
  issuer: string,
  month: string,
  given: readonly NumberRow[],
  wanted: ReadonlyArray<{ partnerCode: string; adjusts: string | null }>,
  businessDate: IsoDate,
): Promise<NumberRow[]> {
  let last = given.reduce((max, r) => Math.max(max, r.number), 0);
  const rows: NumberRow[] = [];
  for (const w of wanted) {
    last += 1;
    const invoiceNumber = invoiceNumberOf(month, last);
    const [inserted] = await trx('invoice_numbers')
      .insert({
        issuer,
        billing_month: month,
        partner_code: w.partnerCode,
        number: last,
        invoice_number: invoiceNumber,
        assigned_on: businessDate,
        adjusts: w.adjusts,
      })
      .returning('id');
    rows.push({
      id: insertedId(inserted),
      partnerCode: w.partnerCode,
      number: last,
      invoiceNumber,
      adjusts: w.adjusts,
      transmission: null,
    });
  }
  return rows;
}

/**
 * Each partner's invoice number for `month` under `issuer`: the one given to it by an earlier export of
 * the month, else the next not given yet (in partner-code order among those new tonight). A number once
 * given stays the partner's, on every re-export, before delivery and after, also when a later export
 * finds nothing to invoice it: a clearing house takes InvoiceNumber as the invoice's identity, and the
 * partner may have seen the number in a draft, so it is never given to another partner. Adjustments take
 * numbers of their own from the same series (`invoiceDocuments`). Call inside the transaction that
 * records them. Returns every number of the month, those given before and those given now, in number
 * order.
 */
async function invoiceNumbers(
  trx: Knex.Transaction,
  issuer: string,
  month: string,
  partnerCodes: readonly string[],
  businessDate: IsoDate,
): Promise<NumberRow[]> {
  const given = await numbersGiven(trx, issuer, month);
  const invoiced = new Set(given.filter((r) => r.adjusts === null).map((r) => r.partnerCode));
  const fresh = [...new Set(partnerCodes)].filter((code) => !invoiced.has(code)).sort();
  const rows = await giveNumbers(
    trx,
    issuer,
    month,
    given,
    fresh.map((partnerCode) => ({ partnerCode, adjusts: null })),
    businessDate,
  );
  // giveNumbers numbers after the highest given, so appending keeps number order.
  return [...given, ...rows];
}

/**
 * The transmission of `month` that carries each numbered document (by invoice number): 1 the month's
 * first, 2… the supplementary ones. A number not in a transmission goes into the month's latest one while
 * that is not delivered (`delivered(k)` is false: it is replaced, as a draft is), else into a new one
 * after it: a delivered transmission stands, and an invoice number a partner reads in its statement must
 * be in exactly one transmission the clearing house received. A number in a delivered transmission stays
 * there. One in a transmission not delivered that is no longer `sending` (its partner not invoiced, an
 * adjustment with no difference left) is taken out of it (its transmission is null again, the lines kept
 * for it dropped), so that when it has something to send again it goes where a number not in a
 * transmission goes: were it kept in a draft that was then delivered without it, the clearing house would
 * never receive that document. A number stays its partner's all the same. Numbers not in a transmission
 * are left out of the map. `given` is every number of the month as `invoice_numbers` holds it now. Call
 * inside the transaction that gives the numbers.
 */
async function invoiceTransmissions(
  trx: Knex.Transaction,
  issuer: string,
  month: string,
  given: readonly NumberRow[],
  sending: ReadonlySet<string>,
  delivered: (transmission: number) => Promise<boolean>,
): Promise<Map<string, number>> {
  const carried = new Map<string, number>();
  const freed: NumberRow[] = [];
  for (const r of given) {
    if (r.transmission === null) continue;
    if (!sending.has(r.invoiceNumber) && !(await delivered(r.transmission))) freed.push(r);
    else carried.set(r.invoiceNumber, r.transmission);
  }
  if (freed.length > 0) {
    await trx('invoice_numbers')
      .whereIn(
        'id',
        freed.map((r) => r.id),
      )
      .update({ transmission: null });
    // Its lines were those of a draft it is no longer in: kept, they would read as a charge transmitted,
    // and be taken for what was delivered should that old draft reach the clearing house after all.
    await trx('invoice_lines')
      .whereIn(
        'invoice_number_id',
        freed.map((r) => r.id),
      )
      .delete();
  }
  const loose = given
    .filter((r) => r.transmission === null && sending.has(r.invoiceNumber))
    .map((r) => r.invoiceNumber);
  if (loose.length === 0) return carried;
  const latest = Math.max(0, ...carried.values());
  const into = latest === 0 ? 1 : (await delivered(latest)) ? latest + 1 : latest;
  await trx('invoice_numbers')
    .where({ issuer, billing_month: month })
    .whereIn('invoice_number', loose)
    .update({ transmission: into });
  for (const n of loose) carried.set(n, into);
  return carried;
}

/** What a document carried when its transmission was last written: its lines, its currency and buyer. */
interface Kept {
  lines: readonly InvoiceLineInput[];
  currency: string;
  buyerId: string;
}

/** What each document (by `invoice_numbers.id`) carried when its transmission was last written. */
async function keptLines(q: Q, ids: readonly number[], period: Period): Promise<Map<number, Kept>> {
  const kept = new Map<number, Kept>();
  if (ids.length === 0) return kept;
  const rows = (await q('invoice_lines')
    .whereIn('invoice_number_id', ids)
    .orderBy(['invoice_number_id', 'line'])
    .select(
      'invoice_number_id',
      'activity_type',
      'contract_id',
      'charge_code',
      'description',
      'points',
      'price_per_point',
      'detail_count',
      'currency',
      'buyer_id',
      'credit_month',
    )) as Array<Record<string, unknown>>;
  for (const r of rows) {
    const id = Number(r.invoice_number_id);
    // Every line of a document is kept with its currency and buyer: the first row gives them.
    let lines = kept.get(id)?.lines as InvoiceLineInput[] | undefined;
    if (!lines)
      kept.set(id, { lines: (lines = []), currency: String(r.currency), buyerId: String(r.buyer_id) });
    lines.push({
      chargeCode: String(r.charge_code),
      description: String(r.description),
      startDate: period.start,
      endDate: period.end,
      points: Number(r.points),
      pricePerPoint: String(r.price_per_point),
      detailCount: Number(r.detail_count),
      activityType: String(r.activity_type),
      contractId: String(r.contract_id),
      ...(r.credit_month === null ? {} : { creditMonth: String(r.credit_month) }),
    });
  }
  return kept;
}

/**
 * What each partner's earlier months billed (`EarlierBills`), for the months whose credits `rows` take
 * back: per partner and month, its delivered documents (in a delivered transmission, `delivered(month, k)`,
 * or with a delivered statement, `statementDelivered(month, document)`: `invoiceDocuments` fixes both), in the
 * order they were numbered (a partner's invoice before its adjustments, as they were delivered). A month
 * one of whose delivered documents has no kept lines (delivered before migration 025 and not read back
 * since) is left out whole: replaying only some of its documents would price the reversals by lots it
 * never had.
 */
export async function earlierBills(
  q: Q,
  config: LoadedConfig,
  rows: readonly PartnerCreditRow[],
  delivered: (month: string, transmission: number) => Promise<boolean>,
  statementDelivered: (month: string, document: StatementOf) => Promise<boolean>,
): Promise<EarlierBills> {
  const issuer = config.exports.invoices.issuingOrganizationId;
  const partners = new Map(config.partners.map((p) => [p.code, p]));
  const out = new Map<string, Map<string, readonly InvoiceLineInput[]>>();
  const wanted = new Map<string, Set<string>>();
  for (const r of rows)
    if (r.creditMonth !== null && partners.get(r.partnerCode)?.billing)
      wanted.set(r.creditMonth, (wanted.get(r.creditMonth) ?? new Set()).add(r.partnerCode));
  for (const [month, codes] of wanted) {
    const sent: NumberRow[] = [];
    // A transmission carries many partners' documents: whether it was delivered is asked once.
    const deliveredAsked = new Map<number, Promise<boolean>>();
    for (const r of await numbersGiven(q, issuer, month)) {
      if (!codes.has(r.partnerCode) || r.transmission === null) continue;
      if (!deliveredAsked.has(r.transmission))
        deliveredAsked.set(r.transmission, delivered(month, r.transmission));
      if ((await deliveredAsked.get(r.transmission)!) || (await statementDelivered(month, r))) sent.push(r);
    }
    const kept = await keptLines(
      q,
      sent.map((r) => r.id),
      periodOf(`${month}-01`),
    );
    for (const code of codes) {
      const documents = sent.filter((r) => r.partnerCode === code).map((r) => kept.get(r.id));
      const currency = partners.get(code)!.billing!.currency;
      // Prices in another currency than the partner is billed in now are no price of its points now.
      if (documents.length === 0 || documents.some((d) => d === undefined || d.currency !== currency))
        continue;
      const lines = documents.flatMap((d) => d!.lines.filter((l) => l.creditMonth === undefined));
      out.set(code, (out.get(code) ?? new Map()).set(month, lines));
    }
  }
  return out;
}

/**
 * Keeps the lines of `documents` as written into their transmission, each with its document's currency and
 * buyer, in place of those kept before.
 * Call in the transaction that makes that transmission the one registered (outbox `keep`): once it is
 * delivered, these are exactly what the clearing house received.
 */
export async function keepLines(
  trx: Knex.Transaction,
  documents: ReadonlyArray<{ id: number; invoice: InvoiceInput }>,
): Promise<void> {
  if (documents.length === 0) return;
  await trx('invoice_lines')
    .whereIn(
      'invoice_number_id',
      documents.map((d) => d.id),
    )
    .delete();
  await trx('invoice_lines').insert(
    documents.flatMap((d) =>
      d.invoice.lines.map((l, i) => ({
        invoice_number_id: d.id,
        line: i + 1,
        activity_type: l.activityType,
        contract_id: l.contractId,
        charge_code: l.chargeCode,
        description: l.description,
        points: l.points,
        price_per_point: l.pricePerPoint,
        detail_count: l.detailCount,
        currency: d.invoice.currency,
        buyer_id: d.invoice.buyer.id,
        credit_month: l.creditMonth ?? null,
      })),
    ),
  );
}

/** A numbered document of the month and what it carries. */
export interface InvoiceDocument {
  /** `invoice_numbers.id`, for `keepLines`. */
  id: number;
  partnerCode: string;
  invoiceNumber: string;
  /** The partner's invoice an adjustment adjusts; null for that invoice itself. */
  adjusts: string | null;
  /** The transmission carrying it; null when none does. */
  transmission: number | null;
  /** What it carries; null when it has nothing to (its partner not invoiced, no difference left). */
  invoice: InvoiceInput | null;
  /**
   * Delivered without its lines kept (before migration 025): it is rebuilt from the ledger, as it was
   * then, and a change to its partner's month since cannot be told from what was delivered.
   */
  unkept: boolean;
  /**
   * Why the difference its partner's month has come to since delivery is not billed, on the partner's
   * invoice: its delivered documents were written in a currency or to a buyer other than its billing
   * identity now, and an adjustment corrects a document only in that document's currency, to its buyer.
   * Null otherwise.
   */
  unadjusted: string | null;
}

/**
 * Every numbered document of the month and what it carries, numbers and transmissions given (call inside
 * the transaction that records them). A document is delivered once its transmission is
 * (`delivered(k)`) or its statement is (`statementDelivered`): the partner reconciles the clearing house's
 * bill against the figures of its statement, so those figures are fixed from the moment it has them, the
 * transmission not delivered yet then carrying them unchanged and any change since in an adjustment.
 *
 * - a partner's invoice not delivered carries the month as `billing` has it now (the draft is replaced);
 * - a document delivered carries its kept lines, so its transmission and statement rebuild to the bytes
 *   sent: what the clearing house received is never rewritten;
 * - a partner whose invoice is delivered and whose month has changed since is billed the difference
 *   (`adjustmentLines`, against every document of its month delivered) in an adjustment, an `Invoice` or
 *   a `CreditNote` by its sign, under a number of its own from the month's series. One adjustment at a
 *   time is undelivered: it carries the difference as it is now, and it is taken out of its draft if the
 *   difference comes back to nothing (its number stays the partner's, for the next difference); once it
 *   is delivered, a further change makes another for the rest. A partner whose delivered documents were
 *   written in another currency or to another buyer than its billing identity now is not adjusted
 *   (`unadjusted` says why): an adjustment in another currency would credit a figure the partner was
 *   never billed in.
 *
 * A document delivered without its lines kept (delivered before migration 025) has them read back from
 * the delivered transmission (`deliveredFile`, its bytes as registered): either its `<Invoice>` element
 * read back into lines that write it again byte for byte, or the month as it is now when that writes
 * it. They are kept then, in this transaction, whatever becomes of the rest of that transmission: they
 * are what the clearing house received. A partner with a delivered document that cannot be read back
 * (`unkept`: the copy gone, or not as this version writes it) cannot be adjusted: its invoice is rebuilt
 * from the ledger as before, and a change drifts.
 */
export async function invoiceDocuments(
  trx: Knex.Transaction,
  config: LoadedConfig,
  billing: BillingMonth,
  businessDate: IsoDate,
  delivered: (transmission: number) => Promise<boolean>,
  statementDelivered: (document: StatementOf) => Promise<boolean>,
  deliveredFile: (transmission: number) => Promise<string | undefined>,
): Promise<InvoiceDocument[]> {
  const issuer = config.exports.invoices.issuingOrganizationId;
  const { month } = billing;
  const current = new Map(billing.invoices.map((i) => [i.partnerCode, i]));
  const rows = await invoiceNumbers(trx, issuer, month, [...current.keys()], businessDate);
  const known = new Map<number, boolean>();
  const isDelivered = async (k: number) => {
    if (!known.has(k)) known.set(k, await delivered(k));
    return known.get(k)!;
  };
  const sent = async (r: NumberRow) =>
    r.transmission !== null && ((await isDelivered(r.transmission)) || (await statementDelivered(r)));
  const kept = await keptLines(
    trx,
    rows.map((r) => r.id),
    billing,
  );
  const partners = new Map(config.partners.map((p) => [p.code, p]));
  const documentOf = (code: string, lines: readonly InvoiceLineInput[]) => {
    const partner = partners.get(code);
    return partner?.billing ? invoiceTo(config, partner, billing, lines) : null;
  };
  const files = new Map<number, string | undefined>();
  const recovered: Array<{ id: number; invoice: InvoiceInput }> = [];
  const readBack = async (r: NumberRow, now: UnnumberedInvoice | null) => {
    const k = r.transmission!;
    if (!files.has(k)) files.set(k, await deliveredFile(k));
    const xml = files.get(k);
    const header = documentOf(r.partnerCode, []);
    if (xml === undefined || header === null) return undefined;
    const document = { ...header, invoiceNumber: r.invoiceNumber };
    const lines =
      readBackLines(xml, document) ??
      (r.adjusts === null && now && carriesInvoice(xml, { ...now, invoiceNumber: r.invoiceNumber })
        ? now.lines
        : undefined);
    if (!lines) return undefined;
    recovered.push({ id: r.id, invoice: { ...document, lines } });
    return { lines, currency: document.currency, buyerId: document.buyer.id };
  };
  const carries = new Map<number, UnnumberedInvoice | null>();
  const unkept = new Set<number>();
  const unadjusted = new Map<number, string>();
  const fresh: Array<{ partnerCode: string; adjusts: string; invoice: UnnumberedInvoice }> = [];
  for (const invoice of rows.filter((r) => r.adjusts === null)) {
    const now = current.get(invoice.partnerCode) ?? null;
    if (!(await sent(invoice))) {
      carries.set(invoice.id, now);
      continue;
    }
    const adjustments = rows.filter((r) => r.adjusts === invoice.invoiceNumber);
    const delivered: NumberRow[] = [invoice];
    for (const r of adjustments) if (await sent(r)) delivered.push(r);
    for (const r of delivered) {
      const document = kept.get(r.id) ?? (await readBack(r, now));
      if (document === undefined) {
        unkept.add(r.id);
        continue;
      }
      kept.set(r.id, document);
      carries.set(r.id, documentOf(r.partnerCode, document.lines));
    }
    if (unkept.has(invoice.id)) carries.set(invoice.id, now);
    if (delivered.some((r) => unkept.has(r.id))) continue;
    const first = kept.get(invoice.id)!;
    const difference = adjustmentLines(
      billing.partnerLines.get(invoice.partnerCode) ?? [],
      delivered.flatMap((r) => kept.get(r.id)!.lines),
      invoice.invoiceNumber,
      first.currency,
    );
    if (difference.length === 0) continue;
    const adjustment = documentOf(invoice.partnerCode, difference);
    if (adjustment === null) continue;
    const other = delivered.find((r) => {
      const d = kept.get(r.id)!;
      return d.currency !== adjustment.currency || d.buyerId !== adjustment.buyer.id;
    });
    if (other) {
      const d = kept.get(other.id)!;
      unadjusted.set(
        invoice.id,
        `${other.invoiceNumber} was delivered in ${d.currency} to buyer ${d.buyerId}, and ${invoice.partnerCode}'s billing is now ${adjustment.currency} to buyer ${adjustment.buyer.id}`,
      );
      continue;
    }
    const pending = adjustments.find((r) => !delivered.includes(r));
    if (pending) carries.set(pending.id, adjustment);
    else
      fresh.push({ partnerCode: invoice.partnerCode, adjusts: invoice.invoiceNumber, invoice: adjustment });
  }
  await keepLines(trx, recovered);
  fresh.sort((a, b) => cmp(a.partnerCode, b.partnerCode));
  const given = await giveNumbers(trx, issuer, month, rows, fresh, businessDate);
  given.forEach((r, i) => carries.set(r.id, fresh[i]!.invoice));
  const all = [...rows, ...given];
  const sending = new Set(all.filter((r) => carries.get(r.id)).map((r) => r.invoiceNumber));
  const carriers = await invoiceTransmissions(trx, issuer, month, all, sending, isDelivered);
  return all.map((r) => {
    const invoice = carries.get(r.id) ?? null;
    return {
      id: r.id,
      partnerCode: r.partnerCode,
      invoiceNumber: r.invoiceNumber,
      adjusts: r.adjusts,
      transmission: carriers.get(r.invoiceNumber) ?? null,
      invoice: invoice && { ...invoice, invoiceNumber: r.invoiceNumber },
      unkept: unkept.has(r.id),
      unadjusted: unadjusted.get(r.id) ?? null,
    };
  });
}
