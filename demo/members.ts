/**
 * The member base: people enrolled over the years through every channel, in households and corporate
 * pools, with consent per mailing kind, and what happens to the master data during the demo month
 * (enrolments, e-mail and phone changes, moves abroad, consent changes, completed registrations,
 * closures, merges of duplicate accounts), written as the CRM's full extract and daily deltas.
 */
import { addDays, daysBetween, eachDay, type IsoDate } from '../lib/dates.js';
import { MEMBER_COLUMNS } from '../parsers/members.js';
import { withCheckDigit, type MemberNumberRule } from '../rules/check-digit.js';
import { csvLine } from './csv.js';
import {
  emailFor,
  phoneFor,
  russianPerson,
  westernPerson,
  type Person,
  type WesternOrigin,
} from './names.js';
import { HUBS, MOSCOW, type Network } from './network.js';
import { Random, Weighted } from './random.js';

export const MEMBER_RULE: MemberNumberRule = { pattern: '^[0-9]{10}$', checkDigit: 'luhn' };

export type Channel = 'WEB' | 'APP' | 'AIRPORT' | 'CALLCENTER' | 'PARTNER';
export type Status = 'ACTIVE' | 'INCOMPLETE' | 'SUSPENDED' | 'CLOSED' | 'MERGED';

export const MAILING_KINDS = [
  'BALANCE_STATEMENT',
  'EXPIRY_WARNING',
  'TIER_CHANGE',
  'INCOMPLETE_REGISTRATION',
  'ACCOUNT_CLOSURE',
] as const;

export interface Member {
  index: number;
  number: string;
  person: Person;
  enrolmentDate: IsoDate;
  channel: Channel;
  status: Status;
  mergedInto: string | null;
  birthDate: string | null;
  email: string | null;
  phone: string | null;
  consent: string;
  group: { type: 'HOUSEHOLD' | 'CORPORATE'; id: string } | null;
  /** Airport the member flies from. */
  home: string;
  /** Flight segments a year (the member's habit; 0 for most). */
  segmentsPerYear: number;
  /** Chance of booking business where there is one. */
  premium: number;
  /** Timestamp of the member's latest master-data row, ISO 8601 with offset. */
  updatedAt: string;
  /** First date the account may earn (enrolment, or the day an incomplete registration is finished). */
  earnFrom: IsoDate | null;
  /** First date the account may no longer earn (closed or merged), or null. */
  earnUntil: IsoDate | null;
  /** Reads a Co-brand card statement: REDBANK cardholder. */
  cardholder: boolean;
  /** The account this one duplicates; it is merged into it during the month. */
  duplicateOf: Member | null;
  /** The record as it stood before the month (the first night's full extract), or null for new members. */
  baseRow: string[] | null;
}

export interface MemberChange {
  member: Member;
  /** The full record after the change (a delta row carries the whole record). */
  row: string[];
  updatedAt: string;
  kind: string;
}

export interface MemberBase {
  members: Member[];
  byNumber: Map<string, Member>;
  /** Per business date of the month, the rows of that night's delta file, in the order written. */
  deltas: Map<IsoDate, MemberChange[]>;
  /** A row the call centre's system delivers a night late, older than a row already sent. */
  lateRow: { night: IsoDate; change: MemberChange; supersededBy: MemberChange } | null;
  /** Merges of the month: the duplicate account and its survivor, by business date. */
  merges: Array<{ night: IsoDate; merged: Member; survivor: Member }>;
  closures: Array<{ night: IsoDate; member: Member }>;
}

const CHANNELS = new Weighted<Channel>([
  ['WEB', 36],
  ['APP', 24],
  ['AIRPORT', 16],
  ['CALLCENTER', 10],
  ['PARTNER', 14],
]);

const CORPORATES = [
  'SEVERSTAL',
  'ROSATOM',
  'SBERTECH',
  'MAGNIT',
  'NORNIKEL',
  'LUKOIL-IT',
  'POLYUS',
  'OZON',
  'KAMAZ',
  'AEROGEO',
];

function stamp(date: IsoDate, minuteOfDay: number, second = 0): string {
  const h = Math.floor(minuteOfDay / 60) % 24;
  const m = minuteOfDay % 60;
  return `${date}T${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(second).padStart(2, '0')}+03:00`;
}

function consentValue(random: Random): string {
  const r = random.next();
  if (r < 0.3) return 'Y';
  if (r < 0.48) return 'N';
  if (r < 0.62) return '';
  if (r < 0.82) {
    return MAILING_KINDS.slice(0, 3)
      .map((k) => `${k}:${random.chance(0.7) ? 'Y' : 'N'}`)
      .join(';');
  }
  return `N;${random.pick(['EXPIRY_WARNING', 'BALANCE_STATEMENT', 'TIER_CHANGE'])}:Y`;
}

/** Segments a year: most members hardly fly, one in thirty flies every week or two. */
function habit(random: Random): { segmentsPerYear: number; premium: number } {
  const r = random.next();
  if (r < 0.55) return { segmentsPerYear: random.chance(0.1) ? 1 : 0, premium: 0.02 };
  if (r < 0.88) return { segmentsPerYear: random.range(1, 6), premium: 0.04 };
  if (r < 0.97) return { segmentsPerYear: random.range(8, 24), premium: 0.12 };
  return { segmentsPerYear: random.range(30, 80), premium: 0.35 };
}

function homeFor(random: Random, person: Person, network: Network): string {
  const served = (code: string) => network.legsFrom.has(code);
  const foreign: Partial<Record<string, string[]>> = {
    DE: ['FRA', 'MUC', 'BER'],
    ES: ['MAD', 'BCN'],
    FR: ['CDG'],
    IT: ['FCO', 'MXP'],
  };
  const abroad = (foreign[person.country] ?? []).filter(served);
  if (abroad.length > 0 && random.chance(0.8)) return random.pick(abroad);
  const r = random.next();
  if (r < 0.66) return random.pick(MOSCOW.filter(served));
  if (r < 0.88 && served('LED')) return 'LED';
  const regional = [...network.legsFrom.keys()].filter(
    (c) => !HUBS.includes(c) && network.byLeg.has(`${c}-SVO`),
  );
  return regional.length > 0 ? random.pick(regional) : 'SVO';
}

export function memberNumberOf(index: number, offset: number): string {
  // A multiplier coprime to 9e8 walks every 9-digit base once, so numbers look scattered yet never collide.
  const base = 100_000_000 + ((index * 7919 + offset) % 900_000_000);
  return withCheckDigit(String(base), MEMBER_RULE);
}

export const MEMBER_HEADER = MEMBER_COLUMNS.map((c) => c.name);

export function memberRow(m: Member): string[] {
  const p = m.person;
  const incomplete = m.status === 'INCOMPLETE';
  return [
    m.number,
    m.status,
    m.mergedInto ?? '',
    m.enrolmentDate,
    m.channel,
    incomplete && !m.email ? '' : p.surname,
    incomplete && !m.email ? '' : p.givenName,
    p.surnameLocal ?? '',
    p.givenNameLocal ?? '',
    m.birthDate ?? '',
    m.email ?? '',
    m.phone ?? '',
    p.country,
    p.language,
    m.consent,
    m.group?.type ?? '',
    m.group?.id ?? '',
    m.updatedAt,
  ];
}

export function membersCsv(rows: readonly (readonly string[])[]): string {
  let out = csvLine(MEMBER_HEADER);
  for (const r of rows) out += csvLine(r);
  return out;
}

interface BaseOptions {
  seed: number;
  count: number;
  firstNight: IsoDate;
  lastNight: IsoDate;
  /** Earliest history flight date: members who fly must be open from then on. */
  historyFrom: IsoDate;
  network: Network;
}

function newMember(
  random: Random,
  index: number,
  offset: number,
  enrolmentDate: IsoDate,
  network: Network,
  person: Person,
): Member {
  const h = habit(random);
  const channel = enrolmentDate < '2016-01-01' && random.chance(0.5) ? 'WEB' : CHANNELS.pick(random);
  const adult = 18 + Math.floor(Math.abs(random.gaussian()) * 18 + random.int(12));
  const birthYear = Number(enrolmentDate.slice(0, 4)) - adult;
  return {
    index,
    number: memberNumberOf(index, offset),
    person,
    enrolmentDate,
    channel,
    status: 'ACTIVE',
    mergedInto: null,
    birthDate: random.chance(0.88)
      ? `${birthYear}-${String(random.range(1, 12)).padStart(2, '0')}-${String(random.range(1, 28)).padStart(2, '0')}`
      : null,
    email: random.chance(0.92) ? emailFor(random, person) : null,
    phone: random.chance(0.72) ? phoneFor(random, person.country) : null,
    consent: consentValue(random),
    group: null,
    home: homeFor(random, person, network),
    segmentsPerYear: h.segmentsPerYear,
    premium: h.premium,
    updatedAt: stamp(enrolmentDate, random.range(420, 1380), random.int(60)),
    earnFrom: enrolmentDate,
    earnUntil: null,
    cardholder: false,
    duplicateOf: null,
    baseRow: null,
  };
}

/** Where the members not from Russia come from. */
const WESTERN_ORIGINS = new Weighted<WesternOrigin>([
  ['DE', 35],
  ['ES', 25],
  ['FR', 15],
  ['IT', 15],
  ['GB', 10],
]);

function personFor(random: Random): Person {
  const r = random.next();
  if (r < 0.9)
    return russianPerson(random, { withLocal: random.chance(0.75), olderSpelling: random.chance(0.12) });
  return westernPerson(random, WESTERN_ORIGINS.pick(random));
}

export function generateMembers(options: BaseOptions): MemberBase {
  const { count, firstNight, lastNight, network } = options;
  const random = Random.stream(options.seed, 'members');
  const offset = random.int(900_000_000);
  const members: Member[] = [];
  const lastBaseDay = addDays(firstNight, -1);
  const spanDays = daysBetween('2012-03-01', lastBaseDay);

  // The base: enrolled before the month, more of them recently, as programs grow.
  while (members.length < count) {
    const back = Math.floor(spanDays * Math.pow(random.next(), 1.6));
    const enrolled = addDays(lastBaseDay, -back);
    const person = personFor(random);
    const m = newMember(random, members.length, offset, enrolled, network, person);
    members.push(m);
    // Households: a family enrolled around the same time, sharing surname, home and country.
    if (person.family !== undefined && random.chance(0.025) && members.length < count - 4) {
      const id = `HH-${String(100_000 + members.length).slice(-6)}`;
      m.group = { type: 'HOUSEHOLD', id };
      for (let k = random.range(1, 3); k > 0; k--) {
        const relative = russianPerson(random, {
          withLocal: person.surnameLocal !== null,
          olderSpelling: random.chance(0.12),
          family: person.family,
        });
        const joined = addDays(enrolled, random.range(0, 300));
        const r = newMember(
          random,
          members.length,
          offset,
          joined > lastBaseDay ? lastBaseDay : joined,
          network,
          relative,
        );
        r.home = m.home;
        r.group = { type: 'HOUSEHOLD', id };
        members.push(r);
      }
    }
  }
  members.length = count;

  // Corporate pools: employees of a client company, with the company's mail domain.
  for (const m of members) {
    if (m.group === null && m.person.country === 'RU' && random.chance(0.03)) {
      const company = random.pick(CORPORATES);
      m.group = { type: 'CORPORATE', id: `CORP-${company}` };
      m.email = emailFor(random, m.person, `${company.toLowerCase()}.ru`);
      m.segmentsPerYear = Math.max(m.segmentsPerYear, random.range(6, 30));
      m.premium = Math.max(m.premium, 0.2);
    }
  }

  // Statuses at the start of the month.
  for (const m of members) {
    const r = random.next();
    if (r < 0.03) {
      m.status = 'INCOMPLETE';
      m.earnFrom = null;
      if (random.chance(0.5)) m.email = null;
      m.phone = null;
      m.birthDate = null;
    } else if (r < 0.033) {
      m.status = 'SUSPENDED';
      m.earnFrom = null;
    } else if (r < 0.043 && m.enrolmentDate < addDays(options.historyFrom, -400) && m.group === null) {
      // Closed long before the history the demo carries: nothing of theirs is left to post.
      m.status = 'CLOSED';
      m.earnUntil = addDays(options.historyFrom, -random.range(30, 900));
      m.updatedAt = stamp(m.earnUntil, random.range(480, 1200), random.int(60));
      m.earnFrom = null;
    }
    m.cardholder = m.status === 'ACTIVE' && random.chance(m.person.country === 'RU' ? 0.09 : 0.02);
  }

  const byNumber = new Map(members.map((m) => [m.number, m]));
  const deltas = new Map<IsoDate, MemberChange[]>();
  const merges: MemberBase['merges'] = [];
  const closures: MemberBase['closures'] = [];
  const nights = [...eachDay(firstNight, lastNight)];
  const push = (night: IsoDate, m: Member, kind: string, minute: number) => {
    m.updatedAt = stamp(night, minute, random.int(60));
    const change: MemberChange = { member: m, row: memberRow(m), updatedAt: m.updatedAt, kind };
    const list = deltas.get(night) ?? [];
    list.push(change);
    deltas.set(night, list);
    return change;
  };
  const open = () => {
    for (let tries = 0; tries < 50; tries++) {
      const m = members[random.int(members.length)]!;
      if (m.status === 'ACTIVE' && m.duplicateOf === null && m.earnUntil === null) return m;
    }
    return null;
  };

  // Duplicate accounts: the same person enrolled twice; the newer account is merged into the older one
  // during the month (the CRM found the duplicate), moving its points and status credits.
  const mergeCount = Math.max(1, Math.round(count / 12_000));
  const mergeNights = random.sample(nights.slice(2, -3), mergeCount).sort();
  for (const night of mergeNights) {
    for (let tries = 0; tries < 200; tries++) {
      const survivor = open();
      // An account old enough that its duplicate, opened later, still has a year of flights to carry.
      if (
        !survivor ||
        survivor.group !== null ||
        survivor.enrolmentDate >= addDays(options.historyFrom, -400)
      )
        continue;
      if (merges.some((x) => x.survivor === survivor)) continue;
      const enrolled = addDays(survivor.enrolmentDate, random.range(30, 400));
      const duplicate = newMember(random, members.length, offset, enrolled, network, { ...survivor.person });
      duplicate.channel = survivor.channel === 'APP' ? 'AIRPORT' : 'APP';
      duplicate.birthDate = survivor.birthDate;
      duplicate.home = survivor.home;
      duplicate.segmentsPerYear = Math.max(4, survivor.segmentsPerYear);
      duplicate.duplicateOf = survivor;
      duplicate.earnUntil = night;
      members.push(duplicate);
      byNumber.set(duplicate.number, duplicate);
      merges.push({ night, merged: duplicate, survivor });
      break;
    }
  }

  for (const m of members) m.baseRow = memberRow(m);

  for (const night of nights) {
    // Enrolments of the day; a share finished only later (INCOMPLETE until then).
    const enrolments = random.poisson(count * 0.0011) + (night === nights[1] ? 1 : 0);
    for (let k = 0; k < enrolments; k++) {
      const m = newMember(random, members.length, offset, night, network, personFor(random));
      if ((m.channel === 'WEB' || m.channel === 'APP') && random.chance(0.15)) {
        m.status = 'INCOMPLETE';
        m.earnFrom = null;
      }
      members.push(m);
      byNumber.set(m.number, m);
      push(night, m, m.status === 'INCOMPLETE' ? 'enrolled-incomplete' : 'enrolled', random.range(360, 1380));
    }
    // Ordinary changes: e-mail, phone, a move abroad, consent.
    const changes = random.poisson(count * 0.002);
    for (let k = 0; k < changes; k++) {
      const m = open();
      if (!m) continue;
      const what = random.next();
      let kind: string;
      if (what < 0.4) {
        m.email = emailFor(random, m.person);
        kind = 'email';
      } else if (what < 0.65) {
        m.phone = phoneFor(random, m.person.country);
        kind = 'phone';
      } else if (what < 0.72) {
        const moves = ['DE', 'AE', 'RS', 'TR', 'CY', 'AM'];
        m.person = { ...m.person, country: random.pick(moves) };
        m.phone = null;
        kind = 'moved';
      } else {
        m.consent = consentValue(random);
        kind = 'consent';
      }
      push(night, m, kind, random.range(420, 1380));
    }
    // Registrations finished: the account may earn from today.
    for (let k = random.poisson(count * 0.0002); k > 0; k--) {
      const m = members[random.int(members.length)]!;
      if (m.status !== 'INCOMPLETE' || m.enrolmentDate >= night) continue;
      m.status = 'ACTIVE';
      m.earnFrom = night;
      if (!m.email) m.email = emailFor(random, m.person);
      push(night, m, 'completed', random.range(420, 1380));
    }
    // Closures at the member's request.
    const closing = random.poisson(count * 0.00006) + (night === nights[5] ? 1 : 0);
    for (let k = 0; k < closing; k++) {
      const m = open();
      if (!m || m.group !== null || m.cardholder) continue;
      m.status = 'CLOSED';
      m.earnUntil = night;
      push(night, m, 'closed', random.range(600, 1200));
      closures.push({ night, member: m });
    }
  }

  // Merges: the duplicate's row comes in that night's delta, after the survivor exists.
  for (const { night, merged, survivor } of merges) {
    merged.status = 'MERGED';
    merged.mergedInto = survivor.number;
    push(night, merged, 'merged', random.range(700, 1000));
  }

  // Two CRM systems feed the member master. The call centre's runs late: on one night it delivers an
  // e-mail change that the web profile had already overtaken, and the older row must not win.
  let lateRow: MemberBase['lateRow'] = null;
  const target = open();
  const night = nights[Math.min(nights.length - 2, 7)];
  if (target && night) {
    target.email = emailFor(random, target.person);
    const older = push(night, target, 'email (call centre)', 9 * 60 + 12);
    deltas.get(night)!.pop(); // it travels in the call centre's file, a night late
    target.email = emailFor(random, target.person);
    const newer = push(night, target, 'email', 14 * 60 + 5);
    lateRow = { night: addDays(night, 1), change: older, supersededBy: newer };
  }

  for (const list of deltas.values())
    list.sort((a, b) => (a.updatedAt < b.updatedAt ? -1 : a.updatedAt > b.updatedAt ? 1 : 0));
  return { members, byNumber, deltas, lateRow, merges, closures };
}

/** The first night's full extract: every member enrolled before the month, as they stood then. */
export function baseRows(base: MemberBase): string[][] {
  const rows: string[][] = [];
  for (const m of base.members) if (m.baseRow !== null) rows.push(m.baseRow);
  return rows;
}
