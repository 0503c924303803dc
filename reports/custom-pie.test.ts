/**
 * A custom pie shows the slices that have a value: a points-by-channel pie over a month of earning has
 * every redemption channel at 0, and a legend listing them all hides the slices that are there. And it
 * never shows two slices in one colour: beyond the palette, its smallest slices are one "Other".
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LoadedConfig } from '../config/load.js';
import { createTestDatabase, type TestDb } from '../test/harness/db.js';
import { buildScenario, scenarioConfig } from '../test/harness/report-scenario.js';
import { buildConfig, CHART_PALETTE, type ChartSpec } from './charts.js';
import { num, sqlRows } from './common.js';
import { produceReport } from './produce.js';

const drawn: ChartSpec[] = [];
vi.mock('./charts.js', async (original) => {
  const charts = await original<typeof import('./charts.js')>();
  return {
    ...charts,
    renderChart: (spec: ChartSpec) => {
      drawn.push(spec);
      return charts.renderChart(spec);
    },
  };
});

const DAY = '2026-05-31';
const CUSTOM = `    - name: issued-by-channel
      title: Points by channel
      measures: [pointsIssued]
      dimensions: [channel]
      period: month
      chart: { type: pie }
    - name: issued-by-route
      title: Points by route
      measures: [pointsIssued]
      dimensions: [route]
      period: month
      chart: { type: pie }
`;

describe('a custom pie', () => {
  let t: TestDb;
  let dir: string;
  let config: LoadedConfig;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'redeye-custom-pie-'));
    config = scenarioConfig(dir, { customReports: CUSTOM });
    t = await createTestDatabase('sqlite');
    await buildScenario(t.db, config, { from: '2026-05-01', to: DAY, members: 20, perDay: 4 });
  });
  afterAll(async () => {
    await t.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('draws a slice for each channel that issued points, none for those at zero', async () => {
    drawn.length = 0;
    await produceReport(
      'issued-by-channel',
      t.db,
      config,
      DAY,
      join(dir, 'out'),
      () => new Date('2026-06-01T03:00:00Z'),
    );
    const issued = await sqlRows<{ channel: string; total: unknown }>(
      t.db.knex,
      `SELECT p.channel AS channel, SUM(e.amount) AS total FROM postings p
         JOIN entries e ON e.posting_id = p.id JOIN accounts a ON a.id = e.account_id
         LEFT JOIN postings o ON o.id = p.reversal_of
        WHERE p.business_date BETWEEN '2026-05-01' AND ? AND a.kind IN ('MEMBER_POINTS', 'POOL_POINTS')
          AND COALESCE(o.kind, p.kind) = 'ACCRUAL' GROUP BY p.channel HAVING SUM(e.amount) <> 0`,
      [DAY],
    );
    expect(drawn).toHaveLength(1);
    const [pie] = drawn;
    expect(pie!.labels).toHaveLength(issued.length);
    expect(pie!.series[0]!.data.every((v) => v !== 0)).toBe(true);
    expect(pie!.series[0]!.data.reduce<number>((s, v) => s + (v ?? 0), 0)).toBe(
      issued.reduce((s, r) => s + num(r.total), 0),
    );
  });

  it('draws as many slices as there are colours, the smallest routes together as "Other"', async () => {
    drawn.length = 0;
    await produceReport(
      'issued-by-route',
      t.db,
      config,
      DAY,
      join(dir, 'routes'),
      () => new Date('2026-06-01T03:00:00Z'),
    );
    const [pie] = drawn;
    const routes = pie!.labels.length;
    expect(routes).toBeGreaterThan(CHART_PALETTE.length);
    const values = pie!.series[0]!.data as number[];
    const drawnConfig = buildConfig(pie!).data;
    const slices = drawnConfig.datasets[0]!;
    expect(drawnConfig.labels).toHaveLength(CHART_PALETTE.length);
    expect(new Set(slices.backgroundColor as string[]).size).toBe(CHART_PALETTE.length);
    expect(String(drawnConfig.labels!.at(-1))).toMatch(/^Other: /);
    // The custom report orders routes by points: the nine first are drawn, the rest are "Other".
    expect(slices.data.slice(0, -1)).toEqual(values.slice(0, CHART_PALETTE.length - 1));
    expect(slices.data.at(-1)).toBe(values.slice(CHART_PALETTE.length - 1).reduce((a, b) => a + b, 0));
  });
});
