import { z } from 'zod';
import { layout } from '../../storage/layout.ts';
import { PrefixMirror } from '../../storage/prefix-mirror.ts';
import type { Storage } from '../../storage/storage.ts';

/** Uses of one token closer together than this write nothing: last use is known to the minute. */
export const USE_RESOLUTION_MS = 60_000;

// Past this many remembered writes, those older than the resolution are forgotten.
const PRUNE_AT = 10_000;

const useSchema = z.object({ lastUsedAt: z.string() });
const parseUse = (bytes: Buffer): string => useSchema.parse(JSON.parse(bytes.toString('utf8'))).lastUsedAt;

/**
 * When each token was last used, without a storage write per request: each process
 * writes a token's time at most once a minute, to an object of its own that it
 * overwrites (`token-use/<id>.json`). Replicas never read before they write, so they
 * cannot conflict; whichever wrote last is within a minute of the truth.
 */
export class TokenUse {
  private readonly storage: Storage;
  private readonly mirror: PrefixMirror<string>;
  /** Token id -> when this process last wrote its use. */
  private readonly written = new Map<string, number>();

  constructor(storage: Storage, onBadRecord: (key: string, e: unknown) => void) {
    this.storage = storage;
    this.mirror = new PrefixMirror({
      storage,
      prefix: layout.tokenUses,
      parse: parseUse,
      onBadRecord,
    });
  }

  /**
   * Records a use of token `id` now, unless this process recorded one within the last
   * minute: the write's promise, or undefined when nothing is written.
   */
  note(id: string, now = new Date()): Promise<void> | undefined {
    const at = now.getTime();
    const last = this.written.get(id);
    if (last !== undefined && at - last < USE_RESOLUTION_MS) return undefined;
    if (this.written.size >= PRUNE_AT) this.prune(at);
    // Set before the write: concurrent uses of the token wait for the next minute, not for the store.
    this.written.set(id, at);
    const body = Buffer.from(JSON.stringify({ lastUsedAt: now.toISOString() }));
    return this.storage.put(layout.tokenUse(id), body).then(() => undefined);
  }

  /** Token id -> last use, as stored (one listing, and a read of each time that changed). */
  async lastUsed(): Promise<Map<string, string>> {
    await this.mirror.refresh();
    return new Map(this.mirror.keyed().map(([key, at]) => [key.slice(layout.tokenUses.length, -'.json'.length), at]));
  }

  /** The last use of one token, as stored, or null. */
  async of(id: string): Promise<string | null> {
    const bytes = await this.storage.get(layout.tokenUse(id));
    return bytes ? parseUse(bytes) : null;
  }

  /** Removes a revoked token's time. */
  async forget(id: string): Promise<void> {
    this.written.delete(id);
    await this.storage.delete(layout.tokenUse(id));
  }

  private prune(now: number): void {
    for (const [id, at] of this.written) if (now - at >= USE_RESOLUTION_MS) this.written.delete(id);
  }
}
