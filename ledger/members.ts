/**
 * The member register the ledger hangs on. The member-master feed (rules) keeps it current; here are
 * the reads and writes every part of Redeye shares.
 */
import type { Knex } from 'knex';
import type { IsoDate } from '../lib/dates.js';
import { insertedId } from '../db/rows.js';

type Q = Knex | Knex.Transaction;

export type MemberStatus = 'ACTIVE' | 'INCOMPLETE' | 'SUSPENDED' | 'CLOSED' | 'MERGED';

export interface MemberFields {
  number: string;
  status: MemberStatus;
  mergedInto?: string | null;
  surname?: string | null;
  givenName?: string | null;
  surnameLocal?: string | null;
  givenNameLocal?: string | null;
  birthDate?: IsoDate | null;
  email?: string | null;
  phone?: string | null;
  country?: string | null;
  language?: string | null;
  consent?: Record<string, boolean> | null;
  enrolmentDate?: IsoDate | null;
  enrolmentChannel?: string | null;
  poolId?: number | null;
  tier: string;
  tierSince?: IsoDate | null;
  reviewDate?: IsoDate | null;
  closedOn?: IsoDate | null;
  sourceUpdatedAt?: string | null;
}

export interface Member extends Required<Omit<MemberFields, 'consent'>> {
  id: number;
  consent: Record<string, boolean> | null;
  lastActivityDate: IsoDate | null;
  erasedAt: string | null;
}

export function memberRow(m: Partial<MemberFields>): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  const map: Array<[keyof MemberFields, string]> = [
    ['number', 'number'],
    ['status', 'status'],
    ['mergedInto', 'merged_into'],
    ['surname', 'surname'],
    ['givenName', 'given_name'],
    ['surnameLocal', 'surname_local'],
    ['givenNameLocal', 'given_name_local'],
    ['birthDate', 'birth_date'],
    ['email', 'email'],
    ['phone', 'phone'],
    ['country', 'country'],
    ['language', 'language'],
    ['enrolmentDate', 'enrolment_date'],
    ['enrolmentChannel', 'enrolment_channel'],
    ['poolId', 'pool_id'],
    ['tier', 'tier'],
    ['tierSince', 'tier_since'],
    ['reviewDate', 'review_date'],
    ['closedOn', 'closed_on'],
    ['sourceUpdatedAt', 'source_updated_at'],
  ];
  for (const [key, column] of map) if (m[key] !== undefined) row[column] = m[key];
  if (m.consent !== undefined) row.consent = m.consent === null ? null : JSON.stringify(m.consent);
  return row;
}

export async function insertMember(q: Q, m: MemberFields, now: Date = new Date()): Promise<number> {
  const [row] = await q('members')
    .insert({ ...memberRow(m), created_at: now.toISOString() })
    .returning('id');
  return insertedId(row);
}

export async function updateMember(q: Q, number: string, m: Partial<MemberFields>): Promise<void> {
  const row = memberRow(m);
  if (Object.keys(row).length > 0) await q('members').where({ number }).update(row);
}

export function toMember(r: Record<string, unknown>): Member {
  return {
    id: r.id as number,
    number: r.number as string,
    status: r.status as MemberStatus,
    mergedInto: (r.merged_into as string | null) ?? null,
    surname: (r.surname as string | null) ?? null,
    givenName: (r.given_name as string | null) ?? null,
    surnameLocal: (r.surname_local as string | null) ?? null,
    givenNameLocal: (r.given_name_local as string | null) ?? null,
    birthDate: (r.birth_date as string | null) ?? null,
    email: (r.email as string | null) ?? null,
    phone: (r.phone as string | null) ?? null,
    country: (r.country as string | null) ?? null,
    language: (r.language as string | null) ?? null,
    consent: r.consent ? (JSON.parse(r.consent as string) as Record<string, boolean>) : null,
    enrolmentDate: (r.enrolment_date as string | null) ?? null,
    enrolmentChannel: (r.enrolment_channel as string | null) ?? null,
    poolId: (r.pool_id as number | null) ?? null,
    tier: r.tier as string,
    tierSince: (r.tier_since as string | null) ?? null,
    reviewDate: (r.review_date as string | null) ?? null,
    closedOn: (r.closed_on as string | null) ?? null,
    sourceUpdatedAt: (r.source_updated_at as string | null) ?? null,
    lastActivityDate: (r.last_activity_date as string | null) ?? null,
    erasedAt: (r.erased_at as string | null) ?? null,
  };
}

export async function getMember(q: Q, number: string): Promise<Member | undefined> {
  const r = await q('members').where({ number }).first();
  return r ? toMember(r as Record<string, unknown>) : undefined;
}

export async function insertPool(
  q: Q,
  code: string,
  type: 'HOUSEHOLD' | 'CORPORATE',
  now: Date = new Date(),
): Promise<number> {
  const [row] = await q('pools').insert({ code, type, created_at: now.toISOString() }).returning('id');
  return insertedId(row);
}
