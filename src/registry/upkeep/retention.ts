import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { layout } from '../../storage/layout.ts';
import { createOnce, type Storage } from '../../storage/storage.ts';
import { mapLimit } from '../../util/map-limit.ts';
import { systemToken } from '../access/operator-token.ts';
import type { TokenRecord } from '../access/tokens.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { Deleter } from '../publish/deleter.ts';
import { RetentionPolicies } from './retention-policies.ts';
import { planRetention, type Removal, type RetentionPlan } from './retention-plan.ts';

/** The actor of every removal in the audit log and in tombstones. */
export const RETENTION_ACTOR = 'retention';

/** Deletes in flight at once: each is a few small storage round trips. */
const APPLY_CONCURRENCY = 8;

export interface RetentionRunSummary {
  /** Versions this run removed, and the bytes their blobs held. */
  removed: number;
  bytes: number;
  /** Planned versions already gone when their turn came (another replica's run, a delete). */
  gone: number;
  /** Planned versions whose delete failed (the store away); the next run tries again. */
  failed: number;
  seconds: number;
}

export interface RetentionResult extends RetentionRunSummary {
  /** What was removed, in plan order. */
  removals: Removal[];
}

/**
 * Removes what the retention policies no longer keep: planned from the in-memory index, and
 * every removal made through the deleter (tombstone, audit event, change journal), as
 * `retention`. Replicas sharing storage may apply at the same moment: each version is
 * removed once (its tombstone is written create-only), the other replica finds it gone.
 * Inside the server it runs every `retention.intervalSeconds`, by one replica per interval.
 */
export class Retention {
  readonly policies: RetentionPolicies;
  private readonly storage: Storage;
  private readonly catalog: Catalog;
  private readonly deleter: Deleter;
  private readonly domain: string;
  private readonly log: Logger;
  private readonly report: (summary: RetentionRunSummary) => void;
  private readonly afterRun: () => void;
  private readonly token: TokenRecord;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(opts: {
    storage: Storage;
    catalog: Catalog;
    deleter: Deleter;
    domain: string;
    log: Logger;
    report: (summary: RetentionRunSummary) => void;
    /** After a scheduled run that removed something (the server returns its garbage to the heap then, as after a sweep). */
    afterRun?: () => void;
  }) {
    this.storage = opts.storage;
    this.catalog = opts.catalog;
    this.deleter = opts.deleter;
    this.domain = opts.domain;
    this.log = opts.log.child({ component: 'retention' });
    this.report = opts.report;
    this.afterRun = opts.afterRun ?? (() => undefined);
    this.token = systemToken(opts.domain, RETENTION_ACTOR, ['delete']);
    this.policies = new RetentionPolicies(opts.storage, opts.domain, (key, err) =>
      this.log.warn({ key, err }, 'skipped unreadable retention policy'),
    );
  }

  /** What applying now would remove under `prefix` (the whole image domain by default), from the index as it is. */
  async plan(prefix = this.domain, now = Date.now()): Promise<RetentionPlan> {
    return planRetention(this.catalog, await this.policies.list(), prefix, now);
  }

  /** Plans, then removes exactly what was planned, a version at a time through the deleter. */
  async apply(prefix = this.domain, now = Date.now()): Promise<RetentionResult> {
    const started = Date.now();
    const { removals } = await this.plan(prefix, now);
    const outcomes = await mapLimit(removals, APPLY_CONCURRENCY, (removal) => this.remove(removal));
    const removed = removals.filter((_, i) => outcomes[i] === 'removed');
    return {
      removals: removed,
      removed: removed.length,
      bytes: removed.reduce((sum, r) => sum + r.record.size, 0),
      gone: outcomes.filter((o) => o === 'gone').length,
      failed: outcomes.filter((o) => o === 'failed').length,
      seconds: (Date.now() - started) / 1000,
    };
  }

  private async remove({ record, policy }: Removal): Promise<'removed' | 'gone' | 'failed' | 'stopped'> {
    if (this.stopped) return 'stopped';
    const { name, version, os, arch } = record;
    try {
      const done = await this.deleter.deleteIfPresent(this.token, { name, version, os, arch }, record.blob, { policy });
      if (!done) return 'gone';
      this.log.debug({ name, version, os, arch, size: record.size, policy }, 'retention removed a version');
      return 'removed';
    } catch (err) {
      this.log.error({ err, name, version, os, arch }, 'retention failed to remove a version');
      return 'failed';
    }
  }

  /** The first run comes one interval after start, as for the scheduled verification. */
  start(intervalSeconds: number): void {
    const intervalMs = intervalSeconds * 1000;
    this.timer = setInterval(() => void this.scheduledRun(intervalMs), intervalMs);
    this.timer.unref();
  }

  /** Stops between removals: a run cut short leaves each version either removed whole or untouched. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /**
   * One run of the interval now under way, by whichever replica claims it first: the claim is
   * a create-only object named for the interval's start, so replicas whose timers fire at
   * different moments of one interval do its work once. Runs never overlap here.
   */
  scheduledRun(intervalMs: number, now = Date.now()): Promise<void> {
    this.running ??= this.claimAndApply(intervalMs, now)
      .catch((err: unknown) => this.log.error({ err }, 'failed to apply the retention policies'))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async claimAndApply(intervalMs: number, now: number): Promise<void> {
    const slot = layout.retentionRun(now - (now % intervalMs));
    const claim = Buffer.from(JSON.stringify({ startedAt: new Date(now).toISOString(), host: hostname(), pid: process.pid }));
    if (!(await createOnce(this.storage, slot, claim))) return;
    const { removals: _removals, ...summary } = await this.apply();
    if (this.stopped) return;
    this.report(summary);
    if (summary.removed > 0 || summary.failed > 0) this.log.info(summary, 'retention removed versions');
    else this.log.debug(summary, 'retention found nothing to remove');
    if (summary.removed > 0) this.afterRun();
    // Only the claim just made matters from now on.
    for await (const obj of this.storage.list(layout.retentionRuns)) if (obj.key < slot) await this.storage.delete(obj.key);
  }
}
