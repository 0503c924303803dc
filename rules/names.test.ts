import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  givenNameLessTitles,
  type MemberName,
  nameMatches,
  normaliseName,
  type TravelledName,
} from './names.js';

function check(travelled: TravelledName, member: MemberName) {
  return nameMatches(travelled, member);
}

describe('the names in the FTL samples', () => {
  it('matches a Cyrillic name with patronymic to the Latin profile (СМИРНОВ/АНДРЕЙ АНАТОЛЬЕВИЧ)', () => {
    expect(
      check(
        { surname: 'СМИРНОВ', givenName: 'АНДРЕЙ АНАТОЛЬЕВИЧ' },
        { surname: 'SMIRNOV', givenName: 'ANDREI' },
      ),
    ).toEqual({ matches: true, reason: 'EXTRA_GIVEN_NAMES' });
  });

  it('matches a given name cut to its initial (ORLOVA/E)', () => {
    expect(check({ surname: 'ORLOVA', givenName: 'E' }, { surname: 'ORLOVA', givenName: 'ELENA' })).toEqual({
      matches: true,
      reason: 'GIVEN_NAME_INITIAL',
    });
  });

  it('matches a given name with the title glued on (FOX/ALANMR)', () => {
    expect(check({ surname: 'FOX', givenName: 'ALANMR' }, { surname: 'FOX', givenName: 'ALAN' })).toEqual({
      matches: true,
      reason: 'EXACT',
    });
  });

  it('matches names followed by a title (IVANOV/IVAN MR, PETROVA/ANNA MRS)', () => {
    expect(
      check({ surname: 'IVANOV', givenName: 'IVAN MR' }, { surname: 'Ivanov', givenName: 'Ivan' }).matches,
    ).toBe(true);
    expect(
      check({ surname: 'PETROVA', givenName: 'ANNA MRS' }, { surname: 'PETROVA', givenName: 'ANNA' }),
    ).toEqual({
      matches: true,
      reason: 'EXACT',
    });
  });

  it('matches a name element given whole, slash included', () => {
    expect(check({ surname: 'GARCIA/LUIS MR' }, { surname: 'GARCIA', givenName: 'LUIS' })).toEqual({
      matches: true,
      reason: 'EXACT',
    });
  });
});

describe('a different person does not match', () => {
  const cases: Array<[string, TravelledName, MemberName, string]> = [
    [
      'IVANOV is not IVANOVA',
      { surname: 'IVANOV', givenName: 'IVAN' },
      { surname: 'IVANOVA', givenName: 'ANNA' },
      'SURNAME_MISMATCH',
    ],
    [
      'SMITH is not SMYTH',
      { surname: 'SMITH', givenName: 'J' },
      { surname: 'SMYTH', givenName: 'JOHN' },
      'SURNAME_MISMATCH',
    ],
    [
      'PETR is not IVAN',
      { surname: 'IVANOV', givenName: 'PETR' },
      { surname: 'IVANOV', givenName: 'IVAN' },
      'GIVEN_NAME_MISMATCH',
    ],
    [
      'an initial must be the right one',
      { surname: 'IVANOV', givenName: 'P' },
      { surname: 'IVANOV', givenName: 'IVAN' },
      'GIVEN_NAME_MISMATCH',
    ],
    [
      'a short surname is never a cut one',
      { surname: 'IVANOV', givenName: 'A' },
      { surname: 'IVANOVA', givenName: 'ANNA' },
      'SURNAME_MISMATCH',
    ],
    [
      'ANNABELLE is not ANNA',
      { surname: 'SMITH', givenName: 'ANNABELLE' },
      { surname: 'SMITH', givenName: 'ANNA' },
      'GIVEN_NAME_MISMATCH',
    ],
    [
      'ALEKSANDRA is not ALEKSANDR',
      { surname: 'ALEKSANDROVA', givenName: 'ALEKSANDRA' },
      { surname: 'ALEKSANDROV', givenName: 'ALEKSANDR' },
      'SURNAME_MISMATCH',
    ],
    [
      'in Cyrillic too',
      { surname: 'ИВАНОВА', givenName: 'АННА' },
      { surname: 'IVANOV', givenName: 'IVAN', surnameLocal: 'ИВАНОВ', givenNameLocal: 'ИВАН' },
      'SURNAME_MISMATCH',
    ],
    [
      'a full given name with a cut surname',
      { surname: 'WOLFESCHLEGELSTEIN', givenName: 'HUBERT' },
      { surname: 'WOLFESCHLEGELSTEINHAUSEN', givenName: 'HUBERT' },
      'GIVEN_NAME_MISMATCH',
    ],
    [
      'IVANOVA/ALEXANDR is not ALEXANDRA: a name that short was not cut',
      { surname: 'IVANOVA', givenName: 'ALEXANDR' },
      { surname: 'IVANOVA', givenName: 'ALEXANDRA' },
      'GIVEN_NAME_MISMATCH',
    ],
    [
      'ALEXANDROVA/ALEX is not ALEXEI',
      { surname: 'ALEXANDROVA', givenName: 'ALEX' },
      { surname: 'ALEXANDROVA', givenName: 'ALEXEI' },
      'GIVEN_NAME_MISMATCH',
    ],
    [
      'nor with a title glued on (FOX/ALANMR is not ALANA)',
      { surname: 'FOX', givenName: 'ALANMR' },
      { surname: 'FOX', givenName: 'ALANA' },
      'GIVEN_NAME_MISMATCH',
    ],
  ];
  for (const [behaviour, travelled, member, reason] of cases) {
    it(behaviour, () => {
      expect(check(travelled, member)).toEqual({ matches: false, reason });
    });
  }

  it('rejects a travelled name with no surname', () => {
    expect(check({ surname: ' - ', givenName: 'IVAN' }, { surname: 'IVANOV', givenName: 'IVAN' })).toEqual({
      matches: false,
      reason: 'NO_SURNAME',
    });
  });
});

describe('what systems do to a name', () => {
  it('ignores case, accents, hyphens, spaces and apostrophes', () => {
    const pairs: Array<[TravelledName, MemberName]> = [
      [
        { surname: 'GARCÍA MÁRQUEZ', givenName: 'JOSÉ' },
        { surname: 'Garcia-Marquez', givenName: 'Jose' },
      ],
      [
        { surname: 'OBRIEN', givenName: 'SEAN' },
        { surname: "O'Brien", givenName: 'Seán' },
      ],
      [
        { surname: 'SMITH JONES', givenName: 'MARY ANN' },
        { surname: 'SMITH-JONES', givenName: 'MARY-ANN' },
      ],
      [
        { surname: 'CELIK', givenName: 'ZOE' },
        { surname: 'Çelik', givenName: 'Zoë' },
      ],
    ];
    for (const [travelled, member] of pairs)
      expect(check(travelled, member), travelled.surname).toEqual({ matches: true, reason: 'EXACT' });
  });

  it('accepts umlauts written either way a ticket or passport does (MÜLLER, MUELLER, MULLER)', () => {
    const member = { surname: 'MÜLLER', givenName: 'JÖRG' };
    expect(check({ surname: 'MUELLER', givenName: 'JOERG' }, member).matches).toBe(true);
    expect(check({ surname: 'MULLER', givenName: 'JORG' }, member).matches).toBe(true);
    expect(
      check({ surname: 'MÜLLER', givenName: 'JÖRG' }, { surname: 'MUELLER', givenName: 'JOERG' }).matches,
    ).toBe(true);
  });

  it('removes titles before or after the given name, glued or not', () => {
    const member = { surname: 'BROWN', givenName: 'ANNA' };
    for (const givenName of [
      'MRS ANNA',
      'ANNA MRS',
      'ANNAMRS',
      'ANNA MS',
      'ANNAMS',
      'ANNA MISS',
      'DR ANNA',
      'ANNADR',
      'PROF ANNA',
    ]) {
      expect(check({ surname: 'BROWN', givenName }, member), givenName).toEqual({
        matches: true,
        reason: 'EXACT',
      });
    }
    expect(
      check({ surname: 'BROWN', givenName: 'TOMMSTR' }, { surname: 'BROWN', givenName: 'TOM' }).matches,
    ).toBe(true);
  });

  it('gives the given name as written less the title words around it, and keeps a glued one', () => {
    for (const [given, name] of [
      ['ANNA MRS', 'ANNA'],
      ['Mrs. Anna', 'Anna'],
      ['DR JAN MARIA PROF', 'JAN MARIA'],
      ['ANNA', 'ANNA'],
      ['ANNAMRS', 'ANNAMRS'],
      ['ALEXANDR', 'ALEXANDR'],
      ['MR', null],
    ] as const)
      expect(givenNameLessTitles(given), given).toBe(name);
  });

  it('does not take a name that merely ends like a title for a glued one', () => {
    expect(
      check({ surname: 'JONES', givenName: 'WILLIAMS' }, { surname: 'JONES', givenName: 'WILLIAMS' }),
    ).toEqual({
      matches: true,
      reason: 'EXACT',
    });
    expect(
      check({ surname: 'PETROV', givenName: 'ALEXANDR' }, { surname: 'PETROV', givenName: 'ALEXANDR' }),
    ).toEqual({
      matches: true,
      reason: 'EXACT',
    });
  });

  it('matches on the surname alone when only a title or nothing is left of the given name', () => {
    const member = { surname: 'SMITH', givenName: 'JOHN' };
    expect(check({ surname: 'SMITH', givenName: 'MR' }, member)).toEqual({
      matches: true,
      reason: 'SURNAME_ONLY',
    });
    expect(check({ surname: 'SMITH' }, member)).toEqual({ matches: true, reason: 'SURNAME_ONLY' });
    expect(check({ surname: 'SMITH MR' }, member)).toEqual({ matches: true, reason: 'SURNAME_ONLY' });
  });

  it('matches a given name cut short of an initial only where the field was long enough to be cut', () => {
    // The boarding pass's 20-character SURNAME/GIVEN field is the tightest a name goes through.
    const member = { surname: 'VOLKONSKAYA', givenName: 'ALEXANDRA VLADIMIROVNA' };
    expect(check({ surname: 'VOLKONSKAYA', givenName: 'ALEXANDR' }, member)).toEqual({
      matches: true,
      reason: 'GIVEN_NAME_TRUNCATED',
    });
    expect(check({ surname: 'VOLKONSKAYA/ALEXANDR' }, member)).toEqual({
      matches: true,
      reason: 'GIVEN_NAME_TRUNCATED',
    });
    expect(check({ surname: 'VOLKONSKAYA', givenName: 'ALEXAND' }, member)).toEqual({
      matches: false,
      reason: 'GIVEN_NAME_MISMATCH',
    });
    // Spaces around the fields are not part of the name a system cut.
    expect(check({ surname: ' VOLKONSKAYA ', givenName: 'ALEXAND ' }, member).matches).toBe(false);
    expect(
      check({ surname: 'NOVIKOV', givenName: 'KONST' }, { surname: 'NOVIKOV', givenName: 'KONSTANTIN' }),
    ).toEqual({ matches: false, reason: 'GIVEN_NAME_MISMATCH' });
  });

  it('does not take a given name still followed by its title for a cut one, however long the field', () => {
    // A cut drops the tail first, and the title is the tail: ALEXANDR MR was never ALEXANDRA cut short.
    const alexandra = { surname: 'SHEVCHENKO', givenName: 'ALEXANDRA' };
    for (const givenName of ['ALEXANDR', 'ALEXANDR MR', 'ALEXANDRMR', 'MR ALEXANDR MR'])
      expect(check({ surname: 'SHEVCHENKO', givenName }, alexandra), givenName).toEqual({
        matches: false,
        reason: 'GIVEN_NAME_MISMATCH',
      });
    expect(
      check(
        { surname: 'IVANOVA', givenName: 'ALEXANDR MRS' },
        { surname: 'IVANOVA', givenName: 'ALEXANDRA' },
      ),
    ).toEqual({ matches: false, reason: 'GIVEN_NAME_MISMATCH' });
    const volkonskaya = { surname: 'VOLKONSKAYA', givenName: 'ALEXANDRA VLADIMIROVNA' };
    for (const givenName of ['ALEXANDR MRS', 'ALEXANDRMRS', 'ALEXANDR MS'])
      expect(check({ surname: 'VOLKONSKAYA', givenName }, volkonskaya), givenName).toEqual({
        matches: false,
        reason: 'GIVEN_NAME_MISMATCH',
      });
    // A title before the name says nothing of its end; the cut that ends the field still matches.
    expect(check({ surname: 'VOLKONSKAYA', givenName: 'MRS ALEXANDR' }, volkonskaya)).toEqual({
      matches: true,
      reason: 'GIVEN_NAME_TRUNCATED',
    });
    // A cut that happens to end in the letters of a title (ANDR of ANDREI) is read as written first.
    expect(
      check(
        { surname: 'KONSTANTINOPOLSKIY', givenName: 'ANDR' },
        { surname: 'KONSTANTINOPOLSKIY', givenName: 'ANDREI' },
      ),
    ).toEqual({ matches: true, reason: 'GIVEN_NAME_TRUNCATED' });
    // Whole names and initials keep their title, as before.
    expect(check({ surname: 'SHEVCHENKO', givenName: 'ALEXANDRA MRS' }, alexandra)).toEqual({
      matches: true,
      reason: 'EXACT',
    });
    expect(check({ surname: 'VOLKONSKAYA', givenName: 'ALEXANDRA V MRS' }, volkonskaya)).toEqual({
      matches: true,
      reason: 'GIVEN_NAME_INITIAL',
    });
    expect(check({ surname: 'VOLKONSKAYA', givenName: 'ALEXANDRA MRS' }, volkonskaya)).toEqual({
      matches: true,
      reason: 'EXTRA_GIVEN_NAMES',
    });
  });

  it('matches a given name cut to an initial at any length (NOVIKOV/K)', () => {
    const member = { surname: 'NOVIKOV', givenName: 'KONSTANTIN' };
    expect(check({ surname: 'NOVIKOV', givenName: 'K' }, member)).toEqual({
      matches: true,
      reason: 'GIVEN_NAME_INITIAL',
    });
    expect(check({ surname: 'NOVIKOV', givenName: 'K MR' }, member)).toEqual({
      matches: true,
      reason: 'GIVEN_NAME_INITIAL',
    });
  });

  it('matches a cut Cyrillic given name by the length it travelled at', () => {
    const member = {
      surname: 'KONSTANTINOPOLSKAIA',
      givenName: 'ALEKSANDRA',
      surnameLocal: 'Константинопольская',
      givenNameLocal: 'Александра',
    };
    expect(check({ surname: 'КОНСТАНТИНОПОЛЬСКАЯ', givenName: 'АЛЕКС' }, member)).toEqual({
      matches: true,
      reason: 'GIVEN_NAME_TRUNCATED',
    });
    expect(
      check(
        { surname: 'ИВАНОВА', givenName: 'АЛЕКСАНДР' },
        {
          surname: 'IVANOVA',
          givenName: 'ALEKSANDRA',
          surnameLocal: 'Иванова',
          givenNameLocal: 'Александра',
        },
      ),
    ).toEqual({ matches: false, reason: 'GIVEN_NAME_MISMATCH' });
  });

  it('matches a profile with a middle name against the first name alone, and the other way round', () => {
    expect(check({ surname: 'LEE', givenName: 'ANNA' }, { surname: 'LEE', givenName: 'ANNA MARIA' })).toEqual(
      {
        matches: true,
        reason: 'EXTRA_GIVEN_NAMES',
      },
    );
    expect(check({ surname: 'LEE', givenName: 'ANNA MARIA' }, { surname: 'LEE', givenName: 'ANNA' })).toEqual(
      {
        matches: true,
        reason: 'EXTRA_GIVEN_NAMES',
      },
    );
  });

  it('matches a middle name cut to its initial, and no further into it', () => {
    const member = { surname: 'LEE', givenName: 'ANNA MARIA' };
    expect(check({ surname: 'LEE', givenName: 'ANNA M' }, member)).toEqual({
      matches: true,
      reason: 'GIVEN_NAME_INITIAL',
    });
    expect(check({ surname: 'LEE', givenName: 'ANNA MA' }, member).matches).toBe(false);
    // An initial after the first name of a one-word given name is not a middle initial.
    expect(
      check({ surname: 'LEE', givenName: 'ANNA M' }, { surname: 'LEE', givenName: 'ANNAMARIA' }).matches,
    ).toBe(false);
  });

  it('matches a long surname cut to fit when the given name is already an initial', () => {
    const member = { surname: 'WOLFESCHLEGELSTEINHAUSEN', givenName: 'HUBERT' };
    expect(check({ surname: 'WOLFESCHLEGELSTEIN', givenName: 'H' }, member)).toEqual({
      matches: true,
      reason: 'SURNAME_TRUNCATED',
    });
    expect(check({ surname: 'WOLFESCHLEGELSTEIN' }, member)).toEqual({
      matches: true,
      reason: 'SURNAME_TRUNCATED',
    });
    expect(check({ surname: 'WOLFESCHLEGELSTEIN', givenName: 'K' }, member).matches).toBe(false);
  });
});

describe('Cyrillic names', () => {
  const transliterated: Array<[string, string[]]> = [
    ['ХАРИТОНОВ', ['KHARITONOV', 'HARITONOV']],
    ['ЦВЕТКОВА', ['TSVETKOVA', 'TZVETKOVA']],
    ['ЯКОВЛЕВ', ['IAKOVLEV', 'YAKOVLEV']],
    ['ЮЛИЯ', ['IULIIA', 'YULIYA', 'YULIIA']],
    ['ЁЛКИН', ['ELKIN', 'YOLKIN']],
    ['ФЁДОРОВ', ['FEDOROV', 'FYODOROV']],
    ['ОБЪЕДКОВ', ['OBIEEDKOV', 'OBEDKOV', 'OBYEDKOV']],
    ['ИЛЬИН', ['ILIN', 'ILYIN']],
    ['МАРИЯ', ['MARIIA', 'MARIYA', 'MARIA']],
    ['ЮЛИЯ', ['IULIIA', 'YULIYA', 'YULIA']],
    ['ФЕДОРОВ', ['FEDOROV', 'FYODOROV']],
    ['ПЕТР', ['PETR', 'PYOTR']],
    ['ДМИТРИЙ', ['DMITRII', 'DMITRIY', 'DMITRY', 'DMITRI']],
    ['БЕЛЫЙ', ['BELYI', 'BELYY', 'BELY']],
    ['ГОРСКИЙ', ['GORSKII', 'GORSKIY', 'GORSKY']],
    ['МАЙЯ', ['MAIIA', 'MAIYA', 'MAYYA']],
    ['АЛЕКСАНДР', ['ALEKSANDR', 'ALEXANDR']],
    ['ЕЛЕНА', ['ELENA', 'YELENA']],
    ['СЕРГЕЕВ', ['SERGEEV', 'SERGEYEV']],
    ['ЩЕРБАКОВ', ['SHCHERBAKOV']],
    ['ЖУКОВ', ['ZHUKOV']],
    ['ОЛЕКСІЙ', ['OLEKSII', 'OLEKSIY']],
    ['ЇЖАК', ['IZHAK', 'YIZHAK']],
  ];
  for (const [cyrillic, latins] of transliterated) {
    it(`${cyrillic} is ${latins.join(', ')}`, () => {
      for (const latin of latins) {
        expect(
          check({ surname: cyrillic, givenName: 'АННА' }, { surname: latin, givenName: 'ANNA' }),
          latin,
        ).toEqual({
          matches: true,
          reason: 'TRANSLITERATED',
        });
        expect(check({ surname: cyrillic }, { surname: latin, givenName: 'A' }), latin).toEqual({
          matches: true,
          reason: 'SURNAME_ONLY',
        });
      }
    });
  }

  it('does not stretch transliteration to a different name (АННА is not ANIA, ИВАНА is not IVAN)', () => {
    expect(
      check({ surname: 'ПЕТРОВА', givenName: 'АННА' }, { surname: 'PETROVA', givenName: 'ANIA' }).matches,
    ).toBe(false);
    expect(
      check({ surname: 'ИВАНОВ', givenName: 'ИВАНА' }, { surname: 'IVANOV', givenName: 'IVAN' }).matches,
    ).toBe(false);
    expect(
      check({ surname: 'ИВАНОВА', givenName: 'АННА' }, { surname: 'IVANOV', givenName: 'ANNA' }).matches,
    ).toBe(false);
    // Я reads A only after И (МАРИЯ → MARIA): ЯНА is YANA, never ANA.
    expect(
      check({ surname: 'ИВАНОВА', givenName: 'ЯНА' }, { surname: 'IVANOVA', givenName: 'ANA' }).matches,
    ).toBe(false);
  });

  it('says the match needed transliteration', () => {
    expect(
      check({ surname: 'ПЕТРОВА', givenName: 'АННА' }, { surname: 'PETROVA', givenName: 'ANNA' }),
    ).toEqual({
      matches: true,
      reason: 'TRANSLITERATED',
    });
  });

  it('matches a Latin ticket spelt by older rules through the profile’s Cyrillic name', () => {
    const member = {
      surname: 'FEDOROV',
      givenName: 'IURII',
      surnameLocal: 'Фёдоров',
      givenNameLocal: 'Юрий',
    };
    expect(check({ surname: 'FYODOROV', givenName: 'YURIY' }, member)).toEqual({
      matches: true,
      reason: 'TRANSLITERATED',
    });
    expect(check({ surname: 'FYODOROV', givenName: 'Y' }, member)).toEqual({
      matches: true,
      reason: 'GIVEN_NAME_INITIAL',
    });
  });

  it('compares Latin with Latin letter for letter when the profile has no Cyrillic name', () => {
    expect(
      check({ surname: 'FYODOROV', givenName: 'YURIY' }, { surname: 'FEDOROV', givenName: 'IURII' }),
    ).toEqual({
      matches: false,
      reason: 'SURNAME_MISMATCH',
    });
  });

  it('matches Cyrillic with Cyrillic, Ё and Е alike', () => {
    const member = {
      surname: 'FEDOROVA',
      givenName: 'ALENA',
      surnameLocal: 'ФЁДОРОВА',
      givenNameLocal: 'АЛЁНА',
    };
    expect(check({ surname: 'ФЕДОРОВА', givenName: 'АЛЕНА' }, member).matches).toBe(true);
  });

  it('reads a name in lower case or with Latin look-alike letters typed in', () => {
    expect(
      check({ surname: 'смирнов', givenName: 'андрей' }, { surname: 'SMIRNOV', givenName: 'ANDREY' }).matches,
    ).toBe(true);
    // A Latin O and A inside Cyrillic words, as a keyboard switched mid-word produces.
    expect(
      check(
        { surname: 'СМИРН\u004FВ', givenName: '\u0041НДРЕЙ' },
        { surname: 'SMIRNOV', givenName: 'ANDREI' },
      ).matches,
    ).toBe(true);
  });
});

describe('normaliseName', () => {
  it('gives the ICAO comparison key of a name', () => {
    expect(normaliseName('Smith-Jones')).toBe('SMITHJONES');
    expect(normaliseName("O'Brien")).toBe('OBRIEN');
    expect(normaliseName('Фёдоров')).toBe('FEDOROV');
    expect(normaliseName('Дмитрий')).toBe('DMITRII');
    expect(normaliseName('Александр')).toBe('ALEKSANDR');
    expect(normaliseName('ЩУКИНА-ЮРЬЕВА')).toBe('SHCHUKINAIUREVA');
    expect(normaliseName('Müller')).toBe('MUELLER');
    expect(normaliseName('Łukasz Żółć')).toBe('LUKASZZOLC');
    expect(normaliseName('  ')).toBe('');
  });
});

// Russian letters and the spellings an older system may have used for each, one letter at a time.
const OLDER_SPELLINGS: Record<string, string[]> = {
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
};
const RUSSIAN = Object.keys(OLDER_SPELLINGS);
const FIRST_LETTERS = RUSSIAN.filter((letter) => !'ЪЬЫЙ'.includes(letter));

/** A Cyrillic word with at most 7 letters that have more than one spelling, as real names have. */
const cyrillicWord = fc
  .tuple(
    fc.constantFrom(...FIRST_LETTERS),
    fc.array(fc.constantFrom(...RUSSIAN), { minLength: 1, maxLength: 11 }),
  )
  .map(([first, rest]) => first + rest.join(''))
  .filter(
    (word) =>
      [...word].filter((letter) => OLDER_SPELLINGS[letter]!.length > 1 || 'ЕК'.includes(letter)).length <= 7,
  );

/** The word spelt letter by letter, each letter by one of the spellings chosen by `pick`. */
function spell(word: string, pick: number[]): string {
  return [...word]
    .map((letter, i) => {
      const options = OLDER_SPELLINGS[letter]!;
      return options[(pick[i] ?? 0) % options.length];
    })
    .join('');
}

describe('properties', () => {
  it('matches any Cyrillic name to its own ICAO transliteration', () => {
    fc.assert(
      fc.property(cyrillicWord, cyrillicWord, (surname, givenName) => {
        const member = { surname: normaliseName(surname), givenName: normaliseName(givenName) };
        expect(check({ surname, givenName }, member).matches).toBe(true);
      }),
    );
  });

  it('matches any Cyrillic name to a Latin spelling by the older rules, either way round', () => {
    fc.assert(
      fc.property(
        cyrillicWord,
        cyrillicWord,
        fc.array(fc.nat(1), { maxLength: 12 }),
        (surname, givenName, pick) => {
          const latin = { surname: spell(surname, pick), givenName: spell(givenName, pick) };
          fc.pre(latin.surname.length > 0 && latin.givenName.length > 0);
          expect(check({ surname, givenName }, latin).matches).toBe(true);
          const member = {
            surname: normaliseName(surname),
            givenName: normaliseName(givenName),
            surnameLocal: surname,
            givenNameLocal: givenName,
          };
          expect(check(latin, member).matches).toBe(true);
        },
      ),
    );
  });

  const latinWord = fc.stringMatching(/^[A-Z]{2,14}$/);

  it('never matches a surname with one letter changed', () => {
    fc.assert(
      fc.property(
        latinWord,
        latinWord,
        fc.nat(),
        fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ'),
        (surname, givenName, at, letter) => {
          const index = at % surname.length;
          fc.pre(surname[index] !== letter);
          const changed = surname.slice(0, index) + letter + surname.slice(index + 1);
          expect(check({ surname: changed, givenName }, { surname, givenName })).toEqual({
            matches: false,
            reason: 'SURNAME_MISMATCH',
          });
        },
      ),
    );
  });

  /** The tightest field a name goes through: the boarding pass's SURNAME/GIVEN in 20 characters. */
  const CUT_FIELD = 20;

  it('matches a given name cut anywhere in a field long enough to have been cut', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Z]{2,18}$/),
        fc.stringMatching(/^[A-Z]{2,20}$/),
        fc.nat(),
        (surname, givenName, cut) => {
          const shortest = Math.max(1, CUT_FIELD - surname.length - 1);
          fc.pre(shortest <= givenName.length);
          const kept = givenName.slice(0, shortest + (cut % (givenName.length - shortest + 1)));
          expect(check({ surname, givenName: kept }, { surname, givenName }).matches).toBe(true);
        },
      ),
    );
  });

  it('never matches a given name cut short of an initial in a field too short to have been cut', () => {
    fc.assert(
      fc.property(latinWord, latinWord, fc.nat(), (surname, givenName, cut) => {
        const longest = Math.min(givenName.length - 1, CUT_FIELD - surname.length - 2);
        fc.pre(longest >= 2);
        const kept = givenName.slice(0, 2 + (cut % (longest - 1)));
        // What is kept may read as a title (MR of MRIDULA), which leaves only the surname to match.
        fc.pre(check({ surname, givenName: kept }, { surname, givenName: 'Q' }).reason !== 'SURNAME_ONLY');
        // Or as an initial with a title glued on (AMR of AMRITA: A, MR), which is a cut to an initial.
        fc.pre(check({ surname, givenName: kept }, { surname, givenName: kept[0]! }).reason !== 'EXACT');
        expect(check({ surname, givenName: kept }, { surname, givenName })).toEqual({
          matches: false,
          reason: 'GIVEN_NAME_MISMATCH',
        });
      }),
    );
  });

  it('matches a given name cut to its initial at any length', () => {
    fc.assert(
      fc.property(latinWord, latinWord, (surname, givenName) => {
        expect(check({ surname, givenName: givenName[0] }, { surname, givenName })).toEqual({
          matches: true,
          reason: 'GIVEN_NAME_INITIAL',
        });
      }),
    );
  });
});
