import type { Storage } from './storage.ts';

interface Entry<T> {
  stamp: string;
  value: T;
}

/** Parses a record stored as JSON with `schema`: what every mirror of records reads. */
export const jsonRecord =
  <T>(schema: { parse(value: unknown): T }) =>
  (bytes: Buffer): T =>
    schema.parse(JSON.parse(bytes.toString('utf8')));

/**
 * Keeps an in-memory copy of the small records under one storage prefix (keys,
 * tokens) and refreshes it by polling, so a change made by the CLI or another
 * replica is seen within one interval without a restart. Records that fail to
 * parse are skipped and reported, never fatal.
 */
export class PrefixMirror<T> {
  private readonly storage: Storage;
  private readonly prefix: string;
  private readonly parse: (bytes: Buffer) => T;
  private readonly onBadRecord: (key: string, error: unknown) => void;
  private entries = new Map<string, Entry<T>>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  generation = 0;

  constructor(opts: { storage: Storage; prefix: string; parse: (b: Buffer) => T; onBadRecord: (key: string, e: unknown) => void }) {
    this.storage = opts.storage;
    this.prefix = opts.prefix;
    this.parse = opts.parse;
    this.onBadRecord = opts.onBadRecord;
  }

  values(): T[] {
    return [...this.entries.values()].map((e) => e.value);
  }

  /** Each record with its storage key. */
  keyed(): [string, T][] {
    return [...this.entries].map(([key, e]) => [key, e.value]);
  }

  get(key: string): T | undefined {
    return this.entries.get(key)?.value;
  }

  /** Reads one record straight from storage (for a request that names something not yet seen). */
  async fetch(key: string): Promise<T | undefined> {
    const known = this.get(key);
    if (known) return known;
    const info = await this.storage.stat(key);
    const bytes = info && (await this.storage.get(key));
    if (!info || !bytes) return undefined;
    const value = this.parse(bytes);
    this.entries.set(key, { stamp: `${info.size}:${info.modified.getTime()}`, value });
    this.generation++;
    return value;
  }

  refresh(): Promise<void> {
    this.refreshing ??= this.doRefresh().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  start(intervalMs: number, onError: (e: unknown) => void): void {
    this.timer = setInterval(() => this.refresh().catch(onError), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async doRefresh(): Promise<void> {
    const next = new Map<string, Entry<T>>();
    let changed = false;
    for await (const obj of this.storage.list(this.prefix)) {
      const stamp = `${obj.size}:${obj.modified.getTime()}`;
      const old = this.entries.get(obj.key);
      if (old && old.stamp === stamp) {
        next.set(obj.key, old);
        continue;
      }
      const bytes = await this.storage.get(obj.key);
      if (!bytes) continue;
      try {
        next.set(obj.key, { stamp, value: this.parse(bytes) });
        changed = true;
      } catch (e) {
        this.onBadRecord(obj.key, e);
      }
    }
    if (changed || next.size !== this.entries.size) this.generation++;
    this.entries = next;
  }
}
