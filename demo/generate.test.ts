/**
 * The demo generator at a small scale (300 members, one month): the same seed gives the same bytes; every
 * file reads with the project's own parsers the way the plan says (the deliberately broken ones refused,
 * the FTL part sent a night late held and then completed, the rest accepted); member numbers pass their
 * check digit and belong to members, except the ones written wrong on purpose; names fit their members;
 * partner sequences advance as designed; the XML validates against its schemas; and the configuration
 * written beside the files loads and reads the folders the files are in.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { writeClaimsFile } from '../exporters/alliance-xml.js';
import { addDays, endOfMonth, type IsoDate } from '../lib/dates.js';
import { allianceResultsParser, type AllianceClaim } from '../parsers/alliance.js';
import {
  SHARED_FORMATS,
  PROJECT,
  validateWithSchema,
  xmllintOrSkip,
} from '../parsers/fixtures/xml/support.js';
import type { FlownCoupon } from '../parsers/flown.js';
import { FtlAssembler, type FtlPassenger, type HeldFtlPart } from '../parsers/ftl/index.js';
import { hotelParser, type HotelStay } from '../parsers/hotel.js';
import { getParser } from '../parsers/index.js';
import type { MemberRecord } from '../parsers/members.js';
import type { PartnerActivity, PartnerFileMeta } from '../parsers/partner.js';
import type { FeedName, ParseEvent, ParseInput, VerdictEvent } from '../parsers/types.js';
import { validateMemberNumber } from '../rules/check-digit.js';
import { nameMatches } from '../rules/names.js';
import { answerClaimsFile, answerDeliveredClaims } from './alliance.js';
import { generateDemo, type DemoPlan } from './generate.js';
import { MEMBER_RULE } from './members.js';
import { FEED_DIRS, type PlannedFile } from './out.js';

const MONTH = '2026-10';
const MEMBERS = 300;
const SEED = 7;

interface FileRead {
  file: PlannedFile;
  verdict: VerdictEvent;
  rejects: Record<string, number>;
  records: unknown[];
}

let dir: string;
let again: string;
let other: string;
let plan: DemoPlan;
const reads = new Map<string, FileRead>();

function listFiles(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(relative(root, p), createHash('sha256').update(readFileSync(p)).digest('hex'));
    }
  };
  walk(root);
  return out;
}

/** The night's files are fetched after the nightly schedule starts, at 02:00 Moscow time the next day. */
function receivedAt(night: IsoDate): Date {
  return new Date(`${addDays(night, 1)}T02:00:00+03:00`);
}

function inputOf(f: PlannedFile): ParseInput {
  const bytes = readFileSync(join(dir, f.path));
  return {
    name: f.name,
    open: () => Readable.from([bytes]),
    receivedAt: receivedAt(f.night),
    size: bytes.length,
  };
}

type Reading = { file: PlannedFile; rejects: Record<string, number>; records: unknown[] };

async function readAll(): Promise<void> {
  let held: HeldFtlPart[] = [];
  const ftlFiles = new Map<string, Reading>();
  for (const night of plan.businessDates) {
    const files = plan.files.filter((f) => f.night === night);
    // FTL: one delivery per night, seeded with the parts held the night before, as the ingest job does.
    const ftl = files.filter((f) => f.feed === 'ftl').sort((a, b) => (a.name < b.name ? -1 : 1));
    const assembler = new FtlAssembler(
      {
        encoding: 'utf-8',
        ownPrograms: ['XX'],
        timeZone: 'Europe/Moscow',
        holdTimeoutHours: 48,
        asOf: receivedAt(night),
      },
      held,
    );
    for (const f of ftl) ftlFiles.set(f.name, { file: f, rejects: {}, records: [] });
    // Records released from a part held last night name the file that part came in.
    for await (const e of assembler.parse(ftl.map(inputOf))) collect(ftlFiles, e);
    held = assembler.result().held;
    for (const f of files.filter((x) => x.feed !== 'ftl')) {
      const events =
        f.feed === 'hotel'
          ? hotelParser.parse([inputOf(f)], { ownPrograms: ['XX'] })
          : getParser(f.feed).parse([inputOf(f)]);
      const one = new Map<string, Reading>([[f.name, { file: f, rejects: {}, records: [] }]]);
      for await (const e of events) collect(one, e);
    }
  }
  expect(held, 'no FTL part is still waiting at the end of the month').toEqual([]);
}

function collect(files: Map<string, Reading>, e: ParseEvent<unknown>): void {
  const at = files.get(e.file);
  if (!at) throw new Error(`event for a file not in this delivery: ${JSON.stringify(e).slice(0, 200)}`);
  if (e.type === 'record') at.records.push(e.record);
  else if (e.type === 'reject') at.rejects[e.reason] = (at.rejects[e.reason] ?? 0) + 1;
  else reads.set(at.file.path, { file: at.file, verdict: e, rejects: at.rejects, records: at.records });
}

function recordsOf<T>(feed: FeedName): T[] {
  return [...reads.values()]
    .filter((r) => r.file.feed === feed && r.verdict.verdict !== 'rejected')
    .flatMap((r) => r.records as T[]);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'redeye-demo-'));
  again = mkdtempSync(join(tmpdir(), 'redeye-demo-'));
  other = mkdtempSync(join(tmpdir(), 'redeye-demo-'));
  plan = await generateDemo({ dir, members: MEMBERS, month: MONTH, seed: SEED });
  await generateDemo({ dir: again, members: MEMBERS, month: MONTH, seed: SEED });
  await generateDemo({ dir: other, members: MEMBERS, month: MONTH, seed: SEED + 1 });
  await readAll();
}, 300_000);

afterAll(() => {
  for (const d of [dir, again, other]) rmSync(d, { recursive: true, force: true });
});

describe('demo generator', () => {
  it('writes byte-identical files for the same seed, members and month, and other files for another seed', () => {
    const a = listFiles(dir);
    const b = listFiles(again);
    expect(a.size).toBeGreaterThan(300);
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [path, hash] of a) expect(b.get(path), path).toBe(hash);
    const c = listFiles(other);
    // Only what has nothing random in it may repeat: an empty flight list (NIL) or claims file.
    const empty = new Set(plan.files.filter((f) => f.records === 0).map((f) => f.path));
    const same = [...a].filter(([path, hash]) => c.get(path) === hash).map(([path]) => path);
    expect(same.filter((p) => p.startsWith('nights/') && !empty.has(p))).toEqual([]);
  });

  it('plans one folder per business date of the month, and counts what it wrote', () => {
    expect(plan.businessDates).toHaveLength(Number(endOfMonth(`${MONTH}-01`).slice(8)));
    expect(plan.businessDates[0]).toBe(`${MONTH}-01`);
    expect(plan.nights.map((n) => n.date)).toEqual(plan.businessDates);
    const onDisk = listFiles(join(dir, 'nights'));
    expect(onDisk.size).toBe(plan.files.length);
    for (const f of plan.files) expect(onDisk.has(f.path.slice('nights/'.length)), f.path).toBe(true);
    const total = Object.values(plan.counts).reduce((s, c) => s + c.files, 0);
    expect(total).toBe(plan.files.length);
    const saved = JSON.parse(readFileSync(join(dir, 'plan.json'), 'utf8')) as Omit<DemoPlan, 'dir'>;
    expect(saved.counts).toEqual(plan.counts);
    // Every night brings flight lists, and from the second night the coupons flown the day before.
    for (const n of plan.nights) {
      expect(n.feeds.ftl?.files ?? 0, n.date).toBeGreaterThan(0);
      expect(n.feeds.flown?.files ?? 0, n.date).toBeGreaterThan(0);
      expect(n.feeds.partner?.files ?? 0, n.date).toBeGreaterThan(0);
    }
    expect(plan.history.coupons).toBeGreaterThan(MEMBERS);
    // The full extract is fetched (in name order) before the first night's delta.
    const firstMembers = plan.files
      .filter((f) => f.night === plan.businessDates[0] && f.feed === 'members')
      .map((f) => f.name);
    expect([...firstMembers].sort()[0]).toMatch(/_FULL\.csv$/);
    expect(plan.history.files).toHaveLength(4);
  });

  it('writes a configuration that loads and whose feeds read the folders the files are in', () => {
    const path = join(dir, 'redeye.config.yaml');
    const config = parseConfig(readFileSync(path, 'utf8'), path, {});
    expect(config.database.url).toBe(`sqlite:${join(dir, 'var', 'redeye.sqlite')}`);
    const inbox = config.transports.inbox!;
    expect(inbox).toMatchObject({ type: 'local', root: join(dir, 'var', 'inbox') });
    expect(config.paths.landing).toBe(join(dir, 'var', 'landing'));
    for (const f of plan.files) {
      const feed = config.feeds[f.feed]!;
      expect(feed.remoteDir).toBe(FEED_DIRS[f.feed]);
      expect(new RegExp(feed.pattern).test(f.name), `${f.name} matches the ${f.feed} pattern`).toBe(true);
    }
    const hotel = config.partners.find((p) => p.code === 'GRANDSTAY')!;
    for (const c of hotel.contracts) expect(c.activities.STAY!.revenueCategories).toContain('9');
  });

  it('reads every file with its feed parser, with the verdict and the rejects the plan expects', () => {
    expect(reads.size).toBe(plan.files.length);
    const outcome = plan.files.map((f) => {
      const r = reads.get(f.path)!;
      return {
        path: f.path,
        verdict: r.verdict.verdict,
        reason: r.verdict.reason ?? null,
        rejects: r.rejects,
      };
    });
    const expected = plan.files.map((f) => ({
      path: f.path,
      verdict: f.expect.verdict,
      reason: f.expect.reason ?? (f.expect.verdict === 'accepted' ? null : expect.any(String)),
      rejects: f.rejects ?? {},
    }));
    expect(outcome).toEqual(expected);
    const verdicts = outcome.map((o) => o.verdict);
    expect(verdicts.filter((v) => v === 'rejected').length).toBe(2);
    expect(verdicts.filter((v) => v === 'held').length).toBeGreaterThan(0);
    // Records as the plan counts them.
    for (const f of plan.files) {
      if (f.feed === 'ftl' || f.feed === 'members') continue;
      const r = reads.get(f.path)!;
      const rejects = Object.values(r.rejects).reduce((s, n) => s + n, 0);
      expect(r.records.length + rejects, f.path).toBe(f.records);
    }
  });

  it('completes the FTL message whose last part came a night late, and ignores the part sent twice', () => {
    const late = plan.files.filter((f) => f.note?.includes('a night late'));
    expect(late.length).toBeGreaterThan(0);
    const waiting = late.find((f) => f.expect.verdict === 'held')!;
    const completing = late.find((f) => f.expect.verdict === 'accepted')!;
    expect(completing.night).toBe(addDays(waiting.night, 1));
    // The waiting part's passengers were read as held on their night and released the next.
    const passengers = reads.get(waiting.path)!.records as FtlPassenger[];
    const held = passengers.filter((p) => p.held).length;
    expect(held).toBeGreaterThan(0);
    expect(passengers.filter((p) => !p.held)).toHaveLength(held);
    expect((reads.get(completing.path)!.records as FtlPassenger[]).every((p) => !p.held)).toBe(true);
    const twice = plan.files.find((f) => f.rejects?.DUPLICATE_PART)!;
    expect(reads.get(twice.path)!.verdict.verdict).toBe('accepted');
    const multipart = plan.files.filter((f) => f.feed === 'ftl' && /_P2\.ftl$/.test(f.name));
    expect(multipart.length).toBeGreaterThanOrEqual(3);
  });

  it('sends one night of CP866 from VKO, whose Cyrillic lines a UTF-8 feed rejects as bad bytes', () => {
    const cp866 = plan.files.filter((f) => f.encoding === 'cp866');
    expect(cp866.length).toBeGreaterThan(0);
    expect(new Set(cp866.map((f) => f.night)).size).toBe(1);
    const bad = cp866.reduce((n, f) => n + (reads.get(f.path)!.rejects.BAD_ENCODING ?? 0), 0);
    expect(bad).toBeGreaterThan(0);
    expect(cp866.every((f) => reads.get(f.path)!.verdict.verdict === 'accepted')).toBe(true);
  });

  it('writes member numbers that pass the Luhn check digit and belong to members, except the deliberate ones', () => {
    const members = new Set<string>();
    for (const m of recordsOf<MemberRecord>('members')) {
      members.add(m.memberNumber);
      expect(validateMemberNumber(m.memberNumber, MEMBER_RULE).valid, m.memberNumber).toBe(true);
    }
    expect(members.size).toBe(plan.members.end);
    const numbers: Array<[string, string]> = [];
    for (const m of recordsOf<MemberRecord>('members'))
      if (m.mergedInto) numbers.push(['members', m.mergedInto]);
    for (const c of recordsOf<FlownCoupon>('flown'))
      if (c.ffpCarrier === 'XX') numbers.push(['flown', c.ffpNumber!]);
    for (const p of recordsOf<FtlPassenger>('ftl'))
      for (const c of p.cards) if (c.own) numbers.push(['ftl', c.number]);
    for (const a of recordsOf<PartnerActivity>('partner')) numbers.push(['partner', a.memberNumber]);
    for (const s of recordsOf<HotelStay>('hotel')) if (s.own) numbers.push(['hotel', s.memberNumber]);
    for (const c of recordsOf<AllianceClaim>('alliance-claims'))
      numbers.push(['alliance-claims', c.member.number]);
    for (const r of recordsOf<{ memberNumber: string }>('redemptions'))
      numbers.push(['redemptions', r.memberNumber]);
    for (const r of recordsOf<{ memberNumber: string }>('retro-claims'))
      numbers.push(['retro-claims', r.memberNumber]);
    expect(new Set(numbers.map(([feed]) => feed)).size).toBe(8);
    const bad = new Set(plan.deliberate.badCheckDigit);
    const unknown = new Set(plan.deliberate.unknownMembers);
    expect(bad.size).toBeGreaterThan(0);
    expect(unknown.size).toBeGreaterThan(0);
    for (const [feed, number] of numbers) {
      const check = validateMemberNumber(number, MEMBER_RULE);
      if (bad.has(number)) {
        expect(check, `${feed} ${number}`).toEqual({ valid: false, reason: 'CHECK_DIGIT' });
      } else {
        expect(check.valid, `${feed} ${number}`).toBe(true);
        expect(members.has(number) || unknown.has(number), `${feed} ${number} is a member`).toBe(true);
      }
    }
  });

  it('lists travellers under their members’ names (Latin, Cyrillic, truncated), except the deliberate mismatches', () => {
    const latest = new Map<string, MemberRecord>();
    for (const m of recordsOf<MemberRecord>('members')) {
      const known = latest.get(m.memberNumber);
      if (!known || known.updatedAt < m.updatedAt) latest.set(m.memberNumber, m);
    }
    const mismatch = new Set(plan.deliberate.nameMismatch);
    const check = (number: string, surname: string, givenName: string | null) => {
      const m = latest.get(number);
      if (!m || !m.surname || mismatch.has(number)) return true;
      return nameMatches(
        { surname, givenName: givenName ?? undefined },
        {
          surname: m.surname,
          givenName: m.givenName ?? '',
          surnameLocal: m.surnameLocal ?? undefined,
          givenNameLocal: m.givenNameLocal ?? undefined,
        },
      ).matches;
    };
    let cyrillic = 0;
    for (const p of recordsOf<FtlPassenger>('ftl')) {
      const card = p.accrualCard;
      if (!card?.own) continue;
      if (/[А-Я]/.test(p.surname)) cyrillic++;
      expect(check(card.number, p.surname, p.givenName), `${p.surname}/${p.givenName} ${card.number}`).toBe(
        true,
      );
    }
    expect(cyrillic).toBeGreaterThan(0);
    for (const c of recordsOf<FlownCoupon>('flown')) {
      if (c.ffpCarrier !== 'XX') continue;
      expect(
        check(c.ffpNumber!, c.passengerSurname, c.passengerGivenName),
        `${c.passengerSurname} ${c.ffpNumber}`,
      ).toBe(true);
    }
    for (const a of recordsOf<PartnerActivity>('partner')) {
      if (plan.deliberate.badCheckDigit.includes(a.memberNumber)) continue;
      expect(check(a.memberNumber, a.surname, a.givenName), `${a.surname} ${a.memberNumber}`).toBe(true);
    }
  });

  it('advances partner sequences by one, except GrandStay’s one gap and Red Bank’s resent file', () => {
    const sequences = new Map<string, number[]>();
    for (const f of plan.files
      .filter((x) => x.feed === 'partner')
      .sort((a, b) => (a.night < b.night || (a.night === b.night && a.name < b.name) ? -1 : 1))) {
      const meta = reads.get(f.path)!.verdict.meta as unknown as PartnerFileMeta;
      const list = sequences.get(meta.partnerCode!) ?? [];
      list.push(meta.fileSequence!);
      sequences.set(meta.partnerCode!, list);
    }
    const steps = (list: number[]) => list.slice(1).map((s, i) => s - list[i]!);
    const gs = steps(sequences.get('GRANDSTAY')!);
    expect(gs.filter((s) => s !== 1)).toEqual([2]);
    expect(steps(sequences.get('DRIVE')!).every((s) => s === 1)).toBe(true);
    const rb = steps(sequences.get('REDBANK')!);
    // The refused file's sequence comes again (step 0 from the one after it back to it, then on).
    expect(rb.filter((s) => s !== 1)).toEqual([0]);
    const rejected = plan.files.find((f) => f.expect.reason === 'CONTROL_TOTAL_MISMATCH')!;
    const resent = plan.files.find(
      (f) =>
        f.feed === 'partner' &&
        f.name.startsWith('REDBANK_') &&
        f.night === addDays(rejected.night, 1) &&
        f.name.endsWith(rejected.name.slice(-10)),
    )!;
    expect(reads.get(resent.path)!.verdict.verdict).toBe('accepted');
    // Alliance claims: one file a night from LH, twice a week from IB, without gaps.
    for (const sender of ['LH', 'IB']) {
      const seqs = plan.files
        .filter((f) => f.feed === 'alliance-claims' && f.name.startsWith(`${sender}_`))
        .map((f) => (reads.get(f.path)!.verdict.meta as { sequence: number }).sequence);
      expect(
        steps(seqs).every((s) => s === 1),
        sender,
      ).toBe(true);
    }
  });

  it('ignores the hotel stay meant for another program and reads ours', () => {
    const stays = recordsOf<HotelStay>('hotel');
    expect(stays.filter((s) => !s.own).map((s) => s.program)).toContain('GSREW');
    expect(stays.filter((s) => s.own).length).toBeGreaterThan(0);
    expect(stays.every((s) => s.chainCode === 'GS')).toBe(true);
  });

  it.skipIf(!xmllintOrSkip())(
    'writes OpenTravel stays and alliance claims that validate against their schemas',
    () => {
      const hotel = plan.files.filter((f) => f.feed === 'hotel').map((f) => join(dir, f.path));
      const ota = validateWithSchema(join(SHARED_FORMATS, 'ota/2017B/OTA_HotelStayInfoNotifRQ.xsd'), hotel);
      expect(ota.output).not.toContain('fails to validate');
      const claims = plan.files.filter((f) => f.feed === 'alliance-claims').map((f) => join(dir, f.path));
      const alliance = validateWithSchema(join(PROJECT, 'schemas/redeye-alliance-1.0.xsd'), claims);
      expect(alliance.output).not.toContain('fails to validate');
    },
  );

  it('answers a claims file Redeye sent the way the partner would, claim by claim', async () => {
    const claims: AllianceClaim[] = [1, 2, 3, 4, 5].map((n) => ({
      claimId: `XX-${n}`,
      member: { program: 'LH', number: `99200000000000${n}`, surname: 'SCHMIDT', givenName: 'KLAUS' },
      flight: {
        operatingCarrier: 'XX',
        operatingFlightNumber: '145',
        marketingCarrier: 'XX',
        marketingFlightNumber: '145',
        date: '2026-10-03',
        origin: 'SVO',
        destination: 'FRA',
        cabin: 'Y',
        flownRbd: 'M',
      },
    }));
    const sent = writeClaimsFile({
      sender: 'XX',
      receiver: 'LH',
      sequence: 4,
      createdAt: '2026-10-04T01:00:00Z',
      claims,
    });
    const answer = (await answerClaimsFile(sent, { seed: SEED, answeredOn: '2026-10-05' }))!;
    expect(answer.name).toBe('XX_LH_000004.results.xml');
    expect(await answerClaimsFile(sent, { seed: SEED, answeredOn: '2026-10-05' })).toEqual(answer);
    const events = [];
    for await (const e of allianceResultsParser.parse([
      { name: answer.name, open: () => Readable.from([Buffer.from(answer.text)]), receivedAt: new Date() },
    ])) {
      events.push(e);
    }
    const verdict = events.find((e) => e.type === 'verdict') as VerdictEvent;
    expect(verdict.verdict).toBe('accepted');
    expect(verdict.meta).toMatchObject({
      sender: 'LH',
      receiver: 'XX',
      answers: { sender: 'XX', receiver: 'LH', sequence: 4 },
    });
    expect(
      events
        .filter((e) => e.type === 'record')
        .map((e) => (e as { record: { claimId: string } }).record.claimId),
    ).toEqual(claims.map((c) => c.claimId));
    expect(await answerClaimsFile('<not-claims/>', { seed: SEED, answeredOn: '2026-10-05' })).toBeNull();
  });

  it('answers, before a night, the claims files delivered one (LH) or two (IB) nights earlier, except IB’s third', async () => {
    const root = mkdtempSync(join(tmpdir(), 'redeye-answers-'));
    try {
      const delivered = join(root, 'delivered', 'alliance-claims');
      mkdirSync(delivered, { recursive: true });
      const claim = (id: string): AllianceClaim => ({
        claimId: id,
        member: { program: 'LH', number: '992000000000001', surname: 'WEBER', givenName: 'ANNA' },
        flight: {
          operatingCarrier: 'XX',
          operatingFlightNumber: '145',
          marketingCarrier: 'XX',
          marketingFlightNumber: '145',
          date: '2026-10-02',
          origin: 'SVO',
          destination: 'FRA',
          cabin: 'Y',
          flownRbd: 'K',
        },
      });
      const send = (receiver: string, date: string, sequence: number) =>
        writeFileSync(
          join(
            delivered,
            `XX_${receiver}_${date.replace(/-/g, '')}_${String(sequence).padStart(6, '0')}.claims.xml`,
          ),
          writeClaimsFile({
            sender: 'XX',
            receiver,
            sequence,
            createdAt: `${date}T23:00:00Z`,
            claims: [claim(`XX-${sequence}`)],
          }),
        );
      send('LH', '2026-10-02', 2);
      send('IB', '2026-10-01', 2);
      send('IB', '2026-10-02', 3);
      const inbox = join(root, 'inbox');
      const answered = await answerDeliveredClaims({
        claimsDir: delivered,
        inboxDir: inbox,
        night: '2026-10-03',
        seed: SEED,
      });
      expect(answered).toEqual(['XX_IB_000002.results.xml', 'XX_LH_000002.results.xml']);
      expect(readdirSync(join(inbox, 'alliance', 'results')).sort()).toEqual(answered);
      expect(
        await answerDeliveredClaims({
          claimsDir: delivered,
          inboxDir: inbox,
          night: '2026-10-04',
          seed: SEED,
        }),
      ).toEqual([]);
      expect(
        await answerDeliveredClaims({
          claimsDir: join(root, 'none'),
          inboxDir: inbox,
          night: '2026-10-04',
          seed: SEED,
        }),
      ).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('refuses options it cannot honour', async () => {
    await expect(generateDemo({ dir, members: 300, month: '2026-13' })).rejects.toThrow(/YYYY-MM/);
    await expect(generateDemo({ dir, members: 300, month: '2024-06' })).rejects.toThrow(/2025-01/);
    await expect(generateDemo({ dir, members: 10, month: MONTH })).rejects.toThrow(/members/);
  });
});
