/**
 * A program's history built through the real APIs, for the report tests and for looking at a rendered
 * report: members (some with names that try formula injection), a household pool, a few years of
 * old lots, then every day of a period with own flights, partner-airline flights, hotel stays, car
 * rentals and card spend, redemptions of every service type, reversals, adjustments, a merge, tier
 * changes, files with rejects, alliance claims and exchange rates, and the month-end expiry.
 *
 * Everything is derived from a seeded generator, so the same options give the same ledger.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseConfig, type LoadedConfig } from '../../config/load.js';
import type { Db } from '../../db/connection.js';
import { postingIdsOf } from '../../jobs/activities.js';
import { Accounts } from '../../ledger/accounts.js';
import { Ledger } from '../../ledger/ledger.js';
import { insertMember, insertPool, updateMember } from '../../ledger/members.js';
import { findAccount, openLots } from '../../ledger/queries.js';
import type { PostingInput, PostingRequest } from '../../ledger/types.js';
import { chunks } from '../../lib/chunks.js';
import { addDays, addMonths, eachDay, endOfMonth, type IsoDate } from '../../lib/dates.js';
import { withCheckDigit } from '../../rules/check-digit.js';
import type { ReportResult } from '../../reports/common.js';
import { createCanvas, loadImage } from '@napi-rs/canvas';
import { expect } from 'vitest';
import type { DumpedCell, XlsxDump } from './openpyxl.js';
import { insertedId } from '../../db/rows.js';

export const EXAMPLE_CONFIG = join(import.meta.dirname, '..', '..', 'examples', 'redeye.config.yaml');

export interface ScenarioConfigOptions {
  /** Point `mail.smtp` at a test server (no TLS, no login). */
  smtp?: { host: string; port: number };
  /** A partner whose configured name tries formula injection. */
  hostilePartnerName?: boolean;
  /** Replaces the demo's custom reports (YAML text of the `custom:` list items, indented by 4). */
  customReports?: string;
}

export const HOSTILE_PARTNER_NAME = '=HYPERLINK("http://evil.example","Drive")';

/**
 * The demo configuration, written to `<dir>/conf/redeye.config.yaml` (so its `../var/...` folders are
 * under `dir`) and loaded from there: the command line can be pointed at the same file.
 */
export function scenarioConfig(dir: string, options: ScenarioConfigOptions = {}): LoadedConfig {
  let text = readFileSync(EXAMPLE_CONFIG, 'utf8');
  const replace = (from: string | RegExp, to: string) => {
    const next = text.replace(from, to);
    if (next === text) throw new Error(`the example configuration no longer contains ${String(from)}`);
    text = next;
  };
  if (options.smtp) {
    replace(
      /smtp: \{[^}]*\}/,
      `smtp: { host: ${options.smtp.host}, port: ${options.smtp.port}, secure: false }`,
    );
  }
  if (options.hostilePartnerName) {
    replace('name: Drive Car Rental', `name: '${HOSTILE_PARTNER_NAME}'`);
  }
  if (options.customReports !== undefined) {
    replace(/ {2}custom:\n(?: {4}.*\n)+/, `  custom:\n${options.customReports}`);
  }
  const path = join(dir, 'conf', 'redeye.config.yaml');
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return parseConfig(text, path, {});
}

export interface ScenarioOptions {
  /** First day of daily activity; old lots are credited the day before. */
  from: IsoDate;
  /** Last day of activity (the scenario may run past the report date, to prove reports are as of it). */
  to: IsoDate;
  members: number;
  /** Activities per day, roughly. */
  perDay: number;
  seed?: number;
  /** Merge member `from` (index) into member `into` at the end of `on`: a TRANSFER posting. */
  merge?: { from: number; into: number; on: IsoDate };
}

export const INJECTION_NAMES: ReadonlyArray<readonly [string, string]> = [
  ['=HYPERLINK("http://evil.example","click")', 'Eve'],
  ['+1+2', '@SUM(A1:A9)'],
  ['-3+4', "=cmd|' /C calc'!A0"],
];

const SURNAMES = [
  'Ivanova',
  'Smith',
  'Müller',
  'García',
  'Dubois',
  'Rossi',
  'Novak',
  'Kowalski',
  'Tanaka',
  'Okafor',
];
const GIVEN = ['Anna', 'John', 'Jürgen', 'María', 'Claire', 'Luca', 'Petra', 'Jan', 'Yuki', 'Chinedu'];
const ROUTES: ReadonlyArray<readonly [string, string, number]> = [
  ['DME', 'LED', 400],
  ['LED', 'DME', 400],
  ['DME', 'AER', 870],
  ['AER', 'DME', 870],
  ['DME', 'KZN', 450],
  ['SVO', 'FRA', 1260],
  ['FRA', 'SVO', 1260],
  ['DME', 'IST', 1090],
  ['DME', 'DXB', 2300],
  ['LED', 'AER', 1240],
  ['DME', 'OVB', 1750],
  ['OVB', 'DME', 1750],
];
const CABIN_CLASSES: ReadonlyArray<readonly [string, string, number]> = [
  ['Y', 'Y', 1],
  ['Y', 'M', 1],
  ['Y', 'Q', 0.5],
  ['Y', 'T', 0.25],
  ['W', 'W', 1.5],
  ['C', 'J', 2],
];
const SERVICES: ReadonlyArray<readonly [string, number]> = [
  ['AWARD_TICKET', 12000],
  ['AWARD_TICKET', 8000],
  ['UPGRADE', 6000],
  ['EXCESS_BAGGAGE', 2500],
  ['SEAT', 800],
  ['LOUNGE', 2000],
  ['PARTNER_REWARD', 3000],
  ['CHARITY', 1000],
  ['OTHER', 500],
];
const REJECT_REASONS = ['UNKNOWN_MEMBER', 'NAME_MISMATCH', 'DUPLICATE', 'BAD_DATE', 'OUTSIDE_CLAIM_WINDOW'];

/** mulberry32: small, fast, and the same sequence everywhere. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Scenario {
  config: LoadedConfig;
  members: string[];
  pool: string;
  ledger: Ledger;
}

const MEMBER_RULE = { pattern: '^[0-9]{10}$', checkDigit: 'luhn' as const };

export function memberNumber(i: number): string {
  return withCheckDigit(String(100_000_000 + i), MEMBER_RULE);
}

/** Builds the scenario in `db` (migrated) and returns what the tests need to know about it. */
export async function buildScenario(
  db: Db,
  config: LoadedConfig,
  options: ScenarioOptions,
): Promise<Scenario> {
  const random = generator(options.seed ?? 20260531);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const knex = db.knex;
  const stamp = new Date(`${options.from}T00:00:00Z`);
  const ledger = new Ledger(db, { now: () => stamp });
  const tiers = config.tiers[0]!.levels.map((l) => l.code);

  const pool = 'HH-IVANOV';
  const poolId = await insertPool(knex, pool, 'HOUSEHOLD', stamp);
  const numbers: string[] = [];
  const tierOf = new Map<string, string>();
  for (let i = 0; i < options.members; i++) {
    const number = memberNumber(i);
    const injected = INJECTION_NAMES[i - 1];
    const tier = i % 10 === 0 ? 'GOLD' : i % 4 === 0 ? 'SILVER' : i % 23 === 0 ? 'PLATINUM' : 'MEMBER';
    await insertMember(
      knex,
      {
        number,
        status: 'ACTIVE',
        surname: injected ? injected[0] : SURNAMES[i % SURNAMES.length]!,
        givenName: injected ? injected[1] : GIVEN[(i * 7) % GIVEN.length]!,
        enrolmentDate: addDays(options.from, -400 + (i % 300)),
        tier,
        poolId: i === 5 || i === 6 ? poolId : null,
      },
      stamp,
    );
    numbers.push(number);
    tierOf.set(number, tier);
  }
  const partnerAccount = (code: string) => Accounts.partner(code);
  const balance = new Map<string, number>();
  const credit = (account: string, points: number) =>
    balance.set(account, (balance.get(account) ?? 0) + points);

  // Old lots, earned years ago, expiring month by month from the scenario's first months on.
  const opening = addDays(options.from, -1);
  // Old lots expire in every month of the scenario, so each month end has points to expire.
  const monthIndex = (d: IsoDate) => Number(d.slice(0, 4)) * 12 + Number(d.slice(5, 7));
  const span = monthIndex(options.to) - monthIndex(options.from) + 1;
  const old: PostingRequest[] = [];
  numbers.forEach((number, i) => {
    for (let k = 0; k < 3; k++) {
      const earnedOn = `${addMonths(options.from, -36 + ((i + k * 5) % span)).slice(0, 7)}-15`;
      const points = 500 + ((i * 37 + k * 101) % 2500);
      old.push({
        key: `HISTORY:${number}:${k}`,
        kind: 'ACCRUAL',
        businessDate: opening,
        channel: 'OWN_FLIGHTS',
        activityDate: earnedOn,
        entries: [
          {
            account: Accounts.memberPoints(number),
            amount: points,
            earnedOn,
            expiresOn: endOfMonth(addMonths(earnedOn, 36)),
          },
          { account: Accounts.ownFlights, amount: -points },
        ],
      });
      credit(Accounts.memberPoints(number), points);
    }
  });
  await ledger.post(old);

  const accruals: string[] = [];
  const redemptions: string[] = [];
  let serial = 0;
  let ticket = 5_550_000_000;
  for (const day of eachDay(options.from, options.to)) {
    const batch: PostingRequest[] = [];
    const activities: Record<string, unknown>[] = [];
    const expires = endOfMonth(addMonths(day, 36));
    const updated = `${day}T23:00:00Z`;
    const activity = (row: Record<string, unknown>) =>
      activities.push({
        business_date: day,
        activity_date: day,
        status: 'POSTED',
        needs_accrual: false,
        updated_at: updated,
        // A multi-row insert writes NULL, not the column default, where a row lacks a column.
        points: 0,
        status_credit: 0,
        seen_ftl: false,
        seen_coupon: false,
        ...row,
      });
    const accrue = (
      input: Omit<PostingInput, 'kind' | 'businessDate'> & { points: number; member: string },
    ) => {
      const { points, member, ...rest } = input;
      const account = member === pool ? Accounts.poolPoints(pool) : Accounts.memberPoints(member);
      batch.push({
        kind: 'ACCRUAL',
        businessDate: day,
        activityDate: day,
        ...rest,
        entries: [{ account, amount: points, expiresOn: expires }, ...rest.entries],
      });
      credit(account, points);
      accruals.push(rest.key);
    };

    const count = Math.max(1, Math.round(options.perDay * (0.6 + random() * 0.8)));
    for (let n = 0; n < count; n++) {
      const member = pick(numbers);
      const roll = random();
      serial++;
      if (roll < 0.55) {
        const [origin, destination, miles] = pick(ROUTES);
        const [cabin, booked, rate] = pick(CABIN_CLASSES);
        const points = Math.max(250, Math.floor(miles * rate));
        const spend = int(80, 900) * 100;
        ticket++;
        const key = `FLOWN:${ticket}:1`;
        accrue({
          key,
          member,
          points,
          channel: 'OWN_FLIGHTS',
          memberNumber: member,
          entries: [{ account: Accounts.ownFlights, amount: -points }],
          statusCredits: [{ memberNumber: member, metric: 'SPEND', amount: spend, activityDate: day }],
        });
        activity({
          activity_key: `FLIGHT:XX${100 + (serial % 50)}:${day}:${origin}:${ticket}`,
          type: 'FLIGHT',
          member_number: member,
          channel: 'OWN_FLIGHTS',
          carrier: 'XX',
          flight_number: String(100 + (serial % 50)),
          origin,
          destination,
          cabin,
          booked_class: booked,
          flown_class: booked,
          ticket_number: String(ticket),
          coupon_number: 1,
          miles,
          base_spend_minor: spend,
          points,
          status_credit: spend,
          posting_key: key,
        });
      } else if (roll < 0.65) {
        const partner = random() < 0.6 ? 'LH' : 'IB';
        const [origin, destination, miles] = pick(ROUTES);
        const points = Math.max(500, miles);
        const key = `PARTNER_AIRLINE:${partner}:${serial}`;
        accrue({
          key,
          member,
          points,
          channel: `PARTNER_AIRLINE:${partner}`,
          entries: [{ account: partnerAccount(partner), amount: -points }],
        });
        activity({
          activity_key: `PARTNER_FLIGHT:${partner}:${serial}`,
          type: 'PARTNER_FLIGHT',
          member_number: member,
          channel: `PARTNER_AIRLINE:${partner}`,
          partner_code: partner,
          carrier: partner,
          origin,
          destination,
          cabin: 'Y',
          points,
          posting_key: key,
        });
      } else if (roll < 0.85) {
        const partner = pick(['GRANDSTAY', 'GRANDSTAY', 'DRIVE', 'REDBANK']);
        const spend = int(50, 1200) * 100;
        const points =
          partner === 'DRIVE' ? 500 : Math.floor(spend / 100) * (partner === 'GRANDSTAY' ? 2 : 1);
        const key = `PARTNER:${partner}:${serial}`;
        accrue({
          key,
          member: member === numbers[5] ? pool : member,
          points,
          channel: `PARTNER:${partner}`,
          memberNumber: member,
          entries: [{ account: partnerAccount(partner), amount: -points }],
        });
        activity({
          activity_key: `PARTNER:${partner}:${serial}`,
          type: partner === 'GRANDSTAY' ? 'HOTEL' : 'PARTNER',
          member_number: member,
          channel: `PARTNER:${partner}`,
          partner_code: partner,
          activity_type: partner === 'GRANDSTAY' ? 'STAY' : partner === 'DRIVE' ? 'RENTAL' : 'CARD_SPEND',
          base_spend_minor: spend,
          points,
          posting_key: key,
        });
      } else {
        const [service, wanted] = pick(SERVICES);
        const account = Accounts.memberPoints(member);
        const available = balance.get(account) ?? 0;
        const points = Math.min(wanted, Math.floor(available / 2));
        if (points <= 0) continue;
        const key = `REDEMPTION:R${serial}`;
        batch.push({
          key,
          kind: 'REDEMPTION',
          businessDate: day,
          activityDate: day,
          channel: `REDEMPTION:${service}`,
          entries: [
            { account, amount: -points },
            { account: Accounts.redemption(service), amount: points },
          ],
        });
        credit(account, -points);
        redemptions.push(key);
        activity({
          activity_key: `REDEMPTION:R${serial}`,
          type: 'REDEMPTION',
          member_number: member,
          channel: `REDEMPTION:${service}`,
          service_type: service,
          points,
          posting_key: key,
        });
      }
    }

    const weekday = new Date(`${day}T00:00:00Z`).getUTCDay();
    if (weekday === 2 && accruals.length > 10) {
      // Tuesdays: a corrected flight is reversed, and a goodwill adjustment is made.
      const original = accruals[accruals.length - 7]!;
      batch.push({ key: `REV:${original}`, reverses: original, businessDate: day });
      const member = pick(numbers);
      batch.push({
        key: `ADJ:${day}`,
        kind: 'ADJUSTMENT',
        businessDate: day,
        channel: 'ADJUSTMENT',
        entries: [
          { account: Accounts.memberPoints(member), amount: 750, expiresOn: expires },
          { account: Accounts.adjustment, amount: -750 },
        ],
      });
      credit(Accounts.memberPoints(member), 750);
    }
    if (weekday === 4 && redemptions.length > 3) {
      const original = redemptions[redemptions.length - 2]!;
      batch.push({ key: `REV:${original}`, reverses: original, businessDate: day });
    }
    const results = await ledger.post(batch, { atomic: false });
    for (const r of results) {
      // A correction whose points were already spent is refused, as the ledger should; nothing else may be.
      if (r.status === 'refused' && !r.key.startsWith('REV:')) {
        throw new Error(`scenario posting refused: ${r.key} ${r.message}`);
      }
    }
    // Reversals change balances the generator tracks only roughly; reread the accounts it may spend from.
    for (const row of (await knex('accounts')
      .where('kind', 'MEMBER_POINTS')
      .select('code', 'balance')) as Array<{
      code: string;
      balance: number | string;
    }>) {
      balance.set(row.code, Number(row.balance));
    }
    if (activities.length > 0) {
      const ids = new Map(
        (
          (await knex('members')
            .whereIn('number', [...new Set(activities.map((a) => a.member_number as string))])
            .select('id', 'number')) as Array<{ id: number; number: string }>
        ).map((m) => [m.number, m.id]),
      );
      const postingIds = await postingIdsOf(
        knex,
        activities.map((a) => ({ postingKey: a.posting_key as string })),
        results,
      );
      for (const a of activities) {
        a.member_id = ids.get(a.member_number as string) ?? null;
        a.posting_id = postingIds.get(a.posting_key as string) ?? null;
      }
      for (const part of chunks(activities, 200)) await knex('activities').insert(part);
    }

    // The night's files, their rejects, tier changes and alliance claims.
    const files = int(2, 4);
    for (let f = 0; f < files; f++) {
      const rejected = f === 0 && weekday === 1;
      const feed = pick(['flown', 'partner', 'hotel', 'redemptions']);
      const rejectCount = rejected ? 0 : int(0, 3);
      const [row] = await knex('files')
        .insert({
          direction: 'in',
          feed,
          name: `${feed.toUpperCase()}_${day.replace(/-/g, '')}_${f + 1}.${feed === 'hotel' ? 'xml' : 'csv'}`,
          size: 1000 + f,
          sha256: `${day.replace(/-/g, '')}${f}`.padEnd(64, '0'),
          business_date: day,
          partner_code: feed === 'partner' ? 'REDBANK' : feed === 'hotel' ? 'GRANDSTAY' : null,
          verdict: rejected ? 'rejected' : 'accepted',
          reason: rejected ? 'BAD_TRAILER' : null,
          counts: JSON.stringify(rejected ? { records: 0 } : { records: 20 + f, rejects: rejectCount }),
          created_at: updated,
        })
        .returning('id');
      const fileId = insertedId(row);
      for (let r = 0; r < rejectCount; r++) {
        await knex('rejects').insert({
          file_id: fileId,
          feed,
          line: 2 + r,
          field: 'member_number',
          reason: pick(REJECT_REASONS),
          message: 'member not found',
          text: `${day};${r};record`,
          business_date: day,
          created_at: updated,
        });
      }
    }
    if (weekday === 5) {
      const member = numbers[int(0, numbers.length - 1)]!;
      const from = tierOf.get(member)!;
      const up = tiers.indexOf(from) < tiers.length - 1;
      const to = up ? tiers[tiers.indexOf(from) + 1]! : tiers[tiers.indexOf(from) - 1]!;
      const memberId = ((await knex('members').where({ number: member }).first('id')) as { id: number }).id;
      await knex('tier_events').insert({
        event_key: `TIER:${member}:${day}`,
        member_id: memberId,
        business_date: day,
        from_tier: from,
        to_tier: to,
        direction: up ? 'UP' : 'DOWN',
        qualification: int(50_000, 600_000),
        reason: up ? 'THRESHOLD' : 'REVIEW',
        created_at: updated,
      });
      await updateMember(knex, member, { tier: to, tierSince: day });
      tierOf.set(member, to);
    }
    if (weekday === 3) {
      await knex('alliance_claims').insert({
        direction: 'OUT',
        partner_code: pick(['LH', 'IB']),
        claim_id: `C${day.replace(/-/g, '')}`,
        business_date: day,
        claim: '{}',
        status: day < addDays(options.to, -20) ? 'ACCEPTED' : 'SENT',
        points: 1200,
        answered_on: day < addDays(options.to, -20) ? addDays(day, 3) : null,
      });
    }
    if (weekday >= 1 && weekday <= 5) {
      await knex('fx_rates').insert([
        { rate_date: day, currency: 'USD', rate: (1.08 + ((serial % 7) - 3) / 1000).toFixed(4) },
        { rate_date: day, currency: 'RUB', rate: '95.1234' },
      ]);
    }

    if (options.merge && options.merge.on === day) {
      await mergeMembers(ledger, db, numbers[options.merge.from]!, numbers[options.merge.into]!, day);
    }
    // Month end: the points whose lots reached their expiry date expire.
    if (day === endOfMonth(day)) await expireDue(ledger, db, day);
  }
  return { config, members: numbers, pool, ledger };
}

async function expireDue(ledger: Ledger, db: Db, day: IsoDate): Promise<void> {
  const accounts = (await db
    .knex('accounts')
    .whereIn('kind', ['MEMBER_POINTS', 'POOL_POINTS'])
    .orderBy('code')
    .select('code')) as Array<{ code: string }>;
  const batch: PostingInput[] = [];
  for (const { code } of accounts) {
    const due = (await openLots(db.knex, code)).filter((l) => l.expiresOn !== null && l.expiresOn <= day);
    if (due.length === 0) continue;
    const points = due.reduce((s, l) => s + l.remaining, 0);
    batch.push({
      key: `EXPIRY:${code}:${day}`,
      kind: 'EXPIRY',
      businessDate: day,
      channel: 'EXPIRY',
      entries: [
        ...due.map((l) => ({ account: code, amount: -l.remaining, lotId: l.id })),
        { account: Accounts.expiry, amount: points },
      ],
    });
  }
  if (batch.length > 0) await ledger.post(batch);
}

/** Merges `from` into `to`: the points move with their lots (a TRANSFER posting). */
async function mergeMembers(ledger: Ledger, db: Db, from: string, to: string, day: IsoDate): Promise<void> {
  const account = Accounts.memberPoints(from);
  const points = Number((await findAccount(db.knex, account))?.balance ?? 0);
  await updateMember(db.knex, from, { status: 'MERGED', mergedInto: to });
  if (points === 0) return;
  await ledger.post([
    {
      key: `MERGE:${from}:${to}`,
      kind: 'TRANSFER',
      businessDate: day,
      channel: 'TRANSFER',
      carryLots: true,
      entries: [
        { account, amount: -points },
        { account: Accounts.memberPoints(to), amount: points },
      ],
    },
  ]);
}

/** What a chart PNG holds: its size, how many colours, how many pixels are not background white. */
export async function pngStats(
  png: Buffer,
): Promise<{ width: number; height: number; colours: number; inked: number }> {
  const image = await loadImage(png);
  const canvas = createCanvas(image.width, image.height);
  const context = canvas.getContext('2d');
  context.drawImage(image, 0, 0);
  const { data } = context.getImageData(0, 0, image.width, image.height);
  const colours = new Set<number>();
  let inked = 0;
  for (let i = 0; i < data.length; i += 4) {
    const [r, g, b, a] = [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
    colours.add(((r << 16) | (g << 8) | b) * 256 + a);
    if (a > 0 && (r < 250 || g < 250 || b < 250)) inked++;
  }
  return { width: image.width, height: image.height, colours: colours.size, inked };
}

export interface DumpedTable {
  headers: string[];
  rows: DumpedCell[][];
  totals: DumpedCell[] | undefined;
  /** Cell of a data row (or the totals row) by column header. */
  cell(row: DumpedCell[], header: string): DumpedCell;
  /** The data row whose first cell is `label`. */
  row(label: string): DumpedCell[];
}

/** The table of a sheet dumped by openpyxl: the row with the header fill, the rows under it, the bold totals row. */
export function tableOf(dump: XlsxDump, name: string): DumpedTable {
  const sheet = dump.sheets.find((s) => s.name === name);
  if (!sheet) throw new Error(`no sheet ${name} in ${dump.sheets.map((s) => s.name).join(', ')}`);
  const at = sheet.rows.findIndex((r) => r[0]?.fill !== null && r[0]?.fill !== undefined && r[0].bold);
  if (at < 0) throw new Error(`sheet ${name} has no header row`);
  const headers = sheet.rows[at]!.map((c) => String(c.value ?? ''));
  const rows: DumpedCell[][] = [];
  let totals: DumpedCell[] | undefined;
  for (const r of sheet.rows.slice(at + 1)) {
    if (r.every((c) => c.value === null)) break;
    if (r.some((c) => c.bold)) {
      totals = r;
      break;
    }
    rows.push(r);
  }
  const index = (header: string) => {
    const i = headers.indexOf(header);
    if (i < 0) throw new Error(`sheet ${name} has no column ${header} (has ${headers.join(', ')})`);
    return i;
  };
  return {
    headers,
    rows,
    totals,
    cell: (row, header) => row[index(header)]!,
    row: (label) => {
      const found = rows.find((r) => r[0]?.value === label);
      if (!found) throw new Error(`sheet ${name} has no row ${label}`);
      return found;
    },
  };
}

/** Two runs of a report wrote the same workbook and the same charts, byte for byte. */
export function sameFiles(a: ReportResult, b: ReportResult): void {
  expect(readFileSync(b.workbookPath).equals(readFileSync(a.workbookPath))).toBe(true);
  expect(b.chartPaths.length).toBe(a.chartPaths.length);
  for (let i = 0; i < a.chartPaths.length; i++) {
    expect(readFileSync(b.chartPaths[i]!).equals(readFileSync(a.chartPaths[i]!)), b.chartPaths[i]).toBe(true);
  }
}

/** Posts one request on the scenario's ledger, as a later night would, and returns its posting id. */
export async function postOne(scenario: Scenario, request: PostingRequest): Promise<number> {
  const [result] = await scenario.ledger.post([request]);
  if (result?.status !== 'posted') throw new Error(`not posted: ${JSON.stringify(result)}`);
  return result.postingId!;
}

/**
 * Member `from` merged into `into` on `day` as the member-master ingest leaves it: MERGED, closed that
 * night, and its points moved to the survivor with their lots by the `MERGE:<from>:<into>` transfer.
 * `closedOn: false` leaves no closing date, as a merge written by something other than the ingest.
 * Returns the points moved.
 */
export async function mergeMember(
  scenario: Scenario,
  from: string,
  into: string,
  day: IsoDate,
  options: { closedOn?: boolean } = {},
): Promise<number> {
  const knex = scenario.ledger.db.knex;
  const points = Number((await findAccount(knex, Accounts.memberPoints(from)))?.balance ?? 0);
  await updateMember(knex, from, {
    status: 'MERGED',
    mergedInto: into,
    ...(options.closedOn === false ? {} : { closedOn: day }),
  });
  await postOne(scenario, {
    key: `MERGE:${from}:${into}`,
    kind: 'TRANSFER',
    businessDate: day,
    channel: 'TRANSFER',
    memberNumber: into,
    carryLots: true,
    entries: [
      { account: Accounts.memberPoints(from), amount: -points },
      { account: Accounts.memberPoints(into), amount: points },
    ],
    sourceRef: `merge of ${from} into ${into}`,
  });
  return points;
}

/** The register's id of member `number`. */
export async function memberId(scenario: Scenario, number: string): Promise<number> {
  return ((await scenario.ledger.db.knex('members').where({ number }).first('id')) as { id: number }).id;
}

/** An archive row as the ingest and accrue jobs leave it for an activity credited on `day`. */
export function archiveRow(day: IsoDate, row: Record<string, unknown>): Record<string, unknown> {
  return {
    activity_date: day,
    business_date: day,
    status: 'POSTED',
    needs_accrual: false,
    status_credit: 0,
    updated_at: `${day}T23:00:00Z`,
    ...row,
  };
}

export interface StayOptions {
  /** The stay's posting key, activity key and external reference. */
  key: string;
  day: IsoDate;
  member: string;
  spendMinor: number;
  points: number;
  /** Further columns of the archive row. */
  archive?: Record<string, unknown>;
}

/** The archive columns every GRANDSTAY hotel stay and reversal record of `member` shares. */
function grandstayRow(day: IsoDate, member: string, row: Record<string, unknown>) {
  return archiveRow(day, {
    type: 'HOTEL',
    member_number: member,
    channel: 'PARTNER:GRANDSTAY',
    partner_code: 'GRANDSTAY',
    activity_type: 'STAY',
    ...row,
  });
}

/** A GRANDSTAY hotel stay credited on `day` as the accrue job posts it, with its archive row. */
export async function stay(scenario: Scenario, options: StayOptions): Promise<void> {
  const { key, day, member, spendMinor, points } = options;
  const postingId = await postOne(scenario, {
    key,
    kind: 'ACCRUAL',
    businessDate: day,
    activityDate: day,
    channel: 'PARTNER:GRANDSTAY',
    memberNumber: member,
    entries: [
      { account: Accounts.memberPoints(member), amount: points, expiresOn: '2029-06-30' },
      { account: Accounts.partner('GRANDSTAY'), amount: -points },
    ],
  });
  await scenario.ledger.db.knex('activities').insert(
    grandstayRow(day, member, {
      activity_key: key,
      member_id: await memberId(scenario, member),
      external_ref: key,
      spend_minor: spendMinor,
      spend_currency: 'USD',
      base_spend_minor: spendMinor,
      points,
      posting_key: key,
      posting_id: postingId,
      ...options.archive,
    }),
  );
}

export interface ReversalOptions extends Omit<StayOptions, 'spendMinor'> {
  /** The spend the record takes back, written negative on its row; without it the row has no spend. */
  spendMinor?: number;
}

/**
 * GRANDSTAY's reversal record of the stay `key`, read and posted on `day`: a POSTED row of its own,
 * and the stay's row REVERSED.
 */
export async function reversal(scenario: Scenario, options: ReversalOptions): Promise<void> {
  const { key, day, member, spendMinor, points } = options;
  const knex = scenario.ledger.db.knex;
  const postingId = await postOne(scenario, { key: `${key}:REV`, reverses: key, businessDate: day });
  await knex('activities').insert(
    grandstayRow(day, member, {
      activity_key: `${key}-R`,
      member_id: await memberId(scenario, member),
      external_ref: `${key}-R`,
      reversal_of_ref: key,
      points_requested: -points,
      ...(spendMinor === undefined
        ? {}
        : { spend_minor: -spendMinor, spend_currency: 'USD', base_spend_minor: -spendMinor }),
      points: -points,
      posting_key: `${key}:REV`,
      posting_id: postingId,
      ...options.archive,
    }),
  );
  await knex('activities')
    .where({ activity_key: key })
    .update({ status: 'REVERSED', reason: 'REVERSED_BY_PARTNER' });
}
