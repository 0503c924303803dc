/**
 * "Did you mean …?" for the configuration's messages: the keys a section knows (read from the schema
 * itself, so they never drift from it), IANA time zones, and the closest of a list of names to a typo.
 */
import type { z } from 'zod';

/** The closest candidate to `word`, when it is close enough to be the likely intent; case is ignored. */
function closest(word: string, candidates: Iterable<string>): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = distance(w, c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  // One or two edits, a third of the word at most for long names: `catchUpDay`, `softlanding`, `Moskva`.
  if (best !== undefined && bestDistance <= Math.max(2, Math.floor(w.length / 3))) return best;
  // Or the one name the word begins: `timeout` for timeoutSeconds.
  const longer = [...candidates].filter((c) => w.length >= 4 && c.toLowerCase().startsWith(w));
  return longer.length === 1 ? longer[0] : undefined;
}

/** Levenshtein distance, with a swap of two neighbours counting as one edit. */
function distance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    rows.push([i]);
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        rows[0]!.push(j);
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]!.push(d);
    }
  }
  return rows[a.length]![b.length]!;
}

/** ` (did you mean "x"?)`, or nothing. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const c = closest(word, candidates);
  return c === undefined ? '' : ` (did you mean "${c}"?)`;
}

// ------------------------------------------------------------------------------------------ time zones

/** Whether the runtime knows the IANA time zone (Intl throws a RangeError for one it does not). */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export function timeZoneProblem(name: string): string {
  const known = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  return (
    `unknown time zone "${name}": expected an IANA time zone such as Europe/Moscow or UTC` +
    didYouMean(name, known)
  );
}

// ------------------------------------------------------------------------------------------ schema keys

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
  discriminator?: string;
}

const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/**
 * The schemas a value may be checked against once wrappers (default, optional, pipe) are taken off; of a
 * discriminated union, the option the value's discriminator selects (all of them when it selects none).
 */
function unwrap(schema: z.ZodType, value?: unknown): z.ZodType[] {
  const def = defOf(schema);
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'catch':
    case 'readonly':
    case 'nonoptional':
      return def.innerType ? unwrap(def.innerType, value) : [];
    case 'pipe':
      // z.preprocess is pipe(transform, schema); .transform() is pipe(schema, transform).
      return [def.in, def.out]
        .filter((s): s is z.ZodType => s !== undefined && defOf(s).type !== 'transform')
        .flatMap((s) => unwrap(s, value));
    case 'union': {
      const options = (def.options ?? []).flatMap((s) => unwrap(s, value));
      const tag = def.discriminator;
      if (tag === undefined || typeof value !== 'object' || value === null) return options;
      const selected = options.filter((o) => {
        const d = defOf(o);
        const literal = d.shape?.[tag] ? defOf(d.shape[tag]) : undefined;
        return (literal as { values?: unknown[] } | undefined)?.values?.includes(
          (value as Record<string, unknown>)[tag],
        );
      });
      return selected.length > 0 ? selected : options;
    }
    default:
      return [schema];
  }
}

/**
 * The keys the object(s) at `path` of the schema know, or an empty list where there is no object.
 * `value` is the whole configuration as read, to tell which option of a discriminated union applies.
 */
export function knownKeys(schema: z.ZodType, path: readonly (string | number)[], value?: unknown): string[] {
  let current = unwrap(schema, value);
  let at = value;
  for (const step of path) {
    at = typeof at === 'object' && at !== null ? (at as Record<string | number, unknown>)[step] : undefined;
    current = current.flatMap((s) => {
      const def = defOf(s);
      if (def.type === 'object' && typeof step === 'string' && def.shape?.[step])
        return unwrap(def.shape[step], at);
      if (def.type === 'record' && def.valueType) return unwrap(def.valueType, at);
      if (def.type === 'array' && typeof step === 'number' && def.element) return unwrap(def.element, at);
      return [];
    });
  }
  const keys = new Set<string>();
  for (const s of current) {
    const def = defOf(s);
    if (def.type === 'object') for (const k of Object.keys(def.shape ?? {})) keys.add(k);
  }
  return [...keys];
}
