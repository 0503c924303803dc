/**
 * The rule simulator: applies the rules to a file and says, per record, what would be posted (rule,
 * version, points, status credits) or why it would be rejected — without writing anything. It reads the
 * database for what the rules depend on (members, earlier activities, rates, caps used) and keeps the
 * effect of earlier records of the same files in memory, exactly as one ingest and accrue would.
 */
import type { Knex } from 'knex';
import type { LoadedConfig } from '../config/load.js';
import type { IsoDate } from '../lib/dates.js';
import { UsageError } from '../lib/errors.js';
import { getParser } from '../parsers/index.js';
import { parsePartnerFileName, type PartnerActivity } from '../parsers/partner.js';
import type { FlownCoupon } from '../parsers/flown.js';
import type { FtlPassenger } from '../parsers/ftl/model.js';
import type { HotelStay } from '../parsers/hotel.js';
import type { AllianceClaim } from '../parsers/alliance.js';
import type { Redemption } from '../parsers/redemptions.js';
import type { FeedName, ParseInput, ParseOptions, RecordEvent, RejectEvent } from '../parsers/types.js';
import { decide } from '../rules/accrual.js';
import {
  allianceClaimDraft,
  couponDraft,
  ftlDraft,
  hotelDraft,
  partnerDraft,
  redemptionDraft,
  type ActivityRow,
  type Draft,
} from '../rules/activity.js';
import { Program } from '../rules/program.js';
import { fromDb } from './activities.js';
import { contextFor, loadFxTable, PeriodPoints, remember, type AccrueState } from './accrue.js';
import { minorOf } from './ingest-feeds.js';
import { isReversal } from '../ledger/types.js';

export const SIMULATED_FEEDS: FeedName[] = [
  'ftl',
  'flown',
  'partner',
  'hotel',
  'alliance-claims',
  'redemptions',
];

export interface SimulatedPosting {
  key: string;
  kind: string;
  reverses?: string;
  entries?: Array<{ account: string; amount: number; expiresOn?: string | null }>;
  statusCredits?: Array<{ metric: string; amount: number; activityDate: string }>;
  ruleVersion?: string;
  detail?: unknown;
}

export type SimulationEvent =
  | {
      type: 'record';
      file: string;
      line: number;
      activity: string;
      status: string;
      reason: string | null;
      points: number;
      postings: SimulatedPosting[];
      message?: string;
    }
  | {
      type: 'reject';
      file: string;
      line: number;
      field: string;
      reason: string;
      message: string;
      text?: string;
    }
  | {
      type: 'summary';
      records: number;
      posted: number;
      rejected: number;
      notCredited: number;
      points: number;
      statusCredits: number;
      byReason: Record<string, number>;
      files: Array<{ file: string; verdict: string; reason?: string }>;
    };

function draftFor(
  feed: FeedName,
  record: unknown,
  file: string,
  program: Program,
  date: IsoDate,
): Draft | undefined {
  switch (feed) {
    case 'ftl': {
      const p = record as FtlPassenger;
      return p.held ? undefined : ftlDraft(p, program, date);
    }
    case 'flown':
      return couponDraft(record as FlownCoupon, program, date, minorOf);
    case 'partner': {
      const name = parsePartnerFileName(file);
      if (!name || !program.partner(name.partnerCode))
        return {
          ok: false,
          rejection: { reason: 'NO_CONTRACT', field: 'file', message: `no partner for file ${file}` },
        };
      return partnerDraft(record as PartnerActivity, name.partnerCode, date, minorOf);
    }
    case 'hotel': {
      const stay = record as HotelStay;
      if (!stay.own) return undefined;
      const partner = program.partnerForHotelChain(stay.chainCode, stay.brandCode);
      return partner
        ? hotelDraft(stay, partner.code, date)
        : {
            ok: false,
            rejection: {
              reason: 'NO_CONTRACT',
              field: 'ChainCode',
              message: `no hotel partner for chain ${stay.chainCode}`,
            },
          };
    }
    case 'alliance-claims': {
      const c = record as AllianceClaim;
      const partner = program.partnerForProgram(c.flight.operatingCarrier);
      return partner
        ? allianceClaimDraft(c, partner.program ?? partner.code, partner.code, date)
        : {
            ok: false,
            rejection: {
              reason: 'NO_CONTRACT',
              field: 'OperatingCarrier',
              message: `no partner airline ${c.flight.operatingCarrier}`,
            },
          };
    }
    case 'redemptions':
      return redemptionDraft(record as Redemption, date);
    default:
      return undefined;
  }
}

/** What the archive already knows about this activity, merged as ingest would merge it. */
async function withArchive(
  knex: Knex,
  draft: ActivityRow,
  seen: Map<string, ActivityRow>,
): Promise<ActivityRow | 'duplicate'> {
  const known =
    seen.get(draft.activityKey) ??
    (await knex('activities')
      .where({ activity_key: draft.activityKey })
      .first()
      .then((r) => (r ? fromDb(r) : undefined)));
  if (!known) return draft;
  if (draft.type !== 'FLIGHT') return 'duplicate';
  if (
    (draft.seenFtl && known.seenFtl) ||
    (draft.seenCoupon && known.seenCoupon && draft.couponStatus === known.couponStatus)
  )
    return 'duplicate';
  return draft.seenCoupon
    ? {
        ...known,
        seenCoupon: true,
        ticketNumber: draft.ticketNumber,
        couponNumber: draft.couponNumber,
        couponStatus: draft.couponStatus,
        bookedClass: draft.bookedClass ?? known.bookedClass,
        fareMinor: draft.fareMinor,
        surchargeMinor: draft.surchargeMinor,
        taxMinor: draft.taxMinor,
        spendMinor: draft.spendMinor,
        spendCurrency: draft.spendCurrency,
      }
    : { ...known, seenFtl: true };
}

export async function* simulate(
  knex: Knex,
  config: LoadedConfig,
  feed: FeedName,
  inputs: ParseInput[],
  businessDate: IsoDate,
  options: ParseOptions = {},
): AsyncGenerator<SimulationEvent> {
  if (!SIMULATED_FEEDS.includes(feed)) {
    throw new UsageError(
      `simulate reads activity feeds (${SIMULATED_FEEDS.join(', ')}); ${feed} changes no points`,
    );
  }
  const program = new Program(config);
  const state: AccrueState = { program, fx: await loadFxTable(knex), periods: new PeriodPoints(() => knex) };
  const parser = getParser(feed);
  const parseOptions = {
    ...options,
    ownPrograms: [program.code],
    timeZone: config.program.timeZone,
  } as ParseOptions;
  const summary = {
    type: 'summary' as const,
    records: 0,
    posted: 0,
    rejected: 0,
    notCredited: 0,
    points: 0,
    statusCredits: 0,
    byReason: {} as Record<string, number>,
    files: [] as Array<{ file: string; verdict: string; reason?: string }>,
  };
  const seen = new Map<string, ActivityRow>();
  const count = (reason: string) => (summary.byReason[reason] = (summary.byReason[reason] ?? 0) + 1);
  for await (const event of parser.parse(inputs, parseOptions)) {
    if (event.type === 'verdict') {
      summary.files.push({
        file: event.file,
        verdict: event.verdict,
        ...(event.reason ? { reason: event.reason } : {}),
      });
      continue;
    }
    if (event.type === 'reject') {
      const r = event as RejectEvent;
      summary.rejected++;
      count(r.reason);
      yield {
        type: 'reject',
        file: r.file,
        line: r.line,
        field: r.field,
        reason: r.reason,
        message: r.message,
        text: r.text,
      };
      continue;
    }
    const e = event as RecordEvent<unknown>;
    const draft = draftFor(feed, e.record, e.file, program, businessDate);
    if (!draft) continue;
    summary.records++;
    if (!draft.ok) {
      summary.rejected++;
      count(draft.rejection.reason);
      yield {
        type: 'reject',
        file: e.file,
        line: e.line,
        field: draft.rejection.field,
        reason: draft.rejection.reason,
        message: draft.rejection.message,
      };
      continue;
    }
    const row = await withArchive(knex, draft.activity, seen);
    if (row === 'duplicate') {
      summary.rejected++;
      count('DUPLICATE');
      yield {
        type: 'record',
        file: e.file,
        line: e.line,
        activity: draft.activity.activityKey,
        status: 'REJECTED',
        reason: 'DUPLICATE',
        points: 0,
        postings: [],
        message: 'already read',
      };
      continue;
    }
    seen.set(row.activityKey, row);
    if (row.status === 'NOT_CREDITED') {
      summary.notCredited++;
      yield {
        type: 'record',
        file: e.file,
        line: e.line,
        activity: row.activityKey,
        status: 'NOT_CREDITED',
        reason: row.reason,
        points: 0,
        postings: [],
        message: row.partnerCode ? `exported to ${row.partnerCode}` : 'no card of this program',
      };
      continue;
    }
    const ctx = await contextFor(knex, state, businessDate, [row]);
    const decision = decide(ctx, row);
    remember(state, row, decision);
    Object.assign(row, decision.update);
    const points = decision.update.points ?? 0;
    if (decision.update.status === 'REJECTED') {
      summary.rejected++;
      count(decision.update.reason ?? 'REJECTED');
    } else if (decision.postings.length > 0) {
      summary.posted++;
      summary.points += points;
      summary.statusCredits += decision.statusCredit?.amount ?? 0;
    }
    yield {
      type: 'record',
      file: e.file,
      line: e.line,
      activity: row.activityKey,
      status: decision.update.status ?? row.status,
      reason: decision.update.reason ?? null,
      points,
      message: decision.rejection?.message,
      postings: decision.postings.map((p) =>
        isReversal(p.request)
          ? { key: p.request.key, kind: 'REVERSAL', reverses: p.request.reverses }
          : {
              key: p.request.key,
              kind: p.request.kind,
              entries: p.request.entries.map((x) => ({
                account: x.account,
                amount: x.amount,
                ...(x.expiresOn !== undefined ? { expiresOn: x.expiresOn } : {}),
              })),
              statusCredits: (p.request.statusCredits ?? []).map((s) => ({
                metric: s.metric,
                amount: s.amount,
                activityDate: s.activityDate,
              })),
              ruleVersion: p.request.ruleVersion,
              detail: p.request.detail,
            },
      ),
    };
  }
  yield summary;
}
