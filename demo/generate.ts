/**
 * The demo program: a realistic month of the airline XX's loyalty program "Redeye Miles", generated into
 * local inbox folders one night at a time, for `redeye demo` to run night by night and then the month-end.
 *
 *     dir/redeye.config.yaml        examples/redeye.config.yaml pointed at this folder (see config.ts)
 *     dir/plan.json                 what was generated: business dates, files, counts, deliberate cases
 *     dir/nights/<date>/<feed dir>/ the files that arrive during the night of that business date, in
 *                                   the folders the configuration's feeds read (ftl/, flown/, partner/,
 *                                   hotel/, alliance/claims/, redemptions/, members/, fx/, retro-claims/)
 *
 * Business date D is the day whose activity its night processes (the nightly schedule runs at 02:30 on
 * D+1 for D). Its folder holds the FTL lists of D's flights (one file per message part, as the DCS
 * gateway sends them when each flight closes), revenue accounting's extract of the coupons flown on D-1
 * (so a flight is first credited from its FTL and confirmed, with its fare, the next night; the coupons of
 * the month's last day fall into the next month), the partners' files sent that night, the ECB rates
 * published on D, the CRM's delta of D, and the redemptions and missing-credit requests of D. Results for
 * the claims Redeye sends to LH and IB cannot be written ahead (their claim ids are assigned by Redeye's
 * export): alliance.ts answerDeliveredClaims plays the partners for the night runner.
 *
 * History. A month alone would start every member at zero points and tier Member, so the first night
 * also carries the past: the CRM's full extract of the member base (as of the day before the month),
 * revenue accounting's back-load of the members' flown coupons of the previous 360 days (one file per
 * quarter, with trailers; the coupons of members who forgot their card included, without it, for the
 * retro-claims to find), and the ECB's history file of the rates those coupons convert with. Everything
 * else of the past is left out: other passengers' coupons, FTL lists, partner activity, redemptions. That
 * keeps the first night to a few hundred thousand records at 50,000 members instead of millions, and
 * costs little realism: tiers come from flown spend alone, and balances are what a year of flying earned
 * (somewhat higher than a real program's, whose members also spent, and lower by the partner points).
 * Every point and status credit of the history goes through the same files and jobs as the month's,
 * inside the 365-day claim window, so tiers after the first night are those a year of flying earns.
 *
 * Everything is drawn from a seeded generator, one stream per area (random.ts): the same seed, member
 * count and month give byte-identical files. Nothing reads the clock.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, type Dirent } from 'node:fs';
import { join, resolve } from 'node:path';
import { addDays, addMonths, eachDay, endOfMonth, type IsoDate } from '../lib/dates.js';
import { UsageError } from '../lib/errors.js';
import { FEED_NAMES, type FeedName } from '../parsers/types.js';
import { greatCircleMiles } from '../rules/distance.js';
import { ANSWER_LAG_DAYS, UNANSWERED, writeAllianceClaimNights } from './alliance.js';
import { DEMO_CONFIG_HEADER, demoConfigText, exampleConfig } from './config.js';
import { FlownFile, type CouponStatus } from './coupons.js';
import { createDcs } from './dcs.js';
import { manifest, planTravel, type EarnEstimate, type Segment } from './flights.js';
import { writeFxNights } from './fx.js';
import { baseRows, generateMembers, membersCsv, type Member } from './members.js';
import { buildNetwork } from './network.js';
import { NightWriter, type PlannedFile } from './out.js';
import { writePartnerNights } from './partners.js';
import { Random } from './random.js';
import {
  PointsEstimate,
  accountOf,
  segmentEstimate,
  writeRedemptionNights,
  writeRetroClaimNights,
  type RequestsSummary,
} from './requests.js';

export interface DemoOptions {
  /**
   * The demo folder; created if missing. Its `nights/` folder and configuration are replaced, so one that
   * holds anything else must be an earlier demo's (checkDemoFolder).
   */
  dir: string;
  /** Members in the base at the start of the month (the issue asks for at least 50,000). */
  members: number;
  /** `YYYY-MM`, from 2025-01 (the demo contracts' validity). */
  month: string;
  seed?: number;
}

export interface FeedCount {
  files: number;
  records: number;
}

export interface DemoNight {
  date: IsoDate;
  /** Folder of the night's files, relative to the demo folder. */
  dir: string;
  files: number;
  bytes: number;
  feeds: Partial<Record<FeedName, FeedCount>>;
}

export interface DemoPlan {
  month: string;
  seed: number;
  /** Members at the start of the month, and after the month's enrolments. */
  members: { start: number; end: number };
  /** Absolute demo folder; every other path is relative to it. */
  dir: string;
  config: string;
  /** Where the night runner copies a night's files (the inbox transport's root). */
  inbox: string;
  businessDates: IsoDate[];
  nights: DemoNight[];
  counts: Record<FeedName, FeedCount>;
  history: { from: IsoDate; to: IsoDate; coupons: number; files: string[] };
  network: { routes: number; flightsPerDay: number; passengersPerDay: number };
  /** The deliberate cases and where they are, in words. */
  scenarios: string[];
  /** Member numbers written wrong on purpose, and members travelling or staying under another name. */
  deliberate: { badCheckDigit: string[]; unknownMembers: string[]; nameMismatch: string[] };
  /**
   * How the partner airlines answer the claims Redeye sends: the night runner calls
   * alliance.ts answerDeliveredClaims before each night (results cannot be generated ahead).
   */
  allianceAnswers: { lagDays: Record<string, number>; unansweredSequence: Record<string, number> };
  files: PlannedFile[];
}

/**
 * The bounds of the demo's options, which `redeye demo` checks through `checkDemoOptions` before it
 * prints or touches anything. The demo contracts (DRIVE, REDBANK, the partner airlines' charts) start on
 * 2025-01-01; below 50 members some deliberate cases have no one to happen to.
 */
const DEMO_LIMITS = { firstMonth: '2025-01', minMembers: 50, maxMembers: 5_000_000 } as const;

/** The options checked against DEMO_LIMITS, each refused as a usage error naming the command's option. */
export function checkDemoOptions(options: Pick<DemoOptions, 'month' | 'members' | 'seed'>): {
  month: string;
  members: number;
  seed: number;
} {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(options.month)) {
    throw new UsageError(`--month must be YYYY-MM, got ${JSON.stringify(options.month)}`, {
      option: '--month',
    });
  }
  if (options.month < DEMO_LIMITS.firstMonth) {
    throw new UsageError(
      `--month must be ${DEMO_LIMITS.firstMonth} or later (the demo's contracts start then), got ${options.month}`,
      { option: '--month' },
    );
  }
  const { minMembers, maxMembers } = DEMO_LIMITS;
  if (
    !Number.isSafeInteger(options.members) ||
    options.members < minMembers ||
    options.members > maxMembers
  ) {
    throw new UsageError(
      `--members must be a whole number from ${minMembers.toLocaleString('en-US')} to ${maxMembers.toLocaleString('en-US')}, got ${options.members}`,
      { option: '--members' },
    );
  }
  const seed = options.seed ?? 1;
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new UsageError(
      `--seed must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER.toLocaleString('en-US')}, got ${seed}`,
      { option: '--seed' },
    );
  }
  return { month: options.month, members: options.members, seed };
}

/** Whether `dir` holds a demo's configuration (its header) or plan: a folder the demo may write over. */
function madeByDemo(dir: string): boolean {
  const read = (name: string) => {
    try {
      return readFileSync(join(dir, name), 'utf8');
    } catch {
      return undefined;
    }
  };
  if (read('redeye.config.yaml')?.startsWith(`#${DEMO_CONFIG_HEADER}`)) return true;
  try {
    const plan = JSON.parse(read('plan.json') ?? 'null') as Partial<DemoPlan> | null;
    return (
      typeof plan?.month === 'string' && Array.isArray(plan.nights) && plan.allianceAnswers !== undefined
    );
  } catch {
    return false;
  }
}

/**
 * Refuses a demo folder that holds what the demo did not make: the demo replaces its `nights/`, `var/`
 * and `redeye.config.yaml`, and `--dir .` in an installation (or a typo) would otherwise wipe a real
 * ledger, landing area and configuration without a word. New, empty and earlier demos' folders pass.
 */
function checkDemoFolder(dir: string): void {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR')
      throw new UsageError(`--dir ${dir} is a file, not a folder: give a new or empty folder`, {
        option: '--dir',
        folder: dir,
      });
    throw error;
  }
  const names = entries.map((e) => (e.isDirectory() ? `${e.name}/` : e.name)).sort();
  if (names.length === 0 || madeByDemo(dir)) return;
  const shown = names.slice(0, 5).join(', ') + (names.length > 5 ? ` and ${names.length - 5} more` : '');
  throw new UsageError(
    `--dir ${dir} is not a demo's folder: it holds ${shown}, and no demo configuration or plan.json. ` +
      'The demo replaces the var/, nights/ and redeye.config.yaml of its folder: give a new or empty ' +
      'folder, or one an earlier demo made. Nothing was changed',
    { option: '--dir', folder: dir },
  );
}

/** Points a coupon earns at least under the demo's distance-based rules (no bonus, no promotion), less 20%. */
function earnEstimate(month: string): EarnEstimate {
  const config = exampleConfig();
  const versions = config.earning.air.filter((v) => v.effectiveFrom <= `${month}-01`);
  const air = versions[versions.length - 1] ?? config.earning.air[0]!;
  const pairs = new Map(air.cityPairs.map((p) => [[p.from, p.to].sort().join('-'), p.miles]));
  const cache = new Map<string, number>();
  return (from, to, rbd) => {
    const key = `${from}${to}${rbd}`;
    let points = cache.get(key);
    if (points === undefined) {
      const miles = pairs.get([from, to].sort().join('-')) ?? greatCircleMiles(from, to) ?? 0;
      points = Math.floor(Math.max(air.minimumMiles, miles) * (air.classRates[rbd] ?? 0) * 0.8);
      cache.set(key, points);
    }
    return points;
  };
}

export async function generateDemo(options: DemoOptions): Promise<DemoPlan> {
  const { month, members: count, seed } = checkDemoOptions(options);
  const dir = resolve(options.dir);
  checkDemoFolder(dir);
  const first: IsoDate = `${month}-01`;
  const last = endOfMonth(first);
  const days = [...eachDay(first, last)];
  const day = (n: number) => days[Math.min(days.length - 1, n - 1)]!;
  const historyFrom = addDays(first, -360);

  mkdirSync(dir, { recursive: true });
  // Written first, so that a generation stopped half-way leaves a folder the next one knows as a demo's.
  writeFileSync(join(dir, 'redeye.config.yaml'), demoConfigText({ month, members: count, seed }));
  rmSync(join(dir, 'nights'), { recursive: true, force: true });
  const writer = new NightWriter(dir);
  const scenarios: string[] = [];

  const flightsPerDay = Math.max(12, Math.round(count * 0.0012));
  const passengersPerDay = Math.round(count * 0.17);
  const network = buildNetwork(flightsPerDay);
  const base = generateMembers({ seed, count, firstNight: first, lastNight: last, historyFrom, network });
  const travel = planTravel({
    seed,
    network,
    base,
    historyFrom,
    firstNight: first,
    lastNight: last,
    passengersPerDay,
  });

  // ------------------------------------------------------------------------------------------- members
  const fullRows = baseRows(base);
  // Named for the day it stands at, so it sorts (and is fetched and read) before the first delta.
  const asOf = addDays(first, -1).replace(/-/g, '');
  writer.write(first, 'members', `MEMBERS_${asOf}_FULL.csv`, membersCsv(fullRows), {
    records: fullRows.length,
    note: 'the CRM full extract: the member base as it stood before the month',
  });
  for (const date of days) {
    const changes = base.deltas.get(date) ?? [];
    if (changes.length === 0) continue;
    writer.write(
      date,
      'members',
      `MEMBERS_${date.replace(/-/g, '')}.csv`,
      membersCsv(changes.map((c) => c.row)),
      {
        records: changes.length,
      },
    );
  }
  if (base.lateRow) {
    const { night, change, supersededBy } = base.lateRow;
    writer.write(night, 'members', `MEMBERS_CC_${night.replace(/-/g, '')}.csv`, membersCsv([change.row]), {
      records: 1,
      note: `call-centre row of ${change.updatedAt}, older than the row of ${supersededBy.updatedAt} already sent: must not win`,
    });
    scenarios.push(
      `members: ${change.member.number}'s e-mail change of ${change.updatedAt} arrives on ${night}, after the newer row of ${supersededBy.updatedAt}`,
    );
  }
  for (const { night, merged, survivor } of base.merges) {
    scenarios.push(
      `members: ${merged.number} (a duplicate account) merged into ${survivor.number} on ${night}`,
    );
  }
  if (base.closures.length > 0) {
    const shown = base.closures.slice(0, 3).map(({ night, member }) => `${member.number} on ${night}`);
    const more = base.closures.length > 3 ? ', …' : '';
    scenarios.push(
      `members: ${base.closures.length} account(s) closed during the month (${shown.join(', ')}${more})`,
    );
  }

  // ------------------------------------------------------------------------------------------- rates
  writeFxNights({ seed, writer, historyFrom, days });

  // ------------------------------------------------------------------------------------------- FTL
  const cp866Day = travel.scenarios.get('cp866')?.date ?? day(12);
  const dcs = createDcs({ seed, network, travel, writer, days, cp866Day });
  for (const [name, s] of travel.scenarios) {
    if (name !== 'cp866')
      scenarios.push(`ftl: ${name} on XX${s.flight.number} ${s.flight.from}-${s.flight.to} ${s.date}`);
  }
  scenarios.push(
    `ftl: VKO sends CP866 on ${cp866Day} to a feed configured for UTF-8: its Cyrillic names are rejected (BAD_ENCODING), credited from the coupons`,
  );
  for (const s of travel.borrowed)
    scenarios.push(
      `ftl/flown: ${s.member!.number}'s card used by ${s.person.surname} on XX${s.flight.number} ${s.date} (NAME_MISMATCH)`,
    );
  for (const s of travel.inactiveFlyers)
    scenarios.push(
      `ftl/flown: ${s.member!.number} flies ${s.date} before finishing registration (MEMBER_INACTIVE)`,
    );

  // ------------------------------------------------------------------------------------------- flown coupons
  // Members' coupons first, from the history back-load, one file per quarter.
  const historyFiles: string[] = [];
  const history = [...travel.history].sort((a, b) =>
    a.date < b.date ? -1 : a.date > b.date ? 1 : a.flight.id - b.flight.id,
  );
  let at = 0;
  for (let q = 0; q < 4; q++) {
    const from = addMonths(historyFrom, q * 3);
    const to = q === 3 ? addDays(first, -1) : addDays(addMonths(historyFrom, (q + 1) * 3), -1);
    const file = new FlownFile(to);
    while (at < history.length && history[at]!.date <= to) file.add(history[at++]!, 'F');
    const name = `FLOWN_HISTORY_${from.replace(/-/g, '')}_${to.replace(/-/g, '')}.csv`;
    writer.write(first, 'flown', name, file.text(), {
      records: file.rows,
      note: `back-load of members' coupons flown ${from} to ${to}`,
    });
    historyFiles.push(name);
  }
  // Then day by day: the DCS lists the day's flights that night, revenue accounting extracts their
  // coupons the next (and a few earlier coupons again, refunded or exchanged).
  const corrections = new Map<IsoDate, Array<[Segment, CouponStatus]>>();
  const corrected = new Set<Segment>();
  const fixes = Random.stream(seed, 'corrections');
  for (const date of days) {
    const onBoard = manifest(travel, date);
    dcs.writeDay(date, onBoard);
    const night = addDays(date, 1);
    if (night > last) break;
    const file = new FlownFile(night);
    for (const list of onBoard.values()) {
      for (const s of list) {
        file.add(s, 'F');
        if (fixes.chance(0.003) || (corrected.size === 0 && s.card === 'own')) {
          const later = addDays(night, fixes.range(1, 6));
          if (later > last) continue;
          const due = corrections.get(later) ?? [];
          due.push([s, fixes.chance(0.7) ? 'R' : 'E']);
          corrections.set(later, due);
          corrected.add(s);
        }
      }
    }
    const fixed = corrections.get(night) ?? [];
    for (const [s, status] of fixed) file.add(s, status);
    writer.write(night, 'flown', `FLOWN_${night.replace(/-/g, '')}.csv`, file.text(), {
      records: file.rows,
      ...(fixed.length > 0
        ? { note: `${fixed.length} coupon(s) of earlier nights refunded or exchanged` }
        : {}),
    });
  }
  for (const f of dcs.summary().faults) scenarios.push(`ftl: ${f}`);
  const refunds = [...corrections.values()].reduce((s, l) => s + l.length, 0);
  scenarios.push(`flown: ${refunds} coupon(s) come back refunded (R) or exchanged (E) on a later night`);

  // ------------------------------------------------------------------------------------------- points estimate
  const estimate = new PointsEstimate();
  const estimateOf = earnEstimate(month);
  const untracked = new Set<Member>();
  for (const { merged, survivor } of base.merges) {
    untracked.add(merged);
    untracked.add(survivor);
  }
  const flyers = new Set<Member>();
  const credit = (s: Segment, night: IsoDate) => {
    if (s.member === null) return;
    flyers.add(s.member);
    if (corrected.has(s) || untracked.has(s.member)) return;
    estimate.credit(night, accountOf(s.member), segmentEstimate(s, estimateOf));
  };
  for (const s of travel.history) credit(s, first);
  for (const [date, byFlight] of travel.month) {
    const night = addDays(date, 1);
    for (const list of byFlight.values()) for (const s of list) credit(s, night);
  }

  // ------------------------------------------------------------------------------------------- partners
  const quietMembers = base.members.filter(
    (m) =>
      m.status === 'ACTIVE' &&
      m.group === null &&
      !m.cardholder &&
      m.enrolmentDate < historyFrom &&
      m.earnUntil === null &&
      !flyers.has(m) &&
      !untracked.has(m),
  );
  const partners = writePartnerNights({ seed, base, writer, days, quietMembers: quietMembers.slice(0, 5) });
  for (const n of partners.notes) scenarios.push(`partner: ${n}`);
  const alliance = writeAllianceClaimNights({ seed, base, writer, days });
  for (const n of alliance.notes) scenarios.push(`alliance: ${n}`);

  // ------------------------------------------------------------------------------------------- redemptions, retro-claims
  const requests: RequestsSummary = { redemptions: 0, cancellations: 0, insufficient: 0, retroClaims: {} };
  const requestOptions = { seed, base, travel, writer, days, estimate, untracked };
  writeRedemptionNights(requestOptions, requests);
  writeRetroClaimNights(requestOptions, requests);
  scenarios.push(
    `redemptions: ${requests.redemptions} issued, ${requests.cancellations} cancelled later, ${requests.insufficient} larger than the balance (INSUFFICIENT_POINTS)`,
  );
  for (const [kind, n] of Object.entries(requests.retroClaims)) scenarios.push(`retro-claims: ${n} ${kind}`);

  // ------------------------------------------------------------------------------------------- plan
  const files = [...writer.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const counts = Object.fromEntries(FEED_NAMES.map((f) => [f, { files: 0, records: 0 }])) as Record<
    FeedName,
    FeedCount
  >;
  const nights: DemoNight[] = days.map((date) => ({
    date,
    dir: `nights/${date}`,
    files: 0,
    bytes: 0,
    feeds: {},
  }));
  const nightOf = new Map(nights.map((n) => [n.date, n]));
  for (const f of files) {
    counts[f.feed].files++;
    counts[f.feed].records += f.records;
    const n = nightOf.get(f.night)!;
    n.files++;
    n.bytes += f.bytes;
    const c = (n.feeds[f.feed] ??= { files: 0, records: 0 });
    c.files++;
    c.records += f.records;
  }
  const plan: DemoPlan = {
    month,
    seed,
    members: { start: fullRows.length, end: base.members.length },
    dir,
    config: 'redeye.config.yaml',
    inbox: 'var/inbox',
    businessDates: days,
    nights,
    counts,
    history: { from: historyFrom, to: addDays(first, -1), coupons: history.length, files: historyFiles },
    network: { routes: network.routes.length, flightsPerDay: network.flights.length, passengersPerDay },
    scenarios,
    deliberate: {
      badCheckDigit: [...partners.badCheckDigit, ...alliance.badCheckDigit],
      unknownMembers: [...partners.unknownMembers, ...alliance.unknownMembers],
      nameMismatch: [...partners.nameMismatch, ...travel.borrowed.map((s) => s.member!.number)],
    },
    allianceAnswers: { lagDays: { ...ANSWER_LAG_DAYS }, unansweredSequence: { ...UNANSWERED } },
    files,
  };
  const { dir: _absolute, ...portable } = plan;
  writeFileSync(join(dir, 'plan.json'), `${JSON.stringify(portable, null, 1)}\n`);
  return plan;
}
