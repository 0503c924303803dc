/**
 * Personal data lives only as long as the program allows. `retention` erases the personal fields of
 * members closed for longer than the configured period; `redeye member forget` does the same for one
 * member on request. Names become irreversible tokens (a keyed hash: the same name always gives the same
 * token, so duplicates can still be recognised, but nothing gives the name back); birth date, e-mail and
 * phone are removed. Member numbers and every posting stay: the books still balance. Each erasure is
 * recorded, without the erased data.
 */
import { createHmac } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { lstat, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { addMonths } from '../lib/dates.js';
import { RedeyeError } from '../lib/errors.js';
import { TEMP_SUFFIX, TEMPORARY_FILE_MAX_AGE_MS } from '../transports/names.js';
import type { Job, JobContext, JobResult } from './types.js';
import { chunks } from '../lib/chunks.js';

export const ERASED_FIELDS = [
  'surname',
  'given_name',
  'surname_local',
  'given_name_local',
  'birth_date',
  'email',
  'phone',
] as const;

/**
 * The secret that keys the tokens is missing. A random key in its place would give the same name another
 * token on every run, so erased duplicates could no longer be recognised: nothing is erased without it.
 * Like a missing SFTP secret, the deployment is incomplete: exits 2.
 */
export class TokenSecretMissingError extends RedeyeError {
  override readonly exitCode = 2;
  constructor(variable: string) {
    super(
      'SECRET_MISSING',
      `environment variable ${variable} (the secret that keys the tokens of erased names, ` +
        `retention.tokenSecretEnv) is not set: set it to the program's secret, the same for every run`,
      { variable },
    );
  }
}

/**
 * The tokeniser, keyed by the secret in the environment variable `secretEnv`: the same name always gives
 * the same token. Throws TokenSecretMissingError when the variable is unset or empty.
 */
export function tokeniser(
  env: NodeJS.ProcessEnv,
  secretEnv: string,
): (value: string | null) => string | null {
  const secret = env[secretEnv];
  if (secret === undefined || secret === '') throw new TokenSecretMissingError(secretEnv);
  return (value) =>
    value === null || value === ''
      ? null
      : `TOK-${createHmac('sha256', secret).update(value).digest('hex').slice(0, 16).toUpperCase()}`;
}

export async function eraseMember(
  trx: Knex.Transaction,
  member: {
    id: number;
    number: string;
    surname: string | null;
    given_name: string | null;
    surname_local: string | null;
    given_name_local: string | null;
  },
  token: (v: string | null) => string | null,
  reason: 'RETENTION' | 'REQUEST',
  now: string,
): Promise<void> {
  await trx('members')
    .where({ id: member.id })
    .update({
      surname: token(member.surname),
      given_name: token(member.given_name),
      surname_local: token(member.surname_local),
      given_name_local: token(member.given_name_local),
      birth_date: null,
      email: null,
      phone: null,
      erased_at: now,
    });
  // Names as travelled and the texts of rejects are the member's data too.
  await trx('activities')
    .where({ member_id: member.id })
    .update({ travel_surname: null, travel_given_name: null });
  await trx('activities')
    .where({ member_number: member.number })
    .update({ travel_surname: null, travel_given_name: null });
  await trx('rejects').where({ member_number: member.number }).update({ text: null });
  await trx('erasures').insert({
    member_number: member.number,
    reason,
    erased_at: now,
    fields: ERASED_FIELDS.join(','),
  });
}

export const retentionJob: Job = async (ctx: JobContext): Promise<JobResult> => {
  // First, so that a night that cannot erase (no token secret) still clears them.
  const temporaryFilesRemoved = await sweepTemporaryFiles(
    [ctx.config.paths.landing, ctx.config.paths.outbox, ctx.config.paths.reports],
    Date.now() - TEMPORARY_FILE_MAX_AGE_MS,
  );
  const cutoff = addMonths(ctx.businessDate, -ctx.config.retention.closedMonths);
  const due = await ctx.db
    .knex('members')
    .whereIn('status', ['CLOSED', 'MERGED'])
    .whereNotNull('closed_on')
    .andWhere('closed_on', '<=', cutoff)
    .whereNull('erased_at')
    .select('id', 'number', 'surname', 'given_name', 'surname_local', 'given_name_local');
  // The secret is needed only when there is something to erase: a night with nothing due runs without it.
  const token = due.length > 0 ? tokeniser(ctx.env, ctx.config.retention.tokenSecretEnv) : () => null;
  const now = ctx.now().toISOString();
  for (const part of chunks(due, 500)) {
    await ctx.db.transaction(async (trx) => {
      for (const m of part) await eraseMember(trx, m, token, 'RETENTION', now);
    });
  }
  return { counts: { erased: due.length, temporaryFilesRemoved } };
};

/**
 * Removes the temporary files (`*.part`) a killed write left in Redeye's own folders and that were last
 * written before `beforeMs` (wall clock). They are never registered, read or delivered, but a mailing
 * list's may hold names and addresses. Links are not followed or removed; a folder that does not exist
 * is skipped. Returns how many were removed.
 */
export async function sweepTemporaryFiles(dirs: readonly string[], beforeMs: number): Promise<number> {
  let removed = 0;
  for (const dir of new Set(dirs)) {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { recursive: true, withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    for (const entry of entries) {
      if (!entry.isFile() || !entry.name.endsWith(TEMP_SUFFIX)) continue;
      const path = join(entry.parentPath ?? entry.path, entry.name);
      try {
        if ((await lstat(path)).mtimeMs >= beforeMs) continue;
        await unlink(path);
        removed++;
      } catch (error) {
        // Finished and renamed (or swept by another run) since the folder was read.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
  }
  return removed;
}

export class ForgetRefusedError extends RedeyeError {
  constructor(number: string, why: string) {
    super('FORGET_REFUSED', `member ${number} cannot be forgotten: ${why}`, { member: number });
  }
}

/** Erasure on request, where the program allows it. */
export async function forgetMember(
  ctx: Pick<JobContext, 'db' | 'config' | 'env' | 'now'>,
  number: string,
): Promise<void> {
  if (!ctx.config.retention.forgetOnRequest)
    throw new ForgetRefusedError(
      number,
      'the program does not allow erasure on request (retention.forgetOnRequest)',
    );
  const m = await ctx.db
    .knex('members')
    .where({ number })
    .first('id', 'number', 'surname', 'given_name', 'surname_local', 'given_name_local', 'erased_at');
  if (!m) throw new RedeyeError('MEMBER_UNKNOWN', `no member ${number}`, { member: number });
  if (m.erased_at) throw new ForgetRefusedError(number, `already erased on ${m.erased_at}`);
  const token = tokeniser(ctx.env, ctx.config.retention.tokenSecretEnv);
  await ctx.db.transaction((trx) => eraseMember(trx, m, token, 'REQUEST', ctx.now().toISOString()));
}
