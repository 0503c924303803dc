/**
 * The one way an export reaches the outbox: `paths.outbox/<kind>/<name>`, written under a temporary
 * name and renamed when complete, recorded in the file registry (direction `out`, verdict `written`)
 * with its sha256, size, sequence, business date, partner and the inbound file it answers. The deliver
 * job takes it from there; it reads only registry rows, so a file that is not registered is never sent.
 *
 * Identity. Every export has a key (`files.export_key`, unique) derived from what it covers: its kind,
 * its partner and its business date or answered file. The first run allocates the sequence (gap-free per
 * scope, in the `sequences` table) and stamps the creation time, in the same transaction as the registry
 * row; a rollback returns the sequence number, so there are no gaps. A rerun finds the row by its key and
 * rebuilds the file with the recorded sequence and creation time, never the clock of the rerun:
 *
 * | rebuilt bytes          | file on disk           | outcome                                          |
 * |------------------------|------------------------|--------------------------------------------------|
 * | same sha256 as the row | present, same bytes    | `unchanged`: nothing touched                      |
 * | same sha256 as the row | missing or different   | `restored`: the recorded bytes are put back       |
 * | different              | row still `written`    | `replaced`: not yet delivered, so the corrected   |
 * |                        |                        | file replaces it under the same name and sequence |
 * | different              | row `delivered`        | `drifted`: the partner has the first version; it  |
 * |                        |                        | is kept and the difference is reported            |
 * | any                    | row `withdrawn`        | `reinstated`: never sent, so it is written again  |
 * |                        |                        | under its name and sequence, for delivery         |
 *
 * An export not delivered that has come to have nothing to send (every invoice of a transmission has come
 * to nothing) is withdrawn (`withdraw`): verdict `withdrawn`, with why, and its outbox copy removed, so
 * deliver, which takes only `written` rows, never sends it. The row keeps its key, name and sequence: should
 * the export have something to send again, it is reinstated as itself rather than numbered anew.
 *
 * Order of the first write, all in one transaction: the sequence, the data, the temporary file and its
 * fsync, the registry row (which claims the key: a concurrent writer of the same export waits on the
 * unique index, fails, drops its temporary file and takes the rerun path), the rename, the commit. A crash
 * before the commit leaves at most an unregistered file, which the rerun overwrites under the same name
 * because the sequence it gets is the same one.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Knex } from 'knex';
import type { Db } from '../db/connection.js';
import type { IsoDate } from '../lib/dates.js';
import { storedPath } from '../lib/paths.js';
import { changeVerdict, copyPath, recordVerdict } from '../jobs/registry.js';
import { temporaryName, unsafeNameReason } from '../transports/names.js';
import { ExportError } from './errors.js';
import { insertedId } from '../db/rows.js';

type Q = Knex | Knex.Transaction;

export const EXPORT_KINDS = [
  'partner-response',
  'hotel-response',
  'alliance-claims',
  'alliance-results',
  'invoice',
  'invoice-statement',
  'mailing',
] as const;
export type ExportKind = (typeof EXPORT_KINDS)[number];

/** The facts of an export fixed at its first write and reused by every rerun. */
export interface ExportStamp {
  /** From the export's sequence scope; null for exports identified otherwise (results files). */
  sequence: number | null;
  /** Creation time, whole seconds. */
  createdAt: Date;
  /** The same instant as written into files: `2026-11-27T01:30:00Z`. */
  timestamp: string;
}

export type ExportContent = string | Iterable<string> | AsyncIterable<string>;

export interface PreparedExport {
  content: ExportContent;
  /** Figures kept with the registry row (`files.counts`), e.g. records, accepted, rejected. */
  counts?: Record<string, number>;
  /** Runs in the creating transaction once the registry row exists (e.g. recording the claims sent). */
  afterInsert?: (trx: Knex.Transaction, fileId: number) => Promise<void>;
  /**
   * Runs whenever this content is, or becomes, the registered one: in the transaction of its first write,
   * of a replacement or of a reinstatement, and in one of its own when a rerun rebuilds the registered
   * bytes (`unchanged`, `restored`); never for content the registered file lacks (`drifted`). For facts
   * that must be those of the file as sent (the lines each invoice of a transmission carries).
   */
  keep?: (trx: Knex.Transaction, fileId: number) => Promise<void>;
}

export interface ExportSpec {
  kind: ExportKind;
  /** The identity, `exportKey(...)`. */
  key: string;
  partnerCode: string | null;
  businessDate: IsoDate;
  answersFileId?: number | null;
  sequenceScope?: string | null;
  /** File name (one path component) from the stamp. */
  name(stamp: ExportStamp): string;
  /**
   * Names to take, in order, when `name` is another export's (a partner's request sent again under a
   * name already answered). Without them such an export fails with EXPORT_NAME_TAKEN.
   */
  otherNames?(stamp: ExportStamp): readonly string[];
  /**
   * The file's data. `fileId` is null on the first write (called inside its transaction, with `q` that
   * transaction) and the registry id on a rerun, so an export can rebuild from what it recorded.
   */
  prepare(q: Q, stamp: ExportStamp, fileId: number | null): Promise<PreparedExport>;
}

export type WriteStatus = 'written' | 'unchanged' | 'restored' | 'replaced' | 'drifted' | 'reinstated';

export interface WriteOutcome {
  status: WriteStatus;
  kind: ExportKind;
  key: string;
  fileId: number;
  name: string;
  path: string;
  sequence: number | null;
  sha256: string;
  size: number;
  counts: Record<string, number>;
  /** On the first write under one of `otherNames`: the export whose file holds the export's own name. */
  nameTakenBy?: TakenName;
}

/** A name in a kind's folder, and the export registered under it. */
export interface TakenName {
  name: string;
  fileId: number;
  key: string | null;
}

/** The registry's verdict of an export withdrawn before delivery. */
export const WITHDRAWN = 'withdrawn';

/** An export not delivered yet: written for delivery, or withdrawn before it (and so still the program's). */
export const awaitingDelivery = (row: { verdict: string }) =>
  row.verdict === 'written' || row.verdict === WITHDRAWN;

export interface WithdrawOutcome {
  status: 'withdrawn' | 'unchanged';
  key: string;
  fileId: number;
  name: string;
}

export interface OutboxOptions {
  /** `paths.outbox`. */
  root: string;
  /** The clock for a first write's creation time. */
  now: () => Date;
}

/** `<kind>:<partner or ->:<what>`; the parts never contain `:` ambiguity that matters, being ours. */
export function exportKey(kind: ExportKind, partnerCode: string | null, what: string): string {
  return `${kind}:${partnerCode ?? '-'}:${what}`;
}

export function stampOf(createdAt: Date, sequence: number | null): ExportStamp {
  const whole = new Date(Math.floor(createdAt.getTime() / 1000) * 1000);
  return { sequence, createdAt: whole, timestamp: whole.toISOString().replace('.000Z', 'Z') };
}

interface FileRow {
  id: number;
  feed: string;
  name: string;
  local_path: string | null;
  sha256: string;
  size: number;
  sequence: number | null;
  verdict: string;
  created_at: string | Date;
}

export async function findExport(q: Q, key: string): Promise<FileRow | undefined> {
  return (await q('files')
    .where({ direction: 'out', export_key: key })
    .first('id', 'feed', 'name', 'local_path', 'sha256', 'size', 'sequence', 'verdict', 'created_at')) as
    FileRow | undefined;
}

/** Next value of a gap-free counter; call inside the transaction that records its use. */
export async function nextSequence(trx: Knex.Transaction, scope: string): Promise<number> {
  const result = (await trx.raw(
    'INSERT INTO sequences (scope, value) VALUES (?, 1) ON CONFLICT (scope) DO UPDATE SET value = sequences.value + 1 RETURNING value',
    [scope],
  )) as { rows?: Array<{ value: number }> } | Array<{ value: number }>;
  const rows = Array.isArray(result) ? result : (result.rows ?? []);
  const value = Number(rows[0]?.value);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new ExportError('SEQUENCE', `sequence ${scope} could not be advanced`, { scope });
  }
  return value;
}

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

export class Outbox {
  constructor(
    private readonly db: Db,
    private readonly options: OutboxOptions,
  ) {}

  folder(kind: ExportKind): string {
    return join(this.options.root, kind);
  }

  async write(spec: ExportSpec): Promise<WriteOutcome> {
    const existing = await findExport(this.db.knex, spec.key);
    if (existing) return this.rerun(spec, existing);
    try {
      return await this.db.transaction((trx) => this.create(trx, spec));
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      // Someone registered the same export meanwhile (its key is unique): ours is a rerun of theirs.
      const row = await findExport(this.db.knex, spec.key);
      if (!row) throw error;
      return this.rerun(spec, row);
    }
  }

  private async create(trx: Knex.Transaction, spec: ExportSpec): Promise<WriteOutcome> {
    const sequence = spec.sequenceScope ? await nextSequence(trx, spec.sequenceScope) : null;
    const stamp = stampOf(this.options.now(), sequence);
    const dir = this.folder(spec.kind);
    const { name, taken } = await this.freeName(trx, spec, stamp);
    const path = join(dir, name);
    const prepared = await spec.prepare(trx, stamp, null);
    await mkdir(dir, { recursive: true, mode: 0o750 });
    const temp = await writeTemporary(dir, name, prepared.content);
    try {
      const counts = prepared.counts ?? {};
      const [row] = await trx('files')
        .insert({
          direction: 'out',
          feed: spec.kind,
          name,
          size: temp.size,
          sha256: temp.sha256,
          local_path: storedPath(this.options.root, path),
          business_date: spec.businessDate,
          partner_code: spec.partnerCode,
          sequence,
          verdict: 'written',
          counts: JSON.stringify(counts),
          answers_file_id: spec.answersFileId ?? null,
          export_key: spec.key,
          created_at: stamp.createdAt.toISOString(),
        })
        .returning('id');
      const fileId = insertedId(row);
      await recordVerdict(trx, fileId, {
        at: stamp.createdAt.toISOString(),
        businessDate: spec.businessDate,
      });
      await prepared.afterInsert?.(trx, fileId);
      await prepared.keep?.(trx, fileId);
      await rename(temp.path, path);
      await syncFolder(dir);
      return {
        status: 'written',
        kind: spec.kind,
        key: spec.key,
        fileId,
        name,
        path,
        sequence,
        sha256: temp.sha256,
        size: temp.size,
        counts,
        ...(taken ? { nameTakenBy: taken } : {}),
      };
    } catch (error) {
      await unlink(temp.path).catch(() => undefined);
      throw error;
    }
  }

  /**
   * The first of the export's names that no other export holds in its kind's folder. A name registered
   * is never written over, whatever became of its copy: the file may be at the receiver's already, and
   * deliver puts every file of a partner at the root of the partner's outbox.
   */
  private async freeName(
    trx: Knex.Transaction,
    spec: ExportSpec,
    stamp: ExportStamp,
  ): Promise<{ name: string; taken?: TakenName }> {
    const names = [spec.name(stamp), ...(spec.otherNames?.(stamp) ?? [])];
    const held: TakenName[] = [];
    for (const candidate of names) {
      const name = this.checkName(spec, candidate);
      // The folder is the kind's, so its files are named by kind and name whatever form their paths were
      // stored in (absolute before they were stored relative to the outbox).
      const row = (await trx('files')
        .where({ direction: 'out', feed: spec.kind, name })
        .whereNotNull('local_path')
        .first('id', 'export_key')) as { id: number; export_key: string | null } | undefined;
      if (!row) return held.length > 0 ? { name, taken: held[0] } : { name };
      held.push({ name, fileId: Number(row.id), key: row.export_key });
    }
    const path = join(this.folder(spec.kind), held[0]!.name);
    const others = held
      .slice(1)
      .map((t) => `${t.name} is file ${t.fileId} (${t.key ?? 'no export key'})`)
      .join(', ');
    throw new ExportError(
      'EXPORT_NAME_TAKEN',
      `${spec.key}: ${path} is already registered as file ${held[0]!.fileId} (${held[0]!.key ?? 'no export key'})` +
        (others ? `, and so is each other name it may take: ${others}` : ''),
      { export: spec.key, partner: spec.partnerCode ?? undefined, file: held[0]!.name },
    );
  }

  private async rerun(spec: ExportSpec, row: FileRow): Promise<WriteOutcome> {
    const stamp = stampOf(new Date(row.created_at), row.sequence === null ? null : Number(row.sequence));
    const path = this.copyOf(row) ?? join(this.folder(spec.kind), row.name);
    // The temporary file is renamed onto `path`, so it is written beside it.
    const dir = dirname(path);
    const prepared = await spec.prepare(this.db.knex, stamp, row.id);
    await mkdir(dir, { recursive: true, mode: 0o750 });
    const temp = await writeTemporary(dir, row.name, prepared.content);
    const counts = prepared.counts ?? {};
    const outcome = (status: WriteStatus): WriteOutcome => ({
      status,
      kind: spec.kind,
      key: spec.key,
      fileId: row.id,
      name: row.name,
      path,
      sequence: stamp.sequence,
      sha256: temp.sha256,
      size: temp.size,
      counts,
    });
    try {
      /**
       * The new content in place of the undelivered one, its registry row with it; the row as it was
       * stays in its verdict history, for the reports of the nights before.
       */
      const replace = (fields: Record<string, unknown>) =>
        this.db.transaction(async (trx) => {
          await changeVerdict(
            trx,
            { id: row.id },
            { ...fields, size: temp.size, sha256: temp.sha256, counts: JSON.stringify(counts) },
            { at: this.options.now().toISOString(), businessDate: spec.businessDate },
          );
          await prepared.keep?.(trx, row.id);
          await rename(temp.path, path);
          await syncFolder(dir);
        });
      if (row.verdict === WITHDRAWN) {
        await replace({ verdict: 'written', reason: null, message: null });
        return outcome('reinstated');
      }
      if (temp.sha256 === row.sha256) {
        const keep = prepared.keep;
        if (keep) await this.db.transaction((trx) => keep(trx, row.id));
        if ((await sha256OfFile(path)) === row.sha256) {
          await unlink(temp.path);
          return outcome('unchanged');
        }
        await rename(temp.path, path);
        await syncFolder(dir);
        return outcome('restored');
      }
      if (row.verdict === 'written') {
        await replace({});
        return outcome('replaced');
      }
      await unlink(temp.path);
      return { ...outcome('drifted'), sha256: row.sha256, size: Number(row.size) };
    } catch (error) {
      await unlink(temp.path).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Withdraws the export `key` if it is registered and not delivered: `withdrawn`, `why` kept as its
   * message, its outbox copy removed. Undefined when there is nothing to withdraw (never written, or
   * delivered: what a partner has stands); `unchanged` when it was withdrawn already (a rerun).
   */
  async withdraw(key: string, why: string, businessDate: IsoDate): Promise<WithdrawOutcome | undefined> {
    const row = await findExport(this.db.knex, key);
    if (!row || !awaitingDelivery(row)) return undefined;
    // Before anything changes: a copy that is not this installation's refuses the withdrawal whole.
    const path = this.copyOf(row);
    let status: WithdrawOutcome['status'] = 'unchanged';
    if (row.verdict === 'written') {
      const taken = await this.db.transaction((trx) =>
        changeVerdict(
          trx,
          { id: row.id, verdict: 'written' },
          { verdict: WITHDRAWN, reason: 'NOTHING_TO_SEND', message: why },
          { at: this.options.now().toISOString(), businessDate },
        ),
      );
      // Delivered meanwhile: it stands, as any delivered export does.
      if (taken === 0) return undefined;
      status = 'withdrawn';
    }
    // After the commit: a crash between leaves a copy no `written` row names, which deliver never sends
    // and the rerun removes.
    if (path !== null) {
      await unlink(path).catch((error: unknown) => {
        if ((error as { code?: unknown }).code !== 'ENOENT') throw error;
      });
    }
    return { status, key, fileId: row.id, name: row.name };
  }

  /**
   * The registered content of `row` (`findExport`) as its copy in this outbox holds it: what was sent,
   * for a delivered file. Undefined when there is no copy, or it is not the registered bytes.
   */
  async registeredContent(row: FileRow): Promise<string | undefined> {
    const path = this.copyOf(row);
    if (path === null) return undefined;
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ENOENT') return undefined;
      throw error;
    }
    if (createHash('sha256').update(bytes).digest('hex') !== row.sha256) return undefined;
    return bytes.toString('utf8');
  }

  /** The row's copy in this outbox (`copyPath`): never a file of another installation's. */
  private copyOf(row: FileRow): string | null {
    return copyPath(this.options.root, { ...row, direction: 'out', localPath: row.local_path });
  }

  private checkName(spec: ExportSpec, name: string): string {
    const why = unsafeNameReason(name);
    if (why !== undefined || name.startsWith('.')) {
      throw new ExportError(
        'EXPORT_BAD_NAME',
        `${spec.key}: ${JSON.stringify(name)} cannot be a file name in the outbox: ${why ?? 'hidden names are temporary files'}`,
        { export: spec.key, partner: spec.partnerCode ?? undefined, file: name },
      );
    }
    return name;
  }
}

interface TemporaryFile {
  path: string;
  size: number;
  sha256: string;
}

const FLUSH_BYTES = 1 << 16;

/** Streams the content into a fresh hidden file in `dir`, hashing as it goes, and fsyncs it. */
async function writeTemporary(dir: string, name: string, content: ExportContent): Promise<TemporaryFile> {
  const path = join(dir, temporaryName(name));
  const handle = await open(path, 'wx', 0o640);
  const hash = createHash('sha256');
  let size = 0;
  let pending: string[] = [];
  let pendingLength = 0;
  const flush = async () => {
    if (pending.length === 0) return;
    const bytes = Buffer.from(pending.join(''), 'utf8');
    pending = [];
    pendingLength = 0;
    hash.update(bytes);
    size += bytes.length;
    await handle.write(bytes);
  };
  try {
    if (typeof content === 'string') {
      pending.push(content);
    } else {
      for await (const chunk of content as AsyncIterable<string>) {
        pending.push(chunk);
        pendingLength += chunk.length;
        if (pendingLength >= FLUSH_BYTES) await flush();
      }
    }
    await flush();
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw error;
  }
  await handle.close();
  return { path, size, sha256: hash.digest('hex') };
}

async function sha256OfFile(path: string): Promise<string | null> {
  try {
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
    return hash.digest('hex');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return null;
    throw error;
  }
}

/** A rename is durable only once the folder entry is on disk. */
async function syncFolder(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
