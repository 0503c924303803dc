/**
 * People for the demo: Russian members with their names in Cyrillic and in the Latin of their travel
 * documents, and German, Spanish, French, Italian and English members and partner-program passengers.
 *
 * Latin spellings of Russian names follow ICAO Doc 9303 (the table current Russian passports use, and
 * the first alternative rules/names.ts tries); a share of members carry the older spellings still found
 * in passports issued before 2013 (YURY, NATALYA), which the name check forgives because their profile
 * also holds the Cyrillic.
 */
import type { Random } from './random.js';

export type Gender = 'M' | 'F';

// Male forms; feminineSurname() derives the female one the way Russian grammar does.
const RU_SURNAMES = [
  'Иванов',
  'Смирнов',
  'Кузнецов',
  'Попов',
  'Васильев',
  'Петров',
  'Соколов',
  'Михайлов',
  'Новиков',
  'Фёдоров',
  'Морозов',
  'Волков',
  'Алексеев',
  'Лебедев',
  'Семёнов',
  'Егоров',
  'Павлов',
  'Козлов',
  'Степанов',
  'Николаев',
  'Орлов',
  'Андреев',
  'Макаров',
  'Никитин',
  'Захаров',
  'Зайцев',
  'Соловьёв',
  'Борисов',
  'Яковлев',
  'Григорьев',
  'Романов',
  'Воробьёв',
  'Сергеев',
  'Кузьмин',
  'Фролов',
  'Александров',
  'Дмитриев',
  'Королёв',
  'Гусев',
  'Киселёв',
  'Ильин',
  'Максимов',
  'Поляков',
  'Сорокин',
  'Виноградов',
  'Ковалёв',
  'Белов',
  'Медведев',
  'Антонов',
  'Тарасов',
  'Жуков',
  'Баранов',
  'Филиппов',
  'Комаров',
  'Давыдов',
  'Беляев',
  'Герасимов',
  'Богданов',
  'Осипов',
  'Сидоров',
  'Матвеев',
  'Титов',
  'Марков',
  'Миронов',
  'Крылов',
  'Куликов',
  'Карпов',
  'Власов',
  'Мельников',
  'Денисов',
  'Гаврилов',
  'Тихонов',
  'Казаков',
  'Афанасьев',
  'Данилов',
  'Савельев',
  'Тимофеев',
  'Фомин',
  'Чернов',
  'Абрамов',
  'Мартынов',
  'Ефимов',
  'Федотов',
  'Щербаков',
  'Назаров',
  'Калинин',
  'Исаев',
  'Чернышёв',
  'Быков',
  'Маслов',
  'Родионов',
  'Коновалов',
  'Лазарев',
  'Воронин',
  'Климов',
  'Филатов',
  'Пономарёв',
  'Голубев',
  'Кудрявцев',
  'Прохоров',
  'Наумов',
  'Потапов',
  'Журавлёв',
  'Овчинников',
  'Трофимов',
  'Леонов',
  'Соболев',
  'Ермаков',
  'Колесников',
  'Гончаров',
  'Емельянов',
  'Никифоров',
  'Грачёв',
  'Котов',
  'Гришин',
  'Ефремов',
  'Архипов',
  'Громов',
  'Кириллов',
  'Малышев',
  'Панов',
  'Моисеев',
  'Румянцев',
  'Акимов',
  'Кондратьев',
  'Бирюков',
  'Горбунов',
  'Анисимов',
  'Ерёмин',
  'Тихомиров',
  'Галкин',
  'Лукьянов',
  'Михеев',
  'Скворцов',
  'Юдин',
  'Белоусов',
  'Нестеров',
  'Симонов',
  'Прокофьев',
  'Харитонов',
  'Князев',
  'Цветков',
  'Левин',
  'Митрофанов',
  'Воронов',
  'Аксёнов',
  'Софронов',
  'Мальцев',
  'Логинов',
  'Горшков',
  'Савин',
  'Краснов',
  'Майоров',
  'Демидов',
  'Елисеев',
  'Рыбаков',
  'Сафонов',
  'Плотников',
  'Демин',
  'Хохлов',
  'Жданов',
  'Руденко',
  'Шевчук',
  'Бондаренко',
  'Черных',
  'Седых',
  'Мамонтов',
  'Ковальский',
  'Вишневский',
  'Островский',
  'Покровский',
  'Успенский',
  'Троицкий',
  'Жуковский',
  'Шапиро',
  'Цой',
  'Ким',
  'Гаджиев',
  'Алиев',
  'Абдуллаев',
  'Хабибуллин',
  'Сафин',
  'Галиев',
  'Шарипов',
  'Юсупов',
  'Гарипов',
  'Ахметов',
  'Нуриев',
];

const RU_MALE = [
  'Александр',
  'Алексей',
  'Андрей',
  'Антон',
  'Артём',
  'Борис',
  'Вадим',
  'Валерий',
  'Василий',
  'Виктор',
  'Виталий',
  'Владимир',
  'Владислав',
  'Вячеслав',
  'Георгий',
  'Григорий',
  'Даниил',
  'Денис',
  'Дмитрий',
  'Евгений',
  'Егор',
  'Иван',
  'Игорь',
  'Илья',
  'Кирилл',
  'Константин',
  'Леонид',
  'Максим',
  'Михаил',
  'Никита',
  'Николай',
  'Олег',
  'Павел',
  'Пётр',
  'Роман',
  'Руслан',
  'Сергей',
  'Станислав',
  'Степан',
  'Тимур',
  'Фёдор',
  'Юрий',
  'Ярослав',
  'Марат',
  'Рустам',
  'Арсений',
  'Матвей',
  'Глеб',
  'Семён',
];

const RU_FEMALE = [
  'Александра',
  'Алина',
  'Алла',
  'Анастасия',
  'Анна',
  'Валентина',
  'Валерия',
  'Вера',
  'Виктория',
  'Галина',
  'Дарья',
  'Диана',
  'Евгения',
  'Екатерина',
  'Елена',
  'Елизавета',
  'Жанна',
  'Зоя',
  'Инна',
  'Ирина',
  'Карина',
  'Кристина',
  'Ксения',
  'Лариса',
  'Лидия',
  'Любовь',
  'Людмила',
  'Маргарита',
  'Марина',
  'Мария',
  'Надежда',
  'Наталья',
  'Нина',
  'Оксана',
  'Ольга',
  'Полина',
  'Светлана',
  'София',
  'Тамара',
  'Татьяна',
  'Ульяна',
  'Юлия',
  'Яна',
  'Алёна',
  'Эльвира',
  'Регина',
  'Василиса',
  'Таисия',
  'Милана',
];

/** Latin names by origin: [surname list, male given names, female given names, country, language]. */
const WESTERN: Record<
  'DE' | 'ES' | 'FR' | 'IT' | 'GB',
  { surnames: string[]; male: string[]; female: string[]; language: string }
> = {
  DE: {
    surnames: [
      'Schmidt',
      'Schneider',
      'Fischer',
      'Weber',
      'Meyer',
      'Wagner',
      'Becker',
      'Schulz',
      'Hoffmann',
      'Koch',
      'Bauer',
      'Richter',
      'Klein',
      'Wolf',
      'Schroeder',
      'Neumann',
      'Schwarz',
      'Zimmermann',
      'Braun',
      'Krueger',
      'Hofmann',
      'Hartmann',
      'Lange',
      'Schmitt',
      'Werner',
      'Krause',
      'Lehmann',
    ],
    male: [
      'Thomas',
      'Michael',
      'Andreas',
      'Stefan',
      'Frank',
      'Juergen',
      'Klaus',
      'Markus',
      'Tobias',
      'Lukas',
      'Jan',
      'Felix',
    ],
    female: [
      'Sabine',
      'Petra',
      'Claudia',
      'Andrea',
      'Julia',
      'Katrin',
      'Anna',
      'Lena',
      'Laura',
      'Sarah',
      'Miriam',
    ],
    language: 'de',
  },
  ES: {
    surnames: [
      'García',
      'Fernández',
      'González',
      'Rodríguez',
      'López',
      'Martínez',
      'Sánchez',
      'Pérez',
      'Gómez',
      'Martín',
      'Jiménez',
      'Ruiz',
      'Hernández',
      'Díaz',
      'Moreno',
      'Álvarez',
      'Romero',
      'Navarro',
      'Torres',
    ],
    male: [
      'Antonio',
      'José',
      'Manuel',
      'Francisco',
      'David',
      'Javier',
      'Carlos',
      'Miguel',
      'Pablo',
      'Sergio',
      'Luis',
    ],
    female: ['María', 'Carmen', 'Ana', 'Laura', 'Marta', 'Lucía', 'Elena', 'Cristina', 'Isabel', 'Paula'],
    language: 'es',
  },
  FR: {
    surnames: [
      'Martin',
      'Bernard',
      'Dubois',
      'Thomas',
      'Robert',
      'Richard',
      'Petit',
      'Durand',
      'Leroy',
      'Moreau',
      'Simon',
      'Laurent',
      'Lefebvre',
    ],
    male: ['Jean', 'Pierre', 'Nicolas', 'Julien', 'Antoine', 'Louis', 'Hugo', 'Philippe'],
    female: ['Marie', 'Camille', 'Sophie', 'Claire', 'Julie', 'Chloe', 'Isabelle'],
    language: 'fr',
  },
  IT: {
    surnames: [
      'Rossi',
      'Russo',
      'Ferrari',
      'Esposito',
      'Bianchi',
      'Romano',
      'Colombo',
      'Ricci',
      'Marino',
      'Greco',
      'Bruno',
      'Gallo',
    ],
    male: ['Marco', 'Luca', 'Giuseppe', 'Andrea', 'Francesco', 'Alessandro', 'Matteo', 'Giovanni'],
    female: ['Giulia', 'Francesca', 'Chiara', 'Sara', 'Valentina', 'Alessia', 'Elisa'],
    language: 'it',
  },
  GB: {
    surnames: [
      'Smith',
      'Jones',
      'Taylor',
      'Brown',
      'Williams',
      'Wilson',
      'Johnson',
      'Davies',
      'Robinson',
      'Wright',
      'Thompson',
      "O'Brien",
      'Walker',
    ],
    male: ['James', 'John', 'David', 'Richard', 'Oliver', 'George', 'Harry', 'Daniel'],
    female: ['Emma', 'Olivia', 'Sophie', 'Charlotte', 'Emily', 'Amelia', 'Jessica'],
    language: 'en',
  },
};

export type WesternOrigin = keyof typeof WESTERN;

// ICAO Doc 9303 part 3, first alternative (what current Russian passports print).
const ICAO: Record<string, string> = {
  А: 'A',
  Б: 'B',
  В: 'V',
  Г: 'G',
  Д: 'D',
  Е: 'E',
  Ё: 'E',
  Ж: 'ZH',
  З: 'Z',
  И: 'I',
  Й: 'I',
  К: 'K',
  Л: 'L',
  М: 'M',
  Н: 'N',
  О: 'O',
  П: 'P',
  Р: 'R',
  С: 'S',
  Т: 'T',
  У: 'U',
  Ф: 'F',
  Х: 'KH',
  Ц: 'TS',
  Ч: 'CH',
  Ш: 'SH',
  Щ: 'SHCH',
  Ъ: 'IE',
  Ы: 'Y',
  Ь: '',
  Э: 'E',
  Ю: 'IU',
  Я: 'IA',
};
// The pre-2013 passport spellings that loyalty profiles and old tickets still carry.
const OLDER: Record<string, string> = { ...ICAO, Й: 'Y', Ю: 'YU', Я: 'YA', Ъ: '', Ё: 'YO' };

// A few hundred names repeat across hundreds of thousands of passengers: spell each once.
const spelled = new Map<string, string>();

export function transliterate(cyrillic: string, older = false): string {
  const key = older ? `1${cyrillic}` : `0${cyrillic}`;
  let out = spelled.get(key);
  if (out === undefined) {
    const table = older ? OLDER : ICAO;
    out = '';
    for (const ch of cyrillic.toUpperCase()) out += table[ch] ?? ch;
    spelled.set(key, out);
  }
  return out;
}

export function feminineSurname(male: string): string {
  if (/(ов|ев|ёв|ин|ын)$/.test(male)) return `${male}а`;
  if (/ский$/.test(male)) return male.replace(/ский$/, 'ская');
  if (/цкий$/.test(male)) return male.replace(/цкий$/, 'цкая');
  // -енко, -ук, -их, Korean and Jewish surnames: the same for both.
  return male;
}

/** A person as the master record and the documents know them. */
export interface Person {
  gender: Gender;
  /** Latin as on the travel document, capitalised the way CRM stores it (`Ivanova`, `García`). */
  surname: string;
  givenName: string;
  /** Cyrillic, when the person is Russian and the profile holds it. */
  surnameLocal: string | null;
  givenNameLocal: string | null;
  country: string;
  language: string;
  /** Russian surnames: the masculine Cyrillic form, shared by a family. */
  family?: string;
}

const capitalised = new Map<string, string>();

function capitalise(upper: string): string {
  let out = capitalised.get(upper);
  if (out === undefined) {
    out = upper
      .toLowerCase()
      .replace(/(^|[\s'-])(\p{L})/gu, (_, sep: string, letter: string) => sep + letter.toUpperCase());
    capitalised.set(upper, out);
  }
  return out;
}

export function russianPerson(
  random: Random,
  options: { withLocal: boolean; olderSpelling?: boolean; family?: string },
): Person {
  const gender: Gender = random.chance(0.52) ? 'M' : 'F';
  const male = options.family ?? random.pick(RU_SURNAMES);
  const surnameLocal = gender === 'M' ? male : feminineSurname(male);
  const givenNameLocal = random.pick(gender === 'M' ? RU_MALE : RU_FEMALE);
  const older = options.olderSpelling ?? false;
  return {
    gender,
    surname: capitalise(transliterate(surnameLocal, older)),
    givenName: capitalise(transliterate(givenNameLocal, older)),
    surnameLocal: options.withLocal ? surnameLocal : null,
    givenNameLocal: options.withLocal ? givenNameLocal : null,
    country: 'RU',
    language: 'ru',
    family: male,
  };
}

export function westernPerson(random: Random, origin: WesternOrigin): Person {
  const names = WESTERN[origin];
  const gender: Gender = random.chance(0.5) ? 'M' : 'F';
  return {
    gender,
    surname: random.pick(names.surnames),
    givenName: random.pick(gender === 'M' ? names.male : names.female),
    surnameLocal: null,
    givenNameLocal: null,
    country: origin,
    language: names.language,
  };
}

/**
 * A name as a ticket or a departure control system prints it: capitals, no accents, letters, spaces
 * and hyphens only (`GARCIA`, `OBRIEN`).
 */
const documentNames = new Map<string, string>();

export function documentName(name: string): string {
  let out = documentNames.get(name);
  if (out === undefined) {
    out = name
      .normalize('NFD')
      .replace(/\p{M}/gu, '')
      .toUpperCase()
      .replace(/[^A-Z\u0400-\u04FF -]/g, '')
      .trim();
    if (documentNames.size < 100_000) documentNames.set(name, out);
  }
  return out;
}

const MAIL_DOMAINS_RU = ['mail.ru', 'yandex.ru', 'gmail.com', 'inbox.ru', 'bk.ru', 'list.ru', 'rambler.ru'];
const MAIL_DOMAINS_WEST: Record<WesternOrigin, string[]> = {
  DE: ['gmx.de', 'web.de', 'gmail.com', 't-online.de'],
  ES: ['gmail.com', 'hotmail.es', 'yahoo.es', 'telefonica.net'],
  FR: ['gmail.com', 'orange.fr', 'free.fr'],
  IT: ['gmail.com', 'libero.it', 'virgilio.it'],
  GB: ['gmail.com', 'outlook.com', 'btinternet.com'],
};

export function emailFor(random: Random, person: Person, corporateDomain?: string): string {
  const local = documentName(`${person.givenName}.${person.surname}`)
    .toLowerCase()
    .replace(/[^a-z.]/g, '');
  const domain =
    corporateDomain ??
    (person.country === 'RU'
      ? random.pick(MAIL_DOMAINS_RU)
      : random.pick(MAIL_DOMAINS_WEST[person.country as WesternOrigin] ?? ['gmail.com']));
  const suffix = corporateDomain || random.chance(0.4) ? '' : String(random.range(1, 999));
  return `${local}${suffix}@${domain}`;
}

export function phoneFor(random: Random, country: string): string {
  switch (country) {
    case 'RU':
      return `+7 9${random.digits(2)} ${random.digits(3)}-${random.digits(2)}-${random.digits(2)}`;
    case 'DE':
      return `+49 15${random.digits(1)} ${random.digits(7)}`;
    case 'ES':
      return `+34 6${random.digits(2)} ${random.digits(3)} ${random.digits(3)}`;
    case 'FR':
      return `+33 6 ${random.digits(2)} ${random.digits(2)} ${random.digits(2)} ${random.digits(2)}`;
    case 'IT':
      return `+39 3${random.digits(2)} ${random.digits(7)}`;
    default:
      return `+44 7${random.digits(3)} ${random.digits(6)}`;
  }
}
