/**
 * The alliance exports over real nights (rules/scenarios harness): who is claimed from partners, and what
 * a partner reads when its claim is rejected.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../test/harness/db.js';
import { memberNumber, useScenario, type Person, type Scenario } from '../rules/scenarios/scenario.js';
import { ALLIANCE_XSD, validateWithSchema, xmllintOrSkip } from '../parsers/fixtures/xml/support.js';
import { exportJob } from '../jobs/export.js';
import { ALLIANCE_REASON_CODES } from '../parsers/alliance.js';
import { Program } from '../rules/program.js';
import { unclaimedPassengers } from './alliance.js';
import { partnerReasonCode, partnerReasonText } from './partner-reasons.js';
import { exportCopy } from '../test/harness/files.js';

const IVANOV: Person = { number: memberNumber(1), surname: 'IVANOV', givenName: 'IVAN' };
const PETROVA: Person = { number: memberNumber(2), surname: 'PETROVA', givenName: 'ANNA' };
const LH_CARD = (n: number) => `99200123456789${n}`;

/** An LH claim for one of our members on a Lufthansa flight in economy. */
const lhClaim = (id: string, member: string, from: string, to: string) => ({
  id,
  member,
  surname: 'IVANOV',
  carrier: 'LH',
  flight: '1444',
  date: '2026-03-10',
  from,
  to,
  cabin: 'Y',
  rbd: 'Y',
});

/** Rewrites a dropped XML file on a single line, as many systems write XML. */
function onOneLine(w: Scenario, feed: 'alliance-claims', name: string): void {
  const path = join(w.inbox(feed), name);
  writeFileSync(path, `${readFileSync(path, 'utf8').replace(/\n\s*/g, '')}\n`);
}

async function resultsXml(w: Scenario): Promise<string> {
  const out = await w.knex('files').where({ direction: 'out', feed: 'alliance-results' }).first();
  return readFileSync(exportCopy(w.w.config, out.local_path), 'utf8');
}

/** Each result as [claim id, reason code, reason text], in the file's order. */
function results(xml: string): Array<[string, string | undefined, string | undefined]> {
  return [...xml.matchAll(/<Result>([\s\S]*?)<\/Result>/g)].map(([, body]) => [
    /<ClaimId>([^<]*)</.exec(body!)![1]!,
    /<ReasonCode>([^<]*)</.exec(body!)?.[1],
    /<ReasonText>([^<]*)</.exec(body!)?.[1],
  ]);
}

for (const engine of availableEngines()) {
  describe(`alliance exports after a night (${engine})`, () => {
    const s = useScenario(engine);

    it('claims only flown passengers: not a coupon refunded, voided or exchanged', async () => {
      const w = s();
      const flight = {
        flight: '245',
        date: '2026-03-10',
        from: 'SVO',
        to: 'KZN',
        booked: 'Y',
        fare: '100.00',
      };
      const lh = (n: number) => ({ program: 'LH', number: LH_CARD(n) });
      w.dropFtl({
        flight: 'XX245',
        date: flight.date,
        board: 'SVO',
        groups: [
          {
            dest: 'KZN',
            cls: 'Y',
            pax: [
              { surname: 'SCHMIDT', givenName: 'KLAUS', card: LH_CARD(0), program: 'LH' },
              { surname: 'WEBER', givenName: 'ANNA', card: LH_CARD(2), program: 'LH' },
              { surname: 'KOCH', givenName: 'JAN', card: LH_CARD(3), program: 'LH' },
            ],
          },
        ],
      });
      w.dropCoupons([
        {
          ...flight,
          ticket: '2201000000001',
          surname: 'SCHMIDT',
          givenName: 'KLAUS',
          card: lh(0),
          status: 'R',
        },
        {
          ...flight,
          ticket: '2201000000002',
          surname: 'MEYER',
          givenName: 'PETRA',
          card: lh(1),
          status: 'V',
        },
        { ...flight, ticket: '2201000000003', surname: 'WEBER', givenName: 'ANNA', card: lh(2), status: 'F' },
        { ...flight, ticket: '2201000000004', surname: 'BRAUN', givenName: 'EVA', card: lh(4), status: 'E' },
      ]);
      await w.night('2026-03-11');
      const program = new Program(w.w.config);
      const wait = w.w.config.exports.alliance.couponWaitDays;
      const tonight = await unclaimedPassengers(w.knex, 'LH', '2026-03-11', program, wait);
      // WEBER: flown coupon, claimed at once; KOCH: listed by the FTL, coupon not yet seen, waits for it.
      expect(tonight.due.map((p) => p.surname)).toEqual(['WEBER']);
      expect(tonight.waiting.map((p) => p.surname)).toEqual(['KOCH']);
      const waitOver = await unclaimedPassengers(w.knex, 'LH', '2026-03-14', program, wait);
      expect(waitOver.due.map((p) => p.surname).sort()).toEqual(['KOCH', 'WEBER']);
    });

    it('claims only flights one of our carriers operated or marketed: not an LH flight from LH, 5-digit flights too', async () => {
      const w = s();
      const lh = (n: number) => ({ program: 'LH', number: LH_CARD(n) });
      const coupon = (ticket: string, surname: string, card: number, f: Record<string, string>) => ({
        ticket,
        date: '2026-03-10',
        booked: 'Y',
        fare: '100.00',
        givenName: 'KLAUS',
        surname,
        card: lh(card),
        flight: f.flight!,
        from: f.from!,
        to: f.to!,
        carrier: f.carrier,
        marketingCarrier: f.marketingCarrier,
        marketingFlight: f.marketingFlight,
      });
      const coupons = w.dropCoupons([
        // LH's own flight in our extract (an interline coupon on our ticket stock): LH credits it itself.
        coupon('2201000000011', 'SCHMIDT', 0, {
          carrier: 'LH',
          flight: '1446',
          marketingCarrier: 'LH',
          marketingFlight: '1446',
          from: 'FRA',
          to: 'SVO',
        }),
        // Operated by LH, sold as our XX5446: a codeshare we market is ours to claim for.
        coupon('2201000000012', 'WEBER', 2, {
          carrier: 'LH',
          flight: '1446',
          marketingCarrier: 'XX',
          marketingFlight: '5446',
          from: 'FRA',
          to: 'SVO',
        }),
        // Operated by us under LH's number.
        coupon('2201000000013', 'KOCH', 3, {
          carrier: 'XX',
          flight: '245',
          marketingCarrier: 'LH',
          marketingFlight: '7245',
          from: 'SVO',
          to: 'KZN',
        }),
        // A five-digit flight number of ours, as the FTL and the coupons carry it.
        coupon('2201000000014', 'BRAUN', 4, { carrier: 'XX', flight: '12345', from: 'SVO', to: 'AER' }),
      ]);
      // The simulator says which the claims export will leave out, and why.
      const shown = (await w.simulate('flown', coupons, '2026-03-11')).flatMap((e) =>
        e.type === 'record' ? [[e.line, e.status, e.reason, e.message]] : [],
      );
      expect(shown.slice(0, 2)).toEqual([
        [
          2,
          'NOT_CREDITED',
          'NOT_OWN_FLIGHT',
          expect.stringMatching(/^not claimed from LH: LH1446 is operated and marketed by LH, not by one of/),
        ],
        [3, 'NOT_CREDITED', null, 'exported to LH'],
      ]);
      // FTL passengers: one whose .M/ shows LH's flight sold by IB, one of our flight without a .M/.
      w.drop(
        'ftl',
        [
          'QU MOWKTXX',
          '.MOWRMXX 101530',
          'FTL',
          'LH1447/10MAR SVO PART1',
          '-FRA01Y',
          '1MEYER/PETRA MRS',
          '.M/IB5447Y10SVOFRA',
          `.R/FQTV LH ${LH_CARD(5)}`,
          'ENDFTL',
          '',
        ].join('\n'),
      );
      w.dropFtl({
        flight: 'XX247',
        date: '2026-03-10',
        board: 'SVO',
        groups: [
          {
            dest: 'KZN',
            cls: 'Y',
            pax: [{ surname: 'FISCHER', givenName: 'EVA', card: LH_CARD(6), program: 'LH' }],
          },
        ],
      });
      await w.night('2026-03-11');
      const program = new Program(w.w.config);
      const wait = w.w.config.exports.alliance.couponWaitDays;
      const claimable = await unclaimedPassengers(w.knex, 'LH', '2026-03-11', program, wait);
      expect(claimable.due.map((p) => p.surname).sort()).toEqual(['BRAUN', 'KOCH', 'WEBER']);
      // FTL passengers wait for their coupons; the night their wait is over claims them.
      expect(claimable.waiting.map((p) => p.surname)).toEqual(['FISCHER']);

      const result = await w.run(exportJob, '2026-03-14');
      expect(result.counts.invalidClaims ?? 0).toBe(0);
      const sent = (await w
        .knex('alliance_claims as c')
        .join('activities as a', 'a.activity_key', 'c.activity_key')
        .where({ 'c.direction': 'OUT', 'c.partner_code': 'LH' })
        .orderBy('a.travel_surname')
        .select('a.travel_surname', 'c.status')) as Array<{ travel_surname: string; status: string }>;
      expect(sent.map((r) => [r.travel_surname, r.status])).toEqual([
        ['BRAUN', 'SENT'],
        ['FISCHER', 'SENT'],
        ['KOCH', 'SENT'],
        ['WEBER', 'SENT'],
      ]);
      const out = await w
        .knex('files')
        .where({ direction: 'out', feed: 'alliance-claims', partner_code: 'LH' })
        .first();
      const xml = readFileSync(exportCopy(w.w.config, out.local_path), 'utf8');
      expect(xml).toContain('<OperatingFlightNumber>12345</OperatingFlightNumber>');
      expect(xml).toContain('<ClaimCount>4</ClaimCount>');
      // LH's own flights stay NOT_CREDITED, neither claimed nor credited, and say why: the claims export
      // does not read them again on later nights.
      const others = await w
        .knex('activities')
        .whereIn('travel_surname', ['SCHMIDT', 'MEYER'])
        .orderBy('travel_surname')
        .select('travel_surname', 'status', 'reason', 'partner_code');
      expect(others).toEqual([
        { travel_surname: 'MEYER', status: 'NOT_CREDITED', reason: 'NOT_OWN_FLIGHT', partner_code: 'LH' },
        { travel_surname: 'SCHMIDT', status: 'NOT_CREDITED', reason: 'NOT_OWN_FLIGHT', partner_code: 'LH' },
      ]);
      // A rerun claims nothing more.
      expect(await unclaimedPassengers(w.knex, 'LH', '2026-03-14', program, wait)).toEqual({
        due: [],
        waiting: [],
      });
      // The mark is judged again each night: were LH one of the program's own carriers (the
      // configuration corrected, say), they would be claimed, and the mark lifted.
      const widened = new Program({
        ...w.w.config,
        program: { ...w.w.config.program, carriers: ['XX', 'LH'] },
      });
      const now = await unclaimedPassengers(w.knex, 'LH', '2026-03-15', widened, wait);
      expect(now.due.map((p) => p.surname).sort()).toEqual(['MEYER', 'SCHMIDT']);
      expect(
        await w.knex('activities').whereIn('travel_surname', ['SCHMIDT', 'MEYER']).whereNotNull('reason'),
      ).toEqual([]);
    });

    it('answers a claim rejected for its class with a code of the format, the program’s reason in the text', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropAllianceClaims('LH', [
        {
          id: 'LH-5',
          member: IVANOV.number,
          surname: 'IVANOV',
          carrier: 'LH',
          flight: '1444',
          date: '2026-03-10',
          from: 'FRA',
          to: 'SVO',
          cabin: 'Y',
          rbd: 'O',
        },
      ]);
      await w.night('2026-03-11');
      await w.run(exportJob, '2026-03-11');
      const out = await w.knex('files').where({ direction: 'out', feed: 'alliance-results' }).first();
      const xml = readFileSync(exportCopy(w.w.config, out.local_path), 'utf8');
      expect(xml).toContain('<ReasonCode>NO_CONTRACT</ReasonCode>');
      // The text is what the rule said of this claim, as the partner's CSV response and files show say it.
      const said = await w.knex('activities').where({ external_ref: 'LH-5' }).first('reason_message');
      expect(said.reason_message).toMatch(/O/);
      expect(results(xml)).toEqual([['LH-5', 'NO_CONTRACT', `CLASS_NOT_ELIGIBLE: ${said.reason_message}`]]);
    });

    it('names the surviving account when it rejects a claim for a member merged away', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV, PETROVA);
      w.dropMembers([
        { ...IVANOV, status: 'MERGED', mergedInto: PETROVA.number, updatedAt: '2026-03-05T09:00:00Z' },
      ]);
      await w.night('2026-03-05');
      w.dropAllianceClaims('LH', [lhClaim('LH-6', IVANOV.number, 'FRA', 'SVO')]);
      await w.night('2026-03-11');
      await w.run(exportJob, '2026-03-11');
      expect(results(await resultsXml(w))).toEqual([
        ['LH-6', 'ACCOUNT_CLOSED', `account merged into ${PETROVA.number}`],
      ]);
    });

    it('names in a rebuilt answer the account the record was rejected for, not one the member was merged into since', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV, PETROVA);
      w.dropMembers([{ ...IVANOV, status: 'CLOSED', updatedAt: '2026-03-05T09:00:00Z' }]);
      await w.night('2026-03-05');
      w.dropAllianceClaims('LH', [lhClaim('LH-10', IVANOV.number, 'FRA', 'SVO')]);
      w.dropPartner('DRIVE', '2026-03-11', [
        {
          txn: 'D-10',
          member: IVANOV.number,
          surname: 'IVANOV',
          date: '2026-03-10',
          type: 'RENTAL',
          points: 500,
        },
      ]);
      await w.night('2026-03-11');
      await w.run(exportJob, '2026-03-11');
      const answers = async () =>
        (await w
          .knex('files')
          .where({ direction: 'out' })
          .whereIn('feed', ['alliance-results', 'partner-response'])
          .orderBy('feed')
          .select('feed', 'sha256', 'local_path')) as Array<{
          feed: string;
          sha256: string;
          local_path: string;
        }>;
      const sent = await answers();
      expect(sent.map((a) => a.feed)).toEqual(['alliance-results', 'partner-response']);
      expect(results(readFileSync(exportCopy(w.w.config, sent[0]!.local_path), 'utf8'))).toEqual([
        ['LH-10', 'ACCOUNT_CLOSED', `account ${IVANOV.number} is closed`],
      ]);
      const response = readFileSync(exportCopy(w.w.config, sent[1]!.local_path), 'utf8');
      expect(response).toContain(
        `D,D-10,${IVANOV.number},R,0,ACCOUNT_CLOSED,account ${IVANOV.number} is closed`,
      );
      await w.knex('files').where({ direction: 'out' }).update({ verdict: 'delivered' });

      // The closed account is merged into PETROVA's afterwards: the answers, rebuilt, say what they said.
      w.dropMembers([
        { ...IVANOV, status: 'MERGED', mergedInto: PETROVA.number, updatedAt: '2026-03-12T09:00:00Z' },
      ]);
      await w.night('2026-03-12');
      expect((await w.member(IVANOV.number)).merged_into).toBe(PETROVA.number);
      const rerun = await w.run(exportJob, '2026-03-11');
      expect(rerun.counts.drifted).toBeUndefined();
      expect(await answers()).toEqual(sent);
      expect(readFileSync(exportCopy(w.w.config, sent[1]!.local_path), 'utf8')).toBe(response);
    });

    it('answers claims in the order of the file, those it could not read among the others', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      w.dropAllianceClaims('LH', [
        lhClaim('LH-7', IVANOV.number, 'FRA', 'SVO'),
        lhClaim('LH-8', IVANOV.number, 'F1', 'SVO'),
        lhClaim('LH-9', IVANOV.number, 'MUC', 'SVO'),
      ]);
      await w.night('2026-03-11');
      await w.run(exportJob, '2026-03-11');
      expect(results(await resultsXml(w)).map(([id, code]) => [id, code])).toEqual([
        ['LH-7', undefined],
        ['LH-8', 'MALFORMED'],
        ['LH-9', undefined],
      ]);
    });

    it('claims a passenger by the given name alone, without the title a flown coupon carries', async () => {
      const w = s();
      const givenNames = async () => {
        const out = await w
          .knex('files')
          .where({ direction: 'out', feed: 'alliance-claims', partner_code: 'LH' })
          .orderBy('id', 'desc')
          .first();
        const xml = readFileSync(exportCopy(w.w.config, out.local_path), 'utf8');
        return [...xml.matchAll(/<GivenName>([^<]*)<\/GivenName>/g)].map(([, name]) => name);
      };
      // Listed by the FTL as 1MUELLER/HANS MR, its reader takes the title off: claimed as HANS once the
      // coupon wait is over.
      w.dropFtl({
        flight: 'XX245',
        date: '2026-03-04',
        board: 'SVO',
        groups: [
          {
            dest: 'KZN',
            cls: 'C',
            pax: [{ surname: 'MUELLER', givenName: 'HANS', card: LH_CARD(5), program: 'LH' }],
          },
        ],
      });
      for (const date of ['2026-03-05', '2026-03-06', '2026-03-07', '2026-03-08']) {
        await w.night(date);
        await w.run(exportJob, date);
      }
      expect(await givenNames()).toEqual(['HANS']);
      // Flown coupons carry the given name as on the ticket, title included: SCHMIDT / ANNA MRS is claimed
      // as ANNA, and WEBER / MR. JAN MARIA as JAN MARIA; a title glued to the name cannot be told from its
      // ending (ALEXANDR) and stays.
      const coupon = (ticket: string, surname: string, givenName: string, card: number) => ({
        ticket,
        flight: '246',
        date: '2026-03-08',
        from: 'KZN',
        to: 'SVO',
        booked: 'C',
        fare: '300.00',
        surname,
        givenName,
        card: { program: 'LH', number: LH_CARD(card) },
      });
      w.dropCoupons([
        coupon('2201000000031', 'SCHMIDT', 'ANNA MRS', 6),
        coupon('2201000000032', 'WEBER', 'MR. JAN MARIA', 7),
        coupon('2201000000033', 'ORLOV', 'ALEXANDR', 8),
      ]);
      await w.night('2026-03-09');
      await w.run(exportJob, '2026-03-09');
      expect(await givenNames()).toEqual(['ANNA', 'JAN MARIA', 'ALEXANDR']);
      // The night's export run again rebuilds the file from the claims recorded as sent: the same bytes.
      const rerun = await w.run(exportJob, '2026-03-09');
      expect(rerun.counts).not.toHaveProperty('replaced');
      expect(rerun.counts).not.toHaveProperty('restored');
      expect(await givenNames()).toEqual(['ANNA', 'JAN MARIA', 'ALEXANDR']);
    });

    it('answers the claims of a file written on one line in its order, those it could not read among the others', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      const file = w.dropAllianceClaims('LH', [
        lhClaim('LH-1', IVANOV.number, 'FRA', 'SVO'),
        { ...lhClaim('LH-2', IVANOV.number, 'MUC', 'SVO'), date: '2026-13-45' },
        lhClaim('LH-3', IVANOV.number, 'MUC', 'SVO'),
        lhClaim('LH-4', IVANOV.number, 'F1', 'SVO'),
        lhClaim('LH-5', IVANOV.number, 'FRA', 'LED'),
      ]);
      onOneLine(w, 'alliance-claims', file);
      await w.night('2026-03-11');
      await w.run(exportJob, '2026-03-11');
      expect(results(await resultsXml(w)).map(([id, code]) => [id, code])).toEqual([
        ['LH-1', undefined],
        ['LH-2', 'MALFORMED'],
        ['LH-3', undefined],
        ['LH-4', 'MALFORMED'],
        ['LH-5', undefined],
      ]);
      // Rebuilt on a rerun, the answer is the same file.
      const rerun = await w.run(exportJob, '2026-03-11');
      expect(rerun.counts).not.toHaveProperty('replaced');
      expect(rerun.counts).not.toHaveProperty('restored');
      // A file read before migration 050 kept no places: its answers keep the order they had, by line.
      await w.knex('activities').update({ source_ordinal: null });
      await w.knex('rejects').update({ ordinal: null });
      await w.run(exportJob, '2026-03-11');
      expect(results(await resultsXml(w)).map(([id]) => id)).toEqual([
        'LH-1',
        'LH-3',
        'LH-5',
        'LH-2',
        'LH-4',
      ]);
    });

    it('claims with the fare basis of the flown coupon, valid against the interface’s schema', async () => {
      const w = s();
      w.dropCoupons([
        {
          flight: '245',
          date: '2026-03-10',
          from: 'SVO',
          to: 'KZN',
          booked: 'B',
          fareBasis: 'BFLEXEUOW',
          fare: '100.00',
          ticket: '2201000000021',
          surname: 'SCHMIDT',
          givenName: 'KLAUS',
          card: { program: 'LH', number: LH_CARD(0) },
        },
      ]);
      await w.night('2026-03-11');
      await w.run(exportJob, '2026-03-11');
      const out = await w
        .knex('files')
        .where({ direction: 'out', feed: 'alliance-claims', partner_code: 'LH' })
        .first();
      const xml = readFileSync(exportCopy(w.w.config, out.local_path), 'utf8');
      expect(xml).toMatch(
        /<FlownRbd>B<\/FlownRbd>\s*<FareBasis>BFLEXEUOW<\/FareBasis>\s*<TicketNumber>2201000000021<\/TicketNumber>/,
      );
      if (xmllintOrSkip()) {
        expect(validateWithSchema(ALLIANCE_XSD, [exportCopy(w.w.config, out.local_path)])).toMatchObject({
          ok: true,
        });
      }
    });
  });
}

describe('partner reason codes', () => {
  it('gives partners only codes of partner-accrual.md, keeping the program’s reason in the text', () => {
    const internal = [
      'CLASS_NOT_ELIGIBLE',
      'UNKNOWN_AIRPORT',
      'NO_EARNING_RULE',
      'MEMBER_INACTIVE',
      'NOT_ENROLLED',
      'UNKNOWN_ORIGINAL',
      'INSUFFICIENT_POINTS',
      'NOT_OWN_FLIGHT',
      'SOMETHING_NEW',
    ];
    for (const code of internal)
      expect(ALLIANCE_REASON_CODES as readonly string[]).toContain(partnerReasonCode(code));
    expect(partnerReasonCode('CLASS_NOT_ELIGIBLE')).toBe('NO_CONTRACT');
    expect(partnerReasonCode('MEMBER_INACTIVE')).toBe('ACCOUNT_CLOSED');
    expect(partnerReasonCode('NAME_MISMATCH')).toBe('NAME_MISMATCH');
    expect(partnerReasonText('UNKNOWN_ORIGINAL', 'T-9 was never credited')).toBe(
      'UNKNOWN_ORIGINAL: T-9 was never credited',
    );
    expect(partnerReasonText('NAME_MISMATCH')).toBe('surname or initial do not match the member');
  });
});
