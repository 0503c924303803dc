/**
 * Mailing lists for the mailing system, one file per mailing kind and date, as CSV or XML
 * (`exports.mailings.format`). Each list carries only the personal data its mailing needs (the member
 * number, the e-mail address to send to, the language to write in, the name to address the member by,
 * and the facts of the mailing); birth dates, phone numbers, countries and native-script names never
 * leave Redeye this way. A member is listed only when
 *
 * - their consent allows the kind: `consent[KIND]` (or its short name, `STATEMENT`, in records stored
 *   before the members feed normalised them) when the member record states it, else `consent.ALL`, else
 *   not (no recorded consent is no consent);
 * - they have an e-mail address the list can carry as stored (never one with a character dropped or
 *   hidden) and their personal data has not been erased;
 * - their status fits the mailing (ACTIVE for warnings, statements and tier changes; INCOMPLETE for the
 *   registration reminder; CLOSED for the closure notice).
 *
 * | kind                    | when             | who                                                            |
 * |-------------------------|------------------|----------------------------------------------------------------|
 * | EXPIRY_WARNING          | daily            | points expiring exactly `expiryWarningDays` after the date      |
 * | BALANCE_STATEMENT       | last day of month| every member with a balance or a movement in the month          |
 * | TIER_CHANGE             | daily            | tier events no list has mailed yet (an upgrade: new card ready) |
 * | INCOMPLETE_REGISTRATION | daily            | enrolment left INCOMPLETE exactly `incompleteAfterDays` ago     |
 * | ACCOUNT_CLOSURE         | daily            | accounts closed on the date                                     |
 *
 * A name longer than the XML schema's 100 characters is cut in the XML list and reported (`mailingXml`);
 * the CSV list, which promises no length, carries it whole.
 *
 * Lists that fire on an exact day warn each member once per event rather than every day of a window.
 * Under inactivity expiry, a pool's expiring points are announced to each of its members who may be mailed.
 * A pool member's balance statement is their own account and their pool's together, in one row.
 * Queries page through members by number, and the builders are generators, so a list of a million
 * members never sits in memory.
 */
import type { Knex } from 'knex';
import type { LoadedConfig } from '../config/load.js';
import type { MailingKind } from '../config/schema.js';
import { addDays, endOfMonth, startOfMonth, type IsoDate } from '../lib/dates.js';
import { poolsLastActiveIn } from '../ledger/queries.js';
import { MOVEMENT_KIND_SQL } from '../reports/common.js';
import { Program } from '../rules/program.js';
import { tiersOn } from './alliance.js';
import { awaitingDelivery, exportKey } from './outbox.js';
import { csvRecord, csvRecords, csvText, type CsvField } from './csv.js';
import { cutToLength, xmlChars } from './xml-writer.js';
import { escapeXmlText } from '../parsers/xml-common.js';
import { consentTypeOf, NOT_IN_ADDRESS } from '../parsers/members.js';

type Q = Knex | Knex.Transaction;

export const MAILING_NS = 'urn:redeye:mailing:1.0';

/**
 * Whether a member's recorded consent allows a mailing of this kind. The members feed stores answers
 * under the kind's name; records stored before it normalised them keep the short names the CRM wrote
 * (`STATEMENT`), which are read as the kind they stand for. Such a record may answer a kind under both
 * names: a no under either stands, as mailing against a stated no is the harm.
 */
export function consentAllows(
  consent: Record<string, boolean> | null | undefined,
  kind: MailingKind,
): boolean {
  if (!consent) return false;
  let own: boolean | undefined;
  for (const [name, given] of Object.entries(consent)) {
    if (typeof given === 'boolean' && consentTypeOf(name) === kind) own = (own ?? true) && given;
  }
  return own ?? consent.ALL === true;
}

interface Addressee {
  memberNumber: string;
  email: string;
  language: string | null;
  givenName: string | null;
}

export interface ExpiryWarningRow extends Addressee {
  surname: string | null;
  points: number;
  expiresOn: IsoDate;
}

export interface BalanceStatementRow extends Addressee {
  surname: string | null;
  /** The tier held at the period's end, as every figure is (`tiersOn`). */
  tier: string;
  periodStart: IsoDate;
  periodEnd: IsoDate;
  opening: number;
  /** Accrual postings net of their reversals. */
  earned: number;
  /** Points taken by redemptions net of cancellations (a positive number). */
  redeemed: number;
  /** Points expired (a positive number). */
  expired: number;
  /** Transfers, adjustments and anything else, signed. */
  adjusted: number;
  closing: number;
}

export interface TierChangeRow extends Addressee {
  surname: string | null;
  fromTier: string | null;
  toTier: string;
  direction: 'UP' | 'DOWN';
  newCardReady: boolean;
  effectiveDate: IsoDate;
}

export interface IncompleteRegistrationRow extends Addressee {
  enrolmentDate: IsoDate;
}

export interface AccountClosureRow extends Addressee {
  surname: string | null;
  closedOn: IsoDate;
}

export interface MailingRows {
  EXPIRY_WARNING: ExpiryWarningRow;
  BALANCE_STATEMENT: BalanceStatementRow;
  TIER_CHANGE: TierChangeRow;
  INCOMPLETE_REGISTRATION: IncompleteRegistrationRow;
  ACCOUNT_CLOSURE: AccountClosureRow;
}

export type MailingRow = MailingRows[MailingKind];

// ------------------------------------------------------------------------------------------------ columns

/**
 * `maxLength`: the most characters the XML list's schema allows the field. An `address` is text from
 * outside written exactly as stored or not at all: the CSV list's guard against spreadsheet formulas would
 * make `-ivan@example.com` the address `'-ivan@example.com`, someone else's.
 */
type Column<R> = readonly [
  name: string,
  value: (r: R) => CsvField | null,
  kind: 'text' | 'plain' | 'address',
  maxLength?: number,
];

// redeye-mailing-1.0.xsd's Name; the members feed takes names of up to 200 (parsers/csv-common.ts).
const NAME_MAX = 100;

const ADDRESSEE: ReadonlyArray<Column<Addressee & { surname?: string | null }>> = [
  ['member_number', (r) => r.memberNumber, 'text'],
  ['email', (r) => r.email, 'address'],
  ['language', (r) => r.language, 'text'],
  ['given_name', (r) => r.givenName, 'text', NAME_MAX],
];
const SURNAME: Column<{ surname: string | null }> = ['surname', (r) => r.surname, 'text', NAME_MAX];

/** The fields of each list, in order; the XML element names are the same in UpperCamelCase. */
export const MAILING_COLUMNS: { [K in MailingKind]: ReadonlyArray<Column<MailingRows[K]>> } = {
  EXPIRY_WARNING: [
    ...ADDRESSEE,
    SURNAME,
    ['points_expiring', (r) => r.points, 'plain'],
    ['expires_on', (r) => r.expiresOn, 'plain'],
  ],
  BALANCE_STATEMENT: [
    ...ADDRESSEE,
    SURNAME,
    ['tier', (r) => r.tier, 'text'],
    ['period_start', (r) => r.periodStart, 'plain'],
    ['period_end', (r) => r.periodEnd, 'plain'],
    ['opening_balance', (r) => r.opening, 'plain'],
    ['earned', (r) => r.earned, 'plain'],
    ['redeemed', (r) => r.redeemed, 'plain'],
    ['expired', (r) => r.expired, 'plain'],
    ['adjusted', (r) => r.adjusted, 'plain'],
    ['closing_balance', (r) => r.closing, 'plain'],
  ],
  TIER_CHANGE: [
    ...ADDRESSEE,
    SURNAME,
    ['from_tier', (r) => r.fromTier, 'text'],
    ['to_tier', (r) => r.toTier, 'text'],
    ['direction', (r) => r.direction, 'plain'],
    ['new_card_ready', (r) => (r.newCardReady ? 'Y' : 'N'), 'plain'],
    ['effective_date', (r) => r.effectiveDate, 'plain'],
  ],
  INCOMPLETE_REGISTRATION: [...ADDRESSEE, ['enrolment_date', (r) => r.enrolmentDate, 'plain']],
  ACCOUNT_CLOSURE: [...ADDRESSEE, SURNAME, ['closed_on', (r) => r.closedOn, 'plain']],
};

function elementName(column: string): string {
  return column.replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase());
}

// ------------------------------------------------------------------------------------------------ builders

const BATCH = 500;

/** CSV list: a header row of column names, then one row per recipient. */
export async function* mailingCsv<K extends MailingKind>(
  kind: K,
  rows: AsyncIterable<MailingRows[K]> | Iterable<MailingRows[K]>,
  counter: { recipients?: number } = {},
): AsyncGenerator<string> {
  const columns = MAILING_COLUMNS[kind] as ReadonlyArray<Column<MailingRows[K]>>;
  yield csvRecord(columns.map(([name]) => name));
  counter.recipients = 0;
  let batch: CsvField[][] = [];
  for await (const row of rows) {
    let altered = false;
    const fields = columns.map(([, value, type]) => {
      const v = value(row);
      if (v === null) return '';
      if (type === 'plain') return v;
      const text = csvText(String(v));
      if (type === 'address' && text !== v) altered = true;
      return text;
    });
    // Left out as a member without an address is: mailed at another address is the harm.
    if (altered) continue;
    batch.push(fields);
    counter.recipients++;
    if (batch.length >= BATCH) {
      yield csvRecords(batch);
      batch = [];
    }
  }
  if (batch.length > 0) yield csvRecords(batch);
}

export interface MailingHeader {
  program: string;
  kind: MailingKind;
  businessDate: IsoDate;
  sequence: number | null;
  createdAt: string;
}

/** A field the XML list carries cut to its schema's length: the CRM's record wants shortening. */
export interface CutField {
  memberNumber: string;
  field: string;
  /** Characters (code points) in the member's record. */
  length: number;
  maxLength: number;
}

/**
 * XML list in the namespace urn:redeye:mailing:1.0 (schemas/redeye-mailing-1.0.xsd). A name longer than
 * the schema allows is written cut to its length (`cutToLength`) and reported to `onCut`, as one such
 * member would otherwise make the whole night's list invalid for the mailing house.
 */
export async function* mailingXml<K extends MailingKind>(
  header: MailingHeader & { kind: K },
  rows: AsyncIterable<MailingRows[K]> | Iterable<MailingRows[K]>,
  counter: { recipients?: number } = {},
  onCut: (cut: CutField) => void = () => undefined,
): AsyncGenerator<string> {
  const columns = MAILING_COLUMNS[header.kind] as ReadonlyArray<Column<MailingRows[K]>>;
  // Measured once XML's illegal characters are gone: the schema counts what the mailing house reads.
  const leaf = (indent: string, name: string, value: CsvField | null) => {
    const text = value === null ? '' : xmlChars(String(value));
    return text === '' ? '' : `${indent}<${name}>${escapeXmlText(text)}</${name}>\n`;
  };
  let head = `<?xml version="1.0" encoding="UTF-8"?>\n<MailingList xmlns="${MAILING_NS}">\n  <Header>\n`;
  head += leaf('    ', 'Program', header.program);
  head += leaf('    ', 'Kind', header.kind);
  head += leaf('    ', 'BusinessDate', header.businessDate);
  head += leaf('    ', 'Sequence', header.sequence);
  head += leaf('    ', 'CreatedAt', header.createdAt);
  head += '  </Header>\n';
  yield head;
  counter.recipients = 0;
  let out = '';
  for await (const row of rows) {
    out += '  <Recipient>\n';
    for (const [name, value, , maxLength] of columns) {
      let v = value(row);
      if (maxLength !== undefined && v !== null) {
        const text = xmlChars(String(v));
        v = cutToLength(text, maxLength);
        if (v !== text)
          onCut({ memberNumber: row.memberNumber, field: name, length: Array.from(text).length, maxLength });
      }
      out += leaf('    ', elementName(name), v);
    }
    out += '  </Recipient>\n';
    counter.recipients++;
    if (out.length > 1 << 16) {
      yield out;
      out = '';
    }
  }
  yield `${out}  <Control>\n    <RecipientCount>${counter.recipients}</RecipientCount>\n  </Control>\n</MailingList>\n`;
}

export function mailingName(kind: MailingKind, businessDate: IsoDate, format: 'csv' | 'xml'): string {
  return `${kind}_${businessDate.replace(/-/g, '')}.${format}`;
}

// ------------------------------------------------------------------------------------------------ queries

const PAGE = 2000;

interface MemberRow {
  id: number;
  number: string;
  email: string;
  language: string | null;
  given_name: string | null;
  surname: string | null;
  consent: string | null;
  tier: string;
  enrolment_date: string | null;
  closed_on: string | null;
  last_activity_date: string | null;
  pool_id: number | null;
}

const MEMBER_COLUMNS = [
  'm.id',
  'm.number',
  'm.email',
  'm.language',
  'm.given_name',
  'm.surname',
  'm.consent',
  'm.tier',
  'm.enrolment_date',
  'm.closed_on',
  'm.last_activity_date',
  'm.pool_id',
];

function parseConsent(text: string | null): Record<string, boolean> | null {
  if (!text) return null;
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, boolean>) : null;
  } catch {
    // A consent record that cannot be read grants nothing.
    return null;
  }
}

// A mailing system cannot send to an address without one @; a language code it cannot read is left out.
// A list never carries an address other than the one stored: one with a character the XML list would
// drop (controls, lone surrogates) or the mailing house could not tell apart (format, private-use and
// unassigned characters, and the blanks that render as nothing: NOT_IN_ADDRESS) leaves its member out, as the members feed refuses such addresses since it
// checks them, and records stored before may hold them.
const EMAIL = new RegExp(`^[^${NOT_IN_ADDRESS}]+@[^${NOT_IN_ADDRESS}]+$`, 'u');
/** The XML list's schema's and the column's limit, in code points as both count. */
const EMAIL_MAX = 254;
const LANGUAGE = /^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$/;

function addressee(m: MemberRow): Addressee & { surname: string | null } {
  return {
    memberNumber: m.number,
    email: m.email,
    language: m.language && m.language.length <= 8 && LANGUAGE.test(m.language) ? m.language : null,
    givenName: m.given_name,
    surname: m.surname,
  };
}

/**
 * Mailable members of a status, by member number, a page at a time: e-mail present, data not erased,
 * consent given for the kind. `where` narrows further.
 */
async function* mailableMembers(
  q: Q,
  kind: MailingKind,
  status: string,
  where: (b: Knex.QueryBuilder) => void = () => undefined,
): AsyncGenerator<MemberRow[]> {
  let after = '';
  for (;;) {
    const page = (await q('members as m')
      .where('m.status', status)
      .whereNotNull('m.email')
      .andWhere('m.email', '<>', '')
      .whereNull('m.erased_at')
      .andWhere('m.number', '>', after)
      .modify(where)
      .orderBy('m.number')
      .limit(PAGE)
      .select(MEMBER_COLUMNS)) as MemberRow[];
    if (page.length === 0) return;
    after = page[page.length - 1]!.number;
    const allowed = page.filter(
      (m) =>
        EMAIL.test(m.email) &&
        Array.from(m.email).length <= EMAIL_MAX &&
        consentAllows(parseConsent(m.consent), kind),
    );
    if (allowed.length > 0) yield allowed;
    if (page.length < PAGE) return;
  }
}

export interface MailingPolicy {
  expiryWarningDays: number;
  incompleteAfterDays: number;
  /** The program's rules: which inactivity rule undated lots expire by on a date. */
  program: Program;
}

export function mailingPolicy(config: LoadedConfig): MailingPolicy {
  return {
    expiryWarningDays: config.exports.mailings.expiryWarningDays,
    incompleteAfterDays: config.exports.mailings.incompleteAfterDays,
    program: new Program(config),
  };
}

/**
 * Members with points expiring exactly `expiryWarningDays` after the date: their dated lots due that day
 * (earned under a fixed term) and their undated lots when the expire job of that night is the first to
 * take their account by the inactivity rules of the nights between. A pool's lots are its members' to
 * spend, so each member who may be mailed is warned of what the pool loses that day as well as of their
 * own, in one warning, so nobody gets two warnings for one date.
 */
export async function* expiryWarnings(
  q: Q,
  businessDate: IsoDate,
  policy: MailingPolicy,
): AsyncGenerator<ExpiryWarningRow> {
  const target = addDays(businessDate, policy.expiryWarningDays);
  // Undated lots are due on the first night whose expire run reaches their account's last activity, as
  // the expire job and the expiry forecast take them (`inactivityReach`): the target's when the activity
  // is above what the runs from tonight to the night before take and at or below what the target's takes.
  // A version that shortens the rule takes on its first night accounts whose due date by its months fell
  // before it: they are warned once, by the night whose target that first night is.
  const program = policy.program;
  const takenBefore = program.inactivityDueWithin(businessDate, addDays(target, -1));
  const takenOn = program.inactivityDueBy(target);
  const undatedDue =
    takenOn === undefined || (takenBefore !== undefined && takenBefore >= takenOn)
      ? undefined
      : { after: takenBefore, onOrBefore: takenOn };
  // The points of `lots as l` as the night of the date left them, from the ledger: what the lot holds now
  // less what later nights' postings moved (a redemption took, the expiry itself took, a reversal put
  // back). A lot a later night created was not there. A rerun of an old night writes the list it wrote.
  const movedLater = (s: Knex.QueryBuilder) =>
    s
      .from('lot_movements as mv')
      .join('postings as mp', 'mp.id', 'mv.posting_id')
      .whereRaw('mv.lot_id = l.id')
      .andWhere('mp.business_date', '>', businessDate);
  const heldThen = (b: Knex.QueryBuilder) =>
    b
      .whereExists((o) =>
        o
          .select(q.raw('1'))
          .from('postings as op')
          .whereRaw('op.id = l.origin_posting_id')
          .andWhere('op.business_date', '<=', businessDate),
      )
      .andWhere((w) => w.where('l.remaining', '>', 0).orWhereExists((s) => movedLater(s.select(q.raw('1')))));
  const lotsDue = (s: Knex.QueryBuilder) =>
    s
      .select(q.raw('1'))
      .from('lots as l')
      .join('accounts as a', 'a.id', 'l.account_id')
      .andWhere('l.expires_on', target)
      .modify(heldThen);
  const duePools = undatedDue === undefined ? undefined : poolsLastActiveIn(q, undatedDue);
  const poolsDue = new Set(
    duePools === undefined
      ? []
      : ((await duePools.clone().select('pa.pool_id')) as Array<{ pool_id: number }>).map((p) =>
          Number(p.pool_id),
        ),
  );
  // As the expire job counts it: a member who never earned is judged from the enrolment date.
  const lastActive = (m: MemberRow) => m.last_activity_date ?? m.enrolment_date;
  const ownDue = (m: MemberRow) => {
    const last = lastActive(m);
    return (
      undatedDue !== undefined &&
      last !== null &&
      (undatedDue.after === undefined || last > undatedDue.after) &&
      last <= undatedDue.onOrBefore
    );
  };
  const activeIn = (b: Knex.QueryBuilder, column: string, due: { after?: IsoDate; onOrBefore: IsoDate }) =>
    b.where(column, '<=', due.onOrBefore).modify((w) => {
      if (due.after !== undefined) w.andWhere(column, '>', due.after);
    });
  const expiring = (b: Knex.QueryBuilder) =>
    b.where((w) => {
      w.whereExists((s) =>
        lotsDue(s).whereRaw('a.member_id = m.id').andWhere('a.kind', 'MEMBER_POINTS'),
      ).orWhereExists((s) => lotsDue(s).whereRaw('a.pool_id = m.pool_id').andWhere('a.kind', 'POOL_POINTS'));
      if (undatedDue !== undefined && duePools !== undefined)
        w.orWhere((n) => activeIn(n, 'm.last_activity_date', undatedDue))
          .orWhere((n) => activeIn(n.whereNull('m.last_activity_date'), 'm.enrolment_date', undatedDue))
          .orWhereIn('m.pool_id', duePools.clone().select('pa.pool_id'));
    });
  /** Points per owner of `kind` due on the target: dated lots of that day, and undated ones of `undated`. */
  const dueOn = async (
    kind: 'MEMBER_POINTS' | 'POOL_POINTS',
    owner: 'member_id' | 'pool_id',
    ids: number[],
    undated: ReadonlySet<number>,
  ): Promise<Map<number, number>> => {
    const out = new Map<number, number>();
    if (ids.length === 0) return out;
    const alive = ids.filter((id) => undated.has(id));
    const rows = (await q('lots as l')
      .join('accounts as a', 'a.id', 'l.account_id')
      .where('a.kind', kind)
      .whereIn(`a.${owner}`, ids)
      .modify(heldThen)
      .andWhere((w) => {
        w.where('l.expires_on', target);
        if (alive.length > 0) w.orWhere((u) => u.whereNull('l.expires_on').whereIn(`a.${owner}`, alive));
      })
      .groupBy(`a.${owner}`)
      .select(
        `a.${owner} as owner`,
        q.raw('SUM(l.remaining - COALESCE((?), 0)) AS points', [movedLater(q.sum('mv.amount'))]),
      )) as Array<{ owner: number; points: number | string }>;
    for (const r of rows) out.set(Number(r.owner), Number(r.points));
    return out;
  };
  for await (const page of mailableMembers(q, 'EXPIRY_WARNING', 'ACTIVE', expiring)) {
    const own = await dueOn(
      'MEMBER_POINTS',
      'member_id',
      page.map((m) => m.id),
      new Set(page.filter(ownDue).map((m) => m.id)),
    );
    const pools = await dueOn(
      'POOL_POINTS',
      'pool_id',
      [...new Set(page.flatMap((m) => (m.pool_id === null ? [] : [Number(m.pool_id)])))],
      poolsDue,
    );
    for (const m of page) {
      const n = (own.get(m.id) ?? 0) + (m.pool_id === null ? 0 : (pools.get(Number(m.pool_id)) ?? 0));
      if (n > 0) yield { ...addressee(m), points: n, expiresOn: target };
    }
  }
}

/** A month's figures of award accounts, as the balance statement shows them (all but `any` in points). */
interface PeriodFigures {
  opening: number;
  earned: number;
  redeemed: number;
  expired: number;
  adjusted: number;
  /** Whether the account had any entry in the period (movements that net to nothing included). */
  any: boolean;
}

/**
 * The figures of the award accounts of `kind` owned by `ids` (members or pools) for [start, end], by
 * owner, in two queries however many owners: the opening balance from the entries dated before the
 * period, and the period's entries by posting kind as the reports count them (`MOVEMENT_KIND_SQL`: a
 * reversal under the kind it reverses, a flight's class correction as earned), so a flight corrected to
 * its coupon's classes shows what it earned, not the FTL's award and an adjustment taking part back.
 */
async function periodFigures(
  q: Q,
  kind: 'MEMBER_POINTS' | 'POOL_POINTS',
  owner: 'member_id' | 'pool_id',
  ids: number[],
  start: IsoDate,
  end: IsoDate,
): Promise<Map<number, PeriodFigures>> {
  const out = new Map<number, PeriodFigures>();
  if (ids.length === 0) return out;
  const opening = (await q('entries as e')
    .join('accounts as a', 'a.id', 'e.account_id')
    .where('a.kind', kind)
    .whereIn(`a.${owner}`, ids)
    .andWhere('e.business_date', '<', start)
    .groupBy(`a.${owner}`)
    .select(`a.${owner} as owner`)
    .sum({ amount: 'e.amount' })) as Array<{ owner: number; amount: number | string }>;
  const moves = (await q('entries as e')
    .join('accounts as a', 'a.id', 'e.account_id')
    .join('postings as p', 'p.id', 'e.posting_id')
    .leftJoin('postings as o', 'o.id', 'p.reversal_of')
    .where('a.kind', kind)
    .whereIn(`a.${owner}`, ids)
    .andWhere('e.business_date', '>=', start)
    .andWhere('e.business_date', '<=', end)
    .groupBy(`a.${owner}`, q.raw(MOVEMENT_KIND_SQL))
    .select(`a.${owner} as owner`, q.raw(`${MOVEMENT_KIND_SQL} AS kind`))
    .sum({ amount: 'e.amount' })) as Array<{ owner: number; kind: string; amount: number | string }>;
  const of = (id: number) => {
    let f = out.get(id);
    if (!f) out.set(id, (f = { opening: 0, earned: 0, redeemed: 0, expired: 0, adjusted: 0, any: false }));
    return f;
  };
  for (const r of opening) of(Number(r.owner)).opening += Number(r.amount);
  for (const r of moves) {
    const f = of(Number(r.owner));
    const amount = Number(r.amount);
    if (r.kind === 'ACCRUAL') f.earned += amount;
    else if (r.kind === 'REDEMPTION') f.redeemed -= amount;
    else if (r.kind === 'EXPIRY') f.expired -= amount;
    else f.adjusted += amount;
    f.any = true;
  }
  return out;
}

/**
 * One statement per ACTIVE member with a balance or a movement in the month. A pool member's points
 * live in the pool (they earn into it, and their own points moved there when they joined), so their
 * statement is their own account and their pool's together, each figure the sum of the two: what moved
 * from the one into the other nets out within `adjusted`. The pool is the member's pool as the members
 * feed last set it (`members.pool_id`, as the expiry warning and `member show` take it); a member who has
 * left a pool is shown their own account alone, the points they left in it being the pool's.
 */
export async function* balanceStatements(q: Q, businessDate: IsoDate): AsyncGenerator<BalanceStatementRow> {
  const start = startOfMonth(businessDate);
  const end = endOfMonth(businessDate);
  for await (const page of mailableMembers(q, 'BALANCE_STATEMENT', 'ACTIVE')) {
    const own = await periodFigures(
      q,
      'MEMBER_POINTS',
      'member_id',
      page.map((m) => m.id),
      start,
      end,
    );
    const pools = await periodFigures(
      q,
      'POOL_POINTS',
      'pool_id',
      [...new Set(page.flatMap((m) => (m.pool_id === null ? [] : [Number(m.pool_id)])))],
      start,
      end,
    );
    const tiers = await tiersOn(q, page, end);
    for (const member of page) {
      const parts = [
        own.get(member.id),
        member.pool_id === null ? undefined : pools.get(Number(member.pool_id)),
      ];
      const sum = (field: Exclude<keyof PeriodFigures, 'any'>) =>
        parts.reduce((n, f) => n + (f?.[field] ?? 0), 0);
      const opening = sum('opening');
      if (opening === 0 && !parts.some((f) => f?.any)) continue;
      const earned = sum('earned');
      const redeemed = sum('redeemed');
      const expired = sum('expired');
      const adjusted = sum('adjusted');
      yield {
        ...addressee(member),
        tier: tiers.get(member.id)!,
        periodStart: start,
        periodEnd: end,
        opening,
        earned,
        redeemed,
        expired,
        adjusted,
        closing: opening + earned - redeemed - expired + adjusted,
      };
    }
  }
}

/**
 * Which tier events a TIER_CHANGE list takes. Each UP or DOWN event is mailed by one list: the list
 * that took it records so (`tier_events.mailing_file_id`, stamped by `keepTierChanges`), and a list takes
 * those its date has reached that no list has taken yet, so an event recorded after its night's list was
 * delivered (a rerun with a late coupon) goes into the next list still to be delivered. Untaken events
 * are those of the list's own date and of nights that had a list; a night with none (the kind not
 * configured then, its export not run yet) keeps its events for its own list, as the nights before
 * migration 031 did. A delivered list is rebuilt from what it took, so its rebuild differs only when its
 * addressees do (`drifted`); one not delivered yet takes again what it took and whatever is untaken.
 */
export interface TierChangeList {
  /** The list's registry row; null on its first write. */
  fileId: number | null;
  delivered: boolean;
  /** The last event recorded when the list was built: an event recorded later waits for the next list. */
  upTo: number;
}

/** The TIER_CHANGE list of registry row `fileId` (null: not written yet) as it stands now. */
export async function tierChangeList(q: Q, fileId: number | null): Promise<TierChangeList> {
  const last = (await q('tier_events').max({ id: 'id' }).first()) as
    { id: number | string | null } | undefined;
  const row =
    fileId === null
      ? undefined
      : ((await q('files').where({ id: fileId }).first('verdict')) as { verdict: string } | undefined);
  return {
    fileId,
    delivered: row !== undefined && !awaitingDelivery(row),
    upTo: Number(last?.id ?? 0),
  };
}

const TIER_CHANGE_LISTS = exportKey('mailing', null, 'TIER_CHANGE:%');

/** Narrows `tier_events as t` to the events the list of `businessDate` takes. */
function takenBy(b: Knex.QueryBuilder, q: Q, businessDate: IsoDate, list: TierChangeList): Knex.QueryBuilder {
  b.whereIn('t.direction', ['UP', 'DOWN']);
  if (list.delivered) return b.where('t.mailing_file_id', list.fileId);
  return b.andWhere('t.id', '<=', list.upTo).andWhere((w) => {
    w.where((untaken) =>
      untaken
        .whereNull('t.mailing_file_id')
        .andWhere('t.business_date', '<=', businessDate)
        .andWhere((night) =>
          night
            .where('t.business_date', businessDate)
            .orWhereExists((f) =>
              f
                .select(q.raw('1'))
                .from('files as f')
                .where({ 'f.direction': 'out', 'f.feed': 'mailing' })
                .andWhere('f.export_key', 'like', TIER_CHANGE_LISTS)
                .whereRaw('f.business_date = t.business_date'),
            ),
        ),
    );
    if (list.fileId !== null) w.orWhere('t.mailing_file_id', list.fileId);
  });
}

/**
 * Whether a later change of the member of `tier_events as t`, taken by a list other than `fileId` (null:
 * any list), stands over it. A night's list caught up after a later night's list took the member's next
 * change would otherwise announce a tier the member has already left, and a card for it printed after
 * the newer one; the later list's change is what the member holds, mailed or not.
 */
function supersededElsewhere(q: Q, fileId: number | null) {
  return (s: Knex.QueryBuilder) => {
    s.select(q.raw('1'))
      .from('tier_events as later')
      .whereRaw('later.member_id = t.member_id')
      .andWhereRaw('later.id > t.id')
      .whereIn('later.direction', ['UP', 'DOWN'])
      .whereNotNull('later.mailing_file_id');
    if (fileId !== null) s.andWhere('later.mailing_file_id', '<>', fileId);
  };
}

/**
 * Narrows the events a list takes to those it mails: not superseded by a change another list took. A
 * delivered list is rebuilt from what it recorded (`mailing_superseded`, migration 040), as the later
 * list may have taken its change after this one was delivered with the event in it.
 */
function mailedBy(b: Knex.QueryBuilder, q: Q, list: TierChangeList): Knex.QueryBuilder {
  return list.delivered
    ? b.where('t.mailing_superseded', false)
    : b.whereNotExists(supersededElsewhere(q, list.fileId));
}

/**
 * Records that the list `fileId` took its events, whether or not they made a row (a member who may not
 * be mailed, or whose events net to nothing, is not mailed them later either), and which of them it left
 * out as superseded, so that its rebuild after delivery carries what it carried.
 */
export async function keepTierChanges(
  trx: Knex.Transaction,
  businessDate: IsoDate,
  list: TierChangeList,
  fileId: number,
): Promise<void> {
  if (list.delivered) return;
  await trx('tier_events')
    .whereIn('id', (s) => takenBy(s.from('tier_events as t'), trx, businessDate, list).select('t.id'))
    .update({ mailing_file_id: fileId });
  await trx('tier_events').where('mailing_file_id', fileId).update({ mailing_superseded: false });
  await trx('tier_events')
    .whereIn('id', (s) =>
      s
        .from('tier_events as t')
        .where('t.mailing_file_id', fileId)
        .whereExists(supersededElsewhere(trx, fileId))
        .select('t.id'),
    )
    .update({ mailing_superseded: true });
}

export async function* tierChanges(
  q: Q,
  businessDate: IsoDate,
  policy: MailingPolicy,
  list: TierChangeList,
): AsyncGenerator<TierChangeRow> {
  for await (const page of mailableMembers(q, 'TIER_CHANGE', 'ACTIVE', (b) =>
    b.whereExists((s) =>
      takenBy(s.select(q.raw('1')).from('tier_events as t'), q, businessDate, list).whereRaw(
        't.member_id = m.id',
      ),
    ),
  )) {
    const events = (await mailedBy(takenBy(q('tier_events as t'), q, businessDate, list), q, list)
      .whereIn(
        't.member_id',
        page.map((m) => m.id),
      )
      .orderBy('t.id')
      .select('t.member_id', 't.from_tier', 't.to_tier', 't.effective_on', 't.business_date')) as Array<{
      member_id: number;
      from_tier: string | null;
      to_tier: string;
      effective_on: string | null;
      business_date: string;
    }>;
    // Several events in one list (an upgrade through two tiers, one recorded late beside tonight's) make
    // one mailing: first tier to last, effective when the last took effect (a review caught up late, a
    // closed year's upgrade: its date, not the night that recorded it).
    const span = new Map<number, { from: string | null; to: string; effective: IsoDate }>();
    for (const e of events) {
      const id = Number(e.member_id);
      const s = span.get(id);
      span.set(id, {
        from: s ? s.from : e.from_tier,
        to: e.to_tier,
        effective: e.effective_on ?? e.business_date,
      });
    }
    for (const m of page) {
      const s = span.get(m.id);
      if (!s || s.from === s.to) continue;
      const rank = (code: string) => policy.program.tierRank(code);
      const up = rank(s.to) > (s.from === null ? -1 : rank(s.from));
      yield {
        ...addressee(m),
        fromTier: s.from,
        toTier: s.to,
        direction: up ? 'UP' : 'DOWN',
        newCardReady: up,
        effectiveDate: s.effective,
      };
    }
  }
}

export async function* incompleteRegistrations(
  q: Q,
  businessDate: IsoDate,
  policy: MailingPolicy,
): AsyncGenerator<IncompleteRegistrationRow> {
  const enrolled = addDays(businessDate, -policy.incompleteAfterDays);
  for await (const page of mailableMembers(q, 'INCOMPLETE_REGISTRATION', 'INCOMPLETE', (b) =>
    b.where('m.enrolment_date', enrolled),
  )) {
    for (const m of page) {
      const { surname: _surname, ...who } = addressee(m);
      yield { ...who, enrolmentDate: enrolled };
    }
  }
}

export async function* accountClosures(q: Q, businessDate: IsoDate): AsyncGenerator<AccountClosureRow> {
  for await (const page of mailableMembers(q, 'ACCOUNT_CLOSURE', 'CLOSED', (b) =>
    b.where('m.closed_on', businessDate),
  )) {
    for (const m of page) yield { ...addressee(m), closedOn: businessDate };
  }
}

/**
 * The rows of the list of `kind` for `businessDate`. A TIER_CHANGE list's rows depend on which events it
 * takes (`list`); without one, those its first write would take now.
 */
export async function* mailingRows(
  q: Q,
  kind: MailingKind,
  businessDate: IsoDate,
  policy: MailingPolicy,
  list?: TierChangeList,
): AsyncGenerator<MailingRow> {
  switch (kind) {
    case 'EXPIRY_WARNING':
      return yield* expiryWarnings(q, businessDate, policy);
    case 'BALANCE_STATEMENT':
      return yield* balanceStatements(q, businessDate);
    case 'TIER_CHANGE':
      return yield* tierChanges(q, businessDate, policy, list ?? (await tierChangeList(q, null)));
    case 'INCOMPLETE_REGISTRATION':
      return yield* incompleteRegistrations(q, businessDate, policy);
    case 'ACCOUNT_CLOSURE':
      return yield* accountClosures(q, businessDate);
  }
}
