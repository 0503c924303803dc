/**
 * A cancellation that comes before its redemption waits for it `redemptions.cancellationWaitDays` (7 in
 * the demo program) from the night it came in. Its redemption coming within the wait, both post; not
 * come by the end of the wait's last night, the cancellation is rejected that night (UNKNOWN_REDEMPTION,
 * against its file and line), and a redemption coming after that is an ordinary one. The simulator
 * shows each night's files as the night decides them, and the daily report lists the cancellations
 * waiting at the end of its date.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import { dailyReport } from '../../reports/daily.js';
import { availableEngines } from '../../test/harness/db.js';
import { dumpXlsx, skipWithoutOpenpyxl } from '../../test/harness/openpyxl.js';
import { tableOf } from '../../test/harness/report-scenario.js';
import { cancellationKey, redemptionKey } from '../activity.js';
import {
  memberNumber,
  replaceOnce,
  useScenario,
  type Person,
  type RedemptionInput,
  type Scenario,
} from './scenario.js';

const IVANOV: Person = { number: memberNumber(1), surname: 'IVANOV', givenName: 'IVAN' };

const seat = (id: string, date: string, status: RedemptionInput['status'] = 'ISSUED'): RedemptionInput => ({
  id,
  member: IVANOV.number,
  date,
  service: 'SEAT',
  points: 400,
  status,
});

/** Ivanov with 1,500 points from a car rental credited on 2026-03-03. */
async function withPoints(w: Scenario): Promise<void> {
  await w.enrol('2026-01-01', IVANOV);
  w.dropPartner('DRIVE', '2026-03-03', [
    {
      txn: 'L-1',
      member: IVANOV.number,
      surname: 'IVANOV',
      date: '2026-03-02',
      type: 'RENTAL_DAY',
      spend: '1500.00',
      currency: 'USD',
    },
  ]);
  await w.night('2026-03-03');
  expect(await w.balance(IVANOV.number)).toBe(1500);
}

/** What `simulate` shows for a waiting file's records, by activity: status, reason and field. */
async function simulated(w: Scenario, file: string, date: string): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const e of await w.simulate('redemptions', file, date))
    if (e.type === 'record')
      out[e.activity] = [
        e.status,
        e.reason,
        e.field ?? null,
        ...(e.also ?? []).map((a) => [a.activity, a.status, a.points]),
      ];
  return out;
}

/** `redeye files show <id> --json` for a redemptions file. */
async function filesShow(w: Scenario, name: string): Promise<Record<string, unknown>> {
  const config = join(w.w.dir, 'redeye.config.yaml');
  const example = resolve(import.meta.dirname, '../../examples/redeye.config.yaml');
  writeFileSync(config, readFileSync(example, 'utf8').replaceAll('../var/', './'));
  const file = await w.knex('files').where({ direction: 'in', feed: 'redemptions', name }).first('id');
  const out: string[] = [];
  const code = await main(
    ['node', 'redeye', '--config', config, 'files', 'show', String(file.id), '--json'],
    {
      output: { out: (s) => out.push(s), err: (s) => out.push(s) },
      env: { REDEYE_DATABASE_URL: w.w.t.url, REDEYE_LOG_LEVEL: 'silent' },
    },
  );
  expect(code, out.join('\n')).toBe(0);
  return JSON.parse(out.join('\n')) as Record<string, unknown>;
}

for (const engine of availableEngines()) {
  describe(`cancellations waiting for their redemption (${engine})`, () => {
    const s = useScenario(engine);

    it('a redemption that comes on the last night of the wait is debited and its cancellation gives the points back', async () => {
      const w = s();
      await withPoints(w);
      const cancellation = w.dropRedemptions([seat('R-9', '2026-03-05', 'CANCELLED')]);
      expect(await simulated(w, cancellation, '2026-03-05')).toEqual({
        [cancellationKey('R-9')]: ['PENDING', 'UNKNOWN_REDEMPTION', null],
      });
      await w.night('2026-03-05');
      expect(await w.activity(cancellationKey('R-9'))).toMatchObject({
        status: 'PENDING',
        reason: 'UNKNOWN_REDEMPTION',
        reason_field: 'redemption_id',
        reason_message:
          'redemption R-9 has not arrived: the cancellation waits for it until the night of 2026-03-12',
      });

      const redemption = w.dropRedemptions([seat('R-9', '2026-03-04')]);
      expect(await simulated(w, redemption, '2026-03-12')).toEqual({
        [redemptionKey('R-9')]: ['POSTED', null, null, [cancellationKey('R-9'), 'REVERSED', 400]],
      });
      const night = await w.night('2026-03-12');
      expect(night.accrue.counts.cancellationsAwaited).toBe(1);
      expect(night.accrue.counts.cancellationsRejected).toBeUndefined();
      expect(await w.activity(redemptionKey('R-9'))).toMatchObject({
        status: 'REVERSED',
        reason: 'CANCELLED',
      });
      expect(await w.activity(cancellationKey('R-9'))).toMatchObject({
        status: 'POSTED',
        reason: null,
        points: 400,
        rejected_on: null,
      });
      expect(await w.posting(cancellationKey('R-9'))).toMatchObject({ kind: 'REVERSAL' });
      expect(await w.balance(IVANOV.number)).toBe(1500);
    });

    it('a redemption that never comes: its cancellation is rejected on the night its wait ends, not a day before or after, and a rerun changes nothing', async () => {
      const w = s();
      await withPoints(w);
      const cancellation = w.dropRedemptions([seat('R-9', '2026-03-05', 'CANCELLED')]);
      await w.night('2026-03-05');
      for (const date of ['2026-03-06', '2026-03-11']) {
        const night = await w.night(date);
        expect(night.accrue.counts.cancellationsRejected, date).toBeUndefined();
        expect(await w.activity(cancellationKey('R-9')), date).toMatchObject({
          status: 'PENDING',
          reason: 'UNKNOWN_REDEMPTION',
        });
      }

      // The night the wait ends reads another redemption of the member's: the simulator shows it as the
      // night posts it, and the cancellation, no record of tonight's file, is rejected all the same.
      const other = w.dropRedemptions([{ ...seat('R-10', '2026-03-12'), points: 100 }]);
      expect(await simulated(w, other, '2026-03-12')).toEqual({
        [redemptionKey('R-10')]: ['POSTED', null, null],
      });
      const night = await w.night('2026-03-12');
      expect(night.accrue.counts.cancellationsRejected).toBe(1);
      expect(night.accrue.counts['reject.UNKNOWN_REDEMPTION']).toBe(1);
      expect(await w.activity(cancellationKey('R-9'))).toMatchObject({
        status: 'REJECTED',
        reason: 'UNKNOWN_REDEMPTION',
        reason_field: 'redemption_id',
        reason_message:
          'redemption R-9 has not arrived: its cancellation, read on 2026-03-05, waited 7 days for it (cancellations wait 7)',
        rejected_on: '2026-03-12',
        points: 0,
        posting_key: null,
      });
      expect(await w.balance(IVANOV.number)).toBe(1400);

      // Against its file and line, as every reject of the file.
      const shownFile = (await filesShow(w, cancellation)) as {
        firstRejects: Array<Record<string, unknown>>;
      };
      expect(shownFile.firstRejects).toEqual([
        {
          line: 2,
          kind: 'activity',
          reason: 'UNKNOWN_REDEMPTION',
          member: IVANOV.number,
          ref: cancellationKey('R-9'),
          field: 'redemption_id',
          message:
            'redemption R-9 has not arrived: its cancellation, read on 2026-03-05, waited 7 days for it (cancellations wait 7)',
        },
      ]);

      const postings = await w.postingCount();
      const rerun = await w.night('2026-03-12');
      expect(rerun.accrue.counts.activities).toBe(0);
      expect(rerun.accrue.counts.cancellationsRejected).toBeUndefined();
      expect((await w.night('2026-03-13')).accrue.counts.activities).toBe(0);
      expect(await w.postingCount()).toBe(postings);
      expect(await w.activity(cancellationKey('R-9'))).toMatchObject({ rejected_on: '2026-03-12' });
    });

    it('a night caught up after the wait ended rejects the cancellation then, saying how long it waited', async () => {
      const w = s();
      await withPoints(w);
      w.dropRedemptions([seat('R-9', '2026-03-05', 'CANCELLED')]);
      await w.night('2026-03-05');
      const night = await w.night('2026-03-15');
      expect(night.accrue.counts.cancellationsRejected).toBe(1);
      expect(await w.activity(cancellationKey('R-9'))).toMatchObject({
        status: 'REJECTED',
        reason_message:
          'redemption R-9 has not arrived: its cancellation, read on 2026-03-05, waited 10 days for it (cancellations wait 7)',
        rejected_on: '2026-03-15',
      });
    });

    it('a redemption that comes and is refused: the night that refuses it rejects the cancellation waiting for it, on its own file and line', async () => {
      const w = s();
      await withPoints(w);
      const cancellation = w.dropRedemptions([seat('R-1', '2026-03-04', 'CANCELLED')]);
      await w.night('2026-03-04');
      expect(await w.activity(cancellationKey('R-1'))).toMatchObject({
        status: 'PENDING',
        reason: 'UNKNOWN_REDEMPTION',
        reason_message:
          'redemption R-1 has not arrived: the cancellation waits for it until the night of 2026-03-11',
      });

      const message =
        'redemption R-1 was refused (INSUFFICIENT_POINTS) on the night of 2026-03-05: its cancellation cannot be applied';
      const redemption = w.dropRedemptions([{ ...seat('R-1', '2026-03-05'), points: 4000 }]);
      expect(await simulated(w, redemption, '2026-03-05')).toEqual({
        [redemptionKey('R-1')]: [
          'REJECTED',
          'INSUFFICIENT_POINTS',
          'points',
          [cancellationKey('R-1'), 'REJECTED', 0],
        ],
      });
      const shownWith = (await w.simulate('redemptions', redemption, '2026-03-05')).flatMap((e) =>
        e.type === 'record' ? (e.also ?? []) : [],
      );
      expect(shownWith).toEqual([
        expect.objectContaining({
          why: 'the cancellation that waited for it',
          reason: 'UNKNOWN_REDEMPTION',
          field: 'redemption_id',
          message,
          postings: [],
        }),
      ]);
      const night = await w.night('2026-03-05');
      expect(night.accrue.counts.cancellationsAwaited).toBe(1);
      expect(night.accrue.counts['reject.UNKNOWN_REDEMPTION']).toBe(1);
      expect(await w.activity(redemptionKey('R-1'))).toMatchObject({
        status: 'REJECTED',
        reason: 'INSUFFICIENT_POINTS',
      });
      expect(await w.activity(cancellationKey('R-1'))).toMatchObject({
        status: 'REJECTED',
        reason: 'UNKNOWN_REDEMPTION',
        reason_field: 'redemption_id',
        reason_message: message,
        // The reject of the night that refused its redemption, in that night's report.
        rejected_on: '2026-03-05',
        points: 0,
        posting_key: null,
      });
      expect(await w.balance(IVANOV.number)).toBe(1500);
      const shownFile = (await filesShow(w, cancellation)) as {
        firstRejects: Array<Record<string, unknown>>;
      };
      expect(shownFile.firstRejects).toEqual([
        {
          line: 2,
          kind: 'activity',
          reason: 'UNKNOWN_REDEMPTION',
          member: IVANOV.number,
          ref: cancellationKey('R-1'),
          field: 'redemption_id',
          message,
        },
      ]);
      // Waiting no more: the night's report does not count it among the cancellations still waiting.
      const report = await dailyReport(w.w.t.db, w.w.config, '2026-03-05', join(w.w.dir, 'reports'));
      expect(report.keyFigures).toContainEqual(
        expect.objectContaining({ label: 'Cancellations waiting for their redemption', value: 0 }),
      );

      // The night its wait would have ended finds it decided: nothing more happens to it.
      const ended = await w.night('2026-03-11');
      expect(ended.accrue.counts.activities).toBe(0);
      expect(ended.accrue.counts.cancellationsRejected).toBeUndefined();
      expect(await w.activity(cancellationKey('R-1'))).toMatchObject({
        reason_message: message,
        rejected_on: '2026-03-05',
      });
    });

    it('a cancellation listed before its redemption in the same file, the redemption refused: rejected that night too', async () => {
      const w = s();
      await withPoints(w);
      const file = w.dropRedemptions([
        seat('R-1', '2026-03-05', 'CANCELLED'),
        { ...seat('R-1', '2026-03-05'), points: 4000 },
      ]);
      expect(await simulated(w, file, '2026-03-05')).toEqual({
        [cancellationKey('R-1')]: ['REJECTED', 'UNKNOWN_REDEMPTION', 'redemption_id'],
        [redemptionKey('R-1')]: ['REJECTED', 'INSUFFICIENT_POINTS', 'points'],
      });
      await w.night('2026-03-05');
      expect(await w.activity(cancellationKey('R-1'))).toMatchObject({
        status: 'REJECTED',
        reason: 'UNKNOWN_REDEMPTION',
        reason_field: 'redemption_id',
        reason_message:
          'redemption R-1 was refused (INSUFFICIENT_POINTS) on the night of 2026-03-05: its cancellation cannot be applied',
        // Rejected by the night that read it: that night's reject like any other.
        rejected_on: null,
      });
      expect(await w.balance(IVANOV.number)).toBe(1500);
    });

    it('a redemption that comes after its cancellation was rejected is an ordinary redemption; the cancellation sent again then gives the points back', async () => {
      const w = s();
      await withPoints(w);
      w.dropRedemptions([seat('R-9', '2026-03-05', 'CANCELLED')]);
      await w.night('2026-03-05');
      await w.night('2026-03-12');
      expect(await w.activity(cancellationKey('R-9'))).toMatchObject({ status: 'REJECTED' });

      const late = w.dropRedemptions([seat('R-9', '2026-03-13')]);
      expect(await simulated(w, late, '2026-03-14')).toEqual({
        [redemptionKey('R-9')]: ['POSTED', null, null],
      });
      const night = await w.night('2026-03-14');
      expect(night.accrue.counts.cancellationsAwaited).toBeUndefined();
      expect(await w.activity(redemptionKey('R-9'))).toMatchObject({ status: 'POSTED', points: -400 });
      expect(await w.activity(cancellationKey('R-9'))).toMatchObject({
        status: 'REJECTED',
        reason: 'UNKNOWN_REDEMPTION',
      });
      expect(await w.balance(IVANOV.number)).toBe(1100);

      // The award system, told of the reject, sends the cancellation again: it now cancels the redemption.
      const again = w.dropRedemptions([seat('R-9', '2026-03-15', 'CANCELLED')]);
      expect(await simulated(w, again, '2026-03-15')).toEqual({
        [cancellationKey('R-9')]: ['REVERSED', null, null],
      });
      await w.night('2026-03-15');
      expect(await w.activity(cancellationKey('R-9'))).toMatchObject({ status: 'POSTED', points: 400 });
      expect(await w.activity(redemptionKey('R-9'))).toMatchObject({
        status: 'REVERSED',
        reason: 'CANCELLED',
      });
      expect(await w.balance(IVANOV.number)).toBe(1500);
    });
  });

  describe(`the daily report of cancellations waiting (${engine})`, () => {
    const s = useScenario(engine);
    const skip = skipWithoutOpenpyxl();

    it.skipIf(skip)(
      'lists each cancellation while it waits and not after, counts its reject on the night it is rejected, and a past date reads the same later',
      async () => {
        const w = s();
        await withPoints(w);
        const report = async (date: string, run: string) =>
          dailyReport(w.w.t.db, w.w.config, date, join(w.w.dir, 'reports', `${date}-${run}`));
        const cancellations = w.dropRedemptions([
          seat('R-7', '2026-03-05', 'CANCELLED'),
          seat('R-9', '2026-03-05', 'CANCELLED'),
        ]);
        await w.night('2026-03-05');
        const first = await report('2026-03-05', 'first');
        const waiting = (dump: Awaited<ReturnType<typeof dumpXlsx>>) => {
          const table = tableOf(dump, 'Waiting cancellations');
          return table.rows.map((r) =>
            [
              'Member',
              'Redemption',
              'Service type',
              'Points',
              'File',
              'Line',
              'Came in',
              'Days waiting',
              'Rejected on',
            ].map((h) => table.cell(r, h).value),
          );
        };
        const row = (id: string, line: number, days: number) => [
          IVANOV.number,
          id,
          'SEAT',
          400,
          cancellations,
          line,
          '2026-03-05T00:00:00',
          days,
          '2026-03-12T00:00:00',
        ];
        const summaryFigure = (dump: Awaited<ReturnType<typeof dumpXlsx>>, date: string) => {
          const summary = tableOf(dump, 'Summary');
          return summary.cell(summary.row('Cancellations waiting for their redemption'), `${date} (today)`)
            .value;
        };
        const onFirst = await dumpXlsx(first.workbookPath);
        expect(waiting(onFirst)).toEqual([row('R-7', 2, 0), row('R-9', 3, 0)]);
        expect(summaryFigure(onFirst, '2026-03-05')).toBe(2);
        expect(first.keyFigures).toContainEqual(
          expect.objectContaining({ label: 'Cancellations waiting for their redemption', value: 2 }),
        );
        const waitingTotal = tableOf(onFirst, 'Waiting cancellations');
        expect(waitingTotal.cell(waitingTotal.totals!, 'Points').cached).toBe(800);

        // R-7's redemption comes: the cancellation is applied and waits no more.
        w.dropRedemptions([seat('R-7', '2026-03-04')]);
        await w.night('2026-03-08');
        await w.night('2026-03-11');
        const eve = await report('2026-03-11', 'first');
        const onEve = await dumpXlsx(eve.workbookPath);
        expect(waiting(onEve)).toEqual([row('R-9', 3, 6)]);
        expect(summaryFigure(onEve, '2026-03-11')).toBe(1);
        expect(tableOf(onEve, 'Reject detail').rows).toEqual([]);

        // R-9's never comes: rejected on the night its wait ends, and that night's report counts it.
        await w.night('2026-03-12');
        const ended = await report('2026-03-12', 'first');
        const onEnd = await dumpXlsx(ended.workbookPath);
        expect(waiting(onEnd)).toEqual([]);
        expect(summaryFigure(onEnd, '2026-03-12')).toBe(0);
        const summary = tableOf(onEnd, 'Summary');
        expect(summary.cell(summary.row('Records rejected'), '2026-03-12 (today)').value).toBe(1);
        expect(
          summary.cell(summary.row('Cancellations waiting for their redemption'), '2026-03-05').value,
        ).toBe(2);
        const detail = tableOf(onEnd, 'Reject detail');
        expect(
          detail.rows.map((r) =>
            ['File', 'Feed', 'Kind', 'Line', 'Field', 'Reason', 'Member', 'Record', 'Message'].map(
              (h) => detail.cell(r, h).value,
            ),
          ),
        ).toEqual([
          [
            cancellations,
            'redemptions',
            'activity',
            3,
            'redemption_id',
            'UNKNOWN_REDEMPTION',
            IVANOV.number,
            'R-9',
            'redemption R-9 has not arrived: its cancellation, read on 2026-03-05, waited 7 days for it (cancellations wait 7)',
          ],
        ]);
        const reasons = tableOf(onEnd, 'Rejects by reason');
        expect(
          reasons.rows.map((r) =>
            ['Feed', 'Reason', 'Files', 'Records rejected'].map((h) => reasons.cell(r, h).value),
          ),
        ).toEqual([['redemptions', 'UNKNOWN_REDEMPTION', 1, 1]]);
        // Its file came on an earlier night: listed below tonight's files with the record rejected tonight.
        const files = tableOf(onEnd, 'Files');
        const earlier = files.rows.find((r) => files.cell(r, 'File').value === cancellations)!;
        expect(['Night', 'Records', 'Posted', 'Rejected'].map((h) => files.cell(earlier, h).value)).toEqual([
          '2026-03-05T00:00:00',
          null,
          0,
          1,
        ]);

        // The earlier nights' reports, made again, read as they did: what came after is not theirs.
        for (const [date, made] of [
          ['2026-03-05', first],
          ['2026-03-11', eve],
        ] as const)
          expect(
            readFileSync((await report(date, 'again')).workbookPath).equals(readFileSync(made.workbookPath)),
            date,
          ).toBe(true);
      },
    );
  });

  describe(`cancellations in a program that waits no days (${engine})`, () => {
    const s = useScenario(engine, (yaml) =>
      replaceOnce(yaml, 'cancellationWaitDays: 7', 'cancellationWaitDays: 0'),
    );

    it('rejects a cancellation alone the night it comes, but not one whose redemption comes later in the same file', async () => {
      const w = s();
      await withPoints(w);
      const file = w.dropRedemptions([
        seat('R-1', '2026-03-05', 'CANCELLED'),
        seat('R-2', '2026-03-05', 'CANCELLED'),
        seat('R-2', '2026-03-05'),
      ]);
      expect(await simulated(w, file, '2026-03-05')).toEqual({
        [cancellationKey('R-1')]: ['REJECTED', 'UNKNOWN_REDEMPTION', 'redemption_id'],
        [cancellationKey('R-2')]: ['REVERSED', null, null],
        [redemptionKey('R-2')]: ['POSTED', null, null],
      });
      const night = await w.night('2026-03-05');
      expect(night.accrue.counts.cancellationsRejected).toBe(1);
      expect(await w.activity(cancellationKey('R-1'))).toMatchObject({
        status: 'REJECTED',
        reason: 'UNKNOWN_REDEMPTION',
        reason_message:
          'redemption R-1 has not arrived: its cancellation, read on 2026-03-05, waited 0 days for it (cancellations wait 0)',
        // Rejected on the night that read it: that night's reject like any other, no later date to keep.
        rejected_on: null,
      });
      expect(await w.activity(cancellationKey('R-2'))).toMatchObject({ status: 'POSTED', points: 400 });
      expect(await w.balance(IVANOV.number)).toBe(1500);
      expect((await w.night('2026-03-05')).accrue.counts.activities).toBe(0);
    });
  });
}
