/**
 * What members ask for: redemptions from the award and ancillary systems (formats/redemptions.md) and
 * missing-credit requests (formats/retro-claims.md).
 *
 * Redemptions spend what members could have by then. The generator keeps a conservative estimate of
 * each account's points (own-card flights only, at 80% of distance × class rate, no bonuses, credited the
 * night after the coupon is flown) and redeems well inside it, so they post; a few ask for far more than
 * the account can hold and are refused (INSUFFICIENT_POINTS), and a few are cancelled some nights later.
 *
 * Retro-claims come from members who flew without giving their card: most find their coupon (by ticket
 * and coupon, or by flight, date, route and name); some are filed too early (the window opens 14 days
 * after the flight) and wait; some name a flight that does not exist; some ask for a flight already
 * credited; and one is older than the 6-month window.
 */
import { addDays, addMonths, daysBetween, type IsoDate } from '../lib/dates.js';
import type { ServiceType } from '../ledger/accounts.js';
import { REDEMPTION_COLUMNS } from '../parsers/redemptions.js';
import { RETRO_CLAIM_COLUMNS } from '../parsers/retro-claims.js';
import { csvLine } from './csv.js';
import { XX_TICKETS, type EarnEstimate, type Segment, type Travel } from './flights.js';
import type { Member, MemberBase } from './members.js';
import { documentName } from './names.js';
import type { NightWriter } from './out.js';
import { Random, Weighted } from './random.js';

/** Points an account can be counted on to hold on a night, from the credits the generator expects. */
export class PointsEstimate {
  private readonly landing = new Map<IsoDate, Array<[string, number]>>();
  private readonly balance = new Map<string, number>();
  private appliedUntil = '';

  credit(night: IsoDate, account: string, points: number): void {
    if (points <= 0) return;
    if (night <= this.appliedUntil) {
      this.balance.set(account, (this.balance.get(account) ?? 0) + points);
      return;
    }
    const list = this.landing.get(night) ?? [];
    list.push([account, points]);
    this.landing.set(night, list);
  }

  /** Applies the credits of every night up to and including `night`. */
  advanceTo(night: IsoDate): void {
    for (const [d, list] of [...this.landing].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (d > night) break;
      for (const [account, points] of list)
        this.balance.set(account, (this.balance.get(account) ?? 0) + points);
      this.landing.delete(d);
    }
    if (night > this.appliedUntil) this.appliedUntil = night;
  }

  available(account: string): number {
    return this.balance.get(account) ?? 0;
  }

  debit(account: string, points: number): void {
    this.balance.set(account, this.available(account) - points);
  }

  accounts(): IterableIterator<[string, number]> {
    return this.balance.entries();
  }
}

export function accountOf(m: Member): string {
  return m.group?.id ?? m.number;
}

type Service = ServiceType;

const SERVICES = new Weighted<[Service, number, number]>([
  [['AWARD_TICKET', 9000, 60000], 30],
  [['UPGRADE', 5000, 30000], 14],
  [['EXCESS_BAGGAGE', 3000, 6000], 12],
  [['SEAT', 500, 1500], 16],
  [['LOUNGE', 2000, 4000], 9],
  [['PARTNER_REWARD', 4000, 20000], 9],
  [['CHARITY', 500, 5000], 6],
  [['OTHER', 1000, 3000], 4],
]);

export interface RequestsOptions {
  seed: number;
  base: MemberBase;
  travel: Travel;
  writer: NightWriter;
  days: readonly IsoDate[];
  estimate: PointsEstimate;
  /** Members whose balances the generator cannot follow (merged accounts and their survivors). */
  untracked: ReadonlySet<Member>;
}

export interface RequestsSummary {
  redemptions: number;
  cancellations: number;
  insufficient: number;
  retroClaims: Record<string, number>;
}

export function writeRedemptionNights(options: RequestsOptions, summary: RequestsSummary): void {
  const { base, writer, days, estimate } = options;
  const random = Random.stream(options.seed, 'redemptions');
  const header = csvLine(REDEMPTION_COLUMNS.map((c) => c.name));
  const byAccount = new Map<string, Member[]>();
  for (const m of base.members) {
    if (m.status !== 'ACTIVE' || options.untracked.has(m)) continue;
    const list = byAccount.get(accountOf(m)) ?? [];
    list.push(m);
    byAccount.set(accountOf(m), list);
  }
  let id = 5_300_000 + random.int(100_000);
  let emd = 2_400_000_000 + random.int(50_000_000);
  const cancellations = new Map<IsoDate, string[]>();
  const day = (n: number) => days[Math.min(days.length - 1, n - 1)]!;
  const forcedShort = new Set([day(5), day(17), day(26)]);
  for (const date of days.slice(1)) {
    estimate.advanceTo(addDays(date, -1));
    const rows: string[] = [...(cancellations.get(date) ?? [])];
    const rich: Array<[string, number]> = [];
    for (const [account, points] of estimate.accounts())
      if (points >= 3000 && byAccount.has(account)) rich.push([account, points]);
    rich.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const count = Math.min(rich.length, random.poisson(base.members.length * 0.0014) + 1);
    for (const [account] of random.sample(rich, count)) {
      const available = estimate.available(account);
      const [service, low, high] = SERVICES.pick(random);
      const points = Math.min(Math.floor(available * 0.7), random.range(low, high));
      if (points < low) continue;
      const member = random.pick(byAccount.get(account)!);
      const redemptionId = `RD${++id}`;
      const partner = service === 'PARTNER_REWARD' ? (random.chance(0.6) ? 'GRANDSTAY' : 'DRIVE') : '';
      const reference =
        service === 'AWARD_TICKET' || service === 'UPGRADE'
          ? `${XX_TICKETS}${++emd}`
          : service === 'PARTNER_REWARD'
            ? `${partner === 'GRANDSTAY' ? 'GSV' : 'DRV'}-${random.code(8)}`
            : service === 'CHARITY'
              ? random.pick(['CHARITY-CHILDREN-FUND', 'CHARITY-WILDLIFE', 'CHARITY-HOSPICE'])
              : `${XX_TICKETS}${++emd}`;
      rows.push(csvLine([redemptionId, member.number, date, service, points, reference, partner, 'ISSUED']));
      estimate.debit(account, points);
      summary.redemptions++;
      if (random.chance(0.03) && date < days[days.length - 2]!) {
        const when = addDays(date, random.range(1, 4));
        if (when <= days[days.length - 1]!) {
          const list = cancellations.get(when) ?? [];
          list.push(
            csvLine([redemptionId, member.number, date, service, points, reference, partner, 'CANCELLED']),
          );
          cancellations.set(when, list);
          estimate.credit(when, account, points);
          summary.cancellations++;
        }
      }
    }
    if (forcedShort.has(date)) {
      // An award ticket the account cannot pay for: the award system let it through, the ledger refuses it.
      const candidates = [...byAccount.keys()].filter((a) => estimate.available(a) < 5000);
      if (candidates.length > 0) {
        const account = candidates[random.int(candidates.length)]!;
        const member = byAccount.get(account)![0]!;
        rows.push(
          csvLine([
            `RD${++id}`,
            member.number,
            date,
            'AWARD_TICKET',
            48000 + random.range(0, 20) * 1000,
            `${XX_TICKETS}${++emd}`,
            '',
            'ISSUED',
          ]),
        );
        summary.insufficient++;
      }
    }
    if (rows.length === 0) continue;
    writer.write(date, 'redemptions', `REDEMPTIONS_${date.replace(/-/g, '')}.csv`, header + rows.join(''), {
      records: rows.length,
    });
  }
}

export function writeRetroClaimNights(options: RequestsOptions, summary: RequestsSummary): void {
  const { travel, writer, days } = options;
  const random = Random.stream(options.seed, 'retro-claims');
  const header = csvLine(RETRO_CLAIM_COLUMNS.map((c) => c.name));
  const first = days[0]!;
  const last = days[days.length - 1]!;
  const nights = new Map<IsoDate, string[]>();
  let id = 120_000 + random.int(10_000);
  const count = (kind: string) => (summary.retroClaims[kind] = (summary.retroClaims[kind] ?? 0) + 1);
  /** A request by `m`, received on `received`; `flight` is its ticket, coupon, carrier, number, date, from, to. */
  const add = (received: IsoDate, m: Member, flight: Array<string | number>, kind: string) => {
    const row = csvLine([
      `RC${++id}`,
      m.number,
      received,
      ...flight,
      documentName(m.person.surname),
      documentName(m.person.givenName),
    ]);
    const list = nights.get(received) ?? [];
    list.push(row);
    nights.set(received, list);
    count(kind);
  };
  const file = (received: IsoDate, s: Segment, kind: string, byTicket: boolean) =>
    add(
      received,
      s.member!,
      byTicket
        ? [s.ticket, s.coupon, '', '', '', '', '']
        : ['', '', 'XX', s.flight.number, s.date, s.flight.from, s.flight.to],
      kind,
    );
  const allSegments: Segment[] = [...travel.history];
  for (const byFlight of travel.month.values())
    for (const list of byFlight.values()) allSegments.push(...list);
  const forgot = allSegments.filter(
    (s) => s.card === 'forgot' && s.member !== null && s.member.status === 'ACTIVE',
  );
  const windowOk = (s: Segment, received: IsoDate) => received <= addMonths(s.date, 6);
  const claimed = new Set<Segment>();
  const MATCHES = 'matches a coupon flown without card';
  const EARLY = 'early (waits for the window, then matches)';
  for (const s of forgot) {
    if (!random.chance(0.5)) continue;
    const received = addDays(s.date, random.range(3, 80));
    if (received < first || received > last || !windowOk(s, received)) continue;
    // Filed before the window opens, it waits; only a wait that ends inside the month shows it credited.
    const early = daysBetween(s.date, received) < 14;
    if (early && addDays(s.date, 14) > last) continue;
    file(received, s, early ? EARLY : MATCHES, random.chance(0.6));
    claimed.add(s);
  }
  // However small the demo, some requests match and some wait first.
  const unclaimed = forgot.filter((s) => !claimed.has(s));
  const settled = unclaimed.filter((s) => s.date >= addDays(first, -80) && s.date <= addDays(first, -14));
  for (const s of random.sample(settled, 3 - (summary.retroClaims[MATCHES] ?? 0))) {
    file(addDays(first, random.range(1, 10)), s, MATCHES, random.chance(0.5));
    claimed.add(s);
  }
  const recent = unclaimed.filter((s) => s.date >= first && addDays(s.date, 16) <= last && !claimed.has(s));
  for (const s of random.sample(recent, 2 - (summary.retroClaims[EARLY] ?? 0))) {
    file(addDays(s.date, random.range(3, 10)), s, EARLY, random.chance(0.5));
  }
  // One request for a flight of more than six months ago.
  const old = forgot.find((s) => daysBetween(s.date, first) > 200 && s.member!.status === 'ACTIVE');
  if (old) file(addDays(first, 2), old, 'older than the window', true);
  // Requests for flights already credited (the card was given after all), inside the window, so it is
  // the duplicate the pipeline must spot, not the age.
  const credited = allSegments.filter(
    (s) =>
      s.card === 'own' &&
      s.member?.status === 'ACTIVE' &&
      s.date < addDays(first, -20) &&
      s.date > addMonths(first, -5),
  );
  for (const s of random.sample(credited, Math.max(1, Math.round(forgot.length / 100)))) {
    file(addDays(first, random.range(1, days.length - 1)), s, 'already credited', random.chance(0.5));
  }
  // Flights that do not exist: a ticket number no coupon carries, or a flight on a day it did not fly.
  const members = options.base.members.filter((m) => m.status === 'ACTIVE' && m.earnUntil === null);
  for (let k = Math.max(2, Math.round(forgot.length / 100)); k > 0 && members.length > 0; k--) {
    const m = random.pick(members);
    const received = addDays(first, random.range(1, days.length - 1));
    const byTicket = k % 2 === 0;
    add(
      received,
      m,
      byTicket
        ? [`${XX_TICKETS}99${random.digits(8)}`, 1, '', '', '', '', '']
        : ['', '', 'XX', 9000 + random.int(900), addDays(received, -random.range(15, 60)), 'SVO', 'LED'],
      'no such flight',
    );
  }
  for (const date of days) {
    const rows = nights.get(date);
    if (!rows) continue;
    writer.write(date, 'retro-claims', `RETRO_CLAIMS_${date.replace(/-/g, '')}.csv`, header + rows.join(''), {
      records: rows.length,
    });
  }
}

/** The credits the generator can count on for an own-card segment, or 0. */
export function segmentEstimate(s: Segment, estimateOf: EarnEstimate): number {
  if (s.card !== 'own' || s.member === null) return 0;
  return estimateOf(s.flight.from, s.flight.to, s.bookedRbd);
}
