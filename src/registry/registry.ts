import type { Logger } from 'pino';
import { imageDomain, publicOrigin } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { createStorage } from '../storage/create-storage.ts';
import type { Storage } from '../storage/storage.ts';
import { AuditLog } from './audit-log.ts';
import { Catalog } from './catalog/catalog.ts';
import { readCatalogSnapshot, SNAPSHOT_REFRESH_MS, writeCatalogSnapshot } from './catalog/catalog-snapshot.ts';
import { Deleter } from './publish/deleter.ts';
import { KeyStore } from './trust/keyring.ts';
import { KeyExpiryWatch } from './trust/key-expiry-watch.ts';
import { ChangeJournal, pruneJournal } from './catalog/change-journal.ts';
import { Publisher } from './publish/publisher.ts';
import type { StepHook } from './publish/steps.ts';
import { ReadAccess } from './access/read-access.ts';
import { sweep } from './upkeep/sweep.ts';
import { TokenStore } from './access/tokens.ts';
import { AcpushUploads } from './acpush/acpush-uploads.ts';

const SWEEP_INTERVAL_MS = 10 * 60 * 1000;

/** The service layer: everything the HTTP routes and the CLI act on, over one storage. */
export class Registry {
  readonly config: Config;
  readonly domain: string;
  readonly origin: string;
  readonly storage: Storage;
  readonly catalog: Catalog;
  readonly keys: KeyStore;
  readonly tokens: TokenStore;
  readonly publisher: Publisher;
  readonly audit: AuditLog;
  readonly access: ReadAccess;
  readonly deleter: Deleter;
  readonly uploads: AcpushUploads;
  /** How replicas sharing the storage learn of each other's publishes and deletes. */
  readonly changes: ChangeJournal;
  private readonly log: Logger;
  private sweepTimer: NodeJS.Timeout | undefined;
  private expiryWatch: KeyExpiryWatch | undefined;
  private sweeping: Promise<void> | undefined;
  private closed = false;
  private snapshotTaken: { generation: number; at: number } | undefined;
  private readonly afterSweep: () => void;

  /**
   * `afterSweep` runs when a sweep has finished (src/server.ts returns its garbage
   * to the heap then: a sweep lists every record, after a start reads them all, and
   * writes the snapshot).
   */
  constructor(config: Config, log: Logger, opts: { storage?: Storage; onStep?: StepHook; afterSweep?: () => void } = {}) {
    const storage = opts.storage ?? createStorage(config);
    this.afterSweep = opts.afterSweep ?? (() => undefined);
    this.config = config;
    this.log = log;
    this.domain = imageDomain(config);
    this.origin = publicOrigin(config);
    this.storage = storage;
    const onBadRecord = (key: string, err: unknown) => log.warn({ key, err }, 'skipped unreadable record');
    this.catalog = new Catalog(storage);
    this.keys = new KeyStore(storage, this.domain, onBadRecord);
    this.tokens = new TokenStore(storage, this.domain, onBadRecord);
    this.audit = new AuditLog(storage, (err, event) => log.error({ err, event }, 'failed to write audit event'));
    this.access = new ReadAccess(config.access.privatePrefixes);
    this.changes = new ChangeJournal(storage, this.catalog, log);
    this.deleter = new Deleter({ storage, catalog: this.catalog, audit: this.audit, onStep: opts.onStep, changes: this.changes });
    this.publisher = new Publisher({
      storage,
      catalog: this.catalog,
      keys: this.keys,
      domain: this.domain,
      onStep: opts.onStep,
      audit: this.audit,
      changes: this.changes,
    });
    this.uploads = new AcpushUploads({
      storage,
      publisher: this.publisher,
      keys: this.keys,
      limits: config.limits,
      expirySeconds: config.acpush.uploadExpirySeconds,
      maxSessionsPerToken: config.limits.maxUploadSessionsPerToken,
    });
  }

  /** Loads the indexes and starts the background refresh and sweep (server only; the CLI skips this). */
  async start(): Promise<void> {
    const [restored] = await Promise.all([this.loadCatalog(), this.keys.mirror.refresh(), this.tokens.mirror.refresh()]);
    const onError = (err: unknown) => this.log.error({ err }, 'failed to refresh from storage');
    this.keys.mirror.start(this.config.storage.pollIntervalMs, onError);
    this.tokens.mirror.start(this.config.storage.pollIntervalMs, onError);
    this.changes.start(this.config.storage.pollIntervalMs);
    this.expiryWatch = new KeyExpiryWatch(this.keys, this.log);
    this.expiryWatch.start();
    if (restored) {
      // Listening at once: the sweep reads every record again before it judges any blob, so a
      // change the journal did not carry is found there, never acted on by the restored index.
      void this.sweep('reread');
    } else {
      // The catalogue was read whole a moment ago: the first sweep needs no second listing of every
      // record, and the snapshot of it need not hold up listening. No poll has run since the load,
      // so the journal time is still the one from before it.
      const journalFrom = this.changes.appliedUpTo;
      if (await this.sweepLeftovers('fresh')) void this.snapshotIndex(journalFrom).finally(this.swept);
      else this.swept();
    }
    this.sweepTimer = setInterval(() => void this.sweep(), SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  /** Restores the index from its snapshot and the journal since (true), or reads every record (false). */
  private async loadCatalog(): Promise<boolean> {
    if (this.config.storage.indexSnapshotNames > 0) {
      const unusable = (reason: string) => this.log.warn({ reason }, 'index snapshot not used: reading every record');
      const snapshot = await readCatalogSnapshot(this.storage, unusable);
      if (snapshot) {
        for (const record of snapshot.records) this.catalog.add(record);
        this.changes.resumeFrom(snapshot.journalFrom);
        await this.changes.poll();
        this.log.info(
          { names: this.catalog.size, journalFrom: new Date(snapshot.journalFrom).toISOString() },
          'index restored from its snapshot',
        );
        return true;
      }
    }
    await this.catalog.load();
    return false;
  }

  /**
   * Removes leftovers, reconciling the index with storage first, then refreshes the index
   * snapshot from the reconciled index. One sweep at a time: a slow one is not overlapped.
   */
  sweep(index: 'listed' | 'reread' = 'listed'): Promise<void> {
    this.sweeping ??= (async () => {
      const journalFrom = this.changes.appliedUpTo;
      if (await this.sweepLeftovers(index)) await this.snapshotIndex(journalFrom);
    })().finally(() => {
      this.sweeping = undefined;
      this.swept();
    });
    return this.sweeping;
  }

  /** Every sweep ends here, the first one after a fresh start included; none is followed up once closed. */
  private readonly swept = (): void => {
    if (!this.closed) this.afterSweep();
  };

  /** Writes the index when it is big enough to be worth it and changed (or its snapshot is ageing). */
  private async snapshotIndex(journalFrom: number): Promise<void> {
    const minNames = this.config.storage.indexSnapshotNames;
    if (this.closed || minNames === 0 || this.catalog.size < minNames) return;
    const generation = this.catalog.generation;
    const taken = this.snapshotTaken;
    if (taken && taken.generation === generation && Date.now() - taken.at < SNAPSHOT_REFRESH_MS) return;
    try {
      await writeCatalogSnapshot(this.storage, { journalFrom, records: this.catalog.records() });
      this.snapshotTaken = { generation, at: Date.now() };
    } catch (err) {
      this.log.warn({ err }, 'failed to write the index snapshot');
    }
  }

  /** True when every step ran: an index whose reconciling failed is not written as the snapshot. */
  private async sweepLeftovers(index: 'fresh' | 'listed' | 'reread'): Promise<boolean> {
    try {
      const report = await sweep(this.storage, this.catalog, this.config.storage.sweepGraceSeconds, Date.now(), index);
      if (report.staging || report.orphanBlobs || report.abortedUploads) this.log.info(report, 'swept leftovers');
      const uploads = await this.uploads.sweep();
      if (uploads) this.log.info({ uploads }, 'swept expired acpush uploads');
      const journal = await pruneJournal(this.storage);
      if (journal) this.log.debug({ journal }, 'pruned old journal entries');
      return true;
    } catch (err) {
      if (!this.closed) this.log.error({ err }, 'failed to sweep leftovers');
      return false;
    }
  }

  /** Does not wait for a sweep under way: it may list a whole bucket, and stopping it halfway is safe. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweepTimer);
    this.expiryWatch?.stop();
    this.keys.mirror.stop();
    this.tokens.mirror.stop();
    this.changes.stop();
    await this.storage.close();
  }
}
