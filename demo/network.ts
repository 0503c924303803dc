/**
 * The airline XX: a route network from Moscow (SVO, DME, VKO) and St Petersburg (LED) to Russian and
 * European airports, a daily schedule sized to the program, booking classes with the shares a Russian
 * network carrier sells, and fares priced by distance and class.
 *
 * Every airport is a real IATA code from rules/airports.ts and distances come from rules/distance.ts, so
 * the miles the demo's accrual computes are the miles of these routes. LH and IB market seats on the XX
 * flights to their hubs (codeshares), which is also where most of their cardholders fly with XX.
 */
import { cabinOf as programCabinOf } from '../rules/activity.js';
import { airport } from '../rules/airports.js';
import { greatCircleMiles } from '../rules/distance.js';
import type { IsoDate } from '../lib/dates.js';
import { Weighted, type Random } from './random.js';

export type Aircraft = 'SU9' | '320' | '321' | '73H' | '333' | '77W';

interface AircraftType {
  seats: number;
  /** Seats in the business cabin and in premium economy. */
  business: number;
  premium: number;
}

export const AIRCRAFT: Record<Aircraft, AircraftType> = {
  SU9: { seats: 98, business: 0, premium: 0 },
  '320': { seats: 158, business: 8, premium: 0 },
  '321': { seats: 203, business: 16, premium: 0 },
  '73H': { seats: 176, business: 8, premium: 0 },
  '333': { seats: 296, business: 28, premium: 24 },
  '77W': { seats: 402, business: 30, premium: 48 },
};

export interface Route {
  from: string;
  to: string;
  /** Relative demand: decides which routes a small program's schedule keeps and how often they fly. */
  weight: number;
  aircraft: Aircraft;
  /** A partner airline that markets seats on the flight under its own number. */
  codeshare?: 'LH' | 'IB';
  /** Kept however small the program, because a deliberate case of the demo flies it. */
  always?: boolean;
}

// One direction per line; each route is flown both ways. Weights roughly follow traffic.
const ROUTES: Route[] = [
  { from: 'SVO', to: 'LED', weight: 40, aircraft: '321', always: true },
  { from: 'SVO', to: 'AER', weight: 22, aircraft: '77W', always: true },
  { from: 'SVO', to: 'FRA', weight: 8, aircraft: '321', codeshare: 'LH', always: true },
  { from: 'SVO', to: 'MAD', weight: 5, aircraft: '320', codeshare: 'IB', always: true },
  { from: 'VKO', to: 'KZN', weight: 7, aircraft: '73H', always: true },
  { from: 'LED', to: 'KGD', weight: 7, aircraft: '320', always: true },
  { from: 'DME', to: 'LED', weight: 18, aircraft: '320' },
  { from: 'VKO', to: 'LED', weight: 14, aircraft: '73H' },
  { from: 'SVO', to: 'KZN', weight: 10, aircraft: '320' },
  { from: 'SVO', to: 'SVX', weight: 10, aircraft: '321' },
  { from: 'SVO', to: 'OVB', weight: 9, aircraft: '333' },
  { from: 'SVO', to: 'KRR', weight: 9, aircraft: '320' },
  { from: 'SVO', to: 'KGD', weight: 8, aircraft: '320' },
  { from: 'SVO', to: 'IST', weight: 8, aircraft: '321' },
  { from: 'DME', to: 'AER', weight: 12, aircraft: '320' },
  { from: 'LED', to: 'AER', weight: 10, aircraft: '320' },
  { from: 'SVO', to: 'CDG', weight: 6, aircraft: '320' },
  { from: 'SVO', to: 'MUC', weight: 5, aircraft: '320', codeshare: 'LH' },
  { from: 'SVO', to: 'UFA', weight: 6, aircraft: '320' },
  { from: 'SVO', to: 'MRV', weight: 6, aircraft: '320' },
  { from: 'SVO', to: 'ROV', weight: 6, aircraft: '320' },
  { from: 'DME', to: 'SVX', weight: 6, aircraft: '320' },
  { from: 'DME', to: 'OVB', weight: 6, aircraft: '321' },
  { from: 'DME', to: 'KRR', weight: 6, aircraft: '73H' },
  { from: 'SVO', to: 'VVO', weight: 5, aircraft: '77W' },
  { from: 'SVO', to: 'KHV', weight: 4, aircraft: '333' },
  { from: 'SVO', to: 'BCN', weight: 4, aircraft: '320', codeshare: 'IB' },
  { from: 'SVO', to: 'FCO', weight: 4, aircraft: '320' },
  { from: 'SVO', to: 'BER', weight: 4, aircraft: '320', codeshare: 'LH' },
  { from: 'LED', to: 'FRA', weight: 4, aircraft: '320', codeshare: 'LH' },
  { from: 'SVO', to: 'IKT', weight: 4, aircraft: '333' },
  { from: 'SVO', to: 'KJA', weight: 4, aircraft: '321' },
  { from: 'DME', to: 'MCX', weight: 4, aircraft: '73H' },
  { from: 'DME', to: 'KUF', weight: 4, aircraft: 'SU9' },
  { from: 'VKO', to: 'AER', weight: 6, aircraft: '73H' },
  { from: 'VKO', to: 'KGD', weight: 4, aircraft: '73H' },
  { from: 'VKO', to: 'MRV', weight: 3, aircraft: '73H' },
  { from: 'VKO', to: 'UFA', weight: 3, aircraft: 'SU9' },
  { from: 'LED', to: 'KZN', weight: 3, aircraft: 'SU9' },
  { from: 'LED', to: 'SVX', weight: 3, aircraft: '320' },
  { from: 'LED', to: 'MMK', weight: 3, aircraft: 'SU9' },
  { from: 'LED', to: 'IST', weight: 3, aircraft: '320' },
  { from: 'LED', to: 'BCN', weight: 2, aircraft: '320', codeshare: 'IB' },
  { from: 'SVO', to: 'VIE', weight: 3, aircraft: '320' },
  { from: 'SVO', to: 'ZRH', weight: 3, aircraft: '320' },
  { from: 'SVO', to: 'GVA', weight: 2, aircraft: '320' },
  { from: 'SVO', to: 'PRG', weight: 3, aircraft: '320' },
  { from: 'SVO', to: 'HEL', weight: 3, aircraft: 'SU9' },
  { from: 'SVO', to: 'AMS', weight: 3, aircraft: '320' },
  { from: 'SVO', to: 'ATH', weight: 2, aircraft: '320' },
  { from: 'SVO', to: 'LCA', weight: 2, aircraft: '320' },
  { from: 'SVO', to: 'BUD', weight: 2, aircraft: '320' },
  { from: 'SVO', to: 'BEG', weight: 3, aircraft: '320' },
  { from: 'SVO', to: 'LIS', weight: 2, aircraft: '320' },
  { from: 'SVO', to: 'MXP', weight: 2, aircraft: '320' },
  { from: 'SVO', to: 'MMK', weight: 3, aircraft: '320' },
  { from: 'SVO', to: 'ARH', weight: 2, aircraft: 'SU9' },
  { from: 'SVO', to: 'CEK', weight: 3, aircraft: '320' },
  { from: 'SVO', to: 'PEE', weight: 3, aircraft: '320' },
  { from: 'DME', to: 'VOG', weight: 2, aircraft: 'SU9' },
  { from: 'DME', to: 'GOJ', weight: 2, aircraft: 'SU9' },
  { from: 'DME', to: 'TJM', weight: 2, aircraft: '73H' },
  { from: 'DME', to: 'OMS', weight: 2, aircraft: '73H' },
  { from: 'DME', to: 'SGC', weight: 2, aircraft: '73H' },
  { from: 'DME', to: 'STW', weight: 2, aircraft: 'SU9' },
  { from: 'DME', to: 'AAQ', weight: 2, aircraft: '73H' },
  { from: 'DME', to: 'IST', weight: 3, aircraft: '73H' },
  { from: 'DME', to: 'BEG', weight: 2, aircraft: '73H' },
  { from: 'VKO', to: 'KUF', weight: 2, aircraft: 'SU9' },
  { from: 'VKO', to: 'ROV', weight: 2, aircraft: '73H' },
  { from: 'LED', to: 'OVB', weight: 2, aircraft: '320' },
  { from: 'LED', to: 'KRR', weight: 2, aircraft: '320' },
  { from: 'LED', to: 'ARH', weight: 2, aircraft: 'SU9' },
  { from: 'LED', to: 'MRV', weight: 2, aircraft: '320' },
  { from: 'LED', to: 'HEL', weight: 2, aircraft: 'SU9' },
  { from: 'LED', to: 'BEG', weight: 2, aircraft: '320' },
];

export const MOSCOW = ['SVO', 'DME', 'VKO'];
export const HUBS = [...MOSCOW, 'LED'];

/** UTC offset in hours of an airport's local time (standard time; DST only where Europe keeps it). */
export function utcOffsetHours(code: string, date: IsoDate): number {
  const ru: Record<string, number> = {
    KGD: 2,
    KUF: 4,
    SVX: 5,
    UFA: 5,
    PEE: 5,
    TJM: 5,
    CEK: 5,
    SGC: 5,
    OMS: 6,
    OVB: 7,
    KJA: 7,
    IKT: 8,
    KHV: 10,
    VVO: 10,
  };
  const a = airport(code);
  if (!a) return 0;
  if (a.country === 'RU') return ru[code] ?? 3;
  if (a.country === 'TR') return 3;
  const month = Number(date.slice(5, 7));
  const summer = month >= 4 && month <= 10;
  if (a.country === 'GB' || a.country === 'PT' || a.country === 'IE') return summer ? 1 : 0;
  if (['FI', 'GR', 'CY'].includes(a.country)) return summer ? 3 : 2;
  return summer ? 2 : 1;
}

export interface Flight {
  /** Index in the schedule. */
  id: number;
  carrier: 'XX';
  number: number;
  from: string;
  to: string;
  /** Local departure, minutes after midnight. */
  departure: number;
  aircraft: Aircraft;
  miles: number;
  domestic: boolean;
  codeshare?: { carrier: 'LH' | 'IB'; number: number };
  route: Route;
}

export interface Network {
  routes: Route[];
  flights: Flight[];
  /** Flights of each route direction, keyed `FROM-TO`. */
  byLeg: Map<string, Flight[]>;
  /** Leg keys departing from each airport, with their weights (where members living there fly to). */
  legsFrom: Map<string, Weighted<string>>;
}

export function isDomestic(from: string, to: string): boolean {
  return airport(from)?.country === 'RU' && airport(to)?.country === 'RU';
}

/**
 * The daily schedule: `flightsPerDay` departures (rounded up to whole round trips) shared among routes
 * by demand with the largest-remainder method, the routes of the demo's deliberate cases always kept.
 */
export function buildNetwork(flightsPerDay: number): Network {
  const roundTrips = Math.max(1, Math.round(flightsPerDay / 2));
  const kept = ROUTES.filter((r) => r.always);
  const others = ROUTES.filter((r) => !r.always).sort((a, b) => b.weight - a.weight);
  for (const r of others) {
    if (kept.length >= roundTrips) break;
    kept.push(r);
  }
  const total = kept.reduce((s, r) => s + r.weight, 0);
  const quota = kept.map((r) => (r.weight / total) * Math.max(roundTrips, kept.length));
  const frequency = quota.map((q) => Math.max(1, Math.floor(q)));
  let left = Math.max(roundTrips, kept.length) - frequency.reduce((s, f) => s + f, 0);
  const byRemainder = kept
    .map((_, i) => i)
    .sort((a, b) => quota[b]! - Math.floor(quota[b]!) - (quota[a]! - Math.floor(quota[a]!)));
  for (let k = 0; left > 0 && k < byRemainder.length; k++, left--) frequency[byRemainder[k]!]! += 1;

  const flights: Flight[] = [];
  const byLeg = new Map<string, Flight[]>();
  let lhNumber = 2540;
  let ibNumber = 7420;
  kept.forEach((route, r) => {
    const miles = greatCircleMiles(route.from, route.to);
    if (miles === undefined) throw new Error(`unknown airport on route ${route.from}-${route.to}`);
    // Each route owns a block of 40 flight numbers.
    const freq = Math.min(19, frequency[r]!);
    for (let k = 0; k < freq; k++) {
      // Odd numbers away from the hub, the next even number back, as most carriers number them.
      const base = 100 + r * 40 + k * 2 + 1;
      // Departures spread over the day: the first at 06:00, the last before 22:00.
      const out = 360 + Math.floor(((k + 0.5) * 960) / freq) + (r % 4) * 10;
      const back = Math.min(23 * 60 + 30, out + 60 + Math.round(miles / 7));
      for (const [from, to, number, departure] of [
        [route.from, route.to, base, out],
        [route.to, route.from, base + 1, back],
      ] as const) {
        const flight: Flight = {
          id: flights.length,
          carrier: 'XX',
          number,
          from,
          to,
          departure: departure % 1440,
          aircraft: route.aircraft,
          miles,
          domestic: isDomestic(from, to),
          route,
        };
        if (route.codeshare === 'LH') flight.codeshare = { carrier: 'LH', number: lhNumber++ };
        if (route.codeshare === 'IB') flight.codeshare = { carrier: 'IB', number: ibNumber++ };
        flights.push(flight);
        const key = `${from}-${to}`;
        const list = byLeg.get(key) ?? [];
        list.push(flight);
        byLeg.set(key, list);
      }
    }
  });
  const legsFrom = new Map<string, Weighted<string>>();
  const weights = new Map<string, Array<[string, number]>>();
  for (const [key, list] of byLeg) {
    const from = key.slice(0, 3);
    const entries = weights.get(from) ?? [];
    entries.push([key, list.length * (list[0]!.route.weight + 1)]);
    weights.set(from, entries);
  }
  for (const [from, entries] of weights) legsFrom.set(from, new Weighted(entries));
  return { routes: kept, flights, byLeg, legsFrom };
}

// ---------------------------------------------------------------------------------------------------------
// Booking classes and fares

export type Cabin = 'C' | 'W' | 'Y';

/** Booking class shares of a Russian network carrier's economy and business cabins. */
// N is the hand-luggage-only fare that earns nothing (it is absent from the demo's class rates).
const ECONOMY = new Weighted<string>([
  ['Y', 6],
  ['B', 10],
  ['M', 13],
  ['K', 15],
  ['H', 14],
  ['L', 15],
  ['Q', 12],
  ['T', 9],
  ['N', 6],
]);
const BUSINESS = new Weighted<string>([
  ['J', 30],
  ['C', 30],
  ['D', 25],
  ['I', 15],
]);
const PREMIUM = new Weighted<string>([['W', 1]]);

/** The cabin of a booking class, by the program's own convention (the demo's aircraft have no first). */
export function cabinOf(rbd: string): Cabin {
  const cabin = programCabinOf(rbd);
  if (cabin === 'C' || cabin === 'W' || cabin === 'Y') return cabin;
  throw new Error(`the demo's aircraft have no cabin for booking class ${rbd}`);
}

/** A booking class for a passenger; `premiumShare` is the chance of flying business where there is one. */
export function bookingClass(random: Random, aircraft: Aircraft, premiumShare: number): string {
  const type = AIRCRAFT[aircraft];
  if (type.business > 0 && random.chance(premiumShare)) return BUSINESS.pick(random);
  if (type.premium > 0 && random.chance(premiumShare * 0.8)) return PREMIUM.pick(random);
  return ECONOMY.pick(random);
}

const CLASS_FACTOR: Record<string, number> = {
  J: 4.2,
  C: 3.6,
  D: 3.0,
  I: 2.5,
  W: 1.9,
  Y: 2.0,
  B: 1.7,
  M: 1.45,
  K: 1.15,
  H: 1.0,
  L: 0.85,
  Q: 0.75,
  T: 0.65,
  N: 0.55,
};

const FARE_BASIS_TAIL: Record<string, string> = {
  J: 'FLEX',
  C: 'STD',
  D: 'SAVER',
  I: 'PROMO',
  W: 'FLEX',
  Y: 'FLEX',
  B: 'STD',
  M: 'STD',
  K: 'SAVER',
  H: 'SAVER',
  L: 'LOW',
  Q: 'LOW',
  T: 'PROMO',
  N: 'LITE',
};

export function fareBasis(rbd: string, domestic: boolean, roundTrip: boolean): string {
  return `${rbd}${FARE_BASIS_TAIL[rbd] ?? 'STD'}${domestic ? '' : 'EU'}${roundTrip ? 'RT' : 'OW'}`.slice(
    0,
    15,
  );
}

/** A coupon's fare, carrier surcharge and taxes in US dollars (cents), before conversion to the selling currency. */
export function priceUsdCents(
  random: Random,
  miles: number,
  rbd: string,
  domestic: boolean,
): { fare: number; surcharge: number; tax: number } {
  const base = (35 + 0.085 * miles) * (CLASS_FACTOR[rbd] ?? 1) * random.real(0.85, 1.2);
  const fare = Math.round(base * 100);
  const surcharge = domestic ? random.range(0, 12) * 100 : random.range(18, 65) * 100;
  const tax = domestic ? random.range(350, 1500) : random.range(2500, 8900);
  return { fare, surcharge, tax };
}
