import { TransportError, type TransportErrorContext, type TransportKind } from './errors.js';
import { byName, statelessPattern, unsafeNameReason } from './names.js';
import type { Completeness, RemoteEntry } from './types.js';

/**
 * What every transport answers the same way from its whole listing of a folder: `list`, and the context
 * its errors carry. Which listed files are complete is decided for all transports at once, by
 * listSettled and completeAmong below.
 */
export abstract class ListingTransport {
  abstract readonly kind: TransportKind;
  abstract readonly endpoint: string;
  /** Every entry of the folder, links and odd names included, sorted by name. */
  abstract listAll(remoteDir: string): Promise<RemoteEntry[]>;

  async list(remoteDir: string, pattern: RegExp): Promise<RemoteEntry[]> {
    const matcher = statelessPattern(pattern);
    return (await this.listAll(remoteDir)).filter((entry) => matcher.test(entry.name));
  }

  protected context(folder: string, file?: string, operation?: string): TransportErrorContext {
    const context: TransportErrorContext = { transport: this.kind, endpoint: this.endpoint, folder };
    if (file !== undefined) context.file = file;
    if (operation !== undefined) context.operation = operation;
    return context;
  }
}

/** A feed's reading of a folder: the files it takes and when it takes one as complete. */
export interface CompletenessRule {
  pattern: RegExp;
  completeness: Completeness;
}

/** A folder to list, with the rules of every feed that reads it. */
export interface FolderToList {
  /** The folder's whole listing; undefined when it could not be listed (the caller has said why). */
  list(): Promise<RemoteEntry[] | undefined>;
  rules: readonly CompletenessRule[];
}

/** A folder's listings: the first, and after the wait the second, when one of its rules is `stable`. */
export interface Listings {
  first?: RemoteEntry[];
  second?: RemoteEntry[];
}

/**
 * Lists every folder once; then, if a `stable` rule matched a file, waits once — as long as the longest
 * such rule asks — and lists again every folder a `stable` rule reads. One wait for all the folders and
 * feeds of a night rather than one per feed. The
 * listings come back in the order of `folders`; `completeAmong` decides what each rule takes from them.
 * A stop request ends the listing early: the folders not reached have no listing.
 */
export async function listSettled(
  folders: readonly FolderToList[],
  sleep: (ms: number) => Promise<void>,
  options: { signal?: AbortSignal; onWait?: (seconds: number) => void } = {},
): Promise<Listings[]> {
  const { signal } = options;
  const listings: Listings[] = folders.map(() => ({}));
  for (const [i, folder] of folders.entries()) {
    if (signal?.aborted) break;
    listings[i]!.first = await folder.list();
  }
  const waitFor = Math.max(
    -1,
    ...folders.flatMap((folder, i) => folder.rules.map((rule) => stableWait(listings[i]!.first, rule) ?? -1)),
  );
  if (waitFor < 0 || signal?.aborted) return listings;
  options.onWait?.(waitFor);
  await sleep(waitFor * 1000);
  for (const [i, folder] of folders.entries()) {
    if (signal?.aborted) break;
    const stable = folder.rules.some((rule) => rule.completeness.kind === 'stable');
    if (listings[i]!.first && stable) listings[i]!.second = await folder.list();
  }
  return listings;
}

/** The seconds `rule` asks to wait before listing again: a `stable` rule that matched a file of `first`. */
function stableWait(first: RemoteEntry[] | undefined, rule: CompletenessRule): number | undefined {
  if (rule.completeness.kind !== 'stable' || first === undefined) return undefined;
  const matcher = statelessPattern(rule.pattern);
  return first.some((entry) => matcher.test(entry.name)) ? rule.completeness.seconds : undefined;
}

/**
 * The complete files among a folder's listings that `pattern` matches, by the completeness rule: every
 * match of `first` (`none`); those of `first` with a done-marker no older than themselves, markers never
 * taken (`marker`); those of `second` unchanged since `first`, sorted by name, none without a `second`
 * (`stable`). Every transport's files are decided by this one function, so the rules cannot drift apart
 * between SFTP and local folders.
 */
export function completeAmong(
  first: readonly RemoteEntry[],
  second: readonly RemoteEntry[] | undefined,
  pattern: RegExp,
  completeness: Completeness,
): RemoteEntry[] {
  const matcher = statelessPattern(pattern);
  if (completeness.kind === 'none') return first.filter((entry) => matcher.test(entry.name));
  if (completeness.kind === 'marker') return completeByMarker(first, matcher, completeness.suffix);
  if (second === undefined) return [];
  return unchangedBetween(
    first.filter((entry) => matcher.test(entry.name)),
    second.filter((entry) => matcher.test(entry.name)),
  ).sort(byName);
}

export function checkCompleteness(completeness: Completeness, context: TransportErrorContext): void {
  if (completeness.kind === 'marker') {
    if (completeness.suffix.length === 0 || unsafeNameReason(`x${completeness.suffix}`) !== undefined) {
      throw new TransportError(
        'UNSAFE_NAME',
        `marker suffix ${JSON.stringify(completeness.suffix)} must be non-empty and free of path separators`,
        context,
      );
    }
  } else if (
    completeness.kind === 'stable' &&
    !(Number.isFinite(completeness.seconds) && completeness.seconds >= 0)
  ) {
    throw new TransportError(
      'TRANSFER_FAILED',
      `stable-file wait must be a non-negative number of seconds, got ${completeness.seconds}`,
      context,
    );
  }
}

function wholeSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

/**
 * The files of a full folder listing that match `pattern` and have a marker no older than themselves,
 * each `completedAt` its marker. Markers are compared to the second because SFTP reports modification
 * times in whole seconds.
 */
function completeByMarker(all: readonly RemoteEntry[], matcher: RegExp, suffix: string): RemoteEntry[] {
  const markers = new Map<string, RemoteEntry>();
  for (const entry of all) if (entry.name.endsWith(suffix)) markers.set(entry.name, entry);
  const out: RemoteEntry[] = [];
  for (const entry of all) {
    if (entry.name.endsWith(suffix) || !matcher.test(entry.name)) continue;
    const marker = markers.get(entry.name + suffix);
    if (marker === undefined || wholeSeconds(marker.modifiedAt) < wholeSeconds(entry.modifiedAt)) continue;
    out.push(marker.modifiedAt > entry.modifiedAt ? { ...entry, completedAt: marker.modifiedAt } : entry);
  }
  return out;
}

/** The entries of `second` that were in `first` with the same type, size and modification time. */
function unchangedBetween(first: RemoteEntry[], second: RemoteEntry[]): RemoteEntry[] {
  const before = new Map(first.map((entry) => [entry.name, entry]));
  return second.filter((entry) => {
    const earlier = before.get(entry.name);
    return (
      earlier !== undefined &&
      earlier.type === entry.type &&
      earlier.size === entry.size &&
      earlier.modifiedAt.getTime() === entry.modifiedAt.getTime()
    );
  });
}
