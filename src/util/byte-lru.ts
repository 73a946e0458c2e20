import { LRUCache } from 'lru-cache';

/**
 * A least-recently-used cache bounded by the bytes its entries hold rather than
 * by their count: entries differ in size by orders of magnitude (a key file
 * against a page of names), so only a byte bound says what the cache may cost.
 * lru-cache does the work; this adds the eviction count the metrics report, and
 * a bound of 0 meaning no cache at all.
 */
export class ByteLru<K extends {}, V extends {}> {
  readonly maxBytes: number;
  readonly #cache: LRUCache<K, V> | undefined;
  #evictions = 0;

  /** `sizeOf` says what an entry costs, its key and bookkeeping included; it is asked once, when the entry is set. */
  constructor(maxBytes: number, sizeOf: (value: V, key: K) => number) {
    this.maxBytes = maxBytes;
    this.#cache =
      maxBytes > 0
        ? new LRUCache<K, V>({
            maxSize: maxBytes,
            maxEntrySize: maxBytes,
            sizeCalculation: (value, key) => Math.max(1, sizeOf(value, key)),
            dispose: (_value, _key, reason) => {
              if (reason === 'evict') this.#evictions++;
            },
          })
        : undefined;
  }

  /** Bytes held by every entry, as `sizeOf` counted them. */
  get bytes(): number {
    return this.#cache?.calculatedSize ?? 0;
  }

  get size(): number {
    return this.#cache?.size ?? 0;
  }

  /** Entries dropped to make room since the cache was made (not those cleared or deleted). */
  get evictions(): number {
    return this.#evictions;
  }

  /** The value, now the most recently used; undefined when absent. */
  get(key: K): V | undefined {
    return this.#cache?.get(key);
  }

  /**
   * Keeps `value` as the most recently used, dropping the least recently used
   * entries until it fits. A value larger than the whole bound is not kept, and
   * the one it replaces is dropped all the same: returns whether it was kept.
   */
  set(key: K, value: V): boolean {
    if (!this.#cache) return false;
    this.#cache.delete(key);
    this.#cache.set(key, value);
    return this.#cache.has(key);
  }

  delete(key: K): boolean {
    return this.#cache?.delete(key) ?? false;
  }

  clear(): void {
    this.#cache?.clear();
  }
}

/** What a cache holds, for metrics. */
export type CacheUse = Pick<ByteLru<{}, {}>, 'bytes' | 'size' | 'evictions' | 'maxBytes'>;
