/**
 * Who flies: members' trips over the history and the month (round trips from where they live, more
 * for frequent flyers, business class for some), the other passengers that fill each flight, and for
 * every flight of the month what the departure control system and revenue accounting send about it.
 */
import { addDays, daysBetween, eachDay, weekday, type IsoDate } from '../lib/dates.js';
import type { FtlWriterPassenger } from '../parsers/ftl/writer.js';
import { withCheckDigit } from '../rules/check-digit.js';
import type { Member, MemberBase } from './members.js';
import { documentName, russianPerson, westernPerson, type Person, type WesternOrigin } from './names.js';
import { AIRCRAFT, bookingClass, cabinOf, priceUsdCents, type Flight, type Network } from './network.js';
import { Random, Weighted } from './random.js';

/** How a passenger presented (or did not present) a card. */
export type CardUse =
  /** the member's own XX card, listed in the FTL and on the coupon */
  | 'own'
  /** an XX member who gave no card: not listed, coupon without card, may ask for it later */
  | 'forgot'
  /** a partner program's member (LH or IB card) */
  | 'partner'
  /** someone else travelling on a member's card: the name does not fit */
  | 'borrowed'
  /** no program at all */
  | 'none';

export interface Segment {
  member: Member | null;
  /** The name on the ticket (a member's, or a borrower's). */
  person: Person;
  flight: Flight;
  date: IsoDate;
  bookedRbd: string;
  flownRbd: string;
  ticket: string;
  coupon: number;
  issueDate: IsoDate;
  pnr: string;
  card: CardUse;
  /** The card number presented (own, borrowed or partner). */
  cardNumber: string | null;
  cardProgram: 'XX' | 'LH' | 'IB' | null;
  /** Also shows a partner card next to the XX one (listed with both). */
  secondCard: { program: 'LH' | 'IB'; number: string } | null;
  marketing: { carrier: 'XX' | 'LH' | 'IB'; number: number };
  paxType: 'ADT' | 'CHD' | 'INF';
  title: string | null;
  currency: 'USD' | 'EUR' | 'CHF' | 'RUB';
  fare: number;
  surcharge: number;
  tax: number;
  roundTrip: boolean;
  /** Part of a group booking (one PNR for many members). */
  group: boolean;
}

export interface EarnEstimate {
  /** Points a coupon of this route and booking class earns at least (no bonuses, no promotions). */
  (from: string, to: string, rbd: string): number;
}

/** The rough exchange rates ticket offices price with; the ECB's daily rates vary around them. */
const PRICE_RATE: Record<Segment['currency'], number> = { USD: 1, EUR: 1 / 1.09, CHF: 0.88, RUB: 92.5 };

const LH_TICKETS = '220';
const IB_TICKETS = '075';
export const XX_TICKETS = '958';

export class TicketOffice {
  private serial: number;
  /** Serials from `base`: members' tickets and each day's other passengers draw from separate ranges. */
  constructor(random: Random, base = 2_100_000_000) {
    this.serial = base + random.int(50_000);
  }

  next(prefix = XX_TICKETS): string {
    this.serial += 1 + (this.serial % 3);
    return `${prefix}${String(this.serial).padStart(10, '0')}`;
  }
}

export function partnerCardNumber(random: Random, program: 'LH' | 'IB'): string {
  // Miles & More numbers are 15 digits beginning 992; Iberia Plus ones are printed with leading zeros.
  return program === 'LH' ? `992${random.digits(12)}` : `000000${random.digits(8)}`;
}

function price(
  random: Random,
  s: Pick<Segment, 'flight' | 'bookedRbd' | 'currency'>,
): Pick<Segment, 'fare' | 'surcharge' | 'tax'> {
  const usd = priceUsdCents(random, s.flight.miles, s.bookedRbd, s.flight.domestic);
  const rate = PRICE_RATE[s.currency];
  const conv = (c: number) => Math.max(0, Math.round(c * rate));
  // Rouble fares are quoted in whole roubles.
  const round = (c: number) => (s.currency === 'RUB' ? Math.round(c / 100) * 100 : c);
  return { fare: round(conv(usd.fare)), surcharge: round(conv(usd.surcharge)), tax: round(conv(usd.tax)) };
}

/**
 * The currency a coupon is priced in. Coupons that can earn (an XX card, or an XX member who may claim
 * later) are priced where the ECB publishes a rate, because accrual converts them to USD for status
 * credits: dollars at home, euros or francs abroad. Walk-in passengers on domestic routes pay roubles,
 * which the ECB stopped quoting in March 2022; nothing converts their coupons.
 */
function currencyFor(random: Random, flight: Flight, canEarn: boolean): Segment['currency'] {
  const swiss = flight.from === 'ZRH' || flight.to === 'ZRH' || flight.from === 'GVA' || flight.to === 'GVA';
  if (canEarn)
    return flight.domestic ? 'USD' : swiss && random.chance(0.5) ? 'CHF' : random.chance(0.7) ? 'EUR' : 'USD';
  if (flight.domestic) return random.chance(0.75) ? 'RUB' : 'USD';
  return random.chance(0.5) ? 'EUR' : random.chance(0.5) ? 'RUB' : 'USD';
}

const TITLE = { M: 'MR', F: 'MRS' } as const;

export interface Travel {
  seed: number;
  network: Network;
  /** Passengers per seat-at-82%-load, sizing the other passengers to the program. */
  loadScale: number;
  /** The date `days` before `date`, from a table (the generator asks millions of times). */
  dateBefore(date: IsoDate, days: number): IsoDate;
  /** History coupons (members only), by flight date. */
  history: Segment[];
  /** Members' month segments by flight date, then by flight id (other passengers: see manifest()). */
  month: Map<IsoDate, Map<number, Segment[]>>;
  /** Flights of the month's deliberate cases, by scenario. */
  scenarios: Map<string, { date: IsoDate; flight: Flight }>;
  /** Members whose cards fly with someone else's name, and members who fly while not allowed to earn. */
  borrowed: Segment[];
  inactiveFlyers: Segment[];
}

export interface TravelOptions {
  seed: number;
  network: Network;
  base: MemberBase;
  historyFrom: IsoDate;
  firstNight: IsoDate;
  lastNight: IsoDate;
  /** Passengers a day the schedule should carry. */
  passengersPerDay: number;
}

/** Dates by index over a span: the generator moves by days hundreds of thousands of times. */
function calendar(from: IsoDate, to: IsoDate) {
  const dates: IsoDate[] = [];
  const index = new Map<IsoDate, number>();
  for (let d = from; d <= to; d = addDays(d, 1)) {
    index.set(d, dates.length);
    dates.push(d);
  }
  const indexOf = (d: IsoDate) => index.get(d) ?? daysBetween(from, d);
  const at = (i: number) => dates[i] ?? addDays(from, i);
  return { indexOf, at, before: (d: IsoDate, n: number) => at(indexOf(d) - n) };
}

function memberMayEarn(m: Member, date: IsoDate): boolean {
  return (
    m.status !== 'SUSPENDED' &&
    m.earnFrom !== null &&
    m.earnFrom <= date &&
    (m.earnUntil === null || date < m.earnUntil) &&
    m.enrolmentDate <= date
  );
}

export function planTravel(options: TravelOptions): Travel {
  const { network, base, historyFrom, firstNight, lastNight } = options;
  const random = Random.stream(options.seed, 'travel');
  const office = new TicketOffice(random);
  const history: Segment[] = [];
  const month = new Map<IsoDate, Map<number, Segment[]>>();
  const flownOn = new Map<Member, Set<IsoDate>>();
  const put = (s: Segment) => {
    let days = flownOn.get(s.member!);
    if (!days) flownOn.set(s.member!, (days = new Set()));
    days.add(s.date);
    if (s.date < firstNight) {
      history.push(s);
      return;
    }
    let byFlight = month.get(s.date);
    if (!byFlight) month.set(s.date, (byFlight = new Map()));
    const list = byFlight.get(s.flight.id) ?? [];
    list.push(s);
    byFlight.set(s.flight.id, list);
  };

  const memberSegment = (
    m: Member,
    flight: Flight,
    date: IsoDate,
    rbd: string,
    ticket: string,
    coupon: number,
    pnr: string,
    issueDate: IsoDate,
    roundTrip: boolean,
  ): Segment => {
    const forgot = random.chance(0.04);
    const currency = currencyFor(random, flight, true);
    const upgraded = cabinOf(rbd) === 'Y' && AIRCRAFT[flight.aircraft].business > 0 && random.chance(0.012);
    const cs = flight.codeshare && random.chance(0.12) ? flight.codeshare : null;
    const s: Segment = {
      member: m,
      person: m.person,
      flight,
      date,
      bookedRbd: rbd,
      flownRbd: upgraded ? random.pick(['J', 'C']) : rbd,
      ticket: cs ? office.next(cs.carrier === 'LH' ? LH_TICKETS : IB_TICKETS) : ticket,
      coupon: cs ? 1 : coupon,
      issueDate,
      pnr,
      card: forgot ? 'forgot' : 'own',
      cardNumber: forgot ? null : m.number,
      cardProgram: forgot ? null : 'XX',
      secondCard:
        !forgot && m.person.country !== 'RU' && random.chance(0.15)
          ? {
              program: m.person.country === 'ES' ? 'IB' : 'LH',
              number: partnerCardNumber(random, m.person.country === 'ES' ? 'IB' : 'LH'),
            }
          : null,
      marketing: cs ?? { carrier: 'XX', number: flight.number },
      paxType: 'ADT',
      title: random.chance(0.5) ? TITLE[m.person.gender] : null,
      currency,
      fare: 0,
      surcharge: 0,
      tax: 0,
      roundTrip,
      group: false,
    };
    Object.assign(s, price(random, s));
    return s;
  };

  const cal = calendar(addDays(historyFrom, -120), addDays(lastNight, 40));
  const endIndex = cal.indexOf(lastNight) + 1;
  for (const m of base.members) {
    if (m.segmentsPerYear === 0) continue;
    const from = m.earnFrom === null ? null : m.earnFrom > historyFrom ? m.earnFrom : historyFrom;
    if (from === null) continue;
    const fromIndex = cal.indexOf(from);
    const untilIndex = m.earnUntil === null ? endIndex : Math.min(endIndex, cal.indexOf(m.earnUntil));
    const until = cal.at(untilIndex);
    const days = untilIndex - fromIndex;
    if (days <= 0) continue;
    const trips = random.poisson(((m.segmentsPerYear / 2) * days) / 365);
    const home = network.legsFrom.has(m.home) ? m.home : 'SVO';
    for (let t = 0; t < trips; t++) {
      const outIndex = fromIndex + random.int(days);
      const out = cal.at(outIndex);
      const leg = network.legsFrom.get(home)!.pick(random);
      const outbound = random.pick(network.byLeg.get(leg)!);
      const back = network.byLeg.get(`${outbound.to}-${outbound.from}`)!;
      const stay = m.segmentsPerYear > 20 ? random.range(0, 3) : random.range(2, 12);
      const ret = cal.at(outIndex + stay);
      const rbd = bookingClass(random, outbound.aircraft, m.premium);
      const ticket = office.next();
      const pnr = random.code(6);
      const issued = cal.at(outIndex - random.range(1, 75));
      const roundTrip = ret < until;
      if (!flownOn.get(m)?.has(out))
        put(memberSegment(m, outbound, out, rbd, ticket, 1, pnr, issued, roundTrip));
      if (roundTrip && !flownOn.get(m)?.has(ret)) {
        const inbound = random.pick(back);
        const rbdBack = cabinOf(rbd) === 'Y' ? bookingClass(random, inbound.aircraft, 0) : rbd;
        put(
          memberSegment(
            m,
            inbound,
            ret,
            cabinOf(rbdBack) === cabinOf(rbd) ? rbdBack : rbd,
            ticket,
            2,
            pnr,
            issued,
            true,
          ),
        );
      }
    }
  }

  const travel: Travel = {
    seed: options.seed,
    network,
    loadScale: 1,
    dateBefore: cal.before,
    history,
    month,
    scenarios: new Map(),
    borrowed: [],
    inactiveFlyers: [],
  };
  const days = [...eachDay(firstNight, lastNight)];

  // The deliberate cases of the month, on fixed days of it so every demo month has them.
  const widebody = network.flights.find((f) => f.from === 'SVO' && f.to === 'AER') ?? network.flights[0]!;
  const day = (n: number) => days[Math.min(days.length - 1, n - 1)]!;
  travel.scenarios.set('multipart-two-files', { date: day(3), flight: widebody });
  travel.scenarios.set('multipart-part-late', { date: day(9), flight: widebody });
  travel.scenarios.set('multipart-duplicate-part', { date: day(16), flight: widebody });

  // A group large enough to split the list into parts (a company's incentive trip, booked under one PNR).
  const active = base.members.filter(
    (m) => m.status === 'ACTIVE' && m.earnUntil === null && m.group === null,
  );
  for (const { date, flight } of travel.scenarios.values()) {
    const already =
      month
        .get(date)
        ?.get(flight.id)
        ?.filter((s) => s.card === 'own').length ?? 0;
    const pnr = random.code(6);
    const issued = addDays(date, -30);
    let wanted = Math.max(0, 60 - already);
    for (const m of random.sample(active, wanted * 3)) {
      if (wanted === 0) break;
      if (!memberMayEarn(m, date) || flownOn.get(m)?.has(date)) continue;
      const s = memberSegment(m, flight, date, 'K', office.next(), 1, pnr, issued, false);
      s.card = 'own';
      s.cardNumber = m.number;
      s.cardProgram = 'XX';
      s.flownRbd = 'K';
      s.marketing = { carrier: 'XX', number: flight.number };
      s.group = true;
      s.currency = 'USD';
      Object.assign(s, price(random, s));
      put(s);
      wanted--;
    }
  }

  // The night VKO's DCS sends CP866, someone it lists in Cyrillic is on board (a small demo may have no one).
  const vko = network.flights.find((f) => f.from === 'VKO' && f.domestic);
  if (vko) {
    const date = day(12);
    travel.scenarios.set('cp866', { date, flight: vko });
    const russians = active.filter(
      (m) => m.person.surnameLocal !== null && memberMayEarn(m, date) && !flownOn.get(m)?.has(date),
    );
    for (const m of random.sample(russians, 2)) {
      const s = memberSegment(m, vko, date, 'M', office.next(), 1, random.code(6), addDays(date, -12), false);
      Object.assign(s, {
        card: 'own',
        cardNumber: m.number,
        cardProgram: 'XX',
        flownRbd: 'M',
        marketing: { carrier: 'XX', number: vko.number },
      });
      put(s);
    }
  }

  // A card lent to a relative (NAME_MISMATCH) and a member flying before finishing registration.
  const lender = active.find((m) => m.person.country === 'RU');
  const incomplete = base.members.find((m) => m.status === 'INCOMPLETE' && m.enrolmentDate < firstNight);
  const flyOn = (m: Member, date: IsoDate, person: Person, into: Segment[]) => {
    const flight = random.pick(network.flights.filter((f) => f.domestic));
    const s = memberSegment(
      m,
      flight,
      date,
      'M',
      office.next(),
      1,
      random.code(6),
      addDays(date, -10),
      false,
    );
    s.person = person;
    s.card = person === m.person ? 'own' : 'borrowed';
    s.cardNumber = m.number;
    s.cardProgram = 'XX';
    s.currency = 'USD';
    put(s);
    into.push(s);
  };
  if (lender) {
    const other = russianPerson(random, { withLocal: false });
    flyOn(
      lender,
      day(5),
      { ...other, surname: other.surname === lender.person.surname ? 'Zhukova' : other.surname },
      travel.borrowed,
    );
  }
  if (incomplete) flyOn(incomplete, day(7), incomplete.person, travel.inactiveFlyers);

  const seats = network.flights.reduce((sum, f) => sum + AIRCRAFT[f.aircraft].seats, 0);
  travel.loadScale = options.passengersPerDay / (seats * 0.82);
  return travel;
}

const ORIGINS = new Weighted<WesternOrigin>([
  ['DE', 30],
  ['ES', 20],
  ['FR', 20],
  ['IT', 20],
  ['GB', 10],
]);

/**
 * Everyone on board on `date`, by flight id: the members who planned to fly, and the other passengers
 * that fill each flight to the day's load, a few with a partner program's card. The others are drawn
 * from the day's own stream and ticket range, so asking twice (the DCS that night, revenue accounting
 * the next) gives the same passengers, and only one day of them is ever held in memory.
 */
export function manifest(travel: Travel, date: IsoDate): Map<number, Segment[]> {
  const { network } = travel;
  const random = Random.stream(travel.seed, `passengers:${date}`);
  const office = new TicketOffice(random, 3_000_000_000 + daysBetween('2020-01-01', date) * 1_000_000);
  const planned = travel.month.get(date);
  const out = new Map<number, Segment[]>();
  const wd = weekday(date);
  const busy = wd === 5 || wd === 0 ? 1.12 : wd === 2 || wd === 3 ? 0.9 : 1;
  for (const flight of network.flights) {
    const list = [...(planned?.get(flight.id) ?? [])];
    out.set(flight.id, list);
    const type = AIRCRAFT[flight.aircraft];
    const load = Math.min(
      type.seats,
      Math.round(type.seats * 0.82 * travel.loadScale * busy * random.real(0.85, 1.12)),
    );
    const others = Math.max(0, load - list.length);
    const partner = flight.codeshare?.carrier ?? (flight.domestic ? null : random.chance(0.5) ? 'LH' : 'IB');
    let pnr = '';
    for (let k = 0; k < others; k++) {
      const foreign = !flight.domestic && random.chance(0.45);
      const person = foreign
        ? westernPerson(random, ORIGINS.pick(random))
        : russianPerson(random, { withLocal: false });
      const cardholder = partner !== null && foreign && random.chance(0.09);
      const rbd = bookingClass(random, flight.aircraft, 0.04);
      const cs = flight.codeshare && random.chance(0.25) ? flight.codeshare : null;
      const child = random.next();
      // Families book together: a child shares the PNR of the passenger before.
      pnr = child < 0.05 && pnr !== '' ? pnr : random.code(6);
      const s: Segment = {
        member: null,
        person,
        flight,
        date,
        bookedRbd: rbd,
        flownRbd: rbd,
        ticket: office.next(cs ? (cs.carrier === 'LH' ? LH_TICKETS : IB_TICKETS) : XX_TICKETS),
        coupon: random.chance(0.35) ? 2 : 1,
        issueDate: travel.dateBefore(date, random.range(0, 90)),
        pnr,
        card: cardholder ? 'partner' : 'none',
        cardNumber: cardholder ? partnerCardNumber(random, partner) : null,
        cardProgram: cardholder ? partner : null,
        secondCard: null,
        marketing: cs ?? { carrier: 'XX', number: flight.number },
        paxType: child < 0.04 ? 'CHD' : child < 0.05 ? 'INF' : 'ADT',
        title: random.chance(0.4) ? TITLE[person.gender] : null,
        currency: currencyFor(random, flight, false),
        fare: 0,
        surcharge: 0,
        tax: 0,
        roundTrip: false,
        group: false,
      };
      Object.assign(s, price(random, s));
      if (s.paxType === 'INF') {
        s.fare = Math.round(s.fare / 10);
        s.surcharge = 0;
      }
      list.push(s);
    }
  }
  return out;
}

/** Segments whose passenger is listed in the FTL: anyone who gave a card at check-in. */
export function listed(s: Segment): boolean {
  return s.card === 'own' || s.card === 'partner' || s.card === 'borrowed';
}

/**
 * The passenger as the DCS lists them. Stations running the Sirena-family DCS (VKO, LED) write Russian
 * members on domestic flights in Cyrillic, as their passports read; elsewhere names are Latin, some with
 * the title typed after the given name.
 */
export function ftlPassenger(
  s: Segment,
  random: Random,
  stationDialect: 'R' | 'F' | 'HK',
): FtlWriterPassenger {
  const p = s.person;
  const cyrillic =
    (s.flight.from === 'VKO' || s.flight.from === 'LED') &&
    s.flight.domestic &&
    p.surnameLocal !== null &&
    p.givenNameLocal !== null;
  const cards: FtlWriterPassenger['cards'][number][] = [];
  if (s.cardNumber !== null && s.cardProgram !== null) {
    const element = stationDialect === 'F' && random.chance(0.3) ? 'F' : 'R';
    cards.push({
      program: s.cardProgram,
      number: s.cardNumber,
      element,
      statusCode: stationDialect === 'HK' && element === 'R' && random.chance(0.5) ? 'HK1' : null,
    });
  }
  if (s.secondCard) cards.push({ program: s.secondCard.program, number: s.secondCard.number });
  if (s.flownRbd !== s.bookedRbd && s.cardNumber !== null && s.cardProgram === 'XX') {
    cards.push({
      usage: 'FQTU',
      program: 'XX',
      number: s.cardNumber,
      suffix: `-UPGRADE CONFIRMED AT CHECK-IN BY AGENT ${random.range(1000, 9999)} FOR OPERATIONAL REASONS`,
    });
  }
  const passenger: FtlWriterPassenger = {
    destination: s.flight.to,
    subclass: s.flownRbd,
    surname: cyrillic ? p.surnameLocal!.toUpperCase() : documentName(p.surname),
    givenName: cyrillic ? p.givenNameLocal!.toUpperCase() : documentName(p.givenName),
    title: cyrillic ? null : s.title,
    bookedSubclass: s.bookedRbd,
    pnr: s.pnr,
    pnrAirline: 'XX',
    cards,
  };
  if (s.marketing.carrier !== 'XX') {
    passenger.marketingFlight = {
      carrier: s.marketing.carrier,
      number: s.marketing.number,
      subclass: s.bookedRbd,
      day: Number(s.date.slice(8, 10)),
      board: s.flight.from,
      off: s.flight.to,
    };
  }
  return passenger;
}

/** A member number that fails its Luhn check digit (the last digit changed). */
export function breakCheckDigit(number: string): string {
  const last = Number(number.slice(-1));
  return `${number.slice(0, -1)}${(last + 5) % 10}`;
}

/** A number with a valid check digit that no member holds (from a range the generator never uses). */
export function unknownMemberNumber(random: Random): string {
  return withCheckDigit(`0${random.digits(8)}`, { pattern: '^[0-9]{10}$', checkDigit: 'luhn' });
}
