/**
 * Airports by IATA code, from the project's own data table (rules/data/airports.ts, derived from
 * OurAirports and OpenTravelData; see rules/data/README.md). The file is committed rather than read
 * from a package at run time so that a rerun of an old business date computes the same distances:
 * the data changes only through a reviewed commit.
 */
import { AIRPORTS_TSV } from './data/airports.js';

export interface Airport {
  /** IATA location code, upper case (`DME`). */
  iata: string;
  name: string;
  city: string;
  /** ISO 3166-1 alpha-2 country code (`RU`). */
  country: string;
  /** Degrees, WGS 84; north positive. */
  lat: number;
  /** Degrees, WGS 84; east positive. */
  lon: number;
}

let byCode: Map<string, Airport> | undefined;

// Built on first use and kept for the life of the process: the accrue job looks airports up for
// millions of coupons, and a Map lookup is all each of them should cost.
function index(): Map<string, Airport> {
  if (!byCode) {
    byCode = new Map();
    const lines = AIRPORTS_TSV.split('\n');
    // Line 0 is the column header; the generator guarantees seven tab-separated fields per line.
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      if (line === '') continue;
      const [iata = '', name = '', city = '', country = '', lat = '', lon = ''] = line.split('\t');
      byCode.set(iata, Object.freeze({ iata, name, city, country, lat: Number(lat), lon: Number(lon) }));
    }
  }
  return byCode;
}

/** The airport with this IATA code (case-insensitive), or undefined when the code is unknown. */
export function airport(code: string): Airport | undefined {
  const airports = index();
  return airports.get(code) ?? airports.get(code.toUpperCase());
}

/** How many airports the data set knows. */
export function airportCount(): number {
  return index().size;
}
