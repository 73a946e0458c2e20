import { tmpdir } from 'node:os';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { parseDuration } from '../config/duration.ts';
import { imageDomain, publicOrigin } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { layout } from '../storage/layout.ts';
import type { ByteRange, Storage } from '../storage/storage.ts';
import { ReadAccess } from './access/read-access.ts';
import { TokenStore } from './access/tokens.ts';
import { TokenAdmin } from './access/token-admin.ts';
import { TokenExpiryWatch } from './access/token-expiry-watch.ts';
import { AcpushUploads } from './acpush/acpush-uploads.ts';
import { AuditLog } from './audit-log.ts';
import { Catalog } from './catalog/catalog.ts';
import { readCatalogSnapshot, SNAPSHOT_REFRESH_MS, writeCatalogSnapshot } from './catalog/catalog-snapshot.ts';
import { ChangeJournal, pruneJournal } from './catalog/change-journal.ts';
import type { VersionRecord } from './catalog/version-record.ts';
import { Deleter } from './publish/deleter.ts';
import { Publisher } from './publish/publisher.ts';
import { PushService } from './publish/push-service.ts';
import { Quotas } from './quota/quotas.ts';
import type { StageContext } from './publish/stage-image.ts';
import type { StepHook } from './publish/steps.ts';
import { KeyExpiryWatch } from './trust/key-expiry-watch.ts';
import { KeyStore } from './trust/keyring.ts';
import { ServerSigner } from './trust/server-signing.ts';
import { ScheduledVerify, type VerifyRunSummary } from './upkeep/scheduled-verify.ts';
import { Retention, type RetentionRunSummary } from './upkeep/retention.ts';
import { sweep } from './upkeep/sweep.ts';
import { Webhooks, type AttemptReport } from './webhooks/webhooks.ts';
import { NO_PEERS, type Peers } from './peers.ts';
import { AllowList } from './mirror/allow-list.ts';
import { Conversions } from './mirror/conversions.ts';
import { Converter } from './mirror/converter.ts';
import { PullThrough } from './mirror/pull-through.ts';
import { UpstreamSources } from './mirror/upstream-sources.ts';

const SWEEP_INTERVAL_MS = 10 * 60 * 1000;

/** The configuration sections the registry uses, and the names it serves under. */
export interface RegistrySettings {
  domain: string;
  origin: string;
  limits: Config['limits'];
  acpush: Config['acpush'];
  access: Config['access'];
  upkeep: Pick<Config['storage'], 'pollIntervalMs' | 'sweepGraceSeconds' | 'indexSnapshotNames'>;
  verify: Config['verify'];
  tokens: Config['tokens'];
  retention: Config['retention'];
  audit: Config['audit'];
  webhooks: Config['webhooks'];
  mirrors: Config['mirrors'];
}

export function registrySettings(config: Config): RegistrySettings {
  const { pollIntervalMs, sweepGraceSeconds, indexSnapshotNames } = config.storage;
  return {
    domain: imageDomain(config),
    origin: publicOrigin(config),
    limits: config.limits,
    acpush: config.acpush,
    access: config.access,
    upkeep: { pollIntervalMs, sweepGraceSeconds, indexSnapshotNames },
    verify: config.verify,
    tokens: config.tokens,
    retention: config.retention,
    audit: config.audit,
    webhooks: config.webhooks,
    mirrors: config.mirrors,
  };
}

/** What the process around the registry lends it; each is optional. */
export interface RegistryHooks {
  /** Fault injection for the crash tests (src/server.ts). */
  onStep?: StepHook;
  /** Hears the size of every chunk of an image streamed through (the server frees dead buffers by it). */
  onBytes?: (bytes: number) => void;
  /** Runs when a sweep, or a scheduled retention run that removed versions, has finished (the server returns its garbage to the heap then). */
  afterSweep?: () => void;
  /** The counts of each scheduled verification (the server's metrics). */
  onVerified?: (summary: VerifyRunSummary) => void;
  /** The counts of each scheduled retention run (the server's metrics). */
  onRetention?: (summary: RetentionRunSummary) => void;
  /** Every webhook delivery attempt (the server's metrics). */
  onWebhookAttempt?: (report: AttemptReport) => void;
  /** CA certificates webhook targets may use besides the system's and NODE_EXTRA_CA_CERTS (tests in one process). */
  webhookCa?: string[];
  /**
   * The operator's secret that opens the server signing keys (readSigningSecret in
   * src/registry/trust/signing-secret.ts); without it, start() refuses once such keys exist.
   */
  signingSecret?: string;
  /** The other workers of this server; only the one that runs upkeep does the once-only jobs (src/registry/peers.ts). */
  peers?: Peers;
}

/**
 * The service layer: everything the HTTP routes and the CLI act on, over one storage
 * it is given. Routes reach images, keys and tokens through the services below and
 * the few operations of its own; the storage itself stays inside.
 */
export class Registry {
  readonly domain: string;
  readonly origin: string;
  readonly catalog: Catalog;
  readonly keys: KeyStore;
  readonly tokens: TokenStore;
  /** Tokens made, listed and revoked by the CLI and by admin tokens over the API. */
  readonly tokenAdmin: TokenAdmin;
  readonly access: ReadAccess;
  readonly audit: AuditLog;
  /** The quotas per prefix, and what is used of them. */
  readonly quotas: Quotas;
  /** The front doors: curl pushes and imports, acpush, deletes. */
  readonly pushes: PushService;
  readonly uploads: AcpushUploads;
  readonly deleter: Deleter;
  /** The retention policies, their plan and its application. */
  readonly retention: Retention;
  readonly webhooks: Webhooks;
  /** Names under pull-through prefixes, converted from their upstream on first request. */
  readonly mirror: PullThrough;
  /** Conversions asked for over the API and the CLI. */
  readonly conversions: Conversions;
  /** The server's own signing keys (`acihost key generate`), which sign pushes of tokens with the sign scope. */
  readonly signer: ServerSigner;
  private readonly storage: Storage;
  private readonly upstreams: UpstreamSources;
  private readonly settings: RegistrySettings;
  /** How replicas sharing the storage learn of each other's publishes and deletes. */
  private readonly changes: ChangeJournal;
  private readonly log: Logger;
  private readonly verifier: ScheduledVerify;
  private sweepTimer: NodeJS.Timeout | undefined;
  private expiryWatch: KeyExpiryWatch | undefined;
  private readonly tokenExpiry: TokenExpiryWatch;
  private sweeping: Promise<void> | undefined;
  private closed = false;
  private snapshotTaken: { generation: number; at: number } | undefined;
  private readonly afterSweep: () => void;
  private readonly runsUpkeep: boolean;

  constructor(storage: Storage, settings: RegistrySettings, log: Logger, hooks: RegistryHooks = {}) {
    this.afterSweep = hooks.afterSweep ?? (() => undefined);
    this.runsUpkeep = (hooks.peers ?? NO_PEERS).runsUpkeep;
    this.settings = settings;
    this.log = log;
    this.domain = settings.domain;
    this.origin = settings.origin;
    this.storage = storage;
    const onBadRecord = (key: string, err: unknown) => log.warn({ key, err }, 'skipped unreadable record');
    this.catalog = new Catalog(storage);
    this.keys = new KeyStore(storage, this.domain, onBadRecord);
    this.signer = new ServerSigner({ storage, keys: this.keys, domain: this.domain, secret: hooks.signingSecret, onBadRecord });
    this.tokens = new TokenStore(storage, this.domain, onBadRecord);
    this.audit = new AuditLog(storage, (err, event) => log.error({ err, event }, 'failed to write audit event'));
    this.access = new ReadAccess(settings.access.privatePrefixes);
    const defaultExpirySeconds = parseDuration(settings.tokens.defaultExpiry)!;
    this.tokenAdmin = new TokenAdmin({ tokens: this.tokens, audit: this.audit, domain: this.domain, defaultExpirySeconds });
    this.tokenExpiry = new TokenExpiryWatch({ storage, tokens: this.tokens, audit: this.audit, log });
    this.changes = new ChangeJournal(storage, this.catalog, log);
    this.quotas = new Quotas({
      storage,
      catalog: this.catalog,
      changes: this.changes,
      domain: this.domain,
      admissionSeconds: settings.acpush.uploadExpirySeconds,
      onBadRecord,
    });
    const { onStep, onBytes } = hooks;
    this.deleter = new Deleter({ storage, catalog: this.catalog, audit: this.audit, onStep, changes: this.changes });
    const publisher = new Publisher({
      storage,
      catalog: this.catalog,
      keys: this.keys,
      domain: this.domain,
      onStep,
      onBytes,
      audit: this.audit,
      changes: this.changes,
      quotas: this.quotas,
    });
    const context: StageContext = { storage, limits: settings.limits, keys: () => this.keys.verificationKeys(), onBytes };
    this.pushes = new PushService({ context, publisher, audit: this.audit, quotas: this.quotas });
    this.uploads = new AcpushUploads({
      context,
      publisher,
      audit: this.audit,
      expirySeconds: settings.acpush.uploadExpirySeconds,
      maxSessionsPerToken: settings.limits.maxUploadSessionsPerToken,
      quotas: this.quotas,
    });
    const mirrors = settings.mirrors;
    const allow = new AllowList(mirrors.upstreams);
    const sources = (this.upstreams = new UpstreamSources({
      timeoutSeconds: mirrors.timeoutSeconds,
      maxManifestBytes: settings.limits.maxManifestBytes,
      userAgent: 'acihost',
    }));
    const converter = new Converter({
      pushes: this.pushes,
      signer: this.signer,
      settings: {
        scratchDir: mirrors.scratchDir ?? tmpdir(),
        gzipLevel: mirrors.gzipLevel,
        maxConversions: mirrors.maxConversions,
        limits: settings.limits,
      },
      log,
    });
    this.mirror = new PullThrough({
      storage,
      catalog: this.catalog,
      allow,
      sources,
      converter,
      signer: this.signer,
      deleter: this.deleter,
      domain: this.domain,
      settings: mirrors,
      gzipLevel: mirrors.gzipLevel,
      log,
    });
    this.conversions = new Conversions({ storage, allow, sources, converter, audit: this.audit, log });
    this.retention = new Retention({
      storage,
      catalog: this.catalog,
      deleter: this.deleter,
      domain: this.domain,
      log,
      report: hooks.onRetention ?? (() => undefined),
      afterRun: this.swept,
    });
    this.verifier = new ScheduledVerify({
      storage,
      keys: this.keys,
      limits: settings.limits,
      log,
      onBytes,
      report: hooks.onVerified ?? (() => undefined),
    });
    this.webhooks = new Webhooks({
      storage,
      domain: this.domain,
      settings: settings.webhooks,
      audit: this.audit,
      log,
      pollIntervalMs: settings.upkeep.pollIntervalMs,
      onAttempt: hooks.onWebhookAttempt,
      extraCa: hooks.webhookCa,
    });
  }

  /** Grows whenever what discovery shows changes: a version published or deleted, a key trusted or retired, a quota set, a conversion's progress here. */
  get generation(): number {
    // The generations only grow, so their sum changes whenever any does.
    return this.catalog.generation + this.keys.mirror.generation + this.quotas.generation + this.conversions.generation;
  }

  /** The bytes of a published image, or the range of them asked for. */
  openImage(record: VersionRecord, range?: ByteRange): Promise<Readable> {
    return this.storage.read(record.blob, range);
  }

  /** Whether the store answers within `timeoutMs` (readiness). */
  async storeReachable(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const probe = this.storage.stat(layout.healthProbe).then(
      () => true,
      () => false,
    );
    try {
      return await Promise.race([probe, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Loads the indexes and starts the background refresh and sweep (server only; the CLI skips this). */
  async start(): Promise<void> {
    // Before anything else: keys it holds and cannot open stop the server here, with a message saying why.
    await this.signer.load();
    for (const { prefix, source } of this.settings.mirrors.upstreams) {
      if (!this.signer.signerFor(prefix)) {
        this.log.warn(
          { prefix, source },
          `no server signing key covers the mirror prefix ${prefix}: its conversions are refused until acihost key generate --prefix ${prefix} makes one`,
        );
      }
    }
    await this.webhooks.start();
    const [restored] = await Promise.all([this.loadCatalog(), this.keys.mirror.refresh(), this.tokens.mirror.refresh()]);
    const onError = (err: unknown) => this.log.error({ err }, 'failed to refresh from storage');
    await this.quotas.start(this.settings.upkeep.pollIntervalMs, onError);
    this.keys.mirror.start(this.settings.upkeep.pollIntervalMs, onError);
    this.signer.start(this.settings.upkeep.pollIntervalMs, onError);
    this.tokens.mirror.start(this.settings.upkeep.pollIntervalMs, onError);
    this.changes.start(this.settings.upkeep.pollIntervalMs);
    this.expiryWatch = new KeyExpiryWatch(this.keys, this.log);
    this.expiryWatch.start();
    this.tokenExpiry.start();
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
    if (!this.runsUpkeep) return;
    if (this.settings.verify.intervalSeconds > 0) this.verifier.start(this.settings.verify.intervalSeconds);
    if (this.settings.retention.intervalSeconds > 0) this.retention.start(this.settings.retention.intervalSeconds);
  }

  /** Restores the index from its snapshot and the journal since (true), or reads every record (false). */
  private async loadCatalog(): Promise<boolean> {
    if (this.settings.upkeep.indexSnapshotNames > 0) {
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
    const minNames = this.settings.upkeep.indexSnapshotNames;
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

  /**
   * True when every step ran: an index whose reconciling failed is not written as the snapshot.
   * A worker that does not run upkeep only reconciles its own index and its count of acpush
   * sessions; removals, pruning and the snapshot are the upkeep worker's.
   */
  private async sweepLeftovers(index: 'fresh' | 'listed' | 'reread'): Promise<boolean> {
    if (!this.runsUpkeep) return this.reconcileOnly(index);
    try {
      const report = await sweep(this.storage, this.catalog, this.settings.upkeep.sweepGraceSeconds, Date.now(), index);
      if (report.staging || report.orphanBlobs || report.abortedUploads) this.log.info(report, 'swept leftovers');
      const uploads = await this.uploads.sweep();
      if (uploads) this.log.info({ uploads }, 'swept expired acpush uploads');
      const claims = await this.quotas.sweep();
      if (claims) this.log.info({ claims }, 'swept expired quota claims');
      const mirror = await this.mirror.sweep();
      if (mirror) this.log.info({ mirror }, 'swept old conversion failures and leases');
      const journal = await pruneJournal(this.storage);
      if (journal) this.log.debug({ journal }, 'pruned old journal entries');
      if (this.settings.audit.keepDays > 0) {
        const pruned = await this.audit.prune(this.settings.audit.keepDays);
        if (pruned.events) this.log.info({ ...pruned, keepDays: this.settings.audit.keepDays }, 'pruned old days of the audit log');
      }
      return true;
    } catch (err) {
      if (!this.closed) this.log.error({ err }, 'failed to sweep leftovers');
      return false;
    }
  }

  private async reconcileOnly(index: 'fresh' | 'listed' | 'reread'): Promise<false> {
    try {
      if (index !== 'fresh') await this.catalog.reconcile(index === 'reread');
      await this.uploads.sweep(false);
    } catch (err) {
      if (!this.closed) this.log.error({ err }, 'failed to reconcile the index with storage');
    }
    return false;
  }

  /** Does not wait for a sweep under way: it may list a whole bucket, and stopping it halfway is safe. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweepTimer);
    this.expiryWatch?.stop();
    await this.tokenExpiry.stop();
    this.keys.mirror.stop();
    this.signer.stop();
    this.tokens.mirror.stop();
    this.quotas.stop();
    this.changes.stop();
    await this.verifier.stop();
    await this.retention.stop();
    await this.webhooks.stop();
    this.mirror.close();
    await this.conversions.close();
    this.upstreams.close();
    await this.storage.close();
  }
}
