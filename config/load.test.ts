import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../lib/errors.js';
import { Program } from '../rules/program.js';
import { parseConfig, resolveDatabaseUrl } from './load.js';

const examplePath = resolve(import.meta.dirname, '../examples/redeye.config.yaml');
const example = readFileSync(examplePath, 'utf8');

function problems(text: string): ConfigError {
  try {
    parseConfig(text, '/etc/redeye/redeye.config.yaml', {});
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('the example configuration (the demo program) is valid', () => {
    const config = parseConfig(example, examplePath, {});
    expect(config.program.code).toBe('XX');
    expect(config.tiers[0]!.levels.map((l) => [l.code, l.threshold])).toEqual([
      ['MEMBER', 0],
      ['SILVER', 1000],
      ['GOLD', 2500],
      ['PLATINUM', 5000],
    ]);
    expect(config.earning.air[0]!.basis).toBe('distance');
    expect(config.partners.find((p) => p.code === 'GRANDSTAY')!.contracts).toHaveLength(2);
  });

  it('relative paths are anchored at the configuration file, and REDEYE_DATABASE_URL overrides the file', () => {
    const config = parseConfig(example, examplePath, {});
    expect(config.database.url).toBe(`sqlite:${resolve(import.meta.dirname, '../var/redeye.sqlite')}`);
    const pg = parseConfig(example, examplePath, { REDEYE_DATABASE_URL: 'postgres://u:p@db/redeye' });
    expect(pg.database.url).toBe('postgres://u:p@db/redeye');
    expect(resolveDatabaseUrl('sqlite::memory:', '/x')).toBe('sqlite::memory:');
  });

  it('puts the landing, outbox and reports folders under paths.var unless they are named', () => {
    const withPaths = (block: string) => example.replace(/^paths:\n(?: {2}.*\n)+/m, `paths:\n${block}`);
    const under = parseConfig(withPaths('  var: /data/redeye\n'), examplePath, {}).paths;
    expect(under).toEqual({
      var: '/data/redeye',
      landing: '/data/redeye/landing',
      outbox: '/data/redeye/outbox',
      reports: '/data/redeye/reports',
    });
    const named = parseConfig(withPaths('  var: /data/redeye\n  reports: /srv/reports\n'), examplePath, {});
    expect(named.paths).toMatchObject({ landing: '/data/redeye/landing', reports: '/srv/reports' });
    expect(problems(withPaths('  var: ./var\n  report: ./r\n')).problems).toEqual([
      expect.objectContaining({
        path: 'paths.report',
        message: 'unknown key "report" (did you mean "reports"?)',
      }),
    ]);
  });

  it('refuses a custom report named as a built-in report or command at start-up, not when the night reaches it', () => {
    const broken = example.replace('- name: partner-points-by-month', '- name: daily');
    expect(problems(broken).problems).toEqual([
      expect.objectContaining({
        path: 'reports.custom[0].name',
        message: '"daily" is the name of a built-in report or command; choose another',
      }),
    ]);
  });

  it('refuses a custom chart of three units at start-up, naming the report and its measures', () => {
    const measures = (list: string, chart = 'stacked-bar', dimensions = '[month, partner]') =>
      example
        .replace('      measures: [pointsIssued]\n', `      measures: ${list}\n`)
        .replace('      dimensions: [month, partner]\n', `      dimensions: ${dimensions}\n`)
        .replace('      chart: { type: stacked-bar }\n', `      chart: { type: ${chart} }\n`);
    const broken = measures('[pointsIssued, members, spend, activities]', 'bar', '[partner]');
    expect(problems(broken).problems).toEqual([
      expect.objectContaining({
        path: 'reports.custom[0].measures',
        message:
          'custom report "partner-points-by-month" charts measures of 3 units on one bar chart ' +
          '(points: pointsIssued; count: members, activities; money: spend), but a chart has two value axes, ' +
          'left and right: move the measures of one unit to a report of their own, or set chart type none',
      }),
    ]);
    // Two units have an axis each; a pie, a chart of the second dimension's values or no chart draws
    // the first measure alone.
    const all = '[pointsIssued, members, spend]';
    for (const fine of [
      measures('[pointsIssued, spend]', 'line', '[partner]'),
      measures(all, 'pie', '[partner]'),
      measures(all, 'none', '[partner]'),
      measures(all, 'stacked-bar', '[month, partner]'),
    ]) {
      expect(() => parseConfig(fine, examplePath, {})).not.toThrow();
    }
  });

  it('refuses secure SMTP with requireTLS at start-up, as the mailer would when the night sends', () => {
    const broken = example.replace('port: 25, secure: false,', 'port: 465, secure: true, requireTLS: true,');
    expect(problems(broken).problems).toEqual([
      expect.objectContaining({
        path: 'mail.smtp.requireTLS',
        message: 'STARTTLS is for plain connections; secure is already TLS',
      }),
    ]);
  });

  it('reports every problem at once, each with its path and line in the file', () => {
    const broken = example
      .replace('baseCurrency: USD', 'baseCurrency: dollars')
      .replace('{ code: GOLD, name: Gold, threshold: 2500 }', '{ code: GOLD, name: Gold, threshold: 900 }')
      .replace('source: inbox, remoteDir: flown', 'source: nowhere, remoteDir: flown');
    const err = problems(broken);
    const byPath = Object.fromEntries(err.problems.map((p) => [p.path, p]));
    expect(byPath['program.baseCurrency']!.message).toMatch(/ISO 4217/);
    expect(byPath['program.baseCurrency']!.line).toBe(
      example.split('\n').findIndex((l) => l.includes('baseCurrency')) + 1,
    );
    expect(byPath['tiers.levels[2].threshold']!.message).toMatch(/increase/);
    expect(byPath['feeds.flown.source']!.message).toMatch(/no transport named "nowhere"/);
    expect(err.exitCode).toBe(2);
    expect(err.describe()).toContain('tiers.levels[2].threshold');
  });

  it('refuses a billing identity the IS-XML transmission cannot carry, naming each field, at start-up (exit 2)', () => {
    const grandstay =
      'billing: { currency: USD, organizationId: "9GS", designator: GS, organizationName: GrandStay Hotels Ltd, chargeCategory: Miscellaneous, chargeCode: FFP }';
    const broken = example
      .replace(
        grandstay,
        grandstay.replace(
          'chargeCode: FFP',
          'chargeCode: FREQUENT-FLYER-POINTS-BILLING, settlementMethod: ""',
        ),
      )
      .replace('STAY: { per: spend, rate: "3",', 'STAY: { per: spend, chargeCode: "", rate: "3",')
      .replace(
        'organizationDesignator: XX, organizationName: Redeye Airlines }',
        `organizationDesignator: "", organizationName: ${'Redeye Airlines '.repeat(6)}Corp. }`,
      );
    const err = problems(broken);
    const line = (text: string) => broken.split('\n').findIndex((l) => l.includes(text)) + 1;
    expect(err.problems).toEqual([
      {
        path: 'partners[0].contracts[1].activities.STAY.chargeCode',
        line: line('chargeCode: ""'),
        message: "empty: IS-XML's ChargeCode needs at least 1 character",
      },
      {
        path: 'partners[0].billing.chargeCode',
        line: line('FREQUENT-FLYER-POINTS-BILLING'),
        message: "at most 25 characters, as IS-XML's ChargeCode (this has 29)",
      },
      {
        path: 'partners[0].billing.settlementMethod',
        line: line('FREQUENT-FLYER-POINTS-BILLING'),
        message: "empty: IS-XML's SettlementMethod needs at least 1 character",
      },
      {
        path: 'exports.invoices.organizationDesignator',
        line: line('organizationDesignator: ""'),
        message: "empty: IS-XML's OrganizationDesignator needs at least 1 character",
      },
      {
        path: 'exports.invoices.organizationName',
        line: line('organizationDesignator: ""'),
        message: "at most 100 characters, as IS-XML's OrganizationName1 (this has 101)",
      },
    ]);
    expect(err.exitCode).toBe(2);
  });

  it('refuses a tier level whose code another level already has, at its path and line', () => {
    const gold = '    - { code: GOLD, name: Gold, threshold: 2500 }\n';
    const broken = example.replace(gold, `${gold}    - { code: GOLD, name: Gold Plus, threshold: 4000 }\n`);
    const err = problems(broken);
    expect(err.problems).toEqual([
      {
        path: 'tiers.levels[3].code',
        line: broken.split('\n').findIndex((l) => l.includes('name: Gold Plus')) + 1,
        message: 'tier GOLD is already levels[2]: each tier has a code of its own',
      },
    ]);
    expect(err.exitCode).toBe(2);
  });

  it('refuses a tier code longer than the alliance results file carries as TierHeld, at start-up (exit 2)', () => {
    // Refused at load: accepted, every results file answering a claim credited to a member of the tier
    // would fail to be written, night after night.
    const broken = example.replaceAll('PLATINUM', 'PLATINUM_FOR_LIFE');
    const err = problems(broken);
    expect(err.problems).toEqual([
      {
        path: 'tiers.levels[3].code',
        line: broken.split('\n').findIndex((l) => l.includes('{ code: PLATINUM_FOR_LIFE,')) + 1,
        message: "at most 16 characters, as the alliance results file's TierHeld (this has 17)",
      },
    ]);
    expect(err.exitCode).toBe(2);
    // 16 characters is what TierHeld carries.
    const config = parseConfig(example.replaceAll('PLATINUM', 'PLATINUM_FOREVER'), examplePath, {});
    expect(config.tiers[0]!.levels.map((l) => l.code)).toContain('PLATINUM_FOREVER');
  });

  it('counts a billing name in characters as the IS-XML schema does, and refuses one XML cannot carry', () => {
    // 100 characters, 150 UTF-16 units: the schema takes it, so the configuration does.
    const name = 'Hôtel 🏨 '.repeat(12) + 'Grand';
    expect([...name]).toHaveLength(101);
    const fits = [...name].slice(0, 100).join('');
    const withName = (n: string) =>
      example.replace('organizationName: GrandStay Hotels Ltd', `organizationName: ${JSON.stringify(n)}`);
    const config = parseConfig(withName(fits), examplePath, {});
    expect(config.partners.find((p) => p.code === 'GRANDSTAY')!.billing!.organizationName).toBe(fits);
    expect(problems(withName(name)).problems).toEqual([
      expect.objectContaining({
        path: 'partners[0].billing.organizationName',
        message: "at most 100 characters, as IS-XML's OrganizationName1 (this has 101)",
      }),
    ]);
    expect(problems(withName('GrandStay\u0007 Hotels')).problems).toEqual([
      expect.objectContaining({
        path: 'partners[0].billing.organizationName',
        message:
          "holds a character XML 1.0 cannot carry (U+0007), which IS-XML's OrganizationName1 would lose",
      }),
    ]);
  });

  it('refuses a name longer than the column the night keeps it in, naming field, line, limit and column (exit 2)', () => {
    // PostgreSQL refused such a name at the insert (22001), failing the night's accrue, fetch or report
    // with no setting named; SQLite stored it whole.
    const contract = `DRIVE-2025-${'X'.repeat(59)}`;
    const transport = `inbox-${'i'.repeat(59)}`;
    const broken = example
      .replace('- id: air-2024', `- id: air-2024-${'v'.repeat(56)}`)
      .replace('- id: DRIVE-2025', `- id: ${contract}`)
      .replace('RENTAL_DAY: {', `RENTAL_DAY_${'D'.repeat(22)}: {`)
      .replace('pricePerPoint: "0.0110"', `pricePerPoint: "0.${'0'.repeat(31)}1"`)
      .replace('- id: IB-2025', `- id: IB-${'9'.repeat(62)}`)
      .replace(/^ {2}inbox:/m, `  ${transport}:`)
      .replaceAll('source: inbox', `source: ${transport}`)
      .replace('remoteDir: fx,', `remoteDir: "${'fx/'.repeat(256)}x",`)
      .replace('- name: partner-points-by-month', `- name: partner-points-by-month-${'m'.repeat(41)}`)
      .replace('title: Partner points by month', `title: ${'Partner points by month '.repeat(10)}and more`);
    const err = problems(broken);
    const line = (text: string) => broken.split('\n').findIndex((l) => l.includes(text)) + 1;
    const ruleVersion = 'postings.rule_version and activities.rule_version';
    expect(err.problems).toEqual([
      {
        path: 'earning.air[0].id',
        line: line('- id: air-2024'),
        message: `at most 64 characters, stored in ${ruleVersion} (this has 65)`,
      },
      {
        path: 'partners[1].contracts[0].id',
        line: line(contract),
        message: `at most 64 characters, stored in ${ruleVersion} and invoice_lines.contract_id (this has 70)`,
      },
      {
        path: 'partners[1].contracts[0].activities.RENTAL_DAY_DDDDDDDDDDDDDDDDDDDDDD',
        line: line('RENTAL_DAY_'),
        message: 'at most 32 characters, stored in activities.activity_type (this has 33)',
      },
      {
        path: 'partners[2].contracts[0].pricePerPoint',
        line: line('0.0000'),
        message: 'at most 32 characters, stored in invoice_lines.price_per_point (this has 34)',
      },
      {
        path: 'partners[4].charts[0].id',
        line: line('- id: IB-'),
        message: `at most 64 characters, stored in ${ruleVersion} and invoice_lines.contract_id (this has 65)`,
      },
      {
        path: `transports.${transport}`,
        line: line(`  ${transport}:`),
        message: 'at most 64 characters, stored in files.transport (this has 65)',
      },
      {
        path: 'feeds.fx.remoteDir',
        line: line('fx/fx/'),
        message:
          "at most 768 characters, stored in files.remote_path (1024 characters) before '/' and a file name of up to 255 (this has 769)",
      },
      {
        path: 'reports.custom[0].name',
        line: line('- name: partner-points-by-month-'),
        message: 'at most 64 characters, stored in mail_outbox.report (this has 65)',
      },
      {
        path: 'reports.custom[0].title',
        line: line('title: Partner points by month Partner'),
        message:
          "at most 242 characters, stored in mail_outbox.subject (255 characters) before ' — ' and the business date (this has 248)",
      },
    ]);
    expect(err.exitCode).toBe(2);

    // At the bounds, each is taken.
    const fits = example
      .replace('- id: DRIVE-2025', `- id: DRIVE-2025-${'X'.repeat(53)}`)
      .replace('RENTAL_DAY: {', `RENTAL_DAY_${'D'.repeat(21)}: {`)
      .replace('- id: IB-2025', `- id: IB-${'🛫'.repeat(61)}`);
    const config = parseConfig(fits, examplePath, {});
    expect([...config.partners[4]!.charts[0]!.id]).toHaveLength(64);
    expect(config.partners[1]!.contracts[0]!.id).toHaveLength(64);
  });

  it('refuses a per-activity cap past what one activity can be credited (activities.points, an integer)', () => {
    const capped = (cap: number) =>
      example.replace(
        'RENTAL_DAY: { per: spend, rate: "1", capPerActivity: 3000 }',
        `RENTAL_DAY: { per: spend, rate: "1", capPerActivity: ${cap} }`,
      );
    expect(
      parseConfig(capped(2_147_483_647), examplePath, {}).partners[1]!.contracts[0]!.activities.RENTAL_DAY!
        .capPerActivity,
    ).toBe(2_147_483_647);
    expect(problems(capped(2_147_483_648)).problems).toEqual([
      {
        path: 'partners[1].contracts[0].activities.RENTAL_DAY.capPerActivity',
        line:
          capped(0)
            .split('\n')
            .findIndex((l) => l.includes('RENTAL_DAY:')) + 1,
        message: 'at most 2147483647, as activities.points holds',
      },
    ]);
  });

  it('waits 3 nights for a partner passenger’s coupon unless told otherwise, and refuses a wait that is no number of nights', () => {
    const waiting = (days: string) =>
      example.replace(
        'alliance: { resultsDueDays: 7, couponWaitDays: 3 }',
        `alliance: { resultsDueDays: 7${days} }`,
      );
    expect(parseConfig(waiting(''), examplePath, {}).exports.alliance.couponWaitDays).toBe(3);
    expect(parseConfig(waiting(', couponWaitDays: 0'), examplePath, {}).exports.alliance.couponWaitDays).toBe(
      0,
    );
    const line = example.split('\n').findIndex((l) => l.includes('couponWaitDays: 3 }')) + 1;
    for (const [days, message] of [
      ['-1', 'Too small: expected number to be >=0'],
      ['1.5', 'Invalid input: expected int, received number'],
      ['31', expect.stringMatching(/^at most 30: /)],
    ] as const)
      expect(problems(waiting(`, couponWaitDays: ${days}`)).problems).toEqual([
        { path: 'exports.alliance.couponWaitDays', line, message },
      ]);
  });

  it('refuses a secret written into the file where an environment variable name belongs', () => {
    const err = problems(example.replace('passwordEnv: REDEYE_SMTP_PASSWORD', 'passwordEnv: "hunter2 "'));
    expect(err.problems.map((p) => p.path)).toContain('mail.smtp.passwordEnv');
  });

  it('refuses two contracts of one partner in force on the same day for the same activity type', () => {
    const err = problems(example.replace('validTo: 2026-06-30', 'validTo: 2026-07-01'));
    const problem = err.problems.find((p) => p.path === 'partners[0].contracts[1].validFrom');
    expect(problem?.message).toBe(
      'contracts GRANDSTAY-2024 and GRANDSTAY-2026 of GRANDSTAY are both in force on some dates for STAY; end one before the other begins',
    );
  });

  /** The 1-based line of the first line of the example holding `text`. */
  const lineOfText = (text: string, from = 0) =>
    example.split('\n').findIndex((l, i) => i >= from && l.includes(text)) + 1;

  it('refuses a contract or promotion that ends before it begins, which would be in force on no date', () => {
    const err = problems(
      example
        .replace('validTo: 2026-06-30', 'validTo: 2023-06-30')
        .replace(/(\bto: )2026-08-31/, '$12026-05-31'),
    );
    expect(err.problems.find((p) => p.path === 'partners[0].contracts[0].validTo')?.message).toBe(
      'validTo is before validFrom: the contract would be in force on no date',
    );
    expect(err.problems.find((p) => p.path.endsWith('promotions[0].to'))?.message).toBe(
      'to is before from: the promotion would apply on no date',
    );
  });

  describe('expiry, one policy or versions by effective date', () => {
    const single =
      'expiry:\n  policy: fixedTerm            # points expire 36 months after the end of the month they were earned\n  months: 36\n  warningDays: 60\n';
    const withExpiry = (block: string) => {
      expect(example).toContain(single);
      return example.replace(single, block);
    };

    it('reads a single policy as the only version, in force on every date', () => {
      expect(parseConfig(example, examplePath, {}).expiry).toEqual([
        { policy: 'fixedTerm', months: 36, warningDays: 60 },
      ]);
    });

    it('reads a list of versions, each with its effective date, in date order', () => {
      const config = parseConfig(
        withExpiry(
          'expiry:\n' +
            '  - { effectiveFrom: 2026-02-01, policy: fixedTerm, months: 12 }\n' +
            '  - { effectiveFrom: 2024-01-01, policy: inactivity, months: 18, warningDays: 45 }\n',
        ),
        examplePath,
        {},
      );
      expect(config.expiry).toEqual([
        { effectiveFrom: '2024-01-01', policy: 'inactivity', months: 18, warningDays: 45 },
        { effectiveFrom: '2026-02-01', policy: 'fixedTerm', months: 12, warningDays: 30 },
      ]);
    });

    it('refuses a version without a date, two versions of one date and a bad policy, each at its path and line', () => {
      const text = withExpiry(
        'expiry:\n' +
          '  - { policy: inactivity, months: 18 }\n' +
          '  - { effectiveFrom: 2026-02-01, policy: fixedTerm, months: 12 }\n' +
          '  - { effectiveFrom: 2026-02-01, policy: fixedTerm, months: 24 }\n',
      );
      const line = (n: number) => text.split('\n').indexOf('expiry:') + 1 + n;
      const err = problems(text);
      expect(err.problems.filter((p) => p.path.startsWith('expiry'))).toEqual([
        expect.objectContaining({ path: 'expiry[0].effectiveFrom', line: line(1) }),
      ]);
      const twice = problems(
        text.replace(
          '  - { policy: inactivity, months: 18 }',
          '  - { effectiveFrom: 2024-01-01, policy: inactivity, months: 18 }',
        ),
      );
      expect(twice.problems.filter((p) => p.path.startsWith('expiry'))).toEqual([
        {
          path: 'expiry[2].effectiveFrom',
          line: line(3),
          message: 'another expiry version is in force from 2026-02-01',
        },
      ]);
      const bad = problems(withExpiry('expiry:\n  policy: forever\n  months: 36\n'));
      expect(bad.problems.filter((p) => p.path.startsWith('expiry'))).toEqual([
        expect.objectContaining({
          path: 'expiry.policy',
          line: text.split('\n').indexOf('expiry:') + 2,
          message: "Invalid discriminator value. Expected 'fixedTerm' | 'inactivity'",
        }),
      ]);
    });
  });

  describe('tier rules, one set or versions by effective date (MISSION: rules are versioned by effective date)', () => {
    const level = (code: string, name: string, threshold: number) =>
      `      - { code: ${code}, name: ${name}, threshold: ${threshold} }\n`;
    const version = (from: string, thresholds: [number, number, number], extra = '') =>
      `  - effectiveFrom: ${from}\n    metric: spend\n    window: rolling12\n${extra}    levels:\n` +
      level('MEMBER', 'Member', 0).replace(/^ {6}/, '      ') +
      level('SILVER', 'Silver', thresholds[0]) +
      level('GOLD', 'Gold', thresholds[1]) +
      level('PLATINUM', 'Platinum', thresholds[2]);
    const withTiers = (block: string) => {
      const text = example.replace(/^tiers:\n(?: .*\n)+/m, `tiers:\n${block}`);
      expect(text).not.toBe(example);
      return text;
    };

    it('accepts tiers as a list of versions, each with its effectiveFrom, as expiry and air earning are', () => {
      const versioned = withTiers(
        version('2024-01-01', [1000, 2500, 5000]) + version('2026-07-01', [1200, 3000, 6000]),
      );
      expect(() => parseConfig(versioned, examplePath, {})).not.toThrow();
    });

    it('reads a single set of rules as the only version, and versions in date order, each judged on its dates', () => {
      expect(parseConfig(example, examplePath, {}).tiers).toEqual([
        expect.not.objectContaining({ effectiveFrom: expect.anything() }),
      ]);
      const config = parseConfig(
        withTiers(
          version(
            '2026-07-01',
            [1200, 3000, 6000],
            '    review: calendarYear\n    softLanding: false\n',
          ).replace('window: rolling12', 'window: calendarYear') + version('2024-01-01', [1000, 2500, 5000]),
        ),
        examplePath,
        {},
      );
      expect(config.tiers.map((v) => [v.effectiveFrom, v.window, v.review, v.softLanding])).toEqual([
        ['2024-01-01', 'rolling12', 'anniversary', true],
        ['2026-07-01', 'calendarYear', 'calendarYear', false],
      ]);
      const program = new Program(config);
      // The first version also covers the dates before it.
      expect(program.tierFor(100000, '2023-05-01')).toBe('SILVER');
      expect(program.tierFor(100000, '2026-06-30')).toBe('SILVER');
      expect(program.tierFor(100000, '2026-07-01')).toBe('MEMBER');
      expect(program.tierFor(120000, '2026-07-01')).toBe('SILVER');
      expect(program.qualificationWindow('2026-06-30')).toEqual({ from: '2025-07-01', to: '2026-06-30' });
      expect(program.qualificationWindow('2026-07-01')).toEqual({ from: '2026-01-01', to: '2026-07-01' });
      expect(program.reviewDateAfter('2026-06-30')).toBe('2027-06-30');
      expect(program.reviewDateAfter('2026-07-01')).toBe('2027-12-31');
      expect([program.softLanding('2026-06-30'), program.softLanding('2026-07-01')]).toEqual([true, false]);
      expect(program.tierCodes).toEqual(['MEMBER', 'SILVER', 'GOLD', 'PLATINUM']);
    });

    it('refuses two versions from one date, a version without a date and a version naming other tiers, each at its path and line', () => {
      const text = withTiers(
        version('2024-01-01', [1000, 2500, 5000]) +
          version('2026-07-01', [1200, 3000, 6000]) +
          version('2026-07-01', [1100, 3000, 6000]),
      );
      const line = (n: number) => text.split('\n').indexOf('tiers:') + 1 + n;
      expect(problems(text).problems.filter((p) => p.path.startsWith('tiers'))).toEqual([
        {
          path: 'tiers[2].effectiveFrom',
          line: line(17),
          message: 'another tier version is in force from 2026-07-01',
        },
      ]);
      const undated = problems(
        withTiers(
          version('2024-01-01', [1000, 2500, 5000]).replace(
            '  - effectiveFrom: 2024-01-01\n    metric',
            '  - metric',
          ),
        ),
      );
      expect(undated.problems.filter((p) => p.path.startsWith('tiers'))).toEqual([
        expect.objectContaining({ path: 'tiers[0].effectiveFrom', line: line(1) }),
      ]);
      const renamed = withTiers(
        version('2024-01-01', [1000, 2500, 5000]) +
          version('2026-07-01', [1200, 3000, 6000]).replace('code: PLATINUM', 'code: DIAMOND'),
      );
      expect(problems(renamed).problems.filter((p) => p.path.startsWith('tiers'))).toEqual([
        {
          path: 'tiers[1].levels',
          line: line(12),
          message: expect.stringContaining(
            'the tier version in force from 2026-07-01 names the tiers MEMBER, SILVER, GOLD, DIAMOND, where the one from 2024-01-01 names MEMBER, SILVER, GOLD, PLATINUM',
          ),
        },
      ]);
      // Reordered tiers would rank the history already written otherwise.
      const reordered = withTiers(
        version('2024-01-01', [1000, 2500, 5000]) +
          version('2026-07-01', [1200, 3000, 6000]).replace(
            'code: GOLD, name: Gold',
            'code: G0LD, name: Gold',
          ),
      );
      expect(problems(reordered).problems.map((p) => p.path)).toContain('tiers[1].levels');
      // A version's own rules are checked as a single set's are, at the version's path.
      const falling = problems(
        withTiers(version('2024-01-01', [1000, 2500, 5000]) + version('2026-07-01', [1200, 900, 6000])),
      );
      expect(falling.problems.filter((p) => p.path.startsWith('tiers'))).toEqual([
        expect.objectContaining({
          path: 'tiers[1].levels[2].threshold',
          line: line(15),
          message: 'tier thresholds must increase from one level to the next',
        }),
      ]);
    });

    it('reads the status earning rule as one rule or versions by effective date', () => {
      expect(parseConfig(example, examplePath, {}).earning.status).toEqual([
        { spendComponents: ['fare', 'tax'], partnerAirlines: true },
      ]);
      const statusBlock = /^ {2}status:.*\n(?: {4}.*\n| {20,}#.*\n)+/m;
      expect(example).toMatch(statusBlock);
      const versioned = example.replace(
        statusBlock,
        '  status:\n' +
          '    - { effectiveFrom: 2026-07-01, spendComponents: [fare] }\n' +
          '    - { effectiveFrom: 2024-01-01, spendComponents: [fare, tax], partnerAirlines: false }\n',
      );
      const config = parseConfig(versioned, examplePath, {});
      expect(config.earning.status).toEqual([
        { effectiveFrom: '2024-01-01', spendComponents: ['fare', 'tax'], partnerAirlines: false },
        { effectiveFrom: '2026-07-01', spendComponents: ['fare'], partnerAirlines: true },
      ]);
      const program = new Program(config);
      expect(program.statusEarning('2026-06-30').spendComponents).toEqual(['fare', 'tax']);
      expect(program.statusEarning('2026-07-01').spendComponents).toEqual(['fare']);
      const twice = problems(
        versioned.replace(
          '{ effectiveFrom: 2024-01-01, spendComponents',
          '{ effectiveFrom: 2026-07-01, spendComponents',
        ),
      );
      expect(twice.problems.map((p) => [p.path, p.message])).toEqual([
        ['earning.status[1].effectiveFrom', 'another status earning version is in force from 2026-07-01'],
      ]);
    });
  });

  it('refuses two air earning versions, or two charts of a partner airline, in force from one date, at the later one', () => {
    const draft =
      '    - { id: air-2024-draft, effectiveFrom: 2024-01-01, basis: distance, classRates: { Y: 0.1 } }';
    const chart = '      - { id: IB-2025b, effectiveFrom: 2025-01-01, classRates: { Y: 0.1 } }';
    const text = example
      .replace('\n  status:', `\n${draft}\n  status:`)
      .replace(/( {6}- id: IB-2025\n(?: {8}[^\n]*\n)+)/, `$1${chart}\n`);
    const lineOf = (needle: string) => text.split('\n').indexOf(needle) + 1;
    const ib = parseConfig(example, examplePath, {}).partners.findIndex((p) => p.code === 'IB');
    const err = problems(text);
    expect(err.exitCode).toBe(2);
    expect(err.problems).toEqual([
      {
        path: 'earning.air[1].effectiveFrom',
        line: lineOf(draft),
        message: 'another air earning version (air-2024) is in force from 2024-01-01',
      },
      {
        path: `partners[${ib}].charts[1].effectiveFrom`,
        line: lineOf(chart),
        message: 'another chart (IB-2025) is in force from 2025-01-01',
      },
    ]);
    // A version from a date of its own is what versions are for.
    const next = parseConfig(
      text
        .replace('effectiveFrom: 2024-01-01, basis', 'effectiveFrom: 2027-01-01, basis')
        .replace('IB-2025b, effectiveFrom: 2025-01-01', 'IB-2025b, effectiveFrom: 2026-04-01'),
      examplePath,
      {},
    );
    expect(next.earning.air.map((v) => v.id)).toEqual(['air-2024', 'air-2024-draft']);
    expect(next.partners[ib]!.charts.map((c) => c.id)).toEqual(['IB-2025', 'IB-2025b']);
  });

  it('refuses an air earning version, a partner contract or a chart whose id another already has, at the later one', () => {
    // A copy of air-2024 with Y at 200% under the same id: a Y flight credited 922 under it from the
    // FTL was recomputed under the 2024 version when its coupon came (-461).
    const copy = '    - { id: air-2024, effectiveFrom: 2026-09-01, basis: distance, classRates: { Y: 2.0 } }';
    const contract =
      '      - { id: GRANDSTAY-2024, validFrom: 2027-01-01, pricePerPoint: "0.0120", activities: { SPA: { per: spend, rate: "4" } } }';
    const chart = '      - { id: IB-2025, effectiveFrom: 2026-04-01, classRates: { Y: 2.0 } }';
    const text = example
      .replace('\n  status:', `\n${copy}\n  status:`)
      .replace('\n  - code: DRIVE', `\n${contract}\n  - code: DRIVE`)
      .replace(/( {6}- id: IB-2025\n(?: {8}[^\n]*\n)+)/, `$1${chart}\n`);
    const lineOf = (needle: string) => text.split('\n').indexOf(needle) + 1;
    const ib = parseConfig(example, examplePath, {}).partners.findIndex((p) => p.code === 'IB');
    const err = problems(text);
    expect(err.exitCode).toBe(2);
    expect(err.problems).toEqual([
      {
        path: 'earning.air[1].id',
        line: lineOf(copy),
        message:
          "air-2024 is already the id of the air earning version in force from 2024-01-01 (earning.air[0]): a flight's award is recomputed when its coupon comes under the version its posting names, which would be that one; give each version an id of its own",
      },
      {
        path: 'partners[0].contracts[2].id',
        line: lineOf(contract),
        message:
          "GRANDSTAY-2024 is already the id of GRANDSTAY's contract valid from 2024-01-01 (partners[0].contracts[0]): an invoice prices each credit by the contract or chart its posting names, so this one's credits would be billed at that one's price; give each an id of its own",
      },
      {
        path: `partners[${ib}].charts[1].id`,
        line: lineOf(chart),
        message: `IB-2025 is already the id of IB's chart in force from 2025-01-01 (partners[${ib}].charts[0]): an invoice prices each credit by the contract or chart its posting names, so this one's credits would be billed at that one's price; give each an id of its own`,
      },
    ]);
    // Ids of their own, each version and contract loads.
    const own = parseConfig(
      text
        .replace('id: air-2024, effectiveFrom: 2026-09-01', 'id: air-2026, effectiveFrom: 2026-09-01')
        .replace('id: GRANDSTAY-2024, validFrom: 2027-01-01', 'id: GRANDSTAY-2027, validFrom: 2027-01-01')
        .replace('id: IB-2025, effectiveFrom: 2026-04-01', 'id: IB-2026, effectiveFrom: 2026-04-01'),
      examplePath,
      {},
    );
    expect(own.earning.air.map((v) => v.id)).toEqual(['air-2024', 'air-2026']);
  });

  it('refuses a partner airline program code or a hotel chain another partner already has, naming that partner', () => {
    // Each loaded before, the later partner taking the code: LH cards were credited under IB's chart and
    // billed to IB, and GrandStay's stays went to the franchise.
    const franchise = [
      '  - code: GSFRANCHISE',
      '    name: GrandStay franchise',
      '    kind: hotel',
      '    hotelChains: [GS/GSX, GS]',
      '    contracts:',
      '      - { id: GSF-2026, validFrom: 2026-01-01, pricePerPoint: "0.0100", activities: { STAY: { per: spend, rate: "1" } } }',
    ].join('\n');
    const text = example
      .replace('    program: IB\n', '    program: LH\n')
      .replace('\n  - code: DRIVE', `\n${franchise}\n  - code: DRIVE`);
    const lineOf = (needle: string, from = 0) =>
      text.split('\n').findIndex((l, i) => i >= from && l.includes(needle)) + 1;
    const codes = parseConfig(example, examplePath, {}).partners.map((p) => p.code);
    const [lh, ib] = [codes.indexOf('LH') + 1, codes.indexOf('IB') + 1];
    const err = problems(text);
    expect(err.exitCode).toBe(2);
    expect(err.problems).toEqual([
      {
        path: 'partners[1].hotelChains[1]',
        line: lineOf('hotelChains: [GS/GSX, GS]'),
        message:
          "hotel chain GS is already GRANDSTAY's (partners[0].hotelChains[0]): a stay of it is credited to one partner, so GSFRANCHISE would take its stays and their bills from GRANDSTAY; name each chain (or chain/brand) under one partner",
      },
      {
        path: `partners[${ib}].program`,
        line: lineOf('program: LH', lineOf('- code: IB')),
        message: `program LH is already LH's (partners[${lh}].program): a card of it selects one partner, so IB would take its flights and their bills from LH; give each partner airline its own program code`,
      },
    ]);
    // A brand of the chain is a partner's of its own (its stays go there, the chain's others to
    // GrandStay), as is a program code of its own.
    const own = parseConfig(
      text
        .replace(
          '    program: LH\n    billing: { currency: EUR, organizationId: "075"',
          '    program: IB\n    billing: { currency: EUR, organizationId: "075"',
        )
        .replace('[GS/GSX, GS]', '[GS/GSX]'),
      examplePath,
      {},
    );
    const program = new Program(own);
    expect(program.partnerForProgram('LH')?.code).toBe('LH');
    expect(program.partnerForProgram('IB')?.code).toBe('IB');
    expect(program.partnerForHotelChain('GS')?.code).toBe('GRANDSTAY');
    expect(program.partnerForHotelChain('GS', 'GSX')?.code).toBe('GSFRANCHISE');
    // A chain/brand twice across partners is a repeat too; a chain and one of its brands are not.
    expect(
      problems(
        text.replace('[GS/GSX, GS]', '[GS/GSX]').replace('hotelChains: [GS]', 'hotelChains: [GS, GS/GSX]'),
      ).problems,
    ).toContainEqual(
      expect.objectContaining({
        path: 'partners[1].hotelChains[0]',
        message: expect.stringMatching(
          /^hotel chain GS\/GSX is already GRANDSTAY's \(partners\[0\]\.hotelChains\[1\]\)/,
        ),
      }),
    );
  });

  it('refuses a contract activity type no partner record can carry, at its key', () => {
    // Loaded before: REDBANK's records, CARD_SPEND as the feed allows, found no contract (NO_CONTRACT),
    // and card-spend or CardSpend written in the file were rejected MALFORMED, night after night.
    const rule = '          CARD_SPEND: { per: spend, rate: "1" }';
    const line = example.split('\n').indexOf(rule) + 1;
    const bank = parseConfig(example, examplePath, {}).partners.findIndex((p) => p.code === 'REDBANK');
    for (const type of ['card-spend', 'CardSpend', '1CARD', 'CARD SPEND']) {
      const err = problems(example.replace(rule, rule.replace('CARD_SPEND', JSON.stringify(type))));
      expect(err.exitCode).toBe(2);
      expect(err.problems).toEqual([
        {
          path: `partners[${bank}].contracts[0].activities.${type}`,
          line,
          message: `${type} is not an activity type a partner record can carry (capital letters, digits and _, starting with a letter, as CARD_SPEND): no record would ever be credited under this rule`,
        },
      ]);
    }
    // What the feed takes loads, as do the example's (and so the demo's) types, STAY for hotel stays.
    const config = parseConfig(
      example.replace(rule, rule.replace('CARD_SPEND', 'CARD_SPEND_2')),
      examplePath,
      {},
    );
    expect(Object.keys(config.partners[bank]!.contracts[0]!.activities)).toEqual(['CARD_SPEND_2']);
    expect(
      new Set(config.partners.flatMap((p) => p.contracts.flatMap((c) => Object.keys(c.activities)))),
    ).toEqual(new Set(['STAY', 'RENTAL', 'RENTAL_DAY', 'CARD_SPEND_2']));
  });

  it('refuses an air earning version under which no flight could earn: revenue without pointsPerUnit, distance without class rates', () => {
    const revenue = '    - { id: air-2026r, effectiveFrom: 2026-09-01, basis: revenue }';
    const distance =
      '    - { id: air-2027, effectiveFrom: 2027-01-01, basis: distance, classRates: { Y: 0 } }';
    const text = example.replace('\n  status:', `\n${revenue}\n${distance}\n  status:`);
    const lineOf = (needle: string) => text.split('\n').indexOf(needle) + 1;
    expect(problems(text).problems).toEqual([
      {
        path: 'earning.air[1].pointsPerUnit',
        line: lineOf(revenue),
        message:
          'a revenue-based version earns pointsPerUnit points per unit of base currency: set it above 0 (at 0, every flight under air-2026r would be credited 0 points)',
      },
      {
        path: 'earning.air[2].classRates',
        line: lineOf(distance),
        message:
          'a distance-based version earns by class: give at least one class a rate above 0 (with none, every flight under air-2027 would be refused CLASS_NOT_ELIGIBLE)',
      },
    ]);
    const noRates = problems(
      example.replace(
        '\n  status:',
        '\n    - { id: air-2027, effectiveFrom: 2027-01-01, basis: distance }\n  status:',
      ),
    );
    expect(noRates.problems.map((p) => p.path)).toEqual(['earning.air[1].classRates']);
    const earning = parseConfig(
      text
        .replace('basis: revenue }', 'basis: revenue, pointsPerUnit: "0.5" }')
        .replace('{ Y: 0 }', '{ Y: 0, J: 2 }'),
      examplePath,
      {},
    );
    expect(earning.earning.air.map((v) => v.id)).toEqual(['air-2024', 'air-2026r', 'air-2027']);
    // A partner airline's chart likewise: no class earning under it refuses every flight on the partner.
    const chart =
      '        classRates: { F: 3.0, A: 3.0, J: 2.0, C: 2.0, D: 2.0, Z: 1.5, P: 1.5, Y: 1.0, B: 1.0, M: 1.0, H: 0.5, K: 0.5, L: 0.25, T: 0.25 }';
    expect(text.includes(chart)).toBe(true);
    const emptyChart = problems(example.replace(chart, '        classRates: {}'));
    expect(emptyChart.problems).toEqual([
      {
        path: 'partners[3].charts[0].classRates',
        line: example.split('\n').indexOf(chart) + 1,
        message:
          "a partner airline's chart earns by flown class: give at least one class a rate above 0 (with none, every flight on the partner would be refused CLASS_NOT_ELIGIBLE)",
      },
    ]);
  });

  it("refuses a promotion whose dates run outside its version's period, naming the version that takes over", () => {
    // SOCHI-SUMMER (1 June to 31 August 2026) under air-2024, and a version from 1 July without it: a
    // flight of 10 July got no promotion.
    const next =
      '    - { id: air-2026, effectiveFrom: 2026-07-01, basis: distance, classRates: { Y: 1.0 }, promotions: [{ id: AUTUMN, from: 2026-06-20, to: 2026-10-31, bonus: 0.25 }] }';
    const text = example.replace('\n  status:', `\n${next}\n  status:`);
    const lineOf = (needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;
    expect(problems(text).problems).toEqual([
      {
        path: 'earning.air[0].promotions[0].to',
        line: lineOf('id: SOCHI-SUMMER'),
        message:
          'promotion SOCHI-SUMMER runs to 2026-08-31, past the last day of air-2024 (2026-06-30): flights from 2026-07-01 are credited under air-2026, which applies only its own promotions; end it on 2026-06-30 and list it in air-2026 for the days after',
      },
      {
        path: 'earning.air[1].promotions[0].from',
        line: lineOf(next),
        message:
          'promotion AUTUMN begins on 2026-06-20, before air-2026 is in force (from 2026-07-01): flights until then are credited under air-2024, which applies only its own promotions; begin it on 2026-07-01 and list it in air-2024 for the days before',
      },
    ]);
    // The operator's fix: each version lists the promotion for the days it covers.
    const split = parseConfig(
      text
        .replace('to: 2026-08-31, routes: ["*-AER"]', 'to: 2026-06-30, routes: ["*-AER"]')
        .replace(
          'promotions: [{ id: AUTUMN, from: 2026-06-20,',
          'promotions: [{ id: SOCHI-SUMMER, from: 2026-07-01, to: 2026-08-31, routes: ["*-AER"], bonus: 0.5 }, { id: AUTUMN, from: 2026-07-01,',
        ),
      examplePath,
      {},
    );
    expect(split.earning.air[1]!.promotions.map((p) => [p.id, p.from, p.to])).toEqual([
      ['SOCHI-SUMMER', '2026-07-01', '2026-08-31'],
      ['AUTUMN', '2026-07-01', '2026-10-31'],
    ]);
  });

  it('refuses a mail sender or recipient that is not an e-mail address, at start-up rather than at send', () => {
    const err = problems(
      example
        .replace('[commercial@airline.example]', '[commercial@airline.example, not-an-address]')
        .replace('from: "Redeye reports <redeye@airline.example>"', 'from: "Redeye reports <redeye>"'),
    );
    expect(err.problems.map((p) => [p.path, p.message])).toEqual([
      [
        'mail.from',
        'the sender: expected an e-mail address, e.g. ops@airline.example or "Ops <ops@airline.example>"',
      ],
      [
        'mail.lists.daily[1]',
        'a recipient: expected an e-mail address, e.g. ops@airline.example or "Ops <ops@airline.example>"',
      ],
    ]);
  });

  it('refuses misspelt keys instead of dropping them, each with its path, line and the key it likely meant', () => {
    const broken = example
      .replace('capPerPeriod: { points: 50000', 'capPerperiod: { points: 50000')
      .replace('softLanding: true', 'softlanding: true')
      .replace('catchUpDays: 7', 'catchUpDay: 7')
      .replace('holdHours: 48', 'holdHour: 48')
      .replace('  level: info', '  level: info\n  colour: never');
    const err = problems(broken);
    const byPath = Object.fromEntries(err.problems.map((p) => [p.path, p]));
    expect(byPath['partners[2].contracts[0].capPerperiod']).toEqual({
      path: 'partners[2].contracts[0].capPerperiod',
      line: lineOfText('capPerPeriod'),
      message: 'unknown key "capPerperiod" (did you mean "capPerPeriod"?)',
    });
    expect(byPath['tiers.softlanding']!.message).toBe(
      'unknown key "softlanding" (did you mean "softLanding"?)',
    );
    expect(byPath['tiers.softlanding']!.line).toBe(lineOfText('softLanding'));
    expect(byPath['schedules.catchUpDay']!.message).toMatch(/did you mean "catchUpDays"/);
    expect(byPath['feeds.ftl.holdHour']!.message).toMatch(/did you mean "holdHours"/);
    expect(byPath['feeds.ftl.holdHour']!.line).toBe(lineOfText('holdHours'));
    // Nothing close: the keys the section knows.
    expect(byPath['logging.colour']!.message).toBe('unknown key "colour" (known here: level)');
    expect(err.problems).toHaveLength(5);
    expect(err.exitCode).toBe(2);
    expect(err.describe()).toContain(
      `partners[2].contracts[0].capPerperiod (line ${lineOfText('capPerPeriod')}): unknown key "capPerperiod"`,
    );
  });

  it('refuses a misspelt key in a block map at the line of the key, and in a transport', () => {
    const err = problems(
      example
        .replace('    root: ../var/inbox', '    rooot: ../var/inbox')
        .replace('retention:\n  closedMonths: 24', 'retention:\n  closedMonth: 24'),
    );
    const byPath = Object.fromEntries(err.problems.map((p) => [p.path, p]));
    expect(byPath['transports.inbox.rooot']!.message).toBe('unknown key "rooot" (did you mean "root"?)');
    expect(byPath['transports.inbox.rooot']!.line).toBe(lineOfText('root: ../var/inbox'));
    expect(byPath['retention.closedMonth']!.line).toBe(lineOfText('closedMonths'));
    expect(byPath['transports.inbox.root']!.message).toMatch(/expected string/i);
  });

  it('keeps the maps keyed by name open: activity types of a contract, transports', () => {
    const config = parseConfig(
      example
        .replace(
          'RENTAL: { per: activity, rate: "500" }',
          'RENTAL: { per: activity, rate: "500" }\n          BOOKING: { per: activity, rate: "1" }',
        )
        .replace(
          '  outbox:                      # where exports',
          '  spare: { type: local, root: ../var/spare }\n  outbox:                      # where exports',
        ),
      examplePath,
      {},
    );
    expect(Object.keys(config.partners.find((p) => p.code === 'DRIVE')!.contracts[0]!.activities)).toContain(
      'BOOKING',
    );
    expect(Object.keys(config.transports)).toEqual(['inbox', 'spare', 'outbox']);
  });

  it('refuses a time zone the runtime does not know, in the program and in the schedules', () => {
    const err = problems(
      example
        .replace('  timeZone: Europe/Moscow\n\ndatabase', '  timeZone: Europe/Moskva\n\ndatabase')
        .replace('schedules:\n  timeZone: Europe/Moscow', 'schedules:\n  timeZone: Mars/Olympus_Mons'),
    );
    const byPath = Object.fromEntries(err.problems.map((p) => [p.path, p]));
    expect(byPath['program.timeZone']).toEqual({
      path: 'program.timeZone',
      line: lineOfText('timeZone: Europe/Moscow'),
      message:
        'unknown time zone "Europe/Moskva": expected an IANA time zone such as Europe/Moscow or UTC (did you mean "Europe/Moscow"?)',
    });
    expect(byPath['schedules.timeZone']!.message).toMatch(/^unknown time zone "Mars\/Olympus_Mons"/);
    expect(byPath['schedules.timeZone']!.line).toBe(
      lineOfText('timeZone: Europe/Moscow', lineOfText('schedules:')),
    );
    expect(
      parseConfig(example.replace('timeZone: Europe/Moscow', 'timeZone: UTC'), examplePath, {}).program
        .timeZone,
    ).toBe('UTC');
  });

  it('refuses a name that points at no transport, partner, tier or report wherever one is named', () => {
    const broken = example
      .replace('exports:\n  outbox: outbox', 'exports:\n  outbox: outbx')
      .replace('    program: LH\n', '    program: LH\n    outbox: lufthansa\n')
      .replace(
        '      schedule: monthly',
        '      schedule: monthly\n      filters: { partner: [GRANDSTAY, DRVE], tier: [GOLD, GLOD] }',
      )
      .replace('    monthly: [commercial@', '    montly: [commercial@');
    const err = problems(broken);
    const byPath = Object.fromEntries(err.problems.map((p) => [p.path, p]));
    expect(byPath['exports.outbox']).toEqual({
      path: 'exports.outbox',
      line: broken.split('\n').indexOf('  outbox: outbx') + 1,
      message: 'no transport named "outbx" (known: inbox, outbox) (did you mean "outbox"?)',
    });
    expect(byPath['partners[3].outbox']!.message).toBe(
      'no transport named "lufthansa" (known: inbox, outbox)',
    );
    expect(byPath['reports.custom[0].filters.partner[1]']!.message).toBe(
      'no partner DRVE (did you mean "DRIVE"?)',
    );
    expect(byPath['reports.custom[0].filters.tier[1]']!.message).toBe(
      'unknown tier GLOD (did you mean "GOLD"?)',
    );
    expect(byPath['mail.lists.montly']!.message).toBe('no report named "montly" (did you mean "monthly"?)');
    expect(err.problems).toHaveLength(5);
  });

  it('refuses a pools setting that earns into one account and redeems from the other, naming the file, fields and line', () => {
    const line = lineOfText('redeemFrom: pool');
    const intoPool = problems(example.replace('redeemFrom: pool', 'redeemFrom: member'));
    expect(intoPool.message).toBe('configuration file /etc/redeye/redeye.config.yaml has 1 problem(s)');
    expect(intoPool.problems).toEqual([
      {
        path: 'pools.redeemFrom',
        line,
        message:
          'earnInto: pool with redeemFrom: member strands points in the pool, which no redemption debits; a program pools points (earnInto: pool, redeemFrom: pool) or does not (earnInto: member, redeemFrom: member)',
      },
    ]);
    const intoMember = problems(example.replace('earnInto: pool', 'earnInto: member'));
    expect(intoMember.describe()).toContain(
      `pools.redeemFrom (line ${line}): earnInto: member with redeemFrom: pool strands points on the member's own account`,
    );
    // Omitted, a field defaults to pool: naming only the other as member is the mixed setting too.
    expect(
      problems(example.replace('  earnInto: pool\n', '').replace('redeemFrom: pool', 'redeemFrom: member'))
        .problems,
    ).toHaveLength(1);
    const notPooling = parseConfig(
      example.replace('earnInto: pool', 'earnInto: member').replace('redeemFrom: pool', 'redeemFrom: member'),
      examplePath,
      {},
    );
    expect(notPooling.pools).toEqual({ earnInto: 'member', redeemFrom: 'member' });
  });

  it('refuses a calendar-year window reviewed on anniversaries, which would judge members on part of a year', () => {
    const calendar = example.replace('window: rolling12', 'window: calendarYear');
    expect(problems(calendar).problems).toEqual([
      {
        path: 'tiers.review',
        line: lineOfText('review: anniversary'),
        message:
          'a calendarYear window is reviewed on 31 December: set review: calendarYear (an anniversary review would judge members on part of a year)',
      },
    ]);
    // Left out, the review defaults to anniversary: the same mismatch.
    expect(problems(calendar.replace(/ {2}review: anniversary.*\n.*\n/, '')).problems).toHaveLength(1);
    expect(
      parseConfig(calendar.replace('review: anniversary', 'review: calendarYear'), examplePath, {}).tiers,
    ).toMatchObject([{ window: 'calendarYear', review: 'calendarYear' }]);
  });

  it('refuses an invalid cron expression with its path and line', () => {
    const err = problems(
      example
        .replace('{ job: nightly, cron: "30 2 * * *" }', '{ job: nightly, cron: "30 25 * * *" }')
        .replace('{ job: monthly, cron: "0 6 1 * *" }', '{ job: monthly, cron: "0 6 1 *" }'),
    );
    expect(err.problems).toEqual([
      {
        path: 'schedules.jobs[0].cron',
        line: lineOfText('job: nightly'),
        message: expect.stringMatching(/^not a cron expression: "30 25 \* \* \*" \(25 .*hour\)/),
      },
      {
        path: 'schedules.jobs[1].cron',
        line: lineOfText('job: monthly'),
        message: expect.stringMatching(
          /^not a cron expression: "0 6 1 \*" \(expected 5 or 6 fields but got 4\)/,
        ),
      },
    ]);
  });

  it('names the line of a YAML syntax error', () => {
    const err = problems('program:\n  code: XX\n   name: broken indentation\n');
    expect(err.message).toMatch(/not valid YAML/);
    expect(err.problems[0]!.line).toBeGreaterThan(0);
  });

  it('refuses a database URL openDb cannot open, naming database.url or REDEYE_DATABASE_URL and the accepted forms (exit 2)', () => {
    const line = example.split('\n').findIndex((l) => /^\s+url: /.test(l)) + 1;
    const withUrl = (url: string) => example.replace(/^(\s+url: ).*$/m, `$1${url}`);
    for (const [url, words] of [
      ['mysql://localhost/x', 'uses the scheme "mysql:", which Redeye does not support'],
      [
        'postgres:/db/redeye',
        'is not one Redeye reads (a PostgreSQL URL begins with postgres://, in lower case)',
      ],
      [
        'POSTGRES://db/redeye',
        'is not one Redeye reads (a PostgreSQL URL begins with postgres://, in lower case)',
      ],
      ['SQLITE:./var/x.sqlite', 'is not one Redeye reads (write the scheme sqlite: in lower case)'],
      [
        '"postgres://u:p@db:99999/x"',
        'is not a valid PostgreSQL URL (check the host and port; @, / and : in a password are written %40, %2F and %3A)',
      ],
      ['""', 'is empty'],
    ] as const) {
      const err = problems(withUrl(url));
      expect(err.exitCode, url).toBe(2);
      expect(err.problems, url).toEqual([
        {
          path: 'database.url',
          line,
          message: `the database URL ${words}: expected sqlite:<path> (or a plain file path) or postgres://user:password@host:port/database (postgresql:// too)`,
        },
      ]);
    }
    // Before, the URL was taken for a relative SQLite path: a database in a folder named `mysql:`.
    let refused: unknown;
    try {
      parseConfig(example, '/etc/redeye/redeye.config.yaml', {
        REDEYE_DATABASE_URL: 'mysql://u:secret@db/x',
      });
    } catch (e) {
      refused = e;
    }
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as ConfigError).exitCode).toBe(2);
    expect((refused as ConfigError).describe()).toBe(
      'REDEYE_DATABASE_URL: the database URL uses the scheme "mysql:", which Redeye does not support: expected sqlite:<path> (or a plain file path) or postgres://user:password@host:port/database (postgresql:// too)',
    );
    // The accepted forms.
    for (const url of [
      'sqlite:./var/a.sqlite',
      './var/a:b.sqlite',
      '/srv/redeye.sqlite',
      '"sqlite::memory:"',
      // A plain path may hold a colon: a Windows drive, a file name with one.
      "'C:\\redeye\\var\\redeye.sqlite'",
      'data:2026.sqlite',
    ])
      expect(parseConfig(withUrl(url), '/etc/redeye/redeye.config.yaml', {}).database.url).toMatch(
        /^sqlite:/,
      );
    for (const url of ['postgres://u:p@db/redeye', 'postgresql://db:5433/redeye?schema=night'])
      expect(
        parseConfig(example, '/etc/redeye/redeye.config.yaml', { REDEYE_DATABASE_URL: url }).database.url,
      ).toBe(url);
  });

  it('takes the log levels --log-level and REDEYE_LOG_LEVEL take, and no other', () => {
    const withLevel = (level: string) => example.replace(/^(logging:\n\s+level: ).*$/m, `$1${level}`);
    for (const level of ['debug', 'info', 'warn', 'error', 'silent'])
      expect(parseConfig(withLevel(level), '/etc/redeye/redeye.config.yaml', {}).logging.level).toBe(level);
    expect(problems(withLevel('loud')).problems[0]!.path).toBe('logging.level');
  });
});
