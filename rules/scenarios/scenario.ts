/**
 * The worked-example harness: a demo-program world (examples/redeye.config.yaml, optionally edited into
 * a variant) on SQLite or PostgreSQL, with writers for every inbound feed so a scenario drops real files
 * into the inbox and runs the real night (fetch → ingest → accrue → tiers → expire), and readers for what
 * a user relies on: balances, lots, status credits, tier events, activity outcomes, rejects, postings.
 *
 * `useScenario` registers the world per test and proves the ledger's invariants (`checkLedger`) after
 * every scenario, whatever the scenario itself asserted.
 */
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, expect } from 'vitest';
import { Decimal } from 'decimal.js';
import { createWorld, type TestWorld } from '../../test/harness/context.js';
import type { Engine } from '../../test/harness/db.js';
import { checkLedger } from '../../ledger/check.js';
import { Accounts, describeAccount, type StatusMetric } from '../../ledger/accounts.js';
import { openLots, statusCreditsInWindow, type OpenLot } from '../../ledger/queries.js';
import { withCheckDigit } from '../check-digit.js';
import { fetchJob } from '../../jobs/fetch.js';
import { ingestJob } from '../../jobs/ingest.js';
import { accrueJob } from '../../jobs/accrue.js';
import { tiersJob } from '../../jobs/tiers.js';
import { expireJob } from '../../jobs/expire.js';
import {
  simulateNight,
  SIMULATED_FEEDS,
  type SimulatedPosting,
  type SimulationEvent,
} from '../../jobs/simulate.js';
import { runsAs, type Job, type JobContext, type JobResult } from '../../jobs/types.js';
import type { FeedName } from '../../parsers/types.js';
import type { MailingKind } from '../../config/schema.js';
import { mailingPolicy, mailingRows, type MailingRows } from '../../exporters/mailings.js';

/** A boolean column that is set: `1` on SQLite, `true` on PostgreSQL. */
export const YES = expect.toSatisfy((v: unknown) => v === true || v === 1, 'a set flag');

// ------------------------------------------------------------------------------------------------ members

/** A valid demo-program member number (10 digits, Luhn) for a small sequence number. */
export function memberNumber(seq: number): string {
  return withCheckDigit(`4${String(seq).padStart(8, '0')}`, { pattern: '^[0-9]{10}$', checkDigit: 'luhn' });
}

/** The same base with a wrong check digit. */
export function badCheckDigit(number: string): string {
  const last = Number(number.at(-1));
  return `${number.slice(0, -1)}${(last + 1) % 10}`;
}

export interface Person {
  number: string;
  surname: string;
  givenName: string;
  surnameLocal?: string;
  givenNameLocal?: string;
  status?: 'ACTIVE' | 'INCOMPLETE' | 'SUSPENDED' | 'CLOSED' | 'MERGED';
  mergedInto?: string;
  enrolled?: string;
  group?: { type: 'HOUSEHOLD' | 'CORPORATE'; id: string };
  email?: string;
  /** As the members feed writes it: `N;STATEMENT:Y`. */
  consent?: string;
  updatedAt?: string;
}

// ------------------------------------------------------------------------------------------------ records

export interface Coupon {
  ticket: string;
  coupon?: number;
  issued?: string;
  pnr?: string;
  carrier?: string;
  flight: string;
  marketingCarrier?: string;
  marketingFlight?: string;
  date: string;
  from: string;
  to: string;
  cabin?: string;
  booked: string;
  flown?: string;
  fareBasis?: string;
  surname: string;
  givenName: string;
  /** Card owner program and number; `null` for a ticket without a card. */
  card?: { program: string; number: string } | null;
  fare: string;
  surcharge?: string;
  tax?: string;
  currency?: string;
  status?: 'F' | 'V' | 'R' | 'E';
}

export interface FtlPax {
  surname: string;
  givenName: string;
  title?: string;
  /** Card number; program XX unless `program` says otherwise. */
  card: string;
  program?: string;
  /** Booked subclass when it differs from the group's (the `-B` suffix). */
  booked?: string;
}

export interface FtlMessage {
  /** Operating (or marketing) flight as the DCS writes it, e.g. `XX101`. */
  flight: string;
  date: string;
  board: string;
  groups: Array<{ dest: string; cls: string; pax: FtlPax[] }>;
}

export interface PartnerRecord {
  txn: string;
  member: string;
  surname: string;
  givenName?: string;
  date: string;
  type: string;
  location?: string;
  spend?: string;
  currency?: string;
  points?: number;
  promo?: string;
}

export interface HotelStayInput {
  member: string;
  program?: string;
  surname: string;
  givenName: string;
  reservation: string;
  checkIn: string;
  checkOut: string;
  revenue: Array<{ category: string; amount: string; currency?: string; date?: string }>;
  /** `SummaryAmount` per category; a category with a summary and no revenue is written with the summary alone. */
  summaries?: Array<{ category: string; amount: string; currency?: string }>;
  pointsEarned?: number;
  /** `HotelReservation/@ResStatus` (`Cancelled`, `No-show`, …); none by default. */
  resStatus?: string;
}

export interface AllianceClaimInput {
  id: string;
  member: string;
  surname: string;
  givenName?: string;
  carrier: string;
  flight: string;
  date: string;
  from: string;
  to: string;
  cabin: string;
  rbd: string;
  /** The flight as sold, when another airline marketed it: the operating one by default. */
  marketingCarrier?: string;
  marketingFlight?: string;
  /** The ticket and coupon, which a claim gives when known (alliance-accrual.md). */
  ticket?: string;
  coupon?: number;
}

export interface RedemptionInput {
  id: string;
  member: string;
  date: string;
  service: string;
  points: number;
  reference?: string;
  partner?: string;
  status?: 'ISSUED' | 'CANCELLED';
}

export interface RetroClaimInput {
  id: string;
  member: string;
  received: string;
  ticket?: string;
  coupon?: number;
  carrier?: string;
  flight?: string;
  date?: string;
  from?: string;
  to?: string;
  surname: string;
  givenName?: string;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];

const csvField = (v: string | number | null | undefined): string => {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
};
const csvLine = (fields: Array<string | number | null | undefined>) => fields.map(csvField).join(',');

export interface Night {
  fetch: JobResult;
  ingest: JobResult;
  accrue: JobResult;
  tiers: JobResult;
  expire: JobResult;
}

export interface PostingView {
  id: number;
  key: string;
  kind: string;
  businessDate: string;
  ruleVersion: string | null;
  reversalOf: number | null;
  detail: Record<string, unknown> | null;
  entries: Record<string, number>;
}

// ------------------------------------------------------------------------------------------------ the world

export class Scenario {
  private files = 0;
  private readonly partnerSequences = new Map<string, number>();
  private readonly allianceSequences = new Map<string, number>();

  constructor(readonly w: TestWorld) {}

  get knex() {
    return this.w.t.db.knex;
  }

  // -------------------------------------------------------------------------------------------- inbox

  inbox(feed: FeedName): string {
    const cfg = this.w.config.feeds[feed]!;
    const transport = this.w.config.transports[cfg.source]!;
    if (transport.type !== 'local') throw new Error('scenarios use local inboxes');
    return join(transport.root, cfg.remoteDir);
  }

  /** Writes `content` as a new file of `feed` in the inbox (a fresh name unless one is given). */
  drop(feed: FeedName, content: string, name?: string): string {
    const dir = this.inbox(feed);
    mkdirSync(dir, { recursive: true });
    const ext = { ftl: 'ftl', hotel: 'xml', 'alliance-claims': 'xml', 'alliance-results': 'xml', fx: 'xml' }[
      feed as string
    ];
    const file = name ?? `${feed}-${String(++this.files).padStart(4, '0')}.${ext ?? 'csv'}`;
    writeFileSync(join(dir, file), content);
    return file;
  }

  dropMembers(people: Person[]): string {
    const header =
      'member_number,status,merged_into,enrolment_date,enrolment_channel,surname,given_name,surname_local,given_name_local,email,marketing_consent,group_type,group_id,updated_at';
    const lines = people.map((p) =>
      csvLine([
        p.number,
        p.status ?? 'ACTIVE',
        p.mergedInto ?? '',
        p.enrolled ?? '2020-01-01',
        'WEB',
        p.surname,
        p.givenName,
        p.surnameLocal ?? '',
        p.givenNameLocal ?? '',
        p.email ?? '',
        p.consent ?? '',
        p.group?.type ?? '',
        p.group?.id ?? '',
        p.updatedAt ?? '2020-01-01T00:00:00Z',
      ]),
    );
    return this.drop('members', [header, ...lines].join('\n') + '\n');
  }

  dropCoupons(coupons: Coupon[], options: { trailer?: boolean } = {}): string {
    const header =
      'ticket_number,coupon_number,issue_date,pnr,operating_carrier,operating_flight,marketing_carrier,marketing_flight,flight_date,origin,destination,cabin,booked_rbd,flown_rbd,fare_basis,passenger_surname,passenger_given_name,passenger_type,ffp_carrier,ffp_number,fare_amount,carrier_surcharge_amount,tax_amount,currency,coupon_status,source_ref';
    const lines = coupons.map((c, i) =>
      csvLine([
        c.ticket,
        c.coupon ?? 1,
        c.issued ?? c.date,
        c.pnr ?? 'ABC123',
        c.carrier ?? 'XX',
        c.flight,
        c.marketingCarrier ?? '',
        c.marketingFlight ?? '',
        c.date,
        c.from,
        c.to,
        c.cabin ?? 'Y',
        c.booked,
        c.flown ?? c.booked,
        c.fareBasis ?? `${c.booked}STD`,
        c.surname,
        c.givenName,
        'ADT',
        c.card === null ? '' : (c.card?.program ?? 'XX'),
        c.card === null ? '' : (c.card?.number ?? ''),
        c.fare,
        c.surcharge ?? '0.00',
        c.tax ?? '0.00',
        c.currency ?? 'USD',
        c.status ?? 'F',
        `RA-${i + 1}`,
      ]),
    );
    const out = [header, ...lines];
    if (options.trailer) {
      const sum = coupons.reduce((s, c) => s.plus(c.fare), new Decimal(0));
      out.push(`#TRAILER,${coupons.length},${sum.toFixed(2)}`);
    }
    return this.drop('flown', out.join('\n') + '\n');
  }

  dropFtl(m: FtlMessage): string {
    const [y, mo, d] = m.date.split('-');
    const ddmmm = `${d}${MONTHS[Number(mo) - 1]}`;
    void y;
    const lines = ['QU MOWKTXX', `.MOWRMXX ${d}1530`, 'FTL', `${m.flight}/${ddmmm} ${m.board} PART1`];
    for (const g of m.groups) {
      lines.push(`-${g.dest}${String(g.pax.length).padStart(2, '0')}${g.cls}`);
      for (const p of g.pax) {
        lines.push(`1${p.surname}/${p.givenName}${p.title === undefined ? ' MR' : p.title}`);
        lines.push(`.L/0M71MG/XX`);
        lines.push(`.R/FQTV ${p.program ?? 'XX'} ${p.card}${p.booked ? `-${p.booked}` : ''}`);
      }
    }
    lines.push('ENDFTL');
    return this.drop('ftl', lines.join('\n') + '\n');
  }

  /** A partner file with its header and trailer; the sequence counts up per partner. */
  dropPartner(partner: string, fileDate: string, records: PartnerRecord[], sequence?: number): string {
    const seq = sequence ?? (this.partnerSequences.get(partner) ?? 0) + 1;
    this.partnerSequences.set(partner, Math.max(seq, this.partnerSequences.get(partner) ?? 0));
    const lines = [`H,${partner},${seq},${fileDate}T22:00:00+03:00`];
    let points = 0;
    let spend = new Decimal(0);
    for (const r of records) {
      lines.push(
        csvLine([
          'D',
          r.txn,
          r.member,
          r.surname,
          r.givenName ?? '',
          r.date,
          r.type,
          r.location ?? '',
          r.spend ?? '',
          r.currency ?? '',
          r.points ?? '',
          r.promo ?? '',
        ]),
      );
      points += r.points ?? 0;
      if (r.spend) spend = spend.plus(r.spend);
    }
    lines.push(`T,${records.length},${points},${spend.toFixed(2)}`);
    return this.drop(
      'partner',
      lines.join('\n') + '\n',
      `${partner}_${fileDate.replaceAll('-', '')}_${seq}.csv`,
    );
  }

  /** A hotel document of one StayInfos; `chain` null leaves out its ChainCode (optional in OpenTravel). */
  dropHotel(chain: string | null, stays: HotelStayInput[], name?: string): string {
    return this.dropHotelGroups([{ chain, stays }], name);
  }

  /**
   * A hotel document of several StayInfos (the schema allows one; the night reads them all); `hotel` is
   * its HotelCode, `<chain>001` by default.
   */
  dropHotelGroups(
    groups: Array<{ chain: string | null; stays: HotelStayInput[]; hotel?: string }>,
    name?: string,
  ): string {
    let sequence = 0;
    const groupXml = groups.map(({ chain, stays, hotel }) => {
      const stayXml = stays.map((s) => {
        const byCategory = new Map<string, HotelStayInput['revenue']>();
        for (const r of s.revenue) byCategory.set(r.category, [...(byCategory.get(r.category) ?? []), r]);
        for (const m of s.summaries ?? []) if (!byCategory.has(m.category)) byCategory.set(m.category, []);
        const summaryOf = (cat: string) => {
          const m = s.summaries?.find((x) => x.category === cat);
          return m
            ? `
          <SummaryAmount Amount="${m.amount}" CurrencyCode="${m.currency ?? 'USD'}"/>`
            : '';
        };
        const categories = [...byCategory]
          .map(([cat, rs]) =>
            rs.length === 0
              ? `
        <RevenueCategory RevenueCategoryCode="${cat}">${summaryOf(cat)}
        </RevenueCategory>`
              : `
        <RevenueCategory RevenueCategoryCode="${cat}">${summaryOf(cat)}
          <RevenueDetails>${rs
            .map(
              (r) => `
            <RevenueDetail TransactionDate="${r.date ?? s.checkIn}" Amount="${r.amount}" CurrencyCode="${r.currency ?? 'USD'}"/>`,
            )
            .join('')}
          </RevenueDetails>
        </RevenueCategory>`,
          )
          .join('');
        const points = s.pointsEarned === undefined ? '' : ` PointsEarned="${s.pointsEarned}"`;
        return `
    <StayInfo SequenceNumber="${++sequence}">
      <LoyaltyPointsAccruals>
        <SelectedLoyalty ProgramCode="${s.program ?? 'XX'}" AccountID="${s.member}"${points}/>
      </LoyaltyPointsAccruals>
      <RevenueCategories>${categories}
      </RevenueCategories>
      <ReservationID Type="14" ID="${s.reservation}"/>
      <HotelReservation${s.resStatus === undefined ? '' : ` ResStatus="${s.resStatus}"`}>
        <RoomStays><RoomStay><RoomRates><RoomRate><Rates>
          <Rate EffectiveDate="${s.checkIn}" ExpireDate="${s.checkOut}"/>
        </Rates></RoomRate></RoomRates></RoomStay></RoomStays>
        <ResGuests><ResGuest PrimaryIndicator="true"><Profiles><ProfileInfo><Profile><Customer>
          <PersonName><GivenName>${s.givenName}</GivenName><Surname>${s.surname}</Surname></PersonName>
        </Customer></Profile></ProfileInfo></Profiles></ResGuest></ResGuests>
      </HotelReservation>
    </StayInfo>`;
      });
      const chainCode = chain === null ? '' : ` ChainCode="${chain}"`;
      return `
  <StayInfos${chainCode} HotelCode="${hotel ?? `${chain ?? 'BER'}001`}">${stayXml.join('')}
  </StayInfos>`;
    });
    return this.drop(
      'hotel',
      `<?xml version="1.0" encoding="UTF-8"?>
<OTA_HotelStayInfoNotifRQ xmlns="http://www.opentravel.org/OTA/2003/05" EchoToken="T-${this.files}" TimeStamp="2026-01-01T00:00:00Z" Version="1.0">${groupXml.join('')}
</OTA_HotelStayInfoNotifRQ>
`,
      name,
    );
  }

  /**
   * A claims file of a partner airline to us, under a fresh name unless one is given; the sequence counts
   * up per sender, as partner files' do.
   */
  dropAllianceClaims(sender: string, claims: AllianceClaimInput[], sequence?: number, name?: string): string {
    const seq = sequence ?? (this.allianceSequences.get(sender) ?? 0) + 1;
    this.allianceSequences.set(sender, Math.max(seq, this.allianceSequences.get(sender) ?? 0));
    const body = claims
      .map(
        (c) => `
  <Claim>
    <ClaimId>${c.id}</ClaimId>
    <Member><Program>XX</Program><Number>${c.member}</Number><Surname>${c.surname}</Surname>${
      c.givenName ? `<GivenName>${c.givenName}</GivenName>` : ''
    }</Member>
    <Flight>
      <OperatingCarrier>${c.carrier}</OperatingCarrier>
      <OperatingFlightNumber>${c.flight}</OperatingFlightNumber>
      <MarketingCarrier>${c.marketingCarrier ?? c.carrier}</MarketingCarrier>
      <MarketingFlightNumber>${c.marketingFlight ?? c.flight}</MarketingFlightNumber>
      <FlightDate>${c.date}</FlightDate>
      <Origin>${c.from}</Origin>
      <Destination>${c.to}</Destination>
      <Cabin>${c.cabin}</Cabin>
      <FlownRbd>${c.rbd}</FlownRbd>${
        c.ticket
          ? `<TicketNumber>${c.ticket}</TicketNumber><CouponNumber>${c.coupon ?? 1}</CouponNumber>`
          : ''
      }
    </Flight>
  </Claim>`,
      )
      .join('');
    return this.drop(
      'alliance-claims',
      `<?xml version="1.0" encoding="UTF-8"?>
<AccrualClaims xmlns="urn:redeye:alliance:1.0">
  <FileHeader>
    <SenderProgram>${sender}</SenderProgram>
    <ReceiverProgram>XX</ReceiverProgram>
    <FileSequence>${seq}</FileSequence>
    <CreatedAt>2026-01-01T03:15:00Z</CreatedAt>
  </FileHeader>${body}
  <Control><ClaimCount>${claims.length}</ClaimCount></Control>
</AccrualClaims>
`,
      name,
    );
  }

  dropRedemptions(rows: RedemptionInput[]): string {
    const header =
      'redemption_id,member_number,redemption_date,service_type,points,reference,partner_code,status';
    const lines = rows.map((r) =>
      csvLine([
        r.id,
        r.member,
        r.date,
        r.service,
        r.points,
        r.reference ?? `REF-${r.id}`,
        r.partner ?? '',
        r.status ?? 'ISSUED',
      ]),
    );
    return this.drop('redemptions', [header, ...lines].join('\n') + '\n');
  }

  dropRetroClaims(rows: RetroClaimInput[]): string {
    const header =
      'claim_id,member_number,received_date,ticket_number,coupon_number,carrier,flight_number,flight_date,origin,destination,surname,given_name';
    const lines = rows.map((r) =>
      csvLine([
        r.id,
        r.member,
        r.received,
        r.ticket ?? '',
        r.coupon ?? '',
        r.carrier ?? '',
        r.flight ?? '',
        r.date ?? '',
        r.from ?? '',
        r.to ?? '',
        r.surname,
        r.givenName ?? '',
      ]),
    );
    return this.drop('retro-claims', [header, ...lines].join('\n') + '\n');
  }

  /** ECB reference rates: date → currency → units per euro. */
  dropFx(days: Record<string, Record<string, string>>): string {
    const cubes = Object.entries(days)
      .map(
        ([date, rates]) =>
          `    <Cube time="${date}">\n${Object.entries(rates)
            .map(([c, r]) => `      <Cube currency="${c}" rate="${r}"/>`)
            .join('\n')}\n    </Cube>`,
      )
      .join('\n');
    return this.drop(
      'fx',
      `<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
  <gesmes:subject>Reference rates</gesmes:subject>
  <gesmes:Sender><gesmes:name>European Central Bank</gesmes:name></gesmes:Sender>
  <Cube>
${cubes}
  </Cube>
</gesmes:Envelope>
`,
    );
  }

  // -------------------------------------------------------------------------------------------- jobs

  /**
   * Runs a job for `date`, by default at 23:30 UTC that day; `at` is the clock of a night run late, and
   * `filesUntil` the hour a night caught up after an outage would have run (as the scheduler's catch-up
   * and `redeye run nightly --files-until` give it).
   */
  run(job: Job, date: string, at?: Date, filesUntil?: Date): Promise<JobResult> {
    return job(this.ctx(date, at, filesUntil));
  }

  private ctx(date: string, at?: Date, filesUntil?: Date): JobContext {
    return { ...this.w.ctx(date, at), ...(filesUntil ? { filesUntil } : {}) };
  }

  /**
   * The whole night for `date`: fetch → ingest → accrue → tiers → expire.
   *
   * When the inbox holds files of activity feeds only (one or several), the simulator is asked first what
   * they would do, all of them together as the night takes them, and the night must bear it out: each
   * file's verdict, each record's reject, each activity's status and reason, and the points of what it
   * shows posted. `foretold: false` leaves a night unchecked: one
   * whose outcome depends on what the simulator does not model (the ledger refusing a posting). `at` is
   * the clock the night runs by (a night caught up days later), 23:30 UTC on its date by default;
   * `filesUntil`, for a night caught up, the hour it would have run: it takes only the files that had
   * come in by then (their modification time), as the scheduler's catch-up runs it.
   */
  async night(
    date: string,
    options: { foretold?: boolean; at?: string; filesUntil?: string } = {},
  ): Promise<Night> {
    const at = options.at ? new Date(options.at) : undefined;
    const filesUntil = options.filesUntil ? new Date(options.filesUntil) : undefined;
    const foretold = options.foretold === false ? undefined : await this.foretell(date, at, filesUntil);
    // FTL files held from earlier nights: the night settles them with tonight's delivery.
    const held = await this.knex('files')
      .where({ direction: 'in', feed: 'ftl', verdict: 'held' })
      .select('id');
    const fetch = await this.run(fetchJob, date, at, filesUntil);
    const ingest = await this.run(ingestJob, date, at, filesUntil);
    const accrue = await this.run(accrueJob, date, at, filesUntil);
    if (foretold)
      await this.expectAsForetold(
        foretold,
        held.map((r) => Number(r.id)),
      );
    const tiers = await this.run(tiersJob, date, at, filesUntil);
    const expire = await this.run(expireJob, date, at, filesUntil);
    return { fetch, ingest, accrue, tiers, expire };
  }

  /**
   * The files in the inbox the night will fetch (fetch leaves those it took, the registry knows them), by
   * feed; for a night caught up, those that had come in by `filesUntil`.
   */
  private async waiting(filesUntil?: Date): Promise<Map<FeedName, string[]>> {
    const out = new Map<FeedName, string[]>();
    for (const feed of Object.keys(this.w.config.feeds) as FeedName[]) {
      const dir = this.inbox(feed);
      // A feed whose partner reuses one name sends its next file under it: other content is new.
      const reused = this.w.config.feeds[feed]?.names === 'reused';
      const registered = await this.knex('files').where({ direction: 'in', feed }).select('name', 'sha256');
      const known = new Set(registered.map((r) => String(reused ? r.sha256 : r.name)));
      // Fetch takes only the names the feed's pattern matches.
      const pattern = new RegExp(this.w.config.feeds[feed]!.pattern);
      const files = readdirSync(dir)
        .filter((f) => {
          if (!pattern.test(f)) return false;
          const path = join(dir, f);
          const st = statSync(path);
          if (!st.isFile() || (filesUntil && st.mtime > filesUntil)) return false;
          return !known.has(reused ? createHash('sha256').update(readFileSync(path)).digest('hex') : f);
        })
        .sort();
      if (files.length > 0) out.set(feed, files);
    }
    return out;
  }

  /**
   * What the simulator shows for the night's files, when they are all of activity feeds: a members or
   * rates file changes what the others are judged by before they are read, which it does not model.
   */
  private async foretell(
    date: string,
    at?: Date,
    filesUntil?: Date,
  ): Promise<{ feeds: FeedName[]; events: SimulationEvent[] } | undefined> {
    const waiting = await this.waiting(filesUntil);
    const feeds = [...waiting.keys()];
    if (feeds.length === 0 || feeds.some((f) => !SIMULATED_FEEDS.includes(f))) return undefined;
    // Received as fetch will count them: the hour the night runs as.
    const receivedAt = runsAs(this.ctx(date, at, filesUntil));
    const events = await this.simulateFiles(waiting, date, receivedAt);
    return { feeds, events };
  }

  /** What `simulate` shows for files waiting in the inbox, by feed, taken together as one night. */
  private async simulateFiles(
    files: Iterable<[FeedName, string[]]>,
    date: string,
    receivedAt: Date,
  ): Promise<SimulationEvent[]> {
    const deliveries = [...files].map(([feed, names]) => {
      const dir = this.inbox(feed);
      const inputs = names.map((name) => ({
        name,
        open: () => createReadStream(join(dir, name)),
        receivedAt,
      }));
      return { feed, inputs };
    });
    const events: SimulationEvent[] = [];
    for await (const e of simulateNight(this.knex, this.w.config, deliveries, date)) events.push(e);
    return events;
  }

  private async expectAsForetold(
    foretold: { feeds: FeedName[]; events: SimulationEvent[] },
    heldBefore: number[],
  ): Promise<void> {
    const fileIds = new Map<string, number>();
    const refused = new Set<string>();
    if (foretold.feeds.includes('ftl')) {
      // An FTL file held from an earlier night that the night settles shows with its verdict.
      const settled = await this.knex('files')
        .whereIn('id', heldBefore)
        .whereNot({ verdict: 'held' })
        .select('id', 'name', 'verdict', 'reason');
      const shown = foretold.events.flatMap((e) => (e.type === 'file' ? [e] : []));
      for (const f of settled)
        expect(
          shown.find((e) => e.fileId === Number(f.id)) ??
            shown.find((e) => e.fileId === undefined && e.file === f.name),
          `simulated the held file ${String(f.name)} the night settled`,
        ).toMatchObject({ verdict: f.verdict, ...(f.reason ? { reason: f.reason } : {}) });
    }
    const reversed = new Set(
      foretold.events.flatMap((e) =>
        e.type === 'record' || e.type === 'due'
          ? [e, ...(e.type === 'record' ? (e.also ?? []) : [])].flatMap((x) =>
              x.postings.flatMap((p) => (p.reverses ? [p.reverses] : [])),
            )
          : [],
      ),
    );
    const creditedByClaims = new Set(
      foretold.events.flatMap((e) =>
        e.type === 'record' && e.claim && e.status === 'POSTED' ? [e.activity] : [],
      ),
    );
    for (const e of foretold.events) {
      if (e.type === 'due') {
        // An earlier night's activity the night decides: posted as shown, left as shown.
        const where = `simulated due ${e.activity} (${e.file ?? 'no file'}:${e.line ?? '-'})`;
        for (const p of e.postings) expect(await this.posting(p.key), `${where} ${p.key}`).toBeDefined();
        await this.expectPostedAsShown(where, e);
        if (e.claim) {
          // An earlier night's claim the night credits: it ends credited.
          const claim = await this.knex('retro_claims').where({ claim_id: e.claim }).first();
          expect([e.claim, claim?.status]).toEqual([e.claim, 'CREDITED']);
        }
        const row = await this.activity(e.activity);
        expect(row, where).toBeDefined();
        if (e.status === 'REVERSED') continue;
        const status =
          e.postings.length > 0 && e.postings.every((p) => reversed.has(p.key)) ? 'REVERSED' : e.status;
        expect({ where, status: row!.status }).toEqual({ where, status });
        if (status === e.status) expect(row!.reason ?? null, where).toBe(e.reason);
        continue;
      }
      if (e.type === 'file') {
        // A file refused whole keeps no rejects; one rejected for its held parts' expiry keeps them.
        if (e.verdict !== 'accepted' && e.verdict !== 'held' && e.reason !== 'INCOMPLETE_MESSAGE')
          refused.add(e.file);
        // An earlier night's file the simulator names with its id shows under that id.
        const file = await this.knex('files')
          .where(e.fileId === undefined ? { direction: 'in', feed: e.feed, name: e.file } : { id: e.fileId })
          .orderBy('id', 'desc')
          .first();
        expect(file, `simulated ${e.file}`).toBeDefined();
        fileIds.set(e.file, file.id as number);
        expect({ file: e.file, verdict: file.verdict, reason: file.reason ?? undefined }).toEqual({
          file: e.file,
          verdict: e.verdict,
          reason: e.reason,
        });
      } else if (e.type === 'reject' && !refused.has(e.file)) {
        // A file refused whole keeps no rejects: its verdict says why (an unreadable XML document's one).
        const found = await this.knex('rejects')
          .where({ file_id: fileIds.get(e.file)!, line: e.line })
          .select('reason');
        expect(
          found.map((r) => r.reason as string),
          `simulated ${e.file}:${e.line} ${e.reason}`,
        ).toContain(e.reason);
      } else if (e.type === 'record' && e.claim && !refused.has(e.file)) {
        // A retro-claim: the claim ends as shown (credited, waiting, or rejected with its reason).
        const claim = await this.knex('retro_claims').where({ claim_id: e.claim }).first();
        const shown = e.status === 'POSTED' ? ['CREDITED', null] : [e.status, e.reason];
        expect([e.claim, claim?.status, claim?.reason ?? null]).toEqual([e.claim, ...shown]);
      }
      if (
        e.type === 'record' &&
        e.activity &&
        !refused.has(e.file) &&
        !['MERGED', 'HELD'].includes(e.status)
      ) {
        // An activity something else of the night changed too (a claim credited it) ends as that shows:
        // on this line, or on the line of a retro-claim of the night's files.
        const later = new Set((e.also ?? []).map((a) => a.activity));
        if (!e.claim && creditedByClaims.has(e.activity)) later.add(e.activity);
        for (const shown of [...(later.has(e.activity) ? [] : [e]), ...(e.also ?? [])]) {
          const where = `simulated ${e.file}:${e.line} ${shown.activity}`;
          // What it shows posted, the night posted: the same postings, by their keys.
          for (const p of shown.postings)
            expect(await this.posting(p.key), `${where} ${p.key}`).toBeDefined();
          await this.expectPostedAsShown(where, shown);
          const row = await this.activity(shown.activity);
          if (e.status === 'REJECTED' && e.reason === 'DUPLICATE' && row?.status !== 'REJECTED') continue;
          expect(row, where).toBeDefined();
          // A reversing record is stored as the activity taken back (a refunded coupon) or as a reversal
          // activity of its own that posted (a partner's -R record, a cancellation): its postings tell.
          if (shown.status === 'REVERSED') continue;
          // A credit a later record of the same run takes back ends REVERSED.
          const status =
            shown.postings.length > 0 && shown.postings.every((p) => reversed.has(p.key))
              ? 'REVERSED'
              : shown.status;
          expect({ where, status: row!.status }).toEqual({ where, status });
          // A partner's passenger on another airline's flight is marked NOT_OWN_FLIGHT by the claims
          // export, which judges the unclaimed passengers after the night's accrue: the simulator shows
          // the mark it will set, the archive holds none before then.
          const markedByExport =
            e.status === 'NOT_CREDITED' && e.reason === 'NOT_OWN_FLIGHT' && row!.reason === null;
          if (shown === e && status === shown.status && !markedByExport)
            expect(row!.reason ?? null, where).toBe(e.reason);
          // A refused record keeps the field the simulator names (files show prints it).
          if (shown === e && status === 'REJECTED' && e.field)
            expect(row!.reason_field ?? null, where).toBe(e.field);
        }
      }
    }
  }

  /**
   * A line of the simulation against what the night posted under its postings' keys: the points shown are
   * what the program's own accounts (own flights, a partner, a redemption, an adjustment) gave the
   * member's side or took back from it — the member, their pool, or in their stead `UNRECOVERED` and
   * `EXPIRY` — and each posting's status credits are those the night credited. The activity's own points
   * may differ: a correction of an FTL credit posts the difference only.
   */
  private async expectPostedAsShown(
    where: string,
    shown: { points: number; statusCredits?: number; postings: SimulatedPosting[] },
  ): Promise<void> {
    const program = new Set(['OWN_FLIGHTS', 'PARTNER', 'REDEMPTION', 'ADJUSTMENT']);
    let points = 0;
    let statusCredits = 0;
    for (const p of shown.postings) {
      const night = await this.posting(p.key);
      if (!night) continue;
      let credited = 0;
      for (const [code, amount] of Object.entries(night.entries)) {
        const { kind } = describeAccount(code);
        if (program.has(kind)) points -= amount;
        if (kind === 'MEMBER_STATUS') credited += amount;
      }
      statusCredits += credited;
      if (!p.reverses) {
        const foretold = (p.statusCredits ?? []).reduce((n, c) => n + c.amount, 0);
        expect({ where, key: p.key, statusCredits: credited }).toEqual({
          where,
          key: p.key,
          statusCredits: foretold,
        });
      }
    }
    expect({ where, points }).toEqual({ where, points: shown.points });
    if (shown.statusCredits !== undefined)
      expect({ where, statusCredits }).toEqual({ where, statusCredits: shown.statusCredits });
  }

  /**
   * What `redeye simulate` shows for a file waiting in the inbox, as the night of `date` would take it;
   * `also` are files of other feeds given with it (`--with <feed>=<file>`).
   */
  async simulate(
    feed: FeedName,
    file: string,
    date: string,
    also: Array<[FeedName, string]> = [],
  ): Promise<SimulationEvent[]> {
    // One delivery per file: the simulator puts a feed's files together and the feeds in the night's order.
    return this.simulateFiles(
      [[feed, [file]], ...also.map(([other, name]): [FeedName, string[]] => [other, [name]])],
      date,
      new Date(`${date}T01:00:00Z`),
    );
  }

  /** Enrols people through the members feed on a night of its own. */
  async enrol(date: string, ...people: Person[]): Promise<void> {
    this.dropMembers(people);
    const n = await this.night(date);
    expect(n.ingest.counts['members.enrolled'] ?? 0).toBe(people.length);
  }

  // -------------------------------------------------------------------------------------------- reads

  private async balanceOf(code: string): Promise<number> {
    const row = await this.knex('accounts').where({ code }).first('balance');
    return Number(row?.balance ?? 0);
  }

  balance(member: string): Promise<number> {
    return this.balanceOf(Accounts.memberPoints(member));
  }

  poolBalance(pool: string): Promise<number> {
    return this.balanceOf(Accounts.poolPoints(pool));
  }

  /** The member's status account (what the ledger holds), in status units (cents for spend). */
  statusBalance(member: string, metric: StatusMetric = 'SPEND'): Promise<number> {
    return this.balanceOf(Accounts.memberStatus(member, metric));
  }

  /** Status credits with activity dates in the window. */
  statusInWindow(member: string, from: string, to: string, metric: StatusMetric = 'SPEND'): Promise<number> {
    return statusCreditsInWindow(this.knex, member, metric, { from, to });
  }

  lots(member: string): Promise<OpenLot[]> {
    return openLots(this.knex, Accounts.memberPoints(member));
  }

  poolLots(pool: string): Promise<OpenLot[]> {
    return openLots(this.knex, Accounts.poolPoints(pool));
  }

  /** Open lots as [remaining, expiresOn] in consumption order. */
  async lotSummary(member: string): Promise<Array<[number, string | null]>> {
    return (await this.lots(member)).map((l) => [l.remaining, l.expiresOn]);
  }

  /** The registry's id of an inbound file, as messages and `files show` name it. */
  async inboundFileId(name: string): Promise<number> {
    return Number((await this.knex('files').where({ direction: 'in', name }).first('id')).id);
  }

  async activity(key: string): Promise<Record<string, unknown> | undefined> {
    return this.knex('activities').where({ activity_key: key }).first();
  }

  async activitiesOf(member: string): Promise<Array<Record<string, unknown>>> {
    return this.knex('activities').where({ member_number: member }).orderBy('id');
  }

  async rejects(where: Record<string, unknown> = {}): Promise<Array<Record<string, unknown>>> {
    return this.knex('rejects').where(where).orderBy('id');
  }

  async member(number: string): Promise<Record<string, unknown>> {
    return (await this.knex('members').where({ number }).first()) as Record<string, unknown>;
  }

  async tierEvents(number: string): Promise<Array<Record<string, unknown>>> {
    return this.knex('tier_events as t')
      .join('members as m', 'm.id', 't.member_id')
      .where('m.number', number)
      .orderBy('t.id')
      .select(
        't.business_date',
        't.effective_on',
        't.from_tier',
        't.to_tier',
        't.direction',
        't.qualification',
        't.reason',
      );
  }

  async posting(key: string): Promise<PostingView | undefined> {
    const p = await this.knex('postings').where({ idempotency_key: key }).first();
    if (!p) return undefined;
    const entries = await this.knex('entries as e')
      .join('accounts as a', 'a.id', 'e.account_id')
      .where('e.posting_id', p.id)
      .select('a.code', 'e.amount');
    const out: Record<string, number> = {};
    for (const e of entries) out[e.code as string] = (out[e.code as string] ?? 0) + Number(e.amount);
    return {
      id: Number(p.id),
      key,
      kind: p.kind,
      businessDate: p.business_date,
      ruleVersion: p.rule_version ?? null,
      reversalOf: p.reversal_of === null ? null : Number(p.reversal_of),
      detail: p.detail ? (JSON.parse(p.detail) as Record<string, unknown>) : null,
      entries: out,
    };
  }

  async postingCount(): Promise<number> {
    return Number((await this.knex('postings').count({ n: '*' }).first())!.n);
  }

  async postingsOf(member: string): Promise<Array<{ key: string; kind: string; businessDate: string }>> {
    const rows = await this.knex('postings as p')
      .join('members as m', 'm.id', 'p.member_id')
      .where('m.number', member)
      .orderBy('p.id')
      .select('p.idempotency_key as key', 'p.kind as kind', 'p.business_date as businessDate');
    return rows as Array<{ key: string; kind: string; businessDate: string }>;
  }

  /** Who a mailing list of `date` addresses, and with what, as the export job would write it. */
  async mailingList<K extends MailingKind>(kind: K, date: string): Promise<Array<MailingRows[K]>> {
    const rows: Array<MailingRows[K]> = [];
    for await (const row of mailingRows(this.knex, kind, date, mailingPolicy(this.w.config)))
      rows.push(row as MailingRows[K]);
    return rows;
  }

  async expectLedgerOk(): Promise<void> {
    const report = await checkLedger(this.knex);
    const violations = report.checks.flatMap((c) => c.violations.map((v) => `${c.name}: ${v}`));
    expect(violations).toEqual([]);
  }
}

/**
 * A fresh world per test on `engine` (the demo program, or a variant of it through `edit`), its ledger
 * checked after every test.
 */
export function useScenario(engine: Engine, edit?: (yaml: string) => string): () => Scenario {
  let s: Scenario | undefined;
  beforeEach(async () => {
    s = new Scenario(await createWorld(engine, edit));
  });
  afterEach(async () => {
    if (!s) return;
    try {
      await s.expectLedgerOk();
    } finally {
      await s.w.cleanup();
      s = undefined;
    }
  });
  return () => s!;
}

/** `person`'s flown coupon for SVO–KZN (461 miles) on `date`: a $100 Y fare, their card of this program. */
export const svoKznCoupon = (person: Person, ticket: string, date: string): Coupon => ({
  ticket,
  flight: '245',
  date,
  from: 'SVO',
  to: 'KZN',
  booked: 'Y',
  surname: person.surname,
  givenName: person.givenName,
  card: { program: 'XX', number: person.number },
  fare: '100.00',
});

/** Gives members an address and their consent to every mailing (the mailing lists' scenarios). */
export async function mailable(w: Scenario, ...people: Person[]): Promise<void> {
  for (const p of people)
    await w
      .knex('members')
      .where({ number: p.number })
      .update({ email: `${p.givenName.toLowerCase()}@example.com`, consent: JSON.stringify({ ALL: true }) });
}

/** Replaces `from` by `to` in the YAML, failing loudly when the demo configuration no longer has it. */
export function replaceOnce(yaml: string, from: string, to: string): string {
  if (!yaml.includes(from))
    throw new Error(`the demo configuration no longer contains ${JSON.stringify(from)}`);
  return yaml.replace(from, to);
}
