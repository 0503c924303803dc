/**
 * The FTL dialect line by line: recognisers for envelope and body lines, and readers for the flight
 * line, group line, name element and elements. Everything here is pure and works on one trimmed line
 * (or one element's text), so the part parser and the writer's tests can share it.
 */
import { addDays, daysBetween, isIsoDate, type IsoDate } from '../../lib/dates.js';
import type { FtlCardUsage, FtlMarketingFlight, FtlOriginator, FtlSuffixKind } from './model.js';

/** The format's line width; longer lines are read but noted. */
export const LINE_WIDTH = 64;
/** Lines longer than this are rejected (LINE_TOO_LONG); the splitter keeps one character more to tell. */
export const MAX_LINE = 4096;

export const END_LINE = /^END(?:FTL|PART *(\d{1,3}))$/;
/** Any END-like line (`ENDPNL`, `ENDPART2`): closes a message we are skipping. */
export const END_ANY = /^END[A-ZА-ЯЁ]{0,8} *\d{0,3}$/;
export const PRIORITY_LINE = /^Q[A-Z](?: +[A-ZА-ЯЁ]{3}[A-Z0-9А-ЯЁ]{4})*$/;
export const ADDRESS_LINE = /^[A-ZА-ЯЁ]{3}[A-Z0-9А-ЯЁ]{4}(?: +[A-ZА-ЯЁ]{3}[A-Z0-9А-ЯЁ]{4})*$/;
export const ORIGINATOR_START = /^\.[A-Z0-9А-ЯЁ]{7}(?:\s|$)/;
const ORIGINATOR_LINE = /^\.([A-Z0-9А-ЯЁ]{7})(?:\s+(.*))?$/;
/** Another Type B message identifier standing alone (PNL, ADL, PFS, ETL…). */
export const IDENTIFIER_LINE = /^[A-Z]{3,5}$/;

const FLIGHT_LINE =
  /^([A-Z0-9А-ЯЁ]{2}[A-ZА-ЯЁ]?)(\d{1,5})([A-ZА-ЯЁ]?)\/(\d{1,2})([A-ZА-ЯЁ]{3}) +([A-ZА-ЯЁ]{3})(?: +PART *(\d{1,3}))?$/;
const GROUP_LINE = /^-([A-ZА-ЯЁ]{3})(\d{1,3})([A-ZА-ЯЁ])$/;
export const ELEMENT = /^\.([A-Z][A-Z0-9]{0,2})\/(.*)$/;
/** The space before an element that follows the name on the same line. */
const INLINE_ELEMENT = / +(?=\.[A-Z][A-Z0-9]{0,2}\/)/;
const PNR = /^([A-Z0-9А-ЯЁ]{4,8})(?:\/([A-Z0-9А-ЯЁ]{2,3}))?$/;
const MARKETING =
  /^([A-Z0-9А-ЯЁ]{2}[A-ZА-ЯЁ]?)(\d{1,5})([A-ZА-ЯЁ]?)([A-ZА-ЯЁ])(\d{2})([A-ZА-ЯЁ]{3})([A-ZА-ЯЁ]{3})(.*)$/;
const NAME_TEXT = /^\p{L}[\p{L}\p{M}' .-]*$/u;
const HAS_LETTER = /[A-ZА-ЯЁ]/;

const MONTHS: ReadonlyMap<string, number> = new Map([
  ['JAN', 1],
  ['FEB', 2],
  ['MAR', 3],
  ['APR', 4],
  ['MAY', 5],
  ['JUN', 6],
  ['JUL', 7],
  ['AUG', 8],
  ['SEP', 9],
  ['OCT', 10],
  ['NOV', 11],
  ['DEC', 12],
  // Sirena-network DCSs may write the month in Cyrillic.
  ['ЯНВ', 1],
  ['ФЕВ', 2],
  ['МАР', 3],
  ['АПР', 4],
  ['МАЙ', 5],
  ['ИЮН', 6],
  ['ИЮЛ', 7],
  ['АВГ', 8],
  ['СЕН', 9],
  ['ОКТ', 10],
  ['НОЯ', 11],
  ['ДЕК', 12],
]);
const DAYS_IN_MONTH = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
export const MONTH_NAMES = [
  'JAN',
  'FEB',
  'MAR',
  'APR',
  'MAY',
  'JUN',
  'JUL',
  'AUG',
  'SEP',
  'OCT',
  'NOV',
  'DEC',
];

/** A line that belongs to a Type B envelope before the identifier. */
export function isEnvelopeLine(t: string): boolean {
  return PRIORITY_LINE.test(t) || ADDRESS_LINE.test(t) || ORIGINATOR_START.test(t);
}

/** A line that can only start a new message: a priority line, an originator line, the FTL identifier. */
export function isMessageStart(t: string): boolean {
  const c = t.charCodeAt(0);
  if (c === 46 /* . */) {
    // Elements have their slash right after a 1–3 character code; an originator has none there.
    if (t.charCodeAt(2) === 47 || t.charCodeAt(3) === 47 || t.charCodeAt(4) === 47) return false;
    return ORIGINATOR_START.test(t);
  }
  if (c === 70 /* F */) return t === 'FTL';
  if (c === 81 /* Q */) return PRIORITY_LINE.test(t);
  return false;
}

export function readOriginator(t: string, receivedAt: Date): FtlOriginator | null {
  const m = ORIGINATOR_LINE.exec(t);
  if (!m) return null;
  const rest = m[2] ?? '';
  const token = rest.split(/\s+/, 1)[0] ?? '';
  const stamp = /^\d{6}$/.test(token) ? token : null;
  return { address: m[1]!, stamp, sentAt: stamp ? resolveStamp(stamp, receivedAt) : null };
}

export interface FlightLine {
  carrier: string;
  number: string;
  numberRaw: string;
  suffix: string | null;
  day: number;
  month: number;
  dateRaw: string;
  board: string;
  /** Null when the line carries no `PARTn` (read as part 1, noted). */
  part: number | null;
}

export type Read<T> = { ok: true; value: T } | { ok: false; error: string };

export function readFlightLine(t: string): Read<FlightLine> {
  return quickFlightLine(t) ?? readFlightLineByPattern(t);
}

/** readFlightLine through the pattern alone (the tests hold the quick reading to it). */
export function readFlightLineByPattern(t: string): Read<FlightLine> {
  const m = FLIGHT_LINE.exec(t);
  if (!m) {
    return {
      ok: false,
      error:
        'expected a flight line such as XX101/28MAY DME PART1 (designator, number, /DDMMM, board point, PARTn)',
    };
  }
  const carrier = m[1]!;
  if (!HAS_LETTER.test(carrier)) return { ok: false, error: `airline designator ${carrier} has no letter` };
  const day = Number(m[4]);
  const monthName = m[5]!;
  const month = MONTHS.get(monthName);
  if (month === undefined) return { ok: false, error: `unknown month ${monthName}` };
  if (day < 1 || day > DAYS_IN_MONTH[month]!) return { ok: false, error: `no day ${day} in ${monthName}` };
  const part = m[7] === undefined ? null : Number(m[7]);
  if (part === 0) return { ok: false, error: 'part numbers start at 1' };
  return {
    ok: true,
    value: {
      carrier,
      number: String(Number(m[2])),
      numberRaw: m[2]!,
      suffix: m[3] || null,
      day,
      month,
      dateRaw: `${m[4]}${monthName}`,
      board: m[6]!,
      part,
    },
  };
}

/**
 * The everyday flight line `XX101/28MAY DME PART1` read by hand: a two-letter designator, 1–5 digits, a
 * two-digit day, a Latin month, single spaces, a PART number of 1–3 digits or none. What FLIGHT_LINE
 * would read from it; null for any other shape, which the pattern then reads.
 */
export function quickFlightLine(t: string): Read<FlightLine> | null {
  const n = t.length;
  if (n < 13 || !isLatinUpper(t.charCodeAt(0)) || !isLatinUpper(t.charCodeAt(1))) return null;
  let i = 2;
  while (i < n && isDigit(t.charCodeAt(i))) i++;
  const digits = i - 2;
  if (digits < 1 || digits > 5 || t.charCodeAt(i) !== 47 /* / */ || n < i + 10) return null;
  const d1 = t.charCodeAt(i + 1) - 48;
  const d2 = t.charCodeAt(i + 2) - 48;
  if (d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return null;
  for (const k of [i + 3, i + 4, i + 5, i + 7, i + 8, i + 9]) if (!isLatinUpper(t.charCodeAt(k))) return null;
  if (t.charCodeAt(i + 6) !== 32) return null;
  let part: number | null = null;
  const after = i + 10;
  if (after < n) {
    // ` PARTn`: one space, PART, one to three digits.
    if (n - after < 6 || n - after > 8 || !t.startsWith(' PART', after)) return null;
    part = 0;
    for (let k = after + 5; k < n; k++) {
      const d = t.charCodeAt(k) - 48;
      if (d < 0 || d > 9) return null;
      part = part * 10 + d;
    }
  }
  const monthName = t.slice(i + 3, i + 6);
  const month = MONTHS.get(monthName);
  const day = d1 * 10 + d2;
  if (month === undefined || day < 1 || day > DAYS_IN_MONTH[month]! || part === 0) return null;
  const numberRaw = t.slice(2, i);
  return {
    ok: true,
    value: {
      carrier: t.slice(0, 2),
      number: String(Number(numberRaw)),
      numberRaw,
      suffix: null,
      day,
      month,
      dateRaw: t.slice(i + 1, i + 6),
      board: t.slice(i + 7, i + 10),
      part,
    },
  };
}

export interface GroupLine {
  destination: string;
  count: number;
  subclass: string;
}

export function readGroupLine(t: string): Read<GroupLine> {
  const n = t.length;
  // The common shape -LED02Y by hand; anything else goes to the pattern.
  if (
    n === 7 &&
    isUpperLetter(t.charCodeAt(1)) &&
    isUpperLetter(t.charCodeAt(2)) &&
    isUpperLetter(t.charCodeAt(3))
  ) {
    const d1 = t.charCodeAt(4) - 48;
    const d2 = t.charCodeAt(5) - 48;
    if (d1 >= 0 && d1 <= 9 && d2 >= 0 && d2 <= 9 && isUpperLetter(t.charCodeAt(6))) {
      return { ok: true, value: { destination: t.slice(1, 4), count: d1 * 10 + d2, subclass: t[6]! } };
    }
  }
  const m = GROUP_LINE.exec(t);
  if (!m)
    return { ok: false, error: 'expected a destination group such as -LED02Y (airport, count, subclass)' };
  return { ok: true, value: { destination: m[1]!, count: Number(m[2]), subclass: m[3]! } };
}

/** `ENDFTL` → 'FTL'; `ENDPART3` → 3; anything else → null. */
export function readEndLine(t: string): number | 'FTL' | null {
  if (t.charCodeAt(0) !== 69 /* E */) return null;
  if (t === 'ENDFTL') return 'FTL';
  // `ENDPARTn` without spaces, read by hand (the pattern decides any other shape).
  const n = t.length;
  if (n >= 8 && n <= 10 && t.startsWith('ENDPART')) {
    let part = 0;
    let k = 7;
    for (; k < n; k++) {
      const d = t.charCodeAt(k) - 48;
      if (d < 0 || d > 9) break;
      part = part * 10 + d;
    }
    if (k === n) return part;
  }
  return readEndLineByPattern(t);
}

/** readEndLine through the pattern alone (the tests hold the quick reading to it). */
export function readEndLineByPattern(t: string): number | 'FTL' | null {
  const m = END_LINE.exec(t);
  if (!m) return null;
  return m[1] === undefined ? 'FTL' : Number(m[1]);
}

/**
 * Year inference: the latest date with that day and month that is not more than `futureDays` after the
 * receipt date. 31DEC received on 2 January is last year's; 29FEB goes back to the last leap year.
 */
export function resolveFlightDate(
  day: number,
  month: number,
  receivedOn: IsoDate,
  futureDays: number,
): IsoDate | null {
  const limit = addDays(receivedOn, futureDays);
  const limitYear = Number(limit.slice(0, 4));
  const mmdd = `-${pad2(month)}-${pad2(day)}`;
  for (let y = limitYear; y >= limitYear - 8; y--) {
    const iso = `${String(y).padStart(4, '0')}${mmdd}`;
    if (iso <= limit && isIsoDate(iso)) return iso;
  }
  return null;
}

/**
 * The originator's `DDHHMM` as the latest UTC instant with that day, hour and minute not later than one
 * day after receipt (a day of slack for clocks and time zones).
 */
export function resolveStamp(stamp: string, receivedAt: Date): string | null {
  const dd = Number(stamp.slice(0, 2));
  const hh = Number(stamp.slice(2, 4));
  const mi = Number(stamp.slice(4, 6));
  if (dd < 1 || dd > 31 || hh > 23 || mi > 59) return null;
  const limit = receivedAt.getTime() + 86_400_000;
  if (!Number.isFinite(limit)) return null;
  const y = receivedAt.getUTCFullYear();
  const m0 = receivedAt.getUTCMonth() + 1;
  for (let k = 0; k < 14; k++) {
    const t = Date.UTC(y, m0 - k, dd, hh, mi);
    const d = new Date(t);
    if (d.getUTCDate() !== dd) continue;
    if (t <= limit) return `${d.toISOString().slice(0, 19)}Z`;
  }
  return null;
}

export function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

// ---------------------------------------------------------------------------------------------------
// Names

export interface ParsedName {
  surname: string;
  givenName: string;
  title: string | null;
  raw: string;
}

export interface NameElement {
  count: number;
  names: ParsedName[];
  /** Element text after the name, split at each inline element (`.L/…`, `.R/…`). */
  inline: string[];
}

/** Titles recognised after a space. */
const TITLE_LIST: readonly string[] = [
  'MR',
  'MRS',
  'MS',
  'MISS',
  'MSTR',
  'DR',
  'PROF',
  'REV',
  'CAPT',
  'SIR',
  'LADY',
  'LORD',
  'DAME',
];
const TITLES_BY_LENGTH: readonly (readonly string[])[] = [0, 1, 2, 3, 4].map((n) =>
  TITLE_LIST.filter((t) => t.length === n),
);
/**
 * Titles recognised glued to the given name (`ALANMR`), longest first, with the shortest given name
 * that may remain. DR is never split off a glued name (ALEXANDR, VLADIMIR would lose letters), and MR/MS
 * need two letters before them so that a name like AMR stays whole.
 */
const GLUED_TITLES: readonly (readonly [string, number])[] = [
  ['MSTR', 1],
  ['MISS', 1],
  ['PROF', 1],
  ['MRS', 1],
  ['MR', 2],
  ['MS', 2],
];

export function splitTitle(given: string): { givenName: string; title: string | null } {
  const title = findTitle(given, 0);
  return title === null ? { givenName: given, title: null } : { givenName: given.slice(0, titleCut), title };
}

/** Where the given name ends, set by findTitle (one thread, no re-entry: a return slot without an object). */
let titleCut = 0;

/**
 * The title at the end of `s` (from `from` on, up to `end`): after the last space, or glued to the last
 * word. Sets `titleCut` to the end of the given name before it.
 */
function findTitle(s: string, from: number, end = s.length): string | null {
  const n = end;
  if (n === from) return null;
  const lastChar = s.charCodeAt(n - 1);
  // Every title ends in one of D E F R S T V Y: most given names are done here.
  if (
    lastChar !== 82 &&
    lastChar !== 83 &&
    lastChar !== 70 &&
    lastChar !== 68 &&
    lastChar !== 69 &&
    lastChar !== 84 &&
    lastChar !== 86 &&
    lastChar !== 89
  ) {
    return null;
  }
  // Titles are at most four letters: look for the space before the last word only that far back.
  let sp = -1;
  for (let k = n - 1; k >= from && k >= n - 5; k--) {
    if (s.charCodeAt(k) === 32) {
      sp = k;
      break;
    }
  }
  if (sp !== -1 || n - from <= 4) {
    const spaced = titleAt(s, sp === -1 ? from : sp + 1, n);
    if (spaced !== null) {
      let cut = sp === -1 ? from : sp;
      while (cut > from && s.charCodeAt(cut - 1) === 32) cut--;
      titleCut = cut;
      return spaced;
    }
  }
  const lastLength = sp === -1 ? n - from : n - sp - 1;
  for (let k = 0; k < GLUED_TITLES.length; k++) {
    const [title, minRest] = GLUED_TITLES[k]!;
    if (lastLength >= title.length + minRest && s.endsWith(title, n)) {
      titleCut = n - title.length;
      return title;
    }
  }
  return null;
}

/** The title that `s` holds from `start` to `end`, compared in place (no slicing on the hot path). */
function titleAt(s: string, start: number, end: number): string | null {
  const len = end - start;
  if (len < 2 || len > 4) return null;
  for (const title of TITLES_BY_LENGTH[len]!) {
    let k = 0;
    while (k < len && s.charCodeAt(start + k) === title.charCodeAt(k)) k++;
    if (k === len) return title;
  }
  return null;
}

/** Whether a given-name string would lose a title when read back (the writer avoids emitting such names). */
export function looksLikeTitle(given: string): boolean {
  return splitTitle(given).title !== null;
}

/**
 * Letters (any script), then letters, spaces, hyphens, apostrophes, dots. Latin and Cyrillic are
 * checked by code unit; anything else goes to the Unicode-aware pattern.
 */
export function isNameText(s: string): boolean {
  const n = s.length;
  if (n === 0) return false;
  if (NAME_CHAR[s.charCodeAt(0)] !== LETTER) return NAME_TEXT.test(s);
  for (let i = 1; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x500 || NAME_CHAR[c] === 0) return NAME_TEXT.test(s);
  }
  return true;
}

const LETTER = 1;
const SEPARATOR = 2;
/** Latin and Cyrillic letters, and the separators a name may hold (space ' - .), by code unit. */
const NAME_CHAR = new Uint8Array(0x500);
for (let c = 65; c <= 90; c++) NAME_CHAR[c] = LETTER;
for (let c = 97; c <= 122; c++) NAME_CHAR[c] = LETTER;
for (let c = 0x400; c <= 0x4ff; c++) if (c < 0x482 || c > 0x489) NAME_CHAR[c] = LETTER;
for (const c of [32, 39, 45, 46]) NAME_CHAR[c] = SEPARATOR;

const NO_INLINE: readonly string[] = [];

function trimmed(s: string): string {
  const n = s.length;
  return n > 0 && (s.charCodeAt(0) <= 32 || s.charCodeAt(n - 1) <= 32) ? s.trim() : s;
}

/** `1IVANOV/IVAN MR`, `2SMITH/JOHN MR/ANNA MRS`, possibly followed by inline elements; or an error. */
export function readNameElement(t: string): NameElement | string {
  const name = readSingleName(t);
  return name !== null
    ? { count: singleNameCount, names: [name], inline: NO_INLINE as string[] }
    : readNameElementFully(t);
}

/** The count of the name element last read by readSingleName (a return slot without an object). */
export let singleNameCount = 0;

/**
 * The everyday shape in one pass: a count, one surname and one given name of letters and spaces, no
 * inline element. Null for anything else, which readNameElementFully handles (and judges). The count is
 * left in `singleNameCount`.
 */
export function readSingleName(t: string): ParsedName | null {
  // The shape is checked by the pattern (native code, cheap on sliced strings); counts and cuts by hand.
  if (!QUICK_NAME.test(t)) return null;
  let i = 0;
  let count = 0;
  for (; i < 3; i++) {
    const d = t.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    count = count * 10 + d;
  }
  const slash = t.indexOf('/', i);
  if (count === 0 || t.charCodeAt(slash - 1) === 32) return null;
  const g = slash + 1;
  const title = findTitle(t, g);
  const givenName = t.slice(g, title === null ? t.length : titleCut);
  singleNameCount = count;
  return { surname: t.slice(i, slash), givenName, title, raw: t.slice(i) };
}

/** Letters as NAME_CHAR has them: Latin, and Cyrillic without its signs and combining marks. */
const L = 'A-Za-z\u0400-\u0481\u048A-\u04FF';
/** One surname and one given name, letters first, no inline element: what quickName reads. */
const QUICK_NAME = new RegExp(`^\\d{1,3}[${L}][${L}' .-]*\\/[${L}][${L} ]*$`);

/** The general reading of a name element, without the fast path (tests hold the two to the same answers). */
export function readNameElementFully(t: string): NameElement | string {
  let nameText = t;
  let inline = NO_INLINE;
  if (t.indexOf(' .') !== -1) {
    const pieces = t.split(INLINE_ELEMENT);
    nameText = pieces[0]!;
    inline = pieces.slice(1);
  }
  let i = 0;
  while (i < nameText.length && i < 4) {
    const c = nameText.charCodeAt(i);
    if (c < 48 || c > 57) break;
    i++;
  }
  if (i === 0 || i > 3) return 'a name element starts with a count of 1 to 3 digits';
  const count = i === 1 ? nameText.charCodeAt(0) - 48 : Number(nameText.slice(0, i));
  if (count === 0) return 'name count 0';
  let k = i;
  while (k < nameText.length && nameText.charCodeAt(k) === 32) k++;
  if (k === nameText.length) return 'name element without a name';
  const slash = nameText.indexOf('/', i);
  if (slash === -1) return 'expected SURNAME/GIVEN NAMES';
  const surname = trimmed(nameText.slice(i, slash));
  // Not quoted: a reject's message outlives its text, which erasure and the age rule blank.
  if (!isNameText(surname)) return 'the surname is not a name';
  const names: ParsedName[] = [];
  let from = slash + 1;
  while (true) {
    const next = nameText.indexOf('/', from);
    const given = trimmed(next === -1 ? nameText.slice(from) : nameText.slice(from, next));
    if (!isNameText(given)) return 'a given name is not a name';
    const split = splitTitle(given);
    const raw = next === -1 && from === slash + 1 ? trimmed(nameText.slice(i)) : `${surname}/${given}`;
    names.push({ surname, givenName: split.givenName, title: split.title, raw });
    if (next === -1) break;
    from = next + 1;
  }
  return { count, names, inline: inline as string[] };
}

/** Passenger association `1SURNAME/GIVEN` against a name: surname equal, given name a prefix either way. */
export function associationMatches(association: string, name: ParsedName): boolean {
  const body = association.replace(/^\d+/, '');
  const slash = body.indexOf('/');
  if (slash === -1) return false;
  const surname = body.slice(0, slash).trim();
  const given = splitTitle(body.slice(slash + 1).trim()).givenName;
  if (surname !== name.surname) return false;
  return given === '' || name.givenName.startsWith(given) || given.startsWith(name.givenName);
}

// ---------------------------------------------------------------------------------------------------
// Elements

function isUpperAlnum(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || (c >= 0x410 && c <= 0x42f) || c === 0x401;
}

export interface Pnr {
  pnr: string;
  airline: string | null;
}

/**
 * The common `.L/0M71MG/XX` read in place from `from` to `end`: returns the index where the locator ends
 * (the airline, if any, follows its slash), or -1 when the text has another shape.
 */
export function quickPnrEnd(t: string, from: number, end = t.length): number {
  const n = end;
  let i = from;
  while (i < n && isUpperAlnum(t.charCodeAt(i))) i++;
  const len = i - from;
  if (len < 4 || len > 8) return -1;
  if (i === n) return i;
  const rest = n - i - 1;
  if (t.charCodeAt(i) !== 47 || rest < 2 || rest > 3) return -1;
  for (let j = i + 1; j < n; j++) if (!isUpperAlnum(t.charCodeAt(j))) return -1;
  return i;
}

/** `0M71MG/XX` → the locator and its airline; an error text when it is no record locator. */
export function readPnr(text: string): Pnr | string {
  const n = text.length;
  let i = 0;
  while (i < n && isUpperAlnum(text.charCodeAt(i))) i++;
  if (i >= 4 && i <= 8) {
    if (i === n) return { pnr: text, airline: null };
    if (text.charCodeAt(i) === 47 && (n - i - 1 === 2 || n - i - 1 === 3)) {
      let j = i + 1;
      while (j < n && isUpperAlnum(text.charCodeAt(j))) j++;
      if (j === n) return { pnr: text.slice(0, i), airline: text.slice(i + 1) };
    }
  }
  const m = PNR.exec(text.trim());
  if (!m) return 'expected .L/<record locator>[/<airline>]';
  return { pnr: m[1]!, airline: m[2] ?? null };
}

export function readMarketingFlight(text: string, operatingDate: IsoDate): Read<FtlMarketingFlight> {
  const raw = text.trim();
  const m = MARKETING.exec(raw);
  if (!m || !HAS_LETTER.test(m[1]!)) {
    return {
      ok: false,
      error: 'expected .M/<airline><number><class><day><board><off>, e.g. .M/SU6120Y12LEDSVX',
    };
  }
  const day = Number(m[5]);
  if (day < 1 || day > 31) return { ok: false, error: `no day ${day}` };
  return {
    ok: true,
    value: {
      carrier: m[1]!,
      number: String(Number(m[2])),
      numberRaw: m[2]!,
      suffix: m[3] || null,
      subclass: m[4]!,
      day,
      date: nearestDay(day, operatingDate),
      board: m[6]!,
      off: m[7]!,
      raw,
    },
  };
}

/** Resolved days by operating date: the days of month of one date, looked up without building a key. */
const nearestCache = new Map<IsoDate, (IsoDate | null | undefined)[]>();

/** The date with day-of-month `day` (1–31) nearest to `near` (the previous, same or next month). */
function nearestDay(day: number, near: IsoDate): IsoDate | null {
  let days = nearestCache.get(near);
  if (days === undefined) {
    if (nearestCache.size > 4096) nearestCache.clear();
    days = [];
    for (let d = 0; d <= 31; d++) days.push(undefined);
    nearestCache.set(near, days);
  }
  let hit = days[day];
  if (hit === undefined) {
    hit = computeNearestDay(day, near);
    days[day] = hit;
  }
  return hit;
}

function computeNearestDay(day: number, near: IsoDate): IsoDate | null {
  const y = Number(near.slice(0, 4));
  const mo = Number(near.slice(5, 7));
  let best: IsoDate | null = null;
  let bestGap = Infinity;
  for (const k of [-1, 0, 1]) {
    const d = new Date(Date.UTC(y, mo - 1 + k, 1));
    const iso = `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(day)}`;
    if (!isIsoDate(iso)) continue;
    const gap = Math.abs(daysBetween(near, iso));
    if (gap < bestGap) {
      best = iso;
      bestGap = gap;
    }
  }
  return best;
}

export interface CardCore {
  program: string;
  number: string;
  statusCode: string | null;
  /** Text after the number, untrimmed. */
  rest: string;
}

const CARD_SPACED = /^([A-Z0-9А-ЯЁ]{2,3}) +([A-Z0-9]{1,25})(?=$|[ /-])(.*)$/;
const CARD_GLUED = /^([A-Z0-9А-ЯЁ]{2})([A-Z0-9А-ЯЁ]{1,26})(?=$|[ /-])(.*)$/;
const STATUS_CODES: ReadonlySet<string> = new Set([
  'HK',
  'KK',
  'KL',
  'HN',
  'NN',
  'RR',
  'TK',
  'UC',
  'UN',
  'NO',
  'HX',
  'HL',
  'HS',
  'LL',
  'DK',
  'GK',
  'PN',
  'KD',
  'SS',
]);
/** The bare status codes by their two letters (A–Z × A–Z), looked up without slicing. */
const STATUS_PAIRS = new Uint8Array(26 * 26);
for (const code of STATUS_CODES) STATUS_PAIRS[(code.charCodeAt(0) - 65) * 26 + code.charCodeAt(1) - 65] = 1;
const LETTERS_ONLY = /^[A-ZА-ЯЁ]+$/;
const DIGITS_ONLY = /^\d+$/;
const HAS_DIGIT = /\d/;

function readCardNumber(text: string): CardCore | null {
  let m = CARD_SPACED.exec(text);
  if (m && HAS_LETTER.test(m[1]!) && HAS_DIGIT.test(m[2]!)) {
    return { program: m[1]!, number: m[2]!, statusCode: null, rest: m[3]! };
  }
  m = CARD_GLUED.exec(text);
  if (!m) return null;
  let program = m[1]!;
  let number = m[2]!;
  // A third letter after two letters, followed by digits only, is a three-letter designator (SVR12345).
  if (
    LETTERS_ONLY.test(program) &&
    number.length > 1 &&
    LETTERS_ONLY.test(number[0]!) &&
    DIGITS_ONLY.test(number.slice(1))
  ) {
    program += number[0]!;
    number = number.slice(1);
  }
  if (
    !HAS_LETTER.test(program) ||
    number.length > 25 ||
    !/^[A-Z0-9]+$/.test(number) ||
    !HAS_DIGIT.test(number)
  ) {
    return null;
  }
  return { program, number, statusCode: null, rest: m[3]! };
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isUpperLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 0x410 && c <= 0x42f) || c === 0x401;
}

/**
 * The common spaced form `XX 1000000016[suffix]` starting at `p`, read by hand; null when the text has
 * any other shape (the patterns then decide).
 */
function quickCard(t: string, p: number, statusCode: string | null): CardCore | null {
  const n = t.length;
  let e = p;
  let letter = false;
  while (e < n && e - p < 4) {
    const c = t.charCodeAt(e);
    if (isUpperLetter(c)) letter = true;
    else if (!isDigit(c)) break;
    e++;
  }
  if (!letter || e - p < 2 || e - p > 3 || e >= n || t.charCodeAt(e) !== 32) return null;
  let q = e + 1;
  while (q < n && t.charCodeAt(q) === 32) q++;
  let r = q;
  let digit = false;
  while (r < n) {
    const c = t.charCodeAt(r);
    if (isDigit(c)) digit = true;
    else if (c < 65 || c > 90) break;
    r++;
  }
  if (!digit || r - q > 25) return null;
  if (r < n) {
    const c = t.charCodeAt(r);
    if (c !== 32 && c !== 47 && c !== 45) return null;
  }
  return { program: t.slice(p, e), number: t.slice(q, r), statusCode, rest: r === n ? '' : t.slice(r) };
}

/** The everyday `FQTV [HK1 ]XX 1000000016[suffix]`; other shapes go to readCardCore. */
const QUICK_FQT = /^FQT[VURS] (?:([A-Z]{2}\d{1,3}) )?([A-Z0-9А-ЯЁ]{2,3}) ([A-Z0-9]{1,25})(?=$|[ /-])/;

/** The card of an `FQTx …` remark text (usage code included), or null when it has none. */
export function readFqtCard(text: string): CardCore | null {
  const m = QUICK_FQT.exec(text);
  // Without a status the pattern may have read a status code as the program: the general reading decides.
  if (m !== null && (m[1] !== undefined || !startsWithStatus(text, 5))) {
    const program = m[2]!;
    const number = m[3]!;
    // Programs start with a letter and numbers with a digit, nearly always: test the patterns only if not.
    const letter = isUpperLetter(program.charCodeAt(0)) || HAS_LETTER.test(program);
    if (letter && (isDigit(number.charCodeAt(0)) || HAS_DIGIT.test(number))) {
      const end = m[0].length;
      return { program, number, statusCode: m[1] ?? null, rest: end === text.length ? '' : text.slice(end) };
    }
  }
  return readCardCore(text, true, 5);
}

/** Two letters and up to three digits, or a known bare status code, then a space, at `p`. */
function startsWithStatus(text: string, p: number): boolean {
  const c0 = text.charCodeAt(p);
  const c1 = text.charCodeAt(p + 1);
  if (c0 < 65 || c0 > 90 || c1 < 65 || c1 > 90) return false;
  let d = p + 2;
  while (d < text.length && d - p < 5 && isDigit(text.charCodeAt(d))) d++;
  return text.charCodeAt(d) === 32 && (d > p + 2 || STATUS_PAIRS[(c0 - 65) * 26 + c1 - 65] === 1);
}

/** `XX 1000000016`, `HK1 XX 1000000081`, `IB00000082270497`, each possibly followed by a suffix. */
export function readCardCore(text: string, allowStatus: boolean, from = 0): CardCore | null {
  const n = text.length;
  let p = from;
  while (p < n && text.charCodeAt(p) === 32) p++;
  if (allowStatus && n - p > 3) {
    // A status code: two letters and up to three digits (HK1), or a known bare code (HK), then a space.
    const c0 = text.charCodeAt(p);
    const c1 = text.charCodeAt(p + 1);
    if (c0 >= 65 && c0 <= 90 && c1 >= 65 && c1 <= 90) {
      let d = p + 2;
      while (d < n && d - p < 5 && isDigit(text.charCodeAt(d))) d++;
      if (d < n && text.charCodeAt(d) === 32 && (d > p + 2 || STATUS_PAIRS[(c0 - 65) * 26 + c1 - 65] === 1)) {
        let q = d;
        while (q < n && text.charCodeAt(q) === 32) q++;
        const status = text.slice(p, d);
        const core = quickCard(text, q, status) ?? readCardNumber(text.slice(q));
        if (core !== null) return { ...core, statusCode: status };
      }
    }
  }
  return quickCard(text, p, null) ?? readCardNumber(p === 0 ? text : text.slice(p));
}

export interface CardSuffix {
  suffix: string | null;
  suffixKind: FtlSuffixKind | null;
  bookedSubclass: string | null;
  tier: string | null;
  text: string | null;
  association: string | null;
}

const NO_SUFFIX: CardSuffix = {
  suffix: null,
  suffixKind: null,
  bookedSubclass: null,
  tier: null,
  text: null,
  association: null,
};
const ASSOCIATION = /-(\d{1,2}\p{L}[\p{L}' .-]*\/[\p{L}' .-]*)$/u;
const TIER_CODE = /^[A-Z]{2,8}$/;
const SLASH_TIER = /^[A-Z0-9]{1,8}$/;
const ONE_LETTER = /^[A-ZА-ЯЁ]$/;

/** The best reading of the overloaded suffix. Never fails: unknown shapes are free text. */
export function interpretSuffix(usage: FtlCardUsage, rest: string): CardSuffix {
  const suffix = rest.trim();
  if (suffix.length === 0) return NO_SUFFIX;
  let body = suffix;
  let association: string | null = null;
  const a = ASSOCIATION.exec(body);
  if (a) {
    association = a[1]!;
    body = body.slice(0, a.index).trimEnd();
  }
  const out: CardSuffix = { ...NO_SUFFIX, suffix, association };
  if (body.length === 0) {
    out.suffixKind = 'association';
    return out;
  }
  const sep = body[0];
  const value = sep === '-' || sep === '/' ? body.slice(1).trim() : body;
  if (sep === '-' && usage === 'FQTV' && ONE_LETTER.test(value)) {
    out.suffixKind = 'bookedSubclass';
    out.bookedSubclass = value;
  } else if (
    (sep === '-' && usage === 'FQTV' && TIER_CODE.test(value)) ||
    (sep === '/' && SLASH_TIER.test(value))
  ) {
    out.suffixKind = 'tier';
    out.tier = value;
  } else {
    out.suffixKind = 'text';
    out.text = value;
  }
  return out;
}

/** `FQTV …` → its usage (the card follows from index 5); other remark codes → null. */
export function readFqtUsage(text: string): FtlCardUsage | null {
  if (text.length < 4 || text.charCodeAt(0) !== 70 || text.charCodeAt(1) !== 81 || text.charCodeAt(2) !== 84)
    return null;
  if (text.length > 4 && text.charCodeAt(4) !== 32) return null;
  switch (text.charCodeAt(3)) {
    case 86:
      return 'FQTV';
    case 85:
      return 'FQTU';
    case 82:
      return 'FQTR';
    case 83:
      return 'FQTS';
    default:
      return null;
  }
}

// ---------------------------------------------------------------------------------------------------
// Quick readers for the block fast path (part.ts, `PartReader.fastBlock`). Each reads the everyday shape
// in place in a larger text, from an offset up to a limit, without slicing or matching, and says where
// the shape ended: the caller checks that the line ends there (no line terminator can be part of a shape).
// A quick reader answers exactly what the general reader answers for the line it accepts (fast.test.ts
// holds them to it) and declines everything else, which the general reader then decides.

/** Where the last successful quick read found things (one thread, no re-entry: slots without objects). */
export const quickSlots = {
  /** Where the shape read ended (the line must end there). */
  end: 0,
  /** quickName: index of the slash, the title (or null), and where the given name ends. */
  slash: 0,
  title: null as string | null,
  givenEnd: 0,
  /** quickFqtCard: the usage, the end of the status code (-1 without one), the number's start and end. */
  usage: 'FQTV' as FtlCardUsage,
  statusEnd: -1,
  numberFrom: 0,
  numberEnd: 0,
};

/** Record locators and airline codes, A–Z, 0–9, А–Я and Ё, by code unit (below 0x430). */
const CODE_CHAR = new Uint8Array(0x430);
for (let c = 65; c <= 90; c++) CODE_CHAR[c] = 1;
for (let c = 48; c <= 57; c++) CODE_CHAR[c] = 1;
for (let c = 0x410; c <= 0x42f; c++) CODE_CHAR[c] = 1;
CODE_CHAR[0x401] = 1;

function isCodeChar(c: number): boolean {
  return c < 0x430 && CODE_CHAR[c] === 1;
}

function isLatinUpper(c: number): boolean {
  return c >= 65 && c <= 90;
}

/**
 * The shape of QUICK_NAME with a count of 1, matched where it starts (sticky) and up to where the given
 * name ends: native matching costs less per character than a loop over charCodeAt.
 */
const QUICK_NAME_AT = new RegExp(`1[${L}][${L}' .-]*\\/[${L}][${L} ]*`, 'y');

/**
 * `1SURNAME/GIVEN NAMES[ TITLE]` in `s` from `p` (up to `t` at most): the name element that
 * `readSingleName` reads with a count of 1, when the line ends where the given name does (quickSlots.end).
 * Fills quickSlots.slash, .title and .givenEnd: the surname is `s.slice(p + 1, slash)`, the given name
 * `s.slice(slash + 1, givenEnd)`.
 */
export function quickName(s: string, p: number, t: number): boolean {
  QUICK_NAME_AT.lastIndex = p;
  if (!QUICK_NAME_AT.test(s)) return false;
  const e = QUICK_NAME_AT.lastIndex;
  // Trailing spaces would be trimmed off the line: the general reading takes it.
  if (e > t || s.charCodeAt(e - 1) === 32) return false;
  // The surname holds no slash: the first one after the count is the one.
  const slash = s.indexOf('/', p + 2);
  if (s.charCodeAt(slash - 1) === 32) return false;
  const title = findTitle(s, slash + 1, e);
  quickSlots.end = e;
  quickSlots.slash = slash;
  quickSlots.title = title;
  quickSlots.givenEnd = title === null ? e : titleCut;
  return true;
}

/**
 * `0M71MG[/XX]` in `s` from `from` (up to `t` at most): a record locator of 4–8 and an airline of 2–3
 * letters or digits, as quickPnrEnd reads a whole `.L/` element when its line ends where this one does
 * (quickSlots.end). Returns the end of the locator, or -1.
 */
export function quickPnr(s: string, from: number, t: number): number {
  let i = from;
  while (i < t && isCodeChar(s.charCodeAt(i))) i++;
  const len = i - from;
  if (len < 4 || len > 8) return -1;
  let end = i;
  if (i < t && s.charCodeAt(i) === 47) {
    end = i + 1;
    while (end < t && isCodeChar(s.charCodeAt(end))) end++;
    const airline = end - i - 1;
    if (airline < 2 || airline > 3) return -1;
  }
  quickSlots.end = end;
  return i;
}

/**
 * QUICK_FQT's everyday shape, single-spaced, with a two-letter program and a number of digits that ends
 * the line or comes before a suffix; matched where the remark's text starts (sticky).
 */
const QUICK_FQT_AT = /FQT[VURS] (?:[A-Z]{2}\d{1,3} )?[A-Z]{2} \d{1,25}(?=[ /\-\r\n]|$)/y;

/**
 * `FQTx [SS9 ]XX 123…[ /-suffix]` in `s` from `f` to `t`: an FQT remark's text with an optional status
 * code, a two-letter program and a number of digits, single-spaced — the card `readFqtCard` reads from
 * it. Fills quickSlots.usage, .statusEnd (the status is `s.slice(f + 5, statusEnd)`), .numberFrom and
 * .numberEnd; the program is the two letters before the number's space, the rest follows the number.
 * `t` may lie beyond the line: the number then ends at the line's end, or before a suffix.
 */
export function quickFqtCard(s: string, f: number, t: number): boolean {
  QUICK_FQT_AT.lastIndex = f;
  if (!QUICK_FQT_AT.test(s)) return false;
  const end = QUICK_FQT_AT.lastIndex;
  if (end > t) return false;
  let statusEnd = -1;
  let from: number;
  if (isDigit(s.charCodeAt(f + 7))) {
    // A status code (two letters and digits) before the program.
    statusEnd = s.indexOf(' ', f + 8);
    from = statusEnd + 4;
  } else {
    // A bare status code where the program stands: the general reading decides.
    if (STATUS_PAIRS[(s.charCodeAt(f + 5) - 65) * 26 + s.charCodeAt(f + 6) - 65] === 1) return false;
    from = f + 8;
  }
  const u = s.charCodeAt(f + 3);
  quickSlots.usage = u === 86 ? 'FQTV' : u === 85 ? 'FQTU' : u === 82 ? 'FQTR' : 'FQTS';
  quickSlots.statusEnd = statusEnd;
  quickSlots.numberFrom = from;
  quickSlots.numberEnd = end;
  return true;
}

/**
 * `SU6120Y12LEDSVX` in `s` from `f` to `t`: a two-letter carrier, 1–5 digits, the subclass, a two-digit
 * day and two airports, nothing after — the marketing flight `readMarketingFlight` reads; null otherwise.
 */
export function quickMarketing(
  s: string,
  f: number,
  t: number,
  operatingDate: IsoDate,
): FtlMarketingFlight | null {
  if (!isLatinUpper(s.charCodeAt(f)) || !isLatinUpper(s.charCodeAt(f + 1))) return null;
  let i = f + 2;
  while (i < t && isDigit(s.charCodeAt(i))) i++;
  const digits = i - f - 2;
  if (digits < 1 || digits > 5 || t - i !== 9 || !isLatinUpper(s.charCodeAt(i))) return null;
  const d1 = s.charCodeAt(i + 1) - 48;
  const d2 = s.charCodeAt(i + 2) - 48;
  if (d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return null;
  for (let k = i + 3; k < t; k++) if (!isLatinUpper(s.charCodeAt(k))) return null;
  const day = d1 * 10 + d2;
  if (day < 1 || day > 31) return null;
  const numberRaw = s.slice(f + 2, i);
  return {
    carrier: s.slice(f, f + 2),
    number: s.charCodeAt(f + 2) === 48 ? String(Number(numberRaw)) : numberRaw,
    numberRaw,
    suffix: null,
    subclass: s[i]!,
    day,
    date: nearestDay(day, operatingDate),
    board: s.slice(i + 3, i + 6),
    off: s.slice(i + 6, t),
    raw: s.slice(f, t),
  };
}
