/**
 * FTL — the IATA Type B Frequent Traveller List from the departure control system (formats/ftl.md).
 *
 * `ftlParser` is the feed's FeedParser: one `parse()` call is one delivery, whose files may hold parts
 * of the same message. The nightly ingest job, which must carry incomplete messages over to the next
 * night, drives an `FtlAssembler` itself: seed it with the parts held last night, read the files, end
 * the delivery, and persist `result().held`. See assembler.ts for the event order and which records
 * may be credited (`held: false`).
 */
import type { FeedParser, ParseEvent, ParseInput } from '../types.js';
import { FtlAssembler } from './assembler.js';
import type { FtlParseOptions, FtlPassenger } from './model.js';

export interface FtlParser extends FeedParser<FtlPassenger> {
  feed: 'ftl';
  parse(inputs: ParseInput[], options?: FtlParseOptions): AsyncIterable<ParseEvent<FtlPassenger>>;
}

/** A parser whose options default to `defaults` (per-call options override them). */
export function createFtlParser(defaults: FtlParseOptions = {}): FtlParser {
  return {
    feed: 'ftl',
    parse(inputs: ParseInput[], options?: FtlParseOptions): AsyncIterable<ParseEvent<FtlPassenger>> {
      const assembler = new FtlAssembler({ ...defaults, ...options });
      return assembler.parse(inputs);
    },
  };
}

export const ftlParser: FtlParser = createFtlParser();

export {
  DEFAULT_FUTURE_DAYS,
  DEFAULT_HOLD_TIMEOUT_HOURS,
  DEFAULT_OWN_PROGRAMS,
  FtlAssembler,
} from './assembler.js';
export { LINE_WIDTH, resolveFlightDate, resolveStamp, splitTitle } from './grammar.js';
export type * from './model.js';
export { FTL_REJECT_REASONS, FTL_VERDICT_REASONS, type FtlRejectReason } from './reasons.js';
export { encodeFtl, writeFtlMessage, writeFtlMessages, type FtlWriteOptions } from './writer.js';
export type { FtlWriterCard, FtlWriterMessage, FtlWriterPassenger } from './writer.js';
