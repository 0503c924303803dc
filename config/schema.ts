/**
 * The configuration schema: one YAML file describes the program (codes, currency, value per point),
 * its rules (earning, tiers, expiry, partners — each versioned by effective date), the feeds and where
 * they come from, the exports, mail and schedules. Secrets never live here: the file names the
 * environment variables that hold them.
 */
import cron from 'node-cron';
import iconv from 'iconv-lite';
import { z } from 'zod';
import { isxmlTextProblem, type IsxmlTextElement } from '../exporters/isxml.js';
import { ALLIANCE_TIER_MAX } from '../parsers/alliance.js';
import { addDays, isIsoDate } from '../lib/dates.js';
import { LOG_LEVELS } from '../lib/log.js';
import { ACTIVITY_TYPE_RE } from '../parsers/partner.js';
import { MAX_INTEGER_COLUMN } from '../parsers/types.js';
import { didYouMean, isTimeZone, timeZoneProblem } from './suggest.js';

const isoDate = z.string().refine(isIsoDate, { message: 'expected a date YYYY-MM-DD' });
/** YAML turns unquoted dates into Date objects; accept those and keep the calendar date. */
const dateField = z.preprocess((v) => (v instanceof Date ? v.toISOString().slice(0, 10) : v), isoDate);

/** Exact decimals are written as strings or plain numbers in YAML; they are kept as strings from here on. */
const decimal = z
  .union([z.string(), z.number()])
  .transform((v) => String(v).trim())
  .refine((v) => /^-?\d+(\.\d+)?$/.test(v), { message: 'expected a decimal number such as 0.0125' });
const nonNegativeDecimal = decimal.refine((v) => !v.startsWith('-'), {
  message: 'expected a non-negative decimal',
});

const currency = z.string().regex(/^[A-Z]{3}$/, 'expected an ISO 4217 currency code such as USD');
const code = (what: string) =>
  z.string().regex(/^[A-Z0-9][A-Z0-9_-]{0,31}$/, `expected ${what}: capitals, digits, _ or -`);
const airlineCode = z.string().regex(/^[A-Z0-9]{2,3}$/, 'expected a 2–3 character airline or program code');
const airportCode = z.string().regex(/^[A-Z]{3}$/, 'expected a 3-letter IATA airport code');
const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'expected the NAME of an environment variable');
const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();
/** Multipliers such as earn rates and tier bonuses: plain numbers, applied then rounded down to whole points. */
const factor = z.number().nonnegative();

const regexString = z.string().refine(
  (v) => {
    try {
      new RegExp(v);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'expected a valid regular expression' },
);

/** An IANA time zone the runtime knows: an unknown one would fail a night at its first date, not here. */
const timeZone = z.string().superRefine((v, ctx) => {
  if (!isTimeZone(v)) ctx.addIssue({ code: 'custom', message: timeZoneProblem(v) });
});

/** A cron expression as node-cron reads it (5 fields, or 6 with seconds first). */
const cronExpression = z.string().superRefine((v, ctx) => {
  if (cron.validate(v)) return;
  const why = cron.validateDetailed(v).errors[0]?.message;
  ctx.addIssue({
    code: 'custom',
    message: `not a cron expression: ${JSON.stringify(v)}${why ? ` (${why})` : ''}; expected e.g. "30 2 * * *"`,
  });
});

/**
 * Why `value` cannot be kept in `column`, a varchar of `max` characters, or undefined. PostgreSQL refuses
 * a longer value (22001), and with it the whole step of the night that writes it, naming no setting;
 * SQLite stores it whole, so the engines would part ways. A configured name that long would fail every
 * night that uses it, so it is refused at load. Counted in characters, as PostgreSQL counts them (an
 * emoji is one, where `String.length` counts two).
 */
function columnProblem(column: string, max: number, value: string): string | undefined {
  const length = [...value].length;
  return length > max ? `at most ${max} characters, stored in ${column} (this has ${length})` : undefined;
}

/** A refinement that refuses a value with the problem `problemOf` finds in it, if any. */
const refusing =
  <T>(problemOf: (value: T) => string | undefined) =>
  (value: T, ctx: z.RefinementCtx<T>): void => {
    const problem = problemOf(value);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  };

/** Text the night writes into `column`, a varchar of `max` characters (see `columnProblem`). */
const fitsColumn = (column: string, max: number) =>
  refusing((value: string) => columnProblem(column, max, value));

/** The keys of a map keyed by names the night writes into `column`, each refused at its own line. */
const keysFitColumn =
  (column: string, max: number, otherProblem?: (key: string) => string | undefined) =>
  (record: Record<string, unknown>, ctx: z.RefinementCtx<Record<string, unknown>>): void => {
    for (const key of Object.keys(record)) {
      const problem = columnProblem(column, max, key) ?? otherProblem?.(key);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: problem });
    }
  };

/**
 * An air earning version's, a partner contract's or a partner airline chart's id: kept as the rule
 * version of every activity and posting it decided.
 */
const RULE_VERSION = ['postings.rule_version', 'activities.rule_version'];
const ruleVersionId = (...also: string[]) =>
  z
    .string()
    .min(1)
    .superRefine(fitsColumn([...RULE_VERSION, ...also].join(' and '), 64));

/**
 * A cap of points one activity can be credited: activities.points is an integer column, so a cap past it
 * caps nothing (accrue refuses an activity earning more, BAD_AMOUNT).
 */
const pointsCap = positiveInt.max(MAX_INTEGER_COLUMN, {
  error: `at most ${MAX_INTEGER_COLUMN}, as activities.points holds`,
});

/** A price per point, kept as its decimal text on every invoice line billed at it. */
const pricePerPoint = nonNegativeDecimal.superRefine(fitsColumn('invoice_lines.price_per_point', 32));

// ---------------------------------------------------------------------------------------------- program

const memberNumberRule = z.strictObject({
  pattern: regexString.default('^[0-9]{10}$'),
  checkDigit: z.enum(['luhn', 'mod7', 'none']).default('luhn'),
});

const program = z.strictObject({
  code: airlineCode,
  name: z.string().min(1),
  /** Carrier designators whose flights are this program's own (operating or marketing). */
  carriers: z.array(airlineCode).min(1).optional(),
  baseCurrency: currency,
  /** Liability valuation: base-currency value of one point. */
  valuePerPoint: nonNegativeDecimal,
  memberNumber: memberNumberRule.default({ pattern: '^[0-9]{10}$', checkDigit: 'luhn' }),
  timeZone: timeZone.default('UTC'),
});

// ---------------------------------------------------------------------------------------------- database

/** The forms of `database.url` (and REDEYE_DATABASE_URL) that `openDb` opens, as errors state them. */
const DATABASE_URL_FORMS =
  'sqlite:<path> (or a plain file path) or postgres://user:password@host:port/database (postgresql:// too)';

/**
 * What is wrong with a database URL, or undefined when `openDb` can open it. Anything else than a
 * PostgreSQL URL used to be taken for a SQLite path: `mysql://localhost/x` made a database in a folder
 * named `mysql:`. A scheme is letters, digits, `+`, `-` or `.` before `://`; a plain path may hold a
 * colon anywhere (`C:\\redeye\\x.sqlite`, `data:2026.sqlite`), and `sqlite:` takes any path.
 */
export function databaseUrlProblem(url: string): string | undefined {
  if (url.trim() === '') return `is empty: expected ${DATABASE_URL_FORMS}`;
  if (/^postgres(ql)?:\/\//.test(url)) {
    if (URL.canParse(url)) return undefined;
    return `is not a valid PostgreSQL URL (check the host and port; @, / and : in a password are written %40, %2F and %3A): expected ${DATABASE_URL_FORMS}`;
  }
  if (url.startsWith('sqlite:')) return undefined;
  if (/^sqlite:/i.test(url))
    return `is not one Redeye reads (write the scheme sqlite: in lower case): expected ${DATABASE_URL_FORMS}`;
  if (/^postgres(ql)?:/i.test(url))
    return `is not one Redeye reads (a PostgreSQL URL begins with postgres://, in lower case): expected ${DATABASE_URL_FORMS}`;
  // Another scheme is one followed by `//` (mysql://…): a plain path may hold a colon (a Windows drive
  // C:\…, a file name data:2026.sqlite).
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url)?.[1];
  if (scheme === undefined) return undefined;
  return `uses the scheme "${scheme}:", which Redeye does not support: expected ${DATABASE_URL_FORMS}`;
}

const database = z
  .strictObject({
    /** `sqlite:./var/redeye.sqlite` (default) or `postgres://…`; REDEYE_DATABASE_URL overrides. */
    url: z
      .string()
      .superRefine((url, ctx) => {
        const problem = databaseUrlProblem(url);
        if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `the database URL ${problem}` });
      })
      .default('sqlite:./var/redeye.sqlite'),
    busyTimeoutMs: nonNegativeInt.default(10_000),
    /** PostgreSQL pool size. */
    poolMax: positiveInt.default(4),
  })
  .default({ url: 'sqlite:./var/redeye.sqlite', busyTimeoutMs: 10_000, poolMax: 4 });

/**
 * The folders Redeye writes: `var` holds the others unless they are named (landing, outbox, reports
 * default to `<var>/landing`, `<var>/outbox`, `<var>/reports`). Relative paths are resolved against the
 * configuration file's folder by the loader.
 */
const paths = z
  .strictObject({
    var: z.string().default('./var'),
    landing: z.string().optional(),
    outbox: z.string().optional(),
    reports: z.string().optional(),
  })
  .default({ var: './var' })
  .transform((p) => ({
    var: p.var,
    landing: p.landing ?? `${p.var}/landing`,
    outbox: p.outbox ?? `${p.var}/outbox`,
    reports: p.reports ?? `${p.var}/reports`,
  }));

// ---------------------------------------------------------------------------------------------- earning

const tierFactors = z.record(z.string(), factor).default({});

const promotion = z
  .strictObject({
    id: code('a promotion id'),
    from: dateField,
    to: dateField,
    /** `DME-LED` (either direction), `DME-*`, `*-AER`; empty means every route. */
    routes: z
      .array(z.string().regex(/^([A-Z]{3}|\*)-([A-Z]{3}|\*)$/, 'expected ORG-DST, e.g. DME-LED or *-AER'))
      .default([]),
    /** Booking classes (RBD letters); empty means every class. */
    classes: z.array(z.string().regex(/^[A-Z]$/)).default([]),
    /** Extra share of the base points (0.5 = +50%). */
    bonus: factor.default(0),
    /** Fixed points added per eligible flight. */
    points: nonNegativeInt.default(0),
  })
  .refine((p) => p.from <= p.to, {
    path: ['to'],
    message: 'to is before from: the promotion would apply on no date',
  });

const cityPair = z.strictObject({ from: airportCode, to: airportCode, miles: positiveInt });

/**
 * A list of versions each in force from its `effectiveFrom` (air earning, expiry, partner-airline
 * charts): two from one date would leave which one applies from it to their order in the file, the one
 * listed later silently replacing the other on every date (reruns of old nights too).
 */
function oneVersionPerDate(what: string) {
  return (versions: ReadonlyArray<{ effectiveFrom: string; id?: string }>, ctx: z.RefinementCtx): void =>
    versions.forEach((v, i) => {
      const other = versions.slice(0, i).find((w) => w.effectiveFrom === v.effectiveFrom);
      if (other)
        ctx.addIssue({
          code: 'custom',
          path: [i, 'effectiveFrom'],
          message:
            `another ${what}${other.id === undefined ? '' : ` (${other.id})`} is in force from ` +
            v.effectiveFrom,
        });
    });
}

/**
 * Air earning versions by id: a flight's award is recomputed under the version its posting names (its
 * coupon's classes correcting what the FTL credited), so two versions of one id would recompute a flight
 * credited under one with the other's rates.
 */
function oneAirVersionPerId(versions: ReadonlyArray<AirEarningVersion>, ctx: z.RefinementCtx): void {
  versions.forEach((v, i) => {
    const j = versions.slice(0, i).findIndex((w) => w.id === v.id);
    if (j >= 0)
      ctx.addIssue({
        code: 'custom',
        path: [i, 'id'],
        message:
          `${v.id} is already the id of the air earning version in force from ${versions[j]!.effectiveFrom} ` +
          `(earning.air[${j}]): a flight's award is recomputed when its coupon comes under the version its ` +
          'posting names, which would be that one; give each version an id of its own',
      });
  });
}

/**
 * A promotion is read from the version in force on the flight's date only: days of it before its version
 * begins, or from the next version on, would credit nothing, without a word. The operator lists it in
 * each version for the days that version covers.
 */
function promotionsWithinTheirVersion(
  versions: ReadonlyArray<AirEarningVersion>,
  ctx: z.RefinementCtx,
): void {
  const byDate = [...versions].sort((a, b) => a.effectiveFrom.localeCompare(b.effectiveFrom));
  versions.forEach((v, i) => {
    // A version sharing its date with another is refused on its own (oneVersionPerDate).
    const before = byDate.filter((w) => w.effectiveFrom < v.effectiveFrom).at(-1);
    const next = byDate.find((w) => w.effectiveFrom > v.effectiveFrom);
    v.promotions.forEach((p, j) => {
      if (p.from > p.to) return; // in force on no date, refused as such
      if (p.from < v.effectiveFrom)
        ctx.addIssue({
          code: 'custom',
          path: [i, 'promotions', j, 'from'],
          message:
            `promotion ${p.id} begins on ${p.from}, before ${v.id} is in force (from ${v.effectiveFrom}): ` +
            (before
              ? `flights until then are credited under ${before.id}, which applies only its own promotions; ` +
                `begin it on ${v.effectiveFrom} and list it in ${before.id} for the days before`
              : `no air earning version is in force before it; begin it on ${v.effectiveFrom}`),
        });
      if (next && p.to >= next.effectiveFrom) {
        const last = addDays(next.effectiveFrom, -1);
        ctx.addIssue({
          code: 'custom',
          path: [i, 'promotions', j, 'to'],
          message:
            `promotion ${p.id} runs to ${p.to}, past the last day of ${v.id} (${last}): ` +
            `flights from ${next.effectiveFrom} are credited under ${next.id}, which applies only its own ` +
            `promotions; end it on ${last} and list it in ${next.id} for the days after`,
        });
      }
    });
  });
}

const airEarningVersion = z
  .strictObject({
    id: ruleVersionId(),
    effectiveFrom: dateField,
    basis: z.enum(['distance', 'revenue']),
    /** Distance-based: which class sets the earn rate. */
    rateBy: z.enum(['booked', 'flown']).default('booked'),
    /** Earn rate per RBD letter (1.5 = 150% of the distance). A class missing from the table earns nothing. */
    classRates: z.record(z.string().regex(/^[A-Z]$/, 'expected a single RBD letter'), factor).default({}),
    minimumMiles: nonNegativeInt.default(0),
    cityPairs: z.array(cityPair).default([]),
    /** Revenue-based: points per unit of base currency spent on the listed components. */
    pointsPerUnit: nonNegativeDecimal.default('0'),
    revenueComponents: z.array(z.enum(['fare', 'surcharge', 'tax'])).default(['fare', 'surcharge']),
    tierBonus: tierFactors,
    promotions: z.array(promotion).default([]),
  })
  // Either basis earns nothing without its rate, and the night would not say why: every flight under a
  // revenue version without pointsPerUnit was credited 0 points, every one under a distance version
  // without class rates refused CLASS_NOT_ELIGIBLE.
  .superRefine((v, ctx) => {
    if (v.basis === 'revenue' && !/[1-9]/.test(v.pointsPerUnit))
      ctx.addIssue({
        code: 'custom',
        path: ['pointsPerUnit'],
        message: `a revenue-based version earns pointsPerUnit points per unit of base currency: set it above 0 (at ${v.pointsPerUnit}, every flight under ${v.id} would be credited 0 points)`,
      });
    if (v.basis === 'distance' && !Object.values(v.classRates).some((rate) => rate > 0))
      ctx.addIssue({
        code: 'custom',
        path: ['classRates'],
        message: `a distance-based version earns by class: give at least one class a rate above 0 (with none, every flight under ${v.id} would be refused CLASS_NOT_ELIGIBLE)`,
      });
  });

/** What a flight contributes to status, in the metric of the tier rules in force on its date. */
const statusEarningRule = {
  /** Spend components that count (the demo: base fare plus taxes). */
  spendComponents: z.array(z.enum(['fare', 'surcharge', 'tax'])).default(['fare', 'tax']),
  /** Whether partner-airline flights count towards status. */
  partnerAirlines: z.boolean().default(true),
};
const statusEarningPolicy = z.strictObject(statusEarningRule);

/**
 * One rule for every flight, or versions by effective date, as tiers are: a flight counts under the
 * version in force on its date (the first one also covers the flights before it), so a rerun of an old
 * night credits what was credited then.
 */
const statusEarning = z
  .union(
    [
      z
        .array(z.strictObject({ effectiveFrom: dateField, ...statusEarningRule }))
        .min(1, 'at least one status earning version is needed'),
      statusEarningPolicy,
    ],
    {
      error: (issue) =>
        issue.code === 'invalid_union'
          ? 'expected a status earning rule (spendComponents, partnerAirlines) or a list of them, each with effectiveFrom'
          : undefined,
    },
  )
  .superRefine((e, ctx) => {
    if (Array.isArray(e)) oneVersionPerDate('status earning version')(e, ctx);
  })
  .transform((e): StatusEarningVersion[] =>
    Array.isArray(e) ? [...e].sort((a, b) => a.effectiveFrom.localeCompare(b.effectiveFrom)) : [e],
  )
  .default([{ spendComponents: ['fare', 'tax'], partnerAirlines: true }]);

/** A status earning rule and the date it is in force from (none: a program's only rule). */
export type StatusEarningVersion = z.infer<typeof statusEarningPolicy> & { effectiveFrom?: string };

const earning = z.strictObject({
  air: z
    .array(airEarningVersion)
    .min(1, 'at least one air earning version is needed')
    .superRefine(oneVersionPerDate('air earning version'))
    .superRefine(oneAirVersionPerId)
    .superRefine(promotionsWithinTheirVersion),
  status: statusEarning,
  /** Days after the flight within which an FTL/coupon may still be credited without a retro-claim. */
  airClaimWindowDays: positiveInt.default(365),
  /** Whether an FTL passenger is credited before the flown coupon confirms the flight. */
  creditOnFtl: z.boolean().default(true),
});

// ---------------------------------------------------------------------------------------------- tiers

const tierLevel = z.strictObject({
  // Every credited claim a partner airline sends is answered with the member's tier (`TierHeld`): a code
  // longer than the alliance interface carries would fail that night's results file, and every night's after.
  code: code('a tier code').superRefine(
    refusing((value) =>
      value.length > ALLIANCE_TIER_MAX
        ? `at most ${ALLIANCE_TIER_MAX} characters, as the alliance results file's TierHeld (this has ${value.length})`
        : undefined,
    ),
  ),
  name: z.string().min(1),
  /** In base-currency units for spend, miles for miles, count for segments. */
  threshold: z.number().nonnegative(),
});

const tierRule = {
  metric: z.enum(['spend', 'miles', 'segments']),
  window: z.enum(['rolling12', 'calendarYear']),
  levels: z.array(tierLevel).min(1),
  /** When downgrades are considered: a year after reaching the tier, or on 31 December of the following year (calendar-year windows). */
  review: z.enum(['anniversary', 'calendarYear']).default('anniversary'),
  /** A downgrade drops at most one level per review. */
  softLanding: z.boolean().default(true),
};

function tierRuleProblems(
  t: { window: string; review: string; levels: ReadonlyArray<{ code: string; threshold: number }> },
  ctx: z.RefinementCtx,
): void {
  // Tiers are known by code: a second level of one code could never be reached, or told apart in the
  // tier history and the reports.
  t.levels.forEach((level, i) => {
    const first = t.levels.findIndex((l) => l.code === level.code);
    if (first < i)
      ctx.addIssue({
        code: 'custom',
        path: ['levels', i, 'code'],
        message: `tier ${level.code} is already levels[${first}]: each tier has a code of its own`,
      });
  });
  for (let i = 1; i < t.levels.length; i++) {
    if (t.levels[i]!.threshold <= t.levels[i - 1]!.threshold) {
      ctx.addIssue({
        code: 'custom',
        path: ['levels', i, 'threshold'],
        message: 'tier thresholds must increase from one level to the next',
      });
    }
  }
  if (t.levels[0] && t.levels[0].threshold !== 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['levels', 0, 'threshold'],
      message: 'the first tier must start at 0',
    });
  }
  // A calendar-year window holds only the year so far: an anniversary review in June would judge a
  // member on five months and step down one who requalifies by December.
  if (t.window === 'calendarYear' && t.review !== 'calendarYear') {
    ctx.addIssue({
      code: 'custom',
      path: ['review'],
      message: `a calendarYear window is reviewed on 31 December: set review: calendarYear (an ${t.review} review would judge members on part of a year)`,
    });
  }
}

const tierPolicy = z.strictObject(tierRule).superRefine(tierRuleProblems);
const tierVersion = z.strictObject({ effectiveFrom: dateField, ...tierRule }).superRefine(tierRuleProblems);

/**
 * Every version names the tiers of the first, in its order: members, their tier history, tier bonuses,
 * reports and mailings name tiers by code and rank them by that order, which a version adding, dropping
 * or reordering one would change under the history already written. Thresholds, names, metric, window,
 * review and soft landing may change.
 */
function sameTiersInEveryVersion(
  versions: ReadonlyArray<{ effectiveFrom: string; levels: ReadonlyArray<{ code: string }> }>,
  ctx: z.RefinementCtx,
): void {
  const codes = (v: (typeof versions)[number]) => v.levels.map((l) => l.code).join(', ');
  const first = versions[0];
  if (!first) return;
  versions.forEach((v, i) => {
    if (i > 0 && codes(v) !== codes(first))
      ctx.addIssue({
        code: 'custom',
        path: [i, 'levels'],
        message:
          `the tier version in force from ${v.effectiveFrom} names the tiers ${codes(v)}, where the one ` +
          `from ${first.effectiveFrom} names ${codes(first)}: every version names the same tiers in the same ` +
          'order (members, their tier history and reports name tiers by code and rank them by that order); ' +
          'change thresholds and names, not the tiers',
      });
  });
}

/**
 * One set of tier rules, or versions by effective date: a night is judged under the version in force on
 * the date it judges (an upgrade on its night, a review on its review date, a lapse on its night), the
 * first version also covering the dates before it. Either way the program reads a list ordered by date;
 * a single set is a list of one without a date.
 */
const tiers = z
  .union([z.array(tierVersion).min(1, 'at least one tier version is needed'), tierPolicy], {
    error: (issue) =>
      issue.code === 'invalid_union'
        ? 'expected tier rules (metric, window, levels) or a list of them, each with effectiveFrom'
        : undefined,
  })
  .superRefine((t, ctx) => {
    if (!Array.isArray(t)) return;
    oneVersionPerDate('tier version')(t, ctx);
    sameTiersInEveryVersion(t, ctx);
  })
  .transform((t): TierVersion[] =>
    Array.isArray(t) ? [...t].sort((a, b) => a.effectiveFrom.localeCompare(b.effectiveFrom)) : [t],
  );

/** Tier rules and the date they are in force from (none: a program's only rules). */
export type TierVersion = z.infer<typeof tierPolicy> & { effectiveFrom?: string };

// ---------------------------------------------------------------------------------------------- expiry

const fixedTermExpiry = {
  policy: z.literal('fixedTerm'),
  /** Points expire this many months after the end of the month they were earned in. */
  months: positiveInt,
  warningDays: positiveInt.default(30),
};
const inactivityExpiry = {
  policy: z.literal('inactivity'),
  /** All points expire after this many months without earning activity. */
  months: positiveInt,
  warningDays: positiveInt.default(30),
};

const expiryPolicy = z.discriminatedUnion('policy', [
  z.strictObject(fixedTermExpiry),
  z.strictObject(inactivityExpiry),
]);

const expiryVersion = z.discriminatedUnion('policy', [
  z.strictObject({ effectiveFrom: dateField, ...fixedTermExpiry }),
  z.strictObject({ effectiveFrom: dateField, ...inactivityExpiry }),
]);

/**
 * One policy for every lot, or versions by effective date: a lot falls under the version in force on its
 * earning date (the first version also covers what was earned before it). Either way the program reads a
 * list ordered by date; a single policy is a list of one without a date.
 */
const expiry = z
  .union([z.array(expiryVersion).min(1, 'at least one expiry version is needed'), expiryPolicy], {
    error: (issue) =>
      issue.code === 'invalid_union'
        ? 'expected an expiry policy (policy: fixedTerm or inactivity, months) or a list of them, each with effectiveFrom'
        : undefined,
  })
  .superRefine((e, ctx) => {
    if (Array.isArray(e)) oneVersionPerDate('expiry version')(e, ctx);
  })
  .transform((e): ExpiryVersion[] =>
    Array.isArray(e) ? [...e].sort((a, b) => a.effectiveFrom.localeCompare(b.effectiveFrom)) : [e],
  );

/** An expiry policy and the date it is in force from (none: a program's only policy). */
export type ExpiryVersion = z.infer<typeof expiryPolicy> & { effectiveFrom?: string };

// ---------------------------------------------------------------------------------------------- partners

/**
 * Text the month-end IS-XML transmission carries as `element`, held to the project schema's bounds when
 * the configuration loads: out of them, the clearing house would reject the whole transmission a month
 * later, after the night had registered and delivered it.
 */
const isxmlText = (element: IsxmlTextElement) =>
  z.string().superRefine(refusing((value) => isxmlTextProblem(element, value)));

const activityRule = z
  .object({
    /** `spend`: rate points per unit of base currency; `activity`: rate points per record. */
    per: z.enum(['spend', 'activity']),
    rate: nonNegativeDecimal,
    capPerActivity: pointsCap.optional(),
    /** Hotel stays: revenue categories that earn (e.g. ROOM, or ROOM and FOOD). */
    revenueCategories: z.array(z.string()).optional(),
    /** Invoice line charge code for this activity type (IS-XML); falls back to the partner's. */
    chargeCode: isxmlText('ChargeCode').optional(),
  })
  .strict();

/**
 * Why a contract's activity type is none a partner record can carry (the partner reader's
 * ACTIVITY_TYPE_RE; hotel stays are STAY): the records meant for it would be rejected night after night,
 * MALFORMED as written in the rule or NO_CONTRACT as the reader takes them.
 */
function activityTypeProblem(type: string): string | undefined {
  return ACTIVITY_TYPE_RE.test(type)
    ? undefined
    : `${type} is not an activity type a partner record can carry (capital letters, digits and _, starting with a letter, as CARD_SPEND): no record would ever be credited under this rule`;
}

const contract = z
  .strictObject({
    id: ruleVersionId('invoice_lines.contract_id'),
    validFrom: dateField,
    validTo: dateField.optional(),
    claimWindowDays: positiveInt.default(180),
    /** Price the partner pays per point credited on its behalf, in the billing currency. */
    pricePerPoint,
    tierBonus: tierFactors,
    activities: z
      .record(z.string(), activityRule)
      .refine((a) => Object.keys(a).length > 0, {
        message: 'a contract covers at least one activity type',
      })
      // The partner feed's activity_type, which selects the rule, is kept in a column of 32, and is one
      // the partner reader takes: a rule under any other key would never be selected.
      .superRefine(keysFitColumn('activities.activity_type', 32, activityTypeProblem)),
    capPerPeriod: z.strictObject({ points: positiveInt, period: z.enum(['month', 'year']) }).optional(),
  })
  // A contract that ends before it begins is in force on no date: every activity of its types would be
  // refused NO_CONTRACT, night after night, for a typing slip.
  .refine((k) => k.validTo === undefined || k.validFrom <= k.validTo, {
    path: ['validTo'],
    message: 'validTo is before validFrom: the contract would be in force on no date',
  });

const partnerAirlineChart = z
  .strictObject({
    id: ruleVersionId('invoice_lines.contract_id'),
    effectiveFrom: dateField,
    /** Earn rate per flown RBD on the partner's flights. */
    classRates: z.record(z.string().regex(/^[A-Z]$/), factor),
    minimumMiles: nonNegativeInt.default(0),
    /** Price per point the partner airline pays for points we credit on its flights. */
    pricePerPoint: pricePerPoint.default('0'),
  })
  // As an air earning version: a chart no class earns under refuses every flight on the partner.
  .refine((c) => Object.values(c.classRates).some((rate) => rate > 0), {
    path: ['classRates'],
    message:
      "a partner airline's chart earns by flown class: give at least one class a rate above 0 (with none, every flight on the partner would be refused CLASS_NOT_ELIGIBLE)",
  });

const billing = z.strictObject({
  currency,
  organizationId: isxmlText('OrganizationID'),
  designator: isxmlText('OrganizationDesignator'),
  organizationName: isxmlText('OrganizationName1'),
  chargeCategory: isxmlText('ChargeCategory'),
  chargeCode: isxmlText('ChargeCode'),
  settlementMethod: isxmlText('SettlementMethod').default('I'),
});

const partner = z.strictObject({
  code: code('a partner code'),
  name: z.string().min(1),
  kind: z.enum(['hotel', 'car', 'bank', 'retail', 'airline', 'other']),
  /** Partner airlines: the program code on their members' cards (FTL `.R/FQTV LH …`). */
  program: airlineCode.optional(),
  /** Hotels speaking OpenTravel: chain codes (and optionally brand codes) that select this partner. */
  hotelChains: z.array(z.string()).default([]),
  contracts: z.array(contract).default([]),
  charts: z.array(partnerAirlineChart).superRefine(oneVersionPerDate('chart')).default([]),
  billing: billing.optional(),
  /** Where responses, claims and invoices for this partner are delivered (a transport name). */
  outbox: z.string().optional(),
});

// ---------------------------------------------------------------------------------------------- feeds & transports

const completeness = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('marker'), suffix: z.string().min(1).default('.done') }),
  z.strictObject({ kind: z.literal('stable'), seconds: nonNegativeInt.default(30) }),
  z.strictObject({ kind: z.literal('none') }),
]);

const feed = z.strictObject({
  /** Transport name (see `transports`). */
  source: z.string().min(1),
  /** Kept with each file fetched from it, before its name, in files.remote_path (1024 characters). */
  remoteDir: z
    .string()
    .superRefine(
      fitsColumn("files.remote_path (1024 characters) before '/' and a file name of up to 255", 768),
    )
    .default('.'),
  /** Regular expression the file names must match. */
  pattern: regexString,
  encoding: z
    .string()
    .refine((name) => iconv.encodingExists(name), {
      message: 'is not a character encoding Redeye can read (utf-8, cp866, windows-1251, iso-8859-1, …)',
    })
    .default('utf-8'),
  delimiter: z.string().length(1).optional(),
  /**
   * When a file on the server is whole. By default its size and modification time must stay the same
   * across two listings 30 seconds apart (see README, "Configuration"): a file still being uploaded is
   * left for the next night rather than read in part. `none` only by choice, for partners that write
   * under another name and rename when done.
   */
  completeness: completeness.default({ kind: 'stable', seconds: 30 }),
  afterFetch: z.enum(['archive', 'leave']).default('leave'),
  /**
   * `unique`: a file's name is its identity, and other content under a name received before is held for
   * an operator (a name conflict). `reused`: the partner sends every file under one name (REDEMPTIONS.csv
   * each day), so other content under it is the next file, read as new; the same content is still a copy.
   */
  names: z.enum(['unique', 'reused']).default('unique'),
  archiveDir: z.string().default('archive'),
  /** XML feeds: documents larger than this are refused before parsing. */
  maxBytes: positiveInt.default(50 * 1024 * 1024),
  /** FTL: hours an incomplete message may wait for its missing parts before it is reported. */
  holdHours: positiveInt.default(48),
});

const localTransport = z.strictObject({ type: z.literal('local'), root: z.string().min(1) });
const sftpTransport = z
  .strictObject({
    type: z.literal('sftp'),
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(22),
    username: z.string().min(1),
    passwordEnv: envName.optional(),
    privateKeyEnv: envName.optional(),
    privateKeyPathEnv: envName.optional(),
    passphraseEnv: envName.optional(),
    /** The server's host key, pinned: `SHA256:…` as `ssh-keygen -lf` prints it. */
    hostKeySha256: z
      .string()
      .regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/, 'expected SHA256:<base64> as ssh-keygen -lf prints'),
    retries: nonNegativeInt.default(3),
    timeoutSeconds: positiveInt.default(30),
  })
  .refine((t) => t.passwordEnv || t.privateKeyEnv || t.privateKeyPathEnv, {
    message: 'an SFTP transport names passwordEnv, privateKeyEnv or privateKeyPathEnv',
  });
const transport = z.discriminatedUnion('type', [localTransport, sftpTransport]);

// ---------------------------------------------------------------------------------------------- exports, mail, reports, schedules

/**
 * An e-mail address, bare (`ops@airline.example`) or with a display name (`Ops <ops@airline.example>`).
 * Checked at start-up: the SMTP server would refuse a malformed one only when the report is sent, at night.
 */
const mailbox = (what: string) =>
  z
    .string()
    .regex(
      /^(?:[^<>]*<[^\s@<>"]+@[^\s@<>".]+(?:\.[^\s@<>".]+)*>|[^\s@<>"]+@[^\s@<>".]+(?:\.[^\s@<>".]+)*)$/,
      `${what}: expected an e-mail address, e.g. ops@airline.example or "Ops <ops@airline.example>"`,
    );

const mailingKinds = [
  'EXPIRY_WARNING',
  'BALANCE_STATEMENT',
  'TIER_CHANGE',
  'INCOMPLETE_REGISTRATION',
  'ACCOUNT_CLOSURE',
] as const;

const exportsSection = z
  .strictObject({
    /** Transport and folder where exports not bound to one partner go (mailing lists, invoices). */
    outbox: z.string().default('outbox'),
    alliance: z
      .strictObject({
        resultsDueDays: positiveInt.default(7),
        /**
         * Nights a passenger on a partner's card known only from the FTL waits for its flown coupon before
         * it is claimed: a coupon on our card joins it (the flight is ours to credit, and a claim cannot be
         * withdrawn), one on the partner's card completes the claim. 0 claims it the night it is read.
         */
        couponWaitDays: nonNegativeInt
          .max(
            30,
            'at most 30: flown coupons come within days of the flight, and every claim of a passenger without one is held this long',
          )
          .default(3),
      })
      .default({ resultsDueDays: 7, couponWaitDays: 3 }),
    invoices: z
      .strictObject({
        /** Both the transmission's `IssuingOrganizationID` and the seller's `OrganizationID`. */
        issuingOrganizationId: isxmlText('IssuingOrganizationID').default('XX'),
        organizationDesignator: isxmlText('OrganizationDesignator').default('XX'),
        organizationName: isxmlText('OrganizationName1').default('Redeye Airlines'),
      })
      .default({
        issuingOrganizationId: 'XX',
        organizationDesignator: 'XX',
        organizationName: 'Redeye Airlines',
      }),
    mailings: z
      .strictObject({
        format: z.enum(['csv', 'xml']).default('csv'),
        expiryWarningDays: positiveInt.default(30),
        incompleteAfterDays: positiveInt.default(14),
        kinds: z.array(z.enum(mailingKinds)).default([...mailingKinds]),
      })
      .default({
        format: 'csv',
        expiryWarningDays: 30,
        incompleteAfterDays: 14,
        kinds: [...mailingKinds],
      }),
  })
  .default({
    outbox: 'outbox',
    alliance: { resultsDueDays: 7, couponWaitDays: 3 },
    invoices: {
      issuingOrganizationId: 'XX',
      organizationDesignator: 'XX',
      organizationName: 'Redeye Airlines',
    },
    mailings: {
      format: 'csv',
      expiryWarningDays: 30,
      incompleteAfterDays: 14,
      kinds: [...mailingKinds],
    },
  });

const mail = z.strictObject({
  smtp: z
    .strictObject({
      host: z.string().min(1),
      port: z.number().int().min(1).max(65535).default(587),
      /** Implicit TLS (port 465). With false, STARTTLS is used when offered, or required with requireTLS. */
      secure: z.boolean().default(false),
      requireTLS: z.boolean().default(false),
      userEnv: envName.optional(),
      passwordEnv: envName.optional(),
      /**
       * How long a server may take to accept the connection, to greet, and to answer mid-conversation.
       * A server that takes connections and never answers costs a night these, per attempt, not minutes.
       */
      connectionTimeoutSeconds: positiveInt.default(10),
      greetingTimeoutSeconds: positiveInt.default(10),
      socketTimeoutSeconds: positiveInt.default(30),
    })
    // Refused at start-up as the mailer refuses it when the night sends: STARTTLS upgrades a plain
    // connection, and with `secure` there is none.
    .refine((smtp) => !(smtp.secure && smtp.requireTLS), {
      path: ['requireTLS'],
      message: 'STARTTLS is for plain connections; secure is already TLS',
    }),
  from: mailbox('the sender'),
  /** Distribution lists by report name (`daily`, `monthly`, or a custom report's name). */
  lists: z.record(z.string(), z.array(mailbox('a recipient'))).default({}),
  retries: nonNegativeInt.default(3),
});

const measure = z.enum(['pointsIssued', 'pointsRedeemed', 'pointsExpired', 'members', 'spend', 'activities']);

export type MeasureUnit = 'points' | 'money' | 'count';

/** What a custom report's measure is counted in: measures of one unit can share a chart's value axis. */
export const MEASURE_UNITS: Readonly<Record<z.infer<typeof measure>, MeasureUnit>> = {
  pointsIssued: 'points',
  pointsRedeemed: 'points',
  pointsExpired: 'points',
  spend: 'money',
  members: 'count',
  activities: 'count',
};

const dimension = z.enum(['day', 'month', 'channel', 'partner', 'tier', 'route', 'cabin', 'serviceType']);

/** Names a custom report may not take: the built-in reports, and `report send`. */
export const RESERVED_REPORT_NAMES: ReadonlySet<string> = new Set(['daily', 'monthly', 'send']);

const customReport = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z][a-z0-9-]*$/, 'expected a lower-case name such as partner-by-month')
    .superRefine(fitsColumn('mail_outbox.report', 64))
    .refine((name) => !RESERVED_REPORT_NAMES.has(name), {
      error: (issue) =>
        `"${String(issue.input)}" is the name of a built-in report or command; choose another`,
    }),
  title: z
    .string()
    .min(1)
    .superRefine(fitsColumn("mail_outbox.subject (255 characters) before ' — ' and the business date", 242)),
  measures: z.array(measure).min(1),
  dimensions: z.array(dimension).min(1).max(2),
  filters: z
    .strictObject({
      channel: z.array(z.string()).optional(),
      partner: z.array(z.string()).optional(),
      tier: z.array(z.string()).optional(),
      route: z.array(z.string()).optional(),
      cabin: z.array(z.string()).optional(),
      serviceType: z.array(z.string()).optional(),
    })
    .default({}),
  /** The period a run covers, ending on the business date. */
  period: z.enum(['day', 'week', 'month', 'quarter', 'year']).default('month'),
  chart: z
    .strictObject({ type: z.enum(['bar', 'stacked-bar', 'line', 'pie', 'none']).default('bar') })
    .default({ type: 'bar' }),
  /** When the nightly `report` job produces it: every night, or on the last day of the month. */
  schedule: z.enum(['daily', 'monthly', 'manual']).default('manual'),
});

/**
 * The measures a custom report's chart draws: with one dimension, a bar or line chart draws every
 * measure as a series; a pie, or a chart whose series are the second dimension's values, draws the
 * first measure only.
 */
export function chartedMeasures(r: {
  measures: readonly z.infer<typeof measure>[];
  dimensions: readonly unknown[];
  chart: { type: string };
}): Array<z.infer<typeof measure>> {
  if (r.chart.type === 'none') return [];
  if (r.chart.type === 'pie' || r.dimensions.length > 1) return r.measures.slice(0, 1);
  return [...r.measures];
}

/**
 * A chart has two value axes, left and right: measures of more than two units (points, money, counts)
 * cannot each be read against a scale of their own, and sharing one would flatten the smaller figures
 * (a few hundred members against millions of points) into nothing. Such a report is refused with the
 * configuration, naming it and its measures.
 */
export function chartUnitsProblem(r: {
  name: string;
  measures: readonly z.infer<typeof measure>[];
  dimensions: readonly unknown[];
  chart: { type: string };
}): string | undefined {
  const byUnit = new Map<MeasureUnit, string[]>();
  for (const m of chartedMeasures(r))
    byUnit.set(MEASURE_UNITS[m], [...(byUnit.get(MEASURE_UNITS[m]) ?? []), m]);
  if (byUnit.size <= 2) return undefined;
  const units = [...byUnit].map(([unit, measures]) => `${unit}: ${measures.join(', ')}`).join('; ');
  return (
    `custom report "${r.name}" charts measures of ${byUnit.size} units on one ${r.chart.type} chart (${units}), ` +
    'but a chart has two value axes, left and right: move the measures of one unit to a report of their own, or set chart type none'
  );
}

const reports = z
  .strictObject({
    topRoutes: positiveInt.default(10),
    comparisonWeeks: positiveInt.default(4),
    custom: z.array(customReport).default([]),
  })
  .default({ topRoutes: 10, comparisonWeeks: 4, custom: [] });

const jobName = z.enum([
  'fetch',
  'ingest',
  'accrue',
  'tiers',
  'expire',
  'export',
  'report',
  'deliver',
  'nightly',
  'monthly',
  'retention',
]);

const schedules = z
  .strictObject({
    timeZone: timeZone.optional(),
    jobs: z
      .array(
        z.strictObject({
          job: jobName,
          cron: cronExpression,
          dateOffsetDays: z.number().int().default(-1),
        }),
      )
      .default([]),
    /** After an outage, how many missed business dates the scheduler runs before today's. */
    catchUpDays: nonNegativeInt.default(7),
  })
  .default({ jobs: [], catchUpDays: 7 });

const retention = z
  .strictObject({
    /** Personal data of a closed account is erased this many months after closure. */
    closedMonths: positiveInt.default(24),
    /** Whether `redeye member forget` may erase an open account's personal data on request. */
    forgetOnRequest: z.boolean().default(true),
    /** Environment variable holding the secret that keys the irreversible tokens. */
    tokenSecretEnv: envName.default('REDEYE_TOKEN_SECRET'),
    /**
     * Days after its business date that the landed copy of an inbound file (names, e-mails, birth dates)
     * is kept once read; a file still pending, held or in conflict is kept until it is settled.
     */
    landedFileDays: positiveInt.default(90),
    /**
     * Days after its business date that Redeye's copy of a delivered export is kept in `paths.outbox`;
     * a delivered mailing list is then removed from the shared outbox it was delivered to as well.
     */
    exportCopyDays: positiveInt.default(30),
    /**
     * Days a stored report folder (`paths.reports/<date>/`) is kept; its mail, while unsent or owed to
     * someone its list names (refused for good, then corrected), keeps it.
     */
    reportDays: positiveInt.default(90),
    /**
     * Days after its business date that a reject keeps the text of its line, and an expired FTL part its
     * content: lines without a member number cannot be tied to a member, so they are blanked by age. A
     * completed FTL message is remembered as long (a part of it resent later is then held and expires).
     */
    rejectTextDays: positiveInt.default(90),
  })
  .default({
    closedMonths: 24,
    forgetOnRequest: true,
    tokenSecretEnv: 'REDEYE_TOKEN_SECRET',
    landedFileDays: 90,
    exportCopyDays: 30,
    reportDays: 90,
    rejectTextDays: 90,
  });

// ---------------------------------------------------------------------------------------------- whole file

export const configSchema = z
  .strictObject({
    program,
    database,
    paths,
    earning,
    tiers,
    expiry,
    retroClaims: z
      .strictObject({
        minDaysAfterFlight: nonNegativeInt.default(14),
        maxMonthsAfterFlight: positiveInt.default(6),
      })
      .default({ minDaysAfterFlight: 14, maxMonthsAfterFlight: 6 }),
    redemptions: z
      .strictObject({
        /**
         * Days a cancellation waits for the redemption it names, from the night it came in; on that day's
         * night, its redemption still not come, it is rejected (UNKNOWN_REDEMPTION). 0: rejected the night
         * it came unless its redemption comes the same night.
         */
        cancellationWaitDays: nonNegativeInt.default(7),
      })
      .default({ cancellationWaitDays: 7 }),
    /** Whether household and corporate pools hold their members' points: both `pool`, or both `member`. */
    pools: z
      .strictObject({
        earnInto: z.enum(['pool', 'member']).default('pool'),
        redeemFrom: z.enum(['pool', 'member']).default('pool'),
      })
      .default({ earnInto: 'pool', redeemFrom: 'pool' }),
    fx: z.strictObject({ maxStaleDays: nonNegativeInt.default(4) }).default({ maxStaleDays: 4 }),
    partners: z.array(partner).default([]),
    transports: z.record(z.string(), transport).superRefine(keysFitColumn('files.transport', 64)).default({}),
    feeds: z
      .object({
        ftl: feed.optional(),
        flown: feed.optional(),
        partner: feed.optional(),
        hotel: feed.optional(),
        'alliance-claims': feed.optional(),
        'alliance-results': feed.optional(),
        redemptions: feed.optional(),
        members: feed.optional(),
        fx: feed.optional(),
        'retro-claims': feed.optional(),
      })
      .strict()
      .default({}),
    exports: exportsSection,
    mail: mail.optional(),
    reports,
    schedules,
    retention,
    logging: z.strictObject({ level: z.enum(LOG_LEVELS).default('info') }).default({ level: 'info' }),
  })
  .superRefine((c, ctx) => {
    /** A setting that names something defined elsewhere must name one that is (`what` says what not). */
    const mustName = (known: Iterable<string>, what: (name: string) => string) => {
      const defined = new Set(known);
      return (name: string, path: (string | number)[]) => {
        if (!defined.has(name))
          ctx.addIssue({ code: 'custom', path, message: `${what(name)}${didYouMean(name, defined)}` });
      };
    };
    const transports = Object.keys(c.transports);
    const checkTransport = mustName(
      transports,
      (name) => `no transport named "${name}" (known: ${transports.join(', ') || 'none'})`,
    );
    for (const [name, f] of Object.entries(c.feeds)) {
      if (f) checkTransport(f.source, ['feeds', name, 'source']);
    }
    checkTransport(c.exports.outbox, ['exports', 'outbox']);
    // A program pools points or does not. Earning into the pool and redeeming from the member (a
    // redemption names a member) leaves the pool's points where nothing can spend them; earning into the
    // member and redeeming from the pool leaves the member's until the CRM happens to send their record.
    if (c.pools.earnInto !== c.pools.redeemFrom)
      ctx.addIssue({
        code: 'custom',
        path: ['pools', 'redeemFrom'],
        message: `earnInto: ${c.pools.earnInto} with redeemFrom: ${c.pools.redeemFrom} strands points ${
          c.pools.earnInto === 'pool'
            ? 'in the pool, which no redemption debits'
            : "on the member's own account, where redemptions from the pool do not reach them"
        }; a program pools points (earnInto: pool, redeemFrom: pool) or does not (earnInto: member, redeemFrom: member)`,
      });
    const seen = new Set<string>();
    // A program code on the cards, or a hotel chain (or chain/brand) a stay names, selects one partner:
    // with two claiming it, the later one would take every such flight or stay and its bill.
    const programs = new Map<string, { code: string; at: string }>();
    const chains = new Map<string, { code: string; at: string }>();
    c.partners.forEach((p, i) => {
      if (seen.has(p.code))
        ctx.addIssue({
          code: 'custom',
          path: ['partners', i, 'code'],
          message: `partner ${p.code} is defined twice`,
        });
      seen.add(p.code);
      if (p.program !== undefined) {
        const first = programs.get(p.program);
        if (first !== undefined && first.code !== p.code)
          ctx.addIssue({
            code: 'custom',
            path: ['partners', i, 'program'],
            message: `program ${p.program} is already ${first.code}'s (${first.at}): a card of it selects one partner, so ${p.code} would take its flights and their bills from ${first.code}; give each partner airline its own program code`,
          });
        else if (first === undefined) programs.set(p.program, { code: p.code, at: `partners[${i}].program` });
      }
      p.hotelChains.forEach((chain, k) => {
        const first = chains.get(chain);
        if (first !== undefined && first.code !== p.code)
          ctx.addIssue({
            code: 'custom',
            path: ['partners', i, 'hotelChains', k],
            message: `hotel chain ${chain} is already ${first.code}'s (${first.at}): a stay of it is credited to one partner, so ${p.code} would take its stays and their bills from ${first.code}; name each chain (or chain/brand) under one partner`,
          });
        else if (first === undefined)
          chains.set(chain, { code: p.code, at: `partners[${i}].hotelChains[${k}]` });
      });
      if (p.outbox) checkTransport(p.outbox, ['partners', i, 'outbox']);
      // A date must pick one contract: with two in force for one activity type, which one pays would
      // depend on their order in the file.
      p.contracts.forEach((a, j) =>
        p.contracts.slice(0, j).forEach((b) => {
          const shared = Object.keys(a.activities).filter((t) => b.activities[t] !== undefined);
          const overlap =
            (a.validTo === undefined || b.validFrom <= a.validTo) &&
            (b.validTo === undefined || a.validFrom <= b.validTo);
          if (shared.length > 0 && overlap)
            ctx.addIssue({
              code: 'custom',
              path: ['partners', i, 'contracts', j, 'validFrom'],
              message: `contracts ${b.id} and ${a.id} of ${p.code} are both in force on some dates for ${shared.join(', ')}; end one before the other begins`,
            });
        }),
      );
      // A month-end invoice prices a credit by the contract or chart its posting names, the first of the
      // partner's of that id: another of the id would have its credits billed at that one's price.
      const named = [
        ...p.contracts.map((k, j) => ({
          id: k.id,
          at: ['contracts', j],
          what: `contract valid from ${k.validFrom}`,
        })),
        ...p.charts.map((k, j) => ({
          id: k.id,
          at: ['charts', j],
          what: `chart in force from ${k.effectiveFrom}`,
        })),
      ];
      named.forEach((a, j) => {
        const b = named.slice(0, j).find((n) => n.id === a.id);
        if (b)
          ctx.addIssue({
            code: 'custom',
            path: ['partners', i, ...a.at, 'id'],
            message:
              `${a.id} is already the id of ${p.code}'s ${b.what} (partners[${i}].${b.at[0]}[${b.at[1]}]): ` +
              `an invoice prices each credit by the contract or chart its posting names, so this one's credits ` +
              `would be billed at that one's price; give each an id of its own`,
          });
      });
      if (p.kind === 'airline' && !p.program) {
        ctx.addIssue({
          code: 'custom',
          path: ['partners', i, 'program'],
          message: 'a partner airline names its program code',
        });
      }
    });
    // Every tier version names the same tiers (`sameTiersInEveryVersion`): the first one's are all. A
    // version refused on its own leaves the tiers as written, one set or a list, not yet made a list.
    const written = c.tiers as TierVersion[] | TierVersion;
    const checkTier = mustName(
      ((Array.isArray(written) ? written[0] : written)?.levels ?? []).map((l) => l.code),
      (code) => `unknown tier ${code}`,
    );
    const checkTierKeys = (record: Record<string, number>, path: (string | number)[]) => {
      for (const key of Object.keys(record)) checkTier(key, [...path, key]);
    };
    c.earning.air.forEach((v, i) => checkTierKeys(v.tierBonus, ['earning', 'air', i, 'tierBonus']));
    c.partners.forEach((p, i) =>
      p.contracts.forEach((k, j) => checkTierKeys(k.tierBonus, ['partners', i, 'contracts', j, 'tierBonus'])),
    );
    // A custom report's filters name partners and tiers: one no longer (or never) defined matches nothing.
    const checkPartner = mustName(
      c.partners.map((p) => p.code),
      (code) => `no partner ${code}`,
    );
    c.reports.custom.forEach((r, i) => {
      r.filters.partner?.forEach((code, j) =>
        checkPartner(code, ['reports', 'custom', i, 'filters', 'partner', j]),
      );
      r.filters.tier?.forEach((code, j) => checkTier(code, ['reports', 'custom', i, 'filters', 'tier', j]));
      const units = chartUnitsProblem(r);
      if (units !== undefined)
        ctx.addIssue({ code: 'custom', path: ['reports', 'custom', i, 'measures'], message: units });
    });
    if (c.mail) {
      const checkReport = mustName(
        ['daily', 'monthly', ...c.reports.custom.map((r) => r.name)],
        (name) => `no report named "${name}"`,
      );
      for (const name of Object.keys(c.mail.lists)) checkReport(name, ['mail', 'lists', name]);
    }
  });

export type Config = z.infer<typeof configSchema>;
export type ProgramConfig = Config['program'];
export type AirEarningVersion = z.infer<typeof airEarningVersion>;
export type ExpiryConfig = Config['expiry'];
export type PartnerConfig = z.infer<typeof partner>;
export type ContractConfig = z.infer<typeof contract>;
export type ActivityRuleConfig = z.infer<typeof activityRule>;
export type PartnerAirlineChart = z.infer<typeof partnerAirlineChart>;
export type FeedConfig = z.infer<typeof feed>;
export type TransportConfig = z.infer<typeof transport>;
export type SftpTransportConfig = z.infer<typeof sftpTransport>;
export type MailConfig = z.infer<typeof mail>;
export type CustomReportConfig = z.infer<typeof customReport>;
export type JobName = z.infer<typeof jobName>;
export type MailingKind = (typeof mailingKinds)[number];
export const MAILING_KINDS = mailingKinds;
