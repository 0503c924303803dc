/**
 * A program that changes its expiry policy: each lot falls under the version in force on its earning
 * date. Here inactivity (18 months without earning) until 31 January 2026, a fixed term of 12 months
 * after the earning month from 1 February: lots earned before keep no date and expire by the inactivity
 * rule, lots earned after carry their date.
 */
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { Accounts } from '../../ledger/accounts.js';
import { expireJob } from '../../jobs/expire.js';
import { eachDay } from '../../lib/dates.js';
import { mailable, memberNumber, replaceOnce, useScenario, type Person, type Scenario } from './scenario.js';

const IVANOV: Person = { number: memberNumber(1), surname: 'IVANOV', givenName: 'IVAN' };
const HOUSEHOLD = { type: 'HOUSEHOLD', id: 'HH-1' } as const;
const MOTHER: Person = { number: memberNumber(11), surname: 'SMIRNOVA', givenName: 'OLGA', group: HOUSEHOLD };

function rent(w: Scenario, who: Person, txn: string, date: string, points: number): void {
  w.dropPartner('DRIVE', date, [
    {
      txn,
      member: who.number,
      surname: who.surname,
      date,
      type: 'RENTAL_DAY',
      spend: `${points}.00`,
      currency: 'USD',
    },
  ]);
}

const SINGLE =
  'expiry:\n  policy: fixedTerm            # points expire 36 months after the end of the month they were earned\n  months: 36\n  warningDays: 60\n';

for (const engine of availableEngines()) {
  describe(`expiry policy changed from inactivity to a fixed term (${engine})`, () => {
    const s = useScenario(engine, (y) =>
      replaceOnce(
        y,
        SINGLE,
        'expiry:\n' +
          '  - { effectiveFrom: 2020-01-01, policy: inactivity, months: 18, warningDays: 60 }\n' +
          '  - { effectiveFrom: 2026-02-01, policy: fixedTerm, months: 12, warningDays: 60 }\n',
      ),
    );

    it('dates each lot by the version in force on its earning date and expires the undated ones by inactivity', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      await mailable(w, IVANOV);
      rent(w, IVANOV, 'P-1', '2026-01-10', 1000);
      await w.night('2026-01-10');
      rent(w, IVANOV, 'P-2', '2026-02-10', 50);
      await w.night('2026-02-10');
      expect(await w.lotSummary(IVANOV.number)).toEqual([
        [50, '2027-02-28'],
        [1000, null],
      ]);
      const [dated, undated] = await w.lots(IVANOV.number);

      expect((await w.night('2027-02-28')).expire.counts).toMatchObject({ lots: 1, points: 50 });
      expect(await w.posting(`EXP:${dated!.id}`)).toBeDefined();
      // The last earning, under the fixed term, still counts as activity for the undated lot: it is due
      // 18 months after 10 February 2026, and warned of 60 days ahead.
      expect((await w.night('2027-06-10')).expire.counts.expiringSoon).toBe(0);
      expect((await w.night('2027-06-11')).expire.counts.expiringSoon).toBe(1000);
      expect(await w.mailingList('EXPIRY_WARNING', '2027-06-11')).toEqual([
        expect.objectContaining({ memberNumber: IVANOV.number, points: 1000, expiresOn: '2027-08-10' }),
      ]);
      expect((await w.night('2027-08-09')).expire.counts.lots).toBe(0);
      const due = await w.night('2027-08-10');
      expect(due.expire.counts).toMatchObject({ lots: 1, points: 1000 });
      expect(await w.posting(`EXP:${undated!.id}`)).toMatchObject({
        businessDate: '2027-08-10',
        entries: { [Accounts.memberPoints(IVANOV.number)]: -1000, [Accounts.expiry]: 1000 },
      });
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect((await w.run(expireJob, '2027-08-10')).counts.lots).toBe(0);
    });

    it("expires a pool's undated lots by its inactivity and its dated ones by their date", async () => {
      const w = s();
      await w.enrol('2026-01-01', MOTHER);
      rent(w, MOTHER, 'H-1', '2026-01-20', 300);
      await w.night('2026-01-20');
      rent(w, MOTHER, 'H-2', '2026-03-05', 40);
      await w.night('2026-03-05');
      expect((await w.poolLots('HH-1')).map((l) => [l.remaining, l.expiresOn])).toEqual([
        [40, '2027-03-31'],
        [300, null],
      ]);
      expect((await w.night('2027-03-31')).expire.counts).toMatchObject({ lots: 1, points: 40 });
      expect((await w.night('2027-09-04')).expire.counts.lots).toBe(0);
      expect((await w.night('2027-09-05')).expire.counts).toMatchObject({ lots: 1, points: 300 });
      expect(await w.poolBalance('HH-1')).toBe(0);
    });
  });

  describe(`inactivity rule shortened by a later version (${engine})`, () => {
    const s = useScenario(engine, (y) =>
      replaceOnce(
        y,
        SINGLE,
        'expiry:\n' +
          '  - { effectiveFrom: 2020-01-01, policy: inactivity, months: 24, warningDays: 60 }\n' +
          '  - { effectiveFrom: 2027-03-01, policy: inactivity, months: 12, warningDays: 60 }\n',
      ),
    );

    /** IVANOV's own 1,000 and his mother's pool's 300, both due by 12 months before the rule starts. */
    async function earnBeforeTheChange(w: Scenario): Promise<void> {
      await w.enrol('2026-01-01', IVANOV, MOTHER);
      await mailable(w, IVANOV, MOTHER);
      rent(w, IVANOV, 'P-1', '2026-01-10', 1000);
      await w.night('2026-01-10');
      rent(w, MOTHER, 'H-1', '2026-01-20', 300);
      await w.night('2026-01-20');
    }

    it('warns once, 60 days ahead, of the points the shorter rule takes on its first night', async () => {
      const w = s();
      await earnBeforeTheChange(w);
      // Due 10 and 20 January 2027 by 12 months, under the 24-month rule still: the first night of the
      // 12-month rule, 1 March 2027, takes them, and the mailing of 60 days before announces that night.
      const warned: Array<[string, string, number, string]> = [];
      for (const night of eachDay('2026-11-01', '2027-02-28'))
        for (const r of await w.mailingList('EXPIRY_WARNING', night))
          warned.push([night, r.memberNumber, r.points, r.expiresOn]);
      expect(warned).toEqual([
        ['2026-12-31', IVANOV.number, 1000, '2027-03-01'],
        ['2026-12-31', MOTHER.number, 300, '2027-03-01'],
      ]);
      // The night's list written again is the list it wrote.
      expect((await w.mailingList('EXPIRY_WARNING', '2026-12-31')).map((r) => r.memberNumber)).toEqual([
        IVANOV.number,
        MOTHER.number,
      ]);
      expect((await w.run(expireJob, '2027-02-28')).counts.lots).toBe(0);
      expect((await w.run(expireJob, '2027-03-01')).counts).toMatchObject({ lots: 2, points: 1300 });
      expect(await w.balance(IVANOV.number)).toBe(0);
      expect(await w.poolBalance('HH-1')).toBe(0);
    });

    it('counts as expiring soon what the shorter rule takes in the warning period', async () => {
      const w = s();
      await earnBeforeTheChange(w);
      // Tonight's 24-month rule takes none of it for a year; the 12-month one takes it all on 1 March.
      expect((await w.run(expireJob, '2026-12-30')).counts.expiringSoon).toBe(0);
      expect((await w.run(expireJob, '2026-12-31')).counts.expiringSoon).toBe(1300);
      expect((await w.run(expireJob, '2027-02-01')).counts.expiringSoon).toBe(1300);
      expect((await w.run(expireJob, '2027-03-01')).counts).toMatchObject({ lots: 2, points: 1300 });
    });
  });

  describe(`inactivity rule lengthened by a later version (${engine})`, () => {
    const s = useScenario(engine, (y) =>
      replaceOnce(
        y,
        SINGLE,
        'expiry:\n' +
          '  - { effectiveFrom: 2020-01-01, policy: inactivity, months: 12, warningDays: 60 }\n' +
          '  - { effectiveFrom: 2027-03-01, policy: inactivity, months: 24, warningDays: 60 }\n',
      ),
    );

    it('does not count as expiring soon what the longer rule keeps, and warns by its months', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV, MOTHER);
      await mailable(w, IVANOV, MOTHER);
      rent(w, IVANOV, 'P-1', '2026-03-10', 1000);
      await w.night('2026-03-10');
      rent(w, MOTHER, 'H-1', '2026-03-20', 300);
      await w.night('2026-03-20');
      // Due 10 and 20 March 2027 by 12 months, but the 24-month rule is in force by then: 2028.
      expect((await w.run(expireJob, '2027-01-15')).counts.expiringSoon).toBe(0);
      expect(await w.mailingList('EXPIRY_WARNING', '2027-01-09')).toEqual([]);
      expect((await w.run(expireJob, '2027-03-10')).counts.lots).toBe(0);
      expect((await w.run(expireJob, '2027-03-20')).counts.lots).toBe(0);
      expect(await w.balance(IVANOV.number)).toBe(1000);
      expect(await w.poolBalance('HH-1')).toBe(300);
      expect((await w.run(expireJob, '2028-01-10')).counts.expiringSoon).toBe(1000);
      expect((await w.run(expireJob, '2028-01-20')).counts.expiringSoon).toBe(1300);
      expect(await w.mailingList('EXPIRY_WARNING', '2028-01-10')).toEqual([
        expect.objectContaining({ memberNumber: IVANOV.number, points: 1000, expiresOn: '2028-03-10' }),
      ]);
      expect((await w.run(expireJob, '2028-03-10')).counts).toMatchObject({ lots: 1, points: 1000 });
    });
  });

  describe(`expiry policy changed from a fixed term to inactivity (${engine})`, () => {
    const s = useScenario(engine, (y) =>
      replaceOnce(
        y,
        SINGLE,
        'expiry:\n' +
          '  - { effectiveFrom: 2020-01-01, policy: fixedTerm, months: 12, warningDays: 60 }\n' +
          '  - { effectiveFrom: 2026-02-01, policy: inactivity, months: 18, warningDays: 60 }\n',
      ),
    );

    it('keeps the date of a lot earned under the fixed term, and expires the later ones by inactivity', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      await mailable(w, IVANOV);
      rent(w, IVANOV, 'F-1', '2026-01-31', 70); // dated 31 January 2027
      await w.night('2026-01-31');
      rent(w, IVANOV, 'F-2', '2026-02-01', 200); // undated, due 18 months after the member's last earning
      await w.night('2026-02-01');
      expect(await w.lotSummary(IVANOV.number)).toEqual([
        [70, '2027-01-31'],
        [200, null],
      ]);
      // Due: the 70 by date on 31 January 2027, the 200 on 1 August 2027.
      expect(await w.mailingList('EXPIRY_WARNING', '2026-12-02')).toEqual([
        expect.objectContaining({ memberNumber: IVANOV.number, points: 70, expiresOn: '2027-01-31' }),
      ]);
      expect((await w.night('2027-01-31')).expire.counts).toMatchObject({ lots: 1, points: 70 });
      expect(await w.balance(IVANOV.number)).toBe(200);
      expect((await w.night('2027-07-31')).expire.counts.lots).toBe(0);
      expect((await w.night('2027-08-01')).expire.counts).toMatchObject({ lots: 1, points: 200 });
    });
  });
}
