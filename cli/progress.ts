/**
 * Progress bars on a terminal (cli-progress, on stderr so stdout stays clean); nothing otherwise —
 * non-interactive runs log JSON lines instead.
 */
import cliProgress from 'cli-progress';
import { noProgress, type Progress } from '../jobs/types.js';

export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return noProgress;
  let bar: cliProgress.SingleBar | undefined;
  return {
    start(label, total) {
      bar?.stop();
      bar = new cliProgress.SingleBar(
        {
          stream,
          format: `${label.padEnd(10)} {bar} {percentage}% | {value}/{total} | {duration_formatted}`,
          hideCursor: true,
          clearOnComplete: false,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(Math.max(total, 1), 0);
    },
    increment(by = 1) {
      if (!bar) return;
      // Totals that are estimates (bytes as records) grow rather than overflow the bar.
      const b = bar as unknown as { value: number; total: number };
      if (b.value + by > b.total) bar.setTotal(b.value + by);
      bar.increment(by);
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
