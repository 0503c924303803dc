/**
 * Writes alliance claims and results files in the project's interface (schemas/redeye-alliance-1.0.xsd).
 *
 * Pure and deterministic: the same file object always gives byte-identical text (fixed element order,
 * two-space indentation, LF line ends, a final LF, no time or randomness read here), so a rerun of a night
 * produces the same outbound file and a partner's duplicate check sees the same bytes.
 *
 * Input is checked with the rules the parser uses (parsers/alliance.ts), which mirror the XSD: whatever is
 * written validates and reads back unchanged. Bad input is a fault of the caller, not of a partner, so it
 * throws a RedeyeError (code INVALID_ALLIANCE_FILE) naming the field instead of writing a file a partner
 * would reject.
 *
 * The caller writes the returned string as UTF-8, under a temporary name, and renames it when complete.
 */
import { RedeyeError } from '../lib/errors.js';
import {
  ALLIANCE_NS,
  CLAIMS_ROOT,
  RESULTS_ROOT,
  claimProblem,
  claimsHeaderProblem,
  resultProblem,
  resultsHeaderProblem,
  type AllianceClaim,
  type AllianceResult,
  type ClaimsFile,
  type FieldProblem,
  type ResultsFile,
} from '../parsers/alliance.js';
import { escapeXmlText } from '../parsers/xml-common.js';

export type { AllianceClaim, AllianceResult, ClaimsFile, ResultsFile } from '../parsers/alliance.js';

const INDENT = '  ';

/** A tiny line-based builder: leaves on one line (so no white space enters text), groups indented. */
class XmlLines {
  private readonly out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  private depth = 0;

  open(name: string, attributes = ''): void {
    this.out.push(`${INDENT.repeat(this.depth)}<${name}${attributes}>`);
    this.depth++;
  }

  close(name: string): void {
    this.depth--;
    this.out.push(`${INDENT.repeat(this.depth)}</${name}>`);
  }

  leaf(name: string, value: string | number | undefined): void {
    if (value === undefined) return;
    this.out.push(`${INDENT.repeat(this.depth)}<${name}>${escapeXmlText(String(value))}</${name}>`);
  }

  toString(): string {
    return `${this.out.join('\n')}\n`;
  }
}

function invalid(where: string, problem: FieldProblem): never {
  throw new RedeyeError('INVALID_ALLIANCE_FILE', `${where}: ${problem.message}`, {
    field: problem.field,
    path: where,
  });
}

export function writeClaimsFile(file: ClaimsFile): string {
  const headerProblem = claimsHeaderProblem(file);
  if (headerProblem) invalid('header', headerProblem);
  const ids = new Set<string>();
  file.claims.forEach((claim, i) => {
    const problem = claimProblem(claim);
    if (problem) invalid(`claims[${i}]`, problem);
    if (ids.has(claim.claimId)) {
      invalid(`claims[${i}]`, {
        field: 'ClaimId',
        message: `claim id ${JSON.stringify(claim.claimId)} is used twice`,
        value: claim.claimId,
      });
    }
    ids.add(claim.claimId);
  });

  const x = new XmlLines();
  x.open(CLAIMS_ROOT, ` xmlns="${ALLIANCE_NS}"`);
  x.open('FileHeader');
  x.leaf('SenderProgram', file.sender);
  x.leaf('ReceiverProgram', file.receiver);
  x.leaf('FileSequence', file.sequence);
  x.leaf('CreatedAt', file.createdAt);
  x.close('FileHeader');
  for (const claim of file.claims) writeClaim(x, claim);
  x.open('Control');
  x.leaf('ClaimCount', file.claims.length);
  x.close('Control');
  x.close(CLAIMS_ROOT);
  return x.toString();
}

function writeClaim(x: XmlLines, claim: AllianceClaim): void {
  const { member: m, flight: f } = claim;
  x.open('Claim');
  x.leaf('ClaimId', claim.claimId);
  x.open('Member');
  x.leaf('Program', m.program);
  x.leaf('Number', m.number);
  x.leaf('Surname', m.surname);
  x.leaf('GivenName', m.givenName);
  x.close('Member');
  x.open('Flight');
  x.leaf('OperatingCarrier', f.operatingCarrier);
  x.leaf('OperatingFlightNumber', f.operatingFlightNumber);
  x.leaf('MarketingCarrier', f.marketingCarrier);
  x.leaf('MarketingFlightNumber', f.marketingFlightNumber);
  x.leaf('FlightDate', f.date);
  x.leaf('Origin', f.origin);
  x.leaf('Destination', f.destination);
  x.leaf('Cabin', f.cabin);
  x.leaf('FlownRbd', f.flownRbd);
  x.leaf('FareBasis', f.fareBasis);
  x.leaf('TicketNumber', f.ticketNumber);
  x.leaf('CouponNumber', f.couponNumber);
  x.close('Flight');
  x.close('Claim');
}

export function writeResultsFile(file: ResultsFile): string {
  const headerProblem = resultsHeaderProblem(file);
  if (headerProblem) invalid('header', headerProblem);
  const ids = new Set<string>();
  file.results.forEach((result, i) => {
    const problem = resultProblem(result);
    if (problem) invalid(`results[${i}]`, problem);
    if (ids.has(result.claimId)) {
      invalid(`results[${i}]`, {
        field: 'ClaimId',
        message: `claim id ${JSON.stringify(result.claimId)} is answered twice`,
        value: result.claimId,
      });
    }
    ids.add(result.claimId);
  });

  const x = new XmlLines();
  x.open(RESULTS_ROOT, ` xmlns="${ALLIANCE_NS}"`);
  x.open('FileHeader');
  x.leaf('SenderProgram', file.sender);
  x.leaf('ReceiverProgram', file.receiver);
  x.leaf('CreatedAt', file.createdAt);
  x.open('AnsweredFile');
  x.leaf('SenderProgram', file.answers.sender);
  x.leaf('ReceiverProgram', file.answers.receiver);
  x.leaf('FileSequence', file.answers.sequence);
  x.close('AnsweredFile');
  x.close('FileHeader');
  for (const result of file.results) writeResult(x, result);
  x.open('Control');
  x.leaf('ResultCount', file.results.length);
  x.close('Control');
  x.close(RESULTS_ROOT);
  return x.toString();
}

function writeResult(x: XmlLines, result: AllianceResult): void {
  x.open('Result');
  x.leaf('ClaimId', result.claimId);
  if (result.status === 'accepted') {
    x.open('Accepted');
    x.leaf('PointsCredited', result.pointsCredited);
    x.leaf('TierHeld', result.tierHeld);
    x.close('Accepted');
  } else {
    x.open('Rejected');
    x.leaf('ReasonCode', result.reasonCode);
    x.leaf('ReasonText', result.reasonText);
    x.close('Rejected');
  }
  x.close('Result');
}
