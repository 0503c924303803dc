/**
 * Redemptions from the award and ancillary systems (formats/redemptions.md): a header row naming the
 * columns in any order, one redemption or cancellation per row. The separator is `,` unless the header
 * row shows `;` (or ParseOptions.delimiter says otherwise).
 *
 * reference and partner_code may be left out of the header; partner_code is required on a
 * PARTNER_REWARD row, since that partner bills the program for it.
 */
import {
  HeaderedCsvHandler,
  IDENTIFIER_RE,
  csvFeedParser,
  type ColumnSpec,
  type FieldReader,
  type SourceLine,
} from './csv-common.js';
import { MAX_INTEGER_COLUMN, type FeedParser } from './types.js';
import { SERVICE_TYPES, type ServiceType } from '../ledger/accounts.js';

/** ISSUED debits the points; CANCELLED gives back those of an earlier redemption_id. */
export type RedemptionStatus = 'ISSUED' | 'CANCELLED';

export interface Redemption extends SourceLine {
  redemptionId: string;
  memberNumber: string;
  redemptionDate: string;
  serviceType: ServiceType;
  /** Always positive; the status says which way the points go. */
  points: number;
  reference: string | null;
  partnerCode: string | null;
  status: RedemptionStatus;
}

export const REDEMPTION_COLUMNS: readonly ColumnSpec[] = [
  { name: 'redemption_id', required: true },
  { name: 'member_number', required: true },
  { name: 'redemption_date', required: true },
  { name: 'service_type', required: true },
  { name: 'points', required: true },
  { name: 'reference', required: false },
  { name: 'partner_code', required: false },
  { name: 'status', required: true },
];
const ID = 0;
const MEMBER = 1;
const DATE = 2;
const SERVICE = 3;
const POINTS = 4;
const REFERENCE = 5;
const PARTNER = 6;
const STATUS = 7;

const SERVICES: ReadonlySet<ServiceType> = new Set(SERVICE_TYPES);
const STATUSES: ReadonlySet<RedemptionStatus> = new Set(['ISSUED', 'CANCELLED']);
const POINTS_RE = /^\d{1,15}$/;
/**
 * What a cancellation's key adds to its redemption's (`RDM:<id>` / `RDM:<id>:CANCEL`, rules/activity.ts):
 * a redemption_id ending in it would take the key, and the postings, of another id's cancellation. Such
 * an id is refused, never given another key: postings stored under the keys keep them for good.
 */
const CANCELLATION_SUFFIX = ':CANCEL';
const PARTNER_CODE_RE = /^[A-Za-z0-9-]{1,16}$/;

class RedemptionsHandler extends HeaderedCsvHandler<Redemption> {
  constructor(file: string) {
    super(file, REDEMPTION_COLUMNS);
  }

  protected build(r: FieldReader, line: number): Redemption {
    const serviceType = r.oneOf(SERVICE, SERVICES);
    const partnerCode = r.optMatch(PARTNER, PARTNER_CODE_RE, 'a partner code of 1-16 letters, digits or -');
    if (serviceType === 'PARTNER_REWARD' && partnerCode === null) {
      r.fail(PARTNER, 'MISSING_FIELD', 'the partner that delivered a PARTNER_REWARD', '');
    }
    const pointsText = r.raw(POINTS);
    let points = 0;
    // The archive keeps the points in an integer column, signed (a redemption is stored negative).
    const expected = `a positive whole number of points up to ${MAX_INTEGER_COLUMN}`;
    if (pointsText === '') r.fail(POINTS, 'MISSING_FIELD', expected, '');
    else if (
      !POINTS_RE.test(pointsText) ||
      (points = Number(pointsText)) === 0 ||
      points > MAX_INTEGER_COLUMN
    ) {
      r.fail(POINTS, 'BAD_POINTS', expected, pointsText);
    }
    const redemptionId = r.match(ID, IDENTIFIER_RE, 'an id of letters, digits and _ . / : -');
    if (redemptionId.endsWith(CANCELLATION_SUFFIX))
      r.fail(
        ID,
        'BAD_FORMAT',
        `an id not ending in ${CANCELLATION_SUFFIX}, which would give it the key of the cancellation of ` +
          `${redemptionId.slice(0, -CANCELLATION_SUFFIX.length)}`,
        redemptionId,
      );
    return {
      redemptionId,
      memberNumber: r.member(MEMBER),
      redemptionDate: r.date(DATE),
      serviceType,
      points,
      reference: r.optText(REFERENCE),
      partnerCode,
      status: r.oneOf(STATUS, STATUSES, 'BAD_STATUS'),
      sourceFile: this.file,
      sourceLine: line,
    };
  }
}

export const redemptionsParser: FeedParser<Redemption> = csvFeedParser(
  'redemptions',
  (file) => new RedemptionsHandler(file),
);
