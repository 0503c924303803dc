/**
 * The TIER_CHANGE mailing list, on SQLite and PostgreSQL, in worked examples on the demo program (Silver
 * $1,000, Gold $2,500 over a rolling 12 months, anniversary review, soft landing): every upgrade and
 * downgrade is mailed exactly once, one recorded by a rerun after its night's list was delivered going
 * into the next list still to be delivered, and each says the date the change took effect on. The month's
 * balance statement says the tier held at the month's end, however often its export is rebuilt later.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { exportJob } from '../jobs/export.js';
import { runJob } from '../jobs/runner.js';
import { exportCopy } from '../test/harness/files.js';
import { availableEngines } from '../test/harness/db.js';
import {
  mailable,
  memberNumber,
  replaceOnce,
  useScenario,
  type Person,
  type Scenario,
} from '../rules/scenarios/scenario.js';

const IVANOV: Person = { number: memberNumber(81), surname: 'IVANOV', givenName: 'IVAN' };

let tickets = 0;
/** IVANOV flies SVO-KZN on `date` on a ticket of `fare` dollars: that many dollars of status. */
function fly(w: Scenario, date: string, fare: string): void {
  w.dropCoupons([
    {
      ticket: `074${String(4_000_000_000 + ++tickets).slice(-10)}`,
      flight: '245',
      date,
      from: 'SVO',
      to: 'KZN',
      booked: 'Y',
      surname: IVANOV.surname,
      givenName: IVANOV.givenName,
      card: { program: 'XX', number: IVANOV.number },
      fare,
    },
  ]);
}

/** The night's exports, run at `at`; the TIER_CHANGE list's outcome and the warnings about it. */
async function exportNight(w: Scenario, date: string, at: string) {
  const result = await w.run(exportJob, date, new Date(at));
  const name = `TIER_CHANGE_${date.replaceAll('-', '')}.csv`;
  return { counts: result.counts, warnings: (result.warnings ?? []).filter((x) => x.startsWith(name)) };
}

/** The TIER_CHANGE list of `date` as written to the outbox: member, from, to, direction, card, effective. */
async function listed(w: Scenario, date: string): Promise<string[][]> {
  const row = await w
    .knex('files')
    .where({ direction: 'out', feed: 'mailing', name: `TIER_CHANGE_${date.replaceAll('-', '')}.csv` })
    .first('local_path');
  expect(row, `TIER_CHANGE list of ${date}`).toBeDefined();
  const rows = parse(readFileSync(exportCopy(w.w.config, row.local_path), 'utf8')) as string[][];
  expect(rows[0]!.slice(5)).toEqual([
    'from_tier',
    'to_tier',
    'direction',
    'new_card_ready',
    'effective_date',
  ]);
  return rows.slice(1).map((r) => [r[0]!, ...r.slice(5)]);
}

/** The BALANCE_STATEMENT list of the month ending `date`: member, tier, closing balance. */
async function statement(w: Scenario, date: string): Promise<string[][]> {
  const row = await w
    .knex('files')
    .where({ direction: 'out', feed: 'mailing', name: `BALANCE_STATEMENT_${date.replaceAll('-', '')}.csv` })
    .first('local_path');
  expect(row, `BALANCE_STATEMENT list of ${date}`).toBeDefined();
  const rows = parse(readFileSync(exportCopy(w.w.config, row.local_path), 'utf8')) as string[][];
  expect([rows[0]![5], rows[0]![13]]).toEqual(['tier', 'closing_balance']);
  return rows.slice(1).map((r) => [r[0]!, r[5]!, r[13]!]);
}

/** The deliver job's verdict on every file written, as the night after it finds them. */
const deliverAll = (w: Scenario, at: string) =>
  w
    .knex('files')
    .where({ direction: 'out', verdict: 'written' })
    .update({ verdict: 'delivered', delivered_at: new Date(at).toISOString() });

for (const engine of availableEngines()) {
  describe(`TIER_CHANGE mailing list (${engine})`, () => {
    const s = useScenario(engine);

    it('mails an upgrade a rerun records after its night’s list was delivered once, in the next list', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      await mailable(w, IVANOV);
      fly(w, '2026-01-10', '1200.00');
      await w.night('2026-01-11', { at: '2026-01-12T01:00:00Z' });
      await exportNight(w, '2026-01-11', '2026-01-12T02:00:00Z');
      expect(await listed(w, '2026-01-11')).toEqual([
        [IVANOV.number, 'MEMBER', 'SILVER', 'UP', 'Y', '2026-01-11'],
      ]);
      await deliverAll(w, '2026-01-12T03:00:00Z');

      // A coupon of 9 January comes late ($2,700 in all): the rerun of the night makes him Gold that night.
      fly(w, '2026-01-09', '1500.00');
      await w.night('2026-01-11', { at: '2026-01-12T10:00:00Z' });
      expect((await w.member(IVANOV.number)).tier).toBe('GOLD');
      // The delivered list stands as what it carried: nothing drifted.
      const rerun = await exportNight(w, '2026-01-11', '2026-01-12T10:30:00Z');
      expect(rerun.warnings).toEqual([]);
      expect(rerun.counts.drifted).toBeUndefined();
      expect(await listed(w, '2026-01-11')).toEqual([
        [IVANOV.number, 'MEMBER', 'SILVER', 'UP', 'Y', '2026-01-11'],
      ]);

      // The next list mails the Gold upgrade, effective the night it was reached.
      await w.night('2026-01-12', { at: '2026-01-13T01:00:00Z' });
      await exportNight(w, '2026-01-12', '2026-01-13T02:00:00Z');
      expect(await listed(w, '2026-01-12')).toEqual([
        [IVANOV.number, 'SILVER', 'GOLD', 'UP', 'Y', '2026-01-11'],
      ]);
      // Once: not again by a rerun of either night's export before or after delivery, nor by the next night.
      expect((await exportNight(w, '2026-01-12', '2026-01-13T02:30:00Z')).warnings).toEqual([]);
      await deliverAll(w, '2026-01-13T03:00:00Z');
      for (const [date, at] of [
        ['2026-01-11', '2026-01-13T04:00:00Z'],
        ['2026-01-12', '2026-01-13T04:30:00Z'],
      ] as const)
        expect(await exportNight(w, date, at)).toMatchObject({ warnings: [] });
      await w.night('2026-01-13', { at: '2026-01-14T01:00:00Z' });
      await exportNight(w, '2026-01-13', '2026-01-14T02:00:00Z');
      expect(await listed(w, '2026-01-13')).toEqual([]);
    });

    it('puts an upgrade a rerun records before its night’s list is delivered into that list, in place of the first', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      await mailable(w, IVANOV);
      fly(w, '2026-01-10', '1200.00');
      await w.night('2026-01-11', { at: '2026-01-12T01:00:00Z' });
      await exportNight(w, '2026-01-11', '2026-01-12T02:00:00Z');
      fly(w, '2026-01-09', '1500.00');
      await w.night('2026-01-11', { at: '2026-01-12T02:10:00Z' });
      const rerun = await exportNight(w, '2026-01-11', '2026-01-12T02:20:00Z');
      expect(rerun.warnings).toEqual([
        expect.stringMatching(/rebuilt with different content before delivery; the new version replaces it/),
      ]);
      expect(await listed(w, '2026-01-11')).toEqual([
        [IVANOV.number, 'MEMBER', 'GOLD', 'UP', 'Y', '2026-01-11'],
      ]);
      await deliverAll(w, '2026-01-12T03:00:00Z');
      await w.night('2026-01-12', { at: '2026-01-13T01:00:00Z' });
      await exportNight(w, '2026-01-12', '2026-01-13T02:00:00Z');
      expect(await listed(w, '2026-01-12')).toEqual([]);
    });

    it('dates a review decided nights late from the review date, and the upgrade a rerun adds after delivery from its night', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      await mailable(w, IVANOV);
      fly(w, '2026-01-14', '2500.00');
      await w.night('2026-01-15');
      await w.night('2027-01-14');
      // 15 to 19 January 2027 do not run: the night of the 20th decides the review of the 15th.
      await w.night('2027-01-20', { at: '2027-01-21T01:00:00Z' });
      expect(await w.member(IVANOV.number)).toMatchObject({
        tier: 'SILVER',
        tier_since: '2027-01-15',
        review_date: '2028-01-15',
      });
      await exportNight(w, '2027-01-20', '2027-01-21T02:00:00Z');
      expect(await listed(w, '2027-01-20')).toEqual([
        [IVANOV.number, 'GOLD', 'SILVER', 'DOWN', 'N', '2027-01-15'],
      ]);
      await deliverAll(w, '2027-01-21T03:00:00Z');

      // Flown on 17 January, read late by a rerun of the 20th: back to Gold, as of the 20th.
      fly(w, '2027-01-17', '2600.00');
      await w.night('2027-01-20', { at: '2027-01-21T10:00:00Z' });
      expect((await w.member(IVANOV.number)).tier).toBe('GOLD');
      await w.night('2027-01-21', { at: '2027-01-22T01:00:00Z' });
      await exportNight(w, '2027-01-21', '2027-01-22T02:00:00Z');
      expect(await listed(w, '2027-01-21')).toEqual([
        [IVANOV.number, 'SILVER', 'GOLD', 'UP', 'Y', '2027-01-20'],
      ]);
    });

    it('mails nothing for a step down and back up the same list takes', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      await mailable(w, IVANOV);
      fly(w, '2026-01-14', '2500.00');
      await w.night('2026-01-15');
      await w.night('2027-01-14');
      fly(w, '2027-01-17', '2600.00');
      await w.night('2027-01-20');
      expect((await w.tierEvents(IVANOV.number)).map((e) => e.direction)).toEqual(['UP', 'DOWN', 'UP']);
      await exportNight(w, '2027-01-20', '2027-01-21T02:00:00Z');
      expect(await listed(w, '2027-01-20')).toEqual([]);
      // Both taken by that list: the next one does not mail them either.
      await w.night('2027-01-21');
      await exportNight(w, '2027-01-21', '2027-01-22T02:00:00Z');
      expect(await listed(w, '2027-01-21')).toEqual([]);
    });

    it('does not mail a caught-up night’s upgrade that a later list has already taken the next change after', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      await mailable(w, IVANOV);
      fly(w, '2026-01-10', '1200.00');
      // The night of the 11th makes him Silver; its export does not run.
      await w.night('2026-01-11', { at: '2026-01-12T01:00:00Z' });
      fly(w, '2026-01-11', '1500.00');
      await w.night('2026-01-12', { at: '2026-01-13T01:00:00Z' });
      expect((await w.member(IVANOV.number)).tier).toBe('GOLD');
      await exportNight(w, '2026-01-12', '2026-01-13T02:00:00Z');
      expect(await listed(w, '2026-01-12')).toEqual([
        [IVANOV.number, 'SILVER', 'GOLD', 'UP', 'Y', '2026-01-12'],
      ]);
      await deliverAll(w, '2026-01-13T03:00:00Z');

      // The 11th's export caught up: no Silver card for a Gold member, and the upgrade is taken all the same.
      await exportNight(w, '2026-01-11', '2026-01-13T04:00:00Z');
      expect(await listed(w, '2026-01-11')).toEqual([]);
      const taken = await w
        .knex('tier_events as t')
        .join('members as m', 'm.id', 't.member_id')
        .join('files as f', 'f.id', 't.mailing_file_id')
        .where('m.number', IVANOV.number)
        .orderBy('t.id')
        .select('t.to_tier', 'f.name');
      expect(taken.map((e) => [e.to_tier, e.name])).toEqual([
        ['SILVER', 'TIER_CHANGE_20260111.csv'],
        ['GOLD', 'TIER_CHANGE_20260112.csv'],
      ]);
      await deliverAll(w, '2026-01-13T05:00:00Z');
      for (const [date, at] of [
        ['2026-01-11', '2026-01-13T06:00:00Z'],
        ['2026-01-12', '2026-01-13T06:30:00Z'],
      ] as const)
        expect(await exportNight(w, date, at)).toMatchObject({ warnings: [] });
      await w.night('2026-01-13', { at: '2026-01-14T01:00:00Z' });
      await exportNight(w, '2026-01-13', '2026-01-14T02:00:00Z');
      expect(await listed(w, '2026-01-13')).toEqual([]);
    });

    it('leaves out of a list rebuilt before delivery the change a later list took the next one after, and keeps it so once delivered', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      await mailable(w, IVANOV);
      fly(w, '2026-01-10', '1200.00');
      await w.night('2026-01-11', { at: '2026-01-12T01:00:00Z' });
      await exportNight(w, '2026-01-11', '2026-01-12T02:00:00Z');
      expect(await listed(w, '2026-01-11')).toEqual([
        [IVANOV.number, 'MEMBER', 'SILVER', 'UP', 'Y', '2026-01-11'],
      ]);
      // The 11th's list is not delivered (the mailing house's server is down) before the 12th's is made.
      fly(w, '2026-01-11', '1500.00');
      await w.night('2026-01-12', { at: '2026-01-13T01:00:00Z' });
      await exportNight(w, '2026-01-12', '2026-01-13T02:00:00Z');
      expect(await listed(w, '2026-01-12')).toEqual([
        [IVANOV.number, 'SILVER', 'GOLD', 'UP', 'Y', '2026-01-12'],
      ]);
      // Rebuilt before delivery, the 11th's list no longer announces a Silver card.
      const rebuilt = await exportNight(w, '2026-01-11', '2026-01-13T02:30:00Z');
      expect(rebuilt.warnings).toEqual([
        expect.stringMatching(/rebuilt with different content before delivery; the new version replaces it/),
      ]);
      expect(await listed(w, '2026-01-11')).toEqual([]);
      await deliverAll(w, '2026-01-13T03:00:00Z');
      // Delivered so, it is rebuilt so: nothing drifted.
      const rerun = await exportNight(w, '2026-01-11', '2026-01-13T04:00:00Z');
      expect(rerun.warnings).toEqual([]);
      expect(rerun.counts.drifted).toBeUndefined();
      expect(await listed(w, '2026-01-11')).toEqual([]);
    });

    it('does not mail a change later to a member who could not be mailed when its list was made', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      fly(w, '2026-01-10', '1200.00');
      await w.night('2026-01-11');
      await exportNight(w, '2026-01-11', '2026-01-12T02:00:00Z');
      expect(await listed(w, '2026-01-11')).toEqual([]);
      // An address and consent given the next day bring no mail of the upgrade before them.
      await mailable(w, IVANOV);
      await w.night('2026-01-12');
      await exportNight(w, '2026-01-12', '2026-01-13T02:00:00Z');
      expect(await listed(w, '2026-01-12')).toEqual([]);
    });
  });

  describe(`TIER_CHANGE mailing list over the calendar year (${engine})`, () => {
    const s = useScenario(engine, (y) =>
      replaceOnce(
        replaceOnce(y, 'window: rolling12', 'window: calendarYear'),
        'review: anniversary',
        'review: calendarYear',
      ),
    );

    it('dates the upgrade of a closed year recorded in January from 31 December', async () => {
      const w = s();
      await w.enrol('2026-01-01', IVANOV);
      await mailable(w, IVANOV);
      for (const job of ['accrue', 'tiers'] as const)
        expect((await runJob(w.w.ctx('2026-12-30'), job)).status).toBe('succeeded');
      fly(w, '2026-12-30', '1200.00');
      // The night of 31 December stops before tiers; 1 January decides the year it closed.
      for (const job of ['fetch', 'ingest', 'accrue'] as const)
        expect((await runJob(w.w.ctx('2026-12-31'), job)).status).toBe('succeeded');
      expect((await w.member(IVANOV.number)).tier).toBe('MEMBER');
      for (const job of ['accrue', 'tiers'] as const)
        expect((await runJob(w.w.ctx('2027-01-01', new Date('2027-01-02T01:00:00Z')), job)).status).toBe(
          'succeeded',
        );
      expect(await w.member(IVANOV.number)).toMatchObject({ tier: 'SILVER', tier_since: '2026-12-31' });
      await exportNight(w, '2027-01-01', '2027-01-02T02:00:00Z');
      expect(await listed(w, '2027-01-01')).toEqual([
        [IVANOV.number, 'MEMBER', 'SILVER', 'UP', 'Y', '2026-12-31'],
      ]);
    });
  });

  describe(`BALANCE_STATEMENT tier (${engine})`, () => {
    const s = useScenario(engine);

    it('shows the tier held at the month’s end, and its export rebuilt after a later upgrade writes the same file', async () => {
      const w = s();
      await w.enrol('2026-03-01', IVANOV);
      await mailable(w, IVANOV);
      fly(w, '2026-03-20', '300.00');
      await w.night('2026-03-21');
      await w.night('2026-03-31');
      await w.run(exportJob, '2026-03-31', new Date('2026-04-01T02:00:00Z'));
      const march = await statement(w, '2026-03-31');
      expect(march).toEqual([[IVANOV.number, 'MEMBER', expect.stringMatching(/^[1-9]\d*$/)]]);

      // 2 April: a $1,500 fare makes him Silver. March's export run again, before delivery and after it,
      // still says what he held in March: the same bytes, neither replaced nor drifted.
      fly(w, '2026-04-01', '1500.00');
      await w.night('2026-04-02');
      expect((await w.member(IVANOV.number)).tier).toBe('SILVER');
      const rerun = await w.run(exportJob, '2026-03-31', new Date('2026-04-02T10:00:00Z'));
      expect(rerun.counts).not.toHaveProperty('replaced');
      expect(await statement(w, '2026-03-31')).toEqual(march);
      await deliverAll(w, '2026-04-02T11:00:00Z');
      const again = await w.run(exportJob, '2026-03-31', new Date('2026-04-02T12:00:00Z'));
      expect(again.counts).not.toHaveProperty('drifted');
      expect(again.warnings ?? []).not.toContainEqual(expect.stringContaining('BALANCE_STATEMENT_20260331'));

      // April's statement says Silver.
      await w.night('2026-04-30');
      await w.run(exportJob, '2026-04-30', new Date('2026-05-01T02:00:00Z'));
      expect((await statement(w, '2026-04-30')).map((r) => r[1])).toEqual(['SILVER']);
    });
  });
}
