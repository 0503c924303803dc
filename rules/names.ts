/**
 * Does the name a passenger travelled under belong to the member whose card it carries?
 *
 * The card number already identifies the account; the name check stops a card being used by someone
 * else. So it forgives everything a booking, a DCS or a partner system does to a name — case, accents,
 * Cyrillic written in Latin by different rules, titles typed into the given name, long names cut to fit
 * a line, separators — and nothing that makes it a different name: IVANOV is not IVANOVA, SMITH is not
 * SMYTH, IVAN is not ANNA.
 *
 * Latin against Latin is compared letter for letter (after folding). Transliteration variants are only
 * tried where there is Cyrillic to transliterate: in the travelled name, or in the member's local-script
 * name. A travelled ANDREY therefore matches a member ANDREI only when the profile also holds АНДРЕЙ.
 */
import { BoundedCache } from '../lib/bounded-cache.js';

export interface TravelledName {
  /** As travelled; when `givenName` is absent, `SURNAME/GIVEN` in one field is split at the slash. */
  surname: string;
  givenName?: string;
}

export interface MemberName {
  /** Latin, as on the travel document. */
  surname: string;
  givenName: string;
  /** Native script (e.g. Cyrillic), when the profile has it. */
  surnameLocal?: string;
  givenNameLocal?: string;
}

/**
 * Why a name matched (the weakest evidence that was needed) or why it did not. A match through
 * transliteration that needed no other tolerance is `TRANSLITERATED`.
 */
export type NameMatchReason =
  | 'EXACT'
  | 'TRANSLITERATED'
  | 'EXTRA_GIVEN_NAMES'
  | 'GIVEN_NAME_TRUNCATED'
  | 'GIVEN_NAME_INITIAL'
  | 'SURNAME_TRUNCATED'
  | 'SURNAME_ONLY'
  | 'SURNAME_MISMATCH'
  | 'GIVEN_NAME_MISMATCH'
  | 'NO_SURNAME';

export interface NameMatch {
  matches: boolean;
  reason?: NameMatchReason;
}

// ICAO Doc 9303 (part 3) transliteration of Cyrillic, first alternative, followed by the older spellings
// still found in passports, loyalty profiles and tickets issued under earlier rules.
const CYRILLIC = new Map<string, readonly string[]>(
  Object.entries({
    А: ['A'],
    Б: ['B'],
    В: ['V'],
    Г: ['G'],
    Д: ['D'],
    Е: ['E'],
    Ё: ['E', 'YO'],
    Ж: ['ZH'],
    З: ['Z'],
    И: ['I'],
    Й: ['I', 'Y'],
    К: ['K'],
    Л: ['L'],
    М: ['M'],
    Н: ['N'],
    О: ['O'],
    П: ['P'],
    Р: ['R'],
    С: ['S'],
    Т: ['T'],
    У: ['U'],
    Ф: ['F'],
    Х: ['KH', 'H'],
    Ц: ['TS', 'TZ'],
    Ч: ['CH'],
    Ш: ['SH'],
    Щ: ['SHCH'],
    Ъ: ['IE', ''],
    Ы: ['Y'],
    Ь: [''],
    Э: ['E'],
    Ю: ['IU', 'YU'],
    Я: ['IA', 'YA'],
    // Ukrainian, Belarusian, Serbian and Macedonian letters of the same ICAO table.
    Ґ: ['G'],
    Є: ['IE', 'YE'],
    І: ['I'],
    Ї: ['I', 'YI'],
    Ў: ['U'],
    Ђ: ['D'],
    Ѓ: ['G'],
    Ѕ: ['DZ'],
    Ј: ['J'],
    Љ: ['LJ'],
    Њ: ['NJ'],
    Ћ: ['C'],
    Ќ: ['K'],
    Џ: ['DZ'],
    // Kazakh letters, as Kazakhstan's own passports write them (not in the ICAO table).
    Ә: ['A'],
    Ғ: ['G'],
    Қ: ['K'],
    Ң: ['N', 'NG'],
    Ө: ['O'],
    Ұ: ['U'],
    Ү: ['U'],
    Һ: ['H'],
  }),
);

// Latin letters that do not reduce to A–Z by dropping accents. Umlauts and Nordic letters take the ICAO
// machine-readable spelling first (MÜLLER → MUELLER) and the plain vowel as a tolerated variant.
const LATIN_SPECIAL = new Map<string, readonly string[]>(
  Object.entries({
    Ä: ['AE', 'A'],
    Ö: ['OE', 'O'],
    Ü: ['UE', 'U'],
    Å: ['AA', 'A'],
    Ø: ['OE', 'O'],
    Æ: ['AE'],
    Œ: ['OE'],
    ẞ: ['SS'],
    Þ: ['TH'],
    Ð: ['D'],
    Đ: ['D'],
    Ł: ['L'],
    Ħ: ['H'],
    Ŧ: ['T'],
    Ŋ: ['N'],
    Ĳ: ['IJ'],
  }),
);

// After these, older systems wrote Е as YE (ЕЛЕНА → YELENA, СЕРГЕЕВ → SERGEYEV).
const BEFORE_IOTATED = new Set([...'АЕЁИОУЫЭЮЯІЇЄЪЬ']);

const TITLES = new Set([
  'MR',
  'MRS',
  'MS',
  'MSTR',
  'MISS',
  'MISTER',
  'MADAM',
  'MADAME',
  'MME',
  'MLLE',
  'MX',
  'DR',
  'PROF',
  'SIR',
  'REV',
  'CHD',
  'INF',
]);
// Titles a DCS glues to the last given name without a space (FOX/ALANMR), longest first.
const GLUED_TITLES = ['MSTR', 'MISS', 'PROF', 'MRS', 'CHD', 'INF', 'MR', 'MS', 'DR'];

/**
 * The shortest travelled surname that can have been cut to fit. The tightest name field in use is the
 * boarding-pass barcode's 20 characters (IATA BCBP), which holds an 18-letter surname before `/` and an
 * initial; every longer field (tickets, FTL and PNL lines of 64) leaves more. A shorter surname was not
 * cut, so IVANOV is never read as the beginning of IVANOVA.
 */
const MIN_TRUNCATED_SURNAME = 18;

/**
 * The shortest travelled `SURNAME/GIVEN` field that can have had its given name cut short of an initial:
 * the same 20-character barcode field, every other one being longer. A cut there that falls on a space
 * is trimmed to 19, but then it left whole given names, which match as given names left out. Anything
 * shorter was not cut, so IVANOVA/ALEXANDR is not ALEXANDRA and ALEXANDROVA/ALEX is not ALEXEI.
 */
const MIN_CUT_NAME_FIELD = 20;

/** Bound on the spellings tried for one name field; enough for any real name's Cyrillic variants. */
const MAX_SPELLINGS = 256;

const APOSTROPHES = /['’ʼ‘`´]/gu;
const SEPARATORS = /[^\p{L}\p{M}]+/u;
const COMBINING_MARKS = /\p{M}+/gu;
const CYRILLIC_LETTER = /\p{Script=Cyrillic}/u;

/** Upper-case words of a name, accents and apostrophes kept for now (they decide the spelling). */
function wordsOf(text: string): string[] {
  return text.normalize('NFC').toUpperCase().replace(APOSTROPHES, '').split(SEPARATORS).filter(Boolean);
}

/** Each letter of a word as its alternative Latin spellings, the ICAO one first. */
function lettersOf(word: string): ReadonlyArray<readonly string[]> {
  const chars = [...word];
  const letters: Array<readonly string[]> = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    const next = chars[i + 1];
    if ((c === 'И' || c === 'Ы') && next === 'Й' && i + 2 === chars.length) {
      // -ИЙ / -ЫЙ endings: ICAO II / YI, and the IY, Y, I and YY of older passports (DMITRIY, YURI, BELYY).
      letters.push(c === 'И' ? ['II', 'IY', 'Y', 'I'] : ['YI', 'YY', 'Y']);
      i++;
    } else if (c === 'К' && next === 'С') {
      letters.push(['KS', 'X']); // ALEKSANDR / ALEXANDR
      i++;
    } else if (c === 'Е' && (i === 0 || BEFORE_IOTATED.has(chars[i - 1]!))) {
      letters.push(['E', 'YE']);
    } else if (c === 'Е') {
      // Ё is mostly printed as Е, and profiles spell the name as said: ФЕДОРОВ → FYODOROV, ПЕТР → PYOTR.
      letters.push(['E', 'YO']);
    } else if (c === 'Я' && chars[i - 1] === 'И') {
      // -ИЯ as English spells it: МАРИЯ → MARIA, ЮЛИЯ → YULIA (ICAO MARIIA, older MARIYA).
      letters.push(['IA', 'YA', 'A']);
    } else if (c === 'Ь' && next === 'И') {
      letters.push(['', 'Y']); // ИЛЬИН → ILIN, ILYIN
    } else {
      const known = CYRILLIC.get(c) ?? LATIN_SPECIAL.get(c);
      // Anything else loses its accents (É → E, Ñ → N); a letter of another script stays itself.
      letters.push(known ?? [c.normalize('NFD').replace(COMBINING_MARKS, '')]);
    }
  }
  return letters;
}

/** Every concatenation of one alternative per part, primary spellings first, at most MAX_SPELLINGS. */
function combine(parts: ReadonlyArray<readonly string[]>): string[] {
  let spellings = [''];
  for (const alternatives of parts) {
    const next: string[] = [];
    for (const head of spellings) {
      for (const tail of alternatives) {
        if (next.length < MAX_SPELLINGS) next.push(head + tail);
      }
    }
    spellings = next;
  }
  return [...new Set(spellings)];
}

// The same few thousand words recur all night (IVANOV, ANNA): spell each once.
const spellingCache = new BoundedCache<string, readonly string[]>(50_000);

function spellingsOf(word: string): readonly string[] {
  return spellingCache.getOrCompute(word, (w) => combine(lettersOf(w)).filter(Boolean));
}

/** A word of a name as written (upper case) and its Latin spellings, the ICAO one first. */
interface Word {
  text: string;
  spellings: readonly string[];
}

/** A name field as words; words that spell to nothing (a lone Ь) are dropped. */
function fieldOf(text: string | undefined): Word[] {
  if (!text) return [];
  return wordsOf(text)
    .map((word) => ({ text: word, spellings: spellingsOf(word) }))
    .filter((word) => word.spellings.length > 0);
}

function spellingsOfField(words: readonly Word[]): string[] {
  return combine(words.map((word) => word.spellings));
}

/**
 * A name reduced to the key it is compared by: upper case, accents dropped, Cyrillic in the ICAO
 * Doc 9303 transliteration, apostrophes, hyphens and spaces removed (`Smith-Jones` → `SMITHJONES`,
 * `Фёдоров` → `FEDOROV`). Titles are not removed: only a given name can carry one.
 */
export function normaliseName(text: string): string {
  return fieldOf(text)
    .map((word) => word.spellings[0])
    .join('');
}

function isTitle(word: Word): boolean {
  return TITLES.has(word.text);
}

/**
 * A travelled given name as it is written, less the title words typed before or after it, as the name
 * check takes them off (`ANNA MRS` → `ANNA`, `Mrs. Anna` → `Anna`); null when nothing else is left. A title
 * glued to the name (`ANNAMRS`) stays: the check only tries the name without it, as ALEXANDR and WILLIAMS
 * end the same way.
 */
export function givenNameLessTitles(text: string): string | null {
  const words = text.trim().split(/\s+/u);
  const titled = (word: string) => {
    const parts = wordsOf(word);
    return parts.length === 1 && TITLES.has(parts[0]!);
  };
  let start = 0;
  let end = words.length;
  while (start < end && titled(words[start]!)) start++;
  while (end > start && titled(words[end - 1]!)) end--;
  const rest = words.slice(start, end).join(' ');
  return rest === '' ? null : start === 0 && end === words.length ? text : rest;
}

/**
 * A reading of the travelled given name: its words, and whether a title was taken from their end. A name
 * cut to fit a field loses its tail first, and the title is written last, so a given name that still
 * ends in one (ALEXANDR MR, ALEXANDRMR) was not cut: it is whole, or an initial someone wrote.
 */
interface GivenCandidate {
  words: Word[];
  titled: boolean;
  /** Spellings of the first j words run together, for j = 1 … n. */
  leading: string[][];
}

/** The travelled given name as candidates: as written less title words, then with a glued title cut off. */
function givenCandidates(words: readonly Word[]): GivenCandidate[] {
  let start = 0;
  let end = words.length;
  while (start < end && isTitle(words[start]!)) start++;
  while (end > start && isTitle(words[end - 1]!)) end--;
  const plain = words.slice(start, end);
  const candidate = (words: Word[], titled: boolean): GivenCandidate => {
    const leading: string[][] = [];
    for (let j = 1; j <= words.length; j++) leading.push(spellingsOfField(words.slice(0, j)));
    return { words, titled, leading };
  };
  const candidates = [candidate(plain, end < words.length)];
  const last = plain.at(-1);
  const glued =
    last && GLUED_TITLES.find((title) => last.text.length > title.length && last.text.endsWith(title));
  if (last && glued) {
    const text = last.text.slice(0, -glued.length);
    candidates.push(candidate([...plain.slice(0, -1), { text, spellings: spellingsOf(text) }], true));
  }
  return candidates;
}

/** Whether some spelling in `prefixes` is a proper beginning of some spelling in `of`. */
function anyPrefix(prefixes: Iterable<string>, of: ReadonlySet<string>): boolean {
  for (const prefix of prefixes) {
    for (const whole of of) if (whole.length > prefix.length && whole.startsWith(prefix)) return true;
  }
  return false;
}

function intersects(a: Iterable<string>, b: ReadonlySet<string>): boolean {
  for (const x of a) if (b.has(x)) return true;
  return false;
}

type GivenMatch = 'EXACT' | 'EXTRA_GIVEN_NAMES' | 'GIVEN_NAME_TRUNCATED' | 'GIVEN_NAME_INITIAL' | undefined;

/** A member's given names as spellings: whole, and their first words without the rest (ANNA of ANNA MARIA). */
interface MemberGivens {
  whole: ReadonlySet<string>;
  leading: ReadonlySet<string>;
}

function isInitial(word: Word): boolean {
  return [...word.text].length === 1;
}

/** `mayBeCut`: the field was long enough to be cut and still ends where a cut would leave it. */
function matchGiven(
  travelled: readonly Word[],
  leading: ReadonlyArray<readonly string[]>,
  member: MemberGivens,
  mayBeCut: boolean,
): GivenMatch {
  const whole = leading.at(-1)!;
  if (intersects(whole, member.whole)) return 'EXACT';
  // A travelled given name may add a middle name or patronymic the profile does not hold, or leave out
  // one it holds.
  for (let j = 0; j < leading.length - 1; j++)
    if (intersects(leading[j]!, member.whole)) return 'EXTRA_GIVEN_NAMES';
  if (intersects(whole, member.leading)) return 'EXTRA_GIVEN_NAMES';
  // Or be cut by the DCS: to an initial at any length (ORLOVA/E, LEE/ANNA M), short of one only where
  // the field was long enough for a cut and no title is left after the name.
  if (!anyPrefix(whole, member.whole)) return undefined;
  const last = travelled.at(-1)!;
  if (travelled.length === 1 && isInitial(last)) return 'GIVEN_NAME_INITIAL';
  if (isInitial(last) && intersects(leading.at(-2)!, member.leading)) return 'GIVEN_NAME_INITIAL';
  return mayBeCut ? 'GIVEN_NAME_TRUNCATED' : undefined;
}

/** The match of a travelled name against one view of the member (Latin, or Latin and local script). */
function matchAgainst(
  travelled: TravelledReading,
  memberSurnames: ReadonlySet<string>,
  memberGivens: MemberGivens,
): NameMatch {
  let surnameTruncated = false;
  if (!intersects(travelled.surnames, memberSurnames)) {
    if (!travelled.surnameMayBeCut || !anyPrefix(travelled.surnames, memberSurnames)) {
      return { matches: false, reason: 'SURNAME_MISMATCH' };
    }
    surnameTruncated = true;
  }
  for (const { words: candidate, titled, leading } of travelled.givenCandidates) {
    if (candidate.length === 0 || memberGivens.whole.size === 0) {
      // Nothing to compare the given name with: the surname is all the evidence there is.
      return { matches: true, reason: surnameTruncated ? 'SURNAME_TRUNCATED' : 'SURNAME_ONLY' };
    }
    const givenMatch = matchGiven(candidate, leading, memberGivens, travelled.givenMayBeCut && !titled);
    // The DCS cuts the given name to an initial before it touches the surname.
    const initialOnly = givenMatch === 'GIVEN_NAME_INITIAL' && candidate.length === 1;
    if (givenMatch && (!surnameTruncated || initialOnly)) {
      return { matches: true, reason: surnameTruncated ? 'SURNAME_TRUNCATED' : givenMatch };
    }
  }
  return { matches: false, reason: 'GIVEN_NAME_MISMATCH' };
}

/**
 * A travelled name read once: split, titles taken off, spelt every way it can be. It is the same whoever
 * it is compared with, and a coupon without a card is compared with every carded passenger of its flight.
 */
interface TravelledReading {
  /** The surname as written: only one long enough to have been cut may match as a beginning. */
  surnameMayBeCut: boolean;
  surnames: readonly string[];
  givenCandidates: readonly GivenCandidate[];
  /**
   * The field a system would have cut (SURNAME/GIVEN, titles typed into it included) is long enough for
   * its given name to have been cut short of an initial (MIN_CUT_NAME_FIELD).
   */
  givenMayBeCut: boolean;
  inCyrillic: boolean;
}

function readTravelled(travelled: TravelledName): TravelledReading | null {
  let surnameText = travelled.surname;
  let givenText = travelled.givenName;
  if (givenText === undefined && surnameText.includes('/')) {
    const slash = surnameText.indexOf('/');
    givenText = surnameText.slice(slash + 1);
    surnameText = surnameText.slice(0, slash);
  }
  let surname = fieldOf(surnameText);
  const given = fieldOf(givenText);
  // With no given name, a title can only have landed after the surname (SMITH MR).
  while (given.length === 0 && surname.length > 1 && isTitle(surname.at(-1)!)) surname = surname.slice(0, -1);
  if (surname.length === 0) return null;
  return {
    surnameMayBeCut: surnameText.trim().length >= MIN_TRUNCATED_SURNAME,
    surnames: spellingsOfField(surname),
    givenCandidates: givenCandidates(given),
    givenMayBeCut: surnameText.trim().length + 1 + (givenText ?? '').trim().length >= MIN_CUT_NAME_FIELD,
    inCyrillic: CYRILLIC_LETTER.test(surnameText) || CYRILLIC_LETTER.test(givenText ?? ''),
  };
}

// A night compares the same names again and again (each FTL passenger with every cardless coupon of its
// flight, each member with every flight they took): each name is read and spelt once, not per comparison.
const NAMES_KEPT = 20_000;
// By surname, then given name: the callers' own strings are the keys, whose hashes V8 keeps, where a key
// joined from both would be a new string to hash on every comparison.
const readingsKept = new Map<string, Map<string | undefined, TravelledReading | null>>();
let readingsCount = 0;
const surnameSpellingsKept = new BoundedCache<string, ReadonlySet<string>>(NAMES_KEPT);
const givenSpellingsKept = new BoundedCache<string, MemberGivens>(NAMES_KEPT);

function readingOf(travelled: TravelledName): TravelledReading | null {
  const { surname, givenName } = travelled;
  let byGiven = readingsKept.get(surname);
  let reading = byGiven?.get(givenName);
  if (reading !== undefined) return reading;
  reading = readTravelled(travelled);
  // Bounded as BoundedCache is: start again empty rather than track what was used last.
  if (readingsCount >= NAMES_KEPT) {
    readingsKept.clear();
    readingsCount = 0;
    byGiven = undefined;
  }
  if (!byGiven) readingsKept.set(surname, (byGiven = new Map()));
  byGiven.set(givenName, reading);
  readingsCount++;
  return reading;
}

function surnameSpellings(text: string): ReadonlySet<string> {
  return surnameSpellingsKept.getOrCompute(text, () => {
    const set = new Set<string>();
    for (const spelling of spellingsOfField(fieldOf(text))) if (spelling) set.add(spelling);
    return set;
  });
}

function givenSpellings(text: string): MemberGivens {
  return givenSpellingsKept.getOrCompute(text, () => {
    const whole = new Set<string>();
    const leading = new Set<string>();
    const words = fieldOf(text);
    for (let k = 1; k <= words.length; k++) {
      const into = k === words.length ? whole : leading;
      for (const spelling of spellingsOfField(words.slice(0, k))) if (spelling) into.add(spelling);
    }
    return { whole, leading };
  });
}

/** The member's name in Latin and in local script as one view: either spelling may be the travelled one. */
function eitherScript(latin: ReadonlySet<string>, local: ReadonlySet<string>): Set<string> {
  return new Set([...latin, ...local]);
}

/**
 * Whether the travelled name (from an FTL, a coupon or a partner file) can be the member's. On a match,
 * `reason` says which tolerance was needed; otherwise it says which part of the name differs.
 */
export function nameMatches(travelled: TravelledName, member: MemberName): NameMatch {
  // The common case, letter for letter as on the profile: no spelling work needed.
  if (
    travelled.surname === member.surname &&
    travelled.givenName === member.givenName &&
    /^[A-Z]+$/.test(member.surname)
  ) {
    return { matches: true, reason: 'EXACT' };
  }
  const reading = readingOf(travelled);
  if (!reading) return { matches: false, reason: 'NO_SURNAME' };
  const latinSurnames = surnameSpellings(member.surname);
  const latinGivens = givenSpellings(member.givenName);
  const latin = matchAgainst(reading, latinSurnames, latinGivens);
  if (latin.matches) {
    return latin.reason === 'EXACT' && reading.inCyrillic
      ? { matches: true, reason: 'TRANSLITERATED' }
      : latin;
  }
  if (!member.surnameLocal && !member.givenNameLocal) return latin;

  const localGivens = givenSpellings(member.givenNameLocal ?? '');
  const local = matchAgainst(
    reading,
    eitherScript(latinSurnames, surnameSpellings(member.surnameLocal ?? '')),
    {
      whole: eitherScript(latinGivens.whole, localGivens.whole),
      leading: eitherScript(latinGivens.leading, localGivens.leading),
    },
  );
  if (local.matches) return local.reason === 'EXACT' ? { matches: true, reason: 'TRANSLITERATED' } : local;
  return local;
}

/**
 * Whether two travelled names (a retro-claim's and the archive's, a coupon's and its FTL passenger's) can
 * be one traveller's. Either may be the shortened one: the DCS truncates given names, a member may claim
 * with an initial, a ticket spells out what an FTL cuts. Matching is tried both ways so neither side's
 * shortening hides the other.
 */
export function sameTraveller(
  a: { surname: string; givenName: string | null },
  b: { surname: string; givenName: string | null },
): boolean {
  const member = (n: typeof a): MemberName => ({ surname: n.surname, givenName: n.givenName ?? '' });
  const travelled = (n: typeof a): TravelledName => ({
    surname: n.surname,
    givenName: n.givenName ?? undefined,
  });
  return nameMatches(travelled(a), member(b)).matches || nameMatches(travelled(b), member(a)).matches;
}
