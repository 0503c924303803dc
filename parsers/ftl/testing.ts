/**
 * Helpers for tests that feed FTL text from memory: the ingest job's tests and the parser's own.
 */
import { Readable } from 'node:stream';
import type { ParseEvent, ParseInput, RecordEvent, RejectEvent, VerdictEvent } from '../types.js';

/**
 * A ParseInput over bytes or text held in memory. `chunkSize` cuts the bytes into chunks of that many
 * bytes, to exercise lines (and multi-byte characters) split across chunk boundaries.
 */
export function ftlInput(
  name: string,
  content: string | Uint8Array,
  receivedAt: Date | string,
  chunkSize?: number,
): ParseInput {
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content);
  return {
    name,
    receivedAt: typeof receivedAt === 'string' ? new Date(receivedAt) : receivedAt,
    size: bytes.length,
    open: () => {
      if (chunkSize === undefined || chunkSize >= bytes.length) return Readable.from([bytes]);
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; at += chunkSize) chunks.push(bytes.subarray(at, at + chunkSize));
      return Readable.from(chunks);
    },
  };
}

export interface Collected<T> {
  all: ParseEvent<T>[];
  records: RecordEvent<T>[];
  rejects: RejectEvent[];
  verdicts: VerdictEvent[];
}

/** Reads every event of a parse into lists by type, keeping their order in `all`. */
export async function collect<T>(events: AsyncIterable<ParseEvent<T>>): Promise<Collected<T>> {
  const out: Collected<T> = { all: [], records: [], rejects: [], verdicts: [] };
  for await (const ev of events) {
    out.all.push(ev);
    if (ev.type === 'record') out.records.push(ev);
    else if (ev.type === 'reject') out.rejects.push(ev);
    else out.verdicts.push(ev);
  }
  return out;
}
