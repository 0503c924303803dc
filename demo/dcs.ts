/**
 * The departure control system's side: for every flight of the month, an FTL message the night the
 * flight closes, written by the project's FTL writer (64-character lines, `.RN/` continuations, parts of
 * about 3000 characters), one file per part as the teletype gateway delivers them.
 *
 * Stations differ the way real installations do: SVO and DME send CR LF with a `QU` priority (DME keeps
 * the `HK1` status code in card remarks), VKO and LED run a Sirena-family DCS that sends LF, lists Russian
 * members on domestic flights in Cyrillic, and at VKO writes some cards as PFS-style `.F/` elements.
 *
 * The deliberate cases (fixed days of the month, so every demo month has them): a group booking that
 * splits a message into parts in two files; the same once with the last part a night late (held, then
 * completed); the same once with the first part sent twice; a card without a number; a bare `1` name line
 * followed by a remark; a malformed destination group line; an `ENDPART3` closing a PART1 (the file is
 * refused whole); and one night on which the VKO station sends CP866 to a feed configured for UTF-8.
 */
import { addDays, type IsoDate } from '../lib/dates.js';
import { encodeFtl, writeFtlMessage, type FtlWriterMessage } from '../parsers/ftl/writer.js';
import { cabinOf, utcOffsetHours, type Network } from './network.js';
import { ftlPassenger, listed, type Segment, type Travel } from './flights.js';
import type { NightWriter } from './out.js';
import { Random } from './random.js';

export interface DcsOptions {
  seed: number;
  network: Network;
  travel: Travel;
  writer: NightWriter;
  days: readonly IsoDate[];
  /** The night the VKO station's DCS sends CP866. */
  cp866Day: IsoDate;
}

export interface DcsSummary {
  messages: number;
  files: number;
  passengers: number;
  multipart: number;
  /** Messages with a deliberate fault, for the plan. */
  faults: string[];
}

const CABIN_ORDER: Record<string, number> = { C: 0, W: 1, Y: 2 };

type Fault = 'card-without-number' | 'bare-name-line' | 'bad-group-line' | 'end-mismatch';

/** Days of the month on which a message carries each fault. */
const FAULT_DAYS: ReadonlyArray<readonly [Fault, number]> = [
  ['card-without-number', 4],
  ['bare-name-line', 6],
  ['bad-group-line', 11],
  ['end-mismatch', 13],
];

function sentAt(date: IsoDate, board: string, departureMinutes: number): Date {
  const offset = utcOffsetHours(board, date);
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  // The list goes out when the flight closes, about 40 minutes after departure.
  return new Date(Date.UTC(y, m - 1, d, 0, departureMinutes + 40 - offset * 60));
}

function stampOf(at: Date): string {
  const iso = at.toISOString();
  return `${iso.slice(0, 10).replace(/-/g, '')}T${iso.slice(11, 13)}${iso.slice(14, 16)}`;
}

/** Applies a fault to a one-part message's text; returns the rejects the parser should report. */
function injectFault(
  text: string,
  eol: string,
  fault: Fault,
): {
  text: string;
  rejects: Record<string, number>;
  verdict?: { verdict: 'rejected'; reason: string };
} | null {
  const lines = text.split(eol);
  if (lines[lines.length - 1] === '') lines.pop();
  const isName = (l: string) => /^1\S/.test(l);
  const isGroup = (l: string) => /^-[A-Z]{3}\d{2}[A-Z]$/.test(l);
  switch (fault) {
    case 'card-without-number': {
      const at = lines.findIndex((l) => /^\.R\/FQTV XX \d{10}$/.test(l));
      if (at < 0) return null;
      lines[at] = '.R/FQTV XX';
      return { text: lines.join(eol) + eol, rejects: { MALFORMED_REMARK: 1 } };
    }
    case 'bare-name-line': {
      const at = lines.findIndex((l) => /^\.R\/FQTV XX \d{10}$/.test(l));
      if (at < 0) return null;
      // A name line with nothing after the count, then a remark that now has no passenger.
      lines.splice(lines.length - 1, 0, '1', lines[at]!);
      return { text: lines.join(eol) + eol, rejects: { MALFORMED_NAME: 1, NO_PASSENGER: 1 } };
    }
    case 'bad-group-line': {
      const at = lines.findIndex(isGroup);
      if (at < 0) return null;
      let passengers = 0;
      for (let i = at + 1; i < lines.length && !isGroup(lines[i]!) && !lines[i]!.startsWith('END'); i++) {
        if (isName(lines[i]!)) passengers++;
      }
      if (passengers === 0) return null;
      lines[at] = `${lines[at]!.slice(0, 4)}XX${lines[at]!.slice(6)}`;
      return { text: lines.join(eol) + eol, rejects: { MALFORMED_GROUP: 1, NO_GROUP: passengers } };
    }
    case 'end-mismatch': {
      lines[lines.length - 1] = 'ENDPART3';
      // The part is refused: its END line, and each passenger as not read.
      return {
        text: lines.join(eol) + eol,
        rejects: { END_MISMATCH: 1 + lines.filter(isName).length },
        verdict: { verdict: 'rejected', reason: 'END_MISMATCH' },
      };
    }
  }
}

/** Lines a UTF-8 reader cannot decode in a CP866 file, and the element lines left without their passenger. */
function cp866Rejects(text: string, eol: string): Record<string, number> {
  const lines = text.split(eol);
  let bad = 0;
  let orphans = 0;
  let orphaned = false;
  for (const line of lines) {
    if (/[^ -~]/.test(line)) {
      bad++;
      orphaned = true;
    } else if (orphaned && line.startsWith('.') && !line.startsWith('.RN/')) {
      orphans++;
    } else if (!line.startsWith('.')) {
      orphaned = false;
    }
  }
  const out: Record<string, number> = {};
  if (bad > 0) out.BAD_ENCODING = bad;
  if (orphans > 0) out.NO_PASSENGER = orphans;
  return out;
}

export interface Dcs {
  /** Writes the FTL files of `date`'s flights, given everyone on board (flights.ts manifest()). */
  writeDay(date: IsoDate, byFlight: ReadonlyMap<number, readonly Segment[]>): void;
  /** What was written, once the last day is done. */
  summary(): DcsSummary;
}

/** The DCS, one day at a time: the generator holds one day of passengers in memory, not a month. */
export function createDcs(options: DcsOptions): Dcs {
  const { network, travel, writer, days } = options;
  const random = Random.stream(options.seed, 'dcs');
  const summary: DcsSummary = { messages: 0, files: 0, passengers: 0, multipart: 0, faults: [] };
  const scenarioOf = new Map<string, string>();
  for (const [name, s] of travel.scenarios) scenarioOf.set(`${s.date}/${s.flight.id}`, name);
  const faultOn = new Map<IsoDate, Fault>();
  const pending: Fault[] = [];
  for (const [fault, n] of FAULT_DAYS) faultOn.set(days[Math.min(days.length - 1, n - 1)]!, fault);

  const writeDay = (date: IsoDate, byFlight: ReadonlyMap<number, readonly Segment[]>) => {
    // A fault waits for a flight that can carry it (a small demo has quiet days).
    const todays = faultOn.get(date);
    if (todays) pending.push(todays);
    // Each flight's listed passengers, filtered once: the fullest flights first.
    const flights = network.flights
      .map((flight) => ({ flight, segments: (byFlight.get(flight.id) ?? []).filter(listed) }))
      .sort((a, b) => b.segments.length - a.segments.length || a.flight.id - b.flight.id);
    for (const { flight, segments } of flights) {
      segments.sort((a, b) => CABIN_ORDER[cabinOf(a.flownRbd)]! - CABIN_ORDER[cabinOf(b.flownRbd)]!);
      const station = flight.from;
      const dialect = station === 'VKO' ? 'F' : station === 'DME' ? 'HK' : 'R';
      const lf = station === 'VKO' || station === 'LED';
      const eol = lf ? '\n' : '\r\n';
      const at = sentAt(date, station, flight.departure);
      const message: FtlWriterMessage = {
        flight: { carrier: 'XX', number: flight.number, date, board: station },
        passengers: segments.map((s) => ftlPassenger(s, random, dialect)),
        originator: { address: `${station}DCXX`, sentAt: at },
        addresses: ['MOWKTXX'],
        priority: station === 'SVO' || station === 'DME' ? 'QU' : null,
      };
      const parts = writeFtlMessage(message, { lineEnding: eol });
      summary.messages++;
      summary.passengers += segments.length;
      if (parts.length > 1) summary.multipart++;
      const encoding = date === options.cp866Day && station === 'VKO' ? 'cp866' : undefined;
      const scenario = scenarioOf.get(`${date}/${flight.id}`);
      const base = `FTL_${stampOf(at)}_XX${String(flight.number).padStart(3, '0')}_${station}`;

      const emit = (
        night: IsoDate,
        text: string,
        name: string,
        extra: {
          expect?: { verdict: 'accepted' | 'held' | 'rejected'; reason?: string };
          rejects?: Record<string, number>;
          note?: string;
          records: number;
        },
      ) => {
        let rejects = extra.rejects;
        if (encoding) {
          const bad = cp866Rejects(text, eol);
          if (Object.keys(bad).length > 0) rejects = { ...(rejects ?? {}), ...bad };
        }
        writer.write(night, 'ftl', name, encodeFtl(text, encoding), {
          records: extra.records,
          ...(extra.expect ? { expect: extra.expect } : {}),
          ...(rejects ? { rejects } : {}),
          ...(encoding ? { encoding } : {}),
          ...(extra.note || encoding
            ? {
                note: [extra.note, encoding ? 'VKO station sent CP866 to a UTF-8 feed' : '']
                  .filter(Boolean)
                  .join('; '),
              }
            : {}),
        });
        summary.files++;
      };
      const count = (text: string) => text.split(eol).filter((l) => /^1\S/.test(l)).length;

      if (parts.length === 1) {
        const fault = pending.length > 0 && segments.length >= 2 && !encoding ? pending[0]! : undefined;
        const faulty = fault ? injectFault(parts[0]!, eol, fault) : null;
        if (faulty) {
          pending.shift();
          summary.faults.push(`${fault} in ${base}`);
          emit(date, faulty.text, `${base}.ftl`, {
            records: segments.length,
            rejects: faulty.rejects,
            ...(faulty.verdict ? { expect: faulty.verdict } : {}),
            note: `deliberate fault: ${fault}`,
          });
        } else {
          emit(date, parts[0]!, `${base}.ftl`, { records: segments.length });
        }
        continue;
      }
      const late = scenario === 'multipart-part-late' && date < days[days.length - 1]!;
      parts.forEach((text, i) => {
        const last = i === parts.length - 1;
        const name = `${base}_P${i + 1}.ftl`;
        if (late && last) {
          emit(addDays(date, 1), text, name, {
            records: count(text),
            note: `part ${i + 1} of ${parts.length} of XX${flight.number}/${date}, a night late: completes the held message`,
          });
        } else {
          emit(date, text, name, {
            records: count(text),
            ...(late
              ? {
                  expect: { verdict: 'held', reason: 'INCOMPLETE_MESSAGE' },
                  note: `waits for the last part, sent a night late`,
                }
              : { note: `part ${i + 1} of ${parts.length}` }),
          });
        }
      });
      if (scenario === 'multipart-duplicate-part') {
        // The gateway resends part 1 seven minutes later: new stamp, same part.
        const again = new Date(at.getTime() + 7 * 60_000);
        const resent = writeFtlMessage(
          { ...message, originator: { address: `${station}DCXX`, sentAt: again } },
          { lineEnding: eol },
        )[0]!;
        emit(
          date,
          resent,
          `FTL_${stampOf(again)}_XX${String(flight.number).padStart(3, '0')}_${station}_P1.ftl`,
          {
            records: count(resent),
            // The ignored part's flight line, and each of its passengers as not read.
            rejects: { DUPLICATE_PART: 1 + count(resent) },
            note: 'part 1 sent twice: the second copy is ignored and counted',
          },
        );
      }
    }
  };
  return {
    writeDay,
    summary: () => ({
      ...summary,
      faults:
        pending.length > 0
          ? [...summary.faults, `not placed (no flight could carry them): ${pending.join(', ')}`]
          : summary.faults,
    }),
  };
}
