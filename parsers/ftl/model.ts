/**
 * The shapes the FTL parser hands to the rest of Redeye: one record per listed passenger, plus the
 * facts about messages and parts that go into a file's verdict, and the held-part state that survives
 * from one night to the next.
 */
import type { IsoDate } from '../../lib/dates.js';
import type { ParseOptions } from '../types.js';

/** Flight as read from the `XX101/28MAY DME PART1` line. */
export interface FtlFlight {
  /** Airline designator as written: 2–3 Latin letters/digits or Cyrillic letters (`XX`, `U6`, `ЮТ`). */
  carrier: string;
  /** Flight number without zero padding (`0302` → `302`). */
  number: string;
  /** Flight number as written. */
  numberRaw: string;
  /** One-letter operational suffix, or null. */
  suffix: string | null;
  /** Scheduled local departure date at the board point, year inferred from the receipt time. */
  date: IsoDate;
  /** Date as written (`28MAY`). */
  dateRaw: string;
  /** Board point (IATA airport code, or a Cyrillic code in the Sirena network). */
  board: string;
}

export interface FtlOriginator {
  /** Seven-character originator address (`MOWRMXX`). */
  address: string;
  /** The `DDHHMM` stamp as written, or null when absent. */
  stamp: string | null;
  /** The stamp resolved against the receipt time as a UTC instant (`2024-05-28T15:30:00Z`), or null. */
  sentAt: string | null;
}

/** Marketing flight from a `.M/SU6120Y12LEDSVX` element. */
export interface FtlMarketingFlight {
  carrier: string;
  number: string;
  numberRaw: string;
  suffix: string | null;
  /** Booking class on the marketing flight. */
  subclass: string;
  /** Day of month as written. */
  day: number;
  /** The day resolved to the date nearest to the operating flight date, or null when impossible. */
  date: IsoDate | null;
  board: string;
  off: string;
  /** The element text after `.M/`, including anything unread after the arrival point. */
  raw: string;
}

export type FtlCardUsage = 'FQTV' | 'FQTU' | 'FQTR' | 'FQTS';

/**
 * How the overloaded `-suffix` (or `/suffix`) after a card number was understood. `bookedSubclass`: one
 * letter on an FQTV card; `tier`: a tier code (`-EMER`, `/SEN`); `association`: only a passenger
 * association (`-1SMITH/ANNA`); `text`: free text (FQTU/FQTR/FQTS, or anything else).
 */
export type FtlSuffixKind = 'bookedSubclass' | 'tier' | 'association' | 'text';

export interface FtlCard {
  usage: FtlCardUsage;
  /** Program owner (airline code), e.g. `XX` or a partner such as `LH`. */
  program: string;
  /** Member number exactly as written: an opaque string, leading zeros kept. */
  number: string;
  /** Raw suffix after the number including its separator (`-B`, `/SEN`, `-UPGRADE …`), or null. */
  suffix: string | null;
  suffixKind: FtlSuffixKind | null;
  /** Booked subclass read from the suffix (FQTV only), or null. */
  bookedSubclass: string | null;
  /** Tier code read from the suffix, or null (FTL itself never carries tier). */
  tier: string | null;
  /** Free text read from the suffix, or null. */
  text: string | null;
  /** Passenger association (`1SMITH/ANNA`) from a trailing `-1SMITH/ANNA`, or null. */
  association: string | null;
  /** Status code kept by some systems (`HK1`), or null. */
  statusCode: string | null;
  /** True when `program` is one of the configured own program codes. */
  own: boolean;
  /** Element the card came from: an `.R/FQTx` remark or a PFS-style `.F/` element. */
  element: 'R' | 'F';
  /** The element as written, `.RN/` continuations joined (`.R/FQTV HK1 XX 1000000081`). */
  raw: string;
  /** Line of the element (its first line when continued). */
  line: number;
}

/** Any other element kept with the passenger (`.I/`, `.O/`, a non-FQT `.R/` remark, a second `.L/`…). */
export interface FtlRemark {
  code: string;
  text: string;
  line: number;
}

/** Non-fatal observations attached to a passenger record. */
export type FtlPassengerWarning =
  /** No readable card at all (for example the only card was malformed). */
  | 'NO_USABLE_CARD'
  /** Cards were read, but none is an FQTV/`.F/` accrual card. */
  | 'NO_ACCRUAL_CARD'
  /** One of the passenger's lines is longer than 64 characters. */
  | 'LONG_LINE'
  /** The name element's count differs from the number of names on it. */
  | 'NAME_COUNT_MISMATCH'
  /** A card's passenger association matched no name of its element: it was applied to all. */
  | 'ASSOCIATION_UNMATCHED'
  /** A second `.L/` or `.M/` element: the first is used, the others are kept in `remarks`. */
  | 'DUPLICATE_ELEMENT';

export interface FtlPassenger {
  /** Message identity: `carrier+number+suffix/date/board`, e.g. `XX101/2024-05-28/DME`. */
  message: string;
  flight: FtlFlight;
  originator: FtlOriginator | null;
  /** Part number the passenger was listed in. */
  part: number;
  /**
   * True when the passenger's message was still incomplete at the end of the delivery. Such records
   * are reported so every line is accounted for, but must not be credited: the part is held and comes
   * back, complete, through the assembler's held state.
   */
  held: boolean;
  /** Arrival airport of the destination group. */
  destination: string;
  /** Flown subclass (RBD) from the destination group line. */
  subclass: string;
  /** Booked subclass from an FQTV suffix when present, otherwise null (booked = flown as far as FTL knows). */
  bookedSubclass: string | null;
  surname: string;
  /** Given names without the title (may be truncated by the emitter, down to an initial). */
  givenName: string;
  title: string | null;
  /** The name as written (`IVANOV/IVAN MR`, `FOX/ALANMR`). Cyrillic stays Cyrillic. */
  nameRaw: string;
  /** Count of names on the name element and this passenger's 1-based position in it. */
  nameCount: number;
  nameIndex: number;
  pnr: string | null;
  pnrAirline: string | null;
  marketingFlight: FtlMarketingFlight | null;
  /** Every readable card, own and partner, in the order written. */
  cards: readonly FtlCard[];
  /** The partner-program cards among `cards` (they go to outbound alliance claims, not to the local ledger). */
  partnerCards: readonly FtlCard[];
  /**
   * The card this flight earns on: the first own-program FQTV card, else the first partner FQTV card
   * (exported to that program). Other cards are reported but not used for accrual.
   */
  accrualCard: FtlCard | null;
  remarks: readonly FtlRemark[];
  warnings: readonly FtlPassengerWarning[];
}

export interface FtlParseOptions extends ParseOptions {
  /** Program codes whose cards are credited locally. Default `['XX']`, the demo program. */
  ownPrograms?: string[];
  /** A flight date may be at most this many days after the receipt date (year inference). Default 3. */
  futureDays?: number;
  /** Time zone of the receipt date used for year inference. Default `UTC`. */
  timeZone?: string;
  /** Held messages older than this (from their first part's receipt) are reported as incomplete. Default 72. */
  holdTimeoutHours?: number;
  /** Instant the hold timeout is measured at. Default: the latest receipt time seen in the delivery. */
  asOf?: Date;
}

/**
 * A part waiting for the rest of its message, as persisted between deliveries. Plain JSON: the raw
 * decoded lines and where they came from, so the part re-parses exactly as it first did.
 */
export interface HeldFtlPart {
  /** Message identity (informative: recomputed from the lines when seeded). */
  message: string;
  part: number;
  final: boolean;
  /** File the part arrived in and the line number of its first line there. */
  file: string;
  line: number;
  /** The registry's id of that file, when its input had one (a later file may bear its name). */
  fileId?: number;
  /** Receipt time of that file, ISO 8601. Year inference of the part depends on it. */
  receivedAt: string;
  /** The part's lines as decoded, from its first envelope line to its END line. */
  lines: string[];
}

/**
 * A message completed by an earlier delivery, as persisted between deliveries: a part of it sent again
 * is then ignored and counted as a duplicate (formats/ftl.md), as within one delivery, instead of
 * starting a message of its own that waits and expires as incomplete. Plain JSON.
 */
export interface CompletedFtlMessage {
  /** Message identity, as `FtlPassenger.message`. */
  message: string;
  /** The part that ended with ENDFTL: parts 1 to it made the message. */
  finalPart: number;
  /** File the message's first part arrived in and the line number of its first line there. */
  file: string;
  line: number;
  /** The registry's id of that file, when its input had one. */
  fileId?: number;
  /** The business date of the night that completed it, when known (named in a duplicate's reason). */
  completedOn?: string;
}

export interface FtlMessageFlight {
  carrier: string;
  number: string;
  suffix: string | null;
  date: IsoDate;
  board: string;
}

/** Where one part of a message came from. */
export interface FtlPartRef {
  part: number;
  final: boolean;
  file: string;
  line: number;
  /** True when the part was seeded from the held state of an earlier delivery. */
  seeded: boolean;
}

export interface FtlGroupCountMismatch {
  destination: string;
  subclass: string;
  declared: number;
  read: number;
}

/** A message's state as reported in a file's verdict meta. */
export interface FtlMessageFact {
  message: string;
  flight: FtlMessageFlight;
  status: 'complete' | 'held';
  /** Part number that ended with ENDFTL, when it has arrived. */
  finalPart: number | null;
  parts: FtlPartRef[];
  /** Part numbers still missing (below the final part, or up to the highest seen when the final is missing). */
  missingParts: number[];
  /** Passengers read from the message's parts in this delivery. */
  passengers: number;
  /** Destination groups whose declared count differs from the passengers read (complete messages only). */
  groupCountMismatches: FtlGroupCountMismatch[];
  /** Held longer than the hold timeout: to be reported as incomplete. */
  expired: boolean;
}

/** A part that was not used, as reported in a file's verdict meta. */
export interface FtlPartProblem {
  line: number;
  reason: string;
  message: string;
  /** Message identity and part number when the header could be read. */
  messageKey: string | null;
  part: number | null;
}

export interface FtlFileCounts {
  parts: number;
  partsComplete: number;
  partsHeld: number;
  partsDuplicate: number;
  partsRejected: number;
  messagesComplete: number;
  messagesHeld: number;
  passengers: number;
  passengersHeld: number;
  passengersWithoutUsableCard: number;
  ownCards: number;
  partnerCards: number;
  /** Lines longer than 64 characters that were read anyway. */
  longLines: number;
}

/** `meta` of an FTL file's verdict event. */
export interface FtlFileMeta {
  encoding: string;
  counts: FtlFileCounts;
  /** Messages this file contributed parts to (complete ones beyond the first 1000 are only counted). */
  messages: FtlMessageFact[];
  /** Parts rejected or ignored (duplicates), first 1000. */
  partProblems: FtlPartProblem[];
}

/** A held message past the hold timeout, returned by the assembler to be reported as incomplete. */
export interface FtlIncompleteMessage {
  message: string;
  /** Null when a held part could no longer be read at all. */
  flight: FtlMessageFlight | null;
  reason: 'INCOMPLETE_MESSAGE';
  description: string;
  finalPart: number | null;
  missingParts: number[];
  firstReceivedAt: string;
  parts: HeldFtlPart[];
}

/** What a delivery leaves behind: parts to persist for the next one, and messages to give up on. */
export interface FtlDeliveryResult {
  /** Parts still waiting for their message to complete (seeded ones included): persist these. */
  held: HeldFtlPart[];
  /** Messages held longer than the hold timeout: report them as incomplete and stop holding them. */
  expired: FtlIncompleteMessage[];
  /** Seeded parts whose message completed in this delivery: their records were released. */
  used: HeldFtlPart[];
  /** Seeded parts dropped as duplicates of another held part or of a completed message. */
  dropped: HeldFtlPart[];
  /** Messages completed in this delivery (not the seeded ones): persist these for later deliveries. */
  completed: CompletedFtlMessage[];
}
