/**
 * `redeye ledger check`: proves the ledger's invariants over the whole database, with SQL that reads
 * entries, lots and movements independently of the stored balances it verifies.
 */
import type { Knex } from 'knex';
import { noProgress, type Progress } from '../jobs/types.js';
import { Accounts } from './accounts.js';

export interface CheckResult {
  name: string;
  description: string;
  checked: number;
  violations: string[];
}

export interface LedgerCheckReport {
  ok: boolean;
  checks: CheckResult[];
}

const MAX_LISTED = 50;

/** The invariants checkLedger proves: the steps of its progress bar. */
export const INVARIANTS = 9;

/**
 * Proves every invariant, one step of `progress` each: on a large ledger each is a scan of seconds, and
 * the command shows the bar on a terminal.
 */
export async function checkLedger(knex: Knex, progress: Progress = noProgress): Promise<LedgerCheckReport> {
  progress.start('invariants', INVARIANTS);
  try {
    return await proveInvariants(knex, () => progress.increment());
  } finally {
    progress.stop();
  }
}

async function proveInvariants(knex: Knex, proved: () => void): Promise<LedgerCheckReport> {
  const count = async (table: string, where?: (qb: Knex.QueryBuilder) => void) => {
    const qb = knex(table).count({ n: '*' });
    if (where) where(qb);
    const row = (await qb.first()) as { n: number | string } | undefined;
    return Number(row?.n ?? 0);
  };
  const checks: CheckResult[] = [];
  const record = (check: CheckResult) => {
    checks.push(check);
    proved();
  };

  const postings = await count('postings');
  const unbalanced = await knex.raw(`
    SELECT e.posting_id AS posting_id, p.idempotency_key AS k, a.unit AS unit, SUM(e.amount) AS total
      FROM entries e JOIN accounts a ON a.id = e.account_id
      LEFT JOIN postings p ON p.id = e.posting_id
     GROUP BY e.posting_id, p.idempotency_key, a.unit
    HAVING SUM(e.amount) <> 0`);
  const thin = await knex.raw(`
    SELECT p.id AS posting_id, p.idempotency_key AS k, COUNT(e.id) AS n
      FROM postings p LEFT JOIN entries e ON e.posting_id = p.id
     GROUP BY p.id, p.idempotency_key
    HAVING COUNT(e.id) < 2`);
  // Each listed with its key and entries: the sum alone leaves the operator to find which entry is wrong.
  const listed = rows(unbalanced).slice(0, MAX_LISTED + 1);
  const entriesOf = new Map<string, Array<{ id: unknown; code: string; amount: number }>>();
  if (listed.length > 0) {
    const ids = [...new Set(listed.map((r) => Number(r.posting_id)))];
    for (const e of (await knex('entries as e')
      .join('accounts as a', 'a.id', 'e.account_id')
      .whereIn('e.posting_id', ids)
      .orderBy(['e.posting_id', 'e.id'])
      .select('e.posting_id', 'e.id', 'a.code', 'a.unit', 'e.amount')) as Array<{
      posting_id: number | string;
      id: number | string;
      code: string;
      unit: string;
      amount: number | string;
    }>) {
      const at = `${Number(e.posting_id)}:${e.unit}`;
      entriesOf.set(at, [...(entriesOf.get(at) ?? []), { id: e.id, code: e.code, amount: Number(e.amount) }]);
    }
  }
  const signed = (n: number) => (n > 0 ? `+${n}` : `${n}`);
  record({
    name: 'postings-balance',
    description: 'every posting has at least two entries and they sum to zero in each unit',
    checked: postings,
    violations: [
      ...rows(unbalanced).map((r) => {
        const id = Number(r.posting_id);
        const entries = (entriesOf.get(`${id}:${r.unit}`) ?? [])
          .map((e) => `entry ${e.id} ${e.code} ${signed(e.amount)}`)
          .join(', ');
        return (
          `posting ${id} (${(r.k as string | null) ?? 'no posting row'}): ${r.unit} entries sum to ${r.total}` +
          (entries ? `: ${entries}` : '')
        );
      }),
      ...rows(thin).map((r) => `posting ${r.posting_id} (${r.k}) has ${r.n} entries`),
    ],
  });

  const accounts = await count('accounts');
  const drift = await knex.raw(`
    SELECT a.code AS code, a.balance AS balance, COALESCE(s.total, 0) AS total
      FROM accounts a LEFT JOIN (SELECT account_id, SUM(amount) AS total FROM entries GROUP BY account_id) s
        ON s.account_id = a.id
     WHERE a.balance <> COALESCE(s.total, 0)`);
  record({
    name: 'balances-equal-entries',
    description: 'every account balance equals the sum of its entries',
    checked: accounts,
    violations: rows(drift).map((r) => `${r.code}: balance ${r.balance}, entries sum to ${r.total}`),
  });

  const lotAccounts = await count('accounts', (qb) => qb.where('tracks_lots', true));
  const lotDrift = await knex.raw(
    `
    SELECT a.code AS code, a.balance AS balance, COALESCE(l.total, 0) AS total
      FROM accounts a LEFT JOIN (SELECT account_id, SUM(remaining) AS total FROM lots GROUP BY account_id) l
        ON l.account_id = a.id
     WHERE a.tracks_lots = ? AND a.balance <> COALESCE(l.total, 0)`,
    [true],
  );
  const badLots = await knex.raw(`
    SELECT l.id AS id, l.amount AS amount, l.remaining AS remaining, COALESCE(m.total, 0) AS moved
      FROM lots l LEFT JOIN (SELECT lot_id, SUM(amount) AS total FROM lot_movements GROUP BY lot_id) m ON m.lot_id = l.id
     WHERE l.remaining < 0 OR l.remaining > l.amount OR l.remaining <> l.amount + COALESCE(m.total, 0)`);
  record({
    name: 'lots-cover-balances',
    description:
      'the open lots of every award account sum to its balance, and each lot equals its amount plus its movements',
    checked: lotAccounts,
    violations: [
      ...rows(lotDrift).map((r) => `${r.code}: balance ${r.balance}, open lots hold ${r.total}`),
      ...rows(badLots).map(
        (r) => `lot ${r.id}: amount ${r.amount}, remaining ${r.remaining}, movements ${r.moved}`,
      ),
    ],
  });

  const negatives = await knex('accounts')
    .where('may_go_negative', false)
    .andWhere('balance', '<', 0)
    .select('code', 'balance');
  record({
    name: 'no-negative-member-balance',
    description: 'no member or pool award balance is negative',
    checked: lotAccounts,
    violations: negatives.map((r: { code: string; balance: number }) => `${r.code}: ${r.balance}`),
  });

  // Balances as they stood at the end of each business date: a back-dated debit must not have pushed
  // an earlier statement below zero even if today's balance is fine.
  const pastNegatives = await knex.raw(
    `
    SELECT code AS code, business_date AS d, running AS running FROM (
      SELECT a.code AS code, e.business_date AS business_date,
             SUM(SUM(e.amount)) OVER (PARTITION BY e.account_id ORDER BY e.business_date) AS running
        FROM entries e JOIN accounts a ON a.id = e.account_id
       WHERE a.may_go_negative = ?
       GROUP BY e.account_id, a.code, e.business_date
    ) t WHERE running < 0 ORDER BY code, business_date`,
    [false],
  );
  record({
    name: 'no-negative-member-balance-in-the-past',
    description: 'no member or pool award balance was negative at the end of any business date',
    checked: lotAccounts,
    violations: rows(pastNegatives).map((r) => `${r.code}: ${r.running} at the end of ${r.d}`),
  });

  // EXPIRY is credited what expires and gives back no more than it was credited for a lot: an expiry
  // reinstated, a credit reversed after its points expired, each takes back what expired of its own lots.
  // Below zero it paid out points nothing expired. Only the balance now: a rerun of an old night can take
  // back, dated that night, what a later night expired.
  const expiry = (await knex('accounts').where({ code: Accounts.expiry }).first('balance')) as
    { balance: number | string } | undefined;
  record({
    name: 'expiry-not-negative',
    description: 'the EXPIRY account gave back no more points than expired',
    checked: expiry === undefined ? 0 : 1,
    violations:
      expiry !== undefined && Number(expiry.balance) < 0
        ? [`${Accounts.expiry}: ${expiry.balance}: more taken back from expiry than expired`]
        : [],
  });

  const repeated = await knex.raw(`
    SELECT idempotency_key AS k, COUNT(*) AS n FROM postings GROUP BY idempotency_key HAVING COUNT(*) > 1`);
  record({
    name: 'idempotency-keys-unique',
    description: 'no idempotency key is used twice',
    checked: postings,
    violations: rows(repeated).map((r) => `${r.k} used ${r.n} times`),
  });

  const statusAccounts = await count('accounts', (qb) => qb.where('kind', 'MEMBER_STATUS'));
  const statusDrift = await knex.raw(`
    SELECT a.code AS code, a.balance AS balance, COALESCE(s.total, 0) AS total
      FROM accounts a LEFT JOIN (
        SELECT member_id, metric, SUM(amount) AS total FROM status_credits WHERE lapsed_by IS NULL GROUP BY member_id, metric
      ) s ON s.member_id = a.member_id AND s.metric = a.unit
     WHERE a.kind = 'MEMBER_STATUS' AND a.balance <> COALESCE(s.total, 0)`);
  record({
    name: 'status-credits-match',
    description: 'every member status account equals its status credits still inside the window',
    checked: statusAccounts,
    violations: rows(statusDrift).map(
      (r) => `${r.code}: balance ${r.balance}, live status credits ${r.total}`,
    ),
  });

  // Exports and reports reach a posting's activity by this id; the key is what the rules decided.
  const named = await count('activities', (qb) => qb.whereNotNull('posting_key'));
  const misnamed = await knex.raw(`
    SELECT a.activity_key AS k, a.posting_key AS pk, a.posting_id AS pid, p.id AS actual
      FROM activities a LEFT JOIN postings p ON p.idempotency_key = a.posting_key
     WHERE (a.posting_id IS NULL AND p.id IS NOT NULL)
        OR (a.posting_id IS NOT NULL AND (p.id IS NULL OR a.posting_id <> p.id))
     ORDER BY a.id`);
  record({
    name: 'activities-link-their-postings',
    description: "every activity's posting id is that of the award posting its posting key names",
    checked: named,
    violations: rows(misnamed).map((r) =>
      r.pk === null
        ? `activity ${r.k} links posting id ${r.pid} but names no posting`
        : `activity ${r.k} names posting ${r.pk} (${r.actual === null ? 'not posted' : `id ${r.actual}`}) but links ${r.pid === null ? 'none' : `id ${r.pid}`}`,
    ),
  });

  for (const c of checks) {
    if (c.violations.length > MAX_LISTED) {
      const more = c.violations.length - MAX_LISTED;
      c.violations = [...c.violations.slice(0, MAX_LISTED), `… and ${more} more`];
    }
  }
  return { ok: checks.every((c) => c.violations.length === 0), checks };
}

/** knex.raw answers differ by driver: an array on better-sqlite3, `{ rows }` on pg. */
function rows(result: unknown): Array<Record<string, unknown>> {
  if (Array.isArray(result)) return result as Array<Record<string, unknown>>;
  return ((result as { rows?: unknown[] }).rows ?? []) as Array<Record<string, unknown>>;
}
