/**
 * A custom bar chart of measures in different units reads each unit against its own value axis: members
 * beside points on one scale would be bars a pixel high. Measures of one unit share the left axis.
 * (Three units are refused with the configuration: config/load.test.ts.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCanvas } from '@napi-rs/canvas';
import { Chart, type ChartItem } from 'chart.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LoadedConfig } from '../config/load.js';
import { availableEngines, createTestDatabase, type TestDb } from '../test/harness/db.js';
import { buildScenario, scenarioConfig } from '../test/harness/report-scenario.js';
import { buildConfig, RIGHT_AXIS, type ChartSpec } from './charts.js';
import { customReportData } from './custom.js';
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
const clock = () => new Date('2026-06-01T03:00:00Z');
const CUSTOM = `    - name: partner-points-and-members
      title: Partner points and members
      measures: [pointsIssued, members]
      dimensions: [partner]
      period: month
      chart: { type: bar }
    - name: spend-and-points-by-week
      title: Spend and points
      measures: [spend, pointsIssued, pointsRedeemed]
      dimensions: [day]
      period: week
      chart: { type: stacked-bar }
    - name: earn-and-burn
      title: Earn and burn by partner
      measures: [pointsIssued, pointsRedeemed]
      dimensions: [channel]
      period: month
      chart: { type: bar }
`;

/** The chart a spec draws, laid out by Chart.js as the rendered picture is. */
function laidOut(spec: ChartSpec): Chart {
  const canvas = createCanvas(spec.width ?? 800, spec.height ?? 400);
  return new Chart(canvas.getContext('2d') as unknown as ChartItem, buildConfig(spec));
}

for (const engine of availableEngines()) {
  describe(`custom bar charts of two units on ${engine}`, () => {
    let t: TestDb;
    let dir: string;
    let config: LoadedConfig;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'redeye-custom-axes-'));
      config = scenarioConfig(dir, { customReports: CUSTOM });
      t = await createTestDatabase(engine);
      await buildScenario(t.db, config, { from: '2026-05-01', to: DAY, members: 30, perDay: 6 });
    });
    afterAll(async () => {
      await t.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    const draw = async (name: string): Promise<ChartSpec> => {
      drawn.length = 0;
      await produceReport(name, t.db, config, DAY, join(dir, name), clock);
      expect(drawn).toHaveLength(1);
      return drawn[0]!;
    };

    it('reads members against a right axis of their own, scaled to the members', async () => {
      const spec = await draw('partner-points-and-members');
      const { cells } = await customReportData(
        t.db,
        config.reports.custom.find((r) => r.name === 'partner-points-and-members')!,
        DAY,
      );
      const most = (m: 'pointsIssued' | 'members') => Math.max(...cells.map((c) => c.values[m] ?? 0));
      expect(most('pointsIssued')).toBeGreaterThan(100 * most('members'));
      expect(spec.series.map((s) => [s.label, s.axis ?? 'left'])).toEqual([
        ['Points issued', 'left'],
        ['Members', 'right'],
      ]);
      expect(spec.valueAxisTitle).toBe('Points');
      expect(spec.rightAxis?.title).toBe('Members');

      const chart = laidOut(spec);
      try {
        const left = chart.scales.y!;
        const right = chart.scales[RIGHT_AXIS]!;
        expect((right.options as { position?: string }).position).toBe('right');
        expect(left.max).toBeGreaterThanOrEqual(most('pointsIssued'));
        expect(right.max).toBeGreaterThanOrEqual(most('members'));
        expect(right.max).toBeLessThanOrEqual(2 * most('members'));
        // The partner with the most members has a bar reaching well up the chart, not a sliver at 0.
        const members = chart.getDatasetMeta(1);
        expect(members.yAxisID).toBe(RIGHT_AXIS);
        const tallest = Math.min(...members.data.map((bar) => bar.y));
        expect((right.bottom - tallest) / (right.bottom - right.top)).toBeGreaterThan(0.5);
      } finally {
        chart.destroy();
      }
    });

    it('stacks points on the left and spend on the right side by side, never on each other', async () => {
      const spec = await draw('spend-and-points-by-week');
      expect(spec.series.map((s) => s.axis ?? 'left')).toEqual(['left', 'right', 'right']);
      expect(spec.rightAxis).toEqual({ valueFormat: { compact: true }, title: 'Points' });
      expect(spec.valueFormat).toEqual({ style: 'currency', currency: 'USD' });
      const chart = laidOut(spec);
      try {
        const [spend, issued, redeemed] = [0, 1, 2].map((i) => chart.getDatasetMeta(i));
        // Issued and redeemed points share a stack; spend stands beside it.
        expect(issued!.data[3]!.x).toBeCloseTo(redeemed!.data[3]!.x, 6);
        expect(Math.abs(spend!.data[3]!.x - issued!.data[3]!.x)).toBeGreaterThan(5);
      } finally {
        chart.destroy();
      }
    });

    it('keeps measures of one unit on one axis', async () => {
      const spec = await draw('earn-and-burn');
      expect(spec.series.every((s) => s.axis === undefined)).toBe(true);
      expect(spec.rightAxis).toBeUndefined();
      expect(Object.keys((buildConfig(spec).options as { scales: object }).scales)).toEqual(['x', 'y']);
    });
  });
}
