/**
 * A memo for values that are cheap to compute again: once it holds `limit` entries it starts again
 * empty. A night asks for the same few thousand keys (dates, account codes, name spellings) millions
 * of times, so an occasional round of misses costs less than an LRU's bookkeeping on every hit, and
 * memory stays bounded whatever the input holds.
 */
export class BoundedCache<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(private readonly limit: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    return this.entries.get(key);
  }

  set(key: K, value: V): void {
    if (this.entries.size >= this.limit) this.entries.clear();
    this.entries.set(key, value);
  }

  /** The value kept for `key`; computed and kept when there is none. */
  getOrCompute(key: K, compute: (key: K) => V): V {
    let value = this.entries.get(key);
    if (value === undefined) {
      value = compute(key);
      this.set(key, value);
    }
    return value;
  }

  clear(): void {
    this.entries.clear();
  }
}
