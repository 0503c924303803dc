import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { documentName, transliterate } from '../demo/names.js';
import { type MemberName, nameMatches, sameTraveller, type TravelledName } from './names.js';

// rules/names.ts keeps each name's reading and spellings for the next comparison. Whatever it has kept,
// a pair must be decided, with the same reason, as a module that has read nothing else decides it.

// A few people whose names go through everything a booking, a DCS or a profile does to a name, so that
// generated pairs often share a surname and the given-name rules decide; some surnames are long enough
// to have been cut.
const CYRILLIC_SURNAMES = [
  'ИВАНОВ',
  'ИВАНОВА',
  'ФЁДОРОВ',
  'СОЛОВЬЁВА',
  'ИЛЬИН',
  'ЩУКИНА-ЮРЬЕВА',
  'КОНСТАНТИНОПОЛЬСКАЯ',
  'АЛЕКСАНДРОВА ВОЛКОНСКАЯ',
];
const CYRILLIC_GIVEN = ['АЛЕКСАНДР', 'АЛЕКСАНДРА', 'ЕКАТЕРИНА', 'ДМИТРИЙ', 'ЮЛИЯ', 'АННА МАРИЯ', 'ПЁТР', 'Е'];
const LATIN_SURNAMES = ['Müller', 'García Márquez', "O'Brien", 'Smith-Jones', 'Łukasiewicz', 'Ørsted', 'Mr'];
const LATIN_GIVEN = ['José', 'Zoë', 'Anne-Marie', 'Jean Pierre', 'Björn', 'Ann', 'Mrinal', 'A'];

type Spelling = 'asWritten' | 'icao' | 'older' | 'document' | 'lower';

/** A name field as some system wrote it. */
function spelt(text: string, spelling: Spelling, separator: string | null): string {
  const joined = separator === null ? text : text.replace(/[ -]/g, separator);
  switch (spelling) {
    case 'asWritten':
      return joined;
    case 'icao':
      return transliterate(joined);
    case 'older':
      return transliterate(joined, true);
    case 'document':
      return documentName(joined);
    case 'lower':
      return joined.toLowerCase();
  }
}

const spelling = fc.constantFrom<Spelling>('asWritten', 'icao', 'older', 'document', 'lower');
const separator = fc.constantFrom(null, ' ', '-', '');
const anyText = fc.string({ unit: fc.constantFrom(...'AБЁЙИЬ É-/ MRS'), maxLength: 8 });
/** Most names come through whole; one in three is cut somewhere. */
const sometimes = <T>(cut: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 2, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: cut });

/** A person's name as their passport has it, in their own script. */
interface Person {
  surname: string;
  given: string;
}
const person: fc.Arbitrary<Person> = fc.record({
  surname: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...CYRILLIC_SURNAMES, ...LATIN_SURNAMES) },
    { weight: 1, arbitrary: anyText },
  ),
  given: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...CYRILLIC_GIVEN, ...LATIN_GIVEN) },
    { weight: 1, arbitrary: anyText },
  ),
});

/** A travelled name: spelt, cut, titled, and sometimes as one `SURNAME/GIVEN` field or with no given name. */
const travelledName = (people: readonly Person[]): fc.Arbitrary<TravelledName> =>
  fc
    .record({
      person: fc.constantFrom(...people),
      spelling,
      separator,
      surnameCut: sometimes(fc.integer({ min: 1, max: 24 })),
      givenCut: sometimes(fc.integer({ min: 1, max: 12 })),
      title: fc.constantFrom('', ' MR', ' MRS', 'MR', 'MSTR', ' CHD'),
      form: fc.constantFrom('fields', 'fields', 'fields', 'slashed', 'surnameOnly'),
    })
    .map(({ person: { surname, given }, spelling, separator, surnameCut, givenCut, title, form }) => {
      const s = spelt(surname, spelling, separator).slice(0, surnameCut ?? undefined);
      const g = spelt(given, spelling, separator).slice(0, givenCut ?? undefined) + title;
      if (form === 'slashed') return { surname: `${s}/${g}` };
      if (form === 'surnameOnly') return { surname: s + title };
      return { surname: s, givenName: g };
    });

/** A member's profile: Latin as on the passport, the native script when the profile holds it. */
const memberName = (people: readonly Person[]): fc.Arbitrary<MemberName> =>
  fc
    .record({
      person: fc.constantFrom(...people),
      noGiven: fc.constantFrom(false, false, false, true),
      spelling: fc.constantFrom<Spelling>('icao', 'older', 'asWritten'),
      withLocal: fc.boolean(),
    })
    .map(({ person: { surname, given: written }, noGiven, spelling, withLocal }) => {
      const given = noGiven ? '' : written;
      return {
        surname: spelt(surname, spelling, null),
        givenName: spelt(given, spelling, null),
        ...(withLocal ? { surnameLocal: surname, givenNameLocal: given } : {}),
      };
    });

/** One or two people, as on a flight the same person is spelt many ways by its passengers and coupons. */
const people = fc.array(person, { minLength: 1, maxLength: 2 });

/** The same module loaded anew: nothing read or spelt yet, every name taken from scratch. */
async function freshNames() {
  vi.resetModules();
  return import('./names.js');
}

describe('names read once and compared many times', () => {
  it('decide each pair as names read afresh for that pair alone would', async () => {
    await fc.assert(
      fc.asyncProperty(
        people.chain((p) =>
          fc.tuple(
            fc.array(travelledName(p), { minLength: 1, maxLength: 4 }),
            fc.array(memberName(p), { minLength: 1, maxLength: 4 }),
          ),
        ),
        async ([travelled, members]) => {
          // Every name compared with every other first, as a night does, so each comparison below
          // reuses what earlier ones read.
          const remembered = travelled.map((t) => members.map((m) => nameMatches(t, m)));
          for (const [i, t] of travelled.entries()) {
            for (const [j, m] of members.entries()) {
              const fresh = await freshNames();
              expect(remembered[i]![j], `${JSON.stringify(t)} against ${JSON.stringify(m)}`).toEqual(
                fresh.nameMatches(t, m),
              );
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('take a coupon and a passenger for one traveller as names read afresh would', async () => {
    const asPassenger = (t: TravelledName) => ({ surname: t.surname, givenName: t.givenName ?? null });
    await fc.assert(
      fc.asyncProperty(
        people.chain((p) => fc.array(travelledName(p), { minLength: 2, maxLength: 5 })),
        async (travelled) => {
          const passengers = travelled.map(asPassenger);
          const remembered = passengers.map((a) => passengers.map((b) => sameTraveller(a, b)));
          for (const [i, a] of passengers.entries()) {
            for (const [j, b] of passengers.entries()) {
              const fresh = await freshNames();
              expect(remembered[i]![j], `${JSON.stringify(a)} and ${JSON.stringify(b)}`).toBe(
                fresh.sameTraveller(a, b),
              );
            }
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
