/**
 * What each partner is billed for a month, from the ledger: the points credited on its behalf are
 * −(the entries on its account `PARTNER:<code>` with a business date in the month), reversals included
 * (a reversal posted in the month reduces the month's bill, whenever the credit was). Each entry is
 * attributed to an activity type and the contract (or partner-airline chart) that priced it: the
 * posting's rule version, or its original's for a reversal, and the activity whose award posting it is (or reverses).
 *
 * `partnerCredits` is the query; `billingMonth` turns its rows and the configuration into invoices (pure);
 * `invoiceNumbers` gives each invoiced partner its number for the month, kept from the first export on.
 */
import type { Knex } from 'knex';
import type { LoadedConfig } from '../config/load.js';
import type { PartnerConfig } from '../config/schema.js';
import { endOfMonth, startOfMonth, type IsoDate } from '../lib/dates.js';
import { ExportError } from './errors.js';
import type { InvoiceInput, InvoiceLineInput, Organization } from './isxml.js';

/** An invoice before its number: `invoiceNumbers` gives it one. */
export type UnnumberedInvoice = Omit<InvoiceInput, 'invoiceNumber'>;

type Q = Knex | Knex.Transaction;

export interface PartnerCreditRow {
  partnerCode: string;
  /** The activity's type (STAY, RENTAL, …), else its kind (HOTEL, PARTNER_FLIGHT), else the posting kind. */
  activityType: string;
  ruleVersion: string | null;
  /** Points credited on the partner's behalf, net. */
  points: number;
  postings: number;
}

export async function partnerCredits(q: Q, from: IsoDate, to: IsoDate): Promise<PartnerCreditRow[]> {
  const result = (await q.raw(
    `SELECT ac.code AS account,
            COALESCE(act.activity_type, act.type, p.kind) AS activity_type,
            COALESCE(o.rule_version, p.rule_version, act.rule_version) AS rule_version,
            SUM(e.amount) AS amount,
            COUNT(*) AS postings
       FROM entries e
       JOIN accounts ac ON ac.id = e.account_id
       JOIN postings p ON p.id = e.posting_id
       LEFT JOIN postings o ON o.id = p.reversal_of
       LEFT JOIN activities act ON act.posting_id = COALESCE(p.reversal_of, p.id)
      WHERE ac.kind = 'PARTNER' AND e.business_date >= ? AND e.business_date <= ?
      GROUP BY ac.code, COALESCE(act.activity_type, act.type, p.kind), COALESCE(o.rule_version, p.rule_version, act.rule_version)`,
    [from, to],
  )) as { rows?: Array<Record<string, unknown>> } | Array<Record<string, unknown>>;
  const rows = Array.isArray(result) ? result : (result.rows ?? []);
  return rows
    .map((r) => ({
      partnerCode: String(r.account).slice('PARTNER:'.length),
      activityType: String(r.activity_type),
      ruleVersion: (r.rule_version as string | null) ?? null,
      points: -Number(r.amount),
      postings: Number(r.postings),
    }))
    .sort(
      (a, b) =>
        cmp(a.partnerCode, b.partnerCode) ||
        cmp(a.activityType, b.activityType) ||
        cmp(a.ruleVersion ?? '', b.ruleVersion ?? ''),
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
}

interface Pricing {
  contractId: string;
  pricePerPoint: string;
  chargeCode: string;
}

function pricing(partner: PartnerConfig, row: PartnerCreditRow, month: string): Pricing {
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
  throw new ExportError(
    'NO_PRICE',
    `partner ${partner.code}, ${month}: ${row.points} points of ${row.activityType} under rule version ${JSON.stringify(row.ruleVersion)} match no contract or chart of the partner, so they have no price`,
    { partner: partner.code, field: 'rule_version', ruleVersion: row.ruleVersion },
  );
}

/**
 * Invoices for the month of `monthEnd`: one per partner with credited points, in partner-code order, one
 * line per (activity type, contract or chart) with points ≠ 0. Their numbers are not a matter of their
 * place in this list (a late partner would move the others): `invoiceNumbers` gives them.
 */
export function billingMonth(
  config: LoadedConfig,
  monthEnd: IsoDate,
  rows: readonly PartnerCreditRow[],
): BillingMonth {
  const start = startOfMonth(monthEnd);
  const end = endOfMonth(monthEnd);
  const month = end.slice(0, 7);
  const seller: Organization = {
    id: config.exports.invoices.issuingOrganizationId,
    designator: config.exports.invoices.organizationDesignator,
    name: config.exports.invoices.organizationName,
  };
  const partners = new Map(config.partners.map((p) => [p.code, p]));
  const byPartner = new Map<string, PartnerCreditRow[]>();
  for (const row of rows) byPartner.set(row.partnerCode, [...(byPartner.get(row.partnerCode) ?? []), row]);
  const invoices: UnnumberedInvoice[] = [];
  const unbilled: BillingMonth['unbilled'] = [];
  for (const code of [...byPartner.keys()].sort()) {
    const partnerRows = byPartner.get(code)!.filter((r) => r.points !== 0);
    if (partnerRows.length === 0) continue;
    const partner = partners.get(code);
    if (!partner?.billing) {
      unbilled.push({ partnerCode: code, points: partnerRows.reduce((s, r) => s + r.points, 0) });
      continue;
    }
    const merged = new Map<string, Omit<InvoiceLineInput, 'description'>>();
    for (const row of partnerRows) {
      const price = pricing(partner, row, month);
      const id = `${row.activityType}\u0000${price.contractId}`;
      const line = merged.get(id);
      if (line) {
        line.points += row.points;
        line.detailCount += row.postings;
        continue;
      }
      merged.set(id, {
        chargeCode: price.chargeCode,
        startDate: start,
        endDate: end,
        points: row.points,
        pricePerPoint: price.pricePerPoint,
        detailCount: row.postings,
        activityType: row.activityType,
        contractId: price.contractId,
      });
    }
    // Described once its rows are merged: whether a line's points were credited or reversed is their net.
    const lines = [...merged.values()]
      .filter((l) => l.points !== 0)
      .map((l) => ({
        ...l,
        description: `${l.activityType} points ${l.points < 0 ? 'reversed' : 'credited'}, ${l.contractId}`,
      }));
    if (lines.length === 0) continue;
    const b = partner.billing;
    invoices.push({
      partnerCode: code,
      invoiceDate: end,
      chargeCategory: b.chargeCategory,
      seller,
      buyer: { id: b.organizationId, designator: b.designator, name: b.organizationName },
      currency: b.currency,
      settlementMonthPeriod: `${month.slice(2, 4)}${month.slice(5, 7)}04`,
      settlementMethod: b.settlementMethod,
      lines,
    });
  }
  return { month, start, end, invoices, unbilled };
}

/** `<YYYYMM><NNNN>`: the month, then the number's place among those given that month. */
function invoiceNumberOf(month: string, number: number): string {
  return `${month.replace('-', '')}${String(number).padStart(4, '0')}`;
}

/**
 * Each partner's invoice number for `month` under `issuer`: the one given to it by an earlier export of
 * the month, else the next not given yet (in partner-code order among those new tonight). A number once
 * given stays the partner's, on every re-export, before delivery and after, also when a later export
 * finds nothing to invoice it: a clearing house takes InvoiceNumber as the invoice's identity, and the
 * partner may have seen the number in a draft, so it is never given to another partner. Unique per issuer
 * and month (the table's unique indexes hold it against a concurrent writer, which then fails and its
 * rerun reads the numbers given). Call inside the transaction that records them.
 */
export async function invoiceNumbers(
  trx: Knex.Transaction,
  issuer: string,
  month: string,
  partnerCodes: readonly string[],
  businessDate: IsoDate,
): Promise<Map<string, string>> {
  const given = (await trx('invoice_numbers')
    .where({ issuer, billing_month: month })
    .select('partner_code', 'number', 'invoice_number')) as Array<{
    partner_code: string;
    number: number | string;
    invoice_number: string;
  }>;
  const numbers = new Map(given.map((r) => [r.partner_code, r.invoice_number]));
  let last = given.reduce((max, r) => Math.max(max, Number(r.number)), 0);
  const fresh = [...new Set(partnerCodes)].filter((code) => !numbers.has(code)).sort();
  const rows = fresh.map((code) => {
    last += 1;
    const invoiceNumber = invoiceNumberOf(month, last);
    numbers.set(code, invoiceNumber);
    return {
      issuer,
      billing_month: month,
      partner_code: code,
      number: last,
      invoice_number: invoiceNumber,
      assigned_on: businessDate,
    };
  });
  if (rows.length > 0) await trx('invoice_numbers').insert(rows);
  return numbers;
}

/**
 * The transmission of `month` that carries each numbered invoice: 1 the month's first, 2… the
 * supplementary ones. A number not in a transmission goes into the month's latest one while that is not
 * delivered (`delivered(k)` is false: it is replaced, as a draft is), else into a new one after it: a
 * delivered transmission stands, and an invoice number a partner reads in its statement must be in
 * exactly one transmission the clearing house received. A number in a delivered transmission stays there.
 * One in a transmission not delivered whose partner is no longer `invoiced` is taken out of it (its
 * transmission is null again), so that when its partner is invoiced again it goes where a number not in
 * a transmission goes: were it kept in a draft that was then delivered without it, the clearing house
 * would never receive that invoice. A number stays its partner's all the same. Numbers not in a
 * transmission are left out of the map. Call inside the transaction that gives the numbers.
 */
export async function invoiceTransmissions(
  trx: Knex.Transaction,
  issuer: string,
  month: string,
  invoiced: ReadonlySet<string>,
  delivered: (transmission: number) => Promise<boolean>,
): Promise<Map<string, number>> {
  const given = (await trx('invoice_numbers')
    .where({ issuer, billing_month: month })
    .select('partner_code', 'transmission')) as Array<{
    partner_code: string;
    transmission: number | string | null;
  }>;
  const known = new Map<number, boolean>();
  const isDelivered = async (k: number) => {
    if (!known.has(k)) known.set(k, await delivered(k));
    return known.get(k)!;
  };
  const carried = new Map<string, number>();
  const freed: string[] = [];
  for (const r of given) {
    if (r.transmission === null) continue;
    const k = Number(r.transmission);
    if (!invoiced.has(r.partner_code) && !(await isDelivered(k))) freed.push(r.partner_code);
    else carried.set(r.partner_code, k);
  }
  if (freed.length > 0) {
    await trx('invoice_numbers')
      .where({ issuer, billing_month: month })
      .whereIn('partner_code', freed)
      .update({ transmission: null });
  }
  const loose = given
    .filter((r) => r.transmission === null && invoiced.has(r.partner_code))
    .map((r) => r.partner_code);
  if (loose.length === 0) return carried;
  const latest = Math.max(0, ...carried.values());
  const into = latest === 0 ? 1 : (await isDelivered(latest)) ? latest + 1 : latest;
  await trx('invoice_numbers')
    .where({ issuer, billing_month: month })
    .whereIn('partner_code', loose)
    .update({ transmission: into });
  for (const code of loose) carried.set(code, into);
  return carried;
}
