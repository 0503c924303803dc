/**
 * Writes FTL messages the way a DCS emits them: 64-character lines, long remarks cut mid-word and
 * continued on `.RN/` lines, passengers grouped by (destination, flown subclass), parts of about 3000
 * characters that each repeat the envelope, the flight line and the current group line, NIL for an empty
 * list. The demo data generator and the benchmarks use it; round-trip tests hold it to the parser.
 *
 * A record read by the parser (`FtlPassenger`) is a valid writer passenger, so read → write → read
 * reproduces the passengers.
 */
import iconv from 'iconv-lite';
import type { IsoDate } from '../../lib/dates.js';
import { RedeyeError } from '../../lib/errors.js';
import { LINE_WIDTH, MONTH_NAMES, isNameText, looksLikeTitle, pad2 } from './grammar.js';
import type { FtlCardUsage } from './model.js';

export interface FtlWriterCard {
  /** Default FQTV. */
  usage?: FtlCardUsage;
  program: string;
  /** Member number as a string, leading zeros kept. */
  number: string;
  /** Raw suffix with its separator (`-B`, `/SEN`, `-UPGRADE CONFIRMED …`). */
  suffix?: string | null;
  statusCode?: string | null;
  /** `R` (default) writes an `.R/FQTx` remark, `F` a PFS-style `.F/` element. */
  element?: 'R' | 'F';
}

export interface FtlWriterPassenger {
  destination: string;
  subclass: string;
  surname: string;
  givenName: string;
  title?: string | null;
  /** Written as `-X` after the first FQTV card that has no suffix, when it differs from `subclass`. */
  bookedSubclass?: string | null;
  pnr?: string | null;
  pnrAirline?: string | null;
  marketingFlight?: {
    carrier: string;
    number: string | number;
    suffix?: string | null;
    subclass: string;
    day: number;
    board: string;
    off: string;
  } | null;
  cards: readonly FtlWriterCard[];
  /** Other elements, written as `.<code>/<text>` (an `R` remark is continued on `.RN/` lines). */
  remarks?: readonly { code: string; text: string }[];
}

export interface FtlWriterMessage {
  flight: { carrier: string; number: string | number; suffix?: string | null; date: IsoDate; board: string };
  passengers: readonly FtlWriterPassenger[];
  /** Default `MOWRMXX`, sent at noon UTC of the flight date. */
  originator?: { address: string; sentAt?: Date };
  /** Default `['MOWKTXX']`. */
  addresses?: readonly string[];
  /** Priority code written before the addresses (`QU`), or null for none (default). */
  priority?: string | null;
}

export interface FtlWriteOptions {
  /** Default CR LF, as teletype traffic is. */
  lineEnding?: '\r\n' | '\n';
  /** Most characters per part, line endings included. Default 3000. */
  maxPartChars?: number;
  /** Zero-pad the flight number to this many digits. Default 3. */
  flightNumberDigits?: number;
}

/** Writes one message as its parts (each a complete text ending with its END line). */
export function writeFtlMessage(message: FtlWriterMessage, options: FtlWriteOptions = {}): string[] {
  const eol = options.lineEnding ?? '\r\n';
  const maxPart = options.maxPartChars ?? 3000;
  const digits = options.flightNumberDigits ?? 3;
  const f = message.flight;
  const date = f.date;
  const dd = date.slice(8, 10);
  const mmm = MONTH_NAMES[Number(date.slice(5, 7)) - 1];
  if (mmm === undefined || dd.length !== 2) throw writeError(`flight date ${date} is not YYYY-MM-DD`);
  const number = String(f.number).padStart(digits, '0');
  const flightLine = (part: number) =>
    `${f.carrier}${number}${f.suffix ?? ''}/${dd}${mmm} ${f.board} PART${part}`;
  const envelope: string[] = [];
  const addresses = message.addresses ?? ['MOWKTXX'];
  if (message.priority) envelope.push([message.priority, ...addresses].join(' '));
  else if (addresses.length > 0) envelope.push(addresses.join(' '));
  const sentAt = message.originator?.sentAt ?? new Date(`${date}T12:00:00Z`);
  const stamp = `${pad2(sentAt.getUTCDate())}${pad2(sentAt.getUTCHours())}${pad2(sentAt.getUTCMinutes())}`;
  envelope.push(`.${message.originator?.address ?? 'MOWRMXX'} ${stamp}`, 'FTL');

  // Destination groups in order of first appearance, passengers in input order within each.
  const groups = new Map<string, { destination: string; subclass: string; blocks: string[][] }>();
  for (const p of message.passengers) {
    const key = `${p.destination}\u0000${p.subclass}`;
    let g = groups.get(key);
    if (g === undefined) {
      g = { destination: p.destination, subclass: p.subclass, blocks: [] };
      groups.set(key, g);
    }
    g.blocks.push(passengerLines(p));
  }

  const parts: string[] = [];
  const size = (lines: readonly string[]) => lines.reduce((n, l) => n + l.length + eol.length, 0);
  let part = 1;
  let lines: string[] = [];
  let chars = 0;
  let listed = 0;
  const open = () => {
    lines = [...envelope, flightLine(part)];
    chars = size(lines);
    listed = 0;
  };
  const close = (last: boolean) => {
    lines.push(last ? 'ENDFTL' : `ENDPART${part}`);
    parts.push(lines.join(eol) + eol);
  };
  open();
  if (groups.size === 0) lines.push('NIL');
  for (const g of groups.values()) {
    const groupLine = `-${g.destination}${pad2(g.blocks.length)}${g.subclass}`;
    let groupWritten = false;
    for (const block of g.blocks) {
      const need = size(block) + (groupWritten ? 0 : groupLine.length + eol.length);
      const endChars = `ENDPART${part}`.length + eol.length;
      if (listed > 0 && chars + need + endChars > maxPart) {
        close(false);
        part++;
        open();
        groupWritten = false;
      }
      if (!groupWritten) {
        lines.push(groupLine);
        chars += groupLine.length + eol.length;
        groupWritten = true;
      }
      lines.push(...block);
      chars += size(block);
      listed++;
    }
  }
  close(true);
  return parts;
}

/** Writes several messages one after the other as one text. */
export function writeFtlMessages(
  messages: readonly FtlWriterMessage[],
  options: FtlWriteOptions = {},
): string {
  let text = '';
  for (const m of messages) text += writeFtlMessage(m, options).join('');
  return text;
}

/** Encodes written text for a file: `utf-8` (default), `cp866`, `windows-1251`, … */
export function encodeFtl(text: string, encoding = 'utf-8'): Buffer {
  if (encoding === 'utf-8' || encoding === 'utf8') return Buffer.from(text, 'utf8');
  if (!iconv.encodingExists(encoding)) throw writeError(`unknown character encoding ${encoding}`);
  return iconv.encode(text, encoding);
}

const CODE = /^[A-Z0-9А-ЯЁ]{2,3}$/;
const NUMBER = /^[A-Z0-9]{1,25}$/;
const LOCATOR = /^[A-Z0-9А-ЯЁ]{4,8}$/;
const AIRPORT = /^[A-ZА-ЯЁ]{3}$/;
const SUBCLASS = /^[A-ZА-ЯЁ]$/;

/** What the parser would reject is refused here: the writer only emits valid messages. */
function checkPassenger(p: FtlWriterPassenger): void {
  const who = `${p.surname}/${p.givenName}`;
  if (!AIRPORT.test(p.destination) || !SUBCLASS.test(p.subclass)) {
    throw writeError(
      `passenger ${who}: destination ${p.destination} or subclass ${p.subclass} is not writable`,
    );
  }
  if (!isNameText(p.surname.trim()) || (p.givenName.trim() !== '' && !isNameText(p.givenName.trim()))) {
    throw writeError(
      `passenger ${JSON.stringify(who)}: names are letters, spaces, hyphens, apostrophes and dots`,
    );
  }
  if (p.pnr && (!LOCATOR.test(p.pnr) || (p.pnrAirline && !CODE.test(p.pnrAirline)))) {
    throw writeError(`passenger ${who}: record locator ${p.pnr}/${p.pnrAirline ?? ''} is not writable`);
  }
  for (const c of p.cards) {
    if (
      !CODE.test(c.program) ||
      !/[A-ZА-ЯЁ]/.test(c.program) ||
      !NUMBER.test(c.number) ||
      !/\d/.test(c.number)
    ) {
      throw writeError(`passenger ${who}: card ${c.program} ${c.number} is not writable`);
    }
  }
}

function passengerLines(p: FtlWriterPassenger): string[] {
  checkPassenger(p);
  const lines = [nameLine(p)];
  if (p.pnr) lines.push(`.L/${p.pnr}${p.pnrAirline ? `/${p.pnrAirline}` : ''}`);
  const m = p.marketingFlight;
  if (m)
    lines.push(`.M/${m.carrier}${m.number}${m.suffix ?? ''}${m.subclass}${pad2(m.day)}${m.board}${m.off}`);
  const booked = p.bookedSubclass && p.bookedSubclass !== p.subclass ? p.bookedSubclass : null;
  let bookedWritten = booked === null || p.cards.some((c) => c.suffix && /^-[A-ZА-ЯЁ]$/.test(c.suffix));
  for (const c of p.cards) {
    const usage = c.usage ?? 'FQTV';
    let suffix = c.suffix ?? '';
    if (!bookedWritten && usage === 'FQTV' && c.element !== 'F' && suffix === '') {
      suffix = `-${booked}`;
      bookedWritten = true;
    }
    if (c.element === 'F') {
      lines.push(`.F/${c.program} ${c.number}${suffix}`);
    } else {
      const status = c.statusCode ? `${c.statusCode} ` : '';
      lines.push(...continued(`.R/${usage} ${status}${c.program} ${c.number}${suffix}`.trimEnd()));
    }
  }
  for (const r of p.remarks ?? []) {
    const line = `.${r.code}/${r.text}`.trimEnd();
    lines.push(...(r.code === 'R' ? continued(line) : [line]));
  }
  return lines;
}

/** Cuts a remark at exactly 64 characters, mid-word if need be, onto `.RN/` lines. */
function continued(line: string): string[] {
  if (line.length <= LINE_WIDTH) return [line];
  const out = [line.slice(0, LINE_WIDTH)];
  const room = LINE_WIDTH - 4;
  for (let at = LINE_WIDTH; at < line.length; at += room) out.push(`.RN/${line.slice(at, at + room)}`);
  return out;
}

/**
 * `1SURNAME/GIVEN TITLE` within 64 characters: the given name is shortened first, down to an initial,
 * then the surname — the emitter's rule, so readers must tolerate truncated names.
 */
function nameLine(p: FtlWriterPassenger): string {
  const title = p.title ? p.title : '';
  let surname = p.surname.trim();
  let given = p.givenName.trim();
  if (surname.length === 0 || (given.length === 0 && title.length === 0)) {
    throw writeError(
      `passenger ${JSON.stringify(`${p.surname}/${p.givenName}`)} needs a surname and a given name or title`,
    );
  }
  const titlePart = title.length === 0 ? '' : given.length === 0 ? title : ` ${title}`;
  const fixed = 2 + titlePart.length;
  if (fixed + surname.length + given.length > LINE_WIDTH && given.length > 0) {
    const room = Math.max(1, LINE_WIDTH - fixed - surname.length);
    const before = given;
    given = given.slice(0, room).trimEnd();
    // Do not let the cut leave something that reads back as a title.
    while (title.length === 0 && given.length > 1 && !looksLikeTitle(before) && looksLikeTitle(given)) {
      given = given.slice(0, -1).trimEnd();
    }
  }
  if (fixed + surname.length + given.length > LINE_WIDTH) {
    surname = surname.slice(0, Math.max(1, LINE_WIDTH - fixed - given.length));
  }
  return `1${surname}/${given}${titlePart}`;
}

function writeError(message: string): RedeyeError {
  return new RedeyeError('BAD_FTL_DATA', message, { feed: 'ftl' });
}
