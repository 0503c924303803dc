/**
 * The member master feed and what hangs on it: a merge moves the merged account's points (lots with
 * their dates) and its live status credits to the survivor; members of a household pool earn award
 * points into the pool and status into their own accounts, and redeem from the pool.
 */
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { Accounts } from '../../ledger/accounts.js';
import { dateTextSql } from '../../reports/common.js';
import { flightKey, partnerKey } from '../activity.js';
import { memberNumber, useScenario, type Person, type Scenario } from './scenario.js';

const SURVIVOR: Person = { number: memberNumber(1), surname: 'IVANOV', givenName: 'IVAN' };
const MERGED: Person = { number: memberNumber(2), surname: 'IVANOV', givenName: 'IVAN' };

let tickets = 0;
function fly(w: Scenario, who: Person, date: string, fare: string, to = 'KZN'): void {
  w.dropCoupons([
    {
      ticket: `074${String(4_000_000_000 + ++tickets).slice(-10)}`,
      flight: '245',
      date,
      from: 'SVO',
      to,
      booked: 'Y',
      surname: who.surname,
      givenName: who.givenName,
      card: { program: 'XX', number: who.number },
      fare,
    },
  ]);
}

for (const engine of availableEngines()) {
  describe(`member merges (${engine})`, () => {
    const s = useScenario(engine);

    it('moves the balance, the lots with their dates and the live status credits to the survivor, who is upgraded at once', async () => {
      const w = s();
      await w.enrol('2025-01-01', SURVIVOR, MERGED);
      fly(w, MERGED, '2025-02-10', '500.00'); // will have left the window by the merge
      await w.night('2025-02-11');
      fly(w, MERGED, '2026-02-20', '400.00', 'AER');
      await w.night('2026-02-21');
      fly(w, MERGED, '2026-03-02', '300.00');
      fly(w, SURVIVOR, '2026-03-02', '1900.00');
      await w.night('2026-03-03');
      expect((await w.member(SURVIVOR.number)).tier).toBe('SILVER');
      expect((await w.member(MERGED.number)).tier).toBe('MEMBER');
      expect(await w.lotSummary(MERGED.number)).toEqual([
        [461, '2028-02-29'],
        [873, '2029-02-28'],
        [461, '2029-03-31'],
      ]);
      const mergedLots = await w.lots(MERGED.number);
      // Live: $400 + $300; February 2025's $500 lapsed in February 2026.
      expect(await w.statusBalance(MERGED.number)).toBe(70000);

      w.dropMembers([
        { ...MERGED, status: 'MERGED', mergedInto: SURVIVOR.number, updatedAt: '2026-03-10T09:00:00Z' },
      ]);
      const n = await w.night('2026-03-10');
      expect(n.ingest.counts['members.merged']).toBe(1);
      expect(await w.balance(MERGED.number)).toBe(0);
      expect(await w.balance(SURVIVOR.number)).toBe(461 + 461 + 873 + 461);
      const survivorLots = await w.lots(SURVIVOR.number);
      expect(survivorLots.map((l) => [l.remaining, l.earnedOn, l.expiresOn])).toEqual(
        [
          ...mergedLots.map((l) => [l.remaining, l.earnedOn, l.expiresOn]),
          [461, '2026-03-02', '2029-03-31'],
        ].sort(
          (a, b) => String(a[2]).localeCompare(String(b[2])) || String(a[1]).localeCompare(String(b[1])),
        ),
      );
      expect(await w.statusBalance(MERGED.number)).toBe(0);
      expect(await w.statusBalance(SURVIVOR.number)).toBe(190000 + 70000);
      expect(await w.statusInWindow(SURVIVOR.number, '2025-03-11', '2026-03-10')).toBe(260000);
      expect(await w.posting(`MERGE:${MERGED.number}:${SURVIVOR.number}`)).toMatchObject({
        kind: 'TRANSFER',
        entries: {
          [Accounts.memberPoints(MERGED.number)]: -(461 + 873 + 461),
          [Accounts.memberPoints(SURVIVOR.number)]: 461 + 873 + 461,
          [Accounts.memberStatus(MERGED.number, 'SPEND')]: -70000,
          [Accounts.memberStatus(SURVIVOR.number, 'SPEND')]: 70000,
        },
      });
      // $1,900 + $700 = $2,600: Gold the night of the merge.
      expect((await w.member(SURVIVOR.number)).tier).toBe('GOLD');
      expect((await w.tierEvents(SURVIVOR.number)).at(-1)).toMatchObject({
        from_tier: 'SILVER',
        to_tier: 'GOLD',
      });

      // The merged card is closed for earning from then on; the lots keep their dates at the survivor.
      fly(w, MERGED, '2026-03-11', '100.00');
      await w.night('2026-03-12');
      const late = await w.activity(
        flightKey(
          { carrier: 'XX', number: '245', date: '2026-03-11', origin: 'SVO', destination: 'KZN' },
          { program: 'XX', number: MERGED.number },
        ),
      );
      expect([late?.status, late?.reason]).toEqual(['REJECTED', 'ACCOUNT_CLOSED']);
      await w.night('2028-02-29');
      expect(await w.balance(SURVIVOR.number)).toBe(461 + 873 + 461);
    });
  });

  describe(`a merge and what follows it (${engine})`, () => {
    const s = useScenario(engine);

    it('gives the survivor the merged account’s last activity, and a re-sent merged record moves what reached the closed account since', async () => {
      const w = s();
      await w.enrol('2025-01-01', SURVIVOR, MERGED);
      fly(w, MERGED, '2026-01-10', '300.00');
      await w.night('2026-01-11');
      w.dropRedemptions([
        { id: 'R-1', member: MERGED.number, date: '2026-01-12', service: 'SEAT', points: 100 },
      ]);
      await w.night('2026-01-12');
      w.dropMembers([
        { ...MERGED, status: 'MERGED', mergedInto: SURVIVOR.number, updatedAt: '2026-01-14T09:00:00Z' },
      ]);
      await w.night('2026-01-14');
      expect((await w.member(SURVIVOR.number)).last_activity_date).toBe('2026-01-10');
      expect(await w.balance(SURVIVOR.number)).toBe(361);
      // The redemption is cancelled after the merge: its lots come back to the closed account.
      w.dropRedemptions([
        {
          id: 'R-1',
          member: MERGED.number,
          date: '2026-01-15',
          service: 'SEAT',
          points: 100,
          status: 'CANCELLED',
        },
      ]);
      await w.night('2026-01-15');
      expect(await w.balance(MERGED.number)).toBe(100);
      // The CRM sends the merged member's record again with another change.
      w.dropMembers([
        {
          ...MERGED,
          givenName: 'IVAN PETROVICH',
          status: 'MERGED',
          mergedInto: SURVIVOR.number,
          updatedAt: '2026-01-20T09:00:00Z',
        },
      ]);
      const again = await w.night('2026-01-20');
      expect(again.ingest.counts['members.merged']).toBe(1);
      expect(await w.balance(MERGED.number)).toBe(0);
      expect(await w.balance(SURVIVOR.number)).toBe(461);
      expect(
        await w.posting(`MERGE:${MERGED.number}:${SURVIVOR.number}:2026-01-20T09:00:00.000Z`),
      ).toMatchObject({
        kind: 'TRANSFER',
        entries: { [Accounts.memberPoints(SURVIVOR.number)]: 100 },
      });
      await w.night('2026-01-20');
      expect(await w.balance(SURVIVOR.number)).toBe(461);
    });
    it('takes a refund of a flight of the merged account back from the survivor: the points it still holds, the rest UNRECOVERED, and the status credits', async () => {
      const w = s();
      await w.enrol('2025-01-01', SURVIVOR, MERGED);
      fly(w, MERGED, '2026-03-02', '300.00');
      await w.night('2026-03-03');
      const refunded = tickets;
      w.dropMembers([
        { ...MERGED, status: 'MERGED', mergedInto: SURVIVOR.number, updatedAt: '2026-03-10T09:00:00Z' },
      ]);
      await w.night('2026-03-10');
      expect([await w.balance(SURVIVOR.number), await w.statusBalance(SURVIVOR.number)]).toEqual([
        461, 30000,
      ]);
      w.dropRedemptions([
        { id: 'R-1', member: SURVIVOR.number, date: '2026-03-11', service: 'SEAT', points: 300 },
      ]);
      await w.night('2026-03-11');
      const file = w.dropCoupons([
        {
          ticket: `074${String(4_000_000_000 + refunded).slice(-10)}`,
          flight: '245',
          date: '2026-03-02',
          from: 'SVO',
          to: 'KZN',
          booked: 'Y',
          surname: MERGED.surname,
          givenName: MERGED.givenName,
          card: { program: 'XX', number: MERGED.number },
          fare: '300.00',
          status: 'R',
        },
      ]);
      const [shown] = (await w.simulate('flown', file, '2026-03-12')).flatMap((e) =>
        e.type === 'record' ? [[e.status, e.points, e.message]] : [],
      );
      expect(shown).toEqual([
        'REVERSED',
        -461,
        `161 points taken back from ${Accounts.memberPoints(SURVIVOR.number)}, where a transfer moved them; 300 points of it the member has spent: charged to UNRECOVERED`,
      ]);
      // Foretold by the simulator, which follows the miles to the survivor as the night does.
      const refund = await w.night('2026-03-12');
      expect(refund.accrue.counts['reject.INSUFFICIENT_POINTS']).toBeUndefined();
      expect(refund.accrue.counts.unrecoveredPoints).toBe(300);
      const [reversal] = (await w.postingsOf(MERGED.number)).filter((p) => p.kind === 'REVERSAL');
      expect((await w.posting(reversal!.key))?.entries).toEqual({
        [Accounts.memberPoints(SURVIVOR.number)]: -161,
        [Accounts.unrecovered]: -300,
        [Accounts.ownFlights]: 461,
        [Accounts.memberStatus(SURVIVOR.number, 'SPEND')]: -30000,
        [Accounts.statusIssued('SPEND')]: 30000,
      });
      expect(await w.balance(SURVIVOR.number)).toBe(0);
      expect(await w.lots(SURVIVOR.number)).toEqual([]);
      expect(await w.statusBalance(SURVIVOR.number)).toBe(0);
      expect(await w.statusInWindow(SURVIVOR.number, '2025-03-13', '2026-03-12')).toBe(0);
      // The closed account is left as the merge left it: nothing, not below nothing.
      expect([await w.balance(MERGED.number), await w.statusBalance(MERGED.number)]).toEqual([0, 0]);
      expect(await w.statusInWindow(MERGED.number, '2025-03-13', '2026-03-12')).toBe(0);
    });
  });

  describe(`the member master feed (${engine})`, () => {
    const s = useScenario(engine);

    it('applies rows in updated_at order: an older row never overwrites a newer one, in one file or across files', async () => {
      const w = s();
      const who = { number: memberNumber(21), givenName: 'ANNA', enrolled: '2026-01-01' };
      w.dropMembers([
        { ...who, surname: 'KOVALEVA', status: 'ACTIVE', updatedAt: '2026-03-01T10:00:00Z' },
        { ...who, surname: 'SOKOLOVA', status: 'INCOMPLETE', updatedAt: '2026-03-01T09:00:00+03:00' },
      ]);
      await w.night('2026-03-01');
      expect(await w.member(who.number)).toMatchObject({ surname: 'KOVALEVA', status: 'ACTIVE' });
      w.dropMembers([
        { ...who, surname: 'SOKOLOVA', status: 'SUSPENDED', updatedAt: '2026-03-01T09:59:59Z' },
      ]);
      const older = await w.night('2026-03-02');
      expect(older.ingest.counts['members.older']).toBe(1);
      expect(await w.member(who.number)).toMatchObject({ surname: 'KOVALEVA', status: 'ACTIVE' });
      w.dropPartner('DRIVE', '2026-03-03', [
        {
          txn: 'K-1',
          member: who.number,
          surname: 'KOVALEVA',
          date: '2026-03-02',
          type: 'RENTAL_DAY',
          spend: '10.00',
          currency: 'USD',
        },
      ]);
      await w.night('2026-03-03');
      expect(await w.balance(who.number)).toBe(10);
    });

    it('refuses a record stamped years ahead, so the next correction is applied, and says which row it drops as older', async () => {
      const w = s();
      const who = {
        number: memberNumber(22),
        surname: 'KOVALEVA',
        givenName: 'ANNA',
        enrolled: '2026-01-01',
      };
      await w.enrol('2026-02-01', { ...who, updatedAt: '2026-02-01T09:00:00Z' });
      // 2062 for 2026: applied, it would be newer than anything the CRM sends for 36 years.
      const typo = w.dropMembers([{ ...who, email: 'anna@example.com', updatedAt: '2062-02-12T09:00:00Z' }]);
      const first = await w.night('2026-02-12');
      expect(first.ingest.counts['reject.FUTURE_DATE']).toBe(1);
      expect(
        (await w.rejects({ file_id: await w.inboundFileId(typo) })).map((r) => [r.line, r.field, r.reason]),
      ).toEqual([[2, 'updated_at', 'FUTURE_DATE']]);
      expect(await w.member(who.number)).toMatchObject({ email: null });

      w.dropMembers([{ ...who, status: 'CLOSED', updatedAt: '2026-02-13T09:00:00Z' }]);
      const next = await w.night('2026-02-13');
      expect(next.ingest.counts['members.toCLOSED']).toBe(1);
      expect(await w.member(who.number)).toMatchObject({ status: 'CLOSED', closed_on: '2026-02-13' });

      // A row older than the stored record is still not applied, and the night says which and why.
      const late = w.dropMembers([{ ...who, status: 'ACTIVE', updatedAt: '2026-02-12T18:00:00Z' }]);
      const stored = await w
        .knex('files')
        .where({ direction: 'in', feed: 'members' })
        .orderBy('id')
        .select('name');
      const older = await w.night('2026-02-14');
      expect(older.ingest.counts['members.older']).toBe(1);
      expect(older.ingest.warnings).toContain(
        `${late} line 2, updated_at: ${who.number}'s record of 2026-02-12T18:00:00.000Z is older than the record stored of ` +
          `2026-02-13T09:00:00.000Z (from ${String(stored.at(-1)!.name)}): not applied, that one stands`,
      );
      expect(await w.member(who.number)).toMatchObject({ status: 'CLOSED' });
    });

    it('refuses an enrolment date typed a year ahead, so the corrected record enrols the member and his spend upgrades him at once', async () => {
      const w = s();
      const who: Person = { number: memberNumber(22), surname: 'IVANOV', givenName: 'IVAN' };
      // 2027 for 2026: kept, it would hold every flight ineligible and date his base tier in 2027.
      const typo = w.dropMembers([{ ...who, enrolled: '2027-03-01', updatedAt: '2026-03-01T09:00:00Z' }]);
      const first = await w.night('2026-03-01');
      expect(first.ingest.counts['reject.FUTURE_DATE']).toBe(1);
      expect(
        (await w.rejects({ file_id: await w.inboundFileId(typo) })).map((r) => [r.line, r.field, r.reason]),
      ).toEqual([[2, 'enrolment_date', 'FUTURE_DATE']]);
      expect(await w.knex('members').where({ number: who.number }).first()).toBeUndefined();
      w.dropMembers([{ ...who, enrolled: '2026-03-01', updatedAt: '2026-03-02T09:00:00Z' }]);
      await w.night('2026-03-02');
      expect(await w.member(who.number)).toMatchObject({
        enrolment_date: '2026-03-01',
        tier_since: '2026-03-01',
      });
      fly(w, who, '2026-03-10', '1200.00');
      const credited = await w.night('2026-03-11');
      expect(await w.statusBalance(who.number)).toBe(120000);
      expect(credited.tiers.counts).toMatchObject({ up: 1, decidedLater: 0 });
      expect(await w.member(who.number)).toMatchObject({
        tier: 'SILVER',
        tier_since: '2026-03-11',
        review_date: '2027-03-11',
      });
    });

    it('moves the date a member holds the base tier since with a corrected enrolment date, and not a tier a night decided', async () => {
      const w = s();
      const who: Person = { number: memberNumber(23), surname: 'IVANOV', givenName: 'IVAN' };
      w.dropMembers([{ ...who, enrolled: '2026-02-10', updatedAt: '2026-02-10T09:00:00Z' }]);
      await w.night('2026-02-10');
      w.dropMembers([{ ...who, enrolled: '2026-02-01', updatedAt: '2026-02-11T09:00:00Z' }]);
      await w.night('2026-02-11');
      expect(await w.member(who.number)).toMatchObject({
        tier: 'MEMBER',
        enrolment_date: '2026-02-01',
        tier_since: '2026-02-01',
      });
      fly(w, who, '2026-02-20', '1200.00');
      await w.night('2026-02-21');
      w.dropMembers([{ ...who, enrolled: '2026-01-25', updatedAt: '2026-02-22T09:00:00Z' }]);
      await w.night('2026-02-22');
      expect(await w.member(who.number)).toMatchObject({
        tier: 'SILVER',
        enrolment_date: '2026-01-25',
        tier_since: '2026-02-21',
      });
    });

    it('keeps each spell an account spent closed or merged, from the night that read it to the night that reopened it', async () => {
      const w = s();
      const anna = { number: memberNumber(22), surname: 'KOVALEVA', givenName: 'ANNA' };
      const survivor = { number: memberNumber(23), surname: 'KOVALEVA', givenName: 'ANNA' };
      await w.enrol('2026-03-01', anna, survivor);
      const spells = async () =>
        (
          await w
            .knex('member_closures as c')
            .join('members as m', 'm.id', 'c.member_id')
            .where('m.number', anna.number)
            .orderBy('c.id')
            .select(
              'c.merged_into',
              w.knex.raw(`${dateTextSql(w.w.t.db, 'c.closed_on')} AS closed_on`),
              w.knex.raw(`${dateTextSql(w.w.t.db, 'c.reopened_on')} AS reopened_on`),
            )
        ).map((r) => [r.closed_on, r.reopened_on, r.merged_into]);

      // Closed and reopened by the same night's delta: no night's register ever missed the member.
      w.dropMembers([
        { ...anna, status: 'CLOSED', updatedAt: '2026-03-05T09:00:00Z' },
        { ...anna, status: 'ACTIVE', updatedAt: '2026-03-05T10:00:00Z' },
      ]);
      await w.night('2026-03-05');
      expect(await spells()).toEqual([]);

      w.dropMembers([{ ...anna, status: 'CLOSED', updatedAt: '2026-03-10T09:00:00Z' }]);
      await w.night('2026-03-10');
      // Merged after its closure: the spell goes on from the closure and names where the points went.
      w.dropMembers([
        { ...anna, status: 'MERGED', mergedInto: survivor.number, updatedAt: '2026-03-12T09:00:00Z' },
      ]);
      await w.night('2026-03-12');
      expect(await spells()).toEqual([['2026-03-10', null, survivor.number]]);
      expect(await w.member(anna.number)).toMatchObject({ status: 'MERGED', merged_into: survivor.number });

      w.dropMembers([{ ...anna, status: 'ACTIVE', updatedAt: '2026-03-20T09:00:00Z' }]);
      await w.night('2026-03-20');
      expect(await spells()).toEqual([['2026-03-10', '2026-03-20', survivor.number]]);
      expect(await w.member(anna.number)).toMatchObject({
        status: 'ACTIVE',
        closed_on: null,
        merged_into: null,
      });
    });
  });

  describe(`marketing consent per mailing (${engine})`, () => {
    const s = useScenario(engine);
    const statement = async (w: Scenario) =>
      (await w.mailingList('BALANCE_STATEMENT', '2026-03-31')).map((r) => r.memberNumber);

    it('sends the month’s statement to who opted in to it by its short name, never to who opted out, and refuses a type that names no mailing', async () => {
      const w = s();
      const optedIn = { number: memberNumber(41), surname: 'ORLOVA', givenName: 'ANNA' };
      const optedOut = { number: memberNumber(42), surname: 'BELOV', givenName: 'BORIS' };
      const typo = { number: memberNumber(43), surname: 'CHERNOV', givenName: 'CYRIL' };
      const file = w.dropMembers([
        { ...optedIn, email: 'anna@example.com', consent: 'N;STATEMENT:Y' },
        { ...optedOut, email: 'boris@example.com', consent: 'Y;STATEMENT:N' },
        { ...typo, email: 'cyril@example.com', consent: 'Y;STATEMENT_TYPO:N' },
      ]);
      const enrolled = await w.night('2026-03-01');
      expect(enrolled.ingest.counts['members.enrolled']).toBe(2);
      expect(JSON.parse(String((await w.member(optedIn.number)).consent))).toEqual({
        ALL: false,
        BALANCE_STATEMENT: true,
      });
      // Refused, not enrolled with a default that would mail against the no it meant to give.
      expect(await w.member(typo.number)).toBeUndefined();
      expect(await w.rejects({ feed: 'members' })).toEqual([
        expect.objectContaining({
          file_id: await w.inboundFileId(file),
          line: 4,
          field: 'marketing_consent',
          reason: 'BAD_FORMAT',
          message: expect.stringContaining('"STATEMENT_TYPO" names none'),
        }),
      ]);
      fly(w, optedIn, '2026-03-10', '300.00');
      fly(w, optedOut, '2026-03-10', '300.00');
      await w.night('2026-03-11');
      expect(await w.balance(optedOut.number)).toBeGreaterThan(0);
      expect(await statement(w)).toEqual([optedIn.number]);
    });

    it('honours the short names of consents stored before the feed normalised them, a no under either name standing', async () => {
      const w = s();
      const people = [41, 42, 43, 44].map((n) => ({
        number: memberNumber(n),
        surname: 'STAROV',
        givenName: `P${n}`,
        email: `p${n}@example.com`,
      }));
      await w.enrol('2026-03-01', ...people);
      const stored = [
        { ALL: false, STATEMENT: true },
        { ALL: true, STATEMENT: false },
        { ALL: true, STATEMENT: true, BALANCE_STATEMENT: false },
        { ALL: true, STATEMENT_TYPO: false },
      ];
      for (const [i, p] of people.entries())
        await w
          .knex('members')
          .where({ number: p.number })
          .update({ consent: JSON.stringify(stored[i]) });
      for (const p of people) fly(w, p, '2026-03-10', '300.00');
      await w.night('2026-03-11');
      expect(await statement(w)).toEqual([people[0]!.number, people[3]!.number]);
    });
  });

  describe(`a name the feed changed (${engine})`, () => {
    const s = useScenario(engine);
    const ANNA: Person = {
      number: memberNumber(31),
      surname: 'SMIRNOVA',
      givenName: 'ANNA',
      enrolled: '2026-02-01',
    };
    const MARRIED: Person = { ...ANNA, surname: 'IVANOVA', updatedAt: '2026-03-03T12:00:00Z' };

    it('credits a flight flown under the name held on its date and arriving after the change, but not one flown under it since', async () => {
      const w = s();
      await w.enrol('2026-02-01', ANNA);
      w.dropMembers([MARRIED]);
      await w.night('2026-03-04');
      expect(await w.member(ANNA.number)).toMatchObject({ surname: 'IVANOVA' });

      fly(w, ANNA, '2026-03-01', '300.00'); // flown as SMIRNOVA before the change
      fly(w, ANNA, '2026-03-04', '300.00', 'AER'); // flown as SMIRNOVA after it
      fly(w, MARRIED, '2026-03-04', '300.00'); // flown as IVANOVA
      await w.night('2026-03-05');
      expect(
        (await w.activitiesOf(ANNA.number)).map((a) => [
          a.activity_date,
          a.travel_surname,
          a.status,
          a.reason,
        ]),
      ).toEqual([
        ['2026-03-01', 'SMIRNOVA', 'POSTED', null],
        ['2026-03-04', 'SMIRNOVA', 'REJECTED', 'NAME_MISMATCH'],
        ['2026-03-04', 'IVANOVA', 'POSTED', null],
      ]);
      expect(await w.balance(ANNA.number)).toBe(461 + 461);

      const postings = await w.postingCount();
      await w.night('2026-03-05');
      expect(await w.postingCount()).toBe(postings);
    });

    it('keeps the former name in force through the program’s day of the change, not the UTC day', async () => {
      const w = s();
      await w.enrol('2026-02-01', ANNA);
      // 22:30 UTC on 2 March is 01:30 on 3 March in Moscow, the program's time zone.
      w.dropMembers([{ ...MARRIED, updatedAt: '2026-03-02T22:30:00Z' }]);
      await w.night('2026-03-04');
      fly(w, ANNA, '2026-03-03', '300.00'); // flown as SMIRNOVA on the day of the change
      await w.night('2026-03-05');
      expect((await w.activitiesOf(ANNA.number)).map((a) => [a.activity_date, a.status])).toEqual([
        ['2026-03-03', 'POSTED'],
      ]);
      expect(await w.balance(ANNA.number)).toBe(461);
    });
  });

  describe(`household pools (${engine})`, () => {
    const s = useScenario(engine);
    const MOTHER: Person = {
      number: memberNumber(11),
      surname: 'PETROVA',
      givenName: 'ANNA',
      group: { type: 'HOUSEHOLD', id: 'HH-7' },
    };
    const SON: Person = {
      number: memberNumber(12),
      surname: 'PETROV',
      givenName: 'OLEG',
      group: { type: 'HOUSEHOLD', id: 'HH-7' },
    };

    it('credits award points to the pool and status credits to the member who flew; redeems from the pool', async () => {
      const w = s();
      await w.enrol('2026-01-01', MOTHER, SON);
      fly(w, MOTHER, '2026-03-10', '600.00');
      fly(w, SON, '2026-03-10', '500.00', 'AER');
      w.dropPartner('DRIVE', '2026-03-11', [
        {
          txn: 'P-1',
          member: SON.number,
          surname: 'PETROV',
          date: '2026-03-10',
          type: 'RENTAL_DAY',
          spend: '100.00',
          currency: 'USD',
        },
      ]);
      await w.night('2026-03-11');
      expect(await w.poolBalance('HH-7')).toBe(461 + 873 + 100);
      expect(await w.balance(MOTHER.number)).toBe(0);
      expect(await w.balance(SON.number)).toBe(0);
      expect(await w.statusBalance(MOTHER.number)).toBe(60000);
      expect(await w.statusBalance(SON.number)).toBe(50000);
      expect((await w.poolLots('HH-7')).map((l) => [l.remaining, l.expiresOn])).toEqual([
        [461, '2029-03-31'],
        [873, '2029-03-31'],
        [100, '2029-03-31'],
      ]);
      expect(await w.activity(partnerKey('DRIVE', 'P-1'))).toMatchObject({ status: 'POSTED', points: 100 });

      w.dropRedemptions([
        { id: 'R-1', member: MOTHER.number, date: '2026-03-12', service: 'LOUNGE', points: 1000 },
      ]);
      await w.night('2026-03-12');
      expect(await w.poolBalance('HH-7')).toBe(434);
      expect(await w.posting('RDM:R-1')).toMatchObject({
        entries: { [Accounts.poolPoints('HH-7')]: -1000, [Accounts.redemption('LOUNGE')]: 1000 },
      });

      // Pool lots expire on the fixed term like a member's.
      const expired = await w.night('2029-03-31');
      expect(expired.expire.counts.points).toBe(434);
      expect(await w.poolBalance('HH-7')).toBe(0);
    });
  });
}
