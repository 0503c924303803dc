/**
 * The completeness rules as fetch and `ready` both apply them (completeAmong), for any pair of listings:
 * a file still being written is never taken as complete, a done-marker is never taken as a file, and
 * `none` takes what it matches. And the one wait between the listings (listSettled).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { completeAmong, listSettled } from './completeness.js';
import type { Completeness, RemoteEntry } from './types.js';

// A marker's own marker too: a marker is never taken as a file, even one that looks complete.
const NAMES = [
  'a.csv',
  'a.csv.done',
  'a.csv.done.done',
  'b.csv',
  'b.csv.done',
  'c.txt',
  'c.txt.done',
  'd.csv',
];
const PATTERN = /\.csv/;

const entry = (name: string): fc.Arbitrary<RemoteEntry> =>
  fc.record({
    name: fc.constant(name),
    size: fc.nat(3),
    // Milliseconds too: a local folder reports them, and a marker is compared to the whole second.
    modifiedAt: fc.integer({ min: 0, max: 4000 }).map((ms) => new Date(1_780_000_000_000 + ms)),
    type: fc.constantFrom('file' as const, 'symlink' as const),
  });

/** A folder's listing: some of the names, each once, sorted by name as listAll gives them. */
const listing: fc.Arbitrary<RemoteEntry[]> = fc
  .subarray(NAMES)
  .chain((names) => fc.tuple(...names.map(entry)))
  .map((entries) => [...entries]);

/** A second listing of the same folder: each entry kept, changed, or gone, and new ones. */
const secondOf = (first: RemoteEntry[]): fc.Arbitrary<RemoteEntry[]> =>
  fc
    .tuple(
      fc.tuple(
        ...first.map((e) =>
          fc.oneof(
            fc.constant<RemoteEntry | undefined>({ ...e, modifiedAt: new Date(e.modifiedAt) }),
            fc.constant<RemoteEntry | undefined>({ ...e, size: e.size + 1 }),
            fc.constant<RemoteEntry | undefined>({ ...e, modifiedAt: new Date(e.modifiedAt.getTime() + 1) }),
            fc.constant<RemoteEntry | undefined>(undefined),
          ),
        ),
      ),
      listing,
    )
    .map(([kept, fresh]) => {
      const byName = new Map(fresh.map((e) => [e.name, e]));
      for (const e of kept) if (e) byName.set(e.name, e);
      return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
    });

const twoListings = listing.chain((first) => secondOf(first).map((second) => ({ first, second })));

const sameState = (a: RemoteEntry, b: RemoteEntry) =>
  a.type === b.type && a.size === b.size && a.modifiedAt.getTime() === b.modifiedAt.getTime();

describe('completeAmong', () => {
  const stable: Completeness = { kind: 'stable', seconds: 30 };

  it('under stable, takes exactly the matching files the same in both listings, sorted by name', () => {
    fc.assert(
      fc.property(twoListings, ({ first, second }) => {
        const ready = completeAmong(first, second, PATTERN, stable);
        const expected = second.filter((e) => {
          const before = first.find((f) => f.name === e.name);
          return PATTERN.test(e.name) && before !== undefined && sameState(before, e);
        });
        expect(ready.map((e) => e.name)).toEqual(expected.map((e) => e.name).sort());
        // Never a file whose size or time moved between the listings, nor one absent from the first.
        for (const e of ready) {
          const before = first.find((f) => f.name === e.name);
          expect(before && sameState(before, e)).toBe(true);
        }
      }),
    );
  });

  it('under stable, takes nothing without a second listing', () => {
    fc.assert(fc.property(listing, (first) => completeAmong(first, undefined, PATTERN, stable).length === 0));
  });

  it('under marker, never takes a marker, and takes a file only with a marker no older than it', () => {
    fc.assert(
      fc.property(listing, (first) => {
        const ready = completeAmong(first, undefined, PATTERN, { kind: 'marker', suffix: '.done' });
        for (const e of ready) {
          expect(e.name.endsWith('.done')).toBe(false);
          expect(PATTERN.test(e.name)).toBe(true);
          const marker = first.find((m) => m.name === `${e.name}.done`);
          expect(marker).toBeDefined();
          expect(Math.floor(marker!.modifiedAt.getTime() / 1000)).toBeGreaterThanOrEqual(
            Math.floor(e.modifiedAt.getTime() / 1000),
          );
        }
        // And every such file is taken: a partner's finished file is not left behind.
        const finished = first.filter(
          (e) =>
            PATTERN.test(e.name) &&
            !e.name.endsWith('.done') &&
            first.some(
              (m) =>
                m.name === `${e.name}.done` &&
                Math.floor(m.modifiedAt.getTime() / 1000) >= Math.floor(e.modifiedAt.getTime() / 1000),
            ),
        );
        expect(ready.map((e) => e.name)).toEqual(finished.map((e) => e.name));
      }),
    );
  });

  it('under none, takes every matching entry of the first listing, whatever the second says', () => {
    fc.assert(
      fc.property(twoListings, ({ first, second }) => {
        const ready = completeAmong(first, second, PATTERN, { kind: 'none' });
        expect(ready).toEqual(first.filter((e) => PATTERN.test(e.name)));
      }),
    );
  });

  it('takes a global pattern as it takes the same pattern without the flag', () => {
    fc.assert(
      fc.property(twoListings, ({ first, second }) => {
        for (const completeness of [stable, { kind: 'none' as const }]) {
          expect(completeAmong(first, second, /\.csv/g, completeness)).toEqual(
            completeAmong(first, second, PATTERN, completeness),
          );
        }
      }),
    );
  });
});

describe('listSettled', () => {
  const at = new Date('2026-06-05T00:00:00Z');
  const file = (name: string): RemoteEntry => ({ name, size: 1, modifiedAt: at, type: 'file' });

  it('waits once, as long as the longest stable rule with a file asks, and lists again only stable folders', async () => {
    const waits: number[] = [];
    const lists: string[] = [];
    const folder = (name: string, entries: RemoteEntry[], ...rules: Completeness[]) => ({
      list: () => {
        lists.push(name);
        return Promise.resolve(entries);
      },
      rules: rules.map((completeness) => ({ pattern: /\.csv$/, completeness })),
    });
    const listings = await listSettled(
      [
        folder('short', [file('a.csv')], { kind: 'stable', seconds: 5 }),
        // The longest rule, but with no file to wait for: it does not set the wait.
        folder('empty', [file('a.txt')], { kind: 'stable', seconds: 600 }),
        folder('long', [file('b.csv')], { kind: 'stable', seconds: 30 }),
        folder('marked', [file('c.csv')], { kind: 'marker', suffix: '.done' }),
      ],
      (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
    );
    expect(waits).toEqual([30_000]);
    expect(lists).toEqual(['short', 'empty', 'long', 'marked', 'short', 'empty', 'long']);
    expect(listings.map((l) => l.second !== undefined)).toEqual([true, true, true, false]);
  });

  it('neither waits nor lists again when no stable rule matched a file, nor after a stop request', async () => {
    const waits: number[] = [];
    const sleep = (ms: number) => {
      waits.push(ms);
      return Promise.resolve();
    };
    const none = await listSettled(
      [
        {
          list: () => Promise.resolve([file('a.txt')]),
          rules: [{ pattern: /\.csv$/, completeness: { kind: 'stable', seconds: 30 } }],
        },
      ],
      sleep,
    );
    expect(none[0]).toEqual({ first: [file('a.txt')] });
    const stop = new AbortController();
    const stopped = await listSettled(
      [
        {
          list: () => {
            stop.abort();
            return Promise.resolve([file('a.csv')]);
          },
          rules: [{ pattern: /\.csv$/, completeness: { kind: 'stable', seconds: 30 } }],
        },
        { list: () => Promise.resolve([file('b.csv')]), rules: [] },
      ],
      sleep,
      { signal: stop.signal },
    );
    expect(waits).toEqual([]);
    expect(stopped).toEqual([{ first: [file('a.csv')] }, {}]);
  });
});
