/**
 * `OTA_HotelStayInfoNotifRS`, the answer to a hotel's OTA_HotelStayInfoNotifRQ (ota-hotel-stay.md): a
 * pure builder, valid against OpenTravel's OTA_HotelStayInfoNotifRS.xsd (2017B).
 *
 * - Processed document: `<Success/>`, then `<Warnings>` with one `<Warning>` per stay that was rejected
 *   (Status `Rejected`) or credited only in part because a cap applied (Status `PartiallyAccepted`).
 * - Document refused whole: `<Errors>` with one `<Error>` carrying the file-level reason.
 *
 * How the partner interface's reasons are carried in OpenTravel's attributes (OpenTravel's own `Code` is
 * its numeric ERR code list, which has no entries for loyalty reasons, so it is not used):
 *
 * | attribute   | holds                                                                          |
 * |-------------|--------------------------------------------------------------------------------|
 * | `Type`      | OpenTravel EWT code: 3 business rule (a rejected stay), 11 advisory (a cap),   |
 * |             | 12 processing exception (a refused document), 6 authorisation (unknown partner) |
 * | `ShortText` | the reason code of partner-accrual.md, e.g. `NAME_MISMATCH`, `NOT_WELL_FORMED`  |
 * | `RPH`       | the stay's `StayInfo/@SequenceNumber`, when it had one                          |
 * | `RecordID`  | the stay's `ReservationID/@ID`, when known and at most 64 characters            |
 * | text        | the reason in words                                                             |
 *
 * The root carries the request's `EchoToken` unchanged when it had one (OpenTravel: a response "MUST
 * include an echo token with an identical value"), `TimeStamp` (the response's creation time) and
 * `SequenceNmbr` (Redeye's response counter for the partner, without gaps). The other attributes of
 * OTA_PayloadStdAttributes are the response's own, none an echo the schema asks for: `Version` is this
 * message's version, not the request's.
 */
import { ExportError } from './errors.js';
import { XmlWriter } from './xml-writer.js';

export const OTA_NS = 'http://www.opentravel.org/OTA/2003/05';
export const OTA_VERSION = '1.000';

export interface HotelStayWarning {
  reasonCode: string;
  text: string;
  /** `StayInfo/@SequenceNumber`. */
  sequenceNumber?: number | null;
  reservationId?: string | null;
  /** Credited, but less than asked (a cap): advisory rather than a rejection. */
  partial?: boolean;
}

export interface HotelFileError {
  reasonCode: string;
  text: string;
}

export interface HotelStayResponse {
  /** ISO 8601 date-time with offset. */
  timeStamp: string;
  sequence: number | null;
  /** The request's `EchoToken`, echoed unchanged; none when the request had none. */
  echoToken?: string | null;
  /** Present when the whole document was refused; then there are no warnings. */
  error?: HotelFileError | null;
  warnings?: readonly HotelStayWarning[];
}

const SHORT_TEXT = /^[^\p{Cc}]{1,64}$/u;
/** OpenTravel's StringLength1to128, in characters (code points), as the parser keeps it. */
const ECHO_TOKEN = /^[\s\S]{1,128}$/u;

export function hotelResponseName(inboundName: string): string {
  const base = inboundName.replace(/^.*[\\/]/, '');
  return /\.xml$/i.test(base) ? `${base.slice(0, -4)}.resp.xml` : `${base}.resp.xml`;
}

export function buildHotelStayResponse(response: HotelStayResponse): string {
  const warnings = response.warnings ?? [];
  if (response.error && warnings.length > 0) {
    throw new ExportError(
      'INVALID_RESPONSE',
      `hotel response: a refused document (${response.error.reasonCode}) has no stay warnings, ${warnings.length} given`,
      { field: 'Warnings' },
    );
  }
  for (const code of [response.error?.reasonCode, ...warnings.map((w) => w.reasonCode)]) {
    if (code !== undefined && !SHORT_TEXT.test(code)) {
      throw new ExportError(
        'INVALID_RESPONSE',
        `hotel response: reason code ${JSON.stringify(code)} is not 1-64 characters`,
        {
          field: 'ShortText',
        },
      );
    }
  }
  const echo = response.echoToken ?? undefined;
  if (echo !== undefined && !ECHO_TOKEN.test(echo)) {
    throw new ExportError(
      'INVALID_RESPONSE',
      `hotel response: EchoToken ${JSON.stringify(echo)} is not 1-128 characters`,
      { field: 'EchoToken' },
    );
  }
  const x = new XmlWriter();
  x.open('OTA_HotelStayInfoNotifRS', [
    ['xmlns', OTA_NS],
    ['EchoToken', echo],
    ['TimeStamp', response.timeStamp],
    ['Version', OTA_VERSION],
    ['SequenceNmbr', response.sequence],
  ]);
  if (response.error) {
    x.open('Errors');
    x.leaf('Error', response.error.text, [
      ['Type', response.error.reasonCode === 'UNKNOWN_PARTNER' ? '6' : '12'],
      ['ShortText', response.error.reasonCode],
      ['Status', 'Refused'],
    ]);
    x.close();
  } else {
    x.empty('Success');
    if (warnings.length > 0) {
      x.open('Warnings');
      for (const w of warnings) {
        const seq = w.sequenceNumber;
        const rph =
          seq !== null && seq !== undefined && Number.isSafeInteger(seq) && seq >= 0 && seq <= 99_999_999;
        const id = w.reservationId;
        x.leaf('Warning', w.text, [
          ['Type', w.partial ? '11' : '3'],
          ['ShortText', w.reasonCode],
          ['Status', w.partial ? 'PartiallyAccepted' : 'Rejected'],
          ['RecordID', id && SHORT_TEXT.test(id) ? id : undefined],
          ['RPH', rph ? String(seq) : undefined],
        ]);
      }
      x.close();
    }
  }
  x.close();
  return x.toString();
}
