import type { Command } from 'commander';
import type { Knex } from 'knex';
import { Accounts } from '../../ledger/accounts.js';
import { checkLedger } from '../../ledger/check.js';
import { getMember } from '../../ledger/members.js';
import { findAccount, openLots, statement } from '../../ledger/queries.js';
import { RedeyeError } from '../../lib/errors.js';
import { forgetMember, replacedClaimsWarning } from '../../jobs/retention.js';
import type { ActionRunner, CommandContext } from '../context.js';
import { table } from '../format.js';
import { terminalProgress } from '../progress.js';

export function registerLedger(program: Command, run: ActionRunner): void {
  const ledger = program.command('ledger').description('the points ledger');
  ledger
    .command('check')
    .description('verify every ledger invariant over the whole database; exit 0 only when all hold')
    .option('--json', 'print the result as JSON')
    .action(
      run(async (ctx: CommandContext, opts: { json?: boolean }) => {
        const report = await checkLedger(ctx.db().knex, terminalProgress());
        if (opts.json) {
          ctx.output.out(JSON.stringify(report));
        } else {
          for (const c of report.checks) {
            const mark = c.violations.length === 0 ? 'ok  ' : 'FAIL';
            ctx.output.out(`${mark} ${c.description} (${c.checked} checked)`);
            for (const v of c.violations) ctx.output.out(`       ${v}`);
          }
          ctx.output.out(report.ok ? 'ledger check: all invariants hold' : 'ledger check: VIOLATIONS FOUND');
        }
        return report.ok ? 0 : 1;
      }),
    );

  const member = program.command('member').description('members: balances, lots, statements');
  member
    .command('show')
    .argument('<number>', 'member number')
    .description('balance, tier, open lots and the statement of one member')
    .option('--json', 'print as JSON')
    .action(
      run(async (ctx: CommandContext, number: string, opts: { json?: boolean }) => {
        const knex = ctx.db().knex;
        const m = await getMember(knex, number);
        const merges = await mergesWaiting(knex, number);
        if (!m) {
          // An account never enrolled, or one not enrolled yet, may be where a merge waits.
          const why = [
            merges.waits && waitsLine(merges.waits),
            ...merges.awaitedBy.map((a) => awaitedLine(number, a)),
          ].filter(Boolean);
          throw new RedeyeError(
            'MEMBER_UNKNOWN',
            `no member ${number}${why.length > 0 ? `; ${why.join('; ')}` : ''}`,
            { member: number },
          );
        }
        const code = Accounts.memberPoints(number);
        const [lots, lines] = await Promise.all([openLots(knex, code), statement(knex, code)]);
        const balance = lines.at(-1)?.balance ?? 0;
        // A pool member earns into (and may redeem from) the pool: its balance is what they can spend.
        const poolCode = m.poolId
          ? ((await knex('pools').where({ id: m.poolId }).first('code')) as { code: string } | undefined)
              ?.code
          : undefined;
        const pool = poolCode
          ? {
              code: poolCode,
              balance: Number((await findAccount(knex, Accounts.poolPoints(poolCode)))?.balance ?? 0),
              earnsInto: ctx.config.pools.earnInto === 'pool',
              redeemsFrom: ctx.config.pools.redeemFrom === 'pool',
              // What the member's own flights, partner activity and redemptions moved in the pool.
              statement: await statement(knex, Accounts.poolPoints(poolCode), { forMember: m.id }),
            }
          : null;
        if (opts.json) {
          ctx.output.out(
            JSON.stringify({
              member: { number: m.number, status: m.status, tier: m.tier, tierSince: m.tierSince },
              balance,
              mergeWaiting: merges.waits ?? null,
              awaitedBy: merges.awaitedBy,
              pool,
              lots,
              statement: lines,
            }),
          );
          return;
        }
        ctx.output.out(
          `member ${m.number}  ${m.status}  tier ${m.tier}${m.tierSince ? ` since ${m.tierSince}` : ''}`,
        );
        ctx.output.out(`balance ${balance.toLocaleString('en-US')} points`);
        if (merges.waits) ctx.output.out(waitsLine(merges.waits));
        for (const a of merges.awaitedBy) ctx.output.out(awaitedLine(number, a));
        if (pool) {
          const uses = [pool.earnsInto ? 'earns into' : '', pool.redeemsFrom ? 'redeems from' : '']
            .filter(Boolean)
            .join(' and ');
          ctx.output.out(
            `pool ${pool.code}: ${pool.balance.toLocaleString('en-US')} points${uses ? ` (the member ${uses} it)` : ''}`,
          );
        }
        ctx.output.out('');
        ctx.output.out('open lots (consumed in this order)');
        ctx.output.out(
          table(
            ['earned', 'expires', 'amount', 'remaining'],
            lots.map((l) => [l.earnedOn, l.expiresOn ?? 'never', l.amount, l.remaining]),
          ),
        );
        const statementTable = (rows: typeof lines, balance: string) =>
          table(
            ['date', 'kind', 'channel', 'reference', 'amount', balance],
            rows.map((l) => [
              l.businessDate,
              l.kind,
              l.channel ?? '',
              l.sourceRef ?? '',
              l.amount,
              l.balance,
            ]),
          );
        ctx.output.out('');
        ctx.output.out('statement');
        ctx.output.out(statementTable(lines, 'balance'));
        if (pool) {
          ctx.output.out('');
          ctx.output.out(`in pool ${pool.code}: the member's own postings`);
          ctx.output.out(statementTable(pool.statement, 'pool balance'));
        }
      }),
    );
  member
    .command('forget')
    .argument('<number>', 'member number')
    .description(
      "erase a member's personal data on request (where the program allows it); balances and history stay",
    )
    .action(
      run(async (ctx: CommandContext, number: string) => {
        const done = await forgetMember(
          { db: ctx.db(), config: ctx.config, env: ctx.env, now: ctx.now },
          number,
        );
        const before = done.erasedBefore ? ` (erased before on ${done.erasedBefore}: erased again)` : '';
        ctx.output.out(
          done.member
            ? `member ${number}: personal data erased${before}; member number and postings kept; erasure recorded`
            : `${number} (not a member; its merge waits for its survivor): personal data in the waiting record erased${before}; the merge stays; erasure recorded`,
        );
        if (done.replaced.length > 0)
          ctx.output.out(`warning: ${replacedClaimsWarning('the member', done.replaced)}`);
      }),
    );
}

/** A merge of the member waiting for its survivor, or of another member waiting for it: where it was read. */
interface WaitingMerge {
  member: string;
  into: string;
  /** The night it began waiting. */
  since: string;
  file: string;
  line: number;
}

/** The merge of `number` waiting for its survivor, and the merges waiting for `number` as their survivor. */
async function mergesWaiting(
  knex: Knex,
  number: string,
): Promise<{ waits?: WaitingMerge; awaitedBy: WaitingMerge[] }> {
  const rows = (await knex('member_merges_waiting as w')
    .join('files as f', 'f.id', 'w.file_id')
    .where('w.member_number', number)
    .orWhere('w.merged_into', number)
    .orderBy([{ column: 'w.source_updated_at' }, { column: 'w.id' }])
    .select(
      'w.member_number as member',
      'w.merged_into as into',
      'w.business_date as since',
      'f.name as file',
      'w.line as line',
    )) as Array<{ member: string; into: string; since: string; file: string; line: number | string }>;
  const merges = rows.map((r) => ({
    ...r,
    since: String(r.since).slice(0, 10),
    line: Number(r.line),
  }));
  return {
    waits: merges.find((w) => w.member === number),
    awaitedBy: merges.filter((w) => w.into === number),
  };
}

const waitsLine = (w: WaitingMerge) =>
  `merge into ${w.into} waits for ${w.into}'s record since ${w.since} (${w.file} line ${w.line}): the points stay here until it lands`;

const awaitedLine = (number: string, w: WaitingMerge) =>
  `awaited as the survivor of ${w.member}: its merge into ${number} waits since ${w.since} (${w.file} line ${w.line})`;
