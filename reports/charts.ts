/**
 * Report charts as PNG images, rendered by Chart.js on a Skia canvas (@napi-rs/canvas) with no DOM,
 * no browser and no system fonts.
 *
 * What Chart.js needs outside a browser: with no `window`/`document` it picks its BasicPlatform, which
 * only calls `getContext('2d')` on what it is given (or reads `.canvas` from a context), takes the size
 * from `canvas.width`/`canvas.height` when `responsive` is off, and uses a device pixel ratio of 1
 * unless the chart's `devicePixelRatio` option says otherwise. Animation must be off so that the first
 * synchronous draw is the final picture; `canvas.style` is optional and napi-rs has none.
 *
 * Text is drawn with DejaVu Sans from the `dejavu-fonts-ttf` package, registered under a family name of
 * our own so that a system font of the same name can never be picked instead: the same spec gives the
 * same pixels on a developer machine and on a bare container.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { createCanvas, GlobalFonts } from '@napi-rs/canvas';
import {
  Chart,
  registerables,
  type ChartConfiguration,
  type ChartDataset,
  type ChartItem,
  type Plugin,
} from 'chart.js';
import { RedeyeError } from '../lib/errors.js';

/**
 * Colours every report uses, in order: distinguishable for common colour-vision deficiencies. Ten is
 * about as many hues as readers tell apart, so no chart uses a colour twice: a pie folds its smallest
 * slices into "Other" beyond them (`pieSlices`), and a bar or line chart may not have more series.
 */
export const CHART_PALETTE: readonly string[] = [
  '#1F5A96', // deep blue
  '#E07B24', // orange
  '#3A9E6F', // green
  '#C8423B', // red
  '#7D5BA6', // purple
  '#2BA4B8', // teal
  '#B8862B', // ochre
  '#D46FA4', // pink
  '#6B7B8C', // slate
  '#8FB339', // olive
];

export const CHART_FONT_FAMILY = 'Redeye Chart Sans';

const TEXT_COLOUR = '#1F2933';
const GRID_COLOUR = '#D9DEE3';
const BACKGROUND = '#FFFFFF';

export type ChartKind = 'bar' | 'line' | 'pie' | 'doughnut';

/** The Chart.js scale id of the right value axis (the left one is `y`). */
export const RIGHT_AXIS = 'yRight';

/** How numbers on the value axis (and in pie legends) are written. */
export interface ChartNumberFormat {
  /** `integer` (default): 1,234,567; `decimal`: fixed decimals; `percent`: 0.125 → 12.5%; `currency`: $1,234. */
  style?: 'integer' | 'decimal' | 'percent' | 'currency';
  /** Fraction digits for `decimal`, `percent` and `currency` (defaults 2, 0 and 0). */
  decimals?: number;
  /** ISO 4217 code, required for `currency`. */
  currency?: string;
  /** 1.2M instead of 1,200,000 — for axes whose values run into millions. */
  compact?: boolean;
}

export interface ChartSeries {
  label: string;
  /** One value per category label; `null` leaves a gap. */
  data: readonly (number | null)[];
  /** A colour instead of the next palette colour. */
  colour?: string;
  /** Bars with the same stack id are stacked on each other (with `stacked`, all bars share one stack). */
  stack?: string;
  /**
   * Vertical bars and lines: the value axis the series is read against. `right` is for a figure of
   * another unit than the left axis's (money beside points), which one scale would misstate.
   */
  axis?: 'left' | 'right';
}

export interface ChartSpec {
  kind: ChartKind;
  title?: string;
  subtitle?: string;
  /** Category labels (x axis, or bar axis when horizontal, or pie slices). */
  labels: readonly string[];
  series: readonly ChartSeries[];
  /** Size in CSS pixels; the PNG is `width × pixelRatio` wide. Defaults 800 × 400. */
  width?: number;
  height?: number;
  /** 2 gives sharp images on high-density screens at four times the pixels. Default 1. */
  pixelRatio?: number;
  /** Bar and line: stack the series on each other instead of grouping them side by side. */
  stacked?: boolean;
  /** Bar: categories on the vertical axis, bars running to the right. */
  horizontal?: boolean;
  valueFormat?: ChartNumberFormat;
  categoryAxisTitle?: string;
  valueAxisTitle?: string;
  /** The right value axis of the series with `axis: 'right'`: its number format and title. */
  rightAxis?: { valueFormat?: ChartNumberFormat; title?: string };
  /** Legend position; default `top`, or `right` for pie and doughnut. */
  legend?: 'top' | 'bottom' | 'right' | 'none';
  /** Locale for thousands separators and decimal marks; default `en-US`. */
  locale?: string;
}

const MAX_SIDE = 4000;

let setUp = false;

function ensureSetUp(): void {
  if (setUp) return;
  const require = createRequire(import.meta.url);
  const fontDir = path.join(path.dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf');
  for (const file of ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf']) {
    // registerFromPath returns null instead of throwing when the file cannot be read or parsed.
    if (!GlobalFonts.registerFromPath(path.join(fontDir, file), CHART_FONT_FAMILY)) {
      throw new RedeyeError('CHART_FONT_MISSING', `cannot load chart font ${file}`, { path: fontDir });
    }
  }
  Chart.register(...registerables);
  setUp = true;
}

/** The label of the slice the smallest slices of a pie are folded into. */
export const OTHER_SLICE = 'Other';

/**
 * The slices a pie draws: all of them when the palette has a colour for each, otherwise the largest
 * (by size, whatever their sign) in their order, one fewer than the palette's colours, and the rest
 * summed into a last slice "Other" — into which a slice already called "Other" (a caller's own
 * remainder) goes too, so no pie shows two. A pie of more slices than colours would show two slices
 * alike, and the smallest slices of a pie are slivers no one reads; the report's table has them all.
 */
export function pieSlices(
  labels: readonly string[],
  values: readonly (number | null)[],
): { labels: string[]; values: Array<number | null> } {
  if (labels.length <= CHART_PALETTE.length) return { labels: [...labels], values: [...values] };
  const keep = new Set(
    labels
      .map((label, i) => ({ i, label, size: Math.abs(values[i] ?? 0) }))
      .filter((s) => s.label !== OTHER_SLICE)
      .sort((a, b) => b.size - a.size || a.i - b.i)
      .slice(0, CHART_PALETTE.length - 1)
      .map((s) => s.i),
  );
  const kept = labels.map((_, i) => i).filter((i) => keep.has(i));
  const other = labels.reduce((sum, _, i) => (keep.has(i) ? sum : sum + (values[i] ?? 0)), 0);
  return {
    labels: [...kept.map((i) => labels[i]!), OTHER_SLICE],
    values: [...kept.map((i) => values[i] ?? null), other],
  };
}

function invalid(message: string, spec: ChartSpec): RedeyeError {
  return new RedeyeError('CHART_SPEC_INVALID', message, { chart: spec.title ?? spec.kind });
}

function validate(spec: ChartSpec): void {
  const width = spec.width ?? 800;
  const height = spec.height ?? 400;
  const ratio = spec.pixelRatio ?? 1;
  for (const [name, value] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (!Number.isInteger(value) || value < 50 || value > MAX_SIDE) {
      throw invalid(`${name} must be an integer from 50 to ${MAX_SIDE} pixels, got ${value}`, spec);
    }
  }
  if (!(ratio >= 1 && ratio <= 4) || !Number.isInteger(ratio * width) || !Number.isInteger(ratio * height)) {
    throw invalid(`pixelRatio must be from 1 to 4 and give whole pixel sizes, got ${ratio}`, spec);
  }
  if (spec.series.length === 0) throw invalid('a chart needs at least one series', spec);
  for (const series of spec.series) {
    if (series.data.length !== spec.labels.length) {
      throw invalid(
        `series "${series.label}" has ${series.data.length} values for ${spec.labels.length} labels`,
        spec,
      );
    }
    if (series.data.some((v) => v !== null && !Number.isFinite(v))) {
      throw invalid(`series "${series.label}" contains a value that is not a finite number`, spec);
    }
  }
  if ((spec.kind === 'pie' || spec.kind === 'doughnut') && spec.series.length !== 1) {
    throw invalid(`a ${spec.kind} chart shows exactly one series, got ${spec.series.length}`, spec);
  }
  if (spec.series.length > CHART_PALETTE.length) {
    throw invalid(
      `a chart shows at most ${CHART_PALETTE.length} series, one per palette colour, got ${spec.series.length}: fold the rest into "Other"`,
      spec,
    );
  }
  for (const format of [spec.valueFormat, spec.rightAxis?.valueFormat]) {
    if (format?.style === 'currency' && !/^[A-Z]{3}$/.test(format.currency ?? '')) {
      throw invalid('a currency value format needs an ISO 4217 currency code', spec);
    }
  }
  const onRight = spec.series.filter((s) => s.axis === 'right');
  if (onRight.length > 0) {
    if (spec.kind !== 'bar' && spec.kind !== 'line') {
      throw invalid(
        `a ${spec.kind} chart has no value axes; series "${onRight[0]!.label}" asks for the right one`,
        spec,
      );
    }
    if (spec.horizontal === true) {
      throw invalid(
        'a horizontal bar chart has one value axis; no series can be read against a right one',
        spec,
      );
    }
    if (onRight.length === spec.series.length) {
      throw invalid('every series is on the right axis: put the first unit on the left', spec);
    }
  }
}

/** A formatter for chart numbers, e.g. for a caller that writes the same figures into a mail. */
export function chartNumberFormatter(
  format: ChartNumberFormat = {},
  locale = 'en-US',
): (n: number) => string {
  const style = format.style ?? 'integer';
  const options: Intl.NumberFormatOptions = { useGrouping: true };
  if (format.compact) {
    options.notation = 'compact';
    options.maximumFractionDigits = 1;
  }
  switch (style) {
    case 'integer':
      // Compact notation keeps one decimal of the abbreviated figure (1.2M), not of the integer.
      if (!format.compact) options.maximumFractionDigits = 0;
      break;
    case 'decimal':
      options.minimumFractionDigits = format.compact ? 0 : (format.decimals ?? 2);
      options.maximumFractionDigits = format.decimals ?? 2;
      break;
    case 'percent':
      options.style = 'percent';
      options.minimumFractionDigits = format.decimals ?? 0;
      options.maximumFractionDigits = format.decimals ?? 0;
      break;
    case 'currency':
      options.style = 'currency';
      options.currency = format.currency;
      options.minimumFractionDigits = format.compact ? 0 : (format.decimals ?? 0);
      options.maximumFractionDigits = format.decimals ?? 0;
      break;
  }
  const intl = new Intl.NumberFormat(locale, options);
  return (n) => intl.format(n);
}

/** Paints the background white: Chart.js leaves it transparent, which turns black in some mail clients. */
const background: Plugin = {
  id: 'redeyeBackground',
  beforeDraw(chart) {
    const { ctx } = chart;
    ctx.save();
    ctx.globalCompositeOperation = 'destination-over';
    ctx.fillStyle = BACKGROUND;
    ctx.fillRect(0, 0, chart.width, chart.height);
    ctx.restore();
  },
};

function withAlpha(hex: string, alpha: number): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) return hex;
  return `rgba(${parseInt(m[1] as string, 16)}, ${parseInt(m[2] as string, 16)}, ${parseInt(m[3] as string, 16)}, ${alpha})`;
}

/** The Chart.js configuration of a spec (exported for tests that look at the axes Chart.js builds). */
export function buildConfig(spec: ChartSpec): ChartConfiguration {
  const format = chartNumberFormatter(spec.valueFormat, spec.locale ?? 'en-US');
  const isCircular = spec.kind === 'pie' || spec.kind === 'doughnut';
  const font = { family: CHART_FONT_FAMILY, size: 12 };
  const legendPosition = spec.legend ?? (isCircular ? 'right' : 'top');
  const showLegend = legendPosition !== 'none' && (isCircular || spec.series.length > 1);

  let labels = [...spec.labels];
  let datasets: ChartDataset[];
  const twoAxes = !isCircular && spec.series.some((s) => s.axis === 'right');
  if (isCircular) {
    const slices = pieSlices(spec.labels, (spec.series[0] as ChartSeries).data);
    labels = slices.labels;
    const values = slices.values;
    const total = values.reduce<number>((sum, v) => sum + Math.abs(v ?? 0), 0);
    const share = chartNumberFormatter({ style: 'percent', decimals: 1 }, spec.locale ?? 'en-US');
    // A static image has no tooltips: the legend carries each slice's value and share.
    labels = labels.map((label, i) => {
      const v = values[i] ?? null;
      return v === null ? label : `${label}: ${format(v)} (${share(total === 0 ? 0 : Math.abs(v) / total)})`;
    });
    datasets = [
      {
        label: (spec.series[0] as ChartSeries).label,
        data: [...values],
        backgroundColor: labels.map((_, i) => CHART_PALETTE[i] as string),
        borderColor: BACKGROUND,
        borderWidth: 2,
      },
    ];
  } else {
    datasets = spec.series.map((series, i) => {
      const colour = series.colour ?? (CHART_PALETTE[i] as string);
      const axis = twoAxes ? { yAxisID: series.axis === 'right' ? RIGHT_AXIS : 'y' } : {};
      if (spec.kind === 'line') {
        return {
          ...axis,
          type: 'line' as const,
          label: series.label,
          data: [...series.data],
          borderColor: colour,
          backgroundColor: spec.stacked ? withAlpha(colour, 0.35) : colour,
          fill: spec.stacked ? (i === 0 ? 'origin' : '-1') : false,
          borderWidth: 2,
          pointRadius: spec.labels.length > 40 ? 0 : 3,
          tension: 0,
          spanGaps: false,
        };
      }
      // Stacked bars of two axes stack per axis, side by side: money heaped on points adds up to nothing.
      const stack = series.stack ?? (twoAxes && spec.stacked ? (series.axis ?? 'left') : undefined);
      return {
        ...axis,
        type: 'bar' as const,
        label: series.label,
        data: [...series.data],
        backgroundColor: colour,
        borderColor: colour,
        borderWidth: 0,
        ...(stack !== undefined ? { stack } : {}),
      };
    });
  }

  const valueAxisOf = (numberFormat: ChartNumberFormat | undefined, title: string | undefined) => {
    const write =
      numberFormat === spec.valueFormat ? format : chartNumberFormatter(numberFormat, spec.locale ?? 'en-US');
    // Points, members, counts: whole numbers, so whole steps on the axis too. Chart.js would otherwise
    // divide an axis with no data above 0 (an all-zero forecast) into tenths: 0, 0.1, … 1 points.
    const integers = (numberFormat?.style ?? 'integer') === 'integer';
    return {
      stacked: spec.stacked ?? false,
      beginAtZero: true,
      grid: { color: GRID_COLOUR },
      border: { color: GRID_COLOUR },
      ticks: {
        color: TEXT_COLOUR,
        font,
        ...(integers ? { precision: 0 } : {}),
        callback: (value: string | number) => write(Number(value)),
      },
      title: { display: title !== undefined, text: title ?? '', color: TEXT_COLOUR, font },
    };
  };
  const valueAxis = valueAxisOf(spec.valueFormat, spec.valueAxisTitle);
  // The right axis draws no grid of its own: two sets of lines across the bars would read as one scale.
  const rightAxis = twoAxes
    ? {
        [RIGHT_AXIS]: {
          ...valueAxisOf(spec.rightAxis?.valueFormat, spec.rightAxis?.title),
          position: 'right' as const,
          grid: { drawOnChartArea: false },
        },
      }
    : {};
  const categoryAxis = {
    stacked: spec.stacked ?? false,
    grid: { display: false },
    border: { color: GRID_COLOUR },
    ticks: { color: TEXT_COLOUR, font, autoSkip: true, maxRotation: 45 },
    title: {
      display: spec.categoryAxisTitle !== undefined,
      text: spec.categoryAxisTitle ?? '',
      color: TEXT_COLOUR,
      font,
    },
  };
  const horizontal = spec.kind === 'bar' && spec.horizontal === true;

  return {
    type: spec.kind,
    data: { labels, datasets },
    options: {
      animation: false,
      responsive: false,
      maintainAspectRatio: false,
      devicePixelRatio: spec.pixelRatio ?? 1,
      locale: spec.locale ?? 'en-US',
      ...(horizontal ? { indexAxis: 'y' as const } : {}),
      layout: { padding: { top: 12, right: 24, bottom: 12, left: 12 } },
      plugins: {
        title: {
          display: spec.title !== undefined,
          text: spec.title ?? '',
          color: TEXT_COLOUR,
          font: { family: CHART_FONT_FAMILY, size: 18, weight: 'bold' },
          padding: { top: 4, bottom: spec.subtitle !== undefined ? 2 : 12 },
        },
        subtitle: {
          display: spec.subtitle !== undefined,
          text: spec.subtitle ?? '',
          color: TEXT_COLOUR,
          font: { family: CHART_FONT_FAMILY, size: 13 },
          padding: { bottom: 12 },
        },
        legend: {
          display: showLegend,
          position: legendPosition === 'none' ? 'top' : legendPosition,
          labels: { color: TEXT_COLOUR, font, boxWidth: 14 },
        },
        tooltip: { enabled: false },
      },
      ...(isCircular
        ? {}
        : {
            scales: horizontal
              ? { x: valueAxis, y: categoryAxis }
              : { x: categoryAxis, y: valueAxis, ...rightAxis },
          }),
    },
    plugins: [background],
  } as ChartConfiguration;
}

/**
 * Renders a chart to PNG bytes. The same spec always gives the same bytes (no clock, no randomness,
 * bundled font), so a rerun of a night produces identical report attachments.
 */
export async function renderChart(spec: ChartSpec): Promise<Buffer> {
  ensureSetUp();
  validate(spec);
  const ratio = spec.pixelRatio ?? 1;
  const width = spec.width ?? 800;
  const height = spec.height ?? 400;
  // Created at CSS size: Chart.js reads the size from the canvas and multiplies the backing store by
  // devicePixelRatio itself.
  const canvas = createCanvas(width, height);
  const context = canvas.getContext('2d');
  // Chart.js types its item as a DOM canvas; the napi-rs context provides all BasicPlatform uses.
  const chart = new Chart(context as unknown as ChartItem, buildConfig(spec));
  try {
    // With a ratio above 1 Chart.js scales the backing store itself; it must end at the size we set.
    if (canvas.width !== width * ratio || canvas.height !== height * ratio) {
      throw new RedeyeError(
        'CHART_RENDER_FAILED',
        `chart canvas is ${canvas.width}×${canvas.height}, expected ${width * ratio}×${height * ratio}`,
      );
    }
    return await canvas.encode('png');
  } finally {
    chart.destroy();
  }
}
