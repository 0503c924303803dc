/**
 * Account identities. Every account has a stable code from which its kind, unit and rules follow,
 * so a posting can be validated (balanced per unit, lots where lots belong) before touching the database.
 */
import { BoundedCache } from '../lib/bounded-cache.js';
import { InvalidPostingError } from './errors.js';

export type AccountKind =
  | 'MEMBER_POINTS'
  | 'MEMBER_STATUS'
  | 'POOL_POINTS'
  | 'OWN_FLIGHTS'
  | 'PARTNER'
  | 'EXPIRY'
  | 'REDEMPTION'
  | 'ADJUSTMENT'
  | 'UNRECOVERED'
  | 'STATUS_ISSUED'
  | 'STATUS_LAPSED';

/** What points are redeemed for: each has its redemption account (`REDEMPTION:<type>`), in this order. */
export const SERVICE_TYPES = [
  'AWARD_TICKET',
  'UPGRADE',
  'EXCESS_BAGGAGE',
  'SEAT',
  'LOUNGE',
  'PARTNER_REWARD',
  'CHARITY',
  'OTHER',
] as const;
export type ServiceType = (typeof SERVICE_TYPES)[number];

export type StatusMetric = 'SPEND' | 'MILES' | 'SEGMENTS';
export const STATUS_METRICS: readonly StatusMetric[] = ['SPEND', 'MILES', 'SEGMENTS'];

export interface AccountDescriptor {
  code: string;
  kind: AccountKind;
  /** PTS for award points; the metric for status credits. Postings balance per unit. */
  unit: 'PTS' | StatusMetric;
  tracksLots: boolean;
  mayGoNegative: boolean;
  memberNumber?: string;
  poolCode?: string;
  partnerCode?: string;
  serviceType?: string;
}

export const Accounts = {
  memberPoints: (memberNumber: string) => `MEMBER:${memberNumber}:PTS`,
  memberStatus: (memberNumber: string, metric: StatusMetric) => `MEMBER:${memberNumber}:${metric}`,
  poolPoints: (poolCode: string) => `POOL:${poolCode}:PTS`,
  ownFlights: 'OWN_FLIGHTS',
  partner: (partnerCode: string) => `PARTNER:${partnerCode}`,
  expiry: 'EXPIRY',
  redemption: (serviceType: string) => `REDEMPTION:${serviceType}`,
  adjustment: 'ADJUSTMENT',
  /** Points a correction could not take back: the member had spent them (a ticket refunded after a redemption). */
  unrecovered: 'UNRECOVERED',
  statusIssued: (metric: StatusMetric) => `STATUS_ISSUED:${metric}`,
  statusLapsed: (metric: StatusMetric) => `STATUS_LAPSED:${metric}`,
} as const;

const SEGMENT = /^[A-Za-z0-9_.-]{1,40}$/;

/**
 * The award account of the pool a group id names, or null when no account code can carry the id (a `:`
 * would split the code, a `/` or more than 40 characters the code refuses): the members feed refuses
 * such an id, and a pool stored under one before it did holds no points, its members keeping theirs.
 */
export function poolPointsAccount(poolCode: string): string | null {
  return SEGMENT.test(poolCode) ? Accounts.poolPoints(poolCode) : null;
}

const cache = new BoundedCache<string, AccountDescriptor>(100_000);

/** Reads an account code; throws InvalidPostingError for a code that names no account. */
export function describeAccount(code: string): AccountDescriptor {
  return cache.getOrCompute(code, parse);
}

function parse(code: string): AccountDescriptor {
  const parts = code.split(':');
  const bad = () =>
    new InvalidPostingError(`not an account code: ${JSON.stringify(code)}`, { account: code });
  if (parts.some((p) => !SEGMENT.test(p))) throw bad();
  const [head, a, b] = parts;
  const system = (
    kind: AccountKind,
    unit: AccountDescriptor['unit'] = 'PTS',
    extra: Partial<AccountDescriptor> = {},
  ) => ({
    code,
    kind,
    unit,
    tracksLots: false,
    mayGoNegative: true,
    ...extra,
  });
  switch (head) {
    case 'MEMBER':
      if (parts.length !== 3 || !a || !b) throw bad();
      if (b === 'PTS')
        return {
          code,
          kind: 'MEMBER_POINTS',
          unit: 'PTS',
          tracksLots: true,
          mayGoNegative: false,
          memberNumber: a,
        };
      if (isMetric(b))
        return {
          code,
          kind: 'MEMBER_STATUS',
          unit: b,
          tracksLots: false,
          mayGoNegative: true,
          memberNumber: a,
        };
      throw bad();
    case 'POOL':
      if (parts.length !== 3 || !a || b !== 'PTS') throw bad();
      return { code, kind: 'POOL_POINTS', unit: 'PTS', tracksLots: true, mayGoNegative: false, poolCode: a };
    case 'OWN_FLIGHTS':
    case 'EXPIRY':
    case 'ADJUSTMENT':
    case 'UNRECOVERED':
      if (parts.length !== 1) throw bad();
      return system(head);
    case 'PARTNER':
      if (parts.length !== 2 || !a) throw bad();
      return system('PARTNER', 'PTS', { partnerCode: a });
    case 'REDEMPTION':
      if (parts.length !== 2 || !a) throw bad();
      return system('REDEMPTION', 'PTS', { serviceType: a });
    case 'STATUS_ISSUED':
    case 'STATUS_LAPSED':
      if (parts.length !== 2 || !a || !isMetric(a)) throw bad();
      return system(head, a);
    default:
      throw bad();
  }
}

function isMetric(s: string | undefined): s is StatusMetric {
  return s === 'SPEND' || s === 'MILES' || s === 'SEGMENTS';
}
