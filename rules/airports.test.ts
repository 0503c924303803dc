import { describe, expect, it } from 'vitest';
import { airport, airportCount } from './airports.js';
import { AIRPORT_SOURCES, AIRPORTS_TSV } from './data/airports.js';

describe('airport lookup', () => {
  it('finds the airports the FTL samples fly between, with city and country', () => {
    expect(airport('DME')).toEqual({
      iata: 'DME',
      name: 'Domodedovo International Airport',
      city: 'Moscow',
      country: 'RU',
      lat: 55.408798,
      lon: 37.9063,
    });
    for (const [code, city] of [
      ['LED', 'St. Petersburg'],
      ['SVO', 'Moscow'],
      ['AER', 'Sochi'],
      ['KZN', 'Kazan'],
      ['SVX', 'Yekaterinburg'],
      ['KJA', 'Krasnoyarsk'],
    ]) {
      expect(airport(code!)?.city, code).toBe(city);
      expect(airport(code!)?.country, code).toBe('RU');
    }
  });

  it('accepts a code in lower case', () => {
    expect(airport('led')?.iata).toBe('LED');
  });

  it('answers undefined for a code no airport has, so the caller can reject the coupon', () => {
    for (const code of ['ZZZ', 'QQQ', '', 'DMEX', 'D1E']) expect(airport(code), code).toBeUndefined();
  });

  it('knows the busiest airports of every continent', () => {
    const busiest = [
      'ATL',
      'DXB',
      'DFW',
      'HND',
      'LHR',
      'DEN',
      'IST',
      'ORD',
      'DEL',
      'CDG',
      'PEK',
      'SIN',
      'JNB',
      'GRU',
      'SYD',
      'MEX',
    ];
    for (const code of busiest) expect(airport(code), code).toBeDefined();
  });

  it('fills codes OurAirports lacks from OpenTravelData', () => {
    expect(airport('BIQ')?.city).toBe('Biarritz');
    expect(airport('MHT')?.country).toBe('US');
    expect(airport('WSI')?.country).toBe('AU');
  });

  it('holds every row of the data table, each with a valid code, country, coordinates and source', () => {
    const [header, ...rows] = AIRPORTS_TSV.trimEnd().split('\n');
    expect(header).toBe('iata\tname\tcity\tcountry\tlat\tlon\tsource');
    expect(airportCount()).toBe(rows.length);
    expect(airportCount()).toBeGreaterThan(9000);
    const sources = Object.keys(AIRPORT_SOURCES);
    const bad = rows.filter((row) => {
      const [iata = '', name = '', , country = '', lat = '', lon = '', source = '', ...extra] =
        row.split('\t');
      return !(
        /^[A-Z]{3}$/.test(iata) &&
        name.length > 0 &&
        /^[A-Z]{2}$/.test(country) &&
        /^-?\d+(\.\d+)?$/.test(lat) &&
        /^-?\d+(\.\d+)?$/.test(lon) &&
        Math.abs(Number(lat)) <= 90 &&
        Math.abs(Number(lon)) <= 180 &&
        sources.includes(source) &&
        extra.length === 0
      );
    });
    expect(bad).toEqual([]);
  });
});
