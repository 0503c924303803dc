/**
 * Great-circle distance between airports, the basis of distance-based air earning.
 *
 * Haversine on a sphere of the IUGG mean Earth radius R1 = (2a + b) / 3 = 6371.0088 km of the WGS 84
 * ellipsoid: the single radius that keeps a sphere's error against the true (ellipsoidal) geodesic
 * smallest on average, at most about ±0.5% on any route. Distance calculators that programs publish
 * (Great Circle Mapper and its kin) work on the ellipsoid, so a figure from here can differ from a
 * published one by a few miles on a long route; a program that must earn exactly its published table
 * configures city-pair miles instead of great-circle ones.
 */
import { airport } from './airports.js';

export const EARTH_MEAN_RADIUS_KM = 6371.0088;
/** The international statute mile, exactly (1959 agreement). */
export const KM_PER_STATUTE_MILE = 1.609344;

export interface LatLon {
  lat: number;
  lon: number;
}

const RADIANS = Math.PI / 180;

/** Unrounded great-circle distance in kilometres between two points given in degrees. */
export function haversineKm(a: LatLon, b: LatLon): number {
  const h =
    Math.sin(((b.lat - a.lat) * RADIANS) / 2) ** 2 +
    Math.cos(a.lat * RADIANS) * Math.cos(b.lat * RADIANS) * Math.sin(((b.lon - a.lon) * RADIANS) / 2) ** 2;
  // Rounding can push h a hair above 1 for nearly antipodal points, where asin would return NaN.
  return 2 * EARTH_MEAN_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

// Millions of coupons fly a few thousand distinct routes: each pair is computed once per process.
// Keyed by the two codes in alphabetical order, since the distance is the same both ways.
const kmByPair = new Map<string, number>();

function kmBetween(from: string, to: string): number | undefined {
  const key = from < to ? `${from}-${to}` : `${to}-${from}`;
  let km = kmByPair.get(key);
  if (km === undefined) {
    const origin = airport(from);
    const destination = airport(to);
    if (!origin || !destination) return undefined;
    km = haversineKm(origin, destination);
    // Cached under the codes as given; a lower-case spelling simply gets its own entry.
    kmByPair.set(key, km);
  }
  return km;
}

/** Unrounded distance in kilometres and statute miles between two airports, or undefined if either is unknown. */
export function greatCircleDistance(from: string, to: string): { km: number; miles: number } | undefined {
  const km = kmBetween(from, to);
  return km === undefined ? undefined : { km, miles: km / KM_PER_STATUTE_MILE };
}

/**
 * Whole statute miles between two airports, rounded to the nearest mile as programs publish their
 * distances (half a mile up); undefined when either code is unknown.
 */
export function greatCircleMiles(from: string, to: string): number | undefined {
  const km = kmBetween(from, to);
  return km === undefined ? undefined : Math.round(km / KM_PER_STATUTE_MILE);
}

/** Whole kilometres between two airports, rounded to the nearest; undefined when either code is unknown. */
export function greatCircleKm(from: string, to: string): number | undefined {
  const km = kmBetween(from, to);
  return km === undefined ? undefined : Math.round(km);
}
