import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EARTH_MEAN_RADIUS_KM,
  greatCircleDistance,
  greatCircleKm,
  greatCircleMiles,
  haversineKm,
} from './distance.js';

// A sphere of the mean radius is within about 0.56% of the WGS 84 geodesic on any route (the extremes
// are short north–south hops at the equator and at the poles, where the ellipsoid's meridian curvature
// departs most from the mean). Published figures are ellipsoidal, so 0.6% is the honest tolerance.
const SPHERE_VS_ELLIPSOID = 0.006;

describe('great-circle miles between airports', () => {
  it('agrees with the published ellipsoidal distances within what a sphere allows', () => {
    const published: Array<[string, string, number]> = [
      ['LHR', 'JFK', 3451],
      ['LAX', 'JFK', 2475],
      ['SYD', 'LHR', 10573],
      ['DME', 'LED', 415],
      ['SVO', 'AER', 873],
    ];
    for (const [from, to, miles] of published) {
      const ours = greatCircleMiles(from, to)!;
      expect(Math.abs(ours - miles) / miles, `${from}-${to}: ${ours} vs ${miles}`).toBeLessThan(
        SPHERE_VS_ELLIPSOID,
      );
    }
  });

  it('gives the whole-mile figures the accrual credits for the sample routes', () => {
    // Pinned so that a refresh of the airport data that moves a route's miles is seen in review.
    expect(greatCircleMiles('DME', 'LED')).toBe(414);
    expect(greatCircleMiles('SVO', 'AER')).toBe(873); // 872.50… rounds up, as published figures do
    expect(greatCircleMiles('LHR', 'JFK')).toBe(3442);
    expect(greatCircleKm('DME', 'LED')).toBe(667);
    expect(greatCircleKm('LHR', 'JFK')).toBe(5540);
  });

  it('is the same in both directions and in any letter case', () => {
    expect(greatCircleMiles('LED', 'DME')).toBe(greatCircleMiles('DME', 'LED'));
    expect(greatCircleMiles('dme', 'led')).toBe(414);
    expect(greatCircleDistance('AER', 'SVO')).toEqual(greatCircleDistance('SVO', 'AER'));
  });

  it('is zero from an airport to itself', () => {
    expect(greatCircleMiles('SVO', 'SVO')).toBe(0);
  });

  it('answers undefined when either airport is unknown, so the coupon can be rejected with a reason', () => {
    expect(greatCircleMiles('DME', 'ZZZ')).toBeUndefined();
    expect(greatCircleMiles('ZZZ', 'DME')).toBeUndefined();
    expect(greatCircleKm('QQQ', 'ZZZ')).toBeUndefined();
    expect(greatCircleDistance('', 'LED')).toBeUndefined();
    // Not mistaken for a route already cached (DME–LED) whose codes run together the same way.
    expect(greatCircleMiles('DME', 'LED')).toBe(414);
    expect(greatCircleMiles('DM', 'ELED')).toBeUndefined();
  });

  it('keeps km and miles consistent: miles are km over 1.609344', () => {
    const d = greatCircleDistance('SYD', 'LHR')!;
    expect(d.miles * 1.609344).toBeCloseTo(d.km, 9);
  });

  it('answers a million lookups over a few routes quickly, from the per-route cache', () => {
    const routes = [
      ['DME', 'LED'],
      ['SVO', 'AER'],
      ['LED', 'SVX'],
      ['KZN', 'SVO'],
      ['LHR', 'JFK'],
    ] as const;
    const started = performance.now();
    let total = 0;
    for (let i = 0; i < 1_000_000; i++) {
      const [from, to] = routes[i % routes.length]!;
      total += greatCircleMiles(from, to)!;
    }
    expect(total).toBeGreaterThan(0);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe('haversine on the mean Earth radius', () => {
  it('measures a quarter meridian as a quarter of the circumference', () => {
    expect(haversineKm({ lat: 0, lon: 0 }, { lat: 90, lon: 0 })).toBeCloseTo(
      (Math.PI * EARTH_MEAN_RADIUS_KM) / 2,
      6,
    );
  });

  it('measures antipodes as half the circumference instead of failing', () => {
    expect(haversineKm({ lat: 0, lon: 0 }, { lat: 0, lon: 180 })).toBeCloseTo(
      Math.PI * EARTH_MEAN_RADIUS_KM,
      6,
    );
    expect(haversineKm({ lat: 45, lon: 30 }, { lat: -45, lon: -150 })).toBeCloseTo(
      Math.PI * EARTH_MEAN_RADIUS_KM,
      6,
    );
  });

  const point = fc.record({
    lat: fc.double({ min: -90, max: 90, noNaN: true }),
    lon: fc.double({ min: -180, max: 180, noNaN: true }),
  });

  it('is symmetric, never longer than half the circumference, and obeys the triangle inequality', () => {
    fc.assert(
      fc.property(point, point, point, (a, b, c) => {
        const ab = haversineKm(a, b);
        // Haversine is ill-conditioned near antipodal points (asin of a value close to 1): there its
        // floating-point error reaches a few tens of centimetres, so sums are compared to the metre.
        expect(ab).toBeCloseTo(haversineKm(b, a), 3);
        expect(ab).toBeLessThanOrEqual(Math.PI * EARTH_MEAN_RADIUS_KM + 1e-3);
        expect(ab).toBeLessThanOrEqual(haversineKm(a, c) + haversineKm(c, b) + 1e-3);
      }),
    );
  });
});
