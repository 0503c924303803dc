/**
 * The partner airlines' side of the alliance exchange (formats/alliance-accrual.md), written with the
 * project's own writer (exporters/alliance-xml.ts):
 *
 * - Inbound claims: Lufthansa sends every night, Iberia on Mondays and Thursdays, the flights our
 *   members took on their networks (mostly from their hubs, a few with the member's name or number
 *   wrong), one file per night under a sequence without gaps since the partnership began.
 * - Results for our claims: the claims Redeye sends carry ids it assigns when it exports them
 *   (`XX-<activity id>`), which no generator can know in advance, so no results file can be written
 *   ahead. `answerClaimsFile` plays the partner after the fact: given a claims file Redeye delivered, it
 *   writes the results file the partner would send back (most accepted with the miles the partner credits
 *   and the member's tier there, a few rejected). `answerDeliveredClaims` does it for a night runner:
 *   before running a night it answers the claims files delivered a night (LH) or two (IB) earlier, into
 *   the inbox. Iberia leaves one file unanswered, so the export job has overdue claims to report.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { addDays, daysBetween, weekday, type IsoDate } from '../lib/dates.js';
import { allianceClaimsName, allianceResultsName } from '../exporters/alliance.js';
import { writeClaimsFile, writeResultsFile } from '../exporters/alliance-xml.js';
import {
  allianceClaimsParser,
  type AllianceClaim,
  type AllianceResult,
  type ClaimsFile,
  type ClaimsFileHeader,
} from '../parsers/alliance.js';
import { greatCircleMiles } from '../rules/distance.js';
import { breakCheckDigit, unknownMemberNumber } from './flights.js';
import type { Member, MemberBase } from './members.js';
import { cabinOf } from './network.js';
import { documentName } from './names.js';
import { FEED_DIRS, type NightWriter } from './out.js';
import { Random, Weighted } from './random.js';

interface PartnerNetwork {
  program: 'LH' | 'IB';
  ticketPrefix: string;
  hubs: string[];
  destinations: string[];
  /** Booking classes the partner sells (its chart in the demo configuration knows them). */
  classes: Weighted<string>;
  /** Days of the week it sends (0 Sunday); every day when empty. */
  sendsOn: number[];
  since: IsoDate;
  firstFlight: number;
}

const PARTNERS: PartnerNetwork[] = [
  {
    program: 'LH',
    ticketPrefix: '220',
    hubs: ['FRA', 'MUC'],
    destinations: [
      'LHR',
      'CDG',
      'MAD',
      'BCN',
      'FCO',
      'VIE',
      'ZRH',
      'AMS',
      'CPH',
      'ARN',
      'OSL',
      'WAW',
      'BRU',
      'DUB',
      'LIS',
      'HAM',
      'BER',
      'DUS',
      'ATH',
      'PRG',
    ],
    classes: new Weighted([
      ['Y', 8],
      ['B', 10],
      ['M', 14],
      ['H', 16],
      ['K', 16],
      ['L', 14],
      ['T', 10],
      ['C', 5],
      ['J', 4],
      ['D', 3],
    ]),
    sendsOn: [],
    since: '2025-01-01',
    firstFlight: 100,
  },
  {
    program: 'IB',
    ticketPrefix: '075',
    hubs: ['MAD', 'BCN'],
    destinations: [
      'LIS',
      'OPO',
      'CDG',
      'FCO',
      'LHR',
      'BIO',
      'SVQ',
      'VLC',
      'AGP',
      'PMI',
      'MXP',
      'AMS',
      'FRA',
      'MUC',
    ],
    classes: new Weighted([
      ['Y', 10],
      ['B', 12],
      ['M', 16],
      ['Q', 30],
      ['O', 20],
      ['C', 6],
      ['J', 6],
    ]),
    sendsOn: [1, 4],
    since: '2025-01-02',
    firstFlight: 3000,
  },
];

export interface AllianceSummary {
  files: Record<string, number>;
  claims: Record<string, number>;
  notes: string[];
  badCheckDigit: string[];
  unknownMembers: string[];
}

export function writeAllianceClaimNights(options: {
  seed: number;
  base: MemberBase;
  writer: NightWriter;
  days: readonly IsoDate[];
}): AllianceSummary {
  const { base, writer, days } = options;
  const random = Random.stream(options.seed, 'alliance');
  const summary: AllianceSummary = {
    files: {},
    claims: {},
    notes: [],
    badCheckDigit: [],
    unknownMembers: [],
  };
  // Members since before the month: a claim never precedes the member's enrolment.
  const travellers = base.members.filter(
    (m) =>
      m.status === 'ACTIVE' &&
      m.earnUntil === null &&
      m.duplicateOf === null &&
      m.segmentsPerYear > 0 &&
      m.earnFrom !== null &&
      m.earnFrom < addDays(days[0]!, -30),
  );
  const preferred = (p: PartnerNetwork) => {
    const home = p.program === 'LH' ? ['DE', 'IT', 'FR', 'GB'] : ['ES'];
    const locals = travellers.filter((m) => home.includes(m.person.country));
    return locals.length > 0 ? locals : travellers;
  };
  const day = (n: number) => days[Math.min(days.length - 1, n - 1)]!;
  for (const p of PARTNERS) {
    const locals = preferred(p);
    let sequence = 0;
    // Files sent since the partnership began: daily, or on the partner's days.
    for (let d = p.since; d < days[0]!; d = addDays(d, 1))
      if (p.sendsOn.length === 0 || p.sendsOn.includes(weekday(d))) sequence++;
    let claimNo = 0;
    let wrongSent = false;
    for (const date of days) {
      if (p.sendsOn.length > 0 && !p.sendsOn.includes(weekday(date))) continue;
      sequence++;
      const nextClaimId = () => `${p.program}${date.replace(/-/g, '')}${String(++claimNo).padStart(5, '0')}`;
      const claims: AllianceClaim[] = [];
      const n = random.poisson(base.members.length * (p.program === 'LH' ? 0.0004 : 0.0009));
      for (let k = 0; k < n && travellers.length > 0; k++) {
        const m = random.chance(0.7) ? random.pick(locals) : random.pick(travellers);
        claims.push(claimFor(random, p, m, date, nextClaimId()));
      }
      if (travellers.length > 0 && !wrongSent && date >= day(p.program === 'LH' ? 3 : 8)) {
        // LH once names a member who does not exist, IB once misspells a member's number.
        wrongSent = true;
        const c = claimFor(random, p, random.pick(travellers), date, nextClaimId());
        const wrong = p.program === 'LH' ? unknownMemberNumber(random) : breakCheckDigit(c.member.number);
        claims.push({ ...c, member: { ...c.member, number: wrong } });
        (p.program === 'LH' ? summary.unknownMembers : summary.badCheckDigit).push(wrong);
        summary.notes.push(
          `${p.program} ${date}: claim ${c.claimId} for ${wrong} (${p.program === 'LH' ? 'MEMBER_UNKNOWN' : 'CHECK_DIGIT'})`,
        );
      }
      const file: ClaimsFile = {
        sender: p.program,
        receiver: 'XX',
        sequence,
        createdAt: `${date}T22:${p.program === 'LH' ? '05' : '40'}:00Z`,
        claims,
      };
      writer.write(
        date,
        'alliance-claims',
        allianceClaimsName(p.program, 'XX', date, sequence),
        writeClaimsFile(file),
        {
          records: claims.length,
        },
      );
      summary.files[p.program] = (summary.files[p.program] ?? 0) + 1;
      summary.claims[p.program] = (summary.claims[p.program] ?? 0) + claims.length;
    }
  }
  return summary;
}

function claimFor(
  random: Random,
  p: PartnerNetwork,
  m: Member,
  date: IsoDate,
  claimId: string,
): AllianceClaim {
  const hub = random.pick(p.hubs);
  let other = random.pick(p.destinations);
  if (other === hub) other = p.hubs.find((h) => h !== hub)!;
  const [origin, destination] = random.chance(0.5) ? [hub, other] : [other, hub];
  const rbd = p.classes.pick(random);
  const flight = String(p.firstFlight + random.int(900));
  const flightDate = addDays(date, -random.range(2, 12));
  const claim: AllianceClaim = {
    claimId,
    member: {
      program: 'XX',
      number: m.number,
      surname: documentName(m.person.surname),
      givenName: documentName(m.person.givenName),
    },
    flight: {
      operatingCarrier: p.program,
      operatingFlightNumber: flight,
      marketingCarrier: p.program,
      marketingFlightNumber: flight,
      date: flightDate,
      origin,
      destination,
      cabin: cabinOf(rbd),
      flownRbd: rbd,
      fareBasis: `${rbd}${random.pick(['FLEX', 'CLASSIC', 'LIGHT', 'SAVER'])}`,
      ticketNumber: `${p.ticketPrefix}${random.digits(10)}`,
      couponNumber: random.range(1, 2),
    },
  };
  return claim;
}

/** Tier names of the partner programs, as they answer with them. */
const PARTNER_TIERS: Record<string, Weighted<string>> = {
  LH: new Weighted([
    ['BASE', 70],
    ['FTL', 20],
    ['SEN', 9],
    ['HON', 1],
  ]),
  IB: new Weighted([
    ['CLASICA', 65],
    ['PLATA', 20],
    ['ORO', 12],
    ['PLATINO', 3],
  ]),
};

/**
 * The partner's answer to one of our claims files: the results file text and its name
 * (`<sender>_<receiver>_<sequence>.results.xml`, as exporters/alliance.ts names them), or null when the
 * file is not a readable claims file addressed to a partner this demo plays. The partner reads our file
 * with the project's own claims parser, as any partner holding our XSD would.
 */
export async function answerClaimsFile(
  claimsXml: string | Buffer,
  options: { seed: number; answeredOn: IsoDate },
): Promise<{ name: string; text: string } | null> {
  const bytes = typeof claimsXml === 'string' ? Buffer.from(claimsXml, 'utf8') : claimsXml;
  const claims: AllianceClaim[] = [];
  let header: ClaimsFileHeader | null = null;
  for await (const e of allianceClaimsParser.parse([
    {
      name: 'claims.xml',
      open: () => Readable.from([bytes]),
      receivedAt: new Date(`${options.answeredOn}T21:00:00Z`),
      size: bytes.length,
    },
  ])) {
    if (e.type === 'record') claims.push(e.record);
    else if (e.type === 'verdict' && e.verdict === 'accepted') header = e.meta as unknown as ClaimsFileHeader;
  }
  if (!header || !(header.receiver in PARTNER_TIERS)) return null;
  const partner = header.receiver;
  const random = Random.stream(options.seed, `answers:${partner}:${header.sequence}`);
  const results: AllianceResult[] = claims.map((c) => {
    const roll = random.next();
    if (roll < 0.02)
      return {
        claimId: c.claimId,
        status: 'rejected',
        reasonCode: 'MEMBER_UNKNOWN',
        reasonText: 'No such member in our program',
      };
    if (roll < 0.035)
      return {
        claimId: c.claimId,
        status: 'rejected',
        reasonCode: 'NAME_MISMATCH',
        reasonText: 'Name on the claim does not match the account',
      };
    const miles = greatCircleMiles(c.flight.origin, c.flight.destination) ?? 500;
    return {
      claimId: c.claimId,
      status: 'accepted',
      pointsCredited: Math.max(500, Math.round(miles * (c.flight.cabin === 'C' ? 1.5 : 0.5))),
      tierHeld: PARTNER_TIERS[partner]!.pick(random),
    };
  });
  const answers = { sender: header.sender, receiver: partner, sequence: header.sequence };
  const text = writeResultsFile({
    sender: partner,
    receiver: header.sender,
    createdAt: `${options.answeredOn}T21:30:00Z`,
    answers,
    results,
  });
  return { name: allianceResultsName(answers), text };
}

/** Nights after which each partner answers our claims. */
export const ANSWER_LAG_DAYS: Readonly<Record<string, number>> = { LH: 1, IB: 2 };

/** Iberia never answers its third claims file: the export job should report those claims as overdue. */
export const UNANSWERED: Readonly<Record<string, number>> = { IB: 3 };

const OUR_CLAIMS = /^XX_([A-Z0-9]{2,8})_(\d{4})(\d{2})(\d{2})_(\d{6})\.claims\.xml$/;

/**
 * For the night runner, before it runs `night`: answers the claims files Redeye delivered to the partners
 * (`claimsDir`, where the deliver step put them) that are due that night, writing each results file into
 * `inboxDir`'s `alliance/results/` folder. Files already answered are written again with the same bytes,
 * so calling it twice for a night is harmless. Returns the results files written.
 */
export async function answerDeliveredClaims(options: {
  claimsDir: string;
  inboxDir: string;
  night: IsoDate;
  seed: number;
}): Promise<string[]> {
  if (!existsSync(options.claimsDir)) return [];
  const written: string[] = [];
  const out = join(options.inboxDir, ...FEED_DIRS['alliance-results'].split('/'));
  for (const name of readdirSync(options.claimsDir).sort()) {
    const m = OUR_CLAIMS.exec(name);
    if (!m) continue;
    const partner = m[1]!;
    const lag = ANSWER_LAG_DAYS[partner];
    if (lag === undefined || UNANSWERED[partner] === Number(m[5])) continue;
    if (daysBetween(`${m[2]}-${m[3]}-${m[4]}`, options.night) !== lag) continue;
    const answer = await answerClaimsFile(readFileSync(join(options.claimsDir, name)), {
      seed: options.seed,
      answeredOn: addDays(options.night, -1),
    });
    if (!answer) continue;
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, answer.name), answer.text);
    written.push(answer.name);
  }
  return written;
}
