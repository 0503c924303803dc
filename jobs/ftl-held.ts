/**
 * What becomes of an FTL file held for its messages once a delivery is read: the night's decision
 * (jobs/ingest-ftl.ts) and the simulator's (jobs/simulate.ts) are this one function, so the two cannot
 * tell a held file's fate apart.
 */
import type { Knex } from 'knex';
import type { IsoDate } from '../lib/dates.js';
import { chunks } from '../lib/chunks.js';
import type { CompletedFtlMessage, FtlIncompleteMessage, HeldFtlPart } from '../parsers/ftl/model.js';
import { MAX_REMEMBERED } from '../parsers/ftl/assembler.js';

/** An FTL file's counts in the registry: records + rejects + held are the passengers it held. */
export type FtlFileCounts = {
  lines: number;
  records: number;
  rejects: number;
  held: number;
};

/**
 * A part held from an earlier night, as `ftl_parts` stores it, to seed tonight's assembler. It keeps the
 * id of the file it first arrived in: records released from it, its expiry and its file's settlement are
 * that file's, though tonight's file may bear the same name (`names: reused`, a file released after a
 * name conflict).
 */
export function heldSeedOf(row: { part: unknown; file_id: unknown }): HeldFtlPart {
  const seed = JSON.parse(row.part as string) as HeldFtlPart;
  return row.file_id === null ? seed : { ...seed, fileId: Number(row.file_id) };
}

/**
 * The messages earlier nights completed (`ftl_messages`), oldest first, to seed tonight's assembler: a
 * part of one sent again is then a duplicate, not a message of its own left waiting to expire.
 */
export async function completedFtlMessages(q: Knex | Knex.Transaction): Promise<CompletedFtlMessage[]> {
  // The newest the assembler keeps: older ones it would forget as it is seeded.
  const rows = (await q('ftl_messages')
    .orderBy('id', 'desc')
    .limit(MAX_REMEMBERED)
    .select('message_key', 'final_part', 'file_id', 'file_name', 'line', 'business_date')) as Array<
    Record<string, unknown>
  >;
  return rows.reverse().map((r) => ({
    message: String(r.message_key),
    finalPart: Number(r.final_part),
    file: String(r.file_name),
    line: Number(r.line),
    ...(r.file_id === null ? {} : { fileId: Number(r.file_id) }),
    completedOn: String(r.business_date),
  }));
}

/**
 * Records the messages a delivery completed. One already recorded keeps its first completion: the
 * assembler completes a message again only once it has forgotten it (beyond its memory's bound).
 */
export async function rememberCompletedFtlMessages(
  q: Knex | Knex.Transaction,
  completed: readonly CompletedFtlMessage[],
  fileIdOf: (m: CompletedFtlMessage) => number | undefined,
  businessDate: IsoDate,
): Promise<void> {
  for (const part of chunks(completed, 500)) {
    await q('ftl_messages')
      .insert(
        part.map((m) => ({
          message_key: m.message,
          final_part: m.finalPart,
          file_id: fileIdOf(m) ?? null,
          file_name: m.file,
          line: m.line,
          business_date: businessDate,
        })),
      )
      .onConflict('message_key')
      .ignore();
  }
}

/**
 * A file held from an earlier night, after tonight's delivery: of its passengers still held, `kept` were
 * released and archived, `refused` released and refused by the rules.
 */
export function heldFileCounts(before: Partial<FtlFileCounts>, kept: number, refused: number): FtlFileCounts {
  return {
    ...before,
    lines: before.lines ?? 0,
    records: (before.records ?? 0) + kept,
    rejects: (before.rejects ?? 0) + refused,
    held: Math.max(0, (before.held ?? 0) - kept - refused),
  };
}

export type HeldFileSettlement =
  | { verdict: 'held'; counts: FtlFileCounts; expiredPassengers: 0 }
  | {
      verdict: 'accepted' | 'rejected';
      reason?: 'INCOMPLETE_MESSAGE';
      message: string;
      counts: FtlFileCounts;
      /** Passengers counted held until now whose message expired: rejected tonight. */
      expiredPassengers: number;
    };

/**
 * A held file's verdict after a delivery, given its counts as the delivery leaves them (`counts`),
 * whether a part of it still waits (`stillHeld`), and the messages of it that expired incomplete.
 * Still waiting, it stays held. Otherwise the passengers still counted held are those of messages that
 * expired: rejected. A file of which nothing was kept and something expired is rejected
 * INCOMPLETE_MESSAGE; any other is accepted.
 */
export function settleHeldFile(
  counts: FtlFileCounts,
  stillHeld: boolean,
  expired: readonly string[],
): HeldFileSettlement {
  if (stillHeld) return { verdict: 'held', counts, expiredPassengers: 0 };
  const settled = { ...counts, rejects: counts.rejects + counts.held, held: 0 };
  const expiredPassengers = counts.held;
  if (expired.length > 0 && settled.records === 0)
    return {
      verdict: 'rejected',
      reason: 'INCOMPLETE_MESSAGE',
      message: `its held parts expired incomplete (${expired.join(', ')}): nothing of it is credited`,
      counts: settled,
      expiredPassengers,
    };
  return {
    verdict: 'accepted',
    message:
      expired.length > 0
        ? `its held parts completed, but for ${expired.join(', ')}, which expired incomplete`
        : 'its held parts completed',
    counts: settled,
    expiredPassengers,
  };
}

/**
 * Messages of files still held that expired on an earlier night while another message of the same file
 * waited: the file was not settled then, so the night that settles it must still name them (and reject
 * the file when nothing of it was kept). `ftl_parts` keeps the parts of an expired message. In file and
 * message order.
 */
async function expiredWhileHeld(
  q: Knex | Knex.Transaction,
): Promise<Array<{ fileId: number; name: string; message: string }>> {
  const rows = (await q('ftl_parts as p')
    .join('files as f', 'f.id', 'p.file_id')
    .where({ 'p.status': 'expired', 'f.direction': 'in', 'f.feed': 'ftl', 'f.verdict': 'held' })
    .distinct('p.file_id', 'f.name', 'p.message_key')
    .orderBy([{ column: 'p.file_id' }, { column: 'p.message_key' }])) as Array<Record<string, unknown>>;
  return rows.map((r) => ({
    fileId: Number(r.file_id),
    name: String(r.name),
    message: String(r.message_key),
  }));
}

/**
 * The messages of each file that expired incomplete, as `settleHeldFile` takes them: tonight's (the
 * delivery's), then those of still-held files that expired on an earlier night. `expiredTonight` are the
 * files with a message expired tonight. Files are keyed by `key`, given each file's name and its id in
 * the registry (a part's file may share its name with a later file: a DCS that reuses one name).
 */
export async function expiredByFile<K>(
  q: Knex | Knex.Transaction,
  tonight: readonly FtlIncompleteMessage[],
  key: (file: { name: string; id?: number }) => K | undefined,
): Promise<{ expiredIn: Map<K, string[]>; expiredTonight: Set<K> }> {
  const expiredIn = new Map<K, string[]>();
  const add = (file: K | undefined, message: string) => {
    if (file === undefined) return;
    const list = expiredIn.get(file) ?? [];
    if (!list.includes(message)) expiredIn.set(file, [...list, message]);
  };
  for (const m of tonight)
    for (const p of m.parts)
      add(key({ name: p.file, ...(p.fileId === undefined ? {} : { id: p.fileId }) }), m.message);
  const expiredTonight = new Set(expiredIn.keys());
  for (const e of await expiredWhileHeld(q)) add(key({ name: e.name, id: e.fileId }), e.message);
  return { expiredIn, expiredTonight };
}

/** The one reject an expired message files, against the file of its first part. */
export function expiredMessageReject(m: FtlIncompleteMessage) {
  const first = m.parts[0];
  return {
    file: first?.file ?? '',
    fileId: first?.fileId,
    line: first?.line ?? null,
    field: 'PART',
    reason: 'INCOMPLETE_MESSAGE' as const,
    message: m.description,
    recordRef: m.message,
  };
}
