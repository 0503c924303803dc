import { describe, expect, it } from 'vitest';
import { loadImage, createCanvas } from '@napi-rs/canvas';
import { Chart, type ChartItem } from 'chart.js';
import {
  buildConfig,
  chartNumberFormatter,
  renderChart,
  CHART_PALETTE,
  OTHER_SLICE,
  type ChartSpec,
} from './charts.js';
import { RedeyeError } from '../lib/errors.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function ihdr(png: Buffer): { width: number; height: number } {
  expect(png.subarray(12, 16).toString('ascii')).toBe('IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

interface PixelStats {
  distinctColours: number;
  nonWhite: number;
  total: number;
}

async function pixelStats(png: Buffer): Promise<PixelStats> {
  const image = await loadImage(png);
  const canvas = createCanvas(image.width, image.height);
  const ctx = canvas.getContext('2d');
  ctx.drawImage(image, 0, 0);
  const { data } = ctx.getImageData(0, 0, image.width, image.height);
  const colours = new Set<number>();
  let nonWhite = 0;
  for (let i = 0; i < data.length; i += 4) {
    const [r, g, b, a] = [
      data[i] as number,
      data[i + 1] as number,
      data[i + 2] as number,
      data[i + 3] as number,
    ];
    colours.add(((r << 24) | (g << 16) | (b << 8) | a) >>> 0);
    if (r < 250 || g < 250 || b < 250) nonWhite++;
  }
  return { distinctColours: colours.size, nonWhite, total: data.length / 4 };
}

async function pixelsOf(png: Buffer): Promise<Uint8ClampedArray> {
  const image = await loadImage(png);
  const canvas = createCanvas(image.width, image.height);
  canvas.getContext('2d').drawImage(image, 0, 0);
  return canvas.getContext('2d').getImageData(0, 0, image.width, image.height).data;
}

const channels = ['Own flights', 'Partner airlines', 'Hotels', 'Car rental', 'Banks'];

const grouped: ChartSpec = {
  kind: 'bar',
  title: 'Accrual by channel',
  subtitle: 'Business date 2024-05-01',
  labels: channels,
  series: [
    { label: 'Yesterday', data: [1_234_567, 456_789, 120_000, 45_000, 300_000] },
    { label: 'Same day last year', data: [1_134_567, 406_789, 110_000, 55_000, 310_000] },
  ],
  valueAxisTitle: 'Points',
};

describe('renderChart', () => {
  it('produces a PNG whose header declares the requested size', async () => {
    const png = await renderChart({ ...grouped, width: 640, height: 320 });
    expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(ihdr(png)).toEqual({ width: 640, height: 320 });
  });

  it('multiplies the pixel size by the pixel ratio for sharp images on dense screens', async () => {
    const png = await renderChart({ ...grouped, width: 400, height: 200, pixelRatio: 2 });
    expect(ihdr(png)).toEqual({ width: 800, height: 400 });
  });

  it('renders the same bytes for the same spec, so reruns attach identical images', async () => {
    const first = await renderChart(grouped);
    const second = await renderChart(grouped);
    expect(first.equals(second)).toBe(true);
  });

  it.each<[string, ChartSpec]>([
    ['grouped bars', grouped],
    [
      'stacked horizontal bars',
      {
        kind: 'bar',
        horizontal: true,
        stacked: true,
        labels: channels,
        series: [
          { label: 'Base', data: [5, 4, 3, 2, 1] },
          { label: 'Bonus', data: [1, 2, 3, 4, 5] },
        ],
        valueFormat: { compact: true },
      },
    ],
    [
      'a line with a gap',
      {
        kind: 'line',
        labels: ['Jan', 'Feb', 'Mar', 'Apr'],
        series: [{ label: 'Liability', data: [100_000, null, 90_000, 150_000] }],
        valueFormat: { style: 'currency', currency: 'USD' },
      },
    ],
    ['a pie', { kind: 'pie', labels: ['Tickets', 'Upgrades'], series: [{ label: 'Points', data: [3, 1] }] }],
    [
      'a doughnut',
      {
        kind: 'doughnut',
        labels: ['Member', 'Silver', 'Gold'],
        series: [{ label: 'Members', data: [900, 80, 20] }],
      },
    ],
  ])('draws %s with visible content in several colours', async (_name, spec) => {
    const stats = await pixelStats(await renderChart(spec));
    // A blank or transparent image has one or two colours; a drawn chart has antialiased edges and text.
    expect(stats.distinctColours).toBeGreaterThan(20);
    expect(stats.nonWhite / stats.total).toBeGreaterThan(0.02);
    expect(stats.nonWhite / stats.total).toBeLessThan(0.9);
  });

  it('paints an opaque white background so mail clients in dark mode do not show black', async () => {
    const data = await pixelsOf(await renderChart(grouped));
    expect([data[0], data[1], data[2], data[3]]).toEqual([255, 255, 255, 255]);
  });

  it('draws the series in the palette colours', async () => {
    const data = await pixelsOf(
      await renderChart({
        kind: 'bar',
        labels: ['only'],
        series: [{ label: 's', data: [10] }],
        width: 200,
        height: 200,
      }),
    );
    const hex = CHART_PALETTE[0] as string;
    const want = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    let found = false;
    for (let i = 0; i < data.length && !found; i += 4) {
      found = data[i] === want[0] && data[i + 1] === want[1] && data[i + 2] === want[2];
    }
    expect(found).toBe(true);
  });

  it('renders title text: the same chart with a title differs from one without', async () => {
    const untitled = await pixelsOf(await renderChart({ ...grouped, title: undefined, subtitle: undefined }));
    const titled = await pixelsOf(await renderChart(grouped));
    const other = await pixelsOf(await renderChart({ ...grouped, title: 'Redemption by channel' }));
    expect(Buffer.from(untitled).equals(Buffer.from(titled))).toBe(false);
    // Different words give different pixels: the glyphs themselves are drawn, not just a title box.
    expect(Buffer.from(other).equals(Buffer.from(titled))).toBe(false);
  });

  it('rejects a series whose length does not match the labels', async () => {
    await expect(
      renderChart({ kind: 'bar', labels: ['a', 'b'], series: [{ label: 's', data: [1] }] }),
    ).rejects.toThrow(RedeyeError);
  });

  it('rejects a pie with more than one series and sizes out of range', async () => {
    const two = { label: 's', data: [1] };
    await expect(renderChart({ kind: 'pie', labels: ['a'], series: [two, two] })).rejects.toMatchObject({
      code: 'CHART_SPEC_INVALID',
    });
    await expect(renderChart({ ...grouped, width: 100_000 })).rejects.toMatchObject({
      code: 'CHART_SPEC_INVALID',
    });
    await expect(
      renderChart({ kind: 'bar', labels: ['a'], series: [{ label: 's', data: [Number.NaN] }] }),
    ).rejects.toMatchObject({ code: 'CHART_SPEC_INVALID' });
  });
});

describe('colours', () => {
  /** The slices a pie spec draws: label (without its value), value and colour. */
  const slicesOf = (spec: ChartSpec) => {
    const data = buildConfig(spec).data;
    const dataset = data.datasets[0]!;
    return (data.labels as string[]).map((label, i) => ({
      label: label.replace(/: .*$/, ''),
      value: dataset.data[i] as number,
      colour: (dataset.backgroundColor as string[])[i]!,
    }));
  };
  // Sixteen partners, as a custom pie of 15 and "Other" has them: sizes 1600, 1500, … 100.
  const partners = Array.from({ length: 16 }, (_, i) => `Partner ${String.fromCharCode(65 + i)}`);
  const sizes = partners.map((_, i) => (16 - i) * 100);

  it('folds the smallest slices of a pie into "Other" beyond the palette, so no two slices look alike', () => {
    // Shuffled, so the fold picks by size, not by position.
    const order = [3, 15, 0, 9, 12, 6, 1, 14, 7, 10, 2, 13, 4, 11, 8, 5];
    const slices = slicesOf({
      kind: 'pie',
      labels: order.map((i) => partners[i]!),
      series: [{ label: 'Points', data: order.map((i) => sizes[i]!) }],
    });
    expect(slices).toHaveLength(CHART_PALETTE.length);
    expect(new Set(slices.map((s) => s.colour)).size).toBe(slices.length);
    // The nine largest in the order they came, then the other seven together.
    expect(slices.slice(0, -1).map((s) => s.label)).toEqual(
      order.filter((i) => i < 9).map((i) => partners[i]),
    );
    expect(slices.at(-1)).toMatchObject({
      label: OTHER_SLICE,
      value: 700 + 600 + 500 + 400 + 300 + 200 + 100,
    });
    expect(slices.reduce((sum, s) => sum + s.value, 0)).toBe(sizes.reduce((a, b) => a + b, 0));
  });

  it('folds a caller\'s own "Other" slice into the pie\'s, and leaves a pie within the palette alone', () => {
    const slices = slicesOf({
      kind: 'doughnut',
      labels: [...partners.slice(0, 15), OTHER_SLICE],
      series: [{ label: 'Points', data: [...sizes.slice(0, 15), 5000] }],
    });
    expect(slices.filter((s) => s.label === OTHER_SLICE)).toEqual([
      expect.objectContaining({ value: 5000 + 700 + 600 + 500 + 400 + 300 + 200 }),
    ]);
    const small = slicesOf({
      kind: 'pie',
      labels: partners.slice(0, 10),
      series: [{ label: 'Points', data: sizes.slice(0, 10) }],
    });
    expect(small.map((s) => s.label)).toEqual(partners.slice(0, 10));
    expect(small.map((s) => s.colour)).toEqual(CHART_PALETTE);
  });

  it('refuses a bar or line chart of more series than colours', async () => {
    const series = partners.slice(0, CHART_PALETTE.length + 1).map((label) => ({ label, data: [1] }));
    await expect(renderChart({ kind: 'line', labels: ['May'], series })).rejects.toMatchObject({
      code: 'CHART_SPEC_INVALID',
      message: expect.stringMatching(/at most 10 series, one per palette colour, got 11/),
    });
    const ten = buildConfig({ kind: 'bar', labels: ['May'], series: series.slice(0, 10) }).data.datasets;
    expect(new Set(ten.map((d) => d.backgroundColor)).size).toBe(10);
  });
});

describe('a right value axis', () => {
  it('is refused where a chart has no second value axis to give', async () => {
    const members = { label: 'Members', data: [3, 4], axis: 'right' as const };
    const points = { label: 'Points', data: [3000, 4000] };
    for (const spec of [
      { kind: 'doughnut', labels: ['a', 'b'], series: [members] },
      { kind: 'bar', horizontal: true, labels: ['a', 'b'], series: [points, members] },
      { kind: 'line', labels: ['a', 'b'], series: [members] },
    ] satisfies ChartSpec[]) {
      await expect(renderChart(spec), spec.kind).rejects.toMatchObject({ code: 'CHART_SPEC_INVALID' });
    }
    await expect(
      renderChart({
        kind: 'bar',
        labels: ['a', 'b'],
        series: [points, members],
        rightAxis: { valueFormat: { style: 'currency' } },
      }),
    ).rejects.toMatchObject({ code: 'CHART_SPEC_INVALID' });
  });
});

describe('chartNumberFormatter', () => {
  it('writes thousands separators and the requested style', () => {
    expect(chartNumberFormatter()(1_234_567)).toBe('1,234,567');
    expect(chartNumberFormatter({ style: 'decimal', decimals: 2 })(1234.5)).toBe('1,234.50');
    expect(chartNumberFormatter({ style: 'percent', decimals: 1 })(0.125)).toBe('12.5%');
    expect(chartNumberFormatter({ style: 'currency', currency: 'EUR' })(1234)).toBe('€1,234');
    expect(chartNumberFormatter({ compact: true })(1_200_000)).toBe('1.2M');
    expect(chartNumberFormatter({}, 'de-DE')(1_234_567)).toBe('1.234.567');
  });
});

describe('value axis', () => {
  /** The values of the ticks Chart.js puts on the value axis of a spec. */
  async function valueTicks(spec: ChartSpec): Promise<number[]> {
    await renderChart(spec); // registers Chart.js and the font, as a report does
    const canvas = createCanvas(spec.width ?? 800, spec.height ?? 400);
    const chart = new Chart(canvas.getContext('2d') as unknown as ChartItem, buildConfig(spec));
    try {
      return chart.scales[spec.horizontal ? 'x' : 'y']!.ticks.map((t) => t.value);
    } finally {
      chart.destroy();
    }
  }

  it('steps by whole numbers for points and counts, also when every value is 0', async () => {
    // The monthly expiry forecast of a program whose lots expire in none of the next 12 months.
    const forecast: ChartSpec = {
      kind: 'bar',
      title: 'Points expiring by month',
      labels: ['Jul 2026', 'Aug 2026', 'Sep 2026'],
      series: [{ label: 'Points', data: [0, 0, 0] }],
      valueFormat: { compact: true },
    };
    const ticks = await valueTicks(forecast);
    expect(ticks.length).toBeGreaterThan(1);
    for (const t of ticks) expect(Number.isInteger(t), `tick ${t}`).toBe(true);
    for (const t of await valueTicks({ ...forecast, valueFormat: undefined, horizontal: true }))
      expect(Number.isInteger(t), `tick ${t}`).toBe(true);
    // Small counts too: 0, 1, 2, 3 members, not 0, 0.5, … 3.
    const small = await valueTicks({ ...forecast, series: [{ label: 'Members', data: [1, 3, 2] }] });
    for (const t of small) expect(Number.isInteger(t), `tick ${t}`).toBe(true);
  });

  it('keeps fractional steps for rates', async () => {
    const ticks = await valueTicks({
      kind: 'line',
      labels: ['Apr', 'May', 'Jun'],
      series: [{ label: 'Burn rate', data: [0.12, 0.18, 0.15] }],
      valueFormat: { style: 'percent' },
    });
    expect(ticks.some((t) => !Number.isInteger(t))).toBe(true);
  });
});
