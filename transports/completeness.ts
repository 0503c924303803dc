import { TransportError, type TransportErrorContext, type TransportKind } from './errors.js';
import { byName, statelessPattern, unsafeNameReason } from './names.js';
import type { Clock, Completeness, RemoteEntry } from './types.js';

/**
 * What every transport answers the same way from its whole listing of a folder: `list` and `ready`
 * (through readyEntries), and the context its errors carry.
 */
export abstract class ListingTransport {
  abstract readonly kind: TransportKind;
  abstract readonly endpoint: string;
  protected abstract readonly clock: Clock;
  /** Every entry of the folder, links and odd names included, sorted by name. */
  abstract listAll(remoteDir: string): Promise<RemoteEntry[]>;

  async list(remoteDir: string, pattern: RegExp): Promise<RemoteEntry[]> {
    const matcher = statelessPattern(pattern);
    return (await this.listAll(remoteDir)).filter((entry) => matcher.test(entry.name));
  }

  ready(remoteDir: string, pattern: RegExp, completeness: Completeness): Promise<RemoteEntry[]> {
    return readyEntries(
      () => this.listAll(remoteDir),
      pattern,
      completeness,
      this.clock,
      this.context(remoteDir),
    );
  }

  protected context(folder: string, file?: string, operation?: string): TransportErrorContext {
    const context: TransportErrorContext = { transport: this.kind, endpoint: this.endpoint, folder };
    if (file !== undefined) context.file = file;
    if (operation !== undefined) context.operation = operation;
    return context;
  }
}

/**
 * The complete files among `listAll()`'s entries that match `pattern`. Every transport answers `ready`
 * through this one function, so the completeness rules cannot drift apart between SFTP and local folders.
 */
export async function readyEntries(
  listAll: () => Promise<RemoteEntry[]>,
  pattern: RegExp,
  completeness: Completeness,
  clock: Clock,
  context: TransportErrorContext,
): Promise<RemoteEntry[]> {
  checkCompleteness(completeness, context);
  const matcher = statelessPattern(pattern);
  if (completeness.kind === 'none') return (await listAll()).filter((entry) => matcher.test(entry.name));
  if (completeness.kind === 'marker') return completeByMarker(await listAll(), matcher, completeness.suffix);
  const first = (await listAll()).filter((entry) => matcher.test(entry.name));
  if (first.length === 0) return [];
  await clock.sleep(completeness.seconds * 1000);
  const second = (await listAll()).filter((entry) => matcher.test(entry.name));
  return unchangedBetween(first, second).sort(byName);
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
export function completeByMarker(all: RemoteEntry[], pattern: RegExp, suffix: string): RemoteEntry[] {
  const matcher = statelessPattern(pattern);
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
export function unchangedBetween(first: RemoteEntry[], second: RemoteEntry[]): RemoteEntry[] {
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
