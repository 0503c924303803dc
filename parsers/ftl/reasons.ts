/**
 * Reject reason codes of the FTL parser. A reject names the smallest unit that had to be given up:
 * a line, an element (the passenger is still read), a passenger, or a whole part.
 *
 * | code                | unit      | meaning                                                                          |
 * |---------------------|-----------|----------------------------------------------------------------------------------|
 * | OUTSIDE_MESSAGE     | lines     | text outside any message (before its envelope, after its END line)               |
 * | NOT_FTL             | message   | a Type B message whose identifier is not FTL (PNL, PFS…); also the file verdict  |
 * |                     |           | when a file holds no FTL message at all                                          |
 * | MALFORMED_HEADER    | part      | envelope or flight line unreadable (bad designator, date, board point, PART)     |
 * | MISSING_END         | part      | part cut short by the next message or the end of the file, no END line           |
 * | END_MISMATCH        | part      | `ENDPARTn` does not match the part's `PARTm`                                     |
 * | PART_TOO_LONG       | part      | a part far beyond the ~3000 characters of the format (memory guard)              |
 * | DUPLICATE_PART      | part      | the same part of the same message was already received: ignored, counted         |
 * | UNEXPECTED_PART     | part      | a part beyond the part that ended with ENDFTL, or a second final part            |
 * | MALFORMED_GROUP     | line      | destination group line unreadable, or naming the flight's board point as its     |
 * |                     |           | destination; passengers under it get NO_GROUP                                    |
 * | NO_GROUP            | passenger | a passenger with no valid destination group above it                             |
 * | MALFORMED_NAME      | passenger | name element unreadable; elements after it get NO_PASSENGER                      |
 * | NO_PASSENGER        | element   | an element with no readable passenger before it                                  |
 * | MALFORMED_REMARK    | element   | an `.R/FQTx` remark (or `.RN/` continuation) unreadable: the remark is rejected, |
 * |                     |           | the passenger is still read                                                      |
 * | MALFORMED_ELEMENT   | element   | an `.L/`, `.M/` or `.F/` element unreadable: the element is rejected             |
 * | MALFORMED_LINE      | line      | a body line of no known shape                                                    |
 * | BAD_ENCODING        | line      | bytes not valid in the configured encoding; the line is treated as malformed     |
 * | LINE_TOO_LONG       | line      | a line over 4096 characters (lines over 64 are read, and noted)                  |
 *
 * File verdict reasons: EMPTY_FILE and NOT_FTL (rejected, nothing readable), the part reason of the first
 * rejected part when no part could be used (rejected), INCOMPLETE_MESSAGE (held).
 */
export const FTL_REJECT_REASONS = {
  OUTSIDE_MESSAGE: 'text outside any FTL message',
  NOT_FTL: 'not an FTL message',
  MALFORMED_HEADER: 'message header unreadable',
  MISSING_END: 'part has no END line',
  END_MISMATCH: 'END line does not match the part number',
  PART_TOO_LONG: 'part exceeds the size limit',
  DUPLICATE_PART: 'part already received',
  UNEXPECTED_PART: 'part beyond the final part of its message',
  MALFORMED_GROUP: "destination group line unreadable, or arriving at the flight's board point",
  NO_GROUP: 'passenger without a valid destination group',
  MALFORMED_NAME: 'name element unreadable',
  NO_PASSENGER: 'element without a passenger',
  MALFORMED_REMARK: 'frequent-traveller remark unreadable',
  MALFORMED_ELEMENT: 'element unreadable',
  MALFORMED_LINE: 'line of unknown shape',
  BAD_ENCODING: 'bytes invalid in the configured encoding',
  LINE_TOO_LONG: 'line too long',
} as const;

export type FtlRejectReason = keyof typeof FTL_REJECT_REASONS;

export const FTL_VERDICT_REASONS = {
  EMPTY_FILE: 'the file holds no text',
  NOT_FTL: 'the file holds no FTL message',
  INCOMPLETE_MESSAGE: 'a message of the file waits for missing parts',
} as const;

/** Part-level reasons: the whole part is given up. */
export type FtlPartReason =
  | 'MALFORMED_HEADER'
  | 'MISSING_END'
  | 'END_MISMATCH'
  | 'PART_TOO_LONG'
  | 'DUPLICATE_PART'
  | 'UNEXPECTED_PART';
