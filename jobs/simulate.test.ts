import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  writeFileSync,
  mkdtempSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import iconv from 'iconv-lite';
import { join, resolve } from 'node:path';
import { main } from '../cli/main.js';
import { SIMULATED_FEEDS } from './simulate.js';
import { FEED_DIRS } from '../demo/out.js';
import { openDb, type Db } from '../db/connection.js';
import { insertedId } from '../db/rows.js';
import { migrateLatest } from '../db/migrate.js';
import { insertMember } from '../ledger/members.js';
import { Ledger } from '../ledger/ledger.js';
import { Accounts } from '../ledger/accounts.js';
import { EXAMPLE_CONFIG } from '../test/harness/context.js';

const SHARED = resolve(import.meta.dirname, '../../shared/samples/ftl');
const OWN = resolve(import.meta.dirname, '../parsers/ftl/fixtures');
const sample = (name: string) => (existsSync(join(SHARED, name)) ? join(SHARED, name) : join(OWN, name));

const EMPTY = createHash('sha256').digest('hex');

function sha(path: string): string | null {
  return existsSync(path) ? createHash('sha256').update(readFileSync(path)).digest('hex') : null;
}

/**
 * A flight an earlier night credited: its 1,309-point award posted and its activity archived, with the
 * columns `columns` adds (the feed it came from, its coupon, its route).
 */
async function archiveCreditedFlight(db: Db, key: string, columns: Record<string, unknown>): Promise<void> {
  const member = key.split(':').at(-1)!;
  await new Ledger(db).post([
    {
      key: `${key}:AWARD`,
      kind: 'ACCRUAL',
      businessDate: '2026-06-04',
      entries: [
        { account: Accounts.memberPoints(member), amount: 1309, expiresOn: '2029-06-30' },
        { account: Accounts.ownFlights, amount: -1309 },
      ],
    },
  ]);
  await db.knex('activities').insert({
    activity_key: key,
    type: 'FLIGHT',
    member_number: member,
    activity_date: '2026-06-03',
    business_date: '2026-06-04',
    status: 'POSTED',
    points: 1309,
    posting_key: `${key}:AWARD`,
    needs_accrual: false,
    updated_at: new Date().toISOString(),
    ...columns,
  });
}

describe('redeye simulate', () => {
  let dir: string;
  let config: string;
  let dbFile: string;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'redeye-simulate-'));
    config = join(dir, 'redeye.config.yaml');
    writeFileSync(config, readFileSync(EXAMPLE_CONFIG, 'utf8').replaceAll('../var/', './var/'));
    dbFile = join(dir, 'var', 'redeye.sqlite');
    const db = openDb(`sqlite:${dbFile}`);
    await migrateLatest(db);
    for (const [number, surname, givenName] of [
      ['1000000032', 'ABRAMOV', 'PAVEL'],
      ['1000000040', 'BELOVA', 'IRINA'],
      ['1000000057', 'KOZLOV', 'DMITRY'],
      ['1000000065', 'MORGAN', 'SARAH'],
    ] as const) {
      await insertMember(db.knex, {
        number,
        status: 'ACTIVE',
        tier: number === '1000000065' ? 'GOLD' : 'MEMBER',
        surname,
        givenName,
        enrolmentDate: '2020-01-01',
      });
    }
    // A credit already posted for BELOVA's flight (its FTL came on an earlier night): the simulator sees it.
    await archiveCreditedFlight(db, 'FLT:XX245:2026-06-03:SVO-AER:XX:1000000040', { seen_ftl: true });
    await db.close();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('shows per record the rule, version, points and status credits it would post, and changes nothing in the database', async () => {
    for (const f of ['02-multipart-part1.ftl', '02-multipart-part2.ftl'])
      copyFileSync(sample(f), join(dir, f));
    const before = sha(dbFile);
    const out: string[] = [];
    const code = await main(
      [
        'node',
        'redeye',
        '--config',
        config,
        'simulate',
        'ftl',
        '--date',
        '2026-06-05',
        '--received',
        '2026-06-04T10:00:00Z',
        '--json',
        join(dir, '02-multipart-part1.ftl'),
        join(dir, '02-multipart-part2.ftl'),
      ],
      { output: { out: (s) => out.push(s), err: (s) => out.push(s) }, env: {} },
    );
    expect(code).toBe(0);
    const events = out.map((l) => JSON.parse(l) as Record<string, unknown>);
    const byMember = (n: string) => events.find((e) => String(e.activity ?? '').endsWith(`:XX:${n}`));
    // SVO-AER 873 mi in Y, +50% summer Sochi promotion.
    expect(byMember('1000000032')).toMatchObject({ status: 'POSTED', points: 1309 });
    const abramov = byMember('1000000032')!.postings as Array<{
      ruleVersion: string;
      detail: { basis: string };
    }>;
    expect(abramov[0]).toMatchObject({ ruleVersion: 'air-2024', detail: { basis: '873 mi × 1 (Y)' } });
    // Already credited on an earlier night: a duplicate, nothing new. Its row was archived with no file.
    expect(byMember('1000000040')).toMatchObject({
      status: 'REJECTED',
      reason: 'DUPLICATE',
      points: 0,
      message: 'the passenger (XX 245 2026-06-03 SVO-AER) was already read and posted',
    });
    // Gold members earn the +50% tier bonus on top: booked C (200%) 1,746 + 873 bonus + 873 promotion.
    expect(byMember('1000000065')).toMatchObject({ status: 'POSTED', points: 1746 + 873 + 873 });
    const summary = events.at(-1)!;
    expect(summary).toMatchObject({
      type: 'summary',
      records: 4,
      posted: 3,
      rejected: 1,
      points: 1309 * 2 + 1746 + 873 + 873,
    });
    // Byte for byte: the database file is as it was, and no page went to the write-ahead log (SQLite may
    // create an empty one when it opens a WAL database, even read-only).
    expect(sha(dbFile)).toBe(before);
    expect([null, EMPTY]).toContain(sha(`${dbFile}-wal`));
  });

  it('prints in text how the points were reached, tier bonus and promotion included, and spend toward status in money', async () => {
    const files = Object.fromEntries(
      ['02-multipart-part1.ftl', '02-multipart-part2.ftl'].map((f) => [f, readFileSync(sample(f), 'latin1')]),
    );
    const text = (await simulateOut('ftl', files, '2026-06-05', false)).join('\n');
    // Gold: booked C (200%) 1,746, the +50% tier bonus 873 and the summer Sochi promotion 873.
    expect(text).toMatch(
      /:XX:1000000065 {2}POSTED {2}\+3,492 points {2}\[air-2024: 873 mi × 2 \(C\) \+ tier bonus 873 \+ promotion 873\]/,
    );
    expect(text).toMatch(/\n4 records: 3 would post 6,110 points, 1 rejected/);
  });

  it('shows a record’s status credit in its own metric, the totals in the night’s', async () => {
    // Status counted in segments from 4 June: the coupon of 3 June still counts its spend.
    const yaml = readFileSync(config, 'utf8');
    const tiers = /^tiers:\n(?: .*\n)+/m.exec(yaml)![0];
    const rules = tiers
      .split('\n')
      .filter((l) => /^ {2}(metric|window|levels|review|softLanding| {2}-)/.test(l));
    const version = (from: string, metric: string) =>
      `  - effectiveFrom: ${from}\n` +
      rules
        .map((l) => `  ${l.replace('metric: spend', `metric: ${metric}`)}`.replace(/^ {4}- /, '      - '))
        .join('\n');
    writeFileSync(
      config,
      yaml.replace(
        tiers,
        `tiers:\n${version('2024-01-01', 'spend')}\n${version('2026-06-04', 'segments')}\n`,
      ),
    );
    const text = (
      await simulateOut(
        'flown',
        { 'coupons.csv': FLOWN + coupon('5550000000001', 'XX,245', '1000000032', 'ABRAMOV,PAVEL', 'F') },
        '2026-06-05',
        false,
      )
    ).join('\n');
    expect(text).toMatch(/POSTED {2}\+[0-9,]+ points {2}\[air-2024: [^\]]+\] {2}\+170\.00 USD toward status/);
    expect(text).toMatch(/1 records: 1 would post [0-9,]+ points and 17,000 status segments/);
  });

  it('adds no file beside the database (a read-only WAL connection leaves -shm and -wal behind)', async () => {
    const folder = join(dir, 'var');
    const before = readdirSync(folder).sort();
    await simulateJson('ftl', { 'a.ftl': ftl('XX245', 'ABRAMOV/PAVEL MR', '1000000032') });
    expect(readdirSync(folder).sort()).toEqual(before);
  });

  it('names every feed it simulates in its help', async () => {
    const out: string[] = [];
    const code = await main(['node', 'redeye', 'simulate', '--help'], {
      output: { out: (s) => out.push(s), err: (s) => out.push(s) },
      env: {},
    });
    expect(code).toBe(0);
    // The help wraps its lines.
    expect(out.join(' ').replace(/\s+/g, ' ')).toContain(SIMULATED_FEEDS.join(', '));
    expect(SIMULATED_FEEDS).toContain('retro-claims');
  });

  it('refuses a feed that changes no points', async () => {
    writeFileSync(join(dir, 'rates.xml'), '<x/>');
    const err: string[] = [];
    const code = await main(
      ['node', 'redeye', '--config', config, 'simulate', 'fx', join(dir, 'rates.xml')],
      {
        output: { out: () => undefined, err: (s) => err.push(s) },
        env: {},
      },
    );
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(/simulate reads activity feeds/);
  });

  /** `redeye simulate` of files written into the test folder: its output lines, JSON or text. */
  async function simulateOut(
    feed: string,
    files: Record<string, string>,
    date: string,
    json: boolean,
  ): Promise<string[]> {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const out: string[] = [];
    const code = await main(
      [
        'node',
        'redeye',
        '--config',
        config,
        'simulate',
        feed,
        '--date',
        date,
        '--received',
        '2026-06-04T10:00:00Z',
        ...(json ? ['--json'] : []),
        ...Object.keys(files).map((f) => join(dir, f)),
      ],
      { output: { out: (s) => out.push(s), err: (s) => out.push(s) }, env: {} },
    );
    expect(code, out.join('\n')).toBe(0);
    return out;
  }

  async function simulateJson(
    feed: string,
    files: Record<string, string>,
    date = '2026-06-05',
  ): Promise<Array<Record<string, unknown>>> {
    return (await simulateOut(feed, files, date, true)).map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  const ftl = (flight: string, passenger: string, card: string) =>
    `QU MOWKTXX\r\n.MOWRMXX 031530\r\nFTL\r\n${flight}/03JUN SVO PART1\r\n-AER01Y\r\n1${passenger}\r\n.R/FQTV XX ${card}\r\nENDFTL\r\n`;
  const FLOWN =
    'ticket_number,coupon_number,issue_date,pnr,operating_carrier,operating_flight,marketing_carrier,marketing_flight,flight_date,origin,destination,cabin,booked_rbd,flown_rbd,fare_basis,passenger_surname,passenger_given_name,passenger_type,ffp_carrier,ffp_number,fare_amount,carrier_surcharge_amount,tax_amount,currency,coupon_status,source_ref\r\n';
  const coupon = (ticket: string, marketing: string, member: string, name: string, status: string) =>
    `${ticket},1,2026-05-01,ABC123,XX,245,${marketing},2026-06-03,SVO,AER,Y,Y,Y,YFLEX,${name},ADT,XX,${member},150.00,10.00,20.00,USD,${status},R1\r\n`;
  const summaryOf = (events: Array<Record<string, unknown>>) => events.at(-1) as Record<string, number>;
  const lineOf = (events: Array<Record<string, unknown>>, file: string, line: number) =>
    events.find((e) => e.file === file && e.line === line && e.type !== 'file');
  /** Every record counts once: the categories add up to the records read, per file and in total. */
  const addsUp = (c: Record<string, number>) =>
    c.posted! + c.reversed! + c.rejected! + c.notCredited! + c.held! + c.merged! === c.records;

  it('credits a passenger listed again under a marketing flight number once across the files of a run', async () => {
    const events = await simulateJson('ftl', {
      'a.ftl': ftl('XX245', 'ABRAMOV/PAVEL MR', '1000000032'),
      'b.ftl': ftl('SU5401', 'ABRAMOV/PAVEL MR', '1000000032'),
    });
    const records = events.filter((e) => e.type === 'record');
    expect(records.map((r) => r.status)).toEqual(['POSTED', 'REJECTED']);
    expect(records[1]).toMatchObject({ reason: 'DUPLICATE', points: 0 });
    expect(summaryOf(events)).toMatchObject({ records: 2, posted: 1, rejected: 1, points: 1309 });
  });

  it('names the file of the run a coupon was read in first, which the registry does not hold yet', async () => {
    // Sent again later that day: another file (its bytes differ), the same coupon.
    const flown = FLOWN + coupon('7770000000501', 'XX,245', '1000000032', 'ABRAMOV,PAVEL', 'F');
    const flownEvents = await simulateJson('flown', { 'a.csv': flown, 'b.csv': flown + '\r\n' });
    expect(flownEvents.filter((e) => e.type === 'record').map((r) => [r.file, r.status, r.message])).toEqual([
      ['a.csv', 'POSTED', undefined],
      [
        'b.csv',
        'REJECTED',
        'coupon 7770000000501/1 (F) was already read in a.csv (earlier in this run) and waits to be decided',
      ],
    ]);
  });

  it('merges a codeshare coupon into the passenger the archive holds under the marketing flight, as ingest does', async () => {
    const db = openDb(`sqlite:${dbFile}`);
    const key = 'FLT:SU5401:2026-06-03:SVO-AER:XX:1000000032';
    await archiveCreditedFlight(db, key, {
      carrier: 'SU',
      flight_number: '5401',
      origin: 'SVO',
      destination: 'AER',
      seen_ftl: true,
    });
    await db.close();
    const events = await simulateJson('flown', {
      'c.csv': FLOWN + coupon('7770000000300', 'SU,5401', '1000000032', 'ABRAMOV,PAVEL', 'F'),
    });
    const record = lineOf(events, 'c.csv', 2) as { activity: string; status: string; postings: unknown[] };
    // The FTL's miles stand; the coupon adds its spend as status credits.
    expect(record).toMatchObject({ activity: key, status: 'POSTED', points: 0 });
    expect(record.postings).toMatchObject([{ key: `${key}:STATUS`, statusCredits: [{ metric: 'SPEND' }] }]);
    expect(summaryOf(events)).toMatchObject({ records: 1, posted: 1, rejected: 0, points: 0 });
    expect(summaryOf(events).statusCredits).toBeGreaterThan(0);
  });

  it('takes a coupon flown then refunded in one file as one refunded activity: nothing would post', async () => {
    const events = await simulateJson('flown', {
      'd.csv':
        FLOWN +
        coupon('7770000000100', 'XX,245', '1000000032', 'ABRAMOV,PAVEL', 'F') +
        coupon('7770000000100', 'XX,245', '1000000032', 'ABRAMOV,PAVEL', 'R'),
    });
    expect(lineOf(events, 'd.csv', 2)).toMatchObject({ status: 'MERGED', points: 0, postings: [] });
    expect(lineOf(events, 'd.csv', 3)).toMatchObject({ status: 'REJECTED', reason: 'NOT_FLOWN', points: 0 });
    const summary = summaryOf(events);
    expect(summary).toMatchObject({
      records: 2,
      posted: 0,
      points: 0,
      statusCredits: 0,
      merged: 1,
      rejected: 1,
    });
    expect(addsUp(summary)).toBe(true);
  });

  it('counts a refund of a credited coupon as a reversal with negative points, never as would post', async () => {
    const db = openDb(`sqlite:${dbFile}`);
    const key = 'FLT:XX245:2026-06-03:SVO-AER:XX:1000000032';
    await archiveCreditedFlight(db, key, {
      origin: 'SVO',
      destination: 'AER',
      ticket_number: '7770000000100',
      coupon_number: 1,
      coupon_status: 'F',
      seen_coupon: true,
    });
    await db.close();
    const events = await simulateJson('flown', {
      'r.csv': FLOWN + coupon('7770000000100', 'XX,245', '1000000032', 'ABRAMOV,PAVEL', 'R'),
    });
    expect(lineOf(events, 'r.csv', 2)).toMatchObject({ status: 'REVERSED', points: -1309 });
    expect(summaryOf(events)).toMatchObject({
      records: 1,
      posted: 0,
      points: 0,
      reversed: 1,
      reversedPoints: -1309,
    });
  });

  it('claims a partner-airline flight once, as ingest does: a second claim id for it is a DUPLICATE', async () => {
    const claim = (id: string) => `
  <Claim>
    <ClaimId>${id}</ClaimId>
    <Member><Program>XX</Program><Number>1000000032</Number><Surname>ABRAMOV</Surname></Member>
    <Flight>
      <OperatingCarrier>LH</OperatingCarrier><OperatingFlightNumber>1444</OperatingFlightNumber>
      <MarketingCarrier>LH</MarketingCarrier><MarketingFlightNumber>1444</MarketingFlightNumber>
      <FlightDate>2026-06-01</FlightDate><Origin>FRA</Origin><Destination>SVO</Destination>
      <Cabin>Y</Cabin><FlownRbd>Y</FlownRbd>
    </Flight>
  </Claim>`;
    const events = await simulateJson('alliance-claims', {
      'LH_XX_20260604_000001.claims.xml': `<?xml version="1.0" encoding="UTF-8"?>
<AccrualClaims xmlns="urn:redeye:alliance:1.0">
  <FileHeader>
    <SenderProgram>LH</SenderProgram><ReceiverProgram>XX</ReceiverProgram>
    <FileSequence>1</FileSequence><CreatedAt>2026-06-04T03:15:00Z</CreatedAt>
  </FileHeader>${claim('LH-1')}${claim('LH-7')}
  <Control><ClaimCount>2</ClaimCount></Control>
</AccrualClaims>
`,
    });
    const records = events.filter((e) => e.type === 'record' || e.type === 'reject');
    expect(records.map((r) => [r.status ?? 'REJECTED', r.reason ?? null])).toEqual([
      ['POSTED', null],
      ['REJECTED', 'DUPLICATE'],
    ]);
    expect(summaryOf(events)).toMatchObject({ records: 2, posted: 1, rejected: 1 });
  });

  const partnerLine = (id: string, amount: string) =>
    `D,${id},1000000065,MORGAN,SARAH,2026-06-01,CARD_SPEND,,${amount},USD,,\r\n`;

  it('posts nothing from a file the night rejects whole, and says so', async () => {
    const events = await simulateJson('partner', {
      'REDBANK_20260604_1.csv':
        'H,REDBANK,1,2026-06-04T01:00:00Z\r\n' +
        partnerLine('RB1', '100.00') +
        partnerLine('RB2', '50.00') +
        'T,2,0,999.00\r\n',
    });
    expect(events[0]).toMatchObject({ type: 'file', verdict: 'rejected', reason: 'CONTROL_TOTAL_MISMATCH' });
    const records = events.filter((e) => e.type === 'record');
    expect(records).toHaveLength(2);
    for (const r of records) expect(r).toMatchObject({ status: 'REJECTED', points: 0, postings: [] });
    const summary = summaryOf(events);
    expect(summary).toMatchObject({ records: 2, posted: 0, points: 0, rejected: 2 });
    expect(summary.files).toMatchObject([{ verdict: 'rejected', reason: 'CONTROL_TOTAL_MISMATCH' }]);
  });

  describe('reads each file as the feed is configured, as the night does', () => {
    /** The example configuration with one feed's line changed as `change` says. */
    const configured = (feed: string, change: (line: string) => string) => {
      const yaml = readFileSync(config, 'utf8');
      const line = yaml.split('\n').find((l) => l.trimStart().startsWith(`${feed}:`))!;
      writeFileSync(config, yaml.replace(line, change(line)));
    };

    it('a flown feed separated by |: its coupon read and credited, not the file refused', async () => {
      configured('flown', (l) => l.replace('completeness:', 'delimiter: "|", completeness:'));
      const events = await simulateJson('flown', {
        'coupons.csv': (
          FLOWN + coupon('5550000000001', 'XX,245', '1000000032', 'ABRAMOV,PAVEL', 'F')
        ).replaceAll(',', '|'),
      });
      expect(events[0]).toMatchObject({ type: 'file', verdict: 'accepted' });
      expect(summaryOf(events)).toMatchObject({ records: 1, rejected: 0 });
    });

    it('a hotel document over the feed’s maxBytes: refused whole TOO_LARGE, as ingest refuses it', async () => {
      configured('hotel', (l) => l.replace('maxBytes: 20971520', 'maxBytes: 200'));
      const fixture = resolve(import.meta.dirname, '../parsers/fixtures/xml/hotel-stays.xml');
      const events = await simulateJson('hotel', {
        'GS_stays.xml': readFileSync(fixture, 'utf8').replaceAll('ChainCode="NA"', 'ChainCode="GS"'),
      });
      expect(events[0]).toMatchObject({ type: 'file', verdict: 'rejected', reason: 'TOO_LARGE' });
      expect(summaryOf(events)).toMatchObject({ posted: 0, points: 0 });
    });
  });

  it('rejects a partner file whose sequence the registry already holds as DUPLICATE_FILE', async () => {
    const db = openDb(`sqlite:${dbFile}`);
    await db.knex('files').insert({
      direction: 'in',
      feed: 'partner',
      name: 'REDBANK_20260603_1.csv',
      size: 1,
      sha256: 'x'.repeat(64),
      partner_code: 'REDBANK',
      sequence: 1,
      verdict: 'accepted',
      created_at: new Date().toISOString(),
    });
    await db.close();
    const events = await simulateJson('partner', {
      'REDBANK_20260604_1.csv':
        'H,REDBANK,1,2026-06-04T01:00:00Z\r\n' + partnerLine('RB1', '100.00') + 'T,1,0,100.00\r\n',
    });
    expect(events[0]).toMatchObject({ type: 'file', verdict: 'rejected', reason: 'DUPLICATE_FILE' });
    expect(summaryOf(events)).toMatchObject({ records: 1, posted: 0, points: 0, rejected: 1 });
  });

  it('takes files in the order the night lands them, by name, whatever the order they are given in', async () => {
    const events = await simulateJson('partner', {
      'REDBANK_20260604_2.csv':
        'H,REDBANK,2,2026-06-04T02:00:00Z\r\n' + partnerLine('RB2', '50.00') + 'T,1,0,50.00\r\n',
      'REDBANK_20260604_1.csv':
        'H,REDBANK,1,2026-06-04T01:00:00Z\r\n' + partnerLine('RB1', '100.00') + 'T,1,0,100.00\r\n',
    });
    const files = events.filter((e) => e.type === 'file');
    expect(files.map((f) => [f.file, f.verdict])).toEqual([
      ['REDBANK_20260604_1.csv', 'accepted'],
      ['REDBANK_20260604_2.csv', 'accepted'],
    ]);
    expect(summaryOf(events)).toMatchObject({ records: 2, posted: 2 });
  });

  it('reads no file the registry stops: a copy of one received before, or another file under a used name', async () => {
    const content = FLOWN + coupon('7770000000100', 'XX,245', '1000000032', 'ABRAMOV,PAVEL', 'F');
    const db = openDb(`sqlite:${dbFile}`);
    await db.knex('files').insert({
      direction: 'in',
      feed: 'flown',
      name: 'june.csv',
      size: content.length,
      sha256: createHash('sha256').update(content).digest('hex'),
      verdict: 'accepted',
      created_at: new Date().toISOString(),
    });
    await db.close();
    const events = await simulateJson('flown', {
      'copy.csv': content,
      'june.csv': FLOWN + coupon('7770000000200', 'XX,245', '1000000057', 'KOZLOV,DMITRY', 'F'),
      'new.csv': FLOWN + coupon('7770000000300', 'XX,245', '1000000065', 'MORGAN,SARAH', 'F'),
      'new-again.csv': FLOWN + coupon('7770000000300', 'XX,245', '1000000065', 'MORGAN,SARAH', 'F'),
    });
    const verdicts = Object.fromEntries(
      events.filter((e) => e.type === 'file').map((f) => [f.file, [f.verdict, f.reason ?? null]]),
    );
    expect(verdicts).toEqual({
      'copy.csv': ['duplicate', 'DUPLICATE_FILE'],
      'june.csv': ['conflict', 'NAME_CONFLICT'],
      // In name order new-again.csv lands first: new.csv is the copy.
      'new-again.csv': ['accepted', null],
      'new.csv': ['duplicate', 'DUPLICATE_FILE'],
    });
    expect(summaryOf(events)).toMatchObject({ records: 4, posted: 1, rejected: 2, held: 1 });
  });

  describe('files of several feeds for one night (--with)', () => {
    const REDEMPTIONS =
      'redemption_id,member_number,redemption_date,service_type,points,reference,partner_code,status\r\n';
    /** MORGAN, balance 0: a partner file crediting her 1,000 points and a redemption of 800 the same night. */
    const mixedNight = () => {
      writeFileSync(
        join(dir, 'REDBANK_20260604_1.csv'),
        'H,REDBANK,1,2026-06-04T01:00:00Z\r\n' + partnerLine('RB1', '1000.00') + 'T,1,0,1000.00\r\n',
      );
      writeFileSync(join(dir, 'r.csv'), REDEMPTIONS + 'R1,1000000065,2026-06-04,SEAT,800,EMD-R1,,ISSUED\r\n');
    };
    const cli = async (...args: string[]) => {
      const out: string[] = [];
      const code = await main(
        ['node', 'redeye', '--config', config, 'simulate', '--date', '2026-06-05', ...args],
        { output: { out: (s) => out.push(s), err: (s) => out.push(s) }, env: {} },
      );
      return { code, text: out.join('\n'), lines: out };
    };

    it('spends the points a partner file of the same night credits, reading the feeds in the night order', async () => {
      mixedNight();
      const before = sha(dbFile);
      const { code, text } = await cli(
        'redemptions',
        join(dir, 'r.csv'),
        '--with',
        `partner=${join(dir, 'REDBANK_20260604_1.csv')}`,
      );
      expect(code, text).toBe(0);
      // The partner's file first, as ingest reads partner before redemptions, whatever the command's order.
      expect(text).toMatch(
        /^REDBANK_20260604_1\.csv: accepted\nREDBANK_20260604_1\.csv:2 {2}PTR:REDBANK:RB1 {2}POSTED {2}\+1,000 points/,
      );
      expect(text).toMatch(/\nr\.csv: accepted\nr\.csv:2 {2}RDM:R1 {2}POSTED {2}-800 points/);
      expect(text).toMatch(/\n2 records: 2 would post 200 points/);
      expect(sha(dbFile)).toBe(before);
    });

    it('warns of a file landed and not yet read that is not given, and not once it is given', async () => {
      mixedNight();
      const partner = readFileSync(join(dir, 'REDBANK_20260604_1.csv'));
      // The night of 4 June stopped after fetch: the partner's file waits in the registry for ingest.
      const db = openDb(`sqlite:${dbFile}`);
      const [landed] = await db.knex('files').insert(
        {
          direction: 'in',
          feed: 'partner',
          name: 'REDBANK_20260604_1.csv',
          size: partner.length,
          sha256: createHash('sha256').update(partner).digest('hex'),
          local_path: '/var/redeye/landing/partner/REDBANK_20260604_1.csv',
          verdict: 'pending',
          created_at: new Date().toISOString(),
        },
        ['id'],
      );
      await db.close();
      const id = insertedId(landed);

      const alone = await cli('redemptions', join(dir, 'r.csv'));
      expect(alone.code, alone.text).toBe(0);
      expect(alone.lines[0]).toBe(
        `warning: 1 file(s) received and not yet read are not given: partner REDBANK_20260604_1.csv (file ${id}, ` +
          '/var/redeye/landing/partner/REDBANK_20260604_1.csv). The night reads them with these, and what they ' +
          'bring is not in this simulation: give those of activity feeds (' +
          `${SIMULATED_FEEDS.join(', ')}) with --with <feed>=<file>; members and rates files are not simulated.`,
      );
      // Without the partner's credit the redemption is not covered: what the warning is for.
      expect(alone.text).toMatch(/RDM:R1 {2}REJECTED INSUFFICIENT_POINTS/);

      const together = await cli(
        'redemptions',
        join(dir, 'r.csv'),
        '--with',
        `partner=${join(dir, 'REDBANK_20260604_1.csv')}`,
      );
      expect(together.code, together.text).toBe(0);
      expect(together.text).not.toMatch(/warning/);
      expect(together.text).toMatch(/RDM:R1 {2}POSTED {2}-800 points/);
    });

    it('shows the same night whichever feed is named first, each file with its feed in --json', async () => {
      mixedNight();
      const { code, lines } = await cli(
        '--json',
        'partner',
        join(dir, 'REDBANK_20260604_1.csv'),
        '--with',
        `redemptions=${join(dir, 'r.csv')}`,
      );
      expect(code, lines.join('\n')).toBe(0);
      const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(events.filter((e) => e.type === 'record').map((e) => [e.activity, e.status, e.points])).toEqual([
        ['PTR:REDBANK:RB1', 'POSTED', 1000],
        ['RDM:R1', 'POSTED', -800],
      ]);
      expect(summaryOf(events).files).toMatchObject([
        { file: 'REDBANK_20260604_1.csv', feed: 'partner', posted: 1 },
        { file: 'r.csv', feed: 'redemptions', posted: 1 },
      ]);
    });

    it('reads a --with file in its own feed’s encoding, not in the --encoding of the files named first', async () => {
      // REDBANK writes its first file in windows-1251 and its second in UTF-8, the partner feed's own.
      const line = (id: string) => `D,${id},1000000065,МОРГАН,SARAH,2026-06-01,CARD_SPEND,,100.00,USD,,\r\n`;
      writeFileSync(
        join(dir, 'REDBANK_20260604_1.csv'),
        iconv.encode('H,REDBANK,1,2026-06-04T01:00:00Z\r\n' + line('RB1') + 'T,1,0,100.00\r\n', 'cp1251'),
      );
      writeFileSync(
        join(dir, 'REDBANK_20260604_2.csv'),
        'H,REDBANK,2,2026-06-04T01:00:00Z\r\n' + line('RB2') + 'T,1,0,100.00\r\n',
      );
      const { code, lines } = await cli(
        '--json',
        'partner',
        join(dir, 'REDBANK_20260604_1.csv'),
        '--encoding',
        'windows-1251',
        '--with',
        `partner=${join(dir, 'REDBANK_20260604_2.csv')}`,
      );
      expect(code, lines.join('\n')).toBe(0);
      const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      // Both name MORGAN in Cyrillic: read in windows-1251, the UTF-8 file's name was mojibake.
      expect(events.filter((e) => e.type === 'record').map((e) => [e.activity, e.status, e.points])).toEqual([
        ['PTR:REDBANK:RB1', 'POSTED', 100],
        ['PTR:REDBANK:RB2', 'POSTED', 100],
      ]);
    });

    it('refuses a --with it cannot take, naming the option', async () => {
      mixedNight();
      writeFileSync(join(dir, 'rates.xml'), '<x/>');
      const r = join(dir, 'r.csv');
      const cases: Array<[string[], RegExp]> = [
        [['--with', r], /--with ".*r\.csv": expected <feed>=<file>/],
        [['--with', 'partner='], /--with "partner=": expected <feed>=<file>/],
        [['--with', `fx=${join(dir, 'rates.xml')}`], /--with "fx=.*": "fx" is not an activity feed/],
        [
          ['--with', `partner=${join(dir, 'nope.csv')}`],
          /--with partner=\S*nope\.csv: cannot read it: no such file$/m,
        ],
        [['--with', `partner=${r}`], /r\.csv is given as a file of both/],
      ];
      for (const [args, message] of cases) {
        const { code, text } = await cli('redemptions', r, ...args);
        expect([args.join(' '), code]).toEqual([args.join(' '), 2]);
        expect(text).toMatch(message);
        // The path given is named once: the option already holds it.
        expect(text.split('nope.csv').length).toBeLessThanOrEqual(2);
      }
    });
  });

  it('shows a redemption the balance no longer covers as the night records it, leaving the points for the next', async () => {
    // BELOVA holds the 1,309 points of her archived flight.
    const redemption = (id: string, points: number) =>
      `${id},1000000040,2026-06-04,SEAT,${points},EMD-${id},,ISSUED\r\n`;
    const events = await simulateJson('redemptions', {
      'r.csv':
        'redemption_id,member_number,redemption_date,service_type,points,reference,partner_code,status\r\n' +
        redemption('R1', 1000) +
        redemption('R2', 500) +
        redemption('R3', 300),
    });
    expect(events.filter((e) => e.type === 'record').map((r) => [r.status, r.reason, r.points])).toEqual([
      ['POSTED', null, -1000],
      ['REJECTED', 'INSUFFICIENT_POINTS', 0],
      ['POSTED', null, -300],
    ]);
    expect(summaryOf(events)).toMatchObject({ records: 3, posted: 2, rejected: 1, points: -1300 });
  });

  it('prints the verdict of a rejected file in text, next to totals that post nothing from it', async () => {
    writeFileSync(
      join(dir, 'REDBANK_20260604_1.csv'),
      'H,REDBANK,1,2026-06-04T01:00:00Z\r\n' + partnerLine('RB1', '100.00') + 'T,1,0,999.00\r\n',
    );
    const out: string[] = [];
    await main(
      [
        'node',
        'redeye',
        '--config',
        config,
        'simulate',
        'partner',
        '--date',
        '2026-06-05',
        join(dir, 'REDBANK_20260604_1.csv'),
      ],
      { output: { out: (s) => out.push(s), err: (s) => out.push(s) }, env: {} },
    );
    const text = out.join('\n');
    expect(text).toMatch(/REDBANK_20260604_1\.csv: FILE REJECTED CONTROL_TOTAL_MISMATCH/);
    expect(text).toMatch(/1 records: 0 would post 0 points/);
  });

  /** Runs fetch, ingest and accrue for `date` with `text` as a file of `feed` in the inbox. */
  const night = async (date: string, file: string, text: string, feed = 'flown') => {
    const inbox = join(dir, 'var', 'inbox', feed);
    // Fetch lists every feed's folder: an empty inbox is a quiet night, a missing one a failure.
    for (const f of Object.values(FEED_DIRS)) mkdirSync(join(inbox, '..', f), { recursive: true });
    writeFileSync(join(inbox, file), text);
    for (const job of ['fetch', 'ingest', 'accrue']) {
      const log: string[] = [];
      const code = await main(['node', 'redeye', '--config', config, 'run', job, '--date', date], {
        output: { out: (l) => log.push(l), err: (l) => log.push(l) },
        // The night runs after its business date: an FTL's year-less dates resolve from it.
        env: { REDEYE_NOW: `${date}T23:30:00Z` },
      });
      expect(code, log.join('\n')).toBe(0);
    }
  };

  it('counts in its text totals what a cancellation that waited for its redemption gives back', async () => {
    const header =
      'redemption_id,member_number,redemption_date,service_type,points,reference,partner_code,status\r\n';
    // The cancellation of R9 comes a night before its redemption: it waits for it.
    await night(
      '2026-06-04',
      'cancel.csv',
      header + 'R9,1000000040,2026-06-04,SEAT,300,EMD-R9,,CANCELLED\r\n',
      'redemptions',
    );
    const redemption = { 'r9.csv': header + 'R9,1000000040,2026-06-04,SEAT,300,EMD-R9,,ISSUED\r\n' };
    const text = (await simulateOut('redemptions', redemption, '2026-06-05', false)).join('\n');
    expect(text).toMatch(/and RDM:R9:CANCEL .*REVERSED\s+\+300 points/);
    // The text and the JSON totals tell the same night: 300 points out, 300 back.
    expect(text).toMatch(
      /1 records: 1 would post -300 points, activities shown with their records would reverse 300 points, 0 rejected/,
    );
    expect(summaryOf(await simulateJson('redemptions', redemption))).toMatchObject({
      posted: 1,
      points: -300,
      reversed: 0,
      reversedPoints: 300,
    });
  });

  it('prints a coupon correcting an FTL credit as what the night posts: the difference and the status credits it brings', async () => {
    // An upgrade the DCS did not mark with -B: ABRAMOV, booked Y, is listed in the C group and credited C.
    await night(
      '2026-06-04',
      'c.ftl',
      ftl('XX245', 'ABRAMOV/PAVEL MR', '1000000032').replace('-AER01Y', '-AER01C'),
      'ftl',
    );
    const db = openDb(`sqlite:${dbFile}`);
    const credited = Number(
      (
        await db
          .knex('accounts')
          .where({ code: Accounts.memberPoints('1000000032') })
          .first('balance')
      ).balance,
    );
    await db.close();
    const upgraded = {
      'u.csv':
        FLOWN +
        coupon('7770000000601', 'XX,245', '1000000032', 'ABRAMOV,PAVEL', 'F').replace(
          ',Y,Y,Y,YFLEX,',
          ',C,Y,C,YFLEX,',
        ),
    };
    const text = (await simulateOut('flown', upgraded, '2026-06-05', false)).join('\n');
    // Y's 1,309 (873 mi and the Sochi promotion) in place of C's credit: the night posts the difference.
    const difference = 1309 - credited;
    expect(difference).toBeLessThan(0);
    const points = `${difference.toLocaleString('en-US')} points`;
    expect(text).toMatch(
      new RegExp(
        `POSTED  ${points}  \\[air-2024: [^\\]]+\\]  \\+[0-9.,]+ USD toward status  — award recomputed`,
      ),
    );
    expect(text).toMatch(
      new RegExp(`1 records: 1 would post ${points} and [0-9.,]+ USD toward status, 0 rejected`),
    );
  });

  it('prints with a refused redemption the cancellation that waited for it, rejected and why', async () => {
    const header =
      'redemption_id,member_number,redemption_date,service_type,points,reference,partner_code,status\r\n';
    await night(
      '2026-06-04',
      'cancel.csv',
      header + 'R9,1000000040,2026-06-04,SEAT,3000,EMD-R9,,CANCELLED\r\n',
      'redemptions',
    );
    // BELOVA holds 1,309 points: the redemption is refused, and its cancellation waits no more.
    const redemption = { 'r9.csv': header + 'R9,1000000040,2026-06-04,SEAT,3000,EMD-R9,,ISSUED\r\n' };
    const text = (await simulateOut('redemptions', redemption, '2026-06-05', false)).join('\n');
    expect(text).toContain(
      'and RDM:R9:CANCEL (the cancellation that waited for it): REJECTED UNKNOWN_REDEMPTION  0 points (redemption_id)' +
        '  — redemption R9 was refused (INSUFFICIENT_POINTS) on the night of 2026-06-05: its cancellation cannot be applied',
    );
  });

  it('decides first, on a line of its own and in the totals, a partner record an earlier night left for tonight', async () => {
    // Dated the day after its night: it waits for the night of its date, ABRAMOV's balance still 0.
    await night(
      '2026-06-04',
      'REDBANK_20260604_1.csv',
      'H,REDBANK,1,2026-06-04T01:00:00Z\r\n' +
        'D,RB1,1000000032,ABRAMOV,PAVEL,2026-06-05,CARD_SPEND,,1000.00,USD,,\r\n' +
        'T,1,0,1000.00\r\n',
      'partner',
    );
    const redemption = {
      'r.csv':
        'redemption_id,member_number,redemption_date,service_type,points,reference,partner_code,status\r\n' +
        'R9,1000000032,2026-06-05,SEAT,500,EMD-R9,,ISSUED\r\n',
    };
    const text = (await simulateOut('redemptions', redemption, '2026-06-05', false)).join('\n');
    expect(text).toMatch(
      /^due tonight from an earlier night: REDBANK_20260604_1\.csv line 2 \(night of 2026-06-04\) {2}PTR:REDBANK:RB1 {2}POSTED {2}\+1,000 points {2}\[REDBANK-2025/m,
    );
    // The redemption draws on the points the night posts for it first.
    expect(text).toMatch(/r\.csv:2 {2}RDM:R9 {2}POSTED {2}-500 points/);
    expect(text).toMatch(/\n2 records: 2 would post 500 points, 0 rejected/);
    expect(text).toMatch(
      /\n {2}of them due tonight from earlier nights: 1 records: 1 would post 1,000 points, 0 rejected/,
    );
    const events = await simulateJson('redemptions', redemption);
    expect(events[0]).toMatchObject({
      type: 'due',
      file: 'REDBANK_20260604_1.csv',
      line: 2,
      night: '2026-06-04',
      activity: 'PTR:REDBANK:RB1',
      status: 'POSTED',
      points: 1000,
      postings: [{ kind: 'ACCRUAL' }],
    });
    expect(summaryOf(events)).toMatchObject({
      records: 2,
      posted: 2,
      points: 500,
      due: { records: 1, posted: 1, points: 1000 },
      files: [{ file: 'r.csv', records: 1, posted: 1, points: -500 }],
    });
    expect(addsUp(summaryOf(events))).toBe(true);
  });

  it('completes an FTL message with the parts an earlier night held, as ingest does', async () => {
    await night(
      '2026-06-04',
      '02-multipart-part1.ftl',
      readFileSync(sample('02-multipart-part1.ftl'), 'utf8'),
      'ftl',
    );
    const events = await simulateJson('ftl', {
      '02-multipart-part2.ftl': readFileSync(sample('02-multipart-part2.ftl'), 'utf8'),
    });
    expect(
      events.filter((e) => e.type === 'file').map((f) => [f.file, f.verdict, f.message ?? null]),
    ).toEqual([
      ['02-multipart-part1.ftl', 'accepted', 'its held parts completed'],
      ['02-multipart-part2.ftl', 'accepted', expect.any(String)],
    ]);
    // The passengers of both parts, as when the two files come together.
    expect(summaryOf(events)).toMatchObject({
      records: 4,
      posted: 3,
      rejected: 1,
      points: 1309 * 2 + 1746 + 873 + 873,
    });
  });

  /** ABRAMOV's SVO-AER flight of 2026-06-03 on ticket 7770000000500, flown without his card. */
  const flownWithoutCard =
    FLOWN + coupon('7770000000500', 'XX,245', '', 'ABRAMOV,PAVEL', 'F').replace(',ADT,XX,,', ',ADT,,,');
  const RETRO =
    'claim_id,member_number,received_date,ticket_number,coupon_number,carrier,flight_number,flight_date,origin,destination,surname,given_name\r\n';

  it('settles retro-claims as accrue does: credited, waiting for the flight to age, not found, received twice', async () => {
    await night('2026-06-05', 'nocard.csv', flownWithoutCard);
    const events = await simulateJson(
      'retro-claims',
      {
        'claims.csv':
          RETRO +
          'C-1,1000000032,2026-06-19,7770000000500,1,,,,,,ABRAMOV,PAVEL\r\n' +
          'C-1,1000000032,2026-06-19,7770000000500,1,,,,,,ABRAMOV,PAVEL\r\n' +
          'C-2,1000000032,2026-06-19,,,XX,245,2026-06-10,SVO,AER,ABRAMOV,PAVEL\r\n' +
          'C-3,1000000032,2026-06-06,7779999999999,1,,,,,,ABRAMOV,PAVEL\r\n',
      },
      '2026-06-20',
    );
    const lines = events.filter((e) => e.type === 'record' || e.type === 'reject');
    expect(lines.map((e) => [e.line, e.claim ?? null, e.status ?? 'REJECTED', e.reason])).toEqual([
      [2, 'C-1', 'POSTED', 'RETRO_CLAIM'],
      [3, null, 'REJECTED', 'DUPLICATE'],
      [4, 'C-2', 'PENDING', 'PENDING'],
      [5, 'C-3', 'REJECTED', 'NOT_FOUND'],
    ]);
    // 873 mi × 1 (Y) + the summer Sochi promotion.
    expect(lines[0]).toMatchObject({ activity: 'CPN:7770000000500:1', points: 1309 });
    expect(summaryOf(events)).toMatchObject({ records: 4, posted: 1, held: 1, rejected: 2, points: 1309 });
  });

  it('says in text why a record would not post in full, whatever its status: waiting, rejected, and which claim it is', async () => {
    await night('2026-06-05', 'nocard.csv', flownWithoutCard);
    const text = (
      await simulateOut(
        'retro-claims',
        {
          'claims.csv':
            RETRO +
            'C-2,1000000032,2026-06-19,,,XX,245,2026-06-10,SVO,AER,ABRAMOV,PAVEL\r\n' +
            'C-3,1000000032,2026-06-06,7779999999999,1,,,,,,ABRAMOV,PAVEL\r\n',
        },
        '2026-06-20',
        false,
      )
    ).join('\n');
    expect(text).toMatch(
      /claims\.csv:2 {2}claim C-2 {2}PENDING PENDING {2}— flight XX245 of 2026-06-10 SVO-AER for ABRAMOV is less than 14 days old/,
    );
    expect(text).toMatch(
      /claims\.csv:3 {2}claim C-3 {2}REJECTED NOT_FOUND {2}— no flown coupon or listed passenger in the archive matches coupon 7779999999999\/1/,
    );
  });

  it('shows a waiting retro-claim credited by the coupon of the file that names its flight', async () => {
    await night(
      '2026-06-05',
      'claims.csv',
      // By flight: younger than 14 days, it waits.
      RETRO + 'C-9,1000000032,2026-06-05,,,XX,245,2026-06-03,SVO,AER,ABRAMOV,PAVEL\r\n',
      'retro-claims',
    );
    const events = await simulateJson('flown', { 'late.csv': flownWithoutCard }, '2026-06-20');
    expect(events.find((e) => e.type === 'record')).toMatchObject({
      activity: 'CPN:7770000000500:1',
      status: 'NOT_CREDITED',
      also: [
        {
          activity: 'CPN:7770000000500:1',
          why: 'the retro-claim C-9 that waited for it',
          status: 'POSTED',
          points: 1309,
        },
      ],
    });
    expect(summaryOf(events)).toMatchObject({ records: 1, notCredited: 1, points: 1309 });
  });

  it('shows, on the line that corrects a coupon away, the waiting ticket the night credits in place of it', async () => {
    await night(
      '2026-06-05',
      'a.csv',
      FLOWN + coupon('7770000000100', 'XX,245', '1000000032', 'ABRAMOV,PAVEL', 'F'),
    );
    // Another ticket for the same seat while the first stands: kept waiting, credited never twice.
    await night(
      '2026-06-06',
      'b.csv',
      FLOWN + coupon('7770000000200', 'XX,245', '1000000032', 'ABRAMOV,PAVEL', 'F'),
    );
    writeFileSync(
      join(dir, 'r.csv'),
      FLOWN + coupon('7770000000100', 'XX,245', '1000000032', 'ABRAMOV,PAVEL', 'R'),
    );
    const out: string[] = [];
    const code = await main(
      ['node', 'redeye', '--config', config, 'simulate', 'flown', '--date', '2026-06-07', join(dir, 'r.csv')],
      { output: { out: (l) => out.push(l), err: (l) => out.push(l) }, env: {} },
    );
    expect(code).toBe(0);
    const text = out.join('\n');
    expect(text).toMatch(
      /r\.csv:2 {2}FLT:XX245:2026-06-03:SVO-AER:XX:1000000032 {2}REVERSED NOT_FLOWN {2}-1,309 points/,
    );
    expect(text).toMatch(
      /and FLT:XX245:2026-06-03:SVO-AER:XX:1000000032:\S*7770000000200\S* \(in place of the coupon it corrects away\): POSTED {2}\+1,309 points {2}\+170\.00 USD toward status/,
    );
    expect(text).toMatch(/1 records: 0 would post 1,309 points/);
  });

  it('counts every record once: rejects, other programs and postings add up to the records read', async () => {
    const events = await simulateJson('ftl', {
      'a.ftl': ftl('XX245', 'ABRAMOV/PAVEL MR', '1000000032').replace(
        'ENDFTL',
        '1SMITH/JOHN MR\r\n.R/FQTV LH 992001234567890\r\n1KOZLOV/DMITRY MR\r\n.R/FQTV XX 1000000058\r\nENDFTL',
      ),
    });
    const summary = summaryOf(events);
    expect(summary.records).toBe(3);
    expect(addsUp(summary)).toBe(true);
    for (const f of summary.files as unknown as Array<Record<string, number>>) expect(addsUp(f)).toBe(true);
  });
});
