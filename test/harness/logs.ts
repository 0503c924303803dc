/** A logger whose JSON lines a test reads: what an operator watching the log would be told. */
import { Writable } from 'node:stream';
import { createLogger } from '../../lib/log.js';

export type LogLine = { level: string; msg: string } & Record<string, unknown>;

/** A logger at `level` (pino's level names) and the lines it has written, parsed. */
export function capturedLogger(level: 'debug' | 'info' | 'warn' = 'info') {
  const lines: LogLine[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { logger: createLogger({ level, pretty: false, destination }), lines };
}
