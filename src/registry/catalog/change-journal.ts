import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import { unavailable } from '../../errors.ts';
import { layout } from '../../storage/layout.ts';
import type { Storage } from '../../storage/storage.ts';
import type { Catalog, Coordinates } from './catalog.ts';

const changeSchema = z.object({
  op: z.enum(['put', 'delete']),
  name: z.string(),
  version: z.string(),
  os: z.string(),
  arch: z.string(),
});
export type Change = z.infer<typeof changeSchema>;

// Replica clocks differ: re-read this far back and skip what was already applied.
const CLOCK_SKEW_MS = 10_000;
export const JOURNAL_RETENTION_MS = 60 * 60 * 1000;

/**
 * A small change journal in storage: every publish and delete leaves one object,
 * and each replica polls for new ones (one short listing per poll, never the whole
 * catalogue) and applies them to its index. Storage stays the source of truth: an
 * entry only says which version record to read again.
 */
export class ChangeJournal {
  private readonly storage: Storage;
  private readonly catalog: Catalog;
  private readonly log: Logger;
  private readonly applied = new Map<string, number>();
  private cursorMs = Date.now() - CLOCK_SKEW_MS;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<boolean> | undefined;
  private pollsStarted = 0;
  private quietSince = 0;

  constructor(storage: Storage, catalog: Catalog, log: Logger) {
    this.storage = storage;
    this.catalog = catalog;
    this.log = log;
  }

  /**
   * Best effort: the change itself is already committed; a lost entry only delays other replicas to their next miss.
   * False when the entry could not be written.
   */
  async record(op: Change['op'], c: Coordinates): Promise<boolean> {
    const key = layout.journalEntry(Date.now(), randomBytes(6).toString('hex'));
    try {
      await this.storage.put(key, Buffer.from(JSON.stringify({ op, name: c.name, version: c.version, os: c.os, arch: c.arch })), {
        ifAbsent: true,
      });
      this.applied.set(key, layout.journalTime(key));
      return true;
    } catch (err) {
      this.log.warn({ err, op, name: c.name, version: c.version }, 'failed to write a journal entry');
      return false;
    }
  }

  /**
   * Every entry stamped before this time is in the index: the newest entry applied, or
   * the start of the last poll that found nothing newer, less the clock skew allowance
   * (a quiet registry's snapshot must not age out of use).
   */
  get appliedUpTo(): number {
    return Math.max(this.cursorMs, this.quietSince - CLOCK_SKEW_MS);
  }

  /** Starts reading at `ms` instead of now: the index was restored from a snapshot current to then. */
  resumeFrom(ms: number): void {
    this.cursorMs = ms;
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.poll(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  poll(): Promise<void> {
    return this.pollOnce().then(() => undefined);
  }

  /**
   * Applies every entry written before this call: a poll already under way may have listed the
   * journal before them, so the one waited for starts after the call. Throws when it fails.
   */
  async catchUp(): Promise<void> {
    const needed = this.pollsStarted + 1;
    for (;;) {
      const poll = this.pollOnce();
      const number = this.pollsStarted;
      if (!(await poll)) throw unavailable('STORAGE_UNAVAILABLE', 'the change journal could not be read; try again shortly');
      if (number >= needed) return;
    }
  }

  /** Starts a poll, or joins the one under way; true when it read the journal. */
  private pollOnce(): Promise<boolean> {
    if (!this.polling) {
      this.pollsStarted++;
      this.polling = this.applyNew()
        .then(
          () => true,
          (err: unknown) => {
            this.log.error({ err }, 'failed to read the change journal');
            return false;
          },
        )
        .finally(() => (this.polling = undefined));
    }
    return this.polling;
  }

  private async applyNew(): Promise<void> {
    const startedAt = Date.now();
    const from = this.cursorMs - CLOCK_SKEW_MS;
    let newest = this.cursorMs;
    for await (const obj of this.storage.list(layout.journal, { startAfter: layout.journalEntry(from, '') })) {
      const at = layout.journalTime(obj.key);
      newest = Math.max(newest, at);
      if (this.applied.has(obj.key)) continue;
      const bytes = await this.storage.get(obj.key);
      if (bytes) await this.apply(changeSchema.parse(JSON.parse(bytes.toString('utf8'))));
      this.applied.set(obj.key, at);
    }
    this.cursorMs = newest;
    this.quietSince = startedAt;
    for (const [key, at] of this.applied) if (at < from) this.applied.delete(key);
  }

  /**
   * Either kind of entry only says which record to read again: by the time it is read, a
   * put may have been deleted, or a delete followed by a push of the same version.
   */
  private async apply(change: Change): Promise<void> {
    await this.catalog.refresh(change);
  }
}

/** Removes journal entries past the retention (the sweep calls this). */
export async function pruneJournal(storage: Storage, now = Date.now()): Promise<number> {
  let removed = 0;
  for await (const obj of storage.list(layout.journal)) {
    if (layout.journalTime(obj.key) >= now - JOURNAL_RETENTION_MS) break;
    await storage.delete(obj.key);
    removed++;
  }
  return removed;
}
