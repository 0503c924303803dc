/** Shared helpers for benchmarks: timing, peak memory, argument parsing, printing. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function peakRssMb(): number {
  // maxRSS is in kilobytes on Linux.
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

export function rssMb(): number {
  return Math.round(process.memoryUsage().rss / (1024 * 1024));
}

/**
 * Wall time and CPU time (user + system) of this process. On a busy machine wall time also counts other
 * processes' turns; CPU time is what this code cost, so ratios are computed from both and printed.
 */
export async function timed<T>(
  fn: () => Promise<T> | T,
): Promise<{ value: T; seconds: number; cpuSeconds: number }> {
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const value = await fn();
  const used = process.cpuUsage(cpu);
  return {
    value,
    seconds: Number(process.hrtime.bigint() - start) / 1e9,
    cpuSeconds: (used.user + used.system) / 1e6,
  };
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `redeye-bench-${prefix}-`));
}

/** `--name value` and `--name=value` options; bare words are ignored. */
export function option(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === `--${name}`) return args[i + 1];
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  return undefined;
}

export function intOption(args: string[], name: string, fallback: number): number {
  const v = option(args, name);
  if (v === undefined) return fallback;
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} expects a positive whole number, got ${v}`);
  return n;
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function line(label: string, value: string): void {
  console.log(`  ${label.padEnd(34)} ${value}`);
}
