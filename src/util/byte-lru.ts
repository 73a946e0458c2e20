/**
 * A least-recently-used cache bounded by the bytes its entries hold rather than
 * by their count: entries differ in size by orders of magnitude (a key file
 * against a page of names), so only a byte bound says what the cache may cost.
 * A Map keeps insertion order, so re-inserting an entry on each use makes its
 * first key the least recently used one.
 */
export class ByteLru<K, V> {
  readonly maxBytes: number;
  readonly #sizeOf: (value: V, key: K) => number;
  readonly #entries = new Map<K, { value: V; size: number }>();
  #bytes = 0;
  #evictions = 0;

  /** `sizeOf` says what an entry costs, its key and bookkeeping included; it is asked once, when the entry is set. */
  constructor(maxBytes: number, sizeOf: (value: V, key: K) => number) {
    this.maxBytes = maxBytes;
    this.#sizeOf = sizeOf;
  }

  /** Bytes held by every entry, as `sizeOf` counted them. */
  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Entries dropped to make room since the cache was made (not those cleared or deleted). */
  get evictions(): number {
    return this.#evictions;
  }

  /** The value, now the most recently used; undefined when absent. */
  get(key: K): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  /**
   * Keeps `value` as the most recently used, dropping the least recently used
   * entries until it fits. A value larger than the whole bound is not kept, and
   * the one it replaces is dropped all the same: returns whether it was kept.
   */
  set(key: K, value: V): boolean {
    const size = this.#sizeOf(value, key);
    this.delete(key);
    if (!(size <= this.maxBytes)) return false;
    for (const [oldest, entry] of this.#entries) {
      if (this.#bytes + size <= this.maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= entry.size;
      this.#evictions++;
    }
    this.#entries.set(key, { value, size });
    this.#bytes += size;
    return true;
  }

  delete(key: K): boolean {
    const entry = this.#entries.get(key);
    if (!entry) return false;
    this.#entries.delete(key);
    this.#bytes -= entry.size;
    return true;
  }

  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }
}

/** What a cache holds, for metrics. */
export type CacheUse = Pick<ByteLru<unknown, unknown>, 'bytes' | 'size' | 'evictions' | 'maxBytes'>;
