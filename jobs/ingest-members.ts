/**
 * The member master feed: each row is a member's full current record. Rows are applied in `updated_at`
 * order — an older row never overwrites a newer one, whichever file it came in — and a merge moves the
 * merged account's points (with their lots and expiry dates) and live status credits to the survivor.
 */
import type { Knex } from 'knex';
import { Accounts, type StatusMetric } from '../ledger/accounts.js';
import type { Ledger } from '../ledger/ledger.js';
import { memberRow } from '../ledger/members.js';
import type { PostingInput, StatusCreditInput } from '../ledger/types.js';
import type { MemberRecord } from '../parsers/members.js';
import type { Program } from '../rules/program.js';
import type { FeedHandler, RejectRow } from './ingest-file.js';
import type { JobContext } from './types.js';

/** Consent as stored: mailing kind (or `ALL`) → given. */
function consentJson(c: MemberRecord['marketingConsent']): Record<string, boolean> | null {
  if (!c) return null;
  const out: Record<string, boolean> = { ...c.byType };
  if (c.all !== null) out.ALL = c.all;
  return out;
}

async function poolId(trx: Knex.Transaction, r: MemberRecord, now: string): Promise<number | null> {
  if (!r.groupType || !r.groupId) return null;
  const known = await trx('pools').where({ code: r.groupId }).first('id');
  if (known) return Number(known.id);
  const [row] = await trx('pools')
    .insert({ code: r.groupId, type: r.groupType, created_at: now })
    .returning('id');
  return typeof row === 'object' ? Number((row as { id: number }).id) : Number(row);
}

export function membersHandler(
  ctx: JobContext,
  program: Program,
  ledger: Ledger,
): FeedHandler<MemberRecord> & { counts(): Record<string, number> } {
  const counts: Record<string, number> = {};
  const add = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);
  return {
    feed: 'members',
    counts: () => counts,
    async records(trx, _file, batch) {
      const now = ctx.now().toISOString();
      const rejects: RejectRow[] = [];
      // Oldest first within the batch; across batches and files the stored updated_at decides.
      const rows = [...batch].sort(
        (a, b) => a.record.updatedAt.localeCompare(b.record.updatedAt) || a.line - b.line,
      );
      for (const e of rows) {
        const r = e.record;
        const current = await trx('members').where({ number: r.memberNumber }).first();
        if (current && current.source_updated_at && String(current.source_updated_at) >= r.updatedAt) {
          add('older');
          continue;
        }
        const fields = memberRow({
          number: r.memberNumber,
          status: r.status,
          mergedInto: r.mergedInto,
          surname: r.surname,
          givenName: r.givenName,
          surnameLocal: r.surnameLocal,
          givenNameLocal: r.givenNameLocal,
          birthDate: r.birthDate,
          email: r.email,
          phone: r.phone,
          country: r.country,
          language: r.language,
          consent: consentJson(r.marketingConsent),
          enrolmentDate: r.enrolmentDate,
          enrolmentChannel: r.enrolmentChannel,
          poolId: await poolId(trx, r, now),
          sourceUpdatedAt: r.updatedAt,
        });
        if ((r.status === 'CLOSED' || r.status === 'MERGED') && !current?.closed_on)
          fields.closed_on = ctx.businessDate;
        if (r.status !== 'CLOSED' && r.status !== 'MERGED') fields.closed_on = null;
        if (r.status === 'MERGED') {
          const survivor = r.mergedInto
            ? await trx('members').where({ number: r.mergedInto }).first()
            : undefined;
          if (!survivor || r.mergedInto === r.memberNumber) {
            rejects.push({
              line: e.line,
              field: 'merged_into',
              reason: 'MEMBER_UNKNOWN',
              message: `${r.memberNumber} is merged into ${r.mergedInto ?? '(none)'}, which is not a member`,
              memberNumber: r.memberNumber,
            });
            continue;
          }
        }
        if (current) {
          await trx('members').where({ id: current.id }).update(fields);
          add(current.status !== r.status ? `to${r.status}` : 'updated');
        } else {
          await trx('members').insert({
            ...fields,
            tier: program.baseTier,
            tier_since: r.enrolmentDate,
            created_at: now,
          });
          add('enrolled');
        }
        if (r.status === 'MERGED') {
          await mergeInto(trx, ctx, ledger, r.memberNumber, r.mergedInto!);
          add('merged');
        }
      }
      return rejects;
    },
  };
}

/** Moves a merged account's points (lots and their dates) and live status credits to the survivor. */
export async function mergeInto(
  trx: Knex.Transaction,
  ctx: JobContext,
  ledger: Ledger,
  from: string,
  to: string,
): Promise<void> {
  const account = await trx('accounts')
    .where({ code: Accounts.memberPoints(from) })
    .first('balance');
  const balance = Number(account?.balance ?? 0);
  const credits = await trx('status_credits as s')
    .join('members as m', 'm.id', 's.member_id')
    .where('m.number', from)
    .whereNull('s.lapsed_by')
    .groupBy('s.metric', 's.activity_date')
    .select('s.metric as metric', 's.activity_date as activityDate')
    .sum({ amount: 's.amount' })
    // The credits' order is part of the posting's content hash: in PostgreSQL's hash order a rerun of
    // the merge could differ from the first run and be refused as a conflict.
    .orderBy([{ column: 's.metric' }, { column: 's.activity_date' }]);
  const statusCredits: StatusCreditInput[] = [];
  for (const c of credits as Array<{ metric: StatusMetric; activityDate: string; amount: number | string }>) {
    const amount = Number(c.amount);
    if (amount === 0) continue;
    statusCredits.push({
      memberNumber: from,
      metric: c.metric,
      amount: -amount,
      activityDate: c.activityDate,
    });
    statusCredits.push({ memberNumber: to, metric: c.metric, amount, activityDate: c.activityDate });
  }
  // The survivor has been active whenever the merged account was: under inactivity expiry the points
  // moved to it would otherwise be judged by its own, older, last activity and could expire that night.
  const merged = await trx('members').where({ number: from }).first('last_activity_date');
  if (merged?.last_activity_date) {
    const last = String(merged.last_activity_date).slice(0, 10);
    await trx('members')
      .where({ number: to })
      .andWhere((q) => q.whereNull('last_activity_date').orWhere('last_activity_date', '<', last))
      .update({ last_activity_date: last });
  }
  if (balance === 0 && statusCredits.length === 0) return;
  // The record of a merged member can come again (the CRM re-sends it with other changes). The merge
  // was made then; what reached the closed account since (a cancelled redemption restoring its lots)
  // follows under a key of its own.
  const first = `MERGE:${from}:${to}`;
  const again = await trx('postings').where({ idempotency_key: first }).first('id');
  const posting: PostingInput = {
    key: again ? `${first}:${ctx.businessDate}` : first,
    kind: 'TRANSFER',
    businessDate: ctx.businessDate,
    channel: 'TRANSFER',
    memberNumber: to,
    carryLots: true,
    entries:
      balance > 0
        ? [
            { account: Accounts.memberPoints(from), amount: -balance },
            { account: Accounts.memberPoints(to), amount: balance },
          ]
        : [],
    statusCredits,
    sourceRef: `merge of ${from} into ${to}`,
  };
  await ledger.post([posting], { trx });
}
